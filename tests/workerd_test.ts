// Cloudflare Workers, locally: the build (dist/) runs in workerd, which refuses to compile
// WebAssembly from bytes. One worker imports the precompiled dist/codecs.wasm as a Wasm module
// (as `import module from "@channels/channels/codecs.wasm"` does under Wrangler) and passes it
// to setWasmModule; the other does not, and the codecs fall back to TypeScript. Both decode a
// base64 upload through pipeThrough and split it into lines with readFrames + delimited.
// Node only, after `npm run build`.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateRawSync,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
  inflateSync,
} from "node:zlib";
import { after, before, describe, it } from "node:test";
import { childEnv, NODE_ONLY, ROOT } from "./_packaging.ts";
import { hasNpmPackage, missingTool, named } from "./_tools.ts";
import { concat } from "./_util.ts";

// The request handler both workers share: base64 body in, its lines out (as JSON).
const HANDLER = `
import { base64Decoder, delimited, fromRequest, pipeThrough, readFrames, Utf8Decoder, wasmModuleBytes } from "./mod.js";
// Internals, to tell which implementation ran.
import { kernelVariant } from "./src/_wasm/kernels.js";
import { searchStrategy } from "./src/_search.js";

export default {
  async fetch(request) {
    try {
      const decoded = pipeThrough(fromRequest(request), base64Decoder({ skipWhitespace: true }));
      const text = new Utf8Decoder({ fatal: true });
      const lines = [];
      for await (const line of readFrames(decoded, delimited())) lines.push(text.decode(line));
      return Response.json({
        lines,
        compileFromBytes: compileFromBytes(),
        kernels: kernelVariant() ?? "none",
        search: searchStrategy(),
      });
    } catch (error) {
      return Response.json({ error: error.name, message: error.message }, { status: 400 });
    }
  },
};

function compileFromBytes() {
  try {
    new WebAssembly.Module(wasmModuleBytes());
    return "allowed";
  } catch (error) {
    return String(error);
  }
}
`;

const INJECTED = `
import module from "./codecs.wasm";
import { setWasmModule } from "./mod.js";
import handler from "./handler.mjs";

setWasmModule(module);
export default handler;
`;

const FALLBACK = `export { default } from "./handler.mjs";\n`;

// Compression in workerd: ?op=compress|decompress|backend&format=…[&max=N][&sync] on the
// request body (written into a channel in 64 KiB pieces); answers the output (header x-backend: the path taken) or the error as JSON
// with the pool's peak. Run twice: without nodejs_compat (only CompressionStream) and with it
// (node:zlib through process.getBuiltinModule).
const COMPRESS = `
import { Channel, compressor, decompressor, MemoryPool, pipeThrough } from "./mod.js";
import { compressionBackend } from "./src/compression.js";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const format = url.searchParams.get("format");
    const op = url.searchParams.get("op");
    let peak = 0;
    try {
      if (op === "backend") return Response.json({ backend: compressionBackend(format) ?? null });
      const max = url.searchParams.get("max");
      const transform = op === "compress"
        ? compressor({ format, ...(url.searchParams.has("sync") ? { syncFlush: true } : {}) })
        : decompressor({ format, ...(max === null ? {} : { maxOutputBytes: Number(max) }) });
      // The body is read first: a worker that answers before the upload ends gets its
      // connection reset under the client (an early error, a bomb stopped at once).
      const input = new Uint8Array(await request.arrayBuffer());
      const source = new Channel();
      const reader = pipeThrough(source.reader, transform);
      void (async () => {
        for (let at = 0; at < input.length; at += 65536) await source.writer.write(input.subarray(at, at + 65536));
        source.writer.complete();
      })().catch(() => {});
      const parts = [];
      for (;;) {
        const { buffer, isCompleted } = await reader.read();
        parts.push(buffer.toUint8Array());
        reader.advanceTo(buffer.length);
        peak = Math.max(peak, MemoryPool.shared.stats().reservedBytes);
        if (isCompleted) break;
      }
      reader.complete();
      return new Response(new Blob(parts), { headers: { "x-backend": compressionBackend(format) } });
    } catch (error) {
      return Response.json({ error: error.name, message: error.message, peak }, { status: 400 });
    }
  },
};
`;

/** The sockets of the config below, one per worker. */
const SOCKETS = ["injected", "fallback", "compress", "compressNode"] as const;

/**
 * The .js files of the build, as paths relative to dist/: tests, the bundle and the Deno, Bun
 * and Node adapters left out.
 */
function libraryFiles(dir = "", out: string[] = []): string[] {
  for (const entry of readdirSync(join(ROOT, "dist", dir), { withFileTypes: true })) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory() && path !== "tests" && path !== "src/adapters") libraryFiles(path, out);
    if (entry.isFile() && path.endsWith(".js") && !path.endsWith(".bundle.js")) out.push(path);
  }
  return out;
}

function config(files: string[]): string {
  const worker = (main: string, wasm: boolean) =>
    [
      `(name = "worker.mjs", esModule = embed "${main}")`,
      ...(main === "compress.mjs" ? [] : [`(name = "handler.mjs", esModule = embed "handler.mjs")`]),
      ...files.map((path) => `(name = "${path}", esModule = embed "lib/${path}")`),
      ...(wasm ? [`(name = "codecs.wasm", wasm = embed "lib/codecs.wasm")`] : []),
    ].join(",\n    ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [${SOCKETS.map((name) => `(name = "${name}", worker = .${name})`).join(", ")}],
  sockets = [
    ${
    SOCKETS.map((name) => `(name = "${name}", address = "127.0.0.1:0", http = (), service = "${name}")`).join(",\n    ")
  },
  ],
);

const injected :Workerd.Worker = (
  modules = [
    ${worker("injected.mjs", true)}
  ],
  compatibilityDate = "2025-09-01",
);

const fallback :Workerd.Worker = (
  modules = [
    ${worker("fallback.mjs", false)}
  ],
  compatibilityDate = "2025-09-01",
);

const compress :Workerd.Worker = (
  modules = [
    ${worker("compress.mjs", false)}
  ],
  compatibilityDate = "2025-09-01",
);

const compressNode :Workerd.Worker = (
  modules = [
    ${worker("compress.mjs", false)}
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
);
`;
}

/**
 * Starts workerd on `configPath` and resolves with the port of each socket, read from the
 * control pipe (`--control-fd`: one JSON line per listening socket; port 0 above lets the OS
 * choose free ports).
 */
function serve(configPath: string, cwd: string): { child: ChildProcess; ports: Promise<Record<string, number>> } {
  // The binary that node_modules/.bin/workerd runs (the package's main exports its path): run
  // directly, it is the process we stop.
  const binary = (createRequire(join(ROOT, "package.json"))("workerd") as { default: string }).default;
  const child = spawn(binary, ["serve", configPath, "--control-fd=3"], {
    cwd,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (chunk) => (log += chunk));
  child.stderr?.on("data", (chunk) => (log += chunk));
  const ports = new Promise<Record<string, number>>((resolve, reject) => {
    const found: Record<string, number> = {};
    let control = "";
    const timer = setTimeout(() => reject(new Error(`workerd did not listen within 20 s:\n${log}`)), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited with ${code}:\n${log}`));
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (chunk) => {
      control += chunk;
      for (const line of control.split("\n").slice(0, -1)) {
        const event = JSON.parse(line) as { event: string; socket: string; port: number };
        if (event.event === "listen") found[event.socket] = event.port;
      }
      if (SOCKETS.every((name) => found[name] !== undefined)) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
  ports.catch(() => {}); // awaited by the tests; a rejection before that is not unhandled
  return { child, ports };
}

interface Result {
  lines: string[];
  compileFromBytes: string;
  kernels: string;
  search: string;
}

/** `count` lines of mixed ASCII and multi-byte UTF-8, and their base64 wrapped at 76 like MIME. */
function upload(count: number): { lines: string[]; body: string } {
  const lines = Array.from({ length: count }, (_, i) => `line ${i} ` + "é€😀".repeat(i % 9));
  const body = Buffer.from(lines.join("\n") + "\n").toString("base64").replace(/.{76}/g, "$&\r\n");
  return { lines, body };
}

// Node only, and workerd comes from npm.
const skip: string | false = NODE_ONLY || (hasNpmPackage("workerd") ? false : missingTool("workerd"));

describe(named("the build in workerd (Cloudflare Workers)", skip), { skip, timeout: 180_000 }, () => {
  let dir = "";
  let server: ReturnType<typeof serve> | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "channels-workerd-"));
    const files = libraryFiles();
    for (const path of [...files, "codecs.wasm"]) cpSync(join(ROOT, "dist", path), join(dir, "lib", path));
    writeFileSync(join(dir, "handler.mjs"), HANDLER);
    writeFileSync(join(dir, "injected.mjs"), INJECTED);
    writeFileSync(join(dir, "fallback.mjs"), FALLBACK);
    writeFileSync(join(dir, "compress.mjs"), COMPRESS);
    writeFileSync(join(dir, "config.capnp"), config(files));
    server = serve("config.capnp", dir);
  });

  after(async () => {
    const child = server?.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  async function post(socket: string, body: string | Uint8Array<ArrayBuffer>, query = ""): Promise<Response> {
    const ports = await server!.ports;
    return await fetch(`http://127.0.0.1:${ports[socket]}/${query}`, { method: "POST", body });
  }

  /** Runs one compression request; the output bytes, or the error the worker answered. */
  async function codec(socket: string, query: string, body: Uint8Array) {
    // fetch takes an ArrayBuffer-backed array: Buffers from node:zlib may share a pool's.
    body = new Uint8Array(body);
    const response = await post(socket, body as Uint8Array<ArrayBuffer>, query);
    if (response.status === 200) {
      return { output: new Uint8Array(await response.arrayBuffer()), backend: response.headers.get("x-backend") };
    }
    const error = await response.json() as { error: string; message: string; peak: number };
    assert.equal(response.status, 400, JSON.stringify(error));
    return { error };
  }

  it("with setWasmModule(codecs.wasm): decodes and frames a 3000-line upload", async () => {
    const { lines, body } = upload(3000);
    const response = await post("injected", body);
    const result = await response.json() as Result;
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.deepEqual(result.lines, lines);
    // The host really refuses bytes: the kernels ran thanks to the injected module.
    assert.match(result.compileFromBytes, /CompileError.*disallowed/);
    assert.equal(result.kernels, "injected");
    assert.equal(result.search, "auto");
  });

  it("with setWasmModule: a last line without its delimiter answers TruncatedFrameError", async () => {
    const response = await post("injected", btoa("one\ntwo"));
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: "TruncatedFrameError",
      message: "Cannot decode the frame as the stream ended inside it: received 3 trailing bytes",
    });
  });

  it("without setWasmModule: the codecs and the search fall back to TypeScript, same answer", async () => {
    const { lines, body } = upload(3000);
    const response = await post("fallback", body);
    const result = await response.json() as Result;
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.deepEqual(result.lines, lines);
    assert.match(result.compileFromBytes, /CompileError.*disallowed/);
    assert.equal(result.kernels, "none"); // the compile failed: the fallback took over (with one warning)
    assert.equal(result.search, "native");
  });
  const text = new TextEncoder().encode(
    Array.from({ length: 10_000 }, (_, i) => `{"line":${i},"v":"${i * i}"}`).join("\n"),
  );
  // A gzip of 256 MiB of zeros (about 260 kB), made once.
  let bomb: Uint8Array | undefined;
  const SYNC = {
    "gzip": [gzipSync, gunzipSync],
    "deflate": [deflateSync, inflateSync],
    "deflate-raw": [deflateRawSync, inflateRawSync],
    "brotli": [brotliCompressSync, brotliDecompressSync],
  } as const;

  for (const [socket, path] of [["compress", "CompressionStream"], ["compressNode", "node:zlib"]] as const) {
    const formats = socket === "compress"
      ? ["gzip", "deflate", "deflate-raw"] as const
      : Object.keys(SYNC) as (keyof typeof SYNC)[];
    const flags = socket === "compress" ? "without nodejs_compat" : "with nodejs_compat";

    it(`compression ${flags}: ${formats.join(", ")} on ${path}, checked by node:zlib both ways`, async () => {
      for (const format of formats) {
        const [compress, decompress] = SYNC[format];
        const packed = await codec(socket, `?op=compress&format=${format}`, text);
        assert.equal(packed.backend, path, `${format}: ${JSON.stringify(packed.error)}`);
        assert.deepEqual(new Uint8Array(decompress(packed.output!)), text);
        const unpacked = await codec(socket, `?op=decompress&format=${format}`, compress(text));
        assert.deepEqual(unpacked.output, text, `${format}: ${JSON.stringify(unpacked.error)}`);
      }
    });

    it(`compression ${flags}: corrupt, truncated and trailing input are TypeErrors; a bomb stops at maxOutputBytes`, async () => {
      const good = gzipSync(text);
      const corrupt = good.slice();
      corrupt[good.length >> 1] = corrupt[good.length >> 1]! ^ 0x55;
      for (
        const [what, input] of [
          ["corrupt", corrupt],
          ["truncated", good.subarray(0, good.length - 5)],
          ["trailing", concat([good, new Uint8Array([1, 2, 3])])],
        ] as const
      ) {
        const { error } = await codec(socket, "?op=decompress&format=gzip", input);
        assert.equal(error?.error, "TypeError", `${what}: ${JSON.stringify(error)}`);
        assert.match(error!.message, /^Cannot decompress the gzip stream as /);
      }
      // Stopped at 20 MB with the pool at one slab.
      bomb ??= gzipSync(new Uint8Array(2 ** 28), { level: 9 });
      const { error } = await codec(socket, "?op=decompress&format=gzip&max=20000000", bomb);
      assert.equal(error?.error, "RangeError", JSON.stringify(error));
      assert.match(error!.message, /output must be at most 20000000 bytes \(maxOutputBytes\)/);
      assert.ok(error!.peak <= 5 * 2 ** 20, `the pool peaked at ${error!.peak} bytes`);
    });
  }

  it("compression without nodejs_compat: brotli, zstd and syncFlush are TypeErrors naming Cloudflare Workers", async () => {
    for (const query of ["?op=compress&format=brotli", "?op=decompress&format=zstd", "?op=compress&format=gzip&sync"]) {
      const { error } = await codec("compress", query, text);
      assert.equal(error?.error, "TypeError", query);
      assert.match(error!.message, /Cloudflare Workers/);
    }
    // workerd's DecompressionStream rejects gzip members after the first (pinned).
    const members = concat([gzipSync("one "), gzipSync("two")]);
    assert.equal((await codec("compress", "?op=decompress&format=gzip", members)).error?.error, "TypeError");
  });

  it("compression with nodejs_compat: gzip members are all decoded, zstd runs, and syncFlush is there", async () => {
    const members = concat([gzipSync("one "), gzipSync("two")]);
    assert.equal(
      new TextDecoder().decode((await codec("compressNode", "?op=decompress&format=gzip", members)).output),
      "one two",
    );
    const zstd = await codec("compressNode", "?op=compress&format=zstd", text);
    assert.equal(zstd.backend, "node:zlib", JSON.stringify(zstd.error));
    assert.deepEqual((await codec("compressNode", "?op=decompress&format=zstd", zstd.output!)).output, text);
    const flushed = await codec("compressNode", "?op=compress&format=deflate-raw&sync", text);
    assert.deepEqual(new Uint8Array(inflateRawSync(flushed.output!)), text);
  });
});
