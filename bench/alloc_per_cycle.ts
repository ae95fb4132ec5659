// Heap bytes allocated per write/flush/read/advanceTo cycle of a Channel, with 4 KiB chunks (and one
// case of 64 KiB, a span per write),
// against an await and the WHATWG reader.read() loop (research/perf-anchors.md §6).
//
//   node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 dist-bench/bench/alloc_per_cycle.js
//   deno run -A --v8-flags=--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256 bench/alloc_per_cycle.ts
//   BUN_JSC_largeHeapSize=4000000000 bun bench/alloc_per_cycle.ts
//
// Started without those flags, the script starts itself again with them.
//
// Each figure is (allocated during N2 cycles − allocated during N1 cycles) / (N2 − N1), the
// median of 5 pairs, so set-up costs (a new channel or stream, a compiled function) cancel.
// - V8 (Node, Deno): `heapUsed` before and after a window that starts right after a full GC,
//   with a 256 MB semi-space so no scavenge runs inside it. `min` matters as much as `max`:
//   with only `--max-semi-space-size` the new space starts small and scavenges within a few
//   MB. A window where v8.GCProfiler saw a GC is discarded.
// - Bun (JavaScriptCore): `heapUsed`/`heapSize` change only at GC time, so the window is
//   measured by `heapStats().heapCapacity` from "bun:jsc" (it grows with every block of cells
//   allocated) after `Bun.gc(true)`, with `BUN_JSC_largeHeapSize` raised so no eden GC runs
//   inside it; a changed `heapSize` shows that one did, and the window is discarded.

import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v8 from "node:v8";
import { Channel, MemoryPool, type ReadableChannel, type ReadResult } from "../mod.ts";
import {
  args,
  flag,
  fmt,
  markdownTable,
  median,
  newReport,
  numberOption,
  printHeader,
  runtime,
  writeReport,
} from "./_util.ts";

const CHUNK = 4096;
const N1 = Math.round(numberOption("n1", 2000));
const N2 = Math.round(numberOption("n2", 10000));
const PAIRS = Math.round(numberOption("pairs", 5));
const V8_FLAGS = ["--expose-gc", "--min-semi-space-size=256", "--max-semi-space-size=256"];
const BUN_LARGE_HEAP = "4000000000";

// ---- make sure the measuring flags are on ----

const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
const rt = runtime();
const needsRestart = process.env.CHANNELS_BENCH_CHILD !== "1" &&
  (rt === "bun" ? process.env.BUN_JSC_largeHeapSize === undefined : typeof g.gc !== "function");
if (needsRestart) {
  const script = fileURLToPath(import.meta.url);
  const argv = rt === "deno"
    ? ["run", "-A", `--v8-flags=${V8_FLAGS.join(",")}`, script, ...args()]
    : rt === "node"
    ? [...V8_FLAGS, ...process.execArgv, script, ...args()]
    : [script, ...args()];
  console.error(`(restarting as: ${process.execPath} ${argv.join(" ")})`);
  const child = spawnSync(process.execPath, argv, {
    stdio: "inherit",
    env: { ...process.env, CHANNELS_BENCH_CHILD: "1", BUN_JSC_largeHeapSize: BUN_LARGE_HEAP },
  });
  process.exit(child.status ?? 1);
}

// ---- what is measured ----

interface Window {
  /** Bytes of JS heap allocated in the window. */
  heap: number;
  /** Bytes outside the JS heap (ArrayBuffer stores): V8 `arrayBuffers`, JSC `extraMemorySize`. */
  offHeap: number;
  /** Whether a GC ran inside the window (the figure is then not an allocation count). */
  gc: boolean;
}

interface JscHeapStats {
  heapSize: number;
  heapCapacity: number;
  extraMemorySize: number;
}

/** Runs `body` and returns what it allocated, measured as the header explains. */
let measure: (body: () => Promise<void>) => Promise<Window>;
let methodLine: string;

if (rt === "bun") {
  // A computed specifier: "bun:jsc" exists only on Bun, and type checkers must not resolve it.
  const specifier = "bun:jsc";
  const jsc = (await import(specifier)) as { heapStats(): JscHeapStats };
  const bun = g.Bun as { gc(force: boolean): void };
  measure = async (body) => {
    bun.gc(true);
    const before = jsc.heapStats();
    await body();
    const after = jsc.heapStats();
    return {
      heap: after.heapCapacity - before.heapCapacity,
      offHeap: after.extraMemorySize - before.extraMemorySize,
      gc: after.heapSize !== before.heapSize,
    };
  };
  methodLine = `JavaScriptCore: growth of heapStats().heapCapacity ("bun:jsc") over a window after Bun.gc(true); ` +
    `BUN_JSC_largeHeapSize=${process.env.BUN_JSC_largeHeapSize ?? "(unset)"} keeps eden GCs out of it ` +
    `(a changed heapSize marks a window with a GC, which is discarded); resolution one 16 KiB block per window`;
} else {
  const gc = g.gc;
  measure = async (body) => {
    gc?.();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = process.memoryUsage();
    await body();
    const after = process.memoryUsage();
    const gcs = profiler.stop()?.statistics.length ?? 0;
    return { heap: after.heapUsed - before.heapUsed, offHeap: after.arrayBuffers - before.arrayBuffers, gc: gcs > 0 };
  };
  methodLine = `V8: process.memoryUsage().heapUsed after − before a window that starts after gc()` +
    `${typeof gc === "function" ? "" : " (gc() NOT exposed: windows may include garbage from before)"}, ` +
    `run with ${
      V8_FLAGS.join(" ")
    } so no scavenge runs inside it (v8.GCProfiler checks; a window with a GC is discarded)`;
}

// ---- the cycles ----

const pool = new MemoryPool();
const chunk = new Uint8Array(CHUNK).fill(0x61);
// A write past the block size: one span per write (MemoryPool spans), released and rented again.
const bigChunk = new Uint8Array(64 * 1024).fill(0x62);
const resolved = Promise.resolve(0);

/**
 * The channel of one case, made once and kept across windows, as an application keeps a
 * channel: a new channel per window would put its set-up (and the JIT's reaction to fresh
 * facade closures) into the windows' noise. Cases that complete it call `reset()` after.
 */
function channel(): Channel {
  return new Channel({ pool });
}

async function consume(reader: ReadableChannel): Promise<void> {
  for (;;) {
    // deno-lint-ignore no-await-in-loop
    const result = reader.tryRead() ?? await reader.read();
    const done = result.isCompleted;
    reader.advanceTo(result.buffer.length);
    if (done) break;
  }
  reader.complete();
}

interface Case {
  id: string;
  label: string;
  run: (n: number) => Promise<void>;
}

function tryReadNow(reader: ReadableChannel): ReadResult {
  const result = reader.tryRead();
  if (result === undefined) throw new Error("Cannot measure the cycle as tryRead() found nothing after a flush");
  return result;
}

const CASES: Case[] = [
  {
    id: "channel-write-tryread",
    label: "Channel, one task: await write(chunk); tryRead(); advanceTo",
    run: ((ch) => async (n: number) => {
      const { reader, writer } = ch;
      for (let i = 0; i < n; i++) {
        // deno-lint-ignore no-await-in-loop
        await writer.write(chunk);
        reader.advanceTo(tryReadNow(reader).buffer.length);
      }
    })(channel()),
  },
  {
    id: "channel-write-64k-tryread",
    label: "Channel, one task: await write(64 KiB chunk) (one span); tryRead(); advanceTo",
    run: ((ch) => async (n: number) => {
      const { reader, writer } = ch;
      for (let i = 0; i < n; i++) {
        // deno-lint-ignore no-await-in-loop
        await writer.write(bigChunk);
        reader.advanceTo(tryReadNow(reader).buffer.length);
      }
    })(new Channel({ pool, pauseWriterThreshold: 0 })),
  },
  {
    id: "channel-write-read",
    label: "Channel, one task: await write(chunk); await read(); advanceTo",
    run: ((ch) => async (n: number) => {
      const { reader, writer } = ch;
      for (let i = 0; i < n; i++) {
        // deno-lint-ignore no-await-in-loop
        await writer.write(chunk);
        // deno-lint-ignore no-await-in-loop
        const result = await reader.read();
        reader.advanceTo(result.buffer.length);
      }
    })(channel()),
  },
  {
    id: "channel-getmemory-tryread",
    label: "Channel, one task: getMemory(4096); advance; await flush(); tryRead(); advanceTo",
    run: ((ch) => async (n: number) => {
      const { reader, writer } = ch;
      for (let i = 0; i < n; i++) {
        const memory = writer.getMemory(CHUNK);
        memory[0] = i;
        writer.advance(CHUNK);
        // deno-lint-ignore no-await-in-loop
        await writer.flush();
        reader.advanceTo(tryReadNow(reader).buffer.length);
      }
    })(channel()),
  },
  {
    id: "channel-sync",
    label: "Channel, no await: write(chunk) (shared settled promise dropped); tryRead(); advanceTo",
    run: ((ch) => (n: number) => {
      const { reader, writer } = ch;
      for (let i = 0; i < n; i++) {
        void writer.write(chunk);
        reader.advanceTo(tryReadNow(reader).buffer.length);
      }
      return resolved.then(() => {});
    })(channel()),
  },
  {
    id: "channel-two-tasks",
    label:
      "Channel, producer and consumer tasks: await write(chunk) ‖ tryRead() ?? await read(); advanceTo (reset() after)",
    run: ((ch) => async (n: number) => {
      const { reader, writer } = ch;
      const producer = (async () => {
        for (let i = 0; i < n; i++) {
          // deno-lint-ignore no-await-in-loop
          await writer.write(chunk);
        }
        writer.complete();
      })();
      await Promise.all([consume(reader), producer]);
      ch.reset();
    })(channel()),
  },
  {
    id: "floor-await",
    label: "floor: one await of a settled promise per cycle",
    run: async (n) => {
      for (let i = 0; i < n; i++) {
        // deno-lint-ignore no-await-in-loop
        await resolved;
      }
    },
  },
  {
    id: "whatwg-read-loop",
    label: "WHATWG: ReadableStream (pull + enqueue of the reused chunk), reader.read() loop",
    run: async (n) => {
      let sent = 0;
      const reader = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < n) controller.enqueue(chunk);
          else controller.close();
        },
      }).getReader();
      for (;;) {
        // deno-lint-ignore no-await-in-loop
        const { done } = await reader.read();
        if (done) break;
      }
    },
  },
];

// ---- run ----

const method = [
  `cycles of a 4 KiB chunk; figure = (allocation in ${N2} cycles − allocation in ${N1}) / ${
    N2 - N1
  }, median of ${PAIRS} pairs`,
  methodLine,
  "off-heap = ArrayBuffer memory outside the JS heap (V8 arrayBuffers, JSC extraMemorySize), per cycle",
];
printHeader("Heap allocated per cycle", method);
const report = newReport("alloc_per_cycle", method);

const quick = flag("quick");
for (const c of CASES) {
  // Warm-up: compile and optimize every path the windows take.
  // deno-lint-ignore no-await-in-loop
  for (let k = 0; k < (quick ? 2 : 4); k++) await c.run(N2);
}

interface Row {
  case: string;
  label: string;
  bytesPerCycle: number;
  offHeapPerCycle: number;
  pairs: number[];
  discardedPairs: number;
}
const rows: Row[] = [];
const perPair = new Map<string, { heap: number[]; offHeap: number[]; discarded: number }>(
  CASES.map((c) => [c.id, { heap: [], offHeap: [], discarded: 0 }]),
);
// Pairs outer, cases inner, so drift over the run spreads over every case alike. A pair with a
// GC in either window is retried, up to twice as many pairs as wanted.
for (let p = 0; p < PAIRS * 2; p++) {
  for (const c of CASES) {
    const acc = perPair.get(c.id) as { heap: number[]; offHeap: number[]; discarded: number };
    if (acc.heap.length >= PAIRS) continue;
    // deno-lint-ignore no-await-in-loop
    const a = await measure(() => c.run(N1));
    // deno-lint-ignore no-await-in-loop
    const b = await measure(() => c.run(N2));
    if (a.gc || b.gc) {
      acc.discarded++;
      continue;
    }
    acc.heap.push((b.heap - a.heap) / (N2 - N1));
    acc.offHeap.push((b.offHeap - a.offHeap) / (N2 - N1));
  }
}
for (const c of CASES) {
  const acc = perPair.get(c.id) as { heap: number[]; offHeap: number[]; discarded: number };
  rows.push({
    case: c.id,
    label: c.label,
    bytesPerCycle: median(acc.heap),
    offHeapPerCycle: median(acc.offHeap),
    pairs: acc.heap,
    discardedPairs: acc.discarded,
  });
}

console.log(
  markdownTable(
    [" case", " what", "B/cycle", "min–max over pairs", "off-heap B/cycle", "pairs with a GC (discarded)"],
    rows.map((r) => [
      r.case,
      r.label,
      fmt(r.bytesPerCycle, 1),
      r.pairs.length === 0 ? "n/a" : `${fmt(Math.min(...r.pairs), 1)}–${fmt(Math.max(...r.pairs), 1)}`,
      fmt(r.offHeapPerCycle, 1),
      String(r.discardedPairs),
    ]),
  ),
);

report.rows = rows as unknown as Record<string, unknown>[];
report.summary = [{
  title: "heap bytes per 4 KiB cycle",
  rows: rows.map((r) => ({ label: r.case, value: fmt(r.bytesPerCycle, 1), number: r.bytesPerCycle })),
}];
console.log(`\nJSON: ${writeReport(report)}`);
