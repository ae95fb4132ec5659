/**
 * UTF-8 validation of a message that arrives in pieces (fragments, and the runs of segments a
 * fragment lies in), so bad text is caught as soon as its bytes arrive (RFC 6455 §8.1: fail
 * fast). Each run is validated where it lies by the kernel layer (src/_wasm/utf8_validate.ts);
 * a sequence cut by a piece boundary is carried to the next piece in TypeScript, as
 * `validateUtf8` carries it across segments.
 *
 * @module
 */

import { fitsAt, sequenceLength } from "../_utf8_reference.ts";
import { RunCursor } from "../_runs.ts";
import { utf8Validate } from "../_wasm/utf8_validate.ts";
import { type ReadableBuffer, walkRuns } from "../readable_buffer.ts";

// Reused by every stream: validation never calls out while walking.
const runs = new RunCursor();

/** Validates one message's bytes piece by piece; `reset` starts the next message. */
export class Utf8Stream {
  // The open sequence at the end of the pieces so far (valid so far): #carry[0, #carryLength).
  readonly #carry = new Uint8Array(4);
  #carryLength = 0;

  /** Forgets the message (an open sequence included). */
  reset(): void {
    this.#carryLength = 0;
  }

  /** True when the pieces so far end inside a sequence (a message cannot end there). */
  get open(): boolean {
    return this.#carryLength > 0;
  }

  /** Validates `buffer[from, to)` after the pieces so far; false at the first bad byte. */
  pushBuffer(buffer: ReadableBuffer, from: number, to: number): boolean {
    walkRuns(buffer, runs, from, to);
    while (runs.next()) {
      if (!this.push(runs.bytes, runs.from, runs.to)) {
        runs.finish();
        return false;
      }
    }
    return true;
  }

  /** Validates `bytes[from, to)` after the pieces so far; false at the first bad byte. */
  push(bytes: Uint8Array, from: number, to: number): boolean {
    let at = from;
    if (this.#carryLength > 0) {
      const carry = this.#carry;
      const lead = carry[0] as number;
      const length = sequenceLength(lead);
      while (this.#carryLength < length && at < to) {
        const byte = bytes[at++] as number;
        if (!fitsAt(lead, this.#carryLength, byte)) return false;
        carry[this.#carryLength++] = byte;
      }
      if (this.#carryLength < length) return true;
      this.#carryLength = 0;
    }
    if (at >= to) return true;
    const r = utf8Validate(bytes, at, to);
    if (r < 0) return false;
    at += r;
    while (at < to) this.#carry[this.#carryLength++] = bytes[at++] as number;
    return true;
  }
}
