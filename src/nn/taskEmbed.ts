/**
 * TaskEmbedder: the random-permutation subtask code (spec §3.3).
 */
import { type Arr, np, random } from "./engine.js";
import { initLinearNoBias, type LinearNoBias, linear, padLast } from "./layers.js";

/** Linear(Nt + n_extra_tasks → d, no bias) as `w: [Nt + nExtra, d]`. */
export type TaskEmbedParams = LinearNoBias;

/** PyTorch-default initialisation of a TaskEmbedder with `nTasks + nExtraTasks` inputs. */
export function initTaskEmbed(key: Arr, nTaskInputs: number, dim: number): TaskEmbedParams {
  return initLinearNoBias(key, nTaskInputs, dim);
}

/**
 * A uniformly random permutation of `n` subtask columns as a one-hot matrix `P: [n, n]` with
 * `P[k, j] = 1` iff column j of the permuted membership is original column k, so that
 * `membership @ P` permutes the columns. Consumes `key`.
 */
export function randomPermutationMatrix(key: Arr, n: number): Arr {
  const perm = random.permutation(key, n).astype(np.float32).reshape([1, n]);
  const rows = np.arange(n).astype(np.float32).reshape([n, 1]);
  return perm.equal(rows).astype(np.float32);
}

/** The identity permutation (deterministic evaluation / tests). */
export function identityPermutationMatrix(n: number): Arr {
  return np.eye(n);
}

/**
 * TaskEmbedder forward (spec §3.3): `membership` `[..., Nt]` (1 = member, i.e. `1 −
 * entity2task_mask`) is padded with `nExtra` zero columns, its columns are permuted by `perm`
 * (`[Nt+nExtra, Nt+nExtra]`, one permutation for the whole call, shared by the batch) and mapped
 * by the bias-free linear layer. Entities in no subtask get the zero vector. Consumes all.
 *
 * Permuting the columns of the input equals permuting the rows of the weight, `(M P) W = M (P W)`;
 * the second form costs one tiny matmul instead of a pass over the membership tensor.
 */
export function taskEmbed(p: TaskEmbedParams, membership: Arr, perm: Arr): Arr {
  const nIn = p.w.shape[0];
  const m = padLast(membership, nIn);
  const pw = np.matmul(perm, p.w);
  return linear(m, { w: pw });
}
