import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  EpisodeReplayBuffer,
  roundHalfEvenDiv,
  stratifiedWindowStarts,
  windowBinEdges,
} from "../../src/buffer/index.js";
import { Rng } from "../../src/envs/rng.js";
import {
  assertWindowEquals,
  type HandEpisode,
  handEpisode,
  rowCodes,
  ScriptedRng,
  TINY,
} from "./helpers.js";

function bufferWith(eps: HandEpisode[], capacity = 10, maxTrajLen = 4): EpisodeReplayBuffer {
  const buf = new EpisodeReplayBuffer(TINY, { capacity, maxTrajLen });
  for (const e of eps) buf.insert(e.rec);
  return buf;
}

describe("window bin edges (spec §10)", () => {
  it("rounds halves to even like NumPy's round", () => {
    assert.equal(roundHalfEvenDiv(5, 2), 2); // 2.5 → 2
    assert.equal(roundHalfEvenDiv(7, 2), 4); // 3.5 → 4
    assert.equal(roundHalfEvenDiv(1, 2), 0); // 0.5 → 0
    assert.equal(roundHalfEvenDiv(8, 3), 3); // 2.67 → 3
    assert.equal(roundHalfEvenDiv(16, 3), 5); // 5.33 → 5
  });

  it("splits [0, S − W + 1) into n rounded-linspace bins", () => {
    assert.deepEqual(Array.from(windowBinEdges(11, 4, 3)), [0, 3, 5, 8]);
    assert.deepEqual(Array.from(windowBinEdges(14, 4, 3)), [0, 4, 7, 11]);
    // M = 5, n = 2: the middle edge is round(2.5) = 2.
    assert.deepEqual(Array.from(windowBinEdges(8, 4, 2)), [0, 2, 5]);
    assert.throws(() => windowBinEdges(3, 4, 1), /cannot hold/);
  });

  it("draws one start per bin, bin 0 first", () => {
    const rng = new ScriptedRng([2, 1, 2]);
    assert.deepEqual(Array.from(stratifiedWindowStarts(11, 4, 3, rng)), [2, 4, 7]);
    assert.deepEqual(rng.asked, [3, 2, 3]);
  });
});

describe("EpisodeReplayBuffer.sample: windows across episode boundaries (hand-computed)", () => {
  // A: 6 rows (L = 5, ends by termination), B: 3 rows (L = 2, time-out), C: 2 rows (L = 1).
  const A = handEpisode(1, 6, 100);
  const B = handEpisode(2, 3, 200);
  const C = handEpisode(3, 2, 300);

  it("takes all episodes when exactly n are stored, then cuts stratified windows", () => {
    const buf = bufferWith([A, B, C]);
    const rng = new ScriptedRng([2, 1, 2]);
    const batch = buf.sample(3, rng);
    // Concatenation: A0..A5 = 0..5, B0..B2 = 6..8, C0..C1 = 9..10; S = 11, W = 4,
    // bins of [0, 8): edges [0, 3, 5, 8]; scripted offsets 2, 1, 2 → starts 2, 4, 7.
    assert.deepEqual(
      rng.asked,
      [3, 2, 3],
      "no draws for the episode choice when exactly n are stored",
    );
    assert.equal(batch.windowed, true);
    assert.equal(batch.batchSize, 3);
    assert.equal(batch.seqLen, 4);
    assert.deepEqual(Array.from(batch.windowStarts), [2, 4, 7]);
    assert.deepEqual(rowCodes(batch, 0), [1002, 1003, 1004, 1005]);
    assert.deepEqual(rowCodes(batch, 1), [1004, 1005, 2000, 2001]);
    assert.deepEqual(rowCodes(batch, 2), [2001, 2002, 3000, 3001]);
    // reset = 1 on the last step of each episode (rows A4, B1, C0); the final-observation rows
    // (A5, B2, C1) have reset = 0; terminated only for odd tags (A, C).
    assert.deepEqual(Array.from(batch.reset), [0, 0, 1, 0, /**/ 1, 0, 0, 1, /**/ 1, 0, 1, 0]);
    assert.deepEqual(Array.from(batch.terminated), [0, 0, 1, 0, /**/ 1, 0, 0, 0, /**/ 0, 0, 1, 0]);
    assert.deepEqual(Array.from(batch.filled), new Array(12).fill(1));
    // Final-observation rows carry zero reward; the next episode's row 0 follows directly.
    assert.deepEqual(Array.from(batch.reward.subarray(4, 8)), [1 + 4 / 8, 0, 2, 2 + 1 / 8]);
    // t_added stays with the batch row's sampled episode, not the episodes inside the window.
    assert.deepEqual(Array.from(batch.tAdded), [100, 200, 300]);
    assert.deepEqual(Array.from(batch.episodeIds), [0, 1, 2]);
    const order = [A, B, C];
    for (let b = 0; b < 3; b++) assertWindowEquals(batch, b, order, batch.windowStarts[b]!);
  });

  it("samples without replacement in draw order (partial Fisher–Yates), then windows that order", () => {
    const D = handEpisode(4, 5, 400);
    const buf = bufferWith([A, B, C, D]);
    // Pool [A,B,C,D]: draw 3 → swap(0,3) → D; draw 0 → B; draw 1 → swap(2,3) → A.
    // Concatenation D(5) B(3) A(6): S = 14, bins of [0, 11): edges [0, 4, 7, 11].
    const rng = new ScriptedRng([3, 0, 1, /* starts */ 0, 2, 3]);
    const batch = buf.sample(3, rng);
    assert.deepEqual(rng.asked, [4, 3, 2, 4, 3, 4]);
    assert.deepEqual(Array.from(batch.episodeIds), [3, 1, 0]);
    assert.deepEqual(Array.from(batch.tAdded), [400, 200, 100]);
    assert.deepEqual(Array.from(batch.windowStarts), [0, 6, 10]);
    assert.deepEqual(rowCodes(batch, 0), [4000, 4001, 4002, 4003]);
    assert.deepEqual(rowCodes(batch, 1), [2001, 2002, 1000, 1001]);
    assert.deepEqual(rowCodes(batch, 2), [1002, 1003, 1004, 1005]);
    const order = [D, B, A];
    for (let b = 0; b < 3; b++) assertWindowEquals(batch, b, order, batch.windowStarts[b]!);
  });

  it("uses whole zero-padded episodes when none is longer than max_traj_len", () => {
    const buf = bufferWith([B, C, handEpisode(5, 4, 500)], 10, 4);
    const batch = buf.sample(3, new ScriptedRng([]));
    assert.equal(batch.windowed, false);
    assert.equal(batch.seqLen, 4, "cut to the longest sampled episode");
    assert.deepEqual(Array.from(batch.windowStarts), [-1, -1, -1]);
    assert.deepEqual(Array.from(batch.filled), [1, 1, 1, 0, /**/ 1, 1, 0, 0, /**/ 1, 1, 1, 1]);
    assert.deepEqual(rowCodes(batch, 0), [2000, 2001, 2002, 0]);
    assert.deepEqual(rowCodes(batch, 1), [3000, 3001, 0, 0]);
    assert.deepEqual(rowCodes(batch, 2), [5000, 5001, 5002, 5003]);
    // Padding rows are all zero in every field (masks included, as in the reference).
    const Ne = TINY.nEntities;
    assert.deepEqual(
      Array.from(batch.obsMask.subarray(3 * Ne * Ne, 4 * Ne * Ne)),
      new Array(Ne * Ne).fill(0),
    );
    assert.equal(batch.reset[3], 0);

    const fixed = buf.sample(3, new ScriptedRng([]), { fixedLength: true });
    assert.equal(fixed.seqLen, 4);
    const buf8 = bufferWith([B, C], 10, 8);
    const f8 = buf8.sample(2, new ScriptedRng([]), { fixedLength: true });
    assert.equal(f8.seqLen, 8, "fixedLength pads to max_traj_len");
    assert.deepEqual(Array.from(f8.filled), [1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
    const noWin = bufferWith([A, B], 10, -1).sample(2, new ScriptedRng([]));
    assert.equal(noWin.windowed, false);
    assert.equal(noWin.seqLen, 6, "max_traj_len = -1 never cuts windows");
  });

  it("reuses the `out` batch when shapes match and still zero-pads", () => {
    const buf = bufferWith([B, C], 10, 4);
    const first = buf.sample(2, new ScriptedRng([]));
    first.entities.fill(9);
    const again = buf.sample(2, new ScriptedRng([]), { out: first });
    assert.equal(again, first);
    assert.deepEqual(rowCodes(again, 1), [3000, 3001, 0]);
  });

  it("refuses to sample more episodes than are stored", () => {
    const buf = bufferWith([A, B]);
    assert.equal(buf.canSample(2), true);
    assert.equal(buf.canSample(3), false);
    assert.throws(() => buf.sample(3, new Rng(0)), /cannot sample 3 episodes, only 2 are stored/);
  });
});

describe("EpisodeReplayBuffer.sample properties", () => {
  it("windows are consecutive rows of the concatenation of distinct sampled episodes, starts in their bins", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 2, max: 30 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 2, max: 16 }),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        (lens, W, nWanted, seed) => {
          const eps = lens.map((len, i) => handEpisode(i + 1, len, i * 10));
          const buf = bufferWith(eps, 64, W);
          const n = Math.min(nWanted, eps.length);
          const batch = buf.sample(n, new Rng(seed));
          const ids = Array.from(batch.episodeIds);
          assert.equal(new Set(ids).size, n, "without replacement");
          const order = ids.map((id) => eps[id]!);
          assert.deepEqual(
            Array.from(batch.tAdded),
            ids.map((id) => id * 10),
          );
          const longest = Math.max(...order.map((e) => e.nRows));
          if (longest > W) {
            assert.equal(batch.seqLen, W);
            const S = order.reduce((s, e) => s + e.nRows, 0);
            const edges = windowBinEdges(S, W, n);
            for (let b = 0; b < n; b++) {
              const s = batch.windowStarts[b]!;
              assert.ok(
                s >= edges[b]! && s < Math.max(edges[b + 1]!, edges[b]! + 1),
                `start ${s} in bin ${b}`,
              );
              assertWindowEquals(batch, b, order, s);
            }
          } else {
            assert.equal(batch.seqLen, longest);
            for (let b = 0; b < n; b++) {
              const codes = rowCodes(batch, b);
              const e = order[b]!;
              assert.deepEqual(
                codes,
                Array.from({ length: longest }, (_, r) => (r < e.nRows ? e.tag * 1000 + r : 0)),
              );
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("is reproducible from the generator state", () => {
    const eps = [30, 7, 70, 12, 151, 2].map((len, i) => handEpisode(i + 1, len, i));
    const buf = bufferWith(eps, 10, 16);
    const a = buf.sample(4, new Rng(42));
    const b = buf.sample(4, new Rng(42));
    assert.deepEqual(Array.from(a.entities), Array.from(b.entities));
    assert.deepEqual(Array.from(a.windowStarts), Array.from(b.windowStarts));
  });
});
