/**
 * The compression transform on `CompressionStream` / `DecompressionStream`, for runtimes
 * without node:zlib (Cloudflare Workers without `nodejs_compat`, browsers). Web streams take
 * and give their own arrays, so bytes are copied once at each edge: each input piece out of
 * pool memory (a stream may keep the chunk it is given), each output chunk into a
 * `getMemory` view. Always asynchronous.
 *
 * What the stream does not let us control, the runtime decides (the tests pin it down per
 * runtime): whether gzip members after the first are decoded, whether bytes after the end of
 * a deflate-raw stream or a deflate-raw stream cut short are errors. A call that does not end
 * the stream waits one macrotask after its input for the output (and errors) the stream
 * produces asynchronously; what comes later is delivered with the next call or at the end.
 *
 * @module
 */

import { corruptError, outputTooLargeError, truncatedError } from "./_zlib_errors.ts";
import type { CodecDirection } from "./_zlib_native.ts";
import type { ReadableBuffer } from "./readable_buffer.ts";
import type { ChannelTransform } from "./transform.ts";
import type { WritableChannel } from "./writable_channel.ts";
import { OUTPUT_FLUSH_BYTES } from "./_zlib_transform.ts";

/** The formats every `CompressionStream` has. */
export type WebFormat = "gzip" | "deflate" | "deflate-raw";

/**
 * Input bytes per write. A decompressing stream may turn one write into all of its output at
 * once (Deno's does): deflate expands at most about 1032:1, so 4 KiB of input is at most
 * about 4 MiB outside the pool before the limit check sees it.
 */
const DECOMPRESS_PIECE = 4096;
const COMPRESS_PIECE = 65536;

const WRITTEN = Symbol("written");
const NOT_READY = Symbol("not ready");
const notReady = Promise.resolve(NOT_READY);

function ignore(): void {}

/** A read's result (declared here: the DOM's and Bun's declarations of it disagree). */
interface Chunk {
  done: boolean;
  value?: Uint8Array | undefined;
}

function nextTask(): Promise<typeof NOT_READY> {
  return new Promise((resolve) => setTimeout(() => resolve(NOT_READY), 0));
}

/** One stream: its writer, its reader, and the read kept pending (reads drive the stream). */
class WebCodec {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Promise<Chunk>;

  constructor(format: WebFormat, direction: CodecDirection) {
    const stream = direction === "compress" ? new CompressionStream(format) : new DecompressionStream(format);
    this.#writer = (stream.writable as WritableStream<Uint8Array>).getWriter();
    this.#reader = (stream.readable as ReadableStream<Uint8Array>).getReader();
    this.#pending = this.#read();
  }

  #read(): Promise<Chunk> {
    const read = this.#reader.read() as Promise<Chunk>;
    read.catch(ignore); // raced or awaited later; an error surfaces there
    return read;
  }

  /**
   * Writes `chunk` (which the stream may keep) and hands `emit` every output chunk until the
   * stream took it, then every chunk already waiting. Reads go on while the write waits: the
   * stream applies backpressure until its output is read.
   */
  async write(chunk: Uint8Array<ArrayBuffer>, emit: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    const written = this.#writer.write(chunk).then((): typeof WRITTEN => WRITTEN);
    written.catch(ignore);
    for (;;) {
      const result = await Promise.race([written, this.#pending]);
      if (result === WRITTEN) break;
      if (result.value === undefined) return;
      this.#pending = this.#read();
      await emit(result.value);
    }
    for (;;) {
      // A read that is already settled wins the race against the settled notReady.
      const result = await Promise.race([this.#pending, notReady]);
      if (result === NOT_READY || result.value === undefined) return;
      this.#pending = this.#read();
      await emit(result.value);
    }
  }

  /**
   * Hands `emit` the output that comes within one macrotask (a stream may produce it
   * asynchronously: Node's runs zlib on its thread pool, workerd's on its event loop), and
   * again after each chunk, so a call delivers what its input decodes to, and an error soon.
   */
  async settle(emit: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    for (;;) {
      const result = await Promise.race([this.#pending, nextTask()]);
      if (result === NOT_READY || result.value === undefined) return;
      this.#pending = this.#read();
      await emit(result.value);
    }
  }

  /** Ends the input and hands `emit` the rest of the output. */
  async close(emit: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    const closed = this.#writer.close();
    closed.catch(ignore);
    for (;;) {
      const result = await this.#pending;
      if (result.value === undefined) break;
      this.#pending = this.#read();
      await emit(result.value);
    }
    await closed;
  }

  /** Drops the stream (after an error, or when nobody reads the output). */
  abort(reason: unknown): void {
    this.#writer.abort(reason).catch(ignore);
    this.#reader.cancel(reason).catch(ignore);
  }
}

/** A compressor or decompressor over a web stream (see the module doc). */
export class WebTransform implements ChannelTransform {
  readonly #format: WebFormat;
  readonly #direction: CodecDirection;
  readonly #maxOutputBytes: number;
  #codec: WebCodec | undefined;
  // Stream offset of the next input byte, and output bytes so far.
  #position = 0;
  #produced = 0;
  // ---- one call ----
  #output: WritableChannel | undefined;
  #sinceFlush = 0;
  // The output's reader left: the rest is dropped.
  #stopped = false;
  readonly #emit = (bytes: Uint8Array): Promise<void> => this.#copyOut(bytes);

  constructor(format: WebFormat, direction: CodecDirection, maxOutputBytes: number) {
    this.#format = format;
    this.#direction = direction;
    this.#maxOutputBytes = maxOutputBytes;
  }

  transform(input: ReadableBuffer, output: WritableChannel, final: boolean): Promise<number> {
    return this.#transform(input, output, final);
  }

  async #transform(input: ReadableBuffer, output: WritableChannel, final: boolean): Promise<number> {
    const length = input.length;
    this.#output = output;
    this.#sinceFlush = 0;
    this.#stopped = false;
    const codec = this.#codec ??= new WebCodec(this.#format, this.#direction);
    const piece = this.#direction === "compress" ? COMPRESS_PIECE : DECOMPRESS_PIECE;
    try {
      for (const view of input) {
        for (let at = 0; at < view.length && !this.#stopped; at += piece) {
          // The one copy on the way in (see the module doc).
          const chunk = view.slice(at, at + piece);
          try {
            await codec.write(chunk, this.#emit);
          } catch (error) {
            throw this.#streamError(error, chunk.length);
          }
          this.#position += chunk.length;
        }
      }
      if (!final && !this.#stopped) {
        try {
          await codec.settle(this.#emit);
        } catch (error) {
          throw this.#streamError(error, 0);
        }
      }
      if (final && !this.#stopped) {
        // No input at all is no stream (some DecompressionStreams accept it).
        if (this.#direction === "decompress" && this.#position === 0) throw truncatedError(this.#format, 0);
        try {
          await codec.close(this.#emit);
        } catch (error) {
          if (error instanceof RangeError) throw error;
          throw this.#direction === "compress"
            ? error
            : truncatedError(this.#format, this.#position, message(error), error);
        }
      }
    } catch (error) {
      this.#endStream(error);
      throw error;
    } finally {
      this.#output = undefined;
    }
    if (final || this.#stopped) this.#endStream(undefined);
    return length;
  }

  #streamError(error: unknown, length: number): unknown {
    if (error instanceof RangeError || this.#direction === "compress") return error;
    return corruptError(this.#format, message(error), undefined, this.#position, this.#position + length, error);
  }

  #endStream(reason: unknown): void {
    if (reason !== undefined || this.#stopped) this.#codec?.abort(reason);
    this.#codec = undefined;
    this.#position = 0;
    this.#produced = 0;
  }

  /** The one copy on the way out: an output chunk into pool memory, flushing as it goes. */
  async #copyOut(bytes: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    const output = this.#output as WritableChannel;
    if (this.#produced + bytes.length > this.#maxOutputBytes) {
      throw outputTooLargeError(this.#format, this.#maxOutputBytes, this.#position);
    }
    this.#produced += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      if (this.#sinceFlush >= OUTPUT_FLUSH_BYTES) {
        const { isCompleted } = await output.flush();
        this.#sinceFlush = 0;
        if (isCompleted) {
          this.#stopped = true;
          return;
        }
      }
      const view = output.getMemory();
      const n = Math.min(view.length, bytes.length - at);
      view.set(bytes.subarray(at, at + n));
      output.advance(n);
      at += n;
      this.#sinceFlush += n;
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
