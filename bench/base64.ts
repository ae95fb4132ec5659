// Base64 encode and decode with the data already in pool memory and the result going back
// into pool memory (the pipe's job): our kernel on one contiguous block, our transform over a
// multi-segment channel buffer, Buffer, toBase64/setFromBase64 where present, and base64-js.
//
//   deno run -A bench/base64.ts [--quick]
//   bun bench/base64.ts
//   node dist-bench/bench/base64.js
//
// MB/s always counts binary bytes (the input when encoding, the output when decoding), as in
// perf-anchors.md §1. Each sample runs a calibrated loop of about 50 ms (15 ms with --quick)
// after a warm-up; methods are interleaved sample by sample; the figure is the median.
//
// - "kernel": kernels.base64Encode/base64Decode on one block, output in the same memory, plus
//   the final group in JavaScript (what a one-shot API would do).
// - "transform": base64Encoder()/base64Decoder().transform(buffer, writer, true) on a channel
//   buffer of 4 KiB segments, into a channel over the same pool (getMemory/advance, a flush
//   and the output reader's advanceTo per op): the streaming cost without the async pump.
// - native: Buffer `toString("base64")` + a latin1 write (or TextEncoder.encodeInto) into a
//   pool view; decode: a latin1 string of the text + `buf.write(s, "base64")` into a pool view;
//   `toBase64()` + encodeInto and `setFromBase64` into a pool view where present.
// - base64-js: `fromByteArray` + a latin1 write; `toByteArray` + a copy into the pool view.

import { Buffer } from "node:buffer";
import { fromByteArray, toByteArray } from "base64-js";
import {
  base64Decoder,
  base64Encoder,
  Channel,
  type ChannelTransform,
  MemoryPool,
  type PoolBlock,
  type ReadableBuffer,
} from "../mod.ts";
import { instantiateKernels } from "../src/_wasm/kernels.ts";
import {
  fmt,
  fmtRatio,
  fmtSize,
  markdownTable,
  median,
  newReport,
  printHeader,
  runtime,
  sampleNsPerOp,
  sampling,
  spreadPercent,
  writeReport,
} from "./_util.ts";

const { sampleMs: SAMPLE_MS, samples: SAMPLES, warmupMs: WARMUP_MS } = sampling();
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [KiB, 16 * KiB, MiB];

// One pool: big blocks for the contiguous cases, and the 4 KiB channel segments, in 16 MiB
// slabs so input and output share a memory (the kernel writes the output in place).
const bigPool = new MemoryPool({ blockSize: 2 * MiB, blocksPerSlab: 16 });
const segmentPool = new MemoryPool({ blockSize: 4 * KiB, blocksPerSlab: 2048 });

interface NativeBase64 {
  toBase64?: (this: Uint8Array) => string;
  setFromBase64?: (this: Uint8Array, text: string) => { read: number; written: number };
}
const proto = Uint8Array.prototype as NativeBase64;
const utf8 = new TextEncoder();
const td = new TextDecoder();

interface Method {
  id: string;
  label: string;
  /** Runs `n` ops; returns a checksum (kept so nothing is optimized away). */
  loop: (n: number) => number;
}

/**
 * A channel buffer of `bytes` over 4 KiB segments (held: never advanced). Adjacent: the
 * blocks follow each other in memory, as a channel's blocks do when they come back to the
 * pool in order. Scattered: a block held aside after each segment, so no two are adjacent
 * (the worst case: one kernel call and one straddling group per segment).
 */
function channelBuffer(bytes: Uint8Array, scattered: boolean): ReadableBuffer {
  const channel = new Channel({ pool: segmentPool });
  for (let at = 0; at < bytes.length; at += 4096) {
    const n = Math.min(4096, bytes.length - at);
    channel.writer.getMemory(n).set(bytes.subarray(at, at + n));
    channel.writer.advance(n);
    if (scattered) segmentPool.rent(); // held for the whole run: the next block is not adjacent
  }
  void channel.writer.flush();
  const result = channel.reader.tryRead();
  if (result === undefined || result.buffer.length !== bytes.length) throw new Error("Cannot set up the buffer");
  return result.buffer;
}

/** One op of a transform on `buffer` into a channel, and the output consumed. */
function transformLoop(transform: ChannelTransform, buffer: ReadableBuffer): (n: number) => number {
  const out = new Channel({ pool: segmentPool, pauseWriterThreshold: 0 });
  return (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      transform.transform(buffer, out.writer, true);
      void out.writer.flush();
      const r = out.reader.tryRead();
      if (r === undefined) throw new Error("Cannot read the transform's output");
      sum += r.buffer.length;
      out.reader.advanceTo(r.buffer.length);
    }
    return sum;
  };
}

/** Two blocks in one memory: the kernel reads one and writes the other. */
function rentPair(): [PoolBlock, PoolBlock] {
  const a = bigPool.rent();
  const b = bigPool.rent();
  if (a.memory !== b.memory) throw new Error("Cannot set up the blocks in one memory");
  return [a, b];
}

function encodeMethods(size: number): { methods: Method[]; check: () => Uint8Array } {
  const [srcBlock, dstBlock] = rentPair();
  const src = srcBlock.bytes.subarray(0, size);
  for (let i = 0; i < size; i++) src[i] = (i * 2654435761) >>> 24;
  const outLength = Math.ceil(size / 3) * 4;
  const dst = dstBlock.bytes.subarray(0, outLength);
  const dstBuf = Buffer.from(dst.buffer, dst.byteOffset, dst.length);
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.length);
  const kernels = instantiateKernels(srcBlock.memory);
  const whole = size - (size % 3);
  const table = utf8.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  const buffer = channelBuffer(src, false);
  const scattered = channelBuffer(src, true);
  const methods: Method[] = [
    {
      id: "kernel",
      label: "kernel, contiguous (+ final group in JS)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          let at = kernels.base64Encode(src.byteOffset, whole, dst.byteOffset, 0);
          if (whole < size) {
            const b0 = src[whole] as number;
            const b1 = whole + 1 < size ? src[whole + 1] as number : 0;
            dst[at++] = table[b0 >> 2] as number;
            dst[at++] = table[((b0 & 3) << 4) | (b1 >> 4)] as number;
            dst[at++] = whole + 1 < size ? table[(b1 & 15) << 2] as number : 0x3d;
            dst[at++] = 0x3d;
          }
          sum += at;
        }
        return sum;
      },
    },
    {
      id: "transform",
      label: "base64Encoder() on adjacent 4 KiB segments",
      loop: transformLoop(base64Encoder(), buffer),
    },
    {
      id: "transform-scattered",
      label: "base64Encoder() on scattered 4 KiB segments",
      loop: transformLoop(base64Encoder(), scattered),
    },
    {
      id: "buffer-latin1",
      label: 'Buffer toString("base64") + write(latin1)',
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += dstBuf.write(srcBuf.toString("base64"), "latin1");
        return sum;
      },
    },
    {
      id: "buffer-encodeinto",
      label: 'Buffer toString("base64") + encodeInto',
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += utf8.encodeInto(srcBuf.toString("base64"), dst).written;
        return sum;
      },
    },
  ];
  if (proto.toBase64 !== undefined) {
    const toBase64 = proto.toBase64;
    methods.push({
      id: "tobase64",
      label: "toBase64() + encodeInto",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += utf8.encodeInto(toBase64.call(src), dst).written;
        return sum;
      },
    });
  }
  methods.push({
    id: "base64-js",
    label: "base64-js fromByteArray + write(latin1)",
    loop: (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += dstBuf.write(fromByteArray(src), "latin1");
      return sum;
    },
  });
  return { methods, check: () => dst.slice() };
}

function decodeMethods(size: number): { methods: Method[]; check: () => Uint8Array } {
  const [srcBlock, dstBlock] = rentPair();
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
  const text = utf8.encode(Buffer.from(data).toString("base64"));
  const src = srcBlock.bytes.subarray(0, text.length);
  src.set(text);
  const dst = dstBlock.bytes.subarray(0, size);
  const dstBuf = Buffer.from(dst.buffer, dst.byteOffset, dst.length);
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.length);
  const kernels = instantiateKernels(srcBlock.memory);
  const lookup = new Uint8Array(128);
  for (let i = 0; i < 64; i++) {
    lookup["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".charCodeAt(i)] = i;
  }
  const buffer = channelBuffer(src, false);
  const scattered = channelBuffer(src, true);
  const lastGroup = src.length - 4;
  const methods: Method[] = [
    {
      id: "kernel",
      label: "kernel, contiguous (+ final group in JS)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          // Every group but the last (which may hold padding), then the last in JS.
          let at = kernels.base64Decode(src.byteOffset, lastGroup, dst.byteOffset, 0);
          const v = ((lookup[src[lastGroup] as number] as number) << 18) |
            ((lookup[src[lastGroup + 1] as number] as number) << 12) |
            ((lookup[src[lastGroup + 2] as number] as number) << 6) | (lookup[src[lastGroup + 3] as number] as number);
          dst[at++] = v >> 16;
          if (src[lastGroup + 2] !== 0x3d) dst[at++] = (v >> 8) & 255;
          if (src[lastGroup + 3] !== 0x3d) dst[at++] = v & 255;
          sum += at;
        }
        return sum;
      },
    },
    {
      id: "transform",
      label: "base64Decoder() on adjacent 4 KiB segments",
      loop: transformLoop(base64Decoder(), buffer),
    },
    {
      id: "transform-scattered",
      label: "base64Decoder() on scattered 4 KiB segments",
      loop: transformLoop(base64Decoder(), scattered),
    },
    {
      id: "buffer-latin1",
      label: 'Buffer toString(latin1) + write(s, "base64")',
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += dstBuf.write(srcBuf.toString("latin1"), "base64");
        return sum;
      },
    },
  ];
  if (proto.setFromBase64 !== undefined) {
    const setFromBase64 = proto.setFromBase64;
    methods.push({
      id: "setfrombase64",
      label: "TextDecoder + setFromBase64",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += setFromBase64.call(dst, td.decode(src)).written;
        return sum;
      },
    });
  }
  methods.push({
    id: "base64-js",
    label: "base64-js toByteArray + set",
    loop: (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const bytes = toByteArray(srcBuf.toString("latin1"));
        dst.set(bytes);
        sum += bytes.length;
      }
      return sum;
    },
  });
  return {
    methods,
    check: () => {
      if (Buffer.compare(dst, data) !== 0) throw new Error("Cannot trust a decode: wrong bytes");
      return dst.slice();
    },
  };
}

/** Iterations that take about `ms`. */
const NATIVE = new Set(["buffer-latin1", "buffer-encodeinto", "tobase64", "setfrombase64"]);
const method = [
  "bytes in pool memory → encoded/decoded bytes in pool memory; MB/s of binary bytes (10^6 B/s)",
  `${SAMPLES} samples of ~${SAMPLE_MS} ms per method, interleaved, after ${WARMUP_MS} ms of warm-up; median`,
  "kernel ÷ native: kernel MB/s over the best native method's (above 1: the kernel is faster)",
  "streaming overhead: transform MB/s over kernel MB/s (1 = free; the transform runs on 4 KiB segments, adjacent or scattered in memory)",
];
printHeader("base64 on pool memory", method);
const report = newReport("base64", method);

interface Row {
  job: string;
  size: number;
  method: string;
  label: string;
  mbPerSec: number;
  spreadPercent: number;
  samples: number[];
}
const rows: Row[] = [];

for (const job of ["encode", "decode"] as const) {
  for (const size of SIZES) {
    const { methods, check } = job === "encode" ? encodeMethods(size) : decodeMethods(size);
    // Every method must produce the same bytes.
    let reference: Uint8Array | undefined;
    for (const m of methods) {
      m.loop(1);
      const got = check();
      if (reference === undefined) reference = got;
      else if (Buffer.compare(got, reference) !== 0) throw new Error(`Cannot trust ${job} ${m.id}: wrong bytes`);
    }
    const samples = sampleNsPerOp(methods, {
      sampleMs: SAMPLE_MS,
      samples: SAMPLES,
      warmupMs: WARMUP_MS,
      warmupBatch: 4,
    }).map((ns) => ns.map((nsPerOp) => (size / nsPerOp) * 1000)); // MB/s
    methods.forEach((m, k) => {
      rows.push({
        job,
        size,
        method: m.id,
        label: m.label,
        mbPerSec: median(samples[k] as number[]),
        spreadPercent: spreadPercent(samples[k] as number[]),
        samples: samples[k] as number[],
      });
    });
  }
}

console.log(
  markdownTable(
    ["job", "size", " method", "MB/s", "±%"],
    rows.map((r) => [r.job, fmtSize(r.size), r.label, fmt(r.mbPerSec, 0), fmt(r.spreadPercent, 0)]),
  ),
);

const find = (job: string, size: number, id: string) =>
  rows.find((r) => r.job === job && r.size === size && r.method === id) as Row;
const ratios = (["encode", "decode"] as const).flatMap((job) =>
  SIZES.map((size) => {
    const kernel = find(job, size, "kernel").mbPerSec;
    const transform = find(job, size, "transform").mbPerSec;
    const scattered = find(job, size, "transform-scattered").mbPerSec;
    const natives = rows.filter((r) => r.job === job && r.size === size && NATIVE.has(r.method));
    const best = natives.reduce((a, b) => (b.mbPerSec > a.mbPerSec ? b : a));
    const js = find(job, size, "base64-js").mbPerSec;
    return { job, size, kernel, transform, scattered, best, js };
  })
);
console.log(`\n${runtime()}: kernel and transform against the best native method and base64-js:\n`);
console.log(
  markdownTable(
    [
      "job",
      "size",
      "kernel MB/s",
      "transform MB/s",
      " best native",
      "native MB/s",
      "kernel ÷ native",
      "transform ÷ native",
      "transform ÷ kernel",
      "scattered ÷ kernel",
      "kernel ÷ base64-js",
    ],
    ratios.map((r) => [
      r.job,
      fmtSize(r.size),
      fmt(r.kernel, 0),
      fmt(r.transform, 0),
      r.best.method,
      fmt(r.best.mbPerSec, 0),
      fmtRatio(r.kernel / r.best.mbPerSec),
      fmtRatio(r.transform / r.best.mbPerSec),
      fmtRatio(r.transform / r.kernel),
      fmtRatio(r.scattered / r.kernel),
      fmtRatio(r.kernel / r.js),
    ]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
report.summary = [
  {
    title: "base64 kernel ÷ best native (MB/s ratio; above 1: the kernel is faster)",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: `${fmtRatio(r.kernel / r.best.mbPerSec)} (${r.best.method})`,
      number: r.kernel / r.best.mbPerSec,
    })),
  },
  {
    title: "base64 transform ÷ kernel (streaming overhead; 1 = free), adjacent 4 KiB segments",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: fmtRatio(r.transform / r.kernel),
      number: r.transform / r.kernel,
    })),
  },
  {
    title: "base64 transform ÷ kernel (streaming overhead; 1 = free), scattered 4 KiB segments",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: fmtRatio(r.scattered / r.kernel),
      number: r.scattered / r.kernel,
    })),
  },
  {
    title: "base64 MB/s (kernel / transform / best native)",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: `${fmt(r.kernel, 0)} / ${fmt(r.transform, 0)} / ${fmt(r.best.mbPerSec, 0)}`,
      number: r.kernel,
    })),
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
