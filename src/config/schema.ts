/**
 * The single typed, validated configuration object of alma-ts (spec `algorithm.md` §17, §18).
 *
 * Every hyperparameter of spec §18 lives here, under a camelCase name in a small group. The
 * defaults are the paper defaults for the default environment (SaveTheCity `2-5a_2-5b`) with the
 * flat A-QMIX method: that is the reference's merge `default.yaml < ff.yaml < qmix_atten.yaml <
 * README overrides` (§17: "Configs merge in the order default < env config < algorithm config <
 * command line"). Every published method uses `qmix_atten` or `refil` as its algorithm config, so
 * the algorithm-config values (parallel runner, 8 envs, 5000-episode buffer, ...) are the schema
 * defaults rather than the bare `default.yaml` values (runner `episode`, buffer 32), which no
 * published run ever used.
 *
 * Spec keys deliberately *not* represented (fixed by this implementation, so a key would only
 * invite confusion): `mac`/`learner`/`agent_output_type`/`action_selector`/`mixer` (one
 * implementation each: entity MAC, Q-learner, ε-greedy, flex_qmix), `agent.entity_scheme` (always
 * on), `buffer_opt_mem` (episodes are always stored unpadded), `buffer_cpu_only` (no device split),
 * `multi_task` (both environments are multi-task), `obs_agent_id`/`obs_last_action` (unused by the
 * entity controller, §4). `SPEC_KEY_ALIASES` in `set.ts` maps every represented spec key to its path.
 *
 * Convention: there is no `null` anywhere. The reference's `None` is the string `"none"`, so every
 * value can be written with `--set key=value` and round-trips through JSON unchanged.
 */
import * as z from "zod";

/** Canonical environment names; aliases (`ff`, `sc2multiarmy`, ...) are in `ENV_ALIASES`. */
export const ENV_NAMES = ["savethecity", "battle"] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/**
 * Accepted spellings of the environment names: the reference registry names (`ff`,
 * `sc2multiarmy`, environments.md §1.1) and descriptive ones.
 */
export const ENV_ALIASES: Readonly<Record<string, EnvName>> = {
  savethecity: "savethecity",
  "save-the-city": "savethecity",
  ff: "savethecity",
  battle: "battle",
  starcraft: "battle",
  sc2: "battle",
  sc2multiarmy: "battle",
};

/** Method presets of spec §17 (see `METHOD_PRESETS` in `presets.ts` for what each sets). */
export const METHOD_NAMES = [
  "aqmix",
  "refil",
  "heuristic",
  "heuristic-dynamic",
  "heuristic-matching",
  "random",
  "alma",
  "alma-nomask",
  "copa",
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** Scale presets: `paper` = spec §18 numbers; `cpu` = short runs (see `scalePresetFor`). */
export const SCALE_NAMES = ["paper", "cpu"] as const;
export type ScaleName = (typeof SCALE_NAMES)[number];

/** Subtask conditioning of the agent network (spec §4.2). `"none"` = reference `None`. */
export const SUBTASK_CONDS = ["none", "mask", "full_obs"] as const;
export type SubtaskCond = (typeof SUBTASK_CONDS)[number];

/** Allocation modes (spec §9.2, §18.2 `task_allocation`). `"none"` = flat (no allocator). */
export const TASK_ALLOCATIONS = ["none", "aql", "heuristic", "random", "random_fixed"] as const;
export type TaskAllocation = (typeof TASK_ALLOCATIONS)[number];

/** Criteria allowed in the StarCraft `heuristic_style` string (spec §9.3). */
export const HEURISTIC_CRITERIA = ["attacking", "type", "unassigned", "diff"] as const;

/**
 * Parse an exploration schedule string `"start-finish-fraction"` (spec §8.5). Returns null when
 * the string is malformed. The empty string is *not* accepted here (callers that allow it to mean
 * "disabled" check for it first).
 */
export function parseScheduleString(
  s: string,
): { start: number; finish: number; fraction: number } | null {
  // Numbers may themselves contain '-' only as an exponent sign ("1e-3"); split on dashes that
  // are not preceded by 'e'/'E'.
  const parts = s.split(/(?<![eE])-/);
  if (parts.length !== 3) return null;
  const nums = parts.map((p) => (p.trim() === "" ? Number.NaN : Number(p)));
  if (nums.some((v) => !Number.isFinite(v))) return null;
  const [start, finish, fraction] = nums as [number, number, number];
  if (fraction < 0) return null;
  return { start, finish, fraction };
}

const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();
const prob = () => z.number().min(0).max(1);

const scheduleString = (allowEmpty: boolean) =>
  z.string().refine((s) => (allowEmpty && s === "") || parseScheduleString(s) !== null, {
    message: allowEmpty
      ? 'expected a schedule "start-finish-fraction" (e.g. "1.0-0.05-0.2") or "" to disable'
      : 'expected a schedule "start-finish-fraction" (e.g. "1.0-0.0-0.05")',
  });

const heuristicStyle = z.string().refine(
  (s) => {
    const parts = s.split("-");
    return (
      parts.length > 0 &&
      new Set(parts).size === parts.length &&
      parts.every((p) => (HEURISTIC_CRITERIA as readonly string[]).includes(p))
    );
  },
  {
    message: `expected distinct criteria from ${HEURISTIC_CRITERIA.join("|")} joined by "-" (e.g. "attacking-type-unassigned-diff")`,
  },
);

/**
 * SaveTheCity (`ff`) environment arguments (spec §18.3, environments.md §2.1). The game constants
 * (fire and build rates, reward terms) are fixed at the spec's values in `src/envs/savethecity`.
 */
const SaveTheCityArgsSchema = z.strictObject({
  /** End the episode as soon as any building burns down (§18.3; off in the paper). */
  endOnAnyBurn: z.boolean().default(false),
});

/**
 * Battle (StarCraft multi-army, `sc2multiarmy`) environment arguments (spec §18.3,
 * environments.md §3.1). Reward constants and engine settings are fixed at the spec's values in
 * `src/envs/battle`; these are the switches the simulator exposes.
 */
const BattleArgsSchema = z.strictObject({
  /**
   * StarCraft heuristic allocator criteria (§9.3): "dynamic" = `attacking-type-unassigned-diff`
   * (default), "matching" = `type-unassigned-diff`.
   */
  heuristicStyle: heuristicStyle.default("attacking-type-unassigned-diff"),
  /** Spread the enemy armies around the map (§18.3, environments.md §3.6). */
  spreadArmies: z.boolean().default(true),
  /**
   * Reproduce the reference's task-reward quirk (kills missing from task rewards, the +200 army
   * bonus repeated every step; environments.md §7.3, §8.12). Off gives the corrected rewards.
   */
  taskRewardQuirk: z.boolean().default(true),
  /** `n_extra_units` (§18.1): extra tag slots (env argument `n_extra_tags`, environments.md §1.6). */
  nExtraUnits: nonNegInt().default(0),
  /** Treat the outermost map cells as unpathable (environments.md §8.2; default: pathable). */
  edgeCellsBlocked: z.boolean().default(false),
  /** Let dead units observe themselves as in the original (environments.md §3.17). */
  deadSelfObservation: z.boolean().default(false),
});

/** Environment selection and settings (spec §2, §18.3). */
const EnvSchema = z.strictObject({
  /** Which environment (environments.md §1.1). Set through `--env`, not `--set`. */
  name: z.enum(ENV_NAMES).default("savethecity"),
  /**
   * Scenario family name (§18.3; e.g. `2-5a_2-5b`, `6-8sz_maxsize4_maxarmies3_symmetric`). The
   * environment registry validates that it exists.
   */
  scenario: z.string().min(1).default("2-5a_2-5b"),
  /** Maximum steps per episode (§18.3: 150 for both environments). */
  episodeLimit: posInt().default(150),
  /** SaveTheCity arguments (used only when `name` is `savethecity`). */
  savethecity: SaveTheCityArgsSchema.prefault({}),
  /** Battle arguments (used only when `name` is `battle`). */
  battle: BattleArgsSchema.prefault({}),
});

/** Run length, collection, testing, logging and checkpoint cadence (spec §15, §18.1). */
const RunSchema = z.strictObject({
  /**
   * Total training env steps (§18.1 `t_max`: 15,000,000 SaveTheCity, 10,000,000 battle). The loop
   * runs `while t_env ≤ t_max` (§15.1).
   */
  tMax: posInt().default(15_000_000),
  /** Runner kind (§15.2). `parallel` for every published config; `episode` = one env. */
  runner: z.enum(["parallel", "episode"]).default("parallel"),
  /** Parallel environments per collection run (§18.1 `batch_size_run`). */
  batchSizeRun: posInt().default(8),
  /** Gradient steps per collection run (§18.1 `training_iters`, §15.1). */
  trainingIters: posInt().default(8),
  /**
   * Greedy test episodes per test phase (§18.1 `test_nepisode`; §15.1 rounds it down to a
   * multiple of `batchSizeRun`, at least one batch).
   */
  testNepisode: posInt().default(160),
  /** Env steps between test phases (§18.1 `test_interval`). */
  testInterval: posInt().default(50_000),
  /** Test with greedy actions (§18.1 `test_greedy`). */
  testGreedy: z.boolean().default(true),
  /** Env steps between console summaries (§18.1 `log_interval`). */
  logInterval: posInt().default(10_000),
  /** Env steps between training-episode statistics logs (§18.1 `runner_log_interval`). */
  runnerLogInterval: posInt().default(10_000),
  /** Env steps between learner-statistics logs (§18.1 `learner_log_interval`, §11, §12.2). */
  learnerLogInterval: posInt().default(10_000),
  /**
   * Write checkpoints (§15.4). The reference default is false; alma-ts defaults to true because
   * resuming a run needs them (issue 3).
   */
  saveModel: z.boolean().default(true),
  /** Env steps between checkpoints (§18.1 `save_model_interval`). */
  saveModelInterval: posInt().default(5000),
  /**
   * Env steps between model snapshots: only the newest two checkpoints keep their replay buffer;
   * of the older ones the first of every `modelSnapshotInterval` env steps is kept without it
   * (networks, optimiser, counters), for `alma eval --checkpoint T|best`. 0 keeps none. The
   * reference keeps every saved model (§15.4); this bounds the disk of a long run.
   */
  modelSnapshotInterval: nonNegInt().default(100_000),
});

/** Replay buffer and sampling (spec §10, §18.1). */
const BufferSchema = z.strictObject({
  /** Capacity in episodes, FIFO ring (§10, §18.1 `buffer_size`). */
  bufferSize: posInt().default(5000),
  /** Episodes (windows) per update, low level and allocator (§18.1 `batch_size`, §11, §12). */
  batchSize: posInt().default(32),
  /**
   * Window length in rows when any sampled episode is longer (§10 `max_traj_len`); -1 disables
   * windows (padded whole episodes).
   */
  maxTrajLen: z
    .number()
    .int()
    .refine((v) => v === -1 || v >= 2, { message: "expected -1 (off) or an integer ≥ 2" })
    .default(64),
});

/** Optimisers (spec §14, §18.1). */
const OptimSchema = z.strictObject({
  /** Learning rate of every module (§14, §18.1 `lr`). */
  lr: z.number().positive().default(5e-4),
  /** RMSProp smoothing α (§14, §18.1 `optim_alpha`). */
  optimAlpha: z.number().min(0).max(1).default(0.99),
  /** RMSProp ε (§14, §18.1 `optim_eps`). */
  optimEps: z.number().positive().default(1e-5),
  /** Global L2 gradient-norm clip per parameter group (§14, §18.1 `grad_norm_clip`). */
  gradNormClip: z.number().positive().default(10),
  /** L2 weight decay of the low-level and policy optimisers (§14, §18.1 `weight_decay`). */
  weightDecay: z.number().nonnegative().default(0),
  /** L2 weight decay of the allocation critic optimiser (§14, §18.1 `alloc_q_weight_decay`). */
  allocQWeightDecay: z.number().nonnegative().default(0),
});

/** Targets, losses and normalisation (spec §7, §11, §13, §14, §16). */
const LearnerSchema = z.strictObject({
  /** Discount (§11.1, §12.2; §18.1 `gamma`). */
  gamma: z.number().min(0).max(1).default(0.99),
  /** Double Q-learning for the low-level targets (§11.2 step 4; §18.1 `double_q`). */
  doubleQ: z.boolean().default(true),
  /** Low-level target copy interval in training episodes (§14; §18.1 `target_update_interval`). */
  targetUpdateInterval: posInt().default(200),
  /** Allocator target copy interval in training episodes (§12.2, §14; §18.1 `alloc_target_update_interval`). */
  allocTargetUpdateInterval: posInt().default(50),
  /** Pop-Art normalisation of the mixer and allocation critic (§13; §18.1 `popart`). */
  popart: z.boolean().default(true),
  /** REFIL imagined-group loss weight λ (§7 step 8; §18.1 `lmbda`). */
  lmbda: z.number().min(0).max(1).default(0.5),
  /** COPA variational loss weight (§16.2; §18.1 `vi_lambda`). */
  viLambda: z.number().nonnegative().default(5e-5),
  /**
   * λ of TD(λ) low-level targets (alma-ts addition, as PyMARL2's QMIX `td_lambda`): 0 gives the
   * paper's one-step targets (§11.1); e.g. 0.6 carries rewards back many rows per update, which
   * shortens learning on long walks. See `lambdaReturns` in src/nn/lowLevel.ts.
   */
  tdLambda: z.number().min(0).max(1).default(0),
  /**
   * Split each low-level training batch into this many micro-batches with gradient accumulation
   * (alma-ts addition; same update) to lower peak memory further at some cost in time. With the
   * jax-js memory plan (patches/README.md) the one-program step peaks at ~0.6 GB at the paper's
   * SaveTheCity shapes and ~1.5 GB at battle shapes with REFIL. Must divide `buffer.batchSize`;
   * not available with COPA.
   */
  microBatches: posInt().default(1),
});

/** Low-level ε-greedy action selection (spec §5, §18.1). */
const ExplorationSchema = z.strictObject({
  /** ε at t_env = 0 (§5; §18.1 `epsilon_start`). */
  epsilonStart: prob().default(1.0),
  /** ε floor (§5; §18.1 `epsilon_finish`). */
  epsilonFinish: prob().default(0.05),
  /**
   * Env steps of the linear ε anneal (§5; §18.1 `epsilon_anneal_time`: 500,000 in `qmix_atten`,
   * 2,000,000 for SaveTheCity per the README, §17).
   */
  epsilonAnnealTime: posInt().default(2_000_000),
  /**
   * Restrict subtask-tied actions to the agent's allocated subtask (§5 step 2, environments.md
   * §1.4; §18.1 `mask_subtask_actions`: true for battle, false for SaveTheCity). Only has an
   * effect when an allocation exists.
   */
  maskSubtaskActions: z.boolean().default(false),
});

/** Low-level agent utility network (spec §4, §18.1 `agent.*`). */
const AgentSchema = z.strictObject({
  /**
   * Subtask conditioning (§4.2): `none` (A-QMIX, REFIL, COPA), `mask` (ALMA, heuristic, random),
   * `full_obs` (ALMA no-mask). Must be `none` exactly when `hierAgent.taskAllocation` is (§17).
   */
  subtaskCond: z.enum(SUBTASK_CONDS).default("none"),
  /** REFIL imagined-group auxiliary loss (§7; §18.1 `agent.imagine`; on for every battle method). */
  imagine: z.boolean().default(false),
  /** Recurrent agent (§4: the reference's recurrent head is not implemented; must stay false). */
  recurrent: z.literal(false).default(false),
  /** Append the previous one-hot action to entity features (§4.1; §18.1 `entity_last_action`). */
  entityLastAction: z.boolean().default(true),
  /** Agent hidden width and COPA strategy size (§4.3, §16; §18.1 `rnn_hidden_dim`). */
  rnnHiddenDim: posInt().default(64),
  /** Entity attention width E (§3.1, §4.3; §18.1 `attn_embed_dim`). Divisible by `attnNHeads`. */
  attnEmbedDim: posInt().default(128),
  /** Attention heads H (§3.1; §18.1 `attn_n_heads`). */
  attnNHeads: posInt().default(4),
  /** Zero columns appended to every TaskEmbedder input (§3.3; §18.1 `n_extra_tasks`). */
  nExtraTasks: nonNegInt().default(0),
});

/** Attention-hypernetwork mixer flex_qmix (spec §6, §18.1). */
const MixerSchema = z.strictObject({
  /** Mixing hidden width (§6.1; §18.1 `mixing_embed_dim`). */
  mixingEmbedDim: posInt().default(32),
  /** Hypernetwork embedding width (§6.1; §18.1 `hypernet_embed`). */
  hypernetEmbed: posInt().default(128),
  /** Softmax (true) or abs (false) for W1 and w_final; b1 and V always use abs (§6.1; §18.1). */
  softmaxMixingWeights: z.boolean().default(true),
  /**
   * Mixer subtask conditioning (§6.2; §18.1 `mixer_subtask_cond`). `agent` = follow
   * `agent.subtaskCond` (the reference's `None`); use `effectiveMixerSubtaskCond` to read it.
   */
  subtaskCond: z.enum(["agent", ...SUBTASK_CONDS]).default("agent"),
});

/** High-level controller (spec §8, §9, §12, §16; §18.2 `hier_agent.*`). */
const HierAgentSchema = z.strictObject({
  /** Allocation mode (§9.2; §18.2 `task_allocation`). `none` = flat method. */
  taskAllocation: z.enum(TASK_ALLOCATIONS).default("none"),
  /** COPA coach (§16; §18.2 `copa`). */
  copa: z.boolean().default(false),
  /** Mask the COPA coach by subtasks when combined with an allocator (§16.1; §18.2 `mask_copa`). */
  maskCopa: z.boolean().default(true),
  /** Train COPA's recognition model / VI loss (§16.2; §18.2 `copa_vi_loss`). */
  copaViLoss: z.boolean().default(true),
  /**
   * Max env steps between decisions and the divisor of segment rewards (§9.1, §12.1; §18.2
   * `action_length`: 5 SaveTheCity, 3 battle).
   */
  actionLength: posInt().default(5),
  /** Allocation critic architecture (§8.3; §18.2 `alloc_critic`; only option). */
  allocCritic: z.literal("standard").default("standard"),
  /** Proposal policy architecture (§8.2; §18.2 `alloc_policy`; only option). */
  allocPolicy: z.literal("autoreg").default("autoreg"),
  /**
   * Age cutoff in env steps for allocator training data and its linear loss-weight decay (§10,
   * §12; §18.2 `decay_old`); 0 disables both.
   */
  decayOld: nonNegInt().default(150_000),
  /** Proposals sampled per decision (§8.4; §18.2 `n_proposals`; must be > 1). */
  nProposals: z.number().int().min(2).default(32),
  /** Per-agent random reassignment schedule "start-finish-fraction" (§8.4, §8.5; §18.2 `alloc_eps`). */
  allocEps: scheduleString(false).default("1.0-0.0-0.05"),
  /** Use-a-raw-proposal schedule (§8.4, §8.5; §18.2 `prop_alloc_eps`); "" disables it. */
  propAllocEps: scheduleString(true).default("1.0-0.05-0.2"),
  /** Entropy bonus weight of the proposal loss (§12.2; §18.2 `entropy_loss`). */
  entropyLoss: z.number().nonnegative().default(0.01),
  /** Optimiser class of the policy and critic (§14; §18.2 `alloc_opt`). */
  allocOpt: z.enum(["rmsprop", "adam"]).default("rmsprop"),
  /** Max decision points per allocation update, the first ones in row-major order (§12.1; §18.2 `max_bs`). */
  maxBs: posInt().default(400),
  /** Agent self-attention in the proposal net (§8.2 ablation; §18.2 `pi_ag_attn`). */
  piAgAttn: z.boolean().default(false),
  /** Non-agent attention restricted to the same subtask (§8.2; §18.2 `subtask_mask`). */
  subtaskMask: z.boolean().default(true),
  /** Update only the chosen subtask's embedding (§8.2; §18.2 `sel_task_upd`). */
  selTaskUpd: z.boolean().default(true),
  /** Dot-product pointer logits (§8.2; §18.2 `pi_pointer_net`). */
  piPointerNet: z.boolean().default(true),
  /** Sequential (autoregressive) assignment (§8.2; §18.2 `pi_autoreg`). */
  piAutoreg: z.boolean().default(true),
  /** Allocation critic width E' (§8.3; §18.1 `alloc_embed_dim`). Divisible by `allocNHeads`. */
  allocEmbedDim: posInt().default(128),
  /** Allocation critic heads (§8.3; §18.1 `alloc_n_heads`). */
  allocNHeads: posInt().default(4),
});

/** The whole configuration (spec §17, §18). */
export const ConfigSchema = z
  .strictObject({
    /** Method preset this config was resolved from (§17). Informational: the fields decide behaviour. */
    method: z.enum(METHOD_NAMES).default("aqmix"),
    /** Scale preset this config was resolved from (`paper` or `cpu`). Informational. */
    scale: z.enum(SCALE_NAMES).default("paper"),
    /** Base seed; parallel env k gets `seed + k` (§15.2). */
    seed: z.number().int().min(0).max(0xffffffff).default(0),
    env: EnvSchema.prefault({}),
    run: RunSchema.prefault({}),
    buffer: BufferSchema.prefault({}),
    optim: OptimSchema.prefault({}),
    learner: LearnerSchema.prefault({}),
    exploration: ExplorationSchema.prefault({}),
    agent: AgentSchema.prefault({}),
    mixer: MixerSchema.prefault({}),
    hierAgent: HierAgentSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    // §17: subtask conditioning and allocation are set together (both none or both set).
    if ((c.agent.subtaskCond === "none") !== (c.hierAgent.taskAllocation === "none")) {
      ctx.addIssue({
        code: "custom",
        path: ["hierAgent", "taskAllocation"],
        message: `must be "none" exactly when agent.subtaskCond is "none" (spec §17); got taskAllocation="${c.hierAgent.taskAllocation}" with agent.subtaskCond="${c.agent.subtaskCond}"`,
      });
    }
    // §6.2/§11.1: per-subtask mixer outputs need per-subtask rewards, which follow the agent mode.
    const mix = effectiveMixerSubtaskCond(c);
    if ((mix === "none") !== (c.agent.subtaskCond === "none")) {
      ctx.addIssue({
        code: "custom",
        path: ["mixer", "subtaskCond"],
        message: `must be "none" exactly when agent.subtaskCond is "none" (per-subtask mixer outputs train on per-subtask rewards, spec §11.1); got "${c.mixer.subtaskCond}"`,
      });
    }
    if (c.agent.attnEmbedDim % c.agent.attnNHeads !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["agent", "attnEmbedDim"],
        message: `must be divisible by agent.attnNHeads (${c.agent.attnNHeads}) (spec §3.1)`,
      });
    }
    if (c.hierAgent.allocEmbedDim % c.hierAgent.allocNHeads !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["hierAgent", "allocEmbedDim"],
        message: `must be divisible by hierAgent.allocNHeads (${c.hierAgent.allocNHeads}) (spec §8.3)`,
      });
    }
    if (c.buffer.batchSize % c.learner.microBatches !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["learner", "microBatches"],
        message: `must divide buffer.batchSize (${c.buffer.batchSize}); got ${c.learner.microBatches}`,
      });
    }
    if (c.learner.microBatches > 1 && c.hierAgent.copa) {
      ctx.addIssue({
        code: "custom",
        path: ["learner", "microBatches"],
        message: `must be 1 with COPA (hierAgent.copa): the micro-batched step does not support the coach; got ${c.learner.microBatches}`,
      });
    }
    if (c.buffer.batchSize > c.buffer.bufferSize) {
      ctx.addIssue({
        code: "custom",
        path: ["buffer", "batchSize"],
        message: `must be ≤ buffer.bufferSize (${c.buffer.bufferSize}), or sampling can never start (spec §10)`,
      });
    }
  });

/** The validated configuration (all fields present). `resolveConfig` returns it deeply frozen. */
export type AlmaConfig = z.output<typeof ConfigSchema>;
/** What the schema accepts: every field optional (defaults fill in). */
export type AlmaConfigInput = z.input<typeof ConfigSchema>;

/** Recursive partial of a plain-data object type (presets are written in this shape). */
export type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** A partial configuration layer (environment, method and scale presets, overrides). */
export type ConfigLayer = DeepPartial<AlmaConfig>;

/**
 * The mixer's effective subtask conditioning (§6.2, §18.1 `mixer_subtask_cond`: "None → =
 * agent.subtask_cond").
 */
export function effectiveMixerSubtaskCond(c: {
  agent: { subtaskCond: SubtaskCond };
  mixer: { subtaskCond: "agent" | SubtaskCond };
}): SubtaskCond {
  return c.mixer.subtaskCond === "agent" ? c.agent.subtaskCond : c.mixer.subtaskCond;
}
