/**
 * node:zlib's native handle used directly: one synchronous call runs the codec from one
 * `Uint8Array` range into another, so input is read where it lies in pool memory and output
 * is written straight into a `getMemory` view of the output channel (no copy at all).
 *
 * The handle is internal and undocumented (`stream._handle`, what `zlib.deflateSync` itself
 * calls): `writeSync(flush, in, inOff, inLen, out, outOff, outLen)` runs the codec once and
 * leaves `[availOutAfter, availInAfter]` in the `Uint32Array(2)` the stream gave the handle
 * (`stream._writeState`); a codec error calls `handle.onerror(message, errno, code)` instead.
 * Node.js, Deno, Bun and workerd (with `nodejs_compat`) all have it. Its one hazard — the
 * codec keeps no pointer past the call, and our views never detach (DESIGN.md §4.1) — does
 * not arise. Because it is undocumented, {@linkcode nativeCodecStatus} checks the shape and
 * runs a round trip through pool-like memory before the first use of each format; any
 * surprise turns the fast path off for that format (with the reason), and
 * tests/compression_test.ts fails loudly when that happens on a runtime where it worked.
 *
 * Never write to a handle after it reported an error: Node.js aborts the process (a failed
 * sync write leaves its "write in progress" flag set). The codec is closed and dropped.
 *
 * @module
 */

/** The formats of {@linkcode compressor} and {@linkcode decompressor}. */
export type CompressionFormat = "gzip" | "deflate" | "deflate-raw" | "brotli" | "zstd";

/** Which way a codec runs. */
export type CodecDirection = "compress" | "decompress";

/** How a codec call ends: more input follows (0), flush what you have (1), or the stream ends (2). */
export type FlushMode = 0 | 1 | 2;
/** More input follows. */
export const FLUSH_NONE: FlushMode = 0;
/** Make everything so far decodable (a sync flush). */
export const FLUSH_SYNC: FlushMode = 1;
/** The stream ends. */
export const FLUSH_FINISH: FlushMode = 2;

/** The handle's undocumented shape (checked before use). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  close(): void;
  reset?: () => void;
  onerror: unknown;
}

/**
 * What we use of a node:zlib stream object: its handle, the handle's result array, and (for
 * hosts whose handle reports errors to the stream, as workerd's does) `errored`.
 */
interface ZlibStream {
  _handle?: unknown;
  _writeState?: unknown;
  readonly errored?: unknown;
  on?: (event: string, listener: () => void) => unknown;
}

type Factory = (options: Record<string, unknown>) => ZlibStream;

/** What we use of the node:zlib module. */
interface ZlibModule {
  constants: Record<string, number | undefined>;
  [factory: string]: unknown;
}

const FACTORIES: Record<CompressionFormat, readonly [compress: string, decompress: string]> = {
  "gzip": ["createGzip", "createGunzip"],
  "deflate": ["createDeflate", "createInflate"],
  "deflate-raw": ["createDeflateRaw", "createInflateRaw"],
  "brotli": ["createBrotliCompress", "createBrotliDecompress"],
  "zstd": ["createZstdCompress", "createZstdDecompress"],
};

// The flush constants by family: [none, sync, finish] (zlib.constants names).
const FLUSH_NAMES = {
  zlib: ["Z_NO_FLUSH", "Z_SYNC_FLUSH", "Z_FINISH"],
  brotli: ["BROTLI_OPERATION_PROCESS", "BROTLI_OPERATION_FLUSH", "BROTLI_OPERATION_FINISH"],
  zstd: ["ZSTD_e_continue", "ZSTD_e_flush", "ZSTD_e_end"],
} as const;

function family(format: CompressionFormat): keyof typeof FLUSH_NAMES {
  return format === "brotli" || format === "zstd" ? format : "zlib";
}

const EMPTY = new Uint8Array(0);

function ignore(): void {}
// Written into the result array before each call: still there after an error means the
// handle did not report how far it got (Node.js and Bun; Deno does report it).
const UNSET = 0xffffffff;

let zlibModule: ZlibModule | null | undefined;

/** node:zlib through `process.getBuiltinModule` (no static import: workerd and browsers lack it). */
function loadZlib(): ZlibModule | null {
  if (zlibModule !== undefined) return zlibModule;
  zlibModule = null;
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof process?.getBuiltinModule !== "function") return null;
  try {
    const module = process.getBuiltinModule("node:zlib") as ZlibModule | undefined;
    if (module !== undefined && module !== null && typeof module.constants === "object") zlibModule = module;
  } catch {
    // A host that lists the function but refuses the module.
  }
  return zlibModule;
}

/**
 * One codec: a node:zlib handle and the result array it writes. After {@linkcode write},
 * `availIn` and `availOut` say what the call left of the input and output ranges, or
 * `error` is set (and the codec must not be written again).
 */
export class NativeCodec {
  readonly #handle: ZlibHandle;
  readonly #stream: ZlibStream;
  readonly #state: Uint32Array;
  readonly #flush: readonly [number, number, number];
  #closed = false;
  /** The codec's message for the error the last call reported (the handle is then dead). */
  error: string | undefined;
  /** Whether the last failed call said how much input it read (`availIn` is valid). */
  errorHasPosition = false;
  /**
   * How to go on when a flush or finish filled the output: zlib and brotli need the same
   * mode again (and do nothing when it is repeated after the end); zstd goes on with "none",
   * as a repeated end starts a new, empty frame.
   */
  readonly repeatsFlush: boolean;

  private constructor(
    stream: ZlibStream,
    handle: ZlibHandle,
    state: Uint32Array,
    flush: readonly [number, number, number],
    repeatsFlush: boolean,
  ) {
    this.repeatsFlush = repeatsFlush;
    this.#stream = stream;
    this.#handle = handle;
    this.#state = state;
    this.#flush = flush;
    // Node.js, Deno and Bun call the handle's onerror (Node's own would destroy the stream);
    // workerd's handle reports to the stream, which then emits "error": heard and ignored
    // here, read from `errored` after each call.
    handle.onerror = (message: unknown) => {
      this.error = String(message);
    };
    stream.on?.("error", ignore);
  }

  /**
   * Opens a codec; throws when node:zlib or the handle is not what we expect (the caller
   * probed first, so that is a surprise). `windowBits` (zlib formats: 8–15) limits the window
   * (permessage-deflate negotiates it).
   */
  static open(
    format: CompressionFormat,
    direction: CodecDirection,
    level: number | undefined,
    windowBits?: number,
  ): NativeCodec {
    const zlib = loadZlib();
    if (zlib === null) throw new TypeError("node:zlib is not available");
    const name = FACTORIES[format][direction === "compress" ? 0 : 1];
    const factory = zlib[name];
    if (typeof factory !== "function") throw new TypeError(`node:zlib has no ${name}`);
    const constants = zlib.constants;
    const flush = FLUSH_NAMES[family(format)].map((key) => constants[key]);
    if (!flush.every((value) => typeof value === "number")) {
      throw new TypeError(`node:zlib lacks the flush constants ${FLUSH_NAMES[family(format)].join(", ")}`);
    }
    // The smallest chunk size: the stream's own output buffer is never used.
    const options: Record<string, unknown> = { chunkSize: 64 };
    if (level !== undefined) {
      if (format === "brotli") options.params = { [constants.BROTLI_PARAM_QUALITY as number]: level };
      else if (format === "zstd") options.params = { [constants.ZSTD_c_compressionLevel as number]: level };
      else options.level = level;
    }
    if (windowBits !== undefined && family(format) === "zlib") options.windowBits = windowBits;
    const stream = (factory as Factory).call(zlib, options);
    const handle = stream._handle as ZlibHandle | null | undefined;
    const state = stream._writeState;
    if (
      typeof handle !== "object" || handle === null || typeof handle.writeSync !== "function" ||
      typeof handle.close !== "function" || !(state instanceof Uint32Array) || state.length < 2
    ) {
      throw new TypeError(`node:zlib's ${name}() stream has no _handle.writeSync and _writeState`);
    }
    return new NativeCodec(
      stream,
      handle,
      state,
      flush as unknown as readonly [number, number, number],
      format !== "zstd",
    );
  }

  /** Input bytes the last call left unread. */
  get availIn(): number {
    return this.#state[1] as number;
  }

  /** Output bytes the last call left unwritten. */
  get availOut(): number {
    return this.#state[0] as number;
  }

  /**
   * Runs the codec once over `input[inOff, inOff + inLen)` into `out[outOff, outOff + outLen)`.
   * Bounds are the caller's duty (Node.js aborts the process on a range outside the arrays).
   */
  write(
    mode: FlushMode,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void {
    const state = this.#state;
    state[0] = UNSET;
    state[1] = UNSET;
    try {
      this.#handle.writeSync(this.#flush[mode], input, inOff, inLen, out, outOff, outLen);
    } catch (error) {
      // Deno's zstd throws instead of calling onerror.
      this.error = error instanceof Error ? error.message : String(error);
    }
    if (this.error === undefined) {
      const errored = this.#stream.errored;
      if (errored !== null && errored !== undefined && errored !== false) {
        this.error = errored instanceof Error ? errored.message : String(errored);
      }
    }
    if (this.error !== undefined) {
      this.errorHasPosition = state[1] !== UNSET && (state[1] as number) <= inLen;
    }
  }

  /**
   * Starts a new stream on the same codec (zlib's `deflateReset`/`inflateReset`: no new
   * native memory), as permessage-deflate without context takeover does per message.
   * Throws when the handle has no `reset` (the caller then opens a new codec).
   */
  reset(): void {
    const reset = this.#handle.reset;
    if (typeof reset !== "function") throw new TypeError("node:zlib's handle has no reset()");
    reset.call(this.#handle);
  }

  /** Frees the codec's native memory (also after an error; a no-op the second time). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#handle.close();
    } catch {
      // Some hosts throw when closing a handle whose last write failed; it is dropped anyway.
    }
  }
}

/** Why the fast path is off for a format (undefined: it is on), cached per format and direction. */
const statusCache = new Map<string, string | undefined>();

/**
 * Whether {@linkcode NativeCodec} works for `format` on this runtime: undefined when it does,
 * else the reason. The first call per format runs a self-test: a compress/decompress round
 * trip through `WebAssembly.Memory` views in output windows small enough to exercise
 * `availOut === 0`, a check of the result array, and a corrupt input that must reach
 * `onerror` (not throw, not pass).
 */
export function nativeCodecStatus(format: CompressionFormat): string | undefined {
  if (statusCache.has(format)) return statusCache.get(format);
  let reason: string | undefined;
  try {
    reason = selfTest(format);
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  statusCache.set(format, reason);
  return reason;
}

function selfTest(format: CompressionFormat): string | undefined {
  const zlib = loadZlib();
  if (zlib === null) return "node:zlib is not available (no process.getBuiltinModule)";
  const [compressName, decompressName] = FACTORIES[format];
  if (typeof zlib[compressName] !== "function" || typeof zlib[decompressName] !== "function") {
    return `node:zlib has no ${compressName}`;
  }
  // Pool memory is WebAssembly memory: test on the same kind of buffer.
  const memory = new Uint8Array(new WebAssembly.Memory({ initial: 1, maximum: 1 }).buffer);
  const text = "channels probe: the quick brown fox jumps over the lazy dog; ".repeat(8);
  const plain = new TextEncoder().encode(text);
  memory.set(plain, 0);
  const packedAt = 4096;
  const packed = roundTrip(NativeCodec.open(format, "compress", undefined), memory, 0, plain.length, packedAt, 7);
  if (typeof packed === "string") return `compressing: ${packed}`;
  const unpackedAt = 8192;
  const unpacked = roundTrip(
    NativeCodec.open(format, "decompress", undefined),
    memory,
    packedAt,
    packed,
    unpackedAt,
    5,
  );
  if (typeof unpacked === "string") return `decompressing: ${unpacked}`;
  if (unpacked !== plain.length) return `the round trip gave ${unpacked} bytes instead of ${plain.length}`;
  for (let i = 0; i < plain.length; i++) {
    if (memory[unpackedAt + i] !== plain[i]) return `the round trip changed byte ${i}`;
  }
  if (format === "brotli") {
    // Brotli has no invalid input every implementation rejects (Deno's decoder reports no
    // errors): check the other signal we use, a stream that ends before its input.
    const codec = NativeCodec.open(format, "decompress", undefined);
    memory.fill(7, packedAt + packed, packedAt + packed + 3);
    codec.write(FLUSH_NONE, memory, packedAt, packed + 3, memory, unpackedAt, 4096);
    codec.close();
    if (codec.error !== undefined || codec.availIn !== 3) {
      return "a stream followed by 3 bytes did not stop before them";
    }
    return undefined;
  }
  // A corrupt stream reaches onerror or throws (the handle is dropped after it, as always).
  const corrupt = NativeCodec.open(format, "decompress", undefined);
  memory.fill(0xff, 0, 64);
  corrupt.write(FLUSH_FINISH, memory, 0, 64, memory, unpackedAt, 4096);
  corrupt.close();
  if (corrupt.error === undefined) return "a corrupt stream reported no error";
  return undefined;
}

/**
 * Runs `memory[from, from + length)` through `codec` into `memory` at `to`, `window` output
 * bytes per call, then finishes; returns the output length or what went wrong.
 */
function roundTrip(
  codec: NativeCodec,
  memory: Uint8Array,
  from: number,
  length: number,
  to: number,
  window: number,
): number | string {
  let at = to;
  let inOff = from;
  let inLen = length;
  for (const mode of [FLUSH_NONE, FLUSH_FINISH]) {
    for (let calls = 0;; calls++) {
      if (calls > 1000) return "the codec made no progress";
      if (mode === FLUSH_FINISH) {
        codec.write(calls === 0 || codec.repeatsFlush ? mode : FLUSH_NONE, EMPTY, 0, 0, memory, at, window);
      } else {
        codec.write(mode, memory, inOff, inLen, memory, at, window);
      }
      if (codec.error !== undefined) return codec.error;
      const availOut = codec.availOut;
      const availIn = codec.availIn;
      if (availOut > window || (mode === FLUSH_NONE && availIn > inLen)) {
        return `_writeState holds [${availOut}, ${availIn}] after a call of ${inLen} in and ${window} out`;
      }
      at += window - availOut;
      if (mode === FLUSH_NONE) {
        inOff += inLen - availIn;
        inLen = availIn;
      }
      if (availOut > 0 && (mode === FLUSH_FINISH || inLen === 0)) break;
    }
  }
  codec.close();
  return at - to;
}
