/**
 * `alma eval --diagnose`: what the greedy agents do with their allocation, as fractions over all
 * agent-steps of living agents. `actionStatsFor` picks the environment's version. The training
 * loop records the same numbers at every greedy test phase, so their curves sit beside the return.
 *
 * SaveTheCity (`SaveTheCityActionStats`): a poor SaveTheCity policy raises two questions, whether
 * agents walk to the building they are allocated to and whether they work on it or on another
 * one (an agent masked to its subtask does not see the other buildings, yet SaveTheCity offers
 * fight/build/freeze next to any building: no subtask action masking, spec algorithm.md §5).
 *
 * - `diag/stay`, `diag/move`: stay, and moves (1 or 2 cells);
 * - `diag/interact_own`, `diag/interact_other`, `diag/interact_unallocated`: fight/build/freeze
 *   on the agent's allocated building, on another one, or without an allocation;
 * - `diag/moves_closer`, `diag/moves_further`: of the moves of allocated agents, those that
 *   shorten / lengthen the Manhattan distance to the allocated building (a policy that ignores
 *   the building scores about half each; the scripted policy ~1 / 0).
 *
 * Battle (`BattleActionStats`): `diag/stop`, `diag/move`, `diag/target` (attack or heal), and
 * `diag/moves_closer` / `diag/moves_further`: moves that bring the agent nearer to / farther from
 * the centre of the living units of the enemy army it is allocated to (Euclidean).
 */
import { BattleAction, BattleEnv, MOVE_AMOUNT } from "../envs/battle/env.js";
import { ACT_FIGHT, ACT_STAY, MOVE_DX, MOVE_DY, SaveTheCity } from "../envs/savethecity/index.js";
import type { CompositeEnv } from "../envs/types.js";
import type { ActingBatch } from "../runners/acting.js";

/** Diagnostics collected through the runner's `onStep` hook. */
export interface ActionStats {
  readonly onStep: (batch: ActingBatch, actions: Int32Array) => void;
  summary(): Record<string, number>;
}

/** The diagnostics for these environments, or null where none exist (not SaveTheCity / battle). */
export function actionStatsIfSupported(envs: readonly CompositeEnv[]): ActionStats | null {
  if (envs.every((e) => e instanceof SaveTheCity)) return new SaveTheCityActionStats(envs);
  if (envs.every((e) => e instanceof BattleEnv)) return new BattleActionStats(envs);
  return null;
}

/** The diagnostics for these environments (SaveTheCity or battle). */
export function actionStatsFor(envs: readonly CompositeEnv[]): ActionStats {
  const stats = actionStatsIfSupported(envs);
  if (!stats) throw new Error("--diagnose is implemented for SaveTheCity and battle");
  return stats;
}

const fraction = (n: number, d: number) => (d > 0 ? n / d : Number.NaN);

/** Moves of allocated agents, by whether they shorten or lengthen the distance to their target. */
class MoveTally {
  private closer = 0;
  private further = 0;
  private moves = 0;

  add(before: number, after: number): void {
    this.moves++;
    if (after < before) this.closer++;
    else if (after > before) this.further++;
  }

  summary(): Record<string, number> {
    return {
      "diag/moves_closer": fraction(this.closer, this.moves),
      "diag/moves_further": fraction(this.further, this.moves),
    };
  }
}

export class SaveTheCityActionStats implements ActionStats {
  private stay = 0;
  private move = 0;
  private own = 0;
  private other = 0;
  private unallocated = 0;
  private readonly moves = new MoveTally();

  constructor(private readonly envs: readonly CompositeEnv[]) {
    if (!envs.every((e) => e instanceof SaveTheCity))
      throw new Error("--diagnose is implemented for SaveTheCity only");
  }

  /** The runner's `onStep` hook: called with the actions chosen for every active row. */
  readonly onStep = (batch: ActingBatch, actions: Int32Array): void => {
    const { nAgents: na, nActions: A } = batch.info;
    for (let e = 0; e < batch.size; e++) {
      const env = this.envs[e] as SaveTheCity;
      // The row after the last step only carries the dummy action of §2.2: skip it.
      if (!batch.active[e] || env.episodeDone) continue;
      const st = env.getState();
      st.agents.forEach((agent, i) => {
        const a = actions[e * na + i];
        const k = batch.allocation[e * na + i];
        if (a === ACT_STAY) {
          this.stay++;
        } else if (a < ACT_FIGHT) {
          this.move++;
          const target = k >= 0 ? st.buildings[k] : undefined;
          if (!target) return;
          const d = (x: number, y: number) => Math.abs(target.x - x) + Math.abs(target.y - y);
          this.moves.add(d(agent.x, agent.y), d(agent.x + MOVE_DX[a], agent.y + MOVE_DY[a]));
        } else if (k < 0) {
          this.unallocated++;
        } else if (batch.availActions[(e * na + i) * A + a] - 2 === k) {
          this.own++;
        } else {
          this.other++;
        }
      });
    }
  };

  summary(): Record<string, number> {
    const steps = this.stay + this.move + this.own + this.other + this.unallocated;
    return {
      "diag/agent_steps": steps,
      "diag/stay": fraction(this.stay, steps),
      "diag/move": fraction(this.move, steps),
      "diag/interact_own": fraction(this.own, steps),
      "diag/interact_other": fraction(this.other, steps),
      "diag/interact_unallocated": fraction(this.unallocated, steps),
      ...this.moves.summary(),
    };
  }
}

/** dx, dy of battle actions (only the four moves are non-zero; spec §3.10: N, S, E, W). */
const BATTLE_DX = [0, 0, 0, 0, MOVE_AMOUNT, -MOVE_AMOUNT];
const BATTLE_DY = [0, 0, MOVE_AMOUNT, -MOVE_AMOUNT, 0, 0];

export class BattleActionStats implements ActionStats {
  private stop = 0;
  private move = 0;
  private target = 0;
  private readonly moves = new MoveTally();

  constructor(private readonly envs: readonly CompositeEnv[]) {
    if (!envs.every((e) => e instanceof BattleEnv))
      throw new Error("BattleActionStats needs battle environments");
  }

  readonly onStep = (batch: ActingBatch, actions: Int32Array): void => {
    const na = batch.info.nAgents;
    for (let e = 0; e < batch.size; e++) {
      if (!batch.active[e]) continue;
      const env = this.envs[e] as BattleEnv;
      if (env.terminated) continue; // the dummy action of the final row (§2.2)
      const sim = env.sim;
      for (let i = 0; i < env.nAgents; i++) {
        if (sim.alive[i] === 0) continue;
        const a = actions[e * na + i];
        if (a >= BattleAction.TargetBase) {
          this.target++;
        } else if (a >= BattleAction.MoveNorth) {
          this.move++;
          const k = batch.allocation[e * na + i];
          let cx = 0;
          let cy = 0;
          let n = 0;
          for (let u = 0; u < env.nEnemies; u++) {
            const slot = na + u;
            if (env.enemyArmy[u] !== k || sim.alive[slot] === 0) continue;
            cx += sim.x[slot];
            cy += sim.y[slot];
            n++;
          }
          if (k < 0 || n === 0) continue;
          cx /= n;
          cy /= n;
          const d = (x: number, y: number) => Math.hypot(x - cx, y - cy);
          this.moves.add(
            d(sim.x[i], sim.y[i]),
            d(sim.x[i] + BATTLE_DX[a], sim.y[i] + BATTLE_DY[a]),
          );
        } else {
          this.stop++;
        }
      }
    }
  };

  summary(): Record<string, number> {
    const steps = this.stop + this.move + this.target;
    return {
      "diag/agent_steps": steps,
      "diag/stop": fraction(this.stop, steps),
      "diag/move": fraction(this.move, steps),
      "diag/target": fraction(this.target, steps),
      ...this.moves.summary(),
    };
  }
}
