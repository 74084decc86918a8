/** The custom-environment example conforms to the environment contract. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Beacons } from "../../examples/beacons.js";
import { checkConformance } from "../../src/envs/conformance.js";
import type { CompositeEnv } from "../../src/envs/types.js";

it("the Beacons example passes the conformance suite", async () => {
  const report = await checkConformance((seed) => new Beacons({ seed }), {
    numRuns: 10,
    steps: 300,
  });
  assert.ok(report.episodes > 10);
});

it("the conformance suite catches a broken environment (padded subtask rewarded)", async () => {
  class Broken extends Beacons {
    override step(actions: ArrayLike<number>) {
      const r = super.step(actions);
      r.info.taskRewards[2] = this.nActiveTasks < 3 ? 1 : r.info.taskRewards[2];
      return r;
    }
  }
  await assert.rejects(
    checkConformance((seed): CompositeEnv => new Broken({ seed }), { numRuns: 10, steps: 200 }),
    (err: unknown) => {
      const msg = String((err as Error).message);
      assert.match(msg, /padded subtask 2 has reward 1/);
      return true;
    },
  );
});

it("the conformance suite catches nondeterminism", async () => {
  class Noisy extends Beacons {
    override getEntities(out?: Float32Array) {
      const e = super.getEntities(out);
      e[2] += Math.random() < 0.5 ? 0 : 1e-3;
      return e;
    }
  }
  await assert.rejects(
    checkConformance((seed) => new Noisy({ seed }), { numRuns: 4, steps: 100 }),
    /purity|seed/,
  );
});
