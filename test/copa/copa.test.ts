/**
 * COPA (spec §16): coach, recognition model, VI loss, forward fill of z, and where z enters the
 * agent network; the COPA part of the low-level loss (§11.2 step 10).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AgentNetConfig,
  type AgentParams,
  agentForward,
  initAgent,
  type SubtaskCond,
} from "../../src/nn/agent.js";
import {
  type CopaConfig,
  type CopaParams,
  coachForward,
  copaViTerms,
  forwardFill,
  forwardFillMatrix,
  initCopa,
  plainEpisodeMask,
  recogEntityInputs,
  recogForward,
  sampleStrategy,
} from "../../src/nn/copa.js";
import { type Arr, grad, np, random, tree, valueAndGrad } from "../../src/nn/engine.js";
import {
  defaultLowLevelConfig,
  initLowLevelState,
  type LowLevelArrays,
  type LowLevelBatch,
  type LowLevelConfig,
  type LowLevelDims,
  type LowLevelLossAux,
  type LowLevelParams,
  lowLevelBatchToArrays,
  lowLevelLoss,
  makeLowLevelTrainStep,
  updateLowLevelTarget,
} from "../../src/nn/lowLevel.js";
import { mulberry32, syntheticLowLevelBatch } from "../../src/nn/synthetic.js";
import { identityPermutationMatrix } from "../../src/nn/taskEmbed.js";
import { f32, f64, fdCheck, host, randArray, scalar, toF64 } from "../nn/helpers.js";

// Na = 3 agents (slots 0..2), 3 non-agent entities, Nt = 3, A = 4, De = 5; small widths.
const Na = 3;
const Ne = 6;
const Nt = 3;
const A = 4;
const De = 5;
const Z = 6;
const copaCfg = (subtaskMask: boolean): CopaConfig => ({
  nAgents: Na,
  nEntities: Ne,
  nActions: A,
  entityShape: De,
  nTasks: Nt,
  embed: 8,
  nHeads: 2,
  zDim: Z,
  subtaskMask,
  viLoss: true,
  viLambda: 5e-5,
});

// Two rows. Row 0: all active; agents 0,1 → subtask 0, agent 2 → subtask 1; entities 3,4,5 in
// subtasks 0,1,2. Row 1: agent 2 and entity 5 inactive; agent 1 unallocated.
const N = 2;
const entityMask = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1];
const e2t = [
  [0, 1, 1],
  [0, 1, 1],
  [1, 0, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
  [0, 1, 1],
  [1, 1, 1],
  [1, 1, 1],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 1],
].flat();
const ent = randArray(N * Ne * De, 31);
const actions = [1, 3, 0, 2, 0, 0]; // [N, Na]

function coachInputs(subtaskMask: boolean) {
  return {
    ent: f64(ent, [N, Ne, De]),
    entityMask: f64(entityMask, [N, Ne]),
    entity2taskMask: f64(e2t, [N, Ne, Nt]),
    taskPerm: subtaskMask ? undefined : identityPermutationMatrix(Nt).astype(np.float64),
  };
}

function recogInputs(subtaskMask: boolean) {
  const actOH = new Float64Array(N * Na * A);
  actions.forEach((a, r) => {
    actOH[r * A + a] = 1;
  });
  // [1, N, ...] as a window of one batch row, then back to N rows.
  const x = recogEntityInputs(f64(ent, [1, N, Ne, De]), f64(actOH, [1, N, Na, A]));
  return { ...coachInputs(subtaskMask), ent: x.reshape([N, Ne, x.shape[3]]) };
}

/** Random fixed weights for a scalar test function. */
const weights = (n: number, seed: number, shape: number[]) => f64(randArray(n, seed), shape);

describe("COPA coach and recognition model (spec §16.1, §16.2)", () => {
  for (const subtaskMask of [false, true]) {
    it(`coach: clamped logvar, masks, gradients (subtaskMask=${subtaskMask})`, () => {
      const cfg = copaCfg(subtaskMask);
      const p = toF64(initCopa(random.key(1), cfg));
      const { mu, logvar } = coachForward(tree.ref(p.coach), coachInputs(subtaskMask), cfg);
      assert.deepEqual(mu.shape, [N, Na, Z]);
      for (const v of host(logvar)) assert.ok(v >= -10 && v <= 0);
      tree.dispose([mu, logvar]);
      // Gradient check of a random linear functional of (μ, logvar).
      const rm = weights(N * Na * Z, 5, [N, Na, Z]);
      const rl = weights(N * Na * Z, 6, [N, Na, Z]);
      const f = (c: CopaParams["coach"]) => {
        const d = coachForward(c, coachInputs(subtaskMask), cfg);
        return d.mu.mul(rm.ref).sum().add(d.logvar.mul(rl.ref).sum());
      };
      const leaves = fdCheck(f, p.coach, { directions: 1, atol: 1e-5 });
      assert.ok(leaves >= (subtaskMask ? 8 : 9));
      tree.dispose([p, rm, rl]);
    });
  }

  it("coach with the subtask mask: an agent's strategy ignores entities of other subtasks", () => {
    const cfg = copaCfg(true);
    const p = initCopa(random.key(2), cfg);
    const run = (x: ArrayLike<number>) =>
      host(
        coachForward(tree.ref(p.coach), { ...coachInputs(true), ent: f32(x, [N, Ne, De]) }, cfg).mu,
      );
    const base = run(ent);
    // Change entity 5 (subtask 2, row 0): no agent is in subtask 2, nothing changes.
    const x = Float64Array.from(ent);
    for (let d = 0; d < De; d++) x[5 * De + d] += 1;
    assert.deepEqual(run(x), base);
    // Change entity 4 (subtask 1, row 0): agent 2's strategy changes, agents 0/1 do not.
    const y = Float64Array.from(ent);
    for (let d = 0; d < De; d++) y[4 * De + d] += 1;
    const moved = run(y);
    for (let i = 0; i < Na; i++) {
      const diff = Array.from({ length: Z }, (_, k) =>
        Math.abs(moved[i * Z + k] - base[i * Z + k]),
      );
      if (i < 2) assert.ok(Math.max(...diff) < 1e-6, `agent ${i}`);
      else assert.ok(Math.max(...diff) > 1e-4, "agent 2");
    }
    tree.dispose(p);
  });

  it("recognition model and VI terms: gradients w.r.t. coach and recognition parameters", () => {
    const cfg = copaCfg(false);
    const p = toF64(initCopa(random.key(3), cfg));
    // One window of 2 rows (T1 = 2, T = 1) so that the terms use rows t < T.
    const key = random.key(4);
    const f = (q: CopaParams) => {
      const d = coachForward(q.coach, coachInputs(false), cfg);
      const z = sampleStrategy({ mu: d.mu.ref, logvar: d.logvar.ref }, key.ref);
      const zf = forwardFill(z.reshape([1, N, Na, Z]), f64([1, 0], [1, N]));
      const r = recogForward(q.recog, recogInputs(false), cfg);
      const am = f64(entityMask, [1, N, Ne]).slice([], [], [0, Na]);
      const { lpMean, hMean } = copaViTerms(
        zf,
        { mu: r.mu.reshape([1, N, Na, Z]), logvar: r.logvar.reshape([1, N, Na, Z]) },
        { mu: d.mu.reshape([1, N, Na, Z]), logvar: d.logvar.reshape([1, N, Na, Z]) },
        am,
        f64([1], [1, 1]),
      );
      return lpMean.add(hMean.mul(0.3));
    };
    const leaves = fdCheck(f, p, { directions: 1, atol: 1e-5 });
    assert.ok(leaves >= 20, `${leaves} leaves`);
    tree.dispose([p, key]);
  });

  it("VI terms equal a direct computation (clamps, active-agent average, masked mean)", () => {
    // B = 1, T1 = 3 (rows 0, 1 count; row 2 is the "next" row), Na = 2, Z = 2.
    const z = [0.5, -1, 2, 0, /* row 1 */ 0.1, 0.2, 3, 3, /* row 2 */ 9, 9, 9, 9];
    const qmu = [0, -1, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0];
    const qlv = [0, -2, -10, -1, 0, 0, -3, -3, 0, 0, 0, 0];
    const clv = [0, -1, -5, -2, -0.5, -2.9, -10, 0, 0, 0, 0, 0];
    const agentMask = [0, 0, /* row 1: agent 1 inactive */ 0, 1, 0, 0];
    const mask = [1, 1];
    const { lpMean, hMean } = copaViTerms(
      f64(z, [1, 3, 2, 2]),
      { mu: f64(qmu, [1, 3, 2, 2]), logvar: f64(qlv, [1, 3, 2, 2]) },
      { mu: f64(new Array(12).fill(0), [1, 3, 2, 2]), logvar: f64(clv, [1, 3, 2, 2]) },
      f64(agentMask, [1, 3, 2]),
      f64(mask, [1, 2]),
    );
    const logN = (x: number, m: number, lv: number) =>
      -0.5 * (x - m) ** 2 * Math.exp(-lv) - 0.5 * lv - 0.5 * Math.log(2 * Math.PI);
    const ent = (lv: number) => 0.5 * (1 + Math.log(2 * Math.PI)) + 0.5 * lv;
    const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
    let lpSum = 0;
    let hSum = 0;
    for (let t = 0; t < 2; t++) {
      let lpRow = 0;
      let hRow = 0;
      let n = 0;
      for (let i = 0; i < 2; i++) {
        if (agentMask[t * 2 + i]) continue;
        n++;
        for (let k = 0; k < 2; k++) {
          const j = (t * 2 + i) * 2 + k;
          lpRow += clamp(logN(z[j], qmu[j], qlv[j]), -1000, 0);
          hRow += clamp(ent(clv[j]), 0, 10);
        }
      }
      lpSum += lpRow / (n + 1e-8);
      hSum += hRow / (n + 1e-8);
    }
    assert.ok(Math.abs(scalar(lpMean) - lpSum / 2) < 1e-6 * Math.abs(lpSum));
    assert.ok(Math.abs(scalar(hMean) - hSum / 2) < 1e-6);
  });

  it("plain episode mask: filled · (1 − reset of the previous row)", () => {
    const m = plainEpisodeMask(f32([1, 1, 1, 1, 0], [1, 5]), f32([0, 1, 0, 0, 0], [1, 5]));
    assert.deepEqual(host(m), [1, 1, 0, 1]);
    m.dispose();
  });
});

describe("forward fill of z over a window (spec §16.2)", () => {
  // Two windows of T1 = 7 rows. Window 0 starts mid-segment (no decision at row 0); window 1
  // crosses an episode boundary: decisions at rows 0, 3 (episode end at row 4, final row 5), row 6
  // is row 0 of the next episode (a decision point).
  const dec = [
    [0, 0, 1, 0, 0, 1, 0],
    [1, 0, 0, 1, 0, 0, 1],
  ];
  const expectedSource = [
    [-1, -1, 2, 2, 2, 5, 5],
    [0, 0, 0, 3, 3, 3, 6],
  ];

  it("copies the last decision row's z and gives 0 before the first decision", () => {
    const B = 2;
    const T1 = 7;
    const z = new Float32Array(B * T1 * 2 * 3);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T1; t++)
        for (let j = 0; j < 6; j++) z[(b * T1 + t) * 6 + j] = 100 * b + 10 * t + j + 1;
    const out = host(forwardFill(f32(z, [B, T1, 2, 3]), f32(dec.flat(), [B, T1])));
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T1; t++) {
        const s = expectedSource[b][t];
        for (let j = 0; j < 6; j++) {
          const want = s < 0 ? 0 : 100 * b + 10 * s + j + 1;
          assert.equal(out[(b * T1 + t) * 6 + j], want, `window ${b} row ${t}`);
        }
      }
    }
    const W = host(forwardFillMatrix(f32(dec.flat(), [B, T1])));
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T1; t++)
        for (let s = 0; s < T1; s++)
          assert.equal(W[(b * T1 + t) * T1 + s], s === expectedSource[b][t] ? 1 : 0);
  });

  it("sends gradients only to the z of decision rows", () => {
    const B = 2;
    const T1 = 7;
    const w = f64(randArray(B * T1 * 2, 9), [B, T1, 2, 1]);
    const g = grad((zz: Arr) =>
      forwardFill(zz, f64(dec.flat(), [B, T1]))
        .mul(w.ref)
        .sum(),
    )(f64(new Array(B * T1 * 2).fill(0.5), [B, T1, 2, 1]));
    const gh = host(g);
    const wh = host(w);
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < T1; s++) {
        for (let i = 0; i < 2; i++) {
          let want = 0;
          for (let t = 0; t < T1; t++)
            if (expectedSource[b][t] === s) want += wh[(b * T1 + t) * 2 + i];
          assert.ok(Math.abs(gh[(b * T1 + s) * 2 + i] - want) < 1e-12);
          if (!dec[b][s]) assert.equal(gh[(b * T1 + s) * 2 + i], 0);
        }
      }
    }
    w.dispose();
  });
});

describe("z enters the agent network after the second layer's ReLU, before the Q head (§4.3, §16.1)", () => {
  const agentCfg: AgentNetConfig = {
    nAgents: Na,
    nEntities: Ne,
    nActions: A,
    entityShape: De,
    nTasks: Nt,
    attnEmbed: 8,
    nHeads: 2,
    hiddenDim: Z,
    subtaskCond: null,
  };
  const x = randArray(N * Ne * (De + A), 41);
  const obs = new Array(N * Ne * Ne).fill(0);
  const fwd = (p: AgentParams, coachZ?: Arr) =>
    agentForward(
      p,
      {
        ent: f64(x, [N, Ne, De + A]),
        obsMask: f64(obs, [N, Ne, Ne]),
        entityMask: f64(entityMask, [N, Ne]),
        coachZ,
      },
      agentCfg,
    );

  it("Q(z) − Q(0) = z · W_head for active agents, 0 for inactive ones; absent z = no change", () => {
    const p = toF64(initAgent(random.key(12), agentCfg));
    const q0 = host(fwd(tree.ref(p)));
    const qZero = host(fwd(tree.ref(p), f64(new Array(N * Na * Z).fill(0), [N, Na, Z])));
    assert.deepEqual(qZero, q0);
    // Large negative z: if it were added before the ReLU, the hidden vector would be cut to 0.
    const zv = randArray(N * Na * Z, 43, 50);
    const qz = host(fwd(tree.ref(p), f64(zv, [N, Na, Z])));
    const W = host(p.head.w); // [Z, A]
    for (let r = 0; r < N; r++) {
      for (let i = 0; i < Na; i++) {
        const inactive = entityMask[r * Ne + i] === 1;
        for (let a = 0; a < A; a++) {
          let want = 0;
          for (let k = 0; k < Z; k++) want += zv[(r * Na + i) * Z + k] * W[k * A + a];
          const j = (r * Na + i) * A + a;
          const got = qz[j] - q0[j];
          if (inactive) assert.ok(qz[j] === 0);
          else assert.ok(Math.abs(got - want) < 1e-9, `row ${r} agent ${i} action ${a}`);
        }
      }
    }
    tree.dispose(p);
  });

  it("hidden vector check: Q = (ReLU(fc2(ReLU(h))) + z) · W + b", () => {
    // Independent of the previous test: zero fc2 weights and bias make the hidden vector
    // ReLU(0) = 0, so Q = z·W + b for active agents.
    const p = toF64(initAgent(random.key(13), agentCfg));
    const zeroFc2 = { ...p, fc2: { w: np.zerosLike(p.fc2.w), b: np.zerosLike(p.fc2.b) } };
    const zv = randArray(N * Na * Z, 44, 3);
    const q = host(fwd(tree.ref(zeroFc2) as AgentParams, f64(zv, [N, Na, Z])));
    const W = host(zeroFc2.head.w);
    const bH = host(zeroFc2.head.b);
    for (let a = 0; a < A; a++) {
      let want = bH[a];
      for (let k = 0; k < Z; k++) want += zv[k] * W[k * A + a];
      assert.ok(Math.abs(q[a] - want) < 1e-9);
    }
    tree.dispose(zeroFc2);
  });
});

// --- the COPA part of the low-level loss ---------------------------------------------------

const DIMS: LowLevelDims = { nAgents: 3, nEntities: 6, nTasks: 3, nActions: 4, entityShape: 5 };
const SMALL_LOW = { attnEmbed: 8, nHeads: 2, hiddenDim: 6, hypernetEmbed: 8, mixingEmbed: 4 };
const lowCfg = (copa: boolean, extra: Record<string, unknown> = {}): LowLevelConfig =>
  defaultLowLevelConfig(DIMS, null, {
    ...SMALL_LOW,
    ...(copa ? { copa: { viLambda: 0.5 } } : {}),
    ...extra,
  });

/**
 * A synthetic window batch with decision points (none at row 0, so z = 0 there). Pure COPA
 * stores no allocation (all-ones agent rows); `allocate` writes one (COPA with an allocator).
 */
function copaBatch(seed: number, B = 2, T1 = 7, allocate = false): LowLevelBatch {
  const b = syntheticLowLevelBatch(DIMS, B, T1, seed, { endProb: 0.15, allocate });
  const rnd = mulberry32(seed + 1000);
  const dec = new Uint8Array(B * T1);
  for (let i = 0; i < B; i++)
    for (let t = 1; t < T1; t++) dec[i * T1 + t] = rnd() < 0.35 || b.reset[i * T1 + t - 1] ? 1 : 0;
  return { ...b, hierDecision: dec };
}

function copaArrays(seed: number, dtype64: boolean, allocate = false): LowLevelArrays {
  const a = lowLevelBatchToArrays(copaBatch(seed, 2, 7, allocate), DIMS, { hierDecision: true });
  return dtype64 ? (tree.map((x: Arr) => x.astype(np.float64), a) as unknown as LowLevelArrays) : a;
}

describe("low-level loss with COPA (spec §11.2 step 10, §16.2)", () => {
  // Pure COPA (A-QMIX / REFIL low level, §17) and COPA with an allocator and mask_copa (§16.1).
  const cases: [SubtaskCond, boolean][] = [
    [null, false],
    [null, true],
    ["mask", false],
  ];
  for (const [cond, imagine] of cases) {
    it(`has correct gradients w.r.t. agent, mixer, coach and recognition model (cond=${cond}, refil=${imagine})`, () => {
      // vi_lambda 0.05 (not 5e-5) so that the VI terms carry weight in the check, yet small
      // enough that the float32-accurate exp/log noise and the ReLU/clamp kinks crossed by the
      // finite differences stay below the tolerance (the VI gradients are checked at full weight
      // in the recognition-model test above).
      const cfg: LowLevelConfig = {
        ...defaultLowLevelConfig(DIMS, cond, {
          ...SMALL_LOW,
          copa: { viLambda: 0.05, subtaskMask: cond !== null },
        }),
        popart: false,
        imagine,
      };
      const live = toF64(initLowLevelState(random.key(1), cfg).params);
      const tgt = initLowLevelState(random.key(2), cfg);
      const target = { params: toF64(tgt.params), popart: tgt.popart };
      tree.dispose([tgt.opt, tgt.target]);
      const batch = copaArrays(3, true, cond !== null);
      const key = random.key(4);
      const f = (p: LowLevelParams) => {
        const [loss, aux] = lowLevelLoss(
          p,
          tree.ref(target),
          tree.ref(target.popart),
          tree.ref(batch),
          key.ref,
          cfg,
        );
        tree.dispose(aux);
        return loss;
      };
      // eps 3e-4: at 1e-3 some random directions cross ReLU / clamp kinks of the coach and
      // recognition model (measured: the difference quotient converges to the analytic value
      // as eps shrinks until the float32-accurate exp noise takes over below ~1e-4).
      const leaves = fdCheck(f, live, { skip: ["popart"], directions: 1, atol: 2e-4, eps: 3e-4 });
      assert.ok(leaves >= 37 + 20, `${leaves} leaves`);
      tree.dispose([live, target, batch, key]);
    });
  }

  it("adds vi_lambda·(−lp) + vi_lambda/10·(−H) to the TD loss and reports both terms", () => {
    const cfg = lowCfg(true, { popart: false });
    const state = initLowLevelState(random.key(5), cfg);
    const [loss, aux] = lowLevelLoss(
      tree.ref(state.params),
      tree.ref(state.target),
      tree.ref(state.popart),
      copaArrays(7, false),
      random.key(6),
      cfg,
    );
    const q = scalar(aux.metrics.qLoss);
    const vi = scalar(aux.metrics.copaViLoss!);
    const ent = scalar(aux.metrics.copaEntropyLoss!);
    const l = scalar(loss);
    assert.ok(Number.isFinite(vi) && Number.isFinite(ent));
    assert.ok(Math.abs(l - (q + 0.5 * vi + 0.05 * ent)) < 1e-4 * Math.max(1, Math.abs(l)));
    const { qLoss: _q, copaViLoss: _v, copaEntropyLoss: _e, ...rest } = aux.metrics;
    tree.dispose([aux.popart, aux.head, rest, state]);
  });

  it("without copa_vi_loss: TD loss only, no COPA metrics, recognition model gets no gradient", () => {
    const cfg = lowCfg(false, { popart: false, copa: { viLoss: false } });
    assert.equal(cfg.copa?.viLoss, false);
    const state = initLowLevelState(random.key(5), cfg);
    const batch = copaArrays(7, false);
    const [[loss, aux], g] = valueAndGrad(
      (p: LowLevelParams) =>
        lowLevelLoss(
          p,
          tree.ref(state.target),
          tree.ref(state.popart),
          tree.ref(batch),
          random.key(6),
          cfg,
        ),
      { hasAux: true },
    )(tree.ref(state.params)) as unknown as [[Arr, LowLevelLossAux], LowLevelParams];
    assert.equal(aux.metrics.copaViLoss, undefined);
    assert.ok(Math.abs(scalar(loss) - scalar(aux.metrics.qLoss.ref)) < 1e-7);
    for (const leaf of tree.leaves(g.copa!.recog) as Arr[])
      assert.ok(host(leaf).every((v) => v === 0));
    const coachGrad = (tree.leaves(g.copa!.coach) as Arr[]).some((l) =>
      host(l).some((v) => v !== 0),
    );
    assert.ok(coachGrad, "the coach still learns through z (TD loss)");
    tree.dispose([aux, g, state, batch]);
  });

  it("a non-COPA configuration has no COPA parameters, inputs or metrics", () => {
    const cfg = lowCfg(false);
    assert.equal(cfg.copa, undefined);
    const state = initLowLevelState(random.key(1), cfg);
    assert.deepEqual(Object.keys(state.params), ["agent", "mixer"]);
    const arrays = lowLevelBatchToArrays(copaBatch(3), DIMS);
    assert.equal(arrays.hierDecision, undefined);
    tree.dispose([state, arrays]);
  });

  it("trains: compiles once, copies coach and recognition model to the target, loss falls", () => {
    const cfg = lowCfg(true, { rmsprop: { lr: 3e-3, alpha: 0.99, eps: 1e-5, weightDecay: 0 } });
    const step = makeLowLevelTrainStep(cfg);
    let state = initLowLevelState(random.key(7), cfg);
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      if (i === 5) {
        state = updateLowLevelTarget(state);
        const a = host(state.params.copa!.coach.mu.w);
        const b = host(state.target.params.copa!.coach.mu.w);
        assert.deepEqual(a, b);
        assert.deepEqual(
          host(state.params.copa!.recog.mu.l2.w),
          host(state.target.params.copa!.recog.mu.l2.w),
        );
      }
      const [next, m] = step(state, copaArrays(5, false), random.key(100 + i));
      state = next;
      losses.push(scalar(m.loss.ref));
      for (const v of Object.values(m)) assert.ok(Number.isFinite(scalar(v as Arr)));
    }
    assert.equal(step.traces, 1);
    const early = (losses[0] + losses[1] + losses[2]) / 3;
    const late = (losses[17] + losses[18] + losses[19]) / 3;
    assert.ok(late < early, `loss ${early} -> ${late}`);
    tree.dispose(state);
    step.dispose();
  });
});
