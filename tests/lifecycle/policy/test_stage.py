"""The policy stage on real DuckDB and PostgreSQL: due steps in, decisions, ledger and assignments out."""

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from lifecycle.policy import decide
from lifecycle.policy.experiments import bucket

NOW = datetime(2026, 3, 3, 9, 0)  # 12:00 in Moscow
RUN = "chains-run-1"


def _ids(count):
    """Customer ids outside the global control group, so every rule is visible."""
    return [i for i in range(1, 10_000) if bucket("global_control", i) >= 0.05][:count]


def _due(customer_id, chain="abandoned_cart", step="email_1", channel="email", run_key=RUN, **overrides):
    row = {
        "run_key": run_key,
        "chain_id": chain,
        "step_id": step,
        "step_no": 1,
        "instance_id": f"{chain}:{customer_id}:k",
        "trigger_key": "k",
        "customer_id": customer_id,
        "channel": channel,
        "message_kind": "content",
        "template": f"ru/{chain}/{step}",
        "priority": 90,
        "expected_value": 100.0,
        "due_at": NOW - timedelta(hours=1),
        "expires_at": NOW + timedelta(hours=12),
        "quiet_hours": "hold",
        "holdout_share": 0.0,
        "variants": json.dumps([{"id": "A", "weight": 1}]),
        "use_bandit": False,
        "send_condition": None,
        "consent_scope": None,
        "context": '{"product_id": 1}',
    }
    return row | overrides


def _customer(customer_id, **overrides):
    row = {
        "customer_id": customer_id,
        "email": f"c{customer_id}@example.ru",
        "timezone": "Europe/Moscow",
        "registered_at": NOW - timedelta(days=30),
        "email_consent": True,
        "push_consent": True,
        "sms_consent": False,
        "updated_at": NOW - timedelta(days=30),
        "loaded_at": NOW - timedelta(days=30),
    }
    return row | overrides


def _insert(warehouse, table, rows):
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, table, pd.DataFrame(rows))


def _rows(warehouse, sql):
    with warehouse.begin() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


@pytest.fixture
def scenario(migrated):
    a, b, c, d = _ids(4)
    _insert(
        migrated,
        "crm.customers",
        [
            _customer(a),
            _customer(b, email_consent=False),
            _customer(c, timezone="Asia/Kamchatka"),
            _customer(d),
        ],
    )
    _insert(
        migrated,
        "crm.due_steps",
        [
            _due(a),
            _due(a, chain="win_back", priority=40),
            _due(b),
            _due(c),
            _due(d, message_kind="sale"),
        ],
    )
    return migrated, (a, b, c, d)


def test_every_due_step_gets_one_decision_and_planned_ones_reach_the_ledger(scenario):
    warehouse, (a, b, c, d) = scenario
    result = decide(warehouse, RUN, NOW)
    assert result["due_steps"] == 5
    decisions = dict(
        ((cid, chain), (outcome, reason))
        for cid, chain, outcome, reason in _rows(
            warehouse, "SELECT customer_id, chain_id, outcome, reason FROM crm.decisions"
        )
    )
    assert decisions == {
        (a, "abandoned_cart"): ("planned", None),
        (a, "win_back"): ("suppressed", "arbitration_lost"),
        (b, "abandoned_cart"): ("suppressed", "no_consent"),
        (c, "abandoned_cart"): ("held", "quiet_hours"),
        (d, "abandoned_cart"): ("suppressed", "sale_share"),
    }
    assert _rows(warehouse, "SELECT send_key, state, variant, context FROM crm.send_ledger") == [
        (f"abandoned_cart:email_1:k:{a}:email", "planned", "A", '{"product_id": 1}')
    ]
    assert _rows(warehouse, "SELECT experiment_id, customer_id, arm FROM crm.experiment_assignments") == [
        ("ab:abandoned_cart:email_1", a, "A")
    ]


def test_rerunning_a_run_changes_nothing(scenario):
    warehouse, _ = scenario
    first = decide(warehouse, RUN, NOW)
    snapshot = [
        _rows(warehouse, f"SELECT * FROM crm.{t} ORDER BY 1, 2") for t in ("decisions", "send_ledger")
    ]
    assert decide(warehouse, RUN, NOW) == first
    assert [
        _rows(warehouse, f"SELECT * FROM crm.{t} ORDER BY 1, 2") for t in ("decisions", "send_ledger")
    ] == snapshot


def test_a_later_run_counts_what_earlier_runs_planned(scenario):
    warehouse, (a, *_rest) = scenario
    decide(warehouse, RUN, NOW)
    _insert(warehouse, "crm.due_steps", [_due(a, chain="birthday", step="email_1", run_key="chains-run-2")])
    decide(warehouse, "chains-run-2", NOW + timedelta(hours=1))
    assert _rows(
        warehouse, "SELECT outcome, reason, hold_until FROM crm.decisions WHERE run_key = 'chains-run-2'"
    ) == [("held", "min_gap", NOW + timedelta(hours=4))]


def test_suppressions_and_newsletters_from_the_warehouse_apply(migrated):
    a, b = _ids(2)
    _insert(migrated, "crm.customers", [_customer(a), _customer(b)])
    _insert(
        migrated,
        "crm.suppressions",
        [
            {
                "channel": "email",
                "address": f"c{a}@example.ru",
                "customer_id": None,
                "reason": "unsubscribe",
                "source": "sendgrid",
                "created_at": NOW,
            }
        ],
    )
    _insert(
        migrated,
        "crm.content_mailings",
        [
            {
                "mailing_id": 1,
                "name": "Новинки недели",
                "channel": "email",
                "kind": "content",
                "audience": "all",
                "scheduled_at": NOW + timedelta(hours=3),
                "loaded_at": NOW,
            }
        ],
    )
    _insert(migrated, "crm.due_steps", [_due(a), _due(b, priority=50)])
    decide(migrated, RUN, NOW)
    assert _rows(migrated, "SELECT customer_id, outcome, reason FROM crm.decisions ORDER BY customer_id") == [
        (a, "suppressed", "suppressed_address"),
        (b, "held", "content_mailing_day"),
    ]


def test_engagement_with_the_email_cancels_the_push(migrated):
    (a,) = _ids(1)
    _insert(migrated, "crm.customers", [_customer(a)])
    _insert(
        migrated,
        "crm.push_tokens",
        [
            {
                "token": "tok-1",
                "customer_id": a,
                "platform": "android",
                "created_at": NOW,
                "is_active": True,
                "loaded_at": NOW,
            }
        ],
    )
    _insert(migrated, "crm.due_steps", [_due(a, run_key="r0")])
    decide(migrated, "r0", NOW - timedelta(hours=2))
    send_key = _rows(migrated, "SELECT send_key FROM crm.send_ledger")[0][0]
    _insert(
        migrated,
        "crm.message_events",
        [
            {
                "provider": "sandbox",
                "provider_event_id": "e1",
                "send_key": send_key,
                "event_type": "open",
                "occurred_at": NOW,
                "received_at": NOW,
            }
        ],
    )
    _insert(
        migrated,
        "crm.due_steps",
        [_due(a, step="push_1", channel="push", send_condition="no_engagement_with:email_1")],
    )
    decide(migrated, RUN, NOW)
    assert _rows(migrated, f"SELECT outcome, reason FROM crm.decisions WHERE run_key = '{RUN}'") == [
        ("suppressed", "condition_not_met")
    ]


def test_the_bandit_sends_new_customers_to_the_variant_that_converts(migrated):
    from lifecycle.policy.config import Experiments, PolicyConfig

    sent_at = NOW - timedelta(days=3)
    ledger = []
    for variant, first in (("A", 1001), ("B", 2001)):
        for cid in range(first, first + 6):
            ledger.append(
                {
                    "send_key": f"abandoned_cart:email_1:k{cid}:{cid}:email",
                    "chain_id": "abandoned_cart",
                    "step_id": "email_1",
                    "instance_id": f"i{cid}",
                    "trigger_key": f"k{cid}",
                    "customer_id": cid,
                    "channel": "email",
                    "message_kind": "content",
                    "template": "t",
                    "variant": variant,
                    "context": "{}",
                    "planned_at": sent_at,
                    "send_after": sent_at,
                    "local_send_date": sent_at.date(),
                    "expires_at": sent_at,
                    "run_key": "old",
                    "state": "sent",
                    "attempts": 1,
                    "sent_at": sent_at,
                    "updated_at": sent_at,
                }
            )
    _insert(migrated, "crm.send_ledger", ledger)
    _insert(
        migrated,
        "crm.orders",
        [
            {
                "order_id": cid,
                "customer_id": cid,
                "channel": "online",
                "status": "paid",
                "total_amount": 100.0,
                "discount_amount": 0.0,
                "ordered_at": sent_at + timedelta(days=1),
                "updated_at": sent_at,
                "loaded_at": sent_at,
            }
            for cid in range(2001, 2006)
        ],
    )
    fresh = _ids(40)
    _insert(migrated, "crm.customers", [_customer(cid) for cid in fresh])
    ab = json.dumps([{"id": "A", "weight": 0.5}, {"id": "B", "weight": 0.5}])
    _insert(migrated, "crm.due_steps", [_due(cid, variants=ab, use_bandit=True) for cid in fresh])
    config = PolicyConfig(experiments=Experiments(global_control_share=0.0, bandit_min_sample=5))
    decide(migrated, RUN, NOW, config)
    variants = [v for (v,) in _rows(migrated, f"SELECT variant FROM crm.decisions WHERE run_key = '{RUN}'")]
    assert len(variants) == 40
    assert variants.count("B") >= 32  # B converted 5 of 6, A none of 6


def test_timed_steps_wait_for_the_best_hour_with_fallbacks_and_record_their_arm(migrated):
    """A send_time: optimal step is held until the customer's learned hour, else their segment's, else the
    shop's, and planned in it; the holdout goes now; the arm reaches the ledger and the assignments."""
    ids = [i for i in _ids(400) if bucket("send_time:win_back", i) >= 0.2]
    own, segment, shop = ids[:3]
    held = next(i for i in _ids(400) if bucket("send_time:win_back", i) < 0.2)
    customers = (own, segment, shop, held)
    _insert(migrated, "crm.customers", [_customer(c) for c in customers])
    day = NOW.date() - timedelta(days=1)
    _insert(
        migrated,
        "crm.send_hour_profiles",
        [
            {"as_of": day, "segment": seg, "hour": h, "responses": 0.0, "probability": p}
            for seg, peak in (("*", 18), ("333", 14))
            for h in range(24)
            for p in [0.5 if h == peak else 0.5 / 23]
        ],
    )
    _insert(
        migrated,
        "crm.customer_send_hours",
        [
            {
                "as_of": day,
                "customer_id": own,
                "segment": "333",
                "best_hour": 10,
                "responses": 5.0,
                "probability": 0.3,
            }
        ],
    )
    _insert(
        migrated,
        "crm.customer_scores",
        [
            {
                "as_of": day,
                "customer_id": segment,
                "recency_days": 1,
                "frequency": 3,
                "avg_check": 1.0,
                "r": 3,
                "f": 3,
                "m": 3,
                "rfm_code": "333",
                "segment_ru": "x",
                "segment_en": "x",
                "scored_at": NOW,
            }
        ],
    )
    timed = {"send_time": "optimal", "send_time_holdout": 0.2, "expires_at": NOW + timedelta(days=2)}
    _insert(migrated, "crm.due_steps", [_due(c, chain="win_back", **timed) for c in customers])
    decide(migrated, RUN, NOW)
    decided = {
        r[0]: r[1:]
        for r in _rows(
            migrated, "SELECT customer_id, outcome, reason, hold_until, send_time_arm FROM crm.decisions"
        )
    }
    # Moscow is UTC+3; NOW is 12:00 there
    assert decided[own] == ("held", "best_hour", datetime(2026, 3, 4, 7, 0), "optimal")  # 10:00 tomorrow
    assert decided[segment] == ("held", "best_hour", datetime(2026, 3, 3, 11, 0), "optimal")  # 14:00
    assert decided[shop] == ("held", "best_hour", datetime(2026, 3, 3, 15, 0), "optimal")  # 18:00
    assert decided[held] == ("planned", None, None, "default")
    # the chains run of 14:00 in Moscow hands the segment customer's step over again: planned, sent now
    later = datetime(2026, 3, 3, 11, 0)
    _insert(migrated, "crm.due_steps", [_due(segment, chain="win_back", run_key="chains-run-2", **timed)])
    decide(migrated, "chains-run-2", later)
    planned = {
        r[0]: r[1:]
        for r in _rows(migrated, "SELECT customer_id, send_after, send_time_arm FROM crm.send_ledger")
    }
    assert planned == {held: (NOW, "default"), segment: (later, "optimal")}
    arms = dict(
        _rows(
            migrated,
            "SELECT customer_id, arm FROM crm.experiment_assignments"
            " WHERE experiment_id = 'send_time:win_back'",
        )
    )
    assert arms == {segment: "optimal", held: "default"}
