import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EPISODE_OVERHEAD_BYTES,
  EpisodeBuilder,
  type EpisodeDims,
  EpisodeReplayBuffer,
  FIELD_ORDER,
  fieldLayouts,
} from "../../src/buffer/index.js";
import { makeEnv } from "../../src/envs/registry.js";
import { Rng } from "../../src/envs/rng.js";
import {
  allocStepResult,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  type StepResult,
} from "../../src/envs/types.js";
import { STC } from "./helpers.js";

/**
 * A scripted 2-agent, 2-subtask environment: entity features = [time, slot], ends at `endAt`
 * (by time limit when `endAt` equals the episode limit, which sets the `episodeLimit` flag).
 */
class FakeEnv implements CompositeEnv {
  readonly name = "fake";
  readonly scenario = "fake";
  readonly info: EnvInfo = {
    entityShape: 2,
    nActions: 3,
    nAgents: 2,
    nEntities: 4,
    nTasks: 2,
    episodeLimit: 4,
  };
  readonly actionNames = ["stay", "a", "b"];
  readonly nActiveAgents = 2;
  readonly nActiveTasks = 2;
  time = 0;
  private readonly result: StepResult = allocStepResult({ nTasks: 2 });
  constructor(readonly endAt: number) {}
  reset(): void {
    this.time = 0;
  }
  step(actions: ArrayLike<number>): StepResult {
    this.time++;
    const r = this.result;
    r.reward = this.time + actions[0]! / 10;
    r.terminated = this.time >= this.endAt;
    r.info.episodeLimit = r.terminated && this.time >= this.info.episodeLimit;
    r.info.taskRewards[0] = this.time;
    r.info.taskRewards[1] = -this.time;
    r.info.tasksTerminated[0] = this.time >= 2 ? 1 : 0;
    r.info.tasksTerminated[1] = r.terminated ? 1 : 0;
    r.info.tasksChanged = this.time === 2;
    return r;
  }
  getEntities(out = new Float32Array(8)): Float32Array {
    for (let e = 0; e < 4; e++) {
      out[e * 2] = this.time;
      out[e * 2 + 1] = e;
    }
    return out;
  }
  getAvailActions(out = new Int32Array(6)): Int32Array {
    out.set([1, 1, 2, 1, 0, 3 + (this.time % 2)]);
    return out;
  }
  getMasks(out?: EnvMasks): EnvMasks {
    const m = out ?? {
      obsMask: new Uint8Array(16),
      entityMask: new Uint8Array(4),
      entity2taskMask: new Uint8Array(8),
      taskMask: new Uint8Array(2),
    };
    m.obsMask.fill(0);
    m.entityMask.fill(0);
    m.entity2taskMask.set([1, 1, 1, 1, 0, 1, 1, 0]); // agents unallocated; entity 2 ↔ task 0, 3 ↔ 1
    m.taskMask.set([this.time >= 2 ? 1 : 0, 0]);
    return m;
  }
  heuristicAllocation(out = new Int32Array(2)): Int32Array {
    return out.fill(-1);
  }
  render(): string {
    return "";
  }
}

function fakeDims(env: FakeEnv): EpisodeDims & { episodeLimit: number } {
  return { ...env.info };
}

/** Run a scripted episode through the builder the way the parallel runner does (spec §15.2). */
function runFake(env: FakeEnv, b: EpisodeBuilder, tAdded: number) {
  env.reset();
  b.begin(tAdded);
  let t = 0;
  for (;;) {
    b.observe(env);
    if (b.ended) break;
    if (t % 2 === 0) b.setHierDecision(true);
    b.setAllocation([t % 2, -1]);
    b.act([t % 3, 0]);
    b.step(env.step([t % 3, 0]));
    t++;
  }
  b.setAllocation([1, 0]);
  b.act([2, 2]); // dummy action on the final observation
  return b.finish();
}

describe("EpisodeBuilder", () => {
  it("records rows 0..L as spec §2.2 describes (time-out ending)", () => {
    const env = new FakeEnv(4);
    const b = new EpisodeBuilder(fakeDims(env));
    const rec = runFake(env, b, 777);
    assert.equal(rec.nRows, 5);
    assert.equal(rec.tAdded, 777);
    const buf = new EpisodeReplayBuffer(b.dims, { capacity: 2, maxTrajLen: 64 });
    buf.insert(rec);
    const ep = buf.decodeEpisode(0);
    assert.deepEqual(
      Array.from(ep.entities.filter((_, i) => i % 8 === 0)),
      [0, 1, 2, 3, 4],
      "time per row",
    );
    assert.deepEqual(Array.from(ep.reward), [1, 2 + 0.1, 3 + 0.2, 4, 0].map(Math.fround));
    assert.deepEqual(Array.from(ep.reset), [0, 0, 0, 1, 0]);
    assert.deepEqual(
      Array.from(ep.terminated),
      [0, 0, 0, 0, 0],
      "time-limit ending is not a termination",
    );
    assert.deepEqual(Array.from(ep.hierDecision), [1, 0, 1, 0, 0]);
    assert.deepEqual(Array.from(ep.actions), [0, 0, 1, 0, 2, 0, 0, 0, 2, 2]);
    assert.deepEqual(Array.from(ep.taskRewards), [1, -1, 2, -2, 3, -3, 4, -4, 0, 0]);
    assert.deepEqual(Array.from(ep.tasksTerminated), [0, 0, 1, 0, 1, 0, 1, 1, 0, 0]);
    assert.deepEqual(Array.from(ep.taskMask), [0, 0, 0, 0, 1, 0, 1, 0, 1, 0]);
    assert.deepEqual(Array.from(ep.availActions.subarray(0, 6)), [1, 1, 2, 1, 0, 3]);
    assert.deepEqual(Array.from(ep.availActions.subarray(6, 12)), [1, 1, 2, 1, 0, 4]);
    // Agent rows of entity2taskMask hold the allocation (1 − one-hot); non-agent rows the env's.
    const e2t = (row: number) => Array.from(ep.entity2taskMask.subarray(row * 8, row * 8 + 8));
    assert.deepEqual(e2t(0), [0, 1, 1, 1, 0, 1, 1, 0]);
    assert.deepEqual(e2t(1), [1, 0, 1, 1, 0, 1, 1, 0]);
    assert.deepEqual(e2t(4), [1, 0, 0, 1, 0, 1, 1, 0]);
    assert.deepEqual(Array.from(ep.filled), [1, 1, 1, 1, 1]);
  });

  it("marks true terminations and is reusable across episodes", () => {
    const env = new FakeEnv(3);
    const b = new EpisodeBuilder(fakeDims(env));
    runFake(new FakeEnv(4), b, 0); // a longer episode first: its rows must not leak
    const rec = runFake(env, b, 5);
    const buf = new EpisodeReplayBuffer(b.dims, { capacity: 2, maxTrajLen: 64 });
    buf.insert(rec);
    const ep = buf.decodeEpisode(0);
    assert.equal(rec.nRows, 4);
    assert.deepEqual(Array.from(ep.terminated), [0, 0, 1, 0]);
    assert.deepEqual(Array.from(ep.reset), [0, 0, 1, 0]);
    assert.deepEqual(Array.from(ep.hierDecision), [1, 0, 1, 0]);
  });

  it("enforces the row protocol", () => {
    const env = new FakeEnv(2);
    const b = new EpisodeBuilder(fakeDims(env));
    assert.throws(() => b.observe(env), /observe: not allowed at row 0 in phase "idle"/);
    b.begin(0);
    assert.throws(() => b.act([0, 0]), /act: not allowed/);
    b.observe(env);
    const notTerminal = {
      reward: 0,
      terminated: false,
      info: { taskRewards: [0, 0], tasksTerminated: [0, 0], episodeLimit: false },
    };
    assert.throws(() => b.step(notTerminal), /step: not allowed/);
    assert.throws(() => b.act([0, 3]), /agent 1 action 3 is outside \[0, 3\)/);
    assert.throws(() => b.setAllocation([2, 0]), /agent 0 allocated to 2/);
    b.act([0, 0]);
    b.step(env.step([0, 0]));
    assert.throws(() => b.finish(), /has not terminated/);
    b.observe(env);
    b.act([0, 0]);
    b.step(env.step([0, 0]));
    assert.throws(() => b.finish(), /final observation \(row L\) has not been written/);
    b.observe(env);
    assert.throws(() => b.setHierDecision(true), /never a decision point/);
    assert.equal(b.finish().nRows, 3);
  });

  it("refuses to run past the episode limit", () => {
    const env = new FakeEnv(99);
    const b = new EpisodeBuilder(fakeDims(env));
    b.begin(0);
    assert.throws(() => {
      for (;;) {
        b.observe(env);
        b.act([0, 0]);
        b.step(env.step([0, 0]));
      }
    }, /reached episodeLimit 4 but the environment did not terminate/);
  });
});

describe("SaveTheCity episodes in the buffer (memory of a full 5000-episode buffer)", () => {
  it("records real episodes exactly and estimates the full-buffer footprint", (t) => {
    const env = makeEnv("savethecity", { scenario: "2-5a_2-5b", seed: 3 });
    const info = env.info;
    const dims: EpisodeDims = info;
    assert.deepEqual(
      [dims.nAgents, dims.nEntities, dims.nTasks, dims.nActions, dims.entityShape],
      [STC.nAgents, STC.nEntities, STC.nTasks, STC.nActions, STC.entityShape],
    );
    const b = new EpisodeBuilder(info);
    const buf = new EpisodeReplayBuffer(info, { capacity: 5000, maxTrajLen: 64 });
    const rng = new Rng(11);
    const avail = new Int32Array(info.nAgents * info.nActions);
    const acts = new Int32Array(info.nAgents);
    const heur = new Int32Array(info.nAgents);
    const nEpisodes = 24;
    let firstEntities: Float32Array[] = [];
    for (let e = 0; e < nEpisodes; e++) {
      env.reset();
      b.begin(e * 1000);
      const rows: Float32Array[] = [];
      let t = 0;
      for (;;) {
        b.observe(env);
        rows.push(env.getEntities().slice());
        // Heuristic-style allocation adopted every 5 steps, as a runner with an allocator would.
        if (!b.ended && t % 5 === 0) b.setHierDecision(true);
        b.setAllocation(env.heuristicAllocation(heur));
        env.getAvailActions(avail);
        for (let i = 0; i < info.nAgents; i++) {
          const ok: number[] = [];
          for (let a = 0; a < info.nActions; a++)
            if (avail[i * info.nActions + a]! >= 1) ok.push(a);
          acts[i] = ok[rng.int(ok.length)]!;
        }
        b.act(acts);
        if (b.ended) break;
        b.step(env.step(acts));
        t++;
      }
      buf.insert(b.finish());
      if (e === 0) firstEntities = rows;
    }
    // Exactness on a real episode.
    const ep0 = buf.decodeEpisode(0);
    const R = fieldLayouts(dims).find((l) => l.name === "entities")!.rowLen;
    firstEntities.forEach((row, r) => {
      assert.deepEqual(
        Array.from(ep0.entities.subarray(r * R, (r + 1) * R)),
        Array.from(row),
        `row ${r}`,
      );
    });
    assert.equal(FIELD_ORDER.length, 13);

    const mem = buf.memoryUsage();
    const perEpisode = mem.dataBytes / mem.episodes;
    const rowsPerEpisode = mem.rows / mem.episodes;
    const full = Math.round(5000 * (perEpisode + EPISODE_OVERHEAD_BYTES) + 5000 * 24);
    const fullDense = Math.round((mem.denseBytes / mem.episodes) * 5000);
    t.diagnostic(
      `SaveTheCity 2-5a_2-5b, random policy: ${rowsPerEpisode.toFixed(1)} rows/episode, ` +
        `${Math.round(perEpisode)} B/episode compact (dense ${Math.round(mem.denseBytes / mem.episodes)} B); ` +
        `full 5000-episode buffer ≈ ${(full / 2 ** 20).toFixed(1)} MiB compact vs ${(fullDense / 2 ** 20).toFixed(1)} MiB dense`,
    );
    // Guard the budget: issue 3 allows ≤ 1 GB resident in total with a full buffer.
    assert.ok(full < 400 * 2 ** 20, `full buffer estimate ${full} B`);

    // Window sampling at the paper's shape works on real episodes.
    const batch = buf.sample(16, rng);
    assert.equal(batch.seqLen, 64);
    assert.equal(batch.windowed, true);
  });
});
