/**
 * {@linkcode HttpResponse}: what a `serveHttp` handler answers with.
 *
 * @module
 */

import { isIntegerIn, rangeError, stateError, typeError } from "../errors.ts";
import { ReadableBuffer } from "../readable_buffer.ts";
import { utf8Length } from "../_text.ts";
import type { DuplexChannel } from "../readable_channel.ts";
import type { WritableChannel } from "../writable_channel.ts";
import { invalidFieldValueIndex, isToken } from "./_chars.ts";
import { BodyWriter, type BodyWriterOwner, CHUNKED, DISCARD, FIXED, UNTIL_CLOSE } from "./_body_writer.ts";
import { dateLine } from "./_date.ts";
import type { BufferWriter } from "../buffer_writer.ts";
import { statusAndDateLines, statusLine } from "./_status.ts";

/** What a response needs of its connection. Internal. */
export interface ResponseTarget extends BodyWriterOwner {
  /** Where the open response keeps the fields set on it (one response is open at a time). */
  readonly fields: string[];
  /** Formats into the connection's output. */
  readonly writer: BufferWriter;
  /** The connection's output. */
  readonly output: WritableChannel;
  /** The connection serves another request after this one; a response may clear it. */
  keepAlive: boolean;
  /** The current time in ms (one clock read per request). */
  readonly now: number;
  /**
   * The head is about to be written: the connection sends 100 Continue first for a streamed
   * answer to a client that waits for it, and decides on keep-alive.
   */
  writingHead(streaming: boolean): void;
  /** The request has a body not read to its end (an upgrade must wait for it). */
  readonly bodyPending: boolean;
  /** The response ended with `end()` (the connection may flush now). */
  ended(): void;
  /** Hands the raw connection over after a 101; the head is sent. */
  takeOver(): DuplexChannel;
}

/** The request is HEAD: no body is sent. */
export const FLAG_HEAD = 1;
/** The client speaks HTTP/1.0. */
export const FLAG_HTTP10 = 2;
/** The request asked for an upgrade (`Connection: upgrade` and `Upgrade`). */
export const FLAG_UPGRADE = 4;

let settle: (response: HttpResponse) => void;

const NAME_OTHER = 0;
const NAME_DATE = 1;
const NAME_CONNECTION = 2;
const NAME_CONTENT_LENGTH = 3;
const NAME_TRANSFER_ENCODING = 4;
// Field names already checked, and what they are: handlers set the same few names over and
// over, and a map lookup of a (usually interned) string costs less than the token check.
const nameKinds = new Map<string, number>();
const MAX_CACHED_NAMES = 256;

/** What `name` is to the server; throws when it is not a token. */
function nameKind(name: string): number {
  const known = nameKinds.get(name);
  if (known !== undefined) return known;
  if (typeof name !== "string" || !isToken(name)) throw typeError("set the header", "its name must be a token", name);
  const lower = name.toLowerCase();
  const kind = lower === "date"
    ? NAME_DATE
    : lower === "connection"
    ? NAME_CONNECTION
    : lower === "content-length"
    ? NAME_CONTENT_LENGTH
    : lower === "transfer-encoding"
    ? NAME_TRANSFER_ENCODING
    : NAME_OTHER;
  if (nameKinds.size < MAX_CACHED_NAMES) nameKinds.set(name, kind);
  return kind;
}

const OPEN = 0;
const STREAMING = 1;
const FINISHED = 2;
const UPGRADED = 3;

const COLON_SP = new Uint8Array([0x3a, 0x20]);
const CRLF = new Uint8Array([0x0d, 0x0a]);
const CONTENT_LENGTH = new TextEncoder().encode("Content-Length: ");
const CHUNKED_LINE = new TextEncoder().encode("Transfer-Encoding: chunked\r\n");
const CLOSE_LINE = new TextEncoder().encode("Connection: close\r\n");
const KEEP_ALIVE_LINE = new TextEncoder().encode("Connection: keep-alive\r\n");
const UPGRADE_LINE = new TextEncoder().encode("Connection: upgrade\r\n");

/**
 * The response to one request. Set `status` and fields, then send it one way:
 *
 * - `end(body?)`: the whole body at once (a string is sent as UTF-8), with a `Content-Length`.
 * - `stream()`: a `WritableChannel` to write the body as it comes, chunked (or as long as a
 *   `Content-Length` field says, or until the close for an HTTP/1.0 client); `complete()` it
 *   to end the response.
 * - `upgrade()`: `101 Switching Protocols`, then the connection's raw channels are yours.
 *
 * The head and body are formatted straight into the connection's pool memory. The server adds
 * `Date`, the framing (`Content-Length` or `Transfer-Encoding`) and `Connection: close` when it
 * closes after this response. Nothing is sent for a `HEAD` request's body (its head says what
 * a `GET` would get), nor for 204 and 304.
 *
 * The handler's settling ends the response: one not sent yet goes out with an empty body and
 * the status set, a streamed body still open is completed (write it before the handler
 * settles). A handler that throws gets a 500 when nothing was sent yet, and the connection
 * closes; after the head, the connection is aborted.
 *
 * @example A text reply, a streamed reply, and a field of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { serveHttp } from "@channels/channels/http1";
 *
 * const input = new Channel();
 * const output = new Channel();
 * const serving = serveHttp({ input: input.reader, output: output.writer }, async (request, response) => {
 *   response.setHeader("Content-Type", "text/plain");
 *   if (request.path === "/text") return response.end("Hello, World!");
 *   response.status = 201;
 *   const body = response.stream(); // chunked
 *   await body.writeUtf8("streamed");
 *   body.complete();
 * });
 * await input.writer.writeUtf8("GET /text HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
 * input.writer.complete();
 * await serving;
 * const { buffer } = await output.reader.read();
 * const text = new TextDecoder().decode(buffer.toUint8Array());
 * assert.match(text, /^HTTP\/1\.1 200 OK\r\nDate: .+ GMT\r\nContent-Type: text\/plain\r\nContent-Length: 13\r\n\r\nHello, World!/);
 * assert.match(text, /HTTP\/1\.1 201 Created\r\n.*Transfer-Encoding: chunked\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n$/s);
 * ```
 */
export class HttpResponse {
  /**
   * The status code, from 200 to 999 (and 101 through `upgrade()`). Checked when the head is
   * sent.
   *
   * @default {200}
   */
  status = 200;
  /** The reason phrase; the standard one for the status when not set. */
  statusText: string | undefined;
  readonly #target: ResponseTarget;
  readonly #flags: number;
  #state = OPEN;
  // Fields set by the caller: name, value, name, value, … in the connection's array (one
  // response is open at a time), up to #fieldsEnd.
  #fieldsEnd = 0;
  #contentLength = -1;
  #close = false;
  #hasDate = false;
  #connection: string | undefined;
  #body: BodyWriter | undefined;

  static {
    settle = (response) => {
      if (response.#state === OPEN) response.end();
      else if (response.#state === STREAMING) response.#body?.complete();
    };
  }

  /**
   * Internal: `serveHttp` makes each response.
   *
   * @param target The connection.
   * @param flags FLAG_HEAD, FLAG_HTTP10, FLAG_UPGRADE.
   */
  constructor(target: ResponseTarget, flags: number) {
    this.#target = target;
    this.#flags = flags;
  }

  /** True once the head was sent (`end`, `stream` or `upgrade`). */
  get headSent(): boolean {
    return this.#state !== OPEN;
  }

  /** True once the response is complete (`end`, the stream completed, or `upgrade`). */
  get finished(): boolean {
    return this.#state === FINISHED || this.#state === UPGRADED;
  }

  /**
   * Adds a field to the head (a second call with the same name adds a second line).
   * `Content-Length` sets the length of a streamed body (or of a `HEAD` reply);
   * `Connection: close` closes the connection after this response; `Transfer-Encoding` is the
   * server's to set.
   *
   * @param name A field name (a token).
   * @param value The value: a string of characters up to U+00FF without controls, or a number.
   * @returns This response.
   * @throws {TypeError} When the name is not a token, the value has a control character or
   * one above U+00FF (no header injection), or the name is `Transfer-Encoding`.
   * @throws {RangeError} When a `Content-Length` is not a non-negative safe integer.
   * @throws {ChannelStateError} `HEAD_SENT` once the head was sent.
   */
  setHeader(name: string, value: string | number): this {
    if (this.#state !== OPEN) throw stateError("HEAD_SENT");
    const kind = nameKind(name);
    const text = typeof value === "number" ? String(value) : value;
    if (typeof text !== "string") throw typeError("set the header", "its value must be a string or a number", value);
    const bad = invalidFieldValueIndex(text);
    if (bad >= 0) {
      throw typeError(
        "set the header",
        `its value must not have controls or characters above U+00FF (index ${bad})`,
        text,
      );
    }
    switch (kind) {
      case NAME_DATE:
        this.#hasDate = true;
        break;
      case NAME_CONNECTION:
        if (/(^|,)\s*close\s*(,|$)/i.test(text)) this.#close = true;
        this.#connection = text;
        return this;
      case NAME_CONTENT_LENGTH: {
        const length = typeof value === "number" ? value : /^\d+$/.test(text) ? Number(text) : NaN;
        if (!isIntegerIn(length, 0, Number.MAX_SAFE_INTEGER)) {
          throw rangeError("set the header", "Content-Length must be a non-negative safe integer", value);
        }
        this.#contentLength = length;
        return this;
      }
      case NAME_TRANSFER_ENCODING:
        throw typeError("set the header", "Transfer-Encoding is set by the server", name);
    }
    const fields = this.#target.fields;
    const at = this.#fieldsEnd;
    fields[at] = name;
    fields[at + 1] = text;
    this.#fieldsEnd = at + 2;
    return this;
  }

  /**
   * Sends the response with `body` (empty by default) and a `Content-Length`.
   *
   * @param body A string (sent as UTF-8), bytes, or a buffer (copied into the output).
   * @throws {RangeError} When a `Content-Length` was set and the body's length differs, or the
   * status is out of range.
   * @throws {TypeError} When the status (1xx, 204, 304) allows no body and `body` is not empty.
   * @throws {ChannelStateError} `HEAD_SENT` when the head was already sent.
   */
  end(body?: string | Uint8Array | ReadableBuffer): void {
    if (this.#state !== OPEN) throw stateError("HEAD_SENT");
    let length: number;
    if (body === undefined) length = 0;
    else if (typeof body === "string") length = utf8Length(body);
    else if (body instanceof Uint8Array || body instanceof ReadableBuffer) length = body.length;
    else throw typeError("end the response", "body must be a string, a Uint8Array or a ReadableBuffer", body);
    const head = (this.#flags & FLAG_HEAD) !== 0;
    if (this.#contentLength >= 0 && this.#contentLength !== length && !(head && body === undefined)) {
      throw rangeError(
        "end the response",
        `the body must be Content-Length (${this.#contentLength}) bytes`,
        `${length} bytes`,
      );
    }
    const noBody = this.#checkStatus();
    if (noBody && length > 0) {
      throw typeError("end the response", `a ${this.status} response has no body`, `${length} bytes`);
    }
    if (this.#contentLength >= 0) length = this.#contentLength;
    const target = this.#target;
    const writer = target.writer;
    this.#writeHead(noBody ? -1 : length, false);
    if (!head && body !== undefined && length > 0) {
      // A string whose UTF-8 length is its length is ASCII: written without an encoder call.
      if (typeof body !== "string") writer.writeBytes(body);
      else if (body.length === length) writer.writeAscii(body);
      else writer.writeUtf8(body);
    }
    writer.commit();
    this.#state = FINISHED;
    target.ended();
  }

  /**
   * Sends the head and returns the body's writer: chunked, unless a `Content-Length` was set
   * (then exactly that many bytes) or the client speaks HTTP/1.0 (then the body ends with the
   * connection). `complete()` ends the response; `complete(error)` aborts the connection.
   * The writer's `getMemory` views are pool memory of the connection's output (chunk framing
   * is written around what you put there). A client that waits for `100 Continue` gets it
   * before this head (a streamed answer usually reads the body as it goes); `end()` before
   * the body was read sends none, and the connection closes after the answer.
   *
   * @returns The body's writer.
   * @throws {RangeError} When the status is out of range.
   * @throws {ChannelStateError} `HEAD_SENT` when the head was already sent.
   */
  stream(): WritableChannel {
    if (this.#state !== OPEN) throw stateError("HEAD_SENT");
    const noBody = this.#checkStatus();
    const target = this.#target;
    let mode: number;
    if (noBody || (this.#flags & FLAG_HEAD) !== 0) mode = DISCARD;
    else if (this.#contentLength >= 0) mode = FIXED;
    else if ((this.#flags & FLAG_HTTP10) !== 0) {
      mode = UNTIL_CLOSE;
      target.keepAlive = false;
    } else mode = CHUNKED;
    if (noBody) this.#writeHead(-1, false, true);
    else if (this.#contentLength >= 0) this.#writeHead(this.#contentLength, false, true);
    else this.#writeHead(-1, (this.#flags & FLAG_HTTP10) === 0, true);
    target.writer.commit();
    this.#state = STREAMING;
    this.#body = new BodyWriter(target.output, target.writer, mode, this.#contentLength, {
      bodyFinished: (error) => {
        this.#state = FINISHED;
        target.bodyFinished(error);
      },
    });
    return this.#body;
  }

  /**
   * Switches protocols: sends `101 Switching Protocols` with the fields set (set `Upgrade`;
   * `Connection: upgrade` is added unless set), and hands over the connection. Bytes the
   * client sent after the request are the first the returned `input` reads. The connection is
   * yours until the handler settles; it is closed then.
   *
   * @returns The connection's input and output.
   * @throws {TypeError} When the request did not ask for an upgrade (HTTP/1.1 with `Upgrade`
   * and `Connection: upgrade`), no `Upgrade` field was set, or the request body was not read
   * to its end.
   * @throws {ChannelStateError} `HEAD_SENT` when the head was already sent.
   */
  upgrade(): DuplexChannel {
    if (this.#state !== OPEN) throw stateError("HEAD_SENT");
    if ((this.#flags & FLAG_UPGRADE) === 0) {
      throw typeError("upgrade", "the request must ask for it (Upgrade and Connection: upgrade)", "no upgrade request");
    }
    if (!this.#hasField("upgrade")) throw typeError("upgrade", "the response must set Upgrade", "no Upgrade field");
    if (this.#target.bodyPending) {
      throw typeError("upgrade", "the request body must be read to its end first", "an unread body");
    }
    this.status = 101;
    const target = this.#target;
    this.#writeHead(-1, false);
    target.writer.commit();
    this.#state = UPGRADED;
    return target.takeOver();
  }

  /** Checks the status; true when it allows no body (1xx, 204, 304). */
  #checkStatus(): boolean {
    const status = this.status;
    if (!isIntegerIn(status, 200, 999)) {
      throw rangeError("send the response", "status must be an integer from 200 to 999", status);
    }
    return status === 204 || status === 304;
  }

  #hasField(lower: string): boolean {
    const fields = this.#target.fields;
    for (let i = 0; i < this.#fieldsEnd; i += 2) if ((fields[i] as string).toLowerCase() === lower) return true;
    return false;
  }

  /** Writes the head: `length` ≥ 0 adds Content-Length, `chunked` Transfer-Encoding. */
  #writeHead(length: number, chunked: boolean, streaming: boolean = false): void {
    const target = this.#target;
    const w = target.writer;
    const status = this.status;
    target.writingHead(streaming);
    if (this.#close) target.keepAlive = false;
    if (this.statusText === undefined) {
      // The Date line goes right after the status line (field order carries no meaning).
      w.writeBytes(this.#hasDate ? statusLine(status) : statusAndDateLines(status, target.now));
    } else {
      const bad = invalidFieldValueIndex(this.statusText);
      if (bad >= 0) throw typeError("send the response", "statusText must not have controls", this.statusText);
      w.writeAscii("HTTP/1.1 ");
      w.writeInt(status);
      w.writeAscii(" ");
      writeLatin1(w, this.statusText);
      w.writeBytes(CRLF);
      if (!this.#hasDate) w.writeBytes(dateLine(target.now));
    }
    const fields = target.fields;
    for (let i = 0, n = this.#fieldsEnd; i < n; i += 2) {
      w.writeAscii(fields[i] as string);
      w.writeBytes(COLON_SP);
      writeLatin1(w, fields[i + 1] as string);
      w.writeBytes(CRLF);
    }
    if (length >= 0) {
      w.writeBytes(CONTENT_LENGTH);
      w.writeInt(length);
      w.writeBytes(CRLF);
    } else if (chunked) {
      w.writeBytes(CHUNKED_LINE);
    }
    if (status === 101) {
      if (this.#connection !== undefined) this.#writeConnection(this.#connection);
      else w.writeBytes(UPGRADE_LINE);
    } else if (!target.keepAlive) {
      w.writeBytes(CLOSE_LINE);
    } else if (this.#connection !== undefined) {
      this.#writeConnection(this.#connection);
    } else if ((this.#flags & FLAG_HTTP10) !== 0) {
      w.writeBytes(KEEP_ALIVE_LINE);
    }
    w.writeBytes(CRLF);
  }

  #writeConnection(value: string): void {
    const w = this.#target.writer;
    w.writeAscii("Connection: ");
    writeLatin1(w, value);
    w.writeBytes(CRLF);
  }
}

/**
 * Ends a response its handler left open: an empty body when nothing was sent, the end of a
 * streamed body otherwise.
 */
export function settleResponse(response: HttpResponse): void {
  settle(response);
}

/** Writes a checked field value (characters up to U+00FF) as one byte each. */
function writeLatin1(w: BufferWriter, text: string): void {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      const bytes = new Uint8Array(text.length);
      for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
      w.writeBytes(bytes);
      return;
    }
  }
  w.writeAscii(text);
}
