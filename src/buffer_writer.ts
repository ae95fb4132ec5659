/**
 * {@linkcode BufferWriter}: formats text, integers and bytes straight into a channel writer's
 * pool memory, the seed's BufferWriter and .NET's `BufferWriter<T>` over a PipeWriter.
 *
 * | method | copies? |
 * | --- | --- |
 * | `writeInt`, `writeUint*`, `writeBigUint64*` | none: digits and bytes are stored in pool memory |
 * | `writeAscii`, `writeUtf8` | none: the string's characters are encoded into pool memory |
 * | `writeBytes` | once, into pool memory |
 *
 * @module
 */

import { rangeError, typeError } from "./errors.ts";
import { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

const EMPTY = new Uint8Array(0);
// Where a value that does not fit the rest of the span is formatted first, then copied
// across the span boundary: 17 bytes hold a safe integer's sign and 16 digits.
const scratch = new Uint8Array(32);
const HEX_DIGITS = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
const encoder = new TextEncoder();
// bench/text_primitives.ts, "writeUtf8" rows (÷ encodeInto into a subarray): strings up to
// this many UTF-16 units are encoded by a JavaScript loop, longer ones by encodeInto (a view
// per span). The loop wins at 8 units everywhere (1.5–3.6×); at 32 only on Deno (1.1×,
// against 0.5–0.9× on Node and Bun).
const SHORT_UTF8_UNITS = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? 32 : 8;
const TWO_32 = 4294967296;

/**
 * Formats values into a {@linkcode WritableChannel}'s memory: the writer keeps the current
 * `getMemory` view (the span) and a position in it, so a small write is a few stores; it
 * calls `advance` only when the span is full (then asks `getMemory` for more) and at
 * {@linkcode BufferWriter.commit}. A value that does not fit the rest of a span continues in
 * the next one (a number's digits and a character's UTF-8 bytes too): the bytes in the
 * channel are always exactly the values' encodings, in order.
 *
 * Lifetime: between a first write and `commit()`, the writer holds a view from the channel
 * writer's `getMemory`, which the channel writer's own `getMemory`, `advance`, `flush`,
 * `write` or `complete` would invalidate: do not call them then (the bytes written since the
 * last span change would be lost, and `commit()` would throw the channel's `ChannelStateError` `NO_MEMORY_TO_ADVANCE`).
 * `commit()` advances what was written and lets go of the view; after it, flush (or use the
 * channel writer) freely, and write again through this writer later: it asks for memory
 * anew. Bytes are in the channel only once advanced: when a span fills, or at `commit()`.
 *
 * @example Formatting a RESP command, then flushing it
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferWriter, Channel } from "@channels/channels";
 *
 * const channel = new Channel();
 * const out = new BufferWriter(channel.writer);
 * const args = ["SET", "greeting", "h\u00e9llo"];
 * out.writeAscii("*");
 * out.writeInt(args.length);
 * out.writeAscii("\r\n");
 * for (const arg of args) {
 *   out.writeAscii("$");
 *   out.writeInt(new TextEncoder().encode(arg).length);
 *   out.writeAscii("\r\n");
 *   out.writeUtf8(arg);
 *   out.writeAscii("\r\n");
 * }
 * out.commit();
 * await channel.writer.flush();
 *
 * const { buffer } = await channel.reader.read();
 * assert.equal(
 *   new TextDecoder().decode(buffer.toUint8Array()),
 *   "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$6\r\nh\u00e9llo\r\n",
 * );
 * channel.reader.advanceTo(buffer.length);
 * ```
 *
 * @example Binary headers, hex, and what is committed
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferWriter, Channel } from "@channels/channels";
 *
 * const channel = new Channel();
 * const out = new BufferWriter(channel.writer);
 * out.writeUint16BE(0x0102);
 * out.writeUint32LE(0x03040506);
 * out.writeInt(255, 16);
 * assert.equal(out.uncommitted, 8);
 * out.commit();
 * assert.equal(out.uncommitted, 0);
 * assert.equal(out.bytesWritten, 8);
 * await channel.writer.flush();
 * const { buffer } = await channel.reader.read();
 * assert.deepEqual([...buffer.toUint8Array()], [1, 2, 6, 5, 4, 3, 0x66, 0x66]);
 * ```
 */
export class BufferWriter {
  /** The channel writer this writer formats into. */
  readonly writer: WritableChannel;
  // The last getMemory view (EMPTY when none is held: before the first write, after commit).
  #span: Uint8Array = EMPTY;
  // Bytes written into #span and not yet advanced: always from #span[0], as each span is
  // advanced whole when it fills, and dropped at commit.
  #position = 0;
  // Bytes advanced into the channel by this writer.
  #advanced = 0;

  /**
   * Creates a writer over `writer`; it asks for memory only once something is written.
   *
   * @param writer The channel writer (a `Channel`'s `writer`, or any {@linkcode WritableChannel}).
   * @throws {TypeError} When `writer` has no `getMemory` and `advance` methods.
   */
  constructor(writer: WritableChannel) {
    if (
      typeof writer !== "object" || writer === null || typeof writer.getMemory !== "function" ||
      typeof writer.advance !== "function"
    ) {
      throw typeError("create the buffer writer", "writer must be a WritableChannel", writer);
    }
    this.writer = writer;
  }

  /** Bytes written since the last `commit()` that are not yet advanced into the channel. */
  get uncommitted(): number {
    return this.#position;
  }

  /** Bytes written through this writer in all, committed or not. */
  get bytesWritten(): number {
    return this.#advanced + this.#position;
  }

  /**
   * Advances the channel writer past every byte written, and lets go of the memory view:
   * the caller may now flush. Cheap when nothing was written.
   */
  commit(): void {
    const n = this.#position;
    this.#span = EMPTY;
    this.#position = 0;
    if (n > 0) {
      this.writer.advance(n);
      this.#advanced += n;
    }
  }

  /**
   * Writes `text`, each character as one byte.
   *
   * @param text Characters U+0000 to U+007F only.
   * @throws {TypeError} When `text` is not a string, or has a character above U+007F (the
   * message names its index); nothing is written then.
   */
  writeAscii(text: string): void {
    if (typeof text !== "string") throw typeError("write ASCII", "text must be a string", text);
    const n = text.length;
    const span = this.#span;
    const at = this.#position;
    if (n <= span.length - at) {
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) throw nonAscii(text, i);
        span[at + i] = c;
      }
      this.#position = at + n;
      return;
    }
    for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 0x7f) throw nonAscii(text, i);
    let i = 0;
    while (i < n) {
      if (this.#position === this.#span.length) this.#nextSpan();
      const target = this.#span;
      let p = this.#position;
      const stop = Math.min(n, i + target.length - p);
      while (i < stop) target[p++] = text.charCodeAt(i++);
      this.#position = p;
    }
  }

  /**
   * Writes `text` as UTF-8, exactly the bytes `TextEncoder` gives: a lone surrogate becomes
   * U+FFFD (EF BF BD); a character whose bytes do not fit the rest of a span continues in
   * the next.
   *
   * @param text Any string.
   * @throws {TypeError} When `text` is not a string.
   */
  writeUtf8(text: string): void {
    if (typeof text !== "string") throw typeError("write UTF-8", "text must be a string", text);
    const n = text.length;
    let i = 0;
    if (n > SHORT_UTF8_UNITS) {
      // Long: TextEncoder fills each span, and a character it left for lack of room goes
      // through the scratch bytes.
      while (i < n) {
        const span = this.#span;
        const at = this.#position;
        if (span.length - at < 4) {
          i = this.#spillCodePoint(text, i);
          continue;
        }
        const { read, written } = encoder.encodeInto(
          i === 0 ? text : text.substring(i),
          at === 0 ? span : span.subarray(at),
        );
        i += read;
        this.#position = at + written;
      }
      return;
    }
    while (i < n) {
      const room = this.#span.length - this.#position;
      if (room < 4) {
        i = this.#spillCodePoint(text, i);
        continue;
      }
      // Each UTF-16 unit takes at most 3 bytes; a pair that starts at the limit takes 4 for
      // 2 units, one more than the limit allowed for: hence room - 1.
      const limit = Math.min(n, i + Math.floor((room - 1) / 3));
      this.#position = encodeUtf8(text, i, limit, n, this.#span, this.#position);
      i = encodedUpTo;
    }
  }

  /**
   * Writes the digits of `n`: decimal with a leading `-` when negative, or lowercase hex
   * (a `-` too), as `n.toString(radix)` gives them, without making the string.
   *
   * @param n A safe integer (`Number.isSafeInteger`).
   * @param radix 10 (the default) or 16.
   * @throws {TypeError} When `n` is not a number.
   * @throws {RangeError} When `n` is not a safe integer (`NaN`, infinite, fractional, or
   * beyond ±(2^53 - 1)), or `radix` is neither 10 nor 16.
   */
  writeInt(n: number, radix?: 10 | 16): void {
    if (radix === undefined) radix = 10;
    // An int32 needs no further test (Number.isSafeInteger is a call on JavaScriptCore).
    if ((n | 0) !== n && !Number.isSafeInteger(n)) {
      if (typeof n !== "number") throw typeError("write the integer", "n must be a number", n);
      throw rangeError("write the integer", "n must be a safe integer", n);
    }
    const negative = n < 0;
    const v = negative ? -n : n;
    let length: number;
    if (radix === 10) {
      length = decimalLength(v);
    } else if (radix === 16) {
      length = hexLength(v);
    } else {
      throw rangeError("write the integer", "radix must be 10 or 16", radix);
    }
    if (negative) length++;
    let target = this.#span;
    let start = this.#position;
    const fits = target.length - start >= length;
    if (!fits) {
      target = scratch;
      start = 0;
    }
    if (negative) target[start] = 0x2d;
    if (radix === 10) writeDecimal(target, start + length, v);
    else writeHex(target, start + length, v);
    if (fits) this.#position = start + length;
    else this.#spill(scratch, length);
  }

  /**
   * Copies bytes.
   *
   * @param bytes A `Uint8Array`, or a `ReadableBuffer` (each of its segments copied).
   * @throws {TypeError} When `bytes` is neither.
   */
  writeBytes(bytes: Uint8Array | ReadableBuffer): void {
    if (bytes instanceof Uint8Array) {
      this.#copy(bytes);
    } else if (bytes instanceof ReadableBuffer) {
      for (const view of bytes) this.#copy(view);
    } else {
      throw typeError("write the bytes", "bytes must be a Uint8Array or a ReadableBuffer", bytes);
    }
  }

  /**
   * Writes one byte.
   *
   * @param value An integer from 0 to 255.
   * @throws {RangeError} When `value` is not an integer in range.
   */
  writeUint8(value: number): void {
    if ((value & 0xff) !== value) throw badUint("write the byte", value, "255");
    if (this.#position === this.#span.length) this.#nextSpan();
    this.#span[this.#position++] = value;
  }

  /**
   * Writes an unsigned 16-bit integer, big-endian.
   *
   * @param value An integer from 0 to 65535.
   * @throws {RangeError} When `value` is not an integer in range.
   */
  writeUint16BE(value: number): void {
    if ((value & 0xffff) !== value) throw badUint("write the 16-bit integer", value, "65535");
    this.#fixed(2, value, 0, false);
  }

  /**
   * Writes an unsigned 16-bit integer, little-endian.
   *
   * @param value An integer from 0 to 65535.
   * @throws {RangeError} When `value` is not an integer in range.
   */
  writeUint16LE(value: number): void {
    if ((value & 0xffff) !== value) throw badUint("write the 16-bit integer", value, "65535");
    this.#fixed(2, value, 0, true);
  }

  /**
   * Writes an unsigned 32-bit integer, big-endian.
   *
   * @param value An integer from 0 to 4294967295.
   * @throws {RangeError} When `value` is not an integer in range.
   */
  writeUint32BE(value: number): void {
    if (value >>> 0 !== value) throw badUint("write the 32-bit integer", value, "4294967295");
    this.#fixed(4, value, 0, false);
  }

  /**
   * Writes an unsigned 32-bit integer, little-endian.
   *
   * @param value An integer from 0 to 4294967295.
   * @throws {RangeError} When `value` is not an integer in range.
   */
  writeUint32LE(value: number): void {
    if (value >>> 0 !== value) throw badUint("write the 32-bit integer", value, "4294967295");
    this.#fixed(4, value, 0, true);
  }

  /**
   * Writes an unsigned 64-bit integer, big-endian.
   *
   * @param value A bigint from 0n to 2n ** 64n - 1n.
   * @throws {TypeError} When `value` is not a bigint.
   * @throws {RangeError} When `value` is out of range.
   */
  writeBigUint64BE(value: bigint): void {
    checkBigUint64(value);
    this.#fixed(8, Number(value & 0xffffffffn), Number(value >> 32n), false);
  }

  /**
   * Writes an unsigned 64-bit integer, little-endian.
   *
   * @param value A bigint from 0n to 2n ** 64n - 1n.
   * @throws {TypeError} When `value` is not a bigint.
   * @throws {RangeError} When `value` is out of range.
   */
  writeBigUint64LE(value: bigint): void {
    checkBigUint64(value);
    this.#fixed(8, Number(value & 0xffffffffn), Number(value >> 32n), true);
  }

  /** Advances the full span and takes the next one from the channel writer. */
  #nextSpan(): void {
    const n = this.#position;
    if (n > 0) {
      this.#position = 0;
      this.#span = EMPTY; // in case advance or getMemory throws
      this.writer.advance(n);
      this.#advanced += n;
    }
    this.#span = this.writer.getMemory();
  }

  /** Copies `bytes`, continuing in new spans as they fill. */
  #copy(bytes: Uint8Array): void {
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      if (this.#position === this.#span.length) this.#nextSpan();
      const span = this.#span;
      const at = this.#position;
      const k = Math.min(n - i, span.length - at);
      if (k <= 16) {
        for (let j = 0; j < k; j++) span[at + j] = bytes[i + j] as number;
      } else {
        span.set(k === n ? bytes : bytes.subarray(i, i + k), at);
      }
      i += k;
      this.#position = at + k;
    }
  }

  /** Copies `bytes[0, n)` from the scratch bytes (n ≤ 32) across span boundaries. */
  #spill(bytes: Uint8Array, n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.#position === this.#span.length) this.#nextSpan();
      this.#span[this.#position++] = bytes[i] as number;
    }
  }

  /** Writes the code point at `text[i]` (through the scratch bytes) and returns the next index. */
  #spillCodePoint(text: string, i: number): number {
    const n = encodeUtf8(text, i, i + 1, text.length, scratch, 0);
    this.#spill(scratch, n);
    return encodedUpTo;
  }

  /** Writes `size` bytes of the integer `high * 2^32 + low` (`high` only for 8 bytes). */
  #fixed(size: 2 | 4 | 8, low: number, high: number, littleEndian: boolean): void {
    let target = this.#span;
    let at = this.#position;
    const fits = target.length - at >= size;
    if (!fits) {
      target = scratch;
      at = 0;
    }
    if (littleEndian) {
      target[at] = low;
      target[at + 1] = low >>> 8;
      if (size > 2) {
        target[at + 2] = low >>> 16;
        target[at + 3] = low >>> 24;
        if (size > 4) {
          target[at + 4] = high;
          target[at + 5] = high >>> 8;
          target[at + 6] = high >>> 16;
          target[at + 7] = high >>> 24;
        }
      }
    } else {
      let p = at + size;
      target[--p] = low;
      target[--p] = low >>> 8;
      if (size > 2) {
        target[--p] = low >>> 16;
        target[--p] = low >>> 24;
        if (size > 4) {
          target[--p] = high;
          target[--p] = high >>> 8;
          target[--p] = high >>> 16;
          target[--p] = high >>> 24;
        }
      }
    }
    if (fits) this.#position = at + size;
    else this.#spill(scratch, size);
  }
}

// The index after the last unit encodeUtf8 consumed (a second result without an object).
let encodedUpTo = 0;

/**
 * Encodes `text[i, limit)` as UTF-8 into `target` from `at`, and returns the position after
 * the last byte (the index after the last unit read goes to `encodedUpTo`). A high surrogate
 * at `limit - 1` takes its low surrogate along (looking as far as `n`); lone surrogates
 * become U+FFFD, as in TextEncoder. `target` must have room: 3 bytes a unit, plus one.
 */
function encodeUtf8(text: string, i: number, limit: number, n: number, target: Uint8Array, at: number): number {
  while (i < limit) {
    const c = text.charCodeAt(i++);
    if (c < 0x80) {
      target[at++] = c;
    } else if (c < 0x800) {
      target[at++] = 0xc0 | (c >> 6);
      target[at++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      target[at++] = 0xe0 | (c >> 12);
      target[at++] = 0x80 | ((c >> 6) & 0x3f);
      target[at++] = 0x80 | (c & 0x3f);
    } else {
      const d = c <= 0xdbff && i < n ? text.charCodeAt(i) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        target[at++] = 0xf0 | (cp >> 18);
        target[at++] = 0x80 | ((cp >> 12) & 0x3f);
        target[at++] = 0x80 | ((cp >> 6) & 0x3f);
        target[at++] = 0x80 | (cp & 0x3f);
      } else {
        target[at++] = 0xef;
        target[at++] = 0xbf;
        target[at++] = 0xbd;
      }
    }
  }
  encodedUpTo = i;
  return at;
}

// "00" to "99": two digits a division (bench/text_primitives.ts, "write" rows).
const DIGIT_PAIRS = /* @__PURE__ */ (() => {
  const pairs = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    pairs[2 * i] = 0x30 + ((i / 10) | 0);
    pairs[2 * i + 1] = 0x30 + (i % 10);
  }
  return pairs;
})();

/** Writes the decimal digits of `v` (a safe non-negative integer) so they end before `end`. */
function writeDecimal(target: Uint8Array, end: number, v: number): void {
  if (v > 0x7fffffff) {
    // Below 2^53, so the high part is below 2^31: int arithmetic on both halves. Math.floor,
    // not %: a double % is a library call on V8.
    const high = Math.floor(v / 100000000);
    let low = v - high * 100000000;
    for (let k = 0; k < 4; k++) {
      const q = (low / 100) | 0;
      const r = (low - q * 100) << 1;
      target[--end] = DIGIT_PAIRS[r + 1] as number;
      target[--end] = DIGIT_PAIRS[r] as number;
      low = q;
    }
    v = high;
  }
  while (v >= 100) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) << 1;
    target[--end] = DIGIT_PAIRS[r + 1] as number;
    target[--end] = DIGIT_PAIRS[r] as number;
    v = q;
  }
  if (v >= 10) {
    const r = v << 1;
    target[--end] = DIGIT_PAIRS[r + 1] as number;
    target[--end] = DIGIT_PAIRS[r] as number;
  } else {
    target[--end] = 0x30 + v;
  }
}

/** Writes the lowercase hex digits of `v` (a safe non-negative integer) so they end before `end`. */
function writeHex(target: Uint8Array, end: number, v: number): void {
  let low = v >>> 0;
  const high = (v - low) / TWO_32;
  if (high !== 0) {
    for (let k = 0; k < 8; k++) {
      target[--end] = HEX_DIGITS[low & 15] as number;
      low >>>= 4;
    }
    low = high;
  }
  do {
    target[--end] = HEX_DIGITS[low & 15] as number;
    low >>>= 4;
  } while (low !== 0);
}

/** Digits of `v` (a safe non-negative integer) in decimal. */
function decimalLength(v: number): number {
  if (v < 100000000) {
    if (v < 10000) return v < 100 ? (v < 10 ? 1 : 2) : (v < 1000 ? 3 : 4);
    return v < 1000000 ? (v < 100000 ? 5 : 6) : (v < 10000000 ? 7 : 8);
  }
  let length = 9;
  for (let p = 1000000000; v >= p; p *= 10) length++;
  return length;
}

/** Digits of `v` (a safe non-negative integer) in hex. */
function hexLength(v: number): number {
  const high = Math.floor(v / TWO_32);
  if (high !== 0) return 8 + ((35 - Math.clz32(high)) >> 2);
  return v === 0 ? 1 : (35 - Math.clz32(v)) >> 2;
}

function nonAscii(text: string, index: number): TypeError {
  return typeError(
    `write ASCII at index ${index}`,
    "every character must be from U+0000 to U+007F",
    `U+${text.charCodeAt(index).toString(16).toUpperCase().padStart(4, "0")}`,
  );
}

function badUint(what: string, value: unknown, max: string): Error {
  if (typeof value !== "number") return typeError(what, "value must be a number", value);
  return rangeError(what, `value must be an integer from 0 to ${max}`, value);
}

function checkBigUint64(value: unknown): void {
  if (typeof value !== "bigint") throw typeError("write the 64-bit integer", "value must be a bigint", value);
  if (BigInt.asUintN(64, value) !== value) {
    throw rangeError("write the 64-bit integer", "value must be from 0n to 18446744073709551615n", value);
  }
}
