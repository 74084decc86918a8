/** alma-ts public entry point. */
export * from "./envs/index.js";
