/**
 * The low-level Q-learner (spec §4, §5, §11, §13, §14) behind the training loop's `Learner`
 * interface: owns the parameters, targets, optimiser state and Pop-Art statistics as jax-js
 * arrays, runs the jitted acting forward for the runner and the jitted training step for the
 * loop, copies targets on the episode schedule, and converts everything to named tensors for
 * checkpoints.
 */
import type { WindowBatch } from "../buffer/replay.js";
import { type AlmaConfig, effectiveMixerSubtaskCond } from "../config/schema.js";
import type { EnvInfo } from "../envs/types.js";
import { type AgentInputs, type AgentParams, agentForward, type SubtaskCond } from "../nn/agent.js";
import { type Arr, jit, np, random, readFloat32, readScalar, tree } from "../nn/engine.js";
import { splitKey } from "../nn/layers.js";
import {
  defaultLowLevelConfig,
  initLowLevelState,
  type LowLevelConfig,
  type LowLevelState,
  type LowLevelTrainStepFn,
  lowLevelBatchToArrays,
  makeLowLevelTrainStep,
  updateLowLevelTarget,
} from "../nn/lowLevel.js";
import { randomPermutationMatrix } from "../nn/taskEmbed.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { ActingBatch } from "../runners/acting.js";
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

export class QLearner implements Learner {
  readonly cfg: LowLevelConfig;
  private state: LowLevelState;
  private key: Arr;
  private readonly trainStep: LowLevelTrainStepFn;
  private readonly act: (agent: AgentParams, inp: AgentInputs) => Arr;
  private lastTargetEpisode = 0;
  /** Host buffer for the acting input `[B, Ne, De + A]`. */
  private entBuf: Float32Array | null = null;

  constructor(
    readonly config: AlmaConfig,
    readonly info: EnvInfo,
  ) {
    this.cfg = lowLevelConfigFor(config, info);
    const [kInit, kRun] = splitKey(random.key(config.seed), 2);
    this.state = initLowLevelState(kInit, this.cfg);
    this.key = kRun;
    this.trainStep = makeLowLevelTrainStep(this.cfg);
    const agentCfg = this.cfg.agent;
    this.act = jit((agent: AgentParams, inp: AgentInputs) =>
      agentForward(agent, inp, agentCfg),
    ) as unknown as (agent: AgentParams, inp: AgentInputs) => Arr;
  }

  private nextKey(): Arr {
    const [a, b] = splitKey(this.key, 2);
    this.key = a;
    return b;
  }

  /** Acting forward (§4): entities ⊕ last-action one-hot on agent rows, masks, allocation. */
  async utilities(batch: ActingBatch): Promise<Float32Array> {
    const { nAgents: na, nEntities: ne, nTasks: nt, nActions: A, entityShape: de } = this.info;
    const B = batch.size;
    const W = de + A;
    if (!this.entBuf || this.entBuf.length !== B * ne * W)
      this.entBuf = new Float32Array(B * ne * W);
    const ent = this.entBuf;
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
    const inp: AgentInputs = {
      ent: np.array(ent, { shape: [B, ne, W] }),
      obsMask: np.array(Float32Array.from(batch.obsMask), { shape: [B, ne, ne] }),
      entityMask: np.array(Float32Array.from(batch.entityMask), { shape: [B, ne] }),
    };
    if (cond !== null)
      inp.entity2taskMask = np.array(Float32Array.from(batch.entity2taskMask), {
        shape: [B, ne, nt],
      });
    if (cond === "full_obs")
      inp.taskPerm = randomPermutationMatrix(
        this.nextKey(),
        nt + (this.cfg.agent.nExtraTasks ?? 0),
      );
    const q = this.act(tree.ref(this.state.params.agent), inp);
    return readFloat32(q);
  }

  /** One low-level gradient step (§11) and the target-update check (§11.12, §14). */
  async train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    const arrays = lowLevelBatchToArrays({ ...batch, maxSeqLength: batch.seqLen }, this.info);
    const [state, m] = this.trainStep(this.state, arrays, this.nextKey());
    this.state = state;
    if ((ctx.episode - this.lastTargetEpisode) / this.config.learner.targetUpdateInterval >= 1) {
      this.state = updateLowLevelTarget(this.state);
      this.lastTargetEpisode = ctx.episode;
    }
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
    return out;
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
  }
}
