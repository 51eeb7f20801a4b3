"""Who may see what: the one place a user's scope is worked out.

Issue 2 scopes reads by city branch: an admin sees every city; a login tied to a region sees that
region's city; a login tied to a staff record sees the staff member's city. Finer scopes (districts,
grids, cells, characteristic grids from assignments in force) build on this same object.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from gridmarket.grids.auth import User
from gridmarket.grids.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Scope:
    """The cities a user may read; ``city_ids`` None means every city."""

    user: User
    city_ids: frozenset[int] | None

    def allows_city(self, city_id: int) -> bool:
        """Tell whether the user may read this city."""
        return self.city_ids is None or city_id in self.city_ids

    def city_filter(self) -> list[int] | None:
        """Return the city ids for a ``= ANY(:cities)`` filter, or None for all."""
        return None if self.city_ids is None else sorted(self.city_ids)


def scope_for(conn: Connection, user: User) -> Scope:
    """Derive a user's scope from the role and the staff record or region it is linked to."""
    if user.role == "admin":
        return Scope(user, None)
    city: int | None = None
    if user.region_id is not None:
        city = conn.scalar(
            text("SELECT coalesce(city_id, id) FROM region WHERE id = :r"), {"r": user.region_id}
        )
    elif user.staff_id is not None:
        city = conn.scalar(text("SELECT city_id FROM staff WHERE id = :s"), {"s": user.staff_id})
    return Scope(user, frozenset({city}) if city is not None else frozenset())


def city_by_code(conn: Connection, scope: Scope, code: str) -> int:
    """Return the id of city ``code``; NotFound when missing, Forbidden outside the scope."""
    cid = conn.scalar(text("SELECT id FROM region WHERE code = :c AND level = 'city'"), {"c": code})
    if cid is None:
        raise NotFound(f"no city {code!r}")
    if not scope.allows_city(cid):
        raise Forbidden(f"city {code!r} is outside your scope")
    return int(cid)
