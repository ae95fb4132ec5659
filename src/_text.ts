// Small text helpers several modules share: the UTF-8 length of a string without encoding it,
// and an ASCII string built in JavaScript from a few bytes.
//
// Internal (underscore file): not exported from any entry point.

/** The byte length of `text` as TextEncoder encodes it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  const length = text.length;
  let n = length;
  for (let k = 0; k < length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && k + 1 < length) {
      const d = text.charCodeAt(k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // two units, four bytes
        k++;
      } else {
        n += 2;
      }
    } else {
      n += 2;
    }
  }
  return n;
}

// Reused by asciiString (it never calls out while filled).
const charCodes: number[] = [];

/**
 * The string of `bytes[from, to)` built in JavaScript (String.fromCharCode of the bytes), or
 * `undefined` when a byte is not ASCII. For a few bytes only: callers use it below the size
 * where a TextDecoder call costs less (each says which, from its benchmark).
 */
export function asciiString(bytes: Uint8Array, from: number, to: number): string | undefined {
  const codes = charCodes;
  const n = to - from;
  codes.length = n;
  let any = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[from + i] as number;
    any |= b;
    codes[i] = b;
  }
  return any < 0x80 ? String.fromCharCode.apply(null, codes) : undefined;
}
