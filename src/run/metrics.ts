/**
 * Metrics: one JSON object per log point in `RUN/metrics.jsonl`, each with `t_env` and metric
 * names as keys (spec §15.3 names: `eval_env_metrics/return_mean`, `losses/q_loss`, ...), plus the
 * run-independent alias `test/success`. Appends are line-atomic in practice (one `appendFileSync`
 * per line); on resume the file is cut back to the checkpoint's `t_env` so a resumed run never
 * duplicates points.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/fs.js";

export type MetricRecord = { t_env: number } & Record<string, number | string | null>;

export class MetricsLog {
  constructor(readonly path: string) {}

  append(record: MetricRecord): void {
    const clean: Record<string, number | string | null> = {};
    for (const [k, v] of Object.entries(record))
      clean[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
    appendFileSync(this.path, `${JSON.stringify(clean)}\n`);
  }

  /** All records (skipping a torn last line, e.g. after a crash mid-write). */
  read(): MetricRecord[] {
    return readMetrics(this.path);
  }

  /** Drop records logged after `tEnv` (resume from a checkpoint taken at `tEnv`). */
  truncateAfter(tEnv: number): void {
    if (!existsSync(this.path)) return;
    const kept = this.read().filter((r) => r.t_env <= tEnv);
    writeFileAtomic(this.path, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
  }
}

export function readMetrics(path: string): MetricRecord[] {
  if (!existsSync(path)) return [];
  const out: MetricRecord[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const rec = JSON.parse(line);
      if (typeof rec.t_env === "number") out.push(rec);
    } catch (err) {
      if (i < lines.length - 2)
        throw new Error(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/** Mean and (population) standard deviation of the finite values. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std };
}
