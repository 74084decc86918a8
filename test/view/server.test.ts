/** The viewer's HTTP side: finding replays, the JSON endpoints, and what it refuses. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Replay } from "../../src/run/replay.js";
import { findReplays, serveViewer, type ViewerServer } from "../../src/view/server.js";
import { recordSampleRun } from "./record.js";

/** GET with a raw path and Host header (fetch would normalise `..` and pin Host). */
function get(
  url: string,
  path: string,
  host?: string,
): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: "GET",
        headers: host === undefined ? {} : { host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          ok({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", fail);
    req.end();
  });
}

describe("alma view server", () => {
  let dir: string;
  let stc: Replay[];
  let viewer: ViewerServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "alma-view-server-"));
    // An experiment: two run directories, each with its own replays/ folder.
    stc = await recordSampleRun(join(dir, "exp", "stc-0"), { episodes: 2 });
    await recordSampleRun(join(dir, "exp", "battle-0"), { env: "battle" });
    writeFileSync(join(dir, "exp", "stc-0", "replays", "broken.replay.json.gz"), "not gzip");
    viewer = await serveViewer(join(dir, "exp"), { port: 0 });
  });

  after(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds replays in a run, an experiment, a replays/ folder and a single file", () => {
    assert.deepEqual(
      findReplays(join(dir, "exp")).map((e) => e.name),
      ["battle-0/episode-000", "stc-0/broken", "stc-0/episode-000", "stc-0/episode-001"],
    );
    assert.deepEqual(
      findReplays(join(dir, "exp", "stc-0")).map((e) => e.name),
      ["broken", "episode-000", "episode-001"],
    );
    assert.deepEqual(
      findReplays(join(dir, "exp", "stc-0", "replays")).map((e) => e.name),
      ["broken", "episode-000", "episode-001"],
    );
    const file = join(dir, "exp", "stc-0", "replays", "episode-001.replay.json.gz");
    assert.deepEqual(findReplays(file), [{ name: "episode-001", path: file }]);
    assert.throws(() => findReplays(join(dir, "nope")), /does not exist/);
  });

  it("refuses to start without replays, or on a host other than loopback", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    await assert.rejects(serveViewer(empty), /no replays found; looked for .*replays/);
    await assert.rejects(
      serveViewer(join(dir, "exp"), { host: "0.0.0.0" as "127.0.0.1" }),
      /host must be 127.0.0.1/,
    );
  });

  it("lists replays with their summary, and marks unreadable ones", async () => {
    const res = await get(viewer.url, "/api/replays");
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/json/);
    const list = JSON.parse(res.body).replays as Array<Record<string, unknown>>;
    assert.equal(list.length, 4);
    const first = list.find((r) => r.name === "stc-0/episode-000")!;
    assert.equal(first.env, "savethecity");
    assert.equal(first.length, stc[0].length);
    assert.equal(first.return, stc[0].episodeReturn);
    assert.equal(first.decisions, stc[0].frames.filter((f) => f.decision).length);
    assert.deepEqual(first.stats, stc[0].stats);
    assert.equal(first.file, "stc-0/replays/episode-000.replay.json.gz");
    assert.match(String(list.find((r) => r.name === "stc-0/broken")!.error), /not a gzip/);
  });

  it("serves a decoded replay by (encoded) name, and the page with its assets", async () => {
    const res = await get(viewer.url, `/api/replay/${encodeURIComponent("stc-0/episode-001")}`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), stc[1]);
    const page = await get(viewer.url, "/");
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /id="timeline"/);
    assert.match((await get(viewer.url, "/viewer.js")).type, /javascript/);
    assert.match((await get(viewer.url, "/viewer.css")).type, /text\/css/);
    assert.equal((await get(viewer.url, "/api/replay/nope")).status, 404);
    assert.equal((await get(viewer.url, "/api/replay/stc-0%2Fbroken")).status, 500);
    assert.equal((await get(viewer.url, "/nope.html")).status, 404);
  });

  it("refuses path traversal and foreign Host headers", async () => {
    for (const path of [
      "/api/replay/../../package.json",
      "/api/replay/..%2F..%2Fpackage.json",
      "/api/replay/%2e%2e/%2e%2e/etc/passwd",
      "/../src/view/server.ts",
      "/api/replay/..%5c..%5cpackage.json",
      "/api/replay/%E0%A4%A",
    ]) {
      const res = await get(viewer.url, path);
      assert.ok(res.status === 400, `${path} → ${res.status}`);
    }
    const port = new URL(viewer.url).port;
    assert.equal((await get(viewer.url, "/api/replays", `evil.example:${port}`)).status, 403);
    assert.equal((await get(viewer.url, "/api/replays", `localhost:${port}`)).status, 200);
  });
});
