/**
 * The Deno entry point: TCP and TLS connections, files and HTTP bodies as channels.
 *
 * Deno reads into a caller's buffer (`conn.read(view)`, `file.read(view)`), so bytes go from
 * the socket or file straight into pool memory, and writes take pool views:
 *
 * | path | copies? | a pool block is held |
 * | --- | --- | --- |
 * | socket/file → `input` | none: the OS writes into pool memory | while a read waits for data (see below) and until you consume the bytes |
 * | `output` → socket | none: pool views go to `write`, one call per run of blocks adjacent in memory | until the `write` that sends it settles |
 * | `output` → file | none for runs of 64 KiB or more; shorter runs are copied together into one staging buffer (up to 256 KiB), as Deno has no gathered write | until the `write` that sends it settles |
 * | a read that will likely wait (the last one drained the socket) | one copy of up to 4 KiB from a buffer of the connection's own | none while it waits |
 *
 * Deno cannot wait for a socket to become readable without a buffer (a zero-length
 * `conn.read` returns 0 at once), so after a read that drained the socket the next read goes
 * into a buffer of the connection's own and is copied into pool memory. That buffer starts at
 * 512 bytes and doubles each time a read fills it, up to 4 KiB, so messages of the sizes a
 * connection sees take one read; a read that fills 4 KiB goes on straight into pool memory,
 * and while reads keep filling their views (bytes are streaming in) they go 64 KiB at a time
 * into oversize pool blocks. An idle connection holds no pool block (512 bytes of JavaScript
 * heap, up to 4 KiB once it saw larger messages); small messages cost one copy, bulk
 * transfers none.
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
 * connection.close();
 * await connection.closed;
 * await listener.close();
 * assert.equal(text, "hello");
 * ```
 *
 * @module
 */

import { Channel } from "../channel.ts";
import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  ConnectTlsOptions,
  HandlerErrorOptions,
  Listener,
  ListenOptions,
  ListenTlsOptions,
  NetAddr,
} from "../connection.ts";
import { typeError } from "../errors.ts";
import { MemoryPool } from "../memory_pool.ts";
import type { ReadableChannel } from "../readable_channel.ts";
import type { WritableChannel } from "../writable_channel.ts";
import { denoApi, type DenoConn, type DenoFile, type DenoListener } from "./_deno_api.ts";
import { adjacentViews } from "../readable_buffer.ts";
import { NotifyingWriter, PumpBell, socketReadView } from "./_socket.ts";
import {
  createFileWith,
  type FileHandleLike,
  type FileOptions,
  type FileReadableChannel,
  type FileWritableChannel,
  openFileWith,
  writeAll,
} from "./_files.ts";

export * from "./_common_exports.ts";
export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files.ts";

/**
 * Connects to a TCP server.
 *
 * @param options The address, the pool and an abort signal.
 * @returns The connection, reading and writing as soon as it resolves.
 * @throws {TypeError} Outside Deno, or when `port` is not a port number (as rejections).
 *
 * @example Connecting to a local server
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/deno";
 *
 * const listener = await listen({ port: 0 }, async ({ output }) => {
 *   await output.writeUtf8("hello");
 *   output.complete();
 * });
 * const connection = await connect({ port: listener.addr.port });
 * const { buffer } = await connection.input.readAtLeast(5);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "hello");
 * connection.close();
 * await connection.closed;
 * await listener.close();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { hostname, port, pool } = checkAddress("connect", options);
  const signal = options.signal;
  signal?.throwIfAborted();
  const conn = await denoApi("connect").connect(
    signal === undefined ? { hostname, port, transport: "tcp" } : { hostname, port, transport: "tcp", signal },
  );
  conn.setNoDelay?.(true);
  return new DenoConnection(conn, pool);
}

/**
 * Connects to a TLS server through Deno's TLS. Deno verifies and sends SNI for `hostname`;
 * a different `serverName` is not supported.
 *
 * @param options The address, the pool, and the CA certificates to trust.
 * @returns The connection.
 * @throws {TypeError} Outside Deno, or when `serverName` differs from `hostname` (as rejections).
 *
 * @example Options: the CA certificates to trust besides the system's
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "@channels/channels/deno";
 *
 * // Nothing listens on port 1 here: the connect rejects with Deno's error.
 * await assert.rejects(connectTls({ hostname: "127.0.0.1", port: 1, caCerts: [] }));
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<Connection> {
  const { hostname, port, pool } = checkAddress("connect", options);
  if (options.serverName !== undefined && options.serverName !== hostname) {
    throw typeError("connect", "Deno verifies the hostname itself, so serverName must equal it", options.serverName);
  }
  options.signal?.throwIfAborted();
  const conn = await denoApi("connect").connectTls(
    options.caCerts === undefined ? { hostname, port } : { hostname, port, caCerts: options.caCerts },
  );
  return new DenoConnection(conn, pool);
}

/**
 * Listens for TCP connections and calls `handler` with each one. The connection is closed
 * when the handler settles; if it throws, the error goes to `onError`.
 *
 * @param options The address (port 0 lets the system choose), the pool, and `onError`.
 * @param handler Serves one connection.
 * @returns The listener; `close()` stops accepting, connections already accepted go on.
 * @throws {TypeError} Outside Deno (as a rejection).
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
 * connection.close();
 * await listener.close();
 * assert.deepEqual(seen, ["a", "b"]);
 * ```
 */
export function listen(options: ListenOptions & HandlerErrorOptions, handler: ConnectionHandler): Promise<Listener> {
  try {
    const { hostname, port, pool } = checkAddress("listen", options);
    const listener = denoApi("listen").listen({ hostname, port, transport: "tcp" });
    return Promise.resolve(serve(listener, pool, handler, options.onError, true));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Listens for TLS connections through Deno's TLS, like {@linkcode listen}.
 *
 * @param options The address, the PEM certificate chain and key, the pool, and `onError`.
 * @param handler Serves one connection.
 * @returns The listener.
 * @throws {TypeError} Outside Deno, or without `cert` and `key` strings (as rejections).
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
    const { hostname, port, pool } = checkAddress("listen", options);
    if (typeof options.cert !== "string" || typeof options.key !== "string") {
      throw typeError("listen", "cert and key must be PEM strings", typeof options.cert);
    }
    const listener = denoApi("listen").listenTls({ hostname, port, cert: options.cert, key: options.key });
    return Promise.resolve(serve(listener, pool, handler, options.onError, false));
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

function checkAddress(
  what: string,
  options: { hostname?: string; port: number; pool?: MemoryPool },
): { hostname: string; port: number; pool: MemoryPool } {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  const { hostname = "127.0.0.1", port, pool = MemoryPool.shared } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw typeError(what, "port must be an integer from 0 to 65535", port);
  }
  if (typeof hostname !== "string") throw typeError(what, "hostname must be a string", hostname);
  if (!(pool instanceof MemoryPool)) throw typeError(what, "pool must be a MemoryPool", pool);
  return { hostname, port, pool };
}

function netAddr(addr: { hostname: string; port: number }): NetAddr {
  return Object.freeze({ hostname: addr.hostname, port: addr.port });
}

function serve(
  listener: DenoListener,
  pool: MemoryPool,
  handler: ConnectionHandler,
  onError: ((error: unknown) => void) | undefined,
  tcp: boolean,
): Listener {
  const report = onError ?? ((error: unknown) => console.error("channels: connection handler failed:", error));
  let stopped = false;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (tcp) conn.setNoDelay?.(true);
        void handle(new DenoConnection(conn, pool), handler, report);
      }
    } catch (error) {
      if (!stopped) report(error);
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
  return { addr: netAddr(listener.addr), close, [Symbol.asyncDispose]: close };
}

async function handle(
  connection: DenoConnection,
  handler: ConnectionHandler,
  report: (error: unknown) => void,
): Promise<void> {
  try {
    await handler(connection);
  } catch (error) {
    try {
      report(error);
    } catch {
      // a throwing onError must not take the listener down
    }
    connection.close();
    return;
  }
  // The handler is done: what it wrote still goes out (then FIN), and only then the socket closes.
  await connection.finish();
  connection.close();
}

// Bytes a socket read asks for at least: a write head with less left gets a fresh block. Once
// a read filled its view, the next asks for a 64 KiB bulk block (see socketReadView).
const SOCKET_READ_HINT = 1024;
// The buffer of its own a connection waits for data with, so an idle connection holds no pool
// block (Deno has no zero-byte read that waits for readability). A read that fills it doubles
// it, up to MAX_IDLE_READ_BYTES, so messages of the sizes a connection sees take one read (a
// read op costs more than copying 4 KiB: bench/tcp.ts round trips of 1 KiB on Deno, 512-byte
// buffer 23,600/s, 2 KiB 29,300/s in one run); a read that fills the largest goes on into pool
// memory without a copy.
const IDLE_READ_BYTES = 512;
const MAX_IDLE_READ_BYTES = 4096;

/**
 * A Deno connection as two channels and two pumps:
 *
 * ```
 * conn.read(view) ──► #inbound.writer ··· #inbound.reader = input   (you read)
 * output = #outbound.writer ··· #outbound.reader ──► conn.write(view)
 * ```
 *
 * The pumps own the transport's sides (`#inbound.writer`, `#outbound.reader`); `close()`
 * completes yours as well, so every block comes back.
 */
class DenoConnection implements Connection {
  readonly input: ReadableChannel;
  readonly output: WritableChannel;
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  readonly closed: Promise<void>;

  readonly #conn: DenoConn;
  readonly #inbound: Channel;
  readonly #outbound: Channel;
  // Set by close(): pumps end quietly (the errors they see are the socket being closed).
  #closing = false;
  #connClosed = false;
  #closed = false; // close() was called
  readonly #sent: Promise<void>; // the out pump: settles when output is sent (or failed)
  // What a read that will likely wait goes into instead of pool memory: IDLE_READ_BYTES at
  // first, doubled by each read that fills it, up to MAX_IDLE_READ_BYTES.
  #idle: Uint8Array | undefined;
  // Wakes the out pump parked until a flush (see NotifyingWriter).
  readonly #bell = new PumpBell();

  constructor(conn: DenoConn, pool: MemoryPool) {
    this.#conn = conn;
    this.#inbound = new Channel({ pool });
    this.#outbound = new Channel({ pool });
    this.input = this.#inbound.reader;
    this.output = new NotifyingWriter(this.#outbound.writer, this.#bell);
    this.localAddr = netAddr(conn.localAddr);
    this.remoteAddr = netAddr(conn.remoteAddr);
    this.#sent = this.#pumpOut();
    this.closed = Promise.all([this.#pumpIn(), this.#sent]).then(() => this.#closeConn());
  }

  /** Completes `output` and settles once the out pump sent everything (or failed). */
  finish(): Promise<void> {
    this.output.complete(); // wakes the out pump
    return this.#sent;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = this.#closing = true;
    this.#closeConn();
    // Your sides first: a pending read of `input` rejects (READER_COMPLETED) instead of seeing
    // bytes released under it; a pending flush of `output` resolves with isCompleted.
    this.#inbound.reader.complete();
    this.#outbound.writer.complete();
    // Wake the pumps wherever they wait (a flush, a park).
    this.#inbound.writer.cancelPendingFlush();
    this.#bell.ring();
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by Deno (a reset socket)
    }
  }

  /** Socket → channel, straight into pool memory (see the module doc for idle reads). */
  async #pumpIn(): Promise<void> {
    const conn = this.#conn;
    const writer = this.#inbound.writer;
    const pool = this.#inbound.pool;
    let drained = true;
    // The last read into pool memory filled its view: bytes are streaming in, read in bulk.
    let bulk = false;
    try {
      for (;;) {
        let n: number | null;
        if (drained) {
          // The last read drained the socket, so this one will likely wait: wait with a small
          // buffer of our own instead of a pool block, and copy what came (the one copy).
          const scratch = this.#idle ??= new Uint8Array(IDLE_READ_BYTES);
          n = await conn.read(scratch);
          if (n === null || this.#closing) break;
          writer.getMemory(n).set(n === scratch.length ? scratch : scratch.subarray(0, n));
          writer.advance(n);
          bulk = false;
          if (n === scratch.length) {
            // Filled: more is likely there. Below the cap, read it into a larger buffer of our
            // own (the next wait then holds no pool block either); at the cap, into pool memory.
            if (scratch.length < MAX_IDLE_READ_BYTES) this.#idle = new Uint8Array(scratch.length * 2);
            else drained = false;
          }
        } else {
          // Zero copy: the OS writes into pool memory.
          const view = socketReadView(writer, pool, bulk, SOCKET_READ_HINT);
          n = await conn.read(view);
          if (n === null || this.#closing) break;
          writer.advance(n);
          drained = n < view.length;
          bulk = !drained;
        }
        // Backpressure: while the reader lags, the socket is not read (the peer's sends block).
        const { isCompleted } = await writer.flush();
        if (isCompleted || this.#closing) break;
      }
      writer.complete();
    } catch (error) {
      writer.complete(this.#closing ? undefined : error);
    }
  }

  /** Channel → socket, pool views handed to `conn.write`. */
  async #pumpOut(): Promise<void> {
    const conn = this.#conn;
    const reader = this.#outbound.reader;
    const runs: Uint8Array[] = [];
    let sending = false;
    try {
      for (;;) {
        if (this.#closing) break;
        const result = reader.tryRead();
        if (result === undefined) {
          // Nothing flushed: park until a flush, a completion or close() rings.
          await this.#bell.wait();
          continue;
        }
        const { buffer, isCompleted } = result;
        sending = true;
        // Zero copy, one write per run of segments adjacent in memory; Deno keeps no reference
        // once write() resolves, so the blocks are ours again.
        for (const view of adjacentViews(buffer, runs)) await writeAll(conn, view);
        runs.length = 0;
        sending = false;
        reader.advanceTo(buffer.length);
        if (isCompleted) {
          reader.complete();
          await conn.closeWrite(); // half-close: the peer reads its end of stream
          return;
        }
      }
      reader.complete();
    } catch (error) {
      if (this.#closing) {
        reader.complete();
      } else if (sending) {
        // The socket failed: your next flush rejects with its error; reading finds out alone.
        reader.complete(error);
      } else {
        // `output` completed with an error: abort the connection.
        reader.complete(error);
        this.#abort();
      }
    }
  }

  /** Closes the socket under the pumps; `input` ends without an error. */
  #abort(): void {
    this.#closing = true;
    this.#closeConn();
    this.#inbound.writer.cancelPendingFlush();
  }
}
