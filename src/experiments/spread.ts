/**
 * Paper Fig. 6a: greedy success of each method as the enemy armies spawn closer together.
 *
 * Runs trained with maximally spread armies are evaluated with `spreadArmies=false`, where each
 * army gets a random angular multiplier and the episode reports the last army's as `spread`
 * (a terminal statistic, in [0, 1); 1 = maximally spread, as in training; environments.md §3.6
 * item 7). How the paper binned its "distance between armies" axis is unknown (§8.7), so we use
 * `SPREAD_BINS` equal-width bins over [0, 1]: bin k holds k/B ≤ spread < (k+1)/B, and the last bin
 * also holds spread = 1. Success (`battle_won`) is averaged per bin per seed, then mean ± std
 * (population) over the seeds that have episodes in that bin.
 */
import { readFileSync } from "node:fs";
import type { TopLevelSpec } from "vega-lite";
import { bandLineSpec, figurePaths, methodColour } from "../plot/compare.js";
import { svgToPng, vegaLiteToSvg } from "../plot/render.js";
import { meanStd } from "../run/metrics.js";
import { writeFileAtomic } from "../util/fs.js";

/** Number of equal-width spread bins over [0, 1]. */
export const SPREAD_BINS = 5;
/** The figure's x-axis title. */
export const SPREAD_AXIS_TITLE = "army spread (1 = maximally spread, as in training)";

/** What the binning reads of an evaluated episode (a line of `alma eval --episodes-out`). */
export interface SpreadEpisode {
  stats: Record<string, number>;
}

/** One bin of one method: success mean ± std over seeds. */
export interface SpreadBin {
  lo: number;
  hi: number;
  centre: number;
  /** Mean over seeds of the per-seed success rate in this bin (NaN when no seed has episodes). */
  mean: number;
  std: number;
  /** Seeds with at least one episode in this bin. */
  seeds: number;
  /** Episodes in this bin, all seeds together. */
  episodes: number;
}

export interface SpreadCurve {
  method: string;
  /** Seeds evaluated. */
  seeds: number;
  bins: SpreadBin[];
}

/** The bin of a spread multiplier (clamped to [0, 1]; spread = 1 falls in the last bin). */
export function spreadBin(spread: number, nBins = SPREAD_BINS): number {
  if (!Number.isFinite(spread)) throw new Error(`spread must be a number, got ${spread}`);
  const x = Math.min(1, Math.max(0, spread));
  return Math.min(nBins - 1, Math.floor(x * nBins));
}

/** One seed's episodes: per bin, the episode count and the success rate (NaN when empty). */
export function binSuccess(
  episodes: readonly SpreadEpisode[],
  nBins = SPREAD_BINS,
): { n: number; success: number }[] {
  const n = new Array<number>(nBins).fill(0);
  const won = new Array<number>(nBins).fill(0);
  for (const [i, e] of episodes.entries()) {
    const { spread, battle_won } = e.stats;
    if (typeof spread !== "number" || typeof battle_won !== "number")
      throw new Error(`episode ${i} has no numeric stats.spread / stats.battle_won`);
    const k = spreadBin(spread, nBins);
    n[k]++;
    won[k] += battle_won;
  }
  return n.map((count, k) => ({ n: count, success: count > 0 ? won[k] / count : Number.NaN }));
}

/** Per method (in the given order), its seeds' episodes → binned success mean ± std over seeds. */
export function aggregateSpread(
  methods: Iterable<[string, readonly (readonly SpreadEpisode[])[]]>,
  nBins = SPREAD_BINS,
): SpreadCurve[] {
  const curves: SpreadCurve[] = [];
  for (const [method, seeds] of methods) {
    const perSeed = seeds.map((eps) => binSuccess(eps, nBins));
    const bins: SpreadBin[] = [];
    for (let k = 0; k < nBins; k++) {
      const rates = perSeed.filter((s) => s[k].n > 0).map((s) => s[k].success);
      const { mean, std } = meanStd(rates);
      bins.push({
        lo: k / nBins,
        hi: (k + 1) / nBins,
        centre: (k + 0.5) / nBins,
        mean,
        std,
        seeds: rates.length,
        episodes: perSeed.reduce((a, s) => a + s[k].n, 0),
      });
    }
    curves.push({ method, seeds: seeds.length, bins });
  }
  return curves;
}

/** Episodes of a JSONL file written by `alma eval --episodes-out`. */
export function readEpisodes(path: string): SpreadEpisode[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as SpreadEpisode);
}

/**
 * Vega-Lite spec of the figure: per method a line through the bin centres (with point markers)
 * and a shaded ±1 std band clipped to [0, 1]; empty bins are left out. Marks are described
 * `"<method> mean"` / `"<method> ±1 std"` (aria-labels in the SVG), as in `curveSpec`.
 */
export function spreadSpec(curves: readonly SpreadCurve[], title: string): TopLevelSpec {
  const values = curves.flatMap((c) =>
    c.bins
      .filter((b) => Number.isFinite(b.mean))
      .map((b) => ({
        method: c.method,
        spread: b.centre,
        mean: b.mean,
        lo: Math.max(0, b.mean - b.std),
        hi: Math.min(1, b.mean + b.std),
        bandLabel: `${c.method} ±1 std`,
        lineLabel: `${c.method} mean`,
      })),
  );
  const names = curves.map((c) => c.method);
  const color = methodColour("method", names);
  const x = {
    field: "spread",
    type: "quantitative" as const,
    title: SPREAD_AXIS_TITLE,
    scale: { domain: [0, 1] },
  };
  return bandLineSpec({
    title,
    values,
    x,
    yTitle: "success",
    yScale: { domain: [0, 1] },
    color,
    points: true,
  });
}

/** Write `<out>.svg` and `<out>.png`; returns their paths. */
export async function writeSpreadFigure(
  curves: readonly SpreadCurve[],
  out: string,
  title: string,
): Promise<string[]> {
  const [svgPath, pngPath] = figurePaths(out);
  const svg = await vegaLiteToSvg(spreadSpec(curves, title));
  writeFileAtomic(svgPath, svg);
  writeFileAtomic(pngPath, svgToPng(svg));
  return [svgPath, pngPath];
}

/** Markdown table: one row per method, one column per spread bin, `mean ± std (episodes)`. */
export function spreadTable(curves: readonly SpreadCurve[]): string {
  const bins = curves[0]?.bins ?? [];
  // Half-open bins; the last one is closed (it holds spread = 1).
  const head = bins.map(
    (b, k) => `[${b.lo.toFixed(1)}, ${b.hi.toFixed(1)}${k === bins.length - 1 ? "]" : ")"}`,
  );
  const lines = [
    `| method | seeds | ${head.join(" | ")} |`,
    `| --- | --- | ${bins.map(() => "---").join(" | ")} |`,
  ];
  for (const c of curves) {
    const cells = c.bins.map((b) =>
      Number.isFinite(b.mean) ? `${b.mean.toFixed(3)} ± ${b.std.toFixed(3)} (${b.episodes})` : "—",
    );
    lines.push(`| ${c.method} | ${c.seeds} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
