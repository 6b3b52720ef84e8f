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
        if not self.per_second:
            return
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.per_second, self._tokens + (now - self._updated) * self.per_second)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.per_second
            self._sleep(wait)
