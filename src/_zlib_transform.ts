/**
 * The compression transform on node:zlib's native handle ({@linkcode NativeCodec}): input is
 * read where it lies (runs of adjacent pool blocks in one call), output is written straight
 * into `getMemory` views of the output channel. No copy, no allocation per call.
 *
 * A call runs synchronously and returns a number, unless its output passes
 * {@linkcode OUTPUT_FLUSH_BYTES}: then it flushes the output (waiting for the reader, so a
 * decompression bomb never sits in the pool) and finishes asynchronously.
 *
 * @module
 */

import type { BufferSegment } from "./_segment.ts";
import {
  type CodecDirection,
  type CompressionFormat,
  FLUSH_FINISH,
  FLUSH_NONE,
  FLUSH_SYNC,
  NativeCodec,
} from "./_zlib_native.ts";
import { corruptError, outputTooLargeError, trailingError, truncatedError } from "./_zlib_errors.ts";
import { ZstdFrames } from "./_zlib_zstd_frames.ts";
import {
  type BufferRange,
  bufferRange,
  newBufferRange,
  type ReadableBuffer,
  segmentFrom,
  segmentTo,
} from "./readable_buffer.ts";
import type { ChannelTransform } from "./transform.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * Output bytes one call produces before it flushes and waits for the reader: the default
 * `pauseWriterThreshold` of a channel, so a large output pauses about where a writer would.
 */
export const OUTPUT_FLUSH_BYTES = 65536;

const EMPTY = new Uint8Array(0);
// One byte fed after a brotli stream's input: a decoder whose stream ended leaves it unread.
const PROBE = new Uint8Array(1);

// Phases of one call: feeding input, then (maybe) a sync flush or the finish, then done.
const FEED = 0;
const SYNC = 1;
const FINISH = 2;
const DONE = 3;

/** The transform's settings. */
export interface ZlibSettings {
  format: CompressionFormat;
  direction: CodecDirection;
  /** Undefined: the codec's default. */
  level: number | undefined;
  /** Compressor: end each call with a sync flush. */
  syncFlush: boolean;
  /** Decompressor: the output limit (Infinity for the compressor). */
  maxOutputBytes: number;
}

/** A compressor or decompressor over {@linkcode NativeCodec} (see the module doc). */
export class NativeTransform implements ChannelTransform {
  readonly #settings: ZlibSettings;
  // The stream's codec: opened on the first call, closed at the end, on error, or when the
  // output's reader leaves (then undefined, and a next call starts a new stream).
  #codec: NativeCodec | undefined;
  // zstd decompression: the frame walk that tells where the stream may end.
  #frames: ZstdFrames | undefined;
  // Stream offset of the next input byte, and output bytes so far.
  #position = 0;
  #produced = 0;

  // ---- one call ----
  #output: WritableChannel | undefined;
  #final = false;
  #phase = FEED;
  readonly #range: BufferRange = newBufferRange();
  #index = 0; // next segment of #range
  // The input run being fed: runBytes[runOffset, runOffset + runLength).
  #runBytes: Uint8Array = EMPTY;
  #runOffset = 0;
  #runLength = 0;
  // A view of a whole pool memory (merged runs are offsets into it), cached by its buffer.
  #memoryBuffer: ArrayBufferLike | undefined;
  #memory: Uint8Array = EMPTY;
  // The output view: view[0, at) written, not yet advanced, while open.
  #view: Uint8Array = EMPTY;
  #at = 0;
  #open = false;
  // Output bytes since the last flush.
  #sinceFlush = 0;
  // The sync flush or finish of this call has begun (its first codec call is made).
  #drainStarted = false;

  constructor(settings: ZlibSettings) {
    this.#settings = settings;
  }

  transform(input: ReadableBuffer, output: WritableChannel, final: boolean): number | Promise<number> {
    const length = input.length;
    try {
      this.#begin(input, output, final);
      if (this.#run()) return this.#endCall(length);
    } catch (error) {
      throw this.#fail(error);
    }
    return this.#resume(length);
  }

  /** The rest of a call whose output passed the flush threshold. */
  async #resume(length: number): Promise<number> {
    try {
      for (;;) {
        const { isCompleted } = await (this.#output as WritableChannel).flush();
        this.#sinceFlush = 0;
        if (isCompleted) {
          // Nobody reads the output: the rest of the stream is dropped.
          this.#endStream();
          this.#output = undefined;
          return length;
        }
        if (this.#run()) return this.#endCall(length);
      }
    } catch (error) {
      throw this.#fail(error);
    }
  }

  #begin(input: ReadableBuffer, output: WritableChannel, final: boolean): void {
    const { format, direction, level } = this.#settings;
    if (this.#codec === undefined) {
      this.#codec = NativeCodec.open(format, direction, level);
      this.#frames = format === "zstd" && direction === "decompress" ? new ZstdFrames() : undefined;
      this.#position = 0;
      this.#produced = 0;
    }
    this.#output = output;
    this.#final = final;
    this.#phase = FEED;
    this.#drainStarted = false;
    this.#sinceFlush = 0;
    this.#open = false;
    const range = bufferRange(input, this.#range);
    this.#index = range.first;
    this.#runLength = 0;
  }

  #endCall(length: number): number {
    if (this.#open) (this.#output as WritableChannel).advance(this.#at);
    this.#open = false;
    this.#output = undefined;
    this.#range.segments = NO_SEGMENTS;
    if (this.#final) this.#endStream();
    return length;
  }

  /** Closes the codec after an error and returns the error. */
  #fail(error: unknown): unknown {
    this.#open = false;
    this.#output = undefined;
    this.#range.segments = NO_SEGMENTS;
    this.#endStream();
    return error;
  }

  #endStream(): void {
    this.#codec?.close();
    this.#codec = undefined;
    this.#frames = undefined;
  }

  /** Runs the call on; false when it stopped to flush (the output view is committed). */
  #run(): boolean {
    while (this.#phase === FEED) {
      if (this.#runLength === 0 && !this.#nextRun()) {
        const { direction, syncFlush } = this.#settings;
        this.#phase = this.#final ? FINISH : direction === "compress" && syncFlush ? SYNC : DONE;
        break;
      }
      if (!this.#feed()) return this.#pause();
    }
    if (this.#phase === FINISH || this.#phase === SYNC) {
      if (!this.#drain(this.#phase === FINISH)) return this.#pause();
      this.#phase = DONE;
    }
    return true;
  }

  #pause(): false {
    if (this.#open) (this.#output as WritableChannel).advance(this.#at);
    this.#open = false;
    return false;
  }

  /**
   * Moves to the next run of input: one segment, or consecutive pool segments that lie next
   * to each other in one memory (a channel rents blocks in address order), fed in one call
   * as offsets into a view of the whole memory. False at the end of the input.
   */
  #nextRun(): boolean {
    const range = this.#range;
    const segments = range.segments;
    while (this.#index <= range.last && range.start < range.end) {
      const seg = segments[this.#index++] as BufferSegment;
      const from = segmentFrom(seg, range);
      const to = segmentTo(seg, range);
      if (to <= from) continue;
      const bytes = seg.bytes;
      let end = bytes.byteOffset + to;
      if (seg.block !== null) {
        while (this.#index <= range.last) {
          const next = segments[this.#index] as BufferSegment;
          if (next.block === null || next.bytes.buffer !== bytes.buffer || next.bytes.byteOffset !== end) break;
          end = next.bytes.byteOffset + segmentTo(next, range);
          this.#index++;
        }
      }
      if (end === bytes.byteOffset + to) {
        this.#runBytes = bytes;
        this.#runOffset = from;
      } else {
        this.#runBytes = this.#wholeMemory(bytes.buffer);
        this.#runOffset = bytes.byteOffset + from;
      }
      this.#runLength = end - (bytes.byteOffset + from);
      const frames = this.#frames;
      if (frames !== undefined) {
        const bad = frames.walk(this.#runBytes, this.#runOffset, this.#runLength);
        if (bad >= 0) throw corruptError("zstd", "unknown frame magic", bad, bad, bad + 1);
      }
      return true;
    }
    return false;
  }

  #wholeMemory(buffer: ArrayBufferLike): Uint8Array {
    if (buffer !== this.#memoryBuffer) {
      this.#memoryBuffer = buffer;
      this.#memory = new Uint8Array(buffer);
    }
    return this.#memory;
  }

  /** Output room for the next codec call: the open view's rest, capped one past the limit. */
  #room(): number {
    if (!this.#open || this.#at === this.#view.length) {
      const output = this.#output as WritableChannel;
      if (this.#open) output.advance(this.#at);
      this.#view = output.getMemory();
      this.#at = 0;
      this.#open = true;
    }
    const room = this.#view.length - this.#at;
    // One byte more than allowed is how the codec tells that the limit is passed.
    const limit = this.#settings.maxOutputBytes - this.#produced + 1;
    return room < limit ? room : limit;
  }

  /** Counts `n` bytes the codec wrote at the view's end. */
  #wrote(n: number): void {
    this.#at += n;
    this.#sinceFlush += n;
    this.#produced += n;
    if (this.#produced > this.#settings.maxOutputBytes) {
      throw outputTooLargeError(this.#settings.format, this.#settings.maxOutputBytes, this.#position);
    }
  }

  /** Feeds the current run; false when the output passed the flush threshold first. */
  #feed(): boolean {
    const codec = this.#codec as NativeCodec;
    while (this.#runLength > 0) {
      if (this.#sinceFlush >= OUTPUT_FLUSH_BYTES) return false;
      const outLen = this.#room();
      const inLen = this.#runLength;
      codec.write(FLUSH_NONE, this.#runBytes, this.#runOffset, inLen, this.#view, this.#at, outLen);
      if (codec.error !== undefined) throw this.#codecError(codec, inLen);
      const read = inLen - codec.availIn;
      const wrote = outLen - codec.availOut;
      this.#runOffset += read;
      this.#runLength -= read;
      this.#position += read;
      this.#wrote(wrote);
      // Output room left and input left: the codec stopped. Deno's zstd stops at each frame's
      // end and goes on when called again; a call that moves nothing means the stream ended.
      if (codec.availOut > 0 && this.#runLength > 0 && read === 0 && wrote === 0) {
        throw trailingError(this.#settings.format, this.#position);
      }
    }
    return true;
  }

  /** A sync flush or the finish; false when the output passed the flush threshold first. */
  #drain(finish: boolean): boolean {
    const codec = this.#codec as NativeCodec;
    const { format, direction } = this.#settings;
    const decompressing = direction === "decompress";
    if (finish && decompressing && !this.#drainStarted) this.#checkEnded(codec);
    for (;;) {
      if (this.#sinceFlush >= OUTPUT_FLUSH_BYTES) return false;
      const outLen = this.#room();
      const mode = this.#drainStarted && !codec.repeatsFlush ? FLUSH_NONE : finish ? FLUSH_FINISH : FLUSH_SYNC;
      this.#drainStarted = true;
      codec.write(mode, EMPTY, 0, 0, this.#view, this.#at, outLen);
      if (codec.error !== undefined) {
        throw decompressing ? truncatedError(format, this.#position, codec.error) : this.#codecError(codec, 0);
      }
      this.#wrote(outLen - codec.availOut);
      if (codec.availOut > 0) return true;
    }
  }

  /**
   * Before a decompressor finishes: the end of the stream must have been seen where the
   * codec does not report it (zstd: the frame walk; brotli: a probe byte it must leave).
   */
  #checkEnded(codec: NativeCodec): void {
    const format = this.#settings.format;
    if (format === "zstd") {
      const frames = this.#frames as ZstdFrames;
      if (!frames.atBoundary || frames.frames === 0) throw truncatedError(format, this.#position);
    } else if (format === "brotli") {
      const outLen = this.#room();
      codec.write(FLUSH_NONE, PROBE, 0, 1, this.#view, this.#at, outLen);
      if (codec.error !== undefined || codec.availIn !== 1) {
        throw truncatedError(format, this.#position, codec.error);
      }
      this.#wrote(outLen - codec.availOut);
    }
  }

  #codecError(codec: NativeCodec, inLen: number): TypeError {
    const { format, direction } = this.#settings;
    const message = codec.error as string;
    if (direction === "compress") {
      return new TypeError(`Cannot compress as the ${format} codec failed: received ${message}`);
    }
    const read = inLen - codec.availIn;
    const offset = codec.errorHasPosition ? this.#position + Math.max(0, read - 1) : undefined;
    return corruptError(format, message, offset, this.#position, this.#position + inLen);
  }
}

const NO_SEGMENTS: readonly BufferSegment[] = [];
