/**
 * {@linkcode pipeThrough}: runs a {@linkcode ChannelTransform} from one channel into a new one.
 *
 * @module
 */

import { Channel, type ChannelOptions } from "./channel.ts";
import type { ReadableBuffer } from "./readable_buffer.ts";
import type { ReadableChannel } from "./readable_channel.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * A byte transform that runs between two channels (codecs such as `base64Decoder()`).
 *
 * `transform` turns bytes from the start of `input` into `output` (with `getMemory`/`advance`
 * or `write` without awaiting; {@linkcode pipeThrough} flushes) and returns how many input
 * bytes it consumed. Bytes it leaves, such as a partial group, come back at the start of the
 * next call with more after them, so a transform keeps no copy of them. When `final` is true
 * the input is all there will be: the transform must consume all of it, or throw.
 *
 * A transform may instead return a promise of that count (an asynchronous codec such as
 * `CompressionStream`, or one whose output for one input is too large to buffer: a
 * decompressor). Until it settles, `input` stays valid and the transform may `flush` `output`
 * itself, which waits for the output's reader (backpressure in the middle of a call).
 */
export interface ChannelTransform {
  /**
   * Transforms what it can of `input` into `output`.
   *
   * @param input Every byte not yet consumed; valid only during the call.
   * @param output Where the result goes; flushed by the caller.
   * @param final True when no more input will come.
   * @returns How many bytes of `input` were consumed (or a promise of it).
   * @throws {TypeError} On malformed input (with the byte offset).
   */
  transform(input: ReadableBuffer, output: WritableChannel, final: boolean): number | Promise<number>;
}

/** Options of {@linkcode pipeThrough}: those of the output channel. */
export interface PipeThroughOptions extends ChannelOptions {
  /** Aborting stops the pump: both channels complete with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Pumps `source` through `transform` into a new channel and returns that channel's reader.
 * The pump reads everything buffered, transforms it in one call, and flushes, so it follows
 * the output's backpressure. Errors travel both ways, as in Pipelines: a transform error
 * completes the output with the error (its reader rejects) and the source reader with it (the
 * producer's next flush rejects); an output reader that completes completes the source too.
 *
 * @param source The reader to consume; `pipeThrough` owns it from now on.
 * @param transform The transform to run.
 * @param options The output channel's options, and an abort signal.
 * @returns The reader of the transformed bytes.
 *
 * @example Upper-casing ASCII through a transform
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, type ChannelTransform, pipeThrough } from "@channels/channels";
 *
 * const upper: ChannelTransform = {
 *   transform(input, output) {
 *     for (const view of input) {
 *       const memory = output.getMemory(view.length);
 *       for (let i = 0; i < view.length; i++) memory[i] = view[i]! >= 97 && view[i]! <= 122 ? view[i]! - 32 : view[i]!;
 *       output.advance(view.length);
 *     }
 *     return input.length;
 *   },
 * };
 * const source = new Channel();
 * const reader = pipeThrough(source.reader, upper);
 * await source.writer.writeUtf8("hello");
 * source.writer.complete();
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await reader.read();
 *   text += new TextDecoder().decode(buffer.toUint8Array());
 *   reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * assert.equal(text, "HELLO");
 * ```
 */
export function pipeThrough(
  source: ReadableChannel,
  transform: ChannelTransform,
  options: PipeThroughOptions = {},
): ReadableChannel {
  const { signal, ...channelOptions } = options;
  const output = new Channel(channelOptions);
  void pump(source, transform, output.writer, signal);
  return output.reader;
}

async function pump(
  source: ReadableChannel,
  transform: ChannelTransform,
  output: WritableChannel,
  signal: AbortSignal | undefined,
): Promise<void> {
  const readOptions = signal === undefined ? undefined : { signal };
  try {
    for (;;) {
      const result = source.tryRead() ?? await source.read(readOptions);
      if (result.isCanceled) continue;
      const { buffer, isCompleted } = result;
      let consumed = transform.transform(buffer, output, isCompleted);
      if (typeof consumed !== "number") consumed = await abortable(consumed, signal);
      if (isCompleted && consumed !== buffer.length) {
        throw new TypeError(
          `Cannot finish the transform as it left input unconsumed at the end: received ${
            buffer.length - consumed
          } bytes left`,
        );
      }
      source.advanceTo(consumed, buffer.length);
      const flushed = await output.flush(readOptions);
      if (flushed.isCompleted) {
        // The output's reader is gone: nobody wants more. Completing the output too gives its
        // write head back to the pool.
        output.complete();
        source.complete();
        return;
      }
      if (isCompleted) {
        output.complete();
        source.complete();
        return;
      }
    }
  } catch (error) {
    output.complete(error);
    source.complete(error);
  }
}

/**
 * Settles with `promise`, or rejects with `signal.reason` as soon as the signal aborts (the
 * pump then completes both channels, so a transform waiting on the output's flush resumes
 * and fails on its own; its rejection is handled here).
 */
function abortable(promise: Promise<number>, signal: AbortSignal | undefined): Promise<number> {
  if (signal === undefined) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
