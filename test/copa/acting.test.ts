/**
 * COPA acting (spec §16.1 "Acting", §9.1, §9.2, §15.2): the coach is called at the decision
 * points an allocator would get, assigns no subtasks (all-ones agent rows, no subtask action
 * masking), and the strategy it stores per environment is added by the learner's acting forward
 * until the next decision point.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EpisodeReplayBuffer } from "../../src/buffer/replay.js";
import { resolveConfig } from "../../src/config/resolve.js";
import type { AlmaConfig } from "../../src/config/schema.js";
import { makeEnv } from "../../src/envs/registry.js";
import { Rng } from "../../src/envs/rng.js";
import { AVAIL_TASK_BASE } from "../../src/envs/types.js";
import { CopaCoach, QLearner } from "../../src/learners/qlearner.js";
import { makeAllocatorFor } from "../../src/run/train.js";
import type { ActingBatch } from "../../src/runners/acting.js";
import { HeuristicAllocator } from "../../src/runners/allocators.js";
import { ParallelRunner, type RunnerAllocator } from "../../src/runners/runner.js";
import { SMALL_NETS } from "./helpers.js";

function copaConfig(env: "savethecity" | "battle", extra: string[] = []): AlmaConfig {
  return resolveConfig({
    env,
    method: "copa",
    scale: "cpu",
    seed: 3,
    sets: [...SMALL_NETS, ...extra],
  });
}

/** Records every decision and forwards it to `inner`. */
class Spy implements RunnerAllocator {
  readonly name = "spy";
  readonly assignsSubtasks: boolean | undefined;
  calls: number[][] = [];
  constructor(private readonly inner: RunnerAllocator) {
    this.assignsSubtasks = inner.assignsSubtasks;
  }
  async decide(ctx: Parameters<RunnerAllocator["decide"]>[0], out: Int32Array) {
    this.calls.push([...ctx.which]);
    const na = ctx.batch.info.nAgents;
    for (const e of ctx.which)
      for (const k of out.subarray(e * na, (e + 1) * na)) assert.equal(k, -1);
    await this.inner.decide(ctx, out);
  }
}

describe("COPA acting (§16.1, §9)", () => {
  it("makeAllocatorFor gives the learner's coach; with an allocator the coach runs after it", () => {
    const config = copaConfig("savethecity");
    const info = makeEnv("savethecity").info;
    const learner = new QLearner(config, info);
    try {
      const a = makeAllocatorFor(config, learner, new Rng(1), info.nTasks);
      assert.ok(a instanceof CopaCoach);
      assert.equal(a.assignsSubtasks, false);
      assert.equal(a.inner, null);
      const withHeur = learner.copaCoach!.withAllocator(new HeuristicAllocator());
      assert.equal(withHeur.assignsSubtasks, true);
      assert.equal(withHeur.name, "heuristic+copa");
      // Other methods are unchanged: no coach, the plain allocator.
      const heur = resolveConfig({ env: "savethecity", method: "heuristic", scale: "cpu" });
      assert.ok(
        makeAllocatorFor(heur, learner, new Rng(1), info.nTasks) instanceof HeuristicAllocator,
      );
      assert.equal(
        makeAllocatorFor(
          resolveConfig({ env: "savethecity", method: "aqmix" }),
          learner,
          new Rng(1),
          info.nTasks,
        ),
        null,
      );
    } finally {
      learner.dispose();
    }
  });

  it("decides at rows 0, L, 2L, … and after subtask changes; all-ones agent rows; z held per env", async () => {
    const config = copaConfig("savethecity");
    const envs = Array.from({ length: 4 }, (_, k) => makeEnv("savethecity", { seed: 40 + k }));
    const info = envs[0].info;
    const learner = new QLearner(config, info);
    try {
      const spy = new Spy(learner.copaCoach!);
      const runner = new ParallelRunner(
        { envs, allocator: spy, actionLength: 5, maskSubtaskActions: false, seed: 2 },
        learner,
      );
      let transitionsWithAllocation = 0;
      const res = await runner.run({
        testMode: false,
        tEnv: 0,
        epsilon: 0.5,
        onTransition: (t) => {
          if (t.allocation !== null) transitionsWithAllocation++;
        },
      });
      assert.equal(transitionsWithAllocation, 0, "the coach is not an allocation (replays)");
      const totalDecisions = res.summaries.reduce((s, x) => s + x.decisions, 0);
      assert.equal(spy.calls.flat().length, totalDecisions);
      assert.deepEqual(spy.calls[0], [0, 1, 2, 3], "row 0 of every env is a decision point");
      const { nAgents: na, nTasks: nt, nEntities: ne } = info;
      const buf = new EpisodeReplayBuffer(info, { capacity: 10, maxTrajLen: 64 });
      for (const ep of res.episodes) buf.insert(ep);
      let sawTaskChange = false;
      for (let i = 0; i < res.episodes.length; i++) {
        const ep = buf.decodeEpisode(i);
        const L = res.episodes[i].length;
        let timer = 0;
        let n = 0;
        for (let t = 0; t <= L; t++) {
          let expected = t === 0;
          if (t > 0) {
            timer++;
            let changed = false;
            for (let k = 0; k < nt; k++)
              if (ep.tasksTerminated[(t - 1) * nt + k] !== ep.taskMask[(t - 1) * nt + k])
                changed = true;
            expected = t < L && (timer >= 5 || changed);
            if (expected && changed && timer < 5) sawTaskChange = true;
          }
          assert.equal(ep.hierDecision[t], expected ? 1 : 0, `episode ${i} row ${t}`);
          if (expected) {
            timer = 0;
            n++;
          }
          // Pure COPA: agent rows of entity2task_mask are all ones (§16.1).
          for (let a = 0; a < na; a++)
            for (let k = 0; k < nt; k++) assert.equal(ep.entity2taskMask[(t * ne + a) * nt + k], 1);
        }
        assert.equal(n, res.summaries[i].decisions);
      }
      assert.ok(sawTaskChange || res.episodes.length < 4, "a subtask change forced a decision");

      // The held strategy is what the acting forward adds: a new decision for env 1 only changes
      // env 1's utilities; test mode uses μ (two μ decisions with the subtask code permutation
      // aside differ only through that permutation, so compare against the z = 0 forward).
      const batch: ActingBatch = runner.batch;
      for (let e = 0; e < batch.size; e++) batch.active[e] = 1;
      const q0 = await learner.utilities(batch);
      await learner.copaCoach!.decide(
        { envs, which: [1], batch, testMode: true, tEnv: 0 },
        batch.allocation,
      );
      const q1 = await learner.utilities(batch);
      const A = info.nActions;
      const w = na * A;
      for (const e of [0, 2, 3])
        assert.deepEqual(
          [...q1.subarray(e * w, (e + 1) * w)],
          [...q0.subarray(e * w, (e + 1) * w)],
        );
      let changed = 0;
      for (let j = w; j < 2 * w; j++) if (q1[j] !== q0[j]) changed++;
      assert.ok(changed > 0, "env 1's utilities changed with its new strategy");
    } finally {
      learner.dispose();
    }
  });

  it("applies no subtask action masking (there is no allocation), unlike an all-unallocated allocator", async () => {
    // Battle: attack actions carry codes 2 + army. With the runner's masking applied to an
    // all-unallocated allocation every agent would count as allocated to army 0 (§5 quirk) and
    // could never attack armies 1, 2.
    const config = copaConfig("battle");
    const envs = Array.from({ length: 4 }, (_, k) => makeEnv("battle", { seed: 60 + k }));
    const info = envs[0].info;
    const learner = new QLearner(config, info);
    try {
      const { nAgents: na, nActions: A } = info;
      const otherArmyAttacks = async (allocator: RunnerAllocator) => {
        const runner = new ParallelRunner(
          { envs, allocator, actionLength: 3, maskSubtaskActions: true, seed: 4 },
          learner,
        );
        let n = 0;
        await runner.run({
          testMode: false,
          tEnv: 0,
          epsilon: 1,
          onStep: (batch, actions) => {
            for (let e = 0; e < batch.size; e++) {
              if (!batch.active[e]) continue;
              for (let i = 0; i < na; i++) {
                const code = batch.availActions[(e * na + i) * A + actions[e * na + i]];
                if (code > AVAIL_TASK_BASE && code < 1000) n++;
              }
            }
          },
        });
        return n;
      };
      const coach = makeAllocatorFor(config, learner, new Rng(1), info.nTasks)!;
      assert.ok((await otherArmyAttacks(coach)) > 0, "agents attacked armies other than army 0");
      // Contrast: an allocator that leaves everyone unallocated does get the §5 masking.
      const idle: RunnerAllocator = { name: "idle", decide() {} };
      assert.equal(await otherArmyAttacks(idle), 0);
    } finally {
      learner.dispose();
    }
  });
});
