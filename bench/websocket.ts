// WebSocket echo: channels' ./websocket server against the runtime's best WebSocket server, and
// the mask kernel against TypeScript loops.
//
//   node dist-bench/bench/websocket.js [--quick] [--reps N] [--seconds S]   (after tsc -p tsconfig.bench.json)
//   bun bench/websocket.ts …
//   deno run -A bench/websocket.ts …
//
// Echo: each server runs in a child process of the same runtime (`--serve KIND` below), so the
// server and the load generator get a core each. The load generator is this process, the same
// for every server in a run: raw frames on the runtime's channels adapter (prebuilt masked
// frames out, echoes counted by their known length, so it costs little next to a server),
// 8 connections, 64 binary messages in flight on each (each echo is answered with the next
// message), 32 B and 4 KiB messages; messages/s counts the echoes received in the window.
// Servers: channels (`acceptWebSocket` on `./http1`, `for await` over the messages, `await
// socket.send(message.data)`); Node: `ws` (WebSocketServer, `socket.send(data, { binary })`
// in the message handler, no permessage-deflate; with bufferutil, the native masking addon ws
// loads when it is installed, as its README recommends for speed); Deno: `Deno.serve` + `Deno.upgradeWebSocket` (binaryType
// "arraybuffer", `socket.send(event.data)`); Bun: `Bun.serve` with a `websocket` handler
// (`ws.send(message)`). One warm-up window each, then `--reps` rounds with the servers in
// rotating order; the median is reported. A diagnostic row: the runtime's channels adapter
// answering the same frames with prebuilt replies and no WebSocket work (what the transport
// alone allows any server on it).
//
// Mask: unmasking a 64 KiB frame (and 4 KiB, 32 B) in pool memory, in place: the SIMD kernel,
// the scalar kernel, the TypeScript word loop (the library's path without WebAssembly) and a
// byte loop; GB/s.

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Connection, ConnectionHandler, ConnectOptions, Listener, ListenOptions } from "../mod.ts";
import { MemoryPool } from "../mod.ts";
import { maskReference, maskShort, maskWords } from "../src/_mask_reference.ts";
import { compileKernels, instantiateKernels } from "../src/_wasm/kernels.ts";
import * as bunAdapter from "../src/adapters/bun.ts";
import * as denoAdapter from "../src/adapters/deno.ts";
import * as nodeAdapter from "../src/adapters/node.ts";
import { serveHttp } from "../src/http1/mod.ts";
import { acceptWebSocket } from "../src/websocket/mod.ts";
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
  sampleNsPerOp,
  sampling,
  stringOption,
  writeReport,
} from "./_util.ts";

interface Adapter {
  connect(options: ConnectOptions): Promise<Connection>;
  listen(options: ListenOptions, handler: ConnectionHandler): Promise<Listener>;
}
const adapter: Adapter = { bun: bunAdapter, deno: denoAdapter, node: nodeAdapter }[runtime()];

const CONNECTIONS = 8;
const IN_FLIGHT = 64;
const SIZES = [32, 4096];

// ---- the servers (child process mode) ----

async function serveChannels(): Promise<number> {
  const listener = await adapter.listen(
    { hostname: "127.0.0.1", port: 0 },
    (connection) =>
      serveHttp(connection, async (request, response) => {
        const socket = await acceptWebSocket(request, response);
        for await (const message of socket) {
          await socket.send(message.data, { binary: message.type === "binary" });
        }
      }),
  );
  return listener.addr.port;
}

async function serveWs(): Promise<number> {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  server.on("connection", (socket) => {
    socket.on("message", (data: Buffer, binary: boolean) => socket.send(data, { binary }));
  });
  await new Promise((resolve) => server.once("listening", resolve));
  return (server.address() as { port: number }).port;
}

/**
 * A diagnostic, not a WebSocket server: the runtime's channels adapter answering fixed-size
 * frames with prebuilt replies (the frame length read from the first header), no unmasking,
 * no messages. What the transport alone allows: the ceiling of any server on this adapter.
 */
async function serveAdapterCeiling(): Promise<number> {
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 }, async (connection) => {
    const { input, output } = connection;
    for (;;) {
      const { buffer, isCompleted } = await input.read();
      const end = buffer.indexOf(CRLFCRLF);
      if (end >= 0) {
        input.advanceTo(end + 4);
        break;
      }
      if (isCompleted) return;
      input.advanceTo(0, buffer.length);
    }
    await output.write(new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"));
    let frameLength = 0;
    let replies = new Uint8Array(0);
    let replyLength = 0;
    for (;;) {
      const { buffer, isCompleted } = await input.read();
      if (frameLength === 0 && buffer.length >= 4) {
        const b1 = buffer.at(1) & 0x7f;
        const size = b1 < 126 ? b1 : (buffer.at(2) << 8) | buffer.at(3);
        frameLength = size + (size < 126 ? 2 : 4) + 4;
        replyLength = size + (size < 126 ? 2 : 4);
        replies = new Uint8Array(replyLength * IN_FLIGHT);
        for (let i = 0; i < IN_FLIGHT; i++) {
          replies[i * replyLength] = 0x82;
          if (size < 126) replies[i * replyLength + 1] = size;
          else replies.set([126, size >>> 8, size & 0xff], i * replyLength + 1);
        }
      }
      const frames = frameLength === 0 ? 0 : Math.floor(buffer.length / frameLength);
      input.advanceTo(frames * frameLength, buffer.length);
      for (let left = frames; left > 0;) {
        const n = Math.min(left, IN_FLIGHT);
        const view = output.getMemory(n * replyLength);
        view.set(replies.subarray(0, n * replyLength));
        output.advance(n * replyLength);
        left -= n;
      }
      if (frames > 0) await output.flush();
      if (isCompleted) return;
    }
  });
  return listener.addr.port;
}

interface DenoServeApi {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Response,
  ): { addr: { port: number } };
  upgradeWebSocket(request: Request): { socket: globalThis.WebSocket; response: Response };
}

function serveDeno(): number {
  const api = (globalThis as unknown as { Deno: DenoServeApi }).Deno;
  const server = api.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = api.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
  return server.addr.port;
}

interface BunServeApi {
  serve(options: unknown): { port: number };
}
interface BunServerSocket {
  send(message: string | Uint8Array): number;
}

function serveBun(): number {
  const api = (globalThis as unknown as { Bun: BunServeApi }).Bun;
  const server = api.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request: Request, server: { upgrade(request: Request): boolean }) {
      if (server.upgrade(request)) return undefined;
      return new Response("not a WebSocket", { status: 400 });
    },
    websocket: {
      perMessageDeflate: false,
      message(socket: BunServerSocket, message: string | Uint8Array) {
        socket.send(message);
      },
    },
  });
  return server.port;
}

// ---- the load generator ----

interface Server {
  label: string;
  channel: boolean;
  port: number;
  stop(): void;
}

async function startServer(kind: string, label: string, channel: boolean): Promise<Server> {
  const self = fileURLToPath(import.meta.url);
  const args = runtime() === "deno" ? ["run", "-A", self, "--serve", kind] : [self, "--serve", kind];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      const match = /listening on [^:]+:(\d+)/.exec(stdout);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`the ${kind} server exited with ${code}: ${stdout}`)));
  });
  return { label, channel, port, stop: () => child.kill() };
}

/** A masked binary frame of `size` bytes (a fixed key: servers unmask whatever the key). */
function clientFrame(size: number): Uint8Array {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const frame = new Uint8Array(header + 4 + size);
  frame[0] = 0x82;
  if (size < 126) frame[1] = 0x80 | size;
  else {
    frame[1] = 0x80 | 126;
    frame[2] = size >>> 8;
    frame[3] = size & 0xff;
  }
  frame.set([0x11, 0x22, 0x33, 0x44], header);
  for (let i = 0; i < size; i++) frame[header + 4 + i] = 0x61 ^ (frame[header + (i & 3)] as number);
  return frame;
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

/** Opens a WebSocket on a raw connection: the handshake, then the bytes after it stay in the input. */
async function rawOpen(port: number): Promise<Connection> {
  const connection = await adapter.connect({ hostname: "127.0.0.1", port });
  await connection.output.write(new TextEncoder().encode(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  for (;;) {
    const { buffer, isCompleted } = await connection.input.read();
    const end = buffer.indexOf(CRLFCRLF);
    if (end >= 0) {
      if (!new TextDecoder().decode(buffer.slice(0, 12).toUint8Array()).includes("101")) {
        throw new Error("the server did not switch protocols");
      }
      connection.input.advanceTo(end + 4);
      return connection;
    }
    if (isCompleted) throw new Error("the server closed before answering");
    connection.input.advanceTo(0, buffer.length);
  }
}

/**
 * Echo messages/s against `port`: 8 connections, 64 messages in flight on each, for `seconds`.
 * The load generator speaks raw frames (prebuilt masked frames out, echoes counted by their
 * known length), so it costs little next to the server, and the same for every server.
 */
async function drive(port: number, size: number, seconds: number): Promise<number> {
  const frame = clientFrame(size);
  const batch = new Uint8Array(frame.length * IN_FLIGHT);
  for (let i = 0; i < IN_FLIGHT; i++) batch.set(frame, i * frame.length);
  const replyLength = size + (size < 126 ? 2 : 4);
  const connections: Connection[] = [];
  for (let i = 0; i < CONNECTIONS; i++) connections.push(await rawOpen(port));
  let received = 0;
  let counted = -1;
  let stop = false;
  const start = performance.now();
  let elapsed = 0;
  const timer = setTimeout(() => {
    stop = true;
    counted = received;
    elapsed = performance.now() - start;
  }, seconds * 1000);
  await Promise.all(connections.map(async (connection) => {
    const { input, output } = connection;
    await output.write(batch);
    let inFlight = IN_FLIGHT;
    let bytes = 0;
    let checked = false;
    while (inFlight > 0) {
      const { buffer, isCompleted } = await input.read();
      if (!checked && buffer.length >= 2) {
        const first = buffer.first;
        if (first[0] !== 0x82) throw new Error(`an echo frame starts with ${first[0]}, not 0x82`);
        checked = true;
      }
      bytes += buffer.length;
      input.advanceTo(buffer.length);
      const done = Math.floor(bytes / replyLength);
      bytes -= done * replyLength;
      received += done;
      inFlight -= done;
      if (!stop && done > 0) {
        await output.write(batch.subarray(0, done * frame.length));
        inFlight += done;
      }
      if (isCompleted && inFlight > 0) throw new Error("the server closed the connection");
    }
  }));
  clearTimeout(timer);
  for (const connection of connections) connection.abort();
  return counted / (elapsed / 1000);
}

function maskRows(): { label: string; gbps: number[] }[] {
  const pool = new MemoryPool({ blockSize: 65536 });
  const block = pool.rent();
  const memory = block.memory;
  const simd = instantiateKernels(memory, compileKernels("simd"));
  const scalar = instantiateKernels(memory, compileKernels("scalar"));
  const bytes = block.bytes;
  const base = bytes.byteOffset;
  crypto.getRandomValues(bytes);
  const key = 0x12345678;
  const out: { label: string; gbps: number[] }[] = [];
  const options = { ...sampling(), warmupBatch: 4 };
  for (const size of [65536, 4096, 32, 8]) {
    const methods = [
      { label: "TypeScript 4-byte loop", loop: (n: number) => (run(n, () => maskShort(bytes, 0, size, key, 1)), 0) },
      { label: "kernel (SIMD)", loop: (n: number) => (run(n, () => simd.mask(base, size, key, 1)), 0) },
      { label: "kernel (scalar)", loop: (n: number) => (run(n, () => scalar.mask(base, size, key, 1)), 0) },
      { label: "TypeScript words", loop: (n: number) => (run(n, () => maskWords(bytes, 0, size, key, 1)), 0) },
      { label: "byte loop", loop: (n: number) => (run(n, () => maskReference(bytes, 0, size, key, 1)), 0) },
    ];
    const samples = sampleNsPerOp(methods, options);
    methods.forEach((m, k) =>
      out.push({ label: `${m.label}, ${size} B`, gbps: (samples[k] as number[]).map((ns) => size / ns) })
    );
  }
  pool.release(block);
  return out;
}

function run(n: number, body: () => void): void {
  for (let i = 0; i < n; i++) body();
}

async function main(): Promise<void> {
  const quick = flag("quick");
  const reps = Math.round(numberOption("reps", quick ? 3 : 5));
  const seconds = numberOption("seconds", quick ? 1 : 3);
  const method = [
    `echo: ${CONNECTIONS} connections, ${IN_FLIGHT} binary messages in flight each, ${
      SIZES.join(" B and ")
    } B; server in a child process, one raw-frame load generator for every server; messages/s`,
    `${seconds} s windows, one warm-up each, median of ${reps} rounds in rotating order; ratio = channels / baseline (higher is better for channels)`,
    "mask: unmasking in place in pool memory, GB/s (bytes / ns), median of samples",
  ];
  printHeader("WebSocket: channels ./websocket vs the runtime's WebSocket server; the mask kernel", method);
  const report = newReport("websocket", method);

  const baseline = runtime() === "node"
    ? { kind: "ws", label: "ws (Node)" }
    : runtime() === "deno"
    ? { kind: "deno", label: "Deno.upgradeWebSocket" }
    : { kind: "bun", label: "Bun.serve websocket" };
  const servers = [
    await startServer("channels", `channels ./websocket (${runtime()})`, true),
    await startServer(baseline.kind, baseline.label, false),
    await startServer("ceiling", `channels ./${runtime()} adapter, fixed replies (diagnostic)`, true),
  ];
  const results = new Map<string, number[]>();
  const key = (server: Server, size: number) => `${server.label}\u0000${size}`;
  for (const server of servers) for (const size of SIZES) await drive(server.port, size, Math.min(1, seconds));
  for (let round = 0; round < reps; round++) {
    for (const size of SIZES) {
      for (let k = 0; k < servers.length; k++) {
        const server = servers[(round + k) % servers.length] as Server;
        const rate = await drive(server.port, size, seconds);
        const list = results.get(key(server, size)) ?? [];
        list.push(rate);
        results.set(key(server, size), list);
      }
    }
  }
  for (const server of servers) server.stop();

  const rows: string[][] = [];
  const ratios: number[] = [];
  for (const server of servers) {
    rows.push([
      server.label + (server === servers[1] ? " (baseline)" : ""),
      ...SIZES.map((size) => fmt(median(results.get(key(server, size)) ?? []))),
    ]);
  }
  for (const size of SIZES) {
    ratios.push(
      median(results.get(key(servers[0] as Server, size)) ?? []) /
        median(results.get(key(servers[1] as Server, size)) ?? []),
    );
  }
  rows.push([`ratio (channels / ${baseline.label})`, ...ratios.map(fmtRatio)]);
  console.log(markdownTable([" echo server", ...SIZES.map((s) => `${s} B msgs/s`)], rows));
  for (const server of servers) {
    for (const size of SIZES) {
      report.rows.push({
        case: server.label,
        channel: server.channel,
        size,
        messagesPerSecond: results.get(key(server, size)),
      });
    }
  }

  const mask = maskRows();
  console.log("");
  console.log(markdownTable([" mask", "GB/s"], mask.map((row) => [row.label, fmt(median(row.gbps))])));
  for (const row of mask) report.rows.push({ case: `mask: ${row.label}`, channel: true, gbps: row.gbps });
  const simd64 = median(mask.find((row) => row.label === "kernel (SIMD), 65536 B")?.gbps ?? []);
  const byte64 = median(mask.find((row) => row.label === "byte loop, 65536 B")?.gbps ?? []);

  report.summary.push({
    title: `WebSocket echo (channels / ${runtime() === "node" ? "ws" : "the runtime's server"})`,
    rows: SIZES.map((size, i) => ({
      label: `${size} B messages`,
      value: fmtRatio(ratios[i] as number),
      number: ratios[i] as number,
    })),
  });
  report.summary.push({
    title: "WebSocket unmasking, 64 KiB frames",
    rows: [
      { label: "SIMD kernel GB/s", value: fmt(simd64), number: simd64 },
      { label: "kernel / byte loop", value: fmtRatio(simd64 / byte64), number: simd64 / byte64 },
    ],
  });
  console.log(`\nwrote ${writeReport(report)}`);
  process.exit(0);
}

// ---- entry: a server (child process), or the benchmark ----

const serveKind = stringOption("serve");
if (serveKind !== undefined) {
  const port = serveKind === "channels"
    ? await serveChannels()
    : serveKind === "ceiling"
    ? await serveAdapterCeiling()
    : serveKind === "ws"
    ? await serveWs()
    : serveKind === "deno"
    ? serveDeno()
    : serveBun();
  console.log(`listening on 127.0.0.1:${port}`);
} else {
  await main();
}
