/**
 * Whole-training-loop benchmark (issues 3 and 4, "Targets"): the §15.1 collection-plus-updates
 * step that `alma train` repeats (`collectAndTrain` in src/run/train.ts, the same function), on
 * SaveTheCity `2-5a_2-5b` at the paper's settings: 8 parallel environments, 8 training
 * iterations per collection, 32 windows × 64 rows per batch, a 5000-episode replay buffer.
 *
 * Phases:
 * 1. fill: collect with ε = 1 and no training until the buffer can sample a batch, or, with
 *    `fullBuffer`, until it holds `buffer.bufferSize` episodes (timed and reported);
 * 2. warm-up: `warmup` collections with training (the first compiles the training programs);
 * 3. timed: `collections` collections with training. `loopStepsPerSec` = env steps collected in
 *    this phase / its wall time, i.e. what `alma train` achieves once training runs (test phases,
 *    logging and checkpoints excluded).
 *
 * Memory: `rssMiB` is the largest resident set size sampled during the timed phase (every 50 ms
 * when the event loop is free, and after every collection); `peakDeviceMiB` the largest total of
 * live jax-js device buffers in that phase (the learner's parameters, optimiser state, targets
 * and each step's transients).
 *
 * Run directly for JSON: `node dist/bench/loop.js [--method aqmix|alma|...] [--collections N]
 * [--warmup N] [--full-buffer] [--seed N] [--set key=value ...]`.
 */
import { pathToFileURL } from "node:url";
import { resolveConfig } from "../src/config/resolve.js";
import { createLearner } from "../src/learners/factory.js";
import { engineThreads, trackLiveBuffers } from "../src/nn/engine.js";
import { type CollectResult, collectAndTrain, makeEnvs, makeLoopParts } from "../src/run/train.js";

export interface BenchLoopOptions {
  /** Method preset (default `aqmix`). */
  method?: string;
  /** SaveTheCity scenario family (default `2-5a_2-5b`). */
  scenario?: string;
  /** Timed collections, each followed by `run.trainingIters` gradient steps (default 3). */
  collections?: number;
  /** Untimed collections with training before the timed ones (default 1; compiles). */
  warmup?: number;
  /** Fill the replay buffer to `buffer.bufferSize` episodes before timing (default false). */
  fullBuffer?: boolean;
  seed?: number;
  /** Extra config overrides (`key=value`, as `alma train --set`). */
  sets?: string[];
  /** Progress lines (phases, every timed collection). */
  onProgress?: (line: string) => void;
}

export interface BenchLoopResult {
  method: string;
  scenario: string;
  /** Env steps per second of wall time over the timed collections (acting + training). */
  loopStepsPerSec: number;
  /** Env steps collected in the timed collections. */
  envStepsTimed: number;
  collections: number;
  secondsPerCollection: number;
  /** Mean wall time of one training iteration: low-level step plus allocator step (if any). */
  learnerSecondsPerIteration: number;
  /** Mean wall time of one low-level gradient step (§11), batch sampling included. */
  lowLevelSecondsPerIteration: number;
  /** Mean wall time of one allocator step (§12), batch sampling included; absent without one. */
  allocSecondsPerIteration?: number;
  /** Gradient iterations in the timed collections. */
  iterationsTimed: number;
  /** Mean wall time of collecting one batch of episodes (acting + env steps + recording). */
  actingSecondsPerCollection: number;
  /** Env steps per second of acting alone. */
  actingStepsPerSec: number;
  /** Episodes collected (ε = 1, no training) before the warm-up, and how long that took. */
  fillEpisodes: number;
  fillSeconds: number;
  fullBuffer: boolean;
  /** Warm-up collections with training (the first compiles the training programs), seconds. */
  warmupSeconds: number;
  /** Episodes in the replay buffer after the timed collections. */
  bufferEpisodes: number;
  /** The replay buffer's size (compact data + estimated object overhead), MiB. */
  bufferMiB: number;
  /** Largest resident set size sampled during the timed collections, MiB. */
  rssMiB: number;
  /** Resident set size right after the timed collections, MiB. */
  rssMiBAfter: number;
  /** Largest resident set size of the whole process (fill and warm-up included), MiB. */
  maxRssMiBProcess: number;
  /** Largest total of live jax-js device buffers during the timed collections, MiB. */
  peakDeviceMiB: number;
  /** Wasm worker threads used by jax-js (0 = main thread only). */
  threads: number;
  /**
   * CPU time of this process during the timed collections / their wall time: about 1 + threads
   * when the machine is otherwise idle; much less means other processes competed for the cores.
   */
  cpuCoresUsed: number;
}

const MiB = 2 ** 20;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Run the loop benchmark (see the module comment). */
export async function benchLoop(opts: BenchLoopOptions = {}): Promise<BenchLoopResult> {
  const method = opts.method ?? "aqmix";
  const collections = opts.collections ?? 3;
  const warmup = opts.warmup ?? 1;
  const fullBuffer = opts.fullBuffer ?? false;
  const log = opts.onProgress ?? (() => {});
  if (!(Number.isInteger(collections) && collections >= 1))
    throw new RangeError(`benchLoop: collections must be a positive integer, got ${collections}`);
  if (!(Number.isInteger(warmup) && warmup >= 0))
    throw new RangeError(`benchLoop: warmup must be a non-negative integer, got ${warmup}`);
  const config = resolveConfig({
    env: "savethecity",
    method,
    scenario: opts.scenario ?? "2-5a_2-5b",
    scale: "paper",
    seed: opts.seed ?? 0,
    sets: opts.sets ?? [],
  });
  // Before the learner exists, so that its parameters and optimiser state are counted.
  const live = await trackLiveBuffers();
  const envs = makeEnvs(config);
  const learner = await createLearner(config, envs[0].info);
  const parts = makeLoopParts(config, envs, learner);
  const { buffer } = parts;
  let tEnv = 0;
  let episode = 0;
  const collect = async (train: boolean, epsilon?: number): Promise<CollectResult> => {
    const r = await collectAndTrain(parts, { tEnv, episode, train, epsilon });
    tEnv = r.tEnv;
    episode += config.run.batchSizeRun;
    return r;
  };

  try {
    // 1. Fill.
    const target = fullBuffer ? config.buffer.bufferSize : config.buffer.batchSize;
    log(`${method}: filling the replay buffer to ${target} episodes (ε = 1, no training)`);
    const tFill = performance.now();
    let nextReport = 500;
    while (buffer.size < target) {
      await collect(false, 1);
      if (buffer.size >= nextReport) {
        log(`  ${buffer.size} episodes, ${((performance.now() - tFill) / 1000).toFixed(0)} s`);
        nextReport += 500;
      }
    }
    const fillSeconds = (performance.now() - tFill) / 1000;
    const fillEpisodes = buffer.size;

    // 2. Warm-up (compiles the training programs).
    const tWarm = performance.now();
    for (let k = 0; k < warmup; k++) {
      const r = await collect(true);
      log(
        `  warm-up collection ${k + 1}/${warmup}: ${r.steps} steps, ${((performance.now() - tWarm) / 1000).toFixed(1)} s`,
      );
    }
    const warmupSeconds = (performance.now() - tWarm) / 1000;

    // 3. Timed collections.
    let rssMax = 0;
    const sampleRss = () => {
      rssMax = Math.max(rssMax, process.memoryUsage.rss());
    };
    const timer = setInterval(sampleRss, 50);
    timer.unref();
    live().resetPeak();
    const results: CollectResult[] = [];
    sampleRss();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      for (let k = 0; k < collections; k++) {
        const t1 = performance.now();
        const r = await collect(true);
        sampleRss();
        results.push(r);
        log(
          `  collection ${k + 1}/${collections}: ${r.steps} steps in ${((performance.now() - t1) / 1000).toFixed(1)} s (acting ${r.actingSeconds.toFixed(1)} s, ${r.lowLevelSeconds.length} iterations)`,
        );
      }
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rssMiBAfter = process.memoryUsage.rss() / MiB;
    const peakDeviceMiB = live().peakBytes / MiB;

    const steps = sum(results.map((r) => r.steps));
    const low = results.flatMap((r) => r.lowLevelSeconds);
    const alloc = results.flatMap((r) => r.allocSeconds);
    const acting = sum(results.map((r) => r.actingSeconds));
    if (low.length === 0) throw new Error("benchLoop: the timed collections did not train");
    const result: BenchLoopResult = {
      method: config.method,
      scenario: config.env.scenario,
      loopStepsPerSec: steps / seconds,
      envStepsTimed: steps,
      collections,
      secondsPerCollection: seconds / collections,
      learnerSecondsPerIteration: (sum(low) + sum(alloc)) / low.length,
      lowLevelSecondsPerIteration: sum(low) / low.length,
      iterationsTimed: low.length,
      actingSecondsPerCollection: acting / collections,
      actingStepsPerSec: steps / acting,
      fillEpisodes,
      fillSeconds,
      fullBuffer,
      warmupSeconds,
      bufferEpisodes: buffer.size,
      bufferMiB: buffer.memoryUsage().totalBytes / MiB,
      rssMiB: rssMax / MiB,
      rssMiBAfter,
      maxRssMiBProcess: process.resourceUsage().maxRSS / 1024,
      peakDeviceMiB,
      threads: engineThreads(),
      cpuCoresUsed: (cpu.user + cpu.system) / 1e6 / seconds,
    };
    if (alloc.length > 0) result.allocSecondsPerIteration = sum(alloc) / alloc.length;
    return result;
  } finally {
    learner.dispose();
  }
}

/** One human-readable line for a result. */
export function formatBenchLoop(r: BenchLoopResult): string {
  const alloc =
    r.allocSecondsPerIteration === undefined
      ? ""
      : ` (low level ${r.lowLevelSecondsPerIteration.toFixed(2)} s + allocator ${r.allocSecondsPerIteration.toFixed(2)} s)`;
  const fill = r.fullBuffer ? `, filled in ${r.fillSeconds.toFixed(0)} s` : "";
  return (
    `${r.method} loop (${r.scenario}): ${r.loopStepsPerSec.toFixed(1)} env steps/s over ${r.collections} collections ` +
    `(${r.secondsPerCollection.toFixed(1)} s each: acting ${r.actingSecondsPerCollection.toFixed(1)} s, ` +
    `training ${r.learnerSecondsPerIteration.toFixed(2)} s/iteration${alloc}); ` +
    `buffer ${r.bufferEpisodes} episodes = ${r.bufferMiB.toFixed(0)} MiB${fill}; ` +
    `RSS max ${r.rssMiB.toFixed(0)} MiB, after ${r.rssMiBAfter.toFixed(0)} MiB; peak device ${r.peakDeviceMiB.toFixed(0)} MiB; ` +
    `${r.cpuCoresUsed.toFixed(2)} CPU cores busy`
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sets = args.flatMap((a, i) => (a === "--set" && args[i + 1] ? [args[i + 1]] : []));
  const result = await benchLoop({
    method: get("--method"),
    collections: get("--collections") ? Number(get("--collections")) : undefined,
    warmup: get("--warmup") ? Number(get("--warmup")) : undefined,
    seed: get("--seed") ? Number(get("--seed")) : undefined,
    fullBuffer: args.includes("--full-buffer"),
    sets,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
