/**
 * WebSocket masking of one run of memory in place: the mask kernel on pool memory, else the
 * TypeScript word loop (bytes outside pool memory, or a host where no kernels load). No runtime
 * has a native path.
 *
 * @module
 */

import { maskShort, maskWords } from "../_mask_reference.ts";
import { pathFor } from "./paths.ts";
import type { Kernels } from "./kernels.ts";
import { kernelsOf } from "./registry.ts";

// Below this many bytes a loop over four key bytes in locals beats the call into WebAssembly
// (about 17–22 ns against 40–56 ns at 32 B on Bun and Deno; even at 64 B): bench/websocket.ts
// "mask" rows and the 32 B echo.
const KERNEL_FROM_BYTES = 64;

// The last memory masked in and its kernels (an instance outlives a test reset of the layer: it
// still runs on its memory, and pathFor() still says when kernels are unavailable).
let lastBuffer: ArrayBufferLike | undefined;
let lastKernels: Kernels | undefined;

/**
 * XORs `bytes[from, to)` with the masking key `key` (4 bytes little-endian, key byte 0 in the low
 * 8 bits), starting at key byte `phase` (0–3).
 */
export function mask(bytes: Uint8Array, from: number, to: number, key: number, phase: number): void {
  const n = to - from;
  if (n <= 0) return;
  if (n < KERNEL_FROM_BYTES) {
    maskShort(bytes, from, to, key, phase);
    return;
  }
  if (pathFor("mask", n) === "wasm") {
    // One memory's kernels remembered: frames come from the same few pool memories.
    const buffer = bytes.buffer;
    if (buffer !== lastBuffer) {
      lastBuffer = buffer;
      lastKernels = kernelsOf(buffer);
    }
    const kernels = lastKernels;
    if (kernels !== undefined) {
      kernels.mask(bytes.byteOffset + from, n, key, phase);
      return;
    }
  }
  maskWords(bytes, from, to, key, phase);
}
