/**
 * "Grid targets": SaveTheCity's low-level learning problem (walk to the allocated building, then
 * act) at its smallest, for learning tests and probes.
 *
 * Two agents and two targets (the subtasks) on a `width × height` grid (a line when `height` is
 * 1). Each episode places the targets and agents on distinct random cells and sends each agent to
 * one target, at random; once its target is reached the agent is done and unallocated
 * (`heuristicAllocation`, `allocationOf`). A subtask pays 1 and ends when the agent allocated to it
 * stands on its target, so each agent has to walk to *its* target, which it can only tell
 * apart through the subtask mask, and the value of a step towards it reaches the agent only
 * through several TD backups. The episode ends when both subtasks are done (`solved`) or after
 * `limit` steps.
 *
 * Entity features follow SaveTheCity's layout (spec §2.10): [is agent, is target, one-hot x,
 * one-hot y, x / width, y / height] (the y entries only when `height > 1`), so an agent has to
 * compute the direction to its target from two entities' absolute coordinates through attention,
 * as in SaveTheCity.
 *
 * Used by `test/learners/navigation.test.ts` (7 × 1) and `bench/navigation-probe.ts` (any size).
 */
import {
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

/** Actions: stay, then west/east, then (on a 2-D grid) south/north. */
export const GRID_STAY = 0;
export const GRID_WEST = 1;
export const GRID_EAST = 2;
export const GRID_SOUTH = 3;
export const GRID_NORTH = 4;
const DX = [0, -1, 1, 0, 0];
const DY = [0, 0, 0, -1, 1];

export interface GridTargetsOptions {
  width: number;
  /** 1 for a line (3 actions, no y features). */
  height: number;
  /** Episode step limit. */
  limit: number;
}

export class GridTargets implements CompositeEnv {
  readonly name = "grid-targets";
  readonly scenario: string;
  readonly actionNames: readonly string[];
  readonly info: EnvInfo;
  readonly width: number;
  readonly height: number;
  readonly x = new Int32Array(2);
  readonly y = new Int32Array(2);
  readonly targetX = new Int32Array(2);
  readonly targetY = new Int32Array(2);
  /** alloc[i] = the target agent i is sent to (a random permutation per episode). */
  readonly alloc = new Int32Array(2);
  private readonly rng: Rng;
  private readonly done = new Uint8Array(2);
  /** Cells used by this reset's placements. */
  private readonly taken: Uint8Array;
  private t = 0;
  /** The episode has ended (stepping again is an error until `reset`). */
  private over = true;
  private readonly result: StepResult;
  private readonly masks: EnvMasks;

  constructor(seed: number, o: GridTargetsOptions) {
    for (const [k, v] of Object.entries(o))
      if (!Number.isInteger(v) || v < 1)
        throw new Error(`GridTargets: ${k} must be an integer ≥ 1, got ${v}`);
    if (o.width * o.height < 4) throw new Error("GridTargets: the grid needs at least 4 cells");
    this.width = o.width;
    this.height = o.height;
    this.scenario = `${o.width}x${o.height}`;
    const nActions = o.height > 1 ? 5 : 3;
    this.actionNames = ["stay", "west", "east", "south", "north"].slice(0, nActions);
    const entityShape = 2 + o.width + 1 + (o.height > 1 ? o.height + 1 : 0);
    this.info = {
      entityShape,
      nActions,
      nAgents: 2,
      nEntities: 4,
      nTasks: 2,
      episodeLimit: o.limit,
    };
    this.rng = new Rng(seed);
    this.taken = new Uint8Array(o.width * o.height);
    this.result = allocStepResult(this.info);
    this.masks = allocMasks(this.info);
  }
  get nActiveAgents() {
    return 2;
  }
  get nActiveTasks() {
    return 2 - this.done[0] - this.done[1];
  }
  get time() {
    return this.t;
  }
  /** A random cell not used yet this reset. */
  private freeCell(): number {
    let c: number;
    do c = this.rng.int(this.width * this.height);
    while (this.taken[c] === 1);
    this.taken[c] = 1;
    return c;
  }
  reset(_o?: ResetOptions) {
    this.taken.fill(0);
    for (let k = 0; k < 2; k++) {
      const c = this.freeCell();
      this.targetX[k] = c % this.width;
      this.targetY[k] = Math.floor(c / this.width);
    }
    for (let i = 0; i < 2; i++) {
      const c = this.freeCell();
      this.x[i] = c % this.width;
      this.y[i] = Math.floor(c / this.width);
    }
    const swap = this.rng.int(2);
    this.alloc[0] = swap;
    this.alloc[1] = 1 - swap;
    this.done.fill(0);
    this.t = 0;
    this.over = false;
  }
  step(actions: ArrayLike<number>): StepResult {
    if (this.over) throw new Error("step() called on a finished episode: call reset() first");
    for (let i = 0; i < 2; i++) {
      const a = actions[i];
      if (!Number.isInteger(a) || a < 0 || a >= this.info.nActions)
        throw new InvalidActionError(i, a, `actions are 0..${this.info.nActions - 1}`);
      this.x[i] = Math.min(this.width - 1, Math.max(0, this.x[i] + DX[a]));
      this.y[i] = Math.min(this.height - 1, Math.max(0, this.y[i] + DY[a]));
    }
    const info = this.result.info;
    let r = 0;
    info.tasksChanged = false;
    for (let k = 0; k < 2; k++) {
      info.taskRewards[k] = 0;
      if (this.done[k]) continue;
      for (let i = 0; i < 2; i++) {
        if (this.alloc[i] === k && this.x[i] === this.targetX[k] && this.y[i] === this.targetY[k]) {
          this.done[k] = 1;
          info.taskRewards[k] = 1;
          info.tasksChanged = true;
          r += 1;
          break;
        }
      }
    }
    info.tasksTerminated.set(this.done);
    this.t++;
    const solved = this.done[0] === 1 && this.done[1] === 1;
    this.over = solved || this.t >= this.info.episodeLimit;
    info.episodeLimit = this.over && !solved;
    info.stats = this.over ? { solved: solved ? 1 : 0 } : null;
    this.result.reward = r;
    this.result.terminated = this.over;
    return this.result;
  }
  /**
   * The subtask agent `i` is allocated to while its target is open, else -1. (Sending a finished
   * agent on to the other open target instead made the 7-cell learning test oscillate between
   * solved and unsolved: two agents then share one subtask's credit.)
   */
  allocationOf(i: number): number {
    return this.done[this.alloc[i]] === 0 ? this.alloc[i] : -1;
  }
  /**
   * The action that brings agent `i` closest to its allocated target (stay when on it or when
   * nothing is open; x before y).
   */
  towardsTarget(i: number): number {
    const k = this.allocationOf(i);
    if (k < 0) return GRID_STAY;
    const dx = this.targetX[k] - this.x[i];
    const dy = this.targetY[k] - this.y[i];
    if (dx !== 0) return dx < 0 ? GRID_WEST : GRID_EAST;
    if (dy !== 0) return dy < 0 ? GRID_SOUTH : GRID_NORTH;
    return GRID_STAY;
  }
  /** Manhattan distance from agent `i` to its allocated target (0 when nothing is open). */
  distance(i: number): number {
    const k = this.allocationOf(i);
    if (k < 0) return 0;
    return Math.abs(this.targetX[k] - this.x[i]) + Math.abs(this.targetY[k] - this.y[i]);
  }
  getEntities(out = new Float32Array(4 * this.info.entityShape)) {
    const de = this.info.entityShape;
    out.fill(0);
    const put = (row: number, kind: number, x: number, y: number) => {
      const o = row * de;
      out[o + kind] = 1;
      out[o + 2 + x] = 1;
      if (this.height > 1) {
        out[o + 2 + this.width + y] = 1;
        out[o + 2 + this.width + this.height] = x / this.width;
        out[o + 3 + this.width + this.height] = y / this.height;
      } else {
        out[o + 2 + this.width] = x / this.width;
      }
    };
    for (let i = 0; i < 2; i++) put(i, 0, this.x[i], this.y[i]);
    for (let k = 0; k < 2; k++) put(2 + k, 1, this.targetX[k], this.targetY[k]);
    return out;
  }
  getAvailActions(out = new Int32Array(2 * this.info.nActions)) {
    return out.fill(1);
  }
  getMasks(out: EnvMasks = this.masks) {
    out.obsMask.fill(0);
    out.entityMask.fill(0);
    out.entity2taskMask.fill(1);
    out.entity2taskMask[2 * 2 + 0] = 0; // target 0 belongs to subtask 0
    out.entity2taskMask[3 * 2 + 1] = 0;
    out.taskMask.set(this.done);
    return out;
  }
  heuristicAllocation(out = new Int32Array(2)) {
    for (let i = 0; i < 2; i++) out[i] = this.allocationOf(i);
    return out;
  }
  render() {
    const at = (x: Int32Array, y: Int32Array, j: number) => `(${x[j]},${y[j]})`;
    const to = (i: number) => {
      const k = this.allocationOf(i);
      return k < 0 ? "-" : at(this.targetX, this.targetY, k);
    };
    return `agents ${at(this.x, this.y, 0)} ${at(this.x, this.y, 1)} → targets ${to(0)} ${to(1)}`;
  }
}
