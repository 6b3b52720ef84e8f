"""A client-side request rate limit, shared by the threads sending one provider's batches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most ``per_second`` acquisitions per second on average, with bursts up to one second's worth."""

    def __init__(
        self, per_second: float | None, clock: Callable[[], float] = time.monotonic, sleep=time.sleep
    ):
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = per_second or 0.0
        self._updated = clock()

    def acquire(self) -> None:
        while (wait := self._take()) > 0:
            self._sleep(wait)

    def try_acquire(self) -> bool:
        """Acquire only if that needs no waiting."""
        return self._take() == 0

    def _take(self) -> float:
        """Take one token (0 returned), or the seconds until one is due (nothing taken)."""
        if not self.per_second:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.per_second, self._tokens + (now - self._updated) * self.per_second)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.per_second
