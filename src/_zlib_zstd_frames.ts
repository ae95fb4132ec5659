/**
 * A walk over the frame structure of a zstd stream (RFC 8878 §3.1), without decoding: frame
 * and block headers give every length, so payloads are skipped by count. It tells where a
 * stream may end (between frames), which the zstd decoders of Deno and Bun do not report
 * when the input is cut short, and finds a bad frame magic at its exact offset.
 *
 * ```
 * frame      = magic FD2FB528 (LE) | descriptor | [window] | [dictionary id] | [content size] | block+ | [checksum 4]
 * block      = header 3 bytes LE (bit 0 last, bits 1-2 type, bits 3-23 size) | payload
 *              payload: raw → size bytes, RLE → 1 byte, compressed → size bytes
 * skippable  = magic 184D2A5? (LE) | size 4 bytes LE | size bytes
 * ```
 *
 * @module
 */

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a50;

// | state | collecting | next |
// | --- | --- | --- |
// | MAGIC | 4 bytes | zstd → DESCRIPTOR; skippable → SKIP_SIZE; else: bad magic |
// | DESCRIPTOR | 1 byte | HEADER (its length follows from the descriptor) or BLOCK_HEADER |
// | HEADER | n bytes skipped | BLOCK_HEADER |
// | BLOCK_HEADER | 3 bytes | BLOCK_BODY, or after an empty block as below |
// | BLOCK_BODY | n bytes skipped | BLOCK_HEADER; after the last block CHECKSUM or MAGIC |
// | CHECKSUM | 4 bytes skipped | MAGIC |
// | SKIP_SIZE | 4 bytes | SKIP_BODY |
// | SKIP_BODY | n bytes skipped | MAGIC |
const MAGIC = 0;
const DESCRIPTOR = 1;
const HEADER = 2;
const BLOCK_HEADER = 3;
const BLOCK_BODY = 4;
const CHECKSUM = 5;
const SKIP_SIZE = 6;
const SKIP_BODY = 7;

const DICTIONARY_ID_BYTES = [0, 1, 2, 4];
const CONTENT_SIZE_BYTES = [0, 2, 4, 8];

/** Walks a zstd stream piece by piece (see the module doc). */
export class ZstdFrames {
  #state = MAGIC;
  // Bytes still to collect or skip in this state.
  #need = 4;
  // A little-endian field being collected, and how many of its bytes came.
  #value = 0;
  #got = 0;
  #lastBlock = false;
  #checksum = false;
  // Stream offset of the next byte, and of the frame magic being collected.
  #position = 0;
  #magicAt = 0;
  /** Complete frames (zstd and skippable) seen so far. */
  frames = 0;

  /** True between frames, where a stream may end. */
  get atBoundary(): boolean {
    return this.#state === MAGIC && this.#got === 0;
  }

  /**
   * Walks `bytes[from, from + length)`, the next bytes of the stream. Returns -1, or the
   * stream offset of a frame that starts with neither magic.
   */
  walk(bytes: Uint8Array, from: number, length: number): number {
    let at = from;
    const end = from + length;
    while (at < end) {
      const state = this.#state;
      if (state === HEADER || state === BLOCK_BODY || state === CHECKSUM || state === SKIP_BODY) {
        const n = Math.min(this.#need, end - at);
        at += n;
        this.#position += n;
        this.#need -= n;
        if (this.#need === 0) this.#skipped();
        continue;
      }
      if (state === MAGIC && this.#got === 0) this.#magicAt = this.#position;
      const byte = bytes[at++] as number;
      this.#position++;
      this.#value = (this.#value + byte * 2 ** (8 * this.#got)) >>> 0;
      this.#got++;
      if (--this.#need > 0) continue;
      const value = this.#value;
      this.#value = 0;
      this.#got = 0;
      if (state === MAGIC) {
        if (value === ZSTD_MAGIC) this.#expect(DESCRIPTOR, 1);
        else if ((value & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC) this.#expect(SKIP_SIZE, 4);
        else return this.#magicAt;
      } else if (state === DESCRIPTOR) {
        const single = (value >>> 5) & 1;
        const contentFlag = value >>> 6;
        this.#checksum = ((value >>> 2) & 1) === 1;
        const header = (single === 1 ? 0 : 1) + (DICTIONARY_ID_BYTES[value & 3] as number) +
          (contentFlag === 0 ? single : CONTENT_SIZE_BYTES[contentFlag] as number);
        if (header > 0) this.#expect(HEADER, header);
        else this.#expect(BLOCK_HEADER, 3);
      } else if (state === BLOCK_HEADER) {
        this.#lastBlock = (value & 1) === 1;
        const type = (value >>> 1) & 3;
        const body = type === 1 ? 1 : value >>> 3;
        if (body > 0) this.#expect(BLOCK_BODY, body);
        else this.#afterBlock();
      } else if (state === SKIP_SIZE) {
        if (value > 0) this.#expect(SKIP_BODY, value);
        else this.#frameDone();
      }
    }
    return -1;
  }

  #expect(state: number, need: number): void {
    this.#state = state;
    this.#need = need;
  }

  /** The end of a skipped run of bytes. */
  #skipped(): void {
    const state = this.#state;
    if (state === HEADER) this.#expect(BLOCK_HEADER, 3);
    else if (state === BLOCK_BODY) this.#afterBlock();
    else this.#frameDone();
  }

  #afterBlock(): void {
    if (!this.#lastBlock) this.#expect(BLOCK_HEADER, 3);
    else if (this.#checksum) this.#expect(CHECKSUM, 4);
    else this.#frameDone();
  }

  #frameDone(): void {
    this.frames++;
    this.#expect(MAGIC, 4);
  }
}
