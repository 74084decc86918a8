/**
 * Pictures of a SaveTheCity state: a terminal frame (text) and a standalone SVG frame. Both draw
 * the same facts: the 16×16 city with north up, every building's health and fire, every agent by
 * type and index, the action each agent just took and the building each agent is allocated to.
 */

import type { FrameOptions } from "../types.js";
import {
  ACTION_NAMES,
  AGENT_LETTER,
  AGENT_TYPE_NAME,
  type AgentType,
  BUILDER,
  BUILDING_TYPE_NAME,
  type BuildingType,
  FAST,
  FIREFIGHTER,
  GENERALIST,
  GRID,
} from "./constants.js";
import type { SaveTheCityState } from "./env.js";

type Building = SaveTheCityState["buildings"][number];

export function buildingStatus(b: Building): "complete" | "burned" | "burning" | "standing" {
  if (b.health >= 1) return "complete";
  if (b.health <= 0) return "burned";
  return b.fire > 0 ? "burning" : "standing";
}

function bar(value: number, width = 10): string {
  const n = Math.round(Math.max(0, Math.min(1, value)) * width);
  return "#".repeat(n) + ".".repeat(width - n);
}

const STATUS_GLYPH = { complete: "+", burned: "x", burning: "^", standing: "#" } as const;

/**
 * Text frame. Grid cells: `.` empty, `B0`/`F1`/`G2` agent (type letter + index), `#3` building 3
 * standing, `^3` burning, `+3` complete, `x3` burned down. North (y = 15) is the top row.
 */
export function renderSaveTheCityText(state: SaveTheCityState, opts: FrameOptions = {}): string {
  const cells: string[][] = Array.from({ length: GRID }, () => Array<string>(GRID).fill("."));
  state.buildings.forEach((b, k) => {
    cells[b.y][b.x] = `${STATUS_GLYPH[buildingStatus(b)]}${k}`;
  });
  state.agents.forEach((a, i) => {
    cells[a.y][a.x] = `${AGENT_LETTER[a.type]}${i}`;
  });
  const lines: string[] = [];
  const head = [`t=${state.time}`];
  if (opts.reward !== undefined) head.push(`reward=${fmtSigned(opts.reward)}`);
  if (opts.episodeReturn !== undefined) head.push(`return=${fmtSigned(opts.episodeReturn)}`);
  lines.push(`${opts.title ? `${opts.title}  ` : ""}${head.join("  ")}`);
  for (let y = GRID - 1; y >= 0; y--) {
    lines.push(`${String(y).padStart(2)} ${cells[y].map((c) => c.padStart(3)).join("")}`);
  }
  lines.push(`   ${Array.from({ length: GRID }, (_, x) => String(x).padStart(3)).join("")}`);
  lines.push("buildings:");
  state.buildings.forEach((b, k) => {
    const status = buildingStatus(b);
    const timer =
      status === "complete" || status === "burned" ? "" : `  next fire in ${b.timeToNextFire}`;
    lines.push(
      `  ${STATUS_GLYPH[status]}${k} ${BUILDING_TYPE_NAME[b.type].padEnd(9)} (${b.x},${b.y})`.padEnd(
        24,
      ) +
        ` health [${bar(b.health)}] ${b.health.toFixed(2)}  fire [${bar(b.fire)}] ${b.fire.toFixed(2)}  ${status}${timer}`,
    );
  });
  lines.push("agents:");
  state.agents.forEach((a, i) => {
    const parts = [
      `  ${AGENT_LETTER[a.type]}${i} ${AGENT_TYPE_NAME[a.type].padEnd(11)} (${a.x},${a.y})`.padEnd(
        24,
      ),
    ];
    if (opts.actions) parts.push(` did ${ACTION_NAMES[opts.actions[i]] ?? "?"}`.padEnd(16));
    if (opts.allocation) {
      const k = opts.allocation[i];
      const changed = opts.allocationChanged?.[i] ? "  (new)" : "";
      parts.push(k >= 0 ? ` -> building ${k}${changed}` : " -> (none)");
    }
    lines.push(parts.join(""));
  });
  return lines.join("\n");
}

function fmtSigned(v: number): string {
  return (v >= 0 ? "+" : "") + v.toFixed(3);
}

// ---------------------------------------------------------------- SVG

const CELL = 36;
const MARGIN = 24;
const LEGEND_W = 470;
const AGENT_COLOUR: Record<AgentType, string> = {
  [FIREFIGHTER]: "#d62728",
  [BUILDER]: "#1f77b4",
  [GENERALIST]: "#9467bd",
};
const BUILDING_COLOUR: Record<BuildingType, string> = { [FAST]: "#8c564b", [1]: "#7f7f7f" };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * Standalone SVG frame: the grid (north up), buildings as squares with a green health bar and an
 * orange fire bar (flame overlay when burning, check mark when complete, cross when burned down),
 * agents as circles coloured by type (firefighter red, builder blue, generalist purple) labelled
 * with their index, a dashed line from each agent to its allocated building (thick when the
 * allocation just changed), and a legend listing every building and agent.
 */
export function renderSaveTheCitySvg(state: SaveTheCityState, opts: FrameOptions = {}): string {
  const mapW = GRID * CELL;
  const width = MARGIN * 2 + mapW + LEGEND_W;
  const height = Math.max(
    MARGIN * 2 + mapW + 20,
    60 + 18 * (state.buildings.length + state.agents.length + 4),
  );
  const px = (x: number) => MARGIN + x * CELL + CELL / 2;
  const py = (y: number) => MARGIN + 20 + (GRID - 1 - y) * CELL + CELL / 2;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  const head = [`t = ${state.time}`];
  if (opts.reward !== undefined) head.push(`reward ${fmtSigned(opts.reward)}`);
  if (opts.episodeReturn !== undefined) head.push(`return ${fmtSigned(opts.episodeReturn)}`);
  out.push(
    `<text x="${MARGIN}" y="${MARGIN}" font-size="16" font-weight="bold">${esc(opts.title ? `${opts.title} — ` : "")}${esc(head.join("   "))}</text>`,
  );
  // grid
  out.push(`<g stroke="#e0e0e0" stroke-width="1">`);
  for (let i = 0; i <= GRID; i++) {
    const o = i * CELL;
    out.push(
      `<line x1="${MARGIN + o}" y1="${MARGIN + 20}" x2="${MARGIN + o}" y2="${MARGIN + 20 + mapW}"/>`,
    );
    out.push(
      `<line x1="${MARGIN}" y1="${MARGIN + 20 + o}" x2="${MARGIN + mapW}" y2="${MARGIN + 20 + o}"/>`,
    );
  }
  out.push("</g>");
  // allocation lines under everything else
  if (opts.allocation) {
    state.agents.forEach((a, i) => {
      const k = opts.allocation![i];
      const b = state.buildings[k];
      if (k < 0 || !b) return;
      const changed = Boolean(opts.allocationChanged?.[i]);
      out.push(
        `<line class="alloc" data-agent="${i}" data-building="${k}" x1="${px(a.x)}" y1="${py(a.y)}" x2="${px(b.x)}" y2="${py(b.y)}" stroke="${AGENT_COLOUR[a.type]}" stroke-width="${changed ? 4 : 2}" stroke-dasharray="6 4" opacity="0.8"/>`,
      );
    });
  }
  // buildings
  state.buildings.forEach((b, k) => {
    const x0 = px(b.x) - CELL / 2 + 3;
    const y0 = py(b.y) - CELL / 2 + 3;
    const s = CELL - 6;
    const status = buildingStatus(b);
    out.push(`<g class="building" data-index="${k}" data-status="${status}">`);
    out.push(
      `<rect x="${x0}" y="${y0}" width="${s}" height="${s}" fill="${status === "burned" ? "#222" : BUILDING_COLOUR[b.type]}" stroke="${status === "complete" ? "#2ca02c" : "#333"}" stroke-width="${status === "complete" ? 3 : 1}"/>`,
    );
    if (status === "burning") {
      const fh = s * b.fire;
      out.push(
        `<rect x="${x0}" y="${y0 + s - fh}" width="${s}" height="${fh}" fill="#ff7f0e" opacity="0.55"/>`,
      );
    }
    if (status === "burned") {
      out.push(
        `<path d="M${x0} ${y0}L${x0 + s} ${y0 + s}M${x0 + s} ${y0}L${x0} ${y0 + s}" stroke="#fff" stroke-width="2"/>`,
      );
    }
    out.push(
      `<text x="${px(b.x)}" y="${py(b.y) + 4}" font-size="12" text-anchor="middle" fill="#fff" font-weight="bold">b${k}</text>`,
    );
    // health bar (green) below the square, fire bar (orange) above it
    out.push(`<rect x="${x0}" y="${y0 + s}" width="${s}" height="5" fill="#ddd"/>`);
    out.push(
      `<rect class="health" x="${x0}" y="${y0 + s}" width="${s * b.health}" height="5" fill="#2ca02c"/>`,
    );
    out.push(
      `<rect class="fire" x="${x0}" y="${y0 - 5}" width="${s * b.fire}" height="5" fill="#ff7f0e"/>`,
    );
    out.push("</g>");
  });
  // agents
  state.agents.forEach((a, i) => {
    out.push(
      `<g class="agent" data-index="${i}" data-type="${AGENT_TYPE_NAME[a.type]}"><circle cx="${px(a.x)}" cy="${py(a.y)}" r="${CELL / 2 - 5}" fill="${AGENT_COLOUR[a.type]}" stroke="#000"/><text x="${px(a.x)}" y="${py(a.y) + 4}" font-size="12" text-anchor="middle" fill="#fff" font-weight="bold">${AGENT_LETTER[a.type]}${i}</text></g>`,
    );
  });
  // legend
  const lx = MARGIN * 2 + mapW;
  let ly = MARGIN + 30;
  const line = (text: string, colour = "#000", bold = false) => {
    out.push(
      `<text x="${lx}" y="${ly}" font-size="12" fill="${colour}"${bold ? ' font-weight="bold"' : ""}>${esc(text)}</text>`,
    );
    ly += 18;
  };
  line("Buildings (health / fire)", "#000", true);
  state.buildings.forEach((b, k) => {
    const status = buildingStatus(b);
    line(
      `b${k} ${BUILDING_TYPE_NAME[b.type]} (${b.x},${b.y})  ${b.health.toFixed(2)} / ${b.fire.toFixed(2)}  ${status}`,
      status === "burning" ? "#d62728" : status === "complete" ? "#2ca02c" : "#000",
    );
  });
  ly += 6;
  line("Agents", "#000", true);
  state.agents.forEach((a, i) => {
    let text = `${AGENT_LETTER[a.type]}${i} ${AGENT_TYPE_NAME[a.type]} (${a.x},${a.y})`;
    if (opts.actions) text += `  ${ACTION_NAMES[opts.actions[i]] ?? "?"}`;
    if (opts.allocation) {
      const k = opts.allocation[i];
      text += k >= 0 ? `  → b${k}` : "  → none";
      if (opts.allocationChanged?.[i]) text += " (new)";
    }
    line(text, AGENT_COLOUR[a.type]);
  });
  ly += 6;
  line("Key", "#000", true);
  line("agents: firefighter (red), builder (blue), generalist (purple)");
  line("buildings: fast-burn (brown), slow-burn (grey), burned (black ×)");
  line("green bar = health, orange bar/overlay = fire, green border = complete");
  line("dashed line = agent's allocated building (thick = just changed)");
  // coordinates along the bottom and left edges (north is up)
  for (let i = 0; i < GRID; i++) {
    out.push(
      `<text x="${px(i)}" y="${MARGIN + 20 + mapW + 14}" font-size="10" text-anchor="middle" fill="#888">${i}</text>`,
    );
    out.push(
      `<text x="${MARGIN - 4}" y="${py(i) + 3}" font-size="10" text-anchor="end" fill="#888">${i}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}
