/**
 * {@linkcode WebSocket}: one WebSocket connection (RFC 6455) over a pair of channels, after
 * the opening handshake (`acceptWebSocket` on a server, `connectWebSocket` on a client).
 *
 * @module
 */

import { isIntegerIn, rangeError, stateError, typeError } from "../errors.ts";
import { MemoryPool } from "../memory_pool.ts";
import { ReadableBuffer } from "../readable_buffer.ts";
import type { DuplexChannel } from "../readable_channel.ts";
import { Utf8Decoder } from "../utf8_decoder.ts";
import { ABNORMAL_CLOSURE, isSendableCloseCode, NO_STATUS, NORMAL_CLOSURE } from "./_close_codes.ts";
import { MessageDeflater, MessageInflater } from "./_deflate.ts";
import type { DeflateParams, PerMessageDeflateOptions } from "./_deflate_params.ts";
import {
  CLOSE,
  FAILED,
  FrameReader,
  MESSAGE,
  NEED_MORE,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./_frame_reader.ts";
import { FrameWriter } from "./_frame_writer.ts";
import { utf8Length } from "../_text.ts";

/** Options both sides take. All are checked when the WebSocket is opened. */
export interface WebSocketOptions {
  /**
   * The longest message taken, in bytes (after decompression). A longer one fails the
   * connection with close code 1009, as soon as a frame header says so (before its payload is
   * buffered).
   *
   * @default {16777216} (16 MiB, as Bun's default)
   */
  maxMessageBytes?: number;
  /**
   * The most frames a message may come in; more fail the connection with close code 1009 (each
   * fragment costs a view and a few bytes of bookkeeping until the message is read).
   *
   * @default {65536}
   */
  maxFragments?: number;
  /**
   * How long `close()` waits for the peer's close frame (and a client for the server's end of
   * the connection) before it gives up and ends the connection anyway.
   *
   * @default {5000}
   */
  closeTimeoutMs?: number;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, or its options. A server accepts
   * a client's offer, a client offers it; off when the other side does not agree, and where the
   * host has no node:zlib (see the `./websocket` module docs).
   *
   * @default {false}
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Where decompressed messages live (permessage-deflate only; other messages are read where
   * they arrived).
   *
   * @default {MemoryPool.shared}
   */
  pool?: MemoryPool;
}

/** How a WebSocket ended (what {@linkcode WebSocket.closed} settles with). */
export interface WebSocketCloseInfo {
  /**
   * The close code: the peer's (1005 when its close frame had none), ours when we failed the
   * connection for the peer's fault (1002, 1007, 1009), or 1006 when no close frame came.
   */
  readonly code: number;
  /** The close reason (UTF-8 text, at most 123 bytes). */
  readonly reason: string;
  /** True when both sides exchanged close frames. */
  readonly wasClean: boolean;
  /** What went wrong: the peer's protocol error, the input's error, or the close timing out. */
  readonly error?: Error;
}

/** Options of {@linkcode WebSocket.send}. */
export interface SendOptions {
  /**
   * Send as a binary message (`true`) or a text message (`false`; bytes given must then be
   * valid UTF-8, they are not checked).
   *
   * @default {typeof data !== "string"}
   */
  binary?: boolean;
  /**
   * Compress the message (when permessage-deflate was agreed). By default messages at least
   * `perMessageDeflate.threshold` bytes long are compressed.
   */
  compress?: boolean;
  /**
   * Split the message into frames of at most this many payload bytes (of the compressed
   * payload when compressed), so control frames can go between them.
   *
   * @default {Infinity} (one frame)
   */
  fragmentBytes?: number;
}

const utf8 = new Utf8Decoder({ ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * A message received. {@linkcode WebSocket.receive} reuses one object per WebSocket, and
 * `data` is a view of the connection's pool memory: both are valid until the next `receive()`
 * (or the close). Copy what you keep (`bytes()`, `text()`).
 */
export class WebSocketMessage {
  /** A text message (valid UTF-8) or a binary one. */
  type: "text" | "binary" = "binary";
  /**
   * The payload, where it arrived: a slice of the input for a message that came in one frame,
   * a buffer over each fragment's payload for a fragmented one, the decompressed bytes for a
   * compressed one. Never copied.
   */
  data: ReadableBuffer = ReadableBuffer.from([]);

  /**
   * The payload as a string, decoded as UTF-8 (a byte order mark is kept, as in the payload).
   *
   * @returns A new string.
   */
  text(): string {
    return utf8.decode(this.data);
  }

  /**
   * A copy of the payload.
   *
   * @returns A new array.
   */
  bytes(): Uint8Array {
    return this.data.toUint8Array();
  }
}

/** What the handshake settled, and the options (internal: the handshakes make each WebSocket). */
export interface WebSocketSettings {
  /** We are the server (frames from the peer are masked, ours are not). */
  server: boolean;
  /** The subprotocol agreed ("" for none). */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` agreed ("" for none). */
  extensions: string;
  /** permessage-deflate's settings, when agreed. */
  deflate: DeflateParams | undefined;
  /** Checked options. */
  maxMessageBytes: number;
  maxFragments: number;
  closeTimeoutMs: number;
  pool: MemoryPool;
}

/** Checks the options both sides take (a TypeError or RangeError names the bad one). */
export function checkWebSocketOptions(
  options: WebSocketOptions,
  what: string,
): Pick<WebSocketSettings, "maxMessageBytes" | "maxFragments" | "closeTimeoutMs" | "pool"> {
  if (typeof options !== "object" || options === null) throw typeError(what, "options must be an object", options);
  const { maxMessageBytes = 16 * 1024 * 1024, maxFragments = 65536, closeTimeoutMs = 5000 } = options;
  if (!isIntegerIn(maxMessageBytes, 0, Number.MAX_SAFE_INTEGER)) {
    throw rangeError(what, "maxMessageBytes must be a non-negative safe integer", maxMessageBytes);
  }
  if (!isIntegerIn(maxFragments, 1, Number.MAX_SAFE_INTEGER)) {
    throw rangeError(what, "maxFragments must be a positive safe integer", maxFragments);
  }
  if (!isIntegerIn(closeTimeoutMs, 0, 2147483647)) {
    throw rangeError(what, "closeTimeoutMs must be an integer from 0 to 2147483647", closeTimeoutMs);
  }
  const pool = options.pool ?? MemoryPool.shared;
  if (!(pool instanceof MemoryPool)) throw typeError(what, "pool must be a MemoryPool", pool);
  return { maxMessageBytes, maxFragments, closeTimeoutMs, pool };
}

// States (the close handshake, RFC 6455 §7):
//
// | state   | send()/ping()     | receive()                   | close()                          | a close frame arrives   |
// |---------|-------------------|-----------------------------|----------------------------------|-------------------------|
// | OPEN    | writes a frame    | the next message            | sends close → CLOSING            | answers it, ends → CLOSED |
// | CLOSING | WEBSOCKET_CLOSED  | messages until the peer's close, then null | waits for CLOSED  | ends → CLOSED           |
// | CLOSED  | WEBSOCKET_CLOSED  | null                        | the close info                   | —                       |
//
// A protocol error of the peer's, the input's end or error, `abort()` and the close timeout
// end the connection from any state (→ CLOSED).
const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

// Unflushed bytes past which a send flushes at once (and its promise waits for the peer) even
// while a received message is handled.
const DEFER_FLUSH_BYTES = 65536;
const RESOLVED: Promise<void> = Promise.resolve();
// The next macrotask: setImmediate where the runtime has it (Node, Bun), else a 0 ms timer.
const later: (callback: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (callback) => (globalThis as unknown as { setImmediate(callback: () => void): void }).setImmediate(callback)
    : (callback) => setTimeout(callback, 0);
const NULL_RESULT: Promise<null> = Promise.resolve(null);

/** A ping waiting for its pong. */
interface PendingPing {
  payload: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What a connection may offer besides its channels (an adapter's `Connection`). */
interface Closable {
  close?: () => Promise<void>;
  abort?: (reason?: unknown) => void;
}

/**
 * A WebSocket connection over channels, after the opening handshake: messages in as
 * zero-copy buffers of the connection's pool memory (unmasked there in place by the mask
 * kernel), messages out written straight into the output's pool memory.
 *
 * - `receive()` (or `for await`) gives the next message; pings are answered and pongs matched
 *   while it reads (also while `close()` waits).
 * - `send(data)` writes a message; `ping()` resolves when its pong comes.
 * - `close(code?, reason?)` runs the close handshake; `closed` says how the connection ended,
 *   however it did.
 *
 * The peer's protocol errors fail the connection with the close code RFC 6455 names (1002,
 * 1007 for text that is not UTF-8, 1009 past `maxMessageBytes`): `receive()` then returns
 * `null` and `closed` carries the code, the reason and the error.
 *
 * @example An echo over two channels (the server side as `acceptWebSocket` makes it)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { serveHttp } from "@channels/channels/http1";
 * import { acceptWebSocket, connectWebSocket } from "@channels/channels/websocket";
 *
 * const up = new Channel();
 * const down = new Channel();
 * const serving = serveHttp({ input: up.reader, output: down.writer }, async (request, response) => {
 *   const socket = await acceptWebSocket(request, response);
 *   for await (const message of socket) await socket.send(message.data, { binary: message.type === "binary" });
 * });
 * const client = await connectWebSocket({ input: down.reader, output: up.writer }, "ws://localhost/echo");
 * await client.send("hello");
 * const reply = await client.receive();
 * assert.equal(reply?.type, "text");
 * assert.equal(reply?.text(), "hello");
 * assert.deepEqual(await client.close(1000, "bye"), { code: 1000, reason: "bye", wasClean: true });
 * await serving;
 * ```
 */
export class WebSocket implements AsyncIterable<WebSocketMessage> {
  /** The subprotocol agreed in the handshake, or "" for none. */
  readonly protocol: string;
  /** The extensions agreed in the handshake (`Sec-WebSocket-Extensions`), or "". */
  readonly extensions: string;
  /** Settles once the connection is over (never rejects): how it ended. */
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly #connection: DuplexChannel;
  readonly #server: boolean;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #deflater: MessageDeflater | undefined;
  readonly #inflater: MessageInflater | undefined;
  readonly #threshold: number;
  readonly #closeTimeoutMs: number;
  readonly #message = new WebSocketMessage();
  #state = OPEN;
  // A receive() (or the drain close() runs) is reading.
  #reading = false;
  #draining: Promise<void> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #info: WebSocketCloseInfo | undefined;
  #settle: (info: WebSocketCloseInfo) => void = () => {};
  #pings: PendingPing[] = [];
  #pingCount = 0;
  // A received message is being handled (between a receive() that gave one and the next call):
  // sends then defer their flush, and #flushPending says one is owed.
  #deferring = false;
  #flushPending = false;

  /**
   * Internal: `acceptWebSocket` and `connectWebSocket` make each WebSocket.
   *
   * @param connection The channels after the handshake (bytes after it are the first read).
   * @param settings What the handshake agreed, and the checked options.
   */
  constructor(connection: DuplexChannel, settings: WebSocketSettings) {
    this.#connection = connection;
    this.#server = settings.server;
    this.protocol = settings.protocol;
    this.extensions = settings.extensions;
    this.#closeTimeoutMs = settings.closeTimeoutMs;
    const deflate = settings.deflate;
    if (deflate !== undefined) {
      const ours = settings.server
        ? { bits: deflate.serverMaxWindowBits, reset: deflate.serverNoContextTakeover }
        : { bits: deflate.clientMaxWindowBits, reset: deflate.clientNoContextTakeover };
      this.#deflater = new MessageDeflater(deflate.level, ours.bits, ours.reset);
      this.#inflater = new MessageInflater(settings.pool);
    }
    this.#threshold = deflate?.threshold ?? 0;
    this.#writer = new FrameWriter(connection.output, !settings.server);
    this.#reader = new FrameReader(
      connection.input,
      settings.server,
      { maxMessageBytes: settings.maxMessageBytes, maxFragments: settings.maxFragments },
      this.#inflater,
      {
        ping: (payload) => this.#onPing(payload),
        pong: (payload) => this.#onPong(payload),
      },
    );
    this.closed = new Promise((resolve) => (this.#settle = resolve));
  }

  /** `"open"`, `"closing"` (a close frame was sent, the peer's is awaited) or `"closed"`. */
  get readyState(): "open" | "closing" | "closed" {
    return this.#state === OPEN ? "open" : this.#state === CLOSING ? "closing" : "closed";
  }

  /**
   * The next message, or `null` once the connection is closed. Pings that arrive meanwhile
   * are answered, pongs matched. The message (and its `data`) is valid until the next call,
   * which releases it: do not call again before the last call settled.
   *
   * A message already read from the connection is given without waiting for input. Messages
   * sent while handling it (`send()` before the next `receive()`) are written into the output
   * at once and flushed together when the next `receive()` has to wait for input (or, at the
   * latest, on the next macrotask), so an echo of a burst goes out in one socket write.
   *
   * @returns The message, or `null` when the connection closed (see {@linkcode closed}).
   * @throws {ChannelStateError} `READ_IN_PROGRESS` while another `receive()` waits for input.
   */
  receive(): Promise<WebSocketMessage | null> {
    if (this.#reading) {
      if (this.#draining !== undefined) return this.closed.then(() => null);
      return Promise.reject(stateError("READ_IN_PROGRESS"));
    }
    if (this.#state === CLOSED) return NULL_RESULT;
    this.#deferring = false;
    let outcome = NEED_MORE;
    try {
      outcome = this.#reader.tryNext();
    } catch {
      // The input failed: the read below rejects with its error.
    }
    if (outcome === MESSAGE) return Promise.resolve(this.#deliver());
    this.#reading = true;
    return this.#receiveSlowly(outcome);
  }

  /**
   * The messages, one per step, until the connection closes (each valid until the next step).
   * Leaving the loop early leaves the connection open.
   *
   * @returns An iterator over the messages.
   */
  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    // One result object, refilled each step (a step's result is read before the next step).
    const step: { done: boolean; value: WebSocketMessage } = { done: false, value: this.#message };
    const end: IteratorResult<WebSocketMessage> = { done: true, value: undefined };
    const settle = (message: WebSocketMessage | null): IteratorResult<WebSocketMessage> =>
      message === null ? end : step as IteratorResult<WebSocketMessage>;
    // The result of a step that had a message read already: always the same, so one promise.
    const ready = Promise.resolve(step as IteratorResult<WebSocketMessage>);
    return {
      next: (): Promise<IteratorResult<WebSocketMessage>> => {
        // A message already read: no wait, and no new promise.
        if (!this.#reading && this.#state !== CLOSED) {
          this.#deferring = false;
          let outcome = NEED_MORE;
          try {
            outcome = this.#reader.tryNext();
          } catch {
            // The input failed: receive() below reads and rejects with its error.
          }
          if (outcome === MESSAGE) {
            this.#deliver();
            return ready;
          }
          this.#reading = true;
          return this.#receiveSlowly(outcome).then(settle);
        }
        return this.receive().then(settle);
      },
    };
  }

  /**
   * Sends a message: the frame is written straight into the output's pool memory (masked
   * there for a client, compressed first when permessage-deflate was agreed and the message is
   * long enough), then flushed.
   *
   * @param data A string (a text message), bytes or a buffer (a binary message unless
   *   `binary: false`). Copied: it may be reused once the call returns.
   * @param options The message type, and compression.
   * @returns Settles when the output took the frame (it waits while the peer reads slowly). While a
   *   received message is handled it settles at once and the flush comes with the next
   *   `receive()` (see there), unless 64 KiB or more wait to be flushed.
   * @throws {ChannelStateError} `WEBSOCKET_CLOSED` once the close began.
   * @throws {TypeError} When `data` is not a string, a `Uint8Array` or a `ReadableBuffer`.
   */
  send(data: string | Uint8Array | ReadableBuffer, options?: SendOptions): Promise<void> {
    // An echo of the message just received, first and small enough for the JIT to inline into
    // the caller's loop (so the caller's options object need not be allocated).
    if (data === this.#reader.data && options?.fragmentBytes === undefined) {
      const sent = this.#sendEcho(options?.binary ?? true);
      if (sent !== undefined) return sent;
    }
    return this.#send(data, options);
  }

  /** {@linkcode send} of the message just received when it is short and in pool memory; else undefined. */
  #sendEcho(binary: boolean): Promise<void> | undefined {
    const reader = this.#reader;
    const memory = reader.dataMemory;
    if (this.#state !== OPEN || this.#deflater !== undefined || memory === undefined) return undefined;
    const first = binary ? 0x80 | OP_BINARY : 0x80 | OP_TEXT;
    if (!this.#writer.writeShortData(first, memory, reader.dataAt, reader.dataTo - reader.dataFrom)) return undefined;
    return this.#sent();
  }

  #send(data: string | Uint8Array | ReadableBuffer, options: SendOptions | undefined): Promise<void> {
    if (this.#state !== OPEN) return Promise.reject(stateError("WEBSOCKET_CLOSED"));
    try {
      const binary = options?.binary ?? typeof data !== "string";
      const fragmentBytes = options?.fragmentBytes ?? Infinity;
      if (fragmentBytes !== Infinity && !isIntegerIn(fragmentBytes, 1, Number.MAX_SAFE_INTEGER)) {
        throw rangeError("send the message", "fragmentBytes must be a positive integer", fragmentBytes);
      }
      const opcode = binary ? OP_BINARY : OP_TEXT;
      const deflater = this.#deflater;
      const isText = typeof data === "string";
      if (!isText && !(data instanceof Uint8Array) && !(data instanceof ReadableBuffer)) {
        throw typeError("send the message", "data must be a string, a Uint8Array or a ReadableBuffer", data);
      }
      if (deflater !== undefined && (options?.compress ?? data.length >= this.#threshold)) {
        deflater.begin();
        if (isText) deflater.pushText(data);
        else if (data instanceof Uint8Array) deflater.push(data, 0, data.length);
        else for (const view of data) deflater.push(view, 0, view.length);
        this.#writeMessage(opcode | 0x40, deflater.finish(), fragmentBytes);
      } else if (isText) {
        if (data.length * 3 <= fragmentBytes) this.#writer.writeText(0x80 | opcode, data);
        else this.#writeMessage(opcode, encoder.encode(data), fragmentBytes);
      } else if (data === this.#reader.data && this.#reader.dataBytes !== undefined && data.length <= fragmentBytes) {
        // The message just received, in one run of memory: no walk (an echo).
        const reader = this.#reader;
        this.#writer.writeRange(0x80 | opcode, reader.dataBytes as Uint8Array, reader.dataFrom, reader.dataTo);
      } else {
        this.#writeMessage(opcode, data, fragmentBytes);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#sent();
  }

  /** After a message's frames were written: flushes, or defers the flush while a received message is handled. */
  #sent(): Promise<void> {
    // While a received message is handled, flush later (see receive()), unless much is waiting.
    if (this.#deferring && this.#writer.written < DEFER_FLUSH_BYTES) {
      if (!this.#flushPending) {
        this.#flushPending = true;
        later(this.#flushLater);
      }
      return RESOLVED;
    }
    // The flush may wait for the peer: what was read must not hold the peer up meanwhile.
    this.#reader.examineHeld();
    return this.#flush();
  }

  /** Writes a message's frames: one, or one per `fragmentBytes` (RSV1 and the opcode on the first). */
  #writeMessage(first: number, payload: Uint8Array | ReadableBuffer, fragmentBytes: number): void {
    const length = payload.length;
    if (length <= fragmentBytes) {
      this.#writer.write(0x80 | first, payload);
      return;
    }
    for (let at = 0; at < length; at += fragmentBytes) {
      const end = Math.min(length, at + fragmentBytes);
      const piece = payload instanceof Uint8Array ? payload.subarray(at, end) : payload.slice(at, end);
      this.#writer.write((end === length ? 0x80 : 0) | (at === 0 ? first : 0), piece);
    }
  }

  /**
   * Sends a ping; resolves when the peer's pong with the same payload comes (pongs are seen
   * while messages are read: keep a `receive()` loop going).
   *
   * @param payload Up to 125 bytes (a string as UTF-8); 4 bytes that differ per ping by default.
   * @returns Settles when the pong comes; rejects with `WEBSOCKET_CLOSED` if the connection
   *   closes first.
   * @throws {RangeError} When the payload is longer than 125 bytes.
   * @throws {ChannelStateError} `WEBSOCKET_CLOSED` once the close began.
   */
  ping(payload?: Uint8Array | string): Promise<void> {
    if (this.#state !== OPEN) return Promise.reject(stateError("WEBSOCKET_CLOSED"));
    let bytes: Uint8Array;
    if (payload === undefined) {
      const n = ++this.#pingCount;
      bytes = new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    } else if (typeof payload === "string") {
      bytes = new TextEncoder().encode(payload);
    } else if (payload instanceof Uint8Array) {
      bytes = payload.slice();
    } else {
      return Promise.reject(typeError("send the ping", "payload must be a Uint8Array or a string", payload));
    }
    if (bytes.length > 125) {
      return Promise.reject(rangeError("send the ping", "payload must be at most 125 bytes", bytes.length));
    }
    const pong = new Promise<void>((resolve, reject) => this.#pings.push({ payload: bytes, resolve, reject }));
    this.#writer.write(0x80 | OP_PING, bytes);
    this.#flush().catch(() => {});
    return pong;
  }

  /**
   * Closes the connection with the close handshake: sends a close frame, reads on (dropping
   * messages, unless a `receive()` is pending, which gets them) until the peer's close frame
   * comes or `closeTimeoutMs` passes, then ends the connection. Calling it again (or after the
   * peer closed) just waits.
   *
   * @param code 1000 (normal), 1001–1003, 1007–1014, or 3000–4999.
   * @param reason Up to 123 bytes of UTF-8.
   * @returns How the connection ended (also what {@linkcode closed} settles with).
   * @throws {RangeError} When the code may not be sent or the reason is too long.
   */
  close(code?: number, reason?: string): Promise<WebSocketCloseInfo> {
    if (code === undefined) code = NORMAL_CLOSURE;
    if (reason === undefined) reason = "";
    if (!isIntegerIn(code, 0, 65535) || !isSendableCloseCode(code)) {
      return Promise.reject(
        rangeError("close the WebSocket", "code must be 1000–1003, 1007–1014 or 3000–4999", code),
      );
    }
    if (typeof reason !== "string") {
      return Promise.reject(typeError("close the WebSocket", "reason must be a string", reason));
    }
    if (utf8Length(reason) > 123) {
      return Promise.reject(rangeError("close the WebSocket", "reason must be at most 123 bytes of UTF-8", reason));
    }
    if (this.#state === OPEN) {
      this.#sendClose(code, reason);
      this.#closeTimer = setTimeout(() => this.#timedOut(), this.#closeTimeoutMs);
    }
    if (!this.#reading && this.#state !== CLOSED) this.#drain();
    return this.closed;
  }

  /**
   * Ends the connection at once, without the close handshake: the peer sees the connection end
   * (a reset where the connection can send one). `closed` settles with code 1006.
   *
   * @param reason Why (becomes `closed`'s `error`).
   */
  abort(reason?: unknown): void {
    if (this.#info !== undefined) return;
    const error = reason instanceof Error ? reason : new Error("Cannot use the WebSocket as it was aborted");
    const connection = this.#connection as DuplexChannel & Closable;
    if (typeof connection.abort === "function") connection.abort(error);
    else {
      connection.output.complete(error);
      connection.input.complete(error);
    }
    void this.#finish({ code: ABNORMAL_CLOSURE, reason: "", wasClean: false, error });
  }

  // ---- reading ----

  /** The message the reader found, as the (reused) message object; sends defer their flush now. */
  #deliver(): WebSocketMessage {
    const reader = this.#reader;
    const message = this.#message;
    message.type = reader.type;
    message.data = reader.data;
    this.#deferring = true;
    return message;
  }

  async #receiveSlowly(found: number): Promise<WebSocketMessage | null> {
    try {
      return await this.#next(found);
    } finally {
      this.#reading = false;
    }
  }

  /** The next message (reading as long as needed), or null once closed; `found` is what tryNext gave. */
  async #next(found: number = NEED_MORE): Promise<WebSocketMessage | null> {
    const reader = this.#reader;
    let outcome = found;
    if (outcome === NEED_MORE) {
      try {
        outcome = await reader.next(this.#beforeWait);
      } catch (error) {
        await this.#finish({ code: ABNORMAL_CLOSURE, reason: "", wasClean: false, error: asError(error) });
        return null;
      }
    }
    if (this.#state === CLOSED) return null;
    switch (outcome) {
      case MESSAGE:
        return this.#deliver();
      case CLOSE:
        await this.#closeReceived(reader.closeCode, reader.closeReason);
        return null;
      case FAILED:
        await this.#fail(reader.failCode, reader.failReason, reader.failError);
        return null;
      default:
        await this.#finish({ code: ABNORMAL_CLOSURE, reason: "", wasClean: false });
        return null;
    }
  }

  /** Before the reader waits for input: what sends deferred goes out now. */
  readonly #beforeWait = (): void => {
    if (this.#flushPending) this.#flush().catch(ignore);
  };

  /** Reads until the connection closes, dropping messages (close() with no receive() pending). */
  #drain(): void {
    this.#reading = true;
    this.#draining = (async () => {
      while ((await this.#next()) !== null);
    })().finally(() => {
      this.#reading = false;
      this.#draining = undefined;
    });
  }

  #onPing(payload: Uint8Array): void {
    if (this.#state !== OPEN) return; // nothing but the close goes out after ours
    this.#writer.write(0x80 | OP_PONG, payload);
    this.#flush().catch(() => {});
  }

  #onPong(payload: Uint8Array): void {
    const pings = this.#pings;
    const index = pings.findIndex((ping) => equalBytes(ping.payload, payload));
    if (index < 0) return; // unsolicited, or a heartbeat of the peer's
    // A pong answers its ping and every ping before it (pongs may be coalesced).
    for (const ping of pings.splice(0, index + 1)) ping.resolve();
  }

  // ---- closing ----

  #sendClose(code: number | undefined, reason: string): void {
    this.#state = CLOSING;
    let payload: Uint8Array;
    if (code === undefined) payload = new Uint8Array(0);
    else {
      const text = new TextEncoder().encode(reason);
      payload = new Uint8Array(2 + text.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(text, 2);
    }
    try {
      this.#writer.write(0x80 | OP_CLOSE, payload);
      this.#flush().catch(() => {});
    } catch {
      // The output is gone: the connection ends without our close frame.
    }
  }

  async #closeReceived(code: number, reason: string): Promise<void> {
    // Answer with the peer's code and reason (none when it sent none), as ws and websockets do.
    if (this.#state === OPEN) this.#sendClose(code === NO_STATUS ? undefined : code, reason);
    await this.#finish({ code, reason, wasClean: true });
  }

  async #fail(code: number, reason: string, error: Error | undefined): Promise<void> {
    if (this.#state === OPEN) this.#sendClose(code, truncateReason(reason));
    await this.#finish(
      error === undefined ? { code, reason, wasClean: false } : { code, reason, wasClean: false, error },
    );
  }

  #timedOut(): void {
    if (this.#info !== undefined) return;
    const error = new Error(
      `Cannot close the WebSocket cleanly as the peer did not answer the close within ${this.#closeTimeoutMs} ms`,
    );
    const connection = this.#connection;
    // Wake a pending read: it rejects, and the reading side finishes too.
    connection.input.complete();
    void this.#finish({ code: ABNORMAL_CLOSURE, reason: "", wasClean: false, error });
  }

  /** Ends the connection once (later calls wait for the first). */
  async #finish(info: WebSocketCloseInfo): Promise<void> {
    if (this.#info !== undefined) {
      await this.closed;
      return;
    }
    this.#info = info;
    this.#state = CLOSED;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    for (const ping of this.#pings.splice(0)) ping.reject(stateError("WEBSOCKET_CLOSED"));
    this.#deflater?.close();
    const connection = this.#connection as DuplexChannel & Closable;
    try {
      this.#writer.release(); // frames sent and not yet flushed go out with the close
    } catch {
      // The output is completed already.
    }
    if (!this.#server && info.wasClean) {
      // A client lets the server end the TCP connection first (§7.1.1), for a while.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#reader.readToEnd().catch(ignore),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#closeTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    if (!this.#server && typeof connection.close === "function") {
      try {
        await connection.close();
      } catch {
        // Closed anyway.
      }
    } else {
      connection.output.complete();
      connection.input.complete();
    }
    this.#inflater?.close();
    this.#settle(info);
  }

  #flush(): Promise<void> {
    this.#flushPending = false;
    try {
      this.#writer.release();
    } catch (error) {
      return Promise.reject(error); // the output is completed: as its flush would
    }
    return this.#connection.output.flush().then(ignore);
  }

  /** The macrotask fallback of a deferred flush (a handler that did not call receive() again). */
  readonly #flushLater = (): void => {
    if (this.#flushPending && this.#state !== CLOSED) this.#flush().catch(ignore);
  };
}

function ignore(): void {}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `reason` cut to at most 123 bytes of UTF-8 (whole characters). */
function truncateReason(reason: string): string {
  let text = reason;
  while (utf8Length(text) > 123) text = text.slice(0, -1);
  return text;
}
