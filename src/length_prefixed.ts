/**
 * {@linkcode lengthPrefixed}: frames that start with their length (tokio's
 * `LengthDelimitedCodec`, Netty's `LengthFieldBasedFrameDecoder`).
 *
 * @module
 */

import { writeBytes } from "./_framing.ts";
import { frameTooLarge, isIntegerIn, rangeError, typeError } from "./errors.ts";
import type { DecodeProgress, Framer } from "./framer.ts";
import type { ReadableBuffer } from "./readable_buffer.ts";
import type { WritableChannel } from "./writable_channel.ts";

/**
 * Options of {@linkcode lengthPrefixed}. All are checked when the framer is created; the
 * lengths they imply are checked as each header is read.
 *
 * A frame on the wire, and what the framer returns:
 *
 * ```text
 * | prefix (lengthFieldOffset) | length field (lengthFieldLength) | body (length field + lengthAdjustment) |
 * |<------------- bytesToStrip (default: the header) ------------>|<------------ frame returned --------->|
 * ```
 */
export interface LengthPrefixedOptions {
  /**
   * Bytes in the length field: 1, 2, 3, 4 or 8, or `"varint"` for an unsigned LEB128 varint
   * (protobuf's, 1 to 10 bytes; a 10th byte that says more follow throws a `TypeError`).
   *
   * @default {4}
   */
  lengthFieldLength?: 1 | 2 | 3 | 4 | 8 | "varint";
  /**
   * Whether a fixed-size length field is little-endian. Not for `"varint"` (a varint is
   * always least significant group first).
   *
   * @default {false} (big-endian, network order)
   */
  littleEndian?: boolean;
  /** Bytes before the length field (a type byte, a magic number …); they are part of the header. @default {0} */
  lengthFieldOffset?: number;
  /**
   * Added to the length field's value to get the length of the body, the bytes that follow
   * the length field: -4 when a 4-byte length counts itself, +2 when a 2-byte field that the
   * length does not count follows it. A body length below 0 throws a `RangeError` when the
   * header is read.
   *
   * @default {0}
   */
  lengthAdjustment?: number;
  /**
   * Bytes cut from the start of each frame before it is returned; 0 keeps the header. A frame
   * shorter than this throws a `RangeError` when its header is read.
   *
   * @default {lengthFieldOffset + the length field's size} (the header is stripped)
   */
  bytesToStrip?: number;
  /**
   * The longest body allowed (the length field's value plus `lengthAdjustment`). Checked as
   * soon as the length field is read (for a varint, as each of its bytes is read), **before**
   * any of the body is buffered, so a hostile header cannot make the reader buffer more.
   * Also checked by `encode` against the payload's length. Throws {@linkcode FrameTooLargeError}.
   *
   * @default {8388608} (8 MiB, as tokio)
   */
  maxFrameLength?: number;
}

const DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024;
const MAX_VARINT_BYTES = 10;

/**
 * A framer for frames that start with their length. The defaults read a 4-byte big-endian
 * length of the payload alone and strip it: `lengthPrefixed()` is tokio's
 * `LengthDelimitedCodec::new()`.
 *
 * ```text
 * lengthPrefixed()                                   INPUT                  DECODED
 *                                                    | 00 00 00 03 | a b c |  →  | a b c |
 * lengthPrefixed({ lengthFieldLength: "varint" })     | 03 | a b c |         →  | a b c |
 * lengthPrefixed({ lengthFieldLength: 2,              | 00 05 | a b c |       →  | a b c |
 *   lengthAdjustment: -2 })  (the length counts itself)
 * lengthPrefixed({ lengthFieldOffset: 1,              | T | 03 | a b c |     →  | T | 03 | a b c |
 *   lengthFieldLength: 1, bytesToStrip: 0 })  (type byte first; keep the header)
 * ```
 *
 * `encode` writes the length field, then the payload, with the value `payload.length -
 * lengthAdjustment`; it cannot invent a prefix, so it needs `lengthFieldOffset` 0 and the
 * default `bytesToStrip`.
 *
 * @param options Field size, byte order, header layout and the frame limit.
 * @returns A framer for {@linkcode readFrames} and {@linkcode writeFrame}.
 * @throws {RangeError} When a number option is out of range or not an integer, or `lengthFieldLength` is not 1, 2, 3, 4, 8 or `"varint"`.
 * @throws {TypeError} When an option has the wrong type, or `littleEndian` is set for a varint.
 *
 * @example Varint-prefixed messages, as protobuf streams them
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, lengthPrefixed, readFrames, writeFrame } from "@channels/channels";
 *
 * const framer = lengthPrefixed({ lengthFieldLength: "varint" });
 * const { reader, writer } = new Channel();
 * for (const text of ["hello", "", "world"]) writeFrame(writer, framer, new TextEncoder().encode(text));
 * await writer.flush();
 * writer.complete();
 *
 * const messages: string[] = [];
 * for await (const frame of readFrames(reader, framer)) {
 *   messages.push(new TextDecoder().decode(frame.toUint8Array()));
 * }
 * assert.deepEqual(messages, ["hello", "", "world"]);
 * ```
 *
 * @example A declared length over the limit throws before the payload arrives
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, FrameTooLargeError, lengthPrefixed, readFrames } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.write(new Uint8Array([0xff, 0xff, 0xff, 0xff])); // 4 GiB declared, nothing sent
 * await assert.rejects(
 *   readFrames(reader, lengthPrefixed()).next(),
 *   (error) => error instanceof FrameTooLargeError && error.frameLength === 4294967295,
 * );
 * ```
 */
export function lengthPrefixed(options?: LengthPrefixedOptions): Framer {
  if (options === undefined) options = {};
  return new LengthPrefixedFramer(options);
}

class LengthPrefixedFramer implements Framer {
  // The length field's size in bytes; 0 for a varint (its size varies per frame).
  readonly #fieldLength: number;
  readonly #littleEndian: boolean;
  readonly #offset: number;
  readonly #adjustment: number;
  // undefined: strip the header, whose size varies with a varint.
  readonly #strip: number | undefined;
  // Frames are the payload alone (bytesToStrip is the header): what encode can write.
  readonly #stripsHeader: boolean;
  readonly #max: number;

  constructor(options: LengthPrefixedOptions) {
    const what = "create the length-prefixed framer";
    if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
    const { lengthFieldLength = 4, littleEndian = false, lengthFieldOffset = 0, lengthAdjustment = 0 } = options;
    const { maxFrameLength = DEFAULT_MAX_FRAME_LENGTH, bytesToStrip } = options;
    if (lengthFieldLength === "varint") {
      this.#fieldLength = 0;
    } else if (typeof lengthFieldLength === "number") {
      if (![1, 2, 3, 4, 8].includes(lengthFieldLength)) {
        throw rangeError(what, 'lengthFieldLength must be 1, 2, 3, 4, 8 or "varint"', lengthFieldLength);
      }
      this.#fieldLength = lengthFieldLength;
    } else {
      throw typeError(what, 'lengthFieldLength must be 1, 2, 3, 4, 8 or "varint"', lengthFieldLength);
    }
    if (typeof littleEndian !== "boolean") throw typeError(what, "littleEndian must be a boolean", littleEndian);
    if (littleEndian && this.#fieldLength === 0) {
      throw typeError(what, "littleEndian does not apply to a varint length field", littleEndian);
    }
    checkInteger(what, "lengthFieldOffset", lengthFieldOffset, 0);
    checkInteger(what, "lengthAdjustment", lengthAdjustment, -Number.MAX_SAFE_INTEGER);
    checkInteger(what, "maxFrameLength", maxFrameLength, 0);
    if (bytesToStrip !== undefined) checkInteger(what, "bytesToStrip", bytesToStrip, 0);
    this.#littleEndian = littleEndian;
    this.#offset = lengthFieldOffset;
    this.#adjustment = lengthAdjustment;
    // A fixed-size header has a fixed size: store it, so decode need not add it up.
    this.#strip = bytesToStrip ?? (this.#fieldLength > 0 ? lengthFieldOffset + this.#fieldLength : undefined);
    this.#stripsHeader = this.#fieldLength > 0
      ? this.#strip === lengthFieldOffset + this.#fieldLength
      : bytesToStrip === undefined;
    this.#max = maxFrameLength;
  }

  decode(buffer: ReadableBuffer, progress: DecodeProgress): ReadableBuffer | undefined {
    const start = progress.consumed;
    const available = buffer.length - start;
    const offset = this.#offset;
    const max = this.#max;
    const adjustment = this.#adjustment;
    let fieldLength = this.#fieldLength;
    let value = 0;
    if (fieldLength > 0) {
      if (available < offset + fieldLength) return needMore(buffer, progress, offset + fieldLength);
      const at = start + offset;
      if (this.#littleEndian) {
        for (let i = fieldLength - 1; i >= 0; i--) value = value * 256 + buffer.at(at + i);
      } else {
        for (let i = 0; i < fieldLength; i++) value = value * 256 + buffer.at(at + i);
      }
    } else {
      // Each byte only adds to the value, so a partial value over the limit already is: throw
      // before the rest of the varint (let alone the body) arrives.
      let scale = 1;
      for (;;) {
        if (offset + fieldLength >= available) return needMore(buffer, progress, offset + fieldLength + 1);
        const byte = buffer.at(start + offset + fieldLength);
        value += (byte & 0x7f) * scale;
        fieldLength++;
        if (value + adjustment > max) throw frameTooLarge("decode", value + adjustment, max, byte >= 0x80);
        if (byte < 0x80) break;
        if (fieldLength === MAX_VARINT_BYTES) {
          throw typeError(
            "decode the frame",
            "a varint length field must end by its 10th byte (whose continuation bit 0x80 must be clear)",
            byte,
          );
        }
        scale *= 128;
      }
    }
    const frameLength = value + adjustment;
    if (frameLength > max) throw frameTooLarge("decode", frameLength, max);
    if (frameLength < 0) {
      throw rangeError(
        "decode the frame",
        `its length (the length field's ${value} plus lengthAdjustment ${adjustment}) must not be negative`,
        frameLength,
      );
    }
    const header = offset + fieldLength;
    const total = header + frameLength;
    const strip = this.#strip ?? header;
    if (strip > total) {
      throw rangeError("decode the frame", `bytesToStrip must not exceed the frame's ${total} bytes`, strip);
    }
    if (available < total) return needMore(buffer, progress, total);
    progress.consumed = progress.examined = start + total;
    return buffer.slice(start + strip, start + total);
  }

  encode(writer: WritableChannel, payload: Uint8Array | ReadableBuffer): void {
    const fieldLength = this.#fieldLength;
    if (this.#offset !== 0) {
      throw typeError("encode the frame", "lengthFieldOffset must be 0 (a prefix cannot be invented)", this.#offset);
    }
    if (!this.#stripsHeader) {
      throw typeError(
        "encode the frame",
        "bytesToStrip must be the header's size (frames must be the payload alone)",
        this.#strip,
      );
    }
    const length = payload.length;
    if (length > this.#max) throw frameTooLarge("encode", length, this.#max);
    const value = length - this.#adjustment;
    const fieldMax = fieldLength === 0
      ? Number.MAX_SAFE_INTEGER
      : fieldLength === 8
      ? 2 ** 64 - 1
      : 2 ** (8 * fieldLength) - 1;
    if (!(value >= 0 && value <= fieldMax)) {
      throw rangeError(
        "encode the frame",
        `the length field's value (the payload's ${length} bytes minus lengthAdjustment ${this.#adjustment}) must be from 0 to ${fieldMax}`,
        value,
      );
    }
    const header = fieldLength > 0 ? fieldLength : varintSize(value);
    const memory = writer.getMemory(header);
    if (fieldLength === 0) writeVarint(memory, value);
    else writeFixed(memory, fieldLength, value, this.#littleEndian);
    // Header and payload in one view when they fit, with one advance.
    if (payload instanceof Uint8Array && memory.length - header >= length) {
      memory.set(payload, header);
      writer.advance(header + length);
      return;
    }
    writer.advance(header);
    writeBytes(writer, payload);
  }
}

function checkInteger(what: string, name: string, value: unknown, min: number): void {
  if (!isIntegerIn(value, min, Number.MAX_SAFE_INTEGER)) {
    const rule = min === 0 ? "a non-negative integer" : "an integer";
    if (typeof value !== "number") throw typeError(what, `${name} must be ${rule}`, value);
    throw rangeError(what, `${name} must be ${rule}`, value);
  }
}

function needMore(buffer: ReadableBuffer, progress: DecodeProgress, needed: number): undefined {
  // Nothing is searched: a header is parsed again from the start on the next call (O(header)).
  progress.examined = buffer.length;
  progress.needed = needed;
  return undefined;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(memory: Uint8Array, value: number): void {
  let i = 0;
  while (value >= 128) {
    memory[i++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  memory[i] = value;
}

function writeFixed(memory: Uint8Array, size: number, value: number, littleEndian: boolean): void {
  // Bytes from the least significant up; `value` may pass 2^32 only for 8-byte fields.
  for (let k = 0; k < size; k++) {
    memory[littleEndian ? k : size - 1 - k] = value % 256;
    value = Math.floor(value / 256);
  }
}
