/**
 * Length-prefixed JSON RPC over TCP. Each message is one frame: a 4-byte big-endian length,
 * then UTF-8 JSON (`lengthPrefixed()`, tokio's `LengthDelimitedCodec` default). Requests
 * carry an `id` so the client can have many in flight on one connection and match the
 * answers, which may come back in any order.
 *
 * ```text
 * | 00 00 00 1d | {"id":1,"method":"add","params":[1,2]} |  →  | 00 00 00 0f | {"id":1,"result":3} |
 * ```
 *
 * Run the server: `deno run -A examples/rpc.ts --port 7008` (or `bun examples/rpc.ts --port 7008`).
 * Call it:        `deno run -A examples/rpc.ts client --port 7008 add 1 2`.
 * Check both:     `deno run -A examples/rpc.ts --self-test` (prints "ok").
 *
 * @module
 */

import assert from "node:assert/strict";
import process from "node:process";
import { type Connection, lengthPrefixed, readFrames, Utf8Decoder, writeFrame } from "../mod.ts";
import { adapter, parseArgs, runSelfTest } from "./_runtime.ts";

/** A call. */
interface RpcRequest {
  id: number;
  method: string;
  params: unknown[];
}

/** An answer: `result` on success, `error` (a message) on failure. */
interface RpcResponse {
  id: number;
  result?: unknown;
  error?: string;
}

const encoder = new TextEncoder();
// Bounded by default: a frame announcing more than 1 MiB fails before any of it is buffered.
const framer = lengthPrefixed({ lengthFieldLength: 4, maxFrameLength: 1024 * 1024 });

const methods: Record<string, (...params: unknown[]) => unknown | Promise<unknown>> = {
  add: (...params) => params.reduce<number>((sum, value) => sum + Number(value), 0),
  echo: (...params) => params,
  upper: (text) => String(text).toUpperCase(),
  sleep: async (ms) => {
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    return Number(ms);
  },
};

/**
 * Serves one connection: each request runs at once (answers go out as they finish), the
 * connection ends after the client half-closes and every answer is written.
 * @param connection The accepted connection.
 */
async function serveRpc(connection: Connection): Promise<void> {
  const text = new Utf8Decoder({ fatal: true });
  const pending: Promise<void>[] = [];
  for await (const frame of readFrames(connection.input, framer)) {
    // Decoded straight from pool memory; `frame` dies at the next step, the string does not.
    const request = JSON.parse(text.decode(frame)) as RpcRequest;
    pending.push(answer(connection, request));
  }
  await Promise.all(pending);
  connection.output.complete();
}

async function answer(connection: Connection, request: RpcRequest): Promise<void> {
  let response: RpcResponse;
  try {
    const method = methods[request.method];
    if (method === undefined) {
      throw new TypeError(`Cannot call the method as it does not exist: received ${request.method}`);
    }
    response = { id: request.id, result: await method(...request.params) };
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  writeFrame(connection.output, framer, encoder.encode(JSON.stringify(response)));
  await connection.output.flush();
}

/** A client: many calls in flight on one connection, answers matched by `id`. */
class RpcClient {
  #connection: Connection;
  #nextId = 1;
  #waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #reading: Promise<void>;

  constructor(connection: Connection) {
    this.#connection = connection;
    this.#reading = this.#readAnswers();
  }

  /**
   * Calls a method on the server.
   * @param method The method's name.
   * @param params Its parameters.
   * @returns The result; rejects with the server's error message.
   */
  async call(method: string, ...params: unknown[]): Promise<unknown> {
    const id = this.#nextId++;
    const answered = new Promise<unknown>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    writeFrame(this.#connection.output, framer, encoder.encode(JSON.stringify({ id, method, params })));
    await this.#connection.output.flush();
    return await answered;
  }

  /** Half-closes, waits for the last answers, and closes the connection. */
  async close(): Promise<void> {
    this.#connection.output.complete();
    await this.#reading;
    await this.#connection.close();
  }

  async #readAnswers(): Promise<void> {
    const text = new Utf8Decoder({ fatal: true });
    try {
      for await (const frame of readFrames(this.#connection.input, framer)) {
        const response = JSON.parse(text.decode(frame)) as RpcResponse;
        const waiter = this.#waiting.get(response.id);
        this.#waiting.delete(response.id);
        if (response.error !== undefined) waiter?.reject(new Error(response.error));
        else waiter?.resolve(response.result);
      }
    } finally {
      for (const waiter of this.#waiting.values()) {
        waiter.reject(new Error("Cannot get an answer as the connection ended"));
      }
      this.#waiting.clear();
    }
  }
}

const args = parseArgs(7008);

if (args.selfTest) {
  await runSelfTest(async () => {
    await using listener = await adapter.listen({ hostname: "127.0.0.1", port: 0 }, serveRpc);
    const client = new RpcClient(await adapter.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
    // The slow call answers last: answers are matched by id, not by order.
    const [slow, sum, upper, big] = await Promise.all([
      client.call("sleep", 50),
      client.call("add", 1, 2, 3),
      client.call("upper", "héllo"),
      client.call("echo", "x".repeat(200_000)),
    ]);
    assert.equal(slow, 50);
    assert.equal(sum, 6);
    assert.equal(upper, "HÉLLO");
    assert.deepEqual(big, ["x".repeat(200_000)]);
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => client.call("add", i, i)));
    assert.deepEqual(many, Array.from({ length: 500 }, (_, i) => 2 * i));
    await assert.rejects(client.call("nope"), /does not exist/);
    await client.close();
  });
} else if (args.rest[0] === "client") {
  const [, method = "add", ...params] = args.rest;
  const client = new RpcClient(await adapter.connect({ hostname: "127.0.0.1", port: args.port }));
  try {
    const values = params.map((p) => (Number.isNaN(Number(p)) ? p : Number(p)));
    console.log(JSON.stringify(await client.call(method, ...values)));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  } finally {
    await client.close();
  }
} else {
  const listener = await adapter.listen({ hostname: "127.0.0.1", port: args.port }, serveRpc);
  console.log(`RPC server on ${listener.addr.hostname}:${listener.addr.port} (Ctrl-C to stop)`);
}
