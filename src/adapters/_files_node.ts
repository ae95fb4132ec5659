/**
 * Files as channels over `node:fs/promises`, for the Node and Bun entry points. The OS reads
 * into pool memory (`handle.read(view, …)`) and writes from it (`handle.write(view)`, or
 * `handle.writev(views)` for a buffer of several segments): no copy on either side.
 *
 * @module
 */

import { open } from "node:fs/promises";
import {
  createFileWith,
  type FileHandleLike,
  type FileOptions,
  type FileReadableChannel,
  type FileWritableChannel,
  openFileWith,
} from "./_files.ts";

export type { FileOptions, FileReadableChannel, FileWritableChannel } from "./_files.ts";

/**
 * A channel of a file's bytes. The file is opened by the first `read` (or `tryRead`,
 * `readAtLeast`) and read straight into pool memory as fast as the channel's backpressure
 * allows; it is closed after its last byte, after an error, or when the reader completes.
 *
 * @param path The file to read.
 * @param options Options of the channel.
 * @returns The channel's reader; a missing file rejects the first read with the runtime's `ENOENT` error.
 *
 * @example Reading a file into pool memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFile, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openFile } from "@channels/channels/node";
 *
 * const path = join(tmpdir(), `channels-example-${Date.now()}.txt`);
 * await writeFile(path, "read in place");
 * const file = openFile(path);
 * const { buffer } = await file.readAtLeast(13);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "read in place");
 * file.advanceTo(buffer.length);
 * file.complete();
 * await file.closed;
 * await rm(path);
 * ```
 */
export function openFile(path: string | URL, options?: FileOptions): FileReadableChannel {
  if (options === undefined) options = {};
  return openFileWith(async () => nodeHandle(await open(path, "r")), options);
}

/**
 * A channel whose bytes are written to a file (created, or truncated when it exists), straight
 * from pool memory. Completing the writer closes the file; `closed` says when that is done.
 *
 * @param path The file to write.
 * @param options Options of the channel.
 * @returns The channel's writer; an open or write failure rejects its next flush and `closed`.
 *
 * @example Writing a file from pool memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFile, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { createFile } from "@channels/channels/node";
 *
 * const path = join(tmpdir(), `channels-example-${Date.now()}.txt`);
 * const file = createFile(path);
 * await file.writeUtf8("written in place");
 * file.complete();
 * await file.closed;
 * assert.equal(await readFile(path, "utf8"), "written in place");
 * await rm(path);
 * ```
 */
export function createFile(path: string | URL, options?: FileOptions): FileWritableChannel {
  if (options === undefined) options = {};
  return createFileWith(async () => nodeHandle(await open(path, "w")), options);
}

function nodeHandle(handle: import("node:fs/promises").FileHandle): FileHandleLike {
  return {
    read: async (view) => (await handle.read(view, 0, view.length, null)).bytesRead,
    write: async (view) => (await handle.write(view)).bytesWritten,
    writev: async (views) => (await handle.writev(views)).bytesWritten,
    close: () => handle.close(),
  };
}
