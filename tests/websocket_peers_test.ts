// ./websocket against peers nobody here wrote, over real TCP on the runtime's own adapter:
// Debian's python3-websockets 10.4 as client and as server (with and without
// permessage-deflate), the runtime's own WebSocket client on Deno and Bun, `ws` from npm on
// Node (client and server); text and binary echoes from 0 B to 16 MiB across the length
// edges, 1,000-fragment messages, pings, close codes. Then raw sockets (node:net) send every
// protocol error and check the close code, and that the server still serves a fresh connection.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Connection, Listener } from "../mod.ts";
import { serveHttp } from "../src/http1/mod.ts";
import {
  acceptWebSocket,
  connectWebSocket,
  type ConnectWebSocketOptions,
  isWebSocketRequest,
  type WebSocket as ChannelsWebSocket,
  type WebSocketCloseInfo,
} from "../src/websocket/mod.ts";
import {
  closePayload,
  encodeFrame,
  encoder,
  handshakeRequest,
  PY_CLIENT,
  PY_SERVER,
  PYTHON,
  type RawPeer,
  runPython,
  tcpPeer,
} from "./_websocket_reference.ts";
import { concat } from "./_util.ts";
import { startExample } from "./_example_process.ts";
import { adapter, runtime } from "./_runtime_adapter.ts";

const g = globalThis as { WebSocket?: unknown };

const MiB = 1024 * 1024;
const hasPython = spawnSync(PYTHON, ["-c", "import websockets"], { stdio: "ignore" }).status === 0;
const noPython: string | false = hasPython
  ? false
  : `${PYTHON} with websockets is not installed (apt-get install python3-websockets)`;
// Every length edge, up to 16 MiB (the default maxMessageBytes).
const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, MiB, 16 * MiB];

/** Text of exactly `n` UTF-8 bytes, as the Python scripts make it. */
function textOfBytes(n: number): string {
  return "a\u00e9\u20ac".repeat(Math.floor(n / 6)) + "a".repeat(n % 6);
}

/** Bytes as the Python scripts make them. */
function bytesOfSize(n: number): Uint8Array<ArrayBuffer> {
  const pattern = new Uint8Array(256);
  for (let i = 0; i < 256; i++) pattern[i] = (i * 7 + n) & 0xff;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 256) out.set(pattern.subarray(0, Math.min(256, n - i)), i);
  return out;
}

// ---- our server on the runtime's adapter: /echo, /deflate (permessage-deflate on) ----

const closes: WebSocketCloseInfo[] = [];
let listener: Listener;
let port = 0;
const connections = new Set<Connection>();

before(async () => {
  listener = await adapter.listen({ port: 0 }, (connection) => {
    connections.add(connection);
    return serveHttp(connection, async (request, response) => {
      if (!isWebSocketRequest(request)) {
        response.status = 404;
        return response.end();
      }
      const socket = await acceptWebSocket(request, response, {
        perMessageDeflate: request.path === "/deflate" ? { threshold: 0 } : false,
      });
      for await (const message of socket) {
        await socket.send(message.data, { binary: message.type === "binary" });
      }
      closes.push(await socket.closed);
    }, { onError: () => {} }).finally(() => connections.delete(connection));
  });
  port = listener.addr.port;
});

after(async () => {
  await listener.close();
  for (const connection of connections) connection.abort();
});

describe(`websocket: Python websockets 10.4 as the client (${runtime} server)`, { skip: noPython }, () => {
  for (const route of ["/echo", "/deflate"]) {
    it(
      `${route}: echoes text and binary from 0 B to 16 MiB, 1,000-fragment messages, a ping, and a close with its code`,
      {
        skip: noPython,
        timeout: 240_000,
      },
      async () => {
        const steps: unknown[] = [];
        for (const size of SIZES) for (const text of [true, false]) steps.push({ kind: "echo", size, text });
        steps.push({ kind: "echo", size: 100_000, text: true, fragments: 1000 });
        steps.push({ kind: "echo", size: 100_000, text: false, fragments: 1000 });
        steps.push({ kind: "ping", data: "are you there" });
        steps.push({ kind: "close", code: 4001, reason: "bye" });
        const count = closes.length;
        const result = await runPython(PY_CLIENT, [
          `ws://127.0.0.1:${port}${route}`,
          JSON.stringify({ compression: "deflate" }),
          JSON.stringify(steps),
        ]);
        assert.equal(result.code, 0, result.stderr);
        const lines = result.lines.map((line) => JSON.parse(line));
        const extensions = lines[0].extensions as string | null;
        if (route === "/deflate") assert.match(String(extensions), /^permessage-deflate/);
        else assert.equal(extensions, null, "the offer is declined when the server has permessage-deflate off");
        const echoes = lines.filter((line) => line.kind === "echo");
        assert.equal(echoes.length, SIZES.length * 2 + 2);
        for (const echo of echoes) assert.equal(echo.ok, true, JSON.stringify(echo));
        assert.deepEqual(lines.find((line) => line.kind === "ping"), { kind: "ping", ok: true });
        assert.deepEqual(lines.find((line) => line.kind === "close"), { kind: "close", code: 4001, reason: "bye" });
        await waitFor(() => closes.length > count);
        assert.deepEqual(closes[count], { code: 4001, reason: "bye", wasClean: true });
      },
    );
  }
});

async function waitFor(check: () => boolean, timeoutMs: number = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Our client's echo round trips against a server at `url` on `serverPort`. */
async function clientEchoes(
  serverPort: number,
  url: string,
  options: ConnectWebSocketOptions,
): Promise<ChannelsWebSocket> {
  const connection = await adapter.connect({ hostname: "127.0.0.1", port: serverPort });
  const socket = await connectWebSocket(connection, url, options);
  for (const size of SIZES) {
    const text = textOfBytes(size);
    await socket.send(text);
    const reply = await socket.receive();
    assert.equal(reply?.type, "text", `text ${size}`);
    assert.ok(reply?.text() === text, `text of ${size} bytes comes back the same`);
    const bytes = bytesOfSize(size);
    await socket.send(bytes);
    const binary = await socket.receive();
    assert.equal(binary?.type, "binary", `binary ${size}`);
    assert.ok(
      binary !== null && equalBytes(binary.data.toUint8Array(), bytes),
      `binary of ${size} bytes comes back the same`,
    );
  }
  // 1,000 fragments each way (the echo comes back in one frame or many: either way whole).
  const big = bytesOfSize(100_000);
  await socket.send(big, { fragmentBytes: 100 });
  assert.ok(equalBytes((await socket.receive())?.bytes() ?? new Uint8Array(0), big));
  const text = textOfBytes(100_000);
  await socket.send(text, { fragmentBytes: 100 });
  assert.equal((await socket.receive())?.text(), text);
  // A ping, answered while a receive() reads.
  const pong = socket.ping("hello?");
  const reading = socket.receive();
  await pong;
  void reading;
  return socket;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe(`websocket: our client (${runtime}) against Python websockets 10.4 as the server`, { skip: noPython }, () => {
  for (const compression of [null, "deflate"]) {
    it(
      `echoes from 0 B to 16 MiB, 1,000-fragment messages, a ping, a close with its code (compression: ${compression})`,
      {
        skip: noPython,
        timeout: 240_000,
      },
      async () => {
        const child = spawn(PYTHON, ["-c", PY_SERVER, JSON.stringify({ compression })], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
        child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
        try {
          await waitFor(() => /port \d+/.test(stdout), 20_000);
          const serverPort = Number(/port (\d+)/.exec(stdout)?.[1]);
          const socket = await clientEchoes(serverPort, `ws://127.0.0.1:${serverPort}/`, {
            perMessageDeflate: compression === null ? false : { threshold: 0 },
          });
          if (compression === null) assert.equal(socket.extensions, "");
          else assert.match(socket.extensions, /^permessage-deflate/);
          const info = await socket.close(4002, "done");
          assert.deepEqual(info, { code: 4002, reason: "done", wasClean: true });
          await waitFor(() => /closed 4002 "done"/.test(stdout));
        } finally {
          child.kill();
        }
        assert.doesNotMatch(stderr, /Traceback/, stderr);
      },
    );
  }
});

const NativeWebSocket = runtime === "node" ? undefined : (g.WebSocket as typeof WebSocket | undefined);

describe(`websocket: the runtime's own WebSocket client (${runtime})`, {
  skip: NativeWebSocket === undefined && "Node 20 has no WebSocket client: ws covers Node",
}, () => {
  it("echoes text and binary across the length edges, and a close code comes back", { timeout: 120_000 }, async () => {
    const Native = NativeWebSocket as typeof WebSocket;
    for (const route of ["/echo", "/deflate"]) {
      const socket = new Native(`ws://127.0.0.1:${port}${route}`);
      socket.binaryType = "arraybuffer";
      const inbox: unknown[] = [];
      let wake: () => void = () => {};
      socket.onmessage = (event) => {
        inbox.push(event.data);
        wake();
      };
      const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      const next = async (): Promise<unknown> => {
        while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        return inbox.shift();
      };
      for (const size of SIZES) {
        const text = textOfBytes(size);
        socket.send(text);
        assert.ok((await next()) === text, `${route}: text of ${size} bytes`);
        const bytes = bytesOfSize(size);
        socket.send(bytes);
        const reply = await next();
        assert.ok(
          reply instanceof ArrayBuffer && equalBytes(new Uint8Array(reply), bytes),
          `${route}: binary of ${size} bytes`,
        );
      }
      socket.close(4003, "native");
      const event = await closed;
      assert.equal(event.code, 4003);
      assert.equal(event.reason, "native");
    }
  });
});

describe(
  "websocket: ws from npm (Node)",
  { skip: runtime !== "node" && "ws runs on Node here (Bun swaps in its own)" },
  () => {
    it(
      "ws as the client: echoes, 1,000 fragments, a ping, permessage-deflate, a close code",
      { timeout: 240_000 },
      async () => {
        const { WebSocket: Ws } = await import("ws");
        for (const route of ["/echo", "/deflate"]) {
          const socket = new Ws(`ws://127.0.0.1:${port}${route}`, {
            perMessageDeflate: route === "/deflate" ? { threshold: 0 } : false,
            maxPayload: 64 * MiB,
          });
          const inbox: { data: Uint8Array; binary: boolean }[] = [];
          let wake: () => void = () => {};
          socket.on("message", (data: Buffer, binary: boolean) => {
            inbox.push({ data: new Uint8Array(data), binary });
            wake();
          });
          await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
          if (route === "/deflate") assert.match(socket.extensions, /permessage-deflate/);
          const next = async () => {
            while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
            return inbox.shift() as { data: Uint8Array; binary: boolean };
          };
          for (const size of SIZES) {
            const text = textOfBytes(size);
            socket.send(text);
            const a = await next();
            assert.ok(!a.binary && new TextDecoder().decode(a.data) === text, `${route}: text ${size}`);
            const bytes = bytesOfSize(size);
            socket.send(bytes);
            const b = await next();
            assert.ok(b.binary && equalBytes(b.data, bytes), `${route}: binary ${size}`);
          }
          // 1,000 fragments: ws sends them with fin: false.
          const big = bytesOfSize(100_000);
          for (let i = 0; i < 1000; i++) {
            socket.send(big.subarray(i * 100, i * 100 + 100), {
              fin: i === 999,
              binary: true,
            });
          }
          assert.ok(equalBytes((await next()).data, big));
          const pong = new Promise((resolve) => socket.once("pong", resolve));
          socket.ping("x");
          await pong;
          const closed = new Promise<[number, Buffer]>((resolve) =>
            socket.once("close", (code: number, reason: Buffer) => resolve([code, reason]))
          );
          socket.close(4004, "ws");
          const [code, reason] = await closed;
          assert.equal(code, 4004);
          assert.equal(reason.toString(), "ws");
        }
      },
    );

    it("ws as the server: our client's echoes, fragments, a ping, permessage-deflate, a close code", {
      timeout: 240_000,
    }, async () => {
      const { WebSocketServer } = await import("ws");
      for (const deflate of [false, true]) {
        const server = new WebSocketServer({
          port: 0,
          host: "127.0.0.1",
          perMessageDeflate: deflate ? { threshold: 0 } : false,
          maxPayload: 64 * MiB,
        });
        await new Promise((resolve) => server.once("listening", resolve));
        let closedWith: [number, string] | undefined;
        server.on("connection", (socket) => {
          socket.on("message", (data: Buffer, binary: boolean) => socket.send(data, { binary }));
          socket.on("close", (code: number, reason: Buffer) => (closedWith = [code, reason.toString()]));
        });
        const serverPort = (server.address() as { port: number }).port;
        const socket = await clientEchoes(serverPort, `ws://127.0.0.1:${serverPort}/`, {
          perMessageDeflate: deflate ? { threshold: 0 } : false,
        });
        if (deflate) assert.match(socket.extensions, /permessage-deflate/);
        assert.deepEqual(await socket.close(4005, "ours"), { code: 4005, reason: "ours", wasClean: true });
        await waitFor(() => closedWith !== undefined);
        assert.deepEqual(closedWith, [4005, "ours"]);
        await new Promise((resolve) => server.close(resolve));
      }
    });
  },
);

describe(`websocket: protocol errors over raw TCP (${runtime} server)`, () => {
  const text = (s: string) => encoder.encode(s);
  const cases: [string, Uint8Array, number][] = [
    ["an unmasked client frame", encodeFrame(1, text("hi"), { mask: null }), 1002],
    ["a reserved opcode", encodeFrame(3, text("x")), 1002],
    ["a reserved control opcode", encodeFrame(11, text("x")), 1002],
    ["RSV1 without an extension", encodeFrame(1, text("x"), { rsv: 0x40 }), 1002],
    ["RSV2", encodeFrame(2, text("x"), { rsv: 0x20 }), 1002],
    ["RSV3", encodeFrame(2, text("x"), { rsv: 0x10 }), 1002],
    ["a fragmented ping", encodeFrame(9, text("x"), { fin: false }), 1002],
    ["a ping of 126 bytes", encodeFrame(9, new Uint8Array(126)), 1002],
    ["a continuation with no message started", encodeFrame(0, text("x")), 1002],
    [
      "a new message before the last ended",
      concat([encodeFrame(1, text("a"), { fin: false }), encodeFrame(1, text("b"))]),
      1002,
    ],
    ["a 1-byte close payload", encodeFrame(8, new Uint8Array([3])), 1002],
    ["close code 0", encodeFrame(8, closePayload(0)), 1002],
    ["close code 999", encodeFrame(8, closePayload(999)), 1002],
    ["close code 1004", encodeFrame(8, closePayload(1004)), 1002],
    ["close code 1005", encodeFrame(8, closePayload(1005)), 1002],
    ["close code 1006", encodeFrame(8, closePayload(1006)), 1002],
    ["close code 1015", encodeFrame(8, closePayload(1015)), 1002],
    ["close code 1016", encodeFrame(8, closePayload(1016)), 1002],
    ["close code 2999", encodeFrame(8, closePayload(2999)), 1002],
    ["a close of 126 bytes", encodeFrame(8, new Uint8Array(126)), 1002],
    [
      "a message in more frames than maxFragments (65,536)",
      concat([
        encodeFrame(2, new Uint8Array(0), { fin: false }),
        ...Array.from({ length: 65536 }, () => encodeFrame(0, new Uint8Array(0), { fin: false })),
      ]),
      1009,
    ],
    [
      "text that is not UTF-8",
      encodeFrame(
        1,
        new Uint8Array([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80]),
      ),
      1007,
    ],
    [
      "a frame past maxMessageBytes (header only)",
      encodeFrame(2, new Uint8Array(0), { declaredLength: 16 * MiB + 1 }),
      1009,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    it(`${name}: answered with close code ${code}, and the next connection is served`, async () => {
      const peer: RawPeer = await tcpPeer(port);
      await peer.send(handshakeRequest());
      assert.match(await peer.head(), /^HTTP\/1\.1 101 /);
      await peer.send(bytes);
      const close = await peer.closeFrame();
      assert.equal(close.code, code, close.reason);
      await peer.endOf();
      // A fresh connection: handshake and an echo.
      const fresh = await tcpPeer(port);
      await fresh.send(handshakeRequest());
      assert.match(await fresh.head(), /^HTTP\/1\.1 101 /);
      await fresh.send(encodeFrame(1, text("still here")));
      const [echo] = await fresh.frames(1);
      assert.equal(new TextDecoder().decode(echo?.payload), "still here");
      await fresh.send(encodeFrame(8, closePayload(1000)));
      assert.equal((await fresh.closeFrame()).code, 1000);
      await fresh.endOf();
    });
  }
});

describe(`examples/websocket_echo.ts (${runtime}) against Python websockets and the runtime's client`, () => {
  let example: { port: number; stop: () => Promise<void> } | undefined;
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "websocket-example-"));
    example = await startExample("websocket_echo.ts", dir);
  });
  after(async () => {
    await example?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "Python: echoes with their types (compressed: the example takes permessage-deflate), 1,000 fragments, a ping, a close code",
    {
      skip: noPython,
      timeout: 120_000,
    },
    async () => {
      const steps: unknown[] = [];
      for (const size of [0, 125, 126, 65536, MiB]) {
        for (const text of [true, false]) {
          steps.push({ kind: "echo", size, text });
        }
      }
      steps.push({ kind: "echo", size: 50_000, text: false, fragments: 1000 });
      steps.push({ kind: "ping" });
      steps.push({ kind: "close", code: 4321, reason: "example" });
      const result = await runPython(PY_CLIENT, [
        `ws://127.0.0.1:${example?.port}/`,
        JSON.stringify({ compression: "deflate" }),
        JSON.stringify(steps),
      ]);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.lines.map((line) => JSON.parse(line));
      assert.match(String(lines[0].extensions), /^permessage-deflate/);
      for (const echo of lines.filter((line) => line.kind === "echo")) {
        assert.equal(echo.ok, true, JSON.stringify(echo));
      }
      assert.deepEqual(lines.at(-1), { kind: "close", code: 4321, reason: "example" });
    },
  );

  it("the runtime's WebSocket client: a text and a binary echo, and the close code back", {
    skip: NativeWebSocket === undefined && "Node 20 has no WebSocket client",
  }, async () => {
    const Native = NativeWebSocket as typeof WebSocket;
    const socket = new Native(`ws://127.0.0.1:${example?.port}/`);
    socket.binaryType = "arraybuffer";
    const inbox: unknown[] = [];
    const two = new Promise<void>((resolve) => {
      socket.onmessage = (event) => {
        inbox.push(event.data);
        if (inbox.length === 2) resolve();
      };
    });
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    socket.send("h\u00e9llo");
    socket.send(new Uint8Array([1, 2, 3]));
    await two;
    assert.equal(inbox[0], "h\u00e9llo");
    assert.deepEqual(new Uint8Array(inbox[1] as ArrayBuffer), new Uint8Array([1, 2, 3]));
    const closed = new Promise<CloseEvent>((resolve) => (socket.onclose = resolve));
    socket.close(4322, "bye");
    const event = await closed;
    assert.deepEqual([event.code, event.reason, event.wasClean], [4322, "bye", true]);
  });
});
