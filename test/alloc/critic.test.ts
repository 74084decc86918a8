/** Allocation critic (spec §8.3): the optimised body equals the literal pseudo-code. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  criticBody,
  criticForward,
  initCritic,
  splitCritic,
  storedAllocation,
} from "../../src/nn/alloc/critic.js";
import { np, random, tree } from "../../src/nn/engine.js";
import {
  maxRelErr,
  permMatrix,
  randomAllocations,
  randomStates,
  referenceCriticBody,
  smallCfg,
  toInputs,
} from "./helpers.js";

describe("allocation critic (§8.3)", () => {
  const cfg = smallCfg();
  const q = initCritic(random.key(5), cfg);
  const nIn = cfg.nTasks;
  const S = 4;

  for (const P of [1, 3, 9]) {
    it(`matches the literal computation for ${P} allocation(s) per state${P > cfg.nAgents + 1 ? " (count table path)" : ""}`, async () => {
      const st = randomStates(cfg, S, 100 + P);
      const alloc = np.array(randomAllocations(cfg, st, P, 200 + P), {
        shape: [S, P, cfg.nAgents, cfg.nTasks],
      });
      const permData = permMatrix(nIn, 300 + P);
      const ref = referenceCriticBody(
        cfg,
        q,
        toInputs(cfg, st),
        alloc.ref,
        np.array(permData, { shape: [nIn, nIn] }),
      );
      const [body, head] = splitCritic(tree.ref(q));
      tree.dispose(head);
      const inp = toInputs(cfg, st);
      const got = criticBody(body, inp, alloc, np.array(permData, { shape: [nIn, nIn] }), cfg);
      assert.deepEqual(got.shape, [S, P]);
      const g = (await got.data()) as Float32Array;
      const r = (await ref.data()) as Float32Array;
      assert.ok(maxRelErr(g, r) < 1e-4, `critic ${g} vs reference ${r}`);
    });
  }

  it("evaluates the stored allocation (agent rows of entity2task_mask) and applies the Pop-Art head", async () => {
    const st = randomStates(cfg, S, 9);
    const inp = toInputs(cfg, st);
    const perm = () => np.array(permMatrix(nIn, 10), { shape: [nIn, nIn] });
    const stored = storedAllocation(inp.entity2taskMask.ref, cfg.nAgents);
    const [body, head] = splitCritic(tree.ref(q));
    tree.dispose(head);
    const a = (await criticBody(
      body,
      toInputs(cfg, st),
      stored.ref,
      perm(),
      cfg,
    ).data()) as Float32Array;
    const scaled = { ...tree.ref(q), popart: { w: np.array([2]), b: np.array([-1]) } };
    tree.dispose(q.popart);
    const b = (await criticForward(
      scaled,
      toInputs(cfg, st),
      stored,
      perm(),
      cfg,
    ).data()) as Float32Array;
    for (let i = 0; i < S; i++) assert.ok(Math.abs(b[i] - (2 * a[i] - 1)) < 1e-5);
    tree.dispose(inp);
  });
});
