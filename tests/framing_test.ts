// Tests of framing: lengthPrefixed() and delimited() driven by readFrames() over a real Channel,
// against the plain reference in _framing_reference.ts (every option combination, random
// streams written in random pieces, 1-byte writes and empty flushes included, into pools of
// 16- and 64-byte blocks so headers and delimiters straddle blocks); writeFrame() round trips;
// every bad option and bad input with its error class and values; hostile input (a 4 GiB
// length, an endless line, an endless varint) failing fast in bounded memory; linear scanning
// of one long line; and the iterator's lifecycle (break, return, errors, abort, cancel).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Channel,
  type DecodeProgress,
  delimited,
  type DelimitedOptions,
  type Framer,
  FrameTooLargeError,
  lengthPrefixed,
  type LengthPrefixedOptions,
  MemoryPool,
  ReadableBuffer,
  type ReadableChannel,
  readFrames,
  TruncatedFrameError,
  type WritableChannel,
  writeFrame,
} from "../mod.ts";
import {
  referenceDelimited,
  type ReferenceDelimitedOptions,
  referenceEncodeDelimited,
  referenceEncodeLengthPrefixed,
  referenceLengthField,
  type ReferenceLengthOptions,
  referenceLengthPrefixed,
  type ReferenceResult,
} from "./_framing_reference.ts";
import { concat, cut, type Random, testSeed, withSeed } from "./_util.ts";

// ---- helpers ----

const utf8 = new TextEncoder();
const MiB = 1024 * 1024;

function u8(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

// One debug pool per block size, shared by every case (a pool is a WebAssembly.Memory: cheap to
// reuse, slow to create thousands of). Cases run one at a time, so each ends at 0 rented blocks.
const pools = new Map<number, MemoryPool>();
function pool(blockSize: number): MemoryPool {
  let p = pools.get(blockSize);
  if (p === undefined) {
    p = new MemoryPool({ blockSize, blocksPerSlab: 256, debug: true });
    pools.set(blockSize, p);
  }
  return p;
}

interface Run {
  frames: Uint8Array[];
  error: unknown;
  producerError: unknown;
  pool: MemoryPool;
}

/** Random piece sizes: many single bytes, some up to `max`, a few empty (an empty flush). */
function pieceSize(random: Random, max: number): number {
  const roll = random.next();
  if (roll < 0.3) return 1;
  if (roll < 0.36) return 0;
  return random.int(1, max);
}

/**
 * Writes `stream` into a fresh channel in random pieces (write(), byte-by-byte getMemory(1),
 * or getMemory() views), flushing after each, while readFrames(framer) copies out every frame.
 */
async function run(framer: Framer, stream: Uint8Array, random: Random): Promise<Run> {
  const p = pool(random.chance(0.5) ? 16 : 64);
  const pause = [0, 32, 256, 65536][random.int(0, 3)] as number;
  const channel = new Channel({ pool: p, pauseWriterThreshold: pause });
  const maxPiece = random.chance(0.5) ? 8 : 100;
  let producerError: unknown;
  const producer = (async () => {
    const { writer } = channel;
    try {
      let at = 0;
      while (at < stream.length) {
        const size = Math.min(stream.length - at, pieceSize(random, maxPiece));
        const mode = random.int(0, 2);
        if (mode === 0) {
          // deno-lint-ignore no-await-in-loop
          if ((await writer.write(stream.subarray(at, at + size))).isCompleted) return;
        } else {
          let done = 0;
          while (done < size) {
            const memory = mode === 1 ? writer.getMemory(1) : writer.getMemory();
            const n = mode === 1 ? 1 : Math.min(memory.length, size - done);
            memory.set(stream.subarray(at + done, at + done + n));
            writer.advance(n);
            done += n;
          }
          // deno-lint-ignore no-await-in-loop
          if ((await writer.flush()).isCompleted) return;
        }
        at += size;
      }
    } catch (error) {
      producerError = error;
    } finally {
      channel.writer.complete();
    }
  })();
  const frames: Uint8Array[] = [];
  let error: unknown;
  try {
    for await (const frame of readFrames(channel.reader, framer)) frames.push(frame.toUint8Array());
  } catch (e) {
    error = e;
  }
  await producer;
  return { frames, error, producerError, pool: p };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 64), (b) => b.toString(16).padStart(2, "0")).join(" ") +
    (bytes.length > 64 ? ` … (${bytes.length} bytes)` : "");
}

/** Asserts that a run decoded what the reference did, and ended the same way. */
function expectSame(actual: Run, expected: ReferenceResult, label: () => string, exactLength: boolean): void {
  const what = () => `${label()}\nexpected ${expected.frames.length} frames, error ${JSON.stringify(expected.error)}`;
  if (actual.frames.length !== expected.frames.length) {
    assert.fail(`${what()}\nreceived ${actual.frames.length} frames, error ${String(actual.error)}`);
  }
  for (let i = 0; i < actual.frames.length; i++) {
    const a = actual.frames[i] as Uint8Array;
    const e = expected.frames[i] as Uint8Array;
    if (!sameBytes(a, e)) assert.fail(`${what()}\nframe ${i}: received ${hex(a)}, expected ${hex(e)}`);
  }
  const error = actual.error;
  const e = expected.error;
  if (e === undefined) {
    if (error !== undefined) assert.fail(`${what()}\nreceived an error: ${String(error)}`);
  } else if (e.kind === "too-large") {
    if (!(error instanceof FrameTooLargeError)) assert.fail(`${what()}\nreceived ${String(error)}`);
    assert.equal(error.maxFrameLength, e.maxFrameLength, what());
    if (exactLength) {
      assert.equal(error.frameLength, e.frameLength, what());
      assert.equal(/at least/.test(error.message), e.atLeast, `${what()}\n${error.message}`);
    } else {
      // A line's end may not have arrived yet: a lower bound, above the limit, at most the reference's.
      assert.ok(
        error.frameLength > e.maxFrameLength && error.frameLength <= e.frameLength,
        `${what()}\n${error.message}`,
      );
    }
  } else if (e.kind === "truncated") {
    if (!(error instanceof TruncatedFrameError)) assert.fail(`${what()}\nreceived ${String(error)}`);
    assert.equal(error.bytesLeft, e.bytesLeft, what());
  } else if (e.kind === "varint-too-long") {
    assert.ok(error instanceof TypeError && !(error instanceof TruncatedFrameError), `${what()}\n${String(error)}`);
    assert.match((error as Error).message, /varint length field must end by its 10th byte/);
  } else if (e.kind === "negative-length") {
    assert.ok(error instanceof RangeError && !(error instanceof FrameTooLargeError), `${what()}\n${String(error)}`);
    assert.match((error as Error).message, new RegExp(`must not be negative: received ${e.frameLength}$`));
  } else {
    assert.ok(error instanceof RangeError && !(error instanceof FrameTooLargeError), `${what()}\n${String(error)}`);
    assert.equal(
      (error as Error).message,
      `Cannot decode the frame as bytesToStrip must not exceed the frame's ${e.frameBytes} bytes: received ${e.bytesToStrip}`,
    );
  }
  // The reader's error reaches the writer: its next flush rejected with the same error.
  if (error !== undefined && actual.producerError !== undefined) assert.equal(actual.producerError, error, what());
  assert.equal(actual.pool.stats().rentedBlocks, 0, `${what()}\nevery block must be back in the pool`);
}

// ---- length-prefixed: option combinations and random streams ----

type FieldLength = ReferenceLengthOptions["lengthFieldLength"];
const FIELD_LENGTHS: FieldLength[] = [1, 2, 3, 4, 8, "varint"];

function fieldSize(field: FieldLength): number {
  return field === "varint" ? 1 : field;
}

function fieldCapacity(field: FieldLength): number {
  return field === "varint" ? Number.MAX_SAFE_INTEGER : field >= 7 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * field) - 1;
}

/** Every combination: field size × byte order × offset × adjustment × strip × limit. */
function lengthCombinations(): ReferenceLengthOptions[] {
  const out: ReferenceLengthOptions[] = [];
  for (const lengthFieldLength of FIELD_LENGTHS) {
    for (const littleEndian of lengthFieldLength === "varint" ? [false] : [false, true]) {
      for (const lengthFieldOffset of [0, 1, 3]) {
        for (const lengthAdjustment of [0, -fieldSize(lengthFieldLength), 3]) {
          const header = lengthFieldOffset + fieldSize(lengthFieldLength);
          const strips = [undefined, 0, lengthFieldOffset, header + 1];
          for (const bytesToStrip of strips) {
            for (const maxFrameLength of [8 * MiB, 100]) {
              out.push({
                lengthFieldLength,
                littleEndian,
                lengthFieldOffset,
                lengthAdjustment,
                bytesToStrip,
                maxFrameLength,
              });
            }
          }
        }
      }
    }
  }
  return out;
}

/** The options object for lengthPrefixed(), leaving out some defaults to test them too. */
function lengthOptions(o: ReferenceLengthOptions, random: Random): LengthPrefixedOptions {
  const options: LengthPrefixedOptions = {};
  const keep = (isDefault: boolean) => !isDefault || random.chance(0.5);
  if (keep(o.lengthFieldLength === 4)) options.lengthFieldLength = o.lengthFieldLength;
  if (keep(!o.littleEndian)) options.littleEndian = o.littleEndian;
  if (keep(o.lengthFieldOffset === 0)) options.lengthFieldOffset = o.lengthFieldOffset;
  if (keep(o.lengthAdjustment === 0)) options.lengthAdjustment = o.lengthAdjustment;
  if (o.bytesToStrip !== undefined) options.bytesToStrip = o.bytesToStrip;
  if (keep(o.maxFrameLength === 8 * MiB)) options.maxFrameLength = o.maxFrameLength;
  return options;
}

/** A stream of mostly valid frames, with now and then a corrupt header, garbage or a cut. */
function lengthStream(o: ReferenceLengthOptions, random: Random): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = random.int(0, 10);
  for (let i = 0; i < count; i++) {
    parts.push(random.bytes(o.lengthFieldOffset));
    const roll = random.next();
    if (o.lengthFieldLength === "varint" && roll < 0.02) {
      parts.push(new Uint8Array(random.int(9, 12)).fill(0x80)); // a varint that does not end
      continue;
    }
    if (roll < 0.05) {
      // A length anywhere in the field's range: too large, negative after adjustment, or fine.
      const value = random.chance(0.5)
        ? random.int(0, 300)
        : Math.floor(random.next() * fieldCapacity(o.lengthFieldLength));
      parts.push(referenceLengthField(value, o.lengthFieldLength, o.littleEndian));
      parts.push(random.bytes(random.int(0, 20)));
      continue;
    }
    let body = random.chance(0.85) ? random.int(0, 40) : random.int(40, 300);
    if (o.lengthFieldLength === 1) body = Math.min(body, 255 + o.lengthAdjustment);
    body = Math.max(body, o.lengthAdjustment, 0);
    parts.push(referenceLengthField(body - o.lengthAdjustment, o.lengthFieldLength, o.littleEndian));
    parts.push(random.bytes(body));
  }
  if (random.chance(0.1)) parts.push(random.bytes(random.int(1, 6)));
  const stream = concat(parts);
  return random.chance(0.1) ? stream.subarray(0, random.int(0, stream.length)) : stream;
}

describe("lengthPrefixed() with readFrames() matches the reference", () => {
  const combinations = lengthCombinations();

  it(`on random streams in random pieces, for all ${combinations.length} option combinations`, async () => {
    await withSeed(testSeed(), async (random) => {
      let cases = 0;
      for (let round = 0; round < 4; round++) {
        for (const o of combinations) {
          const stream = lengthStream(o, random);
          const options = lengthOptions(o, random);
          // deno-lint-ignore no-await-in-loop
          const actual = await run(lengthPrefixed(options), stream, random);
          expectSame(
            actual,
            referenceLengthPrefixed(stream, o),
            () => `lengthPrefixed(${JSON.stringify(options)}) on ${hex(stream)}`,
            true,
          );
          cases++;
        }
      }
      assert.ok(cases >= 2500);
    });
  });

  it("decodes the Netty and tokio documentation examples", async () => {
    const cases: [LengthPrefixedOptions, number[], number[][]][] = [
      [{}, [0, 0, 0, 3, 97, 98, 99], [[97, 98, 99]]],
      [{ lengthFieldLength: 2, bytesToStrip: 0 }, [0, 3, 97, 98, 99], [[0, 3, 97, 98, 99]]],
      [{ lengthFieldLength: 2, lengthAdjustment: -2 }, [0, 5, 97, 98, 99], [[97, 98, 99]]],
      [{ lengthFieldLength: 3, lengthFieldOffset: 2, bytesToStrip: 0 }, [9, 9, 0, 0, 1, 7], [[9, 9, 0, 0, 1, 7]]],
      [{ lengthFieldLength: 3, lengthAdjustment: 2, bytesToStrip: 0 }, [0, 0, 1, 9, 9, 7], [[0, 0, 1, 9, 9, 7]]],
      [{ lengthFieldLength: 1, lengthFieldOffset: 1, lengthAdjustment: 1, bytesToStrip: 3 }, [0xca, 1, 0xfe, 7], [[
        7,
      ]]],
      [{ lengthFieldLength: 2, littleEndian: true }, [2, 0, 5, 6, 1, 0, 7], [[5, 6], [7]]],
      [{ lengthFieldLength: 8 }, [0, 0, 0, 0, 0, 0, 0, 1, 42], [[42]]],
      [{ lengthFieldLength: "varint" }, [0xac, 0x02, ...new Uint8Array(300).fill(1)], [Array(300).fill(1)]],
      [{ lengthFieldLength: "varint" }, [0x80, 0x80, 0x00, 0x00], [[], []]], // over-long zero: allowed
    ];
    for (const [options, input, frames] of cases) {
      const { reader, writer } = new Channel({ pool: pool(16) });
      await writer.write(u8(...input));
      writer.complete();
      const out: number[][] = [];
      for await (const frame of readFrames(reader, lengthPrefixed(options))) out.push([...frame.toUint8Array()]);
      assert.deepEqual(out, frames, JSON.stringify(options));
    }
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });
});

// ---- delimited: option combinations and random streams ----

const DELIMITERS: (string | Uint8Array)[] = [
  "\n",
  "\r\n",
  u8(13, 10), // strict CRLF: a lone "\n" is data
  u8(0),
  "--",
  "aba", // overlaps itself
  "\r\n\r\n",
];

function delimiterLabel(d: string | Uint8Array): string {
  return typeof d === "string" ? JSON.stringify(d) : `Uint8Array [${[...d]}]`;
}

function delimitedCombinations(): ReferenceDelimitedOptions[] {
  const out: ReferenceDelimitedOptions[] = [];
  for (const delimiter of DELIMITERS) {
    for (const keepDelimiter of [false, true]) {
      for (const maxLength of [64 * 1024, 0, 3, 20]) out.push({ delimiter, keepDelimiter, maxLength });
    }
  }
  return out;
}

function delimitedOptions(o: ReferenceDelimitedOptions, random: Random): DelimitedOptions {
  const options: DelimitedOptions = {};
  if (o.delimiter !== "\n" || random.chance(0.5)) options.delimiter = o.delimiter;
  if (o.keepDelimiter || random.chance(0.5)) options.keepDelimiter = o.keepDelimiter;
  if (o.maxLength !== 64 * 1024 || random.chance(0.5)) options.maxLength = o.maxLength;
  return options;
}

// Bytes that make up delimiters, so that they also turn up by chance, next to plain ones.
const LINE_ALPHABET = utf8.encode("ab-\r\n\0xyz");

function delimitedStream(o: ReferenceDelimitedOptions, random: Random): Uint8Array {
  const delimiter = typeof o.delimiter === "string" ? utf8.encode(o.delimiter) : o.delimiter;
  const parts: Uint8Array[] = [];
  const count = random.int(0, 12);
  for (let i = 0; i < count; i++) {
    const length = random.chance(0.9) ? random.int(0, 25) : random.int(25, 150);
    parts.push(random.chance(0.7) ? random.bytes(length, utf8.encode("xyz ")) : random.bytes(length, LINE_ALPHABET));
    parts.push(o.delimiter === "\r\n" && random.chance(0.3) ? u8(10) : delimiter);
  }
  if (random.chance(0.2)) parts.push(random.bytes(random.int(1, 30), LINE_ALPHABET));
  return concat(parts);
}

describe("delimited() with readFrames() matches the reference", () => {
  const combinations = delimitedCombinations();

  it(`on random streams in random pieces, for all ${combinations.length} option combinations`, async () => {
    await withSeed(testSeed(), async (random) => {
      let cases = 0;
      for (let round = 0; round < 50; round++) {
        for (const o of combinations) {
          const stream = delimitedStream(o, random);
          const options = delimitedOptions(o, random);
          // deno-lint-ignore no-await-in-loop
          const actual = await run(delimited(options), stream, random);
          expectSame(
            actual,
            referenceDelimited(stream, o),
            () =>
              `delimited({ delimiter: ${
                delimiterLabel(o.delimiter)
              }, maxLength: ${o.maxLength}, keepDelimiter: ${o.keepDelimiter} }) on ${hex(stream)}`,
            false,
          );
          cases++;
        }
      }
      assert.ok(cases >= 2500);
    });
  });

  it("splits lines as documented, and a lone \\n ends a line in \\r\\n mode only", async () => {
    const cases: [DelimitedOptions, string, string[]][] = [
      [{}, "a\nb\r\n\nc\n", ["a", "b\r", "", "c"]],
      [{ delimiter: "\r\n" }, "a\nb\r\n\r\nc\r\r\n", ["a", "b", "", "c\r"]],
      [{ delimiter: u8(13, 10) }, "a\nb\r\n\r\n", ["a\nb", ""]],
      [{ delimiter: "\r\n", keepDelimiter: true }, "a\nb\r\n", ["a\n", "b\r\n"]],
      [{ delimiter: "--", keepDelimiter: true }, "x---y--", ["x--", "-y--"]],
      [{ delimiter: "aba" }, "xababay", ["x"]], // then "bay" is left: see the truncation tests
    ];
    for (const [options, input, lines] of cases) {
      const { reader, writer } = new Channel({ pool: pool(16) });
      await writer.writeUtf8(input);
      writer.complete();
      const out: string[] = [];
      try {
        for await (const line of readFrames(reader, delimited(options))) out.push(text(line.toUint8Array()));
      } catch (error) {
        assert.ok(error instanceof TruncatedFrameError && options.delimiter === "aba", String(error));
      }
      assert.deepEqual(out, lines, JSON.stringify(options));
    }
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });
});

// ---- writeFrame() ----

/** What the writer flushed, as one array (consumed). */
function written(reader: ReadableChannel): Uint8Array {
  const result = reader.tryRead();
  if (result === undefined) return new Uint8Array(0);
  const bytes = result.buffer.toUint8Array();
  reader.advanceTo(result.buffer.length);
  return bytes;
}

/** A payload as a Uint8Array or as a multi-segment ReadableBuffer. */
function payloadForm(payload: Uint8Array, random: Random): Uint8Array | ReadableBuffer {
  if (random.chance(0.5)) return payload;
  const sizes: number[] = [];
  for (let left = payload.length; left > 0;) {
    const n = Math.min(left, random.int(1, 20));
    sizes.push(n);
    left -= n;
  }
  return ReadableBuffer.from(cut(payload, sizes));
}

describe("writeFrame()", () => {
  it("writes what the reference encodes, and readFrames() gives the payloads back (length-prefixed)", async () => {
    await withSeed(testSeed(), async (random) => {
      for (const lengthFieldLength of FIELD_LENGTHS) {
        for (const littleEndian of lengthFieldLength === "varint" ? [false] : [false, true]) {
          for (const lengthAdjustment of [0, -fieldSize(lengthFieldLength), 5]) {
            const o: ReferenceLengthOptions = {
              lengthFieldLength,
              littleEndian,
              lengthFieldOffset: 0,
              lengthAdjustment,
              bytesToStrip: undefined,
              maxFrameLength: 8 * MiB,
            };
            const framer = lengthPrefixed(lengthOptions(o, random));
            const longest = lengthFieldLength === 1 ? 255 + lengthAdjustment : 5000;
            const payloads = Array.from(
              { length: 30 },
              () => random.bytes(random.chance(0.8) ? random.int(5, 60) : random.int(60, longest)),
            );
            if (lengthFieldLength === 1) payloads.push(random.bytes(255 + lengthAdjustment));
            const { reader, writer } = new Channel({ pool: pool(64), pauseWriterThreshold: 0 });
            for (const payload of payloads) writeFrame(writer, framer, payloadForm(payload, random));
            // deno-lint-ignore no-await-in-loop
            await writer.flush();
            const expected = concat(payloads.map((p) => referenceEncodeLengthPrefixed(p, o)));
            assert.deepEqual(written(reader), expected, JSON.stringify(o));
            for (const payload of payloads) writeFrame(writer, framer, payload);
            writer.complete();
            const back: Uint8Array[] = [];
            // deno-lint-ignore no-await-in-loop
            for await (const frame of readFrames(reader, framer)) back.push(frame.toUint8Array());
            assert.deepEqual(back, payloads, JSON.stringify(o));
          }
        }
      }
      assert.equal(pool(64).stats().rentedBlocks, 0);
    });
  });

  it("writes payload + delimiter, refuses payloads that would not come back whole, and round-trips (delimited)", async () => {
    await withSeed(testSeed(), async (random) => {
      let refused = 0;
      for (const o of delimitedCombinations()) {
        if (o.maxLength < 20) continue;
        const framer = delimited(delimitedOptions(o, random));
        const { reader, writer } = new Channel({ pool: pool(16), pauseWriterThreshold: 0 });
        const accepted: Uint8Array[] = [];
        const expected: Uint8Array[] = [];
        for (let i = 0; i < 60; i++) {
          const payload = random.bytes(random.int(0, 8), LINE_ALPHABET);
          const form = payloadForm(payload, random);
          const encoded = referenceEncodeDelimited(payload, o);
          if (encoded === undefined) {
            assert.throws(
              () => writeFrame(writer, framer, form),
              (e) =>
                e instanceof TypeError &&
                /^Cannot encode the frame as the payload must not contain the delimiter: received a payload with one at offset \d+$/
                  .test(e.message),
              `${delimiterLabel(o.delimiter)} ${hex(payload)}`,
            );
            refused++;
            continue;
          }
          writeFrame(writer, framer, form);
          accepted.push(payload);
          expected.push(encoded);
        }
        // deno-lint-ignore no-await-in-loop
        await writer.flush();
        assert.deepEqual(written(reader), concat(expected), delimiterLabel(o.delimiter));
        for (const payload of accepted) writeFrame(writer, framer, payload);
        writer.complete();
        const back: Uint8Array[] = [];
        // deno-lint-ignore no-await-in-loop
        for await (const frame of readFrames(reader, framer)) back.push(frame.toUint8Array());
        const delimiter = typeof o.delimiter === "string" ? utf8.encode(o.delimiter) : o.delimiter;
        assert.deepEqual(back, accepted.map((p) => (o.keepDelimiter ? concat([p, delimiter]) : p)));
      }
      assert.ok(refused > 50, `only ${refused} payloads were refused`);
      assert.equal(pool(16).stats().rentedBlocks, 0);
    });
  });

  it("copies a large payload a block at a time (no oversize block) and does not flush", () => {
    const p = new MemoryPool({ blockSize: 64, debug: true });
    const { reader, writer } = new Channel({ pool: p, pauseWriterThreshold: 0 });
    const payload = new Uint8Array(10_000).map((_, i) => i * 7);
    writeFrame(writer, lengthPrefixed(), payload);
    writeFrame(writer, delimited({ delimiter: "\r\n" }), payload.map((b) => (b === 10 ? 11 : b)));
    assert.equal(p.stats().oversizeBlocks, 0);
    assert.equal(writer.unflushedBytes, 4 + 10_000 + 10_000 + 2);
    assert.equal(reader.tryRead(), undefined, "nothing is visible before a flush");
    writer.complete();
    reader.complete();
    assert.equal(p.stats().rentedBlocks, 0);
  });
});

// ---- bad options and bad input ----

function rejectsWith<E extends Error>(
  type: new (...args: never[]) => E,
  check: (error: E) => void,
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof type, `expected ${type.name}, received ${String(error)}`);
    check(error);
    return true;
  };
}

/** readFrames over `input` written at once and completed; returns the error the loop throws. */
async function decodeError(framer: Framer, input: Uint8Array): Promise<unknown> {
  const { reader, writer } = new Channel({ pool: pool(16) });
  await writer.write(input);
  writer.complete();
  try {
    for await (const _ of readFrames(reader, framer)) { /* drain */ }
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("bad options", () => {
  it("lengthPrefixed() rejects each bad option at creation with a RangeError or TypeError", () => {
    const bad: [unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, string][] = [
      [
        { lengthFieldLength: 5 },
        RangeError,
        'Cannot create the length-prefixed framer as lengthFieldLength must be 1, 2, 3, 4, 8 or "varint": received 5',
      ],
      [{ lengthFieldLength: 0 }, RangeError, "received 0"],
      [{ lengthFieldLength: "4" }, TypeError, 'received "4"'],
      [{ lengthFieldLength: "uleb128" }, TypeError, 'received "uleb128"'],
      [{ littleEndian: 1 }, TypeError, "littleEndian must be a boolean: received 1"],
      [
        { lengthFieldLength: "varint", littleEndian: true },
        TypeError,
        "littleEndian does not apply to a varint length field: received true",
      ],
      [{ lengthFieldOffset: -1 }, RangeError, "lengthFieldOffset must be a non-negative integer: received -1"],
      [{ lengthFieldOffset: 1.5 }, RangeError, "received 1.5"],
      [{ lengthFieldOffset: "1" }, TypeError, 'received "1"'],
      [{ lengthAdjustment: 0.5 }, RangeError, "lengthAdjustment must be an integer: received 0.5"],
      [{ lengthAdjustment: Number.NaN }, RangeError, "received NaN"],
      [{ bytesToStrip: -1 }, RangeError, "bytesToStrip must be a non-negative integer: received -1"],
      [{ maxFrameLength: -1 }, RangeError, "maxFrameLength must be a non-negative integer: received -1"],
      [{ maxFrameLength: Infinity }, RangeError, "received Infinity"],
      [{ maxFrameLength: 2n }, TypeError, "received 2n"],
      [null, TypeError, "options must be an object: received null"],
    ];
    for (const [options, type, message] of bad) {
      assert.throws(
        () => lengthPrefixed(options as LengthPrefixedOptions),
        (error) => error instanceof type && error.message.endsWith(message),
        JSON.stringify(options, (_, v) => (typeof v === "bigint" ? `${v}n` : v)),
      );
    }
    for (const lengthFieldLength of FIELD_LENGTHS) assert.ok(lengthPrefixed({ lengthFieldLength }));
    assert.ok(lengthPrefixed({ lengthAdjustment: -4, maxFrameLength: 0, bytesToStrip: 0 }));
  });

  it("delimited() rejects each bad option at creation with a RangeError or TypeError", () => {
    const bad: [unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, string][] = [
      [{ delimiter: "" }, RangeError, "Cannot create the delimited framer as delimiter must not be empty: received 0"],
      [{ delimiter: u8() }, RangeError, "delimiter must not be empty: received 0"],
      [{ delimiter: 10 }, TypeError, "delimiter must be a string or a Uint8Array: received 10"],
      [{ delimiter: [10] }, TypeError, "received [object Array]"],
      [{ maxLength: -1 }, RangeError, "maxLength must be a non-negative integer: received -1"],
      [{ maxLength: 2.5 }, RangeError, "received 2.5"],
      [{ maxLength: "10" }, TypeError, 'received "10"'],
      [{ keepDelimiter: "yes" }, TypeError, 'keepDelimiter must be a boolean: received "yes"'],
      ["\n", TypeError, 'options must be an object: received "\\n"'],
    ];
    for (const [options, type, message] of bad) {
      assert.throws(
        () => delimited(options as DelimitedOptions),
        (error) => error instanceof type && error.message.endsWith(message),
        JSON.stringify(options),
      );
    }
  });

  it("a delimiter array changed after creation does not change the framer", async () => {
    const delimiter = u8(0x3b);
    const framer = delimited({ delimiter });
    delimiter[0] = 0x2c;
    assert.equal(await decodeError(framer, utf8.encode("a;b;")), undefined);
    const error = await decodeError(framer, utf8.encode("a,b,"));
    assert.ok(error instanceof TruncatedFrameError && error.bytesLeft === 4);
  });

  it("readFrames() and writeFrame() reject a framer or payload of the wrong shape", () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    assert.throws(
      () => readFrames(reader, {} as Framer),
      {
        name: "TypeError",
        message: "Cannot read frames as framer must have a decode method: received [object Object]",
      },
    );
    assert.throws(() => writeFrame(writer, lengthPrefixed(), "hi" as unknown as Uint8Array), {
      name: "TypeError",
      message: 'Cannot write the frame as payload must be a Uint8Array or a ReadableBuffer: received "hi"',
    });
    assert.throws(() => writeFrame(writer, {} as Framer, u8()), TypeError);
    reader.complete();
    writer.complete();
  });
});

describe("bad input", () => {
  it("a declared length over maxFrameLength throws FrameTooLargeError with both lengths", async () => {
    const error = await decodeError(lengthPrefixed({ maxFrameLength: 10 }), u8(0, 0, 0, 11));
    assert.ok(error instanceof FrameTooLargeError && error instanceof RangeError);
    assert.equal(error.frameLength, 11);
    assert.equal(error.maxFrameLength, 10);
    assert.equal(error.name, "FrameTooLargeError");
    assert.equal(error.message, "Cannot decode the frame as its length must be at most 10 bytes: received 11");
    // Exactly the limit is fine; the adjustment counts.
    assert.equal(
      await decodeError(lengthPrefixed({ maxFrameLength: 10 }), u8(0, 0, 0, 10, ...new Uint8Array(10))),
      undefined,
    );
    const adjusted = await decodeError(lengthPrefixed({ maxFrameLength: 10, lengthAdjustment: 1 }), u8(0, 0, 0, 10));
    assert.ok(adjusted instanceof FrameTooLargeError && adjusted.frameLength === 11);
  });

  it("an 8-byte length of 2^64 - 1 is too large, not a wrong number", async () => {
    const error = await decodeError(lengthPrefixed({ lengthFieldLength: 8 }), new Uint8Array(8).fill(0xff));
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.frameLength, 2 ** 64);
    assert.equal(error.maxFrameLength, 8 * MiB);
  });

  it("a varint over the limit throws as soon as its bytes pass it, saying 'at least' while it goes on", async () => {
    const error = await decodeError(
      lengthPrefixed({ lengthFieldLength: "varint", maxFrameLength: 200 }),
      u8(0xc9, 0x01), // the varint ends at its second byte
    );
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.frameLength, 73 + 128);
    assert.equal(error.message, "Cannot decode the frame as its length must be at most 200 bytes: received 201");
    const early = await decodeError(lengthPrefixed({ lengthFieldLength: "varint", maxFrameLength: 20 }), u8(0xff));
    assert.ok(early instanceof FrameTooLargeError);
    assert.equal(early.frameLength, 127);
    assert.equal(
      early.message,
      "Cannot decode the frame as its length must be at most 20 bytes: received at least 127",
    );
  });

  it("a varint longer than 10 bytes throws a TypeError at its 10th byte", async () => {
    const framer = lengthPrefixed({ lengthFieldLength: "varint" });
    const error = await decodeError(framer, new Uint8Array(10).fill(0x80));
    assert.ok(error instanceof TypeError);
    assert.equal(
      (error as TypeError).message,
      "Cannot decode the frame as a varint length field must end by its 10th byte (whose continuation bit 0x80 must be clear): received 128",
    );
    // Ten bytes that end are fine (a zero-length frame written the long way).
    assert.equal(await decodeError(framer, u8(...new Uint8Array(9).fill(0x80), 0)), undefined);
    // Nine bytes and the end of the stream: truncated, not too long.
    const cut9 = await decodeError(framer, new Uint8Array(9).fill(0x80));
    assert.ok(cut9 instanceof TruncatedFrameError && cut9.bytesLeft === 9);
  });

  it("a length below 0 after lengthAdjustment throws a RangeError", async () => {
    const error = await decodeError(lengthPrefixed({ lengthFieldLength: 2, lengthAdjustment: -2 }), u8(0, 1, 0));
    assert.ok(error instanceof RangeError && !(error instanceof FrameTooLargeError));
    assert.equal(
      error.message,
      "Cannot decode the frame as its length (the length field's 1 plus lengthAdjustment -2) must not be negative: received -1",
    );
  });

  it("bytesToStrip past the end of a frame throws a RangeError", async () => {
    const error = await decodeError(lengthPrefixed({ lengthFieldLength: 1, bytesToStrip: 4 }), u8(2, 7, 7));
    assert.ok(error instanceof RangeError);
    assert.equal(
      (error as RangeError).message,
      "Cannot decode the frame as bytesToStrip must not exceed the frame's 3 bytes: received 4",
    );
  });

  it("the stream ending inside a frame throws TruncatedFrameError with the bytes left", async () => {
    const checks: [Framer, Uint8Array, number][] = [
      [lengthPrefixed(), u8(0, 0, 0, 1, 9, 0, 0), 2], // a whole frame, then 2 bytes of a header
      [lengthPrefixed(), u8(0, 0, 0, 3, 1, 2), 6],
      [lengthPrefixed({ lengthFieldOffset: 2 }), u8(1), 1],
      [delimited(), utf8.encode("line\nno end"), 6],
      [delimited({ delimiter: "\r\n" }), utf8.encode("a\r"), 2],
      [delimited({ delimiter: "--" }), utf8.encode("a--b-"), 2],
    ];
    for (const [framer, input, left] of checks) {
      const error = await decodeError(framer, input);
      assert.ok(error instanceof TruncatedFrameError && error instanceof TypeError, String(error));
      assert.equal(error.bytesLeft, left);
      assert.equal(
        error.message,
        `Cannot decode the frame as the stream ended inside it: received ${left} trailing bytes`,
      );
    }
    assert.equal(await decodeError(delimited(), u8()), undefined, "an empty stream has no frames and no error");
  });

  it("a line longer than maxLength throws FrameTooLargeError: exact when its end was seen, else a lower bound", async () => {
    const exact = await decodeError(delimited({ maxLength: 3 }), utf8.encode("abcd\n"));
    assert.ok(exact instanceof FrameTooLargeError);
    assert.equal(exact.frameLength, 4);
    assert.equal(exact.message, "Cannot decode the frame as its length must be at most 3 bytes: received 4");
    const open = await decodeError(delimited({ maxLength: 3 }), utf8.encode("abcdefg"));
    assert.ok(open instanceof FrameTooLargeError);
    assert.equal(open.frameLength, 7);
    assert.equal(open.message, "Cannot decode the frame as its length must be at most 3 bytes: received at least 7");
    // At the limit exactly: fine, with "\r\n" counted as the delimiter, not the line.
    assert.equal(await decodeError(delimited({ maxLength: 3, delimiter: "\r\n" }), utf8.encode("abc\r\n")), undefined);
    const crlf = await decodeError(delimited({ maxLength: 3, delimiter: "\r\n" }), utf8.encode("abcd\r"));
    assert.ok(crlf instanceof FrameTooLargeError && crlf.frameLength === 4, String(crlf));
  });

  it("writeFrame() refuses what cannot be encoded", () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    assert.throws(() => writeFrame(writer, lengthPrefixed({ maxFrameLength: 3 }), u8(1, 2, 3, 4)), {
      name: "FrameTooLargeError",
      message: "Cannot encode the frame as its length must be at most 3 bytes: received 4",
      frameLength: 4,
      maxFrameLength: 3,
    });
    assert.throws(() => writeFrame(writer, delimited({ maxLength: 1 }), u8(1, 2)), FrameTooLargeError);
    assert.throws(() => writeFrame(writer, lengthPrefixed({ lengthFieldLength: 1 }), new Uint8Array(256)), {
      name: "RangeError",
      message:
        "Cannot encode the frame as the length field's value (the payload's 256 bytes minus lengthAdjustment 0) must be from 0 to 255: received 256",
    });
    assert.throws(() => writeFrame(writer, lengthPrefixed({ lengthAdjustment: 2 }), u8(1)), RangeError);
    assert.throws(() => writeFrame(writer, lengthPrefixed({ lengthFieldOffset: 1 }), u8(1)), {
      name: "TypeError",
      message: "Cannot encode the frame as lengthFieldOffset must be 0 (a prefix cannot be invented): received 1",
    });
    for (const options of [{ bytesToStrip: 0 }, { lengthFieldLength: "varint" as const, bytesToStrip: 1 }]) {
      assert.throws(() => writeFrame(writer, lengthPrefixed(options), u8(1)), TypeError, JSON.stringify(options));
    }
    assert.throws(() => writeFrame(writer, delimited(), utf8.encode("a\nb")), {
      name: "TypeError",
      message:
        "Cannot encode the frame as the payload must not contain the delimiter: received a payload with one at offset 1",
    });
    assert.throws(() => writeFrame(writer, delimited({ delimiter: "aba" }), utf8.encode("xab")), /at offset 1$/);
    assert.equal(writer.unflushedBytes, 0, "a refused frame writes nothing");
    reader.complete();
    writer.complete();
  });

  it("a framer that returns a frame without consuming it is an error, not an endless loop", async () => {
    const stuck: Framer = {
      decode: (buffer) => buffer.slice(0, 0),
      encode: () => {},
    };
    const error = await decodeError(stuck, u8(1));
    assert.ok(error instanceof RangeError);
    assert.match((error as Error).message, /^Cannot read frames as the framer must move consumed forward/);
  });
});

// ---- hostile input: fail fast, bounded memory ----

describe("hostile input", () => {
  it("a 4 GiB declared length fails as soon as the header arrives, before any payload", async () => {
    const p = new MemoryPool({ blockSize: 4096, debug: true });
    const { reader, writer } = new Channel({ pool: p });
    const frames = readFrames(reader, lengthPrefixed());
    const step = frames.next();
    await writer.write(u8(0xff, 0xff));
    await writer.write(u8(0xff, 0xff)); // the header is complete; no payload byte sent
    await assert.rejects(
      step,
      rejectsWith(FrameTooLargeError, (e) => {
        assert.equal(e.frameLength, 2 ** 32 - 1);
        assert.equal(e.maxFrameLength, 8 * MiB);
      }),
    );
    assert.ok(p.stats().rentedBlocks <= 1);
    // The reader was completed with the error: the writer learns of it on its next flush.
    await assert.rejects(writer.write(new Uint8Array(4096)), FrameTooLargeError);
    writer.complete();
    assert.equal(p.stats().rentedBlocks, 0);
  });

  for (
    const [name, framer, endless] of [
      ["delimited()", delimited(), 0x61],
      ['delimited({ delimiter: "\\r\\n" })', delimited({ delimiter: "\r\n" }), 0x0d],
      ['delimited({ delimiter: "--" })', delimited({ delimiter: "--" }), 0x2d - 1],
    ] as const
  ) {
    it(`an endless line fails after about maxLength bytes, in bounded memory: ${name}`, async () => {
      const p = new MemoryPool({ blockSize: 4096, debug: true });
      // The writer runs ahead of the reader by less than the pause threshold plus a write.
      const pause = 8192;
      const channel = new Channel({ pool: p, pauseWriterThreshold: pause });
      const chunk = new Uint8Array(4096).fill(endless);
      let sent = 0;
      let peak = 0;
      const producer = (async () => {
        try {
          for (;;) {
            // deno-lint-ignore no-await-in-loop
            await channel.writer.write(chunk);
            sent += chunk.length;
            peak = Math.max(peak, p.stats().rentedBlocks);
            if (sent > 64 * MiB) throw new Error("the endless line was never refused");
          }
        } catch (error) {
          return error;
        } finally {
          channel.writer.complete();
        }
      })();
      let error: unknown;
      try {
        for await (const _ of readFrames(channel.reader, framer)) assert.fail("no frame expected");
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof FrameTooLargeError, String(error));
      assert.equal(error.maxFrameLength, 65536);
      assert.ok(error.frameLength > 65536);
      assert.equal(await producer, error, "the writer's next write rejects with the reader's error");
      // Refused once maxLength + a delimiter's length arrived, plus what was in flight.
      const bound = 65536 + 2 + pause + 2 * chunk.length;
      assert.ok(sent <= bound, `refused only after ${sent} bytes`);
      assert.ok(peak <= Math.ceil(bound / 4096) + 1, `${peak} blocks rented at the peak`);
      assert.equal(p.stats().rentedBlocks, 0);
    });
  }

  it("a varint longer than 10 bytes fails at its 10th byte, written one byte at a time", async () => {
    const p = new MemoryPool({ blockSize: 16, debug: true });
    const channel = new Channel({ pool: p });
    let failed: unknown;
    readFrames(channel.reader, lengthPrefixed({ lengthFieldLength: "varint" })).next().catch((e) => (failed = e));
    for (let sent = 1; sent <= 10; sent++) {
      // deno-lint-ignore no-await-in-loop
      await channel.writer.write(u8(0x80));
      // deno-lint-ignore no-await-in-loop
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(failed === undefined, sent < 10, `after ${sent} bytes: ${String(failed)}`);
    }
    assert.ok(failed instanceof TypeError && /varint/.test(failed.message));
    await assert.rejects(channel.writer.write(u8(0x80)), (e) => e === failed);
    channel.writer.complete();
    assert.equal(p.stats().rentedBlocks, 0);
  });
});

// ---- linear time on long frames ----

/** Counts the bytes ReadableBuffer.indexOf examines while `body` runs (patches the prototype). */
async function countScanned(body: () => Promise<void>): Promise<number> {
  const original = ReadableBuffer.prototype.indexOf;
  let scanned = 0;
  ReadableBuffer.prototype.indexOf = function (this: ReadableBuffer, value: number | Uint8Array, fromIndex = 0) {
    const found = original.call(this, value, fromIndex);
    const k = typeof value === "number" ? 1 : value.length;
    scanned += (found < 0 ? this.length : found + k) - fromIndex;
    return found;
  };
  try {
    await body();
  } finally {
    ReadableBuffer.prototype.indexOf = original;
  }
  return scanned;
}

/** One `length`-byte line (plus its delimiter) fed in 4 KiB writes; returns the line's length as read. */
async function feedOneLine(framer: Framer, length: number, delimiter: Uint8Array): Promise<number> {
  const p = pool(4096);
  const channel = new Channel({ pool: p });
  const chunk = new Uint8Array(4096).fill(0x61);
  const producer = (async () => {
    for (let left = length; left > 0; left -= chunk.length) {
      // deno-lint-ignore no-await-in-loop
      await channel.writer.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    await channel.writer.write(delimiter);
    channel.writer.complete();
  })();
  let got = -1;
  for await (const frame of readFrames(channel.reader, framer)) got = frame.length;
  await producer;
  assert.equal(p.stats().rentedBlocks, 0);
  return got;
}

describe("long frames take linear time", () => {
  for (
    const [name, delimiter, options] of [
      ['"\\n"', u8(10), {}],
      ['"\\r\\n"', u8(13, 10), { delimiter: "\r\n" }],
      ["strict CRLF bytes", u8(13, 10), { delimiter: u8(13, 10) }],
    ] as const
  ) {
    it(`one 8 MiB line in 4 KiB writes is scanned once (delimiter ${name})`, async () => {
      const framer = delimited({ ...options, maxLength: 16 * MiB });
      let got = 0;
      const scanned = await countScanned(async () => {
        got = await feedOneLine(framer, 8 * MiB, delimiter);
      });
      assert.equal(got, 8 * MiB);
      // Every byte once, plus at most (delimiter length - 1) bytes again per read; a rescan from
      // the line's start on every read would be ~2048 times as much.
      assert.ok(scanned <= 8 * MiB + delimiter.length + 4096 * (delimiter.length - 1), `${scanned} bytes scanned`);
      assert.ok(scanned >= 8 * MiB);
      // (Wall-clock time is measured in bench/framing.ts, not asserted here: the machine is noisy.)
    });
  }

  it("one 8 MiB length-prefixed frame in 4 KiB writes is decoded a few times, not once per write", async () => {
    const p = pool(4096);
    const channel = new Channel({ pool: p });
    const inner = lengthPrefixed();
    let calls = 0;
    const counting: Framer = {
      decode(buffer: ReadableBuffer, progress: DecodeProgress) {
        calls++;
        return inner.decode(buffer, progress);
      },
      encode: (writer: WritableChannel, payload: Uint8Array | ReadableBuffer) => inner.encode(writer, payload),
    };
    const producer = (async () => {
      await channel.writer.write(u8(0, 0x80, 0, 0));
      const chunk = new Uint8Array(4096).fill(7);
      // deno-lint-ignore no-await-in-loop
      for (let i = 0; i < 2048; i++) await channel.writer.write(chunk);
      channel.writer.complete();
    })();
    let got = -1;
    for await (const frame of readFrames(channel.reader, counting)) got = frame.length;
    await producer;
    assert.equal(got, 8 * MiB);
    assert.ok(calls <= 8, `decode called ${calls} times`); // readAtLeast(frame length) after the header
    assert.equal(p.stats().rentedBlocks, 0);
  });
});

// ---- the iterator's lifecycle ----

/** A reader that counts its reads. */
function countingReader(reader: ReadableChannel): { reader: ReadableChannel; reads: () => number } {
  let reads = 0;
  return {
    reader: {
      read: (options) => {
        reads++;
        return reader.read(options);
      },
      readAtLeast: (n, options) => {
        reads++;
        return reader.readAtLeast(n, options);
      },
      tryRead: () => reader.tryRead(),
      advanceTo: (consumed, examined) => reader.advanceTo(consumed, examined),
      cancelPendingRead: () => reader.cancelPendingRead(),
      complete: (error) => reader.complete(error),
    },
    reads: () => reads,
  };
}

describe("readFrames() lifecycle", () => {
  it("yields every frame of one read without reading again, each valid until the next step", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const counted = countingReader(reader);
    for (let i = 0; i < 100; i++) writeFrame(writer, lengthPrefixed({ lengthFieldLength: 1 }), u8(i, i, i));
    await writer.flush();
    writer.complete();
    let i = 0;
    for await (const frame of readFrames(counted.reader, lengthPrefixed({ lengthFieldLength: 1 }))) {
      assert.deepEqual([...frame.toUint8Array()], [i, i, i]);
      i++;
    }
    assert.equal(i, 100);
    assert.equal(counted.reads(), 1);
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("break completes the reader cleanly: the writer's flush reports isCompleted", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    await writer.writeUtf8("a\nb\nc\n");
    for await (const line of readFrames(reader, delimited())) {
      assert.equal(text(line.toUint8Array()), "a");
      break;
    }
    assert.deepEqual(await writer.writeUtf8("d\n"), { isCompleted: true, isCanceled: false });
    writer.complete();
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("return() while a read waits ends the loop without an error", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const frames = readFrames(reader, delimited());
    const step = frames.next();
    assert.deepEqual(await frames.return?.(), { done: true, value: undefined });
    assert.deepEqual(await step, { done: true, value: undefined });
    assert.deepEqual(await frames.next(), { done: true, value: undefined });
    assert.equal((await writer.flush()).isCompleted, true);
    writer.complete();
  });

  it("next() calls made together run one after the other", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const frames = readFrames(reader, delimited());
    // Each frame is copied before the next step starts (it dies then).
    const copy = (r: IteratorResult<ReadableBuffer>) => (r.done ? "done" : text(r.value.toUint8Array()));
    const a = frames.next().then(copy);
    const b = frames.next().then(copy);
    await writer.writeUtf8("one\n");
    assert.equal(await a, "one");
    await writer.writeUtf8("two\n");
    assert.equal(await b, "two");
    writer.complete();
    assert.equal((await frames.next()).done, true);
  });

  it("a framer's error completes the reader with it, so the writer's flush rejects with it too", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const frames = readFrames(reader, lengthPrefixed({ maxFrameLength: 1 }));
    await writer.write(u8(0, 0, 0, 1, 5, 0, 0, 0, 2));
    const first = await frames.next();
    assert.deepEqual([...(first.value as ReadableBuffer).toUint8Array()], [5]);
    const error = await frames.next().catch((e: unknown) => e);
    assert.ok(error instanceof FrameTooLargeError);
    await assert.rejects(writer.flush(), (e) => e === error);
    assert.deepEqual(await frames.next(), { done: true, value: undefined });
    writer.complete();
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("a framer's error reaches a writer already waiting on a flush at once: the flush rejects with it", async () => {
    for (const framer of [lengthPrefixed({ maxFrameLength: 10 }), delimited({ maxLength: 10 })]) {
      const { reader, writer } = new Channel({ pool: pool(16), pauseWriterThreshold: 64, resumeWriterThreshold: 32 });
      // A header declaring 1000 bytes (or an endless line), then enough to pause the writer.
      const waiting = writer.write(u8(0, 0, 3, 232, ...new Array<number>(100).fill(0x61)));
      const settled = waiting.then(() => "resolved", (e: unknown) => e);
      const error = await readFrames(reader, framer).next().catch((e: unknown) => e);
      assert.ok(error instanceof FrameTooLargeError);
      assert.equal(await settled, error, "the waiting write rejects with the error, not { isCompleted: false }");
      writer.complete();
    }
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("the writer's error rejects the step and ends the loop", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const frames = readFrames(reader, delimited());
    const boom = new Error("boom");
    await writer.writeUtf8("ok\npartial");
    writer.complete(boom);
    await assert.rejects(frames.next(), (e) => e === boom);
    assert.deepEqual(await frames.next(), { done: true, value: undefined });
  });

  it("an aborted signal rejects with its reason and completes the reader with it", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const controller = new AbortController();
    const frames = readFrames(reader, delimited(), { signal: controller.signal });
    await writer.writeUtf8("a\nb\n");
    assert.equal((await frames.next()).done, false);
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(frames.next(), (e) => e === reason, "even with a frame ready");
    await assert.rejects(writer.flush(), (e) => e === reason);
    writer.complete();

    const second = new Channel({ pool: pool(16) });
    const controller2 = new AbortController();
    const waiting = readFrames(second.reader, delimited(), { signal: controller2.signal }).next();
    controller2.abort(reason);
    await assert.rejects(waiting, (e) => e === reason, "while a read waits");
    second.writer.complete();
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("a canceled read ends the loop after its frames and leaves the reader open at the next frame", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    const frames = readFrames(reader, delimited());
    const step = frames.next();
    reader.cancelPendingRead();
    assert.deepEqual(await step, { done: true, value: undefined });
    await writer.writeUtf8("a\nhalf");
    const result = await reader.read();
    assert.equal(text(result.buffer.toUint8Array()), "a\nhalf");
    reader.advanceTo(2, result.buffer.length);
    await writer.writeUtf8(" line\n");
    writer.complete();
    const rest: string[] = [];
    for await (const line of readFrames(reader, delimited())) rest.push(text(line.toUint8Array()));
    assert.deepEqual(rest, ["half line"]);
    assert.equal(pool(16).stats().rentedBlocks, 0);
  });

  it("frames of a multi-segment read are slices of pool memory, not copies", async () => {
    const { reader, writer } = new Channel({ pool: pool(16) });
    await writer.write(u8(0, 0, 0, 40, ...new Uint8Array(40).fill(9)));
    writer.complete();
    for await (const frame of readFrames(reader, lengthPrefixed())) {
      assert.equal(frame.length, 40);
      assert.equal(frame.isSingleSegment, false);
      for (const view of frame) assert.equal(view.buffer instanceof ArrayBuffer && view.byteLength <= 16, true);
    }
  });
});
