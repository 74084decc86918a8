/**
 * Low-level QMIX training step (spec §11): TD targets with per-subtask rewards and bootstrap
 * masks, double Q, Pop-Art (§13), RMSProp with global-norm clipping (§14), all in one function
 * that `jit` compiles into a single program per batch shape. REFIL's imagined-group loss (§7) and
 * COPA's coach, strategies and VI loss (§16, `cfg.copa`) are optional parts of the same program;
 * without them the program is exactly the plain QMIX step.
 */
import {
  clipByGlobalNorm,
  GRAD_NORM_CLIP,
  RMSPROP_DEFAULTS,
  type RmsPropConfig,
  type RmsPropState,
  rmspropInit,
  rmspropUpdate,
} from "../learners/optim.js";
import {
  type AgentNetConfig,
  type AgentParams,
  agentForward,
  initAgent,
  type SubtaskCond,
} from "./agent.js";
import {
  type CoachParams,
  type CopaConfig,
  type CopaParams,
  coachForward,
  copaViTerms,
  forwardFill,
  initCopa,
  plainEpisodeMask,
  recogEntityInputs,
  recogForward,
  sampleStrategy,
} from "./copa.js";
import { type Arr, jit, lax, materialize, np, random, tree, valueAndGrad } from "./engine.js";
import { not01, oneHot, padLast, roundUp4, sliceAxisFromEnd, splitKey } from "./layers.js";
import {
  type ImaginedMixerInputs,
  initMixer,
  type MixerConfig,
  type MixerInputs,
  type MixerParams,
  mixerForward,
  splitMixerParams,
} from "./mixer.js";
import {
  initPopArtStats,
  type PopArtStats,
  popartDenormalize,
  popartPrediction,
  popartUpdate,
} from "./popart.js";
import { randomPermutationMatrix } from "./taskEmbed.js";

/**
 * One low-level training batch (spec §10, §11) as plain row-major typed arrays. `B` windows (or
 * padded episodes) of `T1 = T + 1` rows each; field names follow the episode record of spec §2.2.
 * Row `t` holds what was observed at `t`, the action taken at `t` and the outcome of that step.
 * All masks use 1 = blocked / absent / not a member. Rows with `filled = 0` are padding and are
 * masked out of the loss; keep `T1` fixed (e.g. always 64 = `max_traj_len`, padding shorter
 * batches) because every new shape recompiles the training step.
 *
 * The object may carry more fields (e.g. `tAdded`); only these are read (`hierDecision` only
 * with COPA).
 */
export interface LowLevelBatch {
  /** B. */
  readonly batchSize: number;
  /** T1 = T + 1 rows per batch entry (the last row only serves as "next" row). */
  readonly maxSeqLength: number;
  /** `[B, T1, Ne, De]` entity features (padded slots all zero). */
  readonly entities: Float32Array;
  /** `[B, T1, Ne, Ne]`, 1 = entity i cannot observe entity j. */
  readonly obsMask: Uint8Array;
  /** `[B, T1, Ne]`, 1 = slot inactive. */
  readonly entityMask: Uint8Array;
  /**
   * `[B, T1, Ne, Nt]`, 0 = entity e belongs to subtask k. Agent rows hold the allocation in force
   * at that row as written by the controller (1 − one-hot; all ones when unallocated, §2.2).
   */
  readonly entity2taskMask: Uint8Array;
  /** `[B, T1, Na, A]` available-action codes (0, 1, 2+k, 1000+j; spec §2.1). */
  readonly availActions: Int32Array;
  /** `[B, T1, Na]` action indices (row T1−1 of an episode holds the dummy final-row action). */
  readonly actions: Int32Array | Uint8Array;
  /** `[B, T1]` global reward of the step taken at each row. */
  readonly reward: Float32Array;
  /** `[B, T1]` 1 iff the episode ended at this row and not only by the time limit. */
  readonly terminated: Uint8Array;
  /** `[B, T1]` 1 iff the episode ended at this row for any reason. */
  readonly reset: Uint8Array;
  /** `[B, T1, Nt]` per-subtask reward of the step. */
  readonly taskRewards: Float32Array;
  /** `[B, T1, Nt]` subtask-finished flags after the step. */
  readonly tasksTerminated: Uint8Array;
  /** `[B, T1]` 1 for real rows (0..L of an episode), 0 for padding. */
  readonly filled: Uint8Array;
  /** `[B, T1]` 1 at decision points (§9.1); read only with COPA (§16.2 forward fill). */
  readonly hierDecision?: Uint8Array;
}

/** Configuration of the low-level learner (defaults: spec §18.1). */
export interface LowLevelConfig {
  readonly agent: AgentNetConfig;
  readonly mixer: MixerConfig;
  /** γ (0.99). */
  readonly gamma: number;
  /** `double_q` (true). */
  readonly doubleQ: boolean;
  /** `popart` (true). */
  readonly popart: boolean;
  /**
   * Apply the subtask action-availability conversion of §5 to the bootstrap targets
   * (`mask_subtask_actions` and an allocation method; StarCraft true, SaveTheCity false).
   */
  readonly maskSubtaskActions: boolean;
  readonly rmsprop: RmsPropConfig;
  /** `grad_norm_clip` (10). */
  readonly gradNormClip: number;
  /** `agent.imagine`: add the REFIL imagined-group loss (§7; config `refil`). Default false. */
  readonly imagine: boolean;
  /** `lmbda`: weight of the imagined loss, `L = (1−λ)·L_TD + λ·L_imag` (0.5). */
  readonly lambda: number;
  /**
   * λ of TD(λ) targets (`learner.tdLambda`, alma-ts addition, see `lambdaReturns`); 0 gives the
   * spec's one-step targets (§11.1), the default.
   */
  readonly tdLambda: number;
  /**
   * COPA (§16, `hier_agent.copa`): coach strategies added to the agents' hidden vectors, the
   * recognition model and the VI loss. Absent for every other method (nothing changes then).
   */
  readonly copa?: CopaConfig;
}

/** COPA switches of `defaultLowLevelConfig` (sizes follow the agent network, §3.6). */
export interface CopaOptions {
  /** Allocator in use AND `mask_copa` (§16.1); default false (pure COPA). */
  readonly subtaskMask?: boolean;
  /** `copa_vi_loss` (true). */
  readonly viLoss?: boolean;
  /** `vi_lambda` (5e-5). */
  readonly viLambda?: number;
}

/** Environment sizes needed to build the networks (a subset of `EnvInfo`). */
export interface LowLevelDims {
  readonly nAgents: number;
  readonly nEntities: number;
  readonly nTasks: number;
  readonly nActions: number;
  readonly entityShape: number;
}

/** Paper-default low-level configuration for an environment (spec §18.1, §17). */
export function defaultLowLevelConfig(
  dims: LowLevelDims,
  subtaskCond: SubtaskCond,
  overrides: Partial<Omit<LowLevelConfig, "agent" | "mixer" | "copa">> & {
    attnEmbed?: number;
    nHeads?: number;
    hiddenDim?: number;
    hypernetEmbed?: number;
    mixingEmbed?: number;
    softmaxMixingWeights?: boolean;
    mixerSubtaskCond?: SubtaskCond;
    nExtraTasks?: number;
    /** Enable COPA (§16) with these switches. */
    copa?: CopaOptions;
  } = {},
): LowLevelConfig {
  const mixerCond =
    overrides.mixerSubtaskCond === undefined ? subtaskCond : overrides.mixerSubtaskCond;
  const agent: AgentNetConfig = {
    nAgents: dims.nAgents,
    nEntities: dims.nEntities,
    nActions: dims.nActions,
    entityShape: dims.entityShape,
    nTasks: dims.nTasks,
    nExtraTasks: overrides.nExtraTasks ?? 0,
    attnEmbed: overrides.attnEmbed ?? 128,
    nHeads: overrides.nHeads ?? 4,
    hiddenDim: overrides.hiddenDim ?? 64,
    subtaskCond,
  };
  const mixer: MixerConfig = {
    nAgents: dims.nAgents,
    nEntities: dims.nEntities,
    nTasks: dims.nTasks,
    featureDim: dims.entityShape + dims.nActions + (mixerCond === "full_obs" ? dims.nTasks : 0),
    hypernetEmbed: overrides.hypernetEmbed ?? 128,
    mixingEmbed: overrides.mixingEmbed ?? 32,
    nHeads: overrides.nHeads ?? 4,
    subtaskCond: mixerCond,
    softmaxMixingWeights: overrides.softmaxMixingWeights ?? true,
  };
  const copaOpts = overrides.copa;
  // Coach and recognition model share the agent's attention sizes; z has the hidden width (§3.6).
  const copa: CopaConfig | undefined = copaOpts
    ? {
        nAgents: dims.nAgents,
        nEntities: dims.nEntities,
        nActions: dims.nActions,
        entityShape: dims.entityShape,
        nTasks: dims.nTasks,
        nExtraTasks: agent.nExtraTasks,
        embed: agent.attnEmbed,
        nHeads: agent.nHeads,
        zDim: agent.hiddenDim,
        subtaskMask: copaOpts.subtaskMask ?? false,
        viLoss: copaOpts.viLoss ?? true,
        viLambda: copaOpts.viLambda ?? 5e-5,
      }
    : undefined;
  return {
    agent,
    mixer,
    gamma: overrides.gamma ?? 0.99,
    doubleQ: overrides.doubleQ ?? true,
    popart: overrides.popart ?? true,
    maskSubtaskActions: overrides.maskSubtaskActions ?? false,
    rmsprop: overrides.rmsprop ?? RMSPROP_DEFAULTS,
    gradNormClip: overrides.gradNormClip ?? GRAD_NORM_CLIP,
    imagine: overrides.imagine ?? false,
    lambda: overrides.lambda ?? 0.5,
    tdLambda: overrides.tdLambda ?? 0,
    ...(copa ? { copa } : {}),
  };
}

/**
 * Trainable low-level parameters: agent utility network and mixer (incl. Pop-Art w, b), plus the
 * COPA coach and recognition model when `cfg.copa` is set (same optimiser, same target copies,
 * §14, §16.2).
 */
export type LowLevelParams = { agent: AgentParams; mixer: MixerParams; copa?: CopaParams };

/** Target networks: a copy of the params and of the Pop-Art statistics (spec §11.12, §13). */
export type LowLevelTarget = { params: LowLevelParams; popart: PopArtStats };

/** Everything the low-level training step reads and updates. */
export type LowLevelState = {
  params: LowLevelParams;
  opt: RmsPropState<LowLevelParams>;
  popart: PopArtStats;
  target: LowLevelTarget;
};

/** Scalar metrics of one training step (spec §11, "Logged"). */
export type LowLevelMetrics = {
  /** The optimised loss, `(1−λ)·L_TD + λ·L_imag` with REFIL, else `L_TD`. */
  loss: Arr;
  /** `L_TD` (`losses/q_loss`). */
  qLoss: Arr;
  /** `L_imag` (`losses/im_loss`); 0 without REFIL. */
  imLoss: Arr;
  /** Global gradient norm before clipping (`train_metrics/q_grad_norm`). */
  gradNorm: Arr;
  tdErrorAbs: Arr;
  qTakenMean: Arr;
  targetMean: Arr;
  /** COPA with `copa_vi_loss` only: `−lp_mean` (`losses/copa_vi_loss`, §16.2). */
  copaViLoss?: Arr;
  /** COPA with `copa_vi_loss` only: `−H_mean` (`losses/copa_entropy_loss`, §16.2). */
  copaEntropyLoss?: Arr;
};

/** Auxiliary outputs of `lowLevelLoss`: Pop-Art update and the metrics computed in the loss. */
export type LowLevelLossAux = {
  popart: PopArtStats;
  /** The rescaled Pop-Art head, to which the optimiser step is applied. */
  head: { w: Arr; b: Arr };
  metrics: Omit<LowLevelMetrics, "loss" | "gradNorm">;
};

/** Initialise params, optimiser, Pop-Art statistics and targets (copies). Consumes `key`. */
export function initLowLevelState(key: Arr, cfg: LowLevelConfig): LowLevelState {
  const keys = splitKey(key, cfg.copa ? 3 : 2);
  const [ka, km] = keys;
  const params: LowLevelParams = {
    agent: initAgent(ka, cfg.agent),
    mixer: initMixer(km, cfg.mixer),
  };
  if (cfg.copa) params.copa = initCopa(keys[2], cfg.copa);
  // Key order matters: jax-js flattens objects in insertion order and `jit` caches on the tree
  // structure, so every state object is built as { params, opt, popart, target }.
  const opt = rmspropInit(tree.ref(params));
  const target = { params: tree.ref(params), popart: initPopArtStats() };
  return { params, opt, popart: initPopArtStats(), target };
}

/**
 * Hard target update (spec §11.12): target ← live params and live Pop-Art statistics. Arrays are
 * immutable, so the "copy" shares buffers by reference count. Consumes `state`, returns the new one.
 */
export function updateLowLevelTarget(state: LowLevelState): LowLevelState {
  tree.dispose(state.target);
  const target = { params: tree.ref(state.params), popart: tree.ref(state.popart) };
  return { params: state.params, opt: state.opt, popart: state.popart, target };
}

/** The batch as float32 device arrays (same field names and shapes as `LowLevelBatch`). */
export type LowLevelArrays = {
  entities: Arr;
  obsMask: Arr;
  entityMask: Arr;
  entity2taskMask: Arr;
  availActions: Arr;
  actions: Arr;
  reward: Arr;
  terminated: Arr;
  reset: Arr;
  taskRewards: Arr;
  tasksTerminated: Arr;
  filled: Arr;
  /** `[B, T1]` decision points; present only when requested (COPA, §16.2). */
  hierDecision?: Arr;
};

function toF32(src: ArrayLike<number>, expected: number, name: string): Float32Array {
  if (src.length !== expected) {
    throw new Error(`LowLevelBatch.${name}: length ${src.length}, expected ${expected}`);
  }
  return src instanceof Float32Array ? src : Float32Array.from(src);
}

/**
 * Upload a batch as float32 arrays (masks and codes are small integers, exact in float32).
 * Validates every field's length against `dims`. `opts.hierDecision` also uploads the decision
 * points (needed by COPA's forward fill, §16.2; left out otherwise so that the compiled training
 * step of the other methods keeps its inputs).
 */
export function lowLevelBatchToArrays(
  batch: LowLevelBatch,
  dims: LowLevelDims,
  opts: { hierDecision?: boolean } = {},
): LowLevelArrays {
  const B = batch.batchSize;
  const T1 = batch.maxSeqLength;
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, nActions: A, entityShape: De } = dims;
  const mk = (src: ArrayLike<number>, shape: number[], name: string) =>
    np.array(
      toF32(
        src,
        shape.reduce((a, b) => a * b, 1),
        name,
      ),
      { shape },
    );
  const out: LowLevelArrays = {
    entities: mk(batch.entities, [B, T1, Ne, De], "entities"),
    obsMask: mk(batch.obsMask, [B, T1, Ne, Ne], "obsMask"),
    entityMask: mk(batch.entityMask, [B, T1, Ne], "entityMask"),
    entity2taskMask: mk(batch.entity2taskMask, [B, T1, Ne, Nt], "entity2taskMask"),
    availActions: mk(batch.availActions, [B, T1, Na, A], "availActions"),
    actions: mk(batch.actions, [B, T1, Na], "actions"),
    reward: mk(batch.reward, [B, T1], "reward"),
    terminated: mk(batch.terminated, [B, T1], "terminated"),
    reset: mk(batch.reset, [B, T1], "reset"),
    taskRewards: mk(batch.taskRewards, [B, T1, Nt], "taskRewards"),
    tasksTerminated: mk(batch.tasksTerminated, [B, T1, Nt], "tasksTerminated"),
    filled: mk(batch.filled, [B, T1], "filled"),
  };
  if (opts.hierDecision) {
    if (!batch.hierDecision) throw new Error("LowLevelBatch.hierDecision is missing");
    out.hierDecision = mk(batch.hierDecision, [B, T1], "hierDecision");
  }
  return out;
}

/** Value written into unavailable actions' target utilities (spec §11.3). */
const UNAVAILABLE_Q = -9999999;

/** Rows `[a, b)` of axis 1. */
function rows(x: Arr, a: number, b: number): Arr {
  return x.slice([], [a, b]);
}

/**
 * Availability for the bootstrap targets (spec §5 step 2, §11.3): `codes` `[B,T,Na,A]` of rows
 * 1..T, `alloc` `[B,T,Na,Nt]` one-hot allocation in force at rows 0..T−1 (or null for the raw
 * "any non-zero code" rule). Available iff code = 1, or code − 2 = k_i (k_i = argmax of agent i's
 * allocation), or code ≥ 1000 and ally code − 1000 has the same k. Returns 0/1 float
 * `[B,T,Na,A]`. Consumes both.
 */
export function availableForTargets(codes: Arr, alloc: Arr | null, nAgents: number): Arr {
  if (alloc === null) return codes.greater(0.5).astype(np.float32);
  const [B, T, Na, A] = codes.shape;
  const Nt = alloc.shape[3];
  // k_i = argmax(alloc_i): an unallocated (all-zero) agent counts as subtask 0, like the reference.
  const k = oneHot(np.argmax(alloc, -1).astype(np.float32), Nt); // [B,T,Na,Nt]
  const free = codes.ref.equal(1).astype(np.float32);
  const taskIdx = codes.ref.sub(2).reshape([B, T, Na, A, 1]);
  const taskHit = taskIdx
    .equal(np.arange(Nt).astype(np.float32).reshape([1, 1, 1, 1, Nt]))
    .astype(np.float32)
    .mul(k.ref.reshape([B, T, Na, 1, Nt]))
    .sum(-1);
  const same = np.matmul(k.ref, k.transpose([0, 1, 3, 2])); // [B,T,Na,Na]
  const allyIdx = codes.ref.sub(1000).reshape([B, T, Na, A, 1]);
  const allyHit = allyIdx
    .equal(np.arange(nAgents).astype(np.float32).reshape([1, 1, 1, 1, nAgents]))
    .astype(np.float32)
    .mul(same.reshape([B, T, Na, 1, Na]))
    .sum(-1)
    .mul(codes.greater(999.5).astype(np.float32));
  return np.minimum(free.add(taskHit).add(allyHit), 1);
}

/** Entity inputs `entities ⊕ last-action block` (spec §4.1), padded to a multiple of 4 wide. */
function entityInputs(entities: Arr, actOH: Arr, dims: LowLevelDims, extra: Arr | null): Arr {
  const [B, T1, Ne] = entities.shape;
  const { nAgents: Na, nActions: A } = dims;
  // Row t carries the action of row t−1; row 0 of the slice gets zeros (§4.1, §19.4).
  const dtype = entities.dtype;
  const last = np.concatenate(
    [np.zeros([B, 1, Na, A], { dtype }), rows(actOH.astype(dtype), 0, T1 - 1)],
    1,
  );
  const lastAll = np.pad(last, [
    [0, 0],
    [0, 0],
    [0, Ne - Na],
    [0, 0],
  ]);
  const parts = [entities, lastAll];
  if (extra) parts.push(extra);
  const width = parts.reduce((w, p) => w + p.shape[3], 0);
  // Zero columns up to a multiple of 4 inside the same (materialised) concatenation; see padLast.
  if (width % 4 !== 0) parts.push(np.zeros([B, T1, Ne, roundUp4(width) - width], { dtype }));
  return np.concatenate(parts, 3);
}

/**
 * REFIL imagined groups (spec §7 steps 1-3) for one window batch. Each batch row b draws
 * p_b ~ U(0,1) and every entity slot a Bernoulli(p_b) bit (group A = 0, group B = 1), shared by
 * all time rows; entities inactive at the window's first row are in neither group. Returns pair
 * masks `[B, Ne, Ne]` (1 = blocked):
 *
 * - `interact`: blocks pairs in the same group (so an active entity never attends to itself);
 *   pairs involving an entity in neither group are not blocked by it;
 * - `within = NOT interact`: blocks every pair except same-group pairs;
 * - `active`: blocks a pair unless both entities are active at the first row.
 *
 * `entityMask0`: `[B, Ne]` entity mask of the first row. Consumes both arguments.
 */
export function imaginedGroupMasks(
  key: Arr,
  entityMask0: Arr,
): { within: Arr; interact: Arr; active: Arr } {
  const [B, Ne] = entityMask0.shape;
  const dtype = entityMask0.dtype;
  const [kp, kb] = splitKey(key, 2);
  const p = random.uniform(kp, [B, 1]);
  const bit = random.uniform(kb, [B, Ne]).less(p).astype(dtype);
  const act = not01(entityMask0);
  const inB = bit.ref.mul(act.ref);
  const inA = not01(bit).mul(act.ref);
  const outer = (x: Arr) => x.ref.reshape([B, Ne, 1]).mul(x.reshape([B, 1, Ne]));
  const same = outer(inA).add(outer(inB)); // 1 iff both in A or both in B
  return { interact: same.ref, within: not01(same), active: not01(outer(act)) };
}

/**
 * Rewards, termination flags and loss mask of the low-level TD loss (spec §11.1), each
 * `[B, T, n_out]` for the T "current" rows:
 *
 * - `mask[t] = filled[t]·(1 − reset[t−1])` (`mask[0] = filled[0]`): a row that follows an
 *   episode end inside a window is not a transition of the same episode.
 * - Without subtask conditioning: global `reward` / `terminated`, `n_out = 1`.
 * - With it: `task_rewards` / `tasks_terminated` per subtask; the mask additionally drops subtasks
 *   already finished at the previous row and subtasks without any allocated agent at row t
 *   (agent rows of `entity2taskMask`, which must hold rows 0..T−1). Bootstrapping uses only
 *   `tasks_terminated`, so an unfinished subtask bootstraps through an episode end (§11.1 note).
 *
 * Inputs hold T+1 rows (except `entity2taskMask`: T rows). Consumes all.
 */
export function lowLevelRewardsAndMasks(
  b: {
    filled: Arr;
    reset: Arr;
    reward: Arr;
    terminated: Arr;
    taskRewards: Arr;
    tasksTerminated: Arr;
    entity2taskMask: Arr;
  },
  cfg: Pick<LowLevelConfig, "agent">,
): { reward: Arr; done: Arr; mask: Arr } {
  const [B, T1] = b.filled.shape;
  const T = T1 - 1;
  const Na = cfg.agent.nAgents;
  const dtype = b.filled.dtype;
  const notResetPrev = np.concatenate(
    [np.ones([B, 1], { dtype }), not01(rows(b.reset, 0, T - 1))],
    1,
  );
  let mask = rows(b.filled, 0, T).mul(notResetPrev).reshape([B, T, 1]);
  if (cfg.agent.subtaskCond === null) {
    tree.dispose([b.taskRewards, b.tasksTerminated, b.entity2taskMask]);
    return {
      reward: rows(b.reward, 0, T).reshape([B, T, 1]),
      done: rows(b.terminated, 0, T).reshape([B, T, 1]),
      mask,
    };
  }
  tree.dispose([b.reward, b.terminated]);
  const tt = b.tasksTerminated;
  const Nt = tt.shape[2];
  const notDonePrev = np.concatenate(
    [np.ones([B, 1, Nt], { dtype }), not01(rows(tt.ref, 0, T - 1))],
    1,
  );
  // A loss entry needs at least one agent allocated to the subtask at row t.
  const hasAgent = np.max(not01(b.entity2taskMask.slice([], [], [0, Na])), 2); // [B,T,Nt]
  mask = mask.mul(notDonePrev).mul(hasAgent);
  return { reward: rows(b.taskRewards, 0, T), done: rows(tt, 0, T), mask };
}

/**
 * Batch-derived inputs shared by the passes of the loss. Functions that receive a `Prepared`
 * *borrow* it (they take `.ref`s); its owner calls `disposePrepared`.
 *
 * Every network runs on all T1 rows of the batch (the few rows it does not need are sliced off
 * its output): the inputs then stay contiguous and can be flattened to one leading axis of
 * N = B·T1 rows for free, which is what makes jax-js' kernels fast (see entityAttention).
 */
type Prepared = {
  B: number;
  T1: number;
  /** `[B,T1,Na,A]` one-hot actions. */
  actOH: Arr;
  /** `[N,Ne,Dp]` entities ⊕ last-action block (zero-padded to a multiple of 4). */
  ent: Arr;
  /** `[B,T1,Ne,Nt]` and the same shifted by one row (row t holds row t−1; row 0 keeps row 0). */
  e2t: Arr;
  e2tShift: Arr;
  /** `[N,Ne]`, `[N,Ne,Ne]`. */
  em: Arr;
  obs: Arr;
  /** Remaining raw fields. */
  availActions: Arr;
  filled: Arr;
  reset: Arr;
  reward: Arr;
  terminated: Arr;
  taskRewards: Arr;
  tasksTerminated: Arr;
  /** COPA only (§16). */
  copa?: PreparedCopa;
};

/** COPA inputs: coach and recognition-model entity inputs and the decision points. */
type PreparedCopa = {
  /** `[N,Ne,De4]` raw entities, zero-padded once to a multiple of 4 (coach input, §16.1). */
  ent: Arr;
  /** `[N,Ne,W]` entities ⊕ action taken at the row (recognition model, §16.2); with the VI loss. */
  recogEnt?: Arr;
  /** `[B,T1]` decision points. */
  dec: Arr;
};

function prepare(batch: LowLevelArrays, cfg: LowLevelConfig): Prepared {
  const dims: LowLevelDims = { ...cfg.agent };
  const [B, T1] = batch.filled.shape;
  const N = B * T1;
  const actOH = oneHot(batch.actions, cfg.agent.nActions);
  let copa: PreparedCopa | undefined;
  if (cfg.copa) {
    if (!batch.hierDecision) {
      throw new Error(
        "COPA needs the decision points: lowLevelBatchToArrays(batch, dims, { hierDecision: true })",
      );
    }
    const raw = batch.entities.ref;
    const De = cfg.agent.entityShape;
    const ent = padLast(raw.ref, roundUp4(De));
    copa = { ent: ent.reshape([N, ...ent.shape.slice(2)]), dec: batch.hierDecision };
    if (cfg.copa.viLoss) {
      const r = recogEntityInputs(raw, actOH.ref);
      copa.recogEnt = r.reshape([N, ...r.shape.slice(2)]);
    } else {
      raw.dispose();
    }
  } else {
    batch.hierDecision?.dispose();
  }
  const ent = entityInputs(batch.entities, actOH.ref, dims, null);
  const e2t = batch.entity2taskMask;
  // The allocation in force when row t's predecessor acted: row t−1 (row 0 keeps row 0), §11.2.
  const e2tShift = np.concatenate([rows(e2t.ref, 0, 1), rows(e2t.ref, 0, T1 - 1)], 1);
  return {
    B,
    T1,
    actOH,
    ent: ent.reshape([N, ...ent.shape.slice(2)]),
    e2t,
    e2tShift,
    em: batch.entityMask.reshape([N, -1]),
    obs: batch.obsMask.reshape([N, ...batch.obsMask.shape.slice(2)]),
    availActions: batch.availActions,
    filled: batch.filled,
    reset: batch.reset,
    reward: batch.reward,
    terminated: batch.terminated,
    taskRewards: batch.taskRewards,
    tasksTerminated: batch.tasksTerminated,
    ...(copa ? { copa } : {}),
  };
}

function disposePrepared(P: Prepared): void {
  const { B: _b, T1: _t, ...arrays } = P;
  tree.dispose(arrays);
}

function checkConds(cfg: LowLevelConfig): void {
  if ((cfg.agent.subtaskCond === null) !== (cfg.mixer.subtaskCond === null)) {
    throw new Error("lowLevelLoss: agent and mixer subtask conditioning must both be set or unset");
  }
  if (cfg.copa && cfg.copa.zDim !== cfg.agent.hiddenDim) {
    throw new Error(
      `lowLevelLoss: COPA strategy size ${cfg.copa.zDim} must equal the agent hidden width ${cfg.agent.hiddenDim} (§16.1)`,
    );
  }
}

/** The coach's task-code permutation for one forward call (§3.3); none with the subtask mask. */
function copaPerm(cfg: CopaConfig, k: Arr): Arr | undefined {
  if (!cfg.subtaskMask) return randomPermutationMatrix(k, cfg.nTasks + (cfg.nExtraTasks ?? 0));
  k.dispose();
  return undefined;
}

/**
 * The coach on every row of the window and the forward-filled sample (spec §16.2): returns z
 * `[N,Na,Z]` (rows before a window's first decision point get 0) and, with `keepDist`, the
 * coach's Gaussian `[B,T1,Na,Z]` (for the entropy term). `extraMask` `[N,Ne,Ne]`: REFIL's
 * imagined no-observability mask OR'ed into the coach's own. Consumes `coach`, `perm`, `key`,
 * `extraMask`; borrows `P`.
 */
function coachStrategies(
  coach: CoachParams,
  P: Prepared,
  perm: Arr | undefined,
  key: Arr,
  extraMask: Arr | undefined,
  keepDist: boolean,
  cfg: LowLevelConfig,
): { z: Arr; dist: { mu: Arr; logvar: Arr } | null } {
  const Pc = P.copa!;
  const { flat, unflat } = flatteners(P);
  const d = coachForward(
    coach,
    {
      ent: Pc.ent.ref,
      entityMask: P.em.ref,
      entity2taskMask: flat(P.e2t.ref),
      taskPerm: perm,
      extraMask,
    },
    cfg.copa!,
  );
  const zRows = keepDist
    ? sampleStrategy({ mu: d.mu.ref, logvar: d.logvar.ref }, key)
    : sampleStrategy(d, key);
  const z = flat(forwardFill(unflat(zRows), Pc.dec.ref));
  return { z, dist: keepDist ? { mu: unflat(d.mu), logvar: unflat(d.logvar) } : null };
}

/** Helpers to move between `[B, T1, ...]` and `[N, ...]`. */
function flatteners(P: Prepared) {
  const N = P.B * P.T1;
  return {
    flat: (x: Arr) => x.reshape([N, ...x.shape.slice(2)]),
    unflat: (x: Arr) => x.reshape([P.B, P.T1, ...x.shape.slice(1)]),
  };
}

function permFor(cfg: LowLevelConfig, k: Arr, cond: SubtaskCond): Arr | undefined {
  if (cond === "full_obs") {
    return randomPermutationMatrix(k, cfg.agent.nTasks + (cfg.agent.nExtraTasks ?? 0));
  }
  k.dispose();
  return undefined;
}

/**
 * Live pass (spec §11.2 step 1, §7): the agent network on every row with that row's allocation,
 * REFIL's imagined copies, and the live mixer on the chosen utilities. Returns the live utilities
 * `U` `[B,T1,Na,A]` (for double Q), the mixer output before Pop-Art `yMix` `[B,T,n_out]` and the
 * imagined one. Consumes `params` and `key`; borrows `P`.
 */
function livePass(
  params: LowLevelParams,
  P: Prepared,
  key: Arr,
  cfg: LowLevelConfig,
): {
  U: Arr;
  yMix: Arr;
  yImag: Arr | null;
  head: { w: Arr; b: Arr };
  copa: { lpMean: Arr; hMean: Arr } | null;
} {
  const { B, T1 } = P;
  const T = T1 - 1;
  const Ne = cfg.agent.nEntities;
  const { flat, unflat } = flatteners(P);
  const agentCond = cfg.agent.subtaskCond;
  const mixerCond = cfg.mixer.subtaskCond;
  const copaParams = params.copa;
  if ((copaParams === undefined) !== (cfg.copa === undefined)) {
    throw new Error("lowLevelLoss: COPA parameters and cfg.copa must both be present or absent");
  }
  const keys = splitKey(key, copaParams ? 3 : 2);
  const [kLive, kGroups] = keys;

  // COPA (§16.2): coach on every row, sampled z forward-filled from the decision points. The
  // real strategies feed the live agents (TD gradients reach the coach through them) and the VI
  // term; the imagined copies get their own coach pass below.
  let copaLive: {
    z: Arr;
    dist: { mu: Arr; logvar: Arr };
    perm: Arr | undefined;
    kRecog: Arr;
    kImag: Arr;
  } | null = null;
  if (copaParams) {
    const [kPerm, kZ, kRecog, kImag] = splitKey(keys[2], 4);
    const perm = copaPerm(cfg.copa!, kPerm);
    const r = coachStrategies(tree.ref(copaParams.coach), P, perm?.ref, kZ, undefined, true, cfg);
    copaLive = { z: r.z, dist: r.dist!, perm, kRecog, kImag };
  }

  // REFIL (§7): imagined copies of the live pass. Quirks reproduced (§20.2, §20.3): the imagined
  // inputs get no subtask masking, and with `full_obs` the task code is dropped from every row of
  // the live pass (the target network keeps it).
  let imagined: ImaginedMixerInputs | null = null;
  let liveCond: SubtaskCond = agentCond;
  if (cfg.imagine) {
    const g = imaginedGroupMasks(kGroups, unflat(P.em.ref).slice([], 0));
    const perRow = (m: Arr) => np.broadcastTo(m.reshape([B, 1, Ne, Ne]), [B, T1, Ne, Ne]);
    const imagCfg = { ...cfg.agent, subtaskCond: null };
    // COPA on the imagined copies (§16.2): the coach sees the imagined no-observability masks
    // (OR'ed with its own) and produces its own forward-filled strategies for those copies.
    let zWithin: Arr | undefined;
    let zInteract: Arr | undefined;
    if (copaParams && copaLive) {
      const [kw, ki] = splitKey(copaLive.kImag, 2);
      const noObs = (pair: Arr) => flat(perRow(np.maximum(pair, g.active.ref)));
      zWithin = coachStrategies(
        tree.ref(copaParams.coach),
        P,
        copaLive.perm?.ref,
        kw,
        noObs(g.within.ref),
        false,
        cfg,
      ).z;
      zInteract = coachStrategies(
        tree.ref(copaParams.coach),
        P,
        copaLive.perm?.ref,
        ki,
        noObs(g.interact.ref),
        false,
        cfg,
      ).z;
    }
    const qOf = (pairMask: Arr, coachZ?: Arr) =>
      unflat(
        agentForward(
          tree.ref(params.agent),
          {
            ent: P.ent.ref,
            obsMask: flat(np.maximum(perRow(pairMask), unflat(P.obs.ref))),
            entityMask: P.em.ref,
            coachZ,
          },
          imagCfg,
        ),
      )
        .mul(P.actOH.ref)
        .sum(-1); // [B,T1,Na]
    const qWithin = qOf(g.within.ref, zWithin);
    const qInteract = qOf(g.interact.ref, zInteract);
    imagined = {
      qWithin: flat(qWithin),
      qInteract: flat(qInteract),
      withinMask: flat(perRow(np.maximum(g.within, g.active.ref))),
      interactMask: flat(perRow(np.maximum(g.interact, g.active))),
    };
    if (agentCond === "full_obs") liveCond = null;
  } else {
    kGroups.dispose();
    copaLive?.kImag.dispose();
  }

  const U = unflat(
    agentForward(
      params.agent,
      {
        ent: P.ent.ref,
        obsMask: P.obs.ref,
        entityMask: P.em.ref,
        entity2taskMask: liveCond ? flat(P.e2t.ref) : undefined,
        taskPerm: permFor(cfg, kLive, liveCond),
        coachZ: copaLive?.z.ref,
      },
      { ...cfg.agent, subtaskCond: liveCond },
    ),
  ); // [B,T1,Na,A]
  const copa = copaParams && copaLive ? copaTerms(copaParams, copaLive, P, cfg) : null;
  // Chosen utilities of every row (row T's dummy action included; its mixer output is unused).
  const qChosen = U.ref.mul(P.actOH.ref).sum(-1); // [B,T1,Na]

  // Current mixer: rows 0..T−1 with their own entity2task (§11.2 step 5).
  const features =
    mixerCond === "full_obs"
      ? flat(np.concatenate([unflat(P.ent.ref), not01(P.e2t.ref)], 3))
      : P.ent.ref;
  const [hyper, head] = splitMixerParams(params.mixer);
  const mixInputs: MixerInputs = {
    features,
    entityMask: P.em.ref,
    entity2taskMask: mixerCond ? flat(P.e2t.ref) : undefined,
  };
  if (imagined) {
    const [yr, yi] = mixerForward(hyper, flat(qChosen), mixInputs, cfg.mixer, imagined);
    return { U, yMix: rows(unflat(yr), 0, T), yImag: rows(unflat(yi), 0, T), head, copa };
  }
  const y = mixerForward(hyper, flat(qChosen), mixInputs, cfg.mixer);
  return { U, yMix: rows(unflat(y), 0, T), yImag: null, head, copa };
}

/**
 * COPA's VI and entropy terms (spec §16.2) from the live pass: the recognition model on
 * (s_t, a_t) scores the forward-filled *real* strategies. Without `copa_vi_loss` the recognition
 * model is unused (zero gradient) and null is returned. Consumes `params` (coach already used)
 * and `live`; borrows `P`.
 */
function copaTerms(
  params: CopaParams,
  live: {
    z: Arr;
    dist: { mu: Arr; logvar: Arr };
    perm: Arr | undefined;
    kRecog: Arr;
  },
  P: Prepared,
  cfg: LowLevelConfig,
): { lpMean: Arr; hMean: Arr } | null {
  const c = cfg.copa!;
  tree.dispose(params.coach);
  live.perm?.dispose();
  if (!c.viLoss) {
    tree.dispose([params.recog, live.z, live.dist, live.kRecog]);
    return null;
  }
  const { flat, unflat } = flatteners(P);
  const q = recogForward(
    params.recog,
    {
      ent: P.copa!.recogEnt!.ref,
      entityMask: P.em.ref,
      entity2taskMask: flat(P.e2t.ref),
      taskPerm: copaPerm(c, live.kRecog),
    },
    c,
  );
  const agentMask = sliceAxisFromEnd(unflat(P.em.ref), 0, 0, c.nAgents); // [B,T1,Na]
  return copaViTerms(
    unflat(live.z),
    { mu: unflat(q.mu), logvar: unflat(q.logvar) },
    live.dist,
    agentMask,
    plainEpisodeMask(P.filled.ref, P.reset.ref),
  );
}

/**
 * TD targets `y = r + γ(1 − d)·denorm(Q̄tot)` and the loss mask (spec §11.1, §11.2 steps 2-7),
 * `[B,T,n_out]`, from the target networks and the (stop-gradient) live utilities `U`
 * `[B,T1,Na,A]` of the double-Q argmax. Consumes `target`, `U`, `key`; borrows `P`.
 */
function targetsPass(
  target: LowLevelTarget,
  U: Arr,
  P: Prepared,
  key: Arr,
  cfg: LowLevelConfig,
): { y: Arr; mask: Arr } {
  const { B, T1 } = P;
  const T = T1 - 1;
  const { nAgents: Na, nActions: A } = cfg.agent;
  const { flat, unflat } = flatteners(P);
  const agentCond = cfg.agent.subtaskCond;
  const mixerCond = cfg.mixer.subtaskCond;
  const sg = lax.stopGradient;

  // COPA (§16.2): the target coach samples its own strategies, forward-filled from the same
  // decision points, for the target utilities (the target recognition model is unused).
  let kAgent = key;
  let targetZ: Arr | undefined;
  const tCopa = target.params.copa;
  if (tCopa) {
    const [ka, kPerm, kZ] = splitKey(key, 3);
    kAgent = ka;
    tree.dispose(tCopa.recog);
    targetZ = coachStrategies(
      tCopa.coach,
      P,
      copaPerm(cfg.copa!, kPerm),
      kZ,
      undefined,
      false,
      cfg,
    ).z;
  }

  // Target agent network: row t (1..T) evaluated with the allocation of row t−1 (§11.2, §19.9).
  const Ubar = rows(
    unflat(
      agentForward(
        target.params.agent,
        {
          ent: P.ent.ref,
          obsMask: P.obs.ref,
          entityMask: P.em.ref,
          entity2taskMask: agentCond ? flat(P.e2tShift.ref) : undefined,
          taskPerm: permFor(cfg, kAgent, agentCond),
          coachZ: targetZ,
        },
        cfg.agent,
      ),
    ),
    1,
    T1,
  ); // [B,T,Na,A]

  // Availability of rows 1..T, converted with the allocation of rows 0..T−1 (§11.3).
  const allocPrev =
    cfg.maskSubtaskActions && agentCond
      ? not01(rows(P.e2tShift.ref, 1, T1).slice([], [], [0, Na]))
      : null;
  const avail = availableForTargets(rows(P.availActions.ref, 1, T1), allocPrev, Na);
  const availB = avail.greater(0.5);
  const ubarMasked = np.where(availB.ref, Ubar, UNAVAILABLE_Q);
  // Double Q: argmax of the live utilities of the next row, evaluated by the target network.
  let qBar: Arr;
  if (cfg.doubleQ) {
    const uNext = sg(U.slice([], [1, T1]));
    const best = np.argmax(np.where(availB, uNext, UNAVAILABLE_Q), -1).astype(np.float32);
    qBar = ubarMasked.mul(oneHot(best, A)).sum(-1);
  } else {
    U.dispose();
    availB.dispose();
    qBar = ubarMasked.max(-1);
  }
  // Back to T1 rows (row 0 is a placeholder whose target-mixer output is never used).
  const qBarAll = np.concatenate([np.zeros([B, 1, Na], { dtype: qBar.dtype }), sg(qBar)], 1);

  // Target mixer: rows 1..T with the entity2task of rows 0..T−1 (§11.2 step 5).
  const features =
    mixerCond === "full_obs"
      ? flat(np.concatenate([unflat(P.ent.ref), not01(P.e2tShift.ref)], 3))
      : P.ent.ref;
  const [tHyper, tHead] = splitMixerParams(target.params.mixer);
  let qTot = rows(
    unflat(
      mixerForward(
        tHyper,
        flat(qBarAll),
        {
          features,
          entityMask: P.em.ref,
          entity2taskMask: mixerCond ? flat(P.e2tShift.ref) : undefined,
        },
        cfg.mixer,
      ),
    ),
    1,
    T1,
  ); // [B,T,n_out]
  if (cfg.popart) {
    qTot = popartDenormalize(qTot.mul(tHead.w).add(tHead.b), target.popart);
  } else {
    tree.dispose([tHead, target.popart]);
  }

  const { reward, done, mask } = lowLevelRewardsAndMasks(
    {
      filled: P.filled.ref,
      reset: P.reset.ref,
      reward: P.reward.ref,
      terminated: P.terminated.ref,
      taskRewards: P.taskRewards.ref,
      tasksTerminated: P.tasksTerminated.ref,
      entity2taskMask: rows(P.e2t.ref, 0, T),
    },
    cfg,
  );
  return { y: sg(lambdaReturns(reward, done, qTot, mask.ref, cfg.gamma, cfg.tdLambda)), mask };
}

/**
 * TD targets of the T current rows, `[B, T, n_out]` like its inputs (`qNext[t]` is the target
 * network's Qtot of row t+1, `mask` the loss mask of §11.1). Consumes all.
 *
 * `tdLambda = 0`: the spec's one-step target `y_t = r_t + γ·(1 − d_t)·Q̄_{t+1}` (§11.1).
 *
 * `tdLambda = λ > 0` (alma-ts addition, off by default; the recursive λ-return of PyMARL2's QMIX,
 * without off-policy correction): `G_t = r_t + γ·(1 − d_t)·((1 − λ)·Q̄_{t+1} + λ·G_{t+1})`, a
 * blend of n-step returns that carries a reward back many rows per update instead of one row per
 * target-network copy. The recursion is cut (`G_t` falls back to the one-step target) wherever
 * row t+1 is not a loss row of the same subtask: the window's last row, an episode end inside
 * the window, a finished subtask, or a subtask without allocated agents at t+1 (`mask[t+1] = 0`).
 * Solved in closed form as `G = L·a` with `a_t = r_t + γ(1 − d_t)(1 − λ·c_t)·Q̄_{t+1}`,
 * `c_t = mask[t+1]·(1 − d_t)` and `L[t, k] = (γλ)^{k−t}` when no cut lies in rows t..k−1
 * (same segment index `Z_t = Σ_{j<t} (1 − c_j)`), else 0.
 */
export function lambdaReturns(
  reward: Arr,
  done: Arr,
  qNext: Arr,
  mask: Arr,
  gamma: number,
  tdLambda: number,
): Arr {
  const notDone = not01(done);
  if (tdLambda === 0) {
    mask.dispose();
    return reward.add(notDone.mul(qNext).mul(gamma));
  }
  const [B, T, n] = reward.shape;
  const dtype = reward.dtype;
  const cont = np
    .concatenate([mask.slice([], [1, T]), np.zeros([B, 1, n], { dtype })], 1)
    .mul(notDone.ref); // c_t
  const a = reward
    .add(notDone.mul(qNext).mul(gamma).mul(cont.ref.mul(-tdLambda).add(1)))
    .transpose([0, 2, 1]); // [B,n,T]
  const upper = new Float32Array(T * T); // [j, t] = 1 for j < t: Z = cuts · upper
  const decay = new Float32Array(T * T); // [t, k] = (γλ)^{k−t} for k ≥ t
  for (let r = 0; r < T; r++) {
    for (let c = r; c < T; c++) {
      if (c > r) upper[r * T + c] = 1;
      decay[r * T + c] = (gamma * tdLambda) ** (c - r);
    }
  }
  const cuts = not01(cont).transpose([0, 2, 1]); // [B,n,T]
  const segment = np.matmul(cuts, np.array(upper, { shape: [T, T] })); // Z [B,n,T]
  const sameSegment = np.equal(segment.ref.reshape([B, n, T, 1]), segment.reshape([B, n, 1, T]));
  const weights = np.where(sameSegment, np.array(decay, { shape: [T, T] }), 0); // [B,n,T,T]
  return np
    .matmul(weights, a.reshape([B, n, T, 1]))
    .reshape([B, n, T])
    .transpose([0, 2, 1]);
}

/**
 * Masked squared TD errors (spec §11 step 9, §7 step 8) and the logged metrics. `qPred`,
 * `qImag` (REFIL) and `targetN` `[B,T,n_out]`; `maskSum` is the normaliser Σmask of the *whole*
 * batch (micro-batches pass the total). Returns `[loss, metrics]`; consumes all.
 */
function tdLoss(
  qPred: Arr,
  qImag: Arr | null,
  targetN: Arr,
  mask: Arr,
  maskSum: Arr,
  cfg: LowLevelConfig,
): [Arr, Omit<LowLevelMetrics, "loss" | "gradNorm">] {
  const sg = lax.stopGradient;
  const td = qPred.ref.sub(targetN.ref).mul(mask.ref);
  const qLoss = np.square(td.ref).sum().div(maskSum.ref);
  let loss: Arr;
  let imLoss: Arr;
  if (qImag) {
    // Same masked squared error with the imagined Qtot, same targets and mask.
    const li = np.square(qImag.sub(targetN.ref).mul(mask.ref)).sum().div(maskSum.ref);
    loss = qLoss.ref.mul(1 - cfg.lambda).add(li.ref.mul(cfg.lambda));
    imLoss = sg(li);
  } else {
    loss = qLoss.ref;
    imLoss = np.zeros([], { dtype: qLoss.dtype });
  }
  const denomAgents = maskSum.ref.mul(cfg.agent.nAgents);
  return [
    loss,
    {
      qLoss: sg(qLoss),
      imLoss,
      tdErrorAbs: sg(np.abs(td).sum().div(maskSum)),
      qTakenMean: sg(qPred.mul(mask.ref).sum().div(denomAgents.ref)),
      targetMean: sg(targetN.mul(mask).sum().div(denomAgents)),
    },
  ];
}

/**
 * The low-level loss (spec §11) for `valueAndGrad(..., { hasAux: true })` with respect to
 * `params`. Returns `[L, aux]` where `aux` holds the Pop-Art update (new statistics and the
 * rescaled head, which the optimiser step must be applied to) and the logged metrics.
 *
 * Pop-Art order (§13, reference behaviour): the prediction uses the head *before* the update, the
 * target is normalised with the *updated* statistics, and the gradient reaching the mixer output
 * is multiplied by the *updated* w (see `popartPrediction`); the optimiser step is then applied
 * to the updated head.
 *
 * COPA (`cfg.copa`, §16.2): the live coach's forward-filled z joins the live agents (real and
 * imagined copies, each with its own coach pass), the target coach's own sample joins the target
 * agents, and `L += vi_lambda·(−lp_mean) + (vi_lambda/10)·(−H_mean)` with `copa_vi_loss`. The
 * batch must then carry `hierDecision`. Consumes every argument.
 */
export function lowLevelLoss(
  params: LowLevelParams,
  target: LowLevelTarget,
  popart: PopArtStats,
  batch: LowLevelArrays,
  key: Arr,
  cfg: LowLevelConfig,
): [Arr, LowLevelLossAux] {
  checkConds(cfg);
  const sg = lax.stopGradient;
  const P = prepare(batch, cfg);
  const [kLive, kTarget] = splitKey(key, 2);
  const { U, yMix, yImag, head, copa } = livePass(params, P, kLive, cfg);
  const { y, mask } = targetsPass(target, sg(U), P, kTarget, cfg);
  disposePrepared(P);

  let qPred: Arr;
  let qImag: Arr | null = null;
  let targetN: Arr;
  let newStats: PopArtStats;
  let newHead: { w: Arr; b: Arr };
  if (cfg.popart) {
    const upd = popartUpdate(popart, { w: sg(head.w.ref), b: sg(head.b.ref) }, y, mask.ref);
    const w1 = upd.head.w;
    if (yImag) qImag = popartPrediction(head.w.ref, head.b.ref, w1.ref, yImag);
    qPred = popartPrediction(head.w, head.b, w1.ref, yMix);
    targetN = upd.yNorm;
    newStats = upd.stats;
    newHead = { w: w1, b: upd.head.b };
  } else {
    qPred = yMix;
    qImag = yImag;
    targetN = y;
    newStats = popart;
    newHead = { w: sg(head.w), b: sg(head.b) };
  }
  const maskSum = mask.ref.sum();
  const [tdL, tdMetrics] = tdLoss(qPred, qImag, targetN, mask, maskSum, cfg);
  const [loss, metrics] = withCopaLoss(tdL, tdMetrics, copa, cfg);
  return [loss, { popart: newStats, head: newHead, metrics }];
}

/**
 * `L += vi_lambda·(−lp_mean) + (vi_lambda/10)·(−H_mean)` (spec §11.2 step 10, §16.2); the two
 * unweighted terms are logged as `copa_vi_loss` / `copa_entropy_loss`. Identity without COPA.
 */
function withCopaLoss(
  loss: Arr,
  metrics: Omit<LowLevelMetrics, "loss" | "gradNorm">,
  copa: { lpMean: Arr; hMean: Arr } | null,
  cfg: LowLevelConfig,
): [Arr, Omit<LowLevelMetrics, "loss" | "gradNorm">] {
  if (!copa) return [loss, metrics];
  const sg = lax.stopGradient;
  const lam = cfg.copa!.viLambda;
  const vi = copa.lpMean.mul(-1);
  const ent = copa.hMean.mul(-1);
  const total = loss.add(vi.ref.mul(lam)).add(ent.ref.mul(lam / 10));
  return [total, { ...metrics, copaViLoss: sg(vi), copaEntropyLoss: sg(ent) }];
}

/**
 * One low-level training step (spec §11.1–11.11): loss and gradients, Pop-Art update, clipping,
 * RMSProp. Pure and jittable; consumes its arguments and returns the new state (the target is
 * passed through; call `updateLowLevelTarget` on the episode schedule, §11.12).
 */
export function lowLevelTrainStep(
  state: LowLevelState,
  batch: LowLevelArrays,
  key: Arr,
  cfg: LowLevelConfig,
): [LowLevelState, LowLevelMetrics] {
  const { params, opt, popart, target } = state;
  const [[loss, aux], grads] = valueAndGrad(
    (p: LowLevelParams) => lowLevelLoss(p, tree.ref(target), popart, batch, key, cfg),
    { hasAux: true },
  )(tree.ref(params)) as unknown as [[Arr, LowLevelLossAux], LowLevelParams];
  // The optimiser step applies to the Pop-Art-rescaled head (§13).
  tree.dispose(params.mixer.popart);
  const updated: LowLevelParams = {
    agent: params.agent,
    mixer: { ...params.mixer, popart: aux.head },
  };
  // Same key order as `params` (RMSProp matches leaves by position): agent, mixer, copa.
  if (params.copa) updated.copa = params.copa;
  const [clipped, gradNorm] = clipByGlobalNorm(grads, cfg.gradNormClip);
  const [newParams, newOpt] = rmspropUpdate(updated, clipped, opt, cfg.rmsprop);
  return [
    { params: newParams, opt: newOpt, popart: aux.popart, target },
    { loss, gradNorm, ...aux.metrics },
  ];
}

/**
 * `jit`-compiled `lowLevelTrainStep` for a fixed configuration. Compiles on the first call for
 * each batch shape (keep `B` and `T1` fixed). Consumes `state`, `batch` and `key`.
 */
export function makeLowLevelTrainStep(cfg: LowLevelConfig): LowLevelTrainStepFn {
  let traces = 0;
  const f = jit((state: LowLevelState, batch: LowLevelArrays, key: Arr) => {
    traces++; // runs only while jax-js traces, i.e. once per compiled input signature
    return lowLevelTrainStep(state, batch, key, cfg);
  });
  const step = ((state, batch, key) =>
    f(state, batch, key) as [LowLevelState, LowLevelMetrics]) as LowLevelTrainStepFn;
  Object.defineProperty(step, "traces", { get: () => traces });
  step.dispose = () => f.dispose();
  return step;
}

/** A compiled training step; `traces` counts compilations (should stay 1 with fixed shapes). */
export type LowLevelTrainStepFn = ((
  state: LowLevelState,
  batch: LowLevelArrays,
  key: Arr,
) => [LowLevelState, LowLevelMetrics]) & { readonly traces: number; dispose(): void };

/** Live utilities `[B,T1,Na,A]` only (no mixer), as used for the double-Q argmax. */
function liveUtilities(agent: AgentParams, P: Prepared, key: Arr, cfg: LowLevelConfig): Arr {
  const { flat, unflat } = flatteners(P);
  // Same conditioning as the live pass (REFIL + full_obs drops the task code there, §20.3).
  const cond: SubtaskCond =
    cfg.imagine && cfg.agent.subtaskCond === "full_obs" ? null : cfg.agent.subtaskCond;
  return unflat(
    agentForward(
      agent,
      {
        ent: P.ent.ref,
        obsMask: P.obs.ref,
        entityMask: P.em.ref,
        entity2taskMask: cond ? flat(P.e2t.ref) : undefined,
        taskPerm: permFor(cfg, key, cond),
      },
      { ...cfg.agent, subtaskCond: cond },
    ),
  );
}

/**
 * The live agent network's utilities `[B,T1,Na,A]` on every row of a batch, with each row's
 * stored allocation and the previous row's action, exactly as the training pass computes them
 * (spec §11.2 step 1). For diagnostics, and for the test that acting sees what training sees.
 * Not for COPA (its utilities need the coach's strategies). Consumes `batch` and `key`.
 */
export function batchUtilities(
  agent: AgentParams,
  batch: LowLevelArrays,
  key: Arr,
  cfg: LowLevelConfig,
): Arr {
  if (cfg.copa) throw new Error("batchUtilities: not available with COPA");
  const P = prepare(batch, cfg);
  const U = liveUtilities(agent, P, key, cfg);
  disposePrepared(P);
  return U;
}

type MetricSums = Omit<LowLevelMetrics, "gradNorm">;

/**
 * Split a batch along its window axis into `k` equal micro-batches (eager slices; consumes
 * `batch`). `B` must be divisible by `k`.
 */
export function splitLowLevelArrays(batch: LowLevelArrays, k: number): LowLevelArrays[] {
  const B = batch.filled.shape[0];
  if (B % k !== 0) throw new Error(`splitLowLevelArrays: batch ${B} not divisible by ${k}`);
  const b = B / k;
  const out: LowLevelArrays[] = [];
  for (let i = 0; i < k; i++) {
    out.push(
      tree.map((x: Arr) => x.ref.slice([i * b, (i + 1) * b]), batch) as unknown as LowLevelArrays,
    );
  }
  tree.dispose(batch);
  return out;
}

/** A micro-batched training step (see `makeLowLevelMicroTrainStep`). */
export type LowLevelMicroTrainStepFn = ((
  state: LowLevelState,
  microBatches: LowLevelArrays[],
  key: Arr,
) => Promise<[LowLevelState, LowLevelMetrics]>) & { readonly traces: number; dispose(): void };

/**
 * The same training step as `makeLowLevelTrainStep`, computed over `k` micro-batches with
 * gradient accumulation so that peak memory is about 1/k of the one-program step. jax-js
 * allocates every intermediate buffer of a compiled program before running any of it, so a
 * single program's peak is the *sum* of its intermediates (≈ 2.2 GB at the paper's shapes);
 * separate, awaited programs reuse the memory. Stages, each one compiled program:
 *
 * 1. per micro-batch: TD targets `y` and mask (target networks, live argmax; no gradient);
 * 2. Pop-Art update over the *whole* batch's targets (identical statistics to one big batch);
 * 3. per micro-batch: loss normalised by the whole batch's Σmask, gradients accumulated;
 * 4. head replacement, global-norm clipping, RMSProp.
 *
 * Mathematically the same update as the one-program step (up to float summation order), except
 * that the live agent network runs twice (stage 1 without gradient, ~5% more FLOPs) and random
 * draws (task-code permutations, REFIL groups) are made per micro-batch. Consumes its arguments.
 */
export function makeLowLevelMicroTrainStep(cfg: LowLevelConfig): LowLevelMicroTrainStepFn {
  checkConds(cfg);
  if (cfg.copa) {
    // Its stage 1 re-runs the live agents without the coach, and the VI term's normaliser would
    // need the whole batch's mask: not implemented (the learner uses the one-program step).
    throw new Error("makeLowLevelMicroTrainStep: COPA (cfg.copa) is not supported");
  }
  let traces = 0;
  const sg = lax.stopGradient;
  const targetsJ = jit(
    (agent: AgentParams, target: LowLevelTarget, batch: LowLevelArrays, key: Arr) => {
      traces++;
      const P = prepare(batch, cfg);
      const [kLive, kTarget] = splitKey(key, 2);
      const U = liveUtilities(agent, P, kLive, cfg);
      const r = targetsPass(target, U, P, kTarget, cfg);
      disposePrepared(P);
      return r;
    },
  );
  const popartJ = jit((stats: PopArtStats, head: { w: Arr; b: Arr }, ys: Arr[], masks: Arr[]) => {
    traces++;
    const y = np.concatenate(ys, 0);
    const mask = np.concatenate(masks, 0);
    const maskSum = mask.ref.sum();
    const b = y.shape[0] / ys.length;
    const pieces = (x: Arr) => ys.map((_, i) => x.ref.slice([i * b, (i + 1) * b]));
    if (!cfg.popart) {
      mask.dispose();
      const yNorms = pieces(y);
      y.dispose();
      return { stats, head, yNorms, maskSum };
    }
    const upd = popartUpdate(stats, head, y, mask);
    const yNorms = pieces(upd.yNorm);
    upd.yNorm.dispose();
    return { stats: upd.stats, head: upd.head, yNorms, maskSum };
  });
  const gradJ = jit(
    (
      params: LowLevelParams,
      batch: LowLevelArrays,
      yNorm: Arr,
      mask: Arr,
      maskSum: Arr,
      wNew: Arr,
      acc: { grads: LowLevelParams; metrics: MetricSums },
      key: Arr,
    ) => {
      traces++;
      const [[loss, metrics], grads] = valueAndGrad(
        (p: LowLevelParams) => {
          const P = prepare(batch, cfg);
          const live = livePass(p, P, key, cfg);
          disposePrepared(P);
          live.U.dispose();
          const { w, b } = live.head;
          let qPred = live.yMix;
          let qImag = live.yImag;
          if (cfg.popart) {
            if (qImag) qImag = popartPrediction(w.ref, b.ref, wNew.ref, qImag);
            qPred = popartPrediction(w, b, wNew, qPred);
          } else {
            tree.dispose([w, b, wNew]);
          }
          return tdLoss(qPred, qImag, yNorm, mask, maskSum, cfg);
        },
        { hasAux: true },
      )(params) as unknown as [[Arr, Omit<LowLevelMetrics, "loss" | "gradNorm">], LowLevelParams];
      const sum = (a: Arr, b: Arr) => a.add(b);
      return {
        grads: tree.map(sum, acc.grads, grads) as unknown as LowLevelParams,
        metrics: tree.map(sum, acc.metrics, {
          loss: sg(loss),
          ...metrics,
        }) as unknown as MetricSums,
      };
    },
  );
  const updateJ = jit(
    (state: LowLevelState, grads: LowLevelParams, head: { w: Arr; b: Arr }, stats: PopArtStats) => {
      traces++;
      const { params, opt, popart, target } = state;
      tree.dispose([params.mixer.popart, popart]);
      const updated: LowLevelParams = {
        agent: params.agent,
        mixer: { ...params.mixer, popart: head },
      };
      const [clipped, gradNorm] = clipByGlobalNorm(grads, cfg.gradNormClip);
      const [newParams, newOpt] = rmspropUpdate(updated, clipped, opt, cfg.rmsprop);
      return { state: { params: newParams, opt: newOpt, popart: stats, target }, gradNorm };
    },
  );

  const step = (async (state: LowLevelState, micro: LowLevelArrays[], key: Arr) => {
    const k = micro.length;
    const keys = splitKey(key, 2 * k);
    // 1. Targets per micro-batch; each program is awaited so the next reuses its memory.
    const ys: Arr[] = [];
    const masks: Arr[] = [];
    for (let i = 0; i < k; i++) {
      const r = targetsJ(
        tree.ref(state.params.agent),
        tree.ref(state.target),
        tree.ref(micro[i]),
        keys[i],
      ) as {
        y: Arr;
        mask: Arr;
      };
      await materialize(r);
      ys.push(r.y);
      masks.push(r.mask);
    }
    // 2. Pop-Art over the whole batch.
    const pa = popartJ(
      tree.ref(state.popart),
      tree.ref(state.params.mixer.popart),
      ys,
      masks.map((m) => m.ref),
    ) as {
      stats: PopArtStats;
      head: { w: Arr; b: Arr };
      yNorms: Arr[];
      maskSum: Arr;
    };
    await materialize(pa);
    // 3. Accumulated gradients.
    let acc = {
      grads: tree.map(
        (p: Arr) => np.zerosLike(p),
        tree.ref(state.params),
      ) as unknown as LowLevelParams,
      // Explicit dtype: a weakly typed scalar here would make the second call recompile.
      metrics: {
        loss: np.zeros([], { dtype: np.float32 }),
        qLoss: np.zeros([], { dtype: np.float32 }),
        imLoss: np.zeros([], { dtype: np.float32 }),
        tdErrorAbs: np.zeros([], { dtype: np.float32 }),
        qTakenMean: np.zeros([], { dtype: np.float32 }),
        targetMean: np.zeros([], { dtype: np.float32 }),
      } as MetricSums,
    };
    for (let i = 0; i < k; i++) {
      acc = gradJ(
        tree.ref(state.params),
        micro[i],
        pa.yNorms[i],
        masks[i],
        pa.maskSum.ref,
        pa.head.w.ref,
        acc,
        keys[k + i],
      ) as typeof acc;
      await materialize(acc);
    }
    pa.maskSum.dispose();
    // 4. Update.
    const out = updateJ(state, acc.grads, pa.head, pa.stats) as {
      state: LowLevelState;
      gradNorm: Arr;
    };
    await materialize(out);
    return [out.state, { ...acc.metrics, gradNorm: out.gradNorm }] as [
      LowLevelState,
      LowLevelMetrics,
    ];
  }) as LowLevelMicroTrainStepFn;
  Object.defineProperty(step, "traces", { get: () => traces });
  step.dispose = () => {
    targetsJ.dispose();
    popartJ.dispose();
    gradJ.dispose();
    updateJ.dispose();
  };
  return step;
}
