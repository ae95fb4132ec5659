/**
 * The examples' one runtime switch: the entry point of the runtime they run on (`./deno` on
 * Deno, `./bun` on Bun, `./node` otherwise), typed with the shapes every entry point shares,
 * plus the flags every example takes (`--port N`, `--self-test`).
 *
 * Not an example itself (the leading underscore).
 *
 * @module
 */

import process from "node:process";
import type {
  Connection,
  ConnectionHandler,
  ConnectOptions,
  Listener,
  ListenOptions,
  ReadableChannel,
} from "../mod.ts";
import type { FileOptions, FileReadableChannel, FileWritableChannel } from "../src/adapters/deno.ts";

/** What the examples use of an entry point; `./deno`, `./bun` and `./node` all offer it. */
export interface RuntimeAdapter {
  connect(options: ConnectOptions): Promise<Connection>;
  listen(
    options: ListenOptions & { onError?: (error: unknown) => void },
    handler: ConnectionHandler,
  ): Promise<Listener>;
  openFile(path: string | URL, options?: FileOptions): FileReadableChannel;
  createFile(path: string | URL, options?: FileOptions): FileWritableChannel;
}

/** Which runtime runs the example. */
export const runtimeName: "deno" | "bun" | "node" = "Bun" in globalThis
  ? "bun"
  : (globalThis as { Deno?: unknown }).Deno !== undefined
  ? "deno"
  : "node";

/** The current runtime's entry point. */
export const adapter: RuntimeAdapter = runtimeName === "deno"
  ? await import("../src/adapters/deno.ts")
  : runtimeName === "bun"
  ? await import("../src/adapters/bun.ts")
  : await import("../src/adapters/node.ts");

/** The flags every example takes. */
export interface ExampleArgs {
  /** `--port N`: the port to serve on (0 lets the system choose). */
  port: number;
  /** `--self-test`: serve on port 0, run a client against it, check, print "ok", exit. */
  selfTest: boolean;
  /** The arguments that are not flags. */
  rest: string[];
}

/**
 * Parses the command line (`--port N`, `--self-test`; everything else goes to `rest`).
 * @param defaultPort The port when `--port` is absent.
 * @returns The flags.
 * @throws {RangeError} When `--port` is not a port number.
 */
export function parseArgs(defaultPort: number): ExampleArgs {
  const args = process.argv.slice(2);
  let port = defaultPort;
  let selfTest = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--self-test") selfTest = true;
    else if (arg === "--port") port = Number(args[++i]);
    else if (arg.startsWith("--port=")) port = Number(arg.slice("--port=".length));
    else rest.push(arg);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot parse the arguments as --port must be 0 to 65535: received ${port}`);
  }
  return { port: selfTest ? 0 : port, selfTest, rest };
}

/**
 * Reads a channel to its end and returns a copy of every byte.
 * @param reader The reader; completed when this returns.
 * @returns The bytes.
 */
export async function readAll(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { buffer, isCompleted } = await reader.read();
    if (buffer.length > 0) parts.push(buffer.toUint8Array());
    total += buffer.length;
    reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  reader.complete();
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Ends a self-test: prints "ok" and exits 0, or prints the failure and exits 1.
 * @param check The self-test.
 */
export async function runSelfTest(check: () => Promise<void>): Promise<never> {
  try {
    await check();
    console.log("ok");
    process.exit(0);
  } catch (error) {
    console.error("self-test failed:", error);
    process.exit(1);
  }
}
