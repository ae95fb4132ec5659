/**
 * Which implementation each operation takes, per runtime and size: the WebAssembly kernel on
 * the bytes where they lie, the runtime's native path (./native.ts), or TypeScript where neither
 * is possible. The table below is what the benchmarks measured; `setKernelPath` forces one path
 * (tests compare the paths, benchmarks time them), and `resetKernelLayerForTesting` is the one
 * reset of the whole layer.
 *
 * @module
 */

import { resetModuleForTesting } from "./kernels.ts";
import { HAS_NATIVE_BASE64_DECODE, HAS_NATIVE_BASE64_ENCODE, RUNTIME, type Runtime } from "./native.ts";
import { kernelsAvailable, resetRegistryForTesting } from "./registry.ts";

/**
 * The operations the layer dispatches:
 * - `memchr`: the first byte equal to a value (ReadableBuffer#indexOf);
 * - `utf8Validate`: validation (validateUtf8, and fatal decoding's check of each run);
 * - `base64Encode`, `base64Decode`: whole groups of base64 into memory;
 * - `mask`: WebSocket masking in place (no native path: the kernel, or TypeScript).
 */
export type KernelOp = "memchr" | "utf8Validate" | "base64Encode" | "base64Decode" | "mask";

/** An implementation: the kernel, the runtime's own, or plain TypeScript. */
export type KernelPath = "wasm" | "native" | "typescript";

/**
 * The size in bytes (of input per call) from which the native path is faster than the kernel
 * on each runtime; `Infinity`: the kernel always is.
 *
 * | op | Deno | Bun | Node | measured by |
 * | --- | --- | --- | --- | --- |
 * | memchr | never | ≥ 4 KiB | never | bench/index_of.ts: V8's `indexOf` is a scalar loop, JSC's a vectorised memchr that wins once its call cost is amortised |
 * | utf8Validate | never | always | always | bench/utf8.ts "validate" and "fatal" rows: Node's and Bun's `isUtf8` is simdutf, Deno's a slow polyfill (and its fatal `TextDecoder` 2–9× slower than its plain one) |
 * | base64Encode | ≥ 3 KiB | never | never | bench/base64.ts "transform-kernel"/"transform-native" rows, and pipeThrough with each path forced: the codecs write 4 KiB output blocks, and a native write per block costs 100–300 ns more than a kernel call, so what wins on one long view can lose in a pipe. V8 15's `toBase64` is simdutf (AVX2), 3× Deno's 128-bit WebAssembly SIMD, and still 1.25–1.4× in a pipe (runs of 4 KiB included); Bun's `base64Slice` + `latin1Write` wins on one long view but not in a pipe (its strings cost it there); Node 20's never wins |
 * | base64Decode | ≥ 16 KiB | never | never | the same: Deno's `latin1Slice` + `setFromBase64` (simdutf) is 1.3–1.5× the kernel on long adjacent runs, but 0.7–0.9× on the 4 KiB runs a pool's scattered blocks make, which a pipe sees more of as it runs (even in the pipe overall); Bun's string creation costs more than its decode saves; Node 20 has no strict native decoder |
 * | mask | never | never | never | no runtime has a native one (bench/websocket.ts "mask" rows: the kernel against TypeScript loops; short payloads take a TypeScript loop before the table is asked, see ./mask.ts) |
 */
const NATIVE_FROM: Record<Runtime, Record<KernelOp, number>> = {
  deno: { memchr: Infinity, utf8Validate: Infinity, base64Encode: 3072, base64Decode: 16384, mask: Infinity },
  bun: { memchr: 4096, utf8Validate: 0, base64Encode: Infinity, base64Decode: Infinity, mask: Infinity },
  node: { memchr: Infinity, utf8Validate: 0, base64Encode: Infinity, base64Decode: Infinity, mask: Infinity },
};

/**
 * One operation's choice: the table's threshold, a forced path, and what this host has. Hot
 * callers hold their op's object (`choiceOf`): one monomorphic call, where a lookup by the op's
 * name cost a search per short buffer 40% more on JavaScriptCore.
 */
class OpChoice {
  /** The path forced by setKernelPath, or undefined: the table decides. */
  forced: KernelPath | undefined;
  /** Input bytes from which the native path is faster (the table's row). */
  readonly nativeFrom: number;
  /** Whether this runtime has a native path for the op. */
  readonly hasNative: boolean;

  constructor(nativeFrom: number, hasNative: boolean) {
    this.nativeFrom = nativeFrom;
    this.hasNative = hasNative;
  }

  /**
   * Whether the kernel is wanted for `size` bytes (forced, or the table's choice), before asking
   * whether it loads: a caller that finds no kernels takes its native path anyway.
   */
  wantsKernel(size: number): boolean {
    const forced = this.forced;
    return forced === undefined ? size < this.nativeFrom : forced === "wasm";
  }

  /** See {@linkcode pathFor}. */
  path(size: number): KernelPath {
    const want = this.forced ?? (size >= this.nativeFrom ? "native" : "wasm");
    if (want === "wasm") return kernelsAvailable() ? "wasm" : this.hasNative ? "native" : "typescript";
    if (want === "native") return this.hasNative ? "native" : kernelsAvailable() ? "wasm" : "typescript";
    return want;
  }
}

const row = NATIVE_FROM[RUNTIME];
const choices: Record<KernelOp, OpChoice> = {
  memchr: new OpChoice(row.memchr, true),
  utf8Validate: new OpChoice(row.utf8Validate, true), // isUtf8, or a fatal TextDecoder
  base64Encode: new OpChoice(row.base64Encode, HAS_NATIVE_BASE64_ENCODE),
  base64Decode: new OpChoice(row.base64Decode, HAS_NATIVE_BASE64_DECODE),
  mask: new OpChoice(row.mask, false),
};

const OPS: readonly KernelOp[] = ["memchr", "utf8Validate", "base64Encode", "base64Decode", "mask"];

/** The choice object of `op`, for callers that decide per short buffer (see {@linkcode OpChoice}). */
export function choiceOf(op: KernelOp): OpChoice {
  return choices[op];
}

/**
 * The path `op` takes for `size` bytes: the forced one or the table's, then what this host
 * has (a kernel that cannot load gives way to native, native that does not exist to the kernel,
 * and TypeScript is the last resort).
 */
export function pathFor(op: KernelOp, size: number): KernelPath {
  return choices[op].path(size);
}

/** True when `op` has a native path on this runtime. */
export function hasNativePath(op: KernelOp): boolean {
  return choices[op].hasNative;
}

/**
 * Forces a path for `op` (or every op), or `"auto"` to let the table decide again (tests and
 * benchmarks). A forced path this host lacks gives way as in {@linkcode pathFor}.
 */
export function setKernelPath(op: KernelOp | "all", path: KernelPath | "auto"): void {
  for (const o of op === "all" ? OPS : [op]) choices[o].forced = path === "auto" ? undefined : path;
}

/** The table's size threshold for `op` on this runtime (benchmarks print it). */
export function nativeFromBytes(op: KernelOp): number {
  return choices[op].nativeFrom;
}

/**
 * The one reset of the layer (tests only): forgets the compiled and injected module, every
 * kernels instance and a failure to load, and forced paths.
 */
export function resetKernelLayerForTesting(): void {
  resetModuleForTesting();
  resetRegistryForTesting();
  setKernelPath("all", "auto");
}
