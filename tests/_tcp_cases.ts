// The TCP cases every runtime adapter must pass (tests/node_adapter_test.ts,
// tests/bun_adapter_test.ts run them). Loopback only, port 0, every case bounded in time.
// Not a test file (no _test suffix).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { it as test } from "node:test";
import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  ConnectTlsOptions,
  Listener,
  ListenOptions,
  ListenTlsOptions,
  ReadableChannel,
} from "../mod.ts";
import { MemoryPool } from "../mod.ts";
import { concat, testSeed, withSeed } from "./_util.ts";

/** What an entry point (`./node`, `./bun`) offers. */
export interface TcpAdapter {
  connect(options: ConnectOptions): Promise<Connection>;
  listen(
    options: ListenOptions & { onError?: (error: unknown) => void },
    handler: ConnectionHandler,
  ): Promise<Listener>;
  connectTls(options: ConnectTlsOptions): Promise<Connection>;
  listenTls(
    options: ListenTlsOptions & { onError?: (error: unknown) => void },
    handler: ConnectionHandler,
  ): Promise<Listener>;
}

const MiB = 1024 * 1024;
export const BIG_MIB: number = Number(process.env.CHANNELS_BIG_MIB ?? 256); // each way; CHANNELS_BIG_MIB=64 for a quicker run
// 1,000 connections of 64 KiB ran in ~3 s under Node on the 2-core CI machine; see the report.
const CONNECTIONS = Number(process.env.CHANNELS_CONNECTIONS ?? 1000);

/** Bytes of pool memory rented: blocks, and oversize blocks counted as the 64 KiB bulk reads rent. */
export function heldBytes(pool: MemoryPool): number {
  const { rentedBlocks, oversizeBlocks } = pool.stats();
  return (rentedBlocks - oversizeBlocks) * pool.blockSize + oversizeBlocks * 65536;
}

/** Waits until `pool` has no block rented (blocks go back a few ticks after the last byte). */
export async function allReturned(pool: MemoryPool, what: string): Promise<void> {
  for (let waited = 0; pool.stats().rentedBlocks > 0; waited += 10) {
    if (waited > 5000) assert.fail(`${what} still rents ${pool.stats().rentedBlocks} blocks`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Reads until the writer completes; returns a copy of everything. */
export async function readAll(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await reader.read();
    if (buffer.length > 0) parts.push(buffer.toUint8Array());
    reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  reader.complete();
  return concat(parts);
}

/** Writes every input byte back, then completes the output. */
async function echo(conn: Connection): Promise<void> {
  for (;;) {
    const { buffer, isCompleted } = await conn.input.read();
    let stop = false;
    for (const view of buffer) {
      const memory = conn.output.getMemory(view.length);
      memory.set(view);
      conn.output.advance(view.length);
    }
    conn.input.advanceTo(buffer.length);
    if ((await conn.output.flush()).isCompleted) stop = true;
    if (isCompleted || stop) break;
  }
  conn.input.complete();
  conn.output.complete();
}

/** Pseudo-random bytes, fast enough for tens of MiB. */
function bigData(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >>> 2);
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return out;
}

/** The SHA-256 of `bytes`, in hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes `data` in chunks of at most `chunk` bytes; stops if the peer is gone. */
async function send(conn: Connection, data: Uint8Array, chunk = 65536): Promise<void> {
  for (let at = 0; at < data.length; at += chunk) {
    if ((await conn.output.write(data.subarray(at, at + chunk))).isCompleted) return;
  }
}

/** Reads exactly `size` bytes into a new array (and no more). */
async function receive(reader: ReadableChannel, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const { buffer, isCompleted } = await reader.read();
    const take = Math.min(buffer.length, size - at);
    buffer.slice(0, take).copyTo(out, at);
    at += take;
    reader.advanceTo(take);
    if (isCompleted && at < size) throw new Error(`The peer ended after ${at} of ${size} bytes`);
  }
  return out;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A port nobody listens on (just closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A self-signed certificate for localhost / 127.0.0.1 made with the `openssl` CLI, or undefined. */
function selfSignedCert(): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "channels-tls-"));
  try {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ], { stdio: "ignore", timeout: 10000 });
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A listener whose connections are collected, so a test can await their `closed`. */
async function serveWith(
  adapter: TcpAdapter,
  pool: MemoryPool,
  handler: ConnectionHandler,
): Promise<{ listener: Listener; served: Connection[]; port: number }> {
  const served: Connection[] = [];
  const listener = await adapter.listen({ port: 0, pool }, (conn) => {
    served.push(conn);
    return handler(conn);
  });
  return { listener, served, port: listener.addr.port };
}

async function allClosed(connections: Connection[]): Promise<void> {
  await timeout(Promise.all(connections.map((c) => c.closed)), 10000, "connections closed");
}

/** Registers the shared cases (call inside a `describe`). */
export function tcpCases(
  adapter: TcpAdapter,
  peer: { reset(socket: net.Socket): void },
  skip: string | false,
): void {
  // Bun ignores a describe's skip reason (and shows nothing), so every case carries it too.
  const it = (name: string, options: { timeout?: number; skip?: string | false }, body: () => Promise<void>) =>
    test(name, { ...options, skip: skip || (options.skip ?? false) }, body);
  it("echoes random chunk sizes, and every block goes back to both pools", { timeout: 30000 }, async () => {
    await withSeed(testSeed(), async (random) => {
      const serverPool = new MemoryPool({ debug: true });
      const clientPool = new MemoryPool({ debug: true });
      const { listener, served, port } = await serveWith(adapter, serverPool, echo);
      const conn = await adapter.connect({ port, pool: clientPool });
      assert.equal(conn.remoteAddr.port, port);
      assert.ok(conn.localAddr.port > 0);
      const chunks = Array.from({ length: 200 }, () => random.bytes(random.int(0, random.chance(0.1) ? 70000 : 3000)));
      const echoed = readAll(conn.input);
      for (const chunk of chunks) await conn.output.write(chunk);
      conn.output.complete();
      assert.deepEqual(await timeout(echoed, 20000, "echo"), concat(chunks));
      await allClosed([conn, ...served]);
      await listener.close();
      assert.equal(clientPool.stats().rentedBlocks, 0);
      assert.equal(serverPool.stats().rentedBlocks, 0);
    });
  });

  it("plays 500 rounds of ping-pong", { timeout: 30000 }, async () => {
    const pool = new MemoryPool();
    const { listener, served, port } = await serveWith(adapter, pool, echo);
    const conn = await adapter.connect({ port, pool });
    const ping = new Uint8Array(100).fill(7);
    for (let i = 0; i < 500; i++) {
      ping[0] = i & 0xff;
      await conn.output.write(ping);
      const { buffer } = await conn.input.readAtLeast(ping.length);
      assert.equal(buffer.length, ping.length);
      assert.equal(buffer.at(0), i & 0xff);
      conn.input.advanceTo(buffer.length);
    }
    conn.output.complete();
    assert.equal((await readAll(conn.input)).length, 0);
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it(
    `moves ${BIG_MIB} MiB each way at once with matching SHA-256 (CHANNELS_BIG_MIB)`,
    { timeout: 120000 },
    async () => {
      const size = Math.round(BIG_MIB * MiB);
      const pool = new MemoryPool();
      const up = bigData(size, 1);
      const down = bigData(size, 2);
      let serverGot: Promise<string> | undefined;
      const { listener, served, port } = await serveWith(adapter, pool, async (conn) => {
        const received = receive(conn.input, size);
        serverGot = received.then(sha256);
        await send(conn, down);
        await received;
      });
      const conn = await adapter.connect({ port, pool });
      const [clientGot] = await timeout(
        Promise.all([receive(conn.input, size).then(sha256), send(conn, up)]),
        100000,
        "big transfer",
      );
      conn.output.complete();
      assert.equal(await readAll(conn.input).then((rest) => rest.length), 0);
      assert.equal(clientGot, await sha256(down));
      assert.equal(await serverGot, await sha256(up));
      await allClosed([conn, ...served]);
      await listener.close();
      assert.equal(pool.stats().rentedBlocks, 0);
    },
  );

  it("waits for bytes holding no pool block, after bulk and small messages", { timeout: 30000 }, async () => {
    await withSeed(testSeed(), async (random) => {
      const serverPool = new MemoryPool();
      const clientPool = new MemoryPool();
      const { listener, served, port } = await serveWith(adapter, serverPool, echo);
      const conn = await adapter.connect({ port, pool: clientPool });
      // Bulk messages (read into pool memory as they stream in), each followed by a small one.
      for (const size of [100_003, 1000, 200_000, 1000]) {
        const message = random.bytes(size);
        await conn.output.write(message);
        const { buffer } = await conn.input.readAtLeast(size);
        assert.deepEqual(buffer.toUint8Array(), message);
        conn.input.advanceTo(buffer.length);
      }
      // Both ends now wait for bytes without a pool block.
      await allReturned(clientPool, "the idle client");
      await allReturned(serverPool, "the idle server");
      conn.output.complete();
      assert.equal((await readAll(conn.input)).length, 0);
      await allClosed([conn, ...served]);
      await listener.close();
    });
  });

  it(`echoes 64 KiB on each of ${CONNECTIONS} concurrent connections`, { timeout: 60000 }, async () => {
    const pool = new MemoryPool();
    const { listener, served, port } = await serveWith(adapter, pool, echo);
    const started = performance.now();
    await timeout(
      Promise.all(Array.from({ length: CONNECTIONS }, async (_, i) => {
        const conn = await adapter.connect({ port, pool });
        const data = bigData(64 * 1024, i + 10);
        const echoed = readAll(conn.input);
        await send(conn, data, 16384);
        conn.output.complete();
        assert.deepEqual(await echoed, data);
        await conn.closed;
      })),
      50000,
      "concurrent echo",
    );
    await allClosed(served);
    await listener.close();
    assert.equal(served.length, CONNECTIONS);
    assert.equal(pool.stats().rentedBlocks, 0);
    if (process.env.CHANNELS_VERBOSE) console.log(`${CONNECTIONS} connections: ${performance.now() - started} ms`);
  });

  it("surfaces a peer reset mid-stream on both channels", { timeout: 20000 }, async () => {
    const pool = new MemoryPool({ debug: true });
    const server = net.createServer((socket) => {
      socket.once("data", () => peer.reset(socket));
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const conn = await adapter.connect({ port: (server.address() as net.AddressInfo).port, pool });
    const reading = (async () => {
      for (;;) {
        const { buffer, isCompleted } = await conn.input.read();
        conn.input.advanceTo(buffer.length);
        if (isCompleted) return "completed";
      }
    })();
    const writing = (async () => {
      const chunk = new Uint8Array(16384);
      for (let i = 0; i < 100000; i++) await conn.output.write(chunk);
      return "finished";
    })();
    const readError = await timeout(reading.then(() => undefined, (e: unknown) => e), 10000, "read error");
    const writeError = await timeout(writing.then(() => undefined, (e: unknown) => e), 10000, "write error");
    assert.ok(readError instanceof Error, `the read rejects: ${readError}`);
    assert.ok(writeError instanceof Error, `the write rejects: ${writeError}`);
    conn.input.complete();
    conn.output.complete();
    await timeout(conn.closed, 5000, "closed");
    server.close();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("lets the client see a server that closes mid-write", { timeout: 20000 }, async () => {
    const pool = new MemoryPool({ debug: true });
    const { listener, served, port } = await serveWith(adapter, pool, async (conn) => {
      await conn.input.readAtLeast(100000);
      conn.close();
    });
    const conn = await adapter.connect({ port, pool });
    const reading = readAll(conn.input).then(() => "completed", (e: unknown) => e);
    const outcome = await timeout(
      (async () => {
        const chunk = new Uint8Array(16384);
        for (let i = 0; i < 100000; i++) {
          if ((await conn.output.write(chunk)).isCompleted) return "completed";
        }
        return "finished";
      })().catch((e: unknown) => e),
      10000,
      "write outcome",
    );
    assert.ok(outcome === "completed" || outcome instanceof Error, `the writer learns: ${outcome}`);
    await timeout(reading, 10000, "read outcome");
    conn.output.complete();
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects a pending read aborted with an AbortSignal and stays usable", { timeout: 20000 }, async () => {
    const pool = new MemoryPool({ debug: true });
    const { listener, served, port } = await serveWith(adapter, pool, echo);
    const conn = await adapter.connect({ port, pool });
    const controller = new AbortController();
    const pending = conn.input.read({ signal: controller.signal });
    const reason = new Error("gave up");
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await conn.output.writeUtf8("still here");
    const { buffer } = await conn.input.readAtLeast(10);
    assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "still here");
    conn.input.advanceTo(buffer.length);
    conn.close();
    conn.input.complete();
    conn.output.complete();
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("half-closes: the server sees isCompleted and still answers", { timeout: 20000 }, async () => {
    const pool = new MemoryPool({ debug: true });
    const { listener, served, port } = await serveWith(adapter, pool, async (conn) => {
      const request = new TextDecoder().decode(await readAll(conn.input));
      await conn.output.writeUtf8(`got ${request}`);
      conn.output.complete();
    });
    const conn = await adapter.connect({ port, pool });
    await conn.output.writeUtf8("question");
    conn.output.complete();
    assert.equal(new TextDecoder().decode(await readAll(conn.input)), "got question");
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("keeps a sender to a reader that never reads bounded by the thresholds", { timeout: 20000 }, async () => {
    const serverPool = new MemoryPool();
    const clientPool = new MemoryPool();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { listener, served, port } = await serveWith(adapter, serverPool, async () => await released);
    const conn = await adapter.connect({ port, pool: clientPool });
    const chunk = new Uint8Array(16384);
    let sent = 0;
    for (;;) {
      const flushed = conn.output.write(chunk);
      const stalled = await Promise.race([
        flushed.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 300)),
      ]);
      if (stalled) break;
      sent += chunk.length;
      assert.ok(sent < 512 * MiB, "the sender never stalled");
    }
    // Input is bounded by its 64 KiB pause threshold (plus the read that crossed it), output by
    // its own plus one write batch.
    assert.ok(heldBytes(serverPool) <= 40 * 4096, `server bytes: ${heldBytes(serverPool)}`);
    assert.ok(heldBytes(clientPool) <= 40 * 4096, `client bytes: ${heldBytes(clientPool)}`);
    release();
    conn.close();
    conn.input.complete();
    conn.output.complete();
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(clientPool.stats().rentedBlocks, 0);
    assert.equal(serverPool.stats().rentedBlocks, 0);
  });

  it("reports a handler's error to onError and closes its connection", { timeout: 20000 }, async () => {
    const pool = new MemoryPool();
    const errors: unknown[] = [];
    const failure = new Error("handler failed");
    const listener = await adapter.listen({ port: 0, pool, onError: (e) => errors.push(e) }, async (conn) => {
      await conn.input.readAtLeast(1);
      throw failure;
    });
    const conn = await adapter.connect({ port: listener.addr.port, pool });
    await conn.output.writeUtf8("x");
    const outcome = await timeout(readAll(conn.input).then(() => "completed", (e: unknown) => e), 10000, "closed");
    assert.ok(outcome === "completed" || outcome instanceof Error);
    conn.output.complete();
    await timeout(conn.closed, 10000, "client closed");
    await listener.close();
    assert.deepEqual(errors, [failure]);
  });

  it("rejects a port out of range with a RangeError", {}, async () => {
    for (const port of [-1, 0, 1.5, 65536, Number.NaN]) {
      await assert.rejects(adapter.connect({ port }), RangeError);
    }
    for (const port of [-1, 1.5, 65536]) {
      await assert.rejects(adapter.listen({ port }, async () => {}), RangeError);
    }
    await assert.rejects(adapter.connect({ port: 80, pool: {} as MemoryPool }), TypeError);
  });

  it("rejects a connect to a closed port with the runtime's error", { timeout: 10000 }, async () => {
    const pool = new MemoryPool();
    const error = await adapter.connect({ port: await closedPort(), pool }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof Error);
    assert.match(String((error as { code?: unknown }).code ?? error.message), /ECONNREFUSED|refused/i);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects a connect aborted by its signal", {}, async () => {
    const controller = new AbortController();
    const reason = new Error("no");
    controller.abort(reason);
    await assert.rejects(adapter.connect({ port: 1, signal: controller.signal }), (e) => e === reason);
  });

  const tls = skip === false ? selfSignedCert() : undefined;
  it("echoes over TLS with a self-signed certificate (openssl)", {
    timeout: 30000,
    skip: tls === undefined ? "the openssl CLI is not available to make a certificate" : false,
  }, async () => {
    const { cert, key } = tls!;
    const pool = new MemoryPool({ debug: true });
    const served: Connection[] = [];
    const listener = await adapter.listenTls({ port: 0, pool, cert, key }, (conn) => {
      served.push(conn);
      return echo(conn);
    });
    const conn = await adapter.connectTls({ port: listener.addr.port, pool, caCerts: [cert], serverName: "localhost" });
    const data = bigData(1 * MiB, 3);
    const echoed = readAll(conn.input);
    await send(conn, data, 10000);
    conn.output.complete();
    assert.deepEqual(await timeout(echoed, 20000, "TLS echo"), data);
    await allClosed([conn, ...served]);
    await listener.close();
    assert.equal(pool.stats().rentedBlocks, 0);
    // A certificate the client does not trust fails the handshake.
    const untrusted = await timeout(
      adapter.connectTls({ port: listener.addr.port, serverName: "localhost" }).then((c) => {
        c.close();
        return undefined;
      }, (e: unknown) => e),
      10000,
      "untrusted",
    );
    assert.ok(untrusted instanceof Error, "an untrusted certificate is refused");
  });

  it("checks TLS options", {}, async () => {
    await assert.rejects(
      adapter.listenTls({ port: 0, cert: 1 as unknown as string, key: "" }, async () => {}),
      TypeError,
    );
    await assert.rejects(adapter.connectTls({ port: 1, caCerts: "x" as unknown as string[] }), TypeError);
    await assert.rejects(adapter.connectTls({ port: 0 }), RangeError);
  });
}
