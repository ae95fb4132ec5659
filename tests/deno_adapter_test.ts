// The Deno entry point over loopback TCP (127.0.0.1, port 0). Skipped, visibly, on Bun and Node.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { connect, type Connection, connectTls, listen, type Listener, listenTls } from "../src/adapters/deno.ts";
import { type AddressInfo, createServer } from "node:net";
import { MemoryPool, type ReadableChannel } from "../mod.ts";
import { allReturned, BIG_MIB, heldBytes, sha256 } from "./_tcp_cases.ts";
import { concat, testSeed, withSeed } from "./_util.ts";

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined && !("Bun" in globalThis);
const skip: string | false = isDeno ? false : "the Deno entry point needs Deno";

/** Reads `input` to its end, copying every byte out. */
async function readAll(input: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await input.read();
    if (buffer.length > 0) parts.push(buffer.toUint8Array());
    input.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  return concat(parts);
}

/** Reads `input` to its end into a SHA-256 digest (hex) and a byte count. */
async function hashAll(input: ReadableChannel, expected: number): Promise<{ length: number; sha: string }> {
  const all = new Uint8Array(expected);
  let length = 0;
  for (;;) {
    const { buffer, isCompleted } = await input.read();
    buffer.copyTo(all, length);
    length += buffer.length;
    input.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  return { length, sha: await sha256(all.subarray(0, length)) };
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(out.subarray(at, Math.min(length, at + 65536)));
  return out;
}

/** Writes `data` in chunks of `chunk` bytes through getMemory/advance/flush. */
async function send(connection: Connection, data: Uint8Array, chunk = 65536): Promise<void> {
  for (let at = 0; at < data.length; at += chunk) {
    const { isCompleted } = await connection.output.write(data.subarray(at, Math.min(data.length, at + chunk)));
    if (isCompleted) throw new Error("the connection's output completed early");
  }
}

/** An echo handler: writes back everything it reads, then half-closes. */
async function echo({ input, output }: Connection): Promise<void> {
  for (;;) {
    const { buffer, isCompleted } = await input.read();
    for (const view of buffer) await output.write(view);
    input.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  output.complete();
}

/** A server whose accepted connections are kept so a test can await their `closed`. */
async function server(
  pool: MemoryPool,
  handler: (connection: Connection) => Promise<void>,
  onError?: (error: unknown) => void,
): Promise<{ listener: Listener; connections: Connection[]; settled: () => Promise<void> }> {
  const connections: Connection[] = [];
  const listener = await listen({ port: 0, pool, ...(onError ? { onError } : {}) }, (connection) => {
    connections.push(connection);
    return handler(connection);
  });
  return {
    listener,
    connections,
    settled: async () => {
      await listener.close();
      await Promise.all(connections.map((c) => c.closed));
    },
  };
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms)),
  ]).finally(() => clearTimeout(timer));
}

describe("deno adapter: TCP", { skip }, () => {
  it("echoes random chunk sizes byte for byte", async () => {
    await withSeed(testSeed(), async (random) => {
      const serverPool = new MemoryPool({ debug: true });
      const clientPool = new MemoryPool({ debug: true });
      const srv = await server(serverPool, echo);
      const connection = await connect({ port: srv.listener.addr.port, pool: clientPool });
      const chunks = Array.from({ length: 200 }, () => random.bytes(random.int(0, 20000)));
      const reading = readAll(connection.input);
      for (const chunk of chunks) await connection.output.write(chunk);
      connection.output.complete();
      assert.deepEqual(await timeout(reading, 10000, "the echo"), concat(chunks));
      connection.close();
      await connection.closed;
      await srv.settled();
      assert.equal(clientPool.stats().rentedBlocks, 0);
      assert.equal(serverPool.stats().rentedBlocks, 0);
    });
  });

  it("plays ping-pong: 500 round trips of 1 KiB", async () => {
    const pool = new MemoryPool();
    const srv = await server(pool, echo);
    const connection = await connect({ port: srv.listener.addr.port, pool });
    const ping = randomBytes(1024);
    for (let i = 0; i < 500; i++) {
      ping[0] = i & 0xff;
      await connection.output.write(ping);
      const { buffer } = await connection.input.readAtLeast(1024);
      assert.equal(buffer.length, 1024);
      assert.equal(buffer.at(0), i & 0xff);
      connection.input.advanceTo(1024);
    }
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("waits for bytes holding no pool block, also after a bulk transfer", async () => {
    const serverPool = new MemoryPool();
    const clientPool = new MemoryPool();
    const srv = await server(serverPool, echo);
    const connection = await connect({ port: srv.listener.addr.port, pool: clientPool });
    // A bulk message (read 64 KiB at a time), then a small one (read through the idle buffer).
    for (const size of [100_003, 1000, 200_000, 1000]) {
      const message = randomBytes(size);
      await connection.output.write(message);
      const { buffer } = await connection.input.readAtLeast(size);
      assert.deepEqual(buffer.toUint8Array(), message);
      connection.input.advanceTo(buffer.length);
    }
    // Both ends now wait for bytes: each with its 512-byte buffer, not a pool block.
    await allReturned(clientPool, "the idle client");
    await allReturned(serverPool, "the idle server");
    connection.close();
    await connection.closed;
    await srv.settled();
  });

  it(`transfers ${BIG_MIB} MiB each way with matching SHA-256 on both ends`, async () => {
    const size = BIG_MIB * 1024 * 1024;
    const pool = new MemoryPool();
    const up = randomBytes(size);
    const down = randomBytes(size);
    let serverSaw: { length: number; sha: string } | undefined;
    const srv = await server(pool, async (connection) => {
      const sending = send(connection, down).then(() => connection.output.complete());
      serverSaw = await hashAll(connection.input, size);
      await sending;
    });
    const connection = await connect({ port: srv.listener.addr.port, pool });
    const sending = send(connection, up).then(() => connection.output.complete());
    const clientSaw = await timeout(hashAll(connection.input, size), 60000, "the transfer");
    await sending;
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.deepEqual(clientSaw, { length: size, sha: await sha256(down) });
    assert.deepEqual(serverSaw, { length: size, sha: await sha256(up) });
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("echoes 64 KiB on each of 1000 concurrent connections", async () => {
    const pool = new MemoryPool();
    const srv = await server(pool, echo);
    const payload = randomBytes(65536);
    const one = async () => {
      const connection = await connect({ port: srv.listener.addr.port, pool });
      const reading = readAll(connection.input);
      await connection.output.write(payload);
      connection.output.complete();
      const back = await reading;
      connection.close();
      await connection.closed;
      assert.equal(back.length, payload.length);
      assert.deepEqual(back, payload);
    };
    const started = performance.now();
    const batches: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) batches.push(one());
    await timeout(Promise.all(batches), 30000, "1000 connections");
    const ms = performance.now() - started;
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
    assert.ok(ms < 30000, `took ${ms} ms`);
  });

  it("surfaces a peer reset as an input error, and returns every block", async () => {
    const pool = new MemoryPool({ debug: true });
    // node:net can reset a socket (SO_LINGER 0); Deno's own close sends FIN.
    let accepted!: () => void;
    const reset = new Promise<void>((r) => accepted = r);
    const raw = createServer((socket) => {
      socket.write(new Uint8Array([1, 2, 3]));
      setTimeout(() => {
        socket.resetAndDestroy();
        accepted();
      }, 100);
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const rawPort = (raw.address() as AddressInfo).port;
    const connection = await connect({ port: rawPort, pool });
    await connection.output.write(randomBytes(100000));
    const first = await connection.input.readAtLeast(3);
    assert.deepEqual(first.buffer.toUint8Array(), new Uint8Array([1, 2, 3]));
    connection.input.advanceTo(3);
    await reset;
    await assert.rejects(timeout(connection.input.read(), 5000, "the read after a reset"), (error: Error) => {
      assert.match(error.name, /ConnectionReset|BrokenPipe/);
      return true;
    });
    connection.close();
    await timeout(connection.closed, 5000, "closed");
    await new Promise((r) => raw.close(r));
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("ends the client's writes when the server closes mid-transfer", async () => {
    const pool = new MemoryPool();
    const srv = await server(pool, async ({ input }) => {
      const { buffer } = await input.readAtLeast(1000);
      input.advanceTo(buffer.length); // then return: the connection closes with bytes unread
    });
    const connection = await connect({ port: srv.listener.addr.port, pool });
    const chunk = randomBytes(65536);
    const writing = (async () => {
      for (let i = 0; i < 2000; i++) {
        const { isCompleted } = await connection.output.write(chunk);
        if (isCompleted) return "completed";
      }
      return "wrote everything";
    })();
    // Either the flush rejects (the reset reached the write pump) or the writes never all land.
    const outcome = await timeout(writing.catch((error: Error) => error.name), 10000, "the writes");
    assert.match(outcome, /ConnectionReset|BrokenPipe|completed/);
    await assert.rejects(timeout(readAll(connection.input), 5000, "the input"), /reset|broken pipe/i).catch(
      async () => {}, // a FIN may arrive before the RST: then the input simply ends
    );
    connection.close();
    await timeout(connection.closed, 5000, "closed");
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects a pending read aborted by a signal, and the connection goes on", async () => {
    const pool = new MemoryPool();
    let release!: () => void;
    const go = new Promise<void>((r) => release = r);
    const srv = await server(pool, async ({ output }) => {
      await go;
      await output.writeUtf8("late");
      output.complete();
    });
    const connection = await connect({ port: srv.listener.addr.port, pool });
    const reason = new Error("gave up");
    const controller = new AbortController();
    const reading = connection.input.read({ signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(timeout(reading, 5000, "the aborted read"), (error) => error === reason);
    release();
    assert.equal(new TextDecoder().decode(await readAll(connection.input)), "late");
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("close() ends a pending read and a waiting flush, and returns every block", async () => {
    const pool = new MemoryPool({ debug: true });
    const srv = await server(pool, async ({ input }) => {
      await input.read().catch(() => {}); // never consumes: the client's flush waits
      await new Promise((r) => setTimeout(r, 200));
    });
    const connection = await connect({ port: srv.listener.addr.port, pool });
    const pendingRead = connection.input.read();
    const flushing = (async () => {
      for (;;) {
        const { isCompleted } = await connection.output.write(randomBytes(1 << 20));
        if (isCompleted) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    connection.close();
    await assert.rejects(pendingRead, { code: "READER_COMPLETED" });
    await timeout(flushing.catch(() => {}), 5000, "the flush");
    await timeout(connection.closed, 5000, "closed");
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("half-closes: the server reads to the end, then still answers", async () => {
    const pool = new MemoryPool();
    const srv = await server(pool, async ({ input, output }) => {
      const request = await readAll(input); // ends when the client completes its output
      await output.writeUtf8(`got ${request.length} bytes`);
      output.complete();
    });
    const connection = await connect({ port: srv.listener.addr.port, pool });
    await connection.output.write(randomBytes(300000));
    connection.output.complete();
    assert.equal(
      new TextDecoder().decode(await timeout(readAll(connection.input), 5000, "the answer")),
      "got 300000 bytes",
    );
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("holds a slow reader's input to the pause threshold", async () => {
    const serverPool = new MemoryPool();
    const clientPool = new MemoryPool();
    const size = 16 << 20;
    const srv = await server(serverPool, async ({ output }) => {
      await send({ output } as Connection, randomBytes(size));
      output.complete();
    });
    const connection = await connect({ port: srv.listener.addr.port, pool: clientPool });
    await new Promise((r) => setTimeout(r, 300)); // nobody reads: the server's writes back up
    const held = heldBytes(clientPool);
    // 64 KiB pause threshold, plus the bulk read that crossed it and a partly filled block.
    assert.ok(held <= 2 * 65536 + 2 * 4096, `the input holds ${held} bytes`);
    assert.ok(held > 0);
    let total = 0;
    for (;;) {
      const { buffer, isCompleted } = await connection.input.read();
      total += buffer.length;
      connection.input.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    assert.equal(total, size);
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.equal(clientPool.stats().rentedBlocks, 0);
    assert.equal(serverPool.stats().rentedBlocks, 0);
  });

  it("sends a handler's error to onError and closes the connection", async () => {
    const pool = new MemoryPool();
    const errors: unknown[] = [];
    const failure = new Error("handler failed");
    const srv = await server(pool, () => Promise.reject(failure), (error) => errors.push(error));
    const connection = await connect({ port: srv.listener.addr.port, pool });
    assert.equal((await timeout(readAll(connection.input), 5000, "the end")).length, 0);
    connection.close();
    await connection.closed;
    await srv.settled();
    assert.deepEqual(errors, [failure]);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("stops accepting after listener.close()", async () => {
    const srv = await server(new MemoryPool(), echo);
    const port = srv.listener.addr.port;
    assert.equal(srv.listener.addr.hostname, "127.0.0.1");
    assert.ok(port > 0);
    await srv.listener.close();
    await assert.rejects(connect({ port }), (error: Error) => error.name === "ConnectionRefused");
  });

  it("rejects bad options with a TypeError and an aborted signal with its reason", async () => {
    await assert.rejects(connect({ port: 70000 }), TypeError);
    await assert.rejects(listen({ port: -1 }, echo), TypeError);
    await assert.rejects(listenTls({ port: 0, cert: undefined as unknown as string, key: "" }, echo), TypeError);
    await assert.rejects(connectTls({ port: 1, hostname: "127.0.0.1", serverName: "example.com" }), TypeError);
    const reason = new Error("no");
    await assert.rejects(connect({ port: 1, signal: AbortSignal.abort(reason) }), (error) => error === reason);
  });
});

describe("deno adapter: TLS", { skip }, () => {
  let dir: string | undefined;
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("echoes over TLS with a self-signed certificate made by openssl", async () => {
    dir = mkdtempSync(join(tmpdir(), "channels-tls-"));
    // A CA and a leaf it signs (rustls rejects a self-signed CA certificate as the server's).
    const at = (name: string) => join(dir!, name);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
      "req",
      "-x509",
      ...ec,
      "-days",
      "1",
      "-subj",
      "/CN=channels test CA",
      "-keyout",
      at("ca.key"),
      "-out",
      at("ca.pem"),
    );
    openssl("req", ...ec, "-subj", "/CN=localhost", "-keyout", at("key.pem"), "-out", at("leaf.csr"));
    writeFileSync(at("leaf.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    openssl(
      "x509",
      "-req",
      "-in",
      at("leaf.csr"),
      "-CA",
      at("ca.pem"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      at("leaf.ext"),
      "-out",
      at("cert.pem"),
    );
    const cert = readFileSync(join(dir, "cert.pem"), "utf8");
    const key = readFileSync(join(dir, "key.pem"), "utf8");
    const pool = new MemoryPool();
    const connections: Connection[] = [];
    const listener = await listenTls({ port: 0, cert, key, pool }, (c) => {
      connections.push(c);
      return echo(c);
    });
    const ca = readFileSync(at("ca.pem"), "utf8");
    const connection = await connectTls({ hostname: "127.0.0.1", port: listener.addr.port, caCerts: [ca], pool });
    const data = randomBytes(1 << 20);
    const reading = readAll(connection.input);
    await send(connection, data, 10000);
    connection.output.complete();
    assert.deepEqual(await timeout(reading, 10000, "the TLS echo"), data);
    connection.close();
    await connection.closed;
    await listener.close();
    await Promise.all(connections.map((c) => c.closed));
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});
