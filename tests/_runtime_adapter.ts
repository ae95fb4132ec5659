// The runtime these tests run on, and its TCP adapter (./deno, ./bun or ./node), for the
// tests that run the same cases over whichever runtime's own sockets they find.

import type { TcpAdapter } from "./_tcp_cases.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

/** The runtime these tests run on. */
export const runtime: "deno" | "bun" | "node" = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** This runtime's adapter (only its module is loaded). */
export const adapter: TcpAdapter = runtime === "deno"
  ? await import("../src/adapters/deno.ts")
  : runtime === "bun"
  ? await import("../src/adapters/bun.ts")
  : await import("../src/adapters/node.ts");
