import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  fromReadableStream,
  fromWritableStream,
  MemoryPool,
  type ReadableChannel,
  toReadableStream,
  toWritableStream,
} from "../mod.ts";
import { concat, testSeed, withSeed } from "./_util.ts";

async function drain(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await reader.read();
    parts.push(buffer.toUint8Array());
    reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  reader.complete();
  return concat(parts);
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value.slice()); // copy now: zeroCopy chunks die at the next read
  }
  return { bytes: concat(chunks), chunks };
}

describe("web streams", () => {
  it("round-trips random chunks through toReadableStream → fromReadableStream, copying and zero-copy", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 40; round++) {
        const pool = new MemoryPool({ blockSize: 64, debug: true });
        const source = new Channel({ pool, minimumSegmentSize: 64 });
        const chunks = Array.from({ length: random.int(0, 20) }, () => random.bytes(random.int(0, 300)));
        const stream = toReadableStream(source.reader, { zeroCopy: random.chance(0.5) });
        const back = fromReadableStream(stream, { pool });
        const producer = (async () => {
          for (const chunk of chunks) await source.writer.write(chunk);
          source.writer.complete();
        })();
        assert.deepEqual(await drain(back), concat(chunks));
        await producer;
        assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });

  it("zeroCopy chunks are views of pool memory; default chunks are copies", async () => {
    const channel = new Channel({ pool: new MemoryPool({ debug: true }) });
    await channel.writer.write(new Uint8Array([1, 2, 3]));
    const stream = toReadableStream(channel.reader, { zeroCopy: true });
    const reader = stream.getReader();
    const { value } = await reader.read();
    assert.equal(value!.buffer.byteLength % 65536, 0, "a view of WebAssembly memory");
    assert.equal(value!.byteOffset >= 65536, true, "a view into a pool slab");
    channel.writer.complete();
    await reader.read(); // the next read releases the bytes: a debug pool poisons them
    assert.deepEqual([...value!], [0xdd, 0xdd, 0xdd]);

    const copying = new Channel();
    await copying.writer.write(new Uint8Array([4, 5]));
    copying.writer.complete();
    const { chunks } = await collect(toReadableStream(copying.reader));
    assert.equal(chunks[0]!.byteOffset, 0);
    assert.equal(chunks[0]!.buffer.byteLength, 2, "a copy owns its own buffer");
  });

  it("a writer completed with an error errors the stream", async () => {
    const channel = new Channel();
    const stream = toReadableStream(channel.reader);
    channel.writer.complete(new Error("producer failed"));
    await assert.rejects(collect(stream), { message: "producer failed" });
  });

  it("canceling the stream completes the channel reader, so the producer stops", async () => {
    const channel = new Channel();
    const stream = toReadableStream(channel.reader);
    await stream.cancel();
    assert.equal((await channel.writer.write(new Uint8Array(1))).isCompleted, true);
  });

  it("a stream error completes the channel with it", async () => {
    const failure = new Error("source failed");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1]));
        controller.error(failure);
      },
    });
    const reader = fromReadableStream(stream);
    await assert.rejects(drain(reader), (e) => e === failure);
  });

  it("a chunk that is not a Uint8Array errors the channel with a TypeError", async () => {
    const reader = fromReadableStream(streamOf(["text" as unknown as Uint8Array]));
    await assert.rejects(drain(reader), TypeError);
  });

  it("a completed channel reader cancels the source stream", async () => {
    let canceled = false;
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(16).fill(n++));
      },
      cancel() {
        canceled = true;
      },
    });
    const reader = fromReadableStream(stream, { pauseWriterThreshold: 64 });
    const { buffer } = await reader.read();
    reader.advanceTo(buffer.length);
    reader.complete();
    for (let i = 0; i < 20 && !canceled; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(canceled, true);
  });

  it("fromReadableStream respects backpressure: a channel nobody reads stops reading the stream", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    }, { highWaterMark: 0 });
    const reader = fromReadableStream(stream, { pauseWriterThreshold: 8192, resumeWriterThreshold: 4096 });
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(pulled <= 10, `pulled ${pulled} chunks of 1 KiB into an 8 KiB channel`);
    reader.complete();
  });

  it("rejects what is not a stream with TypeError", () => {
    assert.throws(() => fromReadableStream({} as ReadableStream<Uint8Array>), TypeError);
    assert.throws(() => fromWritableStream({} as WritableStream<Uint8Array>), TypeError);
  });

  it("round-trips random chunks through toWritableStream → fromWritableStream, copying and zero-copy", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 40; round++) {
        const pool = new MemoryPool({ blockSize: 64, debug: true });
        const received: Uint8Array[] = [];
        let closed!: () => void;
        const done = new Promise<void>((resolve) => (closed = resolve));
        const sink = new WritableStream<Uint8Array>({
          write: (chunk) => void received.push(chunk.slice()),
          close: () => closed(),
        });
        const writer = fromWritableStream(sink, { pool, minimumSegmentSize: 64, zeroCopy: random.chance(0.5) });
        const stream = toWritableStream(writer);
        const chunks = Array.from({ length: random.int(0, 20) }, () => random.bytes(random.int(0, 300)));
        await streamOf(chunks).pipeTo(stream);
        await done;
        assert.deepEqual(concat(received), concat(chunks));
        assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });

  it("aborting the stream completes the channel writer with the reason, which aborts the sink", async () => {
    let aborted: unknown;
    const writer = fromWritableStream(new WritableStream<Uint8Array>({ abort: (reason) => void (aborted = reason) }));
    const stream = toWritableStream(writer);
    const reason = new Error("stop");
    await stream.abort(reason);
    for (let i = 0; i < 20 && aborted === undefined; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(aborted, reason);
  });

  it("a failing sink completes the channel reader with the error, so the producer's flush rejects", async () => {
    const failure = new Error("disk full");
    const writer = fromWritableStream(
      new WritableStream<Uint8Array>({
        write() {
          throw failure;
        },
      }),
    );
    await writer.write(new Uint8Array([1]));
    let error: unknown;
    for (let i = 0; i < 20 && error === undefined; i++) {
      await new Promise((r) => setTimeout(r, 1));
      await writer.write(new Uint8Array([2])).catch((e) => (error = e));
    }
    assert.equal(error, failure);
  });

  it("writes to a stream whose channel reader is gone fail", async () => {
    const channel = new Channel();
    const stream = toWritableStream(channel.writer);
    channel.reader.complete();
    const writer = stream.getWriter();
    await assert.rejects(writer.write(new Uint8Array(1)), TypeError);
  });
});
