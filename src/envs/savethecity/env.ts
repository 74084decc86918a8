/**
 * SaveTheCity (the authors' `ff`): firefighters, builders and generalists save a burning city.
 * Spec: environments.md §2. Every subtask is one building; it ends when the building is completed
 * (success) or burns down (failure).
 *
 * Implementation notes: all state lives in typed arrays allocated once per environment; `step` and
 * the getters allocate nothing (except a small statistics object at the terminal step). Health and
 * fire are IEEE doubles so the spec's exact equality tests (`== 0`, `== 1`) behave as specified.
 */
import { Rng } from "../rng.js";
import {
  AVAIL_FREE,
  AVAIL_TASK_BASE,
  allocMasks,
  allocStepResult,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  type EpisodeStats,
  InvalidActionError,
  type ResetOptions,
  type StepResult,
} from "../types.js";
import {
  ACT_BUILD,
  ACT_FIGHT,
  ACT_FREEZE,
  ACT_STAY,
  ACTION_NAMES,
  type AgentType,
  BASE_BUILD_RATE,
  BUILD_SPEED,
  BUILDER,
  BURN_RATE,
  type BuildingType,
  ENTITY_SHAPE,
  EPISODE_LIMIT,
  FAST,
  FINISHED_FIRE_TIMER,
  FIRE_BURN_RATE,
  FIRE_GROWTH_RATE,
  FIRE_REDUCE_RATE,
  FIRE_SPEED,
  FIREFIGHTER,
  GENERALIST,
  GENERALIST_HELP_FACTOR,
  GRID,
  INIT_FIRE_CHANCE,
  MAX_FIRE_START_RATE,
  MIN_FIRE_START_RATE,
  MOVE_DX,
  MOVE_DY,
  N_ACTIONS,
  NEIGHBOUR_DX,
  NEIGHBOUR_DY,
  RESTART_RANGE,
  REWARD_BURNED_DOWN,
  REWARD_COMPLETE,
  REWARD_EXTINGUISH,
  REWARD_HEALTH_DELTA_MULT,
  REWARD_SCALE,
  REWARD_SOLVED,
  REWARD_TS_PEN,
  SLOW,
} from "./constants.js";
import { renderSaveTheCityText } from "./render.js";
import { DEFAULT_SCENARIO, type ScenarioFamily, scenarioFamily } from "./scenarios.js";

export interface SaveTheCityOptions {
  /** Scenario family name (default `2-5a_2-5b`). */
  scenario?: string;
  /** Seed of the environment's generator. */
  seed?: number;
  /** Write the heuristic allocation into the agent rows of `entity2taskMask` (spec §2.12). */
  heuristicAlloc?: boolean;
  /** End the episode as soon as any building burns down (default false, spec §2.1). */
  endOnAnyBurn?: boolean;
}

/** Plain-object snapshot of the state: for rendering, replays and hand-made test states. */
export interface SaveTheCityState {
  time: number;
  agents: { type: AgentType; x: number; y: number }[];
  buildings: {
    type: BuildingType;
    x: number;
    y: number;
    health: number;
    fire: number;
    restartInterval: number;
    timeToNextFire: number;
    timeSinceLastFire: number;
  }[];
}

/** Grid cell codes: -1 empty, 0..BUILDING_CODE-1 agent index, BUILDING_CODE + b building b. */
const EMPTY = -1;
const BUILDING_CODE = 1000;
/** Bit of an agent type in the per-building "types that fought / built this step" sets. */
const TYPE_BIT: Record<AgentType, number> = { [FIREFIGHTER]: 1, [BUILDER]: 2, [GENERALIST]: 4 };

const cellOf = (x: number, y: number) => y * GRID + x;

export class SaveTheCity implements CompositeEnv {
  readonly name = "savethecity";
  readonly scenario: string;
  readonly info: EnvInfo;
  readonly actionNames = ACTION_NAMES;
  readonly family: ScenarioFamily;
  readonly heuristicAlloc: boolean;
  readonly endOnAnyBurn: boolean;
  /** `6 · max_n_buildings + 20` (§2.8); rewards are multiplied by `20 / maxReward`. */
  readonly maxReward: number;

  private readonly rng: Rng;
  private readonly na: number;
  private readonly nb: number;
  private readonly ne: number;
  private readonly rewardMult: number;

  // ---- agents ----
  private nAgents = 0;
  private readonly agentType: Uint8Array;
  private readonly agentX: Int32Array;
  private readonly agentY: Int32Array;
  private readonly prevX: Int32Array;
  private readonly prevY: Int32Array;
  // ---- buildings ----
  private nBuildings = 0;
  private readonly bType: Uint8Array;
  private readonly bX: Int32Array;
  private readonly bY: Int32Array;
  private readonly health: Float64Array;
  private readonly fire: Float64Array;
  private readonly restartInterval: Int32Array;
  private readonly timeToNextFire: Int32Array;
  private readonly timeSinceLastFire: Int32Array;
  private readonly fireDecrement: Float64Array;
  private readonly buildDelta: Float64Array;
  private readonly frozen: Uint8Array;
  private readonly fireTypes: Uint8Array;
  private readonly buildTypes: Uint8Array;
  /** Task-completion vector: 1 = complete, burned down, or padding (= `task_mask`). */
  private readonly taskDone: Uint8Array;

  private readonly grid = new Int16Array(GRID * GRID);
  private readonly candidateCells: Int32Array;
  /** Free spawn cells for each team size (§2.4.4), precomputed. */
  private readonly spawnCells: Int32Array[];
  private readonly scratch: Int32Array;

  // ---- cached availability of the current state ----
  private availValid = false;
  private readonly avail: Int32Array;
  /** Index of the building adjacent to each agent (N, E, S, W order), or -1. */
  private readonly adjacent: Int32Array;

  // ---- masks that only change at reset ----
  private readonly staticMasks: EnvMasks;
  private readonly ownMasks: EnvMasks;
  private readonly ownEntities: Float32Array;
  /** Whether `ownEntities` lags the state, and the agent cells its position one-hots encode. */
  private entitiesDirty = true;
  private readonly entityAgentCell: Int32Array;
  private readonly ownHeuristic: Int32Array;

  private t = 0;
  private done = true;
  private readonly result: StepResult;
  // episode statistics (§2.9)
  private statFires = 0;
  private statCompleted = 0;
  private statBurned = 0;
  private statHealthDelta = 0;
  private statFightSteps = 0;
  private statFightTypes = 0;
  private statBuildSteps = 0;
  private statBuildTypes = 0;

  constructor(options: SaveTheCityOptions = {}) {
    this.scenario = options.scenario ?? DEFAULT_SCENARIO;
    this.family = scenarioFamily(this.scenario);
    this.heuristicAlloc = options.heuristicAlloc ?? false;
    this.endOnAnyBurn = options.endOnAnyBurn ?? false;
    this.rng = new Rng(options.seed ?? 0);
    const na = this.family.maxAgents;
    const nb = this.family.maxBuildings;
    const ne = na + nb;
    this.na = na;
    this.nb = nb;
    this.ne = ne;
    this.info = {
      entityShape: ENTITY_SHAPE,
      nActions: N_ACTIONS,
      nAgents: na,
      nEntities: ne,
      nTasks: nb,
      episodeLimit: EPISODE_LIMIT,
    };
    this.maxReward = 0.5 * REWARD_HEALTH_DELTA_MULT * nb + REWARD_COMPLETE * nb + REWARD_SOLVED;
    this.rewardMult = REWARD_SCALE / this.maxReward;

    this.agentType = new Uint8Array(na);
    this.agentX = new Int32Array(na);
    this.agentY = new Int32Array(na);
    this.prevX = new Int32Array(na);
    this.prevY = new Int32Array(na);
    this.bType = new Uint8Array(nb);
    this.bX = new Int32Array(nb);
    this.bY = new Int32Array(nb);
    this.health = new Float64Array(nb);
    this.fire = new Float64Array(nb);
    this.restartInterval = new Int32Array(nb);
    this.timeToNextFire = new Int32Array(nb);
    this.timeSinceLastFire = new Int32Array(nb);
    this.fireDecrement = new Float64Array(nb);
    this.buildDelta = new Float64Array(nb);
    this.frozen = new Uint8Array(nb);
    this.fireTypes = new Uint8Array(nb);
    this.buildTypes = new Uint8Array(nb);
    this.taskDone = new Uint8Array(nb).fill(1);
    this.avail = new Int32Array(na * N_ACTIONS);
    this.adjacent = new Int32Array(na);

    // Candidate building cells: x, y ∈ {1, 1+s, 1+2s, ...} inside the grid (§2.1).
    const coords: number[] = [];
    for (let c = 1; c < GRID; c += this.family.spacing) coords.push(c);
    const cands: number[] = [];
    for (const y of coords) for (const x of coords) cands.push(cellOf(x, y));
    this.candidateCells = Int32Array.from(cands);
    this.spawnCells = [];
    for (let n = 0; n <= na; n++) this.spawnCells.push(this.computeSpawnCells(n));
    this.scratch = new Int32Array(GRID * GRID);

    this.staticMasks = allocMasks(this.info);
    this.ownMasks = allocMasks(this.info);
    this.ownEntities = new Float32Array(ne * ENTITY_SHAPE);
    this.entityAgentCell = new Int32Array(na);
    this.ownHeuristic = new Int32Array(na);
    this.result = allocStepResult({ nTasks: nb });
    this.grid.fill(EMPTY);
  }

  get nActiveAgents(): number {
    return this.nAgents;
  }
  get nActiveTasks(): number {
    return this.nBuildings;
  }
  get time(): number {
    return this.t;
  }
  /** True once the current episode has terminated (step then throws until `reset`). */
  get episodeDone(): boolean {
    return this.done;
  }

  /**
   * Spawn area for `n` agents (§2.4.4): start from the full grid minus building candidates and peel
   * off outer rings while the remaining square still has at least `n` free cells.
   */
  private computeSpawnCells(n: number): Int32Array {
    const isCand = new Uint8Array(GRID * GRID);
    for (const c of this.candidateCells) isCand[c] = 1;
    const freeIn = (k: number) => {
      const cells: number[] = [];
      for (let y = k; y <= GRID - 1 - k; y++)
        for (let x = k; x <= GRID - 1 - k; x++) if (!isCand[cellOf(x, y)]) cells.push(cellOf(x, y));
      return cells;
    };
    let best = freeIn(0);
    for (let k = 1; 2 * k < GRID; k++) {
      const cells = freeIn(k);
      if (cells.length < n) break;
      best = cells;
    }
    return Int32Array.from(best);
  }

  // ------------------------------------------------------------------ reset (§2.4)

  reset(options: ResetOptions = {}): void {
    if (options.seed !== undefined) this.rng.seed(options.seed);
    if (options.index !== undefined && options.nTasks !== undefined) {
      throw new Error("reset: give at most one of `index` and `nTasks`");
    }
    const rng = this.rng;
    const fam = this.family;
    let team: readonly AgentType[];
    let nBuildings: number;
    let explicit: readonly BuildingType[] | null = null;

    if (fam.infinite) {
      const inf = fam.infinite;
      const nA = rng.intInclusive(inf.minAgents, inf.maxAgents);
      const types: AgentType[] = [];
      for (let i = 0; i < nA; i++) types.push((FIREFIGHTER + rng.int(3)) as AgentType);
      // Agent indices grouped by type (checklist §7.11): B, F, G.
      const order: Record<AgentType, number> = { [BUILDER]: 0, [FIREFIGHTER]: 1, [GENERALIST]: 2 };
      types.sort((a, b) => order[a] - order[b]);
      team = types;
      nBuildings = options.nTasks ?? rng.intInclusive(inf.minBuildings, inf.maxBuildings);
      if (nBuildings < 1 || nBuildings > fam.maxBuildings) {
        throw new RangeError(
          `reset: nTasks must be in [1, ${fam.maxBuildings}], got ${nBuildings}`,
        );
      }
    } else {
      const list = options.test ? fam.test : fam.train;
      let idx: number;
      if (options.index !== undefined) {
        if (!Number.isInteger(options.index) || options.index < 0 || options.index >= list.length) {
          throw new RangeError(
            `reset: scenario index ${options.index} out of range [0, ${list.length})`,
          );
        }
        idx = options.index;
      } else if (options.nTasks !== undefined) {
        const n = options.nTasks;
        const fits = (i: number) => {
          const b = list[i].buildings;
          return Array.isArray(b)
            ? b.length === n
            : n >= (b as { min: number }).min && n <= (b as { max: number }).max;
        };
        if (!list.some((_, i) => fits(i))) {
          throw new RangeError(`reset: no scenario of '${this.scenario}' can have nTasks = ${n}`);
        }
        do idx = rng.int(list.length);
        while (!fits(idx));
      } else {
        idx = rng.int(list.length);
      }
      const scen = list[idx];
      team = scen.team;
      if (Array.isArray(scen.buildings)) {
        explicit = scen.buildings as readonly BuildingType[];
        nBuildings = explicit.length;
      } else {
        const range = scen.buildings as { min: number; max: number };
        nBuildings = options.nTasks ?? rng.intInclusive(range.min, range.max);
      }
    }

    // Buildings' types (§2.4.2): explicit list or i.i.d. fair coin.
    this.nBuildings = nBuildings;
    for (let b = 0; b < nBuildings; b++) {
      this.bType[b] = explicit ? explicit[b] : rng.random() < 0.5 ? FAST : SLOW;
    }

    // Agents (§2.4.3-4): stored team order, each takes a random remaining spawn cell.
    const nA = team.length;
    this.nAgents = nA;
    const spawn = this.spawnCells[nA];
    const free = this.scratch;
    free.set(spawn);
    let nFree = spawn.length;
    for (let i = 0; i < nA; i++) {
      this.agentType[i] = team[i];
      const k = rng.int(nFree);
      const cell = free[k];
      free[k] = free[--nFree];
      this.agentX[i] = this.prevX[i] = cell % GRID;
      this.agentY[i] = this.prevY[i] = (cell / GRID) | 0;
    }

    // Buildings (§2.4.5): cell, health range, health, restart interval; then initial fires (§2.4.6).
    free.set(this.candidateCells);
    nFree = this.candidateCells.length;
    for (let b = 0; b < nBuildings; b++) {
      const k = rng.int(nFree);
      const cell = free[k];
      free[k] = free[--nFree];
      this.bX[b] = cell % GRID;
      this.bY[b] = (cell / GRID) | 0;
      const [lo, hi] = rng.random() < 0.5 ? [0.25, 0.4] : [0.6, 0.75];
      const u = rng.random();
      this.health[b] = lo * u + hi * (1 - u);
      const [rlo, rhi] = RESTART_RANGE[this.bType[b] as BuildingType];
      this.restartInterval[b] = rng.intInclusive(rlo, rhi);
      this.fire[b] = 0;
      this.timeToNextFire[b] = this.restartInterval[b];
      this.timeSinceLastFire[b] = 0;
    }
    for (let b = 0; b < nBuildings; b++) if (rng.random() < INIT_FIRE_CHANCE) this.ignite(b);

    this.t = 0;
    this.statFires = this.statCompleted = this.statBurned = this.statHealthDelta = 0;
    this.statFightSteps = this.statFightTypes = this.statBuildSteps = this.statBuildTypes = 0;
    this.afterStateLoaded();
  }

  /** Rebuild everything derived from the primary state: grid, task vector, static masks. */
  private afterStateLoaded(): void {
    const nA = this.nAgents;
    const nB = this.nBuildings;
    this.fireDecrement.fill(0);
    this.buildDelta.fill(0);
    this.frozen.fill(0);
    this.fireTypes.fill(0);
    this.buildTypes.fill(0);
    this.grid.fill(EMPTY);
    for (let i = 0; i < nA; i++) this.grid[cellOf(this.agentX[i], this.agentY[i])] = i;
    for (let b = 0; b < nB; b++) this.grid[cellOf(this.bX[b], this.bY[b])] = BUILDING_CODE + b;
    this.taskDone.fill(1);
    for (let b = 0; b < nB; b++)
      this.taskDone[b] = this.health[b] >= 1 || this.health[b] <= 0 ? 1 : 0;
    this.buildStaticMasks();
    this.availValid = false;
    this.done = false;
    this.writeAllEntities();
  }

  /** obs, entity and non-agent entity2task masks only depend on the team and building counts (§2.11). */
  private buildStaticMasks(): void {
    const { na, ne, nb } = this;
    const m = this.staticMasks;
    m.obsMask.fill(1);
    m.entityMask.fill(1);
    m.entity2taskMask.fill(1);
    for (let i = 0; i < this.nAgents; i++) {
      m.entityMask[i] = 0;
      // Agents observe every real agent and building.
      for (let j = 0; j < this.nAgents; j++) m.obsMask[i * ne + j] = 0;
      for (let b = 0; b < this.nBuildings; b++) m.obsMask[i * ne + na + b] = 0;
    }
    for (let b = 0; b < this.nBuildings; b++) {
      const row = na + b;
      m.entityMask[row] = 0;
      // Buildings observe buildings only (agent columns stay 1).
      for (let c = 0; c < this.nBuildings; c++) m.obsMask[row * ne + na + c] = 0;
      m.entity2taskMask[row * nb + b] = 0;
    }
  }

  private ignite(b: number): void {
    this.fire[b] = 1.0;
    this.timeToNextFire[b] = this.restartInterval[b];
    this.timeSinceLastFire[b] = 0;
  }

  // ------------------------------------------------------------------ availability (§2.5)

  private ensureAvail(): void {
    if (this.availValid) return;
    const av = this.avail;
    const grid = this.grid;
    av.fill(0);
    for (let i = 0; i < this.na; i++) {
      const row = i * N_ACTIONS;
      av[row + ACT_STAY] = AVAIL_FREE;
      if (i >= this.nAgents) {
        this.adjacent[i] = -1;
        continue;
      }
      const x = this.agentX[i];
      const y = this.agentY[i];
      const isGen = this.agentType[i] === GENERALIST;
      const maxMove = isGen ? 8 : 4;
      // Moves use the pre-step grid: a target must be inside and empty now (§2.5). 2-cell moves
      // only check the destination, so generalists jump over agents and buildings (checklist §7.8).
      for (let a = 1; a <= maxMove; a++) {
        const tx = x + MOVE_DX[a];
        const ty = y + MOVE_DY[a];
        if (tx >= 0 && tx < GRID && ty >= 0 && ty < GRID && grid[ty * GRID + tx] === EMPTY)
          av[row + a] = AVAIL_FREE;
      }
      let adj = -1;
      for (let d = 0; d < 4; d++) {
        const nx = x + NEIGHBOUR_DX[d];
        const ny = y + NEIGHBOUR_DY[d];
        if (nx < 0 || nx >= GRID || ny < 0 || ny >= GRID) continue;
        const g = grid[ny * GRID + nx];
        if (g >= BUILDING_CODE) {
          adj = g - BUILDING_CODE;
          break;
        }
      }
      this.adjacent[i] = adj;
      if (adj >= 0) {
        const code = AVAIL_TASK_BASE + adj;
        const f = this.fire[adj];
        const h = this.health[adj];
        if (f > 0) {
          av[row + ACT_FIGHT] = code;
          if (isGen) av[row + ACT_FREEZE] = code;
        } else if (h < 1 && h > 0) {
          av[row + ACT_BUILD] = code;
        }
      }
    }
    this.availValid = true;
  }

  /** Why `action` is unavailable to `agent` in the current state (for `InvalidActionError`). */
  private explainUnavailable(agent: number, action: number): string {
    const name = ACTION_NAMES[action];
    const x = this.agentX[agent];
    const y = this.agentY[agent];
    const isGen = this.agentType[agent] === GENERALIST;
    if (action >= 1 && action <= 8) {
      if (action >= 5 && !isGen) return `${name}: only generalists can move 2 cells`;
      const tx = x + MOVE_DX[action];
      const ty = y + MOVE_DY[action];
      if (tx < 0 || tx >= GRID || ty < 0 || ty >= GRID)
        return `${name}: target (${tx},${ty}) is outside the grid`;
      const g = this.grid[cellOf(tx, ty)];
      const who = g >= BUILDING_CODE ? `building ${g - BUILDING_CODE}` : `agent ${g}`;
      return `${name}: target (${tx},${ty}) is occupied by ${who}`;
    }
    const adj = this.adjacent[agent];
    if (adj < 0) return `${name}: no building is adjacent to (${x},${y})`;
    if (action === ACT_FREEZE && !isGen) return `${name}: only generalists can freeze`;
    if (action === ACT_FIGHT || action === ACT_FREEZE)
      return `${name}: adjacent building ${adj} is not on fire`;
    const h = this.health[adj];
    const state = h >= 1 ? "complete" : h <= 0 ? "burned down" : "on fire";
    return `${name}: adjacent building ${adj} is ${state}`;
  }

  // ------------------------------------------------------------------ step (§2.6 - §2.9)

  step(actions: ArrayLike<number>): StepResult {
    if (this.done) throw new Error("step() called on a finished episode: call reset() first");
    if (actions.length < this.na) {
      throw new RangeError(
        `step: expected ${this.na} actions (one per padded agent slot), got ${actions.length}`,
      );
    }
    this.ensureAvail();
    const nA = this.nAgents;
    const nB = this.nBuildings;

    // 1. Validate against pre-step availability.
    for (let i = 0; i < nA; i++) {
      const a = actions[i];
      if (!Number.isInteger(a) || a < 0 || a >= N_ACTIONS) {
        throw new InvalidActionError(i, a, `action must be an integer in [0, ${N_ACTIONS})`);
      }
      if (this.avail[i * N_ACTIONS + a] === 0)
        throw new InvalidActionError(i, a, this.explainUnavailable(i, a));
    }

    // 2. Moves are applied at once; interactions register on the (unique) adjacent building.
    for (let i = 0; i < nA; i++) {
      const a = actions[i];
      this.prevX[i] = this.agentX[i];
      this.prevY[i] = this.agentY[i];
      if (a >= 1 && a <= 8) {
        this.agentX[i] += MOVE_DX[a];
        this.agentY[i] += MOVE_DY[a];
      } else if (a >= ACT_FIGHT) {
        const b = this.adjacent[i];
        const type = this.agentType[i] as AgentType;
        if (a === ACT_FIGHT) {
          this.fireDecrement[b] += FIRE_SPEED[type] * FIRE_REDUCE_RATE;
          this.fireTypes[b] |= TYPE_BIT[type];
        } else if (a === ACT_BUILD) {
          this.buildDelta[b] += BUILD_SPEED[type] * BASE_BUILD_RATE;
          this.buildTypes[b] |= TYPE_BIT[type];
        } else {
          this.frozen[b] = 1;
        }
      }
    }

    // 3. Building updates and reward terms (§2.7, §2.8).
    const info = this.result.info;
    const taskRewards = info.taskRewards;
    let globalReward = REWARD_TS_PEN;
    let anyBurned = false;
    for (let b = 0; b < nB; b++) {
      const f0 = this.fire[b];
      const h0 = this.health[b];
      let dec = this.fireDecrement[b];
      let f1: number;
      if (dec === 0) {
        f1 = FIRE_GROWTH_RATE * f0;
      } else {
        // Generalist fire bonus only with a Builder fighting too, and only when dec > 0 (§7.9).
        const ft = this.fireTypes[b];
        if (ft & TYPE_BIT[BUILDER] && ft & TYPE_BIT[GENERALIST])
          dec += GENERALIST_HELP_FACTOR * FIRE_REDUCE_RATE;
        f1 = f0 - dec;
      }
      const fire = Math.min(Math.max(f1, 0), 1);
      let bd = this.buildDelta[b];
      const bt = this.buildTypes[b];
      if (bt & TYPE_BIT[FIREFIGHTER] && bt & TYPE_BIT[GENERALIST])
        bd += GENERALIST_HELP_FACTOR * BASE_BUILD_RATE;
      // Burn uses the *updated* fire (§7.9); a freeze cancels it for this step.
      if (!this.frozen[b]) bd -= fire * BURN_RATE[this.bType[b] as BuildingType] * FIRE_BURN_RATE;
      const hsum = h0 + bd;
      const health = Math.min(Math.max(hsum, 0), 1);
      const trueDelta = health - h0;
      const ext = f0 > 0 && fire === 0 ? 1 : 0;
      const comp = h0 < 1 && health === 1 ? 1 : 0;
      const burn = h0 > 0 && health === 0 ? 1 : 0;
      this.fire[b] = burn ? 0 : fire;
      this.health[b] = health;

      // Episode statistics (§2.9).
      if (this.fireTypes[b] !== 0) {
        this.statFightSteps++;
        this.statFightTypes += popcount3(this.fireTypes[b]);
      }
      if (bt !== 0) {
        this.statBuildSteps++;
        this.statBuildTypes += popcount3(bt);
      }
      this.statFires += ext;
      this.statCompleted += comp;
      this.statBurned += burn;
      this.statHealthDelta += trueDelta;
      if (burn) anyBurned = true;

      this.fireDecrement[b] = 0;
      this.buildDelta[b] = 0;
      this.frozen[b] = 0;
      this.fireTypes[b] = 0;
      this.buildTypes[b] = 0;

      // Fire timer runs whether burning or not and is not reset by extinguishing (§2.7.5).
      if (health < 1 && health > 0) {
        this.timeToNextFire[b]--;
        this.timeSinceLastFire[b]++;
        if (this.timeToNextFire[b] <= 0) this.ignite(b);
      } else {
        this.timeToNextFire[b] = FINISHED_FIRE_TIMER;
        this.timeSinceLastFire[b] = 0;
      }

      // Completion enters the global reward at 1.0 but the subtask reward at the `solved` value (§7.10).
      const rb =
        REWARD_HEALTH_DELTA_MULT * trueDelta + REWARD_BURNED_DOWN * burn + REWARD_EXTINGUISH * ext;
      globalReward += rb + REWARD_COMPLETE * comp;
      taskRewards[b] = (rb + REWARD_SOLVED * comp + REWARD_TS_PEN) * this.rewardMult;
    }
    for (let b = nB; b < this.nb; b++) taskRewards[b] = 0;

    // 4. Collisions: for each pair i < j in order, if they share a cell revert a random one (§2.6.4).
    for (let i = 0; i < nA; i++) {
      for (let j = i + 1; j < nA; j++) {
        if (this.agentX[i] === this.agentX[j] && this.agentY[i] === this.agentY[j]) {
          const k = this.rng.random() < 0.5 ? i : j;
          this.agentX[k] = this.prevX[k];
          this.agentY[k] = this.prevY[k];
        }
      }
    }

    // 5. Rebuild the occupancy grid (buildings never move).
    for (let i = 0; i < nA; i++) this.grid[cellOf(this.prevX[i], this.prevY[i])] = EMPTY;
    for (let i = 0; i < nA; i++) this.grid[cellOf(this.agentX[i], this.agentY[i])] = i;
    this.t++;
    this.availValid = false;
    this.entitiesDirty = true;

    // 6. Task-completion vector, termination and info (§2.9).
    let changed = false;
    let nComplete = 0;
    let nFinished = 0;
    for (let b = 0; b < nB; b++) {
      const h = this.health[b];
      const isDone = h >= 1 || h <= 0 ? 1 : 0;
      if (isDone !== this.taskDone[b]) changed = true;
      this.taskDone[b] = isDone;
      nFinished += isDone;
      if (h >= 1) nComplete++;
    }
    info.tasksTerminated.set(this.taskDone);
    info.tasksChanged = changed;
    info.episodeLimit = false;
    info.stats = null;
    let terminated = false;
    if (this.endOnAnyBurn && (nComplete === nB || anyBurned)) {
      terminated = true;
    } else if (nFinished === nB) {
      terminated = true;
    } else if (this.t >= EPISODE_LIMIT) {
      // A time-out is bootstrapped through by the learner (checklist §7.4).
      terminated = true;
      info.episodeLimit = true;
    }
    const solved = terminated && nComplete === nB;
    if (solved) globalReward += REWARD_SOLVED; // only at the terminal step (§7.10)
    if (terminated) {
      this.done = true;
      info.stats = this.episodeStats(solved, nComplete);
    }
    this.result.reward = globalReward * this.rewardMult;
    this.result.terminated = terminated;
    return this.result;
  }

  private episodeStats(solved: boolean, nComplete: number): EpisodeStats {
    return {
      solved: solved ? 1 : 0,
      prop_buildings_completed: nComplete / this.nBuildings,
      fires_extinguished: this.statFires,
      buildings_completed: this.statCompleted,
      buildings_burned: this.statBurned,
      buildings_health_delta: this.statHealthDelta,
      types_per_firefight: this.statFightSteps > 0 ? this.statFightTypes / this.statFightSteps : 0,
      types_per_build: this.statBuildSteps > 0 ? this.statBuildTypes / this.statBuildSteps : 0,
    };
  }

  // ------------------------------------------------------------------ observations (§2.10 - §2.12)

  getAvailActions(out?: Int32Array): Int32Array {
    this.ensureAvail();
    if (!out) return this.avail;
    out.set(this.avail);
    return out;
  }

  getEntities(out?: Float32Array): Float32Array {
    if (this.entitiesDirty) this.refreshEntities();
    if (!out || out === this.ownEntities) return this.ownEntities;
    out.set(this.ownEntities);
    return out;
  }

  /**
   * Write every entity row from scratch (after reset / setState): zero padding, the static parts
   * (type one-hot, building positions, feature 57), then the dynamic parts.
   */
  private writeAllEntities(): void {
    const D = ENTITY_SHAPE;
    const e = this.ownEntities;
    e.fill(0);
    this.entityAgentCell.fill(-1);
    for (let i = 0; i < this.nAgents; i++) e[i * D + this.agentType[i]] = 1;
    const startRateSpan = 1 / MIN_FIRE_START_RATE - 1 / MAX_FIRE_START_RATE;
    for (let b = 0; b < this.nBuildings; b++) {
      const o = (this.na + b) * D;
      const x = this.bX[b];
      const y = this.bY[b];
      const ri = this.restartInterval[b];
      e[o + this.bType[b]] = 1;
      e[o + 5 + x] = 1;
      e[o + 21 + y] = 1;
      e[o + 37] = x / GRID;
      e[o + 38] = y / GRID;
      e[o + 57] = (1 / ri - 1 / MAX_FIRE_START_RATE) / startRateSpan;
    }
    this.refreshEntities();
  }

  /**
   * Entity features (§2.10), updated in place: agents' position one-hots only change where they
   * moved, availability bits and building state are rewritten. Avoids clearing the whole matrix
   * every step.
   */
  private refreshEntities(): void {
    this.ensureAvail();
    const D = ENTITY_SHAPE;
    const e = this.ownEntities;
    for (let i = 0; i < this.nAgents; i++) {
      const o = i * D;
      const x = this.agentX[i];
      const y = this.agentY[i];
      const cell = cellOf(x, y);
      const old = this.entityAgentCell[i];
      if (old !== cell) {
        if (old >= 0) {
          e[o + 5 + (old % GRID)] = 0;
          e[o + 21 + ((old / GRID) | 0)] = 0;
        }
        e[o + 5 + x] = 1;
        e[o + 21 + y] = 1;
        e[o + 37] = x / GRID;
        e[o + 38] = y / GRID;
        this.entityAgentCell[i] = cell;
      }
      const row = i * N_ACTIONS;
      for (let a = 0; a < N_ACTIONS; a++) e[o + 39 + a] = this.avail[row + a] >= 1 ? 1 : 0;
    }
    for (let b = 0; b < this.nBuildings; b++) {
      const o = (this.na + b) * D;
      const h = this.health[b];
      const f = this.fire[b];
      e[o + 51] = h;
      e[o + 52] = h >= 1 ? 1 : 0;
      e[o + 53] = h <= 0 ? 1 : 0;
      e[o + 54] = f;
      e[o + 55] = f > 0 ? 1 : 0;
      e[o + 56] = this.timeSinceLastFire[b] / this.restartInterval[b];
    }
    this.entitiesDirty = false;
  }

  getMasks(out: EnvMasks = this.ownMasks): EnvMasks {
    const s = this.staticMasks;
    out.obsMask.set(s.obsMask);
    out.entityMask.set(s.entityMask);
    out.entity2taskMask.set(s.entity2taskMask);
    out.taskMask.set(this.taskDone);
    if (this.heuristicAlloc) {
      const alloc = this.heuristicAllocation();
      const nt = this.nb;
      for (let i = 0; i < this.nAgents; i++)
        if (alloc[i] >= 0) out.entity2taskMask[i * nt + alloc[i]] = 0;
    }
    return out;
  }

  /**
   * Heuristic allocation (§2.12): each agent independently goes to the nearest active building
   * (Manhattan, ties to the lower index) of its preferred kind: firefighters and generalists prefer
   * burning buildings, builders prefer buildings that are not burning; otherwise the nearest of
   * the other kind.
   */
  heuristicAllocation(out: Int32Array = this.ownHeuristic): Int32Array {
    out.fill(-1, 0, this.na);
    for (let i = 0; i < this.nAgents; i++) {
      const x = this.agentX[i];
      const y = this.agentY[i];
      let bestFire = -1;
      let bestFireD = Infinity;
      let bestCalm = -1;
      let bestCalmD = Infinity;
      for (let b = 0; b < this.nBuildings; b++) {
        if (this.taskDone[b]) continue;
        const d = Math.abs(this.bX[b] - x) + Math.abs(this.bY[b] - y);
        if (this.fire[b] > 0) {
          if (d < bestFireD) {
            bestFireD = d;
            bestFire = b;
          }
        } else if (d < bestCalmD) {
          bestCalmD = d;
          bestCalm = b;
        }
      }
      const prefersCalm = this.agentType[i] === BUILDER;
      out[i] = prefersCalm
        ? bestCalm >= 0
          ? bestCalm
          : bestFire
        : bestFire >= 0
          ? bestFire
          : bestCalm;
    }
    return out;
  }

  // ------------------------------------------------------------------ snapshots and rendering

  /** A plain-object copy of the current state. */
  getState(): SaveTheCityState {
    const agents = [];
    for (let i = 0; i < this.nAgents; i++) {
      agents.push({ type: this.agentType[i] as AgentType, x: this.agentX[i], y: this.agentY[i] });
    }
    const buildings = [];
    for (let b = 0; b < this.nBuildings; b++) {
      buildings.push({
        type: this.bType[b] as BuildingType,
        x: this.bX[b],
        y: this.bY[b],
        health: this.health[b],
        fire: this.fire[b],
        restartInterval: this.restartInterval[b],
        timeToNextFire: this.timeToNextFire[b],
        timeSinceLastFire: this.timeSinceLastFire[b],
      });
    }
    return { time: this.t, agents, buildings };
  }

  /**
   * Replace the state with a hand-made one (tests, replays, curricula). Validates sizes, positions,
   * overlaps and value ranges, and clears episode statistics.
   */
  setState(state: SaveTheCityState): void {
    const { agents, buildings } = state;
    if (agents.length < 1 || agents.length > this.na) {
      throw new RangeError(
        `setState: ${agents.length} agents, scenario '${this.scenario}' allows 1..${this.na}`,
      );
    }
    if (buildings.length < 1 || buildings.length > this.nb) {
      throw new RangeError(
        `setState: ${buildings.length} buildings, scenario '${this.scenario}' allows 1..${this.nb}`,
      );
    }
    const seen = new Map<number, string>();
    const place = (x: number, y: number, what: string) => {
      if (
        !Number.isInteger(x) ||
        !Number.isInteger(y) ||
        x < 0 ||
        x >= GRID ||
        y < 0 ||
        y >= GRID
      ) {
        throw new RangeError(
          `setState: ${what} at (${x},${y}) is outside the ${GRID}x${GRID} grid`,
        );
      }
      const prior = seen.get(cellOf(x, y));
      if (prior) throw new Error(`setState: ${what} and ${prior} share cell (${x},${y})`);
      seen.set(cellOf(x, y), what);
    };
    agents.forEach((a, i) => {
      if (a.type !== FIREFIGHTER && a.type !== BUILDER && a.type !== GENERALIST) {
        throw new RangeError(`setState: agent ${i} has unknown type ${a.type}`);
      }
      place(a.x, a.y, `agent ${i}`);
    });
    buildings.forEach((b, k) => {
      if (b.type !== FAST && b.type !== SLOW)
        throw new RangeError(`setState: building ${k} has unknown type ${b.type}`);
      if (!(b.health >= 0 && b.health <= 1) || !(b.fire >= 0 && b.fire <= 1)) {
        throw new RangeError(`setState: building ${k} health/fire must lie in [0, 1]`);
      }
      if (!(b.restartInterval >= 1))
        throw new RangeError(`setState: building ${k} restartInterval must be >= 1`);
      place(b.x, b.y, `building ${k}`);
    });
    this.nAgents = agents.length;
    agents.forEach((a, i) => {
      this.agentType[i] = a.type;
      this.agentX[i] = this.prevX[i] = a.x;
      this.agentY[i] = this.prevY[i] = a.y;
    });
    this.nBuildings = buildings.length;
    buildings.forEach((b, k) => {
      this.bType[k] = b.type;
      this.bX[k] = b.x;
      this.bY[k] = b.y;
      this.health[k] = b.health;
      this.fire[k] = b.fire;
      this.restartInterval[k] = b.restartInterval;
      this.timeToNextFire[k] = b.timeToNextFire;
      this.timeSinceLastFire[k] = b.timeSinceLastFire;
    });
    this.t = state.time;
    this.statFires = this.statCompleted = this.statBurned = this.statHealthDelta = 0;
    this.statFightSteps = this.statFightTypes = this.statBuildSteps = this.statBuildTypes = 0;
    this.afterStateLoaded();
  }

  /** Save / restore the generator, e.g. for checkpoints. */
  getRngState(): number[] {
    return this.rng.getState();
  }
  setRngState(state: readonly number[]): void {
    this.rng.setState(state);
  }

  render(): string {
    return renderSaveTheCityText(this.getState());
  }
}

/** Number of distinct agent types in a 3-bit type set. */
function popcount3(bits: number): number {
  return (bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1);
}
