/**
 * Byte search inside one segment: the WebAssembly memchr kernel on pool memory, or the
 * runtime's `TypedArray.prototype.indexOf`, whichever bench/index_of.ts measured faster on
 * this runtime.
 *
 * - V8 (Node, Deno): `indexOf` is not vectorised (1.4–3.3 GB/s) while the SIMD kernel runs at
 *   40–55 GB/s and costs a few ns a call, so the kernel wins from small sizes up.
 * - JavaScriptCore (Bun): `indexOf` is already a vectorised memchr, and wins above ~1 KiB.
 *
 * @module
 */

import type { BufferSegment } from "./_segment.ts";
import { blockKernels } from "./memory_pool.ts";

/** Which implementation {@linkcode indexOfByte} uses. */
export type SearchStrategy = "wasm" | "native";

// Bun's native indexOf is memchr-class (bench/index_of.ts); V8's is a scalar loop.
const DEFAULT_STRATEGY: SearchStrategy = typeof (globalThis as { Bun?: unknown }).Bun === "undefined"
  ? "wasm"
  : "native";

let strategy: SearchStrategy = DEFAULT_STRATEGY;
// Set when the kernels cannot load (a host that forbids compiling): search stays native.
let wasmUnavailable = false;

/** Chooses the search implementation (tests and benchmarks compare both). */
export function setSearchStrategy(next: SearchStrategy | "default"): void {
  strategy = next === "default" ? DEFAULT_STRATEGY : next;
}

/** The search implementation in use. */
export function searchStrategy(): SearchStrategy {
  return strategy === "wasm" && !wasmUnavailable ? "wasm" : "native";
}

/** Index in `seg.bytes` of the first `value` in `[from, to)`, or -1. */
export function indexOfByte(seg: BufferSegment, from: number, to: number, value: number): number {
  if (from >= to) return -1;
  const block = seg.block;
  if (block !== null && strategy === "wasm" && !wasmUnavailable) {
    let kernels;
    try {
      kernels = blockKernels(block);
    } catch {
      // No kernels on this host (compile refused and no module injected): native from now on.
      wasmUnavailable = true;
      return indexOfByte(seg, from, to, value);
    }
    const found = kernels.memchr(seg.bytes.byteOffset + from, to - from, value);
    return found < 0 ? -1 : from + found;
  }
  const bytes = seg.bytes;
  // indexOf scans to the end of the view; past a few KiB of unwanted tail, a bounded view is cheaper.
  if (bytes.length - to > 4096) {
    const found = bytes.subarray(from, to).indexOf(value);
    return found < 0 ? -1 : from + found;
  }
  const found = bytes.indexOf(value, from);
  return found < to ? found : -1;
}

/** Forgets that the kernels failed to load (tests only). */
export function resetSearchForTesting(): void {
  wasmUnavailable = false;
  strategy = DEFAULT_STRATEGY;
}
