/**
 * A complete custom composite task in ~150 lines, written against the public environment API.
 *
 * "Beacons": agents stand on a corridor of 12 cells; 2-3 beacons (the subtasks) sit on random
 * cells and each needs a number of charge units. An agent on a beacon's cell may charge it (one
 * unit per step). A beacon is done once charged; the episode ends when all are charged or after
 * 40 steps. Each subtask's reward is its charge progress; the global reward is their sum.
 *
 * It passes the conformance suite (`test/examples/beacons.test.ts`), so it can be trained with
 * every method: register it with `registerEnv` and use `--env beacons`.
 */
import {
  AVAIL_FREE,
  AVAIL_TASK_BASE,
  allocMasks,
  allocStepResult,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  InvalidActionError,
  type ResetOptions,
  Rng,
  type StepResult,
} from "../src/envs/index.js";

const CELLS = 12;
const MAX_AGENTS = 4;
const MAX_BEACONS = 3;
const LIMIT = 40;
/** Actions: 0 stay, 1 left, 2 right, 3 charge the beacon on my cell. */
const ACTIONS = ["stay", "left", "right", "charge"] as const;
/** Entity features: [is agent, is beacon, position / CELLS, remaining charge / 6, charged]. */
const FEATURES = 5;

export class Beacons implements CompositeEnv {
  readonly name = "beacons";
  readonly scenario = "default";
  readonly actionNames = ACTIONS;
  readonly info: EnvInfo = {
    entityShape: FEATURES,
    nActions: ACTIONS.length,
    nAgents: MAX_AGENTS,
    nEntities: MAX_AGENTS + MAX_BEACONS,
    nTasks: MAX_BEACONS,
    episodeLimit: LIMIT,
  };
  private readonly rng: Rng;
  private readonly agentPos = new Int32Array(MAX_AGENTS);
  private readonly beaconPos = new Int32Array(MAX_BEACONS);
  private readonly need = new Int32Array(MAX_BEACONS);
  private nAgents = 0;
  private nBeacons = 0;
  private t = 0;
  private done = true;
  private readonly entities = new Float32Array(this.info.nEntities * FEATURES);
  private readonly avail = new Int32Array(MAX_AGENTS * ACTIONS.length);
  private readonly masks = allocMasks(this.info);
  private readonly alloc = new Int32Array(MAX_AGENTS);
  private readonly result: StepResult = allocStepResult({ nTasks: MAX_BEACONS });

  constructor(options: { seed?: number } = {}) {
    this.rng = new Rng(options.seed ?? 0);
  }

  get nActiveAgents() {
    return this.nAgents;
  }
  get nActiveTasks() {
    return this.nBeacons;
  }
  get time() {
    return this.t;
  }

  reset(options: ResetOptions = {}): void {
    if (options.seed !== undefined) this.rng.seed(options.seed);
    this.nAgents = this.rng.intInclusive(2, MAX_AGENTS);
    this.nBeacons = options.nTasks ?? this.rng.intInclusive(2, MAX_BEACONS);
    for (let i = 0; i < this.nAgents; i++) this.agentPos[i] = this.rng.int(CELLS);
    for (let k = 0; k < this.nBeacons; k++) {
      this.beaconPos[k] = this.rng.int(CELLS);
      this.need[k] = this.rng.intInclusive(2, 6);
    }
    this.t = 0;
    this.done = false;
  }

  private taskDone(k: number): number {
    return k >= this.nBeacons || this.need[k] <= 0 ? 1 : 0;
  }

  /** The beacon on `pos` that still needs charge, or -1. */
  private openBeaconAt(pos: number): number {
    for (let k = 0; k < this.nBeacons; k++)
      if (this.beaconPos[k] === pos && this.need[k] > 0) return k;
    return -1;
  }

  step(actions: ArrayLike<number>): StepResult {
    if (this.done) throw new Error("step() called on a finished episode: call reset() first");
    const av = this.getAvailActions();
    for (let i = 0; i < this.nAgents; i++) {
      const a = actions[i];
      if (!(a >= 0 && a < ACTIONS.length) || av[i * ACTIONS.length + a] === 0) {
        throw new InvalidActionError(
          i,
          a,
          a === 3 ? "no uncharged beacon on this cell" : "move leaves the corridor",
        );
      }
    }
    const { taskRewards, tasksTerminated } = this.result.info;
    taskRewards.fill(0);
    const before = Array.from({ length: MAX_BEACONS }, (_, k) => this.taskDone(k));
    for (let i = 0; i < this.nAgents; i++) {
      const a = actions[i];
      if (a === 1) this.agentPos[i]--;
      else if (a === 2) this.agentPos[i]++;
      else if (a === 3) {
        const k = this.openBeaconAt(this.agentPos[i]);
        if (k >= 0 && this.need[k] > 0) {
          this.need[k]--;
          taskRewards[k] += 1;
        }
      }
    }
    this.t++;
    let allDone = true;
    let changed = false;
    for (let k = 0; k < MAX_BEACONS; k++) {
      tasksTerminated[k] = this.taskDone(k);
      if (tasksTerminated[k] !== before[k]) changed = true;
      if (!tasksTerminated[k]) allDone = false;
    }
    const info = this.result.info;
    info.tasksChanged = changed;
    info.episodeLimit = !allDone && this.t >= LIMIT;
    this.result.terminated = allDone || this.t >= LIMIT;
    this.result.reward = taskRewards.reduce((s, r) => s + r, 0);
    info.stats = this.result.terminated ? { solved: allDone ? 1 : 0 } : null;
    this.done = this.result.terminated;
    return this.result;
  }

  getEntities(out: Float32Array = this.entities): Float32Array {
    out.fill(0);
    for (let i = 0; i < this.nAgents; i++) {
      out[i * FEATURES] = 1;
      out[i * FEATURES + 2] = this.agentPos[i] / CELLS;
    }
    for (let k = 0; k < this.nBeacons; k++) {
      const o = (MAX_AGENTS + k) * FEATURES;
      out[o + 1] = 1;
      out[o + 2] = this.beaconPos[k] / CELLS;
      out[o + 3] = this.need[k] / 6;
      out[o + 4] = this.need[k] <= 0 ? 1 : 0;
    }
    return out;
  }

  getAvailActions(out: Int32Array = this.avail): Int32Array {
    const A = ACTIONS.length;
    out.fill(0);
    for (let i = 0; i < MAX_AGENTS; i++) {
      out[i * A] = AVAIL_FREE;
      if (i >= this.nAgents) continue;
      if (this.agentPos[i] > 0) out[i * A + 1] = AVAIL_FREE;
      if (this.agentPos[i] < CELLS - 1) out[i * A + 2] = AVAIL_FREE;
      const k = this.openBeaconAt(this.agentPos[i]);
      if (k >= 0) out[i * A + 3] = AVAIL_TASK_BASE + k; // charging is tied to subtask k
    }
    return out;
  }

  getMasks(out: EnvMasks = this.masks): EnvMasks {
    const ne = this.info.nEntities;
    const nt = MAX_BEACONS;
    out.obsMask.fill(1);
    out.entityMask.fill(1);
    out.entity2taskMask.fill(1);
    const real = (e: number) =>
      e < MAX_AGENTS ? e < this.nAgents : e - MAX_AGENTS < this.nBeacons;
    for (let e = 0; e < ne; e++) {
      if (!real(e)) continue;
      out.entityMask[e] = 0;
      for (let j = 0; j < ne; j++) if (real(j)) out.obsMask[e * ne + j] = 0; // full observability
    }
    for (let k = 0; k < this.nBeacons; k++) out.entity2taskMask[(MAX_AGENTS + k) * nt + k] = 0;
    for (let k = 0; k < nt; k++) out.taskMask[k] = this.taskDone(k);
    return out;
  }

  /** Heuristic: every agent goes to the nearest uncharged beacon. */
  heuristicAllocation(out: Int32Array = this.alloc): Int32Array {
    out.fill(-1);
    for (let i = 0; i < this.nAgents; i++) {
      let best = Infinity;
      for (let k = 0; k < this.nBeacons; k++) {
        const d = Math.abs(this.beaconPos[k] - this.agentPos[i]);
        if (this.need[k] > 0 && d < best) {
          best = d;
          out[i] = k;
        }
      }
    }
    return out;
  }

  render(): string {
    const row = Array.from({ length: CELLS }, () => ".");
    for (let k = 0; k < this.nBeacons; k++)
      row[this.beaconPos[k]] = this.need[k] > 0 ? String(this.need[k]) : "*";
    const agents = Array.from({ length: this.nAgents }, (_, i) => `a${i}@${this.agentPos[i]}`).join(
      " ",
    );
    return `t=${this.t} |${row.join("")}| ${agents}`;
  }
}
