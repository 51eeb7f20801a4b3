"""metrics aggregates: per-cell sums kept current by statement triggers with append-only deltas

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:00:00

The design is described in ``gridmarket/grids/metrics.py`` (module docstring). In short:

* ``cell_metric`` (per cell) and ``cell_h3_metric`` (per cell and resolution-8 H3 parent of the
  units) hold the additive sums METRICS.md needs; ``cell_rival`` (per rival operator) and
  ``cell_expiry`` (per contract end day) hold the keyed counts of rival_mix and expiring_90d.
  These "base" tables are written only by compaction (``metrics.compact_metrics``).
* every change of ``market_record`` (INSERT / UPDATE / DELETE) and every change of an address
  unit's ``cell_id``, ``h3_12`` or ``retired_at`` appends signed rows to ``cell_metric_delta`` in
  the same transaction, from STATEMENT-level triggers reading the transition tables: one
  statement of any size gives one delta row per (cell, H3-8 parent[, rival | contract end]).
  Writers only ever INSERT deltas, so concurrent writers in one cell never touch a common row.
* reads add the base and the pending deltas.

Trigger costs measured on a busy 2-vCPU VM (PostgreSQL 15): a one-row statement (half of a field
edit) pays about 100-150 µs for its trigger (statement trigger with transition tables ≈ 50 µs,
the lock and the delta row the rest); 16 writers editing units of one cell reach ≈ 0.6× the
throughput of bare primary-key UPDATEs (which fire the UPDATE trigger too, writing nothing). A
50,000-row statement pays ≈ 17-26 µs a row (closing 50,000 versions: ≈ 1.3 s of trigger for a
≈ 1.5 s UPDATE; inserting them: ≈ 0.85 s for a ≈ 1 s INSERT). Plan of the large path (INSERT of
50,000 versions): CTE ch = Named Tuplestore Scan; CTE u = LockRows <- Sort <- Nested Loop
(HashAggregate of ch ⋈ Index Scan using address_unit_pkey); GroupAggregate <- Sort <- Hash Join
ch ⋈ u — 19,835 delta rows.

The trigger bodies are written out here (not loaded from the package) so that this migration
keeps doing what it did when later code changes. metrics_epoch (one row) is bumped by statement
triggers on region, grid and cell and by compaction: the read cache of grids/metrics.py checks
it together with the number of delta rows.
"""

# The SQL below is assembled from constants of this file only (no input at all).
# ruff: noqa: S608

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSON

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (column, SQL type, contribution of one record x signed by x.sg)
_DEMAND = "x.status IN ('stock', 'competing', 'other_network', 'potential')"
SUMS: list[tuple[str, str, str]] = [
    ("units", "bigint", "x.sg"),
    ("n_stock", "bigint", "x.sg * (x.status = 'stock')::int"),
    ("n_competing", "bigint", "x.sg * (x.status = 'competing')::int"),
    ("n_other_network", "bigint", "x.sg * (x.status = 'other_network')::int"),
    ("n_potential", "bigint", "x.sg * (x.status = 'potential')::int"),
    ("n_vacant", "bigint", "x.sg * (x.status = 'vacant')::int"),
    ("n_unknown", "bigint", "x.sg * (x.status = 'unknown')::int"),
    ("n_fixed_own", "bigint", f"x.sg * ({_DEMAND} AND x.fixed_lines_own > 0)::int"),
    ("n_broadband_own", "bigint", f"x.sg * ({_DEMAND} AND x.broadband_own > 0)::int"),
    ("ld_minutes_own", "numeric", "x.sg * x.ld_minutes_own"),
    ("ld_minutes_rival", "numeric", "x.sg * x.ld_minutes_rival"),
    ("lines_own", "bigint", "x.sg * (x.fixed_lines_own + x.broadband_own)"),
    (
        "lines_all",
        "bigint",
        "x.sg * (x.fixed_lines_own + x.broadband_own + x.fixed_lines_rival + x.broadband_rival)",
    ),
    ("revenue", "numeric", "x.sg * x.revenue_month"),
]
NAMES = [n for n, _, _ in SUMS]
RECORD_FIELDS = (
    "address_unit_id, status, fixed_lines_own, fixed_lines_rival, broadband_own, broadband_rival, "
    "ld_minutes_own, ld_minutes_rival, revenue_month, rival_operator, contract_end"
)
RIVAL_KEY = "coalesce(nullif(btrim(x.rival_operator), ''), 'unknown')"
RIVALRY = "x.status IN ('competing', 'other_network')"
# the resolution-8 parent of a resolution-12 H3 index, by its bit layout (geo.h3util.parent_sql)
H3_8 = "((({e}) & ~(15::bigint << 52)) | (8::bigint << 52) | ((1::bigint << 21) - 1))"


def _sum_columns(kind: str) -> list[sa.Column]:  # type: ignore[type-arg]
    cols = []
    for name, typ, _ in SUMS:
        t = sa.BigInteger() if typ == "bigint" else sa.Numeric()
        if kind == "keyed" and name != "units":
            continue
        cols.append(sa.Column(name, t, server_default=sa.text("0"), nullable=False))
    return cols


# extra delta columns: the rival_mix and expiring_90d keys of the record, with their signed counts
KEYED = (
    ("rival", f"CASE WHEN {RIVALRY} THEN {RIVAL_KEY} END"),
    ("n_rival", f"CASE WHEN {RIVALRY} THEN x.sg ELSE 0 END"),
    ("contract_end", f"CASE WHEN {RIVALRY} THEN x.contract_end END"),
    ("n_expiry", f"CASE WHEN {RIVALRY} AND x.contract_end IS NOT NULL THEN x.sg ELSE 0 END"),
)
DELTA_COLS = ", ".join(["cell_id", "h3_8", *NAMES, *(n for n, _ in KEYED)])
SMALL = 100
"""Statements changing at most this many rows write one delta row per record (no grouping)."""


def _delta_insert(source: str, grouped: bool) -> str:
    """INSERT the signed contributions of ``source`` (rows x: sg, cell_id, h3_8, record fields) as deltas.

    A delta row carries the sums of its records and, for competing / other-network ones, their
    rival operator and contract end with signed counts. Small statements write a row per
    record; large ones one row per (cell, H3-8, rival, contract end). Groups that cancel out
    are written too: every statement that changed a figure adds at least one row, which is what
    the read cache's data version counts on (metrics._data_version).
    """
    exprs = [e for _, _, e in SUMS] + [e for _, e in KEYED]
    if not grouped:
        return (
            f"INSERT INTO cell_metric_delta ({DELTA_COLS})\n"
            f"    SELECT x.cell_id, x.h3_8, {', '.join(exprs)}\n    FROM ({source}) x"
        )
    sums = [f"sum({e})" for _, _, e in SUMS]
    keys = [f"{KEYED[0][1]}", f"sum({KEYED[1][1]})", f"{KEYED[2][1]}", f"sum({KEYED[3][1]})"]
    return (
        f"INSERT INTO cell_metric_delta ({DELTA_COLS})\n"
        f"    SELECT x.cell_id, x.h3_8, {', '.join(sums)}, {keys[0]}, {keys[1]}, {keys[2]}, {keys[3]}\n"
        f"    FROM ({source}) x\n"
        f"    GROUP BY x.cell_id, x.h3_8, {keys[0]}, {keys[2]}"
    )


# Large statements: no JIT (the row estimates of joins over transition tables are far too high
# and make PostgreSQL spend seconds compiling) and room to sort in memory; both set for the
# one statement and restored, so the caller's transaction keeps its own settings.
_LARGE_SETTINGS = (
    "jit_was := current_setting('jit'); work_mem_was := current_setting('work_mem');\n"
    "        PERFORM set_config('jit', 'off', true), set_config('work_mem', '64MB', true);"
)
_RESTORE_SETTINGS = "PERFORM set_config('jit', jit_was, true), set_config('work_mem', work_mem_was, true);"


def _record_trigger_body(changes: str, table: str) -> str:
    """Body of a market_record trigger: ``changes`` selects (sg, record fields) from the transition tables.

    The units are locked FOR SHARE before their cell is read: a concurrent move of a unit to
    another cell (UPDATE of address_unit, a FOR NO KEY UPDATE lock) then either waits for this
    transaction or has committed, and then the locking read returns its new cell. So each delta
    is booked in the cell the unit is in when the writer commits, and the unit trigger's deltas
    (moving the unit's current record between cells) add up with ours. Units are locked whether
    retired or not (a concurrent un-retire must wait too); retired units count nothing.

    Each statement of the function keeps the plan made at its first run, sized by the
    transition table of that run; small and large statements therefore take separate
    statements (nested loops vs hash joins and grouping).
    """
    h3 = H3_8.format(e="u.h3_12")
    small = (
        f"SELECT ch.*, u.cell_id, {h3} AS h3_8 FROM ({changes}) ch "
        "JOIN LATERAL (SELECT a.id, a.cell_id, a.h3_12, a.retired_at FROM address_unit a "
        "WHERE a.id = ch.address_unit_id FOR SHARE) u ON true WHERE u.retired_at IS NULL"
    )
    large = (
        f"SELECT ch.*, u.cell_id, {h3} AS h3_8 FROM ch "
        "JOIN u ON u.id = ch.address_unit_id WHERE u.retired_at IS NULL"
    )
    return f"""
DECLARE
    jit_was text;
    work_mem_was text;
BEGIN
    IF (SELECT count(*) FROM {table}) <= {SMALL} THEN
        {_delta_insert(small, grouped=False)};
    ELSE
        {_LARGE_SETTINGS}
        WITH ch AS MATERIALIZED ({changes}),
        u AS MATERIALIZED (
            SELECT a.id, a.cell_id, a.h3_12, a.retired_at FROM address_unit a
            WHERE a.id IN (SELECT ch.address_unit_id FROM ch)
            ORDER BY a.id FOR SHARE
        )
        {_delta_insert(large, grouped=True)};
        {_RESTORE_SETTINGS}
    END IF;
    RETURN NULL;
END"""


_FIELD_LIST = [f.strip() for f in RECORD_FIELDS.split(",")]
_FIELDS_O = ", ".join("o." + f for f in _FIELD_LIST)
_FIELDS_N = ", ".join("n." + f for f in _FIELD_LIST)
_DIFF = f"({_FIELDS_O}) IS DISTINCT FROM ({_FIELDS_N})"

RECORD_INSERT = _record_trigger_body(
    f"SELECT 1 AS sg, {_FIELDS_N} FROM new_rows n WHERE n.valid_to IS NULL", "new_rows"
)
# an update: minus the old row if it was current, plus the new one if it is; nothing when no
# field the metrics read changed (a record moving to another city, a contact edited)
# a third, zero row marks an edit of the validity of past versions (history: period and as-of
# figures change though no current sum does), so that the read cache sees a change
_HISTORY = (
    "o.valid_to IS NOT NULL AND n.valid_to IS NOT NULL AND "
    "(o.valid_from, o.valid_to, o.address_unit_id, o.status) IS DISTINCT FROM "
    "(n.valid_from, n.valid_to, n.address_unit_id, n.status)"
)
RECORD_UPDATE = _record_trigger_body(
    "SELECT v.* FROM old_rows o JOIN new_rows n ON n.id = o.id "
    f"CROSS JOIN LATERAL (SELECT {_DIFF} AS diff OFFSET 0) f CROSS JOIN LATERAL (VALUES "
    f"(o.valid_to IS NULL AND (n.valid_to IS NOT NULL OR f.diff), -1, {_FIELDS_O}), "
    f"(n.valid_to IS NULL AND (o.valid_to IS NOT NULL OR f.diff), 1, {_FIELDS_N}), "
    f"({_HISTORY}, 0, {_FIELDS_N})"
    f") v(keep, sg, {', '.join(_FIELD_LIST)}) "
    f"WHERE (o.valid_to IS NULL OR n.valid_to IS NULL OR {_HISTORY}) AND v.keep",
    "new_rows",
)
RECORD_DELETE = _record_trigger_body(
    f"SELECT -1 AS sg, {_FIELDS_O} FROM old_rows o WHERE o.valid_to IS NULL", "old_rows"
)

_R_FIELDS = ", ".join("r." + f for f in _FIELD_LIST if f != "address_unit_id")
# a unit changing cell, H3 index or retirement: its current record moves between cells
_UNIT_MOVES = f"""
        SELECT -1 AS sg, o.cell_id, {H3_8.format(e="o.h3_12")} AS h3_8, {_R_FIELDS}
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN market_record r ON r.address_unit_id = o.id AND r.valid_to IS NULL
        WHERE o.retired_at IS NULL
          AND (o.cell_id, o.h3_12, n.retired_at IS NULL) IS DISTINCT FROM (n.cell_id, n.h3_12, true)
        UNION ALL
        SELECT 1, n.cell_id, {H3_8.format(e="n.h3_12")}, {_R_FIELDS}
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        JOIN market_record r ON r.address_unit_id = n.id AND r.valid_to IS NULL
        WHERE n.retired_at IS NULL
          AND (o.cell_id, o.h3_12, o.retired_at IS NULL) IS DISTINCT FROM (n.cell_id, n.h3_12, true)"""
UNIT_UPDATE = f"""
DECLARE
    jit_was text;
    work_mem_was text;
BEGIN
    IF (SELECT count(*) FROM new_rows) <= {SMALL} THEN
        {_delta_insert(_UNIT_MOVES, grouped=False)};
    ELSE
        {_LARGE_SETTINGS}
        {_delta_insert(_UNIT_MOVES, grouped=True)};
        {_RESTORE_SETTINGS}
    END IF;
    RETURN NULL;
END"""

TRUNCATE = """
BEGIN
    TRUNCATE cell_metric, cell_h3_metric, cell_rival, cell_expiry, cell_metric_delta;
    UPDATE metrics_epoch SET epoch = epoch + 1;
    RETURN NULL;
END"""
# a change of the territory (names, codes, areas, cells moving between grids, districts, cities)
# or of the aggregates' base tables (compaction, recount) bumps the epoch of the read cache
BUMP = """
BEGIN
    UPDATE metrics_epoch SET epoch = epoch + 1;
    RETURN NULL;
END"""

FUNCTIONS = {
    "metrics_record_insert": RECORD_INSERT,
    "metrics_record_update": RECORD_UPDATE,
    "metrics_record_delete": RECORD_DELETE,
    "metrics_unit_update": UNIT_UPDATE,
    "metrics_truncate": TRUNCATE,
    "metrics_bump_epoch": BUMP,
}
TRIGGERS = [
    ("metrics_record_insert", "market_record", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
    (
        "metrics_record_update",
        "market_record",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("metrics_record_delete", "market_record", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
    (
        "metrics_unit_update",
        "address_unit",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("metrics_truncate", "market_record", "TRUNCATE", ""),
]
EPOCH_TABLES = ("region", "grid", "cell")

# the base tables from the current records, in one pass (also what metrics.recount_metrics does)
_CURRENT = (
    "SELECT 1 AS sg, a.cell_id, " + H3_8.format(e="a.h3_12") + " AS h3_8, r.* "
    "FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
    "WHERE a.retired_at IS NULL"
)
_ALL_SUMS = ", ".join(f"sum({e})" for _, _, e in SUMS)
# cell_metric.rival_mix: the per-cell rival_mix object, refreshed by compaction from cell_rival
RIVAL_MIX_SQL = (
    "UPDATE cell_metric b SET rival_mix = coalesce((SELECT json_object_agg(x.rival, x.n ORDER BY x.rival) "
    "FROM (SELECT v.rival, sum(v.units) AS n FROM cell_rival v WHERE v.cell_id = b.cell_id "
    "GROUP BY v.rival HAVING sum(v.units) <> 0) x), '{}'::json)"
)
BACKFILL = [
    f"CREATE TEMP TABLE metrics_backfill ON COMMIT DROP AS {_CURRENT}",
    f"INSERT INTO cell_h3_metric (cell_id, h3_8, {', '.join(NAMES)}) "
    f"SELECT x.cell_id, x.h3_8, {_ALL_SUMS} FROM metrics_backfill x GROUP BY x.cell_id, x.h3_8",
    f"INSERT INTO cell_metric (cell_id, {', '.join(NAMES)}) "
    f"SELECT cell_id, {', '.join(f'sum({n})' for n in NAMES)} FROM cell_h3_metric GROUP BY cell_id",
    f"INSERT INTO cell_rival (cell_id, h3_8, rival, units) "
    f"SELECT x.cell_id, x.h3_8, {RIVAL_KEY}, count(*) FROM metrics_backfill x WHERE {RIVALRY} GROUP BY 1, 2, 3",
    "INSERT INTO cell_expiry (cell_id, h3_8, contract_end, units) "
    f"SELECT x.cell_id, x.h3_8, x.contract_end, count(*) FROM metrics_backfill x "
    f"WHERE {RIVALRY} AND x.contract_end IS NOT NULL GROUP BY 1, 2, 3",
    RIVAL_MIX_SQL,
    "DROP TABLE metrics_backfill",
]


def upgrade() -> None:
    """Create the metric aggregates, their triggers and the indexes of the as-of and period reads."""
    op.create_table(
        "metrics_epoch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id = 1", name="metrics_epoch_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO metrics_epoch (id, epoch) VALUES (1, 0)")
    op.create_table(
        "cell_metric",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        *_sum_columns("sums"),
        sa.Column("rival_mix", JSON(), server_default=sa.text("'{}'::json"), nullable=False),
        sa.Column("exp_day", sa.Date(), nullable=True),
        sa.Column("exp_n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("cell_id"),
    )
    op.create_table(
        "cell_h3_metric",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("h3_8", sa.BigInteger(), nullable=False),
        *_sum_columns("sums"),
        sa.PrimaryKeyConstraint("cell_id", "h3_8"),
    )
    op.create_table(
        "cell_rival",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("h3_8", sa.BigInteger(), nullable=False),
        sa.Column("rival", sa.Text(), nullable=False),
        *_sum_columns("keyed"),
        sa.PrimaryKeyConstraint("cell_id", "h3_8", "rival"),
    )
    op.create_table(
        "cell_expiry",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("h3_8", sa.BigInteger(), nullable=False),
        sa.Column("contract_end", sa.Date(), nullable=False),
        *_sum_columns("keyed"),
        sa.PrimaryKeyConstraint("cell_id", "h3_8", "contract_end"),
    )
    op.create_index(
        "cell_expiry_contract_end",
        "cell_expiry",
        ["contract_end"],
        postgresql_include=["cell_id", "h3_8", "units"],
    )
    op.create_table(
        "cell_metric_delta",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("h3_8", sa.BigInteger(), nullable=False),
        *_sum_columns("sums"),
        sa.Column("rival", sa.Text(), nullable=True),
        sa.Column("n_rival", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("n_expiry", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    # the delta table is insert-then-delete: vacuum it often
    for table in ("cell_metric_delta", "cell_metric", "cell_h3_metric", "cell_rival", "cell_expiry"):
        # insert-then-delete (deltas) or rewritten by every compaction (base): vacuum them often, so
        # their scans stay short and index-only scans stay index-only
        op.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
            "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_threshold = 1000, "
            "autovacuum_analyze_scale_factor = 0.05)"
        )
    # the units whose state may differ between two instants (as-of and period reads)
    op.create_index(
        "market_record_valid_from", "market_record", ["valid_from"], postgresql_include=["address_unit_id"]
    )
    op.create_index(
        "market_record_valid_to",
        "market_record",
        ["valid_to"],
        postgresql_include=["address_unit_id"],
        postgresql_where=sa.text("valid_to IS NOT NULL"),
    )
    op.create_index(
        "address_unit_retired_at",
        "address_unit",
        ["retired_at"],
        postgresql_where=sa.text("retired_at IS NOT NULL"),
    )
    op.create_index("customer_city_industry", "customer", ["city_id", "industry"])
    for name, body in FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body${body}$body$")
    for name, table, event, referencing in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    for table in EPOCH_TABLES:
        op.execute(
            f"CREATE TRIGGER metrics_epoch_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION metrics_bump_epoch()"
        )
    for stmt in BACKFILL:
        op.execute(stmt)


def downgrade() -> None:
    """Drop the aggregates, triggers and indexes."""
    for name, table, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for table in EPOCH_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS metrics_epoch_{table} ON {table}")
    for name in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("customer_city_industry", table_name="customer")
    op.drop_index("address_unit_retired_at", table_name="address_unit")
    op.drop_index("market_record_valid_to", table_name="market_record")
    op.drop_index("market_record_valid_from", table_name="market_record")
    for table in ("cell_metric_delta", "cell_expiry", "cell_rival", "cell_h3_metric", "cell_metric", "metrics_epoch"):
        op.drop_table(table)
