/**
 * permessage-deflate negotiation (RFC 7692 §7.1): the client's offer, the server's choice
 * among the offers, and the client's check of the server's answer.
 *
 * | parameter | in an offer | in the answer |
 * | --- | --- | --- |
 * | `server_no_context_takeover` | asks the server to reset per message | the server resets per message |
 * | `client_no_context_takeover` | the client will reset per message | asks the client to reset per message |
 * | `server_max_window_bits=N` | limits the server's window (8–15) | the server's window (≤ the offer's) |
 * | `client_max_window_bits[=N]` | the client can limit its window (to N) | the client's window (only when offered) |
 *
 * Window bits 8 are never agreed: zlib's raw deflate cannot compress with a 256-byte window (it
 * silently uses 512), so an offer that needs our window at 8 is declined, and a client told to
 * use 8 fails the handshake.
 *
 * @module
 */

import { isIntegerIn, rangeError, typeError } from "../errors.ts";
import type { ExtensionOffer } from "./_handshake.ts";

/** Options of permessage-deflate (RFC 7692), named by the side they apply to, as in the RFC. */
export interface PerMessageDeflateOptions {
  /**
   * The server resets its compressor after each message (less memory per connection, less
   * compression). A server sets it for itself; a client asks for it.
   *
   * @default {false}
   */
  serverNoContextTakeover?: boolean;
  /**
   * The client resets its compressor after each message. A client sets it for itself; a
   * server asks for it.
   *
   * @default {false}
   */
  clientNoContextTakeover?: boolean;
  /**
   * The largest window of the server's compressor, in bits (9–15). A server uses at most
   * this; a client asks for it.
   *
   * @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * The largest window of the client's compressor, in bits (9–15). A client uses at most
   * this; a server asks for it when the client's offer allows.
   *
   * @default {15}
   */
  clientMaxWindowBits?: number;
  /**
   * zlib's compression level for our messages (0–9).
   *
   * @default {-1} (zlib's default, 6)
   */
  level?: number;
  /**
   * Messages shorter than this many bytes are sent uncompressed (compressing them saves too
   * little to pay for itself). 0 compresses every message.
   *
   * @default {1024}
   */
  threshold?: number;
}

/** What was agreed, and our own settings. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  level: number | undefined;
  threshold: number;
}

/** Checks the options (a TypeError or RangeError names the bad one); true means the defaults. */
export function checkDeflateOptions(
  options: boolean | PerMessageDeflateOptions | undefined,
  what: string,
): DeflateParams | undefined {
  if (options === undefined || options === false) return undefined;
  const o: PerMessageDeflateOptions = options === true ? {} : options;
  if (typeof o !== "object" || o === null) {
    throw typeError(what, "perMessageDeflate must be a boolean or an object", options);
  }
  const bits = (value: number | undefined, name: string): number => {
    if (value === undefined) return 15;
    if (!isIntegerIn(value, 9, 15)) {
      throw rangeError(what, `perMessageDeflate.${name} must be an integer from 9 to 15`, value);
    }
    return value;
  };
  if (o.level !== undefined && !isIntegerIn(o.level, -1, 9)) {
    throw rangeError(what, "perMessageDeflate.level must be an integer from -1 to 9", o.level);
  }
  if (o.threshold !== undefined && !isIntegerIn(o.threshold, 0, Number.MAX_SAFE_INTEGER)) {
    throw rangeError(what, "perMessageDeflate.threshold must be a non-negative integer", o.threshold);
  }
  return {
    serverNoContextTakeover: Boolean(o.serverNoContextTakeover),
    clientNoContextTakeover: Boolean(o.clientNoContextTakeover),
    serverMaxWindowBits: bits(o.serverMaxWindowBits, "serverMaxWindowBits"),
    clientMaxWindowBits: bits(o.clientMaxWindowBits, "clientMaxWindowBits"),
    level: o.level === undefined || o.level === -1 ? undefined : o.level,
    threshold: o.threshold ?? 1024,
  };
}

/** The client's offer for its settings. */
export function formatOffer(ours: DeflateParams): string {
  let text = "permessage-deflate";
  if (ours.serverNoContextTakeover) text += "; server_no_context_takeover";
  if (ours.clientNoContextTakeover) text += "; client_no_context_takeover";
  if (ours.serverMaxWindowBits < 15) text += `; server_max_window_bits=${ours.serverMaxWindowBits}`;
  text += ours.clientMaxWindowBits < 15
    ? `; client_max_window_bits=${ours.clientMaxWindowBits}`
    : "; client_max_window_bits";
  return text;
}

/** The parameters of one offer or answer, checked; undefined when one is unknown, repeated or invalid. */
interface Parsed {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `null`: present without a value. */
  clientMaxWindowBits: number | null | undefined;
}

function parseParams(extension: ExtensionOffer): Parsed | undefined {
  const out: Parsed = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of extension.params) {
    if (seen.has(name)) return undefined;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
        if (value !== undefined) return undefined;
        out.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        if (value !== undefined) return undefined;
        out.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        out.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === undefined) {
          out.clientMaxWindowBits = null;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

function windowBits(value: string | undefined): number | undefined {
  if (value === undefined || !/^(8|9|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/**
 * The server's choice: the first offer it can accept, as the settings to run and the answer to
 * send; undefined when it accepts none.
 */
export function acceptOffer(
  offers: readonly ExtensionOffer[],
  ours: DeflateParams,
): { params: DeflateParams; answer: string } | undefined {
  for (const offer of offers) {
    if (offer.name !== "permessage-deflate") continue;
    const p = parseParams(offer);
    if (p === undefined) continue;
    let serverBits = ours.serverMaxWindowBits;
    if (p.serverMaxWindowBits !== undefined) {
      if (p.serverMaxWindowBits === 8) continue;
      serverBits = Math.min(serverBits, p.serverMaxWindowBits);
    }
    let clientBits = 15;
    let answer = "permessage-deflate";
    const serverReset = p.serverNoContextTakeover || ours.serverNoContextTakeover;
    const clientReset = p.clientNoContextTakeover || ours.clientNoContextTakeover;
    if (serverReset) answer += "; server_no_context_takeover";
    if (clientReset) answer += "; client_no_context_takeover";
    if (serverBits < 15) answer += `; server_max_window_bits=${serverBits}`;
    if (p.clientMaxWindowBits !== undefined) {
      clientBits = Math.min(p.clientMaxWindowBits ?? 15, ours.clientMaxWindowBits);
      if (clientBits < 15) answer += `; client_max_window_bits=${clientBits}`;
    }
    return {
      params: {
        serverNoContextTakeover: serverReset,
        clientNoContextTakeover: clientReset,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
        level: ours.level,
        threshold: ours.threshold,
      },
      answer,
    };
  }
  return undefined;
}

/**
 * The client's check of the server's answer to its offer: the settings to run, or a message
 * saying why the answer is not acceptable.
 */
export function checkAnswer(answer: ExtensionOffer, ours: DeflateParams): DeflateParams | string {
  const p = parseParams(answer);
  if (p === undefined) return "its parameters are unknown, repeated or invalid";
  if (p.clientMaxWindowBits === null) return "client_max_window_bits has no value";
  if (ours.serverMaxWindowBits < 15 && (p.serverMaxWindowBits ?? 15) > ours.serverMaxWindowBits) {
    return `server_max_window_bits must be at most ${ours.serverMaxWindowBits}`;
  }
  if (ours.serverNoContextTakeover && !p.serverNoContextTakeover) return "server_no_context_takeover is missing";
  const clientBits = Math.min(p.clientMaxWindowBits ?? 15, ours.clientMaxWindowBits);
  if (clientBits === 8) {
    return "client_max_window_bits=8 cannot be honoured (zlib compresses raw deflate with 9 bits at least)";
  }
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover || ours.clientNoContextTakeover,
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
    level: ours.level,
    threshold: ours.threshold,
  };
}
