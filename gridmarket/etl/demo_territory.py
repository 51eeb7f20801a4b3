"""Geometry of the synthetic demo: city outlines, Voronoi partitions, streets and building slots.

Everything here works in a local metric frame per city (metres east/north of the city centre); a
:class:`Frame` maps that frame to WGS84 longitude/latitude with an affine map, so partitions that
do not overlap in metres do not overlap in degrees either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Frame:
    """Local equirectangular frame around ``(lon0, lat0)``: x metres east, y metres north."""

    lon0: float
    lat0: float

    @property
    def m_per_deg_lon(self) -> float:
        """Metres per degree of longitude at ``lat0`` (WGS84)."""
        phi = math.radians(self.lat0)
        return 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)

    @property
    def m_per_deg_lat(self) -> float:
        """Metres per degree of latitude at ``lat0`` (WGS84)."""
        phi = math.radians(self.lat0)
        return 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)

    def lonlat(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Convert metre arrays to longitude and latitude arrays."""
        return self.lon0 + x / self.m_per_deg_lon, self.lat0 + y / self.m_per_deg_lat

    def to_wgs84(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """Transform an array of geometries from the metric frame to WGS84 degrees."""

        def fn(coords: FloatArray) -> FloatArray:
            lon, lat = self.lonlat(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return np.asarray(shapely.transform(geoms, fn), dtype=object)


def star_polygon(rng: np.random.Generator, radius: float, n: int = 144) -> Polygon:
    """An irregular, star-shaped outline of mean ``radius`` metres around the origin."""
    theta = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 8):
        amp = rng.uniform(0.015, 0.06) * math.sqrt(3.0 / k)
        r += amp * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    r += rng.normal(0.0, 0.008, n)
    r *= radius
    return Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))


def polygons_of(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal part of ``geom`` as a MultiPolygon (lines and points from clipping dropped)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0.0]
    nested = [q for p in shapely.get_parts(geom) if isinstance(p, MultiPolygon) for q in p.geoms]
    return MultiPolygon(parts + [q for q in nested if q.area > 0.0])


def voronoi_clip(seeds: FloatArray, region: BaseGeometry) -> list[MultiPolygon]:
    """Voronoi cells of ``seeds`` (n×2), in seed order, each clipped to ``region``."""
    if len(seeds) == 1:
        return [polygons_of(region)]
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region, ordered=True)
    cells = shapely.intersection(shapely.get_parts(diagram), region)
    return [polygons_of(c) for c in cells]


def sample_in(
    rng: np.random.Generator,
    region: BaseGeometry,
    n: int,
    density: DensityField | None = None,
) -> FloatArray:
    """``n`` random points in ``region`` (rejection sampling, optionally weighted by ``density``)."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out: list[FloatArray] = []
    got = 0
    while got < n:
        m = max(64, 4 * (n - got))
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(region, x, y)
        if density is not None:
            keep &= rng.uniform(0.0, 1.0, m) < density(x, y) / density.peak
        pts = np.column_stack([x[keep], y[keep]])
        out.append(pts)
        got += len(pts)
    return np.vstack(out)[:n]


def relaxed_partition(
    rng: np.random.Generator,
    region: BaseGeometry,
    n: int,
    density: DensityField | None = None,
    iterations: int = 1,
) -> list[MultiPolygon]:
    """Split ``region`` into ``n`` irregular pieces: Voronoi of random seeds, Lloyd-relaxed a little."""
    if n <= 1:
        return [polygons_of(region)]
    seeds = sample_in(rng, region, n, density)
    for _ in range(iterations):
        cells = voronoi_clip(seeds, region)
        moved = []
        for cell, seed in zip(cells, seeds, strict=True):
            if cell.is_empty:
                moved.append(seed)
                continue
            c = cell.centroid
            if not region.contains(c):
                c = cell.point_on_surface()
            moved.append(np.array([c.x, c.y]))
        # move half way: keeps the irregularity, removes slivers
        seeds = 0.5 * seeds + 0.5 * np.vstack(moved)
        seeds += rng.normal(0.0, 1e-3, seeds.shape)  # never two identical seeds
    pieces = [p for p in voronoi_clip(seeds, region) if not p.is_empty]
    return pieces


class DensityField:
    """A smooth activity density over a city: a core plus a few hubs (relative, max ``peak``)."""

    def __init__(self, radius: float, hubs: list[tuple[float, float, float, float]]) -> None:
        self.radius = radius
        self.hubs = hubs  # (x, y, sigma, weight)
        self.peak = 0.15 + 1.0 + sum(w for *_, w in hubs)

    def __call__(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Density at the points (x, y)."""
        r2 = (x * x + y * y) / (0.45 * self.radius) ** 2
        d = 0.15 + np.exp(-0.5 * r2)
        for hx, hy, s, w in self.hubs:
            d = d + w * np.exp(-0.5 * ((x - hx) ** 2 + (y - hy) ** 2) / s**2)
        return np.asarray(d)


def arterial_lines(rng: np.random.Generator, radius: float, n: int) -> list[LineString]:
    """``n`` long, gently curving roads across the city plus a ring road."""
    lines: list[LineString] = []
    base = rng.uniform(0, math.pi)
    for i in range(n):
        ang = base + i * math.pi / n + rng.normal(0, 0.12)
        cx, cy = rng.normal(0, 0.15 * radius, 2)
        t = np.linspace(-1.25 * radius, 1.25 * radius, 13)
        wiggle = 0.03 * radius * np.sin(t / radius * rng.uniform(1.5, 3.0) + rng.uniform(0, 6.3))
        x = cx + t * math.cos(ang) - wiggle * math.sin(ang)
        y = cy + t * math.sin(ang) + wiggle * math.cos(ang)
        lines.append(LineString(np.column_stack([x, y])))
    theta = np.linspace(0, 2 * math.pi, 73)
    rr = 0.55 * radius * (1 + 0.05 * np.sin(3 * theta + rng.uniform(0, 6.3)))
    lines.append(LineString(np.column_stack([rr * np.cos(theta), rr * np.sin(theta)])))
    return lines


def local_lines(
    rng: np.random.Generator,
    region: BaseGeometry,
    n: int,
    orientation: float,
    density: DensityField,
) -> list[LineString]:
    """``n`` local streets starting in ``region``, roughly on a grid of ``orientation`` radians."""
    starts = sample_in(rng, region, n, density)
    heading = orientation + (math.pi / 2) * rng.integers(0, 4, n) + rng.normal(0, 0.12, n)
    length = rng.uniform(700.0, 2200.0, n)
    lines = []
    for k in range(n):
        pts = [starts[k]]
        h = heading[k]
        seg = length[k] / 4
        for _ in range(4):
            h += rng.normal(0, 0.08)
            pts.append(pts[-1] + seg * np.array([math.cos(h), math.sin(h)]))
        lines.append(LineString(np.vstack(pts)))
    return lines


@dataclass
class Slots:
    """Candidate building positions along streets (door numbers follow the side of the street)."""

    x: FloatArray
    y: FloatArray
    street: NDArray[np.int64]
    number: NDArray[np.int64]

    def subset(self, keep: NDArray[np.bool_]) -> Slots:
        """The slots where ``keep`` is true."""
        return Slots(self.x[keep], self.y[keep], self.street[keep], self.number[keep])


def street_slots(rng: np.random.Generator, lines: list[LineString], spacing: list[float]) -> Slots:
    """Building slots every ``spacing[i]`` metres on both sides of street ``i``, 12–30 m off it.

    Door numbers count slots from the start of the street: odd on the left, even on the right.
    """
    geoms: list[LineString] = []
    dist: list[FloatArray] = []
    street: list[NDArray[np.int64]] = []
    index: list[NDArray[np.int64]] = []
    for i, line in enumerate(lines):
        k = np.arange(max(1, int(line.length // spacing[i])))
        d = (k + 0.5).astype(np.float64) * spacing[i]
        for side in (0, 1):
            geoms.extend([line] * len(k))
            dist.append(d)
            street.append(np.full(len(k), i, dtype=np.int64))
            index.append(2 * k + 1 + side)
    garr = np.empty(len(geoms), dtype=object)
    garr[:] = geoms
    d_all = np.concatenate(dist)
    num = np.concatenate(index)
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(garr, d_all))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(garr, d_all + 1.0))
    t = p1 - p0
    norm = np.hypot(t[:, 0], t[:, 1])
    norm[norm == 0] = 1.0
    nx, ny = -t[:, 1] / norm, t[:, 0] / norm
    sign = np.where(num % 2 == 1, 1.0, -1.0)  # odd numbers on the left, even on the right
    off = rng.uniform(12.0, 30.0, len(num)) * sign
    return Slots(p0[:, 0] + nx * off, p0[:, 1] + ny * off, np.concatenate(street), num)


def build_coverage(
    outline: Polygon,
    districts: list[MultiPolygon],
    grids: list[tuple[int, MultiPolygon]],
    cells: list[tuple[int, MultiPolygon]],
    grid_size: float = 0.01,
) -> tuple[MultiPolygon, list[MultiPolygon], list[tuple[int, MultiPolygon]], list[tuple[int, MultiPolygon]]]:
    """Rebuild outline, districts, grids and cells as one topologically clean coverage.

    Polygons clipped separately do not share vertices along common edges (a vertex where a cell
    edge meets a grid edge exists in one neighbour only); once projected, such edges bend apart and
    neighbours overlap by square metres. Noding all boundaries together with snap rounding
    (``grid_size`` metres) and polygonising gives faces that share every vertex; each level is then
    the coverage union of its faces.
    """
    parts: list[BaseGeometry] = [outline, *districts, *(g for _, g in grids), *(c for _, c in cells)]
    noded = shapely.union_all(shapely.boundary(np.asarray(parts, dtype=object)), grid_size=grid_size)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    probe = shapely.point_on_surface(faces)

    def owner(polys: list[BaseGeometry], fill_tiny: bool) -> NDArray[np.int64]:
        tree = shapely.STRtree(polys)
        src, dst = tree.query(probe, predicate="within")
        out = np.full(len(faces), -1, dtype=np.int64)
        out[src[::-1]] = dst[::-1]
        lost = np.flatnonzero(out < 0)
        if len(lost):
            near_src, near_dst = tree.query_nearest(probe[lost], return_distance=False, all_matches=False)
            tiny = shapely.area(faces[lost[near_src]]) < 1.0
            if fill_tiny:
                out[lost[near_src[tiny]]] = near_dst[tiny]
            else:
                out[lost[near_src]] = near_dst
        return out

    cell_of = owner([c for _, c in cells], fill_tiny=True)
    district_of = owner(list(districts), fill_tiny=False)
    new_cells = [(gi, _union(faces[cell_of == k])) for k, (gi, _) in enumerate(cells)]
    grid_of_cell = np.array([gi for gi, _ in cells], dtype=np.int64)
    face_grid = np.where(cell_of >= 0, grid_of_cell[np.maximum(cell_of, 0)], -1)
    new_grids = [(di, _union(faces[face_grid == k])) for k, (di, _) in enumerate(grids)]
    new_districts = [_union(faces[district_of == k]) for k in range(len(districts))]
    return _union(faces), new_districts, new_grids, new_cells


def _union(faces: NDArray[np.object_]) -> MultiPolygon:
    if len(faces) == 0:
        return MultiPolygon()
    return polygons_of(shapely.coverage_union_all(faces))
