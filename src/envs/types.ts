/**
 * The composite-task environment contract (spec: environments.md §1, algorithm.md §2).
 *
 * A composite task has up to `nAgents` agents and up to `nTasks` independent subtasks. Everything
 * an environment exposes is a padded, fixed-size typed array so that learners can batch episodes
 * of different sizes without reshaping. Entity slots are ordered: real agents `0..n-1`, zero
 * padding up to `nAgents`, then real non-agent entities (buildings, enemy units), then zero
 * padding up to `nEntities`.
 *
 * MASK POLARITY: every mask uses **1 = blocked / absent / not a member / inactive** and
 * **0 = allowed / present / member / active** (spec §1.3, checklist §7.1). This is the single
 * most common source of bugs; keep it everywhere.
 *
 * OWNERSHIP: getters write into an `out` array when one is given and otherwise into a buffer the
 * environment owns and reuses; a returned env-owned buffer is valid until the next `reset` or
 * `step`. Copy it if you need to keep it. This keeps the stepping hot path allocation-free.
 */

/** Static sizes of an environment (spec §1.2 `get_env_info`). Padded maxima, fixed per scenario family. */
export interface EnvInfo {
  /** De: length of one entity feature row. */
  readonly entityShape: number;
  /** A: number of low-level actions per agent. */
  readonly nActions: number;
  /** Na: maximum (padded) number of agents. */
  readonly nAgents: number;
  /** Ne: total entity slots = nAgents + maximum number of non-agent entities. */
  readonly nEntities: number;
  /** Nt: maximum (padded) number of subtasks. */
  readonly nTasks: number;
  /** Maximum number of steps in an episode. */
  readonly episodeLimit: number;
}

/**
 * Available-action codes (spec §1.4). `availActions[agent * nActions + action]` holds:
 * - `0`: not available;
 * - `1`: available and not tied to any subtask (movement, stay/stop, no-op);
 * - `2 + k`: available and tied to subtask `k` (e.g. interacting with building `k`);
 * - `1000 + j`: available; targets **agent index** `j` (StarCraft Medivac heal).
 * Padded and inactive agents get `[1, 0, 0, ...]`: only action 0.
 */
export const AVAIL_UNAVAILABLE = 0;
export const AVAIL_FREE = 1;
export const AVAIL_TASK_BASE = 2;
export const AVAIL_ALLY_BASE = 1000;

/** Masks describing who sees whom and who belongs to which subtask (spec §1.3). 1 = blocked. */
export interface EnvMasks {
  /** Ne×Ne row-major: `[i*Ne + j] = 1` if entity i cannot observe entity j. Padding rows/cols are 1. */
  readonly obsMask: Uint8Array;
  /** Ne: 1 if the slot is padding or the entity is inactive (e.g. a dead unit). */
  readonly entityMask: Uint8Array;
  /**
   * Ne×Nt row-major: `[e*Nt + k] = 0` iff entity e belongs to subtask k. Non-agent rows carry fixed
   * membership; agent rows are all 1 unless the environment was built with `heuristicAlloc`, in
   * which case each live agent row has one 0 at its heuristic subtask. Padding rows are all 1.
   */
  readonly entity2taskMask: Uint8Array;
  /** Nt: 1 if subtask k is inactive (finished, failed, or padding). */
  readonly taskMask: Uint8Array;
}

/** Episode-end statistics reported at the terminal step (e.g. `solved`, `battle_won`). */
export type EpisodeStats = Readonly<Record<string, number>>;

/** What `step` returns. The object and its arrays are owned by the env and reused every step. */
export interface StepResult {
  /** Global (team) reward of this step, already scaled as the environment specifies. */
  reward: number;
  /** True when the episode ended for any reason (including the time limit). */
  terminated: boolean;
  /** Per-step information consumed by the training loop (spec §1.5). */
  readonly info: StepInfo;
}

export interface StepInfo {
  /** Nt: per-subtask reward of this step (padded subtasks 0). */
  readonly taskRewards: Float64Array;
  /** Nt: 1 if the subtask is over after this step (padded subtasks 1). Equals the next `taskMask`. */
  readonly tasksTerminated: Uint8Array;
  /** True iff any subtask finished (succeeded or failed) during this step: forces a new high-level decision. */
  tasksChanged: boolean;
  /**
   * True only when the episode ended because of the time limit *and* the environment wants the
   * learner to bootstrap through that ending (SaveTheCity does; StarCraft does not).
   */
  episodeLimit: boolean;
  /** Episode statistics, set at the terminal step only (null otherwise). */
  stats: EpisodeStats | null;
}

export interface ResetOptions {
  /** Re-seed the environment's generator before resetting (like Gymnasium's `reset(seed=...)`). */
  seed?: number;
  /** Draw from the test scenario list instead of the training list. */
  test?: boolean;
  /** Force a scenario by its index in the (train or test) list. */
  index?: number;
  /** Force the number of subtasks (evaluation). At most one of `index` / `nTasks`. */
  nTasks?: number;
}

/** Thrown by `step` when an agent is given an action that is not available to it. */
export class InvalidActionError extends Error {
  constructor(
    readonly agent: number,
    readonly action: number,
    readonly reason: string,
  ) {
    super(`agent ${agent}: action ${action} is not available (${reason})`);
    this.name = "InvalidActionError";
  }
}

/**
 * A composite multi-agent task with the entity scheme. Implement this to plug your own task into
 * the learners, the runners, `alma play` and the conformance suite (`checkConformance`).
 */
export interface CompositeEnv {
  /** Registry name of the environment (e.g. `savethecity`). */
  readonly name: string;
  /** Name of the scenario family (e.g. `2-5a_2-5b`). */
  readonly scenario: string;
  readonly info: EnvInfo;
  /** Human-readable names of the low-level actions, length `nActions`. */
  readonly actionNames: readonly string[];

  /** Start a new episode. Observations are then available from the getters. */
  reset(options?: ResetOptions): void;
  /**
   * Advance one step. `actions` has `nAgents` entries; entries of padded agents are ignored. Throws
   * `InvalidActionError` if a real agent's action is not available to it.
   */
  step(actions: ArrayLike<number>): StepResult;

  /** Ne×De row-major entity features of the current state. */
  getEntities(out?: Float32Array): Float32Array;
  /** Na×A available-action codes of the current state (see `AVAIL_*`). */
  getAvailActions(out?: Int32Array): Int32Array;
  /** The four masks of the current state. `out` buffers, when given, are filled and returned. */
  getMasks(out?: EnvMasks): EnvMasks;
  /**
   * The environment's heuristic allocation for the current state: `out[agent]` = subtask index, or
   * -1 for padded/inactive agents or when no subtask is active. Length `nAgents`.
   */
  heuristicAllocation(out?: Int32Array): Int32Array;

  /** Number of real (non-padded) agents in the current episode. */
  readonly nActiveAgents: number;
  /** Number of real (non-padded) subtasks in the current episode. */
  readonly nActiveTasks: number;
  /** Steps taken in the current episode. */
  readonly time: number;

  /** A text picture of the current state (one frame). */
  render(): string;

  /** Save / restore the environment's generator (optional; makes resumed runs bit-exact). */
  getRngState?(): number[];
  setRngState?(state: readonly number[]): void;
}

/** What a picture of one step shows besides the state itself (text frames, SVG frames, replays). */
export interface FrameOptions {
  /** Actions just taken, per agent index. */
  actions?: ArrayLike<number>;
  /** Allocated subtask per agent, or -1. */
  allocation?: ArrayLike<number>;
  /** Agents whose allocation changed at this step (highlighted). */
  allocationChanged?: ArrayLike<boolean | number>;
  /** Reward of the step that led here, and the running episode return. */
  reward?: number;
  episodeReturn?: number;
  /** Free-form title, e.g. scenario and seed. */
  title?: string;
}

/**
 * A fresh, reusable step result sized for `info` (zero rewards, no subtask finished): environments
 * fill and return the same object every step, as the API allows.
 */
export function allocStepResult(info: Pick<EnvInfo, "nTasks">): StepResult {
  return {
    reward: 0,
    terminated: false,
    info: {
      taskRewards: new Float64Array(info.nTasks),
      tasksTerminated: new Uint8Array(info.nTasks),
      tasksChanged: false,
      episodeLimit: false,
      stats: null,
    },
  };
}

/** Allocate a fresh set of mask buffers sized for `info`. */
export function allocMasks(info: EnvInfo): EnvMasks {
  return {
    obsMask: new Uint8Array(info.nEntities * info.nEntities),
    entityMask: new Uint8Array(info.nEntities),
    entity2taskMask: new Uint8Array(info.nEntities * info.nTasks),
    taskMask: new Uint8Array(info.nTasks),
  };
}
