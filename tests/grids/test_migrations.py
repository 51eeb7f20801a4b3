"""Only migrations change the schema: the migrated database must equal the models."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from geoalchemy2 import alembic_helpers

from gridmarket.grids import migrate
from gridmarket.grids.models import Base


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and reflected and compare_to is None:
        return False  # PostGIS's own tables
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_models_and_migrations_agree(new_database: Callable[[str], Engine]) -> None:
    eng = new_database("mig")
    with eng.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_is_idempotent_and_installs_postgis(new_database: Callable[[str], Engine]) -> None:
    eng = new_database("mig2")
    head = migrate.current_revision(eng)
    migrate.upgrade(eng)  # a second run changes nothing
    assert migrate.current_revision(eng) == head
    with eng.connect() as conn:
        assert conn.scalar(text("SELECT extname FROM pg_extension WHERE extname = 'postgis'")) == "postgis"
        assert (
            conn.scalar(
                text(
                    "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
                )
            )
            == "UTF8"
        )
    tables = set(inspect(eng).get_table_names())
    assert {"region", "grid", "cell", "building", "address_unit", "market_record", "app_user"} <= tables


def test_every_large_table_carries_city_id(new_database: Callable[[str], Engine]) -> None:
    eng = new_database("mig3")
    insp = inspect(eng)
    for table in ("grid", "cell", "building", "customer", "address_unit", "market_record"):
        cols = {c["name"]: c for c in insp.get_columns(table)}
        assert "city_id" in cols and not cols["city_id"]["nullable"], table
    indexed = {tuple(i["column_names"]) for i in insp.get_indexes("address_unit")}
    assert ("cell_id",) in indexed and ("geom",) in indexed and ("h3_12",) in indexed
