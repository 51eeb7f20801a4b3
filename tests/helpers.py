"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.grids.settings import Settings


def bearer(client: TestClient, username: str, password: str) -> dict[str, str]:
    """Log in with the password form and return the Authorization header."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    """WKT of the axis-aligned rectangle [x0, x1] × [y0, y1] as a MultiPolygon."""
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def unit(ext: str, lon: float, lat: float, status: str | None, **kw: object) -> tuple[object, ...]:
    """A row for grids.units.load_units: the given fields, every other column empty."""
    from gridmarket.grids.units import UNIT_COLUMNS

    values: dict[str, object] = {c: None for c in UNIT_COLUMNS}
    values.update(external_id=ext, address=f"测试路{ext}号", lon=lon, lat=lat, status=status)
    values.update(kw)
    return tuple(values[c] for c in UNIT_COLUMNS)


def make_tiny_territory(eng: Engine) -> Engine:
    """The tiny hand-made territory of the metric and import tests.

    District D = [120.00, 120.02] × [30.00, 30.02] in city C; drawn cell A = [120.00, 120.01] ×
    [30.00, 30.02] (2.1 km² as stored), drawn cell B = [120.01, 120.02] × [30.00, 30.01] (1.0 km²);
    the north-east quarter of D is covered by no drawn cell.
    """
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO region (id, code, name, level) VALUES (1, 'P', '测试省', 'province')"))
        conn.execute(
            text(
                "INSERT INTO region (id, code, name, level, parent_id, city_id, geom) VALUES "
                "(2, 'C', '测试市', 'city', 1, 2, ST_GeomFromText(:c, 4326)),"
                "(3, 'D', '测试区', 'district', 2, 2, ST_GeomFromText(:d, 4326))"
            ),
            {"c": box(119.9, 29.9, 120.1, 30.1), "d": box(120.0, 30.0, 120.02, 30.02)},
        )
        conn.execute(
            text("INSERT INTO grid (id, code, name, city_id, district_id) VALUES (1, 'G', '网格', 2, 3)")
        )
        conn.execute(
            text(
                "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, geom, area_km2) VALUES "
                "('A', '单元A', 2, 3, 1, 'drawn', ST_GeomFromText(:a, 4326), 2.1),"
                "('B', '单元B', 2, 3, 1, 'drawn', ST_GeomFromText(:b, 4326), 1.0)"
            ),
            {"a": box(120.0, 30.0, 120.01, 30.02), "b": box(120.01, 30.0, 120.02, 30.01)},
        )
        conn.execute(text("SELECT setval('region_id_seq', 10), setval('grid_id_seq', 10)"))
    return eng


@contextmanager
def tiny_app(
    eng: Engine, rows: list[tuple[object, ...]], password: str
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The tiny territory on ``eng`` with ``rows`` loaded (valid from 2026-01-01), the first admin
    with ``password``, and an app on it: its client and the admin's Authorization header."""
    import datetime as dt

    from gridmarket.api.app import create_app
    from gridmarket.grids import auth
    from gridmarket.grids.units import load_units

    make_tiny_territory(eng)
    with eng.begin() as conn:
        load_units(conn, rows, source="import", valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        auth.ensure_first_admin(conn, password)
    settings = Settings(database_url=eng.url.render_as_string(hide_password=False), admin_password=None)
    with TestClient(create_app(settings)) as client:
        yield client, bearer(client, "admin", password)


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Run the app with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    from gridmarket.api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
