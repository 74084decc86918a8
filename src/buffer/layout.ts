/**
 * The episode record of spec §2.2: which per-row fields exist, their shapes and how each is
 * stored. Shared by the builder, the compact encoding, the sampler and the file format.
 *
 * MASK POLARITY (spec conventions, checklist §19.1): every mask is 1 = blocked / absent / not a
 * member, 0 = allowed / present / member.
 */

/** Padded sizes of one environment family (spec §2.1 `get_env_info`); fixed for a buffer. */
export interface EpisodeDims {
  /** Na: maximum (padded) number of agents. Agents are entity rows 0..Na−1. */
  readonly nAgents: number;
  /** Ne: entity slots (agents first, then non-agent entities). */
  readonly nEntities: number;
  /** Nt: maximum (padded) number of subtasks. */
  readonly nTasks: number;
  /** A: low-level actions per agent. */
  readonly nActions: number;
  /** De: entity feature length. */
  readonly entityShape: number;
}

/**
 * Dense per-row arrays of one episode (or of a batch, see `WindowBatch`), row-major with rows as
 * the outermost axis: field `f` of row `r` occupies `[r·R_f, (r+1)·R_f)` where `R_f` is the
 * field's row length. Names follow spec §2.2 in camelCase.
 */
export interface EpisodeArrays {
  /** [rows, Ne, De] entity features observed at the row (pre-transition, §2.1); padded slots 0. */
  entities: Float32Array;
  /** [rows, Ne, Ne] `[i,j] = 1` ⇒ entity i cannot observe entity j (§2.1). */
  obsMask: Uint8Array;
  /** [rows, Ne] 1 ⇒ slot inactive (padding or dead) (§2.1). */
  entityMask: Uint8Array;
  /**
   * [rows, Na, A] available-action codes (§2.1): 0 unavailable, 1 available, `2+k` only for an
   * agent allocated to subtask k, `1000+j` targets ally j. Stored as int16.
   */
  availActions: Int32Array;
  /**
   * [rows, Ne, Nt] `[e,k] = 0` ⇒ entity e belongs to subtask k (§2.1). Agent rows hold the
   * allocation in force at the row, written by the controller (§2.2, §9.2): 1 − one-hot, all ones
   * for unallocated/inactive agents.
   */
  entity2taskMask: Uint8Array;
  /** [rows, Nt] 1 ⇒ subtask inactive (finished, failed or padding) (§2.1). */
  taskMask: Uint8Array;
  /** [rows] 1 if a new allocation was chosen at this row (§2.2, §9.1). */
  hierDecision: Uint8Array;
  /** [rows, Na] action index taken at the row; the final row holds the dummy action (§2.2). */
  actions: Int32Array;
  /** [rows] global reward of the step taken at the row; 0 on the final row (§2.2). */
  reward: Float32Array;
  /** [rows] 1 iff the episode ended at this step and not only by the time limit (§2.2). */
  terminated: Uint8Array;
  /** [rows] 1 iff the episode ended at this step for any reason (§2.2). */
  reset: Uint8Array;
  /** [rows, Nt] per-subtask reward of the step (§2.2). */
  taskRewards: Float32Array;
  /** [rows, Nt] subtask completion flags after the step (§2.2); 0 on the final row. */
  tasksTerminated: Uint8Array;
}

export type EpisodeFieldName = keyof EpisodeArrays;

/** Storage element type of a field inside a compact episode. */
export type StorageKind = "f32" | "u8" | "i16" | "u16";

/** Numeric codes of `StorageKind` used in the binary encodings. */
export const KIND_CODE: Readonly<Record<StorageKind, number>> = { f32: 1, u8: 2, i16: 3, u16: 4 };
export const KIND_BYTES: Readonly<Record<StorageKind, number>> = { f32: 4, u8: 1, i16: 2, u16: 2 };

/** One field's layout under given dims. */
export interface FieldLayout {
  readonly name: EpisodeFieldName;
  /** Elements per row. */
  readonly rowLen: number;
  /** How the compact episode stores it. */
  readonly kind: StorageKind;
  /** Inclusive value range enforced when encoding to a narrower integer type (null = none). */
  readonly range: readonly [number, number] | null;
}

/**
 * Field order is fixed: it is the order of the per-field table inside every compact episode and
 * therefore part of the file format.
 */
export const FIELD_ORDER: readonly EpisodeFieldName[] = [
  "entities",
  "obsMask",
  "entityMask",
  "availActions",
  "entity2taskMask",
  "taskMask",
  "hierDecision",
  "actions",
  "reward",
  "terminated",
  "reset",
  "taskRewards",
  "tasksTerminated",
];

/** Validate dims (positive integers, Na ≤ Ne) and return them as a plain frozen object. */
export function checkDims(d: EpisodeDims): EpisodeDims {
  for (const k of ["nAgents", "nEntities", "nTasks", "nActions", "entityShape"] as const) {
    const v = d[k];
    if (!Number.isInteger(v) || v < 1 || v > 1_000_000) {
      throw new RangeError(`episode dims: ${k} must be a positive integer, got ${v}`);
    }
  }
  if (d.nAgents > d.nEntities) {
    throw new RangeError(`episode dims: nAgents (${d.nAgents}) > nEntities (${d.nEntities})`);
  }
  return Object.freeze({
    nAgents: d.nAgents,
    nEntities: d.nEntities,
    nTasks: d.nTasks,
    nActions: d.nActions,
    entityShape: d.entityShape,
  });
}

export function sameDims(a: EpisodeDims, b: EpisodeDims): boolean {
  return (
    a.nAgents === b.nAgents &&
    a.nEntities === b.nEntities &&
    a.nTasks === b.nTasks &&
    a.nActions === b.nActions &&
    a.entityShape === b.entityShape
  );
}

/** Per-field layouts for `dims`, in `FIELD_ORDER`. */
export function fieldLayouts(d: EpisodeDims): readonly FieldLayout[] {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, nActions: A, entityShape: De } = d;
  const f = (
    name: EpisodeFieldName,
    rowLen: number,
    kind: StorageKind,
    range: readonly [number, number] | null = null,
  ): FieldLayout => ({ name, rowLen, kind, range });
  // Actions are indices < A: bytes suffice for every environment here (A ≤ 23).
  const actionKind: StorageKind = A <= 256 ? "u8" : "u16";
  return [
    f("entities", Ne * De, "f32"),
    f("obsMask", Ne * Ne, "u8"),
    f("entityMask", Ne, "u8"),
    // Codes go up to 1000 + Na (§2.1): int16 halves the int32 the environment hands out.
    f("availActions", Na * A, "i16", [-32768, 32767]),
    f("entity2taskMask", Ne * Nt, "u8"),
    f("taskMask", Nt, "u8"),
    f("hierDecision", 1, "u8"),
    f("actions", Na, actionKind, [0, A - 1]),
    f("reward", 1, "f32"),
    f("terminated", 1, "u8"),
    f("reset", 1, "u8"),
    f("taskRewards", Nt, "f32"),
    f("tasksTerminated", Nt, "u8"),
  ];
}

/** Allocate zeroed dense arrays for `rows` rows. */
export function allocEpisodeArrays(d: EpisodeDims, rows: number): EpisodeArrays {
  const L = fieldLayouts(d);
  const n = (i: number) => rows * L[i]!.rowLen;
  return {
    entities: new Float32Array(n(0)),
    obsMask: new Uint8Array(n(1)),
    entityMask: new Uint8Array(n(2)),
    availActions: new Int32Array(n(3)),
    entity2taskMask: new Uint8Array(n(4)),
    taskMask: new Uint8Array(n(5)),
    hierDecision: new Uint8Array(n(6)),
    actions: new Int32Array(n(7)),
    reward: new Float32Array(n(8)),
    terminated: new Uint8Array(n(9)),
    reset: new Uint8Array(n(10)),
    taskRewards: new Float32Array(n(11)),
    tasksTerminated: new Uint8Array(n(12)),
  };
}

/**
 * Bytes one episode of `rows` rows takes stored densely with the field kinds above (entities
 * float32, masks bytes, action codes int16, actions bytes): the baseline the compact (delta)
 * encoding is compared with in `ReplayMemoryUsage`.
 */
export function denseEpisodeBytes(d: EpisodeDims, rows: number): number {
  let perRow = 0;
  for (const f of fieldLayouts(d)) perRow += f.rowLen * KIND_BYTES[f.kind];
  return perRow * rows;
}
