/**
 * The training loop of spec §15.1, top to bottom: collect 8 episodes, store them, take
 * `training_iters` gradient steps (plus allocator steps for ALMA), test greedily every
 * `test_interval` env steps, log, checkpoint. Resumable from any checkpoint.
 *
 * Run directory layout:
 *   config.json        the resolved configuration (validated on resume)
 *   metrics.jsonl      one JSON object per log point (t_env + metric names)
 *   checkpoints/<t>/   state.json, tensors.bin (learner), replay.bin (replay buffer)
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recencyFilter } from "../buffer/recency.js";
import { EpisodeReplayBuffer } from "../buffer/replay.js";
import { deserializeReplayBuffer, serializeReplayBuffer } from "../buffer/serialize.js";
import { configFromJSON, configToJSON } from "../config/resolve.js";
import { epsilonAt, withRunLength } from "../config/schedule.js";
import type { AlmaConfig } from "../config/schema.js";
import { makeEnv } from "../envs/registry.js";
import { Rng } from "../envs/rng.js";
import type { CompositeEnv, EnvInfo } from "../envs/types.js";
import type { Learner } from "../learners/types.js";
import { writeMetricsCsv } from "../plot/export.js";
import { type Allocator, HeuristicAllocator, RandomAllocator } from "../runners/allocators.js";
import { type EpisodeSummary, ParallelRunner, type RunnerAllocator } from "../runners/runner.js";
import { writeFileAtomic } from "../util/fs.js";
import {
  listCheckpoints,
  loadLatestCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
} from "./checkpoint.js";
import { actionStatsIfSupported } from "./diagnose.js";
import { MetricsLog, meanStd } from "./metrics.js";
import { Progress } from "./progress.js";

/** Builds the learner for a configuration and environment sizes. */
export type LearnerFactory = (config: AlmaConfig, info: EnvInfo) => Promise<Learner>;

export interface TrainOptions {
  outDir: string;
  /** New run: its configuration. Resume: omit (read from `outDir/config.json`). */
  config?: AlmaConfig;
  makeLearner: LearnerFactory;
  /** Number of checkpoints to keep (each holds the replay buffer). */
  keepCheckpoints?: number;
  /** Progress output (default stderr); null silences it. */
  progress?: NodeJS.WriteStream | null;
  /** Stop (after a checkpoint) once this many env steps were collected in this invocation. */
  stopAfterSteps?: number;
  /**
   * Resume only: lengthen the run to this many env steps (above its `run.tMax`), keeping every
   * schedule where it was in env steps (`withRunLength`); config.json is rewritten.
   */
  extendTo?: number;
}

export interface TrainResult {
  tEnv: number;
  episode: number;
  lastTest: Record<string, number> | null;
}

/** Counters that make up the loop's state (§15.1). */
interface LoopCounters {
  tEnv: number;
  episode: number;
  lastTestT: number;
  lastLogT: number;
  lastRunnerLogT: number;
  lastLearnerLogT: number;
  modelSaveTime: number;
  startedAt: number;
  wallBefore: number;
}

/** The metric every environment reports success under (issue 3): `solved` or `battle_won`. */
export function successKey(envName: string): string {
  return envName === "battle" ? "battle_won" : "solved";
}

/** Mean (and std for returns) of episode statistics, under `prefix/`. */
export function summarise(
  prefix: string,
  summaries: readonly EpisodeSummary[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const returns = meanStd(summaries.map((s) => s.return));
  out[`${prefix}/return_mean`] = returns.mean;
  out[`${prefix}/return_std`] = returns.std;
  const keys = new Set(summaries.flatMap((s) => Object.keys(s.stats)));
  for (const k of keys)
    out[`${prefix}/${k}_mean`] = meanStd(summaries.map((s) => s.stats[k] ?? Number.NaN)).mean;
  out[`${prefix}/episodes`] = summaries.length;
  return out;
}

/** The environment's `extra` options from the config (config key names → env option names). */
export function envOptionsFor(config: AlmaConfig): Record<string, unknown> {
  if (config.env.name === "savethecity") return { ...config.env.savethecity };
  const { nExtraUnits, ...rest } = config.env.battle;
  return { ...rest, nExtraTags: nExtraUnits };
}

/** The `run.batchSizeRun` parallel training environments (seeds `seed`, `seed + 1`, …). */
export function makeEnvs(config: AlmaConfig): CompositeEnv[] {
  return Array.from({ length: config.run.batchSizeRun }, (_, k) =>
    makeEnv(config.env.name, {
      scenario: config.env.scenario,
      seed: config.seed + k,
      extra: envOptionsFor(config),
    }),
  );
}

/**
 * The high-level controller a method uses (§9.2): none, heuristic, random or the learned one;
 * with `hierAgent.copa` the learner's COPA coach, which takes its decisions at the same decision
 * points (§16) after the allocator, if any.
 */
export function makeAllocatorFor(
  config: AlmaConfig,
  learner: Learner,
  rng: Rng,
  nTasks: number,
): RunnerAllocator | null {
  const allocator = allocatorFor(config, learner, rng, nTasks);
  if (!config.hierAgent.copa) return allocator;
  // Duck-typed (QLearner.copaCoach, also behind HierarchicalLearner.low for COPA + aql) so that
  // this loop stays free of engine imports.
  type WithCoach = { copaCoach?: CopaController };
  const coach = (learner as WithCoach).copaCoach ?? (learner as { low?: WithCoach }).low?.copaCoach;
  if (!coach)
    throw new Error("method uses the COPA coach (hierAgent.copa) but the learner has none");
  return coach.withAllocator(allocator);
}

/** What the loop needs from a learner's COPA coach (`QLearner.copaCoach`, §16). */
interface CopaController extends RunnerAllocator {
  /** The coach driven after `allocator` at each decision point (the pure coach when null). */
  withAllocator(allocator: Allocator | null): RunnerAllocator;
}

function allocatorFor(
  config: AlmaConfig,
  learner: Learner,
  rng: Rng,
  nTasks: number,
): Allocator | null {
  switch (config.hierAgent.taskAllocation) {
    case "none":
      return null;
    case "heuristic":
      return new HeuristicAllocator();
    case "random":
    case "random_fixed":
      return new RandomAllocator(rng, nTasks);
    case "aql":
      if (!learner.allocator)
        throw new Error("method uses the learned allocator (aql) but the learner has none");
      return learner.allocator;
  }
}

/**
 * What one training collection works on: the learner, the parallel runner (with the method's
 * allocator), the replay buffer and the generators the loop owns and checkpoints.
 */
export interface LoopParts {
  readonly config: AlmaConfig;
  readonly learner: Learner;
  readonly runner: ParallelRunner;
  /** Replaced when a run resumes from a checkpoint. */
  buffer: EpisodeReplayBuffer;
  /** Draws the training batches (§10). */
  readonly sampleRng: Rng;
  /** Drives the random allocators (§9.2). */
  readonly allocRng: Rng;
}

/** Runner, allocator, empty replay buffer and generators for a learner, seeded from `config.seed`. */
export function makeLoopParts(
  config: AlmaConfig,
  envs: CompositeEnv[],
  learner: Learner,
): LoopParts {
  const info = envs[0].info;
  const allocRng = new Rng(config.seed * 7 + 3);
  const sampleRng = new Rng(config.seed * 7 + 5);
  const allocator = makeAllocatorFor(config, learner, allocRng, info.nTasks);
  const runner = new ParallelRunner(
    {
      envs,
      allocator,
      actionLength: config.hierAgent.actionLength,
      maskSubtaskActions: config.exploration.maskSubtaskActions,
      seed: config.seed * 7 + 1,
    },
    learner,
  );
  const buffer = new EpisodeReplayBuffer(info, {
    capacity: config.buffer.bufferSize,
    maxTrajLen: config.buffer.maxTrajLen,
  });
  return { config, learner, runner, buffer, sampleRng, allocRng };
}

export interface CollectOptions {
  /** `t_env` before this collection (stored as the episodes' `t_added`, drives schedules). */
  tEnv: number;
  /** Training episodes collected before this collection (`episode`, target updates, §14). */
  episode: number;
  /** Low-level ε; default the schedule's `epsilonAt(config, tEnv)`. */
  epsilon?: number;
  /** Take the gradient steps (default true); false only collects and stores (buffer filling). */
  train?: boolean;
}

export interface CollectResult {
  /** The ε the episodes were collected with. */
  epsilon: number;
  /** Env steps of this collection. */
  steps: number;
  /** `t_env` after the collection (`opts.tEnv + steps`). */
  tEnv: number;
  summaries: EpisodeSummary[];
  /** One record per gradient step: the low level's metrics merged with the allocator's. */
  learnerMetrics: Record<string, number>[];
  /** Wall time of the collection (acting and stepping the environments), seconds. */
  actingSeconds: number;
  /** Wall time of each low-level gradient step (§11), seconds (sampling the batch included). */
  lowLevelSeconds: number[];
  /** Wall time of each allocator step (§12) that ran, seconds (sampling included). */
  allocSeconds: number[];
}

/**
 * One iteration of the §15.1 loop's work: collect one batch of training episodes (§15.2), store
 * them, then — once the buffer can sample a batch — `run.trainingIters` gradient steps: the low
 * level, then the allocator on a separately sampled, recency-filtered batch when
 * `taskAllocation = aql`. Counters, tests, logs and checkpoints stay with the caller.
 */
export async function collectAndTrain(
  parts: LoopParts,
  opts: CollectOptions,
): Promise<CollectResult> {
  const { config, learner, runner, buffer, sampleRng } = parts;
  const epsilon = opts.epsilon ?? epsilonAt(config, opts.tEnv);
  const t0 = performance.now();
  const run = await runner.run({ testMode: false, tEnv: opts.tEnv, epsilon });
  const actingSeconds = (performance.now() - t0) / 1000;
  buffer.insertMany(run.episodes);
  const tEnv = opts.tEnv + run.steps;
  const learnerMetrics: Record<string, number>[] = [];
  const lowLevelSeconds: number[] = [];
  const allocSeconds: number[] = [];

  // Gradient steps (§15.1): low level, then the allocator on a separately sampled recent batch.
  if ((opts.train ?? true) && buffer.canSample(config.buffer.batchSize)) {
    for (let it = 0; it < config.run.trainingIters; it++) {
      const t1 = performance.now();
      const batch = buffer.sample(config.buffer.batchSize, sampleRng, { fixedLength: true });
      const m = await learner.train(batch, { tEnv, episode: opts.episode });
      const t2 = performance.now();
      lowLevelSeconds.push((t2 - t1) / 1000);
      if (learner.allocator && config.hierAgent.taskAllocation === "aql") {
        const filter = recencyFilter(tEnv, config.hierAgent.decayOld);
        if (buffer.canSample(config.buffer.batchSize, filter)) {
          const b2 = buffer.sample(config.buffer.batchSize, sampleRng, {
            fixedLength: true,
            filter,
          });
          Object.assign(m, await learner.allocator.train(b2, { tEnv, episode: opts.episode }));
          allocSeconds.push((performance.now() - t2) / 1000);
        }
      }
      learnerMetrics.push(m);
    }
  }
  return {
    epsilon,
    steps: run.steps,
    tEnv,
    summaries: run.summaries,
    learnerMetrics,
    actingSeconds,
    lowLevelSeconds,
    allocSeconds,
  };
}

/** Run (or resume) training in `opts.outDir`. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { outDir } = opts;
  const configPath = join(outDir, "config.json");
  const resuming = opts.config === undefined;
  let config: AlmaConfig;
  if (resuming) {
    if (!existsSync(configPath)) throw new Error(`cannot resume: ${configPath} does not exist`);
    config = configFromJSON(readFileSync(configPath, "utf8"), configPath);
    if (opts.extendTo !== undefined) {
      if (!Number.isInteger(opts.extendTo) || opts.extendTo <= config.run.tMax)
        throw new Error(
          `cannot extend ${outDir} to ${opts.extendTo} env steps: give an integer above the run's t_max (${config.run.tMax})`,
        );
      config = withRunLength(config, opts.extendTo);
    }
  } else {
    if (opts.extendTo !== undefined) throw new Error("extendTo applies only when resuming a run");
    config = opts.config!;
    if (existsSync(configPath) || listCheckpoints(outDir).length > 0) {
      throw new Error(
        `run directory ${outDir} already holds a run; continue it with 'alma resume --run ${outDir}' or choose another --out`,
      );
    }
  }

  const envs = makeEnvs(config);
  const info = envs[0].info;
  const learner = await opts.makeLearner(config, info);
  if (!resuming) {
    // Written only once everything could be built, so a bad configuration leaves no half-run behind.
    mkdirSync(outDir, { recursive: true });
    writeFileAtomic(configPath, configToJSON(config));
  } else if (opts.extendTo !== undefined) {
    writeFileAtomic(configPath, configToJSON(config));
  }
  const parts = makeLoopParts(config, envs, learner);
  const { runner, sampleRng, allocRng } = parts;
  const metrics = new MetricsLog(join(outDir, "metrics.jsonl"));
  const B = config.run.batchSizeRun;
  const c: LoopCounters = {
    tEnv: 0,
    episode: 0,
    lastTestT: -config.run.testInterval - 1,
    lastLogT: 0,
    lastRunnerLogT: 0,
    lastLearnerLogT: 0,
    modelSaveTime: 0,
    startedAt: Date.now(),
    wallBefore: 0,
  };
  let lastTest: Record<string, number> | null = null;

  if (resuming) {
    const ck = loadLatestCheckpoint(outDir);
    const s = ck.state as Record<string, unknown>;
    Object.assign(c, s["counters"] as LoopCounters);
    c.wallBefore = Number((s["counters"] as LoopCounters).wallBefore ?? 0);
    c.startedAt = Date.now();
    learner.loadTensors(ck.tensors);
    if (ck.blobs?.["replay"])
      parts.buffer = deserializeReplayBuffer(ck.blobs["replay"], `${outDir} checkpoint replay.bin`);
    const rng = s["rng"] as {
      sample: number[];
      alloc: number[];
      runner: { runner: number[]; envs: (number[] | null)[] };
    };
    sampleRng.setState(rng.sample);
    allocRng.setState(rng.alloc);
    runner.setRngState(rng.runner);
    lastTest = (s["lastTest"] as Record<string, number> | null) ?? null;
    metrics.truncateAfter(c.tEnv);
  }

  const progress =
    opts.progress === null ? null : new Progress(c.tEnv, opts.progress ?? process.stderr, 10_000);
  const startT = c.tEnv;
  const trainSummaries: EpisodeSummary[] = [];
  const learnerSums = new Map<string, { sum: number; n: number }>();
  const successName = `eval_env_metrics/${successKey(config.env.name)}_mean`;
  const wall = () => c.wallBefore + (Date.now() - c.startedAt) / 1000;

  const checkpoint = async () => {
    const tensors = await learner.saveTensors();
    saveCheckpoint(outDir, c.tEnv, {
      state: {
        counters: { ...c, wallBefore: wall() },
        rng: {
          sample: sampleRng.getState(),
          alloc: allocRng.getState(),
          runner: runner.getRngState(),
        },
        lastTest,
        config: JSON.parse(configToJSON(config)),
      },
      tensors,
      blobs: { replay: serializeReplayBuffer(parts.buffer) },
    });
    pruneCheckpoints(outDir, opts.keepCheckpoints ?? 2, config.run.modelSnapshotInterval);
    writeMetricsCsv(outDir); // the same log as a spreadsheet-friendly table
    c.modelSaveTime = c.tEnv;
  };

  // Ctrl-C / SIGTERM: finish the current collection and its updates, checkpoint, then stop, so
  // `alma resume` continues exactly where the run was interrupted.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130); // a second signal: stop now
    interrupted = true;
    process.stderr.write(
      "\nalma: stopping after this collection (checkpointing); press Ctrl-C again to abort\n",
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  while (c.tEnv <= config.run.tMax) {
    // Collect one batch of training episodes (§15.2), store it, take the gradient steps;
    // schedules use t_env from the run's start.
    const step = await collectAndTrain(parts, { tEnv: c.tEnv, episode: c.episode });
    const epsilon = step.epsilon;
    trainSummaries.push(...step.summaries);
    c.tEnv = step.tEnv;
    for (const m of step.learnerMetrics) {
      for (const [k, v] of Object.entries(m)) {
        const acc = learnerSums.get(k) ?? { sum: 0, n: 0 };
        acc.sum += v;
        acc.n++;
        learnerSums.set(k, acc);
      }
    }

    const record: Record<string, number> = {};
    // Greedy test phase (§15.3): not stored, does not advance t_env.
    if ((c.tEnv - c.lastTestT) / config.run.testInterval >= 1) {
      c.lastTestT = c.tEnv;
      const summaries: EpisodeSummary[] = [];
      const nRuns = Math.max(1, Math.floor(config.run.testNepisode / B));
      // What the greedy agents do with their allocation (`diag/*`, src/run/diagnose.ts).
      const diag = actionStatsIfSupported(envs);
      for (let k = 0; k < nRuns; k++)
        summaries.push(
          ...(await runner.run({ testMode: true, tEnv: c.tEnv, epsilon: 0, onStep: diag?.onStep }))
            .summaries,
        );
      lastTest = summarise("eval_env_metrics", summaries);
      Object.assign(record, lastTest, diag?.summary());
      record["test/success"] = lastTest[successName] ?? Number.NaN;
      record["test/return"] = lastTest["eval_env_metrics/return_mean"];
    }
    if (c.tEnv - c.lastRunnerLogT >= config.run.runnerLogInterval && trainSummaries.length > 0) {
      Object.assign(record, summarise("train_env_metrics", trainSummaries));
      record["annealing/epsilon"] = epsilon;
      trainSummaries.length = 0;
      c.lastRunnerLogT = c.tEnv;
    }
    if (c.tEnv - c.lastLearnerLogT >= config.run.learnerLogInterval && learnerSums.size > 0) {
      for (const [k, { sum, n }] of learnerSums) record[k] = sum / n;
      learnerSums.clear();
      c.lastLearnerLogT = c.tEnv;
    }
    c.episode += B;
    if (Object.keys(record).length > 0) {
      record["episode"] = c.episode;
      record["wall_s"] = wall();
      metrics.append({ t_env: c.tEnv, ...record });
    }
    const done =
      interrupted ||
      c.tEnv > config.run.tMax ||
      (opts.stopAfterSteps !== undefined && c.tEnv - startT >= opts.stopAfterSteps);
    if (
      config.run.saveModel &&
      (c.tEnv - c.modelSaveTime >= config.run.saveModelInterval || c.modelSaveTime === 0 || done)
    ) {
      await checkpoint();
    }
    progress?.update({
      tEnv: c.tEnv,
      tMax: config.run.tMax,
      episodes: c.episode,
      testSuccess: lastTest?.[successName],
      testReturn: lastTest?.["eval_env_metrics/return_mean"],
      epsilon,
    });
    if (done) break;
  }
  progress?.done({
    tEnv: c.tEnv,
    tMax: config.run.tMax,
    episodes: c.episode,
    testSuccess: lastTest?.[successName],
  });
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  learner.dispose();
  return { tEnv: c.tEnv, episode: c.episode, lastTest };
}
