"""Importing address units with buildings, customers and market status (CONTRACT.md "Address files").

Files: CSV (UTF-8 with or without BOM, GBK/GB18030) and XLSX with ``lon``/``lat`` columns in the
file's CRS (``crs``: ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:n``), or GeoJSON / GeoPackage with
point geometries (the layer's own CRS when it declares one other than WGS84, else ``crs``).
Headers may be English or Chinese (:data:`ADDRESS_HEADERS`); status values the codes or the
Chinese names (存量, 竞争, 他网, 潜在, 空置, 未摸查).

The path, in one transaction:

1. stream the file row by row: validate each row (problems are (row, field, reason), the row
   number Excel shows, or the 1-based feature index), convert coordinates to WGS84 in chunks, and
   COPY the good rows into the temp staging table of :mod:`gridmarket.grids.units`; rejected rows
   go to the reject file (UTF-8 with BOM, original values plus ``row``, ``field``, ``reason``);
2. without ``allow_rejects`` any reject rolls everything back (:class:`ImportRejected`);
3. match the staged rows to stored units (``address_match.sql``), give new and moved units their
   cell with the one write-time rule (:func:`gridmarket.grids.units.assign_points`), merge values
   and decide each row's action (``address_plan.sql``): insert, unchanged, update, or conflict (a
   change dated at or before the stored record's last change: not applied, reported);
4. apply it set-based (``address_write.sql``): buildings and customers upserted by code in the
   unit's city, changed units updated, new units inserted, changed records closed
   (``valid_to = t``) and version + 1 inserted (``valid_from = t``, source ``import``); ANALYZE.

A row is dated (``t``) by its ``surveyed_at`` (midnight in the operator's time zone ``tz``), else
by ``as_of``, else by the import time.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from gridmarket.etl.org_import import parse_date
from gridmarket.etl.tabular import normalize_header, read_table
from gridmarket.geo.crs import normalize_crs, to_wgs84
from gridmarket.grids import metrics, sqlfiles
from gridmarket.grids.errors import ImportRejected, ValidationFailed
from gridmarket.grids.models import BUILDING_TYPES, STATUSES
from gridmarket.grids.records import STATUS_NAMES, status_contradiction
from gridmarket.grids.units import (
    STAGE_EXTRA_COLUMNS,
    UNIT_COLUMNS,
    assign_points,
    lock_territory,
    stage_units,
)

__all__ = ["ADDRESS_HEADERS", "STATUS_NAMES", "import_addresses", "status_contradiction"]

Progress = Callable[[str], None]
Problem = tuple[int, str, str]

_FIELDS: dict[str, tuple[str, ...]] = {
    "address_id": ("地址编码", "地址ID", "external_id"),
    "address": ("详细地址", "地址"),
    "lon": ("经度", "longitude", "lng", "x"),
    "lat": ("纬度", "latitude", "y"),
    "building_id": ("楼宇编码", "building_code"),
    "building_name": ("楼宇名称",),
    "building_type": ("楼宇类型",),
    "floor": ("楼层",),
    "room": ("房号", "房间号"),
    "customer_code": ("客户编码",),
    "customer_name": ("客户名称",),
    "credit_code": ("统一社会信用代码", "信用代码"),
    "industry": ("行业",),
    "status": ("客户状态", "状态"),
    "main_services": ("主要使用业务",),
    "fixed_lines_own": ("本网固话数",),
    "fixed_lines_rival": ("他网固话数",),
    "broadband_own": ("本网宽带数",),
    "broadband_rival": ("他网宽带数",),
    "ld_minutes_own": ("本网长途分钟",),
    "ld_minutes_rival": ("他网长途分钟",),
    "revenue_month": ("月收入",),
    "rival_operator": ("竞争运营商",),
    "contract_end": ("合同到期日",),
    "contact_name": ("联系人",),
    "contact_phone": ("联系电话",),
    "surveyed_at": ("摸查日期",),
}
ADDRESS_HEADERS: dict[str, str] = {
    alias: key for key, aliases in _FIELDS.items() for alias in (key, *aliases)
}
"""Accepted column names (English or Chinese) → canonical keys."""

_STATUS: dict[str, str] = {}
for _code, _name in STATUS_NAMES.items():
    for _w in (_code, _name, _name + "客户"):
        _STATUS[normalize_header(_w)] = _code
_BUILDING_TYPE_NAMES: dict[str, tuple[str, ...]] = {
    "office_tower": ("写字楼", "商务楼宇", "商务楼"),
    "specialist_market": ("专业市场",),
    "street_shop": ("沿街商铺", "商铺"),
    "industrial_park": ("产业园区", "工业园区", "园区"),
    "campus": ("校园", "学校"),
    "hospital": ("医院",),
    "hotel": ("酒店", "宾馆"),
    "government": ("政府", "党政机关", "机关"),
    "residential": ("住宅", "小区"),
}
_BUILDING_TYPE: dict[str, str] = {
    normalize_header(w): code for code in BUILDING_TYPES for w in (code, *_BUILDING_TYPE_NAMES.get(code, ()))
}

STAGE_COLUMNS: tuple[str, ...] = (*UNIT_COLUMNS, *STAGE_EXTRA_COLUMNS)
_INT_FIELDS = ("fixed_lines_own", "fixed_lines_rival", "broadband_own", "broadband_rival")
_NUM_FIELDS = ("ld_minutes_own", "ld_minutes_rival", "revenue_month")
_TEXT_FIELDS = (
    "building_id",
    "building_name",
    "room",
    "customer_code",
    "customer_name",
    "credit_code",
    "industry",
    "main_services",
    "rival_operator",
    "contact_name",
    "contact_phone",
)
_INT_MAX = 2**31 - 1
_NUM_MAX = Decimal("1e12")  # numeric(14, 2)
_CHUNK = 10_000
_CAP = 1000  # problems kept in the exception, warnings and conflicts in the summary
_UNSAFE = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: Any) -> str:
    s = "" if value is None else (value.isoformat() if isinstance(value, dt.date) else str(value))
    return "'" + s if s.startswith(_UNSAFE) else s


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    s = str(value).strip()
    return s or None


def _integer(value: Any, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        n = int(value)
    else:
        s = str(value).strip().replace(",", "")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise ValueError(f"{s!r} is not an integer") from None
        if not d.is_finite() or d != d.to_integral_value():
            raise ValueError(f"{s!r} is not an integer")
        n = int(d)
    if minimum is not None and n < minimum:
        raise ValueError(f"must be ≥ {minimum}, not {n}")
    if abs(n) > _INT_MAX:
        raise ValueError(f"{n} is too large")
    return n


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    s = repr(value) if isinstance(value, float) else str(value).strip().replace(",", "")
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{s!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{s!r} is not a number")
    if d < 0:
        raise ValueError(f"must be ≥ 0, not {s}")
    if d >= _NUM_MAX:
        raise ValueError(f"{s} is too large")
    return d


def _coordinate(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError("is required")
    try:
        x = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{value!r} is not a number")
    return x


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


def _as_of(value: str | dt.date | dt.datetime | None, zone: ZoneInfo) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    try:
        return _midnight(parse_date(value), zone)
    except ValueError as e:
        raise ValidationFailed(f"--as-of: {e}", "as_of") from None


# ------------------------------------------------------------------------------------------------
# sources: (number, values by canonical key, original values for the reject file)
# ------------------------------------------------------------------------------------------------

Record = tuple[int, dict[str, Any]]


def _open_table(path: Path, encoding: str | None) -> tuple[list[str], list[str], Iterator[Record], list[str]]:
    table = read_table(
        path, headers=ADDRESS_HEADERS, encoding=encoding, required=("address_id", "address", "lon", "lat")
    )
    lookup: dict[str, str] = {}
    for alias, key in [*((k, k) for k in _FIELDS), *ADDRESS_HEADERS.items()]:
        lookup.setdefault(normalize_header(alias), key)
    names = [n for n in table.header if n and normalize_header(n) in lookup]
    return table.columns, names, table.rows(), list(table.warnings)


def _open_gis(path: Path, crs: str, explicit: bool) -> tuple[list[str], list[str], Iterator[Record], str]:
    import pandas as pd

    import pyogrio

    try:
        df = pyogrio.read_dataframe(path)
    except Exception as e:  # pyogrio.errors.DataSourceError and friends
        raise ValidationFailed(f"{path.name}: not a readable GIS file ({e})", "file") from None
    lookup = {normalize_header(k): v for k, v in ADDRESS_HEADERS.items()}
    mapping: dict[str, str] = {}
    for col in df.columns:
        if col == "geometry":
            continue
        key = lookup.get(normalize_header(str(col)))
        if key is not None and key not in ("lon", "lat") and key not in mapping.values():
            mapping[str(col)] = key
    missing = [k for k in ("address_id", "address") if k not in mapping.values()]
    if missing:
        raise ValidationFailed(f"{path.name}: missing required field(s): {', '.join(missing)}", missing[0])
    layer_crs = df.crs.to_epsg() if df.crs is not None else None
    if not explicit and layer_crs not in (None, 4326):
        crs = f"EPSG:{layer_crs}"

    def rows() -> Iterator[Record]:
        for i, (geom, *vals) in enumerate(zip(df.geometry, *(df[c] for c in mapping), strict=True), start=1):
            values: dict[str, Any] = dict.fromkeys(_FIELDS)
            for key, v in zip(mapping.values(), vals, strict=True):
                if v is None or (not isinstance(v, str) and bool(pd.isna(v))):
                    continue
                if hasattr(v, "to_pydatetime"):
                    v = v.to_pydatetime()
                if isinstance(v, str):
                    v = v.strip() or None
                values[key] = v
            if geom is None or geom.is_empty:
                values["lon"] = values["lat"] = None
                values["_geometry"] = "missing"
            elif geom.geom_type != "Point":
                values["lon"] = values["lat"] = None
                values["_geometry"] = f"a {geom.geom_type}, not a point"
            else:
                values["lon"], values["lat"] = geom.x, geom.y
            yield i, values

    return [*mapping.values(), "lon", "lat"], [*mapping, "lon", "lat"], rows(), crs


# ------------------------------------------------------------------------------------------------
# validation, streamed into the staging COPY
# ------------------------------------------------------------------------------------------------


class _Rejects:
    """The reject file, opened on the first rejected row."""

    def __init__(self, path: Path, columns: list[str], names: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.names = names
        self.file: IO[str] | None = None
        self.writer: Any = None

    def write(self, number: int, values: dict[str, Any], problems: list[Problem]) -> None:
        if self.writer is None:
            self.file = self.path.open("w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file)
            self.writer.writerow([*self.names, "row", "field", "reason"])
        original = [_neutralise(values.get(k)) for k in self.columns]
        for _, fld, reason in problems:
            self.writer.writerow([*original, number, _neutralise(fld), _neutralise(reason)])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class _Validator:
    def __init__(self, crs: str, default_date: dt.datetime, zone: ZoneInfo, rejects: _Rejects) -> None:
        self.crs = crs
        self.default_date = default_date
        self.zone = zone
        self.rejects = rejects
        self.seen: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.n_problems = 0
        self.rejected = 0
        self.rows = 0
        self.warnings: list[str] = []
        self.n_warnings = 0

    def _reject(self, number: int, values: dict[str, Any], problems: list[Problem]) -> None:
        self.rejected += 1
        self.n_problems += len(problems)
        room = _CAP - len(self.problems)
        if room > 0:
            self.problems.extend(problems[:room])
        self.rejects.write(number, values, problems)

    def _warn(self, text_: str) -> None:
        self.n_warnings += 1
        if len(self.warnings) < _CAP:
            self.warnings.append(text_)

    def _parse(self, number: int, v: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        problems: list[Problem] = []
        out: dict[str, Any] = {}

        def bad(fld: str, reason: str) -> None:
            problems.append((number, fld, reason))

        for fld in ("address_id", "address"):
            out[fld] = _text(v.get(fld))
            if out[fld] is None:
                bad(fld, "is required")
        if "_geometry" in v:
            bad("geometry", f"is {v['_geometry']}")
        else:
            for fld in ("lon", "lat"):
                try:
                    out[fld] = _coordinate(v.get(fld))
                except ValueError as e:
                    bad(fld, str(e))
        for fld in _TEXT_FIELDS:
            out[fld] = _text(v.get(fld))
        for fld in _INT_FIELDS:
            out[fld] = None
            if v.get(fld) is not None:
                try:
                    out[fld] = _integer(v[fld])
                except ValueError as e:
                    bad(fld, str(e))
        for fld in _NUM_FIELDS:
            out[fld] = None
            if v.get(fld) is not None:
                try:
                    out[fld] = _number(v[fld])
                except ValueError as e:
                    bad(fld, str(e))
        out["floor"] = None
        if v.get("floor") is not None:
            try:
                out["floor"] = _integer(v["floor"], minimum=None)
            except ValueError as e:
                bad("floor", str(e))
        for fld in ("contract_end", "surveyed_at"):
            out[fld] = None
            if v.get(fld) is not None:
                try:
                    out[fld] = parse_date(v[fld])
                except ValueError as e:
                    bad(fld, str(e))
        out["status"] = None
        if (s := _text(v.get("status"))) is not None:
            out["status"] = _STATUS.get(normalize_header(s))
            if out["status"] is None:
                names = "/".join(STATUS_NAMES.values())
                bad("status", f"unknown status {s!r} (use {', '.join(STATUSES)} or {names})")
        out["building_type"] = None
        if (s := _text(v.get("building_type"))) is not None:
            out["building_type"] = _BUILDING_TYPE.get(normalize_header(s))
            if out["building_type"] is None:
                bad("building_type", f"unknown building type {s!r} (use {', '.join(BUILDING_TYPES)})")
        ext = out["address_id"]
        if ext is not None and not problems:
            first = self.seen.setdefault(ext, number)
            if first != number:
                bad("address_id", f"duplicate address_id {ext!r}: first in row {first}")
        return out, problems

    def _finish(self, number: int, out: dict[str, Any]) -> tuple[Any, ...]:
        if out["contact_phone"] is not None and "*" in out["contact_phone"]:
            # a masked number (a roster or export read by a role that may not see phones, edited
            # and imported again) must not overwrite the real one: treated as an empty cell
            out["contact_phone"] = None
            self._warn(f"row {number}: contact_phone: masked number not stored (the stored one is kept)")
        if out["status"] is not None:
            own = (out["fixed_lines_own"] or 0) + (out["broadband_own"] or 0)
            rival = (out["fixed_lines_rival"] or 0) + (out["broadband_rival"] or 0)
            rule = status_contradiction(out["status"], own, rival)
            if rule is not None:
                self._warn(f"row {number}: status: {rule}")
        survey = out["surveyed_at"]
        dated = _midnight(survey, self.zone) if survey is not None else self.default_date
        values = {
            **out,
            "external_id": out["address_id"],
            "building_code": out["building_id"],
            "dated_at": dated,
        }
        return (number, *(values[c] for c in STAGE_COLUMNS))

    def _flush(self, chunk: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> Iterator[tuple[Any, ...]]:
        if not chunk:
            return
        lons, lats = to_wgs84([c[2]["lon"] for c in chunk], [c[2]["lat"] for c in chunk], self.crs)
        for (number, raw, out), lon, lat in zip(chunk, lons.tolist(), lats.tolist(), strict=True):
            problems: list[Problem] = []
            if not (math.isfinite(lon) and -180 <= lon <= 180):
                problems.append((number, "lon", f"{raw.get('lon')!r} is out of range ({self.crs} → WGS84)"))
            if not (math.isfinite(lat) and -90 <= lat <= 90):
                problems.append((number, "lat", f"{raw.get('lat')!r} is out of range ({self.crs} → WGS84)"))
            if problems:
                self._reject(number, raw, problems)
                continue
            out["lon"], out["lat"] = lon, lat
            yield self._finish(number, out)

    def stream(self, records: Iterable[Record], progress: Progress | None) -> Iterator[tuple[Any, ...]]:
        """Validate ``records`` and yield the good rows in staging order (row number first)."""
        chunk: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for number, values in records:
            self.rows += 1
            out, problems = self._parse(number, values)
            if problems:
                self._reject(number, values, problems)
            else:
                chunk.append((number, values, out))
            if len(chunk) >= _CHUNK:
                yield from self._flush(chunk)
                chunk = []
            if progress and self.rows % 100_000 == 0:
                progress(f"read {self.rows:,} rows ({self.rejected:,} rejected)")
        yield from self._flush(chunk)


# ------------------------------------------------------------------------------------------------
# the import
# ------------------------------------------------------------------------------------------------


def import_addresses(
    engine: Engine,
    path: str | Path,
    *,
    crs: str = "wgs84",
    encoding: str | None = None,
    as_of: str | dt.date | dt.datetime | None = None,
    allow_rejects: bool = False,
    rejects_path: str | Path | None = None,
    h3_resolution: int = 9,
    tz: str = "Asia/Shanghai",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Load address units (with buildings, customers and market records) from a file, in one transaction.

    ``crs`` is the CRS of ``lon``/``lat`` (CSV/XLSX; for GIS files it applies when the layer
    declares no other CRS); ``encoding`` forces the CSV encoding; ``as_of`` dates rows without
    ``surveyed_at`` (default: now); ``tz`` is the operator's time zone. Rejected rows are written
    to ``rejects_path`` (default ``FILE.rejects.csv``). Without ``allow_rejects`` any rejected row
    raises :class:`ImportRejected` (``problems``: row, field, reason) and nothing is written; with
    it the good rows load.

    Returns ``rows``, ``inserted``, ``updated``, ``unchanged``, ``rejected``, ``conflicts`` (list of
    ``{row, address_id, row_date, stored_date}``, capped at 1000; ``conflicts_total``),
    ``warnings`` (data-quality contradictions ``row N: status: rule`` and file notes),
    ``buildings_inserted``/``_updated``, ``customers_inserted``/``_updated``, ``cells_created``,
    ``rejects_path`` (None when nothing was rejected) and ``seconds``.
    """
    t0 = time.monotonic()
    say = progress or (lambda _m: None)
    p = Path(path)
    zone = ZoneInfo(tz)
    try:
        crs_name = normalize_crs(crs)
    except (ValueError, TypeError) as e:
        raise ValidationFailed(str(e), "crs") from None
    default_date = _as_of(as_of, zone)
    out_path = Path(rejects_path) if rejects_path else p.with_name(p.name + ".rejects.csv")
    warnings: list[str] = []
    if p.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        if not p.is_file():
            raise ValidationFailed(f"no such file: {p}", "path")
        columns, names, records, crs_name = _open_gis(p, crs_name, explicit=crs_name != "wgs84")
        numbered = "feature"
    else:
        columns, names, records, notes = _open_table(p, encoding)
        warnings.extend(notes)
        numbered = "row"
    rejects = _Rejects(out_path, columns, names)
    check = _Validator(crs_name, default_date, zone, rejects)
    say(f"reading {p.name}")
    try:
        with engine.begin() as conn:
            staged = stage_units(
                conn, check.stream(records, say), columns=STAGE_COLUMNS, numbered=True, progress=say
            )
            rejects.close()
            if check.rows == 0:
                raise _rejected(p, [(0, "file", "the file has no data rows")], numbered, 0)
            if check.rejected and not allow_rejects:
                raise _rejected(p, sorted(check.problems), numbered, check.n_problems, out_path)
            say(f"staged {staged:,} rows; matching and assigning cells")
            summary = _apply(conn, h3_resolution, zone, warnings, say)
    finally:
        rejects.close()
    with engine.begin() as conn:  # fold the load's metric deltas in (its own short transaction)
        compacted = metrics.compact_metrics(conn, tz=tz)
    conflicts = summary.pop("conflict_list")
    n_warn_more = check.n_warnings - len(check.warnings)
    more = f"… and {n_warn_more} more warnings (status contradictions, masked phones)"
    quality = check.warnings + ([more] if n_warn_more else [])
    result: dict[str, Any] = {
        "rows": check.rows,
        "inserted": summary.pop("inserted"),
        "updated": summary.pop("updated"),
        "unchanged": summary.pop("unchanged"),
        "rejected": check.rejected,
        "conflicts": conflicts,
        "conflicts_total": summary.pop("conflicts_total"),
        **summary,
        "warnings": [*warnings, *quality],
        "rejects_path": str(out_path) if check.rejected else None,
        "deltas_compacted": compacted,
        "seconds": round(time.monotonic() - t0, 3),
    }
    say(
        f"addresses loaded: {result['inserted']:,} new, {result['updated']:,} updated, "
        f"{result['unchanged']:,} unchanged, {result['conflicts_total']:,} conflicts, "
        f"{result['rejected']:,} rejected"
    )
    return result


def _rejected(
    p: Path, problems: list[Problem], numbered: str, total: int, out: Path | None = None
) -> ImportRejected:
    first = problems[0] if problems else (0, "file", "")
    where = f"{numbered} {first[0]}, {first[1]}" if first[0] else first[1]
    s = "s" if total != 1 else ""
    listed = f"; rejected rows written to {out}" if out is not None else ""
    exc = ImportRejected(
        f"{p.name} rejected, nothing written: {total} problem{s}; first: {where}: {first[2]}{listed}",
        list(problems),
        first[1] or None,
    )
    exc.numbered = numbered
    return exc


_WRITE_KEYS = (
    "buildings_updated",
    "buildings_inserted",
    "customers_updated",
    "customers_inserted",
    "units_updated",
    "units_inserted",
    "records_closed",
    "records_inserted",
    "buildings_moved",
)


def _apply(
    conn: Connection, h3_resolution: int, zone: ZoneInfo, warnings: list[str], say: Progress
) -> dict[str, Any]:
    """Match, assign, plan and write the staged rows (see the module docstring)."""
    lock_territory(conn)
    sqlfiles.run_script(conn, sqlfiles.load("address_match.sql"))
    assigned = assign_points(conn, "stage", h3_resolution, warnings)
    conn.execute(text("CREATE INDEX ON stage_assigned (row_no)"))
    sqlfiles.run_script(conn, sqlfiles.load("address_plan.sql"))
    counts: dict[str, int] = {
        str(a): int(n)
        for a, n in conn.execute(text("SELECT action, count(*) FROM address_plan GROUP BY action"))
    }
    conflict_rows = conn.execute(
        text(
            "SELECT row_no, external_id, dated_at, stored_from FROM address_plan "
            "WHERE action = 'conflict' ORDER BY row_no LIMIT :cap"
        ),
        {"cap": _CAP},
    ).all()
    say("writing buildings, customers, address units and market records")
    out: dict[str, Any] = {}
    for key, stmt in zip(_WRITE_KEYS, sqlfiles.statements(sqlfiles.load("address_write.sql")), strict=True):
        t = time.monotonic()
        out[key] = int(conn.execute(text(stmt)).rowcount)
        say(f"{key.replace('_', ' ')}: {out[key]:,} ({time.monotonic() - t:.1f} s)")
    if out["units_inserted"] or out["units_updated"] or out["records_inserted"]:
        for table in ("address_unit", "market_record", "building", "customer", "cell"):
            conn.execute(text(f"ANALYZE {table}"))
    return {
        "inserted": int(counts.get("insert", 0)),
        "updated": int(counts.get("update", 0)),
        "unchanged": int(counts.get("unchanged", 0)),
        "conflicts_total": int(counts.get("conflict", 0)),
        "conflict_list": [
            {
                "row": int(r.row_no),
                "address_id": r.external_id,
                "row_date": r.dated_at.astimezone(zone).isoformat(),
                "stored_date": r.stored_from.astimezone(zone).isoformat(),
            }
            for r in conflict_rows
        ],
        "cells_created": assigned["cells_created"],
        **{k: v for k, v in out.items() if k.startswith(("buildings", "customers"))},
    }
