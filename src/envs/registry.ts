/**
 * Environment registry: one place that maps a name (and its aliases from the original code) to a
 * factory, so the CLI, runners and benchmarks can build any environment by name.
 */

import { battleEnvEntry } from "./battle/entry.js";
import { SaveTheCity } from "./savethecity/env.js";
import { scriptedActions } from "./savethecity/policy.js";
import { renderSaveTheCitySvg, renderSaveTheCityText } from "./savethecity/render.js";
import {
  DEFAULT_SCENARIO as STC_DEFAULT,
  SCENARIO_NAMES as STC_SCENARIOS,
} from "./savethecity/scenarios.js";
import type { CompositeEnv, FrameOptions } from "./types.js";

/** Options every registered environment accepts. */
export interface MakeEnvOptions {
  scenario?: string;
  seed?: number;
  /** Let the environment compute its heuristic allocation into `entity2taskMask` agent rows. */
  heuristicAlloc?: boolean;
  /** Environment-specific extra settings (validated by the environment). */
  extra?: Record<string, unknown>;
}

export interface EnvEntry {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  readonly scenarios: readonly string[];
  readonly defaultScenario: string;
  /** Steps between high-level decisions in the paper's setup (`action_length`, algorithm.md §9). */
  readonly actionLength: number;
  readonly make: (options: MakeEnvOptions) => CompositeEnv;
  /** Text frame of the current state with step annotations (default: `env.render()`). */
  readonly renderText?: (env: CompositeEnv, opts: FrameOptions) => string;
  /** Standalone SVG frame of the current state. */
  readonly renderSvg?: (env: CompositeEnv, opts: FrameOptions) => string;
  /**
   * A scripted low-level policy that follows an allocation (for demos and sanity baselines): fills
   * `out` with one available action per agent.
   */
  readonly scriptedActions?: (
    env: CompositeEnv,
    allocation: Int32Array,
    out: Int32Array,
  ) => Int32Array;
}

const entries = new Map<string, EnvEntry>();
const aliasToName = new Map<string, string>();

/** Register an environment (used by the built-in environments; available to users too). */
export function registerEnv(entry: EnvEntry): void {
  for (const key of [entry.name, ...entry.aliases]) {
    const owner = aliasToName.get(key);
    if (owner && owner !== entry.name)
      throw new Error(`environment name '${key}' is already registered by '${owner}'`);
    aliasToName.set(key, entry.name);
  }
  entries.set(entry.name, entry);
}

export function envEntry(name: string): EnvEntry {
  const canonical = aliasToName.get(name);
  if (!canonical) {
    throw new Error(
      `unknown environment '${name}'; expected one of: ${[...entries.keys()].join(", ")}`,
    );
  }
  return entries.get(canonical)!;
}

export function envNames(): string[] {
  return [...entries.keys()];
}

/** Build a registered environment by name (aliases accepted). Unknown scenarios are errors. */
export function makeEnv(name: string, options: MakeEnvOptions = {}): CompositeEnv {
  const entry = envEntry(name);
  if (options.scenario !== undefined && !entry.scenarios.includes(options.scenario)) {
    throw new Error(
      `unknown scenario '${options.scenario}' for environment '${entry.name}'; expected one of: ${entry.scenarios.join(", ")}`,
    );
  }
  return entry.make(options);
}

registerEnv({
  name: "savethecity",
  aliases: ["ff", "stc"],
  description: "SaveTheCity: firefighters, builders and generalists save a burning city (spec §2)",
  scenarios: STC_SCENARIOS,
  defaultScenario: STC_DEFAULT,
  actionLength: 5,
  renderText: (env, opts) => renderSaveTheCityText((env as SaveTheCity).getState(), opts),
  renderSvg: (env, opts) => renderSaveTheCitySvg((env as SaveTheCity).getState(), opts),
  scriptedActions: (env, allocation, out) =>
    scriptedActions((env as SaveTheCity).getState(), env.getAvailActions(), allocation, out),
  make: (o) => {
    for (const [key, value] of Object.entries(o.extra ?? {})) {
      if (key !== "endOnAnyBurn")
        throw new Error(`savethecity: unknown option '${key}'; expected one of: endOnAnyBurn`);
      if (typeof value !== "boolean")
        throw new Error(`savethecity: option '${key}' must be a boolean`);
    }
    return new SaveTheCity({
      scenario: o.scenario,
      seed: o.seed,
      heuristicAlloc: o.heuristicAlloc,
      endOnAnyBurn: o.extra?.["endOnAnyBurn"] === true,
    });
  },
});

registerEnv(battleEnvEntry);
