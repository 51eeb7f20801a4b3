"""Web app benchmark (issue 6 part 9): a report, not a test.

    .venv/bin/python -m bench.web [--units 1000000] [--runs 5] [--steps 30] [--step-px 200]
                                  [--street-zoom 16] [--pan-runs 1] [--skip 1|2] [--quiet-wait 300]

The web app of a ``gridmarket serve`` subprocess against the cached bench database, driven in
Debian's headless Chromium (Playwright for Python, the flags of the browser tests), 1440×900,
device pixel ratio 1, logged in as the admin ``bench-web`` (the session cookie set through the
browser context's request client before the page is opened, so no navigation is a login form).

* **Time to the first coloured map** of the main city (the city with most units, the one the
  app opens on): from navigation start (``performance.timeOrigin``) until ``body[data-ready="1"]``
  (set by the app two animation frames after the cell polygons were drawn), recorded in the page
  by a MutationObserver installed before any page script. Each load is then checked: every cell
  polygon of ``gmMap.cellLayer`` carries the fill colour of a legend class (or the no-data grey),
  and the overlay canvas really holds that colour at the centre of up to 400 visible cells.
  After each load the page's later requests (the panel's lists, asked for once the map is
  drawn) are let finish (network idle) before the next load starts, so that no load is timed
  while the previous page's requests still run on the same two cores. Three kinds of load,
  ``--runs`` each:
  - *cold browser, server cache invalidated*: a new browser context (empty HTTP cache) after a
    committed change that makes the API process re-read its metric aggregates (as after a
    territory change or a compaction);
  - *cold browser*: a new browser context (empty HTTP cache), the server's caches warm;
  - *warm browser*: a second navigation in the same context (HTTP cache filled).
  The Performance API gives the breakdown: the HTML, DOMContentLoaded (scripts), each API
  request (start, end, time to first byte, bytes) and the drawing (from the end of the cells'
  response to ready), plus long tasks. The drawing is split by wrappers the same init script
  puts around ``Response.json`` (JSON parse after the body's end), the areas layer's
  ``setAreas`` (decoding the 8,000 outlines, the hit-test index) and ``_draw``, ``L.geoJSON``
  and ``L.GeoJSON.addTo`` (the district outlines) and Leaflet's canvas renderers'
  ``_update``/``_redraw``; the rest is the panel, legend and the two frames of the app's ready
  flag. Goal: ≤ 2 s, judged on p95 of each kind. One untimed load first
  (Chromium started, the server's caches filled).
* **Frame times while panning**: at the city's default zoom (the whole city in view, every cell
  drawn) and at street zoom (``--street-zoom``, where the vector-tile address dots are drawn;
  centred on the densest z 15 tile of the main city), ``--steps`` animated ``map.panBy`` steps
  of ``--step-px`` pixels (0.25 s each, the next one after ``moveend`` and one frame) along a
  rectangle (right, down, left, up), with a requestAnimationFrame loop recording every frame's
  timestamp. Reported: frame interval p50/p95/max, the share over 16.7 ms (one frame late, with
  1 ms of timer jitter allowed) and over 33.3 ms (two or more frames late), the duration of a
  step, the canvas updates of the cell layer on each ``moveend``, the tiles requested and their
  durations, and the time from the last ``moveend`` until the units layer reports every tile of
  the last position drawn (its ``load`` event). A third run at street zoom goes along the
  mirrored rectangle (new tiles) and waits after each step until the position's tiles are all
  drawn: moveend → tiles drawn, p50/p95/max over the steps.

The run first waits (``--quiet-wait`` seconds at most) for the 1-minute load average to fall
below half the CPUs, and reports the load average at its start and end: the browser, the server
and PostgreSQL share the cores, and a concurrent test run or benchmark inflates every figure.

Writes ``bench/reports/web-<date>.txt``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.common import ROOT, Report, bench_database, p50, percentile
from bench.metrics import epoch_bumper, main_city, mark, start_server
from bench.tiles import _densest
from gridmarket.grids import auth, metrics

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
USER = "bench-web"
GOAL_MS = 2000.0
FRAME_MS = 1000 / 60
JITTER_MS = 1.0
LOAD_TIMEOUT_MS = 120_000

# installed in every page before its own scripts: when the map is ready, the long tasks, and room
# for more than the default 250 resource timings (a pan at street zoom requests many tiles)
INIT_JS = """
(() => {
  const gm = (window.__gmBench = { ready: null, longtasks: [], spans: [] });
  const spans = gm.spans;
  try { performance.setResourceTimingBufferSize(20000); } catch (_) {}
  const check = () => {
    const b = document.body;
    if (gm.ready === null && b && b.dataset.ready === '1') gm.ready = performance.now();
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-ready'],
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gm.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (_) {}
  // spans of the work between a response and the painted map: reading + parsing JSON bodies,
  // building the GeoJSON layers, adding them to the map, the canvas renderers' updates and redraws
  const json = Response.prototype.json;
  Response.prototype.json = function () {
    const s = performance.now();
    const url = this.url;
    return json.call(this).then((v) => { spans.push(['json', s, performance.now() - s, url]); return v; });
  };
  const timed = (name, fn, info) => function (...args) {
    const s = performance.now();
    try {
      return fn.apply(this, args);
    } finally {
      spans.push([name, s, performance.now() - s, info(this, args)]);
    }
  };
  const count = (o) => (o && o._layers ? Object.keys(o._layers).length : 0);
  const wrap = (L) => {
    if (!L || L.__gmBench || !L.GeoJSON || !L.Canvas) return;
    L.__gmBench = true;
    L.geoJSON = timed('geojson', L.geoJSON, (_, a) => (a[0] && a[0].features ? a[0].features.length : 0));
    L.GeoJSON.prototype.addTo = timed('addTo', L.Layer.prototype.addTo, count);
    L.Canvas.prototype._update = timed('canvas update', L.Canvas.prototype._update, count);
    L.Canvas.prototype._redraw = timed('canvas redraw', L.Canvas.prototype._redraw, count);
  };
  let leaflet;
  Object.defineProperty(window, 'L', {
    configurable: true, enumerable: true,
    get() { return leaflet; },
    set(v) { leaflet = v; try { wrap(v); } catch (_) {} },
  });
  // the areas' canvas layer (areas_layer.js): decoding the outlines and drawing them
  const areaCount = (o) => (o && o._handles ? o._handles.length : 0);
  let areas;
  Object.defineProperty(window, 'gmAreasLayer', {
    configurable: true, enumerable: true,
    get() { return areas; },
    set(v) {
      areas = v;
      try {
        const P = v.Layer.prototype;
        P.setAreas = timed('setAreas', P.setAreas, (_, a) => (a[0] ? a[0].length : 0));
        P._draw = timed('areas draw', P._draw, areaCount);
      } catch (_) {}
    },
  });
})();
"""

# the cells drawn, their fill colours against the legend, and the canvas pixels at their centres
CHECK_JS = """
(sample) => {
  const g = window.gmMap;
  const map = g.map;
  const layers = g.cellLayer.getLayers();
  const norm = (c) => String(c).trim().toLowerCase();
  const legend = new Set(g.classes.map((c) => norm(c.color)));
  const noData = norm(g.noDataColor);
  let inLegend = 0, grey = 0, units = 0;
  const used = new Set();
  for (const l of layers) {
    const c = norm(l.options.fillColor);
    if (legend.has(c)) { inLegend += 1; used.add(c); } else if (c === noData) grey += 1;
    units += Number(l.feature.properties.units) || 0;
  }
  const rgb = (hex) => {
    const h = hex.replace('#', '');
    const f = h.length === 3 ? h.split('').map((x) => x + x).join('') : h;
    return [0, 2, 4].map((i) => parseInt(f.slice(i, i + 2), 16));
  };
  const view = map.getBounds();
  const size = map.getSize();
  const dpr = window.devicePixelRatio || 1;
  let sampled = 0, matched = 0;
  const ctxs = new Map();
  for (const l of layers) {
    if (sampled >= sample) break;
    const centre = l.getCenter();
    if (!view.contains(centre)) continue;
    const cp = map.latLngToContainerPoint(centre);
    if (cp.x < 4 || cp.y < 4 || cp.x > size.x - 4 || cp.y > size.y - 4) continue;
    const lp = map.latLngToLayerPoint(centre);
    const pb = l._pxBounds;
    // cells of at least 10 x 10 px: the centre pixel of a smaller one may blend with its white outline
    if (!pb || pb.max.x - pb.min.x < 10 || pb.max.y - pb.min.y < 10) continue;
    if (!l._containsPoint || !l._containsPoint(lp)) continue;
    const r = l._renderer;
    if (!r || !r._container || !r._bounds) continue;
    let ctx = ctxs.get(r);
    if (!ctx) { ctx = r._container.getContext('2d'); ctxs.set(r, ctx); }
    const x = Math.round((lp.x - r._bounds.min.x) * dpr);
    const y = Math.round((lp.y - r._bounds.min.y) * dpr);
    const px = ctx.getImageData(x, y, 1, 1).data;
    const want = rgb(norm(l.options.fillColor));
    sampled += 1;
    if (px[3] > 0 && want.every((v, i) => Math.abs(v - px[i]) <= 6)) matched += 1;
  }
  return {
    cells: layers.length, units, inLegend, grey, classes: g.classes.length, coloursUsed: used.size,
    sampled, matched, level: g.level, metric: g.metric, city: g.city, zoom: map.getZoom(),
  };
}
"""

TIMINGS_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map((e) => ({
    name: e.name, start: e.startTime, end: e.responseEnd, ttfb: e.responseStart - e.startTime,
    transfer: e.transferSize, body: e.encodedBodySize, decoded: e.decodedBodySize,
  }));
  const paints = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
  return {
    ready: window.__gmBench.ready,
    html: nav.responseEnd, htmlTtfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd, res, paints, longtasks: window.__gmBench.longtasks, spans: window.__gmBench.spans,
  };
}
"""

# pan along a rectangle in animated steps while a rAF loop records every frame
PAN_JS = """
async ({ steps, px, timeout, settle, mirror }) => {
  const map = window.gmMap.map;
  let units = null;
  map.eachLayer((l) => { if (window.gmUnitsLayer && l instanceof window.gmUnitsLayer.Layer) units = l; });
  const unitsActive = Boolean(units && units._map && map.getZoom() >= (units.options.minZoom || 0));
  const frame = () => new Promise((res) => requestAnimationFrame(() => res()));
  const within = (p) => Promise.race([p, new Promise((res) => setTimeout(() => res('timeout'), timeout))]);
  const tilesIdle = () => (unitsActive && units.isLoading()
    ? within(new Promise((res) => units.once('load', () => res('load'))))
    : Promise.resolve('idle'));
  // settle: the tiles of the start position drawn, two quiet frames
  await tilesIdle();
  await frame(); await frame();
  let started = 0, loaded = 0, failed = 0;
  if (units) {
    units.on('tileloadstart', () => { started += 1; });
    units.on('tileload', () => { loaded += 1; });
    units.on('tileerror', () => { failed += 1; });
  }
  const a = Math.ceil(steps / 4), b = Math.floor(steps / 4);
  const k = mirror ? -px : px;
  const plan = [];
  for (const [n, d] of [[a, [k, 0]], [b, [0, k]], [a, [-k, 0]], [b, [0, -k]]]) {
    for (let i = 0; i < n; i++) plan.push(d);
  }
  while (plan.length > steps) plan.pop();
  while (plan.length < steps) plan.push([k, 0]);
  const frames = [];
  let running = true;
  const loop = (t) => { frames.push(t); if (running) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  await frame();
  performance.clearResourceTimings();
  const t0 = performance.now();
  const stepMs = [];
  const settleMs = [];
  for (const d of plan) {
    const s = performance.now();
    await within(new Promise((res) => {
      map.once('moveend', res);
      map.panBy(d, { animate: true, duration: 0.25 });
    }));
    const e = performance.now();
    await frame();
    stepMs.push(performance.now() - s);
    if (settle && unitsActive) {
      await tilesIdle();
      settleMs.push(performance.now() - e);
    }
  }
  const t1 = performance.now();
  const how = await tilesIdle();
  const tilesDone = performance.now() - t1;
  await frame();
  running = false;
  const tileEntries = performance.getEntriesByType('resource').filter((e) => e.name.includes('/tiles/'));
  const tiles = tileEntries.map((e) => ({
    dur: e.duration, ttfb: e.responseStart - e.startTime, body: e.encodedBodySize, start: e.startTime,
  }));
  const longtasks = window.__gmBench.longtasks.filter((x) => x[0] >= t0 && x[0] <= t1).map((x) => x[1]);
  const canvas = window.__gmBench.spans.filter((x) => x[1] >= t0 && x[1] <= t1 && x[0] === 'canvas update')
    .map((x) => [x[2], x[3]]);
  return {
    canvas, longtasks, frames: frames.filter((t) => t >= t0 && t <= t1), stepMs, settle: settleMs,
    panMs: t1 - t0, tilesDone, how, unitsActive, started, loaded, failed, tiles, zoom: map.getZoom(),
    drawnUnitTiles: unitsActive ? Object.keys(units._tiles).length : 0,
  };
}
"""


# -- set-up ----------------------------------------------------------------------------------
def web_password(engine: Engine) -> str:
    """A fresh password of the admin ``bench-web`` (created once per bench database)."""
    password = auth.generate_password()
    with engine.begin() as conn:
        if auth.get_user(conn, USER) is None:
            auth.add_user(conn, USER, "admin", password)
        else:
            auth.set_password(conn, USER, password)
    return password


def street_centre(engine: Engine, city: str) -> tuple[float, float]:
    """Latitude and longitude of the centre of the densest z 15 tile of the city (inside its densest z 14)."""
    z15 = _densest(engine, city, 15, _densest(engine, city, 14, None))
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_Y(c) AS lat, ST_X(c) AS lon FROM "
                "(SELECT ST_Transform(ST_Centroid(ST_TileEnvelope(:z, :x, :y)), 4326) AS c) q"
            ),
            dict(zip("zxy", z15, strict=True)),
        ).one()
    return float(row.lat), float(row.lon)


def new_context(browser: Browser, base: str, password: str) -> BrowserContext:
    """A new browser context (own cookies and HTTP cache) logged in through its request client."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", device_scale_factor=1)
    context.add_init_script(INIT_JS)
    answer = context.request.post(f"{base}/api/v1/auth/login", data={"username": USER, "password": password})
    if not answer.ok:
        raise RuntimeError(f"login of {USER} failed: HTTP {answer.status} {answer.text()[:200]}")
    return context


# -- (1) time to the first coloured map --------------------------------------------------------
def label(url: str) -> str:
    """A resource's name in the breakdown: its path, with the level of a metrics request."""
    parts = urlsplit(url)
    path = parts.path
    if path.startswith("/static/"):
        return "static " + path.rsplit("/", 1)[-1]
    if path == "/api/v1/metrics":
        level = parse_qs(parts.query).get("level", ["?"])[0]
        return f"API metrics level={level}"
    if path.startswith("/api/v1/metrics/"):
        return "API " + "/".join(path.split("/")[:4]) + "/…/" + path.rsplit("/", 1)[-1]
    if path.startswith("/api/v1/cities/"):
        return "API cities/{code}/" + path.rsplit("/", 1)[-1]
    return "API " + path.removeprefix("/api/v1/") if path.startswith("/api/") else path


def navigate(page: Page, base: str) -> dict[str, Any]:
    """Open the app, wait for the coloured map; return the page's timings and the colour check."""
    page.goto(base + "/", wait_until="commit")
    page.wait_for_function(
        "() => window.__gmBench && window.__gmBench.ready !== null", timeout=LOAD_TIMEOUT_MS
    )
    timings: dict[str, Any] = page.evaluate(TIMINGS_JS)
    timings["check"] = page.evaluate(CHECK_JS, 400)
    # the requests the page makes once the map is drawn (the panel's lists, the city's figures)
    # finish before the next load starts: each load is timed alone, as a user opening the app
    page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)
    return timings


def load_runs(
    browser: Browser, base: str, password: str, runs: int, bump: Any, say: Report
) -> dict[str, list[dict[str, Any]]]:
    """``runs`` loads of each kind; the first context's load is an untimed warm-up of the server."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    warm_ctx = new_context(browser, base, password)
    navigate(warm_ctx.new_page(), base)  # the server's caches filled, Chromium started up
    warm_ctx.close()
    for i in range(runs):
        bump()
        ctx = new_context(browser, base, password)
        out["cold browser, server cache invalidated"].append(navigate(ctx.new_page(), base))
        ctx.close()
        ctx = new_context(browser, base, password)
        page = ctx.new_page()
        out["cold browser"].append(navigate(page, base))
        out["warm browser"].append(navigate(page, base))
        ctx.close()
        say(
            f"  run {i + 1}/{runs}: "
            + ", ".join(f"{k} {v[-1]['ready']:,.0f} ms" for k, v in out.items() if len(v) == i + 1)
        )
    return out


def ms(values: list[float]) -> list[str]:
    return [f"{p50(values):,.0f}", f"{percentile(values, 95):,.0f}", f"{max(values):,.0f}"]


def kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n else "cache"


def draw_phases(t: dict[str, Any]) -> dict[str, float]:
    """From the end of the cells' response to ready: JSON parse, layers built, added, canvas, the rest."""
    cells = [r for r in t["res"] if label(r["name"]) == "API metrics level=cell" and r["end"] <= t["ready"]]
    if not cells:
        return {}
    end, ready = cells[-1]["end"], t["ready"]
    spans = [(n, s, d, info) for n, s, d, info in t["spans"] if s + d >= end and s <= ready]
    parse = max(
        (
            s + d - end
            for n, s, d, info in spans
            if n == "json" and label(str(info)) == "API metrics level=cell"
        ),
        default=0.0,
    )
    build = max((d for n, s, d, info in spans if n in ("geojson", "setAreas")), default=0.0)
    add = max((d for n, s, d, info in spans if n == "addTo"), default=0.0)
    canvas = sum(d for n, s, d, info in spans if n in ("canvas redraw", "areas draw") and s >= end)
    out = {
        "draw: cells' response end → ready, total": ready - end,
        "  JSON parse of the cells (after the body's end)": max(parse, 0.0),
        "  build the cell layer (decode outlines, index; L.geoJSON before)": build,
        "  addTo(map) of L.geoJSON layers (districts)": add,
        "  canvas draws (the areas' layer and Leaflet's renderers)": canvas,
    }
    out["  the rest (panel, legend, children, the two frames of markReady)"] = max(
        0.0, ready - end - sum(v for k, v in out.items() if k.startswith("  "))
    )
    return out


def breakdown(rep: Report, loads: list[dict[str, Any]]) -> None:
    """Per resource and phase: p50 of start, end, duration, first byte and the bytes moved."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in loads:
        seen: set[str] = set()
        for r in t["res"]:
            name = label(r["name"])
            if name in seen or r["start"] > t["ready"]:
                continue
            seen.add(name)
            by[name].append(r)
    rows: list[list[str]] = [
        ["HTML document (response end)", "0", f"{p50([t['html'] for t in loads]):,.0f}", "", "", ""],
        ["DOMContentLoaded (scripts run)", "", f"{p50([t['dcl'] for t in loads]):,.0f}", "", "", ""],
    ]
    fcp = [t["paints"]["first-contentful-paint"] for t in loads if "first-contentful-paint" in t["paints"]]
    if fcp:
        rows.append(["first contentful paint", "", f"{p50(fcp):,.0f}", "", "", ""])
    for name, rs in sorted(by.items(), key=lambda kv: p50([r["start"] for r in kv[1]])):
        rows.append(
            [
                name + (f" ({len(rs)}/{len(loads)} loads)" if len(rs) != len(loads) else ""),
                f"{p50([r['start'] for r in rs]):,.0f}",
                f"{p50([r['end'] for r in rs]):,.0f}",
                f"{p50([r['end'] - r['start'] for r in rs]):,.0f}",
                f"{p50([r['ttfb'] for r in rs]):,.0f}",
                kb(p50([r["transfer"] for r in rs]))
                + (f" ({p50([r['decoded'] for r in rs]) / 1024:,.0f} KB)"),
            ]
        )
    phases: dict[str, list[float]] = defaultdict(list)
    for t in loads:
        for name, value in draw_phases(t).items():
            phases[name].append(value)
    for name, values in phases.items():
        rows.append([name, "", "", f"{p50(values):,.0f}", "", ""])
    long_total = [sum(d for s, d in t["longtasks"] if s < t["ready"]) for t in loads]
    rows.append(["long tasks (> 50 ms) before ready, total", "", "", f"{p50(long_total):,.0f}", "", ""])
    rows.append(
        [
            "ready: body[data-ready=1], cells painted",
            "",
            f"{p50([t['ready'] for t in loads]):,.0f}",
            "",
            "",
            "",
        ]
    )
    rep.table(
        ["phase (p50 over the loads, ms from navigation start)", "start", "end", "took", "TTFB", "bytes"],
        rows,
    )


def section_load(
    rep: Report, browser: Browser, base: str, password: str, runs: int, bump: Any
) -> dict[str, bool]:
    rep(f"(1) time to the first coloured map: {runs} loads of each kind after one warm-up load")
    loads = load_runs(browser, base, password, runs, bump, rep)
    every = [t for v in loads.values() for t in v]
    checks = [t["check"] for t in every]
    c0 = checks[0]
    ok_colours = all(c["inLegend"] + c["grey"] == c["cells"] and c["coloursUsed"] >= 2 for c in checks)
    ok_pixels = all(c["sampled"] > 0 and c["matched"] >= 0.95 * c["sampled"] for c in checks)
    rep(
        f"  map: city {c0['city']}, level {c0['level']}, metric {c0['metric']}, zoom {c0['zoom']:.2f}; "
        f"{c0['cells']:,} cells drawn holding {c0['units']:,} units"
    )
    rep(
        f"  colours: every cell a legend class or no-data grey in every load: {mark(ok_colours)} "
        f"({c0['classes']} classes, {c0['coloursUsed']} used, {c0['grey']:,} grey cells); canvas pixel at "
        f"cell centres = fill colour: {sum(c['matched'] for c in checks):,} of "
        f"{sum(c['sampled'] for c in checks):,} sampled ({mark(ok_pixels)})"
    )
    rows = [[kind, len(v), *ms([t["ready"] for t in v])] for kind, v in loads.items()]
    rep.table(["load", "runs", "p50 ms", "p95 ms", "max ms"], rows)
    for kind, v in loads.items():
        rep()
        rep(f"  breakdown, {kind}:")
        breakdown(rep, v)
    rep()
    goals = {"cells coloured by legend classes (model and canvas)": ok_colours and ok_pixels}
    for kind, v in loads.items():
        p95 = percentile([t["ready"] for t in v], 95)
        goals[f"first coloured map, {kind}: p95 {p95:,.0f} ms ≤ {GOAL_MS:,.0f} ms"] = p95 <= GOAL_MS
    return goals


# -- (2) frame times while panning --------------------------------------------------------------
def pan(page: Page, steps: int, px: int, settle: bool) -> dict[str, Any]:
    """One pan run; with ``settle`` after each step until its tiles are drawn, along the mirrored
    rectangle (left, up, right, down: new tiles, not those the previous run left in the layer)."""
    args = {"steps": steps, "px": px, "timeout": 30_000, "settle": settle, "mirror": settle}
    result: dict[str, Any] = page.evaluate(PAN_JS, args)
    return result


def section_pan(
    rep: Report,
    browser: Browser,
    base: str,
    password: str,
    args: argparse.Namespace,
    centre: tuple[float, float],
) -> None:
    rep(
        f"(2) frame times while panning: {args.steps} animated map.panBy steps of {args.step_px} px "
        f"(0.25 s each) along a rectangle, {args.pan_runs} run(s) per zoom"
    )
    ctx = new_context(browser, base, password)
    page = ctx.new_page()
    navigate(page, base)
    rows: list[list[str]] = []
    notes: list[str] = []
    street = f"street zoom {args.street_zoom}"
    for where, settle in (
        ("city default zoom", False),
        (street, False),
        (f"{street}, waiting for the tiles after each step", True),
    ):
        runs: list[dict[str, Any]] = []
        for _ in range(args.pan_runs):
            if where.startswith("street"):
                page.evaluate(
                    "([lat, lon, z]) => gmMap.map.setView([lat, lon], z, { animate: false })",
                    [centre[0], centre[1], args.street_zoom],
                )
            else:
                navigate(page, base)  # the city's own default view, as the app opens it
            page.wait_for_timeout(500)
            runs.append(pan(page, args.steps, args.step_px, settle))
        frames = [b - a for r in runs for a, b in zip(r["frames"], r["frames"][1:], strict=False)]
        step_ms = [s for r in runs for s in r["stepMs"]]
        tiles = [t for r in runs for t in r["tiles"]]
        n = len(frames)
        over1 = sum(f > FRAME_MS + JITTER_MS for f in frames) / n
        over2 = sum(f > 2 * FRAME_MS + JITTER_MS for f in frames) / n
        rows.append(
            [
                f"{where} (zoom {runs[0]['zoom']:g})",
                f"{n:,}",
                f"{p50(frames):,.1f}",
                f"{percentile(frames, 95):,.1f}",
                f"{max(frames):,.1f}",
                f"{over1:.0%}",
                f"{over2:.0%}",
                f"{p50(step_ms):,.0f} / {max(step_ms):,.0f}",
            ]
        )
        r = runs[-1]
        if r["unitsActive"]:
            done = [x["tilesDone"] for x in runs]
            durations = [t["dur"] for t in tiles] or [0.0]
            mb = sum(t["body"] for t in tiles) / 2**20
            notes.append(
                f"  {where}: {sum(x['started'] for x in runs):,} unit tiles started, "
                f"{sum(x['loaded'] for x in runs):,} drawn, {sum(x['failed'] for x in runs)} failed; "
                f"{len(tiles):,} tile requests, duration p50 {p50(durations):,.0f} ms, "
                f"p95 {percentile(durations, 95):,.0f} ms, {mb:,.1f} MB"
            )
            notes.append(
                f"  {where}: the last position's {r['drawnUnitTiles']} tiles all drawn {max(done):,.0f} ms "
                f"after the last moveend ({r['how']}; 0 = already drawn during the step's animation)"
            )
            waits = [w for x in runs for w in x["settle"]]
            if waits:
                notes.append(
                    f"  {where}: moveend → every tile of the position drawn p50 {p50(waits):,.0f} ms, "
                    f"p95 {percentile(waits, 95):,.0f} ms, max {max(waits):,.0f} ms ({len(waits)} steps)"
                )
        else:
            notes.append(f"  {where}: no address tiles at this zoom (the units layer starts at z 15)")
        canvas = [c for x in runs for c in x["canvas"]]
        big = [d for d, n in canvas if n >= 1000]
        polygons = max((n for _, n in canvas), default=0)
        long = [d for x in runs for d in x["longtasks"]]
        pan_ms = sum(x["panMs"] for x in runs)
        notes.append(
            f"  {where}: main-thread long tasks (> 50 ms) during the pan: {len(long)}, "
            f"{sum(long):,.0f} ms in all ({sum(long) / pan_ms:.0%} of the pan), "
            f"longest {max(long, default=0):,.0f} ms"
        )
        notes.append(
            f"  {where}: pan of {r['panMs'] / 1000:,.1f} s, {len(r['frames']):,} frames; canvas updates "
            f"(moveend: clip + redraw) of the cell layer ({polygons:,} polygons): "
            + (f"{len(big)}, p50 {p50(big):,.0f} ms, max {max(big):,.0f} ms" if big else "none timed")
        )
    ctx.close()
    rep.table(
        ["view", "frames", "p50 ms", "p95 ms", "max ms", "> 16.7 ms", "> 33.3 ms", "step p50 / max ms"], rows
    )
    for line in notes:
        rep(line)
    rep(
        f"  frame = interval between requestAnimationFrame timestamps; '> 16.7 ms' counts intervals over "
        f"{FRAME_MS + JITTER_MS:.1f} ms, '> 33.3 ms' over {2 * FRAME_MS + JITTER_MS:.1f} ms"
    )
    rep()


def code_version() -> str:
    """The checkout's commit (and whether the web app or API differ from it), for the report."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gridmarket"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" with uncommitted changes in gridmarket/" if dirty else "")


def wait_quiet(limit: float) -> float:
    """Wait up to ``limit`` seconds for the 1-minute load average to fall below half the CPUs.

    The browser, the server and PostgreSQL share the machine's cores: a test run or another
    benchmark at the same time inflates every figure here.
    """
    t0 = time.monotonic()
    quiet = (os.cpu_count() or 2) / 2
    while os.getloadavg()[0] >= quiet and time.monotonic() - t0 < limit:
        time.sleep(5)
    return time.monotonic() - t0


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=1_000_000, help="demo units of the bench database")
    ap.add_argument("--runs", type=int, default=5, help="timed loads of each kind")
    ap.add_argument("--steps", type=int, default=30, help="pan steps per run")
    ap.add_argument("--step-px", type=int, default=200, help="pixels per pan step")
    ap.add_argument("--street-zoom", type=int, default=16)
    ap.add_argument("--pan-runs", type=int, default=1, help="pan runs per zoom")
    ap.add_argument("--skip", default="", help="sections to leave out: 1 (loads), 2 (panning)")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        help="seconds to wait at most for the 1-minute load average to fall below the CPU count / 2",
    )
    args = ap.parse_args(argv)

    rep = Report("web")
    rep(f"gridmarket web app benchmark — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs")
    url, load_s, reused = bench_database(args.units, rebuild=False, say=rep)
    how = "reused; its build took" if reused else "built in"
    rep(f"bench database {make_url(url).database}: {how} {load_s:,.0f} s; code {code_version()}")
    waited = wait_quiet(args.quiet_wait)
    rep(
        f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
        f" (waited {waited:,.0f} s for a quieter machine)"
    )
    engine = create_engine(url, pool_size=2)
    with engine.begin() as conn:
        folded = metrics.compact_metrics(conn)
    with engine.connect() as conn:
        city, city_name, city_units = main_city(conn)
        total = conn.scalar(text("SELECT count(*) FROM address_unit WHERE retired_at IS NULL"))
        cells = conn.scalar(
            text("SELECT count(*) FROM cell c JOIN region r ON r.id = c.city_id WHERE r.code = :c"),
            {"c": city},
        )
    rep(f"compacted {folded or 0:,} pending delta rows before timing")
    rep(f"{total:,} address units; main city {city} {city_name}: {city_units:,} units, {cells:,} cells")
    centre = street_centre(engine, city)
    password = web_password(engine)
    server, base = start_server(url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        rep(
            f"Chromium {browser.version} headless (software rendering), viewport "
            f"{VIEWPORT['width']}×{VIEWPORT['height']}, device pixel ratio 1; one gridmarket serve process"
        )
        rep()
        goals: dict[str, bool] = {}
        try:
            if "1" not in args.skip:
                goals |= section_load(rep, browser, base, password, args.runs, epoch_bumper(engine))
            if "2" not in args.skip:
                section_pan(rep, browser, base, password, args, centre)
        finally:
            browser.close()
            server.terminate()
            server.wait(10)
    rep(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rep()
    rep("goals")
    rep.table(["goal", "result"], [[g, mark(ok)] for g, ok in goals.items()])
    engine.dispose()
    rep()
    rep(f"report written to {rep.save().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
