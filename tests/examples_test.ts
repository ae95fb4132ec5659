// Every example in examples/ runs its own `--self-test` (server on port 0, a client against
// it, a check, "ok") in a child process of the current runtime. Deno and Bun only: the examples
// are TypeScript, and Node 20 cannot run it (the npm build compiles src/ and tests/, not
// examples/), so under Node every case shows as skipped.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { describe, it } from "node:test";
import { childEnv } from "./_packaging.ts";
import { redisSkip } from "./_redis_server.ts";

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
  "redis_cli.ts",
  "http_server.ts",
  "websocket_echo.ts",
];
// What an example needs besides the runtime (CI installs it, so there it never skips).
const NEEDS: Record<string, string | false> = { "redis_cli.ts": redisSkip };

/** What a finished child process left. */
interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `example` with `args` with this runtime's executable; kills it after `TIMEOUT_MS`. */
function runExample(example: string, exampleArgs: string[]): Promise<Outcome> {
  const path = fileURLToPath(new URL(`../examples/${example}`, import.meta.url));
  const args = onDeno ? ["run", "-A", path, ...exampleArgs] : [path, ...exampleArgs];
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
    const reason = skip || (NEEDS[example] ?? false);
    it(
      `examples/${example} --self-test exits 0 and prints "ok"`,
      { skip: reason, timeout: TIMEOUT_MS + 10_000 },
      async () => {
        const outcome = await runExample(example, ["--self-test"]);
        const context = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
        assert.equal(outcome.timedOut, false, `killed after ${TIMEOUT_MS} ms\n${context}`);
        assert.equal(outcome.code, 0, `exit code ${outcome.code} (signal ${outcome.signal})\n${context}`);
        assert.match(outcome.stdout, /^ok$/m, context);
      },
    );
  }

  it(
    "examples/transcode_file.ts with a missing input prints one line naming the file and exits 1",
    { skip },
    async () => {
      const missing = join(tmpdir(), `channels-missing-${process.pid}`, "input.b64");
      const outcome = await runExample("transcode_file.ts", [missing, join(tmpdir(), "never-written.bin")]);
      const context = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
      assert.equal(outcome.code, 1, context);
      assert.equal(outcome.stderr.trimEnd().split("\n").length, 1, `one line, not a stack trace\n${context}`);
      assert.ok(outcome.stderr.includes(missing), context);
      assert.match(outcome.stderr, /ENOENT|no such file/i, context);
    },
  );

  it("examples/demo.ts checks every byte, prints a line per phase without a terminal, and names its baseline", {
    skip,
    timeout: TIMEOUT_MS + 10_000,
  }, async () => {
    const outcome = await runExample("demo.ts", ["--mib", "2"]);
    const context = `stdout:\n${outcome.stdout}\nstderr:\n${outcome.stderr}`;
    assert.equal(outcome.code, 0, context);
    for (const phase of ["channels over loopback TCP", "channels in process", "web streams in process"]) {
      assert.match(
        outcome.stdout,
        new RegExp(`^  ${phase} +2 MiB +\\d+ MiB/s`, "m"),
        `a line for ${phase}\n${context}`,
      );
      assert.match(
        outcome.stdout,
        new RegExp(`^\\| ${phase} \\| \\d+ \\|.*×`, "m"),
        `a table row for ${phase}\n${context}`,
      );
    }
    assert.match(outcome.stdout, /The baseline is webStreams\(\) in examples\/demo\.ts/, context);
    assert.match(outcome.stdout, /^ {2}encode: .+ \(fastest of \d+\)$/m, context);
    assert.match(outcome.stdout, /^ {2}decode: .+ \(fastest of \d+\)$/m, context);
    assert.match(outcome.stdout, /Every byte arrived and matched/, context);
  });
});
