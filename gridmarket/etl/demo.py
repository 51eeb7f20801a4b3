"""The synthetic demo province: territory, buildings, customers and address units (issue 2 part 4).

:func:`generate_demo` loads, in one transaction, a province (浙江省) with three city branches at
their real coordinates — 杭州市 (four district bureaus), 绍兴市 (two) and 湖州市 (one, whose drawn
grids cover only its core so that outer addresses fall into generated H3 cells) — with irregular
Voronoi grids and cells, streets, buildings of every type, customers and address units whose
market status follows a smooth spatial field plus building-type effects, so the holistic views
show patterns rather than noise. Every value follows from the seed (``numpy`` and ``random``
generators seeded with it) and from the fixed base date 2026-11-01: never from the clock.

Regions, grids, cells, buildings and customers are written here with COPY; address units and
their first market records go through :func:`gridmarket.grids.units.load_units`, streamed.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text

import shapely
from shapely.affinity import scale as scale_geom
from shapely.geometry import MultiPolygon

from gridmarket.etl import demo_names as nm
from gridmarket.etl.demo_org import ORG_TABLES, generate_demo_org
from gridmarket.etl.demo_territory import (
    DensityField,
    Frame,
    Slots,
    arterial_lines,
    build_coverage,
    local_lines,
    polygons_of,
    relaxed_partition,
    sample_in,
    star_polygon,
    street_slots,
    voronoi_clip,
)
from gridmarket.geo.geometry import geodesic_area_km2
from gridmarket.geo.h3util import validate_resolution
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.models import BUILDING_TYPES, CELL_TYPES, STATUSES
from gridmarket.grids.units import UNIT_COLUMNS, load_units

__all__ = ["BASE_DATE", "CITIES", "PROVINCE", "VALID_FROM", "generate_demo"]

Progress = Callable[[str], None]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

BASE_DATE = dt.date(2026, 11, 1)
"""Every date of the demo is derived from this constant, never from today."""
VALID_FROM = dt.datetime(2026, 11, 1, tzinfo=ZoneInfo("Asia/Shanghai")) - dt.timedelta(days=30)
"""Valid-from of the demo's market records (version 1)."""
SOURCE = "demo"

# building types, in models.BUILDING_TYPES order
OFFICE, MARKET, SHOP, PARK, CAMPUS, HOSPITAL, HOTEL, GOV, RES = range(9)
assert BUILDING_TYPES[OFFICE] == "office_tower" and BUILDING_TYPES[RES] == "residential"
# the cell type a building type stands for, and how much of a cell's land one building takes
CELL_TYPE_OF = (
    "commercial_building",
    "specialist_market",
    "street_shops",
    "industrial_park",
    "campus",
    "hospital",
    "hotel",
    "government",
    "residential",
)
assert set(CELL_TYPE_OF) <= set(CELL_TYPES)
LAND_WEIGHT = np.array([4.0, 5.0, 0.5, 4.0, 10.0, 6.0, 2.5, 4.0, 2.0])
# status model, per building type: how strong we are, how contested, how much open demand, vacancy
OURS = np.array([0.3, -0.2, -0.1, -0.9, 0.4, 0.3, 0.0, 1.0, -0.3])
CONTESTED = np.array([0.4, 1.2, 0.2, 0.0, 0.3, 0.3, 0.3, -0.3, 0.0])
OPEN = np.array([-0.3, 0.0, 0.5, -0.2, -1.0, -1.0, -0.5, -1.5, 0.6])
VACANCY = np.array([0.07, 0.08, 0.08, 0.06, 0.01, 0.01, 0.02, 0.0, 0.05])
# services, per building type: mean extra fixed lines, extra broadband, P(dedicated line), P(cloud)
FIXED_MEAN = np.array([2.0, 0.3, 0.4, 3.0, 15.0, 12.0, 6.0, 8.0, 0.3])
BB_MEAN = np.array([0.5, 0.1, 0.1, 1.0, 3.0, 2.0, 2.0, 2.0, 0.1])
P_DEDICATED = np.array([0.15, 0.01, 0.01, 0.25, 0.6, 0.6, 0.3, 0.7, 0.0])
P_CLOUD = np.array([0.1, 0.0, 0.0, 0.15, 0.3, 0.3, 0.1, 0.3, 0.0])
JITTER_M = np.array([4.0, 15.0, 3.0, 50.0, 60.0, 30.0, 8.0, 30.0, 30.0])

STATUS = {s: i for i, s in enumerate(STATUSES)}
ST_STOCK, ST_COMP, ST_OTHER, ST_POT, ST_VACANT, ST_UNKNOWN = (STATUS[s] for s in STATUSES)
RIVALS = (None, "中国移动", "中国联通", "中国广电")
SERVICES = ("固话", "宽带", "专线", "天翼云")
SERVICE_TEXT: tuple[str | None, ...] = tuple(
    ";".join(s for k, s in enumerate(SERVICES) if bits >> k & 1) or None for bits in range(16)
)

IND = {name: i for i, name in enumerate(nm.INDUSTRIES)}
# industry mix of the occupants, per building type
_IND_MIX: dict[int, dict[str, float]] = {
    OFFICE: {
        "金融": 0.18,
        "信息技术": 0.25,
        "商务服务": 0.3,
        "房地产": 0.08,
        "批发零售": 0.06,
        "政府机关": 0.03,
        "制造业": 0.07,
        "物流": 0.03,
    },
    MARKET: {"批发零售": 0.94, "物流": 0.03, "餐饮": 0.03},
    SHOP: {"批发零售": 0.45, "餐饮": 0.25, "生活服务": 0.17, "金融": 0.06, "医疗": 0.05, "教育": 0.02},
    PARK: {"制造业": 0.6, "信息技术": 0.2, "物流": 0.1, "商务服务": 0.1},
    CAMPUS: {"教育": 1.0},
    HOSPITAL: {"医疗": 1.0},
    HOTEL: {"酒店": 1.0},
    GOV: {"政府机关": 1.0},
    RES: {"物业管理": 0.35, "生活服务": 0.3, "批发零售": 0.2, "教育": 0.1, "餐饮": 0.05},
}
IND_CUM = np.zeros((9, len(nm.INDUSTRIES)))
for _t, _mix in _IND_MIX.items():
    for _name, _p in _mix.items():
        IND_CUM[_t, IND[_name]] = _p
IND_CUM = np.cumsum(IND_CUM / IND_CUM.sum(axis=1, keepdims=True), axis=1)
IND_OURS = np.zeros(len(nm.INDUSTRIES))
for _name, _v in (("金融", 0.6), ("政府机关", 0.5), ("信息技术", 0.2), ("制造业", -0.3), ("物流", -0.2)):
    IND_OURS[IND[_name]] = _v
# P(a customer of this industry is a single site); the rest are chains of 2+ sites
IND_SINGLE = np.full(len(nm.INDUSTRIES), 0.85)
for _name, _v in (("金融", 0.35), ("房地产", 0.7), ("物流", 0.7), ("物业管理", 0.6), ("政府机关", 1.0)):
    IND_SINGLE[IND[_name]] = _v


@dataclass(frozen=True)
class DistrictSpec:
    """A district bureau: code, name, administrative code, seed offset as a fraction of the radius."""

    code: str
    name: str
    admin: str
    offset: tuple[float, float]


@dataclass(frozen=True)
class CitySpec:
    """A city branch of the demo and the knobs that make it differ from the others."""

    code: str
    name: str
    short: str
    lon: float
    lat: float
    radius_km: float
    share: float  # of all address units
    districts: tuple[DistrictSpec, ...]
    drawn_scale: float  # drawn grids cover the city scaled by this about its centre (H3 outside)
    unknown_base: float  # P(a building is not surveyed yet) at the centre
    consolidated: float  # share of customer records carrying a unified customer code
    effect: float  # how strong we are in this city overall
    mix: tuple[float, ...]  # share of address units per building type
    max_cells: int


PROVINCE = ("ZJ", "浙江省")
CITIES: tuple[CitySpec, ...] = (
    CitySpec(
        "HZ",
        "杭州市",
        "杭州",
        120.15,
        30.27,
        11.0,
        0.68,
        (
            DistrictSpec("HZ-SC", "上城区", "330102", (0.25, -0.12)),
            DistrictSpec("HZ-XH", "西湖区", "330106", (-0.45, 0.0)),
            DistrictSpec("HZ-GS", "拱墅区", "330105", (-0.05, 0.48)),
            DistrictSpec("HZ-BJ", "滨江区", "330108", (0.42, -0.55)),
        ),
        1.0,
        0.03,
        0.95,
        0.3,
        (0.34, 0.14, 0.16, 0.12, 0.03, 0.02, 0.03, 0.04, 0.12),
        8000,
    ),
    CitySpec(
        "SX",
        "绍兴市",
        "绍兴",
        120.58,
        30.00,
        4.8,
        0.18,
        (
            DistrictSpec("SX-YC", "越城区", "330602", (0.35, -0.1)),
            DistrictSpec("SX-KQ", "柯桥区", "330603", (-0.4, 0.2)),
        ),
        1.0,
        0.07,
        0.6,
        0.0,
        (0.24, 0.22, 0.17, 0.14, 0.03, 0.02, 0.03, 0.04, 0.11),
        1500,
    ),
    CitySpec(
        "HUZ",
        "湖州市",
        "湖州",
        120.09,
        30.89,
        4.6,
        0.14,
        (DistrictSpec("HUZ-WX", "吴兴区", "330502", (0.0, 0.0)),),
        0.6,
        0.12,
        0.15,
        -0.35,
        (0.22, 0.12, 0.17, 0.22, 0.03, 0.02, 0.03, 0.05, 0.14),
        1500,
    ),
)
PROVINCE_ADMIN = "330000"
CITY_ADMIN = {"HZ": "330100", "SX": "330600", "HUZ": "330500"}

LOCAL_SPACING_M = 20.0
ARTERIAL_SPACING_M = 40.0
CITY_MARGIN_M = 150.0
CHUNK = 50_000
MIN_UNITS = 100


# ------------------------------------------------------------------------------------------------
# plan: how many buildings of which type, with how many units
# ------------------------------------------------------------------------------------------------


def _largest_remainder(total: int, weights: FloatArray, minimum: int = 0) -> IntArray:
    """Split ``total`` into integers proportional to ``weights`` (each at least ``minimum``)."""
    n = len(weights)
    base = np.full(n, minimum, dtype=np.int64)
    rest = total - base.sum()
    if rest <= 0:
        return base
    share = weights / weights.sum() * rest
    out = base + np.floor(share).astype(np.int64)
    left = int(total - out.sum())
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    out[order[:left]] += 1
    return out


def _draw_size(rng: np.random.Generator, t: int, n: int) -> tuple[IntArray, IntArray, IntArray]:
    """Floors, units per floor and units for ``n`` new buildings of type ``t``."""
    one = np.ones(n, dtype=np.int64)
    if t == OFFICE:
        floors = rng.integers(10, 41, n)
        per = rng.integers(4, 13, n)
        return floors, per, floors * per
    if t == MARKET:
        floors = rng.integers(1, 4, n)
        per = rng.integers(30, 161, n)
        return floors, per, floors * per
    if t == SHOP:
        units = rng.choice(np.array([1, 2, 3]), n, p=[0.6, 0.3, 0.1])
        return np.maximum(units, rng.integers(2, 7, n)), one, units
    lo_hi = {PARK: (5, 41), CAMPUS: (3, 16), HOSPITAL: (3, 11), HOTEL: (2, 9), GOV: (2, 11), RES: (1, 9)}
    fl = {PARK: (3, 9), CAMPUS: (4, 13), HOSPITAL: (8, 23), HOTEL: (8, 29), GOV: (4, 16), RES: (6, 34)}
    lo, hi = lo_hi[t]
    units = rng.integers(lo, hi, n)
    if t == RES:
        units = np.minimum(units, rng.integers(lo, hi, n))  # mostly few G&E units in housing
    return rng.integers(*fl[t], n), one, units


def _building_plan(rng: np.random.Generator, units: int, mix: tuple[float, ...]) -> dict[str, IntArray]:
    """Buildings (type, floors, units per floor, units) adding up to exactly ``units`` units."""
    budget = _largest_remainder(units, np.asarray(mix, dtype=np.float64))
    types, floors, per, counts = [], [], [], []
    for t in range(9):
        want = int(budget[t])
        if want <= 0:
            continue
        got_f, got_p, got_u = [], [], []
        have = 0
        while have < want:
            f, p, u = _draw_size(rng, t, 16)
            got_f.append(f)
            got_p.append(p)
            got_u.append(u)
            have += int(u.sum())
        f_a, p_a, u_a = np.concatenate(got_f), np.concatenate(got_p), np.concatenate(got_u)
        k = int(np.searchsorted(np.cumsum(u_a), want)) + 1  # buildings needed
        f_a, p_a, u_a = f_a[:k], p_a[:k], u_a[:k].copy()
        u_a[-1] -= int(u_a.sum()) - want  # the last building has fewer units in the register
        types.append(np.full(k, t, dtype=np.int64))
        floors.append(f_a)
        per.append(p_a)
        counts.append(u_a)
    return {
        "type": np.concatenate(types),
        "floors": np.concatenate(floors),
        "per_floor": np.concatenate(per),
        "units": np.concatenate(counts),
    }


# ------------------------------------------------------------------------------------------------
# territory of one city (metric frame)
# ------------------------------------------------------------------------------------------------


@dataclass
class CityData:
    """Everything generated for one city before it is written."""

    spec: CitySpec
    frame: Frame
    outline: MultiPolygon
    districts: list[MultiPolygon]
    grids: list[tuple[int, MultiPolygon]]  # (district index, polygon)
    cells: list[tuple[int, MultiPolygon]]  # (grid index, polygon)
    grid_code: list[str] = field(default_factory=list)
    grid_name: list[str] = field(default_factory=list)
    cell_code: list[str] = field(default_factory=list)
    cell_name: list[str] = field(default_factory=list)
    cell_types: list[str] = field(default_factory=list)
    streets: list[str] = field(default_factory=list)
    b: dict[str, Any] = field(default_factory=dict)  # buildings (arrays and lists)
    u: dict[str, Any] = field(default_factory=dict)  # address units (arrays)
    c: dict[str, Any] = field(default_factory=dict)  # customers (arrays and lists)


def _hubs(rng: np.random.Generator, radius: float, n: int, r_lo: float, r_hi: float) -> FloatArray:
    ang = rng.uniform(0, 2 * math.pi, n)
    r = rng.uniform(r_lo, r_hi, n) * radius
    return np.column_stack([r * np.cos(ang), r * np.sin(ang)])


def _territory(
    rng: np.random.Generator, spec: CitySpec, units: int
) -> tuple[CityData, DensityField, dict[str, FloatArray]]:
    """City outline, districts (Voronoi), grids and cells (relaxed Voronoi), all in metres."""
    radius = spec.radius_km * 1000.0
    outline = star_polygon(rng, radius)
    hubs = {
        "cbd": _hubs(rng, radius, 2, 0.05, 0.45),
        "market": _hubs(rng, radius, 2, 0.15, 0.45),
        "industry": _hubs(rng, radius, 2, 0.6, 0.8),
        "campus": _hubs(rng, radius, 2, 0.35, 0.7),
    }
    density = DensityField(
        radius,
        [(x, y, 0.12 * radius, 0.8) for x, y in np.vstack([hubs["cbd"], hubs["market"]])],
    )
    seeds = np.array([d.offset for d in spec.districts]) * radius
    seeds = seeds + rng.normal(0, 0.04 * radius, seeds.shape)
    hubs["district"] = seeds
    if len(seeds) == 1:
        districts = [polygons_of(outline)]
    else:
        # Voronoi pieces of many small seeds, each given to the nearest district seed: jagged borders
        sub = np.vstack([seeds, sample_in(rng, outline, 40 * len(seeds))])
        pieces = voronoi_clip(sub, outline)
        nearest = np.argmin(((sub[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2), axis=1)
        districts = [
            polygons_of(shapely.coverage_union_all(np.array(pieces, dtype=object)[nearest == k]))
            for k in range(len(seeds))
        ]
    drawn_area = scale_geom(outline, spec.drawn_scale, spec.drawn_scale, origin=(0, 0))

    n_cells = int(min(spec.max_cells, max(10 if spec.share < 0.5 else 30, round(units / 40))))
    n_grids = max(2 * len(districts), round(n_cells / 12))
    regions = [polygons_of(d.intersection(drawn_area)) for d in districts]
    areas = np.array([r.area for r in regions])
    grids_per = _largest_remainder(n_grids, areas, minimum=2)
    grids: list[tuple[int, MultiPolygon]] = []
    for di, (region, k) in enumerate(zip(regions, grids_per.tolist(), strict=True)):
        grids.extend((di, g) for g in relaxed_partition(rng, region, k, density, iterations=2))
    weights = np.array(
        [g.area * float(density(np.array([g.centroid.x]), np.array([g.centroid.y]))[0]) for _, g in grids]
    )
    cells_per = _largest_remainder(max(n_cells, 2 * len(grids)), weights, minimum=2)
    cells: list[tuple[int, MultiPolygon]] = []
    for gi, ((_, g), k) in enumerate(zip(grids, cells_per.tolist(), strict=True)):
        cells.extend((gi, c) for c in relaxed_partition(rng, g, k, density, iterations=1))
    whole, districts, grids, cells = build_coverage(outline, districts, grids, cells)
    city = CityData(spec, Frame(spec.lon, spec.lat), whole, districts, grids, cells)
    grid_no = [0] * len(districts)
    for di, _ in grids:
        grid_no[di] += 1
        d = spec.districts[di]
        city.grid_code.append(f"{d.code}-G{grid_no[di]:03d}")
        city.grid_name.append(f"{d.name}{grid_no[di]:02d}号网格")
    cell_no = [0] * len(grids)
    for gi, _ in cells:
        cell_no[gi] += 1
        city.cell_code.append(f"{city.grid_code[gi]}-{cell_no[gi]:03d}")
        city.cell_name.append(f"{city.grid_name[gi]}{cell_no[gi]:02d}单元")
    return city, density, hubs


def _streets(
    rng: np.random.Generator,
    rnd: random.Random,
    city: CityData,
    density: DensityField,
    n_buildings: int,
) -> tuple[Slots, NDArray[np.bool_]]:
    """Streets of the city (names in ``city.streets``) and the building slots along them."""
    radius = city.spec.radius_km * 1000.0
    arterials = arterial_lines(rng, radius, 6 if city.spec.share >= 0.5 else 3)
    # local streets: a street network of ~0.85 km per km², more where many buildings need frontage
    area_km2 = city.outline.area / 1e6
    need_km = 3.0 * n_buildings * LOCAL_SPACING_M / 2 / 1000
    n_local = max(8 * len(city.districts), math.ceil(max(area_km2 / 1.7, need_km / (1.45 * 0.8))))
    per_district = _largest_remainder(n_local, np.array([d.area for d in city.districts]), minimum=4)
    orientation = rng.uniform(0, math.pi / 2)
    lines = list(arterials)
    for d, k in zip(city.districts, per_district.tolist(), strict=True):
        lines.extend(local_lines(rng, d, k, orientation + rng.normal(0, 0.15), density))
    names = nm.street_names(rnd, len(lines), len(arterials))
    ring = len(arterials) - 1
    if "环城路" not in names:
        names[ring] = "环城路"
    city.streets = names
    spacing = [ARTERIAL_SPACING_M] * len(arterials) + [LOCAL_SPACING_M] * (len(lines) - len(arterials))
    slots = street_slots(rng, lines, spacing)
    inner = city.outline.buffer(-CITY_MARGIN_M)
    shapely.prepare(inner)
    keep = shapely.contains_xy(inner, slots.x, slots.y)
    slots = slots.subset(keep)
    # door numbers start at 1 or 2 where a street enters the city
    first = np.full(len(lines), np.iinfo(np.int64).max)
    np.minimum.at(first, slots.street, (slots.number - 1) // 2)
    slots.number = slots.number - 2 * first[slots.street]
    is_art = slots.street < len(arterials)
    return slots, is_art


def _place_buildings(
    rng: np.random.Generator,
    city: CityData,
    plan: dict[str, IntArray],
    slots: Slots,
    is_art: NDArray[np.bool_],
    hubs: dict[str, FloatArray],
) -> None:
    """Choose a slot for every planned building, by type-specific weights over the city."""
    radius = city.spec.radius_km * 1000.0
    x, y = slots.x, slots.y
    district = np.full(len(x), -1, dtype=np.int64)
    for di, d in enumerate(city.districts):
        shapely.prepare(d)
        district[(district < 0) & shapely.contains_xy(d, x, y)] = di
    ok = district >= 0
    x, y, is_art, district = x[ok], y[ok], is_art[ok], district[ok]
    street, number = slots.street[ok], slots.number[ok]
    r = np.hypot(x, y) / radius

    def near(points: FloatArray, sigma: float) -> FloatArray:
        d2 = np.min((x[:, None] - points[:, 0]) ** 2 + (y[:, None] - points[:, 1]) ** 2, axis=1)
        return np.asarray(np.exp(-0.5 * d2 / (sigma * radius) ** 2))

    dc = hubs["district"][district]
    d_centre = np.exp(-0.5 * ((x - dc[:, 0]) ** 2 + (y - dc[:, 1]) ** 2) / (0.12 * radius) ** 2)
    art = is_art.astype(np.float64)
    weight = {
        OFFICE: (1 + 2 * art) * (near(hubs["cbd"], 0.15) + 0.03),
        MARKET: near(hubs["market"], 0.08) + 0.005,
        SHOP: (1 + 6 * art) * (0.3 + np.exp(-((r / 0.6) ** 2))),
        PARK: near(hubs["industry"], 0.15) + 0.01 * (r > 0.5),
        CAMPUS: near(hubs["campus"], 0.12) + 0.01,
        HOSPITAL: 0.3 * d_centre + 0.1,
        HOTEL: (1 + 2 * art) * (near(hubs["cbd"], 0.25) + 0.1),
        GOV: d_centre + 0.02,
        RES: 0.4 + np.exp(-(((r - 0.5) / 0.3) ** 2)),
    }
    btype = plan["type"]
    chosen = np.full(len(btype), -1, dtype=np.int64)
    free = np.ones(len(x), dtype=bool)
    for t in (GOV, HOSPITAL, CAMPUS, HOTEL, MARKET, PARK, OFFICE, RES, SHOP):
        idx = np.flatnonzero(btype == t)
        if len(idx) == 0:
            continue
        cand = np.flatnonzero(free)
        if len(cand) < len(idx):
            raise RuntimeError("not enough building slots along the streets")  # pragma: no cover
        w = np.maximum(weight[t][cand], 1e-9)
        keys = np.log(rng.uniform(1e-12, 1.0, len(cand))) / w  # Efraimidis–Spirakis
        top = cand[np.argpartition(-keys, len(idx) - 1)[: len(idx)]]
        chosen[idx] = top
        free[top] = False
    # order the register by district, street and door number: codes then read like a survey
    order = np.lexsort((number[chosen], street[chosen], district[chosen]))
    sel = chosen[order]
    city.b = {
        "x": x[sel],
        "y": y[sel],
        "district": district[sel],
        "street": street[sel],
        "number": number[sel],
        "type": btype[order],
        "floors": plan["floors"][order],
        "per_floor": plan["per_floor"][order],
        "units": plan["units"][order],
    }


def _cells_of_points(city: CityData, x: FloatArray, y: FloatArray) -> IntArray:
    """Index of the drawn cell holding each point, -1 where none does."""
    tree = shapely.STRtree([g for _, g in city.cells])
    pts = shapely.points(x, y)
    src, dst = tree.query(pts, predicate="intersects")
    out = np.full(len(x), -1, dtype=np.int64)
    out[src[::-1]] = dst[::-1]  # the first match wins
    return out


def _type_cells(city: CityData) -> None:
    """Type every cell by what dominates its land (building types weighted by footprint)."""
    b = city.b
    b["cell"] = _cells_of_points(city, b["x"], b["y"])
    n = len(city.cells)
    inside = b["cell"] >= 0
    land = np.zeros((n, 9))
    np.add.at(land, (b["cell"][inside], b["type"][inside]), LAND_WEIGHT[b["type"][inside]])
    total = land.sum(axis=1)
    best = land.argmax(axis=1)
    share = np.divide(land.max(axis=1), total, out=np.zeros(n), where=total > 0)
    city.cell_types = [
        "residential" if tot == 0 else (CELL_TYPE_OF[k] if s >= 0.45 else "mixed")
        for tot, k, s in zip(total.tolist(), best.tolist(), share.tolist(), strict=True)
    ]


def _building_names(rnd: random.Random, city: CityData) -> None:
    """Names, codes-to-be and address prefixes of the buildings."""
    b = city.b
    spec = city.spec
    dnames = [d.name for d in spec.districts]
    names: list[str] = []
    for t, di, st, no in zip(
        b["type"].tolist(), b["district"].tolist(), b["street"].tolist(), b["number"].tolist(), strict=True
    ):
        street = city.streets[st]
        p = rnd.choice(nm.PREFIXES)
        if t == OFFICE:
            names.append(p + rnd.choice(nm.TOWER_SUFFIXES))
        elif t == MARKET:
            names.append(p + rnd.choice(nm.MARKET_GOODS) + rnd.choice(nm.MARKET_SUFFIXES))
        elif t == SHOP:
            names.append(f"{street}{no}号")
        elif t == PARK:
            names.append(p + rnd.choice(nm.PARK_SUFFIXES))
        elif t == CAMPUS:
            names.append(spec.short + p + rnd.choice(nm.CAMPUS_SUFFIXES))
        elif t == HOSPITAL:
            owner = rnd.choice((spec.name, dnames[di], spec.short + p))
            names.append(owner + rnd.choice(nm.HOSPITAL_SUFFIXES))
        elif t == HOTEL:
            names.append(p + rnd.choice(nm.HOTEL_SUFFIXES))
        elif t == GOV:
            names.append(dnames[di] + rnd.choice(nm.GOV_SITES))
        else:
            names.append(p + rnd.choice(nm.RESIDENTIAL_SUFFIXES))
    variants = ("二期", "三期", "B座", "C座", "东区", "西区", "南区", "北区")
    b["name"] = nm.dedupe(names, variants)
    b["prefix"] = [
        f"{spec.name}{dnames[di]}{city.streets[st]}{no}号" + ("" if t == SHOP else name)
        for t, di, st, no, name in zip(
            b["type"].tolist(),
            b["district"].tolist(),
            b["street"].tolist(),
            b["number"].tolist(),
            b["name"],
            strict=True,
        )
    ]


# ------------------------------------------------------------------------------------------------
# address units: position, floor/room, occupant, status and values
# ------------------------------------------------------------------------------------------------


def _status_field(rng: np.random.Generator, radius: float) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """A smooth field over the city: a few gaussian bumps of both signs plus a gradient."""
    n = 4
    centres = _hubs(rng, radius, n, 0.0, 0.8)
    amp = rng.uniform(0.5, 1.0, n) * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    sig = rng.uniform(0.15, 0.3, n) * radius
    ang = rng.uniform(0, 2 * math.pi)
    grad = rng.uniform(0.3, 0.6)

    def f(x: FloatArray, y: FloatArray) -> FloatArray:
        v = grad * (x * math.cos(ang) + y * math.sin(ang)) / radius
        for (cx, cy), a, s in zip(centres, amp, sig, strict=True):
            v = v + a * np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / s**2)
        return np.asarray(v)

    return f


def _units(rng: np.random.Generator, city: CityData) -> None:
    """All address units of the city as arrays: place, floor/room, industry, status and values."""
    b, spec = city.b, city.spec
    radius = spec.radius_km * 1000.0
    nb = len(b["type"])
    ub = np.repeat(np.arange(nb), b["units"])
    n = len(ub)
    start = np.concatenate([[0], np.cumsum(b["units"])[:-1]])
    i = np.arange(n) - start[ub]
    t = b["type"][ub]
    per = b["per_floor"][ub]
    # position: the building's point, jittered within its site
    sd = JITTER_M[t]
    x = b["x"][ub] + np.clip(rng.normal(0, 1, n), -2, 2) * sd
    y = b["y"][ub] + np.clip(rng.normal(0, 1, n), -2, 2) * sd
    # floor and room numbers (formatted when streamed)
    floor = np.zeros(n, dtype=np.int64)
    r1 = i.copy()
    r2 = np.zeros(n, dtype=np.int64)
    m = t == OFFICE
    floor[m] = 1 + i[m] // per[m]
    r1[m] = i[m] % per[m] + 1
    m = t == MARKET
    floor[m] = 1 + i[m] // per[m]
    stall = i[m] % per[m]
    r1[m], r2[m] = stall % 50 + 1, stall // 50
    m = (t == SHOP) & (b["units"][ub] > 1)
    floor[m] = i[m] + 1
    m = t == PARK
    floor[m], r1[m], r2[m] = 1 + (i[m] % 12) // 3, 1 + i[m] % 3, 1 + i[m] // 12
    m = t == RES
    floor[m] = 1
    # occupant's industry
    ind = (rng.uniform(0, 1, n)[:, None] > IND_CUM[t]).sum(axis=1)
    ind = np.minimum(ind, len(nm.INDUSTRIES) - 1)
    # status: surveyed?  vacant?  else a multinomial logit on a smooth field + type/industry effects
    district = b["district"][ub]
    d_eff = np.linspace(-0.4, 0.4, len(city.districts)) if len(city.districts) > 1 else np.zeros(1)
    d_eff = rng.permutation(d_eff)
    score = _status_field(rng, radius)(x, y) + d_eff[district] + spec.effect + OURS[t] + IND_OURS[ind]
    r = np.hypot(b["x"], b["y"]) / radius
    outer = 1.0 - shapely.contains_xy(
        scale_geom(city.outline, spec.drawn_scale, spec.drawn_scale, origin=(0, 0)),
        b["x"],
        b["y"],
    )
    p_unsurveyed = np.clip(spec.unknown_base + 0.3 * r**3 + 0.2 * outer, 0, 0.8)
    unsurveyed_b = rng.uniform(0, 1, nb) < p_unsurveyed
    unknown = unsurveyed_b[ub] | (rng.uniform(0, 1, n) < 0.02)
    vacant = ~unknown & (rng.uniform(0, 1, n) < VACANCY[t])
    logits = np.column_stack(
        [
            0.4 + score,
            -0.6 + 0.3 * score + CONTESTED[t],
            -0.1 - score,
            -1.3 + OPEN[t],
        ]
    )
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
    status = (rng.uniform(0, 1, n)[:, None] > cum[:, :3]).sum(axis=1)
    status[vacant] = ST_VACANT
    status[unknown] = ST_UNKNOWN
    own = (status == ST_STOCK) | (status == ST_COMP)
    rival = (status == ST_COMP) | (status == ST_OTHER)
    # lines: own only for stock/competing, rival only for competing/other_network
    fin = ind == IND["金融"]
    scale = np.where(fin, 2.0, 1.0) * np.where(status == ST_COMP, 0.6, 1.0)
    fo = own * (rng.uniform(0, 1, n) < 0.85) * (1 + rng.poisson(FIXED_MEAN[t] * scale))
    bo = own * (rng.uniform(0, 1, n) < 0.8) * (1 + rng.poisson(BB_MEAN[t] * scale))
    bo[own & (fo + bo == 0)] = 1
    fr = rival * (rng.uniform(0, 1, n) < 0.7) * (1 + rng.poisson(FIXED_MEAN[t] * np.where(fin, 2.0, 0.8)))
    br = rival * (rng.uniform(0, 1, n) < 0.7) * (1 + rng.poisson(BB_MEAN[t]))
    br[rival & (fr + br == 0)] = 1
    ld_o = np.where((fo > 0) & (rng.uniform(0, 1, n) > 0.1), fo * rng.gamma(2.0, 45.0, n) + 1, 0.0)
    ld_r = np.where((fr > 0) & (rng.uniform(0, 1, n) > 0.1), fr * rng.gamma(2.0, 45.0, n) + 1, 0.0)
    dedicated = own & (rng.uniform(0, 1, n) < np.minimum(P_DEDICATED[t] + 0.4 * fin, 0.95))
    cloud = own & (rng.uniform(0, 1, n) < P_CLOUD[t])
    revenue = own * (
        fo * rng.uniform(45, 110, n)
        + bo * rng.uniform(120, 400, n)
        + dedicated * rng.uniform(1800, 9000, n) * (1 + fo / 10)
        + cloud * rng.uniform(300, 3000, n)
    )
    rival_dedicated = (status == ST_OTHER) & (rng.uniform(0, 1, n) < 0.5 * P_DEDICATED[t])
    bits = np.where(
        own,
        (fo > 0) * 1 + (bo > 0) * 2 + dedicated * 4 + cloud * 8,
        np.where(status == ST_OTHER, (fr > 0) * 1 + (br > 0) * 2 + rival_dedicated * 4, 0),
    )
    # rivals: each district has its own mix of 移动 / 联通 / 广电
    mix = rng.dirichlet([5.0, 3.0, 1.0], len(city.districts))
    rival_op = np.where(
        rival, 1 + (rng.uniform(0, 1, n)[:, None] > np.cumsum(mix, axis=1)[district][:, :2]).sum(axis=1), 0
    )
    has_contract = (own | rival) & (rng.uniform(0, 1, n) < 0.85)
    contract_day = np.where(has_contract, rng.integers(0, 790, n), -1)  # 2026-11-01 .. 2028-12-30
    demand = own | rival | (status == ST_POT)
    has_contact = demand & (rng.uniform(0, 1, n) < 0.85)
    surveyed_day = np.where(status != ST_UNKNOWN, rng.integers(1, 366, n), -1)  # days before VALID_FROM
    lon, lat = city.frame.lonlat(x, y)
    city.u = {
        "building": ub,
        "type": t,
        "i": i,
        "floor": floor,
        "r1": r1,
        "r2": r2,
        "lon": np.round(lon, 7),
        "lat": np.round(lat, 7),
        "industry": ind,
        "status": status,
        "fo": fo.astype(np.int64),
        "fr": fr.astype(np.int64),
        "bo": bo.astype(np.int64),
        "br": br.astype(np.int64),
        "ld_o": np.round(ld_o, 2),
        "ld_r": np.round(ld_r, 2),
        "revenue": np.round(revenue, 2),
        "services": bits.astype(np.int64),
        "rival": rival_op.astype(np.int64),
        "contract_day": contract_day,
        "surveyed_day": surveyed_day,
        "has_contact": has_contact,
        "demand": demand,
    }


# ------------------------------------------------------------------------------------------------
# customers
# ------------------------------------------------------------------------------------------------


def _customers(rng: np.random.Generator, city: CityData, first_index: int, credit_offset: int) -> None:
    """Group the occupied units into customers (institutions per site, chains across sites)."""
    u, b, spec = city.u, city.b, city.spec
    n = len(u["status"])
    cust = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(u["demand"])
    t = u["type"][idx]
    next_id = 0
    # an institution (campus, hospital, hotel) is one customer over all its sites
    inst = np.isin(t, [CAMPUS, HOSPITAL, HOTEL])
    if inst.any():
        _, inv = np.unique(u["building"][idx[inst]], return_inverse=True)
        cust[idx[inst]] = inv
        next_id = int(inv.max()) + 1
    # every government department is its own customer
    gov = t == GOV
    cust[idx[gov]] = next_id + np.arange(int(gov.sum()))
    next_id += int(gov.sum())
    # the rest: chains of random size within an industry, spread over the city
    rest = idx[~inst & ~gov]
    ind = u["industry"][rest]
    order = np.lexsort((rng.uniform(0, 1, len(rest)), ind))
    rest, ind = rest[order], ind[order]
    for k in range(len(nm.INDUSTRIES)):
        members = rest[ind == k]
        m = len(members)
        if m == 0:
            continue
        sizes = np.where(
            rng.uniform(0, 1, m) < IND_SINGLE[k], 1, np.minimum(1 + rng.geometric(0.35, m), 30)
        ).astype(np.int64)
        k_cust = int(np.searchsorted(np.cumsum(sizes), m)) + 1
        cust[members] = next_id + np.repeat(np.arange(k_cust), sizes[:k_cust])[:m]
        next_id += k_cust
    # renumber customers in the order of their first site
    used = np.flatnonzero(cust >= 0)
    first = np.full(next_id, n, dtype=np.int64)
    np.minimum.at(first, cust[used], used)
    live = np.flatnonzero(first < n)
    rank = np.full(next_id, -1, dtype=np.int64)
    rank[live[np.argsort(first[live], kind="stable")]] = np.arange(len(live))
    cust[used] = rank[cust[used]]
    nc = len(live)
    first_unit = np.full(nc, n, dtype=np.int64)
    np.minimum.at(first_unit, cust[used], used)
    sites = np.bincount(cust[used], minlength=nc)
    # a few chains carry a second, duplicate source record on their last site (consolidation work)
    last_unit = np.full(nc, -1, dtype=np.int64)
    np.maximum.at(last_unit, cust[used], used)
    dup_of = np.flatnonzero((sites >= 2) & (rng.uniform(0, 1, nc) < 0.05))
    cust[last_unit[dup_of]] = nc + np.arange(len(dup_of))
    n_all = nc + len(dup_of)
    origin = np.concatenate([np.arange(nc), dup_of])  # the real customer each record stands for
    revenue = np.bincount(cust[used], weights=u["revenue"][used], minlength=n_all)
    industry = u["industry"][first_unit][origin]
    u["customer"] = cust
    # names
    fu = first_unit[origin]
    bidx = u["building"][fu]
    chars = 2 if nc <= 0.5 * len(nm.ZIHAO_CHARS) ** 2 else 3
    space = len(nm.ZIHAO_CHARS) ** chars
    mult = 7919 if math.gcd(7919, space) == 1 else 7907
    zi = nm.zihao((np.arange(nc) * mult + int(rng.integers(0, space))) % space, chars)
    pick = rng.integers(0, 1 << 30, n_all).tolist()
    dnames = [d.name for d in spec.districts]
    b_type, b_street, b_district = b["type"].tolist(), b["street"].tolist(), b["district"].tolist()
    ind_l, bidx_l, fu_l, sites_l = industry.tolist(), bidx.tolist(), fu.tolist(), sites.tolist()
    unit_i = u["i"]
    names: list[str] = []
    seen: set[str] = set()
    for j in range(nc):
        bi = bidx_l[j]
        bt = b_type[bi]
        p = pick[j]
        street = city.streets[b_street[bi]]
        iname = nm.INDUSTRIES[ind_l[j]]
        if bt in (CAMPUS, HOSPITAL, HOTEL):
            name = b["name"][bi]
        elif iname == "政府机关":
            dept = nm.GOV_DEPTS[(int(unit_i[fu_l[j]]) if bt == GOV else p) % len(nm.GOV_DEPTS)]
            name = spec.name + dnames[b_district[bi]] + dept
        elif iname == "金融":
            bank, branch, chain = nm.BANKS[p % len(nm.BANKS)]
            name = bank + spec.short + (chain if sites_l[j] >= 3 else street + branch)
        else:
            words = nm.COMPANY_WORDS[iname]
            word = words[p % len(words)]
            name = (spec.short if word.endswith("公司") else "") + zi[j] + word
        if name in seen:  # same department or bank twice: tell them apart by the street
            base, k = name + f"（{street}）", 2
            name = base
            while name in seen:
                name, k = f"{base}{k}", k + 1
        seen.add(name)
        names.append(name)
    for j in dup_of.tolist():
        base = names[j]
        names.append(base.replace("有限公司", "有限责任公司") if "有限公司" in base else base + "（总部）")
    # credit codes: 11 organs, 12 public institutions, 91 companies; duplicates share the original's
    gov_ind = IND["政府机关"]
    bt_c = b["type"][bidx[:nc]]
    kind = np.where(industry[:nc] == gov_ind, 11, np.where(np.isin(bt_c, [CAMPUS, HOSPITAL]), 12, 91))
    admin = np.array([int(d.admin) for d in spec.districts], dtype=np.int64)[b["district"][bidx[:nc]]]
    body = ((first_index + np.arange(nc)) * 48271 + credit_offset) % 100_000_000
    credit = nm.credit_codes(kind, admin, body)
    credit += [credit[int(j)] for j in dup_of]
    # unified codes: how far consolidation has got in this city
    consolidated = rng.uniform(0, 1, nc) < spec.consolidated
    dup_resolved = consolidated[dup_of] & (rng.uniform(0, 1, len(dup_of)) < 0.5)
    unified_flags = np.concatenate([consolidated, dup_resolved])
    # segments
    strategic_cut = np.quantile(revenue[revenue > 0], 0.995) if (revenue > 0).any() else np.inf
    all_sites = np.concatenate([sites, sites[dup_of]])
    segments = []
    for ik, rev, ns in zip(ind_l, revenue.tolist(), all_sites.tolist(), strict=True):
        seg = []
        if ik == gov_ind:
            seg.append("important")
        if rev >= 3000:
            seg.append("high_value")
        if ns >= 3:
            seg.append("group")
        if rev > 0 and rev >= strategic_cut:
            seg.append("strategic")
        segments.append("{" + ",".join(seg) + "}")
    city.c = {
        "n": n_all,
        "origin": origin,
        "name": names,
        "industry": [nm.INDUSTRIES[int(k)] for k in industry],
        "credit": credit,
        "unified": unified_flags,
        "segments": segments,
    }


# ------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------


def _ewkb(geoms: NDArray[np.object_] | list[Any]) -> list[str]:
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), 4326)
    return [str(h) for h in shapely.to_wkb(arr, hex=True, include_srid=True).tolist()]


def _multi(geoms: NDArray[np.object_]) -> list[MultiPolygon]:
    return [g if isinstance(g, MultiPolygon) else MultiPolygon([g]) for g in geoms]


def _copy(conn: Connection, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    sql = "COPY " + table + " (" + ", ".join(columns) + ") FROM STDIN"
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def _ids(conn: Connection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute(text(sql)).all()}


def _write_territory(conn: Connection, cities: list[CityData]) -> dict[str, dict[str, int]]:
    """Regions, grids and cells; return code → id maps per table."""
    city_geo = {c.spec.code: _multi(c.frame.to_wgs84(np.array([c.outline], dtype=object)))[0] for c in cities}
    province = MultiPolygon([p for g in city_geo.values() for p in g.geoms])
    ins = text(
        "INSERT INTO region (code, name, level, parent_id, city_id, geom, area_km2) "
        "VALUES (:code, :name, :level, :parent, :city, CAST(:geom AS geometry), :area) RETURNING id"
    )
    prov = conn.scalar(
        ins,
        {
            "code": PROVINCE[0],
            "name": PROVINCE[1],
            "level": "province",
            "parent": None,
            "city": None,
            "geom": _ewkb([province])[0],
            "area": geodesic_area_km2(province),
        },
    )
    region: dict[str, int] = {PROVINCE[0]: int(prov)}
    for c in cities:
        g = city_geo[c.spec.code]
        cid = int(
            conn.scalar(
                ins,
                {
                    "code": c.spec.code,
                    "name": c.spec.name,
                    "level": "city",
                    "parent": prov,
                    "city": None,
                    "geom": _ewkb([g])[0],
                    "area": geodesic_area_km2(g),
                },
            )
        )
        conn.execute(text("UPDATE region SET city_id = id WHERE id = :i"), {"i": cid})
        region[c.spec.code] = cid
        dgeo = _multi(c.frame.to_wgs84(np.array(c.districts, dtype=object)))
        for d, geom in zip(c.spec.districts, dgeo, strict=True):
            region[d.code] = int(
                conn.scalar(
                    ins,
                    {
                        "code": d.code,
                        "name": d.name,
                        "level": "district",
                        "parent": cid,
                        "city": cid,
                        "geom": _ewkb([geom])[0],
                        "area": geodesic_area_km2(geom),
                    },
                )
            )

    def grid_rows() -> Iterator[tuple[Any, ...]]:
        for c in cities:
            geoms = _multi(c.frame.to_wgs84(np.array([g for _, g in c.grids], dtype=object)))
            hexes = _ewkb(geoms)
            for gi, ((di, _), geom, hx) in enumerate(zip(c.grids, geoms, hexes, strict=True)):
                d = c.spec.districts[di]
                yield (
                    c.grid_code[gi],
                    c.grid_name[gi],
                    region[c.spec.code],
                    region[d.code],
                    "drawn",
                    hx,
                    geodesic_area_km2(geom),
                )

    _copy(conn, "grid", ("code", "name", "city_id", "district_id", "kind", "geom", "area_km2"), grid_rows())
    grid = _ids(conn, "SELECT code, id FROM grid")

    def cell_rows() -> Iterator[tuple[Any, ...]]:
        for c in cities:
            geoms = _multi(c.frame.to_wgs84(np.array([g for _, g in c.cells], dtype=object)))
            hexes = _ewkb(geoms)
            for ci, geom, hx in zip(range(len(c.cells)), geoms, hexes, strict=True):
                gi = c.cells[ci][0]
                d = c.spec.districts[c.grids[gi][0]]
                yield (
                    c.cell_code[ci],
                    c.cell_name[ci],
                    region[c.spec.code],
                    region[d.code],
                    grid[c.grid_code[gi]],
                    c.cell_types[ci],
                    "drawn",
                    hx,
                    geodesic_area_km2(geom),
                )

    cols = ("code", "name", "city_id", "district_id", "grid_id", "type", "source", "geom", "area_km2")
    _copy(conn, "cell", cols, cell_rows())
    cell = _ids(conn, "SELECT code, id FROM cell")
    return {"region": region, "grid": grid, "cell": cell}


def _building_rows(city: CityData, city_id: int, cell_ids: dict[str, int]) -> Iterator[tuple[Any, ...]]:
    b = city.b
    lon, lat = city.frame.lonlat(b["x"], b["y"])
    hexes = _ewkb(shapely.points(lon, lat))
    cells = [cell_ids[code] for code in city.cell_code]
    for code, name, t, fl, cell, hx in zip(
        b["code"], b["name"], b["type"].tolist(), b["floors"].tolist(), b["cell"].tolist(), hexes, strict=True
    ):
        yield (city_id, code, name, BUILDING_TYPES[t], fl, cells[cell] if cell >= 0 else None, hx)


def _customer_rows(city: CityData, city_id: int, unified: list[str | None]) -> Iterator[tuple[Any, ...]]:
    cc = city.c
    for k in range(cc["n"]):
        yield (
            city_id,
            cc["code"][k],
            unified[k],
            cc["credit"][k],
            cc["name"][k],
            cc["industry"][k],
            cc["segments"][k],
        )


def _write_buildings_and_customers(
    conn: Connection, cities: list[CityData], ids: dict[str, dict[str, int]]
) -> None:
    """COPY buildings and customers (codes are global: ``B000001``, ``C0000001``, ``UC00000001``)."""
    b_no = c_no = unified_no = 0
    for c in cities:
        city_id = ids["region"][c.spec.code]
        nb = len(c.b["type"])
        c.b["code"] = [f"B{b_no + k + 1:06d}" for k in range(nb)]
        b_no += nb
        cols = ("city_id", "code", "name", "type", "floors", "cell_id", "geom")
        _copy(conn, "building", cols, _building_rows(c, city_id, ids["cell"]))
        cc = c.c
        cc["code"] = [f"C{c_no + k + 1:07d}" for k in range(cc["n"])]
        c_no += cc["n"]
        unified: list[str | None] = []
        origin_code: dict[int, str] = {}
        for flag, o in zip(cc["unified"].tolist(), cc["origin"].tolist(), strict=True):
            if not flag:
                unified.append(None)
                continue
            if o not in origin_code:
                unified_no += 1
                origin_code[o] = f"UC{unified_no:08d}"
            unified.append(origin_code[o])
        cols = ("city_id", "source_code", "unified_code", "credit_code", "name", "industry", "segments")
        _copy(conn, "customer", cols, _customer_rows(c, city_id, unified))


_CAMPUS_LIKE = {
    CAMPUS: nm.CAMPUS_ROOMS,
    HOSPITAL: nm.HOSPITAL_ROOMS,
    HOTEL: nm.HOTEL_ROOMS,
    GOV: nm.GOV_DEPTS,
}


def _room(t: int, i: int, floor: int, r1: int, r2: int) -> tuple[int | None, str | None, str]:
    """Floor, room and address suffix of one unit."""
    if t == OFFICE:
        room = f"{floor}{r1:02d}"
        return floor, room, f"{floor}层{room}室"
    if t == MARKET:
        room = f"{chr(65 + r2)}{r1:03d}"
        return floor, room, f"{floor}层{room}号"
    if t == SHOP:
        return (floor, None, f"{floor}层") if floor else (None, None, "")
    if t == PARK:
        room = f"{r2}幢{floor}{r1:02d}室"
        return floor, room, room
    if t == RES:
        room = "物业服务中心" if i == 0 else f"底商{i}号"
        return floor, room, room
    names = _CAMPUS_LIKE[t]
    room = names[i % len(names)] + (str(i // len(names) + 1) if i >= len(names) else "")
    return None, room, room


def _unit_rows(
    rng: np.random.Generator, cities: list[CityData], progress: Progress | None
) -> Iterator[tuple[Any, ...]]:
    """Stream the address-unit rows (``UNIT_COLUMNS`` order), city by city, in chunks."""
    contract_dates = [BASE_DATE + dt.timedelta(days=k) for k in range(800)]
    valid_day = VALID_FROM.date()
    survey_dates = [valid_day - dt.timedelta(days=k) for k in range(400)]
    no = 0
    for c in cities:
        u, b = c.u, c.b
        n = len(u["status"])
        cust_codes = c.c["code"]
        if progress:
            progress(f"{c.spec.name}: streaming {n:,} address units")
        for s in range(0, n, CHUNK):
            e = min(n, s + CHUNK)
            m = e - s
            names = nm.person_names(rng, m)
            phones = nm.mobile_numbers(rng, m).tolist()
            cols = [
                u[k][s:e].tolist()
                for k in (
                    "building",
                    "type",
                    "i",
                    "floor",
                    "r1",
                    "r2",
                    "lon",
                    "lat",
                    "customer",
                    "status",
                    "services",
                    "fo",
                    "fr",
                    "bo",
                    "br",
                    "ld_o",
                    "ld_r",
                    "revenue",
                    "rival",
                    "contract_day",
                    "has_contact",
                    "surveyed_day",
                )
            ]
            for k, (
                bi,
                t,
                i,
                fl,
                r1,
                r2,
                lon,
                lat,
                cu,
                st,
                sv,
                fo,
                fr,
                bo,
                br,
                lo,
                lr,
                rev,
                ri,
                cd,
                hc,
                sd,
            ) in enumerate(zip(*cols, strict=True)):
                no += 1
                floor, room, suffix = _room(t, i, fl, r1, r2)
                yield (
                    f"A{no:08d}",
                    b["prefix"][bi] + suffix,
                    b["code"][bi],
                    floor,
                    room,
                    lon,
                    lat,
                    cust_codes[cu] if cu >= 0 else None,
                    STATUSES[st],
                    SERVICE_TEXT[sv],
                    fo,
                    fr,
                    bo,
                    br,
                    lo,
                    lr,
                    rev,
                    RIVALS[ri],
                    contract_dates[cd] if cd >= 0 else None,
                    names[k] if hc else None,
                    str(phones[k]) if hc else None,
                    survey_dates[sd] if sd >= 0 else None,
                )


# ------------------------------------------------------------------------------------------------
# the public entry point
# ------------------------------------------------------------------------------------------------


def _check_empty(conn: Connection) -> None:
    has = conn.scalar(text("SELECT EXISTS (SELECT 1 FROM address_unit) OR EXISTS (SELECT 1 FROM region)"))
    if has:
        raise ValidationFailed(
            "the database already holds data (regions or address units): the demo loads only into "
            "an empty database"
        )


def build_cities(
    units: int, seed: int, progress: Progress | None = None
) -> tuple[list[CityData], np.random.Generator]:
    """Generate every city in memory (no database); return them and the generator to go on with."""
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    say = progress or (lambda _msg: None)
    per_city = _largest_remainder(units, np.array([c.share for c in CITIES]))
    cities: list[CityData] = []
    first_customer = 0
    credit_offset = int(rng.integers(0, 100_000_000))
    for spec, n in zip(CITIES, per_city.tolist(), strict=True):
        say(f"{spec.name}: territory")
        city, density, hubs = _territory(rng, spec, n)
        plan = _building_plan(rng, n, spec.mix)
        nb = len(plan["type"])
        say(f"{spec.name}: {len(city.grids)} grids, {len(city.cells)} cells; streets and {nb:,} buildings")
        slots, is_art = _streets(rng, rnd, city, density, len(plan["type"]))
        _place_buildings(rng, city, plan, slots, is_art, hubs)
        _type_cells(city)
        _building_names(rnd, city)
        say(f"{spec.name}: {n:,} address units and their customers")
        _units(rng, city)
        _customers(rng, city, first_customer, credit_offset)
        first_customer += city.c["n"]
        cities.append(city)
    return cities, rng


def generate_demo(
    engine: Engine,
    *,
    units: int = 50_000,
    seed: int = 1,
    h3_resolution: int = 9,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load the synthetic demo province into an empty, migrated database, in one transaction.

    ``units`` address units are spread over three city branches (about 68 % 杭州市, 18 % 绍兴市,
    14 % 湖州市); ``seed`` makes the content: the same seed gives identical rows, another seed
    other ones. ``h3_resolution`` is that of the generated cells where no drawn cell covers an
    address (湖州市's outskirts). ``progress`` receives a line per phase (and, from the loader,
    every 100,000 units).

    Returns counts per table (``region``, ``grid``, ``cell``, ``building``, ``customer``,
    ``address_unit``, ``market_record``, and of the organisation written by
    :func:`~gridmarket.etl.demo_org.generate_demo_org`: ``org_unit``, ``staff``, ``assignment``,
    ``feature_grid``, ``feature_grid_cell``), ``cells_generated``, ``units_in_generated_cells``,
    ``seconds`` and ``warnings``. Raises :class:`ValidationFailed` when ``region`` or
    ``address_unit`` already holds rows, or when ``units`` is below 100.
    """
    if isinstance(units, bool) or not isinstance(units, int) or units < MIN_UNITS:
        raise ValidationFailed(f"units must be an integer of at least {MIN_UNITS}", field="units")
    h3_resolution = validate_resolution(h3_resolution)
    t0 = time.monotonic()
    say = progress or (lambda _msg: None)
    with engine.connect() as conn:
        _check_empty(conn)
    cities, rng = build_cities(units, seed, progress)
    with engine.begin() as conn:
        _check_empty(conn)
        say("writing regions, grids and cells")
        ids = _write_territory(conn, cities)
        say("writing buildings and customers")
        _write_buildings_and_customers(conn, cities, ids)
        conn.execute(text("ANALYZE region"))
        conn.execute(text("ANALYZE grid"))
        conn.execute(text("ANALYZE customer"))
        say("loading address units")
        loaded = load_units(
            conn,
            _unit_rows(rng, cities, progress),
            source=SOURCE,
            valid_from=VALID_FROM,
            h3_resolution=h3_resolution,
            progress=progress,
        )
        say("writing the sales organisation, characteristic grids and assignments")
        generate_demo_org(conn, seed=seed)
        summary: dict[str, Any] = {}
        tables = ("region", "grid", "cell", "building", "customer", "address_unit", "market_record")
        for table in (*tables, *ORG_TABLES):
            summary[table] = int(conn.scalar(text("SELECT count(*) FROM " + table)) or 0)  # noqa: S608
        summary["cells_generated"] = int(loaded.get("cells_created", 0))
        summary["units_in_generated_cells"] = int(loaded.get("in_generated_cells", 0))
        summary["warnings"] = list(loaded.get("warnings", []))
    summary["seconds"] = round(time.monotonic() - t0, 2)
    say(f"demo loaded in {summary['seconds']:.1f} s")
    return summary


assert len(UNIT_COLUMNS) == 22
