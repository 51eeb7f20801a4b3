"""Vector tiles benchmark (issue 6 part 9): a report, not a test.

    .venv/bin/python -m bench.tiles [--units 1000000] [--rebuild] [--passes 5] [--clients 1,16]
                                    [--no-tipg]

One run measures, over one fixed tile list of the main city (the city with most units):

* **endpoint** — ``GET /tiles/units/{z}/{x}/{y}.mvt`` of a ``gridmarket serve`` subprocess
  (one uvicorn process, bearer token of the admin ``bench-admin``; no ``If-None-Match``, so
  every request builds its tile);
* **raw** — the very SQL statement of each tile (``grids.tiles.tile_sql`` with the admin's
  scope) run through psycopg, one connection per client, with the tile statements' planner
  settings, unprepared, and the result in binary format (as the endpoint runs it: the bytea as is, not
  hex-encoded by the server);
* **endpoint, gzip** (street-zoom tiles, for information: no goal) — the endpoint asked with
  ``Accept-Encoding: gzip``, as a browser asks (setting ``gzip_level``, default 1): its latency
  and the share of the bytes sent;
* **tipg** — tipg (PyPI, pinned in ``bench/requirements-tipg.txt``, installed by this bench in
  its own venv ``.data/bench-tipg-venv`` because it pins other FastAPI/pydantic versions than
  ours) serving ``bench_tipg.units``, a view of the same rows (units not retired ⨝ their current
  record: id, external_id, status, floor, room, geom), as
  ``/collections/bench_tipg.units/tiles/WebMercatorQuad/{z}/{x}/{y}`` with the same buffer
  (128) and no feature cap. tipg has no aggregation, so it is compared on the street-zoom tiles.

The tile list: the densest z 14 tile of the main city → its 16 z 16 tiles and the 16 z 17 tiles
of its densest z 15 quarter (street zoom: one point per unit), plus aggregated tiles (the z 12
parent and its four z 13 children: per cell from the metric aggregates; the z 14 tile and its
three siblings: per H3 cell from the unit rows). Each group is requested ``--passes`` times
(rounded up to whole rounds, at least 3) round-robin by 1 and by 16 concurrent clients (threads;
HTTP clients with keep-alive, the standard library's, light on CPU), the targets taking turns
round by round (:func:`interleaved`: other work on the shared machine then weighs on each alike);
latency p50/p95 and tiles per second. The
endpoint's bytes are checked equal to the raw statement's for every tile, and tipg's feature
counts are shown next to ours.

Goals: endpoint p50 and p95 ≤ 1.15 × raw + 3 ms; endpoint throughput ≥ tipg's, at 1 and 16 clients.
Writes ``bench/reports/tiles-<date>.txt``.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.common import ROOT, Report, bench_database, free_port, p50, percentile, wait_until_serving
from bench.metrics import admin_token, libpq_url, main_city, mark, start_server
from gridmarket.grids import metrics, tiles
from gridmarket.grids.scope import system_scope

TIPG_VENV = ROOT / ".data" / "bench-tipg-venv"
TIPG_REQUIREMENTS = ROOT / "bench" / "requirements-tipg.txt"
TIPG_COLLECTION = "bench_tipg.units"
TIPG_VIEW = """
CREATE SCHEMA IF NOT EXISTS bench_tipg;
CREATE OR REPLACE VIEW bench_tipg.units AS
SELECT a.id, a.external_id, r.status, a.floor, a.room, a.geom
FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
WHERE a.retired_at IS NULL
"""
MIN_ROUNDS = 3
GOAL_FACTOR = 1.15
GOAL_SLACK_MS = 3.0
POINT_ZOOM = 15  # the default setting tiles_point_zoom: the bench's server runs with it

Tile = tuple[int, int, int]


# -- the tile list -----------------------------------------------------------------------------
_DENSEST = """
SELECT floor((ST_X(p) + h) / (2 * h) * (1 << :z))::int AS x,
       floor((h - ST_Y(p)) / (2 * h) * (1 << :z))::int AS y, count(*) AS n
FROM (SELECT ST_Transform(a.geom, 3857) AS p, 20037508.342789244 AS h
      FROM address_unit a JOIN region r ON r.id = a.city_id
      WHERE r.code = :city AND a.retired_at IS NULL
        AND (CAST(:env AS text) IS NULL OR a.geom && ST_Transform(ST_GeomFromText(:env, 3857), 4326))) q
GROUP BY 1, 2 ORDER BY n DESC LIMIT 1
"""


def _envelope(engine: Engine, t: Tile) -> str:
    with engine.connect() as conn:
        return str(
            conn.scalar(
                text("SELECT ST_AsText(ST_TileEnvelope(:z, :x, :y))"), dict(zip("zxy", t, strict=True))
            )
        )


def _densest(engine: Engine, city: str, z: int, inside: Tile | None) -> Tile:
    env = _envelope(engine, inside) if inside else None
    with engine.connect() as conn:
        x, y, _ = conn.execute(text(_DENSEST), {"z": z, "city": city, "env": env}).one()
    return z, int(x), int(y)


def _children(t: Tile, z: int) -> list[Tile]:
    k = 1 << (z - t[0])
    return [(z, t[1] * k + i, t[2] * k + j) for j in range(k) for i in range(k)]


def tile_lists(engine: Engine, city: str) -> dict[str, list[Tile]]:
    """The street-zoom and aggregated tile lists over the densest part of the main city."""
    z14 = _densest(engine, city, 14, None)
    z15 = _densest(engine, city, 15, z14)
    z12 = (12, z14[1] >> 2, z14[2] >> 2)
    z13_parent = (13, z14[1] >> 1, z14[2] >> 1)
    points = _children(z14, 16) + _children(z15, 17)
    aggregated = [z12, *_children(z12, 13), *_children(z13_parent, 14)]
    return {"street zoom (points)": points, "aggregated": aggregated}


# -- the three targets -------------------------------------------------------------------------
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def psycopg_sql(t: Tile) -> tuple[str, dict[str, Any]]:
    """The tile's statement (admin scope) with psycopg placeholders."""
    sql, params = tiles.tile_sql(system_scope(), "units", *t, point_zoom=POINT_ZOOM)
    assert "%" not in sql
    return _PARAM.sub(r"%(\1)s", sql), params


@dataclass
class Run:
    latencies: list[float]
    seconds: float
    sizes: dict[Tile, int]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


def run_clients(
    work: list[Tile], clients: int, make_fetch: Callable[[], tuple[Callable[[Tile], int], Callable[[], None]]]
) -> Run:
    """``clients`` threads take tiles from ``work`` in order until none is left."""
    lock = threading.Lock()
    queue = list(reversed(work))
    latencies: list[float] = []
    sizes: dict[Tile, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def worker() -> None:
        fetch, close = make_fetch()
        try:
            fetch(work[0])  # connection warm
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    t = queue.pop()
                t0 = time.perf_counter()
                n = fetch(t)
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(ms)
                    sizes[t] = n
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
            start.abort()
        finally:
            close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]!r}") from errors[0]
    return Run(latencies, seconds, sizes)


def interleaved(
    tiles_: list[Tile], clients: int, passes: int, targets: dict[str, Callable[[], Any]]
) -> tuple[dict[str, Run], int, int]:
    """About ``passes`` passes over ``tiles_`` per target in rounds, the targets taking turns.

    The machine is shared (PostgreSQL, the servers, the clients, and whatever else runs): a
    burst of other work then lands on every target alike instead of on the one measured at
    that moment. A round holds enough passes for at least 4 tiles per client (so that the
    clients stay busy: a 9-tile list is 8 passes a round at 16 clients); the passes are rounded
    up to whole rounds, and there are at least :data:`MIN_ROUNDS` rounds (one round of a short
    list at 16 clients is a single draw of how the heavy and light tiles happen to queue: the
    aggregated list's p50 moved by 20% from one run to the next). The target that goes first
    changes from round to round. Latencies pooled over the rounds, tiles per second over their
    summed time. Returns the runs, the rounds and the passes per round.
    """
    per_round = max(1, math.ceil(4 * clients / len(tiles_)))
    rounds = max(MIN_ROUNDS, math.ceil(passes / per_round))
    runs = {name: Run([], 0.0, {}) for name in targets}
    names = list(targets)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            make = targets[name]
            r = run_clients(tiles_ * per_round, clients, make)
            runs[name].latencies.extend(r.latencies)
            runs[name].seconds += r.seconds
            runs[name].sizes.update(r.sizes)
    return runs, rounds, per_round


def http_fetcher(base: str, path: Callable[[Tile], str], headers: dict[str, str]) -> Callable[[], Any]:
    """One keep-alive HTTP/1.1 connection per client (the standard library's ``http.client``:
    httpx spent 1.2 ms of CPU per 180 kB tile, on the cores the servers measured use too)."""
    url = urlsplit(base)

    def make() -> tuple[Callable[[Tile], int], Callable[[], None]]:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)

        def fetch(t: Tile) -> int:
            conn.request("GET", path(t), headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.status not in (200, 204):
                raise RuntimeError(f"{path(t)}: HTTP {r.status} {body[:200]!r}")
            return len(body)

        return fetch, conn.close

    return make


def raw_fetcher(dsn: str) -> Callable[[], Any]:
    statements = {}

    def make() -> tuple[Callable[[Tile], int], Callable[[], None]]:
        conn = psycopg.connect(dsn, autocommit=True)
        for name, value in tiles.PLANNER_SETTINGS.items():  # as the endpoint's transaction has them
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

        def fetch(t: Tile) -> int:
            if t not in statements:
                statements[t] = psycopg_sql(t)
            sql, params = statements[t]
            with conn.cursor(binary=True) as cur:  # as the endpoint fetches it: bytea as is
                cur.execute(sql, params, prepare=False)  # as the endpoint: planned per tile
                row = cur.fetchone()
            return len(row[0]) if row and row[0] else 0

        return fetch, conn.close

    return make


def ensure_tipg(say: Callable[[str], None]) -> Path:
    """The tipg venv's uvicorn (created and installed from bench/requirements-tipg.txt when missing)."""
    uvicorn = TIPG_VENV / "bin" / "uvicorn"
    stamp = TIPG_VENV / ".requirements"
    wanted = TIPG_REQUIREMENTS.read_text(encoding="utf-8")
    if uvicorn.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return uvicorn
    say(f"installing tipg into {TIPG_VENV.relative_to(ROOT)} (pip, {TIPG_REQUIREMENTS.relative_to(ROOT)})")
    subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
    pip = [str(TIPG_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(TIPG_REQUIREMENTS)], check=True)
    stamp.write_text(wanted, encoding="utf-8")
    return uvicorn


def start_tipg(uvicorn: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": libpq_url(url),
        "TIPG_DB_SCHEMAS": '["bench_tipg"]',
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
        "TIPG_TILE_BUFFER": "128",
        "TIPG_TILE_RESOLUTION": "4096",
    }
    proc = subprocess.Popen(
        [str(uvicorn), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=TIPG_VENV,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/collections/{TIPG_COLLECTION}", "tipg", 90, ready=200)
    return proc, base


def _decode(body: bytes) -> dict[str, Any]:
    import mapbox_vector_tile  # a dev dependency of the project

    return dict(mapbox_vector_tile.decode(body)) if body else {}


def features(body: bytes) -> int:
    """Number of features of a tile, all layers."""
    return sum(len(layer["features"]) for layer in _decode(body).values())


def content(body: bytes) -> dict[str, list[str]]:
    """A tile's features in a canonical order (a parallel plan may emit rows in any order)."""
    return {
        name: sorted(
            repr((f.get("id"), sorted(f["properties"].items()), f["geometry"])) for f in layer["features"]
        )
        for name, layer in _decode(body).items()
    }


def fmt(run: Run) -> list[str]:
    return [
        f"{p50(run.latencies):,.1f}",
        f"{percentile(run.latencies, 95):,.1f}",
        f"{run.throughput:,.1f}",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tiles", description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=1_000_000, help="demo units of the bench database")
    ap.add_argument("--rebuild", action="store_true", help="drop and rebuild the cached bench database")
    ap.add_argument("--passes", type=int, default=5, help="times each tile list is requested per measurement")
    ap.add_argument("--clients", default="1,16", help="concurrent clients, comma-separated")
    ap.add_argument("--no-tipg", action="store_true", help="leave tipg out")
    args = ap.parse_args(argv)
    concurrency = [int(c) for c in args.clients.split(",")]

    rep = Report("tiles")
    rep(f"gridmarket vector tiles benchmark — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs")
    url, load_s, reused = bench_database(args.units, rebuild=args.rebuild, say=rep)
    how = "reused; its build took" if reused else "built in"
    rep(f"bench database {make_url(url).database}: {how} {load_s:,.0f} s")
    engine = create_engine(url, pool_size=2)
    with engine.begin() as conn:
        folded = metrics.compact_metrics(conn)
        conn.execute(text(TIPG_VIEW))
    with engine.connect() as conn:
        city, city_name, city_units = main_city(conn)
        pg = conn.scalar(text("SELECT current_setting('server_version')"))
        postgis = conn.scalar(text("SELECT postgis_lib_version()"))
        total = conn.scalar(text("SELECT count(*) FROM address_unit WHERE retired_at IS NULL"))
        cells = conn.scalar(text("SELECT count(*) FROM cell"))
    rep(f"PostgreSQL {pg}, PostGIS {postgis}; compacted {folded or 0:,} pending delta rows before timing")
    rep(f"{total:,} address units, {cells:,} cells; main city {city} {city_name}: {city_units:,} units")
    groups = tile_lists(engine, city)
    for name, tl in groups.items():
        zs = sorted({t[0] for t in tl})
        rep(f"tile list {name}: {len(tl)} tiles at z {', '.join(map(str, zs))} (first {tl[0]})")
    rep()

    dsn = libpq_url(url)
    token = admin_token(engine)
    server, base = start_server(url)
    tipg: subprocess.Popen[bytes] | None = None
    tipg_base = ""
    goals: dict[str, bool] = {}
    try:
        if not args.no_tipg:
            try:
                tipg, tipg_base = start_tipg(ensure_tipg(rep), url)
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                rep(f"tipg not measured: {exc}")

        def ours_path(t: Tile) -> str:
            return f"/tiles/units/{t[0]}/{t[1]}/{t[2]}.mvt"

        bearer = {"Authorization": f"Bearer {token}"}
        ours = http_fetcher(base, ours_path, bearer)
        ours_gzip = http_fetcher(base, ours_path, {**bearer, "Accept-Encoding": "gzip"})
        raw = raw_fetcher(dsn)
        tipg_fetch = http_fetcher(
            tipg_base,
            lambda t: f"/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}",
            {},
        )

        # the same bytes: endpoint vs raw statement; feature counts of ours and tipg
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            pconn = psycopg.connect(dsn, autocommit=True)
            for setting, value in tiles.PLANNER_SETTINGS.items():
                pconn.execute("SELECT set_config(%s, %s, false)", (setting, value))
            mismatched = []
            same_bytes = 0
            counts = []
            for name, tl in groups.items():
                for t in tl:
                    body = client.get(f"/tiles/units/{t[0]}/{t[1]}/{t[2]}.mvt").content
                    sql, params = psycopg_sql(t)
                    row = pconn.execute(sql, params).fetchone()
                    raw_body = bytes(row[0]) if row and row[0] else b""
                    same_bytes += body == raw_body
                    if content(body) != content(raw_body):
                        mismatched.append(t)
                    if tipg is not None and name.startswith("street"):
                        tb = httpx.get(
                            f"{tipg_base}/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}",
                            timeout=120,
                        ).content
                        counts.append((t, features(body), features(tb)))
            pconn.close()
        goals["endpoint tiles hold the raw statement's features"] = not mismatched
        n_tiles = sum(len(tl) for tl in groups.values())
        rep(
            "endpoint = raw statement (decoded features): "
            + ("all tiles" if not mismatched else f"MISMATCH {mismatched}")
            + f"; byte for byte: {same_bytes} of {n_tiles}"
        )
        if counts:
            ours_n = sum(c[1] for c in counts)
            tipg_n = sum(c[2] for c in counts)
            rep(
                f"street-zoom features (buffer included): ours {ours_n:,}, tipg {tipg_n:,} "
                f"over {len(counts)} tiles"
            )
        rep()

        for name, tl in groups.items():
            rep(f"{name}: {len(tl)} tiles, targets in turn per round; latency ms, tiles/s")
            rows: list[list[str]] = []
            for c in concurrency:
                targets = {"endpoint": ours, "raw": raw}
                if name.startswith("street"):
                    targets["endpoint, gzip"] = ours_gzip
                if tipg is not None and name.startswith("street"):
                    targets["tipg"] = tipg_fetch
                runs, rounds, per_round = interleaved(tl, c, args.passes, targets)
                r_ours, r_raw = runs["endpoint"], runs["raw"]
                rows.append([f"{c} client(s): {rounds} round(s) × {per_round} pass(es)", "", "", ""])
                rows.append([f"endpoint, {c} client(s)", *fmt(r_ours)])
                rows.append([f"raw SQL, {c} client(s)", *fmt(r_raw)])
                for stat, pick in (("p50", p50), ("p95", lambda v: percentile(v, 95))):
                    limit = GOAL_FACTOR * pick(r_raw.latencies) + GOAL_SLACK_MS
                    got = pick(r_ours.latencies)
                    goals[
                        f"{name}, {c} client(s): endpoint {stat} {got:,.1f} "
                        f"≤ 1.15 × raw + 3 = {limit:,.1f} ms"
                    ] = got <= limit
                ratio = p50(r_ours.latencies) / p50(r_raw.latencies)
                rows.append([f"  endpoint / raw p50, {c} client(s)", f"{ratio:.2f}×", "", ""])
                if "endpoint, gzip" in runs:
                    r_gz = runs["endpoint, gzip"]
                    packed = sum(r_gz.sizes.values()) / max(1, sum(r_ours.sizes.values()))
                    rows.append([f"endpoint, gzip, {c} client(s)", *fmt(r_gz)])
                    rows.append(
                        [f"  gzip: bytes sent / uncompressed, {c} client(s)", f"{packed:.2f}", "", ""]
                    )
                if "tipg" in runs:
                    r_tipg = runs["tipg"]
                    rows.append([f"tipg, {c} client(s)", *fmt(r_tipg)])
                    share = r_ours.throughput / r_tipg.throughput
                    rows.append([f"  endpoint / tipg tiles/s, {c} client(s)", f"{share:.2f}×", "", ""])
                    goals[f"{name}, {c} client(s): endpoint throughput ≥ tipg ({share:.2f}×)"] = share >= 1.0
            rep.table(["target", "p50 ms", "p95 ms", "tiles/s"], rows)
            rep()
    finally:
        server.terminate()
        server.wait(10)
        if tipg is not None:
            tipg.terminate()
            tipg.wait(10)

    rep("goals")
    rep.table(["goal", "result"], [[g, mark(ok)] for g, ok in goals.items()])
    engine.dispose()
    rep()
    rep(f"report written to {rep.save().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
