/**
 * Test helpers for the neural modules: float64 parameter trees, finite-difference gradient
 * checks, host <-> device conversions.
 */
import assert from "node:assert/strict";
import { type Arr, grad, type JsTree, jit, np, tree } from "../../src/nn/engine.js";
import { mulberry32 } from "../../src/nn/synthetic.js";

/** Cast every leaf of a tree to float64 (consumes `t`). */
export function toF64<T extends JsTree<Arr>>(t: T): T {
  return tree.map((a: Arr) => a.astype(np.float64), t) as unknown as T;
}

/** Host copy of an array (does not consume it). */
export function host(x: Arr): number[] {
  return Array.from(x.ref.dataSync() as ArrayLike<number>);
}

/** Scalar value of an array (consumes it). */
export function scalar(x: Arr): number {
  return Number((x.dataSync() as ArrayLike<number>)[0]);
}

/**
 * Assert `actual` and `expected` have the same length and agree elementwise within `tol`, an
 * absolute bound; with `scaled`, within `tol · max(1, |expected|)` (relative for large values).
 */
export function assertClose(
  actual: number[],
  expected: number[],
  tol: number,
  opts: { scaled?: boolean } = {},
): void {
  assert.equal(actual.length, expected.length);
  for (const [i, v] of actual.entries()) {
    const bound = opts.scaled ? tol * Math.max(1, Math.abs(expected[i])) : tol;
    assert.ok(Math.abs(v - expected[i]) <= bound, `index ${i}: ${v} vs ${expected[i]}`);
  }
}

/** A float64 device array from numbers. */
export function f64(values: ArrayLike<number>, shape: number[]): Arr {
  return np.array(Float64Array.from(values), { shape });
}

/** A float32 device array from numbers. */
export function f32(values: ArrayLike<number>, shape: number[]): Arr {
  return np.array(Float32Array.from(values), { shape });
}

/** Random numbers in [-scale, scale) from a seeded generator. */
export function randArray(n: number, seed: number, scale = 1): Float64Array {
  const r = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

export interface FdOptions {
  /**
   * Finite-difference step (default 1e-3). The arithmetic is float64, but jax-js 0.1.25's
   * transcendental functions (exp, log) are only float32-accurate (~1e-7 relative) even on
   * float64 arrays, so steps much below 1e-3 drown in that noise.
   */
  eps?: number;
  /** Random directions per leaf (default 2). */
  directions?: number;
  rtol?: number;
  atol?: number;
  seed?: number;
  /** Leaves whose path contains one of these strings are skipped (e.g. unused parameters). */
  skip?: string[];
}

/**
 * Finite-difference check of `grad(f)` at `params` (a float64 tree; not consumed), one leaf at a
 * time along random directions: `<∇f, v>` vs `(f(p + εv) − f(p − εv)) / 2ε`. `f` must return a
 * scalar and consume its argument. Returns the number of checked leaves.
 */
export function fdCheck<T extends JsTree<Arr>>(
  f: (p: T) => Arr,
  params: T,
  opts: FdOptions = {},
): number {
  const eps = opts.eps ?? 1e-3;
  const dirs = opts.directions ?? 2;
  const rtol = opts.rtol ?? 2e-3;
  const atol = opts.atol ?? 1e-6;
  const [leaves, def] = tree.flatten(tree.ref(params)) as [Arr[], unknown];
  const paths = leafPaths(params);
  const values = leaves.map((l) => Float64Array.from(l.dataSync() as ArrayLike<number>));
  const shapes = leaves.map((l) => l.shape);
  const g = (grad(f) as (p: T) => unknown)(tree.ref(params)) as T;
  const gLeaves = (tree.leaves(g) as Arr[]).map((l) =>
    Float64Array.from(l.dataSync() as ArrayLike<number>),
  );
  const build = (li: number, v: Float64Array, s: number) => {
    const ls = values.map((vals, i) => {
      if (i !== li) return np.array(vals.slice(), { shape: shapes[i] });
      const x = vals.slice();
      for (let k = 0; k < x.length; k++) x[k] += s * v[k];
      return np.array(x, { shape: shapes[i] });
    });
    return tree.unflatten(def as Parameters<typeof tree.unflatten>[0], ls) as unknown as T;
  };
  // Compiled once: the many perturbed evaluations then cost one program dispatch each.
  const fj = jit(f) as unknown as (p: T) => Arr;
  let checked = 0;
  for (let li = 0; li < values.length; li++) {
    if (opts.skip?.some((s) => paths[li].includes(s))) continue;
    for (let d = 0; d < dirs; d++) {
      const v = randArray(values[li].length, (opts.seed ?? 1) * 7919 + li * 31 + d);
      let an = 0;
      for (let k = 0; k < v.length; k++) an += gLeaves[li][k] * v[k];
      const fp = scalar(fj(build(li, v, eps)));
      const fm = scalar(fj(build(li, v, -eps)));
      const fd = (fp - fm) / (2 * eps);
      const tol = atol + rtol * Math.max(Math.abs(fd), Math.abs(an), 1e-3);
      assert.ok(
        Math.abs(fd - an) <= tol,
        `gradient of ${paths[li]} (dir ${d}): analytic ${an}, finite difference ${fd}`,
      );
    }
    checked++;
  }
  (fj as unknown as { dispose(): void }).dispose();
  return checked;
}

/** Dotted paths of the leaves of a tree, in `tree.leaves` order (jax-js: insertion order). */
export function leafPaths(t: unknown, prefix = ""): string[] {
  if (Array.isArray(t)) return t.flatMap((x, i) => leafPaths(x, `${prefix}[${i}]`));
  if (typeof t === "object" && t !== null && t.constructor === Object) {
    return Object.keys(t as object).flatMap((k) =>
      leafPaths((t as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k),
    );
  }
  return [prefix || "."];
}
