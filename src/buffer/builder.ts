/**
 * `EpisodeBuilder`: the per-environment episode record a runner fills row by row (spec §2.2,
 * §9.2, §15.2) and turns into a compact `EpisodeRecord` for the replay buffer.
 *
 * Row protocol for an episode of L steps (enforced, so a runner bug fails loudly here rather than
 * as a silently wrong target in the learner):
 *
 *   begin(tAdded)
 *   for t = 0 .. L−1:
 *     observe(env)                   pre-transition items of row t (§2.1)
 *     [setHierDecision(true)]        when row t is a decision point (§9.1)
 *     [setAllocation(...)]           allocation in force at t into the agent rows (§2.2, §9.2)
 *     act(actions)                   actions taken at t
 *     step(result)                   reward / terminated / reset / task fields of step t
 *   observe(env)                     final observation, row L
 *   [setAllocation(...)] [act(dummy)] the controller acts once more on the final row (§2.2);
 *                                    without act the dummy action is all zeros
 *   finish() → EpisodeRecord
 *
 * The builder owns dense arrays for `episodeLimit + 1` rows, reused across episodes (call
 * `begin` again after `finish`), so the stepping hot path does not allocate.
 */
import { observeInto } from "../envs/observe.js";
import type { CompositeEnv, EnvInfo, EnvMasks, StepResult } from "../envs/types.js";
import { type EpisodeRecord, encodeEpisode } from "./episode.js";
import { allocEpisodeArrays, checkDims, type EpisodeArrays, type EpisodeDims } from "./layout.js";

type Phase = "idle" | "observe" | "act" | "step" | "final" | "done";

/** Pre-transition items of one row (§2.1), e.g. from a non-`CompositeEnv` source or a test. */
export interface RowObservation {
  entities: ArrayLike<number>;
  availActions: ArrayLike<number>;
  obsMask: ArrayLike<number>;
  entityMask: ArrayLike<number>;
  entity2taskMask: ArrayLike<number>;
  taskMask: ArrayLike<number>;
}

/** Outcome of one step as stored (§2.2). `StepResult` from the env is accepted by `step`. */
export interface StepOutcome {
  reward: number;
  /** Episode ended for any reason (stored as `reset`). */
  terminated: boolean;
  info: {
    taskRewards: ArrayLike<number>;
    tasksTerminated: ArrayLike<number>;
    /** Ended only by the time limit with bootstrapping (stored `terminated` = terminated ∧ ¬this). */
    episodeLimit: boolean;
  };
}

export class EpisodeBuilder {
  readonly dims: EpisodeDims;
  /** Maximum env steps per episode; the builder holds `episodeLimit + 1` rows. */
  readonly episodeLimit: number;
  private readonly a: EpisodeArrays;
  private readonly maskViews: EnvMasks[] = [];
  private t = 0;
  private phase: Phase = "idle";
  private tAddedValue = 0;

  constructor(info: EpisodeDims & Pick<EnvInfo, "episodeLimit">) {
    this.dims = checkDims(info);
    if (!Number.isInteger(info.episodeLimit) || info.episodeLimit < 1) {
      throw new RangeError(
        `EpisodeBuilder: episodeLimit must be a positive integer, got ${info.episodeLimit}`,
      );
    }
    this.episodeLimit = info.episodeLimit;
    this.a = allocEpisodeArrays(this.dims, info.episodeLimit + 1);
  }

  /** Start a new episode; `tAdded` = `t_env` at the start of the collection run (§2.2, §15.2). */
  begin(tAdded: number): void {
    if (!Number.isFinite(tAdded))
      throw new RangeError(`EpisodeBuilder.begin: tAdded must be finite, got ${tAdded}`);
    if (this.t > 0 || this.phase !== "idle") {
      // Zero the rows the previous episode used: fields that are not written every row
      // (hierDecision, final-row outcome, dummy action) must start at 0.
      const rows = this.t + 1;
      for (const [k, arr] of Object.entries(this.a) as [
        keyof EpisodeArrays,
        EpisodeArrays[keyof EpisodeArrays],
      ][]) {
        arr.fill(0, 0, Math.min(arr.length, rows * this.rowLen(k)));
      }
    }
    this.t = 0;
    this.tAddedValue = tAdded;
    this.phase = "observe";
  }

  /** Current row index t (= env steps recorded so far). */
  get row(): number {
    return this.t;
  }

  /** True once the terminal step has been recorded. */
  get ended(): boolean {
    return this.phase === "final" || this.phase === "done";
  }

  private rowLen(k: keyof EpisodeArrays): number {
    const { nAgents: Na, nEntities: Ne, nTasks: Nt, nActions: A, entityShape: De } = this.dims;
    switch (k) {
      case "entities":
        return Ne * De;
      case "obsMask":
        return Ne * Ne;
      case "entityMask":
        return Ne;
      case "availActions":
        return Na * A;
      case "entity2taskMask":
        return Ne * Nt;
      case "taskMask":
      case "taskRewards":
      case "tasksTerminated":
        return Nt;
      case "actions":
        return Na;
      default:
        return 1;
    }
  }

  private view<K extends keyof EpisodeArrays>(k: K, t = this.t): EpisodeArrays[K] {
    const R = this.rowLen(k);
    return this.a[k].subarray(t * R, (t + 1) * R) as EpisodeArrays[K];
  }

  private expect(what: string, ...allowed: Phase[]): void {
    if (!allowed.includes(this.phase)) {
      throw new Error(
        `EpisodeBuilder.${what}: not allowed at row ${this.t} in phase "${this.phase}" (allowed in: ${allowed.join(", ")}); see the row protocol in builder.ts`,
      );
    }
  }

  private afterObserve(): void {
    this.phase = this.phase === "final" ? "done" : "act";
  }

  /**
   * Write the pre-transition items of the current row straight from the environment's getters
   * (zero-copy: the getters fill views of the builder's arrays).
   */
  observe(env: CompositeEnv): void {
    this.expectObserve();
    observeInto(env, {
      entities: this.view("entities"),
      availActions: this.view("availActions"),
      masks: this.masksView(),
    });
    this.afterObserve();
  }

  /** Same as `observe`, from plain arrays (each exactly one row long). */
  observeArrays(obs: RowObservation): void {
    this.expectObserve();
    for (const k of [
      "entities",
      "availActions",
      "obsMask",
      "entityMask",
      "entity2taskMask",
      "taskMask",
    ] as const) {
      const dst = this.view(k);
      const src = obs[k];
      if (src.length !== dst.length) {
        throw new RangeError(
          `EpisodeBuilder.observeArrays: ${k} has ${src.length} values, expected ${dst.length}`,
        );
      }
      for (let i = 0; i < dst.length; i++) dst[i] = src[i]!;
    }
    this.afterObserve();
  }

  private expectObserve(): void {
    if (this.phase === "final") return; // final observation, row L (§2.2)
    this.expect("observe", "observe");
  }

  private masksView(): EnvMasks {
    let v = this.maskViews[this.t];
    if (!v) {
      v = {
        obsMask: this.view("obsMask"),
        entityMask: this.view("entityMask"),
        entity2taskMask: this.view("entity2taskMask"),
        taskMask: this.view("taskMask"),
      };
      this.maskViews[this.t] = v;
    }
    return v;
  }

  /** Mark the current row as a decision point (§2.2 `hier_decision`, §9.1). */
  setHierDecision(decision: boolean): void {
    this.expect("setHierDecision", "act", "done");
    if (decision && this.phase === "done") {
      throw new Error(
        "EpisodeBuilder.setHierDecision: the final-observation row is never a decision point (spec §9.1)",
      );
    }
    this.a.hierDecision[this.t] = decision ? 1 : 0;
  }

  /**
   * Overwrite the agent rows of the current row's `entity2taskMask` with the allocation in force
   * (§2.2, §9.2 step 2): agent i gets 0 in column `taskOfAgent[i]` and 1 elsewhere; a negative
   * entry (unallocated / inactive agent) gives an all-ones row.
   */
  setAllocation(taskOfAgent: ArrayLike<number>): void {
    this.expect("setAllocation", "act", "done");
    const { nAgents: Na, nTasks: Nt } = this.dims;
    if (taskOfAgent.length !== Na) {
      throw new RangeError(
        `EpisodeBuilder.setAllocation: expected ${Na} entries, got ${taskOfAgent.length}`,
      );
    }
    const row = this.view("entity2taskMask");
    for (let i = 0; i < Na; i++) {
      const k = taskOfAgent[i]!;
      if (!Number.isInteger(k) || k >= Nt) {
        throw new RangeError(
          `EpisodeBuilder.setAllocation: agent ${i} allocated to ${k}, expected -1 or 0..${Nt - 1}`,
        );
      }
      row.fill(1, i * Nt, (i + 1) * Nt);
      if (k >= 0) row[i * Nt + k] = 0;
    }
  }

  /**
   * Same from a one-hot allocation matrix Na × Nt (row-major, 1 = allocated): agent rows become
   * `1 − onehot` (§2.2). Inactive agents have all-zero rows → all ones.
   */
  setAllocationOnehot(onehot: ArrayLike<number>): void {
    this.expect("setAllocationOnehot", "act", "done");
    const { nAgents: Na, nTasks: Nt } = this.dims;
    if (onehot.length !== Na * Nt) {
      throw new RangeError(
        `EpisodeBuilder.setAllocationOnehot: expected ${Na * Nt} entries, got ${onehot.length}`,
      );
    }
    const row = this.view("entity2taskMask");
    for (let j = 0; j < Na * Nt; j++) row[j] = onehot[j]! > 0.5 ? 0 : 1;
  }

  /**
   * The current row's `entity2taskMask` (Ne × Nt view into the builder) for callers that write
   * allocations themselves. Only agent rows 0..Na−1 should be changed.
   */
  entity2taskMaskRow(): Uint8Array {
    this.expect("entity2taskMaskRow", "act", "done");
    return this.view("entity2taskMask");
  }

  /** Actions taken at the current row (Na entries; on the final row, the dummy action, §2.2). */
  act(actions: ArrayLike<number>): void {
    this.expect("act", "act", "done");
    const { nAgents: Na, nActions: A } = this.dims;
    if (actions.length !== Na)
      throw new RangeError(`EpisodeBuilder.act: expected ${Na} actions, got ${actions.length}`);
    const dst = this.view("actions");
    for (let i = 0; i < Na; i++) {
      const a = actions[i]!;
      if (!Number.isInteger(a) || a < 0 || a >= A) {
        throw new RangeError(`EpisodeBuilder.act: agent ${i} action ${a} is outside [0, ${A})`);
      }
      dst[i] = a;
    }
    if (this.phase === "act") this.phase = "step";
  }

  /**
   * Record the outcome of the step taken at the current row and advance to the next row
   * (§2.2, §15.2): `reward`, `reset` = ended for any reason, `terminated` = ended and not only by
   * the time limit, `taskRewards`, `tasksTerminated`.
   */
  step(result: StepOutcome | StepResult): void {
    this.expect("step", "step");
    const { nTasks: Nt } = this.dims;
    const t = this.t;
    const { taskRewards, tasksTerminated, episodeLimit } = result.info;
    if (taskRewards.length < Nt || tasksTerminated.length < Nt) {
      throw new RangeError(`EpisodeBuilder.step: task arrays need ${Nt} entries`);
    }
    this.a.reward[t] = result.reward;
    this.a.reset[t] = result.terminated ? 1 : 0;
    this.a.terminated[t] = result.terminated && !episodeLimit ? 1 : 0;
    const tr = this.view("taskRewards");
    const tt = this.view("tasksTerminated");
    for (let k = 0; k < Nt; k++) {
      tr[k] = taskRewards[k]!;
      tt[k] = tasksTerminated[k]! ? 1 : 0;
    }
    this.t = t + 1;
    this.phase = result.terminated ? "final" : "observe";
    if (!result.terminated && this.t === this.episodeLimit) {
      // Row episodeLimit can only be a final-observation row.
      throw new Error(
        `EpisodeBuilder.step: step ${t} reached episodeLimit ${this.episodeLimit} but the environment did not terminate`,
      );
    }
  }

  /**
   * Encode the finished episode (rows 0..L) into a compact record. Requires the terminal step and
   * the final observation. The builder then needs `begin` before the next episode.
   */
  finish(): EpisodeRecord {
    if (this.phase !== "done") {
      throw new Error(
        this.phase === "final"
          ? "EpisodeBuilder.finish: the final observation (row L) has not been written; call observe after the terminal step"
          : `EpisodeBuilder.finish: the episode has not terminated (row ${this.t}, phase "${this.phase}")`,
      );
    }
    const rec = encodeEpisode(this.dims, this.a, this.t + 1, this.tAddedValue);
    this.phase = "idle";
    return rec;
  }
}
