// readLines: random UTF-8 text (ASCII, multi-byte, invalid bytes, BOMs, "\r\n" and lone "\r")
// written in random pieces through channels of small blocks, against a reference built on
// TextDecoder and a split at the line feeds; every error (too long, truncated, fatal UTF-8 at
// its offset), a long line scanned once, and the reader's lifecycle (break, cancel, abort).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  Channel,
  FrameTooLargeError,
  MemoryPool,
  readLines,
  type ReadLinesOptions,
  TruncatedFrameError,
  Utf8Decoder,
} from "../mod.ts";
import { type Random, testSeed, withSeed } from "./_util.ts";

const POOLS = [
  new MemoryPool({ blockSize: 16, debug: true }),
  new MemoryPool({ blockSize: 64, blocksPerSlab: 8, debug: true }),
  new MemoryPool({ blockSize: 4096, debug: true }),
];

after(() => {
  for (const pool of POOLS) assert.equal(pool.stats().rentedBlocks, 0, "every block goes back to its pool");
});

const utf8 = new TextEncoder();

type ErrorKind = "too-long" | "truncated" | "fatal";

/**
 * What readLines must give for `bytes`: the lines before the first error (a prefix of them
 * may come out before it), and the errors it may end with. Line contents come from TextDecoder
 * on the whole input split at "\n" (a line feed never sits inside a UTF-8 sequence, so that
 * equals decoding line by line); lengths from the bytes.
 */
function reference(
  bytes: Uint8Array,
  options: Required<Omit<ReadLinesOptions, "signal">>,
): { lines: string[]; errors: ErrorKind[] } {
  const { delimiter, maxLength, trailingLine, fatal } = options;
  const crlf = delimiter === "\r\n";
  const pieces = new TextDecoder().decode(bytes).split("\n");
  const trailing = pieces.pop() as string;
  // Byte lengths of the pieces: split the bytes at each line feed.
  const lengths: number[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      lengths.push(i - start);
      start = i + 1;
    }
  }
  const trailingBytes = bytes.length - start;
  // The line holding the first byte that is not UTF-8 (fatal mode only), or Infinity.
  let badLine = Infinity;
  if (fatal) {
    try {
      new Utf8Decoder({ fatal: true }).decode(bytes);
    } catch (error) {
      const offset = Number(/byte offset (\d+)/.exec((error as Error).message)?.[1]);
      badLine = bytes.subarray(0, offset).filter((b) => b === 0x0a).length;
    }
  }
  const lines: string[] = [];
  /**
   * The result when line `i` ends the stream with `kinds`. Bad UTF-8 before it ends it first;
   * bad UTF-8 after it may too, when both are in one read (the read is decoded before its
   * lines are measured: see readLines' doc).
   */
  const end = (i: number, kinds: ErrorKind[]) => {
    if (badLine < i) return { lines: lines.slice(0, badLine), errors: ["fatal" as const] };
    return { lines, errors: badLine === Infinity ? kinds : [...kinds, "fatal" as const] };
  };
  for (let i = 0; i < pieces.length; i++) {
    let line = pieces[i] as string;
    let length = lengths[i] as number;
    if (crlf && line.endsWith("\r")) {
      line = line.slice(0, -1);
      length--;
    }
    if (length > maxLength) return end(i, ["too-long"]);
    lines.push(line);
  }
  const last = pieces.length;
  if (trailingBytes === 0) return end(last, []);
  // A last line without its line end: being too long may be seen before the stream ends.
  const tooLong = trailingBytes > maxLength + (crlf ? 1 : 0);
  if (trailingLine === "error") return end(last, tooLong ? ["too-long", "truncated"] : ["truncated"]);
  if (trailingBytes > maxLength) return end(last, ["too-long"]);
  const result = end(last, []);
  if (result.errors.length === 0) lines.push(trailing);
  return result;
}

/** Random text: short lines mostly, some near the limit, some non-ASCII, invalid bytes, "\r". */
function randomText(random: Random, maxLength: number): Uint8Array {
  const parts: Uint8Array[] = [];
  if (random.chance(0.1)) parts.push(utf8.encode("\ufeff"));
  const count = random.int(0, 40);
  const words = ["a", "hello", "é", "€uro", "😀", "\r", " ", "\ufeff", "x".repeat(20)];
  for (let i = 0; i < count; i++) {
    const long = random.chance(0.05);
    const target = long ? random.int(maxLength - 4, maxLength + 4) : random.int(0, 30);
    let line = "";
    let length = 0;
    while (length < target) {
      const word = words[random.int(0, words.length - 1)] as string;
      line += word;
      length += utf8.encode(word).length;
    }
    const bytes = [...utf8.encode(line)];
    if (random.chance(0.1)) bytes.splice(random.int(0, bytes.length), 0, random.int(0x80, 0xff)); // invalid
    parts.push(new Uint8Array(bytes));
    const end = random.int(0, 9);
    if (i < count - 1 || random.chance(0.7)) parts.push(utf8.encode(end < 3 ? "\r\n" : "\n"));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes `bytes` in random pieces (1-byte writes and empty flushes among them), then completes. */
async function produce(random: Random, channel: Channel, bytes: Uint8Array): Promise<void> {
  try {
    for (let at = 0; at < bytes.length;) {
      const mode = random.int(0, 9);
      if (mode === 0) {
        // deno-lint-ignore no-await-in-loop
        await channel.writer.flush();
        continue;
      }
      const n = Math.min(bytes.length - at, mode === 1 ? 1 : random.int(1, 300));
      // deno-lint-ignore no-await-in-loop
      const { isCompleted } = await channel.writer.write(bytes.subarray(at, at + n));
      if (isCompleted) break;
      at += n;
    }
    channel.writer.complete();
  } catch (error) {
    channel.writer.complete(error);
  }
}

/** Every line readLines gives, and the error it ends with. */
async function collect(random: Random, bytes: Uint8Array, options: ReadLinesOptions) {
  const pool = POOLS[random.int(0, POOLS.length - 1)] as MemoryPool;
  const channel = new Channel({ pool, pauseWriterThreshold: random.chance(0.5) ? 64 : 65536 });
  const producer = produce(random, channel, bytes);
  const lines: string[] = [];
  let error: unknown;
  try {
    for await (const batch of readLines(channel.reader, options)) {
      assert.ok(batch.length > 0, "a step never yields an empty batch");
      lines.push(...batch);
    }
  } catch (e) {
    error = e;
  }
  await producer;
  return { lines, error };
}

describe("readLines against a reference", () => {
  for (const delimiter of ["\n", "\r\n"] as const) {
    for (const trailingLine of ["error", "keep"] as const) {
      it(`random text in random pieces (delimiter ${JSON.stringify(delimiter)}, trailingLine ${trailingLine})`, async () => {
        await withSeed(testSeed(), async (random) => {
          for (let round = 0; round < 120; round++) {
            const maxLength = random.chance(0.5) ? random.int(8, 80) : 65536;
            const fatal = random.chance(0.3);
            const options = { delimiter, maxLength, trailingLine, fatal };
            const bytes = randomText(random, maxLength);
            const expected = reference(bytes, options);
            const { lines, error } = await collect(random, bytes, options);
            const what = `round ${round}: ${JSON.stringify(new TextDecoder().decode(bytes))} ${
              JSON.stringify(options)
            }`;
            if (expected.errors.length === 0) {
              assert.equal(error, undefined, `${what}: ${error}`);
              assert.deepEqual(lines, expected.lines, what);
              continue;
            }
            // A prefix of the lines before the error comes out first.
            assert.deepEqual(lines, expected.lines.slice(0, lines.length), what);
            const kinds = expected.errors.map((kind) =>
              ({ "too-long": FrameTooLargeError, truncated: TruncatedFrameError, fatal: TypeError })[kind]
            );
            assert.ok(
              kinds.some((kind) => error instanceof kind),
              `${what}: expected ${expected.errors}, got ${error}`,
            );
          }
        });
      });
    }
  }
});

describe("readLines errors", () => {
  it("a line longer than maxLength throws FrameTooLargeError with its length in bytes", async () => {
    const { reader, writer } = new Channel();
    await writer.writeUtf8("ok\n" + "é".repeat(5) + "\nnext\n"); // 10 bytes, 5 UTF-16 units
    writer.complete();
    const got: string[] = [];
    await assert.rejects(
      async () => {
        for await (const batch of readLines(reader, { maxLength: 9 })) got.push(...batch);
      },
      (error) =>
        error instanceof FrameTooLargeError && error.frameLength === 10 && error.maxFrameLength === 9 &&
        error.message === "Cannot decode the frame as its length must be at most 9 bytes: received 10",
    );
    assert.deepEqual(got, ["ok"], "the lines before it come out first");
    // maxLength counts the line without its line end ("\r\n" included).
    const crlf = new Channel();
    await crlf.writer.writeUtf8("123456789\r\nabc\n");
    crlf.writer.complete();
    const lines: string[] = [];
    for await (const batch of readLines(crlf.reader, { maxLength: 9, delimiter: "\r\n" })) lines.push(...batch);
    assert.deepEqual(lines, ["123456789", "abc"]);
  });

  it("an endless line fails once maxLength bytes of it are buffered, with the writer still writing", async () => {
    const pool = new MemoryPool();
    const { reader, writer } = new Channel({ pool });
    let sent = 0;
    const producer = (async () => {
      const chunk = new Uint8Array(1000).fill(0x61);
      for (;;) {
        // deno-lint-ignore no-await-in-loop
        await writer.write(chunk);
        sent += chunk.length;
        if (sent > 16 * 1024 * 1024) throw new Error("the endless line was never refused");
      }
    })();
    await assert.rejects(async () => {
      for await (const _ of readLines(reader, { maxLength: 4096 }));
    }, (error) => error instanceof FrameTooLargeError && error.frameLength > 4096 && /at least/.test(error.message));
    // The reader completed with the error, so the producer's next write rejects with it.
    await assert.rejects(producer, FrameTooLargeError);
    assert.ok(sent < 4096 + 70000, `${sent} bytes sent before the error`);
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("a last line without its line end throws TruncatedFrameError, or is kept with trailingLine: keep", async () => {
    for (const trailingLine of ["error", "keep"] as const) {
      const { reader, writer } = new Channel();
      await writer.writeUtf8("one\ntwo\nthré");
      writer.complete();
      const got: string[] = [];
      const run = async () => {
        for await (const batch of readLines(reader, { trailingLine })) got.push(...batch);
      };
      if (trailingLine === "error") {
        await assert.rejects(run, (e) => e instanceof TruncatedFrameError && e.bytesLeft === 5);
        assert.deepEqual(got, ["one", "two"]);
      } else {
        await run();
        assert.deepEqual(got, ["one", "two", "thré"]);
      }
    }
  });

  it("fatal: bad UTF-8 throws a TypeError naming its offset in the stream, across reads", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 50; round++) {
        const text = utf8.encode("line one\nsecond — line\n" + "x".repeat(random.int(0, 300)) + "\nlast\n");
        const at = random.int(0, text.length - 2); // not the last line end (that would be a cut stream)
        const bytes = text.slice();
        bytes[at] = 0xff;
        let expected = "";
        try {
          new Utf8Decoder({ fatal: true }).decode(bytes);
        } catch (error) {
          expected = (error as Error).message;
        }
        // The offset of the sequence the bad byte breaks (it or up to 3 bytes before it).
        const offset = Number(/byte offset (\d+)/.exec(expected)?.[1]);
        assert.ok(offset <= at && offset >= at - 3, expected);
        const { lines, error } = await collect(random, bytes, { fatal: true });
        assert.ok(error instanceof TypeError, String(error));
        assert.equal(error.message, expected);
        assert.ok(lines.length <= 4);
      }
    });
  });

  it("rejects bad options with TypeError or RangeError", () => {
    const { reader } = new Channel();
    const bad: [unknown, RegExp, ErrorConstructor][] = [
      [null, /options must be an object/, TypeError],
      [{ delimiter: "\r" }, /delimiter must be "\\n" or "\\r\\n": received "\\r"/, RangeError],
      [{ maxLength: -1 }, /maxLength must be a non-negative integer: received -1/, RangeError],
      [{ maxLength: 1.5 }, /maxLength/, RangeError],
      [{ trailingLine: "drop" }, /trailingLine must be "error" or "keep"/, RangeError],
      [{ fatal: 1 }, /fatal must be a boolean/, TypeError],
      [{ signal: {} }, /signal must be an AbortSignal/, TypeError],
    ];
    for (const [options, message, kind] of bad) {
      assert.throws(
        () => readLines(reader, options as ReadLinesOptions),
        (e) => e instanceof kind && message.test((e as Error).message),
      );
    }
  });
});

describe("readLines reading", () => {
  it("counts a BOM that starts the stream toward the first line's maxLength, though the line drops it", async () => {
    // BOM, then "\ufeff😀": 3 UTF-16 units (9 bytes at 3 a unit) but 10 bytes in the stream.
    const bom = [0xef, 0xbb, 0xbf];
    for (const [max, fits] of [[9, false], [10, true]] as const) {
      const { reader, writer } = new Channel();
      await writer.write(new Uint8Array([...bom, ...bom, ...utf8.encode("\u{1F600}\nok\n")]));
      writer.complete();
      const seen: string[] = [];
      const done = (async () => {
        for await (const batch of readLines(reader, { maxLength: max })) seen.push(...batch);
      })();
      if (fits) {
        await done;
        assert.deepEqual(seen, ["\ufeff\u{1F600}", "ok"]);
      } else {
        await assert.rejects(done, (e) => e instanceof FrameTooLargeError && e.frameLength === 10);
        assert.deepEqual(seen, []);
      }
    }
  });

  it("one 8 MiB line in 4 KiB writes is searched once", async () => {
    const MiB = 1024 * 1024;
    const pool = new MemoryPool();
    const { reader, writer } = new Channel({ pool });
    const producer = (async () => {
      const chunk = new Uint8Array(4096).fill(0x62);
      // deno-lint-ignore no-await-in-loop
      for (let i = 0; i < 2048; i++) await writer.write(chunk);
      await writer.writeUtf8("\n");
      writer.complete();
    })();
    // Count the bytes the line-feed search looks at (it uses lastIndexOf on segment views).
    const proto = Uint8Array.prototype;
    const lastIndexOf = proto.lastIndexOf;
    let searched = 0;
    proto.lastIndexOf = function (this: Uint8Array, ...args: Parameters<typeof lastIndexOf>) {
      searched += this.length;
      return lastIndexOf.apply(this, args);
    };
    const lengths: number[] = [];
    try {
      for await (const batch of readLines(reader, { maxLength: 16 * MiB })) lengths.push(...batch.map((l) => l.length));
    } finally {
      proto.lastIndexOf = lastIndexOf;
    }
    await producer;
    assert.deepEqual(lengths, [8 * MiB]);
    // Every byte once (searching again from the line's start on every read would be ~2048 times as much).
    // (The last read finds its line feed at its end, so not every byte needs looking at.)
    assert.ok(searched > 7 * MiB && searched <= 8 * MiB + 1, `${searched} bytes searched`);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("a step yields every line of one read; a BOM at the start is dropped", async () => {
    const { reader, writer } = new Channel();
    await writer.writeUtf8("\ufeffa\nb\nc\n\ufeffd\n");
    writer.complete();
    const batches: string[][] = [];
    for await (const batch of readLines(reader)) batches.push(batch);
    assert.deepEqual(batches, [["a", "b", "c", "\ufeffd"]]);
  });

  it("break completes the reader: the writer's next flush reports isCompleted", async () => {
    const { reader, writer } = new Channel();
    await writer.writeUtf8("a\nb\n");
    for await (const batch of readLines(reader)) {
      assert.deepEqual(batch, ["a", "b"]);
      break;
    }
    assert.equal((await writer.writeUtf8("c\n")).isCompleted, true);
  });

  it("an error completes the reader with it: the writer's next write rejects", async () => {
    const { reader, writer } = new Channel();
    await writer.writeUtf8("x".repeat(100));
    await assert.rejects(readLines(reader, { maxLength: 10 }).next(), FrameTooLargeError);
    await assert.rejects(writer.writeUtf8("more"), FrameTooLargeError);
  });

  it("an error reaches a writer already waiting on a flush at once: the flush rejects with it", async () => {
    // An endless line that pauses the writer: the write waits when the loop fails.
    {
      const { reader, writer } = new Channel({ pauseWriterThreshold: 64, resumeWriterThreshold: 32 });
      const settled = writer.writeUtf8("x".repeat(100)).then(() => "resolved", (e: unknown) => e);
      const error = await readLines(reader, { maxLength: 10 }).next().catch((e: unknown) => e);
      assert.ok(error instanceof FrameTooLargeError);
      assert.equal(await settled, error, "the waiting write rejects with the error, not { isCompleted: false }");
      writer.complete();
    }
    // Lines before the error come out first; the writer learns of the error with them, before
    // the loop's next step.
    {
      const { reader, writer } = new Channel({ pauseWriterThreshold: 64, resumeWriterThreshold: 32 });
      const settled = writer.writeUtf8("ok\n" + "x".repeat(100)).then(() => "resolved", (e: unknown) => e);
      const lines = readLines(reader, { maxLength: 10 });
      assert.deepEqual(await lines.next(), { done: false, value: ["ok"] });
      const error = await settled;
      assert.ok(error instanceof FrameTooLargeError, String(error));
      await assert.rejects(lines.next(), (e) => e === error);
      writer.complete();
    }
  });

  it("a canceled read ends the loop after its lines and leaves the reader open at the next line", async () => {
    const { reader, writer } = new Channel();
    await writer.writeUtf8("a\nb\npart");
    const lines = readLines(reader);
    assert.deepEqual(await lines.next(), { done: false, value: ["a", "b"] });
    const waiting = lines.next();
    reader.cancelPendingRead();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    await writer.writeUtf8("ial\n");
    writer.complete();
    const rest: string[] = [];
    for await (const batch of readLines(reader)) rest.push(...batch);
    assert.deepEqual(rest, ["partial"]);
  });

  it("aborting the signal rejects the waiting step with its reason and completes the reader", async () => {
    const { reader, writer } = new Channel();
    const controller = new AbortController();
    const lines = readLines(reader, { signal: controller.signal });
    const waiting = lines.next();
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    await assert.rejects(writer.writeUtf8("x\n"), (e) => e === reason);
  });
});
