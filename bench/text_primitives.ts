// Text primitives on pool memory: BufferReader.tryParseInt and BufferWriter.writeInt against
// what a user would write without them, and tryReadString / writeUtf8 against TextDecoder /
// TextEncoder.encodeInto on short strings (the rows that chose SHORT_STRING_BYTES in
// src/buffer_reader.ts and SHORT_UTF8_UNITS in src/buffer_writer.ts).
//
//   deno run -A bench/text_primitives.ts [--quick]
//   bun bench/text_primitives.ts
//   node dist-bench/bench/text_primitives.js
//
// Parsing: 1024 numbers, each followed by CRLF (RESP and HTTP chunk-size lines), of one kind
// per scenario (below 1000, random 32-bit, up to Number.MAX_SAFE_INTEGER, signed, hex). Ours
// parses them from a channel buffer over 4 KiB blocks (numbers straddle block ends), and pays
// for the channel's BufferReader; the peers get the same bytes contiguous in one pool block,
// which only helps them:
//   - "TextDecoder + parseInt": indexOf CR, TextDecoder.decode of the digits, parseInt (the
//     issue's peer);
//   - "latin1 + parseInt": node:buffer's latin1Slice (a Buffer over the pool block, no copy),
//     then parseInt: the fastest way to a string of the digits we found;
//   - "byte loop": the digits folded by hand over one Uint8Array (no segments, no sign for
//     unsigned data, no overflow check): the ceiling, not a peer.
// Formatting: the same 1024 numbers, each with CRLF. Ours writes through a BufferWriter into a
// channel over 4 KiB blocks, commits, flushes and consumes every 1024 numbers (channel costs
// included); the peers write into one contiguous pool block:
//   - "encodeInto(String(n))": TextEncoder.encodeInto into a subarray at the position (the
//     issue's peer);
//   - "String(n) + charCodeAt loop": the digits string stored byte by byte (no view, no call
//     into the encoder): the strongest peer a user would write;
//   - "Buffer latin1 write": node:buffer's latin1Write of String(n).
// Each op is one batch of 1024 numbers; figures are millions of numbers a second (median of
// the samples, methods interleaved sample by sample), ratios in the same run.

import { Buffer } from "node:buffer";
import { BufferReader, BufferWriter, Channel, MemoryPool, type ReadableBuffer } from "../mod.ts";
import {
  fmt,
  fmtRatio,
  markdownTable,
  median,
  newReport,
  printHeader,
  runtime,
  sampleNsPerOp,
  sampling,
  spreadPercent,
  type TimedMethod,
  writeReport,
} from "./_util.ts";

const { sampleMs: SAMPLE_MS, samples: SAMPLES, warmupMs: WARMUP_MS } = sampling();
const BATCH = 1024;
const KINDS = ["small", "uint32", "safe", "signed", "hex"] as const;
type Kind = (typeof KINDS)[number];
// Formatting adds the batch number (0–1023) to every value, so the numbers change from batch
// to batch as real lengths and ids do: with the same 1024 numbers over and over, String(n)
// would come from V8's number-string cache. The "small, repeated" row keeps them fixed, the
// case that favours the peers.
const OFFSETS = 1024;

const pool = new MemoryPool({ blockSize: 4096 });
const bigPool = new MemoryPool({ blockSize: 256 * 1024, blocksPerSlab: 4 });
const utf8 = new TextEncoder();
const decoder = new TextDecoder();

interface LatinBuffer {
  latin1Slice?: (start: number, end: number) => string;
  latin1Write?: (text: string, offset: number, length: number) => number;
}

/** Deterministic numbers of one kind (a fixed LCG, so every runtime sees the same ones). */
function numbers(kind: Kind): number[] {
  let state = 12345;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  return Array.from({ length: BATCH }, () => {
    switch (kind) {
      case "small":
        return next() % 1000;
      case "uint32":
      case "hex":
        return next();
      case "safe":
        return (next() % 2097151) * 4294967296 + next(); // room below 2^53 for the batch offset
      case "signed":
        return (next() & 1 ? -1 : 1) * (next() % 100000000);
    }
  });
}

function radixOf(kind: Kind): 10 | 16 {
  return kind === "hex" ? 16 : 10;
}

/** The numbers as text, each followed by CRLF. */
function text(kind: Kind, values: number[]): Uint8Array {
  return utf8.encode(values.map((v) => `${v.toString(radixOf(kind))}\r\n`).join(""));
}

/** `bytes` in a channel over 4 KiB blocks, as one read's buffer (held, never advanced). */
function channelBuffer(bytes: Uint8Array): ReadableBuffer {
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  for (let at = 0; at < bytes.length;) {
    const memory = channel.writer.getMemory();
    const n = Math.min(memory.length, bytes.length - at);
    memory.set(bytes.subarray(at, at + n));
    channel.writer.advance(n);
    at += n;
  }
  void channel.writer.flush();
  const result = channel.reader.tryRead();
  if (result === undefined || result.buffer.length !== bytes.length) throw new Error("Cannot set up the buffer");
  return result.buffer;
}

interface Method extends TimedMethod {
  id: string;
  label: string;
}

function parseMethods(kind: Kind, bytes: Uint8Array): Method[] {
  const radix = radixOf(kind);
  const buffer = channelBuffer(bytes);
  const block = bigPool.rent();
  const flat = block.bytes.subarray(0, bytes.length);
  flat.set(bytes);
  const latin = Buffer.from(flat.buffer, flat.byteOffset, flat.length) as unknown as LatinBuffer & Buffer;
  const latin1Slice = latin.latin1Slice?.bind(latin) ?? ((s: number, e: number) => latin.toString("latin1", s, e));
  const length = flat.length;
  return [
    {
      id: "ours",
      label: "BufferReader.tryParseInt (4 KiB segments)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const reader = new BufferReader(buffer);
          for (let k = 0; k < BATCH; k++) {
            sum += reader.tryParseInt(radix) as number;
            reader.advance(2);
          }
        }
        return sum;
      },
    },
    {
      id: "textdecoder",
      label: "indexOf + TextDecoder + parseInt",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          for (let at = 0; at < length;) {
            const end = flat.indexOf(13, at);
            sum += parseInt(decoder.decode(flat.subarray(at, end)), radix);
            at = end + 2;
          }
        }
        return sum;
      },
    },
    {
      id: "latin1",
      label: "indexOf + Buffer latin1Slice + parseInt",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          for (let at = 0; at < length;) {
            const end = flat.indexOf(13, at);
            sum += parseInt(latin1Slice(at, end), radix);
            at = end + 2;
          }
        }
        return sum;
      },
    },
    {
      id: "loop",
      label: "byte loop on one array (ceiling)",
      loop: radix === 16
        ? (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            for (let at = 0; at < length;) {
              let v = 0;
              for (;;) {
                const c = flat[at] as number;
                const d = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
                if (c === 13) break;
                v = v * 16 + d;
                at++;
              }
              sum += v;
              at += 2;
            }
          }
          return sum;
        }
        : (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) {
            for (let at = 0; at < length;) {
              const negative = flat[at] === 0x2d;
              if (negative) at++;
              let v = 0;
              for (;;) {
                const d = (flat[at] as number) - 0x30;
                if (d < 0 || d > 9) break;
                v = v * 10 + d;
                at++;
              }
              sum += negative ? -v : v;
              at += 2;
            }
          }
          return sum;
        },
    },
  ];
}

function writeMethods(kind: Kind, values: number[], repeated: boolean): Method[] {
  const radix = radixOf(kind);
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  const writer = new BufferWriter(channel.writer);
  const block = bigPool.rent();
  const flat = block.bytes;
  const latin = Buffer.from(flat.buffer, flat.byteOffset, flat.length) as unknown as LatinBuffer & Buffer;
  const latin1Write = latin.latin1Write?.bind(latin) ??
    ((s: string, offset: number, length: number) => latin.write(s, offset, length, "latin1"));
  // Every method counts its batches from 0 at the start of each sample (see `before`).
  let batch = 0;
  const before = (): void => {
    batch = 0;
  };
  const offset = (): number => (repeated ? 0 : batch++ % OFFSETS);
  return [
    {
      id: "ours",
      label: "BufferWriter.writeInt (channel, 4 KiB blocks)",
      before,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const add = offset();
          for (let k = 0; k < BATCH; k++) {
            writer.writeInt((values[k] as number) + add, radix);
            writer.writeUint16BE(0x0d0a);
          }
          writer.commit();
          void channel.writer.flush();
          const result = channel.reader.tryRead();
          if (result === undefined) throw new Error("Cannot read what BufferWriter wrote");
          sum += result.buffer.length;
          if (lastOutput.capture) lastOutput.ours = result.buffer.toUint8Array();
          channel.reader.advanceTo(result.buffer.length);
        }
        return sum;
      },
    },
    {
      id: "encodeinto",
      label: "encodeInto(String(n)) into a subarray",
      before,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const add = offset();
          let at = 0;
          for (let k = 0; k < BATCH; k++) {
            at += utf8.encodeInto(((values[k] as number) + add).toString(radix), flat.subarray(at)).written;
            flat[at++] = 13;
            flat[at++] = 10;
          }
          sum += at;
          lastOutput.flat = flat.subarray(0, at);
        }
        return sum;
      },
    },
    {
      id: "charcode",
      label: "String(n) + charCodeAt loop",
      before,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const add = offset();
          let at = 0;
          for (let k = 0; k < BATCH; k++) {
            const s = ((values[k] as number) + add).toString(radix);
            for (let j = 0; j < s.length; j++) flat[at++] = s.charCodeAt(j);
            flat[at++] = 13;
            flat[at++] = 10;
          }
          sum += at;
          lastOutput.flat = flat.subarray(0, at);
        }
        return sum;
      },
    },
    {
      id: "latin1",
      label: "Buffer latin1Write(String(n))",
      before,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const add = offset();
          let at = 0;
          for (let k = 0; k < BATCH; k++) {
            const s = ((values[k] as number) + add).toString(radix);
            at += latin1Write(s, at, s.length);
            flat[at++] = 13;
            flat[at++] = 10;
          }
          sum += at;
          lastOutput.flat = flat.subarray(0, at);
        }
        return sum;
      },
    },
  ];
}

// What the last batch of a write method wrote (checked once before timing).
const lastOutput: { capture: boolean; ours?: Uint8Array; flat?: Uint8Array } = { capture: false };

// ---- short strings: the thresholds ----

const STRING_SIZES = [8, 32, 128];

function readStringMethods(size: number): Method[] {
  const bytes = utf8.encode("GET /index.html HTTP/1.1 Host: example.com ".repeat(8).slice(0, size));
  const count = 64;
  const all = new Uint8Array(bytes.length * count);
  for (let k = 0; k < count; k++) all.set(bytes, k * bytes.length);
  const buffer = channelBuffer(all);
  const block = bigPool.rent();
  const flat = block.bytes.subarray(0, all.length);
  flat.set(all);
  return [
    {
      id: "ours",
      label: `tryReadString(${size}) (4 KiB segments)`,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const reader = new BufferReader(buffer);
          for (let k = 0; k < count; k++) sum += (reader.tryReadString(size) as string).length;
        }
        return sum;
      },
    },
    {
      id: "ascii",
      label: `tryReadString(${size}, "ascii")`,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const reader = new BufferReader(buffer);
          for (let k = 0; k < count; k++) sum += (reader.tryReadString(size, "ascii") as string).length;
        }
        return sum;
      },
    },
    {
      id: "textdecoder",
      label: "TextDecoder.decode(subarray)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < count; k++) sum += decoder.decode(flat.subarray(k * size, k * size + size)).length;
        }
        return sum;
      },
    },
  ];
}

function writeStringMethods(size: number, mixed: boolean): Method[] {
  const source = mixed ? "h\u00e9llo w\u00f6rld \u20ac5 \u{1f600} " : "GET /index.html HTTP/1.1 Host: ";
  const value = source.repeat(Math.ceil(size / source.length) + 1).slice(0, size);
  const count = 64;
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  const writer = new BufferWriter(channel.writer);
  const block = bigPool.rent();
  const flat = block.bytes;
  return [
    {
      id: "ours",
      label: `writeUtf8 of ${size} ${mixed ? "mixed" : "ASCII"} units (channel)`,
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          for (let k = 0; k < count; k++) writer.writeUtf8(value);
          writer.commit();
          void channel.writer.flush();
          const result = channel.reader.tryRead() as { buffer: ReadableBuffer };
          sum += result.buffer.length;
          channel.reader.advanceTo(result.buffer.length);
        }
        return sum;
      },
    },
    {
      id: "encodeinto",
      label: "encodeInto(text, subarray)",
      loop: (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) {
          let at = 0;
          for (let k = 0; k < count; k++) at += utf8.encodeInto(value, flat.subarray(at)).written;
          sum += at;
        }
        return sum;
      },
    },
  ];
}

// ---- run ----

const method = [
  `Each op is a batch of ${BATCH} numbers (64 strings for the string rows); figures are millions a second, the median of ${SAMPLES} samples of about ${SAMPLE_MS} ms, methods interleaved.`,
  "Ours runs on a channel over 4 KiB blocks (segment crossings and the channel's own costs included); peers run on one contiguous pool block.",
  "Parse peers: indexOf CR + TextDecoder.decode + parseInt (the issue's), indexOf CR + Buffer latin1Slice + parseInt (the fastest way to a string), and a byte loop on one array (a ceiling: no segments, no overflow check).",
  "Format peers: encodeInto(String(n)) into a subarray (the issue's), String(n) stored with a charCodeAt loop (the strongest), Buffer latin1Write(String(n)).",
];
printHeader("Text primitives: tryParseInt, writeInt, tryReadString, writeUtf8", method);
const report = newReport("text_primitives", method);

interface Row {
  job: string;
  scenario: string;
  method: string;
  label: string;
  millionsPerSec: number;
  spreadPercent: number;
}
const rows: Row[] = [];

function measure(
  job: string,
  scenario: string,
  methods: Method[],
  perOp: number,
  check: (k: number, sum: number) => void,
  verifySamples: boolean,
) {
  lastOutput.capture = true;
  const reference = methods.map((m, k) => {
    m.before?.();
    const sum = m.loop(1);
    check(k, sum);
    return sum;
  });
  lastOutput.capture = false;
  const samples = sampleNsPerOp(methods, {
    sampleMs: SAMPLE_MS,
    samples: SAMPLES,
    warmupMs: WARMUP_MS,
    warmupBatch: 4,
    verify: (k, sum, n) => {
      const expected = (reference[k] as number) * n;
      if (verifySamples && Math.abs(sum - expected) > Math.abs(expected) * 1e-9) {
        throw new Error(`Cannot trust ${job} ${scenario}: a sample's checksum`);
      }
    },
  }).map((ns) => ns.map((nsPerOp) => (perOp / nsPerOp) * 1000));
  methods.forEach((m, k) => {
    rows.push({
      job,
      scenario,
      method: m.id,
      label: m.label,
      millionsPerSec: median(samples[k] as number[]),
      spreadPercent: spreadPercent(samples[k] as number[]),
    });
  });
}

function sameSums(job: string, scenario: string, methods: Method[]): (k: number, sum: number) => void {
  let first: number | undefined;
  return (k, sum) => {
    first ??= sum;
    if (sum !== first) {
      throw new Error(`Cannot trust ${job} ${scenario} ${(methods[k] as Method).id}: ${sum} ≠ ${first}`);
    }
  };
}

const WRITE_SCENARIOS = [...KINDS, "small, repeated"] as const;
for (const kind of KINDS) {
  const values = numbers(kind);
  const bytes = text(kind, values);
  const expectedSum = values.reduce((a, b) => a + b, 0);
  const parse = parseMethods(kind, bytes);
  measure("parse", kind, parse, BATCH, (k, sum) => {
    if (sum !== expectedSum) {
      throw new Error(`Cannot trust parse ${kind} ${(parse[k] as Method).id}: ${sum} ≠ ${expectedSum}`);
    }
  }, true);
}
for (const scenario of WRITE_SCENARIOS) {
  const kind = scenario === "small, repeated" ? "small" : scenario;
  const values = numbers(kind);
  const bytes = text(kind, values);
  const methods = writeMethods(kind, values, scenario === "small, repeated");
  // The first batch (offset 0) of every method must be the reference text.
  measure("write", scenario, methods, BATCH, (k) => {
    const got = k === 0 ? lastOutput.ours as Uint8Array : lastOutput.flat as Uint8Array;
    if (Buffer.compare(got, bytes) !== 0) {
      throw new Error(`Cannot trust write ${scenario} ${(methods[k] as Method).id}: wrong bytes`);
    }
  }, false);
}
for (const size of STRING_SIZES) {
  const methods = readStringMethods(size);
  measure("readString", `${size} B ASCII`, methods, 64, sameSums("readString", `${size}`, methods), true);
}
for (const mixed of [false, true]) {
  for (const size of STRING_SIZES) {
    const scenario = `${size} ${mixed ? "mixed" : "ASCII"}`;
    const methods = writeStringMethods(size, mixed);
    measure("writeUtf8", scenario, methods, 64, sameSums("writeUtf8", scenario, methods), true);
  }
}

console.log(
  markdownTable(
    ["job", "scenario", " method", "M/s", "±%"],
    rows.map((r) => [r.job, r.scenario, r.label, fmt(r.millionsPerSec, 1), fmt(r.spreadPercent, 0)]),
  ),
);

const find = (job: string, scenario: string, id: string): number =>
  (rows.find((r) => r.job === job && r.scenario === scenario && r.method === id) as Row).millionsPerSec;
const ratioRows = (job: string, peer: string, scenarios: readonly string[]) =>
  scenarios.map((scenario) => {
    const ratio = find(job, scenario, "ours") / find(job, scenario, peer);
    return { label: scenario, value: fmtRatio(ratio), number: ratio };
  });
report.rows = rows as unknown as Record<string, unknown>[];
report.summary = [
  {
    title: "tryParseInt ÷ TextDecoder + parseInt (numbers/s ratio; goal ≥ 3×)",
    rows: ratioRows("parse", "textdecoder", KINDS),
  },
  { title: "tryParseInt ÷ latin1Slice + parseInt (numbers/s ratio)", rows: ratioRows("parse", "latin1", KINDS) },
  { title: "tryParseInt ÷ byte loop on one array (ceiling; 1 = as fast)", rows: ratioRows("parse", "loop", KINDS) },
  {
    title: "writeInt ÷ encodeInto(String(n)) (numbers/s ratio; goal ≥ 2×)",
    rows: ratioRows("write", "encodeinto", WRITE_SCENARIOS),
  },
  {
    title: "writeInt ÷ String(n) + charCodeAt loop (numbers/s ratio)",
    rows: ratioRows("write", "charcode", WRITE_SCENARIOS),
  },
  {
    title: "tryReadString ÷ TextDecoder.decode(subarray) (strings/s ratio)",
    rows: ratioRows("readString", "textdecoder", STRING_SIZES.map((s) => `${s} B ASCII`)),
  },
  {
    title: "writeUtf8 ÷ encodeInto(text, subarray) (strings/s ratio)",
    rows: ratioRows(
      "writeUtf8",
      "encodeinto",
      [false, true].flatMap((mixed) => STRING_SIZES.map((s) => `${s} ${mixed ? "mixed" : "ASCII"}`)),
    ),
  },
  {
    title: "tryParseInt / writeInt, millions of numbers a second",
    rows: KINDS.map((kind) => ({
      label: kind,
      value: `${fmt(find("parse", kind, "ours"), 1)} / ${fmt(find("write", kind, "ours"), 1)}`,
      number: find("parse", kind, "ours"),
    })),
  },
];
console.log(`\n${runtime()}:\n`);
for (const s of report.summary) {
  console.log(`${s.title}: ${s.rows.map((r) => `${r.label} ${r.value}`).join(", ")}`);
}
console.log(`\nJSON: ${writeReport(report)}`);
