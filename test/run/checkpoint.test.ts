/** Checkpoint files: round trip, atomic replacement, and clear errors on damaged files. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  checkpointDir,
  listCheckpoints,
  loadCheckpoint,
  loadLatestCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  selectCheckpoint,
} from "../../src/run/checkpoint.js";
import { MetricsLog } from "../../src/run/metrics.js";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "alma-ckpt-"));
}

const contents = () => ({
  state: { episode: 40, rng: [1, 2, 3, 4] },
  tensors: {
    "agent/w": { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    counts: { shape: [2], data: Int32Array.from([7, -8]) },
  },
  blobs: { replay: Uint8Array.from([9, 8, 7]) },
});

describe("checkpoints", () => {
  it("round-trips tensors, state and blobs; lists and prunes", () => {
    const run = tmp();
    try {
      saveCheckpoint(run, 100, contents());
      saveCheckpoint(run, 2000, contents());
      saveCheckpoint(run, 30, contents());
      assert.deepEqual(listCheckpoints(run), [30, 100, 2000]);
      const ck = loadLatestCheckpoint(run);
      assert.equal(ck.tEnv, 2000);
      assert.equal(ck.state["episode"], 40);
      assert.deepEqual(ck.state["rng"], [1, 2, 3, 4]);
      assert.deepEqual([...ck.tensors["agent/w"].data], [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(ck.tensors["agent/w"].shape, [2, 3]);
      assert.ok(ck.tensors["counts"].data instanceof Int32Array);
      assert.deepEqual([...ck.tensors["counts"].data], [7, -8]);
      assert.deepEqual([...ck.blobs!["replay"]], [9, 8, 7]);
      pruneCheckpoints(run, 1);
      assert.deepEqual(listCheckpoints(run), [2000]);
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it("names the file and the problem when a checkpoint is damaged", () => {
    const run = tmp();
    try {
      const dir = saveCheckpoint(run, 5, contents());
      const tensors = join(dir, "tensors.bin");
      const good = readFileSync(tensors);
      writeFileSync(tensors, good.subarray(0, good.length - 3));
      assert.throws(() => loadCheckpoint(dir), /tensors\.bin: file is .* bytes.*truncated/);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 1] ^= 0xff;
      writeFileSync(tensors, flipped);
      assert.throws(() => loadCheckpoint(dir), /checksum mismatch/);
      writeFileSync(tensors, Buffer.from("not a tensor file at all"));
      assert.throws(() => loadCheckpoint(dir), /bad magic/);
      writeFileSync(tensors, good);
      writeFileSync(join(dir, "state.json"), "{ broken");
      assert.throws(() => loadCheckpoint(dir), /state\.json: not valid JSON/);
      rmSync(join(dir, "state.json"));
      assert.deepEqual(listCheckpoints(run), [], "a checkpoint without state.json is incomplete");
      assert.throws(() => loadLatestCheckpoint(run), /no complete checkpoint/);
      assert.throws(() => loadCheckpoint(checkpointDir(run, 77)), /no such checkpoint directory/);
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it("metrics log appends, survives a torn last line, and truncates on resume", () => {
    const run = tmp();
    try {
      const log = new MetricsLog(join(run, "metrics.jsonl"));
      log.append({ t_env: 10, "test/success": 0 });
      log.append({ t_env: 20, "test/success": 0.5, x: Number.NaN });
      log.append({ t_env: 30, "test/success": 1 });
      writeFileSync(log.path, `${readFileSync(log.path, "utf8")}{"t_env": 4`);
      assert.deepEqual(
        log.read().map((r) => r.t_env),
        [10, 20, 30],
      );
      assert.equal(log.read()[1]["x"], null, "non-finite numbers are stored as null");
      log.truncateAfter(20);
      assert.deepEqual(
        log.read().map((r) => r.t_env),
        [10, 20],
      );
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it("keeps the first checkpoint of every snapshot interval as a model snapshot without its blobs", () => {
    const run = tmp();
    try {
      // Saved and pruned as the training loop does: newest two whole, snapshots every 100k.
      const saves = [700, 20_500, 40_800, 101_500, 121_700, 162_100, 202_500, 222_700, 242_900];
      for (const t of saves) {
        saveCheckpoint(run, t, contents());
        pruneCheckpoints(run, 2, 100_000);
      }
      assert.deepEqual(listCheckpoints(run), [700, 101_500, 202_500, 222_700, 242_900]);
      assert.deepEqual(listCheckpoints(run, "resumable"), [222_700, 242_900]);
      for (const t of [700, 101_500, 202_500]) {
        assert.ok(!existsSync(join(checkpointDir(run, t), "replay.bin")), `${t} lost its replay`);
        const snap = loadCheckpoint(checkpointDir(run, t));
        assert.deepEqual(snap.blobs, {});
        assert.equal(snap.state["snapshot"], true);
        assert.deepEqual([...snap.tensors["agent/w"].data], [1, 2, 3, 4, 5, 6]);
      }
      assert.ok(existsSync(join(checkpointDir(run, 222_700), "replay.bin")));
      assert.equal(loadLatestCheckpoint(run).tEnv, 242_900);
      // Resuming needs a whole checkpoint: snapshots alone are refused with the reason.
      rmSync(checkpointDir(run, 222_700), { recursive: true });
      rmSync(checkpointDir(run, 242_900), { recursive: true });
      assert.throws(() => loadLatestCheckpoint(run), /model snapshots.*no replay buffer/);
      pruneCheckpoints(run, 1, 0);
      assert.deepEqual(listCheckpoints(run), [202_500], "interval 0 keeps no snapshots");
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });

  it("selects the latest, the best tested, or a named checkpoint", () => {
    const run = tmp();
    try {
      for (const t of [100, 200, 300, 400]) saveCheckpoint(run, t, contents());
      const log = new MetricsLog(join(run, "metrics.jsonl"));
      log.append({ t_env: 50, "test/success": 0, "test/return": -40 });
      log.append({ t_env: 150, "test/success": 0.25, "test/return": -30 });
      log.append({ t_env: 160, "losses/q_loss": 0.5 });
      log.append({ t_env: 300, "test/success": 0.25, "test/return": -20 });
      log.append({ t_env: 400, "test/success": 0.25, "test/return": -25 });
      assert.equal(selectCheckpoint(run, "latest"), 400);
      assert.equal(selectCheckpoint(run, "best"), 300, "success first, then return");
      log.append({ t_env: 410, "test/success": 0.5, "test/return": -35 });
      assert.equal(
        selectCheckpoint(run, "best"),
        300,
        "a test after the last checkpoint is no one's",
      );
      assert.equal(selectCheckpoint(run, "200"), 200);
      assert.throws(() => selectCheckpoint(run, "250"), /'250'.*latest, best.*100, 200, 300, 400/);
      assert.throws(() => selectCheckpoint(run, "newest"), /'newest'/);
      rmSync(join(run, "metrics.jsonl"));
      assert.throws(() => selectCheckpoint(run, "best"), /no greedy test/);
    } finally {
      rmSync(run, { recursive: true, force: true });
    }
  });
});
