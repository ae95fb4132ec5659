// Base64 transforms and kernels: random data cut at random segment boundaries (1-byte writes,
// empty flushes, 16- and 64-byte blocks so groups straddle blocks, input and output in the
// same or different memories) against Buffer, Uint8Array.prototype.toBase64 /
// Uint8Array.fromBase64 where present, and the TypeScript reference; the SIMD kernels
// against the scalar ones byte for byte; every kind of bad input with its exact offset.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, describe, it } from "node:test";
import {
  base64Decoder,
  type Base64DecoderOptions,
  base64Encoder,
  type Base64EncoderOptions,
  Channel,
  type ChannelTransform,
  MemoryPool,
  pipeThrough,
  type PoolBlock,
  ReadableBuffer,
  type ReadableChannel,
} from "../mod.ts";
import {
  decodeGroupsReference,
  encodeGroupsReference,
  referenceDecode,
  referenceEncode,
} from "../src/_base64_reference.ts";
import { compileKernels, instantiateKernels } from "../src/_wasm/kernels.ts";
import { hasNativePath, type KernelPath, pathFor, setKernelPath } from "../src/_wasm/paths.ts";
import { type Random, testSeed, withSeed } from "./_util.ts";

type Alphabet = "base64" | "base64url";

// The TC39 base64 methods (Deno, Bun; absent on Node 20).
interface NativeBase64 {
  toBase64?: (this: Uint8Array, options?: { alphabet?: Alphabet; omitPadding?: boolean }) => string;
}
const nativeFrom = (Uint8Array as unknown as {
  fromBase64?: (text: string, options?: { alphabet?: Alphabet; lastChunkHandling?: string }) => Uint8Array;
}).fromBase64;
const nativeTo = (Uint8Array.prototype as NativeBase64).toBase64;

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

// Pools reused across rounds (a new memory per round would dominate the run time): small
// blocks so groups straddle blocks, few blocks per slab so input and output land in different
// memories, and a separate pool so the output is always in another memory.
const POOLS = [
  new MemoryPool({ blockSize: 16, blocksPerSlab: 64, debug: true }),
  new MemoryPool({ blockSize: 64, blocksPerSlab: 8, debug: true }),
  new MemoryPool({ blockSize: 64, debug: true }),
  new MemoryPool({ blockSize: 4096, debug: true }),
];

after(() => {
  for (const pool of POOLS) assert.equal(pool.stats().rentedBlocks, 0, "every block goes back to its pool");
});

/** Reads a channel to its end, returning every byte. */
async function drain(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  try {
    for (;;) {
      const { buffer, isCompleted } = await reader.read();
      parts.push(buffer.toUint8Array());
      reader.advanceTo(buffer.length);
      if (isCompleted) break;
    }
  } finally {
    reader.complete();
  }
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * Pipes `data` through `transform` in random writes (1-byte writes and empty flushes among
 * them) from a random pool into a random pool; resolves with the output or rejects with the
 * transform's error.
 */
async function pipe(random: Random, transform: ChannelTransform, data: Uint8Array): Promise<Uint8Array> {
  const pool = POOLS[random.int(0, POOLS.length - 1)] as MemoryPool;
  const outputPool = random.chance(0.5) ? pool : POOLS[random.int(0, POOLS.length - 1)] as MemoryPool;
  const source = new Channel({ pool });
  const reader = pipeThrough(source.reader, transform, { pool: outputPool });
  const maxChunk = random.chance(0.5) ? 8 : 200;
  const producer = (async () => {
    try {
      for (let at = 0; at < data.length;) {
        const mode = random.int(0, 9);
        if (mode === 0) {
          await source.writer.flush(); // an empty flush
          continue;
        }
        const n = mode === 1 ? 1 : random.int(1, maxChunk);
        await source.writer.write(data.subarray(at, at + n));
        at += n;
      }
      source.writer.complete();
    } catch {
      // The transform failed: the error reaches the reader, which is what the tests look at.
      source.writer.complete();
    }
  })();
  try {
    return await drain(reader);
  } finally {
    await producer;
  }
}

/** Random data: mostly short, sometimes a few KiB, so every SIMD loop and tail runs. */
function randomData(random: Random): Uint8Array {
  return random.bytes(random.chance(0.1) ? random.int(300, 5000) : random.int(0, 100));
}

function randomEncoderOptions(random: Random): Required<Base64EncoderOptions> {
  return { alphabet: random.chance(0.5) ? "base64" : "base64url", padding: random.chance(0.5) };
}

/** The expected text, from Buffer (and toBase64 where present, which must agree). */
function expectedText(data: Uint8Array, { alphabet, padding }: Required<Base64EncoderOptions>): string {
  let text = Buffer.from(data).toString(alphabet);
  if (alphabet === "base64url" && padding) text += "=".repeat((4 - (text.length % 4)) % 4);
  if (alphabet === "base64" && !padding) text = text.replace(/=+$/, "");
  if (nativeTo !== undefined) assert.equal(nativeTo.call(data, { alphabet, omitPadding: !padding }), text);
  return text;
}

/** `text` with MIME-style whitespace sprinkled in. */
function sprinkle(random: Random, text: string): string {
  const ws = [" ", "\t", "\r", "\n", "\r\n"];
  let out = "";
  for (const c of text) {
    while (random.chance(0.08)) out += ws[random.int(0, ws.length - 1)];
    out += c;
  }
  while (random.chance(0.2)) out += ws[random.int(0, ws.length - 1)];
  return out;
}

/** The error the decoder must throw for `text`, or undefined when the reference decodes it. */
function referenceError(text: Uint8Array, options: Base64DecoderOptions): TypeError | undefined {
  try {
    referenceDecode(text, options);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof TypeError);
    return error;
  }
}

/** Decodes `text` with `options` through a pipe and checks it against the reference. */
async function checkDecode(random: Random, text: Uint8Array, options: Base64DecoderOptions): Promise<void> {
  const expectedError = referenceError(text, options);
  if (expectedError === undefined) {
    const expected = referenceDecode(text, options);
    assert.deepEqual(await pipe(random, base64Decoder(options), text), expected, `${latin1(text)}`);
  } else {
    await assert.rejects(pipe(random, base64Decoder(options), text), (error: unknown) => {
      assert.ok(error instanceof TypeError, `a TypeError for ${JSON.stringify(latin1(text))}`);
      assert.equal(error.message, expectedError.message, JSON.stringify(latin1(text)));
      return true;
    });
  }
}

// Every path of the kernel layer, forced for both operations (where this runtime has no native
// path, "native" gives way to the kernel: the test says so rather than skip).
const kernelModes = [
  ["the WebAssembly kernels", "wasm"],
  ["the runtime's native base64", "native"],
  ["the TypeScript fallback", "typescript"],
  ["the measured choice", "auto"],
] as const;

/** Forces `path` for both base64 operations. */
function usePath(path: KernelPath | "auto"): void {
  setKernelPath("base64Encode", path);
  setKernelPath("base64Decode", path);
}

for (const [mode, path] of kernelModes) {
  const enabled = path !== "typescript";
  describe(`base64 transforms with ${mode}`, () => {
    after(() => usePath("auto"));

    it("the forced path is the one in use (or gives way where this runtime lacks it)", () => {
      usePath(path);
      for (const op of ["base64Encode", "base64Decode"] as const) {
        const expected = path === "auto"
          ? pathFor(op, 1 << 20)
          : path === "native" && !hasNativePath(op)
          ? "wasm"
          : path;
        assert.equal(pathFor(op, 1 << 20), expected, op);
      }
    });

    it("encode random data in random segments like Buffer, toBase64 and the reference", async () => {
      usePath(path);
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < (enabled ? 1200 : 300); round++) {
          const data = randomData(random);
          const options = randomEncoderOptions(random);
          const expected = expectedText(data, options);
          assert.equal(referenceEncode(data, options), expected);
          const got = await pipe(random, base64Encoder(options), data);
          assert.equal(latin1(got), expected, `${JSON.stringify(options)}, ${data.length} bytes`);
        }
      });
    });

    it("decode padded, unpadded and whitespace-sprinkled text back to the data", async () => {
      usePath(path);
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < (enabled ? 1200 : 300); round++) {
          const data = randomData(random);
          const options = randomEncoderOptions(random);
          let text = expectedText(data, options);
          const skipWhitespace = random.chance(0.4);
          if (skipWhitespace) text = sprinkle(random, text);
          const decoder = base64Decoder({ alphabet: options.alphabet, skipWhitespace });
          assert.deepEqual(await pipe(random, decoder, ascii(text)), data, text);
          if (nativeFrom !== undefined) {
            assert.deepEqual(new Uint8Array(nativeFrom(text, { alphabet: options.alphabet })), data);
          }
        }
      });
    });

    it("strict decode of corrupted text fails exactly where the reference fails", async () => {
      usePath(path);
      const noise = ascii("=  =\t\r\n*-_+/\x00\x80\xffA");
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < (enabled ? 1500 : 300); round++) {
          const options = randomEncoderOptions(random);
          const text = ascii(expectedText(randomData(random), options));
          for (let k = random.int(0, 3); k > 0 && text.length > 0; k--) {
            text[random.int(0, text.length - 1)] = noise[random.int(0, noise.length - 1)] as number;
          }
          const cut = random.chance(0.2) ? text.subarray(0, random.int(0, text.length)) : text;
          await checkDecode(random, cut, { alphabet: options.alphabet, skipWhitespace: random.chance(0.5) });
        }
      });
    });

    it("lenient decode matches Buffer.from(text, 'base64') byte for byte, garbage included", async () => {
      usePath(path);
      const pieces = ascii("ABCXYZabcxyz0189+/-_=  \r\n*\x00\x80\xff");
      await withSeed(testSeed(), async (random) => {
        for (let round = 0; round < (enabled ? 1000 : 300); round++) {
          const alphabet: Alphabet = random.chance(0.5) ? "base64" : "base64url";
          let text: Uint8Array;
          if (random.chance(0.5)) {
            text = random.bytes(random.int(0, 120), pieces);
          } else {
            text = ascii(expectedText(randomData(random), randomEncoderOptions(random)));
            for (let k = random.int(0, 3); k > 0 && text.length > 0; k--) {
              text[random.int(0, text.length - 1)] = pieces[random.int(0, pieces.length - 1)] as number;
            }
          }
          const expected = new Uint8Array(Buffer.from(latin1(text), "base64"));
          assert.deepEqual(referenceDecode(text, { strict: false }), expected, latin1(text));
          const got = await pipe(random, base64Decoder({ alphabet, strict: false }), text);
          assert.deepEqual(got, expected, JSON.stringify(latin1(text)));
        }
      });
    });

    it("transform() works on buffers that are not pool memory", async () => {
      usePath(path);
      const data = new Uint8Array(1000).map((_, i) => (i * 7) & 255);
      const text = ascii(Buffer.from(data).toString("base64"));
      for (
        const [transform, input, expected] of [
          [base64Encoder(), data, text],
          [base64Decoder(), text, data],
        ] as const
      ) {
        const chunks = [input.subarray(0, 5), input.subarray(5, 301), input.subarray(301)];
        const output = new Channel();
        assert.equal(transform.transform(ReadableBuffer.from(chunks), output.writer, true), input.length);
        output.writer.complete();
        assert.deepEqual(await drain(output.reader), expected);
      }
    });
  });
}

describe("base64Decoder errors", () => {
  // [input, options, offset, rule]: every kind of bad input, at its exact absolute offset.
  const cases: [string, Base64DecoderOptions, number, string][] = [
    ["QUJD*EVG", {}, 4, "the character is not in the alphabet"],
    ["QUJDREVG!", {}, 8, "the character is not in the alphabet"],
    ["QUJD REVG", {}, 4, "the character is not in the alphabet"],
    ["QUJD\nREVG", {}, 4, "the character is not in the alphabet"],
    ["QUJD\tREVG", { skipWhitespace: false }, 4, "the character is not in the alphabet"],
    ["QUJD\vREVG", { skipWhitespace: true }, 4, "the character is not in the alphabet"],
    ["QUJD-EVG", {}, 4, "the character is not in the alphabet"],
    ["QUJD+EVG", { alphabet: "base64url" }, 4, "the character is not in the alphabet"],
    ["QUJD\x80EVG", {}, 4, "the character is not in the alphabet"],
    ["=QUJD", {}, 0, "padding '=' can only end a group of 2 or 3 characters"],
    ["QUJD=", {}, 4, "padding '=' can only end a group of 2 or 3 characters"],
    ["QUJDR=", {}, 5, "padding '=' can only end a group of 2 or 3 characters"],
    ["QUJDRA===", {}, 8, "padding '=' can only end a group of 2 or 3 characters"],
    ["QUJDREU==", {}, 8, "padding '=' can only end a group of 2 or 3 characters"],
    ["QUJDRA=", {}, 6, "the padding is incomplete ('==' needed)"],
    ["QUJDRA= \n", { skipWhitespace: true }, 6, "the padding is incomplete ('==' needed)"],
    ["QUJDRA=Q", {}, 7, "data follows the padding"],
    ["QUJDRA==QUJD", {}, 8, "data follows the padding"],
    ["QUJDREU=QUJD", {}, 8, "data follows the padding"],
    ["QUJDRA== \r\nQ", { skipWhitespace: true }, 11, "data follows the padding"],
    ["QUJDRB==", {}, 5, "the final group has non-zero trailing bits"],
    ["QUJDRB", {}, 5, "the final group has non-zero trailing bits"],
    ["QUJDREF=", {}, 6, "the final group has non-zero trailing bits"],
    ["QUJDREF", {}, 6, "the final group has non-zero trailing bits"],
    ["QUJDR", {}, 4, "the final group has only 1 character"],
    ["QUJDR \r\n", { skipWhitespace: true }, 4, "the final group has only 1 character"],
    ["Q", {}, 0, "the final group has only 1 character"],
  ];

  for (const [mode, path] of kernelModes) {
    it(`every bad input throws a TypeError naming its absolute offset, in any segmentation (${mode})`, async () => {
      usePath(path);
      try {
        await withSeed(testSeed(), async (random) => {
          for (const [text, options, offset, rule] of cases) {
            // Good groups before it move the offset; the message names the absolute one.
            for (const prefix of ["", "QUJD", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVph".repeat(3)]) {
              const input = ascii(prefix + text);
              const message = `Cannot decode base64 as ${rule}: received it at byte offset ${prefix.length + offset}`;
              assert.throws(() => referenceDecode(input, options), { name: "TypeError", message });
              for (let k = 0; k < 8; k++) {
                await assert.rejects(pipe(random, base64Decoder(options), input), (error: unknown) => {
                  assert.ok(error instanceof TypeError);
                  assert.equal(error.message, message);
                  return true;
                });
              }
            }
          }
        });
      } finally {
        usePath("auto");
      }
    });
  }

  it("the same inputs decode leniently without throwing, like Buffer", async () => {
    await withSeed(testSeed(), async (random) => {
      for (const [text] of cases) {
        const expected = new Uint8Array(Buffer.from(text, "base64"));
        assert.deepEqual(await pipe(random, base64Decoder({ strict: false }), ascii(text)), expected, text);
      }
    });
  });

  it("a failed decoder resets, so it can decode the next stream", async () => {
    await withSeed(testSeed(), async (random) => {
      const decoder = base64Decoder();
      await assert.rejects(pipe(random, decoder, ascii("QUJD*")), TypeError);
      assert.deepEqual(await pipe(random, decoder, ascii("QUJD")), new Uint8Array([0x41, 0x42, 0x43]));
      await assert.rejects(pipe(random, decoder, ascii("QQ=")), /byte offset 2$/);
      assert.deepEqual(await pipe(random, decoder, ascii("QQ==")), new Uint8Array([0x41]));
    });
  });

  it("the error reaches the producer: its next write rejects with it", async () => {
    const source = new Channel();
    const reader = pipeThrough(source.reader, base64Decoder());
    await source.writer.write(ascii("QUJD#"));
    await assert.rejects(reader.read(), /byte offset 4$/);
    await assert.rejects(source.writer.write(ascii("QUJD")), /byte offset 4$/);
  });
});

describe("base64 options", () => {
  it("wrong option values throw at construction", () => {
    for (const make of [base64Encoder, base64Decoder] as ((o: unknown) => ChannelTransform)[]) {
      assert.throws(() => make({ alphabet: "base32" }), {
        name: "RangeError",
        message: /alphabet must be "base64" or "base64url": received "base32"$/,
      });
      assert.throws(() => make({ alphabet: 64 }), RangeError);
      assert.throws(() => make(null), { name: "TypeError", message: /options must be an object/ });
      assert.throws(() => make("base64"), TypeError);
    }
    assert.throws(() => base64Encoder({ padding: "yes" } as unknown as Base64EncoderOptions), {
      name: "TypeError",
      message: /padding must be a boolean: received yes$/,
    });
    assert.throws(() => base64Decoder({ strict: 1 } as unknown as Base64DecoderOptions), {
      name: "TypeError",
      message: /strict must be a boolean: received 1$/,
    });
    assert.throws(() => base64Decoder({ skipWhitespace: null } as unknown as Base64DecoderOptions), TypeError);
    // Defaults: "base64", padded, strict, whitespace rejected.
    assert.ok(base64Encoder() !== undefined && base64Decoder({}) !== undefined);
  });

  it("large inputs cross the kernel scratch space in several calls, into another memory", async () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 131 + (i >> 9)) & 255);
    const text = ascii(Buffer.from(data).toString("base64"));
    for (
      const [transform, input, expected] of [
        [base64Encoder(), data, text],
        [base64Decoder(), text, data],
      ] as const
    ) {
      const pool = new MemoryPool({ blockSize: 1 << 20 });
      const source = new Channel({ pool });
      // A different pool: the output is always in another memory than the input.
      const reader = pipeThrough(source.reader, transform, { pool: new MemoryPool({ blockSize: 1 << 20 }) });
      await source.writer.write(input);
      source.writer.complete();
      assert.deepEqual(await drain(reader), expected);
    }
  });
});

describe("base64 over adjacent and scattered blocks", () => {
  /**
   * A held buffer of `data` in 16-byte blocks of a fresh pool: adjacent in memory (the kernel
   * takes several segments in one call) or scattered (a block held aside after each one).
   */
  function heldBuffer(data: Uint8Array, scattered: boolean): { buffer: ReadableBuffer; done: () => void } {
    const pool = new MemoryPool({ blockSize: 16, blocksPerSlab: 4096, debug: true });
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const spacers: PoolBlock[] = [];
    for (let at = 0; at < data.length; at += 16) {
      const chunk = data.subarray(at, at + 16);
      channel.writer.getMemory(chunk.length).set(chunk);
      channel.writer.advance(chunk.length);
      if (scattered) spacers.push(pool.rent());
    }
    void channel.writer.flush();
    const result = channel.reader.tryRead();
    assert.equal(result === undefined, data.length === 0, "a read finds the data, or there is none");
    const buffer = result?.buffer ?? ReadableBuffer.from([]);
    const views = [...buffer];
    // The precondition this test is about: every boundary adjacent, or none.
    const adjacent = views.slice(1).filter((v, i) => v.byteOffset === views[i]!.byteOffset + views[i]!.length).length;
    assert.equal(adjacent, scattered ? 0 : Math.max(0, views.length - 1));
    return {
      buffer,
      done: () => {
        channel.reader.complete();
        channel.writer.complete();
        for (const block of spacers) pool.release(block);
        assert.equal(pool.stats().rentedBlocks, 0);
      },
    };
  }

  /** Runs `transform` once over `buffer` (final) into a channel; the output or the error. */
  function runOnce(transform: ChannelTransform, buffer: ReadableBuffer, pool?: MemoryPool): Uint8Array {
    const out = new Channel({ pauseWriterThreshold: 0, ...(pool === undefined ? {} : { pool }) });
    try {
      transform.transform(buffer, out.writer, true);
      void out.writer.flush();
      const result = out.reader.tryRead();
      return result === undefined ? new Uint8Array(0) : result.buffer.toUint8Array();
    } finally {
      out.writer.complete();
      out.reader.complete();
    }
  }

  for (const scattered of [false, true]) {
    const kind = scattered ? "scattered" : "adjacent";
    it(`encode and decode over ${kind} blocks, output in the same memory or another, like Buffer`, async () => {
      await withSeed(testSeed(), (random) => {
        for (let round = 0; round < 60; round++) {
          const data = random.bytes(random.int(0, 700));
          const options = randomEncoderOptions(random);
          const text = ascii(expectedText(data, options));
          const otherPool = random.chance(0.5) ? new MemoryPool({ blockSize: 64 }) : undefined;
          const input = heldBuffer(data, scattered);
          const encoded = runOnce(base64Encoder(options), input.buffer, otherPool);
          input.done();
          assert.deepEqual(encoded, text, `encode of ${data.length} bytes (${kind})`);
          const held = heldBuffer(text, scattered);
          const decoded = runOnce(base64Decoder({ alphabet: options.alphabet }), held.buffer, otherPool);
          held.done();
          assert.deepEqual(decoded, data, `decode of ${text.length} characters (${kind})`);
        }
      });
    });

    it(`a bad character inside a run of ${kind} blocks is named at its stream offset`, async () => {
      await withSeed(testSeed(), (random) => {
        for (let round = 0; round < 40; round++) {
          const text = ascii(Buffer.from(random.bytes(random.int(30, 600))).toString("base64"));
          const at = random.int(0, text.length - 3);
          text[at] = 0x21; // "!"
          const held = heldBuffer(text, scattered);
          assert.throws(() => runOnce(base64Decoder(), held.buffer), {
            name: "TypeError",
            message: `Cannot decode base64 as the character is not in the alphabet: received it at byte offset ${at}`,
          });
          held.done();
        }
      });
    });
  }
});

describe("base64 kernels", () => {
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 4 });
  const simd = instantiateKernels(memory, compileKernels("simd"));
  const scalar = instantiateKernels(memory, compileKernels("scalar"));
  const bytes = new Uint8Array(memory.buffer);
  const SRC = 65536;
  const DST = 2 * 65536;

  it("SIMD and scalar encode agree byte for byte with each other and the reference", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 3000; round++) {
        const src = SRC + random.int(0, 15);
        const dst = DST + random.int(0, 15);
        const len = random.chance(0.1) ? random.int(0, 4000) : random.int(0, 200);
        const url = random.int(0, 1);
        bytes.set(random.bytes(len), src);
        const expected = new Uint8Array(Math.floor(len / 3) * 4 + 8);
        const n = encodeGroupsReference(bytes, src, len, expected, 0, url);
        for (const [name, k] of [["simd", simd], ["scalar", scalar]] as const) {
          bytes.fill(0xaa, dst, dst + n + 32);
          assert.equal(k.base64Encode(src, len, dst, url), n, `${name} length ${len}`);
          assert.deepEqual(bytes.subarray(dst, dst + n), expected.subarray(0, n), `${name} ${len} ${url}`);
          assert.equal(bytes[dst + n], 0xaa, `${name} writes nothing past its output`);
        }
      }
    });
  });

  it("SIMD and scalar decode agree with the reference, and stop at the first bad character", async () => {
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 3000; round++) {
        const src = SRC + random.int(0, 15);
        const dst = DST + random.int(0, 15);
        const url = random.int(0, 1);
        const data = random.bytes(random.chance(0.1) ? random.int(0, 3000) : random.int(0, 150));
        const text = ascii(Buffer.from(data).toString(url ? "base64url" : "base64").replace(/=+$/, ""));
        // Sometimes a character outside the alphabet: every byte value gets its turn.
        if (text.length > 0 && random.chance(0.6)) text[random.int(0, text.length - 1)] = random.int(0, 255);
        bytes.set(text, src);
        const len = text.length;
        const capacity = Math.floor(len / 4) * 3;
        const expected = new Uint8Array(capacity);
        const r = decodeGroupsReference(text, 0, len, expected, 0, url);
        const written = r >= 0 ? r : Math.floor((-1 - r) / 4) * 3;
        for (const [name, k] of [["simd", simd], ["scalar", scalar]] as const) {
          bytes.fill(0xaa, dst, dst + capacity + 32);
          assert.equal(k.base64Decode(src, len, dst, url), r, `${name} length ${len}`);
          assert.deepEqual(bytes.subarray(dst, dst + written), expected.subarray(0, written), name);
          assert.equal(bytes[dst + capacity], 0xaa, `${name} writes nothing past 3 * (len / 4) bytes`);
        }
      }
    });
  });

  it("decode reports any byte outside the alphabet at its offset in a long run", () => {
    const good = ascii(Buffer.from(new Uint8Array(300).map((_, i) => i * 37)).toString("base64").slice(0, 400));
    for (const url of [0, 1]) {
      const table = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" : "";
      for (let value = 0; value < 256; value++) {
        const valid = url
          ? table.includes(String.fromCharCode(value))
          : /[A-Za-z0-9+/]/.test(String.fromCharCode(value));
        if (valid) continue;
        const at = (value * 7) % 400;
        const text = good.slice();
        if (url) {
          for (let i = 0; i < text.length; i++) {
            text[i] = text[i] === 0x2b ? 0x2d : text[i] === 0x2f ? 0x5f : text[i]!;
          }
        }
        text[at] = value;
        bytes.set(text, SRC);
        assert.equal(simd.base64Decode(SRC, 400, DST, url), -1 - at, `simd ${value} at ${at}`);
        assert.equal(scalar.base64Decode(SRC, 400, DST, url), -1 - at, `scalar ${value} at ${at}`);
      }
    }
  });
});
