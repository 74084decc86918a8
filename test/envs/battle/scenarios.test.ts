/** Scenario registry: enumeration, fixed disadvantage lists, max scenarios, derived sizes (spec §3.2, §3.3). */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BATTLE_SCENARIO_NAMES,
  BATTLE_SCENARIOS,
  familySizes,
  MMM_DISADVANTAGE,
  MMM_SYMMETRIC,
  SZ_DISADVANTAGE,
  SZ_SYMMETRIC,
  type Team,
  teamSize,
} from "../../../src/envs/battle/scenarios.js";
import { UNIT_STATS, UnitKind, type UnitKindId } from "../../../src/envs/battle/units.js";

const count = (team: Team, kind: UnitKindId) => team.find((g) => g.kind === kind)?.count ?? 0;

test("registry names and scenario counts (39 S&Z, 66 MMM)", () => {
  assert.deepEqual(
    [...BATTLE_SCENARIO_NAMES].sort(),
    [MMM_SYMMETRIC, MMM_DISADVANTAGE, SZ_SYMMETRIC, SZ_DISADVANTAGE].sort(),
  );
  assert.equal(SZ_SYMMETRIC, "6-8sz_maxsize4_maxarmies3_symmetric");
  assert.equal(SZ_DISADVANTAGE, "6-8sz_maxsize4_maxarmies3_unitdisadvantage");
  assert.equal(MMM_SYMMETRIC, "6-8MMM_maxsize4_maxarmies3_symmetric");
  assert.equal(MMM_DISADVANTAGE, "6-8MMM_maxsize4_maxarmies3_unitdisadvantage");
  assert.equal(BATTLE_SCENARIOS[SZ_SYMMETRIC].scenarios.length, 39);
  assert.equal(BATTLE_SCENARIOS[SZ_DISADVANTAGE].scenarios.length, 39);
  assert.equal(BATTLE_SCENARIOS[MMM_SYMMETRIC].scenarios.length, 66);
  assert.equal(BATTLE_SCENARIOS[MMM_DISADVANTAGE].scenarios.length, 66);
});

test("S&Z enumeration order: combinations with replacement, sizes 3..8", () => {
  const allies = BATTLE_SCENARIOS[SZ_SYMMETRIC].scenarios.map(
    (s) => `${count(s.allies, UnitKind.Stalker)}/${count(s.allies, UnitKind.Zealot)}`,
  );
  assert.deepEqual(allies.slice(0, 9), [
    "3/0",
    "2/1",
    "1/2",
    "0/3",
    "4/0",
    "3/1",
    "2/2",
    "1/3",
    "0/4",
  ]);
  assert.equal(allies[38], "0/8");
});

test("MMM enumeration: {Marine, Marauder} 3..6 x {Medivac} 0..2, first entry slowest; 6-unit teams 18/66", () => {
  const sc = BATTLE_SCENARIOS[MMM_SYMMETRIC].scenarios;
  const label = (t: Team) =>
    `${count(t, UnitKind.Marine)}/${count(t, UnitKind.Marauder)}/${count(t, UnitKind.Medivac)}`;
  assert.deepEqual(
    sc.slice(0, 4).map((s) => label(s.allies)),
    ["3/0/0", "3/0/1", "3/0/2", "2/1/0"],
  );
  assert.equal(label(sc[65].allies), "0/6/2");
  assert.equal(sc.filter((s) => teamSize(s.allies) === 6).length, 18);
  for (const s of sc)
    assert.ok(teamSize(s.allies) >= 3 && teamSize(s.allies) <= 8, "teams have 3-8 agents");
});

test("symmetric families: enemy team identical; disadvantage: exactly one extra unit from the pool", () => {
  for (const s of BATTLE_SCENARIOS[SZ_SYMMETRIC].scenarios) assert.deepEqual(s.enemies, s.allies);
  for (const s of BATTLE_SCENARIOS[MMM_SYMMETRIC].scenarios) assert.deepEqual(s.enemies, s.allies);
  for (const [name, pool] of [
    [SZ_DISADVANTAGE, [UnitKind.Stalker, UnitKind.Zealot]],
    [MMM_DISADVANTAGE, [UnitKind.Marine, UnitKind.Marauder]],
  ] as const) {
    for (const s of BATTLE_SCENARIOS[name].scenarios) {
      assert.equal(teamSize(s.enemies), teamSize(s.allies) + 1);
      const extra = (pool as readonly UnitKindId[]).filter(
        (k) => count(s.enemies, k) === count(s.allies, k) + 1,
      );
      assert.equal(extra.length, 1);
      assert.equal(count(s.enemies, UnitKind.Medivac), count(s.allies, UnitKind.Medivac));
    }
  }
});

test("fixed disadvantage extras match the spec's list (spot checks)", () => {
  const sz = BATTLE_SCENARIOS[SZ_DISADVANTAGE].scenarios;
  // 3/0+S, 2/1+Z, 0/3+S, 8/0+Z, 0/8+Z
  assert.equal(count(sz[0].enemies, UnitKind.Stalker), 4);
  assert.equal(count(sz[1].enemies, UnitKind.Zealot), 2);
  assert.equal(count(sz[3].enemies, UnitKind.Stalker), 1);
  assert.equal(count(sz[30].enemies, UnitKind.Zealot), 1);
  assert.equal(count(sz[38].enemies, UnitKind.Zealot), 9);
  const mmm = BATTLE_SCENARIOS[MMM_DISADVANTAGE].scenarios;
  // 3/0/0+Mi, 3/0/1+Ma, 0/6/2+Mi
  assert.equal(count(mmm[0].enemies, UnitKind.Marine), 4);
  assert.equal(count(mmm[1].enemies, UnitKind.Marauder), 1);
  assert.equal(count(mmm[65].enemies, UnitKind.Marine), 1);
  assert.equal(count(mmm[65].enemies, UnitKind.Marauder), 6);
});

test("max scenarios (spec §3.2 table)", () => {
  const check = (name: string, allies: [UnitKindId, number][], enemies: [UnitKindId, number][]) => {
    const m = BATTLE_SCENARIOS[name].maxScenario;
    for (const [k, n] of allies)
      assert.equal(count(m.allies, k), n, `${name} allies ${UNIT_STATS[k].name}`);
    for (const [k, n] of enemies)
      assert.equal(count(m.enemies, k), n, `${name} enemies ${UNIT_STATS[k].name}`);
  };
  check(
    SZ_SYMMETRIC,
    [
      [UnitKind.Stalker, 7],
      [UnitKind.Zealot, 1],
    ],
    [
      [UnitKind.Stalker, 7],
      [UnitKind.Zealot, 1],
    ],
  );
  check(
    SZ_DISADVANTAGE,
    [
      [UnitKind.Stalker, 7],
      [UnitKind.Zealot, 1],
    ],
    [
      [UnitKind.Stalker, 8],
      [UnitKind.Zealot, 1],
    ],
  );
  const mmm: [UnitKindId, number][] = [
    [UnitKind.Marine, 5],
    [UnitKind.Marauder, 1],
    [UnitKind.Medivac, 2],
  ];
  check(MMM_SYMMETRIC, mmm, mmm);
  check(MMM_DISADVANTAGE, mmm, [
    [UnitKind.Marine, 6],
    [UnitKind.Marauder, 1],
    [UnitKind.Medivac, 2],
  ]);
});

test("derived sizes per family (spec §3.3 table)", () => {
  const table: Record<string, [number, number, number, number, number, number, number, number]> = {
    [SZ_SYMMETRIC]: [8, 8, 16, 14, 42, 3, 1550, 77.5],
    [SZ_DISADVANTAGE]: [8, 9, 17, 15, 44, 3, 1720, 86],
    [MMM_SYMMETRIC]: [8, 8, 16, 22, 50, 3, 930, 46.5],
    [MMM_DISADVANTAGE]: [8, 9, 17, 23, 52, 3, 985, 49.25],
  };
  for (const [name, expected] of Object.entries(table)) {
    const s = familySizes(BATTLE_SCENARIOS[name]);
    assert.deepEqual(
      [
        s.maxAgents,
        s.maxEnemies,
        s.nEntities,
        s.nActions,
        s.entityShape,
        s.nTasks,
        s.maxReward,
        s.rewardDivisor,
      ],
      expected,
      name,
    );
  }
});

test("type indices: S&Z Zealot 0, Stalker 1; MMM Marine 0, Marauder 1, Medivac 2 (spec §3.3)", () => {
  assert.deepEqual(BATTLE_SCENARIOS[SZ_SYMMETRIC].unitKinds, [UnitKind.Zealot, UnitKind.Stalker]);
  assert.deepEqual(BATTLE_SCENARIOS[MMM_SYMMETRIC].unitKinds, [
    UnitKind.Marine,
    UnitKind.Marauder,
    UnitKind.Medivac,
  ]);
  assert.equal(BATTLE_SCENARIOS[SZ_SYMMETRIC].hasShields, true);
  assert.equal(BATTLE_SCENARIOS[MMM_SYMMETRIC].hasShields, false);
  assert.equal(BATTLE_SCENARIOS[MMM_SYMMETRIC].hasMedivacs, true);
});

test("n_extra_tags grows tags and actions but not entities (spec §1.6, §3.3)", () => {
  const sz = familySizes(BATTLE_SCENARIOS[SZ_SYMMETRIC], 2);
  assert.equal(sz.nTags, 20);
  assert.equal(sz.nActions, 16);
  assert.equal(sz.nEntities, 16);
  assert.equal(sz.entityShape, 20 + 14 + 2 + 2 + 2 + 4 + 4);
  const mmm = familySizes(BATTLE_SCENARIOS[MMM_SYMMETRIC], 2);
  assert.equal(mmm.nActions, 6 + 8 + 8 + 4);
});
