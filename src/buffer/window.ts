/**
 * Stratified window starts over the concatenation of sampled episodes (spec §10, "Truncation to
 * max_traj_len").
 */

/** The random source sampling needs. `Rng` from `src/envs/rng.ts` satisfies it. */
export interface RandomSource {
  /** Uniform integer in [0, n) for integer n ≥ 1. */
  int(n: number): number;
}

/**
 * `round(num / den)` with ties to even, computed exactly on integers. The spec's "rounded
 * linspace" is read as NumPy's `round`, which rounds halves to even.
 */
export function roundHalfEvenDiv(num: number, den: number): number {
  const q = Math.floor(num / den);
  const r = num - q * den;
  if (2 * r > den) return q + 1;
  if (2 * r < den) return q;
  return q % 2 === 0 ? q : q + 1;
}

/**
 * Bin edges for `n` stratified starts in `[0, S − W + 1)`: `edges[i] = round(i·M/n)` with
 * `M = S − W + 1`, i = 0..n (so `edges[0] = 0`, `edges[n] = M`).
 */
export function windowBinEdges(totalRows: number, windowLen: number, n: number): Int32Array {
  const M = totalRows - windowLen + 1;
  if (M < 1) {
    throw new RangeError(`windowBinEdges: ${totalRows} rows cannot hold a ${windowLen}-row window`);
  }
  const edges = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) edges[i] = roundHalfEvenDiv(i * M, n);
  return edges;
}

/**
 * One start per bin, uniform in `[edges[i], edges[i+1])` (spec §10: "draw one start uniformly
 * inside each bin"). Draws `n` numbers from `rng`, bin 0 first. A bin that rounds to zero width
 * (impossible when every episode has ≥ 2 rows, since then `M ≥ 2n`) uses its left edge,
 * clamped to the last valid start, without drawing.
 */
export function stratifiedWindowStarts(
  totalRows: number,
  windowLen: number,
  n: number,
  rng: RandomSource,
): Int32Array {
  const edges = windowBinEdges(totalRows, windowLen, n);
  const M = totalRows - windowLen + 1;
  const starts = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = edges[i]!;
    const width = edges[i + 1]! - lo;
    starts[i] = width >= 1 ? lo + rng.int(width) : Math.min(lo, M - 1);
  }
  return starts;
}
