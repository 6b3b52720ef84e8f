"""The hand-built warehouse of the UI tests: the report rows of tests/lifecycle/reports plus a chains run and
its predecessor, an ingest run and a scores run, with the report tables built for 2026-03-31."""

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

ROWS = Path(__file__).resolve().parents[2] / "lifecycle" / "reports" / "report_rows.py"
RUN = "manual__2026-03-02T10:00:00+00:00"
PREVIOUS_RUN = "manual__2026-03-02T09:00:00+00:00"
#: The timed messages of March (sent, opened, clicked) per chain and send-time arm: win-back has enough in
#: both arms for a difference (40 % against 20 % opened), cross-sell too few at the default time.
SEND_TIME_ARMS = {
    ("win_back", "optimal"): (120, 48, 12),
    ("win_back", "default"): (110, 22, 5),
    ("cross_sell", "optimal"): (30, 9, 2),
    ("cross_sell", "default"): (8, 2, 0),
}
#: The steps with their own holdout decided in March (customers per arm, buyers per arm, the holdout share the
#: policy's bucket splits them by): win-back's SMS with a clear effect (half of the treated buy, 15 % of the
#: held out), an SMS of cross-sell with too few customers to say, a birthday SMS with enough customers but too
#: few buyers for its revenue.
STEP_HOLDOUT_ARMS = {
    ("win_back", "sms_1"): {"treated": (150, 75), "holdout": (120, 18), "share": 0.2},
    ("cross_sell", "sms_1"): {"treated": (40, 10), "holdout": (12, 2), "share": 0.2},
    ("birthday", "sms_1"): {"treated": (110, 12), "holdout": (105, 4), "share": 0.5},
}
#: What one treated SMS cost in the ledger (2 segments at 3.00).
SMS_COST = 6.0


def _rows_module():
    spec = importlib.util.spec_from_file_location("report_rows", ROWS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decision(run_key, n, outcome, reason=None, send_key=None, customer_id=1, step="email_1", at=None):
    return {
        "run_key": run_key,
        "instance_id": f"i{n}",
        "step_id": step,
        "channel": "email",
        "chain_id": "cart",
        "customer_id": customer_id,
        "outcome": outcome,
        "reason": reason,
        "send_key": send_key,
        "variant": "A" if send_key else None,
        "decided_at": at,
    }


def _due(run_key, n, customer_id=1):
    at = datetime(2026, 3, 2, 10)
    return {
        "run_key": run_key,
        "chain_id": "cart",
        "step_id": "email_1",
        "step_no": 0,
        "instance_id": f"i{n}",
        "trigger_key": "t",
        "customer_id": customer_id,
        "channel": "email",
        "message_kind": "content",
        "template": "x",
        "priority": 90,
        "expected_value": 1.0,
        "due_at": at,
        "expires_at": at + timedelta(hours=12),
        "quiet_hours": "hold",
        "holdout_share": 0.5,
        "variants": "[]",
        "use_bandit": False,
        "context": "{}",
    }


def build_ui_warehouse(path):
    """DuckDB with the report rows, a chains run and its predecessor, an ingest run and a scores run."""
    import pandas as pd

    from lifecycle.migrations import migrate
    from lifecycle.reports.build import build_reports
    from lifecycle.warehouse import Warehouse

    rows = _rows_module()
    wh = Warehouse(f"duckdb:///{path}")
    migrate(wh)
    rows.build_fixture_rows(wh)
    build_reports(
        wh, rows.REPORT_DATE, "r", chains=rows.CHAINS, policy=rows._policy(), now=datetime(2026, 4, 1)
    )
    t1, t0 = datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 9)
    decisions = [
        _decision(RUN, 1, "planned", send_key="s1", at=t1),
        _decision(RUN, 2, "planned", send_key="s3", customer_id=2, at=t1),
        _decision(RUN, 3, "held", "quiet_hours", at=t1),
        _decision(RUN, 4, "suppressed", "holdout", at=t1),
        _decision(RUN, 5, "suppressed", "daily_cap", at=t1),
        _decision(PREVIOUS_RUN, 1, "planned", send_key="s0", at=t0),
        _decision(PREVIOUS_RUN, 2, "held", "quiet_hours", at=t0),
    ]
    due = [_due(RUN, n) for n in range(1, 6)] + [_due(PREVIOUS_RUN, n) for n in (1, 2)]
    with wh.begin() as conn:
        wh.insert_df(conn, "crm.decisions", pd.DataFrame(decisions))
        wh.insert_df(conn, "crm.due_steps", pd.DataFrame(due))
        conn.exec_driver_sql(f"UPDATE crm.send_ledger SET run_key = '{RUN}' WHERE send_key IN ('s1', 's3')")
        # the chains phases of the run: 4 customers entered the cart chain, 3 left it (2 bought, 1 moved on)
        conn.exec_driver_sql(
            f"INSERT INTO crm.chain_runs VALUES ('{RUN}', 'cart', '2026-03-02 10:00', '2026-03-02 09:00', 6,"
            " 4, 3, 0, 5, 0, '2026-03-02 10:01')"
        )
        for n, reason in enumerate(("purchased", "purchased", "moved_to:welcome"), start=1):
            conn.exec_driver_sql(
                f"INSERT INTO crm.chain_instances VALUES ('x{n}', 'cart', {900 + n}, 't{n}', NULL,"
                " '2025-06-01 08:00', '2025-06-01 09:00', 'old-run', 'exited', "
                f"'{reason}', '2026-03-02 10:00', '{RUN}', 1, NULL, NULL, '{{}}', '2026-03-02 10:00')"
            )
        # the send-time check held s3 back twice (the last message sent was too recent)
        conn.exec_driver_sql(
            "UPDATE crm.send_ledger SET hold_reason = 'min_gap', held_count = 2 WHERE send_key = 's3'"
        )
        conn.exec_driver_sql(
            "INSERT INTO crm.ingest_runs VALUES ('ingest-run', 'orders', NULL, '2026-03-02 10:00', 120, 117,"
            " 3, 0, '2026-03-02 10:05'), ('ingest-run', 'events', NULL, '2026-03-02 10:00', 500, 500, 0, 0,"
            " '2026-03-02 10:05')"
        )
        conn.exec_driver_sql(
            "INSERT INTO crm.quarantine VALUES ('orders', '1', '2026-03-02 09:00', 'negative_amount', NULL,"
            " '2026-03-02 10:05'), ('orders', '2', '2026-03-02 09:00', 'unknown_customer', NULL,"
            " '2026-03-02 10:05'), ('orders', '3', '2026-03-02 09:00', 'negative_amount', NULL,"
            " '2026-03-02 10:05')"
        )
        # the expected next orders of the newest scores: customer 1 in 5 days, 2 in 20, 3 without a date
        conn.exec_driver_sql(
            "UPDATE crm.customer_scores"
            " SET next_order_date = as_of + CASE customer_id WHEN 1 THEN 5 ELSE 20 END,"
            " next_order_basis = 'own_rhythm' WHERE as_of = '2026-03-31' AND customer_id IN (1, 2)"
        )
        conn.exec_driver_sql(
            "INSERT INTO crm.score_runs (as_of, run_key, customers, churn_model_version, ltv_model_version,"
            " rfm_method, rfm_cuts, seconds, scored_at)"
            " VALUES ('2026-03-31', 'scores-run', 3, 4, 2, 'quantile', '{}', 1.5, '2026-04-01 03:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO crm.model_registry (model_name, version, trained_at, train_from, train_to,"
            " validation_as_of, horizon_days, features, settings, auc, brier, metrics, artefact, status,"
            " decision, decided_at) VALUES ('churn', 4, '2026-03-01', '2025-01-01', '2025-12-01',"
            " '2026-01-01', 90, '[]', '{}', 0.81, 0.17, '{}', '\\x00'::BLOB, 'current', 'promoted',"
            " '2026-03-01')"
        )
    _send_time_rows(wh, rows)
    _step_holdout_rows(wh, rows)
    return wh


def _step_holdout_rows(wh, rows) -> None:
    """The decisions of :data:`STEP_HOLDOUT_ARMS` (12 March, after the reports were built), each customer in
    the arm the policy's bucket puts them (``lifecycle.policy.rules.in_step_holdout``), the treated SMS in the
    send ledger with their segments and cost, and the purchases two days later."""
    import pandas as pd

    from lifecycle.policy.rules import DueStep, in_step_holdout

    at = datetime(2026, 3, 12, 12)
    decisions, ledger, orders = [], [], []
    customer = 70_000
    for (chain, step_id), arms in STEP_HOLDOUT_ARMS.items():
        step = DueStep(
            chain_id=chain,
            step_id=step_id,
            instance_id="",
            trigger_key="",
            customer_id=0,
            channel="sms",
            message_kind="sale",
            template="x",
            priority=0,
            expected_value=0.0,
            due_at=at,
            expires_at=at,
            step_holdout_share=arms["share"],
        )
        picked = {"treated": [], "holdout": []}
        while any(len(picked[arm]) < arms[arm][0] for arm in picked):
            customer += 1
            arm = "holdout" if in_step_holdout(step, customer) else "treated"
            if len(picked[arm]) < arms[arm][0]:
                picked[arm].append(customer)
        for arm, customers in picked.items():
            for k, cid in enumerate(customers):
                key = f"sl-{chain}-{step_id}-{cid}"
                treated = arm == "treated"
                decisions.append(
                    {
                        "run_key": "sl",
                        "instance_id": f"{chain}:{cid}",
                        "step_id": step_id,
                        "channel": "sms",
                        "chain_id": chain,
                        "customer_id": cid,
                        "outcome": "planned" if treated else "suppressed",
                        "reason": None if treated else "step_holdout",
                        "variant": "A" if treated else None,
                        "send_key": key if treated else None,
                        "send_after": at if treated else None,
                        "decided_at": at,
                        "step_arm": arm,
                    }
                )
                if treated:
                    ledger.append(
                        rows._ledger(key, cid, chain, step_id, at)
                        | {
                            "instance_id": f"{chain}:{cid}",
                            "channel": "sms",
                            "message_kind": "sale",
                            "run_key": "sl",
                            "segments": 2,
                            "cost": SMS_COST,
                            "delivery_status": "delivered",
                        }
                    )
                if k < arms[arm][1]:
                    amount = (2000.0 if treated else 1500.0) + k
                    orders.append(
                        {
                            "order_id": 700_000 + len(orders),
                            "customer_id": cid,
                            "ordered_at": at + timedelta(days=2),
                            "channel": "online",
                            "status": "completed",
                            "total_amount": amount,
                            "discount_amount": 0.0,
                            "updated_at": at + timedelta(days=2),
                            "loaded_at": at + timedelta(days=2),
                        }
                    )
    with wh.begin() as conn:
        wh.insert_df(conn, "crm.decisions", pd.DataFrame(decisions))
        wh.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        wh.insert_df(conn, "crm.orders", pd.DataFrame(orders))


def _send_time_rows(wh, rows) -> None:
    """The timed messages of :data:`SEND_TIME_ARMS` (sent on 10 March, after the reports were built, so the
    report tables are unchanged) and the learned send hours of the newest scores: customer 1 from their own
    responses at 08:00 (their segment 311 reads at 19:00), the chain's entrants (segment 'none') from their
    segment's profile, customer 2 (segment 333, no responses) from the shop's."""
    import pandas as pd

    at = datetime(2026, 3, 10, 16)
    ledger, events = [], []
    customer = 60_000
    for (chain, arm), (sent, opened, clicked) in SEND_TIME_ARMS.items():
        for i in range(sent):
            customer += 1
            key = f"st-{chain}-{arm}-{i}"
            ledger.append(
                rows._ledger(key, customer, chain, "email_1", at) | {"run_key": "st", "send_time_arm": arm}
            )
            if i < opened:
                events.append(rows._event(key, key, "open", at + timedelta(hours=1)))
            if i < clicked:
                events.append(rows._event(f"{key}-c", key, "click", at + timedelta(hours=1)))
    as_of = rows.REPORT_DATE
    profiles = [
        {
            "as_of": as_of,
            "segment": segment,
            "hour": h,
            "responses": 1.0,
            "probability": 0.5 if h == best else 0.02,
        }
        for segment, best in (("*", 20), ("311", 19), ("none", 18))
        for h in range(24)
    ]
    hours = [
        {
            "as_of": as_of,
            "customer_id": 1,
            "segment": "311",
            "best_hour": 8,
            "responses": 4.0,
            "probability": 0.4,
        }
    ]
    with wh.begin() as conn:
        wh.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        wh.insert_df(conn, "crm.message_events", pd.DataFrame(events))
        wh.insert_df(conn, "crm.send_hour_profiles", pd.DataFrame(profiles))
        wh.insert_df(conn, "crm.customer_send_hours", pd.DataFrame(hours))
