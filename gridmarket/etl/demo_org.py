"""The demo's matrix sales organisation: org units, staff, characteristic grids and assignments.

:func:`generate_demo_org` runs inside :func:`gridmarket.etl.demo.generate_demo`'s transaction,
after the territory, customers and address units are written, and reads what it needs back from
the database. For every city branch it creates:

- the city's 政企部 (``city_dept``) with its 地市政企部经理 and 市场经理;
- one regional marketing centre (``regional_centre``) per district bureau, with its 区局营销中心主任,
  网格经理 (one or two grids each) and 客户经理 (two to four cells each);
- characteristic grids (特征网格) with member cells of the matching cell type (or, where no cell
  has that type, the cells holding most buildings of that kind) and industries — all of them in
  the largest city (全市校园, 医院, 宾馆酒店, 党政军, 金融, 专业市场集群, 商务楼宇集群, 工业园区), a few in
  the others — each owned by a specialist team (``specialist_team``) under a specialist centre
  (``specialist_centre``) of its specialty (models.SPECIALTIES), led by a 专业团队长;
- assignments valid from 2026-01-01, open-ended: cells → account managers, grids → grid managers,
  characteristic grids → their team (``org_unit_id``) and its lead, key customers (strategic,
  important) → the account manager of their first site's cell; plus one hand-over to show history
  (the old assignment ends 2026-06-30, the new one starts 2026-07-01).

Roll-out differs by city so the roll-out indicators (METRICS.md) land between 0 and 100 %: the
largest city has every cell assigned, the second about 70 %, the third about 30 % (whole grids
in a seeded order, the last one partly). Everything follows from the seed; nothing from the clock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from gridmarket.etl import demo_names as nm
from gridmarket.grids.org import (
    SPECIALTY_NAMES,
    AssignmentRow,
    OrgUnitRow,
    StaffRow,
    upsert_assignments,
    upsert_org_units,
    upsert_staff,
)

__all__ = ["FEATURE_GRIDS", "ORG_TABLES", "ROLLOUT", "VALID_FROM", "generate_demo_org"]

ORG_TABLES = ("org_unit", "staff", "assignment", "feature_grid", "feature_grid_cell")
"""The tables :func:`generate_demo_org` writes."""

VALID_FROM = dt.date(2026, 1, 1)
"""Start of every demo assignment (but the hand-over)."""
HANDOVER_END = dt.date(2026, 6, 30)
ROLLOUT = (1.0, 0.7, 0.3)
"""Share of cells with an account manager, for the cities by address units; others get 0.5."""
_SPEC_CODE = {
    "government": "GOV",
    "finance": "FIN",
    "large_enterprise": "ENT",
    "specialist_market": "MKT",
    "campus": "EDU",
    "hospital": "MED",
    "hotel": "HTL",
}


@dataclass(frozen=True)
class FeatureGridSpec:
    """A characteristic grid of the demo: code suffix, name suffix, cell type, industries, owner."""

    key: str
    name: str
    type: str | None
    industries: tuple[str, ...]
    specialty: str
    building_type: str | None  # buildings that mark a cell when no cell has ``type``
    team: str


FEATURE_GRIDS: tuple[FeatureGridSpec, ...] = (
    FeatureGridSpec("CAMPUS", "全市校园", "campus", ("教育",), "campus", "campus", "校园团队"),
    FeatureGridSpec("HOSPITAL", "医院", "hospital", ("医疗",), "hospital", "hospital", "医院团队"),
    FeatureGridSpec("HOTEL", "宾馆酒店", "hotel", ("酒店",), "hotel", "hotel", "宾馆酒店团队"),
    FeatureGridSpec("GOV", "党政军", "government", ("政府机关",), "government", "government", "党政军团队"),
    FeatureGridSpec("FINANCE", "金融", None, ("金融",), "finance", None, "金融团队"),
    FeatureGridSpec(
        "MARKET",
        "专业市场集群",
        "specialist_market",
        (),
        "specialist_market",
        "specialist_market",
        "专业市场团队",
    ),
    FeatureGridSpec(
        "CBD", "商务楼宇集群", "commercial_building", (), "large_enterprise", "office_tower", "商务楼宇团队"
    ),
    FeatureGridSpec(
        "PARK", "工业园区", "industrial_park", (), "large_enterprise", "industrial_park", "工业园区团队"
    ),
)
"""All of them in the largest city."""
_SMALL_CITY_GRIDS = (("GOV", "MARKET", "PARK"), ("GOV", "PARK"))
"""The characteristic grids of the second, and of the third and further cities."""


class _City:
    """What is generated for one city, before it is written."""

    def __init__(self, city_id: int, code: str, name: str) -> None:
        self.id, self.code, self.name = city_id, code, name
        self.short = name[:-1] if name.endswith("市") and len(name) > 2 else name
        self.units: list[OrgUnitRow] = []
        self.staff: list[tuple[str, str, str]] = []  # (code, post, unit code); names come later
        self.assignments: list[AssignmentRow] = []

    def unit(self, code: str, name: str, kind: str, district: int | None, parent: str | None) -> str:
        self.units.append(OrgUnitRow(code, name, kind, self.id, district, parent))
        return code

    def person(self, post: str, unit: str) -> str:
        code = f"{self.code}{len(self.staff) + 1:05d}"
        self.staff.append((code, post, unit))
        return code

    def assign(
        self,
        staff: str,
        kind: str,
        target: int,
        unit: str,
        start: dt.date = VALID_FROM,
        end: dt.date | None = None,
    ) -> None:
        self.assignments.append(AssignmentRow(staff, kind, target, start, end, unit))


def _rows(conn: Connection, sql: str, **params: Any) -> list[Any]:
    return list(conn.execute(text(sql), params).all())


def _chunks(rng: np.random.Generator, items: list[Any], lo: int, hi: int) -> list[list[Any]]:
    """Split ``items`` in order into runs of ``lo``..``hi`` items."""
    out: list[list[Any]] = []
    i = 0
    while i < len(items):
        k = int(rng.integers(lo, hi + 1))
        out.append(items[i : i + k])
        i += k
    return out


def _rolled_out_cells(rng: np.random.Generator, grids: list[Any], cells: list[Any], share: float) -> set[int]:
    """Cells with an account manager: whole grids in a seeded order (drawn first), the last one partly."""
    by_grid: dict[int, list[int]] = defaultdict(list)
    for c in cells:
        by_grid[c.grid_id].append(c.id)
    drawn = [g.id for g in grids if g.kind == "drawn"]
    generated = [g.id for g in grids if g.kind != "drawn"]
    order = [drawn[i] for i in rng.permutation(len(drawn))] + [
        generated[i] for i in rng.permutation(len(generated))
    ]
    want = len(cells) if share >= 1 else round(share * len(cells))
    chosen: set[int] = set()
    for gid in order:
        if len(chosen) >= want:
            break
        chosen.update(by_grid[gid][: want - len(chosen)])
    return chosen


def _member_cells(spec: FeatureGridSpec, cells: list[Any], buildings: dict[int, dict[str, int]]) -> list[int]:
    """Cells of the grid's type; where none has it, up to three cells holding most such buildings."""
    if spec.type is None:
        return []
    typed = [c.id for c in cells if c.type == spec.type]
    if typed or spec.building_type is None:
        return typed
    bt = spec.building_type
    held = [(-buildings[c.id].get(bt, 0), c.code, c.id) for c in cells if buildings[c.id].get(bt, 0) > 0]
    return [cid for _, _, cid in sorted(held)[:3]]


def _regional(
    rng: np.random.Generator, city: _City, conn: Connection, share: float, dept: str
) -> dict[int, str]:
    """Regional centres, grid and account managers and their assignments; return cell id → account manager."""
    districts = _rows(
        conn,
        "SELECT id, code, name FROM region WHERE city_id = :c AND level = 'district' AND NOT is_unassigned"
        " ORDER BY code",
        c=city.id,
    )
    grids = _rows(
        conn, "SELECT id, code, district_id, kind FROM grid WHERE city_id = :c ORDER BY code", c=city.id
    )
    cells = _rows(
        conn,
        "SELECT id, code, grid_id, district_id, type FROM cell WHERE city_id = :c ORDER BY code",
        c=city.id,
    )
    chosen = _rolled_out_cells(rng, grids, cells, share)
    centre: dict[int, str] = {}
    for d in districts:
        centre[d.id] = city.unit(f"{d.code}-YXZX", f"{d.name}营销中心", "regional_centre", d.id, dept)
        city.person("区局营销中心主任", centre[d.id])
    cells_of: dict[int, list[Any]] = defaultdict(list)
    for c in cells:
        if c.id in chosen:
            cells_of[c.grid_id].append(c)
    manager_of: dict[int, str] = {}
    for d in districts:
        unit = centre[d.id]
        active = [g for g in grids if g.district_id == d.id and cells_of[g.id]]
        for run in _chunks(rng, active, 1, 2):
            gm = city.person("网格经理", unit)
            for g in run:
                city.assign(gm, "grid", g.id, unit)
        for g in active:
            for run in _chunks(rng, cells_of[g.id], 2, 4):
                am = city.person("客户经理", unit)
                for c in run:
                    manager_of[c.id] = am
                    city.assign(am, "cell", c.id, unit)
    return manager_of


def _handover(city: _City, manager_of: dict[int, str]) -> None:
    """The first assigned cell changed hands on 2026-07-01: keep the ended assignment as history."""
    unit_of = {code: unit for code, _, unit in city.staff}
    for k, a in enumerate(city.assignments):
        if a.kind != "cell":
            continue
        others = [s for s in dict.fromkeys(manager_of.values()) if s != a.staff_code]
        same_unit = [s for s in others if unit_of[s] == unit_of[a.staff_code]]
        if not others:
            return
        old = (same_unit or others)[0]
        city.assignments[k] = AssignmentRow(
            a.staff_code, "cell", a.target_id, HANDOVER_END + dt.timedelta(days=1), None, a.org_unit_code
        )
        city.assign(old, "cell", a.target_id, unit_of[old], VALID_FROM, HANDOVER_END)
        return


def _customers(rng: np.random.Generator, city: _City, conn: Connection, manager_of: dict[int, str]) -> None:
    """Some key customers (strategic, important) → the account manager of their first site."""
    ids = [
        int(i)
        for i in conn.scalars(
            text(
                "SELECT id FROM customer WHERE city_id = :c AND segments && CAST(:segs AS text[]) ORDER BY id"
            ),
            {"c": city.id, "segs": ["strategic", "important"]},
        )
    ]
    if not ids:
        return
    want = min(len(ids), max(3, len(ids) // 10), 200)
    # a shuffled sample, several times what is wanted: some first sites lie outside the roll-out
    sample = [ids[i] for i in rng.permutation(len(ids))[: 4 * want].tolist()]
    first: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT DISTINCT ON (m.customer_id) m.customer_id, a.cell_id"
                " FROM market_record m JOIN address_unit a ON a.id = m.address_unit_id"
                " WHERE m.customer_id = ANY(:ids) AND m.valid_to IS NULL ORDER BY m.customer_id, a.id"
            ),
            {"ids": sample},
        ).all()
    )
    chosen = [c for c in sample if first.get(c, -1) in manager_of][:want]
    unit_of = {code: unit for code, _, unit in city.staff}
    for customer in sorted(chosen):
        am = manager_of[first[customer]]
        city.assign(am, "customer", customer, unit_of[am])


def _specialists(
    rng: np.random.Generator, city: _City, conn: Connection, rank: int, dept: str
) -> list[tuple[str, FeatureGridSpec, list[int]]]:
    """Characteristic grids of the city with their specialist centres, teams and leads."""
    keys = (
        [f.key for f in FEATURE_GRIDS]
        if rank == 0
        else list(_SMALL_CITY_GRIDS[min(rank, len(_SMALL_CITY_GRIDS)) - 1])
    )
    specs = [f for f in FEATURE_GRIDS if f.key in keys]
    cells = _rows(conn, "SELECT id, code, type FROM cell WHERE city_id = :c ORDER BY code", c=city.id)
    buildings: dict[int, dict[str, int]] = defaultdict(dict)
    for cid, btype, n in _rows(
        conn,
        "SELECT cell_id, type, count(*) FROM building"
        " WHERE city_id = :c AND cell_id IS NOT NULL GROUP BY 1, 2",
        c=city.id,
    ):
        buildings[cid][btype] = int(n)
    centres: dict[str, str] = {}
    teams_in: dict[str, int] = defaultdict(int)
    out: list[tuple[str, FeatureGridSpec, list[int]]] = []
    for spec in specs:
        sp = spec.specialty
        if sp not in centres:
            centres[sp] = city.unit(
                f"{city.code}-ZY-{_SPEC_CODE[sp]}",
                f"{city.short}{SPECIALTY_NAMES[sp][0]}专业营销中心",
                "specialist_centre",
                None,
                dept,
            )
            city.person("专业营销中心负责人", centres[sp])
        teams_in[sp] += 1
        team = city.unit(
            f"{centres[sp]}-T{teams_in[sp]}", f"{city.short}{spec.team}", "specialist_team", None, centres[sp]
        )
        lead = city.person("专业团队长", team)
        for _ in range(int(rng.integers(1, 3))):
            city.person("行业客户经理", team)
        out.append((lead, spec, _member_cells(spec, cells, buildings)))
    return out


def _staff_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct fake Chinese names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        for name in nm.person_names(rng, 2 * (n - len(names)) + 8):
            if name not in seen and len(names) < n:
                seen.add(name)
                names.append(name)
    return names


def generate_demo_org(conn: Connection, *, seed: int) -> dict[str, int]:
    """Write the demo's org units, staff, characteristic grids and assignments (see the module doc).

    Runs on the demo's connection, inside its transaction, after the address units are loaded.
    Deterministic for a seed. Returns counts: ``org_unit``, ``staff``, ``assignment``,
    ``feature_grid``, ``feature_grid_cell``.
    """
    rng = np.random.default_rng([seed, 0x6F7267])  # an org stream of its own: "org"
    cities = _rows(
        conn,
        """SELECT c.id, c.code, c.name FROM region c
           LEFT JOIN (SELECT city_id, count(*) AS n FROM address_unit GROUP BY city_id) a ON a.city_id = c.id
           WHERE c.level = 'city' AND NOT c.is_unassigned
           ORDER BY coalesce(a.n, 0) DESC, c.code""",
    )
    generated: list[_City] = []
    feature: list[tuple[_City, str, str, FeatureGridSpec, list[int]]] = []
    for rank, row in enumerate(cities):
        city = _City(int(row.id), str(row.code), str(row.name))
        dept = city.unit(f"{city.code}-ZQB", f"{city.name}政企部", "city_dept", None, None)
        city.person("地市政企部经理", dept)
        for _ in range(2 if rank == 0 else 1):
            city.person("市场经理", dept)
        share = ROLLOUT[rank] if rank < len(ROLLOUT) else 0.5
        manager_of = _regional(rng, city, conn, share, dept)
        if rank == 0:
            _handover(city, manager_of)
        _customers(rng, city, conn, manager_of)
        for lead, spec, members in _specialists(rng, city, conn, rank, dept):
            feature.append((city, lead, f"{city.code}-FG-{spec.key}", spec, members))
        generated.append(city)
    # write: units, staff (names drawn in one go, city by city), characteristic grids, assignments
    units = [u for c in generated for u in c.units]
    people = [(c, s) for c in generated for s in c.staff]
    names = _staff_names(rng, len(people))
    staff = [
        StaffRow(code, name, post, unit, c.id)
        for (c, (code, post, unit)), name in zip(people, names, strict=True)
    ]
    upsert_org_units(conn, units)
    upsert_staff(conn, staff)
    conn.execute(text("ANALYZE org_unit"))
    conn.execute(text("ANALYZE staff"))
    if feature:
        conn.execute(
            text(
                "INSERT INTO feature_grid (code, name, city_id, type, industries)"
                " VALUES (:code, :name, :city, :type, CAST(:industries AS text[]))"
            ),
            [
                {
                    "code": code,
                    "name": c.short + spec.name,
                    "city": c.id,
                    "type": spec.type,
                    "industries": list(spec.industries),
                }
                for c, _, code, spec, _ in feature
            ],
        )
        pairs = [(code, cid) for _, _, code, _, members in feature for cid in members]
        conn.execute(
            text(
                "INSERT INTO feature_grid_cell (feature_grid_id, cell_id)"
                " SELECT f.id, s.cell FROM unnest(CAST(:codes AS text[]), CAST(:cells AS integer[]))"
                " AS s(code, cell) JOIN feature_grid f ON f.code = s.code"
            ),
            {"codes": [p[0] for p in pairs], "cells": [p[1] for p in pairs]},
        )
        conn.execute(
            text(
                "UPDATE feature_grid f SET geom = u.geom FROM ("
                " SELECT fc.feature_grid_id AS id,"
                " ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)) AS geom"
                " FROM feature_grid_cell fc JOIN cell c ON c.id = fc.cell_id"
                " WHERE fc.feature_grid_id IN (SELECT id FROM feature_grid WHERE code = ANY(:codes))"
                " GROUP BY fc.feature_grid_id) u WHERE f.id = u.id"
            ),
            {"codes": [code for _, _, code, _, _ in feature]},
        )
        ids: dict[str, int] = dict(
            conn.execute(
                text("SELECT code, id FROM feature_grid WHERE code = ANY(:codes)"),
                {"codes": [code for _, _, code, _, _ in feature]},
            ).all()
        )
        for c, lead, code, _, _ in feature:
            team = next(s.org_unit_code for s in staff if s.code == lead)
            c.assign(lead, "feature_grid", int(ids[code]), team or "")
    upsert_assignments(conn, [a for c in generated for a in c.assignments])
    counts: dict[str, int] = {}
    for table in ORG_TABLES:
        counts[table] = int(conn.scalar(text("SELECT count(*) FROM " + table)) or 0)  # noqa: S608
    return counts
