"""The demo's DAGs, triggered in pipeline order through the REST API, run to success on a Celery worker, and
the PostgreSQL warehouse shows their work: ingested rows, models, scores, chain decisions, messages sent to
the sandbox provider, report tables, and a note on each run written by the task through the REST API."""

import time
from datetime import timedelta
from pathlib import Path

import pytest

CHAINS_DIR = Path(__file__).resolve().parents[2] / "include" / "chains"

pytestmark = [pytest.mark.celery, pytest.mark.postgres, pytest.mark.timeout(1500)]

#: Task states a successful run may leave (a short-circuit skips the rest of its run, as the scores DAG's
#: `pick_as_of` does for a date another run already scored).
DONE = {"success", "skipped"}
#: The DAGs whose last task writes a digest into the run's note (with the `lifecycle_airflow_api` connection).
NOTED_DAGS = ("lifecycle_ingest", "lifecycle_scores", "lifecycle_chains", "lifecycle_reports")


def _rows(engine, sql: str, **params) -> list[dict]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _value(engine, sql: str, **params):
    (row,) = _rows(engine, sql, **params)
    (value,) = row.values()
    return value


def test_every_task_ran_on_the_celery_worker(celery_stack, pipeline_runs):
    """Each task instance went through the stack's own Celery queue (which only its worker consumes), and
    Celery's result backend holds one successful result per executed task."""
    import sqlalchemy as sa

    executed = []
    for dag_id, run in pipeline_runs.items():
        states = {ti["task_id"]: ti["state"] for ti in run.task_instances}
        assert set(states.values()) <= DONE, f"{dag_id}: {states}"
        ran = [ti for ti in run.task_instances if ti["state"] == "success"]
        assert ran, f"{dag_id}: no task ran"
        for ti in ran:
            where = f"{dag_id}.{ti['task_id']}"
            assert ti["queue"] == celery_stack.queue, where
            assert ti["hostname"], f"{where} has no worker hostname"
            assert ti["try_number"] == 1, f"{where} needed {ti['try_number']} tries"
        executed += ran

    # A task reports its state to the API server before its Celery task ends: the last result may still
    # be STARTED for a moment after its run finished.
    expected = {"SUCCESS": len(executed)}
    engine = sa.create_engine(celery_stack.metadata_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            rows = _rows(engine, "SELECT status, count(*) AS n FROM celery_taskmeta GROUP BY status")
            results = {row["status"]: row["n"] for row in rows}
            if results == expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert results == expected

    log = celery_stack.service_log("celery-worker").read_text(encoding="utf-8", errors="replace")
    for ti in executed:
        assert f"task_id='{ti['task_id']}', dag_id='{ti['dag_id']}'" in log, (
            f"{ti['dag_id']}.{ti['task_id']} is not in the Celery worker's log"
        )


def test_ingest_loaded_the_shop(celery_stack, pipeline_runs, warehouse_engine):
    run_key = pipeline_runs["lifecycle_ingest"].run_id
    loaded = _rows(
        warehouse_engine,
        "SELECT source_table, rows_loaded FROM crm.ingest_runs WHERE run_key = :run_key",
        run_key=run_key,
    )
    by_table = {row["source_table"]: row["rows_loaded"] for row in loaded}
    manifest_rows = celery_stack.manifest["rows"]
    assert by_table, "the ingest run recorded no tables"
    assert 0 < by_table["shop.orders"] <= manifest_rows["shop.orders"], by_table
    assert _value(warehouse_engine, "SELECT count(*) FROM crm.customers") > 0


def test_models_trained_and_customers_scored(pipeline_runs, warehouse_engine, shop_end):
    current = _rows(
        warehouse_engine, "SELECT model_name, version FROM crm.model_registry WHERE status = 'current'"
    )
    current_names = sorted(row["model_name"] for row in current)
    assert "churn" in current_names, current
    # The LTV gate may refuse a small shop's model (it must beat predicting zero); it is then registered as
    # rejected with its figures, and scores carry no LTV.
    ltv_decisions = _rows(
        warehouse_engine, "SELECT status FROM crm.model_registry WHERE model_name = 'ltv' ORDER BY version"
    )
    assert ltv_decisions, "the LTV model was neither promoted nor rejected"
    ltv_current = "ltv" in current_names

    as_of = (shop_end - timedelta(days=1)).date()
    scores = _rows(
        warehouse_engine,
        """SELECT count(*) AS customers, count(churn_probability) AS with_churn, count(ltv) AS with_ltv,
                  count(DISTINCT rfm_code) AS rfm_codes
           FROM crm.customer_scores WHERE as_of = :as_of""",
        as_of=as_of,
    )[0]
    assert scores["customers"] > 100, scores
    assert scores["with_churn"] == scores["customers"], scores
    assert scores["with_ltv"] == (scores["customers"] if ltv_current else 0), (scores, ltv_decisions)
    assert scores["rfm_codes"] > 5, scores
    score_run = _rows(
        warehouse_engine,
        "SELECT customers FROM crm.score_runs WHERE run_key = :run_key",
        run_key=pipeline_runs["lifecycle_scores"].run_id,
    )
    assert score_run == [{"customers": scores["customers"]}]


def test_chains_ran_and_the_policy_decided(pipeline_runs, warehouse_engine):
    run_key = pipeline_runs["lifecycle_chains"].run_id
    chains = _rows(
        warehouse_engine,
        "SELECT chain_id, entered FROM crm.chain_runs WHERE run_key = :run_key",
        run_key=run_key,
    )
    assert sorted(row["chain_id"] for row in chains) == sorted(
        path.stem for path in CHAINS_DIR.glob("*.yaml")
    )
    assert sum(row["entered"] for row in chains) > 0, chains
    decisions = _value(
        warehouse_engine, "SELECT count(*) FROM crm.decisions WHERE run_key = :run_key", run_key=run_key
    )
    assert decisions > 0


def test_dispatch_sent_the_planned_messages_to_the_sandbox(celery_stack, pipeline_runs, warehouse_engine):
    """Every message the policy planned in the chains run was sent through the sandbox (one file per send,
    as the dispatch tasks report), unless the send-time gate held it back with a recorded reason."""
    from lifecycle.delivery.providers.sandbox import file_stem

    run_key = pipeline_runs["lifecycle_chains"].run_id
    outcomes = {
        (row["outcome"], row["reason"]): row["n"]
        for row in _rows(
            warehouse_engine,
            """SELECT outcome, reason, count(*) AS n FROM crm.decisions
               WHERE run_key = :run_key GROUP BY outcome, reason""",
            run_key=run_key,
        )
    }
    planned = outcomes.get(("planned", None), 0)
    # The demo's customers live from UTC+2 to UTC+11: from 19:00 to 22:00 UTC all of them are in their
    # quiet hours (21:00-09:00 local), and the policy holds every message until their morning.
    assert planned or outcomes.get(("held", "quiet_hours")), f"nothing planned, and why not: {outcomes}"
    ledger = _rows(
        warehouse_engine,
        """SELECT send_key, channel, state, provider, hold_reason
           FROM crm.send_ledger WHERE run_key = :run_key""",
        run_key=run_key,
    )
    assert len(ledger) == planned
    sent = [row for row in ledger if row["state"] == "sent"]
    unsent = [row for row in ledger if row["state"] != "sent"]
    # Not sent means held back with a reason, or past its freshness by the time it was due (expired).
    assert all(row["hold_reason"] or row["state"] == "expired" for row in unsent), (
        f"rows neither sent, held nor expired: {unsent}"
    )
    if planned:
        assert sent or {row["hold_reason"] for row in unsent} <= {"quiet_hours", None}, ledger

    reported = 0
    for task_id in ("dispatch_email", "dispatch_push"):
        figures = celery_stack.get(
            f"/api/v2/dags/lifecycle_dispatch/dagRuns/{pipeline_runs['lifecycle_dispatch'].run_id}"
            f"/taskInstances/{task_id}/xcomEntries/return_value",
            deserialize=True,
        )["value"]
        reported += figures["sent"]
    assert reported == len(sent)
    print(f"{planned} messages planned by the chains run, {len(sent)} sent through the sandbox")

    for row in sent:
        assert row["provider"] == "sandbox", row
        suffixes = (".eml", ".html") if row["channel"] == "email" else (".json",)
        for suffix in suffixes:
            path = celery_stack.outbox / row["channel"] / f"{file_stem(row['send_key'])}{suffix}"
            assert path.is_file(), f"{row['send_key']}: no {path}"


def test_reports_built_for_the_day(pipeline_runs, warehouse_engine, shop_end):
    run = _rows(
        warehouse_engine,
        "SELECT report_date FROM crm.report_runs WHERE run_key = :run_key",
        run_key=pipeline_runs["lifecycle_reports"].run_id,
    )
    assert run == [{"report_date": shop_end.date()}]
    assert _value(warehouse_engine, "SELECT count(*) FROM crm.report_customer_kpis") > 0


@pytest.mark.parametrize("dag_id", NOTED_DAGS)
def test_the_worker_wrote_the_run_note_through_the_rest_api(pipeline_runs, dag_id):
    note = pipeline_runs[dag_id].note
    assert note, f"{dag_id}: the run has no note"
