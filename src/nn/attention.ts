/**
 * Masked multi-head entity attention ("EntityAttention", spec §3.1).
 *
 * Mask polarity everywhere: 1 = blocked / inactive, 0 = allowed / active (spec §1, §19.1).
 */
import { type Arr, jnn, lax, np } from "./engine.js";
import {
  initLinear,
  initLinearNoBias,
  type Linear,
  linear,
  materializeFwd,
  not01,
  splitKey,
} from "./layers.js";

/** `wIn`: Linear(d_in → 3E, no bias) as `[d_in, 3E]` (blocks Q | K | V); `out`: Linear(E → d_out). */
export type AttentionParams = { wIn: Arr; out: Linear };

/** PyTorch-default initialisation of an EntityAttention(d_in, E, d_out). */
export function initAttention(key: Arr, dIn: number, embed: number, dOut: number): AttentionParams {
  const [k1, k2] = splitKey(key, 2);
  return { wIn: initLinearNoBias(k1, dIn, 3 * embed).w, out: initLinear(k2, embed, dOut) };
}

/** Fill value for blocked logits: exp underflows to exactly 0 after the max subtraction. */
const BLOCKED_LOGIT = -1e30;

/**
 * EntityAttention forward (spec §3.1) over any number of leading (batch) axes `...`:
 *
 * - `x`: `[..., n, d_in]` entity embeddings; the queries are the first `nq` entities.
 * - `preMask`: `[..., m, n]`, m ≥ nq, 1 = query i may not attend entity j; rows ≥ nq ignored.
 * - `postMask`: `[..., nq]`, 1 = inactive query; its output is exactly 0.
 *
 * Returns `[..., nq, d_out]`. A fully masked row gets all-zero attention weights (never NaN) and
 * zero gradient through its logits, so an active query with nothing to attend outputs the bias of
 * the output layer (spec §3.1, §19.2). Consumes all arguments.
 *
 * Performance notes (jax-js 0.1.25 Wasm): Q, K and V use three matmuls over slices of `wIn`
 * (slicing a 3E-wide activation would make its backward a slow pad-and-add gather kernel), Q only
 * for the nq query rows. Of the variants measured for the tiny per-head products (batched
 * `lax.dot`, broadcast-multiply + sum, mixtures), the fastest full training step used `lax.dot`
 * (reduction over the contiguous head dimension) for the logits and broadcast-multiply + sum over
 * the entity axis for the weighted values; the softmax weights are materialised once. Pass a
 * single, contiguous leading axis (flatten `[B, T]` first): every extra leading axis adds index
 * arithmetic to every load of every kernel (measured 10x slower on sliced `[B, T]` views).
 */
export function entityAttention(
  p: AttentionParams,
  x: Arr,
  preMask: Arr,
  postMask: Arr,
  nHeads: number,
): Arr {
  const nd = x.ndim;
  const lead = x.shape.slice(0, nd - 2);
  const n = x.shape[nd - 2];
  const nq = postMask.shape[postMask.ndim - 1];
  const E = p.wIn.shape[1] / 3;
  const dh = E / nHeads;
  if (!Number.isInteger(dh)) throw new Error(`attention: embed ${E} not divisible by ${nHeads}`);
  const all = lead.map((): [] => []);
  const wq = p.wIn.ref.slice([], [0, E]);
  const wk = p.wIn.ref.slice([], [E, 2 * E]);
  const wv = p.wIn.slice([], [2 * E, 3 * E]);
  const xq = nq === n ? x.ref : x.ref.slice(...all, [0, nq]);
  const q = linear(xq, { w: wq });
  const k = linear(x.ref, { w: wk });
  const v = linear(x, { w: wv });
  const L = lead.length;
  const m = preMask.shape[preMask.ndim - 2];
  const q4 = q.reshape([...lead, nq, nHeads, dh]);
  const k4 = k.reshape([...lead, n, nHeads, dh]);
  const batch = [...Array.from({ length: L }, (_, i) => i), L + 1]; // leading axes + head axis
  // logits[..., h, i, j] = <q[..., i, h, :], k[..., j, h, :]> / sqrt(dh)
  const logits = lax
    .dot(q4, k4, {
      lhsContractingDims: [L + 2],
      rhsContractingDims: [L + 2],
      lhsBatchDims: batch,
      rhsBatchDims: batch,
    })
    .mul(1 / Math.sqrt(dh)); // [..., H, nq, n]
  const pre = (m === nq ? preMask : preMask.slice(...all, [0, nq])).reshape([...lead, 1, nq, n]);
  const masked = np.where(pre.ref.greater(0.5), BLOCKED_LOGIT, logits);
  // Materialised once: otherwise jax-js re-evaluates the softmax inside the backward kernels.
  // Multiplying by the allowed-mask zeroes the uniform weights of fully masked rows.
  const w = materializeFwd(jnn.softmax(masked, -1).mul(not01(pre))); // [..., H, nq, n]
  // o[..., i, h, :] = Σ_j w[..., h, i, j] v[..., j, h, :]: broadcast-multiply and sum over j.
  const permW = [...Array.from({ length: L }, (_, i) => i), L + 1, L + 2, L];
  const o = w
    .transpose(permW)
    .reshape([...lead, nq, n, nHeads, 1])
    .mul(v.reshape([...lead, 1, n, nHeads, dh]))
    .sum(-3); // [..., nq, H, dh]
  const out = linear(o.reshape([...lead, nq, E]), p.out);
  return out.mul(not01(postMask).reshape([...lead, nq, 1]));
}
