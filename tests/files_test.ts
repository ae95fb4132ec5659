// openFile / createFile through the current runtime's entry point: Deno → src/adapters/deno.ts,
// Bun and Node → src/adapters/_files_node.ts.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import * as denoFiles from "../src/adapters/deno.ts";
import * as nodeFiles from "../src/adapters/_files_node.ts";
import { createFileWith, type FileHandleLike } from "../src/adapters/_files.ts";
import { MemoryPool } from "../mod.ts";
import { concat } from "./_util.ts";

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined && !("Bun" in globalThis);
const { openFile, createFile } = isDeno ? denoFiles : nodeFiles;
const FILE_MIB = Number(process.env.CHANNELS_FILE_MIB ?? 100);

/** Open file descriptors of this process (Linux), to prove handles are closed. */
function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1; // not Linux: the checks that use it pass trivially
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe(`files (${isDeno ? "deno" : "node:fs"})`, () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "channels-files-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`copies a ${FILE_MIB} MiB file through openFile → createFile byte for byte`, async () => {
    const size = FILE_MIB * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
    const source = join(dir, "source.bin");
    const target = join(dir, "target.bin");
    writeFileSync(source, data);
    const fds = openFds();
    const pool = new MemoryPool({ debug: false });
    const reader = openFile(source, { pool });
    const writer = createFile(target, { pool });
    for (;;) {
      const { buffer, isCompleted } = await reader.read();
      for (const view of buffer) {
        const memory = writer.getMemory(view.length);
        memory.set(view);
        writer.advance(view.length);
      }
      reader.advanceTo(buffer.length);
      await writer.flush();
      if (isCompleted) break;
    }
    reader.complete();
    writer.complete();
    await reader.closed;
    await writer.closed;
    assert.equal(openFds(), fds, "both files closed");
    const copy = readFileSync(target);
    assert.equal(copy.length, size);
    assert.equal(sha256(copy), sha256(data));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects the first read with the runtime's NotFound error, and closes nothing it did not open", async () => {
    const pool = new MemoryPool();
    const reader = openFile(join(dir, "missing.bin"), { pool });
    await assert.rejects(reader.read(), (error: Error & { code?: string }) => {
      assert.ok(error.name === "NotFound" || error.code === "ENOENT", `${error.name} ${error.code}`);
      return true;
    });
    reader.complete();
    await reader.closed;
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("does not open the file before the first read", async () => {
    const reader = openFile(join(dir, "never-read.bin"));
    reader.complete(); // the file does not exist: nothing fails, nothing was opened
    await reader.closed;
  });

  it("closes the file after an error in the middle", async () => {
    const path = join(dir, "error.bin");
    writeFileSync(path, new Uint8Array(1 << 20));
    const fds = openFds();
    const pool = new MemoryPool();
    const reader = openFile(path, { pool });
    const { buffer } = await reader.read();
    assert.ok(buffer.length > 0);
    reader.advanceTo(0);
    reader.complete(new Error("stop")); // the reader fails: the pump's next flush rejects
    await reader.closed;
    assert.equal(openFds(), fds);
    assert.equal(pool.stats().rentedBlocks, 0);

    const writer = createFile(join(dir, "aborted.bin"), { pool });
    await writer.writeUtf8("partial");
    const reason = new Error("abort the write");
    writer.complete(reason);
    await assert.rejects(writer.closed, (error) => error === reason);
    assert.equal(openFds(), fds);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("reports a create failure on the next flush and on closed", async () => {
    const pool = new MemoryPool();
    const writer = createFile(join(dir, "no-such-dir", "x.bin"), { pool });
    await assert.rejects(writer.closed);
    await assert.rejects(writer.writeUtf8("x"));
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writes nothing for a write given an aborted signal, so a retry writes the bytes once", async () => {
    const path = join(dir, "aborted-write.bin");
    const pool = new MemoryPool({ debug: true });
    const writer = createFile(path, { pool });
    const data = new Uint8Array(10_000).map((_, i) => (i * 13) & 0xff);
    const reason = new Error("gave up");
    const aborted = AbortSignal.abort(reason);
    await writer.writeUtf8("head ");
    await assert.rejects(writer.write(data, { signal: aborted }), (error) => error === reason);
    await assert.rejects(writer.writeUtf8("text", { signal: aborted }), (error) => error === reason);
    assert.equal(writer.unflushedBytes, 0);
    await writer.write(data); // the retry
    writer.complete();
    await writer.closed;
    const head = new TextEncoder().encode("head ");
    assert.deepEqual(new Uint8Array(readFileSync(path)), new Uint8Array([...head, ...data]));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("reads readSize bytes a call into one block, any readSize giving the same bytes", async () => {
    const path = join(dir, "read-size.bin");
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    writeFileSync(path, data);
    for (const readSize of [100, 4096, 65536, 200_000]) {
      const pool = new MemoryPool();
      const reader = openFile(path, { pool, readSize });
      const parts: Uint8Array[] = [];
      let largest = 0;
      for (;;) {
        const { buffer, isCompleted } = await reader.read();
        for (const view of buffer) largest = Math.max(largest, view.length);
        parts.push(buffer.toUint8Array());
        reader.advanceTo(buffer.length);
        if (isCompleted) break;
      }
      reader.complete();
      await reader.closed;
      const all = concat(parts);
      assert.equal(sha256(all), sha256(data), `readSize ${readSize}`);
      if (readSize > pool.blockSize) assert.ok(largest > pool.blockSize, `one segment holds more than a block`);
      assert.equal(pool.stats().rentedBlocks, 0);
    }
  });

  it("writes many small segments with few calls, byte for byte", async () => {
    const path = join(dir, "gathered.bin");
    const size = 3 << 20;
    const data = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
    const pool = new MemoryPool();
    const writer = createFile(path, { pool });
    // write() copies into 4 KiB blocks: a buffer of many segments for the file's pump.
    for (let at = 0, step = 1; at < size; at += step, step = (step * 7 + 13) % 90_001 + 1) {
      await writer.write(data.subarray(at, Math.min(size, at + step)));
    }
    writer.complete();
    await writer.closed;
    assert.equal(sha256(readFileSync(path)), sha256(data));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects a readSize that is not a positive integer with RangeError", () => {
    for (const readSize of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => openFile(join(dir, "x.bin"), { readSize }), RangeError);
    }
  });

  it("holds at most the pause threshold for a file nobody reads", async () => {
    const path = join(dir, "backpressure.bin");
    writeFileSync(path, new Uint8Array(8 << 20));
    const pool = new MemoryPool();
    // 4 KiB reads, so rented blocks times blockSize is what the channel holds.
    const reader = openFile(path, { pool, pauseWriterThreshold: 65536, readSize: 4096 });
    const first = await reader.read();
    reader.advanceTo(0, first.buffer.length); // examined, not consumed: counts until consumed
    await new Promise((r) => setTimeout(r, 200));
    const held = pool.stats().rentedBlocks * pool.blockSize;
    assert.ok(held <= 65536 + 2 * pool.blockSize + first.buffer.length, `held ${held} bytes`);
    let total = 0;
    for (;;) {
      const { buffer, isCompleted } = await reader.read();
      reader.advanceTo(buffer.length);
      total += buffer.length;
      if (isCompleted) break;
    }
    assert.equal(total, 8 << 20);
    reader.complete();
    await reader.closed;
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

/** A file handle in memory that writes at most `maxWrite` bytes a call and counts its calls. */
function fakeHandle(maxWrite: number, gathered: boolean, failAfter = Infinity) {
  const bytes: number[] = [];
  const calls = { write: 0, writev: 0, closed: 0 };
  const take = (view: Uint8Array, room: number) => {
    const n = Math.min(view.length, room);
    for (let i = 0; i < n; i++) bytes.push(view[i] as number);
    return n;
  };
  const check = () => {
    if (bytes.length >= failAfter) throw new Error("disk full");
  };
  const handle: FileHandleLike = {
    read: () => Promise.resolve(0),
    write: async (view) => {
      await Promise.resolve();
      calls.write++;
      check();
      return take(view, maxWrite);
    },
    close: () => {
      calls.closed++;
      return Promise.resolve();
    },
  };
  if (gathered) {
    handle.writev = async (views) => {
      await Promise.resolve();
      calls.writev++;
      check();
      let room = maxWrite;
      for (const view of views) {
        if (room === 0) break;
        room -= take(view, room);
      }
      return maxWrite - room;
    };
  }
  return { handle, bytes, calls };
}

describe("createFile's write pump", () => {
  for (const gathered of [true, false]) {
    const name = gathered ? "writev" : "write and a staging copy";
    it(`gathers segments with ${name} and resumes partial writes`, async () => {
      for (const maxWrite of [1, 1000, 5000, 1 << 20]) {
        const pool = new MemoryPool();
        const fake = fakeHandle(maxWrite, gathered);
        const writer = createFileWith(() => Promise.resolve(fake.handle), { pool });
        const size = maxWrite === 1 ? 20_000 : 300_000;
        const data = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
        for (let at = 0; at < size; at += 10_000) {
          // 10,000 bytes as writes of one block each, made together (a larger write would be one
          // span): every read the pump makes has several segments to gather.
          const slice = data.subarray(at, at + 10_000);
          const writes: Promise<unknown>[] = [];
          for (let p = 0; p < slice.length; p += 4096) writes.push(writer.write(slice.subarray(p, p + 4096)));
          await Promise.all(writes);
        }
        writer.complete();
        await writer.closed;
        assert.deepEqual(Uint8Array.from(fake.bytes), data, `maxWrite ${maxWrite}`);
        assert.equal(fake.calls.closed, 1);
        assert.equal(pool.stats().rentedBlocks, 0);
        if (maxWrite === 1 << 20) {
          // 300,000 bytes in 4 KiB blocks: 74 segments, a handful of calls.
          const calls = fake.calls.write + fake.calls.writev;
          assert.ok(calls <= 31, `${calls} calls`);
          assert.equal(gathered ? fake.calls.write : fake.calls.writev, 0);
        }
      }
    });

    it(`reports a write that fails part way (${name}), closes the file and returns every block`, async () => {
      const pool = new MemoryPool();
      const fake = fakeHandle(4096, gathered, 50_000);
      const writer = createFileWith(() => Promise.resolve(fake.handle), { pool });
      const chunk = new Uint8Array(10_000).fill(1);
      const failure = (async () => {
        for (;;) await writer.write(chunk);
      })();
      await assert.rejects(failure, /disk full/);
      await assert.rejects(writer.closed, /disk full/);
      writer.complete();
      assert.equal(fake.calls.closed, 1);
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  }

  it("keeps a write's blocks until it settles, without holding the writer back", async () => {
    const pool = new MemoryPool({ debug: true }); // a block released early would read as 0xdd
    let release!: () => void;
    const bytes: number[] = [];
    const handle: FileHandleLike = {
      read: () => Promise.resolve(0),
      write: async (view) => {
        await new Promise<void>((resolve) => (release = resolve));
        for (const b of view) bytes.push(b);
        return view.length;
      },
      close: () => Promise.resolve(),
    };
    const writer = createFileWith(() => Promise.resolve(handle), { pool, pauseWriterThreshold: 4096 });
    const settlesSoon = (flush: Promise<unknown>) =>
      Promise.race([flush.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
    // 4 KiB reaches the pause threshold: only a pump that examines what it writes lets it go.
    assert.equal(await settlesSoon(writer.write(new Uint8Array(4096).fill(1))), true, "first flush");
    assert.equal(pool.stats().rentedBlocks, 1, "the block in flight stays rented");
    const second = writer.write(new Uint8Array(4096).fill(2));
    assert.equal(await settlesSoon(second), false, "the next batch waits while the pump is busy");
    release();
    assert.equal(await settlesSoon(second), true, "second flush");
    writer.complete();
    await new Promise((r) => setTimeout(r, 10));
    release();
    await writer.closed;
    assert.deepEqual(bytes, [...new Array(4096).fill(1), ...new Array(4096).fill(2)]);
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});
