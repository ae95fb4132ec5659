// sendViews and writeViews (src/adapters/_gather.ts): the Bun and Deno drivers' gathered socket
// writes, through fake sockets that count their calls, take what they are told to, and keep a
// copy of every byte.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryPool } from "../mod.ts";
import { type AsyncSocket, SEND_CLOSED, sendViews, type SyncSocket, writeViews } from "../src/adapters/_gather.ts";
import { concat, testSeed, withSeed } from "./_util.ts";

/** A socket that takes at most `room` bytes a call (then nothing until `drain`), or is closed. */
class FakeSocket implements SyncSocket {
  readonly calls: Uint8Array[] = [];
  readonly sent: Uint8Array[] = [];
  room = Infinity;
  closed = false;

  write(data: Uint8Array): number {
    this.calls.push(data);
    if (this.closed) return -1;
    const n = Math.min(data.length, this.room);
    this.room -= n;
    // A copy: the staging array is reused by the next call.
    this.sent.push(data.slice(0, n));
    return n;
  }

  get bytes(): Uint8Array {
    return concat(this.sent);
  }
}

/** `sizes.length` views with distinct bytes, each in an ArrayBuffer of its own (never adjacent). */
function views(sizes: readonly number[]): Uint8Array[] {
  let value = 0;
  return sizes.map((size) => {
    const view = new Uint8Array(size + 8).subarray(4, 4 + size);
    for (let i = 0; i < size; i++) view[i] = value++ & 0xff;
    return view;
  });
}

describe("sendViews", () => {
  it("sends scattered short runs byte-exact in one write", () => {
    const input = views([10, 4096, 1, 8192, 300]);
    const expected = concat(input);
    const socket = new FakeSocket();
    assert.equal(sendViews(socket, input.slice(), 0), input.length);
    assert.equal(socket.calls.length, 1);
    assert.deepEqual(socket.bytes, expected);
  });

  it("writes a single run, and a run over 8 KiB, as its own view with no copy", () => {
    const one = views([100]);
    const socket = new FakeSocket();
    assert.equal(sendViews(socket, one.slice(), 0), 1);
    assert.equal(socket.calls[0], one[0]);

    const mixed = views([100, 200, 8193, 50, 8192, 60]);
    const mixedSocket = new FakeSocket();
    assert.equal(sendViews(mixedSocket, mixed.slice(), 0), mixed.length);
    // [100, 200] gathered, 8193 as it is, [50, 8192, 60] gathered.
    assert.deepEqual(mixedSocket.calls.map((c) => c.length), [300, 8193, 8302]);
    assert.equal(mixedSocket.calls[1], mixed[2]);
    assert.deepEqual(mixedSocket.bytes, concat(mixed));
  });

  it("gathers at most 64 KiB a write", () => {
    const input = views(Array.from({ length: 20 }, () => 8192));
    const socket = new FakeSocket();
    assert.equal(sendViews(socket, input.slice(), 0), input.length);
    assert.deepEqual(socket.calls.map((c) => c.length), [65536, 65536, 32768]);
    assert.deepEqual(socket.bytes, concat(input));

    const odd = views([65535, 1, 1]);
    const oddSocket = new FakeSocket();
    sendViews(oddSocket, odd.slice(), 0);
    assert.deepEqual(oddSocket.calls.map((c) => c.length), [65535, 2]);
  });

  it("starts at `from`, skipping the views before it", () => {
    const input = views([5, 6, 7]);
    const socket = new FakeSocket();
    assert.equal(sendViews(socket, input.slice(), 1), 3);
    assert.deepEqual(socket.bytes, concat(input.slice(1)));
    assert.equal(sendViews(new FakeSocket(), [], 0), 0);
  });

  it("returns the first view not taken whole, shortened to its unsent rest", () => {
    const input = views([100, 200, 300]);
    const list = input.slice();
    const socket = new FakeSocket();
    socket.room = 150; // a gathered write of 600 bytes: 150 go out
    assert.equal(sendViews(socket, list, 0), 1);
    assert.equal(list[1]?.length, 150);
    assert.deepEqual(list[1], input[1]?.subarray(50));
    assert.equal(list[2], input[2]);
    socket.room = Infinity;
    assert.equal(sendViews(socket, list, 1), 3);
    assert.deepEqual(socket.bytes, concat(input));
  });

  it("stops at a view boundary without shortening the next view", () => {
    const input = views([100, 200, 300]);
    const list = input.slice();
    const socket = new FakeSocket();
    socket.room = 300; // exactly the first two views
    assert.equal(sendViews(socket, list, 0), 2);
    assert.equal(list[2], input[2]);
  });

  it("returns the index of a long view the socket took none of", () => {
    const input = views([20000, 10]);
    const list = input.slice();
    const socket = new FakeSocket();
    socket.room = 0;
    assert.equal(sendViews(socket, list, 0), 0);
    assert.equal(list[0], input[0]);
    socket.room = 5000;
    assert.equal(sendViews(socket, list, 0), 0);
    assert.equal(list[0]?.length, 15000);
    socket.room = Infinity;
    assert.equal(sendViews(socket, list, 0), 2);
    assert.deepEqual(socket.bytes, concat(input));
  });

  it("reports a closed socket", () => {
    const socket = new FakeSocket();
    socket.closed = true;
    assert.equal(sendViews(socket, views([10, 20]), 0), SEND_CLOSED);
    assert.equal(sendViews(socket, views([20000]), 0), SEND_CLOSED);
  });

  it("sends random runs byte-exact through random partial writes", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 200; round++) {
        const input = views(
          Array.from({ length: random.int(1, 30) }, () => random.int(1, random.chance(0.2) ? 40000 : 9000)),
        );
        const list = input.slice();
        const socket = new FakeSocket();
        let next = 0;
        for (let drains = 0; next < list.length; drains++) {
          assert.ok(drains < 10000, "no progress");
          socket.room = random.chance(0.3) ? 0 : random.int(0, 70000);
          next = sendViews(socket, list, next);
          assert.ok(next >= 0 && next <= list.length);
        }
        assert.deepEqual(socket.bytes, concat(input));
      }
    });
  });
});

/** An asynchronous socket (as Deno's `conn.write`) that takes at most `most` bytes a call. */
class FakeAsyncSocket implements AsyncSocket {
  readonly calls: number[] = [];
  readonly sent: Uint8Array[] = [];
  most = Infinity;
  held: Uint8Array | undefined;

  async write(data: Uint8Array): Promise<number> {
    this.calls.push(data.length);
    this.held = data;
    await new Promise((resolve) => setTimeout(resolve, 0));
    const n = Math.min(data.length, this.most);
    // Copied only when the write resolves: the caller must keep the bytes until then.
    this.sent.push(data.slice(0, n));
    this.held = undefined;
    return n;
  }

  get bytes(): Uint8Array {
    return concat(this.sent);
  }
}

describe("writeViews", () => {
  it("sends short runs in one write from a rented span, returned after", async () => {
    const pool = new MemoryPool({ debug: true });
    const input = views([10, 4096, 1, 300]);
    const socket = new FakeAsyncSocket();
    await writeViews(socket, input, pool);
    assert.deepEqual(socket.calls, [4407]);
    assert.deepEqual(socket.bytes, concat(input));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writes a single run as it is, and loops over partial writes", async () => {
    const pool = new MemoryPool({ debug: true });
    const input = views([5000, 70000, 20, 30]);
    const socket = new FakeAsyncSocket();
    socket.most = 1000;
    await writeViews(socket, input, pool);
    assert.deepEqual(socket.bytes, concat(input));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("sends one view at a time when the pool cannot lend a span", async () => {
    const pool = new MemoryPool({ blockSize: 1024, maxBytes: 131072, blocksPerSlab: 4 });
    const held = Array.from({ length: 4 }, () => pool.rent(1024));
    assert.throws(() => pool.rent(1024), RangeError);
    const input = views([100, 200, 300]);
    const socket = new FakeAsyncSocket();
    await writeViews(socket, input, pool);
    assert.deepEqual(socket.calls, [100, 200, 300]);
    assert.deepEqual(socket.bytes, concat(input));
    for (const block of held) pool.release(block);
  });

  it("returns the span when a write fails", async () => {
    const pool = new MemoryPool({ debug: true });
    const failing: AsyncSocket = { write: () => Promise.reject(new Error("reset")) };
    await assert.rejects(writeViews(failing, views([10, 20]), pool), /reset/);
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});
