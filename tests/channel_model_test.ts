// Model-based random test: random interleavings of writer and reader operations, checked
// against a plain array model of the byte stream. Nothing may be lost, duplicated or
// reordered, trim() never takes memory a held view points into, and every block must be back
// in the pool at the end (and trimmed away). Seeded: a failure prints the seed; rerun with
// SEED=<seed>.
import assert from "node:assert/strict";
import { it } from "node:test";
import { Channel, type FlushResult, MemoryPool, type ReadResult } from "../mod.ts";
import { type Random, testSeed, withSeed } from "./_util.ts";

const utf8 = new TextEncoder();

async function scenario(random: Random): Promise<void> {
  const blockSize = [16, 32, 64, 4096][random.int(0, 3)] as number;
  const pool = new MemoryPool({ blockSize, blocksPerSlab: random.int(1, 64), debug: true });
  const pause = random.chance(0.2) ? 0 : random.int(1, 300);
  const resume = pause === 0 ? 0 : random.int(1, pause);
  const channel = new Channel({
    pool,
    pauseWriterThreshold: pause,
    resumeWriterThreshold: resume,
    minimumSegmentSize: random.int(1, blockSize * 2),
  });
  const { reader, writer } = channel;

  // The model: every byte the writer committed, in order, and how far the reader consumed.
  const stream: number[] = [];
  let flushed = 0; // bytes the reader may see
  let consumed = 0;
  let examined = 0; // stream position the reader examined up to
  let view: Uint8Array | undefined; // the last getMemory view
  let viewUsed = 0;

  let flush: Promise<FlushResult> | undefined;
  let flushDone = false;
  let read: Promise<ReadResult> | undefined;
  let readSettled = false;
  let result: ReadResult | undefined; // a result awaiting advanceTo
  let resultStart = 0;
  let readAbort: AbortController | undefined;
  let readCompleted = false;

  const onRead = (r: ReadResult) => {
    readSettled = true;
    result = r;
    resultStart = consumed;
    const bytes = r.buffer.toUint8Array();
    assert.ok(consumed + bytes.length <= flushed, "a read must not see unflushed bytes");
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== stream[consumed + i]) {
        assert.fail(`bytes lost, duplicated or reordered at stream position ${consumed + i}`);
      }
    }
    if (r.isCompleted) readCompleted = true;
  };
  const startRead = (kind: number) => {
    readSettled = false;
    readAbort = random.chance(0.2) ? new AbortController() : undefined;
    const options = readAbort === undefined ? {} : { signal: readAbort.signal };
    read = kind === 0 ? reader.read(options) : reader.readAtLeast(random.int(0, 200), options);
    read.then(onRead, (error) => {
      readSettled = true;
      assert.equal(error, readAbort?.signal.reason, "only an abort may reject a read here");
    });
  };
  // A few microtask turns let every settled promise run its handlers.
  const settle = async () => {
    for (let i = 0; i < 4; i++) await null;
  };

  const operations = random.int(50, 300);
  for (let step = 0; step < operations; step++) {
    switch (random.int(0, 9)) {
      case 0: { // getMemory + fill + advance (maybe twice on one view)
        view = writer.getMemory(random.chance(0.5) ? 0 : random.int(1, blockSize * 3));
        viewUsed = 0;
        // Half the time the view is held across other operations (the reader's too).
        const n = random.chance(0.5) ? 0 : random.int(0, view.length);
        for (let i = 0; i < n; i++) view[i] = random.int(0, 255);
        writer.advance(n);
        for (let i = 0; i < n; i++) stream.push(view[i] as number);
        viewUsed = n;
        break;
      }
      case 1: { // a second advance on the same view
        if (view === undefined || viewUsed >= view.length) break;
        const n = random.int(0, view.length - viewUsed);
        for (let i = 0; i < n; i++) view[viewUsed + i] = random.int(0, 255);
        writer.advance(n);
        for (let i = 0; i < n; i++) stream.push(view[viewUsed + i] as number);
        viewUsed += n;
        break;
      }
      case 2:
      case 3: { // write / writeUtf8 / flush
        const kind = random.int(0, 2);
        let p: Promise<FlushResult>;
        if (kind === 0) {
          const data = random.bytes(random.int(0, blockSize * 4));
          p = writer.write(data);
          stream.push(...data);
        } else if (kind === 1) {
          const text = String.fromCodePoint(
            ...Array.from(
              { length: random.int(0, 20) },
              () => random.chance(0.7) ? random.int(0x20, 0x7e) : random.int(0x80, 0x1f600),
            ).filter((c) => c < 0xd800 || c > 0xdfff),
          );
          p = writer.writeUtf8(text);
          stream.push(...utf8.encode(text));
        } else {
          p = writer.flush();
        }
        view = undefined;
        flushed = stream.length;
        if (flush === undefined || flushDone) {
          flush = p;
          flushDone = false;
          p.then(() => (flushDone = true));
        }
        break;
      }
      case 4: // read / readAtLeast
        if ((read === undefined || readSettled) && result === undefined) startRead(random.int(0, 1));
        break;
      case 5: { // tryRead
        if ((read === undefined || readSettled) && result === undefined) {
          const r = reader.tryRead();
          if (r !== undefined) onRead(r);
        }
        break;
      }
      case 6: { // advanceTo with random consumed/examined
        if (result === undefined) break;
        const length = result.buffer.length;
        const c = random.int(0, length);
        const lowestExamined = Math.max(c, examined - resultStart);
        const e = random.chance(0.5) ? length : random.int(lowestExamined, Math.max(lowestExamined, length));
        if (result.isCanceled && random.chance(0.5)) {
          result = undefined; // a canceled result may be dropped without advanceTo
          break;
        }
        reader.advanceTo(c, e);
        consumed = resultStart + c;
        examined = Math.max(examined, resultStart + e);
        result = undefined;
        break;
      }
      case 7: // cancellations and aborts
        switch (random.int(0, 2)) {
          case 0:
            reader.cancelPendingRead();
            break;
          case 1:
            writer.cancelPendingFlush();
            break;
          default:
            readAbort?.abort(new Error("aborted by the test"));
        }
        break;
      case 8: { // the pool gives idle slabs back: never memory a held view or result points into
        const before = result === undefined ? undefined : result.buffer.toUint8Array();
        const rented = pool.stats().rentedBlocks;
        pool.trim();
        assert.equal(pool.stats().rentedBlocks, rented, "trim() returns no rented block");
        if (result !== undefined) {
          assert.deepEqual(result.buffer.toUint8Array(), before, "a held result keeps its bytes");
        }
        if (view !== undefined) assert.ok(view.byteLength > 0, "a held getMemory view stays attached");
        break;
      }
      default:
        await settle();
    }
    assert.equal(channel.unexaminedBytes, flushed - examined, "unexaminedBytes must match the model");
  }

  // Finish: complete the writer, drain, complete the reader.
  writer.complete();
  flushed = stream.length;
  await settle();
  if (result !== undefined) {
    reader.advanceTo(0, result.buffer.length >= examined - resultStart ? Math.max(0, examined - resultStart) : 0);
    result = undefined;
  }
  while (read !== undefined && !readSettled) await settle();
  for (let guard = 0; !readCompleted || consumed < stream.length; guard++) {
    assert.ok(guard < 10000, "draining must end");
    if (result === undefined) startRead(0);
    while (!readSettled) await settle();
    if (result === undefined) continue;
    const r: ReadResult = result;
    reader.advanceTo(r.buffer.length);
    consumed = resultStart + r.buffer.length;
    examined = consumed;
    result = undefined;
    if (r.isCompleted && consumed === stream.length) break;
  }
  assert.equal(consumed, stream.length, "every byte written must be read");
  reader.complete();
  assert.equal(pool.stats().rentedBlocks, 0, "every block must be back in the pool");
  pool.trim();
  assert.equal(pool.stats().reservedBytes, 0, "with nothing rented, trim() gives every byte back");
  if (flush !== undefined) await flush;
}

it(
  "random interleavings of writer and reader operations lose, duplicate and reorder nothing",
  { timeout: 300_000 },
  async () => {
    const base = testSeed();
    for (let i = 0; i < 250; i++) {
      await withSeed((base + i) >>> 0, scenario);
    }
  },
);
