/**
 * `alma demo`: the README's main job. A short ALMA training run on SaveTheCity, then a greedy
 * evaluation that records replays, then the learning-curve figure, and a one-line result.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { compareRuns } from "../plot/index.js";
import { evalCommand, trainCommand } from "./train.js";

export interface DemoOptions {
  method: string;
  steps: number;
  out: string;
  seed: number;
}

export async function demoCommand(o: DemoOptions): Promise<void> {
  if (existsSync(o.out)) rmSync(o.out, { recursive: true, force: true });
  await trainCommand({
    env: "savethecity",
    method: o.method,
    scale: "cpu",
    steps: o.steps,
    seed: o.seed,
    out: o.out,
    // A demo-sized run: test and log often, small test phases.
    set: [
      `run.testInterval=${Math.max(500, Math.floor(o.steps / 8))}`,
      "run.testNepisode=16",
      `run.logInterval=${Math.max(250, Math.floor(o.steps / 16))}`,
      `run.runnerLogInterval=${Math.max(250, Math.floor(o.steps / 16))}`,
      `run.learnerLogInterval=${Math.max(250, Math.floor(o.steps / 16))}`,
      `run.saveModelInterval=${o.steps}`,
    ],
  });
  const stats = await evalCommand({ run: o.out, episodes: 32, json: false, record: 3 });
  const fig = await compareRuns([o.out], {
    metric: "test/return",
    out: join(o.out, "curve.svg"),
    title: `${o.method} on SaveTheCity 2-5a_2-5b (demo)`,
  });
  process.stdout.write(
    [
      "",
      `RESULT ${o.method} on SaveTheCity 2-5a_2-5b after ${Number(stats["t_env"]).toLocaleString("en-US")} env steps: greedy success ${(100 * stats["test/success"]).toFixed(1)}%, return ${stats["eval_env_metrics/return_mean"].toFixed(2)} (random play: about -43)`,
      `  learning curve: ${fig.files.join(" and ")}`,
      `  replays:        alma view ${o.out}   (or: node dist/src/cli/main.js view ${o.out})`,
      `  metrics:        ${join(o.out, "metrics.jsonl")}`,
      "",
    ].join("\n"),
  );
}
