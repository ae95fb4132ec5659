// Byte classes of HTTP/1.1 (RFC 9110 §5.6.2, RFC 9112 §3), one table lookup per byte for the
// parsers and the response writer's checks. Internal.
//
// | class | bytes |
// | --- | --- |
// | TCHAR | `!#$%&'*+-.^_\`|~`, digits, letters (a token: methods, field names, codings) |
// | VCHAR | 0x21–0x7E and obs-text 0x80–0xFF (a field value's visible bytes) |
// | WS | SP, HTAB (optional whitespace) |
// | TARGET | 0x21–0x7E (a request-target: no space, no control, no obs-text) |
// | HEX | `0-9a-fA-F`, with HEX_VALUE giving the digit's value |

export const TCHAR = 1;
export const VCHAR = 2;
export const WS = 4;
export const TARGET = 8;
export const HEX = 16;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/** The classes of each byte value, as bit flags. */
export const CLASS: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  const tokenPunctuation = "!#$%&'*+-.^_`|~";
  for (let c = 0; c < 256; c++) {
    let k = 0;
    const letterOrDigit = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (letterOrDigit || tokenPunctuation.includes(String.fromCharCode(c))) k |= TCHAR;
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) k |= VCHAR;
    if (c === SP || c === HTAB) k |= WS;
    if (c >= 0x21 && c <= 0x7e) k |= TARGET;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) k |= HEX;
    table[c] = k;
  }
  return table;
})();

/** The value of a hex digit (only meaningful where CLASS has HEX). */
export const HEX_VALUE: Uint8Array = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    if (c >= 0x30 && c <= 0x39) table[c] = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) table[c] = c - 0x41 + 10;
    else if (c >= 0x61 && c <= 0x66) table[c] = c - 0x61 + 10;
  }
  return table;
})();

/** True when `text` is a non-empty token (a method, a field name). */
export function isToken(text: string): boolean {
  const n = text.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || ((CLASS[c] as number) & TCHAR) === 0) return false;
  }
  return true;
}

/**
 * Index of the first character of `text` that may not appear in a field value written on the
 * wire (a control other than HTAB, DEL, or a character above U+00FF), or -1.
 */
export function invalidFieldValueIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || (c < 0x20 && c !== HTAB) || c === 0x7f) return i;
  }
  return -1;
}

/**
 * Bytes `[start, end)` of `bytes` as a string, each byte one character (Latin-1 code points, as
 * fetch's `Headers` reads field values; the Encoding Standard's "latin1" is windows-1252, which
 * maps 0x80–0x9F elsewhere, so no TextDecoder).
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n <= 16) {
    let text = "";
    for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i] as number);
    return text;
  }
  let text = "";
  for (let at = start; at < end; at += LATIN1_CHUNK) {
    const view = bytes.subarray(at, Math.min(end, at + LATIN1_CHUNK));
    text += String.fromCharCode.apply(null, view as unknown as number[]);
  }
  return text;
}

// Arguments per String.fromCharCode call (engines limit the argument count).
const LATIN1_CHUNK = 4096;

/** True when bytes `[start, end)` equal `lower` ignoring ASCII case (`lower` in lowercase ASCII). */
export function equalsLower(bytes: Uint8Array, start: number, end: number, lower: string): boolean {
  const n = lower.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = bytes[start + i] as number;
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
