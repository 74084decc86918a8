/**
 * A scripted low-level SaveTheCity policy for demos and baselines (not part of the original):
 * every agent walks to the building it is allocated to and, once adjacent, works on it according
 * to its type. Used by `alma play --policy heuristic` together with the heuristic allocation.
 */
import {
  ACT_BUILD,
  ACT_FIGHT,
  ACT_FREEZE,
  ACT_STAY,
  GENERALIST,
  MOVE_DX,
  MOVE_DY,
  N_ACTIONS,
} from "./constants.js";
import type { SaveTheCityState } from "./env.js";

/**
 * Fill `out` with one available action per agent. `allocation[i]` is the building of agent i (or
 * -1: stay). `avail` is the environment's current available-action array.
 */
export function scriptedActions(
  state: SaveTheCityState,
  avail: Int32Array,
  allocation: ArrayLike<number>,
  out: Int32Array,
): Int32Array {
  out.fill(ACT_STAY);
  state.agents.forEach((agent, i) => {
    const k = allocation[i];
    const target = state.buildings[k];
    if (k < 0 || !target) return;
    const row = i * N_ACTIONS;
    const code = 2 + k;
    // Work on the allocated building when adjacent: put out fire first (generalists freeze it,
    // which stops the damage), otherwise build.
    if (avail[row + ACT_FIGHT] === code) {
      out[i] =
        agent.type === GENERALIST && avail[row + ACT_FREEZE] === code ? ACT_FREEZE : ACT_FIGHT;
      return;
    }
    if (avail[row + ACT_BUILD] === code) {
      out[i] = ACT_BUILD;
      return;
    }
    // Otherwise take the available move that gets closest to a cell next to the building.
    const dist = (x: number, y: number) => Math.abs(target.x - x) + Math.abs(target.y - y);
    let best = ACT_STAY;
    let bestD = dist(agent.x, agent.y);
    for (let a = 1; a <= 8; a++) {
      if (avail[row + a] === 0) continue;
      const d = dist(agent.x + MOVE_DX[a], agent.y + MOVE_DY[a]);
      if (d >= 1 && d < bestD) {
        bestD = d;
        best = a;
      }
    }
    out[i] = best;
  });
  return out;
}
