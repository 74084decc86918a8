/**
 * Episode replay buffer (spec §10): a FIFO ring of `buffer_size` (5000) compact episodes, uniform
 * sampling without replacement (optionally among episodes passing a filter, §12), and windows of
 * `max_traj_len` (64) rows cut from the concatenation of the sampled episodes.
 */
import { DecodeScratch, decodeRows, type EpisodeRecord, parseEpisodeBytes } from "./episode.js";
import {
  allocEpisodeArrays,
  checkDims,
  denseEpisodeBytes,
  type EpisodeArrays,
  type EpisodeDims,
  sameDims,
} from "./layout.js";
import { type RandomSource, stratifiedWindowStarts } from "./window.js";

/**
 * A sampled batch: plain typed arrays `[B, T, ...]`, row-major (batch outermost, then row, then
 * the field's own axes as listed on `EpisodeArrays`). Field `f` of batch row `b`, time row `t`
 * starts at element `(b·T + t)·R_f`.
 *
 * In window mode (some sampled episode had more than `maxTrajLen` rows) every batch row is
 * `maxTrajLen` consecutive rows of the concatenation of the sampled episodes: a window can end
 * one episode and start the next, so use `reset` to find boundaries (a row after `reset = 1` is
 * the earlier episode's final-observation row, then row 0 of the next episode follows). In padded
 * mode each batch row is one whole episode, zero-padded (every field 0, `filled = 0`) up to T.
 */
export interface WindowBatch extends EpisodeArrays {
  /** B: batch rows (sampled episodes / windows). */
  readonly batchSize: number;
  /** T: rows per batch row (`maxTrajLen` in window mode, else the longest sampled episode). */
  readonly seqLen: number;
  /** Sizes of the per-row fields. */
  readonly dims: EpisodeDims;
  /** True when the rows were cut as windows from the concatenation (§10). */
  readonly windowed: boolean;
  /** [B, T] 1 for rows holding data (§2.2 `filled`): all rows in window mode, rows 0..L in padded mode. */
  filled: Uint8Array;
  /**
   * [B] `t_added` of the b-th *sampled* episode (§2.2). In window mode it stays attached to the
   * batch row index, not to the episode(s) actually inside window b (spec §10, §20.7).
   */
  tAdded: Float64Array;
  /** [B] insertion sequence number of the b-th sampled episode (diagnostics, tests). */
  episodeIds: Float64Array;
  /** [B] start of window b in the concatenated sequence; −1 in padded mode (diagnostics). */
  windowStarts: Int32Array;
}

/** Allocate a zeroed `WindowBatch` of B × T rows. */
export function allocWindowBatch(
  dims: EpisodeDims,
  batchSize: number,
  seqLen: number,
  windowed = false,
): WindowBatch {
  return {
    ...allocEpisodeArrays(dims, batchSize * seqLen),
    batchSize,
    seqLen,
    dims,
    windowed,
    filled: new Uint8Array(batchSize * seqLen),
    tAdded: new Float64Array(batchSize),
    episodeIds: new Float64Array(batchSize),
    windowStarts: new Int32Array(batchSize).fill(-1),
  };
}

/** Episode filter: keep the episode when it returns true. */
export type EpisodeFilter = (tAdded: number, episodeId: number) => boolean;

/** Options of `EpisodeReplayBuffer.sample`. */
export interface SampleOptions {
  /** Only episodes passing it are candidates (the allocator's recency filter, §12; see `recencyFilter`). */
  filter?: EpisodeFilter;
  /**
   * Always return `T = maxTrajLen` rows, zero-padding (filled = 0) when no sampled episode is
   * longer. Keeps one shape for compiled training steps. Default false (spec: cut to the longest).
   */
  fixedLength?: boolean;
  /** Reuse this batch's arrays when its B, T and dims match (it is overwritten). */
  out?: WindowBatch;
}

/** Memory accounting of a buffer (`EpisodeReplayBuffer.memoryUsage`). */
export interface ReplayMemoryUsage {
  /** Stored episodes. */
  readonly episodes: number;
  /** Stored rows (Σ (L + 1)). */
  readonly rows: number;
  /** Bytes of the compact episode encodings. */
  readonly dataBytes: number;
  /** Estimated JS object overhead (record objects, typed-array headers, ring bookkeeping). */
  readonly overheadBytes: number;
  /** `dataBytes + overheadBytes`. */
  readonly totalBytes: number;
  /** What the same episodes would take stored densely (masks bytes, entities float32). */
  readonly denseBytes: number;
}

/**
 * Estimated V8 heap cost per stored episode beyond its data: the `EpisodeRecord` object, the
 * `Uint8Array` and its `ArrayBuffer` headers (measured ≈ 240 B of V8 heap on Node 20) plus
 * backing-store and allocator bookkeeping (measured RSS growth ≈ 590 B per record beyond its data).
 */
export const EPISODE_OVERHEAD_BYTES = 512;

/** Construction parameters (from `config.buffer`, spec §18.1). */
export interface ReplayBufferOptions {
  /** Capacity in episodes (`buffer_size`, 5000). */
  capacity: number;
  /** Window length (`max_traj_len`, 64); −1 disables windows. */
  maxTrajLen: number;
}

/**
 * FIFO ring of compact episodes (spec §10). Episodes are addressed by age: index 0 is the oldest
 * stored episode. Sampling draws only from the `RandomSource` passed in, so the caller owns (and
 * checkpoints) the generator state.
 */
export class EpisodeReplayBuffer {
  readonly dims: EpisodeDims;
  readonly capacity: number;
  readonly maxTrajLen: number;
  private readonly slots: (EpisodeRecord | undefined)[];
  private readonly slotTAdded: Float64Array;
  private readonly slotIds: Float64Array;
  private head = 0; // next slot to write
  private count = 0;
  private nextId = 0;
  private rowsStored = 0;
  private bytesStored = 0;
  private readonly scratch: DecodeScratch;

  constructor(dims: EpisodeDims, opts: ReplayBufferOptions) {
    this.dims = checkDims(dims);
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) {
      throw new RangeError(
        `replay buffer: capacity must be a positive integer, got ${opts.capacity}`,
      );
    }
    if (!Number.isInteger(opts.maxTrajLen) || (opts.maxTrajLen !== -1 && opts.maxTrajLen < 2)) {
      throw new RangeError(
        `replay buffer: maxTrajLen must be -1 or an integer ≥ 2, got ${opts.maxTrajLen}`,
      );
    }
    this.capacity = opts.capacity;
    this.maxTrajLen = opts.maxTrajLen;
    this.slots = new Array(opts.capacity);
    this.slotTAdded = new Float64Array(opts.capacity);
    this.slotIds = new Float64Array(opts.capacity);
    this.scratch = new DecodeScratch(this.dims);
  }

  /** Stored episodes (≤ capacity). */
  get size(): number {
    return this.count;
  }

  /** Episodes ever inserted; also the id the next episode gets. */
  get totalInserted(): number {
    return this.nextId;
  }

  /**
   * Append an episode, evicting the oldest when full (FIFO, §10). Validates the encoding against
   * the buffer's dims once here so sampling can trust it.
   */
  insert(rec: EpisodeRecord): void {
    parseEpisodeBytes(this.dims, rec.bytes, rec.nRows);
    this.insertTrusted(rec, this.nextId);
  }

  /** Append several episodes in order (a collection run's batch may wrap the ring, §10). */
  insertMany(recs: Iterable<EpisodeRecord>): void {
    for (const r of recs) this.insert(r);
  }

  /** @internal used by the file reader, which has validated `rec` and restores its id. */
  insertTrusted(rec: EpisodeRecord, id: number): void {
    const old = this.slots[this.head];
    if (old) {
      this.rowsStored -= old.nRows;
      this.bytesStored -= old.bytes.byteLength;
    }
    this.slots[this.head] = rec;
    this.slotTAdded[this.head] = rec.tAdded;
    this.slotIds[this.head] = id;
    this.rowsStored += rec.nRows;
    this.bytesStored += rec.bytes.byteLength;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    this.nextId = Math.max(this.nextId, id + 1);
  }

  /** @internal used by the file reader: the insertion counter survives evictions. */
  restoreTotalInserted(n: number): void {
    if (!Number.isInteger(n) || n < this.nextId) {
      throw new RangeError(
        `replay buffer: totalInserted ${n} is below the stored ids (${this.nextId})`,
      );
    }
    this.nextId = n;
  }

  private slotOf(ageIndex: number): number {
    return (this.head - this.count + ageIndex + this.capacity) % this.capacity;
  }

  /** The episode at age index `i` (0 = oldest). */
  episode(i: number): EpisodeRecord {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`replay buffer: episode index ${i} out of range [0, ${this.count})`);
    }
    return this.slots[this.slotOf(i)]!;
  }

  /** Insertion id of the episode at age index `i`. */
  episodeId(i: number): number {
    this.episode(i);
    return this.slotIds[this.slotOf(i)]!;
  }

  /** Age indices of the stored episodes that pass `filter` (all when undefined), oldest first. */
  candidates(filter?: EpisodeFilter): Int32Array {
    const out = new Int32Array(this.count);
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const s = this.slotOf(i);
      if (!filter || filter(this.slotTAdded[s]!, this.slotIds[s]!)) out[n++] = i;
    }
    return out.subarray(0, n);
  }

  /** `can_sample(n)` (§10): at least `n` stored episodes pass `filter`. */
  canSample(n: number, filter?: EpisodeFilter): boolean {
    if (!filter) return this.count >= n;
    return this.candidates(filter).length >= n;
  }

  /** Decode one whole stored episode (age index `i`) as a B = 1 batch of its L + 1 rows. */
  decodeEpisode(i: number): WindowBatch {
    const rec = this.episode(i);
    const b = allocWindowBatch(this.dims, 1, rec.nRows);
    decodeRows(this.dims, rec, 0, rec.nRows, b, 0, this.scratch);
    b.filled.fill(1);
    b.tAdded[0] = rec.tAdded;
    b.episodeIds[0] = this.slotIds[this.slotOf(i)]!;
    return b;
  }

  /**
   * `sample(n, filter)` of spec §10, then the window cut:
   *
   * 1. Candidates = stored episodes passing `filter`, oldest first. Fewer than `n` → throws (check
   *    `canSample` first). Exactly `n` → all of them, oldest first. Otherwise `n` distinct ones
   *    uniformly without replacement, in draw order (partial Fisher–Yates: `n` draws from `rng`).
   * 2. If `maxTrajLen > 0` and some sampled episode has more than `maxTrajLen` rows: concatenate
   *    the sampled episodes' rows in batch order (S rows), split `[0, S − W + 1)` into `n` bins
   *    with edges `round(i·(S − W + 1)/n)`, draw one start per bin (`n` more draws,
   *    `stratifiedWindowStarts`), and batch row b = concatenated rows `[start_b, start_b + W)`.
   *    All rows filled; `tAdded[b]` is the b-th sampled episode's.
   * 3. Otherwise batch row b = sampled episode b, zero-padded to the longest (or to `maxTrajLen`
   *    with `fixedLength`).
   */
  sample(n: number, rng: RandomSource, opts: SampleOptions = {}): WindowBatch {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`replay buffer: sample size must be ≥ 1, got ${n}`);
    const cand = this.candidates(opts.filter);
    if (cand.length < n) {
      throw new Error(
        `replay buffer: cannot sample ${n} episodes, only ${cand.length} ${opts.filter ? "pass the filter" : "are stored"}`,
      );
    }
    const chosen = new Int32Array(n);
    if (cand.length === n) {
      chosen.set(cand);
    } else {
      const pool = Int32Array.from(cand);
      for (let i = 0; i < n; i++) {
        const j = i + rng.int(pool.length - i);
        const tmp = pool[i]!;
        pool[i] = pool[j]!;
        pool[j] = tmp;
        chosen[i] = pool[i]!;
      }
    }
    const recs = Array.from(chosen, (i) => this.episode(i));
    const W = this.maxTrajLen;
    let longest = 0;
    let total = 0;
    for (const r of recs) {
      longest = Math.max(longest, r.nRows);
      total += r.nRows;
    }
    const windowed = W > 0 && longest > W;
    const T = windowed ? W : opts.fixedLength && W > 0 ? W : longest;
    let batch = opts.out;
    if (
      !batch ||
      batch.batchSize !== n ||
      batch.seqLen !== T ||
      batch.windowed !== windowed ||
      !sameDims(batch.dims, this.dims)
    ) {
      batch = allocWindowBatch(this.dims, n, T, windowed);
    } else if (!windowed) {
      zeroBatch(batch); // padded rows must read 0 (spec §10: zero-padded)
    }
    for (let b = 0; b < n; b++) {
      const s = this.slotOf(chosen[b]!);
      batch.tAdded[b] = this.slotTAdded[s]!;
      batch.episodeIds[b] = this.slotIds[s]!;
    }
    if (!windowed) {
      batch.windowStarts.fill(-1);
      for (let b = 0; b < n; b++) {
        const r = recs[b]!;
        decodeRows(this.dims, r, 0, r.nRows, batch, b * T, this.scratch);
        batch.filled.fill(1, b * T, b * T + r.nRows);
      }
      return batch;
    }
    // Window mode: prefix sums of episode lengths locate a start in the concatenation.
    const startsOfEp = new Float64Array(n + 1);
    for (let k = 0; k < n; k++) startsOfEp[k + 1] = startsOfEp[k]! + recs[k]!.nRows;
    const starts = stratifiedWindowStarts(total, W, n, rng);
    batch.windowStarts.set(starts);
    batch.filled.fill(1);
    for (let b = 0; b < n; b++) {
      let pos = starts[b]!;
      let k = 0;
      while (startsOfEp[k + 1]! <= pos) k++;
      let outRow = b * T;
      let remaining = W;
      while (remaining > 0) {
        const r = recs[k]!;
        const from = pos - startsOfEp[k]!;
        const take = Math.min(remaining, r.nRows - from);
        decodeRows(this.dims, r, from, from + take, batch, outRow, this.scratch);
        outRow += take;
        remaining -= take;
        pos += take;
        k++;
      }
    }
    return batch;
  }

  /** Bytes used (compact data + estimated object overhead) and the dense-storage comparison. */
  memoryUsage(): ReplayMemoryUsage {
    const overhead =
      this.count * EPISODE_OVERHEAD_BYTES + this.capacity * (8 + 8 + 8) /* slots, tAdded, ids */;
    return {
      episodes: this.count,
      rows: this.rowsStored,
      dataBytes: this.bytesStored,
      overheadBytes: overhead,
      totalBytes: this.bytesStored + overhead,
      denseBytes: denseEpisodeBytes(this.dims, this.rowsStored),
    };
  }

  /** Shorthand for `memoryUsage().totalBytes`. */
  bytesUsed(): number {
    return this.memoryUsage().totalBytes;
  }
}

function zeroBatch(b: WindowBatch): void {
  for (const a of [
    b.entities,
    b.obsMask,
    b.entityMask,
    b.availActions,
    b.entity2taskMask,
    b.taskMask,
    b.hierDecision,
    b.actions,
    b.reward,
    b.terminated,
    b.reset,
    b.taskRewards,
    b.tasksTerminated,
    b.filled,
  ]) {
    a.fill(0);
  }
}
