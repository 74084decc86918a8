/**
 * Reading training runs for plots and tables: which runs a set of paths names, what each run is
 * (method, env, scenario, seed from `config.json`), how runs are grouped, and how one metric's
 * curves from several seeds are aligned and aggregated into mean ± std.
 *
 * Alignment rule (used by `compareRuns`, documented in its doc comment too): the common grid of a
 * group is the union of the `t_env` values at which any of its runs logged the metric. Each run is
 * placed on that grid by **linear interpolation between its own two neighbouring logged points**
 * inside its logged range; within half of its median logging interval before its first or after
 * its last point it holds that end value; further out it has no value (no extrapolation). A grid
 * point's mean/std (population std, as `meanStd`) is over the runs that have a value there, and
 * `n` says how many did.
 *
 * Why interpolation rather than last-value-carried-forward: test points of different seeds land
 * on slightly different `t_env` (episodes end at different steps), and carrying a value forward
 * would draw each seed as a staircase that lags by up to one test interval; interpolating keeps
 * the mean unbiased in `t_env`. Why the half-interval hold at the ends: those same few steps of
 * jitter would otherwise make the first and last grid points cover only some seeds, and the mean
 * would jump there (a visible hook at the end of every curve). Why no further: a run that stopped
 * early (or crashed) must not pretend to have values at steps it never reached.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { type MetricRecord, meanStd, readMetrics } from "../run/metrics.js";

/** The metrics file inside a run directory. */
export const METRICS_FILE = "metrics.jsonl";

/** What a run directory says about itself (all optional except the directory). */
export interface RunInfo {
  /** Absolute path of the run directory. */
  dir: string;
  /** `config.json` → `method`, else the name of the run directory's parent. */
  method: string;
  env?: string;
  scenario?: string;
  seed?: number;
  records: MetricRecord[];
}

/** One point of an aggregated curve: mean and std over the `n` runs covering `t_env`. */
export interface CurvePoint {
  t_env: number;
  mean: number;
  std: number;
  n: number;
}

/**
 * How runs are grouped into curves: by `config.json` method (seeds of one method average into one
 * curve), by parent directory name (an experiment's `<method>/seed<k>` layout), or one curve per
 * run directory, named by it (variants of one method, e.g. a hyperparameter sweep).
 */
export type GroupBy = (typeof GROUP_BY_CHOICES)[number];

/** Every grouping rule (`GroupBy`), for CLI choices and validation. */
export const GROUP_BY_CHOICES = ["method", "dir", "run"] as const;

/**
 * Expand the paths a user names into run directories: a path holding `metrics.jsonl` is a run;
 * any other directory is searched (a few levels deep, skipping dot folders and `node_modules`) so
 * that `alma compare experiments/savethecity` finds every method × seed run under it. Result is
 * de-duplicated and, for searched folders, sorted, so plots are reproducible.
 */
export function expandRunDirs(paths: readonly string[], maxDepth = 4): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (d: string) => {
    if (!seen.has(d)) {
      seen.add(d);
      out.push(d);
    }
  };
  const search = (dir: string, depth: number) => {
    if (existsSync(join(dir, METRICS_FILE))) return add(dir);
    if (depth >= maxDepth) return;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(".") || name === "node_modules") continue;
      const child = join(dir, name);
      try {
        if (statSync(child).isDirectory()) search(child, depth + 1);
      } catch {
        // A dangling link or a folder removed while we looked: not a run, skip it.
      }
    }
  };
  for (const p of paths) {
    const dir = resolve(p);
    if (!existsSync(dir)) throw new Error(`run directory not found: ${p}`);
    search(dir, 0);
  }
  return out;
}

/** A string field that may be given directly or as an object's `name` (e.g. `env: {name}`). */
function nameOf(v: unknown): string | undefined {
  if (typeof v === "string" && v.trim() !== "") return v;
  if (v !== null && typeof v === "object") {
    const n = (v as Record<string, unknown>)["name"];
    if (typeof n === "string" && n.trim() !== "") return n;
  }
  return undefined;
}

/**
 * Read one run directory. `config.json` is optional and read tolerantly (a missing or damaged
 * config only loses the labels, never the curve): `method`, `env` (string or `{name}`),
 * `scenario` (top level or `env.scenario`), `seed`.
 */
export function loadRun(dir: string): RunInfo {
  const abs = resolve(dir);
  let cfg: Record<string, unknown> = {};
  const cfgPath = join(abs, "config.json");
  if (existsSync(cfgPath)) {
    try {
      const parsed = JSON.parse(readFileSync(cfgPath, "utf8"));
      if (parsed !== null && typeof parsed === "object") cfg = parsed;
    } catch {
      // Tolerated on purpose: plotting a half-written run should not fail on its labels.
    }
  }
  const env = nameOf(cfg["env"]);
  const envObj = cfg["env"] !== null && typeof cfg["env"] === "object" ? cfg["env"] : {};
  const scenario =
    nameOf(cfg["scenario"]) ?? nameOf((envObj as Record<string, unknown>)["scenario"]);
  const seed = typeof cfg["seed"] === "number" ? cfg["seed"] : undefined;
  const info: RunInfo = {
    dir: abs,
    method: nameOf(cfg["method"]) ?? basename(dirname(abs)),
    records: readMetrics(join(abs, METRICS_FILE)),
  };
  if (env !== undefined) info.env = env;
  if (scenario !== undefined) info.scenario = scenario;
  if (seed !== undefined) info.seed = seed;
  return info;
}

/**
 * The shortest trailing part of each run's path (`seed0`, then `copa/seed0`, ...) that tells it
 * apart from every other run: the labels of `groupBy: "run"`.
 */
function runLabels(runs: readonly RunInfo[]): string[] {
  const parts = runs.map((r) =>
    resolve(r.dir)
      .split(sep)
      .filter((p) => p !== ""),
  );
  const labels = parts.map((p) => p.slice(-1).join("/"));
  for (let depth = 2; ; depth++) {
    const count = new Map<string, number>();
    for (const l of labels) count.set(l, (count.get(l) ?? 0) + 1);
    const clashing = labels.map((l) => (count.get(l) ?? 0) > 1);
    if (!clashing.includes(true)) return labels;
    // A run named twice is the same run; stop once no path has more parts to add.
    if (parts.every((p, i) => !clashing[i] || p.length < depth)) return labels;
    parts.forEach((p, i) => {
      if (clashing[i]) labels[i] = p.slice(-depth).join("/");
    });
  }
}

/** Group runs, keeping groups in order of first appearance (so the legend follows the input). */
export function groupRuns(runs: readonly RunInfo[], groupBy: GroupBy): Map<string, RunInfo[]> {
  const names =
    groupBy === "run"
      ? runLabels(runs)
      : runs.map((r) => (groupBy === "dir" ? basename(dirname(r.dir)) : r.method));
  const groups = new Map<string, RunInfo[]>();
  runs.forEach((r, i) => {
    const list = groups.get(names[i]);
    if (list) list.push(r);
    else groups.set(names[i], [r]);
  });
  return groups;
}

/**
 * One run's curve for a metric: its logged `(t_env, value)` points with a finite numeric value,
 * sorted by `t_env`. A `t_env` logged twice keeps the later line (a re-log supersedes).
 */
export function runCurve(
  records: readonly MetricRecord[],
  metric: string,
): { t: number[]; v: number[] } {
  const byT = new Map<number, number>();
  for (const r of records) {
    const v = r[metric];
    if (typeof v === "number" && Number.isFinite(v) && Number.isFinite(r.t_env))
      byT.set(r.t_env, v);
  }
  const t = [...byT.keys()].sort((a, b) => a - b);
  return { t, v: t.map((x) => byT.get(x) as number) };
}

/**
 * TensorBoard-style exponential moving average with weight `w` in [0, 1) (0 = no smoothing),
 * debiased so the first points are not pulled towards zero. Applied per run, before alignment,
 * so the band still shows the spread between seeds rather than within-run noise.
 */
export function smoothEma(values: readonly number[], w: number): number[] {
  if (!(w >= 0 && w < 1)) throw new Error(`smooth must be in [0, 1), got ${w}`);
  if (w === 0) return [...values];
  let acc = 0;
  return values.map((v, i) => {
    acc = acc * w + (1 - w) * v;
    return acc / (1 - w ** (i + 1));
  });
}

/** Linear interpolation of a sorted curve at `x`; `undefined` outside its logged range. */
export function interpolate(
  t: readonly number[],
  v: readonly number[],
  x: number,
): number | undefined {
  const n = t.length;
  if (n === 0 || x < t[0] || x > t[n - 1]) return undefined;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= x) lo = mid;
    else hi = mid;
  }
  if (t[lo] === x) return v[lo];
  if (t[hi] === x) return v[hi];
  const f = (x - t[lo]) / (t[hi] - t[lo]);
  return v[lo] + f * (v[hi] - v[lo]);
}

/**
 * How far past its ends a run holds its end values: half its median logging interval (0 for a
 * single point). The median, not the mean, so one long gap (e.g. a resume) does not widen it.
 */
export function endTolerance(t: readonly number[]): number {
  if (t.length < 2) return 0;
  const gaps = t
    .slice(1)
    .map((x, i) => x - t[i])
    .sort((a, b) => a - b);
  const m = gaps.length >> 1;
  const median = gaps.length % 2 === 1 ? gaps[m] : (gaps[m - 1] + gaps[m]) / 2;
  return median / 2;
}

/**
 * A run's value at grid point `x`: interpolated inside its range, its end value within
 * `endTolerance` outside it, else `undefined` (see the module comment).
 */
export function valueAt(
  c: { t: readonly number[]; v: readonly number[] },
  x: number,
  tol = endTolerance(c.t),
): number | undefined {
  const n = c.t.length;
  if (n === 0) return undefined;
  if (x < c.t[0]) return c.t[0] - x <= tol ? c.v[0] : undefined;
  if (x > c.t[n - 1]) return x - c.t[n - 1] <= tol ? c.v[n - 1] : undefined;
  return interpolate(c.t, c.v, x);
}

/**
 * Aggregate several runs' curves of one metric (see the module comment for the rule): union
 * `t_env` grid, linear interpolation inside each run's range (end values held for half a logging
 * interval beyond it), mean and population std over the runs that have a value at each point.
 */
export function aggregateCurves(curves: readonly { t: number[]; v: number[] }[]): CurvePoint[] {
  const grid = [...new Set(curves.flatMap((c) => c.t))].sort((a, b) => a - b);
  const tols = curves.map((c) => endTolerance(c.t));
  const out: CurvePoint[] = [];
  for (const x of grid) {
    const vals: number[] = [];
    curves.forEach((c, i) => {
      const y = valueAt(c, x, tols[i]);
      if (y !== undefined) vals.push(y);
    });
    if (vals.length === 0) continue;
    const { mean, std } = meanStd(vals);
    out.push({ t_env: x, mean, std, n: vals.length });
  }
  return out;
}
