// UTF-8 to a string, and UTF-8 validation, on bytes already in pool memory: Utf8Decoder and
// validateUtf8 against the runtime's TextDecoder and node:buffer's isUtf8 on the same
// contiguous bytes. This decides the "utf8Validate" row of the kernel layer's table
// (src/_wasm/paths.ts) per runtime: the utf8Validate WebAssembly kernel ("wasm"), or the
// runtime's own validator ("native": isUtf8, and a fatal TextDecoder for fatal decoding) with
// the kernel only to locate errors.
//
//   deno run -A bench/utf8.ts [--quick]
//   bun bench/utf8.ts
//   node dist-bench/bench/utf8.js
//
// Each size (1 KiB, 16 KiB, 1 MiB) of ASCII text and of mixed text (about a quarter of the
// bytes non-ASCII: accents, Greek, Cyrillic, CJK, emoji; perf-anchors.md §2) sits twice in
// pool memory: in one segment of a channel over 1 MiB blocks ("contiguous"), and in a channel
// over 4 KiB blocks shared by all sizes ("4 KiB segments"; blocks come off the free list in
// whatever order earlier sizes left it: the streaming rows below control the layout).
// Streaming rows (16 KiB and 1 MiB): `Utf8Decoder.decode(buffer, { stream: true })` of the same
// text in a channel over 4 KiB blocks, laid out two ways: "adjacent" (blocks rented in address
// order from a fresh pool, as a channel that releases consumed blocks last-first gets them back)
// and "scattered" (the pool's free list shuffled first, so no two consecutive segments are
// neighbours in memory: a pool after churn). Their reference is TextDecoder.decode of the same
// bytes contiguous. These rows touch a character in the middle of each string, which makes
// the engine flatten a string built by concatenation (V8 and JavaScriptCore build ropes), so a
// decoder that concatenates pieces pays for it here, as a user's first use of the string would.
// Two diagnostic rows show what a user could write without Utf8Decoder: TextDecoder
// `{ stream: true }` per segment, concatenated; and a copy of the buffer (toUint8Array) then
// one TextDecoder call.
// Line rows: a decode per short frame (16, 32 and 64 bytes of ASCII, one segment of a pool
// buffer each, as readFrames + delimited() yield lines), Utf8Decoder.decode(frame) against
// TextDecoder.decode(frame.first): the cost per line of turning frames into strings.
// Native methods get a view of the contiguous bytes. Fatal decoding and validation run under
// both strategies. Each sample runs a calibrated loop of about 50 ms (15 ms with --quick)
// after a quarter of that untimed; methods are interleaved sample by sample; the figure is
// the median. A reference row decodes the same text as UTF-16LE with TextDecoder: the string
// creation a kernel that transcodes to UTF-16 would still pay, which shows whether such a
// kernel could beat TextDecoder on the UTF-8 bytes.

import * as nodeBuffer from "node:buffer";
import { Channel, MemoryPool, type ReadableBuffer, Utf8Decoder, validateUtf8 } from "../mod.ts";
import { type KernelPath, pathFor, setKernelPath } from "../src/_wasm/paths.ts";

type Utf8Strategy = KernelPath | "auto";
const setUtf8Strategy = (strategy: Utf8Strategy) => setKernelPath("utf8Validate", strategy);
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
const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [KiB, 16 * KiB, MiB];
const KINDS = ["ascii", "mixed"] as const;
type Kind = (typeof KINDS)[number];

const STREAM_SIZES = [16 * KiB, MiB];
const LINE_SIZES = [16, 32, 64];

const isUtf8 = (nodeBuffer as { isUtf8?: (input: Uint8Array) => boolean }).isUtf8;
const contiguousPool = new MemoryPool({ blockSize: MiB, blocksPerSlab: 2 });
const segmentedPool = new MemoryPool({ blockSize: 4 * KiB, blocksPerSlab: 512 });

/** Deterministic text of exactly `size` bytes (cut back to a whole code point, padded with ASCII). */
function text(kind: Kind, size: number): Uint8Array {
  const ascii = ["the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dogs, ", "and\n", "then "];
  const other = ["café ", "naïve ", "Grüße ", "Ελληνικά ", "русский ", "日本語 ", "中文 ", "🚀 ", "😀 "];
  let state = 12345;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  let s = "";
  while (s.length < size) {
    s += kind === "mixed" && next(10) < 4 ? other[next(other.length)] : ascii[next(ascii.length)];
  }
  const bytes = new TextEncoder().encode(s);
  let end = size;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  const out = new Uint8Array(size).fill(0x20);
  out.set(bytes.subarray(0, end));
  return out;
}

/** A channel whose one read holds `data`, in one segment or in many. */
async function inPool(pool: MemoryPool, data: Uint8Array): Promise<{ channel: Channel; buffer: ReadableBuffer }> {
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  // Block by block (getMemory rents one block): the pool's blocks are the segments, in the
  // free list's order. write() would rent one span of adjacent blocks (up to 64 KiB) instead.
  for (let at = 0; at < data.length;) {
    const memory = channel.writer.getMemory(1);
    const n = Math.min(memory.length, data.length - at);
    memory.set(data.subarray(at, at + n));
    channel.writer.advance(n);
    at += n;
  }
  await channel.writer.flush();
  const result = channel.reader.tryRead();
  if (result === undefined || result.buffer.length !== data.length) {
    throw new Error(`Cannot set up ${data.length} bytes in the pool: got ${result?.buffer.length} bytes`);
  }
  return { channel, buffer: result.buffer };
}

/**
 * A channel over 4 KiB blocks whose one read holds `data`; `scattered`: the pool's free list
 * is shuffled first (seeded), so consecutive segments are not neighbours in memory.
 */
async function inFourKiBlocks(
  data: Uint8Array,
  scattered: boolean,
  seed = 99,
): Promise<{ channel: Channel; buffer: ReadableBuffer; runs: number }> {
  const pool = new MemoryPool({ blockSize: 4 * KiB, blocksPerSlab: 512 });
  if (scattered) {
    const blocks = Array.from({ length: Math.ceil(data.length / (4 * KiB)) + 1 }, () => pool.rent());
    let state = seed;
    for (let i = blocks.length - 1; i > 0; i--) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const j = (state >>> 8) % (i + 1);
      [blocks[i], blocks[j]] = [blocks[j] as (typeof blocks)[number], blocks[i] as (typeof blocks)[number]];
    }
    for (const block of blocks) pool.release(block);
  }
  const { channel, buffer } = await inPool(pool, data);
  // Runs of segments adjacent in memory.
  let runs = 0;
  let end = -1;
  let memory: ArrayBufferLike | undefined;
  for (const view of buffer) {
    if (view.buffer !== memory || view.byteOffset !== end) runs++;
    memory = view.buffer;
    end = view.byteOffset + view.length;
  }
  return { channel, buffer, runs };
}

/** The length of `text`, after reading a character from its middle (which flattens a rope). */
function flattened(text: string): number {
  return text.charCodeAt(text.length >> 1) >= 0 ? text.length : -1;
}

interface Method {
  id: string;
  label: string;
  /** Runs `n` operations; returns a checksum (kept so nothing is optimized away). */
  loop: (n: number) => number;
  /** The kernel layer's path for utf8Validate the method runs under ("auto": the table's). */
  strategy: Utf8Strategy;
}

function methodsFor(contiguous: ReadableBuffer, segmented: ReadableBuffer, utf16: Uint8Array): Method[] {
  const view = contiguous.first;
  const decoder = new Utf8Decoder();
  const fatalDecoder = new Utf8Decoder({ fatal: true });
  const native = new TextDecoder();
  const nativeFatal = new TextDecoder("utf-8", { fatal: true });
  const utf16Decoder = new TextDecoder("utf-16le");
  const loopOf = (op: () => number) => (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += op();
    return sum;
  };
  const methods: Method[] = [
    {
      id: "decoder",
      label: "Utf8Decoder.decode(buffer), contiguous",
      strategy: "auto",
      loop: loopOf(() => decoder.decode(contiguous).length),
    },
    {
      id: "decoder-segments",
      label: "Utf8Decoder.decode(buffer), 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => decoder.decode(segmented).length),
    },
    {
      id: "native",
      label: "TextDecoder.decode(view)",
      strategy: "auto",
      loop: loopOf(() => native.decode(view).length),
    },
    {
      id: "utf16",
      label: "reference: TextDecoder(utf-16le) of the same text (string creation alone)",
      strategy: "auto",
      loop: loopOf(() => utf16Decoder.decode(utf16).length),
    },
    ...(["wasm", "native"] as const).map((strategy): Method => ({
      id: `decoder-fatal-${strategy}`,
      label: `Utf8Decoder({ fatal: true }).decode(buffer), contiguous, "${strategy}"`,
      strategy,
      loop: loopOf(() => fatalDecoder.decode(contiguous).length),
    })),
    {
      id: "decoder-fatal-segments",
      label: "Utf8Decoder({ fatal: true }).decode(buffer), 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => fatalDecoder.decode(segmented).length),
    },
    {
      id: "native-fatal",
      label: "TextDecoder({ fatal: true }).decode(view)",
      strategy: "auto",
      loop: loopOf(() => nativeFatal.decode(view).length),
    },
    ...(["wasm", "native"] as const).map((strategy): Method => ({
      id: `validate-${strategy}`,
      label: `validateUtf8(buffer), contiguous, "${strategy}"`,
      strategy,
      loop: loopOf(() => validateUtf8(contiguous).valid ? 1 : 0),
    })),
    {
      id: "validate-segments",
      label: "validateUtf8(buffer), 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => validateUtf8(segmented).valid ? 1 : 0),
    },
  ];
  if (isUtf8 !== undefined) {
    const check = isUtf8;
    methods.push({
      id: "isutf8",
      label: "isUtf8(view) from node:buffer",
      strategy: "auto",
      loop: loopOf(() => check(view) ? 1 : 0),
    });
  }
  return methods;
}

/** The streaming methods of one text: adjacent and scattered 4 KiB segments, and references. */
function streamMethodsFor(contiguous: ReadableBuffer, adjacent: ReadableBuffer, scattered: ReadableBuffer): Method[] {
  const view = contiguous.first;
  const decoder = new Utf8Decoder();
  const fatalDecoder = new Utf8Decoder({ fatal: true });
  const native = new TextDecoder();
  const nativeFatal = new TextDecoder("utf-8", { fatal: true });
  const perSegment = new TextDecoder();
  const loopOf = (op: () => number) => (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += op();
    return sum;
  };
  return [
    {
      id: "stream-native",
      label: "stream: TextDecoder.decode(view) of the contiguous bytes",
      strategy: "auto",
      loop: loopOf(() => flattened(native.decode(view))),
    },
    {
      id: "stream-adjacent",
      label: "stream: Utf8Decoder.decode(buffer, { stream: true }), adjacent 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => flattened(decoder.decode(adjacent, { stream: true }))),
    },
    {
      id: "stream-scattered",
      label: "stream: Utf8Decoder.decode(buffer, { stream: true }), scattered 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => flattened(decoder.decode(scattered, { stream: true }))),
    },
    {
      id: "stream-native-fatal",
      label: "stream: TextDecoder({ fatal: true }).decode(view) of the contiguous bytes",
      strategy: "auto",
      loop: loopOf(() => flattened(nativeFatal.decode(view))),
    },
    {
      id: "stream-scattered-fatal",
      label: "stream: Utf8Decoder({ fatal: true }).decode(buffer, { stream: true }), scattered 4 KiB segments",
      strategy: "auto",
      loop: loopOf(() => flattened(fatalDecoder.decode(scattered, { stream: true }))),
    },
    {
      id: "stream-scattered-per-segment",
      label: "stream (diagnostic): TextDecoder.decode(segment, { stream: true }) per segment, +, scattered",
      strategy: "auto",
      loop: loopOf(() => {
        let text = "";
        for (const segment of scattered) text += perSegment.decode(segment, { stream: true });
        return flattened(text + perSegment.decode());
      }),
    },
    {
      id: "stream-scattered-copy",
      label: "stream (diagnostic): TextDecoder.decode(buffer.toUint8Array()), scattered",
      strategy: "auto",
      loop: loopOf(() => flattened(native.decode(scattered.toUint8Array()))),
    },
  ];
}

/** Iterations that take about `ms`. */
const method = [
  "UTF-8 bytes already in pool memory: one segment of a channel over 1 MiB blocks (contiguous), or a channel over 4 KiB blocks (4 KiB segments); native methods get a view of the contiguous bytes",
  `${SAMPLES} samples of ~${SAMPLE_MS} ms per method, interleaved, after ${WARMUP_MS} ms of warm-up; median ns/op (${
    clock === undefined ? "wall time" : "the process's CPU time, --cpu-time"
  }); GB/s counts UTF-8 input bytes`,
  "ratios: native ns ÷ ours ns (above 1: ours is faster); decode against TextDecoder, fatal decode against TextDecoder({ fatal: true }), validate against isUtf8",
];
printHeader("UTF-8 decode and validate on pool memory", method);
const report = newReport("utf8", method);

interface Row {
  scenario: string;
  kind: Kind;
  size: number;
  method: string;
  label: string;
  nsPerOp: number;
  spreadPercent: number;
  gbPerSec: number;
  samples: number[];
}
const rows: Row[] = [];
const scenarios: string[] = [];

for (const kind of KINDS) {
  for (const size of SIZES) {
    const scenario = `${kind} ${fmtSize(size)}`;
    scenarios.push(scenario);
    const data = text(kind, size);
    const expected = new TextDecoder().decode(data);
    const utf16 = new Uint8Array(expected.length * 2);
    for (let i = 0; i < expected.length; i++) {
      const unit = expected.charCodeAt(i);
      utf16[2 * i] = unit & 0xff;
      utf16[2 * i + 1] = unit >> 8;
    }
    const contiguous = await inPool(contiguousPool, data);
    const segmented = await inPool(segmentedPool, data);
    if (!contiguous.buffer.isSingleSegment || segmented.buffer.isSingleSegment && size > 4 * KiB) {
      throw new Error(`Cannot set up the ${scenario} buffers with the intended segments`);
    }
    const methods = methodsFor(contiguous.buffer, segmented.buffer, utf16);
    const streamLayouts: { channel: Channel; buffer: ReadableBuffer }[] = [];
    if (STREAM_SIZES.includes(size)) {
      const adjacent = await inFourKiBlocks(data, false);
      // Seeds until no two consecutive segments are neighbours.
      let scattered = await inFourKiBlocks(data, true);
      const segments = [...scattered.buffer].length;
      for (let seed = 100; scattered.runs < segments && seed < 200; seed++) {
        scattered.channel.reader.complete();
        scattered.channel.writer.complete();
        scattered = await inFourKiBlocks(data, true, seed);
      }
      if (adjacent.runs !== 1 || scattered.runs !== segments) {
        throw new Error(
          `Cannot set up the ${scenario} stream buffers as laid out: ${adjacent.runs} adjacent runs, ${scattered.runs} scattered runs of ${segments}`,
        );
      }
      streamLayouts.push(adjacent, scattered);
      methods.push(...streamMethodsFor(contiguous.buffer, adjacent.buffer, scattered.buffer));
    }
    const checks = methods.map((m) => {
      setUtf8Strategy(m.strategy);
      return m.loop(1);
    });
    methods.forEach((m, k) => {
      const ok = m.id.startsWith("validate") || m.id === "isutf8" ? checks[k] === 1 : checks[k] === expected.length;
      if (!ok) throw new Error(`Cannot trust ${m.id} on ${scenario} as it returned ${checks[k]}`);
    });
    const samples = sampleNsPerOp(methods.map((m) => ({ loop: m.loop, before: () => setUtf8Strategy(m.strategy) })), {
      sampleMs: SAMPLE_MS,
      samples: SAMPLES,
      warmupMs: WARMUP_MS,
      warmupBatch: 4,
      reheat: true,
      ...(clock === undefined ? {} : { clock }),
      verify: (k, sum, n) => {
        if (sum !== (checks[k] as number) * n) throw new Error(`Cannot trust ${methods[k]?.id} as its results changed`);
      },
    });
    methods.forEach((m, k) => {
      const ns = median(samples[k] as number[]);
      rows.push({
        scenario,
        kind,
        size,
        method: m.id,
        label: m.label,
        nsPerOp: ns,
        spreadPercent: spreadPercent(samples[k] as number[]),
        gbPerSec: size / ns,
        samples: samples[k] as number[],
      });
    });
    for (const { channel, buffer } of [contiguous, segmented, ...streamLayouts]) {
      channel.reader.advanceTo(buffer.length);
      channel.reader.complete();
      channel.writer.complete();
    }
  }
}

// ---- short lines: a decode per frame ----

interface LineRow {
  lineBytes: number;
  method: string;
  label: string;
  nsPerOp: number;
  spreadPercent: number;
}
const lineRows: LineRow[] = [];
for (const lineBytes of LINE_SIZES) {
  // Lines of printable ASCII, each one segment of a pool buffer (as delimited() cuts them).
  const data = text("ascii", 64 * KiB);
  const { channel, buffer } = await inPool(segmentedPool, data);
  const frames: ReadableBuffer[] = [];
  for (let at = 0; at + lineBytes <= buffer.length; at += lineBytes + 1) {
    const frame = buffer.slice(at, at + lineBytes);
    if (frame.isSingleSegment) frames.push(frame);
  }
  const decoder = new Utf8Decoder();
  const native = new TextDecoder();
  let next = 0;
  const pick = () => frames[next = next + 1 === frames.length ? 0 : next + 1] as ReadableBuffer;
  const loopOf = (op: (frame: ReadableBuffer) => string) => (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += flattened(op(pick()));
    return sum;
  };
  const methods = [
    { id: "line-decoder", label: `Utf8Decoder.decode(frame), ${lineBytes} B`, loop: loopOf((f) => decoder.decode(f)) },
    {
      id: "line-native",
      label: `TextDecoder.decode(frame.first), ${lineBytes} B`,
      loop: loopOf((f) => native.decode(f.first)),
    },
  ];
  for (const frame of frames.slice(0, 100)) {
    if (decoder.decode(frame) !== native.decode(frame.first)) throw new Error("Cannot trust line-decoder");
  }
  const samples = sampleNsPerOp(methods, {
    sampleMs: SAMPLE_MS,
    samples: SAMPLES,
    warmupMs: WARMUP_MS,
    warmupBatch: 64,
    ...(clock === undefined ? {} : { clock }),
    verify: (k, sum, n) => {
      if (sum !== lineBytes * n) throw new Error(`Cannot trust ${methods[k]?.id} as its results changed`);
    },
  });
  methods.forEach((m, k) => {
    lineRows.push({
      lineBytes,
      method: m.id,
      label: m.label,
      nsPerOp: median(samples[k] as number[]),
      spreadPercent: spreadPercent(samples[k] as number[]),
    });
  });
  channel.reader.advanceTo(buffer.length);
  channel.reader.complete();
  channel.writer.complete();
}

const find = (scenario: string, id: string) => rows.find((r) => r.scenario === scenario && r.method === id);
console.log(
  markdownTable(
    ["text", " method", "ns/op", "±%", "GB/s"],
    rows.map((r) => [r.scenario, r.label, fmt(r.nsPerOp, 1), fmt(r.spreadPercent, 0), fmt(r.gbPerSec, 2)]),
  ),
);

const ratio = (scenario: string, native: string, ours: string) => {
  const n = find(scenario, native)?.nsPerOp;
  const o = find(scenario, ours)?.nsPerOp;
  return n === undefined || o === undefined ? NaN : n / o;
};
console.log("");
console.log(
  markdownTable(
    [" method", "ns/op", "±%"],
    lineRows.map((r) => [r.label, fmt(r.nsPerOp, 1), fmt(r.spreadPercent, 0)]),
  ),
);

setUtf8Strategy("auto");
const auto = pathFor("utf8Validate", MiB);
const ratios = scenarios.map((scenario) => ({
  scenario,
  decode: ratio(scenario, "native", "decoder"),
  decodeSegments: ratio(scenario, "native", "decoder-segments"),
  fatal: ratio(scenario, "native-fatal", `decoder-fatal-${auto}`),
  fatalSegments: ratio(scenario, "native-fatal", "decoder-fatal-segments"),
  fatalWasm: ratio(scenario, "decoder-fatal-native", "decoder-fatal-wasm"),
  validate: ratio(scenario, "isutf8", `validate-${auto}`),
  validateSegments: ratio(scenario, "isutf8", "validate-segments"),
  validateWasm: ratio(scenario, "validate-native", "validate-wasm"),
  utf16: ratio(scenario, "native", "utf16"),
  streamAdjacent: ratio(scenario, "stream-native", "stream-adjacent"),
  streamScattered: ratio(scenario, "stream-native", "stream-scattered"),
  streamScatteredFatal: ratio(scenario, "stream-native-fatal", "stream-scattered-fatal"),
  streamPerSegment: ratio(scenario, "stream-native", "stream-scattered-per-segment"),
  streamCopy: ratio(scenario, "stream-native", "stream-scattered-copy"),
}));
const streamRatios = ratios.filter((r) => Number.isFinite(r.streamScattered));
const lineRatio = (lineBytes: number) => {
  const ns = (id: string) => lineRows.find((r) => r.lineBytes === lineBytes && r.method === id)?.nsPerOp ?? NaN;
  return ns("line-native") / ns("line-decoder");
};
console.log(`\nnative ns ÷ ours ns (above 1: ours is faster); "auto" is "${auto}" here:\n`);
console.log(
  markdownTable(
    [
      "text",
      "decode vs TextDecoder",
      "decode, 4 KiB segments",
      "fatal decode vs TextDecoder(fatal)",
      "fatal decode, 4 KiB segments",
      "validate vs isUtf8",
      "validate, 4 KiB segments",
    ],
    ratios.map((r) => [
      r.scenario,
      fmtRatio(r.decode),
      fmtRatio(r.decodeSegments),
      fmtRatio(r.fatal),
      fmtRatio(r.fatalSegments),
      fmtRatio(r.validate),
      fmtRatio(r.validateSegments),
    ]),
  ),
);
console.log(
  "\nstreaming through a channel of 4 KiB segments, TextDecoder ns on the contiguous bytes ÷ ours (strings flattened):\n",
);
console.log(
  markdownTable(
    [
      "text",
      "adjacent",
      "scattered",
      "scattered, fatal (vs fatal TextDecoder)",
      "TextDecoder per segment (diagnostic)",
      "toUint8Array + TextDecoder (diagnostic)",
    ],
    streamRatios.map((r) => [
      r.scenario,
      fmtRatio(r.streamAdjacent),
      fmtRatio(r.streamScattered),
      fmtRatio(r.streamScatteredFatal),
      fmtRatio(r.streamPerSegment),
      fmtRatio(r.streamCopy),
    ]),
  ),
);
console.log("\nshort lines: TextDecoder.decode(frame.first) ns ÷ Utf8Decoder.decode(frame) ns:\n");
console.log(markdownTable(["line", "ratio"], LINE_SIZES.map((b) => [`${b} B`, fmtRatio(lineRatio(b))])));
console.log(`\nthe strategy choice: "native" strategy ns ÷ "wasm" strategy ns (above 1: the kernel path is faster):\n`);
console.log(
  markdownTable(
    ["text", "fatal decode", "validate", "UTF-16 string creation ÷ TextDecoder UTF-8 (speed)"],
    ratios.map((r) => [r.scenario, fmtRatio(r.fatalWasm), fmtRatio(r.validateWasm), fmtRatio(r.utf16)]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
// Line rows have no scenario: kept apart so the per-scenario tables of bench/REPORT.md skip them.
(report as unknown as { lineRows: LineRow[] }).lineRows = lineRows;
const summaryOf = (title: string, value: (r: (typeof ratios)[number]) => [string, number]) => ({
  title,
  rows: ratios.map((r) => {
    const [text, number] = value(r);
    return { label: r.scenario, value: text, number };
  }),
});
report.summary = [
  summaryOf("Utf8Decoder.decode speed-up over TextDecoder.decode (contiguous / 4 KiB segments)", (r) => [
    `${fmtRatio(r.decode)} / ${fmtRatio(r.decodeSegments)}`,
    r.decode,
  ]),
  summaryOf(
    "Utf8Decoder({ fatal: true }) speed-up over TextDecoder({ fatal: true }) (contiguous / 4 KiB segments)",
    (r) => [`${fmtRatio(r.fatal)} / ${fmtRatio(r.fatalSegments)}`, r.fatal],
  ),
  summaryOf("validateUtf8 speed-up over isUtf8 (contiguous / 4 KiB segments)", (r) => [
    `${fmtRatio(r.validate)} / ${fmtRatio(r.validateSegments)}`,
    r.validate,
  ]),
  summaryOf('kernel path speed-up over the native path ("native" ns ÷ "wasm" ns: fatal decode / validate)', (r) => [
    `${fmtRatio(r.fatalWasm)} / ${fmtRatio(r.validateWasm)}`,
    r.validateWasm,
  ]),
  {
    title: "Utf8Decoder.decode GB/s (TextDecoder GB/s)",
    rows: scenarios.map((scenario) => ({
      label: scenario,
      value: `${fmt(find(scenario, "decoder")?.gbPerSec ?? NaN, 2)} (${
        fmt(find(scenario, "native")?.gbPerSec ?? NaN, 2)
      })`,
      number: find(scenario, "decoder")?.gbPerSec ?? NaN,
    })),
  },
  summaryOf(
    "UTF-16LE string creation alone, speed ÷ TextDecoder UTF-8 (above 1: a transcoding kernel could win)",
    (r) => [
      fmtRatio(r.utf16),
      r.utf16,
    ],
  ),
  {
    title:
      "Utf8Decoder.decode(buffer, { stream: true }) through a channel of 4 KiB segments ÷ TextDecoder.decode of the contiguous bytes (speed; adjacent / scattered / scattered fatal vs fatal TextDecoder)",
    rows: streamRatios.map((r) => ({
      label: r.scenario,
      value: `${fmtRatio(r.streamAdjacent)} / ${fmtRatio(r.streamScattered)} / ${fmtRatio(r.streamScatteredFatal)}`,
      number: Math.min(r.streamAdjacent, r.streamScattered),
    })),
  },
  {
    title: "Utf8Decoder.decode(frame) of a short ASCII line ÷ TextDecoder.decode(frame.first) (speed)",
    rows: LINE_SIZES.map((b) => ({ label: `line ${b} B`, value: fmtRatio(lineRatio(b)), number: lineRatio(b) })),
  },
  {
    title: 'strategy "auto" resolves to',
    rows: [{ label: "utf8 strategy", value: auto, number: auto === "wasm" ? 1 : 0 }],
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
