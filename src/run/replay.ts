/**
 * Episode replays: what `alma eval --record N` writes and `alma view` plays back. A replay holds,
 * per step, the environment's own SVG frame (the same picture `alma play --svg` draws), the
 * actions, the reward, the allocation in force and whether it was just decided, so the viewer
 * needs no environment code. Files are gzip-compressed JSON (`*.replay.json.gz`), written
 * atomically and validated on read.
 */
import { readFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { envEntry } from "../envs/registry.js";
import type { Transition } from "../runners/runner.js";
import { writeFileAtomic } from "../util/fs.js";

export const REPLAY_FORMAT = "alma-replay";
export const REPLAY_VERSION = 1;

export interface ReplayFrame {
  /** Env step after which this frame was drawn (0 = right after reset). */
  t: number;
  svg: string;
  /** Reward of the step that led here (null at t = 0). */
  reward: number | null;
  episodeReturn: number;
  /** True when the allocation used for this step was decided at this step (a decision point). */
  decision: boolean;
  /** Allocation in force (subtask per live agent, -1 none), or null for flat methods. */
  allocation: number[] | null;
  /** Agents whose allocation changed at this step. */
  allocationChanged: boolean[] | null;
  /** Actions taken (per live agent), null at t = 0. */
  actions: number[] | null;
}

export interface Replay {
  format: typeof REPLAY_FORMAT;
  version: typeof REPLAY_VERSION;
  env: string;
  scenario: string;
  title: string;
  actionNames: string[];
  nAgents: number;
  episodeReturn: number;
  length: number;
  stats: Record<string, number>;
  frames: ReplayFrame[];
}

/** Collects replays from a runner's `onTransition` hook, for the first `maxEpisodes` episodes. */
export class ReplayRecorder {
  private readonly open = new Map<number, Replay>();
  private readonly prevAlloc = new Map<number, number[]>();
  readonly done: Replay[] = [];
  private started = 0;

  constructor(
    private readonly maxEpisodes: number,
    private readonly title: string,
  ) {}

  get finished(): boolean {
    return this.done.length >= this.maxEpisodes;
  }

  readonly onTransition = (tr: Transition): void => {
    const entry = envEntry(tr.env.name);
    if (tr.step === null) {
      if (this.started >= this.maxEpisodes) {
        this.open.delete(tr.index);
        return;
      }
      this.started++;
      const replay: Replay = {
        format: REPLAY_FORMAT,
        version: REPLAY_VERSION,
        env: tr.env.name,
        scenario: tr.env.scenario,
        title: this.title,
        actionNames: [...tr.env.actionNames],
        nAgents: tr.env.nActiveAgents,
        episodeReturn: 0,
        length: 0,
        stats: {},
        frames: [],
      };
      this.open.set(tr.index, replay);
      this.prevAlloc.delete(tr.index);
      replay.frames.push(this.frame(entry.renderSvg, tr, replay, null, null, false));
      return;
    }
    const replay = this.open.get(tr.index);
    if (!replay) return;
    const n = replay.nAgents;
    const alloc = tr.allocation ? Array.from(tr.allocation.subarray(0, n)) : null;
    const prev = this.prevAlloc.get(tr.index);
    const changed = alloc ? alloc.map((k, i) => prev === undefined || prev[i] !== k) : null;
    if (alloc) this.prevAlloc.set(tr.index, alloc);
    replay.episodeReturn += tr.step.reward;
    replay.frames.push(this.frame(entry.renderSvg, tr, replay, alloc, changed, tr.decision));
    if (tr.step.terminated) {
      replay.length = tr.env.time;
      replay.stats = { ...(tr.step.stats ?? {}) };
      this.done.push(replay);
      this.open.delete(tr.index);
    }
  };

  private frame(
    render: ((env: Transition["env"], opts: object) => string) | undefined,
    tr: Transition,
    replay: Replay,
    allocation: number[] | null,
    changed: boolean[] | null,
    decision: boolean,
  ): ReplayFrame {
    const actions = tr.step ? Array.from(tr.step.actions.subarray(0, replay.nAgents)) : null;
    const opts = {
      actions: actions ?? undefined,
      allocation: allocation ?? undefined,
      allocationChanged: changed ?? undefined,
      reward: tr.step?.reward,
      episodeReturn: replay.episodeReturn,
      title: replay.title,
    };
    const svg = render
      ? render(tr.env, opts)
      : `<svg xmlns="http://www.w3.org/2000/svg"><text y="20">${tr.env.render()}</text></svg>`;
    return {
      t: tr.env.time,
      svg,
      reward: tr.step ? tr.step.reward : null,
      episodeReturn: replay.episodeReturn,
      decision,
      allocation,
      allocationChanged: changed,
      actions,
    };
  }
}

export function writeReplay(path: string, replay: Replay): void {
  writeFileAtomic(path, gzipSync(JSON.stringify(replay)));
}

/** Read and validate a replay file; errors name the file and the problem. */
export function readReplay(path: string): Replay {
  let data: unknown;
  try {
    data = JSON.parse(gunzipSync(readFileSync(path)).toString("utf8"));
  } catch (err) {
    throw new Error(
      `replay ${path}: not a gzip-compressed JSON replay (${(err as Error).message})`,
    );
  }
  const r = data as Partial<Replay>;
  if (r.format !== REPLAY_FORMAT)
    throw new Error(`replay ${path}: format is '${String(r.format)}', expected '${REPLAY_FORMAT}'`);
  if (r.version !== REPLAY_VERSION)
    throw new Error(`replay ${path}: version ${String(r.version)} is not supported`);
  if (!Array.isArray(r.frames) || r.frames.length === 0)
    throw new Error(`replay ${path}: has no frames`);
  for (const [i, f] of r.frames.entries()) {
    if (typeof f.svg !== "string" || typeof f.t !== "number")
      throw new Error(`replay ${path}: frame ${i} is malformed`);
  }
  return r as Replay;
}
