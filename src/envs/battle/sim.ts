/**
 * Engine-free combat simulator emulating the StarCraft II behaviour the ALMA multi-army task
 * relies on (spec: environments.md §5, values in §4 / §6, open questions §8).
 *
 * Everything is struct-of-arrays over a fixed number of unit slots; `advance` allocates nothing.
 * One call to `stepLoop` simulates one game loop (1/16 normal-speed second):
 *
 * 1. timers of every living unit: weapon cooldown, shield regeneration (10 s after the last damage,
 *    2 per second), energy regeneration;
 * 2. behaviour of every living unit in slot order (order execution for agents, auto-acquisition for
 *    enemies), producing a desired displacement and at most one attack or heal event;
 * 3. movement, then radius-based separation of overlapping units of the same layer (ground units
 *    with ground units, flying Medivacs with Medivacs), then clamping to the map;
 * 4. all attacks of the loop are applied *simultaneously* (a unit killed this loop still fires),
 *    then heals, then units with life <= 0 are removed.
 *
 * Design choices on points the spec leaves open (§8) are collected in `SimConfig` and in the
 * comments marked DESIGN CHOICE.
 */
import {
  Attr,
  canTarget,
  hitDamage,
  SHIELD_REGEN_DELAY_LOOPS,
  SHIELD_REGEN_PER_LOOP,
  UNIT_STATS,
  type UnitKindId,
  type UnitStats,
  weaponHitAmount,
} from "./units.js";

export const Side = { Agent: 0, Enemy: 1 } as const;

/** Current order of a unit. Enemy "retreat" is a plain `Move` (ignores agents, spec §5.3). */
export const Order = {
  /** No order: agents do nothing (passive, spec §4.2); enemies auto-acquire in a small radius. */
  Idle: 0,
  /** Move to (orderX, orderY); becomes Idle on arrival. */
  Move: 1,
  /** Attack unit orderTarget until it dies (then Idle). */
  Attack: 2,
  /** Medivac: heal unit orderTarget until it is at full life or dies (then Idle). */
  Heal: 3,
  /** Enemy attack-move toward (orderX, orderY), fighting agents met on the way. */
  AttackMove: 4,
} as const;

/** Choices for engine behaviour that the repository does not pin down (spec §8). */
export interface SimConfig {
  /** Map side length (spec §3.4: 32). */
  readonly mapSize: number;
  /**
   * Edge-to-edge acquisition range of an *idle* enemy (spec §5.3, open question §8.3).
   * DESIGN CHOICE: 5, like SC2's "minimum scan range" (also SMAClite's default), so idle armies at
   * their spawn point only react to agents that come close or shoot at them.
   */
  readonly idleAcquireRange: number;
  /**
   * An enemy that is shot while idle retaliates against its attacker while the attacker stays
   * within its sight range (spec §5.3 "fight back when attacked"; DESIGN CHOICE: leash = sight).
   */
  readonly idleRetaliation: boolean;
  /**
   * Distance at which a retreating enemy counts as arrived at its spawn point and turns idle.
   * DESIGN CHOICE: 1.5 (several units share one point; the exact point is unreachable for all).
   */
  readonly retreatArrivalRadius: number;
  /**
   * Heal order on a target at full life: rejected, previous order continues (spec §8.5,
   * DESIGN CHOICE following the spec's recommendation). When false the heal order is accepted and
   * immediately completes (the Medivac idles).
   */
  readonly rejectHealOnFullLife: boolean;
  /**
   * What a rejected order does (spec §8.5): `"keep-previous"` (DESIGN CHOICE, the spec's
   * recommendation) leaves the unit's current order running; `"stop"` makes it idle.
   */
  readonly rejectedOrder: "keep-previous" | "stop";
  /**
   * Enemy Medivacs are standard units with speed 2.5 (spec §6, §8.6, DESIGN CHOICE); false gives
   * them the map's custom 2.75 like the agents'.
   */
  readonly standardEnemyMedivacSpeed: boolean;
}

export const DEFAULT_SIM_CONFIG: SimConfig = {
  mapSize: 32,
  idleAcquireRange: 5,
  idleRetaliation: true,
  retreatArrivalRadius: 1.5,
  rejectHealOnFullLife: true,
  rejectedOrder: "keep-previous",
  standardEnemyMedivacSpeed: true,
};

const EPS = 1e-9;

/** Candidate offsets for spawn placement, nearest first (rings of step 0.2 up to radius 8). */
const SPAWN_OFFSETS: Float64Array = (() => {
  const values: number[] = [0, 0];
  const step = 0.2;
  for (let k = 1; k <= 40; k++) {
    const r = k * step;
    const count = Math.ceil((2 * Math.PI * r) / step);
    for (let a = 0; a < count; a++) {
      const angle = (2 * Math.PI * a) / count;
      values.push(r * Math.cos(angle), r * Math.sin(angle));
    }
  }
  return Float64Array.from(values);
})();

export class BattleSim {
  readonly capacity: number;
  readonly config: SimConfig;

  /** 1 if the slot holds a unit this episode (alive or dead). */
  readonly present: Uint8Array;
  readonly alive: Uint8Array;
  readonly side: Uint8Array;
  readonly kind: Uint8Array;
  readonly flying: Uint8Array;
  readonly radius: Float64Array;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly health: Float64Array;
  readonly shield: Float64Array;
  readonly energy: Float64Array;
  /** Remaining weapon cooldown in game loops (0 = ready). */
  readonly cooldown: Float64Array;
  /** Game loops since the unit last took damage (drives shield regeneration). */
  readonly loopsSinceDamage: Int32Array;
  /** Distance moved per game loop. */
  readonly speedPerLoop: Float64Array;
  readonly order: Uint8Array;
  readonly orderX: Float64Array;
  readonly orderY: Float64Array;
  readonly orderTarget: Int32Array;
  /** Unit currently being attacked / chased / healed (-1 if none); for enemies also the acquired target. */
  readonly engaged: Int32Array;
  /** Last unit that damaged this one (-1 if none). */
  readonly lastAttacker: Int32Array;
  /** Game loop at which the unit was last healed (one Medivac per target per loop). */
  private readonly healClaimLoop: Int32Array;

  /** Game loops simulated since `clear`. */
  loop = 0;

  private readonly moveX: Float64Array;
  private readonly moveY: Float64Array;
  private readonly shotShooter: Int32Array;
  private readonly shotTarget: Int32Array;
  private nShots = 0;
  private readonly healSource: Int32Array;
  private readonly healTarget: Int32Array;
  private readonly healAmount: Float64Array;
  private nHeals = 0;
  private readonly damageScratch = new Float64Array(2);

  constructor(capacity: number, config: Partial<SimConfig> = {}) {
    this.capacity = capacity;
    this.config = { ...DEFAULT_SIM_CONFIG, ...config };
    this.present = new Uint8Array(capacity);
    this.alive = new Uint8Array(capacity);
    this.side = new Uint8Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.flying = new Uint8Array(capacity);
    this.radius = new Float64Array(capacity);
    this.x = new Float64Array(capacity);
    this.y = new Float64Array(capacity);
    this.health = new Float64Array(capacity);
    this.shield = new Float64Array(capacity);
    this.energy = new Float64Array(capacity);
    this.cooldown = new Float64Array(capacity);
    this.loopsSinceDamage = new Int32Array(capacity);
    this.speedPerLoop = new Float64Array(capacity);
    this.order = new Uint8Array(capacity);
    this.orderX = new Float64Array(capacity);
    this.orderY = new Float64Array(capacity);
    this.orderTarget = new Int32Array(capacity);
    this.engaged = new Int32Array(capacity);
    this.lastAttacker = new Int32Array(capacity);
    this.healClaimLoop = new Int32Array(capacity);
    this.moveX = new Float64Array(capacity);
    this.moveY = new Float64Array(capacity);
    this.shotShooter = new Int32Array(capacity);
    this.shotTarget = new Int32Array(capacity);
    this.healSource = new Int32Array(capacity);
    this.healTarget = new Int32Array(capacity);
    this.healAmount = new Float64Array(capacity);
  }

  /** Remove every unit. */
  clear(): void {
    this.present.fill(0);
    this.alive.fill(0);
    this.health.fill(0);
    this.shield.fill(0);
    this.energy.fill(0);
    this.cooldown.fill(0);
    this.order.fill(Order.Idle);
    this.engaged.fill(-1);
    this.orderTarget.fill(-1);
    this.lastAttacker.fill(-1);
    this.healClaimLoop.fill(-1);
    this.loop = 0;
  }

  /** Create a unit of `kind` in `slot` at exactly (x, y), full life/shields, starting energy. */
  addUnit(slot: number, kind: UnitKindId, side: number, x: number, y: number): void {
    const st = UNIT_STATS[kind];
    this.present[slot] = 1;
    this.alive[slot] = 1;
    this.side[slot] = side;
    this.kind[slot] = kind;
    this.flying[slot] = st.flying ? 1 : 0;
    this.radius[slot] = st.radius;
    this.x[slot] = x;
    this.y[slot] = y;
    this.health[slot] = st.healthMax;
    this.shield[slot] = st.shieldMax;
    this.energy[slot] = st.energyStart;
    this.cooldown[slot] = 0;
    this.loopsSinceDamage[slot] = SHIELD_REGEN_DELAY_LOOPS;
    const enemySpeed = this.config.standardEnemyMedivacSpeed ? st.enemySpeed : st.agentSpeed;
    this.speedPerLoop[slot] = (side === Side.Agent ? st.agentSpeed : enemySpeed) / 16;
    this.order[slot] = Order.Idle;
    this.orderTarget[slot] = -1;
    this.engaged[slot] = -1;
    this.lastAttacker[slot] = -1;
    this.healClaimLoop[slot] = -1;
  }

  /**
   * Nearest free spot to (px, py) for a unit of `kind`, avoiding present living units of the same
   * layer (spec §5.1: the engine places units created at one point at the nearest non-overlapping
   * spots; open question §8.4). DESIGN CHOICE: deterministic scan of rings of step 0.2 around the
   * point, nearest ring first, counter-clockwise from +x. Writes the spot into `out`.
   */
  findSpawnSpot(kind: UnitKindId, px: number, py: number, out: Float64Array | number[]): void {
    const st = UNIT_STATS[kind];
    const r = st.radius;
    const size = this.config.mapSize;
    for (let c = 0; c < SPAWN_OFFSETS.length; c += 2) {
      const cx = px + SPAWN_OFFSETS[c];
      const cy = py + SPAWN_OFFSETS[c + 1];
      if (cx < r || cy < r || cx > size - r || cy > size - r) continue;
      let free = true;
      for (let v = 0; v < this.capacity; v++) {
        if (this.present[v] === 0 || this.alive[v] === 0) continue;
        if ((this.flying[v] === 1) !== st.flying) continue;
        const dx = this.x[v] - cx;
        const dy = this.y[v] - cy;
        const minD = r + this.radius[v];
        if (dx * dx + dy * dy < minD * minD - EPS) {
          free = false;
          break;
        }
      }
      if (free) {
        out[0] = cx;
        out[1] = cy;
        return;
      }
    }
    out[0] = px;
    out[1] = py;
  }

  // ---------------------------------------------------------------- orders (spec §3.10, §5.2)

  orderStop(u: number): void {
    this.order[u] = Order.Idle;
    this.orderTarget[u] = -1;
    this.engaged[u] = -1;
  }

  orderMove(u: number, x: number, y: number): void {
    this.order[u] = Order.Move;
    this.orderX[u] = x;
    this.orderY[u] = y;
    this.orderTarget[u] = -1;
    this.engaged[u] = -1;
  }

  /** Enemy attack-move (spec §3.9 "attack" order). */
  orderAttackMove(u: number, x: number, y: number): void {
    this.order[u] = Order.AttackMove;
    this.orderX[u] = x;
    this.orderY[u] = y;
    this.orderTarget[u] = -1;
  }

  /**
   * Attack unit `t`. Returns false when the game would reject the order (no weapon, or the weapon
   * cannot hit `t`'s layer, e.g. Marauder or Zealot -> Medivac, which the availability mask still
   * offers, spec §3.10). What happens then is `SimConfig.rejectedOrder` (default: the previous
   * order keeps running, spec §8.5).
   */
  orderAttack(u: number, t: number): boolean {
    if (this.alive[t] === 0 || !canTarget(UNIT_STATS[this.kind[u]].weapon, this.flying[t] === 1)) {
      return this.reject(u);
    }
    this.order[u] = Order.Attack;
    this.orderTarget[u] = t;
    this.engaged[u] = t;
    return true;
  }

  /**
   * Medivac heal of unit `t` (must be a living biological ground unit). Returns false when
   * rejected; see `SimConfig.rejectHealOnFullLife`.
   */
  orderHeal(u: number, t: number): boolean {
    if (!this.canHeal(u, t)) return this.reject(u);
    if (this.config.rejectHealOnFullLife && this.health[t] >= UNIT_STATS[this.kind[t]].healthMax) {
      return this.reject(u);
    }
    this.order[u] = Order.Heal;
    this.orderTarget[u] = t;
    this.engaged[u] = t;
    return true;
  }

  /** Apply `SimConfig.rejectedOrder` to a rejected order; always returns false. */
  private reject(u: number): false {
    if (this.config.rejectedOrder === "stop") this.orderStop(u);
    return false;
  }

  private canHeal(u: number, t: number): boolean {
    if (UNIT_STATS[this.kind[u]].heal === null) return false;
    if (u === t || this.alive[t] === 0 || this.flying[t] === 1) return false;
    return (UNIT_STATS[this.kind[t]].attributes & Attr.Biological) !== 0;
  }

  // ---------------------------------------------------------------- geometry

  centerDistance(u: number, v: number): number {
    const dx = this.x[v] - this.x[u];
    const dy = this.y[v] - this.y[u];
    return Math.sqrt(dx * dx + dy * dy);
  }

  /** Edge-to-edge distance: center distance minus both radii (spec §5.2). */
  edgeDistance(u: number, v: number): number {
    return this.centerDistance(u, v) - this.radius[u] - this.radius[v];
  }

  // ---------------------------------------------------------------- simulation

  /** Simulate `loops` game loops. */
  advance(loops: number): void {
    for (let l = 0; l < loops; l++) this.stepLoop();
  }

  /** Simulate one game loop (see the file comment for the phase order). */
  stepLoop(): void {
    this.loop++;
    this.nShots = 0;
    this.nHeals = 0;
    const cap = this.capacity;
    for (let u = 0; u < cap; u++) {
      if (this.alive[u] === 0) continue;
      this.moveX[u] = 0;
      this.moveY[u] = 0;
      const st = UNIT_STATS[this.kind[u]];
      this.tickTimers(u, st);
      if (this.side[u] === Side.Agent) this.agentBehaviour(u, st);
      else this.enemyBehaviour(u, st);
    }
    for (let u = 0; u < cap; u++) {
      if (this.alive[u] === 0) continue;
      this.x[u] += this.moveX[u];
      this.y[u] += this.moveY[u];
    }
    this.separate();
    this.applyEvents();
  }

  /** Cooldown, shield regeneration (spec §5.4: after 10 s without damage, 2/s) and energy. */
  private tickTimers(u: number, st: UnitStats): void {
    if (this.cooldown[u] > 0) {
      const c = this.cooldown[u] - 1;
      this.cooldown[u] = Math.max(c, 0);
    }
    if (st.shieldMax > 0) {
      const since = this.loopsSinceDamage[u] + 1;
      this.loopsSinceDamage[u] = since;
      if (since >= SHIELD_REGEN_DELAY_LOOPS && this.shield[u] < st.shieldMax) {
        const s = this.shield[u] + SHIELD_REGEN_PER_LOOP;
        this.shield[u] = Math.min(s, st.shieldMax);
      }
    }
    if (st.energyMax > 0 && this.energy[u] < st.energyMax) {
      const e = this.energy[u] + st.energyRegenPerLoop;
      this.energy[u] = Math.min(e, st.energyMax);
    }
  }

  /** Agents are passive (spec §4.2): they only execute their latest order. */
  private agentBehaviour(u: number, st: UnitStats): void {
    switch (this.order[u]) {
      case Order.Move:
        if (this.moveToward(u, this.orderX[u], this.orderY[u], 0)) this.order[u] = Order.Idle;
        return;
      case Order.Attack: {
        const t = this.orderTarget[u];
        if (this.alive[t] === 0) {
          this.orderStop(u);
          return;
        }
        this.attackUnit(u, t, st);
        return;
      }
      case Order.Heal: {
        const t = this.orderTarget[u];
        if (this.alive[t] === 0 || this.health[t] >= UNIT_STATS[this.kind[t]].healthMax) {
          this.orderStop(u); // target dead or healed up: the heal order completes
          return;
        }
        this.healUnit(u, t, st);
        return;
      }
      default:
        this.engaged[u] = -1;
    }
  }

  /**
   * Enemy behaviour (spec §5.3): retreat = move ignoring agents; attack-move = walk to the base
   * and fight every agent within sight range on the way; idle = fight agents within
   * `idleAcquireRange` or (optionally) whoever shoots at it. Enemy Medivacs heal damaged
   * biological friends instead of attacking.
   */
  private enemyBehaviour(u: number, st: UnitStats): void {
    const order = this.order[u];
    if (order === Order.Move) {
      this.engaged[u] = -1;
      if (this.moveToward(u, this.orderX[u], this.orderY[u], this.config.retreatArrivalRadius)) {
        this.order[u] = Order.Idle;
      }
      return;
    }
    const attackMoving = order === Order.AttackMove;
    const acquireRange = attackMoving ? st.sight : this.config.idleAcquireRange;
    if (st.weapon === null) {
      if (st.heal !== null) {
        const t = this.chooseHealTarget(u, acquireRange);
        if (t >= 0) {
          this.engaged[u] = t;
          this.healUnit(u, t, st);
          return;
        }
      }
      this.engaged[u] = -1;
      if (attackMoving) this.moveToward(u, this.orderX[u], this.orderY[u], 0);
      return;
    }
    const t = this.chooseAttackTarget(u, st, acquireRange, !attackMoving);
    if (t >= 0) {
      this.attackUnit(u, t, st);
      return;
    }
    this.engaged[u] = -1;
    if (attackMoving) this.moveToward(u, this.orderX[u], this.orderY[u], 0);
  }

  /**
   * Target choice of an auto-acquiring enemy (spec §5.3; open question §8.3). DESIGN CHOICE:
   * keep the current target while it is in weapon range; otherwise prefer, among opponents within
   * `acquireRange` (edge distance) that the weapon can hit, those that can attack (priority) and
   * then the nearest (ties: lowest slot); switch to it if it is in weapon range; otherwise keep
   * chasing the current target while it stays within sight; otherwise take the preferred one;
   * finally (idle only) retaliate against the last attacker if it is within sight.
   */
  private chooseAttackTarget(
    u: number,
    st: UnitStats,
    acquireRange: number,
    retaliate: boolean,
  ): number {
    const weapon = st.weapon!;
    const current = this.engaged[u];
    let currentEdge = Infinity;
    if (
      current >= 0 &&
      this.alive[current] === 1 &&
      this.side[current] !== this.side[u] &&
      canTarget(weapon, this.flying[current] === 1)
    ) {
      currentEdge = this.edgeDistance(u, current);
      if (currentEdge <= weapon.range + EPS) return current;
    }
    let best = -1;
    let bestPriority = -1;
    let bestEdge = Infinity;
    for (let v = 0; v < this.capacity; v++) {
      if (this.alive[v] === 0 || this.side[v] === this.side[u]) continue;
      if (!canTarget(weapon, this.flying[v] === 1)) continue;
      const e = this.edgeDistance(u, v);
      if (e > acquireRange) continue;
      const priority = UNIT_STATS[this.kind[v]].weapon !== null ? 1 : 0;
      if (priority > bestPriority || (priority === bestPriority && e < bestEdge)) {
        best = v;
        bestPriority = priority;
        bestEdge = e;
      }
    }
    if (best >= 0 && bestEdge <= weapon.range + EPS) return best;
    if (currentEdge <= st.sight) return current;
    if (best >= 0) return best;
    if (retaliate && this.config.idleRetaliation) {
      const a = this.lastAttacker[u];
      if (
        a >= 0 &&
        this.alive[a] === 1 &&
        canTarget(weapon, this.flying[a] === 1) &&
        this.edgeDistance(u, a) <= st.sight
      ) {
        return a;
      }
    }
    return -1;
  }

  /** Enemy Medivac: keep healing the current damaged friend, else the nearest damaged one in range. */
  private chooseHealTarget(u: number, acquireRange: number): number {
    const current = this.engaged[u];
    if (
      current >= 0 &&
      this.canHeal(u, current) &&
      this.side[current] === this.side[u] &&
      this.health[current] < UNIT_STATS[this.kind[current]].healthMax &&
      this.edgeDistance(u, current) <= UNIT_STATS[this.kind[u]].sight
    ) {
      return current;
    }
    let best = -1;
    let bestEdge = Infinity;
    for (let v = 0; v < this.capacity; v++) {
      if (this.alive[v] === 0 || this.side[v] !== this.side[u]) continue;
      if (!this.canHeal(u, v)) continue;
      if (this.health[v] >= UNIT_STATS[this.kind[v]].healthMax) continue;
      if (this.healClaimLoop[v] === this.loop) continue; // another Medivac heals it this loop
      const e = this.edgeDistance(u, v);
      if (e <= acquireRange && e < bestEdge) {
        best = v;
        bestEdge = e;
      }
    }
    return best;
  }

  /** Walk toward `t` until within weapon range (edge-to-edge), then fire when the weapon is ready. */
  private attackUnit(u: number, t: number, st: UnitStats): void {
    const weapon = st.weapon!;
    this.engaged[u] = t;
    const edge = this.edgeDistance(u, t);
    if (edge > weapon.range + EPS) {
      this.moveToward(u, this.x[t], this.y[t], weapon.range + this.radius[u] + this.radius[t]);
      return;
    }
    if (this.cooldown[u] <= 0) {
      this.shotShooter[this.nShots] = u;
      this.shotTarget[this.nShots] = t;
      this.nShots++;
      this.cooldown[u] = weapon.periodLoops;
    }
  }

  /**
   * Fly to within heal range (edge-to-edge) of `t`, then heal `hpPerLoop` per loop while energy
   * lasts. One Medivac per target per loop (paper; open question §8.11). DESIGN CHOICE: the first
   * Medivac in slot order claims the target; a second one waits in range without healing.
   */
  private healUnit(u: number, t: number, st: UnitStats): void {
    const heal = st.heal!;
    const edge = this.edgeDistance(u, t);
    if (edge > heal.range + EPS) {
      this.moveToward(u, this.x[t], this.y[t], heal.range + this.radius[u] + this.radius[t]);
      return;
    }
    if (this.healClaimLoop[t] === this.loop) return;
    const missing = UNIT_STATS[this.kind[t]].healthMax - this.health[t];
    const amount = Math.min(missing, heal.hpPerLoop);
    if (amount <= 0 || this.energy[u] < amount * heal.energyPerHp) return;
    this.healClaimLoop[t] = this.loop;
    this.healSource[this.nHeals] = u;
    this.healTarget[this.nHeals] = t;
    this.healAmount[this.nHeals] = amount;
    this.nHeals++;
  }

  /**
   * Set this loop's displacement toward (tx, ty), stopping `stopDistance` short. Returns true if
   * the unit already is within `stopDistance` (arrived; no displacement).
   */
  private moveToward(u: number, tx: number, ty: number, stopDistance: number): boolean {
    const dx = tx - this.x[u];
    const dy = ty - this.y[u];
    const d = Math.sqrt(dx * dx + dy * dy);
    if (d <= stopDistance + EPS) return true;
    const speed = this.speedPerLoop[u];
    const remaining = d - stopDistance;
    const stepLength = Math.min(remaining, speed);
    this.moveX[u] = (dx / d) * stepLength;
    this.moveY[u] = (dy / d) * stepLength;
    return false;
  }

  /**
   * Radius-based separation (spec §5.1): every overlapping pair of living units of the same layer
   * is pushed apart symmetrically by the overlap (one Gauss-Seidel pass per loop), then units are
   * clamped to the map. Coincident centres are split along a direction derived from the slots.
   */
  private separate(): void {
    const cap = this.capacity;
    for (let i = 0; i < cap; i++) {
      if (this.alive[i] === 0) continue;
      for (let j = i + 1; j < cap; j++) {
        if (this.alive[j] === 0 || this.flying[i] !== this.flying[j]) continue;
        let dx = this.x[j] - this.x[i];
        let dy = this.y[j] - this.y[i];
        const minD = this.radius[i] + this.radius[j];
        const d2 = dx * dx + dy * dy;
        if (d2 >= minD * minD) continue;
        let d = Math.sqrt(d2);
        if (d < EPS) {
          const angle = (((i * 31 + j * 17) % 64) * Math.PI) / 32;
          dx = Math.cos(angle);
          dy = Math.sin(angle);
          d = 0;
        } else {
          dx /= d;
          dy /= d;
        }
        const push = (minD - d) / 2;
        this.x[i] -= dx * push;
        this.y[i] -= dy * push;
        this.x[j] += dx * push;
        this.y[j] += dy * push;
      }
    }
    const size = this.config.mapSize;
    for (let u = 0; u < cap; u++) {
      if (this.alive[u] === 0) continue;
      const r = this.radius[u];
      if (this.x[u] < r) this.x[u] = r;
      else if (this.x[u] > size - r) this.x[u] = size - r;
      if (this.y[u] < r) this.y[u] = r;
      else if (this.y[u] > size - r) this.y[u] = size - r;
    }
  }

  /**
   * Apply this loop's attacks (all simultaneous, DESIGN CHOICE: hits are instantaneous, projectile
   * travel time is not modelled), then heals, then remove units with life <= 0 (spec §5.4).
   */
  private applyEvents(): void {
    const out = this.damageScratch;
    for (let s = 0; s < this.nShots; s++) {
      const shooter = this.shotShooter[s];
      const t = this.shotTarget[s];
      if (this.health[t] <= 0) continue; // already destroyed earlier this loop
      const weapon = UNIT_STATS[this.kind[shooter]].weapon!;
      const target = UNIT_STATS[this.kind[t]];
      const amount = weaponHitAmount(weapon, target.attributes);
      for (let h = 0; h < weapon.hits; h++) {
        hitDamage(amount, this.shield[t], target.armor, out);
        this.shield[t] -= out[0];
        this.health[t] -= out[1];
      }
      this.loopsSinceDamage[t] = 0;
      this.lastAttacker[t] = shooter;
    }
    for (let h = 0; h < this.nHeals; h++) {
      const t = this.healTarget[h];
      if (this.health[t] <= 0) continue;
      const u = this.healSource[h];
      const max = UNIT_STATS[this.kind[t]].healthMax;
      const healed = Math.min(this.healAmount[h], max - this.health[t]);
      if (healed <= 0) continue;
      this.health[t] += healed;
      this.energy[u] -= healed * UNIT_STATS[this.kind[u]].heal!.energyPerHp;
    }
    for (let u = 0; u < this.capacity; u++) {
      if (this.alive[u] === 1 && this.health[u] <= 0) {
        this.alive[u] = 0;
        this.health[u] = 0;
        this.shield[u] = 0;
        this.energy[u] = 0;
        this.cooldown[u] = 0;
        this.order[u] = Order.Idle;
        this.orderTarget[u] = -1;
        this.engaged[u] = -1;
      }
    }
  }
}
