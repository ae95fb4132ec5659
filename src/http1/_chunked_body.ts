// A chunked request body (RFC 9112 §7.1) as a ReadableChannel over the connection's input,
// without a copy: the data of each chunk lies in the input between framing lines, so a read
// returns a buffer whose segments are views of those runs (one segment per run and input
// block), and consuming maps back to the input (the framing between runs is consumed with
// them). The framing is parsed once, byte by byte, from where the last read stopped; the runs
// found (pieces) are kept across reads, shifted when the input is released. Trailer fields end
// up in `trailers`. Internal.
//
// Framing states (anything else is a TypeError answered with 400 and a close):
//
// | state | bytes | next |
// | --- | --- | --- |
// | SIZE | HEXDIG → SIZE (at most 15 digits); then CR → SIZE_LF; ";" → EXT_NAME_START; SP/HTAB → EXT_BWS |
// | EXT_BWS | SP/HTAB → EXT_BWS; ";" → EXT_NAME_START |
// | EXT_NAME_START | SP/HTAB → EXT_NAME_START; tchar → EXT_NAME |
// | EXT_NAME | tchar → EXT_NAME; SP/HTAB → EXT_AFTER_NAME; "=" → EXT_VALUE_START; ";" → EXT_NAME_START; CR → SIZE_LF |
// | EXT_AFTER_NAME | SP/HTAB → EXT_AFTER_NAME; "=" → EXT_VALUE_START; ";" → EXT_NAME_START; CR → SIZE_LF |
// | EXT_VALUE_START | SP/HTAB → EXT_VALUE_START; DQUOTE → EXT_QUOTED; tchar → EXT_TOKEN |
// | EXT_TOKEN | tchar → EXT_TOKEN; SP/HTAB → EXT_BWS; ";" → EXT_NAME_START; CR → SIZE_LF |
// | EXT_QUOTED | qdtext → EXT_QUOTED; "\" → EXT_QUOTED_PAIR; DQUOTE → EXT_AFTER_VALUE |
// | EXT_QUOTED_PAIR | HTAB/SP/VCHAR/obs-text → EXT_QUOTED |
// | EXT_AFTER_VALUE | SP/HTAB → EXT_BWS; ";" → EXT_NAME_START; CR → SIZE_LF |
// | SIZE_LF | LF → DATA (size > 0) or TRAILERS (size 0) |
// | DATA | `size` bytes of data → DATA_CR |
// | DATA_CR, DATA_LF | CR, then LF → SIZE |
// | TRAILERS | field lines and an empty line (HeadParser) → DONE |

import { BufferSegment } from "../_segment.ts";
import { RunCursor } from "../_runs.ts";
import { ReadableBuffer, retargetBuffer, walkRuns } from "../readable_buffer.ts";
import { CLASS, CR, HEX, HEX_VALUE, LF, TCHAR, VCHAR, WS } from "./_chars.ts";
import {
  bodyErrorStatus,
  bodyTimedOut,
  bodyTooLarge,
  malformedChunk,
  trailersTooLarge,
  truncatedBody,
} from "./_body_errors.ts";
import { CursorBody } from "./_cursor_body.ts";
import { HeadParser, INVALID, NEED_MORE } from "./_head_parser.ts";
import type { InputCursor } from "./_input_cursor.ts";
import { HttpHeaders } from "./http_headers.ts";

const SIZE = 0;
const EXT_BWS = 1;
const EXT_NAME_START = 2;
const EXT_NAME = 3;
const EXT_AFTER_NAME = 4;
const EXT_VALUE_START = 5;
const EXT_TOKEN = 6;
const EXT_QUOTED = 7;
const EXT_QUOTED_PAIR = 8;
const EXT_AFTER_VALUE = 9;
const SIZE_LF = 10;
const DATA = 11;
const DATA_CR = 12;
const DATA_LF = 13;
const TRAILERS = 14;
const DONE = 15;

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
// The longest chunk-size line with its extensions (Node settled on a bound after
// CVE-2024-22019, where unbounded extensions let a client make a server read forever).
const MAX_CHUNK_LINE_BYTES = 4096;
// 15 hex digits reach 2^60: any size past Number.MAX_SAFE_INTEGER is refused before that.
const MAX_SIZE_DIGITS = 15;
const EMPTY_BUFFER = ReadableBuffer.from([]);

/** Limits of a chunked body. */
export interface ChunkedBodyLimits {
  /** Data bytes in all chunks. */
  maxBodyBytes: number;
  /** Bytes of the trailer section. */
  maxTrailerBytes: number;
  /** Trailer field lines. */
  maxTrailerFields: number;
}

/** A chunked body: its data runs, read where they lie in the input. */
export class ChunkedBody extends CursorBody {
  readonly #limits: ChunkedBodyLimits;
  #status = 0;
  /** The trailer fields, once the last chunk came. */
  trailers: HttpHeaders | undefined;

  // Data runs found and not consumed, in order: piece k is the input's bytes
  // [#starts[k], #starts[k] + #lengths[k]) of the held buffer; #firstPiece..#pieceCount-1.
  readonly #starts: number[] = [];
  readonly #lengths: number[] = [];
  #firstPiece = 0;
  #pieceCount = 0;
  #ready = 0; // data bytes in the pieces
  // The parse frontier (in the held buffer) and the framing state there (see the table).
  #scanPos = 0;
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #lineBytes = 0;
  #chunkRemaining = 0;
  #total = 0; // data bytes in all chunks so far
  #framingOffset = 0; // bytes of the body's framing and data parsed before the frontier
  #trailerStart = 0;
  #end = 0; // after the trailer section, once DONE
  #trailerParser: HeadParser | undefined;
  // The buffer of a result: reused, over reused segment objects.
  readonly #segments: BufferSegment[] = [];
  readonly #buffer = ReadableBuffer.from([]);
  readonly #runs = new RunCursor();

  /**
   * @param cursor The connection's input; the framing starts at its offset.
   * @param limits Size limits.
   * @param onStart Called before the first read (sends 100 Continue when the client waits).
   */
  constructor(cursor: InputCursor, limits: ChunkedBodyLimits, onStart: () => void) {
    super(cursor, onStart);
    this.#limits = limits;
    this.#scanPos = cursor.offset;
  }

  get done(): boolean {
    return this.#state === DONE && this.cursor.offset === this.#end;
  }

  get status(): number {
    return this.#status;
  }

  protected ready(): number {
    try {
      this.#parse();
    } catch (error) {
      this.#status = bodyErrorStatus(error) ?? 400;
      throw error;
    }
    return this.#ready;
  }

  protected get ends(): boolean {
    return this.#state === DONE;
  }

  protected bufferOf(length: number): ReadableBuffer {
    if (length === 0) return EMPTY_BUFFER;
    // The input's segments one by one (no joining: each data run keeps its segment's block),
    // walked forward from the first piece: pieces come in input order.
    const walkFrom = this.#starts[this.#firstPiece] as number;
    const runs = walkRuns(this.cursor.buffer, this.#runs, walkFrom, this.cursor.buffer.length, false);
    let count = 0;
    let position = 0;
    let left = length;
    for (let k = this.#firstPiece; k < this.#pieceCount && left > 0; k++) {
      let from = (this.#starts[k] as number) - walkFrom; // an offset in the walk
      let n = Math.min(this.#lengths[k] as number, left);
      left -= n;
      while (n > 0) {
        runs.seek(from);
        const at = runs.from + (from - runs.offset);
        const take = Math.min(n, runs.to - at);
        let seg = this.#segments[count];
        if (seg === undefined) {
          seg = new BufferSegment(null, runs.bytes, 0, 0);
          this.#segments.push(seg);
        }
        seg.block = runs.block;
        seg.bytes = runs.bytes.subarray(at, at + take);
        seg.end = take;
        seg.runningIndex = position;
        count++;
        position += take;
        from += take;
        n -= take;
      }
    }
    runs.finish();
    retargetBuffer(this.#buffer, this.#segments, 0, count - 1, 0, length);
    return this.#buffer;
  }

  protected consume(count: number): void {
    let left = count;
    while (left > 0) {
      const k = this.#firstPiece;
      const length = this.#lengths[k] as number;
      if (left < length) {
        this.#starts[k] = (this.#starts[k] as number) + left;
        this.#lengths[k] = length - left;
        break;
      }
      left -= length;
      this.#firstPiece++;
    }
    this.#ready -= count;
    if (this.#firstPiece === this.#pieceCount) {
      this.#firstPiece = this.#pieceCount = 0;
      // No data left before the frontier: the framing state there stands for every byte
      // before it, so they are all consumed (the trailer section is parsed from its start).
      this.cursor.offset = this.#state === TRAILERS
        ? this.#trailerStart
        : this.#state === DONE
        ? this.#end
        : this.#scanPos;
    } else {
      this.cursor.offset = this.#starts[this.#firstPiece] as number;
    }
  }

  protected beforeRelease(): void {
    const shift = this.cursor.offset;
    if (shift === 0 || !this.cursor.held) return;
    for (let k = this.#firstPiece; k < this.#pieceCount; k++) this.#starts[k] = (this.#starts[k] as number) - shift;
    this.#scanPos -= shift;
    this.#trailerStart -= shift;
    this.#end -= shift;
  }

  protected truncated(): Error {
    return truncatedBody(this.#total, undefined);
  }

  protected timedOut(): Error {
    return bodyTimedOut(this.#total);
  }

  async drain(limit: number): Promise<boolean> {
    const cursor = this.cursor;
    let discarded = 0;
    try {
      for (;;) {
        if (cursor.held) {
          const n = this.ready();
          discarded += n;
          if (discarded > limit) return false;
          this.consume(n);
          if (this.done) return true;
          if (cursor.ended) return false;
        }
        this.beforeRelease();
        await cursor.read();
        if (cursor.canceled) return false;
      }
    } catch {
      return false;
    }
  }

  /** Parses the framing from the frontier to the end of the held input, recording data runs. */
  #parse(): void {
    const buffer = this.cursor.buffer;
    const length = buffer.length;
    while (this.#scanPos < length && this.#state !== DONE) {
      if (this.#state === DATA) {
        const n = Math.min(this.#chunkRemaining, length - this.#scanPos);
        this.#addPiece(this.#scanPos, n);
        this.#scanPos += n;
        this.#framingOffset += n;
        this.#chunkRemaining -= n;
        if (this.#chunkRemaining === 0) this.#state = DATA_CR;
      } else if (this.#state === TRAILERS) {
        const limits = this.#limits;
        const parser = this.#trailerParser ??= new HeadParser(limits.maxTrailerBytes, limits.maxTrailerFields, true);
        const size = parser.parse(buffer, this.#trailerStart);
        if (size === NEED_MORE) {
          this.#scanPos = length;
          return;
        }
        if (size === INVALID) {
          if (parser.errorStatus === 431) {
            throw trailersTooLarge("they must fit maxHeadBytes and maxHeaderCount", parser.scanned);
          }
          throw malformedChunk(
            `the trailers must be valid field lines (${parser.errorReason})`,
            this.#framingOffset + parser.errorOffset,
          );
        }
        const copy = buffer.slice(this.#trailerStart, this.#trailerStart + size).toUint8Array();
        const count = parser.fieldCount;
        this.trailers = new HttpHeaders(copy, 0, parser.fields.slice(0, count * 4), count, null);
        this.#end = this.#scanPos = this.#trailerStart + size;
        this.#framingOffset += size;
        this.#state = DONE;
        // With no data left to hand out, the cursor moves past the body now.
        if (this.#firstPiece === this.#pieceCount) this.cursor.offset = this.#end;
      } else {
        const used = this.#scan(buffer, this.#scanPos);
        this.#scanPos += used;
        this.#framingOffset += used;
        if (this.#state === TRAILERS) this.#trailerStart = this.#scanPos;
      }
    }
  }

  /** Records data run [start, start + length), joined to the last one when they touch. */
  #addPiece(start: number, length: number): void {
    const last = this.#pieceCount - 1;
    if (last >= this.#firstPiece && (this.#starts[last] as number) + (this.#lengths[last] as number) === start) {
      this.#lengths[last] = (this.#lengths[last] as number) + length;
    } else {
      this.#starts[this.#pieceCount] = start;
      this.#lengths[this.#pieceCount] = length;
      this.#pieceCount++;
    }
    this.#ready += length;
  }

  /** Steps through framing bytes from `offset` until data or trailers begin; returns the bytes used. */
  #scan(buffer: ReadableBuffer, offset: number): number {
    let used = 0;
    for (const view of buffer.slice(offset)) {
      for (let i = 0; i < view.length; i++) {
        const c = view[i] as number;
        const k = CLASS[c] as number;
        used++;
        if (this.#state <= SIZE_LF && ++this.#lineBytes > MAX_CHUNK_LINE_BYTES) {
          throw malformedChunk(`a chunk-size line must be at most ${MAX_CHUNK_LINE_BYTES} bytes`, this.#at(used));
        }
        switch (this.#state) {
          case SIZE:
            if ((k & HEX) !== 0) {
              if (++this.#digits > MAX_SIZE_DIGITS) {
                throw malformedChunk("a chunk size must be at most 15 hex digits", this.#at(used));
              }
              this.#size = this.#size * 16 + (HEX_VALUE[c] as number);
            } else if (this.#digits === 0) {
              throw malformedChunk("a chunk size must start with a hex digit", this.#at(used));
            } else if (c === CR) this.#state = SIZE_LF;
            else if (c === SEMICOLON) this.#state = EXT_NAME_START;
            else if ((k & WS) !== 0) this.#state = EXT_BWS;
            else throw malformedChunk("a chunk size must be hex digits", this.#at(used));
            break;
          case EXT_BWS:
            if (c === SEMICOLON) this.#state = EXT_NAME_START;
            else if ((k & WS) === 0) throw this.#badExtension(used);
            break;
          case EXT_NAME_START:
            if ((k & TCHAR) !== 0) this.#state = EXT_NAME;
            else if ((k & WS) === 0) throw this.#badExtension(used);
            break;
          case EXT_NAME:
          case EXT_AFTER_NAME:
            if ((k & TCHAR) !== 0 && this.#state === EXT_NAME) break;
            if ((k & WS) !== 0) this.#state = EXT_AFTER_NAME;
            else if (c === EQUALS) this.#state = EXT_VALUE_START;
            else if (c === SEMICOLON) this.#state = EXT_NAME_START;
            else if (c === CR) this.#state = SIZE_LF;
            else throw this.#badExtension(used);
            break;
          case EXT_VALUE_START:
            if (c === DQUOTE) this.#state = EXT_QUOTED;
            else if ((k & TCHAR) !== 0) this.#state = EXT_TOKEN;
            else if ((k & WS) === 0) throw this.#badExtension(used);
            break;
          case EXT_TOKEN:
          case EXT_AFTER_VALUE:
            if ((k & TCHAR) !== 0 && this.#state === EXT_TOKEN) break;
            if ((k & WS) !== 0) this.#state = EXT_BWS;
            else if (c === SEMICOLON) this.#state = EXT_NAME_START;
            else if (c === CR) this.#state = SIZE_LF;
            else throw this.#badExtension(used);
            break;
          case EXT_QUOTED:
            if (c === DQUOTE) this.#state = EXT_AFTER_VALUE;
            else if (c === BACKSLASH) this.#state = EXT_QUOTED_PAIR;
            else if ((k & (VCHAR | WS)) === 0) throw this.#badExtension(used);
            break;
          case EXT_QUOTED_PAIR:
            if ((k & (VCHAR | WS)) === 0) throw this.#badExtension(used);
            this.#state = EXT_QUOTED;
            break;
          case SIZE_LF: {
            if (c !== LF) throw malformedChunk("a chunk-size line must end in CRLF", this.#at(used));
            const size = this.#size;
            if (this.#total + size > this.#limits.maxBodyBytes) {
              throw bodyTooLarge(
                `the body must be at most maxBodyBytes (${this.#limits.maxBodyBytes})`,
                this.#total + size,
              );
            }
            this.#total += size;
            this.#size = 0;
            this.#digits = 0;
            this.#lineBytes = 0;
            this.#chunkRemaining = size;
            this.#state = size === 0 ? TRAILERS : DATA;
            return used;
          }
          case DATA_CR:
            if (c !== CR) throw malformedChunk("chunk data must be followed by CRLF", this.#at(used));
            this.#state = DATA_LF;
            break;
          case DATA_LF:
            if (c !== LF) throw malformedChunk("chunk data must be followed by CRLF", this.#at(used));
            this.#state = SIZE;
            break;
        }
      }
    }
    return used;
  }

  #at(used: number): number {
    return this.#framingOffset + used - 1;
  }

  #badExtension(used: number): TypeError {
    return malformedChunk("a chunk extension must be ;name[=token or quoted-string]", this.#at(used));
  }
}
