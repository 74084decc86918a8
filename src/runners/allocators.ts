/**
 * High-level allocation controllers as the runner sees them (spec algorithm.md §9.2). The runner
 * decides *when* (decision points, §9.1); an allocator decides *what*: a subtask per agent for the
 * environments at a decision point. ALMA's learned allocator (AQL, §8) implements the same
 * interface.
 */
import type { Rng } from "../envs/rng.js";
import type { CompositeEnv } from "../envs/types.js";
import type { ActingBatch } from "./acting.js";

export interface DecisionContext {
  readonly envs: readonly CompositeEnv[];
  /** Batch rows (environment indices) at a decision point now. */
  readonly which: readonly number[];
  /** Current observations; `allocation` holds the previous allocation (-1 at episode start). */
  readonly batch: ActingBatch;
  readonly testMode: boolean;
  /** `t_env` at the start of this collection run (exploration schedules, §19.22). */
  readonly tEnv: number;
}

export interface Allocator {
  readonly name: string;
  /**
   * Write the new allocation of every environment in `ctx.which` into `out` ([B, Na], subtask per
   * agent, -1 for inactive agents). Rows of other environments must be left untouched.
   */
  decide(ctx: DecisionContext, out: Int32Array): void | Promise<void>;
}

/**
 * `heuristic` (§9.2): adopt the environment's heuristic allocation at decision points. The env
 * recomputes it every step, but it is only adopted here.
 */
export class HeuristicAllocator implements Allocator {
  readonly name = "heuristic";
  decide(ctx: DecisionContext, out: Int32Array): void {
    const na = ctx.batch.info.nAgents;
    for (const e of ctx.which) ctx.envs[e].heuristicAllocation(out.subarray(e * na, (e + 1) * na));
  }
}

/**
 * `random` / `random_fixed` (identical in the reference, §9.2): each active agent goes to a
 * uniformly random active subtask; inactive agents get nothing.
 */
export class RandomAllocator implements Allocator {
  readonly name = "random";
  private readonly active: Int32Array;
  constructor(
    private readonly rng: Rng,
    nTasks: number,
  ) {
    this.active = new Int32Array(nTasks);
  }
  decide(ctx: DecisionContext, out: Int32Array): void {
    const { nAgents: na, nEntities: ne, nTasks: nt } = ctx.batch.info;
    for (const e of ctx.which) {
      let n = 0;
      for (let k = 0; k < nt; k++) if (ctx.batch.taskMask[e * nt + k] === 0) this.active[n++] = k;
      for (let i = 0; i < na; i++) {
        const live = ctx.batch.entityMask[e * ne + i] === 0;
        out[e * na + i] = live && n > 0 ? this.active[this.rng.int(n)] : -1;
      }
    }
  }
}
