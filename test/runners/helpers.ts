/** Shared runner set-up of the tests that play real episodes without a learner. */
import type { CompositeEnv } from "../../src/envs/types.js";
import type { ActingBatch, UtilityFunction } from "../../src/runners/acting.js";
import { HeuristicAllocator } from "../../src/runners/allocators.js";
import { ParallelRunner } from "../../src/runners/runner.js";

/** A runner over `envs` with the environments' heuristic allocation (decisions every 5 steps). */
export function heuristicRunner(envs: CompositeEnv[], policy: UtilityFunction): ParallelRunner {
  return new ParallelRunner(
    {
      envs,
      allocator: new HeuristicAllocator(),
      actionLength: 5,
      maskSubtaskActions: false,
      seed: 1,
    },
    policy,
  );
}

/** All-zero utilities: greedy actions without a network, enough to move an episode along. */
export const zeroUtilities: UtilityFunction = {
  utilities: (b: ActingBatch) => new Float32Array(b.size * b.info.nAgents * b.info.nActions),
};
