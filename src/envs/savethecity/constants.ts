/** SaveTheCity constants (spec: environments.md §2.1, §2.2). */

export const GRID = 16;
export const EPISODE_LIMIT = 150;
export const REWARD_SCALE = 20;
export const INIT_FIRE_CHANCE = 0.4;
export const FIRE_BURN_RATE = 0.035;
export const FIRE_REDUCE_RATE = 0.25;
export const FIRE_GROWTH_RATE = 1.1;
export const BASE_BUILD_RATE = 0.125;
export const GENERALIST_HELP_FACTOR = 0.45;

export const REWARD_HEALTH_DELTA_MULT = 10.0;
export const REWARD_COMPLETE = 1.0;
export const REWARD_BURNED_DOWN = -20.0;
export const REWARD_EXTINGUISH = 0.5;
export const REWARD_SOLVED = 20.0;
export const REWARD_TS_PEN = 0.0;

export const N_ACTIONS = 12;
export const ENTITY_SHAPE = 58;
/** Fire timer value of a finished (complete or burned) building: frozen forever (§2.7.5). */
export const FINISHED_FIRE_TIMER = 1000;

/** Entity type ids: the index of the type one-hot (§2.2). */
export const FAST = 0;
export const SLOW = 1;
export const FIREFIGHTER = 2;
export const BUILDER = 3;
export const GENERALIST = 4;
export type BuildingType = typeof FAST | typeof SLOW;
export type AgentType = typeof FIREFIGHTER | typeof BUILDER | typeof GENERALIST;

/** Per-building-type burn rate and inclusive fire restart-interval range (§2.2). */
export const BURN_RATE: Record<BuildingType, number> = { [FAST]: 1.0, [SLOW]: 0.5 };
export const RESTART_RANGE: Record<BuildingType, readonly [number, number]> = {
  [FAST]: [60, 80],
  [SLOW]: [10, 30],
};
/** Normalisers of entity feature 57 (§2.10): 1 = re-ignites every 10 steps, 0 = every 80. */
export const MIN_FIRE_START_RATE = 10;
export const MAX_FIRE_START_RATE = 80;

/** Per-agent-type speeds (§2.2). Indexed by type id. */
export const FIRE_SPEED: Record<AgentType, number> = {
  [FIREFIGHTER]: 1.0,
  [BUILDER]: 0.05,
  [GENERALIST]: 0.0,
};
export const BUILD_SPEED: Record<AgentType, number> = {
  [FIREFIGHTER]: 0.05,
  [BUILDER]: 1.0,
  [GENERALIST]: 0.0,
};

/** Action indices (§2.5). Moves: N is +y, E is +x. */
export const ACT_STAY = 0;
export const ACT_FIGHT = 9;
export const ACT_BUILD = 10;
export const ACT_FREEZE = 11;
/** dx, dy of actions 1..8 (N, E, S, W at distance 1, then distance 2). */
export const MOVE_DX = [0, 0, 1, 0, -1, 0, 2, 0, -2] as const;
export const MOVE_DY = [0, 1, 0, -1, 0, 2, 0, -2, 0] as const;

export const ACTION_NAMES: readonly string[] = [
  "stay",
  "north",
  "east",
  "south",
  "west",
  "north2",
  "east2",
  "south2",
  "west2",
  "fight-fire",
  "build",
  "freeze",
];

/** Orthogonal neighbour order used to find the adjacent building: N, E, S, W (§2.5). */
export const NEIGHBOUR_DX = [0, 1, 0, -1] as const;
export const NEIGHBOUR_DY = [1, 0, -1, 0] as const;

export const AGENT_LETTER: Record<AgentType, string> = {
  [FIREFIGHTER]: "F",
  [BUILDER]: "B",
  [GENERALIST]: "G",
};
export const AGENT_TYPE_NAME: Record<AgentType, string> = {
  [FIREFIGHTER]: "firefighter",
  [BUILDER]: "builder",
  [GENERALIST]: "generalist",
};
export const BUILDING_TYPE_NAME: Record<BuildingType, string> = {
  [FAST]: "fast-burn",
  [SLOW]: "slow-burn",
};
