/**
 * Named experiments mirroring the paper's figures: each recipe expands to a list of runs
 * (method × environment × seed, plus variants) at a chosen scale. Runs are grouped into curves by
 * their `label` (the directory the seeds live in).
 */
import { BATTLE_SCENARIO_NAMES } from "../envs/battle/scenarios.js";

export type ExperimentScale = "smoke" | "cpu" | "paper";
export const EXPERIMENT_SCALES: readonly ExperimentScale[] = ["smoke", "cpu", "paper"];

/** One training run of an experiment. */
export interface RunSpec {
  /** Curve name; seeds of one label form one curve (directory `OUT/<label>/seed-<k>`). */
  label: string;
  env: string;
  method: string;
  scenario?: string;
  seed: number;
  /** Config `--scale` of the run. */
  scale: "cpu" | "paper";
  /** Run length (undefined = the scale's default). */
  steps?: number;
  /** Extra `--set key=value` overrides. */
  sets: string[];
}

/** An evaluation after training (e.g. ALMA's allocator over other actors, §15.4). */
export interface EvalSpec {
  label: string;
  /** Run whose checkpoint is evaluated (label of a trained run, same seed). */
  run: string;
  /** Run whose low-level actors replace the evaluated run's (`--actors-from`). */
  actorsFrom?: string;
  seed: number;
  /** Greedy episodes to evaluate (default 64). */
  episodes?: number;
}

export interface Recipe {
  readonly name: string;
  readonly description: string;
  readonly figure: string;
  readonly metric: string;
  runs(scale: ExperimentScale, seeds: number, steps?: number): RunSpec[];
  evals?(seeds: number): EvalSpec[];
}

/** Scale settings: run length and how often / how much to test (spec §15.1 cadence, shrunk). */
export function scaleSettings(
  scale: ExperimentScale,
  steps?: number,
): { scale: "cpu" | "paper"; steps?: number; sets: string[] } {
  switch (scale) {
    case "smoke":
      // Minutes: tiny run, small batches, few test episodes. Shows the pipeline, not learning.
      return {
        scale: "cpu",
        steps: steps ?? 2_000,
        sets: [
          "run.testInterval=1000",
          "run.testNepisode=8",
          "run.logInterval=500",
          "run.runnerLogInterval=500",
          "run.learnerLogInterval=500",
          "run.saveModelInterval=1000",
          "buffer.batchSize=8",
          "run.trainingIters=2",
        ],
      };
    case "cpu":
      // Hours on a laptop-class CPU: the cpu scale's schedules shrunk to the run length.
      return {
        scale: "cpu",
        steps: steps ?? 300_000,
        sets: ["run.testNepisode=32", "run.saveModelInterval=20000"],
      };
    case "paper":
      return { scale: "paper", steps, sets: ["run.saveModelInterval=100000"] };
  }
}

function grid(
  methods: readonly { label: string; method: string; sets?: string[] }[],
  env: string,
  scenario: string | undefined,
  scale: ExperimentScale,
  seeds: number,
  steps?: number,
): RunSpec[] {
  const s = scaleSettings(scale, steps);
  const out: RunSpec[] = [];
  for (const m of methods) {
    for (let seed = 0; seed < seeds; seed++) {
      out.push({
        label: m.label,
        env,
        method: m.method,
        scenario,
        seed,
        scale: s.scale,
        steps: s.steps,
        sets: [...s.sets, ...(m.sets ?? [])],
      });
    }
  }
  return out;
}

const BATTLE_METHODS = [
  { label: "alma", method: "alma" },
  { label: "alma-nomask", method: "alma-nomask" },
  { label: "heuristic-matching", method: "heuristic-matching" },
  { label: "heuristic-dynamic", method: "heuristic-dynamic" },
  { label: "refil", method: "refil" },
  { label: "copa", method: "copa" },
];

/** Short names of the four battle families: `battle-sz-symmetric`, ... */
function familyRecipeName(scenario: string): string {
  const m = /^6-8(sz|MMM)_maxsize4_maxarmies3_(symmetric|unitdisadvantage)$/.exec(scenario);
  if (!m) throw new Error(`unexpected battle scenario ${scenario}`);
  return `battle-${m[1].toLowerCase()}-${m[2] === "symmetric" ? "symmetric" : "disadvantage"}`;
}

const recipes: Recipe[] = [
  {
    name: "savethecity",
    description: "SaveTheCity 2-5a_2-5b: ALMA, ALMA (no mask), heuristic allocation, A-QMIX, COPA",
    figure: "paper Fig. 3",
    metric: "test/success",
    runs: (scale, seeds, steps) =>
      grid(
        [
          { label: "alma", method: "alma" },
          { label: "alma-nomask", method: "alma-nomask" },
          { label: "heuristic", method: "heuristic" },
          { label: "aqmix", method: "aqmix" },
          { label: "copa", method: "copa" },
        ],
        "savethecity",
        "2-5a_2-5b",
        scale,
        seeds,
        steps,
      ),
  },
  ...BATTLE_SCENARIO_NAMES.map(
    (scenario): Recipe => ({
      name: familyRecipeName(scenario),
      description: `battle ${scenario}: ALMA, ALMA (no mask), heuristic matching, heuristic dynamic, REFIL, COPA`,
      figure: "paper Fig. 4",
      metric: "test/success",
      runs: (scale, seeds, steps) => grid(BATTLE_METHODS, "battle", scenario, scale, seeds, steps),
    }),
  ),
  {
    name: "battle-spread",
    description:
      "battle S&Z symmetric: ALMA vs REFIL trained with spread armies; curves of success, and an evaluation with armies spawned close together (spreadArmies=false)",
    figure: "paper Fig. 6a",
    metric: "test/success",
    runs: (scale, seeds, steps) =>
      grid(
        [
          { label: "alma", method: "alma" },
          { label: "refil", method: "refil" },
        ],
        "battle",
        "6-8sz_maxsize4_maxarmies3_symmetric",
        scale,
        seeds,
        steps,
      ),
    evals: (seeds) =>
      ["alma", "refil"].flatMap((label) =>
        Array.from({ length: seeds }, (_, seed) => ({
          label: `${label}-close-armies`,
          run: label,
          seed,
          // enough episodes for about 32 per spread bin (5 bins) per seed
          episodes: 160,
        })),
      ),
  },
  {
    name: "joint-training",
    description:
      "SaveTheCity: ALMA's allocator evaluated over low-level actors trained with heuristic allocation",
    figure: "paper Fig. 6b",
    metric: "test/success",
    runs: (scale, seeds, steps) =>
      grid(
        [
          { label: "alma", method: "alma" },
          { label: "heuristic", method: "heuristic" },
        ],
        "savethecity",
        "2-5a_2-5b",
        scale,
        seeds,
        steps,
      ),
    evals: (seeds) =>
      Array.from({ length: seeds }, (_, seed) => ({
        label: "alma-over-heuristic-actors",
        run: "alma",
        actorsFrom: "heuristic",
        seed,
      })),
  },
  {
    name: "sensitivity",
    description:
      "SaveTheCity: ALMA with different allocation lengths (action_length) and numbers of proposals (n_proposals)",
    figure: "paper Fig. 9",
    metric: "test/success",
    runs: (scale, seeds, steps) =>
      grid(
        [
          { label: "alma", method: "alma" },
          { label: "alma-action_length-2", method: "alma", sets: ["hierAgent.actionLength=2"] },
          { label: "alma-action_length-10", method: "alma", sets: ["hierAgent.actionLength=10"] },
          { label: "alma-n_proposals-4", method: "alma", sets: ["hierAgent.nProposals=4"] },
          { label: "alma-n_proposals-64", method: "alma", sets: ["hierAgent.nProposals=64"] },
        ],
        "savethecity",
        "2-5a_2-5b",
        scale,
        seeds,
        steps,
      ),
  },
];

export const RECIPE_NAMES: readonly string[] = recipes.map((r) => r.name);

export function recipe(name: string): Recipe {
  const r = recipes.find((x) => x.name === name);
  if (!r)
    throw new Error(`unknown experiment '${name}'; expected one of: ${RECIPE_NAMES.join(", ")}`);
  return r;
}
