/**
 * The low-level Q-learner (spec §4, §5, §11, §13, §14) behind the training loop's `Learner`
 * interface: owns the parameters, targets, optimiser state and Pop-Art statistics as jax-js
 * arrays, runs the jitted acting forward for the runner and the jitted training step for the
 * loop, copies targets on the episode schedule, and converts everything to named tensors for
 * checkpoints.
 *
 * With COPA (§16) it also owns the coach: `copaCoach` is the controller the runner calls at
 * decision points (it stores a strategy z per env and agent), and the acting forward adds the
 * stored z to the agents' hidden vectors until the next decision point.
 */
import type { WindowBatch } from "../buffer/replay.js";
import { type AlmaConfig, effectiveMixerSubtaskCond } from "../config/schema.js";
import type { EnvInfo } from "../envs/types.js";
import { type AgentInputs, type AgentParams, agentForward, type SubtaskCond } from "../nn/agent.js";
import { type CoachParams, type CopaInputs, coachForward } from "../nn/copa.js";
import { type Arr, jit, materialize, np, random, readScalar, tree } from "../nn/engine.js";
import { roundUp4, splitKey } from "../nn/layers.js";
import {
  batchUtilities,
  defaultLowLevelConfig,
  initLowLevelState,
  type LowLevelConfig,
  type LowLevelMicroTrainStepFn,
  type LowLevelState,
  type LowLevelTrainStepFn,
  lowLevelBatchToArrays,
  makeLowLevelMicroTrainStep,
  makeLowLevelTrainStep,
  splitLowLevelArrays,
  updateLowLevelTarget,
} from "../nn/lowLevel.js";
import { randomPermutationMatrix } from "../nn/taskEmbed.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { ActingBatch } from "../runners/acting.js";
import type { Allocator, DecisionContext } from "../runners/allocators.js";
import type { RunnerAllocator } from "../runners/runner.js";
import type { Learner, TrainContext } from "./types.js";

const toCond = (c: "none" | "mask" | "full_obs"): SubtaskCond => (c === "none" ? null : c);

/** The low-level network configuration of a run (spec §18.1 values from the config). */
export function lowLevelConfigFor(config: AlmaConfig, info: EnvInfo): LowLevelConfig {
  return defaultLowLevelConfig(info, toCond(config.agent.subtaskCond), {
    attnEmbed: config.agent.attnEmbedDim,
    nHeads: config.agent.attnNHeads,
    hiddenDim: config.agent.rnnHiddenDim,
    hypernetEmbed: config.mixer.hypernetEmbed,
    mixingEmbed: config.mixer.mixingEmbedDim,
    softmaxMixingWeights: config.mixer.softmaxMixingWeights,
    mixerSubtaskCond: toCond(effectiveMixerSubtaskCond(config)),
    nExtraTasks: config.agent.nExtraTasks,
    gamma: config.learner.gamma,
    doubleQ: config.learner.doubleQ,
    popart: config.learner.popart,
    maskSubtaskActions:
      config.exploration.maskSubtaskActions && config.hierAgent.taskAllocation !== "none",
    rmsprop: {
      lr: config.optim.lr,
      alpha: config.optim.optimAlpha,
      eps: config.optim.optimEps,
      weightDecay: config.optim.weightDecay,
    },
    gradNormClip: config.optim.gradNormClip,
    imagine: config.agent.imagine,
    lambda: config.learner.lmbda,
    tdLambda: config.learner.tdLambda,
    ...(config.hierAgent.copa
      ? {
          copa: {
            // §16.1: subtask-masked coach only when combined with an allocator and mask_copa.
            subtaskMask: config.hierAgent.taskAllocation !== "none" && config.hierAgent.maskCopa,
            viLoss: config.hierAgent.copaViLoss,
            viLambda: config.learner.viLambda,
          },
        }
      : {}),
  });
}

/** Flatten a tree of jax arrays into `path → array`, keys in sorted order (stable names). */
function flattenNamed(node: unknown, prefix: string, out: Map<string, Arr>): void {
  if (node === undefined || node === null) return;
  if (typeof node === "object" && "shape" in (node as object) && "dtype" in (node as object)) {
    out.set(prefix, node as Arr);
    return;
  }
  if (typeof node !== "object") return;
  for (const k of Object.keys(node as object).sort()) {
    flattenNamed((node as Record<string, unknown>)[k], prefix ? `${prefix}/${k}` : k, out);
  }
}

/** Rebuild a tree with the structure of `like`, taking each leaf from `tensors[path]`. */
function unflattenNamed(
  like: unknown,
  prefix: string,
  tensors: Record<string, NamedTensor>,
): unknown {
  if (like === undefined || like === null) return like;
  if (typeof like === "object" && "shape" in (like as object) && "dtype" in (like as object)) {
    const t = tensors[prefix];
    const shape = (like as Arr).shape;
    if (!t) throw new Error(`checkpoint is missing tensor '${prefix}'`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`checkpoint tensor '${prefix}' has shape [${t.shape}], expected [${shape}]`);
    }
    return fromTensor(t, (like as Arr).dtype);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(like as object)) {
    out[k] = unflattenNamed(
      (like as Record<string, unknown>)[k],
      prefix ? `${prefix}/${k}` : k,
      tensors,
    );
  }
  return out;
}

/** Host copy of an array for a checkpoint; integer dtypes are kept bit-exact as int32. */
export async function toTensor(arr: Arr): Promise<NamedTensor> {
  const data = await arr.ref.data();
  const shape = [...arr.shape];
  if (data instanceof Float32Array) return { shape, data: data.slice() };
  if (data instanceof Int32Array || data instanceof Uint32Array) {
    return {
      shape,
      data: new Int32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
    };
  }
  return { shape, data: Float32Array.from(data as ArrayLike<number>) };
}

/** Device array from a checkpoint tensor, in the dtype the live array has. */
export function fromTensor(t: NamedTensor, dtype: Arr["dtype"]): Arr {
  const bytes = t.data.buffer.slice(
    t.data.byteOffset,
    t.data.byteOffset + t.data.byteLength,
  ) as ArrayBuffer;
  if (dtype === "uint32") return np.array(new Uint32Array(bytes), { shape: t.shape, dtype });
  if (dtype === "int32") return np.array(new Int32Array(bytes), { shape: t.shape, dtype });
  const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return np.array(f, { shape: t.shape, dtype });
}

/** The fused COPA acting program (see `QLearner.actCoach`). */
type CoachActFn = (
  agent: AgentParams,
  coach: CoachParams,
  inp: AgentInputs,
  cin: CopaInputs,
  zHeld: Arr,
  decide: Arr,
  noise: Arr,
  key: Arr,
) => { q: Arr; z: Arr };

/** COPA strategies of one acting batch (§9.2 `coach_z`). */
interface HeldStrategies {
  /** `[B, Na, Z]` strategies in force (device array). */
  z: Arr;
  /** `[B]` 1 = environment decided at this row (new z at the next `utilities` call). */
  decide: Float32Array;
  /** `[B]` 1 = sample z (training), 0 = use μ (test, §15.3). */
  noise: Float32Array;
  /** `[B, Na]` allocation in force after the decision (−1 none), for the coach's input. */
  allocation: Int32Array;
  pending: boolean;
}

/**
 * Read acting utilities synchronously: a small program on the main thread answers faster than a
 * round trip through the worker pool (measured ~1.3 ms vs ~3 ms for 8 environments). Its inputs
 * must be computed already: `train` materialises the state after every step.
 */
function readActing(x: Arr): Float32Array {
  const d = x.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

export class QLearner implements Learner {
  readonly cfg: LowLevelConfig;
  private state: LowLevelState;
  private key: Arr;
  private readonly trainStep: LowLevelTrainStepFn;
  /** Micro-batched variant (`learner.microBatches > 1`): same update, lower peak memory. */
  private readonly microStep: LowLevelMicroTrainStepFn | null;
  private readonly act: (agent: AgentParams, inp: AgentInputs) => Arr;
  /**
   * `subtask_cond = 'mask'` without COPA: the acting forward with the agents' observation mask
   * already combined on the host with the share-a-subtask mask (§4.2, exact 0/1 values), so the
   * program skips the group-mask kernels; same utilities as `act`.
   */
  private readonly actPremasked: ((agent: AgentParams, inp: AgentInputs) => Arr) | null = null;
  private lastTargetEpisode = 0;
  /**
   * Host buffers of the acting inputs: entities `[B, Ne, roundUp4(De + A)]` (zero columns beyond
   * De + A: the width the first layer pads to anyway, so no padding kernel per step), and the
   * masks as float32.
   */
  /**
   * fc1's weight with zero rows up to the acting input width (`actBufs.ent`), made once per
   * parameter update (keyed by the weight array it was made from) instead of in every acting
   * call; the padded product is the one `linear` computes anyway.
   */
  private fc1Padded: { src: Arr; w: Arr } | null = null;
  private actBufs: {
    ent: Float32Array;
    obsMask: Float32Array;
    entityMask: Float32Array;
    e2t: Float32Array;
    /** `[B, Na, Ne]` agents' observation ∨ no-shared-subtask mask (see `actPremasked`). */
    agentMask: Float32Array;
  } | null = null;
  /**
   * COPA: one jitted program for a step with decisions: the coach on the whole batch, the new z
   * for the deciding envs (sampled, or μ where `noise` = 0), the held z elsewhere, and the agent
   * utilities with it (one dispatch and one read per step instead of two).
   */
  private readonly actCoach: CoachActFn | null = null;
  /** COPA: per acting batch, the strategies in force and the decisions not yet taken. */
  private readonly copaHeld = new Map<ActingBatch, HeldStrategies>();
  /** COPA: the controller the runner calls at decision points (§9.1, §16); else undefined. */
  readonly copaCoach: CopaCoach | undefined;

  constructor(
    readonly config: AlmaConfig,
    readonly info: EnvInfo,
  ) {
    this.cfg = lowLevelConfigFor(config, info);
    const [kInit, kRun] = splitKey(random.key(config.seed), 2);
    this.state = initLowLevelState(kInit, this.cfg);
    this.key = kRun;
    this.trainStep = makeLowLevelTrainStep(this.cfg);
    const k = config.learner.microBatches;
    if (k > 1 && config.buffer.batchSize % k !== 0) {
      throw new Error(
        `learner.microBatches (${k}) must divide buffer.batchSize (${config.buffer.batchSize})`,
      );
    }
    this.microStep = k > 1 ? makeLowLevelMicroTrainStep(this.cfg) : null;
    const agentCfg = this.cfg.agent;
    this.act = jit((agent: AgentParams, inp: AgentInputs) =>
      agentForward(agent, inp, agentCfg),
    ) as unknown as (agent: AgentParams, inp: AgentInputs) => Arr;
    if (agentCfg.subtaskCond === "mask" && !this.cfg.copa) {
      const premaskedCfg = { ...agentCfg, subtaskCond: null };
      this.actPremasked = jit((agent: AgentParams, inp: AgentInputs) =>
        agentForward(agent, inp, premaskedCfg),
      ) as unknown as (agent: AgentParams, inp: AgentInputs) => Arr;
    }
    const copaCfg = this.cfg.copa;
    if (copaCfg) {
      const nPerm = copaCfg.nTasks + (copaCfg.nExtraTasks ?? 0);
      this.actCoach = jit(
        (
          agent: AgentParams,
          coach: CoachParams,
          inp: AgentInputs,
          cin: CopaInputs,
          zHeld: Arr,
          decide: Arr,
          noise: Arr,
          key: Arr,
        ) => {
          const [kPerm, kEps] = splitKey(key, 2);
          let taskPerm: Arr | undefined;
          if (copaCfg.subtaskMask) kPerm.dispose();
          else taskPerm = randomPermutationMatrix(kPerm, nPerm);
          const d = coachForward(coach, { ...cin, taskPerm }, copaCfg);
          // §16.1 / §15.3: z = μ + ε·exp(logvar/2) in training, μ in test mode (noise = 0).
          const eps = random.normal(kEps, d.mu.shape);
          const zNew = d.mu.add(eps.mul(np.exp(d.logvar.mul(0.5))).mul(noise));
          const z = np.where(decide.greater(0.5), zNew, zHeld);
          return { q: agentForward(agent, { ...inp, coachZ: z.ref }, agentCfg), z };
        },
      ) as unknown as CoachActFn;
      this.copaCoach = new CopaCoach(this);
    }
  }

  /** COPA: the strategies in force for an acting batch (z = 0 before its first decision). */
  private heldFor(batch: ActingBatch): HeldStrategies {
    let h = this.copaHeld.get(batch);
    if (!h) {
      const { nAgents: na } = this.info;
      const B = batch.size;
      h = {
        z: np.zeros([B, na, this.cfg.agent.hiddenDim], { dtype: np.float32 }),
        decide: new Float32Array(B),
        noise: new Float32Array(B),
        allocation: new Int32Array(B * na).fill(-1),
        pending: false,
      };
      this.copaHeld.set(batch, h);
    }
    return h;
  }

  /**
   * COPA coach at a decision point (spec §16.1, §9.2): marks the environments of `ctx.which` for
   * a new strategy (train: sampled; test: μ), which the next `utilities` call on this batch (the
   * same row, in the runner) computes together with the utilities and keeps until their next
   * decision point. The coach sees what the learner will see for this row in training: raw
   * entities, the entity mask, and `entity2task_mask` whose agent rows hold the allocation in
   * force after this decision (`allocation`, all −1 for pure COPA → all-ones rows, §16.1).
   */
  decideStrategies(ctx: DecisionContext, allocation: Int32Array): void {
    if (!this.actCoach) throw new Error("QLearner: COPA is not enabled");
    const h = this.heldFor(ctx.batch);
    const na = this.info.nAgents;
    for (const e of ctx.which) {
      h.decide[e] = 1;
      h.noise[e] = ctx.testMode ? 0 : 1;
      h.allocation.set(allocation.subarray(e * na, (e + 1) * na), e * na);
    }
    if (ctx.which.length > 0) h.pending = true;
  }

  /** COPA coach inputs `[B, ...]` for the batch's current row (raw entities padded to 4). */
  private coachInputs(batch: ActingBatch, allocation: Int32Array): CopaInputs {
    const { nAgents: na, nEntities: ne, nTasks: nt, entityShape: de } = this.info;
    const B = batch.size;
    const D4 = roundUp4(de);
    const ent = new Float32Array(B * ne * D4);
    for (let r = 0; r < B * ne; r++) ent.set(batch.entities.subarray(r * de, (r + 1) * de), r * D4);
    const e2t = Float32Array.from(batch.entity2taskMask);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < na; i++) {
        const row = (b * ne + i) * nt;
        e2t.fill(1, row, row + nt);
        const k = allocation[b * na + i];
        if (k >= 0) e2t[row + k] = 0;
      }
    }
    return {
      ent: np.array(ent, { shape: [B, ne, D4] }),
      entityMask: np.array(Float32Array.from(batch.entityMask), { shape: [B, ne] }),
      entity2taskMask: np.array(e2t, { shape: [B, ne, nt] }),
    };
  }

  private nextKey(): Arr {
    const [a, b] = splitKey(this.key, 2);
    this.key = a;
    return b;
  }

  /** The agent parameters for an acting call on `W`-wide entity rows (references; see `fc1Padded`). */
  private actingAgentParams(W: number): AgentParams {
    const { fc1, ...rest } = this.state.params.agent;
    if (!this.fc1Padded || this.fc1Padded.src !== fc1.w) {
      this.fc1Padded?.w.dispose();
      const [rows, cols] = fc1.w.shape;
      this.fc1Padded = {
        src: fc1.w,
        w:
          rows === W
            ? fc1.w.ref
            : np.concatenate([fc1.w.ref, np.zeros([W - rows, cols], { dtype: fc1.w.dtype })], 0),
      };
    }
    return { fc1: { w: this.fc1Padded.w.ref, b: fc1.b.ref }, ...tree.ref(rest) };
  }

  /** Acting forward (§4): entities ⊕ last-action one-hot on agent rows, masks, allocation. */
  async utilities(batch: ActingBatch): Promise<Float32Array> {
    const { nAgents: na, nEntities: ne, nTasks: nt, nActions: A, entityShape: de } = this.info;
    const B = batch.size;
    const W = roundUp4(de + A);
    if (!this.actBufs || this.actBufs.ent.length !== B * ne * W)
      this.actBufs = {
        ent: new Float32Array(B * ne * W),
        obsMask: new Float32Array(B * ne * ne),
        entityMask: new Float32Array(B * ne),
        e2t: new Float32Array(B * ne * nt),
        agentMask: new Float32Array(B * na * ne),
      };
    const bufs = this.actBufs;
    const ent = bufs.ent;
    ent.fill(0);
    for (let b = 0; b < B; b++) {
      for (let e = 0; e < ne; e++) {
        const src = (b * ne + e) * de;
        ent.set(batch.entities.subarray(src, src + de), (b * ne + e) * W);
      }
      if (this.config.agent.entityLastAction) {
        for (let i = 0; i < na; i++) {
          const a = batch.lastActions[b * na + i];
          if (a >= 0) ent[(b * ne + i) * W + de + a] = 1;
        }
      }
    }
    const cond = this.cfg.agent.subtaskCond;
    bufs.entityMask.set(batch.entityMask);
    if (this.actPremasked && !(this.actCoach && this.state.params.copa)) {
      // §4.2 'mask': an agent sees an entity iff it is observable and they share a subtask.
      const m = bufs.agentMask;
      const om = batch.obsMask;
      const e2t = batch.entity2taskMask;
      for (let b = 0; b < B; b++)
        for (let i = 0; i < na; i++)
          for (let e = 0; e < ne; e++) {
            let blocked = om[(b * ne + i) * ne + e] === 1 ? 1 : 0;
            if (!blocked) {
              blocked = 1;
              for (let k = 0; k < nt; k++)
                if (e2t[(b * ne + i) * nt + k] === 0 && e2t[(b * ne + e) * nt + k] === 0)
                  blocked = 0;
            }
            m[(b * na + i) * ne + e] = blocked;
          }
      return readActing(
        this.actPremasked(this.actingAgentParams(W), {
          ent: np.array(ent, { shape: [B, ne, W] }),
          obsMask: np.array(m, { shape: [B, na, ne] }),
          entityMask: np.array(bufs.entityMask, { shape: [B, ne] }),
        }),
      );
    }
    bufs.obsMask.set(batch.obsMask);
    const inp: AgentInputs = {
      ent: np.array(ent, { shape: [B, ne, W] }),
      obsMask: np.array(bufs.obsMask, { shape: [B, ne, ne] }),
      entityMask: np.array(bufs.entityMask, { shape: [B, ne] }),
    };
    if (cond !== null) {
      bufs.e2t.set(batch.entity2taskMask);
      inp.entity2taskMask = np.array(bufs.e2t, { shape: [B, ne, nt] });
    }
    if (cond === "full_obs")
      inp.taskPerm = randomPermutationMatrix(
        this.nextKey(),
        nt + (this.cfg.agent.nExtraTasks ?? 0),
      );
    // COPA (§16.1 "Acting"): the strategy of the last decision point joins the hidden vector.
    if (this.actCoach && this.state.params.copa) {
      const h = this.heldFor(batch);
      if (!h.pending) {
        inp.coachZ = h.z.ref;
        return readActing(this.act(tree.ref(this.state.params.agent), inp));
      }
      const out = this.actCoach(
        tree.ref(this.state.params.agent),
        tree.ref(this.state.params.copa.coach),
        inp,
        this.coachInputs(batch, h.allocation),
        h.z,
        np.array(h.decide, { shape: [B, 1, 1] }),
        np.array(h.noise, { shape: [B, 1, 1] }),
        this.nextKey(),
      );
      h.z = out.z;
      h.decide.fill(0);
      h.pending = false;
      return readActing(out.q);
    }
    const q = this.act(tree.ref(this.state.params.agent), inp);
    return readActing(q);
  }

  /** One low-level gradient step (§11) and the target-update check (§11.12, §14). */
  async train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    const arrays = lowLevelBatchToArrays({ ...batch, maxSeqLength: batch.seqLen }, this.info, {
      hierDecision: this.cfg.copa !== undefined, // COPA's forward fill (§16.2)
    });
    const [state, m] = this.microStep
      ? await this.microStep(
          this.state,
          splitLowLevelArrays(arrays, this.config.learner.microBatches),
          this.nextKey(),
        )
      : this.trainStep(this.state, arrays, this.nextKey());
    this.state = state;
    if ((ctx.episode - this.lastTargetEpisode) / this.config.learner.targetUpdateInterval >= 1) {
      this.state = updateLowLevelTarget(this.state);
      this.lastTargetEpisode = ctx.episode;
    }
    // The acting forward reads synchronously (readActing), which needs every parameter computed.
    await materialize(this.state);
    const [loss, qLoss, imLoss, gradNorm, tdErrorAbs, qTakenMean, targetMean] = await Promise.all([
      readScalar(m.loss),
      readScalar(m.qLoss),
      readScalar(m.imLoss),
      readScalar(m.gradNorm),
      readScalar(m.tdErrorAbs),
      readScalar(m.qTakenMean),
      readScalar(m.targetMean),
    ]);
    const out: Record<string, number> = {
      "losses/loss": loss,
      "losses/q_loss": qLoss,
      "train_metrics/q_grad_norm": gradNorm,
      "train_metrics/td_error_abs": tdErrorAbs,
      "train_metrics/q_taken_mean": qTakenMean,
      "train_metrics/target_mean": targetMean,
    };
    if (this.cfg.imagine) out["losses/im_loss"] = imLoss;
    if (this.cfg.popart) {
      // Pop-Art statistics of the TD targets (§13): the losses above are in their units.
      const [mean, variance] = await Promise.all([
        readScalar(this.state.popart.mean.ref),
        readScalar(this.state.popart.var.ref),
      ]);
      out["train_metrics/popart_mean"] = mean;
      out["train_metrics/popart_std"] = Math.sqrt(variance);
    }
    if (m.copaViLoss && m.copaEntropyLoss) {
      const [vi, ent] = await Promise.all([
        readScalar(m.copaViLoss),
        readScalar(m.copaEntropyLoss),
      ]);
      out["losses/copa_vi_loss"] = vi;
      out["losses/copa_entropy_loss"] = ent;
    }
    return out;
  }

  /**
   * The training pass's live utilities `[B, T, Na, A]` on a replay batch (see `batchUtilities`):
   * what the learner believes about each stored row. Diagnostics only; uses a fixed key so that
   * the learner's own random stream is untouched.
   */
  trainingUtilities(batch: WindowBatch): Float32Array {
    const arrays = lowLevelBatchToArrays({ ...batch, maxSeqLength: batch.seqLen }, this.info);
    const u = batchUtilities(tree.ref(this.state.params.agent), arrays, random.key(0), this.cfg);
    return readActing(u);
  }

  async saveTensors(): Promise<Record<string, NamedTensor>> {
    const named = new Map<string, Arr>();
    flattenNamed(this.state, "low", named);
    named.set("low/key", this.key);
    const out: Record<string, NamedTensor> = {};
    for (const [name, arr] of named) out[name] = await toTensor(arr);
    out["low/lastTargetEpisode"] = { shape: [1], data: Int32Array.from([this.lastTargetEpisode]) };
    return out;
  }

  loadTensors(tensors: Record<string, NamedTensor>): void {
    const next = unflattenNamed(this.state, "low", tensors) as LowLevelState;
    const keyT = tensors["low/key"];
    if (!keyT) throw new Error("checkpoint is missing tensor 'low/key'");
    const key = fromTensor(keyT, this.key.dtype);
    tree.dispose(this.state);
    this.key.dispose();
    this.state = next;
    this.key = key;
    this.lastTargetEpisode = Number(tensors["low/lastTargetEpisode"]?.data[0] ?? 0);
  }

  /** Replace only the agent network, live and target (§15.4 joint-training study). */
  loadAgentTensors(tensors: Record<string, NamedTensor>): void {
    const live = unflattenNamed(
      this.state.params.agent,
      "low/params/agent",
      tensors,
    ) as AgentParams;
    const target = unflattenNamed(
      this.state.params.agent,
      "low/params/agent",
      tensors,
    ) as AgentParams;
    tree.dispose(this.state.params.agent);
    tree.dispose(this.state.target.params.agent);
    this.state = {
      ...this.state,
      params: { ...this.state.params, agent: live },
      target: { ...this.state.target, params: { ...this.state.target.params, agent: target } },
    };
  }

  dispose(): void {
    tree.dispose(this.state);
    this.key.dispose();
    this.trainStep.dispose();
    this.microStep?.dispose();
    (this.actCoach as unknown as { dispose(): void } | null)?.dispose();
    for (const h of this.copaHeld.values()) h.z.dispose();
    this.copaHeld.clear();
    this.fc1Padded?.w.dispose();
    this.fc1Padded = null;
  }
}

/**
 * COPA's coach as the runner's high-level controller (spec §16, §9.1): called at the same
 * decision points an allocator would be (row 0, every `action_length` steps, one row after a
 * subtask change). It assigns no subtasks itself: with an `inner` allocator that allocator
 * decides first and the coach then sees the new allocation; without one `out` is left as it is
 * (all −1, written as all-ones agent rows, §16.1) and `assignsSubtasks` is false so the runner
 * applies no subtask action masking. The strategies are stored in the learner and added by its
 * acting forward.
 */
export class CopaCoach implements RunnerAllocator {
  readonly name: string;
  readonly assignsSubtasks: boolean;

  constructor(
    private readonly learner: QLearner,
    readonly inner: Allocator | null = null,
  ) {
    this.name = inner ? `${inner.name}+copa` : "copa";
    this.assignsSubtasks = inner !== null && (inner as RunnerAllocator).assignsSubtasks !== false;
  }

  /**
   * The same coach driven after `inner` (COPA combined with an allocator, `mask_copa`); with null
   * the pure coach. Used by the training loop's `makeAllocatorFor`.
   */
  withAllocator(inner: Allocator | null): CopaCoach {
    return new CopaCoach(this.learner, inner);
  }

  async decide(ctx: DecisionContext, out: Int32Array): Promise<void> {
    if (this.inner) await this.inner.decide(ctx, out);
    this.learner.decideStrategies(ctx, out);
  }
}
