/**
 * Replay-buffer checkpoint format (issue 3 item 5: checkpoints hold everything needed to resume,
 * "replay buffer or a stated policy for it"). The episodes are written in their compact encoding,
 * so the file is about as big as the buffer's `dataBytes`.
 *
 * Layout (little-endian):
 *
 *   "ALMA-RB\0"                 8-byte magic
 *   u32 version (1), u32 H      H = byte length of the JSON header
 *   header JSON (H bytes)       {format, version, dims, capacity, maxTrajLen, size,
 *                                totalInserted, payloadBytes}, space-padded to a multiple of 8
 *   payload (payloadBytes)      per episode, oldest first:
 *                                 u32 nRows, u32 byteLength, f64 tAdded, f64 id, encoding bytes
 *   u32 crc32, "RBND"           CRC-32 of every byte before it, then an end marker
 *
 * The reader checks, in order: magic, version, header, exact file length (truncation), end
 * marker, checksum, then every episode's framing and encoding; each failure throws an Error whose
 * message names the problem. Episodes are restored in age order, so sampling with the same
 * generator state after a reload draws the same episodes and windows.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as zlib from "node:zlib";
import { EpisodeRecord, validateEpisodeBytes } from "./episode.js";
import { checkDims, type EpisodeDims } from "./layout.js";
import { EpisodeReplayBuffer } from "./replay.js";

const MAGIC = Buffer.from("ALMA-RB\0", "latin1");
const END = Buffer.from("RBND", "latin1");
const VERSION = 1;
const EPISODE_FRAME_BYTES = 24;

/** Raised for unreadable replay-buffer files; `message` names the problem. */
export class ReplayFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayFileError";
  }
}

function assertLittleEndian(): void {
  // The compact encodings are typed-array images in native order; every supported platform is LE.
  if (os.endianness() !== "LE")
    throw new Error("replay buffer files require a little-endian platform");
}

function crc32(data: Uint8Array, prev: number): number {
  return zlib.crc32(data, prev);
}

interface FileHeader {
  format: "alma-replay-buffer";
  version: number;
  dims: EpisodeDims;
  capacity: number;
  maxTrajLen: number;
  size: number;
  totalInserted: number;
  payloadBytes: number;
}

/** Write the buffer through `sink` chunk by chunk (no full-size copy in memory). */
function writeChunks(buf: EpisodeReplayBuffer, sink: (chunk: Uint8Array) => void): void {
  assertLittleEndian();
  let payloadBytes = 0;
  for (let i = 0; i < buf.size; i++)
    payloadBytes += EPISODE_FRAME_BYTES + buf.episode(i).bytes.byteLength;
  const header: FileHeader = {
    format: "alma-replay-buffer",
    version: VERSION,
    dims: { ...buf.dims },
    capacity: buf.capacity,
    maxTrajLen: buf.maxTrajLen,
    size: buf.size,
    totalInserted: buf.totalInserted,
    payloadBytes,
  };
  let json = JSON.stringify(header);
  // Pad so the payload starts 8-byte aligned (8 magic + 8 version/length + H).
  while (json.length % 8 !== 0) json += " ";
  const headerBytes = Buffer.from(json, "utf8");
  const pre = Buffer.alloc(16);
  MAGIC.copy(pre, 0);
  pre.writeUInt32LE(VERSION, 8);
  pre.writeUInt32LE(headerBytes.length, 12);
  let crc = 0;
  const emit = (chunk: Uint8Array) => {
    crc = crc32(chunk, crc);
    sink(chunk);
  };
  emit(pre);
  emit(headerBytes);
  const frame = Buffer.alloc(EPISODE_FRAME_BYTES);
  for (let i = 0; i < buf.size; i++) {
    const rec = buf.episode(i);
    frame.writeUInt32LE(rec.nRows, 0);
    frame.writeUInt32LE(rec.bytes.byteLength, 4);
    frame.writeDoubleLE(rec.tAdded, 8);
    frame.writeDoubleLE(buf.episodeId(i), 16);
    emit(frame);
    emit(rec.bytes);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  END.copy(trailer, 4);
  sink(trailer);
}

/** The whole buffer as one byte array (tests, small buffers). */
export function serializeReplayBuffer(buf: EpisodeReplayBuffer): Uint8Array {
  const chunks: Buffer[] = [];
  // Frames are reused between episodes: copy each chunk.
  writeChunks(buf, (c) => chunks.push(Buffer.from(c)));
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Write the buffer to `path` atomically (temporary file, fsync, rename), streaming episode by
 * episode. Returns the number of bytes written.
 */
export function writeReplayBufferFile(path: string, buf: EpisodeReplayBuffer): number {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  let written = 0;
  try {
    writeChunks(buf, (c) => {
      let off = 0;
      while (off < c.byteLength) off += fs.writeSync(fd, c, off, c.byteLength - off);
      written += c.byteLength;
    });
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, path);
  return written;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/**
 * Rebuild a buffer from `serializeReplayBuffer` / file bytes. Throws `ReplayFileError` naming the
 * problem on a truncated, corrupt or incompatible file. `source` is used in messages.
 */
export function deserializeReplayBuffer(
  bytes: Uint8Array,
  source = "replay buffer file",
): EpisodeReplayBuffer {
  assertLittleEndian();
  const fail = (msg: string): never => {
    throw new ReplayFileError(`${source}: ${msg}`);
  };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 16) fail(`truncated: ${b.length} bytes, shorter than the 16-byte preamble`);
  if (!b.subarray(0, 8).equals(MAGIC)) fail("not an alma replay-buffer file (bad magic)");
  const version = b.readUInt32LE(8);
  if (version !== VERSION)
    fail(`unsupported format version ${version} (this build reads ${VERSION})`);
  const H = b.readUInt32LE(12);
  if (16 + H > b.length) fail(`truncated: header needs ${H} bytes, only ${b.length - 16} present`);
  let header: FileHeader;
  try {
    header = JSON.parse(b.subarray(16, 16 + H).toString("utf8")) as FileHeader;
  } catch (e) {
    return fail(`corrupt header (not JSON): ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || header.format !== "alma-replay-buffer") {
    fail('corrupt header: missing format "alma-replay-buffer"');
  }
  for (const k of ["capacity", "size", "totalInserted", "payloadBytes"] as const) {
    if (!isNonNegInt(header[k])) fail(`corrupt header: ${k} = ${JSON.stringify(header[k])}`);
  }
  if (!Number.isInteger(header.maxTrajLen))
    fail(`corrupt header: maxTrajLen = ${JSON.stringify(header.maxTrajLen)}`);
  if (header.size > header.capacity)
    fail(`corrupt header: size ${header.size} > capacity ${header.capacity}`);
  let dims: EpisodeDims;
  try {
    dims = checkDims(header.dims);
  } catch (e) {
    return fail(`corrupt header: ${(e as Error).message}`);
  }
  const payloadStart = 16 + H;
  const expected = payloadStart + header.payloadBytes + 8;
  if (b.length < expected) fail(`truncated: expected ${expected} bytes, got ${b.length}`);
  if (b.length > expected)
    fail(`corrupt: ${b.length - expected} unexpected bytes after the end marker`);
  const trailerAt = expected - 8;
  if (!b.subarray(trailerAt + 4, expected).equals(END)) fail("corrupt: end marker missing");
  const stored = b.readUInt32LE(trailerAt);
  const computed = crc32(b.subarray(0, trailerAt), 0) >>> 0;
  if (stored !== computed) {
    fail(
      `checksum mismatch (stored ${stored.toString(16)}, computed ${computed.toString(16)}): file is corrupt`,
    );
  }

  let out: EpisodeReplayBuffer;
  try {
    out = new EpisodeReplayBuffer(dims, {
      capacity: header.capacity,
      maxTrajLen: header.maxTrajLen,
    });
  } catch (e) {
    return fail(`corrupt header: ${(e as Error).message}`);
  }
  let off = payloadStart;
  let lastId = -1;
  for (let i = 0; i < header.size; i++) {
    const where = `episode ${i} of ${header.size}`;
    if (off + EPISODE_FRAME_BYTES > trailerAt) fail(`${where}: frame runs past the payload`);
    const nRows = b.readUInt32LE(off);
    const len = b.readUInt32LE(off + 4);
    const tAdded = b.readDoubleLE(off + 8);
    const id = b.readDoubleLE(off + 16);
    off += EPISODE_FRAME_BYTES;
    if (nRows < 1) fail(`${where}: nRows is ${nRows}`);
    if (!Number.isFinite(tAdded)) fail(`${where}: tAdded is ${tAdded}`);
    if (!Number.isInteger(id) || id <= lastId || id >= header.totalInserted) {
      fail(`${where}: id ${id} is not increasing and below totalInserted ${header.totalInserted}`);
    }
    if (len % 4 !== 0 || off + len > trailerAt)
      fail(`${where}: ${len}-byte encoding runs past the payload`);
    // Copy into its own aligned ArrayBuffer so the file buffer can be released.
    const own = new Uint8Array(len);
    own.set(b.subarray(off, off + len));
    off += len;
    try {
      validateEpisodeBytes(dims, own, nRows);
    } catch (e) {
      return fail(`${where}: ${(e as Error).message}`);
    }
    out.insertTrusted(new EpisodeRecord(nRows, tAdded, own), id);
    lastId = id;
  }
  if (off !== trailerAt)
    fail(`corrupt: ${trailerAt - off} payload bytes left after ${header.size} episodes`);
  out.restoreTotalInserted(header.totalInserted);
  return out;
}

/** Read a file written by `writeReplayBufferFile`. */
export function readReplayBufferFile(path: string): EpisodeReplayBuffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new ReplayFileError(`${path}: cannot read: ${(e as Error).message}`);
  }
  return deserializeReplayBuffer(bytes, path);
}
