/**
 * Low-level action selection (spec algorithm.md §5): ε-greedy over available actions, with the
 * subtask action masking of §1.4 / §5.2. Plain TypeScript over typed arrays: the network produces
 * the utilities, this module only chooses.
 */
import type { Rng } from "../envs/rng.js";
import { AVAIL_ALLY_BASE, AVAIL_FREE, AVAIL_TASK_BASE } from "../envs/types.js";

/**
 * The subtask an agent counts as allocated to for action masking. The reference takes
 * `argmax(one_hot_allocation)`, so an agent without an allocation (all-zero row) counts as
 * allocated to subtask 0; we reproduce that (such agents are inactive and only have action 0).
 */
export function maskingTask(allocation: ArrayLike<number>, agent: number): number {
  const k = allocation[agent];
  return Math.max(k, 0);
}

/**
 * Whether an available-action code counts as available (§5.2). Without subtask masking (or
 * without an allocation) any non-zero code is available; with it, only code 1, codes of the
 * agent's own subtask, and heals of allies allocated to the same subtask.
 */
export function isAvailable(
  code: number,
  agent: number,
  allocation: ArrayLike<number> | null,
  maskSubtaskActions: boolean,
): boolean {
  if (code === 0) return false;
  if (!maskSubtaskActions || allocation === null) return true;
  if (code === AVAIL_FREE) return true;
  const k = maskingTask(allocation, agent);
  if (code >= AVAIL_ALLY_BASE) return maskingTask(allocation, code - AVAIL_ALLY_BASE) === k;
  return code - AVAIL_TASK_BASE === k;
}

export interface SelectOptions {
  nAgents: number;
  nActions: number;
  /** Probability of a uniformly random available action, per agent (0 in test mode). */
  epsilon: number;
  maskSubtaskActions: boolean;
}

/**
 * ε-greedy for one environment row. `q` and `avail` are Na × A (row-major), `allocation` is the
 * subtask per agent (-1 none) or null for flat methods; writes Na actions into `out`. Greedy
 * ties go to the lowest action index. The exploration draw is `random < ε` (strict) per agent.
 */
export function selectActions(
  q: ArrayLike<number>,
  avail: ArrayLike<number>,
  allocation: ArrayLike<number> | null,
  options: SelectOptions,
  rng: Rng,
  out: Int32Array,
  outOffset = 0,
): void {
  const { nAgents: na, nActions: A, epsilon, maskSubtaskActions } = options;
  for (let i = 0; i < na; i++) {
    const row = i * A;
    let best = -1;
    let bestQ = -Infinity;
    let count = 0;
    for (let a = 0; a < A; a++) {
      if (!isAvailable(avail[row + a], i, allocation, maskSubtaskActions)) continue;
      count++;
      if (best < 0 || q[row + a] > bestQ) {
        best = a;
        bestQ = q[row + a];
      }
    }
    if (count === 0) {
      throw new Error(
        `agent ${i} has no available action after subtask masking (allocation ${allocation?.[i]})`,
      );
    }
    let chosen = best;
    if (epsilon > 0 && rng.random() < epsilon) {
      let pick = rng.int(count);
      for (let a = 0; a < A; a++) {
        if (isAvailable(avail[row + a], i, allocation, maskSubtaskActions) && pick-- === 0) {
          chosen = a;
          break;
        }
      }
    }
    out[outOffset + i] = chosen;
  }
}
