/**
 * Building the one configuration object: presets merged in the reference's order (spec §17),
 * overrides, validation with errors that name the key, deep freezing, and the JSON form written
 * to `DIR/config.json`.
 */
import type * as z from "zod";
import { ENV_PRESETS, METHOD_ENV_RESTRICTIONS, METHOD_PRESETS, scalePresetFor } from "./presets.js";
import {
  type AlmaConfig,
  type ConfigLayer,
  ConfigSchema,
  ENV_ALIASES,
  type EnvName,
  METHOD_NAMES,
  type MethodName,
  SCALE_NAMES,
  type ScaleName,
} from "./schema.js";
import { ConfigError, getPath, parseSetArg, setPath, suggestKeys } from "./set.js";

/** What `resolveConfig` takes; every field optional. */
export interface ResolveOptions {
  /** Environment name or alias (`savethecity`/`ff`, `battle`/`starcraft`/`sc2multiarmy`). Default `savethecity`. */
  env?: string;
  /** Method preset (§17). Default `aqmix`. */
  method?: string;
  /** Scenario family; default from the environment preset. */
  scenario?: string;
  /** `paper` (default) or `cpu`. */
  scale?: string;
  /** Base seed (`--seed`). */
  seed?: number;
  /** Run length in env steps (`--steps`), i.e. `run.tMax`. */
  steps?: number;
  /** `--set key=value` arguments, applied last, in order. */
  sets?: readonly string[];
  /** Programmatic overrides (same precedence as `sets`, applied before them). */
  overrides?: ConfigLayer;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Key-wise merge of plain objects (later layers win; non-objects replace). Inputs are not modified. */
export function mergeLayers(...layers: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const mergeInto = (dst: Record<string, unknown>, src: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined) continue;
      if (isPlainObject(v)) {
        const cur = dst[k];
        const child: Record<string, unknown> = isPlainObject(cur) ? { ...cur } : {};
        mergeInto(child, v);
        dst[k] = child;
      } else {
        dst[k] = v;
      }
    }
  };
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (!isPlainObject(layer))
      throw new ConfigError("a configuration layer must be a plain object");
    mergeInto(out, layer);
  }
  return out;
}

/** Dotted paths of all leaves of a plain nested object. */
function leafPaths(
  obj: Record<string, unknown>,
  prefix = "",
  out = new Set<string>(),
): Set<string> {
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v)) leafPaths(v, p, out);
    else if (v !== undefined) out.add(p);
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

function formatIssues(issues: readonly z.core.$ZodIssue[], source: string): ConfigError {
  const lines: string[] = [];
  let firstKey: string | undefined;
  for (const iss of issues) {
    const base = iss.path.map(String).join(".");
    if (iss.code === "unrecognized_keys") {
      for (const k of iss.keys) {
        const key = base ? `${base}.${k}` : k;
        firstKey ??= key;
        const hints = suggestKeys(key);
        const hint = hints.length
          ? ` (did you mean ${hints.map((h) => `"${h}"`).join(", ")}?)`
          : "";
        lines.push(`unknown config key "${key}"${hint}`);
      }
      continue;
    }
    const key = base || "(root)";
    firstKey ??= base || undefined;
    lines.push(`${key}: ${iss.message}`);
  }
  const head = lines.length === 1 ? `invalid ${source}: ` : `invalid ${source}:\n  `;
  return new ConfigError(head + lines.join("\n  "), firstKey);
}

/**
 * Validate a (possibly partial) configuration object against the schema, filling defaults.
 * Unknown keys and bad values throw `ConfigError` naming every offending key. The result is
 * deeply frozen.
 */
export function validateConfig(input: unknown, source = "configuration"): AlmaConfig {
  const r = ConfigSchema.safeParse(input);
  if (!r.success) throw formatIssues(r.error.issues, source);
  return deepFreeze(r.data);
}

function normalizeEnv(env: string | undefined): EnvName {
  if (env === undefined) return "savethecity";
  const hit = ENV_ALIASES[env.trim().toLowerCase()];
  if (!hit) {
    throw new ConfigError(
      `unknown env "${env}": expected one of ${Object.keys(ENV_ALIASES).join(", ")}`,
      "env.name",
    );
  }
  return hit;
}

function normalizeMethod(method: string | undefined): MethodName {
  if (method === undefined) return "aqmix";
  const m = method.trim().toLowerCase().replace(/_/g, "-");
  if (!(METHOD_NAMES as readonly string[]).includes(m)) {
    throw new ConfigError(
      `unknown method "${method}": expected one of ${METHOD_NAMES.join(", ")}`,
      "method",
    );
  }
  return m as MethodName;
}

function normalizeScale(scale: string | undefined): ScaleName {
  if (scale === undefined) return "paper";
  const s = scale.trim().toLowerCase();
  if (!(SCALE_NAMES as readonly string[]).includes(s)) {
    throw new ConfigError(
      `unknown scale "${scale}": expected one of ${SCALE_NAMES.join(", ")}`,
      "scale",
    );
  }
  return s as ScaleName;
}

/**
 * Resolve the run configuration: schema defaults < environment preset < method preset <
 * scenario < explicit overrides (`overrides`, `seed`, `steps`, `sets`), with the scale preset's
 * derived values filling keys the caller did not set explicitly (see `scalePresetFor`).
 * Returns the validated, deeply frozen config; throws `ConfigError` naming the key at fault.
 */
export function resolveConfig(opts: ResolveOptions = {}): AlmaConfig {
  const env = normalizeEnv(opts.env);
  const method = normalizeMethod(opts.method);
  const scale = normalizeScale(opts.scale);
  const only = METHOD_ENV_RESTRICTIONS[method];
  if (only && only !== env) {
    throw new ConfigError(
      `method "${method}" applies only to env "${only}" (it sets the StarCraft heuristic style, spec §9.3); got env "${env}"`,
      "method",
    );
  }
  if (opts.scenario !== undefined && opts.scenario.trim() === "") {
    throw new ConfigError("env.scenario: expected a non-empty scenario name", "env.scenario");
  }

  const explicit: Record<string, unknown> = mergeLayers(opts.overrides ?? {});
  if (opts.seed !== undefined) setPath(explicit, "seed", opts.seed);
  if (opts.steps !== undefined) setPath(explicit, "run.tMax", opts.steps);
  for (const arg of opts.sets ?? []) {
    const { path, value } = parseSetArg(arg);
    setPath(explicit, path, value);
  }
  for (const key of ["method", "scale"]) {
    if (key in explicit) {
      throw new ConfigError(
        `config key "${key}" is chosen by resolveConfig's "${key}" option`,
        key,
      );
    }
  }
  if (getPath(explicit, "env.name") !== undefined) {
    throw new ConfigError(
      'config key "env.name" is chosen by resolveConfig\'s "env" option',
      "env.name",
    );
  }

  const explicitPaths = leafPaths(explicit);
  const tMaxSet = getPath(explicit, "run.tMax");
  const scaleLayer = scalePresetFor(
    scale,
    env,
    typeof tMaxSet === "number" ? tMaxSet : undefined,
    explicitPaths,
  );
  const merged = mergeLayers(
    ENV_PRESETS[env],
    METHOD_PRESETS[method],
    opts.scenario !== undefined ? { env: { scenario: opts.scenario } } : {},
    scaleLayer,
    explicit,
    { method, scale, env: { name: env } },
  );
  return validateConfig(merged, `configuration (env=${env}, method=${method}, scale=${scale})`);
}

/** The JSON text written to `DIR/config.json` (stable key order = schema order, 2-space indent). */
export function configToJSON(config: AlmaConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Read a config back from `config.json` text. Validates exactly like `resolveConfig` (unknown keys
 * and bad values name the key); keys missing from older files take their defaults.
 */
export function configFromJSON(text: string, source = "config.json"): AlmaConfig {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${source} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(obj)) throw new ConfigError(`${source} must contain a JSON object`);
  return validateConfig(obj, source);
}

/**
 * Apply `--set` arguments on top of an existing (e.g. loaded) config, re-validating the result.
 * Used by `alma resume --set ...`. Presets are not re-applied.
 */
export function withSets(config: AlmaConfig, sets: readonly string[]): AlmaConfig {
  const layer: Record<string, unknown> = {};
  for (const arg of sets) {
    const { path, value } = parseSetArg(arg);
    setPath(layer, path, value);
  }
  return validateConfig(mergeLayers(config, layer), "configuration");
}
