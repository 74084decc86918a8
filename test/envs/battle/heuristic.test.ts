/** Heuristic allocations (spec §3.18), including the spec's worked example. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  HEURISTIC_DYNAMIC,
  HEURISTIC_MATCHING,
  HeuristicAllocator,
  type HeuristicInput,
  parseHeuristicStyle,
} from "../../../src/envs/battle/heuristic.js";

const ZEALOT = 0;
const STALKER = 1;

/**
 * Worked example: armies A0 = {Stalker, Stalker, Zealot}, A1 = {Zealot, Zealot}; agents in
 * shuffled order S, Z, S, Z, Z (agent i is the i-th in that order).
 */
function workedExample(attacking: number[] = [0, 0]): HeuristicInput {
  return {
    nAgents: 5,
    agentType: [STALKER, ZEALOT, STALKER, ZEALOT, ZEALOT],
    agentAlive: [1, 1, 1, 1, 1],
    agentOrder: [0, 1, 2, 3, 4],
    nEnemies: 5,
    enemyType: [STALKER, STALKER, ZEALOT, ZEALOT, ZEALOT],
    enemyAlive: [1, 1, 1, 1, 1],
    enemyArmy: [0, 0, 0, 1, 1],
    nArmies: 2,
    armyAttacking: attacking,
    taskDone: [0, 0, 1],
  };
}

test("Matching worked example: A0 gets S, S, Z and A1 gets Z, Z (spec §3.18)", () => {
  const out = new Int32Array(5);
  new HeuristicAllocator(HEURISTIC_MATCHING, 2, 3).compute(workedExample(), out);
  assert.deepEqual(Array.from(out), [0, 1, 0, 0, 1]);
});

test("the shuffled order decides who is processed first", () => {
  const input = { ...workedExample(), agentOrder: [4, 3, 2, 1, 0] };
  const out = new Int32Array(5);
  new HeuristicAllocator(HEURISTIC_MATCHING, 2, 3).compute(input, out);
  // order Z(4), Z(3), S(2), Z(1), S(0):
  // Z4 -> A0 (T,T,3) vs A1 (T,T,2) -> A0; Z3 -> A0 (F,F,2) vs A1 (T,T,2) -> A1;
  // S2 -> A0 (T,F,2) vs A1 (F,F,1) -> A0; Z1 -> A0 (F,F,1) vs A1 (T,F,1) -> A1; S0 -> A0 (T,F,1).
  assert.deepEqual(Array.from(out), [0, 1, 0, 1, 0]);
});

test("Dynamic: the attacking flag is compared first, so every agent prefers attacking armies", () => {
  const out = new Int32Array(5);
  new HeuristicAllocator(HEURISTIC_DYNAMIC, 2, 3).compute(workedExample([0, 1]), out);
  assert.deepEqual(Array.from(out), [1, 1, 1, 1, 1]);
  new HeuristicAllocator(HEURISTIC_DYNAMIC, 2, 3).compute(workedExample([1, 1]), out);
  assert.deepEqual(Array.from(out), [0, 1, 0, 0, 1], "equal flags fall back to Matching");
});

test("completed armies receive nobody; no candidate -> -1", () => {
  const out = new Int32Array(5);
  const alloc = new HeuristicAllocator(HEURISTIC_MATCHING, 2, 3);
  alloc.compute({ ...workedExample(), taskDone: [1, 0, 1] }, out);
  assert.deepEqual(Array.from(out), [1, 1, 1, 1, 1]);
  alloc.compute({ ...workedExample(), taskDone: [1, 1, 1] }, out);
  assert.deepEqual(Array.from(out), [-1, -1, -1, -1, -1]);
});

test("dead units count unless the style has the 'dynamic' token (spec §3.18, §7.7)", () => {
  // Both A1 Zealots dead: published styles still see them.
  const input = { ...workedExample(), enemyAlive: [1, 1, 1, 0, 0] };
  const out = new Int32Array(5);
  new HeuristicAllocator(HEURISTIC_MATCHING, 2, 3).compute(input, out);
  assert.deepEqual(Array.from(out), [0, 1, 0, 0, 1]);
  // With `dynamic` the pool is {S: A0, A0; Z: A0} and diff = (3, 0):
  // S0 -> A0 (T,T,3) vs A1 (F,T,0) -> A0; Z1 -> A0 (T,F,2) vs A1 (F,T,0) -> A0;
  // S2 -> A0 (T,F,1) -> A0; Z3 -> A0 (F,F,0) vs A1 (F,T,0) -> A1; Z4 -> A0 (F,F,0) vs A1 (F,F,-1) -> A0.
  new HeuristicAllocator(`${HEURISTIC_MATCHING}-dynamic`, 2, 3).compute(input, out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 1, 0]);
});

test("style parsing rejects unknown criteria", () => {
  assert.deepEqual(parseHeuristicStyle(HEURISTIC_DYNAMIC), {
    criteria: ["attacking", "type", "unassigned", "diff"],
    skipDead: false,
  });
  assert.throws(() => parseHeuristicStyle("type-closest"), RangeError);
});

test("property: every agent goes to an active army when one exists; type matches are used first", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 3 }),
      fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 3, maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 3, maxLength: 9 }),
      fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 3, maxLength: 3 }),
      (nArmies, agentTypes, enemyTypes, done, attacking) => {
        const nEnemies = enemyTypes.length;
        const enemyArmy = enemyTypes.map((_, e) => e % nArmies);
        const input: HeuristicInput = {
          nAgents: agentTypes.length,
          agentType: agentTypes,
          agentAlive: agentTypes.map(() => 1),
          agentOrder: agentTypes.map((_, i) => i),
          nEnemies,
          enemyType: enemyTypes,
          enemyAlive: enemyTypes.map(() => 1),
          enemyArmy,
          nArmies,
          armyAttacking: attacking,
          taskDone: done,
        };
        const out = new Int32Array(agentTypes.length);
        new HeuristicAllocator(HEURISTIC_MATCHING, 2, 3).compute(input, out);
        const anyActive = done.slice(0, nArmies).some((d) => d === 0);
        for (let a = 0; a < agentTypes.length; a++) {
          if (!anyActive) assert.equal(out[a], -1);
          else assert.ok(out[a] >= 0 && out[a] < nArmies && done[out[a]] === 0);
        }
      },
    ),
    { numRuns: 200 },
  );
});
