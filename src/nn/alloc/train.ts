/**
 * Allocation controller: acting (§8.4 network part), losses and the AQL training step (§12.2),
 * target networks (§14), as pure functions that `jit` compiles into one program per shape.
 *
 * Every function consumes its array arguments (see `src/nn/engine.ts`).
 */
import {
  type AllocOptConfig,
  type AllocOptState,
  allocOptInit,
  allocOptUpdate,
} from "../../learners/alloc-optim.js";
import { clipByGlobalNorm } from "../../learners/optim.js";
import { type Arr, jit, lax, np, tree, valueAndGrad } from "../engine.js";
import { oneHot, splitKey } from "../layers.js";
import { initPopArtStats, type PopArtStats, popartDenormalize, popartUpdate } from "../popart.js";
import type { AllocNetConfig } from "./config.js";
import {
  type CriticInputs,
  type CriticParams,
  criticBody,
  criticForward,
  initCritic,
  splitCritic,
  storedAllocation,
} from "./critic.js";
import { type AllocInputs, initPolicy, type PolicyParams, policySample } from "./policy.js";

/** Live parameters of the controller: proposal policy and allocation critic (incl. Pop-Art head). */
export type AllocParams = { pi: PolicyParams; q: CriticParams };

/**
 * Target controller (§14): copies of both networks and of the critic's Pop-Art statistics. Only
 * the target critic is ever used; the target policy is copied but unused (§12.2), kept so the
 * checkpoint mirrors the reference's controller copy.
 */
export type AllocTarget = { pi: PolicyParams; q: CriticParams; qStats: PopArtStats };

/** Everything the training step reads and updates. */
export type AllocState = {
  pi: PolicyParams;
  q: CriticParams;
  piOpt: AllocOptState<PolicyParams>;
  qOpt: AllocOptState<CriticParams>;
  /** Pop-Art statistics of the live critic (§13). */
  qStats: PopArtStats;
  target: AllocTarget;
};

/** Initialise both networks, their optimisers, Pop-Art statistics and the targets. Consumes `key`. */
export function initAllocState(key: Arr, cfg: AllocNetConfig): AllocState {
  const [kp, kq] = splitKey(key, 2);
  const pi = initPolicy(kp, cfg);
  const q = initCritic(kq, cfg);
  return {
    piOpt: allocOptInit(cfg.opt, tree.ref(pi)),
    qOpt: allocOptInit(cfg.opt, tree.ref(q)),
    qStats: initPopArtStats(),
    // The target is created at start as a copy of the live controller; its Pop-Art statistics are
    // undefined until the first target update (§13).
    target: { pi: tree.ref(pi), q: tree.ref(q), qStats: initPopArtStats() },
    pi,
    q,
  };
}

/**
 * Hard target update (§12.2, §14): live policy, live critic and the critic's Pop-Art statistics
 * are copied into the target controller. Arrays are immutable, so "copying" shares buffers.
 * Consumes `state`, returns the new one.
 */
export function updateAllocTarget(state: AllocState): AllocState {
  tree.dispose(state.target);
  return {
    ...state,
    target: { pi: tree.ref(state.pi), q: tree.ref(state.q), qStats: tree.ref(state.qStats) },
  };
}

/** The meta-batch (§12.1) as float32 device arrays, `M = max_bs` rows. */
export type MetaArrays = AllocInputs & {
  /** [M] seg_r. */
  segReward: Arr;
  /** [M] seg_d. */
  segTerminated: Arr;
  /** [M] §12.1 mask (proposal loss). */
  mask: Arr;
  /** [M] mask of the TD loss / Pop-Art (samples 0..N−2). */
  qMask: Arr;
  /** [M] age-decayed TD weights. */
  weight: Arr;
  /** [M] 1 for real samples. */
  valid: Arr;
};

function inputsRef(b: AllocInputs): AllocInputs {
  return {
    entities: b.entities.ref,
    entityMask: b.entityMask.ref,
    entity2taskMask: b.entity2taskMask.ref,
    taskMask: b.taskMask.ref,
    lastAlloc: b.lastAlloc.ref,
  };
}

function criticInputsRef(b: AllocInputs): CriticInputs {
  return {
    entities: b.entities.ref,
    entityMask: b.entityMask.ref,
    entity2taskMask: b.entity2taskMask.ref,
  };
}

/**
 * Allocation indices of one-hot allocations `[..., Na, Nt]` as float `[..., Na]`: the subtask, or
 * −1 for an all-zero (inactive agent) row.
 */
export function allocationIndices(alloc: Arr): Arr {
  const Nt = alloc.shape[alloc.ndim - 1];
  const ks = np.arange(Nt).astype(np.float32);
  return alloc.ref.mul(ks).sum(-1).add(alloc.sum(-1)).sub(1);
}

/**
 * The network part of `compute_allocation` (§8.4) for acting: sample `P` proposals with the live
 * policy, score them with the live critic, and return, packed into one `[S, P·Na + 1]` array (one
 * read-back), the proposals' subtask indices (−1 = inactive agent) followed by the critic's argmax
 * proposal index. `noise` is standard Gumbel noise `[Na, S, P, Nt]` for the proposal sampling
 * (`hostGumbel`). The ε-exploration of §8.4 runs on the host (`AlmaAllocator.decide`). Consumes
 * all arguments.
 */
export function allocAct(
  params: AllocParams,
  inp: AllocInputs,
  perms: ActPerms,
  noise: Arr,
  cfg: AllocNetConfig,
): Arr {
  const S = inp.entities.shape[0];
  const P = cfg.nProposals;
  const roll = policySample(params.pi, inputsRef(inp), perms.pi, P, { noise, stats: false }, cfg);
  tree.dispose([roll.logPi, roll.entropy, roll.bestProb]);
  const scores = criticForward(
    params.q,
    { entities: inp.entities, entityMask: inp.entityMask, entity2taskMask: inp.entity2taskMask },
    roll.alloc.ref,
    perms.q,
    cfg,
  );
  tree.dispose([inp.taskMask, inp.lastAlloc]);
  const best = np.argmax(scores, -1).astype(np.float32).reshape([S, 1]);
  const idx = allocationIndices(roll.alloc).reshape([S, P * cfg.nAgents]);
  return np.concatenate([idx, best], 1);
}

/**
 * TaskEmbedder permutation matrices of the acting call (§3.3: one fresh permutation per forward
 * call of each network). Drawn on the host (`hostPermutation`), which saves the device kernels
 * of `random.permutation` in the latency-bound acting program.
 */
export type ActPerms = { pi: Arr; q: Arr };

/** The four network calls of a training step, each with its own permutation (§3.3). */
export type TrainPerms = { pi: Arr; score: Arr; target: Arr; stored: Arr };

/**
 * A uniformly random permutation of `n` columns as a one-hot matrix (`P[k, j] = 1` iff column j of
 * the permuted membership is original column k, as `randomPermutationMatrix`), from a host
 * generator (Fisher–Yates). Returns row-major float32 data.
 */
export function hostPermutation(n: number, randInt: (m: number) => number): Float32Array {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randInt(i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const m = new Float32Array(n * n);
  for (let j = 0; j < n; j++) m[perm[j] * n + j] = 1;
  return m;
}

/** `jit`-compiled `allocAct` (compiles once per number of states S). */
export function makeAllocAct(
  cfg: AllocNetConfig,
): (params: AllocParams, inp: AllocInputs, perms: ActPerms, noise: Arr) => Arr {
  const f = jit((params: AllocParams, inp: AllocInputs, perms: ActPerms, noise: Arr) =>
    allocAct(params, inp, perms, noise, cfg),
  );
  return (params, inp, perms, noise) => f(params, inp, perms, noise) as Arr;
}

/**
 * First half of the deduplicating acting path: sample `P` proposals with the live policy and
 * return their subtask indices `[S, P, Na]` (−1 = inactive agent). Consumes all arguments.
 */
export function allocPropose(
  pi: PolicyParams,
  inp: AllocInputs,
  perm: Arr,
  noise: Arr,
  cfg: AllocNetConfig,
): Arr {
  const roll = policySample(pi, inp, perm, cfg.nProposals, { noise, stats: false }, cfg);
  tree.dispose([roll.logPi, roll.entropy, roll.bestProb]);
  return allocationIndices(roll.alloc);
}

/**
 * Second half: the live critic's normalised scores `[S, U]` of `U` allocations per state
 * (`alloc` `[S, U, Na, Nt]`, e.g. the distinct proposals). Consumes all arguments.
 */
export function allocScore(
  q: CriticParams,
  inp: CriticInputs,
  alloc: Arr,
  perm: Arr,
  cfg: AllocNetConfig,
): Arr {
  return criticForward(q, inp, alloc, perm, cfg);
}

/** `jit`-compiled `allocPropose` and `allocScore` (one program per S, resp. per (S, U)). */
export function makeAllocProposeScore(cfg: AllocNetConfig): {
  propose: (pi: PolicyParams, inp: AllocInputs, perm: Arr, noise: Arr) => Arr;
  score: (q: CriticParams, inp: CriticInputs, alloc: Arr, perm: Arr) => Arr;
} {
  const propose = jit((pi: PolicyParams, inp: AllocInputs, perm: Arr, noise: Arr) =>
    allocPropose(pi, inp, perm, noise, cfg),
  );
  const score = jit((q: CriticParams, inp: CriticInputs, alloc: Arr, perm: Arr) =>
    allocScore(q, inp, alloc, perm, cfg),
  );
  return {
    propose: (pi, inp, perm, noise) => propose(pi, inp, perm, noise) as Arr,
    score: (q, inp, alloc, perm) => score(q, inp, alloc, perm) as Arr,
  };
}

/**
 * Standard Gumbel noise from a host generator (`−log(−log u)`, u uniform in (0, 1)), row-major.
 * Acting draws its sampling noise on the host: the device's counter-based generator costs
 * several latency-bound kernels per call, and the host stream is part of the checkpointed state.
 */
export function hostGumbel(n: number, random01: () => number): Float32Array {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let u = random01();
    while (u <= 0) u = random01();
    g[i] = -Math.log(-Math.log(u));
  }
  return g;
}

/** Everything the losses need from stage A of the training step. */
export type CriticLossAux = {
  stats: PopArtStats;
  head: { w: Arr; b: Arr };
  qMean: Arr;
  targetMean: Arr;
};

/**
 * Critic TD loss (§12.2): `L_Q = Σ_j ((Q[j] − ŷ[j])·w[j])² / Σ_j w[j]` with `Q` the critic on the
 * executed allocation (normalised space, computed *before* the Pop-Art update), `ŷ` the target
 * `y` normalised by `popart_update(y, qMask)` (§13), and `w` the age-decayed weights — the weight
 * sits *inside* the square (spec quirk, §19.15 / §20.8, reproduced).
 *
 * Pop-Art order (§13, reference behaviour, as in the low-level learner): the gradient reaching
 * the body output is multiplied by the *updated* w; `w·sg(y) + y·sg(w') − sg(y·w') + b` has
 * value `w·y + b` and exactly those gradients. Consumes all arguments.
 */
export function criticLoss(
  q: CriticParams,
  stats: PopArtStats,
  inp: CriticInputs,
  y: Arr,
  qMask: Arr,
  weight: Arr,
  perm: Arr,
  cfg: AllocNetConfig,
): [Arr, CriticLossAux] {
  const sg = lax.stopGradient;
  const [body, head] = splitCritic(q);
  const e2t = inp.entity2taskMask;
  const stored = storedAllocation(e2t.ref, cfg.nAgents);
  const yBody = criticBody(body, { ...inp, entity2taskMask: e2t }, stored, perm, cfg).reshape([-1]);
  let qPred: Arr;
  let target: Arr;
  let newStats: PopArtStats;
  let newHead: { w: Arr; b: Arr };
  if (cfg.popart) {
    const upd = popartUpdate(stats, { w: sg(head.w.ref), b: sg(head.b.ref) }, y, qMask.ref);
    const w1 = upd.head.w;
    qPred = head.w
      .mul(sg(yBody.ref))
      .add(yBody.ref.mul(sg(w1.ref)))
      .sub(sg(yBody.mul(w1.ref)))
      .add(head.b);
    target = upd.yNorm;
    newStats = upd.stats;
    newHead = { w: w1, b: upd.head.b };
  } else {
    qPred = yBody.mul(head.w.ref).add(head.b.ref);
    target = y;
    newStats = stats;
    newHead = { w: sg(head.w), b: sg(head.b) };
  }
  const td = qPred.ref.sub(target.ref).mul(weight.ref);
  // Σw = 0 only when no sample is usable; the reference would divide by zero (NaN parameters).
  const loss = np.square(td).sum().div(np.maximum(weight.sum(), 1e-12));
  const mSum = np.maximum(qMask.ref.sum(), 1e-12);
  const qMean = sg(qPred.mul(qMask.ref).sum().div(mSum.ref));
  const targetMean = sg(target.mul(qMask).sum().div(mSum));
  return [loss, { stats: newStats, head: newHead, qMean, targetMean }];
}

/** Aux output of the policy loss. */
export type PolicyLossAux = { amort: Arr; entropy: Arr };

/**
 * Proposal loss (§12.2): `L_π = L_amort + entropy_loss·L_ent` with
 * `L_amort = −Σ_j mask_j·log π(best proposal of j) / Σ_j mask_j` (no age weight) and
 * `L_ent = −mean over (j, p) of entropy[j, p]` over all real samples and all proposals, unmasked
 * (§19.15). The statistics are recomputed by teacher forcing the proposals of stage A with the
 * same TaskEmbedder permutation, which reproduces the sampling pass's values and gradients
 * (§8.2: gradients flow through the logits, not through the sampled one-hots). Consumes all.
 */
export function policyLoss(
  pi: PolicyParams,
  inp: AllocInputs,
  perm: Arr,
  props: Arr,
  bestOH: Arr,
  mask: Arr,
  valid: Arr,
  cfg: AllocNetConfig,
): [Arr, PolicyLossAux] {
  const P = props.shape[1];
  const roll = policySample(pi, inp, perm, P, { given: props }, cfg);
  roll.alloc.dispose();
  roll.bestProb.dispose();
  const logPiBest = roll.logPi.mul(bestOH).sum(-1); // [S]
  const amort = logPiBest.mul(mask.ref).sum().neg().div(np.maximum(mask.sum(), 1e-12));
  const nValid = np.maximum(valid.ref.sum(), 1).mul(P);
  const entMean = roll.entropy
    .mul(valid.reshape([-1, 1]))
    .sum()
    .div(nValid);
  const loss = amort.ref.sub(entMean.ref.mul(cfg.entropyLoss));
  return [loss, { amort: lax.stopGradient(amort), entropy: lax.stopGradient(entMean) }];
}

/** Names (in order) of the metrics vector returned by the training step (§12.2 "Logged"). */
export const ALLOC_METRIC_NAMES = [
  "alloc/q_loss",
  "alloc/q_grad_norm",
  "alloc/pi_loss",
  "alloc/amort_loss",
  "alloc/entropy",
  "alloc/pi_grad_norm",
  "alloc/best_prob",
  "alloc/perc_ag_changed",
  "alloc/ag_task_concentration",
  "alloc/any_task_no_agents_pi",
  "alloc/q_taken_mean",
  "alloc/target_mean",
  "alloc/popart_mean",
  "alloc/popart_std",
] as const;

/**
 * One AQL training step (§12.2) on a meta-batch, in the specified order:
 *
 * 1. stage A (no gradient): sample `P` proposals per state with the live policy; the live critic
 *    scores them (`best_idx = argmax`); the *target* critic evaluates each state's best proposal
 *    and is denormalised with the target's own Pop-Art statistics (identity while undefined);
 * 2. `y[j] = seg_r[j] + γ·(1 − seg_d[j])·V̄[j+1]` (one γ per segment);
 * 3. critic loss (Pop-Art update inside), clip, optimiser step;
 * 4. proposal loss on the same proposals and `best_idx`, clip, optimiser step.
 *
 * Each network call draws its own TaskEmbedder permutation (one per forward call, §3.3, §8.3);
 * the teacher-forced policy pass reuses stage A's. `perms` holds the four permutation matrices
 * (drawn on the host, `hostPermutation`); `key` drives the proposal sampling. Targets are not updated here
 * (`updateAllocTarget`, on the episode schedule). Returns the new state and the metrics vector
 * (`ALLOC_METRIC_NAMES`). Consumes all arguments.
 */
export function allocTrainStep(
  state: AllocState,
  batch: MetaArrays,
  perms: TrainPerms,
  key: Arr,
  cfg: AllocNetConfig,
  opt: { pi: AllocOptConfig; q: AllocOptConfig },
): [AllocState, Arr] {
  const sg = lax.stopGradient;
  const P = cfg.nProposals;
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const S = batch.entities.shape[0];
  const kSample = key;
  const piPerm = perms.pi;

  // 1. Stage A: proposals, live scores, target value of the best proposal.
  const roll = policySample(
    tree.ref(state.pi),
    inputsRef(batch),
    piPerm.ref,
    P,
    { key: kSample },
    cfg,
  );
  tree.dispose([roll.logPi, roll.entropy]);
  const props = roll.alloc; // [S, P, Na, Nt]
  const scores = criticForward(
    tree.ref(state.q),
    criticInputsRef(batch),
    props.ref,
    perms.score,
    cfg,
  );
  const bestOH = oneHot(np.argmax(scores, -1), P); // [S, P]
  const bestAlloc = props.ref.mul(bestOH.ref.reshape([S, P, 1, 1])).sum(1); // [S, Na, Nt]
  let vBar = criticForward(
    tree.ref(state.target.q),
    criticInputsRef(batch),
    bestAlloc.ref.reshape([S, 1, Na, Nt]),
    perms.target,
    cfg,
  ).reshape([S]);
  if (cfg.popart) vBar = popartDenormalize(vBar, tree.ref(state.target.qStats));
  // 2. Bootstrapped targets: sample j uses V̄ of sample j+1 (§12.2; the last real one is qMask = 0).
  const vNext = np.concatenate([vBar.slice([1, S]), np.zeros([1])], 0);
  const y = sg(batch.segReward.ref.add(not(batch.segTerminated.ref).mul(vNext).mul(cfg.gamma)));

  // 3. Critic step.
  const qStats = state.qStats;
  const storedPerm = perms.stored;
  const [[qLoss, qAux], qGrads] = valueAndGrad(
    (q: CriticParams) =>
      criticLoss(
        q,
        qStats,
        criticInputsRef(batch),
        y,
        batch.qMask.ref,
        batch.weight.ref,
        storedPerm,
        cfg,
      ),
    { hasAux: true },
  )(tree.ref(state.q)) as unknown as [[Arr, CriticLossAux], CriticParams];
  // The optimiser step applies to the Pop-Art-rescaled head (§13).
  tree.dispose(state.q.popart);
  const qRescaled: CriticParams = { ...state.q, popart: qAux.head };
  const [qClipped, qGradNorm] = clipByGlobalNorm(qGrads, cfg.gradNormClip);
  const [qNew, qOptNew] = allocOptUpdate(qRescaled, qClipped, state.qOpt, opt.q);

  // 4. Policy step.
  const [[piLoss, piAux], piGrads] = valueAndGrad(
    (pi: PolicyParams) =>
      policyLoss(
        pi,
        inputsRef(batch),
        piPerm,
        props.ref,
        bestOH.ref,
        batch.mask.ref,
        batch.valid.ref,
        cfg,
      ),
    { hasAux: true },
  )(tree.ref(state.pi)) as unknown as [[Arr, PolicyLossAux], PolicyParams];
  const [piClipped, piGradNorm] = clipByGlobalNorm(piGrads, cfg.gradNormClip);
  const [piNew, piOptNew] = allocOptUpdate(state.pi, piClipped, state.piOpt, opt.pi);

  // Metrics (§12.2 "Logged").
  const valid = batch.valid.ref;
  const nValid = np.maximum(valid.ref.sum(), 1);
  const bestProb = roll.bestProb.mean(-1).mul(valid.ref).sum().div(nValid.ref);
  const activeAg = not(batch.entityMask.ref.slice([], [0, Na])); // [S, Na]
  const last = batch.lastAlloc.ref;
  const same = bestAlloc.ref.mul(last.ref).sum(-1); // [S, Na] 1 iff best subtask = previous one
  const changed = activeAg.ref
    .mul(not(same))
    .sum(-1)
    .div(np.maximum(activeAg.sum(-1), 1));
  const hasPrev = last.sum([1, 2]).greater(0.5).astype(np.float32).mul(valid.ref);
  const percChanged = changed.mul(hasPrev.ref).sum().div(np.maximum(hasPrev.sum(), 1));
  const membNa = not(batch.entity2taskMask.ref.slice([], [Na, Ne])); // [S, Nn, Nt]
  const nActiveTasks = not(batch.taskMask.ref).sum(-1); // [S]
  const conc = np
    .abs(bestAlloc.sum(1).sub(membNa.sum(1)))
    .sum(-1)
    .div(np.maximum(nActiveTasks, 1))
    .mul(valid.ref)
    .sum()
    .div(nValid.ref);
  const activeTask = not(batch.taskMask.ref).reshape([S, 1, Nt]);
  const emptyActive = props.sum(2).less(0.5).astype(np.float32).mul(activeTask).max(-1); // [S, P]
  const anyEmpty = emptyActive.mean(-1).mul(valid).sum().div(nValid);
  const popStd = np.sqrt(qAux.stats.var.ref);
  const metrics = np.stack([
    qLoss,
    qGradNorm,
    piLoss,
    piAux.amort,
    piAux.entropy,
    piGradNorm,
    bestProb,
    percChanged,
    conc,
    anyEmpty,
    qAux.qMean,
    qAux.targetMean,
    qAux.stats.mean.ref,
    popStd,
  ]);
  tree.dispose([bestOH, batch]);
  return [
    {
      pi: piNew,
      q: qNew,
      piOpt: piOptNew,
      qOpt: qOptNew,
      qStats: qAux.stats,
      target: state.target,
    },
    metrics,
  ];
}

function not(x: Arr): Arr {
  return np.subtract(1, x);
}

/** `jit`-compiled `allocTrainStep` (one program per meta-batch shape; keep `max_bs` fixed). */
export function makeAllocTrainStep(
  cfg: AllocNetConfig,
  opt: { pi: AllocOptConfig; q: AllocOptConfig },
): (state: AllocState, batch: MetaArrays, perms: TrainPerms, key: Arr) => [AllocState, Arr] {
  const f = jit((state: AllocState, batch: MetaArrays, perms: TrainPerms, key: Arr) =>
    allocTrainStep(state, batch, perms, key, cfg, opt),
  );
  return (state, batch, perms, key) => f(state, batch, perms, key) as [AllocState, Arr];
}
