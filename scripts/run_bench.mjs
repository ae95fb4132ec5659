// Runs every benchmark in bench/ on Deno, Bun and Node (Node runs the tsc build in
// dist-bench/), then prints the summaries side by side, a column per runtime.
//
//   npm run bench                      # 256 MiB per throughput run
//   npm run bench -- --quick           # 16 MiB, shorter samples: a few minutes in all
//   npm run bench -- --mib 64 --only channel_throughput --runtimes deno,node
//
// Options: --quick, --mib N, --reps N, --chunks 1,4,64 (KiB) and --connections N go to the
// benchmarks that take them; --only and --runtimes pick what runs. bench/idle_connections.ts
// opens --connections (10,000) socket pairs, 2 file descriptors each: raise `ulimit -n` first
// (it opens fewer, and says so, when the limit is lower). Each benchmark writes
// bench/results/<runtime>-<benchmark>.json; the summary also goes to bench/results/summary.md, and
// scripts/bench_report.mjs then writes bench/REPORT.md and bench/chart.svg from those JSON files.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BENCHMARKS = [
  "channel_throughput",
  "alloc_per_cycle",
  "index_of",
  "utf8",
  "base64",
  "text_primitives",
  "framing",
  "tcp",
  "socket_writes",
  "file_copy",
  "idle_connections",
  "compression",
  "resp",
  "pool_memory",
  "http",
  "websocket",
];
const RUNTIMES = ["deno", "bun", "node"];
// What bench/alloc_per_cycle.ts needs to measure (it restarts itself with them otherwise).
const V8_ALLOC_FLAGS = ["--expose-gc", "--min-semi-space-size=256", "--max-semi-space-size=256"];
const BUN_ALLOC_ENV = { BUN_JSC_largeHeapSize: "4000000000" };
// Options passed through, and which benchmarks take them.
const PASS_THROUGH = {
  quick: { value: false, to: BENCHMARKS },
  mib: { value: true, to: ["channel_throughput", "file_copy"] },
  reps: {
    value: true,
    to: ["channel_throughput", "framing", "tcp", "socket_writes", "file_copy", "http", "websocket"],
  },
  chunks: { value: true, to: ["channel_throughput"] },
  connections: { value: true, to: ["idle_connections"] },
};

function parseArgs(argv) {
  const options = { only: BENCHMARKS, runtimes: RUNTIMES, pass: [] };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].replace(/^--/, "").split("=", 2);
    const takeValue = () => {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`Cannot use --${name} as it needs a value: received nothing`);
      return value;
    };
    if (name === "only" || name === "runtimes") {
      const list = takeValue().split(",").filter(Boolean);
      const known = name === "only" ? BENCHMARKS : RUNTIMES;
      const unknown = list.filter((x) => !known.includes(x));
      if (unknown.length > 0) {
        throw new Error(`Cannot use --${name} as it knows ${known.join(", ")}: received ${unknown.join(", ")}`);
      }
      options[name] = list;
    } else if (name in PASS_THROUGH) {
      const spec = PASS_THROUGH[name];
      options.pass.push({ args: spec.value ? [`--${name}`, takeValue()] : [`--${name}`], to: spec.to });
    } else {
      throw new Error(
        `Cannot use the option as it is not one of --quick, --mib, --reps, --chunks, --connections, --only, --runtimes: received ${
          argv[i]
        }`,
      );
    }
  }
  return options;
}

function bin(name) {
  return join(root, "node_modules", ".bin", name);
}

/** The command that runs `benchmark` on `runtime`. */
function command(runtime, benchmark, extra) {
  const alloc = benchmark === "alloc_per_cycle";
  switch (runtime) {
    case "deno":
      return {
        file: bin("deno"),
        args: [
          "run",
          "-A",
          ...(alloc ? [`--v8-flags=${V8_ALLOC_FLAGS.join(",")}`] : []),
          `bench/${benchmark}.ts`,
          ...extra,
        ],
        env: {},
      };
    case "bun":
      return { file: bin("bun"), args: [`bench/${benchmark}.ts`, ...extra], env: alloc ? BUN_ALLOC_ENV : {} };
    default:
      return {
        file: process.execPath,
        args: [...(alloc ? V8_ALLOC_FLAGS : []), `dist-bench/bench/${benchmark}.js`, ...extra],
        env: {},
      };
  }
}

function run(file, args, env = {}) {
  const started = Date.now();
  const result = spawnSync(file, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, seconds: (Date.now() - started) / 1000 };
}

function buildForNode() {
  console.log("\n# Building dist-bench/ for Node (tsc -p tsconfig.bench.json)\n");
  rmSync(join(root, "dist-bench"), { recursive: true, force: true });
  const { status } = run(bin("tsc"), ["-p", "tsconfig.bench.json"]);
  if (status !== 0) {
    throw new Error(`Cannot run the benchmarks on Node as tsc -p tsconfig.bench.json failed: exit ${status}`);
  }
}

/** The report a run just wrote, or undefined when there is none newer than `since`. */
function readReport(runtime, benchmark, since) {
  const path = join(root, "bench", "results", `${runtime}-${benchmark}.json`);
  if (!existsSync(path) || statSync(path).mtimeMs < since) return undefined;
  return JSON.parse(readFileSync(path, "utf8"));
}

function markdownTable(headers, rows) {
  const head = `| ${headers.join(" | ")} |`;
  const rule = `|${headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`;
  return [head, rule, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** One table per summary title, a row per label, a column per runtime. */
function summarize(benchmark, reports) {
  const titles = [];
  for (const report of Object.values(reports)) {
    for (const s of report.summary) if (!titles.includes(s.title)) titles.push(s.title);
  }
  const runtimes = Object.keys(reports);
  const out = [];
  for (const title of titles) {
    const labels = [];
    const cells = new Map();
    for (const runtime of runtimes) {
      const summary = reports[runtime].summary.find((s) => s.title === title);
      for (const row of summary?.rows ?? []) {
        if (!labels.includes(row.label)) labels.push(row.label);
        cells.set(`${runtime}\u0000${row.label}`, row.value);
      }
    }
    out.push(`### ${benchmark}: ${title}\n`);
    out.push(
      markdownTable(
        ["", ...runtimes.map((r) => reports[r].runtimeVersion ?? r)],
        labels.map((label) => [label, ...runtimes.map((r) => cells.get(`${r}\u0000${label}`) ?? "—")]),
      ),
    );
    out.push("");
  }
  return out.join("\n");
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
const since = Date.now();
const failures = [];
const timings = [];
if (options.runtimes.includes("node")) buildForNode();
mkdirSync(join(root, "bench", "results"), { recursive: true });

for (const benchmark of options.only) {
  const extra = options.pass.filter((p) => p.to.includes(benchmark)).flatMap((p) => p.args);
  for (const runtime of options.runtimes) {
    const { file, args, env } = command(runtime, benchmark, extra);
    const shown = file.startsWith(root) ? relative(root, file) : file;
    console.log(`\n# ${benchmark} on ${runtime}: ${shown} ${args.join(" ")}\n`);
    const { status, seconds } = run(file, args, env);
    timings.push(`${benchmark} on ${runtime}: ${seconds.toFixed(1)} s${status === 0 ? "" : ` (exit ${status})`}`);
    if (status !== 0) failures.push(`${benchmark} on ${runtime} (exit ${status})`);
  }
}

const sections = [
  `# Benchmark summary (${new Date().toISOString()}${
    options.pass.length ? `, ${options.pass.flatMap((p) => p.args).join(" ")}` : ""
  })\n`,
];
for (const benchmark of options.only) {
  const reports = {};
  for (const runtime of options.runtimes) {
    const report = readReport(runtime, benchmark, since);
    if (report !== undefined) reports[runtime] = report;
  }
  if (Object.keys(reports).length > 0) sections.push(summarize(benchmark, reports));
}
sections.push(`Times: ${timings.join("; ")}`);
const summary = sections.join("\n");
console.log(`\n${summary}`);
writeFileSync(join(root, "bench", "results", "summary.md"), summary + "\n");
// bench/REPORT.md and bench/chart.svg from every JSON in bench/results/ (scripts/bench_report.mjs).
try {
  const { writeBenchReport } = await import("./bench_report.mjs");
  const written = writeBenchReport({
    command: ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
  });
  console.log(`\nWrote ${written.map((p) => relative(root, p)).join(" and ")}`);
} catch (error) {
  console.error(`\nCannot write bench/REPORT.md as the report writer failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
}
if (failures.length > 0) {
  console.error(`\nFailed: ${failures.join(", ")}`);
  process.exitCode = 1;
}
