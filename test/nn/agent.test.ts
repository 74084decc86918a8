import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AgentNetConfig,
  type AgentParams,
  agentForward,
  initAgent,
  type SubtaskCond,
} from "../../src/nn/agent.js";
import { type Arr, np, random, tree } from "../../src/nn/engine.js";
import {
  identityPermutationMatrix,
  randomPermutationMatrix,
  taskEmbed,
} from "../../src/nn/taskEmbed.js";
import { f64, fdCheck, host, randArray, toF64 } from "./helpers.js";

// Na = 3 agents (slots 0..2), 3 non-agent entities (slots 3..5), Nt = 3 subtasks.
const Na = 3;
const Ne = 6;
const Nt = 3;
const A = 4;
const De = 5;
const N = 2;
const cfgFor = (subtaskCond: SubtaskCond): AgentNetConfig => ({
  nAgents: Na,
  nEntities: Ne,
  nActions: A,
  entityShape: De,
  nTasks: Nt,
  attnEmbed: 8,
  nHeads: 2,
  hiddenDim: 6,
  subtaskCond,
});

// Row 0: agents 0,1 in subtask 0, agent 2 in subtask 1; entity 3 in 0, 4 in 1, 5 in 2.
// Row 1: agent 0 in subtask 2, agent 1 unallocated, agent 2 inactive; entity 5 inactive.
const entityMask = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1];
const e2t = [
  [0, 1, 1],
  [0, 1, 1],
  [1, 0, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
  [1, 1, 0],
  [1, 1, 1],
  [1, 1, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 1],
].flat();
const obsMask = (() => {
  const m = new Array<number>(N * Ne * Ne).fill(0);
  for (let b = 0; b < N; b++) {
    for (let i = 0; i < Ne; i++) {
      for (let j = 0; j < Ne; j++) {
        if (entityMask[b * Ne + i] || entityMask[b * Ne + j]) m[(b * Ne + i) * Ne + j] = 1;
      }
    }
  }
  return m;
})();
const ent = randArray(N * Ne * (De + A), 21);

function forward(p: AgentParams, cond: SubtaskCond, x: ArrayLike<number> = ent, perm?: Arr): Arr {
  return agentForward(
    p,
    {
      ent: f64(x, [N, Ne, De + A]),
      obsMask: f64(obsMask, [N, Ne, Ne]),
      entityMask: f64(entityMask, [N, Ne]),
      entity2taskMask: cond ? f64(e2t, [N, Ne, Nt]) : undefined,
      taskPerm:
        cond === "full_obs"
          ? (perm ?? identityPermutationMatrix(Nt).astype(np.float64))
          : undefined,
    },
    cfgFor(cond),
  );
}

describe("agent utility network (spec §4)", () => {
  for (const cond of [null, "mask", "full_obs"] as SubtaskCond[]) {
    it(`passes a finite-difference gradient check (subtask_cond=${cond})`, () => {
      const p = toF64(initAgent(random.key(5), cfgFor(cond)));
      const c = randArray(N * Na * A, 22);
      const f = (pp: AgentParams) =>
        forward(pp, cond)
          .mul(f64(c, [N, Na, A]))
          .sum();
      const leaves = fdCheck(f, p);
      assert.equal(leaves, cond === "full_obs" ? 10 : 9);
      tree.dispose(p);
    });
  }

  it("outputs exactly zero utilities for inactive agents", () => {
    const p = toF64(initAgent(random.key(6), cfgFor("mask")));
    const q = host(forward(p, "mask"));
    for (const v of q.slice((1 * Na + 2) * A, (1 * Na + 3) * A)) assert.ok(v === 0); // ±0
  });

  it("in 'mask' mode, sees only entities of its own subtask", () => {
    const p = toF64(initAgent(random.key(7), cfgFor("mask")));
    const base = host(forward(tree.ref(p), "mask"));
    // Perturb entity 4 (subtask 1) in row 0: only agent 2 (subtask 1) may change.
    const x2 = Float64Array.from(ent);
    for (let d = 0; d < De; d++) x2[(0 * Ne + 4) * (De + A) + d] += 3;
    const q2 = host(forward(tree.ref(p), "mask", x2));
    assert.deepEqual(q2.slice(0, 2 * A), base.slice(0, 2 * A));
    assert.notDeepEqual(q2.slice(2 * A, 3 * A), base.slice(2 * A, 3 * A));
    // Row 1, agent 1 is unallocated: it attends to nothing, so its own features do not matter.
    const x3 = Float64Array.from(ent);
    for (let d = 0; d < De; d++) x3[(1 * Ne + 1) * (De + A) + d] += 3;
    const q3 = host(forward(tree.ref(p), "mask", x3));
    assert.deepEqual(q3.slice((Na + 1) * A, (Na + 2) * A), base.slice((Na + 1) * A, (Na + 2) * A));
    // Without masking the same perturbation changes everyone in row 0.
    const pn = toF64(initAgent(random.key(7), cfgFor(null)));
    const n0 = host(forward(tree.ref(pn), null));
    const n2 = host(forward(pn, null, x2));
    assert.notDeepEqual(n2.slice(0, A), n0.slice(0, A));
    tree.dispose(p);
  });

  it("in 'full_obs' mode, adds a task code that depends on the permutation", () => {
    const p = toF64(initAgent(random.key(8), cfgFor("full_obs")));
    const perm = f64([0, 1, 0, 1, 0, 0, 0, 0, 1], [3, 3]); // swaps subtasks 0 and 1
    const a = host(forward(tree.ref(p), "full_obs"));
    const b = host(forward(tree.ref(p), "full_obs", ent, perm));
    assert.notDeepEqual(a, b);
    tree.dispose(p);
  });
});

describe("TaskEmbedder (spec §3.3)", () => {
  it("permutes membership columns before the linear map", () => {
    const w = randArray(3 * 4, 31);
    const memb = [1, 0, 0, 0, 0, 1, 0, 0, 0];
    const perm = [2, 0, 1]; // column j of the permuted membership is original column perm[j]
    const P = new Array<number>(9).fill(0);
    perm.forEach((k, j) => {
      P[k * 3 + j] = 1;
    });
    const out = host(taskEmbed({ w: f64(w, [3, 4]) }, f64(memb, [3, 3]), f64(P, [3, 3])));
    for (let e = 0; e < 3; e++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let j = 0; j < 3; j++) s += memb[e * 3 + perm[j]] * w[j * 4 + c];
        assert.ok(Math.abs(out[e * 4 + c] - s) < 1e-12);
      }
    }
    // An entity in no subtask gets the zero vector.
    assert.deepEqual(out.slice(8, 12), [0, 0, 0, 0]);
  });

  it("draws a fresh uniformly random permutation matrix per key", () => {
    const seen = new Set<string>();
    for (let s = 0; s < 12; s++) {
      const P = host(randomPermutationMatrix(random.key(s), 4));
      for (let r = 0; r < 4; r++)
        assert.equal(
          P.slice(r * 4, r * 4 + 4).reduce((a, b) => a + b, 0),
          1,
        );
      for (let c = 0; c < 4; c++)
        assert.equal(
          [0, 1, 2, 3].reduce((a, r) => a + P[r * 4 + c], 0),
          1,
        );
      seen.add(P.join(""));
    }
    assert.ok(seen.size >= 6, `only ${seen.size} distinct permutations in 12 draws`);
  });
});
