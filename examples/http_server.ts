/**
 * An HTTP/1.1 server written with `./http1` on the runtime's TCP adapter: request heads are
 * parsed where they arrive in pool memory and responses are formatted straight into it.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /plaintext` | `Hello, World!` (text/plain) |
 * | `POST /echo` | the request body (with its length when it came with one, else chunked) |
 * | `POST /sha256` | the SHA-256 of the request body, in hex (each body view hashed where it lies) |
 * | `GET /bytes/N` | N bytes of `x`, chunked, written into the output's memory |
 *
 * Run:   `deno run -A examples/http_server.ts --port 8080` (or `bun examples/http_server.ts --port 8080`;
 *        Node: bundle first, `npx esbuild examples/http_server.ts --bundle --platform=node --format=esm --outfile=http_server.mjs`).
 * Try:   `curl http://127.0.0.1:8080/plaintext`, `curl -T big.bin http://127.0.0.1:8080/sha256`.
 * Check: `deno run -A examples/http_server.ts --self-test` (prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { WritableChannel } from "../mod.ts";
import { type HttpRequest, type HttpResponse, serveHttp } from "../src/http1/mod.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

// Uploads to /echo and /sha256 stream through; they may be larger than serveHttp's default.
const MAX_BODY_BYTES = 16 * 1024 * 1024 * 1024;
const X = 0x78;

/**
 * Serves one request.
 * @param request The request.
 * @param response Its response.
 * @returns A promise for routes that read the body.
 */
function handle(request: HttpRequest, response: HttpResponse): void | Promise<void> {
  const path = request.path;
  if (path === "/plaintext" && (request.method === "GET" || request.method === "HEAD")) {
    response.setHeader("Content-Type", "text/plain");
    return response.end("Hello, World!");
  }
  if (path === "/echo" && request.method === "POST") return echo(request, response);
  if (path === "/sha256" && (request.method === "POST" || request.method === "PUT")) return sha256(request, response);
  if (path.startsWith("/bytes/") && request.method === "GET") {
    const count = Number(path.slice("/bytes/".length));
    if (Number.isSafeInteger(count) && count >= 0) return bytes(response, count);
  }
  response.status = 404;
  response.setHeader("Content-Type", "text/plain");
  response.end("Not Found\n");
}

/** The body back, as it comes: each read's views copied into the output, one flush per read. */
async function echo(request: HttpRequest, response: HttpResponse): Promise<void> {
  const length = request.headers.get("content-length");
  if (length !== undefined) response.setHeader("Content-Length", length);
  const contentType = request.headers.get("content-type");
  if (contentType !== undefined) response.setHeader("Content-Type", contentType);
  const out = response.stream();
  const body = request.body;
  for (;;) {
    const { buffer, isCompleted } = await body.read();
    for (const view of buffer) copy(out, view);
    body.advanceTo(buffer.length); // the views die here: they were copied into the output first
    const { isCompleted: gone } = await out.flush(); // waits while the client lags (backpressure)
    if (isCompleted || gone) break;
  }
  out.complete();
}

/** Copies `view` into the body writer's memory. */
function copy(out: WritableChannel, view: Uint8Array): void {
  for (let at = 0; at < view.length;) {
    const memory = out.getMemory(view.length - at);
    const n = Math.min(memory.length, view.length - at);
    memory.set(view.subarray(at, at + n));
    out.advance(n);
    at += n;
  }
}

/** The SHA-256 of the body: each view hashed where it lies, before advanceTo gives it back. */
async function sha256(request: HttpRequest, response: HttpResponse): Promise<void> {
  const hash = createHash("sha256");
  const body = request.body;
  for (;;) {
    const { buffer, isCompleted } = await body.read();
    for (const view of buffer) hash.update(view);
    body.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  response.setHeader("Content-Type", "text/plain");
  response.end(`${hash.digest("hex")}\n`);
}

/** `count` bytes of "x", chunked: each span of the output's memory filled in place. */
async function bytes(response: HttpResponse, count: number): Promise<void> {
  response.setHeader("Content-Type", "application/octet-stream");
  const out = response.stream();
  for (let left = count; left > 0;) {
    const memory = out.getMemory(Math.min(left, 65536));
    const n = Math.min(memory.length, left);
    memory.fill(X, 0, n);
    out.advance(n);
    left -= n;
    const { isCompleted } = await out.flush();
    if (isCompleted) break;
  }
  out.complete();
}

const args = parseArgs(8080);

if (args.selfTest) {
  await runSelfTest(async () => {
    await using listener = await adapter.listen(
      { hostname: "127.0.0.1", port: 0 },
      (connection) => serveHttp(connection, handle, { maxBodyBytes: MAX_BODY_BYTES }),
    );
    const base = `http://127.0.0.1:${listener.addr.port}`;
    const plain = await fetch(`${base}/plaintext`);
    assert.equal(plain.headers.get("content-type"), "text/plain");
    assert.equal(await plain.text(), "Hello, World!");
    const data = new Uint8Array(1024 * 1024 + 3);
    for (let at = 0; at < data.length; at += 65536) {
      crypto.getRandomValues(data.subarray(at, Math.min(data.length, at + 65536)));
    }
    const echoed = new Uint8Array(await (await fetch(`${base}/echo`, { method: "POST", body: data })).arrayBuffer());
    assert.deepEqual(echoed, data);
    const digest = await (await fetch(`${base}/sha256`, { method: "POST", body: data })).text();
    assert.equal(digest, `${createHash("sha256").update(data).digest("hex")}\n`);
    const xs = await (await fetch(`${base}/bytes/100000`)).text();
    assert.equal(xs, "x".repeat(100000));
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
  });
} else {
  const listener = await adapter.listen(
    { hostname: "127.0.0.1", port: args.port },
    (connection) => serveHttp(connection, handle, { maxBodyBytes: MAX_BODY_BYTES }),
  );
  console.log(`listening on ${listener.addr.hostname}:${listener.addr.port}`);
}
