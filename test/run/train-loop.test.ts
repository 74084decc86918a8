/**
 * The §15.1 loop with a stand-in learner (no tensors): files written, cadence of training, tests,
 * logs and checkpoints, and that an interrupted-then-resumed run equals an uninterrupted one.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { WindowBatch } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { Learner, TrainContext } from "../../src/learners/types.js";
import { listCheckpoints } from "../../src/run/checkpoint.js";
import { readMetrics } from "../../src/run/metrics.js";
import { train } from "../../src/run/train.js";
import type { ActingBatch } from "../../src/runners/acting.js";

/** Utilities from a counter that changes with every gradient step, so training order matters. */
class CountingLearner implements Learner {
  steps = 0;
  checksum = 0;
  async utilities(batch: ActingBatch): Promise<Float32Array> {
    const { nAgents: na, nActions: A } = batch.info;
    const q = new Float32Array(batch.size * na * A);
    for (let j = 0; j < q.length; j++) q[j] = Math.sin(j * 0.7 + this.steps);
    return q;
  }
  async train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    this.steps++;
    let s = 0;
    for (let j = 0; j < batch.reward.length; j++) s += batch.reward[j] * ((j % 7) + 1);
    this.checksum = (Math.imul(this.checksum, 31) + Math.round(s * 1000) + ctx.episode) | 0;
    return { "losses/q_loss": s / batch.reward.length };
  }
  async saveTensors() {
    return {
      counters: { shape: [1], data: Float32Array.from([this.steps]) },
      sum: { shape: [1], data: Int32Array.from([this.checksum]) },
    };
  }
  loadTensors(t: Record<string, { data: Float32Array | Int32Array }>) {
    this.steps = t["counters"].data[0];
    this.checksum = t["sum"].data[0];
  }
  dispose() {}
}

const small = (steps: number) =>
  resolveConfig({
    env: "savethecity",
    method: "heuristic",
    scale: "cpu",
    seed: 4,
    steps,
    sets: [
      "run.testInterval=1500",
      "run.testNepisode=8",
      "run.logInterval=500",
      "run.runnerLogInterval=500",
      "run.learnerLogInterval=500",
      "run.saveModelInterval=1500",
      "run.modelSnapshotInterval=3000",
      "buffer.batchSize=8",
      "run.trainingIters=2",
    ],
  });

describe("training loop (§15.1)", () => {
  it("writes config, metrics and checkpoints; resume continues exactly", async () => {
    const dirA = mkdtempSync(join(tmpdir(), "alma-train-a-"));
    const dirB = mkdtempSync(join(tmpdir(), "alma-train-b-"));
    try {
      const learnerA = new CountingLearner();
      const a = await train({
        outDir: dirA,
        config: small(4000),
        makeLearner: async () => learnerA,
        progress: null,
      });
      assert.ok(a.tEnv > 4000);
      assert.ok(existsSync(join(dirA, "config.json")));
      const csv = readFileSync(join(dirA, "metrics.csv"), "utf8").split("\n");
      assert.ok(
        csv[0].startsWith("t_env,") && csv[0].includes("test/success"),
        "metrics.csv mirrors metrics.jsonl",
      );
      const cfg = JSON.parse(readFileSync(join(dirA, "config.json"), "utf8"));
      assert.equal(cfg.method, "heuristic");
      const recs = readMetrics(join(dirA, "metrics.jsonl"));
      const tests = recs.filter((r) => "test/success" in r);
      assert.ok(tests.length >= 3, "a test phase at the first iteration and every 1500 steps");
      assert.equal(tests[0]["eval_env_metrics/episodes"], 8);
      assert.ok(
        tests.every((r) => typeof r["diag/stay"] === "number" && "diag/moves_closer" in r),
        "the test phases record what agents do with their allocation (src/run/diagnose.ts)",
      );
      assert.ok(recs.some((r) => "losses/q_loss" in r && "train_env_metrics/return_mean" in r));
      assert.ok(
        learnerA.steps > 0 && learnerA.steps % 2 === 0,
        "training_iters gradient steps per collection",
      );
      const resumable = listCheckpoints(dirA, "resumable");
      assert.ok(resumable.length >= 1 && resumable.length <= 2, "older checkpoints pruned");
      const snapshots = listCheckpoints(dirA).filter((t) => !resumable.includes(t));
      assert.ok(snapshots.length >= 1, "the first checkpoint stays as a model snapshot");
      assert.deepEqual(
        snapshots.map((t) => Math.floor(t / 3000)),
        [...new Set(snapshots.map((t) => Math.floor(t / 3000)))],
        "one model snapshot per modelSnapshotInterval",
      );
      await assert.rejects(
        train({
          outDir: dirA,
          config: small(10),
          makeLearner: async () => learnerA,
          progress: null,
        }),
        /already holds a run/,
      );

      // Interrupted run: stop after ~2000 steps, then resume to the end.
      const learnerB1 = new CountingLearner();
      await train({
        outDir: dirB,
        config: small(4000),
        makeLearner: async () => learnerB1,
        progress: null,
        stopAfterSteps: 2000,
      });
      const learnerB2 = new CountingLearner();
      const b = await train({ outDir: dirB, makeLearner: async () => learnerB2, progress: null });
      assert.equal(b.tEnv, a.tEnv);
      assert.equal(learnerB2.steps, learnerA.steps);
      assert.equal(learnerB2.checksum, learnerA.checksum, "same batches sampled in the same order");
      const recsB = readMetrics(join(dirB, "metrics.jsonl"));
      const strip = (r: Record<string, unknown>) => {
        const { wall_s: _w, ...rest } = r;
        return rest;
      };
      assert.deepEqual(
        recsB.map(strip),
        recs.map(strip),
        "metrics of the resumed run equal the uninterrupted run's",
      );

      // Lengthening a finished run (`alma resume --steps`): it goes on to the new t_max.
      await assert.rejects(
        train({
          outDir: dirA,
          makeLearner: async () => new CountingLearner(),
          progress: null,
          extendTo: 4000,
        }),
        /integer above the run's t_max \(4000\)/,
      );
      const learnerA2 = new CountingLearner();
      const longer = await train({
        outDir: dirA,
        makeLearner: async () => learnerA2,
        progress: null,
        extendTo: 6000,
      });
      assert.ok(longer.tEnv > 6000, `stopped at ${longer.tEnv}`);
      assert.ok(learnerA2.steps > learnerA.steps, "training went on from the last checkpoint");
      assert.equal(JSON.parse(readFileSync(join(dirA, "config.json"), "utf8")).run.tMax, 6000);
    } finally {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  });
});
