/**
 * The opening handshake's pieces both sides share (RFC 6455 §4): the key and its accept value,
 * and the header grammar of subprotocols and extensions.
 *
 * @module
 */

import { referenceEncode } from "../_base64_reference.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
// A key is 16 bytes in base64: 22 characters and "==" (the last character carries 4 zero bits
// in a strict encoder; peers are not strict about them, nor are we).
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** True when `key` is a `Sec-WebSocket-Key`: base64 of 16 bytes. */
export function isValidKey(key: string | undefined): key is string {
  return key !== undefined && KEY.test(key);
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes in base64. */
export function newKey(): string {
  return referenceEncode(crypto.getRandomValues(new Uint8Array(16)));
}

/** `Sec-WebSocket-Accept` for `key`: base64 of the SHA-1 of the key and the protocol's GUID. */
export async function acceptValue(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return referenceEncode(new Uint8Array(digest));
}

/** The elements of a comma-separated header value, trimmed, empty ones dropped. */
export function listElements(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const element = part.trim();
    if (element.length > 0) out.push(element);
  }
  return out;
}

/** True when a comma-separated header value has `token` (ASCII case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  for (const element of listElements(value)) if (element.toLowerCase() === token) return true;
  return false;
}

// RFC 7230 §3.2.6 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when `text` is a token (subprotocol names and extension names are). */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/** One extension of a `Sec-WebSocket-Extensions` value: its name and parameters in order. */
export interface ExtensionOffer {
  /** The extension's name, lowercased. */
  name: string;
  /** `[name lowercased, value or undefined]` for each parameter. */
  params: [string, string | undefined][];
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1: `ext; param; param=value, ext…`,
 * values tokens or quoted strings). Returns undefined when it does not follow the grammar.
 */
export function parseExtensions(value: string): ExtensionOffer[] | undefined {
  const out: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  const token = (): string | undefined => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(value[i] as string)) i++;
    return i > start ? value.slice(start, i) : undefined;
  };
  for (;;) {
    skipSpace();
    if (i < n && value[i] === ",") {
      i++; // empty list elements are allowed
      continue;
    }
    if (i >= n) break;
    const name = token();
    if (name === undefined) return undefined;
    const offer: ExtensionOffer = { name: name.toLowerCase(), params: [] };
    skipSpace();
    while (i < n && value[i] === ";") {
      i++;
      skipSpace();
      const param = token();
      if (param === undefined) return undefined;
      skipSpace();
      let paramValue: string | undefined;
      if (i < n && value[i] === "=") {
        i++;
        skipSpace();
        if (value[i] === '"') {
          i++;
          let text = "";
          while (i < n && value[i] !== '"') {
            if (value[i] === "\\") i++;
            text += value[i] ?? "";
            i++;
          }
          if (i >= n) return undefined;
          i++;
          // A quoted value must still be a token (§9.1).
          if (!isToken(text)) return undefined;
          paramValue = text;
        } else {
          paramValue = token();
          if (paramValue === undefined) return undefined;
        }
        skipSpace();
      }
      offer.params.push([param.toLowerCase(), paramValue]);
    }
    out.push(offer);
    skipSpace();
    if (i >= n) break;
    if (value[i] !== ",") return undefined;
    i++;
  }
  return out;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
