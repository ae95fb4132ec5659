// Shared helpers for the benchmarks: runtime detection, arguments, statistics, tables and the
// JSON results that scripts/run_bench.mjs collects. Not a benchmark itself (underscore prefix).
//
// Every benchmark runs unchanged on Deno and Bun (`deno run -A bench/x.ts`, `bun bench/x.ts`)
// and on Node from the tsc build (`node dist-bench/bench/x.js`), so this file uses only
// `node:` builtins and web APIs, and reaches Deno and Bun globals through casts.

import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The runtime a benchmark runs on. */
export type Runtime = "node" | "deno" | "bun";

/** The runtime this process is. */
export function runtime(): Runtime {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

/** "node v20.20.2 (V8 11.3…)" and the like, for the report header. */
export function runtimeDescription(): string {
  const v = process.versions as Record<string, string | undefined>;
  switch (runtime()) {
    case "bun":
      return `bun ${v.bun} (JavaScriptCore)`;
    case "deno":
      return `deno ${v.deno} (V8 ${v.v8})`;
    default:
      return `node ${process.version} (V8 ${v.v8})`;
  }
}

/** The command-line arguments after the script. */
export function args(): string[] {
  return process.argv.slice(2);
}

/** Whether `--name` was given. */
export function flag(name: string): boolean {
  return args().includes(`--${name}`);
}

/** The text after `--name` (`--name x` or `--name=x`), or `undefined`. */
export function stringOption(name: string): string | undefined {
  const list = args();
  for (let i = 0; i < list.length; i++) {
    const arg = list[i] as string;
    if (arg === `--${name}`) return list[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

/** The positive number after `--name`, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const text = stringOption(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Cannot use --${name} as it needs a positive number: received ${text}`);
  }
  return value;
}

/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Half the inter-quartile range relative to the median, in percent (the spread perf-anchors.md uses). */
export function spreadPercent(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => {
    const at = (sorted.length - 1) * p;
    const lo = Math.floor(at);
    const hi = Math.ceil(at);
    return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
  };
  const m = median(sorted);
  return m === 0 ? 0 : ((q(0.75) - q(0.25)) / 2 / Math.abs(m)) * 100;
}

/** A number for a table: thousands separators, `digits` decimals below 100, none above. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? Math.min(digits, 1) : digits;
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A ratio for a table: "1.23×". */
export function fmtRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";
}

/** A byte size as "1 KiB", "64 KiB", "1 MiB" or "64 B". */
export function fmtSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes >> 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes >> 10} KiB`;
  return `${bytes} B`;
}

/** A markdown table; columns whose header starts with a space are left-aligned, others right. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const left = headers.map((h, i) => i === 0 || h.startsWith(" "));
  const head = `| ${headers.map((h) => h.trim()).join(" | ")} |`;
  const rule = `|${left.map((l) => (l ? "---" : "---:")).join("|")}|`;
  return [head, rule, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** One line of a summary that run_bench.mjs lays out with a column per runtime. */
export interface SummaryRow {
  /** What the row measures; the same label on every runtime. */
  label: string;
  /** The figure, already formatted. */
  value: string;
  /** The figure as a number, for tools. */
  number: number;
}

/** A titled group of summary rows. */
export interface Summary {
  title: string;
  rows: SummaryRow[];
}

/** What every benchmark writes to bench/results/<runtime>-<name>.json. */
export interface Report {
  benchmark: string;
  runtime: Runtime;
  runtimeVersion: string;
  date: string;
  args: string[];
  /** How the figures were measured, in words. */
  method: string[];
  rows: Record<string, unknown>[];
  summary: Summary[];
}

/** The repository root, from bench/ or from the Node build in dist-bench/bench/. */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const parent = dirname(here);
  return basename(parent) === "dist-bench" ? dirname(parent) : parent;
}

/** Writes the report to bench/results/<runtime>-<benchmark>.json and returns the path. */
export function writeReport(report: Report): string {
  const dir = join(repoRoot(), "bench", "results");
  mkdirSync(dir, { recursive: true });
  const path = resolve(dir, `${report.runtime}-${report.benchmark}.json`);
  writeFileSync(path, JSON.stringify(report, null, 2) + "\n");
  return path;
}

/** A new report with the common fields filled. */
export function newReport(benchmark: string, method: string[]): Report {
  return {
    benchmark,
    runtime: runtime(),
    runtimeVersion: runtimeDescription(),
    date: new Date().toISOString(),
    args: args(),
    method,
    rows: [],
    summary: [],
  };
}

/** Prints the header every benchmark starts with. */
export function printHeader(title: string, method: readonly string[]): void {
  console.log(`## ${title} — ${runtimeDescription()}\n`);
  for (const line of method) console.log(`- ${line}`);
  console.log("");
}

/** Sample sizes from the command line: `--sample-ms`, `--samples`, and shorter with `--quick`. */
export interface Sampling {
  /** Target length of one sample. */
  sampleMs: number;
  /** Samples per method. */
  samples: number;
  /** Warm-up time shared by all methods of one scenario. */
  warmupMs: number;
}

/** The sampling the micro-benchmarks (index_of, base64, utf8) use. */
export function sampling(): Sampling {
  const quick = flag("quick");
  return {
    sampleMs: numberOption("sample-ms", quick ? 15 : 50),
    samples: Math.round(numberOption("samples", quick ? 5 : 7)),
    warmupMs: quick ? 60 : 250,
  };
}

/** A method a micro-benchmark times: `loop(n)` runs n operations and returns a checksum. */
export interface TimedMethod {
  loop: (n: number) => number;
  /** Runs before every warm-up, calibration and sample of this method (e.g. picks a strategy). */
  before?: () => void;
}

/** How {@linkcode sampleNsPerOp} runs. */
export interface SampleOptions extends Sampling {
  /** Operations per warm-up call. */
  warmupBatch: number;
  /**
   * Run a quarter sample untimed before each sample: switching what `before` chooses
   * deoptimizes V8's code, which a program that never switches does not pay.
   */
  reheat?: boolean;
  /** Checks a sample's checksum `sum` of `n` operations of method `k` (throws when wrong). */
  verify?: (k: number, sum: number, n: number) => void;
  /** The clock in milliseconds (default `performance.now`; see {@linkcode cpuClock}). */
  clock?: () => number;
}

/**
 * The process's CPU time in milliseconds, for `--cpu-time` runs on a machine shared with other
 * work (waiting for a core is not the job's cost; other threads of the process still count).
 */
export function cpuClock(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Warms every method up, calibrates each to `sampleMs` a sample, then takes `samples` rounds
 * in which every method runs once (interleaved, so drift hits all alike).
 *
 * @returns Nanoseconds per operation, a list of samples per method.
 */
export function sampleNsPerOp(methods: readonly TimedMethod[], options: SampleOptions): number[][] {
  const clock = options.clock ?? (() => performance.now());
  for (const m of methods) {
    m.before?.();
    const end = performance.now() + options.warmupMs / methods.length;
    while (performance.now() < end) m.loop(options.warmupBatch);
  }
  const iterations = methods.map((m) => calibrate(m, options.sampleMs, clock));
  const samples: number[][] = methods.map(() => []);
  for (let s = 0; s < options.samples; s++) {
    methods.forEach((m, k) => {
      m.before?.();
      const n = iterations[k] as number;
      if (options.reheat) m.loop(Math.ceil(n / 4));
      const start = clock();
      const sum = m.loop(n);
      const ns = ((clock() - start) * 1e6) / n;
      options.verify?.(k, sum, n);
      (samples[k] as number[]).push(ns);
    });
  }
  return samples;
}

/** How many operations make one sample of about `ms`. */
function calibrate(m: TimedMethod, ms: number, clock: () => number): number {
  m.before?.();
  let n = 1;
  for (;;) {
    const start = clock();
    m.loop(n);
    const elapsed = clock() - start;
    if (elapsed >= ms / 4 || n >= 1 << 30) return Math.max(1, Math.round((n * ms) / Math.max(elapsed, 1e-3)));
    n *= 4;
  }
}
