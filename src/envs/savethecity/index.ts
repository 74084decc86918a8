/** SaveTheCity: the public surface (spec: environments.md §2). */
export * from "./constants.js";
export { SaveTheCity, type SaveTheCityOptions, type SaveTheCityState } from "./env.js";
export { scriptedActions } from "./policy.js";
export { buildingStatus, renderSaveTheCitySvg, renderSaveTheCityText } from "./render.js";
export {
  DEFAULT_SCENARIO,
  SCENARIO_NAMES,
  type Scenario,
  type ScenarioFamily,
  scenarioFamily,
  teamLetters,
} from "./scenarios.js";
