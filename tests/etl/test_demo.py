"""The synthetic demo: deterministic for a seed, consistent with METRICS.md and the territory rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from gridmarket.etl import demo_names
from gridmarket.etl.demo import BASE_DATE, VALID_FROM, build_cities, generate_demo
from gridmarket.etl.demo_org import HANDOVER_END, ORG_TABLES
from gridmarket.etl.demo_org import VALID_FROM as ORG_FROM
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.models import BUILDING_TYPES, CELL_TYPES

UNITS = 2000

# every table, each row rendered with natural keys in place of serial ids
CHECKSUM_QUERIES = {
    "region": """
        SELECT r.code, r.name, r.level, p.code, c.code, r.is_unassigned, md5(ST_AsEWKB(r.geom)), r.area_km2
        FROM region r LEFT JOIN region p ON p.id = r.parent_id LEFT JOIN region c ON c.id = r.city_id""",
    "grid": """
        SELECT g.code, g.name, c.code, d.code, g.kind, md5(ST_AsEWKB(g.geom)), g.area_km2
        FROM grid g JOIN region c ON c.id = g.city_id JOIN region d ON d.id = g.district_id""",
    "cell": """
        SELECT x.code, x.name, c.code, d.code, g.code, x.type, x.source, x.h3_index,
               md5(ST_AsEWKB(x.geom)), x.area_km2
        FROM cell x JOIN region c ON c.id = x.city_id JOIN region d ON d.id = x.district_id
        JOIN grid g ON g.id = x.grid_id""",
    "building": """
        SELECT c.code, b.code, b.name, b.type, b.floors, x.code, ST_AsEWKT(b.geom), ST_AsEWKT(b.footprint)
        FROM building b JOIN region c ON c.id = b.city_id LEFT JOIN cell x ON x.id = b.cell_id""",
    "customer": """
        SELECT c.code, u.source_code, u.unified_code, u.credit_code, u.name, u.industry, u.segments
        FROM customer u JOIN region c ON c.id = u.city_id""",
    "address_unit": """
        SELECT c.code, a.external_id, a.address, b.code, a.floor, a.room, x.code, a.h3_12,
               ST_AsEWKT(a.geom), a.retired_at
        FROM address_unit a JOIN region c ON c.id = a.city_id JOIN cell x ON x.id = a.cell_id
        LEFT JOIN building b ON b.id = a.building_id""",
    "market_record": """
        SELECT a.external_id, c.code, m.version, u.source_code, m.status, m.main_services,
               m.fixed_lines_own, m.fixed_lines_rival, m.broadband_own, m.broadband_rival,
               m.ld_minutes_own, m.ld_minutes_rival, m.revenue_month, m.rival_operator, m.contract_end,
               m.contact_name, m.contact_phone, m.surveyed_at, m.note, m.source, m.changed_by,
               m.valid_from, m.valid_to
        FROM market_record m JOIN address_unit a ON a.id = m.address_unit_id
        JOIN region c ON c.id = m.city_id LEFT JOIN customer u ON u.id = m.customer_id""",
    "org_unit": """
        SELECT o.code, o.name, o.kind, c.code, d.code, p.code
        FROM org_unit o JOIN region c ON c.id = o.city_id LEFT JOIN region d ON d.id = o.district_id
        LEFT JOIN org_unit p ON p.id = o.parent_id""",
    "staff": """
        SELECT s.code, s.name, s.post, o.code, c.code
        FROM staff s JOIN region c ON c.id = s.city_id LEFT JOIN org_unit o ON o.id = s.org_unit_id""",
    "feature_grid": """
        SELECT f.code, f.name, c.code, f.type, f.industries, md5(ST_AsEWKB(f.geom))
        FROM feature_grid f JOIN region c ON c.id = f.city_id""",
    "feature_grid_cell": """
        SELECT f.code, x.code FROM feature_grid_cell fc JOIN feature_grid f ON f.id = fc.feature_grid_id
        JOIN cell x ON x.id = fc.cell_id""",
    "assignment": """
        SELECT s.code, o.code, a.kind, x.code, g.code, f.code, u.source_code, a.valid_from, a.valid_to
        FROM assignment a JOIN staff s ON s.id = a.staff_id LEFT JOIN org_unit o ON o.id = a.org_unit_id
        LEFT JOIN cell x ON x.id = a.cell_id LEFT JOIN grid g ON g.id = a.grid_id
        LEFT JOIN feature_grid f ON f.id = a.feature_grid_id LEFT JOIN customer u ON u.id = a.customer_id""",
}
# the org units follow the territory's structure (codes and names), not the seed
SEED_INDEPENDENT = {"org_unit"}


def checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every table."""
    out = {}
    with engine.connect() as conn:
        for table, sql in CHECKSUM_QUERIES.items():
            digest = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            row = conn.execute(text(f"SELECT count(*), {digest} FROM ({sql}) t")).one()
            out[table] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture(scope="module")
def demos(new_database: Callable[[str], Engine]) -> dict[str, Any]:
    """Seed 1 twice and seed 2 once, each into a fresh database."""
    out: dict[str, Any] = {}
    for key, seed in (("a", 1), ("b", 1), ("c", 2)):
        engine = new_database(f"demo{key}")
        lines: list[str] = []
        out[key] = engine
        out[f"summary_{key}"] = generate_demo(engine, units=UNITS, seed=seed, progress=lines.append)
        out[f"progress_{key}"] = lines
    return out


@pytest.fixture(scope="module")
def db(demos: dict[str, Any]) -> Engine:
    """The seed-1 demo database."""
    engine: Engine = demos["a"]
    return engine


def q(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.scalar(text(sql), params)


def test_same_seed_same_rows_other_seed_other_rows(demos: dict[str, Any]) -> None:
    a, b, c = checksums(demos["a"]), checksums(demos["b"]), checksums(demos["c"])
    assert a == b
    for table in CHECKSUM_QUERIES:
        assert a[table][0] > 0, table
        assert (a[table][1] == c[table][1]) == (table in SEED_INDEPENDENT), table


def test_summary_and_progress(demos: dict[str, Any], db: Engine) -> None:
    summary = demos["summary_a"]
    for table in ("region", "grid", "cell", "building", "customer", "address_unit", "market_record"):
        assert summary[table] == scalar(db, f"SELECT count(*) FROM {table}"), table
    assert summary["address_unit"] == UNITS == summary["market_record"]
    assert summary["cells_generated"] > 0 and summary["units_in_generated_cells"] > 0
    assert summary["seconds"] > 0
    lines = demos["progress_a"]
    assert any("territory" in m for m in lines) and any("address units" in m for m in lines)


def test_refuses_a_database_holding_data(db: Engine) -> None:
    with pytest.raises(ValidationFailed, match="already holds data"):
        generate_demo(db, units=100, seed=1)


def test_refuses_bad_arguments(empty_db: Engine) -> None:
    with pytest.raises(ValidationFailed):
        generate_demo(empty_db, units=0)
    assert scalar(empty_db, "SELECT count(*) FROM region") == 0


def test_no_metrics_contradiction(db: Engine) -> None:
    bad = q(
        db,
        """
        SELECT a.external_id, m.status FROM market_record m JOIN address_unit a ON a.id = m.address_unit_id
        CROSS JOIN LATERAL (SELECT m.fixed_lines_own + m.broadband_own AS own,
                                   m.fixed_lines_rival + m.broadband_rival AS rival) n
        WHERE m.valid_to IS NULL AND (
               (m.status = 'stock' AND NOT (own > 0 AND rival = 0))
            OR (m.status = 'competing' AND NOT (own > 0 AND rival > 0))
            OR (m.status = 'other_network' AND NOT (own = 0 AND rival > 0))
            OR (m.status IN ('potential', 'vacant', 'unknown') AND (own > 0 OR rival > 0
                OR m.ld_minutes_own > 0 OR m.ld_minutes_rival > 0 OR m.revenue_month > 0))
            OR (m.ld_minutes_own > 0 AND m.fixed_lines_own = 0)
            OR (m.ld_minutes_rival > 0 AND m.fixed_lines_rival = 0)
            OR (m.revenue_month > 0) <> (m.status IN ('stock', 'competing'))
            OR (m.rival_operator IS NOT NULL) <> (m.status IN ('competing', 'other_network'))
            OR (m.customer_id IS NOT NULL) <> (m.status NOT IN ('vacant', 'unknown'))
            OR (m.surveyed_at IS NOT NULL) <> (m.status <> 'unknown')
            OR (m.contract_end IS NOT NULL AND m.status NOT IN ('stock', 'competing', 'other_network'))
        )""",
    )
    assert bad == []


def test_status_mix_and_values(db: Engine) -> None:
    mix = dict(q(db, "SELECT status, count(*) FROM market_record WHERE valid_to IS NULL GROUP BY status"))
    assert set(mix) == {"stock", "competing", "other_network", "potential", "vacant", "unknown"}
    assert 0.05 <= mix["unknown"] / UNITS <= 0.2
    assert 0.02 <= mix["vacant"] / UNITS <= 0.1
    row = q(
        db,
        """SELECT count(*) FILTER (WHERE revenue_month >= 3000),
                  count(*) FILTER (WHERE contract_end BETWEEN DATE '2026-11-22' AND DATE '2026-11-22' + 90),
                  min(contract_end), max(contract_end), min(surveyed_at), max(surveyed_at),
                  min(valid_from), max(valid_from),
                  count(*) FILTER (WHERE contact_phone !~ '^1[3-9][0-9]{9}$'),
                  count(DISTINCT rival_operator), count(DISTINCT main_services)
           FROM market_record""",
    )[0]
    assert row[0] > 0 and row[1] > 0
    assert row[2] >= BASE_DATE and row[3].year == 2028
    assert row[5] < VALID_FROM.date() and row[6] == row[7] == VALID_FROM
    assert row[8] == 0 and row[9] == 3 and row[10] >= 4
    floors = q(db, "SELECT count(*) FILTER (WHERE floor IS NOT NULL AND room IS NOT NULL) FROM address_unit")
    assert floors[0][0] > 0
    tower = q(
        db,
        """SELECT a.address, a.floor, a.room FROM address_unit a JOIN building b ON b.id = a.building_id
           WHERE b.type = 'office_tower' ORDER BY a.id LIMIT 1""",
    )[0]
    assert tower.address.endswith(f"{tower.floor}层{tower.room}室") and "市" in tower.address


def test_customers(db: Engine) -> None:
    rows = q(db, "SELECT source_code, credit_code, name, industry, segments, unified_code FROM customer")
    assert all(r.source_code.startswith("C") and len(r.source_code) == 8 for r in rows)
    assert all(demo_names.credit_code_valid(r.credit_code) for r in rows)
    segs = {s for r in rows for s in r.segments}
    assert {"important", "high_value", "group", "strategic"} <= segs
    assert all(("important" in r.segments) == (r.industry == "政府机关") for r in rows)
    assert len({r.industry for r in rows}) >= 10
    multi = scalar(
        db,
        """SELECT count(*) FROM (SELECT customer_id FROM market_record WHERE customer_id IS NOT NULL
           GROUP BY customer_id HAVING count(*) > 1) t""",
    )
    assert multi > 0
    # consolidation differs by city: some but not all records carry a unified code
    share = dict(
        q(
            db,
            """SELECT r.code, avg((u.unified_code IS NOT NULL)::int) FROM customer u
               JOIN region r ON r.id = u.city_id GROUP BY r.code""",
        )
    )
    assert 0 < min(share.values()) < max(share.values()) < 1


def test_territory_hierarchy(db: Engine) -> None:
    cities = q(
        db,
        """SELECT c.code, count(d.id) FROM region c JOIN region d ON d.parent_id = c.id
           WHERE c.level = 'city' AND NOT c.is_unassigned GROUP BY c.code ORDER BY count(d.id) DESC""",
    )
    assert len(cities) >= 3 and cities[0][1] >= 3
    assert scalar(db, "SELECT count(*) FROM region WHERE is_unassigned") == 0
    assert scalar(db, "SELECT count(*) FROM region WHERE level = 'city' AND city_id <> id") == 0
    assert scalar(db, "SELECT count(*) FROM region WHERE NOT ST_IsValid(geom)") == 0
    # each grid in one district, each drawn cell in its grid (up to 1 m² of rounding)
    assert (
        scalar(
            db,
            """SELECT count(*) FROM grid g JOIN region d ON d.id = g.district_id
               WHERE d.city_id <> g.city_id OR d.level <> 'district' OR NOT ST_IsValid(g.geom)
                  OR ST_Area(ST_Difference(g.geom, d.geom)::geography) > 1""",
        )
        == 0
    )
    assert (
        scalar(
            db,
            """SELECT count(*) FROM cell c JOIN grid g ON g.id = c.grid_id
               WHERE c.district_id <> g.district_id OR c.city_id <> g.city_id OR NOT ST_IsValid(c.geom)
                  OR (c.source = 'drawn' AND ST_Area(ST_Difference(c.geom, g.geom)::geography) > 1)""",
        )
        == 0
    )
    types = {r[0] for r in q(db, "SELECT DISTINCT type FROM cell WHERE source = 'drawn'")}
    assert types <= set(CELL_TYPES) and len(types) >= 5
    assert scalar(db, "SELECT count(*) FROM cell WHERE area_km2 <= 0") == 0


def test_drawn_cells_do_not_overlap(db: Engine) -> None:
    overlaps = q(
        db,
        """SELECT a.code, b.code, ST_Area(ST_Intersection(a.geom::geography, b.geom::geography)) AS m2
           FROM cell a JOIN cell b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)
           WHERE a.source = 'drawn' AND b.source = 'drawn'
             AND ST_Area(ST_Intersection(a.geom::geography, b.geom::geography)) > 1""",
    )
    assert overlaps == []


def test_every_unit_in_a_cell_of_its_city(db: Engine) -> None:
    assert (
        scalar(
            db,
            """SELECT count(*) FROM address_unit a JOIN cell c ON c.id = a.cell_id
               JOIN region r ON r.id = a.city_id
               WHERE c.city_id <> a.city_id OR NOT ST_Intersects(r.geom, a.geom)""",
        )
        == 0
    )
    # units linked to a building and a customer of their own city
    assert (
        scalar(
            db,
            """SELECT count(*) FROM address_unit a JOIN market_record m ON m.address_unit_id = a.id
               LEFT JOIN building b ON b.id = a.building_id LEFT JOIN customer u ON u.id = m.customer_id
               WHERE b.id IS NULL OR b.city_id <> a.city_id OR u.city_id <> a.city_id""",
        )
        == 0
    )
    # the H3 fallback is exercised: some units sit in generated cells
    assert scalar(
        db, "SELECT count(*) FROM address_unit a JOIN cell c ON c.id = a.cell_id WHERE c.source = 'h3'"
    )


def test_all_building_types(db: Engine) -> None:
    types = {r[0] for r in q(db, "SELECT DISTINCT type FROM building")}
    assert types == set(BUILDING_TYPES)
    assert scalar(db, "SELECT count(*) FROM building WHERE code !~ '^B[0-9]{6}$'") == 0


def test_penetration_varies_by_district(db: Engine) -> None:
    rows = q(
        db,
        """SELECT d.code,
                  count(*) FILTER (WHERE m.status IN ('stock', 'competing'))::float
                  / nullif(count(*) FILTER (WHERE m.status IN ('stock', 'competing', 'other_network',
                                                               'potential')), 0)
           FROM address_unit a JOIN market_record m ON m.address_unit_id = a.id AND m.valid_to IS NULL
           JOIN cell c ON c.id = a.cell_id JOIN region d ON d.id = c.district_id GROUP BY d.code""",
    )
    pen = [p for _, p in rows if p is not None]
    assert len(pen) >= 5
    assert max(pen) - min(pen) > 0.10


def test_build_is_deterministic_without_database() -> None:
    one, _ = build_cities(500, 11)
    two, _ = build_cities(500, 11)
    other, _ = build_cities(500, 12)
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a.u["lon"], b.u["lon"]) and a.c["name"] == b.c["name"]
        assert [g.wkb for _, g in a.cells] == [g.wkb for _, g in b.cells]
    assert not np.array_equal(one[0].u["lon"], other[0].u["lon"])
    assert sum(len(c.u["status"]) for c in one) == 500


# ------------------------------------------------------------------------------------------------
# the sales organisation (demo_org)
# ------------------------------------------------------------------------------------------------

COVERAGE_SQL = """
    SELECT r.code, count(*) AS cells,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM assignment a WHERE a.kind = 'cell' AND a.cell_id = x.id
               AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on))) AS covered,
           (SELECT count(*) FROM address_unit u WHERE u.city_id = r.id) AS units
    FROM cell x JOIN region r ON r.id = x.city_id
    GROUP BY r.id, r.code ORDER BY units DESC"""


def test_org_counts_in_the_summary(demos: dict[str, Any], db: Engine) -> None:
    summary = demos["summary_a"]
    for table in ORG_TABLES:
        assert summary[table] == scalar(db, f"SELECT count(*) FROM {table}") > 0, table
    assert any("organisation" in m for m in demos["progress_a"])


def test_org_rollout_differs_by_city(db: Engine) -> None:
    rows = q(db, COVERAGE_SQL, on=BASE_DATE)
    share = [r.covered / r.cells for r in rows]
    assert len(share) == 3
    assert share[0] >= 0.95  # the main city has a grid view with its sales org
    assert 0.5 <= share[1] <= 0.85 and 0.15 <= share[2] <= 0.45
    # so cities_with_grid_view and networks_with_customer_view are neither 0 % nor 100 %
    assert sum(s >= 0.95 for s in share) == 1 and sum(s == 1.0 for s in share) == 1
    # before the roll-out started nobody was assigned
    assert sum(r.covered for r in q(db, COVERAGE_SQL, on=ORG_FROM - dt.timedelta(days=1))) == 0


def test_org_structure(db: Engine) -> None:
    per_city = q(
        db,
        """SELECT c.code,
                  count(*) FILTER (WHERE o.kind = 'city_dept') AS depts,
                  count(*) FILTER (WHERE o.kind = 'regional_centre') AS centres,
                  (SELECT count(*) FROM region d
                   WHERE d.city_id = c.id AND d.level = 'district') AS districts,
                  count(*) FILTER (WHERE o.kind = 'specialist_centre') AS specialist_centres,
                  count(*) FILTER (WHERE o.kind = 'specialist_team') AS teams
           FROM org_unit o JOIN region c ON c.id = o.city_id GROUP BY c.id, c.code""",
    )
    assert len(per_city) == 3
    for r in per_city:
        assert r.depts == 1 and r.centres == r.districts and r.specialist_centres >= 2 and r.teams >= 2, r
    # regional centres sit in a district of their city under the 政企部; teams under a specialist centre
    assert (
        scalar(
            db,
            """SELECT count(*) FROM org_unit o LEFT JOIN region d ON d.id = o.district_id
               LEFT JOIN org_unit p ON p.id = o.parent_id
               WHERE (o.kind = 'regional_centre' AND (d.city_id IS DISTINCT FROM o.city_id
                                                      OR p.kind IS DISTINCT FROM 'city_dept'))
                  OR (o.kind = 'specialist_team' AND p.kind IS DISTINCT FROM 'specialist_centre')
                  OR (o.kind = 'specialist_centre' AND p.kind IS DISTINCT FROM 'city_dept')
                  OR (o.kind = 'city_dept' AND o.parent_id IS NOT NULL)
                  OR p.city_id <> o.city_id""",
        )
        == 0
    )
    posts = {r[0] for r in q(db, "SELECT DISTINCT post FROM staff")}
    assert {
        "客户经理",
        "网格经理",
        "区局营销中心主任",
        "专业营销中心负责人",
        "市场经理",
        "地市政企部经理",
    } <= posts
    assert scalar(db, "SELECT count(DISTINCT name) = count(*) FROM staff")
    assert scalar(db, "SELECT count(*) FROM staff WHERE name !~ '^[\u4e00-\u9fff]{2,3}$'") == 0


def test_org_characteristic_grids(db: Engine) -> None:
    grids = q(
        db,
        """SELECT c.code AS city, f.code, f.name, f.type, f.industries, count(fc.cell_id) AS cells,
                  count(DISTINCT x.district_id) AS districts,
                  count(*) FILTER (WHERE x.type IS DISTINCT FROM f.type) AS off_type,
                  EXISTS (SELECT 1 FROM cell y WHERE y.city_id = f.city_id AND y.type = f.type) AS typed
           FROM feature_grid f JOIN region c ON c.id = f.city_id
           LEFT JOIN feature_grid_cell fc ON fc.feature_grid_id = f.id LEFT JOIN cell x ON x.id = fc.cell_id
           GROUP BY c.code, f.id ORDER BY f.code""",
    )
    main = [g for g in grids if g.city == "HZ"]
    assert len(main) == 8 and 2 <= len([g for g in grids if g.city == "SX"]) <= 4
    names = {g.name for g in main}
    assert {
        "杭州全市校园",
        "杭州医院",
        "杭州宾馆酒店",
        "杭州党政军",
        "杭州专业市场集群",
        "杭州商务楼宇集群",
    } <= names
    assert any(g.districts >= 2 for g in main)  # characteristic grids cut across districts
    industries = {i for g in grids for i in g.industries}
    assert industries <= set(demo_names.INDUSTRIES) and {"教育", "医疗", "酒店", "政府机关"} <= industries
    for g in grids:
        # member cells are of the grid's type, unless the city has no cell of that type
        assert g.off_type == 0 or not g.typed, g
    # every characteristic grid is owned by a specialist team and its lead
    owners = q(
        db,
        """SELECT f.code, o.kind, s.post, s.org_unit_id = o.id AS own_team FROM feature_grid f
           JOIN assignment a ON a.feature_grid_id = f.id JOIN staff s ON s.id = a.staff_id
           JOIN org_unit o ON o.id = a.org_unit_id""",
    )
    assert len(owners) == len(grids)
    assert all(o.kind == "specialist_team" and o.post == "专业团队长" and o.own_team for o in owners)


def test_org_assignments(db: Engine) -> None:
    kinds = dict(q(db, "SELECT kind, count(*) FROM assignment GROUP BY kind"))
    assert set(kinds) == {"cell", "grid", "feature_grid", "customer"}
    # every target lies in the city of the staff member holding it
    assert (
        scalar(
            db,
            """SELECT count(*) FROM assignment a JOIN staff s ON s.id = a.staff_id
               LEFT JOIN cell x ON x.id = a.cell_id LEFT JOIN grid g ON g.id = a.grid_id
               LEFT JOIN feature_grid f ON f.id = a.feature_grid_id
               LEFT JOIN customer u ON u.id = a.customer_id
               WHERE coalesce(x.city_id, g.city_id, f.city_id, u.city_id) <> s.city_id""",
        )
        == 0
    )
    # every grid with an account manager in one of its cells has a grid manager
    assert (
        scalar(
            db,
            """SELECT count(DISTINCT x.grid_id) FROM assignment a JOIN cell x ON x.id = a.cell_id
               WHERE NOT EXISTS (
                   SELECT 1 FROM assignment b WHERE b.kind = 'grid' AND b.grid_id = x.grid_id)""",
        )
        == 0
    )
    # dates: all from 2026-01-01, open, but the one hand-over (history)
    dates = q(
        db, "SELECT valid_from, valid_to, count(*) FROM assignment GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST"
    )
    assert [(d[0], d[1]) for d in dates] == [
        (ORG_FROM, None),
        (ORG_FROM, HANDOVER_END),
        (HANDOVER_END + dt.timedelta(days=1), None),
    ]
    assert dates[1][2] == dates[2][2] == 1
    handed = q(
        db,
        """SELECT a.cell_id, b.staff_id <> a.staff_id FROM assignment a JOIN assignment b
           ON b.cell_id = a.cell_id AND b.valid_from = a.valid_to + 1 WHERE a.valid_to IS NOT NULL""",
    )
    assert len(handed) == 1 and handed[0][1]
    # key customers go to the account manager of a cell holding one of their sites
    assert (
        scalar(
            db,
            """SELECT count(*) FROM assignment a WHERE a.kind = 'customer' AND NOT EXISTS (
                   SELECT 1 FROM market_record m JOIN address_unit u ON u.id = m.address_unit_id
                   JOIN assignment c ON c.kind = 'cell' AND c.cell_id = u.cell_id AND c.staff_id = a.staff_id
                   WHERE m.customer_id = a.customer_id)""",
        )
        == 0
    )
