/** Configuration: one typed, validated object; presets; `--set` overrides (spec §17, §18). */
export * from "./presets.js";
export * from "./resolve.js";
export * from "./schedule.js";
export * from "./schema.js";
export * from "./set.js";
