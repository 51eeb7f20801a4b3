"""Changing the doors themselves: add a unit found in the field, split one, merge several, retire one.

Nothing is deleted: a split or merged-away or retired unit keeps its row (``retired_at`` set) and
its records, and one ``unit_event`` (add / split / merge / retire, from → to unit ids, who, when,
note) tells what happened. New units get their cell and H3 index with the loaders' own rule
(:func:`gridmarket.grids.units.assign_points`) and their first record through
:func:`gridmarket.grids.records.write_versions`; the metric triggers follow (a retired unit
leaves its cell's figures, a new one enters). Every touched existing unit needs the version the
client last read (409 otherwise) and must be in the caller's edit scope (403); a new unit must lie
in the caller's edit scope once placed, else 403 and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import records
from gridmarket.grids.errors import Forbidden, ValidationFailed
from gridmarket.grids.records import LockedUnit
from gridmarket.grids.scope import Scope
from gridmarket.grids.units import UNIT_COLUMNS, assign_points, lock_territory, stage_units

MAX_PARTS = 50
_PLACE_KEYS = ("external_id", "address", "lon", "lat", "building_code", "floor", "room")
_OTHER_KEYS = ("note", "source", "version", "fields")


def _uid(scope: Scope) -> int | None:
    return scope.user.id or None


def new_external_id() -> str:
    """A fresh address id for a unit found in the field (``N`` + date + random hex)."""
    return f"N{dt.date.today():%Y%m%d}{secrets.token_hex(4).upper()}"


def _coordinate(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailed(f"{name}: must be a number (WGS84 degrees)", name)
    try:
        x = float(value)
    except ValueError:
        raise ValidationFailed(f"{name}: {value!r} is not a number", name) from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValidationFailed(f"{name}: {value!r} is out of range [{lo}, {hi}]", name)
    return x


def _floor(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 500:
        raise ValidationFailed(f"{name}: must be an integer floor number", name)
    return value


def _place(spec: Mapping[str, Any], base: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    """Validated place of a new unit: external id, address, point, building, floor, room."""
    out: dict[str, Any] = {}
    ext = records.check_note(spec.get("external_id"), prefix + "external_id")
    if ext is not None and (len(ext) > 64 or not ext.isprintable()):
        raise ValidationFailed(f"{prefix}external_id: 1-64 printable characters", prefix + "external_id")
    out["external_id"] = ext or new_external_id()
    address = records.check_note(spec.get("address"), prefix + "address")
    if address is None:
        address = base["address"] if base else None
    if address is None:
        raise ValidationFailed(f"{prefix}address: is required", prefix + "address")
    out["address"] = address
    for key, lo, hi in (("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
        if spec.get(key) is None:
            if base is None:
                raise ValidationFailed(f"{prefix}{key}: is required (WGS84)", prefix + key)
            out[key] = float(base[key])
        else:
            out[key] = _coordinate(prefix + key, spec[key], lo, hi)
    out["building_code"] = records.check_note(spec.get("building_code"), prefix + "building_code")
    if "building_code" not in spec and base is not None:
        out["building_code"] = base["building_code"]
    out["floor"] = _floor(prefix + "floor", spec["floor"]) if "floor" in spec else (base or {}).get("floor")
    out["room"] = (
        records.check_note(spec.get("room"), prefix + "room") if "room" in spec else (base or {}).get("room")
    )
    return out


def _split_spec(spec: Mapping[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(place keys, record fields) of a new-unit spec; record fields may be top-level or under ``fields``."""
    place = {k: v for k, v in spec.items() if k in _PLACE_KEYS}
    fields = {k: v for k, v in spec.items() if k not in _PLACE_KEYS and k not in _OTHER_KEYS}
    nested = spec.get("fields")
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise ValidationFailed(f"{prefix}fields: must be an object", prefix + "fields")
        fields.update(nested)
    return place, fields


def _create_units(
    conn: Connection,
    scope: Scope,
    places: list[dict[str, Any]],
    fields: list[dict[str, Any]],
    prefixes: list[str],
    *,
    h3_resolution: int,
    source: str,
    note: str | None,
) -> tuple[list[int], list[str]]:
    """Place, insert and give a first record to new units; return their ids and the warnings."""
    seen: set[str] = set()
    for p, prefix in zip(places, prefixes, strict=True):
        if p["external_id"] in seen:
            raise ValidationFailed(
                f"{prefix}external_id: {p['external_id']!r} given twice", prefix + "external_id"
            )
        seen.add(p["external_id"])
    # the territory lock first: a concurrent add of the same address id has committed by then, so
    # the check below sees it (422 naming the field) instead of a unique violation (500)
    lock_territory(conn)
    taken = conn.scalars(
        text("SELECT external_id FROM address_unit WHERE external_id = ANY(CAST(:e AS text[]))"),
        {"e": sorted(seen)},
    ).first()
    if taken is not None:
        i = next(i for i, p in enumerate(places) if p["external_id"] == taken)
        raise ValidationFailed(
            f"{prefixes[i]}external_id: address unit {taken!r} exists already", prefixes[i] + "external_id"
        )
    rows = []
    for p in places:
        values = dict.fromkeys(UNIT_COLUMNS)
        values.update(
            {k: p[k] for k in ("external_id", "address", "lon", "lat", "building_code", "floor", "room")}
        )
        rows.append(tuple(values[c] for c in UNIT_COLUMNS))
    stage_units(conn, rows)
    warnings: list[str] = []
    assign_points(conn, "stage", h3_resolution, warnings)
    placed = {
        r.external_id: r
        for r in conn.execute(
            text(
                "SELECT s.external_id, s.cell_id, c.city_id, s.h3_12, c.code AS cell_code "
                "FROM stage_assigned s "
                "JOIN cell c ON c.id = s.cell_id"
            )
        )
    }
    ids: list[int] = []
    for p, f, prefix in zip(places, fields, prefixes, strict=True):
        at = placed[p["external_id"]]
        building = None
        if p["building_code"] is not None:
            building = conn.scalar(
                text("SELECT id FROM building WHERE city_id = :c AND code = :b"),
                {"c": at.city_id, "b": p["building_code"]},
            )
            if building is None:
                raise ValidationFailed(
                    f"{prefix}building_code: no building {p['building_code']!r} in the unit's city",
                    prefix + "building_code",
                )
        values = records.validate_change(conn, int(at.city_id), f, prefix=prefix)
        record, warns = records.apply_change(records.EMPTY_RECORD, values)
        if "status" not in values and not any(k in values for k in records.INT_FIELDS):
            record["status"] = "unknown"
        warnings += [f"{p['external_id']}: {w}" for w in warns]
        uid = int(
            conn.scalar(
                text(
                    "INSERT INTO address_unit (city_id, external_id, address, building_id, floor, room, "
                    "cell_id, h3_12, geom) VALUES (:city, :e, :a, :b, :f, :r, :cell, :h, "
                    "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
                ),
                {
                    "city": at.city_id,
                    "e": p["external_id"],
                    "a": p["address"],
                    "b": building,
                    "f": p["floor"],
                    "r": p["room"],
                    "cell": at.cell_id,
                    "h": at.h3_12,
                    "lon": p["lon"],
                    "lat": p["lat"],
                },
            )
        )
        records.write_versions(
            conn, [(None, uid, int(at.city_id), record)], user_id=_uid(scope), source=source, note=note
        )
        try:
            scope.check_unit(conn, uid, "edit")
        except Forbidden:
            raise Forbidden(
                f"{prefix or 'the new unit'}: the point lies in cell {at.cell_code}, outside your edit scope"
            ) from None
        ids.append(uid)
    conn.execute(text("DROP TABLE IF EXISTS stage_assigned"))
    conn.execute(text("DROP TABLE IF EXISTS stage_unit"))
    return ids, warnings


def _event(
    conn: Connection,
    scope: Scope,
    kind: str,
    city_id: int,
    from_units: Sequence[int],
    to_units: Sequence[int],
    note: str | None,
) -> int:
    return int(
        conn.scalar(
            text(
                "INSERT INTO unit_event (kind, city_id, changed_by, from_units, to_units, note) "
                "VALUES (:k, :c, :u, CAST(:f AS bigint[]), CAST(:t AS bigint[]), :n) RETURNING id"
            ),
            {
                "k": kind,
                "c": city_id,
                "u": _uid(scope),
                "f": list(from_units),
                "t": list(to_units),
                "n": note,
            },
        )
    )


def _retire(conn: Connection, unit_ids: Sequence[int]) -> None:
    conn.execute(
        text("UPDATE address_unit SET retired_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": list(unit_ids)},
    )


def _externals(conn: Connection, ids: Sequence[int]) -> list[str]:
    got: dict[int, str] = dict(
        conn.execute(
            text("SELECT id, external_id FROM address_unit WHERE id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": list(ids)},
        ).all()
    )
    return [str(got[i]) for i in ids]


def _locked_live(
    conn: Connection, scope: Scope, wanted: Sequence[tuple[str, int]], prefix: str
) -> list[LockedUnit]:
    """Check (404, 403), lock and version-check (409) existing live units given as (external id, version)."""
    ids = []
    for ext, _ in wanted:
        uid = records.unit_id_of(conn, ext)
        scope.check_unit(conn, uid, "edit")
        ids.append(uid)
    if len(set(ids)) != len(ids):
        raise ValidationFailed(f"{prefix}: a unit is listed twice", prefix)
    locked = records.lock_units(conn, ids)
    out = []
    for uid, (ext, version) in zip(ids, wanted, strict=True):
        unit = locked[uid]
        if unit.retired_at is not None:
            raise ValidationFailed(f"{prefix}: address unit {ext!r} was retired", prefix)
        records.check_version(conn, unit, version)
        out.append(unit)
    return out


def _base_of(conn: Connection, unit_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                "SELECT a.address, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, b.code AS building_code, "
                "a.floor, a.room "
                "FROM address_unit a LEFT JOIN building b ON b.id = a.building_id WHERE a.id = :i"
            ),
            {"i": unit_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


# ------------------------------------------------------------------------------------------------


def add_unit(
    conn: Connection,
    scope: Scope,
    spec: Mapping[str, Any],
    *,
    source: str,
    note: str | None,
    h3_resolution: int,
) -> dict[str, Any]:
    """Add a unit found in the field: place, cell and H3 by the loaders' rule, version 1."""
    place, fields = _split_spec(spec, "")
    p = _place(place, None, "")
    ids, warnings = _create_units(
        conn, scope, [p], [fields], [""], h3_resolution=h3_resolution, source=source, note=note
    )
    city = int(conn.scalar(text("SELECT city_id FROM address_unit WHERE id = :i"), {"i": ids[0]}))
    _event(conn, scope, "add", city, [], ids, note)
    return {"external_id": p["external_id"], "unit_id": ids[0], "warnings": warnings}


def split_unit(
    conn: Connection,
    scope: Scope,
    external_id: str,
    version: int,
    parts: Any,
    *,
    source: str,
    note: str | None,
    h3_resolution: int,
) -> dict[str, Any]:
    """Split a unit into 2+ new doors; the original is retired, its history kept."""
    if not isinstance(parts, list) or not 2 <= len(parts) <= MAX_PARTS:
        raise ValidationFailed(f"parts: a list of 2 to {MAX_PARTS} new units", "parts")
    # the territory lock before the record lock, in the order of the address import (which holds the
    # territory lock while it writes records): the other order can deadlock with an import
    lock_territory(conn)
    (orig,) = _locked_live(conn, scope, [(external_id, version)], "external_id")
    base = _base_of(conn, orig.id)
    places, fields, prefixes = [], [], []
    for i, spec in enumerate(parts):
        prefix = f"parts.{i}."
        if not isinstance(spec, Mapping):
            raise ValidationFailed(f"parts.{i}: must be an object", f"parts.{i}")
        place, f = _split_spec(spec, prefix)
        places.append(_place(place, base, prefix))
        fields.append(f)
        prefixes.append(prefix)
    _retire(conn, [orig.id])
    ids, warnings = _create_units(
        conn, scope, places, fields, prefixes, h3_resolution=h3_resolution, source=source, note=note
    )
    _event(conn, scope, "split", orig.city_id, [orig.id], ids, note)
    return {"retired": external_id, "units": [p["external_id"] for p in places], "warnings": warnings}


def merge_units(
    conn: Connection,
    scope: Scope,
    units: Any,
    survivor: Any,
    fields: Any,
    *,
    source: str,
    note: str | None,
) -> dict[str, Any]:
    """Merge 2+ units of one city into one survivor (given, else the first); the others are retired.

    ``fields`` (optional) change the survivor's record in the same step (a new version).
    """
    if not isinstance(units, list) or not 2 <= len(units) <= MAX_PARTS:
        raise ValidationFailed(f"units: a list of 2 to {MAX_PARTS} {{external_id, version}}", "units")
    wanted = []
    for i, u in enumerate(units):
        if not isinstance(u, Mapping) or not isinstance(u.get("external_id"), str):
            raise ValidationFailed(f"units.{i}: needs external_id and version", f"units.{i}")
        if u.get("version") is None:
            raise ValidationFailed(f"units.{i}.version: is required", f"units.{i}.version")
        wanted.append((u["external_id"], records.parse_version(u["version"], f"units.{i}.version")))
    keep = survivor if survivor is not None else wanted[0][0]
    if keep not in [w[0] for w in wanted]:
        raise ValidationFailed("survivor: must be one of the merged units", "survivor")
    locked = _locked_live(conn, scope, wanted, "units")
    if len({u.city_id for u in locked}) > 1:
        raise ValidationFailed("units: units of different cities cannot be merged", "units")
    target = next(u for u in locked if u.external_id == keep)
    others = [u.id for u in locked if u.id != target.id]
    warnings: list[str] = []
    version = int(target.record["version"])
    if fields:
        if not isinstance(fields, Mapping):
            raise ValidationFailed("fields: must be an object", "fields")
        values = records.validate_change(conn, target.city_id, fields, prefix="fields.")
        new, warnings = records.apply_change(target.record, values)
        if records.changed_fields(target.record, new):
            records.write_versions(
                conn,
                [(target, target.id, target.city_id, new)],
                user_id=_uid(scope),
                source=source,
                note=note,
            )
            version += 1
    _retire(conn, others)
    _event(conn, scope, "merge", target.city_id, [u.id for u in locked], [target.id], note)
    return {
        "survivor": target.external_id,
        "version": version,
        "retired": _externals(conn, others),
        "warnings": warnings,
    }


def retire_unit(
    conn: Connection, scope: Scope, external_id: str, version: int, *, note: str | None
) -> dict[str, Any]:
    """Retire a unit (building demolished, rooms joined): it leaves the figures, its history stays."""
    (unit,) = _locked_live(conn, scope, [(external_id, version)], "external_id")
    _retire(conn, [unit.id])
    _event(conn, scope, "retire", unit.city_id, [unit.id], [], note)
    retired_at = conn.scalar(text("SELECT retired_at FROM address_unit WHERE id = :i"), {"i": unit.id})
    return {"external_id": external_id, "retired_at": retired_at.isoformat(), "version": version}
