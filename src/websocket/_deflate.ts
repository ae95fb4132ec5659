/**
 * permessage-deflate's codecs (RFC 7692 §7.2): raw DEFLATE on node:zlib's native handle
 * ({@linkcode NativeCodec}, the codec under `compressor()`/`decompressor()`), driven one message
 * at a time and synchronously, so a message never waits for another task.
 *
 * | direction | input | output |
 * | --- | --- | --- |
 * | compress | the message's bytes where they lie (a string: encoded into a reused array first) | a reused staging array, then copied into the frame's pool memory (masked there) |
 * | decompress | the payload where it lies in the input's pool memory (unmasked in place) | straight into `getMemory` views of a channel of its own, handed out as the message |
 *
 * A message ends with a sync flush whose `00 00 ff ff` tail is stripped by the sender and
 * appended by the receiver. Context takeover keeps the codec's window from message to message;
 * without it, the compressor is reset after each message. The decompressor always keeps its
 * window and uses the largest (15 bits), which decodes any sender's stream.
 *
 * Hosts without node:zlib (such as workerd without `nodejs_compat`) have no permessage-deflate:
 * `CompressionStream` cannot flush a message without ending its stream, so the extension is
 * declined there (see {@linkcode deflateAvailable}).
 *
 * @module
 */

import { FLUSH_NONE, FLUSH_SYNC, NativeCodec, nativeCodecStatus } from "../_zlib_native.ts";
import { Channel } from "../channel.ts";
import type { MemoryPool } from "../memory_pool.ts";
import { ReadableBuffer } from "../readable_buffer.ts";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const EMPTY_BUFFER: ReadableBuffer = ReadableBuffer.from([]);

/** True when this host can run permessage-deflate (node:zlib's raw deflate works here). */
export function deflateAvailable(): boolean {
  return nativeCodecStatus("deflate-raw") === undefined;
}

// The compressed message being built (shared: a message is compressed and copied out in one
// synchronous step), and the UTF-8 of a string message waiting to be compressed.
let staging = new Uint8Array(16384);
let stagingLength = 0;
let textBytes = new Uint8Array(4096);
// Staging arrays grown past this go back to their first size after the message.
const STAGING_KEEP_BYTES = 1 << 20;

/** Compresses our messages. */
export class MessageDeflater {
  #codec: NativeCodec;
  readonly #level: number | undefined;
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  // Input was given since begin(): zlib skips a sync flush that follows another with nothing
  // in between (no empty block: an empty message would compress to nothing, which no inflater
  // takes), so an empty message first makes a call without flush.
  #fed = false;

  /**
   * @param level zlib's level (0–9), or its default.
   * @param windowBits The window the peer allows us (9–15).
   * @param noContextTakeover Reset after each message.
   */
  constructor(level: number | undefined, windowBits: number, noContextTakeover: boolean) {
    this.#level = level;
    this.#windowBits = windowBits;
    this.#noContextTakeover = noContextTakeover;
    this.#codec = NativeCodec.open("deflate-raw", "compress", level, windowBits);
  }

  /** Starts a message. */
  begin(): void {
    stagingLength = 0;
    this.#fed = false;
  }

  /** Compresses `bytes[from, to)` into the message. */
  push(bytes: Uint8Array, from: number, to: number): void {
    this.#run(FLUSH_NONE, bytes, from, to - from);
    this.#fed = true;
  }

  /** Compresses `text` as UTF-8 into the message. */
  pushText(text: string): void {
    if (textBytes.length < text.length * 3) textBytes = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, textBytes);
    this.#run(FLUSH_NONE, textBytes, 0, written);
    this.#fed = true;
    if (textBytes.length > STAGING_KEEP_BYTES) textBytes = new Uint8Array(4096);
  }

  /**
   * Ends the message: a sync flush, its `00 00 ff ff` tail stripped. The view is valid until
   * the next message is compressed (by any socket).
   */
  finish(): Uint8Array {
    if (!this.#fed) this.#run(FLUSH_NONE, EMPTY, 0, 0);
    this.#run(FLUSH_SYNC, EMPTY, 0, 0);
    let length = stagingLength;
    if (
      length >= 4 && staging[length - 4] === 0 && staging[length - 3] === 0 && staging[length - 2] === 0xff &&
      staging[length - 1] === 0xff
    ) {
      length -= 4;
    }
    if (this.#noContextTakeover) this.#reset();
    const out = staging.subarray(0, length);
    if (staging.length > STAGING_KEEP_BYTES) staging = new Uint8Array(16384); // `out` keeps the large one alive
    return out;
  }

  /** Frees the codec. */
  close(): void {
    this.#codec.close();
  }

  #reset(): void {
    try {
      this.#codec.reset();
    } catch {
      this.#codec.close();
      this.#codec = NativeCodec.open("deflate-raw", "compress", this.#level, this.#windowBits);
    }
  }

  #run(mode: typeof FLUSH_NONE | typeof FLUSH_SYNC, input: Uint8Array, inOff: number, inLen: number): void {
    const codec = this.#codec;
    for (;;) {
      if (staging.length - stagingLength < 1024) {
        const grown = new Uint8Array(staging.length * 2);
        grown.set(staging.subarray(0, stagingLength));
        staging = grown;
      }
      const room = staging.length - stagingLength;
      codec.write(mode, input, inOff, inLen, staging, stagingLength, room);
      if (codec.error !== undefined) {
        const message = codec.error;
        this.#codec = NativeCodec.open("deflate-raw", "compress", this.#level, this.#windowBits);
        throw new Error(`Cannot compress the message as the codec failed: ${message}`);
      }
      stagingLength += room - codec.availOut;
      const read = inLen - codec.availIn;
      inOff += read;
      inLen -= read;
      if (codec.availOut > 0 && inLen === 0) return;
    }
  }
}

/** What {@linkcode MessageInflater.push} and `finish` found. */
export type InflateOutcome = "ok" | "too-big" | "corrupt";

/** Decompresses the peer's messages into a channel of their own. */
export class MessageInflater {
  #codec: NativeCodec;
  readonly #channel: Channel;
  #total = 0;
  #limit = 0;
  // A read of the channel is open (the message handed out, or a failed one's bytes).
  #reading = false;
  /** The codec's message when the last call found the stream corrupt. */
  error: string | undefined;

  /** @param pool Where the decompressed messages live. */
  constructor(pool: MemoryPool) {
    this.#codec = NativeCodec.open("deflate-raw", "decompress", undefined, 15);
    this.#channel = new Channel({ pool, pauseWriterThreshold: 0 });
  }

  /** Starts a message of at most `maxBytes` decompressed bytes. */
  begin(maxBytes: number): void {
    this.#total = 0;
    this.#limit = maxBytes;
    this.error = undefined;
  }

  /** Bytes of the message so far. */
  get length(): number {
    return this.#total;
  }

  /** Decompresses `bytes[from, to)` into the message. */
  push(bytes: Uint8Array, from: number, to: number): InflateOutcome {
    return this.#run(bytes, from, to - from);
  }

  /** Ends the message (the tail appended); then `message()` gives it. */
  finish(): InflateOutcome {
    return this.#run(TAIL, 0, 4);
  }

  /** The message decompressed, valid until {@linkcode release}. */
  message(): ReadableBuffer {
    this.#channel.writer.flush();
    const result = this.#channel.reader.tryRead();
    this.#reading = result !== undefined;
    return result === undefined ? EMPTY_BUFFER : result.buffer;
  }

  /** Gives the last message's memory back to the pool (or what a failed message wrote). */
  release(): void {
    const channel = this.#channel;
    if (!this.#reading) {
      channel.writer.flush();
      this.#reading = channel.reader.tryRead() !== undefined;
    }
    if (this.#reading) {
      this.#reading = false;
      channel.reader.advanceTo(this.#total);
    }
    this.#total = 0;
  }

  /** Frees the codec and the channel's memory. */
  close(): void {
    this.#codec.close();
    this.#channel.writer.complete();
    this.#channel.reader.complete();
  }

  #run(input: Uint8Array, inOff: number, inLen: number): InflateOutcome {
    const codec = this.#codec;
    const writer = this.#channel.writer;
    for (;;) {
      const view = writer.getMemory();
      // One byte past the limit is enough to know the message is too big.
      const room = Math.min(view.length, this.#limit - this.#total + 1);
      codec.write(FLUSH_SYNC, input, inOff, inLen, view, 0, room);
      if (codec.error !== undefined) {
        this.error = codec.error;
        this.#codec = NativeCodec.open("deflate-raw", "decompress", undefined, 15);
        return "corrupt";
      }
      const produced = room - codec.availOut;
      const read = inLen - codec.availIn;
      writer.advance(produced);
      this.#total += produced;
      if (this.#total > this.#limit) return "too-big";
      inOff += read;
      inLen -= read;
      if (codec.availOut > 0 && inLen === 0) return "ok";
      if (produced === 0 && read === 0) {
        // The stream ended (a final block) with input left: nothing of a message may follow it.
        this.error = "data after the end of the deflate stream";
        this.#codec.close();
        this.#codec = NativeCodec.open("deflate-raw", "decompress", undefined, 15);
        return "corrupt";
      }
    }
  }
}
