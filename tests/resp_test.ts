// RespClient against a real redis-server (started on a free loopback port by the test) through
// the current runtime's adapter (./deno, ./bun or ./node): every reply type, DEBUG PROTOCOL,
// binary and UTF-8 values, big values, errors, pipelining, pub/sub in RESP3 and RESP2,
// client-side caching pushes, AUTH and SELECT, close, and a server killed under load.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MemoryPool } from "../mod.ts";
import type { Listener } from "../src/connection.ts";
import { RespClient, type RespClientOptions, type RespConnection, RespError, type RespValue } from "../src/resp.ts";
import { type RedisServer, redisSkip, startRedis } from "./_redis_server.ts";
import { normal } from "./_resp_reference.ts";
import { adapter, runtime } from "./_runtime_adapter.ts";
import { Random, testSeed } from "./_util.ts";

const skip = redisSkip;
const MiB = 1024 * 1024;

let server: RedisServer;
const clients: RespClient[] = [];

async function open(options: RespClientOptions = {}, port = server.port, pool?: MemoryPool): Promise<RespClient> {
  const connection = await adapter.connect({ hostname: "127.0.0.1", port, ...(pool ? { pool } : {}) });
  const client = await RespClient.open(connection, options);
  clients.push(client);
  return client;
}

/** Waits until `check` holds (pushes arrive asynchronously). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 5) {
    if (waited > 5000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let keyCount = 0;
function key(name: string): string {
  return `${runtime}:${name}:${++keyCount}`;
}

describe("RespClient against redis-server", { skip }, () => {
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await server?.stop();
  });

  it("opens with HELLO 3 and answers PING", { skip }, async () => {
    const redis = await open();
    assert.equal(redis.protocol, 3);
    assert.equal(await redis.send(["PING"]), "PONG");
    const hello = await redis.send(["HELLO"]);
    assert.ok(hello instanceof Map);
    assert.equal(hello.get("proto"), 3);
    assert.equal(hello.get("server"), "redis");
  });

  it("maps every type DEBUG PROTOCOL makes the server emit in RESP3", { skip }, async () => {
    const pushes: RespValue[][] = [];
    const redis = await open({ onPush: (push) => pushes.push(push) });
    const expected: [string, unknown][] = [
      ["string", "Hello World"],
      ["integer", 12345],
      ["double", 3.141],
      ["bignum", 1234567999999999999999999999999999999n],
      ["null", null],
      ["array", [0, 1, 2]],
      ["set", new Set([0, 1, 2])],
      ["map", new Map([[0, false], [1, true], [2, false]])],
      ["attrib", "Some real reply following the attribute"],
      ["push", "Some real reply following the push reply"],
      ["verbatim", "This is a verbatim\nstring"],
      ["true", true],
      ["false", false],
    ];
    for (const [type, value] of expected) {
      assert.deepEqual(normal(await redis.send(["DEBUG", "PROTOCOL", type])), normal(value), type);
    }
    assert.deepEqual(pushes, [["server-cpu-usage", 42]]);
    // Pipelined, in one flush: the same, in order.
    const all = await Promise.all(expected.map(([type]) => redis.send(["DEBUG", "PROTOCOL", type])));
    assert.deepEqual(normal(all), normal(expected.map(([, value]) => value)));
    assert.equal(pushes.length, 2);
  });

  it("maps what DEBUG PROTOCOL emits in RESP2", { skip }, async () => {
    const redis = await open({ protocol: 2 });
    assert.equal(redis.protocol, 2);
    assert.equal(await redis.send(["DEBUG", "PROTOCOL", "double"]), "3.141");
    assert.equal(await redis.send(["DEBUG", "PROTOCOL", "bignum"]), "1234567999999999999999999999999999999");
    assert.deepEqual(await redis.send(["DEBUG", "PROTOCOL", "map"]), [0, 0, 1, 1, 2, 0]);
    assert.deepEqual(await redis.send(["DEBUG", "PROTOCOL", "set"]), [0, 1, 2]);
    assert.equal(await redis.send(["DEBUG", "PROTOCOL", "true"]), 1);
    assert.equal(await redis.send(["DEBUG", "PROTOCOL", "null"]), null);
    assert.equal(await redis.send(["DEBUG", "PROTOCOL", "verbatim"]), "This is a verbatim\nstring");
    const k = key("hash");
    await redis.send(["HSET", k, "a", "1", "b", "2"]);
    assert.deepEqual(await redis.send(["HGETALL", k]), ["a", "1", "b", "2"]);
  });

  it("maps replies of ordinary commands: nil, maps, sets, doubles, big integers", { skip }, async () => {
    const redis = await open();
    const k = key("k");
    assert.equal(await redis.send(["GET", k]), null);
    assert.equal(await redis.send(["SET", k, 42]), "OK");
    assert.equal(await redis.send(["INCR", k]), 43);
    assert.equal(await redis.send(["INCRBY", k, "9007199254740950"]), 9007199254740993n);
    const h = key("h");
    await redis.send(["HSET", h, "f1", "v1", "f2", "v2"]);
    assert.deepEqual(await redis.send(["HGETALL", h]), new Map([["f1", "v1"], ["f2", "v2"]]));
    const s = key("s");
    await redis.send(["SADD", s, "x", "y"]);
    assert.deepEqual(await redis.send(["SMEMBERS", s]), new Set(["x", "y"]));
    const z = key("z");
    await redis.send(["ZADD", z, 1.5, "a", "inf", "b"]);
    assert.equal(await redis.send(["ZSCORE", z, "a"]), 1.5);
    assert.equal(await redis.send(["ZSCORE", z, "b"]), Infinity);
    assert.deepEqual(await redis.send(["ZRANGE", z, 0, -1, "WITHSCORES"]), [["a", 1.5], ["b", Infinity]]);
    const l = key("l");
    const items = Array.from({ length: 10_000 }, (_, i) => `item-${i}`);
    await redis.send(["RPUSH", l, ...items]);
    assert.deepEqual(await redis.send(["LRANGE", l, 0, -1]), items);
  });

  it("sends and receives binary values (all 256 byte values) and multi-byte UTF-8", { skip }, async () => {
    const redis = await open();
    const all = new Uint8Array(256).map((_, i) => i);
    const k = key("binary");
    assert.equal(await redis.send(["SET", k, all]), "OK");
    assert.equal(await redis.send(["STRLEN", k]), 256);
    const bytes = await redis.send(["GET", k], { bytes: true });
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([...bytes], [...all]);
    assert.equal(await redis.send(["GET", k]), new TextDecoder().decode(all));
    const binaryKey = new Uint8Array([0, 0xff, 0x0d, 0x0a, 0x80]);
    await redis.send(["SET", binaryKey, "v"]);
    assert.equal(await redis.send(["GET", binaryKey]), "v");

    const text = "ünïcødé ✓ 日本語 😀 \u0000 \r\n end";
    const u = key("ünï ✓");
    await redis.send(["SET", u, text]);
    assert.equal(await redis.send(["STRLEN", u]), new TextEncoder().encode(text).length);
    assert.equal(await redis.send(["GET", u]), text);
    assert.deepEqual(await redis.send(["GET", u], { bytes: true }), new TextEncoder().encode(text));
    // Strings of every length class the writer has (short, one span, pieces), non-ASCII, some
    // cut inside a surrogate pair (a lone surrogate is sent as U+FFFD, as TextEncoder does).
    for (const n of [1, 23, 24, 25, 350, 700, 2500, 35_000]) {
      const long = "é✓😀a".repeat(n).slice(0, n * 2);
      const encoded = new TextEncoder().encode(long);
      await redis.send(["SET", u, long]);
      assert.equal(await redis.send(["STRLEN", u]), encoded.length, `length ${n * 2}`);
      assert.equal(await redis.send(["GET", u]), new TextDecoder().decode(encoded), `length ${n * 2}`);
    }
  });

  it("moves 100 KiB and 16 MiB values both ways, as bytes and as strings", { skip }, async () => {
    const redis = await open();
    const random = new Random(testSeed());
    for (const size of [100 * 1024, 16 * MiB]) {
      const value = random.bytes(size);
      const k = key(`big${size}`);
      assert.equal(await redis.send(["SET", k, value]), "OK");
      assert.equal(await redis.send(["STRLEN", k]), size);
      const back = await redis.send(["GET", k], { bytes: true });
      assert.ok(back instanceof Uint8Array);
      assert.equal(back.length, size);
      assert.ok(back.every((b, i) => b === value[i]), `${size} bytes come back unchanged (seed ${random.seed})`);
      const text = "ü".repeat(size / 2 - 1) + "ab";
      await redis.send(["SET", k, text]);
      assert.equal(await redis.send(["STRLEN", k]), size);
      assert.equal(await redis.send(["GET", k]), text);
    }
  });

  it("rejects an error reply with RespError and goes on", { skip }, async () => {
    const redis = await open();
    const k = key("str");
    await redis.send(["SET", k, "x"]);
    const [pushed, value, unknown, after] = await Promise.allSettled([
      redis.send(["LPUSH", k, "y"]),
      redis.send(["GET", k]),
      redis.send(["NOSUCHCOMMAND"]),
      redis.send(["GET", k]),
    ]);
    assert.equal(pushed.status, "rejected");
    const error = (pushed as PromiseRejectedResult).reason;
    assert.ok(error instanceof RespError);
    assert.equal(error.code, "WRONGTYPE");
    assert.equal(error.message, "WRONGTYPE Operation against a key holding the wrong kind of value");
    assert.deepEqual(value, { status: "fulfilled", value: "x" });
    assert.equal(unknown.status, "rejected");
    assert.match((unknown as PromiseRejectedResult).reason.message, /^ERR unknown command/);
    assert.deepEqual(after, { status: "fulfilled", value: "x" });
    // An error inside an aggregate is an element, not a rejection.
    await redis.send(["MULTI"]);
    await redis.send(["SET", k, "z"]);
    await redis.send(["LPUSH", k, "y"]);
    const exec = await redis.send(["EXEC"]) as RespValue[];
    assert.equal(exec[0], "OK");
    assert.ok(exec[1] instanceof RespError);
    assert.equal(exec[1].code, "WRONGTYPE");
  });

  it("rejects bad arguments without sending anything", { skip }, async () => {
    const redis = await open();
    await assert.rejects(redis.send([]), TypeError);
    await assert.rejects(redis.send(["SET", "k", {} as unknown as string]), {
      name: "TypeError",
      message: /every argument must be a string, a Uint8Array or a number \(2\): received \[object Object\]/,
    });
    await assert.rejects(redis.send(["SET", "k", NaN]), TypeError);
    assert.equal(await redis.send(["PING"]), "PONG");
  });

  it("matches 10,000 pipelined replies in order, sent in one tick and in one flush", { skip }, async () => {
    const connection = await adapter.connect({ hostname: "127.0.0.1", port: server.port });
    let flushes = 0;
    const output = connection.output;
    const counting: RespConnection = {
      input: connection.input,
      output: new Proxy(output, {
        get(target, name) {
          if (name === "flush") {
            return (...args: Parameters<typeof output.flush>) => {
              flushes++;
              return target.flush(...args);
            };
          }
          const value = Reflect.get(target, name, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
      close: () => connection.close(),
      closed: connection.closed,
    };
    const redis = await RespClient.open(counting);
    clients.push(redis);
    const k = key("counter");
    const before = flushes;
    const sends: Promise<RespValue>[] = [];
    for (let i = 0; i < 10_000; i++) {
      sends.push(i % 2 === 0 ? redis.send(["INCR", k]) : redis.send(["ECHO", `echo-${i}`]));
    }
    assert.equal(redis.pending, 10_000);
    const replies = await Promise.all(sends);
    assert.equal(flushes - before, 1, "one flush for the whole tick");
    for (let i = 0; i < 10_000; i++) {
      assert.equal(replies[i], i % 2 === 0 ? i / 2 + 1 : `echo-${i}`);
    }
  });

  it("delivers pub/sub pushes in RESP3, settles SUBSCRIBE once all confirmations arrived", { skip }, async () => {
    const pushes: RespValue[][] = [];
    const subscriber = await open({ onPush: (push) => pushes.push(push) });
    const publisher = await open();
    const ch = key("ch");
    const confirmations = await subscriber.send(["SUBSCRIBE", `${ch}:1`, `${ch}:2`]);
    assert.deepEqual(confirmations, [["subscribe", `${ch}:1`, 1], ["subscribe", `${ch}:2`, 2]]);
    assert.deepEqual(pushes, confirmations);
    assert.deepEqual(await subscriber.send(["PSUBSCRIBE", `${ch}:*`]), [["psubscribe", `${ch}:*`, 3]]);
    // RESP3 allows other commands on a subscribed connection; replies stay matched.
    const [get, ping] = await Promise.all([subscriber.send(["GET", ch]), subscriber.send(["PING"])]);
    assert.equal(get, null);
    assert.equal(ping, "PONG");
    pushes.length = 0;
    assert.equal(await publisher.send(["PUBLISH", `${ch}:1`, "hello"]), 2);
    await until(() => pushes.length === 2, "two messages");
    assert.deepEqual(pushes, [["message", `${ch}:1`, "hello"], ["pmessage", `${ch}:*`, `${ch}:1`, "hello"]]);
    // Argument-less UNSUBSCRIBE: one confirmation per channel, pipelined with a command after it.
    pushes.length = 0;
    const [unsubscribed, echo] = await Promise.all([
      subscriber.send(["UNSUBSCRIBE"]),
      subscriber.send(["ECHO", "after"]),
    ]);
    assert.equal((unsubscribed as RespValue[]).length, 2);
    assert.equal(echo, "after");
    assert.deepEqual(await subscriber.send(["PUNSUBSCRIBE"]), [["punsubscribe", `${ch}:*`, 0]]);
    assert.deepEqual(await subscriber.send(["UNSUBSCRIBE"]), [["unsubscribe", null, 0]]);
    // SUBSCRIBE and UNSUBSCRIBE of the same channel in one tick.
    const [sub, unsub, pong] = await Promise.all([
      subscriber.send(["SUBSCRIBE", ch]),
      subscriber.send(["UNSUBSCRIBE", ch]),
      subscriber.send(["PING"]),
    ]);
    assert.deepEqual([sub, unsub, pong], [[["subscribe", ch, 1]], [["unsubscribe", ch, 0]], "PONG"]);
    // Sharded pub/sub (Redis 7): its own count, its own confirmations.
    pushes.length = 0;
    assert.deepEqual(await subscriber.send(["SSUBSCRIBE", `${ch}:s`]), [["ssubscribe", `${ch}:s`, 1]]);
    assert.equal(await publisher.send(["SPUBLISH", `${ch}:s`, "sharded"]), 1);
    await until(() => pushes.length === 2, "a sharded message");
    assert.deepEqual(pushes[1], ["smessage", `${ch}:s`, "sharded"]);
    assert.deepEqual(await subscriber.send(["SUNSUBSCRIBE"]), [["sunsubscribe", `${ch}:s`, 0]]);
  });

  it("delivers pub/sub messages in RESP2 as pushes while subscribed", { skip }, async () => {
    const pushes: RespValue[][] = [];
    const subscriber = await open({ protocol: 2, onPush: (push) => pushes.push(push) });
    const publisher = await open({ protocol: 2 });
    const ch = key("ch2");
    assert.deepEqual(await subscriber.send(["SUBSCRIBE", ch, `${ch}:b`]), [["subscribe", ch, 1], [
      "subscribe",
      `${ch}:b`,
      2,
    ]]);
    assert.deepEqual(await subscriber.send(["PING"]), ["pong", ""]);
    pushes.length = 0;
    await publisher.send(["PUBLISH", ch, "hi"]);
    await publisher.send(["PUBLISH", `${ch}:b`, new Uint8Array([0xff, 0x00])]);
    await until(() => pushes.length === 2, "two messages");
    assert.deepEqual(pushes, [["message", ch, "hi"], ["message", `${ch}:b`, "\ufffd\u0000"]]);
    assert.equal((await subscriber.send(["UNSUBSCRIBE"]) as RespValue[]).length, 2);
    // Out of subscribed mode: ordinary replies again.
    const k = key("after");
    await subscriber.send(["RPUSH", k, "message", "x", "y"]);
    assert.deepEqual(await subscriber.send(["LRANGE", k, 0, -1]), ["message", "x", "y"]);
  });

  it("delivers client-side caching invalidations to onPush", { skip }, async () => {
    const pushes: RespValue[][] = [];
    const redis = await open({ onPush: (push) => pushes.push(push) });
    const other = await open();
    const k = key("tracked");
    await redis.send(["SET", k, "1"]);
    assert.equal(await redis.send(["CLIENT", "TRACKING", "on"]), "OK");
    assert.equal(await redis.send(["GET", k]), "1");
    await other.send(["SET", k, "2"]);
    await until(() => pushes.length === 1, "an invalidation");
    assert.deepEqual(pushes, [["invalidate", [k]]]);
  });

  it("closes cleanly when close() is called from onPush, mid-read", { skip }, async () => {
    let closing: Promise<void> | undefined;
    const pushes: RespValue[][] = [];
    const ch = key("closing");
    // A debug pool poisons released blocks: a read buffer released under the parser shows.
    const redis = await open(
      {
        onPush: (push) => {
          pushes.push(push);
          if (push[0] === "message") closing ??= redis.close(); // nothing pending: closes at once
        },
      },
      server.port,
      new MemoryPool({ debug: true }),
    );
    const publisher = await open();
    await redis.send(["SUBSCRIBE", ch]);
    // Two messages in one read: the second is parsed after close() was called.
    await publisher.send(["EVAL", "redis.call('PUBLISH', KEYS[1], 'a'); redis.call('PUBLISH', KEYS[1], 'b')", 1, ch]);
    await until(() => closing !== undefined, "a message");
    await closing;
    assert.deepEqual(pushes.slice(1), [["message", ch, "a"], ["message", ch, "b"]]);
    await assert.rejects(redis.send(["PING"]), { code: "CLIENT_CLOSED" });
  });

  it("authenticates and selects a database (RESP3 and RESP2)", { skip }, async () => {
    const admin = await open();
    const user = key("user").replaceAll(":", "-");
    await admin.send(["ACL", "SETUSER", user, "on", ">secret", "~*", "&*", "+@all"]);
    const k = key("db");
    await admin.send(["SELECT", 3]);
    await admin.send(["SET", k, "in db 3"]);
    for (const protocol of [3, 2] as const) {
      const redis = await open({ protocol, username: user, password: "secret", db: 3 });
      assert.equal(await redis.send(["ACL", "WHOAMI"]), user);
      assert.equal(await redis.send(["GET", k]), "in db 3");
    }
    const connection = await adapter.connect({ hostname: "127.0.0.1", port: server.port });
    await assert.rejects(RespClient.open(connection, { username: user, password: "wrong" }), {
      name: "RespError",
      code: "WRONGPASS",
    });
    await assert.rejects(RespClient.open(connection, { protocol: 4 as 3 }), RangeError);
  });

  it("close() waits for every pending reply, then later sends reject", { skip }, async () => {
    const pool = new MemoryPool();
    const redis = await open({}, server.port, pool);
    const k = key("close");
    const sends = Array.from({ length: 100 }, (_, i) => redis.send(["RPUSH", k, i]));
    const closing = redis.close();
    await assert.rejects(redis.send(["PING"]), { name: "ChannelStateError", code: "CLIENT_CLOSED" });
    assert.deepEqual(await Promise.all(sends), Array.from({ length: 100 }, (_, i) => i + 1));
    await closing;
    assert.equal(redis.close(), closing);
    assert.equal(pool.stats().rentedBlocks, 0);
  });

  it("rejects every pending send when the server is killed, and every later one", { skip }, async () => {
    const doomed = await startRedis();
    try {
      const redis = await open({}, doomed.port);
      // BLPOP blocks the connection, so everything after it waits in the server.
      const blocked = redis.send(["BLPOP", "nothing", 0]);
      const pending = Array.from({ length: 1000 }, (_, i) => redis.send(["SET", `k${i}`, "v"]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(redis.pending, 1001);
      const settling = Promise.allSettled([blocked, ...pending]);
      await doomed.kill();
      const settled = await settling;
      assert.ok(settled.every((s) => s.status === "rejected"), "all rejected");
      const reason = (settled[0] as PromiseRejectedResult).reason as Error;
      assert.match(
        reason.message,
        /^Cannot receive the reply as the (server closed the connection|connection failed): received 1001 pending commands$/,
      );
      assert.equal(redis.pending, 0);
      await assert.rejects(redis.send(["PING"]), (error) => error === reason);
      await redis.close();
    } finally {
      await doomed.stop();
    }
  });
});

// A server that answers each command with the next canned reply (raw bytes), to see what the
// client does with replies no real server sends.
async function cannedServer(replies: readonly string[]): Promise<Listener> {
  // onError: the client resets the connection once it gives up on it; that is expected here.
  return await adapter.listen({ hostname: "127.0.0.1", port: 0, onError: () => {} }, async (connection) => {
    let next = 0;
    let seen = 0;
    for (;;) {
      const { buffer, isCompleted } = await connection.input.read();
      // Commands start with "*" and nothing else in these tests contains one.
      seen += buffer.toUint8Array().filter((b) => b === 0x2a).length;
      connection.input.advanceTo(buffer.length);
      for (; next < seen && next < replies.length; next++) {
        const { isCompleted: gone } = await connection.output.writeUtf8(replies[next] as string);
        if (gone) return;
      }
      if (isCompleted) return;
    }
  });
}

describe("RespClient against replies no real server sends", () => {
  it("fails every pending send with a TypeError cause on malformed input, and nothing hangs", async () => {
    await using server = await cannedServer(["+OK\r\n", "?garbage\r\n"]);
    const redis = await RespClient.open(await adapter.connect({ port: server.addr.port }), { protocol: 2 });
    const sends = [redis.send(["PING"]), redis.send(["PING"]), redis.send(["PING"])];
    const settled = await Promise.allSettled(sends);
    assert.deepEqual(settled[0], { status: "fulfilled", value: "OK" });
    for (const s of settled.slice(1)) {
      assert.equal(s.status, "rejected");
      const reason = (s as PromiseRejectedResult).reason as Error;
      assert.match(reason.message, /^Cannot receive the reply as the connection failed: received 2 pending commands$/);
      assert.ok(reason.cause instanceof TypeError);
      assert.match((reason.cause as Error).message, /RESP type byte \(byte offset 5\): received "\?"/);
    }
    await assert.rejects(redis.send(["PING"]), (error) => error === (settled[1] as PromiseRejectedResult).reason);
    await redis.close();
  });

  it("fails with a RangeError cause when a reply passes a limit, before its payload arrives", async () => {
    await using server = await cannedServer(["$1000000\r\n"]);
    const redis = await RespClient.open(await adapter.connect({ port: server.addr.port }), {
      protocol: 2,
      maxBulkLength: 1000,
    });
    await assert.rejects(redis.send(["GET", "big"]), (error: Error) => {
      assert.ok(error.cause instanceof RangeError);
      assert.match(
        (error.cause as Error).message,
        /bulk string must be at most 1000 bytes \(byte offset 0\): received 1000000/,
      );
      return true;
    });
    await redis.close();
  });

  it("fails when a reply comes with no command pending", async () => {
    await using server = await cannedServer(["+OK\r\n+EXTRA\r\n"]);
    const redis = await RespClient.open(await adapter.connect({ port: server.addr.port }), { protocol: 2 });
    assert.equal(await redis.send(["PING"]), "OK");
    // "+EXTRA" came in the same read as "+OK": the client failed as it parsed it.
    await assert.rejects(redis.send(["PING"]), (error: Error) => {
      assert.match(String((error.cause as Error)?.message), /no command is pending: received "EXTRA"/);
      return true;
    });
    await redis.close();
  });

  it("rejects open when the server refuses HELLO, and closes the connection", async () => {
    await using server = await cannedServer(["-ERR unknown command 'HELLO'\r\n"]);
    const connection = await adapter.connect({ port: server.addr.port });
    await assert.rejects(RespClient.open(connection), { name: "RespError", message: "ERR unknown command 'HELLO'" });
    await connection.closed;
  });
});
