/**
 * StarCraft multi-army base defence on an engine-free combat simulator (spec: environments.md
 * §3-§6). Registry name `battle` (the original's `sc2multiarmy`).
 */

export { battleEnvEntry, battleOptionsFromRegistry } from "./entry.js";
export {
  armyCountFeasible,
  BASE_RADIUS,
  BATTLE_ENV_NAME,
  BattleAction,
  BattleEnv,
  type BattleEnvOptions,
  type BattleEpisodeRecord,
  EndCode,
  MAP_CENTER,
  MAP_SIZE,
  makeBattleEnv,
  SHOOT_RANGE,
  SIGHT_RANGE,
} from "./env.js";
export {
  HEURISTIC_DYNAMIC,
  HEURISTIC_MATCHING,
  HeuristicAllocator,
  type HeuristicInput,
  type HeuristicStyle,
  parseHeuristicStyle,
} from "./heuristic.js";
export { scriptedBattleActions } from "./policy.js";
export {
  BATTLE_SCENARIO_NAMES,
  BATTLE_SCENARIOS,
  type BattleScenario,
  DEFAULT_BATTLE_SCENARIO,
  type FamilySizes,
  familySizes,
  getScenarioFamily,
  MMM_DISADVANTAGE,
  MMM_SYMMETRIC,
  type ScenarioFamily,
  SZ_DISADVANTAGE,
  SZ_SYMMETRIC,
  type Team,
  type TeamGroup,
  teamSize,
} from "./scenarios.js";
export { BattleSim, DEFAULT_SIM_CONFIG, Order, Side, type SimConfig } from "./sim.js";
export { renderBattleSvg } from "./svg.js";
export {
  Attr,
  LOOPS_PER_STEP,
  UNIT_STATS,
  UnitKind,
  type UnitKindId,
  type UnitStats,
} from "./units.js";
