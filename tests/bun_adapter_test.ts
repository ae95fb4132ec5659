import { describe } from "node:test";
import * as bun from "../src/adapters/bun.ts";
import { tcpCases } from "./_tcp_cases.ts";

const onBun = (globalThis as { Bun?: unknown }).Bun !== undefined;
const skip = onBun ? false : "runs under Bun only (bun test)";

describe("bun adapter (Bun.connect, Bun.listen)", { skip }, () => {
  tcpCases(bun, { resets: true }, skip);
});
