// Copying a file with `openFile` → `createFile` of this runtime's entry point against the
// runtime's own idiom, in one process.
//
//   deno run -A bench/file_copy.ts [--quick | --mib N] [--reps N]
//   bun bench/file_copy.ts …
//   node dist-bench/bench/file_copy.js …   (after tsc -p tsconfig.bench.json)
//
// The source is `--mib` MiB (64, 16 with --quick) of random bytes in a temporary directory; each
// run copies it to a target there (created, or truncated when it exists), from opening the source
// until both files are closed. The source stays in the page cache, so the figures are what the
// copy costs the process (syscalls, copies, scheduling), not the disk. Channels (Deno from
// `./deno`, Bun from `./bun`, Node from `./node`): the read loop a user writes, one copy from the
// file's channel into the target's, once with `write(view)` and once with
// `getMemory(view.length)` + `set`. Peers: Deno `file.readable.pipeTo(file.writable)`; Node
// `stream.pipeline(fs.createReadStream(), fs.createWriteStream())`; Bun `Bun.write(target,
// Bun.file(source))` (the kernel copies: copy_file_range on Linux) and the `node:fs` streams.
// Every case copies once and is checked byte for byte (outside the timing); then one warm-up
// run of each case and `--reps` (5) rounds in a rotating order; the figure is the median.

import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { MemoryPool, type ReadableChannel, type WritableChannel } from "../mod.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import * as nodeAdapter from "../src/adapters/node.ts";
import {
  flag,
  fmt,
  fmtRatio,
  markdownTable,
  median,
  newReport,
  numberOption,
  printHeader,
  runtime,
  spreadPercent,
  writeReport,
} from "./_util.ts";

const MiB = 1024 * 1024;
const quick = flag("quick");
const totalBytes = Math.round(numberOption("mib", quick ? 16 : 64) * MiB);
const reps = Math.round(numberOption("reps", 5));

interface FileAdapter {
  openFile(
    path: string,
    options?: { pool?: MemoryPool; readSize?: number },
  ): ReadableChannel & { closed: Promise<void> };
  createFile(path: string, options?: { pool?: MemoryPool }): WritableChannel & { closed: Promise<void> };
}
const adapter: FileAdapter = runtime() === "deno" ? denoAdapter : runtime() === "bun" ? bunAdapter : nodeAdapter;
const adapterName = `./${runtime()}`;
// One pool for both files, as an application would share one.
const pool = new MemoryPool();

interface Case {
  id: string;
  label: string;
  /** A channels case (the numerator of every ratio). */
  channel: boolean;
  /** Shown, but left out of the ratios. */
  diagnostic?: boolean;
  copy(source: string, target: string): Promise<void>;
}

// ---- channels ----

/** The copy loop a user writes: read what the source has, copy it into the target, flush. */
async function channelCopy(source: string, target: string, inPlace: boolean, readSize?: number): Promise<void> {
  const reader = adapter.openFile(source, readSize === undefined ? { pool } : { pool, readSize });
  const writer = adapter.createFile(target, { pool });
  for (;;) {
    // deno-lint-ignore no-await-in-loop
    const { buffer, isCompleted } = reader.tryRead() ?? await reader.read();
    if (inPlace) {
      for (const view of buffer) {
        writer.getMemory(view.length).set(view);
        writer.advance(view.length);
      }
      reader.advanceTo(buffer.length);
      // deno-lint-ignore no-await-in-loop
      await writer.flush();
    } else {
      // deno-lint-ignore no-await-in-loop
      for (const view of buffer) await writer.write(view);
      reader.advanceTo(buffer.length);
    }
    if (isCompleted) break;
  }
  reader.complete();
  writer.complete();
  await Promise.all([reader.closed, writer.closed]);
}

// ---- peers ----

interface DenoFile {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}
interface DenoFs {
  open(path: string, options: { read?: boolean; write?: boolean; create?: boolean; truncate?: boolean }): Promise<
    DenoFile
  >;
}
interface BunFs {
  file(path: string): unknown;
  write(target: string, source: unknown): Promise<number>;
}

async function denoPipeTo(source: string, target: string): Promise<void> {
  const deno = (globalThis as unknown as { Deno: DenoFs }).Deno;
  const from = await deno.open(source, { read: true });
  const to = await deno.open(target, { write: true, create: true, truncate: true });
  await from.readable.pipeTo(to.writable); // closes both files
}

async function nodeStreams(source: string, target: string): Promise<void> {
  // pipeline resolves after the write stream's 'finish' and both files' 'close'.
  await pipeline(createReadStream(source), createWriteStream(target));
}

async function bunWrite(source: string, target: string): Promise<void> {
  const bun = (globalThis as unknown as { Bun: BunFs }).Bun;
  await bun.write(target, bun.file(source));
}

const CASES: Case[] = [
  {
    id: "channel-write",
    label: `channels ${adapterName}: openFile → write(view) → createFile`,
    channel: true,
    copy: (s, t) => channelCopy(s, t, false),
  },
  {
    id: "channel-getmemory",
    label: `channels ${adapterName}: openFile → getMemory(view.length).set(view) → createFile`,
    channel: true,
    copy: (s, t) => channelCopy(s, t, true),
  },
  {
    id: "channel-getmemory-read64k",
    label: `channels ${adapterName}: the same with openFile's readSize at 64 KiB (the default is 256 KiB)`,
    channel: true,
    diagnostic: true,
    copy: (s, t) => channelCopy(s, t, true, 65536),
  },
  {
    id: "channel-getmemory-read512k",
    label: `channels ${adapterName}: the same with openFile's readSize at 512 KiB`,
    channel: true,
    diagnostic: true,
    copy: (s, t) => channelCopy(s, t, true, 524288),
  },
  ...(runtime() === "deno"
    ? [{ id: "deno-pipeto", label: "Deno: file.readable.pipeTo(file.writable)", channel: false, copy: denoPipeTo }]
    : []),
  ...(runtime() === "bun"
    ? [{ id: "bun-write", label: "Bun.write(target, Bun.file(source))", channel: false, copy: bunWrite }]
    : []),
  ...(runtime() !== "deno"
    ? [{
      id: "node-streams",
      label: "node:fs streams: pipeline(createReadStream, createWriteStream)",
      channel: false,
      copy: nodeStreams,
    }]
    : []),
];

// ---- run ----

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const method = [
  `copy a ${totalBytes / MiB} MiB file of random bytes in a temporary directory (page cache warm), open to both closed`,
  `channels through ${adapterName} (openFile → one copy per view → createFile, flush per read) against the runtime's idiom`,
  `median of ${reps} rounds after one warm-up; MB/s = 10^6 bytes per second; ratio = channels ÷ peer (higher: channels faster)`,
];
printHeader("File copy: channels openFile → createFile vs the runtime's idiom", method);
const report = newReport("file_copy", method);
const started = performance.now();

const dir = mkdtempSync(join(tmpdir(), "channels-bench-copy-"));
try {
  const source = join(dir, "source.bin");
  const target = join(dir, "target.bin");
  const fd = openSync(source, "w");
  const chunk = new Uint8Array(MiB);
  for (let at = 0; at < totalBytes; at += MiB) {
    const piece = chunk.subarray(0, Math.min(MiB, totalBytes - at));
    for (let i = 0; i < piece.length; i += 65536) crypto.getRandomValues(piece.subarray(i, i + 65536));
    writeSync(fd, piece);
  }
  closeSync(fd);
  const expected = sha256(readFileSync(source));

  // Byte for byte, once per case, outside the timing (this is also every case's first run).
  for (const c of CASES) {
    rmSync(target, { force: true });
    await c.copy(source, target);
    const copy = readFileSync(target);
    if (copy.length !== totalBytes || sha256(copy) !== expected) {
      throw new Error(`Cannot trust ${c.id} as its copy differs: received ${copy.length} of ${totalBytes} bytes`);
    }
  }
  if (pool.stats().rentedBlocks !== 0) {
    throw new Error(`Cannot trust the channel cases as blocks leaked: received ${pool.stats().rentedBlocks} rented`);
  }
  for (const c of CASES) await c.copy(source, target); // warm-up
  const samples = new Map<string, number[]>(CASES.map((c) => [c.id, []]));
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < CASES.length; k++) {
      const c = CASES[(k + r) % CASES.length] as Case;
      const start = performance.now();
      // deno-lint-ignore no-await-in-loop
      await c.copy(source, target);
      samples.get(c.id)?.push(totalBytes / 1e6 / ((performance.now() - start) / 1e3));
    }
  }

  const rows = CASES.map((c) => {
    const mbps = samples.get(c.id) as number[];
    return {
      case: c.id,
      label: c.label,
      channel: c.channel,
      diagnostic: c.diagnostic === true,
      bytes: totalBytes,
      mbPerSec: median(mbps),
      mbPerSecSamples: mbps,
      spreadPercent: spreadPercent(mbps),
    };
  });
  const channels = rows.filter((r) => r.channel && !r.diagnostic);
  const peers = rows.filter((r) => !r.channel);
  console.log(
    markdownTable(
      [" case", "MB/s", "±%", ...channels.map((c) => `${c.case} ÷ this`)],
      rows.map((r) => [
        r.label + (r.diagnostic ? " *(diagnostic)*" : ""),
        fmt(r.mbPerSec, 0),
        fmt(r.spreadPercent, 0),
        ...channels.map((c) => fmtRatio(c.mbPerSec / r.mbPerSec)),
      ]),
    ),
  );
  report.rows = rows;
  const ratioRows = channels.flatMap((c) =>
    peers.map((p) => {
      const ratio = c.mbPerSec / p.mbPerSec;
      return { label: `${c.case} ÷ ${p.case}`, value: fmtRatio(ratio), number: ratio };
    })
  );
  report.summary = [
    { title: "File copy: channels ÷ peer (MB/s ratio, above 1 channels is faster)", rows: ratioRows },
    {
      title: "File copy MB/s",
      rows: rows.map((r) => ({ label: r.case, value: fmt(r.mbPerSec, 0), number: r.mbPerSec })),
    },
  ];
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const path = writeReport(report);
console.log(`\n${fmt((performance.now() - started) / 1e3, 1)} s; JSON: ${path}`);
