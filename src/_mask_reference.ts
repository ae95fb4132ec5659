/**
 * WebSocket masking (RFC 6455 §5.3) in TypeScript: the plain byte loop the kernel is tested
 * against, the loop over four key bytes the library runs on short payloads, and the word loop
 * it runs on longer ones where the kernel cannot (no WebAssembly on the host, or bytes outside
 * pool memory).
 *
 * `key` holds the 4 key bytes little-endian (key byte 0 in bits 0–7); `phase` (0–3) is the key
 * byte that applies to the first byte of the range.
 *
 * @module
 */

/** XORs `bytes[from, to)` with the key, one byte at a time (the definition). */
export function maskReference(bytes: Uint8Array, from: number, to: number, key: number, phase: number): void {
  for (let i = from; i < to; i++) {
    bytes[i] = (bytes[i] as number) ^ ((key >>> (((phase + i - from) & 3) << 3)) & 0xff);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
// Below this many bytes the byte loop is as fast as making a word view.
const WORD_LOOP_BYTES = 64;

/**
 * XORs `bytes[from, to)` with the key: bytes up to a 4-byte address, then 32-bit words through
 * an `Int32Array` view, then the tail.
 */
export function maskWords(bytes: Uint8Array, from: number, to: number, key: number, phase: number): void {
  if (to - from < WORD_LOOP_BYTES || !LITTLE_ENDIAN) {
    maskShort(bytes, from, to, key, phase);
    return;
  }
  const head = (4 - ((bytes.byteOffset + from) & 3)) & 3;
  maskShort(bytes, from, from + head, key, phase);
  const start = from + head;
  const shift = ((phase + head) & 3) << 3;
  const k = shift === 0 ? key | 0 : (key >>> shift) | (key << (32 - shift));
  const words = (to - start) >>> 2;
  const view = new Int32Array(bytes.buffer, bytes.byteOffset + start, words);
  for (let i = 0; i < words; i++) view[i] = (view[i] as number) ^ k;
  const tail = start + words * 4;
  maskShort(bytes, tail, to, key, (phase + tail - from) & 3);
}

/**
 * XORs `bytes[from, to)` with the key four bytes a step (the key bytes in locals): for short
 * payloads, where a call into WebAssembly costs more than the loop.
 */
export function maskShort(bytes: Uint8Array, from: number, to: number, key: number, phase: number): void {
  const shift = (phase & 3) << 3;
  const k = shift === 0 ? key : (key >>> shift) | (key << (32 - shift));
  const k0 = k & 0xff;
  const k1 = (k >>> 8) & 0xff;
  const k2 = (k >>> 16) & 0xff;
  const k3 = k >>> 24;
  // Positions as int32 (lossless: they index one typed array), so the loop is int32 arithmetic
  // on JavaScriptCore even when a caller's position was held as a double.
  let i = from | 0;
  const last = to | 0;
  for (const end = last - 3; i < end; i += 4) {
    bytes[i] = (bytes[i] as number) ^ k0;
    bytes[i + 1] = (bytes[i + 1] as number) ^ k1;
    bytes[i + 2] = (bytes[i + 2] as number) ^ k2;
    bytes[i + 3] = (bytes[i + 3] as number) ^ k3;
  }
  if (i < last) bytes[i] = (bytes[i] as number) ^ k0;
  if (i + 1 < last) bytes[i + 1] = (bytes[i + 1] as number) ^ k1;
  if (i + 2 < last) bytes[i + 2] = (bytes[i + 2] as number) ^ k2;
}
