"""
# Daily customer scores: RFM segment, churn probability, LTV, expected next order, best send hour

## Purpose
Scores every customer who has bought at least once: the RFM code with its segment name (27 segments, in
Russian and English, e.g. 333 «недавние частые с высоким чеком» / "recent, frequent, high check"), the
probability of making no purchase in the next 90 days (churn) and the expected purchase revenue of the next 12
months (LTV), the expected next order (the median of the predicted day of the next purchase, and per
consumable line the expected next refill), and each customer's best local hour to receive a message (learned
from their opens, clicks and online purchases, shrunk towards their segment's and the shop's hours;
docs/send-time.md). Chains personalise their offers by these scores and time `send_time: optimal` steps by the
hour; the history kept per date shows how customers move between segments.

## Trigger
The Asset `lifecycle://warehouse/crm/customer_state`, emitted by every `lifecycle_ingest` run. The as-of
date is the last complete UTC day before the run's logical date or, for asset-triggered runs (which have
none), before its `run_after`. A date is scored once: later ingest runs of the same day find it scored and
skip (the `pick_as_of` task short-circuits). Trigger by hand with the param `as_of` (`YYYY-MM-DD`) to score or
re-score a given date.

## Inputs
`crm.orders`, `crm.ref_order_statuses`, `crm.customers`, `crm.rfm_segments`, and where present `crm.events`,
`crm.message_events` + `crm.send_ledger`; the current `churn` and `ltv` models of `crm.model_registry`;
thresholds in `include/config/scores.yaml` (docs/scores.md).

## Outputs
`crm.customer_scores`: one row per customer and as-of date (re-scoring a date replaces its rows),
`crm.send_hour_profiles` and `crm.customer_send_hours` of the date (replaced the same way),
`crm.customer_scores_current` (view of the newest date), `crm.customer_line_next_orders` (per customer and
consumable line, read by the replenishment chain), `crm.score_runs`; emits the Asset
`lifecycle://warehouse/crm/customer_scores`; its event extra holds the date, customers and model versions;
a short digest in the run's note (with the `lifecycle_airflow_api` connection).

## Owner
Analytics (models and thresholds); data engineering (the DAG).

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
Re-running is safe: the date's rows are replaced in one transaction. Empty `churn_probability`/`ltv` mean
no current model: run `lifecycle_train_churn` once (the log of `score_customers` says so). A `ConfigError`
names the field of `scores.yaml` to fix. The return value of `score_customers` holds the RFM cut points and
the customers per segment; `crm.score_runs` keeps the same per run.
"""

from airflow.sdk import Param, dag, task

from lifecycle_providers.assets import CUSTOMER_SCORES, CUSTOMER_STATE
from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight, warehouse


@dag(
    schedule=[CUSTOMER_STATE],
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "scores"],
    doc_md=__doc__,
    params={"as_of": Param(None, type=["null", "string"], format="date", description="date to (re)score")},
)
def lifecycle_scores():
    @task.short_circuit
    def pick_as_of(dag_run=None, params=None) -> str | None:
        """The date to score; nothing (skip) when another run already scored the last complete day."""
        import logging
        from datetime import timedelta

        if params.get("as_of"):
            return params["as_of"]
        from lifecycle.scores.scoring import scored_by_another_run

        as_of = ((dag_run.logical_date or dag_run.run_after) - timedelta(days=1)).date()
        if scored_by_another_run(warehouse(), as_of, dag_run.run_id):
            logging.getLogger(__name__).info("%s is already scored; trigger with as_of to re-score", as_of)
            return None
        return as_of.isoformat()

    @task(outlets=[CUSTOMER_SCORES])
    def score_customers(as_of: str, dag_run=None, outlet_events=None) -> dict:
        """Score every purchasing customer as of the date; returns the figures and the segment counts."""
        from datetime import date

        from lifecycle.scores.config import load_config
        from lifecycle.scores.scoring import score, segment_distribution

        wh = warehouse()
        report = score(wh, date.fromisoformat(as_of), load_config(), run_key=dag_run.run_id)
        outlet_events[CUSTOMER_SCORES].extra = {
            "as_of": as_of,
            "customers": report.customers,
            "churn_model_version": report.churn_model_version,
            "ltv_model_version": report.ltv_model_version,
        }
        segments = segment_distribution(wh, report.as_of)
        counts = dict(zip(segments["rfm_code"], segments["customers"].astype(int), strict=True))
        return {**report.as_dict(), "segments": counts}

    @task
    def write_run_note(dag_run=None) -> str:
        """A short digest of the run in its note (segments and model versions); the tab has the rest."""
        from lifecycle.reports.digest import scores_digest
        from lifecycle.reports.read import scores_run
        from lifecycle_providers.ui.run_note import post_run_note

        note = scores_digest(scores_run(warehouse(), dag_run.run_id))
        post_run_note(dag_run.dag_id, dag_run.run_id, note)
        return note

    as_of = pick_as_of()
    preflight() >> as_of
    score_customers(as_of) >> write_run_note()


lifecycle_scores()
