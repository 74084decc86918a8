/**
 * A tiny multi-step, multi-subtask problem the real learner must solve: `examples/grid-targets.ts`
 * on a line of 7 cells (two agents, two targets = the subtasks, each agent sent to one target per
 * episode at random; a subtask pays 1 when an agent allocated to it reaches its target). Each agent
 * has to walk to *its* target, which it can only tell apart through the subtask mask, and the
 * value of a step towards it reaches the agent only through several TD backups. The cue test
 * cannot see credit going to the wrong subtask; this one fails when the env pays each subtask's
 * reward to the other one (the control test below).
 *
 * With the paper's network sizes and learning rate the same learner needs ~2,000 updates here
 * before the greedy policy moves at all, then reaches 100% (measured, not asserted: too slow for
 * the suite); shrinking the mixer's hypernetworks alone (`mixer.hypernetEmbed=16`) brings that
 * down to a few hundred. `bench/navigation-probe.ts` measures such curves at any grid size.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { GridTargets } from "../../examples/grid-targets.js";
import { type GreedyNavigation, greedyNavigation, trainTiny } from "./helpers.js";

/**
 * Train on the 7-cell line, measuring the greedy policy after collections 100, 125 and 150
 * (~400, ~500, ~600 updates). Q-learning at the tests' 10x learning rate oscillates once solved
 * (a greedy policy at 1.00 can read 0.3 a hundred updates later), so the test asks that the
 * policy is solved at one of these points, not at a fixed one.
 */
async function trainLine(Env: typeof GridTargets = GridTargets): Promise<GreedyNavigation[]> {
  const envs = Array.from(
    { length: 8 },
    (_, k) => new Env(100 + k, { width: 7, height: 1, limit: 8 }),
  );
  const points: GreedyNavigation[] = [];
  const { learner } = await trainTiny({
    method: "heuristic",
    envs,
    iterations: 150,
    annealIterations: 60,
    bufferCapacity: 2000,
    maxTrajLen: 9,
    sets: ["agent.attnEmbedDim=32", "agent.rnnHiddenDim=32"],
    onIteration: async ({ iteration, runner }) => {
      if (iteration >= 99 && (iteration + 1) % 25 === 0)
        points.push(await greedyNavigation(envs, runner));
    },
  });
  learner.dispose();
  return points;
}

it("heuristic: the real learner walks each agent to its own target (multi-step, per subtask)", async () => {
  const points = await trainLine();
  const shown = points.map((p) => `${p.success.toFixed(2)}/${p.towards.toFixed(2)}`).join(", ");
  assert.equal(points.length, 3);
  assert.ok(
    points.some((p) => p.success > 0.9 && p.towards > 0.9),
    `greedy success / steps towards the own target at ~400, ~500, ~600 updates: ${shown} (random policy: ~0.3 / ~0.25)`,
  );
});

it("control: paying each subtask's reward to the other subtask, the same learner fails", async () => {
  class SwappedCredit extends GridTargets {
    override step(actions: ArrayLike<number>) {
      const r = super.step(actions);
      const t = r.info.taskRewards;
      [t[0], t[1]] = [t[1], t[0]];
      return r;
    }
  }
  const points = await trainLine(SwappedCredit);
  const shown = points.map((p) => `${p.success.toFixed(2)}/${p.towards.toFixed(2)}`).join(", ");
  assert.ok(
    points.every((p) => p.success < 0.5),
    `with swapped credit the greedy policy still solves the line: ${shown}`,
  );
});
