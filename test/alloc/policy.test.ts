/** Proposal policy (spec §8.2): masks, log-probabilities against the literal pseudo-code, ablations. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { AllocNetConfig } from "../../src/nn/alloc/config.js";
import {
  type AllocInputs,
  initPolicy,
  type PolicyParams,
  policyEncode,
  policyRollout,
  policySample,
} from "../../src/nn/alloc/policy.js";
import { type Arr, jit, np, random, tree } from "../../src/nn/engine.js";
import {
  maxRelErr,
  permMatrix,
  randomAllocations,
  randomStates,
  referenceRollout,
  smallCfg,
  toInputs,
} from "./helpers.js";

function checkAllocations(
  cfg: AllocNetConfig,
  alloc: Float32Array,
  st: { entityMask: Float32Array; taskMask: Float32Array },
  S: number,
  P: number,
): void {
  const { nAgents: Na, nEntities: Ne, nTasks: Nt } = cfg;
  for (let s = 0; s < S; s++)
    for (let p = 0; p < P; p++)
      for (let i = 0; i < Na; i++) {
        const row = Array.from(
          alloc.subarray(((s * P + p) * Na + i) * Nt, ((s * P + p) * Na + i + 1) * Nt),
        );
        const inactive = st.entityMask[s * Ne + i] === 1;
        if (inactive) {
          assert.deepEqual(
            row,
            new Array(Nt).fill(0),
            `inactive agent ${i} of state ${s} got a subtask`,
          );
        } else {
          assert.equal(
            row.reduce((a, b) => a + b, 0),
            1,
            `agent ${i} of state ${s} needs exactly one subtask`,
          );
          const k = row.indexOf(1);
          assert.equal(
            st.taskMask[s * Nt + k],
            0,
            `agent ${i} of state ${s} sent to inactive subtask ${k}`,
          );
        }
      }
}

describe("proposal policy (§8.2)", () => {
  const cfg = smallCfg();
  const P = cfg.nProposals;
  const S = 5;
  const params = initPolicy(random.key(1), cfg);
  const nIn = cfg.nTasks;
  const sampleJ = jit((p: PolicyParams, inp: AllocInputs, perm: Arr, key: Arr) => {
    const r = policySample(p, inp, perm, P, { key }, cfg);
    return [r.alloc, r.logPi, r.entropy, r.bestProb];
  });
  const actJ = jit((p: PolicyParams, inp: AllocInputs, perm: Arr, noise: Arr) => {
    const r = policySample(p, inp, perm, P, { noise, stats: false }, cfg);
    tree.dispose([r.logPi, r.entropy, r.bestProb]);
    return r.alloc;
  });

  it("sampling respects the masks: never an inactive subtask, inactive agents get nothing (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), async (seed) => {
        const st = randomStates(cfg, S, seed);
        const perm = np.array(permMatrix(nIn, seed), { shape: [nIn, nIn] });
        const [alloc, ...rest] = sampleJ(
          tree.ref(params),
          toInputs(cfg, st),
          perm,
          random.key(seed),
        ) as Arr[];
        tree.dispose(rest);
        checkAllocations(cfg, (await alloc.data()) as Float32Array, st, S, P);
        // The acting path (host Gumbel noise, no statistics) obeys the same masks.
        const noise = random.gumbel(random.key(seed + 1), [cfg.nAgents, S, P, cfg.nTasks]);
        const perm2 = np.array(permMatrix(nIn, seed + 7), { shape: [nIn, nIn] });
        const a2 = actJ(tree.ref(params), toInputs(cfg, st), perm2, noise) as Arr;
        checkAllocations(cfg, (await a2.data()) as Float32Array, st, S, P);
      }),
      { numRuns: 25 },
    );
  });

  it("log-probabilities, entropies and best probabilities match the literal pseudo-code", async () => {
    const st = randomStates(cfg, S, 42);
    const allocHost = randomAllocations(cfg, st, P, 43);
    const perm = np.array(permMatrix(nIn, 44), { shape: [nIn, nIn] });
    const inp = toInputs(cfg, st);
    const enc = policyEncode(
      {
        fc1: tree.ref(params.fc1),
        taskEmbed: tree.ref(params.taskEmbed),
        attn: tree.ref(params.attn),
      },
      {
        entities: inp.entities,
        entityMask: inp.entityMask.ref,
        entity2taskMask: inp.entity2taskMask,
        lastAlloc: inp.lastAlloc,
      },
      perm,
      cfg,
    );
    const ref = await referenceRollout(
      cfg,
      { embedUpdate: params.embedUpdate, countEmbed: params.countEmbed },
      enc,
      st,
      allocHost,
      P,
    );
    const roll = policyRollout(
      { embedUpdate: tree.ref(params.embedUpdate), countEmbed: tree.ref(params.countEmbed) },
      tree.ref(enc),
      inp.taskMask,
      inp.entityMask,
      P,
      { given: np.array(allocHost, { shape: [S, P, cfg.nAgents, cfg.nTasks] }) },
      cfg,
    );
    tree.dispose(enc);
    roll.alloc.dispose();
    const lp = (await roll.logPi.data()) as Float32Array;
    const en = (await roll.entropy.data()) as Float32Array;
    const bp = (await roll.bestProb.data()) as Float32Array;
    assert.ok(maxRelErr(lp, ref.logPi) < 1e-4, `log_pi ${lp} vs ${ref.logPi}`);
    assert.ok(maxRelErr(en, ref.entropy) < 1e-4, `entropy ${en} vs ${ref.entropy}`);
    assert.ok(maxRelErr(bp, ref.bestProb) < 1e-4, `best_prob ${bp} vs ${ref.bestProb}`);
    for (const x of lp) assert.ok(x <= 0 && Number.isFinite(x));
  });

  it("teacher forcing the sampled proposals reproduces the sampling pass's statistics", async () => {
    const st = randomStates(cfg, S, 7);
    const permData = permMatrix(nIn, 8);
    const mk = () => np.array(permData, { shape: [nIn, nIn] });
    const [alloc, lp, en, bp] = sampleJ(
      tree.ref(params),
      toInputs(cfg, st),
      mk(),
      random.key(9),
    ) as Arr[];
    const tf = policySample(
      tree.ref(params),
      toInputs(cfg, st),
      mk(),
      P,
      { given: alloc.ref },
      cfg,
    );
    assert.deepEqual(await tf.alloc.data(), await alloc.data());
    assert.ok(
      maxRelErr((await tf.logPi.data()) as Float32Array, (await lp.data()) as Float32Array) < 1e-5,
    );
    assert.ok(
      maxRelErr((await tf.entropy.data()) as Float32Array, (await en.data()) as Float32Array) <
        1e-5,
    );
    assert.ok(
      maxRelErr((await tf.bestProb.data()) as Float32Array, (await bp.data()) as Float32Array) <
        1e-5,
    );
  });

  it("samples follow π: empirical frequencies of the first agent match exp(log π)", async () => {
    // One state, many proposals: the first agent's choice is a plain categorical over the
    // active subtasks, so its empirical distribution must match the teacher-forced probability.
    const cfg1 = smallCfg({ nProposals: 4000 });
    const st = randomStates(cfg1, 1, 11);
    const perm = () => np.array(permMatrix(nIn, 12), { shape: [nIn, nIn] });
    const r = policySample(
      tree.ref(params),
      toInputs(cfg1, st),
      perm(),
      4000,
      { key: random.key(13) },
      cfg1,
    );
    tree.dispose([r.logPi, r.entropy, r.bestProb]);
    const a = (await r.alloc.data()) as Float32Array;
    const { nAgents: Na, nTasks: Nt } = cfg1;
    const counts = new Array(Nt).fill(0);
    for (let p = 0; p < 4000; p++)
      for (let k = 0; k < Nt; k++) counts[k] += a[(p * Na + 0) * Nt + k];
    // exact probabilities: teacher-force each single choice for agent 0 only (others inactive)
    const st1 = { ...st, entityMask: st.entityMask.slice() };
    for (let i = 1; i < Na; i++) st1.entityMask[i] = 1;
    const probs: number[] = [];
    for (let k = 0; k < Nt; k++) {
      const g = new Float32Array(Na * Nt);
      g[k] = 1;
      const t = policySample(
        tree.ref(params),
        toInputs(cfg1, st1),
        perm(),
        1,
        { given: np.array(g, { shape: [1, 1, Na, Nt] }) },
        cfg1,
      );
      tree.dispose([t.alloc, t.entropy, t.bestProb]);
      probs.push(Math.exp(((await t.logPi.data()) as Float32Array)[0]));
    }
    if (st.entityMask[0] === 1) return; // agent 0 inactive in this draw: nothing to compare
    for (let k = 0; k < Nt; k++) {
      const sd = Math.sqrt((probs[k] * (1 - probs[k])) / 4000);
      assert.ok(
        Math.abs(counts[k] / 4000 - probs[k]) < 5 * sd + 1e-3,
        `subtask ${k}: ${counts[k] / 4000} vs ${probs[k]}`,
      );
    }
  });

  for (const [name, flags] of [
    ["pi_autoreg = false", { autoreg: false }],
    ["sel_task_upd = false", { selTaskUpd: false }],
    ["subtask_mask = false", { subtaskMask: false }],
    ["pi_ag_attn = true", { agAttn: true }],
    ["pi_pointer_net = false", { pointerNet: false }],
    ["pi_pointer_net = false, pi_autoreg = false", { pointerNet: false, autoreg: false }],
  ] as const) {
    it(`ablation ${name}: valid samples, finite statistics, teacher forcing consistent`, async () => {
      const c = smallCfg({ flags: { ...cfg.flags, ...flags } });
      const pp = initPolicy(random.key(3), c);
      const st = randomStates(c, 3, 5);
      const permData = permMatrix(nIn, 6);
      const mk = () => np.array(permData, { shape: [nIn, nIn] });
      const r = policySample(tree.ref(pp), toInputs(c, st), mk(), P, { key: random.key(4) }, c);
      const a = (await r.alloc.ref.data()) as Float32Array;
      checkAllocations(c, a, st, 3, P);
      const lp = (await r.logPi.data()) as Float32Array;
      for (const x of [...lp, ...((await r.entropy.data()) as Float32Array)])
        assert.ok(Number.isFinite(x));
      const tf = policySample(pp, toInputs(c, st), mk(), P, { given: r.alloc }, c);
      tree.dispose([tf.alloc, tf.entropy]);
      assert.ok(maxRelErr((await tf.logPi.data()) as Float32Array, lp) < 1e-5);
      tree.dispose([r.bestProb, tf.bestProb]);
    });
  }
});

describe("pi_pointer_net = false ablation (spec §8.2)", () => {
  const cfg = smallCfg({ flags: { ...smallCfg().flags, pointerNet: false } });
  const { nAgents: Na, nEntities: Ne, nTasks: Nt, piEmbed: E, entityShape: De } = cfg;
  const read = async (x: Arr) => Array.from((await x.data()) as Float32Array);

  it("agent embeddings are fc1([entities, previous allocation]) and log π follows the literal recursion", async () => {
    const S = 4;
    const P = 3;
    const pp = initPolicy(random.key(11), cfg);
    const st = randomStates(cfg, S, 12);
    const nIn = Nt + cfg.nExtraTasks;
    const perm = () => np.array(permMatrix(nIn, 1), { shape: [nIn, nIn] });
    const alloc = randomAllocations(cfg, st, P, 13);
    const enc = policyEncode(
      { fc1: tree.ref(pp.fc1), taskEmbed: tree.ref(pp.taskEmbed), attn: tree.ref(pp.attn) },
      toInputs(cfg, st),
      perm(),
      cfg,
    );
    assert.deepEqual(enc.taskEmb.shape, [S, 1, E]);
    const [fw, fb, ag, summ0, hw, hb, uw, ub] = await Promise.all([
      read(pp.fc1.w.ref),
      read(pp.fc1.b.ref),
      read(enc.agentEmb.ref),
      read(enc.taskEmb.ref),
      read(pp.logitHead!.w.ref),
      read(pp.logitHead!.b.ref),
      read(pp.embedUpdate.w.ref),
      read(pp.embedUpdate.b.ref),
    ]);
    // Agent rows: x1 = fc1([entity features, last_alloc]) (linear, no task embedder).
    for (let s = 0; s < S; s++)
      for (let i = 0; i < Na; i++)
        for (let e = 0; e < E; e++) {
          let v = fb[e];
          for (let d = 0; d < De; d++) v += st.entities[(s * Ne + i) * De + d] * fw[d * E + e];
          for (let k = 0; k < Nt; k++)
            v += st.lastAlloc[(s * Na + i) * Nt + k] * fw[(De + k) * E + e];
          assert.ok(Math.abs(v - ag[(s * Na + i) * E + e]) < 1e-4, `x1[${s},${i},${e}]`);
        }
    const r = policyRollout(
      {
        embedUpdate: tree.ref(pp.embedUpdate),
        countEmbed: tree.ref(pp.countEmbed),
        logitHead: tree.ref(pp.logitHead!),
      },
      enc,
      np.array(st.taskMask, { shape: [S, Nt] }),
      np.array(st.entityMask, { shape: [S, Ne] }),
      P,
      { given: np.array(alloc, { shape: [S, P, Na, Nt] }) },
      cfg,
    );
    tree.dispose([r.alloc, r.entropy, r.bestProb]);
    const logPi = await read(r.logPi);
    const relu = (x: number) => Math.max(0, x);
    for (let s = 0; s < S; s++)
      for (let p = 0; p < P; p++) {
        const summary = summ0.slice(s * E, (s + 1) * E);
        let want = 0;
        for (let i = 0; i < Na; i++) {
          const a = ag.slice((s * Na + i) * E, (s * Na + i + 1) * E);
          const inp = [...a, ...summary].map(relu);
          const logit = Array.from({ length: Nt }, (_, k) => {
            let v = hb[k];
            for (let j = 0; j < 2 * E; j++) v += inp[j] * hw[j * Nt + k];
            return st.taskMask[s * Nt + k] === 1 ? -Infinity : v;
          });
          const m = Math.max(...logit);
          const lse = m + Math.log(logit.reduce((acc, v) => acc + Math.exp(v - m), 0));
          const row = alloc.subarray(((s * P + p) * Na + i) * Nt, ((s * P + p) * Na + i + 1) * Nt);
          const k = row.indexOf(1);
          if (st.entityMask[s * Ne + i] === 1 || k < 0) continue; // inactive: no term, no update
          want += logit[k] - lse;
          const uin = [...summary.map(relu), ...a.map(relu), ...row];
          for (let e = 0; e < E; e++) {
            let v = ub[e];
            for (let j = 0; j < 2 * E + Nt; j++) v += uin[j] * uw[j * E + e];
            summary[e] += v;
          }
        }
        assert.ok(
          Math.abs(logPi[s * P + p] - want) < 1e-3 * (1 + Math.abs(want)),
          `state ${s} proposal ${p}: ${logPi[s * P + p]} vs ${want}`,
        );
      }
    tree.dispose(pp);
  });
});
