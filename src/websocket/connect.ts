/**
 * The client's opening handshake (RFC 6455 §4.1) over a connection.
 *
 * @module
 */

import { typeError } from "../errors.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { DuplexChannel } from "../readable_channel.ts";
import { invalidFieldValueIndex } from "../http1/_chars.ts";
import { deflateAvailable } from "./_deflate.ts";
import { checkAnswer, checkDeflateOptions, type DeflateParams, formatOffer } from "./_deflate_params.ts";
import { acceptValue, hasToken, isToken, newKey, parseExtensions } from "./_handshake.ts";
import { checkWebSocketOptions, WebSocket, type WebSocketOptions } from "./websocket.ts";

/** Options of {@linkcode connectWebSocket}. */
export interface ConnectWebSocketOptions extends WebSocketOptions {
  /** Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). */
  protocols?: readonly string[];
  /** More fields for the request (such as `Origin`, `Authorization`). */
  headers?: Readonly<Record<string, string>>;
  /** Aborting rejects a handshake in progress with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * The longest response head taken, in bytes.
   *
   * @default {16384}
   */
  maxHeadBytes?: number;
}

const CRLFCRLF = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a]);
// Fields the handshake sets itself.
const RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * Opens a WebSocket over a connection (RFC 6455 §4.1): sends the `GET` with a fresh
 * `Sec-WebSocket-Key`, reads the `101 Switching Protocols` answer and checks it (the accept
 * value, the subprotocol and the extensions must be what was offered). Bytes the server sent
 * after its answer are the first the WebSocket reads.
 *
 * The connection is any `DuplexChannel`, usually a runtime entry point's `connect()` (or
 * `connectTls()` for `wss:`); when it has a `close()` (a `Connection`), the WebSocket closes it
 * when the WebSocket closes.
 *
 * @param connection The connection to the server.
 * @param url The WebSocket URL (`ws:`, `wss:`, `http:` or `https:`): its host goes in `Host`,
 *   its path and query in the request line.
 * @param options Subprotocols, request fields, permessage-deflate, limits, a signal.
 * @returns The WebSocket, once the server's answer checked out.
 * @throws {TypeError} When the URL or an option is malformed, or the server's answer is not a
 *   valid handshake (a status other than 101, a wrong accept value, a subprotocol or an
 *   extension not offered); the connection is left to you then.
 * @throws {RangeError} When an option is out of range.
 *
 * @example A client on the runtime's `connect`
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@channels/channels/deno";
 * import { connectWebSocket } from "@channels/channels/websocket";
 *
 * // A server to talk to: Deno's own.
 * await using server = Deno.serve({ port: 0, onListen() {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
 *   return response;
 * });
 * const connection = await connect({ hostname: "127.0.0.1", port: server.addr.port });
 * const socket = await connectWebSocket(connection, `ws://127.0.0.1:${server.addr.port}/`);
 * await socket.send("hi");
 * assert.equal((await socket.receive())?.text(), "echo: hi");
 * await socket.close();
 * ```
 */
export async function connectWebSocket(
  connection: DuplexChannel,
  url: string | URL,
  options?: ConnectWebSocketOptions,
): Promise<WebSocket> {
  if (options === undefined) options = {};
  const what = "open the WebSocket";
  if (typeof connection !== "object" || connection === null || !connection.input || !connection.output) {
    throw typeError(what, "connection must have an input and an output channel", connection);
  }
  const checked = checkWebSocketOptions(options, what);
  const ours = checkDeflateOptions(options.perMessageDeflate, what);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw typeError(what, "url must be an absolute URL", url);
  }
  if (!["ws:", "wss:", "http:", "https:"].includes(target.protocol)) {
    throw typeError(what, "url must be a ws:, wss:, http: or https: URL", target.href);
  }
  if (target.hash !== "") throw typeError(what, "url must not have a fragment", target.href);
  const protocols = options.protocols ?? [];
  if (!Array.isArray(protocols) || !protocols.every((p) => typeof p === "string" && isToken(p))) {
    throw typeError(what, "protocols must be an array of tokens", protocols);
  }
  const extra = options.headers ?? {};
  if (typeof extra !== "object" || extra === null) throw typeError(what, "headers must be an object", extra);
  const maxHeadBytes = options.maxHeadBytes ?? 16384;

  const key = newKey();
  const offerDeflate = ours !== undefined && deflateAvailable();
  let head = `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (protocols.length > 0) head += `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n`;
  if (offerDeflate) head += `Sec-WebSocket-Extensions: ${formatOffer(ours)}\r\n`;
  for (const [name, value] of Object.entries(extra)) {
    if (!isToken(name) || RESERVED.has(name.toLowerCase())) {
      throw typeError(what, "a header name must be a token the handshake does not set itself", name);
    }
    if (typeof value !== "string" || invalidFieldValueIndex(value) >= 0) {
      throw typeError(what, "a header value must be a string without controls or characters above U+00FF", value);
    }
    head += `${name}: ${value}\r\n`;
  }
  head += "\r\n";
  const expected = acceptValue(key);
  // Field values are Latin-1 (one byte a character), the rest of the head ASCII.
  const bytes = new Uint8Array(head.length);
  for (let i = 0; i < head.length; i++) bytes[i] = head.charCodeAt(i);
  await connection.output.write(bytes, options.signal === undefined ? undefined : { signal: options.signal });

  const response = await readResponseHead(connection, maxHeadBytes, options.signal);
  if (response.status !== 101) {
    throw typeError(what, "the server must answer 101 Switching Protocols", response.statusLine);
  }
  const fields = response.fields;
  if (!hasToken(fields.get("upgrade"), "websocket")) {
    throw typeError(what, "the answer must have Upgrade: websocket", fields.get("upgrade") ?? "no Upgrade");
  }
  if (!hasToken(fields.get("connection"), "upgrade")) {
    throw typeError(what, "the answer must have Connection: upgrade", fields.get("connection") ?? "no Connection");
  }
  const accept = fields.get("sec-websocket-accept");
  if (accept !== (await expected)) {
    throw typeError(what, "Sec-WebSocket-Accept must match the key", accept ?? "no Sec-WebSocket-Accept");
  }
  const protocol = fields.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !protocols.includes(protocol)) {
    throw typeError(what, "the server must agree to a subprotocol offered, or none", protocol);
  }
  let deflate: DeflateParams | undefined;
  const extensions = fields.get("sec-websocket-extensions") ?? "";
  if (extensions !== "") {
    const parsed = parseExtensions(extensions);
    if (parsed === undefined) throw typeError(what, "Sec-WebSocket-Extensions must follow RFC 6455 §9.1", extensions);
    for (const extension of parsed) {
      if (extension.name !== "permessage-deflate" || !offerDeflate || deflate !== undefined) {
        throw typeError(what, "the server must agree only to extensions offered", extensions);
      }
      const agreed = checkAnswer(extension, ours);
      if (typeof agreed === "string") {
        throw typeError(what, `permessage-deflate's answer is not acceptable as ${agreed}`, extensions);
      }
      deflate = agreed;
    }
  }
  return new WebSocket(connection, { ...checked, server: false, protocol, extensions, deflate });
}

/** A response head: its status and fields (lowercased names; repeated fields joined with ", "). */
interface ResponseHead {
  status: number;
  statusLine: string;
  fields: Map<string, string>;
}

/** Reads the response head, leaving the bytes after it in the input. */
async function readResponseHead(
  connection: DuplexChannel,
  maxHeadBytes: number,
  signal: AbortSignal | undefined,
): Promise<ResponseHead> {
  const input = connection.input;
  const readOptions = signal === undefined ? undefined : { signal };
  for (;;) {
    const result = await input.read(readOptions);
    const buffer: ReadableBuffer = result.buffer;
    const end = buffer.indexOf(CRLFCRLF);
    if (end < 0) {
      if (buffer.length > maxHeadBytes) {
        input.advanceTo(0, buffer.length);
        throw typeError(
          "open the WebSocket",
          `the answer's head must be at most ${maxHeadBytes} bytes`,
          `${buffer.length} bytes`,
        );
      }
      if (result.isCompleted) {
        input.advanceTo(0, buffer.length);
        throw typeError("open the WebSocket", "the server must answer before it closes", `${buffer.length} bytes`);
      }
      input.advanceTo(0, buffer.length);
      continue;
    }
    const bytes = buffer.slice(0, end).toUint8Array();
    input.advanceTo(end + 4);
    let text = "";
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i] as number);
    const lines = text.split("\r\n");
    const statusLine = lines[0] ?? "";
    const match = /^HTTP\/1\.1 (\d{3})(?: .*)?$/.exec(statusLine);
    if (match === null) {
      throw typeError("open the WebSocket", "the answer must start with an HTTP/1.1 status line", statusLine);
    }
    const fields = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      if (colon <= 0 || !isToken(line.slice(0, colon))) {
        throw typeError("open the WebSocket", "each field line of the answer must be name: value", line);
      }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = fields.get(name);
      fields.set(name, before === undefined ? value : `${before}, ${value}`);
    }
    return { status: Number(match[1]), statusLine, fields };
  }
}
