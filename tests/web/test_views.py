"""The holistic views in a real browser: metric and level pickers, real classes (quantiles and
natural breaks) checked against the API's values and the legend's bounds, the area card, drill-down
and breadcrumbs, compare and league table, characteristic grids, search, as-of date and period, and
the language switch of every label.

These tests only read; the edits (which change figures) run on a private database in test_edit.py.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.web.browser import ARTIFACTS, READY, Watched, log_in

STATUS_KEYS = ["stock", "competing", "other_network", "potential", "vacant", "unknown"]
CJK = re.compile(r"[\u4e00-\u9fff]")

# what the page drew: the level, the metric and the fill colour of every area
DRAWN_JS = """() => ({
  level: gmMap.level,
  metric: gmMap.metric,
  zoom: gmMap.map.getZoom(),
  drawn: Object.fromEntries(gmMap.cellLayer.getLayers().map(
    (l) => [String(l.feature.id ?? l.feature.properties.code), l.options.fillColor])),
})"""

# the legend as shown: colour, bounds (numeric classes) or category key, count, label
LEGEND_JS = """() => Array.from(document.querySelectorAll('#gm-legend-items .gm-legend-item')).map((e) => ({
  color: e.dataset.color,
  min: e.dataset.min === undefined ? null : Number(e.dataset.min),
  max: e.dataset.max === undefined ? null : Number(e.dataset.max),
  key: e.dataset.key ?? null,
  nodata: e.classList.contains('is-nodata'),
  count: Number(e.querySelector('.gm-legend-count').textContent.replace(/,/g, '')),
  label: e.querySelector('.gm-legend-label').textContent.trim(),
}))"""

# a page point inside an area of the layer (by code, or the biggest clear of the overlays)
PICK_JS = """(code) => {
  const {map, cellLayer} = gmMap;
  const box = map.getContainer().getBoundingClientRect();
  const size = map.getSize();
  const layers = cellLayer.getLayers()
    .filter((l) => code === null || String(l.feature.properties.code) === code)
    .sort((a, b) => (b.feature.properties.units || 0) - (a.feature.properties.units || 0));
  for (const l of layers) {
    const b = l.getBounds();
    for (let i = 1; i < 16; i++) {
      for (let j = 1; j < 16; j++) {
        const ll = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 16,
                            b.getWest() + (b.getEast() - b.getWest()) * j / 16);
        const p = map.latLngToContainerPoint(ll);
        if (p.x < 240 || p.y < 70 || p.x > size.x - 60 || p.y > size.y - 30) continue;
        if (p.y > size.y - 260 && p.x < 240) continue;
        if (!l._containsPoint(map.latLngToLayerPoint(ll))) continue;
        return {code: String(l.feature.properties.code), x: box.left + p.x, y: box.top + p.y};
      }
    }
  }
  return null;
}"""


def pct(value: float | None) -> str:
    """A fraction as the page shows it: percent with one decimal, half away from zero."""
    if value is None:
        return "无数据"
    return f"{(Decimal(value * 100)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def yuan(value: float | None) -> str:
    if value is None:
        return "—"
    return f"¥{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


FORMAT = {
    "penetration": pct,
    "fixed_line_penetration": pct,
    "long_distance_share": pct,
    "coverage": pct,
    "revenue": yuan,
    "units": count,
    "opportunity": count,
    "churned": count,
}


def _login(page: Page, base: str, credentials: tuple[str, str]) -> None:
    page.goto(f"{base}/")
    log_in(page, *credentials)
    page.wait_for_selector(READY, timeout=30_000)


def _ready(page: Page) -> None:
    """Wait until the layer asked for is drawn (the page drops data-ready while loading)."""
    page.wait_for_selector(READY, timeout=30_000)


def _api_areas(page: Page, base: str, **params: str) -> list[dict[str, Any]]:
    answer = page.request.get(f"{base}/api/v1/metrics", params=params)
    assert answer.ok, (params, answer.status, answer.text())
    return list(answer.json()["areas"])


def _dominant_status(area: dict[str, Any]) -> str | None:
    best: tuple[int, str] | None = None
    for key in STATUS_KEYS:  # ties go to the first in this order
        n = area[f"n_{key}"] or 0
        if n > 0 and (best is None or n > best[0]):
            best = (n, key)
    return best[1] if best else None


def _check_colours(page: Page, areas: list[dict[str, Any]], value_of: Any) -> list[dict[str, Any]]:
    """Every drawn area has the colour of the legend class holding its API value (grey: no value)."""
    legend = page.evaluate(LEGEND_JS)
    drawn = page.evaluate(DRAWN_JS)["drawn"]
    assert set(drawn) == {str(a["id"]) for a in areas}
    classes = [e for e in legend if not e["nodata"]]
    no_data = next(e for e in legend if e["nodata"])
    assert len({e["color"] for e in legend}) == len(legend), "legend colours must differ"
    counts = {e["color"]: 0 for e in legend}
    for area in areas:
        value = value_of(area)
        if value is None:
            want = no_data["color"]
        elif isinstance(value, str):
            want = next(e["color"] for e in classes if e["key"] == value)
        else:
            holding = [e for e in classes if e["min"] <= value <= e["max"]]
            assert len(holding) == 1, (area["id"], value, classes)
            want = holding[0]["color"]
        assert drawn[str(area["id"])] == want, (area["id"], value)
        counts[want] += 1
    assert [counts[e["color"]] for e in legend] == [e["count"] for e in legend]
    return legend


def _sse(groups: list[list[float]]) -> float:
    total = 0.0
    for g in groups:
        mean = sum(g) / len(g)
        total += sum((v - mean) ** 2 for v in g)
    return total


def test_metrics_levels_and_classes(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    page = watched.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _login(page, live_server, admin_credentials)
    city = page.evaluate("gmMap.city")

    # -- the default: cells, penetration, 5 quantile classes
    state = page.evaluate(DRAWN_JS)
    assert state["level"] == "cell" and state["metric"] == "penetration"
    expect(page.locator("#gm-level [data-level=cell]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#gm-legend-sub")).to_have_text("分位数 · 单元数")
    cells = _api_areas(page, live_server, level="cell", city=city)
    _check_colours(page, cells, lambda a: a["penetration"])

    # -- districts, fixed-line penetration
    page.click("#gm-level [data-level=district]")
    _ready(page)
    page.select_option("#gm-metric", "fixed_line_penetration")
    _ready(page)
    expect(page.locator("#gm-legend-title")).to_have_text("固话渗透率")
    districts = _api_areas(page, live_server, level="district", city=city)
    assert page.evaluate("gmMap.level") == "district"
    _check_colours(page, districts, lambda a: a["fixed_line_penetration"])

    # -- grids, revenue in natural breaks: classes are runs of the sorted values, and no partition
    #    into runs of the same number of classes has a smaller within-class sum of squares than it
    page.click("#gm-level [data-level=grid]")
    _ready(page)
    page.select_option("#gm-metric", "revenue")
    page.select_option("#gm-method", "jenks")
    _ready(page)
    expect(page.locator("#gm-legend-sub")).to_have_text("自然断点 · 网格数")
    grids = _api_areas(page, live_server, level="grid", city=city)
    legend = _check_colours(page, grids, lambda a: a["revenue"])
    classes = sorted((e for e in legend if not e["nodata"]), key=lambda e: e["min"])
    values = sorted(a["revenue"] for a in grids if a["revenue"] is not None)
    groups = [[v for v in values if c["min"] <= v <= c["max"]] for c in classes]
    assert sum(len(g) for g in groups) == len(values)
    for c, g in zip(classes, groups, strict=True):
        assert g and g[0] == c["min"] and g[-1] == c["max"]
    k = len(groups)
    best = math.inf
    n = len(values)

    def runs(start: int, parts: int) -> list[list[list[float]]]:
        if parts == 1:
            return [[values[start:]]]
        out = []
        for end in range(start + 1, n - parts + 2):
            for rest in runs(end, parts - 1):
                out.append([values[start:end], *rest])
        return out

    if n <= 18:  # exhaustive check on small sets
        best = min(_sse(p) for p in runs(0, k))
        assert _sse(groups) <= best + 1e-6
    # the same values in quantiles: a different, valid partition
    page.select_option("#gm-method", "quantile")
    _ready(page)
    _check_colours(page, grids, lambda a: a["revenue"])

    # -- status mix: categories, each area coloured by its most frequent status
    page.select_option("#gm-metric", "status_mix")
    _ready(page)
    expect(page.locator("#gm-method")).to_be_disabled()
    legend = _check_colours(page, grids, _dominant_status)
    assert [e["key"] for e in legend if not e["nodata"]] == STATUS_KEYS

    # -- H3: the resolution follows the zoom
    page.select_option("#gm-metric", "penetration")
    page.click("#gm-level [data-level=h3]")
    _ready(page)
    state = page.evaluate(DRAWN_JS)
    res = max(5, min(12, math.floor(state["zoom"]) - 4))
    assert state["level"] == f"h3:{res}"
    hexes = _api_areas(page, live_server, level=f"h3:{res}", city=city)
    _check_colours(page, hexes, lambda a: a["penetration"])
    expect(page.locator("#gm-legend-sub")).to_contain_text(f"H3 分辨率 {res}")
    page.evaluate("() => { gmMap.map.setZoom(Math.floor(gmMap.map.getZoom()) + 1, {animate: false}); }")
    page.wait_for_function("(r) => gmMap.level === `h3:${r}`", arg=res + 1)
    _ready(page)
    hexes = _api_areas(page, live_server, level=f"h3:{res + 1}", city=city)
    _check_colours(page, hexes, lambda a: a["penetration"])
    page.screenshot(path=str(ARTIFACTS / "views_h3.png"))

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_area_card_drill_down_and_language(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    page = watched.page
    _login(page, live_server, admin_credentials)
    city = page.evaluate("gmMap.city")
    page.click("#gm-level [data-level=district]")
    _ready(page)
    districts = {a["id"]: a for a in _api_areas(page, live_server, level="district", city=city)}

    # -- click a district: its full card, with the same figures as the API
    pick = page.evaluate(PICK_JS, None)
    assert pick is not None
    page.mouse.click(pick["x"], pick["y"])
    card = page.locator("#gm-panel .gm-card[data-level=district]")
    expect(card).to_have_attribute("data-area", pick["code"])
    d = districts[pick["code"]]
    expect(card.locator(".gm-card-title")).to_have_text(d["name"])
    expect(card.locator(".gm-kpi-main .gm-kpi-value")).to_have_text(pct(d["penetration"]))
    for key, fmt in FORMAT.items():
        expect(card.locator(f'.gm-metric-table tr[data-metric="{key}"] td.gm-num')).to_have_text(fmt(d[key]))
    rows = card.locator(".gm-status-table tbody tr")
    for i, key in enumerate(STATUS_KEYS):
        expect(rows.nth(i).locator("td").nth(1)).to_have_text(f"{d['n_' + key]:,}")
    for rival, n in d["rival_mix"].items():
        expect(card.locator(f'.gm-rivals [data-rival="{rival}"] .gm-bar-value')).to_contain_text(f"{n:,}")
    # who answers for the district, on both axes, as the people API says
    people = page.request.get(f"{live_server}/api/v1/areas/district/{pick['code']}/people").json()
    matrix = card.locator(".gm-area-people")
    cov = people["coverage"]
    expect(matrix.locator(".gm-people-coverage")).to_contain_text(
        f"{cov['cells_with_account_manager']:,}/{cov['cells']:,} 个单元有客户经理"
    )
    centres = people["regional"]["units"]
    assert centres, "the district has a regional centre"
    expect(matrix.locator(".gm-person-unit .gm-person-name")).to_contain_text(
        [c["org_unit_name"] for c in centres]
    )
    for c in centres:
        for head in c["heads"]:
            expect(matrix.locator(f'.gm-person-unit[data-unit-code="{c["org_unit_code"]}"]')).to_contain_text(
                head["name"]
            )
    managers = people["regional"]["grid_managers"][:8]
    expect(matrix.locator(".gm-axis-regional .gm-person[data-via=grid] .gm-person-name")).to_contain_text(
        [m["name"] for m in managers]
    )
    fgs = people["specialist"]["feature_grids"]
    expect(matrix.locator(".gm-person-fg")).to_have_count(len(fgs))
    for f in fgs:
        row = matrix.locator(f'.gm-person-fg[data-fg="{f["code"]}"]')
        expect(row).to_contain_text(f"本区域内 {f['cells']:,} 个单元")
        for h in f["holders"]:
            expect(row).to_contain_text(h["name"])
    matrix.screenshot(path=str(ARTIFACTS / "views_people.png"))
    top = page.request.get(
        f"{live_server}/api/v1/areas/district/{pick['code']}/top-customers", params={"limit": 10}
    ).json()["customers"]
    assert top, "the district has customers"
    expect(card.locator(".gm-customer .gm-customer-name")).to_have_text([c["name"] for c in top])
    expect(card.locator(".gm-customer .gm-customer-revenue")).to_have_text([yuan(c["revenue"]) for c in top])

    # its children, as the API lists them
    children = page.request.get(f"{live_server}/api/v1/metrics/district/{pick['code']}/children").json()[
        "areas"
    ]
    expect(card.locator(".gm-child")).to_have_count(len(children))

    # -- drill down: the district's grids on the map, breadcrumbs city › district
    card.locator("[data-card-action=drill]").click()
    _ready(page)
    assert page.evaluate("gmMap.level") == "grid"
    drawn = page.evaluate(DRAWN_JS)["drawn"]
    assert set(drawn) == {c["id"] for c in children}
    crumbs = page.locator("#gm-crumbs .gm-crumb")
    expect(crumbs).to_have_count(2)
    expect(crumbs.nth(1)).to_contain_text(d["name"])
    overview = page.locator("#gm-panel .gm-overview")
    expect(overview).to_have_attribute("data-area", pick["code"])

    # a child from the list: its card
    first = children[0]
    overview.locator(f'.gm-child-btn[data-child="{first["id"]}"]').click()
    expect(page.locator("#gm-panel .gm-card[data-level=grid]")).to_have_attribute("data-area", first["id"])
    expect(page.locator("#gm-panel .gm-card .gm-card-title")).to_have_text(first["name"])

    # drill again into the grid: its cells; a cell's card has both axes of people
    page.locator("#gm-panel [data-card-action=drill]").click()
    _ready(page)
    assert page.evaluate("gmMap.level") == "cell"
    expect(crumbs).to_have_count(3)
    cell = page.evaluate(PICK_JS, None)
    assert cell is not None
    page.mouse.click(cell["x"], cell["y"])
    cell_card = page.locator("#gm-panel .gm-card[data-level=cell]")
    expect(cell_card).to_have_attribute("data-cell", cell["code"])
    expect(cell_card.locator(".gm-axis-regional")).to_be_visible()
    expect(cell_card.locator(".gm-axis-specialist")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "views_drill.png"))

    # -- English: every label of the toolbar, legend, breadcrumbs and card changes
    labels = (
        ".gm-ctl-label, #gm-level button, #gm-metric option, #gm-metric optgroup, #gm-method option, "
        "#gm-legend-title, #gm-legend-sub, .gm-legend-item.is-nodata .gm-legend-label, .gm-crumb-sub, "
        "#gm-compare-open > span:first-child, #gm-panel .gm-eyebrow, #gm-panel .gm-section-title, "
        "#gm-panel .gm-kpi-label, #gm-panel .gm-metric-table td:first-child, #gm-panel .gm-metric-group th, "
        "#gm-panel .gm-card-actions button, #gm-panel .gm-kv dt, #gm-panel .gm-status-table td:first-child, "
        "#gm-panel .gm-axis-title, #gm-logout, #gm-myarea, .gm-nav-link"
    )
    read = f"""() => Array.from(document.querySelectorAll({labels!r}))
        .map((e) => (e.tagName === 'OPTGROUP' ? e.label : e.textContent).trim())"""
    zh = page.evaluate(read)
    placeholder_zh = page.locator("#gm-search").get_attribute("placeholder")
    page.get_by_role("button", name="English").click()
    en = page.evaluate(read)
    assert len(zh) == len(en) and len(zh) > 60
    for before, after in zip(zh, en, strict=True):
        if before.startswith("H3"):
            continue  # "H3" is H3 in both
        assert before != after, before
        assert not CJK.search(after), after
    placeholder_en = page.locator("#gm-search").get_attribute("placeholder")
    assert placeholder_zh != placeholder_en and not CJK.search(placeholder_en or "")
    expect(page.locator("#gm-legend-sub")).to_have_text("Quantiles · number of cells")
    page.screenshot(path=str(ARTIFACTS / "views_drill_en.png"))
    page.get_by_role("button", name="中文").click()

    # -- breadcrumbs back up to the city: districts again
    crumbs.nth(0).click()
    _ready(page)
    assert page.evaluate("gmMap.level") == "district"
    expect(crumbs).to_have_count(1)

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_compare_and_league_table(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    page = watched.page
    _login(page, live_server, admin_credentials)
    page.click("#gm-level [data-level=district]")
    _ready(page)
    codes = page.evaluate("gmMap.cellLayer.getLayers().map((l) => String(l.feature.properties.code))")
    assert len(codes) >= 2
    picked = []
    for code in codes[:3]:
        pick = page.evaluate(PICK_JS, code)
        if pick is None:
            continue
        page.mouse.click(pick["x"], pick["y"])
        expect(page.locator("#gm-panel .gm-card")).to_have_attribute("data-area", code)
        page.locator("#gm-panel [data-card-action=compare]").click()
        expect(page.locator("#gm-panel [data-card-action=compare]")).to_have_attribute("aria-pressed", "true")
        picked.append(code)
        if len(picked) == 2:
            break
    assert len(picked) == 2
    expect(page.locator("#gm-compare-count")).to_have_text("2")

    # -- the comparison: the same figures as the compare API, side by side, and bar charts
    page.click("#gm-compare-open")
    modal = page.locator("#gm-modal")
    table = modal.locator(".gm-compare-table")
    expect(table).to_be_visible()
    query = "&".join(f"area=district:{c}" for c in picked)
    answer = page.request.get(f"{live_server}/api/v1/metrics/compare?{query}")
    assert answer.ok, answer.text()
    areas = answer.json()["areas"]
    expect(table.locator("thead th")).to_have_count(3)
    for key, fmt in FORMAT.items():
        cells = table.locator(f'tr[data-metric="{key}"] td.gm-num')
        expect(cells).to_have_text([fmt(a[key]) for a in areas])
    charts = modal.locator(".gm-chart")
    expect(charts).to_have_count(6)
    expect(charts.first.locator(".gm-bar-row")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "views_compare.png"))
    page.click("#gm-modal-close")
    expect(modal).to_be_hidden()

    # -- league table of the cells of a district, by the rank API; sortable by any column
    page.locator("#gm-panel [data-card-action=rank]").click()
    rank = modal.locator(".gm-rank-table")
    expect(rank).to_be_visible()
    ranked = page.request.get(
        f"{live_server}/api/v1/metrics/district/{picked[-1]}/rank",
        params={"child_level": "cell", "metric": "penetration"},
    ).json()["areas"]
    rows = rank.locator("tbody tr")
    expect(rows).to_have_count(len(ranked))
    assert rows.evaluate_all("(rs) => rs.map((r) => r.dataset.code)") == [r["code"] for r in ranked]
    rank.locator('th[data-sort="units"]').click()
    shown = rows.evaluate_all("(rs) => rs.map((r) => r.dataset.code)")
    units = {r["code"]: r["units"] for r in ranked}
    assert [units[c] for c in shown] == sorted(units.values(), reverse=True)
    rank.locator('th[data-sort="units"]').click()
    shown = rows.evaluate_all("(rs) => rs.map((r) => r.dataset.code)")
    assert [units[c] for c in shown] == sorted(units.values())
    expect(rank.locator('th[data-sort="units"]')).to_have_attribute("aria-sort", "ascending")
    # grids instead of cells
    modal.locator('[data-modal-input="childLevel"]').select_option("grid")
    ranked_grids = page.request.get(
        f"{live_server}/api/v1/metrics/district/{picked[-1]}/rank",
        params={"child_level": "grid", "metric": "penetration"},
    ).json()["areas"]
    expect(rows).to_have_count(len(ranked_grids))
    page.screenshot(path=str(ARTIFACTS / "views_rank.png"))
    page.keyboard.press("Escape")
    expect(modal).to_be_hidden()

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_characteristic_grid_search_and_time(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    page = watched.page
    _login(page, live_server, admin_credentials)

    # -- a characteristic grid: its member cells outlined (across districts), its own totals
    fgs = _api_areas(page, live_server, level="feature_grid")
    assert fgs, "the demo has characteristic grids"
    fg = max(fgs, key=lambda f: f["units"])
    page.select_option("#gm-fg", fg["code"])
    page.wait_for_function("window.gmMap && gmMap.fgCells.length > 0")
    _ready(page)
    members = page.request.get(
        f"{live_server}/api/v1/metrics", params={"level": "cell", "feature_grid": fg["code"]}
    ).json()["areas"]
    assert sorted(page.evaluate("gmMap.fgCells")) == sorted(m["id"] for m in members)
    box = page.locator("#gm-fgbox")
    expect(box.locator(".gm-area-title")).to_have_text(fg["name"])
    expect(box.locator('[data-key="units"]')).to_have_text(f"{fg['units']:,}")
    expect(box.locator('[data-key="cells"]')).to_have_text(str(len(members)))
    expect(box.locator('[data-key="districts"]')).to_have_text(
        str(len({m["district_code"] for m in members}))
    )
    page.screenshot(path=str(ARTIFACTS / "views_feature_grid.png"))
    box.locator("[data-fg-action=close]").click()
    expect(box).to_be_hidden()

    # -- search an address: the results, then fly to it with its card open
    city = page.evaluate("gmMap.city")
    cell = _api_areas(page, live_server, level="cell", city=city)[0]["id"]
    unit = page.request.get(f"{live_server}/api/v1/cells/{cell}/units", params={"limit": 1}).json()["units"][
        0
    ]
    page.fill("#gm-search", unit["address"])
    item = page.locator(f'#gm-search-results .gm-search-item:has-text("{unit["external_id"]}")')
    expect(item).to_be_visible()
    item.dispatch_event("mousedown")
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{unit["external_id"]}"]')
    expect(card).to_be_visible()
    expect(card.locator(".gm-card-title")).to_have_text(unit["address"])
    page.wait_for_function("gmMap.map.getZoom() >= 15")
    page.screenshot(path=str(ARTIFACTS / "views_search.png"))
    card.locator("[data-unit-action=back]").click()
    # a customer by its name
    if unit["customer_name"]:
        page.fill("#gm-search", unit["customer_name"])
        expect(page.locator("#gm-search-results .gm-search-kind-customer").first).to_be_visible()
    page.fill("#gm-search", "")

    # -- as of a date: the request carries it and the map is that day's
    yesterday = (dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() - dt.timedelta(days=1)).isoformat()
    with page.expect_request(lambda r: "as_of=" in r.url and "format=table" in r.url) as req:
        page.fill("#gm-asof", yesterday)
        page.locator("#gm-asof").dispatch_event("change")
    assert parse_qs(urlsplit(req.value.url).query)["as_of"] == [yesterday]
    _ready(page)
    level = page.evaluate("gmMap.level")
    areas = _api_areas(page, live_server, level=level, city=city, as_of=yesterday)
    _check_colours(page, areas, lambda a: a["penetration"])

    # -- a period for churned / won
    page.select_option("#gm-metric", "churned")
    month = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().strftime("%Y-%m")
    with page.expect_request(lambda r: "period=" in r.url and "format=table" in r.url) as req:
        page.fill("#gm-period", month)
        page.locator("#gm-period").dispatch_event("change")
    assert parse_qs(urlsplit(req.value.url).query)["period"] == [month]
    _ready(page)
    areas = _api_areas(page, live_server, level=level, city=city, as_of=yesterday, period=month)
    _check_colours(page, areas, lambda a: a["churned"])

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_building_roster(watched: Watched, live_server: str, admin_credentials: tuple[str, str]) -> None:
    page = watched.page
    _login(page, live_server, admin_credentials)
    city = page.evaluate("gmMap.city")
    cells = sorted(_api_areas(page, live_server, level="cell", city=city), key=lambda c: -c["units"])
    buildings = page.request.get(f"{live_server}/api/v1/cells/{cells[0]['id']}/buildings").json()["buildings"]
    building = max(buildings, key=lambda b: b["units"])
    roster = page.request.get(f"{live_server}/api/v1/buildings/{building['code']}/roster").json()

    # -- from the search: the building's roster, floors × rooms coloured by status
    page.fill("#gm-search", building["code"])
    page.locator(f'#gm-search-results .gm-search-item:has-text("{building["code"]}")').dispatch_event(
        "mousedown"
    )
    modal = page.locator("#gm-modal")
    expect(modal.locator(".gm-roster")).to_be_visible()
    expect(modal.locator(".gm-modal-title")).to_contain_text(building["name"])
    expect(modal.locator('[data-key="units"]')).to_have_text(f"{roster['units']:,}")
    floors = modal.locator(".gm-roster-floor")
    expect(floors).to_have_count(len(roster["floors"]))
    rooms = [r for f in roster["floors"] for r in f["rooms"]]
    tiles = modal.locator(".gm-room")
    expect(tiles).to_have_count(len(rooms))
    shown = tiles.evaluate_all("(ts) => ts.map((t) => [t.dataset.room, t.dataset.status])")
    assert shown == [[r["external_id"], r["status"] or "unknown"] for r in rooms]
    page.screenshot(path=str(ARTIFACTS / "views_roster.png"))

    # -- a room opens its address card
    tiles.first.click()
    expect(modal).to_be_hidden()
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{rooms[0]["external_id"]}"]')
    expect(card.locator(".gm-card-title")).to_have_text(rooms[0]["address"])

    # -- and from a cell card's list of buildings
    card.locator("[data-unit-action=back]").click()
    page.locator(f'#gm-panel .gm-child-btn[data-child="{building["code"]}"]').click()
    expect(modal.locator(".gm-roster")).to_be_visible()
    page.keyboard.press("Escape")

    assert watched.foreign_requests() == []
    assert watched.errors == []
