import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { grad, np, random } from "../../src/nn/engine.js";
import {
  barrier,
  elu,
  groupMask,
  initLinear,
  initLinearNoBias,
  linear,
  materializeFwd,
} from "../../src/nn/layers.js";
import { f64, host, randArray } from "./helpers.js";

describe("PyTorch-default initialisation (spec §1)", () => {
  it("draws weights and biases uniformly in ±1/sqrt(fan_in)", () => {
    const p = initLinear(random.key(3), 70, 128);
    assert.deepEqual(p.w.shape, [70, 128]);
    assert.deepEqual(p.b.shape, [128]);
    const bound = 1 / Math.sqrt(70);
    const w = host(p.w);
    const b = host(p.b);
    for (const x of [...w, ...b]) assert.ok(Math.abs(x) <= bound + 1e-7);
    // Uniform on [-a, a]: mean 0, variance a²/3 (8960 samples: loose 5-sigma bounds).
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const variance = w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length;
    assert.ok(Math.abs(mean) < (5 * bound) / Math.sqrt(3 * w.length));
    assert.ok(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.05);
    // The bias is not a copy of the first weight row.
    assert.notDeepEqual(b.slice(0, 8), w.slice(0, 8));
    p.w.dispose();
    p.b.dispose();
  });

  it("is a pure function of the key", () => {
    const a = initLinearNoBias(random.key(7), 6, 4);
    const b = initLinearNoBias(random.key(7), 6, 4);
    const c = initLinearNoBias(random.key(8), 6, 4);
    assert.deepEqual(host(a.w), host(b.w));
    assert.notDeepEqual(host(a.w), host(c.w));
    for (const x of host(a.w)) assert.ok(Math.abs(x) <= 1 / Math.sqrt(6) + 1e-7);
    a.w.dispose();
    b.w.dispose();
    c.w.dispose();
  });
});

describe("linear", () => {
  it("matches x @ w + b, including widths that are padded internally", () => {
    for (const din of [3, 4, 70]) {
      const x = randArray(2 * 3 * din, 1);
      const w = randArray(din * 5, 2);
      const bb = randArray(5, 3);
      const y = host(linear(f64(x, [2, 3, din]), { w: f64(w, [din, 5]), b: f64(bb, [5]) }));
      for (let r = 0; r < 6; r++) {
        for (let o = 0; o < 5; o++) {
          let s = bb[o];
          for (let i = 0; i < din; i++) s += x[r * din + i] * w[i * 5 + o];
          assert.ok(Math.abs(y[r * 5 + o] - s) < 1e-9, `din=${din}`);
        }
      }
    }
  });

  it("accepts inputs pre-padded with zero columns (weight rows are padded to match)", () => {
    const x = randArray(4 * 6, 4);
    const xp = new Float64Array(4 * 8);
    for (let r = 0; r < 4; r++) for (let i = 0; i < 6; i++) xp[r * 8 + i] = x[r * 6 + i];
    const w = randArray(6 * 3, 5);
    const a = host(linear(f64(x, [4, 6]), { w: f64(w, [6, 3]) }));
    const b = host(linear(f64(xp, [4, 8]), { w: f64(w, [6, 3]) }));
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-12);
  });
});

describe("barrier / materializeFwd", () => {
  it("are the identity in value and gradient", () => {
    const x = randArray(12, 6);
    const c = randArray(12, 7);
    for (const fn of [barrier, materializeFwd]) {
      assert.deepEqual(host(fn(f64(x, [3, 4]))), Array.from(x));
      const g = grad((z: ReturnType<typeof f64>) =>
        fn(z)
          .mul(f64(c, [3, 4]))
          .sum(),
      )(f64(x, [3, 4]));
      const gh = host(g);
      for (let i = 0; i < 12; i++) assert.ok(Math.abs(gh[i] - c[i]) < 1e-12);
      g.dispose();
    }
  });
});

describe("groupMask (spec §3.2)", () => {
  it("is 0 exactly for pairs that share a group", () => {
    // Memberships (1 = not a member): e0 in g0, e1 in g1, e2 in g0, e3 in no group.
    const G = f64([0, 1, 1, 0, 0, 1, 1, 1], [4, 2]);
    const M = host(groupMask(G.ref, G));
    assert.deepEqual(M, [0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1]);
  });

  it("with one group is 'both active'", () => {
    const em = f64([0, 1, 0], [3, 1]);
    assert.deepEqual(host(groupMask(em.ref, em)), [0, 1, 0, 1, 1, 1, 0, 1, 0]);
  });
});

describe("elu", () => {
  it("is x for x > 0 and exp(x) − 1 otherwise, with finite gradient", () => {
    const xs = [-50, -1, 0, 0.5, 3];
    const y = host(elu(f64(xs, [5])));
    // jax-js' exp is float32-accurate even on float64 arrays.
    xs.forEach((x, i) => {
      assert.ok(Math.abs(y[i] - (x > 0 ? x : Math.exp(x) - 1)) < 1e-6);
    });
    const g = host(grad((z: ReturnType<typeof f64>) => elu(z).sum())(f64(xs, [5])));
    xs.forEach((x, i) => {
      assert.ok(Math.abs(g[i] - (x > 0 ? 1 : Math.exp(x))) < 1e-6);
    });
    assert.equal(np.zeros([1]).shape.length, 1);
  });
});
