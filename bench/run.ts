/**
 * `npm run bench`: every benchmark of the project, one JSON line each, then a readable summary.
 * Speed and memory targets live here, never in timed tests.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
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
// The whole training loop, short: no full buffer (`alma bench loop --full-buffer` for that). Each
// in a fresh process, so that its memory figures are not inflated by the benchmarks above.
const loopScript = fileURLToPath(new URL("./loop.js", import.meta.url));
for (const method of ["aqmix", "alma"]) {
  const child = spawnSync(
    process.execPath,
    [loopScript, "--method", method, "--collections", "2"],
    { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" },
  );
  if (child.status !== 0) throw new Error(`bench loop --method ${method} failed (${child.status})`);
  results.push({ bench: "loop", ...JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") });
  console.log(JSON.stringify(results.at(-1)));
}
console.log("\nsummary");
for (const r of results) {
  const figure =
    r["bench"] === "env"
      ? `${Math.round(Number(r["stepsPerSec"])).toLocaleString("en-US")} steps/s`
      : r["bench"] === "loop"
        ? `${Number(r["loopStepsPerSec"]).toFixed(1)} env steps/s, RSS ${Number(r["rssMiB"]).toFixed(0)} MiB`
        : `${Number(r["lowLevelSecondsPerIteration"]).toFixed(3)} s/iteration`;
  const label = r["bench"] === "loop" ? r["method"] : r["scenario"];
  console.log(`  ${String(r["bench"]).padEnd(8)} ${String(label).padEnd(12)} ${figure}`);
}
