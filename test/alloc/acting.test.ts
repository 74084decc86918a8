/**
 * The allocator's acting programs (`src/nn/alloc/act.ts`, spec §8.4 network part): the decisions
 * equal those of the training-side functions for the same random streams (with and without
 * packing the active agents, with deduplication, with power-of-two buckets; forced decisions,
 * inactive agents between active ones, every subset of environments), and an allocator whose
 * programs were compiled by `warmup` compiles nothing more while deciding.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConfig } from "../../src/config/resolve.js";
import type { AlmaConfig } from "../../src/config/schema.js";
import { AlmaAllocator, type AlmaAllocatorOptions } from "../../src/learners/alloc.js";
import { type ActingBatch, allocActingBatch } from "../../src/runners/acting.js";
import { rng, smallInfo } from "./helpers.js";

const info = smallInfo;

function smallConfig(): AlmaConfig {
  return resolveConfig({
    method: "alma",
    steps: 1_000_000,
    overrides: {
      agent: { attnEmbedDim: 16, attnNHeads: 2 },
      hierAgent: { allocEmbedDim: 16, allocNHeads: 2, nProposals: 8, maxBs: 64 },
    },
  });
}

/**
 * Random states: any subset of agents active (also between inactive ones), a quarter of the
 * states with exactly one active subtask (a forced decision), some without active agents,
 * non-agent memberships also for inactive slots, random previous allocations.
 */
function fillBatch(batch: ActingBatch, seed: number): void {
  const r = rng(seed);
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = info;
  batch.entity2taskMask.fill(1);
  batch.allocation.fill(-1);
  for (let e = 0; e < batch.size; e++) {
    const kind = r();
    const active: number[] = [];
    for (let k = 0; k < Nt; k++) {
      const on = kind < 0.25 ? false : r() < 0.7;
      batch.taskMask[e * Nt + k] = on ? 0 : 1;
      if (on) active.push(k);
    }
    if (active.length === 0) {
      const k = Math.floor(r() * Nt);
      batch.taskMask[e * Nt + k] = 0;
      active.push(k);
    }
    const noAgents = kind > 0.9;
    for (let x = 0; x < Ne; x++) {
      const live = x < Na ? !noAgents && r() < 0.7 : r() < 0.8;
      batch.entityMask[e * Ne + x] = live ? 0 : 1;
      for (let d = 0; d < De; d++) batch.entities[(e * Ne + x) * De + d] = r() * 2 - 1;
      if (x < Na) {
        if (live && r() < 0.7) batch.allocation[e * Na + x] = Math.floor(r() * Nt);
      } else if (r() < 0.85) {
        batch.entity2taskMask[(e * Ne + x) * Nt + Math.floor(r() * Nt)] = 0;
      }
    }
  }
}

/** Every non-empty subset of 0..n−1. */
function subsets(n: number): number[][] {
  const out: number[][] = [];
  for (let m = 1; m < 1 << n; m++) out.push([...Array(n).keys()].filter((i) => (m >> i) & 1));
  return out;
}

describe("allocator acting programs (§8.4)", () => {
  it("decide exactly as the training-side functions for the same random streams", async () => {
    const config = smallConfig();
    const mk = (opts: AlmaAllocatorOptions) =>
      new AlmaAllocator(info, config, { actingBatchSize: 4, ...opts });
    const reference = mk({ fastActing: false, buckets: true });
    const variants: [string, AlmaAllocator][] = [
      ["acting programs", mk({})],
      ["without agent packing", mk({ compactAgents: false })],
      ["deduplicating", mk({ dedupe: true })],
      ["power-of-two buckets", mk({ buckets: true })],
    ];
    const batch = allocActingBatch(info, 4);
    let forced = 0;
    for (const [s, which] of subsets(4).entries()) {
      fillBatch(batch, 1000 + s);
      for (const e of which) {
        let tasks = 0;
        for (let k = 0; k < info.nTasks; k++)
          if (batch.taskMask[e * info.nTasks + k] === 0) tasks++;
        if (tasks === 1) forced++;
      }
      for (const testMode of [false, true]) {
        // t_env in the middle of both exploration schedules: ε_r = 0.5, ε_p ≈ 0.88 (§8.5).
        const ctx = { envs: [], which, batch, testMode, tEnv: 25_000 };
        const want = new Int32Array(4 * info.nAgents).fill(77);
        await reference.decide(ctx, want);
        for (const [name, v] of variants) {
          const got = new Int32Array(4 * info.nAgents).fill(77);
          await v.decide(ctx, got);
          assert.deepEqual(got, want, `${name}: allocations (subset ${which}, test ${testMode})`);
          assert.deepEqual(v.lastTrace, reference.lastTrace, `${name}: traces (subset ${which})`);
        }
      }
    }
    assert.ok(forced > 0, "some decisions were forced (one active subtask)");
    reference.dispose();
    for (const [, v] of variants) v.dispose();
  });

  it("compile nothing more while deciding after warmup", async () => {
    const alloc = new AlmaAllocator(info, smallConfig(), { actingBatchSize: 4 });
    alloc.warmup();
    const wasm = (globalThis as unknown as { WebAssembly: { Module: unknown } }).WebAssembly;
    const Orig = wasm.Module as new (...args: unknown[]) => object;
    let compiled = 0;
    const Counting = function (this: unknown, ...args: unknown[]) {
      compiled++;
      return new Orig(...args);
    } as unknown as typeof Orig;
    Counting.prototype = Orig.prototype;
    wasm.Module = Counting;
    try {
      const batch = allocActingBatch(info, 4);
      for (const [s, which] of subsets(4).entries()) {
        fillBatch(batch, 2000 + s);
        const out = new Int32Array(4 * info.nAgents);
        await alloc.decide({ envs: [], which, batch, testMode: s % 2 === 0, tEnv: 0 }, out);
      }
    } finally {
      wasm.Module = Orig;
    }
    assert.equal(compiled, 0, "Wasm modules compiled after warmup");
    alloc.dispose();
  });
});
