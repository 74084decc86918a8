/**
 * A scripted low-level policy that follows an allocation (demos and sanity baselines, like the
 * SaveTheCity one): every live agent acts on its allocated army only, as under
 * `mask_subtask_actions` (spec §1.4).
 *
 * - Attackers focus the available target of their army with the least life + shields (skipping
 *   air targets they cannot shoot); with no target in range they walk toward the centre of their
 *   army's living units; with no allocation they attack any available target or stop.
 * - Medivacs heal the most damaged available agent (same army first), otherwise follow the centre
 *   of the living non-Medivac agents of their army.
 *
 * Allocation-free; deterministic given the state.
 */
import { BattleAction, type BattleEnv } from "./env.js";
import { canTarget, UNIT_STATS, UnitKind } from "./units.js";

export function scriptedBattleActions(
  env: BattleEnv,
  allocation: ArrayLike<number>,
  out: Int32Array,
): Int32Array {
  const sim = env.sim;
  const nAct = env.info.nActions;
  const A = env.sizes.maxAgents;
  const avail = env.getAvailActions();
  out.fill(0);
  for (let a = 0; a < env.nAgents; a++) {
    if (sim.alive[a] === 0) continue;
    const row = a * nAct;
    const task = allocation[a] ?? -1;
    const st = UNIT_STATS[env.agentKind[a]];
    let best = -1;
    let bestScore = Infinity;
    if (env.agentKind[a] === UnitKind.Medivac) {
      for (let j = BattleAction.TargetBase; j < nAct; j++) {
        const code = avail[row + j];
        if (code < 1000) continue;
        const b = code - 1000;
        const missing = UNIT_STATS[env.agentKind[b]].healthMax - sim.health[b];
        if (missing <= 0) continue;
        const score = (task >= 0 && allocation[b] === task ? 0 : 1000) - missing;
        if (score < bestScore) {
          bestScore = score;
          best = j;
        }
      }
      if (best >= 0) {
        out[a] = best;
        continue;
      }
      let n = 0;
      let cx = 0;
      let cy = 0;
      for (let b = 0; b < env.nAgents; b++) {
        if (sim.alive[b] === 0 || env.agentKind[b] === UnitKind.Medivac) continue;
        if (task >= 0 && allocation[b] !== task) continue;
        n++;
        cx += sim.x[b];
        cy += sim.y[b];
      }
      out[a] =
        n > 0 ? moveToward(avail, row, sim.x[a], sim.y[a], cx / n, cy / n) : BattleAction.Stop;
      continue;
    }
    for (let j = BattleAction.TargetBase; j < nAct; j++) {
      const code = avail[row + j];
      if (code < 2 || code >= 1000) continue;
      if (task >= 0 && code - 2 !== task) continue;
      const u = A + env.tagToEnemy[j - BattleAction.TargetBase];
      if (!canTarget(st.weapon, sim.flying[u] === 1)) continue;
      const score = sim.health[u] + sim.shield[u];
      if (score < bestScore) {
        bestScore = score;
        best = j;
      }
    }
    if (best >= 0) {
      out[a] = best;
      continue;
    }
    if (task < 0) {
      out[a] = BattleAction.Stop;
      continue;
    }
    let n = 0;
    let cx = 0;
    let cy = 0;
    for (let e = 0; e < env.nEnemies; e++) {
      if (env.enemyArmy[e] !== task || sim.alive[A + e] === 0) continue;
      n++;
      cx += sim.x[A + e];
      cy += sim.y[A + e];
    }
    out[a] = n > 0 ? moveToward(avail, row, sim.x[a], sim.y[a], cx / n, cy / n) : BattleAction.Stop;
  }
  return out;
}

/** Move along the axis with the larger offset (the other if blocked); stop when close. */
function moveToward(
  avail: Int32Array,
  row: number,
  x: number,
  y: number,
  tx: number,
  ty: number,
): number {
  const dx = tx - x;
  const dy = ty - y;
  if (dx * dx + dy * dy < 1) return BattleAction.Stop;
  const horizontal = dx > 0 ? BattleAction.MoveEast : BattleAction.MoveWest;
  const vertical = dy > 0 ? BattleAction.MoveNorth : BattleAction.MoveSouth;
  const first = Math.abs(dx) >= Math.abs(dy) ? horizontal : vertical;
  const second = first === horizontal ? vertical : horizontal;
  if (avail[row + first] !== 0) return first;
  if (avail[row + second] !== 0) return second;
  return BattleAction.Stop;
}
