// Helpers for the ./websocket tests: a plain frame encoder and decoder written from RFC 6455
// §5.2 (independent of src/websocket), a raw peer over in-memory channels or node:net that
// speaks bytes, and the Python peer scripts (websockets 10.4, asyncio API). Not a test file.

import * as net from "node:net";
import { spawn } from "node:child_process";
import { Channel, MemoryPool, type ReadableChannel, type WritableChannel } from "../mod.ts";
import { type HttpHandler, serveHttp } from "../src/http1/mod.ts";

export const encoder: TextEncoder = new TextEncoder();

/** A frame, as the reference reads or writes it. */
export interface Frame {
  fin: boolean;
  /** RSV1–3 as bits 4–6 of the first byte (0x40, 0x20, 0x10). */
  rsv: number;
  opcode: number;
  payload: Uint8Array;
  masked: boolean;
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeOptions {
  fin?: boolean;
  rsv?: number;
  /** The masking key (4 bytes), or null for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force the 16- or 64-bit length form (7: the shortest). */
  lengthForm?: 7 | 16 | 64;
  /** Write this length instead of the payload's (for a bad header). */
  declaredLength?: number;
}

/** A random masking key. */
export function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(4));
}

/** One frame's bytes. */
export function encodeFrame(opcode: number, payload: Uint8Array, options: EncodeOptions = {}): Uint8Array {
  const fin = options.fin ?? true;
  const mask = options.mask === undefined ? randomKey() : options.mask;
  const length = options.declaredLength ?? payload.length;
  const form = options.lengthForm ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (form === 7) head.push(maskBit | length);
  else if (form === 16) head.push(maskBit | 126, (length >>> 8) & 0xff, length & 0xff);
  else {
    const high = Math.floor(length / 2 ** 32);
    head.push(maskBit | 127, high >>> 24 & 0xff, high >>> 16 & 0xff, high >>> 8 & 0xff, high & 0xff);
    head.push(length >>> 24 & 0xff, length >>> 16 & 0xff, length >>> 8 & 0xff, length & 0xff);
  }
  if (mask !== null) head.push(...mask);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  for (let i = 0; i < payload.length; i++) {
    out[head.length + i] = (payload[i] as number) ^ (mask === null ? 0 : mask[i & 3] as number);
  }
  return out;
}

/** A close frame's payload. */
export function closePayload(code: number, reason: string = ""): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** The frames at the start of `bytes`, and the bytes after the last whole one. */
export function decodeFrames(bytes: Uint8Array): { frames: Frame[]; rest: Uint8Array } {
  const frames: Frame[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    const b0 = bytes[at] as number;
    const b1 = bytes[at + 1] as number;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      if (bytes.length - p < 2) break;
      length = ((bytes[p] as number) << 8) | (bytes[p + 1] as number);
      p += 2;
    } else if (length === 127) {
      if (bytes.length - p < 8) break;
      length = 0;
      for (let i = 0; i < 8; i++) length = length * 256 + (bytes[p + i] as number);
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Uint8Array | undefined;
    if (masked) {
      if (bytes.length - p < 4) break;
      key = bytes.slice(p, p + 4);
      p += 4;
    }
    if (bytes.length - p < length) break;
    const payload = bytes.slice(p, p + length);
    if (key !== undefined) {
      for (let i = 0; i < length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, payload, masked });
    at = p + length;
  }
  return { frames, rest: bytes.slice(at) };
}

/** The close code and reason of a close frame's payload (1005 when empty). */
export function closeOf(frame: Frame): { code: number; reason: string } {
  if (frame.payload.length < 2) return { code: 1005, reason: "" };
  return {
    code: ((frame.payload[0] as number) << 8) | (frame.payload[1] as number),
    reason: new TextDecoder().decode(frame.payload.subarray(2)),
  };
}

/** The opening handshake request for `key`, with extra fields. */
export function handshakeRequest(key: string = "dGhlIHNhbXBsZSBub25jZQ==", fields: string = ""): string {
  return `GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${fields}\r\n`;
}

/**
 * A byte-level peer: writes raw bytes, reads what comes back (the handshake answer first, then
 * frames). Over in-memory channels or a node:net socket.
 */
export class RawPeer {
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #end: () => void;
  #received: Uint8Array = new Uint8Array(0);
  #ended = false;
  #waiters: (() => void)[] = [];

  constructor(write: (bytes: Uint8Array) => Promise<void>, end: () => void) {
    this.#write = write;
    this.#end = end;
  }

  /** Bytes arrived (called by the transport). */
  receive(bytes: Uint8Array): void {
    const joined = new Uint8Array(this.#received.length + bytes.length);
    joined.set(this.#received);
    joined.set(bytes, this.#received.length);
    this.#received = joined;
    this.#wake();
  }

  /** The transport ended (called by the transport). */
  ended(): void {
    this.#ended = true;
    this.#wake();
  }

  /** True once the other side ended. */
  get isEnded(): boolean {
    return this.#ended;
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Sends bytes (a string as Latin-1 / ASCII). */
  send(data: Uint8Array | string): Promise<void> {
    return this.#write(typeof data === "string" ? Uint8Array.from(data, (c) => c.charCodeAt(0)) : data);
  }

  /** Ends our side. */
  end(): void {
    this.#end();
  }

  /** Waits until `ready(received)` holds, or the other side ended, or `timeoutMs` passed. */
  async waitFor(ready: (bytes: Uint8Array) => boolean, timeoutMs: number = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(this.#received) && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; received ${this.#received.length} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#received;
  }

  /** Reads the handshake answer's head (consumed) as text. */
  async head(): Promise<string> {
    const bytes = await this.waitFor((b) => indexOfCrlfCrlf(b) >= 0);
    const end = indexOfCrlfCrlf(bytes);
    if (end < 0) throw new Error("the connection ended before an answer");
    const text = String.fromCharCode(...bytes.subarray(0, end));
    this.#received = bytes.slice(end + 4);
    return text;
  }

  /** Waits for `count` frames (or the end) and takes them. */
  async frames(count: number, timeoutMs?: number): Promise<Frame[]> {
    const bytes = await this.waitFor((b) => decodeFrames(b).frames.length >= count, timeoutMs);
    const { frames, rest } = decodeFrames(bytes);
    this.#received = rest;
    return frames;
  }

  /** Waits for a close frame (taking every frame before it) and the end; returns the close. */
  async closeFrame(timeoutMs?: number): Promise<{ code: number; reason: string; frames: Frame[] }> {
    const bytes = await this.waitFor((b) => decodeFrames(b).frames.some((f) => f.opcode === 8), timeoutMs);
    const { frames, rest } = decodeFrames(bytes);
    this.#received = rest;
    const close = frames.find((f) => f.opcode === 8);
    if (close === undefined) throw new Error(`the connection ended without a close frame (${frames.length} frames)`);
    return { ...closeOf(close), frames };
  }

  /** Waits for the other side to end. */
  async endOf(timeoutMs?: number): Promise<void> {
    await this.waitFor(() => false, timeoutMs).catch((error) => {
      if (!this.#ended) throw error;
    });
  }
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Pumps a channel's reader into a raw peer until it completes. */
async function pump(reader: ReadableChannel, peer: RawPeer): Promise<void> {
  try {
    for (;;) {
      const { buffer, isCompleted } = await reader.read();
      if (buffer.length > 0) peer.receive(buffer.toUint8Array());
      reader.advanceTo(buffer.length);
      if (isCompleted) break;
    }
  } catch {
    // The server completed its output with an error: the end all the same.
  }
  reader.complete();
  peer.ended();
}

/** `serveHttp` over in-memory channels (small blocks), with a raw peer as the client. */
export function memoryServer(
  handler: HttpHandler,
  pool: MemoryPool = new MemoryPool({ blockSize: 64 }),
): { peer: RawPeer; serving: Promise<void>; pool: MemoryPool } {
  const up = new Channel({ pool });
  const down = new Channel({ pool });
  const writer: WritableChannel = up.writer;
  const peer = new RawPeer(async (bytes) => {
    await writer.write(bytes);
  }, () => writer.complete());
  const serving = serveHttp({ input: up.reader, output: down.writer }, handler, { onError: () => {} });
  void pump(down.reader, peer);
  return { peer, serving, pool };
}

/** A raw TCP client (node:net) to 127.0.0.1:port. */
export function tcpPeer(port: number): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const peer = new RawPeer(
      (bytes) => new Promise((done) => socket.write(bytes, () => done())),
      () => socket.end(),
    );
    socket.on("data", (chunk: Uint8Array) => peer.receive(new Uint8Array(chunk)));
    socket.on("end", () => peer.ended());
    socket.on("close", () => peer.ended());
    socket.on("error", () => peer.ended());
    socket.once("connect", () => resolve(peer));
    socket.once("error", reject);
  });
}

// ---- Python peers (Debian's python3-websockets 10.4; the asyncio API: 10.4 has no sync API) ----

/** The system Python (Debian's, with python3-websockets). */
export const PYTHON = "/usr/bin/python3";

/**
 * A client: connects to argv[1] with the options in argv[2] (JSON: compression, max_size), then
 * runs the steps in argv[3] (JSON) and prints one JSON line per step's result.
 */
export const PY_CLIENT = `
import asyncio, json, sys, hashlib, websockets
async def main():
    uri, opts, steps = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    async with websockets.connect(uri, compression=opts.get("compression"), max_size=None,
                                  open_timeout=20, close_timeout=10, ping_interval=None) as ws:
        print(json.dumps({"extensions": ws.response_headers.get("Sec-WebSocket-Extensions")}), flush=True)
        for step in steps:
            kind = step["kind"]
            if kind == "echo":
                n = step["size"]
                if step["text"]:
                    data = "a\u00e9\u20ac" * (n // 6) + "a" * (n % 6)
                else:
                    data = (bytes((i * 7 + n) & 0xff for i in range(256)) * (n // 256 + 1))[:n]
                if step.get("fragments"):
                    k = step["fragments"]
                    size = max(1, -(-len(data) // k))
                    parts = [data[i:i + size] for i in range(0, len(data), size)] or [data]
                    await ws.send(parts)
                else:
                    await ws.send(data)
                reply = await ws.recv()
                ok = type(reply) == type(data) and reply == data
                print(json.dumps({"kind": "echo", "size": n, "text": step["text"], "ok": ok,
                                  "got": len(reply)}), flush=True)
            elif kind == "ping":
                waiter = await ws.ping(step.get("data", "ping").encode())
                await asyncio.wait_for(waiter, 10)
                print(json.dumps({"kind": "ping", "ok": True}), flush=True)
            elif kind == "close":
                await ws.close(step["code"], step.get("reason", ""))
                print(json.dumps({"kind": "close", "code": ws.close_code, "reason": ws.close_reason}), flush=True)
asyncio.run(main())
`;

/**
 * A server: echoes every message with its type on 127.0.0.1 (port 0), prints "port N", and
 * prints "closed CODE REASON" for each connection that ends. argv[1]: JSON options.
 */
export const PY_SERVER = `
import asyncio, json, sys, websockets
async def handler(ws, path):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    print("closed", ws.close_code, json.dumps(ws.close_reason), flush=True)
async def main():
    opts = json.loads(sys.argv[1])
    async with websockets.serve(handler, "127.0.0.1", 0, compression=opts.get("compression"),
                                max_size=None, close_timeout=10, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print("port", port, flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

/** Runs a Python script; resolves with its output lines when it exits. */
export function runPython(
  script: string,
  args: string[],
): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ["-c", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, lines: stdout.split("\n").filter(Boolean), stderr }));
  });
}
