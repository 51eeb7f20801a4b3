"""Answers of 1 KB or more are gzip-compressed for clients that accept gzip (setting gzip_level).

The compressed bytes are read raw off the wire (``iter_raw``) and decompressed here with the
standard library, then compared with the same request's answer without compression.
"""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.api import compression
from gridmarket.api.app import create_app
from gridmarket.api.compression import GZIP_MINIMUM_SIZE
from gridmarket.geo.tiles import lonlat_to_tile
from gridmarket.grids.settings import Settings
from tests.helpers import bearer

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def _raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body as sent (still compressed when it was)."""
    with client.stream("GET", path, headers=headers) as r:
        return r.status_code, dict(r.headers), b"".join(r.iter_raw())


def _main_city(client: TestClient, headers: dict[str, str]) -> str:
    cities = client.get("/api/v1/cities", headers=headers).json()["cities"]
    return str(max(cities, key=lambda c: c["units"])["code"])


def test_large_json_is_compressed_for_clients_that_accept_gzip(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    path = f"/api/v1/metrics?level=cell&city={_main_city(client, admin_headers)}"
    status, plain_headers, plain = _raw(client, path, {**admin_headers, **IDENTITY})
    assert status == 200 and "content-encoding" not in plain_headers
    assert len(plain) > 20 * GZIP_MINIMUM_SIZE
    status, headers, packed = _raw(client, path, {**admin_headers, **GZIP})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(packed) < len(plain) / 4
    assert json.loads(gzip.decompress(packed)) == json.loads(plain)


def test_tiles_are_compressed_and_still_revalidate(
    client: TestClient, admin_headers: dict[str, str], engine: Engine
) -> None:
    with engine.connect() as conn:  # a unit of the busiest cell: its z 16 tile holds many
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM address_unit WHERE cell_id = (SELECT cell_id "
                "FROM address_unit GROUP BY cell_id ORDER BY count(*) DESC LIMIT 1) LIMIT 1"
            )
        ).one()
    x, y = lonlat_to_tile(lon, lat, 16)
    path = f"/tiles/units/16/{x}/{y}.mvt"
    _, plain_headers, plain = _raw(client, path, {**admin_headers, **IDENTITY})
    assert len(plain) >= GZIP_MINIMUM_SIZE and "content-encoding" not in plain_headers
    status, headers, packed = _raw(client, path, {**admin_headers, **GZIP})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert gzip.decompress(packed) == plain
    # the same validator, weak on the encoded bytes (a strong tag names one byte sequence)
    assert plain_headers["etag"].startswith('"')
    assert headers["etag"] == "W/" + plain_headers["etag"]
    for tag in (headers["etag"], plain_headers["etag"]):
        again = client.get(path, headers={**admin_headers, **GZIP, "If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""


def test_small_answers_and_static_files(client: TestClient, admin_headers: dict[str, str]) -> None:
    status, headers, body = _raw(client, "/api/v1/auth/me", {**admin_headers, **GZIP})
    assert status == 200 and len(body) < GZIP_MINIMUM_SIZE
    assert "content-encoding" not in headers  # too small to be worth it
    status, headers, packed = _raw(client, "/static/app/app.js", GZIP)
    assert status == 200 and headers["content-encoding"] == "gzip"
    status, _, plain = _raw(client, "/static/app/app.js", IDENTITY)
    assert gzip.decompress(packed) == plain and len(packed) < len(plain) / 3


def test_gzip_level_0_never_compresses(settings: Settings, admin_credentials: tuple[str, str]) -> None:
    off = settings.model_copy(update={"gzip_level": 0})
    with TestClient(create_app(off)) as c:
        headers = bearer(c, *admin_credentials)
        status, got, body = _raw(
            c, f"/api/v1/metrics?level=cell&city={_main_city(c, headers)}", {**headers, **GZIP}
        )
    assert status == 200 and "content-encoding" not in got
    assert json.loads(body)["areas"]


def test_spreadsheets_go_as_they_are(
    client: TestClient, admin_headers: dict[str, str], engine: Engine
) -> None:
    with engine.connect() as conn:  # the building with most units: its roster is well over 1 KB
        code, city = conn.execute(
            text(
                "SELECT b.code, r.code FROM building b JOIN region r ON r.id = b.city_id "
                "JOIN address_unit a ON a.building_id = b.id GROUP BY b.code, r.code "
                "ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    status, headers, body = _raw(
        client, f"/api/v1/buildings/{code}/roster.xlsx?city={city}", {**admin_headers, **GZIP}
    )
    assert status == 200 and len(body) > GZIP_MINIMUM_SIZE
    assert headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "content-encoding" not in headers  # a zip file already
    assert body[:2] == b"PK"


def test_large_answers_are_compressed_once_per_content(
    client: TestClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compression, "CACHE_MINIMUM_SIZE", 4096)  # the small demo's maps
    cache: compression.GzipCache = client.app.state.gzip_cache  # type: ignore[attr-defined]
    path = f"/api/v1/metrics?level=cell&city={_main_city(client, admin_headers)}"
    _, _, plain = _raw(client, path, {**admin_headers, **IDENTITY})
    assert len(plain) >= 4096
    before = (cache.misses, cache.hits)
    _, first_headers, first = _raw(client, path, {**admin_headers, **GZIP})
    _, headers, again = _raw(client, path, {**admin_headers, **GZIP})
    assert (cache.misses, cache.hits) == (before[0] + 1, before[1] + 1)  # compressed once, then reused
    assert again == first and gzip.decompress(first) == plain
    for h in (first_headers, headers):
        assert h["content-encoding"] == "gzip" and int(h["content-length"]) == len(first)
        assert "accept-encoding" in h["vary"].lower()
    # other bytes (the same cells as a table) are other content: compressed for themselves
    _, _, table = _raw(client, path + "&format=table", {**admin_headers, **GZIP})
    assert (cache.misses, cache.hits) == (before[0] + 2, before[1] + 1)
    assert json.loads(gzip.decompress(table))["keys"]
    # a client that does not accept gzip gets the plain bytes, and the cache is not asked
    _, plain_headers, plain_again = _raw(client, path, {**admin_headers, **IDENTITY})
    assert plain_again == plain and "content-encoding" not in plain_headers
    assert (cache.misses, cache.hits) == (before[0] + 2, before[1] + 1)
