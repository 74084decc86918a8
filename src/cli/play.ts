/**
 * `alma play`: run one episode and show it, a text frame per step in the terminal and optionally
 * one SVG per step. The allocation shown is the one in force, chosen at decision points exactly as
 * the controller does (every `action_length` steps and right after any subtask ends, spec §9).
 */
import { join } from "node:path";
import { envEntry, makeEnv } from "../envs/registry.js";
import { Rng } from "../envs/rng.js";
import type { FrameOptions } from "../envs/types.js";
import { writeFileAtomic } from "../util/fs.js";

export interface PlayOptions {
  env: string;
  scenario?: string;
  seed: number;
  policy: "random" | "heuristic";
  svg?: string;
  delay: number;
  quiet: boolean;
}

export interface PlaySummary {
  steps: number;
  episodeReturn: number;
  stats: Record<string, number>;
  svgFrames: number;
}

export async function play(
  opts: PlayOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<PlaySummary> {
  const entry = envEntry(opts.env);
  const env = makeEnv(opts.env, { scenario: opts.scenario, seed: opts.seed });
  const { nAgents: na, nActions: A, nTasks: nt } = env.info;
  const rng = new Rng(opts.seed + 7919);
  const allocation = new Int32Array(na).fill(-1);
  const previous = new Int32Array(na);
  const changed = new Uint8Array(na);
  const actions = new Int32Array(na);
  const animate = opts.delay > 0 && process.stdout.isTTY;
  const title = `${env.name} ${env.scenario} seed ${opts.seed} (${opts.policy})`;
  let svgFrames = 0;

  const show = (frame: FrameOptions, last: boolean) => {
    if (!opts.quiet || last) {
      const text = entry.renderText ? entry.renderText(env, frame) : env.render();
      write(animate ? `\x1b[2J\x1b[H${text}\n` : `${text}\n\n`);
    }
    if (opts.svg && entry.renderSvg) {
      writeFileAtomic(
        join(opts.svg, `frame-${String(svgFrames).padStart(4, "0")}.svg`),
        entry.renderSvg(env, frame),
      );
      svgFrames++;
    }
  };

  const decide = () => {
    previous.set(allocation);
    if (opts.policy === "heuristic") {
      env.heuristicAllocation(allocation);
    } else {
      // Random allocation (spec §1.3): each live agent gets a uniformly random active subtask.
      const { taskMask, entityMask } = env.getMasks();
      const active: number[] = [];
      for (let k = 0; k < nt; k++) if (taskMask[k] === 0) active.push(k);
      for (let i = 0; i < na; i++)
        allocation[i] =
          entityMask[i] === 0 && active.length > 0 ? active[rng.int(active.length)] : -1;
    }
    for (let i = 0; i < na; i++) changed[i] = allocation[i] !== previous[i] ? 1 : 0;
  };

  env.reset();
  decide();
  show({ allocation, allocationChanged: changed, title }, false);
  let sinceDecision = 0;
  let episodeReturn = 0;
  for (;;) {
    if (opts.policy === "heuristic" && entry.scriptedActions) {
      entry.scriptedActions(env, allocation, actions);
    } else {
      const avail = env.getAvailActions();
      for (let i = 0; i < na; i++) {
        const choices: number[] = [];
        for (let a = 0; a < A; a++) if (avail[i * A + a] !== 0) choices.push(a);
        actions[i] = choices[rng.int(choices.length)];
      }
    }
    const result = env.step(actions);
    episodeReturn += result.reward;
    sinceDecision++;
    changed.fill(0);
    if (!result.terminated && (sinceDecision >= entry.actionLength || result.info.tasksChanged)) {
      decide();
      sinceDecision = 0;
    }
    show(
      {
        actions,
        allocation,
        allocationChanged: changed,
        reward: result.reward,
        episodeReturn,
        title,
      },
      result.terminated,
    );
    if (animate) await new Promise((r) => setTimeout(r, opts.delay));
    if (result.terminated) {
      const stats = { ...(result.info.stats ?? {}) };
      const parts = Object.entries(stats).map(
        ([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`,
      );
      write(
        `episode over after ${env.time} steps${result.info.episodeLimit ? " (time limit)" : ""}: return ${episodeReturn.toFixed(3)}  ${parts.join("  ")}\n`,
      );
      if (opts.svg) write(`wrote ${svgFrames} SVG frames to ${opts.svg}\n`);
      return { steps: env.time, episodeReturn, stats, svgFrames };
    }
  }
}
