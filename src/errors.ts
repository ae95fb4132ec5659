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
  | "BLOCK_NOT_RENTED";

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

/** Misuse: the state machine does not allow this call now. */
export function stateError(code: ChannelStateErrorCode): ChannelStateError {
  return new ChannelStateError(code, STATE_MESSAGES[code]);
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
  NO_MEMORY_TO_ADVANCE: "Cannot advance the writer as no memory was requested: call getMemory() first",
  BLOCK_NOT_RENTED: "Cannot release the block as it is not rented from this pool",
};

/** A size or position argument outside its allowed range. */
export function rangeError(what: string, rule: string, received: unknown): RangeError {
  return new RangeError(`Cannot ${what} as ${rule}: received ${describe(received)}`);
}

/** An argument of the wrong type. */
export function typeError(what: string, rule: string, received: unknown): TypeError {
  return new TypeError(`Cannot ${what} as ${rule}: received ${describe(received)}`);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}

/** True when `n` is an integer in `[min, max]`. */
export function isIntegerIn(n: unknown, min: number, max: number): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max;
}
