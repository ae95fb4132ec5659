// Socket writes of scattered runs: the adapter's gathered write (runs copied into one staging
// array, one write call) against one write call per run, through the same adapter, for run
// sizes either side of the crossover of copy cost and call cost, which chooses
// GATHER_RUN_BYTES in src/adapters/_gather.ts (here every run is gathered, whatever its size).
//
//   bun bench/socket_writes.ts [--quick] [--reps N]
//   deno run -A bench/socket_writes.ts …
//
// Bun and Deno only: Node writes a buffer's runs with one writev (cork/uncork), so it has
// nothing to gather. The writer: `connect` of this runtime's adapter on a pool whose every
// block is a memory of its own (`blocksPerSlab: 1`), so no two runs are adjacent; each flush
// commits 8 runs of S bytes (getMemory/advance, a fresh block each). The reader: a node:net sink
// in a child process of the same runtime that drops the bytes, so the CPU time measured
// (process.cpuUsage of the writer) is the writer's and the kernel's send path only. A sample
// writes for `--sample-ms` (quick 200, else 500), then closes and awaits `closed`; modes take
// turns each round; the median of `--reps` (5) rounds is reported: MiB/s (wall) and CPU
// µs per MiB, and their ratios gathered / one write per run.

import { spawn } from "node:child_process";
import * as net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Connection, ConnectOptions } from "../mod.ts";
import { MemoryPool } from "../mod.ts";
import { setGatherRunBytesForTesting } from "../src/adapters/_gather.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import {
  args,
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
  writeReport,
} from "./_util.ts";

const MiB = 1024 * 1024;
const quick = flag("quick");
const sampleMs = numberOption("sample-ms", quick ? 200 : 500);
const reps = Math.round(numberOption("reps", quick ? 3 : 5));
const RUNS_PER_FLUSH = 8;
const SIZES = [64, 512, 4096, 8192, 16384, 32768];
// Every run gathered (the staging array's size), whatever GATHER_RUN_BYTES says: the crossover.
const GATHER_ALL = 65536;

/** The sink: a node:net server that drops every byte; prints its port. */
function sink(): void {
  const server = net.createServer((socket) => {
    socket.on("data", () => {});
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => {
    console.log((server.address() as net.AddressInfo).port);
  });
}

async function startSink(): Promise<{ port: number; stop(): void }> {
  const self = fileURLToPath(import.meta.url);
  const argv = runtime() === "deno" ? ["run", "-A", self, "--sink"] : [self, "--sink"];
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (data: Uint8Array) => resolve(Number(new TextDecoder().decode(data).trim())));
    child.once("exit", (code) => reject(new Error(`The sink exited with ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

interface Adapter {
  connect(options: ConnectOptions): Promise<Connection>;
}

/** Bytes/s and CPU µs per MiB of writing S-byte runs, RUNS_PER_FLUSH per flush, for `ms`. */
async function sample(
  adapter: Adapter,
  port: number,
  pool: MemoryPool,
  size: number,
  ms: number,
): Promise<{ mibps: number; cpu: number }> {
  const conn = await adapter.connect({ hostname: "127.0.0.1", port, pool });
  const source = new Uint8Array(size).fill(7);
  let bytes = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < RUNS_PER_FLUSH; i++) {
      // A view of a whole block: each run starts a block of its own, in a memory of its own.
      conn.output.getMemory(pool.blockSize).set(source);
      conn.output.advance(size);
    }
    await conn.output.flush();
    bytes += size * RUNS_PER_FLUSH;
  }
  await conn.close();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { mibps: bytes / MiB / seconds, cpu: (used.user + used.system) / (bytes / MiB) };
}

async function main(): Promise<void> {
  const rt = runtime();
  if (rt === "node") {
    console.log("socket_writes: Node writes a buffer's runs with one writev; nothing to gather (Bun and Deno only)");
    return;
  }
  const adapter: Adapter = rt === "bun" ? bunAdapter : denoAdapter;
  const method = [
    `channels ./${rt} connect, ${RUNS_PER_FLUSH} runs of S bytes per flush, no two runs adjacent in memory`,
    "reader: a node:net sink in a child process dropping the bytes; CPU = this process (writer + kernel send)",
    `median of ${reps} rounds of ${sampleMs} ms samples, modes taking turns`,
    "ratio = gathered / one write per run: MiB/s (higher is better), CPU per MiB (lower is better)",
  ];
  printHeader("Socket writes of scattered runs: gathered vs one write per run", method);
  const report = newReport("socket_writes", method);
  const sinkProcess = await startSink();
  const pool = new MemoryPool({ blockSize: 65536, blocksPerSlab: 1 });
  const rows: string[][] = [];
  try {
    for (const size of SIZES) {
      const modes = [
        { label: "gathered", gather: GATHER_ALL as number, mibps: [] as number[], cpu: [] as number[] },
        { label: "one write per run", gather: 0, mibps: [] as number[], cpu: [] as number[] },
      ];
      for (const mode of modes) {
        setGatherRunBytesForTesting(mode.gather);
        await sample(adapter, sinkProcess.port, pool, size, Math.min(100, sampleMs)); // warm-up
      }
      for (let round = 0; round < reps; round++) {
        for (let k = 0; k < modes.length; k++) {
          const mode = modes[(round + k) % modes.length]!;
          setGatherRunBytesForTesting(mode.gather);
          const result = await sample(adapter, sinkProcess.port, pool, size, sampleMs);
          mode.mibps.push(result.mibps);
          mode.cpu.push(result.cpu);
        }
      }
      setGatherRunBytesForTesting(undefined);
      const [gathered, perRun] = modes as [(typeof modes)[0], (typeof modes)[0]];
      const rate = median(gathered.mibps) / median(perRun.mibps);
      const cpu = median(gathered.cpu) / median(perRun.cpu);
      rows.push([
        fmtSize(size),
        fmt(median(gathered.mibps), 0),
        fmt(median(perRun.mibps), 0),
        fmtRatio(rate),
        fmt(median(gathered.cpu), 0),
        fmt(median(perRun.cpu), 0),
        fmtRatio(cpu),
      ]);
      report.rows.push({
        runBytes: size,
        runsPerFlush: RUNS_PER_FLUSH,
        gatheredMiBps: gathered.mibps,
        perRunMiBps: perRun.mibps,
        gatheredCpuMicrosPerMiB: gathered.cpu,
        perRunCpuMicrosPerMiB: perRun.cpu,
      });
      report.summary.push({
        title: `runs of ${fmtSize(size)} (gathered / one write per run)`,
        rows: [
          { label: "MiB/s ratio", value: fmtRatio(rate), number: rate },
          { label: "CPU per MiB ratio", value: fmtRatio(cpu), number: cpu },
        ],
      });
    }
  } finally {
    sinkProcess.stop();
  }
  console.log(markdownTable(
    [
      "run size",
      "gathered MiB/s",
      "one write per run MiB/s",
      "ratio",
      "gathered CPU µs/MiB",
      "per run CPU µs/MiB",
      "CPU ratio",
    ],
    rows,
  ));
  console.log(`\nwrote ${writeReport(report)}`);
}

if (args().includes("--sink")) sink();
else await main();
