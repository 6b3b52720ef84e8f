"""Daily scoring: RFM segment, churn probability and LTV of every purchasing customer, into customer_scores.

RFM and the features are computed in the warehouse; only one row per customer comes back to Python, where
the current models of the registry score it. The date's rows are replaced in one transaction, so re-scoring a
date is safe and readers never see half a day.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lifecycle.ingest import no_purchases_error
from lifecycle.ingest_config import LATE_GRACE
from lifecycle.scores import churn, ltv, next_order, registry
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.features import FEATURES, build_features
from lifecycle.scores.rfm import compute_rfm, describe_cuts
from lifecycle.scores.send_time import compute_send_hours
from lifecycle.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)

SCORE_COLUMNS = (
    "as_of",
    "customer_id",
    "recency_days",
    "frequency",
    "avg_check",
    "r",
    "f",
    "m",
    "rfm_code",
    "segment_ru",
    "segment_en",
    "churn_probability",
    "ltv",
    "churn_model_version",
    "ltv_model_version",
    "next_order_date",
    "next_order_early",
    "next_order_late",
    "next_order_basis",
    "scored_at",
)


@dataclass(frozen=True)
class ScoreReport:
    as_of: date
    customers: int
    churn_model_version: int | None
    ltv_model_version: int | None
    rfm_method: str
    rfm_cuts: dict[str, float]
    seconds: float
    #: what each R, F and M digit means under the cut points in force, in the shop's currency (en, ru)
    rfm_legend: dict[str, dict[str, str]] | None = None
    #: customers per basis of the expected next order (own_rhythm, segment, shop)
    next_order_basis: dict[str, int] | None = None
    #: rows of crm.customer_line_next_orders written (customer and consumable line)
    consumable_lines: int = 0
    #: consumable products with a learnt cycle (crm.product_cycles), and the shop's gaps between two purchases
    #: with their median in days (crm.purchase_intervals)
    product_cycles: int = 0
    purchase_interval: dict[str, Any] | None = None
    #: orders placed or loaded from this moment on may be missing from these scores (crm.score_runs)
    unscored_from: datetime | None = None
    #: the send-time learning of the date: customers with an hour of their own, responses, the shop's hour
    send_hours: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "as_of": self.as_of.isoformat(),
            "unscored_from": self.unscored_from.isoformat() if self.unscored_from else None,
        }


def scored_by_another_run(warehouse: Warehouse, as_of: date, run_key: str) -> bool:
    """True when a different run already scored ``as_of`` (a retry of the same run is not counted)."""
    return warehouse.fetch_all("scores/other_score_runs.sql", as_of=as_of, run_key=run_key)[0]["runs"] > 0


def score(warehouse: Warehouse, as_of: date, config: ScoresConfig, run_key: str) -> ScoreReport:
    """Score every customer with a purchase by the end of ``as_of`` and replace that date's scores.

    No purchasing customer is an error that says why (no ingest yet, none loaded, or a date before the first
    purchase): a run that scores nobody must not pass for a successful one.
    """
    import pandas as pd

    started = time.perf_counter()
    # Read before any order is: an ingest that commits while the scores run moves the watermark past rows
    # they may not have seen.
    unscored_from = _unscored_from(warehouse, as_of)
    with warehouse.reads_side_by_side() as later:
        # (what does not depend on the RFM frame is read beside it and the models' features on PostgreSQL)
        gaps = later(next_order.purchase_gaps, warehouse, as_of, config.purchase_unit)
        lines = later(next_order.consumable_lines, warehouse, as_of, config.next_order)
        cycles = later(next_order.learnt_cycles, warehouse, as_of, config.next_order)
        frame, cuts, churn_model, ltv_model = _rfm_and_models(warehouse, as_of, config)
        rhythm, days = next_order.expected_next_orders(gaps.result(), frame, config.next_order)
        del gaps
        frame = frame.join(next_order.as_dates(as_of, rhythm, days))
        del rhythm, days
        lines = lines.result()
        products, interval = cycles.result()
    churn_version = churn_model.version if churn_model else None
    ltv_version = ltv_model.version if ltv_model else None
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = frame.reset_index().assign(
        as_of=as_of,
        scored_at=now,
        churn_model_version=pd.array([churn_version] * len(frame), dtype="Int64"),
        ltv_model_version=pd.array([ltv_version] * len(frame), dtype="Int64"),
    )[list(SCORE_COLUMNS)]
    lines = lines.assign(as_of=as_of, scored_at=now)[list(next_order.LINE_COLUMNS)]
    products = products.assign(as_of=as_of, scored_at=now)
    # What the report needs of the frames, so that each is let go once written: the send hours below run
    # in the warehouse while they would still take the most memory of the day (6.6 M customers' scores).
    scored, line_count = len(frame), len(lines)
    basis = {str(k): int(v) for k, v in frame["next_order_basis"].value_counts().items()}
    with warehouse.begin() as conn:
        warehouse.run(conn, "scores/delete_scores.sql", as_of=as_of)
        warehouse.insert_df(conn, "crm.customer_scores", frame)
        del frame
        warehouse.run(conn, "scores/delete_line_next_orders.sql", as_of=as_of)
        warehouse.insert_df(conn, "crm.customer_line_next_orders", lines)
        del lines
        warehouse.run_steps(conn, "scores/delete_learnt_cycles.sql", as_of=as_of)
        warehouse.insert_df(conn, "crm.product_cycles", products)
        interval_row = pd.DataFrame([{**interval, "as_of": as_of, "scored_at": now}])
        warehouse.insert_df(conn, "crm.purchase_intervals", interval_row)
        # What reads the scores (the send hours below, then every hour's chains and contact policy) reads the
        # newest date: PostgreSQL must plan it on statistics that know that date, not on ones from before it,
        # which take it for almost no rows (at 1 M customers, an hour's 1,626 replenishment lines due were
        # estimated as one). Autovacuum may be off, or not through yet.
        written = {
            "crm.customer_scores": scored,
            "crm.customer_line_next_orders": line_count,
            "crm.product_cycles": len(products),
        }
        warehouse.refresh_statistics(conn, written, read_by_time=tuple(written))
        send_hours = compute_send_hours(warehouse, conn, as_of, config.send_time)
        # (the profiles hold at least the shop's 24 hours)
        written = {"crm.customer_send_hours": send_hours["customers"], "crm.send_hour_profiles": 24}
        warehouse.refresh_statistics(conn, written, read_by_time=tuple(written))
        warehouse.run(conn, "scores/delete_score_run.sql", as_of=as_of, run_key=run_key)
        report = ScoreReport(
            as_of=as_of,
            customers=scored,
            churn_model_version=churn_version,
            ltv_model_version=ltv_version,
            rfm_method=config.rfm.method
            if config.rfm.avg_check_method == config.rfm.method
            else f"{config.rfm.method}, avg check {config.rfm.avg_check_method}",
            rfm_cuts=cuts,
            seconds=round(time.perf_counter() - started, 3),
            rfm_legend=describe_cuts(cuts, config.currency),
            next_order_basis=basis,
            consumable_lines=line_count,
            product_cycles=len(products),
            purchase_interval=interval,
            unscored_from=unscored_from,
            send_hours=send_hours,
        )
        warehouse.run(
            conn,
            "scores/record_score_run.sql",
            **{**asdict(report), "rfm_cuts": json.dumps(cuts), "send_hours": json.dumps(send_hours)},
            run_key=run_key,
            scored_at=now,
        )
    log.info(
        "scored %d customers as of %s (churn model %s, LTV model %s; best send hours of %d customers learned"
        " from their responses) in %.1f s",
        report.customers,
        as_of,
        f"v{churn_version}" if churn_version else "none",
        f"v{ltv_version}" if ltv_version else "none",
        send_hours["customers"],
        time.perf_counter() - started,
    )
    return report


def _rfm_and_models(warehouse: Warehouse, as_of: date, config: ScoresConfig):
    """The RFM frame of every purchasing customer with their churn probability and LTV (empty without a
    current model), its cut points, and the two current models."""
    import pandas as pd

    started = time.perf_counter()
    frame, cuts = compute_rfm(warehouse, as_of, config.rfm, config.purchase_unit)
    if frame.empty:
        raise no_purchases_error(warehouse, up_to=as_of)
    log.info(
        "RFM as of %s: %d customers (%s cut points) in %.1f s",
        as_of,
        len(frame),
        config.rfm.method,
        time.perf_counter() - started,
    )
    churn_model = registry.current_model(warehouse, churn.MODEL_NAME)
    ltv_model = registry.current_model(warehouse, ltv.MODEL_NAME)
    frame["churn_probability"] = pd.array([None] * len(frame), dtype="Float64")
    frame["ltv"] = pd.array([None] * len(frame), dtype="Float64")
    if churn_model or ltv_model:
        churn_probability, ltv_value = _predictions(
            warehouse, as_of, config, frame.index, churn_model, ltv_model
        )
        if churn_model:
            frame["churn_probability"] = churn_probability
        if ltv_model:
            frame["ltv"] = ltv_value
    if not churn_model or not ltv_model:
        log.warning(
            "no current %s model: its scores are left empty; run the lifecycle_train_churn DAG",
            " or ".join(name for name, m in (("churn", churn_model), ("ltv", ltv_model)) if not m),
        )
    return frame, cuts, churn_model, ltv_model


def _predictions(
    warehouse: Warehouse,
    as_of: date,
    config: ScoresConfig,
    customers: pd.Index,
    churn_model: registry.RegisteredModel | None,
    ltv_model: registry.RegisteredModel | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The churn probability and LTV of ``customers``, in their order (NaN for a model that is missing).

    The features are the day's widest frame (34 numbers a customer, with copies while they are joined), so
    they are read and scored in parts of at most ``scoring_customers`` customers, split by a hash of
    customer_id in the warehouse: 6.6 M buyers in one frame needed 11.6 GB. The churn model's BG/NBD inputs
    are then fitted once, on the first part (a hash sample of that many customers), and every part is
    scored with them; in one part they are fitted on every customer, as before. A customer the feature
    queries do not return is scored on missing features, as the models were trained to take them."""
    import numpy as np
    import pandas as pd

    churn_estimator = churn_model.load() if churn_model else None
    ltv_estimator = ltv_model.load() if ltv_model else None
    parts = max(1, -(-len(customers) // config.scoring_customers))
    churn_probability = pd.Series(np.nan, index=customers)
    ltv_value = pd.Series(np.nan, index=customers)
    seen = np.zeros(len(customers), dtype=bool)
    bgnbd_params = None

    def score_rows(features: pd.DataFrame) -> None:
        rows = customers.get_indexer(features.index)
        if churn_estimator is not None:
            churn_probability.iloc[rows] = churn.predict(churn_estimator, features, bgnbd_params)
        if ltv_estimator is not None:
            ltv_value.iloc[rows] = ltv_estimator.predict(features)
        seen[rows] = True

    for part in range(parts):
        features = build_features(
            warehouse, as_of, purchase_unit=config.purchase_unit, sample_every=parts, sample_part=part
        )
        features = features[features.index.isin(customers)]
        if parts > 1 and bgnbd_params is None and len(features):
            bgnbd_params = churn.date_bgnbd_params(churn_estimator, features)
        if len(features):
            score_rows(features)
        del features  # before the next part is read
        if parts > 1:
            log.info("scored part %d of %d (%d customers so far)", part + 1, parts, int(seen.sum()))
    if not seen.all():  # (their BG/NBD inputs are missing too: the parameters of the day, else of training)
        bgnbd_params = bgnbd_params or getattr(churn_estimator, "bgnbd_params", None)
        score_rows(pd.DataFrame(np.nan, index=customers[~seen], columns=list(FEATURES)))
    return churn_probability.to_numpy(), ltv_value.to_numpy()


def _unscored_from(warehouse: Warehouse, as_of: date) -> datetime:
    """From when on an order may be missing from the scores of ``as_of``: the end of that date, or earlier
    when the ingest had not yet loaded every row of it for good. A row loaded within the ingest's late grace
    before its watermark may still wait for its customer or order (docs/ingest.md), so only rows loaded
    before the watermark less the grace are certainly in. Without an ingest record, the end of the date."""
    day_end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    (row,) = warehouse.fetch_all("scores/orders_loaded_through.sql")
    if row["loaded_through"] is None:
        return day_end
    return min(day_end, row["loaded_through"] - LATE_GRACE)


def segment_distribution(warehouse: Warehouse, as_of: date):
    """Customers, share, mean churn probability and mean LTV per RFM segment on a scored date (27 rows)."""
    return warehouse.fetch_df("scores/segment_distribution.sql", as_of=as_of)
