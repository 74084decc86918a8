import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Arr, grad, jit, tree } from "../../src/nn/engine.js";
import {
  initPopArtStats,
  type PopArtStats,
  popartDenormalize,
  popartPrediction,
  popartUpdate,
} from "../../src/nn/popart.js";
import { f32, host, scalar } from "./helpers.js";

const near = (a: number, b: number, rel = 2e-6) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe("Pop-Art (spec §13)", () => {
  // Hand-computed with α = 0.01 and masked_mean(x, m) = Σxm / (Σm + 1e-8).
  const alpha = 0.01;
  const y1 = [1, 2, 3, 10];
  const m1 = [1, 1, 1, 0];
  const mm = (x: number[], m: number[]) =>
    x.reduce((s, v, i) => s + v * m[i], 0) / (m.reduce((s, v) => s + v, 0) + 1e-8);
  // First call: μ = mm(y) = 2; δ = y − 2; μ += α·mm(δ) (= 0); v = mm(δ²) = 2/3;
  // v = (1 − α)(v + α·mm(δ²)).
  const mu1a = mm(y1, m1);
  const d1 = y1.map((v) => v - mu1a);
  const mu1 = mu1a + alpha * mm(d1, m1);
  const v1 =
    (1 - alpha) *
    (mm(
      d1.map((d) => d * d),
      m1,
    ) +
      alpha *
        mm(
          d1.map((d) => d * d),
          m1,
        ));
  // Second call on other targets: δ = y − μ_old; μ = μ_old + α·mm(δ); v = (1 − α)(v_old + α·mm(δ²)).
  const y2 = [4, 6, 0, 0];
  const m2 = [1, 1, 0, 0];
  const d2 = y2.map((v) => v - mu1);
  const mu2 = mu1 + alpha * mm(d2, m2);
  const v2 =
    (1 - alpha) *
    (v1 +
      alpha *
        mm(
          d2.map((d) => d * d),
          m2,
        ));

  const update = jit((stats: PopArtStats, head: { w: Arr; b: Arr }, y: Arr, m: Arr) =>
    popartUpdate(stats, head, y, m),
  );

  it("first update: statistics from the batch, head unchanged, targets normalised", () => {
    const r = update(
      initPopArtStats(),
      { w: f32([1.5, 0.5], [2]), b: f32([0.25, -1], [2]) },
      f32(y1, [4]),
      f32(m1, [4]),
    );
    near(host(r.stats.mean)[0], mu1);
    near(host(r.stats.var)[0], v1);
    assert.equal(host(r.stats.initialized)[0], 1);
    host(r.head.w).forEach((v, i) => {
      near(v, [1.5, 0.5][i]);
    });
    host(r.head.b).forEach((v, i) => {
      near(v, [0.25, -1][i]);
    });
    host(r.yNorm).forEach((v, i) => {
      near(v, (y1[i] - mu1) / Math.sqrt(v1));
    });
    tree.dispose(r);
  });

  it("second update: running statistics, rescaled head, normalised with the new statistics", () => {
    const r1 = update(
      initPopArtStats(),
      { w: f32([1.5, 0.5], [2]), b: f32([0.25, -1], [2]) },
      f32(y1, [4]),
      f32(m1, [4]),
    );
    r1.yNorm.dispose();
    const r2 = update(r1.stats, r1.head, f32(y2, [4]), f32(m2, [4]));
    near(host(r2.stats.mean)[0], mu2);
    near(host(r2.stats.var)[0], v2);
    const sOld = Math.sqrt(v1);
    const s = Math.sqrt(v2);
    host(r2.head.w).forEach((v, i) => {
      near(v, ([1.5, 0.5][i] * sOld) / s);
    });
    host(r2.head.b).forEach((v, i) => {
      near(v, ([0.25, -1][i] * sOld + mu1 - mu2) / s);
    });
    host(r2.yNorm).forEach((v, i) => {
      near(v, (y2[i] - mu2) / s);
    });
    // The rescaling preserves the head's denormalised outputs: (w'x + b')σ + μ = (wx + b)σ_old + μ_old.
    for (const x of [-2, 0.3, 5]) {
      const w2 = host(r2.head.w);
      const b2 = host(r2.head.b);
      [0, 1].forEach((k) => {
        near((w2[k] * x + b2[k]) * s + mu2, ([1.5, 0.5][k] * x + [0.25, -1][k]) * sOld + mu1, 1e-5);
      });
    }
    tree.dispose(r2);
  });

  it("denormalises only once statistics exist", () => {
    const q = [0.5, -1];
    assert.deepEqual(host(popartDenormalize(f32(q, [2]), initPopArtStats())), q);
    const stats: PopArtStats = { mean: f32([2], []), var: f32([4], []), initialized: f32([1], []) };
    assert.deepEqual(host(popartDenormalize(f32(q, [2]), stats)), [3, 0]);
  });

  it("prediction: value with the old head, gradient to y through the new weight", () => {
    const w = f32([2], [1]);
    const b = f32([0.5], [1]);
    const wNew = f32([3], [1]);
    const y = f32([1.25], [1]);
    assert.equal(scalar(popartPrediction(w.ref, b.ref, wNew.ref, y.ref).sum()), 2 * 1.25 + 0.5);
    const g = grad((t: { w: Arr; b: Arr; y: Arr }) =>
      popartPrediction(t.w, t.b, wNew.ref, t.y).sum(),
    )({ w, b, y });
    assert.deepEqual(host(g.w), [1.25]);
    assert.deepEqual(host(g.b), [1]);
    assert.deepEqual(host(g.y), [3]);
    tree.dispose([g, wNew]);
  });
});
