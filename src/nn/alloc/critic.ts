/**
 * Allocation critic Q_hi(state, allocation) ('standard', spec §8.3) with its own scalar Pop-Art
 * head (§3.5, §13).
 *
 * Conventions: masks use 1 = blocked / inactive / not a member (spec §1). Every function consumes
 * its array arguments (see `src/nn/engine.ts`).
 */
import { type AttentionParams, initAttention } from "../attention.js";
import { type Arr, np } from "../engine.js";
import { barrier, initLinear, type Linear, linear, not01, relu, splitKey } from "../layers.js";
import type { PopArtHead } from "../mixer.js";
import { initTaskEmbed, type TaskEmbedParams } from "../taskEmbed.js";
import { attendQKV, bothActiveMask, splitInProjection } from "./attend.js";
import type { AllocNetConfig } from "./config.js";

/** Parameters (spec §3.6 "allocation critic"). */
export type CriticParams = {
  /** in_fc_ent: Linear(De → E'). */
  inFcEnt: Linear;
  /** in_fc_alloc: TaskEmbedder(E') of the membership (agent rows: the evaluated allocation). */
  taskEmbed: TaskEmbedParams;
  /** CountEmbedder: Linear(2 → E') on [#agents_k, #non-agents_k], output × 0.2 (§3.4). */
  countEmbed: Linear;
  attn: AttentionParams;
  /** out_fc: Linear(E' → 1). */
  outFc: Linear;
  /** Pop-Art affine head, `w`, `b`: [1] (w = 1, b = 0 at init). */
  popart: PopArtHead;
};

/** PyTorch-default initialisation; Pop-Art head w = 1, b = 0 (§3.5). Consumes `key`. */
export function initCritic(key: Arr, cfg: AllocNetConfig): CriticParams {
  const E = cfg.qEmbed;
  const [k1, k2, k3, k4, k5] = splitKey(key, 5);
  return {
    inFcEnt: initLinear(k1, cfg.entityShape, E),
    taskEmbed: initTaskEmbed(k2, cfg.nTasks + cfg.nExtraTasks, E),
    countEmbed: initLinear(k3, 2, E),
    attn: initAttention(k4, E, E, E),
    outFc: initLinear(k5, E, 1),
    popart: { w: np.ones([1]), b: np.zeros([1]) },
  };
}

/** State inputs of the critic (a subset of `AllocInputs`). */
export type CriticInputs = {
  /** [S, Ne, W ≥ De] */
  entities: Arr;
  /** [S, Ne] 1 = inactive. */
  entityMask: Arr;
  /** [S, Ne, Nt] 0 = member; only the non-agent rows are read here. */
  entity2taskMask: Arr;
};

/**
 * The critic body without the Pop-Art head (spec §8.3): for `alloc` `[S, P, Na, Nt]` (one-hot
 * rows; zero rows for unallocated agents) returns `out_fc(mean_agents x2)` as `[S, P]`.
 *
 * ```
 * memb = 1 − entity2task_mask;  memb[agent rows] = alloc
 * x1   = ReLU(in_fc_ent(entities) + in_fc_alloc(memb) + count_embed(memb))
 * x2   = ReLU(attn(x1, pre = both active, post = agent inactivity))      (queries: agents)
 * out  = out_fc(Σ_i x2[i] / Na)                                           (divides by Na, §8.3)
 * ```
 *
 * Exact reformulation used for speed (values and gradients unchanged):
 *
 * - With `C[k] = 0.2·(n_ag[k]·W0 + n_na[k]·W1 + b)` (CountEmbedder, §3.4) and `T[k]` the permuted
 *   task code (§3.3), entity e gets `Σ_k memb[e,k]·(T[k] + C[k])`. The allocation-independent part
 *   `G[k] = T[k] + 0.2·(n_na[k]·W1 + b)` is computed once per state; the allocation enters only
 *   through `0.2·W0·Σ_k memb[e,k]·n_ag[k]`.
 * - A non-agent entity's `x1` therefore depends on the allocation only through the number of
 *   agents c ∈ {0..Na} in its subtask. Its attention keys and values are computed once per state
 *   for every c (a table of Na+1 rows) and picked per proposal, instead of once per proposal.
 * - Sums over the Nt subtask columns are written as unrolled elementwise sums: the Wasm backend
 *   runs matmuls with such short inner dimensions through a slow generic kernel.
 *
 * `in_fc_ent` runs once per state and is shared by all P allocations. Consumes all arguments.
 */
export function criticBody(
  p: Omit<CriticParams, "popart">,
  inp: CriticInputs,
  alloc: Arr,
  perm: Arr,
  cfg: AllocNetConfig,
): Arr {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, qEmbed: E, qHeads: H } = cfg;
  const S = alloc.shape[0];
  const F = barrier(linear(inp.entities, p.inFcEnt)); // [S, Ne, E]
  const membNa = not01(inp.entity2taskMask.slice([], [Na, Ne])); // [S, Nn, Nt]
  const nNa = membNa.ref.sum(1); // [S, Nt] non-agent members per subtask
  const nAg = alloc.ref.sum(2); // [S, P, Nt] agents per subtask
  const cw = p.countEmbed.w; // [2, E]: row 0 multiplies #agents, row 1 #non-agents (§3.4)
  const w0 = cw.ref.slice([0, 1]).mul(0.2).reshape([1, 1, 1, E]);
  const w1 = cw.slice([1, 2]).reshape([1, 1, E]);
  const permW = np.matmul(perm, p.taskEmbed.w).slice([0, Nt]); // [Nt, E] (extra task columns are 0)
  // G[s, k] = T[k] + 0.2·(n_na[s,k]·W1 + b)
  const G = permW
    .reshape([1, Nt, E])
    .add(nNa.reshape([S, Nt, 1]).mul(w1).add(p.countEmbed.b).mul(0.2)); // [S, Nt, E]
  const { wq, wk, wv, out } = splitInProjection(p.attn);
  const em = inp.entityMask;
  const pre = bothActiveMask(em.ref).slice([], [0, Na]).reshape([S, 1, Na, Ne]);
  const post = em.slice([], [0, Na]).reshape([S, 1, Na]);
  return criticCore(
    { F, membNa, inSub: membNa.ref.sum(-1), G, nAg, alloc, w0, wq, wk, wv, outFc: p.outFc },
    (qa, keys, vals) => attendQKV(qa, keys, vals, pre, post, out, H),
    cfg,
    Na,
  );
}

/** Inputs of `criticCore`, per state `S` and proposal `P`; E = E' (the critic's width). */
export type CriticCoreInputs = {
  /** `in_fc_ent(entities)`, `[S, Ne, E]`. */
  F: Arr;
  /** Non-agent membership (1 = member), `[S, Nn, Nt]`. */
  membNa: Arr;
  /** 1 where a non-agent entity is in some subtask, `[S, Nn]`. */
  inSub: Arr;
  /** Allocation-independent subtask code `G[k] = T[k] + 0.2·(n_na[k]·W1 + b)`, `[S, Nt, E]`. */
  G: Arr;
  /** Agents per subtask of each allocation, `[S, P, Nt]`. */
  nAg: Arr;
  /** The allocations, one-hot rows (zero rows for unallocated agents), `[S, P, Na, Nt]`. */
  alloc: Arr;
  /** 0.2·W0 of the CountEmbedder (multiplies the agent count), broadcastable to `[.., E]`. */
  w0: Arr;
  /** The attention's query, key and value projections `[E, E]`. */
  wq: Arr;
  wk: Arr;
  wv: Arr;
  outFc: Linear;
};

/**
 * The allocation-dependent part of the critic body (spec §8.3, reformulated as described at
 * `criticBody`), shared by training (`criticBody`) and acting (`actScore` in `act.ts`), which
 * differ only in how they get `F`, `G`, the masks and the weights. `attend(q, keys, vals)` is the
 * masked attention over the agent queries (key and value blocks: agents, then non-agents).
 * Returns `out_fc(Σ_i x2[i] / poolAgents)` as `[S, P]`. Consumes all arguments.
 */
export function criticCore(
  inp: CriticCoreInputs,
  attend: (q: Arr, keys: Arr[], vals: Arr[]) => Arr,
  cfg: AllocNetConfig,
  poolAgents: number,
): Arr {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, qEmbed: E } = cfg;
  const Nn = Ne - Na;
  const { F, membNa, inSub, G, nAg, alloc, w0, wq, wk, wv } = inp;
  const [S, P] = alloc.shape;
  const col = (x: Arr, k: number) =>
    x.ref.slice(...x.shape.slice(0, -1).map((): [] => []), [k, k + 1]);
  const rowG = (k: number) => G.ref.slice([], [k, k + 1]); // [S, 1, E]

  // Non-agent entities. Their x1 depends on the allocation only through c = the number of agents
  // in their subtask: Σ_k memb[e,k]·n_ag[k] (0 for entities in no subtask).
  let baseNa = F.ref.slice([], [Na, Ne]); // [S, Nn, E]
  for (let k = 0; k < Nt; k++) baseNa = baseNa.add(col(membNa, k).mul(rowG(k)));
  let cnt: Arr | null = null;
  for (let k = 0; k < Nt; k++) {
    const t = col(membNa, k).reshape([S, 1, Nn]).mul(col(nAg, k)); // [S, P, Nn]
    cnt = cnt ? cnt.add(t) : t;
  }
  membNa.dispose();
  let kNa: Arr;
  let vNa: Arr;
  const C = Na + 1;
  if (P > C) {
    // Table over c = 0..Na, computed once per state, then picked per proposal. The barriers
    // (layers.ts) stop jax-js from fusing elementwise producers into the consuming matmul or
    // contraction, which would recompute them once per output column.
    const cs = np.arange(C).astype(np.float32).reshape([1, 1, C, 1]);
    const x1Tab = barrier(
      relu(baseNa.reshape([S, Nn, 1, E]).add(cs.ref.mul(inSub.reshape([S, Nn, 1, 1])).mul(w0.ref))),
    ); // [S, Nn, C, E]
    const kTab = linear(x1Tab.ref, { w: wk.ref });
    const vTab = linear(x1Tab, { w: wv.ref });
    // Each non-agent entity's row of the table for its agent count (one-hot over the count; the
    // single nonzero term makes the sum exact).
    const hit = cnt!
      .reshape([S, P, Nn, 1, 1])
      .equal(cs.reshape([1, 1, 1, C, 1]))
      .astype(np.float32); // [S, P, Nn, C, 1]
    kNa = barrier(hit.ref.mul(kTab.reshape([S, 1, Nn, C, E])).sum(3));
    vNa = barrier(hit.mul(vTab.reshape([S, 1, Nn, C, E])).sum(3));
  } else {
    // Few allocations per state (the executed one, the target's best one): direct.
    const x1n = barrier(
      relu(
        baseNa.reshape([S, 1, Nn, E]).add(
          cnt!
            .mul(inSub.reshape([S, 1, Nn]))
            .reshape([S, P, Nn, 1])
            .mul(w0.ref),
        ),
      ),
    ); // [S, P, Nn, E]
    kNa = linear(x1n.ref, { w: wk.ref });
    vNa = linear(x1n, { w: wv.ref });
  }

  // Agents: x1 = ReLU(F_i + Σ_k alloc[i,k]·G[k] + 0.2·W0·Σ_k alloc[i,k]·n_ag[k]).
  let xa = F.slice([], [0, Na]).reshape([S, 1, Na, E]);
  let agCnt: Arr | null = null;
  for (let k = 0; k < Nt; k++) {
    const a = col(alloc, k); // [S, P, Na, 1]
    xa = xa.add(a.ref.mul(rowG(k).reshape([S, 1, 1, E])));
    const t = a.mul(col(nAg, k).reshape([S, P, 1, 1]));
    agCnt = agCnt ? agCnt.add(t) : t;
  }
  tree_dispose([G, nAg, alloc]);
  const x1a = barrier(relu(xa.add(agCnt!.mul(w0)))); // [S, P, Na, E]
  const qa = linear(x1a.ref, { w: wq });
  const ka = linear(x1a.ref, { w: wk });
  const va = linear(x1a, { w: wv });
  const att = attend(qa, [ka, kNa], [va, vNa]); // [S, P, Na, E]
  const pooled = relu(att)
    .sum(2)
    .mul(1 / poolAgents);
  return linear(pooled, inp.outFc).reshape([S, P]);
}

function tree_dispose(xs: (Arr | null)[]): void {
  for (const x of xs) x?.dispose();
}

/** Split the Pop-Art head off the critic parameters (no copies; ownership moves). */
export function splitCritic(p: CriticParams): [Omit<CriticParams, "popart">, PopArtHead] {
  const { popart, ...body } = p;
  return [body, popart];
}

/** Q_hi in normalised space: `w·body + b` (spec §8.3). Consumes all. */
export function criticForward(
  p: CriticParams,
  inp: CriticInputs,
  alloc: Arr,
  perm: Arr,
  cfg: AllocNetConfig,
): Arr {
  const [body, head] = splitCritic(p);
  return criticBody(body, inp, alloc, perm, cfg).mul(head.w).add(head.b);
}

/**
 * The stored (executed) allocation of each state as `[S, 1, Na, Nt]`: the agent rows of
 * `entity2task_mask`, `1 − mask` (§8.3: "if no allocation is supplied, the stored agent rows are
 * used"). Consumes `entity2taskMask`.
 */
export function storedAllocation(entity2taskMask: Arr, nAgents: number): Arr {
  const [S, , Nt] = entity2taskMask.shape;
  return not01(entity2taskMask.slice([], [0, nAgents])).reshape([S, 1, nAgents, Nt]);
}
