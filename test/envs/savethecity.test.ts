/**
 * SaveTheCity against environments.md §2: the worked numbers of §2.14, the checklist of §7, and
 * the conformance suite.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkConformance } from "../../src/envs/conformance.js";
import { makeEnv } from "../../src/envs/registry.js";
import {
  ACT_BUILD,
  ACT_FIGHT,
  ACT_FREEZE,
  ACT_STAY,
  BUILDER,
  FAST,
  FIREFIGHTER,
  GENERALIST,
  renderSaveTheCitySvg,
  SaveTheCity,
  type SaveTheCityState,
  SCENARIO_NAMES,
  SLOW,
  scenarioFamily,
  teamLetters,
} from "../../src/envs/savethecity/index.js";
import { InvalidActionError } from "../../src/envs/types.js";

type B = SaveTheCityState["buildings"][number];
type Ag = SaveTheCityState["agents"][number];

/** A building with a far-away fire timer unless overridden. */
function bld(over: Partial<B> & Pick<B, "x" | "y">): B {
  return {
    type: FAST,
    health: 0.5,
    fire: 0,
    restartInterval: 70,
    timeToNextFire: 100,
    timeSinceLastFire: 0,
    ...over,
  };
}

function envWith(agents: Ag[], buildings: B[], scenario = "2-5a_2-5b", seed = 0): SaveTheCity {
  const env = new SaveTheCity({ scenario, seed });
  env.setState({ time: 0, agents, buildings });
  return env;
}

/** Actions array of the padded size with `a` for the first agents. */
function acts(env: SaveTheCity, ...a: number[]): Int32Array {
  const out = new Int32Array(env.info.nAgents);
  out.set(a);
  return out;
}

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

describe("SaveTheCity scenario families (§2.3)", () => {
  const table: [string, number, number, number, number, number][] = [
    // name, #teams, max agents, n_entities, n_tasks, max_reward
    ["2a_2b", 3, 2, 5, 3, 38],
    ["3a_3b", 1, 3, 7, 4, 44],
    ["2-5a_2-5b", 13, 5, 11, 6, 56],
    ["2-8a_2-8b", 59, 8, 17, 9, 74],
    ["2-10a_2-10b", 123, 10, 21, 11, 86],
    ["12a_12b", 55, 12, 25, 13, 98],
    ["16a_16b", 105, 16, 33, 17, 122],
    ["20a_20b", 171, 20, 41, 21, 146],
    ["24a_24b", 253, 24, 49, 25, 170],
  ];
  for (const [name, teams, na, ne, nt, maxReward] of table) {
    it(`${name}: ${teams} maximally diverse teams, sizes ${na}/${ne}/${nt}, max_reward ${maxReward}`, () => {
      const fam = scenarioFamily(name);
      assert.equal(fam.train.length, teams);
      assert.deepEqual(fam.test, fam.train, "test_ratio 1.0: test list = train list");
      const env = new SaveTheCity({ scenario: name });
      assert.deepEqual(env.info, {
        entityShape: 58,
        nActions: 12,
        nAgents: na,
        nEntities: ne,
        nTasks: nt,
        episodeLimit: 150,
      });
      assert.equal(env.maxReward, maxReward);
      for (const s of fam.train) {
        const letters = teamLetters(s.team);
        assert.equal(letters, [...letters].sort().join(""), "agents grouped by type B, F, G");
        assert.ok(
          new Set(letters).size >= Math.min(3, letters.length),
          `${letters} not maximally diverse`,
        );
        assert.deepEqual(s.buildings, { min: letters.length + 1, max: letters.length + 1 });
      }
    });
  }

  it("2-5a_2-5b holds exactly the 13 teams of the spec in the original's order", () => {
    const order = scenarioFamily("2-5a_2-5b").train.map((s) => teamLetters(s.team));
    assert.deepEqual(order, [
      "BG",
      "FG",
      "BFG",
      "BFFFG",
      "BFFGG",
      "BBBFG",
      "BBFG",
      "BBFFG",
      "BF",
      "BFGG",
      "BFFG",
      "BBFGG",
      "BFGGG",
    ]);
  });

  it("sim_Q1..Q4 split 59 teams into 8 test teams and quartiles of 12/13/13/13 with spacing 7", () => {
    const all = new Set(scenarioFamily("2-8a_2-8b").train.map((s) => teamLetters(s.team)));
    const seen = new Set<string>();
    const sizes = [12, 13, 13, 13];
    for (let q = 1; q <= 4; q++) {
      const fam = scenarioFamily(`2-8a_2-8b_sim_Q${q}`);
      assert.equal(fam.spacing, 7);
      assert.equal(fam.test.length, 8);
      assert.equal(fam.train.length, sizes[q - 1]);
      const test = new Set(fam.test.map((s) => teamLetters(s.team)));
      for (const s of fam.train) {
        const l = teamLetters(s.team);
        assert.ok(
          all.has(l) && !test.has(l) && !seen.has(l),
          `${l} must be a held-out, unique training team`,
        );
        seen.add(l);
      }
    }
    assert.equal(seen.size, 51);
  });

  it("single_scen and infinite", () => {
    const single = new SaveTheCity({ scenario: "single_scen", seed: 3 });
    single.reset();
    const st = single.getState();
    assert.deepEqual(
      st.agents.map((a) => a.type),
      [FIREFIGHTER, FIREFIGHTER, FIREFIGHTER, BUILDER, BUILDER, BUILDER, GENERALIST, GENERALIST],
    );
    assert.deepEqual(
      st.buildings.map((b) => b.type),
      [FAST, FAST, FAST, FAST, SLOW, SLOW, SLOW, SLOW],
    );
    for (const b of st.buildings) assert.ok([1, 8, 15].includes(b.x) && [1, 8, 15].includes(b.y));
    const inf = new SaveTheCity({ scenario: "infinite", seed: 1 });
    assert.equal(inf.info.nAgents, 8);
    assert.equal(inf.info.nTasks, 8);
    const sizes = new Set<string>();
    for (let i = 0; i < 200; i++) {
      inf.reset();
      const s = inf.getState();
      assert.ok(
        s.agents.length >= 2 &&
          s.agents.length <= 8 &&
          s.buildings.length >= 2 &&
          s.buildings.length <= 8,
      );
      sizes.add(`${s.agents.length}/${s.buildings.length}`);
    }
    assert.ok(sizes.size > 20, "agent and building counts are drawn independently");
  });

  it("unknown scenario names are errors that list the valid names", () => {
    assert.throws(
      () => new SaveTheCity({ scenario: "nope" }),
      /unknown SaveTheCity scenario 'nope'.*2-5a_2-5b/,
    );
    assert.throws(() => makeEnv("savethecity", { scenario: "nope" }), /unknown scenario 'nope'/);
    assert.equal(SCENARIO_NAMES.length, 15); // 13 of the original + 2a_2b, 3a_3b
  });
});

describe("SaveTheCity reset (§2.4)", () => {
  it("spawns agents in the peeled spawn area and buildings on candidate cells with spec'd ranges", () => {
    const env = new SaveTheCity({ seed: 11 });
    const small = new Set(["7,8", "8,7", "8,8"]);
    let ignited = 0;
    let buildings = 0;
    const cands = [1, 4, 7, 10, 13];
    for (let ep = 0; ep < 400; ep++) {
      env.reset();
      const s = env.getState();
      assert.equal(s.buildings.length, s.agents.length + 1);
      for (const a of s.agents) {
        if (s.agents.length <= 3)
          assert.ok(small.has(`${a.x},${a.y}`), `(${a.x},${a.y}) outside the 3-cell spawn area`);
        else assert.ok(a.x >= 6 && a.x <= 9 && a.y >= 6 && a.y <= 9 && !(a.x === 7 && a.y === 7));
      }
      for (const b of s.buildings) {
        assert.ok(cands.includes(b.x) && cands.includes(b.y));
        const h = b.health;
        assert.ok((h >= 0.25 && h <= 0.4) || (h >= 0.6 && h <= 0.75), `health ${h}`);
        const [lo, hi] = b.type === FAST ? [60, 80] : [10, 30];
        assert.ok(b.restartInterval >= lo && b.restartInterval <= hi);
        assert.ok(b.fire === 0 || b.fire === 1);
        assert.equal(b.timeToNextFire, b.restartInterval);
        buildings++;
        ignited += b.fire;
      }
    }
    const rate = ignited / buildings;
    assert.ok(rate > 0.35 && rate < 0.45, `initial fire rate ${rate} should be about 0.4`);
  });

  it("16+ agents spawn in [5,10]² minus candidates (32 cells)", () => {
    const env = new SaveTheCity({ scenario: "24a_24b", seed: 2 });
    env.reset();
    for (const a of env.getState().agents) {
      assert.ok(a.x >= 5 && a.x <= 10 && a.y >= 5 && a.y <= 10);
      assert.ok(![7, 10].includes(a.x) || ![7, 10].includes(a.y), "not on a candidate cell");
    }
  });

  it("reset options: index, nTasks, and their conflict", () => {
    const env = new SaveTheCity({ seed: 5 });
    env.reset({ index: 8 });
    assert.equal(teamLetters(env.getState().agents.map((a) => a.type)), "BF");
    env.reset({ nTasks: 4 });
    assert.equal(env.nActiveTasks, 4);
    assert.equal(env.nActiveAgents, 3);
    assert.throws(() => env.reset({ index: 1, nTasks: 3 }), /at most one/);
    assert.throws(() => env.reset({ nTasks: 9 }), /nTasks = 9/);
    assert.throws(() => env.reset({ index: 13 }), /out of range/);
  });
});

describe("SaveTheCity worked numbers (§2.14)", () => {
  it("a Firefighter on a burning fast building: fire 0.75, health 0.27375, reward -0.09375", () => {
    const env = envWith(
      [{ type: FIREFIGHTER, x: 4, y: 5 }],
      [bld({ x: 4, y: 4, health: 0.3, fire: 1 })],
    );
    const r = env.step(acts(env, ACT_FIGHT));
    const b = env.getState().buildings[0];
    close(b.fire, 0.75);
    close(b.health, 0.27375);
    close(r.reward, -0.09375);
    close(r.info.taskRewards[0], -0.09375);
  });

  it("a Builder completes a slow building: global 2.0 -> 0.7142857, subtask 21 -> 7.5; +20 when it was the last", () => {
    const slow = bld({ type: SLOW, x: 4, y: 4, health: 0.9 });
    const env = envWith([{ type: BUILDER, x: 4, y: 5 }], [slow, bld({ x: 10, y: 10 })]);
    const r = env.step(acts(env, ACT_BUILD));
    close(env.getState().buildings[0].health, 1);
    close(r.reward, 2 * (20 / 56));
    close(r.info.taskRewards[0], 7.5);
    assert.equal(r.terminated, false);
    assert.equal(r.info.tasksChanged, true);
    assert.deepEqual([...r.info.tasksTerminated], [1, 0, 1, 1, 1, 1]);

    const last = envWith([{ type: BUILDER, x: 4, y: 5 }], [slow, bld({ x: 10, y: 10, health: 1 })]);
    const r2 = last.step(acts(last, ACT_BUILD));
    assert.equal(r2.terminated, true);
    assert.equal(r2.info.episodeLimit, false);
    close(r2.reward, 22 * (20 / 56), 1e-9);
    close(r2.info.taskRewards[0], 7.5, 1e-9);
    assert.equal(r2.info.stats?.["solved"], 1);
    assert.equal(r2.info.stats?.["prop_buildings_completed"], 1);
  });

  it("a Firefighter extinguishes a full fire in 4 steps; the 4th step earns +0.5", () => {
    const env = envWith(
      [{ type: FIREFIGHTER, x: 4, y: 5 }],
      [bld({ x: 4, y: 4, fire: 1 }), bld({ x: 10, y: 10 })],
    );
    const fires: number[] = [];
    let last = 0;
    for (let i = 0; i < 4; i++) {
      last = env.step(acts(env, ACT_FIGHT)).reward;
      fires.push(env.getState().buildings[0].fire);
    }
    assert.deepEqual(fires, [0.75, 0.5, 0.25, 0]);
    close(last, 0.5 * (20 / 56));
  });

  it("a Builder rebuilds 0.25 -> 1.0 in 6 steps; Firefighter + Generalist need 12", () => {
    const steps = (agents: Ag[], action: number[]) => {
      const env = envWith(agents, [bld({ x: 4, y: 4, health: 0.25 }), bld({ x: 10, y: 10 })]);
      let n = 0;
      while (env.getState().buildings[0].health < 1) {
        env.step(acts(env, ...action));
        n++;
      }
      return n;
    };
    assert.equal(steps([{ type: BUILDER, x: 4, y: 5 }], [ACT_BUILD]), 6);
    assert.equal(
      steps(
        [
          { type: FIREFIGHTER, x: 4, y: 5 },
          { type: GENERALIST, x: 5, y: 4 },
        ],
        [ACT_BUILD, ACT_BUILD],
      ),
      12,
    );
  });

  it("a building at 0.25 under full fire burns down in 8 steps (fast) / 15 (slow), -20 and fire out", () => {
    for (const [type, expected] of [
      [FAST, 8],
      [SLOW, 15],
    ] as const) {
      const env = envWith(
        [{ type: BUILDER, x: 0, y: 0 }],
        [bld({ type, x: 4, y: 4, health: 0.25, fire: 1 }), bld({ x: 10, y: 10 })],
      );
      let n = 0;
      let r = env.step(acts(env, ACT_STAY));
      n++;
      while (env.getState().buildings[0].health > 0) {
        r = env.step(acts(env, ACT_STAY));
        n++;
      }
      assert.equal(n, expected);
      const b = env.getState().buildings[0];
      assert.equal(b.fire, 0, "burned buildings stop burning");
      assert.equal(b.timeToNextFire, 1000);
      assert.ok(r.info.taskRewards[0] < -20 * (20 / 56) + 1e-9);
      assert.equal(r.info.tasksChanged, true);
    }
  });
});

describe("SaveTheCity dynamics (§2.5-§2.7, checklist §7)", () => {
  const fireAfter = (agents: Ag[], action: number[], fire = 0.5) => {
    const env = envWith(agents, [bld({ x: 4, y: 4, fire }), bld({ x: 10, y: 10 })]);
    env.step(acts(env, ...action));
    return env.getState().buildings[0].fire;
  };
  const around = (types: number[]): Ag[] => {
    const spots = [
      [4, 5],
      [5, 4],
      [4, 3],
      [3, 4],
    ];
    return types.map((type, i) => ({ type: type as Ag["type"], x: spots[i][0], y: spots[i][1] }));
  };

  it("generalist fire bonus needs a Builder fighting too (B+G: -0.125; F+G: -0.25; G alone: grows x1.1)", () => {
    close(fireAfter(around([BUILDER, GENERALIST]), [ACT_FIGHT, ACT_FIGHT]), 0.5 - 0.125);
    close(fireAfter(around([FIREFIGHTER, GENERALIST]), [ACT_FIGHT, ACT_FIGHT]), 0.25);
    close(fireAfter(around([GENERALIST]), [ACT_FIGHT]), 0.55);
    close(fireAfter(around([BUILDER]), [ACT_FIGHT]), 0.5 - 0.0125);
    close(fireAfter(around([FIREFIGHTER, FIREFIGHTER]), [ACT_FIGHT, ACT_FIGHT]), 0);
  });

  it("burn uses the post-update fire and a generalist freeze cancels it", () => {
    const run = (agents: Ag[], action: number[]) => {
      const env = envWith(agents, [
        bld({ x: 4, y: 4, fire: 0.5, health: 0.5 }),
        bld({ x: 10, y: 10 }),
      ]);
      env.step(acts(env, ...action));
      return env.getState().buildings[0].health;
    };
    close(run(around([BUILDER]), [ACT_STAY]), 0.5 - 0.55 * 0.035);
    close(run(around([FIREFIGHTER]), [ACT_FIGHT]), 0.5 - 0.25 * 0.035);
    close(run(around([GENERALIST]), [ACT_FREEZE]), 0.5);
  });

  it("generalist build bonus needs a Firefighter building too (F+G: +0.0625; B+G: +0.125)", () => {
    const run = (types: number[]) => {
      const env = envWith(around(types), [bld({ x: 4, y: 4, health: 0.5 }), bld({ x: 10, y: 10 })]);
      env.step(acts(env, ...types.map(() => ACT_BUILD)));
      return env.getState().buildings[0].health;
    };
    close(run([FIREFIGHTER, GENERALIST]), 0.5625);
    close(run([BUILDER, GENERALIST]), 0.625);
    close(run([GENERALIST]), 0.5);
  });

  it("re-ignites every restart_interval, whether or not the fire was put out", () => {
    const env = envWith(
      [{ type: FIREFIGHTER, x: 4, y: 5 }],
      [
        bld({ type: SLOW, x: 4, y: 4, fire: 1, restartInterval: 10, timeToNextFire: 10 }),
        bld({ x: 10, y: 10 }),
      ],
    );
    const fires: number[] = [];
    for (let t = 0; t < 12; t++) {
      const avail = env.getAvailActions();
      env.step(acts(env, avail[ACT_FIGHT] ? ACT_FIGHT : ACT_STAY));
      fires.push(env.getState().buildings[0].fire);
    }
    // Out after 4 steps, re-ignited to full strength at step 10 by the untouched timer.
    assert.deepEqual(fires.slice(0, 4), [0.75, 0.5, 0.25, 0]);
    assert.equal(fires[8], 0);
    assert.equal(fires[9], 1);
    assert.equal(fires[10], 0.75);
  });

  it("availability uses the pre-step grid; generalists jump 2 cells over obstacles", () => {
    const env = envWith(
      [
        { type: BUILDER, x: 2, y: 2 },
        { type: FIREFIGHTER, x: 2, y: 3 },
        { type: GENERALIST, x: 3, y: 2 },
      ],
      [bld({ x: 4, y: 2 }), bld({ x: 10, y: 10 })],
    );
    const av = env.getAvailActions();
    const A = 12;
    // Builder at (2,2): north (2,3) occupied by the firefighter, east (3,2) by the generalist.
    assert.equal(av[0 * A + 1], 0);
    assert.equal(av[0 * A + 2], 0);
    assert.equal(av[0 * A + 3], 1);
    assert.equal(av[0 * A + 5], 0, "non-generalists cannot move 2 cells");
    // Generalist at (3,2): east is building 0 → adjacent; 2-cell west jumps over the builder to (1,2).
    assert.equal(av[2 * A + 2], 0);
    assert.equal(av[2 * A + 8], 1);
    assert.equal(av[2 * A + 6], 1, "east2 jumps over the building to (5,2)");
    assert.equal(av[2 * A + ACT_BUILD], 2 + 0, "build is tied to subtask 0");
    assert.equal(av[2 * A + ACT_FIGHT], 0, "no fire to fight");
    // The firefighter moving away does not free its cell for the builder this step.
    assert.throws(
      () => env.step(acts(env, 1, 1, 0)),
      (e: unknown) => {
        assert.ok(e instanceof InvalidActionError);
        assert.equal(e.agent, 0);
        assert.equal(e.action, 1);
        assert.match(e.message, /agent 0: action 1 .*occupied by agent 1/);
        return true;
      },
    );
    // Jump lands beyond the obstacle.
    env.step(acts(env, 0, 0, 8));
    assert.deepEqual(env.getState().agents[2], { type: GENERALIST, x: 1, y: 2 });
  });

  it("edge of the grid, freeze for generalists only, and fight/build require the right fire state", () => {
    const env = envWith(
      [
        { type: FIREFIGHTER, x: 0, y: 0 },
        { type: BUILDER, x: 4, y: 5 },
        { type: GENERALIST, x: 5, y: 4 },
      ],
      [bld({ x: 4, y: 4, fire: 0.5 }), bld({ x: 10, y: 10 })],
    );
    const av = env.getAvailActions();
    assert.equal(av[3], 0, "south of y=0 is outside");
    assert.equal(av[4], 0, "west of x=0 is outside");
    assert.equal(av[12 + ACT_FIGHT], 2);
    assert.equal(av[12 + ACT_BUILD], 0, "cannot build while burning");
    assert.equal(av[12 + ACT_FREEZE], 0);
    assert.equal(av[24 + ACT_FREEZE], 2);
    assert.throws(
      () => env.step(acts(env, 0, ACT_FREEZE, 0)),
      /agent 1: action 11 .*only generalists can freeze/,
    );
    assert.throws(() => env.step(acts(env, 12, 0, 0)), /agent 0: action 12 .*integer in \[0, 12\)/);
  });

  it("colliding agents: a random one of the pair is reverted", () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const env = envWith(
        [
          { type: BUILDER, x: 2, y: 2 },
          { type: FIREFIGHTER, x: 4, y: 2 },
        ],
        [bld({ x: 10, y: 10 })],
        "2-5a_2-5b",
        seed,
      );
      env.step(acts(env, 2, 4)); // both move into (3,2)
      const [a, b] = env.getState().agents;
      assert.notDeepEqual([a.x, a.y], [b.x, b.y]);
      outcomes.add(a.x === 3 ? "builder" : "firefighter");
      assert.ok((a.x === 3 && b.x === 4) || (a.x === 2 && b.x === 3));
    }
    assert.equal(outcomes.size, 2, "either agent can be the one reverted");
  });

  it("time-outs terminate with episodeLimit (bootstrapped), and stats are reported", () => {
    const env = envWith(
      [{ type: BUILDER, x: 0, y: 0 }],
      [bld({ type: SLOW, x: 10, y: 10, restartInterval: 2000, timeToNextFire: 2000 })],
    );
    let r = env.step(acts(env, 0));
    let n = 1;
    while (!r.terminated) {
      r = env.step(acts(env, 0));
      n++;
    }
    assert.equal(n, 150);
    assert.equal(r.info.episodeLimit, true);
    assert.equal(r.info.stats?.["solved"], 0);
    assert.throws(() => env.step(acts(env, 0)), /finished episode/);
  });
});

describe("SaveTheCity observations (§2.10-§2.12)", () => {
  it("entity layout: type, x/y one-hots, coordinates, availability, building state", () => {
    const env = envWith(
      [
        { type: FIREFIGHTER, x: 4, y: 5 },
        { type: GENERALIST, x: 9, y: 9 },
      ],
      [
        bld({
          type: SLOW,
          x: 4,
          y: 4,
          fire: 0.5,
          health: 0.3,
          restartInterval: 20,
          timeSinceLastFire: 5,
        }),
        bld({ x: 10, y: 10, health: 1 }),
      ],
    );
    const e = env.getEntities();
    const D = 58;
    const row = (i: number) => Array.from(e.subarray(i * D, (i + 1) * D));
    const ag = row(0);
    assert.equal(ag[2], 1);
    assert.equal(ag[5 + 4], 1);
    assert.equal(ag[21 + 5], 1);
    close(ag[37], 4 / 16);
    close(ag[38], 5 / 16);
    const av = env.getAvailActions();
    for (let a = 0; a < 12; a++) assert.equal(ag[39 + a], av[a] >= 1 ? 1 : 0);
    assert.equal(ag[39 + ACT_FIGHT], 1);
    assert.deepEqual(ag.slice(51), [0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(row(2), Array(D).fill(0), "padded agent slot is zero");
    const b0 = row(5);
    assert.equal(b0[1], 1, "slow-burn type id 1");
    close(b0[51], 0.3, 1e-7);
    assert.deepEqual([b0[52], b0[53]], [0, 0]);
    close(b0[54], 0.5);
    assert.equal(b0[55], 1);
    close(b0[56], 5 / 20, 1e-7);
    close(b0[57], (1 / 20 - 1 / 80) / (1 / 10 - 1 / 80), 1e-7);
    assert.deepEqual(b0.slice(39, 51), Array(12).fill(0));
    const b1 = row(6);
    assert.equal(b1[52], 1, "complete flag");
  });

  it("masks: agents see all real entities, buildings see only buildings, building k is subtask k", () => {
    const env = envWith(
      [
        { type: FIREFIGHTER, x: 4, y: 5 },
        { type: BUILDER, x: 9, y: 9 },
      ],
      [bld({ x: 4, y: 4 }), bld({ x: 10, y: 10, health: 1 }), bld({ x: 13, y: 13 })],
    );
    const m = env.getMasks();
    const ne = 11;
    const nt = 6;
    assert.deepEqual([...m.entityMask], [0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual([...m.obsMask.subarray(0, ne)], [0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual([...m.obsMask.subarray(5 * ne, 6 * ne)], [1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual([...m.obsMask.subarray(3 * ne, 4 * ne)], Array(ne).fill(1));
    assert.deepEqual([...m.entity2taskMask.subarray(6 * nt, 7 * nt)], [1, 0, 1, 1, 1, 1]);
    assert.deepEqual(
      [...m.entity2taskMask.subarray(0, nt)],
      Array(nt).fill(1),
      "no allocation without heuristicAlloc",
    );
    assert.deepEqual([...m.taskMask], [0, 1, 0, 1, 1, 1]);
  });

  it("heuristic allocation: firefighters/generalists prefer burning, builders calm; nearest, ties to lower index", () => {
    const env = new SaveTheCity({ heuristicAlloc: true });
    env.setState({
      time: 0,
      agents: [
        { type: BUILDER, x: 7, y: 7 },
        { type: FIREFIGHTER, x: 7, y: 8 },
        { type: GENERALIST, x: 8, y: 8 },
      ],
      buildings: [
        bld({ x: 1, y: 1, fire: 1 }),
        bld({ x: 4, y: 7 }), // builder: distance 3
        bld({ x: 10, y: 7 }), // builder: distance 3 (tie → index 1)
        bld({ x: 13, y: 13, fire: 0.5 }),
        bld({ x: 7, y: 4, health: 1 }), // complete: never allocated
      ],
    });
    const alloc = env.heuristicAllocation();
    // Firefighter at (7,8): burning 0 at 13, burning 3 at 11 → 3. Generalist (8,8): 0 at 14, 3 at 10 → 3.
    assert.deepEqual([...alloc], [1, 3, 3, -1, -1]);
    const m = env.getMasks();
    assert.deepEqual([...m.entity2taskMask.subarray(0, 6)], [1, 0, 1, 1, 1, 1]);
    assert.deepEqual([...m.entity2taskMask.subarray(6, 12)], [1, 1, 1, 0, 1, 1]);
    assert.deepEqual(
      [...m.entity2taskMask.subarray(18, 24)],
      [1, 1, 1, 1, 1, 1],
      "padded agent row",
    );
  });
});

describe("SaveTheCity conformance", () => {
  for (const scenario of ["2-5a_2-5b", "24a_24b", "single_scen", "infinite", "2-8a_2-8b_sim_Q2"]) {
    it(`${scenario} passes the conformance suite`, async () => {
      const report = await checkConformance((seed) => makeEnv("savethecity", { scenario, seed }), {
        numRuns: 8,
        steps: 400,
      });
      assert.ok(report.steps >= 3000 && report.episodes >= 16);
    });
  }
  it("with heuristicAlloc the agent rows carry the heuristic allocation and still conform", async () => {
    await checkConformance((seed) => makeEnv("ff", { seed, heuristicAlloc: true }), {
      numRuns: 6,
      steps: 300,
    });
  });
  it("an SVG frame draws every building, agent and allocation", () => {
    const env = new SaveTheCity({ seed: 4 });
    env.reset();
    const alloc = env.heuristicAllocation();
    const svg = renderSaveTheCitySvg(env.getState(), { allocation: alloc });
    assert.match(svg, /^<svg /);
    assert.equal(svg.match(/class="building"/g)?.length, env.nActiveTasks);
    assert.equal(svg.match(/class="agent"/g)?.length, env.nActiveAgents);
    assert.equal(svg.match(/class="alloc"/g)?.length, env.nActiveAgents);
  });
});
