/**
 * Attention helpers of the allocation controller (spec §3.1, §3.2): EntityAttention from
 * precomputed projections (so the critic can share keys and values between proposals) and the
 * "both active" mask.
 *
 * Conventions: masks use 1 = blocked / inactive (spec §1). Every function consumes its arguments.
 */
import type { AttentionParams } from "../attention.js";
import { type Arr, jnn, lax, np } from "../engine.js";
import { groupMask, type Linear, linear, not01 } from "../layers.js";

/** Query, key and value projections `[E, E]` of an attention's `in_trans` (`[E, 3E]`) and its output. */
export type SplitAttention = { wq: Arr; wk: Arr; wv: Arr; out: Linear };

/** Split `in_trans` into its query, key and value blocks (spec §3.1). Consumes `a`. */
export function splitInProjection(a: Pick<AttentionParams, "wIn" | "out">): SplitAttention {
  const E = a.wIn.shape[1] / 3;
  return {
    wq: a.wIn.ref.slice([], [0, E]),
    wk: a.wIn.ref.slice([], [E, 2 * E]),
    wv: a.wIn.slice([], [2 * E, 3 * E]),
    out: a.out,
  };
}

/** "Both active" attention mask `[.., n, n]` from an entity mask `[.., n]` (§3.2 with g = 1). */
export function bothActiveMask(entityMask: Arr): Arr {
  const g = entityMask.reshape([...entityMask.shape, 1]);
  return groupMask(g.ref, g);
}

/**
 * The attention part of EntityAttention (spec §3.1) from precomputed projections, over leading
 * axes `[S, P]`: `q` `[S, P, nq, E]`; keys and values given as blocks along the entity axis
 * (`[S, P, n_b, E]` each, e.g. agents then non-agents: concatenating them would copy the largest
 * tensors of the critic); `pre` `[S, 1 or P, nq, n]` (1 = blocked), `post` `[S, 1 or P, nq]`
 * (1 = inactive query → output 0). Fully masked rows get zero weights (never NaN). Same
 * computation as `entityAttention` in `src/nn/attention.ts`, which projects K and V itself and so
 * cannot share them between proposals. Consumes all arrays.
 */
export function attendQKV(
  q: Arr,
  keys: Arr[],
  vals: Arr[],
  pre: Arr,
  post: Arr,
  out: Linear,
  H: number,
): Arr {
  return attendQKVKeep(q, keys, vals, pre, not01(post), out, H);
}

/**
 * `attendQKV` with the query activity given as `keep` `[S, 1 or P, nq]` (1 = active query,
 * i.e. `1 − post`), e.g. when the caller already has it on the host. Consumes all arrays.
 */
export function attendQKVKeep(
  q: Arr,
  keys: Arr[],
  vals: Arr[],
  pre: Arr,
  keep: Arr,
  out: Linear,
  H: number,
): Arr {
  const [S, P, nq, E] = q.shape;
  const dh = E / H;
  const qh = q.reshape([S, P, nq, H, dh]);
  const sizes = keys.map((k) => k.shape[2]);
  const n = sizes.reduce((a, b) => a + b, 0);
  const logitBlocks = keys.map((k, b) =>
    lax.dot(b < keys.length - 1 ? qh.ref : qh, k.reshape([S, P, sizes[b], H, dh]), {
      lhsContractingDims: [4],
      rhsContractingDims: [4],
      lhsBatchDims: [0, 1, 3],
      rhsBatchDims: [0, 1, 3],
    }),
  ); // [S, P, H, nq, n_b]
  const logits = (logitBlocks.length === 1 ? logitBlocks[0] : np.concatenate(logitBlocks, 4)).mul(
    1 / Math.sqrt(dh),
  );
  const pm = pre.reshape([S, pre.shape[1], 1, nq, n]);
  const masked = np.where(pm.ref.greater(0.5), -1e30, logits);
  const w = jnn.softmax(masked, -1).mul(not01(pm)); // fully masked rows → 0
  let o: Arr | null = null;
  let start = 0;
  vals.forEach((v, b) => {
    const wb = w.ref.slice([], [], [], [], [start, start + sizes[b]]);
    start += sizes[b];
    const ob = lax.dot(wb, v.reshape([S, P, sizes[b], H, dh]), {
      lhsContractingDims: [4],
      rhsContractingDims: [2],
      lhsBatchDims: [0, 1, 2],
      rhsBatchDims: [0, 1, 3],
    }); // [S, P, H, nq, dh]
    o = o ? o.add(ob) : ob;
  });
  w.dispose();
  // Merge the heads. The post-mask factor is applied here as well as after the projection: it
  // changes nothing (inactive queries' outputs are zeroed anyway) but, being arithmetic, it makes
  // jax-js write the transposed layout to memory. A pure view (transpose/reshape; `barrier` is
  // also elided on views) is instead read with strided loads inside the projection's reduction,
  // measured 10x slower than the matmul itself.
  const k4 = keep.reshape([S, keep.shape[1], nq, 1]);
  const oc = (o as unknown as Arr).transpose([0, 1, 3, 2, 4]).reshape([S, P, nq, E]).mul(k4.ref);
  return linear(oc, out).mul(k4);
}

/**
 * EntityAttention (spec §3.1) over `[S, n, d]` entities with queries = the first `nq` entities —
 * the same computation as `entityAttention` in `src/nn/attention.ts`, built on `attendQKV` so that
 * the head-merge is materialised before the output projection (see there). Consumes all.
 */
export function entityAttentionAlloc(
  p: AttentionParams,
  x: Arr,
  preMask: Arr,
  postMask: Arr,
  H: number,
): Arr {
  const [S, n] = x.shape;
  const nq = postMask.shape[1];
  const E = p.wIn.shape[1] / 3;
  const wq = p.wIn.ref.slice([], [0, E]);
  const wk = p.wIn.ref.slice([], [E, 2 * E]);
  const wv = p.wIn.slice([], [2 * E, 3 * E]);
  const x4 = x.reshape([S, 1, n, x.shape[2]]);
  const q = linear(nq === n ? x4.ref : x4.ref.slice([], [], [0, nq]), { w: wq });
  const k = linear(x4.ref, { w: wk });
  const v = linear(x4, { w: wv });
  const pre = (preMask.shape[1] === nq ? preMask : preMask.slice([], [0, nq])).reshape([
    S,
    1,
    nq,
    n,
  ]);
  return attendQKV(q, [k], [v], pre, postMask.reshape([S, 1, nq]), p.out, H).reshape([S, nq, E]);
}
