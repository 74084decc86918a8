import { describe, it } from "node:test";
import fc from "fast-check";
import { lambdaReturns } from "../../src/nn/lowLevel.js";
import { assertClose, f32, host } from "./helpers.js";

/** One batch of windows, each field `[B, T, n]` row-major: rewards, done, Q̄ of row t+1, mask. */
interface Windows {
  r: number[];
  d: number[];
  q: number[];
  m: number[];
  shape: [number, number, number];
}

/** The λ-return recursion of `lambdaReturns`' doc comment, row by row from the window's end. */
function reference({ r, d, q, m, shape }: Windows, gamma: number, lambda: number): number[] {
  const [B, T, n] = shape;
  const G = new Array<number>(B * T * n).fill(0);
  const at = (b: number, t: number, k: number) => (b * T + t) * n + k;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < n; k++) {
      for (let t = T - 1; t >= 0; t--) {
        const i = at(b, t, k);
        const c = t < T - 1 ? m[at(b, t + 1, k)] * (1 - d[i]) : 0;
        const next = c ? G[at(b, t + 1, k)] : 0;
        G[i] = r[i] + gamma * (1 - d[i]) * ((1 - lambda * c) * q[i] + lambda * c * next);
      }
    }
  }
  return G;
}

function run({ r, d, q, m, shape }: Windows, gamma: number, lambda: number): number[] {
  const y = lambdaReturns(
    f32(r, shape),
    f32(d, shape),
    f32(q, shape),
    f32(m, shape),
    gamma,
    lambda,
  );
  const out = host(y);
  y.dispose();
  return out;
}

const close = (a: number[], b: number[], tol = 1e-4) => assertClose(a, b, tol, { scaled: true });

describe("TD(λ) low-level targets (learner.tdLambda)", () => {
  it("λ = 0 is the spec's one-step target r + γ(1 − d)·Q̄ (§11.1)", () => {
    const shape: [number, number, number] = [1, 3, 2];
    const r = [1, 2, 3, 4, 5, 6];
    const d = [0, 1, 0, 0, 1, 0];
    const q = [10, 20, 30, 40, 50, 60];
    const m = [1, 1, 1, 1, 1, 1];
    close(run({ r, d, q, m, shape }, 0.5, 0), [1 + 5, 2, 3 + 15, 4 + 20, 5, 6 + 30], 1e-6);
  });

  it("λ = 1 sums the discounted rewards to the window's end or the next cut (hand-computed)", () => {
    // One subtask, 4 rows, γ = 0.5. Row 2's mask is 0 (e.g. the episode ended at row 1), so row
    // 1 falls back to its one-step target; rows 2..3 run to the window's end.
    const shape: [number, number, number] = [1, 4, 1];
    const r = [1, 2, 3, 4];
    const d = [0, 0, 0, 0];
    const q = [8, 16, 32, 64];
    const m = [1, 1, 0, 1];
    // G3 = 4 + 0.5·64 = 36; G2 = 3 + 0.5·G3 = 21; G1 = 2 + 0.5·16 = 10 (cut); G0 = 1 + 0.5·G1 = 6.
    close(run({ r, d, q, m, shape }, 0.5, 1), [6, 10, 21, 36], 1e-6);
  });

  it("a finished subtask neither bootstraps nor passes later returns back", () => {
    const shape: [number, number, number] = [1, 3, 1];
    // Row 1 ends the subtask: G1 = r1 = 2; G0 = 1 + γ·((1 − λ)·q0 + λ·G1).
    const g = 0.9;
    const l = 0.6;
    close(run({ r: [1, 2, 3], d: [0, 1, 0], q: [5, 7, 9], m: [1, 1, 0], shape }, g, l), [
      1 + g * ((1 - l) * 5 + l * 2),
      2,
      3 + g * 9,
    ]);
  });

  it("matches the row-by-row recursion on random windows (property)", () => {
    const B = 2;
    const T = 7;
    const n = 3;
    const N = B * T * n;
    const bits = fc.array(fc.integer({ min: 0, max: 1 }), { minLength: N, maxLength: N });
    const reals = fc.array(fc.float({ min: -5, max: 5, noNaN: true }), {
      minLength: N,
      maxLength: N,
    });
    fc.assert(
      fc.property(
        reals,
        reals,
        bits,
        bits,
        fc.double({ min: 0, max: 1, noNaN: true }),
        (r, q, d, m, lambda) => {
          const w: Windows = { r, d, q, m, shape: [B, T, n] };
          close(run(w, 0.99, lambda), reference(w, 0.99, lambda));
        },
      ),
      { numRuns: 40 },
    );
  });
});
