/**
 * Basic layers as pure functions over parameter trees (spec §3 conventions), plus the
 * PyTorch-default initialisation.
 *
 * Ownership: like every jax-js function, every function here consumes its array arguments,
 * parameters included. Pass `tree.ref(p)` / `x.ref` to keep using them.
 *
 * Layout: a Linear(a→b) weight is stored as `w: [a, b]` (input-major, the transpose of PyTorch's
 * `[out, in]`) so that the forward pass is `x @ w + b` without a transpose.
 */
import { type Arr, np, random } from "./engine.js";

/** Affine layer `x @ w + b`. `w: [in, out]`, `b: [out]`. */
export type Linear = { w: Arr; b: Arr };
/** Linear map without bias, `w: [in, out]`. */
export type LinearNoBias = { w: Arr };

/**
 * PyTorch-default initialisation of `nn.Linear` (spec §1 conventions): weight and bias uniform in
 * ±1/sqrt(fan_in). (PyTorch's kaiming_uniform with a=sqrt(5) reduces to exactly this bound.)
 */
export function initLinear(key: Arr, fanIn: number, fanOut: number): Linear {
  const [kw, kb] = splitKey(key, 2);
  const bound = 1 / Math.sqrt(fanIn);
  return {
    w: random.uniform(kw, [fanIn, fanOut], { minval: -bound, maxval: bound }),
    b: random.uniform(kb, [fanOut], { minval: -bound, maxval: bound }),
  };
}

/** PyTorch-default initialisation of a bias-free Linear (weight uniform in ±1/sqrt(fan_in)). */
export function initLinearNoBias(key: Arr, fanIn: number, fanOut: number): LinearNoBias {
  const bound = 1 / Math.sqrt(fanIn);
  return { w: random.uniform(key, [fanIn, fanOut], { minval: -bound, maxval: bound }) };
}

/** Split a key into `n` keys (consumes `key`). */
export function splitKey(key: Arr, n: number): Arr[] {
  const ks = random.split(key, n) as unknown as Arr;
  // random.split returns one array of shape [n, 2]; index it into n separate keys.
  const out: Arr[] = [];
  for (let i = 0; i < n; i++) out.push(ks.ref.slice(i));
  ks.dispose();
  return out;
}

/** Smallest multiple of 4 that is ≥ n. */
export function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * Pad the last axis of `x` with zeros up to `width`. Built with `concatenate` (a materialised
 * array) rather than `np.pad`: jax-js treats pad as a view and re-evaluates its bounds test at
 * every load of the consumer, which disables SIMD in the matmul that reads it.
 */
export function padLast(x: Arr, width: number): Arr {
  const d = x.shape[x.ndim - 1];
  if (d === width) return x;
  if (d > width) throw new Error(`padLast: width ${d} > ${width}`);
  return np.concatenate(
    [x, np.zeros([...x.shape.slice(0, -1), width - d], { dtype: x.dtype })],
    x.ndim - 1,
  );
}

/** Pad axis 0 of a weight matrix `[in, out]` with zero rows up to `rows` (materialised, see padLast). */
export function padRows(w: Arr, rows: number): Arr {
  const r = w.shape[0];
  if (r === rows) return w;
  return np.concatenate([w, np.zeros([rows - r, w.shape[1]], { dtype: w.dtype })], 0);
}

/** One-hot (float32) of integer-valued indices `x` over `n` classes; appends an axis. Consumes `x`. */
export function oneHot(x: Arr, n: number): Arr {
  const classes = np
    .arange(n)
    .astype(np.float32)
    .reshape([...x.shape.map(() => 1), n]);
  return x
    .astype(np.float32)
    .reshape([...x.shape, 1])
    .equal(classes)
    .astype(np.float32);
}

/**
 * Materialisation barrier: the identity, but it forces jax-js' jit to write `x` to memory in the
 * forward pass *and its cotangent* in the backward pass (the backward of slice is a pad, and jax-js
 * materialises every pad input). Without it jax-js fuses elementwise producers (e.g. a ReLU
 * derivative, or the sum of several cotangents) into the weight-gradient reduction of the layer
 * below, recomputing them per output element with strided, non-SIMD loads (measured 60x slower).
 */
export function barrier(x: Arr): Arr {
  const nd = x.ndim;
  const last = x.shape[nd - 1];
  const pads: [number, number][] = x.shape.map((_, i) => (i === nd - 1 ? [0, 1] : [0, 0]));
  const idx: [number, number][] = x.shape.map((s, i) => (i === nd - 1 ? [0, last] : [0, s]));
  return np.pad(x, pads).slice(...idx);
}

/**
 * Forward materialisation: the identity, computed as a sum over a new unit axis so that jax-js
 * writes `x` to memory in its canonical layout. Use it on a value that several backward kernels
 * read (e.g. softmax weights), which jax-js would otherwise recompute inside each of them.
 */
export function materializeFwd(x: Arr): Arr {
  return x.reshape([...x.shape, 1]).sum(-1);
}

/**
 * `x @ w (+ b)` over the last axis of `x` (any leading shape). If `x` was pre-padded with zero
 * columns (wider than `w`), `w` gets matching zero rows; if the input width is not a multiple of 4
 * both are padded, because jax-js only emits SIMD kernels for such widths. Zero rows receive zero
 * gradient, so the result and the parameter gradient are exactly those of the unpadded layer.
 */
export function linear(x: Arr, p: Linear | LinearNoBias): Arr {
  const din = x.shape[x.ndim - 1];
  const dw = p.w.shape[0];
  let w = p.w;
  if (din > dw) {
    w = padRows(w, din);
  } else if (din === dw && din % 4 !== 0) {
    const d4 = roundUp4(din);
    x = padLast(x, d4);
    w = padRows(w, d4);
  } else if (din < dw) {
    throw new Error(`linear: input width ${din} < weight rows ${dw}`);
  }
  // No reshape to 2-D: reshaping a sliced (non-contiguous) view defeats jax-js' SIMD kernels,
  // while a 2-D right operand broadcasts over any leading axes at full speed.
  let y = np.matmul(x, w);
  if ("b" in p) y = y.add(p.b);
  return y;
}

/**
 * `x[..., a:b, <k trailing axes untouched>]`: slice the axis `k + 1` from the end, keeping every
 * other axis.
 */
export function sliceAxisFromEnd(x: Arr, k: number, a: number, b: number): Arr {
  const idx: ([] | [number, number])[] = x.shape.map(() => []);
  idx[x.ndim - 1 - k] = [a, b];
  return x.slice(...idx);
}

/** Swap the last two axes. */
export function swapLast2(x: Arr): Arr {
  const nd = x.ndim;
  const perm = [...Array.from({ length: nd - 2 }, (_, i) => i), nd - 1, nd - 2];
  return x.transpose(perm);
}

/** ReLU. */
export function relu(x: Arr): Arr {
  return np.maximum(x, 0);
}

/** ELU with α = 1 (PyTorch default), `x > 0 ? x : exp(x) − 1`. */
export function elu(x: Arr): Arr {
  // exp of min(x, 0) keeps the unused branch finite (no inf·0 in the gradient).
  return np.where(x.ref.greater(0), x.ref, np.exp(np.minimum(x, 0)).sub(1));
}

/** `1 − x` (logical NOT of a 0/1 mask). */
export function not01(x: Arr): Arr {
  return np.subtract(1, x);
}

/**
 * Group mask (spec §3.2). `groupsA: [..., n, g]`, `groupsB: [..., m, g]` membership matrices with
 * 1 = "not a member". Returns `[..., n, m]` with 0 iff entity i (of A) and entity j (of B) share at
 * least one group, 1 otherwise. (The spec's `1 − Σ_g (1−A)(1−B)` equals this whenever every entity
 * is in at most one group, which holds in every environment here; with several shared groups the
 * reference would produce a negative value that its byte cast turns into "blocked", §20.11.)
 */
export function groupMask(groupsA: Arr, groupsB: Arr): Arr {
  const a = not01(groupsA);
  const b = not01(groupsB);
  const shared = np.matmul(a, swapLast2(b));
  const dtype = shared.dtype;
  return np.where(shared.greater(0.5), 0, 1).astype(dtype);
}

/** Masked mean `Σ(x·m) / (Σm + 1e-8)` over all axes (spec §13). Consumes both. */
export function maskedMean(x: Arr, m: Arr): Arr {
  return x.mul(m.ref).sum().div(m.sum().add(1e-8));
}
