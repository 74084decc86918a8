/**
 * The acting programs of the allocation controller (spec §8.4 network part, §9.2): the same
 * computation as `allocAct` / `allocPropose` / `allocScore` in `train.ts` (same values, same
 * Gumbel-max sampling, same argmax), restructured for the latency-bound acting call.
 *
 * - **Acting weights** (`ActWeights`): everything the acting programs derive from the parameters
 *   alone (entity layers padded to the input width, the Q/K/V blocks of the attention weights,
 *   the count-embedding rows, the TaskEmbedder weights padded to a multiple of 4 rows) is
 *   computed once per parameter update by `actWeights` instead of in every acting call.
 * - **Host-side state preprocessing** (`fillActHost`): memberships, attention masks and the
 *   subtask masks are exact 0/1 functions of the observation, built on the host while packing the
 *   inputs, instead of a dozen tiny device kernels per call.
 * - The TaskEmbedder permutation of each call is drawn on the host (as before) and handed to the
 *   policy as a matrix padded to the TaskEmbedder's padded width (zero rows and columns), so the
 *   padded product `membership @ (perm @ W)` needs no padding kernels: its values are unchanged.
 * - **Agent packing** (`ActSource.agents`, `actConfig`): the caller may place only the active
 *   agents in the agent rows and compile the program for that many rows; inactive agents change
 *   no value (they choose nothing and are masked out of the critic), so the work shrinks with the
 *   number of active agents and the results stay the same.
 * - Fewer kernels: short sums over the subtasks are unrolled (elementwise, fused into their
 *   consumer) where they were reductions, the running agent count is rebuilt per agent so that
 *   it fuses into the logits, and the program returns the one-hot proposals and their scores
 *   (`unpackDecision` takes the first best on the host) instead of computing indices and argmax
 *   in kernels of their own. Every sum keeps its order, so the values are bit-identical.
 *
 * Only the paper's policy variant (`pi_autoreg`, `sel_task_upd`, `pi_pointer_net`, no agent
 * self-attention) has this path; `actSupported` tells. Every function consumes its array
 * arguments (see `src/nn/engine.ts`).
 */
import { type Arr, lax, np } from "../engine.js";
import {
  barrier,
  type Linear,
  linear,
  materializeFwd,
  padRows,
  relu,
  roundUp4,
} from "../layers.js";
import { attendQKVKeep, type SplitAttention, splitInProjection } from "./attend.js";
import type { AllocNetConfig } from "./config.js";
import { type CriticParams, criticCore } from "./critic.js";
import type { PolicyParams } from "./policy.js";
import { baseLogits, MASKED_LOGIT, selectRows } from "./policy.js";
import type { AllocParams } from "./train.js";

/** Whether `cfg` has the acting fast path (the paper's policy variant, spec §8.2 defaults). */
export function actSupported(cfg: AllocNetConfig): boolean {
  const f = cfg.flags;
  return f.autoreg && f.selTaskUpd && f.pointerNet && !f.agAttn;
}

/** Width of the TaskEmbedder input as the acting programs see it (padded to a multiple of 4). */
export function actTaskWidth(cfg: AllocNetConfig): number {
  return roundUp4(cfg.nTasks + cfg.nExtraTasks);
}

/** Attention weights split into their Q, K and V blocks. */

/** Parameter-only inputs of the acting programs (see the module comment). */
export type ActWeights = {
  pi: {
    /** fc1 with zero rows up to the entity width W. */
    fc1: Linear;
    /** TaskEmbedder weight with zero rows up to `actTaskWidth`. */
    te: Arr;
    attn: SplitAttention;
    /** Rows 0..E−1 of embed_update (act on te[k*]), rows E..2E−1 and the bias. */
    wTop: Arr;
    wBot: Arr;
    bUpd: Arr;
    /** count_embed weight rows and bias as `[3, E]`. */
    cwW: Arr;
  };
  q: {
    inFcEnt: Linear;
    /** TaskEmbedder weight `[Nt + nExtra, E']` (multiplied by the `[n, n]` permutation). */
    te: Arr;
    /** 0.2·W0 (agents per subtask), W1 (non-agents per subtask), bias of the CountEmbedder. */
    w0: Arr;
    w1: Arr;
    cb: Arr;
    attn: SplitAttention;
    outFc: Linear;
    popW: Arr;
    popB: Arr;
  };
};

/**
 * The acting weights of the live parameters for entity rows of width `W` (≥ De). Pure; jit it
 * and call it once per parameter update. Consumes `params`.
 */
export function actWeights(params: AllocParams, W: number, cfg: AllocNetConfig): ActWeights {
  const pi: PolicyParams = params.pi;
  const q: CriticParams = params.q;
  const E = cfg.piEmbed;
  const Eq = cfg.qEmbed;
  const n4 = actTaskWidth(cfg);
  const cw = q.countEmbed.w;
  return {
    pi: {
      fc1: { w: padRows(pi.fc1.w, W), b: pi.fc1.b },
      te: padRows(pi.taskEmbed.w, n4),
      attn: splitInProjection(pi.attn),
      wTop: pi.embedUpdate.w.ref.slice([0, E]),
      wBot: pi.embedUpdate.w.slice([E, 2 * E]),
      bUpd: pi.embedUpdate.b,
      cwW: np.concatenate([pi.countEmbed.w, pi.countEmbed.b.reshape([1, E])], 0),
    },
    q: {
      inFcEnt: { w: padRows(q.inFcEnt.w, W), b: q.inFcEnt.b },
      te: q.taskEmbed.w,
      w0: cw.ref.slice([0, 1]).mul(0.2).reshape([1, 1, 1, Eq]),
      w1: cw.slice([1, 2]).reshape([1, 1, Eq]),
      cb: q.countEmbed.b,
      attn: splitInProjection(q.attn),
      outFc: q.outFc,
      popW: q.popart.w,
      popB: q.popart.b,
    },
  };
}

/** Per-state inputs of the acting programs (all float32, `S` states). */
export type ActInputs = {
  /** [S, Ne, W] raw entity features (zero columns beyond De). */
  entities: Arr;
  /**
   * [S, Ne, n4] membership (1 = member) with zero columns up to `actTaskWidth`: agent rows hold
   * the previous allocation (`last_alloc`, §8.1), other rows `1 − entity2task_mask`.
   */
  memb: Arr;
  /** [S, Nn, Nt] the non-agent rows of `memb`. */
  membNa: Arr;
  /**
   * [S, V] per-state vectors, V = 3·Nt + Nn + Ne: `0.2 · #non-agents` per subtask (policy),
   * `#non-agents` per subtask (critic), per non-agent entity 1 if it is in a subtask, per entity
   * 1 if active, and the task mask (1 = inactive subtask). See `actVectors`.
   */
  vec: Arr;
  /** [S, Nn, Nn] policy attention pre-mask among non-agent entities (1 = blocked, §8.2). */
  piPre: Arr;
  /** [S, Na, Ne] critic attention pre-mask of the agent queries: "both active" (§8.3). */
  qPre: Arr;
};

/** Column ranges of `ActInputs.vec`. */
export function actVectors(cfg: AllocNetConfig): {
  nonagCnt: [number, number];
  nNa: [number, number];
  inSub: [number, number];
  active: [number, number];
  taskMask: [number, number];
  width: number;
} {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const Nn = Ne - Na;
  let o = 0;
  const r = (n: number): [number, number] => {
    o += n;
    return [o - n, o];
  };
  const out = { nonagCnt: r(Nt), nNa: r(Nt), inSub: r(Nn), active: r(Ne), taskMask: r(Nt) };
  return { ...out, width: o };
}

/** Host buffers of `ActInputs` for `S` states (see `fillActHost`). */
export type ActHost = {
  S: number;
  entities: Float32Array;
  memb: Float32Array;
  membNa: Float32Array;
  vec: Float32Array;
  piPre: Float32Array;
  qPre: Float32Array;
};

/** Allocate host buffers for `S` states with entity rows of width `W`. */
export function allocActHost(cfg: AllocNetConfig, S: number, W: number): ActHost {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const Nn = Ne - Na;
  return {
    S,
    entities: new Float32Array(S * Ne * W),
    memb: new Float32Array(S * Ne * actTaskWidth(cfg)),
    membNa: new Float32Array(S * Nn * Nt),
    vec: new Float32Array(S * actVectors(cfg).width),
    piPre: new Float32Array(S * Nn * Nn),
    qPre: new Float32Array(S * Na * Ne),
  };
}

/** One state as the acting batch stores it (views into the runner's typed arrays). */
export interface ActSource {
  /** [NaSrc + Nn, De] raw entity features (agents first). */
  entities: ArrayLike<number>;
  /** [NaSrc + Nn] 1 = inactive. */
  entityMask: ArrayLike<number>;
  /** [NaSrc + Nn, Nt] 0 = member (agent rows are ignored: the allocation comes from `allocation`). */
  entity2taskMask: ArrayLike<number>;
  /** [Nt] 1 = inactive subtask. */
  taskMask: ArrayLike<number>;
  /** [NaSrc] previous allocation, subtask per agent (−1 = none). */
  allocation: ArrayLike<number>;
  /**
   * Agent slots of the source to place in the agent rows 0.. of the acting input, in order
   * (default: all NaSrc = cfg.nAgents slots). Rows beyond them are inactive padding agents. See
   * `activeAgents`: leaving out inactive agents changes no value (spec §8.2, §8.3: an inactive
   * agent chooses nothing, changes no embedding or count, and is masked out of the critic's
   * attention and pooled as an exact zero).
   */
  agents?: readonly number[];
  /** Number of agent slots in the source arrays (default cfg.nAgents). */
  nAgents?: number;
}

/**
 * Write state `src` into row `j` of `h`, or a fully masked padding row when `src` is null (every
 * entity and subtask inactive, no memberships: its outputs are never used). `De` is the raw
 * entity width (≤ W).
 */
export function fillActHost(
  h: ActHost,
  j: number,
  src: ActSource | null,
  cfg: AllocNetConfig,
  De: number,
): void {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const Nn = Ne - Na;
  const n4 = actTaskWidth(cfg);
  const V = actVectors(cfg);
  const W = h.entities.length / (h.S * Ne);
  const ent = h.entities.subarray(j * Ne * W, (j + 1) * Ne * W);
  const memb = h.memb.subarray(j * Ne * n4, (j + 1) * Ne * n4);
  const membNa = h.membNa.subarray(j * Nn * Nt, (j + 1) * Nn * Nt);
  const vec = h.vec.subarray(j * V.width, (j + 1) * V.width);
  const piPre = h.piPre.subarray(j * Nn * Nn, (j + 1) * Nn * Nn);
  const qPre = h.qPre.subarray(j * Na * Ne, (j + 1) * Na * Ne);
  ent.fill(0);
  memb.fill(0);
  membNa.fill(0);
  vec.fill(0);
  const active = vec.subarray(V.active[0], V.active[1]);
  const tm = vec.subarray(V.taskMask[0], V.taskMask[1]);
  if (src === null) {
    tm.fill(1);
    piPre.fill(1);
    qPre.fill(1);
    return;
  }
  const srcNa = src.nAgents ?? Na;
  const agents = src.agents;
  const nAg = agents ? agents.length : srcNa;
  if (nAg > Na || (!agents && srcNa !== Na))
    throw new RangeError(`fillActHost: ${nAg} agents do not fit ${Na} agent rows`);
  // Row r of the acting input ← source entity `from(r)` (−1: padding agent).
  const from = (r: number) => (r < Na ? (r < nAg ? (agents ? agents[r] : r) : -1) : srcNa + r - Na);
  for (let r = 0; r < Ne; r++) {
    const e = from(r);
    if (e < 0) continue; // padding agent: inactive, no features, no allocation
    for (let d = 0; d < De; d++) ent[r * W + d] = src.entities[e * De + d];
    active[r] = src.entityMask[e] === 0 ? 1 : 0;
    if (r < Na) {
      const k = src.allocation[e];
      if (k >= 0) memb[r * n4 + k] = 1; // last_alloc (§8.1)
    } else
      for (let k = 0; k < Nt; k++) {
        const m = src.entity2taskMask[e * Nt + k] === 0 ? 1 : 0;
        memb[r * n4 + k] = m;
        membNa[(r - Na) * Nt + k] = m;
      }
  }
  for (let k = 0; k < Nt; k++) tm[k] = src.taskMask[k];
  // Member counts: exact small integers; 0.2·n rounded to float32 as the device would.
  const fifth = Math.fround(0.2);
  for (let k = 0; k < Nt; k++) {
    let n = 0;
    for (let a = 0; a < Nn; a++) n += membNa[a * Nt + k];
    vec[V.nNa[0] + k] = n;
    vec[V.nonagCnt[0] + k] = Math.fround(n * fifth);
  }
  for (let a = 0; a < Nn; a++) {
    let n = 0;
    for (let k = 0; k < Nt; k++) n += membNa[a * Nt + k];
    vec[V.inSub[0] + a] = n;
  }
  // Policy: non-agent entities attend those that share a subtask (§3.2, `subtask_mask`); the
  // `subtask_mask = false` ablation uses "both active" instead.
  for (let a = 0; a < Nn; a++)
    for (let b = 0; b < Nn; b++) {
      let blocked = 1;
      if (cfg.flags.subtaskMask) {
        for (let k = 0; k < Nt; k++)
          if (membNa[a * Nt + k] === 1 && membNa[b * Nt + k] === 1) blocked = 0;
      } else if (active[Na + a] === 1 && active[Na + b] === 1) blocked = 0;
      piPre[a * Nn + b] = blocked;
    }
  // Critic: agent queries attend every active entity when they are active themselves (§8.3).
  for (let i = 0; i < Na; i++)
    for (let e = 0; e < Ne; e++) qPre[i * Ne + e] = active[i] === 1 && active[e] === 1 ? 0 : 1;
}

/** Active agent slots (entity mask 0) of a state, in order. */
export function activeAgents(entityMask: ArrayLike<number>, nAgents: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < nAgents; i++) if (entityMask[i] === 0) out.push(i);
  return out;
}

/**
 * The configuration of the acting programs for `nAgents` agent rows (active agents packed first,
 * see `ActSource.agents`); `poolAgents` stays the environment's Na (the critic's mean over agents
 * divides by Na, §8.3).
 */
export function actConfig(cfg: AllocNetConfig, nAgents: number): AllocNetConfig {
  return { ...cfg, nAgents, nEntities: cfg.nEntities - cfg.nAgents + nAgents };
}

/** Upload host buffers. */
export function actInputs(h: ActHost, cfg: AllocNetConfig): ActInputs {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const Nn = Ne - Na;
  const S = h.S;
  const W = h.entities.length / (S * Ne);
  return {
    entities: np.array(h.entities, { shape: [S, Ne, W] }),
    memb: np.array(h.memb, { shape: [S, Ne, actTaskWidth(cfg)] }),
    membNa: np.array(h.membNa, { shape: [S, Nn, Nt] }),
    vec: np.array(h.vec, { shape: [S, actVectors(cfg).width] }),
    piPre: np.array(h.piPre, { shape: [S, Nn, Nn] }),
    qPre: np.array(h.qPre, { shape: [S, Na, Ne] }),
  };
}

/** Device inputs of one acting call: host inputs of `size` states, permutations and noise. */
export function inputsFromHost(
  cfg: AllocNetConfig,
  m: {
    na: number;
    size: number;
    host: ActHost;
    /** `[n4, n4]` policy and `[n, n]` critic TaskEmbedder permutations (row-major). */
    permPi: Float32Array;
    permQ: Float32Array;
    /** `[na, size, P, Nt]` Gumbel noise. */
    noise: Float32Array;
  },
): { inp: ActInputs; perms: { pi: Arr; q: Arr }; noise: Arr } {
  const n = cfg.nTasks + cfg.nExtraTasks;
  const n4 = actTaskWidth(cfg);
  return {
    inp: actInputs(m.host, cfg),
    perms: {
      pi: np.array(m.permPi, { shape: [n4, n4] }),
      q: np.array(m.permQ, { shape: [n, n] }),
    },
    noise: np.array(m.noise, { shape: [m.na, m.size, cfg.nProposals, cfg.nTasks] }),
  };
}

/**
 * Fully masked inputs of `size` states (entity rows of width `width`), identity permutations and
 * zero noise: for compiling a program shape without drawing random numbers.
 */
export function warmupInputs(
  cfg: AllocNetConfig,
  size: number,
  width: number,
): { inp: ActInputs; perms: { pi: Arr; q: Arr }; noise: Arr } {
  const h = allocActHost(cfg, size, width);
  for (let j = 0; j < size; j++) fillActHost(h, j, null, cfg, cfg.entityShape);
  const n = cfg.nTasks + cfg.nExtraTasks;
  const n4 = actTaskWidth(cfg);
  const eye = (m: number) => {
    const x = new Float32Array(m * m);
    for (let r = 0; r < n; r++) x[r * m + r] = 1;
    return x;
  };
  return inputsFromHost(cfg, {
    na: cfg.nAgents,
    size,
    host: h,
    permPi: eye(n4),
    permQ: eye(n),
    noise: new Float32Array(cfg.nAgents * size * cfg.nProposals * cfg.nTasks),
  });
}

/**
 * TaskEmbedder permutation `[n, n]` (row-major, `hostPermutation`) padded with zero rows and
 * columns to `[n4, n4]` for the policy.
 */
export function padPermutation(perm: Float32Array, n: number, n4: number): Float32Array {
  if (n === n4) return perm;
  const out = new Float32Array(n4 * n4);
  for (let r = 0; r < n; r++) out.set(perm.subarray(r * n, (r + 1) * n), r * n4);
  return out;
}

/** Columns `[a, b)` of `vec` `[S, V]` (a view). */
function cols(vec: Arr, r: [number, number]): Arr {
  return vec.slice([], r);
}

/**
 * Proposal sampling (spec §8.2) for acting: `[S, P, Na, Nt]` one-hot allocations (zero rows for
 * inactive agents), by Gumbel-max with the noise `[Na, S, P, Nt]`. Same values as
 * `policySample(..., { noise, stats: false })`. `permPi` is `[n4, n4]` (`padPermutation`).
 * Consumes `w`, `permPi`, `noise` and the inputs it reads (`entities`, `memb`, `membNa`, `vec`,
 * `piPre`); pass references for those the critic needs too.
 */
export function actPropose(
  w: ActWeights["pi"],
  inp: Pick<ActInputs, "entities" | "memb" | "membNa" | "vec" | "piPre">,
  permPi: Arr,
  noise: Arr,
  cfg: AllocNetConfig,
): Arr {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, piEmbed: E, piHeads: H, nProposals: P } = cfg;
  const S = inp.entities.shape[0];
  const V = actVectors(cfg);
  const vec = inp.vec;
  // x1 = fc1(entities) + task_embed(memb); the padded columns of memb and rows of perm·W are 0.
  // Materialised as a unit-axis sum (one kernel; `barrier` costs a copy kernel more): only
  // additions of matmul outputs, so nothing can be fused into a multiply-add and change a bit.
  // Where products feed the materialised value (the critic's ReLU inputs), `barrier` stays.
  const pw = np.matmul(permPi, w.te); // [n4, E]
  const x1 = materializeFwd(linear(inp.entities, w.fc1).add(np.matmul(inp.memb, pw)));
  const activeAll = cols(vec.ref, V.active); // [S, Ne]
  // Non-agent attention (queries = keys = the non-agent entities, §8.2), no ReLU after it.
  const xNa = relu(x1.ref.slice([], [Na, Ne])).reshape([S, 1, Ne - Na, E]);
  const yNa = attendQKVKeep(
    linear(xNa.ref, { w: w.attn.wq }),
    [linear(xNa.ref, { w: w.attn.wk })],
    [linear(xNa, { w: w.attn.wv })],
    inp.piPre.reshape([S, 1, Ne - Na, Ne - Na]),
    activeAll.ref.slice([], [Na, Ne]).reshape([S, 1, Ne - Na]),
    w.attn.out,
    H,
  ).reshape([S, Ne - Na, E]);
  // task_emb[k] = Σ_e memb[e, k]·y_na[e]  →  [S, Nt, E]
  const taskEmb = lax.dot(inp.membNa, yNa, {
    lhsContractingDims: [1],
    rhsContractingDims: [1],
    lhsBatchDims: [0],
    rhsBatchDims: [0],
  });
  const nonagCnt = cols(vec.ref, V.nonagCnt); // [S, Nt]
  const agentEmb = x1.slice([], [0, Na]); // [S, Na, E]

  // The acting branch of `policyRollout` (see there for the reformulation). An inactive agent's
  // one-hot is 0, so its row of everything below is multiplied away; `oh` (= the sampled one-hot
  // for active agents) replaces the sample wherever that is exact.
  const scale = 1 / Math.sqrt(E);
  const active = activeAll.slice([], [0, Na]).reshape([S, Na, 1]);
  const tmask = cols(vec, V.taskMask).reshape([S, 1, Nt]).greater(0.5);
  const { baseLogit, cwAg } = baseLogits(agentEmb.ref, taskEmb.ref, nonagCnt, w.cwW);
  const aBot = linear(relu(agentEmb.ref), { w: w.wBot, b: w.bUpd }); // [S, Na, E]
  const wTop = w.wTop;
  const row = (x: Arr, i: number) => x.slice([], [i, i + 1]);

  const ohs: Arr[] = [];
  const upds: Arr[] = [];
  const dots: Arr[] = [];
  // Σ_k a[..., k]·b[..., k] over the Nt subtasks, unrolled (elementwise: fuses into its consumer
  // instead of a reduction kernel; the same sum in the same order).
  const dotNt = (a: Arr, b: Arr) => {
    let out: Arr | null = null;
    for (let k = 0; k < Nt; k++) {
      const t = a.ref.slice([], [], [k, k + 1]).mul(b.ref.slice([], [], [k, k + 1]));
      out = out ? out.add(t) : t;
    }
    return out!;
  };
  for (let i = 0; i < Na; i++) {
    let logit = row(baseLogit.ref, i); // [S, 1, Nt]
    if (i > 0) {
      // ag_cnt = Σ_{j<i} 0.2·oh_j, accumulated in agent order (rebuilt per agent so that it fuses
      // into this agent's logits instead of being a kernel of its own).
      let agCnt = ohs[0].ref.mul(0.2);
      for (let j = 1; j < i; j++) agCnt = agCnt.add(ohs[j].ref.mul(0.2));
      logit = logit.add(agCnt.mul(row(cwAg.ref, i)));
    }
    for (let j = 0; j < i; j++)
      logit = logit.add(ohs[j].ref.mul(dots[j].ref.slice([], [], [i, i + 1])));
    logit = logit.mul(scale);
    if (logit.shape[1] !== P) logit = np.broadcastTo(logit, [S, P, Nt]);
    const masked = np.where(tmask.ref, MASKED_LOGIT, logit);
    const z = masked.add(noise.ref.slice(i));
    const oh = z.ref
      .equal(z.max(-1, { keepdims: true }))
      .astype(np.float32)
      .mul(row(active.ref, i)); // [S, P, Nt]
    if (i < Na - 1) {
      // te[k*] = task_emb[k*] + Σ_{i'<i} [k*_{i'} = k*]·upd_{i'}
      let teSel = selectRows(oh.ref, taskEmb.ref);
      for (let j = 0; j < i; j++) teSel = teSel.add(dotNt(ohs[j], oh).mul(upds[j].ref)); // [S, P, E]
      const upd = linear(barrier(relu(teSel)), { w: wTop.ref }).add(row(aBot.ref, i)); // [S, P, E]
      const d = lax.dot(upd.ref, agentEmb.ref, {
        lhsContractingDims: [2],
        rhsContractingDims: [2],
        lhsBatchDims: [0],
        rhsBatchDims: [0],
      }); // [S, P, Na]
      upds.push(upd);
      dots.push(d);
    }
    ohs.push(oh);
  }
  for (const x of [...upds, ...dots]) x.dispose();
  for (const x of [baseLogit, cwAg, wTop, aBot, taskEmb, agentEmb, tmask, noise, active])
    x.dispose();
  return np.concatenate(
    ohs.map((x) => x.reshape([S, P, 1, Nt])),
    2,
  );
}

/**
 * Q_hi in normalised space (spec §8.3) of `alloc` `[S, U, Na, Nt]` per state: the computation of
 * `criticForward` with the acting weights (see `criticBody` for the reformulation). `permQ` is
 * the critic's `[n, n]` TaskEmbedder permutation of this call. Consumes `w`, `alloc`, `permQ`
 * and the inputs it reads (`entities`, `membNa`, `vec`, `qPre`).
 */
export function actScore(
  w: ActWeights["q"],
  inp: Pick<ActInputs, "entities" | "membNa" | "vec" | "qPre">,
  alloc: Arr,
  permQ: Arr,
  cfg: AllocNetConfig,
  poolAgents: number = cfg.nAgents,
): Arr {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, qEmbed: E, qHeads: H } = cfg;
  const S = alloc.shape[0];
  const V = actVectors(cfg);
  const vec = inp.vec;
  const F = materializeFwd(linear(inp.entities, w.inFcEnt)); // [S, Ne, E] (see `x1` in actPropose)
  const nNa = cols(vec.ref, V.nNa); // [S, Nt]
  const permW = np.matmul(permQ, w.te).slice([0, Nt]); // [Nt, E]
  const G = permW.reshape([1, Nt, E]).add(nNa.reshape([S, Nt, 1]).mul(w.w1).add(w.cb).mul(0.2)); // [S, Nt, E]
  const { wq, wk, wv, out } = w.attn;
  const pre = inp.qPre.reshape([S, 1, Na, Ne]);
  const keep = cols(vec.ref, V.active).slice([], [0, Na]).reshape([S, 1, Na]);
  const core = {
    F,
    membNa: inp.membNa,
    inSub: cols(vec, V.inSub),
    G,
    nAg: alloc.ref.sum(2),
    alloc,
    w0: w.w0,
    wq,
    wk,
    wv,
    outFc: w.outFc,
  };
  return criticCore(
    core,
    (qa, keys, vals) => attendQKVKeep(qa, keys, vals, pre, keep, out, H),
    cfg,
    poolAgents,
  )
    .mul(w.popW)
    .add(w.popB);
}

/**
 * The whole network part of a decision (§8.4) in one program: sample `P` proposals and score
 * them with the live critic. Returns `[S, P·Na·Nt + P]`: per state the proposals' one-hot
 * allocations (`[P, Na, Nt]`, zero rows for inactive agents) then their scores; the host takes
 * the argmax (`unpackDecision`). Consumes all arguments.
 */
export function actDecide(
  w: ActWeights,
  inp: ActInputs,
  perms: { pi: Arr; q: Arr },
  noise: Arr,
  cfg: AllocNetConfig,
  poolAgents: number = cfg.nAgents,
): Arr {
  const S = inp.entities.shape[0];
  const P = cfg.nProposals;
  const props = actPropose(
    w.pi,
    {
      entities: inp.entities.ref,
      memb: inp.memb,
      membNa: inp.membNa.ref,
      vec: inp.vec.ref,
      piPre: inp.piPre,
    },
    perms.pi,
    noise,
    cfg,
  );
  const scores = actScore(w.q, inp, props.ref, perms.q, cfg, poolAgents);
  return np.concatenate([props.reshape([S, P * cfg.nAgents * cfg.nTasks]), scores], 1);
}

/**
 * Host side of `actDecide`'s output for `nReal` states: per state the proposals' subtask indices
 * (−1 = inactive agent) followed by the index of the first best-scored proposal — the packed
 * layout of `allocAct`, `[nReal, P·Na + 1]`.
 */
export function unpackDecision(
  out: Float32Array,
  nReal: number,
  P: number,
  Na: number,
  Nt: number,
): Float32Array {
  const inStride = P * Na * Nt + P;
  const outStride = P * Na + 1;
  const packed = new Float32Array(nReal * outStride);
  for (let j = 0; j < nReal; j++) {
    const src = j * inStride;
    const dst = j * outStride;
    for (let r = 0; r < P * Na; r++) {
      let k = -1;
      for (let t = 0; t < Nt; t++) if (out[src + r * Nt + t] !== 0) k = t;
      packed[dst + r] = k;
    }
    const sc = src + P * Na * Nt;
    let best = 0;
    for (let p = 1; p < P; p++) if (out[sc + p] > out[sc + best]) best = p;
    packed[dst + P * Na] = best;
  }
  return packed;
}

/** Allocation indices of one-hot allocations `[..., Na, Nt]`: the subtask or −1 (none). */
function indices(alloc: Arr): Arr {
  const Nt = alloc.shape[alloc.ndim - 1];
  const ks = np.arange(Nt).astype(np.float32);
  return alloc.ref.mul(ks).sum(-1).add(alloc.sum(-1)).sub(1);
}

/** First half of the deduplicating path: proposals as indices `[S, P, Na]`. Consumes all. */
export function actProposeIndices(
  w: ActWeights["pi"],
  inp: ActInputs,
  permPi: Arr,
  noise: Arr,
  cfg: AllocNetConfig,
): Arr {
  inp.qPre.dispose();
  return indices(actPropose(w, inp, permPi, noise, cfg));
}

/** Second half: scores `[S, U]` of `U` allocations per state. Consumes all. */
export function actScoreOnly(
  w: ActWeights["q"],
  inp: ActInputs,
  alloc: Arr,
  permQ: Arr,
  cfg: AllocNetConfig,
  poolAgents: number = cfg.nAgents,
): Arr {
  inp.memb.dispose();
  inp.piPre.dispose();
  return actScore(w, inp, alloc, permQ, cfg, poolAgents);
}
