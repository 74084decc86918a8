/**
 * Rendering: a Vega-Lite spec → SVG text (Vega's headless `"none"` renderer, no canvas or browser
 * needed), and SVG → PNG with resvg (a Rust SVG renderer shipped as a prebuilt npm binary).
 *
 * Fonts: resvg draws no text without font files, and a fresh clone (or CI) may have no system
 * fonts at all, so we load DejaVu Sans from the `dejavu-fonts-ttf` npm package (TTF; resvg cannot
 * read the WOFF/WOFF2 that `@fontsource/*` ships) and do not load system fonts: the PNG then looks
 * the same on every machine. The SVG names the same family with a generic fallback, so a browser
 * without DejaVu still shows text.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Resvg, type ResvgRenderOptions } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** The font family written into SVGs and loaded for PNG rendering. */
export const PLOT_FONT_FAMILY = "DejaVu Sans";
/** CSS font list for the SVG (first = the TTF we ship for the PNG; then a generic fallback). */
export const PLOT_FONT = `${PLOT_FONT_FAMILY}, sans-serif`;

/** Paths of the bundled DejaVu Sans TTF files (regular and bold: titles are bold). */
export function plotFontFiles(): string[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf");
  return [join(dir, "DejaVuSans.ttf"), join(dir, "DejaVuSans-Bold.ttf")];
}

/** Compile a Vega-Lite spec and render it to standalone SVG text, headless. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  // renderer "none": build the scenegraph without a DOM; toSVG() then serialises it.
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * resvg options for our figures: `scale` multiplies the SVG's own size (2 = crisp on HiDPI
 * screens and in papers); white background so the PNG reads well in dark-mode viewers; only the
 * bundled font, so output does not depend on the machine's fonts.
 */
export function resvgOptions(scale = 2): ResvgRenderOptions {
  return {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: {
      fontFiles: plotFontFiles(),
      loadSystemFonts: false,
      defaultFontFamily: PLOT_FONT_FAMILY,
      sansSerifFamily: PLOT_FONT_FAMILY,
    },
  };
}

/** Rasterise SVG text to PNG bytes (see `resvgOptions`). */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  return new Resvg(svg, resvgOptions(scale)).render().asPng();
}
