/**
 * WebSocket masking of one run of memory in place: the mask kernel on pool memory, else the
 * TypeScript word loop (bytes outside pool memory, or a host where no kernels load). No runtime
 * has a native path.
 *
 * @module
 */

import { maskShort, maskWords } from "../_mask_reference.ts";
import type { PoolBlock } from "../memory_pool.ts";
import { choiceOf } from "./paths.ts";
import { kernelsOf } from "./registry.ts";

// Below this many bytes a loop over four key bytes in locals beats the call into WebAssembly
// (about 17–22 ns against 40–56 ns at 32 B on Bun and Deno; even at 64 B): bench/websocket.ts
// "mask" rows and the 32 B echo.
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
  if (n < KERNEL_FROM_BYTES) {
    maskShort(bytes, from, to, key, phase);
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
