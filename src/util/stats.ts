/**
 * Quantile of an ascending-sorted array with linear interpolation between closest ranks
 * (R-7, numpy's default, and what tinybench's quantileSorted uses), so the lab's percentiles are
 * comparable with tinybench's.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  if (lower === upper) return low;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return values.length === 0 ? Number.NaN : sum / values.length;
}

/** Sample standard deviation (n − 1). */
export function stddev(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += ((values[i] as number) - m) ** 2;
  return Math.sqrt(sum / (n - 1));
}
