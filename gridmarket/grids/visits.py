"""Visits and sweeps (扫楼): logging a visit to an address unit, and sweep coverage per cell.

A visit is logged by someone who may edit the unit (CONTRACT.md "edits"); anyone who may read the
unit sees its visits. Sweep coverage of a cell over a period is ``visited / units``: the live
units of the cell the caller may read, and those of them with at least one visit in the period
(anyone's visit; the unit's cell as it is now). Periods are whole days in the operator's time zone.
"""

# SQL text here is put together only from constant fragments and the scope conditions of
# grids.scope (built from code, never from user text); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gridmarket.grids.errors import NotFound, ValidationFailed
from gridmarket.grids.models import VISIT_OUTCOMES
from gridmarket.grids.scope import Scope, city_by_code, today

MAX_NOTE = 2000
# a phone's clock may run a little ahead of the server's
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def live_unit(conn: Connection, external_id: str) -> dict[str, Any]:
    """Return id, external_id, address, cell and city of a live unit; NotFound otherwise."""
    row = (
        conn.execute(
            text(
                "SELECT a.id, a.external_id, a.address, a.cell_id, a.city_id, c.code AS cell_code "
                "FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                "WHERE a.external_id = :e AND a.retired_at IS NULL"
            ),
            {"e": external_id},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no address unit {external_id!r}")
    return dict(row)


def _visit_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["visited_at"] = out["visited_at"].isoformat()
    return out


_VISIT_COLUMNS = (
    "v.id, a.external_id, v.visited_at, v.outcome, v.note, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat, "
    "v.accuracy_m, u.username AS visited_by, c.code AS cell_code"
)


def add_visit(
    conn: Connection,
    scope: Scope,
    external_id: str,
    *,
    outcome: str,
    note: str | None = None,
    visited_at: dt.datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    accuracy_m: float | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Log a visit to a unit the caller may edit; return it. Bad values raise ValidationFailed(field)."""
    unit = live_unit(conn, external_id)
    scope.check_unit(conn, unit["id"], "edit")
    if outcome not in VISIT_OUTCOMES:
        raise ValidationFailed(f"outcome must be one of {', '.join(VISIT_OUTCOMES)}", field="outcome")
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationFailed(f"note is longer than {MAX_NOTE} characters", field="note")
    now = dt.datetime.now(dt.UTC)
    if visited_at is None:
        visited_at = now
    elif visited_at.tzinfo is None:
        visited_at = visited_at.replace(tzinfo=ZoneInfo(tz))
    if visited_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed("visited_at is in the future", field="visited_at")
    if (lon is None) != (lat is None):
        raise ValidationFailed("give both lon and lat, or neither", field="lat" if lat is None else "lon")
    if lon is not None and lat is not None:
        if not -180 <= lon <= 180:
            raise ValidationFailed("lon must be a WGS84 longitude in [-180, 180]", field="lon")
        if not -90 <= lat <= 90:
            raise ValidationFailed("lat must be a WGS84 latitude in [-90, 90]", field="lat")
    if accuracy_m is not None:
        if lon is None:
            raise ValidationFailed("accuracy_m needs a position (lon, lat)", field="accuracy_m")
        if not (accuracy_m >= 0 and math.isfinite(accuracy_m)):
            raise ValidationFailed("accuracy_m must be a number of metres ≥ 0", field="accuracy_m")
    vid = conn.scalar(
        text(
            "INSERT INTO visit (address_unit_id, cell_id, city_id, user_id, visited_at, outcome, note, "
            "geom, accuracy_m) VALUES (:u, :cell, :city, :user, :at, :outcome, :note, "
            "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL "
            "ELSE ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326) END, :acc) "
            "RETURNING id"
        ),
        {
            "u": unit["id"],
            "cell": unit["cell_id"],
            "city": unit["city_id"],
            "user": scope.user.id,
            "at": visited_at,
            "outcome": outcome,
            "note": note,
            "lon": lon,
            "lat": lat,
            "acc": accuracy_m,
        },
    )
    row = (
        conn.execute(
            text(
                f"SELECT {_VISIT_COLUMNS} FROM visit v JOIN address_unit a ON a.id = v.address_unit_id "
                "JOIN cell c ON c.id = v.cell_id JOIN app_user u ON u.id = v.user_id WHERE v.id = :v"
            ),
            {"v": vid},
        )
        .mappings()
        .one()
    )
    return _visit_dict(row)


def unit_visits(
    conn: Connection, scope: Scope, external_id: str, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """The visits of a unit the caller may read, newest first, with their total."""
    unit = live_unit(conn, external_id)
    scope.check_unit(conn, unit["id"], "read")
    total = conn.scalar(text("SELECT count(*) FROM visit WHERE address_unit_id = :u"), {"u": unit["id"]})
    rows = conn.execute(
        text(
            f"SELECT {_VISIT_COLUMNS} FROM visit v JOIN address_unit a ON a.id = v.address_unit_id "
            "JOIN cell c ON c.id = v.cell_id JOIN app_user u ON u.id = v.user_id "
            "WHERE v.address_unit_id = :u ORDER BY v.visited_at DESC, v.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"u": unit["id"], "limit": limit, "offset": offset},
    ).mappings()
    return {
        "unit": {"external_id": unit["external_id"], "address": unit["address"], "cell": unit["cell_code"]},
        "total": int(total or 0),
        "visits": [_visit_dict(r) for r in rows],
    }


# -- sweeps -----------------------------------------------------------------------------------
def period_bounds(
    start: dt.date | None, end: dt.date | None, tz: str
) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    """The period [start, end] (whole days; default the current month) and its instants [t0, t1)."""
    now_day = today(tz)
    if start is None:
        start = now_day.replace(day=1)
    if end is None:
        nxt = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        end = nxt - dt.timedelta(days=1)
    if end < start:
        raise ValidationFailed("to is before from", field="to")
    zone = ZoneInfo(tz)
    t0 = dt.datetime.combine(start, dt.time(), zone)
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
    return start, end, t0, t1


def _cell(conn: Connection, scope: Scope, code: str) -> Any:
    return scope.readable_cell(conn, code)


def cell_sweep(
    conn: Connection,
    scope: Scope,
    code: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    stale_days: int = 30,
    limit: int = 500,
    offset: int = 0,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Sweep coverage of a cell over a period, and the units not visited for ``stale_days`` days.

    ``units``: the cell's live units the caller may read; ``visited``: those with ≥ 1 visit in the
    period; ``coverage`` = visited / units (null when units = 0). ``not_visited``: units whose last
    visit is more than ``stale_days`` days ago or that were never visited (never-visited first,
    then the longest unvisited), one page of them with their total.
    """
    if stale_days < 0:
        raise ValidationFailed("stale_days must be ≥ 0", field="stale_days")
    start, end, t0, t1 = period_bounds(start, end, tz)
    cell = _cell(conn, scope, code)
    read, rp = scope.unit_sql("a", "r", "read")
    base = (
        "FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
        f"WHERE a.cell_id = :cell AND a.retired_at IS NULL AND ({read})"
    )
    params = {**rp, "cell": cell.id, "t0": t0, "t1": t1}
    units, visited = conn.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM visit v "
            "WHERE v.address_unit_id = a.id AND v.visited_at >= :t0 AND v.visited_at < :t1)) " + base
        ),
        params,
    ).one()
    stale_params = {**params, "stale": dt.timedelta(days=stale_days), "limit": limit, "offset": offset}
    stale_sql = (
        "WITH u AS (SELECT a.id, a.external_id, a.address, a.floor, a.room, r.status, "
        "(SELECT max(v.visited_at) FROM visit v WHERE v.address_unit_id = a.id AND v.visited_at <= now()) "
        "AS last_visit " + base + ") "
    )
    stale_where = "WHERE last_visit IS NULL OR last_visit < now() - CAST(:stale AS interval)"
    stale_total = conn.scalar(text(stale_sql + "SELECT count(*) FROM u " + stale_where), stale_params)
    stale = [
        {**dict(r), "last_visit": r["last_visit"].isoformat() if r["last_visit"] else None}
        for r in conn.execute(
            text(
                stale_sql + "SELECT external_id, address, floor, room, status, last_visit FROM u "
                f"{stale_where} ORDER BY last_visit NULLS FIRST, external_id LIMIT :limit OFFSET :offset"
            ),
            stale_params,
        ).mappings()
    ]
    return {
        "cell": {"code": cell.code, "name": cell.name},
        "from": start.isoformat(),
        "to": end.isoformat(),
        "stale_days": stale_days,
        "units": int(units),
        "visited": int(visited),
        "coverage": (visited / units) if units else None,
        "not_visited_for_n_days": {
            "total": int(stale_total or 0),
            "limit": limit,
            "offset": offset,
            "units": stale,
        },
    }


def city_sweep(
    conn: Connection,
    scope: Scope,
    city_code: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Per-cell sweep coverage of a city's cells in the caller's scope, as a compact table.

    Rows are ``[cell code, units, visited, coverage]`` (units and visits as in :func:`cell_sweep`).
    """
    start, end, t0, t1 = period_bounds(start, end, tz)
    city_id = city_by_code(conn, scope, city_code)
    cells_ok, cp = scope.cell_sql("c")
    read, rp = scope.unit_sql("a", "r", "read")
    units: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT a.cell_id, count(*) FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                f"WHERE a.city_id = :city AND a.retired_at IS NULL AND ({read}) GROUP BY a.cell_id"
            ),
            {**rp, "city": city_id},
        ).all()
    )
    visited: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT a.cell_id, count(DISTINCT a.id) FROM visit v "
                "JOIN address_unit a ON a.id = v.address_unit_id "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE v.city_id = :city AND v.visited_at >= :t0 AND v.visited_at < :t1 "
                f"AND a.city_id = :city AND a.retired_at IS NULL AND ({read}) GROUP BY a.cell_id"
            ),
            {**rp, "city": city_id, "t0": t0, "t1": t1},
        ).all()
    )
    rows = []
    for cid, ccode in conn.execute(
        text(f"SELECT c.id, c.code FROM cell c WHERE c.city_id = :city AND ({cells_ok}) ORDER BY c.code"),
        {**cp, "city": city_id},
    ):
        n = int(units.get(cid, 0))
        seen = int(visited.get(cid, 0))
        rows.append([ccode, n, seen, (seen / n) if n else None])
    return {
        "city": city_code,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "columns": ["cell", "units", "visited", "coverage"],
        "rows": rows,
    }
