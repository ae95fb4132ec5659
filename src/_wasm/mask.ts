/**
 * WebSocket masking of one run of memory in place: the mask kernel on pool memory, else the
 * TypeScript word loop (bytes outside pool memory, or a host where no kernels load). No runtime
 * has a native path.
 *
 * @module
 */

import { maskWords } from "../_mask_reference.ts";
import { pathFor } from "./paths.ts";
import { kernelsOf } from "./registry.ts";

// Below this many bytes a JavaScript loop is as quick as the call into WebAssembly (bench/websocket.ts
// "mask" rows: at 32 B the kernel is about 10× the word loop, at 8 B they are close).
const KERNEL_FROM_BYTES = 16;

/**
 * XORs `bytes[from, to)` with the masking key `key` (4 bytes little-endian, key byte 0 in the low
 * 8 bits), starting at key byte `phase` (0–3).
 */
export function mask(bytes: Uint8Array, from: number, to: number, key: number, phase: number): void {
  const n = to - from;
  if (n <= 0) return;
  if (n >= KERNEL_FROM_BYTES && pathFor("mask", n) === "wasm") {
    const kernels = kernelsOf(bytes.buffer);
    if (kernels !== undefined) {
      kernels.mask(bytes.byteOffset + from, n, key, phase);
      return;
    }
  }
  maskWords(bytes, from, to, key, phase);
}
