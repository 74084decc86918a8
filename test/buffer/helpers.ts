/** Hand-made episodes with recognisable values, and helpers to compare batches against them. */
import assert from "node:assert/strict";
import {
  allocEpisodeArrays,
  type EpisodeArrays,
  type EpisodeDims,
  type EpisodeRecord,
  encodeEpisode,
  FIELD_ORDER,
  fieldLayouts,
  type RandomSource,
  type WindowBatch,
} from "../../src/buffer/index.js";

/** Tiny dims: 2 agents, 3 entities, 2 subtasks, 4 actions, 2 features. */
export const TINY: EpisodeDims = {
  nAgents: 2,
  nEntities: 3,
  nTasks: 2,
  nActions: 4,
  entityShape: 2,
};

/** SaveTheCity `2-5a_2-5b` sizes (spec §2.1). */
export const STC: EpisodeDims = {
  nAgents: 5,
  nEntities: 11,
  nTasks: 6,
  nActions: 12,
  entityShape: 58,
};

export interface HandEpisode {
  tag: number;
  nRows: number;
  arrays: EpisodeArrays;
  rec: EpisodeRecord;
}

/**
 * An episode of `nRows` rows (L = nRows − 1 steps) whose values identify it: entity feature 0 of
 * every entity at row r is `tag·1000 + r`, so a window's rows can be read back as (episode, row).
 * Other fields follow simple formulas with changes over time (exercising the delta encoding) and
 * the §2.2 conventions: the final row's reward/terminated/reset/task fields are 0, `reset` is 1 at
 * row L − 1, `terminated` there only for odd tags (even tags end by time limit).
 */
export function handEpisode(tag: number, nRows: number, tAdded: number, dims = TINY): HandEpisode {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, nActions: A, entityShape: De } = dims;
  const L = nRows - 1;
  const a = allocEpisodeArrays(dims, nRows);
  for (let r = 0; r < nRows; r++) {
    for (let e = 0; e < Ne; e++) {
      a.entities[(r * Ne + e) * De] = tag * 1000 + r;
      for (let f = 1; f < De; f++) a.entities[(r * Ne + e) * De + f] = e + 0.5 * f;
      a.entityMask[r * Ne + e] = e === Ne - 1 && r >= 2 ? 1 : 0;
      for (let j = 0; j < Ne; j++) a.obsMask[(r * Ne + e) * Ne + j] = (e + j + tag) % 2;
      for (let k = 0; k < Nt; k++) a.entity2taskMask[(r * Ne + e) * Nt + k] = (e + k + r) % 2;
    }
    for (let i = 0; i < Na; i++) {
      for (let act = 0; act < A; act++) {
        a.availActions[(r * Na + i) * A + act] =
          act === 0 ? 1 : act === A - 1 ? 1000 + ((i + 1) % Na) : (r + i + act) % 3;
      }
      a.actions[r * Na + i] = (r + i + tag) % A;
    }
    for (let k = 0; k < Nt; k++) a.taskMask[r * Nt + k] = k === Nt - 1 && r >= L ? 1 : 0;
    a.hierDecision[r] = r % 2 === 0 && r < L ? 1 : 0;
    if (r < L) {
      a.reward[r] = tag + r / 8;
      a.reset[r] = r === L - 1 ? 1 : 0;
      a.terminated[r] = r === L - 1 ? tag % 2 : 0;
      for (let k = 0; k < Nt; k++) {
        a.taskRewards[r * Nt + k] = k + r * 0.25;
        a.tasksTerminated[r * Nt + k] = r === L - 1 ? 1 : 0;
      }
    }
  }
  return { tag, nRows, arrays: a, rec: encodeEpisode(dims, a, nRows, tAdded) };
}

/** Rows [from, to) of one field of dense arrays, as a plain number array. */
export function fieldRows(
  dims: EpisodeDims,
  arrays: EpisodeArrays,
  field: keyof EpisodeArrays,
  from: number,
  to: number,
): number[] {
  const R = fieldLayouts(dims).find((l) => l.name === field)!.rowLen;
  return Array.from(arrays[field].subarray(from * R, to * R));
}

/** Assert batch row `b` equals the rows [start, start+T) of the concatenation of `episodes`. */
export function assertWindowEquals(
  batch: WindowBatch,
  b: number,
  episodes: readonly HandEpisode[],
  start: number,
  msg = "",
): void {
  const dims = batch.dims;
  const T = batch.seqLen;
  for (const field of FIELD_ORDER) {
    const R = fieldLayouts(dims).find((l) => l.name === field)!.rowLen;
    const expected: number[] = [];
    let pos = start;
    let need = T;
    let base = 0;
    for (const ep of episodes) {
      if (need === 0) break;
      if (pos < base + ep.nRows) {
        const from = pos - base;
        const take = Math.min(need, ep.nRows - from);
        expected.push(...fieldRows(dims, ep.arrays, field, from, from + take));
        need -= take;
        pos += take;
      }
      base += ep.nRows;
    }
    assert.equal(need, 0, `window past the end ${msg}`);
    const got = Array.from(batch[field].subarray(b * T * R, (b + 1) * T * R));
    assert.deepEqual(got, expected, `field ${field}, batch row ${b} ${msg}`);
  }
  assert.deepEqual(Array.from(batch.filled.subarray(b * T, (b + 1) * T)), new Array(T).fill(1));
}

/** Feature 0 of entity 0 per row of batch row b: decodes (tag, row) pairs as `tag·1000 + row`. */
export function rowCodes(batch: WindowBatch, b: number): number[] {
  const { nEntities: Ne, entityShape: De } = batch.dims;
  const out: number[] = [];
  for (let t = 0; t < batch.seqLen; t++)
    out.push(batch.entities[(b * batch.seqLen + t) * Ne * De]!);
  return out;
}

/** A random source that replays a script of results and checks the bounds it is asked for. */
export class ScriptedRng implements RandomSource {
  readonly asked: number[] = [];
  private i = 0;
  constructor(private readonly script: readonly number[]) {}
  int(n: number): number {
    this.asked.push(n);
    const v = this.script[this.i++];
    if (v === undefined) throw new Error(`ScriptedRng: script exhausted (asked int(${n}))`);
    if (v < 0 || v >= n) throw new Error(`ScriptedRng: scripted ${v} is outside [0, ${n})`);
    return v;
  }
}
