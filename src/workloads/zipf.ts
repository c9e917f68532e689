import type { Rng } from '../util/rng.ts';

/**
 * Draws ranks 1..n with P(k) ∝ k^−θ, in O(1) per draw and O(1) memory, by rejection-inversion
 * (Hörmann and Derflinger, "Rejection-inversion to generate variates from monotone discrete
 * distributions", 1996). fio's `random_distribution=zipf:θ` has the same shape; fio precomputes
 * instead, which a working set of 2^40 blocks could not afford.
 */
export class ZipfSampler {
  readonly n: number;
  readonly theta: number;
  readonly #hIntegralX1: number;
  readonly #hIntegralN: number;
  readonly #s: number;

  constructor(n: number, theta: number) {
    if (!(n >= 1)) throw new Error(`zipf needs at least one element, got ${n}`);
    if (!(theta > 0)) throw new Error(`zipf exponent must be positive, got ${theta}`);
    this.n = n;
    this.theta = theta;
    this.#hIntegralX1 = this.#hIntegral(1.5) - 1;
    this.#hIntegralN = this.#hIntegral(n + 0.5);
    this.#s = 2 - this.#hIntegralInverse(this.#hIntegral(2.5) - this.#h(2));
  }

  /** One rank in [1, n]; rank 1 is the hottest. */
  sample(rng: Rng): number {
    for (;;) {
      const u = this.#hIntegralN + rng.nextFloat() * (this.#hIntegralX1 - this.#hIntegralN);
      const x = this.#hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.#s || u >= this.#hIntegral(k + 0.5) - this.#h(k)) return k;
    }
  }

  /** H(x) = ∫ h, with h(x) = x^−θ; written through helpers that stay exact near θ = 1. */
  #hIntegral(x: number): number {
    const logX = Math.log(x);
    return expm1OverX((1 - this.theta) * logX) * logX;
  }

  #h(x: number): number {
    return Math.exp(-this.theta * Math.log(x));
  }

  #hIntegralInverse(x: number): number {
    let t = x * (1 - this.theta);
    if (t < -1) t = -1;
    return Math.exp(log1pOverX(t) * x);
  }
}

function log1pOverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function expm1OverX(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}
