"""The hand-made world of the field-work tests (rosters, visits, sweeps, follow-ups).

On the tiny territory (tests.helpers.make_tiny_territory: city C, district D, grid G with cells A
and B), with T = today in Asia/Shanghai:

    customers  CU1 人民医院 (hospital), CU2 城商银行 (finance), CU3 "=HYPERLINK(...)" (formula-like)
    building   T1 测试大厦, office tower, 3 floors, in cell A
      t101  floor 1, room 101   stock          CU1  phone 13800001111  contract ends T + 30
      t102  floor 1, room 102   other_network  CU3  phone 13900002222
      t110  floor 1, room 10    potential      —    phone 13700003333   (room "10" sorts before "101")
      t301  floor 3, room 301   stock          —    no phone            contract ends T + 200
      t0    no floor            vacant         —
    cell A (outside T1)
      a1    unknown
      a2    stock          CU2 (finance)  phone 13600004444
    cell B
      b1    potential      CU1 (hospital)
      b2    stock          —
    characteristic grids
      F1  member cell B + industry finance → b1, b2 (cell), a2 (industry)
      F2  industry hospital                → t101, b1
    logins (password PASSWORD)
      fw-admin (admin), fw-cm (city_manager, C), fw-pl (planner, C), fw-gm (grid_manager of G),
      fw-am (account_manager: cell B + customer CU1), fw-am2 (account_manager: cell B),
      fw-sl (specialist_lead of F1)
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, text

from gridmarket.grids import auth
from gridmarket.grids.db import drop_database
from gridmarket.grids.scope import today
from gridmarket.grids.units import load_units
from tests.helpers import make_tiny_territory, unit

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
PASSWORD = "fieldwork-password-1"
T = today(TZ)
FORMULA_NAME = '=HYPERLINK("http://x","点我")'
LOADED = dt.datetime(2025, 1, 1, tzinfo=SH)

UNITS = [
    unit("t101", 120.0051, 30.0051, "stock", building_code="T1", floor=1, room="101", customer_code="CU1",
         contact_name="张三", contact_phone="13800001111", main_services="固话+宽带", fixed_lines_own=2,
         broadband_own=1, ld_minutes_own=120, revenue_month=880, contract_end=T + dt.timedelta(days=30)),
    unit("t102", 120.0052, 30.0052, "other_network", building_code="T1", floor=1, room="102",
         customer_code="CU3", contact_name="-李四", contact_phone="13900002222", fixed_lines_rival=1,
         rival_operator="中国移动"),
    unit("t110", 120.0053, 30.0053, "potential", building_code="T1", floor=1, room="10",
         contact_phone="13700003333"),
    unit("t301", 120.0054, 30.0054, "stock", building_code="T1", floor=3, room="301", fixed_lines_own=1,
         contract_end=T + dt.timedelta(days=200)),
    unit("t0", 120.0055, 30.0055, "vacant", building_code="T1"),
    unit("a1", 120.001, 30.001, "unknown"),
    unit("a2", 120.002, 30.002, "stock", customer_code="CU2", contact_phone="13600004444", fixed_lines_own=1),
    unit("b1", 120.011, 30.001, "potential", customer_code="CU1"),
    unit("b2", 120.012, 30.002, "stock", fixed_lines_own=1),
]  # fmt: skip


def build_world(engine: Engine) -> Engine:
    """Create the world of the module docstring in the (fresh, migrated) database."""
    make_tiny_territory(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (city_id, source_code, name, industry) VALUES "
                "(2, 'CU1', '人民医院', 'hospital'), (2, 'CU2', '城商银行', 'finance'), "
                "(2, 'CU3', :formula, 'retail')"
            ),
            {"formula": FORMULA_NAME},
        )
        conn.execute(
            text(
                "INSERT INTO building (city_id, code, name, type, floors, geom) VALUES "
                "(2, 'T1', '测试大厦', 'office_tower', 3, ST_SetSRID(ST_MakePoint(120.005, 30.005), 4326))"
            )
        )
        load_units(conn, UNITS, source="import", valid_from=LOADED)
        conn.execute(
            text(
                "INSERT INTO feature_grid (code, name, city_id, type, industries) VALUES "
                "('F1', '金融市场', 2, 'specialist_market', ARRAY['finance']), "
                "('F2', '医院网格', 2, 'hospital', ARRAY['hospital'])"
            )
        )
        conn.execute(
            text(
                "INSERT INTO feature_grid_cell (feature_grid_id, cell_id) "
                "SELECT f.id, c.id FROM feature_grid f, cell c WHERE f.code = 'F1' AND c.code = 'B'"
            )
        )
        for code in ("S-AM", "S-AM2", "S-GM", "S-SL"):
            conn.execute(
                text("INSERT INTO staff (code, name, city_id) VALUES (:c, '测试员工', 2)"), {"c": code}
            )
        since = dt.date(2025, 1, 1)
        for staff, kind, col, target_sql in (
            ("S-AM", "cell", "cell_id", "SELECT id FROM cell WHERE code = 'B'"),
            ("S-AM", "customer", "customer_id", "SELECT id FROM customer WHERE source_code = 'CU1'"),
            ("S-AM2", "cell", "cell_id", "SELECT id FROM cell WHERE code = 'B'"),
            ("S-GM", "grid", "grid_id", "SELECT id FROM grid WHERE code = 'G'"),
            ("S-SL", "feature_grid", "feature_grid_id", "SELECT id FROM feature_grid WHERE code = 'F1'"),
        ):
            conn.execute(
                text(
                    f"INSERT INTO assignment (staff_id, kind, {col}, valid_from) "
                    f"VALUES ((SELECT id FROM staff WHERE code = :s), :k, ({target_sql}), :f)"
                ),
                {"s": staff, "k": kind, "f": since},
            )
        auth.add_user(conn, "fw-admin", "admin", PASSWORD)
        auth.add_user(conn, "fw-cm", "city_manager", PASSWORD, region_code="C")
        auth.add_user(conn, "fw-pl", "planner", PASSWORD, region_code="C")
        auth.add_user(conn, "fw-gm", "grid_manager", PASSWORD, staff_code="S-GM")
        auth.add_user(conn, "fw-am", "account_manager", PASSWORD, staff_code="S-AM")
        auth.add_user(conn, "fw-am2", "account_manager", PASSWORD, staff_code="S-AM2")
        auth.add_user(conn, "fw-sl", "specialist_lead", PASSWORD, staff_code="S-SL")
    return engine


def write_version(engine: Engine, external_id: str, **changes: object) -> None:
    """Write a new record version as a field edit does: close the current one now, insert version + 1."""
    with engine.begin() as conn:
        cur = (
            conn.execute(
                text(
                    "SELECT r.* FROM market_record r JOIN address_unit a ON a.id = r.address_unit_id "
                    "WHERE a.external_id = :e AND r.valid_to IS NULL"
                ),
                {"e": external_id},
            )
            .mappings()
            .one()
        )
        now = conn.scalar(text("SELECT now()"))
        conn.execute(text("UPDATE market_record SET valid_to = :w WHERE id = :i"), {"w": now, "i": cur["id"]})
        new = {k: v for k, v in cur.items() if k != "id"}
        new.update(version=cur["version"] + 1, valid_from=now, valid_to=None, source="field")
        new.update(changes)
        cols = ", ".join(new)
        conn.execute(
            text(f"INSERT INTO market_record ({cols}) VALUES ({', '.join(':' + c for c in new)})"), new
        )


@contextmanager
def clone(template: Engine) -> Iterator[Engine]:
    """A copy of the database of ``template`` (CREATE DATABASE … TEMPLATE, a file copy), dropped after.

    Far quicker than migrating and building the world again for every test that changes it.
    """
    template.dispose()  # a template database may have no other connection
    url = template.url.set(database=f"{template.url.database}_c{secrets.token_hex(3)}")
    admin = create_engine(template.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            q = conn.dialect.identifier_preparer.quote
            conn.execute(
                text(f"CREATE DATABASE {q(url.database or '')} TEMPLATE {q(template.url.database or '')}")
            )
    finally:
        admin.dispose()
    eng = create_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()
        drop_database(url.render_as_string(hide_password=False))
