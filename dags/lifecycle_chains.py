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
can never take effect (as `python -m lifecycle chains check` does). `run_chains` then runs every chain: each
chain's entry query on its own, so a broken chain fails with that message (logged, recorded with the phase
`enter`) while the others go on; then all chains advance together, one statement per step for all of them
(progress, entries, exits, due steps), in one transaction. `check_chains` fails the run and the Run summary
tab lists the failed chains with the phase (`enter`, `exit` or `due`). Fix the file and clear `run_chains`
and `hand_off`: clearing is safe, a run rewrites the same due steps for its run id and the policy decides
them again identically. `run_chains` itself fails only when no chain ran at all.
Two chains runs, or two policy runs, never plan at the same time: they take turns on a warehouse lock, and one
that waits too long fails with "another … run is active since …". One task for all chains rather than one per
chain: under a scheduler every task instance is its own process with about a second of start-up, and the
chains' shared statements cost about as much for one chain as for all of them.
`crm.chain_runs` and `crm.chain_instances` (exit_reason) explain who entered and who left.
"""

import os
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

    @task
    def run_chains(as_of: str, dag_run=None) -> list[dict]:
        """Every chain's hour: each chain's new entries since its watermark (a broken file or query stops only
        its own chain), then all chains advanced together: exits, then due steps into crm.due_steps.

        Running it again for the same run rewrites the same due steps. Returns the figures of the chains
        that ran; the failed ones are recorded for `check_chains` and the Run summary tab.
        """
        import logging
        import time

        from airflow.sdk.exceptions import AirflowFailException

        from lifecycle.chains.engine import ChainsFailedError, failure_recorded
        from lifecycle.chains.engine import run_chains as run_all
        from lifecycle.chains.validation import checked_chain

        log, started = logging.getLogger(__name__), time.monotonic()
        store, run_key, moment = warehouse(), dag_run.run_id, pendulum.parse(as_of)
        chains, figures = {}, []
        with store.held_open():  # a DuckDB file opened once for the whole run, not once per transaction
            for chain_id in CHAIN_IDS:
                try:
                    with failure_recorded(store, chain_id, run_key, "enter"):
                        chains[chain_id] = checked_chain(store, chain_id)
                except Exception:
                    log.exception("chain %s is broken and does not run", chain_id)
            try:
                figures = run_all(store, moment, run_key, chains) if chains else []
            except ChainsFailedError as exc:
                log.error("%s", exc)
                figures = exc.figures
        for f in figures:
            log.info(
                "%s: %d candidate(s) since %s, %d entered, %d exited, %d completed, %d step(s) due, "
                "%d skipped by segment",
                f.chain_id,
                f.candidates,
                f.window_start,
                f.entered,
                f.exited,
                f.completed,
                f.due_steps,
                f.skipped_steps,
            )
        log.info("%d of %d chain(s) ran in %.1f s", len(figures), len(CHAIN_IDS), time.monotonic() - started)
        if not figures:
            raise AirflowFailException(f"no chain ran in {run_key}: every chain failed (see above)")
        return [f.as_dict() for f in figures]

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
    chains = run_chains(as_of)
    chains >> hand_off(as_of) >> write_run_note()
    # A leaf of its own: the run fails when a chain failed, even though the hand-off and the note succeed.
    chains >> check_chains()


lifecycle_chains()
