// Base64 kernels (RFC 4648 §4 "base64" and §5 "base64url"): whole groups only. The caller
// (src/base64.ts) handles padding, the final partial group, whitespace and errors, and calls
// the kernels again after each irregular spot.
//
// Kernel shape (house style): (srcPtr, len, dstPtr, url) → bytes written, allocation-free and
// reentrant; no module-level mutable state. `url` is 0 for "base64" (+/), non-zero for
// "base64url" (-_). The same source builds twice: with `--enable simd` (ASC_FEATURE_SIMD) and
// without; both must give the same bytes (tests/base64_test.ts compares them).
//
// SIMD methods (fixed-width SIMD only: Node 20 rejects relaxed SIMD):
// - encode, after Muła: a constant shuffle puts each 3-byte group as [b1 b0 b2 b1] in a u32
//   lane; the four sextets come out with two masked i32 shifts and one i16 multiply (WASM has
//   no mulhi), then sextet → ASCII is one saturating subtract, one compare and one swizzle of
//   an offset table. Four vectors (48 → 64 bytes) a turn.
// - decode, after Muła and Lemire: validity from two nibble swizzles (a character is valid
//   when lo_table[low nibble] & hi_table[high nibble] is 0), sextet = char + roll[high
//   nibble] (the alphabet's last character, whose high nibble it shares with letters, takes
//   roll[high nibble + 8]); packing with i16 shifts, one i32x4.dot_i16x8_s and a shuffle.
//   Four vectors (64 → 48 bytes) a turn; any invalid character sends the turn to the scalar
//   loop, which finds it exactly.

// Sextet → character, 64 bytes per alphabet:
//   ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/   (base64)
//   ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_   (base64url)
const ENCODE_STD: usize = memory.data<u8>([
  65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80,
  81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 97, 98, 99, 100, 101, 102,
  103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
  119, 120, 121, 122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 43, 47,
]);
const ENCODE_URL: usize = memory.data<u8>([
  65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80,
  81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 97, 98, 99, 100, 101, 102,
  103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
  119, 120, 121, 122, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 45, 95,
]);

// Character (0–127) → sextet, or 255 when not in the alphabet; bytes >= 128 are rejected
// before the lookup. Rows of 16: 0x00, 0x10, …, 0x70.
const DECODE_STD: usize = memory.data<u8>([
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 62, 255, 255, 255, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 255, 255, 255, 255, 255, 255,
  255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 255, 255, 255, 255, 255,
  255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 255, 255, 255, 255, 255,
]);
const DECODE_URL: usize = memory.data<u8>([
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 62, 255, 255,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 255, 255, 255, 255, 255, 255,
  255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 255, 255, 255, 255, 63,
  255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 255, 255, 255, 255, 255,
]);

/**
 * Encodes the whole 3-byte groups of `[src, src + len)` (`len / 3` groups; the last `len % 3`
 * bytes are left to the caller) into `4 * (len / 3)` characters at `dst`.
 * Returns the number of characters written. `dst` must not overlap the source.
 */
export function base64Encode(src: usize, len: usize, dst: usize, url: u32): usize {
  const end = src + len / 3 * 3;
  const table = url ? ENCODE_URL : ENCODE_STD;
  let p = src;
  let q = dst;
  if (ASC_FEATURE_SIMD) {
    // Offset added to a sextet, indexed by sub_sat_u(sextet, 51) with sextets below 26 forced
    // to 13: [0] 26–51 → 'a'-26, [1..10] 52–61 → '0'-52, [11] 62, [12] 63, [13] 0–25 → 'A'.
    const offsets = url
      ? i8x16(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -17, 32, 65, 0, 0)
      : i8x16(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
    // Each load reads 16 bytes to use 12, so a turn needs 4 bytes past its last group.
    while (p + 52 <= end) {
      v128.store(q, encodeVector(v128.load(p), offsets));
      v128.store(q, encodeVector(v128.load(p, 12), offsets), 16);
      v128.store(q, encodeVector(v128.load(p, 24), offsets), 32);
      v128.store(q, encodeVector(v128.load(p, 36), offsets), 48);
      p += 48;
      q += 64;
    }
    while (p + 16 <= end) {
      v128.store(q, encodeVector(v128.load(p), offsets));
      p += 12;
      q += 16;
    }
  }
  while (p < end) {
    const b0 = <u32>load<u8>(p);
    const b1 = <u32>load<u8>(p, 1);
    const b2 = <u32>load<u8>(p, 2);
    store<u32>(
      q,
      <u32>load<u8>(table + (b0 >> 2)) |
        (<u32>load<u8>(table + (((b0 & 3) << 4) | (b1 >> 4))) << 8) |
        (<u32>load<u8>(table + (((b1 & 15) << 2) | (b2 >> 6))) << 16) |
        (<u32>load<u8>(table + (b2 & 63)) << 24),
    );
    p += 3;
    q += 4;
  }
  return q - dst;
}

// @ts-ignore: decorator
@inline function encodeVector(input: v128, offsets: v128): v128 {
  // u32 lane k = [b1 b0 b2 b1] of group k: low u16 = b0 << 8 | b1, high u16 = b1 << 8 | b2.
  const s = i8x16.shuffle(input, input, 1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  // Sextets 0 and 2 shift right (by 10 and 6), sextets 1 and 3 left (by 4 and 8: a multiply).
  const right = v128.or(
    i32x4.shr_u(v128.and(s, i32x4.splat(0x0000fc00)), 10),
    i32x4.shr_u(v128.and(s, i32x4.splat(0x0fc00000)), 6),
  );
  const left = i16x8.mul(v128.and(s, i32x4.splat(0x003f03f0)), i32x4.splat(0x01000010));
  const sextets = v128.or(right, left);
  const index = v128.or(
    i8x16.sub_sat_u(sextets, i8x16.splat(51)),
    v128.and(i8x16.lt_u(sextets, i8x16.splat(26)), i8x16.splat(13)),
  );
  return i8x16.add(sextets, i8x16.swizzle(offsets, index));
}

/**
 * Decodes the whole 4-character groups of `[src, src + len)` (`len / 4` groups; the last
 * `len % 4` characters are left to the caller) into `3 * (len / 4)` bytes at `dst`, stopping
 * at the first character not in the alphabet ('=', whitespace and anything else).
 *
 * Returns the number of bytes written when every group was decoded, or `-1 - k` when the
 * character at offset `k` is not in the alphabet: then the `k / 4` groups before the one
 * holding it are decoded (`3 * (k / 4)` bytes) and the characters from `4 * (k / 4)` to `k`
 * are valid. Bytes of `dst` past those written may be overwritten (within its
 * `3 * (len / 4)` bytes). `dst` must not overlap the source.
 */
export function base64Decode(src: usize, len: usize, dst: usize, url: u32): isize {
  const end = src + (len & ~(<usize>3));
  const table = url ? DECODE_URL : DECODE_STD;
  let p = src;
  let q = dst;
  if (ASC_FEATURE_SIMD) {
    // Validity: bit classes of high nibbles (lutHi) and, per low nibble, the classes in which
    // it is NOT valid (lutLo); generated and checked against all 256 bytes by a script. E.g.
    // for "base64" high nibble 2 is class 0x02, and only low nibbles 0xb ('+') and 0xf ('/')
    // lack bit 0x02 in lutLo.
    const lutLo = url
      ? i8x16(0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x37, 0x37, 0x35, 0x37, 0x27)
      : i8x16(0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17, 0x15);
    const lutHi = url
      ? i8x16(0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x20, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01)
      : i8x16(0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01);
    // Sextet = char + roll[high nibble] ('+' or '-' +19 or +17, digits +4, A–Z -65, a–z -71);
    // the last character ('/' or '_') takes roll[high nibble + 8] (index 10 or 13).
    const roll = url
      ? i8x16(0, 0, 17, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, -32, 0, 0)
      : i8x16(0, 0, 19, 4, -65, -65, -71, -71, 0, 0, 16, 0, 0, 0, 0, 0);
    const last = i8x16.splat(url ? 0x5f : 0x2f);
    // A vector stores 16 bytes to keep 12: a turn needs 4 bytes of room past its output,
    // which 8 more characters of input guarantee.
    while (p + 72 <= end) {
      const c0 = v128.load(p);
      const c1 = v128.load(p, 16);
      const c2 = v128.load(p, 32);
      const c3 = v128.load(p, 48);
      const bad = v128.or(
        v128.or(invalid(c0, lutLo, lutHi), invalid(c1, lutLo, lutHi)),
        v128.or(invalid(c2, lutLo, lutHi), invalid(c3, lutLo, lutHi)),
      );
      if (v128.any_true(bad)) break;
      v128.store(q, decodeVector(c0, roll, last));
      v128.store(q, decodeVector(c1, roll, last), 12);
      v128.store(q, decodeVector(c2, roll, last), 24);
      v128.store(q, decodeVector(c3, roll, last), 36);
      p += 64;
      q += 48;
    }
    while (p + 24 <= end) {
      const c = v128.load(p);
      if (v128.any_true(invalid(c, lutLo, lutHi))) break;
      v128.store(q, decodeVector(c, roll, last));
      p += 16;
      q += 12;
    }
  }
  while (p < end) {
    const w = load<u32>(p);
    if (w & 0x80808080) return -1 - <isize>(p - src + firstInvalid(w, table));
    const a = <u32>load<u8>(table + (w & 0xff));
    const b = <u32>load<u8>(table + ((w >> 8) & 0xff));
    const c = <u32>load<u8>(table + ((w >> 16) & 0xff));
    const d = <u32>load<u8>(table + (w >> 24));
    if ((a | b | c | d) & 0x80) return -1 - <isize>(p - src + firstInvalid(w, table));
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    store<u8>(q, <u8>(v >> 16));
    store<u8>(q, <u8>(v >> 8), 1);
    store<u8>(q, <u8>v, 2);
    p += 4;
    q += 3;
  }
  return <isize>(q - dst);
}

/** Offset (0–3) of the first byte of the group `w` that is not in the alphabet. */
function firstInvalid(w: u32, table: usize): usize {
  for (let i: usize = 0; i < 3; i++) {
    const c = (w >> (<u32>i << 3)) & 0xff;
    if (c >= 0x80 || load<u8>(table + c) == 255) return i;
  }
  return 3;
}

// @ts-ignore: decorator
@inline function invalid(c: v128, lutLo: v128, lutHi: v128): v128 {
  return v128.and(
    i8x16.swizzle(lutLo, v128.and(c, i8x16.splat(0x0f))),
    i8x16.swizzle(lutHi, i8x16.shr_u(c, 4)),
  );
}

// @ts-ignore: decorator
@inline function decodeVector(c: v128, roll: v128, last: v128): v128 {
  const index = i8x16.add(i8x16.shr_u(c, 4), v128.and(i8x16.eq(c, last), i8x16.splat(8)));
  const v = i8x16.add(c, i8x16.swizzle(roll, index));
  // u16 lane = a | b << 8 → a << 6 | b; then u32 lane = ab << 12 | cd.
  const ab = v128.or(i16x8.shr_u(v, 8), i16x8.shr_u(i16x8.shl(v, 8), 2));
  const abcd = i32x4.dot_i16x8_s(ab, i32x4.splat(0x00011000));
  // Each u32 holds 3 bytes, most significant first in the output.
  return i8x16.shuffle(abcd, abcd, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, 3, 7, 11, 15);
}
