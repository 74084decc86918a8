/**
 * Experiment recipes expand to the paper's method × seed grids, and an interrupted experiment
 * resumes: finished runs are skipped, the interrupted run continues from its checkpoint.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { WindowBatch } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { RECIPE_NAMES, recipe, scaleSettings } from "../../src/experiments/recipes.js";
import { type RunExecutor, runDirOf, runExperiment, runState } from "../../src/experiments/run.js";
import type { Learner } from "../../src/learners/types.js";
import { readMetrics } from "../../src/run/metrics.js";
import { train } from "../../src/run/train.js";
import type { ActingBatch } from "../../src/runners/acting.js";

describe("experiment recipes", () => {
  it("mirror the paper's figures", () => {
    assert.deepEqual(
      [...RECIPE_NAMES].sort(),
      [
        "battle-mmm-disadvantage",
        "battle-mmm-symmetric",
        "battle-spread",
        "battle-sz-disadvantage",
        "battle-sz-symmetric",
        "joint-training",
        "savethecity",
        "sensitivity",
      ].sort(),
    );
    const stc = recipe("savethecity").runs("cpu", 3);
    assert.equal(stc.length, 15);
    assert.deepEqual(
      [...new Set(stc.map((r) => r.method))],
      ["alma", "alma-nomask", "heuristic", "aqmix", "copa"],
    );
    assert.deepEqual(
      stc.filter((r) => r.method === "alma").map((r) => r.seed),
      [0, 1, 2],
    );
    assert.ok(
      stc.every(
        (r) =>
          r.env === "savethecity" &&
          r.scenario === "2-5a_2-5b" &&
          r.steps === 300_000 &&
          r.scale === "cpu",
      ),
    );
    const battle = recipe("battle-mmm-disadvantage").runs("paper", 2);
    assert.equal(battle.length, 12);
    assert.ok(
      battle.every(
        (r) =>
          r.scenario === "6-8MMM_maxsize4_maxarmies3_unitdisadvantage" &&
          r.steps === undefined &&
          r.scale === "paper",
      ),
    );
    assert.deepEqual(
      [...new Set(battle.map((r) => r.method))],
      ["alma", "alma-nomask", "heuristic-matching", "heuristic-dynamic", "refil", "copa"],
    );
    const smoke = recipe("sensitivity").runs("smoke", 1, 500);
    assert.equal(smoke.length, 5);
    assert.ok(smoke.every((r) => r.steps === 500));
    assert.ok(smoke.some((r) => r.sets.includes("hierAgent.nProposals=64")));
    assert.deepEqual(recipe("joint-training").evals!(2), [
      { label: "alma-over-heuristic-actors", run: "alma", actorsFrom: "heuristic", seed: 0 },
      { label: "alma-over-heuristic-actors", run: "alma", actorsFrom: "heuristic", seed: 1 },
    ]);
    assert.equal(scaleSettings("paper").steps, undefined);
    assert.throws(() => recipe("fig7"), /unknown experiment 'fig7'.*savethecity/);
    // Every run resolves to a valid configuration.
    for (const name of RECIPE_NAMES) {
      for (const r of recipe(name).runs("smoke", 1)) {
        resolveConfig({
          env: r.env,
          method: r.method,
          scenario: r.scenario,
          scale: r.scale,
          steps: r.steps,
          seed: r.seed,
          sets: r.sets,
        });
      }
    }
  });
});

class ConstantLearner implements Learner {
  async utilities(b: ActingBatch) {
    return new Float32Array(b.size * b.info.nAgents * b.info.nActions);
  }
  async train(_b: WindowBatch) {
    return { "losses/q_loss": 1 };
  }
  async saveTensors() {
    return { w: { shape: [1], data: Float32Array.from([1]) } };
  }
  loadTensors() {}
  dispose() {}
}

describe("experiment runner", () => {
  it("skips finished runs and resumes the interrupted one; writes figure and results.md", async () => {
    const out = mkdtempSync(join(tmpdir(), "alma-exp-"));
    try {
      const calls: string[] = [];
      let interrupt = true;
      const executor: RunExecutor = async (spec, dir, resume) => {
        calls.push(`${spec.label}/${spec.seed}/${resume ? "resume" : "new"}`);
        // In-process stand-in for `alma train` (same loop, constant learner); heuristic/random only.
        const method = spec.method === "aqmix" ? "aqmix" : "heuristic";
        const config = resolveConfig({
          env: spec.env,
          method,
          scenario: spec.scenario,
          scale: spec.scale,
          steps: spec.steps,
          seed: spec.seed,
          sets: spec.sets,
        });
        if (spec.label === "heuristic" && spec.seed === 1 && interrupt) {
          interrupt = false;
          await train({
            outDir: dir,
            config,
            makeLearner: async () => new ConstantLearner(),
            progress: null,
            stopAfterSteps: 1000,
          });
          throw new Error("killed");
        }
        await train({
          outDir: dir,
          config: resume ? undefined : config,
          makeLearner: async () => new ConstantLearner(),
          progress: null,
        });
      };
      const evaluator = async () => ({ "test/success": 0.25 });
      const opts = {
        recipe: "joint-training",
        scale: "smoke" as const,
        seeds: 2,
        steps: 1500,
        out,
        executor,
        evaluator,
        log: () => {},
      };
      const first = await runExperiment(opts);
      assert.equal(first.runs.filter((r) => r.error).length, 1);
      assert.equal(runState(runDirOf(out, { label: "heuristic", seed: 1 })), "resume");
      assert.equal(runState(runDirOf(out, { label: "alma", seed: 0 })), "done");
      assert.deepEqual(
        first.evals.map((e) => e.error ?? "ok"),
        ["ok", "its training runs did not finish"],
      );
      const second = await runExperiment(opts);
      assert.deepEqual(calls, [
        "alma/0/new",
        "alma/1/new",
        "heuristic/0/new",
        "heuristic/1/new",
        "heuristic/1/resume",
      ]);
      assert.deepEqual(second.runs.map((r) => r.state).sort(), ["done", "done", "done", "resume"]);
      assert.ok(second.runs.every((r) => !r.error));
      const resumed = readMetrics(
        join(runDirOf(out, { label: "heuristic", seed: 1 }), "metrics.jsonl"),
      );
      assert.ok(resumed.at(-1)!.t_env > 1500, "the resumed run reached the end");
      assert.ok(existsSync(join(out, "figure.svg")) && existsSync(join(out, "figure.png")));
      const md = readFileSync(join(out, "results.md"), "utf8");
      assert.match(md, /\| alma \|/);
      assert.match(md, /\| heuristic \|/);
      assert.match(md, /alma-over-heuristic-actors \| 0\.250 ± 0\.000 \| 2/);
      assert.doesNotMatch(md, /Not finished/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
