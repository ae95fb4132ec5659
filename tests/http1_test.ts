// ./http1 conformance: a table of requests written from RFC 9112 (ideas from llhttp's test
// corpus and the h1spec list, cases our own), served by serveHttp over in-memory channels.
// Valid requests in every framing are checked whole, split at every byte (the server reads
// each piece apart), over 16-byte pool blocks, and pipelined; every malformed or smuggling
// request is answered with its status and a close. Then the response API, request bodies,
// 100-continue, upgrade, timeouts and handler errors. The TCP and peer tests are in
// http1_peers_test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChannelStateError, MemoryPool } from "../mod.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "../src/http1/mod.ts";
import { serveHttp } from "../src/http1/mod.ts";
import { Channel } from "../mod.ts";
import {
  bytesOf,
  decoder,
  delay,
  encoder,
  exchange,
  field,
  type ParsedResponse,
  parseResponses,
  textOf,
} from "./_http1_client.ts";
import { testSeed, withSeed } from "./_util.ts";

// ---- the table's handler: answers with what it saw, as JSON ----

interface Seen {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  body: string;
  trailers: [string, string][];
}

async function readText(request: HttpRequest): Promise<string> {
  const body = request.body;
  let text = "";
  for (;;) {
    const { buffer, isCompleted } = await body.read();
    text += textOf(buffer.toUint8Array());
    body.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  return text;
}

const reportHandler: HttpHandler = async (request, response) => {
  const seen: Seen = {
    method: request.method,
    target: request.target,
    version: request.version,
    headers: [...request.headers],
    body: await readText(request),
    trailers: [...request.trailers],
  };
  response.setHeader("Content-Type", "application/json");
  response.end(JSON.stringify(seen));
};

function seenOf(response: ParsedResponse): Seen {
  return JSON.parse(decoder.decode(response.body)) as Seen;
}

function finals(output: Uint8Array, methods: string[] = []): ParsedResponse[] {
  return parseResponses(output, methods).responses.filter((r) => r.status >= 200);
}

// ---- valid requests ----

interface ValidCase {
  name: string;
  request: string;
  seen: Partial<Seen>;
  /** The connection stays open after the response (keep-alive). */
  open: boolean;
  /** Extra check of the response. */
  check?: (response: ParsedResponse) => void;
}

const VALID: ValidCase[] = [
  {
    name: "a minimal GET",
    request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    seen: { method: "GET", target: "/", version: "HTTP/1.1", headers: [["host", "a"]], body: "" },
    open: true,
  },
  {
    name: "empty lines before the request line (RFC 9112 §2.2)",
    request: "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
    seen: { target: "/x" },
    open: true,
  },
  {
    name: "a body with Content-Length",
    request: "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
    seen: { method: "POST", body: "hello world" },
    open: true,
  },
  {
    name: "a Content-Length with leading zeros",
    request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\nabcdefg",
    seen: { body: "abcdefg" },
    open: true,
  },
  {
    name: "Content-Length: 0",
    request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    seen: { body: "" },
    open: true,
  },
  {
    name: "a repeated identical Content-Length, as lines and as a list",
    request: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
    seen: { body: "abc" },
    open: true,
  },
  {
    name: "a chunked body with extensions and trailers",
    request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name=value\r\nhello\r\n1 ; a ; b = "q\\"d";c=t\r\n \r\nA\r\n0123456789\r\n000\r\nX-Trailer: yes\r\nY: 2\r\n\r\n',
    seen: { body: "hello 0123456789", trailers: [["x-trailer", "yes"], ["y", "2"]] },
    open: true,
  },
  {
    name: "a chunked body with upper-case hex, leading zeros and no trailers",
    request: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0001A\r\n" + "z".repeat(26) +
      "\r\n0\r\n\r\n",
    seen: { body: "z".repeat(26), trailers: [] },
    open: true,
  },
  {
    name: "field values with OWS, empty values, obs-text and repeated names",
    request:
      "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t spaced  out \t\r\nX-Empty:\r\nX-Empty2:   \r\nX-Obs: caf\xe9\r\nx-a: two\r\n\r\n",
    seen: {
      headers: [["host", "a"], ["x-a", "spaced  out"], ["x-empty", ""], ["x-empty2", ""], ["x-obs", "caf\xe9"], [
        "x-a",
        "two",
      ]],
    },
    open: true,
  },
  {
    name: "HTTP/1.0 without Host closes after the response",
    request: "GET /old HTTP/1.0\r\n\r\n",
    seen: { version: "HTTP/1.0", target: "/old" },
    open: false,
    check: (r) => assert.equal(field(r, "connection"), "close"),
  },
  {
    name: "HTTP/1.0 with Connection: keep-alive stays open",
    request: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    seen: { version: "HTTP/1.0" },
    open: true,
    check: (r) => assert.equal(field(r, "connection"), "keep-alive"),
  },
  {
    name: "Connection: close closes after the response",
    request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, close\r\n\r\n",
    seen: {},
    open: false,
    check: (r) => assert.equal(field(r, "connection"), "close"),
  },
  {
    name: "HTTP/1.9 is served as 1.1 (RFC 9110 §2.5)",
    request: "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
    seen: { version: "HTTP/1.1" },
    open: true,
  },
  {
    name: "absolute-form and asterisk-form targets",
    request: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    seen: { method: "OPTIONS", target: "*" },
    open: true,
  },
  {
    name: "an absolute-form target and an IPv6 Host with a port",
    request: "GET http://[::1]:8080/p?q=1 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    seen: { target: "http://[::1]:8080/p?q=1" },
    open: true,
  },
  {
    name: "an extension method",
    request: "PROPFIND /dav HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
    seen: { method: "PROPFIND", body: "{}" },
    open: true,
  },
];

/** The response with its Date line blanked (it changes with the second). */
function stable(output: Uint8Array): string {
  return textOf(output).replace(/\r\nDate: [^\r]*/g, "\r\nDate: -");
}

describe("http1 valid requests", () => {
  for (const c of VALID) {
    it(`${c.name}: served whole, split at every byte and over 16-byte blocks`, async () => {
      const bytes = bytesOf(c.request);
      const whole = await exchange([bytes], reportHandler, {}, { responses: 1 });
      const [response, ...others] = finals(whole.output);
      assert.equal(others.length, 0);
      assert.ok(response !== undefined, `no response to ${JSON.stringify(c.request)}: ${textOf(whole.output)}`);
      assert.equal(response.status, 200, textOf(whole.output));
      const seen = seenOf(response);
      for (const [key, value] of Object.entries(c.seen)) {
        assert.deepEqual(seen[key as keyof Seen], value, `${key} of ${JSON.stringify(c.request)}`);
      }
      assert.match(field(response, "date") ?? "", /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      c.check?.(response);
      assert.equal(whole.serverClosed, !c.open, `the server ${whole.serverClosed ? "closed" : "stayed open"}`);
      // Split in two at every byte, the pieces read apart.
      for (let at = 1; at < bytes.length; at++) {
        const split = await exchange([bytes.subarray(0, at), bytes.subarray(at)], reportHandler, {}, {
          gaps: true,
          responses: 1,
          settleMs: 0,
        });
        assert.equal(stable(split.output), stable(whole.output), `split at ${at}`);
      }
      const pool = new MemoryPool({ blockSize: 16 });
      const small = await exchange([bytes], reportHandler, {}, { pool, responses: 1 });
      assert.equal(stable(small.output), stable(whole.output), "over 16-byte blocks");
      assert.equal(pool.stats().rentedBlocks, 0, "every input block is returned");
    });
  }

  it("pipelined requests of every framing are answered in order from one read", async () => {
    const requests = VALID.filter((c) => c.open);
    const all = bytesOf(requests.map((c) => c.request).join(""));
    for (const gaps of [false, true]) {
      const chunks = gaps ? [...all].map((b) => new Uint8Array([b])) : [all];
      const result = await exchange(chunks, reportHandler, {}, { gaps, responses: requests.length });
      const responses = finals(result.output);
      assert.equal(responses.length, requests.length);
      responses.forEach((response, i) => {
        const seen = seenOf(response);
        for (const [key, value] of Object.entries((requests[i] as ValidCase).seen)) {
          assert.deepEqual(seen[key as keyof Seen], value, `${key} of request ${i}`);
        }
      });
      assert.equal(result.serverClosed, false);
    }
  });

  it("a HEAD response has the GET's Content-Length and no body", async () => {
    const handler: HttpHandler = (_request, response) => response.end("Hello, World!");
    const result = await exchange(
      [bytesOf("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")],
      handler,
      {},
      {
        responses: 2,
        methods: ["HEAD", "GET"],
      },
    );
    const [head, get] = parseResponses(result.output, ["HEAD", "GET"]).responses;
    assert.equal(field(head!, "content-length"), "13");
    assert.equal(head!.body.length, 0);
    assert.equal(decoder.decode(get!.body), "Hello, World!");
  });
});

// ---- malformed and smuggling requests ----

interface BadCase {
  name: string;
  request: string;
  status: number;
  options?: Parameters<typeof serveHttp>[2];
}

const H = "Host: a\r\n";
const BAD: BadCase[] = [
  // Smuggling: framing two parsers could read two ways.
  {
    name: "Content-Length with Transfer-Encoding",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "Transfer-Encoding with Content-Length",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n`,
    status: 400,
  },
  {
    name: "differing Content-Length lines",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    status: 400,
  },
  {
    name: "a Content-Length list with differing values",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello!`,
    status: 400,
  },
  {
    name: "Content-Length with a sign",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`,
    status: 400,
  },
  { name: "a negative Content-Length", request: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400 },
  { name: "a hex Content-Length", request: `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, status: 400 },
  {
    name: "Content-Length with inner space",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n`,
    status: 400,
  },
  { name: "an empty Content-Length", request: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, status: 400 },
  {
    name: "Content-Length past 2^53",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`,
    status: 413,
  },
  {
    name: "Content-Length past maxBodyBytes",
    request: `POST / HTTP/1.1\r\n${H}Content-Length: 101\r\n\r\n`,
    status: 413,
    options: { maxBodyBytes: 100 },
  },
  {
    name: "Transfer-Encoding not ending in chunked",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`,
    status: 400,
  },
  {
    name: "Transfer-Encoding: identity",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`,
    status: 400,
  },
  {
    name: "chunked twice",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a look-alike coding (xchunked)",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`,
    status: 400,
  },
  {
    name: "chunked with a parameter",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n`,
    status: 400,
  },
  {
    name: "a coding before chunked (not implemented)",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    status: 501,
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    request: `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  // Bad chunks.
  {
    name: "a chunk size that is not hex",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\ng\r\n`,
    status: 400,
  },
  {
    name: "a chunk size with 0x",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a negative chunk size",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-1\r\n`,
    status: 400,
  },
  {
    name: "a chunk size with leading space",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a chunk size with trailing space (no extension)",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a chunk size of 16 hex digits",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\n`,
    status: 400,
  },
  {
    name: "a chunk past maxBodyBytes",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n65\r\n`,
    status: 413,
    options: { maxBodyBytes: 100 },
  },
  {
    name: "chunk data longer than its size",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a chunk-size line ending in a bare LF",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "chunk data ending in a bare LF",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a bare LF in a chunk extension's quoted string",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a="x\ny"\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a chunk-size line longer than 4 KiB (extensions)",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=${"b".repeat(5000)}\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a chunk extension without a name",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: "a malformed trailer (obs-fold)",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n`,
    status: 400,
  },
  // Line ends and folding.
  { name: "obs-fold", request: `GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`, status: 400 },
  { name: "whitespace before the first field line", request: `GET / HTTP/1.1\r\n ${H}\r\n`, status: 400 },
  { name: "bare LF line ends", request: "GET / HTTP/1.1\nHost: a\n\n", status: 400 },
  { name: "a bare LF ending one field line", request: `GET / HTTP/1.1\r\n${H}X: y\n\r\n`, status: 400 },
  { name: "a bare LF ending the head", request: `GET / HTTP/1.1\r\n${H}\n`, status: 400 },
  { name: "a bare CR inside a field value", request: `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, status: 400 },
  { name: "a bare CR after the request line", request: `GET / HTTP/1.1\r${H}\r\n`, status: 400 },
  // Bytes that do not belong.
  { name: "NUL in a field value", request: `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, status: 400 },
  { name: "NUL in the target", request: `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "a control in a field value", request: `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`, status: 400 },
  { name: "DEL in a field value", request: `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, status: 400 },
  { name: "a field name with a non-token byte", request: `GET / HTTP/1.1\r\n${H}X@Y: z\r\n\r\n`, status: 400 },
  { name: "a field name with a space before the colon", request: `GET / HTTP/1.1\r\nHost : a\r\n\r\n`, status: 400 },
  { name: "an empty field name", request: `GET / HTTP/1.1\r\n${H}: z\r\n\r\n`, status: 400 },
  { name: "a field line without a colon", request: `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, status: 400 },
  { name: "a method with a non-token byte", request: `G(T / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "a target with obs-text", request: `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "a target with a tab", request: `GET /a\tb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  // The request line.
  { name: "two spaces after the method", request: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: "a space after the version", request: `GET / HTTP/1.1 \r\n${H}\r\n`, status: 400 },
  { name: "a lower-case version", request: `GET / http/1.1\r\n${H}\r\n`, status: 400 },
  { name: "a version without a minor", request: `GET / HTTP/1\r\n${H}\r\n`, status: 400 },
  { name: "a two-digit version", request: `GET / HTTP/1.10\r\n${H}\r\n`, status: 400 },
  { name: "no version (HTTP/0.9)", request: `GET /\r\n\r\n`, status: 400 },
  { name: "HTTP/2.0", request: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: "an empty method (line starts with a space)", request: ` / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  // Host (RFC 9112 §3.2).
  { name: "HTTP/1.1 without Host", request: "GET / HTTP/1.1\r\n\r\n", status: 400 },
  { name: "two Host lines", request: `GET / HTTP/1.1\r\n${H}Host: b\r\n\r\n`, status: 400 },
  { name: "a Host with a space", request: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400 },
  { name: "a Host with a path", request: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: 400 },
  // Expectations and limits.
  { name: "an Expect other than 100-continue", request: `GET / HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`, status: 417 },
  {
    name: "a head longer than maxHeadBytes",
    request: `GET / HTTP/1.1\r\n${H}X: ${"v".repeat(200)}\r\n\r\n`,
    status: 431,
    options: { maxHeadBytes: 128 },
  },
  {
    name: "a head that goes on past maxHeadBytes",
    request: `GET / HTTP/1.1\r\n${H}X: ${"v".repeat(200)}`,
    status: 431,
    options: { maxHeadBytes: 128 },
  },
  {
    name: "more fields than maxHeaderCount",
    request: `GET / HTTP/1.1\r\n${H}${"A: b\r\n".repeat(5)}\r\n`,
    status: 431,
    options: { maxHeaderCount: 5 },
  },
  {
    name: "trailers past maxHeaderCount",
    request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${"A: b\r\n".repeat(3)}\r\n`,
    status: 431,
    options: { maxHeaderCount: 2 },
  },
  { name: "a head the client ends before it is complete", request: `GET / HTTP/1.1\r\n${H}`, status: 400 },
];

describe("http1 malformed and smuggling requests", () => {
  for (const c of BAD) {
    it(`${c.name}: ${c.status} and a close`, async () => {
      const bytes = bytesOf(c.request);
      let handled = 0;
      const handler: HttpHandler = async (request, response) => {
        handled++;
        await readText(request);
        response.end("served");
      };
      // The last case is a head the client cuts off: the client ends its side.
      const ends = c.name.startsWith("a head the client ends");
      const result = ends
        ? await exchangeThenEnd(bytes, handler, c.options)
        : await exchange([bytes], handler, c.options, { settleMs: 20 });
      const responses = finals(result.output);
      const last = responses[responses.length - 1];
      assert.ok(last !== undefined, `no response: ${JSON.stringify(textOf(result.output))}`);
      assert.equal(last.status, c.status, textOf(result.output));
      assert.equal(field(last, "connection"), "close");
      assert.ok(ends || result.serverClosed, "the server closes the connection");
      // Framing errors found before the handler never reach it; body framing errors reach it
      // (it was reading the body when they were found), and its answer is the error's.
      assert.ok(handled <= 1);
      // Nothing after the refusal: the bytes that follow are never taken for a request.
      assert.equal(responses.length, 1, textOf(result.output));
    });
  }

  it("the request after a smuggled one is never served", async () => {
    const smuggled =
      `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`;
    const targets: string[] = [];
    const result = await exchange([bytesOf(smuggled)], (request, response) => {
      targets.push(request.target);
      response.end();
    });
    assert.deepEqual(targets, []);
    assert.deepEqual(finals(result.output).map((r) => r.status), [400]);
  });
});

async function exchangeThenEnd(bytes: Uint8Array, handler: HttpHandler, options: Parameters<typeof serveHttp>[2]) {
  const input = new Channel();
  const output = new Channel();
  const serving = serveHttp({ input: input.reader, output: output.writer }, handler, options);
  await input.writer.write(bytes);
  input.writer.complete();
  await serving;
  const { buffer } = await output.reader.read();
  const out = buffer.toUint8Array();
  output.reader.advanceTo(buffer.length);
  return { output: out, serverClosed: true };
}

// ---- responses ----

describe("http1 responses", () => {
  async function respond(handler: HttpHandler, request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n", methods?: string[]) {
    const result = await exchange([bytesOf(request)], handler, {}, { responses: 1 });
    return { result, responses: parseResponses(result.output, methods).responses };
  }

  it("end() with a string sends UTF-8 with its byte length", async () => {
    const { responses } = await respond((_q, r) => r.end("héllo ✓ 😀"));
    assert.equal(field(responses[0]!, "content-length"), String(encoder.encode("héllo ✓ 😀").length));
    assert.equal(decoder.decode(responses[0]!.body), "héllo ✓ 😀");
  });

  it("end() with bytes and with a ReadableBuffer", async () => {
    const { responses } = await respond(async (request, response) => {
      if (request.target === "/bytes") return response.end(new Uint8Array([1, 2, 3]));
      const { buffer } = await request.body.readAtLeast(4);
      response.end(buffer.slice(1, 3));
      request.body.advanceTo(buffer.length);
    }, "POST /buffer HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz");
    assert.equal(decoder.decode(responses[0]!.body), "xy");
  });

  it("a status, a reason and fields of the caller's, in order", async () => {
    const { responses, result } = await respond((_q, r) => {
      r.status = 418;
      r.statusText = "I'm a teapot";
      r.setHeader("X-One", "1").setHeader("X-Two", 2).setHeader("x-one", "again");
      r.end();
    });
    assert.equal(responses[0]!.status, 418);
    assert.equal(responses[0]!.reason, "I'm a teapot");
    assert.match(textOf(result.output), /X-One: 1\r\nX-Two: 2\r\nx-one: again\r\n/);
  });

  it("a handler that settles without answering sends an empty body", async () => {
    const { responses } = await respond((_q, r) => {
      r.status = 202;
    });
    assert.equal(responses[0]!.status, 202);
    assert.equal(field(responses[0]!, "content-length"), "0");
  });

  it("stream() is chunked, with getMemory spans framed in place", async () => {
    const { responses } = await respond(async (_q, r) => {
      const out = r.stream();
      const span = out.getMemory(5);
      span.set(encoder.encode("hello"));
      out.advance(5);
      out.getMemory(1);
      out.advance(0); // no empty chunk
      await out.write(encoder.encode(", "));
      await out.writeUtf8("wörld");
      out.complete();
    });
    assert.equal(responses[0]!.chunked, true);
    assert.equal(decoder.decode(responses[0]!.body), "hello, wörld");
  });

  it("stream() with a Content-Length sends exactly that many bytes, and refuses more", async () => {
    let overrun: unknown;
    const { responses } = await respond(async (_q, r) => {
      r.setHeader("Content-Length", "5");
      const out = r.stream();
      await out.write(encoder.encode("abc"));
      overrun = await out.write(encoder.encode("def")).catch((e) => e);
      await out.write(encoder.encode("de"));
      out.complete();
    });
    assert.ok(overrun instanceof RangeError);
    assert.equal(responses[0]!.chunked, false);
    assert.equal(decoder.decode(responses[0]!.body), "abcde");
  });

  it("a streamed body shorter than its Content-Length aborts the connection", async () => {
    const result = await exchange([bytesOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n")], async (_q, r) => {
      r.setHeader("Content-Length", 10);
      const out = r.stream();
      await out.write(encoder.encode("abc"));
      out.complete();
    });
    assert.ok(result.outputError instanceof RangeError);
  });

  it("stream() to an HTTP/1.0 client sends the body until the close", async () => {
    const result = await exchange([bytesOf("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")], async (_q, r) => {
      const out = r.stream();
      await out.writeUtf8("until the end");
      out.complete();
    });
    const text = textOf(result.output);
    assert.doesNotMatch(text, /Transfer-Encoding/);
    assert.match(text, /Connection: close\r\n\r\nuntil the end$/);
    assert.equal(result.serverClosed, true);
  });

  it("204 and 304 carry no framing and no body; a body for them throws", async () => {
    let thrown: unknown;
    const { result } = await respond((_q, r) => {
      r.status = 204;
      try {
        r.end("x");
      } catch (error) {
        thrown = error;
      }
      r.end();
    });
    assert.ok(thrown instanceof TypeError);
    assert.doesNotMatch(textOf(result.output), /Content-Length|Transfer-Encoding/);
  });

  it("setHeader refuses header injection, bad names, Transfer-Encoding and bad lengths", async () => {
    const errors: unknown[] = [];
    await respond((_q, r) => {
      for (
        const [name, value] of [
          ["X", "a\r\nInjected: 1"],
          ["X", "a\nb"],
          ["X", "\x00"],
          ["X", "\u0100"],
          ["Bad Name", "v"],
          ["", "v"],
          ["Transfer-Encoding", "chunked"],
        ]
      ) {
        try {
          r.setHeader(name as string, value as string);
        } catch (error) {
          errors.push(error);
        }
      }
      for (const length of ["-1", "1.5", "abc", -1]) {
        try {
          r.setHeader("Content-Length", length);
        } catch (error) {
          errors.push(error);
        }
      }
      r.end();
    });
    assert.equal(errors.length, 11);
    assert.ok(errors.slice(0, 7).every((e) => e instanceof TypeError));
    assert.ok(errors.slice(7).every((e) => e instanceof RangeError));
  });

  it("changing or sending a response twice throws HEAD_SENT; a bad status throws RangeError", async () => {
    const errors: unknown[] = [];
    await respond((_q, r) => {
      r.status = 99;
      try {
        r.end();
      } catch (error) {
        errors.push(error);
      }
      r.status = 200;
      r.end();
      for (const call of [() => r.end(), () => r.stream(), () => r.setHeader("X", "y"), () => r.upgrade()]) {
        try {
          call();
        } catch (error) {
          errors.push(error);
        }
      }
    });
    assert.ok(errors[0] instanceof RangeError);
    assert.equal(errors.length, 5);
    for (const error of errors.slice(1)) {
      assert.ok(error instanceof ChannelStateError);
      assert.equal(error.code, "HEAD_SENT");
    }
  });

  it("the request is unusable once its handler settled (REQUEST_FINISHED)", async () => {
    let kept: HttpRequest | undefined;
    let keptResponse: HttpResponse | undefined;
    await respond((request, response) => {
      kept = request;
      keptResponse = response;
      response.end();
    });
    assert.throws(() => kept!.headers.get("host"), { name: "ChannelStateError", code: "REQUEST_FINISHED" });
    assert.throws(() => kept!.body, { name: "ChannelStateError", code: "REQUEST_FINISHED" });
    assert.equal(keptResponse!.finished, true);
  });

  it("a handler that throws before answering gets a 500 and onError; the connection closes", async () => {
    const reported: unknown[] = [];
    const boom = new Error("boom");
    const result = await exchange(
      [bytesOf("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")],
      () => {
        throw boom;
      },
      { onError: (e) => reported.push(e) },
      { settleMs: 20 },
    );
    assert.deepEqual(finals(result.output).map((r) => r.status), [500]);
    assert.deepEqual(reported, [boom]);
    assert.equal(result.serverClosed, true);
  });

  it("a handler that rejects after streaming began aborts the connection with its error", async () => {
    const reported: unknown[] = [];
    const boom = new Error("late");
    const result = await exchange([bytesOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n")], async (_q, r) => {
      const out = r.stream();
      await out.writeUtf8("partial");
      throw boom;
    }, { onError: (e) => reported.push(e) });
    assert.equal(result.outputError, boom);
    assert.deepEqual(reported, [boom]);
  });
});

// ---- bodies, 100-continue, upgrade, timeouts ----

describe("http1 request bodies", () => {
  it("a Content-Length body is read in pieces with consumed/examined, as any channel", async () => {
    const seen: string[] = [];
    const result = await exchange(
      [
        bytesOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123"),
        bytesOf("456789GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
      ],
      async (request, response) => {
        if (request.method === "GET") return response.end("next");
        const body = request.body;
        // Examine everything but consume nothing: the next read waits for more.
        let result = await body.read();
        seen.push(textOf(result.buffer.toUint8Array()));
        body.advanceTo(0, result.buffer.length);
        result = await body.readAtLeast(10);
        seen.push(textOf(result.buffer.toUint8Array()));
        assert.equal(result.isCompleted, true);
        body.advanceTo(3);
        result = body.tryRead()!;
        seen.push(textOf(result.buffer.toUint8Array()));
        body.advanceTo(result.buffer.length);
        const last = await body.read();
        assert.equal(last.buffer.length, 0);
        assert.equal(last.isCompleted, true);
        body.advanceTo(0);
        response.end("ok");
      },
      {},
      { gaps: true, responses: 2 },
    );
    assert.deepEqual(seen, ["0123", "0123456789", "3456789"]);
    assert.deepEqual(finals(result.output).map((r) => decoder.decode(r.body)), ["ok", "next"]);
  });

  it("a chunked body is read in place: a segment per data run, consumed/examined across chunks", async () => {
    const pool = new MemoryPool();
    const poolMemory = (() => {
      const block = pool.rent(1);
      const memory = block.bytes.buffer;
      pool.release(block);
      return memory;
    })();
    const seen: string[] = [];
    const result = await exchange(
      [
        bytesOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n"),
        bytesOf("2\r\nhi\r\n0\r\nT: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n"),
      ],
      async (request, response) => {
        if (request.method === "GET") return response.end("next");
        const body = request.body;
        let read = await body.read();
        const views = [...read.buffer];
        assert.equal(views.length, 2, "one segment per data run");
        assert.ok(views.every((view) => view.buffer === poolMemory), "views of the input's pool memory");
        seen.push(textOf(read.buffer.toUint8Array()));
        assert.equal(read.isCompleted, false);
        assert.equal(read.buffer.indexOf(0x65), 4); // "e", found across the runs
        body.advanceTo(2, read.buffer.length); // consume "ab", wait for more
        read = await body.read();
        seen.push(textOf(read.buffer.toUint8Array()));
        assert.equal(read.isCompleted, true);
        body.advanceTo(1);
        read = body.tryRead()!;
        seen.push(textOf(read.buffer.toUint8Array()));
        body.advanceTo(read.buffer.length);
        read = await body.read();
        assert.equal(read.buffer.length, 0);
        assert.equal(read.isCompleted, true);
        body.advanceTo(0);
        assert.deepEqual([...request.trailers], [["t", "1"]]);
        response.end("ok");
      },
      {},
      { gaps: true, pool, responses: 2 },
    );
    assert.deepEqual(seen, ["abcdefg", "cdefghi", "defghi"]);
    assert.deepEqual(finals(result.output).map((r) => decoder.decode(r.body)), ["ok", "next"]);
  });

  it("readAtLeast gathers many one-byte chunks that arrive apart", async () => {
    const chunks = [bytesOf("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")];
    for (let i = 0; i < 60; i++) chunks.push(bytesOf(`1\r\n${String.fromCharCode(65 + (i % 26))}\r\n`));
    chunks.push(bytesOf("0\r\n\r\n"));
    let text = "";
    await exchange(
      chunks,
      async (request, response) => {
        const { buffer, isCompleted } = await request.body.readAtLeast(50);
        assert.ok(buffer.length >= 50);
        text = textOf(buffer.toUint8Array());
        request.body.advanceTo(buffer.length);
        if (!isCompleted) text += await readText(request);
        response.end();
      },
      {},
      { gaps: true, responses: 1 },
    );
    let expected = "";
    for (let i = 0; i < 60; i++) expected += String.fromCharCode(65 + (i % 26));
    assert.equal(text, expected);
  });

  it("random bodies of both framings, split at random, read with random consumed/examined: the bytes and trailers come out whole", async () => {
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 60; round++) {
        const data = random.bytes(random.int(0, 3000));
        const chunked = random.chance(0.6);
        let request = `POST /r${round} HTTP/1.1\r\nHost: a\r\n`;
        const trailers: [string, string][] = [];
        if (chunked) {
          request += "Transfer-Encoding: chunked\r\n\r\n";
          let body = "";
          for (let at = 0; at < data.length;) {
            const size = Math.min(data.length - at, random.chance(0.3) ? random.int(1, 3) : random.int(1, 700));
            const ext = random.chance(0.2) ? `;k${random.int(0, 9)}=${random.chance(0.5) ? "v" : '"q \\" v"'}` : "";
            const hex = size.toString(16);
            body += `${random.chance(0.2) ? hex.toUpperCase().padStart(4, "0") : hex}${ext}\r\n${
              textOf(data.subarray(at, at + size))
            }\r\n`;
            at += size;
          }
          for (let t = random.int(0, 2); t > 0; t--) trailers.push([`x-t${t}`, `v${random.int(0, 99)}`]);
          request += `${body}0\r\n${trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
        } else {
          request += `Content-Length: ${data.length}\r\n\r\n${textOf(data)}`;
        }
        request += "GET /after HTTP/1.1\r\nHost: a\r\n\r\n";
        const bytes = bytesOf(request);
        const pieces: Uint8Array[] = [];
        const maxPiece = random.chance(0.5) ? 40 : 2000;
        for (let at = 0; at < bytes.length;) {
          const n = Math.min(bytes.length - at, random.int(1, maxPiece));
          pieces.push(bytes.subarray(at, at + n));
          at += n;
        }
        let received = new Uint8Array(0);
        let seenTrailers: [string, string][] = [];
        const handler: HttpHandler = async (q, r) => {
          if (q.method === "GET") return r.end("after");
          const parts: Uint8Array[] = [];
          for (;;) {
            const { buffer, isCompleted } = random.chance(0.3)
              ? await q.body.readAtLeast(random.int(1, 500))
              : await q.body.read();
            const consumed = isCompleted ? buffer.length : random.int(0, buffer.length);
            parts.push(buffer.slice(0, consumed).toUint8Array());
            q.body.advanceTo(consumed, random.chance(0.5) ? buffer.length : consumed);
            if (isCompleted) break;
          }
          received = Uint8Array.from(parts.flatMap((p) => [...p]));
          seenTrailers = [...q.trailers];
          r.end("ok");
        };
        const pool = random.chance(0.5) ? new MemoryPool({ blockSize: 64 }) : undefined;
        const result = await exchange(pieces, handler, {}, {
          gaps: pieces.length < 40 && random.chance(0.5),
          responses: 2,
          settleMs: 0,
          ...(pool ? { pool } : {}),
        });
        assert.deepEqual(received, data, `round ${round} (${chunked ? "chunked" : "length"})`);
        assert.deepEqual(seenTrailers, trailers);
        assert.deepEqual(finals(result.output).map((x) => decoder.decode(x.body)), ["ok", "after"]);
        if (pool) assert.equal(pool.stats().rentedBlocks, 0);
      }
    });
  });

  it("misuse of a body reader throws as a channel does", async () => {
    await exchange(
      [bytesOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")],
      async (request, response) => {
        const body = request.body;
        assert.throws(() => body.advanceTo(0), { code: "NO_READ_TO_ADVANCE" });
        const { buffer } = await body.read();
        await assert.rejects(body.read(), { code: "READ_IN_PROGRESS" });
        assert.throws(() => body.advanceTo(4), RangeError);
        assert.throws(() => body.advanceTo(2, 1), { code: "EXAMINED_BEFORE_CONSUMED" });
        body.advanceTo(buffer.length);
        body.complete();
        await assert.rejects(body.read(), { code: "READER_COMPLETED" });
        response.end();
      },
      {},
      { responses: 1 },
    );
  });

  it("unread bodies are skipped and the next request is served", async () => {
    const targets: string[] = [];
    const result = await exchange(
      [bytesOf(
        "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
          "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
          "GET /c HTTP/1.1\r\nHost: a\r\n\r\n",
      )],
      (request, response) => {
        targets.push(request.target);
        response.end();
      },
      {},
      { responses: 3 },
    );
    assert.deepEqual(targets, ["/a", "/b", "/c"]);
    assert.equal(finals(result.output).length, 3);
    assert.equal(result.serverClosed, false);
  });

  it("an unread body over 256 KiB closes the connection instead of being skipped", async () => {
    const size = 300 * 1024;
    const result = await exchange(
      [bytesOf(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\n\r\n`), new Uint8Array(size)],
      (_q, response) => response.end("refused"),
      {},
      { responses: 1, settleMs: 20 },
    );
    assert.equal(finals(result.output)[0]!.status, 200);
    assert.equal(result.serverClosed, true);
  });

  it("a body the client cuts off rejects its read with a TypeError, answered 400", async () => {
    let error: unknown;
    const input = new Channel();
    const output = new Channel();
    const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
      try {
        await readText(request);
      } catch (e) {
        error = e;
        throw e;
      }
      response.end();
    }, { onError: () => assert.fail("a body error is the client's, not reported") });
    await input.writer.write(bytesOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
    input.writer.complete();
    await serving;
    assert.ok(error instanceof TypeError);
    const { buffer } = await output.reader.read();
    assert.equal(finals(buffer.toUint8Array())[0]!.status, 400);
  });

  it("a large chunked body of many chunks is read through", async () => {
    const chunk = "x".repeat(10_000);
    let request = "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (let i = 0; i < 30; i++) request += `${(10_000).toString(16)}\r\n${chunk}\r\n`;
    request += "0\r\n\r\n";
    let total = 0;
    const result = await exchange(
      [bytesOf(request)],
      async (q, r) => {
        for (;;) {
          const { buffer, isCompleted } = await q.body.read();
          total += buffer.length;
          q.body.advanceTo(buffer.length);
          if (isCompleted) break;
        }
        r.end(String(total));
      },
      {},
      { responses: 1 },
    );
    assert.equal(total, 300_000);
    assert.equal(decoder.decode(finals(result.output)[0]!.body), "300000");
  });

  it("Expect: 100-continue gets 100 Continue when the body is first read, then the answer", async () => {
    const input = new Channel();
    const output = new Channel();
    const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
      response.end(await readText(request));
    });
    await input.writer.write(bytesOf("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
    const first = await output.reader.read();
    assert.equal(textOf(first.buffer.toUint8Array()), "HTTP/1.1 100 Continue\r\n\r\n");
    output.reader.advanceTo(first.buffer.length);
    await input.writer.write(bytesOf("body"));
    const second = await output.reader.read();
    const [response] = finals(second.buffer.toUint8Array());
    assert.equal(decoder.decode(response!.body), "body");
    output.reader.advanceTo(second.buffer.length);
    input.writer.complete();
    await serving;
  });

  it("Expect: 100-continue with a streamed answer gets 100 Continue before the head (an echo)", async () => {
    const input = new Channel();
    const output = new Channel();
    const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
      const out = response.stream();
      await out.writeUtf8((await readText(request)).toUpperCase());
      out.complete();
    });
    await input.writer.write(bytesOf("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
    const first = await output.reader.read();
    let text = textOf(first.buffer.toUint8Array());
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    output.reader.advanceTo(first.buffer.length);
    await input.writer.write(bytesOf("echo"));
    while (!text.endsWith("0\r\n\r\n")) {
      const { buffer } = await output.reader.read();
      text += textOf(buffer.toUint8Array());
      output.reader.advanceTo(buffer.length);
    }
    const [interim, response] = parseResponses(bytesOf(text)).responses;
    assert.equal(interim!.status, 100);
    assert.equal(decoder.decode(response!.body), "ECHO");
    assert.equal(field(response!, "connection"), undefined);
    input.writer.complete();
    await serving;
  });

  it("Expect: 100-continue answered without reading the body sends no 100 and closes", async () => {
    const result = await exchange(
      [bytesOf("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")],
      (_q, r) => {
        r.status = 401;
        r.end();
      },
      {},
      { settleMs: 20 },
    );
    const responses = parseResponses(result.output).responses;
    assert.deepEqual(responses.map((r) => r.status), [401]);
    assert.equal(field(responses[0]!, "connection"), "close");
    assert.equal(result.serverClosed, true);
  });
});

describe("http1 upgrade", () => {
  it("upgrade() sends 101 and hands over the raw channels, with the bytes after the head", async () => {
    const result = await exchange(
      [
        bytesOf("GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nfirst "),
        bytesOf("second"),
      ],
      async (request, response) => {
        assert.equal(request.headers.get("upgrade"), "echo");
        response.setHeader("Upgrade", "echo");
        const { input, output } = response.upgrade();
        assert.equal(request.headers.get("upgrade"), "echo", "the head survives the hand-over");
        let text = "";
        while (text.length < 12) {
          const { buffer } = await input.read();
          text += textOf(buffer.toUint8Array());
          input.advanceTo(buffer.length);
        }
        await output.writeUtf8(text.toUpperCase());
      },
      {},
      { gaps: true, settleMs: 20 },
    );
    const { responses, rest, upgraded } = parseResponses(result.output);
    assert.equal(upgraded, true);
    assert.equal(responses[0]!.status, 101);
    assert.equal(field(responses[0]!, "upgrade"), "echo");
    assert.equal(field(responses[0]!, "connection"), "upgrade");
    assert.equal(textOf(rest), "FIRST SECOND");
    assert.equal(result.serverClosed, true);
  });

  it("upgrade() sends the 101 at once: a client that waits for it before sending is not stuck", async () => {
    const input = new Channel();
    const output = new Channel();
    const serving = serveHttp({ input: input.reader, output: output.writer }, async (_request, response) => {
      response.setHeader("Upgrade", "quiet");
      const raw = response.upgrade();
      const { buffer } = await raw.input.readAtLeast(4);
      await raw.output.write(buffer.toUint8Array());
      raw.input.advanceTo(buffer.length);
    });
    await input.writer.write(bytesOf("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: quiet\r\n\r\n"));
    const first = await output.reader.read();
    assert.match(textOf(first.buffer.toUint8Array()), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    output.reader.advanceTo(first.buffer.length);
    await input.writer.write(bytesOf("ping"));
    const second = await output.reader.read();
    assert.equal(textOf(second.buffer.toUint8Array()), "ping");
    output.reader.advanceTo(second.buffer.length);
    input.writer.complete();
    await serving;
  });

  it("upgrade() throws unless the request asked for one and an Upgrade field is set", async () => {
    const errors: unknown[] = [];
    await exchange(
      [bytesOf("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\n")],
      (_q, r) => {
        try {
          r.upgrade();
        } catch (error) {
          errors.push(error);
        }
        r.end();
      },
      {},
      { responses: 1 },
    );
    await exchange(
      [bytesOf("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n")],
      (_q, r) => {
        try {
          r.upgrade();
        } catch (error) {
          errors.push(error);
        }
        r.end();
      },
      {},
      { responses: 1 },
    );
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof TypeError));
  });
});

describe("http1 timeouts", () => {
  it("a head that does not complete within headersTimeoutMs gets 408 and a close (slowloris)", async () => {
    const input = new Channel();
    const output = new Channel();
    const started = Date.now();
    const serving = serveHttp({ input: input.reader, output: output.writer }, (_q, r) => r.end(), {
      headersTimeoutMs: 150,
    });
    for (const piece of ["GET / HT", "TP/1.1\r\n", "Host: a\r\n", "X: "]) {
      await input.writer.write(bytesOf(piece));
      await delay(40);
    }
    await serving;
    assert.ok(Date.now() - started < 2000);
    const { buffer } = await output.reader.read();
    const [response] = finals(buffer.toUint8Array());
    assert.equal(response!.status, 408);
  });

  for (const framing of ["Content-Length: 100", "Transfer-Encoding: chunked"]) {
    it(`a body (${framing.split(":")[0]}) that does not arrive within requestTimeoutMs fails its read with 408 and a close`, async () => {
      const input = new Channel();
      const output = new Channel();
      let failure: unknown;
      const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
        try {
          await readText(request);
        } catch (error) {
          failure = error;
          throw error;
        }
        response.end();
      }, { requestTimeoutMs: 100, onError: () => assert.fail("a slow body is the client's, not reported") });
      await input.writer.write(bytesOf(`POST / HTTP/1.1\r\nHost: a\r\n${framing}\r\n\r\n`));
      for (let i = 0; i < 4; i++) {
        await input.writer.write(bytesOf(framing.startsWith("Content") ? "abc" : "3\r\nabc\r\n"));
        await delay(40);
      }
      await serving;
      assert.ok(failure instanceof RangeError);
      const { buffer } = await output.reader.read();
      const [response] = finals(buffer.toUint8Array());
      assert.equal(response!.status, 408);
    });
  }

  it("the request timer stops at the upgrade: the raw input is the handler's to wait on", async () => {
    const input = new Channel();
    const output = new Channel();
    let got = "";
    const serving = serveHttp({ input: input.reader, output: output.writer }, async (_request, response) => {
      response.setHeader("Upgrade", "slow");
      const raw = response.upgrade();
      const { buffer } = await raw.input.readAtLeast(4);
      got = textOf(buffer.toUint8Array());
      raw.input.advanceTo(buffer.length);
    }, { requestTimeoutMs: 30, headersTimeoutMs: 30, keepAliveTimeoutMs: 30 });
    await input.writer.write(bytesOf("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: slow\r\n\r\n"));
    await delay(150);
    await input.writer.write(bytesOf("late"));
    await serving;
    assert.equal(got, "late");
    input.writer.complete();
  });

  it("an idle connection closes after keepAliveTimeoutMs without an answer", async () => {
    const result = await exchange([bytesOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n")], (_q, r) => r.end(), {
      keepAliveTimeoutMs: 50,
    }, {
      responses: 1,
      settleMs: 200,
    });
    assert.equal(finals(result.output).length, 1);
    assert.equal(result.serverClosed, true);
  });

  it("a pipelined head arriving whole is not subject to the timer", async () => {
    const result = await exchange(
      [bytesOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(50))],
      async (_q, r) => {
        await delay(1);
        r.end();
      },
      { headersTimeoutMs: 20 },
      { responses: 50 },
    );
    assert.equal(finals(result.output).length, 50);
  });
});

describe("http1 pool memory", () => {
  it("every block goes back to the pool: requests of every framing, refusals, aborted and upgraded connections", async () => {
    const pool = new MemoryPool({ blockSize: 64 });
    const exchanges: [string, HttpHandler][] = [
      [VALID.map((c) => c.request).join(""), reportHandler],
      [BAD.map((c) => c.request).join(""), reportHandler],
      [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${"5\r\nhello\r\n".repeat(100)}`, reportHandler],
      ["GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nrest", (_q, r) => {
        r.setHeader("Upgrade", "x");
        r.upgrade();
      }],
      ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", async (_q, r) => {
        const out = r.stream();
        await out.writeUtf8("x".repeat(1000));
        throw new Error("abort");
      }],
    ];
    for (const [request, handler] of exchanges) {
      const input = new Channel({ pool });
      const output = new Channel({ pool });
      const serving = serveHttp({ input: input.reader, output: output.writer }, handler, { onError: () => {} });
      const reading = (async () => {
        try {
          for (;;) {
            const { buffer, isCompleted } = await output.reader.read();
            output.reader.advanceTo(buffer.length);
            if (isCompleted) break;
          }
        } catch {
          // the aborted connection
        }
        output.reader.complete();
      })();
      const bytes = bytesOf(request);
      for (let at = 0; at < bytes.length; at += 100) await input.writer.write(bytes.subarray(at, at + 100));
      input.writer.complete();
      await serving;
      await reading;
      assert.equal(pool.stats().rentedBlocks, 0, `blocks rented after ${JSON.stringify(request.slice(0, 40))}`);
    }
  });
});

describe("serveHttp arguments", () => {
  it("refuses a bad connection, handler or option", () => {
    const { reader, writer } = new Channel();
    const connection = { input: reader, output: writer };
    assert.throws(() => serveHttp({} as never, () => {}), TypeError);
    assert.throws(() => serveHttp(connection, "no" as never), TypeError);
    assert.throws(() => serveHttp(connection, () => {}, { maxHeadBytes: 0 }), RangeError);
    assert.throws(() => serveHttp(connection, () => {}, { maxHeaderCount: 1.5 }), RangeError);
    assert.throws(() => serveHttp(connection, () => {}, { maxHeadBytes: Infinity }), RangeError);
    assert.throws(() => serveHttp(connection, () => {}, null as never), TypeError);
  });
});
