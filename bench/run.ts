/**
 * `npm run bench`: every benchmark of the project, one JSON line each, then a readable summary.
 * Speed and memory targets live here, never in timed tests.
 */
import { benchEnv } from "./env.js";
import { benchLearner } from "./learner.js";

const results: Record<string, unknown>[] = [];
for (const scenario of ["2-5a_2-5b", "2-8a_2-8b", "24a_24b"]) {
  const r = benchEnv({ env: "savethecity", scenario, steps: 2_000_000 });
  results.push({ bench: "env", ...r });
  console.log(JSON.stringify(results.at(-1)));
}
for (const cond of ["mask", null] as const) {
  const r = await benchLearner({ iterations: 5, subtaskCond: cond });
  results.push({ bench: "learner", scenario: cond ?? "none", ...r });
  console.log(JSON.stringify(results.at(-1)));
}
console.log("\nsummary");
for (const r of results) {
  const figure =
    r["bench"] === "env"
      ? `${Math.round(Number(r["stepsPerSec"])).toLocaleString("en-US")} steps/s`
      : `${Number(r["lowLevelSecondsPerIteration"]).toFixed(3)} s/iteration`;
  console.log(`  ${String(r["bench"]).padEnd(8)} ${String(r["scenario"]).padEnd(12)} ${figure}`);
}
