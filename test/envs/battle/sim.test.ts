/**
 * Combat simulator unit tests: damage arithmetic, Zealot double hits, cooldowns, edge-to-edge
 * range, shield regeneration timing, Medivac heal rate and energy, rejected orders, auto
 * acquisition and a scripted duel computed by hand (spec §5, §6).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BattleSim, Order, Side } from "../../../src/envs/battle/sim.js";
import {
  hitDamage,
  SHIELD_REGEN_DELAY_LOOPS,
  UNIT_STATS,
  UnitKind,
  type UnitKindId,
  weaponHitAmount,
} from "../../../src/envs/battle/units.js";

const hit = (amount: number, shield: number, armor: number): [number, number] => {
  const out = [0, 0];
  hitDamage(amount, shield, armor, out);
  return [out[0], out[1]];
};

/** A sim with the given units (slot order), all placed far from each other unless positioned. */
function makeSim(
  units: Array<{ kind: UnitKindId; side: number; x: number; y: number }>,
): BattleSim {
  const sim = new BattleSim(units.length);
  sim.clear();
  units.forEach((u, i) => {
    sim.addUnit(i, u.kind, u.side, u.x, u.y);
  });
  return sim;
}

test("damage: shields absorb first (shield armor 0), then life armor, minimum 0.5 (spec §5.4)", () => {
  assert.deepEqual(hit(18, 80, 1), [18, 0]); // Stalker hit on full Stalker shields
  assert.deepEqual(hit(18, 5, 1), [5, 12]); // 5 absorbed, 13 left minus armor 1
  assert.deepEqual(hit(6, 0, 0), [0, 6]); // Marine on Marine
  assert.deepEqual(hit(1, 0, 1), [0, 0.5]); // minimum damage
  assert.deepEqual(hit(8, 1, 1), [1, 6]);
  assert.deepEqual(hit(2, 1, 1), [1, 0]); // remainder fully armored away; absorbed part counts
});

test("damage: bonus vs attribute (spec §6)", () => {
  const stalker = UNIT_STATS[UnitKind.Stalker].weapon!;
  const marauder = UNIT_STATS[UnitKind.Marauder].weapon!;
  assert.equal(weaponHitAmount(stalker, UNIT_STATS[UnitKind.Stalker].attributes), 18); // +5 Armored
  assert.equal(weaponHitAmount(stalker, UNIT_STATS[UnitKind.Zealot].attributes), 13); // Light
  assert.equal(weaponHitAmount(marauder, UNIT_STATS[UnitKind.Marauder].attributes), 20); // +10 Armored
  assert.equal(weaponHitAmount(marauder, UNIT_STATS[UnitKind.Marine].attributes), 10);
});

test("max life + shields of the max scenarios match the reward normaliser values (spec §3.3)", () => {
  const total = (k: UnitKindId) => UNIT_STATS[k].healthMax + UNIT_STATS[k].shieldMax;
  assert.equal(total(UnitKind.Stalker), 160);
  assert.equal(total(UnitKind.Zealot), 150);
  assert.equal(total(UnitKind.Marine), 45);
  assert.equal(total(UnitKind.Marauder), 125);
  assert.equal(total(UnitKind.Medivac), 150);
});

test("Zealot hits twice per swing, armor applies to each hit", () => {
  for (const [targetKind, expectHealth, expectShield] of [
    [UnitKind.Marine, 45 - 16, 0],
    [UnitKind.Marauder, 125 - 14, 0],
    [UnitKind.Stalker, 80, 80 - 16],
  ] as const) {
    const r = UNIT_STATS[UnitKind.Zealot].radius + UNIT_STATS[targetKind].radius + 0.05;
    const sim = makeSim([
      { kind: UnitKind.Zealot, side: Side.Agent, x: 10, y: 10 },
      { kind: targetKind, side: Side.Agent, x: 10 + r, y: 10 },
    ]);
    assert.equal(sim.orderAttack(0, 1), true);
    sim.stepLoop();
    assert.equal(sim.health[1], expectHealth, UNIT_STATS[targetKind].name);
    assert.equal(sim.shield[1], expectShield, UNIT_STATS[targetKind].name);
  }
});

/** Loops (1-based) at which `shooter` hit a passive target during `loops` loops. */
function shotLoops(kind: UnitKindId, loops: number): number[] {
  const sim = makeSim([
    { kind, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 12 }, // flying punching bag (Marine/Stalker)
    { kind: UnitKind.Marauder, side: Side.Agent, x: 12, y: 10 }, // ground punching bag
  ]);
  const target = UNIT_STATS[kind].weapon!.targetsAir ? 1 : 2;
  sim.health[target] = 1e9; // never dies
  assert.equal(sim.orderAttack(0, target), true);
  const hits: number[] = [];
  let last = sim.health[target];
  for (let l = 1; l <= loops; l++) {
    sim.stepLoop();
    if (sim.health[target] < last) hits.push(l);
    last = sim.health[target];
  }
  return hits;
}

test("cooldowns: shots every ceil(period x 16) loops from the moment of firing (spec §6)", () => {
  // Stalker 1.87 s = 29.92 loops -> every 30; Marine 0.8608 s = 13.77 -> 14; Marauder 1.5 s = 24.
  assert.deepEqual(shotLoops(UnitKind.Stalker, 100), [1, 31, 61, 91]);
  assert.deepEqual(shotLoops(UnitKind.Marine, 50), [1, 15, 29, 43]);
  assert.deepEqual(shotLoops(UnitKind.Marauder, 80), [1, 25, 49, 73]);
  const zealot = makeSim([
    { kind: UnitKind.Zealot, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Marauder, side: Side.Agent, x: 11.1, y: 10 },
  ]);
  zealot.health[1] = 1e9;
  zealot.orderAttack(0, 1);
  const hits: number[] = [];
  let last = zealot.health[1];
  for (let l = 1; l <= 45; l++) {
    zealot.stepLoop();
    if (zealot.health[1] < last) hits.push(l);
    last = zealot.health[1];
  }
  assert.deepEqual(hits, [1, 21, 41]); // 1.2 s = 19.2 loops -> every 20
});

test("weapon range is edge-to-edge: in range at centre distance range + both radii (spec §5.2)", () => {
  const reach = 6 + UNIT_STATS[UnitKind.Stalker].radius + UNIT_STATS[UnitKind.Zealot].radius; // 7.125
  const inRange = makeSim([
    { kind: UnitKind.Stalker, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Zealot, side: Side.Agent, x: 10 + reach - 1e-6, y: 10 },
  ]);
  inRange.orderAttack(0, 1);
  inRange.stepLoop();
  assert.equal(inRange.shield[1], 50 - 13, "fires without moving");
  assert.equal(inRange.x[0], 10);
  const outOfRange = makeSim([
    { kind: UnitKind.Stalker, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Zealot, side: Side.Agent, x: 10 + reach + 0.1, y: 10 },
  ]);
  outOfRange.orderAttack(0, 1);
  outOfRange.stepLoop();
  assert.equal(outOfRange.shield[1], 50, "walks first");
  assert.ok(Math.abs(outOfRange.x[0] - 10.1) < 1e-9, "moves exactly up to range");
  outOfRange.stepLoop();
  assert.equal(outOfRange.shield[1], 50 - 13);
});

test("a melee Zealot ordered to attack a target 5 away must walk to it (spec §5.2)", () => {
  const sim = makeSim([
    { kind: UnitKind.Zealot, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 15, y: 10 },
  ]);
  sim.orderAttack(0, 1);
  let firstHit = -1;
  for (let l = 1; l <= 64 && firstHit < 0; l++) {
    sim.stepLoop();
    if (sim.health[1] < 45) firstHit = l;
  }
  // gap = 5 - 0.5 - 0.375 - 0.1 = 4.025 at 2.25/16 per loop -> 28.6 loops of walking
  assert.equal(firstHit, 30);
});

test("shields regenerate 2/s starting 10 s (160 loops) after the last damage (spec §5.4)", () => {
  const sim = makeSim([
    { kind: UnitKind.Stalker, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Stalker, side: Side.Agent, x: 14, y: 10 },
  ]);
  sim.orderAttack(0, 1);
  sim.stepLoop(); // hit at loop 1: 18 on shields
  sim.orderStop(0);
  assert.equal(sim.shield[1], 62);
  sim.advance(SHIELD_REGEN_DELAY_LOOPS - 1); // loops 2..160
  assert.equal(sim.shield[1], 62);
  sim.stepLoop(); // loop 161: 160 loops after the hit
  assert.equal(sim.shield[1], 62.125);
  sim.advance(16);
  assert.equal(sim.shield[1], 64.125);
  sim.advance(16 * 20);
  assert.equal(sim.shield[1], 80, "capped at max");
  assert.equal(sim.health[1], 80, "no life regeneration");
});

test("Medivac heals 9 HP/s for 1 energy per 3 HP, energy regenerates 0.5625/s (spec §6)", () => {
  const sim = makeSim([
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 12, y: 10 },
  ]);
  sim.health[1] = 20;
  assert.equal(sim.energy[0], 50);
  assert.equal(sim.orderHeal(0, 1), true);
  sim.advance(16);
  assert.equal(sim.health[1], 29);
  assert.equal(sim.energy[0], 50 + 0.5625 - 3);
  // heals to full, then the order completes
  sim.advance(16 * 3);
  assert.equal(sim.health[1], 45);
  assert.equal(sim.order[0], Order.Idle);
});

test("Medivac: heal range 4 edge-to-edge, flies to the target; no heal without energy", () => {
  const sim = makeSim([
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 20, y: 10 },
  ]);
  sim.health[1] = 10;
  sim.orderHeal(0, 1);
  sim.stepLoop();
  assert.equal(sim.health[1], 10, "out of range: flies first");
  assert.ok(sim.x[0] > 10);
  sim.advance(60);
  assert.ok(sim.health[1] > 10);
  const reach = 4 + UNIT_STATS[UnitKind.Medivac].radius + UNIT_STATS[UnitKind.Marine].radius;
  assert.ok(Math.abs(sim.centerDistance(0, 1) - reach) < 1e-9);
  const dry = makeSim([
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 11, y: 10 },
  ]);
  dry.health[1] = 10;
  dry.energy[0] = 0;
  dry.orderHeal(0, 1);
  dry.advance(4);
  assert.equal(dry.health[1], 10);
});

test("one Medivac per target: two healers on one Marine heal at the rate of one (paper)", () => {
  const sim = makeSim([
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Agent, x: 10, y: 12 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 11, y: 11 },
  ]);
  sim.health[2] = 10;
  sim.orderHeal(0, 2);
  sim.orderHeal(1, 2);
  sim.advance(16);
  assert.equal(sim.health[2], 19);
  assert.equal(sim.energy[0] + sim.energy[1], 100 + 2 * 0.5625 - 3);
});

test("rejected orders keep the previous order (spec §8.5)", () => {
  const sim = makeSim([
    { kind: UnitKind.Marauder, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Enemy, x: 12, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Agent, x: 20, y: 20 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 22, y: 20 },
    { kind: UnitKind.Zealot, side: Side.Agent, x: 5, y: 5 },
  ]);
  sim.orderMove(0, 10, 20);
  assert.equal(sim.orderAttack(0, 1), false, "Marauders cannot shoot air");
  assert.equal(sim.order[0], Order.Move);
  assert.equal(sim.orderAttack(4, 1), false, "Zealots cannot shoot air");
  assert.equal(sim.orderHeal(2, 3), false, "heal at full life is rejected");
  assert.equal(sim.order[2], Order.Idle);
  sim.health[1] = 10;
  assert.equal(sim.orderHeal(2, 1), false, "Medivacs are mechanical and flying: never healed");
  sim.health[3] = 10;
  assert.equal(sim.orderHeal(2, 3), true);
});

test("config: rejected orders may stop the unit; enemy Medivac speed standard 2.5 or custom 2.75", () => {
  const units = [
    { kind: UnitKind.Marauder, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Enemy, x: 12, y: 10 },
  ];
  const sim = new BattleSim(2, { rejectedOrder: "stop" });
  sim.clear();
  units.forEach((u, i) => {
    sim.addUnit(i, u.kind, u.side, u.x, u.y);
  });
  sim.orderMove(0, 10, 20);
  assert.equal(sim.orderAttack(0, 1), false);
  assert.equal(sim.order[0], Order.Idle);
  assert.equal(sim.speedPerLoop[1], 2.5 / 16);
  const custom = new BattleSim(2, { standardEnemyMedivacSpeed: false });
  custom.clear();
  custom.addUnit(1, UnitKind.Medivac, Side.Enemy, 12, 10);
  assert.equal(custom.speedPerLoop[1], 2.75 / 16);
});

test("idle enemies acquire agents within 5 (edge), attack-movers within sight; retreat ignores agents", () => {
  const near = makeSim([
    { kind: UnitKind.Stalker, side: Side.Enemy, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 15, y: 10 }, // edge 4.0
  ]);
  near.stepLoop();
  assert.equal(near.health[1], 45 - 13);

  const far = makeSim([
    { kind: UnitKind.Stalker, side: Side.Enemy, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 18, y: 10 }, // edge 7.0: beyond 5 and range 6
  ]);
  far.advance(16);
  assert.equal(far.health[1], 45);
  assert.equal(far.x[0], 10, "idle units do not wander");
  far.orderAttackMove(0, 30, 10);
  far.stepLoop();
  assert.ok(far.x[0] > 10);
  far.advance(16);
  assert.ok(far.health[1] < 45, "attack-move engages within sight");

  const retreating = makeSim([
    { kind: UnitKind.Stalker, side: Side.Enemy, x: 10, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 12, y: 10 },
  ]);
  retreating.orderMove(0, 10, 25);
  retreating.advance(16);
  assert.equal(retreating.health[1], 45);
});

test("idle enemies retaliate against an attacker outside their acquisition range", () => {
  const sim = makeSim([
    { kind: UnitKind.Stalker, side: Side.Enemy, x: 10, y: 10 },
    { kind: UnitKind.Stalker, side: Side.Agent, x: 17.2, y: 10 }, // edge 5.95: in range 6, beyond 5
  ]);
  sim.orderAttack(1, 0);
  sim.stepLoop();
  assert.equal(sim.shield[0], 62);
  assert.equal(sim.shield[1], 80);
  sim.stepLoop();
  assert.equal(sim.shield[1], 62, "fires back on the next loop");
});

test("attack-moving enemies prefer agents that can attack over a nearer Medivac", () => {
  const sim = makeSim([
    { kind: UnitKind.Marine, side: Side.Enemy, x: 10, y: 10 },
    { kind: UnitKind.Medivac, side: Side.Agent, x: 12, y: 10 },
    { kind: UnitKind.Marine, side: Side.Agent, x: 10, y: 14 },
  ]);
  sim.orderAttackMove(0, 10, 30);
  sim.stepLoop();
  assert.equal(sim.health[1], 150);
  assert.equal(sim.health[2], 39);
});

test("scripted duel: agent Stalker vs adjacent enemy Zealot, computed by hand", () => {
  // Zealot swings at loops 1, 21, ...: 5 swings strip 80 shields, then 14 life per swing:
  // 80 life -> dies on swing 11 at loop 201. Stalker shots at loops 1, 31, ..., 181 (7 shots of 13):
  // 3 shots -> shields 11; 4th: 11 absorbed + (2 - 1) life; 5th-7th: 12 life each -> life 63.
  const gap = UNIT_STATS[UnitKind.Stalker].radius + UNIT_STATS[UnitKind.Zealot].radius + 0.05;
  const sim = makeSim([
    { kind: UnitKind.Stalker, side: Side.Agent, x: 10, y: 10 },
    { kind: UnitKind.Zealot, side: Side.Enemy, x: 10 + gap, y: 10 },
  ]);
  sim.orderAttack(0, 1);
  let deathLoop = -1;
  for (let l = 1; l <= 400 && deathLoop < 0; l++) {
    sim.stepLoop();
    if (sim.alive[0] === 0) deathLoop = l;
  }
  assert.equal(deathLoop, 201);
  assert.equal(sim.alive[1], 1);
  assert.equal(sim.health[1], 63);
  assert.equal(sim.shield[1], 0);
  assert.equal(sim.health[0], 0);
});

test("property: separation keeps ground units apart and everything inside the map", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          x: fc.double({ min: 14, max: 18, noNaN: true }),
          y: fc.double({ min: 14, max: 18, noNaN: true }),
        }),
        {
          minLength: 2,
          maxLength: 10,
        },
      ),
      (points) => {
        const sim = makeSim(
          points.map((p) => ({ kind: UnitKind.Marine, side: Side.Agent, x: p.x, y: p.y })),
        );
        sim.advance(64);
        for (let i = 0; i < points.length; i++) {
          assert.ok(sim.x[i] >= 0.375 && sim.x[i] <= 32 - 0.375);
          for (let j = i + 1; j < points.length; j++) {
            assert.ok(sim.centerDistance(i, j) > 0.75 - 0.05, `units ${i}, ${j} overlap`);
          }
        }
      },
    ),
    { numRuns: 50 },
  );
});

test("property: life and shields stay within [0, max] under random fights", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
      const kinds = [
        UnitKind.Marine,
        UnitKind.Marauder,
        UnitKind.Medivac,
        UnitKind.Stalker,
        UnitKind.Zealot,
      ] as const;
      const units = [];
      for (let i = 0; i < 8; i++) {
        const k = kinds[(seed * 7 + i * 3) % kinds.length];
        units.push({
          kind: k,
          side: i % 2,
          x: 12 + ((seed + i * 5) % 9),
          y: 12 + ((seed * 3 + i) % 8),
        });
      }
      const sim = makeSim(units);
      for (let i = 0; i < 8; i++) {
        if (units[i].side === Side.Enemy) sim.orderAttackMove(i, 16, 16);
      }
      for (let l = 0; l < 400; l++) {
        for (let i = 0; i < 8; i++) {
          if (units[i].side !== Side.Agent || sim.alive[i] === 0) continue;
          for (let j = 0; j < 8; j++)
            if (units[j].side === Side.Enemy && sim.alive[j]) sim.orderAttack(i, j);
        }
        sim.stepLoop();
        for (let i = 0; i < 8; i++) {
          const st = UNIT_STATS[sim.kind[i]];
          assert.ok(sim.health[i] >= 0 && sim.health[i] <= st.healthMax);
          assert.ok(sim.shield[i] >= 0 && sim.shield[i] <= st.shieldMax);
          assert.ok(sim.energy[i] >= 0 && sim.energy[i] <= st.energyMax);
          assert.equal(sim.alive[i] === 1, sim.health[i] > 0);
        }
      }
    }),
    { numRuns: 20 },
  );
});
