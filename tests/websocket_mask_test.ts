// The WebSocket mask kernel (wasm/assembly/mask.ts): the SIMD build, the scalar build, the
// TypeScript word loop and the layer's dispatch all give the bytes of the plain byte loop, on
// random lengths, offsets and key phases, in place.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MemoryPool } from "../mod.ts";
import { maskReference, maskShort, maskWords } from "../src/_mask_reference.ts";
import { mask } from "../src/_wasm/mask.ts";
import { compileKernels, instantiateKernels } from "../src/_wasm/kernels.ts";
import { pathFor, resetKernelLayerForTesting, setKernelPath } from "../src/_wasm/paths.ts";
import { testSeed, withSeed } from "./_util.ts";

/** The key bytes little-endian, as the kernel takes them. */
function keyOf(bytes: Uint8Array): number {
  return ((bytes[0] as number) | ((bytes[1] as number) << 8) | ((bytes[2] as number) << 16) |
    ((bytes[3] as number) << 24)) >>> 0;
}

describe("the mask kernel", () => {
  after(() => resetKernelLayerForTesting());

  it("the SIMD build, the scalar build, the word loop and the short loop give the byte loop's bytes on random ranges", async () => {
    const memory = new WebAssembly.Memory({ initial: 3, maximum: 3 });
    const simd = instantiateKernels(memory, compileKernels("simd"));
    const scalar = instantiateKernels(memory, compileKernels("scalar"));
    const bytes = new Uint8Array(memory.buffer);
    await withSeed(testSeed(), (random) => {
      for (let round = 0; round < 2000; round++) {
        const base = 65536 + random.int(0, 63);
        const length = random.chance(0.1) ? random.int(0, 70000) : random.int(0, 300);
        const key = keyOf(random.bytes(4));
        const phase = random.int(0, 3);
        const data = random.bytes(length + 8);
        const expected = data.slice();
        maskReference(expected, 4, 4 + length, key, phase);
        for (
          const [name, run] of [
            ["simd", () => simd.mask(base, length, key, phase)],
            ["scalar", () => scalar.mask(base, length, key, phase)],
            ["words", () => maskWords(bytes, base, base + length, key, phase)],
            ["short", () => maskShort(bytes, base, base + length, key, phase)],
          ] as const
        ) {
          bytes.set(data, base - 4);
          run();
          const got = bytes.subarray(base - 4, base + length + 4);
          assert.deepEqual(got, expected, `${name}: length ${length}, offset ${base % 64}, phase ${phase}`);
        }
      }
    });
  });

  it("masking twice gives the original bytes back, and key byte 0 applies at phase 0", () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
    const bytes = new Uint8Array(memory.buffer);
    for (const variant of ["simd", "scalar"] as const) {
      const k = instantiateKernels(memory, compileKernels(variant));
      bytes.fill(0, 65536, 65536 + 200);
      k.mask(65536, 7, keyOf(new Uint8Array([1, 2, 3, 4])), 0);
      assert.deepEqual([...bytes.subarray(65536, 65543)], [1, 2, 3, 4, 1, 2, 3], variant);
      k.mask(65536, 7, keyOf(new Uint8Array([1, 2, 3, 4])), 0);
      assert.deepEqual([...bytes.subarray(65536, 65543)], [0, 0, 0, 0, 0, 0, 0], variant);
      k.mask(65536 + 100, 5, keyOf(new Uint8Array([1, 2, 3, 4])), 3);
      assert.deepEqual([...bytes.subarray(65636, 65641)], [4, 1, 2, 3, 4], `${variant}: phase 3`);
    }
  });

  it("a frame's payload masked piece by piece at the running phase equals one pass, on pool memory (its block given or not) and off it", async () => {
    const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 8 });
    await withSeed(testSeed(), (random) => {
      for (const path of ["wasm", "typescript"] as const) {
        setKernelPath("mask", path);
        assert.equal(pathFor("mask", 1000), path);
        for (let round = 0; round < 200; round++) {
          const length = random.int(0, 4000);
          const key = keyOf(random.bytes(4));
          const data = random.bytes(length);
          const expected = data.slice();
          maskReference(expected, 0, length, key, 0);
          const block = pool.rent();
          const offset = random.int(0, 90);
          const view = block.bytes.subarray(offset, offset + length);
          const plain = data.slice();
          view.set(data);
          // With its block, as the frame reader calls it (short pieces take another path then).
          const other = pool.rent();
          const blockView = other.bytes.subarray(offset, offset + length);
          blockView.set(data);
          let at = 0;
          while (at < length) {
            const n = Math.min(length - at, random.int(0, random.int(0, 1) === 0 ? 80 : 300));
            mask(view, at, at + n, key, at & 3);
            mask(plain, at, at + n, key, at & 3);
            mask(blockView, at, at + n, key, at & 3, other);
            at += n;
          }
          assert.deepEqual(view, expected, `${path}, pool memory: length ${length}`);
          assert.deepEqual(plain, expected, `${path}, an ordinary array: length ${length}`);
          assert.deepEqual(blockView, expected, `${path}, pool memory with its block: length ${length}`);
          pool.release(block);
          pool.release(other);
        }
      }
      setKernelPath("mask", "auto");
    });
  });
});
