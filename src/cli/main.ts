#!/usr/bin/env node
/** The `alma` command line. Each subcommand lives in its own module; this file only wires flags. */
import { Command, Option } from "commander";
import { benchEnv } from "../../bench/env.js";
import { envNames } from "../envs/registry.js";
import { compareRuns, resultsTable } from "../plot/index.js";
import { serveViewer } from "../view/server.js";
import { parseFloatFlag, parseIntFlag } from "./options.js";
import { play } from "./play.js";

// Piping into `head` closes stdout early: end quietly instead of crashing on EPIPE.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const program = new Command();
program
  .name("alma")
  .description("ALMA: hierarchical multi-agent reinforcement learning for composite tasks")
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(`alma: ${str}`) });

const envOption = () =>
  new Option("--env <name>", `environment (${envNames().join(", ")})`).default("savethecity");

program
  .command("play")
  .description("run one episode and show it (text frames, or one SVG per step)")
  .addOption(envOption())
  .option("--scenario <name>", "scenario family (default: the environment's default)")
  .option("--seed <n>", "environment seed", parseIntFlag(0), 0)
  .addOption(
    new Option("--policy <policy>", "how agents act")
      .choices(["random", "heuristic"])
      .default("random"),
  )
  .option("--svg <dir>", "also write one SVG frame per step into this directory")
  .option(
    "--delay <ms>",
    "animate in the terminal with this many milliseconds per frame",
    parseIntFlag(0),
    0,
  )
  .option("--quiet", "only print the final frame and the summary", false)
  .action(async (o) => {
    await play({
      env: o.env,
      scenario: o.scenario,
      seed: o.seed,
      policy: o.policy,
      svg: o.svg,
      delay: o.delay,
      quiet: o.quiet,
    });
  });

program
  .command("compare")
  .description("draw learning curves (mean ± std over seeds, one colour per method) as SVG and PNG")
  .argument("<dirs...>", "run directories, or experiment directories containing runs")
  .option("--metric <name>", "metric to plot", "test/success")
  .option("--out <file>", "output figure (.svg or .png; both are written)", "compare.svg")
  .option("--title <text>", "figure title")
  .option("--smooth <w>", "exponential smoothing weight in [0, 1)", parseFloatFlag(0, 0.999), 0)
  .action(async (dirs: string[], o) => {
    const res = await compareRuns(dirs, {
      metric: o.metric,
      out: o.out,
      title: o.title,
      smooth: o.smooth,
    });
    console.log(resultsTable(dirs, { metric: o.metric }));
    console.log(`wrote ${res.files.join(" and ")}`);
  });

program
  .command("view")
  .description("serve a local web page that plays back recorded episodes (alma eval --record N)")
  .argument("<target>", "a run directory, an experiment directory, or one .replay.json.gz file")
  .option("--port <n>", "port on 127.0.0.1 (0 = any free port)", parseIntFlag(0, 65535), 0)
  .action(async (target: string, o) => {
    const server = await serveViewer(target, { port: o.port });
    console.log(`replay viewer at ${server.url} (Ctrl-C to stop)`);
    process.once("SIGINT", () => {
      void server.close().then(() => process.exit(0));
    });
  });

const bench = program.command("bench").description("benchmarks (environment throughput, learner)");
bench
  .command("env")
  .description(
    "step random available actions, building entities, masks and available actions every step",
  )
  .addOption(envOption())
  .option("--scenario <name>", "scenario family")
  .option("--steps <n>", "timed steps", parseIntFlag(1), 1_000_000)
  .option("--seed <n>", "seed", parseIntFlag(0), 0)
  .option("--json", "print one JSON object", false)
  .action((o) => {
    const r = benchEnv({ env: o.env, scenario: o.scenario, steps: o.steps, seed: o.seed });
    if (o.json) console.log(JSON.stringify(r));
    else
      console.log(
        `${r.env} ${r.scenario}: ${r.steps} steps in ${r.seconds.toFixed(3)} s = ${Math.round(r.stepsPerSec).toLocaleString("en-US")} steps/s (with entities, masks, available actions)`,
      );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`alma: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
