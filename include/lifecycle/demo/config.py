"""The generator's knobs and the manifest it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from lifecycle.errors import LifecycleError

MIN_DAYS = 28
MAX_BAD_SHARE = 0.5
#: Each chunk of 50,000 customers takes its own slice of 10 M ids for its bad rows, from 5 billion up;
#: beyond 400 chunks they would reach the ids reserved for unknown orders and customers (9 billion).
MAX_CUSTOMERS = 20_000_000


class DemoError(LifecycleError):
    """The demo shop cannot be generated as asked (bad knob, or a target that already holds a shop)."""


@dataclass(frozen=True)
class DemoConfig:
    """Same values (including `end`) give the same rows; `end=None` means the current UTC hour."""

    customers: int = 10_000
    seed: int = 42
    end: datetime | None = None
    days: int = 365
    bad_share: float = 0.0
    orders_only: bool = False
    replace: bool = False
    #: Every price and amount is multiplied by this (rounded to cents): 0.011 gives dollar-like prices.
    price_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.customers <= MAX_CUSTOMERS:
            raise DemoError(f"customers must be between 1 and {MAX_CUSTOMERS:,}, got {self.customers:,}")
        if self.days < MIN_DAYS:
            raise DemoError(
                f"days must be at least {MIN_DAYS} (seasons and refill cycles need room), got {self.days}"
            )
        if not 0.0 <= self.bad_share <= MAX_BAD_SHARE:
            raise DemoError(f"bad_share must be between 0 and {MAX_BAD_SHARE}, got {self.bad_share}")
        if not self.price_scale > 0:
            raise DemoError(f"price_scale must be positive, got {self.price_scale}")
        if self.end is not None and self.end.tzinfo is not None:
            object.__setattr__(self, "end", self.end.astimezone(UTC).replace(tzinfo=None))


@dataclass
class Manifest:
    """What a run wrote: rows per table (bad rows included) and bad rows per table and reason."""

    seed: int
    customers: int
    start: datetime
    end: datetime
    orders_only: bool
    bad_share: float
    rows: dict[str, int] = field(default_factory=dict)
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def add_rows(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count

    def add_bad_rows(self, table: str, counts: dict[str, int]) -> None:
        per_reason = self.bad_rows.setdefault(table, dict.fromkeys(counts, 0))
        for reason, count in counts.items():
            per_reason[reason] += count

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data
