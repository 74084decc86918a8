/**
 * Environment, method and scale presets: partial configuration layers (spec §17, §18).
 *
 * `resolveConfig` merges, in order: schema defaults < environment preset < method preset <
 * scenario < overrides (`--seed`, `--steps`, `--set`), then the scale preset's *derived* values,
 * which never override a key the caller set explicitly. That mirrors the reference's merge order
 * "default < env config < algorithm config < command line" (§17).
 */
import type { ConfigLayer, EnvName, MethodName } from "./schema.js";

/**
 * Environment presets (spec §17, §18.1, §18.3). The schema defaults already are the SaveTheCity
 * values; the preset restates the environment-specific ones so that each preset is complete on
 * its own.
 *
 * | key | savethecity | battle |
 * |---|---|---|
 * | env.scenario | `2-5a_2-5b` | `6-8sz_maxsize4_maxarmies3_symmetric` |
 * | run.tMax | 15,000,000 | 10,000,000 |
 * | exploration.epsilonAnnealTime | 2,000,000 (README) | 500,000 (`qmix_atten`; see §20.1) |
 * | exploration.maskSubtaskActions | false | true |
 * | hierAgent.actionLength | 5 | 3 |
 * | agent.imagine | false (`qmix_atten`) | true (`refil` is the algorithm config of every battle method) |
 */
export const ENV_PRESETS: Readonly<Record<EnvName, ConfigLayer>> = {
  savethecity: {
    env: { name: "savethecity", scenario: "2-5a_2-5b", episodeLimit: 150 },
    run: { tMax: 15_000_000, testNepisode: 160, testInterval: 50_000 },
    exploration: { epsilonAnnealTime: 2_000_000, maskSubtaskActions: false },
    hierAgent: { actionLength: 5 },
    agent: { imagine: false },
  },
  battle: {
    env: { name: "battle", scenario: "6-8sz_maxsize4_maxarmies3_symmetric", episodeLimit: 150 },
    run: { tMax: 10_000_000, testNepisode: 160, testInterval: 50_000 },
    exploration: { epsilonAnnealTime: 500_000, maskSubtaskActions: true },
    hierAgent: { actionLength: 3 },
    agent: { imagine: true },
    // One program per update: with the jax-js memory plan (patches/README.md) the REFIL step at
    // battle shapes peaks at ~1.5 GB (unpatched it exceeded Wasm's 4 GiB and needed 4
    // micro-batches, ~30% slower).
  },
};

/**
 * Method presets (spec §17). Each sets the three method-defining keys (`agent.subtaskCond`,
 * `hierAgent.taskAllocation`, `hierAgent.copa`) so presets never depend on each other.
 *
 * | method | agent.subtaskCond | hierAgent.taskAllocation | hierAgent.copa | other |
 * |---|---|---|---|---|
 * | aqmix | none | none | false | agent.imagine=false (flat `qmix_atten`) |
 * | refil | none | none | false | agent.imagine=true (flat `refil`) |
 * | heuristic | mask | heuristic | false | battle: style from env preset (dynamic) |
 * | heuristic-dynamic | mask | heuristic | false | battle only: style `attacking-type-unassigned-diff` |
 * | heuristic-matching | mask | heuristic | false | battle only: style `type-unassigned-diff` |
 * | random | mask | random | false | |
 * | alma | mask | aql | false | |
 * | alma-nomask | full_obs | aql | false | mixer follows the agent (membership features) |
 * | copa | none | none | true | |
 *
 * `agent.imagine` is left to the environment preset except for the two flat baselines whose
 * names say which algorithm config they are.
 */
export const METHOD_PRESETS: Readonly<Record<MethodName, ConfigLayer>> = {
  aqmix: {
    agent: { subtaskCond: "none", imagine: false },
    hierAgent: { taskAllocation: "none", copa: false },
  },
  refil: {
    agent: { subtaskCond: "none", imagine: true },
    hierAgent: { taskAllocation: "none", copa: false },
  },
  heuristic: {
    agent: { subtaskCond: "mask" },
    hierAgent: { taskAllocation: "heuristic", copa: false },
  },
  "heuristic-dynamic": {
    agent: { subtaskCond: "mask" },
    hierAgent: { taskAllocation: "heuristic", copa: false },
    env: { battle: { heuristicStyle: "attacking-type-unassigned-diff" } },
  },
  "heuristic-matching": {
    agent: { subtaskCond: "mask" },
    hierAgent: { taskAllocation: "heuristic", copa: false },
    env: { battle: { heuristicStyle: "type-unassigned-diff" } },
  },
  random: {
    agent: { subtaskCond: "mask" },
    hierAgent: { taskAllocation: "random", copa: false },
  },
  alma: {
    agent: { subtaskCond: "mask" },
    hierAgent: { taskAllocation: "aql", copa: false },
  },
  "alma-nomask": {
    agent: { subtaskCond: "full_obs" },
    hierAgent: { taskAllocation: "aql", copa: false },
  },
  copa: {
    agent: { subtaskCond: "none" },
    hierAgent: { taskAllocation: "none", copa: true },
  },
};

/** Methods that only make sense on one environment (the StarCraft heuristic variants, §9.3). */
export const METHOD_ENV_RESTRICTIONS: Readonly<Partial<Record<MethodName, EnvName>>> = {
  "heuristic-dynamic": "battle",
  "heuristic-matching": "battle",
};

/** Paper-scale run length and ε anneal per environment (§18.1), used to keep ratios at cpu scale. */
const PAPER_T_MAX: Readonly<Record<EnvName, number>> = {
  savethecity: 15_000_000,
  battle: 10_000_000,
};
const PAPER_EPSILON_ANNEAL: Readonly<Record<EnvName, number>> = {
  savethecity: 2_000_000,
  battle: 500_000,
};

/** Default run length of the `cpu` scale (env steps). */
export const CPU_T_MAX = 1_000_000;

/**
 * The `cpu` scale: exploration schedules shrunk to a short run (issue 3 "Targets / Learning").
 * Given the run length `tMax` (1,000,000 unless the caller sets `run.tMax` / `--steps`):
 *
 * - `run.tMax` = 1,000,000.
 * - `exploration.epsilonAnnealTime` = round(tMax × paper ratio): SaveTheCity 2M/15M → **133,333**
 *   at 1M steps; battle 500k/10M → **50,000** at 1M steps.
 * - `run.testInterval` = round(tMax / 20) (the paper's 15M/50k gives 300 tests; 20 points are
 *   enough for a curve and keep greedy testing cheap): **50,000** at 1M steps.
 * - `hierAgent.allocEps` / `propAllocEps` are fractions of `tMax` already (§8.5), so they shrink by
 *   themselves: at 1M steps alloc_eps reaches 0 at 50k and prop_alloc_eps 0.05 at 200k.
 * - Unchanged on purpose: `hierAgent.decayOld` (150k: data staleness relative to how fast the
 *   low level learns, which does not change with run length), target intervals (in episodes),
 *   network sizes, batch sizes, buffer size.
 *
 * `paper` returns an empty layer. Keys in `explicit` (dotted paths the caller set) are left alone.
 */
export function scalePresetFor(
  scale: "paper" | "cpu",
  env: EnvName,
  tMaxIfSet: number | undefined,
  explicit: ReadonlySet<string>,
): ConfigLayer {
  if (scale === "paper") return {};
  const tMax = tMaxIfSet ?? CPU_T_MAX;
  const layer: ConfigLayer = { run: {}, exploration: {} };
  if (!explicit.has("run.tMax")) layer.run!.tMax = tMax;
  if (!explicit.has("exploration.epsilonAnnealTime")) {
    layer.exploration!.epsilonAnnealTime = Math.max(
      1,
      Math.round((tMax * PAPER_EPSILON_ANNEAL[env]) / PAPER_T_MAX[env]),
    );
  }
  if (!explicit.has("run.testInterval")) {
    layer.run!.testInterval = Math.max(1, Math.round(tMax / 20));
  }
  return layer;
}
