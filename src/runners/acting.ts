/**
 * The fixed-shape acting batch shared by the runner, the low-level policy and the allocators:
 * one row per parallel environment, always all of them (finished environments keep their last
 * observation), so a jitted forward sees one shape for the whole run (spec §15.2).
 */
import type { EnvInfo } from "../envs/types.js";

export interface ActingBatch {
  /** B: number of parallel environments. */
  readonly size: number;
  readonly info: EnvInfo;
  /** [B, Ne, De] entity features. */
  readonly entities: Float32Array;
  /** [B, Na] action each agent took at the previous row, -1 at an episode's first row (§4.1). */
  readonly lastActions: Int32Array;
  /** [B, Ne, Ne] 1 = cannot observe. */
  readonly obsMask: Uint8Array;
  /** [B, Ne] 1 = padding / inactive. */
  readonly entityMask: Uint8Array;
  /** [B, Ne, Nt] 0 = member; agent rows hold the allocation in force (§9.2). */
  readonly entity2taskMask: Uint8Array;
  /** [B, Nt] 1 = subtask inactive. */
  readonly taskMask: Uint8Array;
  /** [B, Na, A] available-action codes. */
  readonly availActions: Int32Array;
  /** [B, Na] allocated subtask per agent (-1 none), the allocation in force. */
  readonly allocation: Int32Array;
  /** [B] 1 while the environment's episode still needs actions (including its final row). */
  readonly active: Uint8Array;
}

export function allocActingBatch(info: EnvInfo, size: number): ActingBatch {
  const { nAgents: na, nEntities: ne, nTasks: nt, nActions: A, entityShape: de } = info;
  return {
    size,
    info,
    entities: new Float32Array(size * ne * de),
    lastActions: new Int32Array(size * na).fill(-1),
    obsMask: new Uint8Array(size * ne * ne),
    entityMask: new Uint8Array(size * ne),
    entity2taskMask: new Uint8Array(size * ne * nt),
    taskMask: new Uint8Array(size * nt),
    availActions: new Int32Array(size * na * A),
    allocation: new Int32Array(size * na).fill(-1),
    active: new Uint8Array(size),
  };
}

/** Write `1 − one_hot(allocation)` into the agent rows of one environment's entity2task mask (§9.2). */
export function writeAllocationRows(
  e2t: Uint8Array,
  allocation: ArrayLike<number>,
  nAgents: number,
  nTasks: number,
): void {
  for (let i = 0; i < nAgents; i++) {
    const k = allocation[i];
    e2t.fill(1, i * nTasks, (i + 1) * nTasks);
    if (k >= 0) e2t[i * nTasks + k] = 0;
  }
}

/**
 * The low-level policy as the runner sees it: utilities for every agent of every batch row,
 * [B, Na, A]. Implemented by the learner's acting network (jitted, fixed shape).
 */
export interface UtilityFunction {
  utilities(batch: ActingBatch): Float32Array | Promise<Float32Array>;
}
