// A chunked request body (RFC 9112 §7.1) as a ReadableChannel: a pump decodes the framing
// from the connection's input and copies each chunk's data into a channel of its own (one
// copy: the data of consecutive chunks is not contiguous in the input), which the handler
// reads with every channel guarantee (a read returns all unconsumed data, examined,
// backpressure). Trailer fields end up in `trailers`. Internal.
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

import { Channel } from "../channel.ts";
import type { MemoryPool } from "../memory_pool.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadOptions, ReadResult } from "../readable_channel.ts";
import type { WritableChannel } from "../writable_channel.ts";
import { CLASS, CR, HEX, HEX_VALUE, LF, TCHAR, VCHAR, WS } from "./_chars.ts";
import { bodyErrorStatus, bodyTooLarge, malformedChunk, trailersTooLarge, truncatedBody } from "./_body_errors.ts";
import type { RequestBody } from "./_fixed_body.ts";
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

/** Limits of a chunked body. */
export interface ChunkedBodyLimits {
  /** Data bytes in all chunks. */
  maxBodyBytes: number;
  /** Bytes of the trailer section. */
  maxTrailerBytes: number;
  /** Trailer field lines. */
  maxTrailerFields: number;
}

/** A chunked body: a pump from the input's framing into a channel the handler reads. */
export class ChunkedBody implements RequestBody {
  readonly #cursor: InputCursor;
  readonly #channel: Channel;
  readonly #limits: ChunkedBodyLimits;
  readonly #onStart: () => void;
  #pump: Promise<boolean> | undefined;
  #started = false;
  // The reader is gone (completed by the user, or the handler settled): data is skipped,
  // at most #discardLimit bytes of it.
  #discard = false;
  #discardLimit = Infinity;
  #discarded = 0;
  /** The status a framing error answers with (0: none). */
  status = 0;
  /** The trailer fields, once the last chunk came. */
  trailers: HttpHeaders | undefined;

  // Framing state: see the table.
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #lineBytes = 0;
  #chunkRemaining = 0;
  #total = 0;
  #framingOffset = 0; // bytes of framing and data decoded so far (error offsets)
  #trailerParser: HeadParser | undefined;

  /**
   * @param cursor The connection's input; the framing starts at its offset.
   * @param pool Where the decoded data goes.
   * @param limits Size limits.
   * @param onStart Called before the first read (sends 100 Continue when the client waits).
   */
  constructor(cursor: InputCursor, pool: MemoryPool, limits: ChunkedBodyLimits, onStart: () => void) {
    this.#cursor = cursor;
    this.#channel = new Channel({ pool });
    this.#limits = limits;
    this.#onStart = onStart;
  }

  get started(): boolean {
    return this.#started;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  read(options?: ReadOptions): Promise<ReadResult> {
    this.#start();
    return this.#channel.reader.read(options);
  }

  readAtLeast(minimumSize: number, options?: ReadOptions): Promise<ReadResult> {
    this.#start();
    return this.#channel.reader.readAtLeast(minimumSize, options);
  }

  tryRead(): ReadResult | undefined {
    this.#start();
    return this.#channel.reader.tryRead();
  }

  advanceTo(consumed: number, examined?: number): void {
    this.#channel.reader.advanceTo(consumed, examined);
  }

  cancelPendingRead(): void {
    this.#channel.reader.cancelPendingRead();
  }

  complete(error?: unknown): void {
    this.#channel.reader.complete(error);
  }

  detach(): Promise<void> | undefined {
    this.#discard = true;
    this.#channel.reader.complete();
    return undefined;
  }

  async drain(limit: number): Promise<boolean> {
    this.#discard = true;
    this.#discardLimit = limit;
    this.#channel.reader.complete();
    this.#pump ??= this.#run();
    return await this.#pump;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#onStart();
    this.#pump = this.#run();
  }

  /** Decodes the framing to its end; true when it ended cleanly. */
  async #run(): Promise<boolean> {
    const cursor = this.#cursor;
    const writer = this.#channel.writer;
    let needMore = false;
    try {
      for (;;) {
        if (this.#state === DONE) {
          writer.complete();
          return true;
        }
        if (needMore || !cursor.held || cursor.available === 0) {
          if (cursor.held && cursor.ended) throw truncatedBody(this.#total, undefined);
          await cursor.read();
          if (cursor.canceled) {
            writer.complete();
            return false;
          }
          needMore = false;
          continue;
        }
        if (this.#state === DATA) {
          const n = Math.min(this.#chunkRemaining, cursor.available);
          if (this.#discard) {
            this.#discarded += n;
            if (this.#discarded > this.#discardLimit) {
              writer.complete();
              return false;
            }
          } else {
            copyInto(writer, cursor.buffer, cursor.offset, n);
          }
          cursor.offset += n;
          this.#framingOffset += n;
          this.#chunkRemaining -= n;
          if (this.#chunkRemaining === 0) this.#state = DATA_CR;
          if (!this.#discard) {
            const flushed = await writer.flush();
            if (flushed.isCompleted) this.#discard = true;
          }
          continue;
        }
        if (this.#state === TRAILERS) {
          const limits = this.#limits;
          const parser = this.#trailerParser ??= new HeadParser(limits.maxTrailerBytes, limits.maxTrailerFields, true);
          const length = parser.parse(cursor.buffer, cursor.offset);
          if (length === NEED_MORE) {
            needMore = true;
            continue;
          }
          if (length === INVALID) {
            if (parser.errorStatus === 431) {
              throw trailersTooLarge("they must fit maxHeadBytes and maxHeaderCount", parser.scanned);
            }
            throw malformedChunk(`the trailers must be valid field lines (${parser.errorReason})`, this.#framingOffset + parser.errorOffset);
          }
          const copy = cursor.buffer.slice(cursor.offset, cursor.offset + length).toUint8Array();
          const count = parser.fieldCount;
          this.trailers = new HttpHeaders(copy, 0, parser.fields.slice(0, count * 4), count, null);
          cursor.offset += length;
          this.#framingOffset += length;
          this.#state = DONE;
          continue;
        }
        const used = this.#scan(cursor.buffer, cursor.offset);
        cursor.offset += used;
        this.#framingOffset += used;
      }
    } catch (error) {
      this.status = bodyErrorStatus(error) ?? 400;
      writer.complete(error);
      return false;
    }
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
              if (++this.#digits > MAX_SIZE_DIGITS) throw malformedChunk("a chunk size must be at most 15 hex digits", this.#at(used));
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
              throw bodyTooLarge(`the body must be at most maxBodyBytes (${this.#limits.maxBodyBytes})`, this.#total + size);
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

/** Copies `length` bytes of `buffer` from `offset` into `writer`'s memory (not flushed). */
function copyInto(writer: WritableChannel, buffer: ReadableBuffer, offset: number, length: number): void {
  for (const view of buffer.slice(offset, offset + length)) {
    let at = 0;
    while (at < view.length) {
      const memory = writer.getMemory(Math.min(view.length - at, 65536));
      const n = Math.min(memory.length, view.length - at);
      memory.set(at === 0 && n === view.length ? view : view.subarray(at, at + n));
      writer.advance(n);
      at += n;
    }
  }
}
