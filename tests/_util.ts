// Shared helpers for tests: a seeded PRNG (so every random test is reproducible) and small
// byte utilities. Not a test file (no _test suffix).

/** A small, fast, seeded PRNG (mulberry32). */
export class Random {
  #state: number;
  /** The seed this generator started from (print it on failure). */
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `length` random bytes drawn from `alphabet` (all 256 values by default). */
  bytes(length: number, alphabet?: Uint8Array): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = alphabet === undefined ? this.int(0, 255) : alphabet[this.int(0, alphabet.length - 1)] as number;
    }
    return out;
  }
}

/** The seed for a random test: `SEED` from the environment, else a fresh one. */
export function testSeed(): number {
  const fromEnv = typeof process !== "undefined" ? process.env.SEED : undefined;
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 32);
}

/** Runs `body`, adding the seed to any failure so the case can be replayed with SEED=…. */
export async function withSeed(seed: number, body: (random: Random) => void | Promise<void>): Promise<void> {
  try {
    await body(new Random(seed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`failed with SEED=${seed} (rerun with SEED=${seed}): ${message}`, { cause: error });
  }
}

/** Concatenates arrays. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reference search: first index of `needle` in `haystack` at or after `from`, or -1. */
export function referenceIndexOf(haystack: Uint8Array, needle: Uint8Array | number, from = 0): number {
  const n = typeof needle === "number" ? new Uint8Array([needle]) : needle;
  if (n.length === 0) return from;
  outer: for (let i = from; i + n.length <= haystack.length; i++) {
    for (let k = 0; k < n.length; k++) if (haystack[i + k] !== n[k]) continue outer;
    return i;
  }
  return -1;
}

/** `data` cut into consecutive chunks of `sizes` (which must add up to its length). */
export function cut(data: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  if (at !== data.length) {
    throw new RangeError(`Cannot cut the data as the sizes add up to ${at}: received ${data.length} bytes`);
  }
  return chunks;
}
