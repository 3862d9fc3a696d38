// The Switchyard console (controller/console/app.js): reads the controller's admin JSON
// with the session cookie, every POLL_MS, and draws it. Every number shown is one the
// controller returned: the evaluation (last_evaluation: verdicts, guardrails, SRM,
// feedback balance), the arms it read (/arms, the same query), the history and the
// savings series. Actions go through the same admin endpoints the CLI uses, with the
// session's CSRF token. URLs are relative, so the console works under a path prefix.
// No data is ever put into the page as HTML: text nodes and attributes only.
"use strict";

const POLL_MS = 3000;
const TASKS = ["simple", "code", "reasoning", "complex"];
const PHASE_COLOR = {
  shadow: "#8a94a6", canary: "#2f6fde", ramp: "#6a4fd8", full: "#1f9d55",
  paused: "#c7831a", rolled_back: "#d03b3b", held_back: "#d03b3b", draft: "#c0c6d2",
};

const S = { role: null, csrf: null, selected: null, timer: null, busy: false, notice: null, gen: 0 };

// ---- DOM helpers ----
function el(tag, attrs, ...kids) {
  const svg = ["svg", "rect", "line", "text", "polyline", "circle", "g", "title", "path"].includes(tag);
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
const $ = (id) => document.getElementById(id);
const badge = (v, extra) => el("span", { class: `badge ${v || ""}`, title: extra || null, text: (v || "-").replace(/_/g, " ") });

// ---- number formatting ----
const isNum = (v) => typeof v === "number" && isFinite(v);
const pct = (v, d = 1) => (isNum(v) ? `${(100 * v).toFixed(d)}%` : "–");
const fix = (v, d = 2) => (isNum(v) ? v.toFixed(d) : "–");
const usd = (v) => (isNum(v) ? (Math.abs(v) >= 1 ? `$${v.toFixed(2)}` : `$${v.toPrecision(3)}`) : "–");
const int = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : "–");
const ms = (v) => (isNum(v) ? (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`) : "–");
function when(ts) {
  if (!ts) return "–";
  const d = new Date(ts.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
  return isNaN(d) ? ts : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
function metricValue(metric, v) {
  if (!isNum(v)) return "–";
  if (metric === "cost_per_request") return usd(v);
  if (metric === "rating") return v.toFixed(3);
  return pct(v, 2);
}

// ---- the admin API ----
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (S.csrf) headers["X-CSRF-Token"] = S.csrf;
  }
  const r = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401 && path !== "console/login") { showLogin("Your session has ended: log in again."); throw new ApiError(401, data); }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// ---- login ----
function showLogin(msg) {
  clearTimeout(S.timer);
  S.role = S.csrf = S.notice = null;
  S.gen++; // a refresh still in flight renders nothing now
  // nothing of the last session stays in the page
  $("detail").replaceChildren();
  $("experiments").replaceChildren();
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("live").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
  $("token").focus();
}
async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const r = await api("POST", "console/login", { token: $("token").value });
    $("token").value = "";
    start(r);
  } catch (e) {
    $("login-error").textContent = e.status === 401 ? "That token is not valid." : e.message;
  }
}
async function logout() {
  try { await api("POST", "console/logout", {}); } catch (e) { /* shown by showLogin */ }
  showLogin("Logged out.");
}
function start(session) {
  S.role = session.role;
  S.csrf = session.csrf_token;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = session.role === "admin" ? "admin" : "viewer (read only)";
  document.body.dataset.role = session.role;
  refresh();
}

// ---- polling ----
async function refresh() {
  clearTimeout(S.timer);
  if (!S.role) return;
  const gen = S.gen;
  try {
    const list = await api("GET", "admin/experiments");
    if (gen !== S.gen) return;
    const exps = list.experiments || [];
    if (!S.selected || !exps.some((x) => x.name === S.selected)) {
      const fromHash = decodeURIComponent(location.hash.slice(1));
      const pick = exps.find((x) => x.name === fromHash) || exps.find((x) => x.status === "running") || exps[0];
      S.selected = pick ? pick.name : null;
    }
    renderList(exps);
    if (S.selected) {
      const n = encodeURIComponent(S.selected);
      const [x, hist, arms, sav] = await Promise.all([
        api("GET", `admin/experiments/${n}`), api("GET", `admin/experiments/${n}/history`),
        api("GET", `admin/experiments/${n}/arms`), api("GET", `admin/experiments/${n}/savings`),
      ]);
      if (gen !== S.gen) return;
      if (!S.busy) renderDetail(x, hist, arms, sav);
    } else {
      $("detail").replaceChildren(el("div", { class: "card" }, el("p", { class: "muted", text: "No experiment yet: apply one with 'switchyard experiment apply FILE'." })));
    }
    $("live").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    if (e.status === 401) return;
    $("live").textContent = `update failed: ${e.message}`;
  }
  S.timer = setTimeout(refresh, POLL_MS);
}

function renderList(exps) {
  $("experiments").replaceChildren(...exps.map((x) => {
    const a = el("a", { href: `#${encodeURIComponent(x.name)}`, class: x.name === S.selected ? "selected" : null, "data-experiment": x.name },
      el("span", { class: "name", text: x.name }), badge(x.status));
    a.addEventListener("click", () => { S.selected = x.name; S.notice = null; setTimeout(refresh, 0); });
    return a;
  }));
}

// ---- the experiment ----
function renderDetail(x, hist, arms, sav) {
  const ev = x.last_evaluation || {};
  const plan = (x.definition && x.definition.phases) || [];
  const running = x.status === "running";
  // the step as the controller parsed it (the /arms answer), not re-derived here
  const phase = running ? arms.phase : x.status;
  const routed = running && isNum(arms.routed_bp) ? `${arms.routed_bp / 100}%` : "–";
  const parts = [];
  if (S.notice) parts.push(S.notice);
  parts.push(el("div", { class: "card", id: "summary" },
    el("div", { class: "summary" },
      el("span", { class: "big", id: "exp-name", text: x.name }),
      kv("status", badge(x.status), "exp-status"),
      kv("phase", badge(phase), "exp-phase"),
      kv("routed", routed, "exp-routed"),
      kv("step", `${x.step + 1} of ${plan.length || "?"}`),
      kv("started", when(x.started_at)),
      kv("step since", when(x.step_started_at)),
      kv("held back", (x.held_back || []).join(", ") || "none", "exp-held"),
      kv("last evaluation", ev.decision ? `${ev.decision}: ${(ev.reason || "").replace(/_/g, " ")}` : "–", "exp-decision")),
    actions(x)));
  parts.push(timeline(x, hist.phases || []));
  parts.push(el("div", { class: "tasks", id: "tasks" }, taskCards(x, ev, arms)));
  parts.push(savings(sav));
  parts.push(decisions(hist.decisions || []));
  $("detail").replaceChildren(...parts);
}

function kv(k, v, id) {
  return el("span", { class: "kv" }, el("span", { class: "k", text: k }), el("span", { class: "v", id: id || null }, v));
}

function actions(x) {
  const can = {
    start: x.status === "draft", pause: x.status === "running", resume: x.status === "paused",
    promote: x.status === "running" || x.status === "paused", rollback: x.status === "running" || x.status === "paused",
  };
  const box = el("div", { class: "actions" });
  for (const verb of ["start", "pause", "resume", "promote", "rollback"]) {
    if (verb === "start" && !can.start) continue;
    box.append(actionButton(x.name, verb, null, !can[verb]));
  }
  if (S.role !== "admin") box.append(el("span", { class: "muted", text: "read-only session: actions need the admin token" }));
  return box;
}

function actionButton(name, verb, task, disabled) {
  const readOnly = S.role !== "admin";
  const b = el("button", {
    type: "button", "data-action": verb, "data-task": task, disabled: disabled || readOnly,
    class: verb === "rollback" ? "danger" : verb === "promote" || verb === "start" ? "primary" : null,
    title: readOnly ? "read-only session" : null, text: task ? `${verb} ${task}` : verb,
  });
  b.addEventListener("click", () => confirmAction(name, verb, task));
  return b;
}

const ACTION_TEXT = {
  start: "Starts the rollout at its first phase.",
  pause: "Routes every user to the default model until resumed; the evaluation stops.",
  resume: "Returns to the phase it was paused in.",
  promote: "Moves to the next phase now, whatever the evidence says.",
  rollback: "Ends the experiment: everyone goes back to the default model. This cannot be undone.",
  hold: "Holds this task type back: its requests go to the default model; the controller never releases a human hold.",
  release: "Releases the task type and pins it active.",
};

function confirmAction(name, verb, task) {
  const d = $("confirm");
  $("confirm-title").textContent = `${verb[0].toUpperCase()}${verb.slice(1)} ${task ? `${task} in ` : ""}${name}?`;
  $("confirm-text").textContent = ACTION_TEXT[verb] || "";
  $("confirm-reason").value = "";
  $("confirm-ok").className = verb === "rollback" || verb === "pause" || verb === "hold" ? "danger" : "primary";
  S.busy = true;
  d.returnValue = "";
  d.onclose = async () => {
    S.busy = false;
    if (d.returnValue !== "ok") return;
    const reason = $("confirm-reason").value.trim();
    try {
      await api("POST", `admin/experiments/${encodeURIComponent(name)}/${verb}`, task ? { task, reason } : { reason });
      const h = await api("GET", `admin/experiments/${encodeURIComponent(name)}/history`);
      const dd = (h.decisions || [])[0];
      S.notice = notice(dd ? `Decision #${dd.id}: ${dd.action}${dd.task_type ? ` ${dd.task_type}` : ""} (${dd.from_phase || "–"} → ${dd.to_phase || "–"}) by ${dd.actor}: ${dd.reason}` : `${verb} applied`, false, dd);
    } catch (e) {
      S.notice = notice(`${verb} refused (HTTP ${e.status}): ${e.message}`, true);
    }
    refresh();
  };
  d.showModal();
  $("confirm-reason").focus();
}

function notice(text, isError, decision) {
  return el("div", { class: `card${isError ? " error" : ""}`, id: "notice", role: "status", "data-decision": decision ? decision.id : null, "data-action": decision ? decision.action : null }, text);
}

// ---- phase timeline: routed share over time, one band per phase ----
function timeline(x, phases) {
  const rows = phases.filter((p) => !p.task_type);
  const card = el("div", { class: "card", id: "timeline" }, el("h2", { text: "Phase timeline" }));
  if (!rows.length) { card.append(el("p", { class: "muted", text: "Not started." })); return card; }
  const t = (s) => new Date(s.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00")).getTime();
  const t0 = t(rows[0].entered_at), t1 = Math.max(Date.now(), t0 + 1000);
  const W = 800, H = 120, L = 34, R = 8, T = 8, B = 22;
  const X = (v) => L + ((v - t0) / (t1 - t0)) * (W - L - R);
  const Y = (p) => T + (1 - p / 100) * (H - T - B);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "routed share per phase over time" });
  for (const p of [0, 50, 100]) {
    svg.append(el("line", { x1: L, x2: W - R, y1: Y(p), y2: Y(p), stroke: "#e3e6ec" }), el("text", { x: 2, y: Y(p) + 4, text: `${p}%` }));
  }
  for (const p of rows) {
    const a = X(t(p.entered_at)), b = X(p.left_at ? t(p.left_at) : t1);
    const pc = isNum(p.routed_pct) ? p.routed_pct : 0;
    const r = el("rect", { x: a, y: Y(Math.max(pc, 2)), width: Math.max(b - a, 1.5), height: Y(0) - Y(Math.max(pc, 2)), fill: PHASE_COLOR[p.phase] || "#999", opacity: 0.85 },
      el("title", { text: `${p.phase} ${pc}% from ${when(p.entered_at)}${p.reason ? `: ${p.reason}` : ""}` }));
    svg.append(r);
    if (b - a > 40) svg.append(el("text", { x: a + 3, y: H - 6, text: p.phase }));
  }
  card.append(svg);
  const held = phases.filter((p) => p.task_type);
  card.append(el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ["entered", "left", "phase", "routed", "task", "action", "by", "why"].map((h) => el("th", { class: h === "why" ? "text" : null, text: h })))),
    el("tbody", {}, [...rows, ...held].sort((a, b) => t(a.entered_at) - t(b.entered_at)).map((p) => el("tr", {},
      el("td", { text: when(p.entered_at) }), el("td", { text: p.left_at ? when(p.left_at) : "now" }), el("td", {}, badge(p.phase)),
      el("td", { text: p.task_type ? "–" : `${p.routed_pct}%` }), el("td", { text: p.task_type || "all" }),
      el("td", { text: p.action || "–" }), el("td", { text: p.actor || "–" }), el("td", { class: "text", text: p.reason || "" })))))));
  return card;
}

// ---- per task type: arms, guardrails against their tolerance, SRM, feedback balance ----
function taskCards(x, ev, arms) {
  const evals = {};
  for (const t of ev.tasks || []) evals[t.task] = t;
  const armsBy = {};
  for (const t of arms.tasks || []) armsBy[t.task] = t;
  const held = new Set(x.held_back || []);
  const shown = TASKS.filter((t) => evals[t] || armsBy[t]);
  if (!shown.length) return [el("div", { class: "card" }, el("h2", { text: "Task types" }), el("p", { class: "muted", text: "No traffic in this step yet." }))];
  return shown.map((task) => {
    const e = evals[task] || {}, a = armsBy[task] || {};
    const card = el("div", { class: "card task", "data-task": task },
      el("h2", {}, `${task} `, badge(held.has(task) ? "held_back" : e.verdict, e.reason), " ",
        el("span", { class: "muted", text: (e.reason || "").replace(/_/g, " ") })));
    card.append(armTable(a));
    const gs = e.guardrails || [];
    if (gs.length) {
      card.append(el("h3", { text: "Guardrails: harm (routed worse than control) with its confidence sequence, against the tolerance" }));
      for (const g of gs) card.append(guardrail(g));
    }
    card.append(checks(e));
    if (x.status === "running" || x.status === "paused") {
      const box = el("div", { class: "actions" });
      box.append(actionButton(x.name, held.has(task) ? "release" : "hold", task, false));
      card.append(box);
    }
    return card;
  });
}

function armTable(a) {
  const rows = [["control", a.control], ["routed", a.routed]];
  return el("div", { class: "scroll" }, el("table", { class: "arms" },
    el("thead", {}, el("tr", {}, ["arm", "samples", "thumbs-down", "rating", "latency mean", "p95", "cost / req", "errors"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.map(([name, r]) => el("tr", { "data-arm": name },
      el("td", { text: name }),
      el("td", { class: "samples", text: r ? int(r.n) : "–" }),
      el("td", { text: r ? `${pct(r.thumbs_down_rate)} (${int(r.thumbs)})` : "–" }),
      el("td", { text: r ? `${fix(r.rating)} (${int(r.ratings)})` : "–" }),
      el("td", { text: r ? ms(r.latency_mean_ms) : "–" }),
      el("td", { text: r ? ms(r.latency_p95_ms) : "–" }),
      el("td", { text: r ? usd(r.cost_per_request) : "–" }),
      el("td", { text: r ? pct(r.error_rate, 2) : "–" }))))));
}

function guardrail(g) {
  const W = 420, H = 40, L = 8, R = 8;
  const lo = isNum(g.harm_lower) ? g.harm_lower : null, hi = isNum(g.harm_upper) ? g.harm_upper : null;
  const m = isNum(g.margin) ? g.margin : 0;
  const vals = [0, m, lo, hi, g.harm].filter(isNum);
  let a = Math.min(...vals), b = Math.max(...vals);
  const pad = (b - a || Math.abs(m) || 1) * 0.15;
  a -= pad; b += pad;
  const X = (v) => L + ((v - a) / (b - a)) * (W - L - R);
  const color = g.status === "regression" ? "#d03b3b" : g.status === "noninferior" ? "#1f9d55" : "#c7831a";
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "guardrail", "data-metric": g.metric, "data-status": g.status, role: "img", "aria-label": `${g.metric} ${g.status}` },
    el("line", { x1: X(0), x2: X(0), y1: 4, y2: H - 12, stroke: "#98a2b3" }),
    el("text", { x: X(0) + 2, y: H - 2, text: "0" }),
    el("line", { x1: X(m), x2: X(m), y1: 2, y2: H - 12, stroke: "#d03b3b", "stroke-dasharray": "4 3" }),
    // the label on the side of the line with room for it
    el("text", { x: X(m) > W / 2 ? X(m) - 3 : X(m) + 3, y: H - 2, fill: "#d03b3b", "text-anchor": X(m) > W / 2 ? "end" : "start", text: `tolerance ${metricValue(g.metric, m)}` }));
  if (lo !== null && hi !== null) {
    svg.append(el("line", { x1: X(lo), x2: X(hi), y1: 14, y2: 14, stroke: color, "stroke-width": 6, "stroke-linecap": "round" },
      el("title", { text: `harm ${metricValue(g.metric, g.harm)}, interval [${metricValue(g.metric, lo)}, ${metricValue(g.metric, hi)}]` })));
  }
  if (isNum(g.harm)) svg.append(el("circle", { cx: X(g.harm), cy: 14, r: 4, fill: "#fff", stroke: color, "stroke-width": 2 }));
  const d = g.diff || {};
  return el("div", { class: "guard" },
    el("div", {}, el("strong", { text: g.metric.replace(/_/g, " ") }), " ", badge(g.status), g.blocking ? "" : el("span", { class: "muted", text: " (warn only)" }),
      el("span", { class: "muted", text: ` control ${metricValue(g.metric, d.value_c)} · routed ${metricValue(g.metric, d.value_t)} · harm ${metricValue(g.metric, g.harm)} [${metricValue(g.metric, lo)}, ${metricValue(g.metric, hi)}] · n ${int(g.n_c)}/${int(g.n_t)}` })),
    svg);
}

function checks(e) {
  const s = e.srm || {}, f = e.feedback_balance || {}, acc = e.accuracy || {};
  const lines = [];
  lines.push(el("div", { class: `check srm${s.mismatch ? " bad" : ""}` },
    `Sample ratio: ${s.valid ? `routed ${pct(s.observed_t)} observed vs ${pct(s.expected_t)} expected (${int(s.n_c)} / ${int(s.n_t)} users), p ${isNum(s.p) ? s.p.toPrecision(3) : "–"}, log BF ${fix(s.log_bf)}` : "not enough units yet"} — ${s.mismatch ? "MISMATCH" : "ok"}`));
  const rc = f.n_c ? f.rated_c / f.n_c : null, rt = f.n_t ? f.rated_t / f.n_t : null;
  lines.push(el("div", { class: `check balance${f.imbalance ? " bad" : ""}` },
    `Feedback balance: rated ${pct(rc)} control vs ${pct(rt)} routed${f.valid ? "" : " (not enough data)"} — ${f.imbalance ? "IMBALANCED: quality guardrails marked biased" : "ok"}`));
  if (acc.valid || acc.total) {
    lines.push(el("div", { class: `check accuracy${acc.fail ? " bad" : ""}` },
      `Classifier vs labels: ${pct(acc.accuracy)} of ${int(acc.total)} (lower bound ${pct(acc.lower)}, floor ${pct(acc.floor)})${acc.fail ? " — BELOW FLOOR" : ""}`));
  }
  return el("div", { class: "checks" }, lines);
}

// ---- savings over time against the single-model baseline ----
function savings(sav) {
  const card = el("div", { class: "card", id: "savings" }, el("h2", { text: "Savings against the single-model baseline" }));
  const pts = sav.points || [];
  if (!pts.length) { card.append(el("p", { class: "muted", text: "No requests yet." })); return card; }
  let c = 0, bl = 0;
  // cumulative from zero at the first bucket's start, each point at its bucket's end
  const cum = [{ t: pts[0].t * 1000, cost: 0, base: 0 }].concat(pts.map((p) => {
    c += p.cost; bl += p.baseline;
    return { t: Math.min((p.t + sav.bucket_s) * 1000, Date.now()), cost: c, base: bl };
  }));
  const last = cum[cum.length - 1];
  const saved = last.base > 0 ? 1 - last.cost / last.base : null;
  card.append(el("p", {}, el("strong", { id: "savings-pct", text: pct(saved) }), ` saved so far: ${usd(last.cost)} spent against ${usd(last.base)} for the same requests on the default model (all cohorts; bucket ${sav.bucket_s} s).`));
  const W = 800, H = 160, L = 50, R = 8, T = 8, B = 20;
  const t0 = cum[0].t, t1 = Math.max(last.t, t0 + 1);
  const ymax = Math.max(last.base, last.cost) || 1;
  const X = (v) => L + ((v - t0) / (t1 - t0)) * (W - L - R);
  const Y = (v) => T + (1 - v / ymax) * (H - T - B);
  const line = (key, color) => el("polyline", { fill: "none", stroke: color, "stroke-width": 2, points: cum.map((p) => `${X(p.t).toFixed(1)},${Y(p[key]).toFixed(1)}`).join(" ") });
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "cumulative cost and baseline" },
    el("line", { x1: L, x2: W - R, y1: Y(0), y2: Y(0), stroke: "#e3e6ec" }),
    el("text", { x: 2, y: Y(ymax) + 8, text: usd(ymax) }), el("text", { x: 2, y: Y(0), text: "$0" }),
    line("base", "#8a94a6"), line("cost", "#1f9d55"),
    el("text", { x: L + 4, y: T + 12, fill: "#8a94a6", text: "baseline (default model)" }),
    el("text", { x: L + 4, y: T + 26, fill: "#1f9d55", text: "actual cost" }));
  card.append(svg);
  return card;
}

// ---- every decision with its evidence ----
function decisions(ds) {
  const card = el("div", { class: "card", id: "decisions" }, el("h2", { text: `Decisions (${ds.length})` }));
  card.append(el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ["#", "when", "action", "task", "from → to", "by", "why / evidence"].map((h) => el("th", { class: h.startsWith("why") ? "text" : null, text: h })))),
    el("tbody", {}, ds.map((d) => el("tr", { "data-decision": d.id, "data-action": d.action },
      el("td", { text: d.id }), el("td", { text: when(d.ts) }), el("td", {}, badge(d.action)),
      el("td", { text: d.task_type || "all" }), el("td", { text: `${d.from_phase || "–"} → ${d.to_phase || "–"}` }),
      el("td", { text: d.actor }),
      el("td", { class: "text" }, d.reason,
        d.evidence && Object.keys(d.evidence).length ? el("details", {}, el("summary", { text: "evidence" }), el("pre", { text: JSON.stringify(d.evidence, null, 1) })) : null)))))));
  return card;
}

// ---- start ----
document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("confirm-cancel").addEventListener("click", () => $("confirm").close("cancel"));
  window.addEventListener("hashchange", () => { S.selected = decodeURIComponent(location.hash.slice(1)) || S.selected; S.notice = null; refresh(); });
  try {
    const s = await api("GET", "console/session");
    start(s);
  } catch (e) {
    if (e.status !== 401) showLogin(e.message);
  }
});
