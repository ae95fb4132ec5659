// Runs the test suite on one runtime and prints what a reader needs: one summary line, the
// tests that were skipped (with the reason, where the runtime gives one), and every failure in
// full. The runtime's whole output goes to a log file whose path is printed.
//
//   node scripts/test.mjs deno | bun | node [--verbose] [tests/x_test.ts …]
//
// `npm test` runs it for each runtime; `deno task test` runs it under Deno (no Node needed:
// it uses node: modules every runtime has). `--verbose` shows the runtime's own output as it
// comes. Under Node it runs the tsc build in dist/tests/ (`npm run build` first).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const [runtime, ...only] = args.filter((arg) => !arg.startsWith("-"));
const verbose = args.includes("--verbose");
const onDeno = "Deno" in globalThis && process.versions.bun === undefined;
const onBun = process.versions.bun !== undefined;

/** The runtime's executable: this process's own, else npm's, else the one on PATH. */
function executable(name, current) {
  if (current) return process.execPath;
  const local = join(root, "node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name);
  return existsSync(local) ? local : name;
}

/** Runs one command; resolves with its exit code and everything it printed (stdout and stderr in order). */
function run(command, commandArgs, env) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (chunk) => {
      output += chunk;
      if (verbose) process.stdout.write(chunk);
    };
    child.stdout.setEncoding("utf8").on("data", take);
    child.stderr.setEncoding("utf8").on("data", take);
    child.on(
      "error",
      (error) => resolve({ code: 127, output: `${output}\nCannot run ${command}: ${error.message}\n` }),
    );
    child.on(
      "close",
      (code, signal) => resolve({ code: code ?? 1, output: signal ? `${output}\nkilled by ${signal}\n` : output }),
    );
  });
}

/** The text from the first line that matches `start` to the end, or undefined. */
function from(output, start) {
  const match = start.exec(output);
  return match === null ? undefined : output.slice(match.index);
}

// Everything the runtime printed; under Node, the spec reporter writes here as it runs.
const log = join(tmpdir(), `channels-test-${runtime ?? "none"}.log`);

/** Each runtime: the commands to run, and how to read their output. */
const RUNTIMES = {
  deno: {
    steps: () => {
      const deno = executable("deno", onDeno);
      // --node-modules-dir=none: the tests import nothing from npm, and Deno's own Node types
      // serve node: imports, so a clone without node_modules (only Deno installed) runs too.
      const common = ["test", "-A", "--node-modules-dir=none"];
      if (only.length > 0) return [{ label: "tests", command: deno, args: [...common, ...only] }];
      return [
        { label: "tests", command: deno, args: common },
        { label: "doc examples", command: deno, args: [...common, "--doc", "mod.ts", "src/", "README.md"] },
      ];
    },
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    summarize(output, code) {
      // "ok | 58 passed (385 steps) | 0 failed | 5 ignored (17s)"
      const summary = /^(?:ok|FAILED) \| (.*?)(?: \([\dms.]+\))?$/m.exec(output)?.[1];
      // Names end with "(skipped: reason)" where the test gives one (tests/_tools.ts, named()).
      const skipped = [...output.matchAll(/^\s*(.*) \.\.\. ignored/gm)].map((m) =>
        m[1].replace(/ \(skipped: (.*)\)$/, " — $1")
      );
      const failures = code === 0 ? undefined : from(output, /^ ERRORS $/m) ?? output;
      return { summary, skipped, failures };
    },
  },
  bun: {
    steps: () => [{
      label: "tests",
      command: executable("bun", onBun),
      args: ["test", "--timeout", "120000", ...only.map((path) => `./${path}`)],
    }],
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    summarize(output, code) {
      // " 412 pass\n 9 skip\n 0 fail\n …\nRan 421 tests across 23 files. [61.00s]"
      const counts = [...output.matchAll(/^\s*(\d+) (pass|skip|todo|fail)$/gm)].map((m) => `${m[1]} ${m[2]}`);
      const files = /^Ran \d+ tests? across (\d+ files?)/m.exec(output)?.[1];
      const summary = counts.length > 0
        ? `${counts.join(" | ")}${files === undefined ? "" : ` (${files})`}`
        : undefined;
      // "(skip) suite > test": one line per suite (Bun prints a skip's reason only where the
      // test's name carries it), with how many of its tests were skipped.
      const suites = new Map();
      for (const m of output.matchAll(/^\(skip\) (.*)$/gm)) {
        const name = m[1].includes(" (skipped: ") ? m[1] : m[1].split(" > ")[0];
        suites.set(name, (suites.get(name) ?? 0) + 1);
      }
      const skipped = [...suites].map(([name, n]) =>
        `${name.replace(/ \(skipped: (.*)\)$/, " — $1")}${n > 1 ? ` (${n} tests)` : ""}`
      );
      // The failures, with what the tests printed: everything but the passing and skipped lines.
      const failures = code === 0 ? undefined : output.replace(/^\((?:pass|skip)\) .*\n/gm, "");
      return { summary, skipped, failures };
    },
  },
  node: {
    steps: () => {
      const dir = join(root, "dist", "tests");
      if (!existsSync(dir)) return [];
      const files = only.length > 0
        ? only.map((path) => join("dist", path.replace(/\.ts$/, ".js")))
        : readdirSync(dir).filter((name) => name.endsWith("_test.js")).sort().map((name) =>
          join("dist", "tests", name)
        );
      // The dot reporter prints failures in full at its end; the spec reporter writes the log,
      // which gives the counts and the skip reasons.
      return [{
        label: "tests",
        command: executable("node", !onDeno && !onBun),
        args: [
          "--test",
          "--test-reporter=dot",
          "--test-reporter-destination=stdout",
          "--test-reporter=spec",
          `--test-reporter-destination=${log}`,
          ...files,
        ],
      }];
    },
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    summarize(output, code) {
      const spec = existsSync(log) ? readFileSync(log, "utf8") : "";
      // "﹣ name (0.1ms) # reason": one line per reason, with how many tests (or suites) it covers.
      // (The spec reporter's own "skipped" count leaves out skipped suites.)
      const reasons = new Map();
      for (const m of spec.matchAll(/^\s*﹣ .* # (.*)$/gm)) reasons.set(m[1], (reasons.get(m[1]) ?? 0) + 1);
      const skipped = [...reasons].map(([reason, n]) => `${n} × ${reason}`);
      // "ℹ pass 400", "ℹ fail 0", … at the end of the spec log.
      const count = (name) => spec.match(new RegExp(`^ℹ ${name} (\\d+)$`, "m"))?.[1];
      const skips = [...reasons.values()].reduce((a, b) => a + b, 0);
      const summary = count("pass") === undefined
        ? undefined
        : `${count("pass")} passed | ${count("fail")} failed | ${skips} skipped`;
      const failures = code === 0 ? undefined : from(output, /^Failed tests:$/m) ?? output;
      return { summary, skipped, failures };
    },
  },
};

const config = RUNTIMES[runtime];
if (config === undefined) {
  console.error(`usage: node scripts/test.mjs ${Object.keys(RUNTIMES).join(" | ")} [--verbose]`);
  process.exit(2);
}
const steps = config.steps();
if (steps.length === 0) {
  console.error(`${runtime}: Cannot run the tests as dist/tests/ is missing: run \`npm run build\` first`);
  process.exit(1);
}

writeFileSync(log, "");
let failed = false;
for (const step of steps) {
  const started = performance.now();
  console.log(
    `${runtime}: running the ${step.label} (${step.command.split("/").pop()} ${step.args.slice(0, 3).join(" ")} …)`,
  );
  // deno-lint-ignore no-await-in-loop
  const { code, output } = await run(step.command, step.args, config.env);
  writeFileSync(log, `$ ${step.command} ${step.args.join(" ")}\n${output}\n`, { flag: "a" });
  const { summary, skipped, failures } = config.summarize(output, code);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const mark = code === 0 ? "ok" : "FAILED";
  console.log(`${runtime}: ${step.label} ${mark}: ${summary ?? `exit code ${code}`} [${seconds} s]`);
  for (const line of skipped) console.log(`  skipped: ${line}`);
  if (code !== 0) {
    failed = true;
    if (!verbose) console.log(`\n${(failures ?? output).trimEnd()}\n`);
  }
}
console.log(`${runtime}: full output in ${log}`);
process.exit(failed ? 1 : 0);
