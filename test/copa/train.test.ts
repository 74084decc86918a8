/**
 * End to end (spec §15.1, §16): `alma train --env savethecity --method copa --scale cpu
 * --steps 3000 --set run.testNepisode=8 --set buffer.batchSize=8` through `train()` with the real
 * learner (small networks), then the checkpoint holds the COPA modules.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { resolveConfig } from "../../src/config/resolve.js";
import { createLearner } from "../../src/learners/factory.js";
import { loadLatestCheckpoint } from "../../src/run/checkpoint.js";
import { readMetrics } from "../../src/run/metrics.js";
import { train } from "../../src/run/train.js";
import { SMALL_NETS } from "./helpers.js";

describe("alma train --method copa (end to end)", () => {
  it("trains, tests and logs copa_vi_loss / copa_entropy_loss; checkpoints the coach", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alma-copa-"));
    try {
      const config = resolveConfig({
        env: "savethecity",
        method: "copa",
        scale: "cpu",
        seed: 1,
        steps: 3000,
        sets: [
          "run.testNepisode=8",
          "buffer.batchSize=8",
          "run.learnerLogInterval=1000",
          "run.runnerLogInterval=1000",
          "run.saveModel=true",
          ...SMALL_NETS,
        ],
      });
      assert.equal(config.hierAgent.copa, true);
      const t0 = Date.now();
      const res = await train({ outDir: dir, config, makeLearner: createLearner, progress: null });
      const seconds = (Date.now() - t0) / 1000;
      assert.ok(res.tEnv > 3000);
      const rows = readMetrics(join(dir, "metrics.jsonl"));
      const learnerRows = rows.filter((r) => "losses/copa_vi_loss" in r);
      assert.ok(learnerRows.length > 0, "COPA losses were logged");
      for (const r of learnerRows) {
        for (const k of [
          "losses/q_loss",
          "losses/copa_vi_loss",
          "losses/copa_entropy_loss",
          "train_metrics/q_grad_norm",
        ]) {
          assert.ok(Number.isFinite(r[k] as number), `${k} = ${r[k]}`);
        }
      }
      assert.ok(
        rows.some((r) => "eval_env_metrics/return_mean" in r),
        "a test phase ran",
      );
      const ck = loadLatestCheckpoint(dir);
      for (const name of [
        "low/params/copa/coach/mu/w",
        "low/params/copa/recog/logvar/l2/w",
        "low/target/params/copa/coach/enc/w",
        "low/opt/square/copa/coach/attn/wIn",
      ])
        assert.ok(name in ck.tensors, `checkpoint has ${name}`);
      console.log(`# copa e2e: ${res.tEnv} env steps in ${seconds.toFixed(1)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
