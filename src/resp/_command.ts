/**
 * Writes Redis commands (RESP arrays of bulk strings) straight into a channel's pool memory.
 *
 * ```
 * *<argc> CRLF  ( $<byte length> CRLF <bytes> CRLF ) × argc
 * ```
 *
 * One span from `getMemory` takes every command written until the next `commit` (the client
 * commits once per tick, right before its flush), so a burst of small commands costs one
 * `getMemory` and one `advance` per block, not per command. Spans are filled to their last
 * byte: a small piece that would straddle a block end is staged and copied across it, so the
 * blocks of a burst lie next to each other and go to the socket in one write. Strings are
 * encoded where they land (`TextEncoder.encodeInto`, or a JavaScript loop for short ASCII); one
 * that does not fit what the span has left is encoded once into scratch memory and copied
 * across spans (the one copy of this edge), so no oversize block is ever rented for it.
 *
 * Why not compose the command from `BufferWriter` calls (`writeAscii`, `writeInt`,
 * `writeUtf8`)? A bulk string's header needs the byte length before the bytes, which costs a
 * UTF-8 length count or an encode first, and a call per piece costs more than a SET of a small
 * value does in all: bench/resp.ts, "Command encoding alone" (1,000 SETs a burst: 7–14× the
 * time on Deno, a preliminary run).
 *
 * @module
 */

import { typeError } from "../errors.ts";
import { utf8Length } from "../_text.ts";
import type { WritableChannel } from "../writable_channel.ts";

/** What a command argument may be. */
export type RespArgument = string | Uint8Array | number;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// Strings up to this many UTF-16 units are written by a JavaScript loop while they are ASCII
// (a TextEncoder call and its view cost more for them).
const SHORT_STRING = 48;
// Room for the largest small piece: a short string's worst case (3 bytes a unit) and its header.
const STAGE_BYTES = SHORT_STRING * 3 + 16;
const CRLF = new Uint8Array([0x0d, 0x0a]);
// Bun's Buffer#utf8Write encodes at an offset of a view, with TextEncoder's bytes (U+FFFD for a
// lone surrogate) and never a partial character: a subarray of pool memory for encodeInto costs
// JavaScriptCore more than the encode of a 1 KiB string (bench/resp.ts SET 1 KiB on Bun, profiled:
// `subarray` 4.8% and `encodeInto` 2.7% of the client's samples; 1 KiB of ASCII into WebAssembly
// memory: utf8Write ~57 ns, encodeInto of a subarray ~121 ns). Node's and Deno's encodeInto are the faster there.
const utf8Write: ((this: Uint8Array, text: string, offset: number, length: number) => number) | undefined =
  "Bun" in globalThis
    ? (globalThis as unknown as {
      Buffer: { prototype: { utf8Write: (this: Uint8Array, text: string, offset: number, length: number) => number } };
    }).Buffer.prototype.utf8Write
    : undefined;

/**
 * Encodes commands into a writer's memory. Owns the writer between `commit`s: nobody else may
 * call its `getMemory`, `advance` or `flush` while bytes are written and not committed.
 */
export class CommandWriter {
  readonly #output: WritableChannel;
  // The span being filled: #view[0, #used) is written and not yet advanced. Spans are filled
  // to their last byte, so the blocks of a burst stay adjacent in memory and the socket gets
  // them in one write (bench/resp.ts: leaving block tails empty cost ~330 writes per 1 MB).
  #view: Uint8Array = EMPTY;
  #used = 0;
  // Where a small piece goes when the span has too little room left: staged here, then
  // copied across the span's end (#reserve / #done).
  readonly #stage = new Uint8Array(STAGE_BYTES);
  #staged = false;

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
    const view = this.#reserve(16);
    this.#done(view, writeHeader(view, this.#at(), 0x2a, argc));
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

  /**
   * Where to write up to `need` bytes (at most STAGE_BYTES): the span when it has room, else
   * the stage. Write from {@linkcode CommandWriter.#at}, then call {@linkcode CommandWriter.#done}.
   */
  #reserve(need: number): Uint8Array {
    if (this.#view.length - this.#used >= need) return this.#view;
    if (this.#view.length === this.#used) {
      this.#next();
      if (this.#view.length >= need) return this.#view;
    }
    this.#staged = true;
    return this.#stage;
  }

  /** Where the bytes of the last #reserve start in the view it returned. */
  #at(): number {
    return this.#staged ? 0 : this.#used;
  }

  /** The bytes of the last #reserve end at `end` in the view it returned. */
  #done(view: Uint8Array, end: number): void {
    if (!this.#staged) {
      this.#used = end;
      return;
    }
    this.#staged = false;
    this.#copy(view, 0, end);
  }

  /** Copies `bytes[from, to)` into the spans, filling each to its end. */
  #copy(bytes: Uint8Array, from: number, to: number): void {
    while (from < to) {
      if (this.#view.length === this.#used) this.#next();
      const count = Math.min(to - from, this.#view.length - this.#used);
      if (count <= 16) {
        const view = this.#view;
        let at = this.#used;
        for (let k = from; k < from + count; k++) view[at++] = bytes[k] as number;
      } else {
        this.#view.set(bytes.subarray(from, from + count), this.#used);
      }
      this.#used += count;
      from += count;
    }
  }

  /** Commits the full span and moves to fresh memory. */
  #next(): void {
    if (this.#used > 0) this.#output.advance(this.#used);
    this.#view = this.#output.getMemory(1);
    this.#used = 0;
  }

  #string(text: string): void {
    const length = text.length;
    if (length <= SHORT_STRING) {
      const view = this.#reserve(length * 3 + 16);
      const start = this.#at();
      // Optimistic: ASCII, so the byte length is the string's length.
      let at = writeHeader(view, start, 0x24, length);
      let k = 0;
      for (; k < length; k++) {
        const c = text.charCodeAt(k);
        if (c >= 0x80) break;
        view[at++] = c;
      }
      if (k < length) {
        at = writeHeader(view, start, 0x24, utf8Length(text));
        at += encoder.encodeInto(text, view.subarray(at)).written;
      }
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#done(view, at + 2);
      return;
    }
    // Encode after a header sized for the longest encoding, then close the gap if shorter:
    // into what the span has left when the text may fit; otherwise one native encode into
    // scratch memory gives the exact length (a JavaScript count costs far more: bench/resp.ts,
    // "SET 100 KiB") and the bytes are copied across spans, the one copy of this edge.
    const reserved = digits(length * 3) + 3;
    if (this.#view.length - this.#used - reserved - 2 >= length && this.#encodeAfter(text, reserved)) return;
    this.#bytes(encodeToScratch(text));
  }

  /**
   * Encodes all of `text` after `reserved` header bytes in the span, then writes the header
   * and CRLF; false (nothing committed) when the span is too short for it.
   */
  #encodeAfter(text: string, reserved: number): boolean {
    const view = this.#view;
    const start = this.#used;
    const room = view.length - 2 - start - reserved;
    let written = -1;
    if (utf8Write !== undefined) {
      const count = utf8Write.call(view, text, start + reserved, room);
      // Room for one more character (4 bytes at most) was left: every character was written.
      if (count + 4 <= room) written = count;
    }
    if (written < 0) {
      const result = encoder.encodeInto(text, view.subarray(start + reserved, view.length - 2));
      if (result.read !== text.length) return false;
      written = result.written;
    }
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
    if (n <= 16) {
      const view = this.#reserve(n + 16);
      let at = writeHeader(view, this.#at(), 0x24, n);
      for (let k = 0; k < n; k++) view[at++] = bytes[k] as number;
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#done(view, at + 2);
      return;
    }
    const view = this.#reserve(16);
    this.#done(view, writeHeader(view, this.#at(), 0x24, n));
    this.#copy(bytes, 0, n);
    this.#copy(CRLF, 0, 2);
  }

  #number(n: number): void {
    if (Number.isSafeInteger(n)) {
      const view = this.#reserve(40);
      const negative = n < 0;
      const magnitude = negative ? -n : n;
      const length = digits(magnitude) + (negative ? 1 : 0);
      let at = writeHeader(view, this.#at(), 0x24, length);
      if (negative) view[at] = 0x2d;
      at += length;
      writeDigitsBackwards(view, at, magnitude);
      view[at] = 0x0d;
      view[at + 1] = 0x0a;
      this.#done(view, at + 2);
      return;
    }
    // Floats and huge integers as JavaScript prints them (Redis parses both); infinities as Redis spells them.
    this.#string(n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n));
  }
}

// Scratch for encoding strings that do not fit a span, grown up to SCRATCH_MAX bytes; longer ones get an array of their own.
let scratch = new Uint8Array(0);
const SCRATCH_MAX = 3 * 1024 * 1024;

/** The UTF-8 bytes of a string: a view of shared scratch memory, valid until the next call. */
function encodeToScratch(text: string): Uint8Array {
  const max = text.length * 3;
  if (max > SCRATCH_MAX) return encoder.encode(text);
  if (scratch.length < max) scratch = new Uint8Array(Math.max(max, Math.min(SCRATCH_MAX, scratch.length * 2)));
  const { written } = encoder.encodeInto(text, scratch);
  return scratch.subarray(0, written);
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
