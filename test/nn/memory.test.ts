import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { materialize, random, trackLiveBuffers, tree } from "../../src/nn/engine.js";
import {
  defaultLowLevelConfig,
  initLowLevelState,
  type LowLevelDims,
  lowLevelBatchToArrays,
  makeLowLevelTrainStep,
  updateLowLevelTarget,
} from "../../src/nn/lowLevel.js";
import { syntheticLowLevelBatch } from "../../src/nn/synthetic.js";

const DIMS: LowLevelDims = { nAgents: 3, nEntities: 6, nTasks: 3, nActions: 4, entityShape: 5 };

describe("jitted training steps do not leak (ownership rule)", () => {
  it("keeps live device buffers and resident memory flat over many steps", async () => {
    const live = await trackLiveBuffers();
    const cfg = defaultLowLevelConfig(DIMS, "mask", {
      attnEmbed: 16,
      nHeads: 2,
      hiddenDim: 8,
      hypernetEmbed: 16,
      mixingEmbed: 8,
    });
    const step = makeLowLevelTrainStep(cfg);
    let state = initLowLevelState(random.key(0), cfg);
    const batches = [0, 1, 2].map((s) => syntheticLowLevelBatch(DIMS, 4, 16, s));
    const counts: number[] = [];
    const bytes: number[] = [];
    const rss: number[] = [];
    // 200 steps: V8's heap (young generation above all) keeps growing for the first ~100 steps,
    // by 40-50 MiB on Node 22 and 24 (~15 on Node 20), then levels off; a leak keeps growing.
    const steps = 200;
    for (let i = 0; i < steps; i++) {
      // Both the async (worker) and the sync read paths are exercised.
      const [next, metrics] = step(
        state,
        lowLevelBatchToArrays(batches[i % 3], DIMS),
        random.key(i),
      );
      state = next;
      if (i % 9 === 0) state = updateLowLevelTarget(state);
      if (i % 2 === 0) {
        await materialize(state);
        for (const v of Object.values(metrics)) assert.ok(Number.isFinite((await v.data())[0]));
      } else {
        await materialize(state);
        await materialize(metrics);
        for (const v of Object.values(metrics)) assert.ok(Number.isFinite(Number(v.dataSync()[0])));
      }
      const s = live();
      counts.push(s.count);
      bytes.push(s.bytes);
      rss.push(process.memoryUsage().rss);
    }
    assert.equal(step.traces, 1);
    // After warm-up, steps in the same phase of the target-update cycle (every 9 steps; right
    // after an update the target shares the live buffers) end with exactly the same live buffers.
    for (let i = 18; i < steps; i++) {
      assert.equal(
        counts[i],
        counts[i - 9],
        `live buffers at step ${i}: ${counts[i]} vs ${counts[i - 9]}`,
      );
      assert.equal(bytes[i], bytes[i - 9]);
    }
    const growthMiB = (rss[steps - 1] - rss[99]) / 2 ** 20;
    assert.ok(
      growthMiB < 30,
      `resident memory grew by ${growthMiB.toFixed(1)} MiB over steps 100-199`,
    );
    tree.dispose(state);
    step.dispose();
    assert.ok(live().count < Math.min(...counts.slice(9)), "disposing the state frees its buffers");
  });
});
