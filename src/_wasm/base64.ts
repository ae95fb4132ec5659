/**
 * Whole groups of base64 into memory, by the kernel, natively or in TypeScript, as the layer's
 * table chooses (./paths.ts); the codecs (src/base64.ts) handle everything irregular around them
 * (groups that straddle runs, padding, whitespace, errors) and never see which path ran.
 *
 * | path | where the result goes |
 * | --- | --- |
 * | kernel, output in the input's memory | written in place by the kernel |
 * | kernel, output in another memory | the kernel writes the input memory's scratch space, then one `set` (at most 32 KiB a call) |
 * | native | one string per 48 KiB of input (64 KiB of text), written into each output view in turn |
 * | TypeScript (input not in pool memory, or no kernels) | written in place |
 *
 * @module
 */

import { decodeGroupsReference, encodeGroupsReference } from "../_base64_reference.ts";
import { latin1Text, nativeBase64DecodeInto, nativeBase64Text, writeAscii } from "./native.ts";
import { pathFor } from "./paths.ts";
import { kernelsOf, SCRATCH_BYTES, SCRATCH_OFFSET, scratchView } from "./registry.ts";

/** Where a codec's output goes: a view of output memory filled from `at`. */
export interface ByteSink {
  /** The current output view. */
  view: Uint8Array;
  /** Bytes of `view` written so far. */
  at: number;
  /** Makes sure `view` has room for `need` more bytes (may move to a new view, `at` 0). */
  room(need: number): void;
}

// Input bytes per native encode call (a multiple of 3): a 64 KiB string stays in the young
// generation, and one call amortises the native call's fixed cost (bench/base64.ts).
const NATIVE_ENCODE_BYTES = 48 * 1024;
// Characters per native decode string (a multiple of 4).
const NATIVE_DECODE_CHARS = 64 * 1024;

/** Encodes `src[from, from + length)` (whole groups: `length` a multiple of 3) into `sink`. */
export function encodeBase64Groups(src: Uint8Array, from: number, length: number, sink: ByteSink, url: boolean): void {
  const path = pathFor("base64Encode", length);
  if (path === "native") {
    nativeEncode(src, from, length, sink, url);
    return;
  }
  // (A view's `buffer` is a getter call that costs 30–50 ns: read once per call and per view.)
  const memory = path === "wasm" ? src.buffer : undefined;
  const kernels = memory === undefined ? undefined : kernelsOf(memory);
  const alphabet = url ? 1 : 0;
  let off = from;
  let left = length;
  while (left > 0) {
    sink.room(4);
    const view = sink.view;
    let groups = Math.min(left / 3, (view.length - sink.at) >>> 2);
    if (kernels === undefined) {
      sink.at += encodeGroupsReference(src, off, groups * 3, view, sink.at, alphabet);
    } else if (view.buffer === memory) {
      sink.at += kernels.base64Encode(src.byteOffset + off, groups * 3, view.byteOffset + sink.at, alphabet);
    } else {
      groups = Math.min(groups, SCRATCH_BYTES >>> 2);
      const n = kernels.base64Encode(src.byteOffset + off, groups * 3, SCRATCH_OFFSET, alphabet);
      view.set(scratchView(memory as ArrayBufferLike).subarray(0, n), sink.at);
      sink.at += n;
    }
    off += groups * 3;
    left -= groups * 3;
  }
}

function nativeEncode(src: Uint8Array, from: number, length: number, sink: ByteSink, url: boolean): void {
  for (let off = from, end = from + length; off < end;) {
    const n = Math.min(end - off, NATIVE_ENCODE_BYTES);
    const text = nativeBase64Text(src, off, off + n, url);
    for (let t = 0; t < text.length;) {
      sink.room(1);
      const k = Math.min(text.length - t, sink.view.length - sink.at);
      sink.at += writeAscii(text, t, t + k, sink.view, sink.at);
      t += k;
    }
    off += n;
  }
}

/**
 * Decodes `src[from, from + length)` (whole groups: `length` a multiple of 4) into `sink` up to
 * the group that holds the first character not in the alphabet. Returns `length` when all
 * decoded, else the offset (from `from`) where that group starts: the groups before it are
 * decoded, and the caller takes over there. `allowNative` false keeps to the kernel: a stream
 * with whitespace in it (MIME lines) would make the native path fail and redo every line.
 */
export function decodeBase64Groups(
  src: Uint8Array,
  from: number,
  length: number,
  sink: ByteSink,
  url: boolean,
  allowNative: boolean = true,
): number {
  const path = pathFor("base64Decode", length);
  if (path === "native" && allowNative) {
    const done = nativeDecode(src, from, length, sink, url);
    if (done === length) return length;
    // Something irregular in the piece from `done` on: the kernel (or TypeScript) redoes it and
    // says where.
    const r = groupsDecode(src, from + done, length - done, sink, url, true);
    return r === length - done ? length : done + r;
  }
  return groupsDecode(src, from, length, sink, url, path !== "typescript");
}

/** The kernel or TypeScript path of {@linkcode decodeBase64Groups}. */
function groupsDecode(
  src: Uint8Array,
  from: number,
  length: number,
  sink: ByteSink,
  url: boolean,
  useKernels: boolean,
): number {
  const memory = useKernels ? src.buffer : undefined;
  const kernels = memory === undefined ? undefined : kernelsOf(memory);
  const alphabet = url ? 1 : 0;
  const end = from + length;
  let off = from;
  while (off < end) {
    sink.room(3);
    const view = sink.view;
    let chars = Math.min(end - off, Math.floor((view.length - sink.at) / 3) * 4);
    let r: number;
    if (kernels === undefined) {
      r = decodeGroupsReference(src, off, chars, view, sink.at, alphabet);
    } else if (view.buffer === memory) {
      r = kernels.base64Decode(src.byteOffset + off, chars, view.byteOffset + sink.at, alphabet);
    } else {
      chars = Math.min(chars, Math.floor(SCRATCH_BYTES / 3) * 4);
      r = kernels.base64Decode(src.byteOffset + off, chars, SCRATCH_OFFSET, alphabet);
      const n = r >= 0 ? r : ((-1 - r) >>> 2) * 3;
      view.set(scratchView(memory as ArrayBufferLike).subarray(0, n), sink.at);
    }
    if (r < 0) {
      const whole = (-1 - r) & ~3;
      sink.at += (whole >>> 2) * 3;
      return off + whole - from;
    }
    sink.at += r;
    off += chars;
  }
  return length;
}

/**
 * The native path: a string per {@linkcode NATIVE_DECODE_CHARS} of text, `setFromBase64` into
 * each output view in turn. Returns how many characters it decoded: `length`, or where a piece
 * was not plain groups of the alphabet (a bad character, whitespace or padding: the native
 * decoder skips or accepts what strict mode rejects), for the caller to redo from there.
 */
function nativeDecode(src: Uint8Array, from: number, length: number, sink: ByteSink, url: boolean): number {
  for (let off = 0; off < length;) {
    const n = Math.min(length - off, NATIVE_DECODE_CHARS);
    const text = latin1Text(src, from + off, from + off + n);
    for (let t = 0; t < n;) {
      sink.room(3);
      const chars = Math.min(n - t, Math.floor((sink.view.length - sink.at) / 3) * 4);
      const bytes = (chars >>> 2) * 3;
      let ok = false;
      try {
        const piece = t === 0 && chars === n ? text : text.substring(t, t + chars);
        const r = nativeBase64DecodeInto(piece, sink.view, sink.at, url);
        ok = r.read === chars && r.written === bytes;
      } catch {
        // A character outside the alphabet (SyntaxError).
      }
      if (!ok) return off + t;
      sink.at += bytes;
      t += chars;
    }
    off += n;
  }
  return length;
}
