/**
 * Environment conformance suite: the contract of `CompositeEnv` (types.ts, spec environments.md
 * §1, algorithm.md §2) checked as properties over random seeds and random available actions, in
 * the spirit of PettingZoo's api_test / seed_test. Run any environment through it, ours or yours:
 *
 *   await checkConformance((seed) => new MyTask({ seed }), { numRuns: 20 });
 *
 * Every violation throws a `ConformanceError` naming the check, the seed and the step.
 */
import fc from "fast-check";
import { Rng } from "./rng.js";
import {
  AVAIL_ALLY_BASE,
  AVAIL_FREE,
  AVAIL_TASK_BASE,
  allocMasks,
  type CompositeEnv,
  type EnvInfo,
  type EnvMasks,
  InvalidActionError,
} from "./types.js";

export class ConformanceError extends Error {
  constructor(
    readonly check: string,
    detail: string,
  ) {
    super(`[${check}] ${detail}`);
    this.name = "ConformanceError";
  }
}

export interface ConformanceOptions {
  /** Random (env seed, action seed) pairs tried (default 20). */
  numRuns?: number;
  /** Steps per run across consecutive episodes (default 400). */
  steps?: number;
  /** Seed of fast-check's own generator, for a reproducible suite (default 1). */
  seed?: number;
}

export interface ConformanceReport {
  runs: number;
  steps: number;
  episodes: number;
}

/** One observation: copies of everything the getters return. */
interface Snapshot {
  entities: Float32Array;
  avail: Int32Array;
  masks: EnvMasks;
}

function snapshot(env: CompositeEnv): Snapshot {
  const masks = env.getMasks();
  return {
    entities: env.getEntities().slice(),
    avail: env.getAvailActions().slice(),
    masks: {
      obsMask: masks.obsMask.slice(),
      entityMask: masks.entityMask.slice(),
      entity2taskMask: masks.entity2taskMask.slice(),
      taskMask: masks.taskMask.slice(),
    },
  };
}

function fail(check: string, detail: string): never {
  throw new ConformanceError(check, detail);
}

function expect(cond: boolean, check: string, detail: () => string): void {
  if (!cond) fail(check, detail());
}

function equalArrays(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function checkInfo(info: EnvInfo): void {
  for (const key of [
    "entityShape",
    "nActions",
    "nAgents",
    "nEntities",
    "nTasks",
    "episodeLimit",
  ] as const) {
    expect(
      Number.isInteger(info[key]) && info[key] >= 1,
      "env-info",
      () => `${key} must be a positive integer, got ${info[key]}`,
    );
  }
  expect(info.nEntities >= info.nAgents, "env-info", () => "nEntities must be >= nAgents");
}

/** Shapes and dtypes of one observation. */
function checkShapes(env: CompositeEnv, s: Snapshot, where: string): void {
  const { nEntities: ne, nAgents: na, nTasks: nt, entityShape: de, nActions: A } = env.info;
  const check = (ok: boolean, what: string) => expect(ok, "shapes", () => `${where}: ${what}`);
  check(
    s.entities instanceof Float32Array && s.entities.length === ne * de,
    `entities must be Float32Array(${ne}x${de})`,
  );
  check(
    s.avail instanceof Int32Array && s.avail.length === na * A,
    `availActions must be Int32Array(${na}x${A})`,
  );
  check(
    s.masks.obsMask instanceof Uint8Array && s.masks.obsMask.length === ne * ne,
    `obsMask must be Uint8Array(${ne}x${ne})`,
  );
  check(
    s.masks.entityMask instanceof Uint8Array && s.masks.entityMask.length === ne,
    `entityMask must be Uint8Array(${ne})`,
  );
  check(
    s.masks.entity2taskMask instanceof Uint8Array && s.masks.entity2taskMask.length === ne * nt,
    `entity2taskMask must be Uint8Array(${ne}x${nt})`,
  );
  check(
    s.masks.taskMask instanceof Uint8Array && s.masks.taskMask.length === nt,
    `taskMask must be Uint8Array(${nt})`,
  );
  for (let i = 0; i < s.entities.length; i++)
    check(Number.isFinite(s.entities[i]), `entities[${i}] is not finite`);
  for (const [name, m] of Object.entries(s.masks)) {
    for (let i = 0; i < m.length; i++)
      check(m[i] === 0 || m[i] === 1, `${name}[${i}] = ${m[i]} is not 0/1`);
  }
}

/**
 * Mask and availability consistency. `padEntity` / `padTask` mark slots that were padding at reset
 * (they must stay padding all episode).
 */
function checkConsistency(
  env: CompositeEnv,
  s: Snapshot,
  padEntity: Uint8Array,
  padTask: Uint8Array,
  where: string,
): void {
  const { nEntities: ne, nAgents: na, nTasks: nt, entityShape: de, nActions: A } = env.info;
  const { obsMask, entityMask, entity2taskMask, taskMask } = s.masks;
  const check = (ok: boolean, name: string, what: () => string) =>
    expect(ok, name, () => `${where}: ${what()}`);
  for (let e = 0; e < ne; e++) {
    if (padEntity[e]) {
      check(entityMask[e] === 1, "padding", () => `padded entity ${e} has entityMask 0`);
      for (let f = 0; f < de; f++)
        check(
          s.entities[e * de + f] === 0,
          "padding",
          () => `padded entity row ${e} is not all zeros (feature ${f})`,
        );
      for (let k = 0; k < nt; k++)
        check(
          entity2taskMask[e * nt + k] === 1,
          "padding",
          () => `padded entity ${e} belongs to subtask ${k}`,
        );
    }
    if (entityMask[e]) {
      for (let j = 0; j < ne; j++) {
        check(
          obsMask[e * ne + j] === 1,
          "masks",
          () => `inactive entity ${e} observes entity ${j}`,
        );
        check(
          obsMask[j * ne + e] === 1,
          "masks",
          () => `entity ${j} observes inactive entity ${e}`,
        );
      }
    }
    let memberships = 0;
    for (let k = 0; k < nt; k++) if (entity2taskMask[e * nt + k] === 0) memberships++;
    check(
      memberships <= 1,
      "masks",
      () => `entity ${e} belongs to ${memberships} subtasks (at most 1)`,
    );
  }
  for (let k = 0; k < nt; k++) {
    if (padTask[k]) {
      check(taskMask[k] === 1, "padding", () => `padded subtask ${k} has taskMask 0`);
      for (let e = 0; e < ne; e++)
        check(
          entity2taskMask[e * nt + k] === 1,
          "padding",
          () => `entity ${e} belongs to padded subtask ${k}`,
        );
    }
  }
  for (let i = 0; i < na; i++) {
    const row = s.avail.subarray(i * A, (i + 1) * A);
    if (padEntity[i]) {
      check(
        row[0] === AVAIL_FREE && row.every((v, a) => a === 0 || v === 0),
        "avail",
        () => `padded agent ${i} must have only action 0 available, got [${row}]`,
      );
      continue;
    }
    check(
      row.some((v) => v !== 0),
      "avail",
      () => `live agent ${i} has no available action`,
    );
    for (let a = 0; a < A; a++) {
      const v = row[a];
      if (v === 0 || v === AVAIL_FREE) continue;
      if (v >= AVAIL_ALLY_BASE) {
        const j = v - AVAIL_ALLY_BASE;
        check(
          j < na && !padEntity[j] && entityMask[j] === 0,
          "avail",
          () => `agent ${i} action ${a} targets ally ${j}, which is not a live agent`,
        );
      } else {
        const k = v - AVAIL_TASK_BASE;
        check(
          k >= 0 && k < nt && !padTask[k],
          "avail",
          () => `agent ${i} action ${a} has code ${v}: subtask ${k} is not a real subtask`,
        );
      }
    }
  }
}

function sampleAvailable(avail: Int32Array, agent: number, nActions: number, rng: Rng): number {
  let count = 0;
  for (let a = 0; a < nActions; a++) if (avail[agent * nActions + a] !== 0) count++;
  let pick = rng.int(count);
  for (let a = 0; a < nActions; a++)
    if (avail[agent * nActions + a] !== 0 && pick-- === 0) return a;
  return 0;
}

interface Trace {
  observations: Snapshot[];
  rewards: number[];
  taskRewards: number[][];
  terminations: boolean[];
}

/**
 * Play `steps` steps across consecutive episodes with random available actions drawn from
 * `actionSeed`, checking every invariant at every step. Returns the trace (for seed checks).
 */
function rollout(
  makeEnv: (seed: number) => CompositeEnv,
  envSeed: number,
  actionSeed: number,
  steps: number,
): Trace & { episodes: number } {
  const env = makeEnv(envSeed);
  const info = env.info;
  checkInfo(info);
  const { nAgents: na, nTasks: nt, nActions: A, nEntities: ne } = info;
  const rng = new Rng(actionSeed);
  const actions = new Int32Array(na);
  const trace: Trace & { episodes: number } = {
    observations: [],
    rewards: [],
    taskRewards: [],
    terminations: [],
    episodes: 0,
  };
  const outMasks = allocMasks(info);
  const outEntities = new Float32Array(ne * info.entityShape);
  const outAvail = new Int32Array(na * A);
  const outAlloc = new Int32Array(na);
  let padEntity = new Uint8Array(ne);
  let padTask = new Uint8Array(nt);
  let needReset = true;
  let epStep = 0;
  let prev: Snapshot | null = null;
  for (let t = 0; t < steps; t++) {
    const where = `env seed ${envSeed}, action seed ${actionSeed}, step ${t} (episode ${trace.episodes}, t=${epStep})`;
    if (needReset) {
      env.reset();
      trace.episodes++;
      epStep = 0;
      needReset = false;
      prev = null;
    }
    const s = snapshot(env);
    if (prev === null) {
      // Padding is what is masked at reset; it must stay padding all episode.
      padEntity = s.masks.entityMask.slice();
      padTask = s.masks.taskMask.slice();
      for (let i = 0; i < na; i++) {
        expect(
          (padEntity[i] === 0) === i < env.nActiveAgents,
          "padding",
          () =>
            `${where}: agent slots must be real for i < nActiveAgents (${env.nActiveAgents}) and padding after`,
        );
      }
      let realTasks = 0;
      for (let k = 0; k < nt; k++) realTasks += 1 - padTask[k];
      expect(
        realTasks === env.nActiveTasks,
        "padding",
        () =>
          `${where}: ${realTasks} unmasked subtasks at reset but nActiveTasks = ${env.nActiveTasks}`,
      );
      expect(
        env.time === 0,
        "reset",
        () => `${where}: time must be 0 after reset, got ${env.time}`,
      );
    }
    checkShapes(env, s, where);
    checkConsistency(env, s, padEntity, padTask, where);
    // Getters are pure and honour `out` buffers.
    expect(
      equalArrays(env.getEntities(outEntities), s.entities),
      "purity",
      () => `${where}: getEntities(out) differs from getEntities()`,
    );
    expect(
      equalArrays(env.getAvailActions(outAvail), s.avail),
      "purity",
      () => `${where}: getAvailActions(out) differs`,
    );
    const m2 = env.getMasks(outMasks);
    for (const key of ["obsMask", "entityMask", "entity2taskMask", "taskMask"] as const) {
      expect(
        equalArrays(m2[key], s.masks[key]),
        "purity",
        () => `${where}: getMasks(out).${key} differs`,
      );
    }
    const alloc = env.heuristicAllocation(outAlloc);
    for (let i = 0; i < na; i++) {
      const k = alloc[i];
      if (padEntity[i] || s.masks.entityMask[i]) {
        expect(k === -1, "heuristic", () => `${where}: inactive agent ${i} allocated to ${k}`);
      } else {
        expect(
          k === -1 || (k >= 0 && k < nt && s.masks.taskMask[k] === 0),
          "heuristic",
          () => `${where}: agent ${i} allocated to inactive subtask ${k}`,
        );
      }
    }
    expect(
      typeof env.render() === "string",
      "render",
      () => `${where}: render() must return a string`,
    );
    trace.observations.push(s);

    for (let i = 0; i < na; i++)
      actions[i] = padEntity[i] ? 0 : sampleAvailable(s.avail, i, A, rng);
    const res = env.step(actions);
    epStep++;
    const { taskRewards, tasksTerminated, tasksChanged, episodeLimit } = res.info;
    expect(
      Number.isFinite(res.reward),
      "step",
      () => `${where}: reward ${res.reward} is not finite`,
    );
    expect(
      taskRewards.length === nt && tasksTerminated.length === nt,
      "step",
      () => `${where}: task info arrays must have length ${nt}`,
    );
    for (let k = 0; k < nt; k++) {
      expect(
        Number.isFinite(taskRewards[k]),
        "step",
        () => `${where}: taskRewards[${k}] not finite`,
      );
      if (padTask[k])
        expect(
          taskRewards[k] === 0,
          "padding",
          () => `${where}: padded subtask ${k} has reward ${taskRewards[k]}`,
        );
      if (s.masks.taskMask[k])
        expect(
          tasksTerminated[k] === 1,
          "tasks",
          () => `${where}: subtask ${k} restarted (taskMask 1 -> tasksTerminated 0)`,
        );
    }
    expect(
      env.time === epStep,
      "step",
      () => `${where}: time should be ${epStep}, got ${env.time}`,
    );
    expect(
      epStep <= info.episodeLimit,
      "step",
      () => `${where}: episode exceeded episodeLimit ${info.episodeLimit}`,
    );
    if (episodeLimit)
      expect(res.terminated, "step", () => `${where}: episodeLimit set on a non-terminal step`);
    trace.rewards.push(res.reward);
    trace.taskRewards.push(Array.from(taskRewards));
    trace.terminations.push(res.terminated);
    const changedExpected = !equalArrays(tasksTerminated, s.masks.taskMask);
    expect(
      tasksChanged === changedExpected,
      "tasks",
      () =>
        `${where}: tasksChanged=${tasksChanged} but the task mask ${changedExpected ? "changed" : "did not change"}`,
    );
    if (res.terminated) {
      expect(
        res.info.stats !== null && typeof res.info.stats === "object",
        "step",
        () => `${where}: terminal step must report episode stats`,
      );
      // Stepping a finished episode must fail loudly.
      let threw = false;
      try {
        env.step(actions);
      } catch {
        threw = true;
      }
      expect(threw, "step", () => `${where}: step() after the terminal step must throw`);
      needReset = true;
    } else {
      expect(
        res.info.stats === null,
        "step",
        () => `${where}: stats must be null before the terminal step`,
      );
      const next = env.getMasks();
      expect(
        equalArrays(tasksTerminated, next.taskMask),
        "tasks",
        () => `${where}: tasksTerminated must equal the next taskMask`,
      );
    }
    prev = s;
  }
  return trace;
}

function tracesEqual(a: Trace, b: Trace): boolean {
  if (a.observations.length !== b.observations.length) return false;
  for (let t = 0; t < a.observations.length; t++) {
    const x = a.observations[t];
    const y = b.observations[t];
    if (!equalArrays(x.entities, y.entities) || !equalArrays(x.avail, y.avail)) return false;
    for (const key of ["obsMask", "entityMask", "entity2taskMask", "taskMask"] as const) {
      if (!equalArrays(x.masks[key], y.masks[key])) return false;
    }
    if (!Object.is(a.rewards[t], b.rewards[t]) || a.terminations[t] !== b.terminations[t])
      return false;
    if (!equalArrays(a.taskRewards[t], b.taskRewards[t])) return false;
  }
  return true;
}

/** An agent that has an unavailable action must be refused with an `InvalidActionError`. */
function checkInvalidActionRejected(makeEnv: (seed: number) => CompositeEnv, seed: number): void {
  const env = makeEnv(seed);
  const { nAgents: na, nActions: A } = env.info;
  for (let attempt = 0; attempt < 20; attempt++) {
    env.reset();
    const avail = env.getAvailActions().slice();
    for (let i = 0; i < env.nActiveAgents; i++) {
      const bad = avail.subarray(i * A, (i + 1) * A).indexOf(0);
      if (bad < 0) continue;
      const actions = new Int32Array(na);
      for (let j = 0; j < na; j++)
        actions[j] = avail.subarray(j * A, (j + 1) * A).findIndex((v) => v !== 0);
      actions[i] = bad;
      try {
        env.step(actions);
      } catch (err) {
        expect(
          err instanceof InvalidActionError,
          "invalid-action",
          () => `expected InvalidActionError, got ${String(err)}`,
        );
        const e = err as InvalidActionError;
        expect(
          e.agent === i && e.action === bad && e.reason.length > 0,
          "invalid-action",
          () => `error must name agent ${i} and action ${bad}: ${e.message}`,
        );
        return;
      }
      fail(
        "invalid-action",
        `seed ${seed}: agent ${i} took unavailable action ${bad} without an error`,
      );
    }
  }
}

/**
 * Run a fast-check property and, on failure, rethrow the violation itself (shrunk to the smallest
 * counterexample) so that the error names the broken check rather than only fast-check's summary.
 */
function assertProperty<T>(property: fc.IProperty<T>, params: fc.Parameters<T>): void {
  const details = fc.check(property, params);
  if (!details.failed) return;
  const err = details.errorInstance;
  const where = `counterexample ${JSON.stringify(details.counterexample)}, fast-check seed ${details.seed}`;
  if (err instanceof ConformanceError) {
    err.message = `${err.message} (${where})`;
    throw err;
  }
  throw new ConformanceError(
    "exception",
    `${err instanceof Error ? (err.stack ?? err.message) : String(err)} (${where})`,
  );
}

/**
 * Run the whole suite. Resolves with counts of what was exercised; rejects with a
 * `ConformanceError` (or fast-check's report wrapping one) at the first violation.
 */
export async function checkConformance(
  makeEnv: (seed: number) => CompositeEnv,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const numRuns = options.numRuns ?? 20;
  const steps = options.steps ?? 400;
  const report: ConformanceReport = { runs: 0, steps: 0, episodes: 0 };
  const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

  // Invariants under thousands of random available actions.
  assertProperty(
    fc.property(seedArb, seedArb, (envSeed, actionSeed) => {
      const trace = rollout(makeEnv, envSeed, actionSeed, steps);
      report.runs++;
      report.steps += steps;
      report.episodes += trace.episodes;
    }),
    { numRuns, seed: options.seed ?? 1 },
  );

  // Seeding: the same seeds replay the identical trajectory; different env seeds differ.
  const seedSteps = Math.min(steps, 200);
  assertProperty(
    fc.property(seedArb, seedArb, (envSeed, actionSeed) => {
      const a = rollout(makeEnv, envSeed, actionSeed, seedSteps);
      const b = rollout(makeEnv, envSeed, actionSeed, seedSteps);
      expect(
        tracesEqual(a, b),
        "seed",
        () => `env seed ${envSeed} and action seed ${actionSeed} gave two different trajectories`,
      );
    }),
    { numRuns: Math.max(3, Math.floor(numRuns / 4)), seed: (options.seed ?? 1) + 1 },
  );
  let differ = 0;
  for (let s = 0; s < 4; s++) {
    const a = rollout(makeEnv, 2 * s, 7, 20);
    const b = rollout(makeEnv, 2 * s + 1, 7, 20);
    if (!tracesEqual(a, b)) differ++;
  }
  expect(
    differ >= 3,
    "seed",
    () => `different env seeds gave identical trajectories in ${4 - differ} of 4 pairs`,
  );

  checkInvalidActionRejected(makeEnv, options.seed ?? 1);
  return report;
}
