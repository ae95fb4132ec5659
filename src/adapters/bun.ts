/**
 * TCP and TLS connections as channels over Bun's native sockets (`Bun.connect`,
 * `Bun.listen`), the fastest socket API Bun has.
 *
 * | path | reads | writes |
 * | --- | --- | --- |
 * | {@linkcode connect} / {@linkcode listen} | one copy of each `data` chunk into pool memory | pool views, no copy; runs of up to 8 KiB apart in memory copied together into one write |
 * | {@linkcode connectTls} / {@linkcode listenTls} | one copy of each decrypted chunk | as TCP, encrypted by Bun |
 *
 * Bun hands every chunk it reads to the `data` handler as a fresh buffer (it cannot read into
 * caller memory), so each chunk is copied once; nothing is rented while a connection waits
 * for bytes. `socket.write(view)` sends synchronously and returns how many bytes went out
 * (blocks adjacent in memory go as one view, so one `write`); the rest is written from the
 * `drain` handler, and blocks go back to the pool once every byte was taken. Each `write` is a
 * send call of its own (Bun has no writev or cork), so short runs apart in memory are copied
 * into one staging array and sent together (bench/socket_writes.ts).
 *
 * Ends (see {@linkcode Connection}): `close()` and a handler that returns send every byte, then
 * FIN (`shutdown()`), then close the socket (`end()`) once the peer ended or `lingerMs` passed;
 * `abort()` and a handler that throws reset it (`terminate()`: SO_LINGER 0, the peer sees
 * `ECONNRESET`), for TLS too.
 *
 * @example Echo over loopback
 * ```ts ignore
 * import { connect, listen } from "@channels/channels/bun";
 *
 * const listener = await listen({ port: 0 }, async (conn) => {
 *   for (;;) {
 *     const { buffer, isCompleted } = await conn.input.read();
 *     for (const view of buffer) await conn.output.write(view);
 *     conn.input.advanceTo(buffer.length);
 *     if (isCompleted) break;
 *   }
 * });
 * const conn = await connect({ port: listener.addr.port });
 * await conn.output.writeUtf8("ping");
 * conn.output.complete();
 * const { buffer } = await conn.input.readAtLeast(4);
 * console.log(new TextDecoder().decode(buffer.toUint8Array())); // "ping"
 * conn.input.advanceTo(buffer.length);
 * await conn.close();
 * await listener.close();
 * ```
 *
 * @module
 */

import { rootCertificates } from "node:tls";
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
import { socketError, typeError } from "../errors.ts";
import type { MemoryPool } from "../memory_pool.ts";
import { adjacentViews, type ReadableBuffer } from "../readable_buffer.ts";
import {
  checkConnect,
  checkConnectTls,
  checkListen,
  checkListenTls,
  type ConnectSettings,
  type ListenSettings,
} from "./_options.ts";
import { SEND_CLOSED, sendViews } from "./_gather.ts";
import { netAddr, runHandler, SocketConnection, type SocketDriver } from "./_socket.ts";

export * from "./_common_exports.ts";

/**
 * Opens a TCP connection with `Bun.connect`.
 *
 * @param options Host, port, pool, an abort signal and `lingerMs`.
 * @returns The connection, once connected.
 * @throws {RangeError} When `port` is not an integer from 1 to 65535 (as a rejection).
 * @throws {TypeError} When another option has the wrong type, or when not running on Bun (as a rejection).
 * @throws {Error} "Cannot connect to host:port as the socket failed: …" with Bun's `code`
 *   (`ECONNREFUSED`, …), or `signal.reason` (as a rejection).
 *
 * @example Options are checked before Bun is asked (the module example shows a whole echo)
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@channels/channels/bun";
 *
 * await assert.rejects(connect({ hostname: "127.0.0.1", port: 70000 }), RangeError);
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  return await open(checkConnect(options, "connect"), undefined, "connect to");
}

/**
 * Opens a TLS connection with Bun's own TLS.
 *
 * @param options Those of {@linkcode connect}, plus extra CA certificates and the server name.
 * @returns The connection, once the handshake is done.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} When `caCerts` is not an array of strings, or another option has the wrong type (as a rejection).
 * @throws {Error} "Cannot connect with TLS to host:port as the socket failed: …" (a refused
 *   connection, an untrusted certificate, …) (as a rejection).
 *
 * @example Options: CA certificates and the server name to verify
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "@channels/channels/bun";
 *
 * await assert.rejects(connectTls({ port: 0, caCerts: [], serverName: "localhost" }), RangeError);
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<Connection> {
  const settings = checkConnectTls(options);
  // Verify the server, as Node and Deno do (Bun's default would not).
  const tls: BunTlsOptions = { rejectUnauthorized: true };
  if (settings.caCerts !== undefined) tls.ca = [...rootCertificates, ...settings.caCerts];
  if (settings.serverName !== undefined) tls.serverName = settings.serverName;
  return await open(settings, tls, "connect with TLS to");
}

/**
 * Listens for TCP connections with `Bun.listen` and calls `handler` for each, concurrently.
 * When the handler returns, its connection closes gracefully (what it wrote is sent, then FIN,
 * then the socket closes once the peer ends or `lingerMs` passed); when it throws, the
 * connection is reset and the error goes to `options.onError` (else `console.error`).
 *
 * @param options Address, port (0 lets the system choose), pool, `lingerMs` and `onError`.
 * @param handler Serves one connection.
 * @returns The listener.
 * @throws {RangeError} When `port` is not an integer from 0 to 65535 (as a rejection).
 * @throws {TypeError} When `handler` is not a function, an option has the wrong type, or not running on Bun (as a rejection).
 * @throws {Error} "Cannot listen on host:port as the socket failed: …" with Bun's `code` (`EADDRINUSE`, …) (as a rejection).
 *
 * @example Options: the address, the pool, and where handler errors go
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@channels/channels/bun";
 *
 * await assert.rejects(listen({ port: -1, onError: console.error }, async () => {}), RangeError);
 * ```
 */
export async function listen(
  options: ListenOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  return await serve(checkListen(options, handler, "listen"), handler, undefined, "listen on");
}

/**
 * Listens for TLS connections with Bun's own TLS; otherwise as {@linkcode listen}.
 *
 * @param options Those of {@linkcode listen}, plus the PEM certificate chain and key.
 * @param handler Serves one connection.
 * @returns The listener.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} When `cert` or `key` is not a string (as a rejection).
 *
 * @example Options: the address, a PEM certificate chain and key
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenTls } from "@channels/channels/bun";
 *
 * await assert.rejects(listenTls({ port: -1, cert: "", key: "" }, async () => {}), RangeError);
 * ```
 */
export async function listenTls(
  options: ListenTlsOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  const settings = checkListenTls(options, handler);
  return await serve(settings, handler, { cert: settings.cert, key: settings.key }, "listen with TLS on");
}

// ---- Bun's socket API, as far as we use it (our own types: no `Bun` in public signatures) ----

interface BunSocket {
  data: BunDriver;
  write(data: Uint8Array): number;
  end(): void;
  shutdown(halfClose?: boolean): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

interface BunSocketHandler {
  binaryType: "uint8array";
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunTlsOptions {
  rejectUnauthorized?: boolean;
  ca?: string[];
  serverName?: string;
  cert?: string;
  key?: string;
}

interface BunSocketOptions {
  hostname: string;
  port: number;
  allowHalfOpen: boolean;
  socket: BunSocketHandler;
  data?: BunDriver;
  tls?: BunTlsOptions;
}

interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  connect(options: BunSocketOptions): Promise<BunSocket>;
  listen(options: BunSocketOptions): BunListener;
}

function bun(what: string): BunApi {
  const api = (globalThis as { Bun?: BunApi }).Bun;
  if (api === undefined) throw typeError(what, "it needs Bun's native sockets", "another runtime");
  return api;
}

// ---- internals ----

/**
 * One socket's driver: writes pool views (the views a partial write left go out from
 * `drain`), shuts down, closes and resets the socket, and reports Bun's events to the
 * connection.
 */
class BunDriver implements SocketDriver {
  readonly connection: SocketConnection;
  socket: BunSocket | undefined;
  // The runs of the buffer being written (segments adjacent in memory joined), and the first
  // one Bun has not taken whole while a write waits for `drain`.
  readonly #views: Uint8Array[] = [];
  #viewIndex = 0;
  #resolve: (() => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #closed = false;
  // A TLS client's handshake: Bun.connect resolves before it is done.
  #handshake: { resolve(): void; reject(error: unknown): void } | undefined;

  constructor(pool: MemoryPool, lingerMs: number) {
    this.connection = new SocketConnection(pool, lingerMs);
  }

  /** Settles when Bun's `handshake` callback (or `close`) comes. */
  handshaken(): Promise<void> {
    return new Promise<void>((resolve, reject) => (this.#handshake = { resolve, reject }));
  }

  /** Bun's `handshake`. */
  handshook(success: boolean, authorizationError: Error | null): void {
    const handshake = this.#handshake;
    this.#handshake = undefined;
    if (success && authorizationError === null) handshake?.resolve();
    else handshake?.reject(authorizationError ?? new Error("The TLS handshake failed"));
  }

  /** Bun's `open`: the socket is usable. */
  opened(socket: BunSocket): void {
    this.socket = socket;
    this.connection.localAddr = netAddr(socket.localAddress, socket.localPort);
    this.connection.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    this.connection.attach(this);
  }

  resume(): void {
    if (!this.#closed) this.socket?.resume();
  }

  write(buffer: ReadableBuffer): Promise<void> | undefined {
    const views = adjacentViews(buffer, this.#views);
    const next = sendViews(this.socket as BunSocket, views, 0);
    if (next === views.length) {
      views.length = 0;
      return undefined;
    }
    if (next === SEND_CLOSED || this.#closed) {
      views.length = 0;
      return Promise.reject(closedError());
    }
    // Bun took part of the buffer: the rest goes out from `drain`.
    this.#viewIndex = next;
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Bun's `drain`: the socket can take more. */
  drained(): void {
    if (this.#resolve === undefined) return;
    const views = this.#views;
    const next = sendViews(this.socket as BunSocket, views, this.#viewIndex);
    if (next === SEND_CLOSED) this.#settleWrite(closedError());
    else if (next === views.length) this.#settleWrite(undefined);
    else this.#viewIndex = next;
  }

  #settleWrite(error: unknown): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    this.#resolve = this.#reject = undefined;
    this.#views.length = 0;
    this.#viewIndex = 0;
    if (error === undefined) resolve?.();
    else reject?.(error);
  }

  /** FIN; the socket stays open for reading (`allowHalfOpen`). */
  end(): void {
    if (!this.#closed) this.socket?.shutdown();
  }

  /** Bun closes a half-open socket only when told to. */
  close(): void {
    if (!this.#closed) this.socket?.end();
  }

  reset(): void {
    if (!this.#closed) this.socket?.terminate();
  }

  /** Bun's `close`. */
  closed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handshake?.reject(error ?? closedError());
    this.#settleWrite(error ?? closedError());
    this.connection.socketClosed(error);
  }
}

function closedError(): Error {
  return Object.assign(new Error("Cannot write to the socket as it is closed"), { code: "ERR_SOCKET_CLOSED" });
}

const handlers: BunSocketHandler = {
  binaryType: "uint8array",
  open(socket) {
    socket.data.opened(socket);
  },
  data(socket, data) {
    // The one copy: Bun reads into a buffer of its own.
    if (!socket.data.connection.receivedCopy(data)) socket.pause();
  },
  drain(socket) {
    socket.data.drained();
  },
  end(socket) {
    socket.data.connection.peerEnded();
  },
  close(socket, error) {
    socket.data.closed(error);
  },
  error(socket, error) {
    socket.data.connection.failed(error);
  },
  connectError() {
    // `Bun.connect` rejects with the error; nothing was opened.
  },
  handshake(socket, success, authorizationError) {
    socket.data.handshook(success, authorizationError);
  },
};

async function open(settings: ConnectSettings, tls: BunTlsOptions | undefined, what: string): Promise<Connection> {
  const { hostname, port, pool, signal, lingerMs } = settings;
  const api = bun(what === "connect to" ? "connect" : "connect with TLS");
  signal?.throwIfAborted();
  const driver = new BunDriver(pool, lingerMs);
  const socketOptions: BunSocketOptions = { hostname, port, allowHalfOpen: true, socket: handlers, data: driver };
  if (tls !== undefined) socketOptions.tls = tls;
  const handshaken = tls === undefined ? undefined : driver.handshaken();
  handshaken?.catch(() => {}); // awaited below, unless the connect fails first
  const connecting = api.connect(socketOptions).then(async (socket) => {
    await handshaken;
    return socket;
  });
  let onAbort: (() => void) | undefined;
  const aborted = signal === undefined ? undefined : new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await (aborted === undefined ? connecting : Promise.race([connecting, aborted]));
    return driver.connection;
  } catch (error) {
    driver.reset(); // opened, but the handshake failed
    driver.connection.discard(error);
    if (signal?.aborted && error === signal.reason) {
      // Aborted: a socket that connects after all is closed at once.
      connecting.then((socket) => socket.terminate(), () => {});
      throw error;
    }
    throw socketError(what, hostname, port, error);
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

async function serve(
  settings: ListenSettings,
  handler: ConnectionHandler,
  tls: BunTlsOptions | undefined,
  what: string,
): Promise<Listener> {
  const { hostname, port, pool, lingerMs, onError } = settings;
  const api = bun(what === "listen on" ? "listen" : "listen with TLS");
  // Listening sockets share one handler object; each accepted socket gets its driver in `open`.
  const listenHandlers: BunSocketHandler = {
    ...handlers,
    open(socket) {
      const driver = new BunDriver(pool, lingerMs);
      socket.data = driver;
      driver.opened(socket);
      runHandler(driver.connection, handler, onError);
    },
  };
  const listenOptions: BunSocketOptions = { hostname, port, allowHalfOpen: true, socket: listenHandlers };
  if (tls !== undefined) listenOptions.tls = tls;
  await Promise.resolve();
  let listener: BunListener;
  try {
    listener = api.listen(listenOptions);
  } catch (error) {
    throw socketError(what, hostname, port, error);
  }
  return new BunListenerHandle(listener);
}

/** A `Bun.listen` listener as a {@linkcode Listener}. */
class BunListenerHandle implements Listener {
  readonly addr: NetAddr;
  readonly #listener: BunListener;
  #stopped = false;

  constructor(listener: BunListener) {
    this.#listener = listener;
    this.addr = netAddr(listener.hostname, listener.port);
  }

  close(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#listener.stop(false);
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export { createFile, openFile } from "./_files_node.ts";
export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files_node.ts";
