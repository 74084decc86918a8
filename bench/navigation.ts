/**
 * Learning-speed probe: how many low-level updates the real learner needs before each agent walks
 * to its *own* allocated target (`examples/grid-targets.ts`, SaveTheCity's "walk to the allocated
 * building" at its smallest). Not part of `npm run bench`: at the paper's network sizes one probe
 * takes 10–40 minutes.
 *
 * The loop is the learning tests' (`trainTiny`): 8 environments, 8 episodes per collection, then
 * 4 updates on 16 sampled windows; ε falls from 1 to 0.05 over `--anneal` collections. Every
 * `--every` collections it prints (stderr) and records the greedy success over 32 episodes and the
 * share of greedy steps that move an agent towards its target. The last stdout line is JSON:
 * `{"bench": "navigation", "options", "curve": [{updates, success, towards, seconds}], "firstUpdatesAbove": {...}}`.
 *
 *   node dist/bench/navigation.js --width 8 --height 8 --iterations 800 \
 *     [--seed N] [--paper-networks] [--set learner.targetUpdateInterval=40 ...]
 *
 * Without `--paper-networks` the tests' small networks and 10x learning rate are used; `--set`s
 * apply after either.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { GridTargets } from "../examples/grid-targets.js";
import { parseIntFlag } from "../src/cli/options.js";
import { type GreedyNavigation, greedyNavigation, trainTiny } from "../test/learners/helpers.js";

export interface NavigationProbeOptions {
  width: number;
  height: number;
  /** Episode step limit (default 2 × (width + height)). */
  limit?: number;
  iterations: number;
  /** Collections over which ε falls to 0.05 (default 60). */
  anneal?: number;
  /** Measure the greedy policy every this many collections (default 50). */
  every?: number;
  paperNetworks?: boolean;
  /** Seed of the learner, runner and sampling (`trainTiny`'s); the environments use 100 + 8·(seed − 1) + k (default 1). */
  seed?: number;
  sets?: string[];
  log?: (msg: string) => void;
}

export interface NavigationPoint extends GreedyNavigation {
  updates: number;
  seconds: number;
}

export async function probeNavigation(o: NavigationProbeOptions): Promise<NavigationPoint[]> {
  const limit = o.limit ?? 2 * (o.width + o.height);
  const seed = o.seed ?? 1;
  const envs = Array.from(
    { length: 8 },
    (_, k) =>
      new GridTargets(100 + 8 * (seed - 1) + k, {
        width: o.width,
        height: o.height,
        limit,
      }),
  );
  const every = o.every ?? 50;
  const curve: NavigationPoint[] = [];
  const t0 = Date.now();
  const { learner } = await trainTiny({
    method: "heuristic",
    envs,
    iterations: o.iterations,
    annealIterations: o.anneal ?? 60,
    bufferCapacity: 2000,
    maxTrajLen: limit + 1,
    smallNetworks: !o.paperNetworks,
    seed,
    sets: o.sets,
    onIteration: async ({ iteration, updates, runner }) => {
      if ((iteration + 1) % every !== 0) return;
      const point = {
        updates,
        ...(await greedyNavigation(envs, runner)),
        seconds: (Date.now() - t0) / 1000,
      };
      curve.push(point);
      o.log?.(
        `updates ${updates}: greedy success ${point.success.toFixed(2)}, towards ${point.towards.toFixed(2)} (${point.seconds.toFixed(0)} s)`,
      );
    },
  });
  learner.dispose();
  return curve;
}

/** The first measured update count at which greedy success exceeds each threshold (null: never). */
export function firstUpdatesAbove(
  curve: readonly NavigationPoint[],
  thresholds: readonly number[] = [0.1, 0.5, 0.9],
): Record<string, number | null> {
  return Object.fromEntries(
    thresholds.map((t) => [String(t), curve.find((p) => p.success > t)?.updates ?? null]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      width: { type: "string", default: "8" },
      height: { type: "string", default: "8" },
      limit: { type: "string" },
      iterations: { type: "string", default: "800" },
      anneal: { type: "string" },
      every: { type: "string" },
      seed: { type: "string" },
      "paper-networks": { type: "boolean", default: false },
      set: { type: "string", multiple: true, default: [] },
    },
  });
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    try {
      return parseIntFlag(1)(v);
    } catch (err) {
      throw new Error(`--${name}: ${(err as Error).message}`);
    }
  };
  const options: NavigationProbeOptions = {
    width: int("width", values.width) ?? 8,
    height: int("height", values.height) ?? 8,
    limit: int("limit", values.limit),
    iterations: int("iterations", values.iterations) ?? 800,
    anneal: int("anneal", values.anneal),
    every: int("every", values.every),
    seed: int("seed", values.seed),
    paperNetworks: values["paper-networks"],
    sets: values.set,
  };
  const curve = await probeNavigation({ ...options, log: (m) => console.error(m) });
  console.log(
    JSON.stringify({
      bench: "navigation",
      options,
      curve,
      firstUpdatesAbove: firstUpdatesAbove(curve),
    }),
  );
}
