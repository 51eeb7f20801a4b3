"""The holistic map in a real browser (Chromium): login, choropleth, legend, card, language switch, logout."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from tests.web.browser import ARTIFACTS, READY, Watched, log_in

STATUS_ZH = ["存量", "竞争", "他网", "潜在", "空置", "未摸查"]
STATUS_EN = ["Stock", "Competing", "Other network", "Potential", "Vacant", "Not surveyed"]
TYPE_ZH = {
    "specialist_market": "专业市场",
    "commercial_building": "商务楼宇",
    "street_shops": "沿街商铺",
    "industrial_park": "产业园区",
    "campus": "校园",
    "hospital": "医院",
    "hotel": "宾馆酒店",
    "government": "党政军",
    "residential": "住宅小区",
    "mixed": "综合",
}

# what the page recorded: the classes, the colour of every cell, and the fill colour Leaflet really drew
MAP_STATE_JS = """() => ({
  city: gmMap.city,
  classes: gmMap.classes,
  colorOf: gmMap.colorOf,
  drawn: Object.fromEntries(gmMap.cellLayer.getLayers().map(
    (l) => [String(l.feature.id ?? l.feature.properties.code), l.options.fillColor])),
})"""

# a point (page coordinates) inside the biggest-populated cell that Leaflet's own hit test agrees on
PICK_CELL_JS = """(skip) => {
  const {map, cellLayer} = gmMap;
  const box = map.getContainer().getBoundingClientRect();
  const size = map.getSize();
  const layers = cellLayer.getLayers()
    .filter((l) => l.feature.properties.penetration !== null && !skip.includes(l.feature.properties.code))
    .sort((a, b) => (b.feature.properties.units || 0) - (a.feature.properties.units || 0));
  for (const l of layers) {
    const p = map.latLngToContainerPoint(l.getCenter());
    // clear of the legend and the controls
    if (p.x < 260 || p.y < 60 || p.x > size.x - 60 || p.y > size.y - 40) continue;
    if (!l._containsPoint(map.latLngToLayerPoint(l.getCenter()))) continue;
    return {code: l.feature.properties.code, x: box.left + p.x, y: box.top + p.y};
  }
  return null;
}"""


def pct(value: float) -> str:
    """Format a fraction as the page does: percent with one decimal, half away from zero."""
    return f"{(Decimal(value * 100)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def yuan(value: float) -> str:
    """Format RMB as the page does: ¥ with thousands separators and two decimals."""
    return f"¥{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _hover(page: Page, x: float, y: float) -> None:
    """Move onto a point and settle there (Leaflet's canvas hit-tests at most once per 32 ms)."""
    page.mouse.move(x, y, steps=3)
    page.wait_for_timeout(60)
    page.mouse.move(x + 1, y)


def _expected_colour(penetration: float | None, classes: list[dict[str, Any]], no_data: str) -> str:
    """The legend class holding a penetration value, computed here independently of the page."""
    if penetration is None:
        return no_data
    holding = [c for c in classes if c["min"] <= penetration <= c["max"]]
    assert len(holding) == 1, f"{penetration} is in {len(holding)} classes: {classes}"
    return str(holding[0]["color"])


def test_holistic_map(watched: Watched, live_server: str, admin_credentials: tuple[str, str]) -> None:
    page = watched.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # -- the login form, in Chinese
    page.goto(f"{live_server}/")
    form = page.locator("#gm-login-form")
    expect(form).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(form.get_by_label("用户名")).to_be_visible()
    expect(form.get_by_label("密码")).to_be_visible()
    expect(page.locator("#gm-login-submit")).to_have_text("登录")
    expect(page.locator("#gm-app")).to_be_hidden()

    # a wrong password is refused with a message, and the form stays
    log_in(page, "no-such-user", "not-the-password")
    expect(page.locator("#gm-login-error")).to_have_text("用户名或密码错误")
    expect(form).to_be_visible()

    # -- log in; the map draws
    username, password = admin_credentials
    log_in(page, username, password)
    page.wait_for_selector(READY, timeout=30_000)
    expect(page.locator("#gm-login")).to_be_hidden()
    expect(page.locator("#gm-login-error")).to_be_hidden()
    expect(page.locator("#gm-product")).to_have_text("网格化营销全息视图")
    expect(page.locator("#gm-user-name")).to_have_text(username)
    expect(page.locator("#gm-user-role")).to_contain_text("系统管理员")
    expect(page.locator("#gm-logout")).to_have_text("退出登录")
    expect(page.locator("#gm-legend-title")).to_have_text("客户渗透率")

    state = page.evaluate(MAP_STATE_JS)
    classes: list[dict[str, Any]] = state["classes"]
    assert len(state["drawn"]) >= 20, "fewer than 20 cells drawn"

    # the main city (the first with the most units) is shown, with every one of its cells
    cities = page.request.get(f"{live_server}/api/v1/cities").json()["cities"]
    main = max(cities, key=lambda c: c["units"])
    assert state["city"] == main["code"]
    cells = page.request.get(f"{live_server}/api/v1/cities/{main['code']}/cells")
    assert cells.ok, cells.status
    features = cells.json()["features"]
    penetration = {
        str(f.get("id") or f["properties"]["code"]): f["properties"]["penetration"] for f in features
    }
    assert set(state["drawn"]) == set(penetration)

    # -- legend: 5 quantile classes (high to low) + no data, colours matching the page's classes
    items = page.locator("#gm-legend-items .gm-legend-item")
    expect(items).to_have_count(6)
    legend = items.evaluate_all(
        """(els) => els.map((e) => ({
            color: e.dataset.color,
            swatch: getComputedStyle(e.querySelector('.gm-swatch')).backgroundColor,
            label: e.querySelector('.gm-legend-label').textContent.trim(),
            count: Number(e.querySelector('.gm-legend-count').textContent.replace(/,/g, '')),
        }))"""
    )
    assert len(classes) == 5
    assert [e["color"] for e in legend[:5]] == [c["color"] for c in reversed(classes)]
    no_data = legend[5]["color"]
    assert legend[5]["label"] == "无数据"
    assert len({e["color"] for e in legend}) == 6, "legend colours must differ"
    for entry in legend:
        r, g, b = (int(entry["color"][i : i + 2], 16) for i in (1, 3, 5))
        assert entry["swatch"] == f"rgb({r}, {g}, {b})"
    for entry, cls in zip(legend[:5], reversed(classes), strict=True):
        assert entry["label"] == f"{pct(cls['min'])} – {pct(cls['max'])}" or (
            cls["min"] == cls["max"] and entry["label"] == pct(cls["min"])
        )

    # the classes are ordered, do not overlap and span the data; each holds at least one cell
    values = sorted(v for v in penetration.values() if v is not None)
    assert values, "the demo has no cell with a penetration"
    assert classes[0]["min"] == values[0] and classes[-1]["max"] == values[-1]
    for lower, upper in pairwise(classes):
        assert lower["min"] <= lower["max"] < upper["min"] <= upper["max"]

    # -- every cell's colour is the colour of the class that holds its penetration (null → grey)
    counts = {e["color"]: 0 for e in legend}
    for code, value in penetration.items():
        want = _expected_colour(value, classes, no_data)
        assert state["colorOf"][code] == want, (code, value)
        assert state["drawn"][code] == want, (code, value)
        counts[want] += 1
    assert [counts[e["color"]] for e in legend] == [e["count"] for e in legend]
    assert all(counts[c["color"]] > 0 for c in classes)

    # -- hover: tooltip with the name, penetration and units; click: the cell's card
    pick = page.evaluate(PICK_CELL_JS, [])
    assert pick is not None, "no cell centre is clear of the legend"
    props = next(f["properties"] for f in features if f["properties"]["code"] == pick["code"])
    _hover(page, pick["x"], pick["y"])
    # (a closed tooltip fades out for 200 ms, so pick the open one by its text)
    tip = page.locator(".leaflet-tooltip.gm-tip", has_text=props["name"])
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(pct(props["penetration"]))
    expect(tip).to_contain_text(f"{props['units']:,}")

    page.mouse.click(pick["x"], pick["y"])
    card = page.locator("#gm-panel .gm-card")
    expect(card).to_have_attribute("data-cell", props["code"])
    expect(card.locator(".gm-card-title")).to_have_text(props["name"])
    for label in [*STATUS_ZH, "客户渗透率", "市场空间信息完整率", "网格", "区县"]:
        expect(card).to_contain_text(label)
    expect(card).to_contain_text(pct(props["penetration"]))
    expect(card).to_contain_text(yuan(props["revenue"] or 0))
    if props.get("district_name"):
        expect(card).to_contain_text(props["district_name"])
    if props.get("type") in TYPE_ZH:
        expect(card).to_contain_text(TYPE_ZH[props["type"]])
    rows = card.locator(".gm-status-table tbody tr")
    expect(rows).to_have_count(6)
    for i, key in enumerate(["stock", "competing", "other_network", "potential", "vacant", "unknown"]):
        expect(rows.nth(i).locator("td").nth(1)).to_have_text(f"{props['n_' + key]:,}")

    # a second cell hovered for the screenshot (the first stays selected)
    other = page.evaluate(PICK_CELL_JS, [pick["code"]])
    if other is not None:
        other_name = next(
            f["properties"]["name"] for f in features if f["properties"]["code"] == other["code"]
        )
        _hover(page, other["x"], other["y"])
        expect(page.locator(".leaflet-tooltip.gm-tip", has_text=other_name)).to_be_visible()
        expect(tip).to_be_hidden()

    # -- English: every label switches
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#gm-product")).to_have_text("Grid Marketing Holistic View")
    expect(page.locator("#gm-legend-title")).to_have_text("Customer penetration")
    expect(page.locator("#gm-logout")).to_have_text("Log out")
    expect(page.locator("#gm-user-role")).to_contain_text("Administrator")
    expect(items.nth(5).locator(".gm-legend-label")).to_have_text("No data")
    for label in [*STATUS_EN, "Customer penetration", "Grid", "District", "Type"]:
        expect(card).to_contain_text(label)
    for label in STATUS_ZH:
        expect(card).not_to_contain_text(label)
    if len(cities) > 1:
        expect(page.locator("#gm-city-wrap")).to_contain_text("City")
    page.screenshot(path=str(ARTIFACTS / "map_en.png"))

    page.get_by_role("button", name="中文").click()
    expect(page.locator("#gm-legend-title")).to_have_text("客户渗透率")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    if other is not None:
        _hover(page, other["x"], other["y"])
        expect(page.locator(".leaflet-tooltip.gm-tip", has_text=other_name)).to_contain_text("客户渗透率")
    page.screenshot(path=str(ARTIFACTS / "map.png"))

    # -- under 700 px the side panel becomes a sheet over the full width
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#gm-panel")).to_have_css("position", "fixed")
    box = page.locator("#gm-panel").bounding_box()
    assert box is not None and box["width"] == 390
    # the whole header fits on a phone: logout and the language switch in view
    for sel in ("#gm-logout", ".gm-lang-btn[aria-pressed=false]", "#gm-city-select"):
        b = page.locator(sel).bounding_box()
        assert b is not None and b["width"] > 0 and b["x"] >= 0 and b["x"] + b["width"] <= 390, (sel, b)
    expect(page.locator("#gm-logout")).to_have_attribute("title", "退出登录")  # the icon's words
    logo = page.locator(".gm-logo").bounding_box()
    assert logo is not None and logo["width"] == 32  # not squeezed by the rest
    page.screenshot(path=str(ARTIFACTS / "map_mobile.png"))
    page.locator("#gm-panel-close").click()
    page.wait_for_function("document.getElementById('gm-panel').getBoundingClientRect().top >= 844")

    # -- a reload keeps the session (GET /auth/me) and the language, without the login form
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="English").click()
    page.reload()
    page.wait_for_selector(READY, timeout=30_000)
    expect(form).to_be_hidden()
    expect(page.locator("#gm-user-name")).to_have_text(username)
    expect(page.locator("#gm-legend-title")).to_have_text("Customer penetration")
    expect(page.locator("#gm-panel .gm-overview")).to_be_visible()

    # -- another city from the picker: its own cells, classes and colours
    if len(cities) > 1:
        second = next(c for c in cities if c["code"] != main["code"])
        page.select_option("#gm-city-select", second["code"])
        page.wait_for_function(
            "(code) => window.gmMap && gmMap.city === code && document.body.dataset.ready === '1'",
            arg=second["code"],
        )
        drawn = page.evaluate(MAP_STATE_JS)
        other_cells = page.request.get(f"{live_server}/api/v1/cities/{second['code']}/cells").json()[
            "features"
        ]
        assert set(drawn["drawn"]) == {str(f.get("id") or f["properties"]["code"]) for f in other_cells}
        expect(page.locator("#gm-panel .gm-overview .gm-card-title")).to_have_text(second["name"])

    # -- log out: back to the form, and the session is gone on the server too
    page.locator("#gm-logout").click()
    expect(form).to_be_visible()
    expect(form.get_by_label("Username")).to_be_visible()
    expect(page.locator("body")).not_to_have_attribute("data-ready", "1")
    assert page.request.get(f"{live_server}/api/v1/auth/me").status == 401

    # -- nothing left 127.0.0.1; Leaflet came from the npm package; no errors
    assert watched.foreign_requests() == []
    assert any(urlsplit(u).path == "/static/vendor/leaflet/leaflet.js" for u in watched.requests)
    assert watched.errors == []


def test_cell_names_are_escaped(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    """Names from the data reach the tooltip, the card and the legend as text, never as HTML."""
    page = watched.page
    evil = '<img src="/x-should-not-load" onerror="window.__gmXss=1"><b>恶意</b>'

    def poison(route: Route) -> None:
        response = route.fetch()
        table = response.json()
        at = [table["keys"].index(k) for k in ("name", "grid_name", "district_name")]
        for row in table["rows"]:
            for i in at:
                row[i] = evil
        route.fulfill(response=response, body=json.dumps(table))

    # the map reads the areas' figures as a table (keys once, rows as arrays)
    page.route(re.compile(r".*/api/v1/metrics\?.*format=table.*"), poison)
    page.goto(f"{live_server}/")
    log_in(page, *admin_credentials)
    page.wait_for_selector(READY, timeout=30_000)

    pick = page.evaluate(PICK_CELL_JS, [])
    assert pick is not None
    _hover(page, pick["x"], pick["y"])
    expect(page.locator(".leaflet-tooltip.gm-tip .gm-tip-name").last).to_have_text(evil)
    page.mouse.click(pick["x"], pick["y"])
    card = page.locator("#gm-panel .gm-card")
    expect(card.locator(".gm-card-title")).to_have_text(evil)
    expect(card).to_contain_text(evil)
    assert card.locator("img, b").count() == 0
    assert page.evaluate("window.__gmXss") is None
    assert not any("x-should-not-load" in u for u in watched.requests)
    assert watched.foreign_requests() == []
    assert watched.errors == []
