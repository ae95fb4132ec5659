/**
 * WebSocket (RFC 6455) on channels, for servers (on `./http1`) and clients (on any
 * connection): frames are parsed where they arrive in the connection's pool memory, client
 * frames are unmasked there in place by a WebAssembly SIMD kernel, and messages are handed out
 * as zero-copy `ReadableBuffer`s (or strings, when asked).
 *
 * | what | copies? | lives until |
 * | --- | --- | --- |
 * | a received message's `data` (one frame) | no: a slice of the input, unmasked in place | the next `receive()` |
 * | a received message's `data` (fragments) | no: a buffer over each fragment's payload | the next `receive()` |
 * | a received compressed message | once: inflated into pool memory of its own | the next `receive()` |
 * | `message.text()`, `message.bytes()` | once: a new string or array | yours |
 * | `send(data)` | once: into the output's pool memory (masked there for a client) | — |
 * | `send(data)`, compressed | once: compressed into a staging array, then into the output | — |
 *
 * Conformance: fragmentation (control frames between fragments), ping/pong, the close
 * handshake with close-code checks, UTF-8 validation of text (incremental, so bad text fails
 * as soon as it arrives: 1007), protocol errors fail the connection with 1002 (an unmasked
 * client frame or a masked server frame, a reserved opcode, reserved bits without an
 * extension, a fragmented or long control frame, a continuation with no message started, a new
 * message before the last one ended, a bad close code or a 1-byte close payload), 1009 past
 * `maxMessageBytes` or `maxFragments` (checked on the frame header, before buffering).
 *
 * permessage-deflate (RFC 7692) is off by default; `perMessageDeflate: true` (or its options:
 * context takeover and window bits per side, level, threshold) turns it on. It runs on
 * node:zlib's native codec (Deno, Bun and Node all have it), the codec under `compressor()` and
 * `decompressor()`; where a host has no node:zlib it is declined in the handshake.
 *
 * @example An echo server and a client, on the runtime's TCP
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/deno";
 * import { serveHttp } from "@channels/channels/http1";
 * import { acceptWebSocket, connectWebSocket } from "@channels/channels/websocket";
 *
 * await using listener = await listen({ port: 0 }, (connection) =>
 *   serveHttp(connection, async (request, response) => {
 *     const socket = await acceptWebSocket(request, response);
 *     for await (const message of socket) {
 *       await socket.send(message.data, { binary: message.type === "binary" });
 *     }
 *   }));
 * const port = listener.addr.port;
 * const client = await connectWebSocket(await connect({ port }), `ws://127.0.0.1:${port}/`);
 * await client.send(new Uint8Array([1, 2, 3]));
 * const reply = await client.receive();
 * assert.equal(reply?.type, "binary");
 * assert.deepEqual(reply?.bytes(), new Uint8Array([1, 2, 3]));
 * const info = await client.close(4000, "done");
 * assert.equal(info.code, 4000);
 * ```
 *
 * @module
 */

export { acceptWebSocket, type AcceptWebSocketOptions, isWebSocketRequest } from "./accept.ts";
export { connectWebSocket, type ConnectWebSocketOptions } from "./connect.ts";
export type { PerMessageDeflateOptions } from "./_deflate_params.ts";
export {
  type SendOptions,
  WebSocket,
  type WebSocketCloseInfo,
  WebSocketMessage,
  type WebSocketOptions,
} from "./websocket.ts";
