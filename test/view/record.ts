/**
 * Test helper (not a test file: the name does not match the runner's patterns): records real
 * replays into a run directory the way `alma eval --record N` lays them out, using the same
 * recorder path as `test/run/replay.test.ts`, so the viewer is tested on genuine frames.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { makeEnv } from "../../src/envs/registry.js";
import { type Replay, ReplayRecorder, writeReplay } from "../../src/run/replay.js";
import { heuristicRunner, zeroUtilities } from "../runners/helpers.js";

export interface SampleRunOptions {
  env?: "savethecity" | "battle";
  scenario?: string;
  episodes?: number;
  seed?: number;
  extra?: Record<string, unknown>;
}

/** Record `episodes` replays into `RUN_DIR/replays/episode-NNN.replay.json.gz`; returns them. */
export async function recordSampleRun(
  runDir: string,
  opts: SampleRunOptions = {},
): Promise<Replay[]> {
  const env = opts.env ?? "savethecity";
  const episodes = opts.episodes ?? 1;
  const seed = opts.seed ?? 40;
  const envs = Array.from({ length: episodes }, (_, k) =>
    makeEnv(env, { seed: seed + k, scenario: opts.scenario, extra: opts.extra }),
  );
  const runner = heuristicRunner(envs, zeroUtilities);
  const rec = new ReplayRecorder(episodes, `${env} sample`);
  await runner.run({ testMode: true, tEnv: 0, epsilon: 0, onTransition: rec.onTransition });
  const dir = join(runDir, "replays");
  mkdirSync(dir, { recursive: true });
  rec.done.forEach((r, i) => {
    writeReplay(join(dir, `episode-${String(i).padStart(3, "0")}.replay.json.gz`), r);
  });
  return rec.done;
}
