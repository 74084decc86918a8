/**
 * Environments: the composite-task contract, the registry, the conformance suite and the
 * built-in tasks. See `types.ts` for the contract and `examples/custom-env.ts` for a worked
 * custom environment.
 */

export * as battle from "./battle/index.js";
export {
  ConformanceError,
  type ConformanceOptions,
  type ConformanceReport,
  checkConformance,
} from "./conformance.js";
export {
  type EnvEntry,
  envEntry,
  envNames,
  type MakeEnvOptions,
  makeEnv,
  registerEnv,
} from "./registry.js";
export { Rng } from "./rng.js";
export * as savethecity from "./savethecity/index.js";
export * from "./types.js";
