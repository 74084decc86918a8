/**
 * Low-level learner benchmark (issue 3, "Benchmark"): times one jitted low-level training
 * iteration (spec §11: live + target agent networks, live + target mixers, Pop-Art, clipping,
 * RMSProp) at the paper's shapes: 32 windows × 64 rows, SaveTheCity `2-5a_2-5b` (Na=5, Ne=11,
 * Nt=6, A=12, De=58), attention 128 wide / 4 heads, mixer 32 / hypernet 128.
 *
 * An iteration includes uploading a (synthetic, pre-generated) batch and waiting for the new
 * parameters, i.e. what the training loop pays per gradient step. The first call, which compiles
 * the program, is reported separately.
 *
 * Run directly for JSON:
 * `node dist/bench/learner.js [--iterations N] [--cond mask|none|full_obs] [--micro K]
 * [--shapes savethecity|battle]`.
 */
import { pathToFileURL } from "node:url";
import type { SubtaskCond } from "../src/nn/agent.js";
import {
  type Arr,
  engineRelaxedSimd,
  engineThreads,
  materialize,
  random,
  trackLiveBuffers,
  tree,
} from "../src/nn/engine.js";
import {
  defaultLowLevelConfig,
  initLowLevelState,
  type LowLevelConfig,
  type LowLevelDims,
  type LowLevelMicroTrainStepFn,
  lowLevelBatchToArrays,
  makeLowLevelMicroTrainStep,
  makeLowLevelTrainStep,
  splitLowLevelArrays,
} from "../src/nn/lowLevel.js";
import { syntheticLowLevelBatch } from "../src/nn/synthetic.js";

/** SaveTheCity `2-5a_2-5b` sizes (spec §2.1). */
export const SAVETHECITY_2_5_DIMS: LowLevelDims = {
  nAgents: 5,
  nEntities: 11,
  nTasks: 6,
  nActions: 12,
  entityShape: 58,
};

/** SaveTheCity-free battle shapes: S&Z `6-8sz_maxsize4_maxarmies3_*` (environments spec §3). */
export const BATTLE_SZ_DIMS: LowLevelDims = {
  nAgents: 8,
  nEntities: 16,
  nTasks: 3,
  nActions: 14,
  entityShape: 42,
};

/** Named benchmark shapes: SaveTheCity (A-QMIX/ALMA, no REFIL) or battle (REFIL, §7). */
export type BenchShapes = "savethecity" | "battle";

export interface BenchLearnerOptions {
  /** Timed iterations (default 5). */
  iterations?: number;
  /** Untimed iterations after the compiling first call (default 1). */
  warmup?: number;
  /** Windows per batch (default 32). */
  batchSize?: number;
  /** Rows per window, T+1 (default 64). */
  seqLength?: number;
  /** Low-level subtask conditioning: 'mask' = ALMA / heuristic (default), null = A-QMIX. */
  subtaskCond?: SubtaskCond;
  /**
   * Micro-batches for `makeLowLevelMicroTrainStep` (gradient accumulation, ~1/k peak memory);
   * 1 (default) = the single-program `makeLowLevelTrainStep`.
   */
  microBatches?: number;
  /**
   * `savethecity` (default): 2-5a_2-5b dims, no REFIL. `battle`: S&Z dims with REFIL's
   * imagined-group loss (`agent.imagine`, every battle method's algorithm config).
   */
  shapes?: BenchShapes;
  dims?: LowLevelDims;
  seed?: number;
  /** Called after every iteration with its duration in seconds. */
  onIteration?: (index: number, seconds: number) => void;
}

export interface BenchLearnerResult {
  /** Median wall time of one training iteration, seconds. */
  lowLevelSecondsPerIteration: number;
  /** Reference-formulation FLOPs per iteration / median time, in GFLOP/s (see `lowLevelFlops`). */
  lowLevelGflops: number;
  /** Reference-formulation FLOPs of one iteration, in GFLOP. */
  lowLevelGflopPerIteration: number;
  lowLevelSecondsMean: number;
  lowLevelSecondsMin: number;
  /** First call: tracing, compilation and one execution. */
  compileSeconds: number;
  iterations: number;
  batchSize: number;
  seqLength: number;
  subtaskCond: SubtaskCond;
  microBatches: number;
  shapes: BenchShapes;
  /** Peak bytes of live device buffers during one iteration, MiB. */
  peakDeviceMiB: number;
  /** Wasm worker threads used by jax-js (0 = main thread only). */
  threads: number;
  relaxedSimd: boolean;
  /** Resident set size after the run, MiB. */
  rssMiB: number;
}

/**
 * FLOPs of one low-level iteration counted the way the reference implementation computes it
 * (2 per multiply-add; Q/K/V for every entity; live networks forward + backward = 3× forward;
 * target networks forward only; agent networks on all B·(T+1) rows, mixers on B·T rows; REFIL
 * runs the live networks a second time on the imagined groups). Our
 * implementation executes fewer (e.g. queries only for agent rows), so this is an *effective*
 * rate comparable with the reference.
 */
export function lowLevelFlops(cfg: LowLevelConfig, B: number, T1: number): number {
  const a = cfg.agent;
  const m = cfg.mixer;
  const Na = a.nAgents;
  const Ne = a.nEntities;
  const E = a.attnEmbed;
  const attn = (din: number, e: number) => Ne * din * 3 * e + 2 * Na * Ne * e + Na * e * e;
  const agentRow =
    Ne * (a.entityShape + a.nActions) * E +
    attn(E, E) +
    Na * E * a.hiddenDim +
    Na * a.hiddenDim * a.nActions;
  const Eh = m.hypernetEmbed;
  const hyperRow = Ne * m.featureDim * Eh + attn(Eh, Eh) + Na * Eh * m.mixingEmbed;
  const mixerRow = 4 * hyperRow;
  const T = T1 - 1;
  const passes = (cfg.imagine ? 2 : 1) * 3 + 1;
  return 2 * (passes * B * T1 * agentRow + passes * B * T * mixerRow);
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const k = Math.floor(s.length / 2);
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}

/** Time the jitted low-level training step (see the module comment). */
export async function benchLearner(opts: BenchLearnerOptions = {}): Promise<BenchLearnerResult> {
  const iterations = opts.iterations ?? 5;
  const warmup = opts.warmup ?? 1;
  const B = opts.batchSize ?? 32;
  const T1 = opts.seqLength ?? 64;
  const shapes = opts.shapes ?? "savethecity";
  const dims = opts.dims ?? (shapes === "battle" ? BATTLE_SZ_DIMS : SAVETHECITY_2_5_DIMS);
  const cond: SubtaskCond = opts.subtaskCond === undefined ? "mask" : opts.subtaskCond;
  const seed = opts.seed ?? 0;
  const k = opts.microBatches ?? 1;
  const cfg = defaultLowLevelConfig(dims, cond, { imagine: shapes === "battle" });
  const step = k === 1 ? makeLowLevelTrainStep(cfg) : null;
  const microStep = k === 1 ? null : makeLowLevelMicroTrainStep(cfg);
  const live = await trackLiveBuffers();
  let state = initLowLevelState(random.key(seed), cfg);
  // A few different batches so that nothing can be cached across iterations.
  const batches = [0, 1, 2].map((i) => syntheticLowLevelBatch(dims, B, T1, seed * 1000 + i));

  const runOnce = async (i: number): Promise<number> => {
    const t0 = performance.now();
    const arrays = lowLevelBatchToArrays(batches[i % batches.length], dims);
    const [next, metrics] = step
      ? step(state, arrays, random.key(seed + 1 + i))
      : await (microStep as LowLevelMicroTrainStepFn)(
          state,
          splitLowLevelArrays(arrays, k),
          random.key(seed + 1 + i),
        );
    state = next;
    await materialize(state);
    const loss = (await (metrics.loss as Arr).ref.data())[0];
    tree.dispose(metrics);
    if (!Number.isFinite(loss)) throw new Error(`benchLearner: non-finite loss ${loss}`);
    return (performance.now() - t0) / 1000;
  };

  const compileSeconds = await runOnce(0);
  live().resetPeak();
  for (let i = 0; i < warmup; i++) await runOnce(1 + i);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const s = await runOnce(1 + warmup + i);
    times.push(s);
    opts.onIteration?.(i, s);
  }
  const peakDeviceMiB = live().peakBytes / 2 ** 20;
  tree.dispose(state);
  step?.dispose();
  microStep?.dispose();
  const sec = median(times);
  const gflop = lowLevelFlops(cfg, B, T1) / 1e9;
  return {
    lowLevelSecondsPerIteration: sec,
    lowLevelGflops: gflop / sec,
    lowLevelGflopPerIteration: gflop,
    lowLevelSecondsMean: times.reduce((x, y) => x + y, 0) / times.length,
    lowLevelSecondsMin: Math.min(...times),
    compileSeconds,
    iterations,
    batchSize: B,
    seqLength: T1,
    subtaskCond: cond,
    microBatches: k,
    shapes,
    peakDeviceMiB,
    threads: engineThreads(),
    relaxedSimd: engineRelaxedSimd(),
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const condArg = get("--cond");
  const result = await benchLearner({
    iterations: get("--iterations") ? Number(get("--iterations")) : undefined,
    microBatches: get("--micro") ? Number(get("--micro")) : undefined,
    shapes: get("--shapes") === "battle" ? "battle" : undefined,
    subtaskCond:
      condArg === undefined ? undefined : condArg === "none" ? null : (condArg as SubtaskCond),
    onIteration: (i, s) => process.stderr.write(`iteration ${i}: ${s.toFixed(3)} s\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
