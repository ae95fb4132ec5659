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
 * | base64Encode | ≥ 1 KiB | ≥ 16 KiB | never | bench/base64.ts "kernel" and "native" rows: V8 15's `toBase64` is simdutf (AVX2), twice Deno's 128-bit WebAssembly SIMD; Bun's `base64Slice` passes the kernel once a call is long enough; Node 20's does not |
 * | base64Decode | ≥ 1 KiB | never | never | bench/base64.ts: Deno's `setFromBase64` (simdutf) beats the kernel even after making a string of the text; Bun's string creation costs more than its decode saves; Node 20 has no strict native decoder |
 * | mask | never | never | never | no runtime has a native one (bench/websocket.ts "mask" rows: the kernel against a TypeScript loop) |
 */
const NATIVE_FROM: Record<Runtime, Record<KernelOp, number>> = {
  deno: { memchr: Infinity, utf8Validate: Infinity, base64Encode: 1024, base64Decode: 1024, mask: Infinity },
  bun: { memchr: 4096, utf8Validate: 0, base64Encode: 16384, base64Decode: Infinity, mask: Infinity },
  node: { memchr: Infinity, utf8Validate: 0, base64Encode: Infinity, base64Decode: Infinity, mask: Infinity },
};

const HAS_NATIVE: Record<KernelOp, boolean> = {
  memchr: true,
  utf8Validate: true, // isUtf8, or a fatal TextDecoder
  base64Encode: HAS_NATIVE_BASE64_ENCODE,
  base64Decode: HAS_NATIVE_BASE64_DECODE,
  mask: false,
};

const nativeFrom: Record<KernelOp, number> = { ...NATIVE_FROM[RUNTIME] };
// Paths forced by setKernelPath (undefined: the table decides).
const forced: Record<KernelOp, KernelPath | undefined> = {
  memchr: undefined,
  utf8Validate: undefined,
  base64Encode: undefined,
  base64Decode: undefined,
  mask: undefined,
};

const OPS: readonly KernelOp[] = ["memchr", "utf8Validate", "base64Encode", "base64Decode", "mask"];

/**
 * The path `op` takes for `size` bytes: the forced one or the table's, then what this host
 * has (a kernel that cannot load gives way to native, native that does not exist to the kernel,
 * and TypeScript is the last resort).
 */
export function pathFor(op: KernelOp, size: number): KernelPath {
  const want = forced[op] ?? (size >= nativeFrom[op] ? "native" : "wasm");
  if (want === "wasm") return kernelsAvailable() ? "wasm" : HAS_NATIVE[op] ? "native" : "typescript";
  if (want === "native") return HAS_NATIVE[op] ? "native" : kernelsAvailable() ? "wasm" : "typescript";
  return want;
}

/** True when `op` has a native path on this runtime. */
export function hasNativePath(op: KernelOp): boolean {
  return HAS_NATIVE[op];
}

/**
 * Forces a path for `op` (or every op), or `"auto"` to let the table decide again (tests and
 * benchmarks). A forced path this host lacks gives way as in {@linkcode pathFor}.
 */
export function setKernelPath(op: KernelOp | "all", path: KernelPath | "auto"): void {
  for (const o of op === "all" ? OPS : [op]) forced[o] = path === "auto" ? undefined : path;
}

/** The table's size threshold for `op` on this runtime (benchmarks print it). */
export function nativeFromBytes(op: KernelOp): number {
  return nativeFrom[op];
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
