/**
 * The memory a channel hands out: fixed-size blocks carved from slabs of
 * `WebAssembly.Memory`, so WebAssembly kernels run on the bytes where they lie.
 *
 * @module
 */

import { KERNEL_RESERVED_BYTES } from "./_wasm/kernels.ts";
import { createFixedMemory, WASM_PAGE_BYTES } from "./_wasm/memory.ts";
import { forgetKernelMemory, registerKernelMemory } from "./_wasm/registry.ts";
import { isIntegerIn, rangeError, stateError } from "./errors.ts";

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
   * Blocks in one slab (one `WebAssembly.Memory`). A slab is created whenever the free list is
   * empty, and never grown. Its pages are only touched (and so only cost resident memory) as
   * blocks are first rented. Large slabs keep a transform's input and output in one memory,
   * where a WebAssembly kernel can read one and write the other.
   *
   * @default {1024} (4 MiB of 4 KiB blocks), or fewer when `maxBytes` is smaller than that slab
   */
  blocksPerSlab?: number;
  /**
   * Upper bound on `stats().reservedBytes` (slabs, their kernel areas and oversize blocks).
   * A rent that would pass it throws a `RangeError` instead of reserving more.
   *
   * @default {Infinity}
   */
  maxBytes?: number;
  /**
   * Fill every released block with {@linkcode POISON_BYTE}, so a view used after its block
   * was released shows the poison instead of plausible bytes. For tests and debugging.
   *
   * @default {false}
   */
  debug?: boolean;
}

/** What {@linkcode MemoryPool.stats} reports. */
export interface MemoryPoolStats {
  /** Slabs (`WebAssembly.Memory` objects of `blocksPerSlab` blocks) created so far. */
  slabs: number;
  /** Blocks rented and not yet released, oversize blocks included. */
  rentedBlocks: number;
  /** Blocks on the free list, ready to rent. */
  freeBlocks: number;
  /** Oversize blocks (larger than `blockSize`) rented and not yet released. */
  oversizeBlocks: number;
  /** Released oversize blocks kept for reuse (at most 8, 32 MiB in all; dropped first under `maxBytes`). */
  freeOversizeBlocks: number;
  /** Bytes of WebAssembly memory the pool holds: slabs plus rented oversize blocks. */
  reservedBytes: number;
}

/** The byte a debug pool writes over released blocks. *
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

let slabOf: (block: PoolBlock) => Slab;
let createBlock: (slab: Slab, byteOffset: number, byteLength: number) => PoolBlock;

/**
 * One block of pool memory. Channels rent blocks for their segments; code that writes a
 * custom channel can rent them too. `bytes` is a view of the whole block that stays valid for
 * the life of the pool (memories never grow), but the bytes belong to the renter only until
 * {@linkcode MemoryPool.release}.
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
  /** A view of the whole block. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The memory the block lives in (for WebAssembly kernels). */
  readonly memory: WebAssembly.Memory;
  /** Offset of the block's first byte in {@linkcode PoolBlock.memory}. */
  readonly byteOffset: number;
  /** True while rented. */
  rented: boolean = false;
  readonly #slab: Slab;

  static {
    slabOf = (block) => block.#slab;
    createBlock = (slab, byteOffset, byteLength) => new PoolBlock(slab, byteOffset, byteLength);
  }

  /** Internal: blocks are created by the pool. */
  private constructor(slab: Slab, byteOffset: number, byteLength: number) {
    this.#slab = slab;
    this.memory = slab.memory;
    this.byteOffset = byteOffset;
    this.bytes = new Uint8Array(slab.memory.buffer as ArrayBuffer, byteOffset, byteLength);
  }
}

/** A `WebAssembly.Memory` of fixed size, registered with the kernels (which start on first use). */
class Slab {
  /** The memory; never grown. */
  readonly memory: WebAssembly.Memory;
  /** The pool that created the slab. */
  readonly pool: MemoryPool;
  /** Bytes reserved by the memory. */
  readonly byteLength: number;

  /** Internal: slabs are created by the pool. */
  constructor(pool: MemoryPool, pages: number) {
    this.pool = pool;
    this.memory = createFixedMemory(pages);
    this.byteLength = pages * WASM_PAGE_BYTES;
    registerKernelMemory(this.memory);
  }
}

const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
const DEFAULT_BLOCKS_PER_SLAB = 1024;
const MAX_FREE_OVERSIZE_BLOCKS = 8;
const MAX_FREE_OVERSIZE_BYTES = 32 * 1024 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024 * 1024;

let sharedPool: MemoryPool | undefined;

/**
 * A pool of fixed-size blocks of WebAssembly memory.
 *
 * - Blocks come from slabs: one `WebAssembly.Memory` of `blocksPerSlab` blocks each, created
 *   with `maximum === initial` and never grown, so **no view of pool memory is ever detached**.
 *   A slab's pages cost resident memory only once its blocks are first used.
 *   The first 64 KiB of every slab are kept for the WebAssembly kernels.
 * - Released blocks go on a free list and are rented again last-in first-out (warm in cache).
 * - A rent larger than `blockSize` gets an oversize block: a memory of its own. A few released
 *   oversize blocks are kept for reuse (dropped first when `maxBytes` is near).
 * - WebAssembly memory cannot shrink, so slabs live as long as the pool.
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
 * ```
 */
export class MemoryPool {
  /** Bytes in one block. */
  readonly blockSize: number;
  /** Blocks in one slab. */
  readonly blocksPerSlab: number;
  /** Upper bound on reserved bytes. */
  readonly maxBytes: number;
  /** Whether released blocks are poisoned. */
  readonly debug: boolean;

  // Invariant: every block of every slab is rented, on #free, or not carved yet (the last
  // #uncarved blocks of #current: blocks are made on first rent, so an idle slab holds no objects).
  readonly #free: PoolBlock[] = [];
  #current: Slab | undefined;
  #carved = 0; // blocks made from #current so far
  #slabs = 0;
  #rented = 0;
  #oversize = 0;
  // Released oversize blocks kept for reuse, and their bytes.
  readonly #oversizeFree: PoolBlock[] = [];
  #oversizeFreeBytes = 0;
  // Slab bytes plus the bytes of oversize blocks' memories (rented or kept).
  #reservedBytes = 0;
  readonly #slabPages: number;

  /**
   * Creates a pool. No memory is reserved until the first rent.
   *
   * @param options Block and slab sizes, a limit, and the debug switch.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: MemoryPoolOptions = {}) {
    const { blockSize = 4096, maxBytes = Infinity, debug = false } = options;
    if (!isIntegerIn(blockSize, 16, MAX_BLOCK_SIZE) || blockSize % 16 !== 0) {
      throw rangeError("create the pool", "blockSize must be a multiple of 16 from 16 to 16777216", blockSize);
    }
    if (typeof maxBytes !== "number" || Number.isNaN(maxBytes) || maxBytes <= 0) {
      throw rangeError("create the pool", "maxBytes must be a positive number", maxBytes);
    }
    // The default slab shrinks to fit maxBytes; an explicit one must fit.
    const fitting = Math.floor((maxBytes - KERNEL_RESERVED_BYTES) / blockSize);
    const blocksPerSlab = options.blocksPerSlab ?? Math.max(1, Math.min(DEFAULT_BLOCKS_PER_SLAB, fitting));
    if (!isIntegerIn(blocksPerSlab, 1, Math.floor(MAX_SLAB_BYTES / blockSize))) {
      throw rangeError(
        "create the pool",
        `blocksPerSlab must be an integer from 1 to ${Math.floor(MAX_SLAB_BYTES / blockSize)} for this blockSize`,
        blocksPerSlab,
      );
    }
    const slabPages = Math.ceil((KERNEL_RESERVED_BYTES + blockSize * blocksPerSlab) / WASM_PAGE_BYTES);
    if (slabPages * WASM_PAGE_BYTES > maxBytes) {
      throw rangeError(
        "create the pool",
        `maxBytes must hold at least one slab of ${
          slabPages * WASM_PAGE_BYTES
        } bytes (64 KiB for the kernels, then the blocks)`,
        maxBytes,
      );
    }
    this.blockSize = blockSize;
    this.blocksPerSlab = blocksPerSlab;
    this.maxBytes = maxBytes;
    this.debug = debug;
    this.#slabPages = slabPages;
  }

  /** The pool channels use when none is given: default options, created on first use. */
  static get shared(): MemoryPool {
    return sharedPool ??= new MemoryPool();
  }

  /**
   * Rents a block of at least `minimumSize` bytes (`blockSize` when smaller).
   *
   * @param minimumSize Bytes the block must hold at least.
   * @returns A block; its `bytes` are the renter's until {@linkcode MemoryPool.release}.
   * @throws {RangeError} When `minimumSize` is negative or not an integer, or the rent
   * would pass `maxBytes`.
   */
  rent(minimumSize: number = 0): PoolBlock {
    if (minimumSize > this.blockSize || !(minimumSize >= 0) || !Number.isInteger(minimumSize)) {
      return this.#rentOversize(minimumSize);
    }
    let block = this.#free.pop();
    if (block === undefined) {
      if (this.#current === undefined || this.#carved === this.blocksPerSlab) this.#addSlab();
      block = createBlock(
        this.#current as Slab,
        KERNEL_RESERVED_BYTES + this.#carved++ * this.blockSize,
        this.blockSize,
      );
    }
    block.rented = true;
    this.#rented++;
    return block;
  }

  /**
   * Returns a rented block. Its bytes must not be used afterwards (a debug pool poisons them).
   *
   * @param block A block rented from this pool and not yet released.
   * @throws {ChannelStateError} `BLOCK_NOT_RENTED` when the block is not rented from this pool.
   */
  release(block: PoolBlock): void {
    const slab = slabOf(block);
    if (!block.rented || slab.pool !== this) throw stateError("BLOCK_NOT_RENTED");
    block.rented = false;
    this.#rented--;
    if (this.debug) block.bytes.fill(POISON_BYTE);
    if (block.bytes.byteLength > this.blockSize) {
      this.#oversize--;
      // Kept for the next large rent (a new memory costs 40 µs to 2 ms: bench/channel_throughput.ts),
      // within bounds; otherwise the memory is dropped with the block.
      if (
        this.#oversizeFree.length < MAX_FREE_OVERSIZE_BLOCKS &&
        this.#oversizeFreeBytes + slab.byteLength <= MAX_FREE_OVERSIZE_BYTES
      ) {
        this.#oversizeFree.push(block);
        this.#oversizeFreeBytes += slab.byteLength;
      } else {
        this.#reservedBytes -= slab.byteLength;
        forgetKernelMemory(slab.memory);
      }
      return;
    }
    this.#free.push(block);
  }

  /** A snapshot of the pool's counters. */
  stats(): MemoryPoolStats {
    return {
      slabs: this.#slabs,
      rentedBlocks: this.#rented,
      freeBlocks: this.#free.length + (this.#current === undefined ? 0 : this.blocksPerSlab - this.#carved),
      oversizeBlocks: this.#oversize,
      freeOversizeBlocks: this.#oversizeFree.length,
      reservedBytes: this.#reservedBytes,
    };
  }

  #reserve(bytes: number, what: string): void {
    // Kept oversize blocks are the first to go when the limit is near.
    while (this.#reservedBytes + bytes > this.maxBytes && this.#oversizeFree.length > 0) {
      const slab = slabOf(this.#oversizeFree.pop() as PoolBlock);
      forgetKernelMemory(slab.memory);
      this.#oversizeFreeBytes -= slab.byteLength;
      this.#reservedBytes -= slab.byteLength;
    }
    if (this.#reservedBytes + bytes > this.maxBytes) {
      throw rangeError(
        `rent ${what}`,
        `the pool would hold ${this.#reservedBytes + bytes} bytes, over its maxBytes of ${this.maxBytes}`,
        `${bytes} more bytes`,
      );
    }
    this.#reservedBytes += bytes;
  }

  #addSlab(): void {
    this.#reserve(this.#slabPages * WASM_PAGE_BYTES, "a block");
    this.#current = new Slab(this, this.#slabPages);
    this.#carved = 0;
    this.#slabs++;
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

  #rentOversize(size: number): PoolBlock {
    if (!isIntegerIn(size, 0, 2 ** 32 - KERNEL_RESERVED_BYTES - WASM_PAGE_BYTES)) {
      throw rangeError("rent a block", "the size must be an integer from 0 to 4294836224", size);
    }
    const kept = this.#takeOversize(size);
    if (kept !== undefined) {
      kept.rented = true;
      this.#rented++;
      this.#oversize++;
      return kept;
    }
    const pages = Math.ceil((KERNEL_RESERVED_BYTES + size) / WASM_PAGE_BYTES);
    this.#reserve(pages * WASM_PAGE_BYTES, `a block of ${size} bytes`);
    let slab: Slab;
    try {
      slab = new Slab(this, pages);
    } catch (error) {
      this.#reservedBytes -= pages * WASM_PAGE_BYTES; // the host refused the memory
      throw error;
    }
    const block = createBlock(slab, KERNEL_RESERVED_BYTES, pages * WASM_PAGE_BYTES - KERNEL_RESERVED_BYTES);
    block.rented = true;
    this.#rented++;
    this.#oversize++;
    return block;
  }
}
