"""Follow-ups (商机跟进): sales opportunities followed on one address unit until won, lost or dropped.

A follow-up may be opened on a unit the caller may edit when the unit is an opportunity: its
current status is ``other_network`` or ``potential``, or its contract ends within the next 90
days (``today ≤ contract_end ≤ today + 90``, the date window of METRICS.md ``expiring_90d``); the
reason is recorded (``expiring`` first: it is the one with a deadline). Its owner is the caller or
another user who may edit and whose scope reads the unit.

``won`` is derived from the record versions, never typed in: a follow-up is won when, after it
was opened (and before it was closed, if it was), a version of the unit's record has status
``stock`` or ``competing`` — for a follow-up opened on a unit already ``stock``/``competing``
(a contract about to end) only a version with a later ``contract_end`` than at opening counts (a
renewal). Closing with outcome ``won`` is allowed only when the unit's status now is ``stock`` or
``competing``.
"""

# SQL text here is put together only from constant fragments and the scope conditions of
# grids.scope (built from code, never from user text); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import auth
from gridmarket.grids.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridmarket.grids.models import FOLLOW_UP_OUTCOMES
from gridmarket.grids.records import STATUS_NAMES
from gridmarket.grids.scope import ACTIONS, Scope, authorize, scope_for, today
from gridmarket.grids.visits import live_unit

EXPIRING_DAYS = 90
MAX_TEXT = 2000
OWN_STATUSES = ("stock", "competing")

# won: a version after opening (and not after closing) that turned (or kept and renewed) the unit ours
WON_SQL = """
EXISTS (
    SELECT 1 FROM market_record w
    WHERE w.address_unit_id = f.address_unit_id
      AND w.valid_from > f.created_at
      AND (f.closed_at IS NULL OR w.valid_from <= f.closed_at)
      AND w.status IN ('stock', 'competing')
      AND (f.status_at_open NOT IN ('stock', 'competing')
           OR w.contract_end > (SELECT o.contract_end FROM market_record o
                                WHERE o.address_unit_id = f.address_unit_id
                                  AND o.valid_from <= f.created_at
                                ORDER BY o.valid_from DESC LIMIT 1))
)
"""

_COLUMNS = f"""
    f.id, a.external_id, a.address, c.code AS cell_code, f.reason, f.status_at_open,
    r.status AS status_now, f.due_date, f.next_step, ow.username AS owner, cb.username AS created_by,
    f.created_at, f.closed_at, clb.username AS closed_by, f.outcome, f.outcome_note,
    (f.closed_at IS NULL AND f.due_date < :today) AS overdue,
    ({WON_SQL}) AS won
"""
_FROM = """
FROM follow_up f
JOIN address_unit a ON a.id = f.address_unit_id
JOIN cell c ON c.id = a.cell_id
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
JOIN app_user ow ON ow.id = f.owner_id
JOIN app_user cb ON cb.id = f.created_by
LEFT JOIN app_user clb ON clb.id = f.closed_by
"""


def _out(row: Any) -> dict[str, Any]:
    d = dict(row)
    for k in ("created_at", "closed_at", "due_date"):
        if d.get(k) is not None:
            d[k] = d[k].isoformat()
    d["status_now_zh"] = STATUS_NAMES.get(d["status_now"], d["status_now"])
    return d


def get(conn: Connection, follow_up_id: int, on: dt.date) -> dict[str, Any]:
    """One follow-up by id (no scope check: callers check it); NotFound when missing."""
    row = (
        conn.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE f.id = :id"), {"id": follow_up_id, "today": on})
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no follow-up {follow_up_id}")
    return _out(row)


def _text(value: str | None, field: str, required: bool) -> str | None:
    if value is not None:
        value = value.strip()
    if not value:
        if required:
            raise ValidationFailed(f"{field} is required", field=field)
        return None
    if len(value) > MAX_TEXT:
        raise ValidationFailed(f"{field} is longer than {MAX_TEXT} characters", field=field)
    return value


def _due(due: dt.date | None, on: dt.date, required: bool) -> dt.date | None:
    if due is None:
        if required:
            raise ValidationFailed("due_date is required", field="due_date")
        return None
    if due < on:
        raise ValidationFailed("due_date is in the past", field="due_date")
    return due


def _owner(conn: Connection, username: str, unit_id: int, tz: str) -> int:
    """The id of user ``username`` if they may own a follow-up on this unit (ValidationFailed otherwise)."""
    user = auth.get_user(conn, username)
    if user is None or user.disabled:
        raise ValidationFailed(f"no active user {username!r}", field="owner")
    if user.role not in ACTIONS["edit_units"]:
        raise ValidationFailed(f"a {user.role} cannot own follow-ups (they edit nothing)", field="owner")
    try:
        scope_for(conn, user, tz=tz).check_unit(conn, unit_id, "read")
    except Forbidden:
        raise ValidationFailed(f"{username!r} may not see this address unit", field="owner") from None
    return user.id


def create(
    conn: Connection,
    scope: Scope,
    external_id: str,
    *,
    due_date: dt.date | None,
    next_step: str | None,
    owner: str | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Open a follow-up on a unit the caller may edit; 422 (field ``reason``) when it is no opportunity."""
    authorize(scope.user, "edit_units")
    unit = live_unit(conn, external_id)
    scope.check_unit(conn, unit["id"], "edit")
    on = today(tz)
    status, contract_end = conn.execute(
        text(
            "SELECT status, contract_end FROM market_record WHERE address_unit_id = :u AND valid_to IS NULL"
        ),
        {"u": unit["id"]},
    ).one()
    if contract_end is not None and on <= contract_end <= on + dt.timedelta(days=EXPIRING_DAYS):
        reason = "expiring"
    elif status in ("other_network", "potential"):
        reason = status
    else:
        raise ValidationFailed(
            f"no opportunity: the unit is {status} ({STATUS_NAMES.get(status, status)}) and its contract "
            f"does not end within {EXPIRING_DAYS} days",
            field="reason",
        )
    due = _due(due_date, on, required=True)
    step = _text(next_step, "next_step", required=True)
    owner_id = _owner(conn, owner, unit["id"], tz) if owner else scope.user.id
    fid = conn.scalar(
        text(
            "INSERT INTO follow_up (address_unit_id, cell_id, city_id, reason, status_at_open, owner_id, "
            "created_by, due_date, next_step) VALUES (:u, :cell, :city, :reason, :status, :owner, :me, "
            ":due, :step) RETURNING id"
        ),
        {
            "u": unit["id"],
            "cell": unit["cell_id"],
            "city": unit["city_id"],
            "reason": reason,
            "status": status,
            "owner": owner_id,
            "me": scope.user.id,
            "due": due,
            "step": step,
        },
    )
    return get(conn, int(fid), on)


def _writable(conn: Connection, scope: Scope, follow_up_id: int) -> dict[str, Any]:
    """Lock and return a follow-up the caller may change: its owner, or someone who may edit its unit."""
    authorize(scope.user, "edit_units")
    row = (
        conn.execute(
            text("SELECT id, address_unit_id, owner_id, closed_at FROM follow_up WHERE id = :id FOR UPDATE"),
            {"id": follow_up_id},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no follow-up {follow_up_id}")
    # the owner while the unit is still in their scope (an assignment may have ended since the
    # follow-up was opened), or anyone who may edit the unit
    mode = "read" if row["owner_id"] == scope.user.id else "edit"
    try:
        scope.check_unit(conn, row["address_unit_id"], mode)
    except Forbidden:
        raise Forbidden(
            "only the owner (while the unit is in their scope) or someone who may edit the unit "
            "may change this follow-up"
        ) from None
    if row["closed_at"] is not None:
        raise Conflict(f"follow-up {follow_up_id} is closed")
    return dict(row)


def update(
    conn: Connection,
    scope: Scope,
    follow_up_id: int,
    *,
    due_date: dt.date | None = None,
    next_step: str | None = None,
    owner: str | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Change the due date, next step or owner of an open follow-up."""
    row = _writable(conn, scope, follow_up_id)
    on = today(tz)
    due = _due(due_date, on, required=False)
    step = _text(next_step, "next_step", required=False) if next_step is not None else None
    if next_step is not None and step is None:
        raise ValidationFailed("next_step may not be empty", field="next_step")
    owner_id = _owner(conn, owner, row["address_unit_id"], tz) if owner is not None else None
    conn.execute(
        text(
            "UPDATE follow_up SET due_date = coalesce(:due, due_date), "
            "next_step = coalesce(:step, next_step), owner_id = coalesce(:owner, owner_id) WHERE id = :id"
        ),
        {"due": due, "step": step, "owner": owner_id, "id": follow_up_id},
    )
    return get(conn, follow_up_id, on)


def close(
    conn: Connection,
    scope: Scope,
    follow_up_id: int,
    *,
    outcome: str,
    note: str | None = None,
    tz: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Close an open follow-up with outcome won, lost or dropped (won only when the unit is ours now)."""
    row = _writable(conn, scope, follow_up_id)
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise ValidationFailed(f"outcome must be one of {', '.join(FOLLOW_UP_OUTCOMES)}", field="outcome")
    text_note = _text(note, "note", required=False)
    if outcome == "won":
        status = conn.scalar(
            text("SELECT status FROM market_record WHERE address_unit_id = :u AND valid_to IS NULL"),
            {"u": row["address_unit_id"]},
        )
        if status not in OWN_STATUSES:
            raise ValidationFailed(
                f"the unit is still {status} ({STATUS_NAMES.get(status, status)}): record the status change "
                "(stock or competing) first",
                field="outcome",
            )
    conn.execute(
        text(
            "UPDATE follow_up SET closed_at = now(), closed_by = :me, outcome = :outcome, "
            "outcome_note = :note WHERE id = :id"
        ),
        {"me": scope.user.id, "outcome": outcome, "note": text_note, "id": follow_up_id},
    )
    return get(conn, follow_up_id, today(tz))


def mine(conn: Connection, scope: Scope, state: str = "open", tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """The caller's follow-ups (``open``, ``closed`` or ``all``) by due date, on units they may read."""
    if state not in ("open", "closed", "all"):
        raise ValidationFailed("state must be open, closed or all", field="state")
    read, rp = scope.unit_sql("a", "r", "read")
    cond = {"open": "f.closed_at IS NULL", "closed": "f.closed_at IS NOT NULL", "all": "true"}[state]
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} {_FROM} WHERE f.owner_id = :me AND {cond} AND ({read}) "
            "ORDER BY f.due_date, f.id"
        ),
        {**rp, "me": scope.user.id, "today": today(tz)},
    ).mappings()
    items = [_out(r) for r in rows]
    return {"state": state, "total": len(items), "follow_ups": items}


def cell_summary(
    conn: Connection, scope: Scope, code: str, *, limit: int = 500, tz: str = "Asia/Shanghai"
) -> dict[str, Any]:
    """A cell's follow-ups on the units the caller may read: counts and the items (open first, by due date).

    ``open``, ``overdue`` (open past the due date), ``won`` (derived from the records, open or closed),
    ``closed_won``, ``lost``, ``dropped`` (closing outcomes).
    """
    cell = scope.readable_cell(conn, code)
    read, rp = scope.unit_sql("a", "r", "read")
    params = {**rp, "cell": cell.id, "today": today(tz), "limit": limit}
    where = f"WHERE a.cell_id = :cell AND ({read})"
    counts = (
        conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE closed_at IS NULL) AS open, "
                "count(*) FILTER (WHERE overdue) AS overdue, count(*) FILTER (WHERE won) AS won, "
                "count(*) FILTER (WHERE outcome = 'won') AS closed_won, "
                "count(*) FILTER (WHERE outcome = 'lost') AS lost, "
                "count(*) FILTER (WHERE outcome = 'dropped') AS dropped, count(*) AS total "
                f"FROM (SELECT {_COLUMNS} {_FROM} {where}) x"
            ),
            params,
        )
        .mappings()
        .one()
    )
    items = [
        _out(r)
        for r in conn.execute(
            text(
                f"SELECT {_COLUMNS} {_FROM} {where} "
                "ORDER BY f.closed_at IS NOT NULL, f.due_date, f.closed_at DESC, f.id LIMIT :limit"
            ),
            params,
        ).mappings()
    ]
    return {
        "cell": {"code": cell.code, "name": cell.name},
        **{k: int(v) for k, v in counts.items()},
        "items": items,
    }
