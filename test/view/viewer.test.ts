/**
 * End-to-end test of the replay viewer in a real headless Chromium (Debian `chromium`, driven by
 * `playwright-core`, which never downloads a browser): record real episodes, serve them, load
 * the page, step, scrub, play, take a screenshot and check what is drawn.
 *
 * Chromium is required, not optional: when it is missing the test fails and says how to
 * install it, so a CI machine without it cannot pass silently. `ALMA_CHROMIUM` overrides the
 * browser path; `ALMA_VIEWER_SCREENSHOT=FILE.png` keeps a copy of the screenshot.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { chromium } from "playwright-core";
import type { Replay } from "../../src/run/replay.js";
import { serveViewer } from "../../src/view/server.js";
import { recordSampleRun } from "./record.js";

const CHROMIUM = process.env["ALMA_CHROMIUM"] ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const count = (svg: string, cls: string) =>
  (svg.match(new RegExp(`class="${cls}"`, "g")) ?? []).length;

it("plays a recorded replay back in headless Chromium", { timeout: 60_000 }, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium not found at ${CHROMIUM}: the viewer test needs a real browser. Install it with ` +
      "`sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu), or point " +
      "ALMA_CHROMIUM at a Chromium binary.",
  );
  const dir = mkdtempSync(join(tmpdir(), "alma-view-e2e-"));
  const viewer = await (async () => {
    // An experiment with two runs, so the picker has something to switch between.
    const [stc] = await recordSampleRun(join(dir, "exp", "a-savethecity"), { seed: 41 });
    const [battle] = await recordSampleRun(join(dir, "exp", "b-battle"), { env: "battle" });
    return { stc, battle, server: await serveViewer(join(dir, "exp"), { port: 0 }) };
  })();
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    chromiumSandbox: false,
    viewport: { width: 1400, height: 950 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });

    const replay: Replay = viewer.stc;
    const last = replay.frames.length - 1;
    const lastT = replay.frames[last].t;
    const decisions = replay.frames.flatMap((f, i) => (f.decision ? [i] : []));

    await page.goto(viewer.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    // The savethecity run sorts first, so it opens by default.
    assert.equal(await page.inputValue("#replay-select"), "a-savethecity/episode-000");
    assert.equal(await page.locator("#replay-select option").count(), 2);

    // First frame: the environment's own SVG, with every building and agent of this episode.
    const first = replay.frames[0];
    assert.ok(count(first.svg, "building") > 0);
    assert.equal(await page.locator("#frame svg .building").count(), count(first.svg, "building"));
    assert.equal(await page.locator("#frame svg .agent").count(), replay.nAgents);
    assert.equal(await page.locator("#frame svg .alloc").count(), 0, "no allocation before step 1");
    assert.equal(await page.textContent("#step-label"), `step 0 / ${lastT}`);
    assert.ok(await page.isDisabled("#step-back"));
    const frame0 = await page.innerHTML("#frame");

    // Step 1 is the first decision: every agent's allocation is new and highlighted.
    await page.click("#step-forward");
    assert.equal(await page.textContent("#step-label"), `step 1 / ${lastT}`);
    assert.equal(await page.locator("#alloc-panel tr[data-agent]").count(), replay.nAgents);
    assert.equal(await page.locator("#alloc-panel tr.changed").count(), replay.nAgents);
    const allocated = replay.frames[1].allocation!.filter((k) => k >= 0).length;
    assert.equal(await page.locator("#frame svg .alloc").count(), allocated);
    for (const [a, k] of replay.frames[1].allocation!.entries()) {
      const row = page.locator(`#alloc-panel tr[data-agent="${a}"]`);
      assert.equal(await row.getAttribute("data-subtask"), String(k));
    }

    await page.click("#step-forward");
    await page.click("#step-forward");
    assert.equal(await page.textContent("#step-label"), `step 3 / ${lastT}`);
    assert.equal(await page.getAttribute("#frame", "data-index"), "3");
    assert.notEqual(await page.innerHTML("#frame"), frame0, "the frame changed");
    assert.equal(await page.getAttribute("#timeline-cursor", "data-index"), "3");
    assert.equal(
      await page.locator("#alloc-panel tr.changed").count(),
      replay.frames[3].allocationChanged!.filter(Boolean).length,
    );
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.textContent("#step-label"), `step 2 / ${lastT}`);

    // Timeline: one marker per decision point, at the right steps, and one bar per nonzero reward.
    const marks = page.locator("#timeline [data-decision]");
    assert.equal(await marks.count(), decisions.length);
    const at = await marks.evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute("data-decision"))),
    );
    assert.deepEqual(at, decisions);
    assert.equal(
      await page.locator("#timeline rect.reward").count(),
      replay.frames.filter((f) => f.reward !== null && f.reward !== 0).length,
    );

    // Scrub to the end.
    await page.fill("#scrub", String(last));
    assert.equal(await page.textContent("#step-label"), `step ${lastT} / ${lastT}`);
    assert.equal(await page.getAttribute("#timeline-cursor", "data-index"), String(last));
    assert.ok(await page.isDisabled("#step-forward"));
    assert.equal(
      await page.locator("#frame svg .building").count(),
      count(replay.frames[last].svg, "building"),
    );
    // Episode stats, one row per recorded statistic.
    assert.equal(
      await page.locator("#stats [data-stat]").count(),
      Object.keys(replay.stats).length,
    );

    // Play from the start at top speed: the cursor moves on its own, and pause stops it.
    await page.click("#to-start");
    await page.selectOption("#speed", "50");
    await page.click("#play");
    assert.equal(await page.getAttribute("#play", "data-playing"), "true");
    // Poll from here: the page's CSP forbids the string eval a page-side predicate would need.
    const deadline = Date.now() + 10_000;
    while (Number(await page.getAttribute("#frame", "data-index")) < 5) {
      assert.ok(Date.now() < deadline, "playback did not advance");
      await page.waitForTimeout(20);
    }
    await page.click("#play");
    assert.equal(await page.getAttribute("#play", "data-playing"), "false");
    const stopped = await page.getAttribute("#frame", "data-index");
    await page.waitForTimeout(150);
    assert.equal(await page.getAttribute("#frame", "data-index"), stopped, "paused means paused");

    // A screenshot mid-episode, of the whole page.
    await page.fill("#scrub", String(Math.min(12, last)));
    const shot = join(dir, "viewer.png");
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.readUInt32BE(16) >= 1400 && png.readUInt32BE(20) >= 900, "PNG has page size");
    // A blank or near-blank page compresses to a few kB; the drawn viewer is far larger.
    assert.ok(png.length > 40_000, `screenshot is only ${png.length} bytes`);
    const keep = process.env["ALMA_VIEWER_SCREENSHOT"];
    if (keep) copyFileSync(shot, keep);

    // The picker switches to the other run's replay, a battle, drawn by its own renderer.
    await page.selectOption("#replay-select", "b-battle/episode-000");
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.textContent("#replay-meta")) ?? "", /battle/);
    assert.equal(
      await page.textContent("#step-label"),
      `step 0 / ${viewer.battle.frames.at(-1)!.t}`,
    );
    assert.equal(
      await page.locator("#timeline [data-decision]").count(),
      viewer.battle.frames.filter((f) => f.decision).length,
    );
    assert.match(page.url(), /\?replay=b-battle%2Fepisode-000$/);

    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await viewer.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
