/**
 * The multi-army task (spec §3): reset invariants, tags and ordering, availability codes, masks,
 * entity features, the attack/retreat schedule, end codes, base infiltration, rewards (with the
 * original's task-reward quirk and the fixed variant), heal boost, time-outs, rendering.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  BATTLE_SCENARIO_NAMES,
  BATTLE_SCENARIOS,
  BattleAction,
  type BattleEnv,
  type BattleEnvOptions,
  battleEnvEntry,
  HEURISTIC_MATCHING,
  MMM_DISADVANTAGE,
  MMM_SYMMETRIC,
  makeBattleEnv,
  renderBattleSvg,
  SZ_DISADVANTAGE,
  SZ_SYMMETRIC,
  scriptedBattleActions,
  teamSize,
} from "../../../src/envs/battle/index.js";
import {
  hitDamage,
  SHIELD_REGEN_DELAY_LOOPS,
  UNIT_STATS,
  UnitKind,
  weaponHitAmount,
} from "../../../src/envs/battle/units.js";
import { InvalidActionError } from "../../../src/envs/types.js";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

function stopActions(env: BattleEnv): Int32Array {
  const actions = new Int32Array(env.info.nAgents);
  for (let a = 0; a < env.nAgents; a++)
    actions[a] = env.sim.alive[a] ? BattleAction.Stop : BattleAction.NoOp;
  return actions;
}

function kill(env: BattleEnv, slot: number): void {
  env.sim.alive[slot] = 0;
  env.sim.health[slot] = 0;
  env.sim.shield[slot] = 0;
  env.refreshAvailability();
}

/** Enemies stand still (no base infiltration, no contact with agents that stay at the base). */
function freezeEnemies(env: BattleEnv): void {
  for (let e = 0; e < env.nEnemies; e++) env.sim.speedPerLoop[env.enemySlot(e)] = 0;
}

function armySizes(env: BattleEnv): number[] {
  const sizes = new Array<number>(env.nArmies).fill(0);
  for (let e = 0; e < env.nEnemies; e++) sizes[env.enemyArmy[e]]++;
  return sizes;
}

test("env info per family (spec §3.3) and action names", () => {
  const expected: Record<string, [number, number, number, number, number]> = {
    [SZ_SYMMETRIC]: [42, 14, 8, 16, 3],
    [SZ_DISADVANTAGE]: [44, 15, 8, 17, 3],
    [MMM_SYMMETRIC]: [50, 22, 8, 16, 3],
    [MMM_DISADVANTAGE]: [52, 23, 8, 17, 3],
  };
  for (const name of BATTLE_SCENARIO_NAMES) {
    const env = makeBattleEnv({ scenario: name });
    const i = env.info;
    assert.deepEqual(
      [i.entityShape, i.nActions, i.nAgents, i.nEntities, i.nTasks],
      expected[name],
      name,
    );
    assert.equal(i.episodeLimit, 150);
    assert.equal(env.actionNames.length, i.nActions);
    assert.deepEqual(env.actionNames.slice(0, 6), [
      "no-op",
      "stop",
      "move-north",
      "move-south",
      "move-east",
      "move-west",
    ]);
    assert.equal(env.name, "battle");
  }
  assert.equal(makeBattleEnv().scenario, SZ_SYMMETRIC, "default scenario");
  assert.throws(() => makeBattleEnv({ scenario: "3m" }), RangeError);
});

test("property: reset invariants (armies, sizes, tags, ordering, placement, schedule)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.constantFrom(...BATTLE_SCENARIO_NAMES),
      (seed, scenario) => {
        const env = makeBattleEnv({ scenario, seed });
        env.reset();
        const family = BATTLE_SCENARIOS[scenario];
        const sc = family.scenarios[env.scenarioIndex];
        const s = env.sizes;
        assert.equal(env.nAgents, teamSize(sc.allies));
        assert.equal(env.nEnemies, teamSize(sc.enemies));
        // number of armies and sizes (spec §3.6)
        const nE = env.nEnemies;
        assert.ok(env.nArmies >= Math.max(2, Math.ceil(nE / 4)) && env.nArmies <= Math.min(nE, 3));
        const sizes = armySizes(env);
        assert.equal(
          sizes.reduce((x, y) => x + y, 0),
          nE,
        );
        for (const size of sizes) assert.ok(size >= 1 && size <= 4, `army size ${size}`);
        // spread armies: radius 14, equal angular spacing, no jitter for enemies
        assert.equal(env.spreadMult, 1);
        for (let k = 0; k < env.nArmies; k++) {
          close(Math.hypot(env.armyX[k] - 16, env.armyY[k] - 16), 14, 1e-9);
          const k2 = (k + 1) % env.nArmies;
          const dot =
            (env.armyX[k] - 16) * (env.armyX[k2] - 16) + (env.armyY[k] - 16) * (env.armyY[k2] - 16);
          close(
            Math.acos(Math.max(-1, Math.min(1, dot / 196))),
            (2 * Math.PI) / env.nArmies > Math.PI
              ? 2 * Math.PI - (2 * Math.PI) / env.nArmies
              : (2 * Math.PI) / env.nArmies,
            1e-6,
          );
        }
        for (let e = 0; e < nE; e++) {
          const u = env.enemySlot(e);
          const k = env.enemyArmy[e];
          assert.ok(
            Math.hypot(env.sim.x[u] - env.armyX[k], env.sim.y[u] - env.armyY[k]) < 3,
            "enemy near its army point",
          );
        }
        for (let a = 0; a < env.nAgents; a++) {
          assert.ok(
            Math.hypot(env.sim.x[a] - 16, env.sim.y[a] - 16) < 4,
            "agents spawn at the base",
          );
        }
        // ordering (spec §3.8)
        for (let a = 1; a < env.nAgents; a++) {
          const p = UNIT_STATS[env.agentKind[a - 1]];
          const q = UNIT_STATS[env.agentKind[a]];
          assert.ok(
            p.agentId < q.agentId || (p.agentId === q.agentId && env.sim.x[a - 1] <= env.sim.x[a]),
          );
        }
        for (let e = 1; e < nE; e++) {
          const p = UNIT_STATS[env.enemyKind[e - 1]];
          const q = UNIT_STATS[env.enemyKind[e]];
          assert.ok(p.standardId <= q.standardId);
        }
        // tags: distinct, in range, inverse maps
        const enemyTags = new Set(Array.from(env.enemyTag.subarray(0, nE)));
        const allyTags = new Set(Array.from(env.agentTag.subarray(0, env.nAgents)));
        assert.equal(enemyTags.size, nE);
        assert.equal(allyTags.size, env.nAgents);
        for (const t of enemyTags) assert.ok(t >= 0 && t < s.maxEnemies);
        for (const t of allyTags) assert.ok(t >= s.maxEnemies && t < s.maxEnemies + s.maxAgents);
        for (let e = 0; e < nE; e++) assert.equal(env.tagToEnemy[env.enemyTag[e]], e);
        for (let a = 0; a < env.nAgents; a++) assert.equal(env.tagToAgent[env.agentTag[a]], a);
        assert.deepEqual(
          Array.from(env.shuffledAgents.subarray(0, env.nAgents)).sort((x, y) => x - y),
          [...Array(env.nAgents).keys()],
        );
        // schedule after reset: armies that switched show 0, the others 1; Medivac-only armies
        // retreat and show -19; at least one army attacks (unless it is a Medivac-only one)
        let attacking = 0;
        let medivacOnly = 0;
        for (let k = 0; k < env.nArmies; k++) {
          let others = 0;
          for (let e = 0; e < nE; e++)
            if (env.enemyArmy[e] === k && env.enemyKind[e] !== UnitKind.Medivac) others++;
          if (others === 0) {
            medivacOnly++;
            assert.equal(env.armyAttacking[k], 0);
            assert.equal(env.timeSinceLastSwitch[k], -19);
          } else if (env.armyAttacking[k]) {
            attacking++;
            assert.equal(env.timeSinceLastSwitch[k], 0);
          } else {
            assert.equal(env.timeSinceLastSwitch[k], 1);
          }
        }
        assert.ok(attacking >= 1 || medivacOnly > 0);
        // task mask: real armies active, padding inactive
        const m = env.getMasks();
        for (let k = 0; k < 3; k++) assert.equal(m.taskMask[k], k < env.nArmies ? 0 : 1);
      },
    ),
    { numRuns: 60 },
  );
});

test("armies not spread: random angular multipliers, spread reported, no empty army", () => {
  const env = makeBattleEnv({ seed: 5, spreadArmies: false });
  let sawClose = false;
  for (let i = 0; i < 40; i++) {
    env.reset();
    assert.ok(env.spreadMult >= 0 && env.spreadMult < 1);
    assert.equal(env.episodeRecord().spread, env.spreadMult);
    for (const size of armySizes(env)) assert.ok(size >= 1);
    for (let k = 1; k < env.nArmies; k++) {
      if (Math.hypot(env.armyX[k] - env.armyX[0], env.armyY[k] - env.armyY[0]) < 8) sawClose = true;
    }
  }
  assert.ok(sawClose, "some armies are close together");
});

test("terminal stats carry the episode's spread multiplier (Fig. 6a evaluation)", () => {
  for (const spreadArmies of [false, true]) {
    const env = makeBattleEnv({ seed: 11, spreadArmies, episodeLimit: 3 });
    for (let ep = 0; ep < 5; ep++) {
      env.reset();
      freezeEnemies(env);
      let r = env.step(stopActions(env));
      while (!r.terminated) r = env.step(stopActions(env));
      assert.equal(r.info.stats?.spread, env.episodeRecord().spread);
      if (spreadArmies) assert.equal(r.info.stats?.spread, 1);
      else assert.ok(r.info.stats!.spread >= 0 && r.info.stats!.spread < 1);
    }
  }
});

test("reset options: index, nTasks, seed", () => {
  const env = makeBattleEnv({ scenario: SZ_DISADVANTAGE, seed: 1 });
  env.reset({ index: 38 });
  assert.equal(env.scenarioIndex, 38);
  assert.equal(env.nEnemies, 9);
  assert.equal(env.nArmies, 3, "9 enemies -> always 3 armies");
  for (let i = 0; i < 20; i++) {
    env.reset({ nTasks: 2 });
    assert.equal(env.nArmies, 2);
    assert.ok(env.nEnemies <= 8);
  }
  assert.throws(() => env.reset({ nTasks: 1 }), RangeError);
  assert.throws(() => env.reset({ nTasks: 4 }), RangeError);
  assert.throws(() => env.reset({ index: 39 }), RangeError);
  assert.throws(() => env.reset({ index: 0, nTasks: 2 }), RangeError);
  env.reset({ seed: 77 });
  const a = env.getEntities().slice();
  env.reset({ seed: 77 });
  assert.deepEqual(env.getEntities(), a);
});

test("availability codes: dead/padded only no-op; attacks 2 + army within 6; Medivac heals 1000 + j", () => {
  for (const scenario of [SZ_SYMMETRIC, MMM_DISADVANTAGE]) {
    const env = makeBattleEnv({ scenario, seed: 3, heuristicAlloc: true });
    const nAct = env.info.nActions;
    const alloc = new Int32Array(env.info.nAgents);
    const actions = new Int32Array(env.info.nAgents);
    let checked = 0;
    for (let ep = 0; ep < 6; ep++) {
      env.reset();
      for (let t = 0; t < 200; t++) {
        const av = env.getAvailActions();
        const sim = env.sim;
        for (let a = 0; a < env.info.nAgents; a++) {
          const row = Array.from(av.subarray(a * nAct, (a + 1) * nAct));
          if (a >= env.nAgents || !sim.alive[a]) {
            assert.deepEqual(row, [1, ...new Array(nAct - 1).fill(0)]);
            continue;
          }
          assert.equal(row[0], 0, "no-op only for dead agents");
          assert.equal(row[1], 1);
          for (let j = BattleAction.TargetBase; j < nAct; j++) {
            const tag = j - BattleAction.TargetBase;
            if (env.agentKind[a] === UnitKind.Medivac) {
              const b = env.tagToAgent[tag];
              const ok =
                b >= 0 && sim.alive[b] === 1 && !sim.flying[b] && sim.centerDistance(a, b) <= 6;
              assert.equal(row[j], ok ? 1000 + b : 0);
            } else {
              const e = env.tagToEnemy[tag];
              const u = env.enemySlot(e);
              const ok =
                tag < env.sizes.maxEnemies &&
                e >= 0 &&
                sim.alive[u] === 1 &&
                sim.centerDistance(a, u) <= 6;
              assert.equal(row[j], ok ? 2 + env.enemyArmy[e] : 0);
            }
          }
          checked++;
        }
        env.heuristicAllocation(alloc);
        const r = env.step(scriptedBattleActions(env, alloc, actions));
        if (r.terminated) break;
      }
    }
    assert.ok(checked > 100);
  }
});

test("move availability: target cell must be inside the 32 x 32 map (N, S, E, W order)", () => {
  const env = makeBattleEnv({ seed: 2 });
  env.reset({ index: 0 });
  freezeEnemies(env);
  env.sim.x[0] = 31.6;
  env.sim.y[0] = 0.7;
  env.refreshAvailability();
  const av = env.getAvailActions();
  assert.deepEqual(Array.from(av.subarray(2, 6)), [1, 0, 0, 1]);
  const blocked = makeBattleEnv({ seed: 2, edgeCellsBlocked: true });
  blocked.reset({ index: 0 });
  blocked.sim.x[0] = 30.5;
  blocked.sim.y[0] = 1.5;
  blocked.refreshAvailability();
  assert.deepEqual(Array.from(blocked.getAvailActions().subarray(2, 6)), [1, 0, 0, 1]);
});

test("InvalidActionError names the agent, action and reason; the state is untouched", () => {
  const env = makeBattleEnv({ seed: 4 });
  env.reset();
  const actions = stopActions(env);
  actions[1] = BattleAction.NoOp;
  const before = env.getEntities().slice();
  assert.throws(
    () => env.step(actions),
    (err: unknown) =>
      err instanceof InvalidActionError &&
      err.agent === 1 &&
      err.action === 0 &&
      /dead/.test(err.reason),
  );
  assert.equal(env.time, 0);
  assert.deepEqual(env.getEntities(), before);
  actions[1] = 6 + env.enemyTag[0]; // enemies are ~14 away at reset
  assert.throws(
    () => env.step(actions),
    (err: unknown) => err instanceof InvalidActionError && /within 6/.test(err.reason),
  );
  actions[1] = 99;
  assert.throws(() => env.step(actions), InvalidActionError);
});

test("masks: polarity, asymmetric distance matrix, army membership, heuristic rows (spec §3.17)", () => {
  const env = makeBattleEnv({
    scenario: SZ_SYMMETRIC,
    seed: 8,
    heuristicAlloc: true,
    heuristicStyle: HEURISTIC_MATCHING,
  });
  env.reset({ index: 38 }); // 8 Zealots vs 8 Zealots
  const Ne = env.info.nEntities;
  const Nt = env.info.nTasks;
  const A = env.sizes.maxAgents;
  const m = env.getMasks();
  for (let i = 0; i < env.nAgents; i++) {
    for (let j = 0; j < env.nAgents; j++)
      assert.equal(m.obsMask[i * Ne + j], 0, "agents see each other");
    for (let e = 0; e < env.nEnemies; e++) {
      assert.equal(m.obsMask[i * Ne + A + e], 0, "agents see enemies");
      assert.equal(m.obsMask[(A + e) * Ne + i], 1, "enemy rows never contain agents");
    }
  }
  for (let e = 0; e < env.nEnemies; e++) {
    for (let f = 0; f < env.nEnemies; f++) {
      // only higher-indexed enemies (and itself) within sight 28 (armies can be 28+ apart)
      const expected = f < e || env.sim.centerDistance(A + e, A + f) > 28 ? 1 : 0;
      assert.equal(m.obsMask[(A + e) * Ne + A + f], expected);
    }
    for (let k = 0; k < Nt; k++)
      assert.equal(m.entity2taskMask[(A + e) * Nt + k], k === env.enemyArmy[e] ? 0 : 1);
  }
  const alloc = env.heuristicAllocation();
  for (let a = 0; a < env.nAgents; a++) {
    for (let k = 0; k < Nt; k++)
      assert.equal(m.entity2taskMask[a * Nt + k], k === alloc[a] ? 0 : 1);
  }
  // dead units: masked everywhere (contract) unless deadSelfObservation
  kill(env, 0);
  kill(env, A + 1);
  const m2 = env.getMasks();
  assert.equal(m2.entityMask[0], 1);
  assert.equal(m2.entityMask[A + 1], 1);
  for (let j = 0; j < Ne; j++) {
    assert.equal(m2.obsMask[j], 1);
    assert.equal(m2.obsMask[j * Ne], 1);
  }
  for (let k = 0; k < Nt; k++) assert.equal(m2.entity2taskMask[k], 1, "dead agent row all 1");
  assert.equal(
    m2.entity2taskMask[(A + 1) * Nt + env.enemyArmy[1]],
    0,
    "dead enemies keep their army",
  );
  const faithful = makeBattleEnv({ seed: 8, deadSelfObservation: true });
  faithful.reset();
  kill(faithful, 0);
  assert.equal(faithful.getMasks().obsMask[0], 0);
  // without heuristicAlloc agent rows are all 1
  const plain = makeBattleEnv({ seed: 8 });
  plain.reset();
  const pm = plain.getMasks();
  for (let i = 0; i < A * Nt; i++) assert.equal(pm.entity2taskMask[i], 1);
});

test("entity features: S&Z layout of spec §3.16 at reset", () => {
  const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, seed: 10 });
  env.reset({ index: 5 }); // 3 Stalkers + 1 Zealot each side
  const De = env.info.entityShape;
  const A = env.sizes.maxAgents;
  const ent = env.getEntities();
  const sim = env.sim;
  const av = env.getAvailActions();
  for (let a = 0; a < env.nAgents; a++) {
    const row = Array.from(ent.subarray(a * De, (a + 1) * De));
    for (let t = 0; t < 16; t++) assert.equal(row[t], t === env.agentTag[a] ? 1 : 0);
    for (let j = 2; j < 14; j++) assert.equal(row[16 + j - 2], av[a * 14 + j] >= 1 ? 1 : 0);
    const isStalker = env.agentKind[a] === UnitKind.Stalker;
    assert.deepEqual(row.slice(28, 30), isStalker ? [0, 1] : [1, 0]);
    assert.deepEqual(row.slice(30, 34), [1, 1, 0, 0]); // health, shield, energy, cooldown
    close(row[34], Math.fround((sim.x[a] - 16) / 32), 0);
    close(row[35], Math.fround((sim.y[a] - 16) / 32), 0);
    assert.deepEqual(row.slice(38, 42), [0, 0, 0, 0]);
  }
  for (let e = 0; e < env.nEnemies; e++) {
    const row = Array.from(ent.subarray((A + e) * De, (A + e + 1) * De));
    for (let t = 0; t < 16; t++) assert.equal(row[t], t === env.enemyTag[e] ? 1 : 0);
    for (let j = 16; j < 28; j++) assert.equal(row[j], 0);
    assert.deepEqual(row.slice(30, 34), [1, 1, 0, 0]);
    const k = env.enemyArmy[e];
    assert.equal(row[38], env.armyAttacking[k]);
    close(row[39], Math.fround(env.timeSinceLastSwitch[k] / 20), 0);
    assert.deepEqual(row.slice(40, 42), [0, 0]);
  }
  // centre-of-mass features: mean 0 over all units, max |.| = 1
  let sx = 0;
  let maxNorm = 0;
  const units = [
    ...Array(env.nAgents).keys(),
    ...Array.from({ length: env.nEnemies }, (_, e) => A + e),
  ];
  for (const u of units) {
    sx += ent[u * De + 36];
    maxNorm = Math.max(maxNorm, Math.hypot(ent[u * De + 36], ent[u * De + 37]));
  }
  close(sx, 0, 1e-5);
  close(maxNorm, 1, 1e-5);
  // padded rows are zero
  for (let i = env.nAgents * De; i < A * De; i++) assert.equal(ent[i], 0);
});

test("entity features: velocities, cooldown, Medivac energy, dead units", () => {
  const env = makeBattleEnv({ scenario: MMM_SYMMETRIC, seed: 12 });
  env.reset({ index: 11 }); // 0/3/2: 3 Marauders + 2 Medivacs
  freezeEnemies(env);
  const De = env.info.entityShape; // 50: tags 0-15, avail 16-35, type 36-38, health 39, energy 40, cooldown 41, pos 42-45, 46 attacking, 47 switch, 48-49 velocity
  const medivac = 3;
  assert.equal(env.agentKind[medivac], UnitKind.Medivac);
  assert.equal(env.getEntities()[medivac * De + 40], 0.25, "Medivac energy 50/200");
  env.sim.x[0] = 5;
  env.sim.y[0] = 5;
  env.refreshAvailability();
  const actions = stopActions(env);
  actions[0] = BattleAction.MoveNorth;
  env.step(actions);
  const ent = env.getEntities();
  close(ent[0 * De + 48], 0, 0);
  close(ent[0 * De + 49], Math.fround(((2.25 / 16) * 8) / 2), 1e-7);
  // dead units keep tag, type and (enemies) the schedule features; the rest is 0
  const A = env.sizes.maxAgents;
  kill(env, 1);
  kill(env, A);
  const d = env.getEntities();
  const agentRow = Array.from(d.subarray(1 * De, 2 * De));
  assert.equal(agentRow[env.agentTag[1]], 1);
  assert.equal(agentRow[36 + 1], 1, "Marauder type bit");
  assert.equal(
    agentRow.slice(16, 36).reduce((x, y) => x + y, 0),
    0,
    "no availability bits when dead",
  );
  assert.deepEqual(agentRow.slice(39, 46), [0, 0, 0, 0, 0, 0, 0]);
  const enemyRow = Array.from(d.subarray(A * De, (A + 1) * De));
  assert.equal(enemyRow[46], env.armyAttacking[env.enemyArmy[0]]);
  assert.equal(enemyRow[39], 0);
});

test("attack/retreat schedule: phases of 11..20 steps, first attack at the drawn offset (spec §3.9)", () => {
  const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, seed: 21 });
  for (let ep = 0; ep < 5; ep++) {
    env.reset();
    freezeEnemies(env);
    const toggles: number[][] = Array.from({ length: env.nArmies }, () => []);
    const previous = Array.from(env.armyAttacking.subarray(0, env.nArmies));
    for (let k = 0; k < env.nArmies; k++) if (previous[k]) toggles[k].push(0);
    let t = 0;
    for (;;) {
      const r = env.step(stopActions(env));
      t++;
      for (let k = 0; k < env.nArmies; k++) {
        if (env.armyAttacking[k] !== previous[k]) {
          toggles[k].push(t);
          previous[k] = env.armyAttacking[k];
          assert.equal(env.timeSinceLastSwitch[k], 0);
        }
      }
      if (r.terminated) break;
    }
    assert.equal(t, 150, "frozen enemies: the episode times out");
    for (let k = 0; k < env.nArmies; k++) {
      const ts = toggles[k];
      assert.ok(ts[0] >= 0 && ts[0] <= 19, `first attack at ${ts[0]}`);
      for (let i = 1; i < ts.length; i++) {
        const len = ts[i] - ts[i - 1];
        assert.ok(len >= 11 && len <= 20, `phase of ${len} steps`);
      }
    }
    assert.ok(
      toggles.some((ts) => ts[0] === 0),
      "some army attacks at reset",
    );
  }
});

test("time-outs are true terminals: no episodeLimit flag (spec §7.4)", () => {
  const env = makeBattleEnv({ seed: 3, episodeLimit: 4 });
  env.reset();
  freezeEnemies(env);
  let r = env.step(stopActions(env));
  for (let t = 1; t < 4; t++) {
    assert.equal(r.terminated, false);
    assert.equal(r.info.stats, null);
    r = env.step(stopActions(env));
  }
  assert.equal(r.terminated, true);
  assert.equal(r.info.episodeLimit, false);
  assert.equal(r.info.stats?.battle_won, 0);
  assert.equal(env.episodeRecord().timedOut, true);
  assert.throws(() => env.step(stopActions(env)));
});

test("base infiltration ends the episode as a loss, with no win bonus (spec §3.12)", () => {
  const env = makeBattleEnv({ seed: 9 });
  env.reset();
  const A = env.sizes.maxAgents;
  for (let a = 0; a < env.nAgents; a++) {
    env.sim.x[a] = 2 + a;
    env.sim.y[a] = 30;
  }
  let e = 0;
  while (env.enemyKind[e] === UnitKind.Medivac) e++;
  env.sim.x[A + e] = 16;
  env.sim.y[A + e] = 16;
  env.refreshAvailability();
  const r = env.step(stopActions(env));
  const k = env.enemyArmy[e];
  assert.equal(r.terminated, true);
  assert.equal(r.info.stats?.base_infiltrated, 1);
  assert.equal(r.info.stats?.battle_won, 0);
  assert.equal(r.info.stats?.allies_defeated, 0);
  assert.equal(env.armyCode[k], -1);
  assert.equal(r.info.tasksTerminated[k], 1);
  assert.equal(r.info.tasksChanged, true);
  assert.equal(r.info.taskRewards[k], 0, "no bonus or penalty for the infiltrated army");
  assert.ok(r.reward < 200 / env.sizes.rewardDivisor);
  assert.deepEqual(env.episodeRecord().armiesInfiltrated[k], true);
});

test("base infiltration overrides a same-step win", () => {
  const env = makeBattleEnv({ seed: 9 });
  env.reset();
  const A = env.sizes.maxAgents;
  for (let e = 0; e < env.nEnemies; e++) kill(env, A + e);
  env.sim.x[A] = 16.5;
  env.sim.y[A] = 16;
  const r = env.step(stopActions(env));
  assert.equal(r.terminated, true);
  assert.equal(r.info.stats?.battle_won, 0);
  assert.equal(r.info.stats?.base_infiltrated, 1);
});

test("win: +10 per kill + 200, task rewards +200 per defeated army without kills (quirk)", () => {
  for (const quirk of [true, false]) {
    const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, seed: 31, taskRewardQuirk: quirk });
    env.reset();
    const div = env.sizes.rewardDivisor;
    const sizes = armySizes(env);
    for (let e = 0; e < env.nEnemies; e++) kill(env, env.enemySlot(e));
    const r = env.step(stopActions(env));
    assert.equal(r.terminated, true);
    assert.equal(r.info.stats?.battle_won, 1);
    assert.equal(r.info.stats?.perc_armies_defeated, 1);
    close(r.reward, (10 * env.nEnemies + 200) / div);
    for (let k = 0; k < 3; k++) {
      const expected = k >= env.nArmies ? 0 : ((quirk ? 0 : 10 * sizes[k]) + 200) / div;
      close(r.info.taskRewards[k], expected);
      assert.equal(r.info.tasksTerminated[k], 1);
    }
  }
});

test("loss and draw end codes (S&Z) and Medivac rules (MMM, spec §3.12)", () => {
  const sz = makeBattleEnv({ seed: 2 });
  sz.reset();
  for (let a = 0; a < sz.nAgents; a++) kill(sz, a);
  let r = sz.step(stopActions(sz));
  assert.equal(r.terminated, true);
  assert.equal(r.info.stats?.allies_defeated, 1);
  assert.equal(r.info.stats?.battle_won, 0);
  sz.reset();
  for (let a = 0; a < sz.nAgents; a++) kill(sz, a);
  for (let e = 0; e < sz.nEnemies; e++) kill(sz, sz.enemySlot(e));
  r = sz.step(stopActions(sz));
  assert.equal(r.terminated, true, "draw");
  assert.equal(r.info.stats?.allies_defeated, 0);
  assert.equal(r.info.stats?.battle_won, 0);

  const mmm = makeBattleEnv({ scenario: MMM_SYMMETRIC, seed: 2 });
  mmm.reset({ index: 2 }); // 3 Marines + 2 Medivacs each side
  for (let a = 0; a < mmm.nAgents; a++) if (mmm.agentKind[a] !== UnitKind.Medivac) kill(mmm, a);
  r = mmm.step(stopActions(mmm));
  assert.equal(r.terminated, true);
  assert.equal(r.info.stats?.allies_defeated, 1, "only Medivacs left: loss");
  mmm.reset({ index: 2 });
  for (let e = 0; e < mmm.nEnemies; e++)
    if (mmm.enemyKind[e] !== UnitKind.Medivac) kill(mmm, mmm.enemySlot(e));
  r = mmm.step(stopActions(mmm));
  assert.equal(r.terminated, true);
  assert.equal(r.info.stats?.battle_won, 1, "no non-Medivac enemy: win");
  for (let k = 0; k < mmm.nArmies; k++) {
    const medivacAlive = Array.from({ length: mmm.nEnemies }, (_, e) => e).some(
      (e) => mmm.enemyArmy[e] === k && mmm.sim.alive[mmm.enemySlot(e)] === 1,
    );
    assert.equal(
      r.info.tasksTerminated[k],
      medivacAlive ? 0 : 1,
      "Medivac-only armies stay active",
    );
  }
});

/** Put agent 0 (a Stalker) next to enemy `e`, everyone else far away, enemies frozen. */
function duelSetup(env: BattleEnv, e: number): void {
  const A = env.sizes.maxAgents;
  freezeEnemies(env);
  for (let a = 0; a < env.nAgents; a++) {
    env.sim.x[a] = a === 0 ? 10 : 2;
    env.sim.y[a] = a === 0 ? 16 : 2 + 1.5 * a;
  }
  for (let f = 0; f < env.nEnemies; f++) {
    env.sim.x[A + f] = f === e ? 12 : 30;
    env.sim.y[A + f] = f === e ? 16 : 2 + 1.5 * f;
  }
  env.refreshAvailability();
}

function findSingletonArmy(env: BattleEnv): number {
  for (let seed = 0; seed < 200; seed++) {
    env.reset({ seed, nTasks: 3 });
    if (env.agentKind[0] !== UnitKind.Stalker) continue;
    const sizes = armySizes(env);
    for (let e = 0; e < env.nEnemies; e++) if (sizes[env.enemyArmy[e]] === 1) return e;
  }
  throw new Error("no singleton army found");
}

test("scripted kill: global reward +10 + remaining life; task reward quirk drops the kill (spec §3.14)", () => {
  for (const quirk of [true, false]) {
    const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, taskRewardQuirk: quirk });
    const e = findSingletonArmy(env);
    const A = env.sizes.maxAgents;
    const k = env.enemyArmy[e];
    duelSetup(env, e);
    env.sim.health[A + e] = 5;
    env.sim.shield[A + e] = 0;
    env.sim.loopsSinceDamage[A + e] = 0;
    const actions = stopActions(env);
    actions[0] = 6 + env.enemyTag[e];
    const div = env.sizes.rewardDivisor;
    const r = env.step(actions);
    assert.equal(env.sim.alive[A + e], 0);
    assert.equal(env.sim.x[A + e], 12, "dead units keep their last observed position");
    assert.equal(r.terminated, false);
    close(r.reward, 15 / div);
    close(r.info.taskRewards[k], ((quirk ? 0 : 15) + 200) / div);
    assert.equal(r.info.tasksChanged, true);
    for (let j = 0; j < 3; j++) if (j !== k) assert.equal(r.info.taskRewards[j], 0);
    const r2 = env.step(stopActions(env));
    close(r2.info.taskRewards[k], quirk ? 200 / div : 0, 1e-12);
    assert.equal(r2.info.tasksChanged, false);
    close(r2.reward, 0);
  }
});

test("damage on a surviving enemy counts in both global and task rewards", () => {
  const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, seed: 40 });
  env.reset();
  assert.equal(env.agentKind[0], UnitKind.Stalker);
  const e = 0;
  const A = env.sizes.maxAgents;
  duelSetup(env, e);
  const actions = stopActions(env);
  actions[0] = 6 + env.enemyTag[e];
  const r = env.step(actions);
  const target = UNIT_STATS[env.enemyKind[e]];
  const out = [0, 0];
  hitDamage(
    weaponHitAmount(UNIT_STATS[UnitKind.Stalker].weapon!, target.attributes),
    target.shieldMax,
    target.armor,
    out,
  );
  const dmg = out[0] + out[1];
  close(env.sim.health[A + e] + env.sim.shield[A + e], target.healthMax + target.shieldMax - dmg);
  close(r.reward, dmg / env.sizes.rewardDivisor);
  close(r.info.taskRewards[env.enemyArmy[e]], dmg / env.sizes.rewardDivisor);
});

test("shield regeneration of enemies gives a negative reward (no clipping)", () => {
  const env = makeBattleEnv({ scenario: SZ_SYMMETRIC, seed: 41 });
  env.reset();
  freezeEnemies(env);
  const u = env.enemySlot(0);
  env.sim.shield[u] = 20;
  env.sim.loopsSinceDamage[u] = SHIELD_REGEN_DELAY_LOOPS + 100;
  const r = env.step(stopActions(env));
  close(r.reward, -1 / env.sizes.rewardDivisor); // 8 loops x 2/16
  close(r.info.taskRewards[env.enemyArmy[0]], -1 / env.sizes.rewardDivisor);
});

test("heal boost on army defeat: disadvantage episodes only, nearest agents, formula of §3.13", () => {
  for (const scenario of [SZ_DISADVANTAGE, SZ_SYMMETRIC]) {
    const env = makeBattleEnv({ scenario, seed: 50 });
    env.reset({ nTasks: 3 });
    freezeEnemies(env);
    const A = env.sizes.maxAgents;
    for (let a = 0; a < env.nAgents; a++) {
      env.sim.health[a] = 10;
      env.sim.shield[a] = 0;
      env.sim.loopsSinceDamage[a] = 0;
    }
    const k = 0;
    for (let e = 0; e < env.nEnemies; e++) if (env.enemyArmy[e] === k) env.sim.health[A + e] = -1;
    const r = env.step(stopActions(env));
    assert.equal(env.armyCode[k], 1);
    assert.equal(r.terminated, false);
    const boost = (4 * (env.nEnemies - env.nAgents)) / (env.nAgents * Math.max(env.nArmies - 1, 1));
    let healed = 0;
    for (let a = 0; a < env.nAgents; a++) {
      const d = [0, 1, 2].map((j) =>
        Math.hypot(env.sim.x[a] - env.armyX[j], env.sim.y[a] - env.armyY[j]),
      );
      const nearest = d.indexOf(Math.min(...d));
      const st = UNIT_STATS[env.agentKind[a]];
      if (scenario === SZ_DISADVANTAGE && nearest === k) {
        healed++;
        close(env.sim.health[a], Math.min(10 + st.healthMax * boost, st.healthMax));
        close(env.sim.shield[a], Math.min(st.shieldMax * boost, st.shieldMax));
      } else {
        assert.equal(env.sim.health[a], 10);
        assert.equal(env.sim.shield[a], 0);
      }
    }
    for (let e = 0; e < env.nEnemies; e++) kill(env, A + e);
    const end = env.step(stopActions(env));
    assert.equal(end.terminated, true);
    if (scenario === SZ_DISADVANTAGE) {
      close(end.info.stats!.perc_agents_healed_per_army_defeated, healed / env.nAgents);
    } else {
      assert.equal(end.info.stats!.perc_agents_healed_per_army_defeated, undefined);
    }
  }
});

test("Medivac-only armies retreat once and report switch time -19 (spec §3.9)", () => {
  const env = makeBattleEnv({ scenario: MMM_SYMMETRIC });
  for (let seed = 0; seed < 500; seed++) {
    env.reset({ seed });
    const A = env.sizes.maxAgents;
    let target = -1;
    for (let k = 0; k < env.nArmies && target < 0; k++) {
      let medivacs = 0;
      let others = 0;
      for (let e = 0; e < env.nEnemies; e++) {
        if (env.enemyArmy[e] !== k) continue;
        if (env.enemyKind[e] === UnitKind.Medivac) medivacs++;
        else others++;
      }
      const othersElsewhere = Array.from({ length: env.nEnemies }, (_, e) => e).some(
        (e) => env.enemyArmy[e] !== k && env.enemyKind[e] !== UnitKind.Medivac,
      );
      if (medivacs > 0 && others > 0 && othersElsewhere) target = k;
    }
    if (target < 0) continue;
    freezeEnemies(env);
    for (let e = 0; e < env.nEnemies; e++) {
      if (env.enemyArmy[e] === target && env.enemyKind[e] !== UnitKind.Medivac)
        env.sim.health[A + e] = -1;
    }
    env.step(stopActions(env));
    assert.equal(env.armyAttacking[target], 0);
    assert.equal(env.timeSinceLastSwitch[target], -19);
    assert.equal(env.armyCode[target], 0, "stays active");
    env.step(stopActions(env));
    assert.equal(env.timeSinceLastSwitch[target], -19);
    const ent = env.getEntities();
    const e = Array.from({ length: env.nEnemies }, (_, i) => i).find(
      (i) => env.enemyArmy[i] === target,
    )!;
    close(ent[(A + e) * env.info.entityShape + 47], -0.95, 1e-6);
    return;
  }
  assert.fail("no suitable MMM episode found");
});

test("episode record: scenario strings per army (spec §3.15)", () => {
  const sz = makeBattleEnv({ seed: 1 });
  sz.reset();
  const rec = sz.episodeRecord();
  assert.equal(rec.scenario.length, sz.nArmies);
  for (const s of rec.scenario) assert.match(s, /^(S\d)?(Z\d)?$/);
  const total = rec.scenario.map((s) =>
    [...s.matchAll(/\d/g)].reduce((x, m) => x + Number(m[0]), 0),
  );
  assert.equal(
    total.reduce((x, y) => x + y, 0),
    sz.nEnemies,
  );
  const mmm = makeBattleEnv({ scenario: MMM_SYMMETRIC, seed: 1 });
  mmm.reset({ index: 17 }); // 3/1/2
  for (const s of mmm.episodeRecord().scenario) assert.match(s, /^(Ma\d)?(Ma\d)?(Me\d)?$/);
});

test("svg and text frames", () => {
  const env = makeBattleEnv({ scenario: MMM_DISADVANTAGE, seed: 3, heuristicAlloc: true });
  env.reset();
  const svg = renderBattleSvg(env);
  assert.ok(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"));
  const circles = (svg.match(/<circle /g) ?? []).length;
  assert.equal(circles, 1 + env.nAgents + env.nEnemies, "base + one circle per living unit");
  assert.equal((svg.match(/class="allocation"/g) ?? []).length, env.nAgents);
  const none = renderBattleSvg(env, new Int32Array(env.info.nAgents).fill(-1), {
    title: "t",
    reward: 1.5,
  });
  assert.equal((none.match(/class="allocation"/g) ?? []).length, 0);
  assert.match(none, /r=1.5/);
  const text = env.render();
  assert.equal(text.split("\n").length, 1 + 32 + env.nArmies + 1);
});

test("scripted heuristic policy beats the random policy (S&Z symmetric, fixed seeds)", () => {
  const play = (scripted: boolean, options: BattleEnvOptions): number => {
    const env = makeBattleEnv({ ...options, seed: 123, heuristicAlloc: true });
    const actions = new Int32Array(env.info.nAgents);
    const alloc = new Int32Array(env.info.nAgents);
    let wins = 0;
    let rng = 1;
    for (let ep = 0; ep < 30; ep++) {
      env.reset();
      for (;;) {
        if (scripted) {
          if (env.time % 3 === 0) env.heuristicAllocation(alloc);
          scriptedBattleActions(env, alloc, actions);
        } else {
          const av = env.getAvailActions();
          const n = env.info.nActions;
          for (let a = 0; a < env.info.nAgents; a++) {
            const options = [];
            for (let j = 0; j < n; j++) if (av[a * n + j]) options.push(j);
            rng = (rng * 1103515245 + 12345) % 2147483648;
            actions[a] = options[rng % options.length];
          }
        }
        const r = env.step(actions);
        if (r.terminated) {
          wins += r.info.stats!.battle_won;
          break;
        }
      }
    }
    return wins;
  };
  const opts = { scenario: SZ_SYMMETRIC };
  assert.ok(play(true, opts) > play(false, opts) + 3);
});

test("registry entry: options mapping, rejects unknown extras, frames", () => {
  const env = battleEnvEntry.make({
    scenario: MMM_SYMMETRIC,
    seed: 2,
    heuristicAlloc: true,
    extra: { spreadArmies: false },
  });
  assert.equal(env.scenario, MMM_SYMMETRIC);
  env.reset();
  assert.ok((env as BattleEnv).spreadMult < 1);
  assert.throws(() => battleEnvEntry.make({ extra: { bogus: 1 } }), /unknown option/);
  assert.throws(() => battleEnvEntry.make({ extra: { spreadArmies: "no" } }), /must be a boolean/);
  const alloc = env.heuristicAllocation(new Int32Array(env.info.nAgents));
  assert.match(battleEnvEntry.renderSvg!(env, { allocation: alloc }), /class="allocation"/);
  assert.match(
    battleEnvEntry.renderText!(env, { allocation: alloc, reward: 0.5 }),
    /allocation: 0->/,
  );
  const out = battleEnvEntry.scriptedActions!(env, alloc, new Int32Array(env.info.nAgents));
  env.step(out);
});
