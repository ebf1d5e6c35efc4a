/** Small, exact statistics for the benchmark: no histograms, no bucketing. */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * The p-th percentile (0..100) with linear interpolation between closest ranks (the
 * "R-7"/Excel method). NaN for an empty list.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

export interface Line {
  /** Change of y per unit of x. */
  slope: number;
  intercept: number;
}

/** Ordinary least squares fit of y = slope * x + intercept; NaN slope for fewer than two points. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): Line {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] ?? 0;
    sy += ys[i] ?? 0;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    sxy += dx * ((ys[i] ?? 0) - my);
    sxx += dx * dx;
  }
  const slope = sxx === 0 ? Number.NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** A growable list of float samples (latencies in ms), cheap to append at tens of thousands per second. */
export class Samples {
  #data = new Float64Array(4096);
  #length = 0;

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#length++] = value;
  }

  get length(): number {
    return this.#length;
  }

  /** A sorted copy. */
  sorted(): Float64Array {
    return this.#data.slice(0, this.#length).sort();
  }
}
