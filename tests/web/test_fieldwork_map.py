"""Field work on the map in a real browser: "my follow-ups" (the list by due date, overdue and
due-soon marks, the header badge, flying to the address card, closing one) and the sweep-coverage
view (cells coloured by visited / units of the month picked, legend, tooltip, cell card).

On a private database: the tests log visits and open and close follow-ups. The expected figures
are worked out here from the API (units, visits logged by the test), never read off the page.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, text

from gridmarket.grids import auth
from gridmarket.grids.settings import Settings
from tests.helpers import serving
from tests.web.browser import ARTIFACTS, READY, UserApi, Watched, log_in
from tests.web.test_views import LEGEND_JS, PICK_JS, _check_colours, pct

ADMIN_PASSWORD = "fw-admin-" + secrets.token_hex(6)
ZONE = ZoneInfo("Asia/Shanghai")  # the operator's time zone (Settings.timezone default)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def field_db(new_database: Any) -> Engine:
    """A database of its own with a small demo and an admin."""
    from gridmarket.etl.demo import generate_demo

    engine: Engine = new_database("webfield")
    generate_demo(engine, units=600, seed=13)
    with engine.begin() as conn:
        auth.ensure_first_admin(conn, ADMIN_PASSWORD)
    return engine


@pytest.fixture(scope="module")
def field_server(field_db: Engine) -> Iterator[str]:
    """A live server on that database."""
    settings = Settings(database_url=field_db.url.render_as_string(hide_password=False), admin_password=None)
    with serving(settings) as url:
        yield url


@pytest.fixture(scope="module")
def admin_api(browser: Browser, field_server: str) -> Iterator[UserApi]:
    context = browser.new_context()
    yield UserApi(context.request, field_server, "admin", ADMIN_PASSWORD)
    context.close()


def _today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def _main_city(api: UserApi) -> str:
    cities = api.get("/api/v1/cities")["cities"]
    return str(max(cities, key=lambda c: c["units"])["code"])


def _units_of(api: UserApi, cell: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/cells/{cell}/units", limit=500)["units"])


def _login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/")
    log_in(page, username, password)
    page.wait_for_selector(READY, timeout=30_000)


# ---------------------------------------------------------------- my follow-ups


def test_my_follow_ups(
    watched: Watched, browser: Browser, field_server: str, field_db: Engine, admin_api: UserApi
) -> None:
    city = _main_city(admin_api)
    # a city manager of the main city: edits there, owns follow-ups
    name = "w-cm-" + secrets.token_hex(3)
    password = "cm-" + secrets.token_hex(8)
    admin_api.post(
        "/api/v1/admin/users",
        {"username": name, "password": password, "role": "city_manager", "region_code": city},
    )
    context = browser.new_context()
    me = UserApi(context.request, field_server, name, password)

    # four opportunity units (other network or potential) in four cells
    cells = sorted(me.get("/api/v1/metrics", level="cell", city=city)["areas"], key=lambda c: -c["units"])
    picked: list[dict[str, Any]] = []
    for cell in cells:
        opp = [u for u in _units_of(me, cell["id"]) if u["status"] in ("other_network", "potential")]
        if opp:
            picked.append(opp[0])
        if len(picked) == 4:
            break
    assert len(picked) == 4
    today = _today()
    dues = [today + dt.timedelta(days=d) for d in (20, 3, 1, 10)]
    steps = ["复访决策人", "报价融合套餐", "催签合同", "上门演示专线"]
    made = [
        me.post(
            f"/api/v1/units/{u['external_id']}/follow-ups",
            {"due_date": due.isoformat(), "next_step": step},
        )
        for u, due, step in zip(picked, dues, steps, strict=True)
    ]
    # the third is overdue: past due dates cannot be set through the API, so age it in the database
    overdue_due = today - dt.timedelta(days=2)
    with field_db.begin() as conn:
        conn.execute(
            text("UPDATE follow_up SET due_date = :d WHERE id = :id"), {"d": overdue_due, "id": made[2]["id"]}
        )
    # the first one is won: its unit turned stock after the follow-up was opened
    won_ext = picked[0]["external_id"]
    version = me.get(f"/api/v1/units/{won_ext}")["version"]
    answer = me.request.fetch(
        f"{field_server}/api/v1/units/{won_ext}",
        method="PATCH",
        data={"status": "stock", "note": "签约"},
        headers={**me.headers, "If-Match": f'"{version}"'},
    )
    assert answer.status == 200, answer.text()

    mine = me.get("/api/v1/me/follow-ups", state="open")["follow_ups"]
    assert [f["id"] for f in mine] == [made[2]["id"], made[1]["id"], made[3]["id"], made[0]["id"]]
    by_id = {f["id"]: f for f in mine}
    assert by_id[made[2]["id"]]["overdue"] and by_id[made[0]["id"]]["won"]

    page = watched.page
    _login(page, field_server, name, password)
    btn = page.locator("#gm-myfollow")
    expect(btn).to_be_visible()
    expect(btn).to_contain_text("我的跟进")
    expect(page.locator("#gm-follow-count")).to_have_text("4")
    expect(page.locator("#gm-follow-overdue")).to_have_text("1")

    # -- the list: by due date, overdue red, due within 7 days amber, the won badge
    btn.click()
    box = page.locator("#gm-follow")
    expect(box).to_be_visible()
    items = box.locator(".gm-fu-item")
    expect(items).to_have_count(4)
    want_order = [made[2], made[1], made[3], made[0]]
    assert [items.nth(i).get_attribute("data-follow") for i in range(4)] == [str(f["id"]) for f in want_order]
    for i, f in enumerate(want_order):
        item = items.nth(i)
        expect(item).to_have_attribute("data-unit", f["external_id"])
        expect(item.locator(".gm-fu-due")).to_have_text(by_id[f["id"]]["due_date"])
        expect(item.locator(".gm-fu-address")).to_have_text(by_id[f["id"]]["address"])
        expect(item.locator(".gm-fu-meta .gm-mono")).to_have_text(by_id[f["id"]]["cell_code"])
        expect(item.locator(".gm-fu-step")).to_contain_text(by_id[f["id"]]["next_step"])
    expect(items.nth(0)).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(items.nth(0).locator(".gm-fu-when")).to_have_text("逾期 2 天")
    red = items.nth(0).evaluate("(e) => getComputedStyle(e).borderLeftColor")
    assert red == "rgb(224, 49, 49)", red
    expect(items.nth(1)).to_have_class(re.compile(r"\bis-soon\b"))
    expect(items.nth(1).locator(".gm-fu-when")).to_have_text("3 天后到期")
    amber = items.nth(1).evaluate("(e) => getComputedStyle(e).borderLeftColor")
    assert amber == "rgb(245, 159, 0)", amber
    expect(items.nth(2)).to_have_class(re.compile(r"\bis-later\b"))
    expect(items.nth(3).locator(".gm-fu-won")).to_have_text("已转化")
    expect(items.nth(3).locator(".gm-fu-status")).to_contain_text("存量")
    expect(box.locator(".gm-fu-won")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "followups.png"))

    # -- clicking one flies to its address and opens its card
    overdue = made[2]
    items.nth(0).locator(".gm-fu-main").click()
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{overdue["external_id"]}"]')
    expect(card).to_be_visible()
    expect(card.locator(".gm-card-title")).to_have_text(by_id[overdue["id"]]["address"])
    unit = me.get(f"/api/v1/units/{overdue['external_id']}")
    page.wait_for_function(
        """([lat, lon]) => { const c = gmMap.map.getCenter(); return gmMap.map.getZoom() >= 16
            && Math.abs(c.lat - lat) < 1e-3 && Math.abs(c.lng - lon) < 1e-3; }""",
        arg=[unit["lat"], unit["lon"]],
    )

    # -- closing the won one as won: it leaves the list, the badge drops
    won_item = box.locator(f'.gm-fu-item[data-follow="{made[0]["id"]}"]')
    won_item.locator(".gm-fu-close-btn").click()
    form = won_item.locator("form.gm-fu-close")
    expect(form).to_be_visible()
    form.locator('input[value="won"]').check()
    form.locator('input[name="note"]').fill("已签约两年期融合套餐")
    form.locator("button[type=submit]").click()
    expect(items).to_have_count(3)
    expect(page.locator("#gm-follow-count")).to_have_text("3")
    expect(page.locator("#gm-follow-overdue")).to_have_text("1")
    expect(box.locator(".gm-fu-message")).to_contain_text("赢单")
    closed = {f["id"]: f for f in me.get("/api/v1/me/follow-ups", state="closed")["follow_ups"]}
    assert closed[made[0]["id"]]["outcome"] == "won"
    assert closed[made[0]["id"]]["outcome_note"] == "已签约两年期融合套餐"

    # won is not offered for a unit still with a rival; lost is
    soon_item = box.locator(f'.gm-fu-item[data-follow="{made[1]["id"]}"]')
    soon_item.locator(".gm-fu-close-btn").click()
    expect(soon_item.locator('input[value="won"]')).to_be_disabled()
    soon_item.locator('input[value="lost"]').check()
    soon_item.locator("button[type=submit]").click()
    expect(items).to_have_count(2)
    expect(page.locator("#gm-follow-count")).to_have_text("2")
    assert me.get("/api/v1/me/follow-ups", state="open")["total"] == 2

    # -- English: the new labels change
    page.get_by_role("button", name="English").click()
    expect(btn).to_contain_text("My follow-ups")
    expect(box.locator(".gm-area-title")).to_have_text("My follow-ups")
    expect(items.nth(0).locator(".gm-fu-when")).to_have_text("2 days overdue")
    labels = page.evaluate(
        """() => Array.from(document.querySelectorAll(
            '#gm-follow .gm-area-title, #gm-follow .gm-fu-sub, #gm-follow .gm-fu-when, '
            + '#gm-follow .gm-fu-k, #gm-follow .gm-fu-close-btn, #gm-follow .gm-fu-legend, '
            + '#gm-myfollow > span:not(.gm-head-badge)'))
            .map((e) => e.textContent.trim())"""
    )
    assert len(labels) >= 10
    for text_ in labels:
        assert not CJK.search(text_), text_
    page.screenshot(path=str(ARTIFACTS / "followups_en.png"))
    page.get_by_role("button", name="中文").click()
    expect(btn).to_contain_text("我的跟进")

    context.close()
    assert watched.foreign_requests() == []
    assert watched.errors == []


# ---------------------------------------------------------------- sweep coverage


def _coverage(row: list[Any]) -> float | None:
    """A sweep row's coverage, worked out again: visited / units (no data when there are no units)."""
    _code, units, visited, _cov = row
    return visited / units if units else None


def test_sweep_coverage_view(watched: Watched, field_server: str, admin_api: UserApi) -> None:
    city = _main_city(admin_api)
    cells = sorted(
        admin_api.get("/api/v1/metrics", level="cell", city=city)["areas"], key=lambda c: -c["units"]
    )
    known = cells[0]
    code = known["id"]
    units = _units_of(admin_api, code)
    assert len(units) == known["units"] >= 6
    # this month: three units of the known cell visited (one of them twice), and some in other cells
    for u in units[:3]:
        admin_api.post(f"/api/v1/units/{u['external_id']}/visits", {"outcome": "met"})
    admin_api.post(f"/api/v1/units/{units[0]['external_id']}/visits", {"outcome": "interested"})
    for i, cell in enumerate(cells[1:9]):
        for u in _units_of(admin_api, cell["id"])[: (i % 4) + 1]:
            admin_api.post(f"/api/v1/units/{u['external_id']}/visits", {"outcome": "not_met"})
    # last month: one unit of the known cell
    first = _today().replace(day=1)
    last_month = (first - dt.timedelta(days=1)).replace(day=15)
    visited_at = dt.datetime.combine(last_month, dt.time(10, 0), ZONE).isoformat()
    admin_api.post(
        f"/api/v1/units/{units[5]['external_id']}/visits", {"outcome": "met", "visited_at": visited_at}
    )

    page = watched.page
    _login(page, field_server, "admin", ADMIN_PASSWORD)
    assert page.evaluate("gmMap.city") == city
    # start on the grid level: the sweep view shows cells, leaving it comes back to grids
    page.locator('#gm-level [data-level="grid"]').click()
    page.wait_for_function("gmMap.level === 'grid'")
    page.wait_for_selector(READY)

    # -- the metric picker has its own group "field work"
    group = page.locator("#gm-metric optgroup", has=page.locator('option[value="sweep_coverage"]'))
    assert group.evaluate("(g) => g.label") == "外勤"
    page.select_option("#gm-metric", "sweep_coverage")
    page.wait_for_function("gmMap.metric === 'sweep_coverage' && gmMap.level === 'cell'")
    page.wait_for_selector(READY)
    expect(page.locator('#gm-level [data-level="grid"]')).to_be_disabled()
    expect(page.locator("#gm-legend-title")).to_have_text("扫楼覆盖率")
    month_end = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    expect(page.locator("#gm-legend-sub")).to_contain_text(f"{first.isoformat()} 至 {month_end.isoformat()}")
    assert page.locator("#gm-period").input_value() == first.isoformat()[:7]

    # the fill colours: the legend class of visited / units, as the API counts them
    sweep = admin_api.get(
        f"/api/v1/cities/{city}/sweep", **{"from": first.isoformat(), "to": month_end.isoformat()}
    )
    rows = {r[0]: r for r in sweep["rows"]}
    assert rows[code][1:3] == [len(units), 3]
    areas = [{"id": r[0], "coverage": _coverage(r)} for r in sweep["rows"]]
    legend = _check_colours(page, areas, lambda a: a["coverage"])
    want = 3 / len(units)
    holding = [e for e in legend if not e["nodata"] and e["min"] <= want <= e["max"]]
    assert len(holding) == 1
    assert page.evaluate("(c) => gmMap.colorOf[c]", code) == holding[0]["color"]
    assert sum(1 for a in areas if a["coverage"] is None) == next(e for e in legend if e["nodata"])["count"]
    # the city's card: all its units visited this month / all its units
    total_units = sum(r[1] for r in sweep["rows"])
    total_visited = sum(r[2] for r in sweep["rows"])
    overview = page.locator("#gm-panel .gm-overview")
    expect(overview.locator(".gm-kpi-main .gm-kpi-value")).to_have_text(pct(total_visited / total_units))
    expect(overview.locator('.gm-kpi[data-metric="sweep_visited"] .gm-kpi-value')).to_have_text(
        f"{total_visited:,} / {total_units:,}"
    )

    # -- the tooltip: visited / units
    point = page.evaluate(PICK_JS, code)
    assert point is not None
    page.mouse.move(point["x"], point["y"])
    tip = page.locator(".leaflet-tooltip.gm-tip")
    expect(tip.locator('[data-key="sweep"] b')).to_have_text(f"3 / {len(units)}")
    expect(tip.locator(".gm-tip-main")).to_contain_text(pct(want))

    # -- the cell card: the sweep figures of the period
    page.mouse.click(point["x"], point["y"])
    card = page.locator(f'#gm-panel .gm-card[data-cell="{code}"]')
    expect(card.locator(".gm-kpi-main .gm-kpi-label")).to_have_text("扫楼覆盖率")
    expect(card.locator(".gm-kpi-main .gm-kpi-value")).to_have_text(pct(want))
    expect(card.locator('.gm-kpi[data-metric="sweep_visited"] .gm-kpi-value')).to_have_text(
        f"3 / {len(units)}"
    )
    expect(card.locator('.gm-fieldwork [data-key="sweep"] .gm-muted')).to_have_text(f"3 / {len(units)}")
    expect(
        card.locator('tbody[data-group="fieldwork"] [data-metric="sweep_visited"] td').nth(1)
    ).to_have_text("3")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "sweep_coverage.png"))

    # -- last month: the period picker gives the month's first and last day
    lm_first = last_month.replace(day=1)
    page.fill("#gm-period", lm_first.isoformat()[:7])
    page.wait_for_function(
        "(c) => gmMap.cellLayer.getLayers().some((l) => l.feature.properties.code === c "
        "&& l.feature.properties.sweep_visited === 1)",
        arg=code,
    )
    page.wait_for_selector(READY)
    lm_end = first - dt.timedelta(days=1)
    expect(page.locator("#gm-legend-sub")).to_contain_text(f"{lm_first.isoformat()} 至 {lm_end.isoformat()}")
    old = admin_api.get(
        f"/api/v1/cities/{city}/sweep", **{"from": lm_first.isoformat(), "to": lm_end.isoformat()}
    )
    assert {r[0]: r for r in old["rows"]}[code][1:3] == [len(units), 1]
    _check_colours(
        page, [{"id": r[0], "coverage": _coverage(r)} for r in old["rows"]], lambda a: a["coverage"]
    )
    expect(card.locator('.gm-fieldwork [data-key="sweep"] .gm-muted')).to_have_text(f"1 / {len(units)}")

    # -- English: the new labels
    page.get_by_role("button", name="English").click()
    expect(page.locator("#gm-legend-title")).to_have_text("Sweep coverage")
    expect(page.locator("#gm-legend-sub")).to_contain_text(f"{lm_first.isoformat()} to {lm_end.isoformat()}")
    assert group.evaluate("(g) => g.label") == "Field work"
    expect(page.locator('#gm-metric option[value="sweep_coverage"]')).to_have_text("Sweep coverage")
    expect(card.locator(".gm-kpi-main .gm-kpi-label")).to_have_text("Sweep coverage")
    expect(card.locator('.gm-kpi[data-metric="sweep_visited"] .gm-kpi-label')).to_have_text("Visited / units")
    page.get_by_role("button", name="中文").click()
    expect(page.locator("#gm-legend-title")).to_have_text("扫楼覆盖率")

    # -- back to penetration: the grid level and its colours again
    page.fill("#gm-period", "")
    page.select_option("#gm-metric", "penetration")
    page.wait_for_function("gmMap.metric === 'penetration' && gmMap.level === 'grid'")
    page.wait_for_selector(READY)
    expect(page.locator('#gm-level [data-level="grid"]')).to_be_enabled()
    grids = admin_api.get("/api/v1/metrics", level="grid", city=city)["areas"]
    _check_colours(page, grids, lambda a: a["penetration"])
    assert page.evaluate(LEGEND_JS)[0]["count"] >= 1

    assert watched.foreign_requests() == []
    assert watched.errors == []
