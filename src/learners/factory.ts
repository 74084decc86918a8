/**
 * Builds the learner a configuration asks for: the low-level Q-learner (every method; with
 * `hierAgent.copa` it also owns COPA's coach, §16), plus the learned allocator for ALMA
 * (`hierAgent.taskAllocation = aql`).
 */
import type { AlmaConfig } from "../config/schema.js";
import type { EnvInfo } from "../envs/types.js";
import { AlmaAllocator } from "./alloc.js";
import { HierarchicalLearner } from "./hierarchical.js";
import { QLearner } from "./qlearner.js";
import type { Learner } from "./types.js";

export async function createLearner(config: AlmaConfig, info: EnvInfo): Promise<Learner> {
  const low = new QLearner(config, info);
  if (config.hierAgent.taskAllocation === "aql")
    return new HierarchicalLearner(low, new AlmaAllocator(info, config));
  return low;
}
