/**
 * Metric exports for the places people look: `RUN/metrics.csv` (spreadsheets, pandas) and a
 * markdown results table (`results.md`: final metric per method, as in the paper's text).
 *
 * No TensorBoard event files: there is no well-kept pure-JS event-file writer on npm (checked:
 * `tensorboard`, `tfevents`, `tensorboardx`, `tensorboard-logger`, `tensorboard-js`, `tb-writer`,
 * `tfevent-writer` do not exist; the only writer, `@tensorflow/tfjs-node`'s `summaryFileWriter`,
 * downloads libtensorflow at install time, which this project's machines cannot do), and the
 * protobuf/CRC record format is not something to hand-roll. `metrics.csv` loads into most tools.
 */
import { join } from "node:path";
import { meanStd, readMetrics } from "../run/metrics.js";
import { writeFileAtomic } from "../util/fs.js";
import { expandRunDirs, type GroupBy, groupRuns, loadRun, METRICS_FILE, runCurve } from "./runs.js";

/** One CSV field per RFC 4180: quoted only when it holds a comma, quote or line break. */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "number" || typeof v === "string" ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Write `RUN/metrics.csv` from `RUN/metrics.jsonl`, atomically (a reader never sees half a file).
 * Columns: `t_env` first, then the union of all metric keys sorted; one row per log line in file
 * order; a metric absent from a line, or null (non-finite), is an empty cell. Returns the path.
 */
export function writeMetricsCsv(runDir: string): string {
  const records = readMetrics(join(runDir, METRICS_FILE));
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) if (k !== "t_env") keys.add(k);
  const columns = ["t_env", ...[...keys].sort()];
  const lines = [columns.map(csvField).join(",")];
  for (const r of records) lines.push(columns.map((c) => csvField(r[c])).join(","));
  const path = join(runDir, "metrics.csv");
  writeFileAtomic(path, `${lines.join("\n")}\n`);
  return path;
}

/** Options of `resultsTable`. */
export interface ResultsTableOptions {
  /** Metric whose final value is reported (default `test/success`). */
  metric?: string;
  /** Row per `config.json` method (default) or per parent directory name. */
  groupBy?: GroupBy;
  /** Decimals of mean ± std (default 3). */
  digits?: number;
}

/** Seconds as a short human duration: `42.0 s`, `12 min 05 s`, `3 h 07 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** The last finite value of the first of `keys` that a run logged (e.g. its wall time). */
function lastValue(
  records: readonly Record<string, unknown>[],
  keys: readonly string[],
): number | undefined {
  for (const k of keys) {
    for (let i = records.length - 1; i >= 0; i--) {
      const v = records[i][k];
      if (typeof v === "number" && Number.isFinite(v)) return v;
    }
  }
  return undefined;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * A markdown table, one row per method (in input order): the final value of `metric` as
 * mean ± std over seeds (final = each run's last logged finite value; population std, as
 * `meanStd`), the number of seeds that logged it (`k of N` when some did not), the env steps
 * reached (each run's last `t_env`; a range when seeds differ), and the mean wall time when
 * `metrics.jsonl` has a `wall_s` (else `time_s`) field.
 */
export function resultsTable(runDirs: string[], opts: ResultsTableOptions = {}): string {
  const metric = opts.metric ?? "test/success";
  const digits = opts.digits ?? 3;
  const runs = expandRunDirs(runDirs).map(loadRun);
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const groupBy = opts.groupBy ?? "method";
  const rows = [
    `| ${groupBy === "run" ? "run" : "method"} | final ${esc(metric)} (mean ± std) | seeds | env steps | wall time |`,
    "| --- | --- | --- | --- | --- |",
  ];
  for (const [name, members] of groupRuns(runs, groupBy)) {
    const finals: number[] = [];
    for (const r of members) {
      const c = runCurve(r.records, metric);
      if (c.v.length > 0) finals.push(c.v[c.v.length - 1]);
    }
    const { mean, std } = meanStd(finals);
    const result = finals.length > 0 ? `${mean.toFixed(digits)} ± ${std.toFixed(digits)}` : "—";
    const seeds =
      finals.length === members.length
        ? `${members.length}`
        : `${finals.length} of ${members.length}`;
    const steps = members
      .filter((r) => r.records.length > 0)
      .map((r) => Math.max(...r.records.map((x) => x.t_env)));
    const lo = Math.min(...steps);
    const hi = Math.max(...steps);
    const stepsCell = steps.length === 0 ? "—" : lo === hi ? int(hi) : `${int(lo)}–${int(hi)}`;
    const walls = members
      .map((r) => lastValue(r.records, ["wall_s", "time_s"]))
      .filter((v): v is number => v !== undefined);
    const wallCell = walls.length > 0 ? formatDuration(meanStd(walls).mean) : "—";
    rows.push(`| ${esc(name)} | ${result} | ${seeds} | ${stepsCell} | ${wallCell} |`);
  }
  return `${rows.join("\n")}\n`;
}
