import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SubtaskCond } from "../../src/nn/agent.js";
import { type Arr, grad, random, tree } from "../../src/nn/engine.js";
import {
  initMixer,
  type MixerConfig,
  type MixerHypernets,
  mixerForward,
  mixerOutputs,
  splitMixerParams,
} from "../../src/nn/mixer.js";
import { f64, fdCheck, host, randArray, toF64 } from "./helpers.js";

const Na = 3;
const Ne = 6;
const Nt = 3;
const D = 7;
const N = 2;
const cfgFor = (subtaskCond: SubtaskCond, softmax = true): MixerConfig => ({
  nAgents: Na,
  nEntities: Ne,
  nTasks: Nt,
  featureDim: D,
  hypernetEmbed: 8,
  mixingEmbed: 4,
  nHeads: 2,
  subtaskCond,
  softmaxMixingWeights: softmax,
});

// Row 0: agents 0,1 -> subtask 0, agent 2 -> subtask 2; subtask 1 has no agent.
// Row 1: agent 0 -> subtask 1, agent 1 -> subtask 1, agent 2 inactive (unallocated).
const entityMask = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1];
const e2t = [
  [0, 1, 1],
  [0, 1, 1],
  [1, 1, 0],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
  [1, 0, 1],
  [1, 0, 1],
  [1, 1, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 1],
].flat();
const feats = randArray(N * Ne * D, 41);
// Utilities of inactive agents are zero (the agent network guarantees it).
const qv = [0.3, -0.2, 0.5, 0.7, -0.4, 0];

function hyper(cond: SubtaskCond, seed: number, softmax = true): MixerHypernets {
  const [h, head] = splitMixerParams(initMixer(random.key(seed), cfgFor(cond, softmax)));
  tree.dispose(head);
  return toF64(h);
}

function mix(
  h: MixerHypernets,
  cond: SubtaskCond,
  q: Arr,
  softmax = true,
  x: ArrayLike<number> = feats,
): Arr {
  return mixerForward(
    h,
    q,
    {
      features: f64(x, [N, Ne, D]),
      entityMask: f64(entityMask, [N, Ne]),
      entity2taskMask: cond ? f64(e2t, [N, Ne, Nt]) : undefined,
    },
    cfgFor(cond, softmax),
  );
}

describe("flex_qmix mixer (spec §6)", () => {
  for (const cond of [null, "mask", "full_obs"] as SubtaskCond[]) {
    for (const softmax of cond === "mask" ? [true, false] : [true]) {
      it(`passes a finite-difference gradient check (cond=${cond}, softmax=${softmax})`, () => {
        const h = hyper(cond, 3, softmax);
        const nOut = mixerOutputs({ nTasks: Nt, subtaskCond: cond });
        const c = randArray(N * nOut, 42);
        const f = (t: { h: MixerHypernets; q: Arr }) =>
          mix(t.h, cond, t.q, softmax)
            .mul(f64(c, [N, nOut]))
            .sum();
        assert.equal(fdCheck(f, { h, q: f64(qv, [N, Na]) }), 4 * 7 + 1);
        tree.dispose(h);
      });
    }
  }

  it("has one output per subtask built only from member agents", () => {
    const h = hyper("mask", 4);
    const base = host(mix(tree.ref(h), "mask", f64(qv, [N, Na])));
    assert.equal(base.length, N * Nt);
    // Changing agent 2's utility in row 0 (subtask 2) leaves subtasks 0 and 1 unchanged.
    const q2 = [...qv];
    q2[2] += 1;
    const moved = host(mix(tree.ref(h), "mask", f64(q2, [N, Na])));
    assert.equal(moved[0], base[0]);
    assert.equal(moved[1], base[1]);
    assert.notEqual(moved[2], base[2]);
    // A subtask without agents has y = 0 (so Qtot = b_pa): row 0 subtask 1, row 1 subtasks 0, 2.
    assert.equal(base[1], 0);
    assert.equal(base[Nt + 0], 0);
    assert.equal(base[Nt + 2], 0);
    tree.dispose(h);
  });

  it("is monotonic in every agent utility", () => {
    for (const cond of [null, "mask"] as SubtaskCond[]) {
      const h = hyper(cond, 5);
      const g = host(
        grad((q: Arr) => mix(tree.ref(h), cond, q).sum())(f64(randArray(N * Na, 43, 3), [N, Na])),
      );
      for (const v of g) assert.ok(v >= 0, `negative dQtot/dq = ${v} (cond=${cond})`);
      tree.dispose(h);
    }
  });

  it("without subtask conditioning has a single output that mixes every active agent", () => {
    const h = hyper(null, 6);
    const base = host(mix(tree.ref(h), null, f64(qv, [N, Na])));
    assert.equal(base.length, N);
    const q2 = [...qv];
    q2[2] += 1;
    const moved = host(mix(tree.ref(h), null, f64(q2, [N, Na])));
    assert.notEqual(moved[0], base[0]);
    assert.equal(moved[1], base[1]);
    tree.dispose(h);
  });
});
