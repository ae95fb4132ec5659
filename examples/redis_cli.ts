/**
 * A tiny `redis-cli`: sends one command to a Redis server through `RespClient` (`./resp`) over
 * this runtime's TCP adapter, and prints the reply the way `redis-cli` does.
 *
 * Run:        `deno run -A examples/redis_cli.ts --port 6379 SET greeting hello`
 *             `bun examples/redis_cli.ts --port 6379 GET greeting` (prints `"hello"`)
 * Options:    `--host H` (127.0.0.1), `--resp2` (no HELLO 3), `--bytes` (bulk strings as bytes).
 * Check it:   `deno run -A examples/redis_cli.ts --self-test` starts a `redis-server` on a free
 *             port, runs commands against it and prints "ok".
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { RespClient, RespError, type RespValue } from "../src/resp.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

/** Formats a reply as `redis-cli` prints it: `"text"`, `(integer) 1`, `(nil)`, numbered lists. */
export function formatReply(value: RespValue, indent = ""): string {
  if (value === null) return "(nil)";
  if (value instanceof RespError) return `(error) ${value.message}`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? `(integer) ${value}`
      : `(double) ${value === Infinity ? "inf" : value === -Infinity ? "-inf" : value}`;
  }
  if (typeof value === "bigint") return `(integer) ${value}`;
  if (typeof value === "boolean") return value ? "(true)" : "(false)";
  if (value instanceof Uint8Array) return `(bytes) ${[...value].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`;
  const entries: string[] = [];
  if (value instanceof Map) {
    if (value.size === 0) return "(empty hash)";
    let n = 0;
    for (const [k, v] of value) {
      const prefix = `${++n}# `;
      const inner = indent + " ".repeat(prefix.length);
      entries.push(`${prefix}${formatReply(k, inner)} => ${formatReply(v, inner)}`);
    }
  } else {
    const items = value instanceof Set ? [...value] : value;
    if (items.length === 0) return value instanceof Set ? "(empty set)" : "(empty array)";
    items.forEach((item, i) => {
      const prefix = `${i + 1}) `;
      entries.push(prefix + formatReply(item, indent + " ".repeat(prefix.length)));
    });
  }
  return entries.join(`\n${indent}`);
}

/** Command-line flags of this example besides `--port`. */
interface CliFlags {
  host: string;
  protocol: 2 | 3;
  bytes: boolean;
  command: string[];
}

function cliFlags(rest: readonly string[]): CliFlags {
  const flags: CliFlags = { host: "127.0.0.1", protocol: 3, bytes: false, command: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (flags.command.length === 0 && arg === "--host") flags.host = rest[++i] ?? flags.host;
    else if (flags.command.length === 0 && arg === "--resp2") flags.protocol = 2;
    else if (flags.command.length === 0 && arg === "--bytes") flags.bytes = true;
    else flags.command.push(arg);
  }
  return flags;
}

/**
 * Sends one command and returns what to print; an error reply comes back as `(error) …`.
 *
 * @param port The server's port.
 * @param flags The host, protocol, bytes mode and the command.
 * @returns The formatted reply, and whether it was an error.
 */
async function run(port: number, flags: CliFlags): Promise<{ text: string; failed: boolean }> {
  const connection = await adapter.connect({ hostname: flags.host, port });
  const redis = await RespClient.open(connection, { protocol: flags.protocol });
  try {
    const reply = await redis.send(flags.command, { bytes: flags.bytes });
    return { text: formatReply(reply), failed: false };
  } catch (error) {
    if (error instanceof RespError) return { text: formatReply(error), failed: true };
    throw error;
  } finally {
    await redis.close();
  }
}

const args = parseArgs(6379);

if (args.selfTest) {
  await runSelfTest(async () => {
    // The harness the tests use: redis-server on a free loopback port, no persistence.
    const { startRedis } = await import("../tests/_redis_server.ts");
    const server = await startRedis();
    try {
      const port = server.port;
      const cli = async (...command: string[]) => (await run(port, cliFlags(command))).text;
      assert.equal(await cli("PING"), '"PONG"');
      assert.equal(await cli("SET", "greeting", "héllo ✓"), '"OK"');
      assert.equal(await cli("GET", "greeting"), '"héllo ✓"');
      assert.equal(await cli("--bytes", "GET", "greeting"), "(bytes) 68 c3 a9 6c 6c 6f 20 e2 9c 93");
      assert.equal(await cli("INCR", "visits"), "(integer) 1");
      assert.equal(await cli("GET", "missing"), "(nil)");
      assert.equal(await cli("RPUSH", "list", "a", "b"), "(integer) 2");
      assert.equal(await cli("LRANGE", "list", "0", "-1"), '1) "a"\n2) "b"');
      assert.equal(await cli("HSET", "h", "f", "v"), "(integer) 1");
      assert.equal(await cli("HGETALL", "h"), '1# "f" => "v"');
      assert.equal(await cli("--resp2", "HGETALL", "h"), '1) "f"\n2) "v"');
      assert.equal(await cli("DEBUG", "PROTOCOL", "double"), "(double) 3.141");
      assert.equal(
        await cli("LPUSH", "greeting", "x"),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value",
      );
    } finally {
      await server.stop();
    }
  });
} else {
  const flags = cliFlags(args.rest);
  if (flags.command.length === 0) {
    console.error("usage: redis_cli.ts [--port N] [--host H] [--resp2] [--bytes] COMMAND [ARG…]");
    process.exit(2);
  }
  const { text, failed } = await run(args.port, flags);
  console.log(text);
  process.exit(failed ? 1 : 0);
}
