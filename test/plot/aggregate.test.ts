/** Run discovery, config labels, curve extraction, alignment and aggregation across seeds. */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import {
  aggregateCurves,
  endTolerance,
  expandRunDirs,
  interpolate,
  loadRun,
  runCurve,
  smoothEma,
} from "../../src/plot/index.js";
import { makeExperiment } from "./fixtures.js";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);

describe("plot: runs and aggregation", () => {
  it("finds the 6 runs under an experiment folder, sorted, and reads their labels", () => {
    const root = makeExperiment();
    try {
      const dirs = expandRunDirs([root]);
      assert.deepEqual(
        dirs.map((d) => `${basename(dirname(d))}/${basename(d)}`),
        ["A/seed0", "A/seed1", "A/seed2", "copa/seed0", "copa/seed1", "copa/seed2"],
      );
      // A run dir named directly is taken as is, and not listed twice.
      assert.equal(expandRunDirs([join(root, "A", "seed1"), root]).length, 6);
      const alma = loadRun(dirs[1]);
      assert.equal(alma.method, "alma");
      assert.equal(alma.env, "savethecity");
      assert.equal(alma.scenario, "2-5a_2-5b");
      assert.equal(alma.seed, 1);
      const copa = loadRun(dirs[3]);
      assert.equal(copa.method, "copa", "no config.json: method = parent dir name");
      assert.equal(copa.env, undefined);
      assert.throws(() => expandRunDirs([join(root, "nope")]), /not found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("runCurve keeps finite logged points only, sorted, later duplicate wins", () => {
    const c = runCurve(
      [
        { t_env: 200, m: 2 },
        { t_env: 0, m: 0 },
        { t_env: 100, x: 5 },
        { t_env: 100, m: null },
        { t_env: 300, m: "n/a" },
        { t_env: 200, m: 3 },
      ],
      "m",
    );
    assert.deepEqual(c, { t: [0, 200], v: [0, 3] });
  });

  it("interpolates linearly inside a curve and not outside it", () => {
    const t = [0, 100, 300];
    const v = [0, 1, 0];
    assert.equal(interpolate(t, v, 0), 0);
    assert.equal(interpolate(t, v, 50), 0.5);
    assert.equal(interpolate(t, v, 100), 1);
    assert.equal(interpolate(t, v, 200), 0.5);
    assert.equal(interpolate(t, v, 300), 0);
    assert.equal(interpolate(t, v, -1), undefined);
    assert.equal(interpolate(t, v, 301), undefined);
  });

  it("endTolerance is half the median logging interval", () => {
    assert.equal(endTolerance([0, 100, 200, 1000]), 50);
    assert.equal(endTolerance([0, 150, 300]), 75);
    assert.equal(endTolerance([7]), 0);
  });

  it("mean/std over seeds on a shared grid equal the hand-computed numbers", () => {
    const t = [0, 100, 200];
    const pts = aggregateCurves([
      { t, v: [0, 0.2, 0.4] },
      { t, v: [0, 0.4, 0.6] },
      { t, v: [0.3, 0.3, 0.5] },
    ]);
    assert.deepEqual(
      pts.map((p) => [p.t_env, p.n]),
      [
        [0, 3],
        [100, 3],
        [200, 3],
      ],
    );
    close(pts[0].mean, 0.1);
    close(pts[0].std, Math.sqrt(0.02)); // deviations -0.1, -0.1, +0.2 → var 0.06/3
    close(pts[1].mean, 0.3);
    close(pts[1].std, Math.sqrt(0.02 / 3)); // deviations -0.1, +0.1, 0
    close(pts[2].mean, 0.5);
  });

  it("aligns seeds logged at different steps: union grid, interpolation, end hold, no extrapolation", () => {
    const pts = aggregateCurves([
      { t: [0, 100, 200], v: [0, 1, 2] },
      { t: [10, 110, 210], v: [1, 2, 3] }, // same interval, jittered by 10 steps
      { t: [0, 50], v: [4, 4] }, // stopped early: tolerance 25 steps
    ]);
    assert.deepEqual(
      pts.map((p) => p.t_env),
      [0, 10, 50, 100, 110, 200, 210],
    );
    // t=0: run 2 holds its first value (10 ≤ 50 steps before it); run 3 = 4.
    close(pts[0].mean, (0 + 1 + 4) / 3);
    // t=10: run 1 interpolated 0.1.
    close(pts[1].mean, (0.1 + 1 + 4) / 3);
    // t=50: run 1 = 0.5, run 2 = 1.4, run 3 = 4 (its last point).
    close(pts[2].mean, (0.5 + 1.4 + 4) / 3);
    // t=100: run 3 is 50 steps past its end (> 25): not counted.
    assert.equal(pts[3].n, 2);
    close(pts[3].mean, (1 + 1.9) / 2);
    // t=210: run 1 holds its last value 2 (10 ≤ 50 steps after it).
    assert.equal(pts[6].n, 2);
    close(pts[6].mean, 2.5);
    close(pts[6].std, 0.5);
  });

  it("smoothEma is TensorBoard's debiased EMA and rejects bad weights", () => {
    assert.deepEqual(smoothEma([1, 2, 3], 0), [1, 2, 3]);
    const s = smoothEma([0, 1], 0.5);
    close(s[0], 0);
    close(s[1], 0.5 / 0.75);
    // Debiasing: a constant series stays constant (no pull towards 0 at the start).
    for (const x of smoothEma([2, 2, 2, 2], 0.9)) close(x, 2, 1e-12);
    assert.throws(() => smoothEma([1], 1), /smooth/);
    assert.throws(() => smoothEma([1], -0.1), /smooth/);
  });
});
