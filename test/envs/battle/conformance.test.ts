/** The battle env through the generic `CompositeEnv` conformance suite (src/envs/conformance.ts). */
import { test } from "node:test";
import { BATTLE_SCENARIO_NAMES, makeBattleEnv } from "../../../src/envs/battle/index.js";
import { checkConformance } from "../../../src/envs/conformance.js";

for (const scenario of BATTLE_SCENARIO_NAMES) {
  test(`conformance: ${scenario} (heuristic allocation on)`, async () => {
    await checkConformance((seed) => makeBattleEnv({ scenario, seed, heuristicAlloc: true }), {
      numRuns: 10,
      steps: 400,
    });
  });
}

test("conformance: S&Z symmetric, matching heuristic, armies not spread", async () => {
  await checkConformance(
    (seed) =>
      makeBattleEnv({
        seed,
        heuristicAlloc: true,
        heuristicStyle: "type-unassigned-diff",
        spreadArmies: false,
      }),
    { numRuns: 4, steps: 300 },
  );
});
