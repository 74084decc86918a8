/**
 * Acting sees what training sees: the utilities the runner acted on at every row of a recorded
 * episode equal the utilities the training pass computes for that stored row (spec §4, §9.2,
 * §11.2 step 1). The acting forward is a separate, host-optimised program (pre-combined masks,
 * padded first layer, last actions from the batch); if its inputs drifted from the stored ones
 * (allocation rows, last-action one-hots, masks), the learner would train one policy and act
 * another, with falling losses and a poor greedy policy.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EpisodeReplayBuffer } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { makeEnv } from "../../src/envs/registry.js";
import { Rng } from "../../src/envs/rng.js";
import { QLearner } from "../../src/learners/qlearner.js";
import { makeAllocatorFor } from "../../src/run/train.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { ParallelRunner } from "../../src/runners/runner.js";
import { SMALL_NETS } from "../copa/helpers.js";

const cases = [
  { env: "savethecity", method: "heuristic" },
  { env: "savethecity", method: "aqmix" },
  { env: "savethecity", method: "random" },
  { env: "battle", method: "heuristic" },
  { env: "battle", method: "refil" },
] as const;

describe("acting utilities equal the training pass on the stored rows", () => {
  for (const { env, method } of cases) {
    it(`${env} / ${method}`, async () => {
      const config = resolveConfig({ env, method, scale: "cpu", seed: 5, sets: [...SMALL_NETS] });
      const envs = Array.from({ length: 3 }, (_, k) =>
        makeEnv(env, { scenario: config.env.scenario, seed: 40 + k }),
      );
      const info = envs[0].info;
      const learner = new QLearner(config, info);
      const { nAgents: na, nActions: A } = info;
      // Utilities the runner acted on, per environment, one [Na·A] block per row.
      const acted: Float32Array[][] = envs.map(() => []);
      const spy = {
        async utilities(batch: ActingBatch) {
          const q = await learner.utilities(batch);
          for (let e = 0; e < batch.size; e++)
            if (batch.active[e]) acted[e].push(q.slice(e * na * A, (e + 1) * na * A));
          return q;
        },
      };
      const runner = new ParallelRunner(
        {
          envs,
          allocator: makeAllocatorFor(config, learner, new Rng(2), info.nTasks),
          actionLength: config.hierAgent.actionLength,
          maskSubtaskActions: config.exploration.maskSubtaskActions,
          seed: 3,
        },
        spy,
      );
      try {
        // ε = 0.5: varied last actions, and decisions taken mid-episode.
        const res = await runner.run({ testMode: false, tEnv: 0, epsilon: 0.5 });
        const buffer = new EpisodeReplayBuffer(info, { capacity: 8, maxTrajLen: -1 });
        buffer.insertMany(res.episodes);
        assert.equal(buffer.candidates().length, envs.length);
        let compared = 0;
        for (let e = 0; e < envs.length; e++) {
          const stored = buffer.decodeEpisode(e);
          const u = learner.trainingUtilities(stored);
          assert.equal(acted[e].length, stored.seqLen, `env ${e}: one acting call per stored row`);
          for (let t = 0; t < stored.seqLen; t++) {
            for (let i = 0; i < na; i++) {
              for (let a = 0; a < A; a++) {
                const want = u[(t * na + i) * A + a];
                const got = acted[e][t][i * A + a];
                assert.ok(
                  Math.abs(want - got) <= 1e-4 * (1 + Math.abs(want)),
                  `env ${e} row ${t} agent ${i} action ${a}: acting ${got}, training ${want}`,
                );
                compared++;
              }
            }
          }
        }
        assert.ok(compared > 0);
      } finally {
        learner.dispose();
      }
    });
  }
});
