// The request-head parser of ./http1 (src/http1/_head_parser.ts), differentially against a
// plain reference written from RFC 9112's grammar (regular expressions over the head as a
// Latin-1 string): random valid heads and random one-byte mutations of them, split at random
// segment boundaries, fed whole and as growing prefixes (the parser resumes where it stopped),
// at an offset inside a buffer, and from a real channel with 16-byte blocks. Also: every split
// point of a fixed head, and the limits.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, MemoryPool, ReadableBuffer } from "../mod.ts";
import { HeadParser, INVALID, NEED_MORE } from "../src/http1/_head_parser.ts";
import { cut, type Random, testSeed, withSeed } from "./_util.ts";

// ---- the reference ----

const TCHAR = "!#$%&'*+\\-.^_`|~0-9A-Za-z";
const REQUEST_LINE = new RegExp(`^([${TCHAR}]+) ([\\x21-\\x7e]+) HTTP/(\\d)\\.(\\d)$`);
const FIELD_LINE = new RegExp(
  `^([${TCHAR}]+):[ \\t]*((?:[\\x21-\\x7e\\x80-\\xff](?:[ \\t\\x21-\\x7e\\x80-\\xff]*[\\x21-\\x7e\\x80-\\xff])?)?)[ \\t]*$`,
);

interface Head {
  method: string;
  target: string;
  minor: number;
  fields: [string, string][];
  length: number;
}

/** The head at the start of `text` (Latin-1), "incomplete", or "invalid" with the status. */
function referenceParse(text: string): Head | "incomplete" | 400 | 505 {
  let at = 0;
  while (text.startsWith("\r\n", at)) at += 2;
  const end = text.indexOf("\r\n\r\n", at);
  const head = end < 0 ? text.slice(at) : text.slice(at, end);
  // A byte that can never be part of a head, or a line end that is not CRLF, before the end.
  const lines = head.split("\r\n");
  const checkable = end < 0 ? lines.slice(0, -1) : lines;
  if (end < 0) {
    // Incomplete unless something already seen is invalid.
    if (/\r(?!\n)|(?<!\r)\n/.test(head.replace(/\r$/, ""))) return 400;
    if (text.slice(0, at) !== "\r\n".repeat(at / 2)) return 400;
    const last = lines[lines.length - 1] as string;
    if (lines.length === 1) {
      if (!isRequestLinePrefix(last)) return 400;
      return "incomplete";
    }
    if (!validRequestLine(lines[0] as string)) return REQUEST_LINE.test(lines[0] as string) ? 505 : 400;
    for (const line of checkable.slice(1)) if (!FIELD_LINE.test(line)) return 400;
    if (!isFieldLinePrefix(last.replace(/\r$/, ""))) return 400;
    return "incomplete";
  }
  if (/\r(?!\n)|(?<!\r)\n/.test(head)) return 400;
  const requestLine = REQUEST_LINE.exec(lines[0] as string);
  if (requestLine === null) return 400;
  if (requestLine[3] !== "1") return 505;
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const field = FIELD_LINE.exec(line);
    if (field === null) return 400;
    fields.push([field[1] as string, field[2] as string]);
  }
  return {
    method: requestLine[1] as string,
    target: requestLine[2] as string,
    minor: Number(requestLine[4]),
    fields,
    length: end + 4,
  };
}

function validRequestLine(line: string): boolean {
  const m = REQUEST_LINE.exec(line);
  return m !== null && m[3] === "1";
}

/** Whether `line` can still become a request line. */
function isRequestLinePrefix(line: string): boolean {
  const complete = `${line}`;
  return new RegExp(`^[${TCHAR}]*$`).test(complete) ||
    new RegExp(`^[${TCHAR}]+ [\\x21-\\x7e]*$`).test(complete) ||
    new RegExp(`^[${TCHAR}]+ [\\x21-\\x7e]+ (H(T(T(P(/(\\d(\\.(\\d)?)?)?)?)?)?)?)?$`).test(complete);
}

/** Whether `line` can still become a field line. */
function isFieldLinePrefix(line: string): boolean {
  return new RegExp(`^[${TCHAR}]*$`).test(line) ||
    new RegExp(`^[${TCHAR}]+:[ \\t\\x21-\\x7e\\x80-\\xff]*$`).test(line);
}

// ---- generators ----

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

function token(random: Random, max: number): string {
  let text = "";
  const n = random.int(1, max);
  for (let i = 0; i < n; i++) text += TOKEN_CHARS[random.int(0, TOKEN_CHARS.length - 1)];
  return text;
}

function visible(random: Random, n: number, obsText: boolean): string {
  let text = "";
  for (let i = 0; i < n; i++) {
    text += String.fromCharCode(obsText && random.chance(0.1) ? random.int(0x80, 0xff) : random.int(0x21, 0x7e));
  }
  return text;
}

function ows(random: Random): string {
  let text = "";
  const n = random.chance(0.5) ? 0 : random.int(1, 3);
  for (let i = 0; i < n; i++) text += random.chance(0.7) ? " " : "\t";
  return text;
}

function randomHead(random: Random): string {
  let text = random.chance(0.1) ? "\r\n".repeat(random.int(1, 2)) : "";
  const method = random.chance(0.5)
    ? ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"][random.int(0, 5)]
    : token(random, 8);
  text += `${method} /${visible(random, random.int(0, 40), false)} HTTP/1.${random.int(0, 9)}\r\n`;
  const count = random.int(0, 20);
  for (let i = 0; i < count; i++) {
    let value = "";
    if (random.chance(0.9)) {
      value = visible(random, 1, true);
      const words = random.int(0, 4);
      for (let w = 0; w < words; w++) {
        value += (random.chance(0.5) ? " " : "\t") + visible(random, random.int(1, 12), true);
      }
    }
    text += `${token(random, 20)}:${ows(random)}${value}${ows(random)}\r\n`;
  }
  return `${text}\r\n`;
}

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function randomSizes(random: Random, length: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0;) {
    const size = Math.min(left, random.chance(0.3) ? 1 : random.int(1, 40));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

// ---- what the parser found ----

/** The head as the parser read it, from the whole buffer (offsets from `start`). */
function extract(parser: HeadParser, buffer: ReadableBuffer, start: number, length: number): Head {
  const bytes = buffer.slice(start, start + length).toUint8Array();
  const text = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  const fields: [string, string][] = [];
  for (let k = 0; k < parser.fieldCount; k++) {
    const f = parser.fields.subarray(k * 4, k * 4 + 4);
    fields.push([text(f[0] as number, f[1] as number), text(f[2] as number, f[3] as number)]);
  }
  return {
    method: text(parser.methodStart, parser.methodEnd),
    target: text(parser.targetStart, parser.targetEnd),
    minor: parser.versionMinor,
    fields,
    length,
  };
}

/** Feeds `chunks` as growing prefixes; every call before the end must say NEED_MORE (or INVALID and stop). */
function parseIncrementally(parser: HeadParser, chunks: Uint8Array[], prefix: Uint8Array): {
  result: number;
  buffer: ReadableBuffer;
} {
  let result = NEED_MORE;
  let buffer = ReadableBuffer.from([prefix]);
  for (let k = 1; k <= chunks.length; k++) {
    buffer = ReadableBuffer.from([prefix, ...chunks.slice(0, k)]);
    result = parser.parse(buffer, prefix.length);
    if (result !== NEED_MORE) break;
  }
  return { result, buffer };
}

function check(parser: HeadParser, bytes: Uint8Array, chunks: Uint8Array[], prefix: Uint8Array): void {
  const text = String.fromCharCode(...bytes);
  const expected = referenceParse(text);
  parser.reset();
  const { result, buffer } = parseIncrementally(parser, chunks, prefix);
  const context = JSON.stringify(text);
  if (expected === "incomplete") {
    assert.equal(result, NEED_MORE, `incomplete head: ${context}`);
  } else if (typeof expected === "number") {
    assert.equal(result, INVALID, `invalid head: ${context}`);
    assert.equal(parser.errorStatus, expected, `status of ${context} (${parser.errorReason})`);
  } else {
    assert.equal(result, expected.length, `head length of ${context} (${parser.errorReason})`);
    assert.deepEqual(extract(parser, buffer, prefix.length, result), expected, context);
  }
}

// ---- tests ----

describe("http1 head parser", () => {
  it("reads random valid heads like the reference, split at random boundaries and fed as growing prefixes", async () => {
    await withSeed(testSeed(), (random) => {
      const parser = new HeadParser(1 << 20, 1000);
      for (let round = 0; round < 400; round++) {
        const bytes = latin1Bytes(randomHead(random));
        const prefix = random.bytes(random.int(0, 5));
        check(parser, bytes, cut(bytes, randomSizes(random, bytes.length)), prefix);
      }
    });
  });

  it("agrees with the reference on heads with one random byte changed, inserted or removed", async () => {
    await withSeed(testSeed(), (random) => {
      const parser = new HeadParser(1 << 20, 1000);
      const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff, 0x40, 0x22, 0x2c];
      for (let round = 0; round < 1500; round++) {
        const head = [...latin1Bytes(randomHead(random))];
        const at = random.int(0, head.length - 1);
        const byte = random.chance(0.7)
          ? interesting[random.int(0, interesting.length - 1)] as number
          : random.int(0, 255);
        const kind = random.int(0, 2);
        if (kind === 0) head[at] = byte;
        else if (kind === 1) head.splice(at, 0, byte);
        else head.splice(at, 1);
        const bytes = Uint8Array.from(head);
        check(parser, bytes, cut(bytes, randomSizes(random, bytes.length)), new Uint8Array(0));
      }
    });
  });

  it("resumes at every split point of a head", () => {
    const text = "\r\nPOST /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\nX-Ows: \t v a l \t \r\n" +
      "Content-Length: 5\r\n\r\n";
    const bytes = latin1Bytes(text);
    const parser = new HeadParser(4096, 100);
    for (let split = 0; split <= bytes.length; split++) {
      const chunks = [bytes.subarray(0, split), bytes.subarray(split)].filter((c) => c.length > 0);
      check(parser, bytes, chunks, new Uint8Array(0));
    }
    // One byte at a time.
    check(parser, bytes, cut(bytes, new Array(bytes.length).fill(1)), new Uint8Array(0));
  });

  it("reads a head from a channel with 16-byte blocks (many segments per read)", async () => {
    const pool = new MemoryPool({ blockSize: 16 });
    const channel = new Channel({ pool, minimumSegmentSize: 16 });
    const text = "GET /segmented/target HTTP/1.1\r\nHost: h\r\nUser-Agent: a rather long value here\r\n\r\nNEXT";
    const bytes = latin1Bytes(text);
    const parser = new HeadParser(4096, 100);
    for (let at = 0; at < bytes.length; at += 7) {
      await channel.writer.write(bytes.subarray(at, Math.min(bytes.length, at + 7)));
    }
    channel.writer.complete();
    const { buffer } = await channel.reader.read();
    assert.ok(!buffer.isSingleSegment);
    const length = parser.parse(buffer, 0);
    assert.equal(length, text.indexOf("NEXT"));
    assert.deepEqual(extract(parser, buffer, 0, length).fields, [["Host", "h"], [
      "User-Agent",
      "a rather long value here",
    ]]);
    channel.reader.advanceTo(buffer.length);
    channel.reader.complete();
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("refuses a head longer than maxBytes with 431, before and after its end arrived", () => {
    const head = latin1Bytes(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(100)}\r\n\r\n`);
    for (const max of [head.length - 1, 50, 10]) {
      const whole = new HeadParser(max, 100);
      assert.equal(whole.parse(ReadableBuffer.from([head]), 0), INVALID);
      assert.equal(whole.errorStatus, 431);
      const partial = new HeadParser(max, 100);
      assert.equal(partial.parse(ReadableBuffer.from([head.subarray(0, max + 1)]), 0), INVALID);
      assert.equal(partial.errorStatus, 431);
    }
    const exact = new HeadParser(head.length, 100);
    assert.equal(exact.parse(ReadableBuffer.from([head]), 0), head.length);
  });

  it("refuses more than maxFields field lines with 431, and takes exactly maxFields", () => {
    const fields = (n: number) => latin1Bytes(`GET / HTTP/1.1\r\n${"A: b\r\n".repeat(n)}\r\n`);
    for (const max of [1, 16, 17, 40]) {
      const parser = new HeadParser(1 << 16, max);
      assert.equal(parser.parse(ReadableBuffer.from([fields(max)]), 0), fields(max).length);
      assert.equal(parser.fieldCount, max);
      parser.reset();
      assert.equal(parser.parse(ReadableBuffer.from([fields(max + 1)]), 0), INVALID);
      assert.equal(parser.errorStatus, 431);
    }
  });

  it("parses a trailer section (field lines from the start)", () => {
    const parser = new HeadParser(1024, 10, true);
    const bytes = latin1Bytes("Checksum: abc\r\nX-T: 1\r\n\r\nrest");
    assert.equal(parser.parse(ReadableBuffer.from([bytes]), 0), bytes.length - 4);
    assert.equal(parser.fieldCount, 2);
    parser.reset();
    assert.equal(parser.parse(ReadableBuffer.from([latin1Bytes("\r\n")]), 0), 2);
    assert.equal(parser.fieldCount, 0);
  });
});
