/**
 * Low-level agent utility network (spec §4): feed-forward entity attention shared by all agents,
 * no agent-ID input, optional subtask conditioning.
 */
import { type AttentionParams, entityAttention, initAttention } from "./attention.js";
import { type Arr, np } from "./engine.js";
import {
  barrier,
  groupMask,
  initLinear,
  type Linear,
  linear,
  not01,
  relu,
  sliceAxisFromEnd,
  splitKey,
} from "./layers.js";
import { initTaskEmbed, type TaskEmbedParams, taskEmbed } from "./taskEmbed.js";

/** `agent.subtask_cond` (spec §4.2): none (A-QMIX/REFIL/COPA), `mask` (ALMA), `full_obs` (No mask). */
export type SubtaskCond = null | "mask" | "full_obs";

/** Static sizes and options of the agent network. */
export interface AgentNetConfig {
  /** Na: maximum (padded) number of agents; agents are entity slots 0..Na−1. */
  readonly nAgents: number;
  /** Ne: entity slots. */
  readonly nEntities: number;
  /** A: low-level actions. */
  readonly nActions: number;
  /** De: raw entity feature width. The network input is De + A (last-action block, §4.1). */
  readonly entityShape: number;
  /** Nt: maximum number of subtasks. */
  readonly nTasks: number;
  /** `n_extra_tasks` (default 0): zero columns appended to the task code input (§3.3). */
  readonly nExtraTasks?: number;
  /** E = `attn_embed_dim` (128). */
  readonly attnEmbed: number;
  /** H = `attn_n_heads` (4). */
  readonly nHeads: number;
  /** `rnn_hidden_dim` (64). */
  readonly hiddenDim: number;
  readonly subtaskCond: SubtaskCond;
}

/** Parameters (spec §3.6): fc1 (De+A)→E, attention E→3E / E→E, fc2 E→64, head 64→A, task code. */
export type AgentParams = {
  fc1: Linear;
  attn: AttentionParams;
  fc2: Linear;
  head: Linear;
  /** Only with `subtaskCond = 'full_obs'`. */
  taskEmbed?: TaskEmbedParams;
};

/** PyTorch-default initialisation (consumes `key`). */
export function initAgent(key: Arr, cfg: AgentNetConfig): AgentParams {
  const [k1, k2, k3, k4, k5] = splitKey(key, 5);
  const E = cfg.attnEmbed;
  const p: AgentParams = {
    fc1: initLinear(k1, cfg.entityShape + cfg.nActions, E),
    attn: initAttention(k2, E, E, E),
    fc2: initLinear(k3, E, cfg.hiddenDim),
    head: initLinear(k4, cfg.hiddenDim, cfg.nActions),
  };
  if (cfg.subtaskCond === "full_obs") {
    p.taskEmbed = initTaskEmbed(k5, cfg.nTasks + (cfg.nExtraTasks ?? 0), E);
  } else {
    k5.dispose();
  }
  return p;
}

/** Per-row inputs of the agent network; `...` = any leading axes, e.g. `[B, T]`. */
export type AgentInputs = {
  /** `[..., Ne, ≥ De+A]`: entity features ⊕ last-action block (§4.1), optionally zero-padded. */
  ent: Arr;
  /** `[..., Na or Ne, Ne]` observation mask (1 = cannot observe); only the agent rows are used. */
  obsMask: Arr;
  /** `[..., Ne]` (1 = inactive slot). */
  entityMask: Arr;
  /** `[..., Ne, Nt]` (0 = member). Required for `mask` / `full_obs`; must be absent otherwise. */
  entity2taskMask?: Arr;
  /**
   * `[Nt+nExtra, Nt+nExtra]` one-hot column permutation for the task code (§3.3), one per forward
   * call; required for `full_obs` (use `randomPermutationMatrix`).
   */
  taskPerm?: Arr;
  /**
   * `[..., Na, hiddenDim]` COPA strategies (§16.1 "Acting"), added to every agent's hidden vector
   * after the second layer's ReLU and before the Q head. Absent for every other method.
   */
  coachZ?: Arr;
};

/**
 * Agent utility forward (spec §4.3): returns Q `[..., Na, A]`, zero for inactive agents. Consumes
 * `p` and every input array.
 */
export function agentForward(p: AgentParams, inp: AgentInputs, cfg: AgentNetConfig): Arr {
  const Na = cfg.nAgents;
  const lead = inp.ent.shape.slice(0, -2);
  let x1 = linear(inp.ent, p.fc1);
  const om = inp.obsMask;
  let obs = om.shape[om.ndim - 2] === Na ? om : sliceAxisFromEnd(om, 1, 0, Na);
  if (cfg.subtaskCond === "mask" || cfg.subtaskCond === "full_obs") {
    const e2t = inp.entity2taskMask;
    if (!e2t) throw new Error(`agentForward: subtaskCond=${cfg.subtaskCond} needs entity2taskMask`);
    if (cfg.subtaskCond === "mask") {
      // §4.2: see only entities that are observable AND share the agent's subtask.
      obs = np.maximum(obs, groupMask(sliceAxisFromEnd(e2t.ref, 1, 0, Na), e2t));
      inp.taskPerm?.dispose();
      p.taskEmbed?.w.dispose();
    } else {
      if (!p.taskEmbed || !inp.taskPerm) throw new Error("agentForward: full_obs needs taskEmbed");
      x1 = x1.add(taskEmbed(p.taskEmbed, not01(e2t), inp.taskPerm));
    }
  } else {
    inp.entity2taskMask?.dispose();
    inp.taskPerm?.dispose();
    p.taskEmbed?.w.dispose();
  }
  // The first layer acts on data: without the barrier jax-js would fuse the attention's input
  // cotangent into fc1's weight gradient (see `barrier`).
  x1 = barrier(x1);
  const em = inp.entityMask;
  const agentInactive = sliceAxisFromEnd(em, 0, 0, Na);
  const h = entityAttention(p.attn, relu(x1), obs, agentInactive.ref, cfg.nHeads);
  let z = relu(linear(relu(h), p.fc2));
  if (inp.coachZ) z = z.add(inp.coachZ); // §4.3: `if COPA: z += coach_z`
  const q = linear(z, p.head);
  return q.mul(not01(agentInactive).reshape([...lead, Na, 1]));
}
