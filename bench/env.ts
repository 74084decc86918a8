/**
 * Environment throughput: step random available actions and, every step, build the entities, the
 * masks and the available actions into caller-owned buffers, as a training runner does when it
 * records an episode. Resets count as part of the run.
 */

import { makeEnv } from "../src/envs/registry.js";
import { Rng } from "../src/envs/rng.js";
import { allocMasks } from "../src/envs/types.js";

export interface EnvBenchOptions {
  env: string;
  scenario?: string;
  steps?: number;
  seed?: number;
}

export interface EnvBenchResult {
  env: string;
  scenario: string;
  steps: number;
  seconds: number;
  stepsPerSec: number;
}

export function benchEnv(options: EnvBenchOptions): EnvBenchResult {
  const steps = options.steps ?? 1_000_000;
  const env = makeEnv(options.env, { scenario: options.scenario, seed: options.seed ?? 0 });
  const { nAgents: na, nActions: A, nEntities: ne, entityShape: de } = env.info;
  const rng = new Rng((options.seed ?? 0) + 1);
  const entities = new Float32Array(ne * de);
  const masks = allocMasks(env.info);
  const avail = new Int32Array(na * A);
  const actions = new Int32Array(na);

  const run = (n: number) => {
    env.reset();
    env.getMasks(masks);
    env.getEntities(entities);
    env.getAvailActions(avail);
    for (let t = 0; t < n; t++) {
      // Uniform over available actions by rejection: cheaper than counting when several are open.
      for (let i = 0; i < na; i++) {
        const row = i * A;
        let a = rng.int(A);
        while (avail[row + a] === 0) a = rng.int(A);
        actions[i] = a;
      }
      if (env.step(actions).terminated) env.reset();
      env.getAvailActions(avail);
      env.getMasks(masks);
      env.getEntities(entities);
    }
  };

  run(Math.min(steps, 20_000)); // warm-up: let V8 optimise the hot paths
  const start = process.hrtime.bigint();
  run(steps);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { env: env.name, scenario: env.scenario, steps, seconds, stepsPerSec: steps / seconds };
}
