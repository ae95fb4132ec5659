/**
 * {@linkcode serveHttp}: HTTP/1.1 on one connection, request after request.
 *
 * @module
 */

import { isIntegerIn, rangeError, typeError } from "../errors.ts";
import { RunCursor } from "../_runs.ts";
import { type ReadableBuffer, walkRuns } from "../readable_buffer.ts";
import type { DuplexChannel, ReadableChannel } from "../readable_channel.ts";
import type { WritableChannel } from "../writable_channel.ts";
import { bodyErrorStatus } from "./_body_errors.ts";
import { ChunkedBody } from "./_chunked_body.ts";
import type { RequestBody } from "./_cursor_body.ts";
import { FixedLengthBody } from "./_fixed_body.ts";
import { HeadParser, INVALID, NEED_MORE } from "./_head_parser.ts";
import { InputCursor } from "./_input_cursor.ts";
import { BufferWriter } from "../buffer_writer.ts";
import { BODY_CHUNKED, BODY_LENGTH, frameRequest, RequestFraming } from "./_request_framing.ts";
import { reasonPhrase } from "./_status.ts";
import { EMPTY_BODY, HttpRequest, methodOf, rebindRequest } from "./http_request.ts";
import {
  FLAG_HEAD,
  FLAG_HTTP10,
  FLAG_UPGRADE,
  HttpResponse,
  type ResponseTarget,
  settleResponse,
} from "./http_response.ts";

/**
 * Serves one request: read `request`, answer through `response`. May return a promise; the
 * next request on the connection is served once it settles (responses go out in order).
 */
export type HttpHandler = (request: HttpRequest, response: HttpResponse) => void | Promise<void>;

/** Options of {@linkcode serveHttp}; all are checked when it is called. */
export interface ServeHttpOptions {
  /**
   * The longest request head (request line and fields, with line ends), and the longest
   * trailer section: longer ones get 431 and a close.
   *
   * @default {16384} (Node's default `maxHeaderSize`)
   */
  maxHeadBytes?: number;
  /**
   * The most field lines in a head (and in trailers): more get 431 and a close.
   *
   * @default {100}
   */
  maxHeaderCount?: number;
  /**
   * The longest request body: a larger `Content-Length` gets 413 before the handler runs; a
   * chunked body that grows past it fails its reader with a `RangeError` (413 when the handler
   * lets it through). `Infinity` for no limit.
   *
   * @default {33554432} (32 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long a request head may take to arrive once its first byte came (slowloris); past
   * it the client gets 408 and the connection closes. `Infinity` for no limit.
   *
   * @default {30000} (Kestrel's RequestHeadersTimeout)
   */
  headersTimeoutMs?: number;
  /**
   * How long a request's body may take to arrive once its head came (a body sent slowly on
   * purpose holds a handler): past it the body's reader rejects with a `RangeError` (408 when
   * the handler lets it through) and the connection closes. `Infinity` for no limit.
   *
   * @default {300000} (Node's `requestTimeout`)
   */
  requestTimeoutMs?: number;
  /**
   * How long an idle connection waits for the next request before it closes (also the first
   * request's wait). `Infinity` for no limit.
   *
   * @default {5000} (Node's `keepAliveTimeout`)
   */
  keepAliveTimeoutMs?: number;
  /**
   * Gets what a handler threw (or rejected with); the client got a 500 when nothing was sent
   * yet, and the connection closes either way.
   *
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

// An unread body of up to this many bytes is read and dropped after its handler settled, so
// the connection can serve the next request; a longer one closes the connection instead (a
// client that sent a large upload the handler refused should not cost its whole transfer).
const DRAIN_LIMIT_BYTES = 256 * 1024;
// Responses to pipelined requests are flushed together once the read holds no further whole
// request, or once this many bytes wait (the output's pause threshold by default).
const FLUSH_AFTER_BYTES = 65536;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

interface Limits {
  maxHeadBytes: number;
  maxHeaderCount: number;
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  onError: (error: unknown) => void;
}

/**
 * Serves HTTP/1.1 on a connection (any `DuplexChannel`, such as an adapter's `Connection`)
 * until it ends: parses each request head straight from the input's pool memory, calls
 * `handler`, writes the response straight into the output's pool memory, and goes on with the
 * next request. Keep-alive and pipelining are handled (the requests of one read are served
 * without reading again, their responses flushed together, in order).
 *
 * Bad requests get an answer and a close, never a crash: 400 for a malformed head (bare CR or
 * LF where CRLF belongs, obs-fold, NUL and other controls, bytes that are not token characters,
 * no Host or several), and for every framing a request smuggler relies on (`Content-Length`
 * with `Transfer-Encoding`, `Content-Length` values that differ, a `Transfer-Encoding` that
 * does not end in `chunked`, bad chunk sizes); 413, 417, 431, 501 and 505 where they apply;
 * 408 for a head that takes longer than `headersTimeoutMs` (slowloris) or a body longer than
 * `requestTimeoutMs`. An idle connection closes after `keepAliveTimeoutMs`.
 *
 * The returned promise settles when the connection is done: the client closed it, a response
 * said `Connection: close`, a request was refused, a handler failed, the connection timed out,
 * or an upgraded connection's handler settled. Both channels are completed then (the output
 * gracefully: every response byte is sent first). It never rejects for what the client does.
 *
 * @param connection The connection: requests come from `input`, responses go to `output`.
 * @param handler Serves each request.
 * @param options Limits, timeouts and `onError`.
 * @returns A promise that settles when the connection is done.
 * @throws {TypeError} When `connection` has no `input` and `output`, or `handler` is not a function.
 * @throws {RangeError} When a limit or timeout is not a positive integer (or `Infinity` where allowed).
 *
 * @example A server on any runtime's `listen`
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@channels/channels/deno";
 * import { serveHttp } from "@channels/channels/http1";
 *
 * await using listener = await listen({ port: 0 }, (connection) =>
 *   serveHttp(connection, (request, response) => {
 *     response.setHeader("Content-Type", "text/plain");
 *     response.end(`You asked for ${request.target}`);
 *   }));
 * const reply = await fetch(`http://127.0.0.1:${listener.addr.port}/hello`);
 * assert.equal(await reply.text(), "You asked for /hello");
 * ```
 */
export function serveHttp(
  connection: DuplexChannel,
  handler: HttpHandler,
  options?: ServeHttpOptions,
): Promise<void> {
  if (typeof connection !== "object" || connection === null || !connection.input || !connection.output) {
    throw typeError("serve HTTP", "connection must have an input and an output channel", connection);
  }
  if (typeof handler !== "function") throw typeError("serve HTTP", "handler must be a function", handler);
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) {
    throw typeError("serve HTTP", "options must be an object", options);
  }
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  if (typeof onError !== "function") throw typeError("serve HTTP", "onError must be a function", onError);
  const limits: Limits = {
    maxHeadBytes: limit(options.maxHeadBytes, 16384, "maxHeadBytes", false),
    maxHeaderCount: limit(options.maxHeaderCount, 100, "maxHeaderCount", false),
    maxBodyBytes: limit(options.maxBodyBytes, 32 * 1024 * 1024, "maxBodyBytes", true),
    headersTimeoutMs: limit(options.headersTimeoutMs, 30_000, "headersTimeoutMs", true),
    requestTimeoutMs: limit(options.requestTimeoutMs, 300_000, "requestTimeoutMs", true),
    keepAliveTimeoutMs: limit(options.keepAliveTimeoutMs, 5_000, "keepAliveTimeoutMs", true),
    onError,
  };
  return new HttpConnection(connection, handler, limits).serve();
}

function limit(value: number | undefined, fallback: number, name: string, infinite: boolean): number {
  if (value === undefined) return fallback;
  if (infinite && value === Infinity) return Infinity;
  if (!isIntegerIn(value, 1, Number.MAX_SAFE_INTEGER)) {
    throw rangeError("serve HTTP", `${name} must be a positive integer${infinite ? " or Infinity" : ""}`, value);
  }
  return value;
}

/**
 * One connection's state: the input cursor, the parser, the current request's head and
 * body, the response's writer, and the timer for heads that do not come.
 */
class HttpConnection implements ResponseTarget {
  /** Bumped when a request's handler settles; a request checks it (HeadOwner). */
  generation = 0;
  /** The current request leaves the connection open. */
  keepAlive = true;
  /** Date.now() when the current request's head was complete. */
  now = 0;
  /** The open response's fields (see HttpResponse). */
  readonly fields: string[] = [];
  readonly writer: BufferWriter;
  readonly output: WritableChannel;
  readonly #input: ReadableChannel;
  readonly #cursor: InputCursor;
  readonly #parser: HeadParser;
  readonly #framing = new RequestFraming();
  readonly #handler: HttpHandler;
  readonly #limits: Limits;
  readonly #runs = new RunCursor();

  // The current request's head: where it lies in the cursor's buffer while #headAttached
  // (its headers read it there), else copied to #scratch.
  #request: HttpRequest | undefined;
  #headStart = 0;
  #headLength = 0;
  #headAttached = false;
  #scratch = new Uint8Array(0);
  #body: RequestBody | undefined;
  #response: HttpResponse | undefined;
  // The client sent Expect: 100-continue, and neither 100 nor a final head went out yet.
  #continuePending = false;
  #inAsyncHandler = false;
  #upgraded = false;
  // Set when a streamed body could not end well: the connection is aborted with it.
  #bodyFailure: unknown;
  #bodyFailed = false;

  // The head timer: one setTimeout at a time, re-armed when it fires before #deadline.
  #deadline = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  #headTimerSet = false;

  constructor(connection: DuplexChannel, handler: HttpHandler, limits: Limits) {
    this.#input = connection.input;
    this.output = connection.output;
    this.writer = new BufferWriter(connection.output);
    this.#cursor = new InputCursor(connection.input);
    this.#cursor.beforeRelease = () => this.#detachHead();
    this.#parser = new HeadParser(limits.maxHeadBytes, limits.maxHeaderCount);
    this.#handler = handler;
    this.#limits = limits;
  }

  get bodyPending(): boolean {
    return this.#body !== undefined && !this.#body.done;
  }

  async serve(): Promise<void> {
    let failure: unknown;
    let failed = false;
    try {
      await this.#loop();
    } catch (error) {
      // The input or output failed (the socket is gone, or was aborted): nothing to answer.
      failed = true;
      failure = error;
    } finally {
      this.#disarm();
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.generation++;
    if (this.#bodyFailed) this.output.complete(this.#bodyFailure);
    else if (failed) this.output.complete(failure);
    else this.output.complete();
    this.#input.complete();
  }

  async #loop(): Promise<void> {
    const cursor = this.#cursor;
    const parser = this.#parser;
    for (;;) {
      const length = cursor.held ? parser.parse(cursor.buffer, cursor.offset) : NEED_MORE;
      if (length === NEED_MORE) {
        if (cursor.held && cursor.ended) {
          // The client is done: a partial head gets a 400 (it may still read), else just end.
          if (!parser.idle) await this.#refuse(400);
          return;
        }
        if (this.output.unflushedBytes > 0) {
          const flushed = await this.output.flush();
          if (flushed.isCompleted) return;
        }
        if (cursor.held && !parser.idle) {
          if (!this.#headTimerSet) {
            this.#headTimerSet = true;
            this.#arm(this.#limits.headersTimeoutMs);
          }
        } else {
          this.#headTimerSet = false;
          this.#arm(this.#limits.keepAliveTimeoutMs);
        }
        if (!cursor.tryRead()) {
          const next = cursor.next();
          if (next !== undefined) cursor.take(await next);
        }
        if (cursor.canceled && cursor.expired) {
          if (!parser.idle) await this.#refuse(408);
          return;
        }
        continue;
      }
      this.#disarm();
      this.#headTimerSet = false;
      if (length === INVALID) {
        await this.#refuse(parser.errorStatus);
        return;
      }
      const served = this.#serveRequest(length);
      if (!(typeof served === "boolean" ? served : await served)) return;
      parser.reset();
      if (this.output.unflushedBytes >= FLUSH_AFTER_BYTES) {
        const flushed = await this.output.flush();
        if (flushed.isCompleted) return;
      }
    }
  }

  /** Serves the request whose head is the next `length` bytes; false when the connection is done. */
  #serveRequest(length: number): boolean | Promise<boolean> {
    const cursor = this.#cursor;
    const parser = this.#parser;
    const limits = this.#limits;
    const framing = this.#framing;
    const start = cursor.offset;
    // The head as one array: where it lies when one segment holds it (the usual case), else a copy.
    let bytes: Uint8Array;
    let offset: number;
    // The segment holding the head's first byte (no joining: a segment's own view is kept).
    const runs = walkRuns(cursor.buffer, this.#runs, start, start + length, false);
    runs.next();
    const whole = runs.to - runs.from === length;
    const segmentBytes = runs.bytes;
    const segmentOffset = runs.from;
    runs.finish();
    if (whole) {
      bytes = segmentBytes;
      offset = segmentOffset;
      this.#headAttached = true;
    } else {
      bytes = this.#copyHead(cursor.buffer, start, length);
      offset = 0;
      this.#headAttached = false;
    }
    const status = frameRequest(parser, bytes, offset, limits.maxBodyBytes, framing);
    if (status !== 0) {
      this.#headAttached = false;
      return this.#refuse(status).then(() => false);
    }
    this.now = Date.now();
    this.keepAlive = framing.keepAlive;
    this.#headStart = start;
    this.#headLength = length;
    cursor.offset = start + length;
    const method = methodOf(bytes, offset + parser.methodStart, offset + parser.methodEnd);
    let body: RequestBody | undefined;
    let chunked: ChunkedBody | undefined;
    if (framing.body === BODY_LENGTH) {
      body = new FixedLengthBody(cursor, framing.contentLength, this.#sendContinue);
    } else if (framing.body === BODY_CHUNKED) {
      body = chunked = new ChunkedBody(cursor, {
        maxBodyBytes: limits.maxBodyBytes,
        maxTrailerBytes: limits.maxHeadBytes,
        maxTrailerFields: limits.maxHeaderCount,
      }, this.#sendContinue);
    }
    this.#body = body;
    // The body must arrive within requestTimeoutMs (its reads fail after that).
    if (body !== undefined) this.#arm(limits.requestTimeoutMs);
    this.#continuePending = framing.expectContinue && body !== undefined;
    const http10 = parser.versionMinor === 0;
    const request = new HttpRequest(
      method,
      http10 ? "HTTP/1.0" : "HTTP/1.1",
      bytes,
      offset,
      parser.fields,
      parser.fieldCount,
      parser.targetStart,
      parser.targetEnd,
      body ?? EMPTY_BODY,
      chunked === undefined ? undefined : () => chunked.trailers,
      this,
    );
    this.#request = request;
    const response = new HttpResponse(
      this,
      (method === "HEAD" ? FLAG_HEAD : 0) | (http10 ? FLAG_HTTP10 : 0) | (framing.upgrade ? FLAG_UPGRADE : 0),
    );

    this.#response = response;
    let result: void | Promise<void>;
    try {
      result = this.#handler(request, response);
    } catch (error) {
      return this.#afterHandler(true, error);
    }
    if (result !== undefined && typeof (result as Promise<void>).then === "function") {
      return this.#awaitHandler(result as Promise<void>);
    }
    return this.#afterHandler(false, undefined);
  }

  async #awaitHandler(result: Promise<void>): Promise<boolean> {
    this.#inAsyncHandler = true;
    // Earlier pipelined responses go out while this handler works.
    if (this.output.unflushedBytes > 0) this.#flushSoon();
    let failed = false;
    let failure: unknown;
    try {
      await result;
    } catch (error) {
      failed = true;
      failure = error;
    }
    this.#inAsyncHandler = false;
    return await this.#afterHandler(failed, failure);
  }

  /** The handler settled: ends the request; what it says, synchronously when nothing is left to wait for. */
  #afterHandler(failed: boolean, failure: unknown): boolean | Promise<boolean> {
    // The request is finished: its head and body views die here.
    this.generation++;
    this.#headAttached = false;
    this.#request = undefined;
    const response = this.#response as HttpResponse;
    this.#response = undefined;
    if (!failed && this.#body === undefined && !this.#upgraded) {
      if (!response.finished) {
        try {
          settleResponse(response);
        } catch (error) {
          return this.#afterHandlerSlow(response, true, error);
        }
      }
      if (!this.#bodyFailed) return this.keepAlive;
    }
    return this.#afterHandlerSlow(response, failed, failure);
  }

  async #afterHandlerSlow(response: HttpResponse, failed: boolean, failure: unknown): Promise<boolean> {
    const body = this.#body;
    this.#body = undefined;
    if (body !== undefined) {
      const pending = body.detach();
      if (pending !== undefined) await pending;
    }
    if (failed) {
      const status = bodyErrorStatus(failure);
      if (status === undefined) this.#report(failure);
      if (!response.headSent) await this.#refuse(status ?? 500);
      else {
        this.#bodyFailed = true;
        this.#bodyFailure = failure;
      }
      return false;
    }
    if (this.#upgraded) return false;
    if (!response.finished) {
      try {
        settleResponse(response);
      } catch (error) {
        this.#report(error);
        if (!response.headSent) await this.#refuse(500);
        return false;
      }
    }
    if (this.#bodyFailed) return false;
    if (body !== undefined && !body.done) {
      if (this.#continuePending || !this.keepAlive) return false;
      this.#headTimerSet = true;
      this.#arm(this.#limits.headersTimeoutMs);
      const drained = await body.drain(DRAIN_LIMIT_BYTES);
      this.#disarm();
      if (!drained) return false;
    }
    if (body !== undefined && body.status !== 0) return false;
    return this.keepAlive;
  }

  // ---- ResponseTarget ----

  writingHead(streaming: boolean): void {
    if (!this.#continuePending) return;
    // A streamed answer (an echo, a proxy) reads the body as it goes: the client may send it.
    if (streaming) return this.#sendContinue();
    // A final response ends the wait for 100 Continue; a client still waiting may not send
    // the body, so the connection cannot go on after this request.
    this.#continuePending = false;
    if (this.#body !== undefined && !this.#body.started) this.keepAlive = false;
  }

  ended(): void {
    // An async handler may go on after end(): send the response now rather than at its end.
    if (this.#inAsyncHandler) this.#flushSoon();
  }

  bodyFinished(error: unknown): void {
    if (error !== undefined) {
      this.#bodyFailed = true;
      this.#bodyFailure = error;
      this.output.complete(error);
    } else if (this.#inAsyncHandler) {
      this.#flushSoon();
    }
  }

  takeOver(): DuplexChannel {
    this.#upgraded = true;
    this.#disarm();
    this.#detachHead();
    // Bytes after the head stay in the input, unexamined: the caller's first read returns them.
    this.#cursor.release(this.#cursor.offset);
    // The 101 goes out now: the client may wait for it before it sends anything more.
    this.#flushSoon();
    return { input: this.#input, output: this.output };
  }

  // ---- internals ----

  /** Sends 100 Continue before the body is first read, when the client waits for it. */
  readonly #sendContinue = (): void => {
    if (!this.#continuePending) return;
    this.#continuePending = false;
    this.writer.writeBytes(CONTINUE);
    this.writer.commit();
    this.#flushSoon();
  };

  #flushSoon(): void {
    this.output.flush().then(undefined, () => {});
  }

  /** Answers with `status` and a short text body, then the connection closes. */
  async #refuse(status: number): Promise<void> {
    this.keepAlive = false;
    this.#continuePending = false;
    this.now = Date.now();
    const response = new HttpResponse(this, 0);
    response.status = status;
    response.setHeader("Content-Type", "text/plain");
    response.end(reasonPhrase(status));
    await this.output.flush();
  }

  #report(error: unknown): void {
    try {
      this.#limits.onError(error);
    } catch (reportError) {
      console.error(reportError);
    }
  }

  /** Copies the current request's head out of the input before the input releases it. */
  #detachHead(): void {
    if (!this.#headAttached || this.#request === undefined) return;
    this.#headAttached = false;
    rebindRequest(this.#request, this.#copyHead(this.#cursor.buffer, this.#headStart, this.#headLength), 0);
  }

  #copyHead(buffer: ReadableBuffer, start: number, length: number): Uint8Array {
    if (this.#scratch.length < length) this.#scratch = new Uint8Array(Math.max(length, 1024));
    buffer.slice(start, start + length).copyTo(this.#scratch);
    return this.#scratch;
  }

  #arm(ms: number): void {
    if (ms === Infinity) {
      this.#deadline = 0;
      return;
    }
    this.#cursor.expired = false;
    const deadline = Date.now() + ms;
    this.#deadline = deadline;
    // A pending timer that fires before the deadline re-arms itself; a later one is replaced.
    if (this.#timer !== undefined && this.#timerAt > deadline) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#timer === undefined) {
      this.#timerAt = deadline;
      this.#timer = setTimeout(this.#onTimer, ms);
    }
  }

  #disarm(): void {
    this.#deadline = 0;
    this.#cursor.expired = false;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#deadline === 0) return;
    const left = this.#deadline - Date.now();
    if (left > 0) {
      this.#timerAt = this.#deadline;
      this.#timer = setTimeout(this.#onTimer, left);
      return;
    }
    this.#deadline = 0;
    this.#cursor.expire();
  };
}
