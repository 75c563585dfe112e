// cctrackd status page: polls /status and /healthz once a second and draws what they say. Every
// value goes into the page as text (textContent), never as markup.
"use strict";

const POLL_MS = 1000;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = (x, digits) => (x === null || x === undefined ? "–" : x.toFixed(digits));

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
}

function renderCounters(st, health) {
  $("run").textContent = st.run;
  $("c-intervals").textContent = st.intervals_done;
  $("c-failed").textContent = st.intervals_failed;
  $("c-consecutive").textContent = st.consecutive_failed;
  $("c-unscored").textContent = st.intervals_without_nmse;
  $("c-rate").textContent = st.interval_rate_hz.toFixed(1) + " /s";
  const started = Date.parse(st.started);
  $("c-uptime").textContent = started > 0 ? duration(Date.now() - started) : "not started";
  const h = $("c-health");
  h.textContent = health.ok ? "healthy" : "unhealthy";
  h.className = health.ok ? "ok" : "bad";
  $("last-error").textContent = st.last_error ? "last error: " + st.last_error : "";
}

function renderEstimators(st) {
  const body = $("estimators").tBodies[0];
  body.replaceChildren();
  st.estimators.forEach((e, k) => {
    const tr = el("tr", { "data-estimator": e.name });
    const name = el("td");
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = COLORS[k % COLORS.length]; // CSSOM, not a style attribute: the CSP allows it
    name.append(swatch, e.name);
    tr.append(name,
      el("td", { class: "num last" }, fmt(e.last_nmse_db, 2)),
      el("td", { class: "num mean" }, fmt(e.mean_nmse_db, 2)),
      el("td", { class: "num" }, String(e.intervals_scored)),
      el("td", { class: "num" }, String(e.failed)),
      el("td", { class: "num" }, fmt(e.mean_latency_us, 1)));
    body.append(tr);
  });
}

// renderChart draws one polyline per estimator: x is the bin's time, y its NMSE in dB.
function renderChart(st) {
  const svg = $("chart");
  svg.replaceChildren();
  const W = 760, H = 280, L = 52, R = 110, T = 12, B = 30;
  const bins = st.history || [];
  const ys = bins.flatMap((b) => b.nmse_db.filter((y) => y !== null));
  if (bins.length === 0 || ys.length === 0) {
    svg.append(el("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis" }, "waiting for scored intervals…"));
    return;
  }
  const t0 = Date.parse(bins[0].start), t1 = Math.max(Date.parse(bins[bins.length - 1].start), t0 + 1000);
  let lo = Math.floor(Math.min(...ys) / 5) * 5, hi = Math.ceil(Math.max(...ys) / 5) * 5;
  if (hi - lo < 5) hi = lo + 5;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + ((hi - v) / (hi - lo)) * (H - T - B);
  const step = hi - lo > 40 ? 10 : 5;
  for (let v = lo; v <= hi; v += step) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(el("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, v + " dB"));
  }
  const span = (t1 - t0) / 1000;
  for (const f of [0, 0.5, 1]) {
    const ago = Math.round(span * (1 - f));
    svg.append(el("svg:text", { x: x(t0 + f * (t1 - t0)), y: H - 8, "text-anchor": "middle", class: "axis" },
      ago === 0 ? "now" : "-" + ago + " s"));
  }
  st.estimators.forEach((e, k) => {
    const pts = [];
    bins.forEach((b) => {
      const v = b.nmse_db[k];
      if (v !== null) pts.push(x(Date.parse(b.start)).toFixed(1) + "," + y(v).toFixed(1));
    });
    const color = COLORS[k % COLORS.length];
    svg.append(el("svg:polyline", { points: pts.join(" "), stroke: color, "data-estimator": e.name }));
    svg.append(el("svg:rect", { x: W - R + 12, y: T + 18 * k, width: 10, height: 10, fill: color }));
    svg.append(el("svg:text", { x: W - R + 28, y: T + 18 * k + 9, class: "legend" }, e.name));
  });
}

function renderPhaseShifters(st) {
  const s = st.setup;
  $("ps-summary").textContent = `programmed: ${s.programmed || "nothing yet"} · ${s.bits}-bit shifters (code k is phase 2πk/${2 ** s.bits}) · ` +
    `BS ${s.bs.array}: ${s.bs.beams} beams · UE ${s.ue.array}: ${s.ue.beams} beams`;
  const body = $("ps-table").tBodies[0];
  body.replaceChildren();
  for (const [name, a] of [["BS", s.bs], ["UE", s.ue]]) {
    a.codes.forEach((codes, j) => {
      const tr = el("tr", { "data-array": name });
      tr.append(el("td", {}, name + " " + a.array), el("td", { class: "num" }, String(j)),
        el("td", { class: "codes" }, codes.join(" ")));
      body.append(tr);
    });
  }
}

function renderRadio(st) {
  const s = st.setup;
  const rows = [["backend", st.backend], ["scene", st.scene], ["arrays (BS-UE)", st.array],
    ["pilot power", s.tx_power_dbm.toFixed(1) + " dBm"], ["noise power", s.noise_dbm.toFixed(1) + " dBm"]];
  for (const [k, v] of Object.entries(st.health || {})) rows.push([k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
  const body = $("radio").tBodies[0];
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = el("tr");
    tr.append(el("th", {}, k), el("td", {}, v));
    return tr;
  }));
}

async function poll() {
  const conn = $("conn");
  try {
    const [sr, hr] = await Promise.all([fetch("status", { cache: "no-store" }), fetch("healthz", { cache: "no-store" })]);
    if (sr.status === 401) {
      conn.textContent = "unauthorized: open this page as /?token=TOKEN";
      conn.className = "conn error";
      return;
    }
    if (sr.status === 503) {
      conn.textContent = "starting: the daemon is building its testbed (tracing, training)…";
      conn.className = "conn";
      return;
    }
    if (!sr.ok) throw new Error("/status: HTTP " + sr.status);
    const st = await sr.json();
    renderCounters(st, { ok: hr.ok });
    renderEstimators(st);
    renderChart(st);
    renderPhaseShifters(st);
    renderRadio(st);
    conn.textContent = "updated " + new Date().toLocaleTimeString();
    conn.className = "conn";
  } catch (err) {
    conn.textContent = "no connection to the daemon: " + err.message;
    conn.className = "conn error";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
