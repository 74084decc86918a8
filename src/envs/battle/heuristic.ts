/**
 * Heuristic allocations of agents to enemy armies (spec: environments.md §3.18).
 *
 * A style is a dash-separated list of criteria compared in order (descending, ties -> lowest army
 * id): `attacking` (army is attacking), `type` (an unmatched enemy of the agent's type remains in
 * the army), `unassigned` (no agent assigned to the army yet), `diff` (army's enemies minus agents
 * assigned so far). The optional token `dynamic` skips dead units; neither published style has it,
 * so by default dead enemies and dead agents are counted and assigned (spec §7.7).
 *
 * Published styles: Matching = `type-unassigned-diff`, Dynamic = `attacking-type-unassigned-diff`.
 */

export const HEURISTIC_MATCHING = "type-unassigned-diff";
export const HEURISTIC_DYNAMIC = "attacking-type-unassigned-diff";

const CRITERIA = ["attacking", "type", "unassigned", "diff"] as const;
export type HeuristicCriterion = (typeof CRITERIA)[number];

export interface HeuristicStyle {
  readonly criteria: readonly HeuristicCriterion[];
  /** Skip dead units (`dynamic` token). */
  readonly skipDead: boolean;
}

export function parseHeuristicStyle(style: string): HeuristicStyle {
  const criteria: HeuristicCriterion[] = [];
  let skipDead = false;
  for (const token of style.split("-")) {
    if (token === "dynamic") skipDead = true;
    else if ((CRITERIA as readonly string[]).includes(token))
      criteria.push(token as HeuristicCriterion);
    else throw new RangeError(`unknown heuristic criterion "${token}" in style "${style}"`);
  }
  return { criteria, skipDead };
}

const ATTACKING = 0;
const TYPE = 1;
const UNASSIGNED = 2;
const DIFF = 3;

/** Everything the heuristic reads; arrays are indexed by agent / enemy / army index. */
export interface HeuristicInput {
  readonly nAgents: number;
  /** Type index of each agent (agent `*_RL` kinds map to their standard counterpart). */
  readonly agentType: ArrayLike<number>;
  readonly agentAlive: ArrayLike<number>;
  /** Per-episode random processing order of the agents (`shuffled_agent_ids`). */
  readonly agentOrder: ArrayLike<number>;
  readonly nEnemies: number;
  readonly enemyType: ArrayLike<number>;
  readonly enemyAlive: ArrayLike<number>;
  readonly enemyArmy: ArrayLike<number>;
  readonly nArmies: number;
  readonly armyAttacking: ArrayLike<number>;
  /** Current task vector: 1 if the army's task is complete (defeated / infiltrated). */
  readonly taskDone: ArrayLike<number>;
}

/** Allocation-free evaluator of one heuristic style. */
export class HeuristicAllocator {
  private readonly criteria: Int32Array;
  private readonly skipDead: boolean;
  private readonly pool: Int32Array;
  private readonly diff: Int32Array;
  private readonly count: Int32Array;
  private readonly keyBest: Int32Array;
  private readonly keyCandidate: Int32Array;

  constructor(
    style: string | HeuristicStyle,
    nTypes: number,
    private readonly maxArmies: number,
  ) {
    const parsed = typeof style === "string" ? parseHeuristicStyle(style) : style;
    this.criteria = Int32Array.from(parsed.criteria.map((c) => CRITERIA.indexOf(c)));
    this.skipDead = parsed.skipDead;
    this.pool = new Int32Array(Math.max(1, nTypes) * maxArmies);
    this.diff = new Int32Array(maxArmies);
    this.count = new Int32Array(maxArmies);
    this.keyBest = new Int32Array(this.criteria.length);
    this.keyCandidate = new Int32Array(this.criteria.length);
  }

  /**
   * Writes `out[agent]` = assigned army, or -1 (no candidate army, or skipped dead agent).
   * Only the first `input.nAgents` entries are written.
   */
  compute(input: HeuristicInput, out: Int32Array): void {
    const A = this.maxArmies;
    const pool = this.pool;
    const diff = this.diff;
    const count = this.count;
    pool.fill(0);
    diff.fill(0);
    count.fill(0);
    // 1. pool[type] holds one army id per (remaining) enemy of that type; diff = army sizes.
    for (let e = 0; e < input.nEnemies; e++) {
      if (this.skipDead && input.enemyAlive[e] === 0) continue;
      const army = input.enemyArmy[e];
      pool[input.enemyType[e] * A + army]++;
      diff[army]++;
    }
    for (let i = 0; i < input.nAgents; i++) out[input.agentOrder[i]] = -1;
    // 3. agents in shuffled order pick the best remaining army.
    for (let i = 0; i < input.nAgents; i++) {
      const agent = input.agentOrder[i];
      if (this.skipDead && input.agentAlive[agent] === 0) continue;
      const type = input.agentType[agent];
      let best = -1;
      for (let army = 0; army < input.nArmies; army++) {
        if (input.taskDone[army] !== 0) continue;
        this.fillKey(army, type, input, this.keyCandidate);
        if (best < 0 || this.greater(this.keyCandidate, this.keyBest)) {
          best = army;
          this.keyBest.set(this.keyCandidate);
        }
      }
      if (best < 0) continue;
      if (pool[type * A + best] > 0) pool[type * A + best]--;
      diff[best]--;
      count[best]++;
      out[agent] = best;
    }
  }

  private fillKey(army: number, type: number, input: HeuristicInput, key: Int32Array): void {
    for (let c = 0; c < this.criteria.length; c++) {
      switch (this.criteria[c]) {
        case ATTACKING:
          key[c] = input.armyAttacking[army] !== 0 ? 1 : 0;
          break;
        case TYPE:
          key[c] = this.pool[type * this.maxArmies + army] > 0 ? 1 : 0;
          break;
        case UNASSIGNED:
          key[c] = this.count[army] === 0 ? 1 : 0;
          break;
        case DIFF:
          key[c] = this.diff[army];
          break;
      }
    }
  }

  /** Strict lexicographic comparison (ties keep the earlier, lower army id). */
  private greater(a: Int32Array, b: Int32Array): boolean {
    for (let c = 0; c < a.length; c++) {
      if (a[c] !== b[c]) return a[c] > b[c];
    }
    return false;
  }
}
