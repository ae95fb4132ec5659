// The connection's input as ./http1 reads it: one held read result and how far into it the
// connection got. The head parser, the body readers and the drain all move the same cursor, so
// requests pipelined into one read are served from that read without reading again, and a
// body is a view of the bytes after its head. Internal.

import { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel, ReadOptions, ReadResult } from "../readable_channel.ts";

const EMPTY_BUFFER = ReadableBuffer.from([]);

/**
 * A held read of `input` and the offset of the first byte not yet used. Between reads nothing
 * is held. Releasing the read consumes up to `offset` and examines everything, so the next
 * read waits for new bytes.
 */
export class InputCursor {
  /** The connection's input. */
  readonly input: ReadableChannel;
  /** The held read's bytes (empty while nothing is held). */
  buffer: ReadableBuffer = EMPTY_BUFFER;
  /** Bytes of `buffer` used up: released at the next read. */
  offset = 0;
  /** A read result is held (its `advanceTo` is still due). */
  held = false;
  /** The held read was the last: no byte follows `buffer`. */
  ended = false;
  /** The last read was ended by `cancelPendingRead`, or by the connection's deadline (`expired`). */
  canceled = false;
  /** The connection's deadline passed: reads end at once as canceled until it is re-armed. */
  expired = false;
  /** Called before a release, while `buffer` is still valid (the request head is copied out then). */
  beforeRelease: (() => void) | undefined;
  // Bytes at the start of the held buffer examined by an earlier advanceTo: a release never
  // examines less (examined cannot move backwards).
  #examinedFloor = 0;
  // A read of the input is pending (expire() cancels it).
  #waiting = false;

  constructor(input: ReadableChannel) {
    this.input = input;
  }

  /** Bytes held and not used: `buffer.length - offset`. */
  get available(): number {
    return this.buffer.length - this.offset;
  }

  /**
   * Ends the held read: consumes up to `offset`; examines up to `examined` (everything by
   * default, so the next read waits for new bytes).
   */
  release(examined: number = this.buffer.length): void {
    if (!this.held) return;
    this.beforeRelease?.();
    const floor = this.#examinedFloor;
    const end = Math.max(examined, floor, this.offset);
    this.held = false;
    this.buffer = EMPTY_BUFFER;
    this.#examinedFloor = end - this.offset;
    const offset = this.offset;
    this.offset = 0;
    this.input.advanceTo(offset, end);
  }

  /** Releases the held read, then reads (at least `minimum` unused bytes, when given). */
  async read(minimum: number = 1, options?: ReadOptions): Promise<void> {
    this.release();
    if (this.expired) {
      this.canceled = true;
      return;
    }
    this.#waiting = true;
    try {
      this.#take(minimum > 1 ? await this.input.readAtLeast(minimum, options) : await this.input.read(options));
    } finally {
      this.#waiting = false;
    }
    if (this.expired) this.canceled = true;
  }

  /**
   * The connection's deadline passed: a pending read ends now (canceled), later ones at once.
   * Only a read of the cursor's own is canceled, never the input's next reader's.
   */
  expire(): void {
    this.expired = true;
    if (this.#waiting) this.input.cancelPendingRead();
  }

  /** Releases the held read and takes what is there now; false when nothing new is. */
  tryRead(): boolean {
    this.release();
    if (this.expired) return false;
    const result = this.input.tryRead();
    if (result === undefined) return false;
    this.#take(result);
    return true;
  }

  /**
   * The input's next read after a release, for a caller that awaits it and hands the result
   * to {@linkcode InputCursor.take} (one promise fewer than `read()`); undefined when the
   * deadline already passed (`canceled` is set then).
   */
  next(): Promise<ReadResult> | undefined {
    this.release();
    if (this.expired) {
      this.canceled = true;
      return undefined;
    }
    this.#waiting = true;
    return this.input.read();
  }

  /** Takes the result of {@linkcode InputCursor.next}. */
  take(result: ReadResult): void {
    this.#waiting = false;
    this.#take(result);
    if (this.expired) this.canceled = true;
  }

  #take(result: ReadResult): void {
    this.buffer = result.buffer;
    this.offset = 0;
    this.held = true;
    this.ended = result.isCompleted;
    this.canceled = result.isCanceled;
    if (this.#examinedFloor > this.buffer.length) this.#examinedFloor = this.buffer.length;
  }
}
