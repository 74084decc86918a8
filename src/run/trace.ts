/**
 * `alma eval --trace N`: what the agents believe, step by step. Wraps the learner's acting
 * forward and, for the first environment of the batch during its first N rows, writes the
 * environment's text frame and, per live agent, the allocation in force and the utility of every
 * available action (best first, the greedy pick marked). This is how a poor greedy policy is
 * taken apart: e.g. agents that prefer an interaction with a building outside their subtask to
 * walking to their own (spec algorithm.md §4.2: an agent masked to its subtask does not see it).
 */
import type { CompositeEnv } from "../envs/types.js";
import type { ActingBatch, UtilityFunction } from "../runners/acting.js";

/**
 * Pass it to the runner as the policy and its `onStep` as the run's `onStep` hook: the utilities
 * of the row are kept, then printed with the actions the runner actually chose (which, with
 * subtask action masking, is not always the best available one).
 */
export class UtilityTrace implements UtilityFunction {
  private row = 0;
  private last: Float32Array | null = null;

  constructor(
    private readonly inner: UtilityFunction,
    private readonly env: CompositeEnv,
    private readonly rows: number,
    private readonly write: (text: string) => void,
  ) {}

  async utilities(batch: ActingBatch): Promise<Float32Array> {
    const q = await this.inner.utilities(batch);
    this.last = q;
    return q;
  }

  readonly onStep = (batch: ActingBatch, actions: Int32Array): void => {
    if (this.row >= this.rows || batch.active[0] !== 1 || !this.last) return;
    this.write(this.describe(batch, this.last, actions));
    this.row++;
  };

  private describe(batch: ActingBatch, q: Float32Array, actions: Int32Array): string {
    const A = batch.info.nActions;
    const names = this.env.actionNames;
    const name = (a: number) => names[a] ?? `a${a}`;
    const lines = [`-- row ${this.row} (env time ${this.env.time})`, this.env.render()];
    for (let i = 0; i < this.env.nActiveAgents; i++) {
      const avail: number[] = [];
      for (let a = 0; a < A; a++) if (batch.availActions[i * A + a] > 0) avail.push(a);
      avail.sort((x, y) => q[i * A + y] - q[i * A + x]);
      const k = batch.allocation[i];
      const chosen = actions[i];
      // Codes other than 1 tie an action to a subtask (2 + k) or to an ally (1000 + j), §1.4.
      const tie = (code: number) =>
        code >= 1000 ? `[ally ${code - 1000}]` : code >= 2 ? `[subtask ${code - 2}]` : "";
      const parts = avail.map(
        (a) =>
          `${a === chosen ? "*" : ""}${name(a)}${tie(batch.availActions[i * A + a])} ${q[i * A + a].toFixed(2)}`,
      );
      lines.push(`  agent ${i} [${k >= 0 ? `subtask ${k}` : "unallocated"}]: ${parts.join("  ")}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
