/**
 * The allocator's recency filter and age weights (spec §10, §12, §12.2; §18.2 `decay_old`).
 * Allocation training only uses episodes at most `decay_old` (150,000) env steps old, and
 * down-weights its Q loss linearly with age, because the segment rewards in older episodes were
 * earned by older low-level policies.
 */
import type { EpisodeFilter } from "./replay.js";

/**
 * Filter keeping episodes with `tEnv − tAdded ≤ decayOld` (§12). `decayOld = 0` disables the
 * filter (§18.2) and returns undefined, which `sample`/`canSample` treat as "no filter".
 */
export function recencyFilter(tEnv: number, decayOld: number): EpisodeFilter | undefined {
  if (!(decayOld >= 0))
    throw new RangeError(`recencyFilter: decayOld must be ≥ 0, got ${decayOld}`);
  if (decayOld === 0) return undefined;
  return (tAdded) => tEnv - tAdded <= decayOld;
}

/**
 * Linear age weight of §12.2 before the mask factor: `max(0, (decayOld − tEnv + tAdded) / decayOld)`;
 * 1 when `decayOld = 0` (decay disabled). The caller multiplies by the sample mask.
 */
export function ageWeight(tEnv: number, tAdded: number, decayOld: number): number {
  if (decayOld === 0) return 1;
  return Math.max(0, (decayOld - tEnv + tAdded) / decayOld);
}
