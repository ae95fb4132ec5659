// The npm package as a user gets it: `npm pack` of the build, installed offline into a fresh
// project, imported by a plain .mjs under Node (no TypeScript anywhere); and the single-file
// bundle (`npm run bundle`). Node only, after `npm run build` and `npm run bundle`.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { childEnv, NODE_ONLY, ROOT, run } from "./_packaging.ts";
import { named } from "./_tools.ts";

type Exports = Record<string, string | { types: string; default: string }>;

// What a user writes: imports by package name, the kernels found through the package's
// `./codecs.wasm` export and injected, then bytes through a channel, a codec and a framer.
const SMOKE = `
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  base64Decoder, Channel, delimited, pipeThrough, readFrames, setWasmModule, Utf8Decoder,
} from "@channels/channels";

const wasmPath = createRequire(import.meta.url).resolve("@channels/channels/codecs.wasm");
assert.equal(fileURLToPath(import.meta.resolve("@channels/channels/codecs.wasm")), wasmPath);
setWasmModule(new WebAssembly.Module(readFileSync(wasmPath)));

const { reader, writer } = new Channel();
await writer.write(new Uint8Array([1, 2, 3]));
await writer.writeUtf8("été");
writer.complete();
const { buffer, isCompleted } = await reader.read();
assert.ok(isCompleted);
assert.deepEqual([...buffer.toUint8Array()], [1, 2, 3, 0xc3, 0xa9, 0x74, 0xc3, 0xa9]);
reader.advanceTo(buffer.length);
reader.complete();

const lines = Array.from({ length: 500 }, (_, i) => "line " + i + " " + "é€😀".repeat(i % 7));
const upload = new Channel();
const decoded = pipeThrough(upload.reader, base64Decoder({ skipWhitespace: true }));
const encoded = Buffer.from(lines.join("\\n") + "\\n").toString("base64").replace(/.{76}/g, "$&\\r\\n");
const producer = (async () => {
  for (let at = 0; at < encoded.length; at += 1000) await upload.writer.writeUtf8(encoded.slice(at, at + 1000));
  upload.writer.complete();
})();
const text = new Utf8Decoder({ fatal: true });
const received = [];
for await (const line of readFrames(decoded, delimited())) received.push(text.decode(line));
await producer;
assert.deepEqual(received, lines);

for (const subpath of process.argv.slice(2)) await import("@channels/channels/" + subpath);
console.log("smoke ok", received.length, "lines");
`;

describe(named("the npm package", NODE_ONLY), { skip: NODE_ONLY }, () => {
  let dir = "";
  let tarball = "";
  let files: string[] = [];
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Exports };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "channels-pack-"));
    // --ignore-scripts: no prepack rebuild (it would clean dist/, which this test runs from).
    const packed = JSON.parse(
      run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], { cwd: ROOT }),
    ) as [{ filename: string; files: { path: string }[] }];
    tarball = join(dir, packed[0].filename);
    files = packed[0].files.map((f) => f.path);
  });

  after(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("holds the build, the kernels as .wasm files, README.md and LICENSE, and no tests", () => {
    for (const file of ["package.json", "README.md", "LICENSE", "dist/mod.js", "dist/mod.d.ts"]) {
      assert.ok(files.includes(file), `${file} in the tarball`);
    }
    assert.ok(files.includes("dist/codecs.wasm") && files.includes("dist/codecs_scalar.wasm"));
    assert.deepEqual(files.filter((f) => f.startsWith("dist/tests/") || f.endsWith(".bundle.js")), []);
    assert.deepEqual(
      files.filter((f) => !/^(dist\/.*\.(js|d\.ts|wasm)|package\.json|README\.md|LICENSE)$/.test(f)),
      [],
    );
  });

  it("has every export's files, once its source exists (the adapters land separately)", () => {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      const targets = typeof target === "string" ? [target] : [target.default, target.types];
      const source = targets[0]!.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts");
      if (!source.endsWith(".ts") || existsSync(join(ROOT, source))) {
        for (const path of targets) assert.ok(files.includes(path.slice(2)), `${subpath}: ${path} in the tarball`);
      }
    }
  });

  it("installs offline into a new project and runs from a plain .mjs under node", () => {
    const project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "smoke", private: true, type: "module" }));
    writeFileSync(join(project, "smoke.mjs"), SMOKE);
    // No runtime dependencies: nothing to fetch. A dead registry makes any attempt fail.
    run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], {
      cwd: project,
      env: childEnv({ npm_config_registry: "http://127.0.0.1:9/" }),
    });
    assert.ok(existsSync(join(project, "node_modules/@channels/channels/dist/codecs.wasm")));
    // The runtime adapters that exist by now are imported too (Node's; Deno's and Bun's need their runtime).
    const adapters = ["node"].filter((name) => existsSync(join(ROOT, `src/adapters/${name}.ts`)));
    const output = run("node", ["smoke.mjs", ...adapters], { cwd: project });
    assert.match(output, /smoke ok 500 lines/);
  });
});

describe(named("the single-file bundle (npm run bundle)", NODE_ONLY), { skip: NODE_ONLY }, () => {
  it("runs a channel and a base64 round trip under node", async () => {
    const url = pathToFileURL(join(ROOT, "dist/channels.bundle.js")).href;
    const lib = await import(url) as typeof import("../mod.ts");
    const upload = new lib.Channel();
    const decoded = lib.pipeThrough(upload.reader, lib.base64Decoder());
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
    await upload.writer.writeUtf8(Buffer.from(bytes).toString("base64"));
    upload.writer.complete();
    const parts: Uint8Array[] = [];
    for (;;) {
      const { buffer, isCompleted } = await decoded.read();
      parts.push(buffer.toUint8Array());
      decoded.advanceTo(buffer.length);
      if (isCompleted) break;
    }
    decoded.complete();
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), bytes);
  });
});
