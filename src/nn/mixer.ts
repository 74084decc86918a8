/**
 * Attention-hypernetwork mixer `flex_qmix` (spec §6) with per-subtask outputs (§6.2) and the
 * Pop-Art affine head (§6.3, §13).
 */
import type { SubtaskCond } from "./agent.js";
import { type AttentionParams, entityAttention, initAttention } from "./attention.js";
import { type Arr, jnn, np, tree } from "./engine.js";
import {
  barrier,
  elu,
  groupMask,
  initLinear,
  type Linear,
  linear,
  not01,
  relu,
  sliceAxisFromEnd,
  splitKey,
  swapLast2,
} from "./layers.js";

/** Static sizes and options of the mixer. */
export interface MixerConfig {
  readonly nAgents: number;
  readonly nEntities: number;
  readonly nTasks: number;
  /**
   * D_mix: width of the mixer's entity features = De + A (entities ⊕ last-action block), plus Nt
   * when `subtaskCond = 'full_obs'` (raw membership columns, not permuted).
   */
  readonly featureDim: number;
  /** `hypernet_embed` (128). */
  readonly hypernetEmbed: number;
  /** `mixing_embed_dim` (32). */
  readonly mixingEmbed: number;
  /** Attention heads (4). */
  readonly nHeads: number;
  /** `mixer_subtask_cond` (defaults to the agent's `subtask_cond`). */
  readonly subtaskCond: SubtaskCond;
  /** `softmax_mixing_weights` (true in both algorithm configs): nonneg of W1 and w_final. */
  readonly softmaxMixingWeights: boolean;
}

/** Number of mixer outputs: Nt with subtask conditioning, else 1 (spec §6.2). */
export function mixerOutputs(cfg: Pick<MixerConfig, "nTasks" | "subtaskCond">): number {
  return cfg.subtaskCond === null ? 1 : cfg.nTasks;
}

/** One attention hypernetwork (spec §6.1): fc1 D_mix→128, attention 128→128, fc2 128→32. */
export type HypernetParams = { fc1: Linear; attn: AttentionParams; fc2: Linear };

/** Pop-Art affine head `y ↦ w ⊙ y + b` (spec §3.5), `w`, `b`: `[n_out]`. */
export type PopArtHead = { w: Arr; b: Arr };

/** The four independent hypernetworks (spec §6.1). */
export type MixerHypernets = {
  hyperW1: HypernetParams;
  hyperWFinal: HypernetParams;
  hyperB1: HypernetParams;
  hyperV: HypernetParams;
};

/** Mixer parameters: the four hypernetworks and the Pop-Art head. */
export type MixerParams = MixerHypernets & { popart: PopArtHead };

/** Split mixer parameters into hypernetworks and Pop-Art head (no copies, no refcount change). */
export function splitMixerParams(p: MixerParams): [MixerHypernets, PopArtHead] {
  return [
    { hyperW1: p.hyperW1, hyperWFinal: p.hyperWFinal, hyperB1: p.hyperB1, hyperV: p.hyperV },
    p.popart,
  ];
}

function initHypernet(key: Arr, cfg: MixerConfig): HypernetParams {
  const [k1, k2, k3] = splitKey(key, 3);
  const E = cfg.hypernetEmbed;
  return {
    fc1: initLinear(k1, cfg.featureDim, E),
    attn: initAttention(k2, E, E, E),
    fc2: initLinear(k3, E, cfg.mixingEmbed),
  };
}

/** PyTorch-default initialisation; Pop-Art w = 1, b = 0 (consumes `key`). */
export function initMixer(key: Arr, cfg: MixerConfig): MixerParams {
  const [k1, k2, k3, k4] = splitKey(key, 4);
  const nOut = mixerOutputs(cfg);
  return {
    hyperW1: initHypernet(k1, cfg),
    hyperWFinal: initHypernet(k2, cfg),
    hyperB1: initHypernet(k3, cfg),
    hyperV: initHypernet(k4, cfg),
    popart: { w: np.ones([nOut]), b: np.zeros([nOut]) },
  };
}

/** Per-row mixer inputs; `...` = any leading axes, e.g. `[B, T]`. */
export type MixerInputs = {
  /** `[..., Ne, ≥ D_mix]` mixer entity features (optionally zero-padded). */
  features: Arr;
  /** `[..., Ne]` (1 = inactive). */
  entityMask: Arr;
  /** `[..., Ne, Nt]` (0 = member); required with subtask conditioning. */
  entity2taskMask?: Arr;
};

/** `x3 = fc2(attn(ReLU(fc1(features))))`, zero rows for inactive agents (spec §6.1). */
function hypernet(
  p: HypernetParams,
  features: Arr,
  preMask: Arr,
  agentInactive: Arr,
  cfg: MixerConfig,
): Arr {
  const lead = features.shape.slice(0, -2);
  const Na = cfg.nAgents;
  const x1 = relu(barrier(linear(features, p.fc1)));
  const x2 = entityAttention(p.attn, x1, preMask, agentInactive.ref, cfg.nHeads);
  const x3 = linear(x2, p.fc2);
  return x3.mul(not01(agentInactive).reshape([...lead, Na, 1]));
}

/** Softmax over the mixing-embedding axis, or absolute value (spec §6.1 `nonneg`). */
function nonnegW(x: Arr, softmax: boolean): Arr {
  return softmax ? jnn.softmax(x, -1) : np.abs(x);
}

/**
 * REFIL imagined-group inputs of the mixer (spec §7 step 7): utilities of the two imagined copies
 * and the pre-masks (`W_noobs`, `I_noobs`, `[..., Ne, Ne]`, 1 = blocked) with which `hyper_w_1`
 * is re-run for each half of the 2·Na inputs.
 */
export type ImaginedMixerInputs = {
  /** `[..., Na]` chosen utilities of the "within groups" copy. */
  qWithin: Arr;
  /** `[..., Na]` chosen utilities of the "interact across groups" copy. */
  qInteract: Arr;
  /** `W_noobs = within ∨ active`, `[..., Ne, Ne]`. */
  withinMask: Arr;
  /** `I_noobs = interact ∨ active`, `[..., Ne, Ne]`. */
  interactMask: Arr;
};

/**
 * flex_qmix forward (spec §6.3) *without* the Pop-Art affine: returns `y` `[..., n_out]` such that
 * `Qtot = w_pa ⊙ y + b_pa` (see `popartAffine`, `splitMixerParams`). `q`: `[..., Na]` per-agent
 * chosen utilities (zero for inactive agents). Consumes `p`, `q` and the inputs.
 *
 * Per-subtask outputs (§6.2): `memb[i, k] = 1 − entity2task_mask[i, k]` over agent rows zeroes
 * the contribution of non-member agents; vector/scalar hypernet outputs average over all Na rows
 * (the padded maximum), as the reference does (§19.7).
 *
 * With `imagined` (REFIL, §7) it returns `[y, yImagined]`: the imagined output mixes the 2·Na
 * imagined utilities with `hyper_w_1` re-run under the imagined masks (OR-ed with the subtask
 * mask in `mask` mode) and shares b1, w_final and V (normal mask) with the real output.
 */
export function mixerForward(p: MixerHypernets, q: Arr, inp: MixerInputs, cfg: MixerConfig): Arr;
export function mixerForward(
  p: MixerHypernets,
  q: Arr,
  inp: MixerInputs,
  cfg: MixerConfig,
  imagined: ImaginedMixerInputs,
): [Arr, Arr];
export function mixerForward(
  p: MixerHypernets,
  q: Arr,
  inp: MixerInputs,
  cfg: MixerConfig,
  imagined?: ImaginedMixerInputs,
): Arr | [Arr, Arr] {
  const Na = cfg.nAgents;
  const lead = q.shape.slice(0, -1);
  const em = inp.entityMask;
  const agentsOf = (x: Arr, k: number) => sliceAxisFromEnd(x, k, 0, Na);
  const col = (x: Arr) => x.reshape([...x.shape, 1]);
  let pre: Arr;
  let subtaskPre: Arr | null = null; // share-a-subtask mask, OR-ed into the imagined W1 masks
  let memb: Arr; // [..., Na, n_out], 1 = agent counts towards output k
  if (cfg.subtaskCond === null) {
    inp.entity2taskMask?.dispose();
    // "agent i may attend entity j iff both are active" (groupmask with one group).
    pre = groupMask(col(agentsOf(em.ref, 0)), col(em.ref));
    memb = np.ones([...lead, Na, 1], { dtype: q.dtype });
  } else {
    const e2t = inp.entity2taskMask;
    if (!e2t) throw new Error("mixerForward: subtask conditioning needs entity2taskMask");
    const e2tAgents = agentsOf(e2t.ref, 1);
    if (cfg.subtaskCond === "mask") {
      // Share-a-subtask; NOT additionally AND-ed with activity (spec §6.1).
      pre = groupMask(e2tAgents.ref, e2t);
      if (imagined) subtaskPre = pre.ref;
    } else {
      e2t.dispose();
      pre = groupMask(col(agentsOf(em.ref, 0)), col(em.ref));
    }
    memb = not01(e2tAgents);
  }
  const agentInactive = agentsOf(em, 0);
  const f = inp.features;
  const run = (hp: HypernetParams, m: Arr) => hypernet(hp, f.ref, m, agentInactive.ref, cfg);
  let w1Imag: [Arr, Arr] | null = null;
  if (imagined) {
    const orSubtask = (m: Arr) => {
      const ma = agentsOf(m, 1);
      return subtaskPre ? np.maximum(ma, subtaskPre.ref) : ma;
    };
    w1Imag = [
      run(tree.ref(p.hyperW1), orSubtask(imagined.withinMask)),
      run(tree.ref(p.hyperW1), orSubtask(imagined.interactMask)),
    ];
    subtaskPre?.dispose();
  }
  const x3w1 = run(p.hyperW1, pre.ref);
  const x3wf = run(p.hyperWFinal, pre.ref);
  const x3b1 = run(p.hyperB1, pre.ref);
  const x3v = run(p.hyperV, pre);
  f.dispose();
  agentInactive.dispose();

  const membT = swapLast2(memb.ref); // [..., n_out, Na]
  // Vector / scalar modes: zero non-members, mean over Na rows, then nonneg (abs for b1 and V).
  const avg = (x3: Arr) => np.matmul(membT.ref, x3).mul(1 / Na); // [..., n_out, M]
  const b1 = np.abs(avg(x3b1));
  const wf = nonnegW(avg(x3wf), cfg.softmaxMixingWeights);
  const v = np.abs(avg(x3v).mean(-1)); // [..., n_out]
  membT.dispose();
  // Matrix mode (W1): nonneg first, then zero non-member rows; fused here with q:
  // (q·W1_k)[c] = Σ_i memb[i,k] q[i] W1[i,c].
  const mixW1 = (qa: Arr, x3: Arr) =>
    np.matmul(swapLast2(memb.ref.mul(col(qa))), nonnegW(x3, cfg.softmaxMixingWeights)); // [..., n_out, M]
  const finish = (hidden: Arr) => elu(hidden.add(b1.ref)).mul(wf.ref).sum(-1).add(v.ref); // [..., n_out]
  const y = finish(mixW1(q, x3w1));
  let out: Arr | [Arr, Arr] = y;
  if (imagined && w1Imag) {
    // 2·Na inputs [within, interact]: the hidden layer sums both halves' contributions.
    const hidden = mixW1(imagined.qWithin, w1Imag[0]).add(mixW1(imagined.qInteract, w1Imag[1]));
    out = [y, finish(hidden)];
  }
  tree.dispose([memb, b1, wf, v]);
  return out;
}

/** Pop-Art affine `w ⊙ y + b` over the last axis (spec §6.3). Consumes all. */
export function popartAffine(y: Arr, head: PopArtHead): Arr {
  return y.mul(head.w).add(head.b);
}
