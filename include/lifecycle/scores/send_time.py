"""Send-time optimisation: each customer's best local hour to receive a message, recomputed with the daily
scores (``scores/send_hours.sql``, in the scoring transaction) from the hours at which they opened, clicked
and bought online, shrunk towards their RFM segment's hourly profile and that towards the shop's
(empirical-Bayes shrinkage of hourly response counts). The contact policy reads the newest hours through
``policy/due_steps.sql``: a customer without responses gets their segment's best hour, a segment without
responses the shop's."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from lifecycle.scores.config import SendTimeConfig
from lifecycle.warehouse import Warehouse


def compute_send_hours(warehouse: Warehouse, conn, as_of: date, config: SendTimeConfig) -> dict[str, Any]:
    """Replace the hourly profiles and the customers' best hours of ``as_of`` on ``conn`` (the caller's
    transaction); returns how many customers got an hour and the shop's best hour."""
    warehouse.run_steps(
        conn,
        "scores/send_hours.sql",
        as_of=as_of,
        since=datetime.combine(as_of, time()) + timedelta(days=1) - timedelta(days=config.lookback_days),
        open_weight=config.open_weight,
        click_weight=config.click_weight,
        purchase_weight=config.purchase_weight,
        segment_prior=config.segment_prior,
        customer_prior=config.customer_prior,
    )
    summary = warehouse.run(conn, "scores/send_hours_summary.sql", as_of=as_of).mappings().one()
    return {
        "customers": int(summary["customers"] or 0),
        "responses": float(summary["responses"] or 0.0),
        "shop_best_hour": None if summary["shop_best_hour"] is None else int(summary["shop_best_hour"]),
    }
