/**
 * `alma view RUN_DIR|REPLAY`: a small local web server (node:http only) that plays recorded
 * episodes back in the browser. It serves one static page (see `assets.ts` for where its files
 * come from) and two JSON endpoints:
 *
 * - `GET /api/replays`: `{ target, replays: ReplaySummary[] }`, rescanned on every request so
 *   replays written while the viewer runs (e.g. by a running `alma eval --record`) show up;
 * - `GET /api/replay/<name>`: the decoded, validated `Replay` (`name` URL-encoded, as listed).
 *
 * The page accepts `?replay=<name>` to open a given replay, so a run can link to it.
 *
 * Safety: the server binds 127.0.0.1 only, answers only requests whose Host header names that
 * address (or localhost) and its port (so a web page cannot reach it through DNS rebinding), and
 * never builds a file path from the URL: replay names are looked up in the index built by
 * scanning the target, and any path with a `..` segment is refused outright.
 */
import { readdirSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join, relative, resolve, sep } from "node:path";
import { type Replay, readReplay } from "../run/replay.js";
import { loadAssets } from "./assets.js";

export const REPLAY_SUFFIX = ".replay.json.gz";

export interface ViewerOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Only loopback is supported: replays are local files and the server has no authentication. */
  host?: "127.0.0.1";
}

export interface ViewerServer {
  /** Base URL of the page, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

/** One replay file found under the target. */
export interface ReplayEntry {
  /** Stable, URL-safe-after-encoding name, unique within the target (e.g. `seed-0/episode-000`). */
  name: string;
  /** Absolute path of the file. */
  path: string;
}

/** What `/api/replays` lists per replay (no frames: the list stays small). */
export interface ReplaySummary {
  name: string;
  /** Path relative to the target (the file itself when the target is a file). */
  file: string;
  env?: string;
  scenario?: string;
  title?: string;
  nAgents?: number;
  length?: number;
  return?: number;
  frames?: number;
  decisions?: number;
  stats?: Record<string, number>;
  /** Set instead of the fields above when the file cannot be read as a replay. */
  error?: string;
}

function isReplayFile(name: string): boolean {
  return name.endsWith(REPLAY_SUFFIX);
}

function listReplayFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isFile() && isReplayFile(d.name))
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("."))
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

/**
 * Find the replays at `target`: the file itself, or in a directory `DIR/*.replay.json.gz` (a
 * `replays/` folder given directly), `DIR/replays/` (a run) and `DIR/<run>/replays/` (an
 * experiment: one level of run directories). Sorted by name. Throws if `target` does not exist.
 */
export function findReplays(target: string): ReplayEntry[] {
  const root = resolve(target);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(root);
  } catch {
    throw new Error(`alma view: '${target}' does not exist`);
  }
  if (st.isFile()) {
    const name = basename(root).endsWith(REPLAY_SUFFIX)
      ? basename(root).slice(0, -REPLAY_SUFFIX.length)
      : basename(root);
    return [{ name, path: root }];
  }
  const files = [
    ...listReplayFiles(root),
    ...listReplayFiles(join(root, "replays")),
    ...subdirs(root).flatMap((d) => listReplayFiles(join(d, "replays"))),
  ];
  // Short names drop the `replays/` folder and the suffix; the full relative path is the fallback
  // only where two files would otherwise share a name.
  const rel = files.map((f) => relative(root, f).split(sep).join("/"));
  const short = rel.map((r) =>
    r
      .slice(0, -REPLAY_SUFFIX.length)
      .split("/")
      .filter((seg, i, all) => !(seg === "replays" && i === all.length - 2))
      .join("/"),
  );
  const entries = files.map((path, i) => ({
    name: short.filter((s) => s === short[i]).length > 1 ? rel[i] : short[i],
    path,
  }));
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Where to look, said in full when nothing is found. */
function whereWeLooked(target: string): string {
  const root = resolve(target);
  return [
    join(root, `*${REPLAY_SUFFIX}`),
    join(root, "replays", `*${REPLAY_SUFFIX}`),
    join(root, "*", "replays", `*${REPLAY_SUFFIX}`),
  ].join(", ");
}

/**
 * Decoded replays, reused while a file's size and mtime are unchanged. Only the few most recently
 * opened replays are kept whole (frames are most of a replay and an experiment can hold hundreds);
 * list summaries are small and kept for every file.
 */
class ReplayCache {
  private readonly full = new Map<string, { key: string; replay: Replay }>();
  private readonly summaries = new Map<string, { key: string; summary: ReplaySummary }>();

  constructor(private readonly keepWhole = 4) {}

  private static key(path: string): string {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  }

  get(path: string): Replay {
    const key = ReplayCache.key(path);
    const hit = this.full.get(path);
    this.full.delete(path);
    const replay = hit && hit.key === key ? hit.replay : readReplay(path);
    // Re-insert so Map order is least recently used first.
    this.full.set(path, { key, replay });
    while (this.full.size > this.keepWhole) this.full.delete(this.full.keys().next().value!);
    return replay;
  }

  summary(entry: ReplayEntry, file: string): ReplaySummary {
    let key: string;
    try {
      key = ReplayCache.key(entry.path);
    } catch (err) {
      return { name: entry.name, file, error: (err as Error).message };
    }
    const hit = this.summaries.get(entry.path);
    if (hit && hit.key === key && hit.summary.name === entry.name) return hit.summary;
    let summary: ReplaySummary;
    try {
      const r = readReplay(entry.path);
      summary = {
        name: entry.name,
        file,
        env: r.env,
        scenario: r.scenario,
        title: r.title,
        nAgents: r.nAgents,
        length: r.length,
        return: r.episodeReturn,
        frames: r.frames.length,
        decisions: r.frames.filter((f) => f.decision).length,
        stats: r.stats,
      };
    } catch (err) {
      summary = { name: entry.name, file, error: (err as Error).message };
    }
    this.summaries.set(entry.path, { key, summary });
    return summary;
  }
}

function summarise(entry: ReplayEntry, root: string, cache: ReplayCache): ReplaySummary {
  const file = relative(root, entry.path).split(sep).join("/") || basename(entry.path);
  return cache.summary(entry, file);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    // Replays change under a running eval; never let the browser serve a stale list or page.
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    // Frames are inserted as markup; allowing only our own script keeps anything odd in an SVG
    // (inline handlers, script elements) from running.
    "Content-Security-Policy":
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'",
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** Start the viewer for a replay file or a run / experiment directory. */
export async function serveViewer(target: string, opts: ViewerOptions = {}): Promise<ViewerServer> {
  const host = opts.host ?? "127.0.0.1";
  if (host !== "127.0.0.1")
    throw new Error(`alma view: host must be 127.0.0.1 (got '${String(host)}')`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`alma view: port must be an integer in 0..65535 (got ${port})`);
  if (findReplays(target).length === 0)
    throw new Error(`alma view: no replays found; looked for ${whereWeLooked(target)}`);
  const root = resolve(target);
  // Listed file paths are relative to the directory holding the replays.
  const rootDir = statSync(root).isFile() ? resolve(root, "..") : root;
  const assets = loadAssets();
  const cache = new ReplayCache();
  let index = new Map<string, ReplayEntry>();
  const rescan = (): ReplayEntry[] => {
    const entries = findReplays(target);
    index = new Map(entries.map((e) => [e.name, e]));
    return entries;
  };
  rescan();

  let boundPort = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const hostHeader = (req.headers.host ?? "").toLowerCase();
    if (hostHeader !== `127.0.0.1:${boundPort}` && hostHeader !== `localhost:${boundPort}`) {
      sendError(res, 403, "forbidden host");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, 405, "method not allowed");
      return;
    }
    // Route on the raw path, not a normalised URL: WHATWG URL parsing would silently resolve
    // `..` segments, and a request that tries them should be refused, not rewritten.
    const rawPath = (req.url ?? "/").split("?")[0];
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      sendError(res, 400, "malformed URL");
      return;
    }
    if (path.split(/[/\\]/).includes("..") || path.includes("\0")) {
      sendError(res, 400, "path traversal refused");
      return;
    }
    if (rawPath === "/" || rawPath === "/index.html") {
      const a = assets.get("index.html")!;
      send(res, 200, a.type, a.body);
      return;
    }
    const asset = assets.get(rawPath.slice(1));
    if (asset) {
      send(res, 200, asset.type, asset.body);
      return;
    }
    if (rawPath === "/api/replays") {
      const entries = rescan();
      sendJson(res, 200, {
        target: root,
        replays: entries.map((e) => summarise(e, rootDir, cache)),
      });
      return;
    }
    const prefix = "/api/replay/";
    if (rawPath.startsWith(prefix)) {
      const name = decodeURIComponent(rawPath.slice(prefix.length));
      const entry = index.get(name) ?? rescan().find((e) => e.name === name);
      if (!entry) {
        sendError(res, 404, `no replay named '${name}'`);
        return;
      }
      try {
        sendJson(res, 200, cache.get(entry.path));
      } catch (err) {
        sendError(res, 500, (err as Error).message);
      }
      return;
    }
    sendError(res, 404, "not found");
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) sendError(res, 500, (err as Error).message);
      else res.destroy();
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      ok();
    });
  });
  boundPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${boundPort}/`,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.close((err) => (err ? fail(err) : ok()));
        // Keep-alive connections from a browser would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}
