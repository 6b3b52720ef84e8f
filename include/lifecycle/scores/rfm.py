"""RFM segmentation (27 named segments), computed in the warehouse by ``include/sql/scores/rfm.sql``."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from lifecycle.scores.config import RfmConfig
    from lifecycle.warehouse import Warehouse

CUT_COLUMNS = ("r_cut_1", "r_cut_2", "f_cut_1", "f_cut_2", "m_cut_1", "m_cut_2")


def rfm_parameters(config: RfmConfig) -> dict[str, object]:
    """The bound parameters of rfm.sql for a configuration."""
    return {
        "method": config.method,
        "recency_cut_1": config.recency_days[0],
        "recency_cut_2": config.recency_days[1],
        "frequency_cut_1": config.frequency_orders[0],
        "frequency_cut_2": config.frequency_orders[1],
        "check_cut_1": config.avg_check_rub[0],
        "check_cut_2": config.avg_check_rub[1],
        "quantile_1": config.quantiles[0],
        "quantile_2": config.quantiles[1],
    }


def compute_rfm(
    warehouse: Warehouse, as_of: date, config: RfmConfig
) -> tuple[pd.DataFrame, dict[str, float]]:
    """RFM of every customer with a purchase by the end of ``as_of``, and the cut points that applied.

    The frame has one row per customer (index ``customer_id``) with recency_days, frequency, avg_check, r, f,
    m, rfm_code, segment_ru and segment_en.
    """
    frame = warehouse.fetch_df("scores/rfm.sql", as_of=as_of, **rfm_parameters(config))
    cuts = {name: float(frame[name].iloc[0]) for name in CUT_COLUMNS} if len(frame) else {}
    frame = frame.drop(columns=list(CUT_COLUMNS)).set_index("customer_id")
    return frame.astype({"recency_days": "int64", "frequency": "int64", "avg_check": "float64"}), cuts


def segment_migrations(warehouse: Warehouse, from_date: date, to_date: date) -> pd.DataFrame:
    """Customers moving between RFM codes from one scored date to another (new customers have no origin)."""
    return warehouse.fetch_df("scores/rfm_migrations.sql", from_date=from_date, to_date=to_date)
