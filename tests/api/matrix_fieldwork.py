"""Permission rows of field work: rosters (一楼一册, 一场一册, XLSX), visits and sweeps, follow-ups.

Reads follow the read scope (CONTRACT.md "Roles and scope"): the account manager's building is read
by the admin, the city-wide roles and that account manager; a cell's buildings, sweep and follow-ups
open for whoever may open the cell (the specialist lead reads every cell of the city, seeing only
its own units). Writes (visits, follow-ups) need edit scope: planners never; a follow-up is changed
or closed by its owner (here the account manager) or whoever may edit its unit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from gridmarket.grids.scope import today
from tests.api.matrix_common import AM, CM, GM, PL, RH, ROLES, SL, A, Case, World, everyone, only

TZ = "Asia/Shanghai"


def _opportunity(conn: Any, cell: str, avoid: str | None = None) -> str:
    """A unit of ``cell`` on which a follow-up may be opened (made one by a new version if none is)."""
    on = today(TZ)
    ext = conn.scalar(
        text(
            "SELECT a.external_id FROM address_unit a JOIN cell c ON c.id = a.cell_id "
            "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
            "WHERE c.code = :c AND a.retired_at IS NULL AND a.external_id IS DISTINCT FROM :avoid "
            "AND (r.status IN ('other_network', 'potential') OR r.contract_end BETWEEN :on AND :end) "
            "ORDER BY a.external_id LIMIT 1"
        ),
        {"c": cell, "avoid": avoid, "on": on, "end": on + dt.timedelta(days=90)},
    )
    if ext is not None:
        return str(ext)
    ext, rid = conn.execute(
        text(
            "SELECT a.external_id, r.id FROM address_unit a JOIN cell c ON c.id = a.cell_id "
            "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
            "WHERE c.code = :c AND a.retired_at IS NULL AND a.external_id IS DISTINCT FROM :avoid "
            "ORDER BY a.external_id LIMIT 1"
        ),
        {"c": cell, "avoid": avoid},
    ).one()
    now = conn.scalar(text("SELECT now()"))
    conn.execute(text("UPDATE market_record SET valid_to = :now WHERE id = :r"), {"now": now, "r": rid})
    conn.execute(
        text(
            "INSERT INTO market_record (address_unit_id, city_id, version, customer_id, status, "
            "main_services, contact_name, contact_phone, source, valid_from) "
            "SELECT address_unit_id, city_id, version + 1, customer_id, 'potential', main_services, "
            "contact_name, contact_phone, 'field', :now FROM market_record WHERE id = :r"
        ),
        {"now": now, "r": rid},
    )
    return str(ext)


def prepare(engine: Engine, world: World) -> None:
    """The account manager's building, opportunity units, and follow-ups to change and close."""
    with engine.begin() as conn:
        # a building all of whose units lie in the account manager's cell
        building = conn.scalar(
            text(
                "SELECT b.code FROM building b JOIN address_unit a ON a.building_id = b.id "
                "JOIN cell c ON c.id = a.cell_id WHERE a.retired_at IS NULL "
                "GROUP BY b.id HAVING bool_and(c.code = :c) ORDER BY b.code LIMIT 1"
            ),
            {"c": world.am_cell},
        )
        if building is None:  # give the account manager's unit a building of its own
            building = "T-BLD"
            conn.execute(
                text(
                    "INSERT INTO building (city_id, code, name, floors, cell_id, geom) "
                    "SELECT a.city_id, 'T-BLD', '测试楼', 2, a.cell_id, a.geom FROM address_unit a "
                    "WHERE a.external_id = :e"
                ),
                {"e": world.am_unit},
            )
            conn.execute(
                text(
                    "UPDATE address_unit SET building_id = (SELECT id FROM building WHERE code = 'T-BLD') "
                    "WHERE external_id = :e"
                ),
                {"e": world.am_unit},
            )
        world.extra["fw_building"] = building
        am_opp = _opportunity(conn, world.am_cell)
        world.extra["fw_am_opp"] = am_opp
        world.extra["fw_rh_opp"] = _opportunity(conn, world.outside_cell)
        owner = conn.scalar(text("SELECT id FROM app_user WHERE username = 'm-account_manager'"))
        unit = conn.execute(
            text("SELECT id, cell_id, city_id FROM address_unit WHERE external_id = :e"), {"e": am_opp}
        ).one()

        def follow_up() -> int:
            return int(
                conn.scalar(
                    text(
                        "INSERT INTO follow_up (address_unit_id, cell_id, city_id, reason, status_at_open, "
                        "owner_id, created_by, due_date, next_step) VALUES (:u, :c, :city, 'potential', "
                        "'potential', :o, :o, :due, '测试') RETURNING id"
                    ),
                    {"u": unit.id, "c": unit.cell_id, "city": unit.city_id, "o": owner, "due": today(TZ)},
                )
            )

        world.extra["fw_patch"] = follow_up()
        world.extra["fw_close"] = {role: follow_up() for role in ROLES}


def _due(w: World, r: str) -> dict[str, Any]:
    return {"due_date": (today(TZ) + dt.timedelta(days=7)).isoformat(), "next_step": f"拜访 ({r})"}


AM_READERS = only({A: 200, CM: 200, PL: 200, AM: 200})
AM_CELL = only({A: 200, CM: 200, PL: 200, SL: 200, AM: 200})
GM_CELL = only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200})
RH_CELL = only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200})
FG_READERS = only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200})

ROWS: dict[tuple[str, str], list[Case]] = {
    ("GET", "/api/v1/buildings/{code}/roster"): [
        (lambda w, r: f"/api/v1/buildings/{w.extra['fw_building']}/roster?city={w.city}", None, AM_READERS),
        (lambda w, r: "/api/v1/buildings/NO-SUCH-BUILDING/roster", None, everyone(404)),
    ],
    ("GET", "/api/v1/buildings/{code}/roster.xlsx"): [
        (
            lambda w, r: f"/api/v1/buildings/{w.extra['fw_building']}/roster.xlsx?city={w.city}",
            None,
            AM_READERS,
        ),
        (lambda w, r: "/api/v1/buildings/NO-SUCH-BUILDING/roster.xlsx", None, everyone(404)),
    ],
    ("GET", "/api/v1/cells/{code}/buildings"): [
        (lambda w, r: f"/api/v1/cells/{w.am_cell}/buildings", None, AM_CELL),
        (lambda w, r: f"/api/v1/cells/{w.gm_cell}/buildings", None, GM_CELL),
        (lambda w, r: "/api/v1/cells/NO-SUCH-CELL/buildings", None, everyone(404)),
    ],
    ("GET", "/api/v1/feature-grids/{code}/roster"): [
        (lambda w, r: "/api/v1/feature-grids/T-FG/roster", None, FG_READERS),
        (lambda w, r: "/api/v1/feature-grids/NO-SUCH-FG/roster", None, everyone(404)),
    ],
    ("GET", "/api/v1/feature-grids/{code}/roster.xlsx"): [
        (lambda w, r: "/api/v1/feature-grids/T-FG/roster.xlsx", None, FG_READERS),
    ],
    ("POST", "/api/v1/units/{external_id}/visits"): [
        (
            lambda w, r: f"/api/v1/units/{w.am_unit}/visits",
            {"outcome": "met"},
            only({A: 201, CM: 201, AM: 201}),
        ),
        (
            lambda w, r: f"/api/v1/units/{w.outside_unit}/visits",
            {"outcome": "not_met"},
            only({A: 201, CM: 201, RH: 201}),
        ),
        (lambda w, r: "/api/v1/units/NO-SUCH-UNIT/visits", {"outcome": "met"}, everyone(404)),
    ],
    ("GET", "/api/v1/units/{external_id}/visits"): [
        (lambda w, r: f"/api/v1/units/{w.am_unit}/visits", None, AM_READERS),
        (
            lambda w, r: f"/api/v1/units/{w.outside_unit}/visits",
            None,
            only({A: 200, CM: 200, PL: 200, RH: 200}),
        ),
    ],
    ("GET", "/api/v1/cells/{code}/sweep"): [
        (lambda w, r: f"/api/v1/cells/{w.am_cell}/sweep", None, AM_CELL),
        (lambda w, r: f"/api/v1/cells/{w.outside_cell}/sweep?from=2026-01-01&to=2026-06-30", None, RH_CELL),
        (lambda w, r: "/api/v1/cells/NO-SUCH-CELL/sweep", None, everyone(404)),
    ],
    ("GET", "/api/v1/cities/{code}/sweep"): [
        (lambda w, r: f"/api/v1/cities/{w.city}/sweep", None, everyone(200)),
        (lambda w, r: f"/api/v1/cities/{w.other_city}/sweep", None, only({A: 200})),
    ],
    ("POST", "/api/v1/units/{external_id}/follow-ups"): [
        (
            lambda w, r: f"/api/v1/units/{w.extra['fw_am_opp']}/follow-ups",
            _due,
            only({A: 201, CM: 201, AM: 201}),
        ),
        (
            lambda w, r: f"/api/v1/units/{w.extra['fw_rh_opp']}/follow-ups",
            _due,
            only({A: 201, CM: 201, RH: 201}),
        ),
    ],
    ("GET", "/api/v1/me/follow-ups"): [(lambda w, r: "/api/v1/me/follow-ups?state=all", None, everyone(200))],
    ("PATCH", "/api/v1/follow-ups/{follow_up_id}"): [
        (
            lambda w, r: f"/api/v1/follow-ups/{w.extra['fw_patch']}",
            {"next_step": "电话回访"},
            only({A: 200, CM: 200, AM: 200}),
        ),
        (lambda w, r: "/api/v1/follow-ups/999999999", {"next_step": "x"}, only({}, others=404) | {PL: 403}),
    ],
    ("POST", "/api/v1/follow-ups/{follow_up_id}/close"): [
        (
            lambda w, r: f"/api/v1/follow-ups/{w.extra['fw_close'][r]}/close",
            {"outcome": "dropped"},
            only({A: 200, CM: 200, AM: 200}),
        ),
    ],
    ("GET", "/api/v1/cells/{code}/follow-ups"): [
        (lambda w, r: f"/api/v1/cells/{w.am_cell}/follow-ups", None, AM_CELL),
        (lambda w, r: f"/api/v1/cells/{w.outside_cell}/follow-ups", None, RH_CELL),
    ],
}
