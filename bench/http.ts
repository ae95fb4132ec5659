// HTTP/1.1 plaintext: ./http1 (serveHttp on this runtime's TCP adapter) against the runtime's
// own server, driven by wrk.
//
//   deno run -A bench/http.ts [--duration 5] [--reps 3] [--connections 64] [--depth 16] [--quick] [--no-pin]
//   bun bench/http.ts …
//   node dist-bench/bench/http.js …   (after tsc -p tsconfig.bench.json)
//
// Both servers run as child processes of this runtime (this script with `--serve <name>`),
// answer `GET /plaintext` with `Hello, World!` (text/plain, with Date and Content-Length), and
// are measured alternately, the order rotating each round: `wrk -t1 -c64 -d5s`, then the same
// with 16 requests per write (a Lua script, as TechEmpower's pipelined plaintext). Baselines,
// each as its best user writes it: Deno.serve with a handler returning `new Response`;
// Bun.serve with a `fetch` handler (and, as a diagnostic row, a static `routes` Response that
// runs no JavaScript per request); node:http with `writeHead` + `end` (and, as a diagnostic row,
// a node:net server that writes a fixed reply per request end without parsing: the ceiling of
// any JavaScript server on node:net). With `taskset`, servers
// run on CPU 0 and wrk on CPU 1 (as issue 14 measured; `--no-pin` lets the OS place them, which
// changes the picture for runtimes with helper threads on a machine shared with other work). Besides req/s (the median of the rounds) it reports the
// server's CPU time per request (user + system, from /proc), steadier than req/s on a machine
// shared with other work. Needs wrk (Debian package `wrk`); without it the script says so and
// exits 0.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Connection, ConnectionHandler, Listener, ListenOptions } from "../mod.ts";
import { serveHttp } from "../src/http1/mod.ts";
import {
  flag,
  fmt,
  fmtRatio,
  markdownTable,
  median,
  newReport,
  numberOption,
  printHeader,
  runtime,
  stringOption,
  writeReport,
} from "./_util.ts";

const BODY = "Hello, World!";

// ---- the servers (child processes) ----

interface Adapter {
  listen(options: ListenOptions, handler: ConnectionHandler): Promise<Listener>;
}

interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void },
    handler: () => Response,
  ): unknown;
}
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch?: () => Response;
    routes?: Record<string, Response>;
  }): { port: number };
}

async function serve(name: string): Promise<number> {
  const hostname = "127.0.0.1";
  if (name === "channels") {
    const adapter: Adapter = runtime() === "deno"
      ? await import("../src/adapters/deno.ts")
      : runtime() === "bun"
      ? await import("../src/adapters/bun.ts")
      : await import("../src/adapters/node.ts");
    const listener = await adapter.listen(
      { hostname, port: 0 },
      (connection: Connection) =>
        serveHttp(connection, (_request, response) => {
          response.setHeader("Content-Type", "text/plain");
          response.end(BODY);
        }),
    );
    return listener.addr.port;
  }
  if (runtime() === "deno") {
    const deno = (globalThis as unknown as { Deno: DenoServe }).Deno;
    return await new Promise<number>((resolve) => {
      deno.serve(
        { hostname, port: 0, onListen: (addr) => resolve(addr.port) },
        () => new Response(BODY, { headers: { "content-type": "text/plain" } }),
      );
    });
  }
  if (runtime() === "bun") {
    const bun = (globalThis as unknown as { Bun: BunServe }).Bun;
    if (name === "static") {
      return bun.serve({
        hostname,
        port: 0,
        routes: { "/plaintext": new Response(BODY, { headers: { "content-type": "text/plain" } }) },
      }).port;
    }
    return bun.serve({
      hostname,
      port: 0,
      fetch: () => new Response(BODY, { headers: { "content-type": "text/plain" } }),
    })
      .port;
  }
  if (name === "raw") {
    // The ceiling for any HTTP server in JavaScript on node:net: no parsing, a fixed reply per
    // request end ("\r\n\r\n") in each chunk; wrk writes whole requests, so none straddles chunks.
    const net = await import("node:net");
    const reply = new TextEncoder().encode(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: ${
        new Date().toUTCString()
      }\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
    );
    const server = net.createServer((socket) => {
      socket.on("error", () => {}); // wrk resets its connections at the end
      socket.on("data", (chunk: Uint8Array) => {
        let count = 0;
        for (let at = chunk.indexOf(13); at >= 0 && at + 3 < chunk.length; at = chunk.indexOf(13, at + 1)) {
          if (chunk[at + 1] === 10 && chunk[at + 2] === 13 && chunk[at + 3] === 10) count++;
        }
        if (count === 1) socket.write(reply);
        else if (count > 1) {
          const out = new Uint8Array(reply.length * count);
          for (let k = 0; k < count; k++) out.set(reply, k * reply.length);
          socket.write(out);
        }
      });
    });
    return await new Promise<number>((resolve) => {
      server.listen(0, hostname, () => resolve((server.address() as { port: number }).port));
    });
  }
  const http = await import("node:http");
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    response.end(BODY);
  });
  return await new Promise<number>((resolve) => {
    server.listen(0, hostname, () => resolve((server.address() as { port: number }).port));
  });
}

// ---- the driver ----

interface Server {
  name: string;
  label: string;
  pid: number;
  port: number;
  stop(): void;
}

interface Sample {
  rps: number;
  cpuUsPerRequest: number;
}

function has(command: string): boolean {
  try {
    execFileSync("/bin/sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function start(name: string, label: string, pin: boolean): Promise<Server> {
  const script = fileURLToPath(import.meta.url);
  const own = runtime() === "deno" ? ["run", "-A", script] : [script];
  const command = pin ? "taskset" : process.execPath;
  const argv = pin ? ["-c", "0", process.execPath, ...own, "--serve", name] : [...own, "--serve", name];
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening on [\d.]+:(\d+)/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once(
      "exit",
      (code) => reject(new Error(`Cannot start the ${name} server as it exited with ${code}: ${out}`)),
    );
  });
  return { name, label, pid: child.pid as number, port, stop: () => child.kill("SIGTERM") };
}

function cpuTicks(pid: number): number {
  // /proc/<pid>/stat: utime and stime are fields 14 and 15 (after the parenthesised name).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function wrk(server: Server, seconds: number, connections: number, script: string | undefined, pin: boolean): Sample {
  const wrkArgs = [
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    ...(script ? ["-s", script] : []),
    `http://127.0.0.1:${server.port}/plaintext`,
  ];
  const before = cpuTicks(server.pid);
  const out = execFileSync(pin ? "taskset" : "wrk", pin ? ["-c", "1", "wrk", ...wrkArgs] : wrkArgs, {
    encoding: "utf8",
  });
  const after = cpuTicks(server.pid);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (non2xx !== undefined) {
    throw new Error(`Cannot trust the ${server.label} run as it had ${non2xx} non-2xx responses`);
  }
  if (errors !== undefined && !/connect 0, read 0, write 0, timeout 0/.test(errors)) {
    console.log(`  (${server.label}: socket errors ${errors})`);
  }
  return { rps, cpuUsPerRequest: ((after - before) / CLOCK_TICKS) * 1e6 / requests };
}

async function main(): Promise<void> {
  const quick = flag("quick");
  const seconds = numberOption("duration", quick ? 3 : 5);
  const reps = Math.round(numberOption("reps", quick ? 2 : 3));
  const connections = Math.round(numberOption("connections", 64));
  const depth = Math.round(numberOption("depth", 16));
  const method = [
    `wrk -t1 -c${connections} -d${seconds}s on GET /plaintext; then ${depth} requests per write (pipelined)`,
    `${reps} rounds, servers alternating, order rotating; median req/s, server CPU µs per request`,
    "channels: serveHttp on this runtime's TCP adapter; native: Deno.serve / Bun.serve fetch / node:http",
  ];
  printHeader("HTTP/1.1 plaintext: ./http1 vs the runtime's own server", method);
  const report = newReport("http", method);
  if (!has("wrk")) {
    console.log("wrk is not installed (apt-get install wrk): nothing measured");
    return;
  }
  const pin = has("taskset") && (globalThis.navigator?.hardwareConcurrency ?? 1) >= 2 && !flag("no-pin");
  report.method.push(
    pin ? "servers pinned to CPU 0, wrk to CPU 1 (taskset)" : "not pinned (the OS places servers and wrk)",
  );
  const dir = mkdtempSync(join(tmpdir(), "bench-http-"));
  const pipeline = join(dir, "pipeline.lua");
  writeFileSync(
    pipeline,
    `init = function(args)\n  local r = {}\n  for i = 1, ${depth} do r[i] = wrk.format(nil, "/plaintext") end\n  req = table.concat(r)\nend\nrequest = function() return req end\n`,
  );
  const nativeLabel = { deno: "Deno.serve", bun: "Bun.serve (fetch)", node: "node:http" }[runtime()];
  const servers: Server[] = [
    await start("channels", `channels ./http1 (./${runtime()})`, pin),
    await start("native", nativeLabel, pin),
  ];
  if (runtime() === "bun") servers.push(await start("static", "Bun.serve (static route, diagnostic)", pin));
  if (runtime() === "node") servers.push(await start("raw", "node:net fixed reply (ceiling, diagnostic)", pin));
  const modes: [string, string | undefined][] = [["plaintext", undefined], [`pipelined ${depth}`, pipeline]];
  const samples = new Map<string, Sample[]>();
  try {
    for (const server of servers) for (const [, script] of modes) wrk(server, 1, connections, script, pin); // warm-up
    for (let round = 0; round < reps; round++) {
      for (const [mode, script] of modes) {
        for (let k = 0; k < servers.length; k++) {
          const server = servers[(k + round) % servers.length] as Server;
          const sample = wrk(server, seconds, connections, script, pin);
          const key = `${mode}\u0000${server.name}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          console.log(
            `  ${mode.padEnd(12)} ${server.label.padEnd(36)} ${fmt(sample.rps)} req/s, ${
              fmt(sample.cpuUsPerRequest)
            } µs CPU/req`,
          );
        }
      }
    }
  } finally {
    for (const server of servers) server.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  for (const [mode] of modes) {
    const ours = samples.get(`${mode}\u0000channels`) ?? [];
    const oursRps = median(ours.map((s) => s.rps));
    const oursCpu = median(ours.map((s) => s.cpuUsPerRequest));
    for (const server of servers) {
      const list = samples.get(`${mode}\u0000${server.name}`) ?? [];
      const rps = median(list.map((s) => s.rps));
      const cpu = median(list.map((s) => s.cpuUsPerRequest));
      rows.push([
        mode,
        server.label,
        fmt(rps),
        server.name === "channels" ? "—" : fmtRatio(oursRps / rps),
        fmt(cpu),
        server.name === "channels" ? "—" : fmtRatio(cpu / oursCpu),
      ]);
      report.rows.push({ mode, server: server.label, rps, cpuUsPerRequest: cpu, samples: list });
    }
    const native = samples.get(`${mode}\u0000native`) ?? [];
    report.summary.push({
      title: `HTTP ${mode} (wrk -c${connections}): ./http1 req/s ÷ ${nativeLabel}`,
      rows: [{
        label: `${mode}`,
        value: fmtRatio(oursRps / median(native.map((s) => s.rps))),
        number: oursRps / median(native.map((s) => s.rps)),
      }],
    });
  }
  console.log("");
  console.log(
    markdownTable([" mode", " server", "req/s", "./http1 ÷ it", "CPU µs/req", "its CPU ÷ ./http1"], rows),
  );
  console.log(`\nreport: ${writeReport(report)}`);
}

if (stringOption("serve") !== undefined) {
  const port = await serve(stringOption("serve") as string);
  console.log(`listening on 127.0.0.1:${port}`);
} else {
  await main();
}
