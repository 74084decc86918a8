import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SubtaskCond } from "../../src/nn/agent.js";
import { type Arr, np, random, tree } from "../../src/nn/engine.js";
import {
  availableForTargets,
  defaultLowLevelConfig,
  imaginedGroupMasks,
  initLowLevelState,
  type LowLevelArrays,
  type LowLevelConfig,
  type LowLevelDims,
  type LowLevelParams,
  lowLevelBatchToArrays,
  lowLevelLoss,
  lowLevelRewardsAndMasks,
  makeLowLevelMicroTrainStep,
  makeLowLevelTrainStep,
  splitLowLevelArrays,
  updateLowLevelTarget,
} from "../../src/nn/lowLevel.js";
import { syntheticLowLevelBatch } from "../../src/nn/synthetic.js";
import { f32, fdCheck, host, scalar, toF64 } from "./helpers.js";

const DIMS: LowLevelDims = { nAgents: 3, nEntities: 6, nTasks: 3, nActions: 4, entityShape: 5 };
const small = (
  cond: SubtaskCond,
  extra: Partial<Parameters<typeof defaultLowLevelConfig>[2]> = {},
) =>
  defaultLowLevelConfig(DIMS, cond, {
    attnEmbed: 8,
    nHeads: 2,
    hiddenDim: 6,
    hypernetEmbed: 8,
    mixingEmbed: 4,
    ...extra,
  });

describe("low-level rewards and masks (spec §11.1)", () => {
  // B = 1, T1 = 5 rows (T = 4 transitions), Nt = 2 subtasks, Na = 2 agents, Ne = 3.
  const filled = [1, 1, 1, 1, 0];
  const reset = [0, 1, 0, 0, 0]; // the episode ends at row 1; row 2 starts the next one
  const reward = [1, 2, 3, 4, 5];
  const terminated = [0, 1, 0, 0, 0];
  const taskRewards = [10, 20, 11, 21, 12, 22, 13, 23, 14, 24];
  const tasksTerminated = [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]; // subtask 0 ends at row 1, subtask 1 at row 3
  // entity2task of rows 0..3 (T rows), agents are rows 0,1 of each [3, 2] block.
  // Row 0: agent0→0, agent1→1. Row 1: agent0→0, agent1 unallocated. Row 2: both→1. Row 3: none.
  const e2t = [
    [0, 1, 1, 0, 0, 1],
    [0, 1, 1, 1, 1, 0],
    [1, 0, 1, 0, 0, 1],
    [1, 1, 1, 1, 1, 0],
  ].flat();
  const arrays = () => ({
    filled: f32(filled, [1, 5]),
    reset: f32(reset, [1, 5]),
    reward: f32(reward, [1, 5]),
    terminated: f32(terminated, [1, 5]),
    taskRewards: f32(taskRewards, [1, 5, 2]),
    tasksTerminated: f32(tasksTerminated, [1, 5, 2]),
    entity2taskMask: f32(e2t, [1, 4, 3, 2]),
  });

  it("uses global reward / terminated and the filled-after-reset mask without subtasks", () => {
    const cfg = { agent: { ...small(null).agent } };
    const { reward: r, done, mask } = lowLevelRewardsAndMasks(arrays(), cfg);
    assert.deepEqual(host(r), [1, 2, 3, 4]);
    assert.deepEqual(host(done), [0, 1, 0, 0]);
    // mask[0] = filled[0]; mask[t] = filled[t]·(1 − reset[t−1]): row 2 follows the episode end.
    assert.deepEqual(host(mask), [1, 1, 0, 1]);
    tree.dispose([r, done, mask]);
  });

  it("uses per-subtask rewards, tasks_terminated, earlier termination and allocated agents", () => {
    const cfg = { agent: { ...small("mask").agent, nAgents: 2, nTasks: 2 } };
    const { reward: r, done, mask } = lowLevelRewardsAndMasks(arrays(), cfg);
    assert.deepEqual(host(r), [10, 20, 11, 21, 12, 22, 13, 23]);
    assert.deepEqual(host(done), [0, 0, 1, 0, 0, 0, 0, 1]);
    // Row 0: both subtasks have an agent → [1, 1].
    // Row 1: subtask 1 has no agent (agent1 unallocated) → [1, 0].
    // Row 2: follows reset → [0, 0].
    // Row 3: subtask 0 ended at row 1... (tasks_terminated[2, 0] = 0 in the new episode) but no
    //        agent is allocated at row 3 → [0, 0].
    assert.deepEqual(host(mask), [1, 1, 1, 0, 0, 0, 0, 0]);
    tree.dispose([r, done, mask]);
  });

  it("drops subtasks that finished at the previous row", () => {
    const cfg = { agent: { ...small("mask").agent, nAgents: 2, nTasks: 2 } };
    const a = arrays();
    a.reset.dispose();
    a.entity2taskMask.dispose();
    const allIn0 = [0, 1, 1, 0, 0, 1]; // agent0 → 0, agent1 → 1 at every row
    const {
      mask,
      reward: r,
      done,
    } = lowLevelRewardsAndMasks(
      {
        ...a,
        reset: f32([0, 0, 0, 0, 0], [1, 5]),
        entity2taskMask: f32([...allIn0, ...allIn0, ...allIn0, ...allIn0], [1, 4, 3, 2]),
      },
      cfg,
    );
    // Subtask 0 terminated at row 1 → masked at row 2; subtask 1 terminated at row 3 → row 4
    // would be masked (outside the T = 4 rows).
    assert.deepEqual(host(mask), [1, 1, 1, 1, 0, 1, 1, 1]);
    tree.dispose([mask, r, done]);
  });
});

describe("target availability (spec §5, §11.3)", () => {
  it("keeps free actions, own-subtask actions and same-subtask ally actions", () => {
    // B = T = 1, Na = 2, A = 4. Agent 0 in subtask 1, agent 1 in subtask 0.
    const codes = f32([1, 3, 2, 1001, 1, 2, 3, 1000], [1, 1, 2, 4]);
    const alloc = f32([0, 1, 1, 0], [1, 1, 2, 2]);
    assert.deepEqual(host(availableForTargets(codes.ref, alloc, 2)), [1, 1, 0, 0, 1, 1, 0, 0]);
    // Without conversion any non-zero code is available.
    assert.deepEqual(host(availableForTargets(codes, null, 2)), [1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it("lets allies in the same subtask be targeted", () => {
    const codes = f32([1, 1001, 1, 1000], [1, 1, 2, 2]);
    const alloc = f32([1, 0, 1, 0], [1, 1, 2, 2]);
    assert.deepEqual(host(availableForTargets(codes, alloc, 2)), [1, 1, 1, 1]);
  });
});

function batchArrays(seed: number, B = 2, T1 = 7, dtype64 = false): LowLevelArrays {
  const a = lowLevelBatchToArrays(
    syntheticLowLevelBatch(DIMS, B, T1, seed, { endProb: 0.15 }),
    DIMS,
  );
  return dtype64 ? (tree.map((x: Arr) => x.astype(np.float64), a) as unknown as LowLevelArrays) : a;
}

describe("REFIL imagined groups (spec §7)", () => {
  it("splits active entities into two groups with consistent pair masks", () => {
    const B = 6;
    const Ne = 5;
    // Entity 4 is inactive at the first row in every batch row.
    const em0 = f32(
      Array.from({ length: B * Ne }, (_, i) => (i % Ne === 4 ? 1 : 0)),
      [B, Ne],
    );
    const g = imaginedGroupMasks(random.key(3), em0);
    const within = host(g.within);
    const interact = host(g.interact);
    const active = host(g.active);
    let mixed = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Ne; i++) {
        for (let j = 0; j < Ne; j++) {
          const k = (b * Ne + i) * Ne + j;
          assert.equal(within[k], 1 - interact[k]);
          assert.equal(interact[k], interact[(b * Ne + j) * Ne + i]);
          const inactive = i === 4 || j === 4;
          assert.equal(active[k], inactive ? 1 : 0);
          if (inactive) assert.equal(interact[k], 0); // neither group: never blocked by interact
          if (!inactive && i === j) assert.equal(interact[k], 1); // never attends to itself
          if (!inactive && interact[k] === 0) mixed++;
        }
      }
    }
    assert.ok(mixed > 0, "some active pairs straddle the two groups");
    tree.dispose(g);
  });
});

describe("low-level TD loss (spec §11)", () => {
  const cases: [SubtaskCond, boolean][] = [
    [null, false],
    ["mask", false],
    ["full_obs", false],
    [null, true],
    ["mask", true],
  ];
  for (const [cond, imagine] of cases) {
    it(`has correct gradients w.r.t. every parameter (finite differences, cond=${cond}, refil=${imagine})`, () => {
      const cfg: LowLevelConfig = { ...small(cond), popart: false, imagine };
      const live = toF64(initLowLevelState(random.key(1), cfg).params);
      const tgt = initLowLevelState(random.key(2), cfg);
      const target = { params: toF64(tgt.params), popart: tgt.popart };
      tree.dispose([tgt.opt, tgt.target]);
      const batch = batchArrays(3, 2, 7, true);
      const key = random.key(4);
      const f = (p: LowLevelParams) => {
        const [loss, aux] = lowLevelLoss(
          p,
          tree.ref(target),
          tree.ref(target.popart),
          tree.ref(batch),
          key.ref,
          cfg,
        );
        tree.dispose(aux);
        return loss;
      };
      // Pop-Art w/b are unused when popart is off (their gradient is zero; skip them). The loss
      // sums many float32-accurate exps (softmaxes, ELUs): its noise floor is ~1e-7, hence atol.
      const leaves = fdCheck(f, live, { skip: ["popart"], directions: 1, atol: 2e-4 });
      assert.ok(leaves >= 37);
      tree.dispose([live, target, batch, key]);
    });
  }

  it("trains with the REFIL loss and reports both losses", () => {
    const cfg = small("mask", { imagine: true });
    const step = makeLowLevelTrainStep(cfg);
    let state = initLowLevelState(random.key(9), cfg);
    for (let i = 0; i < 3; i++) {
      const [next, m] = step(state, batchArrays(6), random.key(i));
      state = next;
      const loss = scalar(m.loss);
      const q = scalar(m.qLoss);
      const im = scalar(m.imLoss);
      assert.ok(im > 0 && Math.abs(loss - (0.5 * q + 0.5 * im)) < 1e-4 * Math.max(1, loss));
      tree.dispose([m.gradNorm, m.tdErrorAbs, m.qTakenMean, m.targetMean]);
    }
    tree.dispose(state);
    step.dispose();
  });

  it("micro-batched step equals the one-program step (gradient accumulation, whole-batch Pop-Art)", async () => {
    const cfg = small("mask");
    const one = makeLowLevelTrainStep(cfg);
    const micro = makeLowLevelMicroTrainStep(cfg);
    let a = initLowLevelState(random.key(11), cfg);
    let b = initLowLevelState(random.key(11), cfg);
    for (let i = 0; i < 3; i++) {
      const [na, ma] = one(a, batchArrays(20 + i, 4, 7), random.key(i));
      const [nb, mb] = await micro(
        b,
        splitLowLevelArrays(batchArrays(20 + i, 4, 7), 2),
        random.key(i),
      );
      a = na;
      b = nb;
      for (const name of [
        "loss",
        "qLoss",
        "gradNorm",
        "tdErrorAbs",
        "qTakenMean",
        "targetMean",
      ] as const) {
        const x = scalar(ma[name]);
        const y = scalar(mb[name]);
        assert.ok(Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(x)), `${name}: ${x} vs ${y}`);
      }
      tree.dispose([ma.imLoss, mb.imLoss]);
    }
    const pa = tree.leaves(a.params) as Arr[];
    const pb = tree.leaves(b.params) as Arr[];
    pa.forEach((x, i) => {
      const u = host(x);
      const v = host(pb[i]);
      u.forEach((val, j) => {
        assert.ok(Math.abs(val - v[j]) < 1e-5, `param ${i}[${j}]`);
      });
    });
    for (const [x, y] of [
      [a.popart.mean, b.popart.mean],
      [a.popart.var, b.popart.var],
    ]) {
      assert.ok(Math.abs(host(x)[0] - host(y)[0]) < 1e-5);
    }
    assert.equal(one.traces, 1);
    assert.equal(micro.traces, 4);
    tree.dispose([a, b]);
    one.dispose();
    micro.dispose();
  });

  it("compiles once, learns a fixed batch, and is deterministic", async () => {
    const cfg = small("mask", { rmsprop: { lr: 3e-3, alpha: 0.99, eps: 1e-5, weightDecay: 0 } });
    const runOnce = () => {
      const step = makeLowLevelTrainStep(cfg);
      let state = initLowLevelState(random.key(7), cfg);
      const losses: number[] = [];
      for (let i = 0; i < 30; i++) {
        if (i === 10) state = updateLowLevelTarget(state); // same structure: no recompilation
        const [next, m] = step(state, batchArrays(5), random.key(100 + i));
        state = next;
        losses.push(scalar(m.loss.ref));
        for (const v of Object.values(m)) assert.ok(Number.isFinite(scalar(v)));
      }
      assert.equal(step.traces, 1);
      tree.dispose(state);
      step.dispose();
      return losses;
    };
    const a = runOnce();
    const b = runOnce();
    assert.deepEqual(a, b);
    const early = (a[0] + a[1] + a[2]) / 3;
    const late = (a[27] + a[28] + a[29]) / 3;
    assert.ok(late < 0.5 * early, `loss ${early} -> ${late}`);
  });
});
