/**
 * Synthetic experiment for the plot tests: 2 methods × 3 seeds, small enough that every mean and
 * std below is worked out by hand in the tests.
 *
 *   ROOT/A/seed{0,1,2}     config.json {method: "alma", env: {name, scenario}, seed}; test points at
 *                          t_env 0,100,200,300 on every seed; wall_s; a training-only line at 310.
 *   ROOT/copa/seed{0,1,2}  no config.json (method falls back to the parent dir name "copa");
 *                          seeds logged at different t_env, seed2 stopped early at 200; time_s.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Line = Record<string, number | string | null>;

/** alma's test/success per seed at t_env 0, 100, 200, 300. */
export const ALMA_SUCCESS = [
  [0.0, 0.2, 0.4, 0.6],
  [0.0, 0.4, 0.6, 0.9],
  [0.3, 0.3, 0.5, 0.6],
];

function writeRun(dir: string, lines: Line[], config?: object): void {
  mkdirSync(dir, { recursive: true });
  if (config) writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, "metrics.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
}

/** Create the synthetic experiment in a fresh temp dir; returns its root. */
export function makeExperiment(): string {
  const root = mkdtempSync(join(tmpdir(), "alma-plot-"));
  ALMA_SUCCESS.forEach((vals, seed) => {
    const lines: Line[] = vals.map((v, i) => ({
      t_env: i * 100,
      "test/success": v,
      "losses/q_loss": 1 / (i + 1),
      wall_s: (60 * (i + 1) * (seed + 2)) / 4,
    }));
    // A training-only line after the last test point: counts for "steps reached", not the curve.
    lines.push({ t_env: 310, "losses/q_loss": 0.1, phase: "train, late" });
    writeRun(join(root, "A", `seed${seed}`), lines, {
      method: "alma",
      seed,
      env: { name: "savethecity", scenario: "2-5a_2-5b" },
    });
  });
  // copa: seed0 at 0,100,200,300; seed1 at 0,150,300; seed2 at 0,100,200 (stopped early).
  writeRun(join(root, "copa", "seed0"), [
    { t_env: 0, "test/success": 0, time_s: 1 },
    { t_env: 50, "losses/q_loss": 0.5 },
    { t_env: 100, "test/success": 0.1 },
    { t_env: 200, "test/success": 0.2 },
    { t_env: 300, "test/success": 0.3, time_s: 30 },
  ]);
  writeRun(join(root, "copa", "seed1"), [
    { t_env: 0, "test/success": 0 },
    { t_env: 150, "test/success": 0.3 },
    { t_env: 300, "test/success": 0.3, time_s: 40 },
    // A null value (non-finite when logged) is not a point: not on the grid, not a "final".
    { t_env: 300, "test/success": null },
  ]);
  writeRun(join(root, "copa", "seed2"), [
    { t_env: 0, "test/success": 0.2 },
    { t_env: 100, "test/success": 0.2 },
    { t_env: 200, "test/success": 0.2, time_s: 50 },
  ]);
  return root;
}
