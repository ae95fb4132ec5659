/**
 * A run of bytes in one block: the unit a channel links into its buffer, and the unit a
 * {@linkcode ReadableBuffer} iterates over.
 *
 * @module
 */

import type { PoolBlock } from "./memory_pool.ts";

/**
 * Invariants: the segment's bytes are `bytes[0, end)`; `runningIndex` is the stream position
 * of `bytes[0]`, so the stream position of `bytes[i]` is `runningIndex + i` and finding a byte
 * by position is a subtraction, never a walk.
 */
export class BufferSegment {
  /** The block the bytes live in; `null` for segments over caller-owned arrays. */
  block: PoolBlock | null;
  /** The segment's memory: the whole block for channel segments. */
  bytes: Uint8Array;
  /** Bytes written into `bytes` (committed by the writer's advance). */
  end: number;
  /** Stream position of `bytes[0]`. */
  runningIndex: number;

  constructor(block: PoolBlock | null, bytes: Uint8Array, end: number, runningIndex: number) {
    this.block = block;
    this.bytes = bytes;
    this.end = end;
    this.runningIndex = runningIndex;
  }
}
