// Redis clients against one redis-server, all in one process: ours (RespClient over this
// runtime's entry point) against node-redis (`redis`) and ioredis from npm, and Bun's own
// client (`Bun.RedisClient`) on Bun.
//
//   deno run -A bench/resp.ts [--quick] [--sample-ms N] [--samples N]
//   bun bench/resp.ts …
//   node dist-bench/bench/resp.js …   (after tsc -p tsconfig.bench.json)
//
// One connection per client. A cell keeps B commands in flight the way each client's best
// user would: B calls made in one tick, then `await Promise.all` of them, again and again.
// node-redis writes a tick's commands together by itself; ioredis runs with
// `enableAutoPipelining` and, as a second row, with an explicit `pipeline()…exec()` per batch;
// Bun's client batches a tick's commands by itself. The baseline of a cell is the fastest
// npm client row (node-redis or either ioredis row). Cells: SET and GET of 3 B and 1 KiB
// values with 16 and 1,000 in flight, SET and GET of 100 KiB with 16. Each sample runs batches
// for `--sample-ms`; clients take turns each round; the median of `--samples` is reported.
// Client CPU time per operation (process.cpuUsage over the sample) is reported beside ops/s:
// on a shared machine it moves less than wall-clock rates.
//
// A last table times command encoding alone (no I/O): 1,000 SETs per burst written into a
// channel by the client's CommandWriter, and by the same bytes composed from BufferWriter
// calls (writeAscii/writeInt/writeUtf8) — the reason the client has its own writer.

import process from "node:process";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { BufferWriter, Channel, type Connection, type ConnectOptions } from "../mod.ts";
import { CommandWriter } from "../src/resp/_command.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import * as nodeAdapter from "../src/adapters/node.ts";
import { RespClient } from "../src/resp.ts";
import { startRedis } from "../tests/_redis_server.ts";
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
  runtime,
  type SummaryRow,
  writeReport,
} from "./_util.ts";

const quick = flag("quick");
const sampleMs = numberOption("sample-ms", quick ? 300 : 1000);
const samples = Math.round(numberOption("samples", quick ? 3 : 5));
const KEYS = 64;

interface Adapter {
  connect(options: ConnectOptions): Promise<Connection>;
}
const adapter: Adapter = { bun: bunAdapter, deno: denoAdapter, node: nodeAdapter }[runtime()];

/** One client: runs a batch of `count` SETs or GETs and waits for all of them. */
interface Client {
  label: string;
  kind: "ours" | "npm" | "bun";
  batch(op: "SET" | "GET", keys: readonly string[], value: string, count: number): Promise<unknown>;
  close(): Promise<void>;
}

function allOf<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const promises: Promise<T>[] = new Array(count);
  for (let i = 0; i < count; i++) promises[i] = make(i);
  return Promise.all(promises);
}

async function oursClient(port: number): Promise<Client> {
  const redis = await RespClient.open(await adapter.connect({ hostname: "127.0.0.1", port }));
  return {
    label: `channels RespClient (./${runtime()})`,
    kind: "ours",
    batch: (op, keys, value, count) =>
      op === "SET"
        ? allOf(count, (i) => redis.send(["SET", keys[i % KEYS] as string, value]))
        : allOf(count, (i) => redis.send(["GET", keys[i % KEYS] as string])),
    close: () => redis.close(),
  };
}

async function nodeRedisClient(port: number): Promise<Client> {
  const client = createClient({ socket: { host: "127.0.0.1", port } });
  await client.connect();
  return {
    label: "node-redis (auto-pipelining)",
    kind: "npm",
    batch: (op, keys, value, count) =>
      op === "SET"
        ? allOf(count, (i) => client.set(keys[i % KEYS] as string, value))
        : allOf(count, (i) => client.get(keys[i % KEYS] as string)),
    close: async () => {
      await client.close();
    },
  };
}

function ioredisClient(port: number, explicit: boolean): Promise<Client> {
  const redis = new Redis({ host: "127.0.0.1", port, enableAutoPipelining: !explicit, lazyConnect: true });
  return redis.connect().then(() => ({
    label: explicit ? "ioredis (pipeline().exec())" : "ioredis (enableAutoPipelining)",
    kind: "npm" as const,
    batch: (op: "SET" | "GET", keys: readonly string[], value: string, count: number) => {
      if (explicit) {
        const pipeline = redis.pipeline();
        for (let i = 0; i < count; i++) {
          if (op === "SET") pipeline.set(keys[i % KEYS] as string, value);
          else pipeline.get(keys[i % KEYS] as string);
        }
        return pipeline.exec();
      }
      return op === "SET"
        ? allOf(count, (i) => redis.set(keys[i % KEYS] as string, value))
        : allOf(count, (i) => redis.get(keys[i % KEYS] as string));
    },
    close: () => {
      redis.disconnect();
      return Promise.resolve();
    },
  }));
}

interface BunRedis {
  connect(): Promise<void>;
  set(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<unknown>;
  close(): void;
}

async function bunClient(port: number): Promise<Client> {
  const { RedisClient } = (globalThis as unknown as { Bun: { RedisClient: new (url: string) => BunRedis } }).Bun;
  const client = new RedisClient(`redis://127.0.0.1:${port}`);
  await client.connect();
  return {
    label: "Bun.RedisClient (native)",
    kind: "bun",
    batch: (op, keys, value, count) =>
      op === "SET"
        ? allOf(count, (i) => client.set(keys[i % KEYS] as string, value))
        : allOf(count, (i) => client.get(keys[i % KEYS] as string)),
    close: () => Promise.resolve(client.close()),
  };
}

interface Cell {
  op: "SET" | "GET";
  size: number;
  inFlight: number;
}

const CELLS: Cell[] = [];
for (const size of [3, 1024]) {
  for (const inFlight of [16, 1000]) for (const op of ["SET", "GET"] as const) CELLS.push({ op, size, inFlight });
}
CELLS.push({ op: "SET", size: 100 * 1024, inFlight: 16 }, { op: "GET", size: 100 * 1024, inFlight: 16 });

function cellLabel(cell: Cell): string {
  return `${cell.op} ${fmtSize(cell.size)}, ${fmt(cell.inFlight, 0)} in flight`;
}

/** Operations per second and client CPU µs per operation over one sample: batches until `ms` passed. */
async function sample(
  client: Client,
  cell: Cell,
  keys: readonly string[],
  value: string,
  ms: number,
): Promise<{ rate: number; cpu: number }> {
  let ops = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await client.batch(cell.op, keys, value, cell.inFlight);
    ops += cell.inFlight;
    now = performance.now();
  }
  const used = process.cpuUsage(cpu);
  return { rate: ops / ((now - start) / 1000), cpu: (used.user + used.system) / ops };
}

const method = [
  "one redis-server (7.x, no persistence) and every client in this process, one connection each",
  "B commands in flight: B calls in one tick, then await them all, repeated; 64 keys",
  "node-redis: its own auto-pipelining; ioredis: enableAutoPipelining, and pipeline().exec() per batch",
  "baseline = the fastest npm client in the cell; on Bun also Bun.RedisClient (native)",
  `median ops/s of ${samples} samples of ${sampleMs} ms, clients taking turns; the machine is shared (noisy)`,
];
printHeader("Redis clients: RespClient vs node-redis, ioredis (and Bun's native client)", method);
const report = newReport("resp", method);

const server = await startRedis();
const clients: Client[] = [
  await oursClient(server.port),
  await nodeRedisClient(server.port),
  await ioredisClient(server.port, false),
  await ioredisClient(server.port, true),
];
if (runtime() === "bun") clients.push(await bunClient(server.port));

const tableRows: string[][] = [];
const summaryRows: SummaryRow[] = [];
const bunRows: SummaryRow[] = [];
try {
  for (const cell of CELLS) {
    const keys = Array.from({ length: KEYS }, (_, i) => `bench:${cell.size}:${i}`);
    const value = "v".repeat(cell.size);
    // The keys hold the cell's value (GET reads it), and every client is warm.
    await clients[0]!.batch("SET", keys, value, KEYS);
    for (const client of clients) await client.batch(cell.op, keys, value, cell.inFlight);
    for (const client of clients) await sample(client, cell, keys, value, Math.min(200, sampleMs / 2));
    const results = new Map<Client, number[]>(clients.map((c) => [c, []]));
    const cpus = new Map<Client, number[]>(clients.map((c) => [c, []]));
    for (let round = 0; round < samples; round++) {
      for (let k = 0; k < clients.length; k++) {
        const client = clients[(round + k) % clients.length]!;
        const { rate, cpu } = await sample(client, cell, keys, value, sampleMs);
        results.get(client)!.push(rate);
        cpus.get(client)!.push(cpu);
      }
    }
    const medians = new Map(clients.map((c) => [c, median(results.get(c)!)]));
    const cpuMedians = new Map(clients.map((c) => [c, median(cpus.get(c)!)]));
    const ours = medians.get(clients[0]!)!;
    const npm = clients.filter((c) => c.kind === "npm");
    const best = npm.reduce((a, b) => (medians.get(b)! > medians.get(a)! ? b : a));
    const ratio = ours / medians.get(best)!;
    const bun = clients.find((c) => c.kind === "bun");
    const bunRatio = bun === undefined ? NaN : ours / medians.get(bun)!;
    tableRows.push([
      cellLabel(cell),
      ...clients.map((c) => `${fmt(medians.get(c)!, 0)} (${fmt(cpuMedians.get(c)!, 2)} µs)`),
      `${fmtRatio(ratio)} (${best.label.split(" ")[0]})`,
      ...(bun === undefined ? [] : [fmtRatio(bunRatio)]),
    ]);
    summaryRows.push({ label: cellLabel(cell), value: fmtRatio(ratio), number: ratio });
    if (bun !== undefined) bunRows.push({ label: cellLabel(cell), value: fmtRatio(bunRatio), number: bunRatio });
    report.rows.push({
      op: cell.op,
      bytes: cell.size,
      inFlight: cell.inFlight,
      opsPerSecond: Object.fromEntries(clients.map((c) => [c.label, results.get(c)])),
      cpuMicrosecondsPerOp: Object.fromEntries(clients.map((c) => [c.label, cpus.get(c)])),
      baseline: best.label,
      ratio,
      ...(bun === undefined ? {} : { ratioToBun: bunRatio }),
    });
    console.log(`${cellLabel(cell)}: ${clients.map((c) => `${c.label} ${fmt(medians.get(c)!, 0)}`).join(", ")}`);
  }
} finally {
  for (const client of clients) await client.close();
  await server.stop();
}

console.log("");
console.log(
  markdownTable(
    [
      " cell: ops/s (client CPU per op)",
      ...clients.map((c) => c.label),
      "ours ÷ best npm",
      ...(runtime() === "bun" ? ["ours ÷ Bun native"] : []),
    ],
    tableRows,
  ),
);
report.summary.push({ title: "RespClient ÷ the fastest of node-redis and ioredis (ops/s)", rows: summaryRows });
if (bunRows.length > 0) report.summary.push({ title: "RespClient ÷ Bun.RedisClient (ops/s)", rows: bunRows });
report.summary.push({ title: "Command encoding: ns per SET (CommandWriter / BufferWriter calls)", rows: encodeRows() });
console.log(`\nwrote ${writeReport(report)}`);
process.exit(0);

/** Times command encoding alone: CommandWriter against the same bytes from BufferWriter calls. */
function encodeRows(): SummaryRow[] {
  const encoder = new TextEncoder();
  const channel = new Channel({ pauseWriterThreshold: 0 });
  const commands = new CommandWriter(channel.writer);
  const out = new BufferWriter(channel.writer);
  const composed = (args: readonly string[]) => {
    out.writeAscii("*");
    out.writeInt(args.length);
    out.writeAscii("\r\n");
    for (const arg of args) {
      out.writeAscii("$");
      out.writeInt(encoder.encode(arg).length);
      out.writeAscii("\r\n");
      out.writeUtf8(arg);
      out.writeAscii("\r\n");
    }
  };
  const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);
  const rows: SummaryRow[] = [];
  const tableRows: string[][] = [];
  for (const size of [3, 1024]) {
    const value = "v".repeat(size);
    const burst = (which: number) => {
      for (let i = 0; i < 1000; i++) {
        const args = ["SET", keys[i % KEYS] as string, value];
        if (which === 0) commands.write(args);
        else composed(args);
      }
      if (which === 0) commands.commit();
      else out.commit();
      void channel.writer.flush();
      const result = channel.reader.tryRead();
      if (result !== undefined) channel.reader.advanceTo(result.buffer.length);
    };
    const ns: number[][] = [[], []];
    for (let round = 0; round < samples + 1; round++) {
      for (const which of [0, 1]) {
        let bursts = 0;
        const start = performance.now();
        while (performance.now() - start < sampleMs / 4) {
          burst(which);
          bursts++;
        }
        if (round > 0) ns[which]!.push(((performance.now() - start) * 1e6) / (bursts * 1000));
      }
    }
    const [ours, theirs] = [median(ns[0]!), median(ns[1]!)];
    tableRows.push([`SET ${fmtSize(size)}`, fmt(ours, 0), fmt(theirs, 0), fmtRatio(theirs / ours)]);
    rows.push({
      label: `SET ${fmtSize(size)}: BufferWriter ÷ CommandWriter time`,
      value: fmtRatio(theirs / ours),
      number: theirs / ours,
    });
  }
  console.log("\nCommand encoding alone (1,000 SETs a burst into a channel, ns per SET):\n");
  console.log(markdownTable([" command", "CommandWriter", "BufferWriter calls", "ratio"], tableRows));
  return rows;
}
