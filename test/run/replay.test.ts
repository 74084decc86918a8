/** Replays recorded from the runner: one frame per step, allocations and decisions, file round trip. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { makeEnv } from "../../src/envs/registry.js";
import { ReplayRecorder, readReplay, writeReplay } from "../../src/run/replay.js";
import { heuristicRunner, zeroUtilities } from "../runners/helpers.js";

it("records one frame per step with allocation, decisions and stats; files round-trip", async () => {
  const envs = [0, 1, 2].map((k) => makeEnv("savethecity", { seed: 40 + k }));
  const runner = heuristicRunner(envs, zeroUtilities);
  const rec = new ReplayRecorder(2, "test");
  const res = await runner.run({
    testMode: true,
    tEnv: 0,
    epsilon: 0,
    onTransition: rec.onTransition,
  });
  assert.equal(rec.done.length, 2);
  for (const r of rec.done) {
    const summary = res.summaries.find(
      (s) => s.length === r.length && Math.abs(s.return - r.episodeReturn) < 1e-9,
    );
    assert.ok(summary, "replay matches an episode summary");
    assert.equal(r.frames.length, r.length + 1);
    assert.equal(r.frames[0].reward, null);
    assert.equal(r.frames[1].decision, true, "row 0 is a decision point");
    assert.equal(r.frames[5].decision, false);
    assert.ok(
      r.frames.slice(1).every((f) => f.allocation !== null && f.allocation.length === r.nAgents),
    );
    assert.ok(
      r.frames[1].allocationChanged!.every(Boolean),
      "first allocation is new for everyone",
    );
    assert.match(r.frames[3].svg, /^<svg /);
    assert.ok("solved" in r.stats);
  }
  const dir = mkdtempSync(join(tmpdir(), "alma-replay-"));
  try {
    const path = join(dir, "episode-000.replay.json.gz");
    writeReplay(path, rec.done[0]);
    assert.deepEqual(readReplay(path), rec.done[0]);
    writeFileSync(path, "garbage");
    assert.throws(() => readReplay(path), /not a gzip-compressed JSON replay/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
