"""The ``gridmarket`` command line (CONTRACT.md): one-line reasons on failure, progress on long work."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gridmarket.grids.errors import GridmarketError, ImportRejected
from gridmarket.grids.settings import Settings


def _progress(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    """Create the database if needed, migrate it, and create the first admin on the first run."""
    from gridmarket.grids import auth, migrate
    from gridmarket.grids.db import ensure_database, make_engine

    if ensure_database(settings.database_url):
        print("created database (UTF8, from template0)")
    engine = make_engine(settings)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
        print(f"schema at revision {after}" + ("" if before == after else f" (was {before})"))
        with engine.begin() as conn:
            generated = auth.ensure_first_admin(conn, settings.admin_password)
            if generated:
                print("created the first admin login: user name 'admin', password (shown only now):")
                print(f"    {generated}")
    finally:
        engine.dispose()
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load the synthetic demo city."""
    from gridmarket.etl.demo import generate_demo
    from gridmarket.grids import metrics
    from gridmarket.grids.db import make_engine

    engine = make_engine(settings)
    try:
        if args.if_empty:
            with engine.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM region")):
                    print("the database holds data already: demo not loaded")
                    return 0
        t0 = time.monotonic()
        summary = generate_demo(
            engine,
            units=args.units,
            seed=args.seed,
            h3_resolution=settings.h3_resolution,
            progress=_progress,
        )
        with engine.begin() as conn:  # fold the load's metric deltas into the aggregates
            metrics.compact_metrics(conn, tz=settings.timezone)
    finally:
        engine.dispose()
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.items() if isinstance(v, int))
    print(f"demo loaded in {time.monotonic() - t0:.1f} s: {counts}")
    for w in summary.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _with_conn(settings: Settings, fn: Callable[..., None], *a: object, **kw: object) -> None:
    from gridmarket.grids.db import make_engine

    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            fn(conn, *a, **kw)
    finally:
        engine.dispose()


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    """Create a login."""
    from gridmarket.grids import auth

    password = _read_password(args.password_stdin)
    generated = None
    if not password:
        password = generated = auth.generate_password()

    def add(conn):
        user = auth.add_user(
            conn, args.name, args.role, password, staff_code=args.staff, region_code=args.region
        )
        auth.audit(conn, None, "user.add", {"username": user.username, "role": user.role, "via": "cli"})

    _with_conn(settings, add)
    print(f"created user {args.name!r} with role {args.role}")
    if generated:
        print(f"password (shown only now): {generated}")
    return 0


def cmd_user_passwd(settings: Settings, args: argparse.Namespace) -> int:
    """Change a password (ends the user's sessions)."""
    from gridmarket.grids import auth

    password = _read_password(args.password_stdin)
    generated = None
    if not password:
        password = generated = auth.generate_password()

    def change(conn):
        auth.set_password(conn, args.name, password)
        auth.audit(conn, None, "user.passwd", {"username": args.name, "via": "cli"})

    _with_conn(settings, change)
    print(f"password of {args.name!r} changed")
    if generated:
        print(f"new password (shown only now): {generated}")
    return 0


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> int:
    """Disable a login (ends its sessions)."""
    from gridmarket.grids import auth

    def disable(conn):
        auth.disable_user(conn, args.name)
        auth.audit(conn, None, "user.disable", {"username": args.name, "via": "cli"})

    _with_conn(settings, disable)
    print(f"user {args.name!r} disabled")
    return 0


def _print_problems(exc: Exception) -> None:
    """Print an import's problems, one line each (row or feature number, field, reason)."""
    if not isinstance(exc, ImportRejected):
        return
    for number, fld, reason in exc.problems[:200]:
        print(f"  {exc.numbered} {number}: {fld}: {reason}", file=sys.stderr)
    if len(exc.problems) > 200:
        print(f"  … and {len(exc.problems) - 200} more", file=sys.stderr)


def cmd_import_org(settings: Settings, args: argparse.Namespace) -> int:
    """Import org units, staff and assignments from CSV/XLSX."""
    from gridmarket.etl.org_import import import_org
    from gridmarket.grids.db import make_engine

    engine = make_engine(settings)
    try:
        summary = import_org(engine, args.file, encoding=args.encoding, city=args.city, progress=_progress)
    finally:
        engine.dispose()
    _print_summary("organisation", summary)
    return 0


def cmd_import_territory(settings: Settings, args: argparse.Namespace) -> int:
    """Import regions or grids (GeoJSON, GeoPackage, Shapefile); affected addresses are reassigned."""
    from gridmarket.etl.territory_import import import_grids, import_regions
    from gridmarket.grids.db import make_engine

    fn = import_regions if args.import_command == "regions" else import_grids
    engine = make_engine(settings)
    try:
        summary = fn(
            engine, args.file, h3_resolution=settings.h3_resolution, layer=args.layer, progress=_progress
        )
    finally:
        engine.dispose()
    _print_summary(args.import_command, summary)
    return 0


def cmd_import_addresses(settings: Settings, args: argparse.Namespace) -> int:
    """Import address units with buildings, customers and status (CSV, XLSX, GeoJSON, GeoPackage)."""
    from gridmarket.etl.address_import import import_addresses
    from gridmarket.grids.db import make_engine

    engine = make_engine(settings)
    try:
        summary = import_addresses(
            engine,
            args.file,
            crs=args.crs,
            encoding=args.encoding,
            as_of=args.as_of,
            allow_rejects=args.allow_rejects,
            rejects_path=args.rejects,
            h3_resolution=settings.h3_resolution,
            tz=settings.timezone,
            progress=_progress,
        )
    finally:
        engine.dispose()
    _print_summary("addresses", summary)
    conflicts = summary.get("conflicts") or []
    for c in conflicts[:200]:
        print(
            f"conflict: row {c['row']}: {c['address_id']}: dated {c['row_date']}, "
            f"not after the stored change of {c['stored_date']}: not applied",
            file=sys.stderr,
        )
    if summary.get("rejects_path"):
        rejected, where = summary["rejected"], summary["rejects_path"]
        print(f"{rejected:,} rejected row(s) written to {where}", file=sys.stderr)
    return 0


def cmd_export_metrics(settings: Settings, args: argparse.Namespace) -> int:
    """Export every metric of a level to a file (GeoJSON, GeoPackage, CSV, XLSX)."""
    import datetime as dt

    from gridmarket.etl.export import export_metrics
    from gridmarket.grids.db import make_engine

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    engine = make_engine(settings)
    try:
        n = export_metrics(
            engine,
            args.level,
            args.format,
            args.output,
            as_of=as_of,
            period=args.period,
            tz=settings.timezone,
        )
    finally:
        engine.dispose()
    print(f"exported {n:,} {args.level} areas to {args.output}")
    return 0


def _print_summary(what: str, summary: dict[str, object]) -> None:
    counts = ", ".join(
        f"{k} {v:,}" for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)
    )
    print(f"imported {what}: {counts}")
    warnings = summary.get("warnings") or []
    for w in warnings if isinstance(warnings, list) else []:
        print(f"warning: {w}", file=sys.stderr)


def cmd_metrics(settings: Settings, args: argparse.Namespace) -> int:
    """Fold pending metric deltas into the aggregates (compact) or rebuild them all (recount)."""
    from gridmarket.grids import metrics
    from gridmarket.grids.db import make_engine

    engine = make_engine(settings)
    try:
        t0 = time.monotonic()
        with engine.begin() as conn:
            if args.metrics_command == "compact":
                folded = metrics.compact_metrics(conn, tz=settings.timezone)
                what = (
                    "another compaction is running: nothing done"
                    if folded is None
                    else f"{folded:,} delta rows"
                )
            else:
                what = f"{metrics.recount_metrics(conn, tz=settings.timezone):,} current records counted"
        metrics.vacuum_deltas(engine)
    finally:
        engine.dispose()
    print(f"metrics {args.metrics_command}: {what} in {time.monotonic() - t0:.1f} s")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the web app and API."""
    import uvicorn

    from gridmarket.api.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    print(f"gridmarket serving http://{host}:{port}", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every command."""
    from gridmarket.grids.models import ROLES

    p = argparse.ArgumentParser(prog="gridmarket", description="GIS grid marketing and market space")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="create or migrate the schema (PostGIS extension included)")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="load the synthetic demo city (deterministic for a seed)")
    demo.add_argument("--units", type=int, default=50_000, help="address units (default 50,000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the database holds data")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="logins").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create a login")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--staff", help="staff code the login belongs to (scope follows from it)")
    add.add_argument("--region", help="region code for district- and city-wide roles")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_user_add)
    pw = user.add_parser("passwd", help="change a password")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw.set_defaults(func=cmd_user_passwd)
    dis = user.add_parser("disable", help="disable a login")
    dis.add_argument("name")
    dis.set_defaults(func=cmd_user_disable)

    imp = sub.add_parser("import", help="import files").add_subparsers(dest="import_command", required=True)
    for name, text_ in (
        ("regions", "provinces, cities and districts with boundaries (GeoJSON, GeoPackage, Shapefile)"),
        ("grids", "grids, cells and characteristic grids (GeoJSON, GeoPackage, Shapefile)"),
    ):
        terr = imp.add_parser(name, help=text_)
        terr.add_argument("file")
        terr.add_argument("--layer", help="layer of a multi-layer GeoPackage (default: the first)")
        terr.set_defaults(func=cmd_import_territory)
    addr = imp.add_parser(
        "addresses", help="address units with buildings, customers and status (CSV, XLSX, GeoJSON, GPKG)"
    )
    addr.add_argument("file")
    addr.add_argument("--crs", default="wgs84", help="CRS of lon/lat: wgs84, gcj02, bd09 or EPSG:n")
    addr.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GBK)")
    addr.add_argument("--as-of", help="date of rows without surveyed_at (default: now)")
    addr.add_argument("--allow-rejects", action="store_true", help="load the good rows anyway")
    addr.add_argument("--rejects", help="reject file (default FILE.rejects.csv)")
    addr.set_defaults(func=cmd_import_addresses)
    org = imp.add_parser("org", help="org units, staff and assignments (CSV/XLSX, one row per assignment)")
    org.add_argument("file")
    org.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GBK)")
    org.add_argument("--city", help="city code, for files that name no district or target")
    org.set_defaults(func=cmd_import_org)

    exp = sub.add_parser("export", help="export files").add_subparsers(dest="export_command", required=True)
    em = exp.add_parser("metrics", help="every metric per area of a level")
    em.add_argument(
        "--level",
        required=True,
        help="building, cell, grid, feature_grid, district, city, province, h3:<5-12>",
    )
    em.add_argument("--as-of", help="state at the end of this day (YYYY-MM-DD; default today)")
    em.add_argument("--period", help="YYYY-MM, YYYY-Qn or YYYY for churned, won, new_own_lines")
    em.add_argument("--format", required=True, choices=("geojson", "gpkg", "csv", "xlsx"))
    em.add_argument("-o", "--output", required=True, help="output file")
    em.set_defaults(func=cmd_export_metrics)

    met = sub.add_parser("metrics", help="metric aggregates").add_subparsers(
        dest="metrics_command", required=True
    )
    met.add_parser(
        "compact", help="fold pending metric deltas into the aggregates (the API does this every minute)"
    ).set_defaults(func=cmd_metrics)
    met.add_parser(
        "recount", help="rebuild every metric aggregate from the current records (writers wait)"
    ).set_defaults(func=cmd_metrics)

    serve = sub.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", help="listen address (default GRIDMARKET_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default GRIDMARKET_PORT or 8000)")
    serve.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; exit non-zero with a one-line reason on failure."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return int(args.func(settings, args))
    except GridmarketError as exc:
        print(f"gridmarket: {exc}", file=sys.stderr)
        _print_problems(exc)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        print(f"gridmarket: cannot reach the database ({reason})", file=sys.stderr)
    except KeyboardInterrupt:
        print("gridmarket: interrupted; nothing half-done was kept", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
