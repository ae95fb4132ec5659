/**
 * The shapes the runtime entry points (`./deno`, `./bun`, `./node`) share: a TCP (or TLS)
 * connection as a pair of channels, and a listener.
 *
 * @module
 */

import type { MemoryPool } from "./memory_pool.ts";
import type { DuplexChannel } from "./readable_channel.ts";

/**
 * A connection as channels: read what the peer sent from `input`, write to the peer through
 * `output`. The peer's end of stream shows as `isCompleted` on `input`; completing `output`
 * shuts down the write side (half-close, FIN). Every runtime's entry point returns the same
 * implementation, so a connection ends the same way everywhere:
 *
 * | how it ends | what happens | the peer sees |
 * | --- | --- | --- |
 * | `close()`, or a `listen` handler returns | both channels complete; every byte written to `output` (flushed or not) is sent, then FIN; input is read and dropped until the peer's FIN or `lingerMs`, then the socket closes | every byte, then a clean end |
 * | `abort(reason)`, or a handler throws | pending reads and flushes reject with `reason` at once; unsent bytes are dropped | a reset (RST) on Node and Bun; on Deno a clean end (Deno's sockets cannot send a reset) |
 * | the peer resets, or the socket fails | `input` and `output` reject with the runtime's error | — |
 * | both sides sent FIN | the socket closes | — |
 *
 * A connection whose `close()` or `abort()` was never called is released once both sides
 * sent FIN, or the socket failed; a connection held half-open by you keeps its socket.
 */
export interface Connection extends DuplexChannel, AsyncDisposable {
  /** The local address. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /**
   * Closes gracefully: completes both channels (a pending `input` read rejects with
   * `READER_COMPLETED`), sends every byte written to `output`, flushed or not, then FIN, and
   * closes the socket once the peer ended too or `lingerMs` passed (input meanwhile is read
   * and dropped, so the socket closes without a reset). Waits for the peer to take the bytes:
   * to bound it, race it with a timer and call {@linkcode Connection.abort}.
   *
   * @returns The {@linkcode Connection.closed} promise: settles when the socket is closed and
   *   every pool block it held is back in the pool.
   */
  close(): Promise<void>;
  /**
   * Ends the connection at once: pending reads and flushes reject with `reason`, bytes not yet
   * sent are dropped, and the peer sees a reset where the runtime can send one (Node, Bun; on
   * Deno a clean end). Both channels are completed; `closed` settles once the socket is.
   *
   * @param reason What pending reads and flushes reject with; an `Error` named "AbortError"
   *   when omitted.
   */
  abort(reason?: unknown): void;
  /**
   * Settles when the socket is closed and every pool block it held is back in the pool (after
   * `close()`, `abort()`, or the end of both sides). Never rejects.
   */
  readonly closed: Promise<void>;
}

/** A TCP address. */
export interface NetAddr {
  /** The IP address or host name. */
  readonly hostname: string;
  /** The port. */
  readonly port: number;
}

/** A listening socket. */
export interface Listener extends AsyncDisposable {
  /** The address it listens on (with the port the system chose for port 0). */
  readonly addr: NetAddr;
  /** Stops accepting; connections already accepted go on. */
  close(): Promise<void>;
}

/** Options of `connect`. */
export interface ConnectOptions {
  /** The host to connect to. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port to connect to. */
  port: number;
  /** The pool both channels rent from. @default {MemoryPool.shared} */
  pool?: MemoryPool;
  /** Aborting cancels a connect in progress. */
  signal?: AbortSignal;
  /**
   * After a graceful close sent FIN, how long input is read and dropped while waiting for the
   * peer's FIN before the socket closes anyway (closing with unread input would make the
   * system send a reset, which can destroy bytes the peer has not read yet). 0 closes at
   * once. Checked when the connection is made.
   *
   * @default {2000}
   */
  lingerMs?: number;
}

/** Options of `listen`. */
export interface ListenOptions {
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port to listen on; 0 lets the system choose. */
  port: number;
  /** The pool connections rent from. @default {MemoryPool.shared} */
  pool?: MemoryPool;
  /**
   * How long each accepted connection waits for the peer's FIN after its own (see
   * {@linkcode ConnectOptions.lingerMs}): bounds how long a peer that never closes holds a
   * socket after the handler returned.
   *
   * @default {2000}
   */
  lingerMs?: number;
}

/** What `listen` and `listenTls` take besides the address: where handler errors go. */
export interface HandlerErrorOptions {
  /**
   * Called with an error a connection handler threw or rejected with; that connection is
   * aborted (the peer sees a reset where the runtime can send one).
   *
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

/** Options of `connectTls`: those of `connect`, plus the runtime's TLS settings. */
export interface ConnectTlsOptions extends ConnectOptions {
  /** PEM-encoded CA certificates to trust in addition to the system's. */
  caCerts?: string[];
  /** The server name to verify (SNI). @default {hostname} */
  serverName?: string;
}

/** Options of `listenTls`: those of `listen`, plus a certificate and key. */
export interface ListenTlsOptions extends ListenOptions {
  /** The PEM-encoded certificate chain. */
  cert: string;
  /** The PEM-encoded private key. */
  key: string;
}

/**
 * What `listen` calls for each accepted connection: when it returns the connection is closed
 * gracefully (`close()`), when it throws or rejects the connection is aborted (`abort(error)`).
 */
export type ConnectionHandler = (connection: Connection) => Promise<void>;
