"""
# Hourly trigger chains: entries, exits and due steps of every chain, handed to the contact policy

## Purpose
Moves customers through the trigger chains of the communication map (`include/chains/*.yaml`): for each
chain, its entry query (`include/sql/chains/`) admits the customers whose trigger fired since the chain's
watermark, exit conditions end instances (purchase, unsubscribe, time limit…) before any step, and the steps
that are due are written to `crm.due_steps`. The single `hand_off` task then gives every chain's due steps at
once to the contact policy, which decides what is sent. A chain that fails stops only itself: the others are
handed off, and the last task (`check_chains`) then fails the run, naming the failed chains.

## Trigger
The Asset `lifecycle://warehouse/crm/customer_state` (after each hourly ingest). The run's as-of time is the
ingest window's end (`window_end` of the triggering asset event); for a run triggered by hand, its logical
date if it has one, else its `run_after`.

## Inputs
`crm.customers`, `crm.events`, `crm.orders`, `crm.order_items`, `crm.products`, `crm.price_changes`,
`crm.stock_changes`, `crm.customer_state`, `crm.customer_scores`, `crm.decisions` (what the policy decided in
earlier runs), the chain files in `include/chains/`, on the `lifecycle_warehouse` connection.

## Outputs
`crm.chain_instances`, `crm.chain_watermarks`, `crm.chain_runs` (figures per chain), `crm.chain_step_log`,
`crm.due_steps` (keyed by this run's id), `crm.chain_run_failures` (chains that failed, with the error), then
the policy's `crm.decisions`.

## Owner
CRM analytics (chains and their SQL); data engineering (scheduling).

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
`validate_chains` checks every chain file and has the warehouse plan every entry and exit query (`EXPLAIN`);
its log lists each broken chain with the file, line or field and the fix, and warns about configuration that
can never take effect (as `python -m lifecycle chains check` does). A broken chain's own `run_chain` task
then fails with that message while the other chains run and are handed off; `check_chains` fails the run and
the Run summary tab lists the failed chains with the phase (`enter`, `exit` or `due`). Fix the file and clear
the failed chain's `run_chain` task and `hand_off`: clearing is safe, a run rewrites the same due steps for
its run id and the policy decides them again identically.
Two runs of the same chain, or two policy runs, never plan at the same time: they take turns on a warehouse
lock, and one that waits too long fails with "another … run is active since …". `run_chain` is one mapped
task with an instance per chain, named after the chain; each instance runs the chain's three phases (`enter`,
`exit`, `due`, each its own transaction) and returns the figures. One task per chain rather than per phase:
under a scheduler every task instance is its own process with about a second of start-up.
`crm.chain_runs` and `crm.chain_instances` (exit_reason) explain who entered and who left.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from lifecycle_providers.assets import CUSTOMER_STATE
from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight, warehouse

#: Chain ids from the file names of the communication map: no YAML parsing or database at parse time.
#: ``LIFECYCLE_CHAINS_DIR`` points at another folder, as it does for lifecycle.chains.config.
CHAINS_DIR = Path(
    os.environ.get("LIFECYCLE_CHAINS_DIR") or Path(__file__).resolve().parents[1] / "include" / "chains"
)
CHAIN_IDS = sorted(path.stem for path in CHAINS_DIR.glob("*.yaml"))


@contextmanager
def _recorded(store, chain_id: str, phase: str, run_key: str):
    """A chain task's work, with its failure recorded for the Run summary and `check_chains`. A broken file
    fails at once: retrying cannot fix it."""
    from airflow.sdk.exceptions import AirflowFailException

    from lifecycle.chains.engine import failure_recorded
    from lifecycle.errors import ConfigError

    try:
        with failure_recorded(store, chain_id, run_key, phase):
            yield
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from exc


@dag(
    schedule=[CUSTOMER_STATE],
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "chains"],
    doc_md=__doc__,
)
def lifecycle_chains():
    @task
    def validate_chains(triggering_asset_events=None, logical_date=None, dag_run=None) -> str:
        """Check every chain file and plan its entry and exit queries; return the run's as-of time (ISO, UTC).

        A broken chain is logged here with its file and line; its own `enter` task fails with the same
        message, so the other chains still run.
        """
        import logging

        from lifecycle.chains.check import check_chains

        check = check_chains(warehouse())
        for problem in check.problems.values():
            logging.getLogger(__name__).error("broken chain, it will not run: %s", problem)
        for warning in check.warnings:
            logging.getLogger(__name__).warning("dead configuration: %s", warning)
        logging.getLogger(__name__).info(
            "%d chain(s) fine, %d broken, %d warning(s)",
            len(check.chains),
            len(check.problems),
            len(check.warnings),
        )
        ends = [
            event.extra["window_end"]
            for events in (triggering_asset_events or {}).values()
            for event in events
            if (event.extra or {}).get("window_end")
        ]
        if ends:
            return max(pendulum.parse(end) for end in ends).isoformat()
        return pendulum.instance(logical_date or dag_run.run_after).in_tz("UTC").isoformat()

    @task(map_index_template="{{ chain_id }}")
    def run_chain(chain_id: str, as_of: str, dag_run=None) -> dict:
        """One chain's hour: new entries since its watermark, exits, then its due steps into crm.due_steps.

        Each phase is its own transaction, recorded with its name when it fails; running the chain again
        for the same run rewrites the same due steps. Returns the chain's run figures.
        """
        import logging
        import time

        from airflow.sdk import get_current_context

        from lifecycle.chains.engine import apply_exits, emit_due_steps
        from lifecycle.chains.engine import enter as enter_chain
        from lifecycle.chains.validation import checked_chain

        get_current_context()["chain_id"] = chain_id  # names the mapped task instance in the UI
        log, started = logging.getLogger(__name__), time.monotonic()
        store, run_key, moment = warehouse(), dag_run.run_id, pendulum.parse(as_of)
        with store.held_open():  # a DuckDB file opened once for the chain's phases, not once per transaction
            with _recorded(store, chain_id, "enter", run_key):
                chain = checked_chain(store, chain_id)
                figures = enter_chain(store, chain, moment, run_key)
            log.info(
                "%s: %d candidate(s) since %s (%.1f s)",
                chain_id,
                figures.candidates,
                figures.window_start,
                time.monotonic() - started,
            )
            with _recorded(store, chain_id, "exit", run_key):
                apply_exits(store, chain, moment, run_key)
            with _recorded(store, chain_id, "due", run_key):
                figures = emit_due_steps(store, chain, moment, run_key, figures)
        log.info(
            "%s: %d entered, %d exited, %d completed, %d step(s) due, %d skipped by segment (%.1f s)",
            chain_id,
            figures.entered,
            figures.exited,
            figures.completed,
            figures.due_steps,
            figures.skipped_steps,
            time.monotonic() - started,
        )
        return figures.as_dict()

    @task(trigger_rule="all_done")
    def hand_off(as_of: str, dag_run=None) -> dict:
        """Give the due steps of every chain that finished to the contact policy at once (also when some
        chains failed: they stop only themselves)."""
        import logging
        import time
        from collections import Counter

        from lifecycle import policy

        started = time.monotonic()
        now = pendulum.parse(as_of).in_tz("UTC").naive()
        decided = policy.decide(warehouse(), run_key=dag_run.run_id, now=now)
        outcomes, reasons = Counter(), Counter()
        for row in decided["funnel"]:
            outcomes[row["outcome"]] += int(row["steps"])
            if row["reason"]:
                reasons[row["reason"]] += int(row["steps"])
        logging.getLogger(__name__).info(
            "contact policy: %d due step(s) decided in %.1f s: %s; reasons: %s",
            sum(outcomes.values()),
            time.monotonic() - started,
            ", ".join(f"{outcome} {n}" for outcome, n in outcomes.most_common()) or "none",
            ", ".join(f"{reason} {n}" for reason, n in reasons.most_common(5)) or "none",
        )
        return decided

    @task
    def write_run_note(dag_run=None) -> str:
        """A short digest of the run in its note; the Run summary tab has the whole funnel."""
        from lifecycle.reports.digest import chains_digest
        from lifecycle.reports.read import chains_run
        from lifecycle_providers.ui.run_note import post_run_note

        note = chains_digest(chains_run(warehouse(), dag_run.run_id))
        post_run_note(dag_run.dag_id, dag_run.run_id, note)
        return note

    @task(trigger_rule="all_done")
    def check_chains(dag_run=None) -> None:
        """Fail the run when any chain failed, so it is noticed; the other chains are handed off anyway."""
        from airflow.sdk.exceptions import AirflowFailException

        from lifecycle.chains.engine import ChainsFailedError, failed_chains

        failures = failed_chains(warehouse(), dag_run.run_id, CHAIN_IDS)
        if failures:  # final for this attempt of the run: clearing the failed chains' tasks re-checks
            raise AirflowFailException(str(ChainsFailedError(dag_run.run_id, failures, [])))

    as_of = validate_chains()
    preflight() >> as_of
    chains = run_chain.partial(as_of=as_of).expand(chain_id=CHAIN_IDS)
    chains >> hand_off(as_of) >> write_run_note()
    # A leaf of its own: the run fails when a chain failed, even though the hand-off and the note succeed.
    chains >> check_chains()


lifecycle_chains()
