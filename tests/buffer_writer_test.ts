// Tests of BufferWriter: every write checked against a reference encoding (TextEncoder,
// DataView, Number.prototype.toString) in channels over tiny blocks, so values straddle span
// boundaries at every offset; random sequences of mixed writes, commits and flushes; surrogate
// pairs at a block end and lone surrogates; what commit() publishes; bad arguments.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BufferWriter, Channel, ChannelStateError, MemoryPool, ReadableBuffer } from "../mod.ts";
import { concat, type Random, testSeed, withSeed } from "./_util.ts";

// ---- helpers ----

const utf8 = new TextEncoder();

/** A channel over a pool of `blockSize`-byte blocks, no backpressure, its first block's
 * first `prefix` bytes already written (and read) so spans start mid-block. */
async function tinyChannel(pool: MemoryPool, prefix: number): Promise<Channel> {
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  if (prefix > 0) {
    await channel.writer.write(new Uint8Array(prefix).fill(0xee));
    const { buffer } = await channel.reader.read();
    channel.reader.advanceTo(buffer.length);
  }
  return channel;
}

/** Completes the writer and returns every byte left to read, then completes the reader. */
async function drain(channel: Channel): Promise<Uint8Array> {
  channel.writer.complete();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await channel.reader.read();
    chunks.push(buffer.toUint8Array());
    channel.reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  channel.reader.complete();
  return concat(chunks);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length || actual.some((b, i) => b !== expected[i])) {
    assert.fail(`${what}:\n  actual   ${hex(actual)}\n  expected ${hex(expected)}`);
  }
}

/** One write: how BufferWriter does it, and the reference bytes. */
interface Op {
  label: string;
  apply(writer: BufferWriter): void;
  expected: Uint8Array;
}

function bytesOf(size: number, fill: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

const TEXT_PIECES = [
  "a",
  "Hello",
  " ",
  "\r\n",
  "\u00e9",
  "\u20ac",
  "\u{1f600}",
  "\ud800",
  "\udc00",
  "\u07ff",
  "\uffff",
];

function randomString(random: Random, maxPieces: number): string {
  let text = "";
  const pieces = random.int(0, maxPieces);
  for (let k = 0; k < pieces; k++) text += TEXT_PIECES[random.int(0, TEXT_PIECES.length - 1)];
  return text;
}

function randomSafeInt(random: Random): number {
  switch (random.int(0, 5)) {
    case 0:
      return random.int(-9, 9);
    case 1:
      return Number.MAX_SAFE_INTEGER - random.int(0, 2);
    case 2:
      return -Number.MAX_SAFE_INTEGER + random.int(0, 2);
    case 3:
      return (random.chance(0.5) ? -1 : 1) * random.int(0, 2 ** 32 + 5);
    default: {
      const magnitude = Math.floor(random.next() * 10 ** random.int(1, 16));
      return Math.min(magnitude, Number.MAX_SAFE_INTEGER) * (random.chance(0.5) ? -1 : 1);
    }
  }
}

function randomOp(random: Random): Op {
  switch (random.int(0, 11)) {
    case 0: {
      const n = randomSafeInt(random);
      return { label: `writeInt(${n})`, apply: (w) => w.writeInt(n), expected: utf8.encode(n.toString()) };
    }
    case 1: {
      const n = randomSafeInt(random);
      return { label: `writeInt(${n}, 16)`, apply: (w) => w.writeInt(n, 16), expected: utf8.encode(n.toString(16)) };
    }
    case 2: {
      const text = [...randomString(random, 4)].map((ch) => (ch.charCodeAt(0) > 0x7f ? "?" : ch)).join("") +
        "x".repeat(random.chance(0.2) ? 40 : 0);
      return {
        label: `writeAscii(${JSON.stringify(text)})`,
        apply: (w) => w.writeAscii(text),
        expected: utf8.encode(text),
      };
    }
    case 3: {
      const text = randomString(random, random.chance(0.3) ? 30 : 6);
      return {
        label: `writeUtf8(${JSON.stringify(text)})`,
        apply: (w) => w.writeUtf8(text),
        expected: utf8.encode(text),
      };
    }
    case 4: {
      const bytes = random.bytes(random.int(0, random.chance(0.2) ? 70 : 10));
      return { label: `writeBytes(${bytes.length} bytes)`, apply: (w) => w.writeBytes(bytes), expected: bytes };
    }
    case 5: {
      const bytes = random.bytes(random.int(0, 30));
      const at = random.int(0, bytes.length);
      const buffer = ReadableBuffer.from([bytes.subarray(0, at), bytes.subarray(at)]);
      return { label: `writeBytes(buffer of ${bytes.length})`, apply: (w) => w.writeBytes(buffer), expected: bytes };
    }
    case 6: {
      const v = random.int(0, 255);
      return { label: `writeUint8(${v})`, apply: (w) => w.writeUint8(v), expected: new Uint8Array([v]) };
    }
    case 7: {
      const v = random.int(0, 0xffff);
      const le = random.chance(0.5);
      return le
        ? {
          label: `writeUint16LE(${v})`,
          apply: (w) => w.writeUint16LE(v),
          expected: bytesOf(2, (d) => d.setUint16(0, v, true)),
        }
        : {
          label: `writeUint16BE(${v})`,
          apply: (w) => w.writeUint16BE(v),
          expected: bytesOf(2, (d) => d.setUint16(0, v)),
        };
    }
    case 8: {
      const v = random.int(0, 0xffffffff);
      const le = random.chance(0.5);
      return le
        ? {
          label: `writeUint32LE(${v})`,
          apply: (w) => w.writeUint32LE(v),
          expected: bytesOf(4, (d) => d.setUint32(0, v, true)),
        }
        : {
          label: `writeUint32BE(${v})`,
          apply: (w) => w.writeUint32BE(v),
          expected: bytesOf(4, (d) => d.setUint32(0, v)),
        };
    }
    case 9: {
      const v = BigInt.asUintN(64, (BigInt(random.int(0, 0xffffffff)) << 32n) | BigInt(random.int(0, 0xffffffff)));
      const le = random.chance(0.5);
      return le
        ? {
          label: `writeBigUint64LE(${v})`,
          apply: (w) => w.writeBigUint64LE(v),
          expected: bytesOf(8, (d) => d.setBigUint64(0, v, true)),
        }
        : {
          label: `writeBigUint64BE(${v})`,
          apply: (w) => w.writeBigUint64BE(v),
          expected: bytesOf(8, (d) => d.setBigUint64(0, v)),
        };
    }
    case 10:
      return { label: "commit()", apply: (w) => w.commit(), expected: new Uint8Array(0) };
    default: {
      const text = randomString(random, 40);
      return {
        label: `writeUtf8(long ${JSON.stringify(text)})`,
        apply: (w) => w.writeUtf8(text),
        expected: utf8.encode(text),
      };
    }
  }
}

// ---- tests ----

describe("BufferWriter", () => {
  it("random sequences of mixed writes over 16-byte blocks give the reference bytes", async () => {
    const pool = new MemoryPool({ blockSize: 16, debug: true });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 400; c++) {
        const prefix = random.int(0, 15);
        const channel = await tinyChannel(pool, prefix);
        const writer = new BufferWriter(channel.writer);
        const ops: Op[] = [];
        let expectedWritten = 0;
        for (let k = random.int(0, 40); k > 0; k--) {
          const op = randomOp(random);
          ops.push(op);
          op.apply(writer);
          expectedWritten += op.expected.length;
          assert.equal(writer.bytesWritten, expectedWritten, `case ${c} after ${op.label}`);
          if (op.label === "commit()") {
            assert.equal(writer.uncommitted, 0);
            if (random.chance(0.5)) await channel.writer.flush();
          }
        }
        writer.commit();
        const output = await drain(channel);
        assertBytes(
          output,
          concat(ops.map((op) => op.expected)),
          `case ${c} prefix ${prefix}: ${ops.map((op) => op.label).join(", ")}`,
        );
      }
    });
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writeInt() matches toString() for random values starting at every offset of a 16-byte block", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 60; c++) {
        const values = Array.from({ length: 6 }, () => randomSafeInt(random));
        for (const radix of [10, 16] as const) {
          for (let prefix = 0; prefix < 16; prefix++) {
            const channel = await tinyChannel(pool, prefix);
            const writer = new BufferWriter(channel.writer);
            for (const v of values) {
              writer.writeInt(v, radix);
              writer.writeUint8(0x2c);
            }
            writer.commit();
            const text = new TextDecoder().decode(await drain(channel));
            assert.equal(text, values.map((v) => v.toString(radix) + ",").join(""), `radix ${radix} prefix ${prefix}`);
          }
        }
      }
    });
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writeInt() writes the edges: 0, -0, ±MAX_SAFE_INTEGER, powers of ten and of two", async () => {
    const values = [0, -0, 1, -1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1];
    for (let p = 1; p <= 15; p++) values.push(10 ** p, 10 ** p - 1, -(10 ** p));
    for (let p = 33; p <= 52; p++) values.push(2 ** p, 2 ** p - 1, -(2 ** p) + 1);
    values.push(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER);
    const channel = new Channel();
    const writer = new BufferWriter(channel.writer);
    for (const v of values) {
      writer.writeInt(v);
      writer.writeAscii(" ");
      writer.writeInt(v, 16);
      writer.writeAscii(" ");
    }
    writer.commit();
    const text = new TextDecoder().decode(await drain(channel));
    assert.equal(text, values.map((v) => `${v.toString()} ${v.toString(16)} `).join(""));
  });

  it("writeUtf8() splits a surrogate pair, and any character, across a block end at every offset", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    for (const char of ["\u{1f600}", "\u20ac", "\u00e9", "\ud800", "\udfff"]) {
      for (const filler of [0, 40]) {
        for (let prefix = 0; prefix < 16; prefix++) {
          const text = "x".repeat(filler) + char + "y" + char;
          const channel = await tinyChannel(pool, prefix);
          const writer = new BufferWriter(channel.writer);
          writer.writeUtf8(text);
          writer.commit();
          assertBytes(await drain(channel), utf8.encode(text), `${JSON.stringify(text)} prefix ${prefix}`);
        }
      }
    }
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writeUtf8() turns lone surrogates into U+FFFD exactly as TextEncoder does", async () => {
    const cases = [
      "\ud800",
      "\udc00",
      "a\ud800b",
      "a\udc00b",
      "\udc00\ud800",
      "\ud800\ud800\udc00",
      "\ud83d\ude00\ude00",
      "end\ud83d",
    ];
    for (const base of cases) {
      for (const text of [base, base.repeat(12), "x".repeat(33) + base]) {
        const channel = new Channel();
        const writer = new BufferWriter(channel.writer);
        writer.writeUtf8(text);
        writer.commit();
        assertBytes(await drain(channel), utf8.encode(text), JSON.stringify(text));
      }
    }
  });

  it("writeUtf8() of random strings of every length matches TextEncoder over 16-byte blocks", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    await withSeed(testSeed(), async (random) => {
      for (let c = 0; c < 300; c++) {
        const text = randomString(random, random.int(0, 60));
        const channel = await tinyChannel(pool, random.int(0, 15));
        const writer = new BufferWriter(channel.writer);
        writer.writeUtf8(text);
        writer.commit();
        assertBytes(await drain(channel), utf8.encode(text), JSON.stringify(text));
      }
    });
  });

  it("writeAscii() throws a TypeError naming the index of a non-ASCII character and writes nothing", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    for (const text of ["ab\u00e9", "\u0080", "x".repeat(50) + "\u{1f600}"]) {
      for (const prefix of [0, 10]) {
        const channel = await tinyChannel(pool, prefix);
        const writer = new BufferWriter(channel.writer);
        writer.writeAscii("ok");
        const index = [...text].findIndex((ch) => ch.charCodeAt(0) > 0x7f);
        const code = text.charCodeAt(index).toString(16).toUpperCase().padStart(4, "0");
        assert.throws(() => writer.writeAscii(text), {
          name: "TypeError",
          message:
            `Cannot write ASCII at index ${index} as every character must be from U+0000 to U+007F: received "U+${code}"`,
        });
        assert.equal(writer.bytesWritten, 2);
        writer.writeAscii("!");
        writer.commit();
        assert.equal(new TextDecoder().decode(await drain(channel)), "ok!");
      }
    }
  });

  it("commit() advances what was written, and the channel writer is free to flush after it", async () => {
    const channel = new Channel();
    const writer = new BufferWriter(channel.writer);
    assert.equal(writer.writer, channel.writer);
    writer.commit(); // nothing written: nothing happens
    writer.writeAscii("abc");
    assert.equal(writer.uncommitted, 3);
    assert.equal(channel.writer.unflushedBytes, 0, "uncommitted bytes are not in the channel");
    writer.commit();
    assert.equal(writer.uncommitted, 0);
    assert.equal(channel.writer.unflushedBytes, 3);
    await channel.writer.flush();
    const result = channel.reader.tryRead();
    assert.equal(new TextDecoder().decode(result?.buffer.toUint8Array()), "abc");
    channel.reader.advanceTo(3);
    await channel.writer.write(utf8.encode("-")); // the channel writer is free after commit()
    writer.writeInt(42);
    writer.commit();
    assert.equal(writer.bytesWritten, 5);
    assert.equal(new TextDecoder().decode(await drain(channel)), "-42");
  });

  it("a flush between writes and commit() drops the uncommitted bytes and commit() throws, as documented", async () => {
    const channel = new Channel();
    const writer = new BufferWriter(channel.writer);
    writer.writeAscii("lost");
    await channel.writer.flush();
    assert.throws(() => writer.commit(), { name: "ChannelStateError", code: "NO_MEMORY_TO_ADVANCE" });
    assert.equal(writer.uncommitted, 0);
    assert.equal(writer.bytesWritten, 0);
    writer.writeAscii("kept");
    writer.commit();
    assert.equal(new TextDecoder().decode(await drain(channel)), "kept");
  });

  it("a span that fills is advanced at once, the rest at commit()", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const writer = new BufferWriter(channel.writer);
    writer.writeAscii("0123456789abcdefXYZ");
    assert.equal(writer.uncommitted, 3);
    assert.equal(channel.writer.unflushedBytes, 16);
    writer.commit();
    assert.equal(channel.writer.unflushedBytes, 19);
    await channel.writer.flush();
    const { buffer } = await channel.reader.read();
    assert.deepEqual([...buffer].map((view) => view.length), [16, 3]);
    channel.reader.advanceTo(buffer.length);
    channel.writer.complete();
    channel.reader.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("writes after the channel writer completed throw its ChannelStateError", () => {
    const channel = new Channel();
    const writer = new BufferWriter(channel.writer);
    channel.writer.complete();
    assert.throws(() => writer.writeInt(1), ChannelStateError);
    assert.throws(() => writer.writeUtf8("x"), { code: "WRITER_COMPLETED" });
    assert.equal(writer.bytesWritten, 0);
    writer.commit();
  });

  it("bad arguments throw RangeError or TypeError and write nothing", () => {
    const channel = new Channel();
    const writer = new BufferWriter(channel.writer);
    const range: [string, () => void][] = [
      ["writeInt(1.5)", () => writer.writeInt(1.5)],
      ["writeInt(NaN)", () => writer.writeInt(NaN)],
      ["writeInt(Infinity)", () => writer.writeInt(Infinity)],
      ["writeInt(MAX_SAFE_INTEGER + 1)", () => writer.writeInt(Number.MAX_SAFE_INTEGER + 1)],
      ["writeInt(-MAX_SAFE_INTEGER - 1)", () => writer.writeInt(-Number.MAX_SAFE_INTEGER - 1)],
      ["writeInt(1, 8)", () => writer.writeInt(1, 8 as 10)],
      ["writeInt(1, '16')", () => writer.writeInt(1, "16" as unknown as 16)],
      ["writeUint8(256)", () => writer.writeUint8(256)],
      ["writeUint8(-1)", () => writer.writeUint8(-1)],
      ["writeUint8(1.5)", () => writer.writeUint8(1.5)],
      ["writeUint8(NaN)", () => writer.writeUint8(NaN)],
      ["writeUint16BE(65536)", () => writer.writeUint16BE(65536)],
      ["writeUint16LE(-1)", () => writer.writeUint16LE(-1)],
      ["writeUint32BE(2 ** 32)", () => writer.writeUint32BE(2 ** 32)],
      ["writeUint32LE(-1)", () => writer.writeUint32LE(-1)],
      ["writeUint32LE(0.5)", () => writer.writeUint32LE(0.5)],
      ["writeBigUint64BE(-1n)", () => writer.writeBigUint64BE(-1n)],
      ["writeBigUint64LE(2n ** 64n)", () => writer.writeBigUint64LE(2n ** 64n)],
    ];
    for (const [label, call] of range) assert.throws(call, RangeError, label);
    const type: [string, () => void][] = [
      ["writeInt('1')", () => writer.writeInt("1" as unknown as number)],
      ["writeInt(1n)", () => writer.writeInt(1n as unknown as number)],
      ["writeUint8('1')", () => writer.writeUint8("1" as unknown as number)],
      ["writeUint32BE(undefined)", () => writer.writeUint32BE(undefined as unknown as number)],
      ["writeBigUint64BE(1)", () => writer.writeBigUint64BE(1 as unknown as bigint)],
      ["writeAscii(1)", () => writer.writeAscii(1 as unknown as string)],
      ["writeUtf8(null)", () => writer.writeUtf8(null as unknown as string)],
      ["writeBytes('ab')", () => writer.writeBytes("ab" as unknown as Uint8Array)],
      ["writeBytes([1])", () => writer.writeBytes([1] as unknown as Uint8Array)],
      ["new BufferWriter({})", () => new BufferWriter({} as unknown as Channel["writer"])],
      ["new BufferWriter(null)", () => new BufferWriter(null as unknown as Channel["writer"])],
    ];
    for (const [label, call] of type) assert.throws(call, TypeError, label);
    assert.equal(writer.bytesWritten, 0);
    assert.equal(channel.writer.unflushedBytes, 0);
  });

  it("writes into any WritableChannel: a recording writer sees one getMemory per span and advance per fill or commit", () => {
    const calls: string[] = [];
    const memory = new Uint8Array(8);
    const committed: number[] = [];
    let pending = 0;
    const fake = {
      getMemory(sizeHint = 0): Uint8Array {
        calls.push(`getMemory(${sizeHint})`);
        pending = 0;
        return memory;
      },
      advance(n: number): void {
        calls.push(`advance(${n})`);
        for (let i = pending; i < pending + n; i++) committed.push(memory[i] as number);
        pending += n;
      },
    } as unknown as Channel["writer"];
    const writer = new BufferWriter(fake);
    for (let i = 0; i < 10; i++) writer.writeUint8(i);
    writer.writeUint16BE(0x0a0b);
    writer.commit();
    assert.deepEqual(calls, ["getMemory(0)", "advance(8)", "getMemory(0)", "advance(4)"]);
    assert.deepEqual(committed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});
