/**
 * The allocator's optimiser choice (`hier_agent.alloc_opt`, spec §14): RMSProp (default, from
 * `optim.ts`) or Adam, behind one pure, jittable interface. Every function consumes its arguments.
 */
import { type Arr, type JsTree, np, tree } from "../nn/engine.js";
import { type RmsPropState, rmspropInit, rmspropUpdate } from "./optim.js";

export type AllocOptKind = "rmsprop" | "adam";

/** Hyperparameters of one parameter group. */
export interface AllocOptConfig {
  readonly kind: AllocOptKind;
  readonly lr: number;
  /** RMSProp smoothing α (`optim_alpha`). */
  readonly alpha: number;
  /** RMSProp ε (`optim_eps`). */
  readonly eps: number;
  readonly weightDecay: number;
}

/**
 * Adam state (PyTorch semantics). The spec only says "'adam' also allowed" (§14); this uses
 * PyTorch's defaults β = (0.9, 0.999), ε = 1e-8, L2 weight decay added to the gradient.
 */
export type AdamState<T> = { m: T; v: T; step: Arr };

export type AllocOptState<T> = RmsPropState<T> | AdamState<T>;

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const ADAM_EPS = 1e-8;

/** Zero state for `params` (consumes `params`). */
export function allocOptInit<T extends JsTree<Arr>>(
  kind: AllocOptKind,
  params: T,
): AllocOptState<T> {
  if (kind === "rmsprop") return rmspropInit(params);
  const m = tree.map((p: Arr) => np.zerosLike(p), tree.ref(params)) as unknown as T;
  const v = tree.map((p: Arr) => np.zerosLike(p), params) as unknown as T;
  return { m, v, step: np.zeros([]) };
}

/** One optimiser step; returns new params and state. Consumes all arguments. */
export function allocOptUpdate<T extends JsTree<Arr>>(
  params: T,
  grads: T,
  state: AllocOptState<T>,
  cfg: AllocOptConfig,
): [T, AllocOptState<T>] {
  if (cfg.kind === "rmsprop") {
    return rmspropUpdate(params, grads, state as RmsPropState<T>, {
      lr: cfg.lr,
      alpha: cfg.alpha,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
    });
  }
  const st = state as AdamState<T>;
  const [pl, def] = tree.flatten(params) as [Arr[], unknown];
  const gl = tree.leaves(grads) as Arr[];
  const ml = tree.leaves(st.m) as Arr[];
  const vl = tree.leaves(st.v) as Arr[];
  const step = st.step.add(1);
  const bc1 = np.subtract(1, np.power(ADAM_B1, step.ref));
  const bc2 = np.subtract(1, np.power(ADAM_B2, step.ref));
  const newP: Arr[] = [];
  const newM: Arr[] = [];
  const newV: Arr[] = [];
  for (let i = 0; i < pl.length; i++) {
    let g = gl[i];
    const p = pl[i];
    if (cfg.weightDecay !== 0) g = g.add(p.ref.mul(cfg.weightDecay));
    const m = ml[i].mul(ADAM_B1).add(g.ref.mul(1 - ADAM_B1));
    const v = vl[i].mul(ADAM_B2).add(np.square(g).mul(1 - ADAM_B2));
    const denom = np.sqrt(v.ref.div(bc2.ref)).add(ADAM_EPS);
    newP.push(p.sub(m.ref.div(bc1.ref).mul(cfg.lr).div(denom)));
    newM.push(m);
    newV.push(v);
  }
  bc1.dispose();
  bc2.dispose();
  const unflatten = (leaves: Arr[]) =>
    tree.unflatten(def as Parameters<typeof tree.unflatten>[0], leaves) as unknown as T;
  return [unflatten(newP), { m: unflatten(newM), v: unflatten(newV), step }];
}
