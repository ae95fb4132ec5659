/**
 * The demo `npm start` runs (also `deno task demo`, `bun examples/demo.ts`): a loopback server
 * and client on this runtime push framed, base64-encoded traffic through channels and the
 * WebAssembly codecs, with a live progress bar, then the same work is done in-process with
 * channels and with WHATWG streams, and a table compares them.
 *
 * The web-streams baseline (`webStreams()` below) is written as its best user would: one
 * TransformStream per stage, views instead of copies where the stage allows, and for base64
 * the fastest of the runtime's own conversions (Buffer, TextEncoder/TextDecoder, and
 * `Uint8Array` `toBase64`/`fromBase64` where present), measured when the demo starts and
 * named in its output. Every case decodes the same bytes and checks each against the source at
 * its position (`matchesSource`, a native compare, so the check does not drown the pipelines).
 *
 * ```text
 * client: bytes → (header + base64Encoder into the frame) ─TCP─► server: readFrames → (base64Decoder from the frame) → count
 * ```
 *
 * The channels side is written as a channels user would: the encoder writes each frame's
 * payload straight into the output after its header (no channel of encoded bytes in between,
 * no copy into the frame), and the decoder reads each frame where it lies in the input (no copy
 * of the payload out of it). The one copy is the source's `write` into pool memory.
 *
 * Flags: `--mib N` (default 256), `--quick` (32 MiB).
 *
 * @module
 */

import process from "node:process";
import { Buffer } from "node:buffer";
import {
  base64Decoder,
  base64Encoder,
  Channel,
  type ChannelTransform,
  type Connection,
  lengthPrefixed,
  MemoryPool,
  type ReadableBuffer,
  type ReadableChannel,
  readFrames,
  type WritableChannel,
} from "../mod.ts";
import { adapter, runtimeName } from "./_runtime.ts";

const args = process.argv.slice(2);
const mibAt = args.indexOf("--mib");
const mib = mibAt >= 0 ? Number(args[mibAt + 1]) : args.includes("--quick") ? 32 : 256;
if (!(mib > 0)) {
  throw new RangeError(`Cannot run the demo as --mib must be a positive number: received ${args[mibAt + 1]}`);
}
const TOTAL = Math.round(mib * 1024 * 1024);
const CHUNK = 48 * 1024; // the producer's write size (a multiple of 3: whole base64 groups)
const FRAME = 16 * 1024; // the largest frame payload (base64 text)
const FRAME_INPUT = (FRAME / 4) * 3; // the source bytes one full frame encodes
const tty = process.stderr.isTTY === true;
console.log(`channels demo on ${runtimeName}: ${mib} MiB of base64-encoded, length-prefixed traffic\n`);

// One pseudo-random chunk, reused: the source allocates nothing while it runs.
const chunk = new Uint8Array(CHUNK);
for (let i = 0, x = 2463534242; i < CHUNK; i++) {
  x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
  chunk[i] = x & 0xff;
}

interface Outcome {
  bytes: number;
  /** Where the first decoded run that differs from the source starts, or -1. */
  firstMismatch: number;
  frames: number;
  ms: number;
}

const pool = new MemoryPool();
let frames = 0;
let decodedBytes = 0;

let nextYield = 0;
/**
 * Gives the progress bar's timer a turn every 50 ms: an in-process pipeline never waits for
 * I/O, so without this its timer would not run until the end. Both in-process cases call it
 * once per chunk from their source, so both pay the same.
 */
function letTheBarMove(): Promise<void> | undefined {
  const now = performance.now();
  if (now < nextYield) return undefined;
  nextYield = now + 50;
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * True when `view` holds the source's bytes from stream offset `at` (the source repeats
 * `chunk`): the check every case runs on every decoded byte, with native compares.
 */
function matchesSource(view: Uint8Array, at: number): boolean {
  for (let i = 0; i < view.length;) {
    const offset = (at + i) % CHUNK;
    const n = Math.min(view.length - i, CHUNK - offset);
    if (Buffer.compare(view.subarray(i, i + n), chunk.subarray(offset, offset + n)) !== 0) return false;
    i += n;
  }
  return true;
}

/** Writes TOTAL bytes of the chunk into `writer`, then completes it. */
async function produce(writer: WritableChannel): Promise<void> {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    await letTheBarMove();
    const { isCompleted } = await writer.write(sent + CHUNK <= TOTAL ? chunk : chunk.subarray(0, TOTAL - sent));
    if (isCompleted) break;
  }
  writer.complete();
}

/** Runs `transform` over all of `input`, which must be whole groups unless `final`. */
async function transformAll(
  transform: ChannelTransform,
  input: ReadableBuffer,
  output: WritableChannel,
  final: boolean,
): Promise<void> {
  const result = transform.transform(input, output, final);
  const consumed = typeof result === "number" ? result : await result;
  if (consumed !== input.length) throw new Error(`the codec left ${input.length - consumed} bytes of a frame`);
}

/**
 * Reads the source and writes it to `output` as frames of base64 text: for each frame a 4-byte
 * big-endian length (`lengthPrefixed()`'s default), then the encoder writes the payload
 * straight after it, into `output`'s memory.
 */
async function encodeFramesInto(source: ReadableChannel, output: WritableChannel): Promise<void> {
  const encoder = base64Encoder();
  for (;;) {
    const { buffer, isCompleted } = await source.read();
    // Whole frames, and at the end whatever is left (its last group padded).
    const usable = isCompleted ? buffer.length : buffer.length - (buffer.length % FRAME_INPUT);
    for (let at = 0; at < usable; at += FRAME_INPUT) {
      const end = Math.min(usable, at + FRAME_INPUT);
      const header = output.getMemory(4);
      new DataView(header.buffer, header.byteOffset, 4).setUint32(0, Math.ceil((end - at) / 3) * 4);
      output.advance(4);
      await transformAll(encoder, buffer.slice(at, end), output, isCompleted && end === usable);
    }
    source.advanceTo(usable, buffer.length);
    const flushed = await output.flush();
    if (isCompleted || flushed.isCompleted) break;
  }
  source.complete();
  output.complete();
}

/** Reads frames from `input`, base64-decodes each where it lies, and counts and checks the bytes. */
async function deframeAndDecode(input: ReadableChannel): Promise<Outcome> {
  const started = performance.now();
  const decoded = new Channel({ pool, pauseWriterThreshold: 0 });
  const decoder = base64Decoder();
  let bytes = 0;
  let firstMismatch = -1;
  let count = 0;
  for await (const frame of readFrames(input, lengthPrefixed())) {
    await transformAll(decoder, frame, decoded.writer, false);
    await decoded.writer.flush();
    const result = decoded.reader.tryRead();
    if (result !== undefined) {
      for (const view of result.buffer) {
        if (firstMismatch < 0 && !matchesSource(view, bytes)) firstMismatch = bytes;
        bytes += view.length;
      }
      decodedBytes += result.buffer.length;
      decoded.reader.advanceTo(result.buffer.length);
    }
    count++;
    frames++;
  }
  decoded.writer.complete();
  decoded.reader.complete();
  return { bytes, firstMismatch, frames: count, ms: performance.now() - started };
}

/** Channels over a loopback TCP connection of this runtime. */
async function overTcp(): Promise<Outcome> {
  let result!: Promise<Outcome>;
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: 0, pool }, (connection: Connection) => {
    result = deframeAndDecode(connection.input);
    return result.then(() => connection.output.complete());
  });
  const client = await adapter.connect({ hostname: "127.0.0.1", port: listener.addr.port, pool });
  const source = new Channel({ pool });
  await Promise.all([
    produce(source.writer),
    encodeFramesInto(source.reader, client.output),
  ]);
  while (result === undefined) await new Promise((r) => setTimeout(r, 1));
  const outcome = await result;
  await client.close();
  await listener.close();
  return outcome;
}

/** The same pipeline with channels, in one process (no socket). */
async function channelsInProcess(): Promise<Outcome> {
  const source = new Channel({ pool });
  const wire = new Channel({ pool });
  const [, , outcome] = await Promise.all([
    produce(source.writer),
    encodeFramesInto(source.reader, wire.writer),
    deframeAndDecode(wire.reader),
  ]);
  return outcome;
}

/**
 * A base64 conversion as a user of this runtime writes it: bytes to base64 bytes and back,
 * with the runtime's own methods (the web-streams baseline's codec).
 */
interface Conversion {
  name: string;
  run(input: Uint8Array): Uint8Array;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const nodeBuffer = (view: Uint8Array): Buffer => Buffer.from(view.buffer, view.byteOffset, view.length);
type Base64Methods = { toBase64?: (this: Uint8Array) => string };
const toBase64 = (Uint8Array.prototype as Base64Methods).toBase64;
const fromBase64 = (Uint8Array as { fromBase64?: (text: string) => Uint8Array }).fromBase64;

// Every idiomatic way this runtime offers (Buffer, TextEncoder/TextDecoder, and the new
// Uint8Array base64 methods where present); the baseline takes the fastest, measured at start.
// On Deno, Buffer's latin1 is a JavaScript loop (~60 MiB/s, where TextEncoder does ~1 GiB/s);
// on Bun, Buffer is native and fastest for decoding: no one choice is fair everywhere.
const ENCODERS: Conversion[] = [
  {
    name: 'Buffer toString("base64") + Buffer.from(latin1)',
    run: (v) => Buffer.from(nodeBuffer(v).toString("base64"), "latin1"),
  },
  { name: 'Buffer toString("base64") + TextEncoder', run: (v) => textEncoder.encode(nodeBuffer(v).toString("base64")) },
  ...(toBase64 === undefined ? [] : [
    { name: "Uint8Array toBase64() + TextEncoder", run: (v: Uint8Array) => textEncoder.encode(toBase64.call(v)) },
    {
      name: "Uint8Array toBase64() + Buffer.from(latin1)",
      run: (v: Uint8Array) => Buffer.from(toBase64.call(v), "latin1"),
    },
  ]),
];
const DECODERS: Conversion[] = [
  {
    name: 'Buffer toString("latin1") + Buffer.from(base64)',
    run: (v) => Buffer.from(nodeBuffer(v).toString("latin1"), "base64"),
  },
  { name: "TextDecoder + Buffer.from(base64)", run: (v) => Buffer.from(textDecoder.decode(v), "base64") },
  ...(fromBase64 === undefined ? [] : [
    { name: "TextDecoder + Uint8Array.fromBase64", run: (v: Uint8Array) => fromBase64(textDecoder.decode(v)) },
    {
      name: 'Buffer toString("latin1") + Uint8Array.fromBase64',
      run: (v: Uint8Array) => fromBase64(nodeBuffer(v).toString("latin1")),
    },
  ]),
];

/** The fastest of `candidates` on `input` (best of 3 runs of ~30 ms each); each must give `expected`. */
function fastest(candidates: Conversion[], input: Uint8Array, expected: Uint8Array): Conversion {
  let best = candidates[0]!;
  let bestRate = 0;
  for (const candidate of candidates) {
    if (Buffer.compare(candidate.run(input), expected) !== 0) throw new Error(`${candidate.name} gives wrong bytes`);
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      let bytes = 0;
      while (performance.now() - started < 30) bytes += candidate.run(input).length;
      const rate = bytes / (performance.now() - started);
      if (rate > bestRate) [best, bestRate] = [candidate, rate];
    }
  }
  return best;
}

const encodedChunk = Buffer.from(chunk).toString("base64");
const baseline = {
  encode: fastest(ENCODERS, chunk, textEncoder.encode(encodedChunk)),
  decode: fastest(DECODERS, textEncoder.encode(encodedChunk.slice(0, FRAME)), chunk.subarray(0, FRAME * 3 / 4)),
};

/**
 * The same pipeline with WHATWG streams, as a competent user writes it: a TransformStream per
 * stage, one array per chunk, and the fastest conversions this runtime has (`baseline`).
 */
async function webStreams(): Promise<Outcome> {
  const started = performance.now();
  const { encode, decode } = baseline;
  let sent = 0;
  let count = 0;
  let bytes = 0;
  let firstMismatch = -1;
  let carry: Uint8Array = new Uint8Array(0); // 0–2 bytes before base64 encoding
  let pending: Uint8Array = new Uint8Array(0); // the start of a frame
  let text: Uint8Array = new Uint8Array(0); // 0–3 base64 characters before decoding
  const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const tally = (decoded: Uint8Array) => {
    if (firstMismatch < 0 && !matchesSource(decoded, bytes)) firstMismatch = bytes;
    bytes += decoded.length;
    decodedBytes += decoded.length;
  };
  await new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= TOTAL) return controller.close();
      await letTheBarMove();
      controller.enqueue(chunk.slice(0, Math.min(CHUNK, TOTAL - sent)));
      sent += CHUNK;
    },
  })
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(bytesIn, controller) { // base64 encode, carrying 0–2 bytes
          const all = carry.length > 0 ? concat(carry, bytesIn) : bytesIn;
          const whole = all.length - (all.length % 3);
          carry = all.slice(whole);
          controller.enqueue(encode.run(all.subarray(0, whole)));
        },
        flush(controller) {
          if (carry.length > 0) controller.enqueue(encode.run(carry));
        },
      }),
    )
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(encoded, controller) { // length-prefixed frames
          for (let at = 0; at < encoded.length; at += FRAME) {
            const payload = encoded.subarray(at, Math.min(encoded.length, at + FRAME));
            const frame = new Uint8Array(4 + payload.length);
            new DataView(frame.buffer).setUint32(0, payload.length);
            frame.set(payload, 4);
            controller.enqueue(frame);
          }
        },
      }),
    )
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(wire, controller) { // deframe: payloads as views of the wire chunk
          pending = pending.length > 0 ? concat(pending, wire) : wire;
          let at = 0;
          while (pending.length - at >= 4) {
            const length = new DataView(pending.buffer, pending.byteOffset + at).getUint32(0);
            if (pending.length - at - 4 < length) break;
            controller.enqueue(pending.subarray(at + 4, at + 4 + length));
            at += 4 + length;
            count++;
            frames++;
          }
          pending = pending.slice(at);
        },
      }),
    )
    .pipeTo(
      new WritableStream<Uint8Array>({
        write(payload) { // base64 decode, carrying 0–3 characters, then count and check
          const all = text.length > 0 ? concat(text, payload) : payload;
          const whole = all.length - (all.length % 4);
          text = all.slice(whole);
          tally(decode.run(all.subarray(0, whole)));
        },
        close() {
          if (text.length > 0) tally(decode.run(text));
        },
      }),
    );
  return { bytes, firstMismatch, frames: count, ms: performance.now() - started };
}

/** Runs one case with a live progress bar on a terminal, and a line when it is done. */
async function run(label: string, body: () => Promise<Outcome>): Promise<Outcome> {
  frames = 0;
  decodedBytes = 0;
  const started = performance.now();
  const rates = () => {
    const seconds = (performance.now() - started) / 1000;
    return `${(decodedBytes / 1048576 / seconds).toFixed(0).padStart(5)} MiB/s  ${
      (frames / seconds / 1000).toFixed(1).padStart(6)
    } k frames/s`;
  };
  const draw = () => {
    const done = Math.min(1, decodedBytes / TOTAL);
    const bar = "#".repeat(Math.round(done * 30)).padEnd(30, ".");
    process.stderr.write(
      `\r  ${label.padEnd(28)} [${bar}] ${(done * 100).toFixed(0).padStart(3)}%  ${rates()}  ${
        String(pool.stats().rentedBlocks).padStart(4)
      } blocks in use`,
    );
  };
  const timer = tty ? setInterval(draw, 100) : undefined;
  try {
    return await body();
  } finally {
    if (timer !== undefined) {
      clearInterval(timer);
      draw();
      process.stderr.write("\n");
    } else {
      console.log(`  ${label.padEnd(28)} ${(decodedBytes / 1048576).toFixed(0)} MiB  ${rates()}`);
    }
  }
}

const results: [string, Outcome][] = [];
for (
  const [label, body] of [
    ["channels over loopback TCP", overTcp],
    ["channels in process", channelsInProcess],
    ["web streams in process", webStreams],
  ] as const
) {
  const outcome = await run(label, body);
  if (outcome.bytes !== TOTAL || outcome.firstMismatch >= 0) {
    console.error(
      `${label}: got ${outcome.bytes} bytes of ${TOTAL}` +
        (outcome.firstMismatch < 0 ? "" : `, differing from the source in the run at byte ${outcome.firstMismatch}`),
    );
    process.exit(1);
  }
  results.push([label, outcome]);
}

const web = results[2]![1];
console.log("\n| pipeline | MiB/s | frames/s | time | vs web streams |");
console.log("|---|---:|---:|---:|---:|");
for (const [label, o] of results) {
  console.log(
    `| ${label} | ${(o.bytes / 1048576 / (o.ms / 1000)).toFixed(0)} | ${
      Math.round(o.frames / (o.ms / 1000)).toLocaleString("en-US")
    } | ${(o.ms / 1000).toFixed(2)} s | ${(web.ms / o.ms).toFixed(2)}× |`,
  );
}
console.log(
  `\nThe baseline is webStreams() in examples/demo.ts: a TransformStream per stage, the same frames and the same\n` +
    `checks, and the fastest of the runtime's own base64 conversions, measured at start on ${runtimeName}:\n` +
    `  encode: ${baseline.encode.name} (fastest of ${ENCODERS.length})\n` +
    `  decode: ${baseline.decode.name} (fastest of ${DECODERS.length})\n` +
    `The TCP row also pays for a loopback socket; the web streams run in process.`,
);
const stats = pool.stats();
console.log(
  `\nEvery byte arrived and matched. Pool: ${stats.slabs} slab(s), ${
    (stats.reservedBytes / 1048576).toFixed(1)
  } MiB of WebAssembly memory reserved, ${stats.rentedBlocks} blocks in use now.`,
);
if (stats.rentedBlocks !== 0) process.exit(1);
