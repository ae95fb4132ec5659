// A request body of known length (Content-Length) as a ReadableChannel over the connection's
// input: each read returns a slice of the input's own buffer (no copy), cut at the body's end
// so the next request's bytes are never handed out. Consuming it moves the connection's cursor.
// Internal.

import { isIntegerIn, rangeError, stateError } from "../errors.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel, ReadOptions, ReadResult } from "../readable_channel.ts";
import type { InputCursor } from "./_input_cursor.ts";
import { truncatedBody } from "./_body_errors.ts";

// Read states (as Channel's): IDLE → read → ACTIVE (a result out) → advanceTo → IDLE;
// PENDING while a read waits for the input. A canceled result needs no advanceTo (TENTATIVE).
const IDLE = 0;
const PENDING = 1;
const ACTIVE = 2;
const TENTATIVE = 3;

class BodyResult implements ReadResult {
  buffer!: ReadableBuffer;
  isCompleted = false;
  isCanceled = false;
}

/** What a body does for the connection besides being read. */
export interface RequestBody extends ReadableChannel {
  /** The handler settled: the body stops serving the user; await the returned read, if any. */
  detach(): Promise<void> | undefined;
  /** Skips what is left of the body, at most `limit` bytes; false when the connection must close. */
  drain(limit: number): Promise<boolean>;
  /** A read was made (100 Continue is due). */
  readonly started: boolean;
  /** The body was read to its end (or skipped). */
  readonly done: boolean;
}

/** A Content-Length body: views of the input, `length` bytes from the cursor's offset. */
export class FixedLengthBody implements RequestBody {
  readonly #cursor: InputCursor;
  readonly #length: number;
  // Body bytes not consumed yet; the first of them is at the cursor's offset.
  #remaining: number;
  // Bytes after the consumed point the last advanceTo examined: a read returns only when more
  // than these are there.
  #examined = 0;
  #state = IDLE;
  #resultLength = 0;
  #completed = false;
  #detached = false;
  #cancelRequested = false;
  #pending: Promise<unknown> | undefined;
  #started = false;
  readonly #onStart: () => void;
  readonly #result = new BodyResult();

  /**
   * @param cursor The connection's input; the body starts at its offset.
   * @param length The body's length.
   * @param onStart Called before the first read (sends 100 Continue when the client waits).
   */
  constructor(cursor: InputCursor, length: number, onStart: () => void) {
    this.#cursor = cursor;
    this.#length = length;
    this.#remaining = length;
    this.#onStart = onStart;
  }

  get started(): boolean {
    return this.#started;
  }

  get done(): boolean {
    return this.#remaining === 0;
  }

  read(options?: ReadOptions): Promise<ReadResult> {
    return this.readAtLeast(1, options);
  }

  readAtLeast(minimumSize: number, options?: ReadOptions): Promise<ReadResult> {
    if (this.#completed || this.#detached) return Promise.reject(stateError("READER_COMPLETED"));
    if (this.#state === PENDING || this.#state === ACTIVE) return Promise.reject(stateError("READ_IN_PROGRESS"));
    if (!isIntegerIn(minimumSize, 0, Number.MAX_SAFE_INTEGER)) {
      return Promise.reject(rangeError("read", "minimumSize must be a non-negative integer", minimumSize));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#start();
    const minimum = Math.max(1, minimumSize);
    try {
      const ready = this.#fill(minimum);
      if (ready !== undefined) return Promise.resolve(ready);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#state = PENDING;
    const pending = this.#readSlow(minimum, options);
    this.#pending = pending;
    return pending;
  }

  tryRead(): ReadResult | undefined {
    if (this.#completed || this.#detached) throw stateError("READER_COMPLETED");
    if (this.#state === PENDING || this.#state === ACTIVE) throw stateError("READ_IN_PROGRESS");
    this.#start();
    const ready = this.#fill(1);
    if (ready !== undefined) return ready;
    if (this.#cursor.tryRead()) return this.#fill(1);
    return undefined;
  }

  advanceTo(consumed: number, examined: number = consumed): void {
    if (this.#completed || this.#detached) throw stateError("READER_COMPLETED");
    if (this.#state !== ACTIVE && this.#state !== TENTATIVE) throw stateError("NO_READ_TO_ADVANCE");
    const length = this.#resultLength;
    if (!isIntegerIn(consumed, 0, length)) {
      throw rangeError("advance the reader", `consumed must be an integer from 0 to ${length}`, consumed);
    }
    if (!isIntegerIn(examined, 0, length)) {
      throw rangeError("advance the reader", `examined must be an integer from 0 to ${length}`, examined);
    }
    if (examined < consumed) throw stateError("EXAMINED_BEFORE_CONSUMED");
    if (examined < this.#examined && examined < length) throw stateError("EXAMINED_MOVED_BACKWARDS");
    this.#state = IDLE;
    this.#cursor.offset += consumed;
    this.#remaining -= consumed;
    this.#examined = examined - consumed;
  }

  cancelPendingRead(): void {
    if (this.#state === PENDING) this.#cursor.input.cancelPendingRead();
    else this.#cancelRequested = true;
  }

  complete(): void {
    if (this.#completed) return;
    this.#completed = true;
    if (this.#state === PENDING) this.#cursor.input.cancelPendingRead();
    this.#state = IDLE;
  }

  detach(): Promise<void> | undefined {
    this.#detached = true;
    if (this.#state !== PENDING) return undefined;
    this.#cursor.input.cancelPendingRead();
    return (this.#pending as Promise<unknown>).then(() => {}, () => {});
  }

  async drain(limit: number): Promise<boolean> {
    const cursor = this.#cursor;
    if (this.#remaining > limit) return false;
    while (this.#remaining > 0) {
      if (cursor.held) {
        const skip = Math.min(this.#remaining, cursor.available);
        cursor.offset += skip;
        this.#remaining -= skip;
        if (this.#remaining === 0) break;
        if (cursor.ended) return false;
      }
      await cursor.read();
      if (cursor.canceled) return false;
    }
    return true;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#onStart();
  }

  /** The result the held bytes give now, or undefined when a read of the input is needed. */
  #fill(minimum: number): ReadResult | undefined {
    const cursor = this.#cursor;
    const remaining = this.#remaining;
    const available = cursor.held ? Math.min(remaining, cursor.available) : 0;
    if (this.#cancelRequested) {
      this.#cancelRequested = false;
      return this.#resultOf(available, true);
    }
    if (this.#completed) throw stateError("READER_COMPLETED");
    if (remaining === 0 || (available > this.#examined && available >= Math.min(minimum, remaining))) {
      return this.#resultOf(available, false);
    }
    if (cursor.held && cursor.ended) throw truncatedBody(this.#length - remaining + available, this.#length);
    return undefined;
  }

  #resultOf(available: number, canceled: boolean): ReadResult {
    const cursor = this.#cursor;
    const result = this.#result;
    result.buffer = cursor.buffer.slice(cursor.offset, cursor.offset + available);
    result.isCompleted = available === this.#remaining;
    result.isCanceled = canceled;
    this.#resultLength = available;
    this.#state = canceled ? TENTATIVE : ACTIVE;
    return result;
  }

  async #readSlow(minimum: number, options: ReadOptions | undefined): Promise<ReadResult> {
    const cursor = this.#cursor;
    try {
      for (;;) {
        // Everything held was examined: consume up to the body's consumed point and wait
        // for new bytes (at least what a readAtLeast still lacks).
        const need = Math.min(minimum, this.#remaining);
        await cursor.read(need, options);
        if (cursor.canceled) {
          if (this.#completed || this.#detached) throw stateError("READER_COMPLETED");
          this.#cancelRequested = true;
        }
        this.#examined = 0;
        const ready = this.#fill(minimum);
        if (ready !== undefined) return ready;
      }
    } catch (error) {
      this.#state = IDLE;
      throw error;
    } finally {
      this.#pending = undefined;
    }
  }
}
