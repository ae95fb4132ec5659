/**
 * Writes Redis commands (RESP arrays of bulk strings) straight into a channel's pool memory.
 *
 * ```
 * *<argc> CRLF  ( $<byte length> CRLF <bytes> CRLF ) × argc
 * ```
 *
 * One span from `getMemory` takes every command written until the next `commit` (the client
 * commits once per tick, right before its flush), so a burst of small commands costs one
 * `getMemory` and one `advance` per block, not per command. Strings are encoded into the span
 * where they land (`TextEncoder.encodeInto`, or a JavaScript loop for short ASCII); a string
 * or byte array too long for a block goes in block-sized pieces, so no oversize block is
 * rented for it.
 *
 * @module
 */

import { typeError } from "../errors.ts";
import type { WritableChannel } from "../writable_channel.ts";

/** What a command argument may be. */
export type RespArgument = string | Uint8Array | number;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// Strings up to this many UTF-16 units are written by a JavaScript loop while they are ASCII
// (a TextEncoder call and its view cost more for them).
const SHORT_STRING = 48;
// A string or byte array whose encoding might not fit this many bytes goes in pieces (a little
// under the pool's default 4 KiB block, so a fresh span for it never needs an oversize block).
const PIECEWISE_BYTES = 4000;

/**
 * Encodes commands into a writer's memory. Owns the writer between `commit`s: nobody else may
 * call its `getMemory`, `advance` or `flush` while bytes are written and not committed.
 */
export class CommandWriter {
  readonly #output: WritableChannel;
  // The span being filled: #view[0, #used) is written and not yet advanced.
  #view: Uint8Array = EMPTY;
  #used = 0;

  /** @param output The channel the commands go to. */
  constructor(output: WritableChannel) {
    this.#output = output;
  }

  /** Bytes written and not yet committed. */
  get pending(): number {
    return this.#used;
  }

  /**
   * Checks `args`, then writes them as one command. Nothing is written when they are invalid.
   *
   * @param args The command and its arguments.
   * @throws {TypeError} When `args` is not a non-empty array of strings, `Uint8Array`s and
   * numbers (NaN excluded).
   */
  write(args: readonly RespArgument[]): void {
    if (!Array.isArray(args) || args.length === 0) {
      throw typeError("send the command", "args must be a non-empty array", args);
    }
    const argc = args.length;
    for (let k = 0; k < argc; k++) {
      const arg = args[k];
      if (typeof arg === "string" || arg instanceof Uint8Array) continue;
      if (typeof arg === "number" && !Number.isNaN(arg)) continue;
      throw typeError("send the command", `every argument must be a string, a Uint8Array or a number (${k})`, arg);
    }
    this.#ensure(16);
    this.#used = writeHeader(this.#view, this.#used, 0x2a, argc);
    for (let k = 0; k < argc; k++) {
      const arg = args[k] as RespArgument;
      if (typeof arg === "string") this.#string(arg);
      else if (typeof arg === "number") this.#number(arg);
      else this.#bytes(arg);
    }
  }

  /** Advances the output past every byte written (the caller flushes; the span dies then). */
  commit(): void {
    if (this.#used > 0) this.#output.advance(this.#used);
    this.#view = EMPTY;
    this.#used = 0;
  }

  /** Forgets the span (its memory is the channel's; call after the output completed). */
  release(): void {
    this.#view = EMPTY;
    this.#used = 0;
  }

  /** Makes room for `need` bytes in the span, committing what it holds when it must move on. */
  #ensure(need: number): void {
    if (this.#view.length - this.#used >= need) return;
    if (this.#used > 0) this.#output.advance(this.#used);
    this.#view = this.#output.getMemory(need);
    this.#used = 0;
  }

  #string(text: string): void {
    const length = text.length;
    if (length <= SHORT_STRING) {
      this.#ensure(length * 3 + 16);
      const view = this.#view;
      const start = this.#used;
      // Optimistic: ASCII, so the byte length is the string's length.
      let at = writeHeader(view, start, 0x24, length);
      let k = 0;
      for (; k < length; k++) {
        const c = text.charCodeAt(k);
        if (c >= 0x80) break;
        view[at++] = c;
      }
      if (k === length) {
        view[at] = 0x0d;
        view[at + 1] = 0x0a;
        this.#used = at + 2;
        return;
      }
      const byteLength = utf8Length(text);
      at = writeHeader(view, start, 0x24, byteLength);
      const { written } = encoder.encodeInto(text, view.subarray(at));
      at += written;
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#used = at + 2;
      return;
    }
    // Encode after a header sized for the longest encoding, then close the gap if shorter:
    // into what the span has left when the text may fit, else into a fresh span that surely does.
    const reserved = digits(length * 3) + 3;
    if (this.#view.length - this.#used - reserved - 2 >= length && this.#encodeAfter(text, reserved)) return;
    if (length * 3 + reserved + 2 <= PIECEWISE_BYTES) {
      this.#ensure(length * 3 + reserved + 2);
      this.#encodeAfter(text, reserved);
      return;
    }
    // Long: the exact length first, then the text in pieces of whatever each span holds.
    const byteLength = utf8Length(text);
    this.#ensure(32);
    this.#used = writeHeader(this.#view, this.#used, 0x24, byteLength);
    let rest = text;
    for (;;) {
      this.#ensure(4); // room for at least one code point

      const { read, written } = encoder.encodeInto(rest, this.#view.subarray(this.#used));
      this.#used += written;
      if (read === rest.length) break;
      rest = rest.substring(read);
    }
    this.#ensure(2);
    this.#view[this.#used] = 0x0d;
    this.#view[this.#used + 1] = 0x0a;
    this.#used += 2;
  }

  /**
   * Encodes all of `text` after `reserved` header bytes in the span, then writes the header
   * and CRLF; false (nothing committed) when the span is too short for it.
   */
  #encodeAfter(text: string, reserved: number): boolean {
    const view = this.#view;
    const start = this.#used;
    const { read, written } = encoder.encodeInto(text, view.subarray(start + reserved, view.length - 2));
    if (read !== text.length) return false;
    const header = digits(written) + 3;
    if (header < reserved) view.copyWithin(start + header, start + reserved, start + reserved + written);
    writeHeader(view, start, 0x24, written);
    const at = start + header + written;
    view[at] = 0x0d;
    view[at + 1] = 0x0a;
    this.#used = at + 2;
    return true;
  }

  #bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n + 16 <= PIECEWISE_BYTES) {
      this.#ensure(n + 16);
      const view = this.#view;
      let at = writeHeader(view, this.#used, 0x24, n);
      if (n <= 16) {
        for (let k = 0; k < n; k++) view[at + k] = bytes[k] as number;
      } else {
        view.set(bytes, at);
      }
      at += n;
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#used = at + 2;
      return;
    }
    this.#ensure(32);
    this.#used = writeHeader(this.#view, this.#used, 0x24, n);
    for (let from = 0; from < n;) {
      this.#ensure(1);
      const count = Math.min(n - from, this.#view.length - this.#used);
      this.#view.set(bytes.subarray(from, from + count), this.#used);
      this.#used += count;
      from += count;
    }
    this.#ensure(2);
    this.#view[this.#used] = 0x0d;
    this.#view[this.#used + 1] = 0x0a;
    this.#used += 2;
  }

  #number(n: number): void {
    if (Number.isSafeInteger(n)) {
      this.#ensure(40);
      const view = this.#view;
      const negative = n < 0;
      const magnitude = negative ? -n : n;
      const length = digits(magnitude) + (negative ? 1 : 0);
      let at = writeHeader(view, this.#used, 0x24, length);
      if (negative) view[at] = 0x2d;
      at += length;
      writeDigitsBackwards(view, at, magnitude);
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#used = at + 2;
      return;
    }
    // Floats and huge integers as JavaScript prints them (Redis parses both); infinities as Redis spells them.
    this.#string(n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n));
  }
}

/** Writes `<type><n>\r\n` at `at`; returns the offset after it. */
function writeHeader(view: Uint8Array, at: number, type: number, n: number): number {
  view[at] = type;
  if (n < 10) {
    view[at + 1] = 0x30 + n;
    view[at + 2] = 0x0d;
    view[at + 3] = 0x0a;
    return at + 4;
  }
  const end = at + 1 + digits(n);
  writeDigitsBackwards(view, end, n);
  view[end] = 0x0d;
  view[end + 1] = 0x0a;
  return end + 2;
}

/** Writes the decimal digits of `n` (a non-negative safe integer) so that the last is at `end - 1`. */
function writeDigitsBackwards(view: Uint8Array, end: number, n: number): void {
  do {
    const q = Math.floor(n / 10);
    view[--end] = 0x30 + (n - q * 10);
    n = q;
  } while (n > 0);
}

/** Decimal digits of a non-negative safe integer. */
function digits(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** The byte length of `text` as TextEncoder encodes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  const length = text.length;
  let n = length;
  for (let k = 0; k < length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && k + 1 < length) {
      const d = text.charCodeAt(k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // two units, four bytes
        k++;
      } else {
        n += 2;
      }
    } else {
      n += 2;
    }
  }
  return n;
}
