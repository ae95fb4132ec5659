/**
 * The reading side of a channel (the seed's IReadableChannel, .NET's PipeReader).
 *
 * @module
 */

import type { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * What a read returns. A channel reuses one result object (and one buffer object) for all its
 * reads, so a result is valid until the next `advanceTo`, like its buffer.
 */
export interface ReadResult {
  /** Every byte flushed and not yet consumed. */
  readonly buffer: ReadableBuffer;
  /** The writer completed: `buffer` holds the last bytes there will ever be. */
  readonly isCompleted: boolean;
  /** `cancelPendingRead()` ended this read early. */
  readonly isCanceled: boolean;
}

/** Options of a read. */
export interface ReadOptions {
  /** Aborting rejects a waiting read with `signal.reason`; the channel stays usable. */
  signal?: AbortSignal;
}

/**
 * The reading side of a channel.
 *
 * ```
 * read() ──► parse result.buffer ──► advanceTo(consumed, examined) ──► read() …
 * ```
 *
 * Exactly one `advanceTo` follows each read result (a canceled result may skip it).
 * `consumed` bytes are released to the pool; bytes up to `examined` count as seen, so the
 * next read waits for new data when everything was examined.
 */
export interface ReadableChannel {
  /**
   * Everything flushed and not consumed; waits while there is nothing new.
   * Rejects with the writer's error if the writer completed with one.
   */
  read(options?: ReadOptions): Promise<ReadResult>;
  /**
   * Like `read`, but waits until at least `minimumSize` unconsumed bytes are buffered (or the
   * writer completed, or the read was canceled). Lets a paused writer go on meanwhile.
   *
   * @throws {RangeError} When `minimumSize` is negative or not an integer (as a rejection).
   */
  readAtLeast(minimumSize: number, options?: ReadOptions): Promise<ReadResult>;
  /** The result `read` would give now, or `undefined` when it would wait. Never waits. */
  tryRead(): ReadResult | undefined;
  /**
   * Ends the current read: releases `consumed` bytes and marks up to `examined` as seen,
   * both counted from the start of the last result's buffer. Invalidates that buffer.
   */
  advanceTo(consumed: number, examined?: number): void;
  /** Ends the pending read (or the next one) with `isCanceled: true`, once. */
  cancelPendingRead(): void;
  /**
   * Ends reading: unread bytes are dropped and released, and the writer's flushes report
   * `isCompleted` (or reject with `error` when one is given). The first call wins.
   */
  complete(error?: unknown): void;
}

/** A pair of channel sides, such as a connection: read from `input`, write to `output`. */
export interface DuplexChannel {
  /** Bytes coming in. */
  readonly input: ReadableChannel;
  /** Bytes going out. */
  readonly output: WritableChannel;
}
