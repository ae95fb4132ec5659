// Shared helpers for the packaging tests (pack_test.ts, workerd_test.ts): they test what
// `npm run build` wrote to dist/, so they run only under Node, from dist/tests/, started by npm
// at the repository root. Not a test file (no _test suffix).
import { execFileSync } from "node:child_process";

/**
 * Why the packaging tests skip here, or `false` under Node. Deno and Bun run the TypeScript
 * sources, not the build; `npm run test:node` builds, then runs them.
 */
export const NODE_ONLY: string | false = "Deno" in globalThis
  ? "runs under Node only, on the npm build (npm run test:node)"
  : process.versions.bun !== undefined
  ? "runs under Node only, on the npm build (npm run test:node)"
  : false;

/** The repository root: npm runs scripts there, so `node --test` starts there too. */
export const ROOT: string = process.cwd();

/**
 * The environment for tools started by a test: npm's `npm_*` variables (a parent npm's
 * `npm_config_local_prefix` would point a nested npm back at this repository) and Node's test
 * runner context removed.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("npm_") && name !== "NODE_TEST_CONTEXT") env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to completion and returns its stdout; a failure carries its stderr. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeout?: number },
): string {
  try {
    return execFileSync(command, args, {
      cwd: options.cwd,
      env: options.env ?? childEnv(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeout ?? 60_000,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${options.cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`, {
      cause: error,
    });
  }
}
