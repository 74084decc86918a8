/**
 * `alma experiment <recipe>`: run every (method × seed) of a recipe, `jobs` at a time, each in
 * its own process, skipping finished runs and resuming interrupted ones from their checkpoints;
 * then the recipe's evaluations, the figure (SVG + PNG) and `results.md`.
 *
 * Layout: OUT/<label>/seed-<k>/ (a run directory, plus DONE.json once finished),
 *         OUT/evals/<label>/seed-<k>.json (+ seed-<k>.episodes.jsonl, one line per episode),
 *         OUT/figure.svg|png, OUT/results.md, OUT/experiment.json; battle-spread also writes
 *         OUT/spread.json and OUT/spread.svg|png (success vs army spread, paper Fig. 6a).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compareRuns, resultsTable } from "../plot/index.js";
import { listCheckpoints } from "../run/checkpoint.js";
import { meanStd, readMetrics } from "../run/metrics.js";
import { writeFileAtomic } from "../util/fs.js";
import {
  type EvalSpec,
  type ExperimentScale,
  type RunSpec,
  recipe,
  scaleSettings,
} from "./recipes.js";
import {
  aggregateSpread,
  readEpisodes,
  SPREAD_AXIS_TITLE,
  SPREAD_BINS,
  type SpreadEpisode,
  spreadTable,
  writeSpreadFigure,
} from "./spread.js";

export type RunState = "done" | "resume" | "new";

/** Runs one training run to completion (`resume` = continue from its checkpoints). */
export type RunExecutor = (spec: RunSpec, dir: string, resume: boolean) => Promise<void>;
/**
 * Evaluates one run; resolves with its greedy test statistics and writes its episodes to
 * `episodesOut` (JSONL, one `{return, length, stats}` per line, as `alma eval --episodes-out`).
 */
export type EvalExecutor = (
  spec: EvalSpec,
  runDir: string,
  actorsDir: string | undefined,
  sets: string[],
  episodesOut: string,
) => Promise<Record<string, number>>;

export interface ExperimentOptions {
  recipe: string;
  scale: ExperimentScale;
  seeds: number;
  steps?: number;
  out: string;
  /** Runs at once (each its own process); default 1 on a 2-core machine. */
  jobs?: number;
  executor?: RunExecutor;
  evaluator?: EvalExecutor;
  log?: (line: string) => void;
}

export interface ExperimentResult {
  runs: { spec: RunSpec; dir: string; state: RunState; error?: string }[];
  evals: { spec: EvalSpec; stats?: Record<string, number>; error?: string }[];
  files: string[];
}

export function runDirOf(out: string, spec: { label: string; seed: number }): string {
  return join(out, spec.label, `seed-${spec.seed}`);
}

/** Finished (DONE.json), resumable (has a checkpoint) or new. */
export function runState(dir: string): RunState {
  if (existsSync(join(dir, "DONE.json"))) return "done";
  if (listCheckpoints(dir).length > 0) return "resume";
  return "new";
}

const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));

function spawnCli(
  args: string[],
  log: (line: string) => void,
  captureStdout = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderrTail = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (!captureStdout) for (const l of d.toString().split("\n")) if (l.trim()) log(`  ${l}`);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-4000);
      for (const l of d.toString().split(/[\r\n]/)) if (l.trim()) log(`  ${l.trim()}`);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            `alma ${args.join(" ")} exited with ${code}: ${stderrTail.trim().split("\n").slice(-3).join(" / ")}`,
          ),
        );
    });
  });
}

/** Default executor: `alma train` / `alma resume` in a child process. */
export function processExecutor(log: (line: string) => void): RunExecutor {
  return async (spec, dir, resume) => {
    if (resume) {
      await spawnCli(["resume", "--run", dir], log);
      return;
    }
    const args = [
      "train",
      "--env",
      spec.env,
      "--method",
      spec.method,
      "--scale",
      spec.scale,
      "--seed",
      String(spec.seed),
      "--out",
      dir,
    ];
    if (spec.scenario) args.push("--scenario", spec.scenario);
    if (spec.steps !== undefined) args.push("--steps", String(spec.steps));
    for (const s of spec.sets) args.push("--set", s);
    await spawnCli(args, log);
  };
}

/** Default evaluator: `alma eval --json` in a child process. */
export function processEvaluator(log: (line: string) => void): EvalExecutor {
  return async (spec, runDir, actorsDir, sets, episodesOut) => {
    const args = ["eval", "--run", runDir, "--json", "--episodes", String(spec.episodes ?? 64)];
    args.push("--episodes-out", episodesOut);
    if (actorsDir) args.push("--actors-from", actorsDir);
    for (const s of sets) args.push("--set", s);
    const out = await spawnCli(args, log, true);
    return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
  };
}

const CLOSE_ARMIES = "-close-armies";

/** battle-spread's evaluations: armies spawned close together, binned by spread afterwards. */
function isCloseArmies(spec: EvalSpec): boolean {
  return spec.label.endsWith(CLOSE_ARMIES);
}

/** Extra config overrides an evaluation applies (battle-spread: armies spawned close together). */
function evalSets(spec: EvalSpec): string[] {
  return isCloseArmies(spec) ? ["env.battle.spreadArmies=false"] : [];
}

/**
 * Fig. 6a from the close-armies evaluations: success per spread bin per seed, mean ± std over
 * seeds per method; writes OUT/spread.json and OUT/spread.svg|png. Returns the table section for
 * results.md (empty when there is nothing to bin) and the files written.
 */
async function spreadAnalysis(
  out: string,
  evals: ExperimentResult["evals"],
  title: string,
): Promise<{ lines: string[]; files: string[] }> {
  const methods = new Map<string, SpreadEpisode[][]>();
  for (const e of evals) {
    const path = episodesPath(out, e.spec);
    if (!e.stats || !isCloseArmies(e.spec) || !existsSync(path)) continue;
    const method = e.spec.label.slice(0, -CLOSE_ARMIES.length);
    methods.set(method, [...(methods.get(method) ?? []), readEpisodes(path)]);
  }
  if (methods.size === 0) return { lines: [], files: [] };
  const curves = aggregateSpread(methods);
  const json = join(out, "spread.json");
  writeFileAtomic(
    json,
    `${JSON.stringify({ bins: SPREAD_BINS, binning: "equal-width over [0, 1]: k/B <= spread < (k+1)/B, spread = 1 in the last bin; success = mean battle_won per bin per seed, then mean ± population std over the seeds with episodes in the bin (NaN → null)", x: SPREAD_AXIS_TITLE, curves }, null, 1)}\n`,
  );
  const files = [json, ...(await writeSpreadFigure(curves, join(out, "spread.svg"), title))];
  const lines = [
    "",
    "## Success vs army spread",
    "",
    `Greedy success with armies spawned close together (\`spreadArmies=false\`), episodes binned by the last army's angular multiplier \`spread\` into ${SPREAD_BINS} equal-width bins (1 = maximally spread, as in training). Cells: success mean ± std over seeds (episodes in the bin). Figure: \`spread.svg\` / \`spread.png\`.`,
    "",
    spreadTable(curves),
  ];
  return { lines, files };
}

function evalPath(out: string, spec: EvalSpec): string {
  return join(out, "evals", spec.label, `seed-${spec.seed}.json`);
}

function episodesPath(out: string, spec: EvalSpec): string {
  return join(out, "evals", spec.label, `seed-${spec.seed}.episodes.jsonl`);
}

async function pool<T>(
  items: readonly T[],
  jobs: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentResult> {
  const r = recipe(opts.recipe);
  if (!Number.isInteger(opts.seeds) || opts.seeds < 1)
    throw new Error(`--seeds must be a positive integer, got ${opts.seeds}`);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const executor = opts.executor ?? processExecutor(log);
  const evaluator = opts.evaluator ?? processEvaluator(log);
  const specs = r.runs(opts.scale, opts.seeds, opts.steps);
  mkdirSync(opts.out, { recursive: true });
  writeFileAtomic(
    join(opts.out, "experiment.json"),
    `${JSON.stringify({ recipe: r.name, figure: r.figure, description: r.description, scale: opts.scale, seeds: opts.seeds, steps: scaleSettings(opts.scale, opts.steps).steps ?? null, runs: specs }, null, 1)}\n`,
  );
  const result: ExperimentResult = { runs: [], evals: [], files: [] };
  const started = Date.now();
  let finished = 0;
  await pool(specs, opts.jobs ?? 1, async (spec) => {
    const dir = runDirOf(opts.out, spec);
    const state = runState(dir);
    const entry: ExperimentResult["runs"][number] = { spec, dir, state };
    result.runs.push(entry);
    if (state === "done") {
      log(`[${r.name}] ${spec.label} seed ${spec.seed}: finished earlier, skipped`);
      finished++;
      return;
    }
    // A directory with a config but no checkpoint has nothing to resume: start it again.
    if (state === "new" && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    log(
      `[${r.name}] ${spec.label} seed ${spec.seed}: ${state === "resume" ? "resuming" : "starting"} (${finished}/${specs.length} done, ${((Date.now() - started) / 60000).toFixed(1)} min)`,
    );
    try {
      await executor(spec, dir, state === "resume");
      writeFileAtomic(
        join(dir, "DONE.json"),
        `${JSON.stringify({ finishedAt: new Date().toISOString() })}\n`,
      );
      finished++;
    } catch (err) {
      entry.error = (err as Error).message;
      log(`[${r.name}] ${spec.label} seed ${spec.seed}: FAILED: ${entry.error}`);
    }
  });

  for (const spec of r.evals?.(opts.seeds) ?? []) {
    const path = evalPath(opts.out, spec);
    const episodesOut = episodesPath(opts.out, spec);
    // battle-spread needs the episodes too: an evaluation without them is run again
    if (existsSync(path) && (!isCloseArmies(spec) || existsSync(episodesOut))) {
      result.evals.push({ spec, stats: JSON.parse(readFileSync(path, "utf8")) });
      continue;
    }
    const runDir = runDirOf(opts.out, { label: spec.run, seed: spec.seed });
    const actorsDir = spec.actorsFrom
      ? runDirOf(opts.out, { label: spec.actorsFrom, seed: spec.seed })
      : undefined;
    if (runState(runDir) !== "done" || (actorsDir && runState(actorsDir) !== "done")) {
      result.evals.push({ spec, error: "its training runs did not finish" });
      continue;
    }
    try {
      log(`[${r.name}] evaluating ${spec.label} seed ${spec.seed}`);
      const stats = await evaluator(spec, runDir, actorsDir, evalSets(spec), episodesOut);
      writeFileAtomic(path, `${JSON.stringify(stats)}\n`);
      result.evals.push({ spec, stats });
    } catch (err) {
      result.evals.push({ spec, error: (err as Error).message });
    }
  }

  const okRuns = result.runs.filter((x) => !x.error).map((x) => x.dir);
  if (okRuns.length > 0) {
    const figure = await compareRuns(okRuns, {
      metric: r.metric,
      out: join(opts.out, "figure.svg"),
      groupBy: "dir",
      title: `${r.name} (${r.figure}), ${opts.scale} scale`,
    });
    result.files.push(...figure.files);
    // Greedy test return too: it moves long before success does.
    if (
      okRuns.some((dir) => readMetrics(join(dir, "metrics.jsonl")).some((m) => "test/return" in m))
    ) {
      const returns = await compareRuns(okRuns, {
        metric: "test/return",
        out: join(opts.out, "figure-return.svg"),
        groupBy: "dir",
        title: `${r.name} (${r.figure}), ${opts.scale} scale: greedy test return`,
      });
      result.files.push(...returns.files);
    }
    const lines = [
      `# ${r.name} — ${r.figure}`,
      "",
      r.description,
      "",
      `Scale \`${opts.scale}\`, ${opts.seeds} seed(s). Metric \`${r.metric}\` (greedy test success), final value per run, mean ± std over seeds.`,
      "",
      resultsTable(okRuns, { metric: r.metric, groupBy: "dir" }),
    ];
    const evalGroups = new Map<string, number[]>();
    for (const e of result.evals)
      if (e.stats)
        evalGroups.set(e.spec.label, [
          ...(evalGroups.get(e.spec.label) ?? []),
          e.stats["test/success"],
        ]);
    if (evalGroups.size > 0) {
      lines.push(
        "",
        "## Evaluations",
        "",
        "| evaluation | success (mean ± std) | seeds |",
        "| --- | --- | --- |",
      );
      for (const [label, xs] of evalGroups) {
        const { mean, std } = meanStd(xs);
        lines.push(`| ${label} | ${mean.toFixed(3)} ± ${std.toFixed(3)} | ${xs.length} |`);
      }
    }
    const spread = await spreadAnalysis(
      opts.out,
      result.evals,
      `${r.name} (${r.figure}): greedy success vs army spread, ${opts.scale} scale`,
    );
    lines.push(...spread.lines);
    result.files.push(...spread.files);
    const failed = [...result.runs.filter((x) => x.error), ...result.evals.filter((x) => x.error)];
    if (failed.length > 0) {
      lines.push("", "## Not finished", "");
      for (const f of failed)
        lines.push(
          `- ${"dir" in f ? `${f.spec.label} seed ${f.spec.seed}` : `eval ${f.spec.label} seed ${f.spec.seed}`}: ${f.error}`,
        );
    }
    lines.push(
      "",
      `Figures: \`figure.svg\` / \`figure.png\` (success), \`figure-return.svg\` / \`.png\` (return). Regenerate with \`alma experiment ${r.name} --scale ${opts.scale} --seeds ${opts.seeds}\`.`,
      "",
    );
    writeFileAtomic(join(opts.out, "results.md"), lines.join("\n"));
    result.files.push(join(opts.out, "results.md"));
  }
  return result;
}
