// Base64 encode and decode, bytes to bytes, three ways (one process, every figure a ratio to a
// peer measured in the same run):
//
//   deno run -A bench/base64.ts [--quick] [--mib N]
//   bun bench/base64.ts
//   node dist-bench/bench/base64.js
//
// 1. Paths (what src/_wasm/paths.ts's table for base64Encode/base64Decode is made of): whole
//    groups of bytes in pool memory into pool memory with the kernel layer forced to its
//    WebAssembly kernel ("kernel"), forced to the runtime's native base64 ("ours-native"), and
//    as the table chooses ("ours-auto"), against the runtime's own methods as their best user
//    would write them (into a pool view: Buffer, toBase64/setFromBase64 where present) and
//    base64-js. The native method that wins is the baseline.
// 2. Streaming overhead: base64Encoder()/base64Decoder().transform(buffer, writer, true) on a
//    channel buffer of 4 KiB segments (adjacent in memory, or scattered), into a channel over the
//    same pool (getMemory/advance, a flush and the output reader's advanceTo per op), against
//    "ours-auto" on the same bytes contiguous (the chosen path, one call).
// 3. Through a channel: --mib MiB (48; 16 with --quick) of binary data (or its base64 text) as
//    chunks of 1 KiB, 16 KiB, 48 KiB and 1 MiB: `await writer.write(chunk)` into a Channel, piped
//    through the transform with pipeThrough, the output read to the end; against the fastest
//    native bytes-to-bytes job on the same chunks (each chunk encoded or decoded into one reused
//    output array, a group cut by a chunk boundary carried as a user must). The pipe also runs
//    with the kernel layer forced to each path (the table's evidence where it matters: output in
//    4 KiB blocks, input runs as the pool hands them out), and a diagnostic row copies each chunk
//    into pool memory before the native job (what write() cannot avoid).
//
// MB/s always counts binary bytes (the input when encoding, the output when decoding), as in
// perf-anchors.md §1. Parts 1 and 2: each sample runs a calibrated loop of about 50 ms (15 ms
// with --quick) after a warm-up; methods are interleaved sample by sample; the figure is the
// median. Part 3: 7 runs of each method (5 with --quick), interleaved; the median. Wall time, or
// the process's CPU time with --cpu-time (on a machine shared with other work).

import { Buffer } from "node:buffer";
import { fromByteArray, toByteArray } from "base64-js";
import {
  base64Decoder,
  base64Encoder,
  Channel,
  type ChannelTransform,
  MemoryPool,
  pipeThrough,
  type PoolBlock,
  type ReadableBuffer,
} from "../mod.ts";
import { type ByteSink, decodeBase64Groups, encodeBase64Groups } from "../src/_wasm/base64.ts";
import { hasNativePath, type KernelOp, nativeFromBytes, pathFor, setKernelPath } from "../src/_wasm/paths.ts";
import {
  cpuClock,
  flag,
  fmt,
  fmtRatio,
  fmtSize,
  markdownTable,
  median,
  newReport,
  numberOption,
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
const SIZES = [KiB, 3 * KiB, 16 * KiB, 48 * KiB, MiB];
const STREAM_SIZES = [3 * KiB, 16 * KiB, 48 * KiB, MiB];
const CHUNKS = [KiB, 16 * KiB, 48 * KiB, MiB];
const TOTAL = numberOption("mib", flag("quick") ? 16 : 48) * MiB;
const CHANNEL_RUNS = flag("quick") ? 5 : 7;
// --cpu-time: every part counts the process's CPU time instead of wall time (a machine shared
// with other work: waiting for a core is not the job's cost).
const CPU_TIME = flag("cpu-time");
const clock = CPU_TIME ? cpuClock : () => performance.now();

// Big blocks for the contiguous cases (input and output in one 16 MiB slab, so the kernel writes
// in place), and the 4 KiB channel segments in 8 MiB slabs.
const bigPool = new MemoryPool({ blockSize: 2 * MiB, blocksPerSlab: 8 });
const segmentPool = new MemoryPool({ blockSize: 4 * KiB, blocksPerSlab: 2048 });

interface NativeBase64 {
  toBase64?: (this: Uint8Array) => string;
  setFromBase64?: (this: Uint8Array, text: string) => { read: number; written: number };
}
const proto = Uint8Array.prototype as NativeBase64;
interface FastBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
  base64Slice(start: number, end: number): string;
  base64Write(text: string, offset: number, length: number): number;
}
const utf8 = new TextEncoder();
const td = new TextDecoder();
const IS_DENO = runtime() === "deno";

interface Method {
  id: string;
  label: string;
  /** Runs `n` ops; returns a checksum (kept so nothing is optimized away). */
  loop: (n: number) => number;
  before?: () => void;
}

/** A sink over one view of pool memory (the contiguous case: one call fills it). */
function viewSink(view: Uint8Array): ByteSink {
  return { view, at: 0, room: () => {} };
}

/** Forces `path` for `op` for the next method (undefined: the table decides). */
function forcing(op: KernelOp, path: "wasm" | "native" | "auto"): () => void {
  return () => setKernelPath(op, path);
}

/**
 * A channel buffer of `bytes` over 4 KiB segments (held: never advanced). Adjacent: the blocks
 * follow each other in memory, as a channel's blocks do when they come back to the pool in
 * order. Scattered: a block held aside after each segment, so no two are adjacent.
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

function data(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 2654435761) >>> 24;
  return bytes;
}

/** The methods of part 1 (and 2): encoding `size` bytes (whole groups). */
function encodeMethods(size: number): { methods: Method[]; check: () => Uint8Array; release: () => void } {
  const [srcBlock, dstBlock] = rentPair();
  const whole = size - (size % 3);
  const src = srcBlock.bytes.subarray(0, whole);
  src.set(data(whole));
  const dst = dstBlock.bytes.subarray(0, (whole / 3) * 4);
  const dstBuf = Buffer.from(dst.buffer, dst.byteOffset, dst.length) as FastBuffer;
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.length) as FastBuffer;
  const sink = viewSink(dst);
  const ours = (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sink.at = 0;
      encodeBase64Groups(src, 0, whole, sink, false);
      sum += sink.at;
    }
    return sum;
  };
  const methods: Method[] = [
    { id: "kernel", label: "ours, kernel path (forced)", loop: ours, before: forcing("base64Encode", "wasm") },
  ];
  if (hasNativePath("base64Encode")) {
    methods.push({
      id: "ours-native",
      label: "ours, native path (forced)",
      loop: ours,
      before: forcing("base64Encode", "native"),
    });
  }
  methods.push(
    { id: "ours-auto", label: "ours, the table's choice", loop: ours, before: forcing("base64Encode", "auto") },
    {
      id: "buffer-latin1",
      label: 'Buffer toString("base64") + write(latin1)',
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += dstBuf.latin1Write(srcBuf.toString("base64"), 0, dst.length);
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
  );
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
    if (!IS_DENO) {
      // (Deno's Buffer#latin1Write is a JavaScript loop: 30–60 MB/s, not a contender.)
      methods.push({
        id: "tobase64-latin1",
        label: "toBase64() + Buffer latin1Write",
        loop: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += dstBuf.latin1Write(toBase64.call(src), 0, dst.length);
          return sum;
        },
      });
    }
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
  return {
    methods,
    check: () => dst.slice(),
    release: () => {
      bigPool.release(srcBlock);
      bigPool.release(dstBlock);
    },
  };
}

/** The methods of part 1 (and 2): decoding the text of `size` bytes (whole groups). */
function decodeMethods(size: number): { methods: Method[]; check: () => Uint8Array; release: () => void } {
  const [srcBlock, dstBlock] = rentPair();
  const whole = size - (size % 3);
  const bytes = data(whole);
  const text = utf8.encode(Buffer.from(bytes).toString("base64"));
  const src = srcBlock.bytes.subarray(0, text.length);
  src.set(text);
  const dst = dstBlock.bytes.subarray(0, whole);
  const dstBuf = Buffer.from(dst.buffer, dst.byteOffset, dst.length) as FastBuffer;
  const srcBuf = Buffer.from(src.buffer, src.byteOffset, src.length) as FastBuffer;
  const sink = viewSink(dst);
  const ours = (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sink.at = 0;
      if (decodeBase64Groups(src, 0, src.length, sink, false) !== src.length) throw new Error("Cannot decode");
      sum += sink.at;
    }
    return sum;
  };
  const methods: Method[] = [
    { id: "kernel", label: "ours, kernel path (forced)", loop: ours, before: forcing("base64Decode", "wasm") },
  ];
  if (hasNativePath("base64Decode")) {
    methods.push({
      id: "ours-native",
      label: "ours, native path (forced)",
      loop: ours,
      before: forcing("base64Decode", "native"),
    });
  }
  methods.push(
    { id: "ours-auto", label: "ours, the table's choice", loop: ours, before: forcing("base64Decode", "auto") },
    {
      id: "buffer-latin1",
      label: 'Buffer latin1Slice + base64Write (write(s, "base64"))',
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += dstBuf.base64Write(srcBuf.latin1Slice(0, src.length), 0, dst.length);
        return sum;
      },
    },
  );
  if (proto.setFromBase64 !== undefined) {
    const setFromBase64 = proto.setFromBase64;
    methods.push(
      {
        id: "setfrombase64",
        label: "TextDecoder + setFromBase64",
        loop: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += setFromBase64.call(dst, td.decode(src)).written;
          return sum;
        },
      },
      {
        id: "setfrombase64-latin1",
        label: "Buffer latin1Slice + setFromBase64",
        loop: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += setFromBase64.call(dst, srcBuf.latin1Slice(0, src.length)).written;
          return sum;
        },
      },
    );
  }
  methods.push({
    id: "base64-js",
    label: "base64-js toByteArray + set",
    loop: (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const out = toByteArray(srcBuf.latin1Slice(0, src.length));
        dst.set(out);
        sum += out.length;
      }
      return sum;
    },
  });
  return {
    methods,
    check: () => {
      if (Buffer.compare(dst, bytes) !== 0) throw new Error("Cannot trust a decode: wrong bytes");
      return dst.slice();
    },
    release: () => {
      bigPool.release(srcBlock);
      bigPool.release(dstBlock);
    },
  };
}

// ---- part 3: through a channel ----

// The native job each runtime does fastest (part 3 on this machine), for the diagnostic row,
// and a pool block each chunk is copied into first there (as write() does).
const DIAG_NATIVE = {
  encode: proto.toBase64 !== undefined ? "tobase64" : "buffer-latin1",
  decode: proto.setFromBase64 !== undefined ? "setfrombase64-latin1" : "buffer-latin1",
} as const;
const staging = bigPool.rent().bytes;

function stageChunk(chunk: Uint8Array): Uint8Array {
  staging.set(chunk);
  return staging.subarray(0, chunk.length);
}

const ENCODE_TABLE = utf8.encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");

/**
 * The fastest native way to encode a stream of chunks on this runtime, bytes to bytes: each
 * chunk's whole groups in one native call into a reused output array (the 1–2 bytes a chunk
 * boundary cuts off carried to the next chunk, their group written in JavaScript).
 */
function nativeEncodeStream(id: string, chunks: readonly Uint8Array[], out: Uint8Array, stage = false): number {
  const outBuf = Buffer.from(out.buffer, out.byteOffset, out.length) as FastBuffer;
  const toBase64 = proto.toBase64;
  const carry = new Uint8Array(3);
  let carried = 0;
  let written = 0;
  const group = (at: number) => {
    const v = ((carry[0] as number) << 16) | ((carry[1] as number) << 8) | (carry[2] as number);
    out[at] = ENCODE_TABLE[v >>> 18] as number;
    out[at + 1] = ENCODE_TABLE[(v >>> 12) & 63] as number;
    out[at + 2] = ENCODE_TABLE[(v >>> 6) & 63] as number;
    out[at + 3] = ENCODE_TABLE[v & 63] as number;
    return 4;
  };
  for (const original of chunks) {
    const chunk = stage ? stageChunk(original) : original;
    let off = 0;
    let at = 0;
    if (carried > 0) {
      while (carried < 3 && off < chunk.length) carry[carried++] = chunk[off++] as number;
      if (carried < 3) continue;
      at += group(0);
      carried = 0;
    }
    const whole = chunk.length - off - ((chunk.length - off) % 3);
    if (whole > 0) {
      const part = off === 0 && whole === chunk.length ? chunk : chunk.subarray(off, off + whole);
      if (id === "tobase64") {
        at += utf8.encodeInto((toBase64 as NonNullable<typeof toBase64>).call(part), out.subarray(at)).written;
      } else if (id === "tobase64-latin1") {
        at += outBuf.latin1Write((toBase64 as NonNullable<typeof toBase64>).call(part), at, out.length - at);
      } else {
        const b = Buffer.from(part.buffer, part.byteOffset, part.length);
        const text = b.toString("base64");
        at += id === "buffer-encodeinto"
          ? utf8.encodeInto(text, out.subarray(at)).written
          : outBuf.latin1Write(text, at, out.length - at);
      }
    }
    for (off += whole; off < chunk.length;) carry[carried++] = chunk[off++] as number;
    written += at;
  }
  if (carried > 0) {
    for (let i = carried; i < 3; i++) carry[i] = 0;
    written += group(0);
  }
  return written;
}

/**
 * The fastest native way to decode a stream of text chunks, bytes to bytes: each chunk's whole
 * groups made a string and decoded in one native call into a reused output array (a group cut
 * by a chunk boundary carried to the next chunk).
 */
function nativeDecodeStream(id: string, chunks: readonly Uint8Array[], out: Uint8Array, stage = false): number {
  const outBuf = Buffer.from(out.buffer, out.byteOffset, out.length) as FastBuffer;
  const setFromBase64 = proto.setFromBase64;
  let carry = "";
  let written = 0;
  for (const original of chunks) {
    const chunk = stage ? stageChunk(original) : original;
    const chunkBuf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) as FastBuffer;
    let text = id === "setfrombase64" ? td.decode(chunk) : chunkBuf.latin1Slice(0, chunk.length);
    if (carry.length > 0) text = carry + text;
    const whole = text.length - (text.length % 4);
    carry = text.slice(whole);
    const groups = whole === text.length ? text : text.slice(0, whole);
    written += id === "buffer-latin1"
      ? outBuf.base64Write(groups, 0, out.length)
      : (setFromBase64 as NonNullable<typeof setFromBase64>).call(out, groups).written;
  }
  if (carry.length > 0) {
    written += id === "buffer-latin1"
      ? outBuf.base64Write(carry, 0, out.length)
      : (setFromBase64 as NonNullable<typeof setFromBase64>).call(out, carry).written;
  }
  return written;
}

/** Writes `chunks` into a channel piped through `transform`, reading the output to its end. */
async function channelStream(transform: ChannelTransform, chunks: readonly Uint8Array[]): Promise<number> {
  const source = new Channel();
  const output = pipeThrough(source.reader, transform);
  const consumer = (async () => {
    let n = 0;
    for (;;) {
      const r = output.tryRead() ?? await output.read();
      n += r.buffer.length;
      output.advanceTo(r.buffer.length);
      if (r.isCompleted) break;
    }
    output.complete();
    return n;
  })();
  for (const chunk of chunks) await source.writer.write(chunk);
  source.writer.complete();
  return await consumer;
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
  return chunks;
}

interface ChannelRow {
  job: "encode" | "decode";
  chunk: number;
  method: string;
  label: string;
  mbPerSec: number;
  spreadPercent: number;
}

async function channelRows(): Promise<ChannelRow[]> {
  const rows: ChannelRow[] = [];
  const binary = data(TOTAL);
  const text = utf8.encode(Buffer.from(binary).toString("base64"));
  const expectedText = text.length;
  for (const job of ["encode", "decode"] as const) {
    const op: KernelOp = job === "encode" ? "base64Encode" : "base64Decode";
    const natives = job === "encode"
      ? [
        "buffer-latin1",
        "buffer-encodeinto",
        ...(proto.toBase64 ? ["tobase64"] : []),
        ...(proto.toBase64 && !IS_DENO ? ["tobase64-latin1"] : []),
      ]
      : ["buffer-latin1", ...(proto.setFromBase64 ? ["setfrombase64", "setfrombase64-latin1"] : [])];
    for (const chunk of CHUNKS) {
      const chunks = chunked(job === "encode" ? binary : text, chunk);
      const out = new Uint8Array(Math.ceil((chunk + 4) / 3) * 4 + 8);
      const methods: { id: string; label: string; run: () => Promise<number> | number; expect: number }[] = [
        {
          id: "channel",
          label: `pipeThrough(${job === "encode" ? "base64Encoder" : "base64Decoder"}()), ${fmtSize(chunk)} writes`,
          run: () => channelStream(job === "encode" ? base64Encoder() : base64Decoder(), chunks),
          expect: job === "encode" ? expectedText : TOTAL,
        },
        // The same pipe with the kernel layer forced to each path: what the table is made of, in
        // the setting it serves (output in 4 KiB blocks, input runs as the pool hands them out).
        ...(["wasm", ...(hasNativePath(op) ? ["native" as const] : [])] as const).map((path) => ({
          id: `channel-${path === "wasm" ? "kernel" : "native"}`,
          label: `pipeThrough, ${path === "wasm" ? "kernel" : "native"} path (forced), ${fmtSize(chunk)} writes`,
          run: async () => {
            setKernelPath(op, path);
            try {
              return await channelStream(job === "encode" ? base64Encoder() : base64Decoder(), chunks);
            } finally {
              setKernelPath(op, "auto");
            }
          },
          expect: job === "encode" ? expectedText : TOTAL,
        })),
        ...natives.map((id) => ({
          id,
          label: `${id}, one native call per ${fmtSize(chunk)} chunk`,
          run: () => job === "encode" ? nativeEncodeStream(id, chunks, out) : nativeDecodeStream(id, chunks, out),
          expect: job === "encode" ? expectedText : TOTAL,
        })),
        {
          // What a channel cannot avoid on top of the same native job: write() copies each chunk
          // into pool memory. The ceiling of the channel's ratio where it takes the native path.
          id: "diag-copy-native",
          label: `diagnostic: each chunk copied into pool memory, then ${DIAG_NATIVE[job]}`,
          run: () =>
            job === "encode"
              ? nativeEncodeStream(DIAG_NATIVE.encode, chunks, out, true)
              : nativeDecodeStream(DIAG_NATIVE.decode, chunks, out, true),
          expect: job === "encode" ? expectedText : TOTAL,
        },
      ];
      const times: number[][] = methods.map(() => []);
      for (let round = -1; round < CHANNEL_RUNS; round++) {
        for (let k = 0; k < methods.length; k++) {
          const m = methods[k] as (typeof methods)[number];
          const start = clock();
          // deno-lint-ignore no-await-in-loop
          const n = await m.run();
          const ms = clock() - start;
          if (n !== m.expect) {
            throw new Error(`Cannot trust ${job} ${m.id} at ${fmtSize(chunk)}: ${n} bytes, not ${m.expect}`);
          }
          if (round >= 0) (times[k] as number[]).push(ms); // round -1 warms up
        }
      }
      methods.forEach((m, k) => {
        const mbs = (times[k] as number[]).map((ms) => TOTAL / ms / 1000);
        rows.push({
          job,
          chunk,
          method: m.id,
          label: m.label,
          mbPerSec: median(mbs),
          spreadPercent: spreadPercent(mbs),
        });
      });
    }
  }
  return rows;
}

// ---- run ----

const NATIVE = new Set([
  "buffer-latin1",
  "buffer-encodeinto",
  "tobase64",
  "tobase64-latin1",
  "setfrombase64",
  "setfrombase64-latin1",
]);
const method = [
  "bytes in pool memory → encoded/decoded bytes in pool memory; MB/s of binary bytes (10^6 B/s)",
  `parts 1–2: ${SAMPLES} samples of ~${SAMPLE_MS} ms per method, interleaved, after ${WARMUP_MS} ms of warm-up; median`,
  `part 3: ${TOTAL / MiB} MiB through a channel in chunks, ${CHANNEL_RUNS} runs per method, interleaved; median`,
  `times are ${CPU_TIME ? "the process's CPU time (--cpu-time)" : "wall time"}`,
  "paths: the kernel layer forced to its kernel or native path, and the table's choice, against the best native method",
  "streaming overhead: transform on 4 KiB segments (adjacent or scattered) ÷ the table's choice on the same bytes contiguous (1 = free)",
  "through a channel: pipeThrough MB/s ÷ the fastest native bytes-to-bytes job on the same chunks (above 1: the channel is faster)",
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
  const op: KernelOp = job === "encode" ? "base64Encode" : "base64Decode";
  for (const size of SIZES) {
    const { methods, check, release } = job === "encode" ? encodeMethods(size) : decodeMethods(size);
    if (STREAM_SIZES.includes(size)) {
      // Part 2 on the same bytes: the transform over 4 KiB segments, adjacent and scattered.
      const whole = size - (size % 3);
      const input = job === "encode" ? data(whole) : utf8.encode(Buffer.from(data(whole)).toString("base64"));
      const make = () => (job === "encode" ? base64Encoder() : base64Decoder());
      const name = job === "encode" ? "base64Encoder" : "base64Decoder";
      const adjacent = channelBuffer(input, false);
      methods.push(
        {
          id: "transform",
          label: `${name}() on adjacent 4 KiB segments`,
          loop: transformLoop(make(), adjacent),
          before: forcing(op, "auto"),
        },
        {
          id: "transform-scattered",
          label: `${name}() on scattered 4 KiB segments`,
          loop: transformLoop(make(), channelBuffer(input, true)),
          before: forcing(op, "auto"),
        },
        {
          id: "transform-kernel",
          label: `${name}() on adjacent 4 KiB segments, kernel path (forced)`,
          loop: transformLoop(make(), adjacent),
          before: forcing(op, "wasm"),
        },
      );
      if (hasNativePath(op)) {
        methods.push({
          id: "transform-native",
          label: `${name}() on adjacent 4 KiB segments, native path (forced)`,
          loop: transformLoop(make(), adjacent),
          before: forcing(op, "native"),
        });
      }
    }
    // Every contiguous method must produce the same bytes.
    let reference: Uint8Array | undefined;
    for (const m of methods) {
      m.before?.();
      m.loop(1);
      if (m.id.startsWith("transform")) continue;
      const got = check();
      if (reference === undefined) reference = got;
      else if (Buffer.compare(got, reference) !== 0) throw new Error(`Cannot trust ${job} ${m.id}: wrong bytes`);
    }
    const samples = sampleNsPerOp(methods, {
      sampleMs: SAMPLE_MS,
      samples: SAMPLES,
      warmupMs: WARMUP_MS,
      warmupBatch: 4,
      reheat: true,
      clock,
    }).map((ns) => ns.map((nsPerOp) => ((size - (size % 3)) / nsPerOp) * 1000)); // MB/s
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
    setKernelPath(op, "auto");
    release();
  }
}

console.log(
  markdownTable(
    ["job", "size", " method", "MB/s", "±%"],
    rows.map((r) => [r.job, fmtSize(r.size), r.label, fmt(r.mbPerSec, 0), fmt(r.spreadPercent, 0)]),
  ),
);

const nativeFromLabel = (op: KernelOp) => {
  const bytes = nativeFromBytes(op);
  return bytes === Infinity ? "never" : fmtSize(bytes);
};
const find = (job: string, size: number, id: string) =>
  rows.find((r) => r.job === job && r.size === size && r.method === id);
const ratios = (["encode", "decode"] as const).flatMap((job) =>
  SIZES.map((size) => {
    const mb = (id: string) => find(job, size, id)?.mbPerSec ?? NaN;
    const natives = rows.filter((r) => r.job === job && r.size === size && NATIVE.has(r.method));
    const best = natives.reduce((a, b) => (b.mbPerSec > a.mbPerSec ? b : a));
    return {
      job,
      size,
      kernel: mb("kernel"),
      oursNative: mb("ours-native"),
      auto: mb("ours-auto"),
      transform: mb("transform"),
      scattered: mb("transform-scattered"),
      transformKernel: mb("transform-kernel"),
      transformNative: mb("transform-native"),
      best,
      js: mb("base64-js"),
      path: pathFor(job === "encode" ? "base64Encode" : "base64Decode", size - (size % 3)),
    };
  })
);
console.log(`\n${runtime()}: the kernel layer's paths against the best native method (MB/s ratios):\n`);
console.log(
  markdownTable(
    [
      "job",
      "size",
      "kernel MB/s",
      "ours native MB/s",
      " best native",
      "native MB/s",
      "kernel ÷ ours native",
      "table's choice",
      "choice ÷ best native",
      "kernel ÷ base64-js",
    ],
    ratios.map((r) => [
      r.job,
      fmtSize(r.size),
      fmt(r.kernel, 0),
      fmt(r.oursNative, 0),
      r.best.method,
      fmt(r.best.mbPerSec, 0),
      fmtRatio(r.kernel / r.oursNative),
      r.path,
      fmtRatio(r.auto / r.best.mbPerSec),
      fmtRatio(r.kernel / r.js),
    ]),
  ),
);
const streamRatios = ratios.filter((r) => STREAM_SIZES.includes(r.size));
console.log(
  `\nstreaming: transform ÷ the table's choice on the same bytes contiguous (overhead; 1 = free), and the paths in the transform:\n`,
);
console.log(
  markdownTable(
    ["job", "size", "adjacent", "scattered", "transform: kernel ÷ native path"],
    streamRatios.map((r) => [
      r.job,
      fmtSize(r.size),
      fmtRatio(r.transform / r.auto),
      fmtRatio(r.scattered / r.auto),
      fmtRatio(r.transformKernel / r.transformNative),
    ]),
  ),
);

const channel = await channelRows();
console.log("");
console.log(
  markdownTable(
    ["job", "chunk", " method", "MB/s", "±%"],
    channel.map((r) => [r.job, fmtSize(r.chunk), r.label, fmt(r.mbPerSec, 0), fmt(r.spreadPercent, 0)]),
  ),
);
const channelRatios = (["encode", "decode"] as const).flatMap((job) =>
  CHUNKS.map((chunk) => {
    const all = channel.filter((r) => r.job === job && r.chunk === chunk);
    const ours = all.find((r) => r.method === "channel") as ChannelRow;
    const best = all.filter((r) => !r.method.startsWith("channel") && !r.method.startsWith("diag"))
      .reduce((a, b) => (b.mbPerSec > a.mbPerSec ? b : a));
    const ceiling = all.find((r) => r.method === "diag-copy-native") as ChannelRow;
    const kernel = all.find((r) => r.method === "channel-kernel") as ChannelRow;
    const native = all.find((r) => r.method === "channel-native");
    return {
      job,
      chunk,
      ours,
      best,
      ratio: ours.mbPerSec / best.mbPerSec,
      ceiling: ceiling.mbPerSec / best.mbPerSec,
      paths: native === undefined ? NaN : kernel.mbPerSec / native.mbPerSec,
    };
  })
);
console.log(`\n${runtime()}: through a channel ÷ the fastest native bytes-to-bytes job on the same chunks:\n`);
console.log(
  markdownTable(
    [
      "job",
      "chunk",
      "channel MB/s",
      " best native",
      "native MB/s",
      "channel ÷ native",
      "copy + native ÷ native",
      "in the pipe: kernel ÷ native path",
    ],
    channelRatios.map((r) => [
      r.job,
      fmtSize(r.chunk),
      fmt(r.ours.mbPerSec, 0),
      r.best.method,
      fmt(r.best.mbPerSec, 0),
      fmtRatio(r.ratio),
      fmtRatio(r.ceiling),
      fmtRatio(r.paths),
    ]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
// Channel rows have other keys: kept apart so the size tables of bench/REPORT.md skip them.
(report as unknown as { channelRows: ChannelRow[] }).channelRows = channel;
report.summary = [
  {
    title:
      "base64 through a channel ÷ the fastest native bytes-to-bytes job (MB/s ratio; above 1: the channel is faster)",
    rows: channelRatios.map((r) => ({
      label: `${r.job} ${fmtSize(r.chunk)} chunks`,
      value: `${fmtRatio(r.ratio)} (${r.best.method}; copy + native: ${fmtRatio(r.ceiling)})`,
      number: r.ratio,
    })),
  },
  {
    title:
      "base64 streaming overhead: transform on 4 KiB segments ÷ the table's choice contiguous (adjacent / scattered; 1 = free)",
    rows: streamRatios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: `${fmtRatio(r.transform / r.auto)} / ${fmtRatio(r.scattered / r.auto)}`,
      number: r.transform / r.auto,
    })),
  },
  {
    title: "base64 paths in the pipe: kernel ÷ native path through pipeThrough (above 1: the kernel is faster)",
    rows: channelRatios.map((r) => ({
      label: `${r.job} ${fmtSize(r.chunk)} chunks`,
      value: fmtRatio(r.paths),
      number: r.paths,
    })),
  },
  {
    title:
      "base64 paths: kernel ÷ native path, contiguous / in the transform on 4 KiB output blocks (above 1: the kernel is faster), and the table's choice",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: `${fmtRatio(r.kernel / r.oursNative)} / ${
        fmtRatio(r.transformKernel / r.transformNative)
      } (${r.path}; native from ${nativeFromLabel(r.job === "encode" ? "base64Encode" : "base64Decode")})`,
      number: r.transformKernel / r.transformNative,
    })),
  },
  {
    title: "base64 contiguous: the table's choice ÷ the best native method (MB/s ratio)",
    rows: ratios.map((r) => ({
      label: `${r.job} ${fmtSize(r.size)}`,
      value: `${fmtRatio(r.auto / r.best.mbPerSec)} (${r.best.method})`,
      number: r.auto / r.best.mbPerSec,
    })),
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
