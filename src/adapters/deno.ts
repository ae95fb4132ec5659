/**
 * The Deno entry point: TCP and TLS connections, files and HTTP bodies as channels.
 *
 * Deno reads into a caller's buffer (`conn.read(view)`, `file.read(view)`), so bytes go from
 * the socket or file straight into pool memory, and writes take pool views:
 *
 * | path | copies? | a pool block is held |
 * | --- | --- | --- |
 * | socket/file → `input` | none: the OS writes into pool memory | while a read waits for data (see below) and until you consume the bytes |
 * | `output` → socket | none for a run of blocks adjacent in memory that is alone or over 16 KiB: its pool view goes to `write`; shorter runs apart in memory are copied together into one write of up to 64 KiB (into a pool span rented for it), as Deno has no gathered write | until the `write` that sends it settles |
 * | `output` → file | none for runs of 64 KiB or more; shorter runs are copied together into one staging buffer (up to 256 KiB), as Deno has no gathered write | until the `write` that sends it settles |
 * | a read that will likely wait (the last one drained the socket) | one copy of up to 4 KiB from a buffer of the connection's own | none while it waits |
 *
 * Deno cannot wait for a socket to become readable without a buffer (a zero-length
 * `conn.read` returns 0 at once), so after a read that drained the socket the next read goes
 * into a buffer of the connection's own and is copied into pool memory. That buffer starts at
 * 512 bytes and doubles each time a read fills it, up to 4 KiB, so messages of the sizes a
 * connection sees take one read; a read that fills 4 KiB goes on straight into pool memory,
 * and while reads keep filling their views (bytes are streaming in) they go 64 KiB at a time
 * into spans of adjacent pool blocks. An idle connection holds no pool block (512 bytes of JavaScript
 * heap, up to 4 KiB once it saw larger messages); small messages cost one copy, bulk
 * transfers none.
 *
 * Ends (see {@linkcode Connection}): `close()` and a handler that returns send every byte, then
 * FIN (`closeWrite()`), then close the socket once the peer ended or `lingerMs` passed.
 * `abort()` and a handler that throws drop unsent bytes and close the socket at once, but the
 * peer sees a clean end, not a reset: Deno's sockets cannot send one (no SO_LINGER, and
 * `conn.close()` shuts down the write side first, so even unread input only makes the reset
 * follow the FIN).
 *
 * Nothing here touches `Deno` at import time: the module loads in any runtime, and its
 * functions throw a `TypeError` outside Deno.
 *
 * @example An echo server
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/deno";
 *
 * const listener = await listen({ port: 0 }, async ({ input, output }) => {
 *   for (;;) {
 *     const { buffer, isCompleted } = await input.read();
 *     for (const view of buffer) await output.write(view);
 *     input.advanceTo(buffer.length);
 *     if (isCompleted) break;
 *   }
 *   output.complete();
 * });
 * const connection = await connect({ port: listener.addr.port });
 * await connection.output.writeUtf8("hello");
 * connection.output.complete(); // half-close: the server sees the end and stops
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await connection.input.read();
 *   text += new TextDecoder().decode(buffer.toUint8Array());
 *   connection.input.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * await connection.close();
 * await listener.close();
 * assert.equal(text, "hello");
 * ```
 *
 * @module
 */

import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  ConnectTlsOptions,
  HandlerErrorOptions,
  Listener,
  ListenOptions,
  ListenTlsOptions,
} from "../connection.ts";
import { socketError, typeError } from "../errors.ts";
import type { MemoryPool } from "../memory_pool.ts";
import { adjacentViews, type ReadableBuffer } from "../readable_buffer.ts";
import { denoApi, type DenoConn, type DenoFile, type DenoListener } from "./_deno_api.ts";
import {
  createFileWith,
  type FileHandleLike,
  type FileOptions,
  type FileReadableChannel,
  type FileWritableChannel,
  openFileWith,
  writeAll,
} from "./_files.ts";
import { checkConnect, checkConnectTls, checkListen, checkListenTls, type ListenSettings } from "./_options.ts";
import { writeViews } from "./_gather.ts";
import { netAddr, runHandler, SocketConnection, type SocketDriver } from "./_socket.ts";

export * from "./_common_exports.ts";
export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files.ts";

/**
 * Connects to a TCP server.
 *
 * @param options The address, the pool, an abort signal and `lingerMs`.
 * @returns The connection, reading and writing as soon as it resolves.
 * @throws {RangeError} When `port` is not an integer from 1 to 65535 (as a rejection).
 * @throws {TypeError} When another option has the wrong type, or outside Deno (as a rejection).
 * @throws {Error} "Cannot connect to host:port as the socket failed: …" with the `code`
 *   (`ECONNREFUSED`, …) and Deno's error as `cause`, or `signal.reason` (as a rejection).
 *
 * @example Connecting to a local server
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/deno";
 *
 * const listener = await listen({ port: 0 }, async ({ output }) => {
 *   await output.writeUtf8("hello");
 * });
 * const connection = await connect({ port: listener.addr.port });
 * const { buffer } = await connection.input.readAtLeast(5);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "hello");
 * await connection.close();
 * await listener.close();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { hostname, port, pool, signal, lingerMs } = checkConnect(options, "connect");
  const api = denoApi("connect");
  signal?.throwIfAborted();
  let conn: DenoConn;
  try {
    conn = await api.connect(
      signal === undefined ? { hostname, port, transport: "tcp" } : { hostname, port, transport: "tcp", signal },
    );
  } catch (error) {
    throw signal?.aborted && error === signal.reason ? error : socketError("connect to", hostname, port, error);
  }
  conn.setNoDelay?.(true);
  return open(conn, pool, lingerMs);
}

/**
 * Connects to a TLS server through Deno's TLS and completes the handshake. Deno verifies and
 * sends SNI for `hostname`; a different `serverName` is not supported.
 *
 * @param options The address, the pool, the CA certificates to trust and `lingerMs`.
 * @returns The connection, once the handshake is done.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} Outside Deno, when an option has the wrong type, or when `serverName`
 *   differs from `hostname` (as rejections).
 * @throws {Error} "Cannot connect with TLS to host:port as the socket failed: …" (a refused
 *   connection, an untrusted certificate, …) (as a rejection).
 *
 * @example Options: the CA certificates to trust besides the system's
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "@channels/channels/deno";
 *
 * // Nothing listens on port 1 here: the connect rejects, naming the address.
 * await assert.rejects(connectTls({ hostname: "127.0.0.1", port: 1, caCerts: [] }), /127\.0\.0\.1:1/);
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<Connection> {
  const what = "connect with TLS";
  const { hostname, port, pool, signal, lingerMs, caCerts, serverName } = checkConnectTls(options);
  if (serverName !== undefined && serverName !== hostname) {
    throw typeError(what, "Deno verifies the hostname itself, so serverName must equal it", serverName);
  }
  const api = denoApi(what);
  signal?.throwIfAborted();
  let conn: DenoConn | undefined;
  try {
    conn = await api.connectTls(caCerts === undefined ? { hostname, port } : { hostname, port, caCerts });
    // Deno shakes hands on the first read or write: here, so a bad certificate fails the connect.
    await conn.handshake?.();
  } catch (error) {
    try {
      conn?.close();
    } catch {
      // already closed
    }
    throw socketError("connect with TLS to", hostname, port, error);
  }
  return open(conn, pool, lingerMs);
}

/**
 * Listens for TCP connections and calls `handler` with each one, concurrently. When the
 * handler returns, its connection closes gracefully (what it wrote is sent, then FIN, then the
 * socket closes once the peer ends or `lingerMs` passed); when it throws, the connection is
 * closed at once and the error goes to `onError`.
 *
 * @param options The address (port 0 lets the system choose), the pool, `lingerMs` and `onError`.
 * @param handler Serves one connection.
 * @returns The listener; `close()` stops accepting, connections already accepted go on.
 * @throws {RangeError} When `port` is not an integer from 0 to 65535 (as a rejection).
 * @throws {TypeError} When `handler` is not a function, an option has the wrong type, or outside Deno (as a rejection).
 * @throws {Error} "Cannot listen on host:port as the socket failed: …" with the `code` (`EADDRINUSE`, …) (as a rejection).
 *
 * @example Serving lines, one connection at a time per handler call
 * ```ts
 * import assert from "node:assert/strict";
 * import { delimited, readFrames } from "@channels/channels";
 * import { connect, listen } from "@channels/channels/deno";
 *
 * const seen: string[] = [];
 * const listener = await listen({ port: 0, onError: console.error }, async ({ input }) => {
 *   for await (const line of readFrames(input, delimited())) seen.push(new TextDecoder().decode(line.toUint8Array()));
 * });
 * const connection = await connect({ port: listener.addr.port });
 * await connection.output.writeUtf8("a\nb\n");
 * connection.output.complete();
 * await connection.input.read(); // the server's end of stream, once it is done
 * await connection.close();
 * await listener.close();
 * assert.deepEqual(seen, ["a", "b"]);
 * ```
 */
export function listen(options: ListenOptions & HandlerErrorOptions, handler: ConnectionHandler): Promise<Listener> {
  try {
    const settings = checkListen(options, handler, "listen");
    const api = denoApi("listen");
    const { hostname, port } = settings;
    let listener: DenoListener;
    try {
      listener = api.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      throw socketError("listen on", hostname, port, error);
    }
    return Promise.resolve(serve(listener, settings, handler, true));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Listens for TLS connections through Deno's TLS, like {@linkcode listen}.
 *
 * @param options The address, the PEM certificate chain and key, the pool, `lingerMs` and `onError`.
 * @param handler Serves one connection.
 * @returns The listener.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} Outside Deno, or without `cert` and `key` strings (as rejections).
 * @throws {Error} "Cannot listen with TLS on host:port as the socket failed: …" for a certificate
 *   or key Deno cannot use, or an address in use (as a rejection).
 *
 * @example Options: a PEM certificate chain and key (Deno rejects what is not one)
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenTls } from "@channels/channels/deno";
 *
 * await assert.rejects(listenTls({ port: 0, cert: "not a certificate", key: "not a key" }, async () => {}));
 * ```
 */
export function listenTls(
  options: ListenTlsOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  try {
    const settings = checkListenTls(options, handler);
    const api = denoApi("listen with TLS");
    const { hostname, port, cert, key } = settings;
    let listener: DenoListener;
    try {
      listener = api.listenTls({ hostname, port, cert, key });
    } catch (error) {
      throw socketError("listen with TLS on", hostname, port, error);
    }
    return Promise.resolve(serve(listener, settings, handler, false));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A channel of a file's bytes, read with `Deno.open` / `file.read(view)` straight into pool
 * memory. The file is opened by the first `read` (or `tryRead`, `readAtLeast`), read as fast
 * as the channel's backpressure allows, and closed after its last byte, after an error, or
 * when the reader completes.
 *
 * @param path The file to read.
 * @param options Options of the channel.
 * @returns The reader; a missing file rejects the first read with `Deno.errors.NotFound`.
 *
 * @example Counting a file's bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFile } from "@channels/channels/deno";
 *
 * const reader = openFile(new URL("../../README.md", import.meta.url));
 * let total = 0;
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   total += buffer.length;
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * reader.complete();
 * assert.ok(total > 0);
 * ```
 */
export function openFile(path: string | URL, options?: FileOptions): FileReadableChannel {
  if (options === undefined) options = {};
  return openFileWith(async () => denoHandle(await denoApi("open a file").open(path, { read: true })), options);
}

/**
 * A channel whose bytes are written to a file (created, or truncated when it exists) with
 * `file.write(view)`: straight from pool memory for runs of 64 KiB or more, shorter ones
 * copied together into one staging buffer first, so a buffer of many 4 KiB blocks costs one
 * write call (Deno has no gathered write). Completing the writer closes the file;
 * `closed` settles when that is done.
 *
 * @param path The file to write.
 * @param options Options of the channel.
 * @returns The writer; an open or write failure rejects its next flush and `closed`.
 *
 * @example Writing a file from pool memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { createFile } from "@channels/channels/deno";
 *
 * const path = await Deno.makeTempFile();
 * const file = createFile(path);
 * await file.writeUtf8("written in place");
 * file.complete();
 * await file.closed;
 * assert.equal(await Deno.readTextFile(path), "written in place");
 * await Deno.remove(path);
 * ```
 */
export function createFile(path: string | URL, options?: FileOptions): FileWritableChannel {
  if (options === undefined) options = {};
  return createFileWith(
    async () => denoHandle(await denoApi("create a file").open(path, { write: true, create: true, truncate: true })),
    options,
  );
}

/** A Deno file as the file pumps see it (Deno has no gathered write: no `writev`). */
function denoHandle(file: DenoFile): FileHandleLike {
  return {
    read: async (view) => (await file.read(view)) ?? 0,
    write: (view) => file.write(view),
    close: () => {
      file.close();
      return Promise.resolve();
    },
  };
}

// ---- connections ----

function serve(listener: DenoListener, settings: ListenSettings, handler: ConnectionHandler, tcp: boolean): Listener {
  const { pool, lingerMs, onError } = settings;
  let stopped = false;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (tcp) conn.setNoDelay?.(true);
        runHandler(open(conn, pool, lingerMs), handler, onError);
      }
    } catch (error) {
      if (!stopped) onError(error);
    }
  })();
  const close = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
    }
    await accepting;
  };
  return { addr: netAddr(listener.addr.hostname, listener.addr.port), close, [Symbol.asyncDispose]: close };
}

/** A Deno connection as the shared {@linkcode SocketConnection} with a pulling driver. */
function open(conn: DenoConn, pool: MemoryPool, lingerMs: number): SocketConnection {
  const connection = new SocketConnection(pool, lingerMs);
  connection.localAddr = netAddr(conn.localAddr.hostname, conn.localAddr.port);
  connection.remoteAddr = netAddr(conn.remoteAddr.hostname, conn.remoteAddr.port);
  connection.attach(new DenoDriver(conn, connection, pool));
  return connection;
}

// The buffer of its own a connection waits for data with, so an idle connection holds no pool
// block (Deno has no zero-byte read that waits for readability). A read that fills it doubles
// it, up to MAX_IDLE_READ_BYTES (the shared idle buffer's size: see SocketConnection.received),
// so messages of the sizes a connection sees take one read (a read op costs more than copying
// 4 KiB: bench/tcp.ts round trips of 1 KiB on Deno, 512-byte buffer 23,600/s, 2 KiB 29,300/s
// in one run; bench/resp.ts GET 1 KiB with 16 in flight, replies of 16.5 KiB, ~160,000 -> ~190,000
// GETs/s with 32 KiB rather than 4 KiB, one read op a round trip instead of two); a read that
// fills the largest goes on into pool memory without a copy. A connection that never sees a
// burst past 512 bytes keeps 512; one that does keeps up to 32 KiB (Deno's own conn.readable
// allocates 64 KiB a read).
const IDLE_READ_BYTES = 512;
const MAX_IDLE_READ_BYTES = 32768;

/**
 * Deno's socket as a {@linkcode SocketDriver}. Deno reads into a caller's buffer but cannot
 * push, so the driver pulls: one `conn.read(view)` at a time into the connection's
 * `readInto` view (pool memory while bytes stream in, else the driver's own idle buffer), and
 * waits for `resume` after a read the connection answered with `false` (backpressure). Writes
 * hand pool views to `conn.write`, one call per run of blocks adjacent in memory, short runs
 * copied together first (see writeViews); Deno keeps no reference once a write resolves. `close` and `reset` both close the socket (Deno cannot send a
 * reset); the connection hears of it once the read in flight, which may hold a pool view, has
 * settled.
 */
class DenoDriver implements SocketDriver {
  readonly #conn: DenoConn;
  readonly #connection: SocketConnection;
  // Where a gathered write rents its staging span (see writeViews).
  readonly #pool: MemoryPool;
  #idle: Uint8Array | undefined;
  // The views of the buffer being written, one per run of segments adjacent in memory.
  #runs: Uint8Array[] | undefined;
  #paused = false;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #reading: Promise<void>;

  constructor(conn: DenoConn, connection: SocketConnection, pool: MemoryPool) {
    this.#conn = conn;
    this.#connection = connection;
    this.#pool = pool;
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const conn = this.#conn;
    const connection = this.#connection;
    try {
      for (;;) {
        if (this.#paused) await new Promise<void>((resolve) => (this.#wake = resolve));
        if (this.#closed) return;
        const idle = this.#idle ??= new Uint8Array(IDLE_READ_BYTES);
        const view = connection.readInto(idle);
        const n = await conn.read(view);
        if (n === null) return connection.peerEnded();
        const more = connection.received(n);
        // The idle buffer filled: the next message likely needs a larger one (copied out already).
        if (view === idle && n === idle.length && idle.length < MAX_IDLE_READ_BYTES) {
          this.#idle = new Uint8Array(idle.length * 2);
        }
        if (!more) this.#paused = true;
      }
    } catch (error) {
      // A read interrupted by our own close is no failure.
      if (!this.#closed) connection.failed(error);
    }
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  write(buffer: ReadableBuffer): Promise<void> {
    if (buffer.isSingleSegment) {
      // The usual case (a response): one op and one `then`, no async function of its own.
      const view = buffer.first;
      this.#single = view;
      return this.#conn.write(view).then(this.#wroteSingle);
    }
    return this.#writeRuns(buffer);
  }

  // What the single-view write in flight writes, and what goes on once `conn.write` took some.
  #single: Uint8Array | undefined;
  readonly #wroteSingle = (written: number): Promise<void> | undefined => {
    const view = this.#single as Uint8Array;
    this.#single = undefined;
    return written < view.length ? writeAll(this.#conn, view.subarray(written)) : undefined;
  };

  async #writeRuns(buffer: ReadableBuffer): Promise<void> {
    const runs = adjacentViews(buffer, this.#runs ??= []);
    try {
      await writeViews(this.#conn, runs, this.#pool);
    } finally {
      runs.length = 0;
    }
  }

  end(): void {
    // Half-close: the peer reads its end of stream; a failure shows in the reads.
    this.#conn.closeWrite().catch(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by Deno (a reset socket)
    }
    this.resume();
    // The read in flight settles (interrupted) before the connection hears the socket closed.
    void this.#reading.then(() => this.#connection.socketClosed());
  }

  reset(): void {
    this.close();
  }
}
