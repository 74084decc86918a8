/**
 * Checkpoints: a directory per checkpoint under `RUN/checkpoints/<t_env>/` holding
 *
 * - `state.json`: counters, configuration, RNG states, anything JSON (written last, so its
 *   presence marks a complete checkpoint),
 * - `tensors.bin`: named float32/int32 arrays (parameters, target parameters, optimiser state,
 *   Pop-Art statistics) with a manifest and a checksum,
 * - any extra binary blobs (e.g. the replay buffer) as `<name>.bin`.
 *
 * Writes are atomic: everything goes to a temporary sibling directory that is renamed into place,
 * so an interrupted save never damages the previous checkpoint. Reads validate everything and
 * throw errors that name the file and the problem.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.js";
import { readMetrics } from "./metrics.js";

export const CHECKPOINT_FORMAT = "alma-ts-checkpoint";
export const CHECKPOINT_VERSION = 1;
const TENSOR_MAGIC = 0x414c4d41; // "ALMA"

export type TensorData = Float32Array | Int32Array;

export interface NamedTensor {
  shape: number[];
  data: TensorData;
}

export interface CheckpointContents {
  /** JSON-serialisable state (counters, config, RNG states, ...). */
  state: Record<string, unknown>;
  tensors: Record<string, NamedTensor>;
  blobs?: Record<string, Uint8Array>;
}

interface TensorEntry {
  name: string;
  dtype: "float32" | "int32";
  shape: number[];
  offset: number;
  length: number;
}

export class CheckpointError extends Error {
  constructor(path: string, problem: string) {
    super(`checkpoint ${path}: ${problem}`);
    this.name = "CheckpointError";
  }
}

/** FNV-1a over bytes: cheap corruption check (not cryptographic). */
function checksum(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function encodeTensors(tensors: Record<string, NamedTensor>): Uint8Array {
  const entries: TensorEntry[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new Error(
        `tensor '${name}': shape [${t.shape}] needs ${size} values, got ${t.data.length}`,
      );
    }
    entries.push({
      name,
      dtype: t.data instanceof Int32Array ? "int32" : "float32",
      shape: t.shape,
      offset,
      length: size,
    });
    offset += size * 4;
  }
  const manifest = new TextEncoder().encode(JSON.stringify(entries));
  const headerLen = 16 + manifest.length;
  const dataStart = Math.ceil(headerLen / 4) * 4;
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, TENSOR_MAGIC, true);
  view.setUint32(4, manifest.length, true);
  view.setUint32(8, offset, true);
  out.set(manifest, 16);
  for (const [i, t] of Object.values(tensors).entries()) {
    out.set(
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      dataStart + entries[i].offset,
    );
  }
  view.setUint32(12, checksum(out.subarray(dataStart)), true);
  return out;
}

function decodeTensors(path: string, bytes: Uint8Array): Record<string, NamedTensor> {
  if (bytes.length < 16)
    throw new CheckpointError(path, `file is truncated (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== TENSOR_MAGIC)
    throw new CheckpointError(path, "not an alma-ts tensor file (bad magic)");
  const manifestLen = view.getUint32(4, true);
  const dataLen = view.getUint32(8, true);
  const dataStart = Math.ceil((16 + manifestLen) / 4) * 4;
  if (bytes.length !== dataStart + dataLen) {
    throw new CheckpointError(
      path,
      `file is ${bytes.length} bytes, its header promises ${dataStart + dataLen} (truncated or corrupt)`,
    );
  }
  const data = bytes.subarray(dataStart);
  if (checksum(data) !== view.getUint32(12, true))
    throw new CheckpointError(path, "checksum mismatch: the tensor data is corrupt");
  let entries: TensorEntry[];
  try {
    entries = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + manifestLen)));
  } catch {
    throw new CheckpointError(path, "tensor manifest is not valid JSON");
  }
  const aligned = new Uint8Array(data.length);
  aligned.set(data);
  const out: Record<string, NamedTensor> = {};
  for (const e of entries) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (size !== e.length || e.offset + 4 * e.length > data.length || e.offset % 4 !== 0) {
      throw new CheckpointError(path, `tensor '${e.name}' has an inconsistent manifest entry`);
    }
    const Ctor = e.dtype === "int32" ? Int32Array : Float32Array;
    out[e.name] = { shape: e.shape, data: new Ctor(aligned.buffer, e.offset, e.length) };
  }
  return out;
}

/** Directory of the checkpoint taken at `tEnv`. Zero-padded so names sort by time. */
export function checkpointDir(runDir: string, tEnv: number): string {
  return join(runDir, "checkpoints", String(tEnv).padStart(12, "0"));
}

/** Write a checkpoint atomically (temporary directory renamed into place). */
export function saveCheckpoint(runDir: string, tEnv: number, contents: CheckpointContents): string {
  const final = checkpointDir(runDir, tEnv);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, "tensors.bin"), encodeTensors(contents.tensors));
  for (const [name, blob] of Object.entries(contents.blobs ?? {})) {
    if (!/^[a-z0-9_-]+$/i.test(name))
      throw new Error(`checkpoint blob name '${name}' must be alphanumeric`);
    writeFileSync(join(tmp, `${name}.bin`), blob);
  }
  const state = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    tEnv,
    blobs: Object.keys(contents.blobs ?? {}),
    ...contents.state,
  };
  writeFileSync(join(tmp, "state.json"), `${JSON.stringify(state, null, 1)}\n`);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/**
 * Complete checkpoints of a run, oldest first, as `t_env` values: all of them, or only the
 * resumable ones (`"resumable"`: not thinned to a model snapshot by `pruneCheckpoints`).
 */
export function listCheckpoints(runDir: string, which: "all" | "resumable" = "all"): number[] {
  const dir = join(runDir, "checkpoints");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d{12}$/.test(name) && existsSync(join(dir, name, "state.json")))
    .map(Number)
    .filter((t) => which === "all" || !isSnapshot(checkpointDir(runDir, t)))
    .sort((a, b) => a - b);
}

/** Whether the checkpoint directory was thinned to a model snapshot (no replay buffer). */
function isSnapshot(path: string): boolean {
  try {
    return JSON.parse(readFileSync(join(path, "state.json"), "utf8"))["snapshot"] === true;
  } catch {
    return false; // a damaged state.json is reported by loadCheckpoint, not hidden here
  }
}

/** Load and validate the checkpoint at `path` (a checkpoint directory). */
export function loadCheckpoint(path: string): CheckpointContents & { tEnv: number } {
  if (!existsSync(path) || !statSync(path).isDirectory())
    throw new CheckpointError(path, "no such checkpoint directory");
  const statePath = join(path, "state.json");
  if (!existsSync(statePath))
    throw new CheckpointError(path, "state.json is missing (incomplete checkpoint)");
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8"));
  } catch (err) {
    throw new CheckpointError(statePath, `not valid JSON (${(err as Error).message})`);
  }
  if (state["format"] !== CHECKPOINT_FORMAT)
    throw new CheckpointError(
      statePath,
      `format is '${String(state["format"])}', expected '${CHECKPOINT_FORMAT}'`,
    );
  if (state["version"] !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      statePath,
      `version ${String(state["version"])} is not supported (expected ${CHECKPOINT_VERSION})`,
    );
  }
  const tEnv = state["tEnv"];
  if (typeof tEnv !== "number" || !Number.isInteger(tEnv) || tEnv < 0)
    throw new CheckpointError(statePath, "tEnv must be a non-negative integer");
  const tensorsPath = join(path, "tensors.bin");
  if (!existsSync(tensorsPath)) throw new CheckpointError(path, "tensors.bin is missing");
  const tensors = decodeTensors(tensorsPath, new Uint8Array(readFileSync(tensorsPath)));
  const blobs: Record<string, Uint8Array> = {};
  const names = state["blobs"];
  if (!Array.isArray(names)) throw new CheckpointError(statePath, "blobs must be a list of names");
  for (const name of names) {
    const blobPath = join(path, `${String(name)}.bin`);
    if (!existsSync(blobPath)) throw new CheckpointError(path, `${String(name)}.bin is missing`);
    blobs[String(name)] = new Uint8Array(readFileSync(blobPath));
  }
  return { state, tensors, blobs, tEnv };
}

/** Load the newest resumable checkpoint of a run (model snapshots cannot be resumed). */
export function loadLatestCheckpoint(runDir: string): CheckpointContents & { tEnv: number } {
  const all = listCheckpoints(runDir, "resumable");
  if (all.length === 0) {
    const snapshots = listCheckpoints(runDir).length;
    throw new CheckpointError(
      join(runDir, "checkpoints"),
      snapshots > 0
        ? `only model snapshots (${snapshots}), which hold no replay buffer: nothing to resume from`
        : "no complete checkpoint found",
    );
  }
  return loadCheckpoint(checkpointDir(runDir, all[all.length - 1]));
}

/**
 * Retire superseded checkpoints. The newest `keepFull` stay whole (resumable, replay buffer
 * included). Of the older ones, with `snapshotInterval` > 0, the first checkpoint of every
 * `snapshotInterval` env steps (its ⌊t_env / interval⌋ above the previous checkpoint's) is kept as
 * a model snapshot: networks, optimiser and counters, without the blobs (`alma eval --checkpoint`).
 * The rest are deleted. The reference keeps every saved model (spec §15.4); the interval bounds the
 * disk a long run takes (a full checkpoint is mostly its replay buffer).
 */
export function pruneCheckpoints(runDir: string, keepFull: number, snapshotInterval = 0): void {
  const all = listCheckpoints(runDir);
  const older = all.slice(0, Math.max(0, all.length - keepFull));
  const bucket = (t: number) => Math.floor(t / snapshotInterval);
  older.forEach((t, i) => {
    const path = checkpointDir(runDir, t);
    if (snapshotInterval > 0 && (i === 0 || bucket(t) > bucket(older[i - 1]))) thinCheckpoint(path);
    else rmSync(path, { recursive: true, force: true });
  });
}

/**
 * Drop a checkpoint's blobs, keeping it loadable as a model snapshot. The new state.json is
 * renamed into place before any blob goes, so an interruption leaves a consistent checkpoint.
 */
function thinCheckpoint(path: string): void {
  const statePath = join(path, "state.json");
  const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
  if (state["snapshot"] === true) return;
  const blobs = Array.isArray(state["blobs"]) ? (state["blobs"] as unknown[]).map(String) : [];
  writeFileAtomic(
    statePath,
    `${JSON.stringify({ ...state, blobs: [], snapshot: true }, null, 1)}\n`,
  );
  for (const name of blobs) rmSync(join(path, `${name}.bin`), { force: true });
}

/**
 * The checkpoint `which` names, as its t_env: `"latest"`; `"best"`, the one whose greedy test
 * (the test phase logged at its t_env, or the last one before it) had the highest `test/success`,
 * ties broken by `test/return`, then by the earlier checkpoint (the reference's best model, spec
 * §15.3); or a t_env that has a checkpoint.
 */
export function selectCheckpoint(runDir: string, which: string): number {
  const all = listCheckpoints(runDir);
  if (all.length === 0) throw new Error(`${runDir} has no checkpoint`);
  if (which === "latest") return all[all.length - 1];
  if (which === "best") {
    const tests = readMetrics(join(runDir, "metrics.jsonl")).filter(
      (r) => typeof r["test/success"] === "number" && typeof r["test/return"] === "number",
    );
    let best: { t: number; success: number; ret: number } | null = null;
    for (const t of all) {
      const test = tests.filter((r) => r.t_env <= t).at(-1);
      if (!test) continue;
      const success = test["test/success"] as number;
      const ret = test["test/return"] as number;
      if (!best || success > best.success || (success === best.success && ret > best.ret))
        best = { t, success, ret };
    }
    if (!best)
      throw new Error(`${runDir}: no greedy test precedes any checkpoint, cannot pick the best`);
    return best.t;
  }
  const t = Number(which);
  if (!/^\d+$/.test(which) || !all.includes(t)) {
    throw new Error(
      `--checkpoint '${which}': expected latest, best or one of the run's checkpoints (t_env ${all.join(", ")})`,
    );
  }
  return t;
}
