/**
 * Base64 (RFC 4648 "base64" and "base64url") as channel-to-channel transforms:
 * {@linkcode base64Encoder} and {@linkcode base64Decoder}, for `pipeThrough`.
 *
 * Whole groups go to the kernel layer (src/_wasm/base64.ts), a run of adjacent segments at a
 * time: the WebAssembly kernels where the bytes lie (input segments in pool memory, output
 * straight into the output channel's pool memory), or the runtime's native base64 where the
 * benchmark measured it faster (Deno's `toBase64`/`setFromBase64`, Bun's `Buffer` encoder, on
 * long runs). Only the irregular parts run here: a group that straddles two runs (assembled in
 * a 3- or 4-entry array), the final group and its padding, whitespace, and errors.
 *
 * | path | copies? |
 * | --- | --- |
 * | kernel, input and output block in the same `WebAssembly.Memory` (the usual case: one pool, one slab) | none: the kernel reads the input segment and writes the output block |
 * | kernel, output block in another memory (another slab, an oversize block, another pool) | once: the kernel writes into the input memory's kernel scratch space, then one `set` into the output |
 * | native (Deno, Bun; long runs) | the runtime's string of the result (or of the text), written into (decoded into) the output blocks |
 * | input not in pool memory (`ReadableBuffer.from`), or kernels unavailable | none, in plain TypeScript (slower) |
 *
 * @module
 */

import {
  base64DecodeError,
  DECODE_ANY,
  DECODE_STD,
  DECODE_URL,
  ENCODE_STD,
  ENCODE_URL,
  encodeGroupsReference,
  isBase64Whitespace,
  RULES,
} from "./_base64_reference.ts";
import { RunCursor } from "./_runs.ts";
import { type ByteSink, decodeBase64Groups, encodeBase64Groups } from "./_wasm/base64.ts";
import { type ReadableBuffer, walkRuns } from "./readable_buffer.ts";
import type { ChannelTransform } from "./transform.ts";
import type { WritableChannel } from "./writable_channel.ts";

/** The two alphabets of RFC 4648: `"base64"` (`+` and `/`) and `"base64url"` (`-` and `_`). */
export type Base64Alphabet = "base64" | "base64url";

/** Options of {@linkcode base64Encoder}. */
export interface Base64EncoderOptions {
  /**
   * The alphabet: `"base64"` (RFC 4648 §4, `+` and `/`) or `"base64url"` (§5, `-` and `_`).
   *
   * @default {"base64"}
   */
  alphabet?: Base64Alphabet;
  /**
   * Whether the final group is padded to 4 characters with `=`.
   *
   * @default {true}
   */
  padding?: boolean;
}

/** Options of {@linkcode base64Decoder}. */
export interface Base64DecoderOptions {
  /**
   * The alphabet: `"base64"` (RFC 4648 §4, `+` and `/`) or `"base64url"` (§5, `-` and `_`).
   * Only strict mode holds input to it; lenient mode accepts both.
   *
   * @default {"base64"}
   */
  alphabet?: Base64Alphabet;
  /**
   * Strict RFC 4648 decoding: every byte must be in the alphabet (or skipped whitespace),
   * `=` may only pad the final group (to exactly 4 characters), and the unused bits of a
   * final partial group must be zero; a lone final character is an error. Any violation
   * throws a `TypeError` naming the byte offset in the whole input stream.
   *
   * `false` decodes leniently, byte for byte like Node's `Buffer.from(text, "base64")`:
   * both alphabets are accepted, every other byte is skipped, the first `=` ends the data
   * (the rest of the stream is read and ignored), unused bits are dropped, and so is a lone
   * final character. Nothing throws.
   *
   * @default {true}
   */
  strict?: boolean;
  /**
   * In strict mode, skip MIME-style whitespace (space, tab, CR, LF) anywhere in the input
   * instead of rejecting it. (Lenient mode skips it anyway.)
   *
   * @default {false}
   */
  skipWhitespace?: boolean;
}

const EQUALS = 0x3d;
const EMPTY = new Uint8Array(0);

/** The output side of a transform call: one getMemory view at a time, filled from `at`. */
class OutputCursor implements ByteSink {
  output: WritableChannel | undefined;
  view: Uint8Array = EMPTY;
  at = 0;
  #open = false;

  /** Makes sure the view has room for `need` more bytes (commits the old view first). */
  room(need: number): void {
    if (this.#open && this.view.length - this.at >= need) return;
    const output = this.output as WritableChannel;
    if (this.#open) output.advance(this.at);
    this.view = output.getMemory(need);
    this.at = 0;
    this.#open = true;
  }

  /** Commits what was written; the view must not be used afterwards. */
  commit(): void {
    if (this.#open) (this.output as WritableChannel).advance(this.at);
    this.#open = false;
    this.output = undefined;
  }

  /** Drops the view without committing (after an error). */
  abandon(): void {
    this.#open = false;
    this.output = undefined;
  }
}

function checkAlphabet(what: string, alphabet: unknown): boolean {
  if (alphabet === undefined || alphabet === "base64") return false;
  if (alphabet === "base64url") return true;
  throw new RangeError(
    `Cannot create the ${what} as alphabet must be "base64" or "base64url": received ${
      typeof alphabet === "string" ? JSON.stringify(alphabet) : String(alphabet)
    }`,
  );
}

function checkFlag(what: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(`Cannot create the ${what} as ${name} must be a boolean: received ${String(value)}`);
  }
  return value;
}

function checkOptions(what: string, options: unknown): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot create the ${what} as options must be an object: received ${String(options)}`);
  }
}

/**
 * A transform that encodes bytes as base64 text (ASCII bytes), for `pipeThrough`.
 * Groups of 3 bytes that straddle reads wait for the rest (they stay unconsumed); the end of
 * the stream encodes the final 1 or 2 bytes, padded with `=` unless `padding` is false.
 *
 * One transform per stream: it keeps no state between calls, so it may be reused once a
 * stream has ended.
 *
 * @param options The alphabet and whether to pad.
 * @returns The transform.
 * @throws {RangeError} When `alphabet` is not `"base64"` or `"base64url"`.
 * @throws {TypeError} When `options` is not an object or `padding` is not a boolean.
 *
 * @example Encoding a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { base64Encoder, Channel, pipeThrough } from "@channels/channels";
 *
 * const source = new Channel();
 * const reader = pipeThrough(source.reader, base64Encoder({ alphabet: "base64url", padding: false }));
 * await source.writer.write(new Uint8Array([0xfb, 0xff]));
 * await source.writer.write(new Uint8Array([0xbf, 0x01]));
 * source.writer.complete();
 *
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   text += new TextDecoder().decode(buffer.toUint8Array());
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * reader.complete();
 * assert.equal(text, "-_-_AQ");
 * ```
 */
export function base64Encoder(options: Base64EncoderOptions = {}): ChannelTransform {
  checkOptions("base64 encoder", options);
  const url = checkAlphabet("base64 encoder", options.alphabet);
  const padding = checkFlag("base64 encoder", "padding", options.padding, true);
  return new Base64EncoderTransform(url, padding);
}

class Base64EncoderTransform implements ChannelTransform {
  readonly #url: boolean;
  readonly #table: Uint8Array;
  readonly #padding: boolean;
  readonly #runs = new RunCursor();
  readonly #out = new OutputCursor();
  // A group straddling two runs, assembled here (never more than 3 bytes).
  readonly #group = new Uint8Array(3);
  #groupLength = 0;

  constructor(url: boolean, padding: boolean) {
    this.#url = url;
    this.#table = url ? ENCODE_URL : ENCODE_STD;
    this.#padding = padding;
  }

  transform(input: ReadableBuffer, output: WritableChannel, final: boolean): number {
    // A partial final group stays unconsumed until more comes (or the stream ends).
    const consumed = final ? input.length : input.length - (input.length % 3);
    const out = this.#out;
    out.output = output;
    this.#groupLength = 0;
    const runs = walkRuns(input, this.#runs, 0, consumed);
    while (runs.next()) {
      const bytes = runs.bytes;
      let off = runs.from;
      const end = runs.to;
      if (this.#groupLength > 0) {
        while (off < end && this.#groupLength < 3) this.#group[this.#groupLength++] = bytes[off++] as number;
        if (this.#groupLength < 3) continue;
        out.room(4);
        out.at += encodeGroupsReference(this.#group, 0, 3, out.view, out.at, this.#url ? 1 : 0);
        this.#groupLength = 0;
      }
      const whole = end - off - ((end - off) % 3);
      if (whole > 0) encodeBase64Groups(bytes, off, whole, out, this.#url);
      off += whole;
      while (off < end) this.#group[this.#groupLength++] = bytes[off++] as number;
    }
    if (this.#groupLength > 0) this.#encodeFinal();
    out.commit();
    return consumed;
  }

  /** The final 1 or 2 bytes: 2 or 3 characters, and the padding. */
  #encodeFinal(): void {
    const out = this.#out;
    const table = this.#table;
    const n = this.#groupLength;
    const b0 = this.#group[0] as number;
    const b1 = n > 1 ? this.#group[1] as number : 0;
    out.room(4);
    const view = out.view;
    let at = out.at;
    view[at++] = table[b0 >>> 2] as number;
    view[at++] = table[((b0 & 3) << 4) | (b1 >>> 4)] as number;
    if (n > 1) view[at++] = table[(b1 & 15) << 2] as number;
    else if (this.#padding) view[at++] = EQUALS;
    if (this.#padding) view[at++] = EQUALS;
    out.at = at;
    this.#groupLength = 0;
  }
}

/**
 * A transform that decodes base64 text into bytes, for `pipeThrough`. Padded and
 * unpadded input are both accepted. Groups may straddle any number of reads and segments; the
 * transform carries at most 3 pending characters' worth of state, so it consumes every byte
 * it is given (whitespace included) and never holds input back.
 *
 * Strict mode (the default) follows RFC 4648 and throws on the first violation, naming its
 * byte offset from the start of the input stream; `strict: false` decodes like Node's
 * `Buffer.from(text, "base64")` (see {@linkcode Base64DecoderOptions.strict}). One transform
 * per stream; it resets itself when a stream ends or fails.
 *
 * @param options The alphabet, strict or lenient, and whether whitespace is skipped.
 * @returns The transform.
 * @throws {RangeError} When `alphabet` is not `"base64"` or `"base64url"`.
 * @throws {TypeError} When `options` is not an object or `strict` or `skipWhitespace` is not
 * a boolean. While decoding, strict mode rejects (through the pipe's reader) with a
 * `TypeError` such as `Cannot decode base64 as the character is not in the alphabet:
 * received it at byte offset 4`.
 *
 * @example Decoding MIME-style text with line breaks
 * ```ts
 * import assert from "node:assert/strict";
 * import { base64Decoder, Channel, pipeThrough } from "@channels/channels";
 *
 * const source = new Channel();
 * const reader = pipeThrough(source.reader, base64Decoder({ skipWhitespace: true }));
 * await source.writer.writeUtf8("aGVsbG8s\r\nIHdv");
 * await source.writer.writeUtf8("cmxk\r\n");
 * source.writer.complete();
 *
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   text += new TextDecoder().decode(buffer.toUint8Array());
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * reader.complete();
 * assert.equal(text, "hello, world");
 * ```
 *
 * @example Strict mode names the offending byte
 * ```ts
 * import assert from "node:assert/strict";
 * import { base64Decoder, Channel, pipeThrough } from "@channels/channels";
 *
 * const source = new Channel();
 * const reader = pipeThrough(source.reader, base64Decoder());
 * await source.writer.writeUtf8("aGVsbG8=!");
 * source.writer.complete();
 * await assert.rejects(reader.read(), {
 *   name: "TypeError",
 *   message: "Cannot decode base64 as the character is not in the alphabet: received it at byte offset 8",
 * });
 * ```
 */
export function base64Decoder(options: Base64DecoderOptions = {}): ChannelTransform {
  checkOptions("base64 decoder", options);
  const url = checkAlphabet("base64 decoder", options.alphabet);
  const strict = checkFlag("base64 decoder", "strict", options.strict, true);
  const skipWhitespace = checkFlag("base64 decoder", "skipWhitespace", options.skipWhitespace, false);
  return new Base64DecoderTransform(url, strict, skipWhitespace);
}

// Decoder states (the pending group is #group[0, #groupLength)):
// | state | meaning | next |
// | --- | --- | --- |
// | DATA | between or inside groups | '=' after 2 → PAD_ONE_MORE, after 3 → DONE; lenient '=' → IGNORE |
// | PAD_ONE_MORE | "xx=" seen, one more '=' needed | '=' → DONE |
// | DONE | padding complete: only whitespace may follow | — |
// | IGNORE | lenient: the first '=' ended the data | — |
const DATA = 0;
const PAD_ONE_MORE = 1;
const DONE = 2;
const IGNORE = 3;

class Base64DecoderTransform implements ChannelTransform {
  readonly #url: boolean;
  readonly #strict: boolean;
  readonly #skipWhitespace: boolean;
  readonly #table: Uint8Array;
  readonly #runs = new RunCursor();
  readonly #out = new OutputCursor();
  // The sextets of a group in progress (it may straddle segments and calls).
  readonly #group = new Uint8Array(4);
  #groupLength = 0;
  #state = DATA;
  // Stream offset of the first byte of the next input (bytes consumed so far).
  #position = 0;
  // Stream offset of the last data character (the one a final-group error names).
  #lastData = 0;
  // Stream offset of the first '=' (an incomplete padding error names it).
  #firstPad = 0;
  // Whether whole groups may take the native path: not once the stream showed a byte outside
  // the alphabet between groups (whitespace, mostly), which would make it fail and redo.
  #native = true;

  constructor(url: boolean, strict: boolean, skipWhitespace: boolean) {
    this.#url = url;
    this.#strict = strict;
    this.#skipWhitespace = skipWhitespace;
    this.#table = !strict ? DECODE_ANY : url ? DECODE_URL : DECODE_STD;
  }

  transform(input: ReadableBuffer, output: WritableChannel, final: boolean): number {
    const out = this.#out;
    out.output = output;
    try {
      const runs = walkRuns(input, this.#runs);
      while (runs.next()) this.#decodeRun(runs.bytes, runs.from, runs.to - runs.from, this.#position + runs.offset);
      this.#position += input.length;
      if (final) this.#finish();
    } catch (error) {
      this.#runs.finish();
      out.abandon();
      this.#reset();
      throw error;
    }
    out.commit();
    if (final) this.#reset();
    return input.length;
  }

  #reset(): void {
    this.#groupLength = 0;
    this.#state = DATA;
    this.#position = 0;
    this.#native = true;
  }

  /** Decodes `bytes[from, from + length)`; `base` is the stream offset of `bytes[from]`. */
  #decodeRun(bytes: Uint8Array, from: number, length: number, base: number): void {
    const end = from + length;
    const table = this.#table;
    let off = from;
    while (off < end) {
      if (this.#state === IGNORE) return;
      // Fast path: at a group boundary, the kernel takes every whole group it can.
      if (this.#groupLength === 0 && this.#state === DATA && end - off >= 4) {
        const whole = end - off - ((end - off) % 4);
        const done = decodeBase64Groups(bytes, off, whole, this.#out, this.#url, this.#native);
        // Stopped inside: an irregular byte (whitespace, padding, an error) the native path
        // would fail on again and again.
        if (done < whole) this.#native = false;
        off += done;
        if (off >= end) return;
      }
      // Slow path, one character: until the group in progress completes.
      const c = bytes[off] as number;
      const v = table[c] as number;
      const offset = base + off - from;
      if (v < 64 && this.#state === DATA) {
        this.#group[this.#groupLength++] = v;
        this.#lastData = offset;
        if (this.#groupLength === 4) {
          this.#out.room(3);
          this.#emit(4);
        }
      } else if (!this.#strict) {
        if (c === EQUALS) this.#state = IGNORE;
      } else if (!(this.#skipWhitespace && isBase64Whitespace(c))) {
        this.#strictIrregular(c, v, offset);
      }
      off++;
    }
  }

  /** A strict-mode character that is not data in the DATA state (or comes after padding). */
  #strictIrregular(c: number, v: number, offset: number): void {
    if (c !== EQUALS) {
      throw base64DecodeError(v < 64 ? RULES.afterPadding : RULES.character, offset);
    }
    if (this.#state === PAD_ONE_MORE) {
      this.#finishGroup();
      this.#state = DONE;
      return;
    }
    if (this.#state === DONE || this.#groupLength < 2) throw base64DecodeError(RULES.padding, offset);
    if (this.#groupLength === 2) {
      this.#firstPad = offset;
      this.#state = PAD_ONE_MORE;
      return;
    }
    this.#finishGroup();
    this.#state = DONE;
  }

  /** The end of the stream: the final partial group, or an error. */
  #finish(): void {
    if (this.#state === PAD_ONE_MORE) throw base64DecodeError(RULES.incompletePadding, this.#firstPad);
    if (this.#groupLength === 1) {
      if (this.#strict) throw base64DecodeError(RULES.lone, this.#lastData);
      this.#groupLength = 0;
    }
    if (this.#groupLength > 0) this.#finishGroup();
  }

  /** Writes a final group of 2 or 3 characters (1 or 2 bytes), checking its unused bits. */
  #finishGroup(): void {
    const n = this.#groupLength;
    const last = this.#group[n - 1] as number;
    if (this.#strict && (n === 2 ? last & 15 : last & 3) !== 0) {
      throw base64DecodeError(RULES.trailingBits, this.#lastData);
    }
    this.#out.room(3);
    this.#emit(n);
  }

  /** Writes the bytes of the pending group of `n` sextets (4: 3 bytes; 3: 2; 2: 1). */
  #emit(n: number): void {
    const g = this.#group;
    const v = ((g[0] as number) << 18) | ((g[1] as number) << 12) | ((n > 2 ? g[2] as number : 0) << 6) |
      (n > 3 ? g[3] as number : 0);
    const out = this.#out;
    const view = out.view;
    view[out.at++] = v >>> 16;
    if (n > 2) view[out.at++] = (v >>> 8) & 255;
    if (n > 3) view[out.at++] = v & 255;
    this.#groupLength = 0;
  }
}
