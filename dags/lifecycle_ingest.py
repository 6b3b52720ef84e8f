"""
# Hourly ingest of the shop's source tables

## Purpose
Copies the retailer's new and changed rows (schema `shop`) into the pipeline's validated tables (schema
`crm`), quarantines bad rows with a reason code, and refreshes `crm.customer_state` for the customers the
hour touched. Every other lifecycle DAG reads what this one writes.

## Trigger
Hourly on the hour (UTC), one run at a time. Each run reads the rows whose `loaded_at` is in its data
interval, reaching back to the stored watermark (missed runs catch up) minus a 3-hour grace for late rows.

## Inputs
`shop.customers`, `shop.push_tokens`, `shop.categories`, `shop.products`, `shop.product_accessories`,
`shop.events`, `shop.orders`, `shop.order_items`, `shop.price_changes`, `shop.stock_changes`,
`shop.content_mailings`, `shop.content_mailing_recipients` on the `lifecycle_warehouse` connection.

## Outputs
The matching `crm.*` tables, `crm.quarantine`, `crm.ingest_runs`, `crm.watermarks`, `crm.customer_state`;
emits the Asset `lifecycle://warehouse/crm/customer_state`, which schedules the downstream DAGs; a short
digest in the run's note (with the `lifecycle_airflow_api` connection; `make airflow` sets it).

## Owner
Data engineering.

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
Re-running or clearing a run is safe: every write is keyed, and the same interval gives the same tables.
A bad source row never fails the run; look at `crm.quarantine` (table, key, reason, detail) and at the
`ingest_sources` return value for counts. The quality gate fails `ingest_sources` (without retries) when
more than `quality_gate.max_quarantined_share` (default 20 %) of the rows read from one table were
quarantined: the log names the table, the share and the top reasons. The valid rows are loaded and the
watermarks advanced before it fails (`crm.ingest_runs` has the run's figures). Fix the source, or the
setting in `include/config/ingest.yaml` (docs/ingest.md). Any other failure is the warehouse itself
(connection, lock, disk) or a wrong setting (`ConfigError` names the file and field).
"""

from airflow.sdk import CronDataIntervalTimetable, dag, task

from lifecycle_providers.assets import CUSTOMER_STATE
from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight, warehouse


@dag(
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "ingest"],
    doc_md=__doc__,
)
def lifecycle_ingest():
    @task
    def migrate_schema() -> list[str]:
        """Apply pending schema migrations (a no-op when the schema is current); only the pipeline's own
        ``crm`` set: ``shop`` belongs to the retailer (the demo generator creates it for the demo shop)."""
        from lifecycle.migrations import migrate

        return migrate(warehouse(), sets=("crm",))

    @task(outlets=[CUSTOMER_STATE])
    def ingest_sources(data_interval_start=None, data_interval_end=None, dag_run=None, outlet_events=None):
        """Validate and load the interval's rows; its return value holds the figures per table."""
        from airflow.sdk.exceptions import AirflowFailException

        from lifecycle.ingest import QuarantineShareError, ingest
        from lifecycle.ingest_config import load_settings

        try:
            report = ingest(
                warehouse(),
                window_end=data_interval_end or dag_run.run_after,
                run_key=dag_run.run_id,
                interval_start=data_interval_start,
                settings=load_settings(),
            )
        except QuarantineShareError as exc:
            # The valid rows are committed; a retry would read the same window and fail the same way.
            raise AirflowFailException(str(exc)) from exc
        outlet_events[CUSTOMER_STATE].extra = {
            "window_end": report.window_end.isoformat(),
            "customers_refreshed": report.customers_refreshed,
            "rows_quarantined": report.rows_quarantined,
        }
        return report.as_dict()

    @task
    def write_run_note(dag_run=None) -> str:
        """A short digest of the run in its note; the Run summary tab has the figures per table."""
        from lifecycle.reports.digest import ingest_digest
        from lifecycle.reports.read import ingest_run
        from lifecycle_providers.ui.run_note import post_run_note

        note = ingest_digest(ingest_run(warehouse(), dag_run.run_id))
        post_run_note(dag_run.dag_id, dag_run.run_id, note)
        return note

    preflight() >> migrate_schema() >> ingest_sources() >> write_run_note()


lifecycle_ingest()
