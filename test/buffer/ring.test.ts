import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ageWeight, EpisodeReplayBuffer, recencyFilter } from "../../src/buffer/index.js";
import { Rng } from "../../src/envs/rng.js";
import { handEpisode, rowCodes, TINY } from "./helpers.js";

describe("ring buffer (spec §10: FIFO of buffer_size episodes)", () => {
  it("overwrites the oldest episodes and keeps age order", () => {
    const buf = new EpisodeReplayBuffer(TINY, { capacity: 3, maxTrajLen: 64 });
    const eps = [2, 3, 4, 5, 6].map((len, i) => handEpisode(i + 1, len, i * 100));
    buf.insertMany(eps.slice(0, 2).map((e) => e.rec));
    assert.equal(buf.size, 2);
    buf.insertMany(eps.slice(2).map((e) => e.rec)); // wraps the ring
    assert.equal(buf.size, 3);
    assert.equal(buf.totalInserted, 5);
    assert.deepEqual(
      [0, 1, 2].map((i) => buf.episodeId(i)),
      [2, 3, 4],
    );
    assert.deepEqual(
      [0, 1, 2].map((i) => buf.episode(i).tAdded),
      [200, 300, 400],
    );
    assert.deepEqual(rowCodes(buf.decodeEpisode(0), 0), [3000, 3001, 3002, 3003]);
    const mem = buf.memoryUsage();
    assert.equal(mem.episodes, 3);
    assert.equal(mem.rows, 4 + 5 + 6, "evicted rows are no longer counted");
    assert.equal(
      mem.dataBytes,
      eps.slice(2).reduce((s, e) => s + e.rec.bytes.byteLength, 0),
    );
    assert.equal(mem.totalBytes, mem.dataBytes + mem.overheadBytes);
    assert.throws(() => buf.episode(3), /out of range/);
    // Sampling only ever sees the stored three.
    const ids = new Set<number>();
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) for (const id of buf.sample(2, rng).episodeIds) ids.add(id);
    assert.deepEqual([...ids].sort(), [2, 3, 4]);
  });

  it("rejects episodes of other dims and bad options", () => {
    const buf = new EpisodeReplayBuffer(TINY, { capacity: 3, maxTrajLen: 4 });
    const other = handEpisode(1, 3, 0, { ...TINY, entityShape: 3 });
    assert.throws(
      () => buf.insert(other.rec),
      /encoded for dims \(Na, Ne, Nt, A, De\) = \(2, 3, 2, 4, 3\), expected \(2, 3, 2, 4, 2\)/,
    );
    assert.throws(() => new EpisodeReplayBuffer(TINY, { capacity: 0, maxTrajLen: 4 }), /capacity/);
    assert.throws(
      () => new EpisodeReplayBuffer(TINY, { capacity: 2, maxTrajLen: 1 }),
      /maxTrajLen/,
    );
  });
});

describe("recency filter (spec §10, §12: t_env − t_added ≤ decay_old)", () => {
  const buf = new EpisodeReplayBuffer(TINY, { capacity: 10, maxTrajLen: 4 });
  for (const [i, t] of [0, 100, 200, 300, 350].entries()) buf.insert(handEpisode(i + 1, 3, t).rec);

  it("keeps exactly the recent episodes", () => {
    const f = recencyFilter(350, 150)!;
    assert.deepEqual(Array.from(buf.candidates(f)), [2, 3, 4]); // t_added 200, 300, 350
    assert.equal(buf.canSample(3, f), true);
    assert.equal(buf.canSample(4, f), false);
    assert.equal(buf.canSample(4), true);
    const batch = buf.sample(3, new Rng(0), { filter: f });
    assert.deepEqual(
      Array.from(batch.tAdded),
      [200, 300, 350],
      "exactly n pass → all, oldest first",
    );
    assert.throws(() => buf.sample(4, new Rng(0), { filter: f }), /only 3 pass the filter/);
    const rng = new Rng(5);
    for (let i = 0; i < 30; i++) {
      for (const t of buf.sample(2, rng, { filter: f }).tAdded) assert.ok(350 - t <= 150);
    }
  });

  it("the boundary age is included; decay_old = 0 disables the filter", () => {
    assert.equal(recencyFilter(250, 150)!(100, 0), true);
    assert.equal(recencyFilter(251, 150)!(100, 0), false);
    assert.equal(recencyFilter(1e9, 0), undefined);
    assert.throws(() => recencyFilter(0, -1), /decayOld/);
  });

  it("age weights decay linearly to zero at decay_old (spec §12.2)", () => {
    assert.equal(ageWeight(350, 350, 150), 1);
    assert.equal(ageWeight(350, 275, 150), 0.5);
    assert.equal(ageWeight(350, 200, 150), 0);
    assert.equal(ageWeight(350, 0, 150), 0);
    assert.equal(ageWeight(350, 0, 0), 1);
  });
});
