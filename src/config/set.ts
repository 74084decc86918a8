/**
 * `--set key=value` overrides: dotted paths into the configuration, typed coercion driven by the
 * schema, and errors that name the key and say what was expected (issue 3 item 6).
 *
 * Keys are the camelCase config paths (`hierAgent.nProposals`), or the spec's own names
 * (`hier_agent.n_proposals`, `batch_size`, `epsilon_anneal_time`, §18) through `SPEC_KEY_ALIASES`.
 */
import type * as z from "zod";
import { ConfigSchema } from "./schema.js";

/** An invalid configuration, key or value. `key` is the dotted path at fault when there is one. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Spec key (§18, reference YAML spelling) → config path. Every spec hyperparameter this
 * implementation represents appears here; `listConfigKeys()` gives the full path list.
 */
export const SPEC_KEY_ALIASES: Readonly<Record<string, string>> = {
  // §18.1 global
  runner: "run.runner",
  batch_size_run: "run.batchSizeRun",
  training_iters: "run.trainingIters",
  t_max: "run.tMax",
  test_nepisode: "run.testNepisode",
  test_interval: "run.testInterval",
  test_greedy: "run.testGreedy",
  log_interval: "run.logInterval",
  runner_log_interval: "run.runnerLogInterval",
  learner_log_interval: "run.learnerLogInterval",
  save_model: "run.saveModel",
  save_model_interval: "run.saveModelInterval",
  batch_size: "buffer.batchSize",
  buffer_size: "buffer.bufferSize",
  max_traj_len: "buffer.maxTrajLen",
  gamma: "learner.gamma",
  lr: "optim.lr",
  optim_alpha: "optim.optimAlpha",
  optim_eps: "optim.optimEps",
  grad_norm_clip: "optim.gradNormClip",
  weight_decay: "optim.weightDecay",
  alloc_q_weight_decay: "optim.allocQWeightDecay",
  target_update_interval: "learner.targetUpdateInterval",
  alloc_target_update_interval: "learner.allocTargetUpdateInterval",
  popart: "learner.popart",
  vi_lambda: "learner.viLambda",
  lmbda: "learner.lmbda",
  double_q: "learner.doubleQ",
  n_extra_tasks: "agent.nExtraTasks",
  n_extra_units: "env.battle.nExtraUnits",
  epsilon_start: "exploration.epsilonStart",
  epsilon_finish: "exploration.epsilonFinish",
  epsilon_anneal_time: "exploration.epsilonAnnealTime",
  mask_subtask_actions: "exploration.maskSubtaskActions",
  entity_last_action: "agent.entityLastAction",
  mixing_embed_dim: "mixer.mixingEmbedDim",
  hypernet_embed: "mixer.hypernetEmbed",
  softmax_mixing_weights: "mixer.softmaxMixingWeights",
  mixer_subtask_cond: "mixer.subtaskCond",
  rnn_hidden_dim: "agent.rnnHiddenDim",
  attn_embed_dim: "agent.attnEmbedDim",
  attn_n_heads: "agent.attnNHeads",
  alloc_embed_dim: "hierAgent.allocEmbedDim",
  alloc_n_heads: "hierAgent.allocNHeads",
  seed: "seed",
  "agent.recurrent": "agent.recurrent",
  "agent.imagine": "agent.imagine",
  "agent.subtask_cond": "agent.subtaskCond",
  // §18.2 hier_agent.*
  "hier_agent.task_allocation": "hierAgent.taskAllocation",
  "hier_agent.copa": "hierAgent.copa",
  "hier_agent.mask_copa": "hierAgent.maskCopa",
  "hier_agent.copa_vi_loss": "hierAgent.copaViLoss",
  "hier_agent.action_length": "hierAgent.actionLength",
  "hier_agent.alloc_critic": "hierAgent.allocCritic",
  "hier_agent.alloc_policy": "hierAgent.allocPolicy",
  "hier_agent.decay_old": "hierAgent.decayOld",
  "hier_agent.n_proposals": "hierAgent.nProposals",
  "hier_agent.alloc_eps": "hierAgent.allocEps",
  "hier_agent.prop_alloc_eps": "hierAgent.propAllocEps",
  "hier_agent.entropy_loss": "hierAgent.entropyLoss",
  "hier_agent.alloc_opt": "hierAgent.allocOpt",
  "hier_agent.max_bs": "hierAgent.maxBs",
  "hier_agent.pi_ag_attn": "hierAgent.piAgAttn",
  "hier_agent.subtask_mask": "hierAgent.subtaskMask",
  "hier_agent.sel_task_upd": "hierAgent.selTaskUpd",
  "hier_agent.pi_pointer_net": "hierAgent.piPointerNet",
  "hier_agent.pi_autoreg": "hierAgent.piAutoreg",
  // §18.3 environment settings
  scenario: "env.scenario",
  "env_args.episode_limit": "env.episodeLimit",
  "env_args.end_on_any_burn": "env.savethecity.endOnAnyBurn",
  "env_args.heuristic_style": "env.battle.heuristicStyle",
  "env_args.spread_armies": "env.battle.spreadArmies",
};

/** Keys chosen by dedicated options rather than `--set` (their presets must be applied too). */
const NOT_SETTABLE: Readonly<Record<string, string>> = {
  method: "--method",
  scale: "--scale",
  "env.name": "--env",
};

type AnySchema = z.ZodType;

interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  entries?: Record<string, string>;
  values?: readonly unknown[];
  defaultValue?: unknown;
}

function defOf(s: AnySchema): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch"]);

/** Strip default/optional wrappers; returns the inner schema and its default when there is one. */
function unwrap(s: AnySchema): { schema: AnySchema; def: Def; defaultValue?: unknown } {
  let cur = s;
  let defaultValue: unknown;
  for (;;) {
    const d = defOf(cur);
    if (d.type === "default" && defaultValue === undefined) {
      const dv = d.defaultValue;
      defaultValue = typeof dv === "function" ? (dv as () => unknown)() : dv;
    }
    if (WRAPPERS.has(d.type) && d.innerType) {
      cur = d.innerType;
      continue;
    }
    return { schema: cur, def: d, defaultValue };
  }
}

function shapeOf(s: AnySchema): Record<string, AnySchema> | null {
  const { schema, def } = unwrap(s);
  if (def.type !== "object") return null;
  return (schema as unknown as { shape: Record<string, AnySchema> }).shape;
}

/** Description of one leaf key, for `alma config --keys` style listings and error messages. */
export interface ConfigKeyInfo {
  /** Dotted camelCase path. */
  readonly path: string;
  /** `number`, `integer`, `boolean`, `string` or `enum`. */
  readonly type: string;
  /** Allowed values for enums and literals. */
  readonly options?: readonly (string | number | boolean)[];
  /** Schema default (the paper default for SaveTheCity A-QMIX). */
  readonly defaultValue: unknown;
}

function leafType(def: Def, schema: AnySchema): string {
  if (def.type === "number") {
    const fmt = (schema as unknown as { format?: string | null }).format;
    return fmt?.includes("int") ? "integer" : "number";
  }
  if (def.type === "literal") return typeof def.values?.[0];
  return def.type;
}

function enumOptions(def: Def): (string | number | boolean)[] | undefined {
  if (def.type === "enum" && def.entries) return Object.values(def.entries);
  if (def.type === "literal" && def.values) return def.values as (string | number | boolean)[];
  return undefined;
}

let keyCache: ConfigKeyInfo[] | null = null;

/** Every leaf key of the configuration with its type and default, in schema order. */
export function listConfigKeys(): readonly ConfigKeyInfo[] {
  if (keyCache) return keyCache;
  const out: ConfigKeyInfo[] = [];
  const walk = (s: AnySchema, prefix: string): void => {
    const shape = shapeOf(s)!;
    for (const [k, child] of Object.entries(shape)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const u = unwrap(child);
      if (u.def.type === "object") {
        walk(child, path);
        continue;
      }
      const options = enumOptions(u.def);
      out.push({
        path,
        type: u.def.type === "enum" ? "enum" : leafType(u.def, u.schema),
        ...(options ? { options } : {}),
        defaultValue: u.defaultValue,
      });
    }
  };
  walk(ConfigSchema, "");
  keyCache = out;
  return out;
}

/** Small edit distance for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const row = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= n; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[n]!;
}

/** "did you mean" suggestions among all leaf paths, matched on the full path and the last segment. */
export function suggestKeys(key: string, max = 3): string[] {
  const lower = key.toLowerCase();
  const last = lower.split(".").pop()!;
  const scored = listConfigKeys().map((k) => {
    const p = k.path.toLowerCase();
    const leaf = p.split(".").pop()!;
    const d = Math.min(editDistance(lower, p), editDistance(last, leaf) + 0.5);
    return { path: k.path, d: p.includes(last) || leaf.includes(last) ? Math.min(d, 1) : d };
  });
  scored.sort((a, b) => a.d - b.d || a.path.localeCompare(b.path));
  const limit = Math.max(2, Math.ceil(last.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .slice(0, max)
    .map((s) => s.path);
}

function unknownKeyError(key: string): ConfigError {
  const hints = suggestKeys(key);
  const hint = hints.length ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)` : "";
  return new ConfigError(
    `unknown config key "${key}"${hint}; \`alma config --keys\` lists every key`,
    key,
  );
}

/** Map a user key (camelCase path or spec alias) to its canonical dotted path. Throws on unknown keys. */
export function canonicalKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed === "") throw new ConfigError("empty config key in --set (expected key=value)");
  const alias = SPEC_KEY_ALIASES[trimmed];
  const path = alias ?? trimmed;
  if (NOT_SETTABLE[path]) {
    throw new ConfigError(
      `config key "${path}" cannot be set with --set; use ${NOT_SETTABLE[path]} (its preset must be applied)`,
      path,
    );
  }
  let s: AnySchema = ConfigSchema;
  const segs = path.split(".");
  for (let i = 0; i < segs.length; i++) {
    const shape = shapeOf(s);
    const seg = segs[i]!;
    if (!shape || !Object.hasOwn(shape, seg)) throw unknownKeyError(trimmed);
    s = shape[seg]!;
  }
  if (unwrap(s).def.type === "object") {
    const children = Object.keys(shapeOf(s)!).join(", ");
    throw new ConfigError(
      `config key "${path}" is a group, not a value; set one of its keys: ${children}`,
      path,
    );
  }
  return path;
}

function leafSchema(path: string): { schema: AnySchema; def: Def } {
  let s: AnySchema = ConfigSchema;
  for (const seg of path.split(".")) s = shapeOf(s)![seg]!;
  return unwrap(s);
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

function coerceNumber(path: string, raw: string): number {
  const t = raw.trim().replace(/_/g, "");
  const v = t === "" ? Number.NaN : Number(t);
  if (!Number.isFinite(v)) {
    throw new ConfigError(`--set ${path}=${raw}: expected a number, got "${raw}"`, path);
  }
  return v;
}

function coerceBoolean(path: string, raw: string): boolean {
  const t = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  throw new ConfigError(
    `--set ${path}=${raw}: expected a boolean (true/false, 1/0, yes/no, on/off), got "${raw}"`,
    path,
  );
}

/**
 * Convert the string value of `--set path=raw` to the type the schema expects at `path`.
 * Range checks and cross-field rules are applied later, when the whole config is validated.
 */
export function coerceValue(path: string, raw: string): unknown {
  const { def } = leafSchema(path);
  switch (def.type) {
    case "number":
      return coerceNumber(path, raw);
    case "boolean":
      return coerceBoolean(path, raw);
    case "string":
      return raw;
    case "enum": {
      const opts = Object.values(def.entries ?? {});
      if (opts.includes(raw)) return raw;
      // The spec writes the reference's None as None/null; here it is the string "none".
      const t = raw.trim();
      const lower = t.toLowerCase();
      const norm = lower === "null" || lower === "none" ? "none" : t;
      const hit = opts.find((o) => o === norm || o.toLowerCase() === lower);
      if (hit !== undefined) return hit;
      throw new ConfigError(
        `--set ${path}=${raw}: expected one of ${opts.map((o) => `"${o}"`).join(" | ")}, got "${raw}"`,
        path,
      );
    }
    case "literal": {
      const lit = def.values?.[0];
      const v =
        typeof lit === "boolean"
          ? coerceBoolean(path, raw)
          : typeof lit === "number"
            ? coerceNumber(path, raw)
            : raw;
      if (v !== lit) {
        throw new ConfigError(
          `--set ${path}=${raw}: expected ${JSON.stringify(lit)} (the only supported value), got "${raw}"`,
          path,
        );
      }
      return v;
    }
    default:
      throw new ConfigError(
        `--set ${path}: values of schema type "${def.type}" cannot be set from the command line`,
        path,
      );
  }
}

/** One parsed `--set` override. */
export interface SetOverride {
  /** Canonical dotted path. */
  readonly path: string;
  /** Coerced value. */
  readonly value: unknown;
  /** The original argument, for messages. */
  readonly raw: string;
}

/**
 * Parse one `key=value` argument (the first `=` splits; the value may be empty, e.g.
 * `hierAgent.propAllocEps=` to disable that schedule). Throws `ConfigError` naming the key.
 */
export function parseSetArg(arg: string): SetOverride {
  const eq = arg.indexOf("=");
  if (eq < 0) {
    throw new ConfigError(`--set "${arg}": expected key=value`, arg.trim() || undefined);
  }
  const path = canonicalKey(arg.slice(0, eq));
  const value = coerceValue(path, arg.slice(eq + 1));
  return { path, value, raw: arg };
}

/** Write `value` at dotted `path` into a plain nested object, creating groups as needed. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split(".");
  let cur = target;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i]!;
    const next = cur[seg];
    if (next === undefined || next === null || typeof next !== "object") cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}

/** Read the value at dotted `path` (undefined when absent). */
export function getPath(source: unknown, path: string): unknown {
  let cur = source;
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
