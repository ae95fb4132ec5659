// WebSocket masking kernel (RFC 6455 §5.3): XOR of a range of pool memory with the repeating
// 4-byte masking key, in place. Masking and unmasking are the same operation.
//
// Kernel shape (house style): (ptr, len, …) → nothing, allocation-free and reentrant, no
// static data and no module-level mutable state.
//
//   key    the 4 key bytes as a little-endian u32: key byte 0 in bits 0–7 (what a u32 load of
//          the key where it lies in a frame header gives on WebAssembly, which is little-endian)
//   phase  which key byte applies to ptr[0] (0–3): a frame's payload split across segments is
//          masked piece by piece, each piece starting at phase (offset in payload) & 3
//
// Rotating the key right by 8 * phase gives the word whose byte i masks ptr[i]; every step
// below is a multiple of 4 bytes, so the rotated key stays in phase to the tail. The SIMD build
// takes 64 bytes a step (four 16-byte XORs) then 16 at a time; the scalar build 8 bytes (a u64
// of the key twice); both end with 4-byte steps and at most 3 single bytes, and
// both give identical bytes (tests/websocket_mask_test.ts).

export function mask(ptr: usize, len: usize, key: u32, phase: u32): void {
  const k: u32 = rotr<u32>(key, (phase & 3) << 3);
  const end = ptr + len;
  let p = ptr;
  if (ASC_FEATURE_SIMD) {
    const v = i32x4.splat(<i32>k);
    while (p + 64 <= end) {
      v128.store(p, v128.xor(v128.load(p), v));
      v128.store(p, v128.xor(v128.load(p, 16), v), 16);
      v128.store(p, v128.xor(v128.load(p, 32), v), 32);
      v128.store(p, v128.xor(v128.load(p, 48), v), 48);
      p += 64;
    }
    while (p + 16 <= end) {
      v128.store(p, v128.xor(v128.load(p), v));
      p += 16;
    }
  } else {
    const k64: u64 = (<u64>k) | ((<u64>k) << 32);
    while (p + 32 <= end) {
      store<u64>(p, load<u64>(p) ^ k64);
      store<u64>(p, load<u64>(p, 8) ^ k64, 8);
      store<u64>(p, load<u64>(p, 16) ^ k64, 16);
      store<u64>(p, load<u64>(p, 24) ^ k64, 24);
      p += 32;
    }
    while (p + 8 <= end) {
      store<u64>(p, load<u64>(p) ^ k64);
      p += 8;
    }
  }
  while (p + 4 <= end) {
    store<u32>(p, load<u32>(p) ^ k);
    p += 4;
  }
  let shift: u32 = 0;
  while (p < end) {
    store<u8>(p, load<u8>(p) ^ <u8>(k >> shift));
    shift += 8;
    p++;
  }
}
