import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clipByGlobalNorm,
  RMSPROP_DEFAULTS,
  rmspropInit,
  rmspropUpdate,
} from "../../src/learners/optim.js";
import { type Arr, tree } from "../../src/nn/engine.js";
import { f32, host, scalar } from "./helpers.js";

const near = (a: number, b: number, rel = 1e-6) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1e-3, Math.abs(b)), `${a} vs ${b}`);

describe("RMSProp, PyTorch semantics (spec §14)", () => {
  it("matches a hand-computed two-step trajectory", () => {
    const { lr, alpha, eps } = RMSPROP_DEFAULTS;
    let params = { a: f32([1, -2], [2]), b: { c: f32([0.5], [1]) } };
    let state = rmspropInit(tree.ref(params));
    const theta = [1, -2, 0.5];
    const s = [0, 0, 0];
    for (const g of [
      [0.5, 0.1, -3],
      [-0.25, 0.2, 1],
    ]) {
      const grads = { a: f32(g.slice(0, 2), [2]), b: { c: f32(g.slice(2), [1]) } };
      [params, state] = rmspropUpdate(params, grads, state, RMSPROP_DEFAULTS);
      for (let i = 0; i < 3; i++) {
        s[i] = alpha * s[i] + (1 - alpha) * g[i] * g[i];
        theta[i] -= (lr * g[i]) / (Math.sqrt(s[i]) + eps);
      }
    }
    const got = [...host(params.a), ...host(params.b.c)];
    got.forEach((v, i) => {
      near(v, theta[i]);
    });
    const sq = [...host(state.square.a), ...host(state.square.b.c)];
    sq.forEach((v, i) => {
      near(v, s[i], 1e-5);
    });
    tree.dispose([params, state]);
  });

  it("adds weight decay to the gradient before the square average", () => {
    const cfg = { ...RMSPROP_DEFAULTS, weightDecay: 0.1 };
    const [p] = rmspropUpdate(
      { x: f32([2], [1]) },
      { x: f32([1], [1]) },
      rmspropInit({ x: f32([2], [1]) }),
      cfg,
    );
    const g = 1 + 0.1 * 2;
    const sq = (1 - cfg.alpha) * g * g;
    near(host(p.x)[0], 2 - (cfg.lr * g) / (Math.sqrt(sq) + cfg.eps));
  });

  it("rejects trees whose structures differ (leaves are matched by position)", () => {
    const p = { a: f32([1], [1]), b: f32([2], [1]) };
    const g = { b: f32([0], [1]), a: f32([0], [1]) };
    assert.throws(() =>
      rmspropUpdate(p, g, rmspropInit({ a: f32([0], [1]), b: f32([0], [1]) }), RMSPROP_DEFAULTS),
    );
  });
});

describe("global-norm gradient clipping (spec §14)", () => {
  it("scales every gradient by 10/(norm + 1e-6) when the global norm exceeds 10", () => {
    // Global norm sqrt(12² + 16²) = 20.
    const [c, norm] = clipByGlobalNorm({ a: f32([12], [1]), b: f32([0, 16], [2]) }, 10);
    assert.equal(scalar(norm), 20);
    const k = 10 / (20 + 1e-6);
    near(host(c.a)[0], 12 * k);
    near(host(c.b)[1], 16 * k);
  });

  it("leaves gradients below the threshold untouched and reports the norm", () => {
    const [c, norm] = clipByGlobalNorm(
      { a: f32([3], [1]), b: f32([0, 4], [2]) } as { a: Arr; b: Arr },
      10,
    );
    near(scalar(norm), 5);
    assert.deepEqual(host(c.a), [3]);
    assert.deepEqual(host(c.b), [0, 4]);
    tree.dispose(c);
  });
});
