// Tests of UTF-8 decoding and validation: the utf8Validate kernel (SIMD build against scalar
// build against the TypeScript reference, byte for byte), Utf8Decoder against TextDecoder and
// the WHATWG reference decoder (replacement and fatal, stream and not, BOM handling), and
// validateUtf8 against both, on seeded random inputs cut at random segment boundaries, as
// ReadableBuffer.from(chunks) and as pool buffers from a real Channel over 16- and 64-byte
// blocks. Every bad input has a test with its exact error class and offset.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Channel, delimited, MemoryPool, ReadableBuffer, readFrames, Utf8Decoder, validateUtf8 } from "../mod.ts";
import { compileKernels, instantiateKernels, type Kernels } from "../src/_wasm/kernels.ts";
import { type KernelPath, resetKernelLayerForTesting, setKernelPath } from "../src/_wasm/paths.ts";
import { kernelsAvailable } from "../src/_wasm/registry.ts";
import { setRunJoiningForTesting } from "../src/_runs.ts";
import { referenceErrorOffset, ReferenceUtf8Decoder, referenceValidate } from "../src/_utf8_reference.ts";
import { setGatherForTesting } from "../src/utf8_decoder.ts";
import { concat, cut, type Random, testSeed, withSeed } from "./_util.ts";

// ---- helpers ----

const encoder = new TextEncoder();

function u8(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function hex(bytes: Uint8Array): string {
  return `[${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")}]`;
}

/** Bytes that sit on a boundary of the UTF-8 rules (table in src/_utf8_reference.ts). */
const BOUNDARY_BYTES = u8(
  0x00,
  0x41,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xe1,
  0xec,
  0xed,
  0xee,
  0xef,
  0xf0,
  0xf1,
  0xf3,
  0xf4,
  0xf5,
  0xf8,
  0xfe,
  0xff,
);

/** Code points from several scripts and every encoded-length boundary (U+FEFF, the BOM, too). */
const WORDS = [
  "the ",
  "quick ",
  "brown\n",
  "fox, ",
  "naïve ",
  "café ",
  "Grüße ",
  "Ελληνικά ",
  "русский ",
  "日本語 ",
  "中文 ",
  "한국어 ",
  "😀",
  "🚀 ",
  "𝄞",
  "\u007f",
  "\u0080",
  "\u07ff",
  "\u0800",
  "\ud7ff",
  "\ue000",
  "\ufeff",
  "\uffff",
  "\u{10000}",
  "\u{10ffff}",
  "0123456789abcdefghijklmnopqrstuvwxyz ",
];

/** Valid UTF-8 of about `length` bytes: mixed scripts, or long ASCII runs (the SIMD skip). */
function validText(random: Random, length: number): Uint8Array {
  let text = "";
  const asciiHeavy = random.chance(0.3);
  while (text.length < length) {
    const word = asciiHeavy && random.chance(0.8)
      ? "plain ascii words go here "
      : WORDS[random.int(0, WORDS.length - 1)];
    text += word as string;
  }
  const bytes = encoder.encode(text);
  return bytes.subarray(0, Math.min(bytes.length, length + random.int(0, 3)));
}

/** Valid text with a few bytes replaced, inserted, deleted, or the end cut off. */
function mutatedText(random: Random, length: number): Uint8Array {
  const bytes = [...validText(random, length)];
  const edits = random.int(1, 4);
  for (let e = 0; e < edits && bytes.length > 0; e++) {
    const at = random.int(0, bytes.length - 1);
    const byte = BOUNDARY_BYTES[random.int(0, BOUNDARY_BYTES.length - 1)] as number;
    switch (random.int(0, 3)) {
      case 0:
        bytes[at] = byte;
        break;
      case 1:
        bytes.splice(at, 0, byte);
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      default:
        bytes.length = at;
    }
  }
  return new Uint8Array(bytes);
}

/** Random input of one of the kinds the differential tests cover. */
function randomInput(random: Random, maxLength: number): Uint8Array {
  const length = random.int(0, maxLength);
  switch (random.int(0, 4)) {
    case 0:
      return validText(random, length);
    case 1:
      return random.bytes(length);
    case 2:
      return random.bytes(length, BOUNDARY_BYTES);
    default:
      return mutatedText(random, length);
  }
}

/** Random chunks of `data`: many 1-byte ones, some up to `maxChunk`, empty ones here and there. */
function randomChunks(random: Random, data: Uint8Array, maxChunk: number): Uint8Array[] {
  const sizes: number[] = [];
  for (let left = data.length; left > 0;) {
    const size = Math.min(left, random.chance(0.3) ? 1 : random.int(1, maxChunk));
    sizes.push(size);
    left -= size;
  }
  const chunks: Uint8Array[] = [];
  for (const chunk of cut(data, sizes)) {
    if (random.chance(0.1)) chunks.push(new Uint8Array(0));
    chunks.push(chunk);
  }
  if (random.chance(0.1)) chunks.push(new Uint8Array(0));
  // Subarrays of one array are adjacent in memory, and Utf8Decoder merges adjacent segments:
  // copies keep every boundary a real one.
  return random.chance(0.5) ? chunks.map((c) => c.slice()) : chunks;
}

/** The byte offset a fatal decoder's error names. */
function offsetOf(error: unknown): number {
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
  const match = /byte offset (\d+)/.exec(error.message);
  assert.ok(match !== null, `the message names no byte offset: ${error.message}`);
  return Number(match[1]);
}

/** What a decode produced: the text, or the offset of a fatal error. */
type Outcome = { text: string } | { errorOffset: number };

function outcome(run: () => string): Outcome {
  try {
    return { text: run() };
  } catch (error) {
    return { errorOffset: offsetOf(error) };
  }
}

/** Like `outcome`, for TextDecoder (its error names no offset: -1 stands for "threw"). */
function nativeOutcome(run: () => string): Outcome {
  try {
    return { text: run() };
  } catch (error) {
    assert.ok(error instanceof TypeError, `TextDecoder threw ${String(error)}`);
    return { errorOffset: -1 };
  }
}

/** Fails unless both threw (offsets compared when both know one) or both gave the same text. */
function assertSameOutcome(actual: Outcome, expected: Outcome, what: () => string): void {
  if ("text" in actual && "text" in expected && actual.text === expected.text) return;
  if ("errorOffset" in actual && "errorOffset" in expected) {
    if (expected.errorOffset < 0 || actual.errorOffset < 0 || actual.errorOffset === expected.errorOffset) return;
  }
  assert.deepEqual(actual, expected, what());
}

/** Streams `chunks` through a decoder (each call stream: true, then a final flush), per call. */
function streamed(decode: (chunk: Uint8Array | undefined, stream: boolean) => string, chunks: Uint8Array[]): string[] {
  const out = chunks.map((chunk) => decode(chunk, true));
  out.push(decode(undefined, false));
  return out;
}

// Deno 2.9's TextDecoder drops a U+FEFF that starts the output of any streaming call, not only
// the stream's first (WHATWG: only the first code point of the stream); Node and Bun follow the
// spec, and so does Utf8Decoder. Where the runtime has that bug, streamed outputs that hold a
// U+FEFF are compared with the reference decoder only.
const NATIVE_DROPS_MID_STREAM_BOM = (() => {
  const probe = new TextDecoder();
  probe.decode(u8(0x61), { stream: true });
  return probe.decode(u8(0xef, 0xbb, 0xbf), { stream: true }) === "";
})();

// The kernel layer's paths for validation (and fatal decoding): the table's choice, or one forced.
const STRATEGIES: readonly (KernelPath | "auto")[] = ["auto", "wasm", "native", "typescript"];

/** A random path for the next case (every path must give the same results). */
function pickStrategy(random: Random): void {
  setKernelPath("utf8Validate", STRATEGIES[random.int(0, STRATEGIES.length - 1)] as KernelPath | "auto");
}

const OPTIONS = [
  { fatal: false, ignoreBOM: false },
  { fatal: true, ignoreBOM: false },
  { fatal: false, ignoreBOM: true },
  { fatal: true, ignoreBOM: true },
] as const;

// ---- the kernel ----

describe("the utf8Validate kernel", () => {
  const memory = new WebAssembly.Memory({ initial: 3, maximum: 3 });
  const simd = instantiateKernels(memory, compileKernels("simd"));
  const scalar = instantiateKernels(memory, compileKernels("scalar"));
  const bytes = new Uint8Array(memory.buffer);
  const BASE = 65536;

  function check(kernels: Kernels, variant: string, data: Uint8Array, align: number): void {
    bytes.set(data, BASE + align);
    // Bytes after the range must not change the answer.
    bytes.fill(0x80, BASE + align + data.length, BASE + align + data.length + 64);
    const expected = referenceValidate(data, 0, data.length);
    const actual = kernels.utf8Validate(BASE + align, data.length);
    if (actual !== expected) {
      assert.equal(actual, expected, `${variant} on ${hex(data)} at alignment ${align}`);
    }
  }

  it("SIMD and scalar builds agree with the reference byte for byte on random inputs", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 6000; round++) {
        const data = randomInput(random, round % 10 === 0 ? 2000 : 200);
        const align = random.int(0, 15);
        check(simd, "simd", data, align);
        check(scalar, "scalar", data, align);
      }
    });
  });

  it("finds every sequence at every offset around the 16- and 64-byte SIMD steps", () => {
    const sequences = [
      u8(0xc2, 0x80),
      u8(0xe0, 0xa0, 0x80),
      u8(0xed, 0x9f, 0xbf),
      u8(0xf0, 0x90, 0x80, 0x80),
      u8(0xf4, 0x8f, 0xbf, 0xbf),
      u8(0x80),
      u8(0xc0, 0xaf),
      u8(0xc1, 0xbf),
      u8(0xe0, 0x80, 0xaf),
      u8(0xed, 0xa0, 0x80),
      u8(0xf0, 0x80, 0x80, 0xaf),
      u8(0xf4, 0x90, 0x80, 0x80),
      u8(0xf5, 0x80, 0x80, 0x80),
      u8(0xff),
      u8(0xe2, 0x82),
      u8(0xf0, 0x9f, 0x98),
      u8(0xc2),
    ];
    for (const sequence of sequences) {
      for (let at = 0; at <= 140; at++) {
        for (const tail of [0, 1, 2, 3, 17, 80]) {
          const data = new Uint8Array(at + sequence.length + tail).fill(0x61);
          data.set(sequence, at);
          check(simd, "simd", data, at % 16);
          check(scalar, "scalar", data, 0);
        }
      }
    }
  });

  it("reports a trailing incomplete sequence by the length of the complete part", () => {
    for (const kernels of [simd, scalar]) {
      bytes.set(encoder.encode("a".repeat(40) + "€"), BASE);
      assert.equal(kernels.utf8Validate(BASE, 43), 43, "all of €");
      assert.equal(kernels.utf8Validate(BASE, 42), 40, "€ cut after 2 of its 3 bytes");
      assert.equal(kernels.utf8Validate(BASE, 41), 40, "€ cut after its lead");
      assert.equal(kernels.utf8Validate(BASE, 40), 40);
      assert.equal(kernels.utf8Validate(BASE, 0), 0);
      bytes.set(u8(0x61, 0xe0, 0x80), BASE);
      assert.equal(kernels.utf8Validate(BASE, 3), ~1, "E0 80 is invalid already, not incomplete");
    }
  });
});

// ---- Utf8Decoder and validateUtf8 against TextDecoder and the reference ----

describe("Utf8Decoder and validateUtf8 on random inputs", () => {
  after(() => {
    setRunJoiningForTesting(true);
    setGatherForTesting();
    setKernelPath("utf8Validate", "auto");
  });

  /** A random gather area (4–40 bytes) and in-place run length, or the defaults. */
  function pickGather(random: Random): void {
    if (random.chance(0.7)) setGatherForTesting(random.int(4, 40), random.int(1, 64));
    else setGatherForTesting();
  }

  it("a whole-stream decode() of short input (one segment, no stream) equals TextDecoder", async () => {
    const pool = new MemoryPool({ blockSize: 256, blocksPerSlab: 16 });
    const { writer, reader } = new Channel({ pool, pauseWriterThreshold: 0 });
    const printable = new Uint8Array(95).map((_, i) => 0x20 + i);
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 3000; round++) {
        pickStrategy(random);
        const length = random.int(0, 80);
        // Short ASCII (the JavaScript path, where the runtime takes it), or any kind of input.
        const data = random.chance(0.5) ? random.bytes(length, printable) : randomInput(random, length);
        const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
        const what = () => `${JSON.stringify(options)} on ${hex(data)}`;
        const expected = outcome(() => new ReferenceUtf8Decoder(options).decode(data));
        assertSameOutcome(nativeOutcome(() => new TextDecoder("utf-8", options).decode(data)), expected, what);
        const decoder = new Utf8Decoder(options);
        const callOptions = [undefined, {}, { stream: false }][random.int(0, 2)];
        // The same decoder, over and over (each call a whole stream), as per line of readFrames.
        for (const input of [data, ReadableBuffer.from([data]), data.slice()]) {
          assertSameOutcome(outcome(() => decoder.decode(input, callOptions)), expected, what);
        }
        // A slice of a pool buffer, one segment (a frame as delimited() cuts it).
        await writer.write(data);
        const result = reader.tryRead();
        if (result !== undefined) {
          const frame = result.buffer.slice(0, data.length);
          if (frame.isSingleSegment) assertSameOutcome(outcome(() => decoder.decode(frame)), expected, what);
          reader.advanceTo(result.buffer.length);
        }
        // After a streaming call the next call continues that stream: not a whole one.
        const prefix = randomInput(random, 4);
        const streamed = outcome(() => decoder.decode(prefix, { stream: true }) + decoder.decode(data));
        assertSameOutcome(
          streamed,
          outcome(() => new ReferenceUtf8Decoder(options).decode(concat([prefix, data]))),
          () => `after ${hex(prefix)}: ${what()}`,
        );
      }
    });
    writer.complete();
    reader.complete();
  });

  it("decode() of an array equals TextDecoder and the reference, fatal and not", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 2500; round++) {
        pickStrategy(random);
        const data = randomInput(random, round % 20 === 0 ? 3000 : 150);
        const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
        const what = () => `${JSON.stringify(options)} on ${hex(data)}`;
        const ours = outcome(() => new Utf8Decoder(options).decode(data));
        assertSameOutcome(ours, outcome(() => new ReferenceUtf8Decoder(options).decode(data)), what);
        assertSameOutcome(ours, nativeOutcome(() => new TextDecoder("utf-8", options).decode(data)), what);
        const validation = validateUtf8(data);
        const offset = referenceErrorOffset(data);
        assert.deepEqual(validation, { valid: offset < 0, errorOffset: offset }, what());
        assert.equal(
          validation.valid,
          "text" in nativeOutcome(() => new TextDecoder("utf-8", { fatal: true }).decode(data)),
        );
      }
    });
  });

  it("one decoder turns every line of readFrames into TextDecoder's string, lines across blocks too", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 40; round++) {
        pickStrategy(random);
        pickGather(random);
        const pool = new MemoryPool({ blockSize: 64, blocksPerSlab: 64 });
        const { writer, reader } = new Channel({ pool });
        const lines: Uint8Array[] = [];
        for (let i = random.int(1, 60); i > 0; i--) {
          const line = randomInput(random, random.chance(0.5) ? 40 : 200).filter((b) => b !== 0x0a);
          lines.push(line);
        }
        const wire = concat(lines.flatMap((line) => [line, u8(0x0a)]));
        const producer = (async () => {
          for (let at = 0; at < wire.length;) {
            const n = random.int(1, 100);
            await writer.write(wire.subarray(at, at + n));
            at += n;
          }
          writer.complete();
        })();
        const decoder = new Utf8Decoder();
        const fatal = new Utf8Decoder({ fatal: true });
        let k = 0;
        for await (const frame of readFrames(reader, delimited())) {
          const line = lines[k++] as Uint8Array;
          const what = () => `line ${k - 1} ${hex(line)} in ${frame.isSingleSegment ? "one" : "several"} segments`;
          assert.equal(decoder.decode(frame), new TextDecoder().decode(line), what());
          assertSameOutcome(
            outcome(() => fatal.decode(frame)),
            outcome(() => new ReferenceUtf8Decoder({ fatal: true }).decode(line)),
            what,
          );
        }
        await producer;
        assert.equal(k, lines.length);
        assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });

  it("decode() of ReadableBuffer.from(chunks) equals the whole decode, at every cut", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 2500; round++) {
        pickStrategy(random);
        const data = randomInput(random, 120);
        const chunks = randomChunks(random, data, 8);
        const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
        const buffer = ReadableBuffer.from(chunks);
        setRunJoiningForTesting(random.chance(0.5));
        pickGather(random);
        const what = () => `${JSON.stringify(options)} on ${chunks.map(hex).join(" | ")}`;
        const expected = outcome(() => new ReferenceUtf8Decoder(options).decode(data));
        assertSameOutcome(outcome(() => new Utf8Decoder(options).decode(buffer)), expected, what);
        assertSameOutcome(nativeOutcome(() => new TextDecoder("utf-8", options).decode(data)), expected, what);
        const offset = referenceErrorOffset(data);
        assert.deepEqual(validateUtf8(buffer), { valid: offset < 0, errorOffset: offset }, what());
      }
    });
  });

  it("decode(chunk, { stream: true }) gives TextDecoder's output call by call", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 2500; round++) {
        pickStrategy(random);
        const data = randomInput(random, 100);
        const chunks = randomChunks(random, data, 6);
        const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
        const what = () => `${JSON.stringify(options)} on ${chunks.map(hex).join(" | ")}`;
        const ours = new Utf8Decoder(options);
        const reference = new ReferenceUtf8Decoder(options);
        const native = new TextDecoder("utf-8", options);
        // As buffers of one segment per call, half the time (the same call path as arrays otherwise).
        const asBuffer = random.chance(0.5);
        // A decoder is reusable after a non-stream decode (or a fatal error): it starts afresh.
        if (random.chance(0.3)) {
          outcome(() => ours.decode(randomInput(random, 20), { stream: random.chance(0.5) }) + ours.decode());
        }
        const actual = outcome(() =>
          streamed(
            (c, stream) => ours.decode(c && asBuffer ? ReadableBuffer.from([c]) : c, { stream }),
            chunks,
          ).join("\u0000")
        );
        const expected = outcome(() => streamed((c, stream) => reference.decode(c, stream), chunks).join("\u0000"));
        assertSameOutcome(actual, expected, what);
        if (NATIVE_DROPS_MID_STREAM_BOM && "text" in expected && expected.text.includes("\ufeff")) continue;
        if (!options.fatal) {
          const viaNative = streamed((c, stream) => native.decode(c, { stream }), chunks).join("\u0000");
          assertSameOutcome(actual, { text: viaNative }, () => `TextDecoder: ${what()}`);
        } else {
          assertSameOutcome(
            nativeOutcome(() => streamed((c, stream) => native.decode(c, { stream }), chunks).join("\u0000")),
            expected,
            () => `TextDecoder: ${what()}`,
          );
        }
      }
    });
  });

  for (const blockSize of [16, 64]) {
    it(`pool buffers over ${blockSize}-byte blocks decode and validate as TextDecoder, straddling blocks`, async () => {
      const pool = new MemoryPool({ blockSize, blocksPerSlab: 64 });
      const { writer, reader } = new Channel({ pool, pauseWriterThreshold: 0 });
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < 800; round++) {
          pickStrategy(random);
          const data = randomInput(random, round % 10 === 0 ? 1500 : 200);
          const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
          const what = () => `${JSON.stringify(options)} on ${hex(data)} (round ${round})`;
          // Blocks rented in address order are adjacent; with merging off every block boundary
          // is a segment boundary the carry must cross.
          setRunJoiningForTesting(random.chance(0.5));
          pickGather(random);

          // The whole input in one read: a multi-segment buffer, decoded in one call.
          await writer.write(data);
          const whole = reader.tryRead();
          assert.ok(whole !== undefined || data.length === 0);
          const buffer = whole?.buffer ?? ReadableBuffer.from([]);
          const expected = outcome(() => new ReferenceUtf8Decoder(options).decode(data));
          assertSameOutcome(outcome(() => new Utf8Decoder(options).decode(buffer)), expected, what);
          const offset = referenceErrorOffset(data);
          assert.deepEqual(validateUtf8(buffer), { valid: offset < 0, errorOffset: offset }, what());
          // A slice starts and ends mid-block (1-byte segments at the edges).
          if (data.length > 2) {
            const from = random.int(0, data.length - 1);
            const to = random.int(from, data.length);
            const part = data.subarray(from, to);
            assertSameOutcome(
              outcome(() => new Utf8Decoder(options).decode(buffer.slice(from, to))),
              outcome(() => new ReferenceUtf8Decoder(options).decode(part)),
              () => `slice ${from}..${to} of ${what()}`,
            );
            const partOffset = referenceErrorOffset(part);
            assert.deepEqual(validateUtf8(buffer.slice(from, to)), { valid: partOffset < 0, errorOffset: partOffset });
          }
          if (whole !== undefined) reader.advanceTo(buffer.length);

          // Streamed: one write and one read per chunk, so call and block boundaries both cut sequences.
          const chunks = randomChunks(random, data, 24);
          const ours = new Utf8Decoder(options);
          const reference = new ReferenceUtf8Decoder(options);
          const actual = await (async () => {
            try {
              const out: string[] = [];
              for (const chunk of chunks) {
                await writer.write(chunk);
                const result = reader.tryRead();
                if (result === undefined) continue; // an empty chunk
                try {
                  out.push(ours.decode(result.buffer, { stream: true }));
                } finally {
                  reader.advanceTo(result.buffer.length);
                }
              }
              out.push(ours.decode());
              return { text: out.join("") } as Outcome;
            } catch (error) {
              return { errorOffset: offsetOf(error) } as Outcome;
            }
          })();
          const streamedExpected = outcome(() => streamed((c, s) => reference.decode(c, s), chunks).join(""));
          assertSameOutcome(actual, streamedExpected, () => `streamed ${chunks.map(hex).join(" | ")}: ${what()}`);
        }
      });
      writer.complete();
      reader.complete();
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  }

  it("inputs larger than the 32 KiB scratch area decode with sequences across every piece", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 12; round++) {
        pickStrategy(random);
        const data = validText(random, 100_000);
        if (round % 2 === 1) {
          for (let e = 0; e < 5; e++) {
            data[random.int(0, data.length - 1)] = BOUNDARY_BYTES[random.int(0, BOUNDARY_BYTES.length - 1)] as number;
          }
        }
        // Put a multi-byte sequence (or a bad one) right on a 32 KiB piece boundary.
        const at = 32768 * random.int(1, 2) - random.int(0, 3);
        data.set(round % 4 < 2 ? encoder.encode("🚀") : u8(0xf0, 0x9f, 0x41), at);
        for (const options of OPTIONS) {
          const what = () => `${JSON.stringify(options)} round ${round}`;
          const expected = outcome(() => new ReferenceUtf8Decoder(options).decode(data));
          assertSameOutcome(outcome(() => new Utf8Decoder(options).decode(data)), expected, what);
          assertSameOutcome(nativeOutcome(() => new TextDecoder("utf-8", options).decode(data)), expected, what);
        }
        const offset = referenceErrorOffset(data);
        assert.deepEqual(validateUtf8(data), { valid: offset < 0, errorOffset: offset });
      }
    });
  });
});

// ---- exact cases ----

describe("Utf8Decoder replacement and BOM rules", () => {
  const cases: [string, number[], string][] = [
    ["a stray continuation byte", [0x61, 0x80, 0x62], "a\uFFFDb"],
    ["an overlong two-byte form (C0 AF)", [0xc0, 0xaf], "\uFFFD\uFFFD"],
    ["an overlong three-byte form (E0 80 AF)", [0xe0, 0x80, 0xaf], "\uFFFD\uFFFD\uFFFD"],
    ["an overlong four-byte form (F0 80 80 AF)", [0xf0, 0x80, 0x80, 0xaf], "\uFFFD\uFFFD\uFFFD\uFFFD"],
    ["a surrogate (ED A0 80)", [0xed, 0xa0, 0x80], "\uFFFD\uFFFD\uFFFD"],
    ["the last non-surrogate before them (ED 9F BF)", [0xed, 0x9f, 0xbf], "\ud7ff"],
    ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80], "\uFFFD\uFFFD\uFFFD\uFFFD"],
    ["U+10FFFF (F4 8F BF BF)", [0xf4, 0x8f, 0xbf, 0xbf], "\u{10ffff}"],
    ["F5 and above", [0xf5, 0xff, 0x61], "\uFFFD\uFFFDa"],
    ["a lead cut by ASCII (one U+FFFD for the maximal subpart)", [0xf0, 0x9f, 0x98, 0x41], "\uFFFDA"],
    ["a lead cut by another lead", [0xe2, 0x82, 0xe2, 0x82, 0xac], "\uFFFD€"],
    ["a truncated sequence at the end", [0x61, 0xe2, 0x82], "a\uFFFD"],
    ["a leading BOM (dropped)", [0xef, 0xbb, 0xbf, 0x61], "a"],
    ["a second BOM (kept)", [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], "\ufeff"],
    ["a BOM after text (kept)", [0x61, 0xef, 0xbb, 0xbf], "a\ufeff"],
    ["a BOM after an error (kept)", [0x80, 0xef, 0xbb, 0xbf], "\uFFFD\ufeff"],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`replaces as TextDecoder does: ${name}`, () => {
      const data = new Uint8Array(bytes);
      assert.equal(new TextDecoder().decode(data), expected, "the expectation itself");
      assert.equal(new Utf8Decoder().decode(data), expected);
      for (let at = 0; at <= data.length; at++) {
        const buffer = ReadableBuffer.from([data.subarray(0, at), data.subarray(at)]);
        assert.equal(new Utf8Decoder().decode(buffer), expected, `cut at ${at}`);
        const decoder = new Utf8Decoder();
        assert.equal(
          decoder.decode(data.subarray(0, at), { stream: true }) + decoder.decode(data.subarray(at)),
          expected,
        );
      }
    });
  }

  it("drops a BOM split across calls, and only at the start of each stream", () => {
    const decoder = new Utf8Decoder();
    assert.equal(decoder.decode(u8(), { stream: true }), "");
    assert.equal(decoder.decode(u8(0xef), { stream: true }), "");
    assert.equal(decoder.decode(u8(0xbb), { stream: true }), "");
    assert.equal(decoder.decode(u8(0xbf, 0x68), { stream: true }), "h");
    assert.equal(decoder.decode(u8(0xef, 0xbb, 0xbf, 0x69)), "\ufeffi", "a BOM mid-stream stays");
    assert.equal(decoder.decode(u8(0xef, 0xbb, 0xbf, 0x6a)), "j", "a non-stream decode started a new stream");
  });

  it("keeps the BOM with ignoreBOM, and reports its options as TextDecoder does", () => {
    const decoder = new Utf8Decoder({ ignoreBOM: true });
    assert.equal(decoder.decode(u8(0xef, 0xbb, 0xbf, 0x61)), "\ufeffa");
    assert.equal(decoder.encoding, "utf-8");
    assert.equal(decoder.ignoreBOM, true);
    assert.equal(decoder.fatal, false);
    assert.equal(new Utf8Decoder({ fatal: true }).fatal, true);
  });

  it("decode() with no input flushes a carried sequence as U+FFFD", () => {
    const decoder = new Utf8Decoder();
    assert.equal(decoder.decode(u8(0x61, 0xf0, 0x9f), { stream: true }), "a");
    assert.equal(decoder.decode(), "\uFFFD");
    assert.equal(decoder.decode(), "");
    assert.equal(decoder.decode(undefined, {}), "");
  });
});

describe("errors", () => {
  after(() => setKernelPath("utf8Validate", "auto"));

  const fatalCases: [string, number[][], number][] = [
    ["a stray continuation byte", [[0x61, 0x62, 0x80]], 2],
    ["an overlong form", [[0x61, 0xc0, 0xaf]], 1],
    ["a surrogate", [[0x61, 0x62, 0x63, 0xed, 0xa0, 0x80]], 3],
    ["a code point above U+10FFFF", [[0xf4, 0x90, 0x80, 0x80]], 0],
    ["F5", [[0x61, 0xf5]], 1],
    ["a lead cut by ASCII", [[0x61, 0xe2, 0x82, 0x61]], 1],
    ["a truncated sequence at the end", [[0x61, 0x62, 0xf0, 0x9f, 0x98]], 2],
    ["a bad byte in a later call", [[0x61, 0x62], [0x63, 0xff]], 3],
    ["a carried lead that the next call does not continue", [[0x61, 0xe2], [0x82, 0x41]], 1],
    ["a carried lead over three calls", [[0x61], [0xf0], [0x9f], [0x98, 0x28]], 1],
    ["a truncated sequence carried to the final call", [[0x61, 0x62, 0x63, 0xe2, 0x82], []], 3],
    ["an error after empty calls", [[], [0x61], [], [0xc1, 0x80]], 1],
  ];
  for (const [name, calls, offset] of fatalCases) {
    it(`fatal decode() throws a TypeError at byte offset ${offset}: ${name}`, () => {
      for (const [asBuffer, strategy] of [false, true].flatMap((b) => STRATEGIES.map((s) => [b, s] as const))) {
        setKernelPath("utf8Validate", strategy);
        const decoder = new Utf8Decoder({ fatal: true });
        const error = (() => {
          try {
            calls.forEach((call, i) => {
              const bytes = new Uint8Array(call);
              decoder.decode(asBuffer ? ReadableBuffer.from([bytes]) : bytes, { stream: i < calls.length - 1 });
            });
          } catch (error) {
            return error;
          }
          return undefined;
        })();
        assert.ok(error instanceof TypeError, `${strategy}: threw ${String(error)}`);
        assert.equal(offsetOf(error), offset, `${strategy}: ${error.message}`);
        assert.match(error.message, /^Cannot decode UTF-8 as /);
        // The stream ended with the error: the decoder starts afresh.
        assert.equal(decoder.decode(u8(0xef, 0xbb, 0xbf, 0x6f, 0x6b)), "ok");
      }
      const all = concat(calls.map((c) => new Uint8Array(c)));
      for (const strategy of STRATEGIES) {
        setKernelPath("utf8Validate", strategy);
        assert.deepEqual(validateUtf8(all), { valid: false, errorOffset: offset }, strategy);
        assert.deepEqual(
          validateUtf8(ReadableBuffer.from(calls.map((c) => new Uint8Array(c)))),
          { valid: false, errorOffset: offset },
          strategy,
        );
      }
      setKernelPath("utf8Validate", "auto");
      assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(all), TypeError);
    });
  }

  it("the fatal offset counts every byte since the stream started, across segments of a pool buffer", async () => {
    const pool = new MemoryPool({ blockSize: 16, blocksPerSlab: 8 });
    const { writer, reader } = new Channel({ pool });
    const decoder = new Utf8Decoder({ fatal: true });
    await writer.write(encoder.encode("0123456789abcdefghij€"));
    let r = await reader.read();
    assert.equal(decoder.decode(r.buffer, { stream: true }), "0123456789abcdefghij€");
    reader.advanceTo(r.buffer.length);
    await writer.write(u8(0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0xe2, 0x28));
    r = await reader.read();
    assert.throws(() => decoder.decode(r.buffer, { stream: true }), (e) => offsetOf(e) === 23 + 12);
    reader.advanceTo(r.buffer.length);
    writer.complete();
    reader.complete();
  });

  it("validateUtf8 reports a truncated sequence at the end at its start", () => {
    assert.deepEqual(validateUtf8(u8(0x61, 0xf0, 0x9f, 0x98)), { valid: false, errorOffset: 1 });
    assert.deepEqual(validateUtf8(ReadableBuffer.from([u8(0x61, 0xf0), u8(0x9f), u8(0x98)])), {
      valid: false,
      errorOffset: 1,
    });
    assert.deepEqual(validateUtf8(u8()), { valid: true, errorOffset: -1 });
    assert.deepEqual(validateUtf8(ReadableBuffer.from([])), { valid: true, errorOffset: -1 });
  });

  it("wrong argument types throw TypeError", () => {
    const decoder = new Utf8Decoder();
    for (
      const bad of [null, 42, "text", [0x61], new ArrayBuffer(2), new Uint16Array(2), new DataView(new ArrayBuffer(2))]
    ) {
      assert.throws(() => decoder.decode(bad as unknown as Uint8Array), TypeError, `decode(${String(bad)})`);
      assert.throws(() => validateUtf8(bad as unknown as Uint8Array), TypeError, `validateUtf8(${String(bad)})`);
    }
    assert.throws(() => validateUtf8(undefined as unknown as Uint8Array), TypeError);
    assert.throws(() => decoder.decode(u8(0x61), "stream" as unknown as { stream: boolean }), TypeError);
    assert.throws(() => new Utf8Decoder(1 as unknown as { fatal: boolean }), TypeError);
    assert.throws(
      () => decoder.decode(42 as unknown as Uint8Array),
      (e) =>
        e instanceof TypeError &&
        /^Cannot decode UTF-8 as input must be a ReadableBuffer or a Uint8Array/.test(e.message),
    );
    // A rejected argument leaves the stream as it was.
    assert.equal(decoder.decode(u8(0xe2, 0x82), { stream: true }), "");
    assert.throws(() => decoder.decode("x" as unknown as Uint8Array), TypeError);
    assert.equal(decoder.decode(u8(0xac)), "€");
  });
});

describe("without WebAssembly", () => {
  after(() => resetKernelLayerForTesting());

  it("a host that refuses to compile validates natively or in TypeScript, with the same results", async () => {
    resetKernelLayerForTesting();
    setKernelPath("utf8Validate", "wasm");
    const original = WebAssembly.Module;
    (WebAssembly as { Module: unknown }).Module = function refuse() {
      throw new WebAssembly.CompileError("WebAssembly.Module(): Wasm code generation disallowed by embedder");
    };
    try {
      const pool = new MemoryPool({ blockSize: 16, blocksPerSlab: 64 });
      const { writer, reader } = new Channel({ pool, pauseWriterThreshold: 0 });
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < 300; round++) {
          const data = randomInput(random, 200);
          const options = OPTIONS[round % 4] as (typeof OPTIONS)[number];
          const what = () => `${JSON.stringify(options)} on ${hex(data)}`;
          const expected = outcome(() => new ReferenceUtf8Decoder(options).decode(data));
          assertSameOutcome(outcome(() => new Utf8Decoder(options).decode(data)), expected, what);
          await writer.write(data);
          const result = reader.tryRead();
          if (result === undefined) continue;
          assertSameOutcome(outcome(() => new Utf8Decoder(options).decode(result.buffer)), expected, what);
          const offset = referenceErrorOffset(data);
          assert.deepEqual(validateUtf8(result.buffer), { valid: offset < 0, errorOffset: offset });
          reader.advanceTo(result.buffer.length);
        }
      });
      assert.equal(kernelsAvailable(), false);
      writer.complete();
      reader.complete();
    } finally {
      (WebAssembly as { Module: unknown }).Module = original;
    }
  });
});
