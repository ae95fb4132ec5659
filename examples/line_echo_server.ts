/**
 * A line echo server over TCP: each connection's bytes are cut into lines by the
 * `delimited()` framer (`readFrames`, a zero-copy slice per line, found by the SIMD search
 * on pool memory) and each line goes back with `writeFrame`, which appends the "\n". The
 * client half sends lines the same way and prints what comes back.
 *
 * Run the server: `deno run -A examples/line_echo_server.ts --port 7007` (or `bun examples/line_echo_server.ts --port 7007`).
 * Run a client:   `deno run -A examples/line_echo_server.ts client --port 7007 hello world`.
 * Check both:     `deno run -A examples/line_echo_server.ts --self-test` (prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Connection, delimited, readFrames, writeFrame } from "../mod.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Serves one connection: every line in, the same line out, until the client half-closes.
 * @param connection The accepted connection.
 */
async function echoLines(connection: Connection): Promise<void> {
  const framer = delimited({ delimiter: "\n", maxLength: 64 * 1024 });
  // `line` is a view of pool memory that dies at the next step: writeFrame copies it into the
  // output's pool memory before the loop moves on.
  for await (const line of readFrames(connection.input, framer)) {
    writeFrame(connection.output, framer, line);
    // A flush per line keeps the example short; it also waits while the client lags (backpressure).
    const { isCompleted } = await connection.output.flush();
    if (isCompleted) break;
  }
  connection.output.complete();
}

/**
 * Sends `lines`, half-closes, and returns the lines the server sent back.
 * @param port The server's port.
 * @param lines The lines to send (without "\n").
 * @returns The echoed lines.
 */
async function sendLines(port: number, lines: readonly string[]): Promise<string[]> {
  const connection = await adapter.connect({ hostname: "127.0.0.1", port });
  try {
    const framer = delimited();
    const sending = (async () => {
      for (const line of lines) {
        writeFrame(connection.output, framer, encoder.encode(line));
        await connection.output.flush(); // waits while the server lags: backpressure
      }
      connection.output.complete(); // half-close: the server's loop ends
    })();
    const echoed: string[] = [];
    for await (const line of readFrames(connection.input, framer)) {
      echoed.push(decoder.decode(line.toUint8Array())); // copy: `line` dies at the next step
    }
    await sending;
    return echoed;
  } finally {
    await connection.close();
  }
}

const args = parseArgs(7007);

if (args.selfTest) {
  await runSelfTest(async () => {
    await using listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 }, echoLines);
    const lines = ["hello", "", "ünïcødé ✓", "x".repeat(10_000)];
    for (let i = 0; i < 1000; i++) lines.push(`line ${i}`);
    assert.deepEqual(await sendLines(listener.addr.port, lines), lines);
  });
} else if (args.rest[0] === "client") {
  const lines = args.rest.length > 1 ? args.rest.slice(1) : ["hello", "world"];
  for (const line of await sendLines(args.port, lines)) console.log(line);
} else {
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: args.port }, echoLines);
  console.log(`line echo server on ${listener.addr.hostname}:${listener.addr.port} (Ctrl-C to stop)`);
}
