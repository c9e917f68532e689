/**
 * Seeded PRNG: xoshiro128** seeded through splitmix32, so any 32-bit seed gives a well-mixed
 * state. Every random choice in the lab goes through one of these; nothing reads Math.random.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 bits of randomness. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, bound) for any safe-integer bound (works past 2^32, e.g. 1 PiB offsets). */
  nextInt(bound: number): number {
    if (bound <= 0) return 0;
    if (bound <= 0x100000000) {
      // Rejection sampling keeps small bounds exactly uniform.
      const limit = 0x100000000 - (0x100000000 % bound);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % bound;
      }
    }
    return Math.floor(this.nextFloat() * bound);
  }

  /** A new independent generator derived from this one (for per-case or per-crash-point streams). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
