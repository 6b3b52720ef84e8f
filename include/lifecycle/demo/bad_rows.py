"""Bad source rows, injected next to the good ones so the ingest's quarantine has real work to do.

Each bad row copies a good row of the same chunk and breaks exactly one thing, so its reason is unambiguous;
it keeps the good row's `loaded_at`, which lies inside the history. Ids that must not exist (unknown
customers, products, orders) and the ids of new bad rows come from ranges far above anything generated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lifecycle.demo.seasons import DAY

BAD_REASONS = {
    "shop.events": (
        "missing_customer_id", "unknown_customer", "unknown_event_type", "unknown_product",
        "future_timestamp", "absurd_timestamp", "negative_price", "duplicate",
    ),
    "shop.orders": (
        "missing_customer_id", "unknown_customer", "unknown_status", "negative_amount", "duplicate",
    ),
    "shop.order_items": ("unknown_order", "unknown_product", "bad_quantity", "negative_price"),
    "shop.customers": ("missing_customer_id", "unknown_timezone"),
}  # fmt: skip
# Id ranges no good row ever uses; each chunk takes its own slice of `_PER_CHUNK` ids.
UNKNOWN_CUSTOMER_IDS = 9_000_000_000
UNKNOWN_ORDER_IDS = 9_000_000_000
UNKNOWN_PRODUCT_IDS = 900_000_000
BAD_ROW_IDS = 5_000_000_000  # new event, order and customer ids of bad rows that are not duplicates
BAD_LINE_NO = 1_000  # bad lines of a good order never collide with its real (order_id, line_no)
_PER_CHUNK = 10_000_000
UNKNOWN_EVENT_TYPES = ("page_view", "checkout_start", "scroll", "video_play", "addtocart")
UNKNOWN_STATUSES = ("shipping", "refunded", "on_hold", "lost")
UNKNOWN_TIMEZONES = ("Europe/Moskva", "MSK", "GMT+03:00", "Asia/Novosibirk", "Russia/Omsk")
_ABSURD_MOMENTS = np.array(["1970-01-01", "1900-01-01", "1989-12-31"], dtype="datetime64[s]")


def reason_counts(total: int, reasons: tuple[str, ...], rng: np.random.Generator) -> dict[str, int]:
    """Split `total` bad rows evenly over the reasons; leftovers go to randomly chosen reasons."""
    base, extra = divmod(total, len(reasons))
    bonus = set(rng.permutation(len(reasons))[:extra].tolist())
    return {reason: base + (i in bonus) for i, reason in enumerate(reasons)}


class BadRowMaker:
    """Makes the bad rows of one chunk; ids it invents are unique across chunks."""

    def __init__(self, chunk: int, rng: np.random.Generator):
        self.rng = rng
        self.offset = chunk * _PER_CHUNK
        self.made = 0

    def fresh_ids(self, base: int, count: int) -> np.ndarray:
        ids = base + self.offset + self.made + np.arange(count, dtype="int64")
        self.made += count
        return ids

    def make(self, table: str, good: pd.DataFrame, share: float) -> tuple[pd.DataFrame, dict[str, int]]:
        """Bad rows for a table (possibly empty) and how many were made per reason."""
        total = round(share * len(good)) if len(good) else 0
        counts = reason_counts(total, BAD_REASONS[table], self.rng)
        breakers = _BREAKERS[table]
        parts = []
        for reason, count in counts.items():
            if count:
                eligible, breaker = breakers[reason]
                parts.append(breaker(self, self._sample(good, eligible, count)))
        if not parts:
            return good.iloc[:0], counts
        return pd.concat(parts, ignore_index=True), counts

    def _sample(self, good: pd.DataFrame, eligible: Callable[[pd.DataFrame], np.ndarray] | None, count: int):
        pool = np.flatnonzero(eligible(good)) if eligible else np.arange(len(good))
        pool = pool if len(pool) else np.arange(len(good))
        pick = self.rng.choice(pool, size=count, replace=count > len(pool))
        return good.iloc[np.sort(pick)].reset_index(drop=True)

    def choice(self, values: tuple[str, ...], count: int) -> np.ndarray:
        return np.array(values, dtype=object)[self.rng.integers(0, len(values), count)]


def _set(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    """Assign columns, keeping dtypes that load fast: NULL ids stay nullable integers, labels categorical."""
    for name, values in columns.items():
        if values is pd.NA:
            values = pd.array([pd.NA] * len(frame), dtype="Int64")
        elif isinstance(frame[name].dtype, pd.CategoricalDtype):
            known = list(frame[name].cat.categories)
            values = pd.Categorical(values, categories=known + sorted(set(values) - set(known)))
        frame[name] = values
    return frame


def align_categories(good: pd.DataFrame, bad: pd.DataFrame) -> None:
    """Give both frames' label columns the same categories, so concatenating them keeps them categorical."""
    for name in good.columns:
        if isinstance(good[name].dtype, pd.CategoricalDtype) and isinstance(
            bad[name].dtype, pd.CategoricalDtype
        ):
            known = list(good[name].cat.categories)
            union = known + [c for c in bad[name].cat.categories if c not in set(known)]
            good[name] = good[name].cat.set_categories(union)
            bad[name] = bad[name].cat.set_categories(union)


def _no_customer(maker: BadRowMaker, rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return _set(rows, **{id_column: maker.fresh_ids(BAD_ROW_IDS, len(rows))}, customer_id=pd.NA)


def _unknown_customer(maker: BadRowMaker, rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    return _set(
        rows,
        **{id_column: maker.fresh_ids(BAD_ROW_IDS, len(rows))},
        customer_id=maker.fresh_ids(UNKNOWN_CUSTOMER_IDS, len(rows)),
    )


def _bad_line(maker: BadRowMaker, rows: pd.DataFrame, **columns) -> pd.DataFrame:
    line_no = BAD_LINE_NO + (maker.fresh_ids(0, len(rows)) - maker.offset) % 1_000_000
    return _set(rows, line_no=line_no.astype("int32"), **columns)


def _has_price(frame: pd.DataFrame) -> np.ndarray:
    return frame["price"].notna().to_numpy()


_BREAKERS: dict[
    str, dict[str, tuple[Callable | None, Callable[[BadRowMaker, pd.DataFrame], pd.DataFrame]]]
] = {
    "shop.events": {
        "missing_customer_id": (None, lambda m, r: _no_customer(m, r, "event_id")),
        "unknown_customer": (None, lambda m, r: _unknown_customer(m, r, "event_id")),
        "unknown_event_type": (
            None,
            lambda m, r: _set(
                r, event_id=m.fresh_ids(BAD_ROW_IDS, len(r)), event_type=m.choice(UNKNOWN_EVENT_TYPES, len(r))
            ),
        ),
        "unknown_product": (
            _has_price,
            lambda m, r: _set(
                r,
                event_id=m.fresh_ids(BAD_ROW_IDS, len(r)),
                product_id=m.fresh_ids(UNKNOWN_PRODUCT_IDS, len(r)),
            ),
        ),
        "future_timestamp": (
            None,
            lambda m, r: _set(
                r,
                event_id=m.fresh_ids(BAD_ROW_IDS, len(r)),
                ts=r["loaded_at"].to_numpy()
                + m.rng.integers(2 * DAY, 400 * DAY, len(r)).astype("timedelta64[s]"),
            ),
        ),
        "absurd_timestamp": (
            None,
            lambda m, r: _set(
                r,
                event_id=m.fresh_ids(BAD_ROW_IDS, len(r)),
                ts=_ABSURD_MOMENTS[m.rng.integers(0, len(_ABSURD_MOMENTS), len(r))]
                + m.rng.integers(0, DAY, len(r)).astype("timedelta64[s]"),
            ),
        ),
        "negative_price": (
            _has_price,
            lambda m, r: _set(r, event_id=m.fresh_ids(BAD_ROW_IDS, len(r)), price=-r["price"]),
        ),
        "duplicate": (None, lambda m, r: r),
    },
    "shop.orders": {
        "missing_customer_id": (None, lambda m, r: _no_customer(m, r, "order_id")),
        "unknown_customer": (None, lambda m, r: _unknown_customer(m, r, "order_id")),
        "unknown_status": (
            None,
            lambda m, r: _set(
                r, order_id=m.fresh_ids(BAD_ROW_IDS, len(r)), status=m.choice(UNKNOWN_STATUSES, len(r))
            ),
        ),
        "negative_amount": (
            None,
            lambda m, r: _set(
                r, order_id=m.fresh_ids(BAD_ROW_IDS, len(r)), total_amount=-r["total_amount"].abs() - 1
            ),
        ),
        "duplicate": (None, lambda m, r: r),
    },
    "shop.order_items": {
        "unknown_order": (None, lambda m, r: _set(r, order_id=m.fresh_ids(UNKNOWN_ORDER_IDS, len(r)))),
        "unknown_product": (
            None,
            lambda m, r: _bad_line(m, r, product_id=m.fresh_ids(UNKNOWN_PRODUCT_IDS, len(r))),
        ),
        "bad_quantity": (
            None,
            lambda m, r: _bad_line(m, r, quantity=-m.rng.integers(0, 3, len(r)).astype("int32")),
        ),
        "negative_price": (None, lambda m, r: _bad_line(m, r, price=-r["price"].abs() - 1)),
    },
    "shop.customers": {
        "missing_customer_id": (None, lambda m, r: _set(r, customer_id=pd.NA)),
        "unknown_timezone": (
            None,
            lambda m, r: _set(
                r, customer_id=m.fresh_ids(BAD_ROW_IDS, len(r)), timezone=m.choice(UNKNOWN_TIMEZONES, len(r))
            ),
        ),
    },
}
