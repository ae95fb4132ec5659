// What idle TCP connections cost: channels connections from this runtime's entry point against
// the runtime's own sockets, both ends in one process.
//
//   deno run -A --v8-flags=--expose-gc bench/idle_connections.ts [--quick | --connections N]
//   bun bench/idle_connections.ts …
//   node --expose-gc dist-bench/bench/idle_connections.js …   (after tsc -p tsconfig.bench.json)
//
// `--connections` (10,000; 1,000 with --quick) loopback connections are opened to a listener in
// the same process, in batches of 100, so each one is two sockets (the client and the accepted
// end) and two file descriptors: raise the limit first (`ulimit -n 21000`); with a lower limit
// the script opens as many as fit and says so. Each case is measured twice while every
// connection waits for bytes: right after connecting ("fresh"), and after every client sent 16
// bytes that the server echoed ("after a round trip"). Figures are per connection (both ends):
// the pool blocks rented (`pool.stats()`, a pool for the listener and one for the clients) and
// the pool bytes they hold, and the change in process RSS and in the JavaScript heap
// (`heapUsed`) since before the listener opened, after a full GC (`--expose-gc` on V8,
// `Bun.gc(true)` on Bun). Each case runs in a process of its own (the script starts itself
// again with `--case id` and `--expose-gc`), so none inherits another's heap or freed memory. Channels: `listen`/`connect` of `./deno`, `./bun`, `./node` with an
// echo handler and an input read waiting on both ends. Peers, also reading on both ends: Deno
// `Deno.listen`/`Deno.connect` with a `conn.readable` reader waiting; Node `net.createServer`/
// `net.connect` in flowing mode (`data` handlers); Bun `Bun.listen`/`Bun.connect` handlers.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import {
  type Connection,
  type ConnectionHandler,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  MemoryPool,
} from "../mod.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import * as nodeAdapter from "../src/adapters/node.ts";
import {
  args,
  flag,
  fmt,
  markdownTable,
  newReport,
  numberOption,
  printHeader,
  runtime,
  stringOption,
  writeReport,
} from "./_util.ts";

const quick = flag("quick");
const wanted = Math.round(numberOption("connections", quick ? 1000 : 10000));
const BATCH = 100;
const PING = new Uint8Array(16).fill(7);
// Descriptors the runtime itself keeps open, with room to spare.
const SPARE_FDS = 200;

interface Adapter {
  connect(options: ConnectOptions): Promise<Connection>;
  listen(options: ListenOptions, handler: ConnectionHandler): Promise<Listener>;
}
const adapter: Adapter = runtime() === "deno" ? denoAdapter : runtime() === "bun" ? bunAdapter : nodeAdapter;

/** The soft limit on open files (Linux /proc), or Infinity where unknown. */
function fdLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

const limit = fdLimit();
const count = Math.max(1, Math.min(wanted, Math.floor((limit - SPARE_FDS) / 2)));

// ---- memory ----

const gcFunction: (() => void) | undefined = (() => {
  const g = globalThis as { gc?: () => void; Bun?: { gc(full: boolean): void } };
  if (g.Bun !== undefined) return () => g.Bun?.gc(true);
  return typeof g.gc === "function" ? g.gc : undefined;
})();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Snapshot {
  rss: number;
  heapUsed: number;
}

/** Memory after the event loop went quiet and a full GC (twice: finalizers free more). */
async function snapshot(): Promise<Snapshot> {
  await sleep(300);
  for (let i = 0; i < 2; i++) {
    gcFunction?.();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

// ---- cases ----

/** Pool figures of a channels case. */
interface PoolFigures {
  clientBlocks: number;
  serverBlocks: number;
  oversizeBlocks: number;
  /** Bytes of pool memory the rented blocks are. */
  rentedBytes: number;
  /** Bytes of WebAssembly memory both pools hold (slabs and oversize blocks). */
  reservedBytes: number;
}

interface Case {
  id: string;
  label: string;
  channel: boolean;
  /** Opens `n` connections; resolves once the listener accepted all and every end waits for bytes. */
  open(n: number): Promise<void>;
  /** Every client sends 16 bytes and waits for their echo. */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
  pool?(): PoolFigures;
}

async function inBatches<T>(items: readonly T[], run: (item: T) => Promise<unknown>): Promise<void> {
  for (let at = 0; at < items.length; at += BATCH) {
    // deno-lint-ignore no-await-in-loop
    await Promise.all(items.slice(at, at + BATCH).map(run));
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Cannot measure idle connections as ${what} timed out`);
    // deno-lint-ignore no-await-in-loop
    await sleep(10);
  }
}

function channelCase(): Case {
  const serverPool = new MemoryPool();
  const clientPool = new MemoryPool();
  let listener: Listener | undefined;
  let clients: Connection[] = [];
  let accepted = 0;
  const echo: ConnectionHandler = async (conn) => {
    accepted++;
    for (;;) {
      // deno-lint-ignore no-await-in-loop
      const { buffer, isCompleted } = await conn.input.read();
      for (const view of buffer) {
        conn.output.getMemory(view.length).set(view);
        conn.output.advance(view.length);
      }
      conn.input.advanceTo(buffer.length);
      // deno-lint-ignore no-await-in-loop
      await conn.output.flush();
      if (isCompleted) break;
    }
  };
  return {
    id: "channels",
    label: `channels ./${runtime()}: listen + connect, echo handler, input read waiting on both ends`,
    channel: true,
    async open(n) {
      listener = await adapter.listen({ hostname: "127.0.0.1", port: 0, pool: serverPool }, echo);
      const port = listener.addr.port;
      clients = new Array(n);
      await inBatches([...clients.keys()], async (i) => {
        clients[i] = await adapter.connect({ hostname: "127.0.0.1", port, pool: clientPool });
      });
      await until(() => accepted === n, "accepting");
    },
    async roundTrip() {
      await inBatches(clients, async (conn) => {
        await conn.output.write(PING);
        const { buffer } = await conn.input.readAtLeast(PING.length);
        conn.input.advanceTo(buffer.length);
      });
    },
    async close() {
      await Promise.all(clients.map((conn) => conn.close()));
      clients = [];
      await listener?.close();
    },
    pool() {
      const s = serverPool.stats();
      const c = clientPool.stats();
      const rented = (stats: typeof s, pool: MemoryPool) =>
        (stats.rentedBlocks - stats.oversizeBlocks) * pool.blockSize;
      return {
        clientBlocks: c.rentedBlocks,
        serverBlocks: s.rentedBlocks,
        oversizeBlocks: s.oversizeBlocks + c.oversizeBlocks,
        // Oversize blocks counted at 64 KiB (the bulk read size): their exact size is not in stats.
        rentedBytes: rented(s, serverPool) + rented(c, clientPool) + (s.oversizeBlocks + c.oversizeBlocks) * 65536,
        reservedBytes: s.reservedBytes + c.reservedBytes,
      };
    },
  };
}

// Deno: Deno.listen / Deno.connect, a conn.readable reader waiting on both ends.

interface DenoConn {
  readable: ReadableStream<Uint8Array>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
}
interface DenoNet {
  listen(options: { hostname: string; port: number }): AsyncIterable<DenoConn> & {
    addr: { port: number };
    close(): void;
  };
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
}

function denoCase(): Case {
  const deno = (globalThis as unknown as { Deno: DenoNet }).Deno;
  let listener: ReturnType<DenoNet["listen"]> | undefined;
  const servers: DenoConn[] = [];
  let clients: { conn: DenoConn; echoed: () => void }[] = [];
  const loops: Promise<void>[] = [];
  /** Reads until the end; `onData` sees every chunk. */
  const readLoop = async (conn: DenoConn, onData: (chunk: Uint8Array) => unknown) => {
    const reader = conn.readable.getReader();
    try {
      for (;;) {
        // deno-lint-ignore no-await-in-loop
        const { value, done } = await reader.read();
        if (done) break;
        // deno-lint-ignore no-await-in-loop
        await onData(value);
      }
    } catch {
      // closed under the read
    }
  };
  return {
    id: "deno-conn",
    label: "Deno.listen + Deno.connect, a conn.readable reader waiting on both ends",
    channel: false,
    async open(n) {
      listener = deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = listener.addr.port;
      const accepting = (async () => {
        for await (const conn of listener) {
          servers.push(conn);
          loops.push(readLoop(conn, (chunk) => conn.write(chunk)));
          if (servers.length === n) break;
        }
      })();
      clients = new Array(n);
      await inBatches([...clients.keys()], async (i) => {
        const conn = await deno.connect({ hostname: "127.0.0.1", port });
        const client = { conn, echoed: () => {} };
        clients[i] = client;
        loops.push(readLoop(conn, () => client.echoed()));
      });
      await accepting;
    },
    async roundTrip() {
      await inBatches(clients, async (client) => {
        const echoed = new Promise<void>((resolve) => (client.echoed = resolve));
        await client.conn.write(PING);
        await echoed;
      });
    },
    async close() {
      for (const { conn } of clients) conn.close();
      for (const conn of servers) {
        try {
          conn.close();
        } catch {
          // already closed by the read loop's end
        }
      }
      await Promise.all(loops);
      clients = [];
      // Leaving the `for await` above closed the listener already.
    },
  };
}

// Node (and Bun's node:net): net.createServer / net.connect in flowing mode.

function nodeCase(): Case {
  let server: net.Server | undefined;
  let clients: { socket: net.Socket; echoed: () => void }[] = [];
  const accepted: net.Socket[] = [];
  return {
    id: "node-net",
    label: "node:net: createServer + connect, `data` handlers (flowing mode) on both ends",
    channel: false,
    async open(n) {
      server = net.createServer((socket) => {
        accepted.push(socket);
        socket.on("data", (data: Buffer) => socket.write(data));
        socket.on("error", () => {});
      });
      await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      clients = new Array(n);
      await inBatches([...clients.keys()], (i) =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ port, host: "127.0.0.1" }, () => resolve());
          const client = { socket, echoed: () => {} };
          clients[i] = client;
          socket.once("error", reject);
          socket.on("data", () => client.echoed());
        }));
      await until(() => accepted.length === n, "accepting");
    },
    async roundTrip() {
      await inBatches(clients, (client) => {
        const echoed = new Promise<void>((resolve) => (client.echoed = resolve));
        client.socket.write(PING);
        return echoed;
      });
    },
    async close() {
      const closing = [...clients.map((c) => c.socket), ...accepted].map((socket) =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          socket.once("close", () => resolve());
          socket.destroy();
        })
      );
      await Promise.all(closing);
      await new Promise<void>((resolve) => server?.close(() => resolve()));
      clients = [];
      accepted.length = 0;
    },
  };
}

// Bun: Bun.listen / Bun.connect with socket handlers.

interface BunSocket {
  data: { echoed?: () => void };
  write(data: Uint8Array): number;
  end(): void;
}
interface BunNet {
  listen(options: unknown): { port: number; stop(close?: boolean): void };
  connect(options: unknown): Promise<BunSocket>;
}

function bunCase(): Case {
  const bun = (globalThis as unknown as { Bun: BunNet }).Bun;
  let server: ReturnType<BunNet["listen"]> | undefined;
  let clients: BunSocket[] = [];
  let accepted = 0;
  let open = 0;
  return {
    id: "bun-socket",
    label: "Bun.listen + Bun.connect, socket handlers on both ends",
    channel: false,
    async open(n) {
      server = bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        socket: {
          binaryType: "uint8array",
          open() {
            accepted++;
            open++;
          },
          data: (socket: BunSocket, data: Uint8Array) => socket.write(data),
          close() {
            open--;
          },
        },
      });
      const port = server.port;
      clients = new Array(n);
      await inBatches([...clients.keys()], async (i) => {
        clients[i] = await bun.connect({
          hostname: "127.0.0.1",
          port,
          data: {},
          socket: {
            binaryType: "uint8array",
            open() {
              open++;
            },
            data: (socket: BunSocket) => socket.data.echoed?.(),
            close() {
              open--;
            },
          },
        });
      });
      await until(() => accepted === n, "accepting");
    },
    async roundTrip() {
      await inBatches(clients, (socket) => {
        const echoed = new Promise<void>((resolve) => (socket.data.echoed = resolve));
        socket.write(PING);
        return echoed;
      });
    },
    async close() {
      for (const socket of clients) socket.end();
      server?.stop(true);
      await until(() => open === 0, "closing");
      clients = [];
    },
  };
}

// ---- run ----

const cases: Case[] = [
  channelCase(),
  runtime() === "deno" ? denoCase() : runtime() === "bun" ? bunCase() : nodeCase(),
];

interface Row extends Record<string, unknown> {
  case: string;
  label: string;
  channel: boolean;
  phase: "fresh" | "after a round trip";
  connections: number;
  rssBytesPerConnection: number;
  heapBytesPerConnection: number;
  poolBlocksPerConnection?: number;
  poolBytesPerConnection?: number;
  pool?: PoolFigures;
}

/** Measures one case in this process: its rows. */
async function measure(c: Case): Promise<Row[]> {
  const rows: Row[] = [];
  const before = await snapshot();
  await c.open(count);
  for (const phase of ["fresh", "after a round trip"] as const) {
    if (phase !== "fresh") await c.roundTrip();
    const now = await snapshot();
    const pool = c.pool?.();
    rows.push({
      case: c.id,
      label: c.label,
      channel: c.channel,
      phase,
      connections: count,
      rssBytesPerConnection: (now.rss - before.rss) / count,
      heapBytesPerConnection: (now.heapUsed - before.heapUsed) / count,
      ...(pool === undefined ? {} : {
        poolBlocksPerConnection: (pool.clientBlocks + pool.serverBlocks) / count,
        poolBytesPerConnection: pool.rentedBytes / count,
        pool,
      }),
    });
  }
  await c.close();
  const leftover = c.pool?.();
  if (leftover !== undefined && leftover.clientBlocks + leftover.serverBlocks !== 0) {
    throw new Error(
      `Cannot trust ${c.id} as blocks stayed rented after close: received ${
        leftover.clientBlocks + leftover.serverBlocks
      }`,
    );
  }
  return rows;
}

/**
 * Runs this script again for one case (`--case id`), so no case inherits the heap and the
 * allocator's free memory of another, and returns its rows.
 */
function measureInChild(id: string): Row[] {
  const script = process.argv[1] as string;
  const rest = [...args(), "--case", id];
  const argv = runtime() === "deno"
    ? ["run", "-A", "--v8-flags=--expose-gc", script, ...rest]
    : runtime() === "bun"
    ? [script, ...rest]
    : ["--expose-gc", script, ...rest];
  const child = spawnSync(process.execPath, argv, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  const line = child.stdout.split("\n").find((l) => l.startsWith(RESULT));
  if (child.status !== 0 || line === undefined) {
    throw new Error(`Cannot measure ${id} as its process failed: received exit ${child.status}\n${child.stdout}`);
  }
  return JSON.parse(line.slice(RESULT.length)) as Row[];
}
const RESULT = "idle-connections-rows ";

const only = stringOption("case");
if (only !== undefined) {
  const c = cases.find((x) => x.id === only);
  if (c === undefined) {
    throw new RangeError(`Cannot use --case as it is one of ${cases.map((x) => x.id).join(", ")}: received ${only}`);
  }
  console.log(RESULT + JSON.stringify(await measure(c)));
  process.exit(0);
}

const method = [
  `${count} loopback connections, both ends in one process, opened in batches of ${BATCH}; figures per connection (both ends)`,
  "measured while every end waits for bytes: fresh, and after one 16-byte echo per connection",
  "pool: rented blocks of a listener pool and a client pool; RSS and heapUsed: change since before the listener, " +
  "after a full GC; each case in a process of its own",
];
printHeader("Idle connections: memory per connection, channels vs the runtime's sockets", method);
if (count < wanted) {
  console.log(
    `Opening ${count} connections instead of ${wanted}: each takes 2 file descriptors and the limit is ${limit}. ` +
      `Raise it (\`ulimit -n ${2 * wanted + SPARE_FDS}\`) for ${wanted}.\n`,
  );
}
const report = newReport("idle_connections", method);
const started = performance.now();
const rows = cases.flatMap((c) => measureInChild(c.id));

const kib = (bytes: number) => fmt(bytes / 1024, 2);
console.log(
  markdownTable(
    [" case", " phase", "pool blocks (client + server)", "pool KiB / conn", "RSS KiB / conn", "heap KiB / conn"],
    rows.map((r) => [
      r.label,
      r.phase,
      r.pool === undefined ? "—" : `${r.pool.clientBlocks} + ${r.pool.serverBlocks}`,
      r.poolBytesPerConnection === undefined ? "—" : kib(r.poolBytesPerConnection),
      kib(r.rssBytesPerConnection),
      kib(r.heapBytesPerConnection),
    ]),
  ),
);

report.rows = rows;
const peerId = (cases[1] as Case).id;
report.summary = [
  {
    title: `Idle connections: per connection, both ends (${count} connections; peer: ${peerId})`,
    rows: rows.flatMap((r) => {
      const at = r.phase === "fresh" ? "fresh" : "after a round trip";
      const who = r.channel ? "channels" : "peer";
      return [
        ...(r.poolBlocksPerConnection === undefined ? [] : [
          {
            label: `channels pool blocks, ${at}`,
            value: fmt(r.poolBlocksPerConnection, 2),
            number: r.poolBlocksPerConnection,
          },
          {
            label: `channels pool KiB, ${at}`,
            value: kib(r.poolBytesPerConnection ?? 0),
            number: (r.poolBytesPerConnection ?? 0) / 1024,
          },
        ]),
        { label: `${who} RSS KiB, ${at}`, value: kib(r.rssBytesPerConnection), number: r.rssBytesPerConnection / 1024 },
        {
          label: `${who} heap KiB, ${at}`,
          value: kib(r.heapBytesPerConnection),
          number: r.heapBytesPerConnection / 1024,
        },
      ];
    }),
  },
];
const path = writeReport(report);
console.log(`\n${fmt((performance.now() - started) / 1e3, 1)} s; JSON: ${path}`);
