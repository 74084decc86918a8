/**
 * Finite-difference checks of the allocator's losses (spec §12.2): directional derivatives of the
 * critic TD loss and of the proposal loss along random directions, per parameter tensor, against
 * the autodiff gradients. Float32-aware: central differences with a step large enough that
 * rounding noise (~1e-7 relative) stays far below the tolerance.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AllocNetConfig } from "../../src/nn/alloc/config.js";
import { type CriticParams, initCritic } from "../../src/nn/alloc/critic.js";
import { initPolicy, type PolicyParams } from "../../src/nn/alloc/policy.js";
import { criticLoss, policyLoss } from "../../src/nn/alloc/train.js";
import { type Arr, type JsTree, jit, np, random, tree, valueAndGrad } from "../../src/nn/engine.js";
import { initPopArtStats } from "../../src/nn/popart.js";
import { permMatrix, randomAllocations, randomStates, rng, smallCfg, toInputs } from "./helpers.js";

type Leaf = { path: string; arr: Arr };

function leaves(t: JsTree<Arr>, prefix = ""): Leaf[] {
  const out: Leaf[] = [];
  const walk = (x: unknown, p: string) => {
    if (x && typeof x === "object" && Array.isArray((x as { shape?: unknown }).shape))
      out.push({ path: p, arr: x as Arr });
    else if (x && typeof x === "object")
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], `${p}.${k}`);
  };
  walk(t, prefix);
  return out;
}

/** Replace one leaf (by path) of a tree with `value` (returns a new tree; refs the others). */
function withLeaf<T extends JsTree<Arr>>(t: T, path: string, value: Arr, prefix = ""): T {
  const walk = (x: unknown, p: string): unknown => {
    if (p === path) return value;
    if (x && typeof x === "object" && Array.isArray((x as { shape?: unknown }).shape))
      return (x as Arr).ref;
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x as object))
      o[k] = walk((x as Record<string, unknown>)[k], `${p}.${k}`);
    return o;
  };
  return walk(t, prefix) as T;
}

async function fdCheck<T extends JsTree<Arr>>(
  params: T,
  lossFn: (p: T) => Arr,
  seed: number,
  opts: { h: number; rel: number; abs: number },
): Promise<void> {
  // (jax-js's jit/valueAndGrad signatures do not accept a generic tree type parameter.)
  const gradFn = jit((p: JsTree<Arr>) =>
    valueAndGrad(lossFn as (p: JsTree<Arr>) => Arr)(p),
  ) as unknown as (p: T) => [Arr, T];
  const valueFn = jit((p: JsTree<Arr>) => lossFn(p as T)) as unknown as (p: T) => Arr;
  const [, grads] = gradFn(tree.ref(params));
  const r = rng(seed);
  const gl = leaves(grads);
  let checked = 0;
  for (const { path, arr } of leaves(params)) {
    const n = arr.size;
    const v = new Float32Array(n);
    let norm = 0;
    for (let i = 0; i < n; i++) {
      v[i] = r() * 2 - 1;
      norm += v[i] * v[i];
    }
    for (let i = 0; i < n; i++) v[i] /= Math.sqrt(norm);
    const g = (await gl.find((x) => x.path === path)!.arr.ref.data()) as Float32Array;
    let an = 0;
    for (let i = 0; i < n; i++) an += g[i] * v[i];
    const dir = np.array(v, { shape: arr.shape });
    const plus = withLeaf(params, path, arr.ref.add(dir.ref.mul(opts.h)));
    const minus = withLeaf(params, path, arr.ref.sub(dir.mul(opts.h)));
    const lp = ((await valueFn(plus).data()) as Float32Array)[0];
    const lm = ((await valueFn(minus).data()) as Float32Array)[0];
    const fd = (lp - lm) / (2 * opts.h);
    assert.ok(
      Math.abs(fd - an) <= opts.rel * Math.abs(an) + opts.abs,
      `${path}: finite difference ${fd} vs autodiff ${an}`,
    );
    if (process.env.FD_DEBUG) console.log(path, fd, an);
    checked++;
  }
  tree.dispose(grads);
  assert.ok(checked > 5);
}

describe("finite-difference gradient checks (§12.2)", () => {
  const S = 6;
  const tol = { h: 1e-2, rel: 0.03, abs: 3e-5 };

  for (const popart of [true, false]) {
    it(`critic TD loss (Pop-Art ${popart ? "on, first update" : "off"})`, async () => {
      // On the first Pop-Art update the head is not rescaled (σ_old = σ, §13), so the reference's
      // gradient (through the updated w) is the exact gradient of the loss value.
      const cfg: AllocNetConfig = smallCfg({ popart });
      const q = initCritic(random.key(21), cfg);
      const st = randomStates(cfg, S, 22);
      const r = rng(23);
      const y = np.array(
        Float32Array.from({ length: S }, () => r() * 4 - 1),
        { shape: [S] },
      );
      const qMask = np.array(
        Float32Array.from({ length: S }, (_, i) => (i === 2 ? 0 : 1)),
        { shape: [S] },
      );
      const weight = np.array(
        Float32Array.from({ length: S }, (_, i) => (i === 2 ? 0 : 0.25 + 0.1 * i)),
        { shape: [S] },
      );
      const permData = permMatrix(cfg.nTasks, 24);
      const inp = toInputs(cfg, st);
      await fdCheck<CriticParams>(
        q,
        (p) => {
          const [loss, aux] = criticLoss(
            p,
            initPopArtStats(),
            {
              entities: inp.entities.ref,
              entityMask: inp.entityMask.ref,
              entity2taskMask: inp.entity2taskMask.ref,
            },
            y.ref,
            qMask.ref,
            weight.ref,
            np.array(permData, { shape: [cfg.nTasks, cfg.nTasks] }),
            cfg,
          );
          tree.dispose(aux);
          return loss;
        },
        25,
        tol,
      );
    });
  }

  for (const pointerNet of [true, false]) {
    it(`proposal loss (amortisation + entropy bonus)${pointerNet ? "" : ", pi_pointer_net = false"}`, async () => {
      const cfg = smallCfg({ entropyLoss: 0.3, flags: { ...smallCfg().flags, pointerNet } });
      const P = cfg.nProposals;
      const pi = initPolicy(random.key(31), cfg);
      const st = randomStates(cfg, S, 32);
      const props = np.array(randomAllocations(cfg, st, P, 33), {
        shape: [S, P, cfg.nAgents, cfg.nTasks],
      });
      const r = rng(34);
      const best = new Float32Array(S * P);
      for (let s = 0; s < S; s++) best[s * P + Math.floor(r() * P)] = 1;
      const bestOH = np.array(best, { shape: [S, P] });
      const mask = np.array(
        Float32Array.from({ length: S }, (_, i) => (i === 1 ? 0 : 1)),
        { shape: [S] },
      );
      const valid = np.ones([S]);
      const permData = permMatrix(cfg.nTasks, 35);
      const inp = toInputs(cfg, st);
      await fdCheck<PolicyParams>(
        pi,
        (p) => {
          const [loss, aux] = policyLoss(
            p,
            tree.ref(inp),
            np.array(permData, { shape: [cfg.nTasks, cfg.nTasks] }),
            props.ref,
            bestOH.ref,
            mask.ref,
            valid.ref,
            cfg,
          );
          tree.dispose(aux);
          return loss;
        },
        36,
        tol,
      );
    });
  }
});
