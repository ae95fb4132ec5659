// Loopback TCP through the channels adapters against the runtime's own best idiom.
//
//   node dist-bench/bench/tcp.js [--mib N] [--trips N] [--reps N]   (after tsc -p tsconfig.bench.json)
//   bun bench/tcp.ts …
//   deno run -A bench/tcp.ts …
//
// Each runtime runs its own entry point (./deno, ./bun, ./node) against that runtime's own best
// socket idiom. Echo throughput: the client writes `--mib` MiB (64) in 64 KiB chunks to an echo
// server and reads it all back, both in one process; MiB/s counts the bytes one way. Round trips:
// `--trips` (20,000) ping-pongs of 1 KiB on one connection. Baselines: on Deno, WHATWG streams of
// `Deno.connect`/`Deno.listen` (`conn.readable.pipeTo(conn.writable)` echo, a writer and a reader
// on the client) and `conn.read` into one reused 64 KiB buffer with `conn.write` (the faster of
// the two per measure is the peer); on Bun its native socket handlers (`Bun.connect`/`Bun.listen`, echo in `data`
// with `drain` for partial writes); on Node net.Socket streams (`socket.pipe(socket)` echo,
// `write` + `data` events). On Deno, net.Socket streams over Deno's node:net run too, as a
// diagnostic row (not the baseline). One warm-up run of each case, then `--reps` (5) rounds in
// rotating order; the median is reported.

import * as net from "node:net";
import type { Connection, ConnectionHandler, ConnectOptions, Listener, ListenOptions } from "../mod.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import * as nodeAdapter from "../src/adapters/node.ts";
import {
  fmt,
  fmtRatio,
  markdownTable,
  median,
  newReport,
  numberOption,
  printHeader,
  runtime,
  writeReport,
} from "./_util.ts";

const MiB = 1024 * 1024;
const totalBytes = Math.round(numberOption("mib", 64) * MiB);
const trips = Math.round(numberOption("trips", 20000));
const reps = Math.round(numberOption("reps", 5));
const CHUNK = 64 * 1024;
const PING = 1024;

interface Adapter {
  connect(options: ConnectOptions): Promise<Connection>;
  listen(options: ListenOptions, handler: ConnectionHandler): Promise<Listener>;
}
const adapter: Adapter = { bun: bunAdapter, deno: denoAdapter, node: nodeAdapter }[runtime()];
const adapterName = `channels ./${runtime()}`;

/** One benchmark setup: `echo` moves totalBytes and back, `pingPong` does `trips` round trips. */
interface Side {
  label: string;
  channel: boolean;
  echo(): Promise<number>;
  pingPong(): Promise<number>;
  close(): Promise<void>;
}

// ---- channels ----

async function channelEcho(conn: Connection): Promise<void> {
  for (;;) {
    const { buffer, isCompleted } = await conn.input.read();
    for (const view of buffer) {
      conn.output.getMemory(view.length).set(view);
      conn.output.advance(view.length);
    }
    conn.input.advanceTo(buffer.length);
    await conn.output.flush();
    if (isCompleted) break;
  }
}

async function channelSide(): Promise<Side> {
  const listener = await adapter.listen({ port: 0 }, channelEcho);
  const port = listener.addr.port;
  const chunk = new Uint8Array(CHUNK).fill(1);
  const ping = new Uint8Array(PING).fill(2);
  return {
    label: adapterName,
    channel: true,
    async echo() {
      const conn = await adapter.connect({ port });
      const reading = (async () => {
        let total = 0;
        for (;;) {
          const { buffer, isCompleted } = await conn.input.read();
          total += buffer.length;
          conn.input.advanceTo(buffer.length);
          if (isCompleted) break;
        }
        conn.input.complete();
        return total;
      })();
      for (let sent = 0; sent < totalBytes; sent += CHUNK) await conn.output.write(chunk);
      conn.output.complete();
      const total = await reading;
      await conn.closed;
      return total;
    },
    async pingPong() {
      const conn = await adapter.connect({ port });
      for (let i = 0; i < trips; i++) {
        await conn.output.write(ping);
        const { buffer } = await conn.input.readAtLeast(PING);
        conn.input.advanceTo(buffer.length);
      }
      conn.output.complete();
      conn.input.complete();
      await conn.closed;
      return trips;
    },
    close: () => listener.close(),
  };
}

// ---- Node (and Deno's node:net): net.Socket streams ----

async function nodeStreamSide(): Promise<Side> {
  const server = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const chunk = Buffer.alloc(CHUNK, 1);
  const ping = Buffer.alloc(PING, 2);
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1" }, () => resolve(socket));
      socket.once("error", reject);
    });
  return {
    label: runtime() === "deno" ? "node:net streams on Deno" : "net.Socket streams",
    channel: false,
    async echo() {
      const socket = await connect();
      let total = 0;
      const done = new Promise<number>((resolve) => {
        socket.on("data", (data: Buffer) => (total += data.length));
        socket.on("end", () => resolve(total));
      });
      for (let sent = 0; sent < totalBytes; sent += CHUNK) {
        if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
      }
      socket.end();
      const result = await done;
      socket.destroy();
      return result;
    },
    async pingPong() {
      const socket = await connect();
      let got = 0;
      let wake: (() => void) | undefined;
      socket.on("data", (data: Buffer) => {
        got += data.length;
        if (got >= PING) {
          got -= PING;
          wake?.();
        }
      });
      for (let i = 0; i < trips; i++) {
        const answered = new Promise<void>((resolve) => (wake = resolve));
        socket.write(ping);
        await answered;
      }
      socket.destroy();
      return trips;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---- Deno: WHATWG streams of Deno.connect / Deno.listen ----

interface DenoStreamConn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
interface DenoStreamApi {
  listen(options: { hostname: string; port: number }): AsyncIterable<DenoStreamConn> & {
    readonly addr: { port: number };
    close(): void;
  };
  connect(options: { hostname: string; port: number }): Promise<DenoStreamConn>;
}

function denoStreamSide(): Side {
  const api = (globalThis as unknown as { Deno: DenoStreamApi }).Deno;
  const listener = api.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        // pipeTo closes the connection once the client's end of stream came and was echoed.
        conn.readable.pipeTo(conn.writable).catch(() => {});
      }
    } catch {
      // the listener closed
    }
  })();
  const port = listener.addr.port;
  const chunk = new Uint8Array(CHUNK).fill(1);
  const ping = new Uint8Array(PING).fill(2);
  const connect = async () => {
    const conn = await api.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return conn;
  };
  return {
    label: "Deno conn.readable/writable",
    channel: false,
    async echo() {
      const conn = await connect();
      const reading = (async () => {
        let total = 0;
        for await (const data of conn.readable) total += data.length;
        return total;
      })();
      const writer = conn.writable.getWriter();
      for (let sent = 0; sent < totalBytes; sent += CHUNK) {
        await writer.ready;
        void writer.write(chunk);
      }
      await writer.ready;
      writer.releaseLock();
      // writer.close() would close the whole connection; closeWrite() sends FIN only.
      await conn.closeWrite();
      const total = await reading;
      return total;
    },
    async pingPong() {
      const conn = await connect();
      const reader = conn.readable.getReader();
      const writer = conn.writable.getWriter();
      let got = 0;
      for (let i = 0; i < trips; i++) {
        await writer.write(ping);
        while (got < PING) {
          const { value } = await reader.read();
          if (value === undefined) throw new Error("Deno streams: the echo server closed");
          got += value.length;
        }
        got -= PING;
      }
      reader.releaseLock();
      writer.releaseLock();
      conn.close();
      return trips;
    },
    async close() {
      listener.close();
      await serving;
    },
  };
}

// ---- Deno: conn.read into a reused buffer, conn.write ----

interface DenoRawConn {
  read(view: Uint8Array): Promise<number | null>;
  write(view: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
interface DenoRawApi {
  listen(options: { hostname: string; port: number }): AsyncIterable<DenoRawConn> & {
    readonly addr: { port: number };
    close(): void;
  };
  connect(options: { hostname: string; port: number }): Promise<DenoRawConn>;
}

async function denoWriteAll(conn: DenoRawConn, view: Uint8Array): Promise<void> {
  let at = 0;
  while (at < view.length) at += await conn.write(at === 0 ? view : view.subarray(at));
}

/** Deno's fastest idiom without streams: one 64 KiB buffer per connection, read and written again. */
function denoReadSide(): Side {
  const api = (globalThis as unknown as { Deno: DenoRawApi }).Deno;
  const listener = api.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = async (conn: DenoRawConn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        await denoWriteAll(conn, buffer.subarray(0, n));
      }
    } finally {
      conn.close();
    }
  };
  const serving = (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        echo(conn).catch(() => {});
      }
    } catch {
      // the listener closed
    }
  })();
  const port = listener.addr.port;
  const chunk = new Uint8Array(CHUNK).fill(1);
  const ping = new Uint8Array(PING).fill(2);
  const connect = async () => {
    const conn = await api.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return conn;
  };
  return {
    label: "Deno conn.read/write",
    channel: false,
    async echo() {
      const conn = await connect();
      const reading = (async () => {
        const buffer = new Uint8Array(64 * 1024);
        let total = 0;
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) return total;
          total += n;
        }
      })();
      for (let sent = 0; sent < totalBytes; sent += CHUNK) await denoWriteAll(conn, chunk);
      await conn.closeWrite();
      const total = await reading;
      conn.close();
      return total;
    },
    async pingPong() {
      const conn = await connect();
      const buffer = new Uint8Array(64 * 1024);
      let got = 0;
      for (let i = 0; i < trips; i++) {
        await denoWriteAll(conn, ping);
        while (got < PING) {
          const n = await conn.read(buffer);
          if (n === null) throw new Error("Deno conn.read: the echo server closed");
          got += n;
        }
        got -= PING;
      }
      conn.close();
      return trips;
    },
    async close() {
      listener.close();
      await serving;
    },
  };
}

// ---- Bun: native socket handlers ----

interface BunSocket {
  data: { pending: Uint8Array[]; onData?: (n: number) => void; onEnd?: () => void };
  write(data: Uint8Array): number;
  end(): void;
  shutdown(): void;
}
interface BunApi {
  listen(options: unknown): { port: number; stop(close?: boolean): void };
  connect(options: unknown): Promise<BunSocket>;
}

/** Writes what Bun does not take now from `drain`, keeping order. */
function bunWrite(socket: BunSocket, data: Uint8Array): void {
  const pending = socket.data.pending;
  if (pending.length > 0) {
    pending.push(data.slice());
    return;
  }
  const n = socket.write(data);
  if (n < data.length) pending.push(data.slice(Math.max(n, 0)));
}

function bunDrain(socket: BunSocket): void {
  const pending = socket.data.pending;
  while (pending.length > 0) {
    const head = pending[0] as Uint8Array;
    const n = socket.write(head);
    if (n < head.length) {
      pending[0] = head.subarray(Math.max(n, 0));
      return;
    }
    pending.shift();
  }
}

function bunSide(): Side {
  const api = (globalThis as unknown as { Bun: BunApi }).Bun;
  const server = api.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "uint8array",
      open(socket: BunSocket) {
        socket.data = { pending: [] };
      },
      data: (socket: BunSocket, data: Uint8Array) => bunWrite(socket, data),
      drain: bunDrain,
      end: (socket: BunSocket) => socket.end(),
    },
  });
  const chunk = new Uint8Array(CHUNK).fill(1);
  const ping = new Uint8Array(PING).fill(2);
  const connect = (state: BunSocket["data"]) =>
    api.connect({
      hostname: "127.0.0.1",
      port: server.port,
      data: state,
      socket: {
        binaryType: "uint8array",
        data: (socket: BunSocket, data: Uint8Array) => socket.data.onData?.(data.length),
        drain: bunDrain,
        close: (socket: BunSocket) => socket.data.onEnd?.(),
      },
    });
  return {
    label: "Bun socket handlers",
    channel: false,
    async echo() {
      let total = 0;
      let ended!: () => void;
      const done = new Promise<void>((resolve) => (ended = resolve));
      const state: BunSocket["data"] = { pending: [], onData: (n) => (total += n), onEnd: () => ended() };
      const socket = await connect(state);
      for (let sent = 0; sent < totalBytes; sent += CHUNK) {
        bunWrite(socket, chunk);
        // Let the drain and data handlers run once Bun holds a few chunks.
        while (state.pending.length > 4) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      while (state.pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      socket.shutdown();
      await done;
      return total;
    },
    async pingPong() {
      let got = 0;
      let wake: (() => void) | undefined;
      const state: BunSocket["data"] = {
        pending: [],
        onData: (n) => {
          got += n;
          if (got >= PING) {
            got -= PING;
            wake?.();
          }
        },
      };
      const socket = await connect(state);
      for (let i = 0; i < trips; i++) {
        const answered = new Promise<void>((resolve) => (wake = resolve));
        bunWrite(socket, ping);
        await answered;
      }
      socket.end();
      return trips;
    },
    close: () => Promise.resolve(server.stop(true)),
  };
}

// ---- run ----

const method = [
  `echo: ${totalBytes / MiB} MiB in ${CHUNK / 1024} KiB writes to an echo server and back, one process; MiB/s one way`,
  `round trips: ${trips} ping-pongs of ${PING} B on one connection`,
  `median of ${reps} rounds after one warm-up; ratio = channels / baseline (higher is better for channels)`,
];
printHeader("TCP loopback: channels adapters vs the runtime's sockets", method);
const report = newReport("tcp", method);
// The first side is channels, then the baselines (the runtime's own idioms: per measure, the
// faster of them is the peer); more are diagnostic rows.
const sides: Side[] = [await channelSide()];
let baselines = 1;
if (runtime() === "bun") sides.push(bunSide());
else if (runtime() === "deno") {
  sides.push(denoStreamSide(), denoReadSide(), await nodeStreamSide());
  baselines = 2;
} else sides.push(await nodeStreamSide());
const results = new Map<string, { echo: number[]; trips: number[] }>(
  sides.map((s) => [s.label, { echo: [], trips: [] }]),
);
for (const side of sides) {
  await side.echo();
  await side.pingPong();
}
for (let round = 0; round < reps; round++) {
  for (let k = 0; k < sides.length; k++) {
    const side = sides[(round + k) % sides.length] as Side;
    const entry = results.get(side.label)!;
    let start = performance.now();
    const moved = await side.echo();
    if (moved !== totalBytes) throw new Error(`${side.label} echoed ${moved} of ${totalBytes} bytes`);
    entry.echo.push(totalBytes / MiB / ((performance.now() - start) / 1000));
    start = performance.now();
    await side.pingPong();
    entry.trips.push(trips / ((performance.now() - start) / 1000));
  }
}
for (const side of sides) await side.close();

const ours = results.get(sides[0]!.label)!;
const peers = sides.slice(1, 1 + baselines);
/** The baseline with the highest median of `metric`. */
const fastest = (metric: "echo" | "trips"): Side =>
  peers.reduce((a, b) => median(results.get(b.label)![metric]) > median(results.get(a.label)![metric]) ? b : a);
const echoPeer = fastest("echo");
const tripPeer = fastest("trips");
const echoRatio = median(ours.echo) / median(results.get(echoPeer.label)!.echo);
const tripRatio = median(ours.trips) / median(results.get(tripPeer.label)!.trips);
const rows = sides.map((s, i) => {
  const r = results.get(s.label)!;
  const role = i === 0 ? "" : i <= baselines ? " (baseline)" : " (diagnostic)";
  return [s.label + role, fmt(median(r.echo)), fmt(median(r.trips))];
});
rows.push([
  `ratio (channels / ${echoPeer.label} for echo, ${tripPeer.label} for round trips)`,
  fmtRatio(echoRatio),
  fmtRatio(tripRatio),
]);
console.log(markdownTable([" case", "echo MiB/s", "round trips/s"], rows));
for (const [i, side] of sides.entries()) {
  const r = results.get(side.label)!;
  report.rows.push({
    case: side.label,
    channel: side.channel,
    baseline: i >= 1 && i <= baselines,
    echoMiBps: r.echo,
    roundTripsPerSecond: r.trips,
  });
}
report.summary.push({
  title: "TCP loopback (channels / runtime sockets)",
  rows: [
    { label: "echo throughput ratio", value: fmtRatio(echoRatio), number: echoRatio },
    { label: "round trips ratio", value: fmtRatio(tripRatio), number: tripRatio },
  ],
});
console.log(`\nwrote ${writeReport(report)}`);
