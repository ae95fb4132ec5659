// The library as its users compile it: the sources must type-check under a consumer's settings,
// not only under this repository's strict ones. A Deno app with a bare deno.json (no
// compilerOptions) imports mod.ts and every entry point of deno.json's "exports" and runs
// `deno check`; a tsc project with `strict` on and `noUncheckedIndexedAccess` off, then on
// (the rest at tsc's defaults: no exactOptionalPropertyTypes, no isolatedDeclarations) imports
// the same sources with allowImportingTsExtensions. And `deno doc`, what a user reads first,
// shows every signature as it is called: a parameter with a default is optional.
//
// Deno runs all of it with its own binary; Bun and Node use node_modules/.bin/deno and
// node_modules/.bin/tsc, and say why they skip when npm did not install them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { childEnv } from "./_packaging.ts";
import { denoBinary, missingTool, named, npmBin, ROOT } from "./_tools.ts";

const deno = denoBinary();
const tsc = npmBin("tsc");
const skipDeno: string | false = deno === undefined ? missingTool("the deno binary") : false;
const skipTsc: string | false = tsc === undefined ? missingTool("TypeScript (tsc)") : false;

/** deno.json's "exports": the entry points a user imports, as paths from the root. */
function entryPoints(): [string, string][] {
  const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { exports: Record<string, string> };
  return Object.entries(config.exports);
}

/**
 * An app that imports every entry point by absolute path (both deno and tsc take one) and
 * uses a little of the core.
 */
function app(): string {
  const imports = entryPoints().map(([, path], i) => `import * as entry${i} from ${JSON.stringify(join(ROOT, path))};`);
  return `${imports.join("\n")}
import { Channel, MemoryPool, readLines } from ${JSON.stringify(join(ROOT, "mod.ts"))};

const pool = new MemoryPool();
const { reader, writer } = new Channel({ pool });
await writer.writeUtf8("a\\nb\\n");
writer.complete();
for await (const lines of readLines(reader)) console.log(lines.length);
console.log(${entryPoints().map((_, i) => `Object.keys(entry${i}).length`).join(" + ")});
`;
}

/** Runs a command; a failure shows its whole output (the type errors). */
function check(command: string, args: string[], cwd: string): void {
  try {
    execFileSync(command, args, { cwd, env: childEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`);
  }
}

describe("a consumer's type-check", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "channels-consumer-"));
  });
  after(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it(named("deno check passes for an app with a bare deno.json importing every entry point", skipDeno), {
    skip: skipDeno,
    timeout: 120_000,
  }, () => {
    const project = join(dir, "deno-app");
    mkdirSync(project);
    writeFileSync(join(project, "deno.json"), "{}\n");
    writeFileSync(join(project, "main.ts"), app());
    check(deno as string, ["check", "--quiet", "main.ts"], project);
  });

  for (const noUncheckedIndexedAccess of [false, true]) {
    const name = `tsc passes with strict on and noUncheckedIndexedAccess ${noUncheckedIndexedAccess ? "on" : "off"}`;
    it(named(name, skipTsc), { skip: skipTsc, timeout: 120_000 }, () => {
      const project = join(dir, `tsc-app-${noUncheckedIndexedAccess}`);
      mkdirSync(project);
      writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module", private: true }));
      writeFileSync(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "es2022",
            module: "nodenext",
            lib: ["es2024", "dom"],
            strict: true,
            noUncheckedIndexedAccess,
            noEmit: true,
            allowImportingTsExtensions: true,
            skipLibCheck: true,
            // The runtime types the entry points are written against, from this repository's install.
            typeRoots: [join(ROOT, "node_modules", "@types")],
            types: ["node", "bun", "deno"],
          },
          files: ["main.ts"],
        }),
      );
      writeFileSync(join(project, "main.ts"), app());
      check(tsc as string, ["-p", "tsconfig.json"], project);
    });
  }
});

describe("deno doc", () => {
  it(named("shows every parameter that has a default as optional, and no raw line break in a type", skipDeno), {
    skip: skipDeno,
    timeout: 120_000,
  }, () => {
    const json = execFileSync(deno as string, ["doc", "--json", ...entryPoints().map(([, path]) => path)], {
      cwd: ROOT,
      env: childEnv({ NO_COLOR: "1" }),
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    });
    // deno doc prints a parameter with an initializer (`options: T = {}`) as required
    // (`options: T`): such parameters must be declared `options?: T`.
    const defaulted: string[] = [];
    const rawBreaks: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        for (const item of node) walk(item, path);
        return;
      }
      if (node === null || typeof node !== "object") return;
      const record = node as Record<string, unknown>;
      const here = typeof record.name === "string" ? `${path}/${record.name}` : path;
      const left = record.left as { name?: string } | undefined;
      if (record.kind === "assign" && left !== undefined) defaulted.push(`${here} (${left.name ?? "?"})`);
      if (record.kind === "literal" && typeof record.repr === "string" && /[\r\n]/.test(record.repr)) {
        rawBreaks.push(here);
      }
      for (const value of Object.values(record)) walk(value, here);
    };
    walk(JSON.parse(json), "");
    assert.deepEqual([...new Set(defaulted)], [], "parameters with a default that deno doc shows as required");
    assert.deepEqual([...new Set(rawBreaks)], [], "types deno doc prints with a raw line break");
  });
});
