import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, ChannelStateError, MemoryPool, POISON_BYTE } from "../mod.ts";

describe("MemoryPool", () => {
  it("reserves nothing until the first rent", () => {
    const pool = new MemoryPool();
    assert.deepEqual(pool.stats(), {
      slabs: 0,
      rentedBlocks: 0,
      freeBlocks: 0,
      oversizeBlocks: 0,
      freeOversizeBlocks: 0,
      reservedBytes: 0,
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
      oversizeBlocks: 0,
      freeOversizeBlocks: 0,
      reservedBytes: 2 * 65536,
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

  it("rejects a maxBytes that cannot hold one slab", () => {
    assert.throws(() => new MemoryPool({ maxBytes: 65536 }), RangeError);
    assert.throws(() => new MemoryPool({ maxBytes: 1024 * 1024, blocksPerSlab: 1024 }), RangeError);
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

  it("rents an oversize block in a memory of its own and keeps it for the next large rent", () => {
    const pool = new MemoryPool({ blockSize: 4096 });
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
    const pool = new MemoryPool({ blockSize: 4096 });
    const big = pool.rent(1_000_000);
    pool.release(big);
    const small = pool.rent(10_000);
    assert.notEqual(small, big);
    assert.equal(pool.stats().freeOversizeBlocks, 1);
  });

  it("keeps at most 8 released oversize blocks and drops the rest", () => {
    const pool = new MemoryPool({ blockSize: 4096 });
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
