/**
 * Proposal policy π(allocation | state, previous allocation): the autoregressive pointer network
 * of spec §8.2, with per-proposal log-probability, entropy and best-probability statistics.
 *
 * Conventions: masks use 1 = blocked / inactive / not a member (spec §1, §19.1). Every function
 * consumes its array arguments (jax-js ownership, see `src/nn/engine.ts`); pass `.ref` /
 * `tree.ref` to keep them.
 *
 * Implementation notes (exact reformulations of the spec's pseudo-code, chosen for speed on the
 * Wasm CPU backend; none changes a value or a gradient):
 *
 * - The spec keeps one copy of the subtask embeddings `te` (Nt × E) per proposal and adds the
 *   update to the chosen row. Here `te[k] = task_emb[k] + Σ_{i'<i} oh_{i'}[k]·upd_{i'}` is never
 *   materialised: the logits need only `te[k]·a_i = task_emb[k]·a_i + Σ oh_{i'}[k]·(upd_{i'}·a_i)`,
 *   and the update needs only the chosen row `te[k*]`. This removes every (proposal × Nt × E)
 *   tensor from the default path.
 * - `count_embed([nonag, ag])·a_i = nonag·(W0·a_i) + ag·(W1·a_i) + b·a_i`, so the count embedding
 *   enters the logits through three scalars per agent.
 * - `embed_update(ReLU([te[k*], a_i])) = ReLU(te[k*])·W_top + (ReLU(a_i)·W_bot + b)`; the second
 *   term is per state, not per proposal.
 * - Sampling uses the Gumbel-max trick; the reference draws a Gumbel-softmax sample at temperature
 *   1 and takes its argmax, which is the same distribution (§8.2 notes).
 */
import { type AttentionParams, initAttention } from "../attention.js";
import { type Arr, jnn, lax, np, random } from "../engine.js";
import {
  barrier,
  groupMask,
  initLinear,
  type Linear,
  linear,
  not01,
  oneHot,
  relu,
  splitKey,
} from "../layers.js";
import { initTaskEmbed, type TaskEmbedParams, taskEmbed } from "../taskEmbed.js";
import { bothActiveMask, entityAttentionAlloc } from "./attend.js";
import type { AllocNetConfig } from "./config.js";

/**
 * Masked logits get the most negative finite float32 (spec §8.2): its probability underflows to
 * exactly 0 while `log_softmax`, the entropy and `0·log 0` stay finite (−∞ would give NaN).
 */
export const MASKED_LOGIT = -3.4028234663852886e38;

/** Parameters of the proposal policy (spec §3.6 "proposal policy", §8.2). */
export type PolicyParams = {
  /** fc1: Linear(De → E). */
  fc1: Linear;
  /** TaskEmbedder(E) of the membership (agent rows: previous allocation). */
  taskEmbed: TaskEmbedParams;
  /** EntityAttention(E, E, E), shared by the non-agent pass and (ablation) the agent pass. */
  attn: AttentionParams;
  /**
   * embed_update: Linear(2E → E) on ReLU([te[k*], a_i]) (rows 0..E−1 act on te[k*]); with
   * `sel_task_upd = false` Linear(3E → E) on ReLU([te[k], a_i, te[k*]]). Unused when
   * `pi_autoreg = false` (kept so every configuration has the same parameter tree).
   */
  embedUpdate: Linear;
  /** count_embed: Linear(2 → E) on [nonag_cnt, ag_cnt] (autoregressive) — Linear(1 → E) on nonag_cnt otherwise. */
  countEmbed: Linear;
  /**
   * `pi_pointer_net = false` only: Linear(2E → Nt) on `ReLU([agent_emb, summary])` giving the
   * logits. In that variant `fc1` is Linear(De + Nt → E) on `[entities, membership]`,
   * `embed_update` is Linear(2E + Nt → E) on `ReLU([summary, agent_emb, onehot])`, and
   * `taskEmbed` / `countEmbed` are unused (kept so the tree has the usual keys).
   */
  logitHead?: Linear;
};

/** PyTorch-default initialisation. Consumes `key`. */
export function initPolicy(key: Arr, cfg: AllocNetConfig): PolicyParams {
  const E = cfg.piEmbed;
  const Nt = cfg.nTasks;
  const [k1, k2, k3, k4, k5, k6] = splitKey(key, 6);
  if (!cfg.flags.pointerNet) {
    // pi_pointer_net = false ablation (§8.2): membership columns on the entity features.
    return {
      fc1: initLinear(k1, cfg.entityShape + Nt, E),
      taskEmbed: initTaskEmbed(k2, cfg.nTasks + cfg.nExtraTasks, E),
      attn: initAttention(k3, E, E, E),
      embedUpdate: initLinear(k4, 2 * E + Nt, E),
      countEmbed: initLinear(k5, cfg.flags.autoreg ? 2 : 1, E),
      logitHead: initLinear(k6, 2 * E, Nt),
    };
  }
  k6.dispose();
  return {
    fc1: initLinear(k1, cfg.entityShape, E),
    taskEmbed: initTaskEmbed(k2, cfg.nTasks + cfg.nExtraTasks, E),
    attn: initAttention(k3, E, E, E),
    embedUpdate: initLinear(k4, (cfg.flags.selTaskUpd ? 2 : 3) * E, E),
    countEmbed: initLinear(k5, cfg.flags.autoreg ? 2 : 1, E),
  };
}

/**
 * Meta-state inputs of the allocation controller (spec §8.1), `S` states. Entity rows may be
 * wider than De (zero columns, see `linear`).
 */
export type AllocInputs = {
  /** [S, Ne, W ≥ De] raw entity features. */
  entities: Arr;
  /** [S, Ne] 1 = inactive slot. */
  entityMask: Arr;
  /** [S, Ne, Nt] 0 = member. Non-agent rows: the env's membership; agent rows: stored allocation. */
  entity2taskMask: Arr;
  /** [S, Nt] 1 = subtask inactive. */
  taskMask: Arr;
  /** [S, Na, Nt] one-hot allocation in force before the decision (zeros at episode start). */
  lastAlloc: Arr;
};

/** Per-state encodings shared by every proposal (spec §8.2, "non-agent part" / "agent part"). */
export type PolicyEncoding = {
  /**
   * [S, Nt, E] Σ over member non-agent entities of the attention outputs (sum, not mean).
   * `pi_pointer_net = false`: [S, 1, E], the task summary = mean of the non-agent outputs.
   */
  taskEmb: Arr;
  /** [S, Na, E] agent embeddings (linear: fc1 + task code of the previous subtask). */
  agentEmb: Arr;
  /** [S, Nt] 0.2 · number of non-agent members. */
  nonagCnt: Arr;
};

/**
 * The per-state part of the policy (spec §8.2): `x1 = fc1(entities) + task_embed(memb)` with the
 * agent rows of the membership replaced by `last_alloc`; same-subtask attention among non-agent
 * entities (no ReLU after it), summed per subtask into `task_emb`; agent embeddings are the linear
 * `x1` rows (plus agent self-attention with `pi_ag_attn`). `perm` is this call's TaskEmbedder
 * permutation matrix (§3.3). Consumes `p`, the inputs used and `perm`.
 */
export function policyEncode(
  p: Pick<PolicyParams, "fc1" | "taskEmbed" | "attn">,
  inp: Pick<AllocInputs, "entities" | "entityMask" | "entity2taskMask" | "lastAlloc">,
  perm: Arr,
  cfg: AllocNetConfig,
): PolicyEncoding {
  const Na = cfg.nAgents;
  const Ne = cfg.nEntities;
  const e2tNa = inp.entity2taskMask.slice([], [Na, Ne]); // [S, Nn, Nt]
  const membNa = not01(e2tNa.ref);
  const memb = np.concatenate([inp.lastAlloc, membNa.ref], 1); // [S, Ne, Nt]
  // The barrier keeps jax-js from fusing the attention's input cotangent into fc1's weight
  // gradient (see `barrier` in layers.ts).
  let x1: Arr;
  if (cfg.flags.pointerNet) {
    x1 = barrier(linear(inp.entities, p.fc1).add(taskEmbed(p.taskEmbed, memb, perm)));
  } else {
    // pi_pointer_net = false: membership concatenated to the entity features (§8.2).
    perm.dispose();
    p.taskEmbed.w.dispose();
    const ent = inp.entities.slice([], [], [0, cfg.entityShape]);
    x1 = barrier(linear(np.concatenate([ent, memb], 2), p.fc1));
  }
  const emNa = inp.entityMask.ref.slice([], [Na, Ne]);
  let pre: Arr;
  if (cfg.flags.subtaskMask) {
    pre = groupMask(e2tNa.ref, e2tNa);
  } else {
    // subtask_mask = false ablation: "both active" instead of share-a-subtask (§8.2)
    e2tNa.dispose();
    pre = bothActiveMask(emNa.ref);
  }
  const attnP: [AttentionParams, AttentionParams | null] = cfg.flags.agAttn
    ? shareAttn(p.attn)
    : [p.attn, null];
  const yNa = entityAttentionAlloc(
    attnP[0],
    relu(x1.ref.slice([], [Na, Ne])),
    pre,
    emNa,
    cfg.piHeads,
  );
  // task_emb[k] = Σ_e memb[e, k]·y_na[e]  →  [S, Nt, E]
  // pi_pointer_net = false: summary = mean of the non-agent outputs over the Ne − Na non-agent
  // slots (inactive slots output 0 and count, like the reference's other means over padded rows,
  // §19.7)  →  [S, 1, E]
  const taskEmb = cfg.flags.pointerNet
    ? lax.dot(membNa.ref, yNa, {
        lhsContractingDims: [1],
        rhsContractingDims: [1],
        lhsBatchDims: [0],
        rhsBatchDims: [0],
      })
    : yNa.mean(1, { keepdims: true });
  const nonagCnt = membNa.sum(1).mul(0.2);
  let agentEmb = x1.slice([], [0, Na]);
  const emAg = inp.entityMask.slice([], [0, Na]);
  if (attnP[1]) {
    // pi_ag_attn ablation: agent i attends active agents j > i (mask = inactive ∨ j ≤ i).
    const order = np.tri(Na, Na, 0).reshape([1, Na, Na]); // 1 where j ≤ i
    const agPre = np.maximum(bothActiveMask(emAg.ref), order);
    agentEmb = agentEmb.ref.add(
      entityAttentionAlloc(attnP[1], relu(agentEmb), agPre, emAg, cfg.piHeads),
    );
  } else {
    emAg.dispose();
  }
  return { taskEmb, agentEmb, nonagCnt };
}

function shareAttn(a: AttentionParams): [AttentionParams, AttentionParams] {
  return [{ wIn: a.wIn.ref, out: { w: a.out.w.ref, b: a.out.b.ref } }, a];
}

/** How the rollout picks each agent's subtask. */
export type RolloutMode =
  /**
   * Sample from π by Gumbel-max with standard Gumbel noise `[Na, S, P, Nt]`, or drawn here from
   * `key`. `stats: false` (acting) skips the statistics, which are then returned as zeros:
   * sampling needs only the masked logits, not the log-softmax.
   */
  | { key: Arr; stats?: boolean }
  | { noise: Arr; stats?: boolean }
  /**
   * Teacher forcing: `[S, P, Na, Nt]` allocations (one-hot rows, zero rows for inactive agents),
   * e.g. proposals sampled earlier with the same parameters and permutation: gives exactly the
   * statistics (and gradients) the sampling pass had.
   */
  | { given: Arr };

/** Proposals and per-proposal statistics (spec §8.2 "Outputs"). */
export type Rollout = {
  /** [S, P, Na, Nt] one-hot allocations, zero rows for inactive agents (no gradient). */
  alloc: Arr;
  /** [S, P] Σ over active agents of log π(chosen subtask). */
  logPi: Arr;
  /** [S, P] Σ over active agents of the per-step entropy. */
  entropy: Arr;
  /** [S, P] mean over active agents of the per-step max probability (0 without active agents). */
  bestProb: Arr;
};

/**
 * The allocation-independent part of the autoregressive logits (§8.2), per state: `task_emb[k]·a_i`
 * plus the count-embedding terms of the non-agent counts and the bias, `baseLogit` `[S, Na, Nt]`,
 * and `W0·a_i` (`cwAg`, `[S, Na, 1]`), which multiplies the running agent count. `cwW` is the
 * CountEmbedder's `[W0; W1; b]` as `[3, E]`. Unscaled (the caller divides by √E). Shared by
 * training (`policyRollout`) and acting (`actPropose`). Consumes all arguments.
 */
export function baseLogits(
  agentEmb: Arr,
  taskEmb: Arr,
  nonagCnt: Arr,
  cwW: Arr,
): { baseLogit: Arr; cwAg: Arr } {
  const [S, Nt] = taskEmb.shape;
  const dotsBase = lax.dot(agentEmb.ref, taskEmb, {
    lhsContractingDims: [2],
    rhsContractingDims: [2],
    lhsBatchDims: [0],
    rhsBatchDims: [0],
  }); // [S, Na, Nt]
  const cw = lax.dot(agentEmb, cwW, { lhsContractingDims: [2], rhsContractingDims: [1] }); // [S, Na, 3]
  const baseLogit = dotsBase
    .add(nonagCnt.reshape([S, 1, Nt]).mul(cw.ref.slice([], [], [0, 1])))
    .add(cw.ref.slice([], [], [2, 3]));
  return { baseLogit, cwAg: cw.slice([], [], [1, 2]) };
}

/** `Σ_k sel[s, p, k]·rows[s, k, :]` for one-hot `sel` `[S, P, Nt]`, `rows` `[S, Nt, E]`. Consumes both. */
export function selectRows(sel: Arr, rows: Arr): Arr {
  const Nt = sel.shape[2];
  let out: Arr | null = null;
  for (let k = 0; k < Nt; k++) {
    const t = sel.ref.slice([], [], [k, k + 1]).mul(rows.ref.slice([], [k, k + 1]));
    out = out ? out.add(t) : t;
  }
  sel.dispose();
  rows.dispose();
  return out!;
}

/** Column i of axis 1 of `[S, Na, X]` as `[S, 1, X]`. */
function agentRow(x: Arr, i: number): Arr {
  return x.slice([], [i, i + 1]);
}

/**
 * Sample (or teacher-force) `P` allocations per state and return their statistics (spec §8.2).
 * Agents are assigned in the fixed order 0..Na−1; inactive agents get nothing; inactive subtasks
 * (`taskMask = 1`) have probability exactly 0. Consumes every argument.
 */
export function policyRollout(
  p: Pick<PolicyParams, "embedUpdate" | "countEmbed" | "logitHead">,
  enc: PolicyEncoding,
  taskMask: Arr,
  entityMask: Arr,
  P: number,
  mode: RolloutMode,
  cfg: AllocNetConfig,
): Rollout {
  if (!cfg.flags.pointerNet) return rolloutNoPointer(p, enc, taskMask, entityMask, P, mode, cfg);
  if (!cfg.flags.autoreg) return rolloutIndependent(p, enc, taskMask, entityMask, P, mode, cfg);
  if (!cfg.flags.selTaskUpd) return rolloutDense(p, enc, taskMask, entityMask, P, mode, cfg);
  const Na = cfg.nAgents;
  const Nt = cfg.nTasks;
  const E = cfg.piEmbed;
  const { taskEmb, agentEmb, nonagCnt } = enc;
  const S = taskEmb.shape[0];
  const scale = 1 / Math.sqrt(E);
  const sg = lax.stopGradient;
  const active = not01(entityMask.slice([], [0, cfg.nAgents])).reshape([S, Na, 1]);
  const tmask = taskMask.reshape([S, 1, Nt]).greater(0.5);
  // One Gumbel draw for all agents (fewer kernels than one per agent).
  const gumbel =
    "key" in mode ? random.gumbel(mode.key, [Na, S, P, Nt]) : "noise" in mode ? mode.noise : null;
  const given = "given" in mode ? sg(mode.given) : null;
  const wantStats = "given" in mode || mode.stats !== false;

  const cwW = np.concatenate([p.countEmbed.w, p.countEmbed.b.reshape([1, E])], 0); // [3, E]
  const { baseLogit, cwAg } = baseLogits(agentEmb.ref, taskEmb.ref, nonagCnt, cwW);
  const wTop = p.embedUpdate.w.ref.slice([0, E]);
  const wBot = p.embedUpdate.w.slice([E, 2 * E]);
  const aBot = linear(relu(agentEmb.ref), { w: wBot, b: p.embedUpdate.b }); // [S, Na, E]

  const ohs: Arr[] = [];
  const upds: Arr[] = [];
  const dots: Arr[] = [];
  const allocRows: Arr[] = [];
  let agCnt: Arr | null = null;
  let logPi: Arr | null = null;
  let entropy: Arr | null = null;
  let bestSum: Arr | null = null;
  for (let i = 0; i < Na; i++) {
    let logit = agentRow(baseLogit.ref, i); // [S, 1, Nt]
    if (agCnt) logit = logit.add(agCnt.ref.mul(agentRow(cwAg.ref, i)));
    for (let j = 0; j < i; j++)
      logit = logit.add(ohs[j].ref.mul(dots[j].ref.slice([], [], [i, i + 1])));
    logit = logit.mul(scale);
    if (logit.shape[1] !== P) logit = np.broadcastTo(logit, [S, P, Nt]);
    const masked = np.where(tmask.ref, MASKED_LOGIT, logit);
    const act = agentRow(active.ref, i); // [S, 1, 1]
    let sel: Arr;
    if (!wantStats) {
      // Acting: Gumbel-max on the masked logits (no log-softmax needed). The one-hot is
      // "equals the row maximum": with continuous noise ties have probability 0, except in rows
      // whose subtasks are all masked (padding rows; their results are never used).
      const z = masked.add(gumbel!.ref.slice(i));
      sel = z.ref.equal(z.max(-1, { keepdims: true })).astype(np.float32);
    } else {
      const logp = jnn.logSoftmax(masked, -1); // [S, P, Nt]
      if (gumbel) {
        sel = oneHot(np.argmax(sg(logp.ref).add(gumbel.ref.slice(i)), -1), Nt);
      } else {
        sel = given!.ref.slice([], [], i); // [S, P, Nt]
      }
      const probs = np.exp(logp.ref);
      const act2 = act.ref.reshape([S, 1]);
      const lp = logp.ref.mul(sel.ref).sum(-1).mul(act2.ref);
      const en = probs.ref.mul(logp).sum(-1).mul(act2.ref).neg();
      const bp = probs.max(-1).mul(act2);
      logPi = logPi ? logPi.add(lp) : lp;
      entropy = entropy ? entropy.add(en) : en;
      bestSum = bestSum ? bestSum.add(bp) : bp;
    }
    const oh = sel.ref.mul(act);
    agCnt = agCnt ? agCnt.add(oh.ref.mul(0.2)) : oh.ref.mul(0.2);
    allocRows.push(oh.ref.reshape([S, P, 1, Nt]));
    if (i < Na - 1) {
      // te[k*] = task_emb[k*] + Σ_{i'<i} [k*_{i'} = k*]·upd_{i'}  (only active agents updated it)
      // Unrolled over the Nt subtasks: the Wasm backend runs contractions this short through a
      // slow generic kernel, while this sum fuses into one elementwise kernel.
      let teSel = selectRows(sel.ref, taskEmb.ref); // [S, P, E]
      for (let j = 0; j < i; j++) {
        const same = ohs[j].ref.mul(sel.ref).sum(-1, { keepdims: true }); // [S, P, 1]
        teSel = teSel.add(same.mul(upds[j].ref));
      }
      const upd = linear(barrier(relu(teSel)), { w: wTop.ref }).add(agentRow(aBot.ref, i)); // [S, P, E]
      // upd·a_j for every agent j (the later ones enter their logits)
      const d = lax.dot(upd.ref, agentEmb.ref, {
        lhsContractingDims: [2],
        rhsContractingDims: [2],
        lhsBatchDims: [0],
        rhsBatchDims: [0],
      }); // [S, P, Na]
      ohs.push(oh);
      upds.push(upd);
      dots.push(d);
    } else {
      oh.dispose();
    }
    sel.dispose();
  }
  for (const x of [...ohs, ...upds, ...dots]) x.dispose();
  for (const x of [agCnt, baseLogit, cwAg, wTop, aBot, taskEmb, agentEmb, tmask, given, gumbel])
    x?.dispose();
  const alloc = sg(np.concatenate(allocRows, 2));
  if (!wantStats) {
    active.dispose();
    return {
      alloc,
      logPi: np.zeros([S, P]),
      entropy: np.zeros([S, P]),
      bestProb: np.zeros([S, P]),
    };
  }
  const nActive = active.sum([1, 2]).reshape([S, 1]);
  const bestProb = bestSum!.div(np.maximum(nActive, 1));
  return { alloc, logPi: logPi!, entropy: entropy!, bestProb };
}

/** Sample or read agent i's choice, then accumulate the statistics (shared by the ablations). */
function chooseAndStats(
  logit: Arr,
  tmask: Arr,
  act: Arr,
  noise: Arr | null,
  given: Arr | null,
  i: number,
  Nt: number,
): { sel: Arr; oh: Arr; lp: Arr; en: Arr; bp: Arr } {
  const sg = lax.stopGradient;
  const [S] = logit.shape;
  const logp = jnn.logSoftmax(np.where(tmask, MASKED_LOGIT, logit), -1);
  let sel: Arr;
  if (noise) {
    sel = oneHot(np.argmax(sg(logp.ref).add(noise), -1), Nt);
  } else {
    sel = given!.slice([], [], i);
  }
  const act2 = act.ref.reshape([S, 1]);
  const probs = np.exp(logp.ref);
  const lp = logp.ref.mul(sel.ref).sum(-1).mul(act2.ref);
  const en = probs.ref.mul(logp).sum(-1).mul(act2.ref).neg();
  const bp = probs.max(-1).mul(act2);
  const oh = sel.ref.mul(act);
  return { sel, oh, lp, en, bp };
}

/**
 * `pi_autoreg = false` ablation (§8.2): every agent at once, logits
 * `a_i·(task_emb[k] + Linear(1→E)(nonag_cnt[k]))/s`, independent categoricals, no updates.
 */
function rolloutIndependent(
  p: Pick<PolicyParams, "embedUpdate" | "countEmbed">,
  enc: PolicyEncoding,
  taskMask: Arr,
  entityMask: Arr,
  P: number,
  mode: RolloutMode,
  cfg: AllocNetConfig,
): Rollout {
  const { nAgents: Na, nTasks: Nt, piEmbed: E } = cfg;
  const { taskEmb, agentEmb, nonagCnt } = enc;
  const S = taskEmb.shape[0];
  tree_dispose([p.embedUpdate.w, p.embedUpdate.b]);
  // task_emb + count_embed(nonag) : [S, Nt, E]
  const te = taskEmb.add(
    nonagCnt
      .reshape([S, Nt, 1])
      .mul(p.countEmbed.w.reshape([1, 1, E]))
      .add(p.countEmbed.b),
  );
  const logits = lax
    .dot(agentEmb, te, {
      lhsContractingDims: [2],
      rhsContractingDims: [2],
      lhsBatchDims: [0],
      rhsBatchDims: [0],
    })
    .mul(1 / Math.sqrt(E)); // [S, Na, Nt]
  const { active, tmask, noise, given } = ablationInputs(taskMask, entityMask, mode, S, P, cfg);
  return accumulate(
    Na,
    S,
    active,
    (i) => {
      const logit = np.broadcastTo(agentRow(logits.ref, i), [S, P, Nt]);
      const r = chooseAndStats(
        logit,
        tmask.ref,
        agentRow(active.ref, i),
        noise?.ref.slice(i) ?? null,
        given?.ref ?? null,
        i,
        Nt,
      );
      r.sel.dispose();
      return r;
    },
    () => tree_dispose([logits, tmask, given, noise]),
  );
}

/**
 * `sel_task_upd = false` ablation (§8.2): the update `embed_update(ReLU([te[k], a_i, te[k*]]))`
 * (3E inputs) is added to every subtask's embedding (gated by agent activity only), so the
 * per-proposal embeddings `te` [S, P, Nt, E] are materialised.
 */
function rolloutDense(
  p: Pick<PolicyParams, "embedUpdate" | "countEmbed">,
  enc: PolicyEncoding,
  taskMask: Arr,
  entityMask: Arr,
  P: number,
  mode: RolloutMode,
  cfg: AllocNetConfig,
): Rollout {
  const { nAgents: Na, nTasks: Nt, piEmbed: E } = cfg;
  const { taskEmb, agentEmb, nonagCnt } = enc;
  const S = taskEmb.shape[0];
  const scale = 1 / Math.sqrt(E);
  const { active, tmask, noise, given } = ablationInputs(taskMask, entityMask, mode, S, P, cfg);
  const w1 = p.embedUpdate.w.ref.slice([0, E]);
  const w2 = p.embedUpdate.w.ref.slice([E, 2 * E]);
  const w3 = p.embedUpdate.w.slice([2 * E, 3 * E]);
  const aTerm = linear(relu(agentEmb.ref), { w: w2, b: p.embedUpdate.b }); // [S, Na, E]
  let te = np.broadcastTo(taskEmb.reshape([S, 1, Nt, E]), [S, P, Nt, E]);
  let agCnt = np.zeros([S, P, Nt]);
  const cwW = np.concatenate([p.countEmbed.w, p.countEmbed.b.reshape([1, E])], 0); // [3, E]
  const cw = lax.dot(agentEmb.ref, cwW, { lhsContractingDims: [2], rhsContractingDims: [1] }); // [S, Na, 3]
  return accumulate(
    Na,
    S,
    active,
    (i) => {
      const a = agentRow(agentEmb.ref, i).reshape([S, E]);
      const teDot = lax.dot(te.ref, a, {
        lhsContractingDims: [3],
        rhsContractingDims: [1],
        lhsBatchDims: [0],
        rhsBatchDims: [0],
      }); // [S, P, Nt]
      const c = agentRow(cw.ref, i); // [S, 1, 3]
      const logit = teDot
        .add(nonagCnt.ref.reshape([S, 1, Nt]).mul(c.ref.slice([], [], [0, 1])))
        .add(agCnt.ref.mul(c.ref.slice([], [], [1, 2])))
        .add(c.slice([], [], [2, 3]))
        .mul(scale);
      const act = agentRow(active.ref, i);
      const r = chooseAndStats(
        logit,
        tmask.ref,
        act.ref,
        noise?.ref.slice(i) ?? null,
        given?.ref ?? null,
        i,
        Nt,
      );
      agCnt = agCnt.add(r.oh.ref.mul(0.2));
      if (i < Na - 1) {
        const teSel = lax.dot(r.sel.ref, te.ref, {
          lhsContractingDims: [2],
          rhsContractingDims: [2],
          lhsBatchDims: [0, 1],
          rhsBatchDims: [0, 1],
        }); // [S, P, E]
        const upd = linear(relu(te.ref), { w: w1.ref })
          .add(linear(relu(teSel), { w: w3.ref }).reshape([S, P, 1, E]))
          .add(agentRow(aTerm.ref, i).reshape([S, 1, 1, E]));
        te = te.add(upd.mul(act.reshape([S, 1, 1, 1])));
      } else {
        act.dispose();
      }
      r.sel.dispose();
      return r;
    },
    () => tree_dispose([te, agCnt, cw, aTerm, w1, w3, agentEmb, tmask, given, nonagCnt, noise]),
  );
}

/**
 * `pi_pointer_net = false` ablation (§8.2): no dot-product pointer. Agent i's logits are
 * `Linear(2E → Nt)(ReLU([agent_emb[i], summary]))`; after its choice (autoregressive) the summary
 * of its proposal becomes `summary + active·Linear(2E + Nt → E)(ReLU([summary, agent_emb[i],
 * onehot(k*)]))`. Both linear maps are split by input block, so the per-agent terms are computed
 * once per state. With `pi_autoreg = false` the summary is never updated. Consumes every argument.
 */
function rolloutNoPointer(
  p: Pick<PolicyParams, "embedUpdate" | "countEmbed" | "logitHead">,
  enc: PolicyEncoding,
  taskMask: Arr,
  entityMask: Arr,
  P: number,
  mode: RolloutMode,
  cfg: AllocNetConfig,
): Rollout {
  const { nAgents: Na, nTasks: Nt, piEmbed: E } = cfg;
  const { taskEmb, agentEmb, nonagCnt } = enc;
  const head = p.logitHead;
  if (!head) throw new Error("policyRollout: pi_pointer_net = false needs the logit head");
  const S = taskEmb.shape[0];
  tree_dispose([nonagCnt, p.countEmbed.w, p.countEmbed.b]);
  const { active, tmask, noise, given } = ablationInputs(taskMask, entityMask, mode, S, P, cfg);
  const reluA = relu(agentEmb);
  // logits: ReLU(a_i)·W_a + b (per state) + ReLU(summary)·W_s (per proposal)
  const wS = head.w.ref.slice([E, 2 * E]);
  const aLogit = linear(reluA.ref, { w: head.w.slice([0, E]), b: head.b }); // [S, Na, Nt]
  // update: ReLU(summary)·U_s + ReLU(a_i)·U_a + b + onehot·U_o (ReLU(onehot) = onehot)
  const uS = p.embedUpdate.w.ref.slice([0, E]);
  const uO = p.embedUpdate.w.ref.slice([2 * E, 2 * E + Nt]);
  const aUpd = linear(reluA, { w: p.embedUpdate.w.slice([E, 2 * E]), b: p.embedUpdate.b }); // [S, Na, E]
  let summary = np.broadcastTo(taskEmb, [S, P, E]);
  return accumulate(
    Na,
    S,
    active,
    (i) => {
      const act = agentRow(active.ref, i); // [S, 1, 1]
      const logit = linear(relu(summary.ref), { w: wS.ref }).add(agentRow(aLogit.ref, i));
      const r = chooseAndStats(
        logit,
        tmask.ref,
        act.ref,
        noise?.ref.slice(i) ?? null,
        given?.ref ?? null,
        i,
        Nt,
      );
      if (cfg.flags.autoreg && i < Na - 1) {
        const upd = linear(relu(summary.ref), { w: uS.ref })
          .add(agentRow(aUpd.ref, i))
          .add(linear(r.sel.ref, { w: uO.ref })); // [S, P, E]
        summary = summary.add(upd.mul(act));
      } else {
        act.dispose();
      }
      r.sel.dispose();
      return r;
    },
    () => tree_dispose([summary, wS, aLogit, uS, uO, aUpd, tmask, given, noise]),
  );
}

/**
 * What every ablation rollout starts from: agent activity `[S, Na, 1]`, the inactive-subtask test
 * `[S, 1, Nt]`, the Gumbel noise `[Na, S, P, Nt]` (sampling) or the teacher-forced allocations
 * (no gradient). Consumes `taskMask`, `entityMask` and the mode's arrays.
 */
function ablationInputs(
  taskMask: Arr,
  entityMask: Arr,
  mode: RolloutMode,
  S: number,
  P: number,
  cfg: AllocNetConfig,
): { active: Arr; tmask: Arr; noise: Arr | null; given: Arr | null } {
  const { nAgents: Na, nTasks: Nt } = cfg;
  return {
    active: not01(entityMask.slice([], [0, Na])).reshape([S, Na, 1]),
    tmask: taskMask.reshape([S, 1, Nt]).greater(0.5),
    noise: noiseOf(mode, [Na, S, P, Nt]),
    given: "given" in mode ? lax.stopGradient(mode.given) : null,
  };
}

/** Gumbel noise `shape` of a sampling mode (drawn from its key, or the given noise). */
function noiseOf(mode: RolloutMode, shape: number[]): Arr | null {
  if ("key" in mode) return random.gumbel(mode.key, shape);
  if ("noise" in mode) return mode.noise;
  return null;
}

function tree_dispose(xs: (Arr | null | undefined)[]): void {
  for (const x of xs) x?.dispose();
}

/** Run `step(i)` for every agent and gather the allocation rows and statistics. */
function accumulate(
  Na: number,
  S: number,
  active: Arr,
  step: (i: number) => { oh: Arr; lp: Arr; en: Arr; bp: Arr },
  cleanup: () => void,
): Rollout {
  const rows: Arr[] = [];
  let logPi: Arr | null = null;
  let entropy: Arr | null = null;
  let bestSum: Arr | null = null;
  for (let i = 0; i < Na; i++) {
    const r = step(i);
    const [, P, Nt] = r.oh.shape;
    rows.push(r.oh.reshape([S, P, 1, Nt]));
    logPi = logPi ? logPi.add(r.lp) : r.lp;
    entropy = entropy ? entropy.add(r.en) : r.en;
    bestSum = bestSum ? bestSum.add(r.bp) : r.bp;
  }
  cleanup();
  const nActive = active.sum([1, 2]).reshape([S, 1]);
  return {
    alloc: lax.stopGradient(np.concatenate(rows, 2)),
    logPi: logPi!,
    entropy: entropy!,
    bestProb: bestSum!.div(np.maximum(nActive, 1)),
  };
}

/** Encode and roll out in one call (acting, tests). Consumes all arguments. */
export function policySample(
  p: PolicyParams,
  inp: AllocInputs,
  perm: Arr,
  P: number,
  mode: RolloutMode,
  cfg: AllocNetConfig,
): Rollout {
  const enc = policyEncode(
    { fc1: p.fc1, taskEmbed: p.taskEmbed, attn: p.attn },
    {
      entities: inp.entities,
      entityMask: inp.entityMask.ref,
      entity2taskMask: inp.entity2taskMask,
      lastAlloc: inp.lastAlloc,
    },
    perm,
    cfg,
  );
  return policyRollout(
    { embedUpdate: p.embedUpdate, countEmbed: p.countEmbed, logitHead: p.logitHead },
    enc,
    inp.taskMask,
    inp.entityMask,
    P,
    mode,
    cfg,
  );
}
