import assert from "node:assert/strict";
import { it } from "node:test";
import { makeEnv } from "../../src/envs/registry.js";
import type { CompositeEnv } from "../../src/envs/types.js";
import { UtilityTrace } from "../../src/run/trace.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { heuristicRunner } from "../runners/helpers.js";

it("alma eval --trace: first env's first rows, available actions best first, the chosen one marked", async () => {
  const envs = [0, 1].map((k) => makeEnv("savethecity", { scenario: "2-5a_2-5b", seed: 3 + k }));
  const { nAgents: na, nActions: A } = envs[0].info;
  // Utility = action index: the greedy pick is the highest available index.
  const policy = {
    utilities: (b: ActingBatch) => {
      const q = new Float32Array(b.size * na * A);
      for (let j = 0; j < q.length; j++) q[j] = j % A;
      return q;
    },
  };
  const written: string[] = [];
  const trace = new UtilityTrace(policy, envs[0], 3, (t) => written.push(t));
  const runner = heuristicRunner(envs, trace);
  await runner.run({ testMode: true, tEnv: 0, epsilon: 0, onStep: trace.onStep });
  assert.equal(written.length, 3);
  assert.match(written[0], /^-- row 0 \(env time 0\)\n/);
  assert.match(written[2], /^-- row 2 \(env time 2\)\n/);
  const agentLines = written[0].split("\n").filter((l) => l.startsWith("  agent "));
  assert.equal(agentLines.length, envs[0].nActiveAgents);
  for (const line of agentLines) {
    assert.match(line, /\[subtask \d+\]/);
    const vals = [...line.matchAll(/ (-?\d+\.\d\d)/g)].map((m) => Number(m[1]));
    assert.ok(vals.length >= 1);
    assert.deepEqual(
      vals,
      [...vals].sort((a, b) => b - a),
      `sorted best first: ${line}`,
    );
    // The chosen action is the best one, and marked.
    assert.match(line, /\]: \*\S+ /);
    assert.equal((line.match(/\*/g) ?? []).length, 1);
  }
});

it("alma eval --trace names the subtask or ally an action is tied to (why a better one was not taken)", async () => {
  const env = {
    actionNames: ["stop", "attack", "heal"],
    nActiveAgents: 1,
    time: 4,
    render: () => "frame",
  } as unknown as CompositeEnv;
  // Codes (§1.4): 1 free, 2 + k tied to subtask k, 1000 + j tied to ally j.
  const batch = {
    size: 1,
    info: { nAgents: 1, nActions: 3 },
    availActions: Int32Array.from([1, 2 + 2, 1000 + 1]),
    allocation: Int32Array.from([0]),
    active: Uint8Array.from([1]),
  } as unknown as ActingBatch;
  const written: string[] = [];
  const trace = new UtilityTrace({ utilities: () => Float32Array.from([0, 5, 1]) }, env, 1, (t) =>
    written.push(t),
  );
  await trace.utilities(batch);
  trace.onStep(batch, Int32Array.from([2]));
  assert.equal(
    written[0],
    "-- row 0 (env time 4)\nframe\n  agent 0 [subtask 0]: attack[subtask 2] 5.00  *heal[ally 1] 1.00  stop 0.00\n",
  );
});
