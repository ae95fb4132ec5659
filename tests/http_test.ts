import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel, fromRequest, MemoryPool, type ReadableChannel, toResponse } from "../mod.ts";
import { concat, testSeed, withSeed } from "./_util.ts";

async function drain(reader: ReadableChannel): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { buffer, isCompleted } = await reader.read();
    parts.push(buffer.toUint8Array());
    reader.advanceTo(buffer.length);
    if (isCompleted) break;
  }
  reader.complete();
  return concat(parts);
}

describe("HTTP bodies", () => {
  it("fromRequest reads a request body and a response body byte for byte", async () => {
    await withSeed(testSeed(), async (random) => {
      const body = random.bytes(random.int(0, 200_000));
      const pool = new MemoryPool({ debug: true });
      const request = new Request("http://localhost/upload", { method: "POST", body });
      assert.deepEqual(await drain(fromRequest(request, { pool })), body);
      assert.deepEqual(await drain(fromRequest(new Response(body), { pool })), body);
      assert.equal(pool.stats().rentedBlocks, 0);
    });
  });

  it("an empty body reads as completed at once", async () => {
    const reader = fromRequest(new Request("http://localhost/"));
    const { buffer, isCompleted } = await reader.read();
    assert.equal(buffer.length, 0);
    assert.equal(isCompleted, true);
  });

  it("rejects a used body and what is not a Request or Response with TypeError", async () => {
    const request = new Request("http://localhost/", { method: "POST", body: "x" });
    await request.text();
    assert.throws(() => fromRequest(request), TypeError);
    assert.throws(() => fromRequest({} as Request), TypeError);
  });

  it("toResponse streams a channel with the given status and headers", async () => {
    const channel = new Channel();
    const response = toResponse(channel.reader, { status: 201, headers: { "x-kind": "channel" } });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-kind"), "channel");
    await channel.writer.writeUtf8("created");
    channel.writer.complete();
    assert.equal(await response.text(), "created");
  });

  it("a body writer that fails errors the response body", async () => {
    const channel = new Channel();
    const response = toResponse(channel.reader);
    channel.writer.complete(new Error("upstream failed"));
    await assert.rejects(response.text());
  });
});
