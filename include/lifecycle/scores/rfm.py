"""RFM segmentation (27 named segments), computed in the warehouse by ``include/sql/scores/rfm.sql``."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from lifecycle.currency import CurrencySettings, format_money

if TYPE_CHECKING:
    import pandas as pd

    from lifecycle.scores.config import RfmConfig
    from lifecycle.warehouse import Warehouse

CUT_COLUMNS = ("r_cut_1", "r_cut_2", "f_cut_1", "f_cut_2", "m_cut_1", "m_cut_2")


def rfm_parameters(config: RfmConfig, purchase_unit: str = "customer_day") -> dict[str, object]:
    """The bound parameters of rfm.sql for a configuration."""
    fixed_check = config.avg_check or (0.0, 0.0)  # unused with the quantile method
    return {
        "purchase_unit": purchase_unit,
        "method": config.method,
        "check_method": config.avg_check_method,
        "recency_cut_1": config.recency_days[0],
        "recency_cut_2": config.recency_days[1],
        "frequency_cut_1": config.frequency_orders[0],
        "frequency_cut_2": config.frequency_orders[1],
        "check_cut_1": fixed_check[0],
        "check_cut_2": fixed_check[1],
        "quantile_1": config.quantiles[0],
        "quantile_2": config.quantiles[1],
    }


def compute_rfm(
    warehouse: Warehouse, as_of: date, config: RfmConfig, purchase_unit: str = "customer_day"
) -> tuple[pd.DataFrame, dict[str, float]]:
    """RFM of every customer with a purchase by the end of ``as_of``, and the cut points that applied.

    The frame has one row per customer (index ``customer_id``) with recency_days, frequency, avg_check, r, f,
    m, rfm_code, segment_ru and segment_en.
    """
    frame = warehouse.fetch_df("scores/rfm.sql", as_of=as_of, **rfm_parameters(config, purchase_unit))
    cuts = {name: float(frame[name].iloc[0]) for name in CUT_COLUMNS} if len(frame) else {}
    frame = frame.drop(columns=list(CUT_COLUMNS)).set_index("customer_id")
    return frame.astype({"recency_days": "int64", "frequency": "int64", "avg_check": "float64"}), cuts


def describe_cuts(cuts: dict[str, float], currency: CurrencySettings) -> dict[str, dict[str, str]]:
    """What each digit means under the cut points in force, in English and Russian, e.g.
    ``{"en": {"m3": "high check: over $84.50", ...}, "ru": {...}}`` (keys r1..r3, f1..f3, m1..m3)."""
    if not cuts:
        return {"en": {}, "ru": {}}
    r1, r2 = cuts["r_cut_1"], cuts["r_cut_2"]
    f1, f2 = cuts["f_cut_1"], cuts["f_cut_2"]
    m1, m2 = (format_money(cuts[name], currency) for name in ("m_cut_1", "m_cut_2"))
    return {
        "en": {
            "r3": f"recent: last purchase at most {r1:g} days ago",
            "r2": f"sleeping: over {r1:g}, up to {r2:g} days ago",
            "r1": f"lapsed: over {r2:g} days ago",
            "f3": f"frequent: over {f2:g} purchases",
            "f2": f"rare: over {f1:g}, up to {f2:g} purchases",
            "f1": f"one-time: up to {f1:g} purchases",
            "m3": f"high check: average over {m2}",
            "m2": f"mid check: average over {m1}, up to {m2}",
            "m1": f"low check: average up to {m1}",
        },
        "ru": {
            "r3": f"недавние: последняя покупка не больше {r1:g} дн. назад",
            "r2": f"спящие: больше {r1:g}, до {r2:g} дн. назад",
            "r1": f"давние: больше {r2:g} дн. назад",
            "f3": f"частые: больше {f2:g} покупок",
            "f2": f"редкие: больше {f1:g}, до {f2:g} покупок",
            "f1": f"разовые: до {f1:g} покупок",
            "m3": f"высокий чек: в среднем больше {m2}",
            "m2": f"средний чек: больше {m1}, до {m2}",
            "m1": f"низкий чек: в среднем до {m1}",
        },
    }


def segment_description(code: str, legend: dict[str, str]) -> str:
    """One segment's meaning under the cut points in force, e.g. ``'333'`` -> ``'recent: …; frequent: …'``."""
    return "; ".join(legend[f"{dim}{digit}"] for dim, digit in zip("rfm", code, strict=True))


def segment_migrations(warehouse: Warehouse, from_date: date, to_date: date) -> pd.DataFrame:
    """Customers moving between RFM codes from one scored date to another (new customers have no origin)."""
    return warehouse.fetch_df("scores/rfm_migrations.sql", from_date=from_date, to_date=to_date)
