// UTF-8 validation kernel: where the first invalid sequence starts, or how many trailing bytes
// are an incomplete (so far valid) sequence a streaming decoder must carry.
//
// Kernel shape (house style): (ptr, len) → result, allocation-free and reentrant, no static
// data (the lookup tables are v128 constants in the code) and no module-level mutable state.
//
// Result encoding (one i32, so no BigInt crosses into JS; callers keep len below 2^31):
//
//   r >= 0   [ptr, ptr + r) is complete valid UTF-8 and [ptr + r, ptr + len) (0–3 bytes) is
//            the start of a sequence that is valid so far but needs more bytes
//   r < 0    the first invalid sequence starts at ptr + ~r (its "maximal subpart", as the
//            WHATWG decoder replaces it, begins there)
//
// The SIMD build (ASC_FEATURE_SIMD) takes 64 bytes a step: all ASCII is skipped with one test,
// anything else is validated with the Keiser–Lemire lookup algorithm (simdutf's "lookup 4";
// perf-anchors.md note 7), four 16-byte blocks and one error test a step. The lookup only says *that* a block holds an error, so on the first flagged block,
// and for the last < 16 bytes, it backs up to the start of the sequence that straddles the
// block start and finishes with the scalar validator, which finds the exact position. Every
// sequence that ends before a block is fully checked by earlier blocks, so no error can lie
// before that restart point. The scalar build runs the scalar validator from the start; both
// builds give identical results (tests/utf8_test.ts).

// Error bits of the lookup algorithm (simdutf src/generic/utf8_validation/utf8_lookup4_algorithm.h).
const TOO_SHORT: i8 = 1 << 0; // lead byte not followed by enough continuation bytes
const TOO_LONG: i8 = 1 << 1; // ASCII followed by a continuation byte
const OVERLONG_3: i8 = 1 << 2; // E0 80..9F
const TOO_LARGE: i8 = 1 << 3; // F4 90..BF, F5..FF
const SURROGATE: i8 = 1 << 4; // ED A0..BF
const OVERLONG_2: i8 = 1 << 5; // C0, C1
const TOO_LARGE_1000: i8 = 1 << 6; // F5..FF 80..8F
const OVERLONG_4: i8 = 1 << 6; // F0 80..8F
const TWO_CONTS: i8 = <i8>(1 << 7); // two continuation bytes in a row (fine only as byte 3 or 4)
const CARRY: i8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

// A u64 with the high bit of every byte set (scalar ASCII skip).
const HIGHS: u64 = 0x8080808080808080;

/**
 * Validates `[ptr, ptr + len)` as UTF-8 (see the result encoding above). `len` must be below
 * 2^31.
 */
export function utf8Validate(ptr: usize, len: usize): i32 {
  const end = ptr + len;
  let p = ptr;
  if (ASC_FEATURE_SIMD) {
    p = lookupSkip(ptr, end);
    p = sequenceStart(ptr, p);
  }
  return scalarFrom(ptr, p, end);
}

/**
 * The SIMD part: returns the start of the first 64- or 16-byte step the lookup algorithm
 * flags (or of the tail shorter than 16 bytes). Everything before it, except a sequence that straddles
 * it, is valid.
 */
// @ts-ignore: decorator
@inline
function lookupSkip(ptr: usize, end: usize): usize {
  // byte_1_high: indexed by the high nibble of the previous byte.
  const byte1High = i8x16(
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, // 0_______
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS, // 10______
    TOO_SHORT | OVERLONG_2, // 1100____
    TOO_SHORT, // 1101____
    TOO_SHORT | OVERLONG_3 | SURROGATE, // 1110____
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4, // 1111____
  );
  // byte_1_low: indexed by the low nibble of the previous byte.
  const byte1Low = i8x16(
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, // ____0000
    CARRY | OVERLONG_2, // ____0001
    CARRY, // ____0010
    CARRY, // ____0011
    CARRY | TOO_LARGE, // ____0100
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____0101
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____0110
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____0111
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1000
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1001
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1010
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1011
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1100
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, // ____1101
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1110
    CARRY | TOO_LARGE | TOO_LARGE_1000, // ____1111
  );
  // byte_2_high: indexed by the high nibble of the current byte.
  const byte2High = i8x16(
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, // 0_______
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4, // 1000____
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE, // 1001____
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE, // 1010____
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE, // 1011____
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, // 11______
  );
  // A block whose last 3 bytes start a sequence that needs bytes from the next block is
  // "incomplete": the next block must not take the ASCII shortcut.
  const incompleteMax = i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, <i8>0xef, <i8>0xdf, <i8>0xbf);
  const highBits = i8x16.splat(<i8>0x80);

  let prev = i8x16.splat(0);
  let incomplete = i8x16.splat(0);
  let p = ptr;
  // 64 bytes a step: one ASCII test for four vectors, and the errors of four vectors OR-ed
  // into one test, keep the loop branch-light; the 16-byte loop takes the rest.
  while (p + 64 <= end) {
    const a = v128.load(p);
    const b = v128.load(p, 16);
    const c = v128.load(p, 32);
    const d = v128.load(p, 48);
    if (!v128.any_true(v128.and(v128.or(v128.or(a, b), v128.or(c, d)), highBits))) {
      // ASCII: fine unless the previous block left a sequence open. Any ASCII byte works as
      // the previous block: the tables treat all of 0x00–0x7F alike.
      if (v128.any_true(incomplete)) return p;
      prev = i8x16.splat(0);
      p += 64;
      continue;
    }
    const error = v128.or(
      v128.or(
        blockErrors(prev, a, byte1High, byte1Low, byte2High),
        blockErrors(a, b, byte1High, byte1Low, byte2High),
      ),
      v128.or(
        blockErrors(b, c, byte1High, byte1Low, byte2High),
        blockErrors(c, d, byte1High, byte1Low, byte2High),
      ),
    );
    if (v128.any_true(error)) return p;
    incomplete = i8x16.sub_sat_u(d, incompleteMax);
    prev = d;
    p += 64;
  }
  while (p + 16 <= end) {
    const input = v128.load(p);
    if (v128.any_true(blockErrors(prev, input, byte1High, byte1Low, byte2High))) return p;
    prev = input;
    p += 16;
  }
  return p;
}

/**
 * The lookup algorithm on one 16-byte block `input` after `prev`: non-zero lanes where a
 * sequence is invalid (a block ending inside a sequence is not flagged here: the next block,
 * or the scalar tail, sees it).
 */
// @ts-ignore: decorator
@inline
function blockErrors(prev: v128, input: v128, byte1High: v128, byte1Low: v128, byte2High: v128): v128 {
  const prev1 = i8x16.shuffle(prev, input, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30);
  const prev2 = i8x16.shuffle(prev, input, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29);
  const prev3 = i8x16.shuffle(prev, input, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28);
  const special = v128.and(
    v128.and(
      i8x16.swizzle(byte1High, i8x16.shr_u(prev1, 4)),
      i8x16.swizzle(byte1Low, v128.and(prev1, i8x16.splat(0x0f))),
    ),
    i8x16.swizzle(byte2High, i8x16.shr_u(input, 4)),
  );
  // Bytes 3 and 4 of a sequence must be continuations: bit 7 set where prev2 >= E0 or
  // prev3 >= F0, which must equal the TWO_CONTS bit of `special`.
  const must23 = v128.or(
    i8x16.sub_sat_u(prev2, i8x16.splat(<i8>(0xe0 - 0x80))),
    i8x16.sub_sat_u(prev3, i8x16.splat(<i8>(0xf0 - 0x80))),
  );
  return v128.xor(v128.and(must23, i8x16.splat(<i8>0x80)), special);
}

/**
 * The start of the sequence that straddles `p` (the lead byte at most 3 bytes back), or `p`
 * when none does. Backing up to a lead whose sequence ends before `p` is harmless: the scalar
 * validator checks it again.
 */
// @ts-ignore: decorator
@inline
function sequenceStart(ptr: usize, p: usize): usize {
  for (let i: usize = 1; i <= 3 && p - i >= ptr && p >= i; i++) {
    const b = load<u8>(p - i);
    if (b < 0x80) return p;
    if (b >= 0xc0) return p - i;
  }
  return p;
}

/** Validates `[p, end)` byte by byte (ASCII 8 at a time); results are relative to `ptr`. */
// @ts-ignore: decorator
@inline
function scalarFrom(ptr: usize, p: usize, end: usize): i32 {
  while (p < end) {
    while (p + 8 <= end && (load<u64>(p) & HIGHS) == 0) p += 8;
    if (p >= end) break;
    const b0 = <u32>load<u8>(p);
    if (b0 < 0x80) {
      p++;
      continue;
    }
    let need: usize;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b0 < 0xc2) {
      return ~<i32>(p - ptr); // a stray continuation byte, or C0/C1 (always overlong)
    } else if (b0 < 0xe0) {
      need = 1;
    } else if (b0 < 0xf0) {
      need = 2;
      if (b0 == 0xe0) lo = 0xa0; // overlong below
      else if (b0 == 0xed) hi = 0x9f; // surrogates above
    } else if (b0 < 0xf5) {
      need = 3;
      if (b0 == 0xf0) lo = 0x90; // overlong below
      else if (b0 == 0xf4) hi = 0x8f; // above U+10FFFF
    } else {
      return ~<i32>(p - ptr); // F5..FF never start a sequence
    }
    // The second byte has the lead's own range, later ones 80..BF; running out of input
    // while every byte so far fits is "incomplete", not an error.
    if (p + 1 >= end) return <i32>(p - ptr);
    const b1 = <u32>load<u8>(p + 1);
    if (b1 < lo || b1 > hi) return ~<i32>(p - ptr);
    for (let k: usize = 2; k <= need; k++) {
      if (p + k >= end) return <i32>(p - ptr);
      if ((<u32>load<u8>(p + k) & 0xc0) != 0x80) return ~<i32>(p - ptr);
    }
    p += need + 1;
  }
  return <i32>(end - ptr);
}
