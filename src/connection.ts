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
 * shuts down the write side (half-close). `close()` ends both and releases the socket.
 */
export interface Connection extends DuplexChannel {
  /** The local address. */
  readonly localAddr: NetAddr;
  /** The peer's address. */
  readonly remoteAddr: NetAddr;
  /** Closes the socket at once: both channels complete, pending reads and flushes end. */
  close(): void;
  /** Settles when the socket is closed and every pool block it held is back in the pool. */
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
}

/** Options of `listen`. */
export interface ListenOptions {
  /** The address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port to listen on; 0 lets the system choose. */
  port: number;
  /** The pool connections rent from. @default {MemoryPool.shared} */
  pool?: MemoryPool;
}

/** What `listen` and `listenTls` take besides the address: where handler errors go. */
export interface HandlerErrorOptions {
  /**
   * Called with an error a connection handler threw or rejected with; the connection is
   * closed either way.
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

/** What `listen` calls for each accepted connection; the connection is closed when it settles. */
export type ConnectionHandler = (connection: Connection) => Promise<void>;
