/**
 * Adapters between channels and WHATWG streams, which every runtime has.
 *
 * WHATWG byte streams and BYOB readers transfer (detach) the buffers they are given, and
 * WebAssembly memory cannot be detached, so these adapters use value streams of `Uint8Array`
 * and make at most one explicit copy at the edge:
 *
 * | adapter | direction | copies? | a chunk's view of pool memory dies at |
 * | --- | --- | --- | --- |
 * | {@linkcode fromReadableStream} | stream → channel | one copy of each chunk into pool memory | — |
 * | {@linkcode toWritableStream} | stream → channel | one copy of each chunk into pool memory | — |
 * | {@linkcode toReadableStream} | channel → stream | one copy per read (default); none with `zeroCopy` | the consumer's next `read()` (with `zeroCopy`) |
 * | {@linkcode fromWritableStream} | channel → stream | one copy per read (default); none with `zeroCopy` | when the sink's `write()` settles (with `zeroCopy`) |
 *
 * Backpressure and errors travel both ways: a stream error completes the channel side with
 * the error, a channel side completed with an error aborts or errors the stream, a canceled
 * stream completes the channel's reader, and a completed channel reader cancels the source.
 *
 * @module
 */

import { Channel, type ChannelOptions } from "./channel.ts";
import { typeError } from "./errors.ts";
import type { ReadableChannel } from "./readable_channel.ts";
import type { WritableChannel } from "./writable_channel.ts";

/** Options of the adapters that hand channel bytes to a stream. */
export interface ZeroCopyOptions {
  /**
   * Hand out views of pool memory instead of copies. Only for consumers that are done with a
   * chunk when they ask for the next one (`toReadableStream`) or when their `write()`
   * settles (`fromWritableStream`); a consumer that keeps chunks (a queue, `Response`,
   * `Blob`) would see their bytes change.
   *
   * @default {false}
   */
  zeroCopy?: boolean;
}

/**
 * Reads a stream of `Uint8Array` chunks into a new channel, copying each chunk once into pool
 * memory. The stream is read as fast as the channel's backpressure allows; when the channel's
 * reader completes, the stream is canceled at its next chunk.
 *
 * @param stream A stream of `Uint8Array` chunks (other chunks error the channel with a `TypeError`).
 * @param options Options of the channel the bytes go into.
 * @returns The channel's reader.
 *
 * @example Reading a `Response` body as a channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromReadableStream } from "@channels/channels";
 *
 * const reader = fromReadableStream(new Response("hello").body!);
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   text += new TextDecoder().decode(buffer.toUint8Array());
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * reader.complete();
 * assert.equal(text, "hello");
 * ```
 */
export function fromReadableStream(
  stream: ReadableStream<Uint8Array>,
  options?: ChannelOptions,
): ReadableChannel {
  if (options === undefined) options = {};
  if (!(stream instanceof ReadableStream)) {
    throw typeError("read the stream", "stream must be a ReadableStream", stream);
  }
  const channel = new Channel(options);
  void pumpStreamToChannel(stream.getReader(), channel.writer);
  return channel.reader;
}

async function pumpStreamToChannel(
  source: ReadableStreamDefaultReader<Uint8Array>,
  writer: WritableChannel,
): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await source.read();
      if (done) {
        writer.complete();
        return;
      }
      if (!(value instanceof Uint8Array)) {
        throw typeError("read the stream", "every chunk must be a Uint8Array", value);
      }
      // The one copy: stream chunks are not pool memory.
      const { isCompleted } = await writer.write(value);
      if (isCompleted) {
        await source.cancel();
        writer.complete();
        return;
      }
    }
  } catch (error) {
    writer.complete(error);
    source.cancel(error).catch(() => {});
  }
}

/**
 * A `ReadableStream` of the bytes a channel reader yields: one chunk per channel read (every
 * buffered byte). Chunks are copies unless `zeroCopy` is set. Canceling the stream completes
 * the reader; a reader whose writer completed with an error errors the stream.
 *
 * @param reader The channel reader; the stream owns it from now on.
 * @param options `zeroCopy` to hand out views of pool memory.
 * @returns A value stream of `Uint8Array` chunks.
 *
 * @example Answering an HTTP request with a channel's bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, toReadableStream } from "@channels/channels";
 *
 * const channel = new Channel();
 * const response = new Response(toReadableStream(channel.reader));
 * await channel.writer.writeUtf8("streamed");
 * channel.writer.complete();
 * assert.equal(await response.text(), "streamed");
 * ```
 */
export function toReadableStream(reader: ReadableChannel, options?: ZeroCopyOptions): ReadableStream<Uint8Array> {
  if (options === undefined) options = {};
  const zeroCopy = options.zeroCopy ?? false;
  // The bytes handed out by the last pull, consumed when the next pull comes (zeroCopy).
  let pending = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending > 0) {
        reader.advanceTo(pending);
        pending = 0;
      }
      for (;;) {
        const { buffer, isCompleted } = await reader.read();
        if (buffer.length > 0) {
          if (zeroCopy && buffer.isSingleSegment) {
            controller.enqueue(buffer.first);
            pending = buffer.length;
          } else if (zeroCopy) {
            for (const view of buffer) controller.enqueue(view);
            pending = buffer.length;
          } else {
            controller.enqueue(buffer.toUint8Array());
            reader.advanceTo(buffer.length);
          }
          return;
        }
        reader.advanceTo(0);
        if (isCompleted) {
          reader.complete();
          controller.close();
          return;
        }
      }
    },
    cancel(reason) {
      reader.complete(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * A channel whose bytes are written to a `WritableStream`: every read of the channel becomes
 * one `write()` (a copy, unless `zeroCopy`), awaited before the next, so the stream's
 * backpressure reaches the channel's writer. Completing the writer closes the stream;
 * completing it with an error aborts the stream; a stream that errors completes the channel's
 * reader with that error, so the writer's next flush rejects.
 *
 * @param stream The stream to write to; the channel owns it from now on.
 * @param options Options of the channel, and `zeroCopy`.
 * @returns The channel's writer.
 *
 * @example Writing into a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromWritableStream } from "@channels/channels";
 *
 * const chunks: Uint8Array[] = [];
 * let closed!: () => void;
 * const done = new Promise<void>((resolve) => (closed = resolve));
 * const writer = fromWritableStream(new WritableStream({ write: (c) => void chunks.push(c), close: () => closed() }));
 * await writer.writeUtf8("to the stream");
 * writer.complete();
 * await done;
 * assert.equal(new TextDecoder().decode(chunks[0]), "to the stream");
 * ```
 */
export function fromWritableStream(
  stream: WritableStream<Uint8Array>,
  options?: ChannelOptions & ZeroCopyOptions,
): WritableChannel {
  if (options === undefined) options = {};
  if (!(stream instanceof WritableStream)) {
    throw typeError("write to the stream", "stream must be a WritableStream", stream);
  }
  const { zeroCopy = false, ...channelOptions } = options;
  const channel = new Channel(channelOptions);
  void pumpChannelToStream(channel.reader, stream.getWriter(), zeroCopy);
  return channel.writer;
}

async function pumpChannelToStream(
  reader: ReadableChannel,
  sink: WritableStreamDefaultWriter<Uint8Array>,
  zeroCopy: boolean,
): Promise<void> {
  try {
    for (;;) {
      const { buffer, isCompleted } = reader.tryRead() ?? await reader.read();
      if (zeroCopy) {
        for (const view of buffer) await sink.write(view);
      } else if (buffer.length > 0) {
        await sink.write(buffer.toUint8Array());
      }
      reader.advanceTo(buffer.length);
      if (isCompleted) {
        reader.complete();
        await sink.close();
        return;
      }
    }
  } catch (error) {
    // Either the writer completed with an error (abort the stream with it) or the stream failed
    // (complete the reader with it, so the producer learns).
    reader.complete(error);
    sink.abort(error).catch(() => {});
  }
}

/**
 * A `WritableStream` whose chunks are copied into a channel. Each `write()` settles when the
 * channel's flush does, so the channel's backpressure reaches the stream. `close()` completes
 * the writer, `abort(reason)` completes it with `reason`; when the channel's reader is gone,
 * writes fail.
 *
 * @param writer The channel writer; the stream owns it from now on.
 * @returns A stream of `Uint8Array` chunks.
 *
 * @example Piping a stream into a channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, toWritableStream } from "@channels/channels";
 *
 * const channel = new Channel();
 * const piped = new Response("piped").body!.pipeTo(toWritableStream(channel.writer));
 * const { buffer } = await channel.reader.readAtLeast(5);
 * assert.equal(new TextDecoder().decode(buffer.toUint8Array()), "piped");
 * channel.reader.advanceTo(buffer.length);
 * await piped;
 * ```
 */
export function toWritableStream(writer: WritableChannel): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!(chunk instanceof Uint8Array)) throw typeError("write the chunk", "every chunk must be a Uint8Array", chunk);
      const { isCompleted } = await writer.write(chunk);
      if (isCompleted) {
        throw new TypeError("Cannot write the chunk as the channel's reader completed: received a write after it");
      }
    },
    close() {
      writer.complete();
    },
    abort(reason) {
      writer.complete(reason ?? new Error("The stream was aborted"));
    },
  }, { highWaterMark: 1 });
}
