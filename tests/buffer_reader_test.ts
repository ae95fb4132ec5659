// Tests of BufferReader: moving (consumed/remaining/end/unread/peek/tryRead/advance/rewind),
// delimited reads (byte and multi-byte delimiters straddling segments, the miss cache), exact
// reads, isNext/advancePast, and every endian read checked against DataView on random bytes at
// random offsets across segment boundaries, on from() buffers and on pool-backed buffers.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferReader, Channel, MemoryPool, ReadableBuffer } from "../mod.ts";
import { pathFor, resetKernelLayerForTesting, setKernelPath } from "../src/_wasm/paths.ts";
import { concat, cut, type Random, referenceIndexOf, testSeed, withSeed } from "./_util.ts";

// ---- helpers ----

function u8(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

const utf8 = new TextEncoder();

function ascii(text: string): Uint8Array {
  return utf8.encode(text);
}

function text(buffer: ReadableBuffer | undefined): string | undefined {
  return buffer === undefined ? undefined : new TextDecoder().decode(buffer.toUint8Array());
}

/** A buffer over `data` with a segment boundary after each of the given sizes. */
function split(data: Uint8Array, ...sizes: number[]): ReadableBuffer {
  const rest = data.length - sizes.reduce((a, b) => a + b, 0);
  return ReadableBuffer.from(cut(data, rest > 0 ? [...sizes, rest] : sizes));
}

/** One segment per byte. */
function bytewise(data: Uint8Array): ReadableBuffer {
  return ReadableBuffer.from(cut(data, Array.from({ length: data.length }, () => 1)));
}

/** Random chunk sizes covering `length`: many 1-byte chunks, some up to `maxChunk`. */
function randomSizes(random: Random, length: number, maxChunk: number): number[] {
  const sizes: number[] = [];
  let left = length;
  while (left > 0) {
    const size = Math.min(left, random.chance(0.35) ? 1 : random.int(1, maxChunk));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function expectEqual<T>(actual: T, expected: T, what: () => string): void {
  if (actual !== expected) assert.equal(actual, expected, what());
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: () => string): void {
  if (!sameBytes(actual, expected)) assert.deepEqual([...actual], [...expected], what());
}

function hex(bytes: Uint8Array): string {
  return `[${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")}]`;
}

function assertAt(reader: BufferReader, consumed: number, what = ""): void {
  assert.equal(reader.consumed, consumed, `consumed ${what}`);
  assert.equal(reader.remaining, reader.buffer.length - consumed, `remaining ${what}`);
  assert.equal(reader.end, consumed === reader.buffer.length, `end ${what}`);
}

/** A pool-backed buffer from a real channel whose segment boundaries follow `sizes`
 * (each size at most the pool's block size), starting `prefix` bytes into a block. */
async function poolBuffer(
  pool: MemoryPool,
  data: Uint8Array,
  sizes: readonly number[],
  prefix: number,
): Promise<{ buffer: ReadableBuffer; release(): void }> {
  const channel = new Channel({ pool, pauseWriterThreshold: 0, minimumSegmentSize: pool.blockSize });
  const { reader, writer } = channel;
  if (prefix > 0) {
    await writer.write(new Uint8Array(prefix).fill(0xee));
    reader.advanceTo((await reader.read()).buffer.length);
  }
  for (const chunk of cut(data, sizes)) {
    const memory = writer.getMemory(pool.blockSize); // a whole block: a segment per chunk
    memory.set(chunk);
    writer.advance(chunk.length);
  }
  await writer.flush();
  if (data.length === 0) writer.complete();
  const result = reader.tryRead();
  assert.ok(result !== undefined);
  assert.equal(result.buffer.length, data.length);
  return {
    buffer: result.buffer,
    release(): void {
      reader.advanceTo(result.buffer.length);
      writer.complete();
      reader.complete();
    },
  };
}

// ---- the endian reads, each with its DataView reference ----

interface NumberRead {
  readonly name: string;
  readonly size: number;
  read(reader: BufferReader): number | bigint | undefined;
  expected(view: DataView, offset: number): number | bigint;
}

const NUMBER_READS: readonly NumberRead[] = [
  { name: "tryReadUint16BE", size: 2, read: (r) => r.tryReadUint16BE(), expected: (v, o) => v.getUint16(o, false) },
  { name: "tryReadUint16LE", size: 2, read: (r) => r.tryReadUint16LE(), expected: (v, o) => v.getUint16(o, true) },
  { name: "tryReadInt16BE", size: 2, read: (r) => r.tryReadInt16BE(), expected: (v, o) => v.getInt16(o, false) },
  { name: "tryReadInt16LE", size: 2, read: (r) => r.tryReadInt16LE(), expected: (v, o) => v.getInt16(o, true) },
  { name: "tryReadUint32BE", size: 4, read: (r) => r.tryReadUint32BE(), expected: (v, o) => v.getUint32(o, false) },
  { name: "tryReadUint32LE", size: 4, read: (r) => r.tryReadUint32LE(), expected: (v, o) => v.getUint32(o, true) },
  { name: "tryReadInt32BE", size: 4, read: (r) => r.tryReadInt32BE(), expected: (v, o) => v.getInt32(o, false) },
  { name: "tryReadInt32LE", size: 4, read: (r) => r.tryReadInt32LE(), expected: (v, o) => v.getInt32(o, true) },
  {
    name: "tryReadBigUint64BE",
    size: 8,
    read: (r) => r.tryReadBigUint64BE(),
    expected: (v, o) => v.getBigUint64(o, false),
  },
  {
    name: "tryReadBigUint64LE",
    size: 8,
    read: (r) => r.tryReadBigUint64LE(),
    expected: (v, o) => v.getBigUint64(o, true),
  },
  {
    name: "tryReadBigInt64BE",
    size: 8,
    read: (r) => r.tryReadBigInt64BE(),
    expected: (v, o) => v.getBigInt64(o, false),
  },
  {
    name: "tryReadBigInt64LE",
    size: 8,
    read: (r) => r.tryReadBigInt64LE(),
    expected: (v, o) => v.getBigInt64(o, true),
  },
];

function dataView(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** Every endian read from `offset`: the DataView value and `offset + size`, or `undefined`
 * and no move when fewer than `size` bytes remain. */
function checkNumberReads(buffer: ReadableBuffer, data: Uint8Array, offset: number, label: () => string): void {
  const view = dataView(data);
  for (const op of NUMBER_READS) {
    const reader = new BufferReader(buffer);
    reader.advance(offset);
    const value = op.read(reader);
    if (offset + op.size <= data.length) {
      const expected = op.expected(view, offset);
      expectEqual(value, expected, () => `${label()}: ${op.name} at ${offset}`);
      expectEqual(reader.consumed, offset + op.size, () => `${label()}: ${op.name} at ${offset} moves by ${op.size}`);
    } else {
      expectEqual(value, undefined, () => `${label()}: ${op.name} at ${offset} with ${data.length - offset} left`);
      expectEqual(reader.consumed, offset, () => `${label()}: ${op.name} at ${offset} must not move`);
    }
  }
}

// ---- tests ----

describe("BufferReader position", () => {
  const data = u8(10, 11, 12, 13, 14, 15, 16);
  const buffer = split(data, 2, 1, 1); // [10 11] [12] [13] [14 15 16]

  it("a new reader is at the start of its buffer with every byte remaining", () => {
    const reader = new BufferReader(buffer);
    assert.equal(reader.buffer, buffer);
    assertAt(reader, 0);
    assert.deepEqual([...reader.unread.toUint8Array()], [...data]);
  });

  it("a reader over an empty buffer is at the end and every try* returns undefined", () => {
    for (const empty of [ReadableBuffer.from([]), buffer.slice(3, 3)]) {
      const reader = new BufferReader(empty);
      assertAt(reader, 0);
      assert.equal(reader.end, true);
      assert.equal(reader.peek(), undefined);
      assert.equal(reader.tryRead(), undefined);
      assert.equal(reader.tryReadTo(0), undefined);
      assert.equal(reader.tryReadTo(u8(0, 1)), undefined);
      assert.equal(reader.tryReadExact(1), undefined);
      assert.equal(reader.tryReadExact(0)?.length, 0);
      assert.equal(reader.isNext(0), false);
      assert.equal(reader.isNext(u8()), true);
      assert.equal(reader.advancePast(0), 0);
      for (const op of NUMBER_READS) assert.equal(op.read(reader), undefined, op.name);
      reader.advance(0);
      reader.rewind(0);
      assert.equal(reader.unread.length, 0);
      assertAt(reader, 0);
    }
  });

  it("tryRead() reads every byte across segments, then returns undefined without moving", () => {
    const reader = new BufferReader(buffer);
    const read: number[] = [];
    for (let byte; (byte = reader.tryRead()) !== undefined;) {
      read.push(byte);
      assertAt(reader, read.length);
    }
    assert.deepEqual(read, [...data]);
    assert.equal(reader.tryRead(), undefined);
    assertAt(reader, data.length);
  });

  it("peek() looks ahead without moving and is undefined at and past the end", () => {
    const reader = new BufferReader(buffer);
    reader.advance(1);
    assert.equal(reader.peek(), 11);
    assert.equal(reader.peek(0), 11);
    assert.equal(reader.peek(1), 12, "across a segment boundary");
    assert.equal(reader.peek(5), 16);
    assert.equal(reader.peek(6), undefined);
    assert.equal(reader.peek(100), undefined);
    assertAt(reader, 1);
    reader.advance(reader.remaining);
    assert.equal(reader.peek(), undefined);
  });

  it("advance() and rewind() move across segment boundaries and keep consumed + remaining equal to length", () => {
    const reader = new BufferReader(buffer);
    for (let n = 0; n <= data.length; n++) {
      reader.advance(n);
      assertAt(reader, n, `after advance(${n})`);
      if (n < data.length) assert.equal(reader.peek(), data[n]);
      assert.deepEqual([...reader.unread.toUint8Array()], [...data.subarray(n)], `unread after advance(${n})`);
      reader.rewind(n);
      assertAt(reader, 0, `after rewind(${n})`);
    }
    reader.advance(4);
    reader.rewind(1);
    assert.equal(reader.tryRead(), 13);
    reader.advance(0);
    reader.rewind(0);
    assertAt(reader, 4);
  });

  it("unread is a slice of the rest that shares the buffer's memory", () => {
    const backing = u8(1, 2, 3, 4, 5);
    const reader = new BufferReader(split(backing, 2));
    reader.advance(1);
    const unread = reader.unread;
    backing[3] = 40;
    assert.deepEqual([...unread.toUint8Array()], [2, 3, 40, 5]);
    reader.advance(4);
    assert.equal(reader.unread.isEmpty, true);
  });

  it("advance() throws a RangeError past the end or for a non-integer count, without moving", () => {
    const reader = new BufferReader(buffer);
    reader.advance(3);
    for (const count of [5, 100, -1, 0.5, NaN, Infinity, "1", null]) {
      assert.throws(() => reader.advance(count as number), RangeError, `count ${String(count)}`);
      assertAt(reader, 3);
    }
    reader.advance(4);
    assert.throws(() => reader.advance(1), RangeError, "nothing remains");
    assertAt(reader, 7);
  });

  it("rewind() throws a RangeError before the start or for a non-integer count, without moving", () => {
    const reader = new BufferReader(buffer);
    assert.throws(() => reader.rewind(1), RangeError, "nothing consumed yet");
    reader.advance(3);
    for (const count of [4, 100, -1, 0.5, NaN, -Infinity, "1", null]) {
      assert.throws(() => reader.rewind(count as number), RangeError, `count ${String(count)}`);
      assertAt(reader, 3);
    }
  });
});

describe("BufferReader.tryReadTo()", () => {
  it("tryReadTo() with a byte returns the run before it and moves past the delimiter", () => {
    const reader = new BufferReader(split(ascii("ab,cde,,f"), 1, 3, 3));
    assert.equal(text(reader.tryReadTo(0x2c)), "ab");
    assertAt(reader, 3);
    assert.equal(text(reader.tryReadTo(0x2c)), "cde");
    assert.equal(text(reader.tryReadTo(0x2c)), "", "a delimiter right at the reader gives an empty run");
    assertAt(reader, 8);
    assert.equal(reader.tryReadTo(0x2c), undefined);
    assertAt(reader, 8);
    assert.equal(reader.tryRead(), 0x66);
  });

  it("tryReadTo() with advancePastDelimiter false stops at the delimiter", () => {
    const reader = new BufferReader(split(ascii("key=value"), 2, 2));
    assert.equal(text(reader.tryReadTo(0x3d, false)), "key");
    assertAt(reader, 3);
    assert.equal(reader.isNext(0x3d), true);
    assert.equal(text(reader.tryReadTo(0x3d, false)), "", "stuck at the delimiter, a second call reads nothing");
    assertAt(reader, 3);
    assert.equal(text(reader.tryReadTo(ascii("=v"), false)), "");
    assert.equal(reader.isNext(ascii("=v")), true);
    assertAt(reader, 3);
  });

  it("tryReadTo() finds a two-byte delimiter that straddles two segments", () => {
    const reader = new BufferReader(split(ascii("GET /\r\nHost"), 6)); // "GET /\r" | "\nHost"
    assert.equal(text(reader.tryReadTo(ascii("\r\n"))), "GET /");
    assertAt(reader, 7);
    assert.equal(text(reader.unread), "Host");
  });

  it("tryReadTo() finds a delimiter that straddles three segments and returns a run over several segments", () => {
    const data = ascii("abcdef--->ghi");
    const reader = new BufferReader(split(data, 2, 2, 3, 1, 1)); // ab|cd|ef-|-|-|>ghi
    const run = reader.tryReadTo(ascii("--->"));
    assert.equal(text(run), "abcdef");
    assert.equal(run?.isSingleSegment, false);
    assertAt(reader, 10);
    const byteWise = new BufferReader(bytewise(data));
    assert.equal(text(byteWise.tryReadTo(ascii("--->"), false)), "abcdef");
    assertAt(byteWise, 6);
  });

  it("tryReadTo() does not match a delimiter cut off by the end of the buffer", () => {
    const reader = new BufferReader(split(ascii("line\r"), 4));
    assert.equal(reader.tryReadTo(ascii("\r\n")), undefined);
    assertAt(reader, 0);
    assert.equal(text(reader.tryReadTo(0x0d)), "line");
  });

  it("tryReadTo() returns undefined and leaves the reader where it was when the delimiter is absent", () => {
    const reader = new BufferReader(split(ascii("no delimiter here"), 3, 1, 5));
    reader.advance(2);
    assert.equal(reader.tryReadTo(0x0a), undefined);
    assertAt(reader, 2);
    assert.equal(reader.tryReadTo(ascii("\r\n")), undefined);
    assertAt(reader, 2);
    assert.equal(reader.tryReadTo(ascii("here!")), undefined, "the head matches, the whole does not");
    assertAt(reader, 2);
  });

  it("tryReadTo() keeps missing on repeated calls and finds an earlier delimiter after a rewind", () => {
    const reader = new BufferReader(split(ascii("a,bcd"), 1, 2));
    reader.advance(2);
    const comma = ascii(",");
    for (let i = 0; i < 3; i++) {
      assert.equal(reader.tryReadTo(0x2c), undefined);
      assert.equal(reader.tryReadTo(comma), undefined);
      assertAt(reader, 2);
    }
    reader.advance(1);
    assert.equal(reader.tryReadTo(0x2c), undefined, "still a miss further on");
    reader.rewind(3);
    assert.equal(text(reader.tryReadTo(0x2c)), "a");
    reader.rewind(2);
    assert.equal(text(reader.tryReadTo(comma)), "a");
  });

  it("tryReadTo() after a miss with one delimiter still finds another", () => {
    const reader = new BufferReader(split(ascii("x;y"), 2));
    assert.equal(reader.tryReadTo(0x2c), undefined);
    assert.equal(text(reader.tryReadTo(0x3b)), "x");
    assert.equal(reader.tryReadTo(ascii(",")), undefined);
    reader.rewind(2);
    assert.equal(text(reader.tryReadTo(ascii(";"))), "x");
  });

  it("tryReadTo() after a miss finds the delimiter when the same array now holds other bytes", () => {
    // A parser may reuse one scratch array for its delimiters.
    const reader = new BufferReader(split(ascii("k:v;"), 2));
    const delimiter = ascii(",");
    assert.equal(reader.tryReadTo(delimiter), undefined);
    delimiter[0] = 0x3a; // ":"
    assert.equal(text(reader.tryReadTo(delimiter)), "k");
    assertAt(reader, 2);
  });

  it("tryReadTo() reads CRLF lines the same for every way of splitting the bytes into segments", () => {
    const data = ascii("ab\r\ncd\r\n\r\nef");
    const cuts = data.length - 1;
    for (let mask = 0; mask < 1 << cuts; mask++) {
      const sizes: number[] = [];
      let size = 1;
      for (let i = 0; i < cuts; i++) {
        if ((mask >> i) & 1) {
          sizes.push(size);
          size = 1;
        } else {
          size++;
        }
      }
      sizes.push(size);
      const reader = new BufferReader(ReadableBuffer.from(cut(data, sizes)));
      const lines: (string | undefined)[] = [];
      for (let line; (line = reader.tryReadTo(ascii("\r\n"))) !== undefined;) lines.push(text(line));
      const what = `segments ${sizes.join(",")}`;
      assert.deepEqual(lines, ["ab", "cd", ""], what);
      assert.equal(reader.consumed, 10, what);
      assert.equal(text(reader.unread), "ef", what);
    }
  });

  it("tryReadTo() throws a RangeError for an empty delimiter or a byte outside 0-255, without moving", () => {
    const reader = new BufferReader(split(ascii("abc"), 1));
    reader.advance(1);
    for (const delimiter of [u8(), 256, -1, 1000, 0.5, NaN, Infinity]) {
      assert.throws(() => reader.tryReadTo(delimiter), RangeError, `delimiter ${String(delimiter)}`);
      assert.throws(() => reader.tryReadTo(delimiter, false), RangeError, `delimiter ${String(delimiter)}`);
      assertAt(reader, 1);
    }
  });

  it("tryReadTo() throws a TypeError for a delimiter that is neither a number nor a Uint8Array", () => {
    const reader = new BufferReader(split(ascii("abc"), 1));
    for (const delimiter of ["b", null, undefined, [0x62], {}, new Uint16Array([0x62])]) {
      assert.throws(
        () => reader.tryReadTo(delimiter as unknown as number),
        TypeError,
        `delimiter ${String(delimiter)}`,
      );
      assertAt(reader, 0);
    }
  });
});

describe("BufferReader.tryReadExact()", () => {
  const data = u8(1, 2, 3, 4, 5, 6);
  const buffer = split(data, 1, 2, 1);

  it("tryReadExact() returns exactly count bytes across segments and moves past them", () => {
    const reader = new BufferReader(buffer);
    const first = reader.tryReadExact(4);
    assert.deepEqual([...(first?.toUint8Array() ?? [])], [1, 2, 3, 4]);
    assertAt(reader, 4);
    assert.equal(reader.tryReadExact(0)?.length, 0);
    assertAt(reader, 4);
    assert.deepEqual([...(reader.tryReadExact(2)?.toUint8Array() ?? [])], [5, 6]);
    assertAt(reader, 6);
    assert.equal(reader.tryReadExact(0)?.length, 0, "zero bytes are there even at the end");
  });

  it("tryReadExact() returns undefined without moving when fewer bytes remain", () => {
    const reader = new BufferReader(buffer);
    reader.advance(2);
    assert.equal(reader.tryReadExact(5), undefined);
    assertAt(reader, 2);
    assert.equal(reader.tryReadExact(4)?.length, 4);
    assert.equal(reader.tryReadExact(1), undefined);
    assertAt(reader, 6);
  });

  it("tryReadExact() throws a RangeError for a negative or non-integer count, without moving", () => {
    const reader = new BufferReader(buffer);
    reader.advance(1);
    for (const count of [-1, -100, 0.5, 1.5, NaN, Infinity, -Infinity, "2", null]) {
      assert.throws(() => reader.tryReadExact(count as number), RangeError, `count ${String(count)}`);
      assertAt(reader, 1);
    }
  });
});

describe("BufferReader.isNext() and advancePast()", () => {
  const buffer = split(u8(7, 7, 7, 8, 9, 7), 1, 1, 2); // [7] [7] [7 8] [9 7]

  it("isNext() with a byte does not move unless asked, and never moves on a mismatch", () => {
    const reader = new BufferReader(buffer);
    assert.equal(reader.isNext(7), true);
    assertAt(reader, 0);
    assert.equal(reader.isNext(8, true), false);
    assertAt(reader, 0);
    assert.equal(reader.isNext(7, true), true);
    assertAt(reader, 1);
    assert.equal(reader.isNext(256), false);
  });

  it("isNext() with bytes compares across segments and moves past them only on a match", () => {
    const reader = new BufferReader(buffer);
    reader.advance(1);
    assert.equal(reader.isNext(u8(7, 7, 8, 9)), true);
    assertAt(reader, 1);
    assert.equal(reader.isNext(u8(7, 7, 8, 8), true), false);
    assertAt(reader, 1);
    assert.equal(reader.isNext(u8(7, 7, 8, 9), true), true);
    assertAt(reader, 5);
    assert.equal(reader.isNext(u8(7, 0)), false, "longer than what remains");
    assert.equal(reader.isNext(u8(), true), true, "the empty sequence is always next");
    assertAt(reader, 5);
    assert.equal(reader.isNext(u8(7), true), true);
    assertAt(reader, 6);
    assert.equal(reader.isNext(7), false, "nothing is next at the end");
  });

  it("advancePast() skips a run of one byte across segments and returns its length", () => {
    const reader = new BufferReader(buffer);
    assert.equal(reader.advancePast(8), 0);
    assertAt(reader, 0);
    assert.equal(reader.advancePast(7), 3);
    assertAt(reader, 3);
    assert.equal(reader.advancePast(7), 0);
    assert.equal(reader.advancePast(8), 1);
    assert.equal(reader.advancePast(9), 1);
    assert.equal(reader.advancePast(7), 1, "a run that reaches the end");
    assertAt(reader, 6);
    assert.equal(reader.advancePast(7), 0);
  });

  it("advancePast() skips a long run of one-byte segments", () => {
    const data = new Uint8Array(50).fill(0x20);
    data[49] = 0x21;
    const reader = new BufferReader(bytewise(data));
    assert.equal(reader.advancePast(0x20), 49);
    assert.equal(reader.tryRead(), 0x21);
  });
});

describe("BufferReader endian reads", () => {
  it("each endian read gives the DataView value for known bytes, signs included", () => {
    const data = u8(0xff, 0xfe, 0x80, 0x01, 0x7f, 0x00, 0x12, 0x34, 0x9a, 0xbc);
    const reader = (): BufferReader => new BufferReader(bytewise(data));
    assert.equal(reader().tryReadUint16BE(), 0xfffe);
    assert.equal(reader().tryReadUint16LE(), 0xfeff);
    assert.equal(reader().tryReadInt16BE(), -2);
    assert.equal(reader().tryReadInt16LE(), -257);
    assert.equal(reader().tryReadUint32BE(), 0xfffe8001);
    assert.equal(reader().tryReadUint32LE(), 0x0180feff);
    assert.equal(reader().tryReadInt32BE(), -98303);
    assert.equal(reader().tryReadInt32LE(), 0x0180feff);
    assert.equal(reader().tryReadBigUint64BE(), 0xfffe80017f001234n);
    assert.equal(reader().tryReadBigUint64LE(), 0x3412007f0180feffn);
    assert.equal(reader().tryReadBigInt64BE(), -0x17ffe80ffedccn);
    assert.equal(reader().tryReadBigInt64LE(), 0x3412007f0180feffn);
    for (let offset = 0; offset <= data.length; offset++) {
      checkNumberReads(bytewise(data), data, offset, () => "known bytes");
    }
  });

  it("each endian read gives the extreme values: all zero and all one bits", () => {
    for (const fill of [0x00, 0xff, 0x80, 0x7f]) {
      const data = new Uint8Array(8).fill(fill);
      for (const buffer of [ReadableBuffer.from([data]), bytewise(data), split(data, 3, 4)]) {
        checkNumberReads(buffer, data, 0, () => `filled with ${fill}`);
      }
    }
  });

  it("each endian read returns undefined without moving when too few bytes remain", () => {
    const data = Uint8Array.from({ length: 12 }, (_, i) => 0xf0 + i);
    for (const op of NUMBER_READS) {
      for (const buffer of [ReadableBuffer.from([data]), bytewise(data), split(data, 5, 6)]) {
        for (let left = 0; left < op.size; left++) {
          const reader = new BufferReader(buffer);
          reader.advance(data.length - left);
          assert.equal(op.read(reader), undefined, `${op.name} with ${left} bytes left`);
          assertAt(reader, data.length - left, `${op.name} with ${left} bytes left`);
        }
        const reader = new BufferReader(buffer);
        reader.advance(data.length - op.size);
        assert.notEqual(op.read(reader), undefined, `${op.name} with exactly ${op.size} bytes left`);
        assertAt(reader, data.length);
      }
    }
  });

  it("each endian read matches DataView on random bytes at every offset around random segment boundaries", async () => {
    await withSeed(testSeed(), (random) => {
      for (let c = 0; c < 1500; c++) {
        const data = random.bytes(random.int(0, 24));
        const sizes = randomSizes(random, data.length, 6);
        const buffer = ReadableBuffer.from(cut(data, sizes));
        const label = (): string => `case ${c} ${hex(data)} segments ${sizes.join(",")}`;
        for (let offset = 0; offset <= data.length; offset++) checkNumberReads(buffer, data, offset, label);
      }
    });
  });

  it("a random sequence of reads and moves matches a DataView cursor", async () => {
    await withSeed(testSeed(), (random) => {
      for (let c = 0; c < 2000; c++) {
        const data = random.bytes(random.int(0, 40));
        const view = dataView(data);
        const sizes = randomSizes(random, data.length, 9);
        const reader = new BufferReader(ReadableBuffer.from(cut(data, sizes)));
        const ops: string[] = [];
        const label = (): string => `case ${c} ${hex(data)} segments ${sizes.join(",")} after ${ops.join(" ")}`;
        let at = 0;
        for (let step = 0; step < 30; step++) {
          const kind = random.int(0, 9);
          if (kind < 6) {
            const op = NUMBER_READS[random.int(0, NUMBER_READS.length - 1)] as NumberRead;
            ops.push(op.name);
            const value = op.read(reader);
            if (at + op.size <= data.length) {
              expectEqual(value, op.expected(view, at), label);
              at += op.size;
            } else {
              expectEqual(value, undefined, label);
            }
          } else if (kind === 6) {
            ops.push("tryRead");
            expectEqual(reader.tryRead(), data[at], label);
            if (at < data.length) at++;
          } else if (kind === 7) {
            const count = random.int(0, 5);
            ops.push(`tryReadExact(${count})`);
            const run = reader.tryReadExact(count);
            if (at + count <= data.length) {
              assert.ok(run !== undefined, label());
              assertBytes(run.toUint8Array(), data.subarray(at, at + count), label);
              at += count;
            } else {
              expectEqual(run, undefined, label);
            }
          } else if (kind === 8) {
            const count = random.int(0, at);
            ops.push(`rewind(${count})`);
            reader.rewind(count);
            at -= count;
          } else {
            const offset = random.int(0, 3);
            ops.push(`peek(${offset})`);
            expectEqual(reader.peek(offset), data[at + offset], label);
          }
          expectEqual(reader.consumed, at, label);
          expectEqual(reader.remaining, data.length - at, label);
          expectEqual(reader.end, at === data.length, label);
        }
      }
    });
  });
});

// ---- tryReadTo differential ----

/** Random tryReadTo/advance/rewind steps on `buffer`, each checked against `data`. The
 * delimiters are a few fixed numbers and arrays, reused (so the miss cache is exercised). */
function tryReadToDifferential(
  random: Random,
  buffer: ReadableBuffer,
  data: Uint8Array,
  steps: number,
  label: string,
): void {
  const alphabet = u8(0x61, 0x62, 0x0a);
  const delimiters: (number | Uint8Array)[] = [0x61, 0x0a];
  for (let i = 0; i < 4; i++) delimiters.push(random.bytes(random.int(1, 4), alphabet));
  const reader = new BufferReader(buffer);
  const ops: string[] = [];
  const what = (): string => `${label} data ${hex(data)} after ${ops.join(" ")}`;
  let at = 0;
  for (let step = 0; step < steps; step++) {
    const kind = random.int(0, 5);
    if (kind < 4) {
      const delimiter = delimiters[random.int(0, delimiters.length - 1)] as number | Uint8Array;
      const past = random.chance(0.7);
      ops.push(`tryReadTo(${typeof delimiter === "number" ? delimiter : hex(delimiter)}, ${past})`);
      const run = reader.tryReadTo(delimiter, past);
      const found = referenceIndexOf(data, delimiter, at);
      if (found < 0) {
        expectEqual(run, undefined, what);
      } else {
        assert.ok(run !== undefined, what());
        assertBytes(run.toUint8Array(), data.subarray(at, found), what);
        at = found + (past ? (typeof delimiter === "number" ? 1 : delimiter.length) : 0);
      }
    } else if (kind === 4) {
      const count = random.int(0, at);
      ops.push(`rewind(${count})`);
      reader.rewind(count);
      at -= count;
    } else {
      const count = random.int(0, Math.min(3, data.length - at));
      ops.push(`advance(${count})`);
      reader.advance(count);
      at += count;
    }
    expectEqual(reader.consumed, at, what);
  }
}

describe("BufferReader differential on random segments", () => {
  it("random tryReadTo(), advance() and rewind() steps on from() buffers agree with a plain array", async () => {
    await withSeed(testSeed(), (random) => {
      for (let c = 0; c < 2000; c++) {
        const data = random.bytes(random.int(0, 60), u8(0x61, 0x62, 0x63, 0x0a));
        const sizes = randomSizes(random, data.length, 8);
        tryReadToDifferential(
          random,
          ReadableBuffer.from(cut(data, sizes)),
          data,
          25,
          `case ${c} segments ${sizes.join(",")}`,
        );
      }
    });
  });

  for (const strategy of ["wasm", "native"] as const) {
    it(`tryReadTo() and the endian reads agree with a plain array on pool-backed buffers (${strategy} search)`, async () => {
      const pool = new MemoryPool({ blockSize: 16, debug: true });
      setKernelPath("memchr", strategy);
      try {
        await withSeed(testSeed(), async (random) => {
          for (let c = 0; c < 1500; c++) {
            const data = random.chance(0.5)
              ? random.bytes(random.int(0, 80), u8(0x61, 0x62, 0x63, 0x0a))
              : random.bytes(random.int(0, 40));
            const sizes = randomSizes(random, data.length, 16);
            const prefix = random.chance(0.5) ? random.int(1, 20) : 0;
            const held = await poolBuffer(pool, data, sizes, prefix);
            const label = `case ${c} prefix ${prefix} segments ${sizes.join(",")}`;
            try {
              assert.deepEqual([...held.buffer].map((v) => v.length), sizes, `${label}: the segments are the chunks`);
              tryReadToDifferential(random, held.buffer, data, 20, label);
              for (let k = 0; k < 3; k++) checkNumberReads(held.buffer, data, random.int(0, data.length), () => label);
            } finally {
              held.release();
            }
          }
        });
        assert.equal(pathFor("memchr", 1), strategy);
      } finally {
        resetKernelLayerForTesting();
      }
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  }
});

// ---- tryParseInt: a plain reference, parseInt, and every segmentation ----

type ParseOutcome = { value: number; length: number } | "undefined" | "range";

function isDigitOf(byte: number | undefined, radix: 10 | 16): boolean {
  if (byte === undefined) return false;
  if (byte >= 0x30 && byte <= 0x39) return true;
  return radix === 16 && ((byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66));
}

/** What tryParseInt must do at `from`, decided with BigInt and parseInt (never with its loop). */
function referenceParseInt(data: Uint8Array, from: number, radix: 10 | 16): ParseOutcome {
  let i = from;
  if (radix === 10 && data[i] === 0x2d) i++;
  let digits = "";
  while (isDigitOf(data[i], radix)) {
    digits += String.fromCharCode(data[i] as number);
    i++;
    if (BigInt(radix === 16 ? `0x${digits}` : digits) > BigInt(Number.MAX_SAFE_INTEGER)) return "range";
  }
  if (digits === "" || i === data.length) return "undefined";
  const text = new TextDecoder().decode(data.subarray(from, i));
  return { value: parseInt(text, radix), length: i - from };
}

function checkParseInt(buffer: ReadableBuffer, data: Uint8Array, from: number, radix: 10 | 16, label: () => string) {
  const reader = new BufferReader(buffer);
  reader.advance(from);
  const expected = referenceParseInt(data, from, radix);
  if (expected === "range") {
    assert.throws(() => reader.tryParseInt(radix), RangeError, label());
    expectEqual(reader.consumed, from, () => `${label()}: a RangeError must not move the reader`);
    return;
  }
  const value = reader.tryParseInt(radix);
  if (expected === "undefined") {
    expectEqual(value, undefined, label);
    expectEqual(reader.consumed, from, () => `${label()}: undefined must not move the reader`);
  } else {
    if (!Object.is(value, expected.value)) assert.equal(value, expected.value, label());
    expectEqual(reader.consumed, from + expected.length, () => `${label()}: the reader stops after the digits`);
  }
}

/** Every buffer over `data` with one cut, two cuts 1–2 apart, or a cut after every byte. */
function* segmentations(data: Uint8Array): Generator<[ReadableBuffer, string]> {
  yield [ReadableBuffer.from([data]), "one segment"];
  yield [bytewise(data), "bytewise"];
  for (let a = 1; a < data.length; a++) {
    yield [split(data, a), `cut at ${a}`];
    for (let d = 1; d <= 2 && a + d < data.length; d++) yield [split(data, a, d), `cuts at ${a} and ${a + d}`];
  }
}

const TERMINATORS = ["\r\n", " ", ",", ":", "/", "@", "G", "g", "`", "x", "-", "+", ".", "\u00e9", ""];

/** A random number in text: signs, leading zeros, every length, the safe-integer edge and past it. */
function randomNumberText(random: Random, radix: 10 | 16): string {
  const max = Number.MAX_SAFE_INTEGER;
  let magnitude: string;
  const kind = random.int(0, 9);
  if (kind === 0) {
    magnitude = (max - random.int(0, 3)).toString(radix); // at the edge: ok
  } else if (kind === 1) {
    magnitude = (BigInt(max) + BigInt(random.int(1, 3))).toString(radix); // past it
  } else if (kind === 2) {
    magnitude = "1" + "0".repeat(random.int(14, 20)); // around the digit count of the edge
  } else {
    const digits = random.int(1, radix === 10 ? 16 : 14);
    magnitude = "";
    for (let k = 0; k < digits; k++) magnitude += random.int(0, radix - 1).toString(radix);
  }
  if (radix === 16) {
    magnitude = [...magnitude].map((ch) => (random.chance(0.5) ? ch.toUpperCase() : ch)).join("");
  }
  const zeros = random.chance(0.2) ? "0".repeat(random.int(1, 12)) : "";
  const sign = radix === 10 && random.chance(0.35) ? "-" : "";
  return sign + zeros + magnitude;
}

describe("BufferReader.tryParseInt()", () => {
  it("parses decimal and hex like parseInt and stops at the first byte that is not a digit", () => {
    const cases: [string, 10 | 16, number, number][] = [
      ["0\r\n", 10, 0, 1],
      ["42 ", 10, 42, 2],
      ["-42,", 10, -42, 3],
      ["0007x", 10, 7, 4],
      ["12a", 10, 12, 2],
      ["ff\r", 16, 255, 2],
      ["DeadBeef;", 16, 0xdeadbeef, 8],
      ["0x10", 16, 0, 1],
      ["1-2", 10, 1, 1],
      ["9:", 10, 9, 1],
      ["0/", 10, 0, 1],
      ["fG", 16, 15, 1],
      ["Ag", 16, 10, 1],
      ["a@", 16, 10, 1],
      ["f`", 16, 15, 1],
    ];
    for (const [input, radix, value, length] of cases) {
      const reader = new BufferReader(ReadableBuffer.from([ascii(input)]));
      assert.equal(reader.tryParseInt(radix), value, input);
      assertAt(reader, length, input);
    }
  });

  it("tryParseInt() of -0 is -0, as parseInt gives", () => {
    assert.ok(Object.is(new BufferReader(ReadableBuffer.from([ascii("-0\r")])).tryParseInt(), -0));
    assert.ok(Object.is(new BufferReader(ReadableBuffer.from([ascii("0\r")])).tryParseInt(), 0));
  });

  it("tryParseInt() returns undefined and reads nothing when no digit comes first", () => {
    for (
      const [input, radix] of [["x1", 10], ["-x", 10], ["--1", 10], ["+1", 10], [" 1", 10], ["-1", 16], [
        "g",
        16,
      ]] as const
    ) {
      const reader = new BufferReader(split(ascii(input), 1));
      assert.equal(reader.tryParseInt(radix), undefined, input);
      assertAt(reader, 0, input);
    }
  });

  it("tryParseInt() returns undefined and reads nothing when the digits, or a sign alone, reach the end", () => {
    for (const input of ["1", "123", "-", "-12", "00", "9007199254740991"]) {
      for (const [buffer, how] of segmentations(ascii(input))) {
        const reader = new BufferReader(buffer);
        assert.equal(reader.tryParseInt(), undefined, `${input} ${how}`);
        assertAt(reader, 0, `${input} ${how}`);
      }
    }
    const reader = new BufferReader(split(ascii("7,ab"), 2));
    assert.equal(reader.tryParseInt(), 7);
    reader.advance(1);
    assert.equal(reader.tryParseInt(16), undefined, "hex digits to the end");
    assert.equal(reader.tryParseInt(), undefined, "no decimal digit");
    assertAt(reader, 2);
    assert.equal(new BufferReader(ReadableBuffer.from([])).tryParseInt(), undefined, "an empty buffer");
  });

  it("tryParseInt() accepts magnitudes up to Number.MAX_SAFE_INTEGER and throws a RangeError past it", () => {
    const ok: [string, 10 | 16, number][] = [
      ["9007199254740991", 10, Number.MAX_SAFE_INTEGER],
      ["-9007199254740991", 10, -Number.MAX_SAFE_INTEGER],
      ["00000000000000000009007199254740991", 10, Number.MAX_SAFE_INTEGER],
      ["1fffffffffffff", 16, Number.MAX_SAFE_INTEGER],
      ["1FFFFFFFFFFFFF", 16, Number.MAX_SAFE_INTEGER],
    ];
    for (const [digits, radix, value] of ok) {
      for (const [buffer, how] of segmentations(ascii(`${digits}\r`))) {
        assert.equal(new BufferReader(buffer).tryParseInt(radix), value, `${digits} ${how}`);
      }
    }
    const bad: [string, 10 | 16][] = [
      ["9007199254740992", 10],
      ["-9007199254740992", 10],
      ["9007199254740993", 10],
      ["99999999999999999999", 10],
      ["20000000000000", 16],
      ["ffffffffffffffff", 16],
    ];
    for (const [digits, radix] of bad) {
      for (const tail of ["\r", "", "123"]) {
        for (const [buffer, how] of segmentations(ascii(`${digits}${tail}`))) {
          const reader = new BufferReader(buffer);
          assert.throws(() => reader.tryParseInt(radix), RangeError, `${digits}${tail} ${how}`);
          assertAt(reader, 0, `${digits}${tail} ${how}`);
        }
      }
    }
    const reader = new BufferReader(ReadableBuffer.from([ascii("::9007199254740992\r")]));
    reader.advance(2);
    assert.throws(() => reader.tryParseInt(), {
      name: "RangeError",
      message:
        'Cannot parse the integer at offset 2 as its magnitude must be at most Number.MAX_SAFE_INTEGER (9007199254740991): received "9007199254740992"',
    });
  });

  it("tryParseInt() throws a RangeError for a radix other than 10 or 16, without moving", () => {
    const reader = new BufferReader(ReadableBuffer.from([ascii("12 ")]));
    for (const radix of [8, 2, 36, 0, "10", null, NaN]) {
      assert.throws(() => reader.tryParseInt(radix as 10), RangeError, String(radix));
      assertAt(reader, 0);
    }
    assert.equal(reader.tryParseInt(undefined), 12, "undefined is the default radix");
  });

  it("tryParseInt() parses a run of numbers one after another across bytewise segments", () => {
    const values = [0, 1, -1, 42, 9007199254740991, -9007199254740991, 100, -20, 7];
    const reader = new BufferReader(bytewise(ascii(values.join(",") + ";")));
    const parsed: number[] = [];
    for (;;) {
      const value = reader.tryParseInt();
      assert.ok(value !== undefined);
      parsed.push(value);
      if (reader.tryRead() === 0x3b) break;
    }
    assert.deepEqual(parsed, values);
    assert.equal(reader.end, true);
  });

  for (const radix of [10, 16] as const) {
    it(`tryParseInt(${radix}) agrees with the reference and parseInt on random numbers at every segmentation`, async () => {
      await withSeed(testSeed(), (random) => {
        for (let c = 0; c < 250; c++) {
          const prefix = random.int(0, 3);
          const number = randomNumberText(random, radix);
          const terminator = TERMINATORS[random.int(0, TERMINATORS.length - 1)] as string;
          const data = ascii(":".repeat(prefix) + number + terminator + (random.chance(0.5) ? "1" : ""));
          for (const [buffer, how] of segmentations(data)) {
            checkParseInt(buffer, data, prefix, radix, () => `case ${c} ${JSON.stringify(number + terminator)} ${how}`);
          }
        }
      });
    });
  }

  it("tryParseInt() agrees with the reference on pool-backed buffers over 16-byte blocks", async () => {
    const pool = new MemoryPool({ blockSize: 16, debug: true });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 400; c++) {
        const radix = random.chance(0.5) ? 10 : 16;
        let text = "";
        while (text.length < 60) text += randomNumberText(random, radix) + (random.chance(0.5) ? "\r\n" : ",");
        const data = ascii(text);
        const sizes = randomSizes(random, data.length, 16);
        const prefix = random.int(0, 15);
        const held = await poolBuffer(pool, data, sizes, prefix);
        try {
          for (let from = 0; from < data.length; from++) {
            checkParseInt(held.buffer, data, from, radix, () => `case ${c} ${JSON.stringify(text)} from ${from}`);
          }
        } finally {
          held.release();
        }
      }
    });
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

// ---- tryReadString ----

const PIECES: readonly Uint8Array[] = [
  ascii("GET / HTTP/1.1"),
  ascii("a"),
  ascii("\r\n"),
  ascii("h\u00e9"),
  ascii("\u20ac"),
  ascii("\u{1f600}"),
  ascii("\u{10ffff}"),
  u8(0xef, 0xbb, 0xbf), // BOM
  u8(0x80),
  u8(0xff),
  u8(0xc0, 0x80), // overlong
  u8(0xe2, 0x82), // truncated
  u8(0xf0, 0x9f, 0x98), // truncated
  u8(0xed, 0xa0, 0x80), // a surrogate
  u8(0x00, 0x7f),
];

function randomText(random: Random, pieces: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (let k = 0; k < pieces; k++) chunks.push(PIECES[random.int(0, PIECES.length - 1)] as Uint8Array);
  return concat(chunks);
}

const fieldDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

function checkReadString(
  buffer: ReadableBuffer,
  data: Uint8Array,
  from: number,
  count: number,
  label: () => string,
): void {
  const reader = new BufferReader(buffer);
  reader.advance(from);
  if (from + count > data.length) {
    expectEqual(reader.tryReadString(count), undefined, label);
    expectEqual(reader.tryReadString(count, "ascii"), undefined, label);
    expectEqual(reader.consumed, from, label);
    return;
  }
  const bytes = data.subarray(from, from + count);
  expectEqual(reader.tryReadString(count), fieldDecoder.decode(bytes), () => `${label()}: utf8`);
  expectEqual(reader.consumed, from + count, label);
  reader.rewind(count);
  const bad = bytes.findIndex((b) => b >= 0x80);
  if (bad < 0) {
    expectEqual(reader.tryReadString(count, "ascii"), String.fromCharCode(...bytes), () => `${label()}: ascii`);
    expectEqual(reader.consumed, from + count, label);
  } else {
    assert.throws(
      () => reader.tryReadString(count, "ascii"),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes(`at offset ${from + bad} `) &&
        error.message.includes(`0x${(bytes[bad] as number).toString(16)}`),
      label(),
    );
    expectEqual(reader.consumed, from, () => `${label()}: a TypeError must not move the reader`);
  }
}

describe("BufferReader.tryReadString()", () => {
  it("tryReadString() decodes UTF-8 across segments and ASCII, and keeps a leading BOM", () => {
    const data = concat([u8(0xef, 0xbb, 0xbf), ascii("h\u00e9llo \u{1f600}!")]);
    for (const [buffer, how] of segmentations(data)) {
      const reader = new BufferReader(buffer);
      assert.equal(reader.tryReadString(data.length), "\ufeffh\u00e9llo \u{1f600}!", how);
      assertAt(reader, data.length, how);
    }
    const reader = new BufferReader(split(ascii("OK\r\n"), 1));
    assert.equal(reader.tryReadString(2, "ascii"), "OK");
    assert.equal(reader.tryReadString(0), "");
    assert.equal(reader.tryReadString(0, "ascii"), "");
    assert.equal(reader.tryReadString(2, "utf8"), "\r\n");
    assert.equal(reader.tryReadString(0), "", "zero bytes at the end");
  });

  it("tryReadString() replaces invalid and cut-off sequences with U+FFFD as TextDecoder does", () => {
    const data = u8(0x61, 0xe2, 0x82, 0xac, 0x80, 0xf0, 0x9f);
    assert.equal(new BufferReader(split(data, 2)).tryReadString(3), "a\ufffd", "a sequence cut by byteCount");
    assert.equal(new BufferReader(split(data, 3, 1)).tryReadString(7), "a\u20ac\ufffd\ufffd");
  });

  it("tryReadString() returns undefined and reads nothing when fewer bytes remain", () => {
    const reader = new BufferReader(split(ascii("abcdef"), 2, 2));
    reader.advance(1);
    assert.equal(reader.tryReadString(6), undefined);
    assert.equal(reader.tryReadString(6, "ascii"), undefined);
    assertAt(reader, 1);
    assert.equal(reader.tryReadString(5), "bcdef");
  });

  it("tryReadString() throws a TypeError naming the offset of a byte above 0x7f for ascii, without moving", () => {
    for (const [buffer, how] of segmentations(ascii("ab\u00e9cd"))) {
      const reader = new BufferReader(buffer);
      reader.advance(1);
      assert.throws(() => reader.tryReadString(4, "ascii"), {
        name: "TypeError",
        message: 'Cannot read the ASCII string at offset 2 as every byte must be from 0x00 to 0x7f: received "0xc3"',
      }, how);
      assertAt(reader, 1, how);
      assert.equal(reader.tryReadString(1, "ascii"), "b");
    }
    const long = new BufferReader(ReadableBuffer.from([ascii("x".repeat(100) + "\u00ff")]));
    assert.throws(() => long.tryReadString(102, "ascii"), /at offset 100 .*received "0xc3"/);
  });

  it("tryReadString() throws on a bad byteCount (RangeError) or encoding (TypeError), without moving", () => {
    const reader = new BufferReader(ReadableBuffer.from([ascii("abc")]));
    for (const count of [-1, 0.5, NaN, Infinity, "1", null]) {
      assert.throws(() => reader.tryReadString(count as number), RangeError, String(count));
    }
    for (const encoding of ["latin1", "utf-8", "ASCII", null, 1]) {
      assert.throws(() => reader.tryReadString(1, encoding as "utf8"), TypeError, String(encoding));
    }
    assertAt(reader, 0);
  });

  it("tryReadString() agrees with TextDecoder on random text, windows and segmentations", async () => {
    await withSeed(testSeed(), (random) => {
      for (let c = 0; c < 400; c++) {
        const data = random.chance(0.3) ? ascii("x".repeat(random.int(0, 80))) : randomText(random, random.int(0, 12));
        const sizes = randomSizes(random, data.length, 12);
        const buffer = ReadableBuffer.from(cut(data, sizes));
        for (let k = 0; k < 12; k++) {
          const from = random.int(0, data.length);
          const count = random.int(0, data.length - from + 1);
          checkReadString(
            buffer,
            data,
            from,
            count,
            () => `case ${c} ${hex(data)} segments ${sizes} [${from}, +${count})`,
          );
        }
      }
    });
  });

  it("tryReadString() agrees with TextDecoder on pool-backed buffers over 16-byte blocks", async () => {
    const pool = new MemoryPool({ blockSize: 16, debug: true });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 300; c++) {
        const data = randomText(random, random.int(1, 14));
        const sizes = randomSizes(random, data.length, 16);
        const held = await poolBuffer(pool, data, sizes, random.int(0, 15));
        try {
          for (let k = 0; k < 10; k++) {
            const from = random.int(0, data.length);
            const count = random.int(0, data.length - from);
            checkReadString(held.buffer, data, from, count, () => `case ${c} ${hex(data)} [${from}, +${count})`);
          }
        } finally {
          held.release();
        }
      }
    });
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});
