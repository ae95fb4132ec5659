/**
 * {@linkcode RespClient}: a Redis client on one connection's channels.
 *
 * @module
 */

import { isIntegerIn, rangeError, respConnectionLost, RespError, stateError, typeError } from "../errors.ts";
import type { DuplexChannel } from "../readable_channel.ts";
import { CommandWriter, type RespArgument } from "./_command.ts";
import { DEFAULT_LIMITS, type RespLimits, RespParser, type RespValue } from "./_parser.ts";

/**
 * What {@linkcode RespClient.open} needs of a connection: its two channels and a way to close
 * it. Every runtime adapter's `Connection` (`connect` from `./deno`, `./bun`, `./node`) is one.
 */
export interface RespConnection extends DuplexChannel {
  /** Closes the connection (both channels end); may settle once the socket is closed. */
  close(): void | Promise<void>;
  /** Ends the connection at once, if the connection can (used when it failed). */
  abort?(reason?: unknown): void;
  /** Settles once the connection is closed and its memory returned, if the connection tells. */
  readonly closed?: Promise<void>;
}

/** Options of {@linkcode RespClient.open}. */
export interface RespClientOptions extends Partial<RespLimits> {
  /**
   * The protocol: 3 sends `HELLO 3` first (maps, sets, doubles… and pushes); 2 keeps the
   * connection's default RESP2 (no `HELLO`, for servers before Redis 6).
   *
   * @default {3}
   */
  protocol?: 2 | 3;
  /** The ACL user to authenticate as (with `password`). @default {"default"} */
  username?: string;
  /** The password: sent with `HELLO 3 AUTH` (RESP3) or `AUTH` (RESP2) before any command. */
  password?: string;
  /** The database to `SELECT` before any command. @default {0} (no SELECT) */
  db?: number;
  /**
   * Receives every push: RESP3 `>` replies (pub/sub messages and subscription confirmations,
   * client-side caching invalidations…) and, in RESP2, the pub/sub messages and confirmations
   * that arrive while subscribed. Pushes are never the reply to a `send`. Called synchronously
   * while a read is parsed; an exception it throws is rethrown in a microtask (reported as
   * uncaught) and the client goes on. Without it, pushes are dropped.
   */
  onPush?: (push: RespValue[]) => void;
}

/** Options of {@linkcode RespClient.send}. */
export interface SendOptions {
  /**
   * Bulk and verbatim strings of the reply (nested ones too) come as `Uint8Array`s, copied
   * once out of the read buffer, instead of UTF-8-decoded strings.
   *
   * @default {false}
   */
  bytes?: boolean;
}

// What a pending command expects (#flags): bit 0 bytes mode; bits 1–3 a subscription command.
const BYTES = 1;
const FAMILY_SHIFT = 1;
const SUBSCRIBE = 1;
const PSUBSCRIBE = 2;
const SSUBSCRIBE = 3;
const UNSUBSCRIBE = 4;
const PUNSUBSCRIBE = 5;
const SUNSUBSCRIBE = 6;
const FAMILIES: Record<string, number> = {
  subscribe: SUBSCRIBE,
  psubscribe: PSUBSCRIBE,
  ssubscribe: SSUBSCRIBE,
  unsubscribe: UNSUBSCRIBE,
  punsubscribe: PUNSUBSCRIBE,
  sunsubscribe: SUNSUBSCRIBE,
};
// RESP2 arrays that are pushes while subscribed: messages and confirmations.
const RESP2_PUSH_KINDS = new Set(["message", "pmessage", "smessage", ...Object.keys(FAMILIES)]);

const SETTLED: Promise<void> = Promise.resolve();
const utf8 = new TextDecoder();

// The executor of every send's promise: a function, not a closure per send.
let capturedResolve: (value: RespValue) => void = noop;
let capturedReject: (reason: unknown) => void = noop;
function capture(resolve: (value: RespValue) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}
function noop(): void {}

/**
 * A Redis client over one connection's channels, RESP2 or RESP3 (see {@linkcode RespClientOptions}).
 *
 * - `send` writes the command into the output's pool memory at once; every command sent in
 *   the same tick goes out with one flush (auto-pipelining), and replies are matched in order.
 * - Replies are parsed where they lie in the input's pool memory; a value is copied once, when
 *   it is complete (see the mapping in `./resp`'s module doc).
 * - An error reply rejects its `send` with a {@linkcode RespError}; the client goes on.
 * - When the connection fails or ends, or a reply is malformed or past a limit, every pending
 *   `send` rejects with an `Error` whose `cause` is what happened (and later sends too).
 *
 * @example Pipelined commands, bytes, an error and a push (against a scripted server)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { RespClient, RespError, type RespValue } from "@channels/channels/resp";
 *
 * // A scripted server: each write of the client (a tick's commands) gets the next answer.
 * const answers = [
 *   "%1\r\n+proto\r\n:3\r\n", // HELLO 3
 *   "+OK\r\n$2\r\nhi\r\n>2\r\n+news\r\n+flash\r\n$2\r\nhi\r\n-ERR nope\r\n",
 * ];
 * const toServer = new Channel();
 * const toClient = new Channel();
 * const server = (async () => {
 *   for (const answer of answers) {
 *     const { buffer } = await toServer.reader.read();
 *     toServer.reader.advanceTo(buffer.length);
 *     await toClient.writer.writeUtf8(answer);
 *   }
 * })();
 * const connection = {
 *   input: toClient.reader,
 *   output: toServer.writer,
 *   close() {
 *     toClient.reader.complete();
 *     toServer.writer.complete();
 *   },
 * };
 *
 * const pushes: RespValue[][] = [];
 * const redis = await RespClient.open(connection, { onPush: (push) => pushes.push(push) });
 * const [set, text, bytes, error] = await Promise.allSettled([
 *   redis.send(["SET", "greeting", "hi"]),
 *   redis.send(["GET", "greeting"]),
 *   redis.send(["GET", "greeting"], { bytes: true }),
 *   redis.send(["NOPE"]),
 * ]);
 * assert.deepEqual([set, text], [{ status: "fulfilled", value: "OK" }, { status: "fulfilled", value: "hi" }]);
 * assert.deepEqual(bytes, { status: "fulfilled", value: new Uint8Array([0x68, 0x69]) });
 * assert.ok(error.status === "rejected" && error.reason instanceof RespError);
 * assert.deepEqual(pushes, [["news", "flash"]]);
 * await server;
 * await redis.close();
 * ```
 *
 * @example Against a real server
 * ```ts ignore
 * import { connect } from "@channels/channels/node"; // or ./deno, ./bun
 * import { RespClient } from "@channels/channels/resp";
 *
 * const redis = await RespClient.open(await connect({ port: 6379 }));
 * const [, visits] = await Promise.all([redis.send(["SET", "greeting", "hello"]), redis.send(["INCR", "visits"])]);
 * console.log(visits, await redis.send(["GET", "greeting"]));
 * await redis.close();
 * ```
 */
export class RespClient {
  readonly #connection: RespConnection;
  readonly #protocol: 2 | 3;
  readonly #onPush: ((push: RespValue[]) => void) | undefined;
  readonly #writer: CommandWriter;
  readonly #parser: RespParser;

  // Pending sends, oldest first: a ring of #capacity (a power of two) from #head, #count long.
  #resolves: ((value: RespValue) => void)[] = [];
  #rejects: ((reason: unknown) => void)[] = [];
  #flags: number[] = [];
  // Confirmations a subscription command still waits for (-1: not counted yet, an argument-less UNSUBSCRIBE).
  #expected: number[] = [];
  #head = 0;
  #count = 0;
  #capacity = 0;
  // Confirmations the head has received so far (its reply once all arrived).
  #confirmations: RespValue[] = [];

  // Subscriptions, as the server's confirmations count them.
  #channels = 0;
  #patterns = 0;
  #shards = 0;

  #flushScheduled = false;
  // Set once: the connection failed or ended (every send rejects with it), or close() began.
  #failure: Error | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  readonly #reading: Promise<void>;

  /**
   * Opens a client on a connection: `HELLO 3` (with `AUTH` when a password is given) for
   * RESP3, or `AUTH` for RESP2, then `SELECT` when `db` is given.
   *
   * @param connection The connection (any adapter's `Connection`); the client owns it now.
   * @param options The protocol, credentials, database, push handler and parser limits.
   * @returns The client, once the server accepted the handshake.
   * @throws {TypeError} When an option has the wrong type (the connection is closed).
   * @throws {RangeError} When `protocol`, `db` or a limit is out of range (the connection is closed).
   * @throws {RespError} When the server refuses the handshake (`NOAUTH`, `WRONGPASS`, a
   * server without `HELLO`…); the connection is closed.
   *
   * @example Authentication and a database
   * ```ts ignore
   * import { connect } from "@channels/channels/deno";
   * import { RespClient } from "@channels/channels/resp";
   *
   * const redis = await RespClient.open(await connect({ port: 6379 }), {
   *   username: "app",
   *   password: "secret",
   *   db: 2,
   * });
   * await redis.close();
   * ```
   */
  static async open(connection: RespConnection, options?: RespClientOptions): Promise<RespClient> {
    if (options === undefined) options = {};
    let client: RespClient;
    try {
      client = new RespClient(connection, checkOptions(options));
    } catch (error) {
      await connection.close();
      throw error;
    }
    try {
      await client.#handshake(options);
    } catch (error) {
      await client.#shut();
      throw error;
    }
    return client;
  }

  private constructor(connection: RespConnection, options: CheckedOptions) {
    this.#connection = connection;
    this.#protocol = options.protocol;
    this.#onPush = options.onPush;
    this.#writer = new CommandWriter(connection.output);
    this.#parser = new RespParser(this.#onValue, options.limits);
    this.#grow();
    this.#reading = this.#readLoop();
  }

  /** The protocol the connection speaks: 2 or 3. */
  get protocol(): 2 | 3 {
    return this.#protocol;
  }

  /** Commands sent whose reply has not arrived. */
  get pending(): number {
    return this.#count;
  }

  /**
   * Sends a command and returns its reply. The command is written into the output's pool
   * memory before this returns; it goes out with every other command sent in this tick.
   *
   * `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` and their `UNSUBSCRIBE`s settle once the server
   * confirmed every channel (each confirmation also goes to `onPush`), with the confirmations
   * as an array: `[["subscribe", "news", 1], …]`.
   *
   * @param args The command and its arguments: strings are sent as UTF-8, `Uint8Array`s as
   * they are, numbers in decimal (`inf` and `-inf` for the infinities).
   * @param options `bytes: true` for `Uint8Array`s instead of strings.
   * @returns The reply (see the mapping in `./resp`'s module doc).
   * @throws {RespError} When the server answers with an error (as a rejection).
   * @throws {TypeError} When `args` is not a non-empty array of strings, `Uint8Array`s and
   * numbers (as a rejection; nothing is sent).
   * @throws {ChannelStateError} `CLIENT_CLOSED` after `close()` (as a rejection).
   * @throws {Error} When the connection failed or ended before the reply arrived (as a
   * rejection; `cause` says why).
   */
  send(args: readonly RespArgument[], options?: SendOptions): Promise<RespValue> {
    if (this.#closing) return Promise.reject(stateError("CLIENT_CLOSED"));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    try {
      this.#writer.write(args);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(args, options?.bytes === true);
  }

  /**
   * Closes the client: waits for the reply to every command sent, then closes the connection.
   * Later sends reject with `CLIENT_CLOSED`. Calling it again returns the same promise.
   *
   * @returns Settles once the connection is closed.
   */
  close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closing = true;
      this.#closed = (async () => {
        // Never inside a parse (close() called from onPush): the read's buffer must stay valid.
        await SETTLED;
        if (this.#count > 0 && this.#failure === undefined) {
          await new Promise<void>((resolve) => (this.#idle = resolve));
        }
        await this.#shut();
      })();
    }
    return this.#closed;
  }

  // ---- sending ----

  #enqueue(args: readonly RespArgument[], bytes: boolean): Promise<RespValue> {
    const promise = new Promise<RespValue>(capture);
    if (this.#count === this.#capacity) this.#grow();
    const slot = (this.#head + this.#count) & (this.#capacity - 1);
    this.#resolves[slot] = capturedResolve;
    this.#rejects[slot] = capturedReject;
    let flags = bytes ? BYTES : 0;
    let expected = 0;
    const name = args[0];
    if ((typeof name === "string" || name instanceof Uint8Array) && name.length >= 9 && name.length <= 12) {
      const family = FAMILIES[(typeof name === "string" ? name : utf8.decode(name)).toLowerCase()];
      if (family !== undefined) {
        flags |= family << FAMILY_SHIFT;
        expected = args.length > 1 ? args.length - 1 : family >= UNSUBSCRIBE ? -1 : 0;
      }
    }
    this.#flags[slot] = flags;
    this.#expected[slot] = expected;
    if (this.#count++ === 0) this.#parser.bytes = bytes;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      SETTLED.then(this.#flush);
    }
    return promise;
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#failure !== undefined) return;
    this.#writer.commit();
    this.#connection.output.flush().then(this.#flushed, this.#lost);
  };

  readonly #flushed = (result: { isCompleted: boolean }): void => {
    if (result.isCompleted && this.#count > 0) this.#fail(undefined);
  };

  readonly #lost = (error: unknown): void => {
    this.#fail(error);
  };

  #grow(): void {
    const capacity = this.#capacity === 0 ? 64 : this.#capacity * 2;
    const resolves: ((value: RespValue) => void)[] = new Array(capacity).fill(noop);
    const rejects: ((reason: unknown) => void)[] = new Array(capacity).fill(noop);
    const flags: number[] = new Array(capacity).fill(0);
    const expected: number[] = new Array(capacity).fill(0);
    for (let k = 0; k < this.#count; k++) {
      const from = (this.#head + k) & (this.#capacity - 1);
      resolves[k] = this.#resolves[from] as (value: RespValue) => void;
      rejects[k] = this.#rejects[from] as (reason: unknown) => void;
      flags[k] = this.#flags[from] as number;
      expected[k] = this.#expected[from] as number;
    }
    this.#resolves = resolves;
    this.#rejects = rejects;
    this.#flags = flags;
    this.#expected = expected;
    this.#head = 0;
    this.#capacity = capacity;
  }

  async #handshake(options: RespClientOptions): Promise<void> {
    const { username = "default", password, db } = options;
    if (this.#protocol === 3) {
      await this.send(password === undefined ? ["HELLO", 3] : ["HELLO", 3, "AUTH", username, password]);
    } else if (password !== undefined) {
      await this.send(options.username === undefined ? ["AUTH", password] : ["AUTH", username, password]);
    }
    if (db !== undefined && db !== 0) await this.send(["SELECT", db]);
  }

  // ---- receiving ----

  async #readLoop(): Promise<void> {
    const input = this.#connection.input;
    const parser = this.#parser;
    try {
      for (;;) {
        const { buffer, isCompleted } = await input.read();
        const length = buffer.length;
        const consumed = parser.parse(buffer);
        input.advanceTo(consumed, length);
        if (isCompleted) {
          this.#fail(undefined);
          return;
        }
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  readonly #onValue = (value: RespValue, push: boolean): void => {
    if (push) {
      this.#onPushValue(value as RespValue[]);
      return;
    }
    if (this.#protocol === 2 && Array.isArray(value) && this.#isResp2Push(value)) {
      this.#onPushValue(value);
      return;
    }
    if (this.#count === 0) {
      throw new TypeError(`Cannot match the reply as no command is pending: received ${describeValue(value)}`);
    }
    this.#settleHead(value);
  };

  /** Settles the oldest pending send with `value` (a RespError rejects it). */
  #settleHead(value: RespValue): void {
    const slot = this.#head;
    const resolve = this.#resolves[slot] as (value: RespValue) => void;
    const reject = this.#rejects[slot] as (reason: unknown) => void;
    this.#resolves[slot] = noop;
    this.#rejects[slot] = noop;
    this.#head = (slot + 1) & (this.#capacity - 1);
    if (--this.#count > 0) {
      this.#parser.bytes = ((this.#flags[this.#head] as number) & BYTES) !== 0;
    } else if (this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      SETTLED.then(idle);
    }
    if (value instanceof RespError) reject(value);
    else resolve(value);
  }

  /** A RESP2 array that is a pub/sub message or confirmation (only while subscribed or subscribing). */
  #isResp2Push(value: RespValue[]): boolean {
    const head = this.#count > 0 ? (this.#flags[this.#head] as number) >> FAMILY_SHIFT : 0;
    if (head === 0 && this.#channels + this.#patterns + this.#shards === 0) return false;
    const kind = value[0];
    const text = typeof kind === "string" ? kind : kind instanceof Uint8Array ? utf8.decode(kind) : undefined;
    return text !== undefined && RESP2_PUSH_KINDS.has(text);
  }

  #onPushValue(push: RespValue[]): void {
    const kindValue = push[0];
    const kind = typeof kindValue === "string"
      ? kindValue
      : kindValue instanceof Uint8Array
      ? utf8.decode(kindValue)
      : "";
    const family = FAMILIES[kind];
    if (family !== undefined) this.#confirmed(family, push);
    const onPush = this.#onPush;
    if (onPush !== undefined) {
      try {
        onPush(push);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** A subscription confirmation: counts it, and settles the head once all of its arrived. */
  #confirmed(family: number, push: RespValue[]): void {
    const count = push[2];
    const head = this.#count > 0 ? (this.#flags[this.#head] as number) >> FAMILY_SHIFT : 0;
    let expected = head === family ? (this.#expected[this.#head] as number) : 0;
    if (expected === -1) {
      // An argument-less UNSUBSCRIBE: one confirmation per subscription it ends, or one when none.
      expected = Math.max(
        1,
        family === UNSUBSCRIBE ? this.#channels : family === PUNSUBSCRIBE ? this.#patterns : this.#shards,
      );
    }
    if (typeof count === "number") {
      if (family === SUBSCRIBE || family === UNSUBSCRIBE) this.#channels = Math.max(0, count - this.#patterns);
      else if (family === PSUBSCRIBE || family === PUNSUBSCRIBE) this.#patterns = Math.max(0, count - this.#channels);
      else this.#shards = count;
    }
    if (expected === 0) return; // unsolicited (a shard moved, say): onPush only
    this.#confirmations.push(push);
    this.#expected[this.#head] = --expected;
    if (expected === 0) {
      const confirmations = this.#confirmations;
      this.#confirmations = [];
      this.#settleHead(confirmations);
    }
  }

  // ---- ending ----

  /** The connection is unusable: rejects every pending send with why, and closes it. */
  #fail(cause: unknown): void {
    if (this.#failure !== undefined) return;
    const pending = this.#count;
    const failure = respConnectionLost(pending, cause);
    this.#failure = failure;
    for (let k = 0; k < pending; k++) {
      const slot = (this.#head + k) & (this.#capacity - 1);
      const reject = this.#rejects[slot] as (reason: unknown) => void;
      this.#resolves[slot] = noop;
      this.#rejects[slot] = noop;
      reject(failure);
    }
    this.#count = 0;
    this.#confirmations = [];
    if (this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
    if (!this.#closing) {
      const connection = this.#connection;
      try {
        if (connection.abort !== undefined && cause !== undefined) connection.abort(cause);
        else void Promise.resolve(connection.close()).catch(noop);
      } catch {
        // Already closed.
      }
    }
  }

  /** Ends the output and closes the connection; the read loop then ends. */
  async #shut(): Promise<void> {
    this.#closing = true;
    this.#writer.release();
    try {
      this.#connection.output.complete();
    } catch {
      // Already completed.
    }
    await this.#connection.close();
    // Ends the read loop even over a connection whose close() leaves its input open.
    try {
      this.#connection.input.complete();
    } catch {
      // Already completed.
    }
    await this.#reading;
    await this.#connection.closed;
  }
}

/** The options, checked and with defaults. */
interface CheckedOptions {
  protocol: 2 | 3;
  onPush: ((push: RespValue[]) => void) | undefined;
  limits: RespLimits;
}

function checkOptions(options: RespClientOptions): CheckedOptions {
  if (options === null || typeof options !== "object") {
    throw typeError("open the client", "options must be an object", options);
  }
  const { protocol = 3, username, password, db, onPush } = options;
  if (protocol !== 2 && protocol !== 3) throw rangeError("open the client", "protocol must be 2 or 3", protocol);
  if (username !== undefined && typeof username !== "string") {
    throw typeError("open the client", "username must be a string", username);
  }
  if (password !== undefined && typeof password !== "string") {
    throw typeError("open the client", "password must be a string", password);
  }
  if (username !== undefined && password === undefined) {
    throw typeError("open the client", "a username needs a password", password);
  }
  if (db !== undefined && !isIntegerIn(db, 0, 2 ** 31 - 1)) {
    throw rangeError("open the client", "db must be a non-negative integer", db);
  }
  if (onPush !== undefined && typeof onPush !== "function") {
    throw typeError("open the client", "onPush must be a function", onPush);
  }
  const limits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof RespLimits)[]) {
    const value = options[name];
    if (value === undefined) continue;
    if (!isIntegerIn(value, name === "maxDepth" ? 1 : 0, Number.MAX_SAFE_INTEGER)) {
      throw rangeError("open the client", `${name} must be a non-negative integer`, value);
    }
    limits[name] = value;
  }
  return { protocol, onPush, limits };
}

/** A short description of a value for an error message. */
function describeValue(value: RespValue): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value);
}
