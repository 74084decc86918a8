/**
 * The jax-js patch (patches/README.md): a compiled program's intermediates share one arena
 * planned over their live ranges, so a long chain of large intermediates peaks at a few of them,
 * not at their sum, and results are unchanged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jit, materialize, np, trackLiveBuffers } from "../../src/nn/engine.js";

const ROWS = 1 << 16;
const COLS = 16; // 4 MiB per float32 intermediate
const CHAIN = 24;

/** Each link is a matmul (its output is a materialised buffer) followed by a nonlinearity. */
function chain(x: np.Array, w: np.Array): np.Array {
  let y = x;
  for (let i = 0; i < CHAIN; i++) y = np.tanh(np.matmul(y, w.ref));
  w.dispose();
  return y;
}

describe("jit arena memory plan (jax-js patch)", () => {
  it("peaks at a few intermediates, not their sum, and computes the same values", async () => {
    const live = await trackLiveBuffers();
    const N = ROWS * COLS;
    const input = np.arange(N).astype(np.float32).mul(1e-6).reshape([ROWS, COLS]);
    const w = np.eye(COLS).mul(0.9).add(0.01);
    await materialize([input, w]);
    const f = jit(chain);
    // Warm up (compile), then measure a second call.
    let out = f(input.ref, w.ref);
    await materialize(out);
    out.dispose();
    live().resetPeak();
    const base = live().bytes;
    out = f(input.ref, w.ref);
    await materialize(out);
    const peak = live().peakBytes - base;
    const got = await out.data();
    const want = await chain(input, w).data();
    assert.equal(got.length, N);
    for (const i of [0, 1, N >> 1, N - 1]) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, `at ${i}`);
    // Unpatched, every link's buffer is allocated before any kernel runs: ≥ CHAIN × 4 MiB.
    const mib = peak / 2 ** 20;
    assert.ok(mib < 8 * 4, `peak ${mib.toFixed(1)} MiB for ${CHAIN} links of 4 MiB`);
  });
});
