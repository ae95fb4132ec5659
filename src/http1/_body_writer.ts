// A response body written as it goes (`response.stream()`), as a WritableChannel over the
// connection's output: chunked framing written around the caller's bytes in the same pool
// memory (the chunk-size line in room kept before them), a Content-Length body counted, or
// nothing sent at all (HEAD, 204, 304). Internal.

import { isIntegerIn, rangeError, stateError, typeError } from "../errors.ts";
import type { FlushOptions, FlushResult, WritableChannel } from "../writable_channel.ts";
import type { BufferWriter } from "../buffer_writer.ts";

/** Chunked transfer coding. */
export const CHUNKED = 0;
/** Exactly `length` bytes (Content-Length). */
export const FIXED = 1;
/** Bytes until the connection closes (an HTTP/1.0 client, no length known). */
export const UNTIL_CLOSE = 2;
/** Nothing is sent (HEAD, 204, 304): writes are counted and dropped. */
export const DISCARD = 3;

const HEX = "0123456789abcdef";
const CRLF = 0x0d0a;
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");
const encoder = new TextEncoder();

/** What the body writer tells the connection. */
export interface BodyWriterOwner {
  /** The body is done: `error` when it could not end well (the connection is aborted then). */
  bodyFinished(error: unknown): void;
}

/** The streaming body of one response. */
export class BodyWriter implements WritableChannel {
  readonly #output: WritableChannel;
  readonly #writer: BufferWriter;
  readonly #mode: number;
  readonly #owner: BodyWriterOwner;
  // FIXED: bytes still due.
  #remaining: number;
  #completed = false;
  // CHUNKED: the view of the last getMemory and the room kept before it for the size line.
  #view: Uint8Array | undefined;
  #prefix = 0;

  constructor(output: WritableChannel, writer: BufferWriter, mode: number, length: number, owner: BodyWriterOwner) {
    this.#output = output;
    this.#writer = writer;
    this.#mode = mode;
    this.#remaining = length;
    this.#owner = owner;
  }

  getMemory(sizeHint: number = 0): Uint8Array {
    if (this.#completed) throw stateError("WRITER_COMPLETED");
    if (this.#mode !== CHUNKED) return this.#output.getMemory(sizeHint);
    if (!isIntegerIn(sizeHint, 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("get memory", "sizeHint must be a non-negative integer", sizeHint);
    }
    // Room for the size line (hex digits + CRLF) before the data and a CRLF after it; the
    // size is written with leading zeros to the width the view could need (RFC 9112 §7.1
    // allows them).
    const memory = this.#output.getMemory(Math.max(sizeHint, 1) + 12);
    const prefix = hexWidth(memory.length) + 2;
    this.#prefix = prefix;
    this.#view = memory;
    return memory.subarray(prefix, memory.length - 2);
  }

  advance(byteCount: number): void {
    if (this.#completed) throw stateError("WRITER_COMPLETED");
    switch (this.#mode) {
      case CHUNKED: {
        const view = this.#view;
        if (view === undefined) throw stateError("NO_MEMORY_TO_ADVANCE");
        const prefix = this.#prefix;
        const room = view.length - prefix - 2;
        if (!isIntegerIn(byteCount, 0, room)) {
          throw rangeError("advance the writer", `byteCount must be an integer from 0 to ${room}`, byteCount);
        }
        if (byteCount === 0) return; // an empty chunk would end the body
        this.#view = undefined;
        let n = byteCount;
        for (let i = prefix - 3; i >= 0; i--) {
          view[i] = HEX.charCodeAt(n & 15);
          n = Math.floor(n / 16);
        }
        view[prefix - 2] = 0x0d;
        view[prefix - 1] = 0x0a;
        view[prefix + byteCount] = 0x0d;
        view[prefix + byteCount + 1] = 0x0a;
        this.#output.advance(prefix + byteCount + 2);
        return;
      }
      case FIXED:
        if (!isIntegerIn(byteCount, 0, this.#remaining)) {
          throw rangeError(
            "advance the writer",
            `byteCount must be an integer from 0 to ${this.#remaining} (what the Content-Length leaves)`,
            byteCount,
          );
        }
        this.#remaining -= byteCount;
        this.#output.advance(byteCount);
        return;
      case UNTIL_CLOSE:
        this.#output.advance(byteCount);
        return;
      default:
        if (!isIntegerIn(byteCount, 0, Number.MAX_SAFE_INTEGER)) {
          throw rangeError("advance the writer", "byteCount must be a non-negative integer", byteCount);
        }
    }
  }

  flush(options?: FlushOptions): Promise<FlushResult> {
    if (this.#completed) return Promise.reject(stateError("WRITER_COMPLETED"));
    this.#view = undefined;
    return this.#output.flush(options);
  }

  write(data: Uint8Array, options?: FlushOptions): Promise<FlushResult> {
    if (this.#completed) return Promise.reject(stateError("WRITER_COMPLETED"));
    if (!(data instanceof Uint8Array)) return Promise.reject(typeError("write", "data must be a Uint8Array", data));
    try {
      this.#frame(data.length);
      if (this.#mode !== DISCARD) this.#writer.writeBytes(data);
      this.#endFrame(data.length);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.flush(options);
  }

  writeUtf8(text: string, options?: FlushOptions): Promise<FlushResult> {
    if (this.#completed) return Promise.reject(stateError("WRITER_COMPLETED"));
    if (typeof text !== "string") return Promise.reject(typeError("write text", "text must be a string", text));
    const bytes = encoder.encode(text);
    return this.write(bytes, options);
  }

  get unflushedBytes(): number {
    return this.#output.unflushedBytes;
  }

  cancelPendingFlush(): void {
    this.#output.cancelPendingFlush();
  }

  complete(error?: unknown): void {
    if (this.#completed) return;
    this.#completed = true;
    this.#view = undefined;
    if (error !== undefined) {
      this.#owner.bodyFinished(error);
      return;
    }
    if (this.#mode === CHUNKED) {
      this.#writer.writeBytes(LAST_CHUNK);
      this.#writer.commit();
    } else if (this.#mode === FIXED && this.#remaining > 0) {
      this.#owner.bodyFinished(
        rangeError(
          "complete the response body",
          "it must be as long as its Content-Length",
          `${this.#remaining} bytes short`,
        ),
      );
      return;
    }
    this.#owner.bodyFinished(undefined);
  }

  /** Starts a frame of `length` bytes written through the BufferWriter. */
  #frame(length: number): void {
    this.#view = undefined;
    if (this.#mode === FIXED && length > this.#remaining) {
      throw rangeError(
        "write the response body",
        `it must not exceed its Content-Length (${this.#remaining} bytes left)`,
        `${length} bytes`,
      );
    }
    if (this.#mode === CHUNKED && length > 0) {
      this.#writer.writeInt(length, 16);
      this.#writer.writeBytes(CRLF_BYTES);
    }
  }

  #endFrame(length: number): void {
    if (this.#mode === FIXED) this.#remaining -= length;
    if (this.#mode === CHUNKED && length > 0) this.#writer.writeBytes(CRLF_BYTES);
    this.#writer.commit();
  }
}

const CRLF_BYTES = new Uint8Array([CRLF >> 8, CRLF & 0xff]);

/** Hex digits of the largest chunk a view of `length` bytes can carry. */
function hexWidth(length: number): number {
  let width = 1;
  for (let n = length; n >= 16; n = Math.floor(n / 16)) width++;
  return width;
}
