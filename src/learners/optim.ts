/**
 * RMSProp with PyTorch semantics and global-norm gradient clipping (spec §14), as pure jittable
 * functions over parameter trees. Like all jax-js code here, every function consumes its array
 * arguments (pass `tree.ref(t)` to keep a tree).
 */
import { type Arr, type JsTree, type JsTreeDef, np, tree } from "../nn/engine.js";

/** RMSProp hyperparameters (spec §14 / §18.1 defaults in `RMSPROP_DEFAULTS`). */
export interface RmsPropConfig {
  /** Learning rate (`lr`, 5e-4). */
  readonly lr: number;
  /** Smoothing constant (`optim_alpha`, 0.99). */
  readonly alpha: number;
  /** Added to the root of the square average (`optim_eps`, 1e-5). */
  readonly eps: number;
  /** L2 weight decay added to the gradient (`weight_decay`, 0). */
  readonly weightDecay: number;
}

export const RMSPROP_DEFAULTS: RmsPropConfig = { lr: 5e-4, alpha: 0.99, eps: 1e-5, weightDecay: 0 };

/** Gradient-clipping threshold (`grad_norm_clip`, 10). */
export const GRAD_NORM_CLIP = 10;

/** RMSProp state: the running average of squared gradients, same tree shape as the params. */
export type RmsPropState<T> = { square: T };

/** Zero-initialised state (PyTorch initialises `square_avg` to 0). Consumes `params`. */
export function rmspropInit<T extends JsTree<Arr>>(params: T): RmsPropState<T> {
  return { square: tree.map((p: Arr) => np.zerosLike(p), params) as unknown as T };
}

/** Global L2 norm over all leaves of a gradient tree. Consumes `grads`. */
export function globalNorm<T extends JsTree<Arr>>(grads: T): Arr {
  const leaves = tree.leaves(grads) as Arr[];
  let total: Arr | null = null;
  for (const g of leaves) {
    const s = np.square(g).sum();
    total = total === null ? s : total.add(s);
  }
  return total === null ? np.zeros([]) : np.sqrt(total);
}

/**
 * `torch.nn.utils.clip_grad_norm_` semantics: `norm` = global L2 norm; if `maxNorm/(norm+1e-6)`
 * is below 1 every gradient is multiplied by it. Returns the clipped tree and the pre-clip norm
 * (what the reference logs as `grad_norm`). Consumes `grads`.
 */
export function clipByGlobalNorm<T extends JsTree<Arr>>(grads: T, maxNorm: number): [T, Arr] {
  const norm = globalNorm(tree.ref(grads));
  const coef = np.minimum(np.divide(maxNorm, norm.ref.add(1e-6)), 1);
  const clipped = tree.map((g: Arr) => g.mul(coef.ref), grads) as unknown as T;
  coef.dispose();
  return [clipped, norm];
}

/**
 * One RMSProp step, PyTorch semantics (no momentum, not centred):
 * `g += wd·θ;  s = α·s + (1−α)·g²;  θ −= lr·g/(sqrt(s) + ε)`.
 * Returns the new params and state. Consumes all arguments.
 */
export function rmspropUpdate<T extends JsTree<Arr>>(
  params: T,
  grads: T,
  state: RmsPropState<T>,
  cfg: RmsPropConfig,
): [T, RmsPropState<T>] {
  const [pl, def] = tree.flatten(params) as [Arr[], JsTreeDef];
  const [gl, gdef] = tree.flatten(grads) as [Arr[], JsTreeDef];
  const [sl, sdef] = tree.flatten(state.square) as [Arr[], JsTreeDef];
  // Leaves are matched by position, and jax-js orders object keys by insertion: require the
  // same structure (same keys in the same order) rather than silently mixing up tensors.
  if (!def.equals(gdef) || !def.equals(sdef)) {
    throw new Error("rmspropUpdate: params, grads and state trees have different structures");
  }
  const newP: Arr[] = [];
  const newS: Arr[] = [];
  for (let i = 0; i < pl.length; i++) {
    let g = gl[i];
    let p = pl[i];
    if (cfg.weightDecay !== 0) g = g.add(p.ref.mul(cfg.weightDecay));
    const s = sl[i].mul(cfg.alpha).add(np.square(g.ref).mul(1 - cfg.alpha));
    p = p.sub(g.mul(cfg.lr).div(np.sqrt(s.ref).add(cfg.eps)));
    newP.push(p);
    newS.push(s);
  }
  const unflatten = (leaves: Arr[]) => tree.unflatten(def, leaves) as unknown as T;
  return [unflatten(newP), { square: unflatten(newS) }];
}
