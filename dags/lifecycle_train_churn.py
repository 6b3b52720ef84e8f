"""
# Weekly training of the churn and LTV models, with the promotion gate

## Purpose
Trains a new churn classifier (calibrated gradient boosting on time-based snapshots) and refits the LTV model
(BG/NBD + Gamma-Gamma), measures each on a later validation window together with the current model, and
promotes the new one only if it is not worse. Every model, promoted or not, is recorded with its figures,
calibration table and artefact, so the daily `lifecycle_scores` DAG always uses the current model.

## Trigger
Weekly, Mondays 03:00 UTC. Data end = the last complete UTC day before the run's logical date (or its
`run_after` when it has none), never later than the newest purchase in the warehouse. Trigger by hand with
the param `data_end` (`YYYY-MM-DD`) to train on a given date.

## Inputs
`crm.orders`, `crm.ref_order_statuses`, `crm.customers`, and where present `crm.events`,
`crm.message_events` + `crm.send_ledger`; settings in `include/config/scores.yaml` (horizon, snapshots,
calibration, gate tolerances; docs/scores.md).

## Outputs
`crm.model_registry` (one row per trained model: window, features, AUC, Brier, all figures, artefact,
status current/rejected/retired and the decision with its figures) and `crm.model_calibration`.

## Owner
Analytics (models); data engineering (the DAG).

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
A rejected model is a normal outcome, not a failure: the current one stays in use; read `decision` in
`crm.model_registry` or the task's return value (it also holds `snapshots`: how many training snapshots, how
far apart, the validation snapshot and window). "too short a history" errors name the days needed: with the
default settings churn needs about 10 months of orders (the snapshot schedule adapts: closer snapshots on a
short history, up to 12 on a long one), LTV 7 (18 for a full year's check). An LTV model must beat predicting
zero to become current. Retrying is safe: a retry adds one more registry version and never removes one.
"""

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight, warehouse


@dag(
    schedule=CronTriggerTimetable("0 3 * * 1", timezone="UTC"),
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "scores"],
    doc_md=__doc__,
    params={"data_end": Param(None, type=["null", "string"], format="date", description="last day of data")},
)
def lifecycle_train_churn():
    @task
    def pick_data_end(dag_run=None, params=None) -> str:
        """The last day of data to train on."""
        from datetime import timedelta

        moment = dag_run.logical_date or dag_run.run_after
        return params.get("data_end") or (moment - timedelta(days=1)).date().isoformat()

    @task
    def train_churn_model(data_end: str) -> dict:
        """Train, validate and gate a churn model; returns the registry decision and figures."""
        from datetime import date

        from lifecycle.scores.config import load_config
        from lifecycle.scores.training import train_churn

        return train_churn(warehouse(), date.fromisoformat(data_end), load_config()).as_dict()

    @task
    def train_ltv_model(data_end: str) -> dict:
        """Fit, validate and gate an LTV model; returns the registry decision and figures."""
        from datetime import date

        from lifecycle.scores.config import load_config
        from lifecycle.scores.training import train_ltv

        return train_ltv(warehouse(), date.fromisoformat(data_end), load_config()).as_dict()

    data_end = pick_data_end()
    preflight() >> data_end
    train_churn_model(data_end) >> train_ltv_model(data_end)


lifecycle_train_churn()
