/**
 * The allocator object (spec §8.4, §8.5, §9.2, §12, §14, §15.4): decisions through the runner's
 * `Allocator` interface, the ε-exploration order, training on real SaveTheCity windows with the
 * §12.2 metrics, the target-update schedule, and checkpoint round trips.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EpisodeReplayBuffer } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { AlmaConfig } from "../../src/config/schema.js";
import { makeEnv } from "../../src/envs/registry.js";
import { Rng } from "../../src/envs/rng.js";
import type { EnvInfo } from "../../src/envs/types.js";
import { AlmaAllocator } from "../../src/learners/alloc.js";
import { type ActingBatch, allocActingBatch } from "../../src/runners/acting.js";
import { ParallelRunner } from "../../src/runners/runner.js";
import { randomStates, smallInfo } from "./helpers.js";

function smallConfig(
  hier: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): AlmaConfig {
  return resolveConfig({
    method: "alma",
    steps: 1_000_000,
    overrides: {
      agent: { attnEmbedDim: 16, attnNHeads: 2 },
      hierAgent: { allocEmbedDim: 16, allocNHeads: 2, nProposals: 8, maxBs: 64, ...hier },
      ...extra,
    },
  });
}

/** Fill an acting batch with random SaveTheCity-shaped states (§2.1 masks). */
function fillBatch(info: EnvInfo, batch: ActingBatch, seed: number): void {
  const cfgLike = {
    nAgents: info.nAgents,
    nEntities: info.nEntities,
    nTasks: info.nTasks,
    entityShape: info.entityShape,
  } as const;
  const st = randomStates({ ...cfgLike } as never, batch.size, seed);
  batch.entities.set(st.entities);
  batch.entityMask.set(st.entityMask);
  batch.entity2taskMask.set(st.entity2taskMask);
  batch.taskMask.set(st.taskMask);
  const { nAgents: Na, nTasks: Nt } = info;
  for (let e = 0; e < batch.size; e++)
    for (let i = 0; i < Na; i++) {
      const row = st.lastAlloc.subarray((e * Na + i) * Nt, (e * Na + i + 1) * Nt);
      batch.allocation[e * Na + i] = row.indexOf(1);
    }
}

const info = smallInfo;

describe("AlmaAllocator.decide (§8.4, §9.2)", () => {
  const alloc = new AlmaAllocator(info, smallConfig(), { actingBatchSize: 4 });
  const batch = allocActingBatch(info, 4);

  it("allocates only the envs at a decision point, never to inactive subtasks, nothing to inactive agents (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1e6 }),
        fc.subarray([0, 1, 2, 3], { minLength: 1 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 200_000 }),
        async (seed, which, testMode, tEnv) => {
          fillBatch(info, batch, seed);
          const out = new Int32Array(4 * info.nAgents).fill(77);
          await alloc.decide({ envs: [], which, batch, testMode, tEnv }, out);
          for (let e = 0; e < 4; e++)
            for (let i = 0; i < info.nAgents; i++) {
              const k = out[e * info.nAgents + i];
              if (!which.includes(e)) {
                assert.equal(k, 77, "rows of other envs are untouched");
                continue;
              }
              if (batch.entityMask[e * info.nEntities + i] === 1)
                assert.equal(k, -1, "inactive agent");
              else {
                assert.ok(k >= 0 && k < info.nTasks);
                assert.equal(batch.taskMask[e * info.nTasks + k], 0, "active subtask");
              }
            }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("applies the proposal substitution first (per env, ε_p) and then the per-agent random reassignment (ε_r)", async () => {
    const which = [0, 1, 2, 3];
    // ε_p = 1, ε_r = 0: the raw proposal 0 replaces the best one.
    const onlyProp = new AlmaAllocator(
      info,
      smallConfig({ allocEps: "0.0-0.0-0.1", propAllocEps: "1.0-1.0-0.1" }),
      {
        actingBatchSize: 4,
      },
    );
    fillBatch(info, batch, 5);
    const out = new Int32Array(4 * info.nAgents);
    await onlyProp.decide({ envs: [], which, batch, testMode: false, tEnv: 0 }, out);
    for (const tr of onlyProp.lastTrace) {
      assert.equal(tr.usedProposal, true);
      assert.deepEqual(tr.randomAgents, []);
      assert.deepEqual(
        Array.from(out.subarray(tr.env * info.nAgents, (tr.env + 1) * info.nAgents)),
        tr.proposal0,
      );
    }
    // ε_p = 1 and ε_r = 1: every agent is re-drawn after the substitution (the reassignment wins).
    const both = new AlmaAllocator(
      info,
      smallConfig({ allocEps: "1.0-1.0-0.1", propAllocEps: "1.0-1.0-0.1" }),
      {
        actingBatchSize: 4,
      },
    );
    await both.decide({ envs: [], which, batch, testMode: false, tEnv: 0 }, out);
    for (const tr of both.lastTrace) {
      assert.equal(tr.usedProposal, true);
      assert.deepEqual(tr.randomAgents, [0, 1, 2]);
    }
    // Schedules: ε_r 1 → 0 over 5% of t_max, ε_p 1 → 0.05 over 20% (§8.5 defaults).
    assert.deepEqual(alloc.explorationAt(0), { allocEps: 1, propAllocEps: 1 });
    const mid = alloc.explorationAt(25_000);
    assert.ok(
      Math.abs(mid.allocEps - 0.5) < 1e-12 &&
        Math.abs(mid.propAllocEps - (1 - 0.95 * 0.125)) < 1e-12,
    );
    assert.deepEqual(alloc.explorationAt(300_000), { allocEps: 0, propAllocEps: 0.05 });
    // Test mode: no exploration at all, the critic's best proposal is used.
    await both.decide({ envs: [], which, batch, testMode: true, tEnv: 0 }, out);
    for (const tr of both.lastTrace) {
      assert.equal(tr.usedProposal, false);
      assert.deepEqual(tr.randomAgents, []);
      assert.deepEqual(
        Array.from(out.subarray(tr.env * info.nAgents, (tr.env + 1) * info.nAgents)),
        tr.best,
      );
    }
    onlyProp.dispose();
    both.dispose();
  });

  it("gives the same decisions with or without bucketing, deduplication, asynchronous reads and the acting programs", async () => {
    const mk = (opts: object) =>
      new AlmaAllocator(info, smallConfig(), { actingBatchSize: 4, ...opts });
    for (const seed of [9, 10, 11]) {
      // Fresh allocators per state: the bucket size changes how many random numbers a call draws.
      const variants = [
        mk({}),
        mk({ buckets: false }),
        mk({ syncActing: false }),
        mk({ dedupe: true }),
        mk({ fastActing: false }),
      ];
      fillBatch(info, batch, seed);
      const outs = variants.map(() => new Int32Array(12));
      const traces = [];
      for (const [k, x] of variants.entries()) {
        await x.decide({ envs: [], which: [1, 3], batch, testMode: true, tEnv: 0 }, outs[k]);
        traces.push(x.lastTrace.map((t) => t.bestIndex));
      }
      for (let k = 1; k < variants.length; k++) {
        assert.deepEqual(outs[k], outs[0]);
        assert.deepEqual(traces[k], traces[0]);
      }
      for (const x of variants) x.dispose();
    }
  });
});

describe("AlmaAllocator.train on SaveTheCity windows (§12, §14, §15.4)", () => {
  it("trains, reports the §12.2 metrics, updates targets every 56 episodes and round-trips checkpoints", async () => {
    const config = smallConfig({}, { optim: { lr: 1e-3 } });
    const envs = Array.from({ length: 4 }, (_, k) =>
      makeEnv("savethecity", { scenario: "2-5a_2-5b", seed: 10 + k }),
    );
    const sinfo = envs[0].info;
    const alloc = new AlmaAllocator(sinfo, config, { actingBatchSize: 4 });
    const policy = {
      utilities: (b: ActingBatch) => new Float32Array(b.size * sinfo.nAgents * sinfo.nActions),
    };
    const runner = new ParallelRunner(
      { envs, allocator: alloc, actionLength: 5, maskSubtaskActions: false, seed: 1 },
      policy,
    );
    const buf = new EpisodeReplayBuffer(sinfo, { capacity: 100, maxTrajLen: 64 });
    let tEnv = 0;
    for (let r = 0; r < 2; r++) {
      const res = await runner.run({ testMode: false, tEnv, epsilon: 1 });
      for (const ep of res.episodes) buf.insert(ep);
      tEnv += res.steps;
    }
    const rng = new Rng(3);
    const updatedAt: number[] = [];
    let last: Record<string, number> = {};
    for (let episode = 24; episode <= 120; episode += 8) {
      last = await alloc.train(buf.sample(8, rng), { tEnv, episode });
      if (last["alloc/target_updated"] === 1) updatedAt.push(episode);
    }
    // §14: interval 50 episodes, checked after each step with +8 granularity → 56, 112, ...
    assert.deepEqual(updatedAt, [56, 112]);
    for (const name of [
      "alloc/q_loss",
      "alloc/pi_loss",
      "alloc/amort_loss",
      "alloc/entropy",
      "alloc/q_grad_norm",
      "alloc/pi_grad_norm",
      "alloc/best_prob",
      "alloc/perc_ag_changed",
      "alloc/ag_task_concentration",
      "alloc/any_task_no_agents_pi",
    ]) {
      assert.ok(Number.isFinite(last[name]), `${name} = ${last[name]}`);
    }
    assert.ok(last["alloc/n_decisions"] > 8 && last["alloc/n_decisions"] <= 64);
    assert.ok(last["alloc/best_prob"] > 0 && last["alloc/best_prob"] <= 1);
    assert.ok(last["alloc/perc_ag_changed"] >= 0 && last["alloc/perc_ag_changed"] <= 1);

    // Checkpoint round trip: a fresh allocator with another seed restores the exact state and
    // then takes exactly the same decisions.
    const saved = await alloc.saveTensors();
    assert.ok(Object.keys(saved).some((k) => k.startsWith("alloc.state.target.q.")));
    assert.ok(Object.keys(saved).some((k) => k.startsWith("alloc.state.qOpt.")));
    assert.ok(
      "alloc.state.qStats.mean" in saved && "alloc.key_rng" in saved && "alloc.rng" in saved,
    );
    const other = new AlmaAllocator(
      sinfo,
      resolveConfig({
        ...{ method: "alma" },
        seed: 99,
        overrides: {
          agent: { attnEmbedDim: 16, attnNHeads: 2 },
          hierAgent: { allocEmbedDim: 16, allocNHeads: 2, nProposals: 8, maxBs: 64 },
        },
      }),
      {
        actingBatchSize: 4,
      },
    );
    other.loadTensors(saved);
    const again = await other.saveTensors();
    for (const [k, v] of Object.entries(saved)) assert.deepEqual(again[k].data, v.data, k);
    assert.deepEqual(other.counters, alloc.counters);
    const outA = new Int32Array(4 * sinfo.nAgents);
    const outB = new Int32Array(4 * sinfo.nAgents);
    const ctx = { envs, which: [0, 1, 2, 3], batch: runner.batch, testMode: false, tEnv: 0 };
    await alloc.decide(ctx, outA);
    await other.decide(ctx, outB);
    assert.deepEqual(outB, outA);
    const { ["alloc.state.qStats.mean"]: _drop, ...missing } = saved;
    assert.throws(() => other.loadTensors(missing), /missing tensor alloc\.state\.qStats\.mean/);
    alloc.dispose();
    other.dispose();
  });

  it("supports the Adam optimiser (alloc_opt = adam)", async () => {
    const alloc = new AlmaAllocator(info, smallConfig({ allocOpt: "adam", actionLength: 2 }), {
      actingBatchSize: 4,
    });
    const { allocWindowBatch } = await import("../../src/buffer/replay.js");
    const w = allocWindowBatch({ ...info }, 2, 8, true);
    w.filled.fill(1);
    const batch = allocActingBatch(info, 16);
    fillBatch(info, batch, 4);
    const { nEntities: Ne, nTasks: Nt, entityShape: De } = info;
    for (let r = 0; r < 16; r++) {
      w.entities.set(batch.entities.subarray(r * Ne * De, (r + 1) * Ne * De), r * Ne * De);
      w.entityMask.set(batch.entityMask.subarray(r * Ne, (r + 1) * Ne), r * Ne);
      w.entity2taskMask.set(
        batch.entity2taskMask.subarray(r * Ne * Nt, (r + 1) * Ne * Nt),
        r * Ne * Nt,
      );
      w.taskMask.set(batch.taskMask.subarray(r * Nt, (r + 1) * Nt), r * Nt);
      w.hierDecision[r] = r % 2 === 0 ? 1 : 0;
      w.reward[r] = r % 3;
    }
    w.terminated[7] = w.reset[7] = 1;
    w.terminated[15] = w.reset[15] = 1;
    // A batch without usable TD samples is skipped (nothing to learn, §12.2).
    const empty = allocWindowBatch({ ...info }, 2, 8, true);
    empty.filled.fill(1);
    assert.deepEqual(await alloc.train(empty, { tEnv: 0, episode: 0 }), {
      "alloc/n_decisions": 0,
      "alloc/n_decisions_found": 0,
      "alloc/skipped": 1,
    });
    assert.equal(alloc.counters.trainSteps, 0);
    const m1 = await alloc.train(w, { tEnv: 0, episode: 0 });
    const m2 = await alloc.train(w, { tEnv: 0, episode: 0 });
    assert.equal(m1["alloc/n_decisions"], 8);
    for (const m of [m1, m2])
      assert.ok(Number.isFinite(m["alloc/q_loss"]) && Number.isFinite(m["alloc/pi_loss"]));
    const saved = await alloc.saveTensors();
    assert.ok(Object.keys(saved).some((k) => k.startsWith("alloc.state.qOpt.m.")));
    alloc.dispose();
  });
});
