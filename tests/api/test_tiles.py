"""Vector tiles: /tiles/{layer}/{z}/{x}/{y}.mvt decoded with a real MVT decoder (mapbox-vector-tile).

Expected contents are computed independently: the tile's bounds come from the XYZ formulas
(gridmarket.geo.tiles, tested on their own) and the units inside from plain SQL on
address_unit ⨝ current market_record.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

import h3

from gridmarket.geo.tiles import MERCATOR_HALF_WORLD, lonlat_to_tile, tile_bounds_3857, tile_bounds_wgs84
from gridmarket.grids import auth, tiles
from tests.helpers import bearer, tiny_app, unit

MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 128  # the documented buffer of the units and cells layers, in tile units
STATUSES = ("stock", "competing", "other_network", "potential", "vacant", "unknown")


def _decode(body: bytes) -> dict[str, Any]:
    return dict(mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}))


def _lonlat(mx: float, my: float) -> tuple[float, float]:
    lon = mx / MERCATOR_HALF_WORLD * 180.0
    lat = math.degrees(2.0 * math.atan(math.exp(my / 6378137.0)) - math.pi / 2.0)
    return lon, lat


def _buffered_wgs84(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    pad = (maxx - minx) * BUFFER / EXTENT
    w, s = _lonlat(minx - pad, miny - pad)
    e, n = _lonlat(maxx + pad, maxy + pad)
    return w, s, e, n


def _units_in(
    conn: Any, bounds: tuple[float, float, float, float], extra: str = "", **p: Any
) -> dict[int, str]:
    rows = conn.execute(
        text(
            "SELECT a.id, r.status FROM address_unit a "
            "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
            "WHERE a.retired_at IS NULL AND a.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)" + extra
        ),
        dict(zip("wsen", bounds, strict=True), **p),
    )
    return {int(i): s for i, s in rows}


@pytest.fixture(scope="module")
def dense(engine: Engine) -> tuple[float, float, int]:
    """A unit of the demo's busiest cell (lon, lat, cell id)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(a.geom), ST_Y(a.geom), a.cell_id FROM address_unit a "
                "WHERE a.cell_id = (SELECT cell_id FROM address_unit GROUP BY cell_id "
                "ORDER BY count(*) DESC, cell_id LIMIT 1) ORDER BY a.id LIMIT 1"
            )
        ).one()
    return float(row[0]), float(row[1]), int(row[2])


def test_street_zoom_tile_holds_every_unit_in_scope_with_its_status(
    client: TestClient, admin_headers: dict[str, str], engine: Engine, dense: tuple[float, float, int]
) -> None:
    lon, lat, _ = dense
    z = 16
    x, y = lonlat_to_tile(lon, lat, z)
    r = client.get(f"/tiles/units/{z}/{x}/{y}.mvt", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT
    layers = _decode(r.content)
    assert set(layers) == {"units"}
    feats = layers["units"]["features"]
    with engine.connect() as conn:
        inside = _units_in(conn, tile_bounds_wgs84(z, x, y))
        buffered = _units_in(conn, _buffered_wgs84(z, x, y))
        where = {
            int(i): (e, b, f, rm)
            for i, e, b, f, rm in conn.execute(
                text(
                    "SELECT a.id, a.external_id, b.code, a.floor, a.room FROM address_unit a "
                    "LEFT JOIN building b ON b.id = a.building_id WHERE a.id = ANY(:i)"
                ),
                {"i": list(buffered)},
            )
        }
    assert len(inside) >= 2
    got = {int(f["id"]): f["properties"] for f in feats}
    assert len(got) == len(feats)  # one point per unit
    assert set(got) == set(buffered)  # the units of the tile and of its buffer, nothing else
    assert set(inside) <= set(got)
    for uid, props in got.items():
        assert props["status"] == buffered[uid]
        ext, building, floor, room = where[uid]
        assert props["external_id"] == ext
        # the building code, floor and room where the unit has them (MVT leaves out null values)
        assert (props.get("building"), props.get("floor"), props.get("room")) == (building, floor, room)
    assert any(p.get("building") for p in got.values())
    for f in feats:
        assert f["geometry"]["type"] == "Point"
        if int(f["id"]) in inside:  # inside the tile's square (up to rounding)
            px, py = f["geometry"]["coordinates"]
            assert -1 <= px <= EXTENT + 1 and -1 <= py <= EXTENT + 1


def _inside(feature: dict[str, Any]) -> bool:
    """The feature's point lies in the tile's own square (not in the buffer of a neighbour)."""
    px, py = feature["geometry"]["coordinates"]
    return 0 <= px < EXTENT and 0 <= py < EXTENT


def test_h3_zoom_is_aggregated_per_hexagon_and_counts_add_up(
    client: TestClient, admin_headers: dict[str, str], engine: Engine, dense: tuple[float, float, int]
) -> None:
    lon, lat, _ = dense
    z = 14  # H3 resolution 10 (z - 4); per cell up to z 13
    x, y = lonlat_to_tile(lon, lat, z)
    r = client.get(f"/tiles/units/{z}/{x}/{y}.mvt", headers=admin_headers)
    assert r.status_code == 200
    layers = _decode(r.content)
    assert set(layers) == {"units_agg"}  # never the point layer
    feats = layers["units_agg"]["features"]
    w, s, e, n = tile_bounds_wgs84(z, x, y)
    with engine.connect() as conn:
        inside = _units_in(conn, (w, s, e, n))
        rows = conn.execute(
            text(
                "SELECT a.h3_12, ST_X(a.geom), ST_Y(a.geom), r.status FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE a.retired_at IS NULL AND a.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
            ),
            {"w": w - 0.02, "s": s - 0.02, "e": e + 0.02, "n": n + 0.02},
        ).all()
    # by hand: every hexagon (resolution 10) whose units' mean position lies in the tile
    groups: dict[str, list[tuple[float, float, str]]] = {}
    for h, ux, uy, status in rows:
        groups.setdefault(h3.cell_to_parent(h3.int_to_str(h), 10), []).append((ux, uy, status))
    expected = {}
    for hexagon, members in groups.items():
        mx = sum(m[0] for m in members) / len(members)
        my = sum(m[1] for m in members) / len(members)
        if w <= mx < e and s < my <= n:
            expected[hexagon] = [m[2] for m in members]
    assert len(inside) > 30
    got = {f["properties"]["h3"]: f["properties"] for f in feats if _inside(f)}
    assert 0 < len(got) < len(inside) / 2  # aggregates, not a point per unit
    assert set(got) == set(expected)
    for hexagon, statuses in expected.items():
        p = got[hexagon]
        assert p["units"] == len(statuses) and p["resolution"] == 10
        for st in STATUSES:
            assert p[f"n_{st}"] == statuses.count(st)
        assert statuses.count(p["status"]) == max(statuses.count(st) for st in STATUSES)  # the most frequent
    # the buffer holds the neighbours' hexagons near the edges, whole
    for f in feats:
        if not _inside(f):
            assert f["properties"]["h3"] not in expected


def test_city_zoom_is_aggregated_per_cell(
    client: TestClient, admin_headers: dict[str, str], engine: Engine, dense: tuple[float, float, int]
) -> None:
    lon, lat, _ = dense
    z = 11
    x, y = lonlat_to_tile(lon, lat, z)
    r = client.get(f"/tiles/units/{z}/{x}/{y}.mvt", headers=admin_headers)
    assert r.status_code == 200
    layers = _decode(r.content)
    assert set(layers) == {"units_agg"}
    feats = {f["properties"]["cell"]: f["properties"] for f in layers["units_agg"]["features"] if _inside(f)}
    with engine.connect() as conn:
        # the units of the cells whose representative point lies in the tile, by status
        rows = conn.execute(
            text(
                "SELECT c.code, r.status, count(*) FROM cell c "
                "JOIN address_unit a ON a.cell_id = c.id AND a.retired_at IS NULL "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE ST_PointOnSurface(c.geom) && ST_MakeEnvelope(:w, :s, :e, :n, 4326) "
                "GROUP BY c.code, r.status"
            ),
            dict(zip("wsen", tile_bounds_wgs84(z, x, y), strict=True)),
        ).all()
    expected: dict[str, dict[str, int]] = {}
    for code, status, n in rows:
        expected.setdefault(code, {})[status] = n
    assert len(expected) >= 3
    assert set(feats) == set(expected)
    for code, counts in expected.items():
        p = feats[code]
        assert p["units"] == sum(counts.values())
        for s in STATUSES:
            assert p[f"n_{s}"] == counts.get(s, 0)
        assert counts[p["status"]] == max(counts.values())


@pytest.fixture(scope="module")
def am_login(engine: Engine, dense: tuple[float, float, int]) -> tuple[str, str]:
    """An account manager (this module's own) assigned the busiest cell."""
    _, _, cell_id = dense
    with engine.begin() as conn:
        city_id = conn.scalar(text("SELECT city_id FROM cell WHERE id = :c"), {"c": cell_id})
        staff = conn.scalar(
            text(
                "INSERT INTO staff (code, name, city_id) "
                "VALUES ('T-TILES-AM', '瓦片客户经理', :c) RETURNING id"
            ),
            {"c": city_id},
        )
        conn.execute(
            text("INSERT INTO assignment (staff_id, kind, cell_id, valid_from) VALUES (:s, 'cell', :c, :f)"),
            {"s": staff, "c": cell_id, "f": dt.date(2026, 1, 1)},
        )
        auth.add_user(conn, "tiles-am", "account_manager", "tiles-password-1", staff_code="T-TILES-AM")
    return "tiles-am", "tiles-password-1"


def test_account_manager_sees_only_the_units_of_their_cell(
    client: TestClient, engine: Engine, dense: tuple[float, float, int], am_login: tuple[str, str]
) -> None:
    _, _, cell_id = dense
    headers = bearer(client, *am_login)
    with engine.connect() as conn:
        # the unit of the cell nearest to a unit of another cell
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(a.geom), ST_Y(a.geom) FROM address_unit a WHERE a.cell_id = :c "
                "ORDER BY (SELECT min(ST_Distance(a.geom, b.geom)) FROM address_unit b "
                "WHERE b.cell_id <> :c AND ST_DWithin(a.geom, b.geom, 0.01)) NULLS LAST, a.id LIMIT 1"
            ),
            {"c": cell_id},
        ).one()
        # a street-zoom tile with units of the cell and of other cells
        for z in (15, 16, 17):
            x, y = lonlat_to_tile(lon, lat, z)
            every = _units_in(conn, _buffered_wgs84(z, x, y))
            mine = _units_in(conn, _buffered_wgs84(z, x, y), " AND a.cell_id = :c", c=cell_id)
            if mine and len(every) > len(mine):
                break
        else:
            pytest.fail("no tile with units of the cell and of others")
    r = client.get(f"/tiles/units/{z}/{x}/{y}.mvt", headers=headers)
    assert r.status_code == 200
    got = {int(f["id"]) for f in _decode(r.content)["units"]["features"]}
    assert got == set(mine)
    # the cells layer: their cell only
    r = client.get(f"/tiles/cells/{z}/{x}/{y}.mvt", headers=headers)
    assert r.status_code == 200
    with engine.connect() as conn:
        code = conn.scalar(text("SELECT code FROM cell WHERE id = :c"), {"c": cell_id})
    cells = _decode(r.content)["cells"]["features"]
    assert [c["properties"]["code"] for c in cells] == [code]
    # city zoom: their cell's aggregate only (all of its units)
    x11, y11 = lonlat_to_tile(lon, lat, 11)
    r = client.get(f"/tiles/units/11/{x11}/{y11}.mvt", headers=headers)
    if r.status_code == 200:  # 204 when the cell's representative point is in a neighbouring tile
        (agg,) = _decode(r.content)["units_agg"]["features"]
        with engine.connect() as conn:
            n = conn.scalar(
                text("SELECT count(*) FROM address_unit WHERE cell_id = :c AND retired_at IS NULL"),
                {"c": cell_id},
            )
        assert agg["properties"]["cell"] == code and agg["properties"]["units"] == n
    else:
        assert r.status_code == 204
    # a tile far from their cell: nothing (204, no body)
    far = client.get("/tiles/units/16/0/0.mvt", headers=headers)
    assert far.status_code == 204 and far.content == b""


def test_cells_layer_has_codes_and_metrics(
    client: TestClient, admin_headers: dict[str, str], engine: Engine, dense: tuple[float, float, int]
) -> None:
    lon, lat, cell_id = dense
    x, y = lonlat_to_tile(lon, lat, 14)
    r = client.get(f"/tiles/cells/14/{x}/{y}.mvt", headers=admin_headers)
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    feats = {f["properties"]["code"]: f for f in _decode(r.content)["cells"]["features"]}
    with engine.connect() as conn:
        code = conn.scalar(text("SELECT code FROM cell WHERE id = :c"), {"c": cell_id})
        counts: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT r.status, count(*) FROM address_unit a JOIN market_record r "
                    "ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                    "WHERE a.cell_id = :c AND a.retired_at IS NULL GROUP BY r.status"
                ),
                {"c": cell_id},
            ).all()
        )
    f = feats[code]
    assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    p = f["properties"]
    assert p["units"] == sum(counts.values())
    for s in STATUSES:
        assert p[f"n_{s}"] == counts.get(s, 0)
    demand = sum(counts.get(s, 0) for s in ("stock", "competing", "other_network", "potential"))
    own = counts.get("stock", 0) + counts.get("competing", 0)
    if demand:
        assert p["penetration"] == pytest.approx(own / demand)
    else:
        assert "penetration" not in p  # null: no data


def test_anonymous_and_bad_tiles(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.get("/tiles/units/16/0/0.mvt").status_code == 401
    assert client.get("/tiles/cells/16/0/0.mvt").status_code == 401
    for path in (
        "/tiles/units/3/8/0.mvt",  # x beyond 2^3 - 1
        "/tiles/units/3/0/8.mvt",
        "/tiles/units/23/0/0.mvt",  # beyond zoom 22
        "/tiles/units/-1/0/0.mvt",
        "/tiles/roads/3/0/0.mvt",  # no such layer
    ):
        r = client.get(path, headers=admin_headers)
        assert r.status_code == 404, path
        assert r.json()["detail"]
    r = client.get("/tiles/units/a/0/0.mvt", headers=admin_headers)
    assert r.status_code == 422 and r.json()["field"] == "z"
    assert client.get("/tiles/units/3/1.5/0.mvt", headers=admin_headers).status_code == 422


def test_session_cookie_is_accepted(
    client: TestClient, admin_credentials: tuple[str, str], dense: Any
) -> None:
    lon, lat, _ = dense
    x, y = lonlat_to_tile(lon, lat, 16)
    with TestClient(client.app) as c:
        login = c.post(
            "/api/v1/auth/login", json={"username": admin_credentials[0], "password": admin_credentials[1]}
        )
        assert login.status_code == 200, login.text
        r = c.get(f"/tiles/units/16/{x}/{y}.mvt")  # no Authorization header: the cookie only
    assert r.status_code == 200 and _decode(r.content)["units"]["features"]


# -- freshness: ETag, 304, and an edit ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(new_database: Callable[[str], Engine]) -> Iterator[tuple[TestClient, Engine, dict[str, str]]]:
    """A private database: the tiny territory, three units in cell A, an admin; its own app."""
    eng = new_database("tiles")
    rows = [unit("T1", 120.0051, 30.0051, "stock"), unit("T2", 120.0052, 30.0052, "potential")]
    rows.append(unit("T3", 120.0053, 30.0049, "unknown"))
    with tiny_app(eng, rows, "tiny-admin-password") as (c, headers):
        yield c, eng, headers


def _statuses(body: bytes) -> dict[str, str]:
    return {
        f["properties"]["external_id"]: f["properties"]["status"] for f in _decode(body)["units"]["features"]
    }


def _revalidated(c: TestClient, path: str, headers: dict[str, str]) -> tuple[str, Any]:
    """Fetch a tile, then revalidate it with its ETag: (ETag, the revalidation's response)."""
    etag = c.get(path, headers=headers).headers["etag"]
    return etag, c.get(path, headers={**headers, "If-None-Match": etag})


def test_etag_304_and_an_edit_changes_etag_and_tile(tiny: tuple[TestClient, Engine, dict[str, str]]) -> None:
    c, eng, headers = tiny
    x, y = lonlat_to_tile(120.0052, 30.0051, 17)
    path = f"/tiles/units/17/{x}/{y}.mvt"
    first = c.get(path, headers=headers)
    assert first.status_code == 200
    assert _statuses(first.content) == {"T1": "stock", "T2": "potential", "T3": "unknown"}
    assert first.headers["cache-control"] == "private, no-cache"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    etag, again = _revalidated(c, path, headers)
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert c.get(path, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    # the cells tile of the same place has its own ETag
    cells = c.get(f"/tiles/cells/17/{x}/{y}.mvt", headers=headers)
    assert cells.status_code == 200 and cells.headers["etag"] != etag
    # an edit: a new version of T2's record (the old one closed), written by plain SQL
    with eng.begin() as conn:
        conn.execute(
            text(
                "UPDATE market_record SET valid_to = now() WHERE valid_to IS NULL "
                "AND address_unit_id = (SELECT id FROM address_unit WHERE external_id = 'T2')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO market_record (address_unit_id, city_id, version, status, source, valid_from) "
                "SELECT a.id, a.city_id, 2, 'stock', 'api', now() FROM address_unit a "
                "WHERE a.external_id = 'T2'"
            )
        )
    after = c.get(path, headers={**headers, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert _statuses(after.content) == {"T1": "stock", "T2": "stock", "T3": "unknown"}
    # the cells layer's counts follow too
    cells_after = c.get(
        f"/tiles/cells/17/{x}/{y}.mvt", headers={**headers, "If-None-Match": cells.headers["etag"]}
    )
    assert cells_after.status_code == 200
    (a,) = [
        f["properties"]
        for f in _decode(cells_after.content)["cells"]["features"]
        if f["properties"]["code"] == "A"
    ]
    assert (a["units"], a["n_stock"], a["n_potential"], a["n_unknown"]) == (3, 2, 0, 1)
    assert a["penetration"] == pytest.approx(1.0)  # 2 stock of 2 in demand


def test_an_edit_feeding_no_metric_changes_the_etag_too(
    tiny: tuple[TestClient, Engine, dict[str, str]],
) -> None:
    c, eng, headers = tiny
    x, y = lonlat_to_tile(120.0052, 30.0051, 17)
    path = f"/tiles/units/17/{x}/{y}.mvt"
    first = c.get(path, headers=headers)
    assert first.status_code == 200
    etag, again = _revalidated(c, path, headers)
    assert again.status_code == 304
    with eng.begin() as conn:  # the room only: no metric changes
        conn.execute(text("UPDATE address_unit SET room = '808室' WHERE external_id = 'T3'"))
    after = c.get(path, headers={**headers, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    rooms = {
        f["properties"]["external_id"]: f["properties"].get("room")
        for f in _decode(after.content)["units"]["features"]
    }
    assert rooms["T3"] == "808室"
    # the ETag is the tile's content: a city manager reading the same units gets the same ETag
    with eng.begin() as conn:
        auth.add_user(conn, "tiny-cm", "city_manager", "tiny-cm-password", region_code="C")
    cm = bearer(c, "tiny-cm", "tiny-cm-password")
    etag = after.headers["etag"]
    theirs = c.get(path, headers=cm)
    assert theirs.status_code == 200 and theirs.headers["etag"] == etag
    assert c.get(path, headers={**cm, "If-None-Match": etag}).status_code == 304


# -- every tile is authorised afresh: no cached login or scope outlives a change ---------------
def _tiny_tile() -> str:
    x, y = lonlat_to_tile(120.0052, 30.0051, 17)
    return f"/tiles/units/17/{x}/{y}.mvt"


def test_logout_expiry_and_a_disabled_login_refuse_the_very_next_tile(
    tiny: tuple[TestClient, Engine, dict[str, str]],
) -> None:
    c, eng, _ = tiny
    path = _tiny_tile()
    with eng.begin() as conn:
        auth.add_user(conn, "tiny-gone", "city_manager", "tiny-gone-password", region_code="C")
    # a bearer token, logged out
    h = bearer(c, "tiny-gone", "tiny-gone-password")
    assert c.get(path, headers=h).status_code == 200
    assert c.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert c.get(path, headers=h).status_code == 401
    # a bearer token whose session expires (by plain SQL, behind the app's back)
    h = bearer(c, "tiny-gone", "tiny-gone-password")
    assert c.get(path, headers=h).status_code == 200
    token_hash = auth._digest(h["Authorization"].removeprefix("Bearer "))
    with eng.begin() as conn:
        conn.execute(
            text("UPDATE auth_session SET expires_at = now() - interval '1 second' WHERE token_hash = :h"),
            {"h": token_hash},
        )
    assert c.get(path, headers=h).status_code == 401
    # the session cookie, logged out (the cookie only: no Authorization header)
    login = c.post("/api/v1/auth/login", json={"username": "tiny-gone", "password": "tiny-gone-password"})
    assert login.status_code == 200
    try:
        assert c.get(path).status_code == 200
        out = c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]})
        assert out.status_code == 204
        c.cookies.set("gm_session", login.cookies["gm_session"])  # a client keeping the old cookie
        assert c.get(path).status_code == 401
    finally:
        c.cookies.clear()
    # the login disabled: only the flag, its sessions left open (the tile checks the user too)
    h = bearer(c, "tiny-gone", "tiny-gone-password")
    assert c.get(path, headers=h).status_code == 200
    with eng.begin() as conn:
        conn.execute(text("UPDATE app_user SET disabled = true WHERE username = 'tiny-gone'"))
    assert c.get(path, headers=h).status_code == 401


def test_an_ended_assignment_empties_the_very_next_tile(
    tiny: tuple[TestClient, Engine, dict[str, str]],
) -> None:
    c, eng, _ = tiny
    path = _tiny_tile()
    day = dt.datetime.now(ZoneInfo(c.app.state.settings.timezone)).date()  # type: ignore[attr-defined]
    with eng.begin() as conn:
        staff = conn.scalar(
            text("INSERT INTO staff (code, name, city_id) VALUES ('T-TINY-AM', '客户经理', 2) RETURNING id")
        )
        assignment = conn.scalar(
            text(
                "INSERT INTO assignment (staff_id, kind, cell_id, valid_from) "
                "SELECT :s, 'cell', id, :f FROM cell WHERE code = 'A' RETURNING id"
            ),
            {"s": staff, "f": dt.date(2026, 1, 1)},
        )
        auth.add_user(conn, "tiny-am", "account_manager", "tiny-am-password", staff_code="T-TINY-AM")
    h = bearer(c, "tiny-am", "tiny-am-password")
    r = c.get(path, headers=h)
    assert r.status_code == 200 and set(_statuses(r.content)) == {"T1", "T2", "T3"}  # cell A's units
    # the assignment ended yesterday: today it no longer counts
    with eng.begin() as conn:
        conn.execute(
            text("UPDATE assignment SET valid_to = :d WHERE id = :a"),
            {"d": day - dt.timedelta(days=1), "a": assignment},
        )
    r = c.get(path, headers=h)
    assert r.status_code == 204 and r.content == b""
    # a new assignment from today counts at once
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO assignment (staff_id, kind, cell_id, valid_from) "
                "SELECT :s, 'cell', id, :f FROM cell WHERE code = 'A'"
            ),
            {"s": staff, "f": day},
        )
    assert c.get(path, headers=h).status_code == 200


def _tile_backends(eng: Engine) -> int:
    with eng.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :a AND datname = current_database()"
                ),
                {"a": tiles.TILE_APPLICATION},
            )
            or 0
        )


def _until(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_tile_connections_killed_under_the_app_are_replaced(
    tiny: tuple[TestClient, Engine, dict[str, str]],
) -> None:
    c, eng, headers = tiny
    path = _tiny_tile()
    assert c.get(path, headers=headers).status_code == 200
    assert _tile_backends(eng) >= 1
    with eng.connect() as conn:  # as a server restart would
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :a AND datname = current_database()"
            ),
            {"a": tiles.TILE_APPLICATION},
        )
    assert _until(lambda: _tile_backends(eng) == 0)
    r = c.get(path, headers=headers)  # the dead connection fails, the retry gets a new one
    assert r.status_code == 200 and set(_statuses(r.content)) == {"T1", "T2", "T3"}


def test_tile_engine_connections_have_the_tile_settings_and_go_with_their_engine(engine: Engine) -> None:
    main = create_engine(engine.url)
    side = tiles.tile_engine(main, 2)
    with side.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        assert conn.execute(text("SHOW application_name")).scalar() == tiles.TILE_APPLICATION
        raw = conn.connection.driver_connection
        assert raw is not None and raw.autocommit  # no BEGIN / COMMIT round trips
    assert _tile_backends(engine) >= 1  # kept in the pool
    main.dispose()
    assert _until(lambda: _tile_backends(engine) == 0)


def test_tile_statements_are_planned_for_each_tile_never_prepared(
    engine: Engine, dense: tuple[float, float, int]
) -> None:
    """psycopg prepares a statement run 5 times on a connection (then PostgreSQL may plan it once
    for any bounds); a tile statement must stay unprepared however often it runs, while the
    connection's other statements are still prepared as usual."""
    from gridmarket.grids.scope import system_scope

    lon, lat, _ = dense
    main = create_engine(engine.url)
    side = tiles.tile_engine(main, 1)
    try:
        with side.connect() as conn:
            x, y = lonlat_to_tile(lon, lat, 16)
            for _ in range(8):
                assert tiles.tile(conn, system_scope(), "units", 16, x, y, planner_settings=False)
            for _ in range(7):
                conn.execute(text("SELECT count(*) FROM region WHERE id = :i"), {"i": 1})
            names = [s for (s,) in conn.execute(text("SELECT statement FROM pg_prepared_statements"))]
        assert any("FROM region" in s for s in names)  # psycopg's preparing is on
        assert not [s for s in names if "ST_AsMVT" in s]
    finally:
        main.dispose()
