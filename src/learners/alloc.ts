/**
 * ALMA's learned allocator (AQL, spec §8, §9.2, §12, §13, §14) as the runner and the training
 * loop see it: `decide` chooses allocations at decision points (§8.4, with the ε-exploration of
 * §8.5 in the specified order, checklist §19.19), `train` runs one allocation training step on a
 * recency-filtered window batch (§12) and the target update check (§14), and
 * `saveTensors`/`loadTensors` checkpoint everything needed to resume.
 */
import type { WindowBatch } from "../buffer/replay.js";
import { type DecaySchedule, parseSchedule, scheduleValue } from "../config/schedule.js";
import type { AlmaConfig } from "../config/schema.js";
import { Rng } from "../envs/rng.js";
import type { EnvInfo } from "../envs/types.js";
import { type AllocNetConfig, allocNetConfig } from "../nn/alloc/config.js";
import { allocMetaBatch, buildMetaBatch, type MetaBatch } from "../nn/alloc/metaBatch.js";
import type { AllocInputs } from "../nn/alloc/policy.js";
import {
  ALLOC_METRIC_NAMES,
  type AllocState,
  hostGumbel,
  hostPermutation,
  initAllocState,
  type MetaArrays,
  makeAllocAct,
  makeAllocProposeScore,
  makeAllocTrainStep,
  updateAllocTarget,
} from "../nn/alloc/train.js";
import { type Arr, blockUntilReady, type JsTree, np, tree } from "../nn/engine.js";
import { roundUp4 } from "../nn/layers.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { Allocator, DecisionContext } from "../runners/allocators.js";
import type { AllocOptConfig } from "./alloc-optim.js";
import type { TrainContext } from "./types.js";

/** Construction options beyond the configuration. */
export interface AlmaAllocatorOptions {
  /**
   * Number of parallel environments the acting batch has (default `config.run.batchSizeRun`).
   * Acting compiles one program per *bucket* size: the environments at a decision point are
   * packed into the smallest bucket (powers of two up to this size) that holds them, padding the
   * rest with fully masked rows. `buckets: false` always uses the full size (one program).
   */
  actingBatchSize?: number;
  buckets?: boolean;
  /**
   * Run the acting program synchronously on the main thread (default true). The acting program
   * is many tiny kernels; dispatching each to the worker pool costs a message round trip (tens
   * of µs) that dwarfs the kernels themselves.
   */
  syncActing?: boolean;
  /**
   * Score only the distinct proposals of each state (default true; see `proposeAndScore`). False
   * runs sampling and scoring of all proposals as one program (`allocAct`).
   */
  dedupe?: boolean;
  /** Override the derived network configuration (tests, benchmarks). */
  net?: Partial<Omit<AllocNetConfig, "nAgents" | "nEntities" | "nTasks" | "entityShape">>;
  /** Override `hier_agent.max_bs` (tests). */
  maxBs?: number;
}

/** What one decision produced for one environment (diagnostics, tests). */
export interface DecisionTrace {
  env: number;
  /** Critic-best proposal index. */
  bestIndex: number;
  /** True if the raw proposal 0 replaced the best (ε_p). */
  usedProposal: boolean;
  /** Agents re-drawn uniformly at random (ε_r). */
  randomAgents: number[];
  /** The critic-best proposal and proposal 0 (subtask per agent, −1 = inactive). */
  best: number[];
  proposal0: number[];
}

const SEED_SALT_NET = 0x5a11c;
const SEED_SALT_EXPLORE = 0xa110c8;

/** ALMA's learned allocation controller (spec §8–§14). */
export class AlmaAllocator implements Allocator {
  readonly name = "aql";
  readonly cfg: AllocNetConfig;
  readonly info: EnvInfo;
  /** `max_bs`: rows of every meta-batch (§12.1). */
  readonly maxBs: number;
  /** The last decide call's per-environment trace. */
  lastTrace: DecisionTrace[] = [];

  private state: AllocState;
  /**
   * Host PRNG of everything random inside the networks: the jax key of each training step, the
   * TaskEmbedder permutations of every call (§3.3) and the acting Gumbel noise (§8.2).
   */
  private readonly keyRng: Rng;
  /** PRNG of the host-side ε-exploration (§8.4). */
  private readonly rng: Rng;
  private lastTargetUpdateEpisode = 0;
  private trainSteps = 0;
  private readonly actFn: ReturnType<typeof makeAllocAct>;
  private readonly trainFn: ReturnType<typeof makeAllocTrainStep>;
  private readonly meta: MetaBatch;
  private readonly entityWidth: number;
  private readonly allocEps: DecaySchedule | null;
  private readonly propAllocEps: DecaySchedule | null;
  private readonly actionLength: number;
  private readonly decayOld: number;
  private readonly targetInterval: number;
  private readonly actingSize: number;
  private readonly buckets: number[];
  private readonly syncActing: boolean;
  private readonly dedupe: boolean;
  private readonly proposeScore: ReturnType<typeof makeAllocProposeScore>;
  private disposed = false;

  constructor(info: EnvInfo, config: AlmaConfig, opts: AlmaAllocatorOptions = {}) {
    if (config.hierAgent.nProposals < 2)
      throw new RangeError("AlmaAllocator: n_proposals must be > 1 (§18.2)");
    this.info = info;
    this.cfg = { ...allocNetConfig(info, config), ...(opts.net ?? {}) };
    this.maxBs = opts.maxBs ?? config.hierAgent.maxBs;
    this.entityWidth = roundUp4(info.entityShape);
    this.allocEps = parseSchedule(config.hierAgent.allocEps, config.run.tMax);
    this.propAllocEps = parseSchedule(config.hierAgent.propAllocEps, config.run.tMax);
    this.actionLength = config.hierAgent.actionLength;
    this.decayOld = config.hierAgent.decayOld;
    this.targetInterval = config.learner.allocTargetUpdateInterval;
    this.actingSize = opts.actingBatchSize ?? config.run.batchSizeRun;
    this.buckets = [];
    if (opts.buckets === false) this.buckets.push(this.actingSize);
    else {
      for (let b = 1; b < this.actingSize; b *= 2) this.buckets.push(b);
      this.buckets.push(this.actingSize);
    }
    this.keyRng = new Rng((config.seed ^ SEED_SALT_NET) >>> 0);
    this.syncActing = opts.syncActing ?? true;
    this.dedupe = opts.dedupe ?? true;
    this.state = initAllocState(this.nextKey(), this.cfg);
    this.rng = new Rng((config.seed ^ SEED_SALT_EXPLORE) >>> 0);
    this.actFn = makeAllocAct(this.cfg);
    this.proposeScore = makeAllocProposeScore(this.cfg);
    const c = this.cfg;
    const optCfg = (wd: number): AllocOptConfig => ({
      kind: c.opt,
      lr: c.lr,
      alpha: c.optimAlpha,
      eps: c.optimEps,
      weightDecay: wd,
    });
    this.trainFn = makeAllocTrainStep(c, {
      pi: optCfg(c.piWeightDecay),
      q: optCfg(c.qWeightDecay),
    });
    this.meta = allocMetaBatch(info, this.maxBs, this.entityWidth);
  }

  /**
   * A fresh jax PRNG key (two uint32 words) drawn from the host generator. Creating it from host
   * data (instead of splitting a device key) keeps acting free of pending device work, so the
   * acting program can run synchronously (see `syncActing`), and makes the generator state a
   * plain checkpointable quadruple.
   */
  private nextKey(): Arr {
    const words = Uint32Array.of(this.keyRng.nextUint32(), this.keyRng.nextUint32());
    return np.array(words, { shape: [2], dtype: np.uint32 });
  }

  /** A fresh TaskEmbedder permutation matrix (§3.3) for one network call. */
  private nextPerm(): Arr {
    const n = this.cfg.nTasks + this.cfg.nExtraTasks;
    return np.array(
      hostPermutation(n, (m) => this.keyRng.int(m)),
      { shape: [n, n] },
    );
  }

  /** Exploration probabilities (ε_r, ε_p) at `t_env` (§8.5). */
  explorationAt(tEnv: number): { allocEps: number; propAllocEps: number } {
    return {
      allocEps: scheduleValue(this.allocEps, tEnv),
      propAllocEps: scheduleValue(this.propAllocEps, tEnv),
    };
  }

  /**
   * §8.4 / §9.2: for every environment in `ctx.which`, sample `n_proposals` allocations with the
   * live policy (from the state and the previous allocation `ctx.batch.allocation`), take the
   * live critic's best and, in training mode, apply the two ε-mechanisms in order: first the
   * whole allocation becomes the raw proposal 0 with probability ε_p (per env), then every agent
   * is re-drawn uniformly among the active subtasks with probability ε_r (per agent, wins).
   * Writes subtask-per-agent (−1 for inactive agents) into `out` rows of those envs only.
   */
  async decide(ctx: DecisionContext, out: Int32Array): Promise<void> {
    const which = ctx.which;
    this.lastTrace = [];
    if (which.length === 0) return;
    const { nAgents: Na, nTasks: Nt } = this.info;
    const P = this.cfg.nProposals;
    const eps = ctx.testMode ? { allocEps: 0, propAllocEps: 0 } : this.explorationAt(ctx.tEnv);
    for (let start = 0; start < which.length; ) {
      const n = Math.min(which.length - start, this.actingSize);
      const size = this.buckets.find((b) => b >= n) ?? this.actingSize;
      const rows = which.slice(start, start + n);
      start += n;
      const inp = this.actingInputs(ctx, rows, size);
      const perms = { pi: this.nextPerm(), q: this.nextPerm() };
      // Drawn state-major (real rows first) and laid out [Na, S, P, Nt]: an environment's noise does
      // not depend on the bucket it was packed into.
      const flat = hostGumbel(Na * size * P * Nt, () => this.keyRng.random());
      const noise = new Float32Array(flat.length);
      const blk = P * Nt;
      for (let j = 0; j < size; j++)
        for (let i = 0; i < Na; i++)
          noise.set(
            flat.subarray((j * Na + i) * blk, (j * Na + i + 1) * blk),
            (i * size + j) * blk,
          );
      const noiseArr = np.array(noise, { shape: [Na, size, P, Nt] });
      const data = this.dedupe
        ? await this.proposeAndScore(inp, perms, noiseArr, rows.length)
        : await this.read(this.actFn(tree.ref(this.params()), inp, perms, noiseArr));
      const stride = P * Na + 1;
      for (let j = 0; j < rows.length; j++) {
        const e = rows[j];
        const base = j * stride;
        const bestIndex = data[base + P * Na];
        const trace: DecisionTrace = {
          env: e,
          bestIndex,
          usedProposal: false,
          randomAgents: [],
          best: Array.from(data.subarray(base + bestIndex * Na, base + (bestIndex + 1) * Na)),
          proposal0: Array.from(data.subarray(base, base + Na)),
        };
        let src = base + bestIndex * Na;
        if (!ctx.testMode && this.rng.random() <= eps.propAllocEps) {
          src = base; // "sample from the proposal distribution": proposal 0 (§8.4)
          trace.usedProposal = true;
        }
        const dst = e * Na;
        for (let i = 0; i < Na; i++) out[dst + i] = data[src + i];
        if (!ctx.testMode) this.randomReassign(ctx, e, out, eps.allocEps, trace);
        // An env without any active subtask (never at a real decision point) allocates nothing.
        let anyTask = false;
        for (let k = 0; k < Nt; k++) if (ctx.batch.taskMask[e * Nt + k] === 0) anyTask = true;
        if (!anyTask) out.fill(-1, dst, dst + Na);
        this.lastTrace.push(trace);
      }
    }
  }

  private async read(x: Arr): Promise<Float32Array> {
    return (this.syncActing ? x.dataSync() : await x.data()) as Float32Array;
  }

  /**
   * The deduplicating acting path: sample the proposals (one program), find each state's
   * distinct proposals on the host, and score only those with the critic (a second program, `U`
   * allocations per state, U padded up to a power of two so few shapes get compiled). Identical
   * proposals get identical scores, so the critic's argmax (first index among equal maxima) is
   * unchanged; the critic's work, most of the acting cost, shrinks as the policy sharpens.
   * Returns the same packed layout as `allocAct`: per state, P·Na subtask indices then the best
   * proposal's index.
   */
  private async proposeAndScore(
    inp: AllocInputs,
    perms: { pi: Arr; q: Arr },
    noise: Arr,
    nReal: number,
  ): Promise<Float32Array> {
    const { nAgents: Na, nTasks: Nt } = this.info;
    const P = this.cfg.nProposals;
    const size = inp.entities.shape[0];
    const props = await this.read(
      this.proposeScore.propose(
        tree.ref(this.state.pi),
        {
          entities: inp.entities.ref,
          entityMask: inp.entityMask.ref,
          entity2taskMask: inp.entity2taskMask.ref,
          taskMask: inp.taskMask,
          lastAlloc: inp.lastAlloc,
        },
        perms.pi,
        noise,
      ),
    );
    // Distinct proposals per state, in order of first occurrence.
    const firsts: number[][] = [];
    let U = 1;
    for (let j = 0; j < nReal; j++) {
      const seen = new Map<number, number>();
      const list: number[] = [];
      for (let p = 0; p < P; p++) {
        let code = 0;
        for (let i = 0; i < Na; i++) code = code * (Nt + 1) + (props[(j * P + p) * Na + i] + 1);
        if (!seen.has(code)) {
          seen.set(code, p);
          list.push(p);
        }
      }
      firsts.push(list);
      U = Math.max(U, list.length);
    }
    let Ub = 1;
    while (Ub < U) Ub *= 2;
    Ub = Math.min(Ub, P);
    const alloc = new Float32Array(size * Ub * Na * Nt);
    for (let j = 0; j < nReal; j++) {
      const list = firsts[j];
      for (let u = 0; u < Ub; u++) {
        const p = list[Math.min(u, list.length - 1)];
        for (let i = 0; i < Na; i++) {
          const k = props[(j * P + p) * Na + i];
          if (k >= 0) alloc[((j * Ub + u) * Na + i) * Nt + k] = 1;
        }
      }
    }
    const scores = await this.read(
      this.proposeScore.score(
        tree.ref(this.state.q),
        {
          entities: inp.entities,
          entityMask: inp.entityMask,
          entity2taskMask: inp.entity2taskMask,
        },
        np.array(alloc, { shape: [size, Ub, Na, Nt] }),
        perms.q,
      ),
    );
    const stride = P * Na + 1;
    const packed = new Float32Array(size * stride);
    for (let j = 0; j < nReal; j++) {
      packed.set(props.subarray(j * P * Na, (j + 1) * P * Na), j * stride);
      const list = firsts[j];
      let best = 0;
      for (let u = 1; u < list.length; u++)
        if (scores[j * Ub + u] > scores[j * Ub + best]) best = u;
      packed[j * stride + P * Na] = list[best];
    }
    return packed;
  }

  /** Per-agent random reassignment with probability ε_r (§8.4, applied second, overrides). */
  private randomReassign(
    ctx: DecisionContext,
    e: number,
    out: Int32Array,
    epsR: number,
    trace: DecisionTrace,
  ): void {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt } = this.info;
    const activeTasks: number[] = [];
    for (let k = 0; k < Nt; k++) if (ctx.batch.taskMask[e * Nt + k] === 0) activeTasks.push(k);
    for (let i = 0; i < Na; i++) {
      if (this.rng.random() <= epsR) {
        const live = ctx.batch.entityMask[e * Ne + i] === 0;
        out[e * Na + i] =
          live && activeTasks.length > 0 ? activeTasks[this.rng.int(activeTasks.length)] : -1;
        trace.randomAgents.push(i);
      }
    }
  }

  /** Fixed-shape acting inputs for `rows` (packed first), padded to `size` with masked rows. */
  private actingInputs(ctx: DecisionContext, rows: readonly number[], size: number): AllocInputs {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = this.info;
    const W = this.entityWidth;
    const b = ctx.batch;
    const ent = new Float32Array(size * Ne * W);
    const em = new Float32Array(size * Ne).fill(1);
    const e2t = new Float32Array(size * Ne * Nt).fill(1);
    const tm = new Float32Array(size * Nt).fill(1);
    const last = new Float32Array(size * Na * Nt);
    rows.forEach((e, j) => {
      for (let x = 0; x < Ne; x++) {
        const s = (e * Ne + x) * De;
        ent.set(b.entities.subarray(s, s + De), (j * Ne + x) * W);
        em[j * Ne + x] = b.entityMask[e * Ne + x];
      }
      for (let x = 0; x < Ne * Nt; x++) e2t[j * Ne * Nt + x] = b.entity2taskMask[e * Ne * Nt + x];
      for (let k = 0; k < Nt; k++) tm[j * Nt + k] = b.taskMask[e * Nt + k];
      for (let i = 0; i < Na; i++) {
        const k = b.allocation[e * Na + i];
        if (k >= 0) last[(j * Na + i) * Nt + k] = 1; // last_alloc (§8.1): -1 = none
      }
    });
    return {
      entities: np.array(ent, { shape: [size, Ne, W] }),
      entityMask: np.array(em, { shape: [size, Ne] }),
      entity2taskMask: np.array(e2t, { shape: [size, Ne, Nt] }),
      taskMask: np.array(tm, { shape: [size, Nt] }),
      lastAlloc: np.array(last, { shape: [size, Na, Nt] }),
    };
  }

  /** The live networks (not a copy: use `tree.ref` to pass them on). */
  params(): { pi: AllocState["pi"]; q: AllocState["q"] } {
    return { pi: this.state.pi, q: this.state.q };
  }

  /** The full training state (not a copy). */
  get trainingState(): AllocState {
    return this.state;
  }

  /** Build the §12.1 meta-batch of a window batch at `t_env` (diagnostics, tests). */
  metaBatch(batch: WindowBatch, tEnv: number): MetaBatch {
    return buildMetaBatch(
      batch,
      this.info,
      {
        actionLength: this.actionLength,
        maxBs: this.maxBs,
        decayOld: this.decayOld,
        tEnv,
        entityWidth: this.entityWidth,
      },
      this.meta,
    );
  }

  /**
   * One allocation training step (§12) on a recency-filtered window batch, then the target update
   * check (§14: every `alloc_target_update_interval` training episodes, checked after the step).
   * Returns the §12.2 metrics (`alloc/...`). A batch without decision points is skipped.
   */
  async train(batch: WindowBatch, ctx: TrainContext): Promise<Record<string, number>> {
    const mb = this.metaBatch(batch, ctx.tEnv);
    // Without a single usable TD sample there is nothing to learn, and a first Pop-Art update on
    // an empty mask would divide by a zero variance (the reference has no epsilon there, §13).
    if (!mb.qMask.some((x) => x > 0)) {
      return {
        "alloc/n_decisions": mb.count,
        "alloc/n_decisions_found": mb.total,
        "alloc/skipped": 1,
      };
    }
    const arrays = this.metaArrays(mb);
    const perms = {
      pi: this.nextPerm(),
      score: this.nextPerm(),
      target: this.nextPerm(),
      stored: this.nextPerm(),
    };
    const [state, metrics] = this.trainFn(this.state, arrays, perms, this.nextKey());
    this.state = state;
    const m = (await metrics.data()) as Float32Array;
    // Acting reads synchronously: no parameter may still have pending work on the worker pool.
    await blockUntilReady(this.state);
    const out: Record<string, number> = {};
    ALLOC_METRIC_NAMES.forEach((name, i) => {
      out[name] = m[i];
    });
    out["alloc/n_decisions"] = mb.count;
    out["alloc/n_decisions_found"] = mb.total;
    this.trainSteps++;
    out["alloc/target_updated"] = 0;
    if ((ctx.episode - this.lastTargetUpdateEpisode) / this.targetInterval >= 1) {
      this.state = updateAllocTarget(this.state);
      this.lastTargetUpdateEpisode = ctx.episode;
      out["alloc/target_updated"] = 1;
    }
    return out;
  }

  /** Upload a meta-batch. */
  metaArrays(mb: MetaBatch): MetaArrays {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt } = this.info;
    const M = mb.size;
    const f = (x: Float32Array, shape: number[]) => np.array(x, { shape });
    return {
      entities: f(mb.entities, [M, Ne, mb.entityWidth]),
      entityMask: f(mb.entityMask, [M, Ne]),
      entity2taskMask: f(mb.entity2taskMask, [M, Ne, Nt]),
      taskMask: f(mb.taskMask, [M, Nt]),
      lastAlloc: f(mb.lastAlloc, [M, Na, Nt]),
      segReward: f(mb.segReward, [M]),
      segTerminated: f(mb.segTerminated, [M]),
      mask: f(mb.mask, [M]),
      qMask: f(mb.qMask, [M]),
      weight: f(mb.weight, [M]),
      valid: f(mb.valid, [M]),
    };
  }

  /** Training steps taken and the episode of the last target update. */
  get counters(): { trainSteps: number; lastTargetUpdateEpisode: number } {
    return { trainSteps: this.trainSteps, lastTargetUpdateEpisode: this.lastTargetUpdateEpisode };
  }

  /**
   * Everything needed to resume (names prefixed `alloc.`): live and target parameters, both
   * optimiser states, both sets of Pop-Art statistics, the states of the network-key and
   * exploration generators and the counters.
   */
  async saveTensors(): Promise<Record<string, NamedTensor>> {
    const out: Record<string, NamedTensor> = {};
    for (const [name, x] of namedLeaves(this.state as unknown as JsTree<Arr>, "alloc.state")) {
      const d = await x.ref.data();
      out[name] = {
        shape: [...x.shape],
        data:
          d instanceof Float32Array
            ? Float32Array.from(d)
            : Float32Array.from(d as ArrayLike<number>),
      };
    }
    out["alloc.key_rng"] = { shape: [4], data: Int32Array.from(this.keyRng.getState()) };
    out["alloc.rng"] = { shape: [4], data: Int32Array.from(this.rng.getState()) };
    out["alloc.counters"] = {
      shape: [2],
      data: Int32Array.from([this.trainSteps, this.lastTargetUpdateEpisode]),
    };
    return out;
  }

  /** Restore from `saveTensors` output; throws naming a missing or mis-shaped tensor. */
  loadTensors(tensors: Record<string, NamedTensor>): void {
    const get = (name: string, shape: readonly number[]): NamedTensor => {
      const t = tensors[name];
      if (!t) throw new Error(`allocator checkpoint: missing tensor ${name}`);
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        throw new Error(
          `allocator checkpoint: tensor ${name} has shape [${t.shape}], expected [${shape}]`,
        );
      }
      return t;
    };
    const leaves = namedLeaves(this.state as unknown as JsTree<Arr>, "alloc.state");
    const loaded = leaves.map(([name, x]) => {
      const t = get(name, x.shape);
      return np.array(Float32Array.from(t.data), { shape: [...x.shape] });
    });
    const keyRng = get("alloc.key_rng", [4]);
    const rng = get("alloc.rng", [4]);
    const counters = get("alloc.counters", [2]);
    const [, def] = tree.flatten(this.state as unknown as JsTree<Arr>) as [Arr[], unknown];
    // namedLeaves walks keys in the same order as tree.flatten (insertion order of plain objects).
    const newState = tree.unflatten(
      def as Parameters<typeof tree.unflatten>[0],
      loaded,
    ) as unknown as AllocState;
    tree.dispose(this.state);
    this.state = newState;
    this.keyRng.setState(Array.from(keyRng.data));
    this.rng.setState(Array.from(rng.data));
    this.trainSteps = counters.data[0];
    this.lastTargetUpdateEpisode = counters.data[1];
  }

  /** Release engine memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tree.dispose(this.state);
  }
}

function isArr(x: unknown): x is Arr {
  return (
    typeof x === "object" &&
    x !== null &&
    Array.isArray((x as { shape?: unknown }).shape) &&
    typeof (x as { dispose?: unknown }).dispose === "function"
  );
}

/** Leaves of a parameter tree with dotted path names, in `tree.flatten` order. */
export function namedLeaves(t: JsTree<Arr>, prefix: string): [string, Arr][] {
  const out: [string, Arr][] = [];
  const walk = (x: unknown, path: string) => {
    if (isArr(x)) {
      out.push([path, x]);
    } else if (Array.isArray(x)) {
      x.forEach((v, i) => {
        walk(v, `${path}.${i}`);
      });
    } else if (x && typeof x === "object") {
      for (const k of Object.keys(x as object))
        walk((x as Record<string, unknown>)[k], `${path}.${k}`);
    }
  };
  walk(t, prefix);
  const leaves = tree.leaves(t) as Arr[];
  if (leaves.length !== out.length || leaves.some((l, i) => l !== out[i][1])) {
    throw new Error("namedLeaves: traversal order differs from tree.flatten");
  }
  return out;
}
