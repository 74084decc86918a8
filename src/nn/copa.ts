/**
 * COPA baseline (spec §16): the centralised coach that hands each agent a 64-d strategy z at
 * decision points, the recognition model q(z | s, a), the variational (VI) loss and coach entropy,
 * and the forward fill of z over a training window.
 *
 * Everything here is a pure function over parameter trees and, like the rest of `src/nn`,
 * consumes its array arguments (pass `x.ref` / `tree.ref(p)` to keep them).
 *
 * Mask polarity everywhere: 1 = blocked / inactive / not a member (spec §19.1).
 */
import { type AttentionParams, entityAttention, initAttention } from "./attention.js";
import { type Arr, np, random } from "./engine.js";
import {
  barrier,
  groupMask,
  initLinear,
  initLinearNoBias,
  type Linear,
  type LinearNoBias,
  linear,
  maskedMean,
  not01,
  relu,
  sliceAxisFromEnd,
  splitKey,
} from "./layers.js";
import { initTaskEmbed, type TaskEmbedParams, taskEmbed } from "./taskEmbed.js";

/** Static sizes and flags of the COPA modules (spec §16, §18.1, §18.2). */
export interface CopaConfig {
  /** Na (agents are entity slots 0..Na−1). */
  readonly nAgents: number;
  /** Ne. */
  readonly nEntities: number;
  /** A (the recognition model embeds the one-hot action a_t). */
  readonly nActions: number;
  /** De: raw entity feature width (the coach sees raw entities, no last-action block). */
  readonly entityShape: number;
  /** Nt. */
  readonly nTasks: number;
  /** `n_extra_tasks` zero columns of the task code (§3.3). */
  readonly nExtraTasks?: number;
  /** Width of the entity encoders and attention (`attn_embed_dim`, 128; §3.6). */
  readonly embed: number;
  /** Attention heads (`attn_n_heads`, 4). */
  readonly nHeads: number;
  /** Strategy size = agent hidden width (`rnn_hidden_dim`, 64; §16.1). */
  readonly zDim: number;
  /**
   * An allocator is in use AND `mask_copa` (§16.1): the attention is restricted to entities that
   * share a subtask and no task code is added. Otherwise (pure COPA) both-active mask + task code.
   */
  readonly subtaskMask: boolean;
  /** `copa_vi_loss`: add the VI and entropy terms to the low-level loss (§16.2). */
  readonly viLoss: boolean;
  /** `vi_lambda` (5e-5). */
  readonly viLambda: number;
}

/** Coach (§16.1, §3.6): entity encoder De→E, attention, μ / logvar heads E→Z, task code. */
export type CoachParams = {
  enc: Linear;
  attn: AttentionParams;
  mu: Linear;
  logvar: Linear;
  /** Only without the subtask mask (pure COPA). */
  taskEmbed?: TaskEmbedParams;
};

/** Linear, ReLU, Linear. */
export type Mlp = { l1: Linear; l2: Linear };

/**
 * Recognition model q(z | s_t, a_t) (§16.2, §3.6): action embedding A→E (no bias), entity encoder
 * De→E, attention, μ / logvar MLPs E→E→Z, task code.
 */
export type RecogParams = {
  act: LinearNoBias;
  enc: Linear;
  attn: AttentionParams;
  mu: Mlp;
  logvar: Mlp;
  taskEmbed?: TaskEmbedParams;
};

/** Both COPA modules; they train with the low-level optimiser and have target copies (§16.2). */
export type CopaParams = { coach: CoachParams; recog: RecogParams };

/** logvar clamp of coach and recognition model (§16.1, §16.2). */
export const LOGVAR_MIN = -10;
export const LOGVAR_MAX = 0;
/** Per-dimension clamps of the log-density and the entropy (§16.2). */
const LOGP_MIN = -1000;
const ENTROPY_MAX = 10;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function initMlp(key: Arr, dIn: number, dHidden: number, dOut: number): Mlp {
  const [k1, k2] = splitKey(key, 2);
  return { l1: initLinear(k1, dIn, dHidden), l2: initLinear(k2, dHidden, dOut) };
}

/** PyTorch-default initialisation of coach and recognition model. Consumes `key`. */
export function initCopa(key: Arr, cfg: CopaConfig): CopaParams {
  const ks = splitKey(key, 10);
  const E = cfg.embed;
  const nTaskIn = cfg.nTasks + (cfg.nExtraTasks ?? 0);
  const coach: CoachParams = {
    enc: initLinear(ks[0], cfg.entityShape, E),
    attn: initAttention(ks[1], E, E, E),
    mu: initLinear(ks[2], E, cfg.zDim),
    logvar: initLinear(ks[3], E, cfg.zDim),
  };
  const recog: RecogParams = {
    act: initLinearNoBias(ks[4], cfg.nActions, E),
    enc: initLinear(ks[5], cfg.entityShape, E),
    attn: initAttention(ks[6], E, E, E),
    mu: initMlp(ks[7], E, E, cfg.zDim),
    logvar: initMlp(ks[8], E, E, cfg.zDim),
  };
  if (cfg.subtaskMask) {
    ks[9].dispose();
  } else {
    const [kc, kr] = splitKey(ks[9], 2);
    coach.taskEmbed = initTaskEmbed(kc, nTaskIn, E);
    recog.taskEmbed = initTaskEmbed(kr, nTaskIn, E);
  }
  return { coach, recog };
}

/** Rows `[..., N]` of coach / recognition inputs (any single leading axis N, e.g. B·T1 or B). */
export type CopaInputs = {
  /**
   * `[N, Ne, ≥ De]` raw entity features, optionally zero-padded (pad once to a multiple of 4).
   * For the recognition model: `[N, Ne, ≥ De + A]`, the one-hot action a_t in columns
   * `De .. De+A−1` of the agent rows (zeros elsewhere), see `recogEntityInputs`.
   */
  ent: Arr;
  /** `[N, Ne]` (1 = inactive slot). */
  entityMask: Arr;
  /** `[N, Ne, Nt]` (0 = member); agent rows hold the allocation in force (all ones for pure COPA). */
  entity2taskMask: Arr;
  /** `[Nt+nExtra, Nt+nExtra]` task-code permutation (§3.3); required without `subtaskMask`. */
  taskPerm?: Arr;
  /**
   * `[N, ≥ Na, Ne]` extra pre-mask OR'ed into the coach's own mask (REFIL's imagined
   * no-observability masks, §16.2).
   */
  extraMask?: Arr;
};

/**
 * The coach's / recognition model's attention mask (§16.1) `[N, Na, Ne]`: share-a-subtask
 * (§3.2, g = Nt) with the subtask mask, else "both active" (§3.2 with g = 1).
 */
export function copaAttentionMask(entityMask: Arr, entity2taskMask: Arr, cfg: CopaConfig): Arr {
  const Na = cfg.nAgents;
  if (cfg.subtaskMask) {
    entityMask.dispose();
    return groupMask(sliceAxisFromEnd(entity2taskMask.ref, 1, 0, Na), entity2taskMask);
  }
  entity2taskMask.dispose();
  const em = entityMask.reshape([...entityMask.shape, 1]);
  return groupMask(sliceAxisFromEnd(em.ref, 1, 0, Na), em);
}

/**
 * Shared trunk of coach and recognition model: `g = ReLU(EntityAttention(ReLU(enc(ent) + te)))`
 * `[N, Na, E]` with the §16.1 mask, post-mask = agent inactivity.
 */
function encode(
  enc: Linear,
  attn: AttentionParams,
  te: TaskEmbedParams | undefined,
  inp: CopaInputs,
  cfg: CopaConfig,
): Arr {
  const Na = cfg.nAgents;
  let x = linear(inp.ent, enc);
  const e2t = inp.entity2taskMask;
  if (cfg.subtaskMask) {
    te?.w.dispose();
    inp.taskPerm?.dispose();
  } else {
    if (!te || !inp.taskPerm) throw new Error("COPA: the task code needs taskEmbed and taskPerm");
    x = x.add(taskEmbed(te, not01(e2t.ref), inp.taskPerm));
  }
  // First layer on data: the barrier keeps jax-js from fusing the attention's input cotangent
  // into the encoder's weight gradient (see `barrier`).
  x = barrier(x);
  const em = inp.entityMask;
  let mask = copaAttentionMask(em.ref, e2t, cfg);
  if (inp.extraMask) {
    const extra = inp.extraMask;
    const rowsExtra = extra.shape[extra.ndim - 2];
    mask = np.maximum(mask, rowsExtra === Na ? extra : sliceAxisFromEnd(extra, 1, 0, Na));
  }
  const agentInactive = sliceAxisFromEnd(em, 0, 0, Na);
  return relu(entityAttention(attn, relu(x), mask, agentInactive, cfg.nHeads));
}

/** `clamp(x, LOGVAR_MIN, LOGVAR_MAX)`. */
function clampLogvar(x: Arr): Arr {
  return np.minimum(np.maximum(x, LOGVAR_MIN), LOGVAR_MAX);
}

/** A diagonal Gaussian `N(mu, exp(logvar/2)²)` per agent, each `[N, Na, Z]`. */
export type Gaussian = { mu: Arr; logvar: Arr };

/**
 * Coach forward (spec §16.1): μ and clamped logvar `[N, Na, Z]` of every agent's strategy. Rows
 * of inactive agents are not zero (the post-mask zeroes the attention output, the heads add their
 * biases); the agent network zeroes their utilities anyway. Consumes `p` and the inputs.
 */
export function coachForward(p: CoachParams, inp: CopaInputs, cfg: CopaConfig): Gaussian {
  const g = encode(p.enc, p.attn, p.taskEmbed, inp, cfg);
  return { mu: linear(g.ref, p.mu), logvar: clampLogvar(linear(g, p.logvar)) };
}

/**
 * Recognition model q(z | s_t, a_t) (spec §16.2): `inp.ent` carries entities ⊕ one-hot a_t on
 * the agent rows (`recogEntityInputs`). `Linear(De→E)(entities) + Linear(A→E, no bias)(a_t)` is
 * computed as one matmul with the stacked weight. Consumes `p` and the inputs.
 */
export function recogForward(p: RecogParams, inp: CopaInputs, cfg: CopaConfig): Gaussian {
  const w = np.concatenate([p.enc.w, p.act.w], 0); // [De + A, E]
  const g = encode({ w, b: p.enc.b }, p.attn, p.taskEmbed, inp, cfg);
  const mlp = (m: Mlp, x: Arr) => linear(relu(linear(x, m.l1)), m.l2);
  return { mu: mlp(p.mu, g.ref), logvar: clampLogvar(mlp(p.logvar, g)) };
}

/** Reparameterised sample `z = μ + ε·exp(logvar/2)`, ε ~ N(0, I) (§16.1). Consumes all. */
export function sampleStrategy(g: Gaussian, key: Arr): Arr {
  const eps = random.normal(key, g.mu.shape).astype(g.mu.dtype);
  return g.mu.add(eps.mul(np.exp(g.logvar.mul(0.5))));
}

/**
 * Recognition-model input `[B, T1, Ne, W]`: raw entities ⊕ the one-hot action *taken at* each
 * row on the agent rows (zeros on non-agent rows) ⊕ zero columns up to a multiple of 4.
 * `entities` `[B,T1,Ne,De]`, `actOH` `[B,T1,Na,A]`. Consumes both.
 */
export function recogEntityInputs(entities: Arr, actOH: Arr): Arr {
  const [B, T1, Ne, De] = entities.shape;
  const [, , Na, A] = actOH.shape;
  const dtype = entities.dtype;
  const parts = [entities, actOH.astype(dtype)];
  if (Ne > Na) parts[1] = np.concatenate([parts[1], np.zeros([B, T1, Ne - Na, A], { dtype })], 2);
  const width = De + A;
  const w4 = Math.ceil(width / 4) * 4;
  if (w4 > width) parts.push(np.zeros([B, T1, Ne, w4 - width], { dtype }));
  return np.concatenate(parts, 3);
}

/**
 * Forward-fill matrix of a window (spec §16.2) `[B, T1, T1]` from the decision flags `dec`
 * `[B, T1]` (1 = `hier_decision`): `W[b,t,s] = 1` iff s is the last decision point ≤ t. Rows
 * before the first decision point of a window are all zero (z = 0 there). A new episode inside a
 * window starts with a decision point (row 0, §9.1), so z never leaks across episodes.
 *
 * Built from cumulative decision counts `c[t] = Σ_{s≤t} dec[s]`: s is the last decision ≤ t iff
 * `dec[s] = 1`, `s ≤ t` and `c[s] = c[t]`. Consumes `dec`.
 */
export function forwardFillMatrix(dec: Arr): Arr {
  const [B, T1] = dec.shape;
  const dtype = dec.dtype;
  const idx = np.arange(T1).astype(dtype);
  // upTo[s, t] = [s ≤ t]
  const upTo = idx.ref
    .reshape([T1, 1])
    .lessEqual(idx.reshape([1, T1]))
    .astype(dtype);
  const c = np.matmul(dec.ref, upTo.ref); // [B, T1], c[t] = Σ_{s≤t} dec[s]
  const same = c.ref
    .reshape([B, T1, 1])
    .equal(c.reshape([B, 1, T1]))
    .astype(dtype); // [b,t,s]
  const causal = upTo.transpose([1, 0]).reshape([1, T1, T1]); // [t, s] = [s ≤ t]
  return same.mul(causal).mul(dec.reshape([B, 1, T1]));
}

/**
 * Forward fill (spec §16.2): `zf[b,t] = z[b, last decision point ≤ t]`, 0 before the first one.
 * `z` `[B, T1, Na, Z]`, `dec` `[B, T1]`. A matmul with `forwardFillMatrix`, so the TD-loss
 * gradient reaches the z of the decision rows only. Consumes both.
 */
export function forwardFill(z: Arr, dec: Arr): Arr {
  const [B, T1, Na, Z] = z.shape;
  const W = forwardFillMatrix(dec.astype(z.dtype));
  return np.matmul(W, z.reshape([B, T1, Na * Z])).reshape([B, T1, Na, Z]);
}

/**
 * The plain episode mask of the T current rows `[B, T]` (§11.1 before any subtask change):
 * `mask[t] = filled[t]·(1 − reset[t−1])`, `mask[0] = filled[0]`. Consumes both (`[B, T1]`).
 */
export function plainEpisodeMask(filled: Arr, reset: Arr): Arr {
  const [B, T1] = filled.shape;
  const T = T1 - 1;
  const dtype = filled.dtype;
  const notResetPrev = np.concatenate(
    [np.ones([B, 1], { dtype }), not01(reset.slice([], [0, T - 1]))],
    1,
  );
  return filled.slice([], [0, T]).mul(notResetPrev);
}

/**
 * The VI and entropy terms of spec §16.2, as means (to be *maximised*):
 *
 * - `lp = Σ_dims clamp(log N(z_t; μ_q, exp(logvar_q/2)), −1000, 0)` (clamped per dimension);
 * - `H = Σ_dims clamp(entropy of N(μ, exp(logvar/2)), 0, 10)` of the coach at row t;
 * - each averaged over the active agents of row t (`/ (count + 1e-8)`), then the masked mean
 *   over rows t < T with the plain episode `mask` `[B, T]`.
 *
 * `z` (forward-filled real strategies), `q` (recognition model), `coach` (coach output) are
 * `[B, T1, Na, Z]`, `agentMask` `[B, T1, Na]` (1 = inactive). Consumes all.
 */
export function copaViTerms(
  z: Arr,
  q: Gaussian,
  coach: Gaussian,
  agentMask: Arr,
  mask: Arr,
): { lpMean: Arr; hMean: Arr } {
  const T = agentMask.shape[1] - 1;
  const diff = z.sub(q.mu);
  const logN = np
    .square(diff)
    .mul(np.exp(q.logvar.ref.mul(-1)))
    .mul(-0.5)
    .sub(q.logvar.mul(0.5))
    .sub(HALF_LOG_2PI);
  const lp = np.minimum(np.maximum(logN, LOGP_MIN), 0).sum(-1); // [B,T1,Na]
  coach.mu.dispose();
  const ent = coach.logvar.mul(0.5).add(0.5 + HALF_LOG_2PI);
  const h = np.minimum(np.maximum(ent, 0), ENTROPY_MAX).sum(-1); // [B,T1,Na]
  const active = not01(agentMask);
  const count = active.ref.sum(-1).add(1e-8); // [B,T1]
  const perRow = (x: Arr) => x.mul(active.ref).sum(-1).div(count.ref).slice([], [0, T]);
  const lpRow = perRow(lp);
  const hRow = perRow(h);
  active.dispose();
  count.dispose();
  return { lpMean: maskedMean(lpRow, mask.ref), hMean: maskedMean(hRow, mask) };
}
