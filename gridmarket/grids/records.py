"""The one write path of market records: validate a change, lock, compare versions, write a version.

Every change of an address unit's market-space record — a field edit, a door added, split or
merged, a bulk change and its undo — goes through :func:`write_versions`: the current record is
closed (``valid_to`` = now) and version + 1 inserted with the unchanged fields copied, who
(``changed_by``), the source (``field``, ``api``, ``bulk``, ``import``), the change note and the
batch, in the caller's transaction. The metric triggers of migration 0004 book the change.

Optimistic concurrency: the writer first locks the current records (``FOR UPDATE``, in unit id
order) and then the unit rows (``FOR NO KEY UPDATE``), and compares the version the client read;
a stale version raises :class:`StaleVersion` (HTTP 409 with the current record), so no edit is
ever silently overwritten. Two clients sending the same version: the second waits for the
first's lock, then sees the new version and gets 409.

Values are validated here (:func:`validate_change`), each problem a :class:`ValidationFailed`
naming the field. The status rules of METRICS.md live here too (:data:`STATUS_NAMES`,
:func:`parse_status`, :func:`derive_status`, :func:`status_contradiction`): a status contradicting
the line counts is kept and reported as a warning, never refused; a change of line counts without
a status derives the status from the counts, as the address import does.

``note`` is the note of the change (of that version), not carried over to the next version.
"""

# SQL here is composed only from column lists of this module and Scope conditions (code, never user
# text); every value is a bound parameter: hence no S608.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Connection, text

from gridmarket.grids.errors import Conflict, NotFound, ValidationFailed
from gridmarket.grids.models import RECORD_SOURCES, STATUSES

# ------------------------------------------------------------------------------------------------
# status rules (METRICS.md); etl/address_import.py should import these instead of its own copies
# ------------------------------------------------------------------------------------------------

STATUS_NAMES: dict[str, str] = {
    "stock": "存量",
    "competing": "竞争",
    "other_network": "他网",
    "potential": "潜在",
    "vacant": "空置",
    "unknown": "未摸查",
}
"""Status code → Chinese name (PRODUCT.md)."""

_STATUS_WORDS: dict[str, str] = {}
for _code, _name in STATUS_NAMES.items():
    for _w in (_code, _name, _name + "客户"):
        _STATUS_WORDS[_w.strip().lower()] = _code


def parse_status(value: Any) -> str:
    """Return the status code of a code or a Chinese name (存量, 存量客户, …); ValueError otherwise."""
    s = str(value).strip().lower() if value is not None else ""
    code = _STATUS_WORDS.get(s)
    if code is None:
        names = "/".join(STATUS_NAMES.values())
        raise ValueError(f"unknown status {value!r} (use {', '.join(STATUSES)} or {names})")
    return code


def derive_status(own: int, rival: int) -> str:
    """The status the line counts imply when none is given (METRICS.md)."""
    if own > 0 and rival == 0:
        return "stock"
    if own > 0 and rival > 0:
        return "competing"
    if own == 0 and rival > 0:
        return "other_network"
    return "unknown"


def status_contradiction(status: str, own: int, rival: int) -> str | None:
    """The METRICS.md rule a given ``status`` breaks for these own / rival line counts, or None."""
    if status == "stock" and rival > 0:
        return "stock with rival lines > 0"
    if status == "competing" and not (own > 0 and rival > 0):
        return "competing without both own and rival lines > 0"
    if status == "other_network" and own > 0:
        return "other_network with own lines > 0"
    if status in ("potential", "vacant") and (own > 0 or rival > 0):
        return f"{status} with own or rival lines > 0"
    return None


# ------------------------------------------------------------------------------------------------
# fields and validation
# ------------------------------------------------------------------------------------------------

RECORD_FIELDS: tuple[str, ...] = (
    "customer_id",
    "status",
    "main_services",
    "fixed_lines_own",
    "fixed_lines_rival",
    "broadband_own",
    "broadband_rival",
    "ld_minutes_own",
    "ld_minutes_rival",
    "revenue_month",
    "rival_operator",
    "contract_end",
    "contact_name",
    "contact_phone",
    "surveyed_at",
)
"""The columns of a market record that a version carries (copied when unchanged)."""

INT_FIELDS = ("fixed_lines_own", "fixed_lines_rival", "broadband_own", "broadband_rival")
NUM_FIELDS = ("ld_minutes_own", "ld_minutes_rival", "revenue_month")
TEXT_FIELDS = ("main_services", "rival_operator", "contact_name", "contact_phone")
DATE_FIELDS = ("contract_end", "surveyed_at")
EDITABLE: tuple[str, ...] = (
    "status",
    *TEXT_FIELDS[:2],
    *INT_FIELDS,
    *NUM_FIELDS,
    *DATE_FIELDS,
    "contact_name",
    "contact_phone",
    "customer_code",
)
"""The fields a client may change (``customer_code``: the customer's source or unified code)."""

EMPTY_RECORD: dict[str, Any] = {
    "customer_id": None,
    "status": "unknown",
    "main_services": None,
    **{f: 0 for f in INT_FIELDS},
    **{f: Decimal("0.00") for f in NUM_FIELDS},
    "rival_operator": None,
    "contract_end": None,
    "contact_name": None,
    "contact_phone": None,
    "surveyed_at": None,
}
"""The values of a new unit's first record where the client gives none."""

CLIENT_SOURCES = ("field", "api")
MAX_TEXT = 500
_INT_MAX = 2**31 - 1
_NUM_MAX = Decimal("1e12")  # numeric(14, 2)
# mainland mobile (1[3-9]x xxxx xxxx) or landline (0 + area code + 7-8 digits, optional extension),
# optionally +86 / 0086; spaces and hyphens between digit groups are allowed
_PHONE = re.compile(r"^(?:\+?86|0086)?(?:1[3-9]\d{9}|0\d{2,3}\d{7,8}(?:\d{1,6})?)$")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ValidationFailed(f"{name}: must be an integer ≥ 0", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValidationFailed(f"{name}: {value!r} is not an integer", name) from None
    if not isinstance(value, int):
        raise ValidationFailed(f"{name}: {value!r} is not an integer", name)
    if value < 0:
        raise ValidationFailed(f"{name}: must be ≥ 0, not {value}", name)
    if value > _INT_MAX:
        raise ValidationFailed(f"{name}: {value} is too large", name)
    return value


def _number(name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationFailed(f"{name}: must be a number ≥ 0", name)
    try:
        d = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(f"{name}: {value!r} is not a number", name) from None
    if not d.is_finite():
        raise ValidationFailed(f"{name}: {value!r} is not a number", name)
    if d < 0:
        raise ValidationFailed(f"{name}: must be ≥ 0, not {value}", name)
    if d >= _NUM_MAX:
        raise ValidationFailed(f"{name}: {value} is too large", name)
    return d.quantize(Decimal("0.01"))


def parse_date(name: str, value: Any) -> dt.date | None:
    """A date from ISO text or ``YYYY/MM/DD`` (None stays None); ValidationFailed naming ``name``."""
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    m = _DATE.match(str(value).strip())
    try:
        if m is None:
            raise ValueError
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValidationFailed(f"{name}: {value!r} is not a date (YYYY-MM-DD)", name) from None


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name}: must be text", name)
    s = value.strip()
    if len(s) > MAX_TEXT:
        raise ValidationFailed(f"{name}: at most {MAX_TEXT} characters", name)
    return s or None


def check_phone(name: str, value: Any) -> str | None:
    """A contact phone (mobile or landline, China); ValidationFailed naming ``name`` otherwise."""
    s = _text(name, value)
    if s is None:
        return None
    compact = re.sub(r"[\s-]", "", s)
    if not _PHONE.match(compact):
        raise ValidationFailed(
            f"{name}: {s!r} is not a phone number (mobile 1xxxxxxxxxx or landline 0xxx-xxxxxxx)", name
        )
    return s


def find_customer(conn: Connection, city_id: int, code: str) -> int:
    """The customer of the city with this source code (else unified code); ValidationFailed when none."""
    cid = conn.scalar(
        text(
            "SELECT id FROM customer WHERE city_id = :city AND (source_code = :c OR unified_code = :c) "
            "ORDER BY (source_code = :c) DESC, id LIMIT 1"
        ),
        {"city": city_id, "c": code},
    )
    if cid is None:
        raise ValidationFailed(f"customer_code: no customer {code!r} in the unit's city", "customer_code")
    return int(cid)


def validate_change(
    conn: Connection | None, city_id: int | None, change: Mapping[str, Any], *, prefix: str = ""
) -> dict[str, Any]:
    """Check a client's change and return it as record columns (``customer_code`` → ``customer_id``).

    Unknown fields, bad values and customers not in the unit's city raise :class:`ValidationFailed`
    naming the field (with ``prefix``, e.g. ``change.``). ``conn``/``city_id`` may be None when the
    change carries no ``customer_code``.
    """
    out: dict[str, Any] = {}
    for key, value in change.items():
        name = prefix + key
        if key not in EDITABLE:
            raise ValidationFailed(f"{name}: not a field you can change (one of {', '.join(EDITABLE)})", name)
        if key == "status":
            try:
                out["status"] = parse_status(value)
            except ValueError as e:
                raise ValidationFailed(f"{name}: {e}", name) from None
        elif key in INT_FIELDS:
            out[key] = _integer(name, value)
        elif key in NUM_FIELDS:
            out[key] = _number(name, value)
        elif key in DATE_FIELDS:
            out[key] = parse_date(name, value)
        elif key == "contact_phone":
            out[key] = check_phone(name, value)
        elif key == "customer_code":
            code = _text(name, value)
            if code is None:
                out["customer_id"] = None
            else:
                if conn is None or city_id is None:
                    raise ValidationFailed(f"{name}: cannot be changed here", name)
                try:
                    out["customer_id"] = find_customer(conn, city_id, code)
                except ValidationFailed as e:
                    raise ValidationFailed(str(e).replace("customer_code", name, 1), name) from None
        else:
            out[key] = _text(name, value)
    return out


def apply_change(old: Mapping[str, Any], values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The record after ``values`` (validated columns) are applied to ``old``, and its warnings.

    Line counts changed without a status derive the status from the counts (METRICS.md, as the
    import does); a status contradicting the counts is kept and reported.
    """
    new = {f: old.get(f) for f in RECORD_FIELDS}
    new.update(values)
    own = int(new["fixed_lines_own"] or 0) + int(new["broadband_own"] or 0)
    rival = int(new["fixed_lines_rival"] or 0) + int(new["broadband_rival"] or 0)
    warnings: list[str] = []
    if "status" not in values and any(f in values for f in INT_FIELDS):
        derived = derive_status(own, rival)
        if derived != new["status"]:
            warnings.append(f"status: derived from the line counts: {derived}")
        new["status"] = derived
    rule = status_contradiction(str(new["status"]), own, rival)
    if rule is not None:
        warnings.append(f"status: {rule}")
    return new, warnings


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The record columns whose value differs."""
    return [f for f in RECORD_FIELDS if _norm(old.get(f)) != _norm(new.get(f))]


def _norm(v: Any) -> Any:
    if isinstance(v, Decimal | float) and not isinstance(v, bool):
        return Decimal(str(v)).quantize(Decimal("0.01"))
    return v


def check_source(value: Any) -> str:
    """A source a client may name explicitly (``field`` or ``api``)."""
    if value not in CLIENT_SOURCES:
        raise ValidationFailed(f"source: one of {', '.join(CLIENT_SOURCES)}", "source")
    return str(value)


def check_note(value: Any, name: str = "note") -> str | None:
    """A change note: text of at most 500 characters, or None."""
    return _text(name, value)


# ------------------------------------------------------------------------------------------------
# locking, versions
# ------------------------------------------------------------------------------------------------


@dataclass
class StaleVersion(Conflict):
    """The client's version is not the current one: nothing written (HTTP 409 with the current record)."""

    external_id: str
    expected: int
    current: int
    changed_by: str | None
    changed_by_user: str | None
    changed_at: dt.datetime | None
    unit_id: int = 0

    def __post_init__(self) -> None:
        super().__init__(
            f"address unit {self.external_id!r} has changed: you sent version {self.expected}, "
            f"the current one is {self.current}"
        )


@dataclass
class LockedUnit:
    """A unit locked for writing with its current record."""

    id: int
    external_id: str
    city_id: int
    cell_id: int
    retired_at: dt.datetime | None
    record: dict[str, Any] = field(default_factory=dict)


_RECORD_COLS = ", ".join(f"r.{f}" for f in RECORD_FIELDS)


def parse_version(value: Any, name: str = "version") -> int:
    """A version number from a body field or an ``If-Match`` value (``"3"``, ``W/"3"``, ``3``)."""
    if isinstance(value, bool):
        raise ValidationFailed(f"{name}: must be a version number", name)
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s.startswith("W/"):
        s = s[2:]
    s = s.strip('"')
    if not s.isdigit():
        raise ValidationFailed(f"{name}: {value!r} is not a version number", name)
    return int(s)


def unit_id_of(conn: Connection, external_id: str, *, live: bool = True) -> int:
    """The id of the unit with this address id; NotFound when missing (or retired, when ``live``)."""
    row = conn.execute(
        text("SELECT id, retired_at FROM address_unit WHERE external_id = :e"), {"e": external_id}
    ).one_or_none()
    if row is None:
        raise NotFound(f"no address unit {external_id!r}")
    if live and row.retired_at is not None:
        raise NotFound(f"address unit {external_id!r} was retired on {row.retired_at.date().isoformat()}")
    return int(row.id)


def lock_units(conn: Connection, unit_ids: Iterable[int]) -> dict[int, LockedUnit]:
    """Lock the current records of the units (unit id order), then the units; return both.

    Records first, then units: the order in which the metric triggers of any other writer take
    them, so writers never deadlock with one another. A writer waiting for a record that the
    holder replaces finds no current row when it gets the lock (the row it waited for is closed):
    the lock is taken again, in a new snapshot, on the new current record, whose version the
    caller then compares. Units are read after the records are locked, so a unit retired by the
    writer just before is seen retired.
    """
    ids = sorted(set(unit_ids))
    records: dict[int, dict[str, Any]] = {}
    for _ in range(5):
        missing = [i for i in ids if i not in records]
        if not missing:
            break
        rows = conn.execute(
            text(
                "SELECT r.id, r.address_unit_id, r.city_id, r.version, r.valid_from, r.changed_by, "
                f"{_RECORD_COLS} "
                "FROM market_record r WHERE r.address_unit_id = ANY(CAST(:ids AS bigint[])) "
                "AND r.valid_to IS NULL ORDER BY r.address_unit_id FOR UPDATE"
            ),
            {"ids": missing},
        ).mappings()
        for row in rows:
            records[int(row["address_unit_id"])] = dict(row)
    units = {
        int(r.id): LockedUnit(int(r.id), r.external_id, int(r.city_id), int(r.cell_id), r.retired_at)
        for r in conn.execute(
            text(
                "SELECT id, external_id, city_id, cell_id, retired_at FROM address_unit "
                "WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR NO KEY UPDATE"
            ),
            {"ids": ids},
        )
    }
    for uid, u in units.items():
        if uid not in records:
            raise Conflict(f"address unit {u.external_id!r} is being changed by another writer; try again")
        u.record = records[uid]
    return units


def who(conn: Connection, user_id: int | None) -> tuple[str | None, str | None]:
    """(display name: staff name or user name, user name) of a user id."""
    if user_id is None:
        return None, None
    row = conn.execute(
        text(
            "SELECT u.username, s.name FROM app_user u LEFT JOIN staff s ON s.id = u.staff_id WHERE u.id = :i"
        ),
        {"i": user_id},
    ).one_or_none()
    if row is None:
        return None, None
    return row.name or row.username, row.username


def check_version(conn: Connection, unit: LockedUnit, expected: int) -> None:
    """Raise :class:`StaleVersion` unless the unit's current record has version ``expected``."""
    current = int(unit.record["version"])
    if current != expected:
        name, username = who(conn, unit.record["changed_by"])
        raise StaleVersion(
            unit.external_id, expected, current, name, username, unit.record["valid_from"], unit.id
        )


_INSERT_COLS = ("address_unit_id", "city_id", "version", *RECORD_FIELDS)
_RECORDSET = (
    "x(old_id bigint, address_unit_id bigint, city_id integer, version integer, customer_id bigint, "
    "status text, main_services text, fixed_lines_own integer, fixed_lines_rival integer, "
    "broadband_own integer, broadband_rival integer, ld_minutes_own numeric, ld_minutes_rival numeric, "
    "revenue_month numeric, rival_operator text, contract_end date, contact_name text, "
    "contact_phone text, surveyed_at date)"
)


def _dumps(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=lambda v: str(v) if isinstance(v, Decimal) else None).decode()


def write_versions(
    conn: Connection,
    changes: Sequence[tuple[LockedUnit | None, int, int, dict[str, Any]]],
    *,
    user_id: int | None,
    source: str,
    note: str | None = None,
    batch_id: int | None = None,
) -> dict[int, int]:
    """Write one new version per unit, set-based; return {unit id: new record id}.

    ``changes`` are (locked unit or None for a new unit's version 1, unit id, city id, new values
    of :data:`RECORD_FIELDS`). The current records of the locked units are closed at now and the
    new versions start then (both in one statement each, so bulk changes cost two statements).
    """
    if source not in RECORD_SOURCES:
        raise ValueError(source)
    if not changes:
        return {}
    rows = []
    for unit, unit_id, city_id, values in changes:
        old = unit.record if unit is not None else None
        rows.append(
            {
                "old_id": old["id"] if old else None,
                "address_unit_id": unit_id,
                "city_id": city_id,
                "version": int(old["version"]) + 1 if old else 1,
                **{f: values.get(f) for f in RECORD_FIELDS},
            }
        )
    old_ids = [r["old_id"] for r in rows if r["old_id"] is not None]
    # a version starts no earlier than its predecessor (records dated by a survey in the future)
    closed = {
        int(i): t
        for i, t in conn.execute(
            text(
                "UPDATE market_record SET valid_to = greatest(now(), valid_from + interval '1 millisecond') "
                "WHERE id = ANY(CAST(:ids AS bigint[])) AND valid_to IS NULL RETURNING id, valid_to"
            ),
            {"ids": old_ids},
        )
    }
    if len(closed) != len(old_ids):
        raise Conflict("a record changed while it was being written; try again")
    cols = ", ".join(_INSERT_COLS)
    new_ids = conn.execute(
        text(
            f"INSERT INTO market_record ({cols}, note, source, changed_by, batch_id, valid_from) "
            f"SELECT {', '.join('x.' + c for c in _INSERT_COLS)}, :note, :source, :uid, :batch, "
            "coalesce(o.valid_to, now()) "
            f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS {_RECORDSET} "
            "LEFT JOIN market_record o ON o.id = x.old_id "
            "RETURNING address_unit_id, id"
        ),
        {"rows": _dumps(rows), "note": note, "source": source, "uid": user_id, "batch": batch_id},
    )
    return {int(u): int(i) for u, i in new_ids}


def edit_unit(
    conn: Connection,
    scope: Any,
    external_id: str,
    expected_version: int,
    change: Mapping[str, Any],
    *,
    source: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Edit one unit's record under optimistic concurrency; return {version, changed, warnings}.

    Order: unit exists (404) → caller may edit it (403) → values valid (422) → lock → version
    current (409, :class:`StaleVersion`) → new version written (nothing when no field changes
    and no note is given).
    """
    uid = unit_id_of(conn, external_id)
    scope.check_unit(conn, uid, "edit")
    city = conn.scalar(text("SELECT city_id FROM address_unit WHERE id = :i"), {"i": uid})
    values = validate_change(conn, int(city), change)
    unit = lock_units(conn, [uid])[uid]
    if unit.retired_at is not None:
        raise NotFound(f"address unit {external_id!r} was retired")
    check_version(conn, unit, expected_version)
    new, warnings = apply_change(unit.record, values)
    fields = changed_fields(unit.record, new)
    if not fields and not note:
        return {"version": int(unit.record["version"]), "changed": [], "warnings": warnings}
    write_versions(
        conn, [(unit, uid, unit.city_id, new)], user_id=scope.user.id or None, source=source, note=note
    )
    return {"version": int(unit.record["version"]) + 1, "changed": fields, "warnings": warnings}
