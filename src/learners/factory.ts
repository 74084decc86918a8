/**
 * Builds the learner a configuration asks for: the low-level Q-learner (every method), plus the
 * learned allocator for ALMA (`hierAgent.taskAllocation = aql`).
 */
import type { AlmaConfig } from "../config/schema.js";
import type { EnvInfo } from "../envs/types.js";
import { QLearner } from "./qlearner.js";
import type { Learner } from "./types.js";

export async function createLearner(config: AlmaConfig, info: EnvInfo): Promise<Learner> {
  if (config.agent.imagine) {
    throw new Error(
      "agent.imagine (REFIL's imagined-group loss, spec §7) is not available in the learner yet; use --set agent.imagine=false",
    );
  }
  if (config.hierAgent.copa)
    throw new Error("COPA (hierAgent.copa, spec §16) is not available in the learner yet");
  if (config.hierAgent.taskAllocation === "aql") {
    throw new Error(
      "the learned ALMA allocator (taskAllocation=aql) is not wired into the learner yet",
    );
  }
  return new QLearner(config, info);
}
