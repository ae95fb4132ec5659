// The errors a request body's reader rejects with, and the status each one answers with when
// the handler lets it through (rethrows it, or settles without a response). Internal.

import { rangeError, typeError } from "../errors.ts";

const statuses = new WeakMap<object, number>();

function withStatus<E extends Error>(error: E, status: number): E {
  statuses.set(error, status);
  return error;
}

/** The connection ended inside a body. */
export function truncatedBody(received: number, length: number | undefined): TypeError {
  return withStatus(
    typeError(
      "read the request body",
      `the connection must not end inside it (${length === undefined ? "a chunked body" : `${length} bytes`})`,
      `${received} bytes`,
    ),
    400,
  );
}

/** A chunked body's framing is malformed at `offset` (bytes into the body's framing). */
export function malformedChunk(rule: string, offset: number): TypeError {
  return withStatus(typeError("read the chunked request body", rule, `a bad byte at offset ${offset}`), 400);
}

/** A chunked body, or its trailers, grew past its limit. */
export function bodyTooLarge(rule: string, received: number): RangeError {
  return withStatus(rangeError("read the request body", rule, `at least ${received} bytes`), 413);
}

/** A chunked body's trailer section is longer, or has more fields, than a head may. */
export function trailersTooLarge(rule: string, received: number): RangeError {
  return withStatus(rangeError("read the request trailers", rule, `${received} bytes`), 431);
}

/** A body that did not arrive within requestTimeoutMs. */
export function bodyTimedOut(received: number): RangeError {
  return withStatus(
    rangeError("read the request body", "it must arrive within requestTimeoutMs", `${received} bytes in time`),
    408,
  );
}

/** The status a body error answers with, or undefined for any other error. */
export function bodyErrorStatus(error: unknown): number | undefined {
  return typeof error === "object" && error !== null ? statuses.get(error) : undefined;
}
