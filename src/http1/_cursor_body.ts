// A request body as a ReadableChannel over the connection's input cursor: reads hand out views
// of the input's own memory (no copy), consuming moves the cursor, and a read that needs more
// bytes releases the held input read and waits for the next one. The framing (Content-Length
// or chunked) is the subclass's; the channel contract (read states, consumed/examined,
// cancellation, completion) is here, once. Internal.

import { isIntegerIn, rangeError, stateError } from "../errors.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel, ReadOptions, ReadResult } from "../readable_channel.ts";
import type { InputCursor } from "./_input_cursor.ts";

// Read states (as Channel's):
//
// | state | read() | advanceTo() |
// | --- | --- | --- |
// | IDLE | → ACTIVE (data ready) or PENDING (waits for the input) | throws NO_READ_TO_ADVANCE |
// | PENDING | throws READ_IN_PROGRESS | throws |
// | ACTIVE | throws READ_IN_PROGRESS | → IDLE |
// | TENTATIVE (a canceled result) | as IDLE | → IDLE |
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
  /** The body was read to its end (or skipped): the cursor is at the next request. */
  readonly done: boolean;
  /** The status a framing error answers with (0: none). */
  readonly status: number;
}

/** The channel side of a body; subclasses say where its bytes are. */
export abstract class CursorBody implements RequestBody {
  /** The connection's input; the body's first unconsumed byte is at (or after) its offset. */
  protected readonly cursor: InputCursor;
  #state = IDLE;
  #resultLength = 0;
  // Bytes after the consumed point the last advanceTo examined: a read returns only when more
  // than these are ready.
  #examined = 0;
  #completed = false;
  #detached = false;
  #cancelRequested = false;
  #pending: Promise<unknown> | undefined;
  #started = false;
  readonly #onStart: () => void;
  readonly #result = new BodyResult();

  /**
   * @param cursor The connection's input.
   * @param onStart Called before the first read (sends 100 Continue when the client waits).
   */
  constructor(cursor: InputCursor, onStart: () => void) {
    this.cursor = cursor;
    this.#onStart = onStart;
  }

  // ---- the framing's part ----

  /** Body bytes ready in the held input from the consumed point (throws on bad framing). */
  protected abstract ready(): number;
  /** Whether the body ends with the bytes `ready()` counted. */
  protected abstract get ends(): boolean;
  /** A buffer of the first `length` ready bytes (views of the input). */
  protected abstract bufferOf(length: number): ReadableBuffer;
  /** Consumes `count` ready bytes (and the framing up to the next ones). */
  protected abstract consume(count: number): void;
  /** The held input is about to be released (positions in it change). */
  protected abstract beforeRelease(): void;
  /** The error for an input that ended inside the body. */
  protected abstract truncated(): Error;
  /** The error for a body that did not arrive in time. */
  protected abstract timedOut(): Error;
  abstract drain(limit: number): Promise<boolean>;
  abstract get done(): boolean;
  abstract get status(): number;

  // ---- the channel ----

  get started(): boolean {
    return this.#started;
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
    this.beforeRelease();
    if (!this.cursor.tryRead()) return undefined;
    this.#examined = 0;
    return this.#fill(1);
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
    this.consume(consumed);
    this.#examined = examined - consumed;
  }

  cancelPendingRead(): void {
    if (this.#state === PENDING) this.cursor.input.cancelPendingRead();
    else this.#cancelRequested = true;
  }

  complete(): void {
    if (this.#completed) return;
    this.#completed = true;
    if (this.#state === PENDING) this.cursor.input.cancelPendingRead();
    this.#state = IDLE;
  }

  detach(): Promise<void> | undefined {
    this.#detached = true;
    if (this.#state !== PENDING) return undefined;
    this.cursor.input.cancelPendingRead();
    return (this.#pending as Promise<unknown>).then(() => {}, () => {});
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#onStart();
  }

  /** The result the held bytes give now, or undefined when a read of the input is needed. */
  #fill(minimum: number): ReadResult | undefined {
    const available = this.cursor.held ? this.ready() : 0;
    if (this.#cancelRequested) {
      this.#cancelRequested = false;
      return this.#resultOf(available, true);
    }
    if (this.#completed) throw stateError("READER_COMPLETED");
    const ends = this.cursor.held && this.ends;
    if (ends || (available > this.#examined && available >= minimum)) return this.#resultOf(available, false);
    if (this.cursor.held && this.cursor.ended) throw this.truncated();
    return undefined;
  }

  #resultOf(available: number, canceled: boolean): ReadResult {
    const result = this.#result;
    result.buffer = this.bufferOf(available);
    result.isCompleted = this.cursor.held && this.ends;
    result.isCanceled = canceled;
    this.#resultLength = available;
    this.#state = canceled ? TENTATIVE : ACTIVE;
    return result;
  }

  async #readSlow(minimum: number, options: ReadOptions | undefined): Promise<ReadResult> {
    const cursor = this.cursor;
    try {
      for (;;) {
        // Everything held was examined (or a readAtLeast lacks bytes): release the held input
        // up to the consumed point and wait for new bytes.
        this.beforeRelease();
        await cursor.read(1, options);
        if (cursor.canceled) {
          if (cursor.expired) throw this.timedOut();
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
