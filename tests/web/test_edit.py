"""Editing an address from its card in the browser: the cell's colour and figures follow, a stale
save shows who changed it and when with the new values, and a planner sees a read-only card with
masked phones. On a private database (edits change figures other tests read).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine

from gridmarket.grids import auth
from gridmarket.grids.settings import Settings
from tests.helpers import serving
from tests.web.browser import ARTIFACTS, READY, UserApi, Watched, log_in
from tests.web.test_views import _check_colours

ADMIN_PASSWORD = "edit-admin-" + secrets.token_hex(6)
MASKED = re.compile(r"^\d{3}\*+\d{4}$")


@pytest.fixture(scope="module")
def edit_server(new_database: Any) -> Iterator[str]:
    """A live server on a database of its own, with a small demo and an admin."""
    from gridmarket.etl.demo import generate_demo

    engine: Engine = new_database("webedit")
    generate_demo(engine, units=600, seed=11)
    with engine.begin() as conn:
        auth.ensure_first_admin(conn, ADMIN_PASSWORD)
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), admin_password=None)
    with serving(settings) as url:
        yield url


@pytest.fixture(scope="module")
def admin_api(browser: Browser, edit_server: str) -> Iterator[UserApi]:
    context = browser.new_context()
    yield UserApi(context.request, edit_server, "admin", ADMIN_PASSWORD)
    context.close()


def _pick_unit(api: UserApi) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A unit with status potential and a contact phone in a cell of the main city."""
    cities = api.get("/api/v1/cities")["cities"]
    city = max(cities, key=lambda c: c["units"])["code"]
    cells = api.get("/api/v1/metrics", level="cell", city=city)["areas"]
    for cell in sorted(cells, key=lambda c: -c["units"]):
        units = api.get(f"/api/v1/cells/{cell['id']}/units", limit=200)["units"]
        for u in units:
            if u["status"] == "potential" and u["contact_phone"]:
                return city, cell, u
    raise AssertionError("the demo has no potential unit with a phone")


def test_edit_changes_the_cell_and_shows_conflicts(
    watched: Watched, browser: Browser, edit_server: str, admin_api: UserApi
) -> None:
    page = watched.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    city, cell, unit = _pick_unit(admin_api)
    ext = unit["external_id"]
    before = admin_api.get(f"/api/v1/units/{ext}")
    version = before["version"]

    page.goto(f"{edit_server}/")
    log_in(page, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    assert page.evaluate("gmMap.city") == city

    # -- find the address, open its card
    page.fill("#gm-search", ext)
    page.locator(f'#gm-search-results .gm-search-item:has-text("{ext}")').dispatch_event("mousedown")
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{ext}"]')
    expect(card).to_have_attribute("data-version", str(version))
    expect(card.locator(".gm-unit-status")).to_have_text("潜在")

    # -- potential → stock: saved as the next version
    card.locator('select[name="status"]').select_option("stock")
    card.locator('#gm-unit-form input[name="note"]').fill("浏览器测试")
    card.locator("#gm-unit-save").click()
    expect(card).to_have_attribute("data-version", str(version + 1))
    expect(card.locator(".gm-ok-line")).to_contain_text(str(version + 1))
    expect(card.locator(".gm-unit-status")).to_have_text("存量")

    # -- the cell's figures and colour follow, as the API has them now
    after = next(
        c for c in admin_api.get("/api/v1/metrics", level="cell", city=city)["areas"] if c["id"] == cell["id"]
    )
    assert after["n_stock"] == cell["n_stock"] + 1 and after["n_potential"] == cell["n_potential"] - 1
    page.wait_for_function(
        """([code, n]) => gmMap.cellLayer.getLayers().some(
            (l) => l.feature.properties.code === code && l.feature.properties.n_stock === n)""",
        arg=[cell["id"], after["n_stock"]],
    )
    page.wait_for_selector(READY)
    areas = admin_api.get("/api/v1/metrics", level="cell", city=city)["areas"]
    _check_colours(page, areas, lambda a: a["penetration"])
    card.locator("[data-unit-action=back]").click()
    cell_card = page.locator(f'#gm-panel .gm-card[data-cell="{cell["id"]}"]')
    expect(cell_card.locator(".gm-status-table tbody tr").nth(0).locator("td").nth(1)).to_have_text(
        f"{after['n_stock']:,}"
    )
    pen = after["penetration"]
    expect(cell_card.locator(".gm-kpi-main .gm-kpi-value")).to_contain_text(f"{pen * 100:.1f}%")

    # -- someone else saves first: the stale save shows who, when and the new values
    cell_card.locator(f'.gm-addr-open[data-open-unit="{ext}"]').click()
    expect(card).to_have_attribute("data-version", str(version + 1))
    other_name = "W-冲突-" + secrets.token_hex(2)
    answer = admin_api.request.fetch(
        f"{edit_server}/api/v1/units/{ext}",
        method="PATCH",
        data={"contact_name": other_name},
        headers={**admin_api.headers, "If-Match": f'"{version + 1}"'},
    )
    assert answer.status == 200, answer.text()
    watched.allow(409, f"/api/v1/units/{ext}")
    card.locator('input[name="revenue_month"]').fill("1234.5")
    card.locator("#gm-unit-save").click()
    conflict = card.locator(".gm-conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator(".gm-conflict-title")).to_contain_text("admin")
    expect(conflict.locator('[data-field="contact_name"]')).to_contain_text(other_name)
    expect(card).to_have_attribute("data-version", str(version + 2))
    expect(card.locator('input[name="contact_name"]')).to_have_value(other_name)
    page.screenshot(path=str(ARTIFACTS / "edit_conflict.png"))

    # saving again on the new version goes through
    card.locator('input[name="revenue_month"]').fill("1234.5")
    card.locator("#gm-unit-save").click()
    expect(card).to_have_attribute("data-version", str(version + 3))
    assert admin_api.get(f"/api/v1/units/{ext}")["revenue_month"] == 1234.5

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_planner_card_is_read_only_with_masked_phones(
    watched: Watched, edit_server: str, admin_api: UserApi
) -> None:
    city, _cell, unit = _pick_unit(admin_api)
    name = "w-planner-" + secrets.token_hex(3)
    password = "planner-" + secrets.token_hex(6)
    admin_api.post(
        "/api/v1/admin/users",
        {"username": name, "password": password, "role": "planner", "region_code": city},
    )
    page = watched.page
    page.goto(f"{edit_server}/")
    log_in(page, name, password)
    page.wait_for_selector(READY, timeout=30_000)
    page.fill("#gm-search", unit["external_id"])
    page.locator(f'#gm-search-results .gm-search-item:has-text("{unit["external_id"]}")').dispatch_event(
        "mousedown"
    )
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{unit["external_id"]}"]')
    expect(card).to_be_visible()
    phone = card.locator(".gm-addr-phone")
    expect(phone).to_have_class(re.compile("is-masked"))
    assert MASKED.fullmatch(phone.inner_text().strip()), phone.inner_text()
    assert unit["contact_phone"] not in card.inner_text()
    expect(card.locator("form, #gm-unit-save, input, select")).to_have_count(0)
    expect(card.locator('.gm-unit-values [data-field="contact_name"]')).to_have_text(
        unit["contact_name"] or "—"
    )
    expect(card.locator(".gm-readonly-note")).to_have_text("您的角色只能查看，不能修改地址信息")
    page.wait_for_function("gmMap.map.getZoom() >= 15 && !gmMap.map._animatingZoom")
    page.wait_for_timeout(700)
    page.screenshot(path=str(ARTIFACTS / "edit_planner.png"))
    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_visit_and_follow_up_from_the_card(watched: Watched, edit_server: str, admin_api: UserApi) -> None:
    """Log a visit and open a follow-up on an address; the cell's sweep and follow-up figures follow."""
    cities = admin_api.get("/api/v1/cities")["cities"]
    city = max(cities, key=lambda c: c["units"])["code"]
    cells = admin_api.get("/api/v1/metrics", level="cell", city=city)["areas"]
    unit = None
    for cell in sorted(cells, key=lambda c: c["units"]):
        for u in admin_api.get(f"/api/v1/cells/{cell['id']}/units", limit=200)["units"]:
            if u["status"] == "other_network":
                unit = u
                break
        if unit:
            break
    assert unit is not None
    ext, code = unit["external_id"], unit["cell_code"]
    page = watched.page
    page.goto(f"{edit_server}/")
    log_in(page, "admin", ADMIN_PASSWORD)
    page.wait_for_selector(READY, timeout=30_000)
    page.fill("#gm-search", ext)
    page.locator(f'#gm-search-results .gm-search-item:has-text("{ext}")').dispatch_event("mousedown")
    card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{ext}"]')
    expect(card.locator(".gm-unit-fieldwork")).to_be_visible()

    # -- a visit
    form = card.locator("#gm-visit-form")
    form.locator('select[name="outcome"]').select_option("interested")
    form.locator('input[name="note"]').fill("客户有意向升级专线")
    form.locator("button[type=submit]").click()
    expect(card.locator(".gm-visits li")).to_have_count(1)
    expect(card.locator(".gm-visits li").first).to_contain_text("有意向")
    expect(card.locator(".gm-visits li").first).to_contain_text("客户有意向升级专线")
    visits = admin_api.get(f"/api/v1/units/{ext}/visits")
    assert visits["total"] == 1 and visits["visits"][0]["outcome"] == "interested"

    # -- a follow-up
    follow = card.locator("#gm-followup-form")
    follow.locator('input[name="due_date"]').fill("2099-01-31")
    follow.locator('input[name="next_step"]').fill("上门演示融合套餐")
    follow.locator("button[type=submit]").click()
    expect(card.locator(".gm-ok-line")).to_have_text("商机跟进已创建")

    # -- the cell card's field work, as the APIs have it now
    card.locator("[data-unit-action=back]").click()
    sweep = admin_api.get(f"/api/v1/cells/{code}/sweep", limit=1)
    fol = admin_api.get(f"/api/v1/cells/{code}/follow-ups")
    assert sweep["visited"] >= 1 and fol["open"] >= 1
    fw = page.locator(f'#gm-panel .gm-card[data-cell="{code}"] .gm-fieldwork')
    expect(fw.locator('[data-key="sweep"] .gm-muted')).to_have_text(f"{sweep['visited']} / {sweep['units']}")
    expect(fw.locator('[data-key="open"]')).to_have_text(str(fol["open"]))
    expect(fw.locator(".gm-fw-list li")).to_contain_text(["上门演示融合套餐"])
    page.screenshot(path=str(ARTIFACTS / "fieldwork.png"))
    assert watched.foreign_requests() == []
    assert watched.errors == []
