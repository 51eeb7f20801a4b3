"""Shared helpers of the benchmarks: the cached bench database, timing and the report file.

The bench database ``gm_bench_<units>`` is built once (template0, migrations, the demo with
seed 1, one compaction) and then reused while its marker row (``bench_marker``: units, demo
revision) matches; ``--rebuild`` drops and rebuilds it. The revision is a hash of the demo
generator only: a reused database is migrated to the newest schema first, as a deployed
database would be (so migrations are exercised on a million rows too), and polishing the read
path or adding a migration does not force a five-minute rebuild.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gridmarket.grids import metrics, migrate
from gridmarket.grids.db import drop_database, ensure_database
from gridmarket.grids.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"
SEED = 1
MARKER_DDL = "CREATE TABLE bench_marker (units int NOT NULL, revision text NOT NULL, load_seconds real)"


def code_revision() -> str:
    """Hash of the demo generator (what the bench database's content depends on)."""
    files = sorted((ROOT / "gridmarket" / "etl").glob("demo*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def bench_url(units: int) -> str:
    """URL of the cached bench database for ``units`` demo units (server of the project settings)."""
    base = make_url(Settings().database_url)
    return base.set(database=f"gm_bench_{units}").render_as_string(hide_password=False)


def _complete(engine: Engine, units: int, revision: str) -> float | None:
    """The load time in seconds recorded by a complete build of this units/revision, else None."""
    with engine.connect() as conn:
        if conn.scalar(text("SELECT to_regclass('bench_marker')")) is None:
            return None
        row = conn.execute(text("SELECT units, revision, load_seconds FROM bench_marker")).first()
    if row is None or (row.units, row.revision) != (units, revision):
        return None
    return float(row.load_seconds)


def bench_database(units: int, *, rebuild: bool, say: Callable[[str], None]) -> tuple[str, float, bool]:
    """Return the bench database's URL, its load time in seconds and whether it was reused."""
    url = bench_url(units)
    revision = code_revision()
    if not rebuild:
        try:
            engine = create_engine(url)
            loaded = _complete(engine, units, revision)
            if loaded is not None:
                say(f"reusing {make_url(url).database} (units {units:,}, revision {revision})")
                before = migrate.current_revision(engine)
                migrate.upgrade(engine)
                after = migrate.current_revision(engine)
                if before != after:
                    say(f"  migrated the bench database from {before} to {after}")
                engine.dispose()
                return url, loaded, True
            engine.dispose()
        except Exception:  # a missing database: build it
            pass
    say(f"building {make_url(url).database}: {units:,} units, seed {SEED} (takes minutes)")
    drop_database(url)
    t0 = time.perf_counter()
    ensure_database(url)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        from gridmarket.etl.demo import generate_demo

        generate_demo(engine, units=units, seed=SEED, progress=lambda m: say(f"  demo: {m}"))
        with engine.begin() as conn:
            metrics.compact_metrics(conn)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        with engine.begin() as conn:
            conn.execute(text(MARKER_DDL))
            seconds = time.perf_counter() - t0
            marker = {"u": units, "r": revision, "s": seconds}
            conn.execute(text("INSERT INTO bench_marker VALUES (:u, :r, :s)"), marker)
    finally:
        engine.dispose()
    return url, seconds, False


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by the nearest-rank method."""
    ordered = sorted(values)
    k = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[k]


def p50(values: Sequence[float]) -> float:
    """Median."""
    return statistics.median(values)


def timed(fn: Callable[[], object], reps: int, warmups: int) -> tuple[list[float], object]:
    """Run ``fn`` ``warmups`` times untimed, then ``reps`` times; return the times in ms and a result."""
    result = None
    for _ in range(warmups):
        result = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


class Report:
    """Lines printed as they come and written to ``bench/reports/<name>-<date>.txt`` at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Print an aligned table (first column left, the others right)."""
        cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        for n, r in enumerate(cells):
            self("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
            if n == 0:
                self("  ".join("-" * w for w in widths))

    def save(self) -> Path:
        """Write the report file and return its path."""
        REPORTS.mkdir(parents=True, exist_ok=True)
        path = REPORTS / f"{self.name}-{dt.date.today().isoformat()}.txt"
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(
    proc: subprocess.Popen[bytes], probe: str, what: str, seconds: float, *, ready: int | None = None
) -> None:
    """Wait until ``probe`` answers (status ``ready``, any below 500 when None); kill ``proc`` and
    raise if it exits or does not answer in ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-800:] if proc.stderr else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {err}".rstrip(": "))
        try:
            status = httpx.get(probe, timeout=2).status_code
            if status == ready or (ready is None and status < 500):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s")
