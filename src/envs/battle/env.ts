/**
 * The StarCraft multi-army base-defence task (`sc2multiarmy`, spec: environments.md §3) on the
 * engine-free combat simulator of `sim.ts`.
 *
 * Agents defend a base (disc of radius 2 at the map centre) against 2-3 enemy armies that
 * alternately attack-move to the base and retreat to their spawn points. Subtask k = enemy army k.
 *
 * Slot layout: agent `a` lives in simulator slot `a` and entity row `a`; enemy `e` lives in slot
 * and entity row `maxAgents + e` (spec §1.3 entity order). All per-step work reuses preallocated
 * typed arrays.
 *
 * QUIRKS OF THE ORIGINAL, REPRODUCED BY DEFAULT (spec §3.14, §7.3):
 * - task (per-army) rewards are computed after the global pass has marked this step's deaths as
 *   counted, so they contain no kill bonus and no damage of the killing blow (`taskRewardQuirk`);
 * - the +200 army-defeat task reward is paid on every step the army stays defeated (same switch);
 * - the global reward can be negative (enemy shield regeneration, enemy Medivac heals);
 * - time-outs are true terminals (`episodeLimit` info flag never set).
 */
import { Rng } from "../rng.js";
import {
  AVAIL_ALLY_BASE,
  AVAIL_FREE,
  AVAIL_TASK_BASE,
  allocMasks,
  allocStepResult,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  InvalidActionError,
  type ResetOptions,
  type StepResult,
} from "../types.js";
import { HEURISTIC_DYNAMIC, HeuristicAllocator, type HeuristicInput } from "./heuristic.js";
import {
  type BattleScenario,
  DEFAULT_BATTLE_SCENARIO,
  type FamilySizes,
  familySizes,
  getScenarioFamily,
  REWARD_DEATH_VALUE,
  REWARD_WIN,
  type ScenarioFamily,
  teamSize,
} from "./scenarios.js";
import { BattleSim, Side, type SimConfig } from "./sim.js";
import { LOOPS_PER_STEP, UNIT_STATS, UnitKind, type UnitKindId } from "./units.js";

export const BATTLE_ENV_NAME = "battle";

/** Map side length and centre (spec §3.4). */
export const MAP_SIZE = 32;
export const MAP_CENTER = 16;
/** An army has entered the base when a non-Medivac unit centre is closer than this to the centre. */
export const BASE_RADIUS = 2;
/** Center-distance threshold of attack and heal availability (spec §3.1, §3.10). */
export const SHOOT_RANGE = 6;
/** Sight range of the observation mask (spec §3.1: 2 x separation). */
export const SIGHT_RANGE = 28;
/** Move orders target a point this far away (spec §3.1). */
export const MOVE_AMOUNT = 2;
/** Heal boost multiplier on army defeat (spec §3.13). */
export const HEAL_BOOST_MULTIPLIER = 4.0;
/** Uninitialised entries of the distance matrix (spec §3.17). */
const FAR = 1000;

/** Action indices (spec §3.10; note the N, S, E, W move order). */
export const BattleAction = {
  NoOp: 0,
  Stop: 1,
  MoveNorth: 2,
  MoveSouth: 3,
  MoveEast: 4,
  MoveWest: 5,
  /** Attack enemy with tag k / heal agent with tag k: action `TargetBase + k`. */
  TargetBase: 6,
} as const;

/** Game end codes (spec §3.12); `None` = the game goes on. Army codes are -1 / 0 / 1 likewise. */
export const EndCode = { Loss: -1, Draw: 0, Win: 1, None: 2 } as const;

export interface BattleEnvOptions {
  /** Registry name of the scenario family (default `6-8sz_maxsize4_maxarmies3_symmetric`). */
  scenario?: string;
  seed?: number;
  /** Write the heuristic allocation into the agent rows of `entity2taskMask` (spec §3.17). */
  heuristicAlloc?: boolean;
  /** Heuristic style (spec §3.18); default `attacking-type-unassigned-diff` (Dynamic). */
  heuristicStyle?: string;
  /** Maximally spread armies (default true); false = random angular multipliers (§3.6). */
  spreadArmies?: boolean;
  /**
   * Reproduce the original's per-army reward ordering (no kill bonus / killing-blow damage in task
   * rewards; +200 repeated every step an army stays defeated). Default true (spec §3.14, §8.12).
   * When false, task rewards include kills and pay +200 once, on the step the army is defeated.
   */
  taskRewardQuirk?: boolean;
  /** `n_extra_tags` (spec §1.6, §3.3); default 0. */
  nExtraTags?: number;
  /** Override the episode limit (default 150 from the scenario, spec §3.1). */
  episodeLimit?: number;
  /**
   * Treat the outermost ring of map cells as unpathable for move availability (spec §8.2).
   * DESIGN CHOICE: default false (every cell of the 32 x 32 map is pathable).
   */
  edgeCellsBlocked?: boolean;
  /**
   * Let dead units observe themselves (`obsMask[i][i] = 0`), as the original's distance matrix
   * does (diagonal 0 even for dead units, spec §3.17). Default false: the `CompositeEnv` contract
   * says inactive entities observe nothing and are observed by nobody (conformance suite).
   */
  deadSelfObservation?: boolean;
  /** Combat-simulator choices for the open engine questions (spec §8). */
  sim?: Partial<SimConfig>;
}

/** Per-episode record that the original reports in `info` as non-numeric keys (spec §3.15). */
export interface BattleEpisodeRecord {
  readonly scenarioIndex: number;
  /** One composition string per army, e.g. `S2Z1` (spec §3.15). */
  readonly scenario: readonly string[];
  readonly armiesDefeated: readonly boolean[];
  readonly armiesInfiltrated: readonly boolean[];
  /** `spread_mult`: the last army's angular multiplier (1 when spread, spec §3.6). */
  readonly spread: number;
  readonly nArmies: number;
  readonly timedOut: boolean;
}

const UNIT_LETTER: Readonly<Record<number, string>> = {
  [UnitKind.Marine]: "M",
  [UnitKind.Marauder]: "R",
  [UnitKind.Medivac]: "V",
  [UnitKind.Stalker]: "S",
  [UnitKind.Zealot]: "Z",
};

export class BattleEnv implements CompositeEnv {
  readonly name = BATTLE_ENV_NAME;
  readonly scenario: string;
  readonly info: EnvInfo;
  readonly actionNames: readonly string[];
  readonly family: ScenarioFamily;
  readonly sizes: FamilySizes;
  readonly sim: BattleSim;
  readonly heuristicAlloc: boolean;
  readonly heuristicStyle: string;
  readonly spreadArmies: boolean;
  readonly taskRewardQuirk: boolean;
  readonly edgeCellsBlocked: boolean;
  readonly deadSelfObservation: boolean;

  // ----- episode state (public for rendering and tests; do not mutate)
  /** Index of the current scenario in `family.scenarios`. */
  scenarioIndex = -1;
  nAgents = 0;
  nEnemies = 0;
  nArmies = 0;
  /** Unit kind of agent a / enemy e. */
  readonly agentKind: Uint8Array;
  readonly enemyKind: Uint8Array;
  /** Type index (spec §3.3) of agent a / enemy e. */
  readonly agentType: Int32Array;
  readonly enemyType: Int32Array;
  /** Identity tags (spec §3.8): position of the one-hot and target action `6 + tag`. */
  readonly agentTag: Int32Array;
  readonly enemyTag: Int32Array;
  /** Inverse tag maps (-1 when the tag is unused this episode). */
  readonly tagToAgent: Int32Array;
  readonly tagToEnemy: Int32Array;
  readonly enemyArmy: Int32Array;
  /** Absolute spawn point of army k. */
  readonly armyX: Float64Array;
  readonly armyY: Float64Array;
  readonly armyAttacking: Uint8Array;
  readonly timeToNextSwitch: Int32Array;
  readonly timeSinceLastSwitch: Int32Array;
  /** Subtask end code of army k after the last step (0 active, 1 defeated, -1 infiltrated). */
  readonly armyCode: Int8Array;
  /** Task vector: 1 = army task over (or padding). */
  readonly taskDone: Uint8Array;
  /** `shuffled_agent_ids` (spec §3.5 step 7). */
  readonly shuffledAgents: Int32Array;
  spreadMult = 1;

  private readonly rng: Rng;
  private readonly heuristic: HeuristicAllocator;
  private readonly heuristicInput: {
    nAgents: number;
    agentType: Int32Array;
    agentAlive: Uint8Array;
    agentOrder: Int32Array;
    nEnemies: number;
    enemyType: Int32Array;
    enemyAlive: Uint8Array;
    enemyArmy: Int32Array;
    nArmies: number;
    armyAttacking: Uint8Array;
    taskDone: Uint8Array;
  };
  private readonly typeIndexOfKind: Int32Array;
  private readonly prevX: Float64Array;
  private readonly prevY: Float64Array;
  private readonly prevAlive: Uint8Array;
  private readonly prevLifeShield: Float64Array;
  private readonly deathCounted: Uint8Array;
  private readonly diedThisStep: Uint8Array;
  private readonly healList: Uint8Array;
  private healStatSum = 0;
  private healStatCount = 0;
  private healsAllowed = false;
  private readonly avail: Int32Array;
  private readonly entities: Float32Array;
  private readonly masks: EnvMasks;
  private readonly allocation: Int32Array;
  private readonly result: StepResult;
  private readonly prevTaskDone: Uint8Array;
  private readonly episodeLimitSteps: number;
  private steps = 0;
  private started = false;
  private done = false;
  private timedOut = false;
  private scenarioStrings: string[] = [];
  private readonly spawnScratch = new Float64Array(2);

  constructor(options: BattleEnvOptions = {}) {
    this.scenario = options.scenario ?? DEFAULT_BATTLE_SCENARIO;
    this.family = getScenarioFamily(this.scenario);
    const nExtraTags = options.nExtraTags ?? 0;
    if (!Number.isInteger(nExtraTags) || nExtraTags < 0) {
      throw new RangeError(`nExtraTags must be a non-negative integer, got ${nExtraTags}`);
    }
    this.sizes = familySizes(this.family, nExtraTags);
    this.heuristicAlloc = options.heuristicAlloc ?? false;
    this.heuristicStyle = options.heuristicStyle ?? HEURISTIC_DYNAMIC;
    this.spreadArmies = options.spreadArmies ?? true;
    this.taskRewardQuirk = options.taskRewardQuirk ?? true;
    this.edgeCellsBlocked = options.edgeCellsBlocked ?? false;
    this.deadSelfObservation = options.deadSelfObservation ?? false;
    this.episodeLimitSteps = options.episodeLimit ?? this.family.episodeLimit;
    const s = this.sizes;
    this.info = {
      entityShape: s.entityShape,
      nActions: s.nActions,
      nAgents: s.maxAgents,
      nEntities: s.nEntities,
      nTasks: s.nTasks,
      episodeLimit: this.episodeLimitSteps,
    };
    const names = ["no-op", "stop", "move-north", "move-south", "move-east", "move-west"];
    for (let k = 0; k < s.nActions - BattleAction.TargetBase; k++) {
      names.push(k < s.maxEnemies + nExtraTags ? `attack-tag-${k}` : `heal-tag-${k}`);
    }
    this.actionNames = names;

    this.rng = new Rng(options.seed ?? 0);
    this.sim = new BattleSim(s.nEntities, { mapSize: MAP_SIZE, ...options.sim });
    const A = s.maxAgents;
    const E = s.maxEnemies;
    const K = s.nTasks;
    this.agentKind = new Uint8Array(A);
    this.enemyKind = new Uint8Array(E);
    this.agentType = new Int32Array(A);
    this.enemyType = new Int32Array(E);
    this.agentTag = new Int32Array(A);
    this.enemyTag = new Int32Array(E);
    this.tagToAgent = new Int32Array(s.nTags).fill(-1);
    this.tagToEnemy = new Int32Array(s.nTags).fill(-1);
    this.enemyArmy = new Int32Array(E);
    this.armyX = new Float64Array(K);
    this.armyY = new Float64Array(K);
    this.armyAttacking = new Uint8Array(K);
    this.timeToNextSwitch = new Int32Array(K);
    this.timeSinceLastSwitch = new Int32Array(K);
    this.armyCode = new Int8Array(K);
    this.taskDone = new Uint8Array(K).fill(1);
    this.prevTaskDone = new Uint8Array(K);
    this.shuffledAgents = new Int32Array(A);
    this.typeIndexOfKind = new Int32Array(UNIT_STATS.length).fill(-1);
    this.family.unitKinds.forEach((kind, i) => {
      this.typeIndexOfKind[kind] = i;
    });
    const cap = s.nEntities;
    this.prevX = new Float64Array(cap);
    this.prevY = new Float64Array(cap);
    this.prevAlive = new Uint8Array(cap);
    this.prevLifeShield = new Float64Array(cap);
    this.deathCounted = new Uint8Array(cap);
    this.diedThisStep = new Uint8Array(E);
    this.healList = new Uint8Array(A);
    this.avail = new Int32Array(A * s.nActions);
    this.entities = new Float32Array(s.nEntities * s.entityShape);
    this.masks = allocMasks(this.info);
    this.allocation = new Int32Array(A).fill(-1);
    this.heuristic = new HeuristicAllocator(this.heuristicStyle, this.family.unitKinds.length, K);
    this.heuristicInput = {
      nAgents: 0,
      agentType: this.agentType,
      agentAlive: this.sim.alive.subarray(0, A),
      agentOrder: this.shuffledAgents,
      nEnemies: 0,
      enemyType: this.enemyType,
      enemyAlive: this.sim.alive.subarray(A, A + E),
      enemyArmy: this.enemyArmy,
      nArmies: 0,
      armyAttacking: this.armyAttacking,
      taskDone: this.taskDone,
    };
    this.result = allocStepResult({ nTasks: K });
  }

  get nActiveAgents(): number {
    return this.nAgents;
  }

  get nActiveTasks(): number {
    return this.nArmies;
  }

  get time(): number {
    return this.steps;
  }

  /** True once the current episode has ended. */
  get terminated(): boolean {
    return this.done;
  }

  /** Simulator slot of enemy `e`. */
  enemySlot(e: number): number {
    return this.sizes.maxAgents + e;
  }

  // ================================================================ reset (spec §3.5, §3.6)

  reset(options: ResetOptions = {}): void {
    if (options.seed !== undefined) this.rng.seed(options.seed);
    if (options.index !== undefined && options.nTasks !== undefined) {
      throw new RangeError("reset: pass at most one of index / nTasks");
    }
    const family = this.family;
    const rng = this.rng;
    const s = this.sizes;
    // 2. scenario choice
    let index: number;
    if (options.index !== undefined) {
      index = options.index;
      if (!Number.isInteger(index) || index < 0 || index >= family.scenarios.length) {
        throw new RangeError(`reset: index ${index} outside 0..${family.scenarios.length - 1}`);
      }
    } else if (options.nTasks !== undefined) {
      const nTasks = options.nTasks;
      if (!family.scenarios.some((sc) => armyCountFeasible(teamSize(sc.enemies), nTasks))) {
        throw new RangeError(`reset: no scenario of ${this.scenario} can have ${nTasks} armies`);
      }
      do {
        index = rng.int(family.scenarios.length);
      } while (!armyCountFeasible(teamSize(family.scenarios[index].enemies), nTasks));
    } else {
      index = rng.int(family.scenarios.length);
    }
    const scenario = family.scenarios[index];
    this.scenarioIndex = index;
    this.nAgents = teamSize(scenario.allies);
    this.nEnemies = teamSize(scenario.enemies);
    this.generateAndSpawn(scenario, options.nTasks);
    this.assignTags();
    // 7. shuffled agent ids
    for (let a = 0; a < this.nAgents; a++) this.shuffledAgents[a] = a;
    rng.shuffle(this.shuffledAgents, this.nAgents);
    // 8. attack schedule (spec §3.9)
    let minTimer = Infinity;
    for (let k = 0; k < this.nArmies; k++) {
      this.timeToNextSwitch[k] = rng.int(20);
      if (this.timeToNextSwitch[k] < minTimer) minTimer = this.timeToNextSwitch[k];
    }
    for (let k = 0; k < s.nTasks; k++) {
      if (k < this.nArmies) this.timeToNextSwitch[k] -= minTimer;
      else this.timeToNextSwitch[k] = 0;
      this.timeSinceLastSwitch[k] = 0;
      this.armyAttacking[k] = 0;
    }
    // 9-10. heals, task vector, snapshots
    this.healsAllowed = this.nEnemies > this.nAgents;
    this.healStatSum = 0;
    this.healStatCount = 0;
    for (let k = 0; k < s.nTasks; k++) {
      const real = k < this.nArmies;
      this.taskDone[k] = real ? 0 : 1;
      this.armyCode[k] = real ? 0 : 1;
    }
    this.snapshot();
    this.deathCounted.fill(0);
    this.steps = 0;
    this.done = false;
    this.timedOut = false;
    this.started = true;
    this.runSwitchRoutine();
    this.heuristicInput.nAgents = this.nAgents;
    this.heuristicInput.nEnemies = this.nEnemies;
    this.heuristicInput.nArmies = this.nArmies;
    this.computeAvail();
  }

  /** Spec §3.6 (army generation, placement) and §3.7-§3.8 (ordering, army identification). */
  private generateAndSpawn(scenario: BattleScenario, forcedArmies: number | undefined): void {
    const rng = this.rng;
    const family = this.family;
    const sim = this.sim;
    const nE = this.nEnemies;
    // 1. ally spawn points, one per (kind, count) group: centre + (u - 0.5) * 2 * jitter
    const groupX: number[] = [];
    const groupY: number[] = [];
    for (let g = 0; g < scenario.allies.length; g++) {
      groupX.push(MAP_CENTER + (rng.random() - 0.5) * 2 * family.jitter);
      groupY.push(MAP_CENTER + (rng.random() - 0.5) * 2 * family.jitter);
    }
    // 2. rotation
    const theta = rng.random() * 2 * Math.PI;
    // 3. number of armies
    const lo = Math.max(2, Math.ceil(nE / family.maxArmySize));
    const hi = Math.min(nE, family.maxArmies);
    const nArmies = forcedArmies ?? rng.intInclusive(lo, hi);
    this.nArmies = nArmies;
    // 4. army sizes
    const sizes: number[] = [];
    let used = 0;
    for (let i = 0; i < nArmies; i++) {
      const rem = nE - used;
      const left = nArmies - i - 1;
      const min = Math.max(1, rem - left * family.maxArmySize);
      const max = Math.min(rem - left, family.maxArmySize);
      const size = rng.intInclusive(min, max);
      sizes.push(size);
      used += size;
    }
    // 5. shuffle the enemy units and cut consecutive chunks
    const enemyKinds: UnitKindId[] = [];
    for (const g of scenario.enemies) for (let c = 0; c < g.count; c++) enemyKinds.push(g.kind);
    rng.shuffle(enemyKinds);
    // 6. army positions
    const r = family.separation;
    for (let i = 0; i < nArmies; i++) {
      const mult = this.spreadArmies ? 1 : rng.random();
      const phi = theta + (i / nArmies) * 2 * Math.PI * mult;
      this.armyX[i] = MAP_CENTER + r * Math.cos(phi);
      this.armyY[i] = MAP_CENTER + r * Math.sin(phi);
      this.spreadMult = mult;
    }
    // Spawn everything into temporary slots (placement needs the units already created).
    sim.clear();
    const kinds: UnitKindId[] = [];
    const sides: number[] = [];
    let slot = 0;
    const spot = this.spawnScratch;
    for (let g = 0; g < scenario.allies.length; g++) {
      const { kind, count } = scenario.allies[g];
      for (let c = 0; c < count; c++) {
        sim.findSpawnSpot(kind, groupX[g], groupY[g], spot);
        sim.addUnit(slot++, kind, Side.Agent, spot[0], spot[1]);
        kinds.push(kind);
        sides.push(Side.Agent);
      }
    }
    let start = 0;
    for (let i = 0; i < nArmies; i++) {
      const chunk = enemyKinds.slice(start, start + sizes[i]);
      start += sizes[i];
      // every enemy of one kind in one army is created at the army point (no jitter)
      for (const kind of family.unitKinds) {
        for (const k of chunk) {
          if (k !== kind) continue;
          sim.findSpawnSpot(k, this.armyX[i], this.armyY[i], spot);
          sim.addUnit(slot++, k, Side.Enemy, spot[0], spot[1]);
          kinds.push(k);
          sides.push(Side.Enemy);
        }
      }
    }
    const xs = Array.from(sim.x.subarray(0, slot));
    const ys = Array.from(sim.y.subarray(0, slot));
    // 3.8 ordering: agents by (custom id, x, y), enemies by (standard id, x, y)
    const agentIdx: number[] = [];
    const enemyIdx: number[] = [];
    for (let u = 0; u < slot; u++) (sides[u] === Side.Agent ? agentIdx : enemyIdx).push(u);
    const byKey = (id: (u: number) => number) => (a: number, b: number) =>
      id(a) - id(b) || xs[a] - xs[b] || ys[a] - ys[b];
    agentIdx.sort(byKey((u) => UNIT_STATS[kinds[u]].agentId));
    enemyIdx.sort(byKey((u) => UNIT_STATS[kinds[u]].standardId));
    sim.clear();
    const A = this.sizes.maxAgents;
    agentIdx.forEach((u, a) => {
      sim.addUnit(a, kinds[u], Side.Agent, xs[u], ys[u]);
      this.agentKind[a] = kinds[u];
      this.agentType[a] = this.typeIndexOfKind[kinds[u]];
    });
    enemyIdx.forEach((u, e) => {
      sim.addUnit(A + e, kinds[u], Side.Enemy, xs[u], ys[u]);
      this.enemyKind[e] = kinds[u];
      this.enemyType[e] = this.typeIndexOfKind[kinds[u]];
    });
    this.identifyArmies();
    this.scenarioStrings = this.describeArmies();
  }

  /** Spec §3.7: nearest army spawn point (ties -> lowest id), then fill empty armies. */
  private identifyArmies(): void {
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    const sizes = new Array<number>(this.nArmies).fill(0);
    for (let e = 0; e < this.nEnemies; e++) {
      let best = 0;
      let bestD = Infinity;
      for (let k = 0; k < this.nArmies; k++) {
        const d = Math.hypot(sim.x[A + e] - this.armyX[k], sim.y[A + e] - this.armyY[k]);
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      }
      this.enemyArmy[e] = best;
      sizes[best]++;
    }
    for (let k = 0; k < this.nArmies; k++) {
      if (sizes[k] > 0) continue;
      const order = Array.from({ length: this.nEnemies }, (_, e) => e);
      const dist = order.map((e) =>
        Math.hypot(sim.x[A + e] - this.armyX[k], sim.y[A + e] - this.armyY[k]),
      );
      order.sort((a, b) => dist[a] - dist[b] || a - b);
      for (const e of order) {
        if (sizes[this.enemyArmy[e]] > 1) {
          sizes[this.enemyArmy[e]]--;
          this.enemyArmy[e] = k;
          sizes[k]++;
          break;
        }
      }
    }
  }

  /**
   * `info.scenario` strings (spec §3.15): per army in order of first appearance by enemy index,
   * counts per kind keyed by a name prefix. The original's prefix is 1 letter for S&Z and 2 for
   * MMM, where Marine and Marauder collide on "Ma" (logging artifact, reproduced).
   */
  private describeArmies(): string[] {
    const names = this.family.unitKinds.map((k) => UNIT_STATS[k].name).sort();
    const firstLetters = new Set(names.map((n) => n[0]));
    const prefixLength = firstLetters.size === names.length ? 1 : 2;
    const order: number[] = [];
    for (let e = 0; e < this.nEnemies; e++) {
      if (!order.includes(this.enemyArmy[e])) order.push(this.enemyArmy[e]);
    }
    return order.map((k) => {
      let text = "";
      for (const name of names) {
        let count = 0;
        for (let e = 0; e < this.nEnemies; e++) {
          if (this.enemyArmy[e] === k && UNIT_STATS[this.enemyKind[e]].name === name) count++;
        }
        if (count > 0) text += `${name.slice(0, prefixLength)}${count}`;
      }
      return text;
    });
  }

  /** Spec §3.8: random tag subsets, enemies from [0, E+x), allies from [E+x, E+A+2x). */
  private assignTags(): void {
    const s = this.sizes;
    const enemyRange = s.maxEnemies + s.nExtraTags;
    const allyRange = s.maxAgents + s.nExtraTags;
    const enemyTags = new Int32Array(enemyRange);
    for (let i = 0; i < enemyRange; i++) enemyTags[i] = i;
    this.rng.shuffle(enemyTags);
    const allyTags = new Int32Array(allyRange);
    for (let i = 0; i < allyRange; i++) allyTags[i] = enemyRange + i;
    this.rng.shuffle(allyTags);
    this.tagToAgent.fill(-1);
    this.tagToEnemy.fill(-1);
    this.agentTag.fill(0);
    this.enemyTag.fill(0);
    for (let e = 0; e < this.nEnemies; e++) {
      this.enemyTag[e] = enemyTags[e];
      this.tagToEnemy[enemyTags[e]] = e;
    }
    for (let a = 0; a < this.nAgents; a++) {
      this.agentTag[a] = allyTags[a];
      this.tagToAgent[allyTags[a]] = a;
    }
  }

  /** Record positions, alive flags and enemy life+shield as the "previous snapshot". */
  private snapshot(): void {
    const sim = this.sim;
    for (let u = 0; u < sim.capacity; u++) {
      this.prevX[u] = sim.x[u];
      this.prevY[u] = sim.y[u];
      this.prevAlive[u] = sim.alive[u];
      this.prevLifeShield[u] = sim.health[u] + sim.shield[u];
    }
  }

  // ================================================================ enemy schedule (spec §3.9)

  private orderArmy(k: number, attack: boolean): void {
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    for (let e = 0; e < this.nEnemies; e++) {
      if (this.enemyArmy[e] !== k || sim.alive[A + e] === 0) continue;
      if (attack) sim.orderAttackMove(A + e, MAP_CENTER, MAP_CENTER);
      else sim.orderMove(A + e, this.armyX[k], this.armyY[k]);
    }
  }

  /** The switch routine: toggles attack / retreat when an army's timer reaches 0 (spec §3.9). */
  private runSwitchRoutine(): void {
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    for (let k = 0; k < this.nArmies; k++) {
      let living = 0;
      let livingNonMedivac = 0;
      for (let e = 0; e < this.nEnemies; e++) {
        if (this.enemyArmy[e] !== k || sim.alive[A + e] === 0) continue;
        living++;
        if (this.enemyKind[e] !== UnitKind.Medivac) livingNonMedivac++;
      }
      if (living > 0 && livingNonMedivac === 0) {
        // Medivac-only army: retreat once; its switch-time feature stays at -19 (spec §3.9).
        if (this.armyAttacking[k] === 1) {
          this.orderArmy(k, false);
          this.armyAttacking[k] = 0;
        }
        this.timeSinceLastSwitch[k] = -20;
        continue;
      }
      if (this.timeToNextSwitch[k] === 0) {
        const attack = this.armyAttacking[k] === 0;
        this.orderArmy(k, attack);
        this.armyAttacking[k] = attack ? 1 : 0;
        this.timeToNextSwitch[k] = this.rng.intInclusive(11, 20);
        this.timeSinceLastSwitch[k] = -1;
      }
    }
    for (let k = 0; k < this.nArmies; k++) {
      this.timeToNextSwitch[k] -= 1;
      this.timeSinceLastSwitch[k] += 1;
    }
  }

  // ================================================================ step (spec §3.11)

  step(actions: ArrayLike<number>): StepResult {
    if (!this.started) throw new Error("battle: call reset() before step()");
    if (this.done) throw new Error("battle: the episode has ended; call reset()");
    const s = this.sizes;
    const sim = this.sim;
    const nAct = s.nActions;
    const A = s.maxAgents;
    // 1-2. validate every action first, so a rejected call leaves the state untouched
    for (let a = 0; a < this.nAgents; a++) {
      const action = actions[a];
      if (!Number.isInteger(action) || action < 0 || action >= nAct) {
        throw new InvalidActionError(a, action, `actions are integers in [0, ${nAct})`);
      }
      if (this.avail[a * nAct + action] === 0) {
        throw new InvalidActionError(a, action, this.unavailableReason(a, action));
      }
    }
    this.snapshot();
    for (let a = 0; a < this.nAgents; a++) {
      if (sim.alive[a] === 0) continue;
      const action = actions[a];
      const x = sim.x[a];
      const y = sim.y[a];
      switch (action) {
        case BattleAction.Stop:
          sim.orderStop(a);
          break;
        case BattleAction.MoveNorth:
          sim.orderMove(a, x, y + MOVE_AMOUNT);
          break;
        case BattleAction.MoveSouth:
          sim.orderMove(a, x, y - MOVE_AMOUNT);
          break;
        case BattleAction.MoveEast:
          sim.orderMove(a, x + MOVE_AMOUNT, y);
          break;
        case BattleAction.MoveWest:
          sim.orderMove(a, x - MOVE_AMOUNT, y);
          break;
        default: {
          const tag = action - BattleAction.TargetBase;
          // Rejected orders (Marauder/Zealot -> Medivac, heal at full life) keep the previous order.
          if (this.agentKind[a] === UnitKind.Medivac) sim.orderHeal(a, this.tagToAgent[tag]);
          else sim.orderAttack(a, A + this.tagToEnemy[tag]);
        }
      }
    }
    // 3-4. advance the game
    sim.advance(LOOPS_PER_STEP);
    this.steps++;
    // 5. units that died keep their last observed position (spec §3.11 step 5)
    for (let u = 0; u < sim.capacity; u++) {
      if (this.prevAlive[u] === 1 && sim.alive[u] === 0) {
        sim.x[u] = this.prevX[u];
        sim.y[u] = this.prevY[u];
      }
    }
    let gameCode = this.gameEndCode();
    // 7. global reward; marks this step's deaths as counted
    let reward = 0;
    this.diedThisStep.fill(0);
    for (let e = 0; e < this.nEnemies; e++) {
      const u = A + e;
      if (this.deathCounted[u] === 1) continue;
      if (sim.alive[u] === 0) {
        reward += REWARD_DEATH_VALUE + this.prevLifeShield[u];
        this.deathCounted[u] = 1;
        this.diedThisStep[e] = 1;
      } else {
        reward += this.prevLifeShield[u] - (sim.health[u] + sim.shield[u]);
      }
    }
    // 8. per-army rewards, computed after step 7 (QUIRK: kills already counted -> contribute 0)
    const taskRewards = this.result.info.taskRewards;
    taskRewards.fill(0);
    for (let e = 0; e < this.nEnemies; e++) {
      const u = A + e;
      const k = this.enemyArmy[e];
      if (this.diedThisStep[e] === 1) {
        if (!this.taskRewardQuirk) taskRewards[k] += REWARD_DEATH_VALUE + this.prevLifeShield[u];
        continue;
      }
      if (this.deathCounted[u] === 1) continue;
      taskRewards[k] += this.prevLifeShield[u] - (sim.health[u] + sim.shield[u]);
    }
    // 9. subtask end codes
    this.prevTaskDone.set(this.taskDone);
    let anyInfiltrated = false;
    let anyActive = false;
    for (let k = 0; k < s.nTasks; k++) {
      if (k >= this.nArmies) {
        this.armyCode[k] = 1;
        continue;
      }
      const code = this.armyEndCode(k);
      this.armyCode[k] = code;
      if (code === -1) anyInfiltrated = true;
      if (code === 0) anyActive = true;
    }
    // 10. heal boost for newly defeated armies (disadvantage episodes only)
    if (this.healsAllowed) this.applyHealBoost(anyActive);
    // 11. task vector, tasks_changed, task rewards
    const tasksTerminated = this.result.info.tasksTerminated;
    let tasksChanged = false;
    let defeated = 0;
    for (let k = 0; k < s.nTasks; k++) {
      const doneNow = this.armyCode[k] !== 0 ? 1 : 0;
      if (doneNow !== this.prevTaskDone[k]) tasksChanged = true;
      this.taskDone[k] = doneNow;
      tasksTerminated[k] = doneNow;
      if (k < this.nArmies && this.armyCode[k] === 1) {
        defeated++;
        // QUIRK: paid on every step the army stays defeated (the learner masks later steps).
        if (this.taskRewardQuirk || this.prevTaskDone[k] === 0) taskRewards[k] += REWARD_WIN;
      }
      taskRewards[k] /= s.rewardDivisor;
    }
    const alliesDefeated = gameCode === EndCode.Loss;
    if (anyInfiltrated) gameCode = EndCode.Loss; // base infiltration overrides a same-step win
    // 12. termination
    let terminated = false;
    let battleWon = false;
    if (gameCode !== EndCode.None) {
      terminated = true;
      if (gameCode === EndCode.Win) {
        battleWon = true;
        reward += REWARD_WIN;
      }
    } else if (this.steps >= this.episodeLimitSteps) {
      terminated = true;
      this.timedOut = true; // a true terminal: no episode-limit bootstrap (spec §7.4)
    }
    // 13. scale
    reward /= s.rewardDivisor;
    // 14. next enemy orders and timers, even after termination. The original skips this when the
    // SC2 game itself has stopped; the simulator's game never stops, so it always runs (DESIGN
    // CHOICE; it only affects the terminal observation's schedule features).
    this.runSwitchRoutine();
    this.computeAvail();
    this.done = terminated;
    const result = this.result;
    result.reward = reward;
    result.terminated = terminated;
    result.info.tasksChanged = tasksChanged;
    result.info.episodeLimit = false;
    if (terminated) {
      const stats: Record<string, number> = {
        battle_won: battleWon ? 1 : 0,
        perc_armies_defeated: defeated / this.nArmies,
        allies_defeated: alliesDefeated ? 1 : 0,
        base_infiltrated: anyInfiltrated ? 1 : 0,
        // the per-episode `spread` record (§1.5, §3.6 item 7) as a numeric terminal statistic,
        // so evaluations can relate success to how close the armies spawned (Fig. 6a)
        spread: this.spreadMult,
      };
      if (this.healsAllowed && this.healStatCount > 0) {
        stats.perc_agents_healed_per_army_defeated = this.healStatSum / this.healStatCount;
      }
      result.info.stats = stats;
    } else {
      result.info.stats = null;
    }
    return result;
  }

  /** Game end code (spec §3.12), before the base-infiltration override. */
  private gameEndCode(): number {
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    let agentsAlive = 0;
    let agentsNonMedivac = 0;
    let enemiesAlive = 0;
    let enemiesNonMedivac = 0;
    for (let a = 0; a < this.nAgents; a++) {
      if (sim.alive[a] === 0) continue;
      agentsAlive++;
      if (this.agentKind[a] !== UnitKind.Medivac) agentsNonMedivac++;
    }
    for (let e = 0; e < this.nEnemies; e++) {
      if (sim.alive[A + e] === 0) continue;
      enemiesAlive++;
      if (this.enemyKind[e] !== UnitKind.Medivac) enemiesNonMedivac++;
    }
    const medivacFamily = this.family.hasMedivacs;
    if ((agentsAlive === 0 && enemiesAlive > 0) || (medivacFamily && agentsNonMedivac === 0)) {
      return EndCode.Loss;
    }
    if ((agentsAlive > 0 && enemiesAlive === 0) || (medivacFamily && enemiesNonMedivac === 0)) {
      return EndCode.Win;
    }
    if (agentsAlive === 0 && enemiesAlive === 0) return EndCode.Draw;
    return EndCode.None;
  }

  /** Army end code (spec §3.12): -1 infiltrated (checked first), 1 all dead, 0 active. */
  private armyEndCode(k: number): number {
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    let anyAlive = false;
    for (let e = 0; e < this.nEnemies; e++) {
      if (this.enemyArmy[e] !== k) continue;
      const u = A + e;
      if (this.enemyKind[e] !== UnitKind.Medivac) {
        // dead units count with their last observed position (spec §3.4)
        const dx = sim.x[u] - MAP_CENTER;
        const dy = sim.y[u] - MAP_CENTER;
        if (dx * dx + dy * dy < BASE_RADIUS * BASE_RADIUS) return -1;
      }
      if (sim.alive[u] === 1) anyAlive = true;
    }
    return anyAlive ? 0 : 1;
  }

  /** Spec §3.13: boost agents nearest (by army spawn point) to each newly defeated army. */
  private applyHealBoost(anyActive: boolean): void {
    const sim = this.sim;
    const healList = this.healList;
    healList.fill(0);
    let listed = 0;
    for (let k = 0; k < this.nArmies; k++) {
      if (this.armyCode[k] !== 1 || this.prevTaskDone[k] !== 0) continue;
      for (let a = 0; a < this.nAgents; a++) {
        if (sim.alive[a] === 0 || healList[a] === 1) continue;
        let nearest = 0;
        let nearestD = Infinity;
        for (let j = 0; j < this.nArmies; j++) {
          const dx = sim.x[a] - this.armyX[j];
          const dy = sim.y[a] - this.armyY[j];
          const d = dx * dx + dy * dy;
          if (d < nearestD) {
            nearestD = d;
            nearest = j;
          }
        }
        if (nearest === k) {
          healList[a] = 1;
          listed++;
        }
      }
      if (anyActive) {
        this.healStatSum += listed / this.nAgents;
        this.healStatCount++;
      }
    }
    if (listed === 0) return;
    const boost =
      (HEAL_BOOST_MULTIPLIER * (this.nEnemies - this.nAgents)) /
      (this.nAgents * Math.max(this.nArmies - 1, 1));
    for (let a = 0; a < this.nAgents; a++) {
      if (healList[a] === 0) continue;
      const st = UNIT_STATS[this.agentKind[a]];
      sim.health[a] = Math.min(sim.health[a] + st.healthMax * boost, st.healthMax);
      if (st.shieldMax > 0)
        sim.shield[a] = Math.min(sim.shield[a] + st.shieldMax * boost, st.shieldMax);
    }
  }

  private unavailableReason(agent: number, action: number): string {
    const sim = this.sim;
    if (sim.alive[agent] === 0) return "the agent is dead: only no-op (0) is available";
    if (action === BattleAction.NoOp) return "no-op is only available to dead agents";
    if (action < BattleAction.TargetBase) return "the move target cell is outside the map";
    const tag = action - BattleAction.TargetBase;
    if (this.agentKind[agent] === UnitKind.Medivac) {
      return `heal target (tag ${tag}) is not a living ground agent within ${SHOOT_RANGE}`;
    }
    return `attack target (tag ${tag}) is not a living enemy within ${SHOOT_RANGE}`;
  }

  // ================================================================ observations

  private cellPathable(cx: number, cy: number): boolean {
    const lo = this.edgeCellsBlocked ? 1 : 0;
    const hi = this.edgeCellsBlocked ? MAP_SIZE - 2 : MAP_SIZE - 1;
    return cx >= lo && cx <= hi && cy >= lo && cy <= hi;
  }

  /** Availability codes (spec §3.10, §1.4), cached after reset and each step. */
  private computeAvail(): void {
    const s = this.sizes;
    const sim = this.sim;
    const nAct = s.nActions;
    const A = s.maxAgents;
    const av = this.avail;
    av.fill(0);
    for (let a = 0; a < A; a++) {
      const row = a * nAct;
      if (a >= this.nAgents || sim.alive[a] === 0) {
        av[row] = AVAIL_FREE;
        continue;
      }
      av[row + BattleAction.Stop] = AVAIL_FREE;
      const x = sim.x[a];
      const y = sim.y[a];
      if (this.cellPathable(Math.floor(x), Math.floor(y + 1)))
        av[row + BattleAction.MoveNorth] = AVAIL_FREE;
      if (this.cellPathable(Math.floor(x), Math.floor(y - 1)))
        av[row + BattleAction.MoveSouth] = AVAIL_FREE;
      if (this.cellPathable(Math.floor(x + 1), Math.floor(y)))
        av[row + BattleAction.MoveEast] = AVAIL_FREE;
      if (this.cellPathable(Math.floor(x - 1), Math.floor(y)))
        av[row + BattleAction.MoveWest] = AVAIL_FREE;
      if (this.agentKind[a] === UnitKind.Medivac) {
        for (let b = 0; b < this.nAgents; b++) {
          if (sim.alive[b] === 0 || sim.flying[b] === 1) continue; // never itself, never a Medivac
          if (sim.centerDistance(a, b) <= SHOOT_RANGE) {
            av[row + BattleAction.TargetBase + this.agentTag[b]] = AVAIL_ALLY_BASE + b;
          }
        }
      } else {
        for (let e = 0; e < this.nEnemies; e++) {
          const u = A + e;
          if (sim.alive[u] === 0) continue;
          if (sim.centerDistance(a, u) <= SHOOT_RANGE) {
            av[row + BattleAction.TargetBase + this.enemyTag[e]] =
              AVAIL_TASK_BASE + this.enemyArmy[e];
          }
        }
      }
    }
  }

  /**
   * Recompute the cached availability after editing the simulator state directly (tests, tools);
   * `reset` and `step` do this themselves.
   */
  refreshAvailability(): void {
    this.computeAvail();
  }

  getAvailActions(out?: Int32Array): Int32Array {
    if (out === undefined) return this.avail;
    out.set(this.avail);
    return out;
  }

  /** Entity features (spec §3.16). */
  getEntities(out?: Float32Array): Float32Array {
    const buf = out ?? this.entities;
    buf.fill(0);
    if (!this.started) return buf;
    const s = this.sizes;
    const sim = this.sim;
    const De = s.entityShape;
    const nAct = s.nActions;
    const A = s.maxAgents;
    const T = s.nTags;
    const offType = T + (nAct - 2);
    const offHealth = offType + s.typeBits;
    const offEnergy = offHealth + s.healthBits;
    const offCooldown = offEnergy + 1;
    const offPos = offCooldown + 1;
    const offAttacking = offPos + 4;
    const offSwitch = offAttacking + 1;
    const offVel = offSwitch + 1;
    // centre of mass and spread over all units, living or dead (dead at their last position)
    let comX = 0;
    let comY = 0;
    const nUnits = this.nAgents + this.nEnemies;
    for (let a = 0; a < this.nAgents; a++) {
      comX += sim.x[a];
      comY += sim.y[a];
    }
    for (let e = 0; e < this.nEnemies; e++) {
      comX += sim.x[A + e];
      comY += sim.y[A + e];
    }
    comX /= nUnits;
    comY /= nUnits;
    let dMax = 0;
    for (let u = 0; u < sim.capacity; u++) {
      if (sim.present[u] === 0) continue;
      const d = Math.hypot(sim.x[u] - comX, sim.y[u] - comY);
      if (d > dMax) dMax = d;
    }
    // DESIGN CHOICE: guard the (unreachable in practice) all-units-coincide case against 0/0.
    if (dMax <= 0) dMax = 1;
    for (let u = 0; u < sim.capacity; u++) {
      if (sim.present[u] === 0) continue;
      const isAgent = u < A;
      const row = u * De;
      const kind = sim.kind[u];
      const st = UNIT_STATS[kind];
      buf[row + (isAgent ? this.agentTag[u] : this.enemyTag[u - A])] = 1;
      if (s.typeBits > 0) buf[row + offType + this.typeIndexOfKind[kind]] = 1;
      if (isAgent) {
        if (sim.alive[u] === 1) {
          const arow = u * nAct;
          for (let j = 2; j < nAct; j++) if (this.avail[arow + j] >= 1) buf[row + T + j - 2] = 1;
        }
      } else {
        const k = this.enemyArmy[u - A];
        buf[row + offAttacking] = this.armyAttacking[k];
        buf[row + offSwitch] = this.timeSinceLastSwitch[k] / 20;
      }
      if (sim.alive[u] === 1) {
        buf[row + offHealth] = sim.health[u] / st.healthMax;
        if (s.healthBits === 2 && st.shieldMax > 0)
          buf[row + offHealth + 1] = sim.shield[u] / st.shieldMax;
        if (isAgent) {
          if (st.energyMax > 0) buf[row + offEnergy] = sim.energy[u] / st.energyMax;
          buf[row + offCooldown] = sim.cooldown[u] / st.cooldownNormaliser;
        }
        buf[row + offPos] = (sim.x[u] - MAP_CENTER) / MAP_SIZE;
        buf[row + offPos + 1] = (sim.y[u] - MAP_CENTER) / MAP_SIZE;
        buf[row + offPos + 2] = (sim.x[u] - comX) / dMax;
        buf[row + offPos + 3] = (sim.y[u] - comY) / dMax;
      }
      buf[row + offVel] = (sim.x[u] - this.prevX[u]) / 2;
      buf[row + offVel + 1] = (sim.y[u] - this.prevY[u]) / 2;
    }
    return buf;
  }

  /** Masks (spec §3.17), including the heuristic agent rows when `heuristicAlloc`. */
  getMasks(out?: EnvMasks): EnvMasks {
    const m = out ?? this.masks;
    const s = this.sizes;
    const sim = this.sim;
    const Ne = s.nEntities;
    const Nt = s.nTasks;
    const A = s.maxAgents;
    m.obsMask.fill(1);
    m.entityMask.fill(1);
    m.entity2taskMask.fill(1);
    m.taskMask.set(this.taskDone);
    if (!this.started) return m;
    // Distance matrix over agents then enemies (index i < nAgents: agent i; else enemy i - nAgents):
    // diagonal 0; [i][j] for i < j when both alive; [j][i] too only if both are agents.
    const n = this.nAgents + this.nEnemies;
    const nA = this.nAgents;
    for (let i = 0; i < n; i++) {
      const ui = i < nA ? i : A + (i - nA);
      m.entityMask[ui] = sim.alive[ui] === 1 ? 0 : 1;
      for (let j = 0; j < n; j++) {
        const uj = j < nA ? j : A + (j - nA);
        let d = FAR;
        if (i === j) {
          if (sim.alive[ui] === 1 || this.deadSelfObservation) d = 0;
        } else if (sim.alive[ui] === 1 && sim.alive[uj] === 1 && (i < j || i < nA)) {
          d = sim.centerDistance(ui, uj);
        }
        m.obsMask[ui * Ne + uj] = d > SIGHT_RANGE ? 1 : 0;
      }
    }
    for (let e = 0; e < this.nEnemies; e++) m.entity2taskMask[(A + e) * Nt + this.enemyArmy[e]] = 0;
    if (this.heuristicAlloc) {
      const alloc = this.heuristicAllocation(this.allocation);
      for (let a = 0; a < nA; a++) if (alloc[a] >= 0) m.entity2taskMask[a * Nt + alloc[a]] = 0;
    }
    return m;
  }

  /**
   * Heuristic allocation of the configured style (spec §3.18); -1 for padded and unassigned agents.
   * Dead agents take part in the computation exactly as in the original (they consume their army's
   * type match and `diff`), but are reported as -1 here and get an all-1 `entity2taskMask` row:
   * the `CompositeEnv` contract allocates live agents only.
   */
  heuristicAllocation(out?: Int32Array): Int32Array {
    const buf = out ?? this.allocation;
    buf.fill(-1);
    if (!this.started) return buf;
    this.heuristic.compute(this.heuristicInput as HeuristicInput, buf);
    for (let a = 0; a < this.nAgents; a++) if (this.sim.alive[a] === 0) buf[a] = -1;
    return buf;
  }

  /** Per-episode record (`scenario`, `armies_defeated`, `armies_infiltrated`, `spread`). */
  episodeRecord(): BattleEpisodeRecord {
    const defeated: boolean[] = [];
    const infiltrated: boolean[] = [];
    for (let k = 0; k < this.nArmies; k++) {
      defeated.push(this.armyCode[k] === 1);
      infiltrated.push(this.armyCode[k] === -1);
    }
    return {
      scenarioIndex: this.scenarioIndex,
      scenario: [...this.scenarioStrings],
      armiesDefeated: defeated,
      armiesInfiltrated: infiltrated,
      spread: this.spreadMult,
      nArmies: this.nArmies,
      timedOut: this.timedOut,
    };
  }

  // ================================================================ rendering

  /**
   * One ASCII frame: the 32 x 32 map (north up; `+` base, `#` army spawn points, agents upper
   * case, enemies lower case: M Marine, R Marauder, V Medivac, S Stalker, Z Zealot), then one line
   * per army and one per agent.
   */
  render(): string {
    if (!this.started) return "battle: not reset";
    const sim = this.sim;
    const A = this.sizes.maxAgents;
    const grid: string[][] = [];
    for (let row = 0; row < MAP_SIZE; row++) {
      const y = MAP_SIZE - 1 - row;
      const line: string[] = [];
      for (let x = 0; x < MAP_SIZE; x++) {
        const d = Math.hypot(x + 0.5 - MAP_CENTER, y + 0.5 - MAP_CENTER);
        line.push(d < BASE_RADIUS ? "+" : ".");
      }
      grid.push(line);
    }
    const put = (x: number, y: number, ch: string): void => {
      const cx = Math.min(MAP_SIZE - 1, Math.max(0, Math.floor(x)));
      const cy = Math.min(MAP_SIZE - 1, Math.max(0, Math.floor(y)));
      grid[MAP_SIZE - 1 - cy][cx] = ch;
    };
    for (let k = 0; k < this.nArmies; k++) put(this.armyX[k], this.armyY[k], "#");
    for (let u = 0; u < sim.capacity; u++) {
      if (sim.alive[u] === 0) continue;
      const letter = UNIT_LETTER[sim.kind[u]];
      put(sim.x[u], sim.y[u], u < A ? letter : letter.toLowerCase());
    }
    const lines = [
      `battle ${this.scenario} #${this.scenarioIndex} step ${this.steps}/${this.episodeLimitSteps}` +
        (this.done ? " (ended)" : ""),
      ...grid.map((l) => l.join("")),
    ];
    for (let k = 0; k < this.nArmies; k++) {
      const units: string[] = [];
      for (let e = 0; e < this.nEnemies; e++) {
        if (this.enemyArmy[e] !== k) continue;
        const u = A + e;
        const letter = UNIT_LETTER[sim.kind[u]].toLowerCase();
        units.push(
          sim.alive[u] ? `${letter}${Math.ceil(sim.health[u] + sim.shield[u])}` : `${letter}x`,
        );
      }
      const state =
        this.armyCode[k] === 1
          ? "defeated"
          : this.armyCode[k] === -1
            ? "INFILTRATED"
            : this.armyAttacking[k]
              ? "attacking"
              : "retreating/idle";
      lines.push(`army ${k}: ${state} [${units.join(" ")}]`);
    }
    const agents: string[] = [];
    for (let a = 0; a < this.nAgents; a++) {
      const letter = UNIT_LETTER[sim.kind[a]];
      agents.push(
        sim.alive[a]
          ? `${a}:${letter}${Math.ceil(sim.health[a] + sim.shield[a])}`
          : `${a}:${letter}x`,
      );
    }
    lines.push(`agents: ${agents.join(" ")}`);
    return lines.join("\n");
  }
}

/** Whether a scenario with `nEnemies` enemies can have `nArmies` armies (spec §3.5 step 2). */
export function armyCountFeasible(nEnemies: number, nArmies: number): boolean {
  return Math.max(2, Math.ceil(nEnemies / 4)) <= nArmies && nArmies <= Math.min(nEnemies, 3);
}

/** Build the battle environment. */
export function makeBattleEnv(options: BattleEnvOptions = {}): BattleEnv {
  return new BattleEnv(options);
}
