// The request-head parser of ./http1: an incremental scan of the request line and the field
// lines (RFC 9112 §2–§5) over a ReadableBuffer, resumable byte by byte, so a head that arrives
// in pieces is scanned once (the caller passes the buffer again from the head's start, and the
// parser goes on where it stopped). It validates every byte as it goes and records where the
// parts lie (offsets from the head's start); nothing is copied or decoded here. Trailer fields
// of a chunked body use the same machine from S_FIELD_START. Internal.
//
// States (anything not listed is an error with the status in brackets):
//
// | state | byte | next |
// | --- | --- | --- |
// | START | CR → START_LF; tchar → METHOD | [400] |
// | START_LF | LF → START (an empty line before the request line is skipped) | [400 bare CR] |
// | METHOD | tchar → METHOD; SP → TARGET_START | [400] |
// | TARGET_START | 0x21–0x7E → TARGET | [400] |
// | TARGET | 0x21–0x7E → TARGET; SP → VERSION | [400] |
// | VERSION | "HTTP/" DIGIT "." DIGIT, then CR → LINE_LF | [400; 505 for a major other than 1] |
// | LINE_LF, FIELD_LF | LF → FIELD_START | [400 bare CR] |
// | FIELD_START | CR → END_LF; tchar → NAME | [400: SP/HTAB is obs-fold or space before a field] |
// | NAME | tchar → NAME; ":" → OWS | [400: space before the colon, bad byte] |
// | OWS | SP/HTAB → OWS; CR → FIELD_LF (empty value); VCHAR → VALUE | [400] |
// | VALUE | VCHAR/SP/HTAB → VALUE; CR → FIELD_LF | [400: NUL, bare LF, controls] |
// | END_LF | LF → done | [400] |

import { RunCursor } from "../_runs.ts";
import { type ReadableBuffer, walkRuns } from "../readable_buffer.ts";
import { CLASS, COLON, CR, HTAB, LF, SP, TARGET, TCHAR, VCHAR, WS } from "./_chars.ts";

/** `parse` needs more bytes. */
export const NEED_MORE = -1;
/** `parse` found the head malformed or too large: see `errorStatus` and `errorReason`. */
export const INVALID = -2;

const S_START = 0;
const S_START_LF = 1;
const S_METHOD = 2;
const S_TARGET_START = 3;
const S_TARGET = 4;
const S_VERSION = 5;
const S_LINE_LF = 6;
const S_FIELD_START = 7;
const S_NAME = 8;
const S_OWS = 9;
const S_VALUE = 10;
const S_FIELD_LF = 11;
const S_END_LF = 12;
const S_FAILED = 13;

const VERSION_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/**
 * Scans one head at a time; `reset` before the next. Offsets in the results count from the
 * head's start (the `start` given to `parse`), so they stay valid while the caller keeps the
 * head's first byte at that place (it consumes up to the head's start between reads, never
 * into it).
 */
export class HeadParser {
  // Results, valid once parse() returned the head's length.
  /** Start of the method (after skipped empty lines). */
  methodStart = 0;
  /** End of the method. */
  methodEnd = 0;
  /** Start of the request-target. */
  targetStart = 0;
  /** End of the request-target. */
  targetEnd = 0;
  /** The version's minor digit ("HTTP/1.x"). */
  versionMinor = 1;
  /** Field lines recorded. */
  fieldCount = 0;
  /** Four offsets per field line: name start, name end, value start, value end (OWS trimmed). */
  fields: Int32Array;

  // Why parse() returned INVALID.
  /** The status to answer with: 400, 431 or 505. */
  errorStatus = 0;
  /** What was wrong, for logs and tests. */
  errorReason = "";
  /** Offset of the offending byte from the head's start. */
  errorOffset = 0;

  readonly #maxBytes: number;
  readonly #maxFields: number;
  readonly #runs = new RunCursor();
  // Where to resume: the state, bytes scanned from the head's start, and the state's marks
  // (the version byte expected next, the end of the value's last visible byte).
  #state = S_START;
  #initial = S_START;
  #scanned = 0;
  #versionIndex = 0;
  #versionMajor = 0;
  #valueEnd = 0;

  /**
   * @param maxBytes The longest head (431 past it).
   * @param maxFields The most field lines (431 past it).
   * @param trailers Parse a trailer section (field lines and the empty line) instead of a request head.
   */
  constructor(maxBytes: number, maxFields: number, trailers: boolean = false) {
    this.#maxBytes = maxBytes;
    this.#maxFields = maxFields;
    this.fields = new Int32Array(4 * Math.min(maxFields, 16));
    this.#initial = trailers ? S_FIELD_START : S_START;
    this.#state = this.#initial;
  }

  /** Bytes scanned of the current head so far. */
  get scanned(): number {
    return this.#scanned;
  }

  /** True while nothing but empty lines (or nothing at all) was scanned. */
  get idle(): boolean {
    return this.#state === S_START;
  }

  /** Forgets the current head: the next parse starts a new one. */
  reset(): void {
    this.#state = this.#initial;
    this.#scanned = 0;
    this.fieldCount = 0;
    this.#versionIndex = 0;
  }

  /**
   * Scans on from where the last call stopped.
   *
   * @param buffer The bytes; the head starts at `start`.
   * @param start Offset of the head's first byte in `buffer`.
   * @returns The head's length (up to and with its final CRLF), NEED_MORE, or INVALID.
   */
  parse(buffer: ReadableBuffer, start: number): number {
    if (this.#state === S_FAILED) return INVALID;
    const end = buffer.length;
    const position = start + this.#scanned; // where the scan goes on, as an offset in buffer
    let result = NEED_MORE;
    if (position < end) {
      // Segment by segment (no joining): #run indexes each segment's own view.
      const runs = walkRuns(buffer, this.#runs, position, end, false);
      while (runs.next()) {
        // runs.bytes[runs.from] is buffer offset position + runs.offset, head offset that - start.
        result = this.#run(runs.bytes, runs.from, runs.to, position + runs.offset - start - runs.from);
        if (result !== NEED_MORE) break;
      }
      runs.finish();
    }
    if (result === NEED_MORE) {
      this.#scanned = end - start;
      if (this.#scanned > this.#maxBytes) return this.#fail(431, "the head is too long", this.#maxBytes);
    } else if (result > this.#maxBytes) {
      return this.#fail(431, "the head is too long", this.#maxBytes);
    }
    return result;
  }

  #fail(status: number, reason: string, offset: number): number {
    this.#state = S_FAILED;
    this.errorStatus = status;
    this.errorReason = reason;
    this.errorOffset = offset;
    return INVALID;
  }

  /** Runs the machine over `b[i, to)`, where `b[k]` is the head's byte `base + k`. */
  #run(b: Uint8Array, i: number, to: number, base: number): number {
    let state = this.#state;
    let valueEnd = this.#valueEnd;
    let fields = this.fields;
    let f = this.fieldCount * 4;
    while (i < to) {
      switch (state) {
        case S_VALUE: {
          // The hot loop: most of a head is field values. One compare per byte (a field
          // value is HTAB, SP, VCHAR and obs-text: no other control, no DEL); trailing
          // whitespace is found afterwards, walking back from where the run stopped.
          const from = i;
          let c = 0;
          for (; i < to; i++) {
            c = b[i] as number;
            if (c < 0x20 ? c !== HTAB : c === 0x7f) break;
          }
          let last = i - 1;
          while (last >= from && (b[last] === SP || b[last] === HTAB)) last--;
          if (last >= from) valueEnd = base + last + 1;
          if (i === to) break;
          if (c !== CR) {
            this.#valueEnd = valueEnd;
            return this.#fail(
              400,
              c === LF ? "a field line ends in a bare LF" : "a field value has a control byte",
              base + i,
            );
          }
          fields[f + 3] = valueEnd;
          f += 4;
          state = S_FIELD_LF;
          i++;
          break;
        }
        case S_FIELD_LF:
        case S_LINE_LF:
          if (b[i] !== LF) return this.#fail(400, "a CR is not followed by LF", base + i);
          state = S_FIELD_START;
          i++;
          break;
        case S_FIELD_START: {
          const c = b[i] as number;
          if (c === CR) {
            state = S_END_LF;
            i++;
            break;
          }
          if (((CLASS[c] as number) & TCHAR) === 0) {
            return this.#fail(
              400,
              c === SP || c === 0x09
                ? "a line starts with whitespace (obs-fold)"
                : c === LF
                ? "a line ends in a bare LF"
                : "a field name has a byte that is not a token character",
              base + i,
            );
          }
          if (f >> 2 >= this.#maxFields) return this.#fail(431, "the head has too many fields", base + i);
          if (f + 4 > fields.length) fields = this.#grow();
          fields[f] = base + i;
          state = S_NAME;
          i++;
          break;
        }
        case S_NAME: {
          let c = 0;
          for (; i < to; i++) {
            c = b[i] as number;
            if (((CLASS[c] as number) & TCHAR) === 0) break;
          }
          if (i === to) break;
          if (c !== COLON) {
            return this.#fail(
              400,
              c === SP || c === 0x09
                ? "whitespace between a field name and the colon"
                : "a field name has a byte that is not a token character",
              base + i,
            );
          }
          fields[f + 1] = base + i;
          state = S_OWS;
          i++;
          break;
        }
        case S_OWS: {
          const c = b[i] as number;
          const k = CLASS[c] as number;
          if ((k & WS) !== 0) {
            i++;
            break;
          }
          if ((k & VCHAR) !== 0) {
            fields[f + 2] = base + i;
            valueEnd = base + i + 1;
            state = S_VALUE;
            i++;
            break;
          }
          if (c === CR) {
            fields[f + 2] = fields[f + 3] = base + i;
            f += 4;
            state = S_FIELD_LF;
            i++;
            break;
          }
          return this.#fail(
            400,
            c === LF ? "a field line ends in a bare LF" : "a field value has a control byte",
            base + i,
          );
        }
        case S_END_LF:
          if (b[i] !== LF) return this.#fail(400, "a CR is not followed by LF", base + i);
          this.#state = state;
          this.fieldCount = f >> 2;
          return base + i + 1;
        case S_START: {
          const c = b[i] as number;
          if (c === CR) {
            state = S_START_LF;
            i++;
            break;
          }
          if (((CLASS[c] as number) & TCHAR) === 0) {
            return this.#fail(
              400,
              c === LF ? "an empty line ends in a bare LF" : "the method has a byte that is not a token character",
              base + i,
            );
          }
          this.methodStart = base + i;
          state = S_METHOD;
          i++;
          break;
        }
        case S_START_LF:
          if (b[i] !== LF) return this.#fail(400, "a CR is not followed by LF", base + i);
          state = S_START;
          i++;
          break;
        case S_METHOD: {
          let c = 0;
          for (; i < to; i++) {
            c = b[i] as number;
            if (((CLASS[c] as number) & TCHAR) === 0) break;
          }
          if (i === to) break;
          if (c !== SP) return this.#fail(400, "the method has a byte that is not a token character", base + i);
          this.methodEnd = base + i;
          state = S_TARGET_START;
          i++;
          break;
        }
        case S_TARGET_START:
          if (((CLASS[b[i] as number] as number) & TARGET) === 0) {
            return this.#fail(400, "the request-target is empty or starts with a bad byte", base + i);
          }
          this.targetStart = base + i;
          state = S_TARGET;
          i++;
          break;
        case S_TARGET: {
          let c = 0;
          for (; i < to; i++) {
            c = b[i] as number;
            if (c <= SP || c >= 0x7f) break;
          }
          if (i === to) break;
          if (c !== SP) return this.#fail(400, "the request-target has a byte that is not visible ASCII", base + i);
          this.targetEnd = base + i;
          this.#versionIndex = 0;
          state = S_VERSION;
          i++;
          break;
        }
        case S_VERSION: {
          // Fast path: "HTTP/1.x\r" whole in this segment, compared at once.
          if (
            this.#versionIndex === 0 && i + 9 <= to && b[i] === 0x48 && b[i + 1] === 0x54 && b[i + 2] === 0x54 &&
            b[i + 3] === 0x50 && b[i + 4] === 0x2f && b[i + 5] === 0x31 && b[i + 6] === 0x2e && b[i + 8] === CR
          ) {
            const minor = (b[i + 7] as number) - 0x30;
            if (minor >= 0 && minor <= 9) {
              this.versionMinor = minor;
              state = S_LINE_LF;
              i += 9;
              break;
            }
          }
          const c = b[i] as number;
          const k = this.#versionIndex;
          let ok: boolean;
          if (k < 5) ok = c === VERSION_PREFIX[k];
          else if (k === 5) {
            ok = c >= 0x30 && c <= 0x39;
            this.#versionMajor = c - 0x30;
          } else if (k === 6) ok = c === 0x2e;
          else if (k === 7) {
            ok = c >= 0x30 && c <= 0x39;
            this.versionMinor = c - 0x30;
          } else {
            if (c !== CR) return this.#fail(400, "the request line does not end after the version", base + i);
            if (this.#versionMajor !== 1) return this.#fail(505, "the HTTP major version is not 1", base + i - 3);
            state = S_LINE_LF;
            i++;
            break;
          }
          if (!ok) return this.#fail(400, "the version is not HTTP/<digit>.<digit>", base + i);
          this.#versionIndex = k + 1;
          i++;
          break;
        }
        default:
          return INVALID;
      }
    }
    this.#state = state;
    this.#valueEnd = valueEnd;
    this.fieldCount = f >> 2;
    return NEED_MORE;
  }

  #grow(): Int32Array {
    const grown = new Int32Array(Math.min(this.fields.length * 2, 4 * this.#maxFields));
    grown.set(this.fields);
    this.fields = grown;
    return grown;
  }
}
