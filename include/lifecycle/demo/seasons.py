"""The shop's calendar: the history period, seasonal demand and time-of-day habits.

All times inside the generator are int64 seconds since the Unix epoch, UTC, so that every step stays a numpy
array operation; they become timestamps only when a table is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

MINUTE = 60
HOUR = 3_600
DAY = 86_400
MSK_OFFSET = 3 * HOUR

# Relative shopping activity per local hour (0–23): quiet nights, a lunch bump, an evening peak.
_ONLINE_HOURS = np.array(
    [0.30, 0.15, 0.10, 0.08, 0.08, 0.15, 0.35, 0.60, 0.90, 1.10, 1.20, 1.30,
     1.40, 1.40, 1.30, 1.30, 1.30, 1.35, 1.50, 1.80, 2.00, 2.00, 1.60, 0.90]
)  # fmt: skip
# Stores open 10:00–21:00 local time, busiest after work.
_STORE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0, 1.2, 1.4, 1.4, 1.3, 1.3, 1.4, 1.6, 1.8, 1.6, 1.0, 0, 0, 0]
)  # fmt: skip
HOUR_PROFILES = {"online": _ONLINE_HOURS / _ONLINE_HOURS.sum(), "store": _STORE_HOURS / _STORE_HOURS.sum()}


def to_epoch(moment: datetime) -> int:
    """Seconds since the epoch for a naive-UTC or aware datetime."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


def to_timestamps(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as naive-UTC timestamps, the type of every TIMESTAMP column in `shop`."""
    return np.asarray(seconds, dtype="int64").astype("datetime64[s]")


@dataclass(frozen=True)
class Period:
    """The generated history: `days` days up to `end`, the shop's "now"."""

    start: int
    end: int

    @classmethod
    def ending_at(cls, end: datetime, days: int) -> Period:
        end_s = to_epoch(end)
        return cls(start=end_s - days * DAY, end=end_s)

    @property
    def span(self) -> int:
        return self.end - self.start

    def at_fraction(self, fraction: float) -> int:
        """A moment `fraction` of the way through the period (negative: before it starts)."""
        return self.start + int(fraction * self.span)

    @cached_property
    def day_starts(self) -> np.ndarray:
        """UTC midnights covering the period, plus the closing boundary."""
        first = self.start // DAY * DAY
        count = -(-(self.end - first) // DAY)
        return first + DAY * np.arange(count + 1, dtype="int64")


@dataclass(frozen=True)
class DayCalendar:
    """Calendar fields of each day of a period, for building seasonal curves."""

    month: np.ndarray
    day: np.ndarray
    weekday: np.ndarray  # Monday = 0

    @classmethod
    def of(cls, period: Period) -> DayCalendar:
        days = period.day_starts[:-1] // DAY
        dates = days.astype("datetime64[D]")
        months = dates.astype("datetime64[M]")
        return cls(
            month=months.astype("int64") % 12 + 1,
            day=(dates - months.astype("datetime64[D]")).astype("int64") + 1,
            weekday=(days + 3) % 7,
        )

    def black_friday(self) -> np.ndarray:
        """The Friday after the fourth Thursday of November, the peak of Russia's biggest sale week."""
        return (self.month == 11) & (self.day >= 23) & (self.day <= 29) & (self.weekday == 4)

    def around(self, mask: np.ndarray, before: int, after: int) -> np.ndarray:
        """Days within `before`..`after` days of a marked day."""
        spread = mask.copy()
        for shift in range(-before, after + 1):
            spread |= np.roll(mask, shift) & _no_wrap(len(mask), shift)
        return spread

    def between(self, month_from: int, day_from: int, month_to: int, day_to: int) -> np.ndarray:
        """Days in a yearly window, which may wrap over New Year."""
        key = self.month * 100 + self.day
        low, high = month_from * 100 + day_from, month_to * 100 + day_to
        return (key >= low) & (key <= high) if low <= high else (key >= low) | (key <= high)


def _no_wrap(length: int, shift: int) -> np.ndarray:
    valid = np.ones(length, dtype=bool)
    if shift > 0:
        valid[:shift] = False
    elif shift < 0:
        valid[shift:] = False
    return valid


def shopping_intensity(period: Period) -> np.ndarray:
    """Relative demand per day: weekends, gift holidays, Black Friday week, the New Year peak, slow growth."""
    cal = DayCalendar.of(period)
    black_friday = cal.black_friday()
    weight = np.where(cal.weekday >= 5, 1.12, 1.0)
    weight = weight * np.where(cal.between(6, 1, 8, 31), 0.88, 1.0)
    weight = weight * np.where(cal.between(2, 14, 2, 22) | cal.between(3, 1, 3, 7), 1.4, 1.0)
    weight = weight * np.where(cal.around(black_friday, 4, 3), 1.9, 1.0)
    weight = weight * np.where(black_friday, 1.7, 1.0)
    december = (cal.month == 12) & (cal.day <= 28)
    weight = weight * np.where(december, 1.15 + 0.9 * cal.day / 28, 1.0)
    weight = weight * np.where(cal.between(12, 29, 12, 30), 1.6, 1.0)
    weight = weight * np.where(cal.between(12, 31, 12, 31), 0.9, 1.0)
    weight = weight * np.where(cal.between(1, 1, 1, 2), 0.55, 1.0)
    return weight * np.linspace(1.0, 1.2, len(weight))


def sale_intensity(period: Period) -> np.ndarray:
    """Demand of discount hunters: little outside sales, a lot in Black Friday week and the New Year sale."""
    cal = DayCalendar.of(period)
    black_friday = cal.black_friday()
    weight = np.full(len(cal.month), 0.25)
    weight = weight + np.where(cal.around(black_friday, 4, 3), 6.0, 0.0) + np.where(black_friday, 4.0, 0.0)
    weight = weight + np.where(cal.between(12, 15, 1, 7), 2.5, 0.0)
    weight = weight + np.where(cal.between(2, 14, 2, 22) | cal.between(3, 1, 3, 7), 1.5, 0.0)
    return weight


def sale_windows(period: Period) -> dict[str, np.ndarray]:
    """Sale days per promo campaign, as UTC day-start arrays (used to pick the promo code of an order)."""
    cal = DayCalendar.of(period)
    starts = period.day_starts[:-1]
    return {
        "black_friday": starts[cal.around(cal.black_friday(), 4, 3)],
        "new_year": starts[cal.between(12, 15, 1, 7)],
    }


class TimeSampler:
    """Draws moments inside per-row windows along a seasonal day curve (inverse transform, vectorised)."""

    def __init__(self, period: Period, day_weights: np.ndarray):
        self.grid = period.day_starts.astype("float64")
        self.cumulative = np.concatenate([[0.0], np.cumsum(day_weights)])

    def sample(self, rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        low_mass = np.interp(low, self.grid, self.cumulative)
        high_mass = np.interp(high, self.grid, self.cumulative)
        mass = low_mass + rng.random(len(low_mass)) * (high_mass - low_mass)
        return np.interp(mass, self.cumulative, self.grid).astype("int64")


def at_local_hours(
    rng: np.random.Generator,
    moments: np.ndarray,
    utc_offset: np.ndarray,
    profile: str,
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray:
    """Keep each moment's local day but redraw its time of day from a habit profile, inside [low, high]."""
    local_day = (moments + utc_offset) // DAY * DAY
    hour = rng.choice(24, size=len(moments), p=HOUR_PROFILES[profile])
    second = rng.integers(0, HOUR, size=len(moments))
    redrawn = local_day + hour * HOUR + second - utc_offset
    # Outside the window on the first or last day: the same hour a day later or earlier.
    redrawn = np.where(redrawn < low, redrawn + DAY, redrawn)
    redrawn = np.where(redrawn > high, redrawn - DAY, redrawn)
    return np.clip(redrawn, low, high)


def next_nightly_batch(moments: np.ndarray) -> np.ndarray:
    """03:00 UTC of the day after each moment: when the stores' nightly export lands."""
    return (moments // DAY + 1) * DAY + 3 * HOUR


def lognormal_seconds(rng: np.random.Generator, median: float, sigma: float, size: int) -> np.ndarray:
    """Positive durations around a median, with the long right tail real delays have."""
    return np.maximum(1, rng.lognormal(np.log(median), sigma, size)).astype("int64")


def utc_now_hour() -> datetime:
    """The default "now" of the shop: the current UTC hour, naive."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)


@dataclass(frozen=True)
class ShopCalendar:
    """The period with its demand curves: what every behaviour generator samples moments from."""

    period: Period
    shopping: TimeSampler
    sales: TimeSampler
    sale_days: dict[str, np.ndarray]

    @classmethod
    def of(cls, period: Period) -> ShopCalendar:
        return cls(
            period=period,
            shopping=TimeSampler(period, shopping_intensity(period)),
            sales=TimeSampler(period, sale_intensity(period)),
            sale_days=sale_windows(period),
        )

    def in_sale(self, name: str, moments: np.ndarray) -> np.ndarray:
        return np.isin(moments // DAY * DAY, self.sale_days[name])
