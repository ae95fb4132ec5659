import assert from "node:assert/strict";
import * as net from "node:net";
import process from "node:process";
import { describe, it } from "node:test";
import * as node from "../src/adapters/node.ts";
import { readIntoCallerMemory } from "../src/adapters/_node_onread.ts";
import { tcpCases } from "./_tcp_cases.ts";
import { concat } from "./_util.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const onNode = process.versions.node !== undefined && g.Bun === undefined && g.Deno === undefined;
const skip = onNode ? false : "runs under Node only (node --test dist/tests/node_adapter_test.js)";

// Skipped as a suite where the runner shows the reason (Node, Deno); case by case under Bun.
describe("node adapter (node:net, node:tls)", { skip: g.Bun === undefined ? skip : false }, () => {
  tcpCases(node, { resets: true }, skip);
});

/** A node:net server whose accepted socket goes to `accepted`, and a client connected to it. */
async function pair(accepted: (socket: net.Socket) => void): Promise<{ client: net.Socket; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true }, accepted);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => client.once("connect", resolve).once("error", reject));
  return { client, close: () => (client.destroy(), server.close()) };
}

// Node's internals (see src/adapters/_node_onread.ts): these cases fail on a Node release that
// changed them, so the adapter is not left silently copying. Every runtime's node:net runs them;
// only Node must take the path (Bun's node:net declines it and keeps `data` events).
describe("accepted node:net sockets read into caller memory (_node_onread.ts)", () => {
  it("reads into the views given, in order, and the end of stream comes as before", async () => {
    const message = new Uint8Array(10000).map((_, i) => (i * 7) & 0xff);
    const views: Uint8Array[] = [];
    const received: number[] = [];
    let adopted: boolean | undefined;
    const got: Uint8Array[] = [];
    let ended!: () => void;
    const endedPromise = new Promise<void>((resolve) => (ended = resolve));
    const { client, close } = await pair((socket) => {
      let last: Uint8Array | undefined;
      adopted = readIntoCallerMemory(socket, () => {
        // Small views, so the message takes many reads.
        last = new Uint8Array(1000);
        views.push(last);
        return last;
      }, (byteCount) => {
        received.push(byteCount);
        got.push((last as Uint8Array).slice(0, byteCount));
        return true;
      });
      if (!adopted) socket.on("data", (chunk: Uint8Array) => got.push(Uint8Array.from(chunk)));
      socket.on("end", () => ended());
    });
    try {
      if (onNode) assert.equal(adopted, true, "Node's accepted sockets can no longer read into caller memory");
      client.end(message);
      await endedPromise;
      const all = concat(got);
      assert.deepEqual(all, message);
      if (adopted) {
        assert.ok(received.length >= 10, `${received.length} reads of at most 1000 bytes`);
        assert.ok(received.every((n) => n > 0 && n <= 1000));
        // One view for the first read, then one after each read.
        assert.equal(views.length, received.length + 1);
      }
    } finally {
      close();
    }
  });

  it("a callback that returns false stops reading until resume()", async () => {
    let reads = 0;
    let total = 0;
    let adopted = false;
    let accepted: net.Socket | undefined;
    let done!: () => void;
    const donePromise = new Promise<void>((resolve) => (done = resolve));
    const { client, close } = await pair((socket) => {
      accepted = socket;
      adopted = readIntoCallerMemory(socket, () => new Uint8Array(100), (byteCount) => {
        reads++;
        total += byteCount;
        if (total === 300) done();
        return reads > 1; // the first read pauses
      });
    });
    try {
      if (!adopted) {
        assert.equal(onNode, false);
        return;
      }
      client.write(new Uint8Array(100));
      while (reads === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      client.write(new Uint8Array(200));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(reads, 1, "read on while paused");
      accepted?.resume();
      await donePromise;
      assert.equal(total, 300);
    } finally {
      close();
    }
  });

  it("declines a socket that already reads with onread, changing nothing", async () => {
    const { client, close } = await pair(() => {});
    const port = client.remotePort as number;
    const other = net.connect({
      port,
      host: "127.0.0.1",
      onread: { buffer: new Uint8Array(16), callback: () => true },
    });
    try {
      await new Promise<void>((resolve, reject) => other.once("connect", resolve).once("error", reject));
      assert.equal(readIntoCallerMemory(other, () => new Uint8Array(8), () => true), false);
    } finally {
      other.destroy();
      close();
    }
  });
});
