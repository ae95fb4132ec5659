/**
 * Byte search in one run of memory: the memchr kernel where the bytes are pool memory, or the
 * runtime's `TypedArray.prototype.indexOf`, as the layer's table chooses (./paths.ts).
 *
 * @module
 */

import type { PoolBlock } from "../memory_pool.ts";
import { choiceOf } from "./paths.ts";
import { kernelsOf } from "./registry.ts";

const MEMCHR = choiceOf("memchr");

/** Index in `bytes` of the first `value` in `[from, to)`, or -1. `block`: the pool block `bytes` lies in, or null. */
export function memchr(
  bytes: Uint8Array,
  from: number,
  to: number,
  value: number,
  block: PoolBlock | null = null,
): number {
  if (from >= to) return -1;
  // Kernels only for bytes in a pool block: a view without one is not pool memory as far as
  // search knows (asking its buffer costs more than a short search).
  if (block !== null && MEMCHR.wantsKernel(to - from)) {
    const kernels = kernelsOf(block.memory);
    if (kernels !== undefined) {
      const found = kernels.memchr(bytes.byteOffset + from, to - from, value);
      return found < 0 ? -1 : from + found;
    }
  }
  // indexOf scans to the end of the view; a bounded view costs an allocation, so only when the
  // unwanted tail is long (oversize blocks, or a run in a view of a whole memory).
  if (bytes.length - to > 4096) {
    const found = bytes.subarray(from, to).indexOf(value);
    return found < 0 ? -1 : from + found;
  }
  const found = bytes.indexOf(value, from);
  return found < to ? found : -1;
}
