// ReadableBuffer.indexOf(byte) on pool memory: the WebAssembly memchr kernel against the
// runtime's TypedArray.prototype.indexOf (the kernel layer's "memchr" path, forced with
// setKernelPath in src/_wasm/paths.ts). This decides the "memchr" row of that file's table.
//
//   deno run -A bench/index_of.ts [--quick]
//   bun bench/index_of.ts
//   node dist-bench/bench/index_of.js
//
// The data sits in one segment of a channel (a pool of 1 MiB blocks), and the only match is
// the last byte, so every search scans the whole buffer (perf-anchors.md §3, second table).
// Two more scenarios put 64 B and 1 KiB in the default pool's 4 KiB blocks, where the native
// path searches the view up to the block's end instead of making a bounded view.
// Each sample runs a calibrated loop of about 50 ms (15 ms with --quick) after a quarter of
// that untimed; the strategies are interleaved sample by sample; the figure is the median.
// Two references show what the library adds around each path: the kernel called directly,
// and `indexOf` on an exact-length view.

import { Channel, MemoryPool, type PoolBlock, type ReadableBuffer } from "../mod.ts";
import { nativeFromBytes, setKernelPath } from "../src/_wasm/paths.ts";
import { instantiateKernels } from "../src/_wasm/kernels.ts";
import {
  cpuClock,
  flag,
  fmt,
  fmtRatio,
  fmtSize,
  markdownTable,
  median,
  newReport,
  printHeader,
  sampleNsPerOp,
  sampling,
  spreadPercent,
  writeReport,
} from "./_util.ts";

const { sampleMs: SAMPLE_MS, samples: SAMPLES, warmupMs: WARMUP_MS } = sampling();
// --cpu-time: the process's CPU time instead of wall time (a machine shared with other work).
const clock = flag("cpu-time") ? cpuClock : undefined;
const NEEDLE = 0x0a;
const MiB = 1024 * 1024;
const bigPool = new MemoryPool({ blockSize: MiB, blocksPerSlab: 4 });
const smallPool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 16 });

interface Scenario {
  /** Bytes searched. */
  size: number;
  pool: MemoryPool;
  label: string;
}
const SCENARIOS: Scenario[] = [
  ...[64, 1024, 16 * 1024, MiB].map((size) => ({ size, pool: bigPool, label: fmtSize(size) })),
  ...[64, 1024].map((size) => ({ size, pool: smallPool, label: `${fmtSize(size)} in a 4 KiB block` })),
];

setKernelPath("memchr", "auto");
const nativeFrom = nativeFromBytes("memchr");
const defaultStrategy = nativeFrom === Infinity
  ? "wasm"
  : nativeFrom === 0
  ? "native"
  : `wasm below ${nativeFrom} B, native above`;

const rented: { pool: MemoryPool; block: PoolBlock }[] = [];

interface Method {
  id: string;
  label: string;
  /** Runs `n` searches; returns the sum of the results (kept so no search is optimized away). */
  loop: (n: number) => number;
  /** Called before each sample. */
  before?: () => void;
}

function methodsFor(buffer: ReadableBuffer, size: number, pool: MemoryPool): Method[] {
  const view = buffer.first; // the whole buffer: one segment
  // The kernel on a block of its own, filled the same way, through an instance of the
  // library's kernels module over the block's memory.
  const block = pool.rent();
  rented.push({ pool, block });
  block.bytes.fill(0, 0, size);
  block.bytes[size - 1] = NEEDLE;
  const kernels = instantiateKernels(block.memory);
  const ptr = block.byteOffset;
  return [
    {
      id: "wasm",
      label: 'buffer.indexOf(byte), setKernelPath("memchr", "wasm")',
      before: () => setKernelPath("memchr", "wasm"),
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += buffer.indexOf(NEEDLE);
        return sum;
      },
    },
    {
      id: "native",
      label: 'buffer.indexOf(byte), setKernelPath("memchr", "native")',
      before: () => setKernelPath("memchr", "native"),
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += buffer.indexOf(NEEDLE);
        return sum;
      },
    },
    {
      id: "raw-kernel",
      label: "reference: kernels.memchr(ptr, len, byte) called directly",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += kernels.memchr(ptr, size, NEEDLE);
        return sum;
      },
    },
    {
      id: "raw-indexof",
      label: "reference: exactLengthView.indexOf(byte)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += view.indexOf(NEEDLE);
        return sum;
      },
    },
  ];
}

/** Iterations that take about `ms`. */
const method = [
  `one search per op over a single pool segment (MemoryPool blockSize 1 MiB, or 4 KiB where marked) where the only ${NEEDLE} is the last byte`,
  `${SAMPLES} samples of ~${SAMPLE_MS} ms per method, interleaved, after ${WARMUP_MS} ms of warm-up; median ns/op`,
  `speed-up = native ns ÷ wasm ns (above 1: the WebAssembly kernel is faster); default strategy on this runtime: "${defaultStrategy}"`,
];
printHeader("indexOf on pool memory", method);
const report = newReport("index_of", method);

interface Row {
  scenario: string;
  size: number;
  method: string;
  label: string;
  nsPerOp: number;
  spreadPercent: number;
  gbPerSec: number;
  samples: number[];
}
const rows: Row[] = [];

for (const { size, pool, label } of SCENARIOS) {
  const channel = new Channel({ pool });
  const memory = channel.writer.getMemory(size);
  memory.fill(0, 0, size);
  memory[size - 1] = NEEDLE;
  channel.writer.advance(size);
  void channel.writer.flush();
  const result = channel.reader.tryRead();
  if (result === undefined || !result.buffer.isSingleSegment || result.buffer.length !== size) {
    throw new Error(`Cannot set up ${size} bytes in one segment: got ${result?.buffer.length} bytes`);
  }
  const methods = methodsFor(result.buffer, size, pool);
  const expected = size - 1;
  for (const m of methods) {
    m.before?.();
    if (m.loop(1) !== expected) {
      throw new Error(`Cannot trust ${m.id} at ${size} B as it found ${m.loop(1)}: expected ${expected}`);
    }
  }
  // Each sample starts after a quarter sample of untimed searches (reheat): switching the
  // strategy deoptimizes the search on V8, which a program that never switches never pays.
  const samples = sampleNsPerOp(methods, {
    sampleMs: SAMPLE_MS,
    samples: SAMPLES,
    warmupMs: WARMUP_MS,
    warmupBatch: 64,
    reheat: true,
    ...(clock === undefined ? {} : { clock }),
    verify: (k, sum, n) => {
      if (sum !== expected * n) throw new Error(`Cannot trust ${methods[k]?.id} as its results changed`);
    },
  });
  methods.forEach((m, k) => {
    const ns = median(samples[k] as number[]);
    rows.push({
      scenario: label,
      size,
      method: m.id,
      label: m.label,
      nsPerOp: ns,
      spreadPercent: spreadPercent(samples[k] as number[]),
      gbPerSec: size / ns,
      samples: samples[k] as number[],
    });
  });
  channel.reader.advanceTo(size);
  channel.reader.complete();
  channel.writer.complete();
}
setKernelPath("memchr", "auto");
for (const { pool, block } of rented) pool.release(block);

const find = (scenario: string, id: string) => rows.find((r) => r.scenario === scenario && r.method === id) as Row;
console.log(
  markdownTable(
    ["size", " method", "ns/op", "±%", "GB/s"],
    rows.map((r) => [r.scenario, r.label, fmt(r.nsPerOp, 1), fmt(r.spreadPercent, 0), fmt(r.gbPerSec, 2)]),
  ),
);
console.log(`\nnative ÷ wasm time per size (above 1: wasm is faster); default here is "${defaultStrategy}":\n`);
const speedups = SCENARIOS.map(({ label }) => {
  const wasm = find(label, "wasm").nsPerOp;
  const native = find(label, "native").nsPerOp;
  return { label, wasm, native, speedup: native / wasm };
});
console.log(
  markdownTable(
    ["size", "wasm ns", "native ns", "wasm speed-up", " faster"],
    speedups.map((
      s,
    ) => [s.label, fmt(s.wasm, 1), fmt(s.native, 1), fmtRatio(s.speedup), s.speedup >= 1 ? "wasm" : "native"]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
report.summary = [
  {
    title: 'indexOf wasm speed-up (native ns ÷ wasm ns; above 1: "wasm" is faster)',
    rows: [
      ...speedups.map((s) => ({ label: s.label, value: fmtRatio(s.speedup), number: s.speedup })),
      { label: "default strategy", value: defaultStrategy, number: defaultStrategy === "wasm" ? 1 : 0 },
    ],
  },
  {
    title: "indexOf ns/op (wasm / native)",
    rows: speedups.map((s) => ({ label: s.label, value: `${fmt(s.wasm, 1)} / ${fmt(s.native, 1)}`, number: s.wasm })),
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
