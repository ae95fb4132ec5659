// UTF-8 to a string, and UTF-8 validation, on bytes already in pool memory: Utf8Decoder and
// validateUtf8 against the runtime's TextDecoder and node:buffer's isUtf8 on the same
// contiguous bytes. This decides the default strategy of src/utf8.ts per runtime: the
// utf8Validate WebAssembly kernel ("wasm"), or the runtime's own validator ("native") with the
// kernel only to locate errors.
//
//   deno run -A bench/utf8.ts [--quick]
//   bun bench/utf8.ts
//   node dist-bench/bench/utf8.js
//
// Each size (1 KiB, 16 KiB, 1 MiB) of ASCII text and of mixed text (about a quarter of the
// bytes non-ASCII: accents, Greek, Cyrillic, CJK, emoji; perf-anchors.md §2) sits twice in
// pool memory: in one segment of a channel over 1 MiB blocks ("contiguous"), and in a channel
// over 4 KiB blocks ("4 KiB segments"; blocks come off the free list in the order earlier
// sizes released them, so at 1 MiB the segments lie in descending addresses and Utf8Decoder
// cannot merge them into one run, as after churn in a real pool).
// Native methods get a view of the contiguous bytes. Fatal decoding and validation run under
// both strategies. Each sample runs a calibrated loop of about 50 ms (15 ms with --quick)
// after a quarter of that untimed; methods are interleaved sample by sample; the figure is
// the median. A reference row decodes the same text as UTF-16LE with TextDecoder: the string
// creation a kernel that transcodes to UTF-16 would still pay, which shows whether such a
// kernel could beat TextDecoder on the UTF-8 bytes.

import * as nodeBuffer from "node:buffer";
import { Channel, MemoryPool, type ReadableBuffer, Utf8Decoder, validateUtf8 } from "../mod.ts";
import { setUtf8Strategy, type Utf8Strategy, utf8StrategyInUse } from "../src/utf8.ts";
import {
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
const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [KiB, 16 * KiB, MiB];
const KINDS = ["ascii", "mixed"] as const;
type Kind = (typeof KINDS)[number];

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
  await channel.writer.write(data);
  const result = channel.reader.tryRead();
  if (result === undefined || result.buffer.length !== data.length) {
    throw new Error(`Cannot set up ${data.length} bytes in the pool: got ${result?.buffer.length} bytes`);
  }
  return { channel, buffer: result.buffer };
}

interface Method {
  id: string;
  label: string;
  /** Runs `n` operations; returns a checksum (kept so nothing is optimized away). */
  loop: (n: number) => number;
  /** The strategy the method runs under (src/utf8.ts). */
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

/** Iterations that take about `ms`. */
const method = [
  "UTF-8 bytes already in pool memory: one segment of a channel over 1 MiB blocks (contiguous), or a channel over 4 KiB blocks (4 KiB segments); native methods get a view of the contiguous bytes",
  `${SAMPLES} samples of ~${SAMPLE_MS} ms per method, interleaved, after ${WARMUP_MS} ms of warm-up; median ns/op; GB/s counts UTF-8 input bytes`,
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
    for (const { channel, buffer } of [contiguous, segmented]) {
      channel.reader.advanceTo(buffer.length);
      channel.reader.complete();
      channel.writer.complete();
    }
  }
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
setUtf8Strategy("default");
const auto = utf8StrategyInUse();
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
}));
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
console.log(`\nthe strategy choice: "native" strategy ns ÷ "wasm" strategy ns (above 1: the kernel path is faster):\n`);
console.log(
  markdownTable(
    ["text", "fatal decode", "validate", "UTF-16 string creation ÷ TextDecoder UTF-8 (speed)"],
    ratios.map((r) => [r.scenario, fmtRatio(r.fatalWasm), fmtRatio(r.validateWasm), fmtRatio(r.utf16)]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
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
    title: 'strategy "auto" resolves to',
    rows: [{ label: "utf8 strategy", value: auto, number: auto === "wasm" ? 1 : 0 }],
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
