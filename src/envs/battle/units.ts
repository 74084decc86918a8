/**
 * Unit data for the engine-free StarCraft II combat simulator (spec: environments.md §4, §6).
 *
 * SOURCES (every number below is cited to one of these):
 * - [REPO] the ALMA release as summarised by spec §4.1: SC2 type ids, custom `*_RL` ids,
 *   cooldown normalisers, availability range 6, sight range 28 for the observation mask.
 * - [MAP] the `empty_passive.SC2Map` custom agent units, spec §4.2: life, armor, shields, shield
 *   regeneration delay and rate, speed, sight, radius, attributes, Medivac energy.
 * - [SC2] public StarCraft II balance data for patch 4.x (Liquipedia "Unit Statistics (Legacy of
 *   the Void)"), spec §6: weapon damage, bonus, range, period, targets, heal rate / range / cost,
 *   energy regeneration, standard Medivac speed, Zealot radius.
 * - [SMACLITE] cross-check against SMAClite's unit definitions (uoe-agents/smaclite,
 *   `smaclite/env/units/unit_type.py` and `smaclite_units/*.json`, which quote the same Liquipedia
 *   page in "Faster" seconds and diameters): hp/armor/shields/damage/bonus/range/attributes agree;
 *   their cooldowns x1.4 give our periods (Stalker 1.34 -> 1.876 s, Zealot 0.86 -> 1.204 s,
 *   Marauder 1.07 -> 1.498 s, Marine 0.61 -> 0.854 s vs. our 0.8608 s), their speeds /1.4 give
 *   ours (Stalker 4.13 -> 2.95, Zealot/Marine/Marauder 3.15 -> 2.25, Medivac 3.5 -> 2.5), their
 *   sizes /2 give our radii (Stalker 0.625, Zealot 0.5, Marine 0.375, Marauder 0.5625,
 *   Medivac 0.75), Medivac heal range 4 and energy 50/200 agree.
 *
 * Times are "normal speed" game seconds: 16 game loops per second, 8 loops per environment step.
 */

/** Game loops per normal-speed game second (spec §3.1, §5.1). */
export const LOOPS_PER_SECOND = 16;
/** Game loops per environment step (`step_mul`, spec §3.1). */
export const LOOPS_PER_STEP = 8;

/** Unit kinds known to the simulator. Values are internal indices, not SC2 ids. */
export const UnitKind = {
  Marine: 0,
  Marauder: 1,
  Medivac: 2,
  Stalker: 3,
  Zealot: 4,
} as const;
export type UnitKindId = (typeof UnitKind)[keyof typeof UnitKind];
export const UNIT_KIND_COUNT = 5;

/** Attribute bit flags (spec §4.2, §6 "Armor classes"). */
export const Attr = {
  Light: 1,
  Armored: 2,
  Biological: 4,
  Mechanical: 8,
} as const;

export interface WeaponStats {
  /** Damage of one hit before bonus and armor [SC2]. */
  readonly damage: number;
  /** Extra damage per hit against targets with `bonusAttr` [SC2]. */
  readonly bonus: number;
  readonly bonusAttr: number;
  /** Hits per attack (Zealot psi blades hit twice) [SC2]. */
  readonly hits: number;
  /** Edge-to-edge range (center distance minus both radii) [SC2]. */
  readonly range: number;
  /** Weapon period in game loops (normal-speed seconds x 16) [SC2]. */
  readonly periodLoops: number;
  readonly targetsGround: boolean;
  readonly targetsAir: boolean;
}

export interface HealStats {
  /** HP restored per game loop (9 HP per normal-speed second) [SC2]. */
  readonly hpPerLoop: number;
  /** Energy spent per HP restored (1 energy per 3 HP) [SC2]. */
  readonly energyPerHp: number;
  /** Edge-to-edge heal range [SC2]. */
  readonly range: number;
}

export interface UnitStats {
  readonly name: string;
  /** Standard SC2 unit type id (enemies) [REPO]. */
  readonly standardId: number;
  /** Custom `*_RL` unit type id (agents) [REPO]. */
  readonly agentId: number;
  readonly healthMax: number;
  readonly shieldMax: number;
  /** Life armor (shield armor is 0) [MAP]. */
  readonly armor: number;
  readonly radius: number;
  /** Speed of the agent (`*_RL`) version, distance per normal-speed second [MAP]. */
  readonly agentSpeed: number;
  /** Speed of the standard (enemy) version [SC2]; differs only for the Medivac (spec §8.6). */
  readonly enemySpeed: number;
  readonly sight: number;
  readonly flying: boolean;
  readonly attributes: number;
  readonly weapon: WeaponStats | null;
  readonly heal: HealStats | null;
  readonly energyMax: number;
  readonly energyStart: number;
  /** Energy regenerated per game loop (0.5625 per normal-speed second) [SC2]. */
  readonly energyRegenPerLoop: number;
  /** Normaliser of the weapon-cooldown entity feature, in game loops [REPO]. */
  readonly cooldownNormaliser: number;
}

/** Shield regeneration starts this many loops after the last damage taken: 10 s [MAP]. */
export const SHIELD_REGEN_DELAY_LOOPS = 10 * LOOPS_PER_SECOND;
/** Shield points regenerated per loop once regeneration runs: 2 per second [MAP]. */
export const SHIELD_REGEN_PER_LOOP = 2 / LOOPS_PER_SECOND;
/** Minimum life damage of a hit that is not absorbed by shields [SC2]. */
export const MIN_DAMAGE = 0.5;

const seconds = (s: number): number => s * LOOPS_PER_SECOND;

/** Stats per `UnitKind`, indexed by the kind value. */
export const UNIT_STATS: readonly UnitStats[] = [
  {
    name: "Marine",
    standardId: 48,
    agentId: 1939,
    healthMax: 45,
    shieldMax: 0,
    armor: 0,
    radius: 0.375,
    agentSpeed: 2.25,
    enemySpeed: 2.25,
    sight: 9,
    flying: false,
    attributes: Attr.Light | Attr.Biological,
    weapon: {
      damage: 6,
      bonus: 0,
      bonusAttr: 0,
      hits: 1,
      range: 5,
      periodLoops: seconds(0.8608),
      targetsGround: true,
      targetsAir: true,
    },
    heal: null,
    energyMax: 0,
    energyStart: 0,
    energyRegenPerLoop: 0,
    cooldownNormaliser: 15,
  },
  {
    name: "Marauder",
    standardId: 51,
    agentId: 1938,
    healthMax: 125,
    shieldMax: 0,
    armor: 1,
    radius: 0.5625,
    agentSpeed: 2.25,
    enemySpeed: 2.25,
    sight: 10,
    flying: false,
    attributes: Attr.Armored | Attr.Biological,
    weapon: {
      damage: 10,
      bonus: 10,
      bonusAttr: Attr.Armored,
      hits: 1,
      range: 6,
      periodLoops: seconds(1.5),
      targetsGround: true,
      targetsAir: false,
    },
    heal: null,
    energyMax: 0,
    energyStart: 0,
    energyRegenPerLoop: 0,
    cooldownNormaliser: 25,
  },
  {
    name: "Medivac",
    standardId: 54,
    agentId: 1940,
    healthMax: 150,
    shieldMax: 0,
    armor: 1,
    radius: 0.75,
    agentSpeed: 2.75,
    enemySpeed: 2.5,
    sight: 11,
    flying: true,
    attributes: Attr.Armored | Attr.Mechanical,
    weapon: null,
    heal: { hpPerLoop: 9 / LOOPS_PER_SECOND, energyPerHp: 1 / 3, range: 4 },
    energyMax: 200,
    energyStart: 50,
    energyRegenPerLoop: 0.5625 / LOOPS_PER_SECOND,
    cooldownNormaliser: 200,
  },
  {
    name: "Stalker",
    standardId: 74,
    agentId: 1941,
    healthMax: 80,
    shieldMax: 80,
    armor: 1,
    radius: 0.625,
    agentSpeed: 2.9531,
    enemySpeed: 2.9531,
    sight: 10,
    flying: false,
    attributes: Attr.Armored | Attr.Mechanical,
    weapon: {
      damage: 13,
      bonus: 5,
      bonusAttr: Attr.Armored,
      hits: 1,
      range: 6,
      periodLoops: seconds(1.87),
      targetsGround: true,
      targetsAir: true,
    },
    heal: null,
    energyMax: 0,
    energyStart: 0,
    energyRegenPerLoop: 0,
    cooldownNormaliser: 35,
  },
  {
    name: "Zealot",
    standardId: 73,
    agentId: 1942,
    healthMax: 100,
    shieldMax: 50,
    armor: 1,
    // The map's custom Zealot sets no radius; the standard Zealot's 0.5 applies (spec §8.9).
    radius: 0.5,
    agentSpeed: 2.25,
    enemySpeed: 2.25,
    sight: 9,
    flying: false,
    attributes: Attr.Light | Attr.Biological,
    weapon: {
      damage: 8,
      bonus: 0,
      bonusAttr: 0,
      hits: 2,
      range: 0.1,
      periodLoops: seconds(1.2),
      targetsGround: true,
      targetsAir: false,
    },
    heal: null,
    energyMax: 0,
    energyStart: 0,
    energyRegenPerLoop: 0,
    cooldownNormaliser: 22,
  },
];

/**
 * Life and shield damage of one hit (spec §5.4): shields absorb first (shield armor 0); the rest
 * is reduced by life armor. A hit that does not touch shields deals at least 0.5 life damage.
 * DESIGN CHOICE: when shields absorb part of a hit, the life remainder is `max(rest - armor, 0)`
 * (the 0.5 floor is satisfied by the absorbed part). Writes into `out[0]` (shield) / `out[1]`
 * (life) and returns nothing, so the hot path allocates nothing.
 */
export function hitDamage(
  amount: number,
  shield: number,
  armor: number,
  out: Float64Array | number[],
): void {
  if (shield > 0) {
    const absorbed = Math.min(amount, shield);
    const rest = amount - absorbed;
    out[0] = absorbed;
    out[1] = rest > armor ? rest - armor : 0;
    return;
  }
  out[0] = 0;
  const life = amount - armor;
  out[1] = Math.max(life, MIN_DAMAGE);
}

/** Damage of one hit of `attacker`'s weapon on a target with `targetAttributes` (before shields/armor). */
export function weaponHitAmount(weapon: WeaponStats, targetAttributes: number): number {
  return (targetAttributes & weapon.bonusAttr) !== 0 ? weapon.damage + weapon.bonus : weapon.damage;
}

/** Whether `weapon` can shoot a target in the given layer (spec §5.4 ground/air restrictions). */
export function canTarget(weapon: WeaponStats | null, targetFlying: boolean): boolean {
  if (weapon === null) return false;
  return targetFlying ? weapon.targetsAir : weapon.targetsGround;
}
