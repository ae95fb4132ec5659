// The options of connect, connectTls, listen and listenTls, checked once for every runtime: the
// same bad argument gets the same error class and message on Deno, Bun and Node (DESIGN §5).
//
// Internal (underscore file): not exported from any entry point.

import type {
  ConnectOptions,
  ConnectTlsOptions,
  HandlerErrorOptions,
  ListenOptions,
  ListenTlsOptions,
} from "../connection.ts";
import { isIntegerIn, rangeError, typeError } from "../errors.ts";
import { MemoryPool } from "../memory_pool.ts";

/** The default of `lingerMs`. */
const DEFAULT_LINGER_MS = 2000;
// setTimeout's largest delay.
const MAX_LINGER_MS = 2147483647;

/** What `connect` and `connectTls` go on with. */
export interface ConnectSettings {
  hostname: string;
  port: number;
  pool: MemoryPool;
  signal: AbortSignal | undefined;
  lingerMs: number;
}

/** What `listen` and `listenTls` go on with. */
export interface ListenSettings {
  hostname: string;
  port: number;
  pool: MemoryPool;
  lingerMs: number;
  onError: (error: unknown) => void;
}

/** The TLS settings of `connectTls`. */
export interface ConnectTlsSettings extends ConnectSettings {
  caCerts: string[] | undefined;
  serverName: string | undefined;
}

/** The TLS settings of `listenTls`. */
export interface ListenTlsSettings extends ListenSettings {
  cert: string;
  key: string;
}

/** Checks the options of `connect` ("connect") or `connectTls` ("connect with TLS"). */
export function checkConnect(options: ConnectOptions, what: string): ConnectSettings {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw typeError(what, "signal must be an AbortSignal", signal);
  }
  return {
    hostname: hostnameOf(options.hostname, what),
    port: portOf(options.port, 1, what),
    pool: poolOf(options.pool, what),
    signal,
    lingerMs: lingerOf(options.lingerMs, what),
  };
}

/** Checks the options of `connectTls`. */
export function checkConnectTls(options: ConnectTlsOptions): ConnectTlsSettings {
  const what = "connect with TLS";
  const settings = checkConnect(options, what);
  const { caCerts, serverName } = options;
  if (caCerts !== undefined && (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))) {
    throw typeError(what, "caCerts must be an array of PEM strings", caCerts);
  }
  if (serverName !== undefined && (typeof serverName !== "string" || serverName === "")) {
    throw typeError(what, "serverName must be a non-empty string", serverName);
  }
  return { ...settings, caCerts, serverName };
}

/** Checks the options and handler of `listen` ("listen") or `listenTls` ("listen with TLS"). */
export function checkListen(
  options: ListenOptions & HandlerErrorOptions,
  handler: unknown,
  what: string,
): ListenSettings {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  if (typeof handler !== "function") throw typeError(what, "handler must be a function", handler);
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== "function") {
    throw typeError(what, "onError must be a function", onError);
  }
  return {
    hostname: hostnameOf(options.hostname, what),
    port: portOf(options.port, 0, what),
    pool: poolOf(options.pool, what),
    lingerMs: lingerOf(options.lingerMs, what),
    onError: onError ?? reportHandlerError,
  };
}

/** Checks the options and handler of `listenTls`. */
export function checkListenTls(options: ListenTlsOptions & HandlerErrorOptions, handler: unknown): ListenTlsSettings {
  const what = "listen with TLS";
  const settings = checkListen(options, handler, what);
  if (typeof options.cert !== "string") throw typeError(what, "cert must be a PEM string", options.cert);
  if (typeof options.key !== "string") throw typeError(what, "key must be a PEM string", options.key);
  return { ...settings, cert: options.cert, key: options.key };
}

function reportHandlerError(error: unknown): void {
  console.error("channels: a connection handler failed:", error);
}

function poolOf(pool: unknown, what: string): MemoryPool {
  if (pool === undefined) return MemoryPool.shared;
  if (!(pool instanceof MemoryPool)) throw typeError(what, "pool must be a MemoryPool", pool);
  return pool;
}

/** 1..65535 to connect, 0..65535 to listen. */
function portOf(port: unknown, min: 0 | 1, what: string): number {
  if (!isIntegerIn(port, min, 65535)) throw rangeError(what, `port must be an integer from ${min} to 65535`, port);
  return port;
}

function hostnameOf(hostname: unknown, what: string): string {
  if (hostname === undefined) return "127.0.0.1";
  if (typeof hostname !== "string" || hostname === "") {
    throw typeError(what, "hostname must be a non-empty string", hostname);
  }
  return hostname;
}

function lingerOf(lingerMs: unknown, what: string): number {
  if (lingerMs === undefined) return DEFAULT_LINGER_MS;
  if (!isIntegerIn(lingerMs, 0, MAX_LINGER_MS)) {
    throw rangeError(what, `lingerMs must be an integer from 0 to ${MAX_LINGER_MS}`, lingerMs);
  }
  return lingerMs;
}
