/**
 * The allocator's meta-batch (spec §12.1): one sample per high-level decision point of a sampled
 * window batch, with segment rewards, segment termination, the time-out / episode-boundary masks,
 * the previous allocation (`last_alloc`) and the linear age weights of §12.2.
 *
 * Plain TypeScript over typed arrays, no engine code: the construction is unit-tested on
 * hand-made windows, and the result has a fixed number of rows (`maxBs`, padded with mask 0) so
 * that the compiled training step sees one shape for the whole run.
 *
 * MASK POLARITY (spec §1, §19.1): the *input* masks keep 1 = blocked / absent / not a member. The
 * sample weights produced here (`mask`, `qMask`, `weight`, `valid`) are 1 = use, 0 = ignore.
 */
import type { WindowBatch } from "../../buffer/replay.js";

/** Sizes the meta-batch needs (a subset of `EnvInfo` / `EpisodeDims`). */
export interface MetaBatchDims {
  readonly nAgents: number;
  readonly nEntities: number;
  readonly nTasks: number;
  readonly entityShape: number;
}

/** Options of `buildMetaBatch` (spec §12.1, §12.2, §18.2). */
export interface MetaBatchOptions {
  /** `action_length` (5 SaveTheCity, 3 battle): divisor of the segment reward (§12.1). */
  readonly actionLength: number;
  /** `max_bs` (400): rows of the result; the first `maxBs` decision points are kept (§19.14). */
  readonly maxBs: number;
  /** `decay_old` (150,000): linear age decay of the Q-loss weights; 0 disables it (§12.2). */
  readonly decayOld: number;
  /** `t_env` of the training call (age weights). */
  readonly tEnv: number;
  /**
   * Width of each entity row in `entities` (≥ De; extra columns are zero). The learner asks for a
   * multiple of 4 because the engine only vectorises such widths (see `src/nn/engine.ts`).
   */
  readonly entityWidth?: number;
}

/**
 * The meta-batch: `size` (= `maxBs`) rows, the first `count` of them real decision points in
 * row-major (window-major, then time) order, the rest zero padding with every weight 0.
 */
export interface MetaBatch {
  /** Rows (= `maxBs`). */
  readonly size: number;
  /** Real samples N ≤ size. */
  count: number;
  /** Decision points found in the windows before the `maxBs` cut. */
  total: number;
  /** Width of an entity row in `entities`. */
  readonly entityWidth: number;
  /** [M, Ne, W] entity features at the decision row (zero columns beyond De). */
  readonly entities: Float32Array;
  /** [M, Ne] 1 = inactive slot. Padding rows: all 1. */
  readonly entityMask: Float32Array;
  /**
   * [M, Ne, Nt] 0 = member. Agent rows hold the allocation executed at the decision (§2.2, the
   * allocation the critic evaluates as "stored"). Padding rows: all 1.
   */
  readonly entity2taskMask: Float32Array;
  /** [M, Nt] 1 = subtask inactive. Padding rows: all 1. */
  readonly taskMask: Float32Array;
  /** [M, Na, Nt] one-hot allocation in force just before the decision (§8.1, §12.1). */
  readonly lastAlloc: Float32Array;
  /** [M] `seg_r`: undiscounted reward sum of the segment divided by `action_length` (§12.1). */
  readonly segReward: Float32Array;
  /** [M] `seg_d`: 1 if a true termination happened inside the segment (§12.1). */
  readonly segTerminated: Float32Array;
  /**
   * [M] the §12.1 mask: filled, not the row after a reset, no time-out inside the segment, and for
   * the last decision point of a window only if its segment terminated. Used by the proposal
   * (amortisation) loss and Pop-Art.
   */
  readonly mask: Float32Array;
  /**
   * [M] `mask · [j < N−1]`: the TD loss and Pop-Art use samples 0..N−2 only, because sample j
   * bootstraps from sample j+1 (§12.2).
   */
  readonly qMask: Float32Array;
  /** [M] `qMask · max(0, (decay_old − t_env + t_added)/decay_old)` (§12.2; qMask if decay_old = 0). */
  readonly weight: Float32Array;
  /** [M] 1 for real samples (j < N): the entropy term averages over them, unmasked (§12.2). */
  readonly valid: Float32Array;
  /** [M] `t_added` of the sample's window (batch row, §10 / §20.7). */
  readonly tAdded: Float64Array;
  /** [M] window index b of the sample (−1 for padding). */
  readonly sourceB: Int32Array;
  /** [M] row t of the sample (−1 for padding). */
  readonly sourceT: Int32Array;
}

/** Allocate an all-padding meta-batch of `maxBs` rows. */
export function allocMetaBatch(
  dims: MetaBatchDims,
  maxBs: number,
  entityWidth?: number,
): MetaBatch {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = dims;
  const W = entityWidth ?? dims.entityShape;
  if (W < dims.entityShape)
    throw new RangeError(`meta-batch: entityWidth ${W} < De ${dims.entityShape}`);
  return {
    size: maxBs,
    count: 0,
    total: 0,
    entityWidth: W,
    entities: new Float32Array(maxBs * Ne * W),
    entityMask: new Float32Array(maxBs * Ne).fill(1),
    entity2taskMask: new Float32Array(maxBs * Ne * Nt).fill(1),
    taskMask: new Float32Array(maxBs * Nt).fill(1),
    lastAlloc: new Float32Array(maxBs * Na * Nt),
    segReward: new Float32Array(maxBs),
    segTerminated: new Float32Array(maxBs),
    mask: new Float32Array(maxBs),
    qMask: new Float32Array(maxBs),
    weight: new Float32Array(maxBs),
    valid: new Float32Array(maxBs),
    tAdded: new Float64Array(maxBs),
    sourceB: new Int32Array(maxBs).fill(-1),
    sourceT: new Int32Array(maxBs).fill(-1),
  };
}

/** Per-row quantities of §12.1 over a whole window batch ([B, T] each), before flattening. */
export interface SegmentRows {
  readonly segReward: Float32Array;
  readonly segTerminated: Float32Array;
  readonly mask: Float32Array;
}

/**
 * The backward sweep of spec §12.1 over every window b (rows t = T−1 .. 0):
 *
 * ```
 * mask[t] = filled[t]·(1 − reset[t−1]) (t ≥ 1), mask[0] = filled[0];  timeout = reset − terminated
 * R += reward[t];  seg_r[t] = R;  R *= 1 − dp[t]
 * D = max(D, terminated[t]);  seg_d[t] = D;  D *= 1 − dp[t]
 * O = max(O, timeout[t]);  mask[t] *= 1 − O;  O *= 1 − dp[t]
 * seg_r /= action_length
 * ```
 *
 * then `mask *= seg_d` at the last decision point of each window (nothing to bootstrap from).
 * The sums are the *undiscounted* segment rewards divided by the configured `action_length`, even
 * for segments shortened by a subtask change (spec quirk, reproduced; §19.13).
 */
export function segmentRows(batch: WindowBatch, actionLength: number): SegmentRows {
  const B = batch.batchSize;
  const T = batch.seqLen;
  const segReward = new Float32Array(B * T);
  const segTerminated = new Float32Array(B * T);
  const mask = new Float32Array(B * T);
  const { filled, reset, terminated, reward, hierDecision: dp } = batch;
  for (let b = 0; b < B; b++) {
    const o = b * T;
    for (let t = 0; t < T; t++) {
      mask[o + t] = filled[o + t] * (t === 0 ? 1 : 1 - reset[o + t - 1]);
    }
    let R = 0;
    let D = 0;
    let O = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = o + t;
      const notDp = 1 - dp[i];
      R += reward[i];
      segReward[i] = R;
      R *= notDp;
      D = Math.max(D, terminated[i]);
      segTerminated[i] = D;
      D *= notDp;
      O = Math.max(O, reset[i] - terminated[i]);
      mask[i] *= 1 - O;
      O *= notDp;
    }
    for (let t = 0; t < T; t++) segReward[o + t] /= actionLength;
    for (let t = T - 1; t >= 0; t--) {
      if (dp[o + t]) {
        mask[o + t] *= segTerminated[o + t];
        break;
      }
    }
  }
  return { segReward, segTerminated, mask };
}

/**
 * `last_alloc` for row t of window b (spec §12.1): the allocation in force at row t−1 (one-hot of
 * the agent rows of `entity2task_mask[t−1]`), zero at row 0 of the window and zero for the first
 * decision after an episode boundary. The boundary flag is set by `reset[t−1]` and cleared at the
 * next decision point, which is the first one of the new episode. Writes [Na, Nt] into `out` at
 * `offset`; `wasReset` is the flag state on entry to row t (see `buildMetaBatch`).
 */
function writeLastAlloc(
  batch: WindowBatch,
  dims: MetaBatchDims,
  b: number,
  t: number,
  wasReset: boolean,
  out: Float32Array,
  offset: number,
): void {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = dims;
  out.fill(0, offset, offset + Na * Nt);
  if (t === 0 || wasReset) return;
  const e2t = batch.entity2taskMask;
  const base = (b * batch.seqLen + t - 1) * Ne * Nt;
  for (let i = 0; i < Na * Nt; i++) out[offset + i] = 1 - e2t[base + i];
}

/**
 * Build the meta-batch of spec §12.1 from a sampled window batch (B × T rows, every row used,
 * including the last). Decision points (`hierDecision = 1`) are taken in row-major order (window b
 * outer, row t inner) and the first `maxBs` are kept (§19.14); the result always has exactly
 * `maxBs` rows, padded with all-masked zero samples. Consecutive samples j, j+1 are successive
 * decision points of the same window unless j was its window's last (then j is masked or
 * terminal, so its bootstrap term never matters).
 *
 * `out` (from `allocMetaBatch` with the same sizes) is overwritten and returned when given.
 */
export function buildMetaBatch(
  batch: WindowBatch,
  dims: MetaBatchDims,
  opts: MetaBatchOptions,
  out?: MetaBatch,
): MetaBatch {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = dims;
  const d = batch.dims;
  if (d.nAgents !== Na || d.nEntities !== Ne || d.nTasks !== Nt || d.entityShape !== De) {
    throw new Error(
      `buildMetaBatch: batch dims ${JSON.stringify(d)} differ from the allocator's ${JSON.stringify(dims)}`,
    );
  }
  if (!(opts.actionLength > 0)) throw new RangeError("buildMetaBatch: actionLength must be > 0");
  const M = opts.maxBs;
  const W = opts.entityWidth ?? De;
  let mb = out;
  if (
    !mb ||
    mb.size !== M ||
    mb.entityWidth !== W ||
    mb.lastAlloc.length !== M * Na * Nt ||
    mb.entityMask.length !== M * Ne
  ) {
    mb = allocMetaBatch(dims, M, W);
  } else {
    resetMetaBatch(mb);
  }
  const B = batch.batchSize;
  const T = batch.seqLen;
  const seg = segmentRows(batch, opts.actionLength);
  const dp = batch.hierDecision;

  let n = 0;
  let total = 0;
  for (let b = 0; b < B; b++) {
    let wasReset = false;
    for (let t = 0; t < T; t++) {
      const r = b * T + t;
      if (t > 0 && batch.reset[r - 1]) wasReset = true;
      if (!dp[r]) continue;
      total++;
      if (n < M) {
        copySample(batch, dims, W, r, mb, n);
        writeLastAlloc(batch, dims, b, t, wasReset, mb.lastAlloc, n * Na * Nt);
        mb.segReward[n] = seg.segReward[r];
        mb.segTerminated[n] = seg.segTerminated[r];
        mb.mask[n] = seg.mask[r];
        mb.valid[n] = 1;
        mb.tAdded[n] = batch.tAdded[b];
        mb.sourceB[n] = b;
        mb.sourceT[n] = t;
        n++;
      }
      wasReset = false;
    }
  }
  mb.count = n;
  mb.total = total;
  // TD targets exist for j = 0..N−2 only (§12.2): the last sample has no successor.
  for (let j = 0; j < n; j++) {
    const q = j < n - 1 ? mb.mask[j] : 0;
    mb.qMask[j] = q;
    mb.weight[j] = q * ageWeightOf(opts.tEnv, mb.tAdded[j], opts.decayOld);
  }
  return mb;
}

/** `max(0, (decay_old − t_env + t_added)/decay_old)`, or 1 when `decay_old = 0` (§12.2). */
export function ageWeightOf(tEnv: number, tAdded: number, decayOld: number): number {
  if (decayOld === 0) return 1;
  return Math.max(0, (decayOld - tEnv + tAdded) / decayOld);
}

function copySample(
  batch: WindowBatch,
  dims: MetaBatchDims,
  W: number,
  r: number,
  mb: MetaBatch,
  j: number,
): void {
  const { nEntities: Ne, nTasks: Nt, entityShape: De } = dims;
  const src = batch.entities;
  const dst = mb.entities;
  if (W === De) {
    dst.set(src.subarray(r * Ne * De, (r + 1) * Ne * De), j * Ne * De);
  } else {
    for (let e = 0; e < Ne; e++) {
      dst.set(src.subarray((r * Ne + e) * De, (r * Ne + e + 1) * De), (j * Ne + e) * W);
    }
  }
  for (let e = 0; e < Ne; e++) mb.entityMask[j * Ne + e] = batch.entityMask[r * Ne + e];
  const e2t = batch.entity2taskMask;
  for (let i = 0; i < Ne * Nt; i++) mb.entity2taskMask[j * Ne * Nt + i] = e2t[r * Ne * Nt + i];
  for (let k = 0; k < Nt; k++) mb.taskMask[j * Nt + k] = batch.taskMask[r * Nt + k];
}

function resetMetaBatch(mb: MetaBatch): void {
  mb.count = 0;
  mb.total = 0;
  mb.entities.fill(0);
  mb.entityMask.fill(1);
  mb.entity2taskMask.fill(1);
  mb.taskMask.fill(1);
  mb.lastAlloc.fill(0);
  mb.segReward.fill(0);
  mb.segTerminated.fill(0);
  mb.mask.fill(0);
  mb.qMask.fill(0);
  mb.weight.fill(0);
  mb.valid.fill(0);
  mb.tAdded.fill(0);
  mb.sourceB.fill(-1);
  mb.sourceT.fill(-1);
}
