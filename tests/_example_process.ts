// Starts one of examples/ as a server in a child process of this runtime, for peer tests that
// drive it with real clients (curl, python3-websockets, the runtime's own). Not a test file.

import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { childEnv } from "./_packaging.ts";
import { runtime } from "./_runtime_adapter.ts";

/** A running example server. */
export interface ExampleProcess {
  /** The port it printed in its `listening on host:port` line. */
  port: number;
  /** Stops it (SIGTERM) and settles once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts `examples/<name>` with `--port 0` on this runtime (Node 20 cannot run TypeScript: it
 * runs an esbuild bundle of it, written into `dir`), and resolves with the port it prints.
 */
export async function startExample(name: string, dir: string): Promise<ExampleProcess> {
  const root = process.cwd();
  const source = join(root, "examples", name);
  let args: string[];
  if (runtime === "deno") args = ["run", "-A", source, "--port", "0"];
  else if (runtime === "bun") args = [source, "--port", "0"];
  else {
    const bundle = join(dir, name.replace(/\.ts$/, ".mjs"));
    execFileSync(join(root, "node_modules", ".bin", "esbuild"), [
      source,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--log-level=warning",
      `--outfile=${bundle}`,
    ]);
    args = [bundle, "--port", "0"];
  }
  const child = spawn(process.execPath, args, { env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`the example did not start: ${stdout}${stderr}`)), 60_000);
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      const match = /listening on [^:\s]+:(\d+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}: ${stdout}${stderr}`));
    });
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
