/**
 * The single entry point to the numerical engine (`@jax-js/jax` 0.1.25, pinned). Every module that
 * needs jax-js imports it from here, never from `@jax-js/jax` directly, so that
 *
 * - the Node.js compatibility shims (`node-compat.ts`: `Float16Array` stand-in, worker threads for
 *   the Wasm backend) are installed before jax-js evaluates, and
 * - the engine could be swapped by editing `src/nn` and `src/learners` only.
 *
 * jax-js facts this code base relies on (see also the report in `src/nn/README.md`):
 *
 * - Device: on Node the default device is already `wasm` (jax-js picks it whenever
 *   `WebAssembly` exists); `useWasm()` makes that explicit. WebGPU does not exist on Node.
 * - Ownership: every jax-js function (and every function in `src/nn`) *consumes* its array
 *   arguments (reference count −1). Use `x.ref` (or `tree.ref(t)` for a parameter tree) to keep
 *   using an array after passing it. Leaked references leak Wasm memory; double use throws.
 * - `jit` compiles once per distinct input shape/dtype signature: keep batch shapes fixed
 *   (pad + mask) or every new shape recompiles (seconds each).
 * - `np.matmul` with batch dimensions of *different rank* returns the batch axes in the wrong
 *   order in 0.1.25 (`[4,1,m,k] @ [5,k,n]` gives `[5,4,m,n]`); always give both operands the same
 *   rank.
 * - `np.einsum` uses iterator helpers missing from Node 20: do not use it.
 * - Wasm kernels only vectorise (SIMD) when the innermost dimensions involved are multiples of 4;
 *   a 70-wide input layer made the weight-gradient kernel ~60x slower. `src/nn` pads such
 *   dimensions internally.
 */
import "./node-compat.js";

import {
  defaultDevice,
  grad,
  type Array as JaxArray,
  type JsTree,
  type JsTreeDef,
  jit,
  lax,
  nn,
  numpy,
  random,
  tree,
  valueAndGrad,
  vmap,
} from "@jax-js/jax";
import { relaxedSimd, requestedThreads, workerMessageCount } from "./node-compat.js";

export type { JsTree, JsTreeDef };
export { grad, jit, lax, nn as jnn, numpy as np, random, tree, valueAndGrad, vmap };
/** A jax-js array (alias so that the name does not clash with the JavaScript `Array`). */
export type Arr = JaxArray;

/** Select the Wasm backend explicitly (it is already the default on Node). */
export function useWasm(): void {
  defaultDevice("wasm");
}

/** Number of Wasm worker threads jax-js will use (0 = kernels run on the main thread). */
export function engineThreads(): number {
  return requestedThreads;
}

/**
 * Messages posted to jax-js' worker threads so far. With the batched-dispatch patch
 * (patches/README.md) a compiled program costs one message per worker, not one per kernel.
 */
export function engineWorkerMessages(): number {
  return workerMessageCount();
}

/** Whether the Wasm kernels use relaxed-SIMD fused multiply-add (see node-compat.ts). */
export function engineRelaxedSimd(): boolean {
  return relaxedSimd;
}

/**
 * Wait until every array of `t` has been computed (does not consume `t`). Required before any
 * synchronous read of arrays whose program was dispatched asynchronously to the worker pool.
 */
export async function materialize<T extends JsTree<JaxArray>>(t: T): Promise<T> {
  // One leaf at a time: the first wait submits every pending kernel of the program (they share
  // one pending list), after which the others are nearly free. jax-js' own
  // `blockUntilReady(tree)` starts all leaves concurrently, and each of them walks the whole
  // (still unsubmitted) list: hundreds of leaves × hundreds of kernels = ~10^5 promises (measured
  // 150 ms per training step).
  for (const leaf of tree.leaves(t) as JaxArray[]) await leaf.blockUntilReady();
  return t;
}

/**
 * Same contract as jax-js' `blockUntilReady(tree)` (waits, does not consume), implemented as
 * `materialize` because the library version is ~150 ms slower per training step (see there).
 */
export const blockUntilReady: <T extends JsTree<JaxArray>>(t: T) => Promise<T> = materialize;

/** Read a scalar array (consumes it) asynchronously, so that worker threads are used. */
export async function readScalar(x: JaxArray): Promise<number> {
  const d = await x.data();
  return Number(d[0]);
}

/** Read an array (consumes it) into a Float32Array, asynchronously. */
export async function readFloat32(x: JaxArray): Promise<Float32Array> {
  const d = await x.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

type WasmBackendLike = {
  malloc(size: number, init?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
};

/** Live-buffer statistics of the Wasm backend (see `trackLiveBuffers`). */
export type LiveBufferStats = {
  /** Live device buffers allocated since tracking started. */
  count: number;
  /** Their total size in bytes. */
  bytes: number;
  /** Largest `bytes` seen since tracking started (or since `resetPeak`). */
  peakBytes: number;
  resetPeak(): void;
};

let liveCounter: (() => LiveBufferStats) | null = null;

/**
 * Instrument the Wasm backend to count live device buffers (test/diagnostic use only). Buffers
 * allocated before the call are not counted. jax-js 0.1.25 does not export its backend, so this
 * loads the internal chunk that defines it (same module instance as the one jax-js uses) and wraps
 * `malloc` / `incRef` / `decRef` to mirror the backend's reference counts.
 */
export async function trackLiveBuffers(): Promise<() => LiveBufferStats> {
  if (liveCounter) return liveCounter;
  const { readdirSync } = await import("node:fs");
  const { dirname, join } = await import("node:path");
  const { fileURLToPath, pathToFileURL } = await import("node:url");
  const entry = fileURLToPath(import.meta.resolve("@jax-js/jax"));
  const dir = dirname(entry);
  const chunk = readdirSync(dir).find((f) => /^backend-.*\.js$/.test(f));
  if (!chunk) throw new Error("trackLiveBuffers: jax-js backend chunk not found");
  const mod = (await import(pathToFileURL(join(dir, chunk)).href)) as Record<string, unknown>;
  // In 0.1.25 `getBackend` is exported from that chunk under the minified name `s`.
  let backend: WasmBackendLike | null = null;
  const getBackend = mod.s;
  if (typeof getBackend === "function") {
    const b = (getBackend as (d: string) => unknown)("wasm") as { type?: string } | null;
    if (b && typeof b === "object" && b.type === "wasm" && "malloc" in b) {
      backend = b as unknown as WasmBackendLike;
    }
  }
  if (!backend) throw new Error("trackLiveBuffers: wasm backend not found");
  const rc = new Map<number, number>();
  const sizes = new Map<number, number>();
  let bytes = 0;
  let peak = 0;
  const b = backend;
  const malloc = b.malloc.bind(b);
  const incRef = b.incRef.bind(b);
  const decRef = b.decRef.bind(b);
  b.malloc = (size, init) => {
    const slot = malloc(size, init);
    rc.set(slot, 1);
    sizes.set(slot, size);
    bytes += size;
    if (bytes > peak) peak = bytes;
    return slot;
  };
  b.incRef = (slot) => {
    incRef(slot);
    const r = rc.get(slot);
    if (r !== undefined) rc.set(slot, r + 1);
  };
  b.decRef = (slot) => {
    decRef(slot);
    const r = rc.get(slot);
    if (r !== undefined) {
      if (r <= 1) {
        rc.delete(slot);
        bytes -= sizes.get(slot) ?? 0;
        sizes.delete(slot);
      } else rc.set(slot, r - 1);
    }
  };
  const stats: LiveBufferStats = {
    count: 0,
    bytes: 0,
    peakBytes: 0,
    resetPeak() {
      peak = bytes;
    },
  };
  liveCounter = () => {
    stats.count = rc.size;
    stats.bytes = bytes;
    stats.peakBytes = peak;
    return stats;
  };
  return liveCounter;
}
