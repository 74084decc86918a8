/**
 * Static configuration of the allocation controller's networks and training step (spec §8, §12,
 * §13, §14, §18.2), derived from the environment sizes and the validated `AlmaConfig`.
 */
import type { AlmaConfig } from "../../config/schema.js";

/** Environment sizes the allocator needs (a subset of `EnvInfo`). */
export interface AllocDims {
  /** Na: maximum (padded) number of agents; agents are entity slots 0..Na−1. */
  readonly nAgents: number;
  /** Ne: entity slots. */
  readonly nEntities: number;
  /** Nt: maximum (padded) number of subtasks. */
  readonly nTasks: number;
  /** De: raw entity feature width (the allocator uses no last-action block, §8). */
  readonly entityShape: number;
}

/** Architecture switches of the proposal policy (spec §8.2; defaults are the paper's method). */
export interface PolicyFlags {
  /** `pi_autoreg` (true): sequential assignment with embedding updates. */
  readonly autoreg: boolean;
  /** `pi_pointer_net` (true): dot-product pointer logits. */
  readonly pointerNet: boolean;
  /** `sel_task_upd` (true): only the chosen subtask's embedding is updated. */
  readonly selTaskUpd: boolean;
  /** `subtask_mask` (true): the non-agent attention is restricted to the same subtask. */
  readonly subtaskMask: boolean;
  /** `pi_ag_attn` (false): agent self-attention (agent i attends agents j > i). */
  readonly agAttn: boolean;
}

export const DEFAULT_POLICY_FLAGS: PolicyFlags = {
  autoreg: true,
  pointerNet: true,
  selTaskUpd: true,
  subtaskMask: true,
  agAttn: false,
};

/** Everything the allocator's networks and its training step need. */
export interface AllocNetConfig extends AllocDims {
  /** `n_extra_tasks` (0): zero columns appended to every TaskEmbedder input (§3.3). */
  readonly nExtraTasks: number;
  /** Policy width E = `attn_embed_dim` (128) and heads `attn_n_heads` (4) (§8.2). */
  readonly piEmbed: number;
  readonly piHeads: number;
  /** Critic width E' = `alloc_embed_dim` (128) and heads `alloc_n_heads` (4) (§8.3). */
  readonly qEmbed: number;
  readonly qHeads: number;
  /** `n_proposals` (32, > 1). */
  readonly nProposals: number;
  readonly flags: PolicyFlags;
  /** γ (0.99), applied once per high-level segment (§12.2). */
  readonly gamma: number;
  /** `entropy_loss` (0.01). */
  readonly entropyLoss: number;
  /** `popart` (true): Pop-Art normalisation of the critic (§13). */
  readonly popart: boolean;
  /** Optimiser of both allocator groups (`alloc_opt`, §14). */
  readonly opt: "rmsprop" | "adam";
  readonly lr: number;
  /** RMSProp smoothing α (`optim_alpha`). */
  readonly optimAlpha: number;
  /** RMSProp ε (`optim_eps`). */
  readonly optimEps: number;
  /** Weight decay of the policy group (`weight_decay`). */
  readonly piWeightDecay: number;
  /** Weight decay of the critic group (`alloc_q_weight_decay`). */
  readonly qWeightDecay: number;
  /** `grad_norm_clip` (10), per group. */
  readonly gradNormClip: number;
}

/** Derive the allocator configuration from the environment sizes and the run configuration. */
export function allocNetConfig(dims: AllocDims, config: AlmaConfig): AllocNetConfig {
  const h = config.hierAgent;
  return {
    nAgents: dims.nAgents,
    nEntities: dims.nEntities,
    nTasks: dims.nTasks,
    entityShape: dims.entityShape,
    nExtraTasks: config.agent.nExtraTasks,
    piEmbed: config.agent.attnEmbedDim,
    piHeads: config.agent.attnNHeads,
    qEmbed: h.allocEmbedDim,
    qHeads: h.allocNHeads,
    nProposals: h.nProposals,
    flags: {
      autoreg: h.piAutoreg,
      pointerNet: h.piPointerNet,
      selTaskUpd: h.selTaskUpd,
      subtaskMask: h.subtaskMask,
      agAttn: h.piAgAttn,
    },
    gamma: config.learner.gamma,
    entropyLoss: h.entropyLoss,
    popart: config.learner.popart,
    opt: h.allocOpt,
    lr: config.optim.lr,
    optimAlpha: config.optim.optimAlpha,
    optimEps: config.optim.optimEps,
    piWeightDecay: config.optim.weightDecay,
    qWeightDecay: config.optim.allocQWeightDecay,
    gradNormClip: config.optim.gradNormClip,
  };
}

/** The paper-default configuration for given sizes (tests, benchmarks). */
export function defaultAllocNetConfig(
  dims: AllocDims,
  overrides: Partial<Omit<AllocNetConfig, keyof AllocDims>> = {},
): AllocNetConfig {
  return {
    ...dims,
    nExtraTasks: 0,
    piEmbed: 128,
    piHeads: 4,
    qEmbed: 128,
    qHeads: 4,
    nProposals: 32,
    flags: DEFAULT_POLICY_FLAGS,
    gamma: 0.99,
    entropyLoss: 0.01,
    popart: true,
    opt: "rmsprop",
    lr: 5e-4,
    optimAlpha: 0.99,
    optimEps: 1e-5,
    piWeightDecay: 0,
    qWeightDecay: 0,
    gradNormClip: 10,
    ...overrides,
  };
}
