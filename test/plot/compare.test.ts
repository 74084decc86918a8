/**
 * `compareRuns` on the synthetic 2 methods × 3 seeds experiment: the computed curves, then the
 * SVG itself (one band and one line per method, in the method's colour, at the right means), and
 * the PNG (valid, right size, text actually drawn with the bundled font).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Resvg } from "@resvg/resvg-js";
import {
  type CompareResult,
  compareRuns,
  figurePaths,
  PALETTE,
  resvgOptions,
} from "../../src/plot/index.js";
import { ALMA_SUCCESS, makeExperiment } from "./fixtures.js";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `expected ${b}, got ${a}`);

/** Hand-computed curves of the fixture (see fixtures.ts and the comments below). */
const EXPECTED = {
  alma: [
    { t_env: 0, mean: 0.1, std: Math.sqrt(0.02), n: 3 }, // 0, 0, .3
    { t_env: 100, mean: 0.3, std: Math.sqrt(0.02 / 3), n: 3 }, // .2, .4, .3
    { t_env: 200, mean: 0.5, std: Math.sqrt(0.02 / 3), n: 3 }, // .4, .6, .5
    { t_env: 300, mean: 0.7, std: Math.sqrt(0.02), n: 3 }, // .6, .9, .6
  ],
  // copa seeds: s0 at 0,100,200,300 = 0,.1,.2,.3; s1 at 0,150,300 = 0,.3,.3; s2 at 0,100,200 = .2.
  copa: [
    { t_env: 0, mean: 0.2 / 3, std: Math.sqrt(0.08 / 9), n: 3 }, // 0, 0, .2
    { t_env: 100, mean: 0.5 / 3, std: Math.sqrt(0.02 / 9), n: 3 }, // .1, s1 interp .2, .2
    { t_env: 150, mean: 0.65 / 3, std: Math.sqrt(0.035 / 9), n: 3 }, // s0 interp .15, .3, s2 interp .2
    { t_env: 200, mean: 0.7 / 3, std: Math.sqrt(0.02 / 9), n: 3 }, // .2, s1 interp .3, .2
    { t_env: 300, mean: 0.3, std: 0, n: 2 }, // s2 ended at 200: 100 steps > its 50-step tolerance
  ],
};

/** Attributes of every `<path>` whose aria-roledescription is `role`. */
function marks(
  svg: string,
  role: string,
): { label: string; d: string; fill?: string; stroke?: string }[] {
  const out = [];
  for (const m of svg.matchAll(/<path [^>]*>/g)) {
    const tag = m[0];
    if (!tag.includes(`aria-roledescription="${role}"`)) continue;
    const attr = (name: string) => tag.match(new RegExp(` ${name}="([^"]*)"`))?.[1];
    out.push({
      label: attr("aria-label") ?? "",
      d: attr("d") ?? "",
      fill: attr("fill"),
      stroke: attr("stroke"),
    });
  }
  return out;
}

/** The vertices of an SVG path made of M/L commands (Vega's linear lines and areas). */
function vertices(d: string): [number, number][] {
  return [...d.matchAll(/[ML](-?[\d.e-]+),(-?[\d.e-]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** The data → pixel map of the y axis, fitted from its outermost tick marks and their labels. */
function yAxisMap(svg: string): (px: number) => number {
  const start = svg.indexOf('aria-label="Y-axis');
  assert.ok(start >= 0, "the SVG has a y axis");
  const axis = svg.slice(start, svg.indexOf("role-axis-title", start));
  const tickGroup = axis.slice(axis.indexOf("role-axis-tick"), axis.indexOf("role-axis-label"));
  const ticks = [...tickGroup.matchAll(/translate\(0,(-?[\d.]+)\)/g)].map((m) => Number(m[1]));
  const labels = [...axis.slice(axis.indexOf("role-axis-label")).matchAll(/>([^<]*)<\/text>/g)].map(
    (m) => Number(m[1].replace("\u2212", "-")),
  );
  assert.equal(ticks.length, labels.length);
  assert.ok(ticks.length >= 2);
  const [p0, p1] = [ticks[0], ticks[ticks.length - 1]];
  const [v0, v1] = [labels[0], labels[labels.length - 1]];
  return (px) => v0 + ((px - p0) * (v1 - v0)) / (p1 - p0);
}

/** Texts of the SVG's `<text>` elements inside groups of the given Vega role class. */
function texts(svg: string, roleClass: string): string[] {
  const out: string[] = [];
  for (const g of svg.split(`class="mark-text ${roleClass}"`).slice(1)) {
    const body = g.slice(0, g.indexOf("</g>"));
    for (const m of body.matchAll(/>([^<]+)<\/text>/g)) out.push(m[1]);
  }
  return out;
}

describe("plot: compareRuns", () => {
  let root = "";
  let res: CompareResult;
  let svg = "";

  before(async () => {
    root = makeExperiment();
    res = await compareRuns([root], { out: join(root, "figs", "success.png") });
    svg = readFileSync(res.files[0], "utf8");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("groups by method (config, else parent dir) and computes the hand-computed means/stds", () => {
    assert.deepEqual(
      res.groups.map((g) => [g.name, g.runs]),
      [
        ["alma", 3],
        ["copa", 3],
      ],
    );
    for (const g of res.groups) {
      const want = EXPECTED[g.name as keyof typeof EXPECTED];
      assert.equal(g.points.length, want.length, g.name);
      g.points.forEach((p, i) => {
        assert.equal(p.t_env, want[i].t_env);
        assert.equal(p.n, want[i].n);
        close(p.mean, want[i].mean);
        close(p.std, want[i].std);
      });
    }
    // Cross-check one alma point against the fixture's raw numbers.
    const finals = ALMA_SUCCESS.map((s) => s[3]);
    close(res.groups[0].points[3].mean, finals.reduce((a, b) => a + b) / 3);
  });

  it("writes both the SVG and the PNG, whichever extension was asked for", () => {
    assert.deepEqual(res.files, [
      join(root, "figs", "success.svg"),
      join(root, "figs", "success.png"),
    ]);
    for (const f of res.files) assert.ok(existsSync(f), f);
    assert.deepEqual(figurePaths("a/b.svg"), ["a/b.svg", "a/b.png"]);
    assert.deepEqual(figurePaths("a/b"), ["a/b.svg", "a/b.png"]);
    assert.throws(() => figurePaths("a/b.pdf"), /\.svg or \.png/);
  });

  it("the SVG has one band and one line per method, one colour per method", () => {
    const bands = marks(svg, "errorband");
    const lines = marks(svg, "line mark");
    assert.deepEqual(
      bands.map((b) => b.label),
      ["alma ±1 std", "copa ±1 std"],
    );
    assert.deepEqual(
      lines.map((l) => l.label),
      ["alma mean", "copa mean"],
    );
    assert.deepEqual(
      lines.map((l) => l.stroke),
      [PALETTE[0], PALETTE[1]],
    );
    assert.deepEqual(
      bands.map((b) => b.fill),
      [PALETTE[0], PALETTE[1]],
    );
    // Counting by colour too: each method's colour strokes exactly one curve.
    for (const c of [PALETTE[0], PALETTE[1]])
      assert.equal(lines.filter((l) => l.stroke === c).length, 1);
  });

  it("the SVG's curves sit at the computed means and its bands span mean ± std", () => {
    const toValue = yAxisMap(svg);
    const lines = marks(svg, "line mark");
    const bands = marks(svg, "errorband");
    res.groups.forEach((g, k) => {
      const line = vertices(lines[k].d);
      assert.equal(line.length, g.points.length, `${g.name}: one vertex per grid point`);
      line.forEach(([, y], i) => {
        close(toValue(y), g.points[i].mean, 0.005);
      });
      // A Vega area goes along one edge and back along the other.
      const band = vertices(bands[k].d);
      const n = g.points.length;
      assert.equal(band.length, 2 * n);
      for (let i = 0; i < n; i++) {
        const edge = [toValue(band[i][1]), toValue(band[2 * n - 1 - i][1])].sort((a, b) => a - b);
        const p = g.points[i];
        close(edge[0], p.mean - p.std, 0.005);
        close(edge[1], p.mean + p.std, 0.005);
      }
    });
    // x grows with t_env along each curve.
    for (const l of lines) {
      const xs = vertices(l.d).map(([x]) => x);
      assert.deepEqual(
        xs,
        [...xs].sort((a, b) => a - b),
      );
    }
  });

  it("the SVG has the legend, axis titles and a default title naming the metric", () => {
    assert.deepEqual(texts(svg, "role-legend-label"), ["alma", "copa"]);
    assert.deepEqual(texts(svg, "role-legend-title"), ["method"]);
    assert.deepEqual(texts(svg, "role-axis-title").sort(), ["env steps", "test/success"]);
    assert.deepEqual(texts(svg, "role-title-text"), ["test/success"]);
  });

  it("the PNG is a valid PNG at twice the SVG size, of non-trivial size", () => {
    const png = readFileSync(res.files[1]);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
    const svgW = Number(svg.match(/<svg[^>]* width="(\d+)"/)?.[1]);
    const svgH = Number(svg.match(/<svg[^>]* height="(\d+)"/)?.[1]);
    assert.equal(png.readUInt32BE(16), 2 * svgW);
    assert.equal(png.readUInt32BE(20), 2 * svgH);
    assert.ok(
      statSync(res.files[1]).size > 20_000,
      `PNG only ${statSync(res.files[1]).size} bytes`,
    );
  });

  it("the bundled font draws text without any system font", () => {
    const svgText =
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30">' +
      '<text x="4" y="22" font-family="DejaVu Sans, sans-serif" font-size="20" fill="#000">env steps</text></svg>';
    const { pixels } = new Resvg(svgText, resvgOptions(1)).render();
    let dark = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 128) dark++;
    assert.ok(dark > 100, `only ${dark} dark pixels: text not drawn`);
  });

  it("groupBy run: one curve per run directory, labelled by the shortest distinct path tail", async () => {
    const r = await compareRuns([root], { out: join(root, "figs", "by-run.svg"), groupBy: "run" });
    // The fixture has A/seed0..2 and copa/seed0..2: every basename clashes once, so each label
    // takes its parent too; a run is never averaged with another one.
    assert.deepEqual(
      r.groups.map((g) => [g.name, g.runs]),
      [
        ["A/seed0", 1],
        ["A/seed1", 1],
        ["A/seed2", 1],
        ["copa/seed0", 1],
        ["copa/seed1", 1],
        ["copa/seed2", 1],
      ],
    );
    // copa/seed2 alone: its own success values, std 0 (no averaging with the other seeds).
    const copa2 = r.groups[5].points;
    assert.deepEqual(
      copa2.map((p) => [p.t_env, p.mean, p.std]),
      [
        [0, 0.2, 0],
        [100, 0.2, 0],
        [200, 0.2, 0],
      ],
    );
    // Distinct basenames need no parent.
    const two = await compareRuns([join(root, "A", "seed0"), join(root, "copa", "seed1")], {
      out: join(root, "figs", "two.svg"),
      groupBy: "run",
    });
    assert.deepEqual(
      two.groups.map((g) => g.name),
      ["seed0", "seed1"],
    );
  });

  it("groupBy dir, custom title, smoothing; a metric nobody logged is a clear error", async () => {
    const r = await compareRuns([root], {
      out: join(root, "figs", "by-dir.svg"),
      groupBy: "dir",
      title: "My figure",
      metric: "losses/q_loss",
      smooth: 0.5,
    });
    assert.deepEqual(
      r.groups.map((g) => g.name),
      ["A", "copa"],
    );
    assert.ok(readFileSync(r.files[0], "utf8").includes(">My figure</text>"));
    // alma's q_loss is 1, 1/2, 1/3, 1/4, 0.1 on every seed: smoothing per run, std 0.
    const first = r.groups[0].points;
    close(first[0].mean, 1);
    // EMA: acc = 0.5·1 = 0.5 → 0.5/(1−0.5) = 1; acc = 0.5·0.5 + 0.5·0.5 = 0.5 → 0.5/(1−0.25) = 2/3.
    close(first[1].mean, 2 / 3);
    close(first[1].std, 0);
    await assert.rejects(
      compareRuns([root], { out: join(root, "x.svg"), metric: "test/nope" }),
      /no run logged metric "test\/nope".*test\/success/,
    );
  });
});
