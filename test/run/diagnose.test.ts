import assert from "node:assert/strict";
import { it } from "node:test";
import { makeEnv } from "../../src/envs/registry.js";
import { type SaveTheCity, scriptedActions } from "../../src/envs/savethecity/index.js";
import { SaveTheCityActionStats } from "../../src/run/diagnose.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { heuristicRunner, zeroUtilities } from "../runners/helpers.js";

const envsFor = () =>
  [0, 1, 2, 3].map((k) => makeEnv("savethecity", { scenario: "2-5a_2-5b", seed: 20 + k }));

/** Utility 1 for the scripted policy's action (walk to the allocated building, work on it). */
function scriptedUtilities(envs: SaveTheCity[]) {
  return {
    utilities: (b: ActingBatch) => {
      const { nAgents: na, nActions: A } = b.info;
      const q = new Float32Array(b.size * na * A);
      const out = new Int32Array(na);
      for (let e = 0; e < b.size; e++) {
        if (!b.active[e]) continue;
        const avail = b.availActions.subarray(e * na * A, (e + 1) * na * A);
        scriptedActions(
          envs[e].getState(),
          avail,
          b.allocation.subarray(e * na, (e + 1) * na),
          out,
        );
        for (let i = 0; i < na; i++) q[(e * na + i) * A + out[i]] = 1;
      }
      return q;
    },
  };
}

it("alma eval --diagnose: the scripted policy walks to and works on its own building", async () => {
  const envs = envsFor();
  const stats = new SaveTheCityActionStats(envs);
  await heuristicRunner(envs, scriptedUtilities(envs as SaveTheCity[])).run({
    testMode: true,
    tEnv: 0,
    epsilon: 0,
    onStep: stats.onStep,
  });
  const d = stats.summary();
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

it("alma eval --diagnose: all-zero utilities only stay; other environments are refused", async () => {
  const envs = envsFor();
  const stats = new SaveTheCityActionStats(envs);
  await heuristicRunner(envs, zeroUtilities).run({
    testMode: true,
    tEnv: 0,
    epsilon: 0,
    onStep: stats.onStep,
  });
  const d = stats.summary();
  assert.equal(d["diag/stay"], 1);
  assert.ok(Number.isNaN(d["diag/moves_closer"]), "no moves: undefined fraction");
  assert.throws(() => new SaveTheCityActionStats([makeEnv("battle")]), /SaveTheCity only/);
});
