"""Metrics of METRICS.md by level, drill-down, compare and rank — always within the caller's scope.

Large answers are built without pushing objects one by one through pydantic: the GeoJSON is built
in the database and returned as bytes; tables are serialised with orjson.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from gridmarket.api.deps import ConnDep, ScopeDep, SettingsDep
from gridmarket.grids import metrics
from gridmarket.grids.errors import ValidationFailed

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

GEOJSON = "application/geo+json"
AsOf = Annotated[dt.date | None, Query(description="state at the end of this day (default today)")]
Period = Annotated[str | None, Query(description="YYYY-MM, YYYY-Qn or YYYY (churned, won, new_own_lines)")]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), media_type="application/json")


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ValidationFailed("bbox is minx,miny,maxx,maxy in degrees", "bbox") from None
    if len(parts) != 4:
        raise ValidationFailed("bbox is minx,miny,maxx,maxy in degrees", "bbox")
    return parts[0], parts[1], parts[2], parts[3]


def _area_filters(
    city: str | None, district: str | None, grid: str | None, feature_grid: str | None, bbox: str | None
) -> dict[str, Any]:
    """The area filters of a metrics query that were given (codes; bbox parsed)."""
    given = {"city": city, "district": district, "grid": grid, "feature_grid": feature_grid}
    filters: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    box = _bbox(bbox)
    if box is not None:
        filters["bbox"] = box
    return filters


@router.get("", response_class=Response, responses={200: {"content": {GEOJSON: {}, "application/json": {}}}})
def by_level(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    level: Annotated[
        str, Query(description="building, cell, grid, feature_grid, district, city, province, h3:5..12")
    ],
    as_of: AsOf = None,
    period: Period = None,
    city: str | None = None,
    district: str | None = None,
    grid: str | None = None,
    feature_grid: str | None = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS84)")] = None,
    status: Annotated[list[str] | None, Query(description="count only units with these statuses")] = None,
    format: Annotated[
        str,
        Query(
            pattern="^(json|geojson|table)$",
            description="json: an array of objects; geojson: features; table: keys once, rows as arrays",
        ),
    ] = "json",
) -> Response:
    """Every metric for every area of a level you may read, as JSON, GeoJSON or a compact table."""
    filters = _area_filters(city, district, grid, feature_grid, bbox)
    if status:
        filters["status"] = status
    if format == "geojson":
        body = metrics.metrics_geojson(
            conn, scope, level, as_of=as_of, period=period, filters=filters, tz=settings.timezone
        )
        return Response(body, media_type=GEOJSON)
    head = orjson.dumps({"level": level, "as_of": as_of, "period": period})
    if format == "table":
        table = metrics.metrics_table(
            conn, scope, level, as_of=as_of, period=period, filters=filters, tz=settings.timezone
        )
        return Response(head[:-1] + b"," + table[1:], media_type="application/json")
    rows = metrics.metrics_json(
        conn, scope, level, as_of=as_of, period=period, filters=filters, tz=settings.timezone
    )
    # splice the (cached) array of areas into the envelope without parsing it again
    return Response(head[:-1] + b',"areas":' + rows + b"}", media_type="application/json")


@router.get("/shapes", response_class=Response)
def shapes(
    request: Request,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    level: Annotated[str, Query(description="cell, grid, feature_grid, district, city, province, h3:5..12")],
    as_of: AsOf = None,
    period: Period = None,
    city: str | None = None,
    district: str | None = None,
    grid: str | None = None,
    feature_grid: str | None = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS84)")] = None,
) -> Response:
    """The outlines of the areas ``GET /api/v1/metrics`` lists for the same query, compact.

    ``{"level", "scale": 100000, "codes": [...], "rings": [[ring, ...], ...]}``; a ring is
    ``[x0, y0, dx1, dy1, ...]`` in 1e-5 degree, the first vertex absolute and each next one the
    step from the one before, without the closing vertex; holes and parts are rings alike
    (even-odd). With an ``ETag``: send it back in ``If-None-Match`` for a 304 while the outlines
    are unchanged (the territory rarely changes: a browser keeps them).
    """
    filters = _area_filters(city, district, grid, feature_grid, bbox)
    body = metrics.metrics_shapes(
        conn, scope, level, as_of=as_of, period=period, filters=filters, tz=settings.timezone
    )
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    sent = request.headers.get("if-none-match") or ""
    if etag in (t.strip().removeprefix("W/") for t in sent.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/compare", response_class=Response)
def compare(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    area: Annotated[list[str], Query(description="2 to 10 areas as level:id, e.g. cell:HZ-XH-G001-001")],
    as_of: AsOf = None,
    period: Period = None,
) -> Response:
    """Every metric of 2 to 10 areas side by side."""
    pairs = []
    for item in area:
        level, sep, area_id = item.rpartition(":")
        if not sep or not level:
            raise ValidationFailed(f"an area is level:id, not {item!r}", "area")
        pairs.append((level, area_id))
    rows = metrics.compare(conn, scope, pairs, as_of=as_of, period=period, tz=settings.timezone)
    return _json({"as_of": as_of, "period": period, "areas": rows})


@router.get("/{level}/{area_id}/children", response_class=Response)
def children(
    level: str,
    area_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    child_level: str | None = None,
    as_of: AsOf = None,
    period: Period = None,
) -> Response:
    """Drill down: the areas of the next (or the given finer) level inside an area."""
    rows = metrics.children(
        conn, scope, level, area_id, child_level=child_level, as_of=as_of, period=period, tz=settings.timezone
    )
    return _json({"parent": {"level": level, "id": area_id}, "areas": rows})


@router.get("/{level}/{area_id}/rank", response_class=Response)
def rank(
    level: str,
    area_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    child_level: Annotated[str, Query(description="the level ranked, e.g. cell or grid")],
    metric: Annotated[str, Query(description="a numeric METRICS.md key, e.g. penetration")],
    ascending: bool = False,
    as_of: AsOf = None,
    period: Period = None,
) -> Response:
    """League table of the cells or grids inside an area, by a metric, with rank and percentile."""
    rows = metrics.rank(
        conn,
        scope,
        level,
        area_id,
        child_level,
        metric,
        as_of=as_of,
        period=period,
        ascending=ascending,
        tz=settings.timezone,
    )
    return _json({"parent": {"level": level, "id": area_id}, "metric": metric, "areas": rows})
