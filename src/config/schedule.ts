/**
 * Exploration schedules read from the configuration (spec §5, §8.5). Pure functions of `t_env`;
 * callers evaluate them at the `t_env` value current at the start of a collection run (§8.5,
 * checklist §19.22).
 */
import { type AlmaConfig, parseScheduleString } from "./schema.js";

/** A parsed `"start-finish-fraction"` schedule (§8.5). */
export interface DecaySchedule {
  readonly start: number;
  readonly finish: number;
  /** Env step at which `finish` is reached: `int(fraction · t_max)`. */
  readonly endT: number;
}

/**
 * Parse a schedule string against the run length. `""` (allowed for `prop_alloc_eps`) returns
 * null, meaning the mechanism is disabled (ε = 0).
 */
export function parseSchedule(s: string, tMax: number): DecaySchedule | null {
  if (s === "") return null;
  const p = parseScheduleString(s);
  if (!p) throw new RangeError(`bad schedule string "${s}": expected "start-finish-fraction"`);
  return { start: p.start, finish: p.finish, endT: Math.trunc(p.fraction * tMax) };
}

/**
 * `ε(t) = max(finish, start − (start − finish)·t / endT)` (§8.5). A zero-length schedule is at
 * `finish` from the start. A null schedule (disabled) is 0.
 */
export function scheduleValue(s: DecaySchedule | null, tEnv: number): number {
  if (s === null) return 0;
  if (s.endT <= 0) return s.finish;
  return Math.max(s.finish, s.start - ((s.start - s.finish) * tEnv) / s.endT);
}

/** Low-level ε (§5 step 1): linear from `epsilonStart` to `epsilonFinish` over `epsilonAnnealTime`. */
export function epsilonAt(config: AlmaConfig, tEnv: number): number {
  const { epsilonStart: a, epsilonFinish: b, epsilonAnnealTime: T } = config.exploration;
  return Math.max(b, a - ((a - b) * tEnv) / T);
}

/**
 * The configuration of a run lengthened to `newTMax` env steps (`alma resume --steps`), with every
 * schedule unchanged in env steps: ε anneals over `epsilonAnnealTime` steps, which stays; the
 * allocation schedules are fractions of t_max (§8.5), so their fractions are rescaled to end at
 * the same step as before.
 */
export function withRunLength(config: AlmaConfig, newTMax: number): AlmaConfig {
  const rescale = (s: string): string => {
    const old = parseSchedule(s, config.run.tMax);
    if (old === null) return s;
    const p = parseScheduleString(s)!;
    // +0.5 keeps int(fraction · t_max) at endT despite floating-point rounding.
    const fraction = old.endT === 0 ? 0 : (old.endT + 0.5) / newTMax;
    const out = `${p.start}-${p.finish}-${fraction}`;
    if (parseSchedule(out, newTMax)?.endT !== old.endT)
      throw new Error(`cannot rescale schedule "${s}" to t_max ${newTMax}`);
    return out;
  };
  return {
    ...config,
    run: { ...config.run, tMax: newTMax },
    hierAgent: {
      ...config.hierAgent,
      allocEps: rescale(config.hierAgent.allocEps),
      propAllocEps: rescale(config.hierAgent.propAllocEps),
    },
  };
}

/** Per-agent random reassignment probability ε_r (§8.4, `hier_agent.alloc_eps`). */
export function allocEpsAt(config: AlmaConfig, tEnv: number): number {
  return scheduleValue(parseSchedule(config.hierAgent.allocEps, config.run.tMax), tEnv);
}

/** Use-a-raw-proposal probability ε_p (§8.4, `hier_agent.prop_alloc_eps`; 0 when ""). */
export function propAllocEpsAt(config: AlmaConfig, tEnv: number): number {
  return scheduleValue(parseSchedule(config.hierAgent.propAllocEps, config.run.tMax), tEnv);
}
