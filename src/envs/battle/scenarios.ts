/**
 * Scenario registry of the StarCraft multi-army task (spec: environments.md §3.2, §3.3).
 *
 * A scenario is a pair (ally team, enemy team). Families enumerate ally teams from an "army spec"
 * (unit-type pools with size ranges, combinations with replacement, pool order, first entry
 * varying slowest); the enemy team is identical (symmetric) or has one extra unit fixed per
 * scenario (unit disadvantage, lists hard-coded from spec §3.2, which were drawn once by the
 * authors' generator with a fixed seed). The list order is the `reset({index})` order.
 */
import { UNIT_STATS, UnitKind, type UnitKindId } from "./units.js";

export interface TeamGroup {
  readonly kind: UnitKindId;
  readonly count: number;
}
/** A team: (kind, count) groups with count > 0, in pool order. */
export type Team = readonly TeamGroup[];

export interface BattleScenario {
  readonly allies: Team;
  readonly enemies: Team;
}

export interface ScenarioFamily {
  readonly name: string;
  readonly scenarios: readonly BattleScenario[];
  /** The "max types and units" scenario (spec §3.2): fixes the padded sizes and the reward scale. */
  readonly maxScenario: BattleScenario;
  /** Unit kinds of the max scenario sorted by SC2 standard type id; position = type index (§3.3). */
  readonly unitKinds: readonly UnitKindId[];
  /** The max scenario contains Medivacs (changes actions and the game-end rule, §3.3, §3.12). */
  readonly hasMedivacs: boolean;
  /** Either side is Protoss: entities carry a shield slot (§3.3). */
  readonly hasShields: boolean;
  readonly episodeLimit: number;
  /** Distance of the enemy armies' spawn points from the map centre (§3.6). */
  readonly separation: number;
  /** Ally spawn jitter half-width (§3.6). */
  readonly jitter: number;
  readonly maxArmySize: number;
  readonly maxArmies: number;
}

/** Sizes derived from a family (spec §3.3). */
export interface FamilySizes {
  readonly maxAgents: number;
  readonly maxEnemies: number;
  readonly nExtraTags: number;
  /** T: length of the identity one-hot = number of tags. */
  readonly nTags: number;
  readonly nActions: number;
  readonly entityShape: number;
  readonly nEntities: number;
  readonly nTasks: number;
  readonly typeBits: number;
  readonly healthBits: number;
  /** `max_n_enemies*10 + 200 + sum(health_max + shield_max)` over the max scenario's enemies. */
  readonly maxReward: number;
  /** Every reward is divided by this: `max_reward / reward_scale_rate(20)`. */
  readonly rewardDivisor: number;
}

export const EPISODE_LIMIT = 150;
export const REWARD_DEATH_VALUE = 10;
export const REWARD_WIN = 200;
export const REWARD_SCALE_RATE = 20;

interface PoolSpec {
  readonly pool: readonly UnitKindId[];
  readonly minSize: number;
  readonly maxSize: number;
}

/** Count vectors of every multiset of `pool` of size `k`, in `combinations_with_replacement` order. */
function multisets(poolSize: number, k: number): number[][] {
  const result: number[][] = [];
  const idx = new Array<number>(k).fill(0);
  const emit = (): void => {
    const counts = new Array<number>(poolSize).fill(0);
    for (const i of idx) counts[i]++;
    result.push(counts);
  };
  if (k === 0) {
    result.push(new Array<number>(poolSize).fill(0));
    return result;
  }
  for (;;) {
    emit();
    let pos = k - 1;
    while (pos >= 0 && idx[pos] === poolSize - 1) pos--;
    if (pos < 0) return result;
    const v = idx[pos] + 1;
    for (let p = pos; p < k; p++) idx[p] = v;
  }
}

/** Every team of an army spec (Cartesian product over entries, first entry varying slowest). */
export function enumerateTeams(spec: readonly PoolSpec[]): Team[] {
  let partial: number[][][] = [[]];
  for (const entry of spec) {
    const options: number[][] = [];
    for (let k = entry.minSize; k <= entry.maxSize; k++)
      options.push(...multisets(entry.pool.length, k));
    const next: number[][][] = [];
    for (const prefix of partial) for (const option of options) next.push([...prefix, option]);
    partial = next;
  }
  return partial.map((choice) => {
    const team: TeamGroup[] = [];
    choice.forEach((counts, e) => {
      counts.forEach((count, i) => {
        if (count > 0) team.push({ kind: spec[e].pool[i], count });
      });
    });
    return team;
  });
}

export function teamSize(team: Team): number {
  let n = 0;
  for (const g of team) n += g.count;
  return n;
}

function teamWithExtra(team: Team, extra: UnitKindId, poolOrder: readonly UnitKindId[]): Team {
  const counts = new Map<UnitKindId, number>();
  for (const g of team) counts.set(g.kind, (counts.get(g.kind) ?? 0) + g.count);
  counts.set(extra, (counts.get(extra) ?? 0) + 1);
  return poolOrder
    .filter((k) => (counts.get(k) ?? 0) > 0)
    .map((k) => ({ kind: k, count: counts.get(k)! }));
}

/** Stable sort by (distinct kinds, total units) descending; the first element (spec §3.2). */
function maxTeam(teams: readonly Team[]): Team {
  let best = teams[0];
  for (const t of teams) {
    if (t.length > best.length || (t.length === best.length && teamSize(t) > teamSize(best)))
      best = t;
  }
  return best;
}

/**
 * Disadvantage extra units, verbatim from spec §3.2 (ally counts, then `+` the extra enemy unit).
 * S&Z: `Stalker/Zealot`; MMM: `Marine/Marauder/Medivac`.
 */
export const SZ_DISADVANTAGE_LIST =
  "3/0+S 2/1+Z 1/2+Z 0/3+S 4/0+Z 3/1+Z 2/2+Z 1/3+Z 0/4+Z 5/0+Z 4/1+Z 3/2+S 2/3+S 1/4+Z 0/5+S " +
  "6/0+S 5/1+S 4/2+S 3/3+S 2/4+Z 1/5+S 0/6+Z 7/0+Z 6/1+S 5/2+S 4/3+Z 3/4+Z 2/5+Z 1/6+Z 0/7+S " +
  "8/0+Z 7/1+S 6/2+Z 5/3+S 4/4+Z 3/5+Z 2/6+S 1/7+Z 0/8+Z";
export const MMM_DISADVANTAGE_LIST =
  "3/0/0+Mi 3/0/1+Ma 3/0/2+Ma 2/1/0+Mi 2/1/1+Ma 2/1/2+Ma 1/2/0+Ma 1/2/1+Ma 1/2/2+Ma 0/3/0+Ma " +
  "0/3/1+Ma 0/3/2+Mi 4/0/0+Mi 4/0/1+Ma 4/0/2+Mi 3/1/0+Mi 3/1/1+Mi 3/1/2+Mi 2/2/0+Mi 2/2/1+Ma " +
  "2/2/2+Mi 1/3/0+Ma 1/3/1+Ma 1/3/2+Mi 0/4/0+Mi 0/4/1+Ma 0/4/2+Ma 5/0/0+Ma 5/0/1+Ma 5/0/2+Mi " +
  "4/1/0+Ma 4/1/1+Mi 4/1/2+Ma 3/2/0+Mi 3/2/1+Ma 3/2/2+Ma 2/3/0+Mi 2/3/1+Ma 2/3/2+Ma 1/4/0+Mi " +
  "1/4/1+Mi 1/4/2+Ma 0/5/0+Mi 0/5/1+Ma 0/5/2+Ma 6/0/0+Ma 6/0/1+Ma 6/0/2+Ma 5/1/0+Mi 5/1/1+Ma " +
  "5/1/2+Mi 4/2/0+Ma 4/2/1+Ma 4/2/2+Ma 3/3/0+Ma 3/3/1+Mi 3/3/2+Ma 2/4/0+Mi 2/4/1+Mi 2/4/2+Ma " +
  "1/5/0+Ma 1/5/1+Mi 1/5/2+Ma 0/6/0+Mi 0/6/1+Ma 0/6/2+Mi";

/**
 * Enemy teams of a disadvantage family: each listed entry must match the ally team at the same
 * index (checked, so a transcription error fails loudly at import).
 */
function disadvantageEnemies(
  allies: readonly Team[],
  list: string,
  countOrder: readonly UnitKindId[],
  extraCodes: Readonly<Record<string, UnitKindId>>,
  poolOrder: readonly UnitKindId[],
): Team[] {
  const entries = list.trim().split(/\s+/);
  if (entries.length !== allies.length) {
    throw new Error(`disadvantage list has ${entries.length} entries, expected ${allies.length}`);
  }
  return entries.map((entry, i) => {
    const [countsText, code] = entry.split("+");
    const counts = countsText.split("/").map(Number);
    for (let c = 0; c < countOrder.length; c++) {
      const have = allies[i].find((g) => g.kind === countOrder[c])?.count ?? 0;
      if (have !== counts[c])
        throw new Error(`disadvantage entry ${i} (${entry}) does not match its ally team`);
    }
    const extra = extraCodes[code];
    if (extra === undefined) throw new Error(`unknown extra unit code ${code}`);
    return teamWithExtra(allies[i], extra, poolOrder);
  });
}

function makeFamily(
  name: string,
  allies: readonly Team[],
  enemies: readonly Team[],
): ScenarioFamily {
  const scenarios = allies.map((a, i) => ({ allies: a, enemies: enemies[i] }));
  const maxScenario = { allies: maxTeam(allies), enemies: maxTeam(enemies) };
  const kinds = new Set<UnitKindId>();
  for (const g of [...maxScenario.allies, ...maxScenario.enemies]) kinds.add(g.kind);
  const unitKinds = [...kinds].sort((a, b) => UNIT_STATS[a].standardId - UNIT_STATS[b].standardId);
  return {
    name,
    scenarios,
    maxScenario,
    unitKinds,
    hasMedivacs: kinds.has(UnitKind.Medivac),
    hasShields: unitKinds.some((k) => UNIT_STATS[k].shieldMax > 0),
    episodeLimit: EPISODE_LIMIT,
    separation: 14,
    jitter: 1,
    maxArmySize: 4,
    maxArmies: 3,
  };
}

const SZ_POOL: readonly UnitKindId[] = [UnitKind.Stalker, UnitKind.Zealot];
const MMM_POOL: readonly UnitKindId[] = [UnitKind.Marine, UnitKind.Marauder, UnitKind.Medivac];

/** S&Z ally teams: {Stalker, Zealot} of size 3..8 (39 teams). */
const SZ_TEAMS = enumerateTeams([{ pool: SZ_POOL, minSize: 3, maxSize: 8 }]);
/** MMM ally teams: {Marine, Marauder} of size 3..6 x {Medivac} of size 0..2 (66 teams). */
const MMM_TEAMS = enumerateTeams([
  { pool: [UnitKind.Marine, UnitKind.Marauder], minSize: 3, maxSize: 6 },
  { pool: [UnitKind.Medivac], minSize: 0, maxSize: 2 },
]);

export const SZ_SYMMETRIC = "6-8sz_maxsize4_maxarmies3_symmetric";
export const SZ_DISADVANTAGE = "6-8sz_maxsize4_maxarmies3_unitdisadvantage";
export const MMM_SYMMETRIC = "6-8MMM_maxsize4_maxarmies3_symmetric";
export const MMM_DISADVANTAGE = "6-8MMM_maxsize4_maxarmies3_unitdisadvantage";
export const DEFAULT_BATTLE_SCENARIO = SZ_SYMMETRIC;

/** The four ALMA scenario families by registry name (spec §3.2). */
export const BATTLE_SCENARIOS: Readonly<Record<string, ScenarioFamily>> = {
  [SZ_SYMMETRIC]: makeFamily(SZ_SYMMETRIC, SZ_TEAMS, SZ_TEAMS),
  [SZ_DISADVANTAGE]: makeFamily(
    SZ_DISADVANTAGE,
    SZ_TEAMS,
    disadvantageEnemies(
      SZ_TEAMS,
      SZ_DISADVANTAGE_LIST,
      SZ_POOL,
      { S: UnitKind.Stalker, Z: UnitKind.Zealot },
      SZ_POOL,
    ),
  ),
  [MMM_SYMMETRIC]: makeFamily(MMM_SYMMETRIC, MMM_TEAMS, MMM_TEAMS),
  [MMM_DISADVANTAGE]: makeFamily(
    MMM_DISADVANTAGE,
    MMM_TEAMS,
    disadvantageEnemies(
      MMM_TEAMS,
      MMM_DISADVANTAGE_LIST,
      MMM_POOL,
      { Mi: UnitKind.Marine, Ma: UnitKind.Marauder },
      MMM_POOL,
    ),
  ),
};

export const BATTLE_SCENARIO_NAMES: readonly string[] = Object.keys(BATTLE_SCENARIOS);

export function getScenarioFamily(name: string): ScenarioFamily {
  const family = BATTLE_SCENARIOS[name];
  if (family === undefined) {
    throw new RangeError(
      `unknown battle scenario "${name}"; known: ${BATTLE_SCENARIO_NAMES.join(", ")}`,
    );
  }
  return family;
}

/** Derived sizes of a family (spec §3.3), for `n_extra_tags = nExtraTags`. */
export function familySizes(family: ScenarioFamily, nExtraTags = 0): FamilySizes {
  const maxAgents = teamSize(family.maxScenario.allies);
  const maxEnemies = teamSize(family.maxScenario.enemies);
  const nTags = maxAgents + maxEnemies + 2 * nExtraTags;
  const nActions = family.hasMedivacs
    ? 6 + maxEnemies + maxAgents + 2 * nExtraTags
    : 6 + maxEnemies + nExtraTags;
  const typeBits = family.unitKinds.length > 1 ? family.unitKinds.length : 0;
  const healthBits = family.hasShields ? 2 : 1;
  let enemyLifeTotal = 0;
  for (const g of family.maxScenario.enemies) {
    enemyLifeTotal += g.count * (UNIT_STATS[g.kind].healthMax + UNIT_STATS[g.kind].shieldMax);
  }
  const maxReward = maxEnemies * REWARD_DEATH_VALUE + REWARD_WIN + enemyLifeTotal;
  return {
    maxAgents,
    maxEnemies,
    nExtraTags,
    nTags,
    nActions,
    entityShape: nTags + (nActions - 2) + typeBits + healthBits + 2 + 4 + 4,
    nEntities: maxAgents + maxEnemies,
    nTasks: family.maxArmies,
    typeBits,
    healthBits,
    maxReward,
    rewardDivisor: maxReward / REWARD_SCALE_RATE,
  };
}
