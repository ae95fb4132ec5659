/**
 * The RESP2/RESP3 reply parser behind {@linkcode RespClient}: it reads a channel's
 * {@linkcode ReadableBuffer} where it lies and resumes where it stopped.
 *
 * How a read is parsed:
 *
 * - Elements are read straight from the segments' bytes; a line or a bulk string cut by a
 *   segment boundary takes a slower path that still reads in place (a line is copied into a
 *   small scratch array only once its end is found, at most `maxLineLength` bytes).
 * - A value is copied once, when it is complete and materialised: a string decoded from the
 *   pool bytes, a `Uint8Array` copied out of them (`bytes` mode), a number parsed from them.
 * - `parse` returns how many bytes hold complete top-level replies (`consumed`); everything
 *   else counts as examined. The next call resumes where this one stopped, without looking at
 *   a byte twice: an aggregate's completed elements stay materialised in a stack of frames, a
 *   bulk string whose header was read waits for its length (no byte of it is scanned), and a
 *   line whose end has not arrived is searched from where the last search ended.
 * - Limits (see {@linkcode RespLimits}) are checked as soon as a header declares a length, or
 *   a line grows past its bound, before anything is buffered for it.
 *
 * Wire format (RESP3 is a superset of RESP2; every element ends with CRLF):
 *
 * | type byte | element | value |
 * | --- | --- | --- |
 * | `+` | simple string line | `string` |
 * | `-` | simple error line | `RespError` |
 * | `:` | integer line | `number` (`bigint` outside the safe range) |
 * | `$` | `$<n>` CRLF then n bytes (`$-1`: nil) | `string` / `Uint8Array` / `null` |
 * | `*` | `*<n>` then n elements (`*-1`: nil) | array / `null` |
 * | `_` | null | `null` |
 * | `,` | double line (`inf`, `-inf`, `nan`) | `number` |
 * | `#` | `t` or `f` | `boolean` |
 * | `!` | `!<n>` then n bytes | `RespError` |
 * | `=` | `=<n>` then `fmt:` and n - 4 bytes | `string` / `Uint8Array` without `fmt:` |
 * | `(` | big number line | `bigint` |
 * | `%` | `%<n>` then n key/value pairs | `Map` |
 * | `~` | `~<n>` then n elements | `Set` |
 * | `\|` | `\|<n>` then n pairs, then the value they describe | the value (attributes dropped) |
 * | `>` | `><n>` then n elements | array, delivered as a push |
 *
 * Streamed strings and aggregates (`$?`, `*?`…) are not supported: Redis never sends them.
 *
 * @module
 */

import {
  adjacentViews,
  type BufferRange,
  bufferRange,
  newBufferRange,
  type ReadableBuffer,
} from "../readable_buffer.ts";
import type { BufferSegment } from "../_segment.ts";
import { RespError, respLimitError, respSyntaxError } from "../errors.ts";

/** A reply value (see the module doc for the mapping from RESP types). */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | RespError
  | RespValue[]
  | Map<RespValue, RespValue>
  | Set<RespValue>;

/** Bounds on what one reply may declare; a reply past one is an error, never a buffer. */
export interface RespLimits {
  /** The longest bulk, verbatim or blob error string, in bytes. */
  maxBulkLength: number;
  /** The most elements an array, set or push may declare (key/value pairs for a map). */
  maxArrayLength: number;
  /** How deep aggregates may nest (a flat array is depth 1). */
  maxDepth: number;
  /** The longest line (simple string, simple error, number, length header), in bytes. */
  maxLineLength: number;
}

/**
 * The default limits: bulk strings up to 512 MiB (Redis's own `proto-max-bulk-len`),
 * 16,777,216 elements per aggregate, 128 levels of nesting, 64 KiB lines.
 */
export const DEFAULT_LIMITS: Readonly<RespLimits> = Object.freeze({
  maxBulkLength: 512 * 1024 * 1024,
  maxArrayLength: 16 * 1024 * 1024,
  maxDepth: 128,
  maxLineLength: 64 * 1024,
});

/** Called with each complete top-level value; `push` for a RESP3 push (`>`). */
export type ReplySink = (value: RespValue, push: boolean) => void;

const CR = 0x0d;
const LF = 0x0a;
const MINUS = 0x2d;
const ZERO = 0x30;
const COLON = 0x3a;
const NINE = 0x39;

const T_SIMPLE = 0x2b; // +
const T_ERROR = 0x2d; // -
const T_INTEGER = 0x3a; // :
const T_BULK = 0x24; // $
const T_ARRAY = 0x2a; // *
const T_NULL = 0x5f; // _
const T_DOUBLE = 0x2c; // ,
const T_BOOLEAN = 0x23; // #
const T_BLOB_ERROR = 0x21; // !
const T_VERBATIM = 0x3d; // =
const T_BIG_NUMBER = 0x28; // (
const T_MAP = 0x25; // %
const T_SET = 0x7e; // ~
const T_ATTRIBUTE = 0x7c; // |
const T_PUSH = 0x3e; // >

// Sentinels of the element readers (never values).
const NEED_MORE: unique symbol = Symbol("need more");
const OPENED: unique symbol = Symbol("aggregate opened");
type Step = RespValue | typeof NEED_MORE | typeof OPENED;

// Where a suspended parse stopped (see #state).
const IDLE = 0; // at the start of an element (or of nothing)
const LINE = 1; // inside a line whose end has not arrived
const BULK = 2; // a bulk header was read; its payload has not all arrived

/** An aggregate being filled. */
class Frame {
  /** The type byte: `*`, `%`, `~`, `|` or `>`. */
  type: number;
  /** Elements still to come (2 per map or attribute entry). */
  remaining: number;
  /** The elements so far, in order. */
  items: RespValue[];

  constructor(type: number, remaining: number) {
    this.type = type;
    this.remaining = remaining;
    this.items = [];
  }
}

// Values are kept whole: a leading BOM is part of a value, not dropped (ignoreBOM).
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
// Short ASCII strings are built in JavaScript where the runtime's TextDecoder call costs more
// than the loop (bench/utf8.ts "line" rows: Deno's call costs ~100 ns, Node's and Bun's 40–55 ns).
const SHORT_ASCII = IS_DENO ? 32 : 8;
// Bun's Buffer#utf8Slice decodes a view 2–3× faster than its TextDecoder (64 KiB and 1 KiB of
// ASCII from WebAssembly memory; bench/resp.ts "GET 100 KiB", "GET 1 KiB"), with the same
// U+FFFD replacement; Node's and Deno's TextDecoder are the faster there.
const utf8Slice: ((this: Uint8Array, start: number, end: number) => string) | undefined = "Bun" in globalThis
  ? (globalThis as unknown as {
    Buffer: { prototype: { utf8Slice: (this: Uint8Array, s: number, e: number) => string } };
  })
    .Buffer.prototype.utf8Slice
  : undefined;

/**
 * An incremental RESP parser over channel reads (one per connection).
 *
 * ```
 * read() ──► parse(buffer) → consumed ──► advanceTo(consumed, buffer.length) ──► read() …
 * ```
 *
 * Each call must get the buffer of the next read: the bytes from `consumed` on of the last
 * buffer, then whatever arrived since.
 *
 * Where a call stops when the last reply is incomplete (the next call resumes there):
 *
 * | state | stopped | resumes by |
 * | --- | --- | --- |
 * | IDLE | between elements (an aggregate's elements so far are in the frame stack) | reading the next element |
 * | LINE | inside a line whose CRLF has not arrived | searching on from where the last search ended |
 * | BULK | inside a bulk payload whose header was read | checking the length; nothing is scanned |
 *
 * Lengths and numbers are read in the pass that finds the line end, straight from the
 * segment's bytes, rather than through a `BufferReader` (`tryReadTo`, `tryParseInt`): a reader
 * call per element and a slice per line would cost more than the replies themselves.
 */
export class RespParser {
  /** Materialise bulk and verbatim strings of top-level replies (not pushes) as `Uint8Array`. */
  bytes = false;
  /** Bytes looked at to find line ends and read headers and lines (for tests: each once). */
  bytesScanned = 0;
  /** Bytes copied out of the buffer into values (for tests: each once). */
  bytesCopied = 0;
  /** Segments the cursor loaded (for tests: the walk over segments is linear too). */
  segmentsVisited = 0;

  readonly #limits: RespLimits;
  readonly #sink: ReplySink;

  // Aggregates being filled, outermost first. #push: the outermost is a push.
  readonly #stack: Frame[] = [];
  #push = false;

  // The suspended state, as offsets from the start of the next buffer (rebased after each call):
  // IDLE: the next element starts at #resume. LINE: an element's line starts at #resume (its type
  // byte) and holds no line end before #scanned. BULK: the payload of a #bulkType element of
  // #bulkLength bytes starts at #resume.
  #state = IDLE;
  #resume = 0;
  #scanned = 0;
  #bulkType = 0;
  #bulkLength = 0;
  // Stream offset of the current buffer's first byte (bytes consumed before), for error messages.
  #base = 0;

  // The cursor: #bytes[#i] is the next byte; #bytes[#i, #limit) are the buffer's bytes in this
  // segment, #bytes[0] is at buffer offset #segStart. #segment indexes #range.segments.
  #buffer: ReadableBuffer | undefined;
  readonly #range: BufferRange = newBufferRange();
  #length = 0;
  #segment = 0;
  #bytes: Uint8Array = new Uint8Array(0);
  #i = 0;
  #limit = 0;
  #segStart = 0;
  #scratch = new Uint8Array(256);

  /**
   * @param sink Receives each complete top-level value, in order.
   * @param limits The bounds replies must keep.
   */
  constructor(sink: ReplySink, limits: RespLimits = DEFAULT_LIMITS) {
    this.#sink = sink;
    this.#limits = limits;
  }

  /**
   * Parses every complete reply in `buffer`, hands each to the sink, and keeps what the last,
   * incomplete one has so far.
   *
   * @param buffer The read's buffer.
   * @returns How many bytes hold complete replies: pass as `consumed` to `advanceTo`, with
   * `buffer.length` as `examined`.
   * @throws {TypeError} On malformed input (the message names the byte offset). The parser
   * (and the connection) is unusable after an error.
   * @throws {RangeError} When a reply passes a limit (after it, as after a TypeError).
   */
  parse(buffer: ReadableBuffer): number {
    this.#buffer = buffer;
    const length = (this.#length = buffer.length);
    bufferRange(buffer, this.#range);
    let consumed = 0;
    try {
      // A bulk string still short of its length: nothing to look at (not even the cursor).
      if (this.#state === BULK && this.#resume + this.#bulkLength + 2 > length) return 0;
      // A line resumes by searching the buffer; it puts the cursor after itself once complete.
      if (this.#state !== LINE) this.#seekStart(this.#resume);
      for (;;) {
        let value: Step;
        if (this.#state === BULK) {
          value = this.#resumeBulk();
        } else if (this.#state === LINE) {
          value = this.#lineSlow();
        } else {
          if (this.#i >= this.#limit && !this.#nextSegment()) break;
          value = this.#element();
        }
        if (value === NEED_MORE) break;
        if (value === OPENED) continue;
        if (this.#attach(value)) consumed = this.#segStart + this.#i;
      }
      if (this.#state === IDLE) this.#resume = this.#segStart + this.#i;
    } finally {
      this.#buffer = undefined;
      this.#range.segments = NO_SEGMENTS;
    }
    this.#resume -= consumed;
    this.#scanned -= consumed;
    this.#base += consumed;
    return consumed;
  }

  // ---- cursor ----

  /** Puts the cursor at buffer offset `offset`, finding its segment by binary search. */
  #seekStart(offset: number): void {
    const range = this.#range;
    const segments = range.segments;
    const position = range.start + offset;
    let lo = range.first;
    let hi = range.last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((segments[mid] as BufferSegment).runningIndex <= position) lo = mid;
      else hi = mid - 1;
    }
    this.#segment = lo;
    this.#loadSegment();
    this.#seekForward(offset);
  }

  /** Moves the cursor forward to buffer offset `offset` (at most the buffer's length). */
  #seekForward(offset: number): void {
    for (;;) {
      const at = offset - this.#segStart;
      if (at <= this.#limit) {
        this.#i = at;
        if (at < this.#limit || this.#segment >= this.#range.last) return;
      }
      if (this.#segment >= this.#range.last) {
        this.#i = this.#limit;
        return;
      }
      this.#segment++;
      this.#loadSegment();
    }
  }

  /** Moves to the start of the next segment; false (cursor unmoved) at the last one. */
  #nextSegment(): boolean {
    const range = this.#range;
    if (this.#segment >= range.last || this.#length === 0) return false;
    this.#segment++;
    this.#loadSegment();
    return this.#i < this.#limit || this.#nextSegment();
  }

  /**
   * Loads segment #segment, joined with the segments after it that lie next to it in memory
   * (a channel's blocks mostly do): one view over the run, so a value that crosses their
   * boundaries still takes the fast paths. #segment ends at the run's last segment.
   */
  #loadSegment(): void {
    const range = this.#range;
    const segments = range.segments;
    const seg = segments[this.#segment] as BufferSegment | undefined;
    if (seg === undefined || range.start === range.end) {
      this.#bytes = EMPTY;
      this.#i = this.#limit = this.#segStart = 0;
      return;
    }
    this.segmentsVisited++;
    const ri = seg.runningIndex;
    const bytes = seg.bytes;
    this.#i = range.start > ri ? range.start - ri : 0;
    const to = range.end - ri;
    let limit = to < seg.end ? to : seg.end;
    this.#segStart = ri - range.start;
    let k = this.#segment;
    // The run reaches its last block's end, so the next block may continue it in memory.
    let open = limit === bytes.length;
    while (open && k < range.last) {
      const next = segments[k + 1] as BufferSegment;
      const nextBytes = next.bytes;
      if (nextBytes.buffer !== bytes.buffer || nextBytes.byteOffset !== bytes.byteOffset + limit) break;
      const nextTo = range.end - next.runningIndex;
      const used = nextTo < next.end ? nextTo : next.end;
      limit += used;
      k++;
      this.segmentsVisited++;
      open = used === nextBytes.length;
    }
    if (k === this.#segment) {
      this.#bytes = bytes;
    } else {
      this.#bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, limit);
      this.#segment = k;
    }
    this.#limit = limit;
  }

  /** The byte at buffer offset `offset` (in range). */
  #byteAt(offset: number): number {
    return (this.#buffer as ReadableBuffer).at(offset);
  }

  // ---- elements ----

  /** Reads the element at the cursor (its type byte is there). */
  #element(): Step {
    const bytes = this.#bytes;
    const start = this.#i;
    const limit = this.#limit;
    // Fast path: the element's line ends in this segment.
    let j = start + 1;
    while (j < limit && bytes[j] !== CR) j++;
    if (j + 1 >= limit || j - start - 1 > this.#limits.maxLineLength) {
      // The line goes on in the next segment (or is too long): bytes before j hold no CR.
      this.bytesScanned += j - start;
      this.#state = LINE;
      this.#resume = this.#segStart + start;
      this.#scanned = this.#segStart + j;
      return this.#lineSlow();
    }
    this.bytesScanned += j + 2 - start;
    if (bytes[j + 1] !== LF) throw this.#syntax("a line must end with CRLF", this.#segStart + j + 1, bytes[j + 1]);
    this.#i = j + 2;
    return this.#line(bytes[start] as number, bytes, start + 1, j, this.#segStart + start);
  }

  /**
   * Finds the line of the element at #resume across segments, searching from #scanned; with
   * its end found, copies it (it is short: at most maxLineLength) and reads it.
   */
  #lineSlow(): Step {
    const buffer = this.#buffer as ReadableBuffer;
    const start = this.#resume;
    const length = this.#length;
    const max = this.#limits.maxLineLength;
    const from = Math.max(this.#scanned, start + 1);
    // The search stops one byte past the longest line allowed: a longer one is an error however it goes on.
    const bound = Math.min(length, start + max + 3);
    const found = from < bound ? buffer.slice(from, bound).indexOf(CR) : -1;
    const cr = found < 0 ? -1 : from + found;
    const searchedTo = cr < 0 ? bound : cr;
    this.bytesScanned += searchedTo - from;
    if (searchedTo - start - 1 > max) {
      throw respLimitError(`a line must be at most ${max} bytes`, this.#base + start, searchedTo - start - 1);
    }
    if (cr < 0 || cr + 1 >= length) {
      // No line end yet (or a CR whose LF has not arrived): examined to the end, resume here.
      this.#scanned = cr < 0 ? length : cr;
      return NEED_MORE; // the cursor does not matter any more
    }
    this.bytesScanned += 2;
    const lf = buffer.at(cr + 1);
    if (lf !== LF) throw this.#syntax("a line must end with CRLF", cr + 1, lf);
    const type = buffer.at(start);
    const n = cr - start - 1;
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(Math.max(n, this.#scratch.length * 2));
    buffer.slice(start + 1, cr).copyTo(this.#scratch);
    this.#state = IDLE;
    this.#seekStart(cr + 2);
    return this.#line(type, this.#scratch, 0, n, start);
  }

  /** Reads a complete line: the element of type `type` whose line is `bytes[from, to)`. */
  #line(type: number, bytes: Uint8Array, from: number, to: number, offset: number): Step {
    switch (type) {
      case T_BULK:
      case T_VERBATIM:
      case T_BLOB_ERROR: {
        const n = this.#header(bytes, from, to, offset);
        if (n < 0) {
          if (n === -1 && type === T_BULK) return null;
          throw this.#syntax("a string length must be -1 or more", offset + 1, n);
        }
        if (n > this.#limits.maxBulkLength) {
          throw respLimitError(
            `a bulk string must be at most ${this.#limits.maxBulkLength} bytes`,
            this.#base + offset,
            n,
          );
        }
        if (type === T_VERBATIM && n < 4) throw this.#syntax("a verbatim string must have a format prefix", offset, n);
        return this.#bulk(type, n);
      }
      case T_ARRAY:
      case T_MAP:
      case T_SET:
      case T_ATTRIBUTE:
      case T_PUSH: {
        const n = this.#header(bytes, from, to, offset);
        if (n < 0) {
          if (n === -1 && type === T_ARRAY) return null;
          throw this.#syntax("an aggregate length must be 0 or more", offset + 1, n);
        }
        if (n > this.#limits.maxArrayLength) {
          throw respLimitError(
            `an aggregate must have at most ${this.#limits.maxArrayLength} elements`,
            this.#base + offset,
            n,
          );
        }
        return this.#open(type, n, offset);
      }
      case T_SIMPLE:
        // The most common reply of all, without building a string.
        if (to - from === 2 && bytes[from] === 0x4f && bytes[from + 1] === 0x4b) return "OK";
        return decodeLine(bytes, from, to);
      case T_ERROR:
        return new RespError(decodeLine(bytes, from, to));
      case T_INTEGER:
        return this.#integer(bytes, from, to, offset);
      case T_NULL:
        if (to !== from) throw this.#syntax("a null must be empty", offset + 1, ascii(bytes, from, to));
        return null;
      case T_BOOLEAN: {
        const c = to - from === 1 ? bytes[from] : -1;
        if (c === 0x74) return true;
        if (c === 0x66) return false;
        throw this.#syntax('a boolean must be "t" or "f"', offset + 1, ascii(bytes, from, to));
      }
      case T_DOUBLE:
        return this.#double(bytes, from, to, offset);
      case T_BIG_NUMBER: {
        let k = from;
        if (k < to && bytes[k] === MINUS) k++;
        if (k === to) throw this.#syntax("a big number must have digits", offset + 1, ascii(bytes, from, to));
        for (; k < to; k++) {
          const c = bytes[k] as number;
          if (c < ZERO || c > NINE) {
            throw this.#syntax("a big number must be decimal digits", offset + 1, ascii(bytes, from, to));
          }
        }
        return BigInt(ascii(bytes, from, to));
      }
      default:
        throw this.#syntax("a reply must start with a RESP type byte", offset, String.fromCharCode(type));
    }
  }

  /** A length in a header: -1 or more (-2 and below are returned for the caller to reject). */
  #header(bytes: Uint8Array, from: number, to: number, offset: number): number {
    let k = from;
    const negative = k < to && bytes[k] === MINUS;
    if (negative) k++;
    if (k === to || to - k > 15) {
      throw this.#syntax("a length must be decimal digits", offset + 1, ascii(bytes, from, to));
    }
    let n = 0;
    for (; k < to; k++) {
      const c = bytes[k] as number;
      if (c < ZERO || c > NINE) {
        throw this.#syntax("a length must be decimal digits", offset + 1, ascii(bytes, from, to));
      }
      n = n * 10 + (c - ZERO);
    }
    return negative ? -n : n;
  }

  #integer(bytes: Uint8Array, from: number, to: number, offset: number): number | bigint {
    let k = from;
    const negative = k < to && bytes[k] === MINUS;
    if (negative) k++;
    if (k === to) throw this.#syntax("an integer must have digits", offset + 1, ascii(bytes, from, to));
    let n = 0;
    for (let d = k; d < to; d++) {
      const c = bytes[d] as number;
      if (c < ZERO || c > NINE) {
        throw this.#syntax("an integer must be decimal digits", offset + 1, ascii(bytes, from, to));
      }
      n = n * 10 + (c - ZERO);
    }
    if (to - k < 16 || n <= Number.MAX_SAFE_INTEGER) return negative ? 0 - n : n; // 0 - 0 is +0
    return BigInt(ascii(bytes, from, to));
  }

  #double(bytes: Uint8Array, from: number, to: number, offset: number): number {
    const text = ascii(bytes, from, to);
    switch (text) {
      case "inf":
      case "+inf":
        return Infinity;
      case "-inf":
        return -Infinity;
      case "nan":
      case "-nan":
        return NaN;
    }
    // Number() alone would take "", " 1", "0x1f" and "Infinity".
    if (!DOUBLE.test(text)) throw this.#syntax("a double must be a decimal number, inf, -inf or nan", offset + 1, text);
    return Number(text);
  }

  /** A bulk-like element whose header was read (cursor after it): its payload, or NEED_MORE. */
  #bulk(type: number, n: number): Step {
    const bytes = this.#bytes;
    const i = this.#i;
    if (i + n + 2 <= this.#limit) {
      // Fast path: payload and CRLF in this segment.
      if (bytes[i + n] !== CR || bytes[i + n + 1] !== LF) {
        const bad = bytes[i + n] !== CR ? i + n : i + n + 1;
        throw this.#syntax("a bulk string must end with CRLF", this.#segStart + bad, bytes[bad]);
      }
      this.#i = i + n + 2;
      this.bytesScanned += 2;
      return this.#materialize(type, bytes, i, i + n);
    }
    this.#state = BULK;
    this.#bulkType = type;
    this.#bulkLength = n;
    this.#resume = this.#segStart + i;
    return this.#resumeBulk();
  }

  /** The payload of a suspended bulk element at #resume, once all of it is in the buffer. */
  #resumeBulk(): Step {
    const start = this.#resume;
    const n = this.#bulkLength;
    const end = start + n;
    if (end + 2 > this.#length) return NEED_MORE; // the cursor does not matter any more
    const buffer = this.#buffer as ReadableBuffer;
    const cr = this.#byteAt(end);
    const lf = this.#byteAt(end + 1);
    this.bytesScanned += 2;
    if (cr !== CR || lf !== LF) {
      const bad = cr !== CR ? end : end + 1;
      throw this.#syntax("a bulk string must end with CRLF", bad, cr !== CR ? cr : lf);
    }
    this.#state = IDLE;
    this.#seekForward(start);
    let value: RespValue;
    if (this.#i + n <= this.#limit) {
      value = this.#materialize(this.#bulkType, this.#bytes, this.#i, this.#i + n);
    } else {
      value = this.#materializeSlice(this.#bulkType, buffer.slice(start, end));
    }
    this.#seekForward(end + 2);
    return value;
  }

  /** A bulk-like value from `bytes[from, to)` (one segment). */
  #materialize(type: number, bytes: Uint8Array, from: number, to: number): RespValue {
    this.bytesCopied += to - from;
    if (type === T_VERBATIM) {
      if (bytes[from + 3] !== COLON) throw this.#verbatimError(this.#segStart + from + 3, bytes[from + 3] as number);
      from += 4;
    }
    if (type === T_BLOB_ERROR) return new RespError(decodeLine(bytes, from, to));
    if (this.bytes && !this.#push) return bytes.slice(from, to);
    return decode(bytes, from, to);
  }

  /** A bulk-like value from a buffer over several segments: one copy, or one decode. */
  #materializeSlice(type: number, slice: ReadableBuffer): RespValue {
    this.bytesCopied += slice.length;
    if (type === T_VERBATIM) {
      if (slice.at(3) !== COLON) throw this.#verbatimError(this.#resume + 3, slice.at(3));
      slice = slice.slice(4);
    }
    if (type === T_BLOB_ERROR) return new RespError(decodeSlice(slice));
    if (this.bytes && !this.#push) return slice.toUint8Array();
    return decodeSlice(slice);
  }

  /** Opens an aggregate of `n` elements (pairs for maps and attributes). */
  #open(type: number, n: number, offset: number): Step {
    const stack = this.#stack;
    if (stack.length >= this.#limits.maxDepth) {
      throw respLimitError(
        `aggregates must nest at most ${this.#limits.maxDepth} deep`,
        this.#base + offset,
        stack.length + 1,
      );
    }
    if (stack.length === 0 && type === T_PUSH) this.#push = true;
    if (n === 0) {
      if (type === T_ATTRIBUTE) return OPENED; // nothing to drop: the described value follows
      return this.#finish(type, []);
    }
    stack.push(new Frame(type, type === T_MAP || type === T_ATTRIBUTE ? n * 2 : n));
    return OPENED;
  }

  /** The value of a complete aggregate of `type`. */
  #finish(type: number, items: RespValue[]): RespValue {
    switch (type) {
      case T_MAP: {
        const map = new Map<RespValue, RespValue>();
        for (let k = 0; k < items.length; k += 2) map.set(items[k] as RespValue, items[k + 1] as RespValue);
        return map;
      }
      case T_SET:
        return new Set(items);
      default:
        return items;
    }
  }

  /**
   * Adds a complete value to the innermost aggregate, closing those it completes; hands a
   * complete top-level value to the sink.
   *
   * @returns True when a top-level value was delivered.
   */
  #attach(value: RespValue): boolean {
    const stack = this.#stack;
    for (;;) {
      const frame = stack[stack.length - 1];
      if (frame === undefined) {
        const push = this.#push;
        this.#push = false;
        this.#sink(value, push);
        return true;
      }
      frame.items.push(value);
      if (--frame.remaining > 0) return false;
      stack.pop();
      // A complete attribute is dropped: the value it describes is the next element.
      if (frame.type === T_ATTRIBUTE) return false;
      value = this.#finish(frame.type, frame.items);
    }
  }

  /** A verbatim string whose fourth byte (at buffer offset `offset`) is not the colon after its format. */
  #verbatimError(offset: number, received: number): TypeError {
    return this.#syntax(
      'a verbatim string must start with a three-letter format and ":"',
      offset,
      String.fromCharCode(received),
    );
  }

  #syntax(rule: string, offset: number, received: unknown): TypeError {
    return respSyntaxError(rule, this.#base + offset, received);
  }
}

const EMPTY = new Uint8Array(0);
const NO_SEGMENTS: readonly BufferSegment[] = [];
const DOUBLE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Bytes as Latin-1 text (for numbers and error messages; they are short). */
function ascii(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let k = from; k < to; k++) text += String.fromCharCode(bytes[k] as number);
  return text;
}

/** UTF-8 text of `bytes[from, to)`: short ASCII in JavaScript, the rest natively. */
function decode(bytes: Uint8Array, from: number, to: number): string {
  const n = to - from;
  if (n <= SHORT_ASCII) {
    let text = "";
    for (let k = from; k < to; k++) {
      const c = bytes[k] as number;
      if (c >= 0x80) return decodeView(bytes, from, to);
      text += String.fromCharCode(c);
    }
    return text;
  }
  return decodeView(bytes, from, to);
}

/** UTF-8 text of `bytes[from, to)` by the runtime's fastest decoder. */
function decodeView(bytes: Uint8Array, from: number, to: number): string {
  if (utf8Slice !== undefined) return utf8Slice.call(bytes, from, to);
  return utf8.decode(bytes.subarray(from, to));
}

/** A line's text (simple strings and errors). */
function decodeLine(bytes: Uint8Array, from: number, to: number): string {
  return decode(bytes, from, to);
}

// Runs of memory-adjacent segments (adjacentViews), and where scattered ones are gathered
// (grown as needed, kept up to GATHER_KEEP bytes) for one decoder call.
const runs: Uint8Array[] = [];
let gather = new Uint8Array(0);
const GATHER_KEEP = 4 * 1024 * 1024;

/**
 * UTF-8 text of a value over several segments: one decoder call on the bytes where they lie
 * when the segments are adjacent in memory, else on one gathered copy (one decode of the
 * whole value costs less than a decode per segment and a concatenation the engine copies
 * again when it flattens the string).
 */
function decodeSlice(slice: ReadableBuffer): string {
  const views = adjacentViews(slice, runs);
  if (views.length === 1) {
    const view = views[0] as Uint8Array;
    views.length = 0;
    return decodeView(view, 0, view.length);
  }
  views.length = 0;
  const n = slice.length;
  let target = gather;
  if (target.length < n) {
    target = new Uint8Array(n);
    if (n <= GATHER_KEEP) gather = target;
  }
  slice.copyTo(target);
  return decodeView(target, 0, n);
}
