// The pool over time (DESIGN.md §8): how much of `maxBytes` can be rented, and how much
// resident memory is left after a burst once the pool gives its idle slabs back.
//
//   deno run -A --v8-flags=--expose-gc bench/pool_memory.ts [--quick] [--burst-mib N]
//   bun bench/pool_memory.ts …
//   node --expose-gc dist-bench/bench/pool_memory.js …   (after tsc -p tsconfig.bench.json)
//
// Started without a way to force a full GC (V8's gc(), Bun.gc), the script starts itself again
// with --expose-gc.
//
// 1. Rentable bytes: 4 KiB blocks, then 64 KiB spans, rented until the pool refuses, under
//    maxBytes of 8 MiB, 8.2 MiB and 100 MiB; the figure is rented ÷ maxBytes. For context, the
//    same figure for slabs of a fixed 4 MiB + 64 KiB (a pool whose last slab does not shrink).
// 2. RSS after a burst: a channel buffers `--burst-mib` MiB (512) written in 64 KiB chunks
//    (so every page is touched), the reader then consumes it all, and RSS is read after a full
//    GC: (a) before anything gives memory back, (b) after `pool.trim()`, (c) on a pool with
//    `idleTrimMs: 200` after waiting for it to trim on its own. The peer is the same burst held
//    as plain `Uint8Array`s (what a user without a pool would allocate), dropped, then a full
//    GC. Figures are RSS minus the RSS measured before the burst.

import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Channel, MemoryPool } from "../mod.ts";
import { args, fmt, markdownTable, newReport, numberOption, printHeader, runtime, writeReport } from "./_util.ts";

const MiB = 1024 * 1024;
const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
const rt = runtime();

if (rt !== "bun" && typeof g.gc !== "function" && process.env.CHANNELS_BENCH_CHILD !== "1") {
  const script = fileURLToPath(import.meta.url);
  const argv = rt === "deno"
    ? ["run", "-A", "--v8-flags=--expose-gc", script, ...args()]
    : ["--expose-gc", ...process.execArgv, script, ...args()];
  console.error(`(restarting as: ${process.execPath} ${argv.join(" ")})`);
  const child = spawnSync(process.execPath, argv, {
    stdio: "inherit",
    env: { ...process.env, CHANNELS_BENCH_CHILD: "1" },
  });
  process.exit(child.status ?? 1);
}

const burstMiB = Math.round(numberOption("burst-mib", 512));
const CHUNK = 64 * 1024;

/** A full GC, several times over a few event-loop turns (V8 frees array buffers on a task). */
async function fullGc(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    if (rt === "bun") g.Bun?.gc(true);
    else g.gc?.();
    // deno-lint-ignore no-await-in-loop
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rssMiB(): Promise<number> {
  await fullGc();
  return process.memoryUsage().rss / MiB;
}

// ---- 1. rentable bytes under maxBytes ----

function rentUntilRefused(pool: MemoryPool, size: number): number {
  let rented = 0;
  for (;;) {
    try {
      rented += pool.rent(size).bytes.length;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      return rented;
    }
  }
}

const LIMITS = [8 * MiB, Math.round(8.2 * MiB), 100 * MiB];
const FIXED_SLAB = 4 * MiB + 65536;
const rentable = LIMITS.map((maxBytes) => {
  const blocks = rentUntilRefused(new MemoryPool({ maxBytes }), 0);
  const spans = rentUntilRefused(new MemoryPool({ maxBytes }), 64 * 1024);
  const fixed = Math.floor(maxBytes / FIXED_SLAB) * 4 * MiB;
  return { maxBytes, blocks, spans, fixed };
});

// ---- 2. RSS after a burst ----

/** Writes `burstMiB` through a channel without reading, then reads it all; returns the pool. */
async function burstThroughChannel(pool: MemoryPool): Promise<void> {
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  for (let i = 0; i < (burstMiB * MiB) / CHUNK; i++) {
    // deno-lint-ignore no-await-in-loop
    await channel.writer.write(chunk);
  }
  channel.writer.complete();
  const { buffer } = await channel.reader.read();
  if (buffer.length !== burstMiB * MiB) throw new Error(`Cannot trust the burst: read ${buffer.length} bytes`);
  channel.reader.advanceTo(buffer.length);
  channel.reader.complete();
}

const method = [
  "rentable: 4 KiB blocks (rent()) and 64 KiB spans (rent(65536)) until RangeError; rented bytes ÷ maxBytes. " +
  "`fixed slabs`: the same for slabs of a fixed 4 MiB + 64 KiB (computed)",
  `RSS: process.memoryUsage().rss after a full GC (${
    rt === "bun" ? "Bun.gc(true)" : "gc() with --expose-gc"
  }, 4 times 50 ms apart), minus the RSS before the burst; burst = ${burstMiB} MiB written in 64 KiB chunks into a channel (pause 0), then read and consumed`,
  "peer: the same bytes as plain Uint8Array(65536) chunks held in an array, then dropped",
];
printHeader("Pool memory over time", method);

// Warm up what every case uses (module, kernels, a channel), so it is in the baseline RSS.
await burstThroughChannelSmall();
async function burstThroughChannelSmall(): Promise<void> {
  const pool = new MemoryPool();
  const channel = new Channel({ pool, pauseWriterThreshold: 0 });
  await channel.writer.write(new Uint8Array(CHUNK));
  const { buffer } = await channel.reader.read();
  channel.reader.advanceTo(buffer.length);
  channel.writer.complete();
  channel.reader.complete();
  pool.trim();
}

interface RssRow {
  case: string;
  label: string;
  startMiB: number;
  peakMiB: number;
  afterMiB: number;
  deltaMiB: number;
  reservedMiB: number;
}
const rssRows: RssRow[] = [];

async function measureRss(
  id: string,
  label: string,
  body: () => Promise<{ peak: number; reserved: number }> | { peak: number; reserved: number },
): Promise<void> {
  const start = await rssMiB();
  const { peak, reserved } = await body();
  const after = await rssMiB();
  rssRows.push({
    case: id,
    label,
    startMiB: start,
    peakMiB: peak,
    afterMiB: after,
    deltaMiB: after - start,
    reservedMiB: reserved / MiB,
  });
}

{
  // (a) and (b) on one pool: first without giving anything back, then after trim().
  const pool = new MemoryPool();
  await measureRss("pool-kept", "pool, no trim (a pool that never shrinks)", async () => {
    await burstThroughChannel(pool);
    return { peak: process.memoryUsage().rss / MiB, reserved: pool.stats().reservedBytes };
  });
  await measureRss("pool-trim", "pool, trim() after the burst (vs before the burst)", () => {
    // The burst happened in the case above: measure from this case's start, then add that
    // case's delta back so the figure is against the RSS before the burst.
    pool.trim();
    return { peak: NaN, reserved: pool.stats().reservedBytes };
  });
  const kept = rssRows[0] as RssRow;
  const trimmed = rssRows[1] as RssRow;
  trimmed.startMiB = kept.startMiB;
  trimmed.deltaMiB = trimmed.afterMiB - kept.startMiB;
  trimmed.peakMiB = kept.peakMiB;
}

await measureRss("pool-idle-trim", "pool with idleTrimMs 200, after 600 ms idle", async () => {
  const pool = new MemoryPool({ idleTrimMs: 200 });
  await burstThroughChannel(pool);
  const peak = process.memoryUsage().rss / MiB;
  await new Promise((resolve) => setTimeout(resolve, 600));
  return { peak, reserved: pool.stats().reservedBytes };
});

await measureRss("plain-arrays", "peer: plain Uint8Array chunks, held then dropped", () => {
  let held: Uint8Array[] = [];
  for (let i = 0; i < (burstMiB * MiB) / CHUNK; i++) held.push(new Uint8Array(CHUNK).fill(0x5a));
  const peak = process.memoryUsage().rss / MiB;
  held = [];
  return { peak, reserved: NaN }; // no pool: nothing reserved to report
});

// ---- report ----

const pct = (part: number, whole: number) => `${fmt((part / whole) * 100, 1)} %`;
console.log(
  markdownTable(
    ["maxBytes", "4 KiB blocks", "64 KiB spans", "fixed slabs (before)"],
    rentable.map((r) => [
      `${fmt(r.maxBytes / MiB, 1)} MiB`,
      pct(r.blocks, r.maxBytes),
      pct(r.spans, r.maxBytes),
      pct(r.fixed, r.maxBytes),
    ]),
  ),
);
console.log("");
console.log(
  markdownTable(
    [" case", "RSS before", "RSS at peak", "RSS after", "after − before", "reservedBytes after"],
    rssRows.map((r) => [
      r.label,
      `${fmt(r.startMiB, 0)} MiB`,
      Number.isNaN(r.peakMiB) ? "" : `${fmt(r.peakMiB, 0)} MiB`,
      `${fmt(r.afterMiB, 0)} MiB`,
      `${fmt(r.deltaMiB, 1)} MiB`,
      Number.isNaN(r.reservedMiB) ? "" : `${fmt(r.reservedMiB, 1)} MiB`,
    ]),
  ),
);

const report = newReport("pool_memory", method);
report.rows = [
  ...rentable.map((r) => ({ kind: "rentable", ...r })),
  ...rssRows.map((r) => ({ kind: "rss", ...r })),
] as unknown as Record<string, unknown>[];
report.summary = [
  {
    title: "Rentable bytes ÷ maxBytes (target ≥ 95 %)",
    rows: rentable.flatMap((r) => [
      {
        label: `${fmt(r.maxBytes / MiB, 1)} MiB: 4 KiB blocks`,
        value: pct(r.blocks, r.maxBytes),
        number: r.blocks / r.maxBytes,
      },
      {
        label: `${fmt(r.maxBytes / MiB, 1)} MiB: 64 KiB spans`,
        value: pct(r.spans, r.maxBytes),
        number: r.spans / r.maxBytes,
      },
    ]),
  },
  {
    title: `RSS after a ${burstMiB} MiB burst, minus RSS before it (target ≤ 64 MiB after trim)`,
    rows: rssRows.map((r) => ({ label: r.case, value: `${fmt(r.deltaMiB, 1)} MiB`, number: r.deltaMiB })),
  },
];
console.log(`\nJSON: ${writeReport(report)}`);
