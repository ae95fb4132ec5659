// ./http1 against clients nobody here wrote, over real TCP on the runtime's own adapter:
// every malformed and smuggling case of the conformance table sent raw on a socket (answered
// with its status, then the server closes, and the next connection is served), pipelining, the
// runtime's fetch (keep-alive, bodies with a length, streamed chunked uploads, big transfers),
// and curl (Debian) against examples/http_server.ts run as a child process: keep-alive, a
// chunked upload from a file, -T with Expect: 100-continue, --http1.0, a chunked download.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Connection, Listener } from "../mod.ts";
import { type HttpHandler, serveHttp } from "../src/http1/mod.ts";
import { bytesOf, decoder, field, parseResponses, rawRequest, textOf } from "./_http1_client.ts";
import { BIG_MIB } from "./_tcp_cases.ts";
import { type ExampleProcess, startExample } from "./_example_process.ts";
import { adapter, runtime } from "./_runtime_adapter.ts";

const CURL = "/usr/bin/curl";
const MiB = 1024 * 1024;

// ---- an in-process server on the runtime's adapter ----

async function readAll(request: Parameters<HttpHandler>[0]): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await request.body.read();
    if (buffer.length > 0) parts.push(buffer.toUint8Array());
    request.body.advanceTo(buffer.length);
    if (isCompleted) return parts;
  }
}

const handler: HttpHandler = async (request, response) => {
  if (request.path === "/plaintext") {
    response.setHeader("Content-Type", "text/plain");
    return response.end("Hello, World!");
  }
  if (request.path === "/sha256") {
    const hash = createHash("sha256");
    let total = 0;
    for (;;) {
      const { buffer, isCompleted } = await request.body.read();
      for (const view of buffer) hash.update(view);
      total += buffer.length;
      request.body.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    return response.end(`${hash.digest("hex")} ${total}`);
  }
  if (request.path.startsWith("/bytes/")) {
    const out = response.stream();
    for (let left = Number(request.path.slice(7)); left > 0;) {
      const memory = out.getMemory(Math.min(left, 65536));
      const n = Math.min(left, memory.length);
      memory.fill(0x78, 0, n);
      out.advance(n);
      left -= n;
      await out.flush();
    }
    return out.complete();
  }
  const parts = await readAll(request);
  response.end(`${request.method} ${request.target} ${parts.reduce((n, p) => n + p.length, 0)}`);
};

describe(`http1 over TCP (${runtime} adapter)`, () => {
  let listener: Listener;
  let port = 0;
  const connections = new Set<Connection>();
  before(async () => {
    listener = await adapter.listen({ port: 0 }, (connection) => {
      connections.add(connection);
      return serveHttp(connection, handler, { maxBodyBytes: 1 << 30, maxHeadBytes: 1024, maxHeaderCount: 20 }).finally(
        () => connections.delete(connection),
      );
    });
    port = listener.addr.port;
  });
  after(async () => {
    await listener.close();
    await Promise.all([...connections].map((connection) => connection.close()));
  });

  const SMUGGLING = [
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    "GET / HTTP/1.1\nHost: a\n\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    `GET / HTTP/1.1\r\nHost: a\r\nX: ${"v".repeat(2000)}\r\n\r\n`,
    `GET / HTTP/1.1\r\nHost: a\r\n${"A: b\r\n".repeat(21)}\r\n`,
    "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
  ];
  const STATUSES = [400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 431, 431, 505];

  it("answers every malformed and smuggling request with its status and a close, then serves the next connection", async () => {
    for (let i = 0; i < SMUGGLING.length; i++) {
      const request = SMUGGLING[i] as string;
      const { data, closedByServer } = await rawRequest(port, bytesOf(request));
      const { responses } = parseResponses(data);
      assert.equal(responses.length, 1, `${JSON.stringify(request)} → ${JSON.stringify(textOf(data))}`);
      assert.equal(responses[0]!.status, STATUSES[i], JSON.stringify(request));
      assert.equal(field(responses[0]!, "connection"), "close");
      assert.ok(closedByServer, `the server closes after ${JSON.stringify(request)}`);
      const next = await rawRequest(port, bytesOf("GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
      const [ok] = parseResponses(next.data).responses;
      assert.equal(decoder.decode(ok!.body), "Hello, World!");
    }
  });

  it("answers 200 pipelined requests from one write in order", async () => {
    let bytes = "";
    for (let i = 0; i < 200; i++) {
      bytes += i % 3 === 0
        ? `POST /p${i} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc`
        : i % 3 === 1
        ? `POST /p${i} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n`
        : `GET /p${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
    }
    bytes += "GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const { data, closedByServer } = await rawRequest(port, bytesOf(bytes));
    const { responses } = parseResponses(data);
    assert.equal(responses.length, 201);
    responses.slice(0, 200).forEach((r, i) => {
      const expected = i % 3 === 0 ? `POST /p${i} 3` : i % 3 === 1 ? `POST /p${i} 2` : `GET /p${i} 0`;
      assert.equal(decoder.decode(r.body), expected);
    });
    assert.ok(closedByServer);
  });

  it("serves the runtime's fetch: keep-alive, bodies with a length, streamed chunked uploads", async () => {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 20; i++) assert.equal(await (await fetch(`${base}/plaintext`)).text(), "Hello, World!");
    const body = new Uint8Array(300_000).map((_, i) => i * 7);
    const expected = `${createHash("sha256").update(body).digest("hex")} ${body.length}`;
    assert.equal(await (await fetch(`${base}/sha256`, { method: "POST", body })).text(), expected);
    // A streamed request body goes chunked.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < body.length; at += 10_000) controller.enqueue(body.slice(at, at + 10_000));
        controller.close();
      },
    });
    const init = { method: "POST", body: stream, duplex: "half" } as RequestInit;
    assert.equal(await (await fetch(`${base}/sha256`, init)).text(), expected);
    const head = await fetch(`${base}/plaintext`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "13");
    assert.equal(await head.text(), "");
  });

  it(`moves ${BIG_MIB} MiB up and down with fetch`, async () => {
    const base = `http://127.0.0.1:${port}`;
    const size = BIG_MIB * MiB;
    const down = await fetch(`${base}/bytes/${size}`);
    let received = 0;
    const reader = down.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value.length;
    }
    assert.equal(received, size);
    const chunk = new Uint8Array(MiB).fill(0x61);
    const hash = createHash("sha256");
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === size) return controller.close();
        hash.update(chunk);
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const reply = await (await fetch(`${base}/sha256`, { method: "PUT", body: upload, duplex: "half" } as RequestInit))
      .text();
    assert.equal(reply, `${hash.digest("hex")} ${size}`);
  });
});

// ---- curl against the example ----

const curlSkip: string | false = existsSync(CURL) ? false : `${CURL} is not installed (apt-get install curl)`;

/** curl's stdout (as text); a failure carries its stderr. */
function curl(args: string[]): { stdout: string } {
  const all = ["--silent", "--show-error", "--max-time", "60", ...args];
  try {
    return {
      stdout: execFileSync(CURL, all, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 }),
    };
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`curl ${all.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`, { cause: error });
  }
}

describe(`curl against examples/http_server.ts (${runtime})`, { skip: curlSkip }, () => {
  let example: ExampleProcess;
  let dir: string;
  let base = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "http1-curl-"));
    example = await startExample("http_server.ts", dir);
    base = `http://127.0.0.1:${example.port}`;
  });
  after(async () => {
    await example?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the connection alive across requests", { skip: curlSkip }, () => {
    const { stdout } = curl([
      "-w",
      " %{num_connects}\\n",
      `${base}/plaintext`,
      `${base}/plaintext`,
      `${base}/plaintext`,
    ]);
    assert.equal(stdout, "Hello, World! 1\nHello, World! 0\nHello, World! 0\n");
  });

  it("takes a chunked upload from a file", { skip: curlSkip }, () => {
    const data = new Uint8Array(3 * MiB + 5).map((_, i) => (i * 31) & 0xff);
    const file = join(dir, "upload.bin");
    writeFileSync(file, data);
    const { stdout } = curl(["-H", "Transfer-Encoding: chunked", "--data-binary", `@${file}`, `${base}/sha256`]);
    assert.equal(stdout, `${createHash("sha256").update(data).digest("hex")}\n`);
    const echoed = execFileSync(CURL, [
      "--silent",
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      `@${file}`,
      `${base}/echo`,
    ], {
      maxBuffer: 1 << 28,
    });
    assert.equal(createHash("sha256").update(echoed).digest("hex"), createHash("sha256").update(data).digest("hex"));
  });

  it("answers -T with Expect: 100-continue by 100 Continue, then the hash", { skip: curlSkip }, () => {
    const data = new Uint8Array(2 * MiB).map((_, i) => (i * 13) & 0xff);
    const file = join(dir, "put.bin");
    writeFileSync(file, data);
    const out = execFileSync(CURL, [
      "--silent",
      "--show-error",
      "-v",
      "-H",
      "Expect: 100-continue",
      "-T",
      file,
      `${base}/sha256`,
    ], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 28,
    });
    assert.equal(out, `${createHash("sha256").update(data).digest("hex")}\n`);
    const verbose = spawnVerbose(["-H", "Expect: 100-continue", "-T", file, `${base}/sha256`]);
    assert.match(verbose, /> Expect: 100-continue/);
    assert.match(verbose, /< HTTP\/1\.1 100 Continue/);
    assert.match(verbose, /< HTTP\/1\.1 200 OK/);
  });

  it("serves --http1.0 clients (no keep-alive unless asked, bodies with a length)", { skip: curlSkip }, () => {
    const verbose = spawnVerbose(["--http1.0", `${base}/plaintext`]);
    assert.match(verbose, /> GET \/plaintext HTTP\/1\.0/);
    assert.match(verbose, /< Connection: close/);
    assert.match(verbose, /Hello, World!/);
    const { stdout } = curl(["--http1.0", "--data-binary", "abc", `${base}/echo`]);
    assert.equal(stdout, "abc");
  });

  it("downloads /bytes/N chunked", { skip: curlSkip }, () => {
    const verbose = spawnVerbose([`${base}/bytes/100000`]);
    assert.match(verbose, /< Transfer-Encoding: chunked/);
    const body = execFileSync(CURL, ["--silent", `${base}/bytes/1000000`], { maxBuffer: 1 << 28 });
    assert.equal(body.length, 1_000_000);
    assert.ok(body.every((b: number) => b === 0x78));
  });
});

/** curl -v: what it printed on stdout and stderr (the exchange), together. */
function spawnVerbose(args: string[]): string {
  const all = ["--silent", "--show-error", "-v", "--max-time", "60", ...args];
  return execFileSync("/bin/sh", ["-c", '"$0" "$@" 2>&1', CURL, ...all], { encoding: "utf8", maxBuffer: 1 << 28 });
}
