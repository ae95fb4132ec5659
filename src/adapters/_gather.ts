// Gathered writes to a socket whose write call is synchronous and takes one view (Bun's
// `socket.write`: no writev, no cork). A buffer's runs (segments adjacent in memory joined,
// see RunCursor) that are short are copied together into one staging array and sent with one
// call; long runs go out as they are.
//
// | run | what goes to the socket | copies |
// | --- | --- | --- |
// | one run alone, or one longer than GATHER_RUN_BYTES | the run's own view | none |
// | consecutive runs of at most GATHER_RUN_BYTES | one staging view of up to STAGING_BYTES | one, into the staging array |
//
// The staging array is one for every socket: it is filled and handed to `write` in one
// synchronous step, and the runtime keeps no reference to it after `write` returns (what it did
// not take is sent later from the caller's views, which stay valid until the write settles).
// A partial write maps back to those views, so a socket waiting for `drain` holds no staging
// memory of its own.
//
// Internal (underscore file): not exported from any entry point.

/** What {@linkcode sendViews} needs of a socket: a write that sends now what it can. */
export interface SyncSocket {
  /** Sends what the socket takes of `data` now: a byte count, or a negative one once it is closed. */
  write(data: Uint8Array): number;
}

/** {@linkcode sendViews}' result when the socket is closed. */
export const SEND_CLOSED = -1;

/**
 * Runs at most this long are gathered. bench/socket_writes.ts on Bun (8 runs a flush, none
 * adjacent, a sink in another process; CPU time of the writing process, gathered / one write
 * per run): 0.25–0.37× for 64 B and 512 B runs, 0.43× for 4 KiB, 0.63–0.70× for 8 KiB,
 * 0.91–1.33× for 16 KiB and 1.12–1.21× for 32 KiB (the copy costs more than the calls saved).
 */
const DEFAULT_GATHER_RUN_BYTES = 8192;
/**
 * The most one gathered write holds (runs of up to 8 KiB: 8 or more of them a call). A write
 * the kernel cannot take whole is copied again at `drain`, so more would copy more for calls
 * that cost little next to their bytes.
 */
const STAGING_BYTES = 65536;

let gatherRunBytes = DEFAULT_GATHER_RUN_BYTES;
let staging: Uint8Array | undefined;

/**
 * Sets the longest run that is gathered (0: every run its own write); `undefined` restores the
 * default. Tests and bench/socket_writes.ts only.
 */
export function setGatherRunBytesForTesting(bytes: number | undefined): void {
  gatherRunBytes = bytes ?? DEFAULT_GATHER_RUN_BYTES;
}

/**
 * Sends `views[from..]` in order with as few `write` calls as the table above allows. Returns
 * `views.length` when the socket took every byte; the index of the first view it did not take
 * whole (that entry replaced by its unsent rest) when it took less; or {@linkcode SEND_CLOSED}.
 * Call it again from that index once the socket drained.
 */
export function sendViews(socket: SyncSocket, views: Uint8Array[], from: number): number {
  const count = views.length;
  const limit = gatherRunBytes;
  let i = from;
  while (i < count) {
    const view = views[i] as Uint8Array;
    // The runs that go out with this one: the short ones after a short one, while they fit.
    let end = i + 1;
    let total = view.length;
    if (total <= limit) {
      while (end < count) {
        const next = (views[end] as Uint8Array).length;
        if (next > limit || total + next > STAGING_BYTES) break;
        total += next;
        end++;
      }
    }
    if (end === i + 1) {
      const written = socket.write(view);
      if (written === total) {
        i++;
        continue;
      }
      if (written < 0) return SEND_CLOSED;
      if (written > 0) views[i] = view.subarray(written);
      return i;
    }
    const target = staging ??= new Uint8Array(STAGING_BYTES);
    let at = 0;
    for (let k = i; k < end; k++) {
      const run = views[k] as Uint8Array;
      target.set(run, at);
      at += run.length;
    }
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
