import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, type ChannelTransform, MemoryPool, pipeThrough, type ReadableChannel } from "../mod.ts";
import { testSeed, withSeed } from "./_util.ts";

/** Reads a channel to its end, returning every byte. */
async function drain(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: number[] = [];
  for (;;) {
    const { buffer, isCompleted } = await reader.read();
    parts.push(...buffer.toUint8Array());
    reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  reader.complete();
  return new Uint8Array(parts);
}

/** Sums each group of 3 bytes into one byte; a partial group waits for more (or ends the stream). */
const sumOfThrees: ChannelTransform = {
  transform(input, output, final) {
    const whole = final ? input.length : input.length - (input.length % 3);
    const groups = Math.ceil(whole / 3);
    if (groups === 0) return whole;
    const memory = output.getMemory(groups);
    for (let g = 0; g < groups; g++) {
      let sum = 0;
      for (let i = g * 3; i < Math.min(whole, g * 3 + 3); i++) sum += input.at(i);
      memory[g] = sum & 0xff;
    }
    output.advance(groups);
    return whole;
  },
};

function reference(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 3) out.push((data[i]! + (data[i + 1] ?? 0) + (data[i + 2] ?? 0)) & 0xff);
  return new Uint8Array(out);
}

describe("pipeThrough", () => {
  it("carries partial groups across reads and segments, in random chunks", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 100; round++) {
        const pool = new MemoryPool({ blockSize: 16, debug: true });
        const source = new Channel({ pool, minimumSegmentSize: 16 });
        const reader = pipeThrough(source.reader, sumOfThrees, { pool, pauseWriterThreshold: random.int(0, 64) });
        const data = random.bytes(random.int(0, 500));
        const producer = (async () => {
          for (let at = 0; at < data.length;) {
            const n = random.int(0, 40);
            await source.writer.write(data.subarray(at, at + n));
            at += n;
          }
          source.writer.complete();
        })();
        assert.deepEqual(await drain(reader), reference(data));
        await producer;
        assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });

  it("a transform error rejects the output's reads and the producer's flushes", async () => {
    const failure = new TypeError("bad byte");
    const failing: ChannelTransform = {
      transform() {
        throw failure;
      },
    };
    const source = new Channel();
    const reader = pipeThrough(source.reader, failing);
    await source.writer.write(new Uint8Array([1]));
    await assert.rejects(reader.read(), (e) => e === failure);
    await assert.rejects(source.writer.write(new Uint8Array([2])), (e) => e === failure);
  });

  it("input left unconsumed at the end is a TypeError", async () => {
    const lazy: ChannelTransform = { transform: () => 0 };
    const source = new Channel();
    const reader = pipeThrough(source.reader, lazy);
    await source.writer.write(new Uint8Array([1, 2]));
    source.writer.complete();
    await assert.rejects(reader.read(), (e) => e instanceof TypeError && /2 bytes left/.test(e.message));
  });

  it("an output reader that completes completes the source", async () => {
    const source = new Channel();
    const reader = pipeThrough(source.reader, sumOfThrees);
    await source.writer.write(new Uint8Array(3));
    const { buffer } = await reader.read();
    reader.advanceTo(buffer.length);
    reader.complete();
    await source.writer.write(new Uint8Array(3));
    let result;
    for (let i = 0; i < 10 && !(result = await source.writer.write(new Uint8Array(3))).isCompleted; i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(result?.isCompleted, true);
  });

  it("when the output's reader leaves, both channels complete and every block goes back", async () => {
    const pool = new MemoryPool({ blockSize: 16, debug: true });
    const source = new Channel({ pool });
    const reader = pipeThrough(source.reader, sumOfThrees, { pool });
    await source.writer.write(new Uint8Array(30));
    const { buffer } = await reader.read();
    reader.advanceTo(buffer.length);
    reader.complete();
    let result;
    for (let i = 0; i < 10 && !(result = await source.writer.write(new Uint8Array(3))).isCompleted; i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(result?.isCompleted, true);
    source.writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("a transform may return a promise: the input stays valid until it settles, and it may flush", async () => {
    // Sums groups of 3 like sumOfThrees, one byte per output flush, after a macrotask.
    const slow: ChannelTransform = {
      async transform(input, output, final) {
        const copy = input.toUint8Array();
        await new Promise((r) => setTimeout(r, 1));
        assert.deepEqual(input.toUint8Array(), copy, "the input is unchanged across the wait");
        const whole = final ? copy.length : copy.length - (copy.length % 3);
        const sums = reference(copy.subarray(0, whole));
        for (const sum of sums) {
          output.getMemory(1)[0] = sum;
          output.advance(1);
          await output.flush();
        }
        return whole;
      },
    };
    await withSeed(testSeed(), async (random) => {
      const pool = new MemoryPool({ blockSize: 16, debug: true });
      const source = new Channel({ pool });
      const reader = pipeThrough(source.reader, slow, { pool, pauseWriterThreshold: 4, resumeWriterThreshold: 2 });
      const data = random.bytes(random.int(0, 200));
      const producer = (async () => {
        for (let at = 0; at < data.length;) {
          const n = random.int(1, 20);
          await source.writer.write(data.subarray(at, at + n));
          at += n;
        }
        source.writer.complete();
      })();
      assert.deepEqual(await drain(reader), reference(data));
      await producer;
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  });

  it("aborting while an asynchronous transform waits completes both sides with the reason", async () => {
    const waiting: ChannelTransform = {
      async transform(input, output) {
        output.getMemory(1);
        output.advance(1);
        await output.flush(); // the reader never reads: this waits
        return input.length;
      },
    };
    const controller = new AbortController();
    const source = new Channel();
    const reader = pipeThrough(source.reader, waiting, { signal: controller.signal, pauseWriterThreshold: 1 });
    await source.writer.write(new Uint8Array(5));
    await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error("stop"));
    await assert.rejects(
      (async () => {
        for (;;) reader.advanceTo((await reader.read()).buffer.length);
      })(),
      { message: "stop" },
    );
    await assert.rejects(source.writer.write(new Uint8Array(1)), { message: "stop" });
  });

  it("follows the output's backpressure: a reader that does not read stops the producer", async () => {
    const source = new Channel({ pauseWriterThreshold: 64, resumeWriterThreshold: 32 });
    const reader = pipeThrough(source.reader, sumOfThrees, { pauseWriterThreshold: 10, resumeWriterThreshold: 5 });
    let written = 0;
    const producer = (async () => {
      for (let i = 0; i < 1000; i++) {
        await source.writer.write(new Uint8Array(30));
        written += 30;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(written < 1000, `the producer was paused (wrote ${written} bytes)`);
    reader.complete();
    source.writer.complete();
    await producer.catch(() => {});
  });

  it("aborting the signal completes both sides with its reason", async () => {
    const controller = new AbortController();
    const source = new Channel();
    const reader = pipeThrough(source.reader, sumOfThrees, { signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(reader.read(), { message: "stop" });
    await assert.rejects(source.writer.write(new Uint8Array(1)), { message: "stop" });
  });
});
