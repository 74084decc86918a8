/**
 * A tiny multi-step, multi-subtask problem the real learner must solve: two agents on a line of 7
 * cells, two targets (the subtasks), each agent allocated to one target per episode at random.
 * A subtask pays 1 and ends when an agent allocated to it stands on its target, so each agent has
 * to walk to *its* target, which it can only tell apart through the subtask mask, and the value of
 * a step towards it reaches the agent only through several TD backups. This is SaveTheCity's
 * learning problem (walk to the allocated building, then act) at its smallest. The cue test
 * cannot see credit going to the wrong subtask; this one fails (greedy success 0) when the env
 * pays each subtask's reward to the other one.
 *
 * With the paper's network sizes and learning rate the same learner needs ~2,000 updates here
 * before the greedy policy moves at all, then reaches 100% (measured, not asserted: too slow for
 * the suite); shrinking the mixer's hypernetworks alone (`mixer.hypernetEmbed=16`) brings that
 * down to a few hundred.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Rng } from "../../src/envs/rng.js";
import {
  allocMasks,
  allocStepResult,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  type ResetOptions,
  type StepResult,
} from "../../src/envs/types.js";
import { greedyEpisodes, trainTiny } from "./helpers.js";

const CELLS = 7;
const LIMIT = 8;
/** Features: [is agent, is target, one-hot cell]. */
const DE = 2 + CELLS;
const STAY = 0;
const LEFT = 1;
const RIGHT = 2;

class TwoTargets implements CompositeEnv {
  readonly name = "two-targets";
  readonly scenario = "default";
  readonly actionNames = ["stay", "left", "right"];
  readonly info: EnvInfo = {
    entityShape: DE,
    nActions: 3,
    nAgents: 2,
    nEntities: 4,
    nTasks: 2,
    episodeLimit: LIMIT,
  };
  private readonly rng: Rng;
  readonly pos = new Int32Array(2);
  readonly target = new Int32Array(2);
  /** alloc[i] = the target agent i is sent to (a random permutation per episode). */
  readonly alloc = new Int32Array(2);
  private readonly done = new Uint8Array(2);
  private t = 0;
  private readonly result: StepResult = allocStepResult(this.info);
  private readonly masks = allocMasks(this.info);
  constructor(seed: number) {
    this.rng = new Rng(seed);
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
  reset(_o?: ResetOptions) {
    // Targets at distinct cells, agents elsewhere (never on a target at the start).
    this.target[0] = this.rng.int(CELLS);
    do this.target[1] = this.rng.int(CELLS);
    while (this.target[1] === this.target[0]);
    for (let i = 0; i < 2; i++) {
      do this.pos[i] = this.rng.int(CELLS);
      while (this.pos[i] === this.target[0] || this.pos[i] === this.target[1]);
    }
    const swap = this.rng.int(2);
    this.alloc[0] = swap;
    this.alloc[1] = 1 - swap;
    this.done.fill(0);
    this.t = 0;
  }
  step(actions: ArrayLike<number>): StepResult {
    for (let i = 0; i < 2; i++) {
      if (actions[i] === LEFT) this.pos[i] = Math.max(0, this.pos[i] - 1);
      else if (actions[i] === RIGHT) this.pos[i] = Math.min(CELLS - 1, this.pos[i] + 1);
    }
    const info = this.result.info;
    let r = 0;
    info.tasksChanged = false;
    for (let k = 0; k < 2; k++) {
      info.taskRewards[k] = 0;
      if (this.done[k]) continue;
      for (let i = 0; i < 2; i++) {
        if (this.alloc[i] === k && this.pos[i] === this.target[k]) {
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
    const over = solved || this.t >= LIMIT;
    info.episodeLimit = over && !solved;
    info.stats = over ? { solved: solved ? 1 : 0 } : null;
    this.result.reward = r;
    this.result.terminated = over;
    return this.result;
  }
  getEntities(out = new Float32Array(4 * DE)) {
    out.fill(0);
    for (let i = 0; i < 2; i++) {
      out[i * DE] = 1;
      out[i * DE + 2 + this.pos[i]] = 1;
    }
    for (let k = 0; k < 2; k++) {
      out[(2 + k) * DE + 1] = 1;
      out[(2 + k) * DE + 2 + this.target[k]] = 1;
    }
    return out;
  }
  getAvailActions(out = new Int32Array(6)) {
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
    out.set(this.alloc);
    return out;
  }
  render() {
    return `agents ${[...this.pos]} → targets ${[...this.alloc].map((k) => this.target[k])}`;
  }
}

it("heuristic: the real learner walks each agent to its own target (multi-step, per subtask)", async () => {
  const envs = Array.from({ length: 8 }, (_, k) => new TwoTargets(100 + k));
  const { learner, runner } = await trainTiny({
    method: "heuristic",
    envs,
    iterations: 150,
    annealIterations: 60,
    bufferCapacity: 2000,
    maxTrajLen: LIMIT + 1,
    sets: ["agent.attnEmbedDim=32", "agent.rnnHiddenDim=32"],
  });
  // Greedy success rate and the fraction of steps that move an agent towards its target.
  let toward = 0;
  let moves = 0;
  const episodes = await greedyEpisodes(runner, (e, batch, actions) => {
    const env = envs[e];
    for (let i = 0; i < 2; i++) {
      const k = env.alloc[i];
      if (batch.taskMask[e * 2 + k] === 1) continue;
      const d = env.target[k] - env.pos[i];
      const want = d < 0 ? LEFT : d > 0 ? RIGHT : STAY;
      toward += actions[e * 2 + i] === want ? 1 : 0;
      moves++;
    }
  });
  const after = {
    success: episodes.reduce((s, x) => s + (x.stats["solved"] ?? 0), 0) / episodes.length,
    toward: toward / moves,
  };
  learner.dispose();
  assert.ok(
    after.success > 0.9 && after.toward > 0.9,
    `greedy success ${after.success.toFixed(2)}, steps towards the own target ${after.toward.toFixed(2)} (random policy: ~0.3, ~0.25)`,
  );
});
