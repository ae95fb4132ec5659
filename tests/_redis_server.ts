// Starts a real redis-server for a test (and the benchmark): a free loopback port, no
// persistence, DEBUG enabled for local clients; waits until it accepts connections.
// Not a test file (no _test suffix).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** A running server. */
export interface RedisServer {
  /** Its loopback port. */
  readonly port: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

/** The redis-server executable, or undefined when it is not installed. */
export function redisServerPath(): string | undefined {
  for (const path of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) if (existsSync(path)) return path;
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = found.status === 0 ? found.stdout.trim() : "";
  return path === "" ? undefined : path;
}

/** Why a test must skip: redis-server is missing (CI installs it, so there it never skips). */
export const redisSkip: string | false = redisServerPath() === undefined
  ? "redis-server is not installed (apt-get install redis-server)"
  : false;

/** A port no one listens on now (bound to port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts redis-server on a free loopback port with `--save "" --appendonly no
 * --enable-debug-command local` (and `extra` arguments).
 *
 * @returns The server, once it accepts connections.
 */
export async function startRedis(extra: readonly string[] = []): Promise<RedisServer> {
  const path = redisServerPath();
  if (path === undefined) throw new Error("Cannot start redis-server as it is not installed");
  const dir = mkdtempSync(join(tmpdir(), "channels-redis-"));
  for (let attempt = 0;; attempt++) {
    const port = await freePort();
    const child = spawn(path, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--enable-debug-command",
      "local",
      "--dir",
      dir,
      ...extra,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (output += text));
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await accepts(port)) {
        ready = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!ready) {
      child.kill("SIGKILL");
      await exited(child);
      // Another process may have taken the port between the probe and the start: try again.
      if (attempt < 3) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Cannot start redis-server on port ${port}: ${output.slice(-2000)}`);
    }
    // A test run that ends without its `after` hook (a timeout, a crash) must not leave the server behind.
    const onExit = () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", onExit);
    const stopWith = async (signal: "SIGTERM" | "SIGKILL") => {
      process.off("exit", onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited(child);
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    return { port, stop: () => stopWith("SIGTERM"), kill: () => stopWith("SIGKILL") };
  }
}
