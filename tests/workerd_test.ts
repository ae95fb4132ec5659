// Cloudflare Workers, locally: the build (dist/) runs in workerd, which refuses to compile
// WebAssembly from bytes. One worker imports the precompiled dist/codecs.wasm as a Wasm module
// (as `import module from "@channels/channels/codecs.wasm"` does under Wrangler) and passes it
// to setWasmModule; the other does not, and the codecs fall back to the runtime's own base64
// and search (or TypeScript where it has none). Both decode a
// base64 upload through pipeThrough and split it into lines with readFrames + delimited.
// Node only, after `npm run build`.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { childEnv, NODE_ONLY, ROOT } from "./_packaging.ts";

// The request handler both workers share: base64 body in, its lines out (as JSON).
const HANDLER = `
import { base64Decoder, delimited, fromRequest, pipeThrough, readFrames, Utf8Decoder, wasmModuleBytes } from "./mod.js";
// Internals, to tell which implementation ran.
import { kernelVariant } from "./src/_wasm/kernels.js";
import { pathFor } from "./src/_wasm/paths.js";

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
        search: pathFor("memchr", 1),
        base64: pathFor("base64Decode", 1 << 20),
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
      `(name = "handler.mjs", esModule = embed "handler.mjs")`,
      ...files.map((path) => `(name = "${path}", esModule = embed "lib/${path}")`),
      ...(wasm ? [`(name = "codecs.wasm", wasm = embed "lib/codecs.wasm")`] : []),
    ].join(",\n    ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "injected", worker = .injected), (name = "fallback", worker = .fallback)],
  sockets = [
    (name = "injected", address = "127.0.0.1:0", http = (), service = "injected"),
    (name = "fallback", address = "127.0.0.1:0", http = (), service = "fallback"),
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
      if (found.injected !== undefined && found.fallback !== undefined) {
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
  base64: string;
}

/** `count` lines of mixed ASCII and multi-byte UTF-8, and their base64 wrapped at 76 like MIME. */
function upload(count: number): { lines: string[]; body: string } {
  const lines = Array.from({ length: count }, (_, i) => `line ${i} ` + "é€😀".repeat(i % 9));
  const body = Buffer.from(lines.join("\n") + "\n").toString("base64").replace(/.{76}/g, "$&\r\n");
  return { lines, body };
}

describe("the build in workerd (Cloudflare Workers)", { skip: NODE_ONLY, timeout: 60_000 }, () => {
  let dir = "";
  let server: ReturnType<typeof serve> | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "channels-workerd-"));
    const files = libraryFiles();
    for (const path of [...files, "codecs.wasm"]) cpSync(join(ROOT, "dist", path), join(dir, "lib", path));
    writeFileSync(join(dir, "handler.mjs"), HANDLER);
    writeFileSync(join(dir, "injected.mjs"), INJECTED);
    writeFileSync(join(dir, "fallback.mjs"), FALLBACK);
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

  async function post(socket: string, body: string): Promise<Response> {
    const ports = await server!.ports;
    return await fetch(`http://127.0.0.1:${ports[socket]}/`, { method: "POST", body });
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
    assert.equal(result.search, "wasm");
    assert.equal(result.base64, "wasm");
  });

  it("with setWasmModule: a last line without its delimiter answers TruncatedFrameError", async () => {
    const response = await post("injected", btoa("one\ntwo"));
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: "TruncatedFrameError",
      message: "Cannot decode the frame as the stream ended inside it: received 3 trailing bytes",
    });
  });

  it("without setWasmModule: the codecs and the search fall back to native paths or TypeScript, same answer", async () => {
    const { lines, body } = upload(3000);
    const response = await post("fallback", body);
    const result = await response.json() as Result;
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.deepEqual(result.lines, lines);
    assert.match(result.compileFromBytes, /CompileError.*disallowed/);
    assert.equal(result.kernels, "none"); // the compile failed: the fallback took over (with one warning)
    assert.equal(result.search, "native");
    assert.match(result.base64, /^(native|typescript)$/);
  });
});
