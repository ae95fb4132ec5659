// Helpers for the ./http1 tests: a plain reference reader of HTTP/1.1 responses (written from
// RFC 9112, independent of src/http1), a harness that runs serveHttp over in-memory channels,
// and a raw TCP client (node:net, on every runtime). Not a test file (no _test suffix).

import * as net from "node:net";
import { Channel, type MemoryPool } from "../mod.ts";
import { type HttpHandler, serveHttp, type ServeHttpOptions } from "../src/http1/mod.ts";
import { concat } from "./_util.ts";

/** One response as read by the reference reader. */
export interface ParsedResponse {
  status: number;
  reason: string;
  /** Field lines in order, names lowercased. */
  fields: [string, string][];
  body: Uint8Array;
  /** Whether the body was chunked. */
  chunked: boolean;
  /** Trailer fields of a chunked body. */
  trailers: [string, string][];
}

export const encoder: TextEncoder = new TextEncoder();
export const decoder: TextDecoder = new TextDecoder();

/** The bytes of a Latin-1 string. */
export function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A Latin-1 string of bytes. */
export function textOf(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return text;
}

/** The first value of `name` in a response, or undefined. */
export function field(response: ParsedResponse, name: string): string | undefined {
  return response.fields.find(([n]) => n === name)?.[1];
}

/**
 * Reads the responses in `bytes`, given the methods of the requests they answer (a HEAD
 * response has no body). Interim (1xx but 101) responses are returned too. Stops at a 101
 * (what follows is another protocol), and at an incomplete response (`rest` holds it).
 */
export function parseResponses(bytes: Uint8Array, methods: readonly string[] = []): {
  responses: ParsedResponse[];
  rest: Uint8Array;
  upgraded: boolean;
} {
  const text = textOf(bytes);
  const responses: ParsedResponse[] = [];
  let at = 0;
  let request = 0;
  for (;;) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd < 0) break;
    const lines = text.slice(at, headEnd).split("\r\n");
    const statusLine = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0] as string);
    if (statusLine === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const status = Number(statusLine[1]);
    const fields: [string, string][] = lines.slice(1).map((line) => {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`not a field line: ${JSON.stringify(line)}`);
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    const response: ParsedResponse = {
      status,
      reason: statusLine[2] as string,
      fields,
      body: new Uint8Array(0),
      chunked: false,
      trailers: [],
    };
    let bodyStart = headEnd + 4;
    if (status === 101) {
      responses.push(response);
      return { responses, rest: bytes.subarray(bodyStart), upgraded: true };
    }
    if (status < 200) {
      responses.push(response);
      at = bodyStart;
      continue;
    }
    const method = methods[request++];
    const length = field(response, "content-length");
    const te = field(response, "transfer-encoding");
    if (method === "HEAD" || status === 204 || status === 304) {
      // no body
    } else if (te !== undefined) {
      if (te !== "chunked") throw new Error(`unexpected transfer-encoding ${te}`);
      response.chunked = true;
      const parts: Uint8Array[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = text.indexOf("\r\n", p);
        if (lineEnd < 0) break;
        const size = parseInt(text.slice(p, lineEnd).split(";")[0] as string, 16);
        if (!Number.isFinite(size)) throw new Error(`bad chunk size ${JSON.stringify(text.slice(p, lineEnd))}`);
        if (size === 0) {
          const end = text.indexOf("\r\n\r\n", lineEnd);
          const trailerEnd = text.startsWith("\r\n", lineEnd + 2) ? lineEnd + 4 : end < 0 ? -1 : end + 4;
          if (trailerEnd < 0) break;
          response.trailers = text.slice(lineEnd + 2, trailerEnd - 2).split("\r\n").filter((l) => l !== "").map((l) => {
            const colon = l.indexOf(":");
            return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
          });
          p = trailerEnd;
          complete = true;
          break;
        }
        if (lineEnd + 2 + size + 2 > text.length) break;
        parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
        if (text.slice(lineEnd + 2 + size, lineEnd + 4 + size) !== "\r\n") throw new Error("chunk data without CRLF");
        p = lineEnd + 4 + size;
      }
      if (!complete) break;
      response.body = concat(parts);
      bodyStart = p;
      at = p;
      responses.push(response);
      continue;
    } else if (length !== undefined) {
      const n = Number(length);
      if (bodyStart + n > bytes.length) break;
      response.body = bytes.slice(bodyStart, bodyStart + n);
      bodyStart += n;
    } else {
      // Until the close.
      response.body = bytes.slice(bodyStart);
      bodyStart = bytes.length;
    }
    responses.push(response);
    at = bodyStart;
  }
  return { responses, rest: bytes.subarray(at), upgraded: false };
}

/** What {@linkcode exchange} saw. */
export interface Exchange {
  /** Everything the server wrote. */
  output: Uint8Array;
  /** The server ended the connection before the client did. */
  serverClosed: boolean;
  /** The server's output ended with an error (an aborted connection). */
  outputError: unknown;
}

/** Options of {@linkcode exchange}. */
export interface ExchangeOptions {
  /** Wait a macrotask between chunks, so the server reads each one apart. */
  gaps?: boolean;
  /** The pool of the input channel (16-byte blocks make multi-segment reads). */
  pool?: MemoryPool;
  /** Final responses to wait for before deciding whether the server closed. */
  responses?: number;
  /** ms to wait for the server to close after the responses. */
  settleMs?: number;
  /** The requests' methods, in order (a HEAD response has no body). */
  methods?: readonly string[];
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends `chunks` to serveHttp over in-memory channels and collects what it writes: the
 * client stays open until the server closed (or `responses` final responses came and the
 * server did not close within `settleMs`), then ends its side.
 */
export async function exchange(
  chunks: readonly Uint8Array[],
  handler: HttpHandler,
  options: ServeHttpOptions = {},
  exchangeOptions: ExchangeOptions = {},
): Promise<Exchange> {
  const pool = exchangeOptions.pool;
  const input = pool === undefined ? new Channel() : new Channel({ pool, minimumSegmentSize: pool.blockSize });
  const output = new Channel();
  let serverDone = false;
  const serving = serveHttp({ input: input.reader, output: output.writer }, handler, options).then(() => {
    serverDone = true;
  });
  const received: Uint8Array[] = [];
  let outputError: unknown;
  let outputDone = false;
  const reading = (async () => {
    try {
      for (;;) {
        const { buffer, isCompleted } = await output.reader.read();
        if (buffer.length > 0) received.push(buffer.toUint8Array());
        output.reader.advanceTo(buffer.length);
        if (isCompleted) break;
      }
      output.reader.complete();
    } catch (error) {
      outputError = error;
      output.reader.complete();
    }
    outputDone = true;
  })();
  for (const chunk of chunks) {
    if (serverDone) break;
    const { isCompleted } = await input.writer.write(chunk);
    if (isCompleted) break;
    if (exchangeOptions.gaps) await delay(0);
  }
  const want = exchangeOptions.responses ?? Infinity;
  const deadline = Date.now() + 10_000;
  while (!serverDone && !outputDone && Date.now() < deadline) {
    if (want !== Infinity && finalCount(concat(received), exchangeOptions.methods) >= want) break;
    await delay(1);
  }
  await delay(exchangeOptions.settleMs ?? 5);
  const serverClosed = serverDone;
  input.writer.complete();
  await serving;
  await reading;
  return { output: concat(received), serverClosed, outputError };
}

function finalCount(bytes: Uint8Array, methods: readonly string[] = []): number {
  try {
    return parseResponses(bytes, methods).responses.filter((r) => r.status >= 200).length;
  } catch {
    return 0;
  }
}

/** Sends `bytes` on a new TCP connection; returns what came back when the server closed (or after `ms`). */
export function rawRequest(
  port: number,
  bytes: Uint8Array,
  ms: number = 5000,
): Promise<{ data: Uint8Array; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const parts: Uint8Array[] = [];
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: concat(parts), closedByServer });
    };
    const timer = setTimeout(() => finish(false), ms);
    socket.on("data", (chunk: Uint8Array) => parts.push(new Uint8Array(chunk)));
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", (error: Error & { code?: string }) => {
      // A reset after the server's answer still counts as the server closing.
      if (error.code === "ECONNRESET") finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.write(bytes);
  });
}
