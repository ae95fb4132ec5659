// The RESP parser on its own: every type, replies cut at every segment boundary, a random
// differential against the plain reference in _resp_reference.ts (split at random segment
// boundaries, simulated reads and a real channel with 16-byte blocks), bad input and limits,
// and how many bytes it looks at (a 100 MiB bulk string in 4 KiB segments is scanned once).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, MemoryPool, ReadableBuffer } from "../mod.ts";
import { RespError } from "../src/errors.ts";
import { DEFAULT_LIMITS, type RespLimits, RespParser, type RespValue } from "../src/resp/_parser.ts";
import { normal, randomReplies, referenceParse, RefError } from "./_resp_reference.ts";
import { type Random, testSeed, withSeed } from "./_util.ts";

const encoder = new TextEncoder();

interface Delivered {
  value: RespValue;
  push: boolean;
}

/** A parser whose replies land in `out`; `bytesMode(k)` picks bytes mode for reply k. */
function parserInto(
  out: Delivered[],
  bytesMode: (k: number) => boolean = () => false,
  limits: RespLimits = DEFAULT_LIMITS,
): RespParser {
  let replies = 0;
  const parser: RespParser = new RespParser((value, push) => {
    out.push({ value, push });
    if (!push) parser.bytes = bytesMode(++replies);
  }, limits);
  parser.bytes = bytesMode(0);
  return parser;
}

/**
 * Feeds `data` as a channel would: read k returns the unconsumed bytes plus those up to
 * `reads[k]`, as segments cut at every position in `boundaries` (which include every read end).
 * `scattered`: each segment is a copy (apart in memory), not a view of `data` (segments next
 * to each other in memory, which the parser joins, as a channel's blocks mostly are).
 *
 * @returns Bytes consumed in all.
 */
function feed(
  parser: RespParser,
  data: Uint8Array,
  reads: readonly number[],
  boundaries: readonly number[],
  scattered = false,
): number {
  let consumed = 0;
  for (const end of reads) {
    const chunks: Uint8Array[] = [];
    let at = consumed;
    for (const b of boundaries) {
      if (b <= at) continue;
      if (b > end) break;
      chunks.push(scattered ? data.slice(at, b) : data.subarray(at, b));
      at = b;
    }
    if (at < end) chunks.push(scattered ? data.slice(at, end) : data.subarray(at, end));
    const buffer = ReadableBuffer.from(chunks);
    const n = parser.parse(buffer);
    assert.ok(n >= 0 && n <= buffer.length, `consumed ${n} of ${buffer.length}`);
    consumed += n;
  }
  return consumed;
}

/** Parses `text` in one piece and returns the single value. */
function parseOne(text: string | Uint8Array, bytes = false): RespValue {
  const out: Delivered[] = [];
  const parser = parserInto(out, () => bytes);
  const data = typeof text === "string" ? encoder.encode(text) : text;
  const consumed = parser.parse(ReadableBuffer.from([data]));
  assert.equal(consumed, data.length, "consumed everything");
  assert.equal(out.length, 1);
  return (out[0] as Delivered).value;
}

/** Sorted unique random positions in (0, length). */
function randomCuts(random: Random, length: number, count: number): number[] {
  const cuts = new Set<number>();
  for (let k = 0; k < count && length > 1; k++) cuts.add(random.int(1, length - 1));
  return [...cuts].sort((a, b) => a - b);
}

describe("RespParser: every RESP type", () => {
  // What a Redis 7 server sends (DEBUG PROTOCOL <type>, HELLO 3) and the values they map to.
  const cases: [string, string, unknown][] = [
    ["simple string", "+OK\r\n", "OK"],
    ["empty simple string", "+\r\n", ""],
    ["UTF-8 simple string", "+héllo ✓\r\n", "héllo ✓"],
    ["bulk string starting with a BOM (kept)", "$6\r\n\ufeffabc\r\n", "\ufeffabc"],
    ["integer", ":12345\r\n", 12345],
    ["negative integer", ":-42\r\n", -42],
    ["largest safe integer", ":9007199254740991\r\n", 9007199254740991],
    ["integer past the safe range", ":9007199254740993\r\n", 9007199254740993n],
    ["negative integer past the safe range", ":-9223372036854775808\r\n", -9223372036854775808n],
    ["bulk string", "$11\r\nHello World\r\n", "Hello World"],
    ["empty bulk string", "$0\r\n\r\n", ""],
    ["bulk string with CRLF inside", "$4\r\na\r\nb\r\n", "a\r\nb"],
    ["nil bulk string", "$-1\r\n", null],
    ["nil array", "*-1\r\n", null],
    ["null", "_\r\n", null],
    ["double", ",3.141\r\n", 3.141],
    ["double with exponent", ",1e+20\r\n", 1e20],
    ["double inf", ",inf\r\n", Infinity],
    ["double -inf", ",-inf\r\n", -Infinity],
    ["double nan", ",nan\r\n", NaN],
    ["big number", "(1234567999999999999999999999999999999\r\n", 1234567999999999999999999999999999999n],
    ["negative big number", "(-12\r\n", -12n],
    ["true", "#t\r\n", true],
    ["false", "#f\r\n", false],
    ["array", "*3\r\n:0\r\n:1\r\n:2\r\n", [0, 1, 2]],
    ["empty array", "*0\r\n", []],
    ["nested array with nil", "*2\r\n*1\r\n$1\r\na\r\n$-1\r\n", [["a"], null]],
    ["set", "~3\r\n:0\r\n:1\r\n:2\r\n", new Set([0, 1, 2])],
    ["map", "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n", new Map([[0, false], [1, true], [2, false]])],
    [
      "HELLO 3 reply",
      "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n",
      new Map<unknown, unknown>([["server", "redis"], ["proto", 3], ["modules", []]]),
    ],
    ["verbatim string", "=29\r\ntxt:This is a verbatim\nstring\r\n", "This is a verbatim\nstring"],
    [
      "attribute then its value",
      "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
      "Some real reply following the attribute",
    ],
    ["attribute inside an array", "*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", [1, 2]],
    ["empty attribute", "|0\r\n:7\r\n", 7],
    ["error inside an array", "*2\r\n+OK\r\n-ERR no\r\n", ["OK", new RespError("ERR no")]],
  ];
  for (const [name, wire, expected] of cases) {
    it(`parses a ${name}`, () => {
      assert.deepEqual(normal(parseOne(wire)), normal(expected));
    });
  }

  it("delivers a simple error and a blob error as RespError values", () => {
    const simple = parseOne("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert.ok(simple instanceof RespError);
    assert.equal(simple.message, "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert.equal(simple.code, "WRONGTYPE");
    const blob = parseOne("!21\r\nSYNTAX invalid syntax\r\n");
    assert.ok(blob instanceof RespError);
    assert.equal(blob.message, "SYNTAX invalid syntax");
  });

  it("delivers pushes as pushes, and the reply after them as a reply", () => {
    const out: Delivered[] = [];
    const parser = parserInto(out);
    const wire = ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n";
    parser.parse(ReadableBuffer.from([encoder.encode(wire)]));
    assert.deepEqual(out, [
      { value: ["server-cpu-usage", 42], push: true },
      { value: "Some real reply following the push reply", push: false },
    ]);
  });

  it("materialises bulk and verbatim strings as byte copies in bytes mode, all 256 byte values", () => {
    const all = new Uint8Array(256).map((_, k) => k);
    const wire = new Uint8Array([
      ...encoder.encode("*2\r\n$256\r\n"),
      ...all,
      ...encoder.encode("\r\n=6\r\ntxt:\xff\r\n"),
    ]);
    // The \xff above is encoded as UTF-8 (c3 bf): the verbatim payload is 3 bytes.
    const value = parseOne(wire, true) as Uint8Array[];
    assert.ok(value[0] instanceof Uint8Array);
    assert.deepEqual([...value[0] as Uint8Array], [...all]);
    assert.notEqual((value[0] as Uint8Array).buffer, wire.buffer, "a copy, not a view");
    assert.deepEqual([...value[1] as Uint8Array], [0xc3, 0xbf]);
  });

  it("keeps push payloads as strings in bytes mode", () => {
    const out: Delivered[] = [];
    const parser = parserInto(out, () => true);
    parser.parse(ReadableBuffer.from([encoder.encode(">2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n$2\r\nok\r\n")]));
    assert.deepEqual(out[0], { value: ["message", "hi"], push: true });
    assert.deepEqual([...(out[1] as Delivered).value as Uint8Array], [0x6f, 0x6b]);
  });
});

describe("RespParser: replies cut anywhere", () => {
  const wire = encoder.encode(
    "+OK\r\n:-9007199254740993\r\n$5\r\nhé\r\n\r\n*2\r\n%1\r\n+k\r\n~1\r\n#t\r\n|1\r\n+a\r\n+b\r\n,1.5\r\n" +
      "=9\r\ntxt:ünï\r\n>2\r\n$7\r\nmessage\r\n_\r\n(-123456789012345678901234567890\r\n!3\r\nERR\r\n",
  );
  const expected = referenceParse(wire, () => false, DEFAULT_LIMITS).replies;

  it("gives the same replies for every split into two reads and into one-byte segments", () => {
    assert.equal(expected.length, 8);
    for (const scattered of [false, true]) {
      for (let cut = 0; cut <= wire.length; cut++) {
        const out: Delivered[] = [];
        const consumed = feed(parserInto(out), wire, [cut, wire.length], [cut], scattered);
        assert.equal(consumed, wire.length, `cut at ${cut}`);
        assert.deepEqual(normal(out), normal(expected), `cut at ${cut}`);
      }
      const out: Delivered[] = [];
      const everyByte = Array.from({ length: wire.length }, (_, k) => k + 1);
      assert.equal(feed(parserInto(out), wire, [wire.length], everyByte, scattered), wire.length);
      assert.deepEqual(normal(out), normal(expected));
    }
  });

  it("consumes only complete replies and resumes a byte-at-a-time stream", () => {
    const out: Delivered[] = [];
    const parser = parserInto(out);
    const everyByte = Array.from({ length: wire.length }, (_, k) => k + 1);
    let consumed = 0;
    const ends: number[] = [];
    for (const end of everyByte) {
      const before = out.length;
      consumed += parser.parse(ReadableBuffer.from([wire.subarray(consumed, end)]));
      if (out.length > before) ends.push(consumed);
    }
    assert.deepEqual(normal(out), normal(expected));
    // Consumed moves exactly to the end of each complete top-level reply, as the reference finds them.
    const replyEnds = new Set<number>();
    for (let p = 1; p <= wire.length; p++) {
      const { consumed } = referenceParse(wire.subarray(0, p), () => false, DEFAULT_LIMITS);
      if (consumed > 0) replyEnds.add(consumed);
    }
    assert.deepEqual(ends, [...replyEnds]);
    assert.equal(ends.length, expected.length);
  });
});

describe("RespParser: differential against the reference", () => {
  it("matches the reference on random replies split at random reads and segments", async () => {
    for (let round = 0; round < 200; round++) {
      await withSeed(testSeed(), (random) => {
        const data = randomReplies(random, random.int(1, 30));
        const modes = Array.from({ length: 64 }, () => random.chance(0.3));
        const mode = (k: number) => modes[k % modes.length] as boolean;
        const expected = referenceParse(data, mode, DEFAULT_LIMITS);
        assert.equal(expected.consumed, data.length);
        const reads = [...randomCuts(random, data.length, random.int(0, 12)), data.length];
        const boundaries = [...new Set([...reads, ...randomCuts(random, data.length, random.int(0, 40))])].sort((
          a,
          b,
        ) => a - b);
        const out: Delivered[] = [];
        const consumed = feed(parserInto(out, mode), data, reads, boundaries, random.chance(0.5));
        assert.equal(consumed, data.length);
        assert.deepEqual(normal(out), normal(expected.replies));
      });
    }
  });

  it("matches the reference through a channel of 16-byte blocks, written in random pieces", async () => {
    for (let round = 0; round < 40; round++) {
      await withSeed(testSeed(), async (random) => {
        const pool = new MemoryPool({ blockSize: 16, debug: true });
        const channel = new Channel({ pool, pauseWriterThreshold: 0 });
        const data = randomReplies(random, random.int(1, 20));
        const expected = referenceParse(data, () => false, DEFAULT_LIMITS).replies;
        const out: Delivered[] = [];
        const parser = parserInto(out);
        for (let at = 0; at < data.length;) {
          const n = Math.min(data.length - at, random.int(1, 64));
          await channel.writer.write(data.subarray(at, at + n));
          at += n;
          if (random.chance(0.5) || at === data.length) {
            const { buffer } = await channel.reader.read();
            channel.reader.advanceTo(parser.parse(buffer), buffer.length);
          }
        }
        channel.writer.complete();
        const { buffer, isCompleted } = await channel.reader.read();
        assert.ok(isCompleted);
        assert.equal(buffer.length, 0, "everything consumed");
        channel.reader.advanceTo(0);
        channel.reader.complete();
        assert.deepEqual(normal(out), normal(expected));
        assert.equal(pool.stats().rentedBlocks, 0);
      });
    }
  });

  it("agrees with the reference on which random mutations are errors, and their class", async () => {
    let errors = 0;
    for (let round = 0; round < 400; round++) {
      await withSeed(testSeed(), (random) => {
        const data = randomReplies(random, random.int(1, 6));
        // Mutate a few bytes into protocol-significant ones.
        const alphabet = encoder.encode("\r\n-+:$*%~|>_,#!=(0123456789?xt");
        for (let k = random.int(1, 3); k > 0; k--) {
          data[random.int(0, data.length - 1)] = alphabet[random.int(0, alphabet.length - 1)] as number;
        }
        const limits: RespLimits = { maxBulkLength: 2000, maxArrayLength: 5, maxDepth: 3, maxLineLength: 40 };
        let expected: ReturnType<typeof referenceParse> | RefError;
        try {
          expected = referenceParse(data, () => false, limits);
        } catch (error) {
          if (!(error instanceof RefError)) throw error;
          expected = error;
        }
        const out: Delivered[] = [];
        const reads = [...randomCuts(random, data.length, random.int(0, 4)), data.length];
        let actual: unknown;
        try {
          feed(parserInto(out, () => false, limits), data, reads, reads, random.chance(0.5));
        } catch (error) {
          actual = error;
        }
        if (expected instanceof RefError) {
          errors++;
          assert.ok(actual instanceof Error, `expected a ${expected.kind} (${expected.why}), got none`);
          assert.equal(actual.name, expected.kind, `${expected.why}: ${actual.message}`);
          assert.match(actual.message, /byte offset \d+/);
        } else {
          assert.equal(actual, undefined, `unexpected ${actual}`);
          assert.deepEqual(normal(out), normal(expected.replies));
        }
      });
    }
    assert.ok(errors > 50, `only ${errors} of the mutations were errors`);
  });
});

describe("RespParser: bad input", () => {
  const bad: [string, string, "TypeError" | "RangeError", RegExp][] = [
    ["a malformed type byte", "?3\r\n", "TypeError", /RESP type byte \(byte offset 0\): received "\?"/],
    ["a malformed type byte after a reply", "+OK\r\nhello\r\n", "TypeError", /byte offset 5/],
    ["a length that is not a number", "$abc\r\n", "TypeError", /length must be decimal digits/],
    ["an empty length", "*\r\n", "TypeError", /length must be decimal digits/],
    ["a length of -2", "$-2\r\n", "TypeError", /string length must be -1 or more/],
    ["a nil map", "%-1\r\n", "TypeError", /aggregate length must be 0 or more/],
    ["a bulk string longer than declared", "$2\r\nabc\r\n", "TypeError", /must end with CRLF \(byte offset 6\)/],
    ["a CR without LF", "+OK\rX\n", "TypeError", /must end with CRLF \(byte offset 4\)/],
    ["an integer with a letter", ":12a\r\n", "TypeError", /integer must be decimal digits/],
    ["an empty integer", ":\r\n", "TypeError", /integer must have digits/],
    ["a null with content", "_x\r\n", "TypeError", /null must be empty/],
    ["a boolean that is not t or f", "#x\r\n", "TypeError", /boolean must be "t" or "f"/],
    ["a double that is not a number", ",0x1f\r\n", "TypeError", /double must be a decimal number/],
    ["an empty double", ",\r\n", "TypeError", /double must be a decimal number/],
    ["a big number with a dot", "(1.5\r\n", "TypeError", /big number must be decimal digits/],
    ["a verbatim string shorter than its prefix", "=2\r\nab\r\n", "TypeError", /verbatim string must have a format/],
    ["a verbatim string without its colon", "=5\r\ntxt-a\r\n", "TypeError", /three-letter format and ":"/],
    ["a streamed string", "$?\r\n;4\r\nHell\r\n;0\r\n", "TypeError", /length must be decimal digits/],
  ];
  for (const [name, wire, kind, message] of bad) {
    it(`throws a ${kind} naming the byte offset on ${name}`, () => {
      assert.throws(() => parseOne(wire), (error: Error) => {
        assert.equal(error.name, kind);
        assert.match(error.message, message);
        assert.match(error.message, /^Cannot parse the reply as .*\(byte offset \d+\): received /);
        return true;
      });
    });
  }

  it("counts byte offsets from the start of the stream, across reads", () => {
    const out: Delivered[] = [];
    const parser = parserInto(out);
    assert.equal(parser.parse(ReadableBuffer.from([encoder.encode("+OK\r\n+O")])), 5);
    assert.throws(() => parser.parse(ReadableBuffer.from([encoder.encode("+OK\r\n:x\r\n")])), /byte offset 11\)/);
  });
});

describe("RespParser: limits", () => {
  const limits: RespLimits = { maxBulkLength: 10, maxArrayLength: 3, maxDepth: 2, maxLineLength: 8 };
  const parse = (wire: string) => {
    const out: Delivered[] = [];
    parserInto(out, () => false, limits).parse(ReadableBuffer.from([encoder.encode(wire)]));
    return out.map((d) => d.value);
  };

  it("accepts values at each limit", () => {
    assert.deepEqual(parse("$10\r\n0123456789\r\n"), ["0123456789"]);
    assert.deepEqual(parse("*3\r\n:1\r\n:2\r\n:3\r\n"), [[1, 2, 3]]);
    assert.deepEqual(parse("*1\r\n*1\r\n:1\r\n"), [[[1]]]);
    assert.deepEqual(parse("+12345678\r\n"), ["12345678"]);
  });

  it("throws a RangeError as soon as a header declares more, before the payload arrives", () => {
    assert.throws(() => parse("$11\r\n"), { name: "RangeError", message: /at most 10 bytes .*received 11/ });
    assert.throws(() => parse("$536870912000\r\n"), { name: "RangeError" });
    assert.throws(() => parse("*4\r\n"), { name: "RangeError", message: /at most 3 elements.*received 4/ });
    assert.throws(() => parse("%4\r\n"), { name: "RangeError", message: /at most 3 elements/ });
    assert.throws(() => parse("~999999999\r\n"), { name: "RangeError" });
  });

  it("throws a RangeError on nesting past maxDepth, empty aggregates included", () => {
    assert.throws(() => parse("*1\r\n*1\r\n*1\r\n:1\r\n"), {
      name: "RangeError",
      message: /nest at most 2 deep \(byte offset 8\): received 3/,
    });
    assert.throws(() => parse("*1\r\n*1\r\n*0\r\n"), { name: "RangeError" });
  });

  it("throws a RangeError once a line grows past maxLineLength, even before its end arrives", () => {
    assert.throws(() => parse("+123456789\r\n"), { name: "RangeError", message: /line must be at most 8 bytes/ });
    assert.throws(() => parse("+123456789"), { name: "RangeError" });
    assert.throws(() => parse("$0000000000010\r\n"), { name: "RangeError" });
  });

  it("keeps the defaults documented in DEFAULT_LIMITS", () => {
    assert.deepEqual({ ...DEFAULT_LIMITS }, {
      maxBulkLength: 512 * 1024 * 1024,
      maxArrayLength: 16 * 1024 * 1024,
      maxDepth: 128,
      maxLineLength: 64 * 1024,
    });
    const deep = "*1\r\n".repeat(129) + ":1\r\n";
    assert.throws(() => parseOne(deep), { name: "RangeError" });
    assert.doesNotThrow(() => parseOne("*1\r\n".repeat(128) + ":1\r\n"));
  });
});

describe("RespParser: each byte looked at once", () => {
  it("scans a 100 MiB bulk string arriving in 4 KiB segments once: its header and CRLF, one copy", async () => {
    const total = 100 * 1024 * 1024;
    const pool = new MemoryPool({ blockSize: 4096 });
    const channel = new Channel({ pool });
    const out: Delivered[] = [];
    const parser = parserInto(out, () => true);
    const { writer, reader } = channel;
    const header = encoder.encode(`$${total}\r\n`);
    await writer.write(header);
    let parses = 0;
    const step = async () => {
      const { buffer } = await reader.read();
      const length = buffer.length;
      const consumed = parser.parse(buffer);
      parses++;
      reader.advanceTo(consumed, length);
    };
    for (let sent = 0; sent < total; sent += 4096) {
      const memory = writer.getMemory(4096);
      memory.fill((sent >> 12) & 0xff, 0, 4096);
      writer.advance(4096);
      await writer.flush();
      await step();
      assert.equal(out.length, 0);
    }
    await writer.write(encoder.encode("\r\n"));
    await step();
    assert.equal(parses, total / 4096 + 1);
    assert.equal(out.length, 1);
    const value = (out[0] as Delivered).value as Uint8Array;
    assert.equal(value.length, total);
    for (const at of [0, 4095, 4096, total / 2, total - 1]) assert.equal(value[at], (at >> 12) & 0xff);
    // Looked at: the header (12 bytes + CRLF) and the closing CRLF, not the payload, once each.
    assert.equal(parser.bytesScanned, header.length + 2);
    // Copied: each payload byte once.
    assert.equal(parser.bytesCopied, total);
    // And the cursor walked the 25,600 segments a bounded number of times, not once per read.
    assert.ok(parser.segmentsVisited <= 3 * (total / 4096), `visited ${parser.segmentsVisited} segments`);
    reader.complete();
    writer.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("searches a long line arriving in 16-byte pieces once", () => {
    const line = "+" + "x".repeat(60_000) + "\r\n";
    const data = encoder.encode(line);
    const out: Delivered[] = [];
    const parser = parserInto(out);
    const reads = Array.from({ length: Math.ceil(data.length / 16) }, (_, k) => Math.min(data.length, (k + 1) * 16));
    const segments = reads.filter((_, k) => k % 64 === 0); // 1 KiB segments, plus each read's end
    assert.equal(feed(parser, data, reads, segments), data.length);
    assert.equal((out[0] as Delivered).value, "x".repeat(60_000));
    assert.ok(parser.bytesScanned <= data.length, `scanned ${parser.bytesScanned} of ${data.length}`);
  });

  it("does not look at the elements of a partial array twice", () => {
    const wire = "*1000\r\n" + ":1\r\n".repeat(1000);
    const data = encoder.encode(wire);
    const out: Delivered[] = [];
    const parser = parserInto(out);
    const reads = Array.from({ length: Math.ceil(data.length / 7) }, (_, k) => Math.min(data.length, (k + 1) * 7));
    assert.equal(feed(parser, data, reads, reads), data.length);
    assert.equal(((out[0] as Delivered).value as number[]).length, 1000);
    assert.ok(parser.bytesScanned <= data.length, `scanned ${parser.bytesScanned} of ${data.length}`);
  });
});
