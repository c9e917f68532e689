import { quantileSorted } from '../util/stats.ts';
import { LatencyHistogram } from './histogram.ts';
import { LatencyTimeline } from './timeline.ts';

/** Summary of one latency series, ns. */
export interface LatencySummary {
  count: number;
  meanNs: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  /** False when the run outgrew the sample buffer and percentiles come from the histogram. */
  exact: boolean;
}

/** Samples kept for exact percentiles: 4 Mi requests = 32 MiB; beyond, the histogram answers. */
export const DEFAULT_SAMPLE_CAP = 4 * 1024 * 1024;

/**
 * Collects per-request simulated latencies: exact samples (up to a cap) for percentiles computed
 * the same way as tinybench's, the log-bucketed histogram, and the downsampled timeline.
 */
export class LatencyRecorder {
  readonly histogram = new LatencyHistogram();
  readonly timeline: LatencyTimeline;
  readonly #cap: number;
  #samples = new Float64Array(1024);
  #count = 0;
  #sum = 0;
  #max = 0;

  constructor(options: { sampleCap?: number; timelineBuckets?: number } = {}) {
    this.#cap = options.sampleCap ?? DEFAULT_SAMPLE_CAP;
    this.timeline = new LatencyTimeline(options.timelineBuckets ?? 512);
  }

  record(latencyNs: number, endNs: number): void {
    if (this.#count < this.#cap) {
      if (this.#count === this.#samples.length) {
        const grown = new Float64Array(Math.min(this.#cap, this.#samples.length * 2));
        grown.set(this.#samples);
        this.#samples = grown;
      }
      this.#samples[this.#count] = latencyNs;
    }
    this.#count++;
    this.#sum += latencyNs;
    if (latencyNs > this.#max) this.#max = latencyNs;
    this.histogram.record(latencyNs);
    this.timeline.record(latencyNs, endNs);
  }

  get count(): number {
    return this.#count;
  }

  summary(): LatencySummary {
    const n = this.#count;
    if (n === 0)
      return { count: 0, meanNs: 0, p50Ns: 0, p99Ns: 0, p999Ns: 0, maxNs: 0, exact: true };
    const exact = n <= this.#cap;
    let q: (p: number) => number;
    if (exact) {
      const sorted = this.#samples.slice(0, n).sort();
      q = (p) => quantileSorted(sorted, p);
    } else {
      q = (p) => this.histogram.quantileNs(p);
    }
    return {
      count: n,
      meanNs: this.#sum / n,
      p50Ns: q(0.5),
      p99Ns: q(0.99),
      p999Ns: q(0.999),
      maxNs: this.#max,
      exact,
    };
  }
}
