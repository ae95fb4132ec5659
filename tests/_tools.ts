// Where the tests find the tools that come from npm (`npm install` puts them in node_modules/):
// a clone with only Deno, or only Bun, has none of them, and the tests that need one skip with
// a one-line reason instead of failing. CI runs `npm install-test`, so there they all run.
// Not a test file (no _test suffix).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest directory above this file with a deno.json (tests/ on Deno
 * and Bun, dist/tests/ under Node).
 */
export const ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the repository root above ${import.meta.url}`);
    dir = parent;
  }
  return dir;
})();

/** True on Deno (Bun's Node compatibility does not define `Deno`). */
export const onDeno: boolean = "Deno" in globalThis && process.versions.bun === undefined;

/** The path of `node_modules/.bin/<name>`, or undefined when npm did not install it. */
export function npmBin(name: string): string | undefined {
  const path = join(ROOT, "node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);
  return existsSync(path) ? path : undefined;
}

/** True when the npm package `name` is installed in node_modules/. */
export function hasNpmPackage(name: string): boolean {
  return existsSync(join(ROOT, "node_modules", name, "package.json"));
}

/** Why a test that needs an npm tool skips: one line, saying how to get it. */
export function missingTool(tool: string): string {
  return `needs ${tool} from npm (\`npm install\` puts it in node_modules/)`;
}

/**
 * The deno executable: this one on Deno, else node_modules/.bin/deno (npm's `deno` package);
 * undefined when there is none.
 */
export function denoBinary(): string | undefined {
  return onDeno ? process.execPath : npmBin("deno");
}

/**
 * A test's name with the reason it skips appended, when it does: Deno and Bun print a skipped
 * test's name but not its reason, and "ignored" alone does not tell a newcomer what to do.
 */
export function named(name: string, skip: string | false): string {
  return skip === false ? name : `${name} (skipped: ${skip})`;
}
