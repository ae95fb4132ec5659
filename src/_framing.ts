/**
 * Helpers the built-in framers share (internal).
 *
 * @module
 */

import type { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * Copies `payload` into the writer's memory a view at a time and commits it. Each view is the
 * rest of the current block (`getMemory()` without a size), so a payload larger than a block
 * never rents an oversize block (bench/channel_throughput.ts: a rent of its own per chunk).
 */
export function writeBytes(writer: WritableChannel, payload: Uint8Array | ReadableBuffer): void {
  if (payload instanceof Uint8Array) {
    copyArray(writer, payload);
    return;
  }
  for (const view of payload) copyArray(writer, view);
}

function copyArray(writer: WritableChannel, bytes: Uint8Array): void {
  const length = bytes.length;
  let at = 0;
  while (at < length) {
    const memory = writer.getMemory();
    const n = Math.min(memory.length, length - at);
    memory.set(n === length ? bytes : bytes.subarray(at, at + n));
    writer.advance(n);
    at += n;
  }
}

/** The first offset of `needle` in `haystack` (a plain array), or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  const k = needle.length;
  const head = needle[0] as number;
  let from = 0;
  for (;;) {
    const found = haystack.indexOf(head, from);
    if (found < 0 || found + k > haystack.length) return -1;
    let i = 1;
    while (i < k && haystack[found + i] === needle[i]) i++;
    if (i === k) return found;
    from = found + 1;
  }
}
