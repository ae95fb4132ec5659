/**
 * The runtime's own implementations the layer may pick instead of a kernel: what exists here,
 * and the fastest way to call each on bytes in memory (bench/base64.ts, bench/utf8.ts).
 *
 * | job | Deno (V8 15) | Bun (JSC) | Node 20 (V8 11.3) |
 * | --- | --- | --- | --- |
 * | base64 text of bytes | `toBase64()` | `Buffer#base64Slice` | `Buffer#base64Slice` |
 * | ASCII string into memory | `TextEncoder#encodeInto` (its `Buffer#latin1Write` is a JS loop) | `Buffer#latin1Write` | `Buffer#latin1Write` |
 * | string of bytes | `Buffer#latin1Slice` | `Buffer#latin1Slice` | `Buffer#latin1Slice` |
 * | base64 text into memory, strict | `setFromBase64` | `setFromBase64` | none (`Buffer` decodes leniently) |
 * | UTF-8 validation | `isUtf8` (a slow polyfill) | `isUtf8` (simdutf) | `isUtf8` (simdutf) |
 *
 * `Buffer` comes from `node:buffer` through `process.getBuiltinModule`, so nothing is imported
 * where it does not exist (browsers, some edge hosts); every member is optional.
 *
 * @module
 */

/** The runtime, for the choice table. */
export type Runtime = "deno" | "bun" | "node";

/** This runtime (hosts that are none of the three take Node's row: V8 without our measurements). */
export const RUNTIME: Runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : "node";

/**
 * The members of Node's `Buffer.prototype` the layer calls, on any `Uint8Array` as `this`
 * (offsets index that view; so they work in Node, Bun and Deno, and no `Buffer` is made per call).
 */
interface BufferMethods {
  base64Slice(this: Uint8Array, start: number, end: number): string;
  base64urlSlice(this: Uint8Array, start: number, end: number): string;
  latin1Slice(this: Uint8Array, start: number, end: number): string;
  latin1Write(this: Uint8Array, text: string, offset: number, length: number): number;
}

interface NodeBufferModule {
  Buffer?: { prototype: Partial<BufferMethods> };
  isUtf8?: (bytes: Uint8Array) => boolean;
}

/** The TC39 base64 methods (Deno, Bun; absent on Node 20). */
interface Base64Methods {
  toBase64?: (this: Uint8Array, options?: { alphabet?: "base64" | "base64url"; omitPadding?: boolean }) => string;
  setFromBase64?: (
    this: Uint8Array,
    text: string,
    options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" },
  ) => { read: number; written: number };
}

function nodeBufferModule(): NodeBufferModule {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return (process?.getBuiltinModule?.("node:buffer") as NodeBufferModule | undefined) ?? {};
  } catch {
    return {};
  }
}

const bufferModule = nodeBufferModule();
const bufferProto = bufferModule.Buffer?.prototype;
const BUFFER: BufferMethods | undefined = typeof bufferProto?.base64Slice === "function" &&
    typeof bufferProto.base64urlSlice === "function" && typeof bufferProto.latin1Slice === "function" &&
    typeof bufferProto.latin1Write === "function"
  ? bufferProto as BufferMethods
  : undefined;
const methods = Uint8Array.prototype as Base64Methods;
const toBase64 = methods.toBase64;
const setFromBase64 = methods.setFromBase64;
// Deno's Buffer#latin1Write is a JavaScript loop; TextEncoder#encodeInto is native everywhere.
const WRITE_WITH_ENCODER = RUNTIME === "deno" || BUFFER === undefined;
// Deno's toBase64 is simdutf; Bun's and Node's Buffer#base64Slice are as fast or faster (and
// Node 20 has no toBase64).
const ENCODE_WITH_TO_BASE64 = toBase64 !== undefined && (RUNTIME === "deno" || BUFFER === undefined);

/** `isUtf8` from `node:buffer`, or undefined where the runtime has none. */
export const nativeIsUtf8: ((bytes: Uint8Array) => boolean) | undefined = typeof bufferModule.isUtf8 === "function"
  ? bufferModule.isUtf8
  : undefined;

/** True where base64 text can be made natively. */
export const HAS_NATIVE_BASE64_ENCODE: boolean = ENCODE_WITH_TO_BASE64 || BUFFER !== undefined;

/** True where base64 can be decoded natively with strict RFC 4648 results (`setFromBase64`). */
export const HAS_NATIVE_BASE64_DECODE: boolean = setFromBase64 !== undefined;

const URL_ALPHABET = { alphabet: "base64url" } as const;
const URL_NO_PADDING = { alphabet: "base64url", omitPadding: true } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The base64 text of `bytes[from, to)` (whole groups: no padding), natively. */
export function nativeBase64Text(bytes: Uint8Array, from: number, to: number, url: boolean): string {
  if (ENCODE_WITH_TO_BASE64) {
    const view = from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to);
    return (toBase64 as NonNullable<typeof toBase64>).call(view, url ? URL_NO_PADDING : undefined);
  }
  const b = BUFFER as BufferMethods;
  return url ? b.base64urlSlice.call(bytes, from, to) : b.base64Slice.call(bytes, from, to);
}

/** Writes the ASCII characters `text[start, end)` into `target` at `at`; returns `end - start`. */
export function writeAscii(text: string, start: number, end: number, target: Uint8Array, at: number): number {
  const piece = start === 0 && end === text.length ? text : text.substring(start, end);
  if (WRITE_WITH_ENCODER) {
    // A fresh output view filled to its end (the usual case) needs no view of its own.
    const view = at === 0 && end - start === target.length ? target : target.subarray(at, at + end - start);
    return encoder.encodeInto(piece, view).written;
  }
  return (BUFFER as BufferMethods).latin1Write.call(target, piece, at, end - start);
}

/**
 * A string of one character per byte of `bytes[from, to)` while they are ASCII (without
 * `Buffer`, bytes above 0x7f may come out otherwise: never as ASCII).
 */
export function latin1Text(bytes: Uint8Array, from: number, to: number): string {
  if (BUFFER === undefined) return decoder.decode(bytes.subarray(from, to));
  return BUFFER.latin1Slice.call(bytes, from, to);
}

/**
 * Decodes base64 `text` (whole groups, no whitespace or padding expected) into `target` from
 * `at`, which has room for all of it; `setFromBase64`'s `{ read, written }`. Throws a
 * `SyntaxError` on a character outside the alphabet.
 */
export function nativeBase64DecodeInto(
  text: string,
  target: Uint8Array,
  at: number,
  url: boolean,
): { read: number; written: number } {
  const view = at === 0 ? target : target.subarray(at);
  return (setFromBase64 as NonNullable<typeof setFromBase64>).call(view, text, url ? URL_ALPHABET : undefined);
}
