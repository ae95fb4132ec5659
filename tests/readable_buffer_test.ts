// Tests of ReadableBuffer: the accessors and searches on hand-built buffers, a ±2 sweep around
// every segment boundary, every bad argument, and a seeded differential test against a plain
// Uint8Array on buffers built two ways: ReadableBuffer.from(chunks) and a real Channel over a
// small-block MemoryPool (under both search strategies).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, MemoryPool, ReadableBuffer } from "../mod.ts";
import { type KernelPath, pathFor, resetKernelLayerForTesting, setKernelPath } from "../src/_wasm/paths.ts";
import { adjacentViews, walkRuns } from "../src/readable_buffer.ts";
import { RunCursor, setRunJoiningForTesting } from "../src/_runs.ts";
import { concat, cut, type Random, referenceIndexOf, testSeed, withSeed } from "./_util.ts";

// ---- helpers ----

function u8(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Bytes 1, 2, 3, …, `length` (all distinct, so every needle has one place to be found). */
function distinctBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i + 1);
}

/** Random chunk sizes covering `length`: many 1-byte chunks, some up to `maxChunk`. */
function randomSizes(random: Random, length: number, maxChunk: number): number[] {
  const sizes: number[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(left, random.chance(0.3) ? 1 : random.int(1, maxChunk));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** Random chunks of `data`, with an empty chunk here and there (from() must skip them). */
function randomChunks(random: Random, data: Uint8Array, maxChunk: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const chunk of cut(data, randomSizes(random, data.length, maxChunk))) {
    if (random.chance(0.1)) chunks.push(new Uint8Array(0));
    chunks.push(chunk);
  }
  return chunks;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fails with both arrays as plain number lists (readable diffs, cheap on success). */
function assertBytes(actual: Uint8Array, expected: Uint8Array, what: () => string): void {
  if (!sameBytes(actual, expected)) assert.deepEqual([...actual], [...expected], what());
}

function expectEqual<T>(actual: T, expected: T, what: () => string): void {
  if (actual !== expected) assert.equal(actual, expected, what());
}

function hex(bytes: Uint8Array): string {
  return `[${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")}]`;
}

/** Stream offsets where one segment of `buffer` ends and the next starts (0 and length too). */
function boundariesOf(buffer: ReadableBuffer): number[] {
  const boundaries = [0];
  let at = 0;
  for (const view of buffer) boundaries.push(at += view.length);
  return boundaries;
}

/** Checks `first`, `isSingleSegment`, `isEmpty`, `length` and iteration agree with `expected`. */
function assertShape(buffer: ReadableBuffer, expected: Uint8Array, what: () => string): void {
  const views = [...buffer];
  expectEqual(buffer.length, expected.length, () => `${what()}: length`);
  expectEqual(buffer.isEmpty, expected.length === 0, () => `${what()}: isEmpty`);
  for (const view of views) expectEqual(view.length > 0, true, () => `${what()}: iteration yielded an empty view`);
  assertBytes(concat(views), expected, () => `${what()}: iterated bytes`);
  expectEqual(buffer.isSingleSegment, views.length <= 1, () => `${what()}: isSingleSegment with ${views.length} views`);
  assertBytes(buffer.first, views[0] ?? new Uint8Array(0), () => `${what()}: first is the first segment's bytes`);
}

// ---- pool-backed buffers from a real channel ----

interface PoolBuilding {
  /** "write": writer.write per chunk (segments are whole blocks); "memory": getMemory/advance
   * per chunk, with a size hint that often forces a new segment, so chunk boundaries become
   * segment boundaries (1-byte segments included). */
  layout: "write" | "memory";
  /** Bytes written, read and consumed first, so the buffer starts inside a block. */
  prefix?: number;
  /** Hold a getMemory view while the prefix is consumed (the write head stays in the channel). */
  holdAcrossConsume?: boolean;
  /** Advance (without flushing) this many junk bytes after the data: a read must not see them. */
  unflushed?: number;
  /** The byte the prefix and unflushed junk are made of. */
  junk?: number;
  /** For "memory": always hint a whole block, so every chunk gets a segment of its own. */
  exact?: boolean;
  random?: Random;
}

interface PoolBuffer {
  readonly buffer: ReadableBuffer;
  /** Consumes the buffer and completes both sides, returning every block to the pool. */
  release(): void;
}

async function poolBuffer(pool: MemoryPool, chunks: readonly Uint8Array[], options: PoolBuilding): Promise<PoolBuffer> {
  const channel = new Channel({ pool, pauseWriterThreshold: 0, minimumSegmentSize: pool.blockSize });
  const { reader, writer } = channel;
  const junk = options.junk ?? 0xee;
  const prefix = options.prefix ?? 0;
  if (prefix > 0) {
    await writer.write(new Uint8Array(prefix).fill(junk));
    if (options.holdAcrossConsume === true) writer.getMemory(1);
    const { buffer } = await reader.read();
    assert.equal(buffer.length, prefix);
    reader.advanceTo(prefix);
  }
  let total = 0;
  for (const chunk of chunks) {
    total += chunk.length;
    if (options.layout === "write") {
      await writer.write(chunk);
      continue;
    }
    if (chunk.length === 0) continue;
    assert.ok(chunk.length <= pool.blockSize, "memory layout chunks fit a block");
    const wholeBlock = options.exact === true || options.random === undefined || options.random.chance(0.5);
    const memory = writer.getMemory(wholeBlock ? pool.blockSize : chunk.length);
    memory.set(chunk);
    writer.advance(chunk.length);
  }
  await writer.flush();
  const unflushed = options.unflushed ?? 0;
  if (total === 0) {
    writer.complete(); // else a read would wait for bytes that never come
  } else if (unflushed > 0) {
    const memory = writer.getMemory(unflushed);
    memory.fill(junk, 0, unflushed);
    writer.advance(unflushed);
  }
  const result = reader.tryRead();
  assert.ok(result !== undefined, "the flushed bytes are readable");
  const buffer = result.buffer;
  assert.equal(buffer.length, total, "the read returns exactly the flushed bytes");
  return {
    buffer,
    release(): void {
      reader.advanceTo(buffer.length);
      writer.complete();
      reader.complete();
    },
  };
}

async function withStrategy(strategy: KernelPath | "auto", body: () => Promise<void>): Promise<void> {
  setKernelPath("memchr", strategy);
  try {
    await body();
    if (strategy !== "auto") assert.equal(pathFor("memchr", 1), strategy, `the ${strategy} search stayed in use`);
  } finally {
    resetKernelLayerForTesting();
  }
}

// ---- differential ----

const ALPHABETS: readonly (Uint8Array | undefined)[] = [
  u8(0x61, 0x62),
  u8(0x61, 0x62, 0x63),
  u8(0x00, 0x0a, 0x0d, 0x80, 0xff),
  undefined, // all 256 values
];

/** A needle of 1–6 bytes: random from the alphabet, a piece of the data, or a piece that
 * straddles a segment boundary. */
function pickNeedle(
  random: Random,
  data: Uint8Array,
  boundaries: readonly number[],
  alphabet: Uint8Array | undefined,
): Uint8Array {
  const length = random.int(1, 6);
  const kind = random.int(0, 2);
  if (kind === 0 || data.length < length) return random.bytes(length, alphabet);
  let start: number;
  if (kind === 1 || boundaries.length <= 2) {
    start = random.int(0, data.length - length);
  } else {
    const b = boundaries[random.int(1, boundaries.length - 2)] as number;
    start = Math.max(0, Math.min(data.length - length, b - random.int(1, Math.max(1, length - 1))));
  }
  const needle = data.slice(start, start + length);
  // Now and then, break the last byte so the needle's head matches but the whole does not.
  if (random.chance(0.2)) needle[length - 1] = ((needle[length - 1] as number) + 1) & 0xff;
  return needle;
}

/** Random queries on `buffer`, each checked against the same query on `data`. */
function differential(
  random: Random,
  buffer: ReadableBuffer,
  data: Uint8Array,
  alphabet: Uint8Array | undefined,
  queries: number,
  label: string,
): void {
  const length = data.length;
  const boundaries = boundariesOf(buffer);
  expectEqual(buffer.length, length, () => `${label}: length`);
  assertBytes(buffer.toUint8Array(), data, () => `${label}: toUint8Array`);
  for (let q = 0; q < queries; q++) {
    const op = random.int(0, 6);
    switch (op) {
      case 0: {
        if (length === 0) break;
        const index = random.int(-length, length - 1);
        const expected = data[index < 0 ? length + index : index];
        expectEqual(buffer.at(index), expected, () => `${label}: at(${index})`);
        break;
      }
      case 1: {
        const start = random.int(0, length);
        const end = random.int(start, length);
        const slice = buffer.slice(start, end);
        const part = data.subarray(start, end);
        assertBytes(slice.toUint8Array(), part, () => `${label}: slice(${start}, ${end})`);
        // A query on the slice answers relative to the slice.
        if (part.length > 0) {
          const needle = pickNeedle(random, part, boundariesOf(slice), alphabet);
          const from = random.int(0, part.length);
          expectEqual(
            slice.indexOf(needle, from),
            referenceIndexOf(part, needle, from),
            () => `${label}: slice(${start}, ${end}).indexOf(${hex(needle)}, ${from})`,
          );
          const index = random.int(-part.length, part.length - 1);
          expectEqual(
            slice.at(index),
            part[index < 0 ? part.length + index : index],
            () => `${label}: slice(${start}, ${end}).at(${index})`,
          );
        }
        break;
      }
      case 2: {
        const value = length > 0 && random.chance(0.7)
          ? data[random.int(0, length - 1)] as number
          : (alphabet === undefined ? random.int(0, 255) : alphabet[random.int(0, alphabet.length - 1)] as number);
        const from = random.chance(0.3) ? 0 : random.int(0, length);
        expectEqual(
          buffer.indexOf(value, from),
          referenceIndexOf(data, value, from),
          () => `${label}: indexOf(${value}, ${from})`,
        );
        break;
      }
      case 3:
      case 4: {
        const needle = pickNeedle(random, data, boundaries, alphabet);
        const from = random.chance(0.3) ? 0 : random.int(0, length);
        expectEqual(
          buffer.indexOf(needle, from),
          referenceIndexOf(data, needle, from),
          () => `${label}: indexOf(${hex(needle)}, ${from})`,
        );
        break;
      }
      case 5: {
        const needle = pickNeedle(random, data, boundaries, alphabet);
        const position = random.int(0, length);
        const expected = position + needle.length <= length &&
          sameBytes(data.subarray(position, position + needle.length), needle);
        expectEqual(
          buffer.startsWith(needle, position),
          expected,
          () => `${label}: startsWith(${hex(needle)}, ${position})`,
        );
        break;
      }
      case 6: {
        const start = random.int(0, length);
        const slice = buffer.slice(start);
        const offset = random.int(0, 3);
        const target = new Uint8Array(offset + slice.length + random.int(0, 3)).fill(0x5a);
        expectEqual(slice.copyTo(target, offset), length - start, () => `${label}: copyTo returns the length`);
        const expected = new Uint8Array(target.length).fill(0x5a);
        expected.set(data.subarray(start), offset);
        assertBytes(target, expected, () => `${label}: slice(${start}).copyTo(target, ${offset})`);
        break;
      }
    }
  }
}

function randomData(random: Random, maxLength: number): { data: Uint8Array; alphabet: Uint8Array | undefined } {
  const alphabet = ALPHABETS[random.int(0, ALPHABETS.length - 1)];
  const length = random.chance(0.15) ? random.int(0, 8) : random.int(0, maxLength);
  return { data: random.bytes(length, alphabet), alphabet };
}

// ---- tests ----

describe("ReadableBuffer.from()", () => {
  it("from() builds a buffer over the chunks in order, skipping empty ones", () => {
    const buffer = ReadableBuffer.from([u8(1, 2), new Uint8Array(0), u8(3), u8(), u8(4, 5, 6)]);
    assert.equal(buffer.length, 6);
    assert.deepEqual([...buffer].map((v) => [...v]), [[1, 2], [3], [4, 5, 6]]);
    assert.deepEqual([...buffer.toUint8Array()], [1, 2, 3, 4, 5, 6]);
  });

  it("from() of no chunks or only empty chunks is an empty buffer", () => {
    for (const chunks of [[], [u8()], [u8(), u8(), u8()]]) {
      const buffer = ReadableBuffer.from(chunks);
      assertShape(buffer, u8(), () => `from(${chunks.length} empty chunks)`);
      assert.equal(buffer.isSingleSegment, true);
      assert.deepEqual([...buffer], []);
      assert.equal(buffer.indexOf(0), -1);
      assert.equal(buffer.indexOf(u8(0)), -1);
      assert.equal(buffer.indexOf(u8()), 0);
      assert.equal(buffer.startsWith(u8()), true);
      assert.equal(buffer.startsWith(u8(0)), false);
      assert.deepEqual(buffer.toUint8Array(), new Uint8Array(0));
      assert.equal(buffer.copyTo(new Uint8Array(0)), 0);
      assert.equal(buffer.slice(0).length, 0);
      assert.equal(buffer.slice(0, 0).isEmpty, true);
    }
  });

  it("from() accepts any iterable of Uint8Array, including a generator", () => {
    function* chunks(): Generator<Uint8Array> {
      yield u8(9);
      yield u8(8, 7);
    }
    assert.deepEqual([...ReadableBuffer.from(chunks()).toUint8Array()], [9, 8, 7]);
    // A buffer is an iterable of its segment views, so from() re-wraps one without copying.
    const again = ReadableBuffer.from(ReadableBuffer.from(chunks()).slice(1));
    assert.deepEqual([...again].map((v) => [...v]), [[8, 7]]);
  });

  it("from() does not copy: a change to a chunk shows in the buffer, its views and its slices", () => {
    const backing = u8(0, 1, 2, 3, 4, 5, 6, 7);
    const buffer = ReadableBuffer.from([backing.subarray(1, 4), backing.subarray(4, 7)]);
    const slice = buffer.slice(2, 5);
    const [firstView] = buffer;
    assert.ok(firstView !== undefined);
    assert.equal(firstView.buffer, backing.buffer);
    backing[3] = 33;
    backing[4] = 44;
    assert.equal(buffer.at(2), 33);
    assert.equal(firstView[2], 33);
    assert.deepEqual([...slice.toUint8Array()], [33, 44, 5]);
    // toUint8Array is a copy that outlives later changes.
    const copy = buffer.toUint8Array();
    backing[1] = 99;
    assert.equal(copy[0], 1);
    assert.equal(buffer.at(0), 99);
  });

  it("from() throws a TypeError when a chunk is not a Uint8Array", () => {
    const bad: unknown[] = [
      [1, 2],
      "ab",
      7,
      null,
      undefined,
      new Uint16Array(2),
      new Uint8ClampedArray(2),
      new ArrayBuffer(2),
      {},
    ];
    for (const chunk of bad) {
      assert.throws(() => ReadableBuffer.from([u8(1), chunk as Uint8Array]), TypeError, `chunk ${String(chunk)}`);
    }
  });

  it("from() throws a TypeError when its argument is not iterable", () => {
    for (const chunks of [null, undefined, 42, {}]) {
      assert.throws(() => ReadableBuffer.from(chunks as unknown as Iterable<Uint8Array>), TypeError);
    }
  });
});

describe("ReadableBuffer accessors", () => {
  const buffer = ReadableBuffer.from([u8(10, 11, 12), u8(13), u8(14, 15)]);

  it("length and isEmpty count the bytes of every segment", () => {
    assert.equal(buffer.length, 6);
    assert.equal(buffer.isEmpty, false);
    assert.equal(buffer.slice(3, 3).isEmpty, true);
    assert.equal(buffer.slice(3, 3).length, 0);
  });

  it("first is the first segment's bytes and isSingleSegment is false across segments", () => {
    assert.deepEqual([...buffer.first], [10, 11, 12]);
    assert.equal(buffer.isSingleSegment, false);
  });

  it("a single-segment slice has all its bytes in first", () => {
    const slice = buffer.slice(1, 3);
    assert.equal(slice.isSingleSegment, true);
    assert.deepEqual([...slice.first], [11, 12]);
    const tail = buffer.slice(4);
    assert.equal(tail.isSingleSegment, true);
    assert.deepEqual([...tail.first], [14, 15]);
  });

  it("a slice starting inside a segment starts first there and iterates trimmed views", () => {
    const slice = buffer.slice(2, 5);
    assert.equal(slice.isSingleSegment, false);
    assert.deepEqual([...slice.first], [12]);
    assert.deepEqual([...slice].map((v) => [...v]), [[12], [13], [14]]);
  });

  it("iteration yields one view per segment and can be repeated", () => {
    const once = [...buffer].map((v) => [...v]);
    const twice = [...buffer].map((v) => [...v]);
    assert.deepEqual(once, [[10, 11, 12], [13], [14, 15]]);
    assert.deepEqual(twice, once);
  });

  it("at() reads every byte forwards, backwards and with negative indices", () => {
    for (let i = 0; i < 6; i++) assert.equal(buffer.at(i), 10 + i);
    for (let i = 5; i >= 0; i--) assert.equal(buffer.at(i), 10 + i);
    for (let i = -1; i >= -6; i--) assert.equal(buffer.at(i), 16 + i);
    assert.equal(buffer.at(-0), 10);
  });

  it("slice() of a slice is relative to the inner slice", () => {
    const inner = buffer.slice(1, 6).slice(1, 4).slice(1);
    assert.deepEqual([...inner.toUint8Array()], [13, 14]);
    assert.equal(inner.at(0), 13);
    assert.equal(inner.at(-1), 14);
    assert.equal(inner.indexOf(14), 1);
    assert.equal(inner.indexOf(12), -1);
    assert.equal(inner.indexOf(15), -1, "bytes after the slice are not found");
  });

  it("slice() with no end runs to the end", () => {
    assert.deepEqual([...buffer.slice(4).toUint8Array()], [14, 15]);
    assert.equal(buffer.slice(6).length, 0);
  });

  it("indexOf() finds a byte, honours fromIndex and returns -1 when absent", () => {
    const repeated = ReadableBuffer.from([u8(1, 2), u8(1), u8(2, 1)]);
    assert.equal(repeated.indexOf(1), 0);
    assert.equal(repeated.indexOf(1, 1), 2);
    assert.equal(repeated.indexOf(1, 3), 4);
    assert.equal(repeated.indexOf(1, 5), -1);
    assert.equal(repeated.indexOf(2, 2), 3);
    assert.equal(repeated.indexOf(3), -1);
  });

  it("indexOf() of an empty sequence is fromIndex, up to and including length", () => {
    for (let from = 0; from <= 6; from++) assert.equal(buffer.indexOf(u8(), from), from);
  });

  it("indexOf() finds a needle that straddles three segments", () => {
    const three = ReadableBuffer.from([u8(1, 2), u8(3), u8(4), u8(5, 6)]);
    assert.equal(three.indexOf(u8(2, 3, 4, 5)), 1);
    assert.equal(three.indexOf(u8(2, 3, 4, 5), 1), 1);
    assert.equal(three.indexOf(u8(2, 3, 4, 5), 2), -1);
    assert.equal(three.indexOf(u8(2, 3, 4, 6)), -1);
  });

  it("indexOf() skips false starts whose head matches and finds the later match", () => {
    const text = new TextEncoder();
    const haystack = ReadableBuffer.from([text.encode("aab"), text.encode("aa"), text.encode("a"), text.encode("abx")]);
    assert.equal(haystack.indexOf(text.encode("aaab")), 4);
    assert.equal(haystack.indexOf(text.encode("aab")), 0);
    assert.equal(haystack.indexOf(text.encode("aab"), 1), 5);
    assert.equal(haystack.indexOf(text.encode("abx")), 6);
  });

  it("indexOf() returns -1 when a needle would run past the end", () => {
    const short = ReadableBuffer.from([u8(7, 8), u8(9)]);
    assert.equal(short.indexOf(u8(9, 10)), -1);
    assert.equal(short.indexOf(u8(7, 8, 9, 10)), -1);
    assert.equal(short.indexOf(u8(7, 8, 9)), 0);
  });

  it("indexOf() never finds bytes outside a chunk's view", () => {
    const backing = u8(5, 5, 1, 2, 3, 5, 5);
    const buffer = ReadableBuffer.from([backing.subarray(2, 3), backing.subarray(3, 5)]);
    assert.equal(buffer.indexOf(5), -1);
    assert.equal(buffer.indexOf(u8(3, 5)), -1);
    assert.equal(buffer.indexOf(u8(5, 1)), -1);
  });

  it("startsWith() compares at a position across segments and is false past the end", () => {
    assert.equal(buffer.startsWith(u8(10, 11)), true);
    assert.equal(buffer.startsWith(u8(12, 13, 14), 2), true);
    assert.equal(buffer.startsWith(u8(12, 13, 15), 2), false);
    assert.equal(buffer.startsWith(u8(15), 5), true);
    assert.equal(buffer.startsWith(u8(15, 16), 5), false);
    assert.equal(buffer.startsWith(u8(), 6), true);
    assert.equal(buffer.startsWith(u8(10, 11, 12, 13, 14, 15, 16)), false);
  });

  it("toUint8Array() copies into a new array that owns its memory", () => {
    const copy = buffer.toUint8Array();
    assert.deepEqual([...copy], [10, 11, 12, 13, 14, 15]);
    assert.equal(copy.byteOffset, 0);
    assert.equal(copy.buffer.byteLength, 6);
  });

  it("copyTo() copies at an offset, returns the length and leaves the rest of the target alone", () => {
    const target = new Uint8Array(9).fill(0xaa);
    assert.equal(buffer.slice(1, 5).copyTo(target, 3), 4);
    assert.deepEqual([...target], [0xaa, 0xaa, 0xaa, 11, 12, 13, 14, 0xaa, 0xaa]);
    const exact = new Uint8Array(6);
    assert.equal(buffer.copyTo(exact), 6);
    assert.deepEqual([...exact], [10, 11, 12, 13, 14, 15]);
  });
});

describe("ReadableBuffer bad arguments", () => {
  const buffer = ReadableBuffer.from([u8(1, 2, 3), u8(4), u8(5, 6)]);
  const NON_INTEGERS = [0.5, 1.5, NaN, Infinity, -Infinity, "1", null, 2n, {}];

  it("slice() throws a RangeError for a start or end out of range or not an integer", () => {
    for (const start of [-1, 7, 100, ...NON_INTEGERS]) {
      assert.throws(() => buffer.slice(start as number), RangeError, `start ${String(start)}`);
    }
    for (const end of [-1, 7, ...NON_INTEGERS]) {
      assert.throws(() => buffer.slice(0, end as number), RangeError, `end ${String(end)}`);
    }
    assert.throws(() => buffer.slice(4, 3), RangeError, "end before start");
    assert.throws(() => buffer.slice(2).slice(0, 5), RangeError, "a slice's own length bounds it");
  });

  it("at() throws a RangeError for an index out of range or not an integer", () => {
    for (const index of [6, 7, -7, -100, ...NON_INTEGERS]) {
      assert.throws(() => buffer.at(index as number), RangeError, `index ${String(index)}`);
    }
    assert.throws(() => ReadableBuffer.from([]).at(0), RangeError, "an empty buffer has no byte 0");
    assert.throws(() => ReadableBuffer.from([]).at(-1), RangeError, "an empty buffer has no byte -1");
    assert.throws(() => buffer.slice(1, 3).at(2), RangeError, "a slice's own length bounds it");
  });

  it("indexOf() throws a RangeError for a byte value outside 0-255 or not an integer", () => {
    for (const value of [-1, 256, 1000, 0.5, NaN, Infinity]) {
      assert.throws(() => buffer.indexOf(value), RangeError, `value ${value}`);
    }
  });

  it("indexOf() throws a RangeError for a fromIndex out of range or not an integer", () => {
    for (const from of [-1, 7, ...NON_INTEGERS]) {
      assert.throws(() => buffer.indexOf(1, from as number), RangeError, `fromIndex ${String(from)}`);
      assert.throws(() => buffer.indexOf(u8(1), from as number), RangeError, `fromIndex ${String(from)}`);
      assert.throws(() => buffer.indexOf(u8(), from as number), RangeError, `fromIndex ${String(from)} (empty needle)`);
    }
  });

  it("indexOf() throws a TypeError for a value that is neither a number nor a Uint8Array", () => {
    for (const value of ["a", null, undefined, [1], {}, 1n, new Uint16Array([1]), new Uint8ClampedArray([1])]) {
      assert.throws(() => buffer.indexOf(value as unknown as number), TypeError, `value ${String(value)}`);
    }
  });

  it("startsWith() throws a RangeError for a position out of range or not an integer", () => {
    for (const position of [-1, 7, ...NON_INTEGERS]) {
      assert.throws(() => buffer.startsWith(u8(1), position as number), RangeError, `position ${String(position)}`);
    }
  });

  it("startsWith() throws a TypeError for bytes that are not a Uint8Array", () => {
    for (const bytes of ["\x01\x02", [1, 2], null, 1]) {
      assert.throws(() => buffer.startsWith(bytes as unknown as Uint8Array), TypeError, `bytes ${String(bytes)}`);
    }
  });

  it("copyTo() throws a RangeError when the target is too small after the offset", () => {
    assert.throws(() => buffer.copyTo(new Uint8Array(5)), RangeError);
    assert.throws(() => buffer.copyTo(new Uint8Array(6), 1), RangeError);
    assert.throws(() => buffer.copyTo(new Uint8Array(0)), RangeError);
  });

  it("copyTo() that throws leaves the target untouched", () => {
    const target = new Uint8Array(7).fill(0xaa);
    assert.throws(() => buffer.copyTo(target, 2), RangeError);
    assert.deepEqual([...target], [0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it("copyTo() throws a RangeError for an offset out of range or not an integer", () => {
    for (const offset of [-1, 5, ...NON_INTEGERS]) {
      assert.throws(() => buffer.copyTo(new Uint8Array(10), offset as number), RangeError, `offset ${String(offset)}`);
    }
  });

  it("copyTo() throws a TypeError for a target that is not a Uint8Array", () => {
    for (const target of [[0, 0, 0, 0, 0, 0], new ArrayBuffer(6), new Uint16Array(6), null, "xxxxxx"]) {
      assert.throws(() => buffer.copyTo(target as unknown as Uint8Array), TypeError, `target ${String(target)}`);
    }
  });

  it("a throwing call leaves the buffer usable and unchanged", () => {
    assert.throws(() => buffer.slice(9), RangeError);
    assert.throws(() => buffer.at(9), RangeError);
    assert.throws(() => buffer.indexOf(999), RangeError);
    assert.deepEqual([...buffer.toUint8Array()], [1, 2, 3, 4, 5, 6]);
    assert.equal(buffer.indexOf(u8(3, 4, 5)), 2);
  });
});

// ---- boundary sweep ----

/** Checks every query at every position within ±2 of a segment boundary. `data` is distinct
 * bytes (1…n), so a needle taken from the data has exactly one place. */
function sweepBoundaries(buffer: ReadableBuffer, data: Uint8Array, sizes: readonly number[], label: string): void {
  const length = data.length;
  assert.deepEqual([...buffer].map((v) => v.length), sizes, `${label}: the segments are the chunks`);
  const boundaries = [0];
  for (const size of sizes) boundaries.push((boundaries.at(-1) as number) + size);
  const segmentOf = (position: number): number => boundaries.findLastIndex((b) => b <= position);
  const near = new Set<number>();
  for (const b of boundaries) for (let d = -2; d <= 2; d++) if (b + d >= 0 && b + d <= length) near.add(b + d);
  const positions = [...near].sort((a, b) => a - b);
  const absent = 0xff; // not in the data

  assertShape(buffer, data, () => label);
  for (const p of positions) {
    const what = (): string => `${label} at ${p}`;
    if (p < length) {
      expectEqual(buffer.at(p), data[p], () => `${what()}: at`);
      expectEqual(buffer.at(p - length), data[p], () => `${what()}: at(negative)`);
      expectEqual(buffer.indexOf(data[p] as number), p, () => `${what()}: indexOf(byte)`);
      expectEqual(buffer.indexOf(data[p] as number, p), p, () => `${what()}: indexOf(byte, p)`);
      expectEqual(buffer.indexOf(data[p] as number, p + 1), -1, () => `${what()}: indexOf(byte, p + 1)`);
    }
    expectEqual(buffer.indexOf(absent, p), -1, () => `${what()}: indexOf(absent byte)`);
    expectEqual(buffer.indexOf(u8(), p), p, () => `${what()}: indexOf(empty)`);
    for (let k = 1; k <= 4 && p + k <= length; k++) {
      const needle = data.slice(p, p + k);
      const nowhere = needle.slice();
      nowhere[k - 1] = absent;
      const at = (): string => `${what()} needle ${hex(needle)}`;
      expectEqual(buffer.indexOf(needle), p, () => `${at()}: indexOf`);
      expectEqual(buffer.indexOf(needle, p), p, () => `${at()}: indexOf from p`);
      expectEqual(buffer.indexOf(needle, p + 1), -1, () => `${at()}: indexOf from p + 1`);
      expectEqual(buffer.indexOf(nowhere), -1, () => `${at()}: indexOf with a broken last byte`);
      expectEqual(buffer.startsWith(needle, p), true, () => `${at()}: startsWith`);
      expectEqual(buffer.startsWith(nowhere, p), false, () => `${at()}: startsWith with a broken last byte`);
      if (p + 1 <= length) expectEqual(buffer.startsWith(needle, p + 1), false, () => `${at()}: startsWith at p + 1`);
    }
    for (const q of positions) {
      if (q < p) continue;
      const slice = buffer.slice(p, q);
      const part = data.subarray(p, q);
      const sliceLabel = (): string => `${label} slice(${p}, ${q})`;
      assertShape(slice, part, sliceLabel);
      expectEqual(
        slice.isSingleSegment,
        q - p <= 1 || segmentOf(p) === segmentOf(q - 1),
        () => `${sliceLabel()}: isSingleSegment`,
      );
      if (q > p) {
        expectEqual(slice.at(0), data[p], () => `${sliceLabel()}: at(0)`);
        expectEqual(slice.at(-1), data[q - 1], () => `${sliceLabel()}: at(-1)`);
        expectEqual(slice.indexOf(data[q - 1] as number), q - 1 - p, () => `${sliceLabel()}: indexOf(last byte)`);
        expectEqual(slice.indexOf(part), 0, () => `${sliceLabel()}: indexOf(itself)`);
      }
      if (q < length) {
        expectEqual(slice.indexOf(data[q] as number), -1, () => `${sliceLabel()}: the byte after the slice`);
      }
      if (p > 0) {
        expectEqual(slice.indexOf(data[p - 1] as number), -1, () => `${sliceLabel()}: the byte before the slice`);
      }
      const target = new Uint8Array(part.length + 2);
      expectEqual(slice.copyTo(target, 1), part.length, () => `${sliceLabel()}: copyTo`);
      assertBytes(target.subarray(1, 1 + part.length), part, () => `${sliceLabel()}: copyTo bytes`);
      expectEqual(target[0], 0, () => `${sliceLabel()}: copyTo wrote before its offset`);
      expectEqual(target[part.length + 1], 0, () => `${sliceLabel()}: copyTo wrote past its length`);
    }
  }
}

const SWEEP_LAYOUTS: readonly (readonly number[])[] = [
  [1],
  [5],
  [1, 1, 1, 1, 1],
  [3, 1, 4, 1, 5, 9, 2, 6],
  [16, 1, 16, 2, 1, 1, 3, 15],
  [2, 7, 1, 1, 8, 2, 8, 1, 8, 2, 8],
];

describe("ReadableBuffer segment boundaries", () => {
  it("every query is right within ±2 of every segment boundary of a from() buffer", () => {
    for (const sizes of SWEEP_LAYOUTS) {
      const data = distinctBytes(sizes.reduce((a, b) => a + b, 0));
      sweepBoundaries(ReadableBuffer.from(cut(data, sizes)), data, sizes, `from(${sizes.join(",")})`);
    }
  });

  for (const strategy of ["wasm", "native"] as const) {
    it(`every query is right within ±2 of every segment boundary of a pool-backed buffer (${strategy} search)`, async () => {
      const pool = new MemoryPool({ blockSize: 16, debug: true });
      await withStrategy(strategy, async () => {
        for (const sizes of SWEEP_LAYOUTS) {
          const data = distinctBytes(sizes.reduce((a, b) => a + b, 0));
          const held = await poolBuffer(pool, cut(data, sizes), {
            layout: "memory",
            exact: true,
            unflushed: 3,
            junk: 1,
          });
          sweepBoundaries(held.buffer, data, sizes, `pool(${sizes.join(",")})`);
          held.release();
        }
      });
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  }
});

// ---- pool-backed specifics ----

describe("ReadableBuffer over pool memory", () => {
  it("views of a pool-backed buffer are views of WebAssembly memory, not copies", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    const held = await poolBuffer(pool, [distinctBytes(40)], { layout: "write" });
    const views = [...held.buffer];
    assert.deepEqual(views.map((v) => v.length), [16, 16, 8]);
    for (const view of views) assert.ok(view.buffer.byteLength >= 65536, "a view of a whole WebAssembly memory");
    held.release();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("a read never sees bytes advanced but not flushed, in its segment or the next", async () => {
    for (const strategy of ["wasm", "native"] as const) {
      await withStrategy(strategy, async () => {
        const pool = new MemoryPool({ blockSize: 16 });
        for (const unflushed of [1, 5, 16, 17, 40]) {
          const data = new Uint8Array(20).fill(3);
          const held = await poolBuffer(pool, [data], { layout: "write", unflushed, junk: 9 });
          assert.equal(held.buffer.length, 20);
          assert.equal(held.buffer.indexOf(9), -1, `${strategy}: unflushed ${unflushed}`);
          assert.equal(held.buffer.indexOf(u8(3, 9)), -1, `${strategy}: unflushed ${unflushed}`);
          assert.equal(held.buffer.startsWith(u8(3, 9), 19), false);
          assert.deepEqual([...held.buffer].map((v) => v.length), [16, 4]);
          held.release();
        }
        assert.equal(pool.stats().rentedBlocks, 0);
      });
    }
  });

  it("indexOf() on an oversize block searches only the committed bytes, not the rest of the block", async () => {
    for (const strategy of ["wasm", "native"] as const) {
      await withStrategy(strategy, async () => {
        const pool = new MemoryPool({ blockSize: 16 });
        // A near-full block (unwanted tail under 4 KiB) and a mostly empty one (tail over 4 KiB).
        for (const committed of [100, 65536 - 100, 65536 - 4096, 65536 - 4097]) {
          const channel = new Channel({ pool, pauseWriterThreshold: 0 });
          const memory = channel.writer.getMemory(committed);
          assert.ok(memory.length > committed, "an oversize block with room to spare");
          memory.fill(7);
          memory.fill(0, 0, committed);
          memory[committed - 2] = 5;
          channel.writer.advance(committed);
          await channel.writer.flush();
          const { buffer } = await channel.reader.read();
          assert.equal(buffer.length, committed);
          assert.equal(buffer.isSingleSegment, true);
          const what = `${strategy}, ${committed} committed`;
          assert.equal(buffer.indexOf(7), -1, what);
          assert.equal(buffer.indexOf(5), committed - 2, what);
          assert.equal(buffer.indexOf(5, committed - 1), -1, what);
          assert.equal(buffer.indexOf(u8(0, 7)), -1, what);
          assert.equal(buffer.slice(committed - 50).indexOf(7), -1, what);
          channel.reader.advanceTo(buffer.length);
          channel.writer.complete();
          channel.reader.complete();
        }
        assert.equal(pool.stats().rentedBlocks, 0);
      });
    }
  });

  it("first is the first segment's bytes after the writer held memory across a consuming read", async () => {
    // The write head is kept while a getMemory view is out; once it is fully consumed and the
    // writer moves on to a new block, the next read must not start at the empty old head.
    const pool = new MemoryPool({ blockSize: 16 });
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const { reader, writer } = channel;
    await writer.write(distinctBytes(10));
    writer.getMemory(1); // a view into the write head stays out
    reader.advanceTo((await reader.read()).buffer.length);
    const memory = writer.getMemory(16); // too big for the head: a new block
    memory.set([42, 43, 44, 45, 46]);
    writer.advance(5);
    await writer.flush();
    const { buffer } = await reader.read();
    assert.equal(buffer.length, 5);
    assert.deepEqual([...buffer].map((v) => [...v]), [[42, 43, 44, 45, 46]]);
    try {
      assert.deepEqual([...buffer.first], [42, 43, 44, 45, 46], "first holds the bytes");
      assert.equal(buffer.isSingleSegment, true, "all five bytes lie in one segment");
    } finally {
      reader.advanceTo(buffer.length);
      writer.complete();
      reader.complete();
    }
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

// ---- differential ----

describe("adjacentViews (internal: one write or kernel call for segments next to each other)", () => {
  it("joins segments adjacent in memory, keeps the others apart, and respects slices", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 100; round++) {
        const pool = new MemoryPool({ blockSize: 16, blocksPerSlab: 64 });
        const { reader, writer } = new Channel({ pool, pauseWriterThreshold: 0 });
        const held = [];
        const data = random.bytes(random.int(0, 300));
        for (let at = 0; at < data.length; at += 16) {
          await writer.write(data.subarray(at, at + 16));
          if (random.chance(0.3)) held.push(pool.rent()); // the next block is not adjacent
        }
        const result = reader.tryRead();
        const buffer = result?.buffer ?? ReadableBuffer.from([]);
        const start = random.int(0, buffer.length);
        const slice = buffer.slice(start, random.int(start, buffer.length));
        const views = adjacentViews(slice, [new Uint8Array(1), new Uint8Array(2)]);
        assert.deepEqual(concat(views), slice.toUint8Array(), "the same bytes in order");
        // Each view is one run: no two consecutive views are adjacent in the same memory.
        for (let i = 1; i < views.length; i++) {
          const [a, b] = [views[i - 1] as Uint8Array, views[i] as Uint8Array];
          assert.ok(a.buffer !== b.buffer || a.byteOffset + a.length !== b.byteOffset, "adjacent runs are joined");
        }
        assert.ok(views.every((v) => v.length > 0));
        const perSegment = adjacentViews(slice, [], false);
        assert.deepEqual(perSegment.map((v) => v.length), [...slice].map((v) => v.length));
        if (result !== undefined) reader.advanceTo(buffer.length);
        for (const block of held) pool.release(block);
        writer.complete();
        reader.complete();
        assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });
});

describe("walkRuns (internal: the one walk over a buffer's segments as runs)", () => {
  /** Every run of `buffer[from, to)`: its bytes (a copy), offset, and whether it is one whole segment view. */
  function runsOf(buffer: ReadableBuffer, from: number, to: number, join = true) {
    const runs: {
      bytes: Uint8Array;
      offset: number;
      view: Uint8Array;
      start: number;
      end: number;
      memory: ArrayBufferLike;
    }[] = [];
    const cursor = walkRuns(buffer, new RunCursor(), from, to, join);
    while (cursor.next()) {
      const view = cursor.view();
      assert.ok(
        cursor.from >= 0 && cursor.from < cursor.to && cursor.to <= cursor.bytes.length,
        "a run is in its view",
      );
      runs.push({
        bytes: view.slice(),
        offset: cursor.offset,
        view,
        start: cursor.bytes.byteOffset + cursor.from,
        end: cursor.bytes.byteOffset + cursor.to,
        memory: cursor.bytes.buffer,
      });
    }
    assert.equal(cursor.next(), false, "a finished walk stays finished");
    return runs;
  }

  it("covers exactly the range, joins segments adjacent in memory and keeps the others apart", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 150; round++) {
        const pool = new MemoryPool({ blockSize: 16, blocksPerSlab: 64 });
        const { reader, writer } = new Channel({ pool, pauseWriterThreshold: 0 });
        const held = [];
        const data = random.bytes(random.int(0, 300));
        for (let at = 0; at < data.length;) {
          const n = random.int(1, 40);
          await writer.write(data.subarray(at, at + n));
          at += n;
          if (random.chance(0.3)) held.push(pool.rent()); // the next block is not adjacent
        }
        const buffer = reader.tryRead()?.buffer ?? ReadableBuffer.from([]);
        const from = random.int(0, buffer.length);
        const to = random.int(from, buffer.length);
        const runs = runsOf(buffer, from, to);
        assert.deepEqual(concat(runs.map((r) => r.bytes)), data.subarray(from, to), "the range's bytes in order");
        let offset = 0;
        for (const [i, run] of runs.entries()) {
          assert.equal(run.offset, offset, "offsets count from the start of the walk");
          offset += run.bytes.length;
          const prev = runs[i - 1];
          if (prev !== undefined) {
            assert.ok(prev.memory !== run.memory || prev.end !== run.start, "adjacent runs are joined");
          }
        }
        // Without joining: one run per segment, as the buffer's iterator gives them.
        const perSegment = runsOf(buffer, from, to, false);
        assert.deepEqual(perSegment.map((r) => r.bytes), [...buffer.slice(from, to)].map((v) => v.slice()));
        // The same with the test switch (what the codec tests use).
        setRunJoiningForTesting(false);
        try {
          assert.equal(runsOf(buffer, from, to).length, perSegment.length);
        } finally {
          setRunJoiningForTesting(true);
        }
        if (buffer.length > 0) reader.advanceTo(buffer.length);
        for (const block of held) pool.release(block);
        writer.complete();
        reader.complete();
      }
    });
  });

  it("joins chunks of one array that follow each other, and hands out a whole segment's own view", () => {
    const bytes = new Uint8Array(100).map((_, i) => i);
    const joined = runsOf(
      ReadableBuffer.from([bytes.subarray(0, 10), bytes.subarray(10, 60), bytes.subarray(60)]),
      0,
      100,
    );
    assert.equal(joined.length, 1);
    assert.deepEqual(joined[0]?.bytes, bytes);
    const apart = [bytes.subarray(0, 10), bytes.subarray(20, 30)];
    const runs = runsOf(ReadableBuffer.from(apart), 0, 20);
    assert.equal(runs.length, 2);
    assert.equal(runs[0]?.view, apart[0], "a run that is one whole segment is that segment's view");
    assert.equal(runs[1]?.view, apart[1]);
    assert.deepEqual(runsOf(ReadableBuffer.from(apart), 5, 5), [], "an empty range has no runs");
    assert.deepEqual(runsOf(ReadableBuffer.from(apart), 3, 15).map((r) => [...r.bytes]), [[3, 4, 5, 6, 7, 8, 9], [
      20,
      21,
      22,
      23,
      24,
    ]]);
  });
});

describe("ReadableBuffer differential against a Uint8Array", () => {
  it("random queries on from() buffers of random chunks agree with a plain array", async () => {
    await withSeed(testSeed(), (random) => {
      for (let c = 0; c < 4000; c++) {
        const { data, alphabet } = randomData(random, 120);
        const chunks = randomChunks(random, data, random.chance(0.5) ? 4 : 24);
        const buffer = ReadableBuffer.from(chunks);
        const label = `case ${c} from(${chunks.map((x) => x.length).join(",")})`;
        assertShape(buffer, data, () => label);
        differential(random, buffer, data, alphabet, 30, label);
      }
    });
  });

  for (const strategy of ["wasm", "native"] as const) {
    it(`random queries on pool-backed buffers agree with a plain array (${strategy} search)`, async () => {
      const pools = [16, 64, 256].map((blockSize) => new MemoryPool({ blockSize, debug: true }));
      await withStrategy(strategy, () =>
        withSeed(testSeed(), async (random) => {
          for (let c = 0; c < 2000; c++) {
            const pool = pools[random.int(0, pools.length - 1)] as MemoryPool;
            const { data, alphabet } = randomData(random, pool.blockSize === 16 ? 150 : 600);
            const layout = random.chance(0.5) ? "write" : "memory";
            const maxChunk = layout === "memory" ? pool.blockSize : random.chance(0.5) ? 8 : 3 * pool.blockSize;
            const chunks = cut(data, randomSizes(random, data.length, maxChunk));
            const options: PoolBuilding = {
              layout,
              prefix: random.chance(0.5) ? random.int(1, 2 * pool.blockSize) : 0,
              holdAcrossConsume: random.chance(0.3),
              unflushed: random.chance(0.5) ? random.int(1, pool.blockSize + 2) : 0,
              // Junk from the alphabet, so a search that overruns its bounds finds it.
              junk: alphabet === undefined
                ? random.int(0, 255)
                : alphabet[random.int(0, alphabet.length - 1)] as number,
              random,
            };
            const held = await poolBuffer(pool, chunks, options);
            const label = `case ${c} blockSize ${pool.blockSize} ${layout} prefix ${options.prefix} ` +
              `hold ${options.holdAcrossConsume} unflushed ${options.unflushed} chunks ${
                chunks.map((x) => x.length).join(",")
              }`;
            try {
              differential(random, held.buffer, data, alphabet, 30, label);
            } finally {
              held.release();
            }
          }
        }));
      for (const pool of pools) assert.equal(pool.stats().rentedBlocks, 0, "every block went back to the pool");
    });
  }

  it("first, isSingleSegment and iteration agree on random pool-backed buffers", async () => {
    const pool = new MemoryPool({ blockSize: 16, debug: true });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 1000; c++) {
        const data = random.bytes(random.int(0, 80));
        const chunks = cut(data, randomSizes(random, data.length, 16));
        const options: PoolBuilding = {
          layout: random.chance(0.5) ? "write" : "memory",
          prefix: random.chance(0.7) ? random.int(1, 40) : 0,
          holdAcrossConsume: random.chance(0.5),
          unflushed: random.chance(0.5) ? random.int(1, 20) : 0,
          random,
        };
        const held = await poolBuffer(pool, chunks, options);
        const label = `case ${c} ${options.layout} prefix ${options.prefix} hold ${options.holdAcrossConsume} ` +
          `unflushed ${options.unflushed} chunks ${chunks.map((x) => x.length).join(",")}`;
        try {
          assertShape(held.buffer, data, () => label);
          for (let q = 0; q < 5; q++) {
            const start = random.int(0, data.length);
            const end = random.int(start, data.length);
            assertShape(
              held.buffer.slice(start, end),
              data.subarray(start, end),
              () => `${label} slice(${start}, ${end})`,
            );
          }
        } finally {
          held.release();
        }
      }
    });
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});
