/**
 * WebSocket masking of one run of memory in place: the mask kernel on pool memory, else the
 * TypeScript word loop (bytes outside pool memory, or a host where no kernels load); runs too
 * short for a call into WebAssembly to pay go through a loop: four bytes a step through the
 * pool memory's `DataView` when the block is known, else over the four key bytes in locals.
 * No runtime has a native path.
 *
 * @module
 */

import { maskShort, maskWords } from "../_mask_reference.ts";
import type { PoolBlock } from "../memory_pool.ts";
import { RUNTIME } from "./native.ts";
import { choiceOf } from "./paths.ts";
import { kernelsOf, memoryData } from "./registry.ts";

// Below these many bytes a loop over four key bytes in locals beats the call into WebAssembly.
// With the pool block known, the kernel's memory is found cheaply and the call wins from 32 B
// (Bun 16 vs 19 ns at 32 B, 26 vs 43 at 64; Deno 23 vs 34 at 32 B); found from the view's
// buffer (a getter of 30–50 ns) it wins from 64 B. Measured like bench/websocket.ts "mask" rows.
// Bun: inside a WebSocket echo the call costs more than in that loop (a 32 B echo in process:
// 530 ns a message with the kernel, 440 with the loop; no better at 64 B), so the loop goes up
// to 64 B there. The DataView loop: ~10–20 ns less a 32 B message than the byte loop on Bun.
const KERNEL_FROM_BYTES_WITH_BLOCK = RUNTIME === "bun" ? 64 : 32;
const KERNEL_FROM_BYTES = 64;

const MASK = choiceOf("mask");

/**
 * XORs `bytes[from, to)` with the masking key `key` (4 bytes little-endian, key byte 0 in the low
 * 8 bits), starting at key byte `phase` (0–3). `block`: the pool block `bytes` lies in when the
 * caller knows it (finding the memory from it costs less than from the view's buffer).
 */
export function mask(
  bytes: Uint8Array,
  from: number,
  to: number,
  key: number,
  phase: number,
  block: PoolBlock | null = null,
): void {
  const n = to - from;
  if (n <= 0) return;
  if (n < (block !== null ? KERNEL_FROM_BYTES_WITH_BLOCK : KERNEL_FROM_BYTES)) {
    const data = block !== null ? memoryData(block.memory) : undefined;
    if (data !== undefined) maskData(data, bytes.byteOffset + from, n, key, phase);
    else maskShort(bytes, from, to, key, phase);
    return;
  }
  if (MASK.wantsKernel(n)) {
    const kernels = kernelsOf(block !== null ? block.memory : bytes.buffer);
    if (kernels !== undefined) {
      kernels.mask(bytes.byteOffset + from, n, key, phase);
      return;
    }
  }
  maskWords(bytes, from, to, key, phase);
}

/**
 * {@linkcode mask} of `n` bytes at `at` of the pool memory `memory`, for a caller that has its
 * `DataView` (`data`, from `memoryData`) already: the loop through it for a short run, else the
 * kernel.
 */
export function maskPool(
  memory: WebAssembly.Memory,
  data: DataView,
  at: number,
  n: number,
  key: number,
  phase: number,
): void {
  if (n >= KERNEL_FROM_BYTES_WITH_BLOCK && MASK.wantsKernel(n)) {
    const kernels = kernelsOf(memory);
    if (kernels !== undefined) {
      kernels.mask(at, n, key, phase);
      return;
    }
  }
  maskData(data, at, n, key, phase);
}

/** {@linkcode mask} of `n` bytes at `at` in a whole pool memory's `DataView`: four bytes a step. */
function maskData(data: DataView, at: number, n: number, key: number, phase: number): void {
  const shift = (phase & 3) << 3;
  const k = shift === 0 ? key | 0 : (key >>> shift) | (key << (32 - shift));
  // int32 positions (lossless: pool memory offsets), as in maskShort.
  let i = at | 0;
  const end = (at + n) | 0;
  for (const last = end - 3; i < last; i += 4) data.setInt32(i, data.getInt32(i, true) ^ k, true);
  for (let rest = k; i < end; i++, rest >>>= 8) data.setUint8(i, data.getUint8(i) ^ (rest & 0xff));
}
