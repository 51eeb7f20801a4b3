"""Who may see and change what: the one place a user's scope is worked out and applied.

A login's scope is never typed in by hand: it follows from its role and from the staff record
(and that member's assignments in force today, in the operator's time zone) or the region it is
linked to (CONTRACT.md "Roles and scope"). Every query that reads areas or address units takes
its filter from a :class:`Scope`:

* :meth:`Scope.cell_sql` filters cells (maps, metrics, listings of areas);
* :meth:`Scope.unit_sql` filters address units for reading or editing;
* :meth:`Scope.phone_sql` says where contact phones are shown unmasked;
* :func:`authorize` checks a role may perform an action at all.

Listings are filtered (an item outside the scope is simply not there); a single item outside the
scope is refused with :class:`Forbidden` (HTTP 403).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from gridmarket.grids.auth import User
from gridmarket.grids.errors import Forbidden, NotFound

# Actions a role may perform at all; the scope then limits where.
ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset(
        {
            "admin",
            "city_manager",
            "regional_head",
            "specialist_lead",
            "grid_manager",
            "account_manager",
            "planner",
        }
    ),
    "edit_units": frozenset(
        {"admin", "city_manager", "regional_head", "specialist_lead", "grid_manager", "account_manager"}
    ),
    "manage_org": frozenset({"admin", "city_manager"}),
    "manage_users": frozenset({"admin"}),
    "read_audit": frozenset({"admin"}),
}

# Roles whose read scope is a whole city branch.
CITY_WIDE = frozenset({"city_manager", "planner"})


_ALIAS = re.compile(r"^[a-z_][a-z0-9_]{0,30}$")


def _alias(*names: str) -> None:
    """Aliases come from our own code; refuse anything else so no text reaches SQL unchecked."""
    for n in names:
        if not _ALIAS.match(n):
            raise ValueError(f"bad SQL alias {n!r}")


def authorize(user: User, action: str) -> None:
    """Raise Forbidden unless the user's role may perform ``action``."""
    if user.role not in ACTIONS[action]:
        raise Forbidden(f"the role {user.role} may not {action.replace('_', ' ')}")


def today(tz: str) -> dt.date:
    """Return today's date in the operator's time zone."""
    return dt.datetime.now(ZoneInfo(tz)).date()


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number as 138****5678 (keeps the first 3 and last 4 digits)."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


@dataclass(frozen=True)
class Scope:
    """What one user may see and change, derived from role, staff assignments and region."""

    user: User
    everything: bool = False
    cities: frozenset[int] = frozenset()
    districts: frozenset[int] = frozenset()
    grids: frozenset[int] = frozenset()
    cells: frozenset[int] = frozenset()
    customers: frozenset[int] = frozenset()
    feature_grids: frozenset[int] = frozenset()
    # (city id, industry) pairs of the user's characteristic grids (membership by industry)
    industries: tuple[tuple[int, str], ...] = ()
    on: dt.date = field(default_factory=dt.date.today)

    @property
    def role(self) -> str:
        """The user's role."""
        return self.user.role

    # -- areas ----------------------------------------------------------------------------
    def city_ids(self) -> list[int] | None:
        """The cities whose area listings the user may read; None means all."""
        return None if self.everything else sorted(self.cities)

    def allows_city(self, city_id: int) -> bool:
        """Tell whether the user may read anything of this city."""
        return self.everything or city_id in self.cities

    def cell_sql(self, c: str = "c") -> tuple[str, dict[str, Any]]:
        """SQL condition on cell alias ``c`` selecting the cells whose figures the user may read."""
        _alias(c)
        if self.everything:
            return "true", {}
        if self.role in CITY_WIDE or self.role == "specialist_lead":
            return f"{c}.city_id = ANY(CAST(:sc_cities AS integer[]))", {"sc_cities": sorted(self.cities)}
        if self.role == "regional_head":
            return f"{c}.district_id = ANY(CAST(:sc_districts AS integer[]))", {
                "sc_districts": sorted(self.districts)
            }
        return f"{c}.id = ANY(CAST(:sc_cells AS integer[]))", {"sc_cells": sorted(self.cells)}

    def own_cell_sql(self, c: str = "c") -> tuple[str, dict[str, Any]]:
        """SQL condition on cell ``c`` for the cells the user is responsible for ("my area").

        Cell-, grid- and characteristic-grid-based roles: their own cells; others: their read scope.
        """
        _alias(c)
        if not self.everything and self.role in ("grid_manager", "account_manager", "specialist_lead"):
            return f"{c}.id = ANY(CAST(:so_cells AS integer[]))", {"so_cells": sorted(self.cells)}
        return self.cell_sql(c)

    # -- address units --------------------------------------------------------------------
    def unit_sql(self, a: str = "a", r: str = "r", mode: str = "read") -> tuple[str, dict[str, Any]]:
        """SQL condition on address unit ``a`` (current record ``r``) for reading or editing units."""
        if mode not in ("read", "edit"):
            raise ValueError(mode)
        _alias(a, r)
        if self.everything:
            return "true", {}
        role = self.role
        if role == "planner":
            if mode == "edit":
                return "false", {}
            return f"{a}.city_id = ANY(CAST(:su_cities AS integer[]))", {"su_cities": sorted(self.cities)}
        if role == "city_manager":
            return f"{a}.city_id = ANY(CAST(:su_cities AS integer[]))", {"su_cities": sorted(self.cities)}
        if role == "regional_head":
            return (
                f"{a}.cell_id IN (SELECT id FROM cell "
                "WHERE district_id = ANY(CAST(:su_districts AS integer[])))",
                {"su_districts": sorted(self.districts)},
            )
        parts = [f"{a}.cell_id = ANY(CAST(:su_cells AS integer[]))"]
        params: dict[str, Any] = {"su_cells": sorted(self.cells)}
        if role == "account_manager" and self.customers:
            parts.append(f"{r}.customer_id = ANY(CAST(:su_customers AS bigint[]))")
            params["su_customers"] = sorted(self.customers)
        if role == "specialist_lead" and self.industries:
            parts.append(
                f"EXISTS (SELECT 1 FROM customer su_cu WHERE su_cu.id = {r}.customer_id AND "
                f"({a}.city_id, su_cu.industry) IN (SELECT * FROM unnest("
                "CAST(:su_ind_cities AS integer[]), CAST(:su_ind_names AS text[]))))"
            )
            params["su_ind_cities"] = [c for c, _ in self.industries]
            params["su_ind_names"] = [i for _, i in self.industries]
        return "(" + " OR ".join(parts) + ")", params

    def phone_sql(self, a: str = "a", r: str = "r") -> tuple[str, dict[str, Any]]:
        """SQL condition that is true where the user sees a unit's contact phone unmasked.

        Phones are shown where the user may edit the unit; a planner never sees them.
        """
        return self.unit_sql(a, r, mode="edit")

    def check_unit(self, conn: Connection, unit_id: int, mode: str = "read") -> None:
        """Raise Forbidden unless the user may read (or edit) this address unit."""
        cond, params = self.unit_sql("a", "r", mode)
        ok = conn.scalar(
            text(
                "SELECT " + cond + " FROM address_unit a "
                "LEFT JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE a.id = :unit_id"
            ),
            {**params, "unit_id": unit_id},
        )
        if ok is None:
            raise NotFound("no such address unit")
        if not ok:
            verb = "change" if mode == "edit" else "see"
            raise Forbidden(f"you may not {verb} this address unit")

    def check_cell(self, conn: Connection, cell_id: int) -> None:
        """Raise Forbidden unless the cell is in the user's area scope or holds a unit they may read."""
        cell_ok, cp = self.cell_sql("c")
        unit_ok, up = self.unit_sql("a", "r", "read")
        ok = conn.scalar(
            text(
                f"SELECT ({cell_ok}) OR EXISTS (SELECT 1 FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                f"WHERE a.cell_id = c.id AND {unit_ok}) FROM cell c WHERE c.id = :cell_id"
            ),
            {**cp, **up, "cell_id": cell_id},
        )
        if ok is None:
            raise NotFound("no such cell")
        if not ok:
            raise Forbidden("this cell is outside your scope")

    def readable_cell(self, conn: Connection, code: str) -> Any:
        """The cell (id, code, name, city_id) of this code: NotFound when missing, Forbidden as check_cell."""
        cell = conn.execute(
            text("SELECT id, code, name, city_id FROM cell WHERE code = :c"), {"c": code}
        ).one_or_none()
        if cell is None:
            raise NotFound(f"no cell {code!r}")
        try:
            self.check_cell(conn, int(cell.id))
        except Forbidden:
            raise Forbidden(f"cell {code!r} is outside your scope") from None
        return cell


def system_scope() -> Scope:
    """The unrestricted scope of the command line and internal jobs (never of an HTTP caller)."""
    return Scope(
        User(id=0, username="system", role="admin", staff_id=None, region_id=None, disabled=False),
        everything=True,
    )


def _ids(conn: Connection, sql: str, params: dict[str, Any]) -> frozenset[int]:
    return frozenset(int(x) for x in conn.scalars(text(sql), params))


def scope_for(conn: Connection, user: User, on: dt.date | None = None, tz: str = "Asia/Shanghai") -> Scope:
    """Derive a user's scope from the role and the staff record or region it is linked to.

    ``on`` is the day whose assignments count (default: today in ``tz``): an assignment ending
    today still counts today and no longer tomorrow.
    """
    on = on or today(tz)
    if user.role == "admin":
        return Scope(user, everything=True, on=on)
    region = None
    if user.region_id is not None:
        region = conn.execute(
            text("SELECT id, level, city_id FROM region WHERE id = :r"), {"r": user.region_id}
        ).one_or_none()
    staff = None
    if user.staff_id is not None:
        staff = conn.execute(
            text(
                "SELECT s.id, s.city_id, o.district_id FROM staff s "
                "LEFT JOIN org_unit o ON o.id = s.org_unit_id WHERE s.id = :s"
            ),
            {"s": user.staff_id},
        ).one_or_none()
    city = region.city_id if region is not None else (staff.city_id if staff is not None else None)
    cities = frozenset({city}) if city is not None else frozenset()

    if user.role in CITY_WIDE:
        return Scope(user, cities=cities, on=on)
    if user.role == "regional_head":
        district = None
        if region is not None and region.level == "district":
            district = region.id
        elif staff is not None:
            district = staff.district_id
        districts = frozenset({district}) if district is not None else frozenset()
        return Scope(user, cities=cities, districts=districts, on=on)
    if staff is None:
        # a staff-based role without a staff record sees nothing but its own login
        return Scope(user, cities=frozenset(), on=on)

    targets: dict[str, set[int]] = {k: set() for k in ("cell", "grid", "feature_grid", "customer")}
    for kind, target in conn.execute(
        text(
            "SELECT kind, coalesce(cell_id, grid_id, feature_grid_id, customer_id) FROM assignment "
            "WHERE staff_id = :s AND valid_from <= :on AND (valid_to IS NULL OR valid_to >= :on)"
        ),
        {"s": staff.id, "on": on},
    ):
        targets[kind].add(int(target))
    if user.role == "grid_manager":
        grids = frozenset(targets["grid"])
        cells = _ids(
            conn, "SELECT id FROM cell WHERE grid_id = ANY(CAST(:g AS integer[]))", {"g": sorted(grids)}
        )
        return Scope(user, cities=cities, grids=grids, cells=cells, on=on)
    if user.role == "account_manager":
        return Scope(
            user,
            cities=cities,
            cells=frozenset(targets["cell"]),
            customers=frozenset(targets["customer"]),
            on=on,
        )
    # specialist_lead: their characteristic grids, by member cells and by industries
    fgs = sorted(targets["feature_grid"])
    cells = _ids(
        conn,
        "SELECT cell_id FROM feature_grid_cell WHERE feature_grid_id = ANY(CAST(:f AS integer[]))",
        {"f": fgs},
    )
    pairs = tuple(
        (int(c), str(i))
        for c, i in conn.execute(
            text(
                "SELECT DISTINCT city_id, unnest(industries) FROM feature_grid "
                "WHERE id = ANY(CAST(:f AS integer[])) ORDER BY 1, 2"
            ),
            {"f": fgs},
        )
    )
    fg_cities = _ids(
        conn, "SELECT city_id FROM feature_grid WHERE id = ANY(CAST(:f AS integer[]))", {"f": fgs}
    )
    return Scope(
        user, cities=cities | fg_cities, cells=cells, feature_grids=frozenset(fgs), industries=pairs, on=on
    )


def city_by_code(conn: Connection, scope: Scope, code: str) -> int:
    """Return the id of city ``code``; NotFound when missing, Forbidden outside the scope."""
    cid = conn.scalar(text("SELECT id FROM region WHERE code = :c AND level = 'city'"), {"c": code})
    if cid is None:
        raise NotFound(f"no city {code!r}")
    if not scope.everything and cid not in scope.cities:
        raise Forbidden(f"city {code!r} is outside your scope")
    return int(cid)
