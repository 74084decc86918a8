/** Checkpoint files: round trip, atomic replacement, and clear errors on damaged files. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
});
