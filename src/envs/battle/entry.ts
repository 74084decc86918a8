/**
 * Ready-made registry entry for the battle environment: `registerEnv(battleEnvEntry)` wires it into
 * `makeEnv`, the CLI (`alma play --env battle`, `alma bench env --env battle`) and the runners.
 * Only a type is imported from the registry, so there is no import cycle.
 */
import type { EnvEntry, MakeEnvOptions } from "../registry.js";
import type { CompositeEnv, FrameOptions } from "../types.js";
import { BATTLE_ENV_NAME, type BattleEnv, type BattleEnvOptions, makeBattleEnv } from "./env.js";
import { scriptedBattleActions } from "./policy.js";
import { BATTLE_SCENARIO_NAMES, DEFAULT_BATTLE_SCENARIO } from "./scenarios.js";
import { renderBattleSvg } from "./svg.js";

/** `extra` keys accepted by `makeEnv("battle", { extra })`, with their expected types. */
const EXTRA_KEYS: Readonly<Record<string, "string" | "boolean" | "number">> = {
  heuristicStyle: "string",
  spreadArmies: "boolean",
  taskRewardQuirk: "boolean",
  nExtraTags: "number",
  episodeLimit: "number",
  edgeCellsBlocked: "boolean",
  deadSelfObservation: "boolean",
};

/** Map registry options onto `BattleEnvOptions`, rejecting unknown or mistyped `extra` keys. */
export function battleOptionsFromRegistry(options: MakeEnvOptions): BattleEnvOptions {
  const result: BattleEnvOptions = {
    scenario: options.scenario,
    seed: options.seed,
    heuristicAlloc: options.heuristicAlloc,
  };
  for (const [key, value] of Object.entries(options.extra ?? {})) {
    const type = EXTRA_KEYS[key];
    if (type === undefined) {
      throw new Error(
        `battle: unknown option '${key}'; expected one of: ${Object.keys(EXTRA_KEYS).join(", ")}`,
      );
    }
    if (typeof value !== type) throw new Error(`battle: option '${key}' must be a ${type}`);
    (result as Record<string, unknown>)[key] = value;
  }
  return result;
}

function textFrame(env: CompositeEnv, opts: FrameOptions): string {
  const lines = [opts.title ?? "", env.render()].filter((l) => l.length > 0);
  if (opts.reward !== undefined || opts.episodeReturn !== undefined) {
    lines.push(
      `reward ${opts.reward?.toFixed(4) ?? "-"}  return ${opts.episodeReturn?.toFixed(4) ?? "-"}`,
    );
  }
  if (opts.allocation !== undefined) {
    const parts: string[] = [];
    for (let a = 0; a < env.nActiveAgents; a++) {
      const changed = opts.allocationChanged !== undefined && Boolean(opts.allocationChanged[a]);
      parts.push(`${a}->${opts.allocation[a] ?? -1}${changed ? "*" : ""}`);
    }
    lines.push(`allocation: ${parts.join(" ")}`);
  }
  return lines.join("\n");
}

export const battleEnvEntry: EnvEntry = {
  name: BATTLE_ENV_NAME,
  aliases: ["sc2multiarmy"],
  description: "StarCraft multi-army base defence on an engine-free combat simulator (spec §3-§6)",
  scenarios: BATTLE_SCENARIO_NAMES,
  defaultScenario: DEFAULT_BATTLE_SCENARIO,
  actionLength: 3,
  make: (options) => makeBattleEnv(battleOptionsFromRegistry(options)),
  renderText: textFrame,
  renderSvg: (env, opts) => renderBattleSvg(env as BattleEnv, opts.allocation, opts),
  scriptedActions: (env, allocation, out) =>
    scriptedBattleActions(env as BattleEnv, allocation, out),
};
