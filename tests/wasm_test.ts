// The WebAssembly pipeline: committed bytes match the sources, the SIMD and scalar builds
// agree with each other and with a JS reference, the module compiles lazily, and a host that
// refuses to compile gets a clear error and the injection point.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { Channel, MemoryPool, setWasmModule } from "../mod.ts";
import {
  compileKernels,
  instantiateKernels,
  kernelModule,
  kernelVariant,
  resetKernelsForTesting,
} from "../src/_wasm/kernels.ts";
import { resetSearchForTesting, searchStrategy, setSearchStrategy } from "../src/_search.ts";
import { hasNpmPackage, missingTool, named, ROOT } from "./_tools.ts";
import { testSeed, withSeed } from "./_util.ts";

describe("the embedded kernels", () => {
  const skipBuild = hasNpmPackage("assemblyscript") ? false : missingTool("AssemblyScript");
  it(named("match what wasm/ builds to (run `npm run build:wasm` after changing wasm/)", skipBuild), {
    skip: skipBuild,
  }, () => {
    // Node runs the AssemblyScript compiler (the same build script a developer runs).
    const output = execFileSync("node", ["scripts/build_wasm.mjs", "--check"], { cwd: ROOT, encoding: "utf8" });
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
  after(() => {
    resetKernelsForTesting();
    resetSearchForTesting();
  });

  it("compiles nothing until a search runs", async () => {
    resetKernelsForTesting();
    const { writer, reader } = new Channel({ pool: new MemoryPool() });
    await writer.write(new Uint8Array([1, 2, 3]));
    const r = await reader.read();
    assert.equal(kernelVariant(), undefined, "channels and pools must not compile the kernels");
    setSearchStrategy("wasm");
    assert.equal(r.buffer.indexOf(3), 2);
    assert.equal(kernelVariant(), "simd", "every supported runtime validates the SIMD build");
    reader.advanceTo(3);
  });

  it("setWasmModule injects a precompiled module", async () => {
    resetKernelsForTesting();
    setSearchStrategy("wasm");
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
    resetKernelsForTesting();
    resetSearchForTesting();
    setSearchStrategy("wasm");
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
      assert.equal(searchStrategy(), "native");
      reader.advanceTo(3);
      assert.equal(warnings.length, 1);
    } finally {
      (WebAssembly as { Module: unknown }).Module = original;
      console.warn = warn;
    }
  });
});
