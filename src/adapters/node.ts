/**
 * TCP and TLS connections as channels over `node:net` and `node:tls` (Node 20+; also runs on
 * Bun's and Deno's `node:net`).
 *
 * | path | reads | writes |
 * | --- | --- | --- |
 * | {@linkcode connect} (client socket) | while bytes stream in, straight into pool memory (`onread`), no copy; other reads (small messages) one copy out of a shared 4 KiB buffer | pool views, no copy |
 * | {@linkcode listen} (accepted socket) | one copy of each `data` chunk into pool memory | pool views, no copy |
 * | {@linkcode connectTls} / {@linkcode listenTls} | one copy of each decrypted chunk | pool views, encrypted by Node |
 *
 * Writes: blocks adjacent in memory go as one view, several views as one `writev`. Node
 * keeps a reference to a written view until the kernel took all of it, so output blocks stay
 * rented until then (most writes are taken at once). Idle memory: an accepted socket rents
 * nothing until bytes arrive; a client socket lends Node the shared 4 KiB idle buffer (one for
 * the process), since `onread` needs its buffer before the socket is readable, and copies each
 * read out of it. While its reads keep filling their views (bytes are streaming in), it reads
 * into pool memory instead, a 64 KiB oversize block when the pool has few out, so one read
 * moves up to 64 KiB with no copy; a socket that goes idle right after such a read holds
 * that block until its next read (at most 16 oversize blocks are out per pool: others read
 * into regular blocks).
 *
 * @example Echo over loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/node";
 *
 * const listener = await listen({ port: 0 }, async (conn) => {
 *   for (;;) {
 *     const { buffer, isCompleted } = await conn.input.read();
 *     for (const view of buffer) conn.output.getMemory(view.length).set(view), conn.output.advance(view.length);
 *     conn.input.advanceTo(buffer.length);
 *     await conn.output.flush();
 *     if (isCompleted) break;
 *   }
 * });
 * const conn = await connect({ port: listener.addr.port });
 * await conn.output.writeUtf8("ping");
 * conn.output.complete();
 * const { buffer } = await conn.input.readAtLeast(4);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "ping");
 * conn.input.advanceTo(buffer.length);
 * conn.input.complete();
 * await conn.closed;
 * await listener.close();
 * ```
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
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
import { adjacentViews, type ReadableBuffer } from "../readable_buffer.ts";
import { hostnameOf, netAddr, poolOf, portOf, runHandler, SocketConnection, type SocketDriver } from "./_socket.ts";

export * from "./_common_exports.ts";

/**
 * Opens a TCP connection. Bytes from the peer are read by Node straight into pool memory.
 *
 * @param options Host, port, pool and an abort signal.
 * @returns The connection, once connected.
 * @throws {RangeError} When `port` is not an integer from 1 to 65535 (as a rejection).
 * @throws {Error} Node's connection error (`ECONNREFUSED`, …), or `signal.reason` (as a rejection).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@channels/channels/node";
 *
 * await assert.rejects(connect({ port: 70000 }), RangeError);
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const { hostname, port, pool, signal } = checkConnect(options, "connect");
  signal?.throwIfAborted();
  const connection = new SocketConnection(pool);
  // `onread` makes Node read into our view instead of allocating: one view per read, asked
  // for after each read; returning false stops reading until `resume()`.
  const socket = net.connect({
    host: hostname,
    port,
    allowHalfOpen: true,
    onread: {
      buffer: () => connection.readInto(),
      callback: (byteCount: number) => connection.received(byteCount),
    },
  });
  return await opened(socket, connection, signal, "connect");
}

/**
 * Opens a TLS connection with Node's own TLS (`node:tls`). Decrypted bytes are copied once
 * into pool memory.
 *
 * @param options Those of {@linkcode connect}, plus extra CA certificates and the server name.
 * @returns The connection, once the handshake is done.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {Error} Node's connection or certificate error (as a rejection).
 *
 * @example Options: CA certificates and the server name to verify
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "@channels/channels/node";
 *
 * // Nothing listens on port 1 here: the connect rejects with Node's ECONNREFUSED.
 * await assert.rejects(connectTls({ hostname: "127.0.0.1", port: 1, caCerts: [], serverName: "localhost" }));
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<Connection> {
  const { hostname, port, pool, signal } = checkConnect(options, "connect with TLS");
  const { caCerts, serverName } = options;
  if (caCerts !== undefined && (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))) {
    throw typeError("connect with TLS", "caCerts must be an array of PEM strings", caCerts);
  }
  signal?.throwIfAborted();
  const connection = new SocketConnection(pool);
  const socket = tls.connect({
    host: hostname,
    port,
    servername: serverName ?? (net.isIP(hostname) === 0 ? hostname : undefined),
    allowHalfOpen: true,
    ...(caCerts !== undefined ? { ca: [...tls.rootCertificates, ...caCerts] } : {}),
  } as tls.ConnectionOptions);
  socket.on("data", (chunk: Uint8Array) => {
    if (!connection.receivedCopy(chunk)) socket.pause();
  });
  return await opened(socket, connection, signal, "connect with TLS");
}

/**
 * Listens for TCP connections and calls `handler` for each, concurrently. The connection is
 * closed when the handler settles: what it wrote is sent, then FIN. A handler that throws has
 * its connection destroyed and the error goes to `options.onError` (else `console.error`).
 *
 * Accepted sockets cannot read into caller memory in Node (`onread` applies to client sockets
 * only), so each chunk Node reads is copied once into pool memory; nothing is rented while a
 * connection waits for bytes.
 *
 * @param options Address, port (0 lets the system choose), pool and `onError`.
 * @param handler Serves one connection.
 * @returns The listener, once listening.
 * @throws {RangeError} When `port` is not an integer from 0 to 65535 (as a rejection).
 *
 * @example A server that answers each connection and closes it
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, listen } from "@channels/channels/node";
 *
 * const listener = await listen({ port: 0, onError: console.error }, async ({ output }) => {
 *   await output.writeUtf8("hi");
 * });
 * const connection = await connect({ port: listener.addr.port });
 * const { buffer } = await connection.input.readAtLeast(2);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "hi");
 * connection.close();
 * await connection.closed;
 * await listener.close();
 * ```
 */
export async function listen(
  options: ListenOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  const { hostname, port, pool, onError } = checkListen(options, handler, "listen");
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    serve(socket, new SocketConnection(pool), handler, onError);
  });
  return await listening(server, hostname, port);
}

/**
 * Listens for TLS connections with Node's own TLS (`node:tls`); otherwise as {@linkcode listen}.
 *
 * @param options Those of {@linkcode listen}, plus the PEM certificate chain and key.
 * @param handler Serves one connection.
 * @returns The listener, once listening.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} When `cert` or `key` is not a string (as a rejection).
 *
 * @example Options: the address, a PEM certificate chain and key
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenTls } from "@channels/channels/node";
 *
 * // Certificates usually come from files: { cert: await readFile("cert.pem", "utf8"), key: … }.
 * await assert.rejects(listenTls({ port: -1, cert: "", key: "" }, async () => {}), RangeError);
 * ```
 */
export async function listenTls(
  options: ListenTlsOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  const { hostname, port, pool, onError } = checkListen(options, handler, "listen with TLS");
  if (typeof options.cert !== "string") throw typeError("listen with TLS", "cert must be a PEM string", options.cert);
  if (typeof options.key !== "string") throw typeError("listen with TLS", "key must be a PEM string", options.key);
  const server = tls.createServer({ cert: options.cert, key: options.key, allowHalfOpen: true });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    serve(socket, new SocketConnection(pool), handler, onError);
  });
  // A failed handshake is the client's problem; without a listener it would throw.
  server.on("tlsClientError", () => {});
  return await listening(server, hostname, port);
}

// ---- internals ----

function checkConnect(options: ConnectOptions, what: string) {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  return {
    hostname: hostnameOf(options.hostname, what),
    port: portOf(options.port, 1, what),
    pool: poolOf(options.pool, what),
    signal: options.signal,
  };
}

function checkListen(options: ListenOptions & HandlerErrorOptions, handler: unknown, what: string) {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  if (typeof handler !== "function") throw typeError(what, "handler must be a function", handler);
  return {
    hostname: hostnameOf(options.hostname, what),
    port: portOf(options.port, 0, what),
    pool: poolOf(options.pool, what),
    onError: options.onError,
  };
}

/** Wires a socket's events to the connection and gives it a driver. */
function wire(socket: net.Socket, connection: SocketConnection): void {
  socket.on("end", () => connection.peerEnded());
  socket.on("error", (error: Error) => connection.failed(error));
  socket.on("close", () => connection.socketClosed());
  connection.attach(nodeDriver(socket));
  if (socket.localAddress !== undefined) {
    connection.localAddr = netAddr(socket.localAddress, socket.localPort);
    connection.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
  }
}

function serve(
  socket: net.Socket,
  connection: SocketConnection,
  handler: ConnectionHandler,
  onError: ((error: unknown) => void) | undefined,
): void {
  // Accepted sockets ignore `onread`: Node allocates each chunk, which we copy once.
  socket.on("data", (chunk: Uint8Array) => {
    if (!connection.receivedCopy(chunk)) socket.pause();
  });
  wire(socket, connection);
  runHandler(connection, handler, onError);
}

/** Resolves with the connection once the socket is connected (and, for TLS, secure). */
function opened(
  socket: net.Socket,
  connection: SocketConnection,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Connection> {
  const event = socket instanceof tls.TLSSocket ? "secureConnect" : "connect";
  return new Promise<Connection>((resolve, reject) => {
    const onAbort = () => {
      socket.destroy();
      reject(signal?.reason);
    };
    const onError = (error: Error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    };
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once(event, () => {
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
      wire(socket, connection);
      resolve(connection);
    });
  }).catch((error: unknown) => {
    // Never connected: release what the onread view rented.
    connection.socketClosed(error);
    connection.input.complete();
    connection.output.complete();
    throw error ?? new Error(`Cannot ${what} as the socket closed`);
  });
}

function listening(server: net.Server, hostname: string, port: number): Promise<Listener> {
  return new Promise<Listener>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hostname, port }, () => {
      server.off("error", reject);
      const address = server.address() as net.AddressInfo;
      resolve(new NodeListener(server, netAddr(address.address, address.port)));
    });
  });
}

/** A `node:net` server as a {@linkcode Listener}. */
class NodeListener implements Listener {
  readonly addr: NetAddr;
  readonly #server: net.Server;
  #closed: Promise<void> | undefined;

  constructor(server: net.Server, addr: NetAddr) {
    this.#server = server;
    this.addr = addr;
  }

  close(): Promise<void> {
    // Stops accepting at once; `server.close`'s callback would wait for every connection.
    if (this.#closed === undefined) {
      this.#server.close();
      this.#closed = Promise.resolve();
    }
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Writes pool views with `socket.write`; segments adjacent in memory go as one view, and
 * several views are corked into one `writev`. Node keeps a reference to a view until the
 * kernel took all of it: when `write` leaves nothing buffered (`writableLength` is 0, the
 * usual case), the views are free at once; otherwise they are once the write's callback came
 * (callbacks come in order, so the last one frees them all).
 */
function nodeDriver(socket: net.Socket): SocketDriver {
  // Callbacks not yet called, and what settles the write the pump waits for once they all came.
  let due = 0;
  let settle: ((error?: Error | null) => void) | undefined;
  const callback = (error?: Error | null) => {
    due--;
    const done = settle;
    if (done === undefined || (!error && due > 0)) return;
    settle = undefined;
    done(error);
  };
  const views: Uint8Array[] = [];
  const writeAll = (buffer: ReadableBuffer) => {
    due++;
    if (buffer.isSingleSegment) {
      socket.write(buffer.first, callback);
      return;
    }
    adjacentViews(buffer, views);
    const last = views.length - 1;
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(views[i] as Uint8Array);
    socket.write(views[last] as Uint8Array, callback);
    if (last > 0) socket.uncork();
    views.length = 0;
  };
  return {
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    write(buffer) {
      writeAll(buffer);
      // The kernel took every byte during write(): Node holds no view any more.
      if (socket.writableLength === 0) return undefined;
      return new Promise<void>((resolve, reject) => {
        settle = (error) => (error ? reject(error) : resolve());
      });
    },
    end: () => socket.end(),
    destroy: (error) => socket.destroy(error as Error | undefined),
  };
}

export { createFile, openFile } from "./_files_node.ts";
export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files_node.ts";
