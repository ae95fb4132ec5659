/**
 * TCP and TLS connections as channels over Bun's native sockets (`Bun.connect`,
 * `Bun.listen`), the fastest socket API Bun has.
 *
 * | path | reads | writes |
 * | --- | --- | --- |
 * | {@linkcode connect} / {@linkcode listen} | one copy of each `data` chunk into pool memory | pool views, no copy |
 * | {@linkcode connectTls} / {@linkcode listenTls} | one copy of each decrypted chunk | pool views, encrypted by Bun |
 *
 * Bun hands every chunk it reads to the `data` handler as a fresh buffer (it cannot read into
 * caller memory), so each chunk is copied once; nothing is rented while a connection waits
 * for bytes. `socket.write(view)` sends synchronously and returns how many bytes went out
 * (blocks adjacent in memory go as one view, so one `write`); the rest is written from the
 * `drain` handler, and blocks go back to the pool once every byte was taken.
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
 * conn.input.complete();
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
import { typeError } from "../errors.ts";
import type { MemoryPool } from "../memory_pool.ts";
import { adjacentViews, type ReadableBuffer } from "../readable_buffer.ts";
import { hostnameOf, netAddr, poolOf, portOf, runHandler, SocketConnection, type SocketDriver } from "./_socket.ts";

export * from "./_common_exports.ts";

/**
 * Opens a TCP connection with `Bun.connect`.
 *
 * @param options Host, port, pool and an abort signal.
 * @returns The connection, once connected.
 * @throws {RangeError} When `port` is not an integer from 1 to 65535 (as a rejection).
 * @throws {TypeError} When not running on Bun (as a rejection).
 * @throws {Error} Bun's connection error (`ECONNREFUSED`, …), or `signal.reason` (as a rejection).
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
  return await open(options, undefined, "connect");
}

/**
 * Opens a TLS connection with Bun's own TLS.
 *
 * @param options Those of {@linkcode connect}, plus extra CA certificates and the server name.
 * @returns The connection, once the handshake is done.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {Error} Bun's connection or certificate error (as a rejection).
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
  const what = "connect with TLS";
  const { caCerts, serverName } = options;
  if (caCerts !== undefined && (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))) {
    throw typeError(what, "caCerts must be an array of PEM strings", caCerts);
  }
  const tls: BunTlsOptions = {};
  if (caCerts !== undefined) tls.ca = [...rootCertificates, ...caCerts];
  if (serverName !== undefined) tls.serverName = serverName;
  return await open(options, tls, what);
}

/**
 * Listens for TCP connections with `Bun.listen` and calls `handler` for each, concurrently.
 * The connection is closed when the handler settles: what it wrote is sent, then FIN. A
 * handler that throws has its connection closed and the error goes to `options.onError`
 * (else `console.error`).
 *
 * @param options Address, port (0 lets the system choose), pool and `onError`.
 * @param handler Serves one connection.
 * @returns The listener.
 * @throws {RangeError} When `port` is not an integer from 0 to 65535 (as a rejection).
 * @throws {TypeError} When not running on Bun (as a rejection).
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
  return await serve(options, handler, undefined, "listen");
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
  const what = "listen with TLS";
  if (typeof options?.cert !== "string") throw typeError(what, "cert must be a PEM string", options?.cert);
  if (typeof options.key !== "string") throw typeError(what, "key must be a PEM string", options.key);
  return await serve(options, handler, { cert: options.cert, key: options.key }, what);
}

// ---- Bun's socket API, as far as we use it (our own types: no `Bun` in public signatures) ----

interface BunSocket {
  data: SocketState;
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
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunTlsOptions {
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
  data?: SocketState;
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
 * One socket's state: the connection, the views a partial write left for `drain`, and the
 * half-close flags (Bun closes a half-open socket only when told to).
 */
class SocketState implements SocketDriver {
  readonly connection: SocketConnection;
  socket: BunSocket | undefined;
  #views: Uint8Array[] = [];
  #viewIndex = 0;
  // The views of the buffer being written (segments adjacent in memory joined: one `write`).
  readonly #runs: Uint8Array[] = [];
  #resolve: (() => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #writeEnded = false;
  #peerEnded = false;
  #closed = false;

  constructor(pool: MemoryPool) {
    this.connection = new SocketConnection(pool);
  }

  /** Bun's `open`: the socket is usable. */
  opened(socket: BunSocket): void {
    this.socket = socket;
    this.connection.localAddr = netAddr(socket.localAddress, socket.localPort);
    this.connection.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    this.connection.attach(this);
  }

  pause(): void {
    if (!this.#closed) this.socket?.pause();
  }

  resume(): void {
    if (!this.#closed) this.socket?.resume();
  }

  write(buffer: ReadableBuffer): Promise<void> | undefined {
    const socket = this.socket as BunSocket;
    const views = adjacentViews(buffer, this.#runs);
    let left: Uint8Array[] | undefined;
    let closed = false;
    for (const view of views) {
      if (left !== undefined) {
        left.push(view);
        continue;
      }
      const written = socket.write(view);
      if (written === view.length) continue;
      if (written < 0 || this.#closed) {
        closed = true;
        break;
      }
      // Bun took part of the view (or none): the rest goes out from `drain`.
      left = this.#views;
      left.push(written === 0 ? view : view.subarray(written));
    }
    views.length = 0;
    if (closed) return Promise.reject(closedError());
    if (left === undefined) return undefined;
    this.#viewIndex = 0;
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Bun's `drain`: the socket can take more. */
  drained(): void {
    const views = this.#views;
    if (this.#resolve === undefined) return;
    const socket = this.socket as BunSocket;
    while (this.#viewIndex < views.length) {
      const view = views[this.#viewIndex] as Uint8Array;
      const written = socket.write(view);
      if (written === view.length) {
        this.#viewIndex++;
        continue;
      }
      if (written < 0) return this.#settleWrite(closedError());
      if (written > 0) views[this.#viewIndex] = view.subarray(written);
      return;
    }
    this.#settleWrite(undefined);
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

  end(): void {
    this.#writeEnded = true;
    if (this.#closed) return;
    if (this.#peerEnded) this.socket?.end();
    else this.socket?.shutdown();
  }

  /** Bun's `end`: the peer sent FIN. */
  peerEnded(): void {
    this.#peerEnded = true;
    this.connection.peerEnded();
    if (this.#writeEnded && !this.#closed) this.socket?.end();
  }

  destroy(error?: unknown): void {
    if (this.#closed) return;
    if (error === undefined) this.socket?.end();
    else this.socket?.terminate();
  }

  /** Bun's `close`. */
  closed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
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
    socket.data.peerEnded();
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
};

async function open(
  options: ConnectOptions,
  tls: BunTlsOptions | undefined,
  what: string,
): Promise<Connection> {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  const hostname = hostnameOf(options.hostname, what);
  const port = portOf(options.port, 1, what);
  const pool = poolOf(options.pool, what);
  const signal = options.signal;
  const api = bun(what);
  signal?.throwIfAborted();
  const state = new SocketState(pool);
  const socketOptions: BunSocketOptions = { hostname, port, allowHalfOpen: true, socket: handlers, data: state };
  if (tls !== undefined) socketOptions.tls = tls;
  const connecting = api.connect(socketOptions);
  if (signal === undefined) {
    await connecting;
    return state.connection;
  }
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([connecting, aborted]);
    return state.connection;
  } catch (error) {
    // Aborted: a socket that connects after all is closed at once.
    connecting.then((socket) => socket.terminate(), () => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function serve(
  options: ListenOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
  tls: BunTlsOptions | undefined,
  what: string,
): Promise<Listener> {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  if (typeof handler !== "function") throw typeError(what, "handler must be a function", handler);
  const hostname = hostnameOf(options.hostname, what);
  const port = portOf(options.port, 0, what);
  const pool = poolOf(options.pool, what);
  const onError = options.onError;
  const api = bun(what);
  // Listening sockets share one handler object; each accepted socket gets its state in `open`.
  const listenHandlers: BunSocketHandler = {
    ...handlers,
    open(socket) {
      const state = new SocketState(pool);
      socket.data = state;
      state.opened(socket);
      runHandler(state.connection, handler, onError);
    },
  };
  const listenOptions: BunSocketOptions = { hostname, port, allowHalfOpen: true, socket: listenHandlers };
  if (tls !== undefined) listenOptions.tls = tls;
  await Promise.resolve();
  return new BunListenerHandle(api.listen(listenOptions));
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
