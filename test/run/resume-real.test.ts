/**
 * Resume equals an uninterrupted run with the real jax-js learner (issue 3): parameters, targets,
 * optimiser state, Pop-Art statistics, PRNG keys, replay buffer and RNG states all survive the
 * checkpoint, so every logged number after the resume point is identical.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { evalCommand } from "../../src/cli/train.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { createLearner } from "../../src/learners/factory.js";
import { listCheckpoints } from "../../src/run/checkpoint.js";
import { readMetrics } from "../../src/run/metrics.js";
import { train } from "../../src/run/train.js";

const config = (method: string) =>
  resolveConfig({
    env: "savethecity",
    method,
    scale: "cpu",
    seed: 3,
    steps: 2400,
    sets: [
      "run.testInterval=800",
      "run.testNepisode=8",
      "run.logInterval=400",
      "run.runnerLogInterval=400",
      "run.learnerLogInterval=400",
      "run.saveModelInterval=800",
      "run.modelSnapshotInterval=800",
      "run.trainingIters=2",
      "buffer.batchSize=4",
      "buffer.maxTrajLen=16",
      "agent.attnEmbedDim=16",
      "agent.rnnHiddenDim=16",
      "mixer.hypernetEmbed=16",
      "mixer.mixingEmbedDim=8",
      "learner.targetUpdateInterval=16",
    ],
  });

for (const method of ["heuristic", "alma"]) {
  it(`${method}: resuming from a checkpoint reproduces the uninterrupted run exactly`, async () => {
    const a = mkdtempSync(join(tmpdir(), "alma-resume-a-"));
    const b = mkdtempSync(join(tmpdir(), "alma-resume-b-"));
    try {
      await train({
        outDir: a,
        config: config(method),
        makeLearner: createLearner,
        progress: null,
      });
      await train({
        outDir: b,
        config: config(method),
        makeLearner: createLearner,
        progress: null,
        stopAfterSteps: 1200,
      });
      await train({ outDir: b, makeLearner: createLearner, progress: null });
      const strip = (r: Record<string, unknown>) => {
        const { wall_s: _w, ...rest } = r;
        return rest;
      };
      const ra = readMetrics(join(a, "metrics.jsonl")).map(strip);
      const rb = readMetrics(join(b, "metrics.jsonl")).map(strip);
      assert.ok(
        ra.some((r) => "losses/q_loss" in r),
        "the low level trained",
      );
      if (method === "alma")
        assert.ok(
          ra.some((r) => "alloc/q_loss" in r),
          "the allocator trained",
        );
      assert.deepEqual(rb, ra);
      assert.ok(
        ra.some((r) => Number(r["train_metrics/popart_std"]) > 0),
        "Pop-Art statistics are logged",
      );
      if (method === "heuristic") {
        // An older checkpoint survives as a model snapshot and can be evaluated (§15.3, §15.4).
        const resumable = listCheckpoints(a, "resumable");
        const snapshot = listCheckpoints(a).find((t) => !resumable.includes(t));
        assert.ok(snapshot !== undefined, "a model snapshot was kept");
        const res = await evalCommand({
          run: a,
          checkpoint: String(snapshot),
          episodes: 8,
          json: true,
          record: 0,
        });
        assert.equal(res.t_env, snapshot);
        assert.equal(res["eval_env_metrics/episodes"], 8);
      }
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
}
