// CommandWriter: commands written into pool memory are exactly the RESP a plain encoder gives,
// for every kind and length class of argument, across block boundaries of every size, and the
// blocks are filled to their end (so a burst goes to the socket as adjacent memory).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, MemoryPool } from "../mod.ts";
import { CommandWriter, type RespArgument } from "../src/resp/_command.ts";
import { concat, type Random, testSeed, withSeed } from "./_util.ts";

const encoder = new TextEncoder();

/** The plain encoding: TextEncoder for strings, String(n) for numbers. */
function reference(args: readonly RespArgument[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string"
      ? encoder.encode(arg)
      : typeof arg === "number"
      ? encoder.encode(arg === Infinity ? "inf" : arg === -Infinity ? "-inf" : String(arg))
      : arg;
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n"));
  }
  return concat(parts);
}

const PIECES = ["a", "é", "✓", "😀", "\u0000", "\r\n", "\ud800", "\udc00", "日本"];

function randomArgument(random: Random): RespArgument {
  const r = random.next();
  const length = random.chance(0.6)
    ? random.int(0, 60)
    : random.chance(0.7)
    ? random.int(40, 3000)
    : random.int(3000, 70_000);
  if (r < 0.35) return "x".repeat(length);
  if (r < 0.6) {
    let text = "";
    while (text.length < length) text += random.chance(0.7) ? "a" : PIECES[random.int(0, PIECES.length - 1)];
    return text;
  }
  if (r < 0.85) return random.bytes(length);
  const numbers = [
    0,
    -1,
    7,
    10,
    99,
    100,
    -12345,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 60,
    1.5,
    -0.25,
    1e21,
    Infinity,
    -Infinity,
  ];
  return random.chance(0.5) ? numbers[random.int(0, numbers.length - 1)] as number : random.int(-1e9, 1e9);
}

/** Everything the channel holds, and the views it came in. */
async function drain(channel: Channel): Promise<{ bytes: Uint8Array; views: Uint8Array[] }> {
  await channel.writer.flush();
  const { buffer } = await channel.reader.read();
  const views = [...buffer].map((v) => v.slice());
  const bytes = buffer.toUint8Array();
  channel.reader.advanceTo(buffer.length);
  return { bytes, views };
}

describe("CommandWriter", () => {
  it("writes exactly the reference encoding of random commands, across blocks of 16 B to 4 KiB", async () => {
    for (const blockSize of [16, 48, 64, 160, 176, 4096]) {
      for (let round = 0; round < 8; round++) {
        await withSeed(testSeed(), async (random) => {
          const pool = new MemoryPool({ blockSize, debug: true });
          const channel = new Channel({ pool, pauseWriterThreshold: 0 });
          const writer = new CommandWriter(channel.writer);
          const expected: Uint8Array[] = [];
          const commands = random.int(1, 20);
          for (let c = 0; c < commands; c++) {
            const args: RespArgument[] = ["CMD"];
            for (let k = random.int(0, 5); k > 0; k--) args.push(randomArgument(random));
            writer.write(args);
            expected.push(reference(args));
            if (random.chance(0.2)) writer.commit(); // a flush in between, as a new tick would
          }
          writer.commit();
          const { bytes } = await drain(channel);
          assert.deepEqual(bytes, concat(expected), `block size ${blockSize}`);
          channel.writer.complete();
          channel.reader.complete();
          assert.equal(pool.stats().rentedBlocks, 0);
        });
      }
    }
  });

  it("fills every block to its end, so a burst lies in adjacent memory", async () => {
    const pool = new MemoryPool({ blockSize: 4096 });
    const channel = new Channel({ pool, pauseWriterThreshold: 0 });
    const writer = new CommandWriter(channel.writer);
    const value = "v".repeat(1024);
    for (let i = 0; i < 1000; i++) writer.write(["SET", `key:${i}`, value]);
    writer.write(["SET", "bytes", new Uint8Array(5000).fill(1)]);
    writer.commit();
    const { views } = await drain(channel);
    assert.ok(views.length > 200);
    for (const view of views.slice(0, -1)) assert.equal(view.length, 4096);
  });

  it("rejects what is not a command, writing nothing", async () => {
    const channel = new Channel();
    const writer = new CommandWriter(channel.writer);
    assert.throws(() => writer.write([]), {
      name: "TypeError",
      message: /args must be a non-empty array: received \[object Array\]/,
    });
    assert.throws(() => writer.write("GET k" as unknown as RespArgument[]), TypeError);
    assert.throws(() => writer.write(["SET", "k", null as unknown as string]), {
      name: "TypeError",
      message: /every argument must be a string, a Uint8Array or a number \(2\): received null/,
    });
    assert.throws(() => writer.write(["SET", "k", NaN]), TypeError);
    assert.throws(() => writer.write(["SET", "k", 1n as unknown as number]), TypeError);
    assert.equal(writer.pending, 0);
    writer.write(["PING"]);
    writer.commit();
    assert.deepEqual((await drain(channel)).bytes, encoder.encode("*1\r\n$4\r\nPING\r\n"));
  });
});
