/**
 * {@linkcode delimited}: frames that end with a delimiter, such as lines (tokio's `LinesCodec`
 * and `AnyDelimiterCodec`, Netty's `LineBasedFrameDecoder`), bounded by default.
 *
 * @module
 */

import { indexOfBytes, writeBytes } from "./_framing.ts";
import { frameTooLarge, isIntegerIn, rangeError, typeError } from "./errors.ts";
import type { DecodeProgress, Framer } from "./framer.ts";
import type { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

/** Options of {@linkcode delimited}. All are checked when the framer is created. */
export interface DelimitedOptions {
  /**
   * What ends a frame. `"\n"`: a line feed. `"\r\n"`: a line protocol's line end, where a lone
   * `"\n"` ends a line too and the `"\r"` before a `"\n"` belongs to the delimiter (HTTP/1.1,
   * SMTP, Redis). Any other string is searched for as its UTF-8 bytes, and a `Uint8Array` as
   * those exact bytes (so `new Uint8Array([13, 10])` is a strict CRLF). Copied at creation.
   *
   * @default {"\n"}
   */
  delimiter?: string | Uint8Array;
  /**
   * The longest frame allowed, in bytes, not counting the delimiter. Checked while scanning:
   * once this many bytes and a delimiter's length more are buffered without the delimiter,
   * the framer throws {@linkcode FrameTooLargeError} (its `frameLength` then a lower bound),
   * so an endless line costs at most about this much memory. Also checked by `encode`.
   *
   * @default {65536} (64 KiB)
   */
  maxLength?: number;
  /** Whether frames end with their delimiter (decoding only: `encode` always appends one). @default {false} */
  keepDelimiter?: boolean;
}

const DEFAULT_MAX_LENGTH = 64 * 1024;
const LF = 0x0a;
const CR = 0x0d;

/**
 * A framer for frames that end with a delimiter: lines by default.
 *
 * ```text
 * delimited()                               INPUT                   DECODED
 *                                           | a b \n c \n |     →   | a b |, | c |
 * delimited({ delimiter: "\r\n" })          | a \r \n b \n |    →   | a |, | b |
 * delimited({ keepDelimiter: true })        | a b \n |          →   | a b \n |
 * delimited({ delimiter: new Uint8Array([0]) })  | a 00 b 00 |  →   | a |, | b |
 * ```
 *
 * Scanning resumes where the last scan stopped (`examined`), so a line that arrives over many
 * reads is scanned once: linear time. The search is {@linkcode ReadableBuffer.indexOf}, the
 * SIMD memchr kernel on pool memory. At the end of the stream, a last line without its
 * delimiter throws a {@linkcode TruncatedFrameError}.
 *
 * `encode` writes the payload, then the delimiter (`"\r\n"` in `"\r\n"` mode); a payload that
 * contains the delimiter (in `"\r\n"` mode: a `"\n"`), so that it would not come back as one
 * frame, throws a `TypeError`.
 *
 * @param options The delimiter, the length limit and whether frames keep their delimiter.
 * @returns A framer for {@linkcode readFrames} and {@linkcode writeFrame}.
 * @throws {RangeError} When `maxLength` is not a non-negative integer, or the delimiter is empty.
 * @throws {TypeError} When an option has the wrong type.
 *
 * @example Reading lines of a line protocol
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, delimited, readFrames } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.writeUtf8("PING\r\nSET a 1\nQUIT\r\n");
 * writer.complete();
 * const lines: string[] = [];
 * for await (const line of readFrames(reader, delimited({ delimiter: "\r\n" }))) {
 *   lines.push(new TextDecoder().decode(line.toUint8Array()));
 * }
 * assert.deepEqual(lines, ["PING", "SET a 1", "QUIT"]);
 * ```
 *
 * @example An endless line fails fast
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, delimited, FrameTooLargeError, readFrames } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.write(new Uint8Array(100).fill(0x61)); // 100 bytes, no "\n" yet
 * await assert.rejects(
 *   readFrames(reader, delimited({ maxLength: 64 })).next(),
 *   (error) => error instanceof FrameTooLargeError && error.maxFrameLength === 64,
 * );
 * ```
 */
export function delimited(options?: DelimitedOptions): Framer {
  if (options === undefined) options = {};
  return new DelimitedFramer(options);
}

class DelimitedFramer implements Framer {
  // The bytes written after a payload, and searched for unless #lines.
  readonly #delimiter: Uint8Array;
  // "\r\n" mode: search for "\n", and a "\r" before it belongs to the delimiter.
  readonly #lines: boolean;
  // The byte searched for when the search is for one byte ("\n" in "\r\n" mode), else -1.
  readonly #byte: number;
  // Bytes of the delimiter the search matches: where a frame's end lies past the match start.
  readonly #matchLength: number;
  readonly #max: number;
  // Buffered bytes past a frame's start, with no delimiter among them, that prove the frame
  // too long: the delimiter must start by #max (by #max + 1 for the "\n" of a "\r\n").
  readonly #limit: number;
  readonly #keep: boolean;
  // #borders[s]: the delimiter's bytes from s on equal its first k - s (it overlaps itself when
  // shifted by s), so a payload that ends with its first s bytes would end the frame early.
  readonly #borders: boolean[];

  constructor(options: DelimitedOptions) {
    const what = "create the delimited framer";
    if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
    const { delimiter = "\n", maxLength = DEFAULT_MAX_LENGTH, keepDelimiter = false } = options;
    let bytes: Uint8Array;
    if (typeof delimiter === "string") bytes = new TextEncoder().encode(delimiter);
    else if (delimiter instanceof Uint8Array) bytes = delimiter.slice();
    else throw typeError(what, "delimiter must be a string or a Uint8Array", delimiter);
    if (bytes.length === 0) throw rangeError(what, "delimiter must not be empty", bytes.length);
    if (!isIntegerIn(maxLength, 0, Number.MAX_SAFE_INTEGER)) {
      if (typeof maxLength !== "number") throw typeError(what, "maxLength must be a non-negative integer", maxLength);
      throw rangeError(what, "maxLength must be a non-negative integer", maxLength);
    }
    if (typeof keepDelimiter !== "boolean") throw typeError(what, "keepDelimiter must be a boolean", keepDelimiter);
    this.#delimiter = bytes;
    this.#lines = delimiter === "\r\n";
    this.#byte = this.#lines ? LF : bytes.length === 1 ? bytes[0] as number : -1;
    this.#matchLength = this.#lines ? 1 : bytes.length;
    this.#max = maxLength;
    this.#limit = maxLength + bytes.length;
    this.#keep = keepDelimiter;
    const k = bytes.length;
    this.#borders = [];
    for (let s = 0; s < k; s++) {
      let same = s > 0;
      for (let i = 0; same && i < k - s; i++) same = bytes[i] === bytes[s + i];
      this.#borders.push(same);
    }
  }

  decode(buffer: ReadableBuffer, progress: DecodeProgress): ReadableBuffer | undefined {
    const start = progress.consumed;
    const length = buffer.length;
    const from = progress.examined > start ? progress.examined : start;
    const byte = this.#byte;
    const found = byte >= 0 ? buffer.indexOf(byte, from) : buffer.indexOf(this.#delimiter, from);
    const max = this.#max;
    if (found < 0) {
      const seen = length - start;
      if (seen >= this.#limit) {
        // No delimiter starts before length - matchLength + 1, so the frame is at least that long
        // (a "\r" at its end may belong to the delimiter: one byte less in "\r\n" mode).
        const atLeast = seen - this.#matchLength + 1 - (this.#lines ? 1 : 0);
        throw frameTooLarge("decode", atLeast, max, true);
      }
      // The next search starts where a delimiter could still begin.
      const resume = length - this.#matchLength + 1;
      progress.examined = resume > start ? resume : start;
      return undefined;
    }
    let end = found;
    if (this.#lines && found > start && buffer.at(found - 1) === CR) end--;
    if (end - start > max) throw frameTooLarge("decode", end - start, max);
    const next = found + this.#matchLength;
    progress.consumed = progress.examined = next;
    return buffer.slice(start, this.#keep ? next : end);
  }

  encode(writer: WritableChannel, payload: Uint8Array | ReadableBuffer): void {
    const length = payload.length;
    if (length > this.#max) throw frameTooLarge("encode", length, this.#max);
    const at = this.#find(payload);
    if (at >= 0) {
      throw new TypeError(
        `Cannot encode the frame as the payload must not contain the delimiter: received a payload with one at offset ${at}`,
      );
    }
    const delimiter = this.#delimiter;
    const k = delimiter.length;
    const memory = writer.getMemory();
    if (payload instanceof Uint8Array && memory.length >= length + k) {
      memory.set(payload);
      memory.set(delimiter, length);
      writer.advance(length + k);
      return;
    }
    writeBytes(writer, payload);
    writer.getMemory(k).set(delimiter);
    writer.advance(k);
  }

  /** Where the payload holds a delimiter, or one would start that the appended delimiter ends; -1 if nowhere. */
  #find(payload: Uint8Array | ReadableBuffer): number {
    const byte = this.#byte;
    if (byte >= 0) return payload.indexOf(byte);
    const delimiter = this.#delimiter;
    const found = payload instanceof Uint8Array ? indexOfBytes(payload, delimiter) : payload.indexOf(delimiter);
    if (found >= 0) return found;
    // The payload's last s bytes and the delimiter's first k - s would make a delimiter that
    // starts inside the payload: the frame would end early. The earliest start is the answer.
    const n = payload.length;
    const k = delimiter.length;
    for (let s = Math.min(k - 1, n); s >= 1; s--) {
      if (!this.#borders[s]) continue;
      let same = true;
      for (let i = 0; same && i < s; i++) {
        same = (payload instanceof Uint8Array ? payload[n - s + i] : payload.at(n - s + i)) === delimiter[i];
      }
      if (same) return n - s;
    }
    return -1;
  }
}
