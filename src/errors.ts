/**
 * Errors thrown by channels. Misuse of a channel's state machine throws a
 * {@linkcode ChannelStateError} with a stable `code`; sizes and positions out of range throw a
 * `RangeError`; malformed input throws a `TypeError`. Every error is built here so messages
 * keep one style: "Cannot X as Y: received Z" (sentence case, no final period).
 *
 * @module
 */

/** The stable codes a {@linkcode ChannelStateError} carries. */
export type ChannelStateErrorCode =
  /** `read`, `readAtLeast` or `tryRead` while a read is pending or its result not advanced. */
  | "READ_IN_PROGRESS"
  /** `advanceTo` with no read result to advance. */
  | "NO_READ_TO_ADVANCE"
  /** A writer call after `writer.complete()`. */
  | "WRITER_COMPLETED"
  /** A reader call after `reader.complete()`. */
  | "READER_COMPLETED"
  /** `advanceTo(consumed, examined)` with `examined < consumed`. */
  | "EXAMINED_BEFORE_CONSUMED"
  /** `advanceTo` whose examined end lies before the end examined by an earlier call. */
  | "EXAMINED_MOVED_BACKWARDS"
  /** `channel.reset()` while the reader or the writer is still open. */
  | "RESET_WHILE_OPEN"
  /** `advance` with no memory from `getMemory` to commit into. */
  | "NO_MEMORY_TO_ADVANCE"
  /** A pool block released twice, or released to a pool that did not rent it. */
  | "BLOCK_NOT_RENTED"
  /** An `./http1` request (its headers, body or target) used after its handler settled. */
  | "REQUEST_FINISHED"
  /** An `./http1` response changed or sent again after its head was sent. */
  | "HEAD_SENT"
  /** `send` on a {@linkcode RespClient} after `close()` was called. */
  | "CLIENT_CLOSED"
  /** A `./websocket` send or ping after the close began (a close frame was sent or received). */
  | "WEBSOCKET_CLOSED";

/**
 * Thrown when a channel, reader, writer or pool is used in a way its state does not allow.
 * Branch on {@linkcode ChannelStateError.code}, never on the message.
 *
 * @example Telling misuse apart by code
 * ```ts
 * import assert from "node:assert/strict";
 * import { Channel, ChannelStateError } from "@channels/channels";
 *
 * const channel = new Channel();
 * channel.writer.complete();
 * assert.throws(() => channel.writer.getMemory(), { name: "ChannelStateError", code: "WRITER_COMPLETED" });
 * assert.ok(new ChannelStateError("READER_COMPLETED", "example") instanceof Error);
 * ```
 */
export class ChannelStateError extends Error {
  /** The stable code of this error. */
  readonly code: ChannelStateErrorCode;

  /**
   * Creates an error with a stable code.
   *
   * @param code The stable code.
   * @param message The human-readable message.
   */
  constructor(code: ChannelStateErrorCode, message: string) {
    super(message);
    this.name = "ChannelStateError";
    this.code = code;
  }
}

/**
 * Misuse: the state machine does not allow this call now. `received` names the values of the
 * call when they help (e.g. "consumed 3, examined 1"); it ends the message after "received".
 */
export function stateError(code: ChannelStateErrorCode, received?: string): ChannelStateError {
  const message = STATE_MESSAGES[code];
  return new ChannelStateError(code, received === undefined ? message : `${message}: received ${received}`);
}

const STATE_MESSAGES: Record<ChannelStateErrorCode, string> = {
  READ_IN_PROGRESS:
    "Cannot start a read as a read is already in progress: call advanceTo() on the last result first, or await the pending read",
  NO_READ_TO_ADVANCE: "Cannot advance the reader as there is no read result to advance: call read() or tryRead() first",
  WRITER_COMPLETED: "Cannot write as the writer was completed",
  READER_COMPLETED: "Cannot read as the reader was completed",
  EXAMINED_BEFORE_CONSUMED: "Cannot advance the reader as examined must not be less than consumed",
  EXAMINED_MOVED_BACKWARDS:
    "Cannot advance the reader as examined must not move backwards: it ends before the end examined by an earlier advanceTo()",
  RESET_WHILE_OPEN: "Cannot reset the channel as both the reader and the writer must be completed first",
  NO_MEMORY_TO_ADVANCE:
    "Cannot advance the writer as it has no memory to commit: call getMemory() first (flush, write and complete end the last view)",
  BLOCK_NOT_RENTED: "Cannot release the block as it is not rented from this pool",
  REQUEST_FINISHED:
    "Cannot read the request as its handler has settled: its head and body are gone (keep strings, not the request)",
  HEAD_SENT: "Cannot change or send the response as its head was already sent",
  CLIENT_CLOSED: "Cannot send the command as the client was closed",
  WEBSOCKET_CLOSED: "Cannot send on the WebSocket as it is closing or closed",
};

/** A size or position argument outside its allowed range. */
export function rangeError(what: string, rule: string, received: unknown): RangeError {
  return new RangeError(`Cannot ${what} as ${rule}: received ${describe(received)}`);
}

/**
 * `advanceTo` with an examined end before the one an earlier call examined: both are offsets
 * from the start of the current buffer, so the caller can compare them.
 */
export function examinedMovedBackwards(examined: number, earlierEnd: number): ChannelStateError {
  return new ChannelStateError(
    "EXAMINED_MOVED_BACKWARDS",
    `Cannot advance the reader as examined must not move backwards (an earlier advanceTo() examined ${earlierEnd} bytes of this buffer): received examined ${examined}`,
  );
}

/**
 * A pool that would pass its `maxBytes` to serve a rent: `what` is rented, which needs
 * `bytes` more reserved than the `held` bytes it holds.
 */
export function poolLimitError(what: string, bytes: number, held: number, maxBytes: number): RangeError {
  return new RangeError(
    `Cannot rent ${what} as the pool must stay within its maxBytes of ${maxBytes} bytes and holds ${held}: received a request for ${bytes} more bytes`,
  );
}

/** An argument of the wrong type. */
export function typeError(what: string, rule: string, received: unknown): TypeError {
  return new TypeError(`Cannot ${what} as ${rule}: received ${describe(received)}`);
}

/**
 * A socket operation the runtime failed (`what` is "connect to", "listen on", …): names the
 * address, keeps the runtime's `code` (`ECONNREFUSED`, `EADDRINUSE`, …) and the runtime's
 * error as `cause`.
 */
export function socketError(what: string, hostname: string, port: number, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const error = new Error(`Cannot ${what} ${hostname}:${port} as the socket failed: ${reason}`, { cause });
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === "string" ? Object.assign(error, { code }) : error;
}

/** What pending reads and flushes of a connection reject with after `abort()` without a reason. */
export function connectionAborted(): Error {
  return Object.assign(new Error("Cannot use the connection as it was aborted"), { name: "AbortError" });
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}

/**
 * Thrown when a frame is longer than a framer allows: a length-prefixed frame whose header
 * declares more than `maxFrameLength` bytes (thrown as soon as the header is read, before the
 * payload is buffered), a line longer than `maxLength`, or a payload too long to encode.
 *
 * @example Catching an oversized frame
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameTooLargeError } from "@channels/channels";
 *
 * const error = new FrameTooLargeError(4294967295, 8388608);
 * assert.ok(error instanceof RangeError);
 * assert.equal(error.frameLength, 4294967295);
 * assert.equal(error.maxFrameLength, 8388608);
 * ```
 */
export class FrameTooLargeError extends RangeError {
  /**
   * The frame's length in bytes (the payload a header declares, or a line without its
   * delimiter). A lower bound when the message says "at least": a line whose end was not seen.
   */
  readonly frameLength: number;
  /** The largest frame the framer allows. */
  readonly maxFrameLength: number;

  /**
   * Creates the error.
   *
   * @param frameLength The frame's length (or a lower bound of it).
   * @param maxFrameLength The limit it passes.
   * @param message The message; a "Cannot decode the frame …" sentence by default.
   */
  constructor(frameLength: number, maxFrameLength: number, message?: string) {
    super(
      message ??
        `Cannot decode the frame as its length must be at most ${maxFrameLength} bytes: received ${frameLength}`,
    );
    this.name = "FrameTooLargeError";
    this.frameLength = frameLength;
    this.maxFrameLength = maxFrameLength;
  }
}

/**
 * Thrown when a stream of frames ends inside a frame: bytes are left that do not make a whole
 * frame (a header without all of its payload, a line without its delimiter). Malformed input,
 * so a `TypeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TruncatedFrameError } from "@channels/channels";
 *
 * const error = new TruncatedFrameError(3);
 * assert.ok(error instanceof TypeError);
 * assert.equal(error.bytesLeft, 3);
 * ```
 */
export class TruncatedFrameError extends TypeError {
  /** Bytes left at the end of the stream, from the start of the unfinished frame. */
  readonly bytesLeft: number;

  /**
   * Creates the error.
   *
   * @param bytesLeft Bytes left at the end of the stream.
   */
  constructor(bytesLeft: number) {
    super(`Cannot decode the frame as the stream ended inside it: received ${bytesLeft} trailing bytes`);
    this.name = "TruncatedFrameError";
    this.bytesLeft = bytesLeft;
  }
}

/** A frame longer than the framer allows; `atLeast` when only a lower bound is known. */
export function frameTooLarge(
  what: "decode" | "encode",
  frameLength: number,
  maxFrameLength: number,
  atLeast: boolean = false,
): FrameTooLargeError {
  return new FrameTooLargeError(
    frameLength,
    maxFrameLength,
    `Cannot ${what} the frame as its length must be at most ${maxFrameLength} bytes: received ${
      atLeast ? "at least " : ""
    }${frameLength}`,
  );
}

/** True when `n` is an integer in `[min, max]`. */
export function isIntegerIn(n: unknown, min: number, max: number): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max;
}

/**
 * An error reply from a Redis server (a RESP simple error `-…` or blob error `!…`): the
 * command failed, the connection is fine. `message` is the server's error line, `code` its
 * first word (`"ERR"`, `"WRONGTYPE"`, `"NOAUTH"`…).
 *
 * @example Telling error replies apart by code
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespError } from "@channels/channels/resp";
 *
 * const error = new RespError("WRONGTYPE Operation against a key holding the wrong kind of value");
 * assert.equal(error.code, "WRONGTYPE");
 * assert.equal(error.message, "WRONGTYPE Operation against a key holding the wrong kind of value");
 * assert.ok(error instanceof Error);
 * ```
 */
export class RespError extends Error {
  /** The first word of the message: the error's kind by Redis convention. */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param message The server's error line, without the leading `-` and the line end.
   */
  constructor(message: string) {
    super(message);
    this.name = "RespError";
    const space = message.indexOf(" ");
    this.code = space < 0 ? message : message.slice(0, space);
  }
}

/** Malformed RESP from the server, at stream offset `offset` (bytes since the connection opened). */
export function respSyntaxError(rule: string, offset: number, received: unknown): TypeError {
  return new TypeError(`Cannot parse the reply as ${rule} (byte offset ${offset}): received ${describe(received)}`);
}

/** A RESP reply past one of the parser's limits. */
export function respLimitError(rule: string, offset: number, received: number): RangeError {
  return new RangeError(`Cannot parse the reply as ${rule} (byte offset ${offset}): received ${received}`);
}

/** The connection ended (or failed, with `cause`) while replies were still expected. */
export function respConnectionLost(pending: number, cause: unknown): Error {
  const reason = cause === undefined ? "the server closed the connection" : "the connection failed";
  return new Error(`Cannot receive the reply as ${reason}: received ${pending} pending commands`, { cause });
}
