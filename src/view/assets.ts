/**
 * Where the viewer's page assets live at runtime.
 *
 * The page is plain files (`src/view/assets/index.html`, `viewer.css`, `viewer.js`) so it can be
 * edited, linted and read as ordinary HTML/CSS/JS, with no build step. `tsc` does not copy
 * non-TS files, so instead of copying them into `dist/` we read them from the source tree,
 * located relative to this module's own URL:
 *
 * - compiled: `dist/src/view/assets.js` → `../../../src/view/assets/` = `<repo>/src/view/assets/`
 * - run from source (e.g. a TS loader): `src/view/assets.ts` → `./assets/`
 *
 * The package ships `src/` (there is no `files` whitelist), so both layouts hold in an installed
 * copy too. The first candidate directory holding `index.html` wins.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The files the page is made of, and the content type each one is served with. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "viewer.css": "text/css; charset=utf-8",
  "viewer.js": "text/javascript; charset=utf-8",
};

const CANDIDATES = ["../../../src/view/assets/", "./assets/"];

/** Absolute path of the assets directory; throws naming every place it looked. */
export function assetsDir(): string {
  const tried: string[] = [];
  for (const rel of CANDIDATES) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
    tried.push(dir);
  }
  throw new Error(`alma view: page assets not found; looked in ${tried.join(", ")}`);
}

/** Read every asset once (the server starts only if the page is complete). */
export function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const dir = assetsDir();
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) {
    out.set(name, { type, body: readFileSync(`${dir}${name}`) });
  }
  return out;
}
