/**
 * Compact, immutable episode storage (spec §2.2, §10: "episodes are stored unpadded").
 *
 * Why more than "unpadded": a SaveTheCity episode is up to 151 rows of ~2.9 KB dense (the entity
 * matrix alone is 11×58 float32), so 5000 dense episodes would take ~2.2 GB, over the issue's
 * 1 GB resident budget. Almost everything in a row repeats the previous row (observation masks
 * are constant, buildings do not move, agents move one cell), so each field is stored either
 * densely or as row 0 plus, for every later row, the list of elements that changed (index +
 * value). The smaller of the two is chosen per field and per episode, so the worst case is the
 * dense size plus a 288-byte header. Element types stay as the brief asks: entities float32,
 * masks bytes. Decoding is exact (float changes are detected on the bit pattern).
 *
 * Encoding (one `Uint8Array` per episode, native little-endian typed arrays, every section
 * 4-byte aligned so typed-array views can be taken in place):
 *
 *   u32 nRows, u32 nFields, u32 Na, Ne, Nt, A, De (the dims it was encoded for)
 *   per field (FIELD_ORDER): u32 packed(mode | kind<<8 | idxBytes<<16 | countBytes<<24),
 *                            u32 nChanges, u32 valuesOff, u32 idxOff, u32 countsOff
 *   sections:
 *     dense (mode 0): values[nRows·R]
 *     delta (mode 1): values[R + nChanges] (row 0, then the changed values in row order),
 *                     idx[nChanges] (u16 or u32 element index within the row),
 *                     counts[nRows − 1] (u16 or u32 changes of rows 1..nRows−1)
 */
import {
  type EpisodeArrays,
  type EpisodeDims,
  FIELD_ORDER,
  type FieldLayout,
  fieldLayouts,
  KIND_BYTES,
  KIND_CODE,
  type StorageKind,
} from "./layout.js";

const HEADER_WORDS_PER_FIELD = 5;
/** Words before the per-field table: nRows, nFields, then the five dims. */
const HEADER_PREFIX_WORDS = 7;
const MODE_DENSE = 0;
const MODE_DELTA = 1;

/** Header bytes of an encoded episode. */
export const EPISODE_HEADER_BYTES =
  (HEADER_PREFIX_WORDS + FIELD_ORDER.length * HEADER_WORDS_PER_FIELD) * 4;

type StorageArray = Float32Array | Uint8Array | Int16Array | Uint16Array;

function makeStorage(
  kind: StorageKind,
  buf: ArrayBuffer,
  byteOffset: number,
  len: number,
): StorageArray {
  switch (kind) {
    case "f32":
      return new Float32Array(buf, byteOffset, len);
    case "u8":
      return new Uint8Array(buf, byteOffset, len);
    case "i16":
      return new Int16Array(buf, byteOffset, len);
    case "u16":
      return new Uint16Array(buf, byteOffset, len);
  }
}

function allocStorage(kind: StorageKind, len: number): StorageArray {
  return makeStorage(kind, new ArrayBuffer(len * KIND_BYTES[kind]), 0, len);
}

/** Integer view with the same element width, so float changes are found on the bit pattern. */
function bitsView(a: StorageArray): Uint32Array | Uint8Array | Int16Array | Uint16Array {
  return a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
}

const align4 = (n: number) => (n + 3) & ~3;

/** A field prepared for writing: converted to storage kind, with its change count. */
interface Prepared {
  layout: FieldLayout;
  dense: StorageArray;
  mode: number;
  nChanges: number;
  idxBytes: number;
  countBytes: number;
  valuesBytes: number;
  idxSectionBytes: number;
  countsSectionBytes: number;
}

function prepareField(layout: FieldLayout, src: ArrayLike<number>, nRows: number): Prepared {
  const R = layout.rowLen;
  const total = nRows * R;
  if (src.length < total) {
    throw new RangeError(
      `episode field ${layout.name}: expected at least ${total} values (${nRows} rows × ${R}), got ${src.length}`,
    );
  }
  const dense = allocStorage(layout.kind, total);
  if (layout.range) {
    const [lo, hi] = layout.range;
    for (let i = 0; i < total; i++) {
      const v = src[i]!;
      if (!(v >= lo && v <= hi) || !Number.isInteger(v)) {
        const row = Math.floor(i / R);
        throw new RangeError(
          `episode field ${layout.name}: value ${v} at row ${row}, element ${i - row * R} is outside [${lo}, ${hi}]`,
        );
      }
      dense[i] = v;
    }
  } else if (ArrayBuffer.isView(src)) {
    dense.set((src as unknown as Float64Array).subarray(0, total));
  } else {
    for (let i = 0; i < total; i++) dense[i] = src[i]!;
  }
  const bits = bitsView(dense);
  let nChanges = 0;
  for (let i = R; i < total; i++) if (bits[i] !== bits[i - R]) nChanges++;
  const sz = KIND_BYTES[layout.kind];
  const idxBytes = R <= 65536 ? 2 : 4;
  const countBytes = R <= 65535 ? 2 : 4;
  const denseBytes = align4(total * sz);
  const deltaBytes =
    align4((R + nChanges) * sz) + align4(nChanges * idxBytes) + align4((nRows - 1) * countBytes);
  const useDelta = nRows > 1 && deltaBytes < denseBytes;
  return {
    layout,
    dense,
    mode: useDelta ? MODE_DELTA : MODE_DENSE,
    nChanges: useDelta ? nChanges : 0,
    idxBytes,
    countBytes,
    valuesBytes: useDelta ? align4((R + nChanges) * sz) : denseBytes,
    idxSectionBytes: useDelta ? align4(nChanges * idxBytes) : 0,
    countsSectionBytes: useDelta ? align4((nRows - 1) * countBytes) : 0,
  };
}

/**
 * One stored episode: `nRows` = L + 1 filled rows (rows 0..L, §2.2), its `tAdded` (§2.2: `t_env`
 * when the collection run that produced it started) and the compact encoding. Immutable.
 */
export class EpisodeRecord {
  constructor(
    /** Filled rows, L + 1 for an episode of L env steps. */
    readonly nRows: number,
    /** `t_added` (§2.2). */
    readonly tAdded: number,
    /** The compact encoding (see module doc). Owns its ArrayBuffer (byteOffset 0). */
    readonly bytes: Uint8Array,
  ) {}

  /** Environment steps L of the episode. */
  get length(): number {
    return this.nRows - 1;
  }
}

/**
 * Encode the first `nRows` rows of dense per-row arrays (e.g. an `EpisodeBuilder`'s, or
 * hand-made test data) into a compact `EpisodeRecord`. Integer fields are range-checked
 * (`availActions` must fit int16, `actions` must be in [0, A)).
 */
export function encodeEpisode(
  dims: EpisodeDims,
  arrays: Readonly<Record<keyof EpisodeArrays, ArrayLike<number>>>,
  nRows: number,
  tAdded: number,
): EpisodeRecord {
  if (!Number.isInteger(nRows) || nRows < 1) {
    throw new RangeError(`encodeEpisode: nRows must be a positive integer, got ${nRows}`);
  }
  if (!Number.isFinite(tAdded))
    throw new RangeError(`encodeEpisode: tAdded must be finite, got ${tAdded}`);
  const layouts = fieldLayouts(dims);
  const prepared = layouts.map((l) => {
    const src = arrays[l.name];
    if (!src) throw new TypeError(`encodeEpisode: missing field ${l.name}`);
    return prepareField(l, src, nRows);
  });
  let size = EPISODE_HEADER_BYTES;
  for (const p of prepared) size += p.valuesBytes + p.idxSectionBytes + p.countsSectionBytes;
  const buf = new ArrayBuffer(size);
  const header = new Uint32Array(buf, 0, EPISODE_HEADER_BYTES / 4);
  header[0] = nRows;
  header[1] = prepared.length;
  header.set([dims.nAgents, dims.nEntities, dims.nTasks, dims.nActions, dims.entityShape], 2);
  let off = EPISODE_HEADER_BYTES;
  prepared.forEach((p, fi) => {
    const R = p.layout.rowLen;
    const h = HEADER_PREFIX_WORDS + fi * HEADER_WORDS_PER_FIELD;
    header[h] =
      p.mode | (KIND_CODE[p.layout.kind] << 8) | (p.idxBytes << 16) | (p.countBytes << 24);
    header[h + 1] = p.nChanges;
    header[h + 2] = off;
    if (p.mode === MODE_DENSE) {
      makeStorage(p.layout.kind, buf, off, p.dense.length).set(p.dense);
      off += p.valuesBytes;
      return;
    }
    const vals = makeStorage(p.layout.kind, buf, off, R + p.nChanges);
    off += p.valuesBytes;
    header[h + 3] = off;
    const idx =
      p.idxBytes === 2
        ? new Uint16Array(buf, off, p.nChanges)
        : new Uint32Array(buf, off, p.nChanges);
    off += p.idxSectionBytes;
    header[h + 4] = off;
    const counts =
      p.countBytes === 2
        ? new Uint16Array(buf, off, nRows - 1)
        : new Uint32Array(buf, off, nRows - 1);
    off += p.countsSectionBytes;
    vals.set(p.dense.subarray(0, R));
    const bits = bitsView(p.dense);
    let c = 0;
    for (let t = 1; t < nRows; t++) {
      const base = t * R;
      let rowCount = 0;
      for (let j = 0; j < R; j++) {
        if (bits[base + j] !== bits[base - R + j]) {
          idx[c] = j;
          vals[R + c] = p.dense[base + j]!;
          c++;
          rowCount++;
        }
      }
      counts[t - 1] = rowCount;
    }
  });
  return new EpisodeRecord(nRows, tAdded, new Uint8Array(buf));
}

/** Parsed per-field views into an encoded episode. */
interface FieldView {
  mode: number;
  rowLen: number;
  values: StorageArray;
  idx: Uint16Array | Uint32Array | null;
  counts: Uint16Array | Uint32Array | null;
}

const KIND_BY_CODE: Readonly<Record<number, StorageKind>> = {
  1: "f32",
  2: "u8",
  3: "i16",
  4: "u16",
};

/**
 * Validate an encoded episode against `dims` and return field views. Throws an Error that names
 * the field and the inconsistency (used on every episode read from a file; cheap enough to also
 * guard decoding of in-memory records).
 */
export function parseEpisodeBytes(
  dims: EpisodeDims,
  bytes: Uint8Array,
  expectRows?: number,
): FieldView[] {
  const fail = (msg: string): never => {
    throw new Error(`corrupt episode encoding: ${msg}`);
  };
  if (bytes.byteOffset % 4 !== 0) fail("bytes are not 4-byte aligned");
  if (bytes.byteLength < EPISODE_HEADER_BYTES) {
    fail(`${bytes.byteLength} bytes is shorter than the ${EPISODE_HEADER_BYTES}-byte header`);
  }
  const buf = bytes.buffer as ArrayBuffer;
  const header = new Uint32Array(buf, bytes.byteOffset, EPISODE_HEADER_BYTES / 4);
  const nRows = header[0]!;
  if (nRows < 1) fail(`nRows is ${nRows}`);
  if (expectRows !== undefined && nRows !== expectRows)
    fail(`nRows ${nRows} ≠ recorded ${expectRows}`);
  if (header[1] !== FIELD_ORDER.length) fail(`field count ${header[1]} ≠ ${FIELD_ORDER.length}`);
  const enc = Array.from(header.subarray(2, HEADER_PREFIX_WORDS));
  const want = [dims.nAgents, dims.nEntities, dims.nTasks, dims.nActions, dims.entityShape];
  if (enc.some((v, i) => v !== want[i])) {
    fail(
      `encoded for dims (Na, Ne, Nt, A, De) = (${enc.join(", ")}), expected (${want.join(", ")})`,
    );
  }
  const layouts = fieldLayouts(dims);
  const views: FieldView[] = [];
  const end = bytes.byteLength;
  layouts.forEach((l, fi) => {
    const h = HEADER_PREFIX_WORDS + fi * HEADER_WORDS_PER_FIELD;
    const packed = header[h]!;
    const mode = packed & 0xff;
    const kind = KIND_BY_CODE[(packed >>> 8) & 0xff];
    const idxBytes = (packed >>> 16) & 0xff;
    const countBytes = (packed >>> 24) & 0xff;
    const nChanges = header[h + 1]!;
    const R = l.rowLen;
    const where = `field ${l.name}`;
    if (kind !== l.kind) fail(`${where}: storage kind ${kind ?? "?"} ≠ expected ${l.kind}`);
    const sz = KIND_BYTES[l.kind];
    const section = (off: number, len: number, what: string) => {
      if (off % 4 !== 0 || off < EPISODE_HEADER_BYTES || off + len > end) {
        fail(
          `${where}: ${what} section [${off}, ${off + len}) lies outside the ${end}-byte episode`,
        );
      }
    };
    if (mode === MODE_DENSE) {
      const valuesOff = header[h + 2]!;
      section(valuesOff, nRows * R * sz, "values");
      views.push({
        mode,
        rowLen: R,
        values: makeStorage(l.kind, buf, bytes.byteOffset + valuesOff, nRows * R),
        idx: null,
        counts: null,
      });
      return;
    }
    if (mode !== MODE_DELTA) fail(`${where}: unknown mode ${mode}`);
    if ((idxBytes !== 2 && idxBytes !== 4) || (countBytes !== 2 && countBytes !== 4)) {
      fail(`${where}: bad index/count widths ${idxBytes}/${countBytes}`);
    }
    if (nChanges > (nRows - 1) * R)
      fail(`${where}: ${nChanges} changes exceed ${(nRows - 1) * R} elements`);
    const valuesOff = header[h + 2]!;
    const idxOff = header[h + 3]!;
    const countsOff = header[h + 4]!;
    section(valuesOff, (R + nChanges) * sz, "values");
    section(idxOff, nChanges * idxBytes, "index");
    section(countsOff, (nRows - 1) * countBytes, "counts");
    const idx =
      idxBytes === 2
        ? new Uint16Array(buf, bytes.byteOffset + idxOff, nChanges)
        : new Uint32Array(buf, bytes.byteOffset + idxOff, nChanges);
    const counts =
      countBytes === 2
        ? new Uint16Array(buf, bytes.byteOffset + countsOff, nRows - 1)
        : new Uint32Array(buf, bytes.byteOffset + countsOff, nRows - 1);
    views.push({
      mode,
      rowLen: R,
      values: makeStorage(l.kind, buf, bytes.byteOffset + valuesOff, R + nChanges),
      idx,
      counts,
    });
  });
  return views;
}

/**
 * Deep validation for untrusted bytes (file reads): header checks plus change counts that sum to
 * `nChanges` and element indices inside the row. Throws naming the field.
 */
export function validateEpisodeBytes(
  dims: EpisodeDims,
  bytes: Uint8Array,
  expectRows?: number,
): void {
  const views = parseEpisodeBytes(dims, bytes, expectRows);
  views.forEach((v, fi) => {
    if (v.mode !== MODE_DELTA) return;
    const name = FIELD_ORDER[fi];
    let sum = 0;
    for (let t = 0; t < v.counts!.length; t++) sum += v.counts![t]!;
    if (sum !== v.idx!.length) {
      throw new Error(
        `corrupt episode encoding: field ${name}: row change counts sum to ${sum}, expected ${v.idx!.length}`,
      );
    }
    for (let i = 0; i < v.idx!.length; i++) {
      if (v.idx![i]! >= v.rowLen) {
        throw new Error(
          `corrupt episode encoding: field ${name}: element index ${v.idx![i]} ≥ row length ${v.rowLen}`,
        );
      }
    }
  });
}

/** Reusable per-field scratch rows for delta decoding (one set per sampler). */
export class DecodeScratch {
  private readonly rows: StorageArray[];
  constructor(dims: EpisodeDims) {
    this.rows = fieldLayouts(dims).map((l) => allocStorage(l.kind, l.rowLen));
  }
  row(fi: number): StorageArray {
    return this.rows[fi]!;
  }
}

/**
 * Decode rows `[from, to)` of `rec` into `out`, writing row `from` at output row `outRow` (output
 * row stride = each field's row length). Delta fields are replayed from row 0 up to `to − 1`.
 */
export function decodeRows(
  dims: EpisodeDims,
  rec: EpisodeRecord,
  from: number,
  to: number,
  out: EpisodeArrays,
  outRow: number,
  scratch: DecodeScratch,
): void {
  if (from < 0 || to > rec.nRows || from >= to) {
    throw new RangeError(
      `decodeRows: bad row range [${from}, ${to}) of a ${rec.nRows}-row episode`,
    );
  }
  const views = parseEpisodeBytes(dims, rec.bytes);
  for (let fi = 0; fi < views.length; fi++) {
    const v = views[fi]!;
    const R = v.rowLen;
    const dst = out[FIELD_ORDER[fi]!] as unknown as { set(a: ArrayLike<number>, o: number): void };
    if (v.mode === MODE_DENSE) {
      dst.set(v.values.subarray(from * R, to * R), outRow * R);
      continue;
    }
    const cur = scratch.row(fi);
    cur.set(v.values.subarray(0, R));
    if (from === 0) dst.set(cur, outRow * R);
    const idx = v.idx!;
    const counts = v.counts!;
    const vals = v.values;
    let p = R; // next change value (values hold row 0 first)
    let q = 0; // next change index
    for (let t = 1; t < to; t++) {
      const c = counts[t - 1]!;
      for (let j = 0; j < c; j++) cur[idx[q + j]!] = vals[p + j]!;
      p += c;
      q += c;
      if (t >= from) dst.set(cur, (outRow + t - from) * R);
    }
  }
}
