/**
 * An HTTP upload server: the request body (base64 text, line breaks allowed) streams through
 * `base64Decoder()` in pool memory, and the server answers with the SHA-256 (hex) of the
 * decoded bytes. Nothing is buffered whole: each decoded segment is hashed where it lies
 * (`hash.update` reads the pool view synchronously, before `advanceTo` gives it back), so an
 * upload of any size costs a few pool blocks. Malformed base64 answers 400 with the byte
 * offset the decoder names.
 *
 * Deno serves with `Deno.serve`, Bun with `Bun.serve`, Node with `node:http` (the body as a
 * web stream through `Readable.toWeb`).
 *
 * Run:    `deno run -A examples/upload_server.ts --port 8080` (or `bun examples/upload_server.ts --port 8080`).
 * Upload: `base64 big.bin | curl --data-binary @- http://127.0.0.1:8080/` (compare with `sha256sum big.bin`).
 * Check:  `deno run -A examples/upload_server.ts --self-test` (prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import * as http from "node:http";
import { Readable } from "node:stream";
import { base64Decoder, fromReadableStream, fromRequest, pipeThrough, type ReadableChannel } from "../mod.ts";
import { parseArgs, runSelfTest, runtimeName } from "./_runtime.ts";

/**
 * Decodes a base64 body and hashes the bytes as they come.
 * @param body The body's reader (base64 text).
 * @returns The SHA-256 of the decoded bytes, in hex, and how many there were.
 * @throws {TypeError} When the body is not base64 (as a rejection).
 */
async function hashBase64Body(body: ReadableChannel): Promise<{ sha256: string; bytes: number }> {
  const decoded = pipeThrough(body, base64Decoder({ skipWhitespace: true }));
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for (;;) {
      const { buffer, isCompleted } = await decoded.read();
      for (const view of buffer) hash.update(view); // zero copy: hashed where the decoder wrote it
      bytes += buffer.length;
      decoded.advanceTo(buffer.length); // the views die here
      if (isCompleted) break;
    }
    decoded.complete();
  } catch (error) {
    decoded.complete(error);
    throw error;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** The answer to an upload: 200 with the hash, or 400 with the decoder's message. */
async function answerUpload(body: ReadableChannel): Promise<{ status: number; text: string }> {
  try {
    const { sha256, bytes } = await hashBase64Body(body);
    return { status: 200, text: `${sha256}  ${bytes} bytes\n` };
  } catch (error) {
    return { status: 400, text: `${error instanceof Error ? error.message : String(error)}\n` };
  }
}

/** The web-standard handler (`Deno.serve`, `Bun.serve`). */
async function handle(request: Request): Promise<Response> {
  if (request.method !== "POST" && request.method !== "PUT") {
    return new Response("POST or PUT a base64 body\n", { status: 405 });
  }
  const { status, text } = await answerUpload(fromRequest(request));
  return new Response(text, { status, headers: { "content-type": "text/plain" } });
}

/** A running server, whichever runtime serves it. */
interface UploadServer {
  port: number;
  close(): Promise<void>;
}

// The runtimes' own servers, typed by the little the example uses of them.
interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}
interface BunServe {
  serve(options: { hostname: string; port: number; fetch: (request: Request) => Promise<Response> }): {
    port: number;
    stop(closeActiveConnections?: boolean): unknown;
  };
}

/**
 * Starts the upload server with the runtime's own HTTP server.
 * @param port The port (0 lets the system choose).
 * @returns The server.
 */
async function serveUploads(port: number): Promise<UploadServer> {
  const hostname = "127.0.0.1";
  if (runtimeName === "deno") {
    const deno = (globalThis as unknown as { Deno: DenoServe }).Deno;
    const server = deno.serve({ hostname, port, onListen: () => {} }, handle);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  if (runtimeName === "bun") {
    const bun = (globalThis as unknown as { Bun: BunServe }).Bun;
    const server = bun.serve({ hostname, port, fetch: handle });
    return {
      port: server.port,
      close: async () => {
        await server.stop(true);
      },
    };
  }
  const server = http.createServer((request, response) => {
    if (request.method !== "POST" && request.method !== "PUT") {
      response.writeHead(405).end("POST or PUT a base64 body\n");
      return;
    }
    // One copy at the edge: Node's chunks into pool memory.
    const body = fromReadableStream(Readable.toWeb(request) as unknown as ReadableStream<Uint8Array>);
    void answerUpload(body).then(({ status, text }) => {
      response.writeHead(status, { "content-type": "text/plain" }).end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new TypeError("Cannot listen as no TCP address came back");
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const args = parseArgs(8080);

if (args.selfTest) {
  await runSelfTest(async () => {
    const server = await serveUploads(0);
    try {
      const data = new Uint8Array(3 * 1024 * 1024 + 7);
      for (let at = 0; at < data.length; at += 65536) {
        crypto.getRandomValues(data.subarray(at, Math.min(data.length, at + 65536)));
      }
      // base64 with a line break every 76 characters, as `base64` and MIME write it.
      const base64 = Buffer.from(data).toString("base64").replace(/.{76}/g, "$&\n");
      const url = `http://127.0.0.1:${server.port}/`;
      const response = await fetch(url, { method: "POST", body: base64 });
      assert.equal(response.status, 200);
      const expected = createHash("sha256").update(data).digest("hex");
      assert.equal(await response.text(), `${expected}  ${data.length} bytes\n`);

      const bad = await fetch(url, { method: "POST", body: "aGVsbG8=\n*not base64*" });
      assert.equal(bad.status, 400);
      await bad.text();
    } finally {
      await server.close();
    }
  });
} else {
  const server = await serveUploads(args.port);
  console.log(`upload server on http://127.0.0.1:${server.port}/ (${runtimeName}; Ctrl-C to stop)`);
}
