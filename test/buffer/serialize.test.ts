import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as zlib from "node:zlib";
import {
  deserializeReplayBuffer,
  EpisodeReplayBuffer,
  ReplayFileError,
  readReplayBufferFile,
  serializeReplayBuffer,
  writeReplayBufferFile,
} from "../../src/buffer/index.js";
import { Rng } from "../../src/envs/rng.js";
import { handEpisode, TINY } from "./helpers.js";

function sampleBuffer(): EpisodeReplayBuffer {
  const buf = new EpisodeReplayBuffer(TINY, { capacity: 4, maxTrajLen: 5 });
  // 6 inserts into 4 slots: the ring has wrapped and ids start at 2.
  for (const [i, len] of [3, 9, 2, 12, 7, 4].entries())
    buf.insert(handEpisode(i + 1, len, i * 1000).rec);
  return buf;
}

/** Recompute the trailer checksum after tampering, so structural checks are what fails. */
function refreshCrc(bytes: Uint8Array): void {
  const at = bytes.length - 8;
  const crc = zlib.crc32(bytes.subarray(0, at), 0) >>> 0;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, crc, true);
}

function payloadStart(bytes: Uint8Array): number {
  return 16 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
}

describe("replay buffer serialisation", () => {
  it("round-trips episodes, ids, counters and sampling", () => {
    const buf = sampleBuffer();
    const bytes = serializeReplayBuffer(buf);
    const back = deserializeReplayBuffer(bytes);
    assert.equal(back.size, 4);
    assert.equal(back.capacity, 4);
    assert.equal(back.maxTrajLen, 5);
    assert.equal(back.totalInserted, 6);
    assert.deepEqual(back.dims, buf.dims);
    for (let i = 0; i < 4; i++) {
      assert.equal(back.episodeId(i), buf.episodeId(i));
      assert.equal(back.episode(i).tAdded, buf.episode(i).tAdded);
      assert.deepEqual(back.episode(i).bytes, buf.episode(i).bytes);
    }
    const a = buf.sample(3, new Rng(9));
    const b = back.sample(3, new Rng(9));
    assert.deepEqual(Array.from(b.entities), Array.from(a.entities));
    assert.deepEqual(Array.from(b.episodeIds), Array.from(a.episodeIds));
    // Inserting after a reload continues the id sequence and the FIFO order.
    back.insert(handEpisode(9, 3, 9000).rec);
    assert.equal(back.episodeId(3), 6);
    assert.equal(back.episode(0).tAdded, 3000);
    assert.equal(serializeReplayBuffer(deserializeReplayBuffer(bytes)).length, bytes.length);
  });

  it("round-trips an empty buffer and writes files atomically", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alma-rb-"));
    try {
      const empty = new EpisodeReplayBuffer(TINY, { capacity: 5, maxTrajLen: -1 });
      const p0 = path.join(dir, "empty.rb");
      writeReplayBufferFile(p0, empty);
      const e = readReplayBufferFile(p0);
      assert.equal(e.size, 0);
      assert.equal(e.maxTrajLen, -1);
      const buf = sampleBuffer();
      const p = path.join(dir, "replay.rb");
      const n = writeReplayBufferFile(p, buf);
      assert.equal(fs.statSync(p).size, n);
      assert.deepEqual(new Uint8Array(fs.readFileSync(p)), serializeReplayBuffer(buf));
      assert.deepEqual(
        fs.readdirSync(dir).sort(),
        ["empty.rb", "replay.rb"],
        "no temporary files left",
      );
      assert.equal(readReplayBufferFile(p).totalInserted, 6);
      assert.throws(() => readReplayBufferFile(path.join(dir, "missing.rb")), /cannot read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the problem in corrupt or truncated files", () => {
    const good = serializeReplayBuffer(sampleBuffer());
    const load = (b: Uint8Array) => () => deserializeReplayBuffer(b, "replay.rb");
    const expectErr = (b: Uint8Array, re: RegExp) =>
      assert.throws(
        load(b),
        (e: unknown) => e instanceof ReplayFileError && re.test((e as Error).message),
      );

    expectErr(
      good.slice(0, 10),
      /replay\.rb: truncated: 10 bytes, shorter than the 16-byte preamble/,
    );
    expectErr(good.slice(0, good.length - 1), /truncated: expected \d+ bytes, got \d+/);
    expectErr(good.slice(0, payloadStart(good) + 30), /truncated: expected/);
    expectErr(good.slice(0, 40), /truncated: header needs/);
    expectErr(new Uint8Array([...good, 0, 0]), /unexpected bytes after the end marker/);

    const badMagic = good.slice();
    badMagic[0] = 0x58;
    expectErr(badMagic, /not an alma replay-buffer file \(bad magic\)/);

    const badVersion = good.slice();
    badVersion[8] = 2;
    expectErr(badVersion, /unsupported format version 2/);

    const flipped = good.slice();
    flipped[payloadStart(good) + 100] ^= 0x10;
    expectErr(flipped, /checksum mismatch .*file is corrupt/);

    const badEnd = good.slice();
    badEnd[badEnd.length - 1] = 0;
    expectErr(badEnd, /end marker missing/);

    const badHeader = good.slice();
    badHeader[16] = 0x20; // the JSON's leading "{"
    expectErr(badHeader, /corrupt header \(not JSON\)/);

    // A structurally broken episode behind a valid checksum: the episode and field are named.
    const badEpisode = good.slice();
    const ep0 = payloadStart(good) + 24; // first episode's encoding
    const dv = new DataView(badEpisode.buffer, badEpisode.byteOffset);
    dv.setUint32(ep0 + 28, 2 << 8, true); // entities (first per-field word): storage kind u8, not f32
    refreshCrc(badEpisode);
    expectErr(
      badEpisode,
      /episode 0 of 4: corrupt episode encoding: field entities: storage kind u8 ≠ expected f32/,
    );

    const badRows = good.slice();
    new DataView(badRows.buffer, badRows.byteOffset).setUint32(payloadStart(good), 99, true);
    refreshCrc(badRows);
    expectErr(badRows, /episode 0 of 4: corrupt episode encoding: nRows \d+ ≠ recorded 99/);
  });
});
