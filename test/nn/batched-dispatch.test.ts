/**
 * The jax-js patch's batched dispatch (patches/README.md): the kernels of a compiled program reach
 * the worker pool as one message per worker, with a shared-memory barrier between kernels, and
 * compute exactly what the same program computes on the main thread.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { engineThreads, engineWorkerMessages, jit, materialize, np } from "../../src/nn/engine.js";

const ROWS = 256;
const COLS = 64; // 16384 elements per kernel: every worker gets a chunk
const LINKS = 40;

/** A chain of dependent kernels: each reads the previous one's output (a wrong order shows). */
function chain(x: np.Array, w: np.Array): np.Array {
  let y = x;
  for (let i = 0; i < LINKS; i++) y = np.tanh(np.matmul(y, w.ref)).add(i * 1e-3);
  w.dispose();
  return y;
}

describe("batched worker-pool dispatch (jax-js patch)", () => {
  it("sends a program as one message per worker and matches the main-thread result bit for bit", {
    skip: engineThreads() === 0 ? "no worker pool on this machine" : false,
  }, async () => {
    const input = np
      .arange(ROWS * COLS)
      .astype(np.float32)
      .mul(1 / (ROWS * COLS))
      .reshape([ROWS, COLS]);
    const w = np.eye(COLS).mul(0.5).add(0.01);
    await materialize([input, w]);
    const f = jit(chain);
    // Compile and send the kernels' modules once.
    const warm = f(input.ref, w.ref);
    await materialize(warm);
    warm.dispose();

    const before = engineWorkerMessages();
    const pooled = await f(input.ref, w.ref).data(); // asynchronous: through the worker pool
    const messages = engineWorkerMessages() - before;
    // Unpatched: at least one message per kernel and worker (≥ 2·LINKS kernels here).
    assert.ok(
      messages <= 2 * engineThreads(),
      `${messages} messages for a ${LINKS}-link program on ${engineThreads()} workers`,
    );

    const mainThread = f(input, w).dataSync(); // synchronous: every kernel on the main thread
    assert.equal(pooled.length, ROWS * COLS);
    assert.deepEqual(Array.from(pooled), Array.from(mainThread));
  });
});
