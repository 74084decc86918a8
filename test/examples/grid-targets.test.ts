/** The grid-targets example (learning tests and `bench/navigation.ts`) conforms and behaves. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { GRID_STAY, GridTargets } from "../../examples/grid-targets.js";
import { checkConformance } from "../../src/envs/conformance.js";

it("grid-targets passes the conformance suite, as a line and as a grid", async () => {
  for (const [width, height] of [
    [7, 1],
    [5, 4],
  ]) {
    const report = await checkConformance(
      (seed) => new GridTargets(seed, { width, height, limit: 2 * (width + height) }),
      { numRuns: 6, steps: 200 },
    );
    assert.ok(report.episodes > 6);
  }
});

it("walking each agent towards its own target solves every episode, paid per subtask", () => {
  const env = new GridTargets(3, { width: 6, height: 5, limit: 40 });
  for (let ep = 0; ep < 20; ep++) {
    env.reset();
    const start = [env.distance(0), env.distance(1)];
    const paid = [0, 0];
    let steps = 0;
    for (;;) {
      const actions = [0, 1].map((i) => env.towardsTarget(i));
      const r = env.step(actions);
      steps++;
      for (let k = 0; k < 2; k++) paid[k] += r.info.taskRewards[k];
      if (r.terminated) {
        assert.equal(r.info.stats?.["solved"], 1);
        assert.equal(r.info.episodeLimit, false);
        break;
      }
    }
    // Each subtask paid exactly once, and the episode took as long as the farther walk.
    assert.deepEqual(paid, [1, 1]);
    assert.equal(steps, Math.max(...start));
    assert.equal(env.towardsTarget(0), GRID_STAY);
    assert.deepEqual([...env.heuristicAllocation()], [-1, -1]);
  }
});

it("an agent whose target is reached is unallocated; the other keeps its target", () => {
  const env = new GridTargets(5, { width: 9, height: 1, limit: 40 });
  for (let ep = 0; ep < 30; ep++) {
    env.reset();
    const first = [...env.alloc];
    assert.deepEqual([...env.heuristicAllocation()], first);
    // Only agent 0 walks: when its target is done it has nothing left to do.
    let r = env.step([env.towardsTarget(0), GRID_STAY]);
    while (!r.info.tasksChanged) r = env.step([env.towardsTarget(0), GRID_STAY]);
    assert.equal(r.info.taskRewards[first[0]], 1);
    assert.deepEqual([...env.heuristicAllocation()], [-1, first[1]]);
    assert.equal(env.towardsTarget(0), GRID_STAY);
  }
});

it("standing still times out unsolved, and bad sizes or actions are named", () => {
  const env = new GridTargets(1, { width: 4, height: 4, limit: 5 });
  env.reset();
  let r = env.step([GRID_STAY, GRID_STAY]);
  for (let t = 1; t < 5; t++) r = env.step([GRID_STAY, GRID_STAY]);
  assert.equal(r.terminated, true);
  assert.equal(r.info.episodeLimit, true);
  assert.equal(r.info.stats?.["solved"], 0);
  assert.throws(() => env.step([GRID_STAY, GRID_STAY]), /finished episode: call reset/);
  assert.throws(
    () => new GridTargets(1, { width: 0, height: 4, limit: 5 }),
    /width must be an integer ≥ 1/,
  );
  assert.throws(() => new GridTargets(1, { width: 3, height: 1, limit: 5 }), /at least 4 cells/);
  env.reset();
  assert.throws(() => env.step([GRID_STAY, 5]), /agent 1: action 5.*actions are 0\.\.4/);
});
