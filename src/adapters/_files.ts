// The file channels every entry point shares: a pump from a file handle into a channel
// (`openFile`) and one from a channel into a file handle (`createFile`). Each runtime adapts
// its own handle to `FileHandleLike`; bytes go from the OS straight into pool memory and back
// out of it, with no copy in between.

import { Channel, type ChannelOptions } from "../channel.ts";
import { isIntegerIn, rangeError } from "../errors.ts";
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
   */
  readonly closed: Promise<void>;
}

/** Options of `openFile` and `createFile`: those of the channel between the file and you. */
export interface FileOptions extends ChannelOptions {
  /**
   * Bytes `openFile` asks the OS for in one read, into one pool block (an oversize block when
   * larger than the pool's `blockSize`; the pool keeps a few for reuse). Reading a 90 MB file
   * on Deno: 4 KiB reads ~150 MB/s, 64 KiB reads ~1.4 GB/s (each read call costs ~25 µs).
   *
   * @default {65536}
   */
  readSize?: number;
}

/** A runtime's file handle, reduced to what the pumps call. */
export interface FileHandleLike {
  /** Reads into `view` at the current position; 0 at the end of the file. */
  read(view: Uint8Array): Promise<number>;
  /** Writes from `view` at the current position; may write less than all of it. */
  write(view: Uint8Array): Promise<number>;
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
  try {
    handle = await open();
    for (;;) {
      const { buffer, isCompleted } = reader.tryRead() ?? await reader.read();
      // Zero copy: each segment view goes to the OS; the block stays ours until the write settles.
      for (const view of buffer) await writeAll(handle, view);
      reader.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    const closing = handle;
    handle = undefined;
    await closing.close();
    reader.complete();
  } catch (error) {
    if (handle !== undefined) await handle.close().catch(() => {});
    reader.complete(error);
    throw error;
  }
}

/** Writes all of `view`, looping over partial writes. */
export async function writeAll(handle: { write(view: Uint8Array): Promise<number> }, view: Uint8Array): Promise<void> {
  let written = await handle.write(view);
  while (written < view.length) written += await handle.write(view.subarray(written));
}

// Read at least this much per call: a write head with less left gets a fresh block, so small
// tails do not cost a syscall each.
const DEFAULT_READ_SIZE = 65536;
