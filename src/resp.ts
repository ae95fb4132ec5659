/**
 * A Redis client (RESP2 and RESP3) on channels: {@linkcode RespClient} takes any
 * `DuplexChannel` with a `close()`, such as a `Connection` from `./deno`, `./bun` or `./node`.
 *
 * Commands are written straight into the output's pool memory, and every command sent in one
 * tick goes out with one flush (auto-pipelining). Replies are parsed where they lie in the
 * input's pool memory: the parser reads across segments without joining them, consumes only
 * complete replies, and resumes a partial one where it stopped, so a 100 MB value arriving in
 * 4 KiB pieces is scanned once.
 *
 * Replies map to JavaScript as follows (nested values the same way):
 *
 * | RESP type | value |
 * | --- | --- |
 * | simple string `+` | `string` |
 * | error `-`, blob error `!` | the `send` rejects with a {@linkcode RespError}; inside an aggregate, a `RespError` element |
 * | integer `:` | `number`; `bigint` outside `Number.MAX_SAFE_INTEGER` |
 * | bulk string `$` | `string` (UTF-8), or `Uint8Array` with `{ bytes: true }` |
 * | null `_`, nil bulk `$-1`, nil array `*-1` | `null` |
 * | array `*` | `RespValue[]` |
 * | map `%` | `Map` |
 * | set `~` | `Set` |
 * | double `,` | `number` (`inf`, `-inf` and `nan` included) |
 * | boolean `#` | `boolean` |
 * | big number `(` | `bigint` |
 * | verbatim string `=` | `string` without its `txt:` (format) prefix, or `Uint8Array` with `{ bytes: true }` |
 * | attribute `\|` | skipped: the value after it is delivered |
 * | push `>` | an array to `onPush`, never a reply |
 *
 * | API | copies? |
 * | --- | --- |
 * | `send(args)` | each argument once, into the output's pool memory |
 * | a reply's strings, numbers | decoded once from the input's pool memory |
 * | a reply's bulk strings with `{ bytes: true }` | copied once into a new `Uint8Array` (no string in between) |
 *
 * Limits (options of `RespClient.open`; a reply past one fails the connection with a
 * `RangeError` as `cause` before anything is buffered for it): `maxBulkLength` 512 MiB (Redis's
 * own `proto-max-bulk-len`), `maxArrayLength` 16,777,216 elements (pairs for maps),
 * `maxDepth` 128 nested aggregates, `maxLineLength` 64 KiB for simple strings, errors and
 * numbers. Malformed input fails it with a `TypeError` naming the byte offset.
 *
 * @example A client against an in-memory server (any pair of channels works)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { RespClient } from "@channels/channels/resp";
 *
 * const toServer = new Channel();
 * const toClient = new Channel();
 * const connection = {
 *   input: toClient.reader,
 *   output: toServer.writer,
 *   close() {
 *     toClient.reader.complete();
 *     toServer.writer.complete();
 *   },
 * };
 * // The "server": answers HELLO with a map, then one reply per command.
 * const server = (async () => {
 *   const replies = ["%1\r\n$5\r\nproto\r\n:3\r\n", "+OK\r\n", "$5\r\nhello\r\n", "-ERR unknown command\r\n"];
 *   let seen = 0;
 *   let commands = 0;
 *   for (;;) {
 *     const { buffer, isCompleted } = await toServer.reader.read();
 *     commands += new TextDecoder().decode(buffer.toUint8Array()).split("*").length - 1;
 *     toServer.reader.advanceTo(buffer.length);
 *     for (; seen < commands; seen++) await toClient.writer.writeUtf8(replies[seen] ?? "_\r\n");
 *     if (isCompleted) break;
 *   }
 *   toServer.reader.complete();
 *   toClient.writer.complete();
 * })();
 *
 * const redis = await RespClient.open(connection);
 * const [ok, value] = await Promise.all([redis.send(["SET", "k", "hello"]), redis.send(["GET", "k"])]);
 * assert.equal(ok, "OK");
 * assert.equal(value, "hello");
 * await assert.rejects(redis.send(["NOPE"]), { name: "RespError", code: "ERR" });
 * await redis.close();
 * await server;
 * ```
 *
 * @module
 */

export { RespClient, type RespClientOptions, type RespConnection, type SendOptions } from "./resp/client.ts";
export type { RespArgument } from "./resp/_command.ts";
export { DEFAULT_LIMITS as DEFAULT_RESP_LIMITS, type RespLimits, type RespValue } from "./resp/_parser.ts";
export { RespError } from "./errors.ts";
