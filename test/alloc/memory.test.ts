/** The allocator releases every device buffer it creates (jax-js ownership, `src/nn/engine.ts`). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocWindowBatch } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { AlmaAllocator } from "../../src/learners/alloc.js";
import { trackLiveBuffers } from "../../src/nn/engine.js";
import { allocActingBatch } from "../../src/runners/acting.js";
import { randomStates, smallInfo } from "./helpers.js";

const info = smallInfo;

describe("allocator memory", () => {
  it("decide, train, target updates and checkpoint loads leak no device buffers", async () => {
    const live = await trackLiveBuffers();
    const config = resolveConfig({
      method: "alma",
      overrides: {
        agent: { attnEmbedDim: 16, attnNHeads: 2 },
        hierAgent: { allocEmbedDim: 16, allocNHeads: 2, nProposals: 4, maxBs: 16, actionLength: 2 },
      },
    });
    const alloc = new AlmaAllocator(info, config, { actingBatchSize: 4 });
    const st = randomStates({ ...info, nProposals: 4 } as never, 16, 3);
    const batch = allocActingBatch(info, 4);
    batch.entities.set(st.entities.subarray(0, batch.entities.length));
    batch.entityMask.set(st.entityMask.subarray(0, batch.entityMask.length));
    batch.entity2taskMask.set(st.entity2taskMask.subarray(0, batch.entity2taskMask.length));
    batch.taskMask.set(st.taskMask.subarray(0, batch.taskMask.length));
    const w = allocWindowBatch({ ...info }, 2, 8, true);
    w.filled.fill(1);
    w.entities.set(st.entities);
    w.entityMask.set(st.entityMask);
    w.entity2taskMask.set(st.entity2taskMask);
    w.taskMask.set(st.taskMask);
    for (let r = 0; r < 16; r++) {
      w.hierDecision[r] = r % 2 === 0 ? 1 : 0;
      w.reward[r] = r % 3;
    }
    w.terminated[15] = w.reset[15] = 1;
    const out = new Int32Array(12);
    let episode = 0;
    const round = async () => {
      await alloc.decide({ envs: [], which: [0, 2], batch, testMode: false, tEnv: 0 }, out);
      await alloc.decide({ envs: [], which: [0, 1, 2, 3], batch, testMode: true, tEnv: 0 }, out);
      episode += 40;
      await alloc.train(w, { tEnv: 0, episode }); // every call passes the 50-episode interval
      alloc.loadTensors(await alloc.saveTensors());
    };
    // Compile and allocate everything once. The deduplicating acting path compiles one scoring
    // program per number of distinct proposals (bucketed), each holding its own constants, so
    // warm up until the buckets this state produces have all been met.
    for (let r = 0; r < 6; r++) await round();
    const counts: number[] = [];
    for (let r = 0; r < 3; r++) {
      await round();
      counts.push(live().count);
    }
    if (process.env.MEM_DEBUG) console.log(counts);
    assert.equal(counts[2], counts[0], `live buffers grew: ${counts}`);
    alloc.dispose();
  });
});
