"""The drill console page: one HTML document with its CSS and a little vanilla JavaScript.

Kept as a Python string so that it ships inside the package without package-data
settings. The page fetches ``/api/layout`` once, polls ``/api/state`` and posts actions;
a mode switch opens a confirmation dialog first.
"""

from __future__ import annotations

PAGE = r"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>gridtwin drill console</title>
<style>
  :root { --ink:#1f2a36; --mute:#6b7785; --line:#d8dee5; --bg:#f5f7f9; --em:#f2b134; --ex:#d1495b; --ok:#2e7d5b; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; color:var(--ink); background:var(--bg); }
  header { display:flex; align-items:center; gap:10px; padding:10px 16px; background:#1f2a36; color:#fff; flex-wrap:wrap; }
  header h1 { font-size:16px; margin:0; font-weight:600; }
  header .sub { color:#b8c2cc; font-size:12px; }
  #clock { font-size:18px; font-variant-numeric:tabular-nums; margin-left:auto; }
  #mode { padding:4px 12px; border-radius:14px; font-weight:700; background:#e7ecf0; color:#1f2a36; }
  #mode.emergency { background:var(--em); } #mode.extreme { background:var(--ex); color:#fff; }
  header button, header select { font-size:13px; padding:4px 10px; border-radius:4px; border:1px solid #53606d; background:#2c3a48; color:#fff; cursor:pointer; }
  header button#btn-end { background:#8a2432; border-color:#8a2432; }
  main { display:grid; grid-template-columns: minmax(420px, 1.3fr) minmax(360px, 1fr); gap:12px; padding:12px 16px; }
  .card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
  .card h2 { font-size:13px; margin:0 0 8px; color:var(--mute); text-transform:uppercase; letter-spacing:.04em; }
  #kpis { display:grid; grid-template-columns: repeat(3, 1fr); gap:8px; }
  .kpi { background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
  .kpi .v { font-size:26px; font-weight:700; font-variant-numeric:tabular-nums; }
  .kpi .l { font-size:12px; color:var(--mute); }
  .kpi.warn .v { color:var(--ex); }
  .controls { display:grid; grid-template-columns: 1fr 1fr; gap:12px; margin-top:12px; }
  label { font-size:12px; color:var(--mute); display:block; margin-top:4px; }
  input, select { font-size:13px; padding:3px 6px; border:1px solid var(--line); border-radius:4px; }
  input[type=number] { width:70px; }
  .btn { font-size:13px; padding:5px 12px; border-radius:4px; border:1px solid #33414f; background:#33414f; color:#fff; cursor:pointer; margin-top:6px; }
  .btn.em { background:var(--em); border-color:#c98f1c; color:#1f2a36; font-weight:700; }
  .btn.ex { background:var(--ex); border-color:#a3303f; font-weight:700; }
  .btn.nm { background:#e7ecf0; border-color:#b7c0c9; color:#1f2a36; }
  #msg { min-height:20px; margin:0 16px; font-size:13px; }
  #msg.err { color:var(--ex); } #msg.ok { color:var(--ok); }
  ul.log { list-style:none; margin:0; padding:0; max-height:220px; overflow:auto; font-size:12px; }
  ul.log li { padding:3px 0; border-bottom:1px solid #eef1f4; }
  ul.log .t { color:var(--mute); font-variant-numeric:tabular-nums; margin-right:6px; }
  ul.log .bad { color:var(--ex); }
  .advisory { background:#fff4e0; border-left:4px solid #e08a00; padding:6px 8px; margin:6px 0; font-size:13px; }
  .legend { font-size:12px; color:var(--mute); display:flex; gap:12px; align-items:center; flex-wrap:wrap; margin-top:6px; }
  .sw { display:inline-block; width:12px; height:12px; border:1px solid #aab; vertical-align:middle; margin-right:3px; }
  #map text { font-size:10px; fill:#44505c; }
  #map .cell { cursor:pointer; }
  #map .cell.sel { stroke:#1f6fb2; stroke-width:3; }
  #confirm { position:fixed; inset:0; background:rgba(20,30,40,.45); display:none; align-items:center; justify-content:center; }
  #confirm .box { background:#fff; border-radius:8px; padding:18px 22px; width:420px; box-shadow:0 8px 30px rgba(0,0,0,.25); }
  #confirm h3 { margin:0 0 8px; }
  #report-link { display:none; font-weight:700; }
  #spark { width:100%; height:90px; }
</style>
</head>
<body>
<header>
  <div><h1>Drill console · 常急转换 switchover</h1><div class="sub" id="sub"></div></div>
  <span id="clock">—</span>
  <span id="mode">—</span>
  <span><label style="color:#b8c2cc;display:inline">speed</label>
    <select id="speed" title="simulated minutes per wall second">
      <option value="0.25">¼ min/s</option><option value="1">1 min/s</option><option value="2">2 min/s</option>
      <option value="5">5 min/s</option><option value="10">10 min/s</option><option value="30">30 min/s</option>
      <option value="60">1 h/s</option><option value="120">2 h/s</option><option value="360">6 h/s</option>
    </select></span>
  <button id="btn-pause">Pause</button><button id="btn-resume">Resume</button>
  <button id="btn-skip" title="run on to the next warning, response level or scripted inject">Skip to next ⏭</button>
  <button id="btn-end">End drill</button>
  <a id="report-link" href="/report" target="_blank" style="color:#ffd27a">After-action report →</a>
</header>
<div id="msg"></div>
<main>
  <section>
    <div class="card">
      <h2>District map — grids coloured by open cases</h2>
      <svg id="map" width="100%"></svg>
      <div class="legend">
        <span><span class="sw" style="background:#f4f6f8"></span>no open case</span>
        <span><span class="sw" style="background:#fde3a7"></span>few</span>
        <span><span class="sw" style="background:#f08a4b"></span>many</span>
        <span><span class="sw" style="background:#fff;border:2px solid #c0162e"></span>red border + number: overdue</span>
        <span><span class="sw" style="background:#fff;border:2px dashed #1f6fb2"></span>hazard area</span>
        <span><span style="color:#c0162e">⚑</span> marker</span>
        <span>Click a grid to pick it as the place below.</span>
      </div>
    </div>
    <div class="controls">
      <div class="card" id="mode-card">
        <h2>Mode 模式 — switch with confirmation</h2>
        <div id="advisory" class="advisory" style="display:none"></div>
        <div id="mode-buttons"></div>
        <label>cause (optional)</label><input id="mode-cause" size="32" placeholder="e.g. waterlogging reports rising">
        <h2 style="margin-top:12px">Mode history</h2>
        <ul class="log" id="history"></ul>
      </div>
      <div class="card">
        <h2>Inject · send · mark</h2>
        <label>place</label><select id="place"></select>
        <label>inject</label>
        <select id="inj-what"><option value="incident">incident(s)</option><option value="surge">surge</option></select>
        <select id="inj-cat"></select>
        <span id="inj-incident"><input id="inj-count" type="number" min="1" max="500" value="1"> cases</span>
        <span id="inj-surge" style="display:none"><input id="inj-rate" type="number" min="0.1" step="0.5" value="6"> /h for
          <input id="inj-hours" type="number" min="0.5" step="0.5" value="3"> h</span>
        <button class="btn" id="btn-inject">Inject</button>
        <label>send a team to the place's community</label>
        <input id="team-size" type="number" min="1" value="10"> people <button class="btn" id="btn-team">Send team</button>
        <label>marker note</label><input id="marker-note" size="28" placeholder="what happened here">
        <button class="btn" id="btn-marker">Drop marker</button>
      </div>
    </div>
  </section>
  <section>
    <div id="kpis">
      <div class="kpi"><div class="v" id="kpi-incoming">—</div><div class="l">incoming cases / hour</div></div>
      <div class="kpi"><div class="v" id="kpi-backlog">—</div><div class="l">backlog (open cases)</div></div>
      <div class="kpi" id="kpi-overdue-card"><div class="v" id="kpi-overdue">—</div><div class="l">overdue</div></div>
      <div class="kpi"><div class="v" id="kpi-onsite">0</div><div class="l">mobilised on site</div></div>
      <div class="kpi"><div class="v" id="kpi-enroute">0</div><div class="l">mobilised on the way</div></div>
      <div class="kpi"><div class="v" id="kpi-checked">—</div><div class="l">vulnerable residents checked</div></div>
      <div class="kpi"><div class="v" id="kpi-redeployed">0</div><div class="l">grid staff on emergency duties</div></div>
      <div class="kpi"><div class="v" id="kpi-routine">0</div><div class="l">grid workers' routine waiting, h</div></div>
      <div class="kpi"><div class="v" id="kpi-next" style="font-size:13px;font-weight:600">—</div><div class="l">next warning or inject</div></div>
    </div>
    <div class="card" style="margin-top:12px">
      <h2>Last 24 simulated hours</h2>
      <svg id="spark" viewBox="0 0 400 90" preserveAspectRatio="none"></svg>
      <div class="legend"><span style="color:#d1495b">— emergency open</span><span style="color:#00798c">— ordinary open</span><span style="color:#2e4057">— on site (right scale)</span></div>
    </div>
    <div class="card" style="margin-top:12px">
      <h2>Action log (simulated time · by · action)</h2>
      <ul class="log" id="log"></ul>
    </div>
  </section>
</main>
<div id="confirm" role="dialog" aria-modal="true">
  <div class="box">
    <h3 id="confirm-title">Switch mode?</h3>
    <p id="confirm-text"></p>
    <button class="btn" id="confirm-yes">Yes, switch now</button>
    <button class="btn nm" id="confirm-no">Cancel</button>
  </div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let layout = null, gridIndex = {}, selected = null, pendingMode = null, lastState = null;
const MODE_HELP = {
  emergency: "应下尽下: every unit sends everyone except command, basic operations and key personnel's safety.",
  extreme: "全员下沉: everyone goes down except command and key personnel's safety.",
  normal: "Back to normal: mobilised members stand down and return to their units."
};
function msg(text, ok) { const m = $("msg"); m.textContent = text; m.className = ok ? "ok" : "err"; }
async function post(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { const d = j.detail; throw new Error(typeof d === "string" ? d : JSON.stringify(d)); }
  return j;
}
function heat(n, max) {
  if (n <= 0) return "#f4f6f8";
  const x = Math.min(1, n / Math.max(4, max));
  const a = [253, 227, 167], b = [208, 64, 40];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * x));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
function buildMap() {
  const svg = $("map"); const NS = "http://www.w3.org/2000/svg";
  const cell = 30, gap = 4, perRow = 5, pad = 8;
  let y = 4, html = "", places = [];
  layout.streets.forEach((st) => {
    html += `<text x="2" y="${y + 10}" style="font-weight:700;font-size:12px">${st.name}</text>`; y += 16;
    places.push(st.name);
    const comms = st.communities;
    const maxG = Math.max(...comms.map(c => c.grids.length));
    const cols = Math.ceil(Math.sqrt(maxG)), rows = Math.ceil(maxG / cols);
    const bw = cols * (cell + gap) + 2 * pad, bh = rows * (cell + gap) + 2 * pad + 12;
    comms.forEach((c, ci) => {
      places.push(c.name);
      const bx = 2 + (ci % perRow) * (bw + 10), by = y + Math.floor(ci / perRow) * (bh + 10);
      const hz = layout.hazard_communities.includes(c.name);
      html += `<rect x="${bx}" y="${by}" width="${bw}" height="${bh}" rx="4" fill="#fff" stroke="${hz ? "#1f6fb2" : "#c9d1d9"}" stroke-width="${hz ? 2 : 1}" ${hz ? 'stroke-dasharray="5 3"' : ""}/>`;
      html += `<text x="${bx + 4}" y="${by + 11}">${c.name.split("-")[1]}${hz ? " · hazard" : ""}</text>`;
      html += `<text id="mk-${c.name}" x="${bx + bw - 14}" y="${by + 12}"></text>`;
      c.grids.forEach((g, gi) => {
        const gx = bx + pad + (gi % cols) * (cell + gap), gy = by + pad + 10 + Math.floor(gi / cols) * (cell + gap);
        html += `<rect class="cell" id="g-${g}" data-place="${g}" x="${gx}" y="${gy}" width="${cell}" height="${cell}" rx="2" fill="#f4f6f8" stroke="#c9d1d9"><title>${g}</title></rect>`;
        html += `<text id="t-${g}" x="${gx + cell / 2}" y="${gy + 19}" style="font-size:12px;font-weight:700" text-anchor="middle" pointer-events="none"></text>`;
        places.push(g);
      });
    });
    y += Math.ceil(comms.length / perRow) * (bh + 10) + 4;
  });
  svg.setAttribute("height", y);
  svg.innerHTML = html;
  svg.querySelectorAll(".cell").forEach((el) => el.addEventListener("click", () => selectPlace(el.dataset.place)));
  const sel = $("place");
  sel.innerHTML = places.map(p => `<option value="${p}">${p}</option>`).join("");
  const firstHz = layout.hazard_communities[0];
  if (firstHz) sel.value = firstHz;
  sel.addEventListener("change", () => selectPlace(sel.value));
  $("inj-cat").innerHTML = layout.categories.map(c => `<option>${c}</option>`).join("");
  let n = 0; layout.streets.forEach((st) => st.communities.forEach((c) => c.grids.forEach((g) => { gridIndex[g] = n++; })));
}
function selectPlace(p) {
  if (selected) { const el = $("g-" + selected); if (el) el.classList.remove("sel"); }
  selected = p; $("place").value = p;
  const el = $("g-" + p); if (el) el.classList.add("sel");
}
function communityOf(place) { const parts = place.split("-"); return parts.length >= 2 ? parts[0] + "-" + parts[1] : place; }
function spark(series) {
  const svg = $("spark"); if (!series.length) { svg.innerHTML = ""; return; }
  const t0 = series[0].t_min, t1 = Math.max(series[series.length - 1].t_min, t0 + 60);
  const maxC = Math.max(5, ...series.map(r => Math.max(r.emergency_backlog, r.normal_backlog)));
  const maxP = Math.max(5, ...series.map(r => r.on_site));
  // lines stay below y = 16: the axis labels (y ≤ 10) sit in a band of their own and never cross a line
  const X = (t) => 4 + (t - t0) / (t1 - t0) * 392, Y = (v, m) => 86 - v / m * 70;
  const line = (key, m, col) => `<polyline fill="none" stroke="${col}" stroke-width="1.6" points="${series.map(r => X(r.t_min).toFixed(1) + "," + Y(r[key], m).toFixed(1)).join(" ")}"/>`;
  svg.innerHTML = line("emergency_backlog", maxC, "#d1495b") + line("normal_backlog", maxC, "#00798c") + line("on_site", maxP, "#2e4057") +
    `<text x="4" y="10" font-size="9" fill="#6b7785">${maxC} cases</text><text x="396" y="10" font-size="9" fill="#6b7785" text-anchor="end">${maxP} people</text>`;
}
function describe(a) {
  const p = a.params;
  switch (a.kind) {
    case "mode": return `switch to ${layout.modes[p.to] || p.to}`;
    case "incident": return `inject ${p.count || 1} × ${p.category} at ${p.place}`;
    case "surge": return `surge ${p.category} at ${p.place}: ${p.per_hour}/h for ${p.hours} h`;
    case "team": return `send ${p.size} people to ${p.community}` + (a.ok ? ` (${a.result.moved} moving)` : "");
    case "marker": return `⚑ ${p.place || ""}: ${p.note}`;
    case "warning": return `⚠ ${p.colour} ${p.type || "rainstorm"} warning ${p.id} issued at ${p.place}`;
    case "lift_warning": return `warning ${p.id} lifted`;
    case "speed": return `speed ${p.from} → ${p.to} min/s`;
    case "start": return `drill live at ${p.speed} min/s`;
    case "skip": return `skipped ahead to ${p.to}`;
    default: return a.kind;
  }
}
function render(s) {
  lastState = s;
  $("clock").textContent = s.clock + (s.running ? "" : (s.ended ? " · ended" : (s.finished ? " · end of exercise" : " · paused")));
  const md = $("mode"); md.textContent = s.mode_label; md.className = s.mode;
  const k = s.kpis;
  $("kpi-incoming").textContent = k.incoming_per_hour.toFixed(1);
  $("kpi-backlog").textContent = k.backlog;
  $("kpi-overdue").textContent = k.overdue;
  $("kpi-overdue-card").className = "kpi" + (k.overdue > 0 ? " warn" : "");
  $("kpi-onsite").textContent = k.on_site;
  $("kpi-enroute").textContent = k.en_route;
  $("kpi-checked").textContent = k.checks_total ? `${k.checks_done} / ${k.checks_total}` : "—";
  $("kpi-redeployed").textContent = k.redeployed;
  $("kpi-routine").textContent = k.routine_backlog_hours.toLocaleString("en", {maximumFractionDigits: 1});
  $("kpi-next").textContent = s.next_event ? `${s.next_event.clock}: ${s.next_event.what}` : "—";
  const sp = $("speed");
  if (![...sp.options].some(o => parseFloat(o.value) === s.speed)) { const o = document.createElement("option"); o.value = String(s.speed); o.textContent = `${s.speed} min/s`; sp.appendChild(o); }
  if (document.activeElement !== sp) sp.value = [...sp.options].find(o => parseFloat(o.value) === s.speed).value;
  const nx = s.next_event; $("btn-skip").disabled = !nx || s.ended;
  $("btn-skip").title = nx ? `run on to ${nx.clock}: ${nx.what}` : "nothing ahead to skip to";
  $("btn-pause").disabled = !s.running; $("btn-resume").disabled = s.running || s.ended || s.finished;
  const maxOpen = Math.max(...s.grid_open);
  const names = Object.keys(gridIndex);
  names.forEach((g) => {
    const i = gridIndex[g], el = $("g-" + g), t = $("t-" + g);
    const o = s.grid_open[i], v = s.grid_overdue[i];
    el.setAttribute("fill", heat(o, maxOpen));
    if (g !== selected) { el.setAttribute("stroke", v > 0 ? "#c0162e" : "#c9d1d9"); el.setAttribute("stroke-width", v > 0 ? 2 : 1); }
    t.textContent = v > 0 ? v : "";
    t.setAttribute("fill", "#8a0f1f");
    el.querySelector("title").textContent = `${g}: ${o} open, ${v} overdue`;
  });
  document.querySelectorAll("[id^=mk-]").forEach((el) => { el.textContent = ""; });
  s.markers.forEach((m) => { const el = $("mk-" + communityOf(m.place)); if (el) { el.innerHTML = `⚑<title>${m.note}</title>`; el.setAttribute("fill", "#c0162e"); el.style.fontSize = "14px"; } });
  const adv = $("advisory");
  const lastAdv = s.advisories.length ? s.advisories[s.advisories.length - 1] : null;
  const warn = s.declared.warnings.map(w => `${w.colour} ${w.type} ${w.id}`).join(", ");
  if (lastAdv && lastAdv.to_mode !== s.mode) {
    adv.style.display = "block";
    adv.innerHTML = `<b>Advisory ${lastAdv.clock}:</b> switch to ${layout.modes[lastAdv.to_mode]} — ${lastAdv.cause}` + (warn ? `<br>In force: ${warn}` : "");
  } else { adv.style.display = "none"; }
  const mb = $("mode-buttons");
  const want = s.ended ? [] : s.legal_targets;
  const key = want.join(",");
  if (mb.dataset.key !== key) {
    mb.dataset.key = key;
    mb.innerHTML = want.map(t => `<button class="btn ${t === "emergency" ? "em" : t === "extreme" ? "ex" : "nm"}" id="mode-${t}" data-to="${t}">Switch to ${layout.modes[t]}</button>`).join(" ");
    mb.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => askMode(b.dataset.to)));
  }
  $("history").innerHTML = [`<li><span class="t">start</span>${layout.modes.normal}</li>`, ...s.mode_history.map(h => `<li><span class="t">${h.clock}</span>${layout.modes[h.from_mode]} → <b>${layout.modes[h.to_mode]}</b> · ${h.cause}</li>`)].reverse().join("");
  $("log").innerHTML = s.log.slice().reverse().map(a => `<li><span class="t">${a.clock}</span><span class="t">${a.source}</span><span class="${a.ok ? "" : "bad"}">${describe(a)}${a.ok ? "" : " — refused: " + a.error}</span></li>`).join("");
  spark(s.series);
  if (s.report) { $("report-link").style.display = "inline"; }
}
async function poll() {
  try { const r = await fetch("/api/state"); if (r.ok) render(await r.json()); } catch (e) { /* server gone */ }
}
function askMode(to) {
  pendingMode = to;
  $("confirm-title").textContent = `Switch to ${layout.modes[to]}?`;
  const n = lastState && lastState.kpis.mobilisable[to];
  $("confirm-text").textContent = MODE_HELP[to] + (n !== undefined && to !== "normal" ? ` ${n} people will be called.` : "");
  $("confirm").style.display = "flex";
}
async function confirmMode() {
  $("confirm").style.display = "none";
  const to = pendingMode; pendingMode = null;
  try { await post("/api/mode", {to, confirm: true, cause: $("mode-cause").value}); msg(`Switched to ${layout.modes[to]}.`, true); $("mode-cause").value = ""; }
  catch (e) { msg(e.message); }
  poll();
}
async function act(url, body, done) { try { const r = await post(url, body); msg(done(r), true); } catch (e) { msg(e.message); } poll(); }
function wire() {
  $("confirm-yes").addEventListener("click", confirmMode);
  $("confirm-no").addEventListener("click", () => { $("confirm").style.display = "none"; pendingMode = null; msg("Mode switch cancelled.", true); });
  $("btn-pause").addEventListener("click", () => act("/api/control", {action: "pause"}, () => "Paused."));
  $("btn-resume").addEventListener("click", () => act("/api/control", {action: "resume"}, () => "Resumed."));
  $("btn-skip").addEventListener("click", () => act("/api/control", {action: "skip"}, () => "Skipped ahead" + (lastState && lastState.next_event ? ` to ${lastState.next_event.clock}: ${lastState.next_event.what}.` : ".")));
  $("speed").addEventListener("change", () => act("/api/control", {action: "speed", speed: parseFloat($("speed").value)}, (r) => `Speed ${r.speed} simulated minutes per second.`));
  $("inj-what").addEventListener("change", () => { const s = $("inj-what").value === "surge"; $("inj-surge").style.display = s ? "" : "none"; $("inj-incident").style.display = s ? "none" : ""; });
  $("btn-inject").addEventListener("click", () => {
    const what = $("inj-what").value, body = {what, place: $("place").value, category: $("inj-cat").value};
    if (what === "surge") { body.per_hour = parseFloat($("inj-rate").value); body.hours = parseFloat($("inj-hours").value); } else { body.count = parseInt($("inj-count").value, 10); }
    act("/api/inject", body, (a) => what === "surge" ? `Surge planned: ${a.result.planned} arrivals.` : `Injected ${a.result.cases.length} case(s) at ${a.result.grids.join(", ")}.`);
  });
  $("btn-team").addEventListener("click", () => act("/api/team", {community: communityOf($("place").value), size: parseInt($("team-size").value, 10)}, (a) => `${a.result.moved} people on their way to ${a.result.to}.`));
  $("btn-marker").addEventListener("click", () => act("/api/marker", {place: $("place").value, note: $("marker-note").value}, () => { $("marker-note").value = ""; return "Marker dropped."; }));
  $("btn-end").addEventListener("click", async () => {
    if (!window.confirm("End the drill and write the after-action report?")) return;
    msg("Ending the drill: running the baseline and writing the after-action report …", true);
    try { const r = await post("/api/end", {}); msg(`After-action report written: ${r.path}`, true); $("report-link").style.display = "inline"; }
    catch (e) { msg(e.message); }
    poll();
  });
}
(async function init() {
  layout = await (await fetch("/api/layout")).json();
  $("sub").textContent = `${layout.scenario} · seed ${layout.seed} · script “${layout.script}”` + (layout.team ? ` · team ${layout.team}` : "");
  buildMap(); wire(); poll(); setInterval(poll, 500);
})();
</script>
</body>
</html>
"""
