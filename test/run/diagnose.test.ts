import assert from "node:assert/strict";
import { it } from "node:test";
import { envEntry, makeEnv } from "../../src/envs/registry.js";
import type { CompositeEnv } from "../../src/envs/types.js";
import { actionStatsFor, SaveTheCityActionStats } from "../../src/run/diagnose.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { HeuristicAllocator } from "../../src/runners/allocators.js";
import { ParallelRunner } from "../../src/runners/runner.js";
import { zeroUtilities } from "../runners/helpers.js";

/** Utility 1 for the environment's scripted action (walk to the allocated subtask, work on it). */
function scriptedUtilities(name: string, envs: CompositeEnv[]) {
  const scripted = envEntry(name).scriptedActions!;
  return {
    utilities: (b: ActingBatch) => {
      const { nAgents: na, nActions: A } = b.info;
      const q = new Float32Array(b.size * na * A);
      const out = new Int32Array(na);
      for (let e = 0; e < b.size; e++) {
        if (!b.active[e]) continue;
        scripted(envs[e], Int32Array.from(b.allocation.subarray(e * na, (e + 1) * na)), out);
        for (let i = 0; i < na; i++) q[(e * na + i) * A + out[i]] = 1;
      }
      return q;
    },
  };
}

async function diagnose(name: string, policy: "scripted" | "zero", actionLength: number) {
  const envs = [0, 1, 2, 3].map((k) => makeEnv(name, { seed: 20 + k }));
  const stats = actionStatsFor(envs);
  const runner = new ParallelRunner(
    {
      envs,
      allocator: new HeuristicAllocator(),
      actionLength,
      maskSubtaskActions: name === "battle",
      seed: 1,
    },
    policy === "scripted" ? scriptedUtilities(name, envs) : zeroUtilities,
  );
  await runner.run({ testMode: true, tEnv: 0, epsilon: 0, onStep: stats.onStep });
  return stats.summary();
}

it("alma eval --diagnose, SaveTheCity: the scripted policy walks to and works on its own building", async () => {
  const d = await diagnose("savethecity", "scripted", 5);
  assert.ok(d["diag/agent_steps"] > 100);
  assert.ok(d["diag/moves_closer"] > 0.95, `moves closer ${d["diag/moves_closer"]}`);
  assert.equal(d["diag/moves_further"], 0);
  assert.equal(d["diag/interact_other"], 0);
  assert.ok(d["diag/interact_own"] > 0.2, `works on its building ${d["diag/interact_own"]}`);
  const sum = ["stay", "move", "interact_own", "interact_other", "interact_unallocated"]
    .map((k) => d[`diag/${k}`])
    .reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9);
});

it("alma eval --diagnose, battle: the scripted policy closes in on its army and attacks it", async () => {
  const d = await diagnose("battle", "scripted", 3);
  assert.ok(d["diag/agent_steps"] > 100);
  assert.ok(d["diag/moves_closer"] > 0.95, `moves closer ${d["diag/moves_closer"]}`);
  assert.ok(d["diag/target"] > 0.3, `attacks ${d["diag/target"]}`);
  assert.ok(Math.abs(d["diag/stop"] + d["diag/move"] + d["diag/target"] - 1) < 1e-9);
});

it("alma eval --diagnose: all-zero utilities only stay; other environments are refused", async () => {
  const d = await diagnose("savethecity", "zero", 5);
  assert.equal(d["diag/stay"], 1);
  assert.ok(Number.isNaN(d["diag/moves_closer"]), "no moves: undefined fraction");
  assert.throws(() => new SaveTheCityActionStats([makeEnv("battle")]), /SaveTheCity only/);
  assert.throws(
    () => actionStatsFor([makeEnv("savethecity"), makeEnv("battle")]),
    /implemented for/,
  );
});
