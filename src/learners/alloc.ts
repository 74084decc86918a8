/**
 * ALMA's learned allocator (AQL, spec §8, §9.2, §12, §13, §14) as the runner and the training
 * loop see it: `decide` chooses allocations at decision points (§8.4, with the ε-exploration of
 * §8.5 in the specified order, checklist §19.19), `train` runs one allocation training step on a
 * recency-filtered window batch (§12) and the target update check (§14), and
 * `saveTensors`/`loadTensors` checkpoint everything needed to resume.
 *
 * Acting (`decide`) runs the programs of `src/nn/alloc/act.ts`: one program per call for the
 * deciding environments (exact-size buckets, active agents packed, acting weights prepared once
 * per parameter update); a state whose decision is forced (one active subtask, or no active
 * agent) skips the network. Every call draws the same random numbers whatever bucket, packing or
 * skipping applies, so decisions equal those of the training-side functions (`fastActing: false`)
 * for the same seeds.
 */
import type { WindowBatch } from "../buffer/replay.js";
import { type DecaySchedule, parseSchedule, scheduleValue } from "../config/schedule.js";
import type { AlmaConfig } from "../config/schema.js";
import { Rng } from "../envs/rng.js";
import type { EnvInfo } from "../envs/types.js";
import {
  type ActHost,
  type ActInputs,
  type ActWeights,
  actConfig,
  actDecide,
  activeAgents,
  actProposeIndices,
  actScoreOnly,
  actSupported,
  actTaskWidth,
  actWeights,
  allocActHost,
  fillActHost,
  inputsFromHost,
  padPermutation,
  unpackDecision,
  warmupInputs,
} from "../nn/alloc/act.js";
import { type AllocNetConfig, allocNetConfig } from "../nn/alloc/config.js";
import { allocMetaBatch, buildMetaBatch, type MetaBatch } from "../nn/alloc/metaBatch.js";
import type { AllocInputs } from "../nn/alloc/policy.js";
import {
  ALLOC_METRIC_NAMES,
  type AllocParams,
  type AllocState,
  hostPermutation,
  initAllocState,
  type MetaArrays,
  makeAllocAct,
  makeAllocProposeScore,
  makeAllocTrainStep,
  updateAllocTarget,
} from "../nn/alloc/train.js";
import { type Arr, blockUntilReady, type JsTree, jit, np, tree } from "../nn/engine.js";
import { roundUp4 } from "../nn/layers.js";
import type { NamedTensor } from "../run/checkpoint.js";
import type { ActingBatch } from "../runners/acting.js";
import type { Allocator, DecisionContext } from "../runners/allocators.js";
import type { AllocOptConfig } from "./alloc-optim.js";
import type { TrainContext } from "./types.js";

/** Construction options beyond the configuration. */
export interface AlmaAllocatorOptions {
  /**
   * Number of parallel environments the acting batch has (default `config.run.batchSizeRun`).
   * Acting compiles one program per *bucket* size: the environments at a decision point are
   * packed into the smallest bucket that holds them, padding the rest with fully masked rows.
   * Default: sizes 1, 2, 3, 4, 6, 8, 12, 16, … up to this size (`warmup` compiles them all).
   * `buckets: true` uses powers of two, `false` always the full size (one program), or give the
   * sizes explicitly.
   */
  actingBatchSize?: number;
  buckets?: boolean | readonly number[];
  /**
   * Run the acting program synchronously on the main thread (default true). The acting program
   * is many tiny kernels; dispatching each to the worker pool costs a message round trip (tens
   * of µs) that dwarfs the kernels themselves.
   */
  syncActing?: boolean;
  /**
   * Score only the distinct proposals of each state (`proposeAndScore`: two programs and a host
   * round trip in between) instead of sampling and scoring all proposals in one program (default
   * false). Both give the same decisions. On SaveTheCity 2-5a_2-5b (untrained policy) it was no
   * faster on average: the second program's dispatch and read cost about what the critic saves
   * (faster for single states with few distinct proposals, slower for two or more states).
   */
  dedupe?: boolean;
  /**
   * Use the acting programs of `src/nn/alloc/act.ts` (default true where supported, see
   * `actSupported`): same values, fewer kernels. False runs the training-side functions
   * (`allocAct`, `allocPropose`, `allocScore`).
   */
  fastActing?: boolean;
  /**
   * With `fastActing`: pack the active agents of each state into the first agent rows and run the
   * program for the largest number of active agents among the states of the call (one program
   * per bucket size and agent count; default true). Inactive agents change no value (see
   * `ActSource.agents`), so the decisions are the same; the work shrinks with the agent count.
   */
  compactAgents?: boolean;
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
  /**
   * Rows of Gumbel noise drawn for a call of `n` environments (see `actingNoise`): the bucket of
   * the power-of-two ladder (or the full size with `buckets: false`), whatever bucket the call
   * runs in, so the random streams (and decisions) do not depend on the bucket choice.
   */
  private readonly noiseRows: (n: number) => number;
  private readonly syncActing: boolean;
  private readonly dedupe: boolean;
  private readonly proposeScore: ReturnType<typeof makeAllocProposeScore>;
  /** Acting weights program of `act.ts` (null: fast acting not supported or disabled). */
  private readonly weightsFn: ((params: AllocParams) => ActWeights) | null;
  /** The acting programs of `act.ts` per number of agent rows (see `compactAgents`). */
  private readonly fastPrograms = new Map<number, FastPrograms>();
  private readonly compactAgents: boolean;
  /** Acting weights of the current parameters (computed on the first decision after a change). */
  private actW: ActWeights | null = null;
  /** Host buffer of the acting noise (see `actingNoise`; copied by `np.array`, so reusable). */
  private noiseBuf = new Float32Array(0);
  /** Host input buffers per bucket size and agent rows. */
  private readonly actHosts = new Map<string, ActHost>();
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
    else if (opts.buckets === true) {
      for (let b = 1; b < this.actingSize; b *= 2) this.buckets.push(b);
      this.buckets.push(this.actingSize);
    } else if (opts.buckets) {
      this.buckets.push(...[...opts.buckets].filter((b) => b >= 1 && b < this.actingSize));
      this.buckets.push(this.actingSize);
      this.buckets.sort((a, b) => a - b);
    } else {
      // Exact sizes up to 4 (most calls), then 6, 8, 12, 16, …: little padding work, few programs.
      for (let b = 1; b <= Math.min(4, this.actingSize); b++) this.buckets.push(b);
      for (let b = 4; b < this.actingSize; b *= 2) {
        if (b * 1.5 < this.actingSize) this.buckets.push(b * 1.5);
        if (b * 2 < this.actingSize) this.buckets.push(b * 2);
      }
      if (this.actingSize > 4) this.buckets.push(this.actingSize);
    }
    const full = this.actingSize;
    this.noiseRows =
      opts.buckets === false
        ? () => full
        : (n) => {
            let b = 1;
            while (b < n && b < full) b *= 2;
            return Math.min(b, full);
          };
    this.keyRng = new Rng((config.seed ^ SEED_SALT_NET) >>> 0);
    this.syncActing = opts.syncActing ?? true;
    this.dedupe = opts.dedupe ?? false;
    this.state = initAllocState(this.nextKey(), this.cfg);
    this.rng = new Rng((config.seed ^ SEED_SALT_EXPLORE) >>> 0);
    this.actFn = makeAllocAct(this.cfg);
    this.proposeScore = makeAllocProposeScore(this.cfg);
    const c = this.cfg;
    const W = this.entityWidth;
    this.weightsFn =
      (opts.fastActing ?? true) && actSupported(c)
        ? (jit((p: AllocParams) => actWeights(p, W, c)) as unknown as (
            p: AllocParams,
          ) => ActWeights)
        : null;
    this.compactAgents = opts.compactAgents ?? true;
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
      const rows = which.slice(start, start + this.actingSize);
      start += rows.length;
      const data = this.weightsFn
        ? await this.decideFast(ctx, rows)
        : await this.decideReference(ctx, rows);
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

  /**
   * Compile the acting programs of every bucket size (and, with `compactAgents`, every number of
   * agent rows in `agentCounts`, default 1..Na) now, with fully masked inputs and without drawing
   * random numbers, instead of at the first decision of each shape.
   */
  warmup(agentCounts?: readonly number[]): void {
    if (!this.weightsFn) return;
    const Na = this.info.nAgents;
    const counts = this.compactAgents
      ? (agentCounts ?? Array.from({ length: Na }, (_, i) => i + 1)).filter(
          (a) => a >= 1 && a <= Na,
        )
      : [Na];
    for (const na of counts) {
      const prog = this.fastFor(na);
      for (const size of this.buckets) {
        const { inp, perms, noise } = warmupInputs(prog.cfg, size, this.entityWidth);
        prog.decide(tree.ref(this.weights()), inp, perms, noise).dataSync();
      }
    }
  }

  private async read(x: Arr): Promise<Float32Array> {
    return (this.syncActing ? x.dataSync() : await x.data()) as Float32Array;
  }

  /** The smallest bucket size that holds `n` states. */
  private bucketFor(n: number): number {
    return this.buckets.find((b) => b >= n) ?? this.actingSize;
  }

  /** Acting weights of the current parameters (see `act.ts`), computed once per update. */
  private weights(): ActWeights {
    if (!this.actW) this.actW = this.weightsFn!(tree.ref(this.params()));
    return this.actW;
  }

  /** Drop the acting weights after a parameter change. */
  private invalidateActing(): void {
    if (this.actW) tree.dispose(this.actW);
    this.actW = null;
  }

  /** The jitted acting programs for `na` agent rows (compiled per input shape). */
  private fastFor(na: number): FastPrograms {
    let f = this.fastPrograms.get(na);
    if (!f) {
      const c = actConfig(this.cfg, na);
      const poolNa = this.cfg.nAgents;
      const decide = jit((w: ActWeights, inp: ActInputs, perms: { pi: Arr; q: Arr }, noise: Arr) =>
        actDecide(w, inp, perms, noise, c, poolNa),
      );
      const propose = jit((w: ActWeights["pi"], inp: ActInputs, perm: Arr, noise: Arr) =>
        actProposeIndices(w, inp, perm, noise, c),
      );
      const score = jit((w: ActWeights["q"], inp: ActInputs, alloc: Arr, perm: Arr) =>
        actScoreOnly(w, inp, alloc, perm, c, poolNa),
      );
      f = {
        cfg: c,
        decide: (w, inp, perms, noise) => decide(w, inp, perms, noise) as Arr,
        propose: (w, inp, perm, noise) => propose(w, inp, perm, noise) as Arr,
        score: (w, inp, alloc, perm) => score(w, inp, alloc, perm) as Arr,
      };
      this.fastPrograms.set(na, f);
    }
    return f;
  }

  private actHost(size: number, na: number): ActHost {
    const key = `${size},${na}`;
    let h = this.actHosts.get(key);
    if (!h) {
      h = allocActHost(actConfig(this.cfg, na), size, this.entityWidth);
      this.actHosts.set(key, h);
    }
    return h;
  }

  /**
   * Standard Gumbel noise for one call of `nReal` environments (`hostGumbel`'s draws): `P·Nt`
   * values per state and agent, drawn state-major (in the order of the call's environments) for
   * `noiseRows(nReal)` states and all Na agents, so that an environment's noise does not depend
   * on the bucket or batch row it is computed in. Laid out `[na, size, P, Nt]` for the program
   * `shape`: state j's draws go to batch row `place[j].row` (none if −1 or j ≥ nReal), agent i's
   * to agent row `place[j].agents.indexOf(i)` (row i without `agents`); other draws are left out
   * (all of them without `shape`).
   */
  private actingNoise(
    nReal: number,
    place: readonly Placement[],
    shape: { size: number; na: number } | null,
  ): Float32Array {
    const { nAgents: Na, nTasks: Nt } = this.info;
    const blk = this.cfg.nProposals * Nt;
    const n = shape ? shape.na * shape.size * blk : 0;
    if (this.noiseBuf.length < n) this.noiseBuf = new Float32Array(n);
    const buf = this.noiseBuf.subarray(0, n);
    buf.fill(0);
    const states = Math.max(nReal, this.noiseRows(nReal));
    for (let j = 0; j < states; j++)
      for (let i = 0; i < Na; i++) {
        const pl = j < nReal && shape ? place[j] : null;
        const r = pl && pl.row >= 0 ? (pl.agents ? pl.agents.indexOf(i) : i) : -1;
        const dst = r >= 0 ? (r * shape!.size + pl!.row) * blk : -1;
        for (let t = 0; t < blk; t++) {
          let u = this.keyRng.random();
          while (u <= 0) u = this.keyRng.random();
          if (dst >= 0) buf[dst + t] = -Math.log(-Math.log(u));
        }
      }
    return buf;
  }

  /**
   * Whether a state's decision is forced: no active agent, or exactly one active subtask (every
   * active agent must take it: the others have probability 0, §8.2). Every proposal is then the
   * same allocation, so the critic's first best is proposal 0 (§8.4).
   */
  private forcedTask(b: ActingBatch, e: number): number | null {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt } = this.info;
    let agents = 0;
    for (let i = 0; i < Na; i++) if (b.entityMask[e * Ne + i] === 0) agents++;
    let tasks = 0;
    let task = -1;
    for (let k = 0; k < Nt; k++)
      if (b.taskMask[e * Nt + k] === 0) {
        tasks++;
        task = k;
      }
    if (agents === 0) return -1;
    return tasks === 1 ? task : null;
  }

  /**
   * The network part of §8.4 with the acting programs of `act.ts`; packed `allocAct` layout
   * (`[rows, P·Na + 1]`). States whose decision is forced (`forcedTask`) skip the network; the
   * random numbers of the call are drawn as if they had not.
   */
  private async decideFast(ctx: DecisionContext, rows: readonly number[]): Promise<Float32Array> {
    const { nAgents: Na, nEntities: Ne } = this.info;
    const P = this.cfg.nProposals;
    const stride = P * Na + 1;
    const b = ctx.batch;
    const packed = new Float32Array(rows.length * stride);
    const place: Placement[] = [];
    const net: number[] = []; // positions in `rows` computed by the network
    rows.forEach((e, j) => {
      const forced = this.forcedTask(b, e);
      if (forced === null) {
        const agents = this.compactAgents
          ? activeAgents(b.entityMask.subarray(e * Ne, e * Ne + Na), Na)
          : null;
        place.push({ row: net.length, agents });
        net.push(j);
        return;
      }
      place.push({ row: -1, agents: null });
      // Every proposal: active agents → the single active subtask; best = proposal 0.
      for (let p = 0; p < P; p++)
        for (let i = 0; i < Na; i++)
          packed[j * stride + p * Na + i] =
            forced >= 0 && b.entityMask[e * Ne + i] === 0 ? forced : -1;
      packed[j * stride + P * Na] = 0;
    });
    const n = this.cfg.nTasks + this.cfg.nExtraTasks;
    const n4 = actTaskWidth(this.cfg);
    const permPi = padPermutation(this.hostPerm(), n, n4);
    const permQ = this.hostPerm();
    if (net.length === 0) {
      this.actingNoise(rows.length, place, null); // the draws only
      return packed;
    }
    const shape = {
      size: this.bucketFor(net.length),
      na: this.compactAgents ? Math.max(1, ...net.map((j) => place[j].agents!.length)) : Na,
    };
    const host = this.fillHost(b, rows, net, place, shape);
    const noise = this.actingNoise(rows.length, place, shape);
    const data = await this.runLocal(shape, host, permPi, permQ, noise, net.length);
    // Back to the environment's agent slots: agents left out are inactive (−1).
    const na = shape.na;
    const nstride = P * na + 1;
    net.forEach((j, r) => {
      const agents = place[j].agents;
      const src = r * nstride;
      const dst = j * stride;
      if (!agents) {
        packed.set(data.subarray(src, src + nstride), dst);
        return;
      }
      packed.fill(-1, dst, dst + P * Na);
      for (let p = 0; p < P; p++)
        for (let a = 0; a < agents.length; a++)
          packed[dst + p * Na + agents[a]] = data[src + p * na + a];
      packed[dst + P * Na] = data[src + P * na];
    });
    return packed;
  }

  /** Host inputs of the states `positions` (of `rows`) for a program of the given shape. */
  private fillHost(
    b: ActingBatch,
    rows: readonly number[],
    positions: readonly number[],
    place: readonly Placement[],
    shape: { size: number; na: number },
  ): ActHost {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = this.info;
    const prog = this.fastFor(shape.na);
    const h = this.actHost(shape.size, shape.na);
    for (let r = 0; r < shape.size; r++) {
      const e = r < positions.length ? rows[positions[r]] : -1;
      fillActHost(
        h,
        r,
        e >= 0
          ? {
              entities: b.entities.subarray(e * Ne * De, (e + 1) * Ne * De),
              entityMask: b.entityMask.subarray(e * Ne, (e + 1) * Ne),
              entity2taskMask: b.entity2taskMask.subarray(e * Ne * Nt, (e + 1) * Ne * Nt),
              taskMask: b.taskMask.subarray(e * Nt, (e + 1) * Nt),
              allocation: b.allocation.subarray(e * Na, (e + 1) * Na),
              agents: place[positions[r]].agents ?? undefined,
              nAgents: Na,
            }
          : null,
        prog.cfg,
        De,
      );
    }
    return h;
  }

  /**
   * Run the acting program(s) for `nReal` states of host inputs `h`; returns `[nReal, P·na + 1]`
   * (proposals' subtask indices per agent row, then the best proposal's index).
   */
  private async runLocal(
    shape: { size: number; na: number },
    h: ActHost,
    permPi: Float32Array,
    permQ: Float32Array,
    noiseData: Float32Array,
    nReal: number,
  ): Promise<Float32Array> {
    const { nTasks: Nt } = this.info;
    const P = this.cfg.nProposals;
    const prog = this.fastFor(shape.na);
    const { inp, perms, noise } = inputsFromHost(prog.cfg, {
      na: shape.na,
      size: shape.size,
      host: h,
      permPi,
      permQ,
      noise: noiseData,
    });
    const w = this.weights();
    if (this.dedupe) {
      const refs = {
        entities: inp.entities.ref,
        memb: inp.memb.ref,
        membNa: inp.membNa.ref,
        vec: inp.vec.ref,
        piPre: inp.piPre.ref,
        qPre: inp.qPre.ref,
      };
      return this.proposeAndScore(
        () => this.read(prog.propose(tree.ref(w.pi), refs, perms.pi, noise)),
        (alloc) => this.read(prog.score(tree.ref(w.q), inp, alloc, perms.q)),
        shape.size,
        nReal,
        shape.na,
      );
    }
    const out = await this.read(prog.decide(tree.ref(w), inp, perms, noise));
    return unpackDecision(out, nReal, P, shape.na, Nt);
  }

  /** The network part of §8.4 with the training-side functions (`fastActing: false`). */
  private async decideReference(
    ctx: DecisionContext,
    rows: readonly number[],
  ): Promise<Float32Array> {
    const size = this.bucketFor(rows.length);
    const inp = this.actingInputs(ctx, rows, size);
    const n = this.cfg.nTasks + this.cfg.nExtraTasks;
    const perms = {
      pi: np.array(this.hostPerm(), { shape: [n, n] }),
      q: np.array(this.hostPerm(), { shape: [n, n] }),
    };
    const { nAgents: Na, nTasks: Nt } = this.info;
    const noiseData = this.actingNoise(
      rows.length,
      rows.map((_, j) => ({ row: j, agents: null })),
      { size, na: Na },
    );
    const noise = np.array(noiseData, { shape: [Na, size, this.cfg.nProposals, Nt] });
    return this.dedupe
      ? await this.proposeAndScore(
          () =>
            this.read(
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
            ),
          (alloc) =>
            this.read(
              this.proposeScore.score(
                tree.ref(this.state.q),
                {
                  entities: inp.entities,
                  entityMask: inp.entityMask,
                  entity2taskMask: inp.entity2taskMask,
                },
                alloc,
                perms.q,
              ),
            ),
          size,
          rows.length,
          this.info.nAgents,
        )
      : await this.read(this.actFn(tree.ref(this.params()), inp, perms, noise));
  }

  /** A TaskEmbedder permutation (§3.3) as host data (`hostPermutation`, key generator). */
  private hostPerm(): Float32Array {
    return hostPermutation(this.cfg.nTasks + this.cfg.nExtraTasks, (m) => this.keyRng.int(m));
  }

  /**
   * The deduplicating acting path: sample the proposals (`propose`, one program), find each
   * state's distinct proposals on the host, and score only those with the critic (`score`, a
   * second program on `[size, U, Na, Nt]` allocations, U padded up to a power of two so few
   * shapes get compiled). Identical proposals get identical scores, so the critic's argmax (first
   * index among equal maxima) is unchanged; the critic's work, most of the acting cost, shrinks as
   * the policy sharpens. Returns the same packed layout as `allocAct`: per state, P·Na subtask
   * indices then the best proposal's index.
   */
  private async proposeAndScore(
    propose: () => Promise<Float32Array>,
    score: (alloc: Arr) => Promise<Float32Array>,
    size: number,
    nReal: number,
    Na: number,
  ): Promise<Float32Array> {
    const Nt = this.info.nTasks;
    const P = this.cfg.nProposals;
    const stride = P * Na + 1;
    const props = await propose();
    // Distinct proposals per state, in order of first occurrence.
    const firsts: number[][] = [];
    let U = 1;
    for (let j = 0; j < nReal; j++) {
      const list = distinctProposals(props, j * P * Na, P, Na, Nt);
      firsts.push(list);
      U = Math.max(U, list.length);
    }
    const Ub = Math.min(pow2AtLeast(U), P);
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
    const scores = await score(np.array(alloc, { shape: [size, Ub, Na, Nt] }));
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
    this.invalidateActing();
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
    this.invalidateActing();
    this.keyRng.setState(Array.from(keyRng.data));
    this.rng.setState(Array.from(rng.data));
    this.trainSteps = counters.data[0];
    this.lastTargetUpdateEpisode = counters.data[1];
  }

  /** Release engine memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.invalidateActing();
    tree.dispose(this.state);
  }
}

/** Smallest power of two ≥ n (n ≥ 1). */
function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Indices of the distinct proposals among `P` proposals of `Na` subtask indices (−1 = none)
 * stored from `offset`, in order of first occurrence.
 */
function distinctProposals(
  props: Float32Array,
  offset: number,
  P: number,
  Na: number,
  Nt: number,
): number[] {
  const seen = new Set<number>();
  const list: number[] = [];
  for (let p = 0; p < P; p++) {
    let code = 0;
    for (let i = 0; i < Na; i++) code = code * (Nt + 1) + (props[offset + p * Na + i] + 1);
    if (!seen.has(code)) {
      seen.add(code);
      list.push(p);
    }
  }
  return list;
}

/** Where a state of an acting call is computed (see `actingNoise`). */
type Placement = {
  /** Row in the program's batch, −1 = not by the network (forced decision). */
  row: number;
  /** Environment agent slots in the program's agent rows (null: all, in order). */
  agents: readonly number[] | null;
};

/** The jitted acting programs of `act.ts` for one number of agent rows. */
type FastPrograms = {
  cfg: AllocNetConfig;
  decide: (w: ActWeights, inp: ActInputs, perms: { pi: Arr; q: Arr }, noise: Arr) => Arr;
  propose: (w: ActWeights["pi"], inp: ActInputs, perm: Arr, noise: Arr) => Arr;
  score: (w: ActWeights["q"], inp: ActInputs, alloc: Arr, perm: Arr) => Arr;
};

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
