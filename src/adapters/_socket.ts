// The one connection every runtime shares (DESIGN §5): two channels, the input side fed by the
// runtime's reads, the output side drained by a pump that hands pool views to the runtime's
// write, and the lifecycle (graceful close with linger, abort, handler outcome). A runtime
// supplies only a `SocketDriver` (how to resume reading, write, shut down, close, reset) and
// reports the socket's events (`received`, `peerEnded`, `failed`, `socketClosed`): Node and Bun
// push reads as they come, Deno's driver pulls with `conn.read(view)` in a loop.
//
// Internal (underscore file): not exported from any entry point.

import { Channel, isSettledFlush, wakeReaderAtOnce } from "../channel.ts";
import type { Connection, ConnectionHandler, NetAddr } from "../connection.ts";
import { connectionAborted } from "../errors.ts";
import type { MemoryPool } from "../memory_pool.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel } from "../readable_channel.ts";
import type { FlushOptions, FlushResult, WritableChannel } from "../writable_channel.ts";

/**
 * What the shared connection needs from the runtime's socket. A driver stops reading by itself
 * when {@linkcode SocketConnection.received} returns `false`, and reads again on `resume`.
 * After `close` or `reset` it reports {@linkcode SocketConnection.socketClosed} once the
 * socket is closed and the runtime writes into no view the connection lent it.
 */
export interface SocketDriver {
  /** Read again after a `received` that returned `false`. */
  resume(): void;
  /**
   * Hands every segment view of `buffer` to the socket. Returns a promise that settles once
   * the runtime holds no reference to any of them (so the blocks may go back to the pool), or
   * `undefined` when the runtime was done with them before `write` returned. Rejects when the
   * socket failed or closed before taking every byte.
   */
  write(buffer: ReadableBuffer): Promise<void> | undefined;
  /** Shuts down the write side (FIN) after every byte written; reading goes on. */
  end(): void;
  /** Closes the socket (its write side is shut down already, or the socket failed). */
  close(): void;
  /** Closes the socket abortively: a reset (RST) where the runtime can send one. */
  reset(): void;
}

// Bytes libuv / the runtime should be able to read in one go: a getMemory view shorter than
// this (the tail of a nearly full block) is skipped for a fresh block.
const MIN_READ_BYTES = 2048;
/**
 * Bytes a socket read asks for once the last read filled its view (bytes are streaming in):
 * a span of adjacent blocks in one slab, so one call moves up to 64 KiB, as files read.
 * bench/tcp.ts, echo of 64 MiB in one run: Deno 170 MiB/s with 4 KiB reads, 480 with 64 KiB
 * ones; a Node client ~250 vs ~300.
 */
const BULK_READ_BYTES = 65536;
// Where reads go once input is dropped (peer gone, connection closing): nothing reads these
// bytes, so one buffer serves every connection, even reads in flight at once (Deno).
const DISCARD = new Uint8Array(MIN_READ_BYTES);
/**
 * Where a reader that is not streaming reads (see readInto) unless its driver brings a buffer
 * of its own: one buffer for every connection. Safe to share for a runtime that reads into
 * caller memory synchronously (Node's `onread`): it reports each read (`received`, which
 * copies it out at once) before it asks for the next buffer, one socket at a time on the one
 * JavaScript thread. A driver whose reads are in flight at once (Deno) brings its own.
 * 32 KiB, so a burst of replies to pipelined requests comes in one read (16 Redis GETs of
 * 1 KiB are 16.5 KiB: with 4 KiB, a read copied out and a bulk read for the rest, two reads
 * every round trip; bench/resp.ts GET 1 KiB with 16 in flight on Node, client CPU per GET
 * ~3.5 -> ~3.2 µs); the copy of a burst this short costs less than the read it saves.
 */
const IDLE_READ = new Uint8Array(32768);
const UNKNOWN_ADDR: NetAddr = Object.freeze({ hostname: "", port: 0 });

/**
 * A view of `writer`'s memory for a socket read: at least `minimum` bytes, or when `bulk` (the
 * last read filled its view) a span of {@linkcode BULK_READ_BYTES}, or of a whole slab when the
 * pool's slabs are smaller (never an oversize memory of its own). A pool near its `maxBytes`
 * gives a regular block instead of failing the read.
 */
function socketReadView(writer: WritableChannel, pool: MemoryPool, bulk: boolean, minimum: number): Uint8Array {
  if (bulk) {
    try {
      return writer.getMemory(Math.min(BULK_READ_BYTES, pool.blocksPerSlab * pool.blockSize));
    } catch {
      // The pool cannot reserve a span now: read into a regular block.
    }
  }
  return writer.getMemory(minimum);
}

// A microtask hop that allocates no closure: `.then` on a settled promise (as Channel's wake).
const SETTLED: Promise<void> = Promise.resolve();

/**
 * Runs an output pump's step one microtask after a ring while the pump is parked (see
 * {@linkcode NotifyingWriter}); rings while it runs or is already due do nothing, the pump
 * reads everything flushed by then.
 */
class PumpBell {
  #parked = false;
  readonly #step: () => void;
  constructor(step: () => void) {
    this.#step = step;
  }
  /** Schedules the parked pump's next step, if it is parked. */
  ring(): void {
    if (!this.#parked) return;
    this.#parked = false;
    SETTLED.then(this.#step);
  }
  /** Parks the pump until the next {@linkcode PumpBell.ring}. */
  park(): void {
    this.#parked = true;
  }
}

/**
 * `writer`, ringing `bell` after every flush, write and completion. The output pump parks on
 * the bell, so it runs one microtask after the flush rather than at the channel's reader
 * wake-up, a few microtasks later (Channel's WAKE_DELAY_MICROTASKS): the bytes reach the
 * socket before the flushing code goes on, and flushes made in a row without awaiting still go
 * out in one write. Methods on a prototype: an idle connection costs less heap than with a
 * closure each.
 */
class NotifyingWriter implements WritableChannel {
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

/** How input ends: cleanly (the peer's FIN, the socket closed) or with an error. */
interface InputEnd {
  readonly failed: boolean;
  readonly error: unknown;
}
const INPUT_ENDED: InputEnd = Object.freeze({ failed: false, error: undefined });

/**
 * A connection over a runtime socket. The adapter creates it, calls {@linkcode attach} with its
 * driver once the socket is open, and reports the socket's events.
 *
 * Input: the runtime either reads into {@linkcode readInto} views (zero-copy while bytes stream
 * in) and reports with {@linkcode received}, or hands over its own chunks to
 * {@linkcode receivedCopy} (one copy). Both return `false` when the socket should stop reading:
 * a flush waits for the reader; the driver is resumed once the flushes settle. While the
 * runtime holds a view of pool memory (a read in progress), the input channel is not completed,
 * so its blocks cannot go back to the pool under the read.
 *
 * Output: one pump reads the output channel and hands every segment view to the driver,
 * keeping the blocks (no `advanceTo`) until the driver says the runtime is done with them.
 * `output` tells the pump of each flush itself (see {@linkcode NotifyingWriter}).
 *
 * Lifecycle (DESIGN §5); each step happens once, in this order or skipping some:
 *
 * | step | what starts it | what it does |
 * | --- | --- | --- |
 * | closing | `close()`, a handler that returned | completes both of your channels; input read from now on is dropped |
 * | FIN | the pump wrote the last byte of a completed `output` | `driver.end()` |
 * | lingering | closing, FIN sent, the peer not ended | waits `lingerMs` for the peer's FIN |
 * | released | FIN sent and the peer ended, linger over, a socket error: `driver.close()`; `abort()`: `driver.reset()` | the runtime closes the socket |
 * | closed | the driver's `socketClosed()` | `closed` settles once the pump returned its blocks |
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
  readonly #pool: MemoryPool;
  readonly #minRead: number;
  readonly #lingerMs: number;
  // Length of the last readInto view, whether the read into it filled it (the next view may
  // then be a bulk one), whether it is an idle buffer (copied out) and which.
  #readLength = 0;
  #bulk = false;
  #idleRead = false;
  #idleView: Uint8Array = IDLE_READ;
  // The runtime holds a view of the input channel's pool memory (a read in progress).
  #viewLent = false;
  #driver: SocketDriver | undefined;
  // Set once input should end (the peer's FIN, an error, abort, the socket closed): reads go
  // to DISCARD from then on. #inputDone: the input writer is completed (see #finishInput).
  #inputEnd: InputEnd | undefined;
  #inputDone = false;
  // The socket can no longer send: the pump completes the output reader (with #outputError
  // when #outputFailed) at its next step.
  #outputStopped = false;
  #outputFailed = false;
  #outputError: unknown = undefined;
  // Input flushes not yet settled, and whether the socket was paused for them.
  #flushesPending = 0;
  #paused = false;
  // Lifecycle flags (see the table above).
  #closing = false;
  #aborted = false;
  #finSent = false;
  #peerEnded = false;
  #released = false;
  #socketClosed = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: () => void;
  // The output pump (see #pump): started and not yet done with the output reader; a write of
  // the pump's in flight (the driver's promise), and what to do with the read once it settles.
  #pumpRunning = false;
  #pumpWriting = false;
  #writtenLength = 0;
  #writtenCompleted = false;
  // Wakes the output pump parked until a flush (see NotifyingWriter).
  readonly #bell: PumpBell;

  /** Creates the channels; nothing is rented until bytes arrive or a view is asked for. */
  constructor(pool: MemoryPool, lingerMs: number) {
    this.#in = new Channel({ pool });
    // Reads come one per macrotask: waking the reader later would batch nothing.
    wakeReaderAtOnce(this.#in);
    this.#out = new Channel({ pool });
    this.input = this.#in.reader;
    this.#bell = new PumpBell(this.#pumpStep);
    this.output = new NotifyingWriter(this.#out.writer, this.#bell);
    this.#minRead = Math.min(MIN_READ_BYTES, pool.blockSize);
    this.#pool = pool;
    this.#lingerMs = lingerMs;
    this.closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
  }

  /** Starts the output pump over the socket's driver. */
  attach(driver: SocketDriver): void {
    this.#driver = driver;
    this.#pumpRunning = true;
    this.#pump();
  }

  /** Closes gracefully: see {@linkcode Connection.close}. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      // Your sides: a pending read rejects (READER_COMPLETED); completing output commits what
      // was advanced but not flushed, and the pump sends it, then FIN.
      this.#in.reader.complete();
      this.output.complete();
      this.#maybeRelease();
    }
    return this.closed;
  }

  /** Ends the connection at once: see {@linkcode Connection.abort}. */
  abort(reason?: unknown): void {
    if (this.#aborted || this.#socketClosed) return;
    const error = reason === undefined ? connectionAborted() : reason;
    this.#aborted = this.#closing = true;
    this.#endInput({ failed: true, error });
    // Input that had ended before is yours to finish reading no more: its blocks come back.
    if (this.#inputDone) this.#in.reader.complete();
    this.#stopOutput(true, error);
    this.#release(true);
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A view for the runtime to read into: while bytes stream in (the last read filled its
   * view), pool memory (the zero-copy path): the rest of the write head or a fresh block, a
   * bulk block of {@linkcode BULK_READ_BYTES} when the pool has few out; otherwise `idle` (a
   * buffer of the driver's own, or the shared 32 KiB one), copied out by {@linkcode received}.
   * The runtime may hold the view while the socket is idle: only after a read that filled its
   * view is that pool memory.
   */
  readInto(idle: Uint8Array = IDLE_READ): Uint8Array {
    if (this.#inputEnd !== undefined || this.#closing) {
      this.#idleRead = false;
      return DISCARD;
    }
    // Not streaming (the first read, or the last one did not fill its view): the idle buffer,
    // copied out on arrival, so an idle socket holds no pool memory (Node keeps the buffer it
    // was given until the socket is next readable). bench/idle_connections.ts.
    this.#idleRead = !this.#bulk;
    if (this.#idleRead) {
      this.#idleView = idle;
      this.#readLength = idle.length;
      return idle;
    }
    try {
      const view = socketReadView(this.#in.writer, this.#pool, this.#bulk, this.#minRead);
      this.#readLength = view.length;
      this.#viewLent = true;
      return view;
    } catch (error) {
      // The pool is at its limit (maxBytes): fail the connection rather than the runtime's read loop.
      this.failed(error);
      return DISCARD;
    }
  }

  /** `byteCount` bytes were read into the last {@linkcode readInto} view; `false`: pause reading. */
  received(byteCount: number): boolean {
    this.#viewLent = false;
    if (this.#inputEnd !== undefined || this.#closing) {
      this.#finishInput();
      return true;
    }
    // A filled view means more is likely there; an idle buffer below the shared one's size is
    // grown by its driver and read into once more before pool memory is.
    this.#bulk = byteCount === this.#readLength && (!this.#idleRead || byteCount >= IDLE_READ.length);
    if (this.#idleRead) {
      // The one copy of this path: small reads, out of the idle buffer.
      return this.#flushed(this.#in.writer.write(this.#idleView.subarray(0, byteCount)));
    }
    this.#in.writer.advance(byteCount);
    return this.#flushed(this.#in.writer.flush());
  }

  /** A chunk the runtime allocated; copied once into pool memory. `false`: pause reading. */
  receivedCopy(chunk: Uint8Array): boolean {
    if (this.#inputEnd !== undefined || this.#closing) return true;
    // The one copy: this runtime path cannot read into pool memory.
    return this.#flushed(this.#in.writer.write(chunk));
  }

  /** The peer sent FIN: input completes after the bytes before it; the runtime reads no more. */
  peerEnded(): void {
    this.#peerEnded = true;
    this.#viewLent = false;
    this.#endInput(INPUT_ENDED);
    this.#maybeRelease();
  }

  /** The socket failed (reset, TLS error, …): both sides learn the error; the socket closes. */
  failed(error: unknown): void {
    this.#viewLent = false;
    this.#endInput({ failed: true, error });
    this.#stopOutput(true, error);
    this.#release(false);
  }

  /** The socket is closed and the runtime writes into no view any more. */
  socketClosed(error?: unknown): void {
    if (this.#socketClosed) return;
    this.#socketClosed = this.#released = true;
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#viewLent = false;
    this.#endInput(error === undefined ? INPUT_ENDED : { failed: true, error });
    this.#stopOutput(error !== undefined, error);
    if (!this.#pumpRunning) this.#resolveClosed();
  }

  /**
   * A connection whose socket never opened (a failed connect): releases what it holds and
   * settles `closed`.
   */
  discard(error: unknown): void {
    this.socketClosed(error);
    this.#in.reader.complete();
    this.#out.writer.complete();
  }

  // ---- lifecycle ----

  #endInput(end: InputEnd): void {
    if (this.#inputEnd === undefined) this.#inputEnd = end;
    this.#finishInput();
  }

  /**
   * Completes the input writer once input should end and no view of its memory is lent to the
   * runtime (a read in progress would write into blocks gone back to the pool). After abort,
   * completes your side too, so every block comes back.
   */
  #finishInput(): void {
    const end = this.#inputEnd;
    if (this.#inputDone || end === undefined || this.#viewLent) return;
    this.#inputDone = true;
    if (end.failed) this.#in.writer.complete(end.error);
    else this.#in.writer.complete();
    if (this.#aborted) this.#in.reader.complete();
  }

  #stopOutput(failed: boolean, error: unknown): void {
    if (this.#outputStopped) return;
    this.#outputStopped = true;
    this.#outputFailed = failed;
    this.#outputError = error;
    // Wakes the pump if it waits for output; otherwise it sees #outputStopped at its next step.
    this.#bell.ring();
  }

  /**
   * Releases the socket once FIN is sent: at once when the peer ended too, else (closing) after
   * the linger, reading and dropping input meanwhile so the close sends no reset.
   */
  #maybeRelease(): void {
    if (this.#released || !this.#finSent) return;
    if (this.#peerEnded) return this.#release(false);
    if (!this.#closing || this.#lingerTimer !== undefined) return;
    if (this.#lingerMs === 0) return this.#release(false);
    this.#lingerTimer = setTimeout(this.#lingerOver, this.#lingerMs);
  }

  readonly #lingerOver = (): void => {
    this.#lingerTimer = undefined;
    this.#release(false);
  };

  #release(reset: boolean): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    const driver = this.#driver;
    if (driver === undefined) return;
    if (reset) driver.reset();
    else driver.close();
  }

  // Mutate the count, then decide: pause when an earlier flush still waits, or when this one
  // took the reader's unexamined bytes to the pause threshold (its flush waits).
  #flushed(flush: Promise<FlushResult>): boolean {
    // The usual case, a flush that did not wait: nothing to count or to wait for.
    if (this.#flushesPending === 0 && isSettledFlush(flush) && this.#in.unexaminedBytes < PAUSE_THRESHOLD) {
      return true;
    }
    this.#flushesPending++;
    flush.then(this.#onFlushed, this.#onFlushFailed);
    if (this.#flushesPending > 1 || this.#in.unexaminedBytes >= PAUSE_THRESHOLD) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  readonly #onFlushed = (): void => {
    if (--this.#flushesPending === 0 && this.#paused) {
      this.#paused = false;
      if (!this.#released) this.#driver?.resume();
    }
  };

  // You completed the input reader with an error: abort the connection with it.
  readonly #onFlushFailed = (error: unknown): void => {
    this.#flushesPending--;
    this.abort(error);
  };

  // ---- the output pump ----
  //
  // Reads the output channel and hands each buffer to the driver, keeping its blocks (no
  // advanceTo) until the runtime is done with the views. A loop of callbacks rather than an
  // async function, so a request/response costs no promise of its own: parked, it waits for
  // the bell (one microtask after a flush); a write the runtime did not finish at once resumes
  // it from the driver's promise. It ends once the reader is completed (#endPump).

  readonly #pumpStep = (): void => this.#pump();

  #pump(): void {
    const reader = this.#out.reader;
    const driver = this.#driver as SocketDriver;
    try {
      for (;;) {
        if (this.#outputStopped) return this.#pumpStopped(undefined);
        const result = reader.tryRead();
        if (result === undefined) {
          // Nothing flushed: park until a flush, a completion or #stopOutput rings.
          return this.#bell.park();
        }
        const buffer = result.buffer;
        const length = buffer.length;
        const completed = result.isCompleted;
        if (length > 0) {
          // The blocks stay rented (no advanceTo) until the runtime is done with the views.
          this.#pumpWriting = true;
          const written = driver.write(buffer);
          if (written !== undefined) {
            this.#writtenLength = length;
            this.#writtenCompleted = completed;
            written.then(this.#onWritten, this.#onWriteFailed);
            return;
          }
          this.#pumpWriting = false;
          // Stopped meanwhile (Node calls back with no error for a socket destroyed under a
          // write): these bytes count as unsent, and a flush waiting on them rejects.
          if (this.#outputStopped) return this.#pumpStopped(undefined);
        }
        if (this.#pumpWrote(length, completed)) return;
      }
    } catch (error) {
      this.#pumpFailed(error);
    }
  }

  readonly #onWritten = (): void => {
    this.#pumpWriting = false;
    if (this.#outputStopped) return this.#pumpStopped(undefined);
    try {
      if (this.#pumpWrote(this.#writtenLength, this.#writtenCompleted)) return;
    } catch (error) {
      return this.#pumpFailed(error);
    }
    this.#pump();
  };

  readonly #onWriteFailed = (error: unknown): void => this.#pumpFailed(error);

  /** `length` bytes went to the socket: returns their blocks; true when that was the last of output (FIN). */
  #pumpWrote(length: number, completed: boolean): boolean {
    const reader = this.#out.reader;
    reader.advanceTo(length);
    if (!completed || this.#outputStopped) return false;
    reader.complete();
    this.#finSent = true;
    this.#driver?.end();
    this.#endPump();
    this.#maybeRelease();
    return true;
  }

  /** The socket can send no more: completes the reader with the error, if any. */
  #pumpStopped(error: unknown): void {
    const reader = this.#out.reader;
    if (this.#outputFailed) reader.complete(this.#outputError);
    else if (error !== undefined) reader.complete(error);
    else reader.complete();
    this.#pumpDropped();
  }

  #pumpFailed(error: unknown): void {
    const writing = this.#pumpWriting;
    this.#pumpWriting = false;
    if (this.#outputStopped) {
      // The write failed because the socket was closed or aborted under it.
      return this.#pumpStopped(error);
    }
    this.#out.reader.complete(error);
    // A failed write: the socket failed, and your next flush rejects with its error. Otherwise
    // you completed output with an error: abort the connection with it.
    if (writing) this.failed(error);
    else this.abort(error);
    this.#pumpDropped();
  }

  /** Unsent bytes are dropped; after abort your side is completed too, so its blocks come back. */
  #pumpDropped(): void {
    if (this.#aborted) this.#out.writer.complete();
    this.#endPump();
  }

  #endPump(): void {
    if (!this.#pumpRunning) return;
    this.#pumpRunning = false;
    if (this.#socketClosed) this.#resolveClosed();
  }
}

// Channel's default pauseWriterThreshold: the input channel's backpressure.
const PAUSE_THRESHOLD = 65536;

/**
 * Runs a `listen` handler: when it returns the connection closes gracefully; when it throws or
 * rejects the connection is aborted with the error (a reset where the runtime can send one)
 * and `onError` gets it.
 */
export function runHandler(
  connection: SocketConnection,
  handler: ConnectionHandler,
  onError: (error: unknown) => void,
): void {
  let settled: Promise<void>;
  try {
    settled = Promise.resolve(handler(connection));
  } catch (error) {
    settled = Promise.reject(error);
  }
  settled.then(() => void connection.close(), (error: unknown) => {
    connection.abort(error ?? new Error("The connection handler failed"));
    try {
      onError(error);
    } catch (reportError) {
      console.error(reportError);
    }
  });
}

/** An address from what a runtime reports. */
export function netAddr(hostname: string | undefined, port: number | undefined): NetAddr {
  return Object.freeze({ hostname: hostname ?? "", port: port ?? 0 });
}
