/**
 * `alma train`, `alma resume`, `alma eval`: thin wrappers that resolve the configuration, build
 * the learner and hand over to the training loop (src/run/train.ts) or an evaluation pass.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { configFromJSON, resolveConfig, withSets } from "../config/resolve.js";
import type { AlmaConfig } from "../config/schema.js";
import { makeEnv } from "../envs/registry.js";
import { Rng } from "../envs/rng.js";
import { createLearner } from "../learners/factory.js";
import {
  checkpointDir,
  listCheckpoints,
  loadCheckpoint,
  selectCheckpoint,
} from "../run/checkpoint.js";
import { actionStatsFor } from "../run/diagnose.js";
import { ReplayRecorder, writeReplay } from "../run/replay.js";
import { UtilityTrace } from "../run/trace.js";
import { envOptionsFor, makeAllocatorFor, successKey, summarise, train } from "../run/train.js";
import type { ActingBatch } from "../runners/acting.js";
import { type EpisodeSummary, ParallelRunner } from "../runners/runner.js";
import { writeFileAtomic } from "../util/fs.js";

export interface TrainCliOptions {
  env: string;
  method: string;
  scenario?: string;
  scale: string;
  steps?: number;
  seed: number;
  out?: string;
  set: string[];
}

export function defaultRunDir(config: AlmaConfig): string {
  return join("runs", `${config.env.name}-${config.env.scenario}-${config.method}-s${config.seed}`);
}

export async function trainCommand(o: TrainCliOptions): Promise<void> {
  const config = resolveConfig({
    env: o.env,
    method: o.method,
    scenario: o.scenario,
    scale: o.scale,
    seed: o.seed,
    steps: o.steps,
    sets: o.set,
  });
  const outDir = o.out ?? defaultRunDir(config);
  process.stderr.write(
    `alma train: ${config.method} on ${config.env.name} ${config.env.scenario}, ${config.run.tMax.toLocaleString("en-US")} env steps → ${outDir}\n`,
  );
  const result = await train({ outDir, config, makeLearner: createLearner });
  printFinal(outDir, config, result.lastTest);
}

export async function resumeCommand(runDir: string, steps?: number): Promise<void> {
  const ck = listCheckpoints(runDir, "resumable");
  process.stderr.write(
    `alma resume: ${runDir} from t_env ${ck.at(-1)?.toLocaleString("en-US") ?? "?"}${steps === undefined ? "" : ` to ${steps.toLocaleString("en-US")} env steps`}\n`,
  );
  const result = await train({ outDir: runDir, makeLearner: createLearner, extendTo: steps });
  const config = configFromJSON(readFileSync(join(runDir, "config.json"), "utf8"));
  printFinal(runDir, config, result.lastTest);
}

function printFinal(
  outDir: string,
  config: AlmaConfig,
  lastTest: Record<string, number> | null,
): void {
  if (!lastTest) return;
  const success = lastTest[`eval_env_metrics/${successKey(config.env.name)}_mean`];
  process.stdout.write(
    `final greedy test: success ${(100 * success).toFixed(1)}%, return ${lastTest["eval_env_metrics/return_mean"].toFixed(2)} (metrics: ${join(outDir, "metrics.jsonl")})\n`,
  );
}

export interface EvalCliOptions {
  run: string;
  episodes: number;
  json: boolean;
  record: number;
  /** Which checkpoint: `latest` (default), `best` (by greedy test success, §15.3) or a t_env. */
  checkpoint?: string;
  actorsFrom?: string;
  seed?: number;
  /** Config overrides for evaluation only (e.g. `env.battle.spreadArmies=false`). */
  set?: string[];
  /** Write one JSON line per episode, `{return, length, stats}`, to this file (JSONL). */
  episodesOut?: string;
  /** Print the first environment's first N rows with every agent's utilities (stderr with --json). */
  trace?: number;
  /** What agents do with their allocation (`diag/*`, see src/run/diagnose.ts). */
  diagnose?: boolean;
}

/** One line of `alma eval --episodes-out`: an evaluated episode. */
export interface EvalEpisode {
  return: number;
  length: number;
  /** The environment's terminal statistics plus `ep_length` (battle: `battle_won`, `spread`, ...). */
  stats: Record<string, number>;
}

/**
 * Greedy evaluation of one of a run's checkpoints (latest by default; spec §15.3), optionally
 * recording replays.
 */
export async function evalCommand(o: EvalCliOptions): Promise<Record<string, number>> {
  const configPath = join(o.run, "config.json");
  if (!existsSync(configPath)) throw new Error(`${o.run} is not a run directory (no config.json)`);
  const config = withSets(
    configFromJSON(readFileSync(configPath, "utf8"), configPath),
    o.set ?? [],
  );
  const ck = loadCheckpoint(
    checkpointDir(o.run, selectCheckpoint(o.run, o.checkpoint ?? "latest")),
  );
  const seed = o.seed ?? config.seed + 100_003;
  const envs = Array.from({ length: config.run.batchSizeRun }, (_, k) =>
    makeEnv(config.env.name, {
      scenario: config.env.scenario,
      seed: seed + k,
      extra: envOptionsFor(config),
    }),
  );
  const learner = await createLearner(config, envs[0].info);
  learner.loadTensors(ck.tensors);
  if (o.actorsFrom) {
    const other = listCheckpoints(o.actorsFrom);
    if (other.length === 0) throw new Error(`--actors-from ${o.actorsFrom} has no checkpoint`);
    if (!learner.loadAgentTensors) throw new Error("this learner cannot swap its low-level actors");
    learner.loadAgentTensors(
      loadCheckpoint(checkpointDir(o.actorsFrom, other[other.length - 1])).tensors,
    );
  }
  const allocator = makeAllocatorFor(config, learner, new Rng(seed + 1), envs[0].info.nTasks);
  const out = (text: string) => (o.json ? process.stderr : process.stdout).write(text);
  const trace = o.trace ? new UtilityTrace(learner, envs[0], o.trace, out) : null;
  const diag = o.diagnose ? actionStatsFor(envs) : null;
  const onStep =
    trace || diag
      ? (b: ActingBatch, actions: Int32Array) => {
          trace?.onStep(b, actions);
          diag?.onStep(b, actions);
        }
      : undefined;
  const runner = new ParallelRunner(
    {
      envs,
      allocator,
      actionLength: config.hierAgent.actionLength,
      maskSubtaskActions: config.exploration.maskSubtaskActions,
      seed,
    },
    trace ?? learner,
  );
  const recorder =
    o.record > 0
      ? new ReplayRecorder(o.record, `${config.method} ${config.env.scenario} t_env ${ck.tEnv}`)
      : null;
  const summaries: EpisodeSummary[] = [];
  const nRuns = Math.max(1, Math.ceil(o.episodes / envs.length));
  for (let k = 0; k < nRuns; k++) {
    const res = await runner.run({
      testMode: true,
      tEnv: ck.tEnv,
      epsilon: 0,
      onTransition: recorder?.onTransition,
      onStep,
    });
    summaries.push(...res.summaries);
  }
  learner.dispose();
  const episodes = summaries.slice(0, Math.max(o.episodes, 1));
  const stats = summarise("eval_env_metrics", episodes);
  if (o.episodesOut) {
    const lines = episodes.map((e) =>
      JSON.stringify({ return: e.return, length: e.length, stats: e.stats } satisfies EvalEpisode),
    );
    writeFileAtomic(o.episodesOut, `${lines.join("\n")}\n`);
  }
  const result = {
    t_env: ck.tEnv,
    "test/success": stats[`eval_env_metrics/${successKey(config.env.name)}_mean`],
    ...stats,
    ...diag?.summary(),
  };
  if (recorder) {
    for (const [i, r] of recorder.done.entries()) {
      writeReplay(
        join(o.run, "replays", `episode-${String(i).padStart(3, "0")}.replay.json.gz`),
        r,
      );
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `${o.run} @ t_env ${ck.tEnv.toLocaleString("en-US")}: ${stats["eval_env_metrics/episodes"]} greedy episodes, success ${(100 * result["test/success"]).toFixed(1)}%, return ${stats["eval_env_metrics/return_mean"].toFixed(2)} ± ${stats["eval_env_metrics/return_std"].toFixed(2)}\n`,
    );
    if (diag) {
      // One line: every `diag/*` share as a percentage (see src/run/diagnose.ts).
      const parts = Object.entries(result)
        .filter(([k]) => k.startsWith("diag/") && k !== "diag/agent_steps")
        .map(([k, v]) => `${k.slice(5).replaceAll("_", " ")} ${(100 * v).toFixed(1)}%`);
      process.stdout.write(`agent-steps: ${parts.join(", ")}\n`);
    }
    if (recorder)
      process.stdout.write(
        `recorded ${recorder.done.length} replays under ${join(o.run, "replays")} (view with: alma view ${o.run})\n`,
      );
  }
  return result;
}
