import type { Rng } from '../util/rng.ts';

/**
 * A seeded pseudo-random permutation of [0, n) evaluated one index at a time: a 4-round Feistel
 * network over the smallest even power of two ≥ n, with cycle walking to stay below n. Lets a
 * workload visit every stratum (or scatter every zipf rank) exactly once in random order without
 * holding a list, which a billion-request run could not afford.
 */
export class IndexPermutation {
  readonly size: number;
  readonly #halfBits: number;
  readonly #halfMask: number;
  readonly #halfSpan: number;
  readonly #keys: Uint32Array;

  constructor(size: number, rng: Rng) {
    if (!Number.isSafeInteger(size) || size < 1) throw new Error(`bad permutation size ${size}`);
    this.size = size;
    let bits = 2;
    while (2 ** bits < size) bits += 2;
    this.#halfBits = bits / 2;
    this.#halfSpan = 2 ** this.#halfBits;
    this.#halfMask = this.#halfSpan - 1;
    this.#keys = new Uint32Array([rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()]);
  }

  /** The image of `index` (0 ≤ index < size). */
  at(index: number): number {
    if (this.size === 1) return 0;
    let x = index;
    do x = this.#encrypt(x);
    while (x >= this.size);
    return x;
  }

  #encrypt(x: number): number {
    let left = Math.floor(x / this.#halfSpan);
    let right = x - left * this.#halfSpan;
    for (let round = 0; round < 4; round++) {
      const next = (left ^ this.#round(right, this.#keys[round] as number)) & this.#halfMask;
      left = right;
      right = next >>> 0;
    }
    return left * this.#halfSpan + right;
  }

  #round(value: number, key: number): number {
    // A murmur3-style finaliser of (value, key): values are < 2^27, so 32-bit math is exact.
    let h = (value ^ key) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    // Mix in the high half too when the halves are wider than 16 bits.
    return (h ^ Math.imul(value >>> 16, 0x27d4eb2d)) >>> 0;
  }
}
