import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type AttentionParams, entityAttention, initAttention } from "../../src/nn/attention.js";
import { type Arr, grad, random, tree } from "../../src/nn/engine.js";
import { assertClose, f64, fdCheck, host, randArray, toF64 } from "./helpers.js";

const H = 2;
const DIN = 6;
const E = 8;
const DOUT = 4;

type HostAttn = { wIn: number[]; wOut: number[]; bOut: number[] };

function hostParams(p: AttentionParams): HostAttn {
  return { wIn: host(p.wIn), wOut: host(p.out.w), bOut: host(p.out.b) };
}

/** Plain-loop reference of spec §3.1 (float64). */
function reference(
  p: HostAttn,
  x: ArrayLike<number>,
  pre: ArrayLike<number>,
  post: ArrayLike<number>,
  N: number,
  n: number,
  nq: number,
): number[] {
  const dh = E / H;
  const out: number[] = [];
  for (let b = 0; b < N; b++) {
    const proj = (j: number, block: number) => {
      const r = new Array<number>(E).fill(0);
      for (let e = 0; e < E; e++) {
        for (let i = 0; i < DIN; i++)
          r[e] += x[(b * n + j) * DIN + i] * p.wIn[i * 3 * E + block * E + e];
      }
      return r;
    };
    const K = Array.from({ length: n }, (_, j) => proj(j, 1));
    const V = Array.from({ length: n }, (_, j) => proj(j, 2));
    for (let i = 0; i < nq; i++) {
      const q = proj(i, 0);
      const o = new Array<number>(E).fill(0);
      for (let h = 0; h < H; h++) {
        const logits: number[] = [];
        for (let j = 0; j < n; j++) {
          if (pre[(b * nq + i) * n + j] === 1) {
            logits.push(Number.NEGATIVE_INFINITY);
            continue;
          }
          let s = 0;
          for (let d = 0; d < dh; d++) s += q[h * dh + d] * K[j][h * dh + d];
          logits.push(s / Math.sqrt(dh));
        }
        const mx = Math.max(...logits);
        if (mx === Number.NEGATIVE_INFINITY) continue; // fully masked: weights 0
        const ex = logits.map((l) => Math.exp(l - mx));
        const z = ex.reduce((s, v) => s + v, 0);
        for (let j = 0; j < n; j++) {
          for (let d = 0; d < dh; d++) o[h * dh + d] += (ex[j] / z) * V[j][h * dh + d];
        }
      }
      for (let c = 0; c < DOUT; c++) {
        let s = p.bOut[c];
        for (let e = 0; e < E; e++) s += o[e] * p.wOut[e * DOUT + c];
        out.push(post[b * nq + i] === 1 ? 0 : s);
      }
    }
  }
  return out;
}

function params(seed: number): AttentionParams {
  return toF64(initAttention(random.key(seed), DIN, E, DOUT));
}

function run(
  p: AttentionParams,
  x: number[] | Float64Array,
  pre: number[],
  post: number[],
  N: number,
  n: number,
  nq: number,
): number[] {
  return host(entityAttention(p, f64(x, [N, n, DIN]), f64(pre, [N, nq, n]), f64(post, [N, nq]), H));
}

// exp is float32-accurate in jax-js even for float64 arrays (see helpers.fdCheck).
const close = (a: number[], b: number[], tol = 1e-6) => assertClose(a, b, tol);

describe("EntityAttention (spec §3.1)", () => {
  const N = 3;
  const n = 5;
  const nq = 3;
  const x = randArray(N * n * DIN, 11);

  it("matches a plain-loop reference with partial masks", () => {
    const p = params(1);
    const hp = hostParams(tree.ref(p));
    const pre = Array.from(randArray(N * nq * n, 12), (v) => (v > 0.3 ? 1 : 0));
    const post = [0, 0, 1, 0, 1, 0, 0, 0, 0];
    close(run(p, x, pre, post, N, n, nq), reference(hp, x, pre, post, N, n, nq));
  });

  it("gives an active, fully masked query exactly the output bias and an inactive query exactly 0", () => {
    const p = params(2);
    const bias = host(p.out.b);
    const pre = new Array<number>(N * nq * n).fill(0);
    for (let j = 0; j < n; j++) pre[(0 * nq + 1) * n + j] = 1; // query (0,1): fully masked
    const post = new Array<number>(N * nq).fill(0);
    post[2 * nq + 2] = 1; // query (2,2): inactive
    const out = run(p, x, pre, post, N, n, nq);
    assert.deepEqual(out.slice((0 * nq + 1) * DOUT, (0 * nq + 2) * DOUT), bias);
    assert.deepEqual(out.slice((2 * nq + 2) * DOUT, (2 * nq + 3) * DOUT), [0, 0, 0, 0]);
    for (const v of out) assert.ok(Number.isFinite(v));
  });

  it("never produces NaN, and gives zero input-projection gradient, when every row is masked", () => {
    const p = params(3);
    const pre = new Array<number>(N * nq * n).fill(1);
    const post = new Array<number>(N * nq).fill(0);
    const f = (pp: AttentionParams) =>
      entityAttention(pp, f64(x, [N, n, DIN]), f64(pre, [N, nq, n]), f64(post, [N, nq]), H).sum();
    const g = grad(f)(tree.ref(p)) as unknown as AttentionParams;
    for (const v of host(g.wIn)) assert.equal(v, 0);
    for (const v of host(g.out.w)) assert.equal(v, 0);
    for (const v of host(g.out.b)) assert.equal(v, N * nq);
    tree.dispose([g, p]);
  });

  it("ignores blocked entities: their features change nothing and get zero gradient", () => {
    const p = params(4);
    // Entity 3 is blocked for every query of every row.
    const pre = new Array<number>(N * nq * n).fill(0);
    for (let b = 0; b < N; b++) for (let i = 0; i < nq; i++) pre[(b * nq + i) * n + 3] = 1;
    const post = new Array<number>(N * nq).fill(0);
    const x2 = Float64Array.from(x);
    for (let b = 0; b < N; b++) for (let d = 0; d < DIN; d++) x2[(b * n + 3) * DIN + d] += 5;
    close(run(tree.ref(p), x, pre, post, N, n, nq), run(tree.ref(p), x2, pre, post, N, n, nq), 0);
    const gx = host(
      grad((xx: Arr) =>
        entityAttention(tree.ref(p), xx, f64(pre, [N, nq, n]), f64(post, [N, nq]), H).sum(),
      )(f64(x, [N, n, DIN])),
    );
    for (let b = 0; b < N; b++)
      for (let d = 0; d < DIN; d++) assert.equal(gx[(b * n + 3) * DIN + d], 0);
    tree.dispose(p);
  });

  it("passes a finite-difference gradient check (float64), with masked rows and inactive queries", () => {
    const p = params(5);
    const pre = Array.from(randArray(N * nq * n, 13), (v) => (v > 0.4 ? 1 : 0));
    for (let j = 0; j < n; j++) pre[(1 * nq + 0) * n + j] = 1;
    const post = [0, 0, 0, 0, 0, 1, 0, 0, 0];
    const c = randArray(N * nq * DOUT, 14);
    const f = (pp: AttentionParams) =>
      entityAttention(pp, f64(x, [N, n, DIN]), f64(pre, [N, nq, n]), f64(post, [N, nq]), H)
        .mul(f64(c, [N, nq, DOUT]))
        .sum();
    assert.equal(fdCheck(f, p), 3);
    tree.dispose(p);
  });

  it("matches the reference for random masks (property)", () => {
    const p = params(6);
    const hp = hostParams(tree.ref(p));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: N * nq * n, maxLength: N * nq * n }),
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: N * nq, maxLength: N * nq }),
        (pre, post) => {
          const out = run(tree.ref(p), x, pre, post, N, n, nq);
          close(out, reference(hp, x, pre, post, N, n, nq));
        },
      ),
      { numRuns: 25, seed: 42 },
    );
    tree.dispose(p);
  });
});
