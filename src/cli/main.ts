#!/usr/bin/env node
/** The `alma` command line. Each subcommand lives in its own module; this file only wires flags. */
import { join } from "node:path";
import { Argument, Command, Option } from "commander";
import { benchEnv } from "../../bench/env.js";
import { benchLearner } from "../../bench/learner.js";
import { benchLoop, formatBenchLoop } from "../../bench/loop.js";
import { configToJSON, resolveConfig } from "../config/resolve.js";
import { METHOD_NAMES, SCALE_NAMES } from "../config/schema.js";
import { listConfigKeys } from "../config/set.js";
import { envNames } from "../envs/registry.js";
import { EXPERIMENT_SCALES, RECIPE_NAMES } from "../experiments/recipes.js";
import { runExperiment } from "../experiments/run.js";
import { compareRuns, GROUP_BY_CHOICES, type GroupBy, resultsTable } from "../plot/index.js";
import { serveViewer } from "../view/server.js";
import { demoCommand } from "./demo.js";
import { parseFloatFlag, parseIntFlag } from "./options.js";
import { play } from "./play.js";
import { evalCommand, resumeCommand, trainCommand } from "./train.js";

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

const collect = (value: string, previous: string[]) => [...previous, value];

program
  .command("train")
  .description(
    "train a method on an environment; writes config.json, metrics.jsonl and checkpoints",
  )
  .addOption(envOption())
  .addOption(
    new Option("--method <name>", "method preset").choices([...METHOD_NAMES]).default("alma"),
  )
  .option("--scenario <name>", "scenario family (default: the environment's default)")
  .addOption(
    new Option(
      "--scale <scale>",
      "paper: the paper's run length and schedules; cpu: shrunk to --steps",
    )
      .choices([...SCALE_NAMES])
      .default("paper"),
  )
  .option("--steps <n>", "training env steps (t_max)", parseIntFlag(1))
  .option("--seed <n>", "seed", parseIntFlag(0), 0)
  .option("--out <dir>", "run directory (default runs/<env>-<scenario>-<method>-s<seed>)")
  .option(
    "--set <key=value>",
    "override a config key (repeatable), e.g. --set buffer.batchSize=16",
    collect,
    [],
  )
  .action(async (o) => {
    await trainCommand({
      env: o.env,
      method: o.method,
      scenario: o.scenario,
      scale: o.scale,
      steps: o.steps,
      seed: o.seed,
      out: o.out,
      set: o.set,
    });
  });

program
  .command("demo")
  .description(
    "a short training run on SaveTheCity, a recorded greedy evaluation, a learning-curve figure",
  )
  .addOption(
    new Option("--method <name>", "method preset").choices([...METHOD_NAMES]).default("alma"),
  )
  .option("--steps <n>", "training env steps", parseIntFlag(1), 6000)
  .option("--seed <n>", "seed", parseIntFlag(0), 0)
  .option("--out <dir>", "run directory (replaced)", "runs/demo")
  .action(async (o) => {
    await demoCommand({ method: o.method, steps: o.steps, out: o.out, seed: o.seed });
  });

program
  .command("config")
  .description(
    "print the resolved configuration of a method (JSON), or every config key with its type and default",
  )
  .addOption(envOption())
  .addOption(
    new Option("--method <name>", "method preset").choices([...METHOD_NAMES]).default("alma"),
  )
  .option("--scenario <name>", "scenario family")
  .addOption(
    new Option("--scale <scale>", "paper or cpu").choices([...SCALE_NAMES]).default("paper"),
  )
  .option("--steps <n>", "training env steps (t_max)", parseIntFlag(1))
  .option("--set <key=value>", "override a config key (repeatable)", collect, [])
  .option("--keys", "list every key (for --set) with its type and default", false)
  .action((o) => {
    if (o.keys) {
      for (const k of listConfigKeys()) {
        const type =
          "options" in k && k.options ? (k.options as readonly string[]).join("|") : k.type;
        console.log(
          `${k.path.padEnd(40)} ${String(type).padEnd(28)} ${JSON.stringify(k.defaultValue)}`,
        );
      }
      return;
    }
    process.stdout.write(
      configToJSON(
        resolveConfig({
          env: o.env,
          method: o.method,
          scenario: o.scenario,
          scale: o.scale,
          steps: o.steps,
          sets: o.set,
        }),
      ),
    );
  });

program
  .command("resume")
  .description("continue a run from its latest checkpoint")
  .requiredOption("--run <dir>", "run directory")
  .option(
    "--steps <n>",
    "lengthen the run to n env steps (above its t_max; schedules stay where they were)",
    parseIntFlag(1),
  )
  .action(async (o) => {
    await resumeCommand(o.run, o.steps);
  });

program
  .command("eval")
  .description("evaluate a checkpoint of a run greedily (the latest unless --checkpoint)")
  .requiredOption("--run <dir>", "run directory")
  .option(
    "--checkpoint <which>",
    "latest, best (highest greedy test success, then return) or a checkpoint's t_env",
    "latest",
  )
  .option("--episodes <n>", "greedy test episodes", parseIntFlag(1), 160)
  .option(
    "--record <n>",
    "record this many episodes as replays under RUN/replays (see alma view)",
    parseIntFlag(0),
    0,
  )
  .option("--actors-from <dir>", "use the low-level actors of another run (joint-training study)")
  .option("--seed <n>", "evaluation seed", parseIntFlag(0))
  .option(
    "--set <key=value>",
    "override a config key for this evaluation (repeatable)",
    collect,
    [],
  )
  .option("--json", "print one JSON object", false)
  .option("--episodes-out <file>", "write one JSON line per episode ({return, length, stats})")
  .option(
    "--trace <rows>",
    "print the first environment's first rows: its frame and every agent's utilities (best first, * = chosen)",
    parseIntFlag(1),
  )
  .option(
    "--diagnose",
    "report what agents do with their allocation (SaveTheCity, battle): action shares, and how many moves approach the allocated building / army",
    false,
  )
  .action(async (o) => {
    await evalCommand({
      trace: o.trace,
      diagnose: o.diagnose,
      run: o.run,
      episodes: o.episodes,
      json: o.json,
      record: o.record,
      checkpoint: o.checkpoint,
      actorsFrom: o.actorsFrom,
      seed: o.seed,
      set: o.set,
      episodesOut: o.episodesOut,
    });
  });

program
  .command("experiment")
  .description(
    "run a paper experiment (methods × seeds), resumable; writes a figure and results.md",
  )
  .addArgument(new Argument("<recipe>", "experiment").choices([...RECIPE_NAMES]))
  .addOption(
    new Option("--scale <scale>", "smoke (minutes), cpu (hours), paper (the paper's length)")
      .choices([...EXPERIMENT_SCALES])
      .default("smoke"),
  )
  .option("--seeds <n>", "seeds per method", parseIntFlag(1), 3)
  .option("--steps <n>", "env steps per run (default: the scale's)", parseIntFlag(1))
  .option("--out <dir>", "experiment directory (default experiments/<recipe>-<scale>)")
  .option("--jobs <n>", "runs at once, each in its own process", parseIntFlag(1, 64), 1)
  .action(async (name: string, o) => {
    const out = o.out ?? join("experiments", `${name}-${o.scale}`);
    const res = await runExperiment({
      recipe: name,
      scale: o.scale,
      seeds: o.seeds,
      steps: o.steps,
      out,
      jobs: o.jobs,
    });
    const failed = res.runs.filter((r) => r.error).length + res.evals.filter((e) => e.error).length;
    console.log(
      `${name}: ${res.runs.length - failed} of ${res.runs.length} runs finished; wrote ${res.files.join(", ")}`,
    );
    if (failed > 0) process.exitCode = 1;
  });

program
  .command("compare")
  .description("draw learning curves (mean ± std over seeds, one colour per method) as SVG and PNG")
  .argument("<dirs...>", "run directories, or experiment directories containing runs")
  .option("--metric <name>", "metric to plot", "test/success")
  .option("--out <file>", "output figure (.svg or .png; both are written)", "compare.svg")
  .option("--title <text>", "figure title")
  .option("--smooth <w>", "exponential smoothing weight in [0, 1)", parseFloatFlag(0, 0.999), 0)
  .addOption(
    new Option(
      "--group-by <rule>",
      "one curve per method (mean ± std over its seeds), per parent directory, or per run directory",
    )
      .choices(GROUP_BY_CHOICES)
      .default("method"),
  )
  .action(async (dirs: string[], o) => {
    const groupBy = o.groupBy as GroupBy;
    const res = await compareRuns(dirs, {
      metric: o.metric,
      out: o.out,
      title: o.title,
      smooth: o.smooth,
      groupBy,
    });
    console.log(resultsTable(dirs, { metric: o.metric, groupBy }));
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

const bench = program
  .command("bench")
  .description("benchmarks (environment throughput, learner, whole training loop)");
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

bench
  .command("learner")
  .description(
    "time one low-level training iteration at the paper's shapes (32 windows x 64 rows; SaveTheCity 2-5a_2-5b or battle S&Z)",
  )
  .addOption(
    new Option(
      "--cond <mode>",
      "subtask conditioning: mask (ALMA/heuristic), none (A-QMIX), full_obs",
    )
      .choices(["mask", "none", "full_obs"])
      .default("mask"),
  )
  .addOption(
    new Option(
      "--shapes <name>",
      "savethecity: 2-5a_2-5b; battle: S&Z 6-8sz with REFIL's imagined groups",
    )
      .choices(["savethecity", "battle"])
      .default("savethecity"),
  )
  .option("--iterations <n>", "timed iterations", parseIntFlag(1), 5)
  .option(
    "--micro <k>",
    "micro-batches (gradient accumulation: ~1/k peak memory)",
    parseIntFlag(1, 32),
    1,
  )
  .option("--json", "print one JSON object", false)
  .action(async (o) => {
    const r = await benchLearner({
      iterations: o.iterations,
      microBatches: o.micro,
      shapes: o.shapes,
      subtaskCond: o.cond === "none" ? null : o.cond,
      onIteration: o.json
        ? undefined
        : (i, sec) => process.stderr.write(`iteration ${i}: ${sec.toFixed(3)} s\n`),
    });
    if (o.json) console.log(JSON.stringify(r));
    else
      console.log(
        `low-level iteration (${o.shapes}, ${o.cond}${o.micro > 1 ? `, ${o.micro} micro-batches` : ""}): ${r.lowLevelSecondsPerIteration.toFixed(3)} s median, ${r.lowLevelGflops.toFixed(1)} GFLOP/s effective, compile ${r.compileSeconds.toFixed(1)} s, peak device ${r.peakDeviceMiB.toFixed(0)} MiB, ${r.threads} threads`,
      );
  });

bench
  .command("loop")
  .description(
    "time the training loop (collect 8 episodes + 8 training iterations) on SaveTheCity 2-5a_2-5b at the paper's settings",
  )
  .addOption(
    new Option("--method <name>", "method preset").choices([...METHOD_NAMES]).default("aqmix"),
  )
  .option(
    "--collections <n>",
    "timed collections (each with its training iterations)",
    parseIntFlag(1),
    3,
  )
  .option(
    "--warmup <n>",
    "untimed collections with training first (compilation)",
    parseIntFlag(0),
    1,
  )
  .option(
    "--full-buffer",
    "first fill the replay buffer to its 5000 episodes (epsilon 1, no training; takes minutes)",
    false,
  )
  .option("--seed <n>", "seed", parseIntFlag(0), 0)
  .option("--set <key=value>", "override a config key (repeatable)", collect, [])
  .option("--json", "print one JSON object", false)
  .action(async (o) => {
    const r = await benchLoop({
      method: o.method,
      collections: o.collections,
      warmup: o.warmup,
      fullBuffer: o.fullBuffer,
      seed: o.seed,
      sets: o.set,
      onProgress: o.json ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    if (o.json) console.log(JSON.stringify(r));
    else console.log(formatBenchLoop(r));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`alma: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
