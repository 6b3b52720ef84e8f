"""The daily materialisation of the report tables (``crm.report_*``, migration crm/0007).

A run for report date D recomputes every day whose figures can still change: messages sent and chains
entered since the previous report run minus the longest outcome horizon (orders keep arriving for that long),
or the whole history on the first run. Each table is deleted and re-inserted for those days in one
transaction, so a re-run of a date gives the same rows.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lifecycle.policy.experiments import bucket

if TYPE_CHECKING:
    from lifecycle.chains.config import ChainConfig
    from lifecycle.policy.config import PolicyConfig
    from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Before the first report run, everything since this day is computed.
HISTORY_START = date(2000, 1, 1)
#: Retention compares buyers of one such period with the next.
RETENTION_DAYS = 90
#: The RFM migration matrix compares the latest scores with those about this many days earlier.
MIGRATION_GAP_DAYS = 30
HOLDOUT, TREATED = "holdout", "treated"
#: The "from" code of customers in a migration matrix who were not scored on the earlier date.
NEW_CODE = "new"


@dataclass(frozen=True)
class ChainWindow:
    """How a chain is measured: orders within ``window_days`` of a send are attributed to it; entrants are
    compared over ``horizon_days`` after entry (the chain's last step delay plus the window)."""

    chain_id: str
    window_days: int
    horizon_days: int
    holdout_share: float


def chain_windows(chains: dict[str, ChainConfig], default_window_days: int) -> list[ChainWindow]:
    """The measurement settings of every chain; a chain may set ``attribution_days``, else the policy's."""
    windows = []
    for chain in chains.values():
        window = int(getattr(chain, "attribution_days", None) or default_window_days)
        last_delay = max(step.delay for step in chain.steps)
        horizon = math.ceil(last_delay / timedelta(days=1)) + window
        windows.append(ChainWindow(chain.id, window, horizon, float(chain.holdout_share)))
    return windows


def arm(chain_id: str, customer_id: int, holdout_share: float, global_control_share: float) -> str | None:
    """The arm of an entrant, by the same hash as the contact policy: the chain's holdout, treated, or None
    for the global control group (held out of every chain, so in neither arm of a chain's comparison)."""
    if bucket("global_control", customer_id) < global_control_share:
        return None
    return HOLDOUT if bucket(f"holdout:{chain_id}", customer_id) < holdout_share else TREATED


def build_reports(
    warehouse: Warehouse,
    report_date: date,
    run_key: str,
    chains: dict[str, ChainConfig] | None = None,
    policy: PolicyConfig | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Materialise the report tables for ``report_date`` (the last complete day); returns the figures."""
    from lifecycle.chains.config import load_chains
    from lifecycle.policy.config import load_policy

    chains = chains if chains is not None else load_chains(check_templates=False)
    policy = policy or load_policy()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    default_window = policy.experiments.attribution_days
    windows = chain_windows(chains, default_window)
    lookback = max([w.horizon_days for w in windows] + [default_window]) + 1
    until = datetime.combine(report_date + timedelta(days=1), datetime.min.time())

    previous = warehouse.fetch_all("reports/last_report_run.sql", report_date=report_date)[0]["report_date"]
    since_day = (previous - timedelta(days=lookback - 1)) if previous else HISTORY_START
    since = datetime.combine(since_day, datetime.min.time())
    params = {"since": since, "until": until, "default_window_days": default_window}

    import pandas as pd

    started = time.monotonic()
    log.info("reports for %s: recomputing from %s (%d chains)", report_date, since_day, len(windows))
    with warehouse.begin() as conn:
        warehouse.run(conn, "reports/clear_chain_windows.sql")
        frame = pd.DataFrame([w.__dict__ for w in windows]).assign(updated_at=now)
        warehouse.insert_df(conn, "crm.report_chain_windows", frame)
        warehouse.run_steps(conn, "reports/refresh_attribution.sql", **params)
        warehouse.run_steps(conn, "reports/refresh_chain_daily.sql", **params)
        log.info("attribution and chain figures refreshed (%.1f s)", time.monotonic() - started)
        holdout_rows = _holdout_daily(warehouse, conn, windows, policy, since, until, default_window)
        log.info("holdout comparison: %d rows (%.1f s)", holdout_rows, time.monotonic() - started)
        warehouse.run_steps(conn, "reports/refresh_cohorts.sql", until=until)
        warehouse.run_steps(
            conn,
            "reports/refresh_customer_kpis.sql",
            report_date=report_date,
            until=until,
            retention_days=RETENTION_DAYS,
        )
        rfm = _rfm_reports(warehouse, conn, report_date)
        log.info("cohorts, customer KPIs and RFM migration refreshed (%.1f s)", time.monotonic() - started)
        warehouse.run_steps(
            conn,
            "reports/record_run.sql",
            report_date=report_date,
            run_key=run_key,
            recomputed_from=since_day,
            now=now,
        )
    log.info(
        "reports for %s built in %.1f s: %d chains from %s, %d holdout rows, RFM %s against %s",
        report_date,
        time.monotonic() - started,
        len(windows),
        since_day,
        holdout_rows,
        rfm["rfm_as_of"] or "(no scores yet)",
        rfm["rfm_from"] or "-",
    )
    return {
        "report_date": report_date.isoformat(),
        "recomputed_from": since_day.isoformat(),
        "chains": len(windows),
        "holdout_rows": holdout_rows,
        **rfm,
    }


def _holdout_daily(warehouse, conn, windows, policy, since, until, default_window) -> int:
    """Entrants of the days by arm: how many, how many bought, how many were sent a message, and the sum and
    sum of squares of their revenue over the horizon."""
    import pandas as pd

    shares = {w.chain_id: w.holdout_share for w in windows}
    gc_share = policy.experiments.global_control_share
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    result = warehouse.run(
        conn, "reports/entrant_revenue.sql", since=since, until=until, default_horizon_days=default_window
    )
    for row in result.mappings():
        which = arm(row["chain_id"], int(row["customer_id"]), shares.get(row["chain_id"], 0.0), gc_share)
        if which is None:
            continue
        revenue = float(row["revenue"])
        cell = totals[(row["entry_day"], row["chain_id"], which)]
        cell[0] += 1
        cell[1] += revenue > 0
        cell[2] += bool(row["messaged"])
        cell[3] += revenue
        cell[4] += revenue * revenue
    warehouse.run(conn, "reports/clear_holdout_daily.sql", since=since, until=until)
    frame = pd.DataFrame(
        [
            {"entry_day": day, "chain_id": chain, "arm": which, "entrants": n, "buyers": buyers}
            | {"messaged": messaged, "revenue": revenue, "revenue_sq": revenue_sq}
            for (day, chain, which), (n, buyers, messaged, revenue, revenue_sq) in sorted(totals.items())
        ]
    )
    return warehouse.insert_df(conn, "crm.report_holdout_daily", frame)


def _rfm_reports(warehouse, conn, report_date: date) -> dict[str, Any]:
    """The RFM distribution of the latest scored date and its migration matrix from ~30 days earlier."""
    import pandas as pd

    dates = [
        r["as_of"] for r in warehouse.run(conn, "reports/scored_dates.sql", until_date=report_date).mappings()
    ]
    if not dates:
        return {"rfm_as_of": None, "rfm_from": None}
    to_date = dates[0]
    earlier = [d for d in dates if d <= to_date - timedelta(days=MIGRATION_GAP_DAYS)]
    from_date = earlier[0] if earlier else dates[-1]
    warehouse.run_steps(conn, "reports/clear_rfm_reports.sql", from_date=from_date, to_date=to_date)

    result = warehouse.run(conn, "scores/segment_distribution.sql", as_of=to_date)
    distribution = pd.DataFrame(result.fetchall(), columns=list(result.keys())).assign(as_of=to_date)
    warehouse.insert_df(conn, "crm.report_rfm_distribution", distribution)

    result = warehouse.run(conn, "scores/rfm_migrations.sql", from_date=from_date, to_date=to_date)
    migration = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    migration = migration.assign(
        from_code=migration["from_code"].fillna(NEW_CODE), from_date=from_date, to_date=to_date
    )
    warehouse.insert_df(conn, "crm.report_rfm_migration", migration)
    return {"rfm_as_of": to_date.isoformat(), "rfm_from": from_date.isoformat()}
