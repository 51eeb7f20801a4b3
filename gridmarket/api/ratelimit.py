"""Failed-login limiter: a sliding one-minute window per user name and per client address."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginLimiter:
    """Count failed logins; refuse further attempts once ``per_minute`` failures are in the window."""

    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        """Tell whether any key has used up its failures in the window."""
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.per_minute for k in keys)

    def failed(self, *keys: str) -> None:
        """Record a failed attempt for each key."""
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, username_key: str) -> None:
        """Forget a user name's failures after a good login."""
        with self._lock:
            self._fails.pop(username_key, None)
