"""Each customer's expected next order, and per consumable line the expected next purchase of that line.

**What the date means.** ``next_order_date`` is the median of the predicted day of the customer's next
purchase, *if they buy again within the horizon* (``next_order.horizon_days``, 180 days): of the customers
given that date who come back, half have come back by it.
``next_order_early`` and ``next_order_late`` are the lower and upper quartiles (the 50 % interval). Whether
they come back at all is the churn probability's job; the date says when, should they.

**How it is computed** (daily, with the scores, from the purchases up to the as-of date):

* A repeat buyer's next gap is their own mean gap ``m`` times a ratio drawn from the shop's history: for every
  past purchase, the gap before it over the mean of that customer's earlier gaps (grouped by how many earlier
  gaps there were, since a mean of one gap is a poorer guide than a mean of six). The customer has already
  waited ``e`` days since their last purchase, so only ratios above ``e / m`` (and up to the end of the
  horizon) are possible; the prediction is the quartiles of ``m x ratio`` among those, counted from the last
  purchase (basis ``own_rhythm``).
* A one-time buyer has no rhythm of their own: the shop's gaps between first and second purchase of customers
  whose first check was in the same third (low, mid, high), again only those longer than the wait so far
  (basis ``segment``); with too few of those, all the shop's gaps (basis ``shop``). A repeat buyer waiting
  longer than their own rhythm explains gets the shop's gaps longer than their wait too (basis ``shop``).

The prediction is never earlier than the day after the as-of date. Consumable lines (``consumable_lines.sql``)
have their own, simpler cycle: the customer's gaps between purchases of the line, weighted with the line's
cycle learnt from all customers (or the catalogue's replenishment_days). Each consumable product's cycle and
the shop's typical interval between two purchases are learnt with them (:func:`learnt_cycles`), so the hourly
replenishment and second-purchase chains read them instead of relearning them from a year of orders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lifecycle.scores.config import NextOrderConfig, ScoresConfig
    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: The quantiles of the prediction: early, the date (median), late.
QUANTILES = (0.25, 0.5, 0.75)
#: Groups of ratios by the number of earlier gaps: 1, 2, 3-5, 6 and more.
PRIOR_GAP_GROUPS = (1, 2, 3, 6)
LINE_COLUMNS = (
    "as_of",
    "customer_id",
    "line",
    "purchases",
    "last_purchase_at",
    "last_order_id",
    "cycle_days",
    "next_purchase_date",
    "next_purchase_at",
    "basis",
    "scored_at",
)


def _group_of(prior_gaps: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.searchsorted(np.array(PRIOR_GAP_GROUPS), prior_gaps, side="right") - 1


@dataclass
class Rhythm:
    """What the shop's history says about gaps between purchases, as sorted samples."""

    #: per group of earlier-gap counts: sorted ratios gap / mean of the earlier gaps
    ratios: dict[int, np.ndarray]
    all_ratios: np.ndarray
    #: per third of the first check (0 low, 1 mid, 2 high): sorted first-to-second gaps in days
    first_gaps: dict[int, np.ndarray]
    #: every gap of the shop, sorted
    all_gaps: np.ndarray
    #: the first-check cut points between the thirds
    first_check_cuts: tuple[float, float]
    min_sample: int
    notes: list[str] = field(default_factory=list)

    def ratio_sample(self, group: int) -> np.ndarray:
        sample = self.ratios.get(group)
        return sample if sample is not None and len(sample) >= self.min_sample else self.all_ratios

    def first_gap_sample(self, third: int) -> np.ndarray | None:
        sample = self.first_gaps.get(third)
        return sample if sample is not None and len(sample) >= self.min_sample else None


def learn_rhythm(gaps: pd.DataFrame, min_sample: int) -> Rhythm:
    """The samples of :class:`Rhythm` from the rows of ``purchase_gaps.sql``."""
    import numpy as np

    gaps = gaps.astype({"gap_days": "float64", "prior_mean_days": "float64", "opening_amount": "float64"})
    later = gaps[gaps["gap_no"] >= 2]
    later = later[later["prior_mean_days"] > 0]
    ratio = (later["gap_days"] / later["prior_mean_days"]).to_numpy()
    group = _group_of(later["gap_no"].to_numpy() - 1)
    first = gaps[gaps["gap_no"] == 1]
    amounts = first["opening_amount"].to_numpy()
    cuts = (0.0, 0.0)
    if len(amounts):
        cuts = (float(np.quantile(amounts, 1 / 3)), float(np.quantile(amounts, 2 / 3)))
    third = np.searchsorted(np.array(cuts), amounts, side="right")
    first_days = first["gap_days"].to_numpy()
    return Rhythm(
        ratios={g: np.sort(ratio[group == g]) for g in range(len(PRIOR_GAP_GROUPS))},
        all_ratios=np.sort(ratio),
        first_gaps={t: np.sort(first_days[third == t]) for t in range(3)},
        all_gaps=np.sort(gaps["gap_days"].to_numpy()),
        first_check_cuts=cuts,
        min_sample=min_sample,
    )


def residual_quantiles(
    sample: np.ndarray, waited: np.ndarray, min_tail: int, upper: np.ndarray | None = None
) -> np.ndarray:
    """Quantiles (QUANTILES) of the values of a sorted ``sample`` above each ``waited`` value (and up to
    ``upper``, when given), as rows; NaN where fewer than ``min_tail`` values lie there."""
    import numpy as np

    result = np.full((len(waited), len(QUANTILES)), np.nan)
    if len(sample) == 0 or len(waited) == 0:
        return result
    start = np.searchsorted(sample, waited, side="right")
    end = np.full(len(waited), len(sample)) if upper is None else np.searchsorted(sample, upper, side="right")
    tail = end - start
    ok = tail >= max(min_tail, 1)
    for column, q in enumerate(QUANTILES):
        position = start[ok] + q * (tail[ok] - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, end[ok] - 1)
        fraction = position - low
        result[ok, column] = sample[low] + fraction * (sample[high] - sample[low])
    return result


def predict_days(rhythm: Rhythm, customers: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Days from the last purchase to the next (early, median, late) and the basis, per customer.

    ``customers`` (index customer_id) has ``recency_days`` (days since the last purchase), ``gaps`` (number
    of gaps so far), ``mean_gap_days`` (NaN for a one-time buyer) and ``first_amount`` (the amount of a
    one-time buyer's purchase). Only gaps ending within ``horizon_days`` after the wait so far count: the
    prediction is for the customers who buy again within the horizon."""
    import numpy as np
    import pandas as pd

    waited = customers["recency_days"].to_numpy(dtype="float64")
    reach = waited + horizon_days
    gap_count = customers["gaps"].to_numpy(dtype="int64")
    mean_gap = customers["mean_gap_days"].to_numpy(dtype="float64")
    out = np.full((len(customers), len(QUANTILES)), np.nan)
    basis = np.full(len(customers), "shop", dtype=object)
    min_tail = rhythm.min_sample
    repeat = (gap_count > 0) & (mean_gap > 0)
    groups = _group_of(np.maximum(gap_count, 1))
    for g in np.unique(groups[repeat]):
        rows = np.flatnonzero(repeat & (groups == g))
        ratios = residual_quantiles(
            rhythm.ratio_sample(int(g)), waited[rows] / mean_gap[rows], min_tail, reach[rows] / mean_gap[rows]
        )
        out[rows] = ratios * mean_gap[rows, None]
        basis[rows[~np.isnan(ratios[:, 0])]] = "own_rhythm"
    one_time = gap_count == 0
    third = np.searchsorted(np.array(rhythm.first_check_cuts), customers["first_amount"].to_numpy(), "right")
    for t in range(3):
        sample = rhythm.first_gap_sample(t)
        rows = np.flatnonzero(one_time & (third == t))
        if sample is None or not len(rows):
            continue
        out[rows] = residual_quantiles(sample, waited[rows], min_tail, reach[rows])
        basis[rows[~np.isnan(out[rows, 0])]] = "segment"
    rest = np.flatnonzero(np.isnan(out[:, 0]))
    if len(rest) and len(rhythm.all_gaps) >= min_tail:
        out[rest] = residual_quantiles(rhythm.all_gaps, waited[rest], min_tail, reach[rest])
        still = rest[np.isnan(out[rest, 0])]
        # waited longer than nearly every gap on record: the spread of the longest gaps, counted from now
        top = rhythm.all_gaps[-min_tail:]
        out[still] = waited[still, None] + 1 + (np.quantile(top, QUANTILES) - top[0])
    elif len(rest):
        log.warning(
            "%d customers get no expected next order: the shop has %d gaps between purchases, %d are needed",
            len(rest),
            len(rhythm.all_gaps),
            min_tail,
        )
        basis[rest] = None
    # never before the day after the as-of date, and the interval in order
    with np.errstate(invalid="ignore"):
        out = np.fmax(out, np.where(np.isnan(out), np.nan, waited[:, None] + 1))
        out = np.fmax.accumulate(out, axis=1)
    return pd.DataFrame(
        {"early_days": out[:, 0], "days": out[:, 1], "late_days": out[:, 2], "basis": basis},
        index=customers.index,
    )


def customer_rhythm(gaps: pd.DataFrame, rfm: pd.DataFrame) -> pd.DataFrame:
    """Per customer of ``rfm`` (index customer_id, recency_days, avg_check): gaps, mean_gap_days,
    last_gap_days and first_amount, the inputs of :func:`predict_days` and of the naive baseline."""
    import numpy as np

    per = (
        gaps.astype({"gap_days": "float64"})
        .groupby("customer_id")
        .agg(gaps=("gap_no", "max"), mean_gap_days=("gap_days", "mean"), last_gap_days=("gap_days", "last"))
    )
    frame = rfm[["recency_days", "avg_check"]].join(per, how="left")
    frame["gaps"] = frame["gaps"].fillna(0).astype("int64")
    frame["first_amount"] = np.where(frame["gaps"] == 0, frame["avg_check"].astype("float64"), np.nan)
    return frame


def purchase_gaps(warehouse: Warehouse, as_of: date, purchase_unit: str) -> pd.DataFrame:
    """Every customer's gaps between purchases as of ``as_of`` (``scores/purchase_gaps.sql``)."""
    return warehouse.fetch_df("scores/purchase_gaps.sql", as_of=as_of, purchase_unit=purchase_unit)


def expected_next_orders(
    gaps: pd.DataFrame, rfm: pd.DataFrame, config: NextOrderConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customer rhythm frame and the predicted days (see :func:`predict_days`) from the customers'
    :func:`purchase_gaps` and their RFM frame."""
    customers = customer_rhythm(gaps, rfm)
    return customers, predict_days(learn_rhythm(gaps, config.min_sample), customers, config.horizon_days)


def as_dates(as_of: date, customers: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """The score columns: next_order_date, next_order_early, next_order_late (dates), next_order_basis."""
    import numpy as np
    import pandas as pd

    last = pd.Timestamp(as_of) - pd.to_timedelta(customers["recency_days"].astype("int64"), unit="D")
    columns = {}
    for name, source in (
        ("next_order_early", "early_days"),
        ("next_order_date", "days"),
        ("next_order_late", "late_days"),
    ):
        offset = pd.to_timedelta(np.round(days[source].to_numpy()), unit="D")
        moment = last + offset
        columns[name] = moment.dt.date.where(moment.notna(), None)
    return pd.DataFrame({**columns, "next_order_basis": days["basis"]}, index=customers.index)


def consumable_lines(warehouse: Warehouse, as_of: date, config: NextOrderConfig) -> pd.DataFrame:
    """Per customer and consumable line: the last purchase, the cycle and the expected next purchase date."""
    import pandas as pd

    frame = warehouse.fetch_df(
        "scores/consumable_lines.sql",
        as_of=as_of,
        learn_days=config.line_learn_days,
        min_repeats=config.line_min_repeats,
        prior_weight=config.line_prior_weight,
    )
    if frame.empty:
        return frame.assign(
            next_purchase_date=pd.Series(dtype="object"), next_purchase_at=pd.Series(dtype="datetime64[ns]")
        )
    frame["cycle_days"] = frame["cycle_days"].astype("float64")
    last = pd.to_datetime(frame["last_purchase_at"])
    frame["next_purchase_at"] = last + pd.to_timedelta(frame["cycle_days"], unit="D")
    frame["next_purchase_date"] = frame["next_purchase_at"].dt.date
    # Stored in the order of the moment, so the hourly chain's look-up of the reminders due in its window
    # reads a few of DuckDB's row groups (PostgreSQL has an index).
    return frame.sort_values(["next_purchase_at", "customer_id", "line"], ignore_index=True)


def learnt_cycles(warehouse: Warehouse, as_of: date, config: NextOrderConfig) -> tuple[pd.DataFrame, dict]:
    """What the hourly chains time their entries by, learnt once a day: each consumable product's repeat
    purchases and median gap (``crm.product_cycles``), and the shop's gaps between two purchases and their
    median (``crm.purchase_intervals``)."""
    products = warehouse.fetch_df("scores/product_cycles.sql", as_of=as_of, learn_days=config.line_learn_days)
    products["median_gap_days"] = products["median_gap_days"].astype("float64")
    (interval,) = warehouse.fetch_all(
        "scores/purchase_interval.sql", as_of=as_of, learn_days=config.interval_learn_days
    )
    median = interval["median_gap_days"]
    return products, {
        "gaps": int(interval["gaps"]),
        "median_gap_days": None if median is None else float(median),
    }


# --- validation ---------------------------------------------------------------------------------------------


def _figures(predicted: np.ndarray, actual: np.ndarray, early=None, late=None) -> dict[str, Any]:
    import numpy as np

    error = predicted - actual
    figures: dict[str, Any] = {
        "customers": len(actual),
        "mae_days": float(np.mean(np.abs(error))) if len(error) else None,
        "median_ae_days": float(np.median(np.abs(error))) if len(error) else None,
        "bias_days": float(np.mean(error)) if len(error) else None,
        "interval_coverage": None,
    }
    if early is not None and len(actual):
        figures["interval_coverage"] = float(np.mean((actual >= early) & (actual <= late)))
    return figures


def evaluate(warehouse: Warehouse, data_end: date, config: ScoresConfig) -> dict[str, Any]:
    """The expected next order on a holdout snapshot (``horizon_days`` before ``data_end``) against what the
    customers did in the following ``horizon_days``: model against the naive "same interval again"."""
    import numpy as np

    from lifecycle.scores.rfm import compute_rfm

    window = config.next_order.horizon_days
    as_of = data_end - timedelta(days=window)
    rfm, _ = compute_rfm(warehouse, as_of, config.rfm, config.purchase_unit)
    if rfm.empty:
        raise ValueError(f"no purchases up to {as_of}: the history is too short to check the next order")
    gaps = purchase_gaps(warehouse, as_of, config.purchase_unit)
    rhythm = learn_rhythm(gaps, config.next_order.min_sample)
    customers = customer_rhythm(gaps, rfm)
    days = predict_days(rhythm, customers, window)
    actual = warehouse.fetch_df("scores/next_purchase_after.sql", as_of=as_of, window_days=window)
    actual = actual.set_index("customer_id")["days_to_next"].astype("float64")
    waited = customers["recency_days"].astype("float64")
    # days from the as-of date (the customers' clocks start at their last purchase)
    model = days[["early_days", "days", "late_days"]].sub(waited, axis=0)
    naive_same = (customers["last_gap_days"] - waited).clip(lower=1, upper=window)
    shop_median = float(np.median(rhythm.all_gaps)) if len(rhythm.all_gaps) else np.nan
    naive_shop = (shop_median - waited).clip(lower=1, upper=window)
    bought = customers.index.isin(actual.index)
    result: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "window_days": window,
        "customers": len(customers),
        "came_back": int(bought.sum()),
        "groups": {},
    }
    for group, rows in (
        ("repeat buyers", bought & (customers["gaps"] > 0).to_numpy()),
        ("one-time buyers", bought & (customers["gaps"] == 0).to_numpy()),
        ("all", bought),
    ):
        index = customers.index[rows]
        truth = actual.reindex(index).to_numpy()
        entry = {
            "model": _figures(
                model.loc[index, "days"].to_numpy(),
                truth,
                model.loc[index, "early_days"].to_numpy(),
                model.loc[index, "late_days"].to_numpy(),
            ),
            "shop median interval": _figures(naive_shop.loc[index].to_numpy(), truth),
        }
        if group == "repeat buyers":
            entry["same interval again"] = _figures(naive_same.loc[index].to_numpy(), truth)
        counts = days.loc[index, "basis"].value_counts()
        entry["model"]["basis"] = {str(name): int(count) for name, count in counts.items()}
        result["groups"][group] = entry
    result["lines"] = _evaluate_lines(warehouse, as_of, config.next_order)
    return result


def _evaluate_lines(warehouse: Warehouse, as_of: date, config: NextOrderConfig) -> dict[str, Any]:
    """Each customer's expected next purchase of a consumable line against their first purchase of it in
    the window, next to "same interval again" (the last gap of the line) and the line's cycle for everyone.
    Dates in the past (overdue for the line) count as tomorrow, dates beyond the window as its last day."""
    import numpy as np
    import pandas as pd

    window = config.horizon_days
    lines = consumable_lines(warehouse, as_of, config)
    actual = warehouse.fetch_df("scores/next_line_purchase_after.sql", as_of=as_of, window_days=window)
    if lines.empty:
        return {"customer_lines": 0, "came_back": 0, "groups": {}}
    frame = lines.merge(actual, on=["customer_id", "line"], how="inner")
    last = pd.to_datetime(frame["last_purchase_at"]).dt.normalize()
    since = (pd.Timestamp(as_of) - last).dt.days.to_numpy(dtype="float64")  # days from the last purchase

    def from_as_of(cycle: pd.Series) -> np.ndarray:
        return np.clip(np.round(cycle.to_numpy(dtype="float64")) - since, 1, window)

    truth = frame["days_to_next"].to_numpy(dtype="float64")
    model = from_as_of(frame["cycle_days"])
    line_cycle = from_as_of(frame["line_cycle_days"])
    repeat = frame["last_gap_days"].notna().to_numpy()
    same = from_as_of(frame["last_gap_days"].astype("float64"))
    return {
        "customer_lines": len(lines),
        "came_back": len(frame),
        "groups": {
            "repeat line buyers": {
                "model": _figures(model[repeat], truth[repeat]),
                "line cycle": _figures(line_cycle[repeat], truth[repeat]),
                "same interval again": _figures(same[repeat], truth[repeat]),
            },
            "all": {
                "model": _figures(model, truth),
                "line cycle": _figures(line_cycle, truth),
            },
        },
    }


def format_evaluation(result: dict[str, Any]) -> list[str]:
    """The expected-next-order section of ``scores evaluate`` as text lines."""
    lines = [
        f"Expected next order: holdout snapshot {result['as_of']}, checked against the first purchase in the "
        f"{result['window_days']} days after it: {result['came_back']} of {result['customers']} customers "
        "came back",
        "",
        f"{'customers':<17} {'method':<22} {'n':>6} {'MAE days':>9} {'median AE':>10} {'bias':>7} "
        f"{'50% interval':>13}",
    ]
    for group, methods in result["groups"].items():
        for name, f in methods.items():
            if f["mae_days"] is None:
                lines.append(f"{group:<17} {name:<22} {f['customers']:>6} {'—':>9}")
                continue
            coverage = "—" if f["interval_coverage"] is None else f"{f['interval_coverage']:.1%}"
            lines.append(
                f"{group:<17} {name:<22} {f['customers']:>6} {f['mae_days']:>9.1f} "
                f"{f['median_ae_days']:>10.1f} {f['bias_days']:>+7.1f} {coverage:>13}"
            )
    lines_result = result.get("lines") or {}
    if lines_result.get("groups"):
        lines += [
            "",
            f"Consumable lines: {lines_result['came_back']} of {lines_result['customer_lines']} customer "
            "lines bought again in the window",
            "",
            f"{'customer lines':<19} {'method':<20} {'n':>6} {'MAE days':>9} {'median AE':>10} {'bias':>7}",
        ]
        for group, methods in lines_result["groups"].items():
            for name, f in methods.items():
                if f["mae_days"] is None:
                    lines.append(f"{group:<19} {name:<20} {f['customers']:>6} {'—':>9}")
                    continue
                lines.append(
                    f"{group:<19} {name:<20} {f['customers']:>6} {f['mae_days']:>9.1f} "
                    f"{f['median_ae_days']:>10.1f} {f['bias_days']:>+7.1f}"
                )
    lines.append(
        "(days from the snapshot to the first purchase after it, for the customers who bought in the window; "
        "model: the median of the predicted next order, its 50 % interval should hold about half of them; "
        "same interval again: the last purchase plus the last gap; shop median interval: "
        "the last purchase plus the shop's median gap; both kept within the window; bias: mean of predicted "
        "minus actual; lines: the model is the customer's cycle for the line, line cycle everyone's, same "
        "interval again the customer's last gap of the line)"
    )
    return lines
