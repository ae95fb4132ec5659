// Writes bench/REPORT.md (headline ratios per benchmark and runtime, with the machine) and
// bench/chart.svg (Channel vs peers, chunks/s at 1 KiB and 4 KiB) from the JSON files the
// benchmarks left in bench/results/. scripts/run_bench.mjs calls it at the end of a run; it also
// runs alone on the JSON already there:
//
//   node scripts/bench_report.mjs
//
// The numbers are printed as measured. A cell is marked noisy (†) when a measurement behind it
// has a spread (half the inter-quartile range over the median, as bench/_util.ts computes it)
// above 20%.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNTIMES = ["deno", "bun", "node"];
const NOISY = 20;
const PEERS = ["floor-copy-await", "whatwg-transform", "whatwg-pipeto", "node-transform", "node-passthrough"];
const CHANNELS = ["channel-write", "channel-getmemory"];

function load(runtime, benchmark) {
  const path = join(root, "bench", "results", `${runtime}-${benchmark}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
}

/** Half the inter-quartile range over the median, in percent (bench/_util.ts spreadPercent). */
function spread(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const q = (p) => {
    const at = (sorted.length - 1) * p;
    const lo = Math.floor(at);
    const hi = Math.ceil(at);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
  };
  const m = q(0.5);
  return m === 0 ? 0 : ((q(0.75) - q(0.25)) / 2 / Math.abs(m)) * 100;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A table cell: a ratio (or figure) and the largest spread of the measurements behind it. */
function cell(text, spreads) {
  const worst = Math.max(0, ...spreads.filter(Number.isFinite));
  return worst > NOISY ? `${text} † (±${Math.round(worst)}%)` : text;
}

function ratioCell(numerator, denominator, spreads) {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return "—";
  return cell(`${(numerator / denominator).toFixed(2)}×`, spreads);
}

function number(value, digits = 0) {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function markdownTable(headers, rows) {
  const head = `| ${headers.join(" | ")} |`;
  const rule = `|${headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`;
  return [head, rule, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** One table: a row per label, a column per runtime that has the benchmark. */
function table(reports, labels, value) {
  const runtimes = RUNTIMES.filter((r) => reports[r] !== undefined);
  if (runtimes.length === 0) return "_No results: run `npm run bench`._";
  return markdownTable(
    ["", ...runtimes.map((r) => reports[r].runtimeVersion ?? r)],
    labels.map((label) => [label, ...runtimes.map((r) => value(reports[r], label) ?? "—")]),
  );
}

function machine() {
  let model = cpus()[0]?.model?.trim();
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    if (line) model = line.split(":").slice(1).join(":").trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  const gib = totalmem() / 2 ** 30;
  return `${model ?? "unknown CPU"}, ${cpus().length} logical cores, ${
    gib.toFixed(1)
  } GiB memory, ${process.platform} ${process.arch}`;
}

// ---- per benchmark ----------------------------------------------------------------------------

function throughputSection(reports) {
  const find = (report, size, name) => report.rows.find((r) => r.chunkSize === size && r.case === name);
  const sizes = [...new Set(Object.values(reports).flatMap((r) => r.rows.map((x) => x.chunkSize)))].sort((a, b) =>
    a - b
  );
  const labels = sizes.flatMap((size) => CHANNELS.flatMap((c) => PEERS.map((p) => `${size / 1024} KiB: ${c} ÷ ${p}`)));
  const ratios = table(reports, labels, (report, label) => {
    const [, kib, c, p] = label.match(/^(\d+) KiB: (\S+) ÷ (\S+)$/);
    const a = find(report, Number(kib) * 1024, c);
    const b = find(report, Number(kib) * 1024, p);
    if (!a || !b) return undefined;
    return ratioCell(a.mbPerSec, b.mbPerSec, [a.spreadPercent, b.spreadPercent]);
  });
  const rateLabels = sizes.flatMap((size) => [...CHANNELS, ...PEERS].map((c) => `${size / 1024} KiB: ${c}`));
  const rates = table(reports, rateLabels, (report, label) => {
    const [, kib, c] = label.match(/^(\d+) KiB: (\S+)$/);
    const row = find(report, Number(kib) * 1024, c);
    return row ? cell(number(row.chunksPerSec / 1e6, 2), [row.spreadPercent]) : undefined;
  });
  return [
    "Channel MB/s ÷ peer MB/s (above 1: the Channel is faster). Peers: WHATWG `TransformStream` read loop,",
    "`pipeTo` through a `TransformStream`, and `node:stream` `Transform` / `PassThrough`; `floor-copy-await` is",
    "`Uint8Array.set` of the chunk plus one await, what a copying `write()` cannot beat.",
    "",
    ratios,
    "",
    "Million chunks per second (what bench/chart.svg draws at 1 and 4 KiB):",
    "",
    rates,
  ].join("\n");
}

function allocSection(reports) {
  const labels = [...new Set(Object.values(reports).flatMap((r) => r.rows.map((x) => x.case)))];
  const bytes = table(reports, labels, (report, name) => {
    const row = report.rows.find((r) => r.case === name);
    if (!row) return undefined;
    const off = row.offHeapPerCycle ? ` (+${number(row.offHeapPerCycle)} off-heap)` : "";
    return cell(`${number(row.bytesPerCycle)}${off}`, [spread(row.pairs ?? [])]);
  });
  const whatwg = table(reports, ["whatwg-read-loop ÷ channel-write-read", "whatwg-read-loop ÷ channel-two-tasks"], (
    report,
    label,
  ) => {
    const [a, b] = label.split(" ÷ ").map((name) => report.rows.find((r) => r.case === name));
    if (!a || !b) return undefined;
    if (b.bytesPerCycle === 0) return `${number(a.bytesPerCycle)} B vs 0 B`;
    return ratioCell(a.bytesPerCycle, b.bytesPerCycle, [spread(a.pairs ?? []), spread(b.pairs ?? [])]);
  });
  return [
    "Heap bytes allocated per 4 KiB write/read cycle (lower is better; JavaScriptCore resolves one 16 KiB block per window):",
    "",
    bytes,
    "",
    "WHATWG read loop allocation ÷ Channel allocation (above 1: the Channel allocates less):",
    "",
    whatwg,
  ].join("\n");
}

function indexOfSection(reports) {
  const labels = [...new Set(Object.values(reports).flatMap((r) => r.rows.map((x) => x.scenario)))];
  const body = table(reports, labels, (report, scenario) => {
    const wasm = report.rows.find((r) => r.scenario === scenario && r.method === "wasm");
    const native = report.rows.find((r) => r.scenario === scenario && r.method === "native");
    if (!wasm || !native) return undefined;
    return ratioCell(native.nsPerOp, wasm.nsPerOp, [wasm.spreadPercent, native.spreadPercent]);
  });
  return [
    '`indexOf` with `setKernelPath("memchr", "wasm")` vs `"native"`: native ns ÷ wasm ns (above 1: wasm is faster).',
    "",
    body,
  ].join("\n");
}

function base64Section(reports) {
  const keys = [...new Set(Object.values(reports).flatMap((r) => r.rows.map((x) => `${x.job} ${x.size}`)))];
  const labelOf = (key) => {
    const [job, size] = key.split(" ");
    return `${job} ${Number(size) >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`}`;
  };
  const pick = (report, key) => {
    const rows = report.rows.filter((r) => `${r.job} ${r.size}` === key);
    const kernel = rows.find((r) => r.method === "kernel");
    const transform = rows.find((r) => r.method === "transform");
    const scattered = rows.find((r) => r.method === "transform-scattered");
    // The streaming overhead is measured against the kernel layer's choice on contiguous bytes
    // ("ours-auto"; the kernel before there was a choice).
    const chosen = rows.find((r) => r.method === "ours-auto") ?? kernel;
    // The runtime's own methods (not ours, not base64-js), as bench/base64.ts's NATIVE set.
    const ours = new Set([
      "kernel",
      "ours-native",
      "ours-auto",
      "transform",
      "transform-scattered",
      "transform-kernel",
      "transform-native",
      "base64-js",
    ]);
    const best = rows.filter((r) => !ours.has(r.method)).sort((a, b) => b.mbPerSec - a.mbPerSec)[0];
    return { kernel, chosen, transform, scattered, best };
  };
  const labels = keys.map(labelOf);
  const byLabel = new Map(keys.map((k) => [labelOf(k), k]));
  const native = table(reports, labels, (report, label) => {
    const { chosen, best } = pick(report, byLabel.get(label));
    if (!chosen || !best) return undefined;
    return `${ratioCell(chosen.mbPerSec, best.mbPerSec, [chosen.spreadPercent, best.spreadPercent])} (${best.method})`;
  });
  const streaming = table(reports, labels, (report, label) => {
    const { chosen, transform, scattered } = pick(report, byLabel.get(label));
    if (!chosen || !transform) return undefined;
    const adjacent = ratioCell(transform.mbPerSec, chosen.mbPerSec, [chosen.spreadPercent, transform.spreadPercent]);
    if (!scattered) return adjacent;
    return `${adjacent} / ${
      ratioCell(scattered.mbPerSec, chosen.mbPerSec, [chosen.spreadPercent, scattered.spreadPercent])
    }`;
  });
  const channelSummary = (report) => report.summary.find((x) => x.title.startsWith("base64 through a channel"));
  const channelLabels = [
    ...new Set(Object.values(reports).flatMap((r) => channelSummary(r)?.rows.map((x) => x.label) ?? [])),
  ];
  const channel = table(
    reports,
    channelLabels,
    (report, label) => channelSummary(report)?.rows.find((r) => r.label === label)?.value,
  );
  return [
    "Through a channel: `pipeThrough` with `await writer.write(chunk)` ÷ the fastest native bytes-to-bytes job on the same",
    "chunks (one native call per chunk into a reused array; above 1: the channel is faster; the native method in brackets):",
    "",
    channel,
    "",
    "The kernel layer's choice (kernel or native path) MB/s ÷ the best native method's MB/s on contiguous pool memory (above 1: ours is faster; the best native method in brackets):",
    "",
    native,
    "",
    "Streaming overhead: `base64Encoder()`/`base64Decoder()` on 4 KiB segments ÷ the layer's choice on the same bytes contiguous (1 = free),",
    "segments adjacent in memory (as a channel's blocks come back from the pool) / scattered (the worst case):",
    "",
    streaming,
  ].join("\n");
}

function utf8Section(reports) {
  const scenarios = [...new Set(Object.values(reports).flatMap((r) => r.rows.map((x) => x.scenario)))];
  const pairs = [
    ["decode", "native", "decoder", "`Utf8Decoder.decode` ÷ `TextDecoder.decode`"],
    ["fatal", "native-fatal", "decoder-fatal-AUTO", "`Utf8Decoder({ fatal: true })` ÷ `TextDecoder({ fatal: true })`"],
    ["validate", "isutf8", "validate-AUTO", "`validateUtf8` ÷ `isUtf8` (node:buffer)"],
    ["validate-wasm", "validate-native", "validate-wasm", '`validateUtf8`: `"wasm"` kernel ÷ `"native"` path'],
  ];
  const auto = (report) => report.summary.find((s) => s.title.startsWith("strategy"))?.rows[0]?.value ?? "native";
  const labels = scenarios.flatMap((s) => pairs.map((p) => `${s}: ${p[3]}`));
  const body = table(reports, labels, (report, label) => {
    const [scenario] = label.split(": ");
    const pair = pairs.find((p) => label.endsWith(p[3]));
    const m = (id) => report.rows.find((r) => r.scenario === scenario && r.method === id.replace("AUTO", auto(report)));
    const ref = m(pair[1]);
    const ours = m(pair[2]);
    if (!ref || !ours) return undefined;
    return ratioCell(ref.nsPerOp, ours.nsPerOp, [ref.spreadPercent, ours.spreadPercent]);
  });
  const strategies = RUNTIMES.filter((r) => reports[r]).map((r) => `${r}: "${auto(reports[r])}"`).join(", ");
  const streamSummary = (report) =>
    report.summary.find((s) => s.title.startsWith("Utf8Decoder.decode(buffer, { stream"));
  const streamLabels = [
    ...new Set(Object.values(reports).flatMap((r) => streamSummary(r)?.rows.map((x) => x.label) ?? [])),
  ];
  const stream = table(
    reports,
    streamLabels,
    (report, label) => streamSummary(report)?.rows.find((r) => r.label === label)?.value,
  );
  return [
    `Reference ns ÷ ours ns, contiguous buffers (above 1: ours is faster). The "auto" strategy resolves to ${strategies}.`,
    "",
    body,
    "",
    "Through a channel: `Utf8Decoder.decode(buffer, { stream: true })` on 4 KiB segments ÷ `TextDecoder.decode` of the",
    "same bytes contiguous (speed; above 1: ours is faster): segments adjacent in memory / scattered / scattered with",
    "`fatal: true` (against a fatal `TextDecoder`):",
    "",
    stream,
  ].join("\n");
}

function framingSection(reports) {
  const labels = [];
  for (const report of Object.values(reports)) {
    for (const s of report.summary) {
      if (!s.title.startsWith("Channel ÷ peer")) continue;
      for (const row of s.rows) {
        if (!row.label.includes("(diagnostic)") && !labels.includes(row.label)) labels.push(row.label);
      }
    }
  }
  const body = table(reports, labels, (report, label) => {
    const row = report.summary.find((s) => s.title.startsWith("Channel ÷ peer"))?.rows.find((r) => r.label === label);
    if (!row) return undefined;
    const [, where, a, b] = label.match(/^(.*): (\S+) ÷ (\S+)$/) ?? [];
    const spreads = [a, b].map((name) =>
      report.rows.find((r) => r.case === name && where?.endsWith(r.size) && where?.startsWith(r.kind))?.spreadPercent
    );
    return cell(row.value, spreads);
  });
  return [
    "Channel frames/s ÷ peer frames/s (above 1: the Channel is faster); the peers get one copy per chunk as from a",
    "socket. Peers: `it-length-prefixed`, `split2`, `node:readline`. Diagnostic rows are in the JSON.",
    "`split2` on the 8 MiB line is timed once (as bench/framing.ts does), so that row's spread is the Channel's alone.",
    "",
    body,
  ].join("\n");
}

function tcpSection(reports) {
  const labels = ["echo throughput (MiB/s)", "round trips per second"];
  // The runtime's own idioms (rows marked baseline; older results: the first non-channel row):
  // per measure, the faster of them is the peer.
  const peers = (report) => {
    const marked = report.rows.filter((r) => r.baseline);
    return marked.length > 0 ? marked : report.rows.filter((r) => !r.channel).slice(0, 1);
  };
  const fastest = (report, key) =>
    peers(report).reduce((a, b) => (a === undefined || median(b[key]) > median(a[key]) ? b : a), undefined);
  const body = table(reports, labels, (report, label) => {
    const key = label.startsWith("echo") ? "echoMiBps" : "roundTripsPerSecond";
    const ours = report.rows.find((r) => r.channel);
    const theirs = fastest(report, key);
    if (!ours || !theirs) return undefined;
    const text = ratioCell(median(ours[key]), median(theirs[key]), [spread(ours[key]), spread(theirs[key])]);
    const n = Math.min(ours[key].length, theirs[key].length);
    const ratio = n < 3 ? `${text} (${n} sample${n === 1 ? "" : "s"}, no spread)` : text;
    return peers(report).length > 1 ? `${ratio} (vs ${theirs.case})` : ratio;
  });
  const baselines = RUNTIMES.filter((r) => reports[r]).map((r) =>
    `${r}: ${peers(reports[r]).map((x) => x.case).join(" and ")}`
  )
    .join("; ");
  return [
    `channels ÷ the runtime's own sockets on loopback (above 1: channels is faster). Baselines (the faster of them per measure): ${baselines}.`,
    "",
    body,
  ].join("\n");
}

function fileCopySection(reports) {
  const idiom = { deno: "deno-pipeto", bun: "bun-write", node: "node-streams" };
  const row = (report, id) => report.rows.find((r) => r.case === id);
  const pairs = [
    ["getMemory copy ÷ the runtime's idiom", "channel-getmemory", (r) => idiom[r.runtime]],
    ["write() copy ÷ the runtime's idiom", "channel-write", (r) => idiom[r.runtime]],
    ["getMemory copy ÷ node:fs streams", "channel-getmemory", () => "node-streams"],
    ["write() copy ÷ node:fs streams", "channel-write", () => "node-streams"],
  ];
  const ratios = table(reports, pairs.map((p) => p[0]), (report, label) => {
    const [, ours, peerOf] = pairs.find((p) => p[0] === label);
    const a = row(report, ours);
    const b = row(report, peerOf(report));
    if (!a || !b) return undefined;
    return ratioCell(a.mbPerSec, b.mbPerSec, [a.spreadPercent, b.spreadPercent]);
  });
  const rateLabels = [
    "channel-getmemory",
    "channel-write",
    "channel-getmemory-read64k",
    "channel-getmemory-read512k",
    ...Object.values(idiom),
  ];
  const rates = table(reports, rateLabels, (report, label) => {
    const r = row(report, label);
    return r ? cell(number(r.mbPerSec), [r.spreadPercent]) : undefined;
  });
  const baselines = RUNTIMES.filter((r) => reports[r]).map((r) => `${r}: \`${idiom[r]}\``).join("; ");
  return [
    "Copying a file (page cache warm) with `openFile` → `createFile` of the runtime's entry point, the copy loop a",
    "user writes (one copy per view), ÷ the runtime's own idiom (above 1: channels is faster). Idioms: " + baselines +
    " (`Bun.write` copies in the kernel: copy_file_range).",
    "",
    ratios,
    "",
    "MB/s (`channel-getmemory-read64k` and `-read512k` are diagnostics: `readSize` 64 KiB and 512 KiB instead of the",
    "default 256 KiB):",
    "",
    rates,
  ].join("\n");
}

function idleSection(reports) {
  const phases = ["fresh", "after a round trip"];
  const labels = phases.flatMap((phase) => [
    `${phase}: channels pool blocks`,
    `${phase}: channels RSS KiB`,
    `${phase}: peer RSS KiB`,
    `${phase}: channels heap KiB`,
    `${phase}: peer heap KiB`,
  ]);
  const body = table(reports, labels, (report, label) => {
    const [phase, what] = label.split(": ");
    const ours = report.rows.find((r) => r.channel && r.phase === phase);
    const peer = report.rows.find((r) => !r.channel && r.phase === phase);
    const r = what.startsWith("channels") ? ours : peer;
    if (!r) return undefined;
    if (what.endsWith("pool blocks")) {
      return `${number(r.poolBlocksPerConnection, 2)} (${number((r.poolBytesPerConnection ?? 0) / 1024, 1)} KiB)`;
    }
    const bytes = what.endsWith("RSS KiB") ? r.rssBytesPerConnection : r.heapBytesPerConnection;
    return number(bytes / 1024, 1);
  });
  const counts = RUNTIMES.filter((r) => reports[r]).map((r) =>
    `${r}: ${reports[r].rows[0]?.connections} connections, peer ${reports[r].rows.find((x) => !x.channel)?.case}`
  ).join("; ");
  return [
    "Memory per idle loopback connection (both ends in one process: client and accepted socket), while every end",
    `waits for bytes: pool blocks rented (and their KiB), and the change in RSS and heapUsed after a full GC. ${counts}.`,
    "",
    body,
  ].join("\n");
}

function poolSection(reports) {
  const labels = [];
  for (const report of Object.values(reports)) {
    for (const s of report.summary) for (const row of s.rows) if (!labels.includes(row.label)) labels.push(row.label);
  }
  const body = table(reports, labels, (report, label) => {
    for (const s of report.summary) {
      const row = s.rows.find((r) => r.label === label);
      if (row) return row.value;
    }
    return undefined;
  });
  return [
    "Rentable bytes under `maxBytes` (4 KiB blocks and 64 KiB spans until the pool refuses, ÷ the limit; target ≥ 95 %),",
    "and RSS after a 512 MiB burst through a channel minus RSS before it, after a full GC (target ≤ 64 MiB once trimmed).",
    "`pool-kept`: no trim (a pool that never shrinks); `pool-trim`: `pool.trim()`; `pool-idle-trim`: `idleTrimMs: 200`;",
    "`plain-arrays`: the same bytes as `Uint8Array` chunks, dropped.",
    "",
    body,
  ].join("\n");
}

function httpSection(reports) {
  const labels = ["plaintext", "pipelined 16"].flatMap((mode) => [
    `${mode}: ./http1 req/s`,
    `${mode}: the runtime's server req/s`,
    `${mode}: ./http1 ÷ the runtime's server`,
    `${mode}: server CPU per request, the runtime's ÷ ./http1`,
  ]);
  const body = table(reports, labels, (report, label) => {
    const [mode, what] = label.split(": ");
    const ours = report.rows.find((r) => r.mode === mode && r.server.startsWith("channels"));
    const peer = report.rows.find((r) =>
      r.mode === mode && !r.server.startsWith("channels") && !/diagnostic/.test(r.server)
    );
    if (!ours || !peer) return undefined;
    const rps = (row) => row.samples.map((s) => s.rps);
    const cpu = (row) => row.samples.map((s) => s.cpuUsPerRequest);
    if (what === "./http1 req/s") return cell(number(ours.rps), [spread(rps(ours))]);
    if (what === "the runtime's server req/s") return `${cell(number(peer.rps), [spread(rps(peer))])} (${peer.server})`;
    if (what.startsWith("./http1 ÷")) return ratioCell(ours.rps, peer.rps, [spread(rps(ours)), spread(rps(peer))]);
    return ratioCell(peer.cpuUsPerRequest, ours.cpuUsPerRequest, [spread(cpu(ours)), spread(cpu(peer))]);
  });
  return [
    "GET /plaintext (`Hello, World!`, text/plain, Date and Content-Length) under `wrk -t1 -c64`, then 16 requests per",
    "write (pipelined); ./http1 on the runtime's TCP adapter vs Deno.serve, Bun.serve (fetch handler) and node:http,",
    "servers alternating round by round. Server CPU per request (user + system from /proc) is steadier than req/s on a",
    "shared machine. bench/results/bun-http.json also has Bun.serve with a static route (no JavaScript per request).",
    "",
    body,
  ].join("\n");
}

/**
 * A section from the summaries a benchmark writes itself (`summary: [{ title, rows: [{ label, value }] }]`):
 * a table per title, a row per label, a column per runtime whose report has that title.
 */
function summarySection(intro) {
  return (reports) => {
    const titles = [];
    for (const report of Object.values(reports)) {
      for (const s of report.summary ?? []) if (!titles.includes(s.title)) titles.push(s.title);
    }
    const parts = intro ? [intro, ""] : [];
    for (const title of titles) {
      const having = Object.fromEntries(
        Object.entries(reports).filter(([, report]) => (report.summary ?? []).some((s) => s.title === title)),
      );
      const labels = [];
      for (const report of Object.values(having)) {
        for (const row of report.summary.find((s) => s.title === title).rows) {
          if (!labels.includes(row.label)) labels.push(row.label);
        }
      }
      parts.push(
        `### ${title}`,
        "",
        table(
          having,
          labels,
          (report, label) => report.summary.find((s) => s.title === title).rows.find((r) => r.label === label)?.value,
        ),
        "",
      );
    }
    return parts.join("\n").replace(/\n+$/, "");
  };
}

const SECTIONS = [
  ["channel_throughput", "Channel vs WHATWG streams and node:stream", throughputSection],
  ["alloc_per_cycle", "Allocation per cycle", allocSection],
  ["index_of", "Search: wasm vs native", indexOfSection],
  ["base64", "base64", base64Section],
  ["utf8", "UTF-8", utf8Section],
  ["framing", "Framing", framingSection],
  ["tcp", "TCP loopback", tcpSection],
  ["file_copy", "File copy", fileCopySection],
  ["idle_connections", "Idle connections", idleSection],
  ["pool_memory", "Pool memory over time", poolSection],
  ["http", "HTTP/1.1 plaintext (./http1)", httpSection],
  [
    "text_primitives",
    "Text primitives: BufferReader and BufferWriter",
    summarySection("Numbers and strings parsed from and written into pool memory, ÷ the runtime's own conversions."),
  ],
  [
    "compression",
    "Compression",
    summarySection(
      "`compressor()` / `decompressor()` (deflate-raw, level 6) ÷ node:zlib's sync calls and `CompressionStream`.",
    ),
  ],
  [
    "resp",
    "RESP: RespClient vs node-redis, ioredis and Bun.redis",
    summarySection("One connection to a local `redis-server`, commands in flight as named; ops/s ratios."),
  ],
  [
    "websocket",
    "WebSocket",
    summarySection(
      "Echo through ./websocket on the runtime's TCP adapter ÷ `ws` with its native `bufferutil` addon (Node), Deno.upgradeWebSocket, Bun.serve; unmasking kernel.",
    ),
  ],
  [
    "socket_writes",
    "Socket writes of scattered runs",
    summarySection(
      "The Deno and Bun adapters' gathered write (runs copied into one staging span) vs one write per run.",
    ),
  ],
];

// ---- chart ------------------------------------------------------------------------------------

function escapeXml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Grouped bars: a group per runtime and chunk size, a bar per case, chunks/s. */
export function chartSvg(throughput) {
  const cases = [...CHANNELS, ...PEERS];
  const names = {
    "channel-write": "Channel write()",
    "channel-getmemory": "Channel getMemory()",
    "whatwg-transform": "WHATWG TransformStream",
    "whatwg-pipeto": "WHATWG pipeTo",
    "node-transform": "node:stream Transform",
    "node-passthrough": "node:stream PassThrough",
  };
  const colors = ["#1f6feb", "#58a6ff", "#d1242f", "#fb8f44", "#1a7f37", "#6fdd8b"];
  const groups = [];
  for (const runtime of RUNTIMES) {
    const report = throughput[runtime];
    if (!report) continue;
    for (const size of [1024, 4096]) {
      const bars = cases.map((c) => report.rows.find((r) => r.chunkSize === size && r.case === c));
      if (bars.some(Boolean)) groups.push({ label: `${runtime} · ${size / 1024} KiB`, bars });
    }
  }
  const width = 960;
  const height = 480;
  const m = { left: 70, right: 20, top: 70, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => (b?.chunksPerSec ?? 0) / 1e6)));
  const step = [0.5, 1, 2, 5, 10, 20, 50].find((s) => max / s <= 8) ?? 100;
  const top = Math.ceil(max / step) * step;
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<title>Channel vs peers: million chunks per second at 1 KiB and 4 KiB, per runtime</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${
      width / 2
    }" y="20" text-anchor="middle" font-size="15" font-weight="bold">Channel vs peers: chunks/s through one stage (higher is better)</text>`,
  ];
  for (let v = 0; v <= top + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${m.left}" y1="${yy}" x2="${width - m.right}" y2="${yy}" stroke="#d0d7de" stroke-width="1"/>`,
      `<text x="${m.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${
        Number(v.toFixed(2))
      }</text>`,
    );
  }
  out.push(
    `<text transform="translate(18 ${
      m.top + plotH / 2
    }) rotate(-90)" text-anchor="middle" fill="#24292f">million chunks per second</text>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#24292f"/>`,
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${width - m.right}" y2="${m.top + plotH}" stroke="#24292f"/>`,
  );
  const groupW = plotW / Math.max(1, groups.length);
  const barW = (groupW * 0.8) / cases.length;
  groups.forEach((g, gi) => {
    const x0 = m.left + gi * groupW + groupW * 0.1;
    g.bars.forEach((bar, bi) => {
      if (!bar) return;
      const v = bar.chunksPerSec / 1e6;
      const x = x0 + bi * barW;
      const noisy = bar.spreadPercent > NOISY;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${
          (m.top + plotH - y(v)).toFixed(1)
        }" fill="${colors[bi]}"${noisy ? ' fill-opacity="0.5" stroke="#24292f" stroke-dasharray="2 2"' : ""}><title>${
          escapeXml(
            `${g.label}, ${names[cases[bi]]}: ${v.toFixed(2)} M chunks/s (spread ±${bar.spreadPercent.toFixed(1)}%)`,
          )
        }</title></rect>`,
      );
      if (noisy) {
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle">†</text>`);
      }
    });
    out.push(
      `<text x="${(m.left + gi * groupW + groupW / 2).toFixed(1)}" y="${
        m.top + plotH + 18
      }" text-anchor="middle" fill="#24292f">${escapeXml(g.label)}</text>`,
    );
  });
  out.push(
    `<text x="${m.left + plotW / 2}" y="${
      height - 14
    }" text-anchor="middle" fill="#24292f">runtime · chunk size (bench/channel_throughput.ts; † = spread above ±${NOISY}%)</text>`,
  );
  const legendW = plotW / 3;
  cases.forEach((c, i) => {
    const lx = m.left + (i % 3) * legendW;
    const ly = 34 + Math.floor(i / 3) * 16;
    out.push(
      `<rect x="${lx.toFixed(1)}" y="${ly}" width="12" height="12" fill="${colors[i]}"/>`,
      `<text x="${(lx + 17).toFixed(1)}" y="${ly + 10}">${escapeXml(names[c])}</text>`,
    );
  });
  if (groups.length === 0) {
    out.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">No results: run npm run bench</text>`);
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

// ---- report -----------------------------------------------------------------------------------

/** Writes bench/REPORT.md and bench/chart.svg; returns their paths. */
export function writeBenchReport({ command } = {}) {
  const loaded = Object.fromEntries(
    SECTIONS.map(([benchmark]) => [
      benchmark,
      Object.fromEntries(RUNTIMES.map((r) => [r, load(r, benchmark)]).filter(([, v]) => v !== undefined)),
    ]),
  );
  const all = Object.values(loaded).flatMap((byRuntime) => Object.values(byRuntime));
  const dates = all.map((r) => r.date).sort();
  const versions = RUNTIMES.map((r) => all.find((x) => x.runtime === r)?.runtimeVersion).filter(Boolean);
  const quick = all.some((r) => r.args.includes("--quick"));
  const argsOf = (benchmark) =>
    RUNTIMES.filter((r) => loaded[benchmark][r])
      .map((r) => `${r}: ${loaded[benchmark][r].args.join(" ") || "(none)"}`)
      .join("; ");
  const lines = [
    "# Benchmark report",
    "",
    "Generated by `scripts/bench_report.mjs` from `bench/results/*.json`" +
    (command ? ` after \`${command}\`` : "") +
    ". Regenerate with `npm run bench` (full: 256 MiB per throughput run, a long while) or",
    "`npm run bench -- --quick` (a few minutes); `node scripts/bench_report.mjs` rewrites this file and",
    "`bench/chart.svg` from the JSON already there.",
    "",
    `- Machine: ${machine()}`,
    `- Runtimes: ${versions.join("; ") || "none"}`,
    `- Date: ${dates.length ? `${dates[0]} to ${dates[dates.length - 1]}` : "no results"}`,
    `- Run: ${
      quick ? "`--quick` (shorter samples: expect more noise than a full run)" : "full"
    }; per-benchmark arguments below`,
    "- Node runs the tsc build in `dist-bench/`; Deno and Bun run `bench/*.ts` directly.",
    `- Ratios are printed as measured. † marks a cell where a measurement behind it has a spread (half the`,
    `  inter-quartile range over the median) above ±${NOISY}%; the worst spread is in brackets. One machine, one`,
    "  run: read these as shapes, not promises.",
    "",
    "![Channel vs peers, chunks/s at 1 KiB and 4 KiB](chart.svg)",
    "",
  ];
  for (const [benchmark, title, section] of SECTIONS) {
    const reports = loaded[benchmark];
    lines.push(`## ${title} (\`bench/${benchmark}.ts\`)`, "");
    if (Object.keys(reports).length === 0) {
      lines.push("_No results: run `npm run bench`._", "");
      continue;
    }
    lines.push(`Arguments: ${argsOf(benchmark)}.`, "", section(reports), "");
  }
  const reportPath = join(root, "bench", "REPORT.md");
  const chartPath = join(root, "bench", "chart.svg");
  writeFileSync(reportPath, lines.join("\n").replace(/\n+$/, "\n"));
  writeFileSync(chartPath, chartSvg(loaded.channel_throughput));
  // Both files are committed and have to pass `deno fmt --check` (prose wrap, padded tables,
  // markup layout): let the deno devDependency format them rather than imitate it here.
  const deno = join(root, "node_modules", ".bin", process.platform === "win32" ? "deno.cmd" : "deno");
  const formatted = existsSync(deno)
    ? spawnSync(deno, ["fmt", "--quiet", reportPath, chartPath], { cwd: root })
    : undefined;
  if (formatted?.status !== 0) {
    console.warn("bench/REPORT.md and bench/chart.svg are not formatted: run `npx deno fmt bench/`");
  }
  return [reportPath, chartPath];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const written = writeBenchReport();
  console.log(`Wrote ${written.join(" and ")}`);
}
