/** Copying an environment's current observation into caller-owned buffers. */
import type { CompositeEnv, EnvMasks } from "./types.js";

/** Destination views for one observation (one row of an episode record or acting batch). */
export interface ObservationViews {
  entities: Float32Array;
  availActions: Int32Array;
  masks: EnvMasks;
}

/**
 * Fill `out` from the environment's getters. Getters write into the given buffers when they honour
 * `out` (all built-in environments do); otherwise their result is copied.
 */
export function observeInto(env: CompositeEnv, out: ObservationViews): void {
  const e = env.getEntities(out.entities);
  if (e !== out.entities) out.entities.set(e);
  const av = env.getAvailActions(out.availActions);
  if (av !== out.availActions) out.availActions.set(av);
  const m = env.getMasks(out.masks);
  if (m !== out.masks) {
    out.masks.obsMask.set(m.obsMask);
    out.masks.entityMask.set(m.entityMask);
    out.masks.entity2taskMask.set(m.entity2taskMask);
    out.masks.taskMask.set(m.taskMask);
  }
}
