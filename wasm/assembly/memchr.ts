// memchr kernel: the first position of one byte value in a range of pool memory.
//
// Kernel shape (house style): (srcPtr, len, …) → result, allocation-free and reentrant; no
// module-level mutable state, so one instance can serve every call on its slab's memory.
// The same source builds twice: with `--enable simd` (ASC_FEATURE_SIMD is true) and without
// (the scalar build, for hosts whose WebAssembly.validate rejects SIMD). Both builds must give
// the same answers; tests/wasm_test.ts checks them against each other and a JS reference.

// A u64 word whose bytes are all 0x01 / all 0x80, for the SWAR "has zero byte" test.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/**
 * Returns the offset of the first byte equal to `value` in `[ptr, ptr + len)`, or -1.
 * Only the low 8 bits of `value` are used.
 */
export function memchr(ptr: usize, len: usize, value: u32): isize {
  const end = ptr + len;
  let p = ptr;
  if (ASC_FEATURE_SIMD) {
    const needle = i8x16.splat(<i8>value);
    // 64 bytes a turn: one any_true for four compares keeps the loop branch-light.
    while (p + 64 <= end) {
      const e0 = i8x16.eq(v128.load(p), needle);
      const e1 = i8x16.eq(v128.load(p, 16), needle);
      const e2 = i8x16.eq(v128.load(p, 32), needle);
      const e3 = i8x16.eq(v128.load(p, 48), needle);
      if (v128.any_true(v128.or(v128.or(e0, e1), v128.or(e2, e3)))) {
        let m = i8x16.bitmask(e0);
        if (m) return <isize>(p - ptr) + ctz(m);
        m = i8x16.bitmask(e1);
        if (m) return <isize>(p - ptr) + 16 + ctz(m);
        m = i8x16.bitmask(e2);
        if (m) return <isize>(p - ptr) + 32 + ctz(m);
        m = i8x16.bitmask(e3);
        return <isize>(p - ptr) + 48 + ctz(m);
      }
      p += 64;
    }
    while (p + 16 <= end) {
      const m = i8x16.bitmask(i8x16.eq(v128.load(p), needle));
      if (m) return <isize>(p - ptr) + ctz(m);
      p += 16;
    }
  } else {
    // SWAR: x ^ pattern has a zero byte exactly where the value is; the classic
    // (v - 0x01…) & ~v & 0x80… test flags it, and ctz finds the lowest (little-endian) one.
    const pattern = ONES * <u64>(value & 0xff);
    while (p + 8 <= end) {
      const x = load<u64>(p) ^ pattern;
      const hit = (x - ONES) & ~x & HIGHS;
      if (hit) return <isize>(p - ptr) + <isize>(ctz(hit) >> 3);
      p += 8;
    }
  }
  const b = <u8>value;
  while (p < end) {
    if (load<u8>(p) == b) return <isize>(p - ptr);
    p++;
  }
  return -1;
}
