/**
 * UTF-8 decoding and validation of bytes where they lie: {@linkcode Utf8Decoder} (a streaming
 * decoder whose output is identical to `TextDecoder`'s) and {@linkcode validateUtf8}.
 *
 * How the work is split (each choice measured in bench/utf8.ts):
 *
 * - Validation runs in the WebAssembly `utf8Validate` kernel (SIMD ASCII skip, then the
 *   Keiser–Lemire lookup algorithm) directly on pool memory, or in the runtime's own
 *   validator where that is faster (`isUtf8` on Node and Bun, where it is simdutf); the
 *   kernel always finds the offset of an error. {@linkcode validateUtf8} and fatal decoding
 *   validate.
 * - Strings come from the runtime's `TextDecoder` on a view of pool memory: the engine must
 *   build the string anyway, and that is its fastest way (a kernel that transcodes to UTF-16
 *   would still pay for a UTF-16 string, which the benchmark shows is slower everywhere but
 *   on Node's mixed text). In replacement mode it gets each run whole, cut only before a
 *   sequence left open at the run's end: its U+FFFD replacement is then exactly the
 *   stream's, and validating first would only cost time. In fatal mode it gets runs the
 *   kernel validated (Deno, whose fatal `TextDecoder` is slow), or decodes them fatally
 *   itself (Node, Bun).
 * - A sequence that straddles calls is carried in a 4-byte array (at most 3 bytes) and
 *   finished in TypeScript. Segments adjacent in memory are decoded as one run; segments
 *   that lie apart (a pool after churn) are copied into a 64 KiB gather area and decoded
 *   with one call per area, which costs less than a call per segment and a concatenation
 *   the engine copies again when it flattens the string; the carried bytes go in first.
 * - A call that is a whole stream (a fresh decoder, or one whose last call was not a
 *   streaming one, given one segment without `stream`: a line from `readFrames`, say) is one
 *   `TextDecoder` call, or on Deno, for up to 32 bytes of ASCII, a JavaScript loop.
 *
 * | input | copies? |
 * | --- | --- |
 * | a `ReadableBuffer` from a channel, or a view of pool memory it yielded | none: the kernel reads pool memory; segments that lie apart are gathered, 64 KiB at a time |
 * | any other `Uint8Array` (and `ReadableBuffer.from` chunks) | validation only: 32 KiB at a time into kernel scratch memory |
 *
 * Where WebAssembly cannot load (a host that forbids compiling it, with no module given to
 * `setWasmModule`), a TypeScript validator takes over with the same results.
 *
 * @module
 */

import { codePointOf, fitsAt, maximalSubpart, referenceValidate, sequenceLength } from "./_utf8_reference.ts";
import { instantiateKernels, KERNEL_RESERVED_BYTES, KERNEL_SCRATCH_OFFSET, type Kernels } from "./_wasm/kernels.ts";
import { createFixedMemory, WASM_PAGE_BYTES } from "./_wasm/memory.ts";
import { typeError } from "./errors.ts";
import { blockKernels } from "./memory_pool.ts";
import type { BufferSegment } from "./_segment.ts";
import {
  adjacentViews,
  type BufferRange,
  bufferRange,
  bufferSegments,
  newBufferRange,
  ReadableBuffer,
  segmentFrom,
  segmentTo,
} from "./readable_buffer.ts";

/** Options of {@linkcode Utf8Decoder}, as `TextDecoder`'s. */
export interface Utf8DecoderOptions {
  /**
   * Throw a `TypeError` naming the byte offset of the first invalid sequence, instead of
   * replacing invalid sequences with U+FFFD.
   *
   * @default {false}
   */
  fatal?: boolean;
  /**
   * Keep a byte order mark (U+FEFF) at the start of the stream in the output, instead of
   * dropping it.
   *
   * @default {false}
   */
  ignoreBOM?: boolean;
}

/** Options of {@linkcode Utf8Decoder.decode}, as `TextDecoder.decode`'s. */
export interface Utf8DecodeOptions {
  /**
   * More bytes follow in a later call: a sequence left open at the end is carried to it,
   * instead of being an error.
   *
   * @default {false}
   */
  stream?: boolean;
}

/** What {@linkcode validateUtf8} returns. */
export interface Utf8Validation {
  /** True when every byte belongs to a complete, valid UTF-8 sequence. */
  valid: boolean;
  /** Offset where the first invalid (or, at the end, truncated) sequence starts; -1 when valid. */
  errorOffset: number;
}

// Bytes one kernel call may cover (its i32 result must hold the offset).
const MAX_KERNEL_BYTES = 1 << 30;
// Scratch bytes per kernel call on memory that is not the pool's (copied in first).
const SCRATCH_BYTES = KERNEL_RESERVED_BYTES - KERNEL_SCRATCH_OFFSET;

// Non-fatal, non-streaming and BOM-preserving. It only ever sees runs that start and end on
// sequence boundaries, where its U+FFFD replacement is exactly the stream's (the carry handles
// sequences cut by a boundary); BOM handling belongs to the stream, not to each run.
const runDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
// Non-fatal and non-streaming, for a decode that is a whole stream (no state before or after
// it): its output, BOM handling included, is then exactly Utf8Decoder's.
const wholeDecoder = new TextDecoder("utf-8");
const wholeDecoderKeepingBOM = runDecoder;

const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
// bench/utf8.ts, "line" rows (Utf8Decoder.decode of a short one-segment frame ÷ TextDecoder's
// ns): a whole-stream decode of ASCII input up to this many bytes builds its string in
// JavaScript (String.fromCharCode of the bytes) instead of calling TextDecoder. Only Deno's
// TextDecoder costs enough a call for that to pay (about 100 ns, against 45–85 ns for 8–32
// bytes in JavaScript); Node's and Bun's cost 40–55 ns, which no JavaScript loop beats.
const SHORT_ASCII_BYTES = IS_DENO ? 32 : 0;
// Reused by asciiString.
const charCodes: number[] = [];

// An input whose segments lie apart in memory (blocks a pool handed out in no particular
// order) is copied into one contiguous gather area of our own, GATHER_BYTES at a time, and
// decoded with one TextDecoder call per area: cheaper than a call per segment and a string
// concatenation of the pieces, which the engine copies once more when it flattens the string
// (bench/utf8.ts, "scattered" rows). A run of adjacent segments of DIRECT_RUN_BYTES or more is
// decoded in place instead: the copy would cost more than the extra piece.
const GATHER_BYTES = 64 * 1024;
const DIRECT_RUN_BYTES = 16 * 1024;
// The two, lowered by tests to reach every boundary with small inputs.
let gatherLimit = GATHER_BYTES;
let directRunBytes = DIRECT_RUN_BYTES;
// The gather area: in the memory of scratchKernels (after their reserved bytes, so the
// kernel validates it in place), or a plain array where WebAssembly cannot load.
let gatherBytes: Uint8Array | undefined;
// Reused by Utf8Decoder.decode for the segments of its input.
const decodeRange: BufferRange = newBufferRange();

// Views of a multi-segment input, with segments that are adjacent in memory merged into one
// run (a channel rents blocks in address order, so a bulk write is mostly contiguous): one
// kernel or TextDecoder call per run instead of per segment (bench/utf8.ts). Reused.
const runs: Uint8Array[] = [];
let mergeRuns = true;

/**
 * Which implementation validation and fatal decoding use: the WebAssembly kernel, or the
 * runtime's own (`isUtf8` from `node:buffer`, a fatal `TextDecoder`) with the kernel only to
 * find the offset of an error. `"auto"` is the measured choice.
 */
export type Utf8Strategy = "auto" | "wasm" | "native";

// bench/utf8.ts, "native" strategy ns ÷ "wasm" strategy ns (above 1: the kernel path is
// faster), pool memory, ASCII and mixed text of 1 KiB–1 MiB:
// | runtime | fatal decode | validate | choice |
// | --- | --- | --- | --- |
// | Deno (V8) | 3.3–5.8× ASCII, 1.1–1.3× mixed | 0.9–1.2× ASCII, 1.6–6.8× mixed | kernel |
// | Node (V8) | 0.8–1.0× | 0.56–0.87× ASCII, 0.17–0.44× mixed | native |
// | Bun (JSC) | 0.7–0.8× ASCII, 0.24–1.0× mixed | 0.5–0.7× ASCII, 0.14–0.39× mixed | native |
// (Node's and Bun's isUtf8 is simdutf; Deno's is a slow polyfill and its fatal TextDecoder
// is 2–9× slower than its non-fatal one.)
const NATIVE_BY_DEFAULT = !IS_DENO;
let strategy: Utf8Strategy = "auto";
// isUtf8 from node:buffer: undefined until looked up, null where the runtime has none.
let nativeIsUtf8: ((bytes: Uint8Array) => boolean) | null | undefined;
// Fatal and BOM-preserving, for the native strategy's fatal decoding of runs.
const fatalRunDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Set when the kernels cannot load (a host that forbids compiling): TypeScript from then on.
let wasmUnavailable = false;
// Kernels per pool memory (keyed by its ArrayBuffer, which never changes: memories never
// grow), and the last hit, since consecutive segments mostly share a slab.
const poolKernels = new WeakMap<ArrayBufferLike, Kernels>();
let lastBuffer: ArrayBufferLike | undefined;
let lastKernels: Kernels | undefined;
// A one-page memory of our own, whose scratch area takes copies of non-pool bytes.
let scratchKernels: Kernels | undefined;
let scratchBytes: Uint8Array | undefined;

/** Chooses the implementation (tests and benchmarks compare them). */
export function setUtf8Strategy(next: Utf8Strategy | "default"): void {
  strategy = next === "default" ? "auto" : next;
}

/** The implementation `"auto"` resolves to on this runtime (or the one set). */
export function utf8StrategyInUse(): "wasm" | "native" {
  return useNative() ? "native" : "wasm";
}

/** True when the runtime's own validation runs first. */
function useNative(): boolean {
  return strategy === "native" || (strategy === "auto" && NATIVE_BY_DEFAULT);
}

/** `isUtf8` from `node:buffer`, or `null` where the runtime has none. */
function isUtf8Function(): ((bytes: Uint8Array) => boolean) | null {
  if (nativeIsUtf8 === undefined) {
    const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    let buffer: { isUtf8?: unknown } | undefined;
    try {
      buffer = process?.getBuiltinModule?.("node:buffer") as { isUtf8?: unknown } | undefined;
    } catch {
      buffer = undefined;
    }
    nativeIsUtf8 = typeof buffer?.isUtf8 === "function" ? buffer.isUtf8 as (bytes: Uint8Array) => boolean : null;
  }
  return nativeIsUtf8;
}

/** Loads kernels with `load`, or notes (once) that this host cannot. */
function tryKernels(load: () => Kernels): Kernels | undefined {
  if (wasmUnavailable) return undefined;
  try {
    return load();
  } catch {
    wasmUnavailable = true;
    return undefined;
  }
}

/**
 * The kernels over the pool memory `view` lies in, or `undefined` when it is not known pool
 * memory. `source` is the buffer the view came from: its segments name their blocks.
 */
function kernelsOfView(view: Uint8Array, source: ReadableBuffer | undefined): Kernels | undefined {
  const buffer = view.buffer;
  if (buffer === lastBuffer) return lastKernels;
  let kernels = poolKernels.get(buffer);
  if (kernels === undefined && source !== undefined) {
    for (const seg of bufferSegments(source)) {
      const block = seg.block;
      if (block !== null && block.bytes.buffer === buffer) {
        kernels = tryKernels(() => blockKernels(block));
        if (kernels !== undefined) poolKernels.set(buffer, kernels);
        break;
      }
    }
  }
  if (kernels !== undefined) {
    lastBuffer = buffer;
    lastKernels = kernels;
  }
  return kernels;
}

/**
 * Validates `view[from, to)` with the kernel's result encoding (see `referenceValidate`):
 * in place when `kernels` runs on the view's memory, else through the scratch area, else in
 * TypeScript.
 */
function validateRange(view: Uint8Array, from: number, to: number, kernels: Kernels | undefined): number {
  const direct = kernels !== undefined;
  const k = kernels ?? (scratchKernels ??= tryKernels(loadScratchKernels));
  if (k === undefined) return referenceValidate(view, from, to);
  const max = direct ? MAX_KERNEL_BYTES : SCRATCH_BYTES;
  let at = from;
  for (;;) {
    const n = Math.min(max, to - at);
    let r: number;
    if (direct) {
      r = k.utf8Validate(view.byteOffset + at, n);
    } else {
      (scratchBytes as Uint8Array).set(at === 0 && n === view.length ? view : view.subarray(at, at + n));
      r = k.utf8Validate(KERNEL_SCRATCH_OFFSET, n);
    }
    if (r < 0) return ~(at - from + ~r);
    if (at + n === to) return at - from + r;
    at += r; // r >= n - 3 > 0: the next piece starts with the open sequence
  }
}

/**
 * Validates `view[from, to)` like {@linkcode validateRange}; with the native strategy,
 * `isUtf8` answers first and the kernel only locates an error.
 */
function validateRun(view: Uint8Array, from: number, to: number, source: ReadableBuffer | undefined): number {
  if (useNative()) {
    const isUtf8 = isUtf8Function();
    if (isUtf8 !== null) {
      const tail = openTail(view, from, to);
      const end = to - tail;
      if (isUtf8(from === 0 && end === view.length ? view : view.subarray(from, end))) return end - from;
    }
  }
  return validateRange(view, from, to, kernelsOfView(view, source));
}

/**
 * Kernels over a memory of our own: its kernel scratch takes copies of bytes outside the pool,
 * and the gather area after it is validated in place.
 */
function loadScratchKernels(): Kernels {
  const memory = createFixedMemory((KERNEL_RESERVED_BYTES + GATHER_BYTES) / WASM_PAGE_BYTES);
  const kernels = instantiateKernels(memory);
  scratchBytes = new Uint8Array(memory.buffer, KERNEL_SCRATCH_OFFSET, SCRATCH_BYTES);
  gatherBytes = new Uint8Array(memory.buffer, KERNEL_RESERVED_BYTES, GATHER_BYTES);
  poolKernels.set(memory.buffer, kernels);
  return kernels;
}

/** The gather area (see {@linkcode GATHER_BYTES}). */
function gatherArea(): Uint8Array {
  if (gatherBytes === undefined) {
    scratchKernels ??= tryKernels(loadScratchKernels);
    gatherBytes ??= new Uint8Array(GATHER_BYTES);
  }
  return gatherBytes;
}

/** The string of ASCII `bytes[from, to)`, built in JavaScript; `undefined` when a byte is not ASCII. */
function asciiString(bytes: Uint8Array, from: number, to: number): string | undefined {
  const codes = charCodes;
  const n = to - from;
  codes.length = n;
  let any = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[from + i] as number;
    any |= b;
    codes[i] = b;
  }
  return any < 0x80 ? String.fromCharCode.apply(null, codes) : undefined;
}

/**
 * Bytes at the end of `view[from, n)` that start a sequence that is valid so far but
 * incomplete (0–3): what a decoder carries to the next segment or call. A lead byte is never
 * part of another sequence, so looking back 3 bytes decides it.
 */
function openTail(view: Uint8Array, from: number, n: number): number {
  for (let i = 1; i <= 3 && n - i >= from; i++) {
    const b = view[n - i] as number;
    if (b < 0x80) return 0;
    if (b >= 0xc0) {
      if (sequenceLength(b) <= i) return 0; // complete, or a byte that cannot lead (replaced now)
      for (let k = 1; k < i; k++) if (!fitsAt(b, k, view[n - i + k] as number)) return 0;
      return i;
    }
  }
  return 0;
}

/** The string of `view[from, to)`, which starts and ends on sequence boundaries. */
function decodeRun(view: Uint8Array, from: number, to: number): string {
  return runDecoder.decode(from === 0 && to === view.length ? view : view.subarray(from, to));
}

function hex(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += (i > from ? " " : "") + (bytes[i] as number).toString(16).padStart(2, "0");
  return text;
}

/** The error for the invalid sequence `bytes` (its maximal subpart, in hex) at `offset`. */
function invalidSequence(offset: number, bytes: string): TypeError {
  return typeError("decode UTF-8", `the sequence at byte offset ${offset} is invalid`, bytes);
}

function truncatedSequence(offset: number, bytes: string): TypeError {
  return typeError("decode UTF-8", `the input ends inside the sequence at byte offset ${offset}`, bytes);
}

function checkInput(input: unknown, what: string): void {
  if (!(input instanceof Uint8Array) && !(input instanceof ReadableBuffer)) {
    throw typeError(what, "input must be a ReadableBuffer or a Uint8Array", input);
  }
}

function checkOptions(options: unknown, what: string): void {
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw typeError(what, "options must be an object", options);
  }
}

/**
 * A streaming UTF-8 decoder with `TextDecoder`'s output: the same U+FFFD for every invalid
 * sequence (the WHATWG "maximal subpart" rule), the same BOM handling, and the same
 * `{ stream: true }` carrying of a sequence cut by a call boundary. It also takes a
 * multi-segment {@linkcode ReadableBuffer} and decodes it where it lies, sequences that
 * straddle segments included.
 *
 * State between calls is at most 3 carried bytes and a byte count. A non-stream `decode`
 * (and a fatal error) ends the stream: the next call starts afresh, BOM handling included.
 *
 * @example Decoding a channel's text as it arrives
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, MemoryPool, Utf8Decoder } from "@channels/channels";
 *
 * const channel = new Channel({ pool: new MemoryPool({ blockSize: 16 }) });
 * const bytes = new TextEncoder().encode("Grüße aus Köln – 東京 🚀");
 * // Two writes that cut "ß" in half; each read returns every buffered segment.
 * await channel.writer.write(bytes.subarray(0, 4));
 * await channel.writer.write(bytes.subarray(4));
 * channel.writer.complete();
 *
 * const decoder = new Utf8Decoder({ fatal: true });
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await channel.reader.read();
 *   text += decoder.decode(buffer, { stream: !isCompleted });
 *   channel.reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * channel.reader.complete();
 * assert.equal(text, "Grüße aus Köln – 東京 🚀");
 * ```
 *
 * @example Lines as strings: one decoder for every line
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, delimited, readFrames, Utf8Decoder } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.writeUtf8("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\n");
 * writer.complete();
 * const decoder = new Utf8Decoder();
 * const lines: string[] = [];
 * for await (const line of readFrames(reader, delimited({ delimiter: "\r\n" }))) {
 *   lines.push(decoder.decode(line)); // a string: it outlives the frame
 * }
 * assert.deepEqual(lines, ["GET / HTTP/1.1", "Host: example.com", "Accept: text/plain"]);
 * ```
 *
 * @example Replacement and fatal modes
 * ```ts
 * import assert from "node:assert/strict";
 * import { Utf8Decoder } from "@channels/channels";
 *
 * const bytes = new Uint8Array([0x68, 0x69, 0xed, 0xa0, 0x80, 0x21]); // "hi", a surrogate, "!"
 * assert.equal(new Utf8Decoder().decode(bytes), "hi\uFFFD\uFFFD\uFFFD!");
 * assert.throws(() => new Utf8Decoder({ fatal: true }).decode(bytes), {
 *   name: "TypeError",
 *   message: /byte offset 2/,
 * });
 * ```
 */
export class Utf8Decoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  // The open sequence cut by a segment or call boundary: #carry[0, #carryLength), valid so
  // far, starting at stream offset #carryStart. #carryLength is 0 when none is open.
  readonly #carry = new Uint8Array(4);
  #carryLength = 0;
  #carryStart = 0;
  // Bytes passed in since the stream started (the last non-stream decode or fatal error).
  #position = 0;
  // Whether the stream has output its first code point (a BOM is dropped only there).
  #bomSeen = false;

  /**
   * Creates a decoder.
   *
   * @param options Fatal or replacement mode, and BOM handling.
   * @throws {TypeError} When `options` is not an object.
   */
  constructor(options?: Utf8DecoderOptions) {
    checkOptions(options, "create the decoder");
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
  }

  /** Always `"utf-8"`, as `TextDecoder.encoding`. */
  get encoding(): "utf-8" {
    return "utf-8";
  }

  /** Whether invalid input throws instead of turning into U+FFFD. */
  get fatal(): boolean {
    return this.#fatal;
  }

  /** Whether a leading BOM stays in the output. */
  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  /**
   * Decodes the next bytes of the stream. Nothing is copied out of a channel's buffer (but
   * segments that lie apart in memory, gathered into contiguous scratch memory), and the
   * returned string holds no reference to it (advance the reader freely afterwards). A call
   * without `stream` after a call without it (or on a new decoder) is a stream of its own:
   * decode a frame per call this way, a line from `readFrames` say, and it costs one
   * `TextDecoder` call or less.
   *
   * @param input The bytes: a buffer from a channel read (any number of segments), or an array.
   * @param options `stream: true` when more bytes follow in a later call.
   * @returns The text; a sequence left open at the end of a streaming call comes out with the
   * next call.
   * @throws {TypeError} In fatal mode, when the bytes are not valid UTF-8 (the message names
   * the byte offset of the bad sequence, counted from the start of the stream); when `input`
   * is neither a `ReadableBuffer` nor a `Uint8Array`, or `options` is not an object.
   */
  decode(input?: ReadableBuffer | Uint8Array, options?: Utf8DecodeOptions): string {
    if (
      this.#position === 0 && this.#carryLength === 0 && !this.#fatal &&
      (options === undefined || (typeof options === "object" && options !== null && !options.stream))
    ) {
      // The call is a whole stream (nothing before it, nothing carried after it): one
      // TextDecoder call gives exactly our output (a fresh stream's BOM handling included).
      const text = this.#decodeWhole(input);
      if (text !== undefined) return text;
    }
    checkOptions(options, "decode UTF-8");
    const stream = Boolean(options?.stream);
    let out = "";
    if (input !== undefined) {
      checkInput(input, "decode UTF-8");
      try {
        if (input instanceof Uint8Array) {
          out = this.#feed(input, undefined);
        } else {
          const range = bufferRange(input, decodeRange);
          if (range.first === range.last || range.start === range.end) {
            out = this.#feed(input.first, input);
          } else {
            out = this.#feedSegments(range, input);
          }
        }
      } catch (error) {
        this.#reset();
        throw error;
      }
    }
    if (!stream && this.#carryLength > 0) {
      if (this.#fatal) {
        const error = truncatedSequence(this.#carryStart, hex(this.#carry, 0, this.#carryLength));
        this.#reset();
        throw error;
      }
      out += "\uFFFD";
    }
    if (!this.#bomSeen && out.length > 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    }
    if (!stream) this.#reset();
    return out;
  }

  /**
   * The text of `input` as a whole non-fatal stream, for a call that starts and ends one; or
   * `undefined` when the general path must run (several segments, or not an input at all).
   */
  #decodeWhole(input: ReadableBuffer | Uint8Array | undefined): string | undefined {
    let view: Uint8Array;
    if (input instanceof ReadableBuffer) {
      const range = bufferRange(input, decodeRange);
      if (range.start === range.end) return "";
      if (range.first !== range.last) return undefined;
      const seg = range.segments[range.first] as BufferSegment;
      const bytes = seg.bytes;
      const from = segmentFrom(seg, range);
      const to = segmentTo(seg, range);
      if (to - from <= SHORT_ASCII_BYTES) {
        const text = asciiString(bytes, from, to);
        if (text !== undefined) return text;
      }
      view = from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to);
    } else if (input instanceof Uint8Array) {
      if (input.length <= SHORT_ASCII_BYTES) {
        const text = asciiString(input, 0, input.length);
        if (text !== undefined) return text;
      }
      view = input;
    } else {
      return undefined;
    }
    return (this.#ignoreBOM ? wholeDecoderKeepingBOM : wholeDecoder).decode(view);
  }

  /**
   * Decodes the segments of `range` (two or more): runs of segments adjacent in memory are
   * decoded in place when long, the rest copied into the gather area and decoded a full area
   * at a time. The carried bytes go first into an empty area, so TextDecoder finishes (or
   * replaces) the open sequence itself.
   */
  #feedSegments(range: BufferRange, source: ReadableBuffer): string {
    const segments = range.segments;
    let out = "";
    let gathered = 0;
    // The current run of adjacent segments: its memory, and its start and end in it.
    let runBuffer: ArrayBufferLike | undefined;
    let runStart = 0;
    let runEnd = 0;
    // The run's one segment's bytes while it covers all of them (no view to make then).
    let runBytes: Uint8Array | undefined;
    for (let i = range.first; i <= range.last + 1; i++) {
      let buffer: ArrayBufferLike | undefined;
      let start = 0;
      let end = 0;
      let bytes: Uint8Array | undefined;
      if (i <= range.last) {
        const seg = segments[i] as BufferSegment;
        const from = segmentFrom(seg, range);
        const to = segmentTo(seg, range);
        if (to <= from) continue;
        bytes = seg.bytes;
        buffer = bytes.buffer;
        start = bytes.byteOffset + from;
        end = bytes.byteOffset + to;
        if (from !== 0 || to !== bytes.length) bytes = undefined;
        if (buffer === runBuffer && start === runEnd && mergeRuns) {
          runEnd = end;
          runBytes = undefined;
          continue;
        }
      }
      // The run ended: decode it in place, or gather it.
      if (runBuffer !== undefined) {
        const length = runEnd - runStart;
        const view = runBytes ?? new Uint8Array(runBuffer, runStart, length);
        if (length >= directRunBytes) {
          if (gathered > 0) out += this.#feed((gatherBytes as Uint8Array).subarray(0, gathered), source);
          gathered = 0;
          out += this.#feed(view, source);
        } else {
          const area = gatherArea();
          let at = 0;
          while (at < length) {
            if (gathered === 0 && this.#carryLength > 0) {
              // The carried bytes are the stream's last: they move into the area.
              for (let k = 0; k < this.#carryLength; k++) area[k] = this.#carry[k] as number;
              gathered = this.#carryLength;
              this.#position -= this.#carryLength;
              this.#carryLength = 0;
            }
            const n = Math.min(gatherLimit - gathered, length - at);
            area.set(n === length ? view : view.subarray(at, at + n), gathered);
            gathered += n;
            at += n;
            if (gathered === gatherLimit) {
              out += this.#feed(gatherLimit === GATHER_BYTES ? area : area.subarray(0, gathered), source);
              gathered = 0;
            }
          }
        }
      }
      runBuffer = buffer;
      runStart = start;
      runEnd = end;
      runBytes = bytes;
    }
    if (gathered > 0) out += this.#feed((gatherBytes as Uint8Array).subarray(0, gathered), source);
    return out;
  }

  /**
   * Decodes one run of bytes (segments or an array) that follows the carried bytes. The
   * `source` buffer lets the fatal path find the kernels of the run's memory.
   */
  #feed(view: Uint8Array, source: ReadableBuffer | undefined): string {
    const n = view.length;
    let at = 0;
    let out = "";
    if (this.#carryLength > 0) {
      const carry = this.#carry;
      const lead = carry[0] as number;
      const length = sequenceLength(lead);
      while (this.#carryLength < length && at < n && fitsAt(lead, this.#carryLength, view[at] as number)) {
        carry[this.#carryLength++] = view[at++] as number;
      }
      if (this.#carryLength === length) {
        out = String.fromCodePoint(codePointOf(carry, length));
      } else if (at < n) {
        // view[at] does not fit: the carried bytes are a maximal subpart; view[at] starts afresh.
        if (this.#fatal) {
          throw invalidSequence(this.#carryStart, hex(carry, 0, this.#carryLength));
        }
        out = "\uFFFD";
      } else {
        this.#position += n; // still open
        return "";
      }
      this.#carryLength = 0;
    }
    if (!this.#fatal) {
      // Replacement mode needs no validation: TextDecoder replaces exactly as the stream
      // would, given a run that ends before an open sequence (bench/utf8.ts: validating first
      // only costs time).
      const tail = openTail(view, at, n);
      if (n - tail > at) out += decodeRun(view, at, n - tail);
      if (tail > 0) {
        this.#carryStart = this.#position + n - tail;
        for (let i = n - tail; i < n; i++) this.#carry[this.#carryLength++] = view[i] as number;
      }
      this.#position += n;
      return out;
    }
    if (at < n && useNative()) {
      // Fatal mode, native strategy: a fatal TextDecoder on the run up to an open sequence;
      // only when it throws does the kernel find where.
      const tail = openTail(view, at, n);
      if (n - tail > at) {
        try {
          out += fatalRunDecoder.decode(at === 0 && tail === 0 ? view : view.subarray(at, n - tail));
        } catch {
          const bad = at + ~validateRange(view, at, n, kernelsOfView(view, source));
          throw invalidSequence(
            this.#position + bad,
            hex(view, bad, bad + maximalSubpart(view, bad, n)),
          );
        }
      }
      at = n - tail;
    }
    // Fatal mode, kernel strategy: the kernel validates, then a non-fatal TextDecoder makes the
    // string of the valid run.
    const r = at < n ? validateRange(view, at, n, kernelsOfView(view, source)) : 0;
    if (r < 0) {
      const bad = at + ~r;
      throw invalidSequence(this.#position + bad, hex(view, bad, bad + maximalSubpart(view, bad, n)));
    }
    if (r > 0) out += decodeRun(view, at, at + r);
    at += r;
    if (at < n) {
      this.#carryStart = this.#position + at;
      while (at < n) this.#carry[this.#carryLength++] = view[at++] as number;
    }
    this.#position += n;
    return out;
  }

  #reset(): void {
    this.#carryLength = 0;
    this.#position = 0;
    this.#bomSeen = false;
  }
}

/**
 * Checks that bytes are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), where they lie. A sequence cut off by the end of the input is invalid.
 *
 * @param input A buffer from a channel read (any number of segments), or an array.
 * @returns `valid`, and `errorOffset`: where the first bad sequence starts (-1 when valid).
 * @throws {TypeError} When `input` is neither a `ReadableBuffer` nor a `Uint8Array`.
 *
 * @example Finding the first bad byte
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadableBuffer, validateUtf8 } from "@channels/channels";
 *
 * const text = new TextEncoder().encode("naïve café");
 * assert.deepEqual(validateUtf8(text), { valid: true, errorOffset: -1 });
 * // An overlong "/" (C0 AF) after "ok", split across two segments.
 * const buffer = ReadableBuffer.from([new Uint8Array([0x6f, 0x6b, 0xc0]), new Uint8Array([0xaf])]);
 * assert.deepEqual(validateUtf8(buffer), { valid: false, errorOffset: 2 });
 * // Truncated at the end: the first two bytes of "€" (E2 82 AC).
 * assert.deepEqual(validateUtf8(new Uint8Array([0x41, 0xe2, 0x82])), { valid: false, errorOffset: 1 });
 * ```
 */
export function validateUtf8(input: ReadableBuffer | Uint8Array): Utf8Validation {
  checkInput(input, "validate UTF-8");
  let errorOffset: number;
  if (input instanceof Uint8Array || input.isSingleSegment) {
    const view = input instanceof Uint8Array ? input : input.first;
    const r = validateRun(view, 0, view.length, input instanceof Uint8Array ? undefined : input);
    errorOffset = r < 0 ? ~r : r < view.length ? r : -1;
  } else {
    const count = adjacentViews(input, runs, mergeRuns).length;
    try {
      errorOffset = validateRuns(count, input);
    } finally {
      runs.length = 0;
    }
  }
  return { valid: errorOffset < 0, errorOffset };
}

// The open sequence validateSegments carries from one segment to the next (reused).
const carried = new Uint8Array(4);

/** The offset of the first bad sequence in `runs[0, count)`, or -1. */
function validateRuns(count: number, source: ReadableBuffer): number {
  let position = 0;
  let carryLength = 0;
  let carryStart = 0;
  for (let i = 0; i < count; i++) {
    const view = runs[i] as Uint8Array;
    const n = view.length;
    let at = 0;
    if (carryLength > 0) {
      const lead = carried[0] as number;
      const length = sequenceLength(lead);
      while (carryLength < length && at < n) {
        if (!fitsAt(lead, carryLength, view[at] as number)) return carryStart;
        carried[carryLength++] = view[at++] as number;
      }
      if (carryLength < length) {
        position += n;
        continue;
      }
      carryLength = 0;
    }
    if (at < n) {
      const r = validateRun(view, at, n, source);
      if (r < 0) return position + at + ~r;
      at += r;
      carryStart = position + at;
      while (at < n) carried[carryLength++] = view[at++] as number;
    }
    position += n;
  }
  return carryLength > 0 ? carryStart : -1;
}

/** Forgets that the kernels failed to load, and restores `"auto"` (tests only). */
export function resetUtf8ForTesting(): void {
  wasmUnavailable = false;
  strategy = "auto";
  lastBuffer = undefined;
  lastKernels = undefined;
  scratchKernels = undefined;
  scratchBytes = undefined;
  gatherBytes = undefined;
}

/** Turns the merging of adjacent segments off (tests reach every segment boundary with it off). */
export function setRunMergingForTesting(enabled: boolean): void {
  mergeRuns = enabled;
}

/**
 * Sets the gather area's size (up to 64 KiB) and the run length decoded in place, so tests reach
 * every boundary with small inputs; no arguments restore the defaults.
 */
export function setGatherForTesting(limit: number = GATHER_BYTES, directRun: number = DIRECT_RUN_BYTES): void {
  gatherLimit = Math.max(4, Math.min(GATHER_BYTES, limit));
  directRunBytes = directRun;
}

/** Whether validation runs in TypeScript because the kernels could not load (tests only). */
export function utf8UsesFallback(): boolean {
  return wasmUnavailable;
}
