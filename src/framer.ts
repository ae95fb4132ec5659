/**
 * {@linkcode Framer}: how a byte stream is cut into frames and how a frame is written, the
 * shape of tokio-util's `Decoder`/`Encoder` positioned the Pipelines way (consumed and
 * examined byte counts, no bytes removed from a buffer).
 *
 * Built-in framers: {@linkcode lengthPrefixed} and {@linkcode delimited}. The loops that drive
 * them: {@linkcode readFrames} and {@linkcode writeFrame}.
 *
 * @module
 */

import type { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * Where decoding stands in one buffer: the two numbers `advanceTo` takes, plus a size hint.
 * The framing loop owns one object and passes it to every {@linkcode Framer.decode} call.
 *
 * ```text
 * buffer:  | frames already decoded | frame being decoded ............ | (not yet read)
 *          0                   consumed          examined       buffer.length
 *                                     \__ already searched __/
 * ```
 */
export interface DecodeProgress {
  /**
   * Bytes at the start of the buffer taken by frames already decoded: the next frame starts
   * here. A framer moves it past each frame it returns.
   */
  consumed: number;
  /**
   * Where a search for the end of the next frame resumes: bytes from `consumed` up to here
   * were searched by an earlier call and hold no end of frame. From `consumed` to
   * `buffer.length`. A framer that scans sets it when it needs more bytes, so that no byte is
   * scanned twice however many reads a long frame takes.
   */
  examined: number;
  /**
   * Bytes from `consumed` on that the next frame needs at least, when the framer knows (a
   * length-prefixed header was read); 0 when it does not. The loop then waits for that many
   * (`readAtLeast`) instead of waking for every write. Reset to 0 before each call.
   */
  needed: number;
}

/**
 * Cuts frames out of buffered bytes, and writes a frame. A framer holds only its options, so
 * one framer may serve any number of streams at once; what a stream has decoded so far lives
 * in its {@linkcode DecodeProgress}.
 *
 * `decode` has three outcomes, as tokio's `Decoder::decode`:
 *
 * | outcome | returns | `progress` after |
 * | --- | --- | --- |
 * | a whole frame starts at `consumed` | the frame (a slice of `buffer`) | `consumed` (and `examined`) after the frame |
 * | the frame is not complete yet | `undefined` | `consumed` unchanged; `examined` where the next search resumes; `needed` if known |
 * | the bytes cannot be a frame | throws | unspecified (the stream is corrupt) |
 *
 * The end of the stream is the loop's business, not the framer's: bytes left over when the
 * stream ends throw a {@linkcode TruncatedFrameError}.
 *
 * @example A framer for fixed 2-byte records
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Channel,
 *   type DecodeProgress,
 *   type Framer,
 *   type ReadableBuffer,
 *   readFrames,
 *   type WritableChannel,
 *   writeFrame,
 * } from "@channels/channels";
 *
 * const pairs: Framer = {
 *   decode(buffer: ReadableBuffer, progress: DecodeProgress): ReadableBuffer | undefined {
 *     const start = progress.consumed;
 *     if (buffer.length - start < 2) {
 *       progress.examined = buffer.length;
 *       progress.needed = 2;
 *       return undefined;
 *     }
 *     progress.consumed = progress.examined = start + 2;
 *     return buffer.slice(start, start + 2);
 *   },
 *   encode(writer: WritableChannel, payload: Uint8Array | ReadableBuffer): void {
 *     if (payload.length !== 2) throw new RangeError("Cannot encode the pair as it must be 2 bytes");
 *     const memory = writer.getMemory(2);
 *     memory[0] = payload instanceof Uint8Array ? payload[0]! : payload.at(0);
 *     memory[1] = payload instanceof Uint8Array ? payload[1]! : payload.at(1);
 *     writer.advance(2);
 *   },
 * };
 *
 * const { reader, writer } = new Channel();
 * writeFrame(writer, pairs, new Uint8Array([1, 2]));
 * writeFrame(writer, pairs, new Uint8Array([3, 4]));
 * await writer.flush();
 * writer.complete();
 * const frames: number[][] = [];
 * for await (const frame of readFrames(reader, pairs)) frames.push([...frame.toUint8Array()]);
 * assert.deepEqual(frames, [[1, 2], [3, 4]]);
 * ```
 */
export interface Framer {
  /**
   * Decodes the frame that starts at `progress.consumed` in `buffer`.
   *
   * @param buffer Buffered bytes; the frame starts at `progress.consumed`.
   * @param progress Where decoding stands; updated as the table above says.
   * @returns The frame, a slice of `buffer` that dies with it, or `undefined` when more bytes are needed.
   * @throws {FrameTooLargeError} When the frame is longer than the framer allows.
   * @throws {RangeError | TypeError} When the bytes cannot be a frame.
   */
  decode(buffer: ReadableBuffer, progress: DecodeProgress): ReadableBuffer | undefined;
  /**
   * Writes one frame holding `payload` (header, payload, delimiter: whatever the format
   * needs) with `getMemory`/`advance`. Does not flush.
   *
   * @param writer Where to write.
   * @param payload The frame's payload.
   * @throws {FrameTooLargeError} When the payload is longer than the framer allows.
   */
  encode(writer: WritableChannel, payload: Uint8Array | ReadableBuffer): void;
}
