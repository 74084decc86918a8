/**
 * The parallel runner (spec algorithm.md §15.2): B environments (8 by default) stepped in
 * lockstep, one batched utility forward per step, episodes recorded row by row for the replay
 * buffer, and the high-level decision timing of §9.1.
 *
 * Environments run in this thread: stepping SaveTheCity costs about a microsecond, so moving them
 * to worker threads would cost more in messaging than it saves (see `alma bench env`); the cost of
 * a step is the network forward, which is batched over all B environments.
 */
import { EpisodeBuilder } from "../buffer/builder.js";
import type { EpisodeRecord } from "../buffer/episode.js";
import { observeInto } from "../envs/observe.js";
import { Rng } from "../envs/rng.js";
import type { CompositeEnv, EnvMasks } from "../envs/types.js";
import {
  type ActingBatch,
  allocActingBatch,
  type UtilityFunction,
  writeAllocationRows,
} from "./acting.js";
import type { Allocator } from "./allocators.js";
import { selectActions } from "./select.js";

/**
 * A high-level controller as the runner drives it. `assignsSubtasks: false` marks one that only
 * uses the decision points and assigns nothing (COPA's coach without an allocator, §16): the
 * runner still takes decisions (§9.1), records `hier_decision` and writes its all-unallocated
 * allocation as all-ones agent rows of `entity2task_mask` (§9.2 step 2, §16.1), but there is no
 * allocation for subtask action masking (§5 step 2) or for replay transitions.
 */
export type RunnerAllocator = Allocator & { readonly assignsSubtasks?: boolean };

export interface RunnerOptions {
  /** One environment per batch row, all of the same family (same `info`). */
  envs: CompositeEnv[];
  /**
   * High-level controller (allocator and/or COPA coach), or null for flat methods (no decision
   * points, no allocation).
   */
  allocator: RunnerAllocator | null;
  /** Max env steps between decisions (`action_length`, §9.1). */
  actionLength: number;
  /** Subtask action masking of §5.2 (battle: true, SaveTheCity: false). */
  maskSubtaskActions: boolean;
  /** Seed of the runner's own generator (ε-greedy draws). */
  seed: number;
}

/** What one finished episode looked like (for metrics and logs). */
export interface EpisodeSummary {
  env: number;
  return: number;
  length: number;
  /** The environment's episode statistics (`solved`, `battle_won`, ...) plus `ep_length`. */
  stats: Record<string, number>;
  /** Number of high-level decisions taken. */
  decisions: number;
}

export interface RunResult {
  /** Recorded episodes (training mode only), in environment order. */
  episodes: EpisodeRecord[];
  summaries: EpisodeSummary[];
  /** Env steps taken by all environments together (what `t_env` advances by). */
  steps: number;
}

export interface RunOptions {
  testMode: boolean;
  /** `t_env` at the start of the run: stored as `t_added`, drives exploration schedules. */
  tEnv: number;
  /** Low-level ε (0 in test mode). */
  epsilon: number;
  /** Record episodes for the replay buffer (default: not in test mode). */
  record?: boolean;
  /** Called after every step with the batch (viewers, replay recorders). */
  onStep?: (batch: ActingBatch, actions: Int32Array) => void;
  /**
   * Called for one environment right after its reset (`step` = null) and after each of its steps,
   * with the environment in its new state (replay recorders).
   */
  onTransition?: (t: Transition) => void;
}

/** One environment's view of a step, for replay recorders. */
export interface Transition {
  /** Batch row. */
  readonly index: number;
  readonly env: CompositeEnv;
  /** Null right after reset. */
  readonly step: {
    readonly actions: Int32Array;
    readonly reward: number;
    readonly terminated: boolean;
    readonly stats: Readonly<Record<string, number>> | null;
  } | null;
  /** Allocation in force when the actions were taken (-1 none), and whether it was just decided. */
  readonly allocation: Int32Array | null;
  readonly decision: boolean;
}

export class ParallelRunner {
  readonly batch: ActingBatch;
  private readonly envs: CompositeEnv[];
  private readonly builders: EpisodeBuilder[];
  private readonly rng: Rng;
  private readonly actions: Int32Array;
  private readonly maskViews: EnvMasks[];

  constructor(
    private readonly options: RunnerOptions,
    private readonly policy: UtilityFunction,
  ) {
    const { envs } = options;
    if (envs.length < 1) throw new Error("ParallelRunner: need at least one environment");
    const info = envs[0].info;
    for (const env of envs) {
      if (JSON.stringify(env.info) !== JSON.stringify(info)) {
        throw new Error("ParallelRunner: all environments must share one EnvInfo (same family)");
      }
    }
    this.envs = envs;
    this.batch = allocActingBatch(info, envs.length);
    this.builders = envs.map(() => new EpisodeBuilder(info));
    this.rng = new Rng(options.seed);
    this.actions = new Int32Array(envs.length * info.nAgents);
    const { nEntities: ne, nTasks: nt } = info;
    this.maskViews = envs.map((_, e) => ({
      obsMask: this.batch.obsMask.subarray(e * ne * ne, (e + 1) * ne * ne),
      entityMask: this.batch.entityMask.subarray(e * ne, (e + 1) * ne),
      entity2taskMask: this.batch.entity2taskMask.subarray(e * ne * nt, (e + 1) * ne * nt),
      taskMask: this.batch.taskMask.subarray(e * nt, (e + 1) * nt),
    }));
  }

  get size(): number {
    return this.envs.length;
  }

  /** Generator state of the runner and its environments (checkpoints). */
  getRngState(): { runner: number[]; envs: (number[] | null)[] } {
    return { runner: this.rng.getState(), envs: this.envs.map((e) => e.getRngState?.() ?? null) };
  }

  setRngState(state: { runner: number[]; envs: (number[] | null)[] }): void {
    this.rng.setState(state.runner);
    state.envs.forEach((s, k) => {
      if (s && this.envs[k]?.setRngState) this.envs[k].setRngState!(s);
    });
  }

  /** Copy environment e's current observation into its batch row. */
  private observe(e: number): void {
    const { nAgents: na, nEntities: ne, nActions: A, entityShape: de } = this.batch.info;
    observeInto(this.envs[e], {
      entities: this.batch.entities.subarray(e * ne * de, (e + 1) * ne * de),
      availActions: this.batch.availActions.subarray(e * na * A, (e + 1) * na * A),
      masks: this.maskViews[e],
    });
  }

  private recordObservation(e: number): void {
    const { nAgents: na, nEntities: ne, nActions: A, entityShape: de } = this.batch.info;
    const mv = this.maskViews[e];
    this.builders[e].observeArrays({
      entities: this.batch.entities.subarray(e * ne * de, (e + 1) * ne * de),
      availActions: this.batch.availActions.subarray(e * na * A, (e + 1) * na * A),
      ...mv,
    });
  }

  /** Run one episode in every environment (§15.2) and return what happened. */
  async run(opts: RunOptions): Promise<RunResult> {
    const { allocator, actionLength, maskSubtaskActions } = this.options;
    // Whether an allocation exists for action masking and replays (not for a pure COPA coach).
    const allocates = allocator !== null && allocator.assignsSubtasks !== false;
    const record = opts.record ?? !opts.testMode;
    const B = this.envs.length;
    const { nAgents: na, nTasks: nt, nActions: A } = this.batch.info;
    const batch = this.batch;
    const timer = new Int32Array(B);
    const decideNext = new Uint8Array(B);
    const finalRow = new Uint8Array(B);
    const returns = new Float64Array(B);
    const decisions = new Int32Array(B);
    const summaries: (EpisodeSummary | null)[] = new Array(B).fill(null);
    const episodes: (EpisodeRecord | null)[] = new Array(B).fill(null);
    let steps = 0;

    for (let e = 0; e < B; e++) {
      this.envs[e].reset({ test: opts.testMode });
      if (record) this.builders[e].begin(opts.tEnv);
      this.observe(e);
      if (record) this.recordObservation(e);
      batch.active[e] = 1;
      batch.lastActions.fill(-1, e * na, (e + 1) * na);
      batch.allocation.fill(-1, e * na, (e + 1) * na);
      decideNext[e] = allocator ? 1 : 0; // row 0 is always a decision point (§9.1)
      opts.onTransition?.({
        index: e,
        env: this.envs[e],
        step: null,
        allocation: null,
        decision: false,
      });
    }
    const decidedNow = new Uint8Array(B);

    while (batch.active.some((x) => x === 1)) {
      // 1. High-level decisions for the environments at a decision point (§9.2 step 1).
      const which: number[] = [];
      for (let e = 0; e < B; e++)
        if (batch.active[e] && decideNext[e] && !finalRow[e]) which.push(e);
      if (allocator && which.length > 0) {
        await allocator.decide(
          { envs: this.envs, which, batch, testMode: opts.testMode, tEnv: opts.tEnv },
          batch.allocation,
        );
        for (const e of which) {
          decisions[e]++;
          timer[e] = 0;
          decidedNow[e] = 1;
        }
      }
      // 2. The allocation in force goes into the agent rows of every active env (§9.2 step 2).
      for (let e = 0; e < B; e++) {
        if (!batch.active[e]) continue;
        if (allocator) {
          const alloc = batch.allocation.subarray(e * na, (e + 1) * na);
          writeAllocationRows(this.maskViews[e].entity2taskMask, alloc, na, nt);
          if (record) {
            this.builders[e].setAllocation(alloc);
            if (!finalRow[e]) this.builders[e].setHierDecision(decideNext[e] === 1);
          }
        }
        decideNext[e] = 0;
      }
      // 3. Utilities for the whole (fixed-shape) batch, then ε-greedy for the active rows (§5).
      const q = await this.policy.utilities(batch);
      const epsilon = opts.testMode ? 0 : opts.epsilon;
      for (let e = 0; e < B; e++) {
        if (!batch.active[e]) continue;
        selectActions(
          q.subarray(e * na * A, (e + 1) * na * A),
          batch.availActions.subarray(e * na * A, (e + 1) * na * A),
          allocates ? batch.allocation.subarray(e * na, (e + 1) * na) : null,
          { nAgents: na, nActions: A, epsilon, maskSubtaskActions },
          this.rng,
          this.actions,
          e * na,
        );
      }
      opts.onStep?.(batch, this.actions);
      // 4. Step the environments; a finished one acted once on its final row and is dropped.
      for (let e = 0; e < B; e++) {
        if (!batch.active[e]) continue;
        const acts = this.actions.subarray(e * na, (e + 1) * na);
        if (record) this.builders[e].act(acts);
        if (finalRow[e]) {
          batch.active[e] = 0;
          if (record) episodes[e] = this.builders[e].finish();
          continue;
        }
        const env = this.envs[e];
        const res = env.step(acts);
        steps++;
        returns[e] += res.reward;
        timer[e]++;
        if (record) this.builders[e].step(res);
        const terminated = res.terminated;
        const tasksChanged = res.info.tasksChanged;
        const stats = res.info.stats;
        batch.lastActions.set(acts, e * na);
        this.observe(e);
        if (record) this.recordObservation(e);
        if (opts.onTransition) {
          opts.onTransition({
            index: e,
            env,
            step: { actions: acts, reward: res.reward, terminated, stats },
            allocation: allocates ? batch.allocation.subarray(e * na, (e + 1) * na) : null,
            decision: decidedNow[e] === 1,
          });
        }
        decidedNow[e] = 0;
        if (terminated) {
          finalRow[e] = 1;
          summaries[e] = {
            env: e,
            return: returns[e],
            length: env.time,
            stats: { ...(stats ?? {}), ep_length: env.time },
            decisions: decisions[e],
          };
        } else if (allocator && (timer[e] >= actionLength || tasksChanged)) {
          decideNext[e] = 1; // the next row is a decision point (§9.1)
        }
      }
    }
    return {
      episodes: episodes.filter((x): x is EpisodeRecord => x !== null),
      summaries: summaries.filter((x): x is EpisodeSummary => x !== null),
      steps,
    };
  }
}
