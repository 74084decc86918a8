/** Acting: ε-greedy with subtask masking (§5), decision timing (§9), the parallel runner (§15.2). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EpisodeReplayBuffer } from "../../src/buffer/replay.js";
import { makeEnv } from "../../src/envs/registry.js";
import { Rng } from "../../src/envs/rng.js";
import type { ActingBatch, UtilityFunction } from "../../src/runners/acting.js";
import { HeuristicAllocator, RandomAllocator } from "../../src/runners/allocators.js";
import { ParallelRunner } from "../../src/runners/runner.js";
import { isAvailable, selectActions } from "../../src/runners/select.js";

describe("ε-greedy selection (§5)", () => {
  it("subtask masking keeps code 1, own-subtask codes and heals of same-subtask allies", () => {
    const alloc = [1, 1, 2, -1];
    assert.equal(isAvailable(0, 0, alloc, true), false);
    assert.equal(isAvailable(1, 0, alloc, true), true);
    assert.equal(isAvailable(3, 0, alloc, true), true, "2+1 = own subtask");
    assert.equal(isAvailable(4, 0, alloc, true), false, "2+2 = other subtask");
    assert.equal(isAvailable(1001, 0, alloc, true), true, "heal ally 1 in the same subtask");
    assert.equal(isAvailable(1002, 0, alloc, true), false, "heal ally 2 in another subtask");
    assert.equal(
      isAvailable(2, 3, alloc, true),
      true,
      "unallocated agents count as subtask 0 (argmax quirk)",
    );
    assert.equal(isAvailable(4, 0, alloc, false), true, "no masking: any non-zero code");
    assert.equal(isAvailable(4, 0, null, true), true, "no allocation: any non-zero code");
  });

  it("greedy picks the best available action, ties to the lowest index", () => {
    const q = Float32Array.from([5, 9, 9, 1, /* agent 1 */ 3, 3, 7, 8]);
    const avail = Int32Array.from([1, 0, 1, 1, /* agent 1 */ 1, 1, 0, 3]);
    const out = new Int32Array(2);
    selectActions(
      q,
      avail,
      [0, 0],
      { nAgents: 2, nActions: 4, epsilon: 0, maskSubtaskActions: true },
      new Rng(1),
      out,
    );
    assert.deepEqual([...out], [2, 0], "agent 1's action 3 is tied to subtask 1, masked");
    selectActions(
      q,
      avail,
      [0, 1],
      { nAgents: 2, nActions: 4, epsilon: 0, maskSubtaskActions: true },
      new Rng(1),
      out,
    );
    assert.deepEqual([...out], [2, 3]);
  });

  it("ε = 1 draws uniformly among available actions only", () => {
    const q = new Float32Array(6);
    const avail = Int32Array.from([1, 0, 2, 0, 1, 5]);
    const counts = new Array(6).fill(0);
    const out = new Int32Array(1);
    const rng = new Rng(3);
    for (let n = 0; n < 6000; n++) {
      selectActions(
        q,
        avail,
        null,
        { nAgents: 1, nActions: 6, epsilon: 1, maskSubtaskActions: false },
        rng,
        out,
      );
      counts[out[0]]++;
    }
    assert.equal(counts[1] + counts[3], 0);
    for (const a of [0, 2, 4, 5])
      assert.ok(Math.abs(counts[a] - 1500) < 150, `action ${a}: ${counts[a]}`);
  });
});

/** Prefers one fixed action when available; zero otherwise. Counts forwards and checks shapes. */
class FixedPreference implements UtilityFunction {
  calls = 0;
  constructor(private readonly preferred: number) {}
  utilities(batch: ActingBatch): Float32Array {
    this.calls++;
    const { nAgents: na, nActions: A } = batch.info;
    const q = new Float32Array(batch.size * na * A);
    for (let r = 0; r < batch.size * na; r++) q[r * A + this.preferred] = 1;
    return q;
  }
}

function envs(n: number, seed: number) {
  return Array.from({ length: n }, (_, k) => makeEnv("savethecity", { seed: seed + k }));
}

describe("ParallelRunner (§15.2) with decision timing (§9.1)", () => {
  it("flat: records one episode per env, steps = Σ lengths, no decisions, final row + dummy action", async () => {
    const policy = new FixedPreference(0);
    const runner = new ParallelRunner(
      { envs: envs(4, 10), allocator: null, actionLength: 5, maskSubtaskActions: false, seed: 1 },
      policy,
    );
    const res = await runner.run({ testMode: false, tEnv: 123, epsilon: 1 });
    assert.equal(res.episodes.length, 4);
    assert.equal(
      res.steps,
      res.summaries.reduce((s, x) => s + x.length, 0),
    );
    assert.equal(
      policy.calls,
      Math.max(...res.summaries.map((s) => s.length)) + 1,
      "one forward per row incl. final rows",
    );
    const env0 = makeEnv("savethecity");
    const buf = new EpisodeReplayBuffer(env0.info, { capacity: 10, maxTrajLen: 64 });
    for (const ep of res.episodes) buf.insert(ep);
    for (let i = 0; i < 4; i++) {
      const ep = buf.decodeEpisode(i);
      const L = res.episodes[i].length;
      assert.equal(ep.tAdded[0], 123);
      assert.equal(
        ep.hierDecision.reduce((s, x) => s + x, 0),
        0,
      );
      assert.equal(ep.reset[L - 1], 1);
      assert.equal(ep.reward[L], 0, "final row carries no outcome");
      for (let t = 0; t < L - 1; t++) assert.equal(ep.reset[t], 0);
    }
  });

  it("heuristic: decisions at rows 0, 5, 10, … and one row after a subtask ends; allocation stored", async () => {
    const runner = new ParallelRunner(
      {
        envs: envs(8, 30),
        allocator: new HeuristicAllocator(),
        actionLength: 5,
        maskSubtaskActions: false,
        seed: 2,
      },
      new FixedPreference(10), // build whenever possible: buildings complete, subtasks change
    );
    const res = await runner.run({ testMode: false, tEnv: 0, epsilon: 0.3 });
    const info = makeEnv("savethecity").info;
    const { nAgents: na, nTasks: nt, nEntities: ne } = info;
    const buf = new EpisodeReplayBuffer(info, { capacity: 10, maxTrajLen: 64 });
    for (const ep of res.episodes) buf.insert(ep);
    let sawTaskChangeDecision = false;
    for (let i = 0; i < res.episodes.length; i++) {
      const ep = buf.decodeEpisode(i);
      const L = res.episodes[i].length;
      let timer = 0;
      for (let t = 0; t <= L; t++) {
        // Expected decision flag from the rule of §9.1.
        let expected = t === 0;
        if (t > 0 && t < L + 1) {
          timer++;
          let changed = false;
          for (let k = 0; k < nt; k++)
            if (ep.tasksTerminated[(t - 1) * nt + k] !== ep.taskMask[(t - 1) * nt + k])
              changed = true;
          expected = t < L && (timer >= 5 || changed);
          if (t === L) expected = false;
          if (expected && changed && timer < 5) sawTaskChangeDecision = true;
        }
        if (t === L) expected = false;
        assert.equal(ep.hierDecision[t], expected ? 1 : 0, `episode ${i} row ${t}`);
        if (expected) timer = 0;
        // Agent rows of entity2taskMask hold the allocation: one 0 for live agents, all 1 otherwise.
        for (let a = 0; a < na; a++) {
          const row = ep.entity2taskMask.subarray((t * ne + a) * nt, (t * ne + a + 1) * nt);
          const zeros = row.reduce((s, x) => s + (x === 0 ? 1 : 0), 0);
          const live = ep.entityMask[t * ne + a] === 0;
          assert.equal(zeros, live ? 1 : 0, `episode ${i} row ${t} agent ${a}`);
        }
      }
    }
    assert.ok(sawTaskChangeDecision, "some decision was forced by a subtask ending");
  });

  it("random allocation only picks active subtasks for live agents; test mode records nothing", async () => {
    const runner = new ParallelRunner(
      {
        envs: envs(3, 50),
        allocator: new RandomAllocator(new Rng(5), 6),
        actionLength: 5,
        maskSubtaskActions: true,
        seed: 3,
      },
      new FixedPreference(0),
    );
    let checked = 0;
    const res = await runner.run({
      testMode: true,
      tEnv: 0,
      epsilon: 1,
      onStep: (batch) => {
        const { nAgents: na, nTasks: nt, nEntities: ne } = batch.info;
        for (let e = 0; e < batch.size; e++) {
          if (!batch.active[e]) continue;
          for (let a = 0; a < na; a++) {
            const k = batch.allocation[e * na + a];
            if (batch.entityMask[e * ne + a]) assert.equal(k, -1);
            else if (k >= 0) {
              checked++;
              assert.ok(k < nt);
            }
          }
        }
      },
    });
    assert.equal(res.episodes.length, 0);
    assert.equal(res.summaries.length, 3);
    assert.ok(checked > 100);
    for (const s of res.summaries)
      assert.ok("solved" in s.stats && s.stats["ep_length"] === s.length);
  });
});
