/**
 * Allocation-controller benchmark (issue 4, "Targets") at the paper's shapes: SaveTheCity
 * `2-5a_2-5b` (Na=5, Ne=11, Nt=6, De=58, A=12), 400 decision points per update, 32 proposals,
 * attention 128 wide / 4 heads for both the proposal policy and the critic.
 *
 * - `allocationSecondsPerIteration`: median wall time of one allocation training iteration
 *   (spec §12: meta-batch construction from 32 sampled 64-row windows, upload, stage A sampling and
 *   scoring, critic and policy steps, waiting for the new parameters). The windows are real
 *   SaveTheCity episodes collected with the allocator itself.
 * - `allocationActMs`: wall time per acting step of the parallel runner with 8 SaveTheCity
 *   environments (spec §15.2), i.e. the low-level utility forward of `QLearner` plus, whenever
 *   some environments are at a decision point, the allocator's decisions (§8.4), plus env
 *   stepping and episode recording. `allocationDecideMsPerStep` is the allocator's share.
 *
 * Run directly for JSON: `node dist/bench/alloc.js [--iterations N] [--episodes N]`.
 */
import { pathToFileURL } from "node:url";
import { EpisodeReplayBuffer } from "../src/buffer/replay.js";
import { resolveConfig } from "../src/config/resolve.js";
import { makeEnv } from "../src/envs/registry.js";
import { Rng } from "../src/envs/rng.js";
import { AlmaAllocator } from "../src/learners/alloc.js";
import { QLearner } from "../src/learners/qlearner.js";
import { engineThreads } from "../src/nn/engine.js";
import type { DecisionContext } from "../src/runners/allocators.js";
import { ParallelRunner } from "../src/runners/runner.js";

export interface BenchAllocOptions {
  /** Timed training iterations (default 5). */
  iterations?: number;
  /**
   * Collection runs of 8 episodes used for the acting measurement (default 6, after 1 warm-up).
   * Two runs read ~10% slower than six: V8 is still optimising the host side (runner, episode
   * recording, input packing) during the first timed runs.
   */
  actRuns?: number;
  seed?: number;
  /** Progress callback. */
  log?: (msg: string) => void;
}

export interface BenchAllocResult {
  /** Median seconds of one allocation training iteration (§12) at the paper's shapes. */
  allocationSecondsPerIteration: number;
  /** Milliseconds per parallel-runner step (8 envs), low-level forward + allocation decisions. */
  allocationActMs: number;
  /** The allocator's share of `allocationActMs` (decision calls amortised over all steps). */
  allocationDecideMsPerStep: number;
  /** Mean milliseconds of one `decide` call and mean environments per call. */
  decideCallMs: number;
  envsPerDecideCall: number;
  /** Fraction of runner steps with at least one environment at a decision point. */
  stepsWithDecision: number;
  /** First (compiling) training iteration, seconds. */
  compileSeconds: number;
  /** Decision points per training iteration (≤ max_bs) and those found in the windows. */
  decisionPoints: number;
  threads: number;
}

export async function benchAlloc(opts: BenchAllocOptions = {}): Promise<BenchAllocResult> {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? 0;
  const config = resolveConfig({ method: "alma", env: "savethecity", scenario: "2-5a_2-5b", seed });
  const envs = Array.from({ length: 8 }, (_, k) =>
    makeEnv("savethecity", { scenario: "2-5a_2-5b", seed: seed + k }),
  );
  const info = envs[0].info;
  const alloc = new AlmaAllocator(info, config);
  const learner = new QLearner(config, info);
  let decideMs = 0;
  let decideCalls = 0;
  let decideEnvs = 0;
  const timedAllocator = {
    name: alloc.name,
    async decide(ctx: DecisionContext, out: Int32Array) {
      const t0 = performance.now();
      await alloc.decide(ctx, out);
      decideMs += performance.now() - t0;
      decideCalls++;
      decideEnvs += ctx.which.length;
    },
  };
  const runner = new ParallelRunner(
    {
      envs,
      allocator: timedAllocator,
      actionLength: config.hierAgent.actionLength,
      maskSubtaskActions: false,
      seed,
    },
    learner,
  );
  const buffer = new EpisodeReplayBuffer(info, { capacity: 1000, maxTrajLen: 64 });
  let tEnv = 0;
  const collect = async () => {
    let steps = 0;
    const t0 = performance.now();
    const res = await runner.run({ testMode: false, tEnv, epsilon: 1, onStep: () => void steps++ });
    const ms = performance.now() - t0;
    for (const ep of res.episodes) buffer.insert(ep);
    tEnv += res.steps;
    return { steps, ms };
  };

  // Acting: compile every bucket size and agent count, one warm-up run, then timed runs.
  const tWarm = performance.now();
  alloc.warmup();
  log(`acting programs compiled in ${((performance.now() - tWarm) / 1000).toFixed(1)} s`);
  await collect();
  decideMs = 0;
  decideCalls = 0;
  decideEnvs = 0;
  let steps = 0;
  let ms = 0;
  const actRuns = opts.actRuns ?? 6;
  for (let r = 0; r < actRuns; r++) {
    const c = await collect();
    steps += c.steps;
    ms += c.ms;
  }
  const act = {
    allocationActMs: ms / steps,
    allocationDecideMsPerStep: decideMs / steps,
    decideCallMs: decideMs / decideCalls,
    envsPerDecideCall: decideEnvs / decideCalls,
    stepsWithDecision: decideCalls / steps,
  };
  log(`acting: ${JSON.stringify(act)}`);
  while (buffer.size < 32) await collect();

  // Training at max_bs = 400, 32 proposals.
  const rng = new Rng(seed + 1);
  const iterations = opts.iterations ?? 5;
  const times: number[] = [];
  let compileSeconds = 0;
  let decisionPoints = 0;
  for (let it = -1; it < iterations; it++) {
    const batch = buffer.sample(32, rng);
    const t0 = performance.now();
    const m = await alloc.train(batch, { tEnv, episode: 32 });
    const s = (performance.now() - t0) / 1000;
    if (it < 0) compileSeconds = s;
    else times.push(s);
    decisionPoints = m["alloc/n_decisions"];
    log(
      `train iteration ${it}: ${s.toFixed(3)} s (${m["alloc/n_decisions"]} of ${m["alloc/n_decisions_found"]} decision points)`,
    );
  }
  times.sort((a, b) => a - b);
  alloc.dispose();
  learner.dispose();
  return {
    allocationSecondsPerIteration: times[Math.floor(times.length / 2)],
    ...act,
    compileSeconds,
    decisionPoints,
    threads: engineThreads(),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const r = await benchAlloc({
    iterations: arg("--iterations"),
    actRuns: arg("--episodes"),
    log: (m) => console.error(m),
  });
  console.log(JSON.stringify({ bench: "alloc", ...r }));
}
