/**
 * The writing side of a channel (the seed's IWritableChannel, .NET's PipeWriter).
 *
 * @module
 */

/** What a flush reports. Results are shared, frozen objects: compare fields, not identity. */
export interface FlushResult {
  /** The reader is gone: stop producing. */
  readonly isCompleted: boolean;
  /** `cancelPendingFlush()` ended this flush early; the bytes stay in the channel. */
  readonly isCanceled: boolean;
}

/** Options of a flush or a write. */
export interface FlushOptions {
  /**
   * Aborting rejects a flush that waits for backpressure with `signal.reason`; the bytes stay.
   * A `write` or `writeUtf8` given a signal already aborted writes nothing.
   */
  signal?: AbortSignal;
}

/**
 * The writing side of a channel: ask for pool memory, fill it, commit, flush.
 *
 * ```
 * getMemory(n) ──► fill view ──► advance(k) ──► flush() ──► reader sees the bytes
 *        ▲___________________________│ (several advances may share one flush)
 * ```
 *
 * A view from `getMemory` is valid until the next `getMemory`, `flush`, `write` or
 * `complete`; bytes written into it count only once `advance` commits them.
 */
export interface WritableChannel {
  /**
   * A view of pool memory to write into, at least `max(sizeHint, 1)` bytes long.
   *
   * @throws {RangeError} When `sizeHint` is negative or not an integer, or the pool is at its limit.
   * @throws {ChannelStateError} `WRITER_COMPLETED` after `complete()`.
   */
  getMemory(sizeHint?: number): Uint8Array;
  /**
   * Commits `byteCount` bytes written at the start of the unwritten part of the last view.
   *
   * @throws {RangeError} When `byteCount` exceeds what the last `getMemory` view has left.
   * @throws {ChannelStateError} `WRITER_COMPLETED` after `complete()`.
   */
  advance(byteCount: number): void;
  /**
   * Makes committed bytes visible to the reader. Resolves at once unless the reader has
   * `pauseWriterThreshold` or more unexamined bytes; then it waits until they fall below
   * `resumeWriterThreshold`. A flush while one waits joins it (same promise).
   * Rejects with the reader's error if the reader completed with one.
   */
  flush(options?: FlushOptions): Promise<FlushResult>;
  /** Copies `data` into pool memory, then flushes. */
  write(data: Uint8Array, options?: FlushOptions): Promise<FlushResult>;
  /** Encodes `text` as UTF-8 straight into pool memory (`TextEncoder.encodeInto`), then flushes. */
  writeUtf8(text: string, options?: FlushOptions): Promise<FlushResult>;
  /** Bytes committed by `advance` and not yet flushed. */
  readonly unflushedBytes: number;
  /** Ends the pending flush (or the next one) with `isCanceled: true`, once. */
  cancelPendingFlush(): void;
  /**
   * Ends writing: commits unflushed bytes, and the reader sees `isCompleted` after the last
   * byte, or rejects with `error` when one is given. The first call wins.
   */
  complete(error?: unknown): void;
}
