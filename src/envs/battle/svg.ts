/**
 * Standalone SVG frame of a battle state (issue 5 "Looking at it"): the 32 x 32 map, the base
 * disc, army spawn points, units coloured by side with type letters, life and shield bars, attack
 * and heal lines, enemy army membership (outline colour), and each agent's allocated army drawn
 * as a dashed line from the agent to that army's centre.
 */
import type { FrameOptions } from "../types.js";
import { BASE_RADIUS, type BattleEnv, MAP_CENTER, MAP_SIZE } from "./env.js";
import { Side } from "./sim.js";
import { UNIT_STATS, UnitKind } from "./units.js";

const SCALE = 20;
const HEADER = 36;
const ARMY_COLOURS = ["#e69f00", "#cc79a7", "#009e73"];
const AGENT_FILL = "#2b6cb0";
const ENEMY_FILL = "#c53030";
const TYPE_LETTER: Readonly<Record<number, string>> = {
  [UnitKind.Marine]: "M",
  [UnitKind.Marauder]: "R",
  [UnitKind.Medivac]: "V",
  [UnitKind.Stalker]: "S",
  [UnitKind.Zealot]: "Z",
};

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();
const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * Render the env's current state. `allocation[agent]` = army index (or -1); when omitted, the
 * env's heuristic allocation is drawn if the env was built with `heuristicAlloc`. `opts` adds a
 * title, the step reward / return, and highlights agents whose allocation just changed.
 */
export function renderBattleSvg(
  env: BattleEnv,
  allocation?: ArrayLike<number>,
  opts: FrameOptions = {},
): string {
  const sim = env.sim;
  const A = env.sizes.maxAgents;
  const width = MAP_SIZE * SCALE;
  const height = MAP_SIZE * SCALE + HEADER;
  const px = (x: number): string => fmt(x * SCALE);
  const py = (y: number): string => fmt(HEADER + (MAP_SIZE - y) * SCALE);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<rect x="0" y="${HEADER}" width="${width}" height="${MAP_SIZE * SCALE}" fill="#f4f1ea" stroke="#999"/>`,
  );
  for (let g = 4; g < MAP_SIZE; g += 4) {
    parts.push(
      `<line x1="${px(g)}" y1="${py(0)}" x2="${px(g)}" y2="${py(MAP_SIZE)}" stroke="#e2ddd0" stroke-width="1"/>`,
      `<line x1="${px(0)}" y1="${py(g)}" x2="${px(MAP_SIZE)}" y2="${py(g)}" stroke="#e2ddd0" stroke-width="1"/>`,
    );
  }
  parts.push(
    `<circle cx="${px(MAP_CENTER)}" cy="${py(MAP_CENTER)}" r="${fmt(BASE_RADIUS * SCALE)}" fill="#9ae6b4" fill-opacity="0.5" stroke="#2f855a" stroke-width="2"/>`,
  );
  let header = `${opts.title ?? env.scenario} #${env.scenarioIndex}  step ${env.time}/${env.info.episodeLimit}`;
  if (opts.reward !== undefined) header += `  r=${fmt(opts.reward)}`;
  if (opts.episodeReturn !== undefined) header += `  R=${fmt(opts.episodeReturn)}`;
  if (env.terminated) header += "  (ended)";
  parts.push(`<text x="6" y="22" font-size="14" fill="#222">${escapeXml(header)}</text>`);

  // army spawn points and state
  const armyCentreX = new Float64Array(env.nArmies);
  const armyCentreY = new Float64Array(env.nArmies);
  for (let k = 0; k < env.nArmies; k++) {
    let n = 0;
    let sx = 0;
    let sy = 0;
    for (let e = 0; e < env.nEnemies; e++) {
      if (env.enemyArmy[e] !== k || sim.alive[A + e] === 0) continue;
      n++;
      sx += sim.x[A + e];
      sy += sim.y[A + e];
    }
    armyCentreX[k] = n > 0 ? sx / n : env.armyX[k];
    armyCentreY[k] = n > 0 ? sy / n : env.armyY[k];
    const colour = ARMY_COLOURS[k % ARMY_COLOURS.length];
    const state =
      env.armyCode[k] === 1
        ? "defeated"
        : env.armyCode[k] === -1
          ? "infiltrated"
          : env.armyAttacking[k]
            ? "attacking"
            : "retreat";
    parts.push(
      `<path d="M ${px(env.armyX[k] - 0.5)} ${py(env.armyY[k] - 0.5)} L ${px(env.armyX[k] + 0.5)} ${py(env.armyY[k] + 0.5)} M ${px(env.armyX[k] - 0.5)} ${py(env.armyY[k] + 0.5)} L ${px(env.armyX[k] + 0.5)} ${py(env.armyY[k] - 0.5)}" stroke="${colour}" stroke-width="3"/>`,
      env.armyX[k] > MAP_SIZE - 10
        ? `<text x="${px(env.armyX[k] - 0.7)}" y="${py(env.armyY[k] + 0.7)}" font-size="11" text-anchor="end" fill="${colour}">army ${k} ${state}</text>`
        : `<text x="${px(env.armyX[k] + 0.7)}" y="${py(env.armyY[k] + 0.7)}" font-size="11" fill="${colour}">army ${k} ${state}</text>`,
    );
  }

  // allocation lines (agent -> allocated army centre)
  const alloc =
    allocation ??
    opts.allocation ??
    (env.heuristicAlloc ? env.heuristicAllocation(new Int32Array(A)) : undefined);
  if (alloc !== undefined) {
    for (let a = 0; a < env.nAgents; a++) {
      const k = alloc[a];
      if (k < 0 || k >= env.nArmies || sim.alive[a] === 0) continue;
      const changed = opts.allocationChanged !== undefined && Boolean(opts.allocationChanged[a]);
      parts.push(
        `<line x1="${px(sim.x[a])}" y1="${py(sim.y[a])}" x2="${px(armyCentreX[k])}" y2="${py(armyCentreY[k])}" stroke="${ARMY_COLOURS[k % ARMY_COLOURS.length]}" stroke-width="${changed ? 3.5 : 1.5}" stroke-dasharray="6 4" stroke-opacity="0.8" class="allocation"/>`,
      );
    }
  }

  // attack / heal lines
  for (let u = 0; u < sim.capacity; u++) {
    if (sim.alive[u] === 0) continue;
    const t = sim.engaged[u];
    if (t < 0 || sim.alive[t] === 0) continue;
    const healing = UNIT_STATS[sim.kind[u]].heal !== null;
    const colour = healing ? "#38a169" : sim.side[u] === Side.Agent ? AGENT_FILL : ENEMY_FILL;
    parts.push(
      `<line x1="${px(sim.x[u])}" y1="${py(sim.y[u])}" x2="${px(sim.x[t])}" y2="${py(sim.y[t])}" stroke="${colour}" stroke-width="1" stroke-opacity="0.7"/>`,
    );
  }

  // units (ground first, flying on top)
  for (const flyingPass of [0, 1]) {
    for (let u = 0; u < sim.capacity; u++) {
      if (sim.present[u] === 0 || sim.alive[u] === 0 || sim.flying[u] !== flyingPass) continue;
      const st = UNIT_STATS[sim.kind[u]];
      const isAgent = u < A;
      const r = st.radius * SCALE;
      const fill = isAgent ? AGENT_FILL : ENEMY_FILL;
      const stroke = isAgent ? "#1a365d" : ARMY_COLOURS[env.enemyArmy[u - A] % ARMY_COLOURS.length];
      const dash = st.flying ? ` stroke-dasharray="3 2"` : "";
      const cx = px(sim.x[u]);
      const cy = py(sim.y[u]);
      parts.push(
        `<circle cx="${cx}" cy="${cy}" r="${fmt(r)}" fill="${fill}" fill-opacity="${st.flying ? 0.6 : 0.9}" stroke="${stroke}" stroke-width="2.5"${dash}/>`,
        `<text x="${cx}" y="${fmt(Number(cy) + 4)}" font-size="11" text-anchor="middle" fill="#fff">${TYPE_LETTER[sim.kind[u]]}${isAgent ? u : ""}</text>`,
      );
      // life bar (and shield bar above it)
      const barW = Math.max(2 * r, 14);
      const barX = sim.x[u] * SCALE - barW / 2;
      const barY = Number(cy) - r - 6;
      const life = sim.health[u] / st.healthMax;
      parts.push(
        `<rect x="${fmt(barX)}" y="${fmt(barY)}" width="${fmt(barW)}" height="3" fill="#555"/>`,
        `<rect x="${fmt(barX)}" y="${fmt(barY)}" width="${fmt(barW * life)}" height="3" fill="#48bb78"/>`,
      );
      if (st.shieldMax > 0) {
        const shield = sim.shield[u] / st.shieldMax;
        parts.push(
          `<rect x="${fmt(barX)}" y="${fmt(barY - 4)}" width="${fmt(barW)}" height="3" fill="#555"/>`,
          `<rect x="${fmt(barX)}" y="${fmt(barY - 4)}" width="${fmt(barW * shield)}" height="3" fill="#63b3ed"/>`,
        );
      }
    }
  }
  parts.push("</svg>");
  return parts.join("\n");
}
