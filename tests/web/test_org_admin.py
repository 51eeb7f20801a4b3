"""The matrix organisation in the browser: the cell card's two axes and address list, "my area",
phone masking by role, and the administration pages (org units, staff, assignments, users, audit).

The users, staff, org units and assignments this module makes go into the session's shared
database with codes of their own (prefix W-, a random suffix), so a rerun never collides.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.web.browser import ARTIFACTS, READY, UserApi, Watched, log_in

PASSWORD = "web-test-" + secrets.token_hex(6)
SUFFIX = secrets.token_hex(3).upper()
MASKED = re.compile(r"^\d{3}\*+\d{4}$")
TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

# centre the map on a cell at a zoom and return a page point inside it that Leaflet's hit test agrees on
FOCUS_CELL_JS = """([code, zoom]) => {
  const {map, cellLayer} = gmMap;
  const layer = cellLayer.getLayers().find((l) => String(l.feature.properties.code) === code);
  if (!layer) return null;
  const inside = (ll) => layer._containsPoint(map.latLngToLayerPoint(ll));
  map.stop();  // end a fly-to still under way (my area, search): it would move the map after us
  map.setView(layer.getCenter(), Math.max(zoom, map.getZoom()), {animate: false});
  let target = layer.getCenter();
  if (!inside(target)) {
    const b = layer.getBounds();
    search: for (let i = 1; i < 12; i++) {
      for (let j = 1; j < 12; j++) {
        const ll = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 12,
                            b.getWest() + (b.getEast() - b.getWest()) * j / 12);
        if (inside(ll)) { target = ll; break search; }
      }
    }
  }
  map.setView(target, map.getZoom(), {animate: false});
  const p = map.latLngToContainerPoint(target);
  const box = map.getContainer().getBoundingClientRect();
  return {x: box.left + p.x, y: box.top + p.y};
}"""


@dataclass
class World:
    """What the tests work with, found in the demo or made through the admin API."""

    city: str
    card_cell: str  # a cell of the main city with an account manager, preferably > 50 units
    card_person: str  # that account manager's name
    am_user: str  # an account manager answering for exactly one cell
    am_cell: str
    am_name: str
    planner_user: str  # a planner of the main city
    phone_cell: str  # a cell of the main city with contact phones
    cm_user: str  # a city manager of the main city


@pytest.fixture(scope="module")
def admin_api(browser: Browser, live_server: str, admin_credentials: tuple[str, str]) -> Iterator[UserApi]:
    """The admin's JSON API, from a browser context of its own."""
    context = browser.new_context()
    yield UserApi(context.request, live_server, *admin_credentials)
    context.close()


@pytest.fixture(scope="module")
def world(admin_api: UserApi) -> World:
    cities = admin_api.get("/api/v1/cities")["cities"]
    city = max(cities, key=lambda c: c["units"])["code"]
    cells = admin_api.get(f"/api/v1/cities/{city}/cells")["features"]
    units = {f["properties"]["code"]: f["properties"]["units"] or 0 for f in cells}
    biggest = sorted(units, key=lambda code: -units[code])

    # a cell with an account manager: the demo's organisation if it is there, else one of our own
    managed = [
        a
        for a in admin_api.get("/api/v1/admin/assignments", kind="cell", on=TODAY)["assignments"]
        if a["target_code"] in units
    ]
    if managed:
        best = max(managed, key=lambda a: units[a["target_code"]])
        card_cell, card_person = best["target_code"], best["staff_name"]
    else:
        card_cell, card_person = biggest[0], f"卡片客户经理{SUFFIX}"
        admin_api.post(
            "/api/v1/admin/staff",
            {"code": f"W-AM0-{SUFFIX}", "name": card_person, "post": "客户经理", "city_code": city},
        )
        admin_api.post(
            "/api/v1/admin/assignments",
            {"staff_code": f"W-AM0-{SUFFIX}", "kind": "cell", "target_code": card_cell, "valid_from": TODAY},
        )

    # a cell whose address list carries contact phones (the admin sees them unmasked)
    def has_phones(code: str) -> bool:
        rows = admin_api.get(f"/api/v1/cells/{code}/units", limit=50)["units"]
        return any(r.get("contact_phone") for r in rows)

    phone_cell = next(code for code in biggest[:8] if has_phones(code))

    # an account manager with exactly one cell, a planner and a city manager of the main city
    am_cell = next(code for code in biggest if code not in {card_cell} and units[code] > 0)
    am_name = f"测试客户经理{SUFFIX}"
    admin_api.post(
        "/api/v1/admin/staff",
        {"code": f"W-AM-{SUFFIX}", "name": am_name, "post": "客户经理", "city_code": city},
    )
    admin_api.post(
        "/api/v1/admin/assignments",
        {"staff_code": f"W-AM-{SUFFIX}", "kind": "cell", "target_code": am_cell, "valid_from": "2026-01-01"},
    )
    users = {
        "am": {"role": "account_manager", "staff_code": f"W-AM-{SUFFIX}"},
        "pl": {"role": "planner", "region_code": city},
        "cm": {"role": "city_manager", "region_code": city},
    }
    for key, spec in users.items():
        made = admin_api.post(
            "/api/v1/admin/users", {"username": f"w-{key}-{SUFFIX.lower()}", "password": PASSWORD, **spec}
        )
        assert "password" not in made  # a chosen password is never echoed
    return World(
        city=city,
        card_cell=card_cell,
        card_person=card_person,
        am_user=f"w-am-{SUFFIX.lower()}",
        am_cell=am_cell,
        am_name=am_name,
        planner_user=f"w-pl-{SUFFIX.lower()}",
        phone_cell=phone_cell,
        cm_user=f"w-cm-{SUFFIX.lower()}",
    )


def _start(page: Page, live_server: str, username: str, password: str) -> None:
    page.goto(f"{live_server}/")
    log_in(page, username, password)
    page.wait_for_selector(READY, timeout=30_000)


def _click_cell(page: Page, code: str, zoom: int = 14) -> None:
    # an animated zoom still under way (my area zooms with one) would move the map after the
    # focus below and the click would land elsewhere
    page.wait_for_function("!gmMap.map._animatingZoom")
    point = page.evaluate(FOCUS_CELL_JS, [code, zoom])
    assert point is not None, f"cell {code} is not drawn"
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#gm-panel .gm-card")).to_have_attribute("data-cell", code)


def _address_phones(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#gm-panel .gm-addr-phone").all_text_contents()]


# -------------------------------------------------------------------------------- the cell card


def test_cell_card_shows_both_axes_and_the_address_list(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str], world: World
) -> None:
    page = watched.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _start(page, live_server, *admin_credentials)
    detail = page.request.get(f"{live_server}/api/v1/cells/{world.card_cell}").json()
    first = page.request.get(f"{live_server}/api/v1/cells/{world.card_cell}/units?limit=50").json()["units"]
    props = detail["properties"]

    _click_cell(page, world.card_cell)
    card = page.locator("#gm-panel .gm-card")
    # the figures and the status chart of the cells layer stay
    expect(card.locator(".gm-card-title")).to_have_text(props["name"])
    expect(card.locator(".gm-status-table tbody tr")).to_have_count(6)

    # -- the regional axis names the cell's account manager; each person shows post, org unit and via
    regional = card.locator(".gm-axis-regional")
    expect(regional.locator(".gm-axis-title")).to_have_text("区域营销（客户经理 / 网格经理）")
    expect(regional).to_contain_text(world.card_person)
    am = regional.locator('.gm-person[data-via="cell"]', has_text=world.card_person)
    expect(am.locator(".gm-via")).to_have_text("单元客户经理")
    people = detail["responsible"]["regional"]
    expect(regional.locator(".gm-person")).to_have_count(len(people))
    for person in people:
        row = regional.locator(f'.gm-person[data-staff="{person["staff_code"]}"][data-via="{person["via"]}"]')
        expect(row.locator(".gm-person-name")).to_contain_text(person["name"])
        if person["post"]:
            expect(row.locator(".gm-person-post")).to_have_text(person["post"])
        if person["org_unit_name"]:
            expect(row.locator(".gm-person-org")).to_have_text(person["org_unit_name"])
        via = {"cell": "单元客户经理", "grid": "网格经理"}[person["via"]]
        expect(row.locator(".gm-via")).to_have_text(via)

    specialist = card.locator(".gm-axis-specialist")
    expect(specialist.locator(".gm-axis-title")).to_have_text("专业营销（特征网格团队）")
    if detail["responsible"]["specialist"]:
        for person in detail["responsible"]["specialist"]:
            expect(specialist).to_contain_text(person["name"])
        expect(specialist.locator(".gm-via").first).to_have_text("特征网格团队")
    else:
        expect(specialist).to_contain_text("暂无负责人")

    # -- the characteristic grids as chips
    chips = card.locator(".gm-fg-chips .gm-chip")
    expect(chips).to_have_count(len(detail["feature_grids"]))
    for fg in detail["feature_grids"]:
        expect(card.locator(f'.gm-chip[data-code="{fg["code"]}"]')).to_contain_text(fg["name"])

    # -- the address list: the first 50 units, status dot, customer, contact and phone as returned
    items = card.locator(".gm-addr")
    expect(items).to_have_count(min(50, props["units"]))
    for i in (0, len(first) - 1):
        unit = first[i]
        item = card.locator(f'.gm-addr[data-unit="{unit["external_id"]}"]')
        expect(item.locator(".gm-addr-line")).to_have_text(unit["address"])
        expect(item.locator(".gm-addr-status")).to_have_attribute("data-status", unit["status"] or "unknown")
        if unit["customer_name"]:
            expect(item.locator(".gm-addr-customer")).to_have_text(unit["customer_name"])
        if unit["contact_phone"]:
            expect(item.locator(".gm-addr-phone")).to_have_text(unit["contact_phone"])
    shown = [u["contact_phone"] for u in first if u["contact_phone"]]
    assert _address_phones(page) == shown
    assert all(re.fullmatch(r"\d{11}", p) for p in shown), "the admin sees phones unmasked"
    dot = items.first.locator(".gm-dot")
    assert dot.evaluate("(e) => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    # "more" pages on
    more = card.locator(".gm-btn-more")
    if props["units"] > 50:
        expect(card.locator(".gm-addresses .gm-section-count")).to_have_text(
            f"已显示 50 / {props['units']:,}"
        )
        more.click()
        expect(items).to_have_count(min(100, props["units"]))
        expect(card.locator(".gm-addresses .gm-section-count")).to_contain_text(
            f"{min(100, props['units'])} / "
        )
    else:
        expect(more).to_have_count(0)

    # -- screenshots: the card's head, figures and matrix; then its address list
    page.mouse.move(5, 5)
    page.locator("#gm-panel").evaluate("(panel) => { panel.scrollTop = 0; }")
    page.screenshot(path=str(ARTIFACTS / "cell_card.png"))
    page.locator("#gm-panel").evaluate(
        "(panel) => { panel.scrollTop = panel.querySelector('.gm-addresses').offsetTop - 16; }"
    )
    page.screenshot(path=str(ARTIFACTS / "cell_card_addresses.png"))

    # -- English: axis titles, via labels, the list's labels
    page.get_by_role("button", name="English").click()
    expect(regional.locator(".gm-axis-title")).to_have_text(
        "Regional marketing (account manager / grid manager)"
    )
    expect(specialist.locator(".gm-axis-title")).to_have_text(
        "Specialist marketing (characteristic-grid teams)"
    )
    expect(am.locator(".gm-via")).to_have_text("Account manager (cell)")
    expect(card.locator(".gm-addresses .gm-section-title")).to_contain_text("Address list")
    page.get_by_role("button", name="中文").click()
    expect(card.locator(".gm-addresses .gm-section-title")).to_contain_text("地址清单")

    assert watched.foreign_requests() == []
    assert watched.errors == []


# -------------------------------------------------------------------------------- my area, masking


def test_my_area_of_an_account_manager(watched: Watched, live_server: str, world: World) -> None:
    page = watched.page
    _start(page, live_server, world.am_user, PASSWORD)
    expect(page.locator("#gm-user-role")).to_contain_text("客户经理")
    # not an administrator: no way into the admin pages, and #/admin falls back to the map
    expect(page.locator("#gm-admin-link")).to_be_hidden()
    page.evaluate("location.hash = '#/admin'")
    expect(page.locator("#gm-admin")).to_be_hidden()
    page.wait_for_function("location.hash === ''")

    # zoom far out first, then "my area" zooms back onto the one cell and outlines it
    page.evaluate("gmMap.map.setZoom(gmMap.map.getZoom() - 4, {animate: false})")
    before = page.evaluate("gmMap.map.getZoom()")
    expect(page.locator("#gm-myarea")).to_have_text("我的区域")
    page.locator("#gm-myarea").click()
    box = page.locator("#gm-area")
    expect(box).to_be_visible()
    expect(box.locator(".gm-area-title")).to_have_text("我的区域")
    page.wait_for_function("gmMap.ownCells.length > 0")
    assert page.evaluate("gmMap.ownCells") == [world.am_cell]
    page.wait_for_function(
        """([code, before]) => {
          const {map, cellLayer} = gmMap;
          const layer = cellLayer.getLayers().find((l) => l.feature.properties.code === code);
          return map.getZoom() > before && map.getBounds().contains(layer.getBounds());
        }""",
        arg=[world.am_cell, before],
    )
    area = page.request.get(f"{live_server}/api/v1/me/area").json()
    assert area["cells"] == [world.am_cell]
    expect(box.locator('[data-key="cells"]')).to_have_text("1")
    expect(box).to_contain_text("客户经理")
    expect(box).to_contain_text("橙色轮廓")
    expect(page.locator("#gm-myarea")).to_have_attribute("aria-pressed", "true")
    # the highlighted outline is drawn in its own pane
    assert page.evaluate("document.querySelector('.leaflet-gm-own-pane canvas') !== null")
    page.mouse.move(5, 5)
    page.screenshot(path=str(ARTIFACTS / "my_area.png"))

    # the card of that cell names this user as its account manager
    _click_cell(page, world.am_cell)
    expect(page.locator("#gm-panel .gm-axis-regional")).to_contain_text(world.am_name)

    # closing the box drops the outline
    box.locator(".gm-area-close").click()
    expect(box).to_be_hidden()
    assert page.evaluate("gmMap.ownCells") == []

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_my_area_of_the_admin_is_everything(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str]
) -> None:
    page = watched.page
    _start(page, live_server, *admin_credentials)
    page.locator("#gm-myarea").click()
    box = page.locator("#gm-area")
    expect(box.locator(".gm-area-all")).to_contain_text("全部")
    expect(box.locator(".gm-area-kv")).to_contain_text("全部")
    assert page.evaluate("gmMap.ownCells") == []
    page.get_by_role("button", name="English").click()
    expect(box.locator(".gm-area-all")).to_contain_text("Everything")
    assert watched.errors == []


def test_planner_sees_masked_phones(watched: Watched, live_server: str, world: World) -> None:
    page = watched.page
    _start(page, live_server, world.planner_user, PASSWORD)
    expect(page.locator("#gm-user-role")).to_contain_text("市场经理")
    expect(page.locator("#gm-admin-link")).to_be_hidden()
    _click_cell(page, world.phone_cell)
    card = page.locator("#gm-panel .gm-card")
    expect(card.locator(".gm-addr").first).to_be_visible()
    phones = _address_phones(page)
    assert phones, "the cell's address list shows no phone"
    assert all(MASKED.fullmatch(p) for p in phones), phones
    expect(card.locator(".gm-addr-phone.is-masked").first).to_be_visible()
    # and the server said so too
    rows = page.request.get(f"{live_server}/api/v1/cells/{world.phone_cell}/units?limit=50").json()["units"]
    assert all(r["phone_masked"] for r in rows)
    assert watched.foreign_requests() == []
    assert watched.errors == []


# -------------------------------------------------------------------------------- administration


def _tab(page: Page, name: str, key: str) -> None:
    page.locator("#gm-admin-tabs .gm-tab", has_text=name).click()
    expect(page).to_have_url(re.compile(f"#/admin/{key}$"))
    expect(page.locator(f'.gm-admin-list[data-tab="{key}"] .gm-table')).to_be_visible()


def test_admin_pages(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str], world: World, browser: Browser
) -> None:
    page = watched.page
    _start(page, live_server, *admin_credentials)
    form = page.locator("#gm-admin-form")

    # -- the entry in the header; all five tabs for an admin
    page.locator("#gm-admin-link").click()
    expect(page.locator("#gm-admin")).to_be_visible()
    expect(page.locator("#gm-admin-link")).to_have_attribute("aria-current", "page")
    expect(page.locator("#gm-admin-tabs .gm-tab")).to_have_text(["用户", "组织", "人员", "分配", "审计"])
    expect(page).to_have_url(re.compile("#/admin/users$"))

    # -- org units: create one through the form; it shows in the table
    ou_code, ou_name = f"W-OU-{SUFFIX}", f"测试特征网格团队{SUFFIX}"
    _tab(page, "组织", "org")
    expect(form.locator(".gm-box-title")).to_have_text("新建组织")
    form.locator('[name="code"]').fill(ou_code)
    form.locator('[name="name"]').fill(ou_name)
    form.locator('[name="kind"]').select_option("specialist_team")
    form.locator('[name="city_code"]').select_option(world.city)
    form.locator("#gm-admin-submit").click()
    expect(form.locator("#gm-admin-form-ok")).to_contain_text(ou_code)
    row = page.locator(f'#gm-admin-table tr[data-key="{ou_code}"]')
    expect(row).to_contain_text(ou_name)
    expect(row).to_contain_text("专业营销团队")
    expect(form.locator('[name="code"]')).to_have_value("")
    expect(form.locator('[name="kind"]')).to_have_value("specialist_team")

    # a 422 from the server: its message next to the form, the field marked
    watched.allow(422, "/api/v1/admin/org-units")
    form.locator('[name="code"]').fill(f"W-OU-BAD-{SUFFIX}")
    form.locator('[name="name"]').fill("不存在的区县")
    form.locator('[name="district_code"]').fill("NO-SUCH-DISTRICT")
    form.locator("#gm-admin-submit").click()
    error = form.locator("#gm-admin-form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("no district 'NO-SUCH-DISTRICT'")
    expect(error.locator(".gm-form-error-field")).to_contain_text("district_code")
    field = form.locator('.gm-ffield[data-field="district_code"]')
    expect(field).to_have_class(re.compile("is-invalid"))
    expect(field.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(field.locator(".gm-field-error")).to_contain_text("NO-SUCH-DISTRICT")
    expect(page.locator(f'#gm-admin-table tr[data-key="W-OU-BAD-{SUFFIX}"]')).to_have_count(0)
    # the filter finds the new unit; the screenshot shows it (marked as new) in the whole table
    page.locator("#gm-admin-filter").fill(SUFFIX)
    expect(page.locator("#gm-admin-table tbody tr")).to_have_count(1)
    expect(page.locator("#gm-admin-count")).to_contain_text("显示 1 /")
    # the filter also matches the kind's label: all specialist teams, the new one marked as new
    page.locator("#gm-admin-filter").fill("专业营销团队")
    row = page.locator(f'#gm-admin-table tr[data-key="{ou_code}"]')
    expect(row).to_have_class(re.compile("is-new"))
    kinds = page.locator("#gm-admin-table tbody tr td:nth-child(3)").all_text_contents()
    assert set(kinds) == {"专业营销团队"}
    row.evaluate("(tr) => tr.scrollIntoView({block: 'nearest'})")
    page.screenshot(path=str(ARTIFACTS / "admin_org.png"))
    page.locator("#gm-admin-filter").fill("")
    # correcting the field clears its mark
    form.locator('[name="district_code"]').fill("")
    expect(field).not_to_have_class(re.compile("is-invalid"))

    # -- staff: create one in the new org unit
    st_code, st_name = f"W-ST-{SUFFIX}", f"测试员工{SUFFIX}"
    _tab(page, "人员", "staff")
    form.locator('[name="code"]').fill(st_code)
    form.locator('[name="name"]').fill(st_name)
    form.locator('[name="post"]').fill("专业营销经理")
    form.locator('[name="org_unit_code"]').fill(ou_code)
    form.locator("#gm-admin-submit").click()
    row = page.locator(f'#gm-admin-table tr[data-key="{st_code}"]')
    expect(row).to_contain_text(st_name)
    expect(row).to_contain_text(ou_name)
    expect(row).to_contain_text("专业营销经理")

    # -- assignments: give the new staff member a cell, end it today, delete it
    _tab(page, "分配", "assignments")
    expect(form.locator('[name="valid_from"]')).to_have_value(TODAY)
    form.locator('[name="staff_code"]').fill(st_code)
    form.locator('[name="kind"]').select_option("cell")
    form.locator('[name="target_code"]').fill(world.card_cell)
    form.locator('[name="valid_from"]').fill("2026-01-01")
    form.locator("#gm-admin-submit").click()
    expect(form.locator("#gm-admin-form-ok")).to_be_visible()
    page.locator("#gm-admin-filter").fill(st_code)
    row = page.locator("#gm-admin-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(world.card_cell)
    expect(row).to_contain_text("有效")
    row.get_by_role("button", name="结束").click()
    expect(page.locator(".gm-admin-msg-ok")).to_contain_text(f"截止 {TODAY}")
    expect(row.locator("td").nth(6)).to_have_text(TODAY)
    expect(row.get_by_role("button", name="结束")).to_have_count(0)
    row.get_by_role("button", name="删除").click()
    row.get_by_role("button", name="确认删除？").click()
    expect(page.locator("#gm-admin-table tbody tr")).to_have_count(0)
    assert not page.request.get(f"{live_server}/api/v1/admin/assignments?staff={st_code}").json()[
        "assignments"
    ]

    # -- users: a generated password is shown once and works; disabling stops the login
    _tab(page, "用户", "users")
    username = f"w-gen-{SUFFIX.lower()}"
    form.locator('[name="username"]').fill(username)
    form.locator('[name="role"]').select_option("planner")
    form.locator('[name="region_code"]').fill(world.city)
    form.locator("#gm-admin-submit").click()
    notice = page.locator("#gm-admin-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(username)
    expect(notice).to_contain_text("仅显示这一次")
    generated = page.locator("#gm-admin-password").inner_text()
    assert len(generated) >= 10
    row = page.locator(f'#gm-admin-table tr[data-key="{username}"]')
    expect(row).to_contain_text("市场经理")
    expect(row).to_contain_text("启用")
    other = browser.new_context()
    try:
        login = {"username": username, "password": generated}
        assert other.request.post(f"{live_server}/api/v1/auth/login", data=login).ok
        notice.get_by_role("button", name="我已记下").click()
        expect(notice).to_be_hidden()
        row.get_by_role("button", name="停用").click()
        expect(row).to_contain_text("已停用")
        expect(row.get_by_role("button", name="启用")).to_be_visible()
        assert other.request.post(f"{live_server}/api/v1/auth/login", data=login).status == 401
        row.get_by_role("button", name="重置密码").click()
        expect(notice).to_be_visible()
        assert page.locator("#gm-admin-password").inner_text() != generated
    finally:
        other.close()

    # -- audit: the changes just made are there
    _tab(page, "审计", "audit")
    expect(page.locator("#gm-admin-table")).to_contain_text(ou_code)
    expect(page.locator("#gm-admin-table")).to_contain_text("新建组织")
    page.locator('[data-query="action"]').select_option("user.disable")
    expect(page.locator("#gm-admin-table tbody tr").first).to_contain_text(username)

    # -- English labels
    page.get_by_role("button", name="English").click()
    tabs_en = ["Users", "Org units", "Staff", "Assignments", "Audit"]
    expect(page.locator("#gm-admin-tabs .gm-tab")).to_have_text(tabs_en)
    expect(page.locator(".gm-admin-title")).to_have_text("Administration")
    page.get_by_role("button", name="中文").click()

    # -- back to the map
    page.locator("#gm-map-link").click()
    expect(page.locator("#gm-admin")).to_be_hidden()
    expect(page.locator("#gm-myarea")).to_be_visible()

    assert watched.foreign_requests() == []
    assert watched.errors == []


def test_city_manager_has_the_org_tabs_only(watched: Watched, live_server: str, world: World) -> None:
    page = watched.page
    _start(page, live_server, world.cm_user, PASSWORD)
    page.locator("#gm-admin-link").click()
    expect(page.locator("#gm-admin-tabs .gm-tab")).to_have_text(["组织", "人员", "分配"])
    expect(page).to_have_url(re.compile("#/admin/org$"))
    expect(page.locator("#gm-admin-table tbody tr").first).to_be_visible()
    # every org unit listed is of the manager's city
    cities = page.locator("#gm-admin-table tbody tr td:nth-child(4)").all_text_contents()
    names = {c["code"]: c["name"] for c in page.request.get(f"{live_server}/api/v1/cities").json()["cities"]}
    assert set(cities) == {names[world.city]}
    # the users page is not for them: the hash falls back to the first tab they have
    page.evaluate("location.hash = '#/admin/users'")
    expect(page).to_have_url(re.compile("#/admin/org$"))
    # a reload on the admin page lands there again, its form offering their city
    page.reload()
    expect(page.locator("#gm-admin")).to_be_visible()
    expect(page.locator('#gm-admin-form [name="city_code"] option')).to_have_count(1)
    expect(page.locator('#gm-admin-form [name="city_code"]')).to_have_value(world.city)
    assert watched.errors == []


# -------------------------------------------------------------------------------- escaping

EVIL = '<img src="/x-should-not-load" onerror="window.__gmXss=1"><b>恶意</b>'


def _poison(page: Page, pattern: str, change: Callable[[Any], None]) -> None:
    """Rewrite the JSON answers of GET requests matching pattern."""

    def handler(route: Route) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(pattern), handler)


def test_new_texts_are_escaped(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str], world: World
) -> None:
    """Names in the card's matrix and address list, "my area" and the admin tables stay text."""
    page = watched.page
    person = {"staff_code": "X1", "name": EVIL, "post": EVIL, "org_unit_name": EVIL, "org_unit_kind": EVIL}

    def detail(body: Any) -> None:
        body["responsible"]["regional"] = [{**person, "via": "cell", "target_name": EVIL}]
        body["responsible"]["specialist"] = [{**person, "via": "feature_grid", "target_name": EVIL}]
        body["feature_grids"] = [{"code": EVIL, "name": EVIL, "type": EVIL}]

    def units(body: Any) -> None:
        for u in body["units"]:
            u.update(address=EVIL, customer_name=EVIL, contact_name=EVIL, contact_phone=EVIL, status=EVIL)

    def area(body: Any) -> None:
        named = [{"code": "X", "name": EVIL, "type": EVIL}]
        body.update(everything=False, districts=named, grids=named, feature_grids=named, cities=named)

    def org_units(body: Any) -> None:
        for o in body["org_units"]:
            o.update(name=EVIL, district_name=EVIL, parent_name=EVIL, kind=EVIL)

    _poison(page, r".*/api/v1/cells/[^/?]+$", detail)
    _poison(page, r".*/api/v1/cells/[^/?]+/units(\?.*)?$", units)
    _poison(page, r".*/api/v1/me/area$", area)
    _poison(page, r".*/api/v1/admin/org-units$", org_units)
    _start(page, live_server, *admin_credentials)

    _click_cell(page, world.card_cell)
    card = page.locator("#gm-panel .gm-card")
    expect(card.locator(".gm-axis-regional .gm-person-name")).to_contain_text(EVIL)
    expect(card.locator(".gm-axis-specialist .gm-person-org")).to_have_text(EVIL)
    expect(card.locator(".gm-fg-chips .gm-chip")).to_contain_text(EVIL)
    expect(card.locator(".gm-addr-line").first).to_have_text(EVIL)
    expect(card.locator(".gm-addr-phone").first).to_have_text(EVIL)
    page.locator("#gm-myarea").click()
    expect(page.locator("#gm-area .gm-area-kv")).to_contain_text(EVIL)
    page.locator("#gm-admin-link").click()
    page.locator("#gm-admin-tabs .gm-tab", has_text="组织").click()
    expect(page.locator("#gm-admin-table tbody tr").first).to_contain_text(EVIL)

    assert page.locator("#gm-panel img, #gm-panel .gm-card b, #gm-area img, #gm-area b").count() == 0
    assert page.locator("#gm-admin img, #gm-admin b").count() == 0
    assert page.evaluate("window.__gmXss") is None
    assert not any("x-should-not-load" in u for u in watched.requests)
    assert watched.errors == []
