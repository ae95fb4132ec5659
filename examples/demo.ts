/**
 * The demo `npm start` runs (also `deno task demo`, `bun examples/demo.ts`): a loopback server
 * and client on this runtime push framed, base64-encoded traffic through channels and the
 * WebAssembly codecs, with a live progress bar, then the same work is done in-process with
 * channels and with WHATWG streams, and a table compares them.
 *
 * ```text
 * client: bytes → base64Encoder → lengthPrefixed frames ─TCP─► server: readFrames → base64Decoder → count
 * ```
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
  type Connection,
  lengthPrefixed,
  MemoryPool,
  pipeThrough,
  type ReadableChannel,
  readFrames,
  type WritableChannel,
  writeFrame,
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
const FRAME = 16 * 1024; // the largest frame payload
const tty = process.stderr.isTTY === true;

// One pseudo-random chunk, reused: the source allocates nothing while it runs.
const chunk = new Uint8Array(CHUNK);
for (let i = 0, x = 2463534242; i < CHUNK; i++) {
  x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
  chunk[i] = x & 0xff;
}
const chunkSum = chunk.reduce((a, b) => a + b, 0);

interface Outcome {
  bytes: number;
  sum: number;
  frames: number;
  ms: number;
}

const pool = new MemoryPool();
let frames = 0;
let decodedBytes = 0;

/** Writes TOTAL bytes of the chunk into `writer`, then completes it. */
async function produce(writer: WritableChannel): Promise<void> {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    const { isCompleted } = await writer.write(sent + CHUNK <= TOTAL ? chunk : chunk.subarray(0, TOTAL - sent));
    if (isCompleted) break;
  }
  writer.complete();
}

/** Frames everything `encoded` yields into `output` (payloads of at most FRAME bytes). */
async function frameInto(encoded: ReadableChannel, output: WritableChannel): Promise<void> {
  const framer = lengthPrefixed();
  for (;;) {
    const { buffer, isCompleted } = await encoded.read();
    for (let at = 0; at < buffer.length; at += FRAME) {
      writeFrame(output, framer, buffer.slice(at, Math.min(buffer.length, at + FRAME)));
    }
    encoded.advanceTo(buffer.length);
    const flushed = await output.flush();
    if (isCompleted || flushed.isCompleted) break;
  }
  encoded.complete();
  output.complete();
}

/** Reads frames from `input`, base64-decodes their payloads, and counts and sums the bytes. */
async function deframeAndDecode(input: ReadableChannel): Promise<Outcome> {
  const started = performance.now();
  const payloads = new Channel({ pool });
  const decoded = pipeThrough(payloads.reader, base64Decoder(), { pool });
  const counting = (async () => {
    let bytes = 0;
    let sum = 0;
    for (;;) {
      const { buffer, isCompleted } = await decoded.read();
      for (const view of buffer) for (let i = 0; i < view.length; i++) sum += view[i]!;
      bytes += buffer.length;
      decodedBytes += buffer.length;
      decoded.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    decoded.complete();
    return { bytes, sum };
  })();
  let count = 0;
  for await (const frame of readFrames(input, lengthPrefixed())) {
    for (const view of frame) {
      payloads.writer.getMemory(view.length).set(view);
      payloads.writer.advance(view.length);
    }
    count++;
    frames++;
    if ((count & 15) === 0) await payloads.writer.flush();
  }
  payloads.writer.complete();
  const { bytes, sum } = await counting;
  return { bytes, sum, frames: count, ms: performance.now() - started };
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
    frameInto(pipeThrough(source.reader, base64Encoder(), { pool }), client.output),
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
    frameInto(pipeThrough(source.reader, base64Encoder(), { pool }), wire.writer),
    deframeAndDecode(wire.reader),
  ]);
  return outcome;
}

/** The same pipeline with WHATWG streams: a TransformStream per stage, one array per chunk. */
async function webStreams(): Promise<Outcome> {
  const started = performance.now();
  let sent = 0;
  let count = 0;
  let bytes = 0;
  let sum = 0;
  let carry: Uint8Array = new Uint8Array(0);
  let text = "";
  let pending: Uint8Array = new Uint8Array(0);
  const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  await new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= TOTAL) return controller.close();
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
          controller.enqueue(
            new Uint8Array(Buffer.from(Buffer.from(all.buffer, all.byteOffset, whole).toString("base64"), "latin1")),
          );
        },
        flush(controller) {
          if (carry.length > 0) {
            controller.enqueue(new Uint8Array(Buffer.from(Buffer.from(carry).toString("base64"), "latin1")));
          }
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
      new TransformStream<Uint8Array, string>({
        transform(wire, controller) { // deframe
          pending = pending.length > 0 ? concat(pending, wire) : wire;
          let at = 0;
          while (pending.length - at >= 4) {
            const length = new DataView(pending.buffer, pending.byteOffset + at).getUint32(0);
            if (pending.length - at - 4 < length) break;
            controller.enqueue(Buffer.from(pending.buffer, pending.byteOffset + at + 4, length).toString("latin1"));
            at += 4 + length;
            count++;
            frames++;
          }
          pending = pending.slice(at);
        },
      }),
    )
    .pipeTo(
      new WritableStream<string>({
        write(payload) { // base64 decode, carrying 0–3 characters, then count and sum
          const all = text + payload;
          const whole = all.length - (all.length % 4);
          text = all.slice(whole);
          const decoded = Buffer.from(all.slice(0, whole), "base64");
          for (let i = 0; i < decoded.length; i++) sum += decoded[i]!;
          bytes += decoded.length;
          decodedBytes += decoded.length;
        },
        close() {
          if (text.length > 0) {
            const decoded = Buffer.from(text, "base64");
            for (let i = 0; i < decoded.length; i++) sum += decoded[i]!;
            bytes += decoded.length;
          }
        },
      }),
    );
  return { bytes, sum, frames: count, ms: performance.now() - started };
}

/** Runs one case with a live progress line on a terminal. */
async function run(label: string, body: () => Promise<Outcome>): Promise<Outcome> {
  frames = 0;
  decodedBytes = 0;
  const started = performance.now();
  const draw = () => {
    const seconds = (performance.now() - started) / 1000;
    const done = Math.min(1, decodedBytes / TOTAL);
    const bar = "#".repeat(Math.round(done * 30)).padEnd(30, ".");
    process.stderr.write(
      `\r  ${label.padEnd(28)} [${bar}] ${(done * 100).toFixed(0).padStart(3)}%  ${
        (decodedBytes / 1048576 / seconds).toFixed(0).padStart(5)
      } MiB/s  ${(frames / seconds / 1000).toFixed(1).padStart(6)} k frames/s  ${
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
    }
  }
}

console.log(`channels demo on ${runtimeName}: ${mib} MiB of base64-encoded, length-prefixed traffic\n`);
const expectedSum = chunkSum * Math.floor(TOTAL / CHUNK) +
  chunk.subarray(0, TOTAL % CHUNK).reduce((a, b) => a + b, 0);
const results: [string, Outcome][] = [];
for (
  const [label, body] of [
    ["channels over loopback TCP", overTcp],
    ["channels in process", channelsInProcess],
    ["web streams in process", webStreams],
  ] as const
) {
  const outcome = await run(label, body);
  if (outcome.bytes !== TOTAL || outcome.sum !== expectedSum) {
    console.error(`${label}: got ${outcome.bytes} bytes (sum ${outcome.sum}), expected ${TOTAL} (sum ${expectedSum})`);
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
const stats = pool.stats();
console.log(
  `\nEvery byte arrived and matched. Pool: ${stats.slabs} slab(s), ${
    (stats.reservedBytes / 1048576).toFixed(1)
  } MiB of WebAssembly memory reserved, ${stats.rentedBlocks} blocks in use now.`,
);
if (stats.rentedBlocks !== 0) process.exit(1);
