/**
 * HTTP bodies as channels, over the web-standard `Request` and `Response` every runtime's
 * server uses (`Deno.serve`, `Bun.serve`, and `node:http` through a web `Request`).
 *
 * @module
 */

import type { ChannelOptions } from "./channel.ts";
import { typeError } from "./errors.ts";
import type { ReadableChannel } from "./readable_channel.ts";
import { fromReadableStream, toReadableStream } from "./web_streams.ts";

/**
 * The body of a request (or response) as a channel reader; an empty body reads as completed
 * at once. Each body chunk is copied once into pool memory (streams cannot deliver into it).
 *
 * @param message A `Request` or `Response` whose body was not used yet.
 * @param options Options of the channel.
 * @returns The body's reader.
 * @throws {TypeError} When the body was already used.
 *
 * @example Counting an upload's bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromRequest } from "@channels/channels";
 *
 * const reader = fromRequest(new Request("http://localhost/", { method: "POST", body: "12345" }));
 * let total = 0;
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   total += buffer.length;
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * reader.complete();
 * assert.equal(total, 5);
 * ```
 */
export function fromRequest(message: Request | Response, options?: ChannelOptions): ReadableChannel {
  if (options === undefined) options = {};
  if (!(message instanceof Request) && !(message instanceof Response)) {
    throw typeError("read the body", "message must be a Request or a Response", message);
  }
  if (message.bodyUsed) throw typeError("read the body", "the body must not be used yet", "a used body");
  return fromReadableStream(message.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }), options);
}

/**
 * A `Response` whose body streams from a channel reader (each read copied once, as the
 * response may hold chunks; see `toReadableStream`).
 *
 * @param reader The reader of the body; the response owns it from now on.
 * @param init Status and headers, as for `new Response`.
 * @returns The response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, toResponse } from "@channels/channels";
 *
 * const body = new Channel();
 * const response = toResponse(body.reader, { headers: { "content-type": "text/plain" } });
 * await body.writer.writeUtf8("ok");
 * body.writer.complete();
 * assert.equal(await response.text(), "ok");
 * ```
 */
export function toResponse(reader: ReadableChannel, init?: ResponseInit): Response {
  return new Response(toReadableStream(reader), init);
}
