/**
 * Shared fixtures for the allocator tests: small configurations, random meta-states, and literal
 * re-implementations of the spec's pseudo-code (§8.2, §8.3) used as references for the optimised
 * network code.
 */

import type { EnvInfo } from "../../src/envs/types.js";
import { type AllocNetConfig, defaultAllocNetConfig } from "../../src/nn/alloc/config.js";
import type { CriticParams } from "../../src/nn/alloc/critic.js";
import type { AllocInputs, PolicyEncoding, PolicyParams } from "../../src/nn/alloc/policy.js";
import { entityAttention } from "../../src/nn/attention.js";
import { type Arr, np } from "../../src/nn/engine.js";
import { groupMask, linear, not01, relu } from "../../src/nn/layers.js";
import { mulberry32 } from "../../src/nn/synthetic.js";
import { taskEmbed } from "../../src/nn/taskEmbed.js";

/** Deterministic generator (the synthetic-batch generator, mulberry32). */
export const rng: (seed: number) => () => number = mulberry32;

/** Environment sizes matching `smallCfg` (3 agents, 7 entities, 4 subtasks), for allocator tests. */
export const smallInfo: EnvInfo = {
  nAgents: 3,
  nEntities: 7,
  nTasks: 4,
  entityShape: 5,
  nActions: 2,
  episodeLimit: 10,
};

/** A small allocator configuration (fast to compile and run). */
export function smallCfg(overrides: Partial<AllocNetConfig> = {}): AllocNetConfig {
  return defaultAllocNetConfig(
    { nAgents: 3, nEntities: 7, nTasks: 4, entityShape: 5 },
    { piEmbed: 16, piHeads: 2, qEmbed: 16, qHeads: 2, nProposals: 6, ...overrides },
  );
}

/** Host-side meta-state (row-major float arrays) for S states. */
export interface HostState {
  S: number;
  entities: Float32Array;
  entityMask: Float32Array;
  entity2taskMask: Float32Array;
  taskMask: Float32Array;
  lastAlloc: Float32Array;
}

/**
 * Random meta-states shaped like SaveTheCity: some agents and non-agent slots inactive
 * (padding), every non-agent entity in at most one subtask, at least one active subtask, agent
 * rows of `entity2taskMask` holding a (random) executed allocation, random previous allocations.
 */
export function randomStates(cfg: AllocNetConfig, S: number, seed: number): HostState {
  const r = rng(seed);
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = cfg;
  const st: HostState = {
    S,
    entities: new Float32Array(S * Ne * De),
    entityMask: new Float32Array(S * Ne),
    entity2taskMask: new Float32Array(S * Ne * Nt).fill(1),
    taskMask: new Float32Array(S * Nt),
    lastAlloc: new Float32Array(S * Na * Nt),
  };
  for (let s = 0; s < S; s++) {
    const nAg = 1 + Math.floor(r() * Na);
    let active: number[] = [];
    for (let k = 0; k < Nt; k++) {
      const off = r() < 0.3;
      st.taskMask[s * Nt + k] = off ? 1 : 0;
      if (!off) active.push(k);
    }
    if (active.length === 0) {
      st.taskMask[s * Nt] = 0;
      active = [0];
    }
    for (let e = 0; e < Ne; e++) {
      const isAgent = e < Na;
      const live = isAgent ? e < nAg : r() < 0.8;
      st.entityMask[s * Ne + e] = live ? 0 : 1;
      if (live) for (let d = 0; d < De; d++) st.entities[(s * Ne + e) * De + d] = r() * 2 - 1;
      if (isAgent) {
        if (live)
          st.entity2taskMask[(s * Ne + e) * Nt + active[Math.floor(r() * active.length)]] = 0;
        if (live && r() < 0.7) st.lastAlloc[(s * Na + e) * Nt + Math.floor(r() * Nt)] = 1;
      } else if (r() < 0.85) {
        // non-agent membership (even for inactive slots: a burned building stays a member)
        st.entity2taskMask[(s * Ne + e) * Nt + Math.floor(r() * Nt)] = 0;
      }
    }
  }
  return st;
}

/** Upload a host state. */
export function toInputs(cfg: AllocNetConfig, st: HostState): AllocInputs {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, entityShape: De } = cfg;
  const S = st.S;
  return {
    entities: np.array(st.entities, { shape: [S, Ne, De] }),
    entityMask: np.array(st.entityMask, { shape: [S, Ne] }),
    entity2taskMask: np.array(st.entity2taskMask, { shape: [S, Ne, Nt] }),
    taskMask: np.array(st.taskMask, { shape: [S, Nt] }),
    lastAlloc: np.array(st.lastAlloc, { shape: [S, Na, Nt] }),
  };
}

/** A random permutation matrix (row-major) `P[k, j] = 1` iff permuted column j is column k. */
export function permMatrix(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const m = new Float32Array(n * n);
  for (let j = 0; j < n; j++) m[perm[j] * n + j] = 1;
  return m;
}

/** Random allocations `[S, P, Na, Nt]` valid for the states (active agents → active subtasks). */
export function randomAllocations(
  cfg: AllocNetConfig,
  st: HostState,
  P: number,
  seed: number,
): Float32Array {
  const r = rng(seed);
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  const out = new Float32Array(st.S * P * Na * Nt);
  for (let s = 0; s < st.S; s++) {
    const act: number[] = [];
    for (let k = 0; k < Nt; k++) if (st.taskMask[s * Nt + k] === 0) act.push(k);
    for (let p = 0; p < P; p++)
      for (let i = 0; i < Na; i++) {
        if (st.entityMask[s * Ne + i] === 1) continue;
        out[((s * P + p) * Na + i) * Nt + act[Math.floor(r() * act.length)]] = 1;
      }
  }
  return out;
}

async function read(x: Arr): Promise<Float64Array> {
  return Float64Array.from((await x.ref.data()) as Float32Array);
}

/**
 * Literal §8.2 rollout statistics in float64 on the host: per proposal a copy of the subtask
 * embeddings, the count embedding evaluated per subtask, log-softmax over the masked logits, and
 * the update of the chosen subtask's embedding. Returns [S·P] arrays.
 */
export async function referenceRollout(
  cfg: AllocNetConfig,
  p: Pick<PolicyParams, "embedUpdate" | "countEmbed">,
  enc: PolicyEncoding,
  st: HostState,
  alloc: Float32Array,
  P: number,
): Promise<{ logPi: number[]; entropy: number[]; bestProb: number[] }> {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, piEmbed: E } = cfg;
  const te0 = await read(enc.taskEmb);
  const ag = await read(enc.agentEmb);
  const nonag = await read(enc.nonagCnt);
  const Wu = await read(p.embedUpdate.w); // [2E, E]
  const bu = await read(p.embedUpdate.b);
  const Wc = await read(p.countEmbed.w); // [2, E]
  const bc = await read(p.countEmbed.b);
  const logPi: number[] = [];
  const entropy: number[] = [];
  const bestProb: number[] = [];
  for (let s = 0; s < st.S; s++)
    for (let q = 0; q < P; q++) {
      const te = te0.slice(s * Nt * E, (s + 1) * Nt * E);
      const agCnt = new Float64Array(Nt);
      let lp = 0;
      let en = 0;
      let bp = 0;
      let nAct = 0;
      for (let i = 0; i < Na; i++) {
        const a = ag.subarray((s * Na + i) * E, (s * Na + i + 1) * E);
        const logits = new Float64Array(Nt);
        for (let k = 0; k < Nt; k++) {
          let dot = 0;
          for (let d = 0; d < E; d++) {
            const c = nonag[s * Nt + k] * Wc[d] + agCnt[k] * Wc[E + d] + bc[d];
            dot += (te[k * E + d] + c) * a[d];
          }
          logits[k] = st.taskMask[s * Nt + k] > 0.5 ? -3.4028234663852886e38 : dot / Math.sqrt(E);
        }
        const mx = Math.max(...logits);
        let z = 0;
        for (let k = 0; k < Nt; k++) z += Math.exp(logits[k] - mx);
        const logp = Array.from(logits, (l) => l - mx - Math.log(z));
        const active = st.entityMask[s * Ne + i] === 0;
        if (!active) continue;
        nAct++;
        const row = alloc.subarray(((s * P + q) * Na + i) * Nt, ((s * P + q) * Na + i + 1) * Nt);
        const kStar = row.indexOf(1);
        lp += logp[kStar];
        en -= logp.reduce((acc, l) => acc + (Math.exp(l) > 0 ? Math.exp(l) * l : 0), 0);
        bp += Math.max(...logp.map(Math.exp));
        agCnt[kStar] += 0.2;
        const upd = new Float64Array(E);
        for (let o = 0; o < E; o++) {
          let v = bu[o];
          for (let d = 0; d < E; d++) v += Math.max(te[kStar * E + d], 0) * Wu[d * E + o];
          for (let d = 0; d < E; d++) v += Math.max(a[d], 0) * Wu[(E + d) * E + o];
          upd[o] = v;
        }
        for (let o = 0; o < E; o++) te[kStar * E + o] += upd[o];
      }
      logPi.push(lp);
      entropy.push(en);
      bestProb.push(nAct > 0 ? bp / nAct : 0);
    }
  return { logPi, entropy, bestProb };
}

/**
 * Literal §8.3 critic body (with `entityAttention`, the TaskEmbedder and an explicit
 * CountEmbedder on the full membership matrix of every allocation), `[S, P]`. Consumes nothing.
 */
export function referenceCriticBody(
  cfg: AllocNetConfig,
  p: CriticParams,
  inp: AllocInputs,
  alloc: Arr,
  perm: Arr,
): Arr {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, qEmbed: E } = cfg;
  const [S, P] = alloc.shape;
  const membNa = not01(inp.entity2taskMask.ref.slice([], [Na, Ne])).reshape([S, 1, Ne - Na, Nt]);
  const memb = np.concatenate([alloc.ref, np.broadcastTo(membNa, [S, P, Ne - Na, Nt])], 2); // [S,P,Ne,Nt]
  const nAg = memb.ref.slice([], [], [0, Na]).sum(2); // [S,P,Nt]
  const nNa = memb.ref.slice([], [], [Na, Ne]).sum(2);
  const counts = np.stack([nAg, nNa], -1); // [S,P,Nt,2]
  const C = linear(counts, { w: p.countEmbed.w.ref, b: p.countEmbed.b.ref }).mul(0.2); // [S,P,Nt,E]
  const ce = np.matmul(memb.ref, C); // [S,P,Ne,E]
  const F = linear(inp.entities.ref, { w: p.inFcEnt.w.ref, b: p.inFcEnt.b.ref }).reshape([
    S,
    1,
    Ne,
    E,
  ]);
  const tcode = taskEmbed({ w: p.taskEmbed.w.ref }, memb, perm.ref);
  const x1 = relu(F.add(tcode).add(ce));
  const em = inp.entityMask.ref.reshape([S, Ne, 1]);
  const both = groupMask(em.ref, em).slice([], [0, Na]).reshape([S, 1, Na, Ne]);
  const pre = np.broadcastTo(both, [S, P, Na, Ne]);
  const post = np.broadcastTo(inp.entityMask.ref.slice([], [0, Na]).reshape([S, 1, Na]), [
    S,
    P,
    Na,
  ]);
  const attn = { wIn: p.attn.wIn.ref, out: { w: p.attn.out.w.ref, b: p.attn.out.b.ref } };
  const x2 = relu(entityAttention(attn, x1, pre, post, cfg.qHeads));
  return linear(x2.sum(2).mul(1 / Na), { w: p.outFc.w.ref, b: p.outFc.b.ref }).reshape([S, P]);
}

/** Max |a − b| / (|b| + floor) over two arrays. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  return m;
}
