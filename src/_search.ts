/**
 * Byte search inside one segment: the WebAssembly memchr kernel on pool memory, or the
 * runtime's `TypedArray.prototype.indexOf`, whichever bench/index_of.ts measured faster.
 *
 * | runtime | 64 B | 1 KiB | 16 KiB | 1 MiB | choice |
 * | --- | --- | --- | --- | --- | --- |
 * | Deno (V8) | 3.8× | 11× | 17× | 18× | kernel |
 * | Node (V8) | 2.8× | 9.6× | 17× | 20× | kernel |
 * | Bun (JSC) | 22× | 2.4× | 0.57× | 0.72× | kernel below 4 KiB, native above |
 *
 * (native time ÷ kernel time, data in pool memory; V8's `indexOf` is a scalar loop, JSC's a
 * vectorised memchr that wins once its fixed call cost is amortised.)
 *
 * @module
 */

import type { BufferSegment } from "./_segment.ts";
import { blockKernels } from "./memory_pool.ts";

/** Which implementation {@linkcode indexOfByte} uses; `"auto"` is the measured choice. */
export type SearchStrategy = "auto" | "wasm" | "native";

const IS_JSC = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
// On JSC the kernel wins below this many bytes and native indexOf above (bench/index_of.ts).
const JSC_KERNEL_MAX_BYTES = IS_JSC ? 4096 : Infinity;

let strategy: SearchStrategy = "auto";
// Set when the kernels cannot load (a host that forbids compiling): search stays native.
let wasmUnavailable = false;

/** Chooses the search implementation (tests and benchmarks compare them). */
export function setSearchStrategy(next: SearchStrategy | "default"): void {
  strategy = next === "default" ? "auto" : next;
}

/** The search implementation in use (`"native"` once the kernels failed to load). */
export function searchStrategy(): SearchStrategy {
  return wasmUnavailable ? "native" : strategy;
}

/** Index in `seg.bytes` of the first `value` in `[from, to)`, or -1. */
export function indexOfByte(seg: BufferSegment, from: number, to: number, value: number): number {
  if (from >= to) return -1;
  const block = seg.block;
  if (
    block !== null && !wasmUnavailable &&
    (strategy === "wasm" || (strategy === "auto" && to - from < JSC_KERNEL_MAX_BYTES))
  ) {
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
  // indexOf scans to the end of the view; a bounded view costs an allocation, so only when
  // the unwanted tail is long (oversize blocks).
  if (bytes.length - to > 4096) {
    const found = bytes.subarray(from, to).indexOf(value);
    return found < 0 ? -1 : from + found;
  }
  const found = bytes.indexOf(value, from);
  return found < to ? found : -1;
}

/** Forgets that the kernels failed to load and restores `"auto"` (tests only). */
export function resetSearchForTesting(): void {
  wasmUnavailable = false;
  strategy = "auto";
}
