// A plain RESP2/RESP3 reference for the parser tests: a recursive parser over one contiguous
// Uint8Array (no resumption, no segments, no fast paths), a generator of random replies, and
// a normal form for comparing values across runtimes. Not a test file (no _test suffix).

import { concat, type Random } from "./_util.ts";

/** What the reference hands out: the same mapping as the parser (errors as { error }). */
export type RefValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | { error: string }
  | RefValue[]
  | Map<RefValue, RefValue>
  | Set<RefValue>;

/** A complete top-level value and whether it was a push. */
export interface RefReply {
  value: RefValue;
  push: boolean;
}

/** Limits as the parser takes them. */
export interface RefLimits {
  maxBulkLength: number;
  maxArrayLength: number;
  maxDepth: number;
  maxLineLength: number;
}

class Incomplete {}
const INCOMPLETE = new Incomplete();

/** Thrown by the reference for bad input: `kind` says which error class the parser must throw. */
export class RefError {
  constructor(readonly kind: "TypeError" | "RangeError", readonly why: string) {}
}

const text = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading BOM is part of a value

/**
 * Parses every complete reply in `bytes`. `bytesMode(k)` says whether reply k (pushes not
 * counted) materialises bulk strings as bytes.
 *
 * @returns The replies and the bytes they took; throws a RefError on bad input.
 */
export function referenceParse(
  bytes: Uint8Array,
  bytesMode: (index: number) => boolean,
  limits: RefLimits,
): { replies: RefReply[]; consumed: number } {
  const replies: RefReply[] = [];
  let pos = 0;
  for (;;) {
    if (pos >= bytes.length) break;
    const asBytes = bytesMode(replies.filter((r) => !r.push).length);
    try {
      const isPush = peekPush(bytes, pos);
      const { value, end } = element(bytes, pos, asBytes && !isPush, 0, limits);
      replies.push({ value, push: isPush });
      pos = end;
    } catch (error) {
      if (error === INCOMPLETE) break;
      throw error;
    }
  }
  return { replies, consumed: pos };
}

/** Whether the top-level value at `pos` is a push (after any attributes). */
function peekPush(bytes: Uint8Array, pos: number): boolean {
  // Skip attributes by parsing them (errors surface in the real parse).
  try {
    while (bytes[pos] === 0x7c) pos = element(bytes, pos, false, 0, UNLIMITED, true).end;
  } catch {
    return false;
  }
  return bytes[pos] === 0x3e;
}

const UNLIMITED: RefLimits = {
  maxBulkLength: Infinity,
  maxArrayLength: Infinity,
  maxDepth: Infinity,
  maxLineLength: Infinity,
};

function line(bytes: Uint8Array, pos: number, limits: RefLimits): { body: Uint8Array; end: number } {
  let cr = -1;
  for (let k = pos + 1; k < bytes.length; k++) {
    if (bytes[k] === 0x0d) {
      cr = k;
      break;
    }
  }
  const searched = (cr < 0 ? bytes.length : cr) - pos - 1;
  if (searched > limits.maxLineLength) throw new RefError("RangeError", "line too long");
  if (cr < 0 || cr + 1 >= bytes.length) throw INCOMPLETE;
  if (bytes[cr + 1] !== 0x0a) throw new RefError("TypeError", "CR without LF");
  return { body: bytes.subarray(pos + 1, cr), end: cr + 2 };
}

function latin1(body: Uint8Array): string {
  return String.fromCharCode(...body);
}

function length(body: Uint8Array): number {
  const s = latin1(body);
  if (!/^-?\d{1,15}$/.test(s)) throw new RefError("TypeError", `bad length ${s}`);
  return Number(s);
}

/** One element at `pos`; `attributeOnly` parses an attribute and returns after it. */
function element(
  bytes: Uint8Array,
  pos: number,
  asBytes: boolean,
  depth: number,
  limits: RefLimits,
  attributeOnly = false,
): { value: RefValue; end: number } {
  if (pos >= bytes.length) throw INCOMPLETE;
  const type = bytes[pos] as number;
  const { body, end } = line(bytes, pos, limits);
  const s = latin1(body);
  switch (type) {
    case 0x2b: // +
      return { value: text.decode(body), end };
    case 0x2d: // -
      return { value: { error: text.decode(body) }, end };
    case 0x3a: { // :
      if (!/^-?\d+$/.test(s)) throw new RefError("TypeError", "bad integer");
      const big = BigInt(s);
      const safe = big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER);
      return { value: safe ? Number(big) : big, end };
    }
    case 0x5f: // _
      if (body.length !== 0) throw new RefError("TypeError", "bad null");
      return { value: null, end };
    case 0x23: // #
      if (s === "t") return { value: true, end };
      if (s === "f") return { value: false, end };
      throw new RefError("TypeError", "bad boolean");
    case 0x2c: { // ,
      if (s === "inf" || s === "+inf") return { value: Infinity, end };
      if (s === "-inf") return { value: -Infinity, end };
      if (s === "nan" || s === "-nan") return { value: NaN, end };
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new RefError("TypeError", "bad double");
      return { value: Number(s), end };
    }
    case 0x28: // (
      if (!/^-?\d+$/.test(s)) throw new RefError("TypeError", "bad big number");
      return { value: BigInt(s), end };
    case 0x24: // $
    case 0x3d: // =
    case 0x21: { // !
      const n = length(body);
      if (n < 0) {
        if (n === -1 && type === 0x24) return { value: null, end };
        throw new RefError("TypeError", "negative length");
      }
      if (n > limits.maxBulkLength) throw new RefError("RangeError", "bulk too long");
      if (type === 0x3d && n < 4) throw new RefError("TypeError", "verbatim too short");
      if (end + n + 2 > bytes.length) throw INCOMPLETE;
      if (bytes[end + n] !== 0x0d || bytes[end + n + 1] !== 0x0a) throw new RefError("TypeError", "bulk without CRLF");
      let payload = bytes.subarray(end, end + n);
      if (type === 0x3d) {
        if (payload[3] !== 0x3a) throw new RefError("TypeError", "verbatim without format");
        payload = payload.subarray(4);
      }
      const value: RefValue = type === 0x21
        ? { error: text.decode(payload) }
        : asBytes
        ? payload.slice()
        : text.decode(payload);
      return { value, end: end + n + 2 };
    }
    case 0x2a: // *
    case 0x25: // %
    case 0x7e: // ~
    case 0x7c: // |
    case 0x3e: { // >
      const n = length(body);
      if (n < 0) {
        if (n === -1 && type === 0x2a) return { value: null, end };
        throw new RefError("TypeError", "negative aggregate length");
      }
      if (n > limits.maxArrayLength) throw new RefError("RangeError", "aggregate too long");
      if (depth + 1 > limits.maxDepth) throw new RefError("RangeError", "too deep");
      const count = type === 0x25 || type === 0x7c ? 2 * n : n;
      const items: RefValue[] = [];
      let at = end;
      for (let k = 0; k < count; k++) {
        const child = element(bytes, at, asBytes, depth + 1, limits);
        items.push(child.value);
        at = child.end;
      }
      if (type === 0x7c) {
        if (attributeOnly) return { value: null, end: at };
        return element(bytes, at, asBytes, depth, limits); // the value the attribute describes
      }
      if (type === 0x25) {
        const map = new Map<RefValue, RefValue>();
        for (let k = 0; k < items.length; k += 2) map.set(items[k] as RefValue, items[k + 1] as RefValue);
        return { value: map, end: at };
      }
      if (type === 0x7e) return { value: new Set(items), end: at };
      return { value: items, end: at };
    }
    default:
      throw new RefError("TypeError", "bad type byte");
  }
}

/** A comparable, runtime-independent form of a value (errors, bytes, bigints and NaN tagged). */
export function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value).join(",") };
  if (value instanceof Error) return { error: value.message, name: value.name };
  if (typeof value === "bigint") return { bigint: String(value) };
  if (typeof value === "number") {
    return Number.isNaN(value) ? { nan: true } : Object.is(value, -0) ? { zero: -1 } : value;
  }
  if (Array.isArray(value)) return value.map(normal);
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [normal(k), normal(v)]) };
  if (value instanceof Set) return { set: [...value].map(normal) };
  if (value !== null && typeof value === "object") {
    if ("error" in value) return { error: (value as { error: string }).error, name: "RespError" };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]));
  }
  return value;
}

// ---- random replies ----

const encoder = new TextEncoder();
const WORDS = ["OK", "QUEUED", "PONG", "héllo", "ünïcødé ✓", "", "a b c", "日本語", "😀 emoji", "\ufeffBOM first"];

function ascii(random: Random, max: number): string {
  let s = "";
  const n = random.int(0, max);
  for (let k = 0; k < n; k++) s += String.fromCharCode(random.int(0x20, 0x7e));
  return s;
}

function lineText(random: Random): string {
  return random.chance(0.3) ? WORDS[random.int(0, WORDS.length - 1)] as string : ascii(random, 20);
}

function bulkPayload(random: Random): Uint8Array {
  const r = random.next();
  if (r < 0.3) return encoder.encode(lineText(random));
  if (r < 0.9) return random.bytes(random.int(0, 40));
  return random.bytes(random.int(100, 3000));
}

function header(type: string, n: number): Uint8Array {
  return encoder.encode(`${type}${n}\r\n`);
}

const CRLF = new Uint8Array([0x0d, 0x0a]);

/** One random RESP3 element (maybe aggregates up to `depth` deep, maybe with attributes). */
export function randomElement(random: Random, depth: number, top = false): Uint8Array {
  const parts: Uint8Array[] = [];
  if (random.chance(0.05)) parts.push(header("|", 1), randomElement(random, 0), randomElement(random, 0));
  const kinds = depth > 0 ? 20 : 13;
  const kind = random.int(0, top ? kinds : kinds - 1);
  switch (kind) {
    case 0:
      parts.push(encoder.encode(`+${lineText(random)}\r\n`));
      break;
    case 1:
      parts.push(encoder.encode(`-ERR ${lineText(random)}\r\n`));
      break;
    case 2: {
      const r = random.next();
      const n = r < 0.5
        ? String(random.int(-1000, 1000))
        : r < 0.8
        ? String(random.int(-(2 ** 53) + 1, 2 ** 53 - 1))
        : (random.chance(0.5) ? "-" : "") + "9".repeat(random.int(16, 25));
      parts.push(encoder.encode(`:${n}\r\n`));
      break;
    }
    case 3:
    case 4:
    case 5: {
      const payload = bulkPayload(random);
      parts.push(header("$", payload.length), payload, CRLF);
      break;
    }
    case 6:
      parts.push(encoder.encode(random.chance(0.5) ? "$-1\r\n" : random.chance(0.5) ? "*-1\r\n" : "_\r\n"));
      break;
    case 7: {
      const doubles = ["inf", "-inf", "nan", "0", "-0", "3.141", "1e+20", "-1.5e-07", "42", ".5", "1."];
      const d = random.chance(0.5) ? doubles[random.int(0, doubles.length - 1)] : String(random.next() * 1e6 - 5e5);
      parts.push(encoder.encode(`,${d}\r\n`));
      break;
    }
    case 8:
      parts.push(encoder.encode(random.chance(0.5) ? "#t\r\n" : "#f\r\n"));
      break;
    case 9: {
      const message = encoder.encode(`SYNTAX ${lineText(random)}`);
      parts.push(header("!", message.length), message, CRLF);
      break;
    }
    case 10: {
      const body = encoder.encode(`txt:${lineText(random)}\r\nsecond line`);
      parts.push(header("=", body.length), body, CRLF);
      break;
    }
    case 11:
      parts.push(
        encoder.encode(`(${random.chance(0.5) ? "-" : ""}${random.int(1, 9)}${"0".repeat(random.int(0, 40))}\r\n`),
      );
      break;
    case 12:
      parts.push(encoder.encode(`+${ascii(random, 3)}\r\n`));
      break;
    case 13:
    case 14:
    case 15: {
      const n = random.int(0, 6);
      parts.push(header("*", n));
      for (let k = 0; k < n; k++) parts.push(randomElement(random, depth - 1));
      break;
    }
    case 16: {
      // Map keys: simple strings (distinct so the Map keeps every pair).
      const n = random.int(0, 4);
      parts.push(header("%", n));
      for (let k = 0; k < n; k++) parts.push(encoder.encode(`+key${k}\r\n`), randomElement(random, depth - 1));
      break;
    }
    case 17: {
      const n = random.int(0, 4);
      parts.push(header("~", n));
      for (let k = 0; k < n; k++) parts.push(encoder.encode(`:${k}\r\n`));
      break;
    }
    case 18:
    case 19: {
      const n = random.int(0, 3);
      parts.push(header("*", n));
      for (let k = 0; k < n; k++) parts.push(randomElement(random, depth - 1));
      break;
    }
    default: {
      // A push (top level only).
      const n = random.int(1, 4);
      parts.push(header(">", n), encoder.encode("$7\r\nmessage\r\n"));
      for (let k = 1; k < n; k++) parts.push(randomElement(random, Math.max(0, depth - 1)));
    }
  }
  return concat(parts);
}

/** `count` random top-level replies, back to back. */
export function randomReplies(random: Random, count: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let k = 0; k < count; k++) parts.push(randomElement(random, random.int(0, 4), true));
  return concat(parts);
}
