/**
 * Pop-Art target normalisation (spec §13), as pure jittable functions.
 *
 * The running statistics are scalars shared by all outputs of a head (for the mixer: all subtask
 * outputs); the head's affine `w`, `b` have one entry per output and are trainable parameters
 * that `popartUpdate` rescales so that the head's *denormalised* output is preserved.
 */
import { type Arr, lax, np } from "./engine.js";
import type { PopArtHead } from "./mixer.js";

/**
 * Running statistics. `initialized` is 0 until the first update (the reference's "μ undefined"),
 * encoded as an array so the whole update is branch-free inside `jit`. All three are scalars.
 */
export type PopArtStats = { mean: Arr; var: Arr; initialized: Arr };

/** Step size α of both Pop-Art heads (spec §13). */
export const POPART_ALPHA = 0.01;

/** Scalar float32 constant. The explicit dtype matters: jax-js makes dtype-less scalars "weakly
 * typed", and a weak input in one call but a strong one in the next makes `jit` recompile. */
function scalarF32(v: number): Arr {
  return np.full([], v, { dtype: np.float32 });
}

/** Fresh, undefined statistics. */
export function initPopArtStats(): PopArtStats {
  return { mean: scalarF32(0), var: scalarF32(1), initialized: scalarF32(0) };
}

/** Result of `popartUpdate`. */
export type PopArtUpdate = {
  stats: PopArtStats;
  /** The head after rescaling (`w·σ_old/σ`, `(b·σ_old + μ_old − μ)/σ`). */
  head: PopArtHead;
  /** Targets normalised with the *updated* statistics, `(y − μ)/σ`. */
  yNorm: Arr;
};

function mm(x: Arr, m: Arr): Arr {
  return x.mul(m.ref).sum().div(m.sum().add(1e-8));
}

/**
 * `popart_update(y, m)` exactly as specified (spec §13):
 *
 * ```
 * first call:  μ = mm(y); δ = y − μ; μ += α·mm(δ); v = mm(δ²); v = (1−α)(v + α·mm(δ²));
 *              μ_old, v_old = μ, v                       (no rescaling of w, b)
 * later:       μ_old, v_old = μ, v; δ = y − μ_old; μ = μ_old + α·mm(δ); v = (1−α)(v_old + α·mm(δ²))
 * then:        σ_old, σ = sqrt(v_old), sqrt(v)  (no epsilon)
 *              w ← w·σ_old/σ;  b ← (b·σ_old + μ_old − μ)/σ;  return (y − μ)/σ
 * ```
 *
 * with `mm(x) = Σ(x·m)/(Σm + 1e-8)` over all axes. `y` and `mask` must have the same shape.
 * Consumes all arguments. Branch-free: both cases are computed and selected with `where`, so it
 * runs inside one compiled training step.
 */
export function popartUpdate(
  stats: PopArtStats,
  head: PopArtHead,
  y: Arr,
  mask: Arr,
  alpha = POPART_ALPHA,
): PopArtUpdate {
  const init = stats.initialized.greater(0.5);
  // First-call branch.
  const mu1 = mm(y.ref, mask.ref);
  const d1 = y.ref.sub(mu1.ref);
  const muF = mu1.add(mm(d1.ref, mask.ref).mul(alpha));
  const msq1 = mm(d1.ref.mul(d1), mask.ref);
  const vF = msq1.ref.add(msq1.mul(alpha)).mul(1 - alpha);
  // Later-call branch.
  const d = y.ref.sub(stats.mean.ref);
  const muN = stats.mean.ref.add(mm(d.ref, mask.ref).mul(alpha));
  const vN = stats.var.ref.add(mm(d.ref.mul(d), mask).mul(alpha)).mul(1 - alpha);

  const muOld = np.where(init.ref, stats.mean, muF.ref);
  const vOld = np.where(init.ref, stats.var, vF.ref);
  const mu = np.where(init.ref, muN, muF);
  const v = np.where(init, vN, vF);
  const sigmaOld = np.sqrt(vOld.ref);
  const sigma = np.sqrt(v.ref);
  const w = head.w.mul(sigmaOld.ref).div(sigma.ref);
  const b = head.b.mul(sigmaOld).add(muOld).sub(mu.ref).div(sigma.ref);
  const yNorm = y.sub(mu.ref).div(sigma);
  return {
    stats: { mean: mu, var: v, initialized: scalarF32(1) },
    head: { w, b },
    yNorm,
  };
}

/**
 * `denormalise(q) = q·σ + μ`, the identity while the statistics are undefined (spec §13; used for
 * target networks, which carry their own copy of the statistics). Consumes all.
 */
export function popartDenormalize(q: Arr, stats: PopArtStats): Arr {
  const init = stats.initialized.greater(0.5);
  const sigma = np.where(init.ref, np.sqrt(stats.var), 1);
  const mu = np.where(init, stats.mean, 0);
  return q.mul(sigma).add(mu);
}

/**
 * The mixer's Pop-Art prediction with the reference's gradient semantics (spec §13, §20.4): value
 * `w·y + b` with the head *before* the update, but the gradient reaching `y` is scaled by the
 * *updated* weight `wNew` (the reference rescales w in place between forward and backward), while
 * `w` and `b` receive the usual `y` and `1` (applied by the optimiser to the updated head).
 * `w·sg(y) + y·sg(wNew) − sg(y·wNew) + b`. Consumes all.
 */
export function popartPrediction(w: Arr, b: Arr, wNew: Arr, y: Arr): Arr {
  const sg = lax.stopGradient;
  return w
    .mul(sg(y.ref))
    .add(y.ref.mul(sg(wNew.ref)))
    .sub(sg(y.mul(wNew)))
    .add(b);
}
