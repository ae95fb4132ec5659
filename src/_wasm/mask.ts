/**
 * WebSocket masking of one run of memory in place: the mask kernel on pool memory, else the
 * TypeScript word loop (bytes outside pool memory, or a host where no kernels load). No runtime
 * has a native path.
 *
 * @module
 */

import { maskShort, maskWords } from "../_mask_reference.ts";
import type { PoolBlock } from "../memory_pool.ts";
import { RUNTIME } from "./native.ts";
import { choiceOf } from "./paths.ts";
import { kernelsOf } from "./registry.ts";

// Below these many bytes a loop over four key bytes in locals beats the call into WebAssembly.
// With the pool block known, the kernel's memory is found cheaply and the call wins from 32 B
// (Bun 16 vs 19 ns at 32 B, 26 vs 43 at 64; Deno 23 vs 34 at 32 B); found from the view's
// buffer (a getter of 30–50 ns) it wins from 64 B. Measured like bench/websocket.ts "mask" rows.
// Bun: inside a WebSocket echo the call costs more than in that loop (a 32 B echo in process:
// 530 ns a message with the kernel, 440 with the loop), so the loop goes up to 64 B there.
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
