/**
 * The demo `npm start` runs: a producer writes a few hundred MiB of text lines into a
 * channel (straight into pool memory), a consumer finds every line with the SIMD search on the
 * bytes where they lie, and the demo prints throughput and pool statistics. Pass `--quick` for
 * a short run, `--mib N` to choose the size.
 *
 * Run: `npm start`, `deno task demo`, or `bun examples/demo.ts`.
 *
 * @module
 */

import { BufferReader, Channel, MemoryPool } from "@channels/channels";

const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const mibArg = args.indexOf("--mib");
const mib = mibArg >= 0 ? Number(args[mibArg + 1]) : args.includes("--quick") ? 16 : 256;
const totalBytes = mib * 1024 * 1024;

const runtime = typeof Deno !== "undefined"
  ? `Deno ${Deno.version.deno}`
  : typeof (globalThis as { Bun?: { version: string } }).Bun !== "undefined"
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Node ${process.version}`;

const pool = new MemoryPool();
const channel = new Channel({ pool });

// ~80-byte log lines, written 64 lines at a time.
const line = "2026-11-28T17:00:00Z INFO request handled path=/api/items status=200 bytes=1234\n";
const batch = line.repeat(64);
const batchBytes = new TextEncoder().encode(batch).length;

let peakRented = 0;
const started = performance.now();

const producer = (async () => {
  let written = 0;
  while (written < totalBytes) {
    const { isCompleted } = await channel.writer.writeUtf8(batch);
    written += batchBytes;
    if (isCompleted) break;
  }
  channel.writer.complete();
  return written;
})();

let lines = 0;
let bytes = 0;
let reads = 0;
for (;;) {
  const result = channel.reader.tryRead() ?? await channel.reader.read();
  reads++;
  peakRented = Math.max(peakRented, pool.stats().rentedBlocks);
  const parser = new BufferReader(result.buffer);
  while (parser.tryReadTo(0x0a) !== undefined) lines++;
  bytes += parser.consumed;
  // Whole lines are consumed; the partial tail is examined, so the next read waits for more.
  channel.reader.advanceTo(parser.consumed, result.buffer.length);
  if (result.isCompleted) break;
}
channel.reader.complete();
const written = await producer;
const seconds = (performance.now() - started) / 1000;

const stats = pool.stats();
const rows: [string, string][] = [
  ["runtime", runtime],
  ["bytes written", `${(written / 1048576).toFixed(0)} MiB`],
  ["lines parsed", lines.toLocaleString("en-US")],
  [
    "reads",
    `${reads.toLocaleString("en-US")} (${
      (bytes / reads / 1024).toFixed(1)
    } KiB a read: each read returns everything buffered)`,
  ],
  ["throughput", `${(bytes / 1048576 / seconds).toFixed(0)} MiB/s, ${(lines / seconds / 1e6).toFixed(2)} M lines/s`],
  [
    "pool slabs",
    `${stats.slabs} (${
      (stats.reservedBytes / 1048576).toFixed(2)
    } MiB of WebAssembly memory reserved; pages cost RAM once used)`,
  ],
  ["peak blocks in use", `${peakRented} of ${pool.blockSize} bytes (backpressure keeps it bounded)`],
  ["peak pool memory used", `${((peakRented * pool.blockSize) / 1024).toFixed(0)} KiB for ${mib} MiB moved`],
  ["blocks in use now", `${stats.rentedBlocks}`],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log("channels demo: lines through a channel, parsed in place\n");
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
if (lines !== Math.floor(written / line.length) || stats.rentedBlocks !== 0) {
  console.error("\nunexpected result: lines lost or blocks still rented");
  if (typeof Deno !== "undefined") Deno.exit(1);
  else process.exit(1);
}
