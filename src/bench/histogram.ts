/**
 * A log-bucketed latency histogram (HdrHistogram's layout, simplified): each power of two of
 * nanoseconds is split into SUB_BUCKETS equal buckets, so a bucket is at most 1/16 (6.25 %) of its
 * value wide, from 1 ns to 2^64 ns, in a fixed 1 KiB-entry array whatever the request count. Zero
 * latencies (the `none` cost model) get a bucket of their own.
 */
export const SUB_BUCKETS = 16;
const OCTAVES = 64;

export interface HistogramBucket {
  /** Inclusive lower bound, ns. */
  lowNs: number;
  /** Exclusive upper bound, ns. */
  highNs: number;
  count: number;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(1 + OCTAVES * SUB_BUCKETS);
  total = 0;

  // Simulated latencies repeat (the same cost for the same kind of request), so the last
  // value's bucket is remembered: most records skip the log2.
  #lastNs = -1;
  #lastIndex = 0;

  record(latencyNs: number): void {
    let i = this.#lastIndex;
    if (latencyNs !== this.#lastNs) {
      i = bucketIndex(latencyNs);
      this.#lastNs = latencyNs;
      this.#lastIndex = i;
    }
    this.counts[i] = (this.counts[i] as number) + 1;
    this.total++;
  }

  /** Non-empty buckets, ascending. */
  buckets(): HistogramBucket[] {
    const out: HistogramBucket[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const count = this.counts[i] as number;
      if (count > 0) out.push({ lowNs: bucketLowNs(i), highNs: bucketHighNs(i), count });
    }
    return out;
  }

  /**
   * Quantile estimated from the buckets: the midpoint of the bucket holding the rank R-7 would
   * pick (exact to within half a bucket, ≤ 3.2 %). Used only beyond the exact-sample cap.
   */
  quantileNs(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.floor((this.total - 1) * q);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen > rank) return i === 0 ? 0 : (bucketLowNs(i) + bucketHighNs(i)) / 2;
    }
    return Number.NaN;
  }
}

/** Bucket 0 holds latencies below 1 ns; then SUB_BUCKETS per octave [2^e, 2^(e+1)). */
export function bucketIndex(latencyNs: number): number {
  if (!(latencyNs >= 1)) return 0;
  // Below 2^32 ns (nearly every record): the octave from clz32 of the whole nanoseconds and the
  // sub-bucket from their next four bits, exactly what the general path below computes — except
  // for a fraction just under a power of two, where log2 may round up; those take that path.
  if (latencyNs < 4294967296) {
    const n = latencyNs >>> 0;
    if (n >= SUB_BUCKETS && (n === latencyNs || (n & (n + 1)) !== 0)) {
      const e = 31 - Math.clz32(n);
      return 1 + e * SUB_BUCKETS + ((n >>> (e - 4)) & (SUB_BUCKETS - 1));
    }
  }
  const e = Math.min(OCTAVES - 1, Math.floor(Math.log2(latencyNs)));
  const base = 2 ** e;
  // log2 can round up at exact powers of two minus epsilon; clamp the sub-bucket into range.
  const sub = Math.min(
    SUB_BUCKETS - 1,
    Math.max(0, Math.floor(((latencyNs - base) / base) * SUB_BUCKETS)),
  );
  return 1 + e * SUB_BUCKETS + sub;
}

export function bucketLowNs(index: number): number {
  if (index === 0) return 0;
  const e = Math.floor((index - 1) / SUB_BUCKETS);
  const sub = (index - 1) % SUB_BUCKETS;
  return 2 ** e * (1 + sub / SUB_BUCKETS);
}

export function bucketHighNs(index: number): number {
  if (index === 0) return 1;
  const e = Math.floor((index - 1) / SUB_BUCKETS);
  const sub = (index - 1) % SUB_BUCKETS;
  return 2 ** e * (1 + (sub + 1) / SUB_BUCKETS);
}
