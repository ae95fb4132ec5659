// A stand-in for §6's BufferWriter (branch `text`) with the same method names and meaning, so
// ./http1 switches to it by changing one import once it lands. Internal; to be deleted.

import type { ReadableBuffer } from "../readable_buffer.ts";
import type { WritableChannel } from "../writable_channel.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Formats into a channel writer's memory; `commit()` advances what was written. */
export class BufferWriter {
  readonly writer: WritableChannel;
  #span: Uint8Array = EMPTY;
  #position = 0;

  constructor(writer: WritableChannel) {
    this.writer = writer;
  }

  commit(): void {
    const n = this.#position;
    this.#span = EMPTY;
    this.#position = 0;
    if (n > 0) this.writer.advance(n);
  }

  #ensure(n: number): Uint8Array {
    if (this.#span.length - this.#position >= n) return this.#span;
    if (this.#position > 0) this.writer.advance(this.#position);
    this.#position = 0;
    this.#span = this.writer.getMemory(Math.max(n, 256));
    return this.#span;
  }

  writeAscii(text: string): void {
    const n = text.length;
    if (n > 4096) {
      for (let i = 0; i < n; i += 4096) this.writeAscii(text.slice(i, i + 4096));
      return;
    }
    const span = this.#ensure(n);
    let at = this.#position;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) throw new TypeError(`Cannot write ASCII as every character must be U+0000 to U+007F: received ${JSON.stringify(text)}`);
      span[at++] = c;
    }
    this.#position = at;
  }

  writeUtf8(text: string): void {
    let rest = text;
    while (rest.length > 0) {
      const span = this.#ensure(Math.min(rest.length * 3, 4096));
      const { read, written } = encoder.encodeInto(rest, span.subarray(this.#position));
      this.#position += written;
      rest = rest.slice(read);
      if (rest.length > 0) this.#ensure(this.#span.length); // the span is full: take the next
    }
  }

  writeInt(n: number, radix: 10 | 16 = 10): void {
    this.writeAscii(n.toString(radix));
  }

  writeBytes(bytes: Uint8Array | ReadableBuffer): void {
    if (bytes instanceof Uint8Array) {
      this.#copy(bytes);
    } else {
      for (const view of bytes) this.#copy(view);
    }
  }

  #copy(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const span = this.#ensure(Math.min(bytes.length - at, 4096));
      const n = Math.min(span.length - this.#position, bytes.length - at);
      span.set(bytes.subarray(at, at + n), this.#position);
      this.#position += n;
      at += n;
    }
  }
}
