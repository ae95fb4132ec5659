// Framing throughput: readFrames() with lengthPrefixed() and delimited() over a Channel, against
// the npm packages a user would pick instead, in one process.
//
//   deno run -A bench/framing.ts [--quick] [--reps N]
//   bun bench/framing.ts …
//   node dist-bench/bench/framing.js …   (after tsc -p tsconfig.bench.json)
//
// Every case decodes the same pre-built wire bytes, in chunks of 64 KiB (4 KiB for the long
// line), and touches each frame's length; nothing is copied out. Each chunk arrives as from a
// socket: its bytes copied once into memory the consumer may keep, a fresh Uint8Array or
// Buffer for the peers (which keep views of it in their frames) and pool memory for the
// Channel (`writer.write(chunk)` from a producer task). The Channel consumes with
// `for await (const frame of readFrames(reader, framer))`. Diagnostic rows feed the peers the
// pre-built chunks without that copy.
//
// - Length-prefixed, 32 B / 1 KiB / 64 KiB payloads with a varint length (it-length-prefixed's
//   format): lengthPrefixed({ lengthFieldLength: "varint" }) vs it-length-prefixed's decode()
//   (frames are uint8arraylist sublists) over an async source, as streams feed it. Its
//   decode() over a plain array (a sync generator, no await per chunk) is a diagnostic row.
// - Lines of 64 B and 1 KiB: delimited({ delimiter: "\r\n" }) (a lone "\n" ends a line too, as
//   split2's default /\r?\n/ and readline do) vs split2 and node:readline over a node:stream
//   Readable. Those two hand out strings (a 'data' or 'line' event each, cut from one string
//   per chunk), so the ratios use the Channel row that gives strings: `readLines(reader,
//   { delimiter: "\r\n" })`, a batch of lines per read. Other rows: readFrames(delimited) +
//   `Utf8Decoder.decode(line)` (a step and a decode per line); diagnostic: the zero-copy frames
//   alone, a `TextDecoder.decode` per line instead, and the same framer run in a synchronous
//   loop over each read (Framer.decode until it needs more), which shows what the async
//   iterator's step per frame of readFrames costs.
// - One 8 MiB line in 4 KiB chunks (a scan that must resume, not restart). split2 rescans the
//   whole tail on every chunk (quadratic: tens of seconds), so it runs once, without warm-up.
//
// Warm-up: every case runs once per size untimed; then `--reps` rounds (5) in which every case
// of a size runs once, in rotating order; the figure is the median.

import { Buffer } from "node:buffer";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import * as lp from "it-length-prefixed";
import split2 from "split2";
import type { Uint8ArrayList } from "uint8arraylist";
import {
  Channel,
  type DecodeProgress,
  delimited,
  type Framer,
  lengthPrefixed,
  MemoryPool,
  type ReadableBuffer,
  readFrames,
  readLines,
  Utf8Decoder,
} from "../mod.ts";
import {
  flag,
  fmt,
  fmtRatio,
  fmtSize,
  markdownTable,
  median,
  newReport,
  numberOption,
  printHeader,
  spreadPercent,
  writeReport,
} from "./_util.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const quick = flag("quick");
const reps = Math.round(numberOption("reps", quick ? 3 : 5));
// Wire bytes per run (before the frame count cap).
const runBytes = (quick ? 4 : 16) * MiB;
const maxFrames = quick ? 100_000 : 400_000;
const CHUNK = 64 * KiB;

const pool = new MemoryPool();

interface Workload {
  /** Label of the size column. */
  size: string;
  kind: "length-prefixed" | "lines" | "long line";
  /** The wire bytes, pre-cut into chunks (and the same bytes as Buffers for node:stream). */
  chunks: Uint8Array[];
  buffers: Buffer[];
  /** Frames (or lines) the bytes hold. */
  frames: number;
  bytes: number;
}

interface Case {
  id: string;
  label: string;
  kind: Workload["kind"];
  /** A Channel case: a numerator of the ratios. */
  channel?: boolean;
  /** The Channel case the ratios use for this kind. */
  primary?: boolean;
  /** Shown, but left out of the ratios. */
  diagnostic?: boolean;
  /** Too slow to repeat: one timed run, no warm-up. */
  once?: boolean;
  /** Decodes the workload; returns the frames seen (checked against the workload). */
  run: (w: Workload) => Promise<number>;
}

function cutInto(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, Math.min(bytes.length, at + size)));
  return out;
}

function workload(size: string, kind: Workload["kind"], bytes: Uint8Array, frames: number, chunk: number): Workload {
  const chunks = cutInto(bytes, chunk);
  return {
    size,
    kind,
    chunks,
    buffers: chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)),
    frames,
    bytes: bytes.length,
  };
}

function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** `count` frames of `payload` bytes, each after its varint length. */
function lengthPrefixedWorkload(payload: number): Workload {
  const count = Math.max(1, Math.min(maxFrames, Math.floor(runBytes / payload)));
  const header = varintLength(payload);
  const bytes = new Uint8Array(count * (header + payload));
  let at = 0;
  for (let i = 0; i < count; i++) {
    let v = payload;
    while (v >= 128) {
      bytes[at++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    bytes[at++] = v;
    bytes.fill(i & 0xff, at, at + payload);
    at += payload;
  }
  return workload(fmtSize(payload), "length-prefixed", bytes, count, CHUNK);
}

/** Lines of `length` bytes (printable ASCII, "\n" included). */
function linesWorkload(length: number): Workload {
  const count = Math.max(1, Math.min(maxFrames, Math.floor(runBytes / length)));
  const bytes = new Uint8Array(count * length);
  let state = 7;
  for (let i = 0; i < bytes.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[i] = 0x20 + ((state >>> 16) % 95);
  }
  for (let end = length - 1; end < bytes.length; end += length) bytes[end] = 0x0a;
  return workload(fmtSize(length), "lines", bytes, count, CHUNK);
}

function longLineWorkload(): Workload {
  const bytes = new Uint8Array(8 * MiB + 1).fill(0x61);
  bytes[bytes.length - 1] = 0x0a;
  return workload("8 MiB line", "long line", bytes, 1, 4 * KiB);
}

/** Writes the chunks into a channel (one copy each) while readFrames() decodes them. */
async function channelFrames(w: Workload, framer: Framer, onFrame?: (frame: ReadableBuffer) => void): Promise<number> {
  const channel = new Channel({ pool });
  const producer = produce(channel, w);
  let frames = 0;
  let bytes = 0;
  for await (const frame of readFrames(channel.reader, framer)) {
    frames++;
    bytes += frame.length;
    if (onFrame !== undefined) onFrame(frame);
  }
  await producer;
  if (bytes < 0) throw new Error("unreachable");
  return frames;
}

/** Writes the workload's chunks into the channel from a task of its own, then completes it. */
async function produce(channel: Channel, w: Workload): Promise<void> {
  for (const chunk of w.chunks) {
    // deno-lint-ignore no-await-in-loop
    if ((await channel.writer.write(chunk)).isCompleted) break;
  }
  channel.writer.complete();
}

/**
 * As channelFrames, without readFrames: every frame of a read is cut by a synchronous loop of
 * `framer.decode`, then the reader advances and reads again (what readFrames does, minus one
 * async iterator step per frame). Diagnostic.
 */
async function channelFramesSync(
  w: Workload,
  framer: Framer,
  onFrame: (frame: ReadableBuffer) => void,
): Promise<number> {
  const channel = new Channel({ pool });
  const producer = produce(channel, w);
  const reader = channel.reader;
  const progress: DecodeProgress = { consumed: 0, examined: 0, needed: 0 };
  let frames = 0;
  for (;;) {
    // deno-lint-ignore no-await-in-loop
    const { buffer, isCompleted } = await reader.read();
    for (;;) {
      const frame = framer.decode(buffer, progress);
      if (frame === undefined) break;
      frames++;
      onFrame(frame);
    }
    if (isCompleted) break;
    reader.advanceTo(progress.consumed, buffer.length);
    progress.examined = Math.max(0, progress.examined - progress.consumed);
    progress.consumed = 0;
  }
  reader.complete();
  await producer;
  return frames;
}

/** Lines as strings with readLines: a batch of lines per read (what a user wanting strings writes). */
async function channelReadLines(w: Workload): Promise<number> {
  const channel = new Channel({ pool });
  const producer = produce(channel, w);
  let lines = 0;
  for await (const batch of readLines(channel.reader, { delimiter: "\r\n" })) {
    for (const line of batch) sink += line.length;
    lines += batch.length;
  }
  await producer;
  return lines;
}

/** The chunks as an async source; `copy`: each in fresh memory, as a socket read delivers it. */
async function* asyncChunks(chunks: readonly Uint8Array[], copy: boolean): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield copy ? chunk.slice() : chunk;
}

/** The chunks as a node:stream Readable; `copy`: each in a fresh Buffer, as a socket gives. */
function nodeSource(buffers: readonly Buffer[], copy: boolean): Readable {
  let next = 0;
  return new Readable({
    read() {
      while (next < buffers.length) {
        const buffer = buffers[next++] as Buffer;
        if (!this.push(copy ? Buffer.from(buffer) : buffer)) return;
      }
      this.push(null);
    },
  });
}

async function itLengthPrefixed(w: Workload, copy: boolean): Promise<number> {
  let frames = 0;
  let bytes = 0;
  for await (const frame of lp.decode(asyncChunks(w.chunks, copy)) as AsyncGenerator<Uint8ArrayList>) {
    frames++;
    bytes += frame.byteLength;
  }
  sink += bytes;
  return frames;
}

async function split2Lines(w: Workload, copy: boolean): Promise<number> {
  let lines = 0;
  const stream = nodeSource(w.buffers, copy).pipe(split2());
  stream.on("data", (line: string) => {
    lines++;
    sink += line.length;
  });
  await once(stream, "end");
  return lines;
}

async function readlineLines(w: Workload, copy: boolean): Promise<number> {
  let lines = 0;
  const rl = createInterface({ input: nodeSource(w.buffers, copy), crlfDelay: Infinity });
  rl.on("line", (line: string) => {
    lines++;
    sink += line.length;
  });
  await once(rl, "close");
  return lines;
}

const varintFramer = lengthPrefixed({ lengthFieldLength: "varint" });
const lineFramer = delimited({ delimiter: "\r\n" });
const longLineFramer = delimited({ delimiter: "\r\n", maxLength: 16 * MiB });
const textDecoder = new TextDecoder();
const lineDecoder = new Utf8Decoder();
let sink = 0;

const CASES: Case[] = [
  {
    id: "channel-lp",
    label: 'Channel: readFrames(reader, lengthPrefixed({ lengthFieldLength: "varint" }))',
    kind: "length-prefixed",
    channel: true,
    primary: true,
    run: (w) => channelFrames(w, varintFramer),
  },
  {
    id: "it-length-prefixed",
    label: "it-length-prefixed: decode(async source) → Uint8ArrayList per frame",
    kind: "length-prefixed",
    run: (w) => itLengthPrefixed(w, true),
  },
  {
    id: "it-length-prefixed-nocopy",
    label: "it-length-prefixed: the same, chunks not copied",
    kind: "length-prefixed",
    diagnostic: true,
    run: (w) => itLengthPrefixed(w, false),
  },
  {
    id: "it-length-prefixed-sync",
    label: "it-length-prefixed: decode(array) (sync generator, no await per chunk; chunks not copied)",
    kind: "length-prefixed",
    diagnostic: true,
    run: (w) => {
      let frames = 0;
      let bytes = 0;
      for (const frame of lp.decode(w.chunks) as Generator<Uint8ArrayList>) {
        frames++;
        bytes += frame.byteLength;
      }
      sink += bytes;
      return Promise.resolve(frames);
    },
  },
  {
    id: "channel-lines",
    label: 'Channel: readFrames(reader, delimited({ delimiter: "\\r\\n" })), bytes',
    kind: "lines",
    channel: true,
    run: (w) => channelFrames(w, lineFramer),
  },
  {
    id: "channel-readlines",
    label: 'Channel: readLines(reader, { delimiter: "\\r\\n" }), a batch of strings per read',
    kind: "lines",
    channel: true,
    primary: true,
    run: channelReadLines,
  },
  {
    id: "channel-lines-string",
    label: "Channel: readFrames(delimited) + Utf8Decoder.decode(line), one step per line",
    kind: "lines",
    channel: true,
    run: (w) => channelFrames(w, lineFramer, (line) => (sink += lineDecoder.decode(line).length)),
  },
  {
    id: "channel-lines-textdecoder",
    label: "Channel: the same, + TextDecoder.decode per line instead",
    kind: "lines",
    channel: true,
    diagnostic: true,
    run: (w) =>
      channelFrames(
        w,
        lineFramer,
        (line) => (sink += textDecoder.decode(line.isSingleSegment ? line.first : line.toUint8Array()).length),
      ),
  },
  {
    id: "channel-lines-string-sync",
    label: "Channel: Utf8Decoder.decode(line), frames cut by a synchronous Framer.decode loop per read (no readFrames)",
    kind: "lines",
    channel: true,
    diagnostic: true,
    run: (w) => channelFramesSync(w, lineFramer, (line) => (sink += lineDecoder.decode(line).length)),
  },
  {
    id: "split2",
    label: "split2: Readable.pipe(split2()) → 'data' per line",
    kind: "lines",
    run: (w) => split2Lines(w, true),
  },
  {
    id: "split2-nocopy",
    label: "split2: the same, chunks not copied",
    kind: "lines",
    diagnostic: true,
    run: (w) => split2Lines(w, false),
  },
  {
    id: "readline",
    label: "node:readline: createInterface({ input: Readable }) → 'line' per line",
    kind: "lines",
    run: (w) => readlineLines(w, true),
  },
  {
    id: "readline-nocopy",
    label: "node:readline: the same, chunks not copied",
    kind: "lines",
    diagnostic: true,
    run: (w) => readlineLines(w, false),
  },
  {
    id: "channel-long-line",
    label: 'Channel: readFrames(reader, delimited({ delimiter: "\\r\\n", maxLength: 16 MiB }))',
    kind: "long line",
    channel: true,
    primary: true,
    run: (w) => channelFrames(w, longLineFramer),
  },
  {
    id: "split2-long-line",
    label: "split2 (no maxLength; one run: quadratic)",
    kind: "long line",
    once: true,
    run: (w) => split2Lines(w, true),
  },
  {
    id: "readline-long-line",
    label: "node:readline",
    kind: "long line",
    run: (w) => readlineLines(w, true),
  },
];

interface Row {
  size: string;
  kind: Workload["kind"];
  case: string;
  label: string;
  channel: boolean;
  diagnostic: boolean;
  frames: number;
  bytes: number;
  msMedian: number;
  msSamples: number[];
  spreadPercent: number;
  framesPerSec: number;
  mbPerSec: number;
  nsPerFrame: number;
}

async function timeCase(c: Case, w: Workload): Promise<number> {
  const start = performance.now();
  const frames = await c.run(w);
  const ms = performance.now() - start;
  if (frames !== w.frames) {
    throw new Error(`Cannot trust case ${c.id} as it saw ${frames} frames: expected ${w.frames} (${w.size})`);
  }
  return ms;
}

const method = [
  `wire bytes per run: up to ${fmt(runBytes / MiB, 0)} MiB and ${
    fmt(maxFrames, 0)
  } frames, in 64 KiB chunks (the long line: 8 MiB in 4 KiB chunks)`,
  "length-prefixed: varint length + payload (it-length-prefixed's format); lines: printable ASCII ending in \\n",
  `warm-up: every case once per size; then ${reps} rounds of every case in rotating order; median of the rounds (split2 on the long line: one run)`,
  "each chunk is copied once as a socket read would: into a fresh array for the peers, into pool memory for the Channel (diagnostic rows: peers without the copy)",
  "Channel: default thresholds (pause 64 KiB) on one MemoryPool (4 KiB blocks); chunks written with write() (one copy)",
  "ratio = Channel frames/s ÷ peer frames/s (above 1: the Channel is faster); lines: the Channel row that makes strings",
];
printHeader("Framing throughput", method);

const workloads: Workload[] = [
  lengthPrefixedWorkload(32),
  lengthPrefixedWorkload(KiB),
  lengthPrefixedWorkload(64 * KiB),
  linesWorkload(64),
  linesWorkload(KiB),
  longLineWorkload(),
];
const report = newReport("framing", method);
const rows: Row[] = [];
const started = performance.now();

for (const w of workloads) {
  const cases = CASES.filter((c) => c.kind === w.kind);
  const repeated = cases.filter((c) => !c.once);
  // deno-lint-ignore no-await-in-loop
  for (const c of repeated) await timeCase(c, w);
  const samples = new Map<string, number[]>(cases.map((c) => [c.id, []]));
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < repeated.length; k++) {
      const c = repeated[(k + r) % repeated.length] as Case;
      // deno-lint-ignore no-await-in-loop
      samples.get(c.id)?.push(await timeCase(c, w));
    }
  }
  // deno-lint-ignore no-await-in-loop
  for (const c of cases.filter((c) => c.once)) samples.get(c.id)?.push(await timeCase(c, w));
  for (const c of cases) {
    const ms = samples.get(c.id) as number[];
    const msMedian = median(ms);
    rows.push({
      size: w.size,
      kind: w.kind,
      case: c.id,
      label: c.label,
      channel: c.channel === true,
      diagnostic: c.diagnostic === true,
      frames: w.frames,
      bytes: w.bytes,
      msMedian,
      msSamples: ms,
      spreadPercent: spreadPercent(ms),
      framesPerSec: w.frames / (msMedian / 1e3),
      mbPerSec: w.bytes / 1e6 / (msMedian / 1e3),
      nsPerFrame: (msMedian * 1e6) / w.frames,
    });
  }
}

const key = (r: { kind: string; size: string }) => `${r.kind}/${r.size}`;
const primaryOf = new Map<string, Row>();
for (const r of rows) {
  if (CASES.find((c) => c.id === r.case)?.primary) primaryOf.set(key(r), r);
}

console.log(
  markdownTable(
    [" workload", " case", "frames/s", "MB/s", "ns/frame", "±%", "Channel ÷ this"],
    rows.map((r) => {
      const primary = primaryOf.get(key(r)) as Row;
      return [
        `${r.kind} ${r.size}`,
        r.label + (r.diagnostic ? " *(diagnostic)*" : ""),
        fmt(r.framesPerSec, 0),
        fmt(r.mbPerSec, 0),
        fmt(r.nsPerFrame, 1),
        fmt(r.spreadPercent, 0),
        r.case === primary.case ? "" : fmtRatio(primary.framesPerSec / r.framesPerSec),
      ];
    }),
  ),
);

const ratioRows = rows
  .filter((r) => !r.channel)
  .map((r) => {
    const primary = primaryOf.get(key(r)) as Row;
    const ratio = primary.framesPerSec / r.framesPerSec;
    return {
      label: `${r.kind} ${r.size}: ${primary.case} ÷ ${r.case}${r.diagnostic ? " (diagnostic)" : ""}`,
      value: fmtRatio(ratio),
      number: ratio,
    };
  });
const rateRows = rows.map((r) => ({
  label: `${r.kind} ${r.size} ${r.case} frames/s`,
  value: fmt(r.framesPerSec, 0),
  number: r.framesPerSec,
}));
report.rows = rows as unknown as Record<string, unknown>[];
report.summary = [
  { title: "Channel ÷ peer (frames/s ratio, above 1 the Channel is faster)", rows: ratioRows },
  { title: "frames per second", rows: rateRows },
];
const path = writeReport(report);
console.log(`\n${fmt((performance.now() - started) / 1e3, 1)} s; JSON: ${path}${sink < 0 ? "" : ""}`);
