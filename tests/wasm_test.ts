// The WebAssembly pipeline and the kernel layer (src/_wasm/): committed bytes match the sources,
// the SIMD and scalar builds agree with each other and with a JS reference, the module compiles
// lazily, a host that refuses to compile gets a clear error and the injection point, and every
// path of every operation (kernel, native, TypeScript; forced through setKernelPath) gives the
// same bytes and the same error offsets, in pool memory and out of it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { Buffer } from "node:buffer";
import { Channel, MemoryPool, setWasmModule } from "../mod.ts";
import { referenceValidate } from "../src/_utf8_reference.ts";
import { type ByteSink, decodeBase64Groups, encodeBase64Groups } from "../src/_wasm/base64.ts";
import { compileKernels, instantiateKernels, kernelModule, kernelVariant } from "../src/_wasm/kernels.ts";
import { memchr } from "../src/_wasm/memchr.ts";
import {
  hasNativePath,
  type KernelOp,
  type KernelPath,
  pathFor,
  resetKernelLayerForTesting,
  setKernelPath,
} from "../src/_wasm/paths.ts";
import { kernelsAvailable, kernelsOf, memoryView } from "../src/_wasm/registry.ts";
import { utf8Validate } from "../src/_wasm/utf8_validate.ts";
import { type Random, testSeed, withSeed } from "./_util.ts";

describe("the embedded kernels", () => {
  it("match what wasm/ builds to (run `npm run build:wasm` after changing wasm/)", () => {
    // Node runs the AssemblyScript compiler (the same build script a developer runs).
    const output = execFileSync("node", ["scripts/build_wasm.mjs", "--check"], { encoding: "utf8" });
    assert.match(output, /matches wasm/);
  });

  it("SIMD and scalar memchr agree with a JS reference on random data", async () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    const simd = instantiateKernels(memory, compileKernels("simd"));
    const scalar = instantiateKernels(memory, compileKernels("scalar"));
    const bytes = new Uint8Array(memory.buffer);
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 3000; round++) {
        const base = 65536 + random.int(0, 63);
        const length = random.int(0, 300);
        const alphabet = random.int(1, 255);
        for (let i = 0; i < length + 64; i++) bytes[base + i] = random.int(0, alphabet);
        const value = random.int(0, alphabet);
        let expected = -1;
        for (let i = 0; i < length; i++) {
          if (bytes[base + i] === value) {
            expected = i;
            break;
          }
        }
        assert.equal(simd.memchr(base, length, value), expected, `simd, length ${length}`);
        assert.equal(scalar.memchr(base, length, value), expected, `scalar, length ${length}`);
      }
    });
  });

  it("memchr uses only the low 8 bits of the value and finds matches at every offset of a vector", () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    const bytes = new Uint8Array(memory.buffer);
    for (const variant of ["simd", "scalar"] as const) {
      const k = instantiateKernels(memory, compileKernels(variant));
      for (let at = 0; at < 130; at++) {
        bytes.fill(0, 65536, 65536 + 200);
        bytes[65536 + at] = 0x0a;
        assert.equal(k.memchr(65536, 200, 0x0a), at, `${variant} at ${at}`);
        assert.equal(k.memchr(65536, 200, 0x10a), at, `${variant} high bits at ${at}`);
        assert.equal(k.memchr(65536, at, 0x0a), -1, `${variant} range ends before ${at}`);
      }
    }
  });
});

describe("loading", () => {
  after(() => resetKernelLayerForTesting());

  it("compiles nothing until a search runs", async () => {
    resetKernelLayerForTesting();
    const { writer, reader } = new Channel({ pool: new MemoryPool() });
    await writer.write(new Uint8Array([1, 2, 3]));
    const r = await reader.read();
    assert.equal(kernelVariant(), undefined, "channels and pools must not compile the kernels");
    setKernelPath("memchr", "wasm");
    assert.equal(r.buffer.indexOf(3), 2);
    assert.equal(kernelVariant(), "simd", "every supported runtime validates the SIMD build");
    reader.advanceTo(3);
  });

  it("setWasmModule injects a precompiled module", async () => {
    resetKernelLayerForTesting();
    setKernelPath("memchr", "wasm");
    const module = compileKernels("scalar");
    setWasmModule(module);
    assert.equal(kernelModule(), module);
    assert.equal(kernelVariant(), "injected");
    const { writer, reader } = new Channel({ pool: new MemoryPool() });
    await writer.write(new TextEncoder().encode("find the x"));
    const r = await reader.read();
    assert.equal(r.buffer.indexOf(0x78), 9);
    reader.advanceTo(r.buffer.length);
  });

  it("setWasmModule rejects what is not the kernels module with TypeError", () => {
    assert.throws(() => setWasmModule({} as WebAssembly.Module), TypeError);
    const empty = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    assert.throws(() => setWasmModule(empty), (e) => e instanceof TypeError && /memchr/.test(e.message));
  });

  it("a host that refuses to compile gets an error that explains setWasmModule, and search falls back", async () => {
    resetKernelLayerForTesting();
    setKernelPath("memchr", "wasm");
    const original = WebAssembly.Module;
    (WebAssembly as { Module: unknown }).Module = function refuse() {
      throw new WebAssembly.CompileError("WebAssembly.Module(): Wasm code generation disallowed by embedder");
    };
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    try {
      assert.throws(() => kernelModule(), (e) => e instanceof Error && /setWasmModule/.test(e.message));
      assert.throws(() => kernelModule(), /setWasmModule/, "the error stays");
      // One warning for the process, however often the kernels are asked for.
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /^channels: Cannot compile .*setWasmModule.*run in TypeScript \(slower\)\.$/);
      const { writer, reader } = new Channel({ pool: new MemoryPool() });
      await writer.write(new Uint8Array([5, 6, 7]));
      const r = await reader.read();
      assert.equal(r.buffer.indexOf(7), 2, "search falls back to the runtime's indexOf");
      assert.equal(pathFor("memchr", 1), "native");
      reader.advanceTo(3);
      assert.equal(warnings.length, 1);
    } finally {
      (WebAssembly as { Module: unknown }).Module = original;
      console.warn = warn;
    }
  });
});

// ---- the kernel layer ----

const PATHS: readonly KernelPath[] = ["wasm", "native", "typescript"];

/** Runs `body` with `op` forced to each path in turn (and "auto" last), restoring the table after. */
function eachPath<T>(op: KernelOp, body: (path: KernelPath | "auto") => T): Map<KernelPath | "auto", T> {
  const results = new Map<KernelPath | "auto", T>();
  try {
    for (const path of [...PATHS, "auto"] as const) {
      setKernelPath(op, path);
      results.set(path, body(path));
    }
  } finally {
    setKernelPath(op, "auto");
  }
  return results;
}

/** A sink over consecutive views of `blocks` (a channel's output, in miniature). */
function blockSink(blocks: readonly Uint8Array[]): ByteSink & { bytes(): Uint8Array } {
  let index = -1;
  const filled: number[] = [];
  const sink = {
    view: new Uint8Array(0) as Uint8Array,
    at: 0,
    room(need: number): void {
      if (sink.view.length - sink.at >= need) return;
      if (index >= 0) filled[index] = sink.at;
      sink.view = blocks[++index] as Uint8Array;
      sink.at = 0;
    },
    bytes(): Uint8Array {
      if (index >= 0) filled[index] = sink.at;
      return new Uint8Array(Buffer.concat(filled.map((n, i) => (blocks[i] as Uint8Array).subarray(0, n))));
    },
  };
  return sink;
}

describe("the kernel layer", () => {
  after(() => resetKernelLayerForTesting());

  it("finds the kernels of any view of pool memory, and none for other memory", () => {
    const pool = new MemoryPool({ blockSize: 64, blocksPerSlab: 4 });
    const block = pool.rent();
    const kernels = kernelsOf(block.bytes.subarray(10, 20).buffer);
    assert.ok(kernels !== undefined, "a view of a block finds its memory's kernels");
    assert.equal(kernelsOf(block.memory.buffer), kernels, "one instance per memory");
    assert.equal(memoryView(block.bytes.buffer)?.length, block.memory.buffer.byteLength);
    assert.equal(kernelsOf(new Uint8Array(64).buffer), undefined, "an ordinary array is not pool memory");
    assert.equal(memoryView(new ArrayBuffer(8)), undefined);
    pool.release(block);
  });

  it("a forced path is the one in use, and gives way where this runtime lacks it", () => {
    try {
      for (const op of ["memchr", "utf8Validate", "base64Encode", "base64Decode"] as const) {
        setKernelPath(op, "wasm");
        assert.equal(pathFor(op, 1 << 20), "wasm", op);
        setKernelPath(op, "typescript");
        assert.equal(pathFor(op, 1 << 20), "typescript", op);
        setKernelPath(op, "native");
        assert.equal(pathFor(op, 1 << 20), hasNativePath(op) ? "native" : "wasm", op);
      }
      setKernelPath("all", "auto");
      // The table picks by size: the same op may go either way, but always a path this host has.
      for (const op of ["memchr", "utf8Validate", "base64Encode", "base64Decode"] as const) {
        for (const size of [0, 64, 1024, 4096, 65536, 1 << 20]) {
          const path = pathFor(op, size);
          assert.ok(path === "wasm" || (path === "native" && hasNativePath(op)), `${op} at ${size}: ${path}`);
        }
      }
    } finally {
      resetKernelLayerForTesting();
    }
  });

  it("the one reset forgets forced paths and a failure to load", () => {
    setKernelPath("all", "typescript");
    const original = WebAssembly.Module;
    (WebAssembly as { Module: unknown }).Module = function refuse() {
      throw new WebAssembly.CompileError("WebAssembly.Module(): Wasm code generation disallowed by embedder");
    };
    const warn = console.warn;
    console.warn = () => {};
    try {
      resetKernelLayerForTesting();
      const pool = new MemoryPool({ blockSize: 64, blocksPerSlab: 4 });
      const block = pool.rent();
      assert.equal(kernelsOf(block.bytes.buffer), undefined, "no kernels on a host that refuses to compile");
      assert.equal(kernelsAvailable(), false);
      assert.equal(pathFor("base64Decode", 1), hasNativePath("base64Decode") ? "native" : "typescript");
      (WebAssembly as { Module: unknown }).Module = original;
      resetKernelLayerForTesting();
      assert.equal(kernelsAvailable(), true);
      assert.ok(kernelsOf(block.bytes.buffer) !== undefined, "the same memory gets kernels after the reset");
      assert.equal(pathFor("base64Decode", 1), "wasm");
      pool.release(block);
    } finally {
      (WebAssembly as { Module: unknown }).Module = original;
      console.warn = warn;
      resetKernelLayerForTesting();
    }
  });

  /** Random bytes placed in pool memory (or an ordinary array), at a random offset. */
  function place(random: Random, pool: MemoryPool, bytes: Uint8Array): { view: Uint8Array; release(): void } {
    if (random.chance(0.25)) {
      const plain = new Uint8Array(bytes.length + 16);
      const at = random.int(0, 16);
      plain.set(bytes, at);
      return { view: plain.subarray(at, at + bytes.length), release: () => {} };
    }
    const block = pool.rent(bytes.length + 16);
    const at = random.int(0, 16);
    block.bytes.set(bytes, at);
    return { view: block.bytes.subarray(at, at + bytes.length), release: () => pool.release(block) };
  }

  it("memchr: every path finds the same byte, bounded by its range", async () => {
    const pool = new MemoryPool({ blockSize: 8192, blocksPerSlab: 8 });
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 400; round++) {
        const bytes = random.bytes(random.int(0, round % 20 === 0 ? 6000 : 300), new Uint8Array([1, 2, 3, 10]));
        const { view, release } = place(random, pool, bytes);
        const from = random.int(0, bytes.length);
        const to = random.int(from, bytes.length);
        let expected = bytes.subarray(from, to).indexOf(10);
        if (expected >= 0) expected += from;
        for (const [path, found] of eachPath("memchr", () => memchr(view, from, to, 10))) {
          assert.equal(found, expected, `${path}: [${from}, ${to}) of ${bytes.length}`);
        }
        release();
      }
    });
  });

  it("utf8Validate: every path gives the kernel's answer, in pool memory and out of it", async () => {
    const pool = new MemoryPool({ blockSize: 8192, blocksPerSlab: 8 });
    const text = new TextEncoder().encode("ascii words, naïve café, Ελληνικά, 日本語, 🚀 ");
    const bad = new Uint8Array([0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0xe2, 0x82, 0xf0, 0x9f, 0xff]);
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 600; round++) {
        const parts: number[] = [];
        const n = random.int(0, round % 20 === 0 ? 3000 : 200);
        while (parts.length < n) {
          if (random.chance(0.03)) parts.push(bad[random.int(0, bad.length - 1)] as number);
          else parts.push(...text.subarray(0, random.int(1, text.length)));
        }
        const bytes = new Uint8Array(parts);
        const { view, release } = place(random, pool, bytes);
        const from = random.int(0, Math.min(4, bytes.length));
        const to = random.int(from, bytes.length);
        const expected = referenceValidate(bytes, from, to);
        for (const [path, r] of eachPath("utf8Validate", () => utf8Validate(view, from, to))) {
          assert.equal(r, expected, `${path}: [${from}, ${to}) of ${Buffer.from(bytes).toString("hex")}`);
        }
        release();
      }
    });
  });

  it("base64 groups: every path writes the same bytes and stops at the same group, across output views", async () => {
    // Input and output in one memory (the kernel writes in place), in two (through scratch), or
    // an ordinary array (TypeScript, or native).
    const pool = new MemoryPool({ blockSize: 16384, blocksPerSlab: 64 });
    const other = new MemoryPool({ blockSize: 16384, blocksPerSlab: 64 });
    const noise = new TextEncoder().encode("=-_+/ \n*\x00");
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 300; round++) {
        const url = random.chance(0.5);
        const data = random.bytes(3 * random.int(0, round % 10 === 0 ? 3000 : 100));
        const text = new Uint8Array(Buffer.from(Buffer.from(data).toString(url ? "base64url" : "base64"), "latin1"));
        if (random.chance(0.4) && text.length > 0) {
          text[random.int(0, text.length - 1)] = noise[random.int(0, noise.length - 1)] as number;
        }
        const input = place(random, pool, data);
        const inputText = place(random, pool, text);
        // Output views of random sizes (1–200 bytes, or a few KiB), in the input's pool or another.
        const outPool = random.chance(0.5) ? pool : other;
        const blocks = Array.from({ length: 8 }, () => outPool.rent());
        const views = () => {
          // Each block cut into views of 4–200 bytes, or of 1000 bytes to the whole block.
          const small = random.chance(0.5);
          const out: Uint8Array[] = [];
          for (const block of blocks) {
            for (let at = 0; at < block.bytes.length;) {
              const n = Math.min(block.bytes.length - at, small ? random.int(4, 200) : random.int(1000, 16384));
              out.push(block.bytes.subarray(at, at + n));
              at += n;
            }
          }
          return out;
        };
        const encodeViews = views();
        const encoded = eachPath("base64Encode", () => {
          const sink = blockSink(encodeViews);
          encodeBase64Groups(input.view, 0, data.length, sink, url);
          return sink.bytes();
        });
        for (const [path, bytes] of encoded) {
          assert.equal(
            Buffer.from(bytes).toString("latin1"),
            Buffer.from(data).toString(url ? "base64url" : "base64"),
            `${path}: encode`,
          );
        }
        const decodeViews = views();
        const decoded = eachPath("base64Decode", () => {
          const sink = blockSink(decodeViews);
          const stop = decodeBase64Groups(inputText.view, 0, text.length, sink, url);
          return { stop, bytes: sink.bytes() };
        });
        const reference = decoded.get("typescript") as { stop: number; bytes: Uint8Array };
        // Every group before the one with the first character outside the alphabet is decoded.
        const bad = text.findIndex((c) => !(url ? /[A-Za-z0-9_-]/ : /[A-Za-z0-9+/]/).test(String.fromCharCode(c)));
        assert.equal(reference.stop, bad < 0 ? text.length : bad - (bad % 4));
        const good = Buffer.from(text.subarray(0, reference.stop)).toString("latin1");
        assert.deepEqual(reference.bytes, new Uint8Array(Buffer.from(good, "base64")));
        for (const [path, result] of decoded) {
          assert.equal(result.stop, reference.stop, `${path}: decode stops at the same group`);
          assert.deepEqual(result.bytes, reference.bytes, `${path}: decode writes the same bytes`);
        }
        for (const b of blocks) outPool.release(b);
        input.release();
        inputText.release();
      }
    });
  });
});
