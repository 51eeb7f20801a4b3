"""The API's background compaction of the metric deltas (grids.metrics.compact_metrics).

Writers append signed delta rows that every read adds to the compacted sums; left alone they pile
up and reads slow down. The API process therefore folds them in every
``settings.compact_every_seconds`` when there are any, and once after midnight in the operator's
time zone (expiring_90d is kept per cell as of the day of the last compaction). Several API
processes may run this: compaction takes an advisory lock and a second one at the same moment
does nothing. Loaders compact when they finish (``gridmarket import addresses``, ``demo``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import Engine, text

from gridmarket.grids import metrics
from gridmarket.grids.scope import today

log = logging.getLogger("gridmarket.compactor")


class Compactor:
    """A daemon thread that compacts the metric deltas periodically until :meth:`stop`."""

    def __init__(self, engine: Engine, every_seconds: float, tz: str) -> None:
        self.engine = engine
        self.every = every_seconds
        self.tz = tz
        self.runs = 0  # compactions that folded something (for tests and monitoring)
        self._stop = threading.Event()
        self._last_day: dt.date | None = None
        self._thread = threading.Thread(target=self._loop, name="gridmarket-compactor", daemon=True)

    def start(self) -> None:
        """Start the thread (not when ``every_seconds`` is 0)."""
        if self.every > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, waiting for a compaction under way."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self) -> int | None:
        """Compact now if deltas are pending or the day changed; the rows folded (None: skipped)."""
        day = today(self.tz)
        with self.engine.begin() as conn:
            pending = conn.scalar(text("SELECT EXISTS (SELECT 1 FROM cell_metric_delta)"))
            if not pending and day == self._last_day:
                return None
            folded = metrics.compact_metrics(conn, tz=self.tz)
        if folded is not None:
            self._last_day = day
            if folded:
                self.runs += 1
                metrics.vacuum_deltas(self.engine)
        return folded

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.run_once()
            except Exception:  # a failed compaction loses nothing: the deltas stay and count
                log.exception("metric compaction failed; retrying in %s s", self.every)
