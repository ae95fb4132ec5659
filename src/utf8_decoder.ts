/**
 * {@linkcode Utf8Decoder}: a streaming UTF-8 decoder whose output is identical to
 * `TextDecoder`'s, on bytes where they lie (each choice measured in bench/utf8.ts).
 *
 * - Strings come from the runtime's `TextDecoder` on a view of pool memory: the engine must
 *   build the string anyway, and that is its fastest way (a kernel that transcodes to UTF-16
 *   would still pay for a UTF-16 string, which the benchmark shows is slower everywhere but
 *   on Node's mixed text). In replacement mode it gets each run whole, cut only before a
 *   sequence left open at the run's end: its U+FFFD replacement is then exactly the
 *   stream's, and validating first would only cost time. In fatal mode the kernel layer's
 *   table picks per runtime (src/_wasm/paths.ts, `utf8Validate`): the kernel validates the run
 *   and a plain `TextDecoder` makes the string (Deno, whose fatal `TextDecoder` is slow), or a
 *   fatal `TextDecoder` does both (Node, Bun) and the kernel only locates an error.
 * - A sequence that straddles calls is carried in a 4-byte array (at most 3 bytes) and
 *   finished in TypeScript. Segments adjacent in memory are decoded as one run; runs that
 *   lie apart (a pool after churn) are copied into the kernel layer's 1 MiB gather area and
 *   decoded with one call per area: a call per segment costs more, and so does a string made
 *   of pieces, which the engine copies once more when it flattens it (bench/utf8.ts,
 *   "scattered" rows: a 64 KiB area made 1 MiB of text 16 pieces); the carried bytes go in
 *   first.
 * - A call that is a whole stream (a fresh decoder, or one whose last call was not a
 *   streaming one, given one run without `stream`: a line from `readFrames`, say) is one
 *   `TextDecoder` call, or on Deno, for up to 32 bytes of ASCII, a JavaScript loop.
 *
 * | input | copies? |
 * | --- | --- |
 * | a `ReadableBuffer` from a channel, or a view of pool memory it yielded | none: the kernel reads pool memory; runs that lie apart are gathered, 1 MiB at a time |
 * | any other `Uint8Array` (and `ReadableBuffer.from` chunks) | fatal validation only: 32 KiB at a time into kernel scratch memory |
 *
 * @module
 */

import { codePointOf, fitsAt, maximalSubpart, openTail, sequenceLength } from "./_utf8_reference.ts";
import { checkUtf8Input } from "./_utf8_input.ts";
import { RunCursor } from "./_runs.ts";
import { asciiString } from "./_text.ts";
import { choiceOf } from "./_wasm/paths.ts";
import { GATHER_BYTES, gatherArea } from "./_wasm/registry.ts";
import { locateUtf8Error, utf8Validate } from "./_wasm/utf8_validate.ts";
import { typeError } from "./errors.ts";
import { ReadableBuffer, walkRuns } from "./readable_buffer.ts";

/** Options of {@linkcode Utf8Decoder}, as `TextDecoder`'s. */
export interface Utf8DecoderOptions {
  /**
   * Throw a `TypeError` naming the byte offset of the first invalid sequence, instead of
   * replacing invalid sequences with U+FFFD.
   *
   * @default {false}
   */
  fatal?: boolean;
  /**
   * Keep a byte order mark (U+FEFF) at the start of the stream in the output, instead of
   * dropping it.
   *
   * @default {false}
   */
  ignoreBOM?: boolean;
}

/** Options of {@linkcode Utf8Decoder.decode}, as `TextDecoder.decode`'s. */
export interface Utf8DecodeOptions {
  /**
   * More bytes follow in a later call: a sequence left open at the end is carried to it,
   * instead of being an error.
   *
   * @default {false}
   */
  stream?: boolean;
}

// Non-fatal, non-streaming and BOM-preserving. It only ever sees runs that start and end on
// sequence boundaries, where its U+FFFD replacement is exactly the stream's (the carry handles
// sequences cut by a boundary); BOM handling belongs to the stream, not to each run.
const runDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
// Non-fatal and non-streaming, for a decode that is a whole stream (no state before or after
// it): its output, BOM handling included, is then exactly Utf8Decoder's.
const wholeDecoder = new TextDecoder("utf-8");
const wholeDecoderKeepingBOM = runDecoder;
// The kernel layer's choice for validation (fatal decoding validates each run).
const UTF8_VALIDATE = choiceOf("utf8Validate");
// Fatal and BOM-preserving, for the native path's fatal decoding of runs.
const fatalRunDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
// bench/utf8.ts, "line" rows (Utf8Decoder.decode of a short one-segment frame ÷ TextDecoder's
// ns): a whole-stream decode of ASCII input up to this many bytes builds its string in
// JavaScript (String.fromCharCode of the bytes) instead of calling TextDecoder. Only Deno's
// TextDecoder costs enough a call for that to pay (about 100 ns, against 45–85 ns for 8–32
// bytes in JavaScript); Node's and Bun's cost 40–55 ns, which no JavaScript loop beats.
const SHORT_ASCII_BYTES = IS_DENO ? 32 : 0;

// A run of adjacent segments of this many bytes or more is decoded in place; shorter runs of a
// buffer with several are copied into the gather area (bench/utf8.ts, "scattered" rows): the
// copy costs more than an extra piece once a run is this long.
const DIRECT_RUN_BYTES = 16 * 1024;
// The gather area's size in use and the run length decoded in place, lowered by tests to reach
// every boundary with small inputs.
let gatherLimit = GATHER_BYTES;
let directRunBytes = DIRECT_RUN_BYTES;
// Reused by every decode (a decode never calls out while walking).
const decodeRuns = new RunCursor();

/**
 * Sets the gather area's size (up to 1 MiB) and the run length decoded in place, so tests reach
 * every boundary with small inputs; no arguments restore the defaults.
 */
export function setGatherForTesting(limit: number = GATHER_BYTES, directRun: number = DIRECT_RUN_BYTES): void {
  gatherLimit = Math.max(4, Math.min(GATHER_BYTES, limit));
  directRunBytes = directRun;
}

/** The string of `view[from, to)`, which starts and ends on sequence boundaries. */
function decodeRun(view: Uint8Array, from: number, to: number): string {
  return runDecoder.decode(from === 0 && to === view.length ? view : view.subarray(from, to));
}

function hex(bytes: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += (i > from ? " " : "") + (bytes[i] as number).toString(16).padStart(2, "0");
  return text;
}

/** The error for the invalid sequence `bytes` (its maximal subpart, in hex) at `offset`. */
function invalidSequence(offset: number, bytes: string): TypeError {
  return typeError("decode UTF-8", `the sequence at byte offset ${offset} is invalid`, bytes);
}

function truncatedSequence(offset: number, bytes: string): TypeError {
  return typeError("decode UTF-8", `the input ends inside the sequence at byte offset ${offset}`, bytes);
}

function checkOptions(options: unknown, what: string): void {
  if (options !== undefined && options !== null && typeof options !== "object") {
    throw typeError(what, "options must be an object", options);
  }
}

/**
 * A streaming UTF-8 decoder with `TextDecoder`'s output: the same U+FFFD for every invalid
 * sequence (the WHATWG "maximal subpart" rule), the same BOM handling, and the same
 * `{ stream: true }` carrying of a sequence cut by a call boundary. It also takes a
 * multi-segment {@linkcode ReadableBuffer} and decodes it where it lies, sequences that
 * straddle segments included.
 *
 * State between calls is at most 3 carried bytes and a byte count. A non-stream `decode`
 * (and a fatal error) ends the stream: the next call starts afresh, BOM handling included.
 *
 * @example Decoding a channel's text as it arrives
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, MemoryPool, Utf8Decoder } from "@channels/channels";
 *
 * const channel = new Channel({ pool: new MemoryPool({ blockSize: 16 }) });
 * const bytes = new TextEncoder().encode("Grüße aus Köln – 東京 🚀");
 * // Two writes that cut "ß" in half; each read returns every buffered segment.
 * await channel.writer.write(bytes.subarray(0, 4));
 * await channel.writer.write(bytes.subarray(4));
 * channel.writer.complete();
 *
 * const decoder = new Utf8Decoder({ fatal: true });
 * let text = "";
 * for (;;) {
 *   const { buffer, isCompleted } = await channel.reader.read();
 *   text += decoder.decode(buffer, { stream: !isCompleted });
 *   channel.reader.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * channel.reader.complete();
 * assert.equal(text, "Grüße aus Köln – 東京 🚀");
 * ```
 *
 * @example Lines as strings: one decoder for every line
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, delimited, readFrames, Utf8Decoder } from "@channels/channels";
 *
 * const { reader, writer } = new Channel();
 * await writer.writeUtf8("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\n");
 * writer.complete();
 * const decoder = new Utf8Decoder();
 * const lines: string[] = [];
 * for await (const line of readFrames(reader, delimited({ delimiter: "\r\n" }))) {
 *   lines.push(decoder.decode(line)); // a string: it outlives the frame
 * }
 * assert.deepEqual(lines, ["GET / HTTP/1.1", "Host: example.com", "Accept: text/plain"]);
 * ```
 *
 * @example Replacement and fatal modes
 * ```ts
 * import assert from "node:assert/strict";
 * import { Utf8Decoder } from "@channels/channels";
 *
 * const bytes = new Uint8Array([0x68, 0x69, 0xed, 0xa0, 0x80, 0x21]); // "hi", a surrogate, "!"
 * assert.equal(new Utf8Decoder().decode(bytes), "hi\uFFFD\uFFFD\uFFFD!");
 * assert.throws(() => new Utf8Decoder({ fatal: true }).decode(bytes), {
 *   name: "TypeError",
 *   message: /byte offset 2/,
 * });
 * ```
 */
export class Utf8Decoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  // The open sequence cut by a segment or call boundary: #carry[0, #carryLength), valid so
  // far, starting at stream offset #carryStart. #carryLength is 0 when none is open.
  readonly #carry = new Uint8Array(4);
  #carryLength = 0;
  #carryStart = 0;
  // Bytes passed in since the stream started (the last non-stream decode or fatal error).
  #position = 0;
  // Whether the stream has output its first code point (a BOM is dropped only there).
  #bomSeen = false;

  /**
   * Creates a decoder.
   *
   * @param options Fatal or replacement mode, and BOM handling.
   * @throws {TypeError} When `options` is not an object.
   */
  constructor(options?: Utf8DecoderOptions) {
    checkOptions(options, "create the decoder");
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
  }

  /** Always `"utf-8"`, as `TextDecoder.encoding`. */
  get encoding(): "utf-8" {
    return "utf-8";
  }

  /** Whether invalid input throws instead of turning into U+FFFD. */
  get fatal(): boolean {
    return this.#fatal;
  }

  /** Whether a leading BOM stays in the output. */
  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  /**
   * Decodes the next bytes of the stream. Nothing is copied out of a channel's buffer (but
   * segments that lie apart in memory, gathered into contiguous scratch memory), and the
   * returned string holds no reference to it (advance the reader freely afterwards). A call
   * without `stream` after a call without it (or on a new decoder) is a stream of its own:
   * decode a frame per call this way, a line from `readFrames` say, and it costs one
   * `TextDecoder` call or less.
   *
   * @param input The bytes: a buffer from a channel read (any number of segments), or an array.
   * @param options `stream: true` when more bytes follow in a later call.
   * @returns The text; a sequence left open at the end of a streaming call comes out with the
   * next call.
   * @throws {TypeError} In fatal mode, when the bytes are not valid UTF-8 (the message names
   * the byte offset of the bad sequence, counted from the start of the stream); when `input`
   * is neither a `ReadableBuffer` nor a `Uint8Array`, or `options` is not an object.
   */
  decode(input?: ReadableBuffer | Uint8Array, options?: Utf8DecodeOptions): string {
    if (
      this.#position === 0 && this.#carryLength === 0 && !this.#fatal &&
      (options === undefined || (typeof options === "object" && options !== null && !options.stream))
    ) {
      // The call is a whole stream (nothing before it, nothing carried after it): one
      // TextDecoder call gives exactly our output (a fresh stream's BOM handling included).
      const text = this.#decodeWhole(input);
      if (text !== undefined) return text;
    }
    checkOptions(options, "decode UTF-8");
    const stream = Boolean(options?.stream);
    let out = "";
    if (input !== undefined) {
      checkUtf8Input(input, "decode UTF-8");
      try {
        out = input instanceof Uint8Array ? this.#feed(input) : this.#feedRuns(input);
      } catch (error) {
        decodeRuns.finish();
        this.#reset();
        throw error;
      }
    }
    if (!stream && this.#carryLength > 0) {
      if (this.#fatal) {
        const error = truncatedSequence(this.#carryStart, hex(this.#carry, 0, this.#carryLength));
        this.#reset();
        throw error;
      }
      out += "\uFFFD";
    }
    if (!this.#bomSeen && out.length > 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && out.charCodeAt(0) === 0xfeff) out = out.slice(1);
    }
    if (!stream) this.#reset();
    return out;
  }

  /**
   * The text of `input` as a whole non-fatal stream, for a call that starts and ends one; or
   * `undefined` when the general path must run (several segments, or not an input at all).
   */
  #decodeWhole(input: ReadableBuffer | Uint8Array | undefined): string | undefined {
    let view: Uint8Array;
    if (input instanceof ReadableBuffer) {
      // One segment (a frame, a line) is the fast path: its view, no walk (several segments take
      // the general path).
      if (!input.isSingleSegment) return undefined;
      view = input.first;
      if (view.length <= SHORT_ASCII_BYTES) {
        const text = asciiString(view, 0, view.length);
        if (text !== undefined) return text;
      }
    } else if (input instanceof Uint8Array) {
      if (input.length <= SHORT_ASCII_BYTES) {
        const text = asciiString(input, 0, input.length);
        if (text !== undefined) return text;
      }
      view = input;
    } else {
      return undefined;
    }
    return (this.#ignoreBOM ? wholeDecoderKeepingBOM : wholeDecoder).decode(view);
  }

  /**
   * Decodes a buffer's runs (see {@linkcode walkRuns}): one run that is all of it in place; of
   * several, the long ones in place and the rest copied into the gather area and decoded a full
   * area at a time. The carried bytes go first into an empty area, so TextDecoder finishes (or
   * replaces) the open sequence itself.
   */
  #feedRuns(input: ReadableBuffer): string {
    if (input.length === 0) return "";
    if (input.isSingleSegment) return this.#feed(input.first); // no walk
    const runs = walkRuns(input, decodeRuns);
    runs.next();
    if (runs.to - runs.from === input.length) {
      const view = runs.view();
      runs.finish();
      return this.#feed(view);
    }
    let out = "";
    let gathered = 0;
    let area: Uint8Array | undefined;
    do {
      const length = runs.to - runs.from;
      if (length >= directRunBytes) {
        if (gathered > 0) out += this.#feed((area as Uint8Array).subarray(0, gathered));
        gathered = 0;
        out += this.#feed(runs.view());
        continue;
      }
      area ??= gatherArea();
      const bytes = runs.bytes;
      for (let at = runs.from; at < runs.to;) {
        if (gathered === 0 && this.#carryLength > 0) {
          // The carried bytes are the stream's last: they move into the area.
          for (let k = 0; k < this.#carryLength; k++) area[k] = this.#carry[k] as number;
          gathered = this.#carryLength;
          this.#position -= this.#carryLength;
          this.#carryLength = 0;
        }
        const n = Math.min(gatherLimit - gathered, runs.to - at);
        area.set(at === 0 && n === bytes.length ? bytes : bytes.subarray(at, at + n), gathered);
        gathered += n;
        at += n;
        if (gathered === gatherLimit) {
          out += this.#feed(gatherLimit === GATHER_BYTES ? area : area.subarray(0, gathered));
          gathered = 0;
        }
      }
    } while (runs.next());
    if (gathered > 0) out += this.#feed((area as Uint8Array).subarray(0, gathered));
    return out;
  }

  /** Decodes one run of bytes (a run of segments, the gather area or an array) that follows the carried bytes. */
  #feed(view: Uint8Array): string {
    const n = view.length;
    let at = 0;
    let out = "";
    if (this.#carryLength > 0) {
      const carry = this.#carry;
      const lead = carry[0] as number;
      const length = sequenceLength(lead);
      while (this.#carryLength < length && at < n && fitsAt(lead, this.#carryLength, view[at] as number)) {
        carry[this.#carryLength++] = view[at++] as number;
      }
      if (this.#carryLength === length) {
        out = String.fromCodePoint(codePointOf(carry, length));
      } else if (at < n) {
        // view[at] does not fit: the carried bytes are a maximal subpart; view[at] starts afresh.
        if (this.#fatal) {
          throw invalidSequence(this.#carryStart, hex(carry, 0, this.#carryLength));
        }
        out = "\uFFFD";
      } else {
        this.#position += n; // still open
        return "";
      }
      this.#carryLength = 0;
    }
    if (!this.#fatal) {
      // Replacement mode needs no validation: TextDecoder replaces exactly as the stream
      // would, given a run that ends before an open sequence (bench/utf8.ts: validating first
      // only costs time).
      const tail = openTail(view, at, n);
      if (n - tail > at) out += decodeRun(view, at, n - tail);
      if (tail > 0) {
        this.#carryStart = this.#position + n - tail;
        for (let i = n - tail; i < n; i++) this.#carry[this.#carryLength++] = view[i] as number;
      }
      this.#position += n;
      return out;
    }
    if (at < n && UTF8_VALIDATE.path(n - at) === "native") {
      // Fatal mode, native path: a fatal TextDecoder on the run up to an open sequence; only
      // when it throws does the kernel find where.
      const tail = openTail(view, at, n);
      if (n - tail > at) {
        try {
          out += fatalRunDecoder.decode(at === 0 && tail === 0 ? view : view.subarray(at, n - tail));
        } catch {
          const bad = at + ~locateUtf8Error(view, at, n);
          throw invalidSequence(
            this.#position + bad,
            hex(view, bad, bad + maximalSubpart(view, bad, n)),
          );
        }
      }
      at = n - tail;
    }
    // Fatal mode, kernel path: the kernel validates, then a non-fatal TextDecoder makes the
    // string of the valid run.
    const r = at < n ? utf8Validate(view, at, n) : 0;
    if (r < 0) {
      const bad = at + ~r;
      throw invalidSequence(this.#position + bad, hex(view, bad, bad + maximalSubpart(view, bad, n)));
    }
    if (r > 0) out += decodeRun(view, at, at + r);
    at += r;
    if (at < n) {
      this.#carryStart = this.#position + at;
      while (at < n) this.#carry[this.#carryLength++] = view[at++] as number;
    }
    this.#position += n;
    return out;
  }

  #reset(): void {
    this.#carryLength = 0;
    this.#position = 0;
    this.#bomSeen = false;
  }
}
