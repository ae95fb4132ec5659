import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { describe, it } from "node:test";
import { Channel, ChannelStateError, MemoryPool, POISON_BYTE, type PoolBlock, SHARED_IDLE_TRIM_MS } from "../mod.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 65536; // a WebAssembly page; the kernels take the first one of every slab

/** Rents single blocks until the pool refuses; returns them. */
function rentAll(pool: MemoryPool): PoolBlock[] {
  const blocks: PoolBlock[] = [];
  for (;;) {
    try {
      blocks.push(pool.rent());
    } catch (error) {
      assert.ok(error instanceof RangeError && /maxBytes/.test(error.message), String(error));
      return blocks;
    }
  }
}

/** Blocks a pool can rent under `maxBytes`, by the rule DESIGN.md §8 states: full slabs, then the rest. */
function expectedRentable(maxBytes: number, blockSize: number, blocksPerSlab: number): number {
  const slabPages = Math.ceil((PAGE + blockSize * blocksPerSlab) / PAGE);
  let left = Math.floor(maxBytes / PAGE); // pages
  let blocks = 0;
  while (left > 0) {
    const pages = Math.min(slabPages, left);
    const n = Math.min(blocksPerSlab, Math.floor((pages * PAGE - PAGE) / blockSize));
    if (n < 1) break;
    blocks += n;
    left -= Math.ceil((PAGE + n * blockSize) / PAGE);
  }
  return blocks;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("MemoryPool", () => {
  it("reserves nothing until the first rent", () => {
    const pool = new MemoryPool();
    assert.deepEqual(pool.stats(), {
      slabs: 0,
      rentedBlocks: 0,
      freeBlocks: 0,
      spans: 0,
      oversizeBlocks: 0,
      freeOversizeBlocks: 0,
      rentedBytes: 0,
      reservedBytes: 0,
      idleSlabs: 0,
      trimmedBytes: 0,
    });
  });

  it("rents blocks of blockSize from one slab of WebAssembly memory", () => {
    const pool = new MemoryPool({ blockSize: 1024, blocksPerSlab: 4 });
    const block = pool.rent();
    assert.equal(block.bytes.length, 1024);
    assert.ok(block.memory instanceof WebAssembly.Memory);
    assert.equal(block.bytes.buffer, block.memory.buffer);
    assert.equal(block.bytes.byteOffset, block.byteOffset);
    assert.ok(block.byteOffset >= 65536, "the first 64 KiB of a slab belong to the kernels");
    assert.deepEqual(pool.stats(), {
      slabs: 1,
      rentedBlocks: 1,
      freeBlocks: 3,
      spans: 0,
      oversizeBlocks: 0,
      freeOversizeBlocks: 0,
      rentedBytes: 1024,
      reservedBytes: 2 * 65536,
      idleSlabs: 0,
      trimmedBytes: 0,
    });
  });

  it("adds a slab when the free list is empty instead of growing a memory", () => {
    const pool = new MemoryPool({ blockSize: 1024, blocksPerSlab: 2 });
    const blocks = [pool.rent(), pool.rent(), pool.rent()];
    assert.equal(pool.stats().slabs, 2);
    assert.notEqual(blocks[2]?.memory, blocks[0]?.memory);
    assert.equal(blocks[0]?.memory.buffer.byteLength, 2 * 65536, "a slab memory keeps its size");
  });

  it("defaults to slabs of 1024 blocks, shrunk to fit maxBytes", () => {
    assert.equal(new MemoryPool().blocksPerSlab, 1024);
    const small = new MemoryPool({ maxBytes: 1024 * 1024 });
    assert.equal(small.blocksPerSlab, (1024 * 1024 - 65536) / 4096);
    small.rent();
    assert.ok(small.stats().reservedBytes <= 1024 * 1024);
  });

  it("rejects a maxBytes that cannot hold one block, and shrinks a slab to one that can", () => {
    assert.throws(() => new MemoryPool({ maxBytes: 65536 }), RangeError);
    assert.throws(() => new MemoryPool({ maxBytes: 2 * 65536 - 1 }), RangeError);
    const pool = new MemoryPool({ maxBytes: 1024 * 1024, blocksPerSlab: 1024 });
    assert.equal(rentAll(pool).length, (1024 * 1024 - 65536) / 4096);
    assert.equal(pool.stats().reservedBytes, 1024 * 1024);
  });

  it("makes block objects on first rent, so a fresh slab holds none", () => {
    const pool = new MemoryPool({ blockSize: 64, blocksPerSlab: 1000 });
    const a = pool.rent();
    assert.equal(pool.stats().freeBlocks, 999);
    const b = pool.rent();
    assert.equal(b.byteOffset, a.byteOffset + 64, "blocks are carved in address order");
    pool.release(a);
    assert.equal(pool.stats().freeBlocks, 999);
    assert.equal(pool.rent(), a, "released blocks are reused before new ones are carved");
  });

  it("reuses the last released block first", () => {
    const pool = new MemoryPool({ blockSize: 64 });
    const a = pool.rent();
    const b = pool.rent();
    pool.release(a);
    pool.release(b);
    assert.equal(pool.rent(), b);
    assert.equal(pool.rent(), a);
  });

  it("rents an oversize block (past a slab) in a memory of its own and keeps it for the next large rent", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16 });
    const big = pool.rent(100_000);
    assert.ok(big.bytes.length >= 100_000);
    assert.notEqual(big.memory.buffer.byteLength, 0);
    assert.equal(pool.stats().oversizeBlocks, 1);
    assert.equal(pool.stats().rentedBlocks, 1);
    const reserved = pool.stats().reservedBytes;
    pool.release(big);
    assert.equal(pool.stats().oversizeBlocks, 0);
    assert.equal(pool.stats().freeOversizeBlocks, 1);
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.equal(pool.stats().reservedBytes, reserved);
    assert.equal(pool.rent(90_000), big, "a kept block that fits is reused");
  });

  it("does not reuse a kept oversize block more than twice too large", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16 });
    const big = pool.rent(1_000_000);
    pool.release(big);
    const small = pool.rent(10_000);
    assert.notEqual(small, big);
    assert.equal(pool.stats().freeOversizeBlocks, 1);
  });

  it("keeps at most 8 released oversize blocks and drops the rest", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 1 });
    const blocks = Array.from({ length: 10 }, () => pool.rent(8192));
    const perBlock = blocks[0]!.memory.buffer.byteLength;
    for (const block of blocks) pool.release(block);
    assert.equal(pool.stats().freeOversizeBlocks, 8);
    assert.equal(pool.stats().reservedBytes, 8 * perBlock);
  });

  it("drops kept oversize blocks before failing a rent at maxBytes", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16, maxBytes: 4 * 65536 });
    pool.release(pool.rent(100_000)); // keeps 3 pages
    assert.equal(pool.stats().freeOversizeBlocks, 1);
    pool.rent(); // a slab of 2 pages: needs the kept block's room
    assert.equal(pool.stats().freeOversizeBlocks, 0);
    assert.equal(pool.stats().reservedBytes, 2 * 65536);
  });

  it("throws RangeError past maxBytes, and keeps working below it", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16, maxBytes: 2 * 65536 });
    const blocks = Array.from({ length: 16 }, () => pool.rent());
    assert.throws(() => pool.rent(), (e) => e instanceof RangeError && /maxBytes/.test(e.message));
    // The message reads as a sentence and gives the limit, what is held and what was asked for.
    assert.throws(() => pool.rent(), {
      name: "RangeError",
      message:
        "Cannot rent a block as the pool must stay within its maxBytes of 131072 bytes and holds 131072: received a request for 131072 more bytes",
    });
    assert.throws(() => pool.rent(1_000_000), {
      message:
        "Cannot rent a block of 1000000 bytes as the pool must stay within its maxBytes of 131072 bytes and holds 131072: received a request for 1114112 more bytes",
    });
    assert.throws(() => pool.rent(1_000_000), RangeError);
    pool.release(blocks[0]!);
    assert.ok(pool.rent());
  });

  it("bounds a channel by maxBytes with a RangeError instead of growing", async () => {
    const pool = new MemoryPool({ maxBytes: 4 * 1024 * 1024 });
    const { writer, reader } = new Channel({ pool, pauseWriterThreshold: 0 });
    await writer.write(new Uint8Array([1, 2, 3]));
    await assert.rejects(writer.write(new Uint8Array(8 * 1024 * 1024)), RangeError);
    assert.ok(pool.stats().reservedBytes <= 4 * 1024 * 1024);
    await assert.rejects(writer.writeUtf8("x".repeat(8 * 1024 * 1024)), RangeError);
    // A failed write leaves nothing behind: a retry does not send bytes twice.
    assert.equal(writer.unflushedBytes, 0);
    assert.equal(pool.stats().rentedBlocks, 1);
    await writer.write(new Uint8Array([4]));
    const { buffer } = await reader.read();
    assert.deepEqual(buffer.toUint8Array(), new Uint8Array([1, 2, 3, 4]));
  });

  it("rejects a block released twice or released to another pool", () => {
    const pool = new MemoryPool();
    const other = new MemoryPool();
    const block = pool.rent();
    assert.throws(() => other.release(block), (e) => e instanceof ChannelStateError && e.code === "BLOCK_NOT_RENTED");
    pool.release(block);
    assert.throws(() => pool.release(block), (e) => e instanceof ChannelStateError && e.code === "BLOCK_NOT_RENTED");
  });

  it("poisons released blocks in debug mode only", () => {
    const debug = new MemoryPool({ debug: true, blockSize: 64 });
    const block = debug.rent();
    block.bytes.fill(1);
    debug.release(block);
    assert.ok(block.bytes.every((b) => b === POISON_BYTE));

    const plain = new MemoryPool({ blockSize: 64 });
    const other = plain.rent();
    other.bytes.fill(1);
    plain.release(other);
    assert.ok(other.bytes.every((b) => b === 1));
  });

  it("rejects options out of range with RangeError", () => {
    for (
      const options of [
        { blockSize: 0 },
        { blockSize: 100 },
        { blockSize: 17 },
        { blockSize: 32 * 1024 * 1024 },
        { blocksPerSlab: 0 },
        { blocksPerSlab: 1.5 },
        { blockSize: 1024 * 1024, blocksPerSlab: 2048 },
        { maxBytes: 0 },
        { maxBytes: Number.NaN },
      ]
    ) {
      assert.throws(() => new MemoryPool(options), RangeError, JSON.stringify(options));
    }
  });

  it("rejects a negative or non-integer rent size with RangeError", () => {
    const pool = new MemoryPool();
    assert.throws(() => pool.rent(-1), RangeError);
    assert.throws(() => pool.rent(Number.NaN), RangeError);
    assert.throws(() => pool.rent(5000.5), RangeError);
    assert.throws(() => pool.rent(1.5), RangeError);
  });

  it("shares one default pool between channels that name none", () => {
    assert.equal(new Channel().pool, MemoryPool.shared);
    assert.equal(MemoryPool.shared, MemoryPool.shared);
  });
});

describe("views of pool memory", () => {
  it("never detach: a held view survives tens of MiB through other channels of the pool", async () => {
    const pool = new MemoryPool({ blocksPerSlab: 16 });
    const held = new Channel({ pool });
    const message = new TextEncoder().encode("still here");
    await held.writer.write(message);
    const result = await held.reader.read();
    const view = result.buffer.first;
    const slabsBefore = pool.stats().slabs;

    // 32 MiB through 8 channels at once, without consuming, so the pool must add slabs.
    const others = Array.from({ length: 8 }, () => new Channel({ pool, pauseWriterThreshold: 0 }));
    const chunk = new Uint8Array(64 * 1024).fill(0x5a);
    for (let i = 0; i < 64; i++) {
      for (const channel of others) await channel.writer.write(chunk);
    }
    assert.ok(pool.stats().slabs > slabsBefore + 100, "the pool added slabs");
    for (const channel of others) {
      const r = await channel.reader.read();
      assert.equal(r.buffer.length, 64 * 64 * 1024);
      channel.reader.advanceTo(r.buffer.length);
      channel.reader.complete();
      channel.writer.complete();
    }

    assert.equal(view.length, message.length);
    assert.equal(view.byteLength, message.length);
    assert.deepEqual(view, message);
    assert.deepEqual(result.buffer.toUint8Array(), message);
    held.reader.advanceTo(result.buffer.length);
    held.reader.complete();
    held.writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

describe("spans", () => {
  it("rents a run of adjacent blocks as one span for sizes past blockSize, up to a slab", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 64 });
    const single = pool.rent();
    const span = pool.rent(64 * KiB);
    assert.equal(span.bytes.length, 64 * KiB);
    assert.equal(span.memory, single.memory, "in the same slab");
    assert.equal(span.byteOffset, single.byteOffset + 4096, "right after the block before it");
    assert.equal(span.bytes.buffer, span.memory.buffer);
    assert.deepEqual(
      { ...pool.stats() },
      {
        ...pool.stats(),
        slabs: 1,
        rentedBlocks: 17,
        freeBlocks: 64 - 17,
        spans: 1,
        oversizeBlocks: 0,
        rentedBytes: 17 * 4096,
      },
    );
    pool.release(span);
    assert.equal(pool.stats().freeBlocks, 63);
    assert.equal(pool.stats().spans, 0);
    assert.equal(pool.rent(64 * KiB), span, "the same run is the same span object again");
  });

  it("chooses a block, a span or an oversize block by size, around each boundary", () => {
    const blockSize = 1024;
    const pool = new MemoryPool({ blockSize, blocksPerSlab: 32 });
    const slabBytes = 32 * blockSize;
    for (
      const [size, length, kind] of [
        [0, blockSize, "block"],
        [blockSize - 1, blockSize, "block"],
        [blockSize, blockSize, "block"],
        [blockSize + 1, 2 * blockSize, "span"],
        [5 * blockSize, 5 * blockSize, "span"],
        [slabBytes - 1, slabBytes, "span"],
        [slabBytes, slabBytes, "span"],
        [slabBytes + 1, 2 * PAGE - PAGE, "oversize"],
      ] as const
    ) {
      const before = pool.stats();
      const block = pool.rent(size);
      const after = pool.stats();
      assert.ok(block.bytes.length >= size, `${size}`);
      if (kind !== "oversize") assert.equal(block.bytes.length, length, `length of a rent of ${size}`);
      assert.equal(after.spans - before.spans, kind === "span" ? 1 : 0, `span for ${size}`);
      assert.equal(after.oversizeBlocks - before.oversizeBlocks, kind === "oversize" ? 1 : 0, `oversize for ${size}`);
      assert.equal(after.rentedBytes - before.rentedBytes, block.bytes.length, `rentedBytes for ${size}`);
      pool.release(block);
    }
  });

  it("finds a run among released single blocks before it adds a slab", () => {
    const pool = new MemoryPool({ blockSize: 1024, blocksPerSlab: 8 });
    const blocks = Array.from({ length: 8 }, () => pool.rent());
    for (const block of blocks) pool.release(block); // on the free list of single blocks
    const span = pool.rent(8 * 1024);
    assert.equal(pool.stats().slabs, 1);
    assert.equal(span.byteOffset, blocks[0]!.byteOffset);
    pool.release(span);
    assert.equal(pool.rent(), blocks[0], "single blocks come from the slab again once the span is back");
  });

  it("adds a slab when no run is long enough, and never hands out a block twice", () => {
    const pool = new MemoryPool({ blockSize: 1024, blocksPerSlab: 8 });
    const blocks = Array.from({ length: 8 }, () => pool.rent());
    for (let i = 0; i < 8; i += 2) pool.release(blocks[i]!);
    const span = pool.rent(2 * 1024);
    assert.equal(pool.stats().slabs, 2);
    assert.notEqual(span.memory, blocks[0]!.memory);
    // Every rented byte belongs to one renter only.
    const rented = [span, ...blocks.filter((_, i) => i % 2 === 1), ...Array.from({ length: 10 }, () => pool.rent())];
    const seen = new Set<string>();
    for (const block of rented) {
      for (let offset = 0; offset < block.bytes.length; offset += 1024) {
        const key = `${pool.stats().slabs}:${block.memory === span.memory ? 2 : 1}:${block.byteOffset + offset}`;
        assert.ok(!seen.has(key), `the block at ${key} was handed out twice`);
        seen.add(key);
      }
    }
    assert.equal(pool.stats().rentedBlocks, 2 + 4 + 10);
  });

  it("poisons a released span in debug mode, every byte of it", () => {
    const pool = new MemoryPool({ blockSize: 64, debug: true });
    const span = pool.rent(64 * 5);
    span.bytes.fill(7);
    pool.release(span);
    assert.ok(span.bytes.every((b) => b === POISON_BYTE));
  });

  it("random rents and releases of blocks and spans keep every count right and never overlap", () => {
    const pool = new MemoryPool({ blockSize: 256, blocksPerSlab: 40, debug: true });
    let seed = 12345;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const live = new Map<PoolBlock, number>(); // block → the byte it was filled with
    for (let step = 0; step < 4000; step++) {
      if (live.size > 0 && random(2) === 0) {
        const block = [...live.keys()][random(live.size)] as PoolBlock;
        assert.ok(block.bytes.every((b) => b === live.get(block)), "no other renter wrote into it");
        live.delete(block);
        pool.release(block);
      } else {
        const block = pool.rent(random(3) === 0 ? random(256 * 12) : random(256));
        const fill = 1 + random(200);
        block.bytes.fill(fill);
        live.set(block, fill);
      }
      if (step % 97 === 0) pool.trim();
    }
    const stats = pool.stats();
    const blocks = [...live.keys()].reduce((n, b) => n + b.bytes.length / 256, 0);
    assert.equal(stats.rentedBlocks, blocks);
    assert.equal(stats.rentedBytes, blocks * 256);
    assert.equal(stats.freeBlocks + stats.rentedBlocks, stats.slabs * 40);
    for (const [block, fill] of live) assert.ok(block.bytes.every((b) => b === fill));
  });
});

describe("maxBytes", () => {
  for (const maxBytes of [8 * MiB, Math.round(8.2 * MiB), 100 * MiB]) {
    it(`rents at least 95 % of maxBytes ${maxBytes} in blocks, and never holds more`, () => {
      const pool = new MemoryPool({ maxBytes });
      const blocks = rentAll(pool);
      const { rentedBytes, reservedBytes } = pool.stats();
      assert.equal(blocks.length, expectedRentable(maxBytes, 4096, pool.blocksPerSlab));
      assert.ok(rentedBytes >= 0.95 * maxBytes, `${rentedBytes} of ${maxBytes}`);
      assert.ok(reservedBytes <= maxBytes);
      // Short of the limit by the kernel page of each slab, and by less than what a slab of
      // one block takes (a kernel page and a page of blocks) at the end.
      assert.ok(maxBytes - rentedBytes < pool.stats().slabs * PAGE + 2 * PAGE);
      for (const block of blocks) pool.release(block);
      assert.equal(pool.trim(), reservedBytes);
    });
  }

  it("rents 95 % of maxBytes in 64 KiB spans too", () => {
    const pool = new MemoryPool({ maxBytes: 8 * MiB });
    const spans: PoolBlock[] = [];
    assert.throws(() => {
      for (;;) spans.push(pool.rent(64 * KiB));
    }, RangeError);
    assert.ok(pool.stats().rentedBytes >= 0.95 * 8 * MiB, `${pool.stats().rentedBytes}`);
  });

  for (const blockSize of [4096, 65536]) {
    it(`is usable to within one block (or page) of the limit, ±1 block around it (blockSize ${blockSize})`, () => {
      for (const base of [2 * PAGE + 16 * blockSize, 5 * (PAGE + 16 * blockSize), 7 * PAGE + 3 * blockSize]) {
        for (const maxBytes of [base - blockSize, base, base + blockSize]) {
          if (maxBytes < PAGE + Math.max(PAGE, blockSize)) continue;
          const pool = new MemoryPool({ blockSize, blocksPerSlab: 16, maxBytes });
          const blocks = rentAll(pool);
          assert.equal(blocks.length, expectedRentable(maxBytes, blockSize, 16), `maxBytes ${maxBytes}`);
          // Reserved to within the smallest slab there is: a kernel page and one block, in pages.
          const slack = maxBytes - pool.stats().reservedBytes;
          assert.ok(slack >= 0 && slack < PAGE + Math.max(PAGE, blockSize), `${slack} bytes left unreserved`);
          // One more block is refused; one released can be rented again.
          assert.throws(() => pool.rent(), RangeError);
          pool.release(blocks.pop()!);
          assert.ok(pool.rent());
        }
      }
    });
  }

  it("shrinks the last slab, and the shrunk slab serves spans that fit it", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 32, maxBytes: 3 * PAGE + 3 * PAGE });
    // Slab 1: a kernel page and 2 pages of blocks (32); slab 2 gets the 3 pages left: 32 blocks too.
    // With 4 pages less room, slab 2 would get 1 page of kernels and 16 blocks.
    const small = new MemoryPool({ blockSize: 4096, blocksPerSlab: 32, maxBytes: 3 * PAGE + 2 * PAGE });
    rentAll(pool);
    assert.equal(pool.stats().slabs, 2);
    const first = small.rent(32 * 4096); // all of slab 1
    assert.throws(() => small.rent(17 * 4096), RangeError, "slab 2 holds 16 blocks");
    const span = small.rent(16 * 4096);
    assert.notEqual(span.memory, first.memory);
    assert.equal(small.stats().reservedBytes, 5 * PAGE);
  });
});

describe("trim() and idleTrimMs", () => {
  it("trim() gives back every slab with no rented block and every kept oversize block", () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16 });
    const blocks = Array.from({ length: 16 * 4 }, () => pool.rent()); // 4 slabs
    const oversize = pool.rent(1 * MiB);
    pool.release(oversize);
    const perSlab = 2 * PAGE;
    assert.equal(pool.stats().reservedBytes, 4 * perSlab + oversize.memory.buffer.byteLength);
    for (const block of blocks.slice(16)) pool.release(block); // slabs 2-4 idle
    assert.equal(pool.stats().idleSlabs, 3);
    assert.equal(pool.trim(), 3 * perSlab + oversize.memory.buffer.byteLength);
    assert.deepEqual(
      { ...pool.stats() },
      {
        ...pool.stats(),
        slabs: 1,
        idleSlabs: 0,
        freeBlocks: 0,
        freeOversizeBlocks: 0,
        reservedBytes: perSlab,
        trimmedBytes: 3 * perSlab + oversize.memory.buffer.byteLength,
      },
    );
    assert.equal(pool.trim(), 0, "nothing more to give back");
    // Trimmed slabs' blocks left the free list: the next rent makes a new slab.
    const next = pool.rent();
    assert.equal(pool.stats().slabs, 2);
    assert.ok(!blocks.slice(16).includes(next));
  });

  it("trim() never gives back a slab a live view points into, and those views keep their bytes", async () => {
    const pool = new MemoryPool({ blockSize: 64, blocksPerSlab: 8 });
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const message = Uint8Array.from({ length: 500 }, (_, i) => i & 0xff);
    await channel.writer.write(message); // one span of 8 blocks: a slab of its own
    const churn = Array.from({ length: 40 }, () => pool.rent()); // 5 more slabs
    const result = await channel.reader.read();
    const views = [...result.buffer];
    const kept = churn[3]!;
    kept.bytes.fill(9);
    for (const block of churn) if (block !== kept) pool.release(block);
    assert.equal(pool.trim(), 4 * 2 * PAGE, "4 of 6 slabs are idle");
    assert.equal(pool.stats().slabs, 2);
    assert.deepEqual(result.buffer.toUint8Array(), message);
    for (const view of views) assert.ok(view.byteLength > 0, "not detached");
    assert.ok(kept.bytes.every((b) => b === 9));
    channel.reader.advanceTo(result.buffer.length);
    channel.writer.complete();
    channel.reader.complete();
    pool.release(kept);
    assert.equal(pool.trim(), 2 * 2 * PAGE);
    assert.equal(pool.stats().reservedBytes, 0);
  });

  it("after a 512 MiB burst, trim() brings reservedBytes back to what is still rented", () => {
    const pool = new MemoryPool();
    const kept = pool.rent();
    // Blocks are rented without being written, so no page is touched: nothing becomes resident.
    const burst = Array.from({ length: (512 * MiB) / 4096 }, () => pool.rent());
    assert.ok(pool.stats().reservedBytes > 512 * MiB);
    for (const block of burst) pool.release(block);
    pool.trim();
    assert.equal(pool.stats().reservedBytes, 4 * MiB + PAGE, "one slab: the one with the kept block");
    pool.release(kept);
  });

  it("rejects an idleTrimMs that is not a positive number of milliseconds or Infinity", () => {
    for (const idleTrimMs of [0, -1, Number.NaN, 2 ** 31, "10" as unknown as number]) {
      assert.throws(() => new MemoryPool({ idleTrimMs }), RangeError, String(idleTrimMs));
    }
    assert.equal(new MemoryPool().idleTrimMs, Infinity);
    assert.equal(new MemoryPool({ idleTrimMs: Infinity }).idleTrimMs, Infinity);
    assert.equal(MemoryPool.shared.idleTrimMs, SHARED_IDLE_TRIM_MS);
  });

  it("idleTrimMs gives back a slab idle that long on its own, and keeps a slab with a rented block", async () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16, idleTrimMs: 30 });
    const blocks = Array.from({ length: 48 }, () => pool.rent()); // 3 slabs
    for (const block of blocks.slice(1)) pool.release(block);
    assert.equal(pool.stats().slabs, 3);
    for (let waited = 0; pool.stats().slabs > 1 && waited < 5000; waited += 10) await sleep(10);
    assert.equal(pool.stats().slabs, 1, "the two idle slabs were given back");
    assert.equal(pool.stats().trimmedBytes, 2 * 2 * PAGE);
    assert.equal(blocks[0]!.bytes[0], 0);
    pool.release(blocks[0]!);
    for (let waited = 0; pool.stats().slabs > 0 && waited < 5000; waited += 10) await sleep(10);
    assert.equal(pool.stats().reservedBytes, 0);
  });

  it("idleTrimMs keeps a slab that is rented from now and then, and drops kept oversize blocks", async () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16, idleTrimMs: 100 });
    pool.release(pool.rent(1 * MiB)); // kept oversize block
    const started = Date.now();
    // A rent every few ms: the slab is never idle for 100 ms.
    while (Date.now() - started < 400) {
      pool.release(pool.rent());
      await sleep(5);
    }
    const stats = pool.stats();
    assert.equal(stats.slabs, 1, "the busy slab stays");
    assert.equal(stats.freeOversizeBlocks, 0, "the kept oversize block was idle and went");
  });

  it("the idle timer never keeps the process alive (a child exits at once)", { timeout: 60_000 }, async () => {
    const code = `
      const { Channel, MemoryPool } = await import(${JSON.stringify(mod)});
      const pool = new MemoryPool({ idleTrimMs: 600000 });
      pool.release(pool.rent());
      const channel = new Channel({ pauseWriterThreshold: 0 }); // on MemoryPool.shared
      await channel.writer.write(new Uint8Array(100000));
      const { buffer } = await channel.reader.read();
      channel.reader.advanceTo(buffer.length);
      console.log("done");
    `;
    const started = Date.now();
    const outcome = await runChild(code);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stdout.trim(), "done");
    assert.ok(Date.now() - started < 40_000, "the child did not wait for the pool's timers");
  });

  it("the idle timer holds its pool weakly: a dropped pool is collected, rented blocks and all", {
    timeout: 60_000,
  }, async () => {
    const code = `
      const { MemoryPool } = await import(${JSON.stringify(mod)});
      const gc = globalThis.Bun ? () => globalThis.Bun.gc(true) : globalThis.gc;
      let collected = false;
      const registry = new FinalizationRegistry(() => (collected = true));
      (() => {
        const pool = new MemoryPool({ idleTrimMs: 20 });
        pool.rent(); // never released: the slab is never idle, the timer keeps ticking
        registry.register(pool, "pool");
      })();
      for (let i = 0; i < 100 && !collected; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(collected ? "collected" : "still alive");
    `;
    const outcome = await runChild(code, true);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal(outcome.stdout.trim(), "collected");
  });
});

const onDeno = "Deno" in globalThis && process.versions.bun === undefined;
const onBun = process.versions.bun !== undefined;
const mod = new URL(import.meta.url.endsWith(".ts") ? "../mod.ts" : "../mod.js", import.meta.url).href;

/** Runs `code` (an ES module) in a child process of this runtime, with a GC to call when `exposeGc`. */
function runChild(code: string, exposeGc = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = onDeno
    ? ["eval", ...(exposeGc ? ["--v8-flags=--expose-gc"] : []), code]
    : onBun
    ? ["-e", code]
    : [...(exposeGc ? ["--expose-gc"] : []), "--input-type=module", "-e", code];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
