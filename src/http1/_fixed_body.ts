// A request body of known length (Content-Length) as a ReadableChannel over the connection's
// input: each read returns a slice of the input's own buffer (no copy), cut at the body's end
// so the next request's bytes are never handed out. Internal.

import type { ReadableBuffer } from "../readable_buffer.ts";
import { bodyTimedOut, truncatedBody } from "./_body_errors.ts";
import { CursorBody } from "./_cursor_body.ts";
import type { InputCursor } from "./_input_cursor.ts";

/** A Content-Length body: `length` bytes from the cursor's offset. */
export class FixedLengthBody extends CursorBody {
  readonly #length: number;
  // Body bytes not consumed yet; the first of them is at the cursor's offset.
  #remaining: number;

  /**
   * @param cursor The connection's input; the body starts at its offset.
   * @param length The body's length.
   * @param onStart Called before the first read (sends 100 Continue when the client waits).
   */
  constructor(cursor: InputCursor, length: number, onStart: () => void) {
    super(cursor, onStart);
    this.#length = length;
    this.#remaining = length;
  }

  get done(): boolean {
    return this.#remaining === 0;
  }

  get status(): number {
    return 0;
  }

  protected ready(): number {
    return Math.min(this.#remaining, this.cursor.available);
  }

  protected get ends(): boolean {
    return this.cursor.available >= this.#remaining;
  }

  protected bufferOf(length: number): ReadableBuffer {
    const cursor = this.cursor;
    return cursor.buffer.slice(cursor.offset, cursor.offset + length);
  }

  protected consume(count: number): void {
    this.cursor.offset += count;
    this.#remaining -= count;
  }

  protected beforeRelease(): void {}

  protected truncated(): Error {
    return truncatedBody(this.#length - this.#remaining + this.cursor.available, this.#length);
  }

  protected timedOut(): Error {
    return bodyTimedOut(this.#length - this.#remaining + this.cursor.available);
  }

  async drain(limit: number): Promise<boolean> {
    const cursor = this.cursor;
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
}
