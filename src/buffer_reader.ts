/**
 * {@linkcode BufferReader}: a cursor for parsing a {@linkcode ReadableBuffer}, the seed's
 * ReadableBufferReader and .NET's SequenceReader.
 *
 * @module
 */

import { RunCursor } from "./_runs.ts";
import { asciiString as shortAsciiString } from "./_text.ts";
import { isIntegerIn, rangeError, typeError } from "./errors.ts";
import { type ReadableBuffer, walkRuns } from "./readable_buffer.ts";
import { Utf8Decoder } from "./utf8.ts";

/**
 * Reads bytes, integers and delimited runs from a {@linkcode ReadableBuffer} without copying.
 * A `try*` method that finds too few bytes returns `undefined` and leaves the reader where it
 * was. Slices it returns die with the buffer (at the channel reader's next `advanceTo`).
 *
 * @example Parsing length-prefixed records and reporting how far parsing got
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferReader, ReadableBuffer } from "@channels/channels";
 *
 * const buffer = ReadableBuffer.from([new Uint8Array([0, 2, 7]), new Uint8Array([9, 0, 5, 1])]);
 * const reader = new BufferReader(buffer);
 * const records: number[][] = [];
 * for (;;) {
 *   const start = reader.consumed;
 *   const length = reader.tryReadUint16BE();
 *   const body = length === undefined ? undefined : reader.tryReadExact(length);
 *   if (body === undefined) {
 *     reader.rewind(reader.consumed - start); // incomplete record: leave it for the next read
 *     break;
 *   }
 *   records.push([...body.toUint8Array()]);
 * }
 * assert.deepEqual(records, [[7, 9]]);
 * assert.equal(reader.consumed, 4); // pass as `consumed` to advanceTo
 * ```
 */
export class BufferReader {
  /** The buffer being read. */
  readonly buffer: ReadableBuffer;
  #position = 0;
  readonly #length: number;
  // What the last failed tryReadTo of a byte learned: no `#missDelimiter` at or after
  // #missFrom, so a retry with the same byte from there need not scan again. (Sequences are
  // not remembered: the caller may change an array's bytes between calls.)
  #missDelimiter: number | undefined;
  #missFrom = 0;
  // tryParseInt and tryReadString read where the bytes lie: #runs is a walk over the buffer
  // from offset #walkFrom, kept on the run where the last call ended (the next call usually
  // starts there). Made by the first call. One segment a run (no joining): a join would walk
  // every adjacent segment after the position, and a reader made per read of a growing buffer
  // would pay that each time.
  #runs: RunCursor | undefined;
  #walkFrom = 0;

  /**
   * Creates a reader at the start of `buffer`.
   *
   * @param buffer The buffer to read.
   */
  constructor(buffer: ReadableBuffer) {
    this.buffer = buffer;
    this.#length = buffer.length;
  }

  /** Bytes read (or skipped) so far. */
  get consumed(): number {
    return this.#position;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#length - this.#position;
  }

  /** True when every byte has been read. */
  get end(): boolean {
    return this.#position === this.#length;
  }

  /** The unread rest of the buffer. */
  get unread(): ReadableBuffer {
    return this.buffer.slice(this.#position);
  }

  /**
   * The next byte without moving, or `undefined` at the end.
   *
   * @param offset How far past the current position to look.
   * @returns The byte value, or `undefined`.
   */
  peek(offset?: number): number | undefined {
    if (offset === undefined) offset = 0;
    const at = this.#position + offset;
    return at >= 0 && at < this.#length ? this.buffer.at(at) : undefined;
  }

  /**
   * Reads one byte.
   *
   * @returns The byte value, or `undefined` at the end.
   */
  tryRead(): number | undefined {
    if (this.#position >= this.#length) return undefined;
    return this.buffer.at(this.#position++);
  }

  /**
   * Moves forward.
   *
   * @param count Bytes to skip, from 0 to `remaining`.
   * @throws {RangeError} When `count` is out of range.
   */
  advance(count: number): void {
    if (!isIntegerIn(count, 0, this.remaining)) {
      throw rangeError("advance the reader", `count must be an integer from 0 to ${this.remaining}`, count);
    }
    this.#position += count;
  }

  /**
   * Moves back.
   *
   * @param count Bytes to move back, from 0 to `consumed`.
   * @throws {RangeError} When `count` is out of range.
   */
  rewind(count: number): void {
    if (!isIntegerIn(count, 0, this.#position)) {
      throw rangeError("rewind the reader", `count must be an integer from 0 to ${this.#position}`, count);
    }
    this.#position -= count;
  }

  /**
   * Reads up to the first `delimiter`. A repeated call with the same byte after a miss
   * answers without scanning again. To resume a search across channel reads, pass the end
   * of this buffer as `examined` to `advanceTo`: the next read returns only when new bytes came.
   *
   * @param delimiter A byte or a byte sequence (may straddle segments).
   * @param advancePastDelimiter Whether to move past the delimiter too.
   * @returns The bytes before the delimiter, or `undefined` (reader unmoved) when absent.
   * @throws {RangeError} When `delimiter` is a number outside 0–255 or an empty sequence.
   */
  tryReadTo(delimiter: number | Uint8Array, advancePastDelimiter?: boolean): ReadableBuffer | undefined {
    if (advancePastDelimiter === undefined) advancePastDelimiter = true;
    let length: number;
    if (typeof delimiter === "number") {
      length = 1;
    } else if (delimiter instanceof Uint8Array) {
      length = delimiter.length;
      if (length === 0) throw rangeError("read to the delimiter", "the delimiter must not be empty", "0 bytes");
    } else {
      throw typeError("read to the delimiter", "the delimiter must be a number or a Uint8Array", delimiter);
    }
    // The buffer never changes under a reader, so a miss from here or later is still a miss.
    if (this.#missDelimiter === delimiter && this.#position >= this.#missFrom) return undefined;
    const found = this.buffer.indexOf(delimiter, this.#position);
    if (found < 0) {
      this.#missDelimiter = typeof delimiter === "number" ? delimiter : undefined;
      this.#missFrom = this.#position;
      return undefined;
    }
    const run = this.buffer.slice(this.#position, found);
    this.#position = advancePastDelimiter ? found + length : found;
    return run;
  }

  /**
   * Reads exactly `count` bytes.
   *
   * @param count Bytes to read (a non-negative integer).
   * @returns The bytes, or `undefined` (reader unmoved) when fewer remain.
   * @throws {RangeError} When `count` is negative or not an integer.
   */
  tryReadExact(count: number): ReadableBuffer | undefined {
    if (!isIntegerIn(count, 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("read the bytes", "count must be a non-negative integer", count);
    }
    if (count > this.remaining) return undefined;
    const run = this.buffer.slice(this.#position, this.#position + count);
    this.#position += count;
    return run;
  }

  /**
   * Parses an integer written in ASCII digits: decimal with an optional leading `-`, or hex
   * (`0-9`, `a-f`, `A-F`, no sign, no `0x`). Reads up to the first byte that is not a digit,
   * which stays unread; leading zeros are allowed. Nothing is read and the result is
   * `undefined` when no digit comes first (a `-` alone included), or when the digits (or a
   * `-`) reach the end of the buffer, as more digits may follow in a later read. The same
   * value as `parseInt` of the digits, `-0` for `-0` included. No string or view is made:
   * the digits are read where they lie, across any number of segments.
   *
   * @param radix 10 (the default) or 16.
   * @returns The value, or `undefined` (reader unmoved).
   * @throws {RangeError} When `radix` is neither 10 nor 16, or the magnitude of the digits
   * read so far exceeds `Number.MAX_SAFE_INTEGER` (2^53 - 1): `9007199254740991` and
   * `-9007199254740991` parse, `9007199254740992` throws, even when more digits may follow.
   * The reader does not move.
   *
   * @example Parsing a RESP integer reply across two reads' worth of segments
   * ```ts
   * import assert from "node:assert/strict";
   * import { BufferReader, ReadableBuffer } from "@channels/channels";
   *
   * const utf8 = new TextEncoder();
   * const reader = new BufferReader(ReadableBuffer.from([utf8.encode(":-12"), utf8.encode("34\r\n:5")]));
   * assert.equal(reader.tryRead(), 0x3a); // ":"
   * assert.equal(reader.tryParseInt(), -1234);
   * assert.equal(reader.isNext(utf8.encode("\r\n"), true), true);
   * assert.equal(reader.tryRead(), 0x3a);
   * assert.equal(reader.tryParseInt(), undefined); // "5" may go on: wait for more bytes
   * assert.equal(reader.remaining, 1);
   * assert.equal(new BufferReader(ReadableBuffer.from([utf8.encode("1F;")])).tryParseInt(16), 31);
   * ```
   */
  tryParseInt(radix?: 10 | 16): number | undefined {
    if (radix === undefined) radix = 10;
    let table: Int8Array;
    if (radix === 10) table = DECIMAL_VALUES;
    else if (radix === 16) table = HEX_VALUES;
    else throw rangeError("parse the integer", "radix must be 10 or 16", radix);
    const position = this.#position;
    const length = this.#length;
    if (position >= length) return undefined;
    const runs = this.#runAt(position);
    let bytes = runs.bytes;
    let at = runs.from + (position - this.#walkFrom - runs.offset);
    let to = runs.to;
    let sign = 0;
    if (radix === 10 && bytes[at] === 0x2d) {
      sign = 1;
      at++;
    }
    // No overflow test per digit: rounding is monotonic and 2^53 is a double, so a value
    // past Number.MAX_SAFE_INTEGER stays past it however many digits follow.
    let value = 0;
    let stop = length; // buffer offset after the digits: the end unless a non-digit stops them
    for (;;) {
      at = scanDigits(bytes, at, to, table, radix, value);
      value = scannedValue;
      if (at < to) {
        stop = this.#walkFrom + runs.offset + (at - runs.from);
        break;
      }
      if (!runs.next()) break; // the walk is over (a later call starts a new one)
      bytes = runs.bytes;
      at = runs.from;
      to = runs.to;
    }
    const digits = stop - position - sign;
    if (value > Number.MAX_SAFE_INTEGER) throw this.#unsafeInteger(position, stop - position, radix);
    if (digits === 0 || stop === length) return undefined; // no digit; or they reach the end: more may follow
    this.#position = position + sign + digits;
    return sign === 1 ? -value : value;
  }

  /**
   * Reads `byteCount` bytes as a string.
   *
   * - `"utf8"` decodes as `new TextDecoder("utf-8", { ignoreBOM: true })` does: each invalid
   *   sequence becomes U+FFFD, a leading U+FEFF is kept (the bytes are a field, not a file).
   *   A sequence cut off by `byteCount` is invalid: read whole characters.
   * - `"ascii"` accepts bytes 0x00–0x7F only, and throws on any other byte rather than
   *   guessing a charset (Latin-1 and windows-1252 differ there); read such bytes as `"utf8"`
   *   or as bytes (`tryReadExact`).
   *
   * @param byteCount Bytes to read (a non-negative integer).
   * @param encoding `"utf8"` (the default) or `"ascii"`.
   * @returns The string, or `undefined` (reader unmoved) when fewer than `byteCount` bytes remain.
   * @throws {RangeError} When `byteCount` is negative or not an integer.
   * @throws {TypeError} When `encoding` is neither `"utf8"` nor `"ascii"`; for `"ascii"`, when
   * a byte is 0x80 or above (the message names its offset in the buffer). The reader does not
   * move.
   *
   * @example Reading a RESP bulk string whose length comes first
   * ```ts
   * import assert from "node:assert/strict";
   * import { BufferReader, ReadableBuffer } from "@channels/channels";
   *
   * const utf8 = new TextEncoder();
   * const reader = new BufferReader(ReadableBuffer.from([utf8.encode("$6\r\nh\u00e9l"), utf8.encode("lo\r\n")]));
   * reader.advance(1); // "$"
   * const length = reader.tryParseInt();
   * assert.equal(length, 6);
   * reader.advance(2); // CRLF
   * assert.equal(reader.tryReadString(length), "h\u00e9llo");
   * assert.equal(reader.tryReadString(2, "ascii"), "\r\n");
   * assert.equal(reader.tryReadString(1), undefined);
   * ```
   */
  tryReadString(byteCount: number, encoding?: "ascii" | "utf8"): string | undefined {
    if (!isIntegerIn(byteCount, 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("read the string", "byteCount must be a non-negative integer", byteCount);
    }
    const ascii = encoding === "ascii";
    if (!ascii && encoding !== undefined && encoding !== "utf8") {
      throw typeError("read the string", 'encoding must be "utf8" or "ascii"', encoding);
    }
    if (byteCount > this.#length - this.#position) return undefined;
    if (byteCount === 0) return "";
    const position = this.#position;
    const runs = this.#runAt(position);
    const from = runs.from + (position - this.#walkFrom - runs.offset);
    let text: string | undefined;
    if (from + byteCount <= runs.to) {
      // One segment: build short ASCII in JavaScript, hand the rest to TextDecoder.
      const bytes = runs.bytes;
      const to = from + byteCount;
      if (ascii || byteCount <= SHORT_STRING_BYTES) text = asciiString(bytes, from, to);
      if (text === undefined) {
        if (ascii) throw this.#nonAscii(position + firstNonAscii(bytes, from, to) - from);
        text = fieldDecoder.decode(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
      }
    } else {
      const slice = this.buffer.slice(position, position + byteCount);
      if (ascii) {
        let at = position;
        for (const view of slice) {
          const bad = firstNonAscii(view, 0, view.length);
          if (bad < view.length) throw this.#nonAscii(at + bad);
          at += view.length;
        }
      }
      text = segmentsDecoder.decode(slice);
    }
    this.#position = position + byteCount;
    return text;
  }

  /**
   * Whether the next bytes are `value`.
   *
   * @param value A byte or a byte sequence.
   * @param advancePast Whether to move past them when they match.
   * @returns True on a match.
   */
  isNext(value: number | Uint8Array, advancePast?: boolean): boolean {
    if (advancePast === undefined) advancePast = false;
    let matched: boolean;
    let length: number;
    if (typeof value === "number") {
      matched = this.peek() === value;
      length = 1;
    } else {
      matched = this.buffer.startsWith(value, this.#position);
      length = value.length;
    }
    if (matched && advancePast) this.#position += length;
    return matched;
  }

  /**
   * Skips every consecutive `value` byte.
   *
   * @param value The byte to skip.
   * @returns How many bytes were skipped.
   */
  advancePast(value: number): number {
    const start = this.#position;
    while (this.#position < this.#length && this.buffer.at(this.#position) === value) this.#position++;
    return this.#position - start;
  }

  /** Reads a big-endian unsigned 16-bit integer, or `undefined` when fewer than 2 bytes remain. */
  tryReadUint16BE(): number | undefined {
    return this.#readUnsigned(2, false);
  }

  /** Reads a little-endian unsigned 16-bit integer, or `undefined` when fewer than 2 bytes remain. */
  tryReadUint16LE(): number | undefined {
    return this.#readUnsigned(2, true);
  }

  /** Reads a big-endian signed 16-bit integer, or `undefined` when fewer than 2 bytes remain. */
  tryReadInt16BE(): number | undefined {
    const v = this.#readUnsigned(2, false);
    return v === undefined ? undefined : (v << 16) >> 16;
  }

  /** Reads a little-endian signed 16-bit integer, or `undefined` when fewer than 2 bytes remain. */
  tryReadInt16LE(): number | undefined {
    const v = this.#readUnsigned(2, true);
    return v === undefined ? undefined : (v << 16) >> 16;
  }

  /** Reads a big-endian unsigned 32-bit integer, or `undefined` when fewer than 4 bytes remain. */
  tryReadUint32BE(): number | undefined {
    return this.#readUnsigned(4, false);
  }

  /** Reads a little-endian unsigned 32-bit integer, or `undefined` when fewer than 4 bytes remain. */
  tryReadUint32LE(): number | undefined {
    return this.#readUnsigned(4, true);
  }

  /** Reads a big-endian signed 32-bit integer, or `undefined` when fewer than 4 bytes remain. */
  tryReadInt32BE(): number | undefined {
    const v = this.#readUnsigned(4, false);
    return v === undefined ? undefined : v | 0;
  }

  /** Reads a little-endian signed 32-bit integer, or `undefined` when fewer than 4 bytes remain. */
  tryReadInt32LE(): number | undefined {
    const v = this.#readUnsigned(4, true);
    return v === undefined ? undefined : v | 0;
  }

  /** Reads a big-endian unsigned 64-bit integer, or `undefined` when fewer than 8 bytes remain. */
  tryReadBigUint64BE(): bigint | undefined {
    return this.#readBig(false, false);
  }

  /** Reads a little-endian unsigned 64-bit integer, or `undefined` when fewer than 8 bytes remain. */
  tryReadBigUint64LE(): bigint | undefined {
    return this.#readBig(true, false);
  }

  /** Reads a big-endian signed 64-bit integer, or `undefined` when fewer than 8 bytes remain. */
  tryReadBigInt64BE(): bigint | undefined {
    return this.#readBig(false, true);
  }

  /** Reads a little-endian signed 64-bit integer, or `undefined` when fewer than 8 bytes remain. */
  tryReadBigInt64LE(): bigint | undefined {
    return this.#readBig(true, true);
  }

  /**
   * #runs on the run that holds buffer offset `position` (below the length): the current run
   * (the usual case), the next one, or else a new walk from `position` (a rewind, a long skip,
   * the first call, or a walk that ended).
   */
  #runAt(position: number): RunCursor {
    let runs = this.#runs;
    if (runs === undefined) runs = this.#runs = new RunCursor();
    const at = position - this.#walkFrom;
    if (at >= runs.offset) {
      if (at < runs.offset + (runs.to - runs.from)) return runs;
      if (runs.next() && at < runs.offset + (runs.to - runs.from)) return runs;
    }
    this.#walkFrom = position;
    walkRuns(this.buffer, runs, position, this.#length, false);
    runs.next();
    return runs;
  }

  #unsafeInteger(position: number, count: number, radix: number): RangeError {
    let text = "";
    for (let k = 0; k < Math.min(count, 40); k++) text += String.fromCharCode(this.buffer.at(position + k));
    if (count > 40) text += "…";
    return rangeError(
      `parse the ${radix === 16 ? "hex " : ""}integer at offset ${position}`,
      `its magnitude must be at most Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER.toString(radix)})`,
      text,
    );
  }

  #nonAscii(offset: number): TypeError {
    return typeError(
      `read the ASCII string at offset ${offset}`,
      "every byte must be from 0x00 to 0x7f",
      `0x${this.buffer.at(offset).toString(16)}`,
    );
  }

  #readUnsigned(size: 2 | 4, littleEndian: boolean): number | undefined {
    if (this.#length - this.#position < size) return undefined;
    const buffer = this.buffer;
    let value = 0;
    for (let i = 0; i < size; i++) {
      const byte = buffer.at(this.#position + (littleEndian ? size - 1 - i : i));
      value = value * 256 + byte;
    }
    this.#position += size;
    return value;
  }

  #readBig(littleEndian: boolean, signed: boolean): bigint | undefined {
    if (this.#length - this.#position < 8) return undefined;
    const hi = this.#readUnsigned(4, littleEndian) as number;
    const lo = this.#readUnsigned(4, littleEndian) as number;
    const value = littleEndian ? (BigInt(lo) << 32n) | BigInt(hi) : (BigInt(hi) << 32n) | BigInt(lo);
    return signed ? BigInt.asIntN(64, value) : value;
  }
}

// A digit's value by byte, -1 for any other byte (one load and one test a digit).
const DECIMAL_VALUES = /* @__PURE__ */ digitTable(false);
const HEX_VALUES = /* @__PURE__ */ digitTable(true);

function digitTable(hex: boolean): Int8Array {
  const table = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) table[0x30 + c] = c;
  if (hex) { for (let c = 0; c < 6; c++) table[0x41 + c] = table[0x61 + c] = 10 + c; }
  return table;
}

// bench/text_primitives.ts, "tryReadString" rows (÷ TextDecoder.decode of a subarray): ASCII
// up to this many bytes in one segment becomes a string in JavaScript (String.fromCharCode of
// the bytes) instead of a TextDecoder call. The loop wins at 8 bytes everywhere (1.0–2.1×); at
// 32 only on Deno, whose TextDecoder call costs most (1.6×, against 0.6–0.8× on Bun and Node),
// as src/utf8.ts found too.
const SHORT_STRING_BYTES = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? 32 : 8;
// Decodes a run in one segment: U+FFFD for bad sequences, a leading U+FEFF kept.
const fieldDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
// The same for bytes over several segments (each call a whole stream).
const segmentsDecoder = new Utf8Decoder({ ignoreBOM: true });

// The value scanDigits reached (a second result without an object).
let scannedValue = 0;

/**
 * Folds the digits of `bytes[at, to)` into `value` up to the first non-digit, and returns
 * its index (`to` when all are digits); the value goes to `scannedValue`.
 */
function scanDigits(bytes: Uint8Array, at: number, to: number, table: Int8Array, radix: number, value: number): number {
  while (at < to) {
    const d = table[bytes[at] as number] as number;
    if (d < 0) break;
    value = value * radix + d;
    at++;
  }
  scannedValue = value;
  return at;
}

/** The string of `bytes[from, to)` when every byte is ASCII, else `undefined`. */
function asciiString(bytes: Uint8Array, from: number, to: number): string | undefined {
  const n = to - from;
  if (n > SHORT_STRING_BYTES) {
    if (firstNonAscii(bytes, from, to) < to) return undefined;
    return fieldDecoder.decode(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
  }
  return shortAsciiString(bytes, from, to);
}

/** Index of the first byte of `bytes[from, to)` that is 0x80 or above, or `to`. */
function firstNonAscii(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if ((bytes[i] as number) >= 0x80) return i;
  return to;
}
