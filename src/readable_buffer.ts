/**
 * {@linkcode ReadableBuffer}: a read-only view of bytes spread over one or more segments of
 * pool memory, the seed's ReadableBuffer and .NET's ReadOnlySequence.
 *
 * | method | copies? |
 * | --- | --- |
 * | `first`, `[Symbol.iterator]`, `slice`, `at`, `indexOf`, `startsWith` | no: views of pool memory |
 * | `toUint8Array` | yes: a new array |
 * | `copyTo` | yes: into the caller's array |
 *
 * Lifetime: a buffer from a read, every slice of it and every `Uint8Array` view it yields die
 * at the reader's next `advanceTo` (or `complete`). Their memory goes back to the pool and is
 * reused; copy what must outlive that (`toUint8Array`).
 *
 * @module
 */

import { RunCursor } from "./_runs.ts";
import { BufferSegment } from "./_segment.ts";
import { memchr } from "./_wasm/memchr.ts";
import { isIntegerIn, rangeError, typeError } from "./errors.ts";

const EMPTY = new Uint8Array(0);

let retarget: (
  buffer: ReadableBuffer,
  segments: readonly BufferSegment[],
  first: number,
  last: number,
  start: number,
  end: number,
) => void;
let startWalk: (buffer: ReadableBuffer, cursor: RunCursor, from: number, to: number, join: boolean) => RunCursor;
let rangeOf: (buffer: ReadableBuffer, into: BufferRange) => BufferRange;

/**
 * Bytes spread over segments, read without copying. Positions (`slice`, `at`, `indexOf`) are
 * byte offsets from the start of this buffer; finding the segment of a position is
 * arithmetic on each segment's running index (a binary search with a cached hint), never a
 * walk from the first segment.
 *
 * @example Finding a line that straddles two segments
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadableBuffer } from "@channels/channels";
 *
 * const utf8 = new TextEncoder();
 * const buffer = ReadableBuffer.from([utf8.encode("GET / HT"), utf8.encode("TP/1.1\r\nHost")]);
 * const end = buffer.indexOf(utf8.encode("\r\n"));
 * assert.equal(end, 14);
 * assert.equal(new TextDecoder().decode(buffer.slice(0, end).toUint8Array()), "GET / HTTP/1.1");
 * assert.equal(buffer.isSingleSegment, false);
 * ```
 */
export class ReadableBuffer {
  // Invariants: #start <= #end are stream positions; when #end > #start, #segments[#first]
  // holds position #start and #segments[#last] holds position #end - 1. #hint is the index of
  // the segment the last lookup landed in (lookups are mostly sequential).
  #segments: readonly BufferSegment[];
  #first: number;
  #last: number;
  #start: number;
  #end: number;
  #hint: number;

  static {
    retarget = (buffer, segments, first, last, start, end) => {
      buffer.#segments = segments;
      buffer.#first = first;
      buffer.#last = last;
      buffer.#start = start;
      buffer.#end = end;
      buffer.#hint = first;
    };
    rangeOf = (buffer, into) => {
      into.segments = buffer.#segments;
      into.first = buffer.#first;
      into.last = buffer.#last;
      into.start = buffer.#start;
      into.end = buffer.#end;
      return into;
    };
    startWalk = (buffer, cursor, from, to, join) => {
      const start = buffer.#start + from;
      const end = buffer.#start + to;
      if (end <= start) return cursor.reset(buffer.#segments, buffer.#first, buffer.#first, start, start);
      return cursor.reset(buffer.#segments, buffer.#locate(start), buffer.#last, start, end, join);
    };
  }

  /**
   * Internal: buffers come from reads, {@linkcode ReadableBuffer.from} and `slice`.
   *
   * @param segments The segments (shared, not copied).
   * @param first Index of the segment that holds `start`.
   * @param last Index of the segment that holds `end - 1`.
   * @param start Stream position of the first byte.
   * @param end Stream position after the last byte.
   */
  constructor(segments: readonly BufferSegment[], first: number, last: number, start: number, end: number) {
    this.#segments = segments;
    this.#first = first;
    this.#last = last;
    this.#start = start;
    this.#end = end;
    this.#hint = first;
  }

  /**
   * A buffer over caller-owned arrays, in order, without copying them. Handy for parsers
   * and tests; searches over it use the runtime's `indexOf` (the arrays are not pool memory).
   *
   * @param chunks The arrays; empty ones are skipped.
   * @returns A buffer whose segments are views of `chunks`.
   * @throws {TypeError} When a chunk is not a `Uint8Array`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ReadableBuffer } from "@channels/channels";
   *
   * const buffer = ReadableBuffer.from([new Uint8Array([1, 2]), new Uint8Array([3])]);
   * assert.equal(buffer.length, 3);
   * assert.deepEqual([...buffer], [new Uint8Array([1, 2]), new Uint8Array([3])]);
   * ```
   */
  static from(chunks: Iterable<Uint8Array>): ReadableBuffer {
    const segments: BufferSegment[] = [];
    let position = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) {
        throw typeError("create a buffer", "every chunk must be a Uint8Array", chunk);
      }
      if (chunk.length === 0) continue;
      segments.push(new BufferSegment(null, chunk, chunk.length, position));
      position += chunk.length;
    }
    return new ReadableBuffer(segments, 0, Math.max(0, segments.length - 1), 0, position);
  }

  /** Bytes in the buffer. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** True when the buffer holds no bytes. */
  get isEmpty(): boolean {
    return this.#end === this.#start;
  }

  /** True when all bytes lie in one segment, so `first` is the whole buffer. */
  get isSingleSegment(): boolean {
    return this.#first === this.#last || this.#end === this.#start;
  }

  /** A view of the bytes in the first segment (all of them when `isSingleSegment`). */
  get first(): Uint8Array {
    if (this.#end === this.#start) return EMPTY;
    const seg = this.#segments[this.#first] as BufferSegment;
    const from = this.#start - seg.runningIndex;
    return seg.bytes.subarray(from, Math.min(seg.end, this.#end - seg.runningIndex));
  }

  /**
   * Iterates over views of each segment's bytes, in order. No copies.
   *
   * @returns An iterator of non-empty views.
   */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    if (this.#end === this.#start) return;
    for (let i = this.#first; i <= this.#last; i++) {
      const seg = this.#segments[i] as BufferSegment;
      const from = Math.max(this.#start, seg.runningIndex) - seg.runningIndex;
      const to = Math.min(this.#end, seg.runningIndex + seg.end) - seg.runningIndex;
      if (to > from) yield seg.bytes.subarray(from, to);
    }
  }

  /**
   * The bytes from `start` up to (not including) `end`, sharing this buffer's memory.
   *
   * @param start Offset of the first byte, from 0 to `length`.
   * @param end Offset after the last byte, from `start` to `length`.
   * @returns A buffer that dies with this one.
   * @throws {RangeError} When `start` or `end` is not an integer in range.
   */
  slice(start: number, end: number = this.length): ReadableBuffer {
    const length = this.length;
    if (!isIntegerIn(start, 0, length)) {
      throw rangeError("slice the buffer", `start must be an integer from 0 to ${length}`, start);
    }
    if (!isIntegerIn(end, start, length)) {
      throw rangeError("slice the buffer", `end must be an integer from ${start} to ${length}`, end);
    }
    if (start === end) {
      return new ReadableBuffer(this.#segments, this.#first, this.#first, this.#start + start, this.#start + start);
    }
    const first = this.#locate(this.#start + start);
    const last = this.#locate(this.#start + end - 1);
    return new ReadableBuffer(this.#segments, first, last, this.#start + start, this.#start + end);
  }

  /**
   * The byte at `index`; a negative index counts back from the end, as `Array.prototype.at`.
   *
   * @param index From `-length` to `length - 1`.
   * @returns The byte value.
   * @throws {RangeError} When `index` is not an integer in range.
   */
  at(index: number): number {
    const length = this.#end - this.#start;
    if (!isIntegerIn(index, -length, length - 1)) {
      throw rangeError("read the byte", `index must be an integer from ${-length} to ${length - 1}`, index);
    }
    const position = this.#start + (index < 0 ? length + index : index);
    const seg = this.#segments[this.#locate(position)] as BufferSegment;
    return seg.bytes[position - seg.runningIndex] as number;
  }

  /**
   * The offset of the first occurrence of `value` at or after `fromIndex`, or -1. A byte
   * sequence may straddle any number of segments. Pool segments are searched by the SIMD
   * memchr kernel where it is faster than the runtime's own `indexOf`.
   *
   * @param value A byte (0–255) or a byte sequence; an empty sequence is found at `fromIndex`.
   * @param fromIndex Where to start, from 0 to `length`.
   * @returns The offset from the start of this buffer, or -1.
   * @throws {RangeError} When `value` is a number outside 0–255, or `fromIndex` is out of range.
   * @throws {TypeError} When `value` is neither a number nor a `Uint8Array`.
   */
  indexOf(value: number | Uint8Array, fromIndex: number = 0): number {
    const length = this.#end - this.#start;
    if (!isIntegerIn(fromIndex, 0, length)) {
      throw rangeError("search the buffer", `fromIndex must be an integer from 0 to ${length}`, fromIndex);
    }
    if (typeof value === "number") {
      if (!isIntegerIn(value, 0, 255)) {
        throw rangeError("search the buffer", "a byte must be an integer from 0 to 255", value);
      }
      const found = this.#indexOfByte(value, this.#start + fromIndex);
      return found < 0 ? -1 : found - this.#start;
    }
    if (!(value instanceof Uint8Array)) {
      throw typeError("search the buffer", "value must be a number or a Uint8Array", value);
    }
    const n = value.length;
    if (n === 0) return fromIndex;
    const head = value[0] as number;
    let from = this.#start + fromIndex;
    for (;;) {
      const found = this.#indexOfByte(head, from);
      if (found < 0 || found + n > this.#end) return -1;
      if (n === 1 || this.#matches(found + 1, value, 1)) return found - this.#start;
      from = found + 1;
    }
  }

  /**
   * True when the bytes at `position` equal `bytes` (false when they run past the end).
   *
   * @param bytes The expected bytes.
   * @param position Offset to compare at, from 0 to `length`.
   * @returns Whether they match.
   * @throws {RangeError} When `position` is out of range.
   * @throws {TypeError} When `bytes` is not a `Uint8Array`.
   */
  startsWith(bytes: Uint8Array, position: number = 0): boolean {
    if (!(bytes instanceof Uint8Array)) throw typeError("compare the buffer", "bytes must be a Uint8Array", bytes);
    const length = this.#end - this.#start;
    if (!isIntegerIn(position, 0, length)) {
      throw rangeError("compare the buffer", `position must be an integer from 0 to ${length}`, position);
    }
    if (position + bytes.length > length) return false;
    return bytes.length === 0 || this.#matches(this.#start + position, bytes, 0);
  }

  /**
   * Copies the bytes into a new array.
   *
   * @returns A new `Uint8Array` that outlives the buffer.
   */
  toUint8Array(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    this.copyTo(out);
    return out;
  }

  /**
   * Copies the bytes into `target` at `offset`.
   *
   * @param target The destination.
   * @param offset Where in `target` to start.
   * @returns The number of bytes copied (`length`).
   * @throws {RangeError} When `target` has fewer than `length` bytes after `offset`.
   */
  copyTo(target: Uint8Array, offset: number = 0): number {
    if (!(target instanceof Uint8Array)) throw typeError("copy the buffer", "target must be a Uint8Array", target);
    const length = this.length;
    if (!isIntegerIn(offset, 0, target.length - length)) {
      throw rangeError(
        "copy the buffer",
        `offset must be an integer from 0 to ${target.length - length} for ${length} bytes into ${target.length}`,
        offset,
      );
    }
    let at = offset;
    for (const view of this) {
      target.set(view, at);
      at += view.length;
    }
    return length;
  }

  /** Index of the segment holding stream position `position` (`#start <= position < #end`). */
  #locate(position: number): number {
    const segments = this.#segments;
    const i = this.#hint;
    let seg = segments[i] as BufferSegment;
    if (position >= seg.runningIndex && position < seg.runningIndex + seg.end) return i;
    seg = segments[i + 1] as BufferSegment;
    if (seg !== undefined && position >= seg.runningIndex && position < seg.runningIndex + seg.end) {
      this.#hint = i + 1;
      return i + 1;
    }
    let lo = this.#first;
    let hi = this.#last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((segments[mid] as BufferSegment).runningIndex <= position) lo = mid;
      else hi = mid - 1;
    }
    this.#hint = lo;
    return lo;
  }

  /** Stream position of the first `value` at or after stream position `from`, or -1. */
  #indexOfByte(value: number, from: number): number {
    const end = this.#end;
    if (from >= end) return -1;
    // Fast path: the segment `from` is in (where most searches end), without a walk.
    const first = this.#locate(from);
    const seg = this.#segments[first] as BufferSegment;
    const ri = seg.runningIndex;
    const found = memchr(seg.bytes, from - ri, end - ri < seg.end ? end - ri : seg.end, value, seg.block);
    if (found >= 0) return ri + found;
    if (end - ri <= seg.end) return -1;
    // The rest segment by segment: a joined run would be a view of a whole memory, which the
    // native path must bound with a view of its own, and a kernel call per segment is cheap.
    from = ri + seg.end;
    const runs = searchRuns.reset(this.#segments, first + 1, this.#last, from, end, false);
    while (runs.next()) {
      const found = memchr(runs.bytes, runs.from, runs.to, value, runs.block);
      if (found >= 0) {
        const position = from + runs.offset + found - runs.from;
        runs.finish();
        return position;
      }
    }
    return -1;
  }

  /** True when `bytes[k..]` equals the buffer from stream position `position` on (in range). */
  #matches(position: number, bytes: Uint8Array, k: number): boolean {
    const n = bytes.length;
    if (k >= n) return true;
    const segments = this.#segments;
    let i = this.#locate(position);
    let seg = segments[i] as BufferSegment;
    let at = position - seg.runningIndex;
    for (; k < n; k++) {
      if (at >= seg.end) {
        seg = segments[++i] as BufferSegment;
        at = 0;
      }
      if (seg.bytes[at++] !== bytes[k]) return false;
    }
    return true;
  }
}

/** Points a reused buffer at new bytes (the channel reuses one buffer for every read). */
export function retargetBuffer(
  buffer: ReadableBuffer,
  segments: readonly BufferSegment[],
  first: number,
  last: number,
  start: number,
  end: number,
): void {
  retarget(buffer, segments, first, last, start, end);
}

/**
 * Starts `cursor` on a walk over `buffer[from, to)` as runs (see {@linkcode RunCursor}): the
 * one way code outside this class walks a buffer's segments. `join` false keeps every segment
 * a run of its own.
 */
export function walkRuns(
  buffer: ReadableBuffer,
  cursor: RunCursor,
  from: number = 0,
  to: number = buffer.length,
  join: boolean = true,
): RunCursor {
  return startWalk(buffer, cursor, from, to, join);
}

/**
 * Views of `buffer`'s bytes, one per run of segments adjacent in memory (blocks a channel rents
 * one after another usually are), so one write call covers several segments. No copies (a
 * run that is one whole segment is that segment's own view). Fills `into` from index 0,
 * shortens it to the count and returns it; `join` false gives one view per segment (tests).
 */
export function adjacentViews(buffer: ReadableBuffer, into: Uint8Array[], join: boolean = true): Uint8Array[] {
  let count = 0;
  const runs = startWalk(buffer, viewRuns, 0, buffer.length, join);
  while (runs.next()) into[count++] = runs.view();
  while (into.length > count) into.pop();
  return into;
}

// Reused by #indexOfByte and adjacentViews (neither calls out while walking).
const searchRuns = new RunCursor();
const viewRuns = new RunCursor();

// ---- Merge shim (websocket branch): the text-primitives, http1 and compression code on main
// still walks segments with bufferRange(); the kernel layer replaced it with walkRuns(). Kept
// until those callers move to walkRuns. ----

/**
 * Internal: where a buffer's bytes lie, for codecs that walk segments without a view per
 * segment. Segment `i` in `[first, last]` holds the bytes `segments[i].bytes[from, to)` with
 * `from = max(start, runningIndex) - runningIndex` and `to = min(end, runningIndex + seg.end)
 * - runningIndex` (see {@linkcode segmentFrom} and {@linkcode segmentTo}); the range is empty
 * when `start === end`.
 */
export interface BufferRange {
  segments: readonly BufferSegment[];
  first: number;
  last: number;
  start: number;
  end: number;
}

/** Fills `into` with where `buffer`'s bytes lie (see {@linkcode BufferRange}) and returns it. */
export function bufferRange(buffer: ReadableBuffer, into: BufferRange): BufferRange {
  return rangeOf(buffer, into);
}

/** A new, empty {@linkcode BufferRange} to reuse with {@linkcode bufferRange}. */
export function newBufferRange(): BufferRange {
  return { segments: [], first: 0, last: 0, start: 0, end: 0 };
}

/** Offset in `seg.bytes` of the range's first byte in that segment. */
export function segmentFrom(seg: BufferSegment, range: BufferRange): number {
  return range.start > seg.runningIndex ? range.start - seg.runningIndex : 0;
}

/** Offset in `seg.bytes` after the range's last byte in that segment. */
export function segmentTo(seg: BufferSegment, range: BufferRange): number {
  const to = range.end - seg.runningIndex;
  return to < seg.end ? to : seg.end;
}
