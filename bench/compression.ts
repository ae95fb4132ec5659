// Deflate-raw compression and decompression of 1.8 MB of JSON at level 6: through a channel
// (compressor()/decompressor() on node:zlib's native handle, from pool memory into pool
// memory) against node:zlib's one-shot calls and CompressionStream, in the same process.
//
//   deno run -A bench/compression.ts [--quick]
//   bun bench/compression.ts
//   node dist-bench/bench/compression.js
//
// - "transform": the transform alone, as pipeThrough calls it: `transform(buffer, writer,
//   true)` on a channel buffer of 4 KiB pool segments (input already in the pool), output into
//   a channel on the same pool that the reader then consumes.
// - "pipeThrough": the whole pipe: a producer writes the bytes into a channel in 64 KiB writes
//   (one copy in), pipeThrough runs the transform, a reader consumes the output.
// - `zlib.deflateRawSync(input, { level: 6 })` / `zlib.inflateRawSync(input)`: the one-shot
//   calls on a Buffer (their default 16 KiB output chunks, then one concatenation), and
//   inflateRawSync with `chunkSize: 1 MiB`, which a user who knows the output is large passes
//   (a quarter faster here: fewer chunks to concatenate).
// - CompressionStream / DecompressionStream: `new Response(new Blob([input]).stream()
//   .pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer()`, the idiom (the
//   runtime's default level, 6 everywhere here).
//
// Each sample times enough operations for about 400 ms (150 ms with --quick); cases are
// interleaved sample by sample; the figure is the median MB/s of uncompressed bytes.

import * as zlib from "node:zlib";
import {
  Channel,
  type ChannelTransform,
  compressor,
  decompressor,
  MemoryPool,
  pipeThrough,
  type ReadableBuffer,
} from "../mod.ts";
import { compressionBackend } from "../src/compression.ts";
import {
  flag,
  fmt,
  fmtRatio,
  markdownTable,
  median,
  newReport,
  printHeader,
  spreadPercent,
  writeReport,
} from "./_util.ts";

const QUICK = flag("quick");
// One compression takes tens of milliseconds: samples of several, so a sample is not one op.
const SAMPLE_MS = QUICK ? 150 : 400;
const SAMPLES = QUICK ? 5 : 9;
const LEVEL = 6;
const pool = new MemoryPool({ blockSize: 4096, blocksPerSlab: 2048 });
// The codec is called once per output block: larger blocks, fewer calls (see the decompress rows).
const bigPool = new MemoryPool({ blockSize: 65536, blocksPerSlab: 128 });

/** About 1.8 MB of JSON records, the same bytes on every run (a seeded generator). */
function json(): Uint8Array {
  let state = 0x9e3779b9;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words = ["alpha", "beta", "gamma", "delta", "channel", "pool", "segment", "reader", "writer", "flush"];
  const cities = ["Lisbon", "Osaka", "Quito", "Tromsø", "Lagos", "Perth", "Montréal"];
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const records: unknown[] = [];
  let size = 2;
  for (let id = 0; size < 1_800_000; id++) {
    const record = {
      id,
      name: `${pick(words)}-${pick(words)}-${Math.floor(next() * 10_000)}`,
      email: `user${Math.floor(next() * 1e6)}@example.${pick(["com", "org", "net"])}`,
      active: next() < 0.7,
      score: Math.round(next() * 1e6) / 100,
      tags: Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(words)),
      address: { city: pick(cities), zip: String(Math.floor(next() * 1e5)).padStart(5, "0") },
    };
    size += JSON.stringify(record).length + 1;
    records.push(record);
  }
  return new TextEncoder().encode(JSON.stringify(records));
}

/** A channel buffer of `bytes` in pool segments of one block each, held (never advanced). */
function channelBuffer(bytes: Uint8Array, on: MemoryPool = pool): ReadableBuffer {
  const channel = new Channel({ pool: on, pauseWriterThreshold: 0 });
  for (let at = 0; at < bytes.length; at += on.blockSize) {
    const n = Math.min(on.blockSize, bytes.length - at);
    channel.writer.getMemory(n).set(bytes.subarray(at, at + n));
    channel.writer.advance(n);
  }
  void channel.writer.flush();
  const result = channel.reader.tryRead();
  if (result === undefined || result.buffer.length !== bytes.length) throw new Error("Cannot set up the buffer");
  return result.buffer;
}

/** One run of the transform on `buffer`, output consumed; resolves with the output length. */
function transformRun(make: () => ChannelTransform, buffer: ReadableBuffer, on = pool): () => Promise<number> {
  const out = new Channel({ pool: on, pauseWriterThreshold: 0 });
  const transform = make();
  return async () => {
    await transform.transform(buffer, out.writer, true);
    await out.writer.flush();
    const result = out.reader.tryRead();
    if (result === undefined) throw new Error("Cannot read the transform's output");
    const length = result.buffer.length;
    out.reader.advanceTo(length);
    return length;
  };
}

/** One run of the whole pipe: produce in 64 KiB writes, transform, consume. */
function pipeRun(make: () => ChannelTransform, input: Uint8Array, on = pool): () => Promise<number> {
  return async () => {
    const source = new Channel({ pool: on });
    const reader = pipeThrough(source.reader, make(), { pool: on });
    const producer = (async () => {
      for (let at = 0; at < input.length; at += 65536) await source.writer.write(input.subarray(at, at + 65536));
      source.writer.complete();
    })();
    let length = 0;
    for (;;) {
      const { buffer, isCompleted } = await reader.read();
      length += buffer.length;
      reader.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    reader.complete();
    await producer;
    return length;
  };
}

async function webRun(stream: () => TransformStream<Uint8Array, Uint8Array>, input: Uint8Array): Promise<number> {
  const body = new Blob([input as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream());
  return (await new Response(body).arrayBuffer()).byteLength;
}

interface Case {
  id: string;
  label: string;
  channel: boolean;
  run: () => Promise<number>;
}

const data = json();
const packed = zlib.deflateRawSync(data, { level: LEVEL });
const dataBuffer = channelBuffer(data);
const packedBuffer = channelBuffer(packed);

const compressCases: Case[] = [
  {
    id: "transform",
    label: "compressor().transform, pool → pool",
    channel: true,
    run: transformRun(() => compressor({ format: "deflate-raw", level: LEVEL }), dataBuffer),
  },
  {
    id: "pipeThrough",
    label: "pipeThrough(compressor()), write → read",
    channel: true,
    run: pipeRun(() => compressor({ format: "deflate-raw", level: LEVEL }), data),
  },
  {
    id: "deflateRawSync",
    label: "zlib.deflateRawSync",
    channel: false,
    run: () => Promise.resolve(zlib.deflateRawSync(data, { level: LEVEL }).length),
  },
  {
    id: "CompressionStream",
    label: "CompressionStream",
    channel: false,
    run: () => webRun(() => new CompressionStream("deflate-raw") as TransformStream<Uint8Array, Uint8Array>, data),
  },
];

const decompressCases: Case[] = [
  {
    id: "transform",
    label: "decompressor().transform, pool → pool",
    channel: true,
    run: transformRun(() => decompressor({ format: "deflate-raw" }), packedBuffer),
  },
  {
    id: "pipeThrough",
    label: "pipeThrough(decompressor()), write → read",
    channel: true,
    run: pipeRun(() => decompressor({ format: "deflate-raw" }), packed),
  },
  {
    id: "transform 64 KiB",
    label: "decompressor().transform, 64 KiB blocks",
    channel: true,
    run: transformRun(() => decompressor({ format: "deflate-raw" }), channelBuffer(packed, bigPool), bigPool),
  },
  {
    id: "pipeThrough 64 KiB",
    label: "pipeThrough(decompressor()), 64 KiB blocks",
    channel: true,
    run: pipeRun(() => decompressor({ format: "deflate-raw" }), packed, bigPool),
  },
  {
    id: "inflateRawSync",
    label: "zlib.inflateRawSync",
    channel: false,
    run: () => Promise.resolve(zlib.inflateRawSync(packed).length),
  },
  {
    id: "inflateRawSync 1 MiB chunks",
    label: "zlib.inflateRawSync, chunkSize 1 MiB",
    channel: false,
    run: () => Promise.resolve(zlib.inflateRawSync(packed, { chunkSize: 1 << 20 }).length),
  },
  {
    id: "DecompressionStream",
    label: "DecompressionStream",
    channel: false,
    run: () => webRun(() => new DecompressionStream("deflate-raw") as TransformStream<Uint8Array, Uint8Array>, packed),
  },
];

/** Checks every case once (this is also its first run): the output decodes to the data. */
async function verify(cases: Case[], compressing: boolean): Promise<void> {
  for (const c of cases) {
    const length = await c.run();
    const ok = compressing ? length > 0 && length < data.length / 2 : length === data.length;
    if (!ok) throw new Error(`Cannot trust ${c.id} as its output is ${length} bytes`);
  }
  // The channel's compressed bytes decode to the data (not just a plausible length).
  if (compressing) {
    const out = new Channel({ pool, pauseWriterThreshold: 0 });
    await compressor({ format: "deflate-raw", level: LEVEL }).transform(dataBuffer, out.writer, true);
    await out.writer.flush();
    const result = out.reader.tryRead();
    const bytes = result?.buffer.toUint8Array() ?? new Uint8Array(0);
    out.reader.advanceTo(bytes.length);
    const back = zlib.inflateRawSync(bytes);
    if (back.length !== data.length || !back.equals(data)) throw new Error("Cannot trust the compressor's output");
  }
}

/** Median MB/s (uncompressed bytes) per case, samples interleaved. */
async function measure(cases: Case[]): Promise<Map<string, number[]>> {
  const counts = new Map<string, number>();
  for (const c of cases) {
    // Calibrate: operations for one sample.
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < SAMPLE_MS / 2 || n < 1) {
      await c.run();
      n++;
    }
    counts.set(c.id, Math.max(1, Math.round((n * SAMPLE_MS) / (performance.now() - start))));
  }
  const samples = new Map<string, number[]>(cases.map((c) => [c.id, []]));
  for (let s = 0; s < SAMPLES; s++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + s) % cases.length] as Case;
      const n = counts.get(c.id) as number;
      const start = performance.now();
      for (let i = 0; i < n; i++) await c.run();
      samples.get(c.id)?.push((data.length * n) / 1e6 / ((performance.now() - start) / 1e3));
    }
  }
  return samples;
}

const method = [
  `${(data.length / 1e6).toFixed(2)} MB of JSON (a seeded generator), deflate-raw level ${LEVEL} (${
    (packed.length / 1e6).toFixed(2)
  } MB compressed); channel path: ${compressionBackend("deflate-raw")}`,
  "transform: the transform on a 4 KiB-segment pool buffer into a pool channel; pipeThrough: 64 KiB writes → pipe → reader; 64 KiB blocks: the same on a pool of 64 KiB blocks",
  `median of ${SAMPLES} samples of about ${SAMPLE_MS} ms, cases interleaved; MB/s of uncompressed bytes; ratio = channels ÷ peer (above 1: channels faster)`,
];
printHeader("Compression: deflate-raw through a channel vs zlib's sync calls and CompressionStream", method);
const report = newReport("compression", method);
const started = performance.now();

for (const [direction, cases] of [["compress", compressCases], ["decompress", decompressCases]] as const) {
  await verify(cases, direction === "compress");
  const samples = await measure(cases);
  const rows = cases.map((c) => {
    const mbps = samples.get(c.id) as number[];
    return {
      direction,
      case: c.id,
      label: c.label,
      channel: c.channel,
      mbPerSec: median(mbps),
      mbPerSecSamples: mbps,
      spreadPercent: spreadPercent(mbps),
    };
  });
  const channels = rows.filter((r) => r.channel);
  console.log(`### ${direction}\n`);
  console.log(
    markdownTable(
      [" case", "MB/s", "±%", ...channels.map((c) => `${c.case} ÷ this`)],
      rows.map((r) => [
        r.label,
        fmt(r.mbPerSec, 0),
        fmt(r.spreadPercent, 0),
        ...channels.map((c) => fmtRatio(c.mbPerSec / r.mbPerSec)),
      ]),
    ),
  );
  console.log("");
  report.rows.push(...rows);
  report.summary.push({
    title: `Compression (${direction}): channels ÷ peer (MB/s ratio, above 1 channels is faster)`,
    rows: channels.flatMap((c) =>
      rows.filter((r) => !r.channel).map((p) => {
        const ratio = c.mbPerSec / p.mbPerSec;
        return { label: `${direction} ${c.case} ÷ ${p.case}`, value: fmtRatio(ratio), number: ratio };
      })
    ),
  });
}
const path = writeReport(report);
console.log(`${fmt((performance.now() - started) / 1e3, 1)} s; JSON: ${path}`);
