"""The permission matrix: every route × every role, and scope, masking and audit on the demo.

`MATRIX` is this test's own statement of who may do what (CONTRACT.md "Roles and scope"); it is
not read from the code. A route the app serves that has no row here fails the test, so a new route
cannot ship unchecked; a row without an expectation for every role fails too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from starlette.routing import Mount, Route

from gridmarket.grids import auth
from gridmarket.grids.scope import scope_for
from tests.api import matrix_parts
from tests.api.matrix_common import (
    AM,
    ANON,
    CM,
    GM,
    PASSWORD,
    PL,
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    RH,
    ROLES,
    SL,
    A,
    Case,
    World,
    everyone,
    only,
)
from tests.helpers import bearer


def _one(conn: Any, sql: str, **p: Any) -> Any:
    return conn.execute(text(sql), p).one()


@pytest.fixture(scope="module")
def world(engine: Engine, client_module: TestClient) -> World:
    with engine.begin() as conn:
        cities = conn.execute(
            text(
                "SELECT r.code FROM region r JOIN address_unit a ON a.city_id = r.id "
                "WHERE r.level = 'city' GROUP BY r.code ORDER BY count(*) DESC"
            )
        ).scalars()
        city, other = list(cities)[:2]
        districts = list(
            conn.execute(
                text(
                    "SELECT d.code, d.id FROM region d JOIN region c ON c.id = d.city_id "
                    "WHERE d.level = 'district' AND c.code = :c ORDER BY d.code"
                ),
                {"c": city},
            )
        )
        (rh_code, rh_id), (_, am_did), (_, gm_did) = districts[:3]

        def cell_with_phone(district_id: int, avoid: set[str]) -> tuple[str, int, str]:
            row = _one(
                conn,
                "SELECT c.code, c.id, a.external_id FROM cell c JOIN address_unit a ON a.cell_id = c.id "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE c.district_id = :d AND r.contact_phone IS NOT NULL AND NOT c.code = ANY(:avoid) "
                "ORDER BY c.code, a.external_id LIMIT 1",
                d=district_id,
                avoid=sorted(avoid),
            )
            return row[0], row[1], row[2]

        am_cell, am_cell_id, am_unit = cell_with_phone(am_did, set())
        gm_grid, gm_grid_id = _one(
            conn,
            "SELECT code, id FROM grid WHERE district_id = :d AND kind = 'drawn' ORDER BY code LIMIT 1",
            d=gm_did,
        )
        gm_cell = _one(conn, "SELECT code FROM cell WHERE grid_id = :g ORDER BY code LIMIT 1", g=gm_grid_id)[
            0
        ]
        outside_cell, _, outside_unit = cell_with_phone(rh_id, set())
        fg_cell, fg_cell_id, _ = cell_with_phone(gm_did, {gm_cell})
        city_id = _one(conn, "SELECT id FROM region WHERE code = :c", c=city)[0]
        # staff and assignments of this test only (codes prefixed T-)
        staff_ids = {}
        for code, name in (("T-SL", "测试专业负责人"), ("T-GM", "测试网格经理"), ("T-AM", "测试客户经理")):
            staff_ids[code] = conn.scalar(
                text("INSERT INTO staff (code, name, city_id) VALUES (:c, :n, :city) RETURNING id"),
                {"c": code, "n": name, "city": city_id},
            )
        fg_id = conn.scalar(
            text(
                "INSERT INTO feature_grid (code, name, city_id, type, industries) "
                "VALUES ('T-FG', '测试特征网格', :city, 'campus', '{}') RETURNING id"
            ),
            {"city": city_id},
        )
        conn.execute(text("INSERT INTO feature_grid_cell VALUES (:f, :c)"), {"f": fg_id, "c": fg_cell_id})
        since = dt.date(2026, 1, 1)
        for staff, kind, col, target in (
            ("T-SL", "feature_grid", "feature_grid_id", fg_id),
            ("T-GM", "grid", "grid_id", gm_grid_id),
            ("T-AM", "cell", "cell_id", am_cell_id),
        ):
            conn.execute(
                text(f"INSERT INTO assignment (staff_id, kind, {col}, valid_from) VALUES (:s, :k, :t, :f)"),
                {"s": staff_ids[staff], "k": kind, "t": target, "f": since},
            )
        specs = {
            "city_manager": {"region_code": city},
            "regional_head": {"region_code": rh_code},
            "specialist_lead": {"staff_code": "T-SL"},
            "grid_manager": {"staff_code": "T-GM"},
            "account_manager": {"staff_code": "T-AM"},
            "planner": {"region_code": city},
        }
        for role, spec in specs.items():
            auth.add_user(conn, f"m-{role}", role, PASSWORD, **spec)
        # items the admin routes change: an org unit in each city, per-role items to delete
        other_id = _one(conn, "SELECT id FROM region WHERE code = :c", c=other)[0]
        units = [("T-OU", city_id), ("T-OU-X", other_id)]
        units += [(f"T-DEL-{r}", city_id) for r in ROLES] + [(f"T-DELX-{r}", other_id) for r in ROLES]
        for code, cid in units:
            conn.execute(
                text(
                    "INSERT INTO org_unit (code, name, kind, city_id) "
                    "VALUES (:c, '测试团队', 'specialist_team', :i)"
                ),
                {"c": code, "i": cid},
            )
        for code in ["T-X"] + [f"T-DS-{r}" for r in ROLES]:
            conn.execute(
                text("INSERT INTO staff (code, name, city_id) VALUES (:c, '测试员工', :i)"),
                {"c": code, "i": city_id},
            )
        x_staff = _one(conn, "SELECT id FROM staff WHERE code = 'T-X'")[0]
        made = []
        for day in range(1, len(ROLES) + 2):
            made.append(
                conn.scalar(
                    text(
                        "INSERT INTO assignment (staff_id, kind, grid_id, valid_from) "
                        "VALUES (:s, 'grid', :g, :f) RETURNING id"
                    ),
                    {"s": x_staff, "g": gm_grid_id, "f": dt.date(2025, 1, day)},
                )
            )
    users = {role: {"username": f"m-{role}"} for role in specs}
    world = World(
        city=city,
        other_city=other,
        district=rh_code,
        am_cell=am_cell,
        am_unit=am_unit,
        gm_grid=gm_grid,
        gm_cell=gm_cell,
        fg_cell=fg_cell,
        outside_cell=outside_cell,
        outside_unit=outside_unit,
        users=users,
        x_assignment=made[0],
        del_assignments=dict(zip(ROLES, made[1:], strict=True)),
    )
    for part in matrix_parts.PARTS:
        prepare = getattr(part, "prepare", None)
        if prepare is not None:
            prepare(engine, world)
    return world


@pytest.fixture(scope="module")
def client_module(app: FastAPI) -> Any:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def headers(
    world: World, client_module: TestClient, admin_credentials: tuple[str, str]
) -> dict[str, dict[str, str]]:
    out = {role: bearer(client_module, f"m-{role}", PASSWORD) for role in world.users}
    out["admin"] = bearer(client_module, *admin_credentials)
    out["anonymous"] = {}
    return out


CORE: dict[tuple[str, str], list[Case]] = {
    ("GET", "/api/v1/auth/me"): [(lambda w, r: "/api/v1/auth/me", None, everyone(200))],
    ("POST", "/api/v1/auth/logout"): [],  # exercised in test_logout_for_every_role (it ends the session)
    ("POST", "/api/v1/auth/token"): [],  # public: the login itself (tests/api/test_api.py)
    ("POST", "/api/v1/auth/login"): [],  # public: the login itself (tests/api/test_api.py)
    ("GET", "/api/v1/cities"): [(lambda w, r: "/api/v1/cities", None, everyone(200))],
    ("GET", "/api/v1/me/area"): [(lambda w, r: "/api/v1/me/area", None, everyone(200))],
    ("GET", "/api/v1/cities/{code}/cells"): [
        (lambda w, r: f"/api/v1/cities/{w.city}/cells", None, everyone(200)),
        (lambda w, r: f"/api/v1/cities/{w.other_city}/cells", None, only({A: 200})),
    ],
    ("GET", "/api/v1/cities/{code}/districts"): [
        (lambda w, r: f"/api/v1/cities/{w.city}/districts", None, everyone(200)),
        (lambda w, r: f"/api/v1/cities/{w.other_city}/districts", None, only({A: 200})),
    ],
    ("GET", "/api/v1/cells/{code}/units"): [
        # city-wide readers (and the specialist lead, who reads city-wide metrics) list any cell of
        # the city, but see only the units they may read (test_listings_are_filtered_by_scope)
        (
            lambda w, r: f"/api/v1/cells/{w.am_cell}/units",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, AM: 200}),
        ),
        (
            lambda w, r: f"/api/v1/cells/{w.gm_cell}/units",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200}),
        ),
        (
            lambda w, r: f"/api/v1/cells/{w.fg_cell}/units",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200}),
        ),
        (
            lambda w, r: f"/api/v1/cells/{w.outside_cell}/units",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200}),
        ),
        (lambda w, r: "/api/v1/cells/NO-SUCH-CELL/units", None, everyone(404)),
    ],
    ("GET", "/api/v1/units/{external_id}"): [
        (lambda w, r: f"/api/v1/units/{w.am_unit}", None, only({A: 200, CM: 200, PL: 200, AM: 200})),
        (lambda w, r: f"/api/v1/units/{w.outside_unit}", None, only({A: 200, CM: 200, PL: 200, RH: 200})),
        (lambda w, r: "/api/v1/units/NO-SUCH-UNIT", None, everyone(404)),
    ],
    ("GET", "/api/v1/cells/{code}"): [
        (lambda w, r: f"/api/v1/cells/{w.am_cell}", None, only({A: 200, CM: 200, PL: 200, SL: 200, AM: 200})),
        (lambda w, r: f"/api/v1/cells/{w.gm_cell}", None, only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200})),
        (lambda w, r: "/api/v1/cells/NO-SUCH-CELL", None, everyone(404)),
    ],
    ("GET", "/api/v1/metrics"): [
        (lambda w, r: f"/api/v1/metrics?level=cell&city={w.city}", None, everyone(200)),
        (lambda w, r: f"/api/v1/metrics?level=h3:9&city={w.other_city}", None, everyone(200)),
        (lambda w, r: f"/api/v1/metrics?level=cell&city={w.city}&format=table", None, everyone(200)),
    ],
    ("GET", "/api/v1/feature-grids"): [(lambda w, r: "/api/v1/feature-grids", None, everyone(200))],
    # listings: every role gets the outlines of the areas it may read (test_shapes_follow_scope)
    ("GET", "/api/v1/metrics/shapes"): [
        (lambda w, r: f"/api/v1/metrics/shapes?level=cell&city={w.city}", None, everyone(200)),
        (lambda w, r: f"/api/v1/metrics/shapes?level=district&city={w.city}", None, everyone(200)),
    ],
    ("GET", "/api/v1/metrics/compare"): [
        (
            lambda w, r: f"/api/v1/metrics/compare?area=cell:{w.am_cell}&area=cell:{w.gm_cell}",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200}),
        ),
    ],
    ("GET", "/api/v1/metrics/{level}/{area_id}/children"): [
        (lambda w, r: f"/api/v1/metrics/city/{w.city}/children", None, everyone(200)),
        (
            lambda w, r: f"/api/v1/metrics/district/{w.district}/children",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200}),
        ),
    ],
    ("GET", "/api/v1/metrics/{level}/{area_id}/rank"): [
        (
            lambda w, r: f"/api/v1/metrics/district/{w.district}/rank?child_level=cell&metric=penetration",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200}),
        ),
    ],
    ("GET", "/api/v1/admin/org-units"): [
        (lambda w, r: "/api/v1/admin/org-units", None, only({A: 200, CM: 200}))
    ],
    ("POST", "/api/v1/admin/org-units"): [
        (
            lambda w, r: "/api/v1/admin/org-units",
            lambda w, r: _unit(f"T-NEW-{r}", w.city),
            only({A: 201, CM: 201}),
        ),
        (
            lambda w, r: "/api/v1/admin/org-units",
            lambda w, r: _unit(f"T-NEWX-{r}", w.other_city),
            only({A: 201}),
        ),
    ],
    ("PATCH", "/api/v1/admin/org-units/{code}"): [
        (lambda w, r: "/api/v1/admin/org-units/T-OU", {"name": "测试团队二"}, only({A: 200, CM: 200})),
        (lambda w, r: "/api/v1/admin/org-units/T-OU-X", {"name": "测试团队二"}, only({A: 200})),
    ],
    ("DELETE", "/api/v1/admin/org-units/{code}"): [
        (lambda w, r: f"/api/v1/admin/org-units/T-DEL-{r}", None, only({A: 204, CM: 204})),
        (lambda w, r: f"/api/v1/admin/org-units/T-DELX-{r}", None, only({A: 204})),
    ],
    ("GET", "/api/v1/admin/staff"): [(lambda w, r: "/api/v1/admin/staff", None, only({A: 200, CM: 200}))],
    ("POST", "/api/v1/admin/staff"): [
        (
            lambda w, r: "/api/v1/admin/staff",
            lambda w, r: {"code": f"T-NS-{r}", "name": "新员工", "post": "客户经理", "city_code": w.city},
            only({A: 201, CM: 201}),
        ),
    ],
    ("PATCH", "/api/v1/admin/staff/{code}"): [
        (lambda w, r: "/api/v1/admin/staff/T-X", {"post": "客户经理"}, only({A: 200, CM: 200})),
    ],
    ("DELETE", "/api/v1/admin/staff/{code}"): [
        (lambda w, r: f"/api/v1/admin/staff/T-DS-{r}", None, only({A: 204, CM: 204})),
    ],
    ("GET", "/api/v1/admin/assignments"): [
        (lambda w, r: "/api/v1/admin/assignments", None, only({A: 200, CM: 200})),
    ],
    ("POST", "/api/v1/admin/assignments"): [
        (
            lambda w, r: "/api/v1/admin/assignments",
            lambda w, r: {
                "staff_code": "T-X",
                "kind": "grid",
                "target_code": w.gm_grid,
                "valid_from": f"2024-01-{ROLES.index(r) + 1:02d}",
            },
            only({A: 201, CM: 201}),
        ),
    ],
    ("PATCH", "/api/v1/admin/assignments/{assignment_id}"): [
        (
            lambda w, r: f"/api/v1/admin/assignments/{w.x_assignment}",
            {"valid_to": "2027-12-31"},
            only({A: 200, CM: 200}),
        ),
    ],
    ("DELETE", "/api/v1/admin/assignments/{assignment_id}"): [
        (lambda w, r: f"/api/v1/admin/assignments/{w.del_assignments[r]}", None, only({A: 204, CM: 204})),
    ],
    ("GET", "/api/v1/admin/users"): [(lambda w, r: "/api/v1/admin/users", None, only({A: 200}))],
    ("POST", "/api/v1/admin/users"): [
        (
            lambda w, r: "/api/v1/admin/users",
            lambda w, r: {"username": f"m-new-{r}", "role": "planner", "region_code": w.city},
            only({A: 201}),
        ),
    ],
    ("PATCH", "/api/v1/admin/users/{username}"): [
        (lambda w, r: "/api/v1/admin/users/m-planner", {"disabled": False}, only({A: 200})),
    ],
    ("GET", "/api/v1/admin/audit"): [(lambda w, r: "/api/v1/admin/audit", None, only({A: 200}))],
}


MATRIX: dict[tuple[str, str], list[Case]] = dict(CORE)
for _part in matrix_parts.PARTS:
    _overlap = set(MATRIX) & set(_part.ROWS)
    assert not _overlap, f"{_part.__name__} repeats rows: {sorted(_overlap)}"
    MATRIX.update(_part.ROWS)


def _unit(code: str, city: str) -> dict[str, Any]:
    return {"code": code, "name": "新团队", "kind": "specialist_team", "city_code": city}


def _flatten(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Every route with its full path; FastAPI ≥ 0.165 keeps included routers as wrappers."""
    out: list[tuple[str, Any]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out += _flatten(inner.routes, prefix + route.include_context.prefix)
        else:
            out.append((prefix + route.path, route))
    return out


def _app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path, route in _flatten(app.routes):
        if isinstance(route, Mount):
            assert path.startswith(PUBLIC_PREFIXES), f"unexpected mount {path}"
            continue
        assert isinstance(route, APIRoute | Route), route
        if path in PUBLIC_PATHS:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, path))
    assert len(found) >= 10, "route discovery found too little: the enumeration is broken"
    return found


def test_every_route_has_a_row_for_every_role(app: FastAPI) -> None:
    routes = _app_routes(app)
    missing = routes - set(MATRIX)
    assert not missing, f"routes without a permission row: {sorted(missing)}"
    stale = set(MATRIX) - routes
    assert not stale, f"permission rows for routes that no longer exist: {sorted(stale)}"
    for key, cases in MATRIX.items():
        for _, _, expected in cases:
            assert set(expected) == set(ROLES), f"{key}: no expectation for {set(ROLES) - set(expected)}"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
def test_matrix(
    key: tuple[str, str], world: World, headers: dict[str, dict[str, str]], client_module: TestClient
) -> None:
    method, _ = key
    for make_path, body, expected in MATRIX[key]:
        got = {}
        for role in ROLES:
            path = make_path(world, role)
            payload = body(world, role) if callable(body) else body
            r = client_module.request(method, path, headers=headers[role], json=payload)
            got[role] = r.status_code
        assert got == expected, f"{method} {make_path(world, 'admin')}"


def test_listings_are_filtered_by_scope(
    world: World, headers: dict[str, dict[str, str]], client_module: TestClient
) -> None:
    def cells(role: str) -> set[str]:
        r = client_module.get(f"/api/v1/cities/{world.city}/cells", headers=headers[role])
        return {f["id"] for f in r.json()["features"]}

    everything = cells(A)
    assert cells(CM) == everything == cells(PL) == cells(SL)  # city-wide metrics
    assert cells(AM) == {world.am_cell}
    assert world.gm_cell in cells(GM) and world.am_cell not in cells(GM)
    rh = cells(RH)
    assert world.outside_cell in rh and world.am_cell not in rh and len(rh) < len(everything)

    def metric_cells(role: str) -> set[str]:
        r = client_module.get(f"/api/v1/metrics?level=cell&city={world.city}", headers=headers[role])
        return {a["id"] for a in r.json()["areas"]}

    assert metric_cells(AM) == {world.am_cell}
    assert metric_cells(CM) == everything == metric_cells(PL)

    def map_cells(role: str) -> tuple[set[str], set[str]]:
        """The cells of the web map: the outlines and the table of figures."""
        shapes = client_module.get(
            f"/api/v1/metrics/shapes?level=cell&city={world.city}", headers=headers[role]
        )
        table = client_module.get(
            f"/api/v1/metrics?level=cell&city={world.city}&format=table", headers=headers[role]
        ).json()
        at = table["keys"].index("id")
        return set(shapes.json()["codes"]), {row[at] for row in table["rows"]}

    assert map_cells(AM) == ({world.am_cell}, {world.am_cell})
    assert map_cells(CM) == (everything, everything) == map_cells(PL)
    gm_shapes, gm_table = map_cells(GM)
    assert gm_shapes == gm_table == metric_cells(GM) and world.am_cell not in gm_shapes

    # the characteristic-grid picker: the whole city's for city-wide roles, otherwise those with a
    # member cell in scope (the cell cards say which grids a cell belongs to)
    def picker(role: str) -> dict[str, str]:
        r = client_module.get("/api/v1/feature-grids", headers=headers[role])
        assert r.status_code == 200
        return {f["code"]: f["city_code"] for f in r.json()["feature_grids"]}

    def member_of(cell: str) -> set[str]:
        card = client_module.get(f"/api/v1/cells/{cell}", headers=headers[A]).json()
        return {f["code"] for f in card["feature_grids"]}

    everything_fg = picker(A)
    in_city = {code for code, city in everything_fg.items() if city == world.city}
    assert world.other_city in everything_fg.values() and in_city
    assert set(picker(CM)) == in_city == set(picker(PL)) == set(picker(SL))
    assert set(picker(AM)) == member_of(world.am_cell)
    assert member_of(world.fg_cell) <= set(picker(A))
    other = client_module.get(f"/api/v1/metrics?level=cell&city={world.other_city}", headers=headers[CM])
    assert other.json()["areas"] == []

    def units(role: str, cell: str) -> int:
        r = client_module.get(f"/api/v1/cells/{cell}/units", headers=headers[role])
        assert r.status_code == 200
        return len(r.json()["units"])

    assert units(SL, world.fg_cell) == units(A, world.fg_cell) > 0
    assert units(SL, world.am_cell) == 0 < units(A, world.am_cell) == units(AM, world.am_cell)
    other = client_module.get("/api/v1/cities", headers=headers[AM]).json()["cities"]
    assert [c["code"] for c in other] == [world.city]


def test_my_area(world: World, headers: dict[str, dict[str, str]], client_module: TestClient) -> None:
    def area(role: str) -> dict[str, Any]:
        r = client_module.get("/api/v1/me/area", headers=headers[role])
        assert r.status_code == 200
        return dict(r.json())

    am = area(AM)
    assert am["cells"] == [world.am_cell] and am["cell_count"] == 1 and am["bbox"] is not None
    gm = area(GM)
    assert [g["code"] for g in gm["grids"]] == [world.gm_grid] and world.gm_cell in gm["cells"]
    sl = area(SL)
    assert [f["code"] for f in sl["feature_grids"]] == ["T-FG"] and sl["cells"] == [world.fg_cell]
    rh = area(RH)
    assert [d["code"] for d in rh["districts"]] == [world.district] and rh["cells"] == []
    assert [c["code"] for c in area(PL)["cities"]] == [world.city]
    assert area(A)["everything"] is True


def test_phones_masked_by_role_and_unmasked_lists_audited(
    world: World, headers: dict[str, dict[str, str]], client_module: TestClient, engine: Engine
) -> None:
    def phone(role: str) -> str:
        r = client_module.get(f"/api/v1/units/{world.am_unit}", headers=headers[role])
        assert r.status_code == 200
        return str(r.json()["contact_phone"])

    with engine.connect() as conn:
        real = conn.scalar(
            text(
                "SELECT r.contact_phone FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id "
                "AND r.valid_to IS NULL WHERE a.external_id = :e"
            ),
            {"e": world.am_unit},
        )
    assert len(real) == 11
    masked = real[:3] + "****" + real[-4:]
    assert phone(A) == real and phone(CM) == real and phone(AM) == real
    assert phone(PL) == masked
    with engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'phones.shown'"))
    r = client_module.get(f"/api/v1/cells/{world.am_cell}/units", headers=headers[AM])
    shown = sum(1 for u in r.json()["units"] if u["contact_phone"] and not u["phone_masked"])
    assert shown > 0
    client_module.get(f"/api/v1/cells/{world.am_cell}/units", headers=headers[PL])  # masked: no entry
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.username, l.rows FROM audit_log l JOIN app_user u ON u.id = l.user_id "
                "WHERE l.action = 'phones.shown' ORDER BY l.id DESC LIMIT 1"
            )
        ).one()
        after = conn.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'phones.shown'"))
    assert after == before + 1
    assert rows == ("m-account_manager", shown)


def test_assignment_ending_today_changes_scope_tomorrow(world: World, engine: Engine) -> None:
    today = dt.date(2026, 11, 22)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE assignment SET valid_to = :d "
                "WHERE staff_id = (SELECT id FROM staff WHERE code = 'T-AM')"
            ),
            {"d": today},
        )
        user = auth.get_user(conn, "m-account_manager")
        assert user is not None
        cell_id = conn.scalar(text("SELECT id FROM cell WHERE code = :c"), {"c": world.am_cell})
        assert cell_id in scope_for(conn, user, on=today).cells
        assert cell_id not in scope_for(conn, user, on=today + dt.timedelta(days=1)).cells
        conn.execute(
            text(
                "UPDATE assignment SET valid_to = NULL "
                "WHERE staff_id = (SELECT id FROM staff WHERE code = 'T-AM')"
            )
        )


def test_logout_for_every_role(
    world: World, client_module: TestClient, admin_credentials: tuple[str, str]
) -> None:
    for role in ROLES:
        if role == ANON:
            assert client_module.post("/api/v1/auth/logout").status_code == 401
            continue
        h = (
            bearer(client_module, *admin_credentials)
            if role == A
            else bearer(client_module, f"m-{role}", PASSWORD)
        )
        assert client_module.post("/api/v1/auth/logout", headers=h).status_code == 204
        assert client_module.get("/api/v1/auth/me", headers=h).status_code == 401


def test_admin_validation_errors_name_the_field(
    world: World, headers: dict[str, dict[str, str]], client_module: TestClient
) -> None:
    r = client_module.post(
        "/api/v1/admin/users", headers=headers[A], json={"username": "m-bad", "role": "account_manager"}
    )
    assert r.status_code == 422 and r.json()["field"] == "staff_code"
    r = client_module.post("/api/v1/admin/users", headers=headers[A], json={"username": "m-bad"})
    assert r.status_code == 422 and r.json()["field"] == "role"
    r = client_module.post(
        "/api/v1/admin/staff",
        headers=headers[CM],
        json={"code": "T-BAD", "name": "x", "org_unit_code": "NOPE"},
    )
    assert r.status_code in (404, 422)
    listed = client_module.get("/api/v1/admin/org-units", headers=headers[CM]).json()["org_units"]
    assert listed and {u["city_code"] for u in listed} == {world.city}
