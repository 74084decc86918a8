/** Episode records and the replay buffer (spec §2.2, §10, §12). */
export * from "./builder.js";
export * from "./episode.js";
export * from "./layout.js";
export * from "./recency.js";
export * from "./replay.js";
export * from "./serialize.js";
export * from "./window.js";
