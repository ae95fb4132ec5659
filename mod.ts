/**
 * Channels for JavaScript: the channel owns pooled memory and flows buffers up to your code.
 *
 * A writer asks the channel for memory (`getMemory`), fills it, `advance`s and `flush`es; the
 * reader gets every buffered byte as one multi-segment {@linkcode ReadableBuffer} and says how
 * much it consumed and examined (`advanceTo`). A flush waits while the reader is too far
 * behind (backpressure). The pool's memory is WebAssembly linear memory, so WebAssembly
 * kernels (search, base64, UTF-8 validation) work on the bytes where they lie.
 *
 * | API | copies? | views die at |
 * | --- | --- | --- |
 * | `writer.getMemory()` | no | next `getMemory`/`flush`/`write`/`complete` |
 * | `writer.write(data)` | once, into pool memory | — |
 * | `writer.writeUtf8(text)` | encodes into pool memory | — |
 * | `new BufferWriter(writer)` → `writeInt`/`writeUtf8`/… | formats into pool memory | its view: at `commit()` |
 * | `reader.read()` → `buffer` and its views/slices | no | next `advanceTo` (or `complete`) |
 * | `buffer.toUint8Array()` / `copyTo()` | yes | never (your memory) |
 *
 * @example Producer and consumer with backpressure
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, MemoryPool } from "@channels/channels";
 *
 * const pool = new MemoryPool();
 * const channel = new Channel({ pool, pauseWriterThreshold: 8192, resumeWriterThreshold: 4096 });
 *
 * const producer = (async () => {
 *   for (let i = 0; i < 100; i++) {
 *     const memory = channel.writer.getMemory(1024);
 *     memory.fill(i, 0, 1024);
 *     channel.writer.advance(1024);
 *     const { isCompleted } = await channel.writer.flush(); // waits while the reader lags
 *     if (isCompleted) break;
 *   }
 *   channel.writer.complete();
 * })();
 *
 * let total = 0;
 * for (;;) {
 *   const { buffer, isCompleted } = await channel.reader.read();
 *   total += buffer.length;
 *   channel.reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * channel.reader.complete();
 * await producer;
 * assert.equal(total, 102400);
 * assert.equal(pool.stats().rentedBlocks, 0);
 * ```
 *
 * @module
 */

export { Channel, type ChannelOptions } from "./src/channel.ts";
export type { DuplexChannel, ReadableChannel, ReadOptions, ReadResult } from "./src/readable_channel.ts";
export type { FlushOptions, FlushResult, WritableChannel } from "./src/writable_channel.ts";
export { ReadableBuffer } from "./src/readable_buffer.ts";
export { BufferReader } from "./src/buffer_reader.ts";
export { BufferWriter } from "./src/buffer_writer.ts";
export { MemoryPool, type MemoryPoolOptions, type MemoryPoolStats, POISON_BYTE, PoolBlock } from "./src/memory_pool.ts";
export { type ChannelTransform, pipeThrough, type PipeThroughOptions } from "./src/transform.ts";
export { fromRequest, toResponse } from "./src/http.ts";
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
} from "./src/connection.ts";
export {
  fromReadableStream,
  fromWritableStream,
  toReadableStream,
  toWritableStream,
  type ZeroCopyOptions,
} from "./src/web_streams.ts";
export {
  type Base64Alphabet,
  base64Decoder,
  type Base64DecoderOptions,
  base64Encoder,
  type Base64EncoderOptions,
} from "./src/base64.ts";
export { ChannelStateError, type ChannelStateErrorCode } from "./src/errors.ts";
export { FrameTooLargeError, TruncatedFrameError } from "./src/errors.ts";
export type { DecodeProgress, Framer } from "./src/framer.ts";
export { lengthPrefixed, type LengthPrefixedOptions } from "./src/length_prefixed.ts";
export { delimited, type DelimitedOptions } from "./src/delimited.ts";
export { readFrames, type ReadFramesOptions, writeFrame } from "./src/frames.ts";
export { readLines, type ReadLinesOptions } from "./src/lines.ts";
export {
  type CompressionFormat,
  compressor,
  type CompressorOptions,
  decompressor,
  type DecompressorOptions,
} from "./src/compression.ts";
export { type KernelVariant, setWasmModule, wasmModuleBytes } from "./src/_wasm/kernels.ts";
export {
  type Utf8DecodeOptions,
  Utf8Decoder,
  type Utf8DecoderOptions,
  type Utf8Validation,
  validateUtf8,
} from "./src/utf8.ts";
