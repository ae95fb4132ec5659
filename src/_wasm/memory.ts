/**
 * The one place that creates `WebAssembly.Memory` for the pool. A memory is created with
 * `maximum === initial` and never grown: growing detaches every view of it, and views of
 * pool memory are handed to users (DESIGN.md §4.1). More memory means another slab.
 *
 * @module
 */

/** Bytes in one WebAssembly page. */
export const WASM_PAGE_BYTES = 65536;

/** Creates a fixed-size memory of `pages` pages that can never grow. */
export function createFixedMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages });
}
