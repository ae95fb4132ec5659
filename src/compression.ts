/**
 * Compression as channel-to-channel transforms for `pipeThrough`: {@linkcode compressor}
 * and {@linkcode decompressor}, in gzip, deflate (zlib), deflate-raw, brotli and zstd.
 *
 * | runtime | path | copies |
 * | --- | --- | --- |
 * | Node.js, Deno, Bun, Cloudflare Workers with `nodejs_compat` | node:zlib's native codec, called synchronously from one array range into another | none: input is read where it lies in pool memory, output is written into `getMemory` views |
 * | Cloudflare Workers without `nodejs_compat`, browsers | `CompressionStream` / `DecompressionStream` (gzip, deflate, deflate-raw) | one at each edge: input pieces out of the pool, output chunks into it |
 *
 * | format | Node.js | Deno | Bun | Workers (`nodejs_compat`) | Workers, browsers |
 * | --- | --- | --- | --- | --- | --- |
 * | gzip, deflate, deflate-raw | yes | yes | yes | yes | yes |
 * | brotli | yes | yes | yes | yes | no |
 * | zstd | 22.15+ | yes | yes | yes | no |
 *
 * @module
 */

import { rangeError, typeError } from "./errors.ts";
import { type CompressionFormat, nativeCodecStatus } from "./_zlib_native.ts";
import { NativeTransform } from "./_zlib_transform.ts";
import { WebTransform } from "./_zlib_web.ts";
import type { ChannelTransform } from "./transform.ts";

export type { CompressionFormat } from "./_zlib_native.ts";

/** Options of {@linkcode compressor}. */
export interface CompressorOptions {
  /**
   * The format: `"gzip"` (RFC 1952), `"deflate"` (the zlib format, RFC 1950, what HTTP calls
   * `deflate`), `"deflate-raw"` (RFC 1951, no header), `"brotli"` (RFC 7932) or `"zstd"`
   * (RFC 8878). Brotli and zstd need node:zlib (see the module doc).
   */
  format: CompressionFormat;
  /**
   * The compression level: 0 (stored) to 9 for gzip, deflate and deflate-raw; 0 to 11 for
   * brotli; 1 to 22 for zstd. Higher is smaller and slower. `CompressionStream` (the path
   * without node:zlib) has no levels: there the level is checked and then unused.
   *
   * @default {undefined} The codec's own default: 6 for the zlib formats, 11 for brotli (the
   * densest and slowest: 4 or 5 suits compressing on the fly), 3 for zstd.
   */
  level?: number;
  /**
   * End the output of every input read with a sync flush (zlib's `Z_SYNC_FLUSH`, brotli's
   * and zstd's flush), so that everything written so far can be decoded by the peer now: for
   * interactive streams (server-sent events, logs, a protocol's messages). Without it the
   * codec keeps what it has not yet compressed until more input comes or the input ends,
   * which compresses better. Costs a few bytes per flush. Needs node:zlib:
   * `CompressionStream` cannot flush.
   *
   * @default {false}
   */
  syncFlush?: boolean;
}

/** Options of {@linkcode decompressor}. */
export interface DecompressorOptions {
  /** The format, as in {@linkcode CompressorOptions.format}. */
  format: CompressionFormat;
  /**
   * The most output bytes the stream may give. Output is counted as it is produced and the
   * decompressor stops with a `RangeError` once one byte more has come out, so a
   * decompression bomb (a few megabytes that expand to gigabytes) costs little: the output
   * is also flushed every 64 KiB, waiting for the reader, so the pool holds about as much as
   * the output channel's `pauseWriterThreshold`. `Infinity` turns the limit off.
   *
   * @default {1073741824} (1 GiB)
   */
  maxOutputBytes?: number;
}

/** How a transform runs (internal; for tests and benchmarks). */
export type CompressionBackend = "node:zlib" | "CompressionStream";

const FORMATS: readonly CompressionFormat[] = ["gzip", "deflate", "deflate-raw", "brotli", "zstd"];
const LEVELS: Record<CompressionFormat, readonly [number, number]> = {
  "gzip": [0, 9],
  "deflate": [0, 9],
  "deflate-raw": [0, 9],
  "brotli": [0, 11],
  "zstd": [1, 22],
};
const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024 * 1024;

let forcedBackend: CompressionBackend | undefined;

/**
 * Forces one path (tests: the `CompressionStream` fallback on runtimes that have node:zlib),
 * or goes back to choosing (undefined). Transforms made before keep their path.
 */
export function setCompressionBackendForTesting(backend: CompressionBackend | undefined): void {
  forcedBackend = backend;
}

/**
 * The path a transform for `format` takes on this runtime now, or undefined when none can
 * run it. node:zlib whenever its self-test passes ({@linkcode compressionFastPathStatus}).
 */
export function compressionBackend(format: CompressionFormat): CompressionBackend | undefined {
  if (forcedBackend !== "CompressionStream" && nativeCodecStatus(format) === undefined) return "node:zlib";
  if (forcedBackend !== "node:zlib" && isWebFormat(format) && typeof CompressionStream === "function") {
    return "CompressionStream";
  }
  return undefined;
}

/** Why the node:zlib path is off for `format` (undefined when it is on). */
export function compressionFastPathStatus(format: CompressionFormat): string | undefined {
  return nativeCodecStatus(format);
}

function isWebFormat(format: CompressionFormat): format is "gzip" | "deflate" | "deflate-raw" {
  return format === "gzip" || format === "deflate" || format === "deflate-raw";
}

/**
 * A transform that compresses its input, for `pipeThrough`. The output is one complete
 * stream in `format`, ended when the input ends; with `syncFlush`, every read of the input
 * also ends in a sync flush (see {@linkcode CompressorOptions.syncFlush}).
 *
 * One transform per stream; once a stream has ended (or failed), the transform may start
 * the next one.
 *
 * @param options The format, and optionally the level and sync flushes.
 * @returns The transform.
 * @throws {TypeError} When `format` is unknown or not available on this runtime (the message
 * names the runtime), when `syncFlush` is not a boolean, or is true without node:zlib.
 * @throws {RangeError} When `level` is not an integer in the format's range.
 *
 * @example Gzip a stream, check it with node:zlib
 * ```ts
 * import assert from "node:assert/strict";
 * import { gunzipSync } from "node:zlib";
 * import { Channel, compressor, pipeThrough } from "@channels/channels";
 *
 * const source = new Channel();
 * const gzipped = pipeThrough(source.reader, compressor({ format: "gzip", level: 9 }));
 * const producer = (async () => {
 *   for (let i = 0; i < 1000; i++) await source.writer.writeUtf8(`line ${i}\n`);
 *   source.writer.complete();
 * })();
 *
 * const parts: Uint8Array[] = [];
 * for (;;) {
 *   const { buffer, isCompleted } = await gzipped.read();
 *   parts.push(buffer.toUint8Array());
 *   gzipped.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * gzipped.complete();
 * await producer;
 * const text = gunzipSync(Buffer.concat(parts)).toString();
 * assert.equal(text.split("\n")[999], "line 999");
 * ```
 */
export function compressor(options: CompressorOptions): ChannelTransform {
  const format = checkFormat("compressor", options);
  const level = checkLevel(format, options.level);
  const syncFlush = options.syncFlush ?? false;
  if (typeof syncFlush !== "boolean") {
    throw typeError("create the compressor", "syncFlush must be a boolean", syncFlush);
  }
  const backend = chooseBackend("compressor", format);
  if (backend === "node:zlib") {
    return new NativeTransform({ format, direction: "compress", level, syncFlush, maxOutputBytes: Infinity });
  }
  if (syncFlush) {
    throw typeError(
      "create the compressor",
      `syncFlush needs node:zlib, which ${runtimeName()} does not provide here (CompressionStream cannot flush)`,
      syncFlush,
    );
  }
  return new WebTransform(format as "gzip" | "deflate" | "deflate-raw", "compress", Infinity);
}

/**
 * A transform that decompresses its input, for `pipeThrough`. Output comes as the input
 * does (everything the input read so far decodes to), into the output channel's pool memory.
 *
 * - Corrupt input rejects the pipe with a `TypeError` naming the input byte offset where
 *   the codec stopped (Deno's codecs report it; elsewhere the message gives the range of
 *   input bytes the failing call read).
 * - Input that ends inside the stream is a `TypeError` (`the input ended inside it`).
 * - Bytes after the end of the stream are a `TypeError` (`it ended before the input did`),
 *   except that gzip members after the first are decoded too, as gzip(1) and Node.js do,
 *   and zstd frames after the first too, as zstd(1) does.
 * - Output past `maxOutputBytes` is a `RangeError`, thrown as soon as it is produced.
 *
 * On the `CompressionStream` path (no node:zlib) the runtime's `DecompressionStream` decides
 * some cases: gzip members after the first are decoded by Node.js and Bun, rejected by
 * Cloudflare Workers and Deno; Node.js ignores bytes after a deflate or deflate-raw stream
 * (and zero bytes after a gzip member); Deno accepts a deflate or deflate-raw stream cut
 * short. Empty input is an error everywhere.
 *
 * One transform per stream; once a stream has ended (or failed), the transform may start
 * the next one.
 *
 * @param options The format, and the output limit.
 * @returns The transform.
 * @throws {TypeError} When `format` is unknown or not available on this runtime (the message
 * names the runtime).
 * @throws {RangeError} When `maxOutputBytes` is not a non-negative integer or `Infinity`.
 *
 * @example Decompress a gzip body, with a limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * import { Channel, decompressor, pipeThrough } from "@channels/channels";
 *
 * const source = new Channel();
 * const plain = pipeThrough(source.reader, decompressor({ format: "gzip", maxOutputBytes: 1 << 20 }));
 * await source.writer.write(gzipSync("hello, ".repeat(1000)));
 * source.writer.complete();
 *
 * let length = 0;
 * for (;;) {
 *   const { buffer, isCompleted } = await plain.read();
 *   length += buffer.length;
 *   plain.advanceTo(buffer.length);
 *   if (isCompleted) break;
 * }
 * plain.complete();
 * assert.equal(length, 7000);
 * ```
 *
 * @example A bomb stops at the limit
 * ```ts
 * import assert from "node:assert/strict";
 * import { gzipSync } from "node:zlib";
 * import { Channel, decompressor, pipeThrough } from "@channels/channels";
 *
 * const bomb = gzipSync(new Uint8Array(50_000_000)); // 50 MB of zeros in about 50 kB
 * const source = new Channel();
 * const plain = pipeThrough(source.reader, decompressor({ format: "gzip", maxOutputBytes: 1_000_000 }));
 * void source.writer.write(bomb).catch(() => {});
 * await assert.rejects(async () => {
 *   for (;;) {
 *     const { buffer } = await plain.read();
 *     plain.advanceTo(buffer.length);
 *   }
 * }, RangeError);
 * ```
 */
export function decompressor(options: DecompressorOptions): ChannelTransform {
  const format = checkFormat("decompressor", options);
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (max !== Infinity && !(Number.isSafeInteger(max) && max >= 0)) {
    throw rangeError("create the decompressor", "maxOutputBytes must be a non-negative integer or Infinity", max);
  }
  const backend = chooseBackend("decompressor", format);
  if (backend === "node:zlib") {
    return new NativeTransform({
      format,
      direction: "decompress",
      level: undefined,
      syncFlush: false,
      maxOutputBytes: max,
    });
  }
  return new WebTransform(format as "gzip" | "deflate" | "deflate-raw", "decompress", max);
}

function checkFormat(what: string, options: unknown): CompressionFormat {
  if (options === null || typeof options !== "object") {
    throw typeError(`create the ${what}`, "options must be an object", options);
  }
  const format = (options as { format?: unknown }).format;
  if (!FORMATS.includes(format as CompressionFormat)) {
    throw typeError(
      `create the ${what}`,
      'format must be "gzip", "deflate", "deflate-raw", "brotli" or "zstd"',
      format,
    );
  }
  return format as CompressionFormat;
}

function checkLevel(format: CompressionFormat, level: unknown): number | undefined {
  if (level === undefined) return undefined;
  const [min, max] = LEVELS[format];
  if (typeof level !== "number" || !Number.isInteger(level) || level < min || level > max) {
    throw rangeError("create the compressor", `level must be an integer from ${min} to ${max} for ${format}`, level);
  }
  return level;
}

function chooseBackend(what: string, format: CompressionFormat): CompressionBackend {
  const backend = compressionBackend(format);
  if (backend !== undefined) return backend;
  const why = forcedBackend === "CompressionStream"
    ? "CompressionStream has no " + format + " (forced for testing)"
    : `node:zlib: ${nativeCodecStatus(format)}; CompressionStream: ${isWebFormat(format) ? "missing" : `no ${format}`}`;
  throw typeError(`create the ${what}`, `${format} is not available on ${runtimeName()} (${why})`, format);
}

/** The runtime's name and version, for error messages. */
function runtimeName(): string {
  const g = globalThis as {
    Deno?: { version?: { deno?: string } };
    Bun?: { version?: string };
    process?: { versions?: { node?: string } };
    navigator?: { userAgent?: string };
  };
  if (typeof g.Deno?.version?.deno === "string") return `Deno ${g.Deno.version.deno}`;
  if (typeof g.Bun?.version === "string") return `Bun ${g.Bun.version}`;
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "Cloudflare Workers";
  if (typeof g.process?.versions?.node === "string") return `Node.js ${g.process.versions.node}`;
  return g.navigator?.userAgent ?? "this runtime";
}
