import type { Point } from './chart-spec.ts';

/** Most points a CDF or timeline series keeps: more adds nothing visible at 1600 px. */
export const MAX_SERIES_POINTS = 2000;

/**
 * Empirical CDF steps (value, fraction of samples ≤ value) of unsorted samples, starting at
 * fraction 0. Past `maxPoints` it keeps evenly spaced quantiles plus the exact minimum and
 * maximum, so the tail that matters in a stall chart is never cut off.
 */
export function cdfFromSamples(samples: ArrayLike<number>, maxPoints = MAX_SERIES_POINTS): Point[] {
  const n = samples.length;
  if (n === 0) return [];
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort();
  const points: Point[] = [{ x: sorted[0] as number, y: 0 }];
  // Steps happen where the value changes: collapse equal values into one step.
  const steps: Point[] = [];
  for (let i = 0; i < n; i++) {
    const value = sorted[i] as number;
    if (i + 1 < n && sorted[i + 1] === value) continue;
    steps.push({ x: value, y: (i + 1) / n });
  }
  points.push(...thinSteps(steps, maxPoints - 1));
  return points;
}

/**
 * CDF steps from histogram buckets (upper bound of each bucket, count in it): the fraction at
 * each bucket's upper bound. Empty buckets add no step.
 */
export function cdfFromHistogram(
  buckets: ReadonlyArray<{ upperBound: number; count: number }>,
  maxPoints = MAX_SERIES_POINTS,
): Point[] {
  const total = buckets.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return [];
  const sorted = [...buckets]
    .filter((b) => b.count > 0)
    .sort((a, b) => a.upperBound - b.upperBound);
  const steps: Point[] = [];
  let seen = 0;
  for (const bucket of sorted) {
    seen += bucket.count;
    steps.push({ x: bucket.upperBound, y: seen / total });
  }
  const first = steps[0] as Point;
  return [{ x: first.x, y: 0 }, ...thinSteps(steps, maxPoints - 1)];
}

/**
 * Keeps at most `maxPoints` steps: half of them evenly spaced in fraction (the body), half evenly
 * spaced in nines, -log10(1 - fraction) (the tail a nines-scale CDF shows), and always the last
 * step (the maximum).
 */
function thinSteps(steps: Point[], maxPoints: number): Point[] {
  if (steps.length <= maxPoints) return steps;
  const nines = (y: number) => (y >= 1 ? Number.POSITIVE_INFINITY : -Math.log10(1 - y));
  const finite = steps.filter((p) => p.y < 1);
  const topNines = finite.length === 0 ? 1 : nines((finite[finite.length - 1] as Point).y);
  const budget = Math.max(1, Math.floor((maxPoints - 3) / 2));
  const fractionStride = 1 / budget;
  const ninesStride = topNines / budget;
  const kept: Point[] = [];
  let lastY = Number.NEGATIVE_INFINITY;
  let lastNines = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as Point;
    const isLast = i === steps.length - 1;
    const n = nines(step.y);
    if (isLast || step.y >= lastY + fractionStride || n >= lastNines + ninesStride) {
      kept.push(step);
      lastY = step.y;
      lastNines = n;
    }
  }
  return kept;
}

/**
 * Shrinks a per-request series to about `maxPoints` by keeping, per bucket of consecutive
 * points, the minimum and the maximum in their original order: a single-request stall survives
 * any amount of downsampling, which an average or a stride would hide.
 */
export function downsampleMinMax(points: readonly Point[], maxPoints = MAX_SERIES_POINTS): Point[] {
  if (points.length <= maxPoints) return [...points];
  const bucketCount = Math.max(1, Math.floor(maxPoints / 2));
  const bucketSize = Math.ceil(points.length / bucketCount);
  const out: Point[] = [];
  for (let start = 0; start < points.length; start += bucketSize) {
    const end = Math.min(points.length, start + bucketSize);
    let lowIndex = start;
    let highIndex = start;
    for (let i = start + 1; i < end; i++) {
      const y = (points[i] as Point).y;
      if (y < (points[lowIndex] as Point).y) lowIndex = i;
      if (y > (points[highIndex] as Point).y) highIndex = i;
    }
    const first = Math.min(lowIndex, highIndex);
    const second = Math.max(lowIndex, highIndex);
    out.push(points[first] as Point);
    if (second !== first) out.push(points[second] as Point);
  }
  return out;
}
