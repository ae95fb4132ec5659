/**
 * Which memories the kernels run on: the pool registers each `WebAssembly.Memory` it creates,
 * and any view of it (a segment, a `getMemory` view, `buffer.first`) then finds the kernels
 * instance over that memory from its `ArrayBuffer` alone. Instances are created on first use,
 * one per memory (the kernels import their memory). When the kernels cannot load (a host that
 * forbids compiling WebAssembly, with no module given to `setWasmModule`), every lookup answers
 * `undefined` from then on and the operations take their native or TypeScript path;
 * `kernelModule` has said so once on the console.
 *
 * The layer's own memory (the reserved kernel area and a 1 MiB gather area; its pages cost
 * resident memory only once used) takes copies of bytes that are not pool memory, and holds the
 * gather area the UTF-8 decoder copies scattered segments into.
 *
 * @module
 */

import { instantiateKernels, KERNEL_RESERVED_BYTES, KERNEL_SCRATCH_OFFSET, type Kernels } from "./kernels.ts";
import { createFixedMemory, WASM_PAGE_BYTES } from "./memory.ts";

/** Bytes of kernel scratch space in every memory (what one kernel call may write there). */
export const SCRATCH_BYTES: number = KERNEL_RESERVED_BYTES - KERNEL_SCRATCH_OFFSET;

/** Bytes in the gather area of the layer's own memory. */
export const GATHER_BYTES: number = 1024 * 1024;

/** A memory the kernels may run on, and what the layer keeps for it. */
class KernelMemory {
  readonly memory: WebAssembly.Memory;
  /** A view of the whole memory: kernel pointers index it. */
  readonly bytes: Uint8Array;
  /** A view of the kernel scratch space (see {@linkcode scratchView}). */
  readonly scratch: Uint8Array;
  #kernels: Kernels | undefined;
  #data: DataView | undefined;
  // The reset generation #kernels was made in (a test reset makes every memory start afresh).
  #generation = generation;

  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
    this.bytes = new Uint8Array(memory.buffer);
    this.scratch = this.bytes.subarray(KERNEL_SCRATCH_OFFSET, KERNEL_RESERVED_BYTES);
  }

  /** A `DataView` of the whole memory (made on first use). */
  data(): DataView {
    return this.#data ??= new DataView(this.memory.buffer);
  }

  /** The kernels over this memory, or undefined when they cannot load on this host. */
  kernels(): Kernels | undefined {
    if (this.#generation !== generation) {
      this.#generation = generation;
      this.#kernels = undefined;
    }
    if (this.#kernels !== undefined || unavailable) return this.#kernels;
    try {
      this.#kernels = instantiateKernels(this.memory);
    } catch {
      unavailable = true; // kernelModule() has warned (once)
      lastMemory = lastKernels = undefined;
    }
    return this.#kernels;
  }
}

// Each registered memory's entry hangs off its ArrayBuffer (which never changes: pool memories
// never grow) under this symbol: a property load per lookup, where a WeakMap cost 3–4× more per
// search of a short buffer (.work probes of ReadableBuffer#indexOf), and nothing to forget when
// the memory goes.
const ENTRY: unique symbol = Symbol("channels kernel memory");
interface Registered {
  [ENTRY]?: KernelMemory;
}
let generation = 0;
// Set when the kernels failed to load: nothing tries again (until a test resets).
let unavailable = false;
// The layer's own memory, created on first use.
let own: KernelMemory | undefined;
// The last memory kernelsOf found kernels for, and those kernels: consecutive lookups are mostly
// for one memory (a search per frame of one buffer), and a symbol property costs more on JSC.
let lastMemory: ArrayBufferLike | WebAssembly.Memory | undefined;
let lastKernels: Kernels | undefined;
// The same for memoryData.
let lastDataMemory: WebAssembly.Memory | undefined;
let lastData: DataView | undefined;

/** Registers a pool memory: its views can then run kernels in place. */
export function registerKernelMemory(memory: WebAssembly.Memory): void {
  const entry = new KernelMemory(memory);
  (memory as Registered)[ENTRY] = entry;
  (memory.buffer as Registered)[ENTRY] = entry;
}

function entryOf(memory: ArrayBufferLike | WebAssembly.Memory): KernelMemory | undefined {
  return (memory as Registered)[ENTRY];
}

/**
 * The kernels over `memory` (a pool memory, or the `ArrayBuffer` of one: a view's `buffer`);
 * undefined when it is not pool memory, or no kernels load. A `WebAssembly.Memory` (a block's
 * `memory`) is the cheaper key: reading a view's `buffer` costs a getter call.
 */
export function kernelsOf(memory: ArrayBufferLike | WebAssembly.Memory): Kernels | undefined {
  if (memory === lastMemory) return lastKernels;
  if (unavailable) return undefined;
  const kernels = entryOf(memory)?.kernels();
  if (kernels !== undefined) {
    lastMemory = memory;
    lastKernels = kernels;
  }
  return kernels;
}

/**
 * Forgets the last lookup if it was `memory`, so the layer holds no reference to a memory its
 * pool dropped (the pool calls it when it lets a slab go).
 */
export function forgetKernelMemory(memory: WebAssembly.Memory): void {
  if (lastMemory === memory || lastMemory === memory.buffer) lastMemory = lastKernels = undefined;
  if (lastDataMemory === memory) lastDataMemory = lastData = undefined;
}

/**
 * A `DataView` of the whole pool memory `memory` (its byte offsets are those of the memory's
 * views' `byteOffset`), or undefined when it is not pool memory: word loads and stores at any
 * alignment, which JavaScriptCore runs faster than byte loops over a `Uint8Array`.
 */
export function memoryData(memory: WebAssembly.Memory): DataView | undefined {
  if (memory === lastDataMemory) return lastData;
  const data = entryOf(memory)?.data();
  if (data !== undefined) {
    lastDataMemory = memory;
    lastData = data;
  }
  return data;
}

/**
 * {@linkcode memoryData} from a view's `ArrayBuffer` (a getter call to read it: ask once per view).
 */
export function memoryDataOf(buffer: ArrayBufferLike): DataView | undefined {
  return entryOf(buffer)?.data();
}

/** A view of the whole pool memory `memory` is (or whose `ArrayBuffer` it is): kernel pointers index it; or undefined. */
export function memoryView(memory: ArrayBufferLike | WebAssembly.Memory): Uint8Array | undefined {
  return entryOf(memory)?.bytes;
}

/** True until the kernels failed to load on this host. */
export function kernelsAvailable(): boolean {
  return !unavailable;
}

/**
 * The kernel scratch space of the memory `buffer` belongs to, `[KERNEL_SCRATCH_OFFSET,
 * KERNEL_RESERVED_BYTES)`: a kernel call may write there when its output lies in another memory
 * (calls never overlap, and nothing lives there between calls).
 */
export function scratchView(buffer: ArrayBufferLike): Uint8Array {
  return (entryOf(buffer) as KernelMemory).scratch;
}

/** Where the scratch space starts in every memory (a kernel pointer). */
export const SCRATCH_OFFSET: number = KERNEL_SCRATCH_OFFSET;

/**
 * The layer's own memory (created on first use, and registered): its scratch space takes copies
 * of bytes outside the pool, and its gather area is validated in place.
 */
function ownMemory(): KernelMemory {
  if (own === undefined) {
    const memory = createFixedMemory((KERNEL_RESERVED_BYTES + GATHER_BYTES) / WASM_PAGE_BYTES);
    registerKernelMemory(memory);
    own = entryOf(memory.buffer) as KernelMemory;
  }
  return own;
}

/** The kernels over the layer's own memory, or undefined when no kernels load. */
export function ownKernels(): Kernels | undefined {
  return unavailable ? undefined : ownMemory().kernels();
}

/** The scratch space of the layer's own memory (see {@linkcode scratchView}). */
export function ownScratch(): Uint8Array {
  return ownMemory().scratch;
}

/**
 * The gather area: {@linkcode GATHER_BYTES} in the layer's own memory, after the kernels'
 * reserved bytes, so the kernels validate what is copied there in place.
 */
export function gatherArea(): Uint8Array {
  const memory = ownMemory();
  return memory.bytes.subarray(KERNEL_RESERVED_BYTES, KERNEL_RESERVED_BYTES + GATHER_BYTES);
}

/**
 * Forgets every instance and the failure, as after a fresh start: each memory instantiates the
 * kernels again on next use, from the module in use then (the single test reset calls it).
 */
export function resetRegistryForTesting(): void {
  generation++;
  unavailable = false;
  lastMemory = lastKernels = undefined;
}
