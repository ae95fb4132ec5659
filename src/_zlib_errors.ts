/**
 * The errors a compression transform throws while it runs (the option errors come from
 * errors.ts): one "Cannot X as Y: received Z" sentence each, with the input offset where it
 * is known.
 *
 * @module
 */

/**
 * Corrupt input. `offset` is where the codec stopped reading (Deno reports it); otherwise
 * `from` and `to` bound the bytes the failing call was given.
 */
export function corruptError(
  format: string,
  detail: string,
  offset: number | undefined,
  from: number,
  to: number,
  cause?: unknown,
): TypeError {
  const where = offset !== undefined ? `at byte offset ${offset}` : `within bytes ${from} to ${to - 1}`;
  return new TypeError(
    `Cannot decompress the ${format} stream as its data is corrupt (${detail}): received it ${where}`,
    cause === undefined ? undefined : { cause },
  );
}

/** The compressed stream ended while input went on (bytes after its end, or a codec that stopped). */
export function trailingError(format: string, offset: number): TypeError {
  return new TypeError(
    `Cannot decompress the ${format} stream as it ended before the input did: received more bytes from byte offset ${offset}`,
  );
}

/** The input ended inside the compressed stream. */
export function truncatedError(format: string, inputBytes: number, detail?: string, cause?: unknown): TypeError {
  return new TypeError(
    `Cannot decompress the ${format} stream as the input ended inside it${
      detail === undefined ? "" : ` (${detail})`
    }: received ${inputBytes} bytes`,
    cause === undefined ? undefined : { cause },
  );
}

/** The output passed `maxOutputBytes` (a decompression bomb, or a limit set too low). */
export function outputTooLargeError(format: string, maxOutputBytes: number, inputBytes: number): RangeError {
  return new RangeError(
    `Cannot decompress the ${format} stream as its output must be at most ${maxOutputBytes} bytes (maxOutputBytes): received more from the first ${inputBytes} input bytes`,
  );
}
