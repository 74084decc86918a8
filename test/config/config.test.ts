import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AlmaConfig,
  allocEpsAt,
  ConfigError,
  ConfigSchema,
  canonicalKey,
  coerceValue,
  configFromJSON,
  configToJSON,
  ENV_PRESETS,
  effectiveMixerSubtaskCond,
  epsilonAt,
  listConfigKeys,
  METHOD_NAMES,
  METHOD_PRESETS,
  parseSchedule,
  parseSetArg,
  propAllocEpsAt,
  resolveConfig,
  SPEC_KEY_ALIASES,
  scheduleValue,
  withRunLength,
  withSets,
} from "../../src/config/index.js";

/** Assert `fn` throws a ConfigError whose key is `key` and whose message matches `re`. */
function throwsConfig(fn: () => unknown, key: string | undefined, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.equal(e.key, key, `key of: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

describe("defaults (spec §18)", () => {
  const c = resolveConfig();

  it("are the paper defaults for SaveTheCity A-QMIX", () => {
    assert.equal(c.env.name, "savethecity");
    assert.equal(c.env.scenario, "2-5a_2-5b");
    assert.equal(c.method, "aqmix");
    assert.equal(c.run.tMax, 15_000_000);
    assert.equal(c.run.batchSizeRun, 8);
    assert.equal(c.run.trainingIters, 8);
    assert.equal(c.run.testNepisode, 160);
    assert.equal(c.run.testInterval, 50_000);
    assert.equal(c.buffer.bufferSize, 5000);
    assert.equal(c.buffer.batchSize, 32);
    assert.equal(c.buffer.maxTrajLen, 64);
    assert.equal(c.optim.lr, 5e-4);
    assert.equal(c.optim.optimAlpha, 0.99);
    assert.equal(c.optim.optimEps, 1e-5);
    assert.equal(c.optim.gradNormClip, 10);
    assert.equal(c.learner.gamma, 0.99);
    assert.equal(c.learner.targetUpdateInterval, 200);
    assert.equal(c.learner.allocTargetUpdateInterval, 50);
    assert.equal(c.exploration.epsilonAnnealTime, 2_000_000);
    assert.equal(c.exploration.epsilonFinish, 0.05);
    assert.equal(c.mixer.mixingEmbedDim, 32);
    assert.equal(c.mixer.hypernetEmbed, 128);
    assert.equal(c.mixer.softmaxMixingWeights, true);
    assert.equal(c.agent.attnEmbedDim, 128);
    assert.equal(c.agent.attnNHeads, 4);
    assert.equal(c.agent.rnnHiddenDim, 64);
    assert.equal(c.hierAgent.actionLength, 5);
    assert.equal(c.hierAgent.decayOld, 150_000);
    assert.equal(c.hierAgent.nProposals, 32);
    assert.equal(c.hierAgent.allocEps, "1.0-0.0-0.05");
    assert.equal(c.hierAgent.propAllocEps, "1.0-0.05-0.2");
    assert.equal(c.hierAgent.entropyLoss, 0.01);
    assert.equal(c.hierAgent.maxBs, 400);
  });

  it("equal the bare schema defaults (the preset restates them)", () => {
    const bare = ConfigSchema.parse({});
    assert.deepEqual(bare, JSON.parse(JSON.stringify(c)));
  });

  it("are deeply frozen", () => {
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.hierAgent));
    assert.ok(Object.isFrozen(c.env.savethecity));
    assert.throws(() => {
      (c.run as { tMax: number }).tMax = 1;
    }, TypeError);
  });
});

describe("method presets (spec §17)", () => {
  const table: Record<string, [string, string, boolean]> = {
    aqmix: ["none", "none", false],
    refil: ["none", "none", false],
    heuristic: ["mask", "heuristic", false],
    random: ["mask", "random", false],
    alma: ["mask", "aql", false],
    "alma-nomask": ["full_obs", "aql", false],
    copa: ["none", "none", true],
  };

  for (const [method, [cond, alloc, copa]] of Object.entries(table)) {
    it(`${method} resolves on savethecity and battle`, () => {
      for (const env of ["savethecity", "battle"]) {
        const c = resolveConfig({ env, method });
        assert.equal(c.method, method);
        assert.equal(c.agent.subtaskCond, cond);
        assert.equal(c.hierAgent.taskAllocation, alloc);
        assert.equal(c.hierAgent.copa, copa);
        assert.equal(effectiveMixerSubtaskCond(c), cond);
      }
    });
  }

  it("covers every method name", () => {
    assert.deepEqual(Object.keys(METHOD_PRESETS).sort(), [...METHOD_NAMES].sort());
  });

  it("REFIL's imagined groups: on for refil and every battle method, off for aqmix", () => {
    assert.equal(resolveConfig({ method: "refil" }).agent.imagine, true);
    assert.equal(resolveConfig({ method: "aqmix", env: "battle" }).agent.imagine, false);
    assert.equal(resolveConfig({ method: "alma", env: "battle" }).agent.imagine, true);
    assert.equal(resolveConfig({ method: "copa", env: "battle" }).agent.imagine, true);
    assert.equal(resolveConfig({ method: "alma" }).agent.imagine, false);
  });

  it("StarCraft heuristic variants set the heuristic style and are battle-only", () => {
    assert.equal(
      resolveConfig({ env: "battle", method: "heuristic-matching" }).env.battle.heuristicStyle,
      "type-unassigned-diff",
    );
    assert.equal(
      resolveConfig({ env: "battle", method: "heuristic-dynamic" }).env.battle.heuristicStyle,
      "attacking-type-unassigned-diff",
    );
    assert.equal(
      resolveConfig({ env: "battle", method: "heuristic" }).env.battle.heuristicStyle,
      "attacking-type-unassigned-diff",
    );
    throwsConfig(
      () => resolveConfig({ env: "savethecity", method: "heuristic-matching" }),
      "method",
      /applies only to env "battle"/,
    );
  });

  it("unknown env, method and scale are errors naming them", () => {
    throwsConfig(
      () => resolveConfig({ method: "qmix" }),
      "method",
      /unknown method "qmix": expected one of aqmix/,
    );
    throwsConfig(() => resolveConfig({ env: "smac" }), "env.name", /unknown env "smac"/);
    throwsConfig(() => resolveConfig({ scale: "huge" }), "scale", /unknown scale "huge"/);
  });
});

describe("environment presets (spec §17, §18.3)", () => {
  it("savethecity vs battle", () => {
    const s = resolveConfig({ env: "ff", method: "alma" });
    const b = resolveConfig({ env: "sc2multiarmy", method: "alma" });
    assert.equal(s.env.name, "savethecity");
    assert.equal(b.env.name, "battle");
    assert.equal(s.hierAgent.actionLength, 5);
    assert.equal(b.hierAgent.actionLength, 3);
    assert.equal(s.exploration.maskSubtaskActions, false);
    assert.equal(b.exploration.maskSubtaskActions, true);
    assert.equal(s.run.tMax, 15_000_000);
    assert.equal(b.run.tMax, 10_000_000);
    assert.equal(s.exploration.epsilonAnnealTime, 2_000_000);
    assert.equal(b.exploration.epsilonAnnealTime, 500_000);
    assert.equal(b.env.scenario, "6-8sz_maxsize4_maxarmies3_symmetric");
    assert.equal(
      resolveConfig({ env: "battle", scenario: "6-8MMM_maxsize4_maxarmies3_symmetric" }).env
        .scenario,
      "6-8MMM_maxsize4_maxarmies3_symmetric",
    );
    assert.deepEqual(Object.keys(ENV_PRESETS).sort(), ["battle", "savethecity"]);
  });
});

describe("cpu scale", () => {
  it("shrinks the exploration schedules to a 1M-step run", () => {
    const s = resolveConfig({ method: "alma", scale: "cpu" });
    assert.equal(s.scale, "cpu");
    assert.equal(s.run.tMax, 1_000_000);
    assert.equal(s.exploration.epsilonAnnealTime, 133_333);
    assert.equal(s.run.testInterval, 50_000);
    assert.equal(s.hierAgent.decayOld, 150_000, "unchanged on purpose");
    assert.equal(allocEpsAt(s, 50_000), 0, "alloc_eps reaches 0 at 5% of t_max");
    assert.ok(
      Math.abs(propAllocEpsAt(s, 200_000) - 0.05) < 1e-12,
      "prop_alloc_eps reaches 0.05 at 20%",
    );
    const b = resolveConfig({ env: "battle", scale: "cpu" });
    assert.equal(b.exploration.epsilonAnnealTime, 50_000);
  });

  it("follows --steps and never overrides explicit keys", () => {
    const s = resolveConfig({ scale: "cpu", steps: 300_000 });
    assert.equal(s.run.tMax, 300_000);
    assert.equal(s.exploration.epsilonAnnealTime, 40_000);
    assert.equal(s.run.testInterval, 15_000);
    const e = resolveConfig({
      scale: "cpu",
      sets: ["exploration.epsilonAnnealTime=7", "run.testInterval=9"],
    });
    assert.equal(e.exploration.epsilonAnnealTime, 7);
    assert.equal(e.run.testInterval, 9);
    assert.equal(e.run.tMax, 1_000_000);
    const p = resolveConfig({ scale: "paper", steps: 300_000 });
    assert.equal(
      p.exploration.epsilonAnnealTime,
      2_000_000,
      "paper scale keeps absolute schedules",
    );
  });
});

describe("--set", () => {
  it("coerces numbers, booleans, strings and enums from the schema", () => {
    const c = resolveConfig({
      method: "alma",
      sets: [
        "hierAgent.nProposals=16",
        "optim.lr=1e-3",
        "run.tMax=2_000_000",
        "learner.popart=false",
        "hierAgent.piAgAttn=yes",
        "hierAgent.allocOpt=adam",
        "hierAgent.propAllocEps=",
        "env.scenario=2-8a_2-8b",
        "mixer.subtaskCond=full_obs",
      ],
    });
    assert.equal(c.hierAgent.nProposals, 16);
    assert.equal(c.optim.lr, 1e-3);
    assert.equal(c.run.tMax, 2_000_000);
    assert.equal(c.learner.popart, false);
    assert.equal(c.hierAgent.piAgAttn, true);
    assert.equal(c.hierAgent.allocOpt, "adam");
    assert.equal(c.hierAgent.propAllocEps, "");
    assert.equal(propAllocEpsAt(c, 0), 0, '"" disables proposal substitution');
    assert.equal(c.env.scenario, "2-8a_2-8b");
    assert.equal(effectiveMixerSubtaskCond(c), "full_obs");
  });

  it("accepts the spec's own key names and None", () => {
    const c = resolveConfig({
      sets: [
        "hier_agent.n_proposals=8",
        "batch_size=16",
        "epsilon_anneal_time=100",
        "agent.subtask_cond=None",
      ],
    });
    assert.equal(c.hierAgent.nProposals, 8);
    assert.equal(c.buffer.batchSize, 16);
    assert.equal(c.exploration.epsilonAnnealTime, 100);
    assert.equal(c.agent.subtaskCond, "none");
    for (const [spec, p] of Object.entries(SPEC_KEY_ALIASES)) {
      assert.equal(canonicalKey(spec), p, `alias ${spec}`);
    }
  });

  it("later sets win", () => {
    assert.equal(resolveConfig({ sets: ["lr=1", "optim.lr=2"] }).optim.lr, 2);
  });

  it("unknown keys are errors naming the key, with suggestions", () => {
    throwsConfig(
      () => parseSetArg("hierAgent.nProposal=3"),
      "hierAgent.nProposal",
      /unknown config key "hierAgent.nProposal" \(did you mean "hierAgent.nProposals"/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["nproposals=3"] }),
      "nproposals",
      /did you mean "hierAgent.nProposals"/,
    );
    throwsConfig(() => parseSetArg("foo.bar=1"), "foo.bar", /unknown config key "foo.bar"/);
    throwsConfig(
      () => parseSetArg("hierAgent=1"),
      "hierAgent",
      /is a group, not a value; set one of its keys: taskAllocation/,
    );
    throwsConfig(() => parseSetArg("lr"), "lr", /expected key=value/);
    throwsConfig(() => parseSetArg("method=alma"), "method", /use --method/);
    throwsConfig(() => parseSetArg("env.name=battle"), "env.name", /use --env/);
  });

  it("bad values are errors naming the key and what was expected", () => {
    throwsConfig(
      () => parseSetArg("hierAgent.nProposals=many"),
      "hierAgent.nProposals",
      /expected a number, got "many"/,
    );
    throwsConfig(() => parseSetArg("learner.popart=maybe"), "learner.popart", /expected a boolean/);
    throwsConfig(
      () => parseSetArg("agent.subtaskCond=masked"),
      "agent.subtaskCond",
      /expected one of "none" \| "mask" \| "full_obs", got "masked"/,
    );
    throwsConfig(
      () => parseSetArg("agent.recurrent=true"),
      "agent.recurrent",
      /expected false \(the only supported value\)/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["hierAgent.nProposals=1"] }),
      "hierAgent.nProposals",
      /hierAgent.nProposals: .*>=2/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["run.tMax=1.5"] }),
      "run.tMax",
      /run.tMax: .*expected int/,
    );
    throwsConfig(() => resolveConfig({ sets: ["optim.lr=-1"] }), "optim.lr", /optim.lr: /);
    throwsConfig(
      () => resolveConfig({ sets: ["hierAgent.allocEps=fast"] }),
      "hierAgent.allocEps",
      /expected a schedule "start-finish-fraction"/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["env.battle.heuristicStyle=closest"] }),
      "env.battle.heuristicStyle",
      /expected distinct criteria/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["buffer.maxTrajLen=1"] }),
      "buffer.maxTrajLen",
      /expected -1 \(off\) or an integer ≥ 2/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["buffer.batchSize=64", "buffer.bufferSize=32"] }),
      "buffer.batchSize",
      /must be ≤ buffer.bufferSize/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["agent.attnNHeads=3"] }),
      "agent.attnEmbedDim",
      /divisible by agent.attnNHeads/,
    );
  });

  it("cross-field rules of §17 name the key", () => {
    throwsConfig(
      () => resolveConfig({ method: "aqmix", sets: ["agent.subtaskCond=mask"] }),
      "hierAgent.taskAllocation",
      /must be "none" exactly when agent.subtaskCond is "none"/,
    );
    throwsConfig(
      () => resolveConfig({ method: "alma", sets: ["mixer.subtaskCond=none"] }),
      "mixer.subtaskCond",
      /must be "none" exactly when/,
    );
    throwsConfig(
      () => resolveConfig({ sets: ["learner.microBatches=5"] }),
      "learner.microBatches",
      /must divide buffer.batchSize \(32\)/,
    );
    throwsConfig(
      () => resolveConfig({ method: "copa", sets: ["learner.microBatches=4"] }),
      "learner.microBatches",
      /must be 1 with COPA/,
    );
    assert.equal(
      resolveConfig({ method: "alma", sets: ["learner.microBatches=4"] }).learner.microBatches,
      4,
    );
  });

  it("coerces every leaf from its default's string form (property over the key list)", () => {
    const keys = listConfigKeys().filter((k) => !["method", "scale", "env.name"].includes(k.path));
    assert.ok(keys.length >= 70, `${keys.length} keys`);
    for (const k of keys)
      assert.deepEqual(coerceValue(k.path, String(k.defaultValue)), k.defaultValue, k.path);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 9 }), fc.boolean(), (n, b) => {
        assert.equal(coerceValue("run.tMax", String(n)), n);
        assert.equal(coerceValue("learner.doubleQ", String(b)), b);
      }),
    );
  });
});

describe("config.json round trip", () => {
  it("every preset round-trips through JSON unchanged", () => {
    for (const method of METHOD_NAMES) {
      for (const env of ["savethecity", "battle"]) {
        if (method.startsWith("heuristic-") && env === "savethecity") continue;
        for (const scale of ["paper", "cpu"]) {
          const c = resolveConfig({ env, method, scale, seed: 7 });
          const back = configFromJSON(configToJSON(c));
          assert.deepEqual(back, c, `${env}/${method}/${scale}`);
          assert.ok(Object.isFrozen(back));
        }
      }
    }
  });

  it("unknown or bad keys in config.json are errors naming the key", () => {
    const c = resolveConfig({ method: "alma" });
    const obj = JSON.parse(configToJSON(c)) as Record<string, Record<string, unknown>>;
    obj.hierAgent!.nProposalz = 3;
    throwsConfig(
      () => configFromJSON(JSON.stringify(obj)),
      "hierAgent.nProposalz",
      /unknown config key "hierAgent.nProposalz"/,
    );
    const obj2 = JSON.parse(configToJSON(c)) as Record<string, Record<string, unknown>>;
    obj2.buffer!.bufferSize = "big";
    throwsConfig(
      () => configFromJSON(JSON.stringify(obj2)),
      "buffer.bufferSize",
      /buffer.bufferSize: .*expected number/,
    );
    throwsConfig(() => configFromJSON("{"), undefined, /not valid JSON/);
    throwsConfig(() => configFromJSON("[1]"), undefined, /must contain a JSON object/);
  });

  it("missing keys (older files) take their defaults; withSets re-validates", () => {
    const back: AlmaConfig = configFromJSON(
      '{"method":"alma","agent":{"subtaskCond":"mask"},"hierAgent":{"taskAllocation":"aql"}}',
    );
    assert.equal(back.hierAgent.nProposals, 32);
    const more = withSets(back, ["hierAgent.nProposals=4"]);
    assert.equal(more.hierAgent.nProposals, 4);
    assert.equal(back.hierAgent.nProposals, 32, "the original is untouched");
    throwsConfig(
      () => withSets(back, ["hierAgent.taskAllocation=none"]),
      "hierAgent.taskAllocation",
      /exactly when/,
    );
  });
});

describe("schedules (spec §5, §8.5)", () => {
  it("parse start-finish-fraction and anneal linearly to int(fraction·t_max)", () => {
    const s = parseSchedule("1.0-0.05-0.2", 1000)!;
    assert.deepEqual(s, { start: 1, finish: 0.05, endT: 200 });
    assert.equal(scheduleValue(s, 0), 1);
    assert.ok(Math.abs(scheduleValue(s, 100) - 0.525) < 1e-12);
    assert.ok(Math.abs(scheduleValue(s, 200) - 0.05) < 1e-12);
    assert.equal(scheduleValue(s, 10_000), 0.05);
    assert.equal(parseSchedule("", 1000), null);
    assert.equal(scheduleValue(parseSchedule("0.5-0.1-0", 1000), 0), 0.1);
    assert.throws(() => parseSchedule("1-2", 10), /bad schedule string/);
    assert.deepEqual(parseSchedule("1e-1-0-0.5", 100), { start: 0.1, finish: 0, endT: 50 });
  });

  it("lengthening a run (alma resume --steps) keeps every schedule where it was in env steps", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000_000 }),
        fc.integer({ min: 1, max: 50_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (tMax, extra, fa, fp) => {
          const c = resolveConfig({
            method: "alma",
            steps: tMax,
            sets: [`hierAgent.allocEps=1-0-${fa}`, `hierAgent.propAllocEps=1-0.05-${fp}`],
          });
          const longer = withRunLength(c, tMax + extra);
          assert.equal(longer.run.tMax, tMax + extra);
          for (const t of [0, 1, tMax >> 1, tMax, tMax + extra]) {
            assert.equal(allocEpsAt(longer, t), allocEpsAt(c, t));
            assert.equal(propAllocEpsAt(longer, t), propAllocEpsAt(c, t));
            assert.equal(epsilonAt(longer, t), epsilonAt(c, t));
          }
        },
      ),
      { numRuns: 300 },
    );
    const off = resolveConfig({ method: "alma", steps: 1000, sets: ["hierAgent.propAllocEps="] });
    assert.equal(withRunLength(off, 5000).hierAgent.propAllocEps, "");
  });

  it("low-level epsilon", () => {
    const c = resolveConfig();
    assert.equal(epsilonAt(c, 0), 1);
    assert.ok(Math.abs(epsilonAt(c, 1_000_000) - 0.525) < 1e-12);
    assert.equal(epsilonAt(c, 5_000_000), 0.05);
  });
});
