/**
 * Learning-curve figures in the style of the paper's (Figs. 3, 4, 6, 9): one colour per method,
 * the mean over seeds as a line, a shaded ±1 standard-deviation band, x = env steps.
 * Written as both SVG (for the web and papers) and PNG (for terminals, issues and READMEs).
 */
import { extname } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { writeFileAtomic } from "../util/fs.js";
import { PLOT_FONT, svgToPng, vegaLiteToSvg } from "./render.js";
import {
  aggregateCurves,
  type CurvePoint,
  expandRunDirs,
  type GroupBy,
  groupRuns,
  loadRun,
  type RunInfo,
  runCurve,
  smoothEma,
} from "./runs.js";

/** Options of `compareRuns`. */
export interface CompareOptions {
  /** Metric key in `metrics.jsonl` (default `test/success`). */
  metric?: string;
  /** Output path ending in `.svg` or `.png` (or no extension); both files are always written. */
  out: string;
  /** Figure title (default: the metric, plus env/scenario when all runs share them). */
  title?: string;
  /** Curve per `config.json` method (default) or per parent directory name. */
  groupBy?: GroupBy;
  /** EMA smoothing weight in [0, 1) applied per run before aggregation (default 0 = none). */
  smooth?: number;
}

/** One curve of the figure: a group's aggregated points and how many runs it has. */
export interface CompareGroup {
  name: string;
  /** Runs in the group (including any that never logged the metric). */
  runs: number;
  /** Mean/std over the runs covering each `t_env` (`n` of them); see `aggregateCurves`. */
  points: CurvePoint[];
}

/** What `compareRuns` computed and wrote. */
export interface CompareResult {
  groups: CompareGroup[];
  /** `[svgPath, pngPath]`. */
  files: string[];
}

/** Vega's default categorical palette (Tableau 10), pinned so colours are stable per position. */
export const PALETTE = [
  "#4c78a8",
  "#f58518",
  "#e45756",
  "#72b7b2",
  "#54a24b",
  "#eeca3b",
  "#b279a2",
  "#ff9da6",
  "#9d755d",
  "#bab0ac",
] as const;

/** The `[svg, png]` paths for an output path given with `.svg`, `.png` or no extension. */
export function figurePaths(out: string): [string, string] {
  const ext = extname(out).toLowerCase();
  if (ext !== "" && ext !== ".svg" && ext !== ".png")
    throw new Error(`figure output must end in .svg or .png, got "${out}"`);
  const base = ext === "" ? out : out.slice(0, -ext.length);
  return [`${base}.svg`, `${base}.png`];
}

/**
 * The colour encoding of every figure: one colour per method. Explicit domain + range, so the
 * legend follows the input order and colours are deterministic across figures.
 */
export function methodColour(field: string, names: readonly string[]) {
  return {
    field,
    type: "nominal" as const,
    scale: { domain: [...names], range: names.map((_, i) => PALETTE[i % PALETTE.length]) },
    legend: { title: "method", symbolType: "stroke", symbolOpacity: 1, symbolStrokeWidth: 3 },
  };
}

/** The one value all runs share for a label, or undefined if they differ or none has it. */
function shared(runs: readonly RunInfo[], key: "env" | "scenario"): string | undefined {
  const vals = new Set(runs.map((r) => r[key]));
  return vals.size === 1 ? [...vals][0] : undefined;
}

/** The default title: the metric, plus the environment and scenario when every run shares them. */
function defaultTitle(metric: string, runs: readonly RunInfo[]): string {
  const where = [shared(runs, "env"), shared(runs, "scenario")].filter((s) => s !== undefined);
  return where.length > 0 ? `${metric} · ${where.join(" ")}` : metric;
}

/**
 * Build the Vega-Lite spec of a learning-curve figure. Exported for tests and for callers that
 * want the spec itself (e.g. to embed it in a web page).
 *
 * Each band path gets the aria-label `"<group> ±1 std"` and each line `"<group> mean"` (through
 * the `description` channel), and the layers are named `band`/`curve` (Vega turns that into the
 * classes `band…_marks`/`curve_marks`), so the SVG can be checked mark by mark.
 */
export function curveSpec(
  groups: readonly CompareGroup[],
  metric: string,
  title: string,
): TopLevelSpec {
  const values = groups.flatMap((g) =>
    g.points.map((p) => ({
      group: g.name,
      t_env: p.t_env,
      mean: p.mean,
      lo: p.mean - p.std,
      hi: p.mean + p.std,
      n: p.n,
      bandLabel: `${g.name} ±1 std`,
      lineLabel: `${g.name} mean`,
    })),
  );
  const names = groups.map((g) => g.name);
  const color = methodColour("group", names);
  const x = {
    field: "t_env",
    type: "quantitative" as const,
    title: "env steps",
    // Nice SI ticks (0.5M, 1M, ...); "~s" alone would print the origin as "0M".
    axis: { format: "~s", labelExpr: "datum.value === 0 ? '0' : datum.label" },
    // No rounding of the domain up to the next "nice" value: the curves end at the right edge.
    scale: { nice: false },
  };
  // Success rates are fractions: always show the whole [0, 1] range, as the paper's figures do
  // (and so that an all-zero early curve does not get a degenerate axis).
  const yScale = /success|won|solved/.test(metric)
    ? { domain: [0, 1], zero: true }
    : { zero: false };
  // A curve with a single point would draw no visible line: show point markers then.
  const showPoints = groups.some((g) => g.points.length === 1);
  return bandLineSpec({ title, values, x, yTitle: metric, yScale, color, points: showPoints });
}

/**
 * The figure every curve plot shares: per group a shaded band (fields `lo`..`hi`) under a mean
 * line (field `mean`), coloured by `color`; the band/line descriptions name them for tests.
 */
export function bandLineSpec(o: {
  title: string;
  values: readonly Record<string, unknown>[];
  x: Record<string, unknown>;
  yTitle: string;
  yScale: Record<string, unknown>;
  color: ReturnType<typeof methodColour>;
  points: boolean;
}): TopLevelSpec {
  const { title, x, color } = o;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 560,
    height: 340,
    background: "white",
    data: { values: [...o.values] },
    layer: [
      {
        name: "band",
        mark: { type: "errorband", opacity: 0.25 },
        encoding: {
          x,
          y: { field: "lo", type: "quantitative", title: o.yTitle, scale: o.yScale },
          y2: { field: "hi" },
          color,
          description: { field: "bandLabel" },
        },
      },
      {
        name: "curve",
        mark: { type: "line", strokeWidth: 2, point: o.points },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative", title: o.yTitle },
          color,
          description: { field: "lineLabel" },
        },
      },
    ],
    config: { font: PLOT_FONT, view: { stroke: "#ddd" } },
  } as TopLevelSpec;
}

/**
 * Draw learning curves of `metric` for several runs, grouped by method: mean over seeds with a
 * shaded ±1 std band, one colour per method, x = env steps. Writes `<out>.svg` and `<out>.png`.
 *
 * Aggregation (see `runs.ts`): each group's grid is the union of the `t_env` values its runs
 * logged the metric at; each run is linearly interpolated onto that grid inside its own logged
 * range, holds its end values for half its median logging interval beyond it (so seeds whose test
 * points differ by a few steps still all count at the ends), and has no value further out (no
 * extrapolation); mean / population std are over the runs that have a value at each point. `runDirs` may also name folders that contain runs (they are searched).
 */
export async function compareRuns(runDirs: string[], opts: CompareOptions): Promise<CompareResult> {
  const metric = opts.metric ?? "test/success";
  const groupBy = opts.groupBy ?? "method";
  const smooth = opts.smooth ?? 0;
  const [svgPath, pngPath] = figurePaths(opts.out);
  const dirs = expandRunDirs(runDirs);
  if (dirs.length === 0)
    throw new Error(`no runs (directories with metrics.jsonl) in ${runDirs.join(", ")}`);
  const runs = dirs.map(loadRun);

  const groups: CompareGroup[] = [];
  for (const [name, members] of groupRuns(runs, groupBy)) {
    const curves = members
      .map((r) => runCurve(r.records, metric))
      .filter((c) => c.t.length > 0)
      .map((c) => ({ t: c.t, v: smoothEma(c.v, smooth) }));
    groups.push({ name, runs: members.length, points: aggregateCurves(curves) });
  }
  if (groups.every((g) => g.points.length === 0)) {
    const keys = [...new Set(runs.flatMap((r) => r.records.flatMap((rec) => Object.keys(rec))))]
      .filter((k) => k !== "t_env")
      .sort();
    throw new Error(
      `no run logged metric "${metric}"; logged metrics: ${keys.join(", ") || "(none)"}`,
    );
  }

  // A group that never logged the metric stays in the result (runs counted) but gets no legend
  // entry: a legend colour with no curve would read as "drawn but invisible".
  const drawn = groups.filter((g) => g.points.length > 0);
  const spec = curveSpec(drawn, metric, opts.title ?? defaultTitle(metric, runs));
  const svg = await vegaLiteToSvg(spec);
  writeFileAtomic(svgPath, svg);
  writeFileAtomic(pngPath, svgToPng(svg));
  return { groups, files: [svgPath, pngPath] };
}
