/**
 * What the UTF-8 entry points accept (internal, shared by the decoder and the validator).
 *
 * @module
 */

import { typeError } from "./errors.ts";
import { ReadableBuffer } from "./readable_buffer.ts";

/** Throws a TypeError unless `input` is a `ReadableBuffer` or a `Uint8Array`. */
export function checkUtf8Input(input: unknown, what: string): void {
  if (!(input instanceof Uint8Array) && !(input instanceof ReadableBuffer)) {
    throw typeError(what, "input must be a ReadableBuffer or a Uint8Array", input);
  }
}
