// The file channels every entry point shares: a pump from a file handle into a channel
// (`openFile`) and one from a channel into a file handle (`createFile`). Each runtime adapts
// its own handle to `FileHandleLike`; bytes go from the OS straight into pool memory and back
// out of it, with no copy in between, except where the runtime has no gathered write (Deno):
// there segments under 64 KiB are copied together first, so a buffer of many 4 KiB blocks
// costs one write call rather than one each (see Gather).

import { Channel, type ChannelOptions } from "../channel.ts";
import { isIntegerIn, rangeError } from "../errors.ts";
import type { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel, ReadOptions } from "../readable_channel.ts";
import type { WritableChannel } from "../writable_channel.ts";

/** A channel reader over a file, as `openFile` returns it. */
export interface FileReadableChannel extends ReadableChannel {
  /**
   * Settles once the file is closed: after its last byte was read, after an error, or after
   * `complete()` (at once when reading never started). Never rejects; errors go to `read`.
   */
  readonly closed: Promise<void>;
}

/** A channel writer into a file, as `createFile` returns it. */
export interface FileWritableChannel extends WritableChannel {
  /**
   * Settles once every byte is written and the file is closed, after `complete()`. Rejects
   * with the error that stopped writing (an open or write failure, or the error `complete`
   * was given); the next `flush` rejects with it too.
   *
   * Backpressure: the bytes of the one write in flight do not count against
   * `pauseWriterThreshold` (they stay rented until it settles), so you can fill the next
   * batch meanwhile; at most the write in flight plus the threshold are held.
   */
  readonly closed: Promise<void>;
}

/** Options of `openFile` and `createFile`: those of the channel between the file and you. */
export interface FileOptions extends ChannelOptions {
  /**
   * Bytes `openFile` asks the OS for in one read, into one pool segment (a span of adjacent
   * blocks when larger than the pool's `blockSize`). Each read call costs
   * 10–30 µs whatever its size, so larger reads go faster: reading a cached 64 MiB file with
   * `openFile`, 4 KiB reads ~150 MB/s, 64 KiB ~1–2 GB/s, 256 KiB ~2–7 GB/s on every runtime,
   * and a copy through `createFile` 1.6–2.3× faster at 256 KiB than at 64 KiB
   * (bench/file_copy.ts). Since `pauseWriterThreshold` (64 KiB) is less, the file waits after
   * every read until the reader has examined it.
   *
   * @default {262144}
   */
  readSize?: number;
}

/** A runtime's file handle, reduced to what the pumps call. */
export interface FileHandleLike {
  /** Reads into `view` at the current position; 0 at the end of the file. */
  read(view: Uint8Array): Promise<number>;
  /** Writes from `view` at the current position; may write less than all of it. */
  write(view: Uint8Array): Promise<number>;
  /**
   * Writes from `views` in order at the current position in one call (a gathered write); may
   * write less than all of them. Absent where the runtime has none (Deno).
   */
  writev?(views: Uint8Array[]): Promise<number>;
  close(): Promise<void>;
}

/** `openFile` over a runtime's `open`: the file is opened by the first read, tryRead or readAtLeast. */
export function openFileWith(open: () => Promise<FileHandleLike>, options: FileOptions): FileReadableChannel {
  const { readSize = DEFAULT_READ_SIZE, ...channelOptions } = options;
  if (!isIntegerIn(readSize, 1, 1 << 30)) {
    throw rangeError("open the file", "readSize must be an integer from 1 to 1073741824", readSize);
  }
  const channel = new Channel(channelOptions);
  const reader = channel.reader;
  let started = false;
  let finish!: () => void;
  const closed = new Promise<void>((resolve) => (finish = resolve));
  const start = (): void => {
    if (started) return;
    started = true;
    void pumpFileToChannel(open, channel.writer, readSize).then(finish);
  };
  return {
    read(options?: ReadOptions) {
      start();
      return reader.read(options);
    },
    readAtLeast(minimumSize: number, options?: ReadOptions) {
      start();
      return reader.readAtLeast(minimumSize, options);
    },
    tryRead() {
      start();
      return reader.tryRead();
    },
    advanceTo: (consumed: number, examined?: number) => reader.advanceTo(consumed, examined),
    cancelPendingRead: () => reader.cancelPendingRead(),
    complete(...error: [unknown?]) {
      reader.complete(...error);
      if (!started) {
        started = true;
        channel.writer.complete();
        finish();
      }
    },
    closed,
  };
}

async function pumpFileToChannel(
  open: () => Promise<FileHandleLike>,
  writer: WritableChannel,
  readSize: number,
): Promise<void> {
  let handle: FileHandleLike | undefined;
  try {
    handle = await open();
    for (;;) {
      // Zero copy: the OS reads straight into pool memory.
      const view = writer.getMemory(readSize);
      const n = await handle.read(view);
      if (n === 0) break;
      writer.advance(n);
      // Backpressure: a reader that lags pauses the file here.
      const { isCompleted } = await writer.flush();
      if (isCompleted) break;
    }
    const closing = handle;
    handle = undefined;
    // Closed before the reader sees the end, so a caller that read to the end may delete the file.
    await closing.close();
    writer.complete();
  } catch (error) {
    if (handle !== undefined) await handle.close().catch(() => {});
    writer.complete(error);
  }
}

/** `createFile` over a runtime's `open`; the file is opened at once. */
export function createFileWith(open: () => Promise<FileHandleLike>, options: FileOptions): FileWritableChannel {
  const { readSize: _readSize, ...channelOptions } = options;
  const channel = new Channel(channelOptions);
  const writer = channel.writer;
  const closed = pumpChannelToFile(open, channel.reader);
  closed.catch(() => {}); // the error also reaches the writer's next flush: not unhandled
  return {
    getMemory: (sizeHint?: number) => writer.getMemory(sizeHint),
    advance: (byteCount: number) => writer.advance(byteCount),
    flush: (options) => writer.flush(options),
    write: (data, options) => writer.write(data, options),
    writeUtf8: (text, options) => writer.writeUtf8(text, options),
    get unflushedBytes() {
      return writer.unflushedBytes;
    },
    cancelPendingFlush: () => writer.cancelPendingFlush(),
    complete: (...error: [unknown?]) => writer.complete(...error),
    closed,
  };
}

async function pumpChannelToFile(open: () => Promise<FileHandleLike>, reader: ReadableChannel): Promise<void> {
  let handle: FileHandleLike | undefined;
  // One write in flight while the writer fills the next batch: the bytes it writes are
  // examined (so they do not hold the writer back) but not consumed (so their blocks stay ours)
  // until it settles. It writes the first `inFlight` bytes of the next read's buffer.
  let writing: Promise<void> | undefined;
  let inFlight = 0;
  try {
    handle = await open();
    const gather = new Gather(handle);
    for (;;) {
      const { buffer, isCompleted } = reader.tryRead() ?? await reader.read();
      await writing; // rethrows what stopped it
      writing = undefined;
      if (buffer.length > inFlight) {
        writing = gather.write(inFlight === 0 ? buffer : buffer.slice(inFlight));
        // A writer that went quiet still learns of the failure: the pending read ends.
        writing.catch(() => reader.cancelPendingRead());
      }
      const written = inFlight;
      inFlight = buffer.length - written;
      reader.advanceTo(written, buffer.length);
      if (isCompleted) {
        await writing;
        break;
      }
    }
    const closing = handle;
    handle = undefined;
    await closing.close();
    reader.complete();
  } catch (error) {
    // The blocks and the handle stay in use until the write in flight settles.
    await writing?.catch(() => {});
    if (handle !== undefined) await handle.close().catch(() => {});
    reader.complete(error);
    throw error;
  }
}

/**
 * Writes a buffer's segments with few calls, as each call costs 10–30 µs whatever its size
 * (bench/file_copy.ts): `write(chunk)` leaves a segment per 4 KiB block, one call each would
 * cap a file at ~100 MB/s. With `writev` (Node, Bun) the views go out together, no copy; without
 * it (Deno) segments under {@linkcode DIRECT_WRITE_SIZE} are copied into one staging array of up
 * to {@linkcode STAGING_SIZE} bytes first, and larger ones go out as they are.
 */
class Gather {
  readonly #handle: FileHandleLike;
  // Deno only, allocated by the first buffer of several small segments.
  #staging: Uint8Array | undefined;

  constructor(handle: FileHandleLike) {
    this.#handle = handle;
  }

  async write(buffer: ReadableBuffer): Promise<void> {
    const handle = this.#handle;
    if (buffer.isEmpty) return;
    if (buffer.isSingleSegment) return writeAll(handle, buffer.first);
    const views = [...buffer];
    if (handle.writev !== undefined) {
      for (let at = 0; at < views.length; at += MAX_WRITEV_VIEWS) {
        await writevAll(handle as Required<FileHandleLike>, views.slice(at, at + MAX_WRITEV_VIEWS));
      }
      return;
    }
    let staged = 0;
    for (const view of views) {
      if (view.length >= DIRECT_WRITE_SIZE) {
        if (staged > 0) await writeAll(handle, (this.#staging as Uint8Array).subarray(0, staged));
        staged = 0;
        await writeAll(handle, view);
        continue;
      }
      const staging = this.#staging ??= new Uint8Array(STAGING_SIZE);
      if (staged + view.length > staging.length) {
        await writeAll(handle, staging.subarray(0, staged));
        staged = 0;
      }
      staging.set(view, staged);
      staged += view.length;
    }
    if (staged > 0) await writeAll(handle, (this.#staging as Uint8Array).subarray(0, staged));
  }
}

/** Writes all of `views` with `writev`, looping over partial writes. */
async function writevAll(handle: Required<FileHandleLike>, views: Uint8Array[]): Promise<void> {
  let rest = views;
  for (;;) {
    let written = await handle.writev(rest);
    let skip = 0;
    while (skip < rest.length && written >= (rest[skip] as Uint8Array).length) {
      written -= (rest[skip] as Uint8Array).length;
      skip++;
    }
    if (skip === rest.length) return;
    rest = rest.slice(skip);
    if (written > 0) rest[0] = (rest[0] as Uint8Array).subarray(written);
  }
}

/** Writes all of `view`, looping over partial writes. */
export async function writeAll(handle: { write(view: Uint8Array): Promise<number> }, view: Uint8Array): Promise<void> {
  let written = await handle.write(view);
  while (written < view.length) written += await handle.write(view.subarray(written));
}

// Read at least this much per call: a write head with less left gets a fresh block, so small
// tails do not cost a syscall each. Chosen with bench/file_copy.ts (see FileOptions.readSize).
const DEFAULT_READ_SIZE = 262144;
// Views per writev call (POSIX IOV_MAX on Linux and macOS).
const MAX_WRITEV_VIEWS = 1024;
// Without writev: segments this large are written as they are, smaller ones staged.
const DIRECT_WRITE_SIZE = 65536;
// Without writev: the most a staged write holds.
const STAGING_SIZE = 262144;
