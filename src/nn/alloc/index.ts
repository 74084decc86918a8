/** ALMA's allocation controller: networks, meta-batch and AQL training step (spec §8, §12, §13). */
export * from "./attend.js";
export * from "./config.js";
export * from "./critic.js";
export * from "./metaBatch.js";
export * from "./policy.js";
export * from "./train.js";
