/**
 * {@linkcode HttpHeaders}: the field lines of a request head (or of a chunked body's trailer
 * section), read where they lie.
 *
 * @module
 */

import { stateError } from "../errors.ts";
import { equalsLower, latin1 } from "./_chars.ts";

/** What a head's headers hang on: the connection's count of finished requests. */
export interface HeadOwner {
  /** Bumped when a request's handler settles: that request's head may be gone then. */
  readonly generation: number;
}

let rebind: (headers: HttpHeaders, bytes: Uint8Array, offset: number) => void;

/**
 * The field lines of a request, in order, as the client sent them. Nothing is decoded until
 * asked: `get` compares names in place (ASCII case-insensitively) and makes a string of the
 * value only. Values are read as Latin-1 (one character per byte), as fetch's `Headers` does.
 *
 * Lifetime: a request's headers read the request head in the connection's memory, so they
 * work until the request's handler settles; later calls throw a `ChannelStateError`
 * (`REQUEST_FINISHED`). Strings they returned are yours. Trailers (`request.trailers`) are
 * copied out and never expire.
 *
 * @example Looking up and listing fields
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel } from "@channels/channels";
 * import { type HttpRequest, serveHttp } from "@channels/channels/http1";
 *
 * const input = new Channel();
 * const output = new Channel();
 * let seen: [string, string][] = [];
 * let accept: string | undefined;
 * const serving = serveHttp({ input: input.reader, output: output.writer }, (request: HttpRequest, response) => {
 *   accept = request.headers.get("Accept");
 *   seen = [...request.headers];
 *   response.end();
 * });
 * await input.writer.writeUtf8("GET / HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\naccept: text/html\r\n\r\n");
 * input.writer.complete();
 * await serving;
 * assert.equal(accept, "text/plain, text/html");
 * assert.deepEqual(seen, [["host", "a"], ["accept", "text/plain"], ["accept", "text/html"]]);
 * ```
 */
export class HttpHeaders implements Iterable<[string, string]> {
  // The head's bytes: field k's name is #bytes[#offset + #fields[4k], #offset + #fields[4k+1]),
  // its value #bytes[#offset + #fields[4k+2], #offset + #fields[4k+3]).
  #bytes: Uint8Array;
  #offset: number;
  readonly #fields: Int32Array;
  readonly #count: number;
  // The owner and its generation when these headers were made (null: never expire).
  readonly #owner: HeadOwner | null;
  readonly #generation: number;

  static {
    rebind = (headers, bytes, offset) => {
      headers.#bytes = bytes;
      headers.#offset = offset;
    };
  }

  /**
   * Internal: `serveHttp` makes the headers of each request.
   *
   * @param bytes The head's bytes.
   * @param offset Where the head starts in `bytes`.
   * @param fields Four offsets per field line, from the head's start.
   * @param count Field lines.
   * @param owner What says whether the head is still there (null: the bytes are owned).
   */
  constructor(bytes: Uint8Array, offset: number, fields: Int32Array, count: number, owner: HeadOwner | null) {
    this.#bytes = bytes;
    this.#offset = offset;
    this.#fields = fields;
    this.#count = count;
    this.#owner = owner;
    this.#generation = owner === null ? 0 : owner.generation;
  }

  /** Field lines (a field sent twice counts twice). */
  get size(): number {
    return this.#count;
  }

  /**
   * The value of the field `name`, or `undefined`; a field sent on several lines gives their
   * values joined with `", "` (as fetch's `Headers.get`).
   *
   * @param name The field name, in any case.
   * @returns The value with surrounding whitespace removed, or `undefined`.
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the request's handler settled.
   */
  get(name: string): string | undefined {
    this.#check();
    const lower = name.toLowerCase();
    const bytes = this.#bytes;
    const o = this.#offset;
    const fields = this.#fields;
    let value: string | undefined;
    for (let f = 0, n = this.#count * 4; f < n; f += 4) {
      if (equalsLower(bytes, o + (fields[f] as number), o + (fields[f + 1] as number), lower)) {
        const text = latin1(bytes, o + (fields[f + 2] as number), o + (fields[f + 3] as number));
        value = value === undefined ? text : `${value}, ${text}`;
      }
    }
    return value;
  }

  /**
   * Whether the field `name` was sent.
   *
   * @param name The field name, in any case.
   * @returns True when at least one line has it.
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the request's handler settled.
   */
  has(name: string): boolean {
    this.#check();
    const lower = name.toLowerCase();
    const bytes = this.#bytes;
    const o = this.#offset;
    const fields = this.#fields;
    for (let f = 0, n = this.#count * 4; f < n; f += 4) {
      if (equalsLower(bytes, o + (fields[f] as number), o + (fields[f + 1] as number), lower)) return true;
    }
    return false;
  }

  /**
   * Every field line as `[name, value]`, names in lowercase, in the order sent.
   *
   * @returns An iterator of new strings.
   * @throws {ChannelStateError} `REQUEST_FINISHED` once the request's handler settled.
   */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    this.#check();
    for (let k = 0; k < this.#count; k++) {
      this.#check();
      const f = k * 4;
      const o = this.#offset;
      const fields = this.#fields;
      yield [
        latin1(this.#bytes, o + (fields[f] as number), o + (fields[f + 1] as number)).toLowerCase(),
        latin1(this.#bytes, o + (fields[f + 2] as number), o + (fields[f + 3] as number)),
      ];
    }
  }

  #check(): void {
    if (this.#owner !== null && this.#owner.generation !== this.#generation) throw stateError("REQUEST_FINISHED");
  }
}

/** Points headers at a copy of their head (the connection is about to release the original). */
export function rebindHeaders(headers: HttpHeaders, bytes: Uint8Array, offset: number): void {
  rebind(headers, bytes, offset);
}
