/**
 * {@linkcode RunCursor}: the one walk over a buffer's bytes as runs, for the code that works
 * on bytes where they lie (base64, UTF-8, lines, search, the socket writers). A run is one
 * segment's bytes, or consecutive segments that lie next to each other in the same memory
 * joined into one (a channel rents blocks in address order, so a bulk write is mostly one
 * run): one kernel call, one `TextDecoder` call or one socket write covers it.
 *
 * | what the cursor gives | allocates? |
 * | --- | --- |
 * | `bytes`, `from`, `to` (the run is `bytes[from, to)`) | no: a segment's own view, or for joined segments the kernel layer's view of the whole pool memory (one per walk for other memory) |
 * | `view()` | only when the run is not exactly one segment's whole view (a slice, or joined segments) |
 *
 * Start a walk with `walkRuns` (readable_buffer.ts), which knows where a buffer's bytes lie.
 *
 * @module
 */

import type { BufferSegment } from "./_segment.ts";
import { memoryView } from "./_wasm/registry.ts";
import type { PoolBlock } from "./memory_pool.ts";

const EMPTY = new Uint8Array(0);
const NO_SEGMENTS: readonly BufferSegment[] = [];

// Whether consecutive adjacent segments are joined; tests turn it off to reach every segment
// boundary.
let joinRuns = true;

/** Turns the joining of adjacent segments off or back on (tests only). */
export function setRunJoiningForTesting(enabled: boolean): void {
  joinRuns = enabled;
}

/**
 * A walk over the runs of a range of segments, one `next()` per run. Invariants: the walk covers
 * stream positions `[#start, #end)`; `#index` is the next segment to look at; the current run is
 * `bytes[from, to)` and starts `offset` bytes after `#start`. Reusable: `reset` starts a new walk.
 */
export class RunCursor {
  #segments: readonly BufferSegment[] = NO_SEGMENTS;
  #index = 0;
  #last = -1;
  #start = 0;
  #end = 0;
  #join = true;
  // A view of a whole ArrayBuffer that is not pool memory, for runs of joined segments (made
  // once per walk; pool memories have one view each in the kernel registry).
  #wholeBuffer: ArrayBufferLike | undefined;
  #whole: Uint8Array = EMPTY;
  /** The view the current run lies in: a segment's bytes, or a whole memory for joined segments. */
  bytes: Uint8Array = EMPTY;
  /** Offset of the run's first byte in `bytes`. */
  from = 0;
  /** Offset after the run's last byte in `bytes`. */
  to = 0;
  /** Offset of the run's first byte from the start of the walk. */
  offset = 0;
  /** The pool block of the run's first segment (all of a run's blocks share its memory), or null. */
  block: PoolBlock | null = null;

  /**
   * Starts a walk over stream positions `[start, end)` of `segments[first..last]`, where
   * `segments[first]` holds `start` (internal: `walkRuns` calls it). `join` false keeps every
   * segment a run of its own.
   */
  reset(
    segments: readonly BufferSegment[],
    first: number,
    last: number,
    start: number,
    end: number,
    join: boolean = true,
  ): this {
    this.#segments = segments;
    this.#index = first;
    this.#last = end > start ? last : first - 1;
    this.#start = start;
    this.#end = end;
    this.#join = join && joinRuns;
    this.offset = 0;
    this.from = this.to = 0;
    return this;
  }

  /** Moves to the next run; false (and the segments forgotten) at the end. */
  next(): boolean {
    const segments = this.#segments;
    const last = this.#last;
    const end = this.#end;
    this.offset += this.to - this.from;
    while (this.#index <= last) {
      const seg = segments[this.#index++] as BufferSegment;
      const ri = seg.runningIndex;
      if (ri >= end) break; // the segments after the walk's range
      const from = this.#start > ri ? this.#start - ri : 0;
      const to = end - ri < seg.end ? end - ri : seg.end;
      if (to <= from) continue;
      const bytes = seg.bytes;
      this.block = seg.block;
      this.bytes = bytes;
      this.from = from;
      this.to = to;
      if (this.#join && to === seg.end && this.#index <= last) {
        // Join the following segments while each starts where the run ends, in the same memory
        // (offsets first: a view's `byteOffset` and above all its `buffer` are getter calls).
        const base = bytes.byteOffset;
        let address = base + to;
        while (this.#index <= last) {
          const next = segments[this.#index] as BufferSegment;
          if (next.bytes.byteOffset !== address || !sameMemory(seg, next)) break;
          const nto = end - next.runningIndex < next.end ? end - next.runningIndex : next.end;
          if (nto <= 0) break;
          address += nto;
          this.#index++;
        }
        if (address !== base + to) {
          this.bytes = this.#wholeView(seg);
          this.from = base + from;
          this.to = address;
        }
      }
      return true;
    }
    this.finish();
    return false;
  }

  #wholeView(seg: BufferSegment): Uint8Array {
    const pool = seg.block !== null ? memoryView(seg.block.memory) : undefined;
    if (pool !== undefined) return pool;
    const buffer = seg.bytes.buffer;
    if (buffer !== this.#wholeBuffer) {
      this.#wholeBuffer = buffer;
      this.#whole = new Uint8Array(buffer);
    }
    return this.#whole;
  }

  /** The run as a view of exactly its bytes (the segment's own view when it is all of them). */
  view(): Uint8Array {
    const bytes = this.bytes;
    return this.from === 0 && this.to === bytes.length ? bytes : bytes.subarray(this.from, this.to);
  }

  /** Ends the walk (early, or at its end), dropping the references to the segments and memories. */
  finish(): void {
    this.#index = 0;
    this.#last = -1;
    this.#segments = NO_SEGMENTS;
    this.#wholeBuffer = undefined;
    this.#whole = EMPTY;
    this.bytes = EMPTY;
    this.block = null;
    this.from = this.to = 0;
  }
}

/** True when two segments lie in the same memory (their blocks' when pool memory: no view's buffer to read). */
function sameMemory(a: BufferSegment, b: BufferSegment): boolean {
  const ab = a.block;
  const bb = b.block;
  if (ab !== null && bb !== null) return ab.memory === bb.memory;
  return a.bytes.buffer === b.bytes.buffer;
}
