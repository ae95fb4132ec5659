// The part of a socket connection every runtime shares: two channels, the input side fed by
// the runtime's read events, the output side drained by a pump that hands pool views to the
// runtime's write. Each adapter supplies a `SocketDriver` (how to pause, write, end, destroy)
// and reports the socket's events (`peerEnded`, `failed`, `socketClosed`).
//
// Internal (underscore file): not exported from any entry point.

import { Channel } from "../channel.ts";
import type { Connection, ConnectionHandler, NetAddr } from "../connection.ts";
import { isIntegerIn, rangeError, typeError } from "../errors.ts";
import { MemoryPool } from "../memory_pool.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel } from "../readable_channel.ts";
import type { FlushOptions, FlushResult, WritableChannel } from "../writable_channel.ts";

/** What the shared connection needs from the runtime's socket. */
export interface SocketDriver {
  /** Stop reading from the socket (backpressure). */
  pause(): void;
  /** Read again. */
  resume(): void;
  /**
   * Hands every segment view of `buffer` to the socket. Returns a promise that settles once
   * the runtime holds no reference to any of them (so the blocks may go back to the pool), or
   * `undefined` when the runtime was done with them before `write` returned.
   */
  write(buffer: ReadableBuffer): Promise<void> | undefined;
  /** Half-close: send FIN once everything written was sent; reading goes on. */
  end(): void;
  /** Close at once (with `error`: abortively). */
  destroy(error?: unknown): void;
}

// Bytes libuv / the runtime should be able to read in one go: a getMemory view shorter than
// this (the tail of a nearly full block) is skipped for a fresh block.
const MIN_READ_BYTES = 2048;
/**
 * Bytes a socket read asks for once the last read filled its view (bytes are streaming in):
 * an oversize block (a memory of its own, which the pool keeps for reuse), so one call moves
 * up to 64 KiB, as files read. bench/tcp.ts, echo of 64 MiB in one run: Deno 170 MiB/s with
 * 4 KiB reads, 480 with 64 KiB ones; a Node client ~250 vs ~300.
 */
const BULK_READ_BYTES = 65536;
// Bulk reads stop while the pool has this many oversize blocks rented (many connections
// streaming at once): every oversize block is a WebAssembly memory of its own, and V8 reserves
// address space for each; those connections read into regular blocks instead.
const MAX_BULK_BLOCKS = 16;
// Where reads go once the input side is completed (peer gone, connection closed): nothing
// reads these bytes, so one buffer serves every connection.
const DISCARD = new Uint8Array(MIN_READ_BYTES);
// Where a reader that is not streaming reads (see readInto): one buffer for every connection.
// Safe to share: a runtime that reads into caller memory (Node's `onread`) reports each read
// (`received`, which copies it out at once) before it asks for the next buffer, and reads one
// socket at a time on the one JavaScript thread.
const IDLE_READ = new Uint8Array(4096);
const UNKNOWN_ADDR: NetAddr = Object.freeze({ hostname: "", port: 0 });

/**
 * A view of `writer`'s memory for a socket read: at least `minimum` bytes, or an oversize block
 * of {@linkcode BULK_READ_BYTES} when `bulk` (the last read filled its view) and the pool has
 * fewer than MAX_BULK_BLOCKS oversize blocks out. A pool near its `maxBytes` gives a regular
 * block instead of failing the read.
 */
export function socketReadView(writer: WritableChannel, pool: MemoryPool, bulk: boolean, minimum: number): Uint8Array {
  if (bulk && pool.stats().oversizeBlocks < MAX_BULK_BLOCKS) {
    try {
      return writer.getMemory(BULK_READ_BYTES);
    } catch {
      // The pool cannot reserve an oversize block now: read into a regular one.
    }
  }
  return writer.getMemory(minimum);
}

/** Wakes an output pump parked until the next flush (see {@linkcode NotifyingWriter}). */
export class PumpBell {
  #parked: (() => void) | undefined;
  /** Wakes the parked pump, if any. */
  ring(): void {
    const wake = this.#parked;
    if (wake === undefined) return;
    this.#parked = undefined;
    wake();
  }
  /** Resolves at the next {@linkcode PumpBell.ring}. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => (this.#parked = resolve));
  }
}

/**
 * `writer`, ringing `bell` after every flush, write and completion. An adapter's output pump
 * parks on the bell, so it runs one microtask after the flush rather than at the channel's
 * reader wake-up, a few microtasks later (Channel's WAKE_DELAY_MICROTASKS): the bytes reach
 * the socket before the flushing code goes on, and flushes made in a row without awaiting
 * still go out in one write. Methods on a prototype: an idle connection costs less heap than
 * with a closure each.
 */
export class NotifyingWriter implements WritableChannel {
  readonly #writer: WritableChannel;
  readonly #bell: PumpBell;

  constructor(writer: WritableChannel, bell: PumpBell) {
    this.#writer = writer;
    this.#bell = bell;
  }
  getMemory(sizeHint?: number): Uint8Array {
    return this.#writer.getMemory(sizeHint);
  }
  advance(byteCount: number): void {
    this.#writer.advance(byteCount);
  }
  flush(options?: FlushOptions): Promise<FlushResult> {
    const result = this.#writer.flush(options);
    this.#bell.ring();
    return result;
  }
  write(data: Uint8Array, options?: FlushOptions): Promise<FlushResult> {
    const result = this.#writer.write(data, options);
    this.#bell.ring();
    return result;
  }
  writeUtf8(text: string, options?: FlushOptions): Promise<FlushResult> {
    const result = this.#writer.writeUtf8(text, options);
    this.#bell.ring();
    return result;
  }
  get unflushedBytes(): number {
    return this.#writer.unflushedBytes;
  }
  cancelPendingFlush(): void {
    this.#writer.cancelPendingFlush();
  }
  complete(...error: [unknown?]): void {
    this.#writer.complete(...error);
    this.#bell.ring();
  }
}

/**
 * A connection over a runtime socket. The adapter creates it, then calls {@linkcode attach}
 * with its driver, and reports the socket's events.
 *
 * Input: the runtime either reads into {@linkcode readInto} views (zero-copy) and reports with
 * {@linkcode received}, or hands over its own chunks to {@linkcode receivedCopy} (one copy).
 * Both return `false` when the socket should stop reading: a flush is waiting for the reader.
 * The socket is resumed through the driver once the flushes settle.
 *
 * Output: one pump reads the output channel and hands every segment view to the driver,
 * keeping the blocks (no `advanceTo`) until the driver says the runtime is done with them.
 * `output` tells the pump of each flush itself (see {@linkcode NotifyingWriter}).
 */
export class SocketConnection implements Connection {
  /** Bytes from the peer. */
  readonly input: ReadableChannel;
  /** Bytes to the peer. */
  readonly output: WritableChannel;
  /** The local address (set by the adapter once known). */
  localAddr: NetAddr = UNKNOWN_ADDR;
  /** The peer's address (set by the adapter once known). */
  remoteAddr: NetAddr = UNKNOWN_ADDR;
  /** Settles when the socket closed and the pump returned every block it held. */
  readonly closed: Promise<void>;

  readonly #in: Channel;
  readonly #out: Channel;
  readonly #pauseThreshold: number;
  readonly #minRead: number;
  readonly #pool: MemoryPool;
  // Length of the last readInto view, and whether the read into it filled it (the next view
  // may then be a bulk one).
  #readLength = 0;
  #bulk = false;
  // The last readInto view is the shared IDLE_READ buffer, not pool memory.
  #idleRead = false;
  #driver: SocketDriver | undefined;
  // The input writer completed (peer end, error, close): reads go to DISCARD from now on.
  #inputDone = false;
  // The socket can no longer send: the pump completes the output reader (with #outputError
  // when #outputFailed) at its next step.
  #outputStopped = false;
  #outputFailed = false;
  #outputError: unknown = undefined;
  // Input flushes not yet settled, and whether the socket was paused for them.
  #flushesPending = 0;
  #paused = false;
  #socketClosed = false;
  #resolveSocketClosed!: () => void;
  #pump: Promise<void> = Promise.resolve();
  // Wakes the output pump parked until a flush (see NotifyingWriter).
  readonly #bell = new PumpBell();

  /** Creates the channels; nothing is rented until bytes arrive or a view is asked for. */
  constructor(pool: MemoryPool) {
    this.#in = new Channel({ pool });
    this.#out = new Channel({ pool });
    this.input = this.#in.reader;
    this.output = new NotifyingWriter(this.#out.writer, this.#bell);
    this.#pauseThreshold = 65536; // Channel's default pauseWriterThreshold
    this.#minRead = Math.min(MIN_READ_BYTES, pool.blockSize);
    this.#pool = pool;
    const socketClosed = new Promise<void>((resolve) => (this.#resolveSocketClosed = resolve));
    this.closed = socketClosed.then(() => this.#pump);
  }

  /** Starts the output pump over the socket's driver. */
  attach(driver: SocketDriver): void {
    this.#driver = driver;
    this.#pump = this.#pumpOutput(driver);
  }

  /** Closes the socket at once; both channels complete, pending reads and flushes end. */
  close(): void {
    if (this.#socketClosed) return;
    // Destroy first: the runtime must stop reading into pool views before their blocks go back.
    this.#driver?.destroy();
    this.#completeInput();
    this.#stopOutput(false, undefined);
  }

  /**
   * Ends the connection for a `listen` handler that settled: what the handler wrote is sent,
   * then FIN; further input is dropped. With an error, the socket is destroyed at once.
   */
  finish(error?: unknown): void {
    this.input.complete();
    if (error === undefined) this.output.complete();
    else {
      this.output.complete(error);
      this.close();
    }
  }

  /**
   * A view for the runtime to read into: while bytes stream in (the last read filled its
   * view), pool memory (the zero-copy path): the rest of the write head or a fresh block, a
   * bulk block of {@linkcode BULK_READ_BYTES} when the pool has few out; otherwise the shared
   * 4 KiB idle buffer, copied out by {@linkcode received}. The runtime may hold the view while
   * the socket is idle: only after a read that filled its view is that pool memory.
   */
  readInto(): Uint8Array {
    if (this.#inputDone) return DISCARD;
    // Not streaming (the first read, or the last one did not fill its view): the shared idle
    // buffer, copied out on arrival, so an idle socket holds no pool memory (Node keeps the
    // buffer it was given until the socket is next readable). bench/idle_connections.ts.
    this.#idleRead = !this.#bulk;
    if (this.#idleRead) {
      this.#readLength = IDLE_READ.length;
      return IDLE_READ;
    }
    try {
      const view = socketReadView(this.#in.writer, this.#pool, this.#bulk, this.#minRead);
      this.#readLength = view.length;
      return view;
    } catch (error) {
      // The pool is at its limit (maxBytes): fail the connection rather than the runtime's read loop.
      this.#fail(error);
      return DISCARD;
    }
  }

  /** `byteCount` bytes were read into the last {@linkcode readInto} view; `false`: pause reading. */
  received(byteCount: number): boolean {
    if (this.#inputDone) return true;
    this.#bulk = byteCount === this.#readLength;
    if (this.#idleRead) {
      // The one copy of this path: small reads, out of the shared idle buffer.
      return this.#flushed(this.#in.writer.write(IDLE_READ.subarray(0, byteCount)));
    }
    this.#in.writer.advance(byteCount);
    return this.#flushed(this.#in.writer.flush());
  }

  /** A chunk the runtime allocated; copied once into pool memory. `false`: pause reading. */
  receivedCopy(chunk: Uint8Array): boolean {
    if (this.#inputDone) return true;
    // The one copy: this runtime path cannot read into pool memory.
    return this.#flushed(this.#in.writer.write(chunk));
  }

  /** The peer sent FIN: the input completes after the bytes before it. */
  peerEnded(): void {
    this.#completeInput();
  }

  /** The socket failed (reset, TLS error, …): both sides learn the error. */
  failed(error: unknown): void {
    this.#fail(error);
  }

  /** The socket is closed: nothing more comes in or goes out. */
  socketClosed(error?: unknown): void {
    if (error !== undefined) this.#fail(error);
    this.#completeInput();
    this.#stopOutput(false, undefined);
    this.#socketClosed = true;
    this.#resolveSocketClosed();
  }

  #fail(error: unknown): void {
    if (!this.#inputDone) {
      this.#inputDone = true;
      this.#in.writer.complete(error);
    }
    this.#stopOutput(true, error);
  }

  #completeInput(): void {
    if (this.#inputDone) return;
    this.#inputDone = true;
    this.#in.writer.complete();
  }

  #stopOutput(failed: boolean, error: unknown): void {
    if (this.#outputStopped) return;
    this.#outputStopped = true;
    this.#outputFailed = failed;
    this.#outputError = error;
    // Wakes the pump if it waits for output; otherwise it sees #outputStopped at its next step.
    this.#bell.ring();
  }

  // Mutate the count, then decide: pause when an earlier flush still waits, or when this one
  // took the reader's unexamined bytes to the pause threshold (its flush waits).
  #flushed(flush: Promise<FlushResult>): boolean {
    this.#flushesPending++;
    flush.then(this.#onFlushed, this.#onFlushFailed);
    if (this.#flushesPending > 1 || this.#in.unexaminedBytes >= this.#pauseThreshold) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  readonly #onFlushed = (): void => {
    if (--this.#flushesPending === 0 && this.#paused) {
      this.#paused = false;
      if (!this.#socketClosed) this.#driver?.resume();
    }
  };

  // The user completed the input reader with an error: abort the connection with it.
  readonly #onFlushFailed = (error: unknown): void => {
    this.#flushesPending--;
    this.#fail(error);
    this.#driver?.destroy(error);
  };

  async #pumpOutput(driver: SocketDriver): Promise<void> {
    const reader = this.#out.reader;
    try {
      for (;;) {
        if (this.#outputStopped) break;
        const result = reader.tryRead();
        if (result === undefined) {
          // Nothing flushed: park until a flush, a completion or #stopOutput rings.
          await this.#bell.wait();
          continue;
        }
        const buffer = result.buffer;
        const length = buffer.length;
        const completed = result.isCompleted;
        if (length > 0) {
          // The blocks stay rented (no advanceTo) until the runtime is done with the views.
          const written = driver.write(buffer);
          if (written !== undefined) await written;
        }
        reader.advanceTo(length);
        if (completed) {
          reader.complete();
          driver.end();
          return;
        }
        if (this.#outputStopped) break;
      }
      if (this.#outputFailed) reader.complete(this.#outputError);
      else reader.complete();
    } catch (error) {
      // The writer completed with an error (abort the socket with it), or a write failed.
      reader.complete(error);
      driver.destroy(error);
    }
  }
}

/** Runs a `listen` handler; the connection is finished when it settles. */
export function runHandler(
  connection: SocketConnection,
  handler: ConnectionHandler,
  onError: ((error: unknown) => void) | undefined,
): void {
  let settled: Promise<void>;
  try {
    settled = Promise.resolve(handler(connection));
  } catch (error) {
    settled = Promise.reject(error);
  }
  settled.then(() => connection.finish(), (error: unknown) => {
    connection.finish(error ?? new Error("The connection handler failed"));
    try {
      if (onError !== undefined) onError(error);
      else console.error(error);
    } catch (reportError) {
      console.error(reportError);
    }
  });
}

/** The pool option, checked. */
export function poolOf(pool: MemoryPool | undefined, what: string): MemoryPool {
  if (pool === undefined) return MemoryPool.shared;
  if (!(pool instanceof MemoryPool)) throw typeError(what, "pool must be a MemoryPool", pool);
  return pool;
}

/** The port option, checked: 1..65535 to connect, 0..65535 to listen. */
export function portOf(port: unknown, min: 0 | 1, what: string): number {
  if (!isIntegerIn(port, min, 65535)) throw rangeError(what, `port must be an integer from ${min} to 65535`, port);
  return port;
}

/** The hostname option, checked. */
export function hostnameOf(hostname: unknown, what: string): string {
  if (hostname === undefined) return "127.0.0.1";
  if (typeof hostname !== "string" || hostname === "") {
    throw typeError(what, "hostname must be a non-empty string", hostname);
  }
  return hostname;
}

/** An address from what a runtime reports. */
export function netAddr(hostname: string | undefined, port: number | undefined): NetAddr {
  return Object.freeze({ hostname: hostname ?? "", port: port ?? 0 });
}
