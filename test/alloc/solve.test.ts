/**
 * A tiny allocation problem solved end to end by the AQL allocator (spec §8, §12): two agents,
 * two subtasks, one of which pays. Each episode is a single decision whose segment reward is the
 * fraction of agents sent to the paying subtask. Which subtask pays is visible only in the
 * features of its non-agent entity (the TaskEmbedder permutation makes subtask indices
 * meaningless, §3.3), so the networks must read the state. Trained on windows of recorded
 * decisions taken by the allocator itself with exploration, then evaluated greedily.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocWindowBatch } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { EnvInfo } from "../../src/envs/types.js";
import { AlmaAllocator } from "../../src/learners/alloc.js";
import { allocActingBatch } from "../../src/runners/acting.js";
import { rng } from "./helpers.js";

const info: EnvInfo = {
  nAgents: 2,
  nEntities: 4,
  nTasks: 2,
  entityShape: 4,
  nActions: 1,
  episodeLimit: 1,
};
const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = info;

/** Write a random state into row e of an acting batch; returns the paying subtask. */
function randomState(
  batch: ReturnType<typeof allocActingBatch>,
  e: number,
  r: () => number,
): number {
  const good = r() < 0.5 ? 0 : 1;
  const ent = batch.entities.subarray(e * Ne * De, (e + 1) * Ne * De);
  ent.fill(0);
  for (let i = 0; i < Na; i++) {
    ent[i * De] = 1; // agent
    ent[i * De + 3] = r() - 0.5;
  }
  for (let b = 0; b < 2; b++) {
    const row = (Na + b) * De;
    ent[row + 1] = 1; // building
    ent[row + 2] = b === good ? 1 : -1; // pays or not
    ent[row + 3] = r() - 0.5;
  }
  batch.entityMask.fill(0, e * Ne, (e + 1) * Ne);
  const e2t = batch.entity2taskMask.subarray(e * Ne * Nt, (e + 1) * Ne * Nt);
  e2t.fill(1);
  e2t[(Na + 0) * Nt + 0] = 0; // building 0 ∈ subtask 0
  e2t[(Na + 1) * Nt + 1] = 0; // building 1 ∈ subtask 1
  batch.taskMask.fill(0, e * Nt, (e + 1) * Nt);
  batch.allocation.fill(-1, e * Na, (e + 1) * Na);
  return good;
}

describe("AQL solves a tiny allocation problem", () => {
  it("learns to send both agents to the paying subtask", async (tc) => {
    const config = resolveConfig({
      method: "alma",
      steps: 20_000,
      seed: 3,
      overrides: {
        agent: { attnEmbedDim: 16, attnNHeads: 2 },
        optim: { lr: 3e-3 },
        hierAgent: {
          allocEmbedDim: 16,
          allocNHeads: 2,
          nProposals: 8,
          actionLength: 1,
          decayOld: 0,
          maxBs: 64,
          allocEps: "1.0-0.1-0.5",
          propAllocEps: "1.0-0.05-0.5",
        },
      },
    });
    const E = 8; // parallel "envs" per acting call
    const alloc = new AlmaAllocator(info, config, { actingBatchSize: E, buckets: false });
    const batch = allocActingBatch(info, E);
    const out = new Int32Array(E * Na);
    const r = rng(17);
    const B = 8;
    const T = 16; // 8 one-step episodes (decision row + final-observation row) per window
    const windows = allocWindowBatch({ ...info }, B, T, true);
    windows.filled.fill(1);
    const which = Array.from({ length: E }, (_, i) => i);
    let tEnv = 0;

    const evaluate = async (n: number): Promise<number> => {
      let hits = 0;
      for (let k = 0; k < n; k++) {
        const goods = which.map((e) => randomState(batch, e, r));
        await alloc.decide({ envs: [], which, batch, testMode: true, tEnv }, out);
        for (const e of which)
          for (let i = 0; i < Na; i++) hits += out[e * Na + i] === goods[e] ? 1 : 0;
      }
      return hits / (n * E * Na);
    };

    const before = await evaluate(4);
    const t0 = Date.now();
    let after = 0;
    let iters = 0;
    for (let iter = 0; iter < 400; iter++) {
      iters = iter + 1;
      // collect 64 decisions (8 acting calls of 8 envs) into the window batch
      for (let c = 0; c < (B * T) / 2 / E; c++) {
        const goods = which.map((e) => randomState(batch, e, r));
        await alloc.decide({ envs: [], which, batch, testMode: false, tEnv }, out);
        for (const e of which) {
          const ep = c * E + e; // episode index in the batch
          const b = Math.floor(ep / (T / 2));
          const t = (ep % (T / 2)) * 2;
          let paid = 0;
          for (let i = 0; i < Na; i++) paid += out[e * Na + i] === goods[e] ? 0.5 : 0;
          for (const row of [t, t + 1]) {
            const R = b * T + row;
            windows.entities.set(
              batch.entities.subarray(e * Ne * De, (e + 1) * Ne * De),
              R * Ne * De,
            );
            windows.entityMask.set(batch.entityMask.subarray(e * Ne, (e + 1) * Ne), R * Ne);
            windows.taskMask.set(batch.taskMask.subarray(e * Nt, (e + 1) * Nt), R * Nt);
            const e2t = windows.entity2taskMask.subarray(R * Ne * Nt, (R + 1) * Ne * Nt);
            e2t.set(batch.entity2taskMask.subarray(e * Ne * Nt, (e + 1) * Ne * Nt));
            for (let i = 0; i < Na; i++)
              for (let k = 0; k < Nt; k++) e2t[i * Nt + k] = out[e * Na + i] === k ? 0 : 1;
          }
          windows.hierDecision[b * T + t] = 1;
          windows.reward[b * T + t] = paid;
          windows.terminated[b * T + t] = 1;
          windows.reset[b * T + t] = 1;
        }
      }
      tEnv += (B * T) / 2;
      await alloc.train(windows, { tEnv, episode: tEnv });
      if (iter % 50 === 49) {
        after = await evaluate(4);
        if (after >= 0.95) break;
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    tc.diagnostic(
      `greedy accuracy ${before.toFixed(2)} → ${after.toFixed(2)} after ${iters} training steps, ${seconds.toFixed(1)} s`,
    );
    assert.ok(
      after >= 0.95,
      `greedy allocations hit the paying subtask ${after} of the time (before training: ${before}) after ${seconds} s`,
    );
    alloc.dispose();
  });
});
