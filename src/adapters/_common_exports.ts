/**
 * What every runtime entry point (`./deno`, `./node`, `./bun`) exports besides its own
 * functions: the HTTP body helpers and the types its signatures use, so each entry point
 * documents itself.
 *
 * @module
 */

export { fromRequest, toResponse } from "../http.ts";
export type { ChannelOptions } from "../channel.ts";
export type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  ConnectTlsOptions,
  HandlerErrorOptions,
  Listener,
  ListenOptions,
  ListenTlsOptions,
  NetAddr,
} from "../connection.ts";
export type { MemoryPool, MemoryPoolOptions, MemoryPoolStats, PoolBlock } from "../memory_pool.ts";
export type { ReadableBuffer } from "../readable_buffer.ts";
export type { DuplexChannel, ReadableChannel, ReadOptions, ReadResult } from "../readable_channel.ts";
export type { FlushOptions, FlushResult, WritableChannel } from "../writable_channel.ts";
