/**
 * UTF-8 validation of one run of memory: the utf8Validate kernel (in place on pool memory, or on
 * copies in the layer's scratch space), the runtime's `isUtf8` (or a fatal `TextDecoder`), or the
 * TypeScript reference, as the layer's table chooses (./paths.ts). Every path answers in the
 * kernel's encoding, so callers cannot tell them apart.
 *
 * @module
 */

import { openTail, referenceValidate } from "../_utf8_reference.ts";
import { nativeIsUtf8 } from "./native.ts";
import { choiceOf } from "./paths.ts";
import { kernelsOf, ownKernels, ownScratch, SCRATCH_BYTES, SCRATCH_OFFSET } from "./registry.ts";

const UTF8_VALIDATE = choiceOf("utf8Validate");
// Bytes one kernel call may cover (its i32 result must hold the offset).
const MAX_KERNEL_BYTES = 1 << 30;
// Fatal and BOM-preserving: the native validator where the runtime has no isUtf8.
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Validates `bytes[from, to)`. `r >= 0`: the first `r` bytes are complete valid sequences and the
 * rest (0–3 bytes) starts a sequence that is valid so far; `r < 0`: the first invalid sequence
 * starts at offset `~r` (offsets from `from`).
 */
export function utf8Validate(bytes: Uint8Array, from: number, to: number): number {
  const path = UTF8_VALIDATE.path(to - from);
  if (path === "native") {
    const end = to - openTail(bytes, from, to);
    if (nativeValid(end > from ? (from === 0 && end === bytes.length ? bytes : bytes.subarray(from, end)) : EMPTY)) {
      return end - from;
    }
    return locateUtf8Error(bytes, from, to);
  }
  return path === "wasm" ? kernelValidate(bytes, from, to) : referenceValidate(bytes, from, to);
}

/**
 * {@linkcode utf8Validate} by the kernel (TypeScript where none loads), never natively: what
 * finds the offset once a native check said the bytes are not valid.
 */
export function locateUtf8Error(bytes: Uint8Array, from: number, to: number): number {
  return kernelValidate(bytes, from, to);
}

const EMPTY = new Uint8Array(0);

function nativeValid(view: Uint8Array): boolean {
  if (nativeIsUtf8 !== undefined) return nativeIsUtf8(view);
  try {
    fatalDecoder.decode(view);
    return true;
  } catch {
    return false;
  }
}

/** The kernel in place on pool memory, else on copies in the scratch space, else TypeScript. */
function kernelValidate(bytes: Uint8Array, from: number, to: number): number {
  let kernels = kernelsOf(bytes.buffer);
  const direct = kernels !== undefined;
  kernels ??= ownKernels();
  if (kernels === undefined) return referenceValidate(bytes, from, to);
  const scratch = direct ? EMPTY : ownScratch();
  const max = direct ? MAX_KERNEL_BYTES : SCRATCH_BYTES;
  let at = from;
  for (;;) {
    const n = Math.min(max, to - at);
    let r: number;
    if (direct) {
      r = kernels.utf8Validate(bytes.byteOffset + at, n);
    } else {
      scratch.set(at === 0 && n === bytes.length ? bytes : bytes.subarray(at, at + n));
      r = kernels.utf8Validate(SCRATCH_OFFSET, n);
    }
    if (r < 0) return ~(at - from + ~r);
    if (at + n === to) return at - from + r;
    at += r; // r >= n - 3 > 0: the next piece starts with the open sequence
  }
}
