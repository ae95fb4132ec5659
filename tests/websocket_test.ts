// ./websocket over in-memory channels, against the plain reference codec of
// tests/_websocket_reference.ts: the handshake (accept value, refusals, subprotocols,
// permessage-deflate negotiation), messages of every length edge split at random segment
// boundaries over 64-byte blocks, fragments with control frames between them, every protocol
// error answered with its close code, limits checked before buffering, the close handshake,
// ping/pong, and our client against our server with and without permessage-deflate.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, ChannelStateError, MemoryPool } from "../mod.ts";
import type { HttpRequest, HttpResponse } from "../src/http1/mod.ts";
import { acceptOffer, checkAnswer, checkDeflateOptions } from "../src/websocket/_deflate_params.ts";
import { acceptValue, parseExtensions } from "../src/websocket/_handshake.ts";
import {
  acceptWebSocket,
  type AcceptWebSocketOptions,
  connectWebSocket,
  type ConnectWebSocketOptions,
  type WebSocket,
  type WebSocketCloseInfo,
} from "../src/websocket/mod.ts";
import { concat, cut, type Random, testSeed, withSeed } from "./_util.ts";
import {
  closeOf,
  closePayload,
  decodeFrames,
  encodeFrame,
  encoder,
  handshakeRequest,
  memoryServer,
  type RawPeer,
} from "./_websocket_reference.ts";

const TEXT = 1;
const BINARY = 2;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

/** An echo server (each message back with its type) on in-memory channels; resolves its socket's close info. */
function echoServer(options: AcceptWebSocketOptions = {}, pool?: MemoryPool): {
  peer: RawPeer;
  closed: Promise<WebSocketCloseInfo>;
  serving: Promise<void>;
  pool: MemoryPool;
} {
  let settle: (info: WebSocketCloseInfo) => void = () => {};
  const closed = new Promise<WebSocketCloseInfo>((resolve) => (settle = resolve));
  const server = memoryServer(async (request: HttpRequest, response: HttpResponse) => {
    const socket = await acceptWebSocket(request, response, options);
    for await (const message of socket) {
      await socket.send(message.data, { binary: message.type === "binary" });
    }
    settle(await socket.closed);
  }, pool);
  return { ...server, closed };
}

/** Opens the handshake on a raw peer; returns the answer's head. */
async function open(peer: RawPeer, fields: string = ""): Promise<string> {
  await peer.send(handshakeRequest(undefined, fields));
  const head = await peer.head();
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/, head);
  return head;
}

/** Sends bytes in random pieces (so headers and payloads split anywhere). */
async function sendInPieces(peer: RawPeer, bytes: Uint8Array, random: Random): Promise<void> {
  const sizes: number[] = [];
  for (let left = bytes.length; left > 0;) {
    const n = Math.min(left, random.chance(0.3) ? random.int(1, 3) : random.int(1, 700));
    sizes.push(n);
    left -= n;
  }
  for (const piece of cut(bytes, sizes)) await peer.send(piece);
}

/** Text of exactly `n` UTF-8 bytes with 1-, 2- and 3-byte characters. */
function textOfBytes(n: number): string {
  return "a\u00e9\u20ac".repeat(Math.floor(n / 6)) + "a".repeat(n % 6);
}

describe("websocket: the opening handshake (server)", () => {
  it("Sec-WebSocket-Accept is the RFC 6455 §1.3 example's value", async () => {
    assert.equal(await acceptValue("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const { peer } = echoServer();
    const head = await open(peer);
    assert.match(head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(head, /\r\nConnection: upgrade(\r\n|$)/i);
    assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/);
    assert.doesNotMatch(head, /Sec-WebSocket-Extensions|Sec-WebSocket-Protocol/i);
    peer.end();
  });

  const refusals: [string, string, number, RegExp][] = [
    ["a key of 15 bytes", handshakeRequest("AAAAAAAAAAAAAAAAAAAA"), 400, /Sec-WebSocket-Key/],
    ["a key that is not base64", handshakeRequest("dGhlIHNhbXBsZSBub25j*Q=="), 400, /Sec-WebSocket-Key/],
    ["a key of 17 bytes", handshakeRequest("dGhlIHNhbXBsZSBub25jZQQ="), 400, /Sec-WebSocket-Key/],
    [
      "no key",
      "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
      400,
      /Sec-WebSocket-Key/,
    ],
    [
      "version 8",
      handshakeRequest().replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
      426,
      /Sec-WebSocket-Version/,
    ],
    ["no version", handshakeRequest().replace("Sec-WebSocket-Version: 13\r\n", ""), 426, /Sec-WebSocket-Version/],
    [
      "a POST",
      handshakeRequest().replace("GET", "POST").replace("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n"),
      400,
      /GET with Upgrade/,
    ],
    ["Upgrade: h2c", handshakeRequest().replace("Upgrade: websocket", "Upgrade: h2c"), 400, /GET with Upgrade/],
    [
      "malformed extensions",
      handshakeRequest(undefined, "Sec-WebSocket-Extensions: permessage-deflate; =x\r\n"),
      400,
      /Sec-WebSocket-Extensions/,
    ],
  ];
  for (const [name, request, status, pattern] of refusals) {
    it(`${name} is answered ${status} and acceptWebSocket rejects with a TypeError`, async () => {
      let rejection: unknown;
      const server = memoryServer(async (req, res) => {
        try {
          await acceptWebSocket(req, res);
        } catch (error) {
          rejection = error;
        }
      });
      await server.peer.send(request);
      const head = await server.peer.head();
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), head);
      if (status === 426) assert.match(head, /\r\nSec-WebSocket-Version: 13(\r\n|$)/);
      await server.serving;
      assert.ok(rejection instanceof TypeError, String(rejection));
      assert.match((rejection as Error).message, pattern);
    });
  }

  it("agrees to the first of the client's subprotocols that the server speaks, or to none", async () => {
    for (
      const [offered, ours, agreed] of [
        ["chat, superchat", ["superchat", "chat"], "chat"],
        ["a,b", ["b"], "b"],
        ["a", ["b"], ""],
        [undefined, ["b"], ""],
      ] as const
    ) {
      let protocol: string | undefined;
      const server = memoryServer(async (req, res) => {
        const socket = await acceptWebSocket(req, res, { protocols: ours });
        protocol = socket.protocol;
        await socket.close();
      });
      const head = await open(server.peer, offered === undefined ? "" : `Sec-WebSocket-Protocol: ${offered}\r\n`);
      if (agreed === "") assert.doesNotMatch(head, /Sec-WebSocket-Protocol/i);
      else assert.match(head, new RegExp(`\r\nSec-WebSocket-Protocol: ${agreed}(\r\n|$)`));
      const close = await server.peer.closeFrame();
      await server.peer.send(encodeFrame(CLOSE, closePayload(close.code)));
      await server.serving;
      assert.equal(protocol, agreed);
    }
  });

  it("bad options are a TypeError or RangeError naming them", async () => {
    const cases: [AcceptWebSocketOptions, RegExp, string][] = [
      [{ maxMessageBytes: -1 }, /maxMessageBytes/, "RangeError"],
      [{ maxFragments: 0 }, /maxFragments/, "RangeError"],
      [{ closeTimeoutMs: 1.5 }, /closeTimeoutMs/, "RangeError"],
      [{ perMessageDeflate: { serverMaxWindowBits: 8 } }, /serverMaxWindowBits/, "RangeError"],
      [{ perMessageDeflate: { level: 10 } }, /level/, "RangeError"],
      [{ protocols: ["a b"] }, /protocols/, "TypeError"],
    ];
    for (const [options, pattern, name] of cases) {
      let rejection: unknown;
      const server = memoryServer(async (req, res) => {
        try {
          await acceptWebSocket(req, res, options);
        } catch (error) {
          rejection = error;
        }
        res.end();
      });
      await server.peer.send(handshakeRequest());
      await server.peer.head();
      server.peer.end();
      await server.serving;
      assert.ok(rejection instanceof Error && rejection.name === name, `${JSON.stringify(options)}: ${rejection}`);
      assert.match(rejection.message, pattern);
    }
  });
});

describe("websocket: permessage-deflate negotiation", () => {
  const defaults = checkDeflateOptions(true, "test");
  assert.ok(defaults !== undefined);

  it("parses Sec-WebSocket-Extensions (RFC 6455 §9.1), quoted values included, and rejects what breaks the grammar", () => {
    assert.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits, x-foo; a="10"; b'), [
      { name: "permessage-deflate", params: [["client_max_window_bits", undefined]] },
      { name: "x-foo", params: [["a", "10"], ["b", undefined]] },
    ]);
    assert.deepEqual(parseExtensions(""), []);
    for (const bad of ["a;", "a; =b", 'a; b="c d"', "a b", "a; b=", 'a; b="c']) {
      assert.equal(parseExtensions(bad), undefined, bad);
    }
  });

  it("a server takes the first acceptable offer and answers within it", () => {
    const offer = (text: string) => parseExtensions(text) ?? [];
    const table: [string, string | undefined][] = [
      ["permessage-deflate", "permessage-deflate"],
      ["permessage-deflate; client_max_window_bits", "permessage-deflate"],
      [
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      ],
      ["permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"],
      // 8 cannot be honoured (zlib): that offer is declined, the next one taken.
      ["permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate"],
      ["permessage-deflate; server_max_window_bits=16", undefined],
      ["permessage-deflate; server_max_window_bits", undefined],
      ["permessage-deflate; client_max_window_bits=7", undefined],
      ["permessage-deflate; server_no_context_takeover=1", undefined],
      ["permessage-deflate; client_no_context_takeover; client_no_context_takeover", undefined],
      ["permessage-deflate; x=1", undefined],
      ["x-webkit-deflate-frame", undefined],
    ];
    for (const [text, answer] of table) assert.equal(acceptOffer(offer(text), defaults)?.answer, answer, text);
    const ours = checkDeflateOptions({ clientMaxWindowBits: 10, serverNoContextTakeover: true }, "test");
    assert.ok(ours !== undefined);
    assert.equal(
      acceptOffer(offer("permessage-deflate; client_max_window_bits"), ours)?.answer,
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
    );
  });

  it("a client takes an answer within its offer and refuses one outside it", () => {
    const answer = (text: string) => (parseExtensions(text) ?? [])[0] ?? { name: "", params: [] };
    assert.deepEqual(checkAnswer(answer("permessage-deflate; client_max_window_bits=12"), defaults), {
      ...defaults,
      clientMaxWindowBits: 12,
    });
    assert.equal(typeof checkAnswer(answer("permessage-deflate; client_max_window_bits"), defaults), "string");
    assert.equal(typeof checkAnswer(answer("permessage-deflate; client_max_window_bits=8"), defaults), "string");
    assert.equal(typeof checkAnswer(answer("permessage-deflate; foo"), defaults), "string");
    const asking = checkDeflateOptions({ serverMaxWindowBits: 10, serverNoContextTakeover: true }, "test");
    assert.ok(asking !== undefined);
    assert.equal(typeof checkAnswer(answer("permessage-deflate; server_no_context_takeover"), asking), "string");
    assert.equal(
      typeof checkAnswer(answer("permessage-deflate; server_no_context_takeover; server_max_window_bits=11"), asking),
      "string",
    );
  });
});

describe("websocket: messages (server side, raw client frames split anywhere over 64-byte blocks)", () => {
  it("echoes text and binary messages at every length edge, headers and payloads split at random points", async () => {
    const { peer, closed } = echoServer();
    await open(peer);
    await withSeed(testSeed(), async (random) => {
      const sizes = [0, 1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 124, 125, 126, 127, 128, 1000, 4095, 4096, 4097];
      sizes.push(65535, 65536, 65537, random.int(70000, 300000));
      for (const size of sizes) {
        for (const type of [TEXT, BINARY]) {
          const payload = type === TEXT ? encoder.encode(textOfBytes(size)) : random.bytes(size);
          // The 16-bit and 64-bit length forms where the payload allows them (the RFC asks
          // senders for the shortest; receivers take any).
          const form = size < 65536 && random.chance(0.2) ? (size < 126 ? 16 : 64) : undefined;
          await sendInPieces(peer, encodeFrame(type, payload, form === undefined ? {} : { lengthForm: form }), random);
          const [frame] = await peer.frames(1);
          assert.ok(frame !== undefined);
          assert.equal(frame.opcode, type, `size ${size}`);
          assert.equal(frame.fin, true);
          assert.equal(frame.masked, false, "a server never masks");
          assert.deepEqual(frame.payload, payload, `size ${size}, ${type === TEXT ? "text" : "binary"}`);
        }
      }
    });
    await peer.send(encodeFrame(CLOSE, closePayload(1000, "done")));
    const close = await peer.closeFrame();
    assert.deepEqual([close.code, close.reason], [1000, "done"], "the close is answered with its code and reason");
    assert.deepEqual(await closed, { code: 1000, reason: "done", wasClean: true });
    await peer.endOf();
  });
});

describe("websocket: many messages in one read", () => {
  it("messages that arrive together are all answered without waiting for more bytes", async () => {
    const { peer } = echoServer();
    await open(peer);
    await withSeed(testSeed(), async (random) => {
      for (let round = 0; round < 20; round++) {
        const count = random.int(2, 80);
        const payloads = Array.from(
          { length: count },
          () => random.bytes(random.chance(0.9) ? random.int(0, 40) : random.int(100, 5000)),
        );
        // One write: every frame is there before the server reads.
        await peer.send(concat(payloads.map((payload) => encodeFrame(BINARY, payload))));
        const frames = await peer.frames(count, 5000);
        assert.deepEqual(frames.map((f) => f.payload), payloads, `round ${round}: ${count} messages`);
      }
    });
    peer.end();
  });
});

describe("websocket: flushing and backpressure", () => {
  it("a reply sent while handling a message goes out even when the handler then waits without receiving", async () => {
    const { client, serving } = await pair({}, {}, async (socket) => {
      const message = await socket.receive();
      await socket.send(`re: ${message?.text()}`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // no receive() meanwhile
      for await (const _ of socket);
    });
    await client.send("hello");
    const started = Date.now();
    assert.equal((await client.receive())?.text(), "re: hello");
    assert.ok(Date.now() - started < 250, "the reply came before the handler's wait ended");
    await client.close();
    await serving;
  });

  it("a send that waits on the peer first lets a peer paused on our input go on (no deadlock)", async () => {
    // Small thresholds: the client's burst pauses it on the server's input, and each 100 KB
    // reply waits for the client to read, which it does only once its burst is written.
    const pool = new MemoryPool({ blockSize: 256 });
    const up = new Channel({ pool, pauseWriterThreshold: 2048 });
    const down = new Channel({ pool, pauseWriterThreshold: 2048 });
    const { serveHttp } = await import("../src/http1/mod.ts");
    const big = new Uint8Array(100_000).fill(1);
    const serving = serveHttp({ input: up.reader, output: down.writer }, async (request, response) => {
      const socket = await acceptWebSocket(request, response);
      for await (const _ of socket) await socket.send(big);
    });
    const client = await connectWebSocket({ input: down.reader, output: up.writer }, "ws://a/");
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) sends.push(client.send(new Uint8Array(1000)));
    await Promise.all(sends);
    for (let i = 0; i < 20; i++) assert.equal((await client.receive())?.data.length, 100_000);
    await client.close();
    await serving;
  });
});

describe("websocket: fragments and control frames", () => {
  it("a message in 1,000 fragments, with pings and pongs between them, comes back whole; each ping is answered with its payload", async () => {
    const { peer } = echoServer();
    await open(peer);
    await withSeed(testSeed(), async (random) => {
      for (const type of [TEXT, BINARY]) {
        const payload = type === TEXT ? encoder.encode(textOfBytes(30000)) : random.bytes(30000);
        const pieces: Uint8Array[] = [];
        const pings: Uint8Array[] = [];
        for (let i = 0; i < 1000; i++) {
          // Fragments cut text anywhere, inside a character too.
          const part = payload.subarray(i * 30, i * 30 + 30);
          pieces.push(encodeFrame(i === 0 ? type : 0, part, { fin: i === 999 }));
          if (i % 100 === 50) {
            const ping = random.bytes(random.int(0, 125));
            pings.push(ping);
            pieces.push(encodeFrame(PING, ping));
          }
          if (i % 100 === 70) pieces.push(encodeFrame(PONG, random.bytes(3))); // unsolicited: ignored
        }
        await sendInPieces(peer, concat(pieces), random);
        const frames = await peer.frames(pings.length + 1);
        const pongs = frames.filter((f) => f.opcode === PONG);
        assert.deepEqual(pongs.map((f) => f.payload), pings, "each ping answered with its payload, in order");
        const echo = frames.find((f) => f.opcode === type);
        assert.ok(echo !== undefined);
        assert.deepEqual(echo.payload, payload);
      }
    });
    peer.end();
  });

  it("ping() resolves when its pong comes; a pong answers the pings before it too", async () => {
    let socket: WebSocket | undefined;
    const server = memoryServer(async (req, res) => {
      socket = await acceptWebSocket(req, res);
      for await (const _ of socket);
    });
    await open(server.peer);
    assert.ok(socket !== undefined);
    const first = socket.ping("one");
    const second = socket.ping(new Uint8Array([2]));
    let settled = 0;
    void first.then(() => settled++);
    void second.then(() => settled++);
    const frames = await server.peer.frames(2);
    assert.deepEqual(frames.map((f) => [f.opcode, [...f.payload]]), [[PING, [...encoder.encode("one")]], [PING, [2]]]);
    await server.peer.send(encodeFrame(PONG, new Uint8Array([9])));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, 0, "a pong that matches no ping settles none");
    await server.peer.send(encodeFrame(PONG, new Uint8Array([2])));
    await Promise.all([first, second]);
    assert.equal(settled, 2);
    await assert.rejects(socket.ping(new Uint8Array(126)), RangeError);
    const third = socket.ping();
    await server.peer.send(encodeFrame(CLOSE, closePayload(1001)));
    await assert.rejects(third, { name: "ChannelStateError", code: "WEBSOCKET_CLOSED" });
    await server.serving;
  });
});

/** Sends `bytes` after the handshake; expects the server to answer with a close frame of `code` and end. */
async function expectFailure(
  bytes: Uint8Array,
  code: number,
  options: AcceptWebSocketOptions = {},
): Promise<WebSocketCloseInfo> {
  const { peer, closed } = echoServer(options);
  await open(peer);
  await peer.send(bytes);
  const close = await peer.closeFrame();
  assert.equal(close.code, code, `close frame code (reason: ${close.reason})`);
  await peer.endOf();
  const info = await closed;
  assert.equal(info.code, code);
  assert.equal(info.wasClean, false);
  assert.ok(info.error instanceof Error);
  return info;
}

describe("websocket: protocol errors fail the connection with their close code", () => {
  const text = (s: string) => encoder.encode(s);
  const cases: [string, () => Uint8Array, number][] = [
    ["an unmasked client frame", () => encodeFrame(TEXT, text("hi"), { mask: null }), 1002],
    ...[3, 4, 5, 6, 7, 11, 12, 13, 14, 15].map((op): [string, () => Uint8Array, number] => [
      `reserved opcode ${op}`,
      () => encodeFrame(op, text("x")),
      1002,
    ]),
    ["RSV1 without an extension", () => encodeFrame(TEXT, text("x"), { rsv: 0x40 }), 1002],
    ["RSV2", () => encodeFrame(TEXT, text("x"), { rsv: 0x20 }), 1002],
    ["RSV3", () => encodeFrame(BINARY, text("x"), { rsv: 0x10 }), 1002],
    ["a fragmented ping", () => encodeFrame(PING, text("x"), { fin: false }), 1002],
    ["a ping of 126 bytes", () => encodeFrame(PING, new Uint8Array(126)), 1002],
    ["a close of 126 bytes", () => encodeFrame(CLOSE, new Uint8Array(126)), 1002],
    ["a continuation with no message started", () => encodeFrame(0, text("x")), 1002],
    [
      "a new message before the last one ended",
      () => concat([encodeFrame(TEXT, text("a"), { fin: false }), encodeFrame(BINARY, text("b"))]),
      1002,
    ],
    [
      "a 64-bit length with its top bit set",
      () => encodeFrame(BINARY, new Uint8Array(0), { lengthForm: 64, declaredLength: 2 ** 63 }),
      1002,
    ],
    ["a 1-byte close payload", () => encodeFrame(CLOSE, new Uint8Array([3])), 1002],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535].map((
      code,
    ): [string, () => Uint8Array, number] => [
      `close code ${code}`,
      () => encodeFrame(CLOSE, closePayload(code)),
      1002,
    ]),
    [
      "a close reason that is not UTF-8",
      () => encodeFrame(CLOSE, concat([closePayload(1000), new Uint8Array([0xc0, 0x80])])),
      1007,
    ],
    ["text that is not UTF-8", () => encodeFrame(TEXT, new Uint8Array([0x61, 0xff, 0x62])), 1007],
    ["a surrogate in text", () => encodeFrame(TEXT, new Uint8Array([0xed, 0xa0, 0x80])), 1007],
    ["text that ends inside a character", () => encodeFrame(TEXT, new Uint8Array([0x61, 0xe2, 0x82])), 1007],
    [
      "text that ends inside a character across fragments",
      () => concat([encodeFrame(TEXT, new Uint8Array([0xe2]), { fin: false }), encodeFrame(0, new Uint8Array([0x82]))]),
      1007,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    it(`${name}: ${code}`, async () => {
      await expectFailure(bytes(), code);
    });
  }

  it("bad text fails fast: 1007 once the bad bytes arrive, before the message's last fragment", async () => {
    await expectFailure(encodeFrame(TEXT, new Uint8Array([0x61, 0xc0, 0xaf]), { fin: false }), 1007);
    // Inside one long frame, before its end arrives.
    const frame = encodeFrame(TEXT, concat([new Uint8Array([0xff]), new Uint8Array(100000)]));
    await expectFailure(frame.subarray(0, 1000), 1007);
  });

  it("valid close codes are answered with the same code and reason", async () => {
    for (
      const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
    ) {
      const { peer, closed } = echoServer();
      await open(peer);
      await peer.send(encodeFrame(CLOSE, closePayload(code, "r\u00e9ason")));
      const close = await peer.closeFrame();
      assert.deepEqual([close.code, close.reason], [code, "r\u00e9ason"]);
      assert.deepEqual(await closed, { code, reason: "r\u00e9ason", wasClean: true });
    }
    const { peer, closed } = echoServer();
    await open(peer);
    await peer.send(encodeFrame(CLOSE, new Uint8Array(0)));
    const [frame] = await peer.frames(1);
    assert.ok(frame !== undefined && frame.opcode === CLOSE);
    assert.equal(frame.payload.length, 0, "a close without a code is answered without one");
    assert.deepEqual(await closed, { code: 1005, reason: "", wasClean: true });
  });
});

describe("websocket: limits, checked on the frame header before the payload is buffered", () => {
  it("a frame longer than maxMessageBytes is refused with 1009 from its header alone", async () => {
    const header = encodeFrame(BINARY, new Uint8Array(0), { declaredLength: 1001 });
    await expectFailure(header, 1009, { maxMessageBytes: 1000 });
    const huge = encodeFrame(BINARY, new Uint8Array(0), { lengthForm: 64, declaredLength: 2 ** 53 + 10 });
    const info = await expectFailure(huge, 1009);
    assert.ok(info.error instanceof RangeError);
  });

  it("a message exactly maxMessageBytes long is taken; fragments that add up to more are refused", async () => {
    const { peer } = echoServer({ maxMessageBytes: 1000 });
    await open(peer);
    await peer.send(encodeFrame(BINARY, new Uint8Array(1000)));
    const [frame] = await peer.frames(1);
    assert.equal(frame?.payload.length, 1000);
    await peer.send(encodeFrame(BINARY, new Uint8Array(600), { fin: false }));
    await peer.send(encodeFrame(0, new Uint8Array(0), { fin: false, declaredLength: 401 }));
    const close = await peer.closeFrame();
    assert.equal(close.code, 1009);
  });

  it("a message in more frames than maxFragments is refused with 1009", async () => {
    const frames = [encodeFrame(BINARY, new Uint8Array(1), { fin: false })];
    for (let i = 0; i < 10; i++) frames.push(encodeFrame(0, new Uint8Array(1), { fin: false }));
    await expectFailure(concat(frames), 1009, { maxFragments: 10 });
  });

  it("a connection that ends without a close frame (even inside a frame) closes with 1006", async () => {
    for (const tail of [new Uint8Array(0), encodeFrame(BINARY, new Uint8Array(500)).subarray(0, 100)]) {
      const { peer, closed } = echoServer();
      await open(peer);
      if (tail.length > 0) await peer.send(tail);
      peer.end();
      const info = await closed;
      assert.equal(info.code, 1006);
      assert.equal(info.wasClean, false);
    }
  });

  it("the pool gets every block back once the connection is over", async () => {
    const pool = new MemoryPool({ blockSize: 64 });
    const { peer, serving } = echoServer({}, pool);
    await open(peer);
    const payload = new Uint8Array(5000).fill(7);
    await peer.send(concat([encodeFrame(BINARY, payload, { fin: false }), encodeFrame(0, payload)]));
    await peer.frames(1);
    await peer.send(encodeFrame(CLOSE, closePayload(1000)));
    await peer.closeFrame();
    await serving;
    await peer.endOf();
    peer.end();
    assert.equal(pool.stats().rentedBlocks, 0);
  });
});

/** Our client and our server over in-memory channels (small blocks). */
async function pair(
  serverOptions: AcceptWebSocketOptions,
  clientOptions: ConnectWebSocketOptions,
  serve: (socket: WebSocket) => Promise<void> = echo,
): Promise<{ client: WebSocket; serving: Promise<void>; server: Promise<WebSocket> }> {
  const pool = new MemoryPool({ blockSize: 256 });
  const up = new Channel({ pool });
  const down = new Channel({ pool });
  let resolveServer: (socket: WebSocket) => void = () => {};
  const server = new Promise<WebSocket>((resolve) => (resolveServer = resolve));
  const { serveHttp } = await import("../src/http1/mod.ts");
  const serving = serveHttp({ input: up.reader, output: down.writer }, async (request, response) => {
    const socket = await acceptWebSocket(request, response, serverOptions);
    resolveServer(socket);
    await serve(socket);
  });
  const client = await connectWebSocket(
    { input: down.reader, output: up.writer },
    "ws://example.com/path?q=1",
    clientOptions,
  );
  return { client, serving, server };
}

async function echo(socket: WebSocket): Promise<void> {
  for await (const message of socket) await socket.send(message.data, { binary: message.type === "binary" });
}

describe("websocket: our client and our server", () => {
  for (
    const [name, deflate] of [
      ["without compression", undefined],
      ["with permessage-deflate", {}],
      ["with permessage-deflate on every message (empty ones one after another too)", { threshold: 0 }],
      ["with permessage-deflate, no context takeover either way, small windows", {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 10,
        threshold: 0,
      }],
    ] as const
  ) {
    it(`echo ${name}: text and binary, one frame and fragmented, masked by the client`, async () => {
      const options = deflate === undefined ? {} : { perMessageDeflate: deflate };
      const { client, serving } = await pair(options, options);
      if (deflate === undefined) assert.equal(client.extensions, "");
      else assert.match(client.extensions, /^permessage-deflate/);
      await withSeed(testSeed(), async (random) => {
        for (const size of [0, 0, 1, 125, 126, 1023, 1024, 5000, 65535, 65536, 200000]) {
          const text = textOfBytes(size);
          await client.send(text, random.chance(0.3) ? { fragmentBytes: random.int(1, 4000) } : {});
          const reply = await client.receive();
          assert.equal(reply?.type, "text");
          assert.equal(reply?.text(), text, `text, ${size} bytes`);
          // Compressible and not.
          const bytes = random.chance(0.5) ? random.bytes(size) : new Uint8Array(size).fill(size & 0xff);
          await client.send(bytes, random.chance(0.3) ? { fragmentBytes: random.int(1, 4000) } : {});
          const binary = await client.receive();
          assert.equal(binary?.type, "binary");
          assert.deepEqual(binary?.bytes(), bytes, `binary, ${size} bytes`);
        }
      });
      assert.deepEqual(await client.close(4001, "bye"), { code: 4001, reason: "bye", wasClean: true });
      await serving;
    });
  }

  it("a client refuses a server frame that is masked (1002) and an answer with RSV1 when nothing was agreed", async () => {
    for (
      const [frame, code] of [[encodeFrame(TEXT, encoder.encode("hi")), 1002], [
        encodeFrame(TEXT, encoder.encode("hi"), { mask: null, rsv: 0x40 }),
        1002,
      ]] as const
    ) {
      const up = new Channel();
      const down = new Channel();
      const opening = connectWebSocket({ input: down.reader, output: up.writer }, "ws://a/");
      const { buffer } = await up.reader.read();
      const request = new TextDecoder().decode(buffer.toUint8Array());
      up.reader.advanceTo(buffer.length);
      const key = /Sec-WebSocket-Key: (\S+)/.exec(request)?.[1] ?? "";
      await down.writer.writeUtf8(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptValue(
          key,
        )}\r\n\r\n`,
      );
      await down.writer.write(frame);
      const client = await opening;
      assert.equal(await client.receive(), null);
      const info = await client.closed;
      assert.equal(info.code, code);
      assert.equal(info.wasClean, false);
      const sent = await up.reader.read();
      const [close] = decodeFrames(sent.buffer.toUint8Array()).frames;
      assert.ok(close !== undefined && close.masked, "the client's close frame is masked");
      assert.equal(closeOf(close).code, code);
    }
  });

  it("send() and ping() after the close began reject with WEBSOCKET_CLOSED; close() with a bad code or reason is a RangeError", async () => {
    const { client, serving } = await pair({}, {});
    await assert.rejects(client.close(1005), RangeError);
    await assert.rejects(client.close(1000, "x".repeat(124)), RangeError);
    const closing = client.close();
    assert.equal(client.readyState, "closing");
    await assert.rejects(
      client.send("late"),
      (error: unknown) => error instanceof ChannelStateError && error.code === "WEBSOCKET_CLOSED",
    );
    await assert.rejects(client.ping(), { code: "WEBSOCKET_CLOSED" });
    assert.equal((await closing).wasClean, true);
    assert.equal(client.readyState, "closed");
    assert.equal(await client.receive(), null);
    await serving;
  });

  it("close() ends the connection after closeTimeoutMs when the peer never answers (1006)", async () => {
    const { client, serving } = await pair({}, { closeTimeoutMs: 100 }, async (socket) => {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // reads nothing meanwhile
      socket.abort();
    });
    const started = Date.now();
    const info = await client.close();
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    assert.match(String(info.error?.message), /did not answer the close within 100 ms/);
    assert.ok(Date.now() - started < 900);
    await serving;
  });

  it("the client checks the server's answer: status, accept value, subprotocol and extensions", async () => {
    const answers: [string, RegExp][] = [
      ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", /101 Switching Protocols: received "HTTP\/1.1 200 OK"/],
      [
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
        /Sec-WebSocket-Accept/,
      ],
      ["HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", /Upgrade: websocket/],
      ["garbage\r\n\r\n", /status line/],
    ];
    for (const [answer, pattern] of answers) {
      const up = new Channel();
      const down = new Channel();
      const opening = connectWebSocket({ input: down.reader, output: up.writer }, "ws://a/");
      await up.reader.read();
      await down.writer.writeUtf8(answer);
      await assert.rejects(opening, (error: unknown) => error instanceof TypeError && pattern.test(error.message));
    }
    await assert.rejects(
      connectWebSocket({ input: new Channel().reader, output: new Channel().writer }, "ftp://a/"),
      TypeError,
    );
    await assert.rejects(
      connectWebSocket({ input: new Channel().reader, output: new Channel().writer }, "ws://a/#x"),
      TypeError,
    );
  });
});
