/**
 * Frames into the output's pool memory (RFC 6455 §5.2): the header, then the payload copied in
 * and, for a client, masked in place there by the mask kernel.
 *
 * ```
 *  0               1               2               3
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               | Masking-key, if MASK set to 1 |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 * ```
 *
 * A frame whose header and payload fit in {@linkcode ONE_VIEW_BYTES} is written into one
 * `getMemory` view (one block); a longer payload streams into the views the channel gives, so
 * no oversize block is ever asked for. Nothing here flushes.
 *
 * @module
 */

import { RunCursor } from "../_runs.ts";
import { utf8Length } from "../_text.ts";
import { mask } from "../_wasm/mask.ts";
import { memoryDataOf } from "../_wasm/registry.ts";
import { type ReadableBuffer, walkRuns } from "../readable_buffer.ts";
import type { WritableChannel } from "../writable_channel.ts";

/** A frame this long or shorter (header included) is written into one view (a default pool block). */
export const ONE_VIEW_BYTES = 4096;
// Random bytes for masking keys, drawn in batches (a key per frame from crypto.getRandomValues
// would cost a call each).
const RANDOM_BYTES = 1024;
const encoder = new TextEncoder();
// Reused: a frame is written in one synchronous step.
const runs = new RunCursor();

/** Bytes of the length part of a header for a payload of `length` bytes. */
function lengthBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes frames into one output; `masked` for a client. */
export class FrameWriter {
  readonly #output: WritableChannel;
  readonly #masked: boolean;
  readonly #random: Uint8Array<ArrayBuffer>;
  #randomAt = RANDOM_BYTES;
  // The current frame's masking key (little-endian) and payload bytes written so far.
  #key = 0;
  #done = 0;
  // The view frames go into (until the next flush), where its free part starts, and where its
  // bytes not yet advanced start: frames are advanced together, when the view is left (full, or
  // at release), so a burst of frames costs one `advance`.
  #view: Uint8Array | undefined;
  // The whole pool memory's DataView #view lies in: null until asked, undefined when not pool memory.
  #viewData: DataView | undefined | null = null;
  #viewDataBase = 0;
  #at = 0;
  #base = 0;
  // Bytes of the frames written since the last release.
  #written = 0;

  /**
   * @param output Where frames go.
   * @param masked Mask every frame (a client's frames).
   */
  constructor(output: WritableChannel, masked: boolean) {
    this.#output = output;
    this.#masked = masked;
    this.#random = masked ? new Uint8Array(RANDOM_BYTES) : new Uint8Array(0);
  }

  /** Bytes of the frames written since the last {@linkcode release} (none of them flushed). */
  get written(): number {
    return this.#written;
  }

  /**
   * Advances the output past every frame written and forgets the view they went into: call it
   * before the output is flushed or completed (a `getMemory` view dies at the flush). Frames
   * written between releases share a view.
   */
  release(): void {
    const pending = this.#view !== undefined ? this.#at - this.#base : 0;
    this.#view = undefined;
    this.#viewData = null;
    this.#at = this.#base = this.#written = 0;
    if (pending > 0) this.#output.advance(pending);
  }

  /** A view with `need` bytes free from `this.#at` on: the last one when it has room. */
  #take(need: number): Uint8Array {
    const view = this.#view;
    if (view !== undefined) {
      if (view.length - this.#at >= need) return view;
      this.#output.advance(this.#at - this.#base);
    }
    const fresh = this.#output.getMemory(need);
    this.#view = fresh;
    this.#viewData = null;
    this.#at = this.#base = 0;
    return fresh;
  }

  /** Commits `view[base, at)` and remembers where the view's free part starts. */
  #commit(view: Uint8Array, base: number, at: number): void {
    this.#written += at - base;
    this.#view = view;
    this.#at = at;
  }

  /** Commits the full `view[base, at)` and takes a fresh view of at least `need` bytes. */
  #next(base: number, at: number, need: number = 1): Uint8Array {
    this.#written += at - base;
    this.#output.advance(at - this.#base);
    this.#view = undefined;
    return this.#take(need);
  }

  /**
   * Writes a frame whose payload is `payload` (copied; masked for a client).
   *
   * @param first The first header byte: FIN, RSV1 and the opcode.
   */
  write(first: number, payload: Uint8Array | ReadableBuffer): void {
    if (payload instanceof Uint8Array) {
      this.writeRange(first, payload, 0, payload.length);
      return;
    }
    const length = payload.length;
    const total = lengthBytes(length) + (this.#masked ? 4 : 0) + length;
    let view = this.#take(total <= ONE_VIEW_BYTES ? total : 14);
    let base = this.#at;
    let at = this.#header(view, base, first, length);
    this.#done = 0;
    walkRuns(payload, runs);
    while (runs.next()) {
      const bytes = runs.bytes;
      let from = runs.from;
      const to = runs.to;
      while (from < to) {
        if (at === view.length) {
          view = this.#next(base, at);
          base = at = 0;
        }
        const n = Math.min(view.length - at, to - from);
        copy(bytes, from, n, view, at);
        this.#maskPart(view, at, n);
        at += n;
        from += n;
      }
    }
    this.#commit(view, base, at);
  }

  /**
   * Writes a frame whose payload is `bytes[from, to)` (copied; masked for a client).
   *
   * @param first The first header byte: FIN, RSV1 and the opcode.
   */
  writeRange(first: number, bytes: Uint8Array, from: number, to: number): void {
    const length = to - from;
    const current = this.#view;
    if (length < 126 && !this.#masked && current !== undefined && current.length - this.#at >= length + 2) {
      // A short unmasked frame into the view in use (an echo's reply): no header or commit call.
      const start = this.#at;
      current[start] = first;
      current[start + 1] = length;
      copy(bytes, from, length, current, start + 2);
      this.#at = start + 2 + length;
      this.#written += 2 + length;
      return;
    }
    const total = lengthBytes(length) + (this.#masked ? 4 : 0) + length;
    let view = this.#take(total <= ONE_VIEW_BYTES ? total : 14);
    let base = this.#at;
    let at = this.#header(view, base, first, length);
    this.#done = 0;
    let next = from;
    while (next < to) {
      if (at === view.length) {
        view = this.#next(base, at);
        base = at = 0;
      }
      const n = Math.min(view.length - at, to - next);
      copy(bytes, next, n, view, at);
      this.#maskPart(view, at, n);
      at += n;
      next += n;
    }
    this.#commit(view, base, at);
  }

  /**
   * Writes a short unmasked frame (payload at most 125 bytes) whose payload is `n` bytes at `at`
   * of a pool memory's `DataView`, when the view in use has room and is pool memory too: copied
   * four bytes a step. Returns false (nothing written) otherwise.
   *
   * @param first The first header byte: FIN, RSV1 and the opcode.
   */
  writeShortData(first: number, data: DataView, at: number, n: number): boolean {
    const current = this.#view;
    if (current === undefined || this.#masked || n > 125 || current.length - this.#at < n + 2) return false;
    let target = this.#viewData;
    if (target === null) {
      target = this.#viewData = memoryDataOf(current.buffer);
      this.#viewDataBase = current.byteOffset;
    }
    if (target === undefined) return false;
    const start = this.#at;
    current[start] = first;
    current[start + 1] = n;
    let t = (this.#viewDataBase + start + 2) | 0;
    let s = at | 0;
    const end = (s + n) | 0;
    for (const last = end - 3; s < last; s += 4, t += 4) target.setInt32(t, data.getInt32(s, true), true);
    for (; s < end; s++, t++) target.setUint8(t, data.getUint8(s));
    this.#at = start + 2 + n;
    this.#written += 2 + n;
    return true;
  }

  /**
   * Writes a frame whose payload is `text` in UTF-8, encoded straight into the output.
   *
   * @param first The first header byte: FIN and the opcode.
   */
  writeText(first: number, text: string): void {
    const units = text.length;
    const maskBytes = this.#masked ? 4 : 0;
    const most = units * 3;
    if (most + 14 <= ONE_VIEW_BYTES) {
      // The header for the longest the text can be; moved up when it is shorter.
      const reserved = lengthBytes(most) + maskBytes;
      const view = this.#take(reserved + most);
      const base = this.#at;
      const written = units === 0 ? 0 : encodeAt(text, view, base + reserved);
      const headerBytes = lengthBytes(written) + maskBytes;
      if (headerBytes < reserved) view.copyWithin(base + headerBytes, base + reserved, base + reserved + written);
      this.#done = 0;
      const at = this.#header(view, base, first, written);
      this.#maskPart(view, at, written);
      this.#commit(view, base, at + written);
      return;
    }
    const length = utf8Length(text);
    let view = this.#take(14);
    let base = this.#at;
    let at = this.#header(view, base, first, length);
    this.#done = 0;
    let rest = text;
    for (;;) {
      const { read, written } = encoder.encodeInto(rest, at === 0 ? view : view.subarray(at));
      this.#maskPart(view, at, written);
      at += written;
      if (read === rest.length) break;
      rest = rest.slice(read);
      view = this.#next(base, at, 4); // room for any character
      base = at = 0;
    }
    this.#commit(view, base, at);
  }

  /** Writes the header at `view[base]`; returns the offset after it. Draws the masking key. */
  #header(view: Uint8Array, base: number, first: number, length: number): number {
    view[base] = first;
    const maskBit = this.#masked ? 0x80 : 0;
    let at: number;
    if (length < 126) {
      view[base + 1] = maskBit | length;
      at = base + 2;
    } else if (length < 65536) {
      view[base + 1] = maskBit | 126;
      view[base + 2] = length >>> 8;
      view[base + 3] = length & 0xff;
      at = base + 4;
    } else {
      view[base + 1] = maskBit | 127;
      const high = Math.floor(length / 4294967296);
      view[base + 2] = high >>> 24;
      view[base + 3] = (high >>> 16) & 0xff;
      view[base + 4] = (high >>> 8) & 0xff;
      view[base + 5] = high & 0xff;
      view[base + 6] = length >>> 24;
      view[base + 7] = (length >>> 16) & 0xff;
      view[base + 8] = (length >>> 8) & 0xff;
      view[base + 9] = length & 0xff;
      at = base + 10;
    }
    if (this.#masked) {
      if (this.#randomAt === RANDOM_BYTES) {
        crypto.getRandomValues(this.#random);
        this.#randomAt = 0;
      }
      const r = this.#random;
      const i = this.#randomAt;
      const k0 = r[i] as number, k1 = r[i + 1] as number, k2 = r[i + 2] as number, k3 = r[i + 3] as number;
      this.#randomAt = i + 4;
      view[at] = k0;
      view[at + 1] = k1;
      view[at + 2] = k2;
      view[at + 3] = k3;
      this.#key = (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) >>> 0;
      at += 4;
    }
    return at;
  }

  /** Masks the next `n` payload bytes, at `view[at, at + n)`. */
  #maskPart(view: Uint8Array, at: number, n: number): void {
    if (!this.#masked || n === 0) return;
    mask(view, at, at + n, this.#key, this.#done & 3);
    this.#done += n;
  }
}

// Up to this many bytes a loop copies faster than making a subarray for set().
const LOOP_COPY_BYTES = 64;

/** Copies `n` bytes from `source` at `from` into `target` at `at`. */
function copy(source: Uint8Array, from: number, n: number, target: Uint8Array, at: number): void {
  if (n <= LOOP_COPY_BYTES) {
    // Positions as int32 (`| 0`, lossless: they index one typed array): a caller's position
    // held as a double would make every step of the loop double arithmetic on JavaScriptCore.
    const s = from | 0;
    const t = at | 0;
    for (let i = 0; i < n; i++) target[t + i] = source[s + i] as number;
  } else {
    target.set(from === 0 && n === source.length ? source : source.subarray(from, from + n), at);
  }
}

/** Encodes `text` into `view` at `at` (the whole text fits); returns the bytes written. */
function encodeAt(text: string, view: Uint8Array, at: number): number {
  // Short ASCII is quicker by hand than through encodeInto and a subarray.
  const n = text.length;
  if (n <= 32) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      view[at + i] = c;
    }
    if (i === n) return n;
  }
  return encoder.encodeInto(text, view.subarray(at)).written;
}
