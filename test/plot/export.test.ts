/** `metrics.csv` export and the markdown results table, on the synthetic experiment. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { formatDuration, resultsTable, writeMetricsCsv } from "../../src/plot/index.js";
import { makeExperiment } from "./fixtures.js";

describe("plot: exports", () => {
  let root = "";
  before(() => {
    root = makeExperiment();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("writes metrics.csv: t_env first, other keys sorted, blanks for missing/null, RFC 4180 quoting", () => {
    const run = join(root, "A", "seed0");
    const path = writeMetricsCsv(run);
    assert.equal(path, join(run, "metrics.csv"));
    const lines = readFileSync(path, "utf8").split("\n");
    assert.equal(lines.pop(), "", "ends with a newline");
    assert.deepEqual(lines, [
      "t_env,losses/q_loss,phase,test/success,wall_s",
      "0,1,,0,30",
      "100,0.5,,0.2,60",
      `200,${1 / 3},,0.4,90`,
      "300,0.25,,0.6,120",
      '310,0.1,"train, late",,',
    ]);
    // Atomic write: no temporary file left behind.
    assert.deepEqual(
      readdirSync(run).filter((f) => f.includes(".tmp")),
      [],
    );
    // A null value is an empty cell.
    const copa1 = readFileSync(writeMetricsCsv(join(root, "copa", "seed1")), "utf8").split("\n");
    assert.deepEqual(copa1.slice(0, 5), [
      "t_env,test/success,time_s",
      "0,0,",
      "150,0.3,",
      "300,0.3,40",
      "300,,",
    ]);
  });

  it("resultsTable: final mean ± std per method, seeds, steps, wall time", () => {
    const table = resultsTable([root], { metric: "test/success" });
    assert.equal(
      table,
      [
        "| method | final test/success (mean ± std) | seeds | env steps | wall time |",
        "| --- | --- | --- | --- | --- |",
        // finals .6, .9, .6 → 0.7 ± √0.02 = 0.141; last t_env 310; wall_s 120, 180, 240 → 180 s.
        "| alma | 0.700 ± 0.141 | 3 | 310 | 3 min 00 s |",
        // finals .3, .3 (the null after it is skipped), .2 → 0.2667 ± √(0.02/9) = 0.047;
        // seed2 stopped at 200; time_s 30, 40, 50 → 40 s.
        "| copa | 0.267 ± 0.047 | 3 | 200–300 | 40.0 s |",
        "",
      ].join("\n"),
    );
  });

  it("resultsTable: runs missing the metric or wall time are shown as such", () => {
    const table = resultsTable([root], { metric: "losses/q_loss", groupBy: "dir", digits: 2 });
    const rows = table.trim().split("\n").slice(2);
    // alma's last q_loss is 0.1 on every seed; only copa seed0 logged q_loss.
    assert.equal(rows[0], "| A | 0.10 ± 0.00 | 3 | 310 | 3 min 00 s |");
    assert.equal(rows[1], "| copa | 0.50 ± 0.00 | 1 of 3 | 200–300 | 40.0 s |");
    const none = resultsTable([join(root, "copa")], { metric: "nope" })
      .trim()
      .split("\n")[2];
    assert.equal(none, "| copa | — | 0 of 3 | 200–300 | 40.0 s |");
    // groupBy run: a row per run, headed "run".
    const byRun = resultsTable([join(root, "copa")], { metric: "test/success", groupBy: "run" })
      .trim()
      .split("\n");
    assert.match(byRun[0], /^\| run \| final test\/success/);
    assert.deepEqual(byRun.slice(2), [
      "| seed0 | 0.300 ± 0.000 | 1 | 300 | 30.0 s |",
      "| seed1 | 0.300 ± 0.000 | 1 | 300 | 40.0 s |",
      "| seed2 | 0.200 ± 0.000 | 1 | 200 | 50.0 s |",
    ]);
  });

  it("formatDuration", () => {
    assert.equal(formatDuration(42), "42.0 s");
    assert.equal(formatDuration(725), "12 min 05 s");
    assert.equal(formatDuration(3 * 3600 + 7 * 60 + 10), "3 h 07 min");
  });
});
