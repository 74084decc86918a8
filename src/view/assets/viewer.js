// ALMA replay viewer page (served by src/view/server.ts). Plain browser JavaScript, no build
// step: it fetches /api/replays and /api/replay/<name> and draws the selected episode.
//
// Test hooks (kept stable): #frame (current frame SVG, data-index/data-t), #step-label, #play
// (data-playing), #step-back, #step-forward, #scrub, #speed, #timeline with [data-decision]
// markers and #timeline-cursor, #alloc-panel rows [data-agent] (class "changed"), #stats,
// and body[data-ready] once the first frame of a replay is drawn.

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";

  /** Per-environment naming and colours of subtasks, matching what the frames draw. */
  const SUBTASKS = {
    savethecity: { noun: "building", label: (k) => `b${k}` },
    battle: {
      noun: "enemy army",
      label: (k) => `army ${k}`,
      // Same colours as the battle frames' allocation lines (src/envs/battle/svg.ts).
      colours: ["#e69f00", "#cc79a7", "#009e73"],
    },
  };
  const DEFAULT_SUBTASK = { noun: "subtask", label: (k) => `#${k}` };
  const PALETTE = [
    // Categorical colours without the reward bars' green and red and the SaveTheCity agent colours
    // (red, blue, purple), so a subtask is never mistaken for a reward sign or an agent type.
    "#17becf",
    "#ff7f0e",
    "#bcbd22",
    "#e377c2",
    "#8c564b",
    "#7f7f7f",
    "#aec7e8",
    "#ffbb78",
    "#dbdb8d",
    "#c49c94",
  ];
  const NONE_COLOUR = "#d7dbe0";

  const state = {
    list: [],
    replay: null,
    name: null,
    index: 0,
    playing: false,
    timer: null,
    /** Per agent, its label and colour as read from the first frame (if the frame marks them). */
    agents: [],
  };

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, String(v));
    }
    for (const c of children) node.append(c);
    return node;
  }

  function svgEl(tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function signed(v, digits = 3) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(digits);
  }

  function num(v) {
    if (typeof v !== "number") return String(v);
    const text = Number.isInteger(v) ? String(v) : v.toFixed(3);
    return text.replace(/^-/, "−");
  }

  function subtaskStyle() {
    return (state.replay && SUBTASKS[state.replay.env]) || DEFAULT_SUBTASK;
  }

  function subtaskColour(k) {
    if (k === undefined || k === null || k < 0) return NONE_COLOUR;
    const colours = subtaskStyle().colours || PALETTE;
    return colours[k % colours.length];
  }

  function showStatus(message) {
    const box = $("status");
    box.textContent = message;
    box.hidden = !message;
  }

  async function getJson(url) {
    const res = await fetch(url);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }

  // ------------------------------------------------------------------ loading

  async function init() {
    bindControls();
    let data;
    try {
      data = await getJson("/api/replays");
    } catch (err) {
      showStatus(`Could not list replays: ${err.message}`);
      return;
    }
    state.list = data.replays;
    const select = $("replay-select");
    select.replaceChildren();
    for (const r of state.list) {
      const text = r.error
        ? `${r.name} (unreadable)`
        : `${r.name} · ${r.env} · ${r.length} steps · return ${signed(r.return, 2)}`;
      const opt = el("option", { value: r.name, text });
      if (r.error) opt.disabled = true;
      select.append(opt);
    }
    const broken = state.list.filter((r) => r.error);
    if (broken.length > 0) showStatus(broken.map((r) => r.error).join("\n"));
    const wanted = new URLSearchParams(location.search).get("replay");
    const first =
      state.list.find((r) => r.name === wanted && !r.error) || state.list.find((r) => !r.error);
    if (!first) {
      showStatus("No readable replays found.");
      return;
    }
    await load(first.name);
  }

  async function load(name) {
    pause();
    document.body.dataset.ready = "false";
    let replay;
    try {
      replay = await getJson(`/api/replay/${encodeURIComponent(name)}`);
    } catch (err) {
      showStatus(`Could not load replay '${name}': ${err.message}`);
      return;
    }
    state.replay = replay;
    state.name = name;
    state.index = 0;
    state.agents = [];
    $("replay-select").value = name;
    const url = new URL(location.href);
    url.searchParams.set("replay", name);
    history.replaceState(null, "", url);
    document.title = `${name} · ALMA replay viewer`;
    const scrub = $("scrub");
    scrub.max = String(replay.frames.length - 1);
    drawMeta();
    drawStats();
    show(0);
    document.body.dataset.ready = "true";
  }

  // ------------------------------------------------------------------ drawing

  function drawMeta() {
    const r = state.replay;
    const decisions = r.frames.filter((f) => f.decision).length;
    const tags = [
      r.env,
      r.scenario,
      `${r.nAgents} agents`,
      `${r.length} steps`,
      `${decisions} decisions`,
      `return ${signed(r.episodeReturn, 2)}`,
    ];
    $("replay-meta").replaceChildren(...tags.map((t) => el("span", { class: "tag", text: t })));
  }

  function drawStats() {
    const r = state.replay;
    const rows = [
      ["title", r.title],
      ["length", r.length],
      ["return", signed(r.episodeReturn)],
      ["decision points", r.frames.filter((f) => f.decision).length],
    ];
    const table = $("stats");
    table.replaceChildren();
    for (const [k, v] of rows) {
      table.append(el("tr", { class: "head" }, el("td", { text: k }), el("td", { text: num(v) })));
    }
    for (const [k, v] of Object.entries(r.stats || {})) {
      table.append(
        el(
          "tr",
          { "data-stat": k },
          el("td", { text: k.replace(/_/g, " ") }),
          el("td", { text: num(v) }),
        ),
      );
    }
  }

  /** Read agent names and colours from the frame when the environment marks them (SaveTheCity). */
  function readAgents(frameNode) {
    const agents = [];
    for (const g of frameNode.querySelectorAll(".agent[data-index]")) {
      const i = Number(g.getAttribute("data-index"));
      const label = g.querySelector("text")?.textContent || `agent ${i}`;
      const fill = g.querySelector("circle,rect,path")?.getAttribute("fill") || "#555";
      agents[i] = { label, type: g.getAttribute("data-type") || "", colour: fill };
    }
    return agents;
  }

  function show(i) {
    const r = state.replay;
    if (!r) return;
    const n = r.frames.length;
    state.index = Math.max(0, Math.min(n - 1, i));
    const f = r.frames[state.index];
    const frame = $("frame");
    frame.innerHTML = f.svg;
    frame.dataset.index = String(state.index);
    frame.dataset.t = String(f.t);
    if (state.agents.length === 0) state.agents = readAgents(frame);

    $("step-label").textContent = `step ${f.t} / ${r.frames[n - 1].t}`;
    const reward = $("reward-label");
    reward.textContent = `reward ${signed(f.reward)}`;
    reward.className = `chip ${f.reward > 0 ? "pos" : f.reward < 0 ? "neg" : ""}`;
    $("return-label").textContent = `return ${signed(f.episodeReturn)}`;
    $("decision-label").hidden = !f.decision;
    $("scrub").value = String(state.index);
    $("step-back").disabled = state.index === 0;
    $("step-forward").disabled = state.index === n - 1;
    drawAllocation(f);
    drawTimeline();
  }

  function drawAllocation(f) {
    const r = state.replay;
    const panel = $("alloc-panel");
    const style = subtaskStyle();
    $("alloc-caption").textContent = `(agent → ${style.noun})`;
    if (!f.allocation) {
      panel.replaceChildren(
        el("p", {
          class: "empty",
          text:
            state.index === 0 && r.frames.some((x) => x.allocation)
              ? "No allocation yet: the first decision comes with step 1."
              : "This method does not allocate subtasks.",
        }),
      );
      return;
    }
    const table = el(
      "table",
      {},
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { text: "Agent" }),
          el("th", { text: style.noun[0].toUpperCase() + style.noun.slice(1) }),
          el("th", { text: "Action" }),
        ),
      ),
    );
    const body = el("tbody");
    for (let a = 0; a < f.allocation.length; a++) {
      const k = f.allocation[a];
      const changed = Boolean(f.allocationChanged?.[a]);
      const info = state.agents[a];
      const agentCell = el(
        "td",
        {},
        el("i", { class: "dot", style: `background:${info?.colour || "#2b6cb0"}` }),
      );
      agentCell.append(` ${info ? info.label : `agent ${a}`}`);
      if (info?.type) agentCell.title = info.type;
      const subtask = el(
        "span",
        { class: `subtask${k < 0 ? " none" : ""}` },
        el("i", { class: "dot", style: `background:${subtaskColour(k)}` }),
        k < 0 ? "none" : style.label(k),
      );
      const taskCell = el("td", {}, subtask);
      if (changed) taskCell.append(el("span", { class: "new", text: "NEW" }));
      const action = f.actions ? (r.actionNames[f.actions[a]] ?? `#${f.actions[a]}`) : "–";
      body.append(
        el(
          "tr",
          { "data-agent": a, "data-subtask": k, class: changed ? "changed" : "" },
          agentCell,
          taskCell,
          el("td", { class: "action", text: action }),
        ),
      );
    }
    table.append(body);
    panel.replaceChildren(table);
  }

  // ------------------------------------------------------------------ timeline

  const TL = { gutter: 54, right: 12, markerH: 14, rewardH: 56, rowH: 10, rowGap: 4, axisH: 18 };

  /** x of the left edge of frame i's slot, and the slot width, for the current width. */
  function slots(width, n) {
    const plot = Math.max(10, width - TL.gutter - TL.right);
    return { x: (i) => TL.gutter + (i * plot) / n, w: plot / n };
  }

  function drawTimeline() {
    const r = state.replay;
    const svg = $("timeline");
    const n = r.frames.length;
    const width = svg.clientWidth || svg.parentNode.clientWidth || 800;
    const nAgents = r.frames.reduce(
      (m, f) => Math.max(m, f.allocation ? f.allocation.length : 0),
      0,
    );
    const allocTop = TL.markerH + TL.rewardH + 10;
    const allocH = nAgents > 0 ? nAgents * (TL.rowH + TL.rowGap) + 4 : 0;
    const height = allocTop + allocH + TL.axisH;
    const { x, w } = slots(width, n);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("height", String(height));
    svg.replaceChildren();

    // Reward bars around a zero line placed so positive and negative bars share one scale.
    const rewards = r.frames.map((f) => f.reward ?? 0);
    const maxPos = Math.max(0, ...rewards);
    const maxNeg = Math.max(0, ...rewards.map((v) => -v));
    const span = maxPos + maxNeg;
    const top = TL.markerH;
    const zeroY = span > 0 ? top + (TL.rewardH * maxPos) / span : top + TL.rewardH / 2;
    svg.append(
      svgEl("rect", {
        x: TL.gutter,
        y: top,
        width: width - TL.gutter - TL.right,
        height: TL.rewardH,
        fill: "#fafbfc",
      }),
    );
    const bars = svgEl("g", { class: "rewards" });
    r.frames.forEach((f, i) => {
      if (f.reward === null || f.reward === 0) return;
      const h = Math.max(1, (TL.rewardH * Math.abs(f.reward)) / (span || 1));
      bars.append(
        svgEl("rect", {
          class: "reward",
          "data-step": i,
          x: x(i) + w * 0.12,
          y: f.reward > 0 ? zeroY - h : zeroY,
          width: Math.max(1, w * 0.76),
          height: h,
          fill: f.reward > 0 ? "#2ca02c" : "#d62728",
        }),
      );
    });
    svg.append(bars);
    svg.append(
      svgEl("line", {
        x1: TL.gutter,
        x2: width - TL.right,
        y1: zeroY,
        y2: zeroY,
        stroke: "#9aa1ab",
        "stroke-width": 1,
      }),
    );
    label(svg, "reward", TL.gutter - 6, top + TL.rewardH / 2 + 4);
    // Scale labels only for the extremes that exist (a "+0.00" label would only add noise).
    if (maxPos > 0) label(svg, signed(maxPos, 2), TL.gutter - 6, top + 9, "small");
    if (maxNeg > 0) label(svg, signed(-maxNeg, 2), TL.gutter - 6, top + TL.rewardH, "small");

    // Decision points: one marker per frame whose allocation was decided at that step.
    const marks = svgEl("g", { class: "decisions" });
    r.frames.forEach((f, i) => {
      if (!f.decision) return;
      const cx = x(i) + w / 2;
      const m = svgEl("path", {
        class: "decision",
        "data-decision": i,
        d: `M${cx - 4} 1 L${cx + 4} 1 L${cx} ${TL.markerH - 3} Z`,
        fill: "#1e3a8a",
      });
      const title = svgEl("title");
      title.textContent = `decision point at step ${f.t}`;
      m.append(title);
      marks.append(m);
    });
    svg.append(marks);
    label(svg, "decide", TL.gutter - 6, TL.markerH - 3);

    // Allocation rows: one per agent, coloured by allocated subtask; ticks where it changed.
    const rows = svgEl("g", { class: "alloc-rows" });
    for (let a = 0; a < nAgents; a++) {
      const y = allocTop + a * (TL.rowH + TL.rowGap);
      let start = -1;
      let cur = null;
      const flush = (end) => {
        if (start < 0 || cur === null) return;
        rows.append(
          svgEl("rect", {
            x: x(start),
            y,
            width: Math.max(0.5, x(end) - x(start)),
            height: TL.rowH,
            fill: subtaskColour(cur),
          }),
        );
      };
      r.frames.forEach((f, i) => {
        const k = f.allocation ? f.allocation[a] : null;
        if (k !== cur) {
          flush(i);
          start = i;
          cur = k;
        }
        if (f.allocationChanged?.[a] && i > 1) {
          rows.append(
            svgEl("rect", {
              class: "alloc-change",
              x: x(i) - 1,
              y: y - 1,
              width: 2,
              height: TL.rowH + 2,
              fill: "#111",
            }),
          );
        }
      });
      flush(n);
      label(svg, state.agents[a]?.label || `a${a}`, TL.gutter - 6, y + TL.rowH - 1, "small");
    }
    svg.append(rows);

    // Step axis.
    const axisY = height - 5;
    const every = niceStep(n, width);
    for (let i = 0; i < n; i += every) {
      label(svg, String(r.frames[i].t), x(i) + w / 2, axisY, "tick");
    }

    // Cursor over everything at the current step.
    const cx = x(state.index) + w / 2;
    svg.append(
      svgEl("rect", {
        id: "timeline-cursor",
        "data-index": state.index,
        x: cx - Math.max(1.5, w / 2),
        y: 0,
        width: Math.max(3, w),
        height: height - TL.axisH + 2,
        fill: "#2563eb",
        opacity: 0.18,
      }),
    );
    svg.append(
      svgEl("line", {
        x1: cx,
        x2: cx,
        y1: 0,
        y2: height - TL.axisH + 2,
        stroke: "#2563eb",
        "stroke-width": 1.5,
      }),
    );
  }

  function label(svg, text, x, y, kind = "") {
    const t = svgEl("text", { x, y, "text-anchor": kind === "tick" ? "middle" : "end" });
    if (kind === "small" || kind === "tick") t.setAttribute("style", "font-size:10px");
    t.textContent = text;
    svg.append(t);
  }

  /** Label every k-th step so labels sit at least ~50 px apart, with k a 1-2-5 number. */
  function niceStep(n, width) {
    const want = Math.max(1, (n * 50) / Math.max(100, width));
    for (const base of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000])
      if (base >= want) return base;
    return 1000;
  }

  // ------------------------------------------------------------------ playback

  function speed() {
    return Number($("speed").value) || 5;
  }

  function play() {
    const r = state.replay;
    if (!r) return;
    if (state.index >= r.frames.length - 1) show(0);
    state.playing = true;
    updatePlayButton();
    schedule();
  }

  function pause() {
    state.playing = false;
    clearTimeout(state.timer);
    state.timer = null;
    updatePlayButton();
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(tick, 1000 / speed());
  }

  function tick() {
    const r = state.replay;
    if (!state.playing || !r) return;
    show(state.index + 1);
    if (state.index >= r.frames.length - 1) pause();
    else schedule();
  }

  function updatePlayButton() {
    const b = $("play");
    b.textContent = state.playing ? "❚❚ Pause" : "▶ Play";
    b.dataset.playing = String(state.playing);
  }

  function seekFromTimeline(ev) {
    const r = state.replay;
    if (!r) return;
    const svg = $("timeline");
    const box = svg.getBoundingClientRect();
    const { w } = slots(box.width, r.frames.length);
    const i = Math.floor((ev.clientX - box.left - TL.gutter) / w);
    show(i);
  }

  function bindControls() {
    $("replay-select").addEventListener("change", (ev) => load(ev.target.value));
    $("play").addEventListener("click", () => (state.playing ? pause() : play()));
    $("step-back").addEventListener("click", () => {
      pause();
      show(state.index - 1);
    });
    $("step-forward").addEventListener("click", () => {
      pause();
      show(state.index + 1);
    });
    $("to-start").addEventListener("click", () => {
      pause();
      show(0);
    });
    $("to-end").addEventListener("click", () => {
      pause();
      show(Number.POSITIVE_INFINITY);
    });
    $("scrub").addEventListener("input", (ev) => {
      pause();
      show(Number(ev.target.value));
    });
    $("speed").addEventListener("change", () => {
      if (state.playing) schedule();
    });
    const timeline = $("timeline");
    timeline.addEventListener("pointerdown", (ev) => {
      pause();
      timeline.setPointerCapture(ev.pointerId);
      seekFromTimeline(ev);
    });
    timeline.addEventListener("pointermove", (ev) => {
      if (timeline.hasPointerCapture(ev.pointerId)) seekFromTimeline(ev);
    });
    document.addEventListener("keydown", (ev) => {
      // Leave keys alone where a control uses them itself (the picker, the slider).
      if (ev.target instanceof HTMLSelectElement || ev.target instanceof HTMLInputElement) return;
      if (ev.key === " ") {
        ev.preventDefault();
        state.playing ? pause() : play();
      } else if (ev.key === "ArrowRight") {
        pause();
        show(state.index + 1);
      } else if (ev.key === "ArrowLeft") {
        pause();
        show(state.index - 1);
      } else if (ev.key === "Home") {
        pause();
        show(0);
      } else if (ev.key === "End") {
        pause();
        show(Number.POSITIVE_INFINITY);
      }
    });
    // The timeline is drawn at the page's pixel width so its text stays legible; redraw on resize.
    let pending = null;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => state.replay && drawTimeline());
    });
  }

  init();
})();
