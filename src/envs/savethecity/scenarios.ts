/**
 * SaveTheCity scenario families (spec: environments.md §2.3).
 *
 * A scenario is a team of agents plus a building spec: either a count range (building types drawn
 * i.i.d. at reset) or an explicit list of building types.
 */
import { Rng } from "../rng.js";
import {
  type AgentType,
  BUILDER,
  type BuildingType,
  FAST,
  FIREFIGHTER,
  GENERALIST,
  SLOW,
} from "./constants.js";

export interface Scenario {
  /** Agent types in stored order (alphabetical B, F, G for generated families: spec §2.4.3). */
  readonly team: readonly AgentType[];
  /** Either an inclusive building-count range or an explicit list of building types. */
  readonly buildings: { readonly min: number; readonly max: number } | readonly BuildingType[];
}

export interface ScenarioFamily {
  readonly name: string;
  readonly train: readonly Scenario[];
  readonly test: readonly Scenario[];
  readonly maxAgents: number;
  readonly maxBuildings: number;
  /** Spacing of building candidate cells: 3 → {1,4,7,10,13}², 7 → {1,8,15}². */
  readonly spacing: number;
  /** `infinite` draws fresh random teams at every reset instead of sampling a list. */
  readonly infinite?: {
    readonly minAgents: number;
    readonly maxAgents: number;
    readonly minBuildings: number;
    readonly maxBuildings: number;
  };
}

const LETTER_TO_AGENT: Record<string, AgentType> = { B: BUILDER, F: FIREFIGHTER, G: GENERALIST };
const AGENT_TO_LETTER: Record<AgentType, string> = {
  [BUILDER]: "B",
  [FIREFIGHTER]: "F",
  [GENERALIST]: "G",
};

/** Team as its letter string, e.g. `BBFG` (handy in tests and logs). */
export function teamLetters(team: readonly AgentType[]): string {
  return team.map((t) => AGENT_TO_LETTER[t]).join("");
}

function parseTeam(letters: string): AgentType[] {
  return [...letters].map((ch) => {
    const t = LETTER_TO_AGENT[ch];
    if (t === undefined) throw new Error(`unknown agent letter '${ch}' in team '${letters}'`);
    return t;
  });
}

/** Multisets of size `k` over `alphabet` (combinations with replacement, lexicographic). */
function multisets(alphabet: string, k: number): string[] {
  const out: string[] = [];
  const rec = (start: number, prefix: string) => {
    if (prefix.length === k) {
      out.push(prefix);
      return;
    }
    for (let i = start; i < alphabet.length; i++) rec(i, prefix + alphabet[i]);
  };
  rec(0, "");
  return out;
}

/** Number of distinct letters in a team. */
function distinct(team: string): number {
  return new Set(team).size;
}

/**
 * `generate_scen_dict` (§2.3): all multisets of {B,F,G} with sizes in range, shuffled with a
 * generator seeded 0, kept if "maximally diverse" (≥ min(3, size) distinct types), each paired with
 * exactly one more building than agents. Our shuffle uses our own generator (the spec only needs
 * the distribution); the `2-5a_2-5b` order is pinned to the original's list for index-based use.
 */
function generateTeams(minAgents: number, maxAgents: number): string[] {
  const all: string[] = [];
  for (let n = minAgents; n <= maxAgents; n++) all.push(...multisets("BFG", n));
  new Rng(0).shuffle(all);
  return all.filter((team) => distinct(team) >= Math.min(3, team.length));
}

/** The original's shuffled order of the default family (spec §2.3). */
const ORDER_2_5 = [
  "BG",
  "FG",
  "BFG",
  "BFFFG",
  "BFFGG",
  "BBBFG",
  "BBFG",
  "BBFFG",
  "BF",
  "BFGG",
  "BFFG",
  "BBFGG",
  "BFGGG",
];

function teamScenario(letters: string): Scenario {
  const n = letters.length;
  return { team: parseTeam(letters), buildings: { min: n + 1, max: n + 1 } };
}

function generatedFamily(name: string, minAgents: number, maxAgents: number): ScenarioFamily {
  const teams = name === "2-5a_2-5b" ? ORDER_2_5 : generateTeams(minAgents, maxAgents);
  const list = teams.map(teamScenario);
  // test_ratio = 1.0, train_ratio = None: train and test lists are the full list (§2.3.5).
  return { name, train: list, test: list, maxAgents, maxBuildings: maxAgents + 1, spacing: 3 };
}

/** Overlap coefficient of two multisets: |intersection| / min(|a|, |b|). */
export function overlapCoefficient(a: string, b: string): number {
  const count = (s: string) => {
    const m = new Map<string, number>();
    for (const ch of s) m.set(ch, (m.get(ch) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  let inter = 0;
  for (const [ch, na] of ca) inter += Math.min(na, cb.get(ch) ?? 0);
  return inter / Math.min(a.length, b.length);
}

/**
 * `2-8a_2-8b_sim_Q1..Q4` (§2.3): the 59 teams of `2-8a_2-8b` with spacing 7; the first 8 shuffled
 * teams are the test list; the other 51 are ranked by mean overlap-coefficient similarity to the
 * test teams (ascending, stable) and split into quartile rank ranges as training lists.
 */
function simQuartileFamily(q: 1 | 2 | 3 | 4): ScenarioFamily {
  const teams = generateTeams(2, 8);
  const nTest = Math.trunc(0.15 * teams.length);
  const test = teams.slice(0, nTest);
  const rest = teams.slice(nTest);
  const sim = rest.map(
    (t) => test.reduce((acc, u) => acc + overlapCoefficient(t, u), 0) / test.length,
  );
  const ranked = rest.map((_, i) => i).sort((i, j) => sim[i] - sim[j]);
  const bounds: Record<number, [number, number]> = {
    1: [0, 12],
    2: [12, 25],
    3: [25, 38],
    4: [38, 51],
  };
  const [lo, hi] = bounds[q];
  return {
    name: `2-8a_2-8b_sim_Q${q}`,
    train: ranked.slice(lo, hi).map((i) => teamScenario(rest[i])),
    test: test.map(teamScenario),
    maxAgents: 8,
    maxBuildings: 9,
    spacing: 7,
  };
}

function singleScenario(): ScenarioFamily {
  // Explicit stored order FFFBBBGG (not alphabetical) and buildings FFFFSSSS (§2.3).
  const scen: Scenario = {
    team: parseTeam("FFFBBBGG"),
    buildings: [FAST, FAST, FAST, FAST, SLOW, SLOW, SLOW, SLOW],
  };
  return {
    name: "single_scen",
    train: [scen],
    test: [scen],
    maxAgents: 8,
    maxBuildings: 8,
    spacing: 7,
  };
}

function infiniteFamily(): ScenarioFamily {
  return {
    name: "infinite",
    train: [],
    test: [],
    maxAgents: 8,
    maxBuildings: 8,
    spacing: 3,
    infinite: { minAgents: 2, maxAgents: 8, minBuildings: 2, maxBuildings: 8 },
  };
}

const GENERATED: Record<string, [number, number]> = {
  // Not in the paper: small families of the same construction, for quick experiments and for
  // checking that a learner learns before spending hours on `2-5a_2-5b` (teams BF, BG, FG; and BFG).
  "2a_2b": [2, 2],
  "3a_3b": [3, 3],
  "2-5a_2-5b": [2, 5],
  "2-8a_2-8b": [2, 8],
  "2-10a_2-10b": [2, 10],
  "12a_12b": [12, 12],
  "16a_16b": [16, 16],
  "20a_20b": [20, 20],
  "24a_24b": [24, 24],
};

/** Every registered SaveTheCity scenario family name. */
export const SCENARIO_NAMES: readonly string[] = [
  ...Object.keys(GENERATED),
  "2-8a_2-8b_sim_Q1",
  "2-8a_2-8b_sim_Q2",
  "2-8a_2-8b_sim_Q3",
  "2-8a_2-8b_sim_Q4",
  "single_scen",
  "infinite",
];

export const DEFAULT_SCENARIO = "2-5a_2-5b";

const cache = new Map<string, ScenarioFamily>();

/** Look up a scenario family by name; throws an error listing the valid names. */
export function scenarioFamily(name: string): ScenarioFamily {
  const hit = cache.get(name);
  if (hit) return hit;
  let fam: ScenarioFamily;
  const range = GENERATED[name];
  const q = /^2-8a_2-8b_sim_Q([1-4])$/.exec(name);
  if (range) fam = generatedFamily(name, range[0], range[1]);
  else if (q) fam = simQuartileFamily(Number(q[1]) as 1 | 2 | 3 | 4);
  else if (name === "single_scen") fam = singleScenario();
  else if (name === "infinite") fam = infiniteFamily();
  else
    throw new Error(
      `unknown SaveTheCity scenario '${name}'; expected one of: ${SCENARIO_NAMES.join(", ")}`,
    );
  cache.set(name, fam);
  return fam;
}
