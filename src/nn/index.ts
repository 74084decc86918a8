/** Neural modules and the low-level learner core (spec §3–§7, §11, §13, §14). */
export * from "./agent.js";
export * from "./attention.js";
export * from "./engine.js";
export * from "./layers.js";
export * from "./lowLevel.js";
export * from "./mixer.js";
export * from "./popart.js";
export * from "./synthetic.js";
export * from "./taskEmbed.js";
