/**
 * {@linkcode BufferReader}: a cursor for parsing a {@linkcode ReadableBuffer}, the seed's
 * ReadableBufferReader and .NET's SequenceReader.
 *
 * @module
 */

import { isIntegerIn, rangeError, typeError } from "./errors.ts";
import type { ReadableBuffer } from "./readable_buffer.ts";

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
