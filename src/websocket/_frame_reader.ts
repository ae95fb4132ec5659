/**
 * Frames parsed from the input's `ReadableBuffer` where they lie (RFC 6455 §5), and messages
 * assembled from them without copying.
 *
 * - A header may be split anywhere across segments and reads: nothing is consumed until a
 *   whole header is there, and everything that can be checked is checked as soon as its bytes
 *   are (an opcode or a missing mask fails with 2 bytes in).
 * - A data frame's payload is unmasked in place by the mask kernel as it arrives (the key's
 *   phase carried across segments and reads), text is validated as it arrives (`Utf8Stream`),
 *   and compressed payload is inflated as it arrives.
 * - A message's payload stays in the input until the next message is asked for: its
 *   fragments (with the control frames between them) are not consumed, and the message is a
 *   buffer (one per reader, reused) over segments (reused) that point into the input's blocks
 *   where each run of payload lies. The frames after it are parsed from the same read. Before
 *   the caller waits on the peer (a flush that waits) everything read is marked examined
 *   (`examineHeld`), so a peer paused on our input is never held up by a message held.
 * - Limits are checked on the header, before any payload is buffered.
 *
 * Positions: `#parsed` and `#ranges` count from the start of the current read's buffer; bytes
 * before `#parsed` are parsed (unmasked, validated). On a read for more, everything before the
 * message in progress is consumed and the positions move down by as much.
 *
 * @module
 */

import { maskReference } from "../_mask_reference.ts";
import { RunCursor } from "../_runs.ts";
import { mask, maskPool } from "../_wasm/mask.ts";
import { memoryData } from "../_wasm/registry.ts";
import { BufferSegment } from "../_segment.ts";
import type { PoolBlock } from "../memory_pool.ts";
import { ReadableBuffer, retargetBuffer, walkRuns } from "../readable_buffer.ts";
import type { ReadableChannel } from "../readable_channel.ts";
import { Utf8Decoder } from "../utf8_decoder.ts";
import { INVALID_DATA, isSendableCloseCode, MESSAGE_TOO_BIG, NO_STATUS, PROTOCOL_ERROR } from "./_close_codes.ts";
import type { MessageInflater } from "./_deflate.ts";
import { Utf8Stream } from "./_utf8_stream.ts";

/** Opcodes (§5.2). */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** What {@linkcode FrameReader.next} found: a message (`type`, `data`). */
export const MESSAGE = 1;
/** A valid close frame (`closeCode`, `closeReason`). */
export const CLOSE = 2;
/** The input ended without a close frame. */
export const END = 3;
/** The peer broke the protocol (`failCode`, `failReason`, `failError`). */
export const FAILED = 4;
/** More bytes must come first ({@linkcode FrameReader.tryNext}). */
export const NEED_MORE = 0;

/** Called as control frames arrive; the payload view is valid during the call. */
export interface ControlHandler {
  ping(payload: Uint8Array): void;
  pong(payload: Uint8Array): void;
}

/** What the reader enforces. */
export interface ReaderLimits {
  /** The longest message (decompressed), in bytes. */
  maxMessageBytes: number;
  /** The most frames a message may come in. */
  maxFragments: number;
}

const EMPTY = new Uint8Array(0);
const EMPTY_BUFFER = ReadableBuffer.from([]);
const NO_SEGMENTS: BufferSegment[] = [];
const reasonDecoder = new Utf8Decoder({ ignoreBOM: true });
// Reused: no walk calls out.
const runs = new RunCursor();
const headRuns = new RunCursor();

/** Reads frames from one input. */
export class FrameReader {
  readonly #input: ReadableChannel;
  readonly #server: boolean;
  readonly #limits: ReaderLimits;
  readonly #inflater: MessageInflater | undefined;
  readonly #control: ControlHandler;

  // The current read's buffer (undefined between an advanceTo and the next read) and whether
  // the input ended after it.
  #buffer: ReadableBuffer | undefined;
  #ended = false;
  // Bytes of #buffer parsed: headers read, payload unmasked, validated or inflated.
  #parsed = 0;
  // Bytes of #buffer already marked examined (by the advanceTo before this read).
  #examined = 0;
  // Set once the input ended, a close frame came or the peer failed: every later call says so.
  #outcome = 0;
  // A message is handed out: its bytes stay until the next call.
  #holding = false;
  // What was parsed is marked examined (no examineHeld owed for the message held).
  #heldExamined = true;

  // The data frame whose payload is arriving.
  #inPayload = false;
  #payloadLeft = 0;
  #payloadDone = 0;
  #fin = false;
  #masked = false;
  #key = 0;

  // The message in progress: its opcode (0: none), whether it is compressed, its bytes so far
  // (payload; compressed payload in #wireBytes), its frames, and where its payload lies
  // (start, end pairs in #buffer; empty for compressed messages, which live in the inflater).
  #opcode = 0;
  #compressed = false;
  #messageBytes = 0;
  #wireBytes = 0;
  #fragments = 0;
  readonly #ranges: number[] = [];
  // Entries of #ranges in use (the array keeps its length: setting it costs a runtime call).
  #rangeCount = 0;
  // Entries of #messageSegments the message handed out uses.
  #segmentCount = 0;
  readonly #utf8 = new Utf8Stream();

  // The message handed out: one buffer, over segments reused from message to message.
  readonly #messageBuffer: ReadableBuffer = ReadableBuffer.from([]);
  readonly #messageSegments: BufferSegment[] = [];
  readonly #head = new Uint8Array(14);
  // The walk #parse keeps over the buffer, so frames in one run of memory need no walk each:
  // the current run covers buffer positions [#runAt, #runEnd) (#runOk false past the last).
  readonly #cursor = new RunCursor();
  // The walk is over the current buffer from an earlier #parse (no read or advanceTo since).
  #walking = false;
  #runOk = false;
  #runAt = 0;
  #runEnd = 0;
  // The current run's pool memory as a DataView, and the memory offset of buffer position 0 in
  // it (null: not looked up yet for this run; undefined: not pool memory).
  #runData: DataView | undefined | null = null;
  #runDataBase = 0;
  // Where the message's first payload bytes lie when one run held them: positions up to
  // #singleEnd map to #singleBytes[position + #singleOffset] (#singleBytes undefined otherwise).
  #singleBytes: Uint8Array | undefined;
  #singleOffset = 0;
  #singleEnd = 0;
  readonly #controlPayload = new Uint8Array(125);

  /** The message's type (after MESSAGE). */
  type: "text" | "binary" = "binary";
  /** The message's bytes (after MESSAGE), valid until the next call. */
  data: ReadableBuffer = EMPTY_BUFFER;
  /** When `data` is one run of memory: `dataBytes[dataFrom, dataTo)` (a send of it needs no walk). */
  dataBytes: Uint8Array | undefined;
  dataFrom = 0;
  dataTo = 0;
  /**
   * When `data` is a short message parsed in one step from pool memory: that memory's
   * `DataView`, `data` at `dataAt` in it (an echo copies it four bytes a step).
   */
  dataMemory: DataView | undefined;
  dataAt = 0;
  /** The close frame's code, 1005 when it had none (after CLOSE). */
  closeCode: number = NO_STATUS;
  /** The close frame's reason (after CLOSE). */
  closeReason = "";
  /** The close code to fail the connection with (after FAILED). */
  failCode: number = PROTOCOL_ERROR;
  /** What the peer did wrong (after FAILED). */
  failReason = "";
  /** The error that says so (after FAILED). */
  failError: Error | undefined;

  /**
   * @param input The connection's input (after the handshake).
   * @param server Frames must be masked (we are the server), or must not be.
   * @param limits The limits.
   * @param inflater permessage-deflate's decompressor, when agreed.
   * @param control Gets pings and pongs.
   */
  constructor(
    input: ReadableChannel,
    server: boolean,
    limits: ReaderLimits,
    inflater: MessageInflater | undefined,
    control: ControlHandler,
  ) {
    this.#input = input;
    this.#server = server;
    this.#limits = limits;
    this.#inflater = inflater;
    this.#control = control;
  }

  /**
   * What is there without waiting: a message, a close frame, the end of the input or a protocol
   * error (as {@linkcode next}), or 0 when more bytes must come first. The last message's bytes
   * are released first. Throws when the input failed.
   */
  tryNext(): number {
    if (this.#outcome !== 0) return this.#outcome;
    if (this.#holding) this.#release();
    for (;;) {
      let buffer = this.#buffer;
      if (buffer === undefined) {
        const result = this.#input.tryRead();
        if (result === undefined) return NEED_MORE;
        buffer = this.#buffer = result.buffer;
        this.#ended = result.isCompleted;
      }
      const outcome = this.#parse(buffer);
      if (outcome !== NEED_MORE) {
        if (outcome !== MESSAGE) this.#outcome = outcome;
        return outcome;
      }
      if (this.#ended) {
        this.#outcome = END;
        return END;
      }
      // Consume what no message needs; everything is examined, so the read waits for more.
      const ranges = this.#ranges;
      const count = this.#rangeCount;
      const keep = count > 0 ? ranges[0] as number : this.#parsed;
      this.#buffer = undefined;
      this.#heldExamined = true;
      this.#input.advanceTo(keep, buffer.length);
      this.#parsed -= keep;
      this.#examined = buffer.length - keep;
      for (let i = 0; i < count; i++) ranges[i] = (ranges[i] as number) - keep;
      this.#singleOffset += keep;
      this.#singleEnd -= keep;
    }
  }

  /**
   * Reads on until a message, a close frame, the end of the input, or a protocol error. The last
   * message's bytes are released first. `beforeWait` runs each time it is about to wait for
   * bytes. Rejects when the input does.
   */
  async next(beforeWait?: () => void): Promise<number> {
    for (;;) {
      const outcome = this.tryNext();
      if (outcome !== NEED_MORE) return outcome;
      beforeWait?.();
      const result = await this.#input.read();
      this.#buffer = result.buffer;
      this.#ended = result.isCompleted;
    }
  }

  /**
   * Reads and drops the input until it ends (a client waits so for the server to end the TCP
   * connection after the close handshake). Rejects when the input does.
   */
  async readToEnd(): Promise<void> {
    for (;;) {
      let buffer = this.#buffer;
      if (buffer === undefined) {
        const result = this.#input.tryRead() ?? (await this.#input.read());
        buffer = this.#buffer = result.buffer;
        this.#ended = result.isCompleted;
      }
      if (this.#ended) return;
      this.#stopWalk();
      this.#buffer = undefined;
      this.#examined = 0;
      this.#parsed = 0;
      this.#input.advanceTo(buffer.length);
    }
  }

  /** Forgets the message handed out (its bytes are consumed with the next read). */
  #release(): void {
    this.#holding = false;
    this.#rangeCount = 0;
    this.dataBytes = undefined;
    this.dataMemory = undefined;
    this.data = EMPTY_BUFFER;
    const segments = this.#messageSegments;
    for (let i = 0; i < this.#segmentCount; i++) (segments[i] as BufferSegment).bytes = EMPTY;
    this.#segmentCount = 0;
    this.#singleBytes = undefined;
    if (this.#compressed) this.#inflater?.release();
  }

  #parse(buffer: ReadableBuffer): number {
    if (!this.#walking) {
      const cursor = this.#cursor;
      walkRuns(buffer, cursor, this.#parsed, buffer.length);
      this.#walking = true;
      this.#runOk = cursor.next();
      this.#runAt = this.#parsed;
      this.#runEnd = this.#runAt + cursor.to - cursor.from;
      this.#runData = null;
    }
    const outcome = this.#parseFrames(buffer);
    if (outcome !== MESSAGE) this.#stopWalk(); // a read or an advanceTo comes next
    return outcome;
  }

  /** Ends the walk (the buffer is about to change, or nothing more is parsed). */
  #stopWalk(): void {
    if (!this.#walking) return;
    this.#walking = false;
    this.#runOk = false;
    this.#cursor.finish();
  }

  /** Moves the walk on to the run that holds position `q` (positions only grow). */
  #seek(q: number): void {
    const cursor = this.#cursor;
    while (this.#runOk && q >= this.#runEnd) {
      this.#runOk = cursor.next();
      this.#runAt = this.#runEnd;
      this.#runEnd = this.#runAt + cursor.to - cursor.from;
      this.#runData = null;
    }
  }

  #parseFrames(buffer: ReadableBuffer): number {
    const length = buffer.length;
    for (;;) {
      if (this.#inPayload) {
        const from = this.#parsed;
        const n = Math.min(this.#payloadLeft, length - from);
        if (n > 0) {
          if (!this.#payload(buffer, from, from + n)) return FAILED;
          this.#parsed = from + n;
          this.#payloadLeft -= n;
        }
        if (this.#payloadLeft > 0) return NEED_MORE;
        this.#inPayload = false;
        if (this.#fin) return this.#endMessage(buffer);
        continue;
      }
      const p = this.#parsed;
      const available = length - p;
      if (available < 2) return NEED_MORE;
      this.#seek(p);
      if (this.#opcode === 0 && this.#server && this.#runOk && available >= 6) {
        const outcome = this.#shortMessage(p);
        if (outcome !== NEED_MORE) return outcome;
      }
      // The header where it lies when its run holds it (as it mostly does), else a copy.
      let head: Uint8Array;
      let h: number;
      if (this.#runOk && p + Math.min(14, available) <= this.#runEnd) {
        head = this.#cursor.bytes;
        h = this.#cursor.from + p - this.#runAt;
      } else {
        head = this.#head;
        h = 0;
        copyOut(buffer, p, Math.min(14, available), head);
      }
      const b0 = head[h] as number;
      const b1 = head[h + 1] as number;
      const fin = (b0 & 0x80) !== 0;
      const rsv1 = (b0 & 0x40) !== 0;
      const opcode = b0 & 0x0f;
      if ((b0 & 0x30) !== 0) return this.#fail(PROTOCOL_ERROR, "RSV2 and RSV3 must be 0 (no extension uses them)");
      if (opcode >= 8) {
        if (opcode > OP_PONG) return this.#fail(PROTOCOL_ERROR, `opcode ${opcode} is reserved`);
        if (!fin) return this.#fail(PROTOCOL_ERROR, "a control frame must not be fragmented");
        if (rsv1) return this.#fail(PROTOCOL_ERROR, "RSV1 must be 0 on a control frame");
        if ((b1 & 0x7f) > 125) return this.#fail(PROTOCOL_ERROR, "a control frame's payload must be at most 125 bytes");
      } else if (opcode > OP_BINARY) {
        return this.#fail(PROTOCOL_ERROR, `opcode ${opcode} is reserved`);
      } else if (opcode === OP_CONTINUATION) {
        if (this.#opcode === 0) {
          return this.#fail(PROTOCOL_ERROR, "a continuation frame must follow a message's first frame");
        }
        if (rsv1) return this.#fail(PROTOCOL_ERROR, "RSV1 must be 0 on a continuation frame");
      } else {
        if (this.#opcode !== 0) {
          return this.#fail(PROTOCOL_ERROR, "a new message must not start before the last one ended");
        }
        if (rsv1 && this.#inflater === undefined) {
          return this.#fail(PROTOCOL_ERROR, "RSV1 must be 0 as no extension was agreed");
        }
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked !== this.#server) {
        return this.#fail(
          PROTOCOL_ERROR,
          this.#server ? "a client's frames must be masked" : "a server's frames must not be masked",
        );
      }
      let payloadLength = b1 & 0x7f;
      let headerLength = 2;
      if (payloadLength === 126) {
        if (available < 4) return NEED_MORE;
        payloadLength = ((head[h + 2] as number) << 8) | (head[h + 3] as number);
        headerLength = 4;
      } else if (payloadLength === 127) {
        if (available < 10) return NEED_MORE;
        if ((head[h + 2] as number) >= 0x80) {
          return this.#fail(PROTOCOL_ERROR, "a 64-bit payload length must have its top bit 0");
        }
        // In a function of its own: the doubles it may return would otherwise make JavaScriptCore
        // keep this function's lengths and positions (and the fields they go to) as doubles.
        payloadLength = longLength(head, h + 2);
        headerLength = 10;
      }
      let key = 0;
      if (masked) {
        if (available < headerLength + 4) return NEED_MORE;
        const k = h + headerLength;
        key = ((head[k] as number) | ((head[k + 1] as number) << 8) | ((head[k + 2] as number) << 16) |
          ((head[k + 3] as number) << 24)) >>> 0;
        headerLength += 4;
      }
      if (opcode >= 8) {
        if (available < headerLength + payloadLength) return NEED_MORE;
        const payload = this.#controlPayload;
        const at = p + headerLength;
        if (this.#runOk && at + payloadLength <= this.#runEnd) {
          const from = this.#cursor.from + at - this.#runAt;
          payload.set(this.#cursor.bytes.subarray(from, from + payloadLength));
        } else {
          copyOut(buffer, at, payloadLength, payload);
        }
        if (masked) maskReference(payload, 0, payloadLength, key, 0);
        this.#parsed = p + headerLength + payloadLength;
        const view = payload.subarray(0, payloadLength);
        if (opcode === OP_PING) this.#control.ping(view);
        else if (opcode === OP_PONG) this.#control.pong(view);
        else return this.#closeFrame(view);
        continue;
      }
      const limits = this.#limits;
      if (opcode !== OP_CONTINUATION) {
        this.#compressed = rsv1;
        this.#messageBytes = 0;
        this.#wireBytes = 0;
        this.#fragments = 0;
        this.#utf8.reset();
        if (rsv1) this.#inflater?.begin(limits.maxMessageBytes);
      }
      if (++this.#fragments > limits.maxFragments) {
        return this.#fail(MESSAGE_TOO_BIG, `a message must come in at most ${limits.maxFragments} frames`, true);
      }
      if (this.#compressed) {
        // Compressed bytes are bounded too (deflate's worst case adds well under 1/8).
        const most = limits.maxMessageBytes + Math.floor(limits.maxMessageBytes / 8) + 1024;
        if (this.#wireBytes + payloadLength > most) {
          return this.#fail(MESSAGE_TOO_BIG, `a compressed message must be at most ${most} bytes`, true);
        }
      } else if (this.#messageBytes + payloadLength > limits.maxMessageBytes) {
        return this.#fail(MESSAGE_TOO_BIG, `a message must be at most ${limits.maxMessageBytes} bytes`, true);
      }
      if (opcode !== OP_CONTINUATION) this.#opcode = opcode;
      this.#fin = fin;
      this.#masked = masked;
      this.#key = key;
      this.#payloadLeft = payloadLength;
      this.#payloadDone = 0;
      this.#inPayload = true;
      this.#parsed = p + headerLength;
    }
  }

  /**
   * The common frame whole in the current run, parsed in one step: a masked, unfragmented text
   * or binary message of at most 125 bytes (no extension bits), while no message is in
   * progress. MESSAGE or FAILED; NEED_MORE when it is not such a frame (the general path parses it).
   */
  #shortMessage(p: number): number {
    const cursor = this.#cursor;
    const bytes = cursor.bytes;
    const offset = cursor.from - this.#runAt;
    const h = p + offset;
    const b0 = bytes[h] as number;
    const b1 = bytes[h + 1] as number;
    const n = b1 & 0x7f;
    if ((b0 !== 0x82 && b0 !== 0x81) || b1 < 0x80 || n > 125) return NEED_MORE;
    if (p + 6 + n > this.#runEnd || n > this.#limits.maxMessageBytes) return NEED_MORE;
    const key = ((bytes[h + 2] as number) | ((bytes[h + 3] as number) << 8) | ((bytes[h + 4] as number) << 16) |
      ((bytes[h + 5] as number) << 24)) >>> 0;
    const opcode = b0 & 0x0f;
    const from = p + 6;
    const to = from + n;
    // What the general path leaves for a message held: its positions, no compression, and the
    // message (one segment, or none).
    this.#parsed = to;
    this.#compressed = false;
    const message = this.#messageBuffer;
    if (n === 0) retargetBuffer(message, NO_SEGMENTS, 0, 0, 0, 0);
    else {
      const block = cursor.block;
      let memory = this.#runData;
      if (memory === null) {
        memory = this.#runData = block !== null ? memoryData(block.memory) : undefined;
        this.#runDataBase = memory !== undefined ? bytes.byteOffset + offset : 0;
      }
      const start = from + offset;
      const end = to + offset;
      if (memory !== undefined) {
        const at = this.#runDataBase + from;
        maskPool((block as PoolBlock).memory, memory, at, n, key, 0);
        this.dataMemory = memory;
        this.dataAt = at;
      } else {
        mask(bytes, start, end, key, 0, block);
      }
      if (opcode === OP_TEXT) {
        const utf8 = this.#utf8;
        utf8.reset();
        if (!utf8.push(bytes, start, end) || utf8.open) {
          return this.#fail(INVALID_DATA, "a text message must be valid UTF-8");
        }
      }
      const ranges = this.#ranges;
      ranges[0] = from;
      ranges[1] = to;
      this.#rangeCount = 2;
      const segments = this.#messageSegments;
      let seg = segments[0];
      if (seg === undefined) segments.push(seg = new BufferSegment(null, EMPTY, 0, 0));
      seg.bytes = bytes;
      seg.end = end;
      seg.runningIndex = 0;
      retargetBuffer(message, segments, 0, 0, start, end);
      this.#segmentCount = 1;
      this.dataBytes = bytes;
      this.dataFrom = start;
      this.dataTo = end;
    }
    this.#holding = true;
    this.#heldExamined = false;
    this.type = opcode === OP_TEXT ? "text" : "binary";
    this.data = message;
    return MESSAGE;
  }

  /** Unmasks, validates or inflates `buffer[from, to)` of the current frame's payload; false on failure. */
  #payload(buffer: ReadableBuffer, from: number, to: number): boolean {
    const compressed = this.#compressed;
    this.#seek(from);
    if (this.#runOk && to <= this.#runEnd) {
      // In the current run: no walk.
      const cursor = this.#cursor;
      const offset = cursor.from - this.#runAt;
      if (!this.#chunk(cursor.bytes, from + offset, to + offset, cursor.block)) return false;
      if (!compressed && this.#rangeCount === 0) {
        this.#singleBytes = cursor.bytes;
        this.#singleOffset = offset;
        this.#singleEnd = this.#runEnd;
      }
    } else {
      walkRuns(buffer, runs, from, to);
      while (runs.next()) {
        if (!this.#chunk(runs.bytes, runs.from, runs.to, runs.block)) {
          runs.finish();
          return false;
        }
      }
      if (!compressed && this.#rangeCount === 0) this.#singleBytes = undefined;
    }
    if (compressed) {
      this.#wireBytes += to - from;
      return true;
    }
    this.#messageBytes += to - from;
    const ranges = this.#ranges;
    const last = this.#rangeCount - 1;
    if (last > 0 && ranges[last] === from) ranges[last] = to;
    else {
      ranges[last + 1] = from;
      ranges[last + 2] = to;
      this.#rangeCount = last + 3;
    }
    return true;
  }

  /** Unmasks, then validates or inflates, `bytes[a, b)`; false on failure. */
  #chunk(bytes: Uint8Array, a: number, b: number, block: PoolBlock | null): boolean {
    if (this.#masked) mask(bytes, a, b, this.#key, this.#payloadDone & 3, block);
    this.#payloadDone += b - a;
    if (this.#compressed) {
      const outcome = (this.#inflater as MessageInflater).push(bytes, a, b);
      return outcome === "ok" || this.#inflateFailed(outcome) === 0;
    }
    if (this.#opcode === OP_TEXT && !this.#utf8.push(bytes, a, b)) {
      this.#fail(INVALID_DATA, "a text message must be valid UTF-8");
      return false;
    }
    return true;
  }

  #endMessage(buffer: ReadableBuffer): number {
    const opcode = this.#opcode;
    let data: ReadableBuffer;
    if (this.#compressed) {
      const inflater = this.#inflater as MessageInflater;
      const outcome = inflater.finish();
      if (outcome !== "ok") return this.#inflateFailed(outcome);
      data = inflater.message();
      this.#holding = true; // the inflater's read is open: released by the next call, or on close
      if (opcode === OP_TEXT) {
        const utf8 = this.#utf8;
        utf8.reset();
        if (!utf8.pushBuffer(data, 0, data.length) || utf8.open) {
          return this.#fail(INVALID_DATA, "a text message must be valid UTF-8");
        }
      }
    } else {
      if (opcode === OP_TEXT && this.#utf8.open) return this.#fail(INVALID_DATA, "a text message must be valid UTF-8");
      data = this.#gather(buffer);
      this.#holding = true;
    }
    this.type = opcode === OP_TEXT ? "text" : "binary";
    this.data = data;
    this.#opcode = 0;
    this.#heldExamined = false;
    return MESSAGE;
  }

  /**
   * The message's payload as a buffer over the input's blocks: a segment per run of payload
   * (the first run's view as it is, later runs as views from their first byte, as a segment's
   * bytes start at its data).
   */
  #gather(buffer: ReadableBuffer): ReadableBuffer {
    const ranges = this.#ranges;
    const rangeCount = this.#rangeCount;
    const message = this.#messageBuffer;
    if (rangeCount === 0) {
      retargetBuffer(message, NO_SEGMENTS, 0, 0, 0, 0);
      return message;
    }
    const segments = this.#messageSegments;
    const single = this.#singleBytes;
    if (rangeCount === 2 && single !== undefined && (ranges[1] as number) <= this.#singleEnd) {
      // One range in one run of memory: one segment, no walk.
      let seg = segments[0];
      if (seg === undefined) segments.push(seg = new BufferSegment(null, EMPTY, 0, 0));
      const start = (ranges[0] as number) + this.#singleOffset;
      const end = (ranges[1] as number) + this.#singleOffset;
      seg.bytes = single;
      seg.end = end;
      seg.runningIndex = 0;
      retargetBuffer(message, segments, 0, 0, start, end);
      this.#segmentCount = 1;
      this.dataBytes = single;
      this.dataFrom = start;
      this.dataTo = end;
      return message;
    }
    let count = 0;
    let start = 0;
    let position = 0;
    for (let i = 0; i < rangeCount; i += 2) {
      walkRuns(buffer, runs, ranges[i] as number, ranges[i + 1] as number);
      while (runs.next()) {
        const bytes = runs.bytes;
        const from = runs.from;
        const to = runs.to;
        let seg = segments[count];
        if (seg === undefined) segments.push(seg = new BufferSegment(null, EMPTY, 0, 0));
        if (count === 0) {
          seg.bytes = bytes;
          seg.end = to;
          seg.runningIndex = 0;
          start = position = from;
        } else {
          seg.bytes = from === 0 ? bytes : bytes.subarray(from, to);
          seg.end = to - from;
          seg.runningIndex = position;
        }
        position += to - from;
        count++;
      }
    }
    retargetBuffer(message, segments, 0, count - 1, start, position);
    this.#segmentCount = count;
    return message;
  }

  /**
   * Marks every byte read as examined while a message is held (nothing consumed past its first
   * byte), so a writer paused on this input goes on; then takes the same bytes back at once
   * (`cancelPendingRead` makes the next read return without new bytes) to parse the frames
   * after the message. Called before the caller waits on something the peer must do (a flush
   * that waits): a peer paused on our input could never do it otherwise.
   */
  examineHeld(): void {
    const buffer = this.#buffer;
    if (this.#heldExamined || !this.#holding || buffer === undefined) return;
    this.#heldExamined = true;
    const ranges = this.#ranges;
    const count = this.#rangeCount;
    const keep = count > 0 ? ranges[0] as number : this.#parsed;
    this.#stopWalk();
    this.#buffer = undefined;
    const input = this.#input;
    input.advanceTo(keep, buffer.length);
    this.#parsed -= keep;
    this.#examined = buffer.length - keep;
    for (let i = 0; i < count; i++) ranges[i] = (ranges[i] as number) - keep;
    this.#singleOffset += keep;
    this.#singleEnd -= keep;
    try {
      // Bytes that came after this read are examined too: the peer may have written them in the
      // same turn as the bytes read, and be paused on them. At most two turns (nothing arrives
      // in between): the second takes the buffer back with everything examined.
      for (;;) {
        input.cancelPendingRead();
        const result = input.tryRead();
        if (result === undefined) break;
        this.#buffer = result.buffer;
        this.#ended = result.isCompleted;
        if (result.buffer.length <= this.#examined) break;
        this.#examined = result.buffer.length;
        this.#buffer = undefined;
        input.advanceTo(0, this.#examined);
      }
    } catch {
      // The input failed: the next read says so.
    }
  }

  #inflateFailed(outcome: "too-big" | "corrupt"): number {
    if (outcome === "too-big") {
      return this.#fail(MESSAGE_TOO_BIG, `a message must be at most ${this.#limits.maxMessageBytes} bytes`, true);
    }
    const detail = this.#inflater?.error;
    return this.#fail(INVALID_DATA, `a compressed message must inflate${detail === undefined ? "" : ` (${detail})`}`);
  }

  #closeFrame(payload: Uint8Array): number {
    if (payload.length === 0) {
      this.closeCode = NO_STATUS;
      this.closeReason = "";
      return CLOSE;
    }
    if (payload.length === 1) return this.#fail(PROTOCOL_ERROR, "a close frame's payload must not be 1 byte");
    const code = ((payload[0] as number) << 8) | (payload[1] as number);
    if (!isSendableCloseCode(code)) return this.#fail(PROTOCOL_ERROR, `close code ${code} must not be sent`);
    const utf8 = this.#utf8;
    utf8.reset();
    if (!utf8.push(payload, 2, payload.length) || utf8.open) {
      utf8.reset();
      return this.#fail(INVALID_DATA, "a close frame's reason must be valid UTF-8");
    }
    this.closeCode = code;
    this.closeReason = reasonDecoder.decode(payload.subarray(2));
    return CLOSE;
  }

  #fail(code: number, reason: string, tooBig: boolean = false): number {
    this.failCode = code;
    this.failReason = reason;
    const message = `Cannot read the WebSocket message as ${reason}`;
    this.failError = tooBig ? new RangeError(message) : new TypeError(message);
    return FAILED;
  }
}

/** A 64-bit payload length (its top bit 0) at `head[at]`; past 2^53, `Number.MAX_SAFE_INTEGER`. */
function longLength(head: Uint8Array, at: number): number {
  const high = (((head[at] as number) << 24) | ((head[at + 1] as number) << 16) |
    ((head[at + 2] as number) << 8) | (head[at + 3] as number)) >>> 0;
  const low = (((head[at + 4] as number) << 24) | ((head[at + 5] as number) << 16) |
    ((head[at + 6] as number) << 8) | (head[at + 7] as number)) >>> 0;
  // Past 2^53 a number cannot hold it; any limit this side takes is far below.
  return high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 4294967296 + low;
}

/** Copies `buffer[from, from + n)` into `into` (a header, a control frame's payload). */
function copyOut(buffer: ReadableBuffer, from: number, n: number, into: Uint8Array): void {
  let at = 0;
  walkRuns(buffer, headRuns, from, from + n);
  while (headRuns.next()) {
    const bytes = headRuns.bytes;
    for (let i = headRuns.from, end = headRuns.to; i < end; i++) into[at++] = bytes[i] as number;
  }
}
