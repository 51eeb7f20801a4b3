"""Metrics benchmark (issue 4 part 7): a report, not a test.

    .venv/bin/python -m bench.metrics [--units 1000000] [--rebuild] [--reps 30] [--writers 16]

Sections (each a function below):

* (a) every cell of the main city through the API (a ``gridmarket serve`` subprocess, bearer
  token of an admin, httpx) vs the same metrics computed from the base tables in-process with
  ``metrics_for_level(..., from_base=True)``; identical figures checked cell by cell;
* (b) the main city at h3:8 and h3:10 through the API;
* (c) 16 writers writing new record versions of different units of one cell vs 16 writers doing
  bare primary-key UPDATEs of the same rows; aggregate vs base checked afterwards;
* (d) peak memory of the API process during (a)/(b) and of a 1,000,000-row address CSV import,
  with a ``psql \\copy`` of the same file into a scratch unlogged table as the speed baseline.

Prints a table per section and writes ``bench/reports/metrics-<date>.txt``.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.common import ROOT, Report, bench_database, free_port, p50, percentile, timed, wait_until_serving
from gridmarket.grids import auth, metrics
from gridmarket.grids.scope import system_scope

VENV_BIN = Path(sys.executable).parent
GOAL_P95_MS = 50.0
GOAL_SPEEDUP = 5.0
GOAL_WRITE_RATIO = 0.5
COMPARED = ("units", "n_stock", "n_competing", "n_other_network", "n_potential", "n_vacant", "n_unknown")


def fmt_ms(values: list[float]) -> tuple[str, str]:
    return f"{p50(values):,.1f} ms", f"{percentile(values, 95):,.1f} ms"


def mark(ok: bool) -> str:
    return "pass" if ok else "MISS"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string (psycopg, psql)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- set-up ----------------------------------------------------------------------------------
def main_city(conn: Connection) -> tuple[str, str, int]:
    row = conn.execute(
        text(
            "SELECT r.code, r.name, count(*) AS n FROM address_unit a JOIN region r ON r.id = a.city_id "
            "WHERE a.retired_at IS NULL GROUP BY r.code, r.name ORDER BY n DESC LIMIT 1"
        )
    ).one()
    return row.code, row.name, int(row.n)


def admin_token(engine: Engine) -> str:
    """A bearer token of a bench admin (created once per bench database)."""
    with engine.begin() as conn:
        user = auth.get_user(conn, "bench-admin") or auth.add_user(
            conn, "bench-admin", "admin", auth.generate_password()
        )
        token, _ = auth.open_session(conn, user, "bearer", 240)
    return token


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``gridmarket serve`` against the bench database; return the process and its base URL."""
    port = free_port()
    env = {**os.environ, "GRIDMARKET_DATABASE_URL": url}
    proc = subprocess.Popen(
        [str(VENV_BIN / "gridmarket"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, base + "/api/v1/auth/me", "gridmarket serve", 60)
    return proc, base


def proc_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (VmHWM, VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


# -- (a) cells: API vs base tables --------------------------------------------------------------
def same_figures(api_rows: list[dict[str, Any]], raw_rows: list[dict[str, Any]]) -> list[str]:
    """Differences between two metric tables (units, every n_*, revenue, penetration per area)."""
    key = "id" if api_rows and "id" in api_rows[0] else next(iter(api_rows[0])) if api_rows else "id"
    api = {str(r[key]): r for r in api_rows}
    raw = {str(r[key]): r for r in raw_rows}
    diffs = [f"areas only in one: {sorted(set(api) ^ set(raw))[:5]}"] if set(api) != set(raw) else []
    for k in sorted(set(api) & set(raw)):
        a, b = api[k], raw[k]
        for m in COMPARED:
            if a[m] != b[m]:
                diffs.append(f"{k} {m}: api {a[m]} raw {b[m]}")
        if Decimal(str(a["revenue"])).quantize(Decimal("0.01")) != Decimal(str(b["revenue"])).quantize(
            Decimal("0.01")
        ):
            diffs.append(f"{k} revenue: api {a['revenue']} raw {b['revenue']}")
        pa, pb = a["penetration"], b["penetration"]
        if (pa is None) != (pb is None) or (pa is not None and abs(float(pa) - float(pb)) > 1e-9):
            diffs.append(f"{k} penetration: api {pa} raw {pb}")
    return diffs


def explain_cells(engine: Engine, city: str) -> list[str]:
    """EXPLAIN ANALYZE of the statement the API runs for ``level=cell&city=``.

    Taken with auto_explain sent back to this session as notices, so it is the plan of exactly
    what ``metrics_for_level`` executes, whichever cursor it uses.
    """
    notices: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        for setting in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_analyze = on",
            "SET auto_explain.log_buffers = on",
            "SET auto_explain.log_level = notice",
        ):
            conn.exec_driver_sql(setting)
        metrics.clear_cache()
        metrics.metrics_for_level(conn, system_scope(), "cell", filters={"city": city})
        conn.rollback()
    lines = max(notices, key=len, default="(no plan captured)").splitlines()
    root = next((i for i, line in enumerate(lines) if "actual time=" in line), 0)
    return [lines[0], *lines[root:]]  # the duration, then the plan (the query text left out)


def api_timing(
    client: httpx.Client, params: dict[str, str], reps: int, bump: Callable[[], None] | None
) -> tuple[list[float], list[dict[str, Any]]]:
    """Time ``reps`` GETs of /api/v1/metrics after 3 warm-ups; ``bump`` (untimed) runs before each.

    The API process caches reads of the aggregates until a change is committed: without
    ``bump`` the requests measure that cache; with it (a committed change before every request)
    they measure the query path, as while staff are writing.
    """
    times: list[float] = []
    areas: list[dict[str, Any]] = []
    for i in range(3 + reps):
        if bump is not None:
            bump()
        t0 = time.perf_counter()
        r = client.get("/api/v1/metrics", params=params)
        elapsed = (time.perf_counter() - t0) * 1000  # the body received, not yet parsed here
        r.raise_for_status()
        areas = list(r.json()["areas"])
        if i >= 3:
            times.append(elapsed)
    return times, areas


def epoch_bumper(engine: Engine) -> Callable[[], None]:
    """A committed change that invalidates the API's cached reads (as compaction or a territory edit)."""

    def bump() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE metrics_epoch SET epoch = epoch + 1"))

    return bump


def edit_bumper(engine: Engine, city: str) -> Callable[[], None]:
    """A committed field edit (a new record version) of a random unit of ``city`` before each request."""
    with engine.connect() as conn:
        units = list(
            conn.execute(
                text(
                    "SELECT a.id FROM address_unit a JOIN region r ON r.id = a.city_id "
                    "WHERE r.code = :c AND a.retired_at IS NULL ORDER BY a.id"
                ),
                {"c": city},
            ).scalars()
        )
    rnd = random.Random(4)

    def bump() -> None:
        unit = rnd.choice(units)  # one unit: close its record and insert the next version
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                for sql in VERSION_SQL:
                    cur.execute(sql, {"u": unit})
                if cur.rowcount != 1:
                    raise RuntimeError(f"bench edit of unit {unit}: no new version inserted")
            raw.commit()
        finally:
            raw.close()

    return bump


def section_a(
    rep: Report, engine: Engine, client: httpx.Client, city: str, reps: int, raw_budget_s: float
) -> dict[str, Any]:
    rep("(a) every cell of the main city: API vs the base tables")
    params = {"level": "cell", "city": city}

    def raw() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return metrics.metrics_for_level(
                conn, system_scope(), "cell", filters={"city": city}, from_base=True
            )

    edit_ms, _ = api_timing(client, params, reps, edit_bumper(engine, city))
    cold_ms, api_rows = api_timing(client, params, reps, epoch_bumper(engine))
    warm_ms, _ = api_timing(client, params, reps, None)
    t0 = time.perf_counter()
    raw()  # warm-up; its time decides how many timed runs fit the budget
    first = time.perf_counter() - t0
    raw_reps = max(5, min(reps, int(raw_budget_s / max(first, 1e-3))))
    raw_ms, raw_rows = timed(raw, raw_reps, 0)
    assert isinstance(raw_rows, list)
    diffs = same_figures(api_rows, raw_rows)
    n_cells, n_units = len(api_rows), sum(int(r["units"]) for r in api_rows)
    speedup = p50(raw_ms) / p50(edit_ms)
    speedup_full = p50(raw_ms) / p50(cold_ms)
    p95 = percentile(edit_ms, 95)
    rep(f"  cells {n_cells:,}, units {n_units:,}; raw = metrics_for_level(from_base=True) in-process")
    rep(f"  API: {reps} runs after 3 warm-ups each; raw: {raw_reps} runs after 1 warm-up")
    rep.table(
        ["path", "runs", "p50", "p95"],
        [
            ["API level=cell, after a field edit (changed cells re-read)", reps, *fmt_ms(edit_ms)],
            ["API level=cell, after a territory change (all re-read)", reps, *fmt_ms(cold_ms)],
            ["API level=cell, repeated (API process cache)", reps, *fmt_ms(warm_ms)],
            ["raw SQL from base tables (from_base=True)", raw_reps, *fmt_ms(raw_ms)],
        ],
    )
    rep(f"  speed-up (raw p50 / API-after-a-field-edit p50): {speedup:,.1f}x")
    rep(f"  speed-up (raw p50 / API-after-a-territory-change p50): {speedup_full:,.1f}x")
    for d in diffs[:10]:
        rep(f"  DIFF {d}")
    goals = {
        "identical figures (API vs base)": not diffs,
        f"p95 <= {GOAL_P95_MS:.0f} ms ({n_cells:,} cells, after a field edit)": p95 <= GOAL_P95_MS,
        f">= {GOAL_SPEEDUP:.0f}x faster than raw (after a field edit)": speedup >= GOAL_SPEEDUP,
    }
    rep(f"  goal identical: {mark(not diffs)} ({len(diffs)} differences)")
    rep(f"  goal p95 <= {GOAL_P95_MS:.0f} ms (after a field edit): {mark(p95 <= GOAL_P95_MS)}")
    rep(f"  goal >= {GOAL_SPEEDUP:.0f}x faster (after a field edit): {mark(speedup >= GOAL_SPEEDUP)}")
    if p95 > GOAL_P95_MS:
        rep("  p95 missed: EXPLAIN (ANALYZE, BUFFERS) of the API's cell query")
        for line in explain_cells(engine, city):
            rep("    " + line)
    rep()
    return goals


# -- (b) H3 levels ------------------------------------------------------------------------------
def section_b(rep: Report, engine: Engine, client: httpx.Client, city: str, reps: int) -> None:
    rep("(b) the whole main city at H3 levels through the API")
    rows = []
    for level in ("h3:8", "h3:10"):
        params = {"level": level, "city": city}
        cold_ms, areas = api_timing(client, params, reps, epoch_bumper(engine))
        warm_ms, _ = api_timing(client, params, reps, None)
        rows.append([f"API level={level}, after a change", f"{len(areas):,} areas", reps, *fmt_ms(cold_ms)])
        rows.append([f"API level={level}, repeated", f"{len(areas):,} areas", reps, *fmt_ms(warm_ms)])
    rep.table(["path", "areas", "runs", "p50", "p95"], rows)
    rep()


# -- (c) concurrent writers -------------------------------------------------------------------
VERSION_SQL = (
    "UPDATE market_record SET valid_to = now() WHERE address_unit_id = %(u)s AND valid_to IS NULL",
    "INSERT INTO market_record (address_unit_id, city_id, version, customer_id, status, main_services,"
    " fixed_lines_own, fixed_lines_rival, broadband_own, broadband_rival, ld_minutes_own,"
    " ld_minutes_rival, revenue_month, rival_operator, contract_end, contact_name, contact_phone,"
    " surveyed_at, note, source, valid_from)"
    " SELECT address_unit_id, city_id, version + 1, customer_id,"
    " CASE status WHEN 'stock' THEN 'competing' ELSE 'stock' END, main_services, fixed_lines_own,"
    " CASE status WHEN 'stock' THEN greatest(fixed_lines_rival, 1) ELSE 0 END,"
    " greatest(broadband_own, CASE WHEN fixed_lines_own = 0 THEN 1 ELSE 0 END),"
    " CASE status WHEN 'stock' THEN broadband_rival ELSE 0 END, ld_minutes_own, ld_minutes_rival,"
    " revenue_month, CASE status WHEN 'stock' THEN coalesce(rival_operator, 'unicom') END,"
    " contract_end, contact_name, contact_phone, surveyed_at, note, 'api', now()"
    " FROM market_record WHERE address_unit_id = %(u)s AND valid_to = now()",
)
# the same new version in one round trip: close and insert in one statement (a data-modifying
# CTE); both statement triggers fire at its end
_FROM_CLOSED = " FROM market_record WHERE address_unit_id = %(u)s AND valid_to = now()"
VERSION_ONE_SQL = (  # constants of this file only
    "WITH old AS (UPDATE market_record SET valid_to = now() WHERE address_unit_id = %(u)s "  # noqa: S608
    "AND valid_to IS NULL RETURNING *) " + VERSION_SQL[1].replace(_FROM_CLOSED, " FROM old"),
)
assert VERSION_ONE_SQL[0].endswith(" FROM old")
BARE_SQL = ("UPDATE market_record SET note = %(x)s WHERE id = %(id)s",)


def run_writers(
    dsn: str, work: list[list[dict[str, Any]]], statements: tuple[str, ...], seconds: float
) -> tuple[int, list[float], list[str]]:
    """Each thread its own connection, looping over its own rows for ``seconds``; writes, latencies."""
    latencies: list[list[float]] = [[] for _ in work]
    errors: list[str] = []
    start = threading.Barrier(len(work) + 1)
    stop = threading.Event()

    def writer(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            start.wait()
            n = 0
            while not stop.is_set():
                params = work[i][n % len(work[i])]
                n += 1
                t0 = time.perf_counter()
                try:
                    with conn.transaction():
                        for sql in statements:
                            conn.execute(sql, params)  # type: ignore[arg-type]
                except psycopg.Error as exc:
                    errors.append(str(exc).splitlines()[0])
                    continue
                latencies[i].append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    start.wait()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    flat = [x for lst in latencies for x in lst]
    return len(flat), flat, errors


def section_c(rep: Report, engine: Engine, url: str, writers: int, seconds: float) -> dict[str, bool]:
    rep(f"(c) {writers} concurrent writers on different units of one cell, {seconds:.0f} s each")
    with engine.connect() as conn:
        cell = conn.execute(
            text(
                "SELECT c.id, c.code, count(*) AS n FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                "WHERE a.retired_at IS NULL GROUP BY c.id, c.code ORDER BY n DESC LIMIT 1"
            )
        ).one()
        units = list(
            conn.scalars(
                text(
                    "SELECT a.id FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id "
                    "AND r.valid_to IS NULL WHERE a.cell_id = :c AND a.retired_at IS NULL "
                    "AND r.status IN ('stock', 'competing') ORDER BY a.id"
                ),
                {"c": cell.id},
            )
        )
    rep(f"  cell {cell.code}: {cell.n:,} units, {len(units):,} stock/competing units written")
    if len(units) < writers:
        rep("  too few units to give each writer its own; skipped")
        return {}
    dsn = libpq_url(url)
    shares = [units[i::writers] for i in range(writers)]
    n_v, lat_v, err_v = run_writers(dsn, [[{"u": u} for u in s] for s in shares], VERSION_SQL, seconds)
    n_1, lat_1, err_1 = run_writers(dsn, [[{"u": u} for u in s] for s in shares], VERSION_ONE_SQL, seconds)
    with psycopg.connect(dsn) as conn:
        ids = dict(
            conn.execute(
                "SELECT address_unit_id, id FROM market_record WHERE valid_to IS NULL "
                "AND address_unit_id = ANY(%s)",
                (units,),
            ).fetchall()
        )
    bare_work = [[{"id": ids[u], "x": f"bench {secrets.token_hex(4)}"} for u in s] for s in shares]
    n_b, lat_b, err_b = run_writers(dsn, bare_work, BARE_SQL, seconds)
    tput_v, tput_1, tput_b = n_v / seconds, n_1 / seconds, n_b / seconds
    ratio_two = tput_v / tput_b if tput_b else 0.0
    ratio = tput_1 / tput_b if tput_b else 0.0
    rep.table(
        ["writers", "writes", "throughput", "p50 latency", "p95 latency", "errors"],
        [
            [
                "new version, 2 statements (close; insert)",
                f"{n_v:,}",
                f"{tput_v:,.0f} writes/s",
                *fmt_ms(lat_v),
                len(err_v),
            ],
            [
                "new version, 1 statement (close + insert in a CTE)",
                f"{n_1:,}",
                f"{tput_1:,.0f} writes/s",
                *fmt_ms(lat_1),
                len(err_1),
            ],
            ["bare PK UPDATE (note)", f"{n_b:,}", f"{tput_b:,.0f} writes/s", *fmt_ms(lat_b), len(err_b)],
        ],
    )
    for e in sorted(set(err_v + err_1 + err_b))[:5]:
        rep(f"  error: {e}")
    with engine.connect() as conn:
        agg = metrics.metrics_for_level(conn, system_scope(), "cell", filters={"cell": cell.code})
        base = metrics.metrics_for_level(
            conn, system_scope(), "cell", filters={"cell": cell.code}, from_base=True
        )
        pending = metrics.pending_deltas(conn)
    diffs = same_figures(agg, base)
    rep(f"  versioned (2 statements, 2 round trips) / bare throughput: {ratio_two:.2f}x")
    rep(
        f"  versioned (1 statement) / bare throughput: {ratio:.2f}x "
        f"(goal >= {GOAL_WRITE_RATIO}x: {mark(ratio >= GOAL_WRITE_RATIO)})"
    )
    rep(f"  aggregate (with {pending:,} pending deltas) vs base tables for the cell: {mark(not diffs)}")
    for d in diffs[:5]:
        rep(f"  DIFF {d}")
    with engine.begin() as conn:
        folded = metrics.compact_metrics(conn)
    rep(f"  compacted {folded or 0:,} delta rows afterwards (the bench database keeps the new versions)")
    rep()
    return {
        f"versioned writes >= {GOAL_WRITE_RATIO}x bare updates": ratio >= GOAL_WRITE_RATIO,
        "aggregate = base after concurrent writes": not diffs,
    }


# -- (d) import ---------------------------------------------------------------------------------
CSV_SQL = """
COPY (
  SELECT a.external_id AS address_id, a.address, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
         b.code AS building_id, b.name AS building_name, b.type AS building_type, a.floor, a.room,
         c.source_code AS customer_code, c.name AS customer_name, c.credit_code, c.industry,
         r.status, r.main_services, r.fixed_lines_own, r.fixed_lines_rival, r.broadband_own,
         r.broadband_rival, r.ld_minutes_own, r.ld_minutes_rival,
         r.revenue_month + CASE WHEN a.id % 10 = 0 THEN 1 ELSE 0 END AS revenue_month,
         r.rival_operator, r.contract_end, r.contact_name, r.contact_phone
  FROM address_unit a
  JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
  LEFT JOIN building b ON b.id = a.building_id
  LEFT JOIN customer c ON c.id = r.customer_id
  WHERE a.retired_at IS NULL
  ORDER BY a.id LIMIT {limit}
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def write_csv(dsn: str, path: Path, limit: int) -> tuple[int, float]:
    """Stream the units (revenue changed on every 10th) into a CSV file; return rows and seconds."""
    t0 = time.perf_counter()
    with (
        psycopg.connect(dsn) as conn,
        conn.cursor() as cur,
        path.open("wb") as out,
        cur.copy(CSV_SQL.format(limit=int(limit))) as copy,
    ):
        for block in copy:
            out.write(block)
    with path.open("rb") as f:
        rows = sum(1 for _ in f) - 1
    return rows, time.perf_counter() - t0


def run_timed(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, str]:
    """Run ``cmd`` under /usr/bin/time -v; return seconds, peak RSS in MB and its output's tail."""
    t0 = time.perf_counter()
    # its own process group, so a timeout stops /usr/bin/time and the command it runs
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *cmd],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate()
        raise
    seconds = time.perf_counter() - t0
    peak = next(
        (int(x.split(":")[1]) / 1024 for x in stderr.splitlines() if "Maximum resident set size" in x),
        float("nan"),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {stderr.strip()[-800:]}")
    return seconds, peak, stdout.strip().splitlines()[-1] if stdout.strip() else ""


def section_d_import(rep: Report, url: str, rows: int, timeout: float) -> None:
    dsn = libpq_url(url)
    path = Path(tempfile.gettempdir()) / f"gm_bench_addresses_{rows}.csv"
    n, s_csv = write_csv(dsn, path, rows)
    rep(f"  CSV {path}: {n:,} rows, {path.stat().st_size / 2**20:,.0f} MB, written in {s_csv:,.1f} s")
    env = {**os.environ, "GRIDMARKET_DATABASE_URL": url, "PGOPTIONS": "-c client_min_messages=warning"}
    header = path.open(encoding="utf-8").readline().strip().split(",")
    cols = ", ".join(f'"{c}" text' for c in header)
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    subprocess.run(
        [
            *psql,
            "-c",
            f"DROP TABLE IF EXISTS bench_copy_scratch; CREATE UNLOGGED TABLE bench_copy_scratch ({cols})",
        ],
        check=True,
        env=env,
    )
    s_copy, mb_copy, _ = run_timed(
        [*psql, "-c", f"\\copy bench_copy_scratch FROM '{path}' WITH (FORMAT csv, HEADER)"], env, timeout
    )
    subprocess.run([*psql, "-c", "DROP TABLE bench_copy_scratch"], check=True, env=env)
    s_imp, mb_imp, last = run_timed(
        [str(VENV_BIN / "gridmarket"), "import", "addresses", str(path)], env, timeout
    )
    rep.table(
        ["load", "rows", "time", "rows/s", "peak RSS"],
        [
            [
                "gridmarket import addresses",
                f"{n:,}",
                f"{s_imp:,.1f} s",
                f"{n / s_imp:,.0f} rows/s",
                f"{mb_imp:,.0f} MB",
            ],
            [
                "psql \\copy into unlogged table",
                f"{n:,}",
                f"{s_copy:,.1f} s",
                f"{n / s_copy:,.0f} rows/s",
                f"{mb_copy:,.0f} MB",
            ],
        ],
    )
    rep(f"  import / \\copy time ratio: {s_imp / s_copy:,.1f}x; import said: {last}")
    path.unlink(missing_ok=True)


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=1_000_000, help="demo units of the bench database")
    ap.add_argument("--rebuild", action="store_true", help="drop and rebuild the cached bench database")
    ap.add_argument("--reps", type=int, default=30, help="timed API requests per query (after 3 warm-ups)")
    ap.add_argument("--raw-budget", type=float, default=60, help="seconds for the timed raw queries")
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--write-seconds", type=float, default=10)
    ap.add_argument("--import-rows", type=int, help="rows of the import CSV (default 1,000,000)")
    ap.add_argument("--import-timeout", type=float, default=420, help="seconds before the import is stopped")
    ap.add_argument("--skip", default="", help="sections to leave out, e.g. ab (for partial reruns)")
    args = ap.parse_args(argv)
    random.seed(1)

    rep = Report("metrics")
    rep(f"gridmarket metrics benchmark — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs")
    url, load_s, reused = bench_database(args.units, rebuild=args.rebuild, say=rep)
    how = "reused; its build (migrate + demo + compact + VACUUM ANALYZE) took" if reused else "built in"
    rep(f"bench database {make_url(url).database}: {how} {load_s:,.0f} s")
    engine = create_engine(url, pool_size=2)
    with engine.begin() as conn:
        folded = metrics.compact_metrics(conn)
    with engine.connect() as conn:
        city, city_name, city_units = main_city(conn)
        pg = conn.scalar(text("SELECT current_setting('server_version')"))
    rep(f"PostgreSQL {pg}; compacted {folded or 0:,} pending delta rows before timing")
    rep(f"main city {city} {city_name}: {city_units:,} units")
    rep()

    goals: dict[str, bool] = {}
    token = admin_token(engine)
    server, base = start_server(url)
    hwm = float("nan")
    try:
        rss_idle = proc_mb(server.pid, "VmRSS")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            if "a" not in args.skip:
                goals |= section_a(rep, engine, client, city, args.reps, args.raw_budget)
            if "b" not in args.skip:
                section_b(rep, engine, client, city, args.reps)
        hwm = proc_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(10)

    if "c" not in args.skip:
        goals |= section_c(rep, engine, url, args.writers, args.write_seconds)

    rep("(d) peak memory")
    rep(
        f"  API process (gridmarket serve) during (a)/(b): peak {hwm:,.0f} MB (VmHWM), "
        f"{rss_idle:,.0f} MB at start"
    )
    rows = args.import_rows or 1_000_000
    try:
        if "d" not in args.skip:  # the import writes new versions into the bench database
            section_d_import(rep, url, rows, args.import_timeout)
    except (subprocess.TimeoutExpired, RuntimeError) as exc:
        what = "within the timeout (rolled back)" if isinstance(exc, subprocess.TimeoutExpired) else str(exc)
        rep(f"  import of {rows:,} rows did not finish: {what[:300]}")
    rep()

    rep("goals")
    rep.table(["goal", "result"], [[g, mark(ok)] for g, ok in goals.items()])
    engine.dispose()
    rep()
    rep(f"report written to {rep.save().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
