/**
 * The server's opening handshake (RFC 6455 §4.2) on an `./http1` request.
 *
 * @module
 */

import { typeError } from "../errors.ts";
import type { HttpRequest } from "../http1/http_request.ts";
import type { HttpResponse } from "../http1/http_response.ts";
import { deflateAvailable } from "./_deflate.ts";
import { acceptOffer, checkDeflateOptions, type DeflateParams } from "./_deflate_params.ts";
import { acceptValue, hasToken, isToken, isValidKey, listElements, parseExtensions } from "./_handshake.ts";
import { checkWebSocketOptions, WebSocket, type WebSocketOptions } from "./websocket.ts";

/** Options of {@linkcode acceptWebSocket}. */
export interface AcceptWebSocketOptions extends WebSocketOptions {
  /**
   * The subprotocols this server speaks. The first of the client's `Sec-WebSocket-Protocol`
   * list (in the client's order) that is here is agreed; none when there is none in common.
   *
   * @default {[]}
   */
  protocols?: readonly string[];
  /** More fields for the 101 response (such as `Set-Cookie`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * True when `request` asks for a WebSocket: a `GET` with `Upgrade: websocket` and
 * `Connection: upgrade` (route on it before calling {@linkcode acceptWebSocket}).
 *
 * @param request An `./http1` request.
 * @returns Whether it is an opening handshake (not yet whether a valid one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { serveHttp } from "@channels/channels/http1";
 * import { isWebSocketRequest } from "@channels/channels/websocket";
 *
 * const input = new Channel();
 * const output = new Channel();
 * let asked: boolean | undefined;
 * const serving = serveHttp({ input: input.reader, output: output.writer }, (request, response) => {
 *   asked = isWebSocketRequest(request);
 *   response.end();
 * });
 * await input.writer.writeUtf8("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * input.writer.complete();
 * await serving;
 * assert.equal(asked, false);
 * ```
 */
export function isWebSocketRequest(request: HttpRequest): boolean {
  const headers = request.headers;
  return request.method === "GET" && hasToken(headers.get("upgrade"), "websocket") &&
    hasToken(headers.get("connection"), "upgrade");
}

/**
 * Accepts a WebSocket on an `./http1` request (RFC 6455 §4.2): checks the handshake, answers
 * `101 Switching Protocols` with `Sec-WebSocket-Accept` (the SHA-1 of the key by
 * `crypto.subtle`, in base64), the subprotocol and the extensions agreed, and takes the
 * connection over. Bytes the client sent after its request are the first the WebSocket reads.
 *
 * Keep the handler running while the WebSocket is in use: `serveHttp` closes the connection
 * when the handler settles (a `for await` over the messages returns once the WebSocket closed).
 *
 * A request that is not a valid handshake is answered, and the promise rejects with a
 * `TypeError`: `426 Upgrade Required` with `Sec-WebSocket-Version: 13` for a version other
 * than 13, `400 Bad Request` for anything else (not a `GET` with `Upgrade: websocket` and
 * `Connection: upgrade`, not HTTP/1.1, a `Sec-WebSocket-Key` that is not 16 bytes in base64,
 * a malformed `Sec-WebSocket-Extensions`).
 *
 * @param request The request.
 * @param response Its response (nothing sent yet).
 * @param options Subprotocols, permessage-deflate, limits.
 * @returns The WebSocket, once the 101 is written.
 * @throws {TypeError} When the request is not a valid handshake (after answering it), or an
 *   option has the wrong type.
 * @throws {RangeError} When an option is out of range.
 *
 * @example A WebSocket route beside plain HTTP
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@channels/channels/deno";
 * import { serveHttp } from "@channels/channels/http1";
 * import { acceptWebSocket, isWebSocketRequest } from "@channels/channels/websocket";
 *
 * await using listener = await listen({ port: 0 }, (connection) =>
 *   serveHttp(connection, async (request, response) => {
 *     if (!isWebSocketRequest(request)) return response.end("not a WebSocket");
 *     const socket = await acceptWebSocket(request, response);
 *     for await (const message of socket) {
 *       await socket.send(message.text().toUpperCase());
 *     }
 *   }));
 * const client = new WebSocket(`ws://127.0.0.1:${listener.addr.port}/`);
 * const reply = new Promise((resolve) => client.onmessage = (event) => resolve(event.data));
 * await new Promise((resolve) => client.onopen = resolve);
 * client.send("hello");
 * assert.equal(await reply, "HELLO");
 * const closed = new Promise((resolve) => client.onclose = resolve);
 * client.close();
 * await closed;
 * ```
 */
export async function acceptWebSocket(
  request: HttpRequest,
  response: HttpResponse,
  options?: AcceptWebSocketOptions,
): Promise<WebSocket> {
  if (options === undefined) options = {};
  const what = "accept the WebSocket";
  const checked = checkWebSocketOptions(options, what);
  const ours = checkDeflateOptions(options.perMessageDeflate, what);
  const protocols = options.protocols ?? [];
  if (!Array.isArray(protocols) || !protocols.every((p) => typeof p === "string" && isToken(p))) {
    throw typeError(what, "protocols must be an array of tokens", protocols);
  }
  const extraHeaders = options.headers ?? {};
  if (typeof extraHeaders !== "object" || extraHeaders === null) {
    throw typeError(what, "headers must be an object", extraHeaders);
  }

  const headers = request.headers;
  if (!isWebSocketRequest(request) || request.version !== "HTTP/1.1") {
    refuse(response, 400, "Bad Request: not a WebSocket handshake\n");
    throw typeError(
      what,
      "the request must be an HTTP/1.1 GET with Upgrade: websocket and Connection: upgrade",
      request.method,
    );
  }
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    response.setHeader("Sec-WebSocket-Version", "13");
    refuse(response, 426, "Upgrade Required: Sec-WebSocket-Version must be 13\n");
    throw typeError(what, "Sec-WebSocket-Version must be 13", version ?? "no Sec-WebSocket-Version");
  }
  const key = headers.get("sec-websocket-key");
  if (!isValidKey(key)) {
    refuse(response, 400, "Bad Request: Sec-WebSocket-Key must be 16 bytes in base64\n");
    throw typeError(what, "Sec-WebSocket-Key must be 16 bytes in base64", key ?? "no Sec-WebSocket-Key");
  }
  let protocol = "";
  for (const offered of listElements(headers.get("sec-websocket-protocol"))) {
    if (protocols.includes(offered)) {
      protocol = offered;
      break;
    }
  }
  let deflate: DeflateParams | undefined;
  let extensions = "";
  const offers = headers.get("sec-websocket-extensions");
  if (offers !== undefined) {
    const parsed = parseExtensions(offers);
    if (parsed === undefined) {
      refuse(response, 400, "Bad Request: Sec-WebSocket-Extensions is malformed\n");
      throw typeError(what, "Sec-WebSocket-Extensions must follow RFC 6455 §9.1", offers);
    }
    if (ours !== undefined && deflateAvailable()) {
      const accepted = acceptOffer(parsed, ours);
      if (accepted !== undefined) {
        deflate = accepted.params;
        extensions = accepted.answer;
      }
    }
  }
  // Everything of the request is read: the digest's await may outlive the head's memory.
  const accept = await acceptValue(key);
  for (const [name, value] of Object.entries(extraHeaders)) response.setHeader(name, value);
  response.setHeader("Upgrade", "websocket");
  response.setHeader("Sec-WebSocket-Accept", accept);
  if (protocol !== "") response.setHeader("Sec-WebSocket-Protocol", protocol);
  if (extensions !== "") response.setHeader("Sec-WebSocket-Extensions", extensions);
  const channels = response.upgrade();
  const socket = new WebSocket(channels, { ...checked, server: true, protocol, extensions, deflate });
  await channels.output.flush();
  return socket;
}

function refuse(response: HttpResponse, status: number, text: string): void {
  response.status = status;
  response.setHeader("Content-Type", "text/plain");
  response.setHeader("Connection", "close");
  response.end(text);
}
