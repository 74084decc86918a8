/** Learning-curve figures (SVG + PNG), `metrics.csv` export and markdown results tables. */
export {
  type CompareGroup,
  type CompareOptions,
  type CompareResult,
  compareRuns,
  curveSpec,
  figurePaths,
  PALETTE,
} from "./compare.js";
export {
  formatDuration,
  type ResultsTableOptions,
  resultsTable,
  writeMetricsCsv,
} from "./export.js";
export {
  PLOT_FONT,
  PLOT_FONT_FAMILY,
  plotFontFiles,
  resvgOptions,
  svgToPng,
  vegaLiteToSvg,
} from "./render.js";
export {
  aggregateCurves,
  type CurvePoint,
  endTolerance,
  expandRunDirs,
  GROUP_BY_CHOICES,
  type GroupBy,
  groupRuns,
  interpolate,
  loadRun,
  METRICS_FILE,
  type RunInfo,
  runCurve,
  smoothEma,
  valueAt,
} from "./runs.js";
