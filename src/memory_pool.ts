/**
 * The memory a channel hands out: blocks of `WebAssembly.Memory` carved from slabs, rented one
 * at a time or as a span of adjacent blocks, so WebAssembly kernels run on the bytes where they
 * lie; and given back to the host when a slab has been idle (DESIGN.md §8).
 *
 * @module
 */

import { KERNEL_RESERVED_BYTES } from "./_wasm/kernels.ts";
import { forgetKernelMemory, registerKernelMemory } from "./_wasm/registry.ts";
import { createFixedMemory, WASM_PAGE_BYTES } from "./_wasm/memory.ts";
import { isIntegerIn, poolLimitError, rangeError, stateError } from "./errors.ts";

/** Options of {@linkcode MemoryPool}. */
export interface MemoryPoolOptions {
  /**
   * Bytes in one block: the unit a channel segment rents. An integer multiple of 16 from 16
   * to 16 MiB.
   *
   * @default {4096}
   */
  blockSize?: number;
  /**
   * Blocks in one slab (one `WebAssembly.Memory`), at most. A slab is created whenever no
   * slab has the blocks a rent needs, and never grown. Its pages are only touched (and so
   * only cost resident memory) as blocks are first rented. A rent of up to a slab's blocks is
   * one span in one slab; large slabs also keep a transform's input and output in one memory,
   * where a WebAssembly kernel can read one and write the other.
   *
   * @default {1024} (4 MiB of 4 KiB blocks), or fewer when `maxBytes` is smaller than that slab
   */
  blocksPerSlab?: number;
  /**
   * Upper bound on `stats().reservedBytes` (slabs, their kernel areas and oversize blocks).
   * The last slab shrinks to what the limit leaves, so all but the kernel areas is rentable
   * (to within a WebAssembly page); a rent that would pass the limit throws a `RangeError`
   * instead of reserving more.
   *
   * @default {Infinity}
   */
  maxBytes?: number;
  /**
   * Gives a slab back to the host once it has had no rented block for this many
   * milliseconds (and drops kept oversize blocks unused that long), as
   * {@linkcode MemoryPool.trim} does at once. Checked every `idleTrimMs / 2` by a timer that
   * never keeps the process alive; `Infinity` turns it off.
   *
   * @default {Infinity} (off); {@linkcode MemoryPool.shared} uses {@linkcode SHARED_IDLE_TRIM_MS}
   */
  idleTrimMs?: number;
  /**
   * Fill every released block and span with {@linkcode POISON_BYTE}, so a view used after
   * its memory was released shows the poison instead of plausible bytes. For tests and
   * debugging.
   *
   * @default {false}
   */
  debug?: boolean;
}

/** What {@linkcode MemoryPool.stats} reports. */
export interface MemoryPoolStats {
  /** Slabs (`WebAssembly.Memory` objects of up to `blocksPerSlab` blocks) the pool holds. */
  slabs: number;
  /**
   * Blocks rented and not yet released: a span counts its blocks, an oversize block counts
   * one.
   */
  rentedBlocks: number;
  /** Blocks of the pool's slabs not rented, ready to rent alone or in spans. */
  freeBlocks: number;
  /** Spans (runs of adjacent blocks rented as one) rented and not yet released. */
  spans: number;
  /** Oversize blocks (larger than a slab: a memory of their own) rented and not yet released. */
  oversizeBlocks: number;
  /** Released oversize blocks kept for reuse (at most 8, 32 MiB in all; dropped first under `maxBytes`). */
  freeOversizeBlocks: number;
  /** Bytes of the blocks, spans and oversize blocks rented and not yet released. */
  rentedBytes: number;
  /** Bytes of WebAssembly memory the pool holds: slabs plus oversize blocks (rented or kept). */
  reservedBytes: number;
  /** Slabs with no rented block: what {@linkcode MemoryPool.trim} would give back now. */
  idleSlabs: number;
  /** Bytes given back to the host by `trim()` and by idle trimming since the pool was created. */
  trimmedBytes: number;
}

/**
 * The byte a debug pool writes over released blocks (0xdd).
 *
 * @example A debug pool poisons what it gets back
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryPool, POISON_BYTE } from "@channels/channels";
 *
 * const pool = new MemoryPool({ debug: true });
 * const block = pool.rent();
 * block.bytes.fill(1);
 * pool.release(block);
 * assert.equal(block.bytes[0], POISON_BYTE); // a late use reads 0xdd, not plausible data
 * ```
 */
export const POISON_BYTE = 0xdd;

/**
 * The `idleTrimMs` of {@linkcode MemoryPool.shared}: a slab idle for 10 seconds goes back to
 * the host (.NET 10's pool runs its eviction every 10 seconds too:
 * research/seed-and-pipelines.md §5).
 *
 * @example The shared pool gives idle memory back on its own
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryPool, SHARED_IDLE_TRIM_MS } from "@channels/channels";
 *
 * assert.equal(MemoryPool.shared.idleTrimMs, SHARED_IDLE_TRIM_MS);
 * // A pool of your own trims only when asked to:
 * assert.equal(new MemoryPool().idleTrimMs, Infinity);
 * assert.equal(new MemoryPool({ idleTrimMs: 1000 }).idleTrimMs, 1000);
 * ```
 */
export const SHARED_IDLE_TRIM_MS = 10_000;

let slabOf: (block: PoolBlock) => Slab;
let indexOf: (block: PoolBlock) => number;
let countOf: (block: PoolBlock) => number;
let createBlock: (slab: Slab, index: number, count: number, byteOffset: number, byteLength: number) => PoolBlock;

/**
 * Memory rented from a pool: one block, a span of adjacent blocks, or an oversize block (a
 * memory of its own). Channels rent them for their segments; code that writes a custom
 * channel can rent them too. `bytes` is a view of all of it that never detaches (memories
 * never grow), but the bytes belong to the renter only until {@linkcode MemoryPool.release}.
 *
 * @example Renting a block for a channel of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryPool } from "@channels/channels";
 *
 * const pool = new MemoryPool();
 * const block = pool.rent(100);
 * assert.ok(block.bytes.length >= 100);
 * assert.ok(block.memory instanceof WebAssembly.Memory); // kernels can run on block.byteOffset
 * pool.release(block);
 * assert.equal(pool.stats().rentedBlocks, 0);
 * ```
 */
export class PoolBlock {
  /** A view of the whole block or span. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The memory the block lives in (for WebAssembly kernels). */
  readonly memory: WebAssembly.Memory;
  /** Offset of the block's first byte in {@linkcode PoolBlock.memory}. */
  readonly byteOffset: number;
  /** True while rented. */
  rented: boolean = false;
  readonly #slab: Slab;
  // The first block's index in the slab and the blocks covered (0 for an oversize block).
  readonly #index: number;
  readonly #count: number;

  static {
    slabOf = (block) => block.#slab;
    indexOf = (block) => block.#index;
    countOf = (block) => block.#count;
    createBlock = (slab, index, count, byteOffset, byteLength) =>
      new PoolBlock(slab, index, count, byteOffset, byteLength);
  }

  /** Internal: blocks are created by the pool. */
  private constructor(slab: Slab, index: number, count: number, byteOffset: number, byteLength: number) {
    this.#slab = slab;
    this.#index = index;
    this.#count = count;
    this.memory = slab.memory;
    this.byteOffset = byteOffset;
    this.bytes = new Uint8Array(slab.memory.buffer as ArrayBuffer, byteOffset, byteLength);
  }
}

// The state of each block of a slab (Slab.state).
const FREE = 0; // in the slab: rentable alone or in a span
const TAKEN = 1; // rented, or released onto the pool's free list of single blocks

/**
 * A `WebAssembly.Memory` of fixed size: the kernel area, then `blockCount` blocks (none for an
 * oversize block's memory), registered with the kernel layer (kernels start on first use).
 */
class Slab {
  /** The memory; never grown. */
  readonly memory: WebAssembly.Memory;
  /** The pool that created the slab. */
  readonly pool: MemoryPool;
  /** Bytes reserved by the memory. */
  readonly byteLength: number;
  /** Blocks carved from this slab (0 for an oversize block's own memory). */
  readonly blockCount: number;
  /** FREE or TAKEN per block. */
  readonly state: Uint8Array;
  /** Blocks whose state is FREE. */
  free: number;
  /** No block below this index is FREE. */
  lowestFree = 0;
  /** Blocks rented from this slab (a span counts its blocks, an oversize block one). */
  rented = 0;
  /** Consecutive idle-trim ticks that found the slab with no rented block and no rent since. */
  idleTicks = 0;
  /** Position in the pool's slab list. */
  index = 0;
  // Block objects by first index, made on first rent and kept for the next: single blocks,
  // and the last span made at each index.
  readonly singles: (PoolBlock | undefined)[] = [];
  readonly spans: (PoolBlock | undefined)[] = [];

  /** Internal: slabs are created by the pool. */
  constructor(pool: MemoryPool, pages: number, blockCount: number) {
    this.pool = pool;
    this.memory = createFixedMemory(pages);
    this.byteLength = pages * WASM_PAGE_BYTES;
    this.blockCount = blockCount;
    this.state = new Uint8Array(blockCount);
    this.free = blockCount;
    registerKernelMemory(this.memory);
  }

  /**
   * Lets the memory go: the pool holds it no more, and neither do the kernels. Views of it
   * (stale ones a user kept) keep it alive until they are unreachable; nothing detaches.
   */
  letGo(): void {
    forgetKernelMemory(this.memory);
  }
}

/**
 * The first index from `from` that starts `count` FREE blocks, or -1. A plain loop: V8's
 * `Uint8Array.prototype.indexOf` and `fill` cost 100+ ns a call even on a few bytes, and
 * ~2 ns a byte when they miss (bench/pool_memory.ts, "rent + release").
 */
function findRun(state: Uint8Array, from: number, count: number): number {
  let run = 0;
  for (let i = from; i < state.length; i++) {
    if (state[i] !== FREE) run = 0;
    else if (++run === count) return i - count + 1;
  }
  return -1;
}

/** Sets `state[from, from + count)` to `value` (a loop, for the reason findRun gives). */
function mark(state: Uint8Array, from: number, count: number, value: number): void {
  for (let i = from; i < from + count; i++) state[i] = value;
}

/** Marks every block or span of `list` FREE in its slab again, and empties the list. */
function returnToSlabs(list: PoolBlock[]): void {
  for (let block = list.pop(); block !== undefined; block = list.pop()) {
    const slab = slabOf(block);
    const index = indexOf(block);
    const count = countOf(block);
    mark(slab.state, index, count, FREE);
    slab.free += count;
    if (index < slab.lowestFree) slab.lowestFree = index;
  }
}

/** Removes from `list` the blocks of slabs no longer in the pool (index -1); returns the blocks removed. */
function dropTrimmed(list: PoolBlock[]): number {
  let kept = 0;
  let dropped = 0;
  for (let i = 0; i < list.length; i++) {
    const block = list[i] as PoolBlock;
    if (slabOf(block).index >= 0) list[kept++] = block;
    else dropped += countOf(block);
  }
  list.length = kept;
  return dropped;
}

/** Starts a timer that does not keep the process alive (Node and Bun: unref; Deno: unrefTimer). */
function unrefTimeout(callback: () => void, ms: number): unknown {
  const id: unknown = setTimeout(callback, ms);
  if (typeof id === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(id);
  } else if (typeof (id as { unref?: unknown } | null)?.unref === "function") {
    (id as { unref(): void }).unref();
  }
  return id;
}

const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
const DEFAULT_BLOCKS_PER_SLAB = 1024;
const MAX_FREE_OVERSIZE_BLOCKS = 8;
const MAX_FREE_OVERSIZE_BYTES = 32 * 1024 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
// Idle trimming looks every idleTrimMs / 2 and trims what was idle at this many looks in a row
// with no rent between: idle for at least idleTrimMs, at most 1.5 × idleTrimMs.
const IDLE_TRIM_TICKS = 3;

let sharedPool: MemoryPool | undefined;

/**
 * A pool of WebAssembly memory: fixed-size blocks, runs of them, and the occasional block
 * larger than a slab.
 *
 * - Blocks come from slabs: one `WebAssembly.Memory` of up to `blocksPerSlab` blocks each,
 *   created with `maximum === initial` and never grown, so **no view of pool memory is ever
 *   detached**. A slab's pages cost resident memory only once its blocks are first used.
 *   The first 64 KiB of every slab are kept for the WebAssembly kernels.
 * - `rent(n)` for up to `blockSize` bytes gives one block; released ones go on a free list and
 *   are rented again last-in first-out (warm in cache, and in address order when a channel
 *   released them together).
 * - `rent(n)` for more, up to a slab's blocks, gives a **span**: adjacent blocks of one slab as
 *   one view, so a 64 KiB write or socket read is one segment and one kernel call.
 * - `rent(n)` past a slab gives an oversize block: a memory of its own. A few released
 *   oversize blocks are kept for reuse (dropped first when `maxBytes` is near).
 * - WebAssembly memory cannot shrink, but a slab with no rented block can be dropped:
 *   {@linkcode MemoryPool.trim} does it at once, `idleTrimMs` once a slab has been idle that
 *   long. Views of released memory keep that memory alive (they never detach); it goes back
 *   to the host once they are unreachable.
 *
 * @example Sharing one pool between channels, and watching it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, MemoryPool } from "@channels/channels";
 *
 * const pool = new MemoryPool({ maxBytes: 8 * 1024 * 1024 });
 * const channel = new Channel({ pool });
 * await channel.writer.write(new Uint8Array([1, 2, 3]));
 * assert.equal(pool.stats().rentedBlocks, 1);
 *
 * const { buffer } = await channel.reader.read();
 * channel.reader.advanceTo(buffer.length);
 * channel.writer.complete();
 * channel.reader.complete();
 * assert.equal(pool.stats().rentedBlocks, 0);
 * assert.equal(pool.trim(), 4 * 1024 * 1024 + 65536); // the slab goes back to the host
 * assert.equal(pool.stats().reservedBytes, 0);
 * ```
 */
export class MemoryPool {
  /** Bytes in one block. */
  readonly blockSize: number;
  /** Blocks in one slab, at most (the last slab under `maxBytes` may hold fewer). */
  readonly blocksPerSlab: number;
  /** Upper bound on reserved bytes. */
  readonly maxBytes: number;
  /** Milliseconds a slab stays idle before the pool gives it back; `Infinity`: never. */
  readonly idleTrimMs: number;
  /** Whether released blocks are poisoned. */
  readonly debug: boolean;

  // Invariant: every block of every slab is rented, on a free list (both TAKEN), or FREE in
  // its slab. Released blocks and spans wait on free lists by size, last in first out, for
  // the next rent of that size: O(1) both ways. When a rent finds neither a list entry nor a
  // FREE run, the lists go back to their slabs (#flushFree) before a slab is added.
  readonly #free: PoolBlock[] = []; // single blocks
  readonly #spanFree: (PoolBlock[] | undefined)[] = []; // spans by block count
  #spanFreeBlocks = 0; // blocks in the spans on #spanFree
  readonly #slabs: Slab[] = [];
  #firstFreeSlab = 0; // no slab before this index has a FREE block
  #rented = 0; // blocks rented (spans count their blocks, oversize blocks one)
  #oversizeBytes = 0; // bytes of the oversize blocks rented (blocks and spans: #rented × blockSize)
  #spans = 0;
  #oversize = 0;
  // Released oversize blocks kept for reuse, and their bytes.
  readonly #oversizeFree: PoolBlock[] = [];
  #oversizeFreeBytes = 0;
  // Slab bytes plus the bytes of oversize blocks' memories (rented or kept).
  #reservedBytes = 0;
  #trimmedBytes = 0;
  readonly #slabPages: number;
  #timer: unknown = undefined;
  #self: WeakRef<MemoryPool> | undefined; // what the idle timer holds

  /**
   * Creates a pool. No memory is reserved until the first rent.
   *
   * @param options Block and slab sizes, a limit, idle trimming and the debug switch.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options?: MemoryPoolOptions) {
    if (options === undefined) options = {};
    const { blockSize = 4096, maxBytes = Infinity, idleTrimMs = Infinity, debug = false } = options;
    if (!isIntegerIn(blockSize, 16, MAX_BLOCK_SIZE) || blockSize % 16 !== 0) {
      throw rangeError("create the pool", "blockSize must be a multiple of 16 from 16 to 16777216", blockSize);
    }
    if (typeof maxBytes !== "number" || Number.isNaN(maxBytes) || maxBytes <= 0) {
      throw rangeError("create the pool", "maxBytes must be a positive number", maxBytes);
    }
    if (typeof idleTrimMs !== "number" || !(idleTrimMs > 0) || (idleTrimMs > MAX_TIMER_MS && idleTrimMs !== Infinity)) {
      throw rangeError(
        "create the pool",
        `idleTrimMs must be a positive number of milliseconds up to ${MAX_TIMER_MS}, or Infinity`,
        idleTrimMs,
      );
    }
    // The default slab shrinks to fit maxBytes; an explicit one is the most a slab holds.
    const fitting = Math.floor((maxBytes - KERNEL_RESERVED_BYTES) / blockSize);
    const blocksPerSlab = options.blocksPerSlab ?? Math.max(1, Math.min(DEFAULT_BLOCKS_PER_SLAB, fitting));
    if (!isIntegerIn(blocksPerSlab, 1, Math.floor(MAX_SLAB_BYTES / blockSize))) {
      throw rangeError(
        "create the pool",
        `blocksPerSlab must be an integer from 1 to ${Math.floor(MAX_SLAB_BYTES / blockSize)} for this blockSize`,
        blocksPerSlab,
      );
    }
    const smallest = Math.ceil((KERNEL_RESERVED_BYTES + blockSize) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
    if (smallest > maxBytes) {
      throw rangeError(
        "create the pool",
        `maxBytes must hold a slab of one block, ${smallest} bytes (64 KiB for the kernels, then the block)`,
        maxBytes,
      );
    }
    this.blockSize = blockSize;
    this.blocksPerSlab = blocksPerSlab;
    this.maxBytes = maxBytes;
    this.idleTrimMs = idleTrimMs;
    this.debug = debug;
    this.#slabPages = Math.ceil((KERNEL_RESERVED_BYTES + blockSize * blocksPerSlab) / WASM_PAGE_BYTES);
  }

  /**
   * The pool channels use when none is given: default options and
   * `idleTrimMs: SHARED_IDLE_TRIM_MS` (10 seconds), created on first use.
   */
  static get shared(): MemoryPool {
    return sharedPool ??= new MemoryPool({ idleTrimMs: SHARED_IDLE_TRIM_MS });
  }

  /**
   * Rents memory of at least `minimumSize` bytes: one block when that fits in `blockSize`
   * (or is 0), a span of adjacent blocks when it fits in a slab, else an oversize block.
   *
   * @param minimumSize Bytes the memory must hold at least.
   * @returns A block; its `bytes` are the renter's until {@linkcode MemoryPool.release}.
   * @throws {RangeError} When `minimumSize` is negative or not an integer, or the rent
   * would pass `maxBytes`.
   */
  rent(minimumSize?: number): PoolBlock {
    if (minimumSize === undefined) minimumSize = 0;
    if (minimumSize > this.blockSize || !(minimumSize >= 0) || !Number.isInteger(minimumSize)) {
      return this.#rentLarge(minimumSize);
    }
    const block = this.#free.pop() ?? this.#take(1);
    const slab = slabOf(block);
    slab.rented++;
    slab.idleTicks = 0;
    block.rented = true;
    this.#rented++;
    return block;
  }

  /**
   * Returns rented memory. Its bytes must not be used afterwards (a debug pool poisons them).
   *
   * @param block A block rented from this pool and not yet released.
   * @throws {ChannelStateError} `BLOCK_NOT_RENTED` when the block is not rented from this pool.
   */
  release(block: PoolBlock): void {
    const slab = slabOf(block);
    if (!block.rented || slab.pool !== this) throw stateError("BLOCK_NOT_RENTED");
    block.rented = false;
    if (this.debug) block.bytes.fill(POISON_BYTE);
    const count = countOf(block);
    if (count === 1) {
      slab.rented--;
      this.#rented--;
      this.#free.push(block);
      return;
    }
    if (count > 1) {
      slab.rented -= count;
      this.#rented -= count;
      this.#spans--;
      (this.#spanFree[count] ??= []).push(block);
      this.#spanFreeBlocks += count;
      return;
    }
    slab.rented = 0;
    slab.idleTicks = 0;
    this.#rented--;
    this.#oversizeBytes -= block.bytes.byteLength;
    this.#oversize--;
    // Kept for the next large rent (a new memory costs 40 µs to 2 ms: bench/channel_throughput.ts),
    // within bounds; otherwise the memory is dropped with the block.
    if (
      this.#oversizeFree.length < MAX_FREE_OVERSIZE_BLOCKS &&
      this.#oversizeFreeBytes + slab.byteLength <= MAX_FREE_OVERSIZE_BYTES
    ) {
      this.#oversizeFree.push(block);
      this.#oversizeFreeBytes += slab.byteLength;
      this.#armTimer();
    } else {
      this.#reservedBytes -= slab.byteLength;
      slab.letGo();
    }
  }

  /**
   * Gives back to the host every slab with no rented block and every kept oversize block.
   * Memory a live view points into is rented, so it is never given back; views of memory
   * released earlier keep it alive until they are unreachable (they never detach).
   *
   * @returns The bytes released (what `stats().reservedBytes` went down by).
   *
   * @example Giving memory back after a burst
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryPool } from "@channels/channels";
   *
   * const pool = new MemoryPool();
   * const burst = Array.from({ length: 3000 }, () => pool.rent()); // 3 slabs
   * for (const block of burst) pool.release(block);
   * const kept = pool.rent(); // in use: its slab stays
   * assert.equal(pool.trim(), 2 * pool.stats().reservedBytes);
   * assert.equal(pool.stats().slabs, 1);
   * pool.release(kept);
   * ```
   */
  trim(): number {
    return this.#trim(0);
  }

  /** A snapshot of the pool's counters. */
  stats(): MemoryPoolStats {
    let free = this.#free.length + this.#spanFreeBlocks;
    let idle = 0;
    for (const slab of this.#slabs) {
      free += slab.free;
      if (slab.rented === 0) idle++;
    }
    return {
      slabs: this.#slabs.length,
      rentedBlocks: this.#rented,
      freeBlocks: free,
      spans: this.#spans,
      oversizeBlocks: this.#oversize,
      freeOversizeBlocks: this.#oversizeFree.length,
      rentedBytes: (this.#rented - this.#oversize) * this.blockSize + this.#oversizeBytes,
      reservedBytes: this.#reservedBytes,
      idleSlabs: idle,
      trimmedBytes: this.#trimmedBytes,
    };
  }

  // ---- slabs ----

  /** `count` FREE blocks in a row from some slab (a new one when none has them), now TAKEN. */
  #take(count: number): PoolBlock {
    const slabs = this.#slabs;
    for (let s = this.#firstFreeSlab; s < slabs.length; s++) {
      const slab = slabs[s] as Slab;
      if (slab.free === 0 && s === this.#firstFreeSlab) this.#firstFreeSlab = s + 1;
      if (slab.free < count) continue;
      const index = findRun(slab.state, slab.lowestFree, count);
      if (index >= 0) return this.#claim(slab, index, count);
    }
    if (this.#free.length > 0 || this.#spanFreeBlocks > 0) {
      // Blocks and spans waiting on the free lists may make a run: return them to their slabs.
      this.#flushFree();
      return this.#take(count);
    }
    return this.#claim(this.#addSlab(count), 0, count);
  }

  #claim(slab: Slab, index: number, count: number): PoolBlock {
    mark(slab.state, index, count, TAKEN);
    slab.free -= count;
    if (index === slab.lowestFree) slab.lowestFree = index + count;
    const offset = KERNEL_RESERVED_BYTES + index * this.blockSize;
    if (count === 1) return slab.singles[index] ??= createBlock(slab, index, 1, offset, this.blockSize);
    let span = slab.spans[index];
    if (span === undefined || countOf(span) !== count) {
      span = slab.spans[index] = createBlock(slab, index, count, offset, count * this.blockSize);
    }
    return span;
  }

  /** Puts every block and span of the free lists back into its slab as FREE. */
  #flushFree(): void {
    returnToSlabs(this.#free);
    for (const list of this.#spanFree) if (list !== undefined) returnToSlabs(list);
    this.#spanFreeBlocks = 0;
    this.#firstFreeSlab = 0;
  }

  /**
   * A new slab of `blocksPerSlab` blocks, or of what `maxBytes` leaves when that is less, with
   * at least `minimumBlocks` blocks.
   */
  #addSlab(minimumBlocks: number): Slab {
    const full = this.#slabPages * WASM_PAGE_BYTES;
    this.#dropKeptOversize(full);
    const leftPages = Math.floor((this.maxBytes - this.#reservedBytes) / WASM_PAGE_BYTES);
    const pages = Math.min(this.#slabPages, leftPages);
    const blocks = Math.min(
      this.blocksPerSlab,
      Math.floor((pages * WASM_PAGE_BYTES - KERNEL_RESERVED_BYTES) / this.blockSize),
    );
    if (!(blocks >= minimumBlocks)) {
      const needed = Math.ceil((KERNEL_RESERVED_BYTES + minimumBlocks * this.blockSize) / WASM_PAGE_BYTES);
      throw poolLimitError(
        minimumBlocks === 1 ? "a block" : `a span of ${minimumBlocks} blocks`,
        needed * WASM_PAGE_BYTES,
        this.#reservedBytes,
        this.maxBytes,
      );
    }
    const slabPages = Math.ceil((KERNEL_RESERVED_BYTES + blocks * this.blockSize) / WASM_PAGE_BYTES);
    const slab = new Slab(this, slabPages, blocks);
    this.#reservedBytes += slab.byteLength;
    slab.index = this.#slabs.length;
    this.#slabs.push(slab);
    this.#armTimer();
    return slab;
  }

  /** Drops kept oversize blocks while `bytes` more would pass maxBytes. */
  #dropKeptOversize(bytes: number): void {
    while (this.#reservedBytes + bytes > this.maxBytes && this.#oversizeFree.length > 0) {
      const slab = slabOf(this.#oversizeFree.pop() as PoolBlock);
      slab.letGo();
      this.#oversizeFreeBytes -= slab.byteLength;
      this.#reservedBytes -= slab.byteLength;
      this.#trimmedBytes += slab.byteLength;
    }
  }

  // ---- large rents ----

  #rentLarge(size: number): PoolBlock {
    if (!isIntegerIn(size, 0, 2 ** 32 - KERNEL_RESERVED_BYTES - WASM_PAGE_BYTES)) {
      throw rangeError("rent a block", "the size must be an integer from 0 to 4294836224", size);
    }
    const count = Math.ceil(size / this.blockSize);
    if (count <= this.blocksPerSlab) {
      let span = this.#spanFree[count]?.pop();
      if (span !== undefined) this.#spanFreeBlocks -= count;
      else span = this.#take(count);
      const slab = slabOf(span);
      slab.rented += count;
      slab.idleTicks = 0;
      span.rented = true;
      this.#rented += count;
      this.#spans++;
      return span;
    }
    const block = this.#takeOversize(size) ?? this.#createOversize(size);
    const slab = slabOf(block);
    slab.rented = 1;
    slab.idleTicks = 0;
    block.rented = true;
    this.#rented++;
    this.#oversizeBytes += block.bytes.byteLength;
    this.#oversize++;
    return block;
  }

  /** The smallest kept oversize block that fits `size` without wasting more than half of it. */
  #takeOversize(size: number): PoolBlock | undefined {
    const free = this.#oversizeFree;
    let best = -1;
    for (let i = 0; i < free.length; i++) {
      const length = (free[i] as PoolBlock).bytes.length;
      if (length >= size && length <= 2 * size + WASM_PAGE_BYTES) {
        if (best < 0 || length < (free[best] as PoolBlock).bytes.length) best = i;
      }
    }
    if (best < 0) return undefined;
    const block = free[best] as PoolBlock;
    free[best] = free[free.length - 1] as PoolBlock;
    free.pop();
    this.#oversizeFreeBytes -= slabOf(block).byteLength;
    return block;
  }

  #createOversize(size: number): PoolBlock {
    const pages = Math.ceil((KERNEL_RESERVED_BYTES + size) / WASM_PAGE_BYTES);
    const bytes = pages * WASM_PAGE_BYTES;
    this.#dropKeptOversize(bytes);
    if (this.#reservedBytes + bytes > this.maxBytes) {
      throw poolLimitError(`a block of ${size} bytes`, bytes, this.#reservedBytes, this.maxBytes);
    }
    const slab = new Slab(this, pages, 0); // throws when the host refuses the memory
    this.#reservedBytes += bytes;
    return createBlock(slab, 0, 0, KERNEL_RESERVED_BYTES, bytes - KERNEL_RESERVED_BYTES);
  }

  // ---- giving memory back ----

  /**
   * Drops slabs with no rented block and kept oversize blocks, those idle for at least
   * `minimumIdleTicks` ticks (0: all of them). Returns the bytes released.
   */
  #trim(minimumIdleTicks: number): number {
    let released = 0;
    const slabs = this.#slabs;
    let kept = 0;
    for (let s = 0; s < slabs.length; s++) {
      const slab = slabs[s] as Slab;
      if (slab.rented === 0 && slab.idleTicks >= minimumIdleTicks) {
        released += slab.byteLength;
        slab.index = -1;
        slab.letGo();
      } else {
        slab.index = kept;
        slabs[kept++] = slab;
      }
    }
    if (kept < slabs.length) {
      slabs.length = kept;
      // Blocks and spans of dropped slabs leave the free lists (their slab's index is -1).
      dropTrimmed(this.#free);
      for (const list of this.#spanFree) if (list !== undefined) this.#spanFreeBlocks -= dropTrimmed(list);
      this.#firstFreeSlab = 0;
    }
    const oversize = this.#oversizeFree;
    let k = 0;
    for (let i = 0; i < oversize.length; i++) {
      const block = oversize[i] as PoolBlock;
      const slab = slabOf(block);
      if (slab.idleTicks >= minimumIdleTicks) {
        released += slab.byteLength;
        this.#oversizeFreeBytes -= slab.byteLength;
        slab.letGo();
      } else {
        oversize[k++] = block;
      }
    }
    oversize.length = k;
    this.#reservedBytes -= released;
    this.#trimmedBytes += released;
    return released;
  }

  #armTimer(): void {
    if (this.#timer === undefined && this.idleTrimMs !== Infinity) {
      // The timer holds the pool weakly: a pool its user dropped (blocks still rented or not)
      // is collected with its slabs, instead of being kept alive by its own timer.
      const self = this.#self ??= new WeakRef(this);
      this.#timer = unrefTimeout(() => {
        const pool = self.deref();
        if (pool !== undefined) pool.#tick();
      }, Math.max(1, this.idleTrimMs / 2));
    }
  }

  /** One look of idle trimming: count idle ticks, trim what was idle long enough, look again. */
  #tick(): void {
    this.#timer = undefined;
    for (const slab of this.#slabs) slab.idleTicks = slab.rented === 0 ? slab.idleTicks + 1 : 0;
    for (const block of this.#oversizeFree) slabOf(block).idleTicks++;
    this.#trim(IDLE_TRIM_TICKS);
    if (this.#slabs.length > 0 || this.#oversizeFree.length > 0) this.#armTimer();
  }
}
