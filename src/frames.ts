/**
 * {@linkcode readFrames} and {@linkcode writeFrame}: the loops that run a {@linkcode Framer}
 * over a channel.
 *
 * @module
 */

import { rangeError, TruncatedFrameError, typeError } from "./errors.ts";
import type { DecodeProgress, Framer } from "./framer.ts";
import { ReadableBuffer } from "./readable_buffer.ts";
import type { ReadableChannel, ReadOptions, ReadResult } from "./readable_channel.ts";
import type { WritableChannel } from "./writable_channel.ts";

/** Options of {@linkcode readFrames}. */
export interface ReadFramesOptions {
  /**
   * Aborting makes the waiting (or next) step reject with `signal.reason`, and completes the
   * reader with it, as any error does.
   */
  signal?: AbortSignal;
}

/**
 * The frames of a channel, decoded by `framer`, as an async iterator. Each frame is a
 * zero-copy {@linkcode ReadableBuffer} slice of the channel's memory, **valid until the next
 * step** of the iterator (the next `next()`, `return()` or loop turn): copy what must live
 * longer (`toUint8Array`).
 *
 * - One read may hold many frames: they are decoded from the same buffer, one per step, with
 *   no read in between. When the framer needs more bytes, the loop calls
 *   `advanceTo(consumed, buffer.length)` and reads again (`readAtLeast` when the framer knows
 *   how many bytes the frame needs); a scanning framer resumes where it stopped.
 * - The stream ends when the writer completes: the loop ends, and completes the reader. Bytes
 *   left that do not make a whole frame throw a {@linkcode TruncatedFrameError}.
 * - `return()` (a `break` out of `for await`) completes the reader without an error.
 * - An error (from the framer, a read, the signal) completes the reader with that error, so
 *   the writer's next flush rejects with it too, and the step rejects with it.
 * - A read ended by `cancelPendingRead()` ends the loop after the frames it holds, leaving the
 *   reader open at the start of the next frame.
 *
 * Steps do not overlap: a `next()` called while one is pending runs after it. Each step reuses
 * one result object (as a channel reuses its read result), so nothing is allocated per frame
 * but the frame's slice.
 *
 * @param reader The channel to read; the loop owns it until the end (reads and `advanceTo`).
 * @param framer How frames are cut: {@linkcode lengthPrefixed}, {@linkcode delimited} or your own.
 * @param options An abort signal.
 * @returns An async iterator of frames.
 * @throws {TypeError} When `framer` has no `decode` method.
 *
 * @example Lines from a channel, two frames from one read
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, delimited, readFrames } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.writeUtf8("one\ntwo\nthr");
 * await writer.writeUtf8("ee\n");
 * writer.complete();
 *
 * const lines: string[] = [];
 * for await (const line of readFrames(reader, delimited())) {
 *   lines.push(new TextDecoder().decode(line.toUint8Array())); // copy: `line` dies at the next step
 * }
 * assert.deepEqual(lines, ["one", "two", "three"]);
 * ```
 *
 * @example A stream that ends inside a frame
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, lengthPrefixed, readFrames, TruncatedFrameError } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.write(new Uint8Array([0, 0, 0, 5, 104, 105])); // 5 bytes declared, 2 sent
 * writer.complete();
 * await assert.rejects(
 *   readFrames(reader, lengthPrefixed()).next(),
 *   (error) => error instanceof TruncatedFrameError && error.bytesLeft === 6,
 * );
 * ```
 */
export function readFrames(
  reader: ReadableChannel,
  framer: Framer,
  options?: ReadFramesOptions,
): AsyncIterableIterator<ReadableBuffer> {
  if (options === undefined) options = {};
  if (typeof framer?.decode !== "function") {
    throw typeError("read frames", "framer must have a decode method", framer);
  }
  return new FrameIterator(reader, framer, options.signal);
}

/**
 * Writes one frame holding `payload` into `writer` with `getMemory`/`advance`: header and
 * payload, or payload and delimiter. Does not flush: write several frames, then `flush()`
 * once. The payload is copied once, into pool memory.
 *
 * @param writer Where to write.
 * @param framer The format: {@linkcode lengthPrefixed}, {@linkcode delimited} or your own.
 * @param payload The frame's payload; a {@linkcode ReadableBuffer} (a frame just read, say) is copied segment by segment.
 * @throws {FrameTooLargeError} When the payload is longer than the framer allows.
 * @throws {TypeError} When `payload` is neither a `Uint8Array` nor a `ReadableBuffer`, or the framer cannot encode it.
 *
 * @example Length-prefixed messages, several per flush
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, lengthPrefixed, writeFrame } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * const framer = lengthPrefixed({ lengthFieldLength: 2 });
 * writeFrame(writer, framer, new Uint8Array([7, 8, 9]));
 * writeFrame(writer, framer, new Uint8Array([]));
 * await writer.flush();
 *
 * const { buffer } = await reader.read();
 * assert.deepEqual([...buffer.toUint8Array()], [0, 3, 7, 8, 9, 0, 0]);
 * reader.advanceTo(buffer.length);
 * ```
 */
export function writeFrame(writer: WritableChannel, framer: Framer, payload: Uint8Array | ReadableBuffer): void {
  if (!(payload instanceof Uint8Array) && !(payload instanceof ReadableBuffer)) {
    throw typeError("write the frame", "payload must be a Uint8Array or a ReadableBuffer", payload);
  }
  if (typeof framer?.encode !== "function") {
    throw typeError("write the frame", "framer must have an encode method", framer);
  }
  framer.encode(writer, payload);
}

/** The one result object a frame iterator reuses for every frame. */
class FrameResult implements IteratorYieldResult<ReadableBuffer> {
  readonly done = false as const;
  value: ReadableBuffer;
  constructor(value: ReadableBuffer) {
    this.value = value;
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);
const EMPTY: ReadableBuffer = ReadableBuffer.from([]);

// Iterator states:
//
// | state                   | #buffer          | next()                                         |
// |-------------------------|------------------|------------------------------------------------|
// | holding a read          | the read's bytes | decodes from it; on "need more" advances, reads |
// | between reads           | undefined        | reads (readAtLeast when the framer knows)       |
// | reading (#pending set)  | undefined        | runs after the pending step                     |
// | done                    | undefined        | { done: true }                                  |
//
// Every way to "done" completes the reader, except a canceled read (which leaves it open).
class FrameIterator implements AsyncIterableIterator<ReadableBuffer> {
  readonly #reader: ReadableChannel;
  readonly #framer: Framer;
  readonly #signal: AbortSignal | undefined;
  readonly #readOptions: ReadOptions;
  readonly #progress: DecodeProgress = { consumed: 0, examined: 0, needed: 0 };
  // The last read's buffer until the loop advances past it (valid until then).
  #buffer: ReadableBuffer | undefined;
  #lastRead = false; // #buffer holds the last bytes of the stream (the writer completed)
  #canceled = false; // #buffer came from a canceled read
  #done = false;
  // The step that waits for a read; later next() calls run after it.
  #pending: Promise<IteratorResult<ReadableBuffer, undefined>> | undefined;
  readonly #result: FrameResult = new FrameResult(EMPTY);
  readonly #ready: Promise<FrameResult> = Promise.resolve(this.#result);

  constructor(reader: ReadableChannel, framer: Framer, signal: AbortSignal | undefined) {
    this.#reader = reader;
    this.#framer = framer;
    this.#signal = signal;
    this.#readOptions = signal === undefined ? {} : { signal };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ReadableBuffer, undefined>> {
    if (this.#pending !== undefined) {
      const after = (): Promise<IteratorResult<ReadableBuffer, undefined>> => this.next();
      return this.#pending.then(after, after);
    }
    if (this.#done) return DONE_PROMISE;
    // Fast path: the next frame is in the bytes already read (no promise but the shared one).
    try {
      if (this.#buffer !== undefined) {
        const frame = this.#decode(this.#buffer);
        if (frame !== undefined) {
          this.#result.value = frame;
          return this.#ready;
        }
        if (this.#done) return DONE_PROMISE;
      }
    } catch (error) {
      return Promise.reject(this.#fail(error));
    }
    const step = this.#readAndDecode();
    this.#pending = step;
    return step;
  }

  return(): Promise<IteratorResult<ReadableBuffer, undefined>> {
    if (!this.#done) {
      this.#done = true;
      this.#buffer = undefined;
      this.#reader.complete();
    }
    return DONE_PROMISE;
  }

  async #readAndDecode(): Promise<IteratorResult<ReadableBuffer, undefined>> {
    try {
      for (;;) {
        const needed = this.#progress.needed;
        let result: ReadResult;
        try {
          result = needed > 1
            // deno-lint-ignore no-await-in-loop
            ? await this.#reader.readAtLeast(needed, this.#readOptions)
            // deno-lint-ignore no-await-in-loop
            : await this.#reader.read(this.#readOptions);
        } catch (error) {
          // return() during the read completed the reader, which rejects the read: not an error.
          if (this.#done) return DONE;
          throw error;
        }
        if (this.#done) return DONE;
        this.#buffer = result.buffer;
        this.#lastRead = result.isCompleted;
        this.#canceled = result.isCanceled;
        const frame = this.#decode(result.buffer);
        if (frame !== undefined) {
          this.#result.value = frame;
          return this.#result;
        }
        if (this.#done) return DONE;
      }
    } catch (error) {
      throw this.#fail(error);
    } finally {
      this.#pending = undefined;
    }
  }

  /**
   * The next frame in `buffer`, or undefined after finishing with the buffer: advanced past
   * (and #buffer cleared) so the caller reads again, or, at the end of the stream, done.
   */
  #decode(buffer: ReadableBuffer): ReadableBuffer | undefined {
    const signal = this.#signal;
    if (signal?.aborted) throw signal.reason;
    const progress = this.#progress;
    const consumed = progress.consumed;
    progress.needed = 0;
    const frame = this.#framer.decode(buffer, progress);
    const length = buffer.length;
    if (frame !== undefined) {
      if (!(progress.consumed > consumed && progress.consumed <= length)) {
        throw rangeError(
          "read frames",
          `the framer must move consumed forward past its frame (from ${consumed} to at most ${length})`,
          progress.consumed,
        );
      }
      if (progress.examined < progress.consumed) progress.examined = progress.consumed;
      return frame;
    }
    // The framer needs more bytes than the buffer holds.
    const rest = progress.consumed;
    if (this.#lastRead) {
      if (rest < length) throw new TruncatedFrameError(length - rest);
      this.#buffer = undefined;
      this.#done = true;
      this.#reader.advanceTo(length);
      this.#reader.complete();
      return undefined;
    }
    // Everything was examined (the next read waits for new bytes); the framer's resume point
    // moves with the buffer's start.
    this.#reader.advanceTo(rest, length);
    this.#buffer = undefined;
    const examined = progress.examined - rest;
    progress.examined = examined < 0 ? 0 : examined > length - rest ? length - rest : examined;
    progress.consumed = 0;
    if (this.#canceled) {
      this.#done = true;
      progress.examined = progress.needed = 0;
    }
    return undefined;
  }

  /** Ends the loop with `error`: the reader is completed with it. Returns the error. */
  #fail(error: unknown): unknown {
    if (!this.#done) {
      this.#done = true;
      this.#buffer = undefined;
      this.#reader.complete(error);
    }
    return error;
  }
}
