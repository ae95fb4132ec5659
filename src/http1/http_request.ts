/**
 * {@linkcode HttpRequest}: one request a `serveHttp` handler gets.
 *
 * @module
 */

import { stateError } from "../errors.ts";
import { ReadableBuffer } from "../readable_buffer.ts";
import type { ReadableChannel, ReadResult } from "../readable_channel.ts";
import { latin1 } from "./_chars.ts";
import { type HeadOwner, HttpHeaders, rebindHeaders } from "./http_headers.ts";

let rebind: (request: HttpRequest, bytes: Uint8Array, offset: number) => void;

const EMPTY_FIELDS = new Int32Array(0);
/** Headers of nothing: the trailers of a request without a chunked body. */
const NO_TRAILERS = new HttpHeaders(new Uint8Array(0), 0, EMPTY_FIELDS, 0, null);

/**
 * A request: its method, target and version as strings, its header fields read in place
 * ({@linkcode HttpHeaders}), and its body as a channel reader.
 *
 * - `body` is a `ReadableChannel` of the body's bytes, read straight from the connection's
 *   memory (no copy): a `Content-Length` body as one run, a chunked one as the runs of data
 *   between its framing (a buffer with a segment per run). A request without a body reads as
 *   completed and empty. Reading it first (`read`, `readAtLeast`, `tryRead`) sends `100 Continue` to a
 *   client that asked for it (`Expect: 100-continue`).
 * - `trailers` holds the trailer fields of a chunked body once it was read to its end.
 *
 * Lifetime: the request, its headers and its body work until the handler settles (returns, or
 * its promise settles); after that they throw `ChannelStateError` `REQUEST_FINISHED` (the
 * body: `READER_COMPLETED`). What is left of an unread body is skipped then.
 *
 * @example Reading the request line, a header and the body
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { serveHttp } from "@channels/channels/http1";
 *
 * const input = new Channel();
 * const output = new Channel();
 * let seen = "";
 * const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
 *   let body = "";
 *   for (;;) {
 *     const { buffer, isCompleted } = await request.body.read();
 *     body += new TextDecoder().decode(buffer.toUint8Array());
 *     request.body.advanceTo(buffer.length);
 *     if (isCompleted) break;
 *   }
 *   seen = `${request.method} ${request.path} ${request.version} ${request.headers.get("content-type")} ${body}`;
 *   response.end();
 * });
 * await input.writer.writeUtf8(
 *   "POST /notes?draft=1 HTTP/1.1\r\nHost: example\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
 * );
 * input.writer.complete();
 * await serving;
 * assert.equal(seen, "POST /notes HTTP/1.1 text/plain hello");
 * ```
 */
export class HttpRequest {
  /** The method, as sent (methods are case-sensitive): `"GET"`, `"POST"`, … */
  readonly method: string;
  /** `"HTTP/1.1"`, or `"HTTP/1.0"` for a 1.0 client. */
  readonly version: "HTTP/1.0" | "HTTP/1.1";
  // The head: its bytes from #offset, the field offsets (from the head's start) and count.
  // The headers object is made when first asked for.
  #bytes: Uint8Array;
  #offset: number;
  readonly #fields: Int32Array;
  readonly #fieldCount: number;
  #headers: HttpHeaders | undefined;
  readonly #targetStart: number;
  readonly #targetEnd: number;
  #target: string | undefined;
  readonly #body: ReadableChannel;
  readonly #trailers: (() => HttpHeaders | undefined) | undefined;
  readonly #owner: HeadOwner;
  readonly #generation: number;

  /**
   * Internal: `serveHttp` makes each request.
   *
   * @param method The method.
   * @param version The version.
   * @param bytes The head's bytes.
   * @param offset Where the head starts in `bytes`.
   * @param fields Four offsets per field line, from the head's start.
   * @param fieldCount Field lines.
   * @param targetStart Where the target starts, from the head's start.
   * @param targetEnd Where the target ends.
   * @param body The body's reader.
   * @param trailers Gives the trailers once the body ended (chunked bodies).
   * @param owner The connection (its generation says when the request is finished).
   */
  constructor(
    method: string,
    version: "HTTP/1.0" | "HTTP/1.1",
    bytes: Uint8Array,
    offset: number,
    fields: Int32Array,
    fieldCount: number,
    targetStart: number,
    targetEnd: number,
    body: ReadableChannel,
    trailers: (() => HttpHeaders | undefined) | undefined,
    owner: HeadOwner,
  ) {
    this.method = method;
    this.version = version;
    this.#bytes = bytes;
    this.#offset = offset;
    this.#fields = fields;
    this.#fieldCount = fieldCount;
    this.#targetStart = targetStart;
    this.#targetEnd = targetEnd;
    this.#body = body;
    this.#trailers = trailers;
    this.#owner = owner;
    this.#generation = owner.generation;
  }

  /**
   * The request-target as sent: a path and query (`/a/b?c=d`), or an absolute URL, an
   * authority (CONNECT) or `*` (OPTIONS). Not decoded (percent-escapes stay).
   *
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the handler settled (unless read before).
   */
  get target(): string {
    if (this.#target === undefined) {
      this.#check();
      this.#target = latin1(this.#bytes, this.#offset + this.#targetStart, this.#offset + this.#targetEnd);
    }
    return this.#target;
  }

  /**
   * The header fields.
   *
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the handler settled (unless read before).
   */
  get headers(): HttpHeaders {
    if (this.#headers === undefined) {
      this.#check();
      this.#headers = new HttpHeaders(this.#bytes, this.#offset, this.#fields, this.#fieldCount, this.#owner);
    }
    return this.#headers;
  }

  /** The target up to its `?` (the whole target when it has none). */
  get path(): string {
    const target = this.target;
    const query = target.indexOf("?");
    return query < 0 ? target : target.slice(0, query);
  }

  /**
   * The body's reader; read it before the handler settles.
   *
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the handler settled.
   */
  get body(): ReadableChannel {
    this.#check();
    return this.#body;
  }

  /** The trailer fields of a chunked body, once it was read to its end (empty before, and for other bodies). */
  get trailers(): HttpHeaders {
    return this.#trailers?.() ?? NO_TRAILERS;
  }

  #check(): void {
    if (this.#owner.generation !== this.#generation) throw stateError("REQUEST_FINISHED");
  }

  static {
    rebind = (request, bytes, offset) => {
      request.#bytes = bytes;
      request.#offset = offset;
      if (request.#headers !== undefined) rebindHeaders(request.#headers, bytes, offset);
    };
  }
}

/** Points a request (and its headers) at a copy of its head (the connection is about to release the original). */
export function rebindRequest(request: HttpRequest, bytes: Uint8Array, offset: number): void {
  rebind(request, bytes, offset);
}

/** `GET`, `POST`, … interned; another method is decoded. */
export function methodOf(bytes: Uint8Array, start: number, end: number): string {
  switch (end - start) {
    case 3:
      if (bytes[start] === 0x47 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x54) return "GET";
      if (bytes[start] === 0x50 && bytes[start + 1] === 0x55 && bytes[start + 2] === 0x54) return "PUT";
      break;
    case 4:
      if (matches(bytes, start, "POST")) return "POST";
      if (matches(bytes, start, "HEAD")) return "HEAD";
      break;
    case 5:
      if (matches(bytes, start, "PATCH")) return "PATCH";
      break;
    case 6:
      if (matches(bytes, start, "DELETE")) return "DELETE";
      break;
    case 7:
      if (matches(bytes, start, "OPTIONS")) return "OPTIONS";
      if (matches(bytes, start, "CONNECT")) return "CONNECT";
      break;
  }
  return latin1(bytes, start, end);
}

function matches(bytes: Uint8Array, start: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

const EMPTY_RESULT: ReadResult = Object.freeze({
  buffer: ReadableBuffer.from([]),
  isCompleted: true,
  isCanceled: false,
});
const EMPTY_READ: Promise<ReadResult> = Promise.resolve(EMPTY_RESULT);

/** The body of a request without one: completed and empty, whatever is asked. */
export const EMPTY_BODY: ReadableChannel = Object.freeze({
  read: () => EMPTY_READ,
  readAtLeast: () => EMPTY_READ,
  tryRead: () => EMPTY_RESULT,
  advanceTo: () => {},
  cancelPendingRead: () => {},
  complete: () => {},
});
