/**
 * Per-request latency over the run, downsampled to at most `capacity` buckets of consecutive
 * requests. When full, neighbouring buckets merge pairwise and the bucket width doubles, so memory
 * stays fixed for any run length. Each bucket keeps its maximum (and the request that hit it): a
 * single refcount-table growth stays visible as a spike however far the timeline is compressed.
 */
export interface TimelinePoint {
  /** Index (0-based, among latency-recorded requests) of the bucket's first request. */
  firstRequest: number;
  requests: number;
  meanNs: number;
  maxNs: number;
  /** Index of the request with the maximum latency. */
  maxRequest: number;
  /** Simulated time since the start of the run when the bucket's last request completed. */
  endNs: number;
}

export class LatencyTimeline {
  readonly capacity: number;
  #width = 1;
  #count = 0;
  #sum: number[] = [];
  #max: number[] = [];
  #maxAt: number[] = [];
  #end: number[] = [];
  #n: number[] = [];

  constructor(capacity = 512) {
    if (capacity < 2 || capacity % 2 !== 0) throw new Error('timeline capacity must be even ≥ 2');
    this.capacity = capacity;
  }

  /** Adds the next request's latency; `endNs` is the simulated time at its completion. */
  record(latencyNs: number, endNs: number): void {
    let b = Math.floor(this.#count / this.#width);
    if (b >= this.capacity) {
      this.#compact();
      b = Math.floor(this.#count / this.#width);
    }
    if (b === this.#n.length) {
      this.#sum.push(0);
      this.#max.push(-1);
      this.#maxAt.push(0);
      this.#end.push(0);
      this.#n.push(0);
    }
    this.#sum[b] = (this.#sum[b] as number) + latencyNs;
    if (latencyNs > (this.#max[b] as number)) {
      this.#max[b] = latencyNs;
      this.#maxAt[b] = this.#count;
    }
    this.#end[b] = endNs;
    this.#n[b] = (this.#n[b] as number) + 1;
    this.#count++;
  }

  get requests(): number {
    return this.#count;
  }

  get bucketWidth(): number {
    return this.#width;
  }

  points(): TimelinePoint[] {
    return this.#n.map((n, b) => ({
      firstRequest: b * this.#width,
      requests: n,
      meanNs: (this.#sum[b] as number) / n,
      maxNs: this.#max[b] as number,
      maxRequest: this.#maxAt[b] as number,
      endNs: this.#end[b] as number,
    }));
  }

  #compact(): void {
    const half = this.capacity / 2;
    for (let i = 0; i < half; i++) {
      const a = 2 * i;
      const b = a + 1;
      this.#sum[i] = (this.#sum[a] as number) + (this.#sum[b] as number);
      const takeB = (this.#max[b] as number) > (this.#max[a] as number);
      this.#max[i] = takeB ? (this.#max[b] as number) : (this.#max[a] as number);
      this.#maxAt[i] = takeB ? (this.#maxAt[b] as number) : (this.#maxAt[a] as number);
      this.#end[i] = this.#end[b] as number;
      this.#n[i] = (this.#n[a] as number) + (this.#n[b] as number);
    }
    for (const a of [this.#sum, this.#max, this.#maxAt, this.#end, this.#n]) a.length = half;
    this.#width *= 2;
  }
}
