/**
 * {@linkcode Channel}: a buffer of pool memory between one writer and one reader, with
 * backpressure (the seed's MemoryPoolChannel, .NET's Pipe).
 *
 * @module
 */

import { BufferSegment } from "./_segment.ts";
import { Waiter } from "./_waiter.ts";
import { examinedMovedBackwards, isIntegerIn, rangeError, stateError, typeError } from "./errors.ts";
import { MemoryPool, type PoolBlock } from "./memory_pool.ts";
import { ReadableBuffer, retargetBuffer } from "./readable_buffer.ts";
import type { ReadableChannel, ReadOptions, ReadResult } from "./readable_channel.ts";
import type { FlushOptions, FlushResult, WritableChannel } from "./writable_channel.ts";

/** Options of {@linkcode Channel}. */
export interface ChannelOptions {
  /**
   * Where segments come from.
   *
   * @default {MemoryPool.shared}
   */
  pool?: MemoryPool;
  /**
   * A flush waits while the reader has this many unexamined bytes or more. `0` never pauses.
   * Checked in `flush`.
   *
   * @default {65536}
   */
  pauseWriterThreshold?: number;
  /**
   * A waiting flush resumes once unexamined bytes fall below this. From 1 to
   * `pauseWriterThreshold` (0 only when pausing is off). Checked in `advanceTo`.
   *
   * @default {Math.max(1, Math.floor(pauseWriterThreshold / 2))} (32768; 0 when pausing is off)
   */
  resumeWriterThreshold?: number;
  /**
   * Bytes a new segment holds at least; larger than the pool's `blockSize` means oversize
   * blocks.
   *
   * @default {pool.blockSize} (4096)
   */
  minimumSegmentSize?: number;
}

// Read states. Transitions (anything else throws a ChannelStateError):
//
// | state     | read()/tryRead() with data | read() without data | advanceTo()  | cancelPendingRead() |
// |-----------|----------------------------|---------------------|--------------|---------------------|
// | IDLE      | → ACTIVE                   | → PENDING           | throws       | flag for next read  |
// | PENDING   | throws READ_IN_PROGRESS    | throws              | throws       | → TENTATIVE         |
// | ACTIVE    | throws READ_IN_PROGRESS    | throws              | → IDLE       | flag for next read  |
// | TENTATIVE | as IDLE (no advance needed)| as IDLE             | → IDLE       | flag for next read  |
//
// A flush or writer completion moves PENDING to ACTIVE; a canceled result is TENTATIVE.
const IDLE = 0;
const PENDING = 1;
const ACTIVE = 2;
const TENTATIVE = 3;
type ReadState = typeof IDLE | typeof PENDING | typeof ACTIVE | typeof TENTATIVE;

// Write states. Transitions (anything else throws):
//
// | state          | getMemory()         | advance(n)                         | flush()/write()/writeUtf8() | complete()       |
// |----------------|---------------------|------------------------------------|-----------------------------|------------------|
// | WRITE_IDLE     | → WRITE_MEMORY      | n = 0 only, else RangeError        | → WRITE_IDLE                | → WRITE_COMPLETED|
// | WRITE_MEMORY   | → WRITE_MEMORY      | n up to what the view has left     | → WRITE_IDLE                | → WRITE_COMPLETED|
// |                | (a view of the rest)| (else RangeError); stays           |                             |                  |
// | WRITE_COMPLETED| throws WRITER_COMPLETED | throws WRITER_COMPLETED        | rejects WRITER_COMPLETED    | nothing (first wins) |
//
// In WRITE_MEMORY the write head is kept even when the reader consumed all of it (the view
// points into it). Orthogonal to these: a flush may wait for backpressure (#flushWaiter; a
// flush or write meanwhile joins it), and once the reader completed, advance and write drop
// their bytes and flushes report isCompleted.
const WRITE_IDLE = 0;
const WRITE_MEMORY = 1;
const WRITE_COMPLETED = 2;
type WriteState = typeof WRITE_IDLE | typeof WRITE_MEMORY | typeof WRITE_COMPLETED;

// Flush results are shared and frozen; so are the settled promises of them, which makes a
// flush that need not wait allocation-free.
const FLUSH_RESULTS: readonly FlushResult[] = [
  Object.freeze({ isCompleted: false, isCanceled: false }),
  Object.freeze({ isCompleted: false, isCanceled: true }),
  Object.freeze({ isCompleted: true, isCanceled: false }),
  Object.freeze({ isCompleted: true, isCanceled: true }),
];
const FLUSH_PROMISES: readonly Promise<FlushResult>[] = FLUSH_RESULTS.map((r) => Promise.resolve(r));

function flushResult(completed: boolean, canceled: boolean): FlushResult {
  return FLUSH_RESULTS[(completed ? 2 : 0) + (canceled ? 1 : 0)] as FlushResult;
}

function flushPromise(completed: boolean, canceled: boolean): Promise<FlushResult> {
  return FLUSH_PROMISES[(completed ? 2 : 0) + (canceled ? 1 : 0)] as Promise<FlushResult>;
}

/** The one result object a channel reuses for every read. */
class ChannelReadResult implements ReadResult {
  buffer: ReadableBuffer;
  isCompleted = false;
  isCanceled = false;
  constructor(buffer: ReadableBuffer) {
    this.buffer = buffer;
  }
}

// How many microtasks a flush waits before it wakes a waiting reader. Waking at once gives one
// chunk per read when producer and consumer alternate; letting the producer's own continuation
// run first batches several flushes into one read. bench/channel_throughput.ts, 1 and 4 KiB
// chunks: 1 hop (wake at once) vs 4 hops = 260 vs ~150 ns a chunk on Deno, 210 vs ~160 on Bun.
// 8 hops batch 4.5 writes a read instead of 2.5, and cost 8–12 % less a chunk than 4 (Deno and
// Bun, the fastest of 25 interleaved runs); 16 hit the 64 KiB pause threshold at 4 KiB chunks,
// 32 lost. Latency grows by only these few microtasks.
const WAKE_DELAY_MICROTASKS = 8;

// Segment objects kept for reuse per channel (as Pipe's BufferSegment stack).
const MAX_SPARE_SEGMENTS = 256;
// The largest span a write() rents for its bytes (a write past it takes several). Past 64 KiB,
// one segment more per MiB costs next to nothing, while a longer run of free blocks is harder
// for the pool to find.
const MAX_WRITE_SPAN = 1024 * 1024;
const EMPTY = new Uint8Array(0);
const MAX_MINIMUM_SEGMENT_SIZE = 1024 * 1024 * 1024;

let createFacades: (channel: Channel) => [ReadableChannel, WritableChannel];
let setWakeAtOnce: (channel: Channel) => void;

/**
 * Makes `channel`'s flushes wake a waiting reader at once instead of WAKE_DELAY_MICROTASKS
 * later. For a writer that flushes at most once per macrotask (a socket's reads: the next one
 * comes from the event loop), the delay batches nothing and costs a request/response a chain
 * of microtasks (bench/http.ts). Internal: not exported from mod.ts.
 */
export function wakeReaderAtOnce(channel: Channel): void {
  setWakeAtOnce(channel);
}

/**
 * True when `flush` is a flush result that was settled and fulfilled before it was returned
 * (the flush did not wait): nothing will come of awaiting it, so a caller may skip `then`.
 * Internal: not exported from mod.ts.
 */
export function isSettledFlush(flush: Promise<FlushResult>): boolean {
  return flush === FLUSH_PROMISES[0] || flush === FLUSH_PROMISES[2] || flush === FLUSH_PROMISES[1] ||
    flush === FLUSH_PROMISES[3];
}

/**
 * A channel: the writer rents pool memory, fills it and flushes; the reader gets every
 * flushed byte as one {@linkcode ReadableBuffer} of segments and says how much it consumed
 * and examined. Nothing is copied inside the channel.
 *
 * - **Backpressure** counts *examined* bytes: a flush waits while the reader has
 *   `pauseWriterThreshold` or more bytes it has not examined, until they fall below
 *   `resumeWriterThreshold`.
 * - **Memory**: segments go back to the pool as soon as they are consumed, and all of them
 *   once both sides completed.
 * - **Views** handed out by `getMemory` and by reads are views of pool memory (WebAssembly
 *   memory that never grows, so they never detach); each API says when its views die.
 * - One reader and one writer, which may run concurrently as async tasks.
 *
 * @example Writing and reading a message
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * const memory = writer.getMemory(5);
 * memory.set([104, 101, 108, 108, 111]);
 * writer.advance(5);
 * await writer.flush();
 * writer.complete();
 *
 * const result = await reader.read();
 * assert.equal(new TextDecoder().decode(result.buffer.toUint8Array()), "hello");
 * assert.equal(result.isCompleted, true);
 * reader.advanceTo(result.buffer.length);
 * reader.complete();
 * ```
 *
 * @example Parsing lines, keeping a partial line for the next read
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferReader, Channel } from "@channels/channels";
 *
 * const channel = new Channel();
 * const lines: string[] = [];
 * const consumer = (async () => {
 *   for (;;) {
 *     const { buffer, isCompleted } = await channel.reader.read();
 *     const parser = new BufferReader(buffer);
 *     for (let line; (line = parser.tryReadTo(0x0a)) !== undefined;) {
 *       lines.push(new TextDecoder().decode(line.toUint8Array()));
 *     }
 *     // Consumed: the whole lines. Examined: everything, so the next read waits for more.
 *     channel.reader.advanceTo(parser.consumed, buffer.length);
 *     if (isCompleted) break;
 *   }
 *   channel.reader.complete();
 * })();
 * await channel.writer.writeUtf8("first\nsec");
 * await channel.writer.writeUtf8("ond\n");
 * channel.writer.complete();
 * await consumer;
 * assert.deepEqual(lines, ["first", "second"]);
 * ```
 */
export class Channel {
  /** The reading side. */
  readonly reader: ReadableChannel;
  /** The writing side. */
  readonly writer: WritableChannel;

  readonly #pool: MemoryPool;
  readonly #pause: number;
  readonly #resume: number;
  readonly #minimumSegmentSize: number;
  readonly #maxWriteSpan: number; // MAX_WRITE_SPAN, or less when the pool's slabs are smaller

  // The mutable state below is declared with values of its type (so engines keep numbers
  // unboxed); #initState() sets what a new or reset channel starts from.

  // Segments holding unconsumed (or unflushed) bytes, oldest first: #segments[#segmentHead..].
  // Consecutive segments are contiguous in the stream: next.runningIndex = seg.runningIndex + seg.end.
  // The last one is the write head. Entries before #segmentHead are dead (compacted lazily).
  readonly #segments: BufferSegment[] = [];
  #segmentHead = 0;
  readonly #spare: BufferSegment[] = [];

  // Stream positions (bytes since creation, reset, or the last time nothing was buffered: see
  // #rebase). Invariant: #headPosition <= #examinedPosition <= #tailPosition <= #writePosition.
  #headPosition = 0; // first unconsumed byte
  #examinedPosition = 0; // end of the bytes the reader has examined
  #tailPosition = 0; // end of flushed bytes
  #writePosition = 0; // end of committed (advanced) bytes

  // Writer
  #writeState: WriteState = WRITE_IDLE; // see the table above
  #writeAvailable = 0; // bytes `advance` may still commit from the last getMemory view (WRITE_MEMORY)
  #memoryView: Uint8Array | undefined; // the last getMemory view, reused while nothing moved
  #memoryViewEnd = -1; // #writePosition when #memoryView was made
  #markPosition = 0; // #writePosition when the current write started
  #markEnd = 0; // the write head's end when the current write started
  #writerError: unknown = undefined;
  #writerFailed = false;
  #flushCancelRequested = false;
  // Hysteresis: set when a flush takes unexamined bytes from below the pause threshold to it
  // or above, cleared when they fall below the resume threshold (or readAtLeast needs more).
  #writerPaused = false;
  readonly #flushWaiter: Waiter<FlushResult>;

  // Reader
  #readState: ReadState = IDLE;
  #readerCompleted = false;
  #readerError: unknown = undefined;
  #readerFailed = false;
  #readCancelRequested = false;
  #minimumRead = 1; // bytes the pending read waits for (readAtLeast)
  #bufferStart = 0; // stream position of the last result's buffer
  #bufferEnd = 0;
  readonly #readWaiter: Waiter<ReadResult>;
  // A flush wakes a waiting reader a few microtasks later, not at once, so a producer that is
  // ahead can flush more first and one read returns them all (see WAKE_DELAY_MICROTASKS).
  // Not part of #initState(): a wake in flight at a reset ends on its own and settles nothing
  // unless a read is pending and can be served, as a fresh wake would.
  #wakeScheduled = false;
  #wakeHops = 0;
  // Wake a waiting reader in the flush itself (see wakeReaderAtOnce).
  #wakeAtOnce = false;
  readonly #wake = (): void => {
    if (++this.#wakeHops < WAKE_DELAY_MICROTASKS) {
      SETTLED.then(this.#wake);
      return;
    }
    this.#wakeHops = 0;
    this.#wakeScheduled = false;
    if (this.#readState === PENDING && this.#canRead(this.#minimumRead)) this.#settleRead();
  };
  readonly #buffer: ReadableBuffer;
  readonly #result: ChannelReadResult;
  readonly #ready: Promise<ReadResult>;

  static {
    // The two sides: one small object each whose methods live on a prototype (closures per
    // channel would cost ~1 KiB of heap each: bench/idle_connections.ts). Declared inside the
    // class body so they reach its private members.
    class Reader implements ReadableChannel {
      readonly #channel: Channel;
      constructor(channel: Channel) {
        this.#channel = channel;
      }
      read(options?: ReadOptions): Promise<ReadResult> {
        return this.#channel.#read(1, options);
      }
      readAtLeast(minimumSize: number, options?: ReadOptions): Promise<ReadResult> {
        if (!isIntegerIn(minimumSize, 0, Number.MAX_SAFE_INTEGER)) {
          return Promise.reject(rangeError("read", "minimumSize must be a non-negative integer", minimumSize));
        }
        return this.#channel.#read(Math.max(1, minimumSize), options);
      }
      tryRead(): ReadResult | undefined {
        return this.#channel.#tryRead();
      }
      advanceTo(consumed: number, examined: number = consumed): void {
        this.#channel.#advanceTo(consumed, examined);
      }
      cancelPendingRead(): void {
        this.#channel.#cancelPendingRead();
      }
      complete(error?: unknown): void {
        this.#channel.#completeReader(error);
      }
    }
    class Writer implements WritableChannel {
      readonly #channel: Channel;
      constructor(channel: Channel) {
        this.#channel = channel;
      }
      getMemory(sizeHint: number = 0): Uint8Array {
        return this.#channel.#getMemory(sizeHint);
      }
      advance(byteCount: number): void {
        this.#channel.#advance(byteCount);
      }
      flush(options?: FlushOptions): Promise<FlushResult> {
        return this.#channel.#flush(options);
      }
      write(data: Uint8Array, options?: FlushOptions): Promise<FlushResult> {
        return this.#channel.#write(data, options);
      }
      writeUtf8(text: string, options?: FlushOptions): Promise<FlushResult> {
        return this.#channel.#writeUtf8(text, options);
      }
      get unflushedBytes(): number {
        return this.#channel.#writePosition - this.#channel.#tailPosition;
      }
      cancelPendingFlush(): void {
        this.#channel.#cancelPendingFlush();
      }
      complete(error?: unknown): void {
        this.#channel.#completeWriter(error);
      }
    }
    createFacades = (channel) => [new Reader(channel), new Writer(channel)];
    setWakeAtOnce = (channel) => (channel.#wakeAtOnce = true);
  }

  /**
   * Creates a channel.
   *
   * @param options Pool, thresholds and segment size.
   * @throws {RangeError} When a threshold or the segment size is out of range.
   */
  constructor(options?: ChannelOptions) {
    if (options === undefined) options = {};
    const pool = options.pool ?? MemoryPool.shared;
    if (!(pool instanceof MemoryPool)) throw typeError("create the channel", "pool must be a MemoryPool", pool);
    const pause = options.pauseWriterThreshold ?? 65536;
    if (!isIntegerIn(pause, 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("create the channel", "pauseWriterThreshold must be a non-negative integer", pause);
    }
    const resume = options.resumeWriterThreshold ?? (pause === 0 ? 0 : Math.max(1, Math.floor(pause / 2)));
    if (pause > 0 && !isIntegerIn(resume, 1, pause)) {
      throw rangeError("create the channel", `resumeWriterThreshold must be an integer from 1 to ${pause}`, resume);
    }
    if (pause === 0 && !isIntegerIn(resume, 0, 0)) {
      throw rangeError("create the channel", "resumeWriterThreshold must be 0 when pauseWriterThreshold is 0", resume);
    }
    const minimumSegmentSize = options.minimumSegmentSize ?? pool.blockSize;
    if (!isIntegerIn(minimumSegmentSize, 1, MAX_MINIMUM_SEGMENT_SIZE)) {
      throw rangeError(
        "create the channel",
        `minimumSegmentSize must be an integer from 1 to ${MAX_MINIMUM_SEGMENT_SIZE}`,
        minimumSegmentSize,
      );
    }
    this.#pool = pool;
    this.#pause = pause;
    this.#resume = resume;
    this.#minimumSegmentSize = minimumSegmentSize;
    this.#maxWriteSpan = Math.max(1, Math.min(MAX_WRITE_SPAN, pool.blockSize * pool.blocksPerSlab));
    this.#flushWaiter = new Waiter<FlushResult>(() => {});
    this.#readWaiter = new Waiter<ReadResult>(() => {
      this.#readState = IDLE;
      this.#minimumRead = 1;
    });
    this.#buffer = new ReadableBuffer(this.#segments, 0, 0, 0, 0);
    this.#result = new ChannelReadResult(this.#buffer);
    this.#ready = Promise.resolve(this.#result);
    [this.reader, this.writer] = createFacades(this);
    this.#initState();
  }

  /** The pool the channel rents from. */
  get pool(): MemoryPool {
    return this.#pool;
  }

  /** Flushed bytes the reader has not examined: the measure backpressure compares. */
  get unexaminedBytes(): number {
    return this.#tailPosition - this.#examinedPosition;
  }

  /**
   * Makes a channel whose both sides completed usable again, as new.
   *
   * @throws {ChannelStateError} `RESET_WHILE_OPEN` when a side is not completed.
   */
  reset(): void {
    if (!this.#readerCompleted || this.#writeState !== WRITE_COMPLETED) throw stateError("RESET_WHILE_OPEN");
    this.#releaseAll();
    this.#initState();
  }

  /** The state of a new channel: nothing written, both sides open and idle. */
  #initState(): void {
    this.#headPosition =
      this.#examinedPosition =
      this.#tailPosition =
      this.#writePosition =
        0;
    this.#writeState = WRITE_IDLE;
    this.#writeAvailable = 0;
    this.#memoryView = undefined;
    this.#memoryViewEnd = -1;
    this.#markPosition = this.#markEnd = 0;
    this.#writerError = undefined;
    this.#writerFailed = this.#flushCancelRequested = this.#writerPaused = false;
    this.#readState = IDLE;
    this.#readerError = undefined;
    this.#readerCompleted = this.#readerFailed = this.#readCancelRequested = false;
    this.#minimumRead = 1;
    this.#bufferStart = this.#bufferEnd = 0;
    retargetBuffer(this.#buffer, this.#segments, 0, 0, 0, 0);
    this.#result.isCompleted = this.#result.isCanceled = false;
  }

  // ---- writer ----

  #getMemory(sizeHint: number): Uint8Array {
    if (this.#writeState === WRITE_COMPLETED) throw stateError("WRITER_COMPLETED");
    if (!isIntegerIn(sizeHint, 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("get memory", "sizeHint must be a non-negative integer", sizeHint);
    }
    const need = sizeHint > 0 ? sizeHint : 1;
    const view = this.#memoryView;
    if (view !== undefined && this.#memoryViewEnd === this.#writePosition && view.length >= need) {
      this.#writeState = WRITE_MEMORY;
      this.#writeAvailable = view.length;
      return view;
    }
    const seg = this.#ensureSpace(need);
    // A fresh segment's whole block is the view: no subarray to allocate (bench/alloc_per_cycle.ts).
    const fresh = seg.end === 0 ? seg.bytes : seg.bytes.subarray(seg.end);
    this.#memoryView = fresh;
    this.#memoryViewEnd = this.#writePosition;
    this.#writeState = WRITE_MEMORY;
    this.#writeAvailable = fresh.length;
    return fresh;
  }

  #advance(byteCount: number): void {
    if (this.#writeState === WRITE_COMPLETED) throw stateError("WRITER_COMPLETED");
    if (this.#writeState !== WRITE_MEMORY && isIntegerIn(byteCount, 1, Number.MAX_SAFE_INTEGER)) {
      throw stateError("NO_MEMORY_TO_ADVANCE", `byteCount ${byteCount}`);
    }
    if (!isIntegerIn(byteCount, 0, this.#writeAvailable)) {
      throw rangeError(
        "advance the writer",
        `byteCount must be an integer from 0 to ${this.#writeAvailable} (what the last getMemory() view has left)`,
        byteCount,
      );
    }
    // Once the reader is gone, bytes are dropped: the write head is reused (see #ensureSpace).
    if (byteCount === 0 || this.#readerCompleted) return;
    (this.#segments[this.#segments.length - 1] as BufferSegment).end += byteCount;
    this.#writePosition += byteCount;
    this.#writeAvailable -= byteCount;
  }

  #flush(options: FlushOptions | undefined): Promise<FlushResult> {
    if (this.#writeState === WRITE_COMPLETED) return Promise.reject(stateError("WRITER_COMPLETED"));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const before = this.#tailPosition - this.#examinedPosition;
    this.#commit();
    if (this.#readerCompleted) {
      if (this.#readerFailed) return Promise.reject(this.#readerError);
      const canceled = this.#flushCancelRequested;
      this.#flushCancelRequested = false;
      return flushPromise(true, canceled);
    }
    if (this.#flushWaiter.pending) return this.#flushWaiter.promise;
    if (this.#flushCancelRequested) {
      this.#flushCancelRequested = false;
      return flushPromise(false, true);
    }
    if (this.#crossesPause(before)) this.#writerPaused = true;
    if (this.#writerPaused) {
      // The writer waits for the reader, so it flushes nothing more: wake a waiting reader now
      // instead of WAKE_DELAY_MICROTASKS later (a 64 KiB write reaches the default pause each time).
      if (this.#readState === PENDING && this.#canRead(this.#minimumRead)) this.#settleRead();
      return this.#flushWaiter.wait(signal);
    }
    return flushPromise(false, false);
  }

  #write(data: Uint8Array, options: FlushOptions | undefined): Promise<FlushResult> {
    if (this.#writeState === WRITE_COMPLETED) return Promise.reject(stateError("WRITER_COMPLETED"));
    if (!(data instanceof Uint8Array)) return Promise.reject(typeError("write", "data must be a Uint8Array", data));
    // An aborted signal writes nothing (as .NET's WriteAsync with a canceled token): a retry never sends bytes twice.
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.#readerCompleted) return this.#flush(options);
    const mark = this.#markWrite();
    try {
      let offset = 0;
      const length = data.length;
      while (offset < length) {
        const seg = this.#spaceFor(length - offset, 1);
        const n = Math.min(seg.bytes.length - seg.end, length - offset);
        seg.bytes.set(n === length ? data : data.subarray(offset, offset + n), seg.end);
        seg.end += n;
        this.#writePosition += n;
        offset += n;
      }
    } catch (error) {
      this.#undoWrite(mark);
      return Promise.reject(error);
    }
    return this.#flush(options);
  }

  #writeUtf8(text: string, options: FlushOptions | undefined): Promise<FlushResult> {
    if (this.#writeState === WRITE_COMPLETED) return Promise.reject(stateError("WRITER_COMPLETED"));
    if (typeof text !== "string") return Promise.reject(typeError("write text", "text must be a string", text));
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason); // writes nothing, as write()
    if (this.#readerCompleted) return this.#flush(options);
    const mark = this.#markWrite();
    try {
      let rest = text;
      while (rest.length > 0) {
        // Room for one byte per UTF-16 unit (all of an ASCII text) when that is a span; at
        // least 4 free bytes, which always fit the next code point, so every turn makes progress.
        const seg = this.#spaceFor(rest.length, rest.length > 1 ? 4 : 3);
        const { read, written } = encoder.encodeInto(rest, seg.bytes.subarray(seg.end));
        seg.end += written;
        this.#writePosition += written;
        rest = read === rest.length ? "" : rest.slice(read);
      }
    } catch (error) {
      this.#undoWrite(mark);
      return Promise.reject(error);
    }
    return this.#flush(options);
  }

  /**
   * The write head with room for the next part of a write with `left` bytes to go, and at
   * least `minimum` free bytes. Up to a segment's worth fills the write head first; more gets
   * one span for as much of it as #maxWriteSpan allows (a 64 KiB write is one segment: one
   * copy in, one kernel call or socket write out), leaving the rest of a write head that
   * cannot hold it unused.
   */
  #spaceFor(left: number, minimum: number): BufferSegment {
    if (left <= this.#minimumSegmentSize) return this.#ensureSpace(minimum);
    const span = left < this.#maxWriteSpan ? left : this.#maxWriteSpan;
    try {
      return this.#ensureSpace(span > minimum ? span : minimum);
    } catch (error) {
      // A pool near its maxBytes may have no run of free blocks that long: go block by block.
      if (error instanceof RangeError) return this.#ensureSpace(minimum);
      throw error;
    }
  }

  /** Where a write starts: segment count and the write head's end (see #undoWrite). */
  #markWrite(): number {
    const segments = this.#segments;
    this.#markEnd = segments.length > this.#segmentHead ? (segments[segments.length - 1] as BufferSegment).end : 0;
    this.#markPosition = this.#writePosition;
    return segments.length;
  }

  /**
   * Takes back the bytes of a write that failed part way (the pool hit maxBytes), so a caller
   * that retries does not send them twice.
   */
  #undoWrite(segmentCount: number): void {
    const segments = this.#segments;
    while (segments.length > segmentCount) this.#recycle(segments.pop() as BufferSegment);
    if (segments.length > this.#segmentHead) (segments[segments.length - 1] as BufferSegment).end = this.#markEnd;
    this.#writePosition = this.#markPosition;
  }

  #cancelPendingFlush(): void {
    if (this.#flushWaiter.pending) this.#flushWaiter.resolve(flushResult(this.#readerCompleted, true));
    else this.#flushCancelRequested = true;
  }

  #completeWriter(error: unknown): void {
    if (this.#writeState === WRITE_COMPLETED) return;
    this.#writeState = WRITE_COMPLETED;
    if (error !== undefined) {
      this.#writerFailed = true;
      this.#writerError = error;
    }
    // Completing commits what was advanced but not flushed.
    this.#tailPosition = this.#writePosition;
    this.#writeAvailable = 0;
    this.#memoryView = undefined;
    if (this.#flushWaiter.pending) this.#flushWaiter.resolve(flushResult(this.#readerCompleted, false));
    if (this.#readState === PENDING) this.#settleRead();
    if (this.#readerCompleted) this.#releaseAll();
    else this.#releaseConsumed();
  }

  /** Commits advanced bytes and wakes a waiting reader if they are enough. */
  #commit(): void {
    this.#writeState = WRITE_IDLE;
    this.#writeAvailable = 0;
    if (this.#writePosition === this.#tailPosition) return;
    this.#tailPosition = this.#writePosition;
    if (this.#readState === PENDING && !this.#wakeScheduled && this.#canRead(this.#minimumRead)) {
      if (this.#wakeAtOnce) return this.#settleRead();
      this.#wakeScheduled = true;
      SETTLED.then(this.#wake);
    }
  }

  /** True when this flush took unexamined bytes from below the pause threshold to it or above. */
  #crossesPause(before: number): boolean {
    if (this.#pause === 0 || before >= this.#pause || this.#tailPosition - this.#examinedPosition < this.#pause) {
      return false;
    }
    // A readAtLeast that needs more than is buffered must get it: pausing would deadlock.
    return !(this.#readState === PENDING && this.#tailPosition - this.#headPosition < this.#minimumRead);
  }

  /** The write head with at least `need` free bytes, renting a block when needed. */
  #ensureSpace(need: number): BufferSegment {
    const segments = this.#segments;
    let seg: BufferSegment | undefined = segments[segments.length - 1];
    if (seg !== undefined && segments.length > this.#segmentHead) {
      if (this.#readerCompleted) seg.end = 0; // nobody reads: reuse the block from its start
      if (seg.bytes.length - seg.end >= need) return seg;
      if (seg.end === 0) {
        // An empty write head too small for the request: swap its block for a larger one.
        const block = this.#pool.rent(Math.max(this.#minimumSegmentSize, need));
        this.#pool.release(seg.block as PoolBlock);
        seg.block = block;
        seg.bytes = block.bytes;
        return seg;
      }
    }
    const block = this.#pool.rent(Math.max(this.#minimumSegmentSize, need));
    seg = this.#spare.pop();
    if (seg === undefined) {
      seg = new BufferSegment(block, block.bytes, 0, this.#writePosition);
    } else {
      seg.block = block;
      seg.bytes = block.bytes;
      seg.end = 0;
      seg.runningIndex = this.#writePosition;
    }
    segments.push(seg);
    return seg;
  }

  // ---- reader ----

  #read(minimum: number, options: ReadOptions | undefined): Promise<ReadResult> {
    if (this.#readerCompleted) return Promise.reject(stateError("READER_COMPLETED"));
    if (this.#readState === PENDING || this.#readState === ACTIVE) {
      return Promise.reject(stateError("READ_IN_PROGRESS"));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#readState = IDLE;
    if (this.#writerFailed) return Promise.reject(this.#writerError);
    if (this.#canRead(minimum)) {
      this.#fillResult();
      return this.#ready;
    }
    this.#minimumRead = minimum;
    this.#readState = PENDING;
    // ReadAtLeast past the pause threshold: let the paused writer go on, or it never could.
    if (this.#writerPaused && this.#tailPosition - this.#headPosition < minimum) {
      this.#writerPaused = false;
      if (this.#flushWaiter.pending) this.#flushWaiter.resolve(flushResult(false, false));
    }
    return this.#readWaiter.wait(signal);
  }

  #tryRead(): ReadResult | undefined {
    if (this.#readerCompleted) throw stateError("READER_COMPLETED");
    if (this.#readState === PENDING || this.#readState === ACTIVE) throw stateError("READ_IN_PROGRESS");
    this.#readState = IDLE;
    if (this.#writerFailed) throw this.#writerError;
    if (!this.#canRead(1)) return undefined;
    this.#fillResult();
    return this.#result;
  }

  #canRead(minimum: number): boolean {
    return this.#readCancelRequested || this.#writeState === WRITE_COMPLETED ||
      (this.#tailPosition > this.#examinedPosition && this.#tailPosition - this.#headPosition >= minimum);
  }

  /** Settles the pending read from the current state. */
  #settleRead(): void {
    this.#minimumRead = 1;
    if (this.#writerFailed && !this.#readCancelRequested) {
      this.#readState = IDLE;
      this.#readWaiter.reject(this.#writerError);
      return;
    }
    this.#fillResult();
    this.#readWaiter.resolve(this.#result);
  }

  /** Points the shared result at every flushed, unconsumed byte. */
  #fillResult(): void {
    const canceled = this.#readCancelRequested;
    this.#readCancelRequested = false;
    const segments = this.#segments;
    const start = this.#headPosition;
    const end = this.#tailPosition;
    let first = this.#segmentHead;
    let last = segments.length - 1;
    // A consumed write head kept for an outstanding getMemory view holds no bytes of this buffer.
    while (first < last) {
      const seg = segments[first] as BufferSegment;
      if (seg.runningIndex + seg.end > start) break;
      first++;
    }
    // The write head may hold only unflushed bytes: step back to the segment holding end - 1.
    while (last > first && (segments[last] as BufferSegment).runningIndex >= end) last--;
    retargetBuffer(this.#buffer, segments, first, Math.max(first, last), start, end);
    this.#result.isCompleted = this.#writeState === WRITE_COMPLETED;
    this.#result.isCanceled = canceled;
    this.#bufferStart = start;
    this.#bufferEnd = end;
    this.#readState = canceled ? TENTATIVE : ACTIVE;
  }

  #advanceTo(consumed: number, examined: number): void {
    if (this.#readerCompleted) throw stateError("READER_COMPLETED");
    if (this.#readState !== ACTIVE && this.#readState !== TENTATIVE) throw stateError("NO_READ_TO_ADVANCE");
    const length = this.#bufferEnd - this.#bufferStart;
    if (!isIntegerIn(consumed, 0, length)) {
      throw rangeError("advance the reader", `consumed must be an integer from 0 to ${length}`, consumed);
    }
    if (!isIntegerIn(examined, 0, length)) {
      throw rangeError("advance the reader", `examined must be an integer from 0 to ${length}`, examined);
    }
    if (examined < consumed) {
      throw stateError("EXAMINED_BEFORE_CONSUMED", `examined ${examined} with consumed ${consumed}`);
    }
    const examinedPosition = this.#bufferStart + examined;
    if (examinedPosition < this.#examinedPosition) {
      throw examinedMovedBackwards(examined, this.#examinedPosition - this.#bufferStart);
    }

    this.#readState = IDLE;
    this.#examinedPosition = examinedPosition;
    this.#headPosition = this.#bufferStart + consumed;
    this.#releaseConsumed();
    if (this.#writerPaused && this.#tailPosition - this.#examinedPosition < this.#resume) {
      this.#writerPaused = false;
    }
    if (this.#flushWaiter.pending && !this.#writerPaused) {
      const canceled = this.#flushCancelRequested;
      this.#flushCancelRequested = false;
      this.#flushWaiter.resolve(flushResult(false, canceled));
    }
  }

  #cancelPendingRead(): void {
    this.#readCancelRequested = true;
    if (this.#readState === PENDING) this.#settleRead();
  }

  #completeReader(error: unknown): void {
    if (this.#readerCompleted) return;
    this.#readerCompleted = true;
    if (error !== undefined) {
      this.#readerFailed = true;
      this.#readerError = error;
    }
    if (this.#readState === PENDING) this.#readWaiter.reject(stateError("READER_COMPLETED"));
    this.#readState = IDLE;
    this.#writerPaused = false;
    // Unread bytes are dropped.
    this.#headPosition = this.#examinedPosition = this.#tailPosition;
    if (this.#flushWaiter.pending) {
      if (this.#readerFailed) this.#flushWaiter.reject(this.#readerError);
      else this.#flushWaiter.resolve(flushResult(true, false));
    }
    if (this.#writeState === WRITE_COMPLETED) this.#releaseAll();
    else this.#releaseConsumed();
  }

  // ---- memory ----

  /**
   * Returns fully consumed segments to the pool (the write head only when no view is out),
   * last first: the pool rents last-in first-out, so the next blocks rented come back in
   * address order, and segments adjacent in memory let codecs make one kernel call for
   * several (bench/base64.ts, "scattered" vs "adjacent").
   */
  #releaseConsumed(): void {
    const segments = this.#segments;
    const head = this.#segmentHead;
    let i = head;
    const count = segments.length;
    while (i < count) {
      const seg = segments[i] as BufferSegment;
      if (seg.runningIndex + seg.end > this.#headPosition) break;
      if (
        i === count - 1 &&
        (this.#writeState === WRITE_MEMORY || (this.#readerCompleted && this.#writeState !== WRITE_COMPLETED))
      ) break;
      i++;
    }
    for (let k = i - 1; k >= head; k--) this.#recycle(segments[k] as BufferSegment);
    this.#segmentHead = i;
    if (i === count) {
      clear(segments);
      this.#segmentHead = 0;
      this.#memoryView = undefined;
      if (this.#headPosition === this.#writePosition) this.#rebase();
    } else if (i >= 32 && i * 2 >= count) {
      segments.copyWithin(0, i);
      for (let k = count - i; k < count; k++) segments.pop();
      this.#segmentHead = 0;
    }
  }

  /**
   * Counts positions from 0 again once nothing is buffered. Positions are only ever compared
   * and subtracted, so shifting all of them changes nothing, and keeps them small integers:
   * past 2^30 (1 GiB through one channel) engines store them as heap numbers, which a write
   * and a read then allocate (bench/alloc_per_cycle.ts, the 64 KiB case).
   */
  #rebase(): void {
    const shift = this.#writePosition;
    this.#headPosition =
      this.#examinedPosition =
      this.#tailPosition =
      this.#writePosition =
        0;
    this.#bufferStart -= shift;
    this.#bufferEnd -= shift;
    this.#memoryViewEnd = -1;
  }

  #releaseAll(): void {
    const segments = this.#segments;
    for (let i = segments.length - 1; i >= this.#segmentHead; i--) this.#recycle(segments[i] as BufferSegment);
    clear(segments);
    this.#segmentHead = 0;
    this.#memoryView = undefined;
  }

  #recycle(seg: BufferSegment): void {
    this.#pool.release(seg.block as PoolBlock);
    seg.block = null;
    seg.bytes = EMPTY; // a kept segment must not keep a slab the pool may trim alive
    if (this.#spare.length < MAX_SPARE_SEGMENTS) this.#spare.push(seg);
  }
}

const encoder = new TextEncoder();
// A microtask hop: `.then` on a settled promise. Node's queueMicrotask goes through async_hooks
// and cost ~90 ns more per chunk there (bench/channel_throughput.ts); elsewhere they measure alike.
const SETTLED: Promise<void> = Promise.resolve();

/** Empties an array but keeps its storage (V8 frees it on `length = 0`: bench/alloc_per_cycle.ts). */
function clear(array: unknown[]): void {
  while (array.length > 0) array.pop();
}
