// Gathered writes to a socket whose write call takes one view (no writev): Bun's synchronous
// `socket.write` (sendViews) and Deno's asynchronous `conn.write` (writeViews). Each call is a
// send of its own, so a buffer's runs (segments adjacent in memory joined, see RunCursor) that
// are short are copied together and sent with one call; long runs go out as they are. Node
// needs none of this: its drivers cork a buffer's views into one writev.
//
// | run | what goes to the socket | copies |
// | --- | --- | --- |
// | one run alone, or one longer than the runtime's gather limit | the run's own view | none |
// | consecutive runs of at most that limit | one view of up to STAGING_BYTES | one |
//
// Bun: the staging array is one for every socket. It is filled and handed to `write` in one
// synchronous step, and Bun keeps no reference to it after `write` returns (what it did not
// take is sent later from the caller's views, which stay valid until the write settles): a
// partial write maps back to those views, so a socket waiting for `drain` holds no staging
// memory. Deno: the write holds its view until it resolves, so each gathered write copies into
// a span rented from the connection's pool for it, returned once it resolved.
//
// Internal (underscore file): not exported from any entry point.

import type { MemoryPool, PoolBlock } from "../memory_pool.ts";

/** What {@linkcode sendViews} needs of a socket: a write that sends now what it can. */
export interface SyncSocket {
  /** Sends what the socket takes of `data` now: a byte count, or a negative one once it is closed. */
  write(data: Uint8Array): number;
}

/** What {@linkcode writeViews} needs of a socket: an asynchronous write (Deno's `conn.write`). */
export interface AsyncSocket {
  /** Sends a prefix of `data`; resolves to its length once the runtime holds no reference to `data`. */
  write(data: Uint8Array): Promise<number>;
}

/** {@linkcode sendViews}' result when the socket is closed. */
export const SEND_CLOSED = -1;

/**
 * Runs at most this long are gathered. bench/socket_writes.ts on Bun (8 runs a flush, none
 * adjacent, a sink in another process; CPU time of the writing process, gathered / one write
 * per run, three runs on a shared machine): 0.21–0.37× for 64 B and 512 B runs, 0.29–0.44×
 * for 4 KiB, 0.40–0.70× for 8 KiB, 0.71–1.33× for 16 KiB and 1.06–1.21× for 32 KiB (the copy
 * then costs more than the calls saved). 8 KiB: never worse than a write per run.
 */
const DEFAULT_GATHER_RUN_BYTES = 8192;
/**
 * The most one gathered write holds (8 or more runs a call on Bun, 4 or more on Deno). A write
 * the kernel cannot take whole is copied again at `drain` (Bun), so more would copy more for
 * calls that cost little next to their bytes.
 */
const STAGING_BYTES = 65536;

/**
 * The same for {@linkcode writeViews} (Deno, each write an async op). bench/socket_writes.ts on
 * Deno (as above, three runs): 0.08–0.16× for 64 B and 512 B runs, 0.26–0.36× for 4 KiB,
 * 0.40–0.85× for 8 KiB, 0.60–0.77× for 16 KiB and 0.90–0.98× for 32 KiB.
 */
const DEFAULT_ASYNC_GATHER_RUN_BYTES = 16384;

let gatherRunBytes = DEFAULT_GATHER_RUN_BYTES;
let asyncGatherRunBytes = DEFAULT_ASYNC_GATHER_RUN_BYTES;
let staging: Uint8Array | undefined;

/**
 * Sets the longest run that is gathered (0: every run its own write) by both writers;
 * `undefined` restores the defaults. Tests and bench/socket_writes.ts only.
 */
export function setGatherRunBytesForTesting(bytes: number | undefined): void {
  gatherRunBytes = bytes ?? DEFAULT_GATHER_RUN_BYTES;
  asyncGatherRunBytes = bytes ?? DEFAULT_ASYNC_GATHER_RUN_BYTES;
}

/**
 * Sends `views[from..]` in order with as few `write` calls as the table above allows. Returns
 * `views.length` when the socket took every byte; the index of the first view it did not take
 * whole (that entry replaced by its unsent rest) when it took less; or {@linkcode SEND_CLOSED}.
 * Call it again from that index once the socket drained.
 */
export function sendViews(socket: SyncSocket, views: Uint8Array[], from: number): number {
  const count = views.length;
  let i = from;
  while (i < count) {
    const end = groupEnd(views, i, gatherRunBytes);
    if (end === i + 1) {
      const view = views[i] as Uint8Array;
      const written = socket.write(view);
      if (written === view.length) {
        i++;
        continue;
      }
      if (written < 0) return SEND_CLOSED;
      if (written > 0) views[i] = view.subarray(written);
      return i;
    }
    const target = staging ??= new Uint8Array(STAGING_BYTES);
    const total = stage(views, i, end, target);
    let written = socket.write(target.subarray(0, total));
    if (written === total) {
      i = end;
      continue;
    }
    if (written < 0) return SEND_CLOSED;
    // Map what went out back to the views: the rest is sent from them (copied again then).
    while (written >= (views[i] as Uint8Array).length) written -= (views[i++] as Uint8Array).length;
    if (written > 0) views[i] = (views[i] as Uint8Array).subarray(written);
    return i;
  }
  return count;
}

/**
 * Writes every byte of `views` in order, grouped as {@linkcode sendViews} groups them, for a
 * runtime whose write is asynchronous (Deno): a group is copied into a span rented from `pool`
 * for the write (the write holds it until it resolves) and returned after. A pool at its
 * `maxBytes` sends the group's views one by one instead.
 */
export async function writeViews(socket: AsyncSocket, views: readonly Uint8Array[], pool: MemoryPool): Promise<void> {
  let i = 0;
  while (i < views.length) {
    const end = groupEnd(views, i, asyncGatherRunBytes);
    const span = end === i + 1 ? undefined : rentOrNothing(pool, byteCount(views, i, end));
    if (span === undefined) {
      await writeAll(socket, views[i++] as Uint8Array);
      continue;
    }
    try {
      await writeAll(socket, span.bytes.subarray(0, stage(views, i, end, span.bytes)));
    } finally {
      pool.release(span);
    }
    i = end;
  }
}

function rentOrNothing(pool: MemoryPool, size: number): PoolBlock | undefined {
  try {
    return pool.rent(size);
  } catch {
    return undefined;
  }
}

async function writeAll(socket: AsyncSocket, view: Uint8Array): Promise<void> {
  let written = await socket.write(view);
  while (written < view.length) written += await socket.write(view.subarray(written));
}

/** The end of the group of views that go out with `views[start]` in one write (`start + 1`: alone). */
function groupEnd(views: readonly Uint8Array[], start: number, limit: number): number {
  let total = (views[start] as Uint8Array).length;
  let end = start + 1;
  if (total > limit) return end;
  while (end < views.length) {
    const next = (views[end] as Uint8Array).length;
    if (next > limit || total + next > STAGING_BYTES) break;
    total += next;
    end++;
  }
  return end;
}

function byteCount(views: readonly Uint8Array[], start: number, end: number): number {
  let total = 0;
  for (let k = start; k < end; k++) total += (views[k] as Uint8Array).length;
  return total;
}

/** Copies `views[start..end)` to the start of `target`; returns the byte count. */
function stage(views: readonly Uint8Array[], start: number, end: number, target: Uint8Array): number {
  let at = 0;
  for (let k = start; k < end; k++) {
    const run = views[k] as Uint8Array;
    target.set(run, at);
    at += run.length;
  }
  return at;
}
