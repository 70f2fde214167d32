/** Deterministic PRNG (mulberry32) and helpers, so that every fuzz input reproduces from (seed, index). */

export type Rand = () => number;

export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic xorshift32 (the rewrite's and the text units' tests draw from it: their samples stay as written). */
export function xorshift32(seed: number): Rand {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** The PRNG of input `index` of a run seeded with `seed`: independent of every other input. */
export function inputRand(seed: number, index: number): Rand {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

/** A text of up to `maxPieces - 1` pieces drawn from `parts` (the count drawn first, then each piece). */
export function piecesText(r: Rand, parts: readonly string[], maxPieces: number): string {
  let t = '';
  for (let n = Math.floor(r() * maxPieces); n > 0; n--) t += parts[Math.floor(r() * parts.length)];
  return t;
}

export class Pick {
  constructor(readonly r: Rand) {}
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  one<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** Index chosen with the given weights. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.r() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }
}
