"""
# Daily reports: chain KPIs, incremental revenue, A/B results, cohorts, RFM, customer KPIs

## Purpose
Materialises the measurement of the trigger chains into small `crm.report_*` tables, so the CRM overview
page in the Airflow UI (Browse → CRM overview) reads a few hundred rows: per chain and step sent, delivered,
opened, clicked, converted, revenue by last and first touch, unsubscribes; treated and holdout entrants for
the incremental revenue and its Welch interval; sends and conversions per A/B variant; the cohort retention
matrix; the RFM distribution and migration matrix; repeat-purchase rate, retention and LTV. Definitions:
`docs/measurement.md`.

## Trigger
Daily at 02:30 UTC for the previous UTC day (the report date). Trigger by hand with the param `report_date`
(`YYYY-MM-DD`) to rebuild a date.

## Inputs
`crm.send_ledger`, `crm.message_events`, `crm.orders`, `crm.ref_order_statuses`, `crm.chain_instances`,
`crm.customers`, `crm.customer_scores`, the chain configs (`include/chains/*.yaml`) and the policy settings
(`include/config/policy.yaml`: attribution window, global control share) on the `lifecycle_warehouse`
connection.

## Outputs
`crm.report_chain_windows`, `crm.report_attributed_orders`, `crm.report_chain_daily`,
`crm.report_holdout_daily`, `crm.report_cohorts`, `crm.report_rfm_distribution`, `crm.report_rfm_migration`,
`crm.report_customer_kpis`, `crm.report_runs`; a short digest in the run's note (needs the
`lifecycle_airflow_api` connection; skipped with a log line without it).

## Owner
Analytics (definitions); data engineering (the DAG).

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
Re-running a date is safe: every day it recomputes (since the previous report run minus the longest outcome
horizon, the whole history on the first run) is deleted and written again in one transaction. Figures that
look stale usually mean the chains, dispatch or ingest DAGs have not run; check `crm.report_runs`.
"""

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight, warehouse


@dag(
    schedule=CronTriggerTimetable("30 2 * * *", timezone="UTC"),
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "reports"],
    doc_md=__doc__,
    params={
        "report_date": Param(None, type=["null", "string"], format="date", description="date to (re)build")
    },
)
def lifecycle_reports():
    @task
    def migrate_schema() -> list[str]:
        """Apply pending schema migrations (the report tables come with crm/0007); only the pipeline's own
        ``crm`` set: ``shop`` belongs to the retailer (the demo generator creates it for the demo shop)."""
        from lifecycle.migrations import migrate

        return migrate(warehouse(), sets=("crm",))

    @task
    def build_report_tables(dag_run=None, params=None) -> dict:
        """Recompute the report tables for the report date; returns what was recomputed."""
        from datetime import date, timedelta

        from lifecycle.reports.build import build_reports

        if params.get("report_date"):
            report_date = date.fromisoformat(params["report_date"])
        else:
            report_date = (dag_run.run_after - timedelta(days=1)).date()
        return build_reports(warehouse(), report_date, run_key=dag_run.run_id)

    @task
    def write_run_note(figures: dict, dag_run=None) -> str:
        """Put the month's incremental revenue per chain and the verdict of each step with its own holdout
        into the run's note (≤ 1000 characters)."""
        from datetime import date, timedelta

        from lifecycle.reports import read
        from lifecycle.reports.digest import reports_digest
        from lifecycle_providers.ui.run_note import post_run_note

        last = date.fromisoformat(figures["report_date"])
        overview = read.overview(warehouse(), last - timedelta(days=read.DEFAULT_PERIOD_DAYS - 1), last)
        note = reports_digest(figures, overview)
        post_run_note(dag_run.dag_id, dag_run.run_id, note)
        return note

    built = build_report_tables()
    preflight() >> migrate_schema() >> built
    write_run_note(built)


lifecycle_reports()
