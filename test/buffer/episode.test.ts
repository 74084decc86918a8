import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  allocEpisodeArrays,
  DecodeScratch,
  decodeRows,
  denseEpisodeBytes,
  EPISODE_HEADER_BYTES,
  type EpisodeDims,
  encodeEpisode,
  FIELD_ORDER,
  fieldLayouts,
  validateEpisodeBytes,
} from "../../src/buffer/index.js";
import { Rng } from "../../src/envs/rng.js";
import { handEpisode, STC, TINY } from "./helpers.js";

function decodeAll(dims: EpisodeDims, rec: ReturnType<typeof encodeEpisode>) {
  const out = allocEpisodeArrays(dims, rec.nRows);
  decodeRows(dims, rec, 0, rec.nRows, out, 0, new DecodeScratch(dims));
  return out;
}

describe("compact episode encoding", () => {
  it("decodes exactly what was encoded (hand-made episode)", () => {
    const ep = handEpisode(7, 9, 123);
    const out = decodeAll(TINY, ep.rec);
    for (const f of FIELD_ORDER) assert.deepEqual(Array.from(out[f]), Array.from(ep.arrays[f]), f);
    assert.equal(ep.rec.nRows, 9);
    assert.equal(ep.rec.length, 8);
    assert.equal(ep.rec.tAdded, 123);
  });

  it("decodes any row range, including ranges that start mid-episode", () => {
    const ep = handEpisode(3, 12, 0);
    const scratch = new DecodeScratch(TINY);
    for (const [from, to] of [
      [0, 1],
      [5, 9],
      [11, 12],
      [0, 12],
    ] as const) {
      const out = allocEpisodeArrays(TINY, to - from);
      decodeRows(TINY, ep.rec, from, to, out, 0, scratch);
      for (const f of FIELD_ORDER) {
        const R = fieldLayouts(TINY).find((l) => l.name === f)!.rowLen;
        assert.deepEqual(
          Array.from(out[f]),
          Array.from(ep.arrays[f].subarray(from * R, to * R)),
          `${f} [${from},${to})`,
        );
      }
    }
  });

  it("round-trips random data bit-exactly, including -0 and changes at any position (property)", () => {
    fc.assert(
      fc.property(
        fc.record({
          nAgents: fc.integer({ min: 1, max: 3 }),
          extra: fc.integer({ min: 0, max: 3 }),
          nTasks: fc.integer({ min: 1, max: 3 }),
          nActions: fc.integer({ min: 1, max: 6 }),
          entityShape: fc.integer({ min: 1, max: 5 }),
          nRows: fc.integer({ min: 1, max: 20 }),
          changeRate: fc.constantFrom(0, 0.05, 0.5, 1),
          seed: fc.nat(),
        }),
        (p) => {
          const dims: EpisodeDims = {
            nAgents: p.nAgents,
            nEntities: p.nAgents + p.extra,
            nTasks: p.nTasks,
            nActions: p.nActions,
            entityShape: p.entityShape,
          };
          const rng = new Rng(p.seed);
          const a = allocEpisodeArrays(dims, p.nRows);
          for (const l of fieldLayouts(dims)) {
            const arr = a[l.name];
            for (let r = 0; r < p.nRows; r++) {
              for (let j = 0; j < l.rowLen; j++) {
                const i = r * l.rowLen + j;
                if (r > 0 && rng.random() >= p.changeRate) {
                  arr[i] = arr[i - l.rowLen]!;
                  continue;
                }
                if (l.name === "actions") arr[i] = rng.int(dims.nActions);
                else if (l.name === "availActions")
                  arr[i] = rng.int(3) === 0 ? 1000 + rng.int(4) : rng.int(5);
                else if (l.kind === "u8") arr[i] = rng.int(2);
                else arr[i] = rng.int(4) === 0 ? -0 : (rng.random() - 0.5) * 100;
              }
            }
          }
          const rec = encodeEpisode(dims, a, p.nRows, p.seed);
          validateEpisodeBytes(dims, rec.bytes, p.nRows);
          const out = decodeAll(dims, rec);
          for (const f of FIELD_ORDER) {
            const want = a[f];
            const got = out[f];
            assert.equal(got.length, want.length);
            for (let i = 0; i < want.length; i++)
              assert.ok(Object.is(got[i], want[i]), `${f}[${i}]`);
          }
          // Never much bigger than dense: per field at most the dense size (+ alignment), plus the header.
          assert.ok(
            rec.bytes.byteLength <=
              denseEpisodeBytes(dims, p.nRows) + EPISODE_HEADER_BYTES + 4 * 13,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("stores slowly changing episodes far below the dense size", () => {
    const ep = handEpisode(1, 151, 0, STC);
    const dense = denseEpisodeBytes(STC, 151);
    assert.ok(ep.rec.bytes.byteLength < dense / 5, `${ep.rec.bytes.byteLength} vs dense ${dense}`);
  });

  it("rejects values that do not fit the storage type, naming field, row and element", () => {
    const a = allocEpisodeArrays(TINY, 3);
    a.availActions[TINY.nAgents * TINY.nActions + 1] = 40000;
    assert.throws(
      () => encodeEpisode(TINY, a, 3, 0),
      /availActions: value 40000 at row 1, element 1/,
    );
    const b = allocEpisodeArrays(TINY, 3);
    b.actions[2] = TINY.nActions;
    assert.throws(
      () => encodeEpisode(TINY, b, 3, 0),
      /actions: value 4 at row 1, element 0 is outside \[0, 3\]/,
    );
    assert.throws(
      () => encodeEpisode(TINY, allocEpisodeArrays(TINY, 2), 3, 0),
      /entities: expected at least/,
    );
  });
});
