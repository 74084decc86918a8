/**
 * battle-spread (paper Fig. 6a): binning episodes by army spread, aggregation over seeds against
 * hand-computed numbers, the figure (one curve per method), and the experiment writing
 * spread.json / spread.svg|png / the results.md section from its close-armies evaluations.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { EvalSpec } from "../../src/experiments/recipes.js";
import { type EvalExecutor, type RunExecutor, runExperiment } from "../../src/experiments/run.js";
import {
  aggregateSpread,
  binSuccess,
  SPREAD_AXIS_TITLE,
  type SpreadEpisode,
  spreadBin,
  spreadSpec,
  spreadTable,
} from "../../src/experiments/spread.js";
import { PALETTE, vegaLiteToSvg } from "../../src/plot/index.js";
import { writeFileAtomic } from "../../src/util/fs.js";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);

/** Episodes from `[spread, battle_won]` pairs. */
const eps = (xs: [number, number][]): SpreadEpisode[] =>
  xs.map(([spread, won]) => ({ stats: { battle_won: won, spread, ep_length: 10 } }));

// alma seed 0 by bin: b0 {1,0}, b1 {1}, b2 {1,0}, b3 -, b4 {1,1}
// alma seed 1 by bin: b0 {0}, b1 {1,0}, b2 -, b3 {1}, b4 {0,1}
const ALMA = [
  eps([
    [0.05, 1],
    [0.1, 0],
    [0.3, 1],
    [0.5, 1],
    [0.55, 0],
    [0.95, 1],
    [1, 1],
  ]),
  eps([
    [0, 0],
    [0.2, 1],
    [0.39, 0],
    [0.65, 1],
    [0.8, 0],
    [0.99, 1],
  ]),
];
// refil seed 0: b0 {0,1}; seed 1: b4 {1}
const REFIL = [
  eps([
    [0.1, 0],
    [0.15, 1],
  ]),
  eps([[0.9, 1]]),
];

/** Hand-computed [mean, std, seeds, episodes] per bin (mean ± population std over seeds). */
const EXPECTED: Record<string, [number, number, number, number][]> = {
  alma: [
    [0.25, 0.25, 2, 3], // seeds .5, 0
    [0.75, 0.25, 2, 3], // 1, .5
    [0.5, 0, 1, 2], // .5 (seed 1 empty)
    [1, 0, 1, 1], // 1 (seed 0 empty)
    [0.75, 0.25, 2, 4], // 1, .5
  ],
  refil: [
    [0.5, 0, 1, 2],
    [Number.NaN, Number.NaN, 0, 0],
    [Number.NaN, Number.NaN, 0, 0],
    [Number.NaN, Number.NaN, 0, 0],
    [1, 0, 1, 1],
  ],
};

/** Attributes of every `<path>` whose aria-roledescription is `role`. */
function marks(svg: string, role: string): { label: string; d: string; stroke?: string }[] {
  const out = [];
  for (const m of svg.matchAll(/<path [^>]*>/g)) {
    const tag = m[0];
    if (!tag.includes(`aria-roledescription="${role}"`)) continue;
    const attr = (name: string) => tag.match(new RegExp(` ${name}="([^"]*)"`))?.[1];
    out.push({ label: attr("aria-label") ?? "", d: attr("d") ?? "", stroke: attr("stroke") });
  }
  return out;
}

describe("battle-spread: success vs army spread", () => {
  it("bins spread into 5 equal-width bins over [0, 1], the last one closed", () => {
    const cases: [number, number][] = [
      [0, 0],
      [0.1999, 0],
      [0.2, 1],
      [0.5, 2],
      [0.7999, 3],
      [0.8, 4],
      [0.99, 4],
      [1, 4],
      [1.5, 4],
      [-0.1, 0],
    ];
    for (const [x, k] of cases) assert.equal(spreadBin(x), k, `spread ${x}`);
    assert.throws(() => spreadBin(Number.NaN), /spread must be a number/);
    assert.throws(() => binSuccess([{ stats: { battle_won: 1 } }]), /stats\.spread/);
  });

  it("per seed success per bin, then mean ± std over seeds, equals the hand-computed numbers", () => {
    const s0 = binSuccess(ALMA[0]);
    assert.deepEqual(
      s0.map((b) => b.n),
      [2, 1, 2, 0, 2],
    );
    assert.deepEqual(
      s0.map((b) => b.success),
      [0.5, 1, 0.5, Number.NaN, 1],
    );
    const curves = aggregateSpread([
      ["alma", ALMA],
      ["refil", REFIL],
    ]);
    assert.deepEqual(
      curves.map((c) => [c.method, c.seeds]),
      [
        ["alma", 2],
        ["refil", 2],
      ],
    );
    for (const c of curves) {
      c.bins.forEach((b, k) => {
        const [mean, std, seeds, episodes] = EXPECTED[c.method][k];
        close(b.lo, k / 5);
        close(b.hi, (k + 1) / 5);
        close(b.centre, [0.1, 0.3, 0.5, 0.7, 0.9][k]);
        if (Number.isNaN(mean)) assert.ok(Number.isNaN(b.mean) && Number.isNaN(b.std));
        else {
          close(b.mean, mean);
          close(b.std, std);
        }
        assert.equal(b.seeds, seeds, `${c.method} bin ${k}`);
        assert.equal(b.episodes, episodes, `${c.method} bin ${k}`);
      });
    }
    const table = spreadTable(curves);
    assert.match(table, /\| method \| seeds \| \[0\.0, 0\.2\) \|.*\| \[0\.8, 1\.0\] \|/);
    assert.match(
      table,
      /\| alma \| 2 \| 0\.250 ± 0\.250 \(3\) \| 0\.750 ± 0\.250 \(3\) \| 0\.500 ± 0\.000 \(2\) \| 1\.000 ± 0\.000 \(1\) \| 0\.750 ± 0\.250 \(4\) \|/,
    );
    assert.match(
      table,
      /\| refil \| 2 \| 0\.500 ± 0\.000 \(2\) \| — \| — \| — \| 1\.000 ± 0\.000 \(1\) \|/,
    );
  });

  it("the figure has one line and one band per method, in the method's colour", async () => {
    const curves = aggregateSpread([
      ["alma", ALMA],
      ["refil", REFIL],
    ]);
    const svg = await vegaLiteToSvg(spreadSpec(curves, "Fig. 6a"));
    const lines = marks(svg, "line mark");
    assert.deepEqual(
      lines.map((l) => l.label),
      ["alma mean", "refil mean"],
    );
    assert.deepEqual(
      lines.map((l) => l.stroke),
      [PALETTE[0], PALETTE[1]],
    );
    // one vertex per non-empty bin
    assert.deepEqual(
      lines.map((l) => [...l.d.matchAll(/[ML]/g)].length),
      [5, 2],
    );
    assert.deepEqual(
      marks(svg, "errorband").map((b) => b.label),
      ["alma ±1 std", "refil ±1 std"],
    );
    assert.ok(svg.includes(SPREAD_AXIS_TITLE), "x-axis title");
    assert.ok(svg.includes(">success<"), "y-axis title");
  });

  it("battle-spread evaluates close armies over 160 episodes and writes spread.json, the figure and the table", async () => {
    const out = mkdtempSync(join(tmpdir(), "alma-spread-"));
    try {
      const executor: RunExecutor = async (_spec, dir) => {
        writeFileAtomic(
          join(dir, "metrics.jsonl"),
          '{"t_env":0,"test/success":0}\n{"t_env":100,"test/success":0.5}\n',
        );
      };
      const calls: { spec: EvalSpec; sets: string[] }[] = [];
      const evaluator: EvalExecutor = async (spec, _run, _actors, sets, episodesOut) => {
        calls.push({ spec, sets });
        const data = (spec.run === "alma" ? ALMA : REFIL)[spec.seed];
        writeFileAtomic(episodesOut, `${data.map((e) => JSON.stringify(e)).join("\n")}\n`);
        return { "test/success": 0.5 };
      };
      const opts = {
        recipe: "battle-spread",
        scale: "smoke" as const,
        seeds: 2,
        out,
        executor,
        evaluator,
        log: () => {},
      };
      const res = await runExperiment(opts);
      assert.equal(calls.length, 4);
      assert.ok(
        calls.every(
          (c) =>
            c.spec.episodes === 160 &&
            c.spec.label === `${c.spec.run}-close-armies` &&
            c.sets.join() === "env.battle.spreadArmies=false",
        ),
      );
      for (const f of ["spread.json", "spread.svg", "spread.png", "results.md"])
        assert.ok(res.files.includes(join(out, f)) && existsSync(join(out, f)), f);
      const json = JSON.parse(readFileSync(join(out, "spread.json"), "utf8"));
      assert.equal(json.bins, 5);
      assert.deepEqual(
        json.curves.map((c: { method: string }) => c.method),
        ["alma", "refil"],
      );
      // NaN (empty bins) is written as null
      assert.deepEqual(
        json.curves[1].bins.map((b: { mean: number | null }) => b.mean),
        [0.5, null, null, null, 1],
      );
      assert.deepEqual(
        json.curves[0].bins.map((b: { mean: number }) => b.mean),
        EXPECTED.alma.map((e) => e[0]),
      );
      const svg = readFileSync(join(out, "spread.svg"), "utf8");
      assert.equal(marks(svg, "line mark").length, 2);
      const md = readFileSync(join(out, "results.md"), "utf8");
      assert.match(md, /## Success vs army spread/);
      assert.match(md, /\| alma \| 2 \| 0\.250 ± 0\.250 \(3\) \|/);
      assert.match(md, /alma-close-armies \| 0\.500 ± 0\.000 \| 2/);

      // Finished evaluations are not run again; one that lost its episodes file is.
      rmSync(join(out, "evals", "refil-close-armies", "seed-1.episodes.jsonl"));
      calls.length = 0;
      await runExperiment(opts);
      assert.deepEqual(
        calls.map((c) => `${c.spec.label}/${c.spec.seed}`),
        ["refil-close-armies/1"],
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
