// The Deno entry point: the shared TCP and TLS cases (tests/_tcp_cases.ts) through
// src/adapters/deno.ts, and what only Deno has. Skipped, visibly, on Bun and Node.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as deno from "../src/adapters/deno.ts";
import { MemoryPool } from "../mod.ts";
import { Buffer } from "node:buffer";
import { denoApi, type DenoConn } from "../src/adapters/_deno_api.ts";
import {
  allReturned,
  type Drained,
  errorCode,
  heldBytes,
  type RawPeers,
  type RawSocket,
  readAll,
  tcpCases,
  testCertificates,
  type TlsMaterial,
} from "./_tcp_cases.ts";

const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined && !("Bun" in globalThis);
const skip: string | false = isDeno ? false : "the Deno entry point needs Deno";

/**
 * A raw Deno TLS socket (Deno.connectTls / Deno.listenTls, not this library) as the shared
 * cases' peer: Deno's node:tls never reports the end of a socket paused by a slow reader.
 */
function denoRawSocket(conn: DenoConn, halfOpen: boolean): RawSocket {
  let failure: string | undefined;
  return {
    get failure() {
      return failure;
    },
    async drain(expected, slow, ackAt): Promise<Drained> {
      let bytes = 0;
      let matches = true;
      const buffer = new Uint8Array(slow ? 16384 : 65536);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          if (expected !== undefined && matches) {
            matches = bytes + n <= expected.length &&
              Buffer.from(buffer.buffer, 0, n).equals(expected.subarray(bytes, bytes + n));
          }
          if (ackAt !== undefined && bytes < ackAt && bytes + n >= ackAt) await conn.write(new Uint8Array(1));
          bytes += n;
          if (slow) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } catch (error) {
        failure = errorCode(error);
        return { bytes, matches, outcome: failure };
      }
      if (!halfOpen) await conn.closeWrite().catch(() => {});
      return { bytes, matches, outcome: "end" };
    },
    write(bytes) {
      conn.write(bytes).catch((error: unknown) => (failure = errorCode(error)));
    },
    destroy() {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

function denoTlsPeers({ ca, cert, key }: TlsMaterial): RawPeers {
  const api = denoApi("test");
  return {
    async connect(port, halfOpen = false) {
      const conn = await api.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
      await conn.handshake?.();
      return denoRawSocket(conn, halfOpen);
    },
    serve(onSocket) {
      const listener = api.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
      void (async () => {
        try {
          for await (const conn of listener) {
            conn.handshake?.().then(() => onSocket(denoRawSocket(conn, false)), () => conn.close());
          }
        } catch {
          // closed
        }
      })();
      return Promise.resolve({ port: listener.addr.port, close: () => listener.close() });
    },
  };
}

describe("deno adapter (Deno.connect, Deno.listen)", { skip }, () => {
  // Deno's sockets cannot send a reset: abort() and a throwing handler end with FIN.
  tcpCases(deno, { resets: false, rawTls: denoTlsPeers }, skip);
});

describe("deno adapter: what only Deno has", { skip }, () => {
  it("rejects a serverName other than the hostname (Deno verifies the hostname itself)", async () => {
    await assert.rejects(
      deno.connectTls({ port: 1, hostname: "127.0.0.1", serverName: "example.com" }),
      {
        name: "TypeError",
        message:
          'Cannot connect with TLS as Deno verifies the hostname itself, so serverName must equal it: received "example.com"',
      },
    );
  });

  it("waits for small messages in a buffer of its own and streams large ones through pool memory", async () => {
    const serverPool = new MemoryPool();
    const clientPool = new MemoryPool();
    const listener = await deno.listen({ port: 0, pool: serverPool }, async ({ input, output }) => {
      for (;;) {
        const { buffer, isCompleted } = await input.read();
        for (const view of buffer) await output.write(view);
        input.advanceTo(buffer.length);
        if (isCompleted) break;
      }
    });
    const connection = await deno.connect({ port: listener.addr.port, pool: clientPool });
    for (const size of [10, 600, 5000, 300_000, 10]) {
      const message = new Uint8Array(size).map((_, i) => i * 7);
      await connection.output.write(message);
      const { buffer } = await connection.input.readAtLeast(size);
      assert.deepEqual(buffer.toUint8Array(), message);
      connection.input.advanceTo(buffer.length);
      // Idle again: nothing of either pool is held while both wait (the 512 B–4 KiB buffers are the drivers').
      await allReturned(clientPool, `the idle client after ${size} B`);
      await allReturned(serverPool, `the idle server after ${size} B`);
      assert.equal(heldBytes(clientPool), 0);
    }
    connection.output.complete();
    assert.equal((await readAll(connection.input)).length, 0);
    await connection.close();
    await listener.close();
  });

  it("makes a test CA and leaf rustls accepts", () => {
    const material = testCertificates();
    if (material === undefined) return; // no openssl: the shared TLS cases say so
    assert.match(material.ca, /BEGIN CERTIFICATE/);
    assert.match(material.cert, /BEGIN CERTIFICATE/);
  });
});
