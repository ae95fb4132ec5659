/**
 * Loading of the kernels module (AssemblyScript sources in `wasm/`, bytes embedded in
 * `kernels.generated.ts`) and its instances, one per pool memory.
 *
 * - Nothing is compiled at import: the module compiles on first use, once.
 * - The SIMD build is chosen when `WebAssembly.validate` accepts it, else the scalar build.
 * - Hosts that refuse to compile bytes (Cloudflare Workers, Vercel Edge) take a precompiled
 *   module through {@linkcode setWasmModule}.
 * - The kernels import their memory, so each slab gets its own instance over its own memory;
 *   the first {@linkcode KERNEL_RESERVED_BYTES} bytes of every memory belong to the kernels.
 *
 * @module
 */

import { KERNELS_SCALAR_WASM_B64, KERNELS_SIMD_WASM_B64 } from "./kernels.generated.ts";

/**
 * Bytes at the start of every pool memory kept for the kernels: static data (lookup tables)
 * below {@linkcode KERNEL_SCRATCH_OFFSET}, scratch space from there to the end.
 */
export const KERNEL_RESERVED_BYTES = 65536;

/**
 * Where the kernels' scratch space starts in every pool memory (static data must end before
 * it; scripts/build_wasm.mjs checks). A kernel call may use
 * `[KERNEL_SCRATCH_OFFSET, KERNEL_RESERVED_BYTES)` freely: calls do not overlap (JS is single
 * threaded) and nothing lives there between calls.
 */
export const KERNEL_SCRATCH_OFFSET = 32768;

/** The exports of the kernels module; pointers are byte offsets into the instance's memory. */
export interface Kernels {
  /** Offset of the first byte equal to `value` in `[ptr, ptr + len)`, or -1. */
  memchr(ptr: number, len: number, value: number): number;
  /**
   * UTF-8 validation of `[ptr, ptr + len)` (`len` below 2^31). `r >= 0`: the first `r` bytes
   * are complete valid sequences and the rest (0–3 bytes) starts a sequence that is valid so
   * far; `r < 0`: the first invalid sequence starts at offset `~r`.
   */
  utf8Validate(ptr: number, len: number): number;
  /**
   * Base64 encode of the `len / 3` whole groups at `src` into `4 * (len / 3)` characters at
   * `dst` (`url` 0: "+/", 1: "-_"); returns the characters written.
   */
  base64Encode(src: number, len: number, dst: number, url: number): number;
  /**
   * Base64 decode of the `len / 4` whole groups at `src` into bytes at `dst` (`url` 0: "+/",
   * 1: "-_"). `r >= 0`: all decoded, `r` bytes written; `r < 0`: the character at offset
   * `-1 - r` is not in the alphabet, and the groups before its group are decoded.
   */
  base64Decode(src: number, len: number, dst: number, url: number): number;
  /**
   * WebSocket masking (RFC 6455 §5.3) of `[ptr, ptr + len)` in place: XOR with the 4-byte
   * `key` (key byte 0 in the low 8 bits), starting at key byte `phase` (0–3).
   */
  mask(ptr: number, len: number, key: number, phase: number): void;
}

/** Which build of the kernels a module is. */
export type KernelVariant = "simd" | "scalar";

const REQUIRED_EXPORTS = ["memchr", "utf8Validate", "base64Encode", "base64Decode", "mask"] as const;

let injected: WebAssembly.Module | undefined;
let compiled: WebAssembly.Module | undefined;
let compiledVariant: KernelVariant | undefined;
let compileError: Error | undefined;
let warned = false;

/**
 * Gives the library a precompiled kernels module, for hosts that forbid compiling WebAssembly
 * from bytes (Cloudflare Workers, Vercel Edge). Call it once at startup, before the first
 * codec or search runs; memories already instantiated keep their instances.
 *
 * @param module The module compiled from the library's kernels (`codecs.wasm` in the npm
 * package), for example from `import module from "@channels/channels/codecs.wasm"`.
 * @throws {TypeError} When `module` is not a `WebAssembly.Module`, or lacks an export the
 * library needs.
 *
 * @example Injecting a module compiled elsewhere
 * ```ts
 * import { setWasmModule, wasmModuleBytes } from "@channels/channels";
 *
 * // On an edge host the module comes from a `.wasm` import instead, compiled by the host.
 * setWasmModule(new WebAssembly.Module(wasmModuleBytes()));
 * ```
 */
export function setWasmModule(module: WebAssembly.Module): void {
  if (!(module instanceof WebAssembly.Module)) {
    throw new TypeError(`Cannot use the module as it is not a WebAssembly.Module: received ${typeof module}`);
  }
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of REQUIRED_EXPORTS) {
    if (!names.has(name)) {
      throw new TypeError(
        `Cannot use the module as it does not export "${name}": received exports ${[...names].join(", ")}`,
      );
    }
  }
  injected = module;
  compileError = undefined;
}

/** The kernels module: injected, or compiled from the embedded bytes on first use. */
export function kernelModule(): WebAssembly.Module {
  if (injected !== undefined) return injected;
  if (compiled !== undefined) return compiled;
  if (compileError !== undefined) throw compileError;
  try {
    const variant = WebAssembly.validate(decodeBase64(KERNELS_SIMD_WASM_B64)) ? "simd" : "scalar";
    compiled = compileKernels(variant);
    compiledVariant = variant;
    return compiled;
  } catch (error) {
    compileError = explainCompileError(error);
    // Callers fall back to TypeScript (correct, but several times slower): say so once, so a
    // deployment that forgot setWasmModule does not run slow without a trace.
    if (!warned) {
      warned = true;
      console.warn(`channels: ${compileError.message}. Until then the codecs and search run in TypeScript (slower).`);
    }
    throw compileError;
  }
}

/**
 * The bytes of the kernels module, for hosts that compile WebAssembly ahead of time (a build
 * step that writes `codecs.wasm`, a worker that compiles once and posts the module).
 *
 * @param variant The SIMD build (default) or the scalar build for hosts without SIMD.
 * @returns A fresh copy of the module's bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmModuleBytes } from "@channels/channels";
 *
 * assert.ok(WebAssembly.validate(wasmModuleBytes("scalar")));
 * ```
 */
export function wasmModuleBytes(variant?: KernelVariant): Uint8Array<ArrayBuffer> {
  if (variant === undefined) variant = "simd";
  return decodeBase64(variant === "simd" ? KERNELS_SIMD_WASM_B64 : KERNELS_SCALAR_WASM_B64);
}

/** Compiles one build of the embedded kernels (tests compare the builds). */
export function compileKernels(variant: KernelVariant): WebAssembly.Module {
  return new WebAssembly.Module(wasmModuleBytes(variant));
}

/** Which build {@linkcode kernelModule} picked, or `"injected"`; `undefined` before first use. */
export function kernelVariant(): KernelVariant | "injected" | undefined {
  if (injected !== undefined) return "injected";
  return compiledVariant;
}

/** Instantiates `module` (by default {@linkcode kernelModule}) over `memory`. */
export function instantiateKernels(memory: WebAssembly.Memory, module: WebAssembly.Module = kernelModule()): Kernels {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as Kernels;
}

/** Forgets the compiled and injected modules (tests: through `resetKernelLayerForTesting`). */
export function resetModuleForTesting(): void {
  injected = undefined;
  compiled = undefined;
  compiledVariant = undefined;
  compileError = undefined;
  warned = false;
}

function explainCompileError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/disallowed|not allowed|forbid|CSP|unsafe-eval/i.test(message)) {
    return new Error(
      `Cannot compile the WebAssembly kernels as this host forbids compiling WebAssembly from bytes: ` +
        `import the precompiled module (\`import module from "@channels/channels/codecs.wasm"\`) and pass it to ` +
        `setWasmModule(module) before first use (received "${message}")`,
      { cause: error },
    );
  }
  return new Error(`Cannot compile the WebAssembly kernels: received "${message}"`, { cause: error });
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
