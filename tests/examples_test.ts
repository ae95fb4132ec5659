// Every example in examples/ runs its own `--self-test` (server on port 0, a client against
// it, a check, "ok") in a child process of the current runtime. Deno and Bun only: the examples
// are TypeScript, and Node 20 cannot run it (the npm build compiles src/ and tests/, not
// examples/), so under Node every case shows as skipped.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { describe, it } from "node:test";
import { childEnv } from "./_packaging.ts";

const onDeno = "Deno" in globalThis && process.versions.bun === undefined;
const onBun = process.versions.bun !== undefined;
const skip: string | false = onDeno || onBun
  ? false
  : "runs under Deno and Bun only: Node 20 cannot run the TypeScript examples";
const TIMEOUT_MS = 60_000;

const EXAMPLES = [
  "line_echo_server.ts",
  "rpc.ts",
  "upload_server.ts",
  "transcode_file.ts",
  "http_server.ts",
  "websocket_echo.ts",
];

/** What a finished child process left. */
interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `example --self-test` with this runtime's executable; kills it after `TIMEOUT_MS`. */
function runSelfTest(example: string): Promise<Outcome> {
  const path = fileURLToPath(new URL(`../examples/${example}`, import.meta.url));
  const args = onDeno ? ["run", "-A", path, "--self-test"] : [path, "--self-test"];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

describe("examples --self-test", { skip }, () => {
  for (const example of EXAMPLES) {
    // Bun ignores a describe's skip reason, so each case carries it too.
    it(`examples/${example} --self-test exits 0 and prints "ok"`, { skip, timeout: TIMEOUT_MS + 10_000 }, async () => {
      const outcome = await runSelfTest(example);
      const context = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
      assert.equal(outcome.timedOut, false, `killed after ${TIMEOUT_MS} ms\n${context}`);
      assert.equal(outcome.code, 0, `exit code ${outcome.code} (signal ${outcome.signal})\n${context}`);
      assert.match(outcome.stdout, /^ok$/m, context);
    });
  }
});
