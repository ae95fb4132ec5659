/**
 * {@linkcode readLines}: the lines of a UTF-8 channel as strings, a batch per read.
 *
 * Where {@linkcode readFrames} with {@linkcode delimited} hands out each line as zero-copy
 * bytes, one iterator step per line, `readLines` is for text: each read is decoded with one
 * {@linkcode Utf8Decoder} call up to its last line end and split there, so a step yields every
 * line the read completed. Per line that costs about what `split2` or `node:readline` pay
 * (a slice of one string), not a step and a decoder call each (bench/framing.ts, "lines").
 *
 * @module
 */

import {
  frameTooLarge,
  type FrameTooLargeError,
  isIntegerIn,
  rangeError,
  TruncatedFrameError,
  typeError,
} from "./errors.ts";
import { RunCursor } from "./_runs.ts";
import { type ReadableBuffer, walkRuns } from "./readable_buffer.ts";
import type { ReadableChannel, ReadOptions } from "./readable_channel.ts";
import { Utf8Decoder } from "./utf8.ts";

/** Options of {@linkcode readLines}. All are checked when it is called. */
export interface ReadLinesOptions {
  /**
   * What ends a line. `"\n"`: a line feed. `"\r\n"`: a line protocol's line end, where a lone
   * `"\n"` ends a line too and a `"\r"` before the `"\n"` is not part of the line (as
   * `delimited({ delimiter: "\r\n" })`).
   *
   * @default {"\n"}
   */
  delimiter?: "\n" | "\r\n";
  /**
   * The longest line allowed, in UTF-8 bytes, not counting its line end. A longer line throws
   * {@linkcode FrameTooLargeError}; one whose end has not arrived throws as soon as more than
   * this many bytes of it are buffered, so an endless line costs at most about this much memory.
   *
   * @default {65536} (64 KiB)
   */
  maxLength?: number;
  /**
   * What a last line without its line end does when the stream ends: `"error"` throws a
   * {@linkcode TruncatedFrameError} naming the bytes left (as `readFrames` does: a cut
   * stream is not taken for a whole one); `"keep"` yields it as a line (files whose last line
   * has no newline, as `node:readline` does).
   *
   * @default {"error"}
   */
  trailingLine?: "error" | "keep";
  /**
   * Bytes that are not UTF-8: `false` replaces them with U+FFFD as `TextDecoder` does; `true`
   * throws a `TypeError` naming the byte offset in the stream.
   *
   * @default {false}
   */
  fatal?: boolean;
  /** Aborting rejects the waiting (or next) step with `signal.reason`, and completes the reader with it. */
  signal?: AbortSignal;
}

const DEFAULT_MAX_LENGTH = 64 * 1024;
const LF = 0x0a;

/**
 * The lines of a channel of UTF-8 text, as strings, one array per step: every line the read
 * behind that step completed, in order (never an empty array). The strings are yours to keep;
 * line ends are not part of them.
 *
 * - Each read is decoded up to its last line end with one {@linkcode Utf8Decoder} call and cut
 *   there; the bytes after it stay in the channel (`advanceTo(consumed, examined)`), and the
 *   next read searches only the bytes that arrived since, so a long line is scanned once.
 * - A BOM at the start of the stream is dropped (as `TextDecoder` does); bytes that are not
 *   UTF-8 become U+FFFD, or throw with `fatal`.
 * - The stream ends when the writer completes: the loop ends and completes the reader. A last
 *   line without its line end throws {@linkcode TruncatedFrameError} unless `trailingLine` is
 *   `"keep"`.
 * - A read is decoded before its lines are measured: when one read holds both a line too
 *   long and bytes that are not UTF-8 (`fatal`), the `TypeError` may come first.
 * - `return()` (a `break` out of `for await`) completes the reader without an error; any error
 *   (a line too long, bad UTF-8 with `fatal`, a read, the signal) completes it with the error,
 *   so the writer's next flush rejects too, and the step rejects with it.
 * - A read ended by `cancelPendingRead()` ends the loop after the lines it holds and leaves
 *   the reader open at the start of the next line.
 *
 * @param reader The channel to read; the loop owns it until the end.
 * @param options The line end, the length limit, what a last unterminated line does, `fatal`
 * and an abort signal.
 * @returns An async iterator of arrays of lines.
 * @throws {TypeError} When `options` or one of them has the wrong type.
 * @throws {RangeError} When `maxLength` is not a non-negative integer, or `delimiter` or
 * `trailingLine` is not one of its values.
 *
 * @example Lines of a text stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, readLines } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.writeUtf8("first\nsecond\nthi");
 * await writer.writeUtf8("rd — ünïcode\n");
 * writer.complete();
 *
 * const lines: string[] = [];
 * for await (const batch of readLines(reader)) lines.push(...batch);
 * assert.deepEqual(lines, ["first", "second", "third — ünïcode"]);
 * ```
 *
 * @example A line protocol, and a file whose last line has no newline
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, readLines, TruncatedFrameError } from "@channels/channels";
 *
 * const crlf = new Channel();
 * await crlf.writer.writeUtf8("PING\r\nSET a 1\nQUIT\r\n");
 * crlf.writer.complete();
 * const commands: string[] = [];
 * for await (const batch of readLines(crlf.reader, { delimiter: "\r\n" })) commands.push(...batch);
 * assert.deepEqual(commands, ["PING", "SET a 1", "QUIT"]);
 *
 * const file = new Channel();
 * await file.writer.writeUtf8("a\nb");
 * file.writer.complete();
 * const kept: string[] = [];
 * for await (const batch of readLines(file.reader, { trailingLine: "keep" })) kept.push(...batch);
 * assert.deepEqual(kept, ["a", "b"]);
 *
 * const cut = new Channel();
 * await cut.writer.writeUtf8("a\nb");
 * cut.writer.complete();
 * await assert.rejects(async () => {
 *   for await (const _ of readLines(cut.reader));
 * }, (error) => error instanceof TruncatedFrameError && error.bytesLeft === 1);
 * ```
 */
export function readLines(reader: ReadableChannel, options: ReadLinesOptions = {}): AsyncIterableIterator<string[]> {
  if (options === null || typeof options !== "object") {
    throw typeError("read lines", "options must be an object", options);
  }
  const { delimiter = "\n", maxLength = DEFAULT_MAX_LENGTH, trailingLine = "error", fatal = false, signal } = options;
  if (delimiter !== "\n" && delimiter !== "\r\n") {
    throw rangeError("read lines", 'delimiter must be "\\n" or "\\r\\n"', delimiter);
  }
  if (!isIntegerIn(maxLength, 0, Number.MAX_SAFE_INTEGER)) {
    throw rangeError("read lines", "maxLength must be a non-negative integer", maxLength);
  }
  if (trailingLine !== "error" && trailingLine !== "keep") {
    throw rangeError("read lines", 'trailingLine must be "error" or "keep"', trailingLine);
  }
  if (typeof fatal !== "boolean") throw typeError("read lines", "fatal must be a boolean", fatal);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw typeError("read lines", "signal must be an AbortSignal", signal);
  }
  const lines = new LineSplitter(delimiter === "\r\n", maxLength, fatal);
  return batches(reader, lines, trailingLine === "keep", signal);
}

async function* batches(
  reader: ReadableChannel,
  lines: LineSplitter,
  keepTrailing: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<string[], undefined> {
  const readOptions: ReadOptions | undefined = signal === undefined ? undefined : { signal };
  // The reader is completed at the end, with the error on failure, except after a canceled
  // read, which hands it back open.
  let failed = false;
  let handBack = false;
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      // deno-lint-ignore no-await-in-loop
      const { buffer, isCompleted, isCanceled } = reader.tryRead() ?? await reader.read(readOptions);
      const batch = lines.split(buffer, isCompleted, keepTrailing);
      reader.advanceTo(lines.consumed, buffer.length);
      // The lines before an error come out first; the error ends the next step.
      if (batch !== undefined && batch.length > 0) yield batch;
      if (lines.error !== undefined) throw lines.error;
      if (isCompleted) return undefined;
      if (isCanceled) {
        handBack = true;
        return undefined;
      }
    }
  } catch (error) {
    failed = true;
    reader.complete(error);
    throw error;
  } finally {
    // Done, or return() (a break) at a yield.
    if (!failed && !handBack) reader.complete();
  }
}

/**
 * The state of one line loop: where the unfinished line starts and how much of it was
 * searched, and the decoder (the stream's UTF-8 state and byte offset).
 */
class LineSplitter {
  readonly #crlf: boolean;
  readonly #maxLength: number;
  readonly #decoder: Utf8Decoder;
  readonly #runs = new RunCursor();
  // Bytes at the start of the next buffer already searched without a line end (the open line).
  #searched = 0;
  /** Bytes of the last buffer split into lines (what to `advanceTo`). */
  consumed = 0;
  /** The error that ends the loop after the lines `split` returned with it. */
  error: Error | undefined;

  constructor(crlf: boolean, maxLength: number, fatal: boolean) {
    this.#crlf = crlf;
    this.#maxLength = maxLength;
    this.#decoder = new Utf8Decoder({ fatal });
  }

  /**
   * The lines `buffer` completes (undefined when none), setting `consumed`; at the end of the
   * stream, also the last line. Sets `error` when the loop must end after these lines: a line
   * too long (the lines returned are those before it), or a stream cut inside a line.
   */
  split(buffer: ReadableBuffer, final: boolean, keepTrailing: boolean): string[] | undefined {
    const length = buffer.length;
    const last = lastLineFeed(buffer, this.#searched, this.#runs);
    const end = last + 1; // bytes up to and with the last line end (0: none)
    const left = length - end;
    let batch: string[] | undefined;
    this.consumed = 0;
    if (end > 0) {
      const text = this.#decoder.decode(end === length ? buffer : buffer.slice(0, end), { stream: true });
      batch = this.#crlf ? splitCrlf(text) : text.split("\n");
      if (!this.#crlf) batch.pop(); // the text ends with a line end: the last piece is empty
      const tooLong = this.#finishLines(batch, buffer);
      if (tooLong !== undefined) {
        this.error = tooLong;
        return batch;
      }
    }
    this.consumed = end;
    this.#searched = left;
    if (final) {
      if (left > 0) {
        if (!keepTrailing) this.error = new TruncatedFrameError(left);
        else if (left > this.#maxLength) this.error = frameTooLarge("decode", left, this.#maxLength);
        else (batch ??= []).push(this.#decoder.decode(end === 0 ? buffer : buffer.slice(end)));
        this.consumed = length;
        this.#searched = 0;
      } else {
        this.#decoder.decode(); // the end of the stream (the decoder holds nothing: lines end on a line end)
      }
    } else if (left > this.#maxLength + (this.#crlf ? 1 : 0)) {
      // The open line is already too long (in "\r\n" mode its last byte may be the "\r" of
      // the line end): fail now rather than buffer an endless line.
      this.error = frameTooLarge("decode", left - (this.#crlf ? 1 : 0), this.#maxLength, true);
    }
    return batch;
  }

  /**
   * Checks each line's length in bytes: from its UTF-16 length when that decides it (a unit is
   * 1–3 bytes), else from the line ends in `buffer` (found in order, so a batch is searched at
   * most once). Returns the error for the first line too long, with the batch cut before it.
   */
  #finishLines(batch: string[], buffer: ReadableBuffer): FrameTooLargeError | undefined {
    const max = this.#maxLength;
    let index = 0; // the line that starts at byte `offset` of buffer
    let offset = 0;
    for (let i = 0; i < batch.length; i++) {
      const line = batch[i] as string;
      if (line.length * 3 <= max) continue;
      for (; index < i; index++) offset = buffer.indexOf(LF, offset) + 1;
      const next = buffer.indexOf(LF, offset);
      // In "\r\n" mode the line end may include a "\r" (splitCrlf dropped it).
      const cr = this.#crlf && next > offset && buffer.at(next - 1) === 0x0d ? 1 : 0;
      const bytes = next - offset - cr;
      if (bytes > max) {
        batch.length = i; // the lines before it still count
        return frameTooLarge("decode", bytes, max);
      }
    }
    return undefined;
  }
}

/** The lines of `text`, which ends with "\n": cut at each "\n", a "\r" before it dropped. */
function splitCrlf(text: string): string[] {
  const lines: string[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf("\n", from);
    if (at < 0) return lines;
    lines.push(text.slice(from, at > from && text.charCodeAt(at - 1) === 0x0d ? at - 1 : at));
    from = at + 1;
  }
}

/**
 * The offset of the last line feed in `buffer[from, length)`, or -1: one native `lastIndexOf`
 * per run of segments adjacent in memory (the last run that holds one decides).
 */
function lastLineFeed(buffer: ReadableBuffer, from: number, runs: RunCursor): number {
  let last = -1;
  walkRuns(buffer, runs, from);
  while (runs.next()) {
    const at = runs.view().lastIndexOf(LF);
    if (at >= 0) last = from + runs.offset + at;
  }
  return last;
}
