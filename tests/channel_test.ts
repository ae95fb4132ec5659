// Conformance of Channel with DESIGN.md §1, ported from the System.IO.Pipelines checklist
// (research/seed-and-pipelines.md §3.2, sections A–K; ids in brackets). Adapted: promises
// instead of awaitables, AbortSignal instead of cancellation tokens, ChannelStateError codes
// instead of InvalidOperationException messages. Skipped as .NET-specific: A1's
// useSynchronizationContext and schedulers, A8 (null options), C15 (GetResult on a pending
// awaitable), D3/D6/D7 (SequencePosition objects: our positions are plain numbers, checked by
// range instead), G7 (completion callbacks: not in our API), H2/H4 (awaiting one awaitable
// twice: a JS promise may be awaited any number of times), I5/I8 (ArrayPool vs MemoryPool).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, ChannelStateError, type FlushResult, MemoryPool, type ReadResult } from "../mod.ts";
import { isSettledFlush, wakeReaderAtOnce } from "../src/channel.ts";
import { concat } from "./_util.ts";

const utf8 = new TextEncoder();
const text = (result: ReadResult): string => new TextDecoder().decode(result.buffer.toUint8Array());

function isState(code: string): (error: unknown) => boolean {
  return (error) => error instanceof ChannelStateError && error.code === code;
}

/** Settles within a few turns of the event loop? (true = settled, value or error). */
async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  return done;
}

/** The Pipelines test fixture: small thresholds, a private pool. */
function fixture(options: { pause?: number; resume?: number; blockSize?: number; minimumSegmentSize?: number } = {}) {
  const pool = new MemoryPool({ blockSize: options.blockSize ?? 4096, debug: true });
  const channel = new Channel({
    pool,
    pauseWriterThreshold: options.pause ?? 65,
    resumeWriterThreshold: options.resume ?? 6,
    ...(options.minimumSegmentSize === undefined ? {} : { minimumSegmentSize: options.minimumSegmentSize }),
  });
  return { pool, channel, reader: channel.reader, writer: channel.writer };
}

function writeEmpty(writer: Channel["writer"], n: number): void {
  const memory = writer.getMemory(n);
  memory.fill(0x61, 0, n);
  writer.advance(n);
}

describe("A. options", () => {
  it("defaults pause at 65536 and resume at 32768 [A1]", async () => {
    const { writer, reader } = new Channel({ pool: new MemoryPool() });
    assert.equal(await settled(writer.write(new Uint8Array(65535))), true);
    const paused = writer.write(new Uint8Array(1));
    assert.equal(await settled(paused), false);
    await reader.read();
    reader.advanceTo(32768); // 32768 left: not below resume
    assert.equal(await settled(paused), false);
    await reader.read();
    reader.advanceTo(1); // 32767 left
    assert.equal(await settled(paused), true);
  });

  it("rejects negative and non-integer thresholds with RangeError [A2][A3]", () => {
    assert.throws(() => new Channel({ pauseWriterThreshold: -2 }), RangeError);
    assert.throws(() => new Channel({ pauseWriterThreshold: 1.5 }), RangeError);
    assert.throws(() => new Channel({ resumeWriterThreshold: -2 }), RangeError);
    assert.throws(() => new Channel({ pauseWriterThreshold: Number.NaN }), RangeError);
  });

  it("rejects resume above pause [A4]", () => {
    assert.throws(() => new Channel({ pauseWriterThreshold: 50, resumeWriterThreshold: 100 }), RangeError);
  });

  it("defaults resume to half of an explicit pause instead of failing [A5, deliberate deviation]", async () => {
    const { writer, reader } = new Channel({ pool: new MemoryPool(), pauseWriterThreshold: 10 });
    const paused = writer.write(new Uint8Array(10));
    assert.equal(await settled(paused), false);
    await reader.read();
    reader.advanceTo(5); // 5 left == resume: still paused
    assert.equal(await settled(paused), false);
    await reader.read();
    reader.advanceTo(1); // 4 left < 5
    assert.equal(await settled(paused), true);
  });

  it("accepts pause 1 with the default resume", async () => {
    const { writer, reader } = new Channel({ pool: new MemoryPool(), pauseWriterThreshold: 1 });
    const paused = writer.write(new Uint8Array(1));
    assert.equal(await settled(paused), false);
    await reader.read();
    reader.advanceTo(1);
    assert.equal(await settled(paused), true);
  });

  it("rejects resume 0 when pausing is on, since the writer could never resume", () => {
    assert.throws(() => new Channel({ pauseWriterThreshold: 10, resumeWriterThreshold: 0 }), RangeError);
    assert.throws(() => new Channel({ pauseWriterThreshold: 0, resumeWriterThreshold: 5 }), RangeError);
  });

  it("rejects a minimumSegmentSize below 1 or not an integer [A6, deliberate deviation]", () => {
    for (const size of [-100, -1, 0, 1.5]) {
      assert.throws(() => new Channel({ minimumSegmentSize: size }), RangeError);
    }
    assert.ok(new Channel({ minimumSegmentSize: 1 }));
  });

  it("rejects a pool that is not a MemoryPool", () => {
    assert.throws(() => new Channel({ pool: {} as MemoryPool }), TypeError);
  });

  it("never pauses with pauseWriterThreshold 0: 1 MiB byte by byte [A7]", async () => {
    const { writer, reader } = new Channel({ pool: new MemoryPool(), pauseWriterThreshold: 0 });
    const flushes: Promise<FlushResult>[] = [];
    for (let i = 0; i < 1024 * 1024; i++) {
      writer.getMemory(1)[0] = i & 0xff;
      writer.advance(1);
      if ((i & 1023) === 1023) flushes.push(writer.flush());
    }
    assert.equal(await settled(Promise.all(flushes)), true);
    const r = await reader.read();
    assert.equal(r.buffer.length, 1024 * 1024);
    assert.equal(r.buffer.at(-1), 0xff);
    reader.advanceTo(r.buffer.length);
  });
});

describe("B. writer", () => {
  it("getMemory(0) returns non-empty memory [B1]", () => {
    const { writer } = fixture();
    assert.ok(writer.getMemory(0).length > 0);
    assert.ok(writer.getMemory().length > 0);
  });

  it("getMemory rejects a negative or non-integer size hint [B2]", () => {
    const { writer } = fixture();
    assert.throws(() => writer.getMemory(-1), RangeError);
    assert.throws(() => writer.getMemory(1.5), RangeError);
    assert.throws(() => writer.getMemory(Number.NaN), RangeError);
  });

  it("getMemory(10) returns at least 10 bytes, and sizes past a block get a span of the slab [B3]", () => {
    const { writer, pool } = fixture();
    assert.ok(writer.getMemory(10).length >= 10);
    const large = writer.getMemory(100_000);
    assert.equal(large.length, 25 * 4096);
    assert.deepEqual({ ...pool.stats(), freeBlocks: 0 }, {
      ...pool.stats(),
      freeBlocks: 0,
      slabs: 1,
      spans: 1,
      rentedBlocks: 25,
      oversizeBlocks: 0,
    });
    // Past a slab's blocks: a memory of its own.
    assert.ok(writer.getMemory(pool.blocksPerSlab * 4096 + 1).length > pool.blocksPerSlab * 4096);
    assert.equal(pool.stats().oversizeBlocks, 1);
  });

  it("after advancing 3 bytes the next view continues the same segment [B4]", () => {
    const { writer } = fixture();
    const initial = writer.getMemory().length;
    writer.advance(3);
    assert.equal(writer.getMemory().length, initial - 3);
  });

  it("advance past the view throws RangeError [B5]", () => {
    const { writer } = fixture();
    const memory = writer.getMemory();
    assert.throws(() => writer.advance(memory.length + 1), RangeError);
    assert.throws(() => writer.advance(-1), RangeError);
    assert.throws(() => writer.advance(0.5), RangeError);
  });

  it("advance without getMemory throws NO_MEMORY_TO_ADVANCE, and so does advance after flush or write [B6]", async () => {
    const { writer } = fixture();
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
    assert.throws(
      () => writer.advance(1),
      /^ChannelStateError: Cannot advance the writer as .*getMemory\(\).*: received byteCount 1$/,
    );
    writer.advance(0); // nothing to commit: allowed, as writing nothing is [B7]
    writer.getMemory(4);
    writer.advance(2);
    await writer.flush();
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
    writer.getMemory(4);
    await writer.write(utf8.encode("x"));
    assert.throws(() => writer.advance(3), isState("NO_MEMORY_TO_ADVANCE"));
    // Misuse of the view's size stays a RangeError: a view is out, the count is wrong.
    const view = writer.getMemory(4);
    assert.throws(() => writer.advance(view.length + 1), RangeError);
    assert.throws(() => writer.advance(-1), RangeError);
  });

  it("writing nothing does not throw [B7]", async () => {
    const { writer } = fixture();
    writer.getMemory(0);
    writer.advance(0);
    await writer.flush();
    await writer.write(new Uint8Array(0));
  });

  it("write() spans segments and keeps bytes in order for many sizes [B8]", async () => {
    for (const size of [5, 50, 500, 5000, 50000, 3 * 4096]) {
      const { writer, reader } = new Channel({ pool: new MemoryPool({ debug: true }), pauseWriterThreshold: 0 });
      const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      await writer.write(data);
      const r = await reader.read();
      assert.deepEqual(r.buffer.toUint8Array(), data);
      reader.advanceTo(r.buffer.length);
    }
  });

  it("rents minimumSegmentSize even for smaller hints [B9]", () => {
    const { writer } = fixture({ minimumSegmentSize: 2020, blockSize: 1024 });
    const first = writer.getMemory(512);
    assert.ok(first.length >= 2020);
    writer.advance(first.length);
    assert.ok(writer.getMemory(1).length >= 2020);
  });

  it("26 single-byte advances with minimumSegmentSize 1 all arrive [B10]", async () => {
    const { writer, reader } = fixture({ blockSize: 16, minimumSegmentSize: 1 });
    for (let i = 0; i < 26; i++) {
      writer.getMemory()[0] = 0x61 + i;
      writer.advance(1);
    }
    await writer.flush();
    assert.equal(writer.unflushedBytes, 0);
    const r = await reader.read();
    assert.equal(text(r), "abcdefghijklmnopqrstuvwxyz");
  });

  it("advance followed by write() gives one read of all bytes [B11]", async () => {
    const { writer, reader } = fixture({ pause: 0, resume: 0 });
    writeEmpty(writer, 14);
    await writer.write(new Uint8Array(12));
    const r = await reader.read();
    assert.equal(r.buffer.length, 26);
  });

  it("every writer call after complete() throws WRITER_COMPLETED [B12]", async () => {
    const { writer } = fixture();
    writer.complete();
    assert.throws(() => writer.getMemory(), isState("WRITER_COMPLETED"));
    assert.throws(() => writer.advance(0), isState("WRITER_COMPLETED"));
    await assert.rejects(writer.flush(), isState("WRITER_COMPLETED"));
    await assert.rejects(writer.write(new Uint8Array(1)), isState("WRITER_COMPLETED"));
    await assert.rejects(writer.writeUtf8("x"), isState("WRITER_COMPLETED"));
  });

  it("the reader never sees unflushed bytes, across segment boundaries too [B13]", async () => {
    for (const blockSize of [4096, 16]) {
      const { writer, reader } = fixture({ blockSize, minimumSegmentSize: blockSize, pause: 0, resume: 0 });
      writeEmpty(writer, 4);
      await writer.flush();
      for (let i = 0; i < 8; i++) writeEmpty(writer, 1);
      assert.equal(writer.unflushedBytes, 8);
      const r = await reader.read();
      assert.equal(r.buffer.length, 4);
      reader.advanceTo(0, 4);
      await writer.flush();
      const r2 = await reader.read();
      assert.equal(r2.buffer.length, 12);
    }
  });

  it("complete() commits advanced bytes [B14]", async () => {
    const { writer, reader } = fixture();
    writeEmpty(writer, 4);
    writer.complete();
    const r = await reader.read();
    assert.equal(r.buffer.length, 4);
    assert.equal(r.isCompleted, true);
  });

  it("an empty flush does not wake a pending read, nor after advanceTo(0, end) [B15]", async () => {
    const { writer, reader } = fixture();
    const pending = reader.read();
    await writer.flush();
    assert.equal(await settled(pending), false);
    await writer.write(utf8.encode("ab"));
    const r = await pending;
    reader.advanceTo(0, r.buffer.length);
    const again = reader.read();
    await writer.flush();
    assert.equal(await settled(again), false);
    writer.complete();
    assert.equal((await again).isCompleted, true);
  });

  it("a flush below the pause threshold is already settled and reports nothing [B16]", async () => {
    const { writer } = fixture();
    writeEmpty(writer, 32);
    const result = await writer.flush();
    assert.deepEqual({ ...result }, { isCompleted: false, isCanceled: false });
  });

  it("with the reader completed, writes report isCompleted and rent nothing [B17]", async () => {
    const { writer, reader, pool } = fixture();
    reader.complete();
    for (let i = 0; i < 10000; i++) {
      const result = await writer.write(new Uint8Array(100));
      assert.equal(result.isCompleted, true);
    }
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("with the reader completed, getMemory/advance/flush reuse one block [B18]", async () => {
    const { writer, reader, pool } = fixture();
    reader.complete();
    for (let i = 0; i < 10000; i++) {
      const memory = writer.getMemory();
      writer.advance(memory.length);
      assert.equal((await writer.flush()).isCompleted, true);
      assert.equal(writer.unflushedBytes, 0);
    }
    assert.equal(pool.stats().rentedBlocks, 1);
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writeUtf8 encodes like TextEncoder, across segments and surrogate pairs", async () => {
    const { writer, reader } = fixture({ blockSize: 16, minimumSegmentSize: 16, pause: 0, resume: 0 });
    const sample = "héllo wörld — 𝄞 music 😀 end" + "\ud800 lone";
    for (const part of ["a", sample, "ok", sample.slice(0, 15), sample]) await writer.writeUtf8(part);
    const r = await reader.read();
    const expected = utf8.encode(["a", sample, "ok", sample.slice(0, 15), sample].join(""));
    assert.deepEqual(r.buffer.toUint8Array(), expected);
    assert.equal(r.buffer.isSingleSegment, false);
  });

  it("writeUtf8 of a short text starting with a 4-byte character moves past a head with 1 to 3 bytes free", async () => {
    for (let used = 13; used <= 16; used++) {
      const { writer, reader } = fixture({ blockSize: 16, minimumSegmentSize: 1, pause: 0, resume: 0 });
      await writer.write(new Uint8Array(used));
      await writer.writeUtf8("😀a");
      const r = await reader.read();
      assert.deepEqual(r.buffer.slice(used).toUint8Array(), utf8.encode("😀a"));
    }
  });

  it("write and writeUtf8 reject wrong types with TypeError", async () => {
    const { writer } = fixture();
    await assert.rejects(writer.write("x" as unknown as Uint8Array), TypeError);
    await assert.rejects(writer.writeUtf8(1 as unknown as string), TypeError);
  });
});

describe("C. reader", () => {
  it("reads what was written, in one segment [C1]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("Hello World"));
    const r = await reader.read();
    assert.equal(text(r), "Hello World");
    assert.equal(r.buffer.isSingleSegment, true);
  });

  it("read() with data ready does not wait for the writer [C2]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("x"));
    assert.equal(await settled(reader.read()), true);
  });

  it("after consuming everything, read() waits for the next non-empty flush [C3]", async () => {
    const { writer, reader } = fixture();
    for (let round = 0; round < 2; round++) {
      await writer.write(utf8.encode("abc"));
      const r = await reader.read();
      reader.advanceTo(r.buffer.length);
      const next = reader.read();
      assert.equal(await settled(next), false);
      await writer.write(utf8.encode("d"));
      const r2 = await next;
      assert.equal(text(r2), "d");
      reader.advanceTo(1);
    }
  });

  it("tryRead then a partial advance leaves the rest for read() [C4]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("Hello World"));
    const r = reader.tryRead();
    assert.ok(r);
    reader.advanceTo(6);
    assert.equal(text(await reader.read()), "World");
  });

  it("tryRead with no data returns undefined and needs no advanceTo [C5]", async () => {
    const { writer, reader } = fixture();
    assert.equal(reader.tryRead(), undefined);
    assert.throws(() => reader.advanceTo(0), isState("NO_READ_TO_ADVANCE"));
    await writer.write(utf8.encode("a"));
    assert.ok(reader.tryRead());
  });

  it("tryRead after the writer completed returns isCompleted [C6]", () => {
    const { writer, reader } = fixture();
    writer.complete();
    assert.equal(reader.tryRead()?.isCompleted, true);
  });

  it("tryRead after cancelPendingRead returns isCanceled [C7]", () => {
    const { reader } = fixture();
    reader.cancelPendingRead();
    assert.equal(reader.tryRead()?.isCanceled, true);
  });

  it("tryRead and read while a result is not advanced throw READ_IN_PROGRESS [C8][H1]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("a"));
    await reader.read();
    assert.throws(() => reader.tryRead(), isState("READ_IN_PROGRESS"));
    await assert.rejects(reader.read(), isState("READ_IN_PROGRESS"));
    reader.advanceTo(0, 1);
    const pending = reader.read();
    await assert.rejects(reader.read(), isState("READ_IN_PROGRESS"));
    assert.throws(() => reader.tryRead(), isState("READ_IN_PROGRESS"));
    await writer.write(utf8.encode("b"));
    assert.equal(text(await pending), "ab");
  });

  it("reader calls after reader.complete() throw READER_COMPLETED [C9][C11][D2]", async () => {
    const { reader } = fixture();
    reader.complete();
    assert.throws(() => reader.tryRead(), isState("READER_COMPLETED"));
    await assert.rejects(reader.read(), isState("READER_COMPLETED"));
    await assert.rejects(reader.readAtLeast(1), isState("READER_COMPLETED"));
    assert.throws(() => reader.advanceTo(0), isState("READER_COMPLETED"));
  });

  it("tryRead throws the writer's completion error [C10]", () => {
    const { writer, reader } = fixture();
    writer.complete(new Error("wow"));
    assert.throws(() => reader.tryRead(), { message: "wow" });
  });

  it("a buffer across two blocks enumerates two segments [C12]", async () => {
    const { writer, reader } = fixture({ pause: 0, resume: 0 });
    const segment = writer.getMemory().length;
    writeEmpty(writer, segment - 5);
    await writer.flush();
    await writer.write(utf8.encode("Hello World"));
    const r = await reader.read();
    const tail = r.buffer.slice(segment - 5);
    assert.deepEqual([...tail].map((v) => new TextDecoder().decode(v)), ["Hello", " World"]);
  });

  it("after the writer completes, reads keep returning isCompleted [C13]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("end"));
    writer.complete();
    for (let i = 0; i < 3; i++) {
      const r = await reader.read();
      assert.equal(r.isCompleted, true);
      reader.advanceTo(r.buffer.length);
    }
  });

  it("reader.complete() right after a read without advanceTo is fine [C14]", async () => {
    const { writer, reader, pool } = fixture();
    await writer.write(utf8.encode("x"));
    await reader.read();
    reader.complete();
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("a pending read rejects with READER_COMPLETED when the reader completes meanwhile", async () => {
    const { reader } = fixture();
    const pending = reader.read();
    reader.complete();
    await assert.rejects(pending, isState("READER_COMPLETED"));
  });
});

describe("D. advanceTo validation", () => {
  it("a second advanceTo without a read throws NO_READ_TO_ADVANCE [D1]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("abc"));
    await reader.read();
    reader.advanceTo(1);
    assert.throws(() => reader.advanceTo(1), isState("NO_READ_TO_ADVANCE"));
  });

  it("examined before consumed throws EXAMINED_BEFORE_CONSUMED and keeps the read [D4]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("abc"));
    const r = await reader.read();
    assert.throws(() => reader.advanceTo(r.buffer.length, 0), isState("EXAMINED_BEFORE_CONSUMED"));
    assert.throws(
      () => reader.advanceTo(2, 1),
      (e) => e instanceof Error && e.message.endsWith(": received examined 1 with consumed 2"),
    );
    reader.advanceTo(1); // the read is still in progress: a corrected call works
    assert.equal(text(await reader.read()), "bc");
  });

  it("examined moving backwards throws EXAMINED_MOVED_BACKWARDS and keeps the read [D5]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("abc"));
    const r = await reader.read();
    reader.advanceTo(0, r.buffer.length);
    await writer.write(utf8.encode("d"));
    await reader.read();
    assert.throws(() => reader.advanceTo(0, 0), isState("EXAMINED_MOVED_BACKWARDS"));
    assert.throws(() => reader.advanceTo(2), isState("EXAMINED_MOVED_BACKWARDS"));
    // The message gives both ends, as offsets into this buffer.
    assert.throws(
      () => reader.advanceTo(1, 2),
      (e) =>
        e instanceof Error &&
        /an earlier advanceTo\(\) examined 3 bytes of this buffer\): received examined 2$/.test(e.message),
    );
    reader.advanceTo(3); // equal to the earlier end: allowed
  });

  it("positions outside the buffer or not integers throw RangeError and keep the read", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("abc"));
    await reader.read();
    for (const [c, e] of [[-1, 0], [4, 4], [0, 4], [1.5, 2], [Number.NaN, 1], [0, Number.NaN]] as const) {
      assert.throws(() => reader.advanceTo(c, e), RangeError);
    }
    reader.advanceTo(3);
  });

  it("consuming into the write head keeps the block the writer is filling [D8]", async () => {
    const { writer, reader, pool } = fixture({ blockSize: 64, minimumSegmentSize: 64, pause: 0, resume: 0 });
    writeEmpty(writer, 64);
    writeEmpty(writer, 64);
    await writer.flush();
    const r = await reader.read();
    const memory = writer.getMemory(); // third block: the write head
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 1);
    memory.fill(7);
    writer.advance(memory.length);
    await writer.flush();
    const r2 = await reader.read();
    assert.ok(r2.buffer.toUint8Array().every((b) => b === 7));
  });

  it("consumed at the end of one block and examined at the next releases the block [D9]", async () => {
    const { writer, reader, pool } = fixture({ blockSize: 64, minimumSegmentSize: 64, pause: 0, resume: 0 });
    writeEmpty(writer, 64);
    writeEmpty(writer, 10);
    await writer.flush();
    assert.equal(pool.stats().rentedBlocks, 2);
    await reader.read();
    reader.advanceTo(64, 64);
    assert.equal(pool.stats().rentedBlocks, 1);
  });
});

describe("E. backpressure (pause 64, resume 32)", () => {
  const bp = () => fixture({ pause: 64, resume: 32 });

  it("a flush reaching the pause threshold waits [E1]", async () => {
    const { writer } = bp();
    writeEmpty(writer, 64);
    assert.equal(await settled(writer.flush()), false);
  });

  it("a flush below the threshold does not wait [E2]", async () => {
    const { writer } = bp();
    writeEmpty(writer, 32);
    assert.equal(await settled(writer.flush()), true);
  });

  it("consuming below resume releases the flush [E3]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    await reader.read();
    reader.advanceTo(33, 33);
    assert.deepEqual({ ...(await flush) }, { isCompleted: false, isCanceled: false });
  });

  it("examining below resume without consuming releases the flush [E4]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    await reader.read();
    reader.advanceTo(0, 33);
    assert.equal(await settled(flush), true);
  });

  it("exactly resume bytes left keeps the flush waiting [E5]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    await reader.read();
    reader.advanceTo(32);
    assert.equal(await settled(flush), false);
  });

  it("after a resume, reaching the threshold again waits again [E6]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    await flush;
    writeEmpty(writer, 64);
    assert.equal(await settled(writer.flush()), false);
  });

  it("reader.complete() releases a waiting flush with isCompleted, later flushes too [E7]", async () => {
    for (const readFirst of [false, true]) {
      const { writer, reader } = bp();
      writeEmpty(writer, 64);
      const flush = writer.flush();
      if (readFirst) await reader.read();
      reader.complete();
      assert.equal((await flush).isCompleted, true);
      writeEmpty(writer, 64);
      assert.equal((await writer.flush()).isCompleted, true);
    }
  });

  it("a reader that only examines lets the writer go past the threshold each time [E8]", async () => {
    const { writer, reader, channel } = bp();
    const producer = (async () => {
      for (let i = 0; i < 5; i++) {
        writeEmpty(writer, 64);
        const flush = writer.flush();
        assert.ok(channel.unexaminedBytes >= 64, "each flush reaches the pause threshold");
        await flush;
      }
      writer.complete();
    })();
    let last: ReadResult;
    for (;;) {
      last = await reader.read();
      if (last.isCompleted) break;
      reader.advanceTo(0, last.buffer.length);
    }
    await producer;
    assert.equal(last.buffer.length, 320);
  });

  it("readAtLeast past the threshold lets a paused writer go on [E9]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    assert.equal(await settled(flush), false);
    const read = reader.readAtLeast(192);
    assert.equal(await settled(flush), true);
    for (let i = 0; i < 2; i++) {
      writeEmpty(writer, 64);
      assert.equal(await settled(writer.flush()), true);
    }
    assert.equal((await read).buffer.length, 192);
  });

  it("reader.complete(error) makes flushes reject with that error [E10][G2]", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const flush = writer.flush();
    const failure = new Error("Reader failed");
    reader.complete(failure);
    await assert.rejects(flush, (e) => e === failure);
    for (let i = 0; i < 2; i++) {
      writeEmpty(writer, 1);
      await assert.rejects(writer.flush(), (e) => e === failure);
      await assert.rejects(writer.write(new Uint8Array(1)), (e) => e === failure);
    }
  });

  it("unexaminedBytes follows writes, consumes and examines, and reset [E11]", async () => {
    const { writer, reader, channel } = bp();
    writeEmpty(writer, 10);
    await writer.flush();
    assert.equal(channel.unexaminedBytes, 10);
    let r = await reader.read();
    reader.advanceTo(0);
    assert.equal(channel.unexaminedBytes, 10);
    r = await reader.read();
    reader.advanceTo(5);
    assert.equal(channel.unexaminedBytes, 5);
    r = await reader.read();
    reader.advanceTo(0, r.buffer.length);
    assert.equal(channel.unexaminedBytes, 0);
    writer.complete();
    reader.complete();
    channel.reset();
    assert.equal(channel.unexaminedBytes, 0);
  });

  it("a second flush while one waits joins it", async () => {
    const { writer, reader } = bp();
    writeEmpty(writer, 64);
    const a = writer.flush();
    writeEmpty(writer, 10);
    const b = writer.flush();
    assert.equal(a, b);
    const r = await reader.read();
    assert.equal(r.buffer.length, 74);
    reader.advanceTo(r.buffer.length);
    await a;
  });
});

describe("F. cancellation", () => {
  it("cancelPendingRead before read gives one canceled, empty result [F1]", async () => {
    const { writer, reader } = fixture();
    reader.cancelPendingRead();
    const r = await reader.read();
    assert.equal(r.isCanceled, true);
    assert.equal(r.isCompleted, false);
    assert.equal(r.buffer.length, 0);
    reader.advanceTo(0);
    const next = reader.read();
    assert.equal(await settled(next), false);
    await writer.write(utf8.encode("x"));
    assert.equal((await next).isCanceled, false);
  });

  it("cancelPendingRead ends a waiting read without unflushed bytes [F2]", async () => {
    const { writer, reader } = fixture();
    const pending = reader.read();
    writeEmpty(writer, 3);
    reader.cancelPendingRead();
    const r = await pending;
    assert.equal(r.isCanceled, true);
    assert.equal(r.buffer.length, 0);
    reader.advanceTo(0);
    await writer.flush();
    const r2 = await reader.read();
    assert.equal(r2.isCanceled, false);
    assert.equal(r2.buffer.length, 3);
  });

  it("a canceled read still carries the buffered bytes [F3]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("Hello World"));
    reader.cancelPendingRead();
    const r = await reader.read();
    assert.equal(r.isCanceled, true);
    assert.equal(text(r), "Hello World");
  });

  it("cancelPendingRead while holding a result cancels the next read [F4]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("ab"));
    const r = await reader.read();
    reader.cancelPendingRead();
    reader.advanceTo(r.buffer.length);
    assert.equal((await reader.read()).isCanceled, true);
  });

  it("cancellations are one-shot and independent, and a canceled result needs no advanceTo [F5]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("abc"));
    for (let i = 0; i < 3; i++) {
      reader.cancelPendingRead();
      assert.equal((await reader.read()).isCanceled, true);
      const r = await reader.read();
      assert.equal(r.isCanceled, false);
      reader.advanceTo(0);
    }
  });

  it("an aborted signal rejects read with its reason [F6][J6]", async () => {
    const { reader } = fixture();
    const reason = new Error("stop");
    const signal = AbortSignal.abort(reason);
    await assert.rejects(reader.read({ signal }), (e) => e === reason);
    await assert.rejects(reader.readAtLeast(0, { signal }), (e) => e === reason);
  });

  it("aborting a waiting read rejects it and leaves the channel usable [F7]", async () => {
    const { writer, reader } = fixture();
    const controller = new AbortController();
    const pending = reader.read({ signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, (e) => e === controller.signal.reason);
    const next = reader.read();
    assert.equal(await settled(next), false);
    await writer.write(utf8.encode("z"));
    assert.equal(text(await next), "z");
  });

  it("an aborted signal wins over cancelPendingRead [F8]", async () => {
    const { reader } = fixture();
    reader.cancelPendingRead();
    const reason = new Error("abort");
    await assert.rejects(reader.read({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.equal((await reader.read()).isCanceled, true);
  });

  it("aborting after a read settled or with an old signal changes nothing [F9][F10]", async () => {
    const { writer, reader } = fixture();
    const controller = new AbortController();
    await writer.write(utf8.encode("a"));
    const r = await reader.read({ signal: controller.signal });
    controller.abort();
    reader.advanceTo(r.buffer.length);
    const next = reader.read({ signal: new AbortController().signal });
    await writer.write(utf8.encode("b"));
    assert.equal(text(await next), "b");
  });

  it("cancelPendingFlush before a flush cancels that flush only [F11]", async () => {
    const { writer } = fixture();
    writer.cancelPendingFlush();
    writeEmpty(writer, 1);
    assert.equal((await writer.flush()).isCanceled, true);
    assert.equal((await writer.flush()).isCanceled, false);
  });

  it("cancelPendingFlush ends a waiting flush and keeps the bytes [F12]", async () => {
    const { writer, reader } = fixture();
    writeEmpty(writer, 65);
    const flush = writer.flush();
    writer.cancelPendingFlush();
    assert.deepEqual({ ...(await flush) }, { isCompleted: false, isCanceled: true });
    assert.equal(await settled(writer.flush()), false); // still over the threshold
    const r = await reader.read();
    assert.equal(r.buffer.length, 65);
  });

  it("an aborted signal rejects flush and keeps the bytes [F14][F15]", async () => {
    const { writer, reader } = fixture();
    const reason = new Error("abort");
    writeEmpty(writer, 3);
    await assert.rejects(writer.flush({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    const pending = reader.read();
    writer.complete();
    const r = await pending;
    assert.equal(r.isCompleted, true);
    assert.equal(r.buffer.length, 3);

    const second = fixture();
    const controller = new AbortController();
    writeEmpty(second.writer, 65);
    const flush = second.writer.flush({ signal: controller.signal });
    controller.abort();
    await assert.rejects(flush, (e) => e === controller.signal.reason);
    assert.equal((await second.reader.read()).buffer.length, 65);
  });

  it("writer.complete(error) rejects a waiting read with that error [F16][G1]", async () => {
    const { writer, reader } = fixture();
    const pending = reader.read();
    const failure = new Error("producer failed");
    writer.complete(failure);
    await assert.rejects(pending, (e) => e === failure);
    await assert.rejects(reader.read(), (e) => e === failure);
    await assert.rejects(reader.readAtLeast(5), (e) => e === failure);
  });
});

describe("G. completion and errors", () => {
  it("complete() then complete(error) keeps the clean completion [G3]", async () => {
    const { writer, reader } = fixture();
    writer.complete();
    writer.complete(new Error("late"));
    assert.equal((await reader.read()).isCompleted, true);
    reader.complete();
    reader.complete(new Error("late"));
  });

  it("the first error wins [G4]", async () => {
    const { writer, reader } = fixture();
    const first = new Error("first");
    writer.complete(first);
    writer.complete(new Error("second"));
    writer.complete();
    await assert.rejects(reader.read(), (e) => e === first);
  });

  it("completing both sides twice releases blocks once [G5]", async () => {
    const { writer, reader, pool } = fixture();
    await writer.write(new Uint8Array(10));
    writer.complete();
    writer.complete();
    reader.complete();
    reader.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.equal(pool.stats().freeBlocks, pool.blocksPerSlab);
  });

  it("reader.complete() releases flushed segments at once, the write head when the writer completes [G6]", async () => {
    const { writer, reader, pool } = fixture({ blockSize: 64, minimumSegmentSize: 64, pause: 0, resume: 0 });
    for (let i = 0; i < 4; i++) await writer.write(new Uint8Array(50));
    assert.equal(pool.stats().rentedBlocks, 4);
    reader.complete();
    assert.equal(pool.stats().rentedBlocks, 1);
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

describe("H. concurrency misuse", () => {
  it("flushes while one waits all settle when the reader drains [H3][H5]", async () => {
    const { writer, reader } = fixture();
    writeEmpty(writer, 65);
    const first = writer.flush();
    const others: Promise<FlushResult>[] = [];
    for (let i = 0; i < 3; i++) {
      writeEmpty(writer, 1);
      others.push(writer.flush());
    }
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    await first;
    await Promise.all(others);
    assert.equal(r.buffer.length, 68);
  });
});

describe("I. memory and pool", () => {
  it("consuming everything returns every block [I1]", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    while (pool.stats().rentedBlocks < 3) await writer.write(new Uint8Array(512));
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("blocks consumed together come back in address order, so the next ones are adjacent again", async () => {
    const { writer, reader } = fixture({ blockSize: 64, pause: 0, resume: 0 });
    /** The byte offsets of each segment of the next read, after writing `blocks` full blocks one by one. */
    const offsets = async (blocks: number) => {
      for (let i = 0; i < blocks; i++) await writer.write(new Uint8Array(64));
      const { buffer } = await reader.read();
      const result = [...buffer].map((view) => view.byteOffset);
      reader.advanceTo(buffer.length);
      return result;
    };
    const ascending = (list: number[]) => list.every((offset, i) => i === 0 || offset === (list[i - 1] as number) + 64);
    const fresh = await offsets(6);
    assert.ok(ascending(fresh), `fresh blocks are carved in address order: ${fresh}`);
    // Released last first: the pool's free list (last in, first out) hands them out first to last.
    for (let round = 0; round < 3; round++) assert.deepEqual(await offsets(6), fresh);
    assert.deepEqual(await offsets(3), fresh.slice(0, 3));
  });

  it("the write head stays rented while the writer holds memory [I2]", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    while (pool.stats().rentedBlocks < 3) await writer.write(new Uint8Array(512));
    const r = await reader.read();
    writer.getMemory();
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 1);
  });

  it("completing both sides returns the write head [I3][I4]", () => {
    const { writer, reader, pool } = fixture({ blockSize: 2048 });
    writer.getMemory(512);
    writer.getMemory(4096);
    writer.complete();
    reader.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.equal(pool.stats().oversizeBlocks, 0);
  });

  it("a write of exactly one block uses one pool block [I6]", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    await writer.write(new Uint8Array(4096));
    assert.equal(pool.stats().rentedBlocks, 1);
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("write(2 * block + 1) uses three blocks, all returned after consume [I7]", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    await writer.write(new Uint8Array(2 * 4096 + 1));
    assert.equal(pool.stats().rentedBlocks, 3);
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("released blocks are reused and unexaminedBytes stays right [I10]", async () => {
    const { writer, reader, pool, channel } = fixture({ pause: 0, resume: 0 });
    for (let i = 0; i < 3; i++) {
      await writer.write(new Uint8Array(4096));
      assert.equal(channel.unexaminedBytes, 4096);
      await writer.write(new Uint8Array(4096));
      assert.equal(channel.unexaminedBytes, 8192);
      const r = await reader.read();
      reader.advanceTo(r.buffer.length);
      assert.equal(channel.unexaminedBytes, 0);
    }
    assert.equal(pool.stats().slabs, 1);
  });

  it("a debug pool poisons a view used after advanceTo [I11]", async () => {
    const { writer, reader } = fixture();
    await writer.write(utf8.encode("secret"));
    const r = await reader.read();
    const view = r.buffer.first;
    reader.advanceTo(r.buffer.length);
    assert.ok(view.every((b) => b === 0xdd), "released bytes must read as the poison byte");
  });
});

describe("J. readAtLeast", () => {
  it("returns once enough bytes are buffered [J1][J2]", async () => {
    const { writer, reader } = fixture();
    await writer.write(new Uint8Array(5));
    const read = reader.readAtLeast(11);
    assert.equal(await settled(read), false);
    await writer.write(new Uint8Array(6));
    assert.equal((await read).buffer.length, 11);
  });

  it("returns everything buffered when that is more [J3]", async () => {
    const { writer, reader } = fixture();
    await writer.write(new Uint8Array(5));
    assert.equal((await reader.readAtLeast(3)).buffer.length, 5);
  });

  it("returns a short buffer once the writer completed [J4]", async () => {
    const { writer, reader } = fixture();
    await writer.write(new Uint8Array(5));
    writer.complete();
    for (let i = 0; i < 3; i++) {
      const r = await reader.readAtLeast(100);
      assert.equal(r.isCompleted, true);
      assert.equal(r.buffer.length, 5);
      reader.advanceTo(0);
    }
  });

  it("returns early when canceled [J5]", async () => {
    const { writer, reader } = fixture();
    await writer.write(new Uint8Array(5));
    reader.cancelPendingRead();
    const r = await reader.readAtLeast(1000);
    assert.equal(r.isCanceled, true);
    assert.equal(r.isCompleted, false);
  });

  it("rejects a negative or non-integer minimum with RangeError [J7]", async () => {
    const { reader } = fixture();
    await assert.rejects(reader.readAtLeast(-1), RangeError);
    await assert.rejects(reader.readAtLeast(1.5), RangeError);
  });

  it("readAtLeast(0) with nothing buffered waits like read [J8]", async () => {
    const { writer, reader } = fixture();
    const read = reader.readAtLeast(0);
    assert.equal(await settled(read), false);
    await writer.write(new Uint8Array(1));
    assert.equal((await read).buffer.length, 1);
  });

  it("counts bytes left unconsumed by an earlier read [J9]", async () => {
    const { writer, reader } = fixture();
    await writer.write(new Uint8Array(10));
    await reader.read();
    reader.advanceTo(0);
    await writer.write(new Uint8Array(11));
    assert.equal((await reader.readAtLeast(20)).buffer.length, 21);
  });
});

describe("K. reset", () => {
  it("a reset channel reads and writes again [K1]", async () => {
    const { writer, reader, channel } = fixture();
    await writer.write(utf8.encode("one"));
    writer.complete();
    reader.complete();
    channel.reset();
    await writer.write(utf8.encode("two"));
    assert.equal(text(await reader.read()), "two");
  });

  it("reset with a side open throws RESET_WHILE_OPEN [K2]", () => {
    const { writer, reader, channel } = fixture();
    assert.throws(() => channel.reset(), isState("RESET_WHILE_OPEN"));
    writer.complete();
    assert.throws(() => channel.reset(), isState("RESET_WHILE_OPEN"));
    reader.complete();
    channel.reset();
    writer.complete();
    assert.throws(() => channel.reset(), isState("RESET_WHILE_OPEN"));
  });

  it("after reset tryRead finds nothing [K3]", () => {
    const { writer, reader, channel } = fixture();
    writer.complete(new Error("x"));
    reader.complete();
    channel.reset();
    assert.equal(reader.tryRead(), undefined);
  });
});

describe("spans: writes and getMemory past a block", () => {
  /** Bytes 0, 1, 2, … (mod 251, so no block boundary lines up with the pattern). */
  const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

  it("a 64 KiB write is one segment, one span of 16 blocks", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    const data = pattern(65536);
    await writer.write(data);
    assert.equal(pool.stats().spans, 1);
    assert.equal(pool.stats().rentedBlocks, 16);
    const r = await reader.read();
    assert.equal(r.buffer.isSingleSegment, true);
    assert.equal(r.buffer.first.length, 65536);
    assert.deepEqual(r.buffer.toUint8Array(), data);
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.equal(pool.stats().spans, 0);
  });

  it("writes around the block size and the span limit keep bytes in order, in as few segments as fit", async () => {
    const MiB = 1024 * 1024;
    for (
      const [size, segments] of [
        [4095, 1],
        [4096, 1],
        [4097, 1],
        [2 * 4096 + 1, 1],
        [65535, 1],
        [65537, 1],
        [MiB, 1],
        [MiB + 1, 2],
        [3 * MiB, 3],
      ] as const
    ) {
      const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
      const data = pattern(size);
      await writer.write(data);
      const r = await reader.read();
      assert.equal([...r.buffer].length, segments, `segments of a write of ${size}`);
      assert.deepEqual(r.buffer.toUint8Array(), data, `bytes of a write of ${size}`);
      reader.advanceTo(r.buffer.length);
      assert.equal(pool.stats().rentedBlocks, 0);
    }
  });

  it("a small write fills the write head; a large one that does not fit starts a span", async () => {
    const { writer, reader } = fixture({ pause: 0, resume: 0 });
    await writer.write(pattern(1000));
    await writer.write(pattern(3000)); // fits the rest of the first block
    await writer.write(pattern(4000)); // a block's worth: fills the head, then a new block
    await writer.write(pattern(20_000)); // more than a block: a span of its own
    const r = await reader.read();
    assert.deepEqual([...r.buffer].map((v) => v.length), [4096, 3904, 20_000]);
    assert.deepEqual(
      r.buffer.toUint8Array(),
      concat([pattern(1000), pattern(3000), pattern(4000), pattern(20_000)]),
    );
  });

  it("getMemory(64 KiB) is one span, as a socket read asks for it, and advance commits it whole", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    const memory = writer.getMemory(65536);
    assert.equal(memory.length, 65536);
    assert.equal(pool.stats().spans, 1);
    memory.set(pattern(65536));
    writer.advance(65536);
    await writer.flush();
    const r = await reader.read();
    assert.equal(r.buffer.isSingleSegment, true);
    assert.deepEqual(r.buffer.first, pattern(65536));
  });

  it("views of a span never detach while the pool adds slabs", async () => {
    const pool = new MemoryPool({ blocksPerSlab: 32 });
    const held = new Channel({ pool, pauseWriterThreshold: 0 });
    const data = pattern(65536);
    await held.writer.write(data);
    const r = await held.reader.read();
    const view = r.buffer.first;
    const others = new Channel({ pool, pauseWriterThreshold: 0 });
    for (let i = 0; i < 64; i++) await others.writer.write(data); // 4 MiB: many more slabs
    assert.ok(pool.stats().slabs > 30);
    assert.equal(view.byteLength, 65536);
    assert.deepEqual(view, data);
  });

  it("a debug pool poisons a span used after advanceTo", async () => {
    const { writer, reader } = fixture({ pause: 0, resume: 0 });
    await writer.write(pattern(65536));
    const r = await reader.read();
    const view = r.buffer.first;
    assert.equal(view.length, 65536);
    reader.advanceTo(r.buffer.length);
    assert.ok(view.every((b) => b === 0xdd), "every byte of the released span reads as the poison byte");
  });

  it("a write the pool cannot give one span goes on block by block", async () => {
    // Room for two slabs of 16 blocks (64 KiB for the kernels, 64 KiB of blocks each); the
    // first is held fragmented, so it has no run of more than one free block.
    const pool = new MemoryPool({ blocksPerSlab: 16, maxBytes: 4 * 65536 });
    const blocks = Array.from({ length: 16 }, () => pool.rent());
    for (let i = 0; i < 16; i += 2) pool.release(blocks[i]!);
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const data = pattern(11 * 4096 + 7);
    await channel.writer.write(data); // the second slab: one span of 12 blocks
    await channel.writer.write(data); // 4089 bytes left in it, then 4 + 8 single blocks
    assert.equal(pool.stats().freeBlocks, 1);
    const r = await channel.reader.read();
    assert.deepEqual(r.buffer.toUint8Array(), concat([data, data]));
    assert.ok([...r.buffer].length > 2);
  });
});

describe("the writer's state table", () => {
  it("IDLE: advance(0) is fine, advance(n) throws NO_MEMORY_TO_ADVANCE, getMemory moves to MEMORY", () => {
    const { writer } = fixture();
    writer.advance(0);
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
    const memory = writer.getMemory(8);
    writer.advance(memory.length);
  });

  it("MEMORY: advances commit up to the view, getMemory gives the rest, flush returns to IDLE", async () => {
    const { writer } = fixture();
    const memory = writer.getMemory();
    writer.advance(10);
    writer.advance(20);
    assert.equal(writer.unflushedBytes, 30);
    assert.throws(() => writer.advance(memory.length - 29), RangeError);
    assert.equal(writer.getMemory().length, memory.length - 30);
    await writer.flush();
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
    assert.equal(writer.unflushedBytes, 0);
  });

  it("MEMORY: write() and writeUtf8() end the view, as flush does", async () => {
    const { writer } = fixture({ pause: 0, resume: 0 });
    writer.getMemory();
    await writer.write(new Uint8Array(3));
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
    writer.getMemory();
    await writer.writeUtf8("abc");
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE"));
  });

  it("MEMORY keeps the write head rented even when the reader consumed all of it", async () => {
    const { writer, reader, pool } = fixture({ pause: 0, resume: 0 });
    await writer.write(new Uint8Array(10));
    writer.getMemory();
    const r = await reader.read();
    reader.advanceTo(r.buffer.length);
    assert.equal(pool.stats().rentedBlocks, 1);
    writer.advance(5);
    await writer.flush();
    const r2 = await reader.read();
    assert.equal(r2.buffer.length, 5);
    reader.advanceTo(5);
    assert.equal(pool.stats().rentedBlocks, 0, "once IDLE, the consumed head goes back");
  });

  it("COMPLETED: every writer call throws WRITER_COMPLETED, from IDLE and from MEMORY, and complete() again changes nothing", async () => {
    for (const holdMemory of [false, true]) {
      const { writer, reader } = fixture();
      if (holdMemory) writer.getMemory();
      writer.complete();
      writer.complete(new Error("too late"));
      assert.throws(() => writer.getMemory(), isState("WRITER_COMPLETED"));
      assert.throws(() => writer.advance(0), isState("WRITER_COMPLETED"));
      await assert.rejects(writer.flush(), isState("WRITER_COMPLETED"));
      await assert.rejects(writer.write(new Uint8Array(1)), isState("WRITER_COMPLETED"));
      await assert.rejects(writer.writeUtf8("x"), isState("WRITER_COMPLETED"));
      const r = await reader.read();
      assert.equal(r.isCompleted, true, "the first completion (clean) wins");
    }
  });

  it("complete(error) takes one plain optional argument; complete(undefined) is a clean completion", async () => {
    const { writer, reader } = fixture();
    assert.equal(writer.complete.length, 1);
    assert.equal(reader.complete.length, 1);
    writer.complete(undefined);
    assert.equal((await reader.read()).isCompleted, true);
    const other = fixture();
    const error = new Error("x");
    other.writer.complete(error);
    await assert.rejects(other.reader.read(), (e) => e === error);
  });

  it("with the reader completed, every state still answers: bytes are dropped, flushes report isCompleted", async () => {
    const { writer, reader } = fixture();
    const memory = writer.getMemory(); // MEMORY
    reader.complete();
    writer.advance(memory.length);
    assert.equal(writer.unflushedBytes, 0);
    assert.deepEqual({ ...(await writer.flush()) }, { isCompleted: true, isCanceled: false });
    assert.throws(() => writer.advance(1), isState("NO_MEMORY_TO_ADVANCE")); // IDLE again
    assert.deepEqual({ ...(await writer.write(new Uint8Array(9))) }, { isCompleted: true, isCanceled: false });
    writer.complete();
    assert.throws(() => writer.getMemory(), isState("WRITER_COMPLETED"));
  });
});

describe("reset() gives a channel equal to a new one", () => {
  /** What a channel does from its state on: the observations a script of calls makes. */
  async function observe(channel: Channel): Promise<unknown[]> {
    const { writer, reader } = channel;
    const seen: unknown[] = [];
    const attempt = async (what: () => unknown) => {
      try {
        const value = await what();
        seen.push(value === undefined ? "undefined" : JSON.stringify(value));
      } catch (error) {
        seen.push(error instanceof ChannelStateError ? error.code : (error as Error).name);
      }
    };
    seen.push(channel.unexaminedBytes, writer.unflushedBytes);
    await attempt(() => reader.tryRead());
    await attempt(() => reader.advanceTo(0));
    await attempt(() => writer.advance(1));
    const memory = writer.getMemory();
    seen.push(memory.length);
    memory.set([0x61, 0x62, 0x63]);
    writer.advance(3);
    seen.push(writer.unflushedBytes);
    await attempt(() => writer.flush());
    await attempt(() => writer.write(utf8.encode("hello")));
    const r = await reader.read();
    seen.push(text(r), r.isCompleted, r.isCanceled, r.buffer.length);
    reader.advanceTo(2, r.buffer.length);
    seen.push(channel.unexaminedBytes);
    const pending = reader.read();
    seen.push(await settled(pending));
    writer.cancelPendingFlush();
    await attempt(() => writer.flush()); // canceled once
    await attempt(() => writer.flush());
    const paused = writer.write(new Uint8Array(100)); // past pause 65: waits
    seen.push(await settled(paused));
    const r2 = await pending;
    seen.push(r2.buffer.length);
    reader.advanceTo(r2.buffer.length);
    seen.push(await settled(paused));
    reader.cancelPendingRead();
    const canceled = await reader.read();
    seen.push(canceled.isCanceled, canceled.buffer.length);
    writer.complete();
    const last = await reader.read();
    seen.push(last.isCompleted, last.buffer.length);
    reader.advanceTo(last.buffer.length);
    reader.complete();
    return seen;
  }

  it("after a run that ended in errors, cancellations and a paused writer", async () => {
    const fresh = fixture();
    const expected = await observe(fresh.channel);

    const { channel, writer, reader, pool } = fixture();
    // Leave every flag the channel has set: a canceled read and flush requested, examined
    // ahead, a paused writer, errors on both sides, memory out.
    const paused = writer.write(new Uint8Array(200)); // past pause 65: waits
    const r = await reader.read();
    reader.advanceTo(10, 150); // 50 unexamined: still paused
    reader.cancelPendingRead();
    writer.cancelPendingFlush();
    await paused;
    writer.cancelPendingFlush();
    writer.getMemory(5000);
    assert.ok(r);
    writer.complete(new Error("writer failed"));
    reader.complete(new Error("reader failed"));
    channel.reset();
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.deepEqual(await observe(channel), expected);
    // And once more, from the state observe() itself leaves.
    channel.reset();
    assert.deepEqual(await observe(channel), expected);
  });
});

describe("internal hooks of the socket connection (src/channel.ts, not exported from mod.ts)", () => {
  /** Microtask hops until `promise` settles (at most 20). */
  async function hopsUntilSettled(promise: Promise<unknown>): Promise<number> {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    let hops = 0;
    while (!done && hops < 20) {
      await null;
      hops++;
    }
    return hops;
  }

  it("wakeReaderAtOnce settles a pending read in the flush itself, a default channel a few microtasks later", async () => {
    for (const atOnce of [true, false]) {
      const { channel, reader, writer } = fixture();
      if (atOnce) wakeReaderAtOnce(channel);
      const read = reader.read();
      void writer.write(utf8.encode("hello"));
      const hops = await hopsUntilSettled(read);
      if (atOnce) assert.equal(hops, 1);
      else assert.ok(hops > 2, `settled after ${hops} hops`);
      const result = await read;
      assert.equal(text(result), "hello");
      reader.advanceTo(result.buffer.length);
    }
  });

  it("wakeReaderAtOnce keeps readAtLeast waiting until enough bytes are flushed", async () => {
    const { channel, reader, writer } = fixture();
    wakeReaderAtOnce(channel);
    const read = reader.readAtLeast(5);
    await writer.write(utf8.encode("hel"));
    assert.equal(await settled(read), false);
    void writer.write(utf8.encode("lo"));
    assert.equal(await hopsUntilSettled(read), 1);
    assert.equal(text(await read), "hello");
  });

  it("wakeReaderAtOnce still pauses the writer at the threshold and resumes it", async () => {
    const { channel, reader, writer } = fixture({ pause: 65, resume: 6 });
    wakeReaderAtOnce(channel);
    const read = reader.read();
    const flush = writer.write(new Uint8Array(70));
    assert.equal((await read).buffer.length, 70);
    assert.equal(await settled(flush), false);
    reader.advanceTo(70);
    assert.deepEqual(await flush, { isCompleted: false, isCanceled: false });
  });

  it("isSettledFlush is true for a flush that did not wait, false for one that waits or rejects", async () => {
    const { reader, writer } = fixture({ pause: 65, resume: 6 });
    const small = writer.write(new Uint8Array(10));
    assert.equal(isSettledFlush(small), true);
    const waiting = writer.write(new Uint8Array(60));
    assert.equal(isSettledFlush(waiting), false);
    const result = await reader.read();
    reader.advanceTo(result.buffer.length);
    await waiting;
    reader.complete(new Error("reader failed"));
    const rejected = writer.write(new Uint8Array(1));
    assert.equal(isSettledFlush(rejected), false);
    await assert.rejects(rejected, /reader failed/);
    const { writer: other, reader: otherReader } = fixture();
    otherReader.complete();
    const completed = other.flush();
    assert.equal(isSettledFlush(completed), true);
    assert.deepEqual(await completed, { isCompleted: true, isCanceled: false });
    assert.equal(isSettledFlush(Promise.resolve({ isCompleted: false, isCanceled: false })), false);
  });
});
