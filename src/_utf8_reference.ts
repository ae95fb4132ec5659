/**
 * Plain TypeScript UTF-8: the WHATWG decoder state machine (the oracle the tests compare the
 * kernels and {@linkcode Utf8Decoder} with), a scalar validator with the kernel's result
 * encoding (the fallback where WebAssembly cannot load), and the byte rules both share.
 *
 * The rules (RFC 3629, WHATWG Encoding §8.1.1): a sequence is a lead byte and 0–3
 * continuation bytes; the second byte's range depends on the lead, which is what rules out
 * overlong forms, surrogates and code points above U+10FFFF.
 *
 * | lead | length | second byte | later bytes |
 * | --- | --- | --- | --- |
 * | 00..7F | 1 | — | — |
 * | C2..DF | 2 | 80..BF | — |
 * | E0 | 3 | A0..BF | 80..BF |
 * | E1..EC, EE..EF | 3 | 80..BF | 80..BF |
 * | ED | 3 | 80..9F | 80..BF |
 * | F0 | 4 | 90..BF | 80..BF |
 * | F1..F3 | 4 | 80..BF | 80..BF |
 * | F4 | 4 | 80..8F | 80..BF |
 * | 80..C1, F5..FF | never a lead | | |
 *
 * A decoder in replacement mode turns each "maximal subpart" into one U+FFFD: a lead byte and
 * the continuation bytes that fit it before the first byte that does not (which is then
 * decoded afresh), or a lone byte that cannot start a sequence.
 *
 * @module
 */

import { typeError } from "./errors.ts";

/** Bytes in the sequence a lead byte starts: 1–4, or 0 when the byte cannot start one. */
export function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

/** True when `byte` may be byte number `index` (1–3) of a sequence that starts with `lead`. */
export function fitsAt(lead: number, index: number, byte: number): boolean {
  if (index === 1) {
    const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    return byte >= lo && byte <= hi;
  }
  return (byte & 0xc0) === 0x80;
}

/** The code point of the complete, valid sequence `bytes[0, length)`. */
export function codePointOf(bytes: Uint8Array, length: number): number {
  const b0 = bytes[0] as number;
  if (length === 1) return b0;
  let cp = b0 & (length === 2 ? 0x1f : length === 3 ? 0x0f : 0x07);
  for (let i = 1; i < length; i++) cp = (cp << 6) | ((bytes[i] as number) & 0x3f);
  return cp;
}

/**
 * Bytes in the maximal subpart that starts at `at` (where validation reported an error): the
 * lead and the continuation bytes that fit it, at least 1. Stops at `end`.
 */
export function maximalSubpart(bytes: Uint8Array, at: number, end: number): number {
  const lead = bytes[at] as number;
  const length = sequenceLength(lead);
  let k = 1;
  while (k < length && at + k < end && fitsAt(lead, k, bytes[at + k] as number)) k++;
  return k;
}

/**
 * Validates `bytes[from, to)` with the result encoding of the `utf8Validate` kernel: `r >= 0`
 * when the first `r` bytes are complete sequences and the rest (0–3 bytes) is a sequence that
 * is valid so far; `~offset` (negative) when the first invalid sequence starts at
 * `from + offset`.
 */
export function referenceValidate(bytes: Uint8Array, from: number, to: number): number {
  let p = from;
  while (p < to) {
    const lead = bytes[p] as number;
    if (lead < 0x80) {
      p++;
      continue;
    }
    const length = sequenceLength(lead);
    if (length === 0) return ~(p - from);
    for (let k = 1; k < length; k++) {
      if (p + k >= to) return p - from;
      if (!fitsAt(lead, k, bytes[p + k] as number)) return ~(p - from);
    }
    p += length;
  }
  return to - from;
}

/**
 * Bytes at the end of `bytes[from, to)` that start a sequence that is valid so far but
 * incomplete (0–3): what a decoder carries to the next segment or call. A lead byte is never
 * part of another sequence, so looking back 3 bytes decides it.
 */
export function openTail(bytes: Uint8Array, from: number, to: number): number {
  for (let i = 1; i <= 3 && to - i >= from; i++) {
    const b = bytes[to - i] as number;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      if (sequenceLength(b) <= i) return 0; // complete, or a byte that cannot lead (replaced now)
      for (let k = 1; k < i; k++) if (!fitsAt(b, k, bytes[to - i + k] as number)) return 0;
      return i;
    }
  }
  return 0;
}

/** Options of {@linkcode ReferenceUtf8Decoder}, as `TextDecoder`'s. */
export interface ReferenceUtf8DecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

/**
 * The WHATWG UTF-8 decoder, byte by byte, with `TextDecoder`'s streaming and BOM handling.
 * In fatal mode it throws a `TypeError` naming the offset of the bad sequence, counted from
 * the last non-stream decode (and starts afresh after throwing).
 */
export class ReferenceUtf8Decoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  // The spec's UTF-8 code point, bytes seen, bytes needed, lower and upper boundary.
  #codePoint = 0;
  #bytesSeen = 0;
  #bytesNeeded = 0;
  #lower = 0x80;
  #upper = 0xbf;
  // Offset of the open sequence's lead byte, and of the next byte, since the last reset.
  #sequenceStart = 0;
  #position = 0;
  #bomSeen = false;

  constructor(options: ReferenceUtf8DecoderOptions = {}) {
    this.#fatal = options.fatal === true;
    this.#ignoreBOM = options.ignoreBOM === true;
  }

  /** Decodes `bytes`; without `stream`, an open sequence at the end is an error. */
  decode(bytes: Uint8Array = new Uint8Array(0), stream = false): string {
    const units: number[] = [];
    try {
      for (let i = 0; i < bytes.length; i++) {
        const byte = bytes[i] as number;
        const result = this.#step(byte);
        if (result === RETRY) {
          this.#emit(units, 0xfffd);
          i--; // the byte is decoded afresh (the spec's "restore byte to ioQueue")
          continue;
        }
        this.#position++;
        if (result >= 0) this.#emit(units, result);
      }
      if (!stream && this.#bytesNeeded !== 0) {
        this.#error(this.#sequenceStart);
        this.#bytesNeeded = this.#bytesSeen = this.#codePoint = 0;
        this.#emit(units, 0xfffd);
      }
    } catch (error) {
      this.#reset();
      throw error;
    }
    let out = "";
    for (let i = 0; i < units.length; i += 4096) out += String.fromCharCode(...units.slice(i, i + 4096));
    if (!stream) this.#reset();
    return out;
  }

  #emit(units: number[], cp: number): void {
    if (!this.#bomSeen && !this.#ignoreBOM) {
      this.#bomSeen = true;
      if (cp === 0xfeff) return;
    }
    this.#bomSeen = true;
    if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
  }

  /** One byte: a code point, CONTINUE, or RETRY (error; decode the byte again). */
  #step(byte: number): number {
    if (this.#bytesNeeded === 0) {
      if (byte <= 0x7f) return byte;
      this.#sequenceStart = this.#position;
      if (byte >= 0xc2 && byte <= 0xdf) {
        this.#bytesNeeded = 1;
        this.#codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) this.#lower = 0xa0;
        if (byte === 0xed) this.#upper = 0x9f;
        this.#bytesNeeded = 2;
        this.#codePoint = byte & 0xf;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) this.#lower = 0x90;
        if (byte === 0xf4) this.#upper = 0x8f;
        this.#bytesNeeded = 3;
        this.#codePoint = byte & 0x7;
      } else {
        this.#error(this.#position);
        return 0xfffd;
      }
      return CONTINUE;
    }
    if (byte < this.#lower || byte > this.#upper) {
      this.#error(this.#sequenceStart);
      this.#codePoint = this.#bytesNeeded = this.#bytesSeen = 0;
      this.#lower = 0x80;
      this.#upper = 0xbf;
      return RETRY;
    }
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#codePoint = (this.#codePoint << 6) | (byte & 0x3f);
    if (++this.#bytesSeen !== this.#bytesNeeded) return CONTINUE;
    const cp = this.#codePoint;
    this.#codePoint = this.#bytesNeeded = this.#bytesSeen = 0;
    return cp;
  }

  #error(offset: number): void {
    if (this.#fatal) throw typeError("decode UTF-8", `the sequence at byte offset ${offset} is invalid`, offset);
  }

  #reset(): void {
    this.#codePoint = this.#bytesNeeded = this.#bytesSeen = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
    this.#position = 0;
    this.#sequenceStart = 0;
    this.#bomSeen = false;
  }
}

const CONTINUE = -1;
const RETRY = -2;

/** The offset of the first invalid (or, at the end, truncated) sequence, or -1. */
export function referenceErrorOffset(bytes: Uint8Array): number {
  const r = referenceValidate(bytes, 0, bytes.length);
  return r < 0 ? ~r : r < bytes.length ? r : -1;
}
