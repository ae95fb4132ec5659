// The parts of the `Deno` namespace the `./deno` entry point uses, as structural types of our
// own: published .d.ts files and the tsc build (Node types only) never mention `Deno.Conn`
// (research/distribution.md §5). Nothing here touches `Deno` at import time, so the module
// loads under Bun and Node too.

/** A TCP address as Deno reports it. */
export interface DenoNetAddr {
  readonly hostname: string;
  readonly port: number;
  readonly transport: string;
}

/** `Deno.Conn` / `Deno.TlsConn`: what the adapter calls. */
export interface DenoConn {
  readonly localAddr: DenoNetAddr;
  readonly remoteAddr: DenoNetAddr;
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  /** `Deno.TlsConn` only: completes the TLS handshake (otherwise done by the first read or write). */
  handshake?(): Promise<unknown>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

/** `Deno.Listener`. */
export interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: DenoNetAddr;
  close(): void;
}

/** `Deno.FsFile`. */
export interface DenoFile {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** The `Deno` namespace, as far as the adapter goes. */
export interface DenoApi {
  connect(options: { hostname: string; port: number; transport: "tcp"; signal?: AbortSignal }): Promise<DenoConn>;
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoListener;
  connectTls(options: { hostname: string; port: number; caCerts?: string[] }): Promise<DenoConn>;
  listenTls(options: { hostname: string; port: number; cert: string; key: string }): DenoListener;
  open(path: string | URL, options: { read?: boolean; write?: boolean; create?: boolean; truncate?: boolean }): Promise<
    DenoFile
  >;
}

/** The `Deno` global, looked up when called. */
export function denoApi(what: string): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (api === undefined) {
    throw new TypeError(`Cannot ${what} as this runtime has no Deno namespace: received ${typeof api}`);
  }
  return api;
}
