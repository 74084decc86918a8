/** Shared harness of the tiny learning problems: the real learner, runner and replay, briefly. */
import type { GridTargets } from "../../examples/grid-targets.js";
import { EpisodeReplayBuffer } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { Rng } from "../../src/envs/rng.js";
import type { CompositeEnv } from "../../src/envs/types.js";
import { QLearner } from "../../src/learners/qlearner.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { HeuristicAllocator } from "../../src/runners/allocators.js";
import { type EpisodeSummary, ParallelRunner } from "../../src/runners/runner.js";

export interface TinyTraining {
  /** `aqmix` (flat) or `heuristic` (per-subtask, allocation from `env.heuristicAllocation`). */
  method: "aqmix" | "heuristic";
  /** 8 environments, one per parallel slot. */
  envs: CompositeEnv[];
  /** Collections of 8 episodes; each is followed by 4 updates on 16 sampled windows. */
  iterations: number;
  /** ε falls linearly from 1 to 0.05 over this many collections. */
  annealIterations: number;
  bufferCapacity: number;
  maxTrajLen: number;
  /** Extra `--set` overrides, applied after the small-network ones. */
  sets?: string[];
  /** false: keep the paper's network sizes, learning rate and target interval (default true). */
  smallNetworks?: boolean;
  /** Seed of the learner's initialisation; the runner uses seed + 1, window sampling seed + 2 (default 1). */
  seed?: number;
  /** Called after each collection and its updates (e.g. to measure the greedy policy). */
  onIteration?: (progress: {
    iteration: number;
    updates: number;
    runner: ParallelRunner;
  }) => Promise<void> | void;
}

/** The `--set`s of `trainTiny`'s small networks (`smallNetworks`, the default). */
const SMALL_NETWORK_SETS: readonly string[] = [
  "agent.attnEmbedDim=16",
  "agent.rnnHiddenDim=16",
  "mixer.hypernetEmbed=16",
  "mixer.mixingEmbedDim=8",
  "learner.targetUpdateInterval=40",
  "optim.lr=0.005",
];

/**
 * Train the real learner on a tiny problem (§15.1's loop, shortened). Small networks and a 10x
 * learning rate: the paper's 5e-4 is tuned for millions of updates and does not reorder the
 * greedy actions within the few hundred updates of a test. Returns the learner (dispose it) and
 * a runner for greedy evaluation.
 */
export async function trainTiny(o: TinyTraining): Promise<{
  learner: QLearner;
  runner: ParallelRunner;
}> {
  const seed = o.seed ?? 1;
  const config = resolveConfig({
    method: o.method,
    seed,
    sets: [...(o.smallNetworks === false ? [] : SMALL_NETWORK_SETS), ...(o.sets ?? [])],
  });
  const info = o.envs[0].info;
  const learner = new QLearner(config, info);
  const runner = new ParallelRunner(
    {
      envs: o.envs,
      allocator: o.method === "heuristic" ? new HeuristicAllocator() : null,
      actionLength: 5,
      maskSubtaskActions: false,
      seed: seed + 1,
    },
    learner,
  );
  const buffer = new EpisodeReplayBuffer(info, {
    capacity: o.bufferCapacity,
    maxTrajLen: o.maxTrajLen,
  });
  const rng = new Rng(seed + 2);
  let episode = 0;
  let updates = 0;
  for (let it = 0; it < o.iterations; it++) {
    const tEnv = it * 50;
    const epsilon = Math.max(0.05, 1 - it / o.annealIterations);
    buffer.insertMany((await runner.run({ testMode: false, tEnv, epsilon })).episodes);
    episode += o.envs.length;
    if (buffer.canSample(16)) {
      for (let k = 0; k < 4; k++, updates++)
        await learner.train(buffer.sample(16, rng, { fixedLength: true }), { tEnv, episode });
    }
    await o.onIteration?.({ iteration: it, updates, runner });
  }
  return { learner, runner };
}

/**
 * 32 greedy episodes (4 runs of the 8 environments); `onRow(e, batch, actions)` sees every row an
 * environment acts on. Returns the episode summaries.
 */
export async function greedyEpisodes(
  runner: ParallelRunner,
  onRow: (e: number, batch: ActingBatch, actions: Int32Array) => void,
): Promise<EpisodeSummary[]> {
  const out: EpisodeSummary[] = [];
  for (let k = 0; k < 4; k++) {
    const res = await runner.run({
      testMode: true,
      tEnv: 0,
      epsilon: 0,
      onStep: (batch, actions) => {
        for (let e = 0; e < batch.size; e++) if (batch.active[e]) onRow(e, batch, actions);
      },
    });
    out.push(...res.summaries);
  }
  return out;
}

export interface GreedyNavigation {
  /** Greedy episodes with both targets reached. */
  success: number;
  /** Greedy steps of agents with an open target that move towards it. */
  towards: number;
}

/** `examples/grid-targets.ts` under the greedy policy, over 32 episodes. */
export async function greedyNavigation(
  envs: readonly GridTargets[],
  runner: ParallelRunner,
): Promise<GreedyNavigation> {
  let towards = 0;
  let steps = 0;
  const episodes = await greedyEpisodes(runner, (e, _batch, actions) => {
    const env = envs[e];
    for (let i = 0; i < 2; i++) {
      if (env.distance(i) === 0) continue; // done, unallocated (distance 0) or on its target
      towards += actions[e * 2 + i] === env.towardsTarget(i) ? 1 : 0;
      steps++;
    }
  });
  const solved = episodes.reduce((s, x) => s + (x.stats["solved"] ?? 0), 0);
  return { success: solved / episodes.length, towards: steps > 0 ? towards / steps : 0 };
}
