/**
 * {@linkcode validateUtf8}: whether bytes are valid UTF-8, and where the first bad sequence
 * starts, on bytes where they lie. Each run of segments adjacent in memory is validated by the
 * kernel layer (src/_wasm/utf8_validate.ts: the WebAssembly `utf8Validate` kernel on pool memory
 * — SIMD ASCII skip, then the Keiser–Lemire lookup algorithm — or the runtime's `isUtf8` where
 * the benchmark measured it faster, the kernel then only locating an error); a sequence that
 * straddles runs is carried across in TypeScript. Where WebAssembly cannot load, a TypeScript
 * validator gives the same results.
 *
 * | input | copies? |
 * | --- | --- |
 * | a `ReadableBuffer` from a channel, or a view of pool memory | none |
 * | any other `Uint8Array` (and `ReadableBuffer.from` chunks) | on the kernel path, 32 KiB at a time into kernel scratch memory |
 *
 * @module
 */

import { fitsAt, sequenceLength } from "./_utf8_reference.ts";
import { checkUtf8Input } from "./_utf8_input.ts";
import { RunCursor } from "./_runs.ts";
import { utf8Validate } from "./_wasm/utf8_validate.ts";
import { type ReadableBuffer, walkRuns } from "./readable_buffer.ts";

/** What {@linkcode validateUtf8} returns. */
export interface Utf8Validation {
  /** True when every byte belongs to a complete, valid UTF-8 sequence. */
  valid: boolean;
  /** Offset where the first invalid (or, at the end, truncated) sequence starts; -1 when valid. */
  errorOffset: number;
}

/**
 * Checks that bytes are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), where they lie. A sequence cut off by the end of the input is invalid.
 *
 * @param input A buffer from a channel read (any number of segments), or an array.
 * @returns `valid`, and `errorOffset`: where the first bad sequence starts (-1 when valid).
 * @throws {TypeError} When `input` is neither a `ReadableBuffer` nor a `Uint8Array`.
 *
 * @example Finding the first bad byte
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadableBuffer, validateUtf8 } from "@channels/channels";
 *
 * const text = new TextEncoder().encode("naïve café");
 * assert.deepEqual(validateUtf8(text), { valid: true, errorOffset: -1 });
 * // An overlong "/" (C0 AF) after "ok", split across two segments.
 * const buffer = ReadableBuffer.from([new Uint8Array([0x6f, 0x6b, 0xc0]), new Uint8Array([0xaf])]);
 * assert.deepEqual(validateUtf8(buffer), { valid: false, errorOffset: 2 });
 * // Truncated at the end: the first two bytes of "€" (E2 82 AC).
 * assert.deepEqual(validateUtf8(new Uint8Array([0x41, 0xe2, 0x82])), { valid: false, errorOffset: 1 });
 * ```
 */
export function validateUtf8(input: ReadableBuffer | Uint8Array): Utf8Validation {
  checkUtf8Input(input, "validate UTF-8");
  let errorOffset: number;
  if (input instanceof Uint8Array || input.isSingleSegment) {
    // One view (a frame, a line, one segment): no walk.
    const view = input instanceof Uint8Array ? input : input.first;
    const r = utf8Validate(view, 0, view.length);
    errorOffset = r < 0 ? ~r : r < view.length ? r : -1;
  } else {
    errorOffset = validateRuns(input);
  }
  return { valid: errorOffset < 0, errorOffset };
}

// The open sequence carried from one run to the next, and the walk (both reused: validation
// never calls out while walking).
const carried = new Uint8Array(4);
const runs = new RunCursor();

/** The offset of the first bad sequence in `input`, or -1: one validation per run of segments adjacent in memory. */
function validateRuns(input: ReadableBuffer): number {
  let carryLength = 0;
  let carryStart = 0;
  walkRuns(input, runs);
  while (runs.next()) {
    const bytes = runs.bytes;
    const n = runs.to;
    let at = runs.from;
    if (carryLength > 0) {
      const lead = carried[0] as number;
      const length = sequenceLength(lead);
      while (carryLength < length && at < n) {
        if (!fitsAt(lead, carryLength, bytes[at] as number)) {
          runs.finish();
          return carryStart;
        }
        carried[carryLength++] = bytes[at++] as number;
      }
      if (carryLength < length) continue;
      carryLength = 0;
    }
    if (at < n) {
      const r = utf8Validate(bytes, at, n);
      if (r < 0) {
        const offset = runs.offset + at - runs.from + ~r;
        runs.finish();
        return offset;
      }
      at += r;
      carryStart = runs.offset + at - runs.from;
      while (at < n) carried[carryLength++] = bytes[at++] as number;
    }
  }
  return carryLength > 0 ? carryStart : -1;
}
