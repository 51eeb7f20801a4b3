"""Bulk changes: select units by polygon (lasso) or by list, preview, apply as one batch, undo a batch.

A selection is ``{"polygon": GeoJSON Polygon (WGS84)}`` or ``{"units": [address ids]}``; only live
units the caller may edit are changed; ``outside_scope`` counts the others (of a polygon: those
the caller may read but not edit, units they may not read are not mentioned; of a list: every
listed live unit not theirs to edit), and applying to none but such units is refused (403). A
change is a set of record fields (:data:`gridmarket.grids.records.EDITABLE` but
``customer_code``), validated as a single edit is. Apply writes, in one transaction, one
``edit_batch`` row (kind ``bulk``) and one new version per unit whose values change (source
``bulk``, the batch id), through the same :func:`gridmarket.grids.records.write_versions` as a
single edit, plus an audit-log entry.

Undo restores, for every unit the batch changed, the values of the version before the batch's, as
a new version (batch kind ``undo``, ``undo_of``); when any of those units changed after the batch
(a later version, or retired) nothing is undone and :class:`BatchConflict` lists them (409).
"""

# SQL here is composed only from column lists of this module and Scope conditions (code, never user
# text); every value is a bound parameter: hence no S608.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from gridmarket.grids import records
from gridmarket.grids.auth import audit
from gridmarket.grids.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridmarket.grids.scope import Scope, mask_phone

MAX_UNITS = 5000
SAMPLE = 10


@dataclass
class BatchConflict(Conflict):
    """An undo blocked by later changes: nothing undone; ``units`` lists them."""

    batch_id: int
    units: list[dict[str, Any]]

    def __post_init__(self) -> None:
        super().__init__(
            f"batch {self.batch_id} cannot be undone: {len(self.units)} of its units changed after it"
        )


def _uid(scope: Scope) -> int | None:
    return scope.user.id or None


def _selection(sel: Any) -> tuple[str, Any]:
    if not isinstance(sel, Mapping) or len(sel) != 1 or not ({"polygon", "units"} & set(sel)):
        raise ValidationFailed(
            "selection: give either polygon (GeoJSON Polygon) or units (address ids)", "selection"
        )
    if "polygon" in sel:
        poly = sel["polygon"]
        if not isinstance(poly, Mapping) or poly.get("type") != "Polygon":
            raise ValidationFailed(
                "selection.polygon: must be a GeoJSON Polygon (WGS84)", "selection.polygon"
            )
        rings: Any = poly.get("coordinates")
        ok = (
            isinstance(rings, list)
            and bool(rings)
            and all(isinstance(r, list) and len(r) >= 4 and r[0] == r[-1] for r in rings)
        )
        if ok:
            for ring in rings:
                for pt in ring:
                    if not (
                        isinstance(pt, list)
                        and len(pt) >= 2
                        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in pt[:2])
                        and -180 <= pt[0] <= 180
                        and -90 <= pt[1] <= 90
                    ):
                        ok = False
        if not ok:
            raise ValidationFailed(
                "selection.polygon: coordinates must be closed rings of ≥ 4 [lon, lat] positions (WGS84)",
                "selection.polygon",
            )
        return "polygon", orjson.dumps({"type": "Polygon", "coordinates": rings}).decode()
    units = sel["units"]
    if not isinstance(units, list) or not units or not all(isinstance(u, str) for u in units):
        raise ValidationFailed("selection.units: a non-empty list of address ids", "selection.units")
    if len(units) > MAX_UNITS:
        raise ValidationFailed(f"selection.units: at most {MAX_UNITS:,} units at once", "selection.units")
    return "units", sorted(set(units))


def _change(change: Any) -> dict[str, Any]:
    if not isinstance(change, Mapping) or not change:
        raise ValidationFailed('change: an object of the fields to set, e.g. {"status": "stock"}', "change")
    if "customer_code" in change:
        raise ValidationFailed("change.customer_code: cannot be set in bulk", "change.customer_code")
    return records.validate_change(None, None, change, prefix="change.")


def _select(conn: Connection, scope: Scope, kind: str, value: Any) -> tuple[list[int], int, int]:
    """(ids of the selected live units the caller may edit, count of the others, listed ids not found).

    The others: units of a polygon the caller may read but not edit; listed units not editable.
    """
    read, rp = scope.unit_sql("a", "r", "read")
    edit, ep = scope.unit_sql("a", "r", "edit")
    # a lasso reveals nothing of units the caller may not read; a list names its units (as
    # GET /units/{id} does: 403, not 404), so listed units outside the edit scope count as outside
    if kind == "polygon":
        # a self-intersecting lasso (a figure of eight) is repaired, not refused
        where = (
            f"ST_Intersects(a.geom, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(:sel), 4326))) AND ({read})"
        )
    else:
        where = "a.external_id = ANY(CAST(:sel AS text[]))"
    try:
        rows = conn.execute(
            text(
                f"SELECT a.id, ({edit}) AS editable FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                f"WHERE a.retired_at IS NULL AND {where} ORDER BY a.id"
            ),
            {**rp, **ep, "sel": value},
        ).all()
    except DBAPIError:
        if kind == "polygon":
            raise ValidationFailed(
                "selection.polygon: not a valid GeoJSON Polygon", "selection.polygon"
            ) from None
        raise
    ids = [int(r.id) for r in rows if r.editable]
    outside = sum(1 for r in rows if not r.editable)
    missing = len(value) - len(rows) if kind == "units" else 0
    if len(ids) > MAX_UNITS:
        raise ValidationFailed(
            f"selection: {len(ids):,} units selected, at most {MAX_UNITS:,} at once", "selection"
        )
    return ids, outside, missing


def _records(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    cols = ", ".join("r." + f for f in records.RECORD_FIELDS)
    return {
        int(r["address_unit_id"]): dict(r)
        for r in conn.execute(
            text(
                f"SELECT r.id, r.address_unit_id, r.version, a.external_id, a.city_id, {cols} "
                "FROM market_record r JOIN address_unit a ON a.id = r.address_unit_id "
                "WHERE r.address_unit_id = ANY(CAST(:ids AS bigint[])) AND r.valid_to IS NULL"
            ),
            {"ids": ids},
        ).mappings()
    }


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _summarise(warnings: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in warnings:
        out[w] = out.get(w, 0) + 1
    return out


def preview(conn: Connection, scope: Scope, body: Mapping[str, Any]) -> dict[str, Any]:
    """Count the units a bulk change would touch and show a sample with current and new values."""
    kind, value = _selection(body.get("selection"))
    values = _change(body.get("change"))
    ids, outside, missing = _select(conn, scope, kind, value)
    current = _records(conn, ids)
    changing = 0
    warnings: list[str] = []
    sample: list[dict[str, Any]] = []
    phones, pp = scope.phone_sql("a", "r")
    for uid in ids:
        old = current[uid]
        new, warns = records.apply_change(old, values)
        warnings += warns
        fields = records.changed_fields(old, new)
        if fields:
            changing += 1
        if len(sample) < SAMPLE:
            shown = [f for f in records.RECORD_FIELDS if f in values or f in fields]
            sample.append(
                {
                    "external_id": old["external_id"],
                    "version": int(old["version"]),
                    "current": {f: _plain(old[f]) for f in shown},
                    "new": {f: _plain(new[f]) for f in shown},
                    "changes": bool(fields),
                }
            )
    if "contact_phone" in values and sample:
        # phone values of the sample are shown as the caller may see them (editable units: shown)
        visible = conn.scalar(
            text(
                "SELECT bool_and(" + phones + ") FROM address_unit a JOIN market_record r "
                "ON r.address_unit_id = a.id AND r.valid_to IS NULL WHERE a.id = ANY(CAST(:ids AS bigint[]))"
            ),
            {**pp, "ids": ids[:SAMPLE]},
        )
        if not visible:
            for s in sample:
                s["current"]["contact_phone"] = mask_phone(s["current"].get("contact_phone"))
        else:
            # a sample listing the units' current phones unmasked is audited as any such list
            listed = sum(1 for s in sample if s["current"].get("contact_phone"))
            if listed:
                audit(conn, _uid(scope), "phones.shown", {"list": "bulk_preview"}, rows=listed)
    return {
        "count": len(ids),
        "changing": changing,
        "outside_scope": outside,
        "not_found": missing,
        "sample": sample,
        "warnings": _summarise(warnings),
        "limit": MAX_UNITS,
    }


def apply(conn: Connection, scope: Scope, body: Mapping[str, Any], note: str | None) -> dict[str, Any]:
    """Apply a bulk change in the caller's transaction as one batch; return the batch."""
    kind, value = _selection(body.get("selection"))
    values = _change(body.get("change"))
    ids, outside, missing = _select(conn, scope, kind, value)
    if not ids:
        if outside:
            raise Forbidden(f"none of the {outside} selected units is yours to change")
        raise ValidationFailed("selection: no live address unit selected", "selection")
    locked = records.lock_units(conn, ids)
    cities = {u.city_id for u in locked.values()}
    if len(cities) > 1:
        raise ValidationFailed("selection: a bulk change applies within one city", "selection")
    # re-check the edit scope under the locks (a concurrent change of customer or cell)
    edit, ep = scope.unit_sql("a", "r", "edit")
    still = set(
        conn.scalars(
            text(
                "SELECT a.id FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id "
                "AND r.valid_to IS NULL WHERE a.id = ANY(CAST(:ids AS bigint[])) "
                f"AND a.retired_at IS NULL AND ({edit})"
            ),
            {**ep, "ids": ids},
        )
    )
    changes = []
    warnings: list[str] = []
    for uid in ids:
        unit = locked[uid]
        if uid not in still:
            continue
        new, warns = records.apply_change(unit.record, values)
        warnings += warns
        if records.changed_fields(unit.record, new):
            changes.append((unit, uid, unit.city_id, new))
    selection = {"polygon": orjson.loads(value)} if kind == "polygon" else {"units": value}
    change = {k: v for k, v in dict(body["change"]).items()}
    batch = int(
        conn.scalar(
            text(
                "INSERT INTO edit_batch (kind, city_id, created_by, selection, change, note, unit_count) "
                "VALUES ('bulk', :city, :u, CAST(:sel AS jsonb), CAST(:chg AS jsonb), :note, :n) RETURNING id"
            ),
            {
                "city": cities.pop(),
                "u": _uid(scope),
                "sel": orjson.dumps(selection).decode(),
                "chg": orjson.dumps(change, default=str).decode(),
                "note": note,
                "n": len(changes),
            },
        )
    )
    records.write_versions(conn, changes, user_id=_uid(scope), source="bulk", note=note, batch_id=batch)
    audit(
        conn,
        _uid(scope),
        "bulk.apply",
        {"batch": batch, "change": change, "selected": len(ids)},
        rows=len(changes),
    )
    out = batch_info(conn, scope, batch)
    out.update(
        selected=len(ids),
        unchanged=len(ids) - len(changes),
        outside_scope=outside,
        not_found=missing,
        warnings=_summarise(warnings),
    )
    return out


def _batch_row(conn: Connection, batch_id: int, *, lock: bool = False) -> Any:
    row = conn.execute(
        text(
            "SELECT b.id, b.kind, b.city_id, c.code AS city_code, b.created_by, b.created_at, b.selection, "
            "b.change, b.note, b.unit_count, b.undo_of, u.username, coalesce(s.name, u.username) AS name, "
            "(SELECT x.id FROM edit_batch x WHERE x.undo_of = b.id) AS undone_by "
            "FROM edit_batch b JOIN region c ON c.id = b.city_id "
            "LEFT JOIN app_user u ON u.id = b.created_by LEFT JOIN staff s ON s.id = u.staff_id "
            "WHERE b.id = :i" + (" FOR UPDATE OF b" if lock else "")
        ),
        {"i": batch_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no batch {batch_id}")
    return row


def _batch_units(conn: Connection, batch_id: int) -> list[Any]:
    return list(
        conn.execute(
            text(
                "SELECT r.id, r.address_unit_id, r.version, a.external_id FROM market_record r "
                "JOIN address_unit a ON a.id = r.address_unit_id WHERE r.batch_id = :b ORDER BY a.external_id"
            ),
            {"b": batch_id},
        )
    )


def _check_units(conn: Connection, scope: Scope, unit_ids: list[int], mode: str) -> None:
    cond, params = scope.unit_sql("a", "r", mode)
    bad = conn.scalar(
        text(
            "SELECT count(*) FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id "
            f"AND r.valid_to IS NULL WHERE a.id = ANY(CAST(:ids AS bigint[])) AND NOT ({cond})"
        ),
        {**params, "ids": unit_ids},
    )
    if bad:
        verb = "change" if mode == "edit" else "see"
        raise Forbidden(f"{bad} units of this batch are outside what you may {verb}")


def _phones_visible(conn: Connection, scope: Scope, unit_ids: list[int]) -> bool:
    """Whether the caller sees the contact phones of all these units unmasked (none listed: admin only)."""
    if scope.everything:
        return True
    if not unit_ids:
        return False
    cond, params = scope.phone_sql("a", "r")
    hidden = conn.scalar(
        text(
            "SELECT count(*) FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id "
            f"AND r.valid_to IS NULL WHERE a.id = ANY(CAST(:ids AS bigint[])) AND NOT ({cond})"
        ),
        {**params, "ids": unit_ids},
    )
    return not hidden


def batch_info(conn: Connection, scope: Scope, batch_id: int) -> dict[str, Any]:
    """A batch with its units (external id, version written); readable by its creator and by whoever
    may read every unit it changed."""
    row = _batch_row(conn, batch_id)
    units = _batch_units(conn, batch_id)
    unit_ids = [int(u.address_unit_id) for u in units]
    if row.created_by != scope.user.id:
        _check_units(conn, scope, unit_ids, "read")
        if not units and not scope.everything and row.city_id not in scope.cities:
            raise Forbidden("this batch is outside your scope")
    change = dict(row.change or {})
    if change.get("contact_phone") and not _phones_visible(conn, scope, unit_ids):
        # a phone set in bulk is masked as the units' phones are for this caller (a planner: always)
        change["contact_phone"] = mask_phone(str(change["contact_phone"]))
    return {
        "id": int(row.id),
        "kind": row.kind,
        "city_code": row.city_code,
        "created_by": {"username": row.username, "name": row.name} if row.username else None,
        "created_at": row.created_at.isoformat(),
        "selection": row.selection,
        "change": change,
        "note": row.note,
        "unit_count": int(row.unit_count),
        "undo_of": row.undo_of,
        "undone_by": row.undone_by,
        "units": [{"external_id": u.external_id, "version": int(u.version)} for u in units],
    }


def undo(conn: Connection, scope: Scope, batch_id: int, note: str | None) -> dict[str, Any]:
    """Undo a batch (see the module docstring); the caller must be able to edit every unit of it."""
    row = _batch_row(conn, batch_id, lock=True)
    if row.undone_by is not None:
        raise Conflict(f"batch {batch_id} was undone already (batch {row.undone_by})")
    units = _batch_units(conn, batch_id)
    ids = [int(u.address_unit_id) for u in units]
    _check_units(conn, scope, ids, "edit")
    # a batch that changed no unit: only its creator or an editor of its city may mark it undone
    outside_city = not scope.everything and row.city_id not in scope.cities
    if not units and row.created_by != scope.user.id and outside_city:
        raise Forbidden("this batch is outside your scope")
    locked = records.lock_units(conn, ids)
    blocked = []
    for u in units:
        unit = locked[int(u.address_unit_id)]
        if unit.record["id"] != u.id or unit.retired_at is not None:
            name, username = records.who(conn, unit.record["changed_by"])
            blocked.append(
                {
                    "external_id": u.external_id,
                    "batch_version": int(u.version),
                    "current_version": int(unit.record["version"]),
                    "retired": unit.retired_at is not None,
                    "changed_by": name,
                    "changed_by_user": username,
                    "changed_at": (unit.retired_at or unit.record["valid_from"]).isoformat(),
                }
            )
    if blocked:
        raise BatchConflict(batch_id, blocked)
    cols = ", ".join("p." + f for f in records.RECORD_FIELDS)
    before = {
        int(r["address_unit_id"]): dict(r)
        for r in conn.execute(
            text(
                f"SELECT p.address_unit_id, {cols} FROM market_record p JOIN market_record r "
                "ON r.address_unit_id = p.address_unit_id AND p.version = r.version - 1 WHERE r.batch_id = :b"
            ),
            {"b": batch_id},
        ).mappings()
    }
    new_batch = int(
        conn.scalar(
            text(
                "INSERT INTO edit_batch (kind, city_id, created_by, selection, change, note, unit_count, "
                "undo_of) "
                "VALUES ('undo', :city, :u, CAST(:sel AS jsonb), '{}', :note, :n, :of) RETURNING id"
            ),
            {
                "city": row.city_id,
                "u": _uid(scope),
                "sel": orjson.dumps({"batch": batch_id}).decode(),
                "note": note,
                "n": len(units),
                "of": batch_id,
            },
        )
    )
    changes = [(locked[i], i, locked[i].city_id, before[i]) for i in ids]
    records.write_versions(conn, changes, user_id=_uid(scope), source="bulk", note=note, batch_id=new_batch)
    audit(conn, _uid(scope), "bulk.undo", {"batch": batch_id, "undo_batch": new_batch}, rows=len(changes))
    return batch_info(conn, scope, new_batch)
