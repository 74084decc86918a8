/**
 * Synthetic low-level batches with SaveTheCity-like structure, for tests and the learner
 * benchmark (no engine code here). Windows span several episodes of random composition
 * (2..Na agents, agents+1 buildings, padded slots masked), with allocations that change every few
 * rows, finished subtasks, rewards and episode boundaries, so that every mask path of §11 is used.
 */
import type { LowLevelBatch, LowLevelDims } from "./lowLevel.js";

/** Small deterministic generator (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticBatchOptions {
  /** Probability that an episode ends at a row (default 1/40). */
  readonly endProb?: number;
  /** Rows of padding (filled = 0) at the end of each entry (default 0). */
  readonly padRows?: number;
  /** Write allocations into the agent rows of entity2taskMask (default true). */
  readonly allocate?: boolean;
  /** Use subtask-tagged availability codes 2+k for actions ≥ A−3 (default true). */
  readonly taskCodes?: boolean;
}

/** Build a random `LowLevelBatch` of `B` entries with `T1` rows each. */
export function syntheticLowLevelBatch(
  dims: LowLevelDims,
  B: number,
  T1: number,
  seed: number,
  opts: SyntheticBatchOptions = {},
): LowLevelBatch {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, nActions: A, entityShape: De } = dims;
  const rnd = mulberry32(seed);
  const endProb = opts.endProb ?? 1 / 40;
  const padRows = opts.padRows ?? 0;
  const allocate = opts.allocate ?? true;
  const taskCodes = opts.taskCodes ?? true;
  const R = B * T1;
  const b: LowLevelBatch = {
    batchSize: B,
    maxSeqLength: T1,
    entities: new Float32Array(R * Ne * De),
    obsMask: new Uint8Array(R * Ne * Ne).fill(1),
    entityMask: new Uint8Array(R * Ne).fill(1),
    entity2taskMask: new Uint8Array(R * Ne * Nt).fill(1),
    availActions: new Int32Array(R * Na * A),
    actions: new Int32Array(R * Na),
    reward: new Float32Array(R),
    terminated: new Uint8Array(R),
    reset: new Uint8Array(R),
    taskRewards: new Float32Array(R * Nt),
    tasksTerminated: new Uint8Array(R * Nt),
    filled: new Uint8Array(R),
  };
  for (let bi = 0; bi < B; bi++) {
    let nA = 0;
    let nB = 0;
    let alloc: number[] = [];
    let done: number[] = [];
    let newEpisode = true;
    for (let t = 0; t < T1; t++) {
      const row = bi * T1 + t;
      if (t >= T1 - padRows) {
        // Padding rows: everything zero except the "absent" masks, filled = 0.
        for (let i = 0; i < Na; i++) b.availActions[(row * Na + i) * A] = 1;
        continue;
      }
      if (newEpisode) {
        nA = 2 + Math.floor(rnd() * (Na - 1));
        nB = Math.min(nA + 1, Nt, Ne - Na);
        alloc = Array.from({ length: Na }, () => -1);
        done = Array.from({ length: Nt }, (_, k) => (k < nB ? 0 : 1));
        newEpisode = false;
      }
      b.filled[row] = 1;
      if (allocate && (t % 5 === 0 || alloc[0] < 0)) {
        const open = done.flatMap((d, k) => (d === 0 ? [k] : []));
        for (let i = 0; i < nA; i++) {
          alloc[i] = open.length > 0 ? open[Math.floor(rnd() * open.length)] : -1;
        }
      }
      const active = (e: number) => (e < Na ? e < nA : e - Na < nB);
      for (let e = 0; e < Ne; e++) {
        if (!active(e)) continue;
        b.entityMask[row * Ne + e] = 0;
        for (let f = 0; f < De; f++) b.entities[(row * Ne + e) * De + f] = rnd() * 2 - 1;
        for (let j = 0; j < Ne; j++) if (active(j)) b.obsMask[(row * Ne + e) * Ne + j] = 0;
        const k = e < Na ? alloc[e] : e - Na;
        if (k >= 0) b.entity2taskMask[(row * Ne + e) * Nt + k] = 0;
      }
      for (let i = 0; i < Na; i++) {
        const base = (row * Na + i) * A;
        b.availActions[base] = 1;
        if (i < nA) {
          for (let a = 1; a < A; a++) {
            if (rnd() < 0.5) continue;
            const tagged = taskCodes && a >= A - 3;
            b.availActions[base + a] = tagged ? 2 + Math.floor(rnd() * nB) : 1;
          }
        }
        const avail: number[] = [];
        for (let a = 0; a < A; a++) if (b.availActions[base + a] !== 0) avail.push(a);
        b.actions[row * Na + i] = avail[Math.floor(rnd() * avail.length)];
      }
      const last = t === T1 - padRows - 1;
      const ends = !last && rnd() < endProb;
      b.reward[row] = rnd() * 2 - 1;
      for (let k = 0; k < Nt; k++) {
        if (k < nB && done[k] === 0) {
          b.taskRewards[row * Nt + k] = rnd() * 2 - 1;
          if (rnd() < 0.02) done[k] = 1;
        }
        b.tasksTerminated[row * Nt + k] = done[k];
      }
      if (ends) {
        b.reset[row] = 1;
        b.terminated[row] = rnd() < 0.5 ? 1 : 0;
        newEpisode = true;
      }
    }
  }
  return b;
}
