/**
 * Byte search in one run of memory: the memchr kernel where the bytes are pool memory, or the
 * runtime's `TypedArray.prototype.indexOf`, as the layer's table chooses (./paths.ts).
 *
 * @module
 */

import { pathFor } from "./paths.ts";
import { kernelsOf } from "./registry.ts";

/** Index in `bytes` of the first `value` in `[from, to)`, or -1. */
export function memchr(bytes: Uint8Array, from: number, to: number, value: number): number {
  if (from >= to) return -1;
  if (pathFor("memchr", to - from) === "wasm") {
    const kernels = kernelsOf(bytes.buffer);
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
