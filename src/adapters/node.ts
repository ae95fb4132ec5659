/**
 * TCP and TLS connections as channels over `node:net` and `node:tls` (Node 20+; also runs on
 * Bun's and Deno's `node:net`).
 *
 * | path | reads | writes |
 * | --- | --- | --- |
 * | {@linkcode connect} (client socket) | while bytes stream in, straight into pool memory (`onread`), no copy; other reads (small messages) one copy out of a shared 32 KiB buffer | pool views, no copy |
 * | {@linkcode listen} (accepted socket) | as a client socket, on Node (Node's `onread` internals, checked at each accept); elsewhere (Bun's node:net) one copy of each `data` chunk into pool memory | pool views, no copy |
 * | {@linkcode connectTls} / {@linkcode listenTls} | one copy of each decrypted chunk | pool views, encrypted by Node |
 *
 * Writes: blocks adjacent in memory go as one view, several views as one `writev`. Node
 * keeps a reference to a written view until the kernel took all of it, so output blocks stay
 * rented until then (most writes are taken at once). Nagle's algorithm is off (as in
 * node:http), so a reply flushed in parts goes out at once. Idle memory: a socket lends Node
 * the shared 32 KiB idle buffer (one for the process), since `onread` needs its buffer before
 * the socket is readable, and copies each read out of it. While its reads keep filling their views (bytes are streaming in), it reads
 * into pool memory instead, a 64 KiB span of adjacent blocks, so one read moves up to 64 KiB
 * with no copy; a socket that goes idle right after such a read holds that span until its
 * next read.
 *
 * Ends (see {@linkcode Connection}): `close()` and a handler that returns send every byte, then
 * FIN; `abort()` and a handler that throws reset the socket (`resetAndDestroy`: the peer sees
 * `ECONNRESET`), for TLS too.
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
 * await conn.close();
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
import { socketError } from "../errors.ts";
import { adjacentViews, type ReadableBuffer } from "../readable_buffer.ts";
import { checkConnect, checkConnectTls, checkListen, checkListenTls, type ListenSettings } from "./_options.ts";
import { readIntoCallerMemory } from "./_node_onread.ts";
import { netAddr, runHandler, SocketConnection, type SocketDriver } from "./_socket.ts";

export * from "./_common_exports.ts";

/**
 * Opens a TCP connection. Bytes from the peer are read by Node straight into pool memory.
 *
 * @param options Host, port, pool, an abort signal and `lingerMs`.
 * @returns The connection, once connected.
 * @throws {RangeError} When `port` is not an integer from 1 to 65535 (as a rejection).
 * @throws {TypeError} When another option has the wrong type (as a rejection).
 * @throws {Error} "Cannot connect to host:port as the socket failed: …" with Node's `code`
 *   (`ECONNREFUSED`, …), or `signal.reason` (as a rejection).
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
  const { hostname, port, pool, signal, lingerMs } = checkConnect(options, "connect");
  signal?.throwIfAborted();
  const connection = new SocketConnection(pool, lingerMs);
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
  try {
    await opened(socket, "connect", signal);
  } catch (error) {
    // Never connected: release what the onread view rented.
    connection.discard(error);
    throw signal?.aborted && error === signal.reason ? error : socketError("connect to", hostname, port, error);
  }
  wire(socket, socket, connection);
  return connection;
}

/**
 * Opens a TLS connection with Node's own TLS (`node:tls`) over a TCP socket of its own (so
 * `abort()` can reset it). Decrypted bytes are copied once into pool memory.
 *
 * @param options Those of {@linkcode connect}, plus extra CA certificates and the server name.
 * @returns The connection, once the handshake is done.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} When `caCerts` is not an array of strings, or another option has the wrong type (as a rejection).
 * @throws {Error} "Cannot connect with TLS to host:port as the socket failed: …" with Node's
 *   `code` (a refused connection, an untrusted certificate, …), or `signal.reason` (as a rejection).
 *
 * @example Options: CA certificates and the server name to verify
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTls } from "@channels/channels/node";
 *
 * // Nothing listens on port 1 here: the connect rejects with Node's ECONNREFUSED.
 * await assert.rejects(connectTls({ hostname: "127.0.0.1", port: 1, caCerts: [], serverName: "localhost" }), {
 *   code: "ECONNREFUSED",
 * });
 * ```
 */
export async function connectTls(options: ConnectTlsOptions): Promise<Connection> {
  const { hostname, port, pool, signal, lingerMs, caCerts, serverName } = checkConnectTls(options);
  signal?.throwIfAborted();
  const connection = new SocketConnection(pool, lingerMs);
  const tcp = net.connect({ host: hostname, port, allowHalfOpen: true });
  const socket = tls.connect({
    socket: tcp,
    servername: serverName ?? (net.isIP(hostname) === 0 ? hostname : undefined),
    ...(caCerts !== undefined ? { ca: [...tls.rootCertificates, ...caCerts] } : {}),
  } as tls.ConnectionOptions);
  tcp.on("error", () => {}); // reported by the TLS socket
  try {
    // The handshake starts once the TCP socket is connected.
    await opened(socket, "secureConnect", signal);
  } catch (error) {
    socket.destroy();
    tcp.destroy();
    connection.discard(error);
    throw signal?.aborted && error === signal.reason
      ? error
      : socketError("connect with TLS to", hostname, port, error);
  }
  socket.on("data", (chunk: Uint8Array) => {
    if (!connection.receivedCopy(chunk)) socket.pause();
  });
  wire(socket, tcp, connection);
  return connection;
}

/**
 * Listens for TCP connections and calls `handler` for each, concurrently. When the handler
 * returns, its connection closes gracefully (what it wrote is sent, then FIN, then the socket
 * closes once the peer ends or `lingerMs` passed); when it throws, the connection is reset
 * and the error goes to `options.onError` (else `console.error`).
 *
 * Accepted sockets read as client sockets do (small messages copied once out of a shared
 * buffer, streams straight into pool memory), though Node offers `onread` for client sockets
 * only: the adapter sets up what `onread` would on each accepted socket, where the runtime's
 * node:net has it (Node; elsewhere each chunk Node reads is copied once into pool memory).
 * Nothing is rented while a connection waits for bytes.
 *
 * @param options Address, port (0 lets the system choose), pool, `lingerMs` and `onError`.
 * @param handler Serves one connection.
 * @returns The listener, once listening.
 * @throws {RangeError} When `port` is not an integer from 0 to 65535 (as a rejection).
 * @throws {TypeError} When `handler` is not a function, or an option has the wrong type (as a rejection).
 * @throws {Error} "Cannot listen on host:port as the socket failed: …" with Node's `code` (`EADDRINUSE`, …) (as a rejection).
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
 * await connection.close();
 * await listener.close();
 * ```
 */
export async function listen(
  options: ListenOptions & HandlerErrorOptions,
  handler: ConnectionHandler,
): Promise<Listener> {
  const settings = checkListen(options, handler, "listen");
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const connection = new SocketConnection(settings.pool, settings.lingerMs);
    // Read as a client socket does (net.Server has no `onread` option: see _node_onread.ts);
    // where the runtime cannot, Node allocates each chunk, which we copy once.
    const reads = readIntoCallerMemory(
      socket,
      () => connection.readInto(),
      (byteCount) => connection.received(byteCount),
    );
    if (!reads) {
      socket.on("data", (chunk: Uint8Array) => {
        if (!connection.receivedCopy(chunk)) socket.pause();
      });
    }
    wire(socket, socket, connection);
    runHandler(connection, handler, settings.onError);
  });
  return await listening(server, settings, "listen on");
}

/**
 * Listens for TLS connections with Node's own TLS (`node:tls`, each accepted TCP socket wrapped
 * in a `TLSSocket`, so `abort()` can reset it); otherwise as {@linkcode listen}.
 *
 * @param options Those of {@linkcode listen}, plus the PEM certificate chain and key.
 * @param handler Serves one connection.
 * @returns The listener, once listening.
 * @throws {RangeError} When `port` is out of range (as a rejection).
 * @throws {TypeError} When `cert` or `key` is not a string (as a rejection).
 * @throws {Error} Node's error for a certificate or key it cannot use (as a rejection).
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
  const settings = checkListenTls(options, handler);
  const secureContext = tls.createSecureContext({ cert: settings.cert, key: settings.key });
  const server = net.createServer({ allowHalfOpen: true }, (tcp) => {
    tcp.on("error", () => {}); // reported by the TLS socket
    const socket = new tls.TLSSocket(tcp, { isServer: true, secureContext });
    // A failed handshake is the client's problem: drop the socket.
    const onHandshakeError = () => {
      socket.destroy();
      tcp.destroy();
    };
    socket.once("error", onHandshakeError);
    // As tls.Server's handshakeTimeout: a client that never shakes hands does not keep the socket.
    tcp.setTimeout(HANDSHAKE_TIMEOUT_MS, onHandshakeError);
    socket.once("secure", () => {
      socket.off("error", onHandshakeError);
      tcp.setTimeout(0);
      tcp.off("timeout", onHandshakeError);
      const connection = new SocketConnection(settings.pool, settings.lingerMs);
      socket.on("data", (chunk: Uint8Array) => {
        if (!connection.receivedCopy(chunk)) socket.pause();
      });
      wire(socket, tcp, connection);
      runHandler(connection, handler, settings.onError);
    });
  });
  return await listening(server, settings, "listen with TLS on");
}

// ---- internals ----

// How long an accepted TLS socket may take to shake hands (tls.Server's default handshakeTimeout).
const HANDSHAKE_TIMEOUT_MS = 120000;

/** Wires a socket's events to the connection and gives it a driver (`tcp`: the TCP socket under TLS). */
function wire(socket: net.Socket, tcp: net.Socket, connection: SocketConnection): void {
  // As node:http and the Deno adapter: no Nagle delay, or a reply flushed in two parts a
  // moment apart waits for the peer's delayed ACK (40 ms on Linux) before its second part.
  tcp.setNoDelay(true);
  socket.on("end", () => connection.peerEnded());
  socket.on("error", (error: Error) => connection.failed(error));
  socket.on("close", () => connection.socketClosed());
  connection.localAddr = netAddr(socket.localAddress ?? tcp.localAddress, socket.localPort ?? tcp.localPort);
  connection.remoteAddr = netAddr(socket.remoteAddress ?? tcp.remoteAddress, socket.remotePort ?? tcp.remotePort);
  connection.attach(nodeDriver(socket, tcp));
}

/** Resolves once `socket` emits `event` (connected, or for TLS secure); rejects on an error or an abort. */
function opened(socket: net.Socket, event: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
      resolve();
    });
  });
}

function listening(server: net.Server, settings: ListenSettings, what: string): Promise<Listener> {
  const { hostname, port } = settings;
  return new Promise<Listener>((resolve, reject) => {
    const onError = (error: Error) => reject(socketError(what, hostname, port, error));
    server.once("error", onError);
    server.listen({ host: hostname, port }, () => {
      server.off("error", onError);
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
 * (callbacks come in order, so the last one frees them all), or the socket closed. A reset
 * goes through the TCP socket (`resetAndDestroy`: SO_LINGER 0, then close), under TLS too.
 */
function nodeDriver(socket: net.Socket, tcp: net.Socket): SocketDriver {
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
  // A write whose callback never comes (the socket closed first) fails with the close.
  socket.once("close", () => {
    const done = settle;
    settle = undefined;
    done?.(Object.assign(new Error("Cannot write to the socket as it is closed"), { code: "ERR_SOCKET_CLOSED" }));
  });
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
    close: () => socket.destroy(),
    reset() {
      tcp.resetAndDestroy();
      if (socket !== tcp) socket.destroy();
    },
  };
}

export { createFile, openFile } from "./_files_node.ts";
export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files_node.ts";
