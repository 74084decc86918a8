/**
 * The allocator's meta-batch (spec §12.1) on hand-made windows: segment rewards, termination,
 * time-out and episode-boundary masks, the last-decision rule, last_alloc resets, max_bs, padding
 * and age weights, all against values computed by hand.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocWindowBatch, type WindowBatch } from "../../src/buffer/replay.js";
import { buildMetaBatch, segmentRows } from "../../src/nn/alloc/metaBatch.js";

const dims = { nAgents: 2, nEntities: 4, nTasks: 2, nActions: 3, entityShape: 3 };
const T = 10;

/** Set the agent rows of entity2taskMask at (b, t): alloc[i] = subtask or -1. */
function setAlloc(w: WindowBatch, b: number, t: number, alloc: number[]): void {
  const { nEntities: Ne, nTasks: Nt } = dims;
  const base = (b * T + t) * Ne * Nt;
  alloc.forEach((k, i) => {
    for (let j = 0; j < Nt; j++) w.entity2taskMask[base + i * Nt + j] = j === k ? 0 : 1;
  });
  // non-agent rows: entity 2 in subtask 0, entity 3 in subtask 1
  for (let j = 0; j < Nt; j++) {
    w.entity2taskMask[base + 2 * Nt + j] = j === 0 ? 0 : 1;
    w.entity2taskMask[base + 3 * Nt + j] = j === 1 ? 0 : 1;
  }
}

/**
 * Window 0: episode A (rows 0..4 are steps, row 5 its final observation; terminated at row 4),
 * then episode B from row 6. Decisions at rows 0, 3 (A) and 6, 9 (B). Rewards r[t] = t + 1
 * except the final-observation row (0).
 *
 * Window 1: starts mid-episode C; C times out at row 6 (reset without terminated), row 7 is its
 * final observation, episode D starts at row 8. Decisions at rows 1, 4 (C) and 8 (D). Rewards 1
 * except row 7.
 */
function handMadeWindows(): WindowBatch {
  const w = allocWindowBatch(dims, 2, T, true);
  w.filled.fill(1);
  w.tAdded[0] = 1000;
  w.tAdded[1] = 500;
  const { nEntities: Ne, entityShape: De } = dims;
  for (let r = 0; r < 2 * T; r++)
    for (let x = 0; x < Ne * De; x++) w.entities[r * Ne * De + x] = r + x / 100;
  // window 0
  for (let t = 0; t < T; t++) w.reward[t] = t === 5 ? 0 : t + 1;
  for (const t of [0, 3, 6, 9]) w.hierDecision[t] = 1;
  w.terminated[4] = 1;
  w.reset[4] = 1;
  for (let t = 0; t < T; t++) {
    const alloc = t <= 2 ? [0, 1] : t <= 5 ? [1, 1] : t <= 8 ? [0, -1] : [1, 0];
    setAlloc(w, 0, t, alloc);
  }
  // window 1
  for (let t = 0; t < T; t++) w.reward[T + t] = t === 7 ? 0 : 1;
  for (const t of [1, 4, 8]) w.hierDecision[T + t] = 1;
  w.reset[T + 6] = 1; // time-out: reset without terminated
  for (let t = 0; t < T; t++)
    setAlloc(w, 1, t, t === 0 ? [1, 0] : t <= 3 ? [0, 0] : t <= 7 ? [1, 1] : [0, 1]);
  return w;
}

const close = (a: ArrayLike<number>, b: number[], msg: string) => {
  assert.equal(a.length >= b.length, true);
  for (let i = 0; i < b.length; i++)
    assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${msg}[${i}]: ${a[i]} vs ${b[i]}`);
};

describe("meta-batch construction (§12.1)", () => {
  it("segment rewards, termination and masks per row", () => {
    const seg = segmentRows(handMadeWindows(), 3);
    // window 0, decision rows 0, 3, 6, 9: (1+2+3)/3, (4+5+0)/3, (7+8+9)/3, 10/3
    close(
      [seg.segReward[0], seg.segReward[3], seg.segReward[6], seg.segReward[9]],
      [2, 3, 8, 10 / 3],
      "seg_r w0",
    );
    close(
      [seg.segTerminated[0], seg.segTerminated[3], seg.segTerminated[6], seg.segTerminated[9]],
      [0, 1, 0, 0],
      "seg_d w0",
    );
    // the row after the reset (final observation) is masked; the last decision (row 9) has no
    // terminated segment, so it is dropped
    close(
      [seg.mask[0], seg.mask[3], seg.mask[5], seg.mask[6], seg.mask[9]],
      [1, 1, 0, 1, 0],
      "mask w0",
    );
    // window 1, decision rows 1, 4, 8: (1+1+1)/3, (1+1+1+0)/3, (1+1)/3
    close(
      [seg.segReward[T + 1], seg.segReward[T + 4], seg.segReward[T + 8]],
      [1, 1, 2 / 3],
      "seg_r w1",
    );
    // the time-out at row 6 masks every row of its segment (4..6) but not the earlier segment
    close(
      [seg.mask[T + 1], seg.mask[T + 4], seg.mask[T + 5], seg.mask[T + 6], seg.mask[T + 8]],
      [1, 0, 0, 0, 0],
      "mask w1",
    );
    close([seg.segTerminated[T + 4], seg.segTerminated[T + 8]], [0, 0], "seg_d w1");
  });

  it("flattens decision points in row-major order with last_alloc, weights and padding", () => {
    const mb = buildMetaBatch(handMadeWindows(), dims, {
      actionLength: 3,
      maxBs: 10,
      decayOld: 2000,
      tEnv: 2000,
      entityWidth: 4,
    });
    assert.equal(mb.size, 10);
    assert.equal(mb.count, 7);
    assert.equal(mb.total, 7);
    assert.deepEqual(Array.from(mb.sourceB.subarray(0, 8)), [0, 0, 0, 0, 1, 1, 1, -1]);
    assert.deepEqual(Array.from(mb.sourceT.subarray(0, 8)), [0, 3, 6, 9, 1, 4, 8, -1]);
    close(mb.segReward, [2, 3, 8, 10 / 3, 1, 1, 2 / 3, 0, 0, 0], "seg_r");
    close(mb.segTerminated, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0], "seg_d");
    close(mb.mask, [1, 1, 1, 0, 1, 0, 0, 0, 0, 0], "mask");
    // TD targets exist for samples 0..N−2; sample 3 (masked, window end) bootstraps nothing
    close(mb.qMask, [1, 1, 1, 0, 1, 0, 0, 0, 0, 0], "qMask");
    // age weights: window 0 (t_added 1000) 0.5, window 1 (t_added 500) 0.25
    close(mb.weight, [0.5, 0.5, 0.5, 0, 0.25, 0, 0, 0, 0, 0], "weight");
    close(mb.valid, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "valid");
    // last_alloc (one-hot [Na, Nt]): row 0 of a window → 0; first decision after an episode
    // boundary → 0; otherwise the allocation in force at the previous row.
    const la = (j: number) => Array.from(mb.lastAlloc.subarray(j * 4, j * 4 + 4));
    assert.deepEqual(la(0), [0, 0, 0, 0], "window start");
    assert.deepEqual(la(1), [1, 0, 0, 1], "row 2 of window 0: agent 0 → 0, agent 1 → 1");
    assert.deepEqual(la(2), [0, 0, 0, 0], "first decision of episode B");
    assert.deepEqual(la(3), [1, 0, 0, 0], "row 8: agent 0 → 0, agent 1 unallocated");
    assert.deepEqual(la(4), [0, 1, 1, 0], "window 1 row 0 (mid-episode): agent 0 → 1, agent 1 → 0");
    assert.deepEqual(la(5), [1, 0, 1, 0], "row 3: both → 0");
    assert.deepEqual(la(6), [0, 0, 0, 0], "first decision of episode D");
    // the executed allocation stays in the agent rows of entity2task_mask
    const e2t = (j: number) => Array.from(mb.entity2taskMask.subarray(j * 8, j * 8 + 4));
    assert.deepEqual(e2t(1), [1, 0, 1, 0], "decision at row 3 executed [1, 1]");
    assert.deepEqual(e2t(2), [0, 1, 1, 1], "decision at row 6 executed [0, none]");
    // entities copied with zero padding to the requested width
    const row3 = 3; // (b=0, t=3)
    assert.deepEqual(
      Array.from(mb.entities.subarray(1 * 16, 1 * 16 + 4)),
      [row3, row3 + 0.01, row3 + 0.02, 0].map(Math.fround),
    );
    // padding rows are fully masked
    assert.deepEqual(Array.from(mb.entityMask.subarray(7 * 4, 8 * 4)), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(mb.taskMask.subarray(7 * 2, 8 * 2)), [1, 1]);
  });

  it("max_bs keeps the first decision points and drops the bootstrap of the last kept one", () => {
    const mb = buildMetaBatch(handMadeWindows(), dims, {
      actionLength: 3,
      maxBs: 5,
      decayOld: 0,
      tEnv: 9e9,
    });
    assert.equal(mb.count, 5);
    assert.equal(mb.total, 7);
    assert.deepEqual(Array.from(mb.sourceT), [0, 3, 6, 9, 1]);
    close(mb.mask, [1, 1, 1, 0, 1], "mask");
    close(mb.qMask, [1, 1, 1, 0, 0], "qMask: sample 4 lost its successor");
    close(mb.weight, [1, 1, 1, 0, 0], "decay_old = 0 disables the age decay");
  });

  it("reuses its output buffers and resets them", () => {
    const w = handMadeWindows();
    const opts = { actionLength: 3, maxBs: 10, decayOld: 2000, tEnv: 2000 };
    const a = buildMetaBatch(w, dims, opts);
    const snapshot = Float32Array.from(a.lastAlloc);
    w.hierDecision.fill(0);
    w.hierDecision[0] = 1;
    const b = buildMetaBatch(w, dims, opts, a);
    assert.equal(b, a);
    assert.equal(b.count, 1);
    close(b.valid, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "valid");
    assert.ok(b.lastAlloc.every((x) => x === 0));
    assert.ok(snapshot.some((x) => x === 1));
  });
});
