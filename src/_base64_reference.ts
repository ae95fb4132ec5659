/**
 * Plain TypeScript base64: the group functions have the exact contract of the WebAssembly
 * kernels (`base64Encode` / `base64Decode` in wasm/assembly/base64.ts) on arrays instead of
 * pointers, and are the fallback where the kernels cannot load or the input is not pool
 * memory; the one-shot functions are the tests' reference for the whole format, written
 * independently of the streaming code in base64.ts.
 *
 * @module
 */

/** The 64 characters of each alphabet, as text. */
export const ALPHABET_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** The "base64url" alphabet (RFC 4648 §5). */
export const ALPHABET_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function encodeTable(alphabet: string): Uint8Array {
  return Uint8Array.from(alphabet, (c) => c.charCodeAt(0));
}

function decodeTable(...alphabets: string[]): Uint8Array {
  const table = new Uint8Array(256).fill(255);
  for (const alphabet of alphabets) {
    for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  }
  return table;
}

/** Sextet → character code. */
export const ENCODE_STD: Uint8Array = encodeTable(ALPHABET_STD);
/** Sextet → character code, "base64url". */
export const ENCODE_URL: Uint8Array = encodeTable(ALPHABET_URL);
/** Character code → sextet, or 255 when not in the alphabet. */
export const DECODE_STD: Uint8Array = decodeTable(ALPHABET_STD);
/** Character code → sextet, "base64url". */
export const DECODE_URL: Uint8Array = decodeTable(ALPHABET_URL);
/** Character code → sextet for either alphabet (the lenient decoder, like Node's `Buffer`). */
export const DECODE_ANY: Uint8Array = decodeTable(ALPHABET_STD, ALPHABET_URL);

/**
 * Encodes the `len / 3` whole groups of `src[from, from + len)` into `dst` at `at`; returns
 * the characters written. The contract of the `base64Encode` kernel.
 */
export function encodeGroupsReference(
  src: Uint8Array,
  from: number,
  len: number,
  dst: Uint8Array,
  at: number,
  url: number,
): number {
  const table = url ? ENCODE_URL : ENCODE_STD;
  const end = from + len - (len % 3);
  let q = at;
  for (let p = from; p < end; p += 3) {
    const v = ((src[p] as number) << 16) | ((src[p + 1] as number) << 8) | (src[p + 2] as number);
    dst[q++] = table[v >>> 18] as number;
    dst[q++] = table[(v >>> 12) & 63] as number;
    dst[q++] = table[(v >>> 6) & 63] as number;
    dst[q++] = table[v & 63] as number;
  }
  return q - at;
}

/**
 * Decodes the `len / 4` whole groups of `src[from, from + len)` into `dst` at `at`, stopping
 * at the first character not in the alphabet. Returns the bytes written, or `-1 - k` when the
 * character at offset `k` (from `from`) is not in the alphabet; then the groups before its
 * group are decoded. The contract of the `base64Decode` kernel.
 */
export function decodeGroupsReference(
  src: Uint8Array,
  from: number,
  len: number,
  dst: Uint8Array,
  at: number,
  url: number,
): number {
  const table = url ? DECODE_URL : DECODE_STD;
  const end = from + len - (len % 4);
  let q = at;
  for (let p = from; p < end; p += 4) {
    const a = table[src[p] as number] as number;
    const b = table[src[p + 1] as number] as number;
    const c = table[src[p + 2] as number] as number;
    const d = table[src[p + 3] as number] as number;
    if ((a | b | c | d) > 63) {
      const k = a > 63 ? 0 : b > 63 ? 1 : c > 63 ? 2 : 3;
      return -1 - (p - from + k);
    }
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    dst[q++] = v >>> 16;
    dst[q++] = (v >>> 8) & 255;
    dst[q++] = v & 255;
  }
  return q - at;
}

/** Options of the one-shot reference functions (those of base64Encoder/base64Decoder). */
export interface ReferenceOptions {
  alphabet?: "base64" | "base64url";
  padding?: boolean;
  strict?: boolean;
  skipWhitespace?: boolean;
}

/** Encodes `data` whole, as text (padded unless `padding: false`). */
export function referenceEncode(data: Uint8Array, options: ReferenceOptions = {}): string {
  const alphabet = options.alphabet === "base64url" ? ALPHABET_URL : ALPHABET_STD;
  let text = "";
  for (let i = 0; i < data.length; i += 3) {
    const n = Math.min(3, data.length - i);
    const v = ((data[i] as number) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0);
    text += alphabet[v >>> 18];
    text += alphabet[(v >>> 12) & 63];
    text += n > 1 ? alphabet[(v >>> 6) & 63] : options.padding === false ? "" : "=";
    text += n > 2 ? alphabet[v & 63] : options.padding === false ? "" : "=";
  }
  return text;
}

/** True for the whitespace `skipWhitespace` skips: space, tab, CR, LF. */
export function isBase64Whitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** What a strict decode can reject, as the middle of the error message. */
export const RULES = {
  character: "the character is not in the alphabet",
  afterPadding: "data follows the padding",
  padding: "padding '=' can only end a group of 2 or 3 characters",
  incompletePadding: "the padding is incomplete ('==' needed)",
  lone: "the final group has only 1 character",
  trailingBits: "the final group has non-zero trailing bits",
} as const;

/**
 * The error every base64 decode failure throws: a `TypeError` naming the absolute offset.
 *
 * @param rule What the input broke.
 * @param offset Absolute byte offset in the input stream.
 */
export function base64DecodeError(rule: string, offset: number): TypeError {
  return new TypeError(`Cannot decode base64 as ${rule}: received it at byte offset ${offset}`);
}

/**
 * Decodes `text` whole with the semantics of base64Decoder (see src/base64.ts), written as
 * one plain loop: strict mode throws {@linkcode base64DecodeError}; lenient mode behaves as
 * Node's `Buffer.from(text, "base64")`.
 */
export function referenceDecode(text: Uint8Array, options: ReferenceOptions = {}): Uint8Array {
  const strict = options.strict ?? true;
  const skipWhitespace = options.skipWhitespace ?? false;
  const table = !strict ? DECODE_ANY : options.alphabet === "base64url" ? DECODE_URL : DECODE_STD;
  const out: number[] = [];
  const group: number[] = [];
  let lastData = -1; // offset of the last data character
  let firstPad = -1; // offset of the first '=' of the final group
  let i = 0;
  for (; i < text.length; i++) {
    const c = text[i] as number;
    const v = table[c] as number;
    if (firstPad < 0 && v < 64) {
      group.push(v);
      lastData = i;
      if (group.length === 4) {
        out.push(...groupBytes(group));
        group.length = 0;
      }
      continue;
    }
    if (!strict) {
      if (c === 0x3d) break; // '=' ends the data; the rest is ignored
      continue;
    }
    if (skipWhitespace && isBase64Whitespace(c)) continue;
    if (c !== 0x3d) {
      throw base64DecodeError(
        firstPad >= 0 && v < 64 ? RULES.afterPadding : RULES.character,
        i,
      );
    }
    // '='
    if (firstPad < 0) {
      if (group.length < 2) throw base64DecodeError(RULES.padding, i);
      firstPad = i;
      if (group.length === 3) {
        checkTrailingBits(group, lastData);
        group.push(-1); // complete: one '=' was needed
      } else {
        group.push(-2); // one more '=' needed
      }
      continue;
    }
    if (group[group.length - 1] === -2) {
      checkTrailingBits(group, lastData);
      group[group.length - 1] = -1;
      continue;
    }
    throw base64DecodeError(RULES.padding, i);
  }
  if (strict && group[group.length - 1] === -2) {
    throw base64DecodeError(RULES.incompletePadding, firstPad);
  }
  const data = group.filter((v) => v >= 0);
  if (data.length === 1 && strict) throw base64DecodeError(RULES.lone, lastData);
  if (data.length >= 2) {
    const bytes = groupBytes([...data, 0, 0].slice(0, 4)).slice(0, data.length - 1);
    if (strict) checkTrailingBits(data, lastData);
    out.push(...bytes);
  }
  return new Uint8Array(out);
}

/** Throws when the final group's data (2 or 3 sextets first in `group`) has unused bits set. */
function checkTrailingBits(group: readonly number[], lastData: number): void {
  const trailing = group[2] === undefined || (group[2] as number) < 0
    ? (group[1] as number) & 15
    : (group[2] as number) & 3;
  if (trailing !== 0) throw base64DecodeError(RULES.trailingBits, lastData);
}

function groupBytes(group: readonly number[]): number[] {
  const v = ((group[0] as number) << 18) | ((group[1] as number) << 12) | ((group[2] as number) << 6) |
    (group[3] as number);
  return [v >>> 16, (v >>> 8) & 255, v & 255];
}
