/**
 * `collectAndTrain`, the collection-plus-updates step shared by `train()` and `alma bench loop`:
 * steps counted, episodes stored, `training_iters` low-level steps once the buffer can sample,
 * the allocator after each of them for `aql`, nothing trained with `train: false`; and one tiny
 * collection with the real learner.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WindowBatch } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { AlmaConfig } from "../../src/config/schema.js";
import { createLearner } from "../../src/learners/factory.js";
import type { Learner, TrainContext } from "../../src/learners/types.js";
import { collectAndTrain, makeEnvs, makeLoopParts } from "../../src/run/train.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { HeuristicAllocator } from "../../src/runners/allocators.js";

const tiny = (method: string, sets: string[] = []): AlmaConfig =>
  resolveConfig({
    env: "savethecity",
    method,
    scale: "cpu",
    seed: 2,
    steps: 10_000,
    sets: [
      "run.batchSizeRun=2",
      "run.trainingIters=3",
      "buffer.batchSize=2",
      "buffer.maxTrajLen=8",
      "agent.attnEmbedDim=8",
      "agent.rnnHiddenDim=8",
      "mixer.hypernetEmbed=8",
      "mixer.mixingEmbedDim=4",
      ...sets,
    ],
  });

/** Records what the loop asks of it; the allocator acts like the heuristic one. */
class RecordingLearner implements Learner {
  readonly calls: string[] = [];
  readonly contexts: TrainContext[] = [];
  readonly allocator: Learner["allocator"];
  constructor(withAllocator: boolean) {
    const heuristic = new HeuristicAllocator();
    this.allocator = withAllocator
      ? {
          name: "recording",
          decide: (ctx, out) => heuristic.decide(ctx, out),
          train: async (batch: WindowBatch, ctx: TrainContext) => {
            this.calls.push(`alloc:${batch.batchSize}`);
            this.contexts.push(ctx);
            return { "alloc/q_loss": 2 };
          },
        }
      : undefined;
  }
  async utilities(batch: ActingBatch): Promise<Float32Array> {
    return new Float32Array(batch.size * batch.info.nAgents * batch.info.nActions);
  }
  async train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    this.calls.push(`low:${batch.batchSize}`);
    this.contexts.push(ctx);
    return { "losses/q_loss": 1 };
  }
  async saveTensors() {
    return {};
  }
  loadTensors() {}
  dispose() {}
}

describe("collectAndTrain (§15.1 collection + updates)", () => {
  it("counts steps, stores episodes, trains low level then allocator once it can sample", async () => {
    const config = tiny("alma", ["buffer.batchSize=3"]);
    const envs = makeEnvs(config);
    const learner = new RecordingLearner(true);
    const parts = makeLoopParts(config, envs, learner);

    // 2 episodes per collection, batch of 3: the first collection cannot sample yet.
    const first = await collectAndTrain(parts, { tEnv: 0, episode: 0 });
    assert.ok(first.steps >= 2 && first.steps <= 2 * config.env.episodeLimit);
    assert.equal(first.tEnv, first.steps);
    assert.equal(first.summaries.length, 2);
    assert.equal(parts.buffer.size, 2);
    assert.deepEqual(first.learnerMetrics, []);
    assert.deepEqual(learner.calls, []);
    assert.ok(first.actingSeconds > 0);

    const second = await collectAndTrain(parts, { tEnv: first.tEnv, episode: 2 });
    assert.equal(second.tEnv, first.steps + second.steps);
    assert.equal(parts.buffer.size, 4);
    assert.deepEqual(learner.calls, ["low:3", "alloc:3", "low:3", "alloc:3", "low:3", "alloc:3"]);
    for (const ctx of learner.contexts) assert.deepEqual(ctx, { tEnv: second.tEnv, episode: 2 });
    assert.equal(second.learnerMetrics.length, 3);
    assert.deepEqual(second.learnerMetrics[0], { "losses/q_loss": 1, "alloc/q_loss": 2 });
    assert.equal(second.lowLevelSeconds.length, 3);
    assert.equal(second.allocSeconds.length, 3);
    assert.ok(second.epsilon > 0 && second.epsilon <= 1);

    // Filling: a given ε, no training.
    const fill = await collectAndTrain(parts, {
      tEnv: second.tEnv,
      episode: 4,
      epsilon: 1,
      train: false,
    });
    assert.equal(fill.epsilon, 1);
    assert.equal(parts.buffer.size, 6);
    assert.equal(learner.calls.length, 6);
    assert.deepEqual(fill.lowLevelSeconds, []);
  });

  it("a method without the learned allocator trains only the low level", async () => {
    const config = tiny("heuristic");
    const learner = new RecordingLearner(true); // has one, but taskAllocation is heuristic
    const parts = makeLoopParts(config, makeEnvs(config), learner);
    const r = await collectAndTrain(parts, { tEnv: 0, episode: 0 });
    assert.deepEqual(learner.calls, ["low:2", "low:2", "low:2"]);
    assert.deepEqual(r.allocSeconds, []);
  });

  it("one tiny collection with the real A-QMIX learner", async () => {
    const config = tiny("aqmix", ["run.trainingIters=1"]);
    const envs = makeEnvs(config);
    const learner = await createLearner(config, envs[0].info);
    try {
      const parts = makeLoopParts(config, envs, learner);
      const r = await collectAndTrain(parts, { tEnv: 0, episode: 0 });
      assert.ok(r.steps > 0);
      assert.equal(r.lowLevelSeconds.length, 1);
      assert.ok(Number.isFinite(r.learnerMetrics[0]["losses/q_loss"]));
    } finally {
      learner.dispose();
    }
  });
});
