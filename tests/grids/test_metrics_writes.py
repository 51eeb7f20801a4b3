"""The metric aggregates stay exact under writes: field edits, moves, retirements, bulk loads, concurrency.

Territory (WGS84 degrees): city C ⊃ district D = [120.00, 120.02] × [30.00, 30.02], grid G with
drawn cells A = [120.00, 120.01] × [30.00, 30.02] (2 km²) and B = [120.01, 120.02] × [30.00,
30.02] (1 km²). After every change the figures read through the aggregates (base + pending
deltas, no compaction) must equal those computed from the base tables, at every level.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

from gridmarket.grids import metrics
from gridmarket.grids.scope import system_scope
from gridmarket.grids.units import load_units
from tests.helpers import box, unit

TZ = "Asia/Shanghai"
LOADED = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TZ))
ADMIN = system_scope()
STATUSES = ("stock", "competing", "other_network", "potential", "vacant", "unknown")
RIVALS = ("中国移动", "中国联通", "中国广电", "", None)


def random_fields(rnd: random.Random) -> dict[str, Any]:
    """A random record: any status, counts, minutes, revenue, rival and contract end."""
    return {
        "status": rnd.choice(STATUSES),
        "fixed_lines_own": rnd.randint(0, 3),
        "fixed_lines_rival": rnd.randint(0, 2),
        "broadband_own": rnd.randint(0, 2),
        "broadband_rival": rnd.randint(0, 2),
        "ld_minutes_own": rnd.randint(0, 500),
        "ld_minutes_rival": rnd.randint(0, 500),
        "revenue_month": rnd.randint(0, 5000) / 4,
        "rival_operator": rnd.choice(RIVALS),
        "contract_end": dt.date.today() + dt.timedelta(days=rnd.randint(-30, 200)),
    }


def random_rows(n: int, seed: int, prefix: str = "u") -> list[tuple[object, ...]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        # mostly in A and B, some in the uncovered north (generated H3 cells), a few outside D
        lon = rnd.uniform(120.0, 120.02) if i % 10 else rnd.uniform(120.02, 120.05)
        lat = rnd.uniform(30.0, 30.02)
        f = random_fields(rnd)
        if i % 7 == 0:
            f["status"] = None  # derived from the counts
        rows.append(unit(f"{prefix}{i}", lon, lat, f.pop("status"), **f))
    return rows


@pytest.fixture
def db(new_database: Callable[[str], Engine]) -> Iterator[Engine]:
    eng = new_database("mwrite")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO region (id, code, name, level) VALUES (1, 'P', '测试省', 'province')"))
        conn.execute(
            text(
                "INSERT INTO region (id, code, name, level, parent_id, city_id, geom, area_km2) VALUES "
                "(2, 'C', '测试市', 'city', 1, 2, ST_GeomFromText(:c, 4326), 100),"
                "(3, 'D', '测试区', 'district', 2, 2, ST_GeomFromText(:d, 4326), 4)"
            ),
            {"c": box(119.9, 29.9, 120.1, 30.1), "d": box(120.0, 30.0, 120.04, 30.02)},
        )
        conn.execute(
            text("INSERT INTO grid (id, code, name, city_id, district_id) VALUES (1, 'G', '网格', 2, 3)")
        )
        conn.execute(
            text(
                "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, geom, area_km2) VALUES "
                "('A', '单元A', 2, 3, 1, 'drawn', ST_GeomFromText(:a, 4326), 2.0),"
                "('B', '单元B', 2, 3, 1, 'drawn', ST_GeomFromText(:b, 4326), 1.0)"
            ),
            {"a": box(120.0, 30.0, 120.01, 30.02), "b": box(120.01, 30.0, 120.02, 30.02)},
        )
        conn.execute(text("SELECT setval('region_id_seq', 10), setval('grid_id_seq', 10)"))
    yield eng
    eng.dispose()  # the concurrency test leaves pooled connections: give them back now


def load(eng: Engine, rows: list[tuple[object, ...]]) -> None:
    with eng.begin() as conn:
        load_units(conn, iter(rows), source="import", valid_from=LOADED, h3_resolution=9)


def edit(conn: Connection, unit_id: int, when: dt.datetime | None = None, **fields: Any) -> None:
    """A field edit: close the current version, insert version + 1 with ``fields`` changed."""
    cur = (
        conn.execute(
            text(
                "UPDATE market_record SET valid_to = coalesce(:w, clock_timestamp()) "
                "WHERE address_unit_id = :u AND valid_to IS NULL RETURNING *"
            ),
            {"u": unit_id, "w": when},
        )
        .mappings()
        .one()
    )
    new = {k: v for k, v in cur.items() if k not in ("id",)}
    new.update(version=cur["version"] + 1, valid_from=cur["valid_to"], valid_to=None, source="field")
    new.update(fields)
    cols = ", ".join(new)
    conn.execute(text(f"INSERT INTO market_record ({cols}) VALUES ({', '.join(':' + c for c in new)})"), new)


CHECK_LEVELS = ("cell", "grid", "district", "city", "province", "h3:7", "h3:8", "h3:10", "building")


def assert_exact(conn: Connection, levels: tuple[str, ...] = CHECK_LEVELS) -> None:
    """The aggregates (base + pending deltas) equal the figures from the base tables."""
    for lvl in levels:
        fast = metrics.metrics_for_level(conn, ADMIN, lvl, tz=TZ)
        slow = metrics.metrics_for_level(conn, ADMIN, lvl, tz=TZ, from_base=True)
        assert fast == slow, lvl


def cell_row(conn: Connection, code: str) -> dict[str, Any]:
    return metrics.metrics_for_level(conn, ADMIN, "cell", filters={"cell": code}, tz=TZ)[0]


def ids(conn: Connection, cell: str) -> list[int]:
    return list(
        conn.scalars(
            text(
                "SELECT a.id FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                "WHERE c.code = :c ORDER BY a.id"
            ),
            {"c": cell},
        )
    )


def test_a_change_shows_on_the_next_read_without_compaction(db: Engine) -> None:
    # cell A: u1 unknown, u2 stock (1 own line, revenue 100), u3 potential
    load(
        db,
        [
            unit("u1", 120.001, 30.001, "unknown"),
            unit("u2", 120.002, 30.002, "stock", fixed_lines_own=1, revenue_month=100),
            unit("u3", 120.003, 30.003, "potential"),
        ],
    )
    with db.begin() as conn:
        metrics.compact_metrics(conn)
    with db.connect() as conn:
        a = cell_row(conn, "A")
        assert (a["units"], a["n_unknown"], a["n_stock"], a["revenue"]) == (3, 1, 1, 100)
        assert a["penetration"] == pytest.approx(1 / 2)  # stock / (stock + potential)
        u1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'u1'"))
    # u1 surveyed: stock with 2 own lines and revenue 250
    with db.begin() as conn:
        edit(conn, u1, status="stock", fixed_lines_own=2, revenue_month=250)
    with db.connect() as conn:
        assert metrics.pending_deltas(conn) > 0
        a = cell_row(conn, "A")
        # units 3, stock 2, potential 1 → penetration 2/3; coverage 3/3; revenue 350
        assert (a["units"], a["n_unknown"], a["n_stock"], a["revenue"]) == (3, 0, 2, 350)
        assert a["penetration"] == pytest.approx(2 / 3) and a["coverage"] == 1.0
        city = metrics.metrics_for_level(conn, ADMIN, "city", tz=TZ)[0]
        assert (city["n_stock"], city["revenue"]) == (2, 350)
        # yesterday's map is yesterday's: the edit is not in it
        yesterday = metrics.metrics_for_level(
            conn, ADMIN, "cell", as_of=dt.date.today() - dt.timedelta(days=1), filters={"cell": "A"}, tz=TZ
        )[0]
        assert (yesterday["n_unknown"], yesterday["n_stock"], yesterday["revenue"]) == (1, 1, 100)
        # this month's period sees u1 surveyed; no win (unknown is not other_network/potential)
        assert (a["won"], a["new_own_lines"]) == (0, 2)
        assert_exact(conn)
    with db.begin() as conn:
        assert metrics.compact_metrics(conn)
    with db.connect() as conn:
        assert metrics.pending_deltas(conn) == 0
        assert cell_row(conn, "A") == a
        assert_exact(conn)


def test_moves_retirement_and_deletes(db: Engine) -> None:
    load(db, random_rows(300, seed=1))
    with db.begin() as conn:
        metrics.compact_metrics(conn)
    with db.begin() as conn:
        in_a, in_b = ids(conn, "A"), ids(conn, "B")
        before = {c: cell_row(conn, c)["units"] for c in ("A", "B")}
        # a territory change moves three units from A to B (one statement)
        conn.execute(
            text(
                "UPDATE address_unit SET cell_id = (SELECT id FROM cell WHERE code = 'B') "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": in_a[:3]},
        )
        # one unit of B retired, then brought back, another retired for good
        conn.execute(
            text("UPDATE address_unit SET retired_at = now() WHERE id = ANY(:ids)"), {"ids": in_b[:2]}
        )
        conn.execute(text("UPDATE address_unit SET retired_at = NULL WHERE id = :i"), {"i": in_b[0]})
        # an edit of a moved unit, in the same transaction
        edit(
            conn,
            in_a[0],
            status="competing",
            fixed_lines_own=1,
            fixed_lines_rival=1,
            rival_operator="中国联通",
        )
        # a unit removed with its records
        conn.execute(text("DELETE FROM market_record WHERE address_unit_id = :i"), {"i": in_a[5]})
        conn.execute(text("DELETE FROM address_unit WHERE id = :i"), {"i": in_a[5]})
        # an address edit that moves nothing writes no delta
        n = metrics.pending_deltas(conn)
        conn.execute(
            text("UPDATE address_unit SET address = address || '(改)' WHERE id = :i"), {"i": in_a[7]}
        )
        assert metrics.pending_deltas(conn) == n
        after = {c: cell_row(conn, c)["units"] for c in ("A", "B")}
        assert after == {"A": before["A"] - 3 - 1, "B": before["B"] + 3 - 1}
        assert_exact(conn)
    with db.connect() as conn:
        assert_exact(conn)


def test_bulk_load_keeps_the_aggregates_exact(db: Engine) -> None:
    rows = random_rows(3000, seed=2)
    load(db, rows)
    with db.connect() as conn:
        # one statement of 3,000 records: deltas are grouped per (cell, H3-8, rival, contract end)
        assert 0 < metrics.pending_deltas(conn) < 3000
        assert_exact(conn, (*CHECK_LEVELS, "h3:5", "h3:12"))
        total = metrics.metrics_for_level(conn, ADMIN, "province", tz=TZ)[0]["units"]
        assert total == 3000
    # a bulk update of every current record (one statement) and a second load
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE market_record SET revenue_month = revenue_month + 1, "
                "status = CASE WHEN status = 'unknown' THEN 'vacant' ELSE status END WHERE valid_to IS NULL"
            )
        )
    load(db, random_rows(500, seed=3, prefix="v"))
    with db.connect() as conn:
        assert_exact(conn)
    with db.begin() as conn:
        assert metrics.compact_metrics(conn)
    with db.connect() as conn:
        assert metrics.pending_deltas(conn) == 0
        assert_exact(conn)
    with db.begin() as conn:
        assert metrics.recount_metrics(conn) == 3500
    with db.connect() as conn:
        assert_exact(conn)


def test_sixteen_writers_in_one_cell(db: Engine) -> None:
    """16 threads edit different units of cell A at once while one thread moves units between A and
    B and another compacts: no deadlock, no lost delta, the result equals a recount."""
    load(db, [unit(f"w{i}", 120.0005 + 0.00012 * i, 30.001 + 0.0002 * i, "unknown") for i in range(64)])
    with db.connect() as conn:
        units = ids(conn, "A")
        cell_b = conn.scalar(text("SELECT id FROM cell WHERE code = 'B'"))
        cell_a = conn.scalar(text("SELECT id FROM cell WHERE code = 'A'"))
    assert len(units) == 64
    errors: list[BaseException] = []
    stop = threading.Event()
    edits = [0] * 16

    def writer(i: int) -> None:
        mine = units[i::16]
        r = random.Random(i)
        try:
            for _ in range(12):
                with db.begin() as conn:
                    edit(conn, r.choice(mine), **random_fields(r))
                edits[i] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def mover() -> None:
        try:
            k = 0
            while not stop.is_set():
                with db.begin() as conn:
                    conn.execute(
                        text("UPDATE address_unit SET cell_id = :c WHERE id = :u"),
                        {"c": cell_b if k % 2 == 0 else cell_a, "u": units[(k // 2) % 8]},
                    )
                k += 1
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    def compactor() -> None:
        try:
            while not stop.is_set():
                with db.begin() as conn:
                    metrics.compact_metrics(conn)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    side = [threading.Thread(target=mover), threading.Thread(target=compactor)]
    for t in threads + side:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    for t in side:
        t.join(60)
    assert not errors, errors
    assert sum(edits) == 16 * 12
    with db.connect() as conn:
        versions = conn.scalar(text("SELECT count(*) FROM market_record"))
        assert versions == 64 + 16 * 12
        assert_exact(conn)
        a, b = cell_row(conn, "A"), cell_row(conn, "B")
        assert a["units"] + b["units"] == 64
    with db.begin() as conn:
        metrics.compact_metrics(conn)
    with db.connect() as conn:
        assert_exact(conn)
        kept = [metrics.metrics_for_level(conn, ADMIN, lvl, tz=TZ) for lvl in ("cell", "h3:8")]
    with db.begin() as conn:
        metrics.recount_metrics(conn)
    with db.connect() as conn:
        assert [metrics.metrics_for_level(conn, ADMIN, lvl, tz=TZ) for lvl in ("cell", "h3:8")] == kept


def test_the_read_cache_never_serves_a_stale_figure(db: Engine) -> None:
    """Repeated reads of the current state are cached; every committed change invalidates them."""
    load(db, [unit("c1", 120.001, 30.001, "unknown"), unit("c2", 120.011, 30.001, "potential")])
    metrics.clear_cache()
    with db.connect() as conn:
        fc = metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ)
        assert metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ) is fc
        first = metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)
        again = metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)
        assert again == first and again[0] is first[0]  # served from the cache
        c1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'c1'"))
        conn.commit()
    # a field edit committed elsewhere: the next read shows it
    with db.begin() as conn:
        edit(conn, c1, status="stock", fixed_lines_own=1)
    with db.connect() as conn:
        assert cell_row(conn, "A")["n_stock"] == 1
        # inside a transaction that wrote something itself, the cache is neither read nor filled
        edit(conn, c1, status="vacant")
        assert cell_row(conn, "A")["n_vacant"] == 1
        conn.rollback()
        assert cell_row(conn, "A")["n_stock"] == 1
    # compaction changes no figure, and a renamed cell shows its new name on the next read
    with db.begin() as conn:
        metrics.compact_metrics(conn)
        conn.execute(text("UPDATE cell SET name = '新名' WHERE code = 'A'"))
    with db.connect() as conn:
        a = cell_row(conn, "A")
        assert a["name"] == "新名" and a["n_stock"] == 1
        props = {
            f["id"]: f["properties"]
            for f in json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ))["features"]
        }
        assert props["A"]["name"] == "新名" and props["A"]["n_stock"] == 1
        grid = metrics.metrics_for_level(conn, ADMIN, "grid", tz=TZ)[0]
        assert (grid["units"], grid["n_stock"], grid["n_potential"]) == (2, 1, 1)
        assert_exact(conn)


def test_the_cell_map_re_reads_only_changed_cells_and_misses_no_late_commit(db: Engine) -> None:
    """The cached map of cells is patched cell by cell: a transaction still open at one read and
    committed after it shows on the read after the commit; untouched cells are not read again."""
    load(db, [unit("p1", 120.001, 30.001, "potential"), unit("p2", 120.011, 30.001, "potential")])
    metrics.clear_cache()

    def cells(conn: Connection) -> dict[str, dict[str, Any]]:
        return {d["id"]: d for d in metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)}

    with db.connect() as conn:
        first = cells(conn)
        p1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'p1'"))
        conn.commit()
    assert first["A"]["n_potential"] == 1 and first["A"]["n_stock"] == 0
    with db.connect() as writer:
        edit(writer, p1, status="stock", fixed_lines_own=1)  # open, not committed yet
        with db.connect() as conn:
            during = cells(conn)
            conn.commit()
        assert during["A"]["n_stock"] == 0 and during["A"]["n_potential"] == 1
        writer.commit()
    with db.connect() as conn:
        after = cells(conn)
        as_json = metrics.metrics_json(conn, ADMIN, "cell", tz=TZ)
        as_geojson = json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ))
        conn.commit()
    a_feature = next(f for f in as_geojson["features"] if f["id"] == "A")
    assert a_feature["properties"]["n_stock"] == 1 and a_feature["geometry"]["type"] == "MultiPolygon"
    assert after["A"]["n_stock"] == 1 and after["A"]["n_potential"] == 0
    assert after["A"]["penetration"] == 1.0  # A: 1 stock / 1 in demand
    assert after["B"] is first["B"]  # B had no change: its cached row was kept, not read again
    metrics.clear_cache()
    with db.connect() as conn:
        assert metrics.metrics_json(conn, ADMIN, "cell", tz=TZ) == as_json  # patched = read whole
        assert json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ)) == as_geojson
        assert cells(conn) == after
        assert_exact(conn)
        # a cached map of another period (a year) is patched too: its period figures from the versions
        year = f"{dt.date.today():%Y}"
        before_year = metrics.metrics_json(conn, ADMIN, "cell", period=year, tz=TZ)
        metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ)
        conn.commit()
    with db.begin() as conn:
        edit(conn, p1, status="other_network", fixed_lines_own=0, fixed_lines_rival=1)
    with db.connect() as conn:
        patched_year = metrics.metrics_json(conn, ADMIN, "cell", period=year, tz=TZ)
        patched_geojson = json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ))
        conn.commit()
    assert patched_year != before_year
    metrics.clear_cache()
    with db.connect() as conn:
        assert json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", tz=TZ)) == patched_geojson
        assert metrics.metrics_json(conn, ADMIN, "cell", period=year, tz=TZ) == patched_year
        whole = {d["id"]: d for d in metrics.metrics_for_level(conn, ADMIN, "cell", period=year, tz=TZ)}
        base = metrics.metrics_for_level(conn, ADMIN, "cell", period=year, tz=TZ, from_base=True)
        assert whole == {d["id"]: d for d in base}


def test_the_api_compactor_folds_deltas_in_the_background(db: Engine) -> None:
    """The API's compactor thread folds pending deltas; figures do not change by it."""
    from gridmarket.api.compactor import Compactor

    load(db, [unit("k1", 120.001, 30.001, "potential"), unit("k2", 120.011, 30.001, "stock")])
    with db.connect() as conn:
        k1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'k1'"))
        assert metrics.pending_deltas(conn) > 0
        before = metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)
    once = Compactor(db, 60, TZ)
    assert once.run_once()  # folded something
    assert once.run_once() is None  # nothing pending, same day: skipped
    with db.begin() as conn:
        edit(conn, k1, status="stock", fixed_lines_own=1)
    background = Compactor(db, 0.05, TZ)
    background.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while background.runs == 0 and dt.datetime.now() < deadline:
            threading.Event().wait(0.05)
    finally:
        background.stop()
    assert background.runs >= 1
    with db.connect() as conn:
        assert metrics.pending_deltas(conn) == 0
        after = {d["id"]: d for d in metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)}
        assert after["A"]["n_stock"] == 1 and after["A"]["n_potential"] == 0
        assert {d["id"]: d["units"] for d in before} == {k: v["units"] for k, v in after.items()}
        assert_exact(conn)


def test_a_compaction_between_two_reads_loses_no_change(db: Engine) -> None:
    """Compaction folds (and removes) the delta rows of a change made after a cached read: the
    next read still shows the change, re-reading only the cells compacted."""
    load(db, [unit("q1", 120.001, 30.001, "other_network"), unit("q2", 120.011, 30.001, "potential")])
    with db.begin() as conn:
        metrics.compact_metrics(conn)
    metrics.clear_cache()
    with db.connect() as conn:
        first = {d["id"]: d for d in metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)}
        q1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'q1'"))
        conn.commit()
    assert first["A"]["n_other_network"] == 1
    with db.begin() as conn:
        edit(conn, q1, status="competing", fixed_lines_own=1, fixed_lines_rival=1)
    with db.begin() as conn:
        assert metrics.compact_metrics(conn)
    with db.connect() as conn:
        assert metrics.pending_deltas(conn) == 0
        after = {d["id"]: d for d in metrics.metrics_for_level(conn, ADMIN, "cell", tz=TZ)}
        conn.commit()
    # A: 1 competing of 1 in demand → penetration 1, other_network 0
    assert (after["A"]["n_competing"], after["A"]["n_other_network"], after["A"]["penetration"]) == (
        1,
        0,
        1.0,
    )
    assert after["B"] is first["B"]  # not compacted, not changed: kept from the cache
    with db.connect() as conn:
        assert_exact(conn)


def test_fine_h3_and_status_filtered_reads_are_cached_but_never_stale(db: Engine) -> None:
    load(db, [unit("h1", 120.001, 30.001, "potential"), unit("h2", 120.0012, 30.0011, "stock")])
    metrics.clear_cache()

    def stock(conn: Connection) -> tuple[int, int]:
        hexes = metrics.metrics_for_level(conn, ADMIN, "h3:10", tz=TZ)
        only = metrics.metrics_for_level(conn, ADMIN, "cell", filters={"status": "stock"}, tz=TZ)
        return sum(h["n_stock"] for h in hexes), sum(c["units"] for c in only)

    with db.connect() as conn:
        assert stock(conn) == (1, 1)
        first = metrics.metrics_for_level(conn, ADMIN, "h3:10", tz=TZ)
        assert metrics.metrics_for_level(conn, ADMIN, "h3:10", tz=TZ)[0] is first[0]  # cached
        # the check against the base tables is never served from the cache
        base = metrics.metrics_for_level(conn, ADMIN, "h3:10", tz=TZ, from_base=True)
        assert (
            base == first
            and base[0] is not metrics.metrics_for_level(conn, ADMIN, "h3:10", tz=TZ, from_base=True)[0]
        )
        h1 = conn.scalar(text("SELECT id FROM address_unit WHERE external_id = 'h1'"))
        conn.commit()
    with db.begin() as conn:
        edit(conn, h1, status="stock", fixed_lines_own=1)
    with db.connect() as conn:
        assert stock(conn) == (2, 2)


def test_compaction_stores_the_months_period_figures_per_cell(db: Engine) -> None:
    """churned / won / new_own_lines of the current month are kept per cell by compaction and read
    from there for cells without pending deltas; other periods are computed from the versions."""
    load(
        db,
        [
            unit("s1", 120.001, 30.001, "stock", fixed_lines_own=1),
            unit("s2", 120.002, 30.002, "potential"),
            unit("s3", 120.011, 30.001, "other_network", fixed_lines_rival=1),
        ],
    )
    with db.connect() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM address_unit")).all())
        conn.commit()
    with db.begin() as conn:  # this month: s1 lost to a rival, s2 won with 2 own lines
        edit(conn, ids["s1"], status="other_network", fixed_lines_own=0, fixed_lines_rival=1)
        edit(conn, ids["s2"], status="stock", fixed_lines_own=2)
    with db.begin() as conn:
        assert metrics.compact_metrics(conn)
    with db.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT c.code, b.churned, b.won, b.new_own_lines, b.period_from IS NOT NULL "
                "FROM cell_metric b JOIN cell c ON c.id = b.cell_id ORDER BY c.code"
            )
        ).all()
        # A: s1 churned, s2 won with 2 new own lines; B: nothing happened to s3
        assert [tuple(r) for r in stored] == [("A", 1, 1, 2, True), ("B", 0, 0, 0, True)]
        a = cell_row(conn, "A")
        assert (a["churned"], a["won"], a["new_own_lines"]) == (1, 1, 2)
        assert_exact(conn)
        # a past period is computed from the versions: nothing changed in January 2025 after the load
        jan = metrics.metrics_for_level(conn, ADMIN, "cell", period="2025-01", filters={"cell": "A"}, tz=TZ)[
            0
        ]
        assert (jan["churned"], jan["won"], jan["new_own_lines"]) == (0, 0, 0)
        conn.commit()
    with db.begin() as conn:  # s3 won too; pending: B is computed from the versions until compacted
        edit(conn, ids["s3"], status="competing", fixed_lines_own=1)
    with db.connect() as conn:
        b = cell_row(conn, "B")
        assert (b["churned"], b["won"], b["new_own_lines"]) == (0, 1, 1)
        assert_exact(conn)


def test_characteristic_grid_reads_are_cached_but_never_stale(db: Engine) -> None:
    """A characteristic grid counts its member cells' units and its industries' customers' units:
    its read is cached (migration 0011) and a change of a customer's industry, of its members or
    of its industries is seen by the next read."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (city_id, source_code, name, industry) VALUES "
                "(2, 'K1', '客户一', 'hospital'), (2, 'K2', '客户二', 'retail'), "
                "(2, 'K3', '客户三', 'retail')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO feature_grid (code, name, city_id, type, industries) "
                "VALUES ('FH', '医院网格', 2, 'hospital', ARRAY['hospital'])"
            )
        )
    load(
        db,
        [
            unit("k1", 120.001, 30.001, "stock", customer_code="K1"),  # cell A, a hospital
            unit("k2", 120.002, 30.002, "potential", customer_code="K2"),  # cell A, retail
            unit("k3", 120.011, 30.001, "other_network", customer_code="K3"),  # cell B, retail
        ],
    )
    metrics.clear_cache()

    def fh(conn: Connection) -> dict[str, Any]:
        rows = metrics.metrics_for_level(conn, ADMIN, "feature_grid", tz=TZ)
        return next(r for r in rows if r["code"] == "FH")

    with db.connect() as conn:
        first = fh(conn)
        assert first["units"] == 1 and first["n_stock"] == 1  # k1 only
        assert fh(conn) is first  # served from the cache
        conn.commit()
    with db.begin() as conn:  # K2 turns out to be a hospital: its unit k2 counts
        conn.execute(text("UPDATE customer SET industry = 'hospital' WHERE source_code = 'K2'"))
    with db.connect() as conn:
        second = fh(conn)
        assert (second["units"], second["n_potential"]) == (2, 1)
        conn.commit()
    with db.begin() as conn:  # cell B becomes a member cell: its unit k3 counts too
        conn.execute(
            text(
                "INSERT INTO feature_grid_cell (feature_grid_id, cell_id) SELECT f.id, c.id "
                "FROM feature_grid f, cell c WHERE f.code = 'FH' AND c.code = 'B'"
            )
        )
    with db.connect() as conn:
        third = fh(conn)
        assert (third["units"], third["n_other_network"]) == (3, 1)
        conn.commit()
    with db.begin() as conn:  # the grid now follows finance customers: none; the member cell stays
        conn.execute(text("UPDATE feature_grid SET industries = ARRAY['finance'] WHERE code = 'FH'"))
    with db.connect() as conn:
        assert fh(conn)["units"] == 1  # k3, in member cell B
