/**
 * Node.js compatibility shims for `@jax-js/jax` 0.1.25. This module has side effects only and
 * must be evaluated **before** `@jax-js/jax` (import it first; `engine.ts` does), because the
 * Wasm backend decides at construction time (module evaluation) whether it gets a shared memory
 * and a worker pool.
 *
 * 1. `Float16Array`: jax-js tests `data instanceof Float16Array` when building an array from a
 *    typed array that is not Float32/Int32/Uint32. Node 20 has no `Float16Array`, so every
 *    `np.array(Float64Array)` (and every `np.array([...], {dtype: float64})`) throws a
 *    ReferenceError. A never-matching stand-in class makes those checks fall through.
 * 2. Threads: jax-js parallelises Wasm kernels over Web Workers sharing one
 *    `WebAssembly.Memory`, but only when the globals `Worker` and `SharedArrayBuffer` exist and
 *    sizes the pool with `navigator.hardwareConcurrency`. Node 20 has neither a global `Worker`
 *    nor `navigator`. We provide a minimal Web-Worker facade over `node:worker_threads` that can
 *    run the one kind of worker jax-js starts (a classic script from a `blob:` URL it created
 *    itself). Thread count: env `ALMA_JAX_THREADS` (0 or 1 disables the pool), default
 *    `os.availableParallelism()`.
 *
 * 3. Relaxed SIMD: jax-js emits fused multiply-add (`f32x4.relaxed_madd`) in its matmul kernels
 *    when the engine validates relaxed-SIMD modules. Node 20 (V8 11.3) ships the feature behind
 *    `--experimental-wasm-relaxed-simd`; we set that V8 flag at startup (process-wide, so the
 *    worker threads get it too). Measured ~1.3x on the 128-wide matmuls. Disable with
 *    `ALMA_WASM_RELAXED_SIMD=0` (results then differ in the last bits: FMA rounds once).
 *
 * With the pool present, only *asynchronous* reads (`await x.data()`, `blockUntilReady`) run
 * kernels on the workers; synchronous reads (`dataSync`, `js`, `item`) still run on the main
 * thread. Never read synchronously from an array whose producing program was dispatched
 * asynchronously and is still running (jax-js throws "cannot read synchronously from a slot with
 * async work"): await `blockUntilReady` on all outputs of a program first.
 */
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { Worker as NodeWorker } from "node:worker_threads";

const g = globalThis as Record<string, unknown>;

if (typeof g.Float16Array === "undefined") {
  g.Float16Array = class Float16ArrayUnavailable {
    constructor() {
      throw new Error("Float16Array is not available in this Node.js version");
    }
  };
}

/** A module using `f32x4.relaxed_madd` (the probe jax-js itself uses). */
const RELAXED_MADD_PROBE =
  "0061736d0100000001080160037b7b7b017b030201000a0d010b00200020012002fd85020b";

function relaxedSimdAvailable(): boolean {
  const hex = RELAXED_MADD_PROBE;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  // `WebAssembly` is not in the TypeScript libs this project compiles with.
  const wasm = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;
  try {
    return wasm?.validate(bytes) ?? false;
  } catch {
    return false;
  }
}

/** Whether Wasm relaxed SIMD (fused multiply-add) is enabled for jax-js' kernels. */
export const relaxedSimd: boolean = (() => {
  if (process.env.ALMA_WASM_RELAXED_SIMD === "0") return relaxedSimdAvailable();
  if (!relaxedSimdAvailable()) {
    try {
      setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      // Unknown flag on this runtime: keep plain SIMD.
    }
  }
  return relaxedSimdAvailable();
})();

/** Number of Wasm worker threads requested for jax-js (0 = no pool). */
export const requestedThreads: number = (() => {
  const env = process.env.ALMA_JAX_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number.parseInt(env, 10);
    return Number.isFinite(n) && n > 1 ? n : 0;
  }
  const n = availableParallelism();
  return n > 1 ? n : 0;
})();

/** Source text of `blob:` URLs created from plain strings, so the Worker facade can run them. */
const blobSources = new Map<string, string>();

// Prelude that makes a worker_threads worker look like a dedicated Web Worker to the script
// jax-js generates (it uses `self.onmessage` and a global `postMessage`).
const WORKER_PRELUDE = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (m) => parentPort.postMessage(m);
parentPort.on("message", (data) => {
  if (typeof self.onmessage === "function") self.onmessage({ data });
});
`;

let messagesToWorkers = 0;

/** Messages posted to jax-js' workers so far (a diagnostic for the batched-dispatch patch). */
export function workerMessageCount(): number {
  return messagesToWorkers;
}

/** Minimal dedicated-Web-Worker facade over worker_threads (only what jax-js uses). */
class NodeWebWorker {
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: { message: string }) => void) | null = null;
  readonly #worker: NodeWorker;
  #inFlight = 0;

  constructor(url: string | URL) {
    const src = blobSources.get(String(url));
    if (src === undefined) throw new Error(`NodeWebWorker: unknown script URL ${String(url)}`);
    this.#worker = new NodeWorker(WORKER_PRELUDE + src, { eval: true });
    // Idle workers must not keep the process alive; we ref() while a message is in flight.
    this.#worker.unref();
    this.#worker.on("message", (data: unknown) => {
      if (--this.#inFlight === 0) this.#worker.unref();
      this.onmessage?.({ data });
    });
    this.#worker.on("error", (err: Error) => {
      this.onerror?.({ message: err.message });
    });
  }

  postMessage(message: unknown): void {
    messagesToWorkers++;
    if (this.#inFlight++ === 0) this.#worker.ref();
    this.#worker.postMessage(message);
  }

  terminate(): void {
    void this.#worker.terminate();
  }
}

if (
  requestedThreads > 1 &&
  typeof g.Worker === "undefined" &&
  typeof SharedArrayBuffer !== "undefined"
) {
  const OrigBlob = globalThis.Blob;
  const blobText = new WeakMap<Blob, string>();
  // Record the text of string-only blobs: jax-js builds its worker script this way.
  type BlobArgs = ConstructorParameters<typeof Blob>;
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobArgs[0], options?: BlobArgs[1]) {
      super(parts ?? [], options);
      if (parts?.every((p) => typeof p === "string")) {
        blobText.set(this, (parts as unknown as string[]).join(""));
      }
    }
  }
  g.Blob = RecordingBlob;
  const origCreate = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob): string => {
    const url = origCreate(obj);
    const text = blobText.get(obj);
    if (text !== undefined) blobSources.set(url, text);
    return url;
  };
  const origRevoke = URL.revokeObjectURL.bind(URL);
  URL.revokeObjectURL = (url: string): void => {
    // The facade has already read the source; keep it in case jax-js recreates its pool.
    origRevoke(url);
  };
  g.Worker = NodeWebWorker;
  if (typeof g.navigator === "undefined") {
    g.navigator = { hardwareConcurrency: requestedThreads };
  } else {
    try {
      Object.defineProperty(g.navigator as object, "hardwareConcurrency", {
        value: requestedThreads,
        configurable: true,
      });
    } catch {
      // Keep the runtime's own value.
    }
  }
}
