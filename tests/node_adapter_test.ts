import process from "node:process";
import { describe } from "node:test";
import * as node from "../src/adapters/node.ts";
import { tcpCases } from "./_tcp_cases.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const onNode = process.versions.node !== undefined && g.Bun === undefined && g.Deno === undefined;
const skip = onNode ? false : "runs under Node only (node --test dist/tests/node_adapter_test.js)";

// Skipped as a suite where the runner shows the reason (Node, Deno); case by case under Bun.
describe("node adapter (node:net, node:tls)", { skip: g.Bun === undefined ? skip : false }, () => {
  tcpCases(node, { resets: true }, skip);
});
