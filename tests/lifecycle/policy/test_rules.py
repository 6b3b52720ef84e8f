"""Each contact rule on hand-built cases, and collisions between rules and between chains."""

from datetime import datetime, timedelta

import pytest

from lifecycle.policy.config import PolicyConfig
from lifecycle.policy.experiments import bucket
from lifecycle.policy.rules import (
    HELD,
    PLANNED,
    SUPPRESSED,
    Customer,
    DueStep,
    Message,
    RunState,
    decide_customer,
    next_window_open,
)

CONFIG = PolicyConfig()
# 12:00 in Moscow (UTC+3) on a Tuesday: inside the sending window.
NOW = datetime(2026, 3, 3, 9, 0)


def _customer_id(outside_control=True):
    """A customer id outside (or inside) the 5 % global control group, found deterministically."""
    return next(i for i in range(1, 10_000) if (bucket("global_control", i) >= 0.05) == outside_control)


CID = _customer_id()


def step(**overrides):
    base = {
        "chain_id": "abandoned_cart",
        "step_id": "email_1",
        "instance_id": f"abandoned_cart:{CID}:cart-1",
        "trigger_key": "cart-1",
        "customer_id": CID,
        "channel": "email",
        "message_kind": "content",
        "template": "ru/abandoned_cart/email_1",
        "priority": 90,
        "expected_value": 500.0,
        "due_at": NOW - timedelta(minutes=30),
        "expires_at": NOW + timedelta(hours=12),
    }
    return DueStep(**(base | overrides))


def customer(**overrides):
    base = {
        "customer_id": CID,
        "timezone": "Europe/Moscow",
        "email": "anna@example.ru",
        "has_push_token": True,
        "consents": {"email": True, "push": True, "sms": False},
    }
    return Customer(**(base | overrides))


def decide(cust, steps, now=NOW, config=CONFIG, **run):
    return decide_customer(cust, steps, config, RunState(now=now, **run))


def only(decisions):
    (decision,) = decisions
    return decision.outcome, decision.reason


def test_an_eligible_step_is_planned_now_with_a_variant():
    (decision,) = decide(customer(), [step()])
    assert (decision.outcome, decision.variant, decision.send_after) == (PLANNED, "A", NOW)


@pytest.mark.parametrize(
    ("cust", "due", "reason"),
    [
        (customer(), step(expires_at=NOW - timedelta(minutes=1)), "expired"),
        (customer(email="not-an-address"), step(), "invalid_address"),
        (customer(email=None), step(), "invalid_address"),
        (customer(has_push_token=False), step(channel="push", step_id="push_1"), "no_push_token"),
        (customer(suppressions={"email": {"unsubscribe"}}), step(), "suppressed_address"),
        (customer(consents={"email": False}), step(), "no_consent"),
        (customer(customer_id=_customer_id(False)), step(customer_id=_customer_id(False)), "global_control"),
        (customer(), step(holdout_share=1.0), "holdout"),
        (
            customer(engaged_steps={(f"abandoned_cart:{CID}:cart-1", "email_1")}),
            step(channel="push", step_id="push_1", send_condition="no_engagement_with:email_1"),
            "condition_not_met",
        ),
        (customer(), step(message_kind="sale"), "sale_share"),
        (
            customer(history=[Message(NOW - timedelta(days=d), "email", "content") for d in range(1, 7)]),
            step(),
            "weekly_cap",
        ),
    ],
)
def test_each_rule_suppresses_with_its_reason(cust, due, reason):
    assert only(decide(cust, [due])) == (SUPPRESSED, reason)


def test_push_condition_passes_when_the_email_got_no_action():
    due = step(channel="push", step_id="push_1", send_condition="no_engagement_with:email_1")
    assert only(decide(customer(), [due])) == (PLANNED, None)


def test_quiet_hours_hold_until_the_local_morning_or_drop():
    late = datetime(2026, 3, 3, 19, 30)  # 22:30 in Moscow
    (held,) = decide(customer(), [step(expires_at=late + timedelta(days=1))], now=late)
    assert (held.outcome, held.reason, held.hold_until) == (HELD, "quiet_hours", datetime(2026, 3, 4, 6, 0))
    assert only(decide(customer(), [step(quiet_hours="drop")], now=late)) == (SUPPRESSED, "quiet_hours")


def test_quiet_hours_are_the_customers_own():
    # 09:00 UTC is 19:00 in Vladivostok (sending) but 21:00 in Kamchatka (quiet).
    assert only(decide(customer(timezone="Asia/Vladivostok"), [step()]))[0] == PLANNED
    assert only(decide(customer(timezone="Asia/Kamchatka"), [step()])) == (HELD, "quiet_hours")


def test_daily_caps_are_counted_by_local_calendar_day():
    # Two emails at 00:30 and 01:00 local time today (Vladivostok, UTC+10) hit the email cap of 2 a day;
    # the same moments were "yesterday" in UTC, which must not matter.
    vlad = customer(
        timezone="Asia/Vladivostok",
        history=[
            Message(datetime(2026, 3, 2, 14, 30), "email", "content"),
            Message(datetime(2026, 3, 2, 15, 0), "email", "content"),
        ],
    )
    (held,) = decide(vlad, [step()], now=datetime(2026, 3, 3, 0, 0))  # 10:00 local
    assert (held.outcome, held.reason) == (HELD, "daily_cap")
    assert held.hold_until == datetime(2026, 3, 3, 23, 0)  # 09:00 local tomorrow


def test_the_total_daily_cap_counts_every_channel_and_the_newsletter():
    busy = customer(
        history=[
            Message(NOW - timedelta(hours=5), "push", "content"),
            Message(NOW - timedelta(hours=6), "email", "content"),
        ],
        newsletters=[Message(NOW + timedelta(hours=3), "email", "content")],
    )
    (decision,) = decide(busy, [step(priority=95)])
    assert (decision.outcome, decision.reason) == (HELD, "daily_cap")


def test_min_gap_holds_until_the_gap_has_passed():
    recent = customer(history=[Message(NOW - timedelta(hours=1), "push", "content")])
    (decision,) = decide(recent, [step()])
    assert (decision.outcome, decision.reason, decision.hold_until) == (
        HELD,
        "min_gap",
        NOW + timedelta(hours=3),
    )


def test_a_newsletter_day_holds_triggers_unless_the_chain_outranks_it():
    reader = customer(newsletters=[Message(NOW + timedelta(hours=2), "email", "content")])
    assert only(decide(reader, [step(priority=50)])) == (HELD, "content_mailing_day")
    assert only(decide(reader, [step(priority=90)]))[0] == PLANNED


def test_one_winner_per_customer_priority_then_value():
    steps = [
        step(chain_id="win_back", instance_id="w", priority=40, expected_value=9000.0),
        step(chain_id="abandoned_cart", instance_id="c", priority=90, expected_value=100.0),
        step(chain_id="abandoned_browse", instance_id="b", priority=90, expected_value=50.0),
    ]
    outcomes = {d.step.chain_id: (d.outcome, d.reason) for d in decide(customer(), steps)}
    assert outcomes == {
        "abandoned_cart": (PLANNED, None),
        "abandoned_browse": (SUPPRESSED, "arbitration_lost"),
        "win_back": (SUPPRESSED, "arbitration_lost"),
    }


def test_an_ineligible_top_chain_does_not_block_the_next_one():
    steps = [
        step(chain_id="abandoned_cart", instance_id="c", priority=90),
        step(chain_id="win_back", instance_id="w", priority=40, channel="push", step_id="push_1"),
    ]
    outcomes = {
        d.step.chain_id: (d.outcome, d.reason) for d in decide(customer(consents={"push": True}), steps)
    }
    assert outcomes == {"abandoned_cart": (SUPPRESSED, "no_consent"), "win_back": (PLANNED, None)}


def test_service_messages_bypass_marketing_rules_but_not_hard_bounces():
    late = datetime(2026, 3, 3, 19, 30)
    service = step(chain_id="post_purchase", message_kind="service", expires_at=late + timedelta(days=1))
    tired = customer(
        consents={"email": False},
        suppressions={"email": {"unsubscribe"}},
        history=[Message(late - timedelta(minutes=5), "email", "content")] * 3,
    )
    assert only(decide(tired, [service], now=late)) == (PLANNED, None)
    bounced = customer(suppressions={"email": {"hard_bounce"}})
    assert only(decide(bounced, [service], now=late)) == (SUPPRESSED, "suppressed_address")


def test_sale_share_allows_one_sale_in_four():
    three_content = [Message(NOW - timedelta(days=d), "email", "content") for d in (3, 4, 5)]
    assert only(decide(customer(history=list(three_content)), [step(message_kind="sale")]))[0] == PLANNED
    with_a_sale = [*three_content[:2], Message(NOW - timedelta(days=5), "email", "sale")]
    assert only(decide(customer(history=with_a_sale), [step(message_kind="sale")])) == (
        SUPPRESSED,
        "sale_share",
    )


def test_domain_warmup_holds_email_when_the_budget_is_spent():
    (decision,) = decide(customer(), [step()], domain_budget={"shop.example": 0})
    assert (decision.outcome, decision.reason) == (HELD, "domain_warmup")
    budget = {"shop.example": 1}
    decide(customer(), [step()], domain_budget=budget)
    assert budget == {"shop.example": 0}


def test_variants_follow_weights_deterministically():
    ab = step(variants=(("A", 0.5), ("B", 0.5)))
    picks = {}
    for cid in range(1, 2001):
        (d,) = decide(customer(customer_id=cid), [ab])
        if d.outcome == PLANNED:
            picks[cid] = d.variant
    share_b = sum(v == "B" for v in picks.values()) / len(picks)
    assert 0.45 < share_b < 0.55
    again = {cid: decide(customer(customer_id=cid), [ab])[0].variant for cid in list(picks)[:50]}
    assert again == {cid: picks[cid] for cid in again}


def test_daylight_saving_change_keeps_local_quiet_hours():
    # Berlin switches to summer time on 2026-03-29: 09:00 local is 08:00 UTC before and 07:00 UTC after.
    zone = customer(timezone="Europe/Berlin").zone
    before = next_window_open(datetime(2026, 3, 28, 21, 0), zone, CONFIG.quiet_hours.end)
    after = next_window_open(datetime(2026, 3, 29, 21, 0), zone, CONFIG.quiet_hours.end)
    assert (before, after) == (datetime(2026, 3, 29, 7, 0), datetime(2026, 3, 30, 7, 0))
    assert next_window_open(datetime(2026, 3, 27, 21, 0), zone, CONFIG.quiet_hours.end) == datetime(
        2026, 3, 28, 8, 0
    )


def test_opting_out_of_a_scenario_stops_only_that_scenario():
    opted_out = customer(suppressions={"email": {"unsubscribe:birthday"}})
    birthday = step(chain_id="birthday", instance_id="b", consent_scope="birthday")
    assert only(decide(opted_out, [birthday])) == (SUPPRESSED, "no_consent")
    assert only(decide(opted_out, [step()]))[0] == PLANNED


def _sms_step(**overrides):
    base = {
        "chain_id": "win_back",
        "step_id": "sms_1",
        "instance_id": f"win_back:{overrides.get('customer_id', CID)}:lapse",
        "channel": "sms",
        "message_kind": "content",  # a sale SMS alone would break the sale share
        "template": "ru/win_back/sms_1",
    }
    return step(**(base | overrides))


def _sms_customer(customer_id=CID, **overrides):
    return customer(
        **({"customer_id": customer_id, "phone": "+79161234567", "consents": {"sms": True}} | overrides)
    )


def test_a_step_holdout_keeps_a_fixed_share_from_that_step_only_when_it_would_go():
    """The step's own holdout is decided last: held-out customers are those the step would have gone to,
    the same ones every run, in the share the step asks; the others are planned as 'treated'."""
    arms = {}
    for cid in range(1, 4001):
        (decision,) = decide(_sms_customer(cid), [_sms_step(customer_id=cid, step_holdout_share=0.3)])
        if decision.reason == "global_control":
            continue
        assert (decision.outcome, decision.reason, decision.step_arm) in (
            (PLANNED, None, "treated"),
            (SUPPRESSED, "step_holdout", "holdout"),
        )
        assert decide(_sms_customer(cid), [_sms_step(customer_id=cid, step_holdout_share=0.3)])[0] == decision
        arms[cid] = decision.step_arm
    share = sum(arm == "holdout" for arm in arms.values()) / len(arms)
    assert 0.27 < share < 0.33
    # another step's holdout draws other customers
    other = [
        decide(_sms_customer(cid), [_sms_step(customer_id=cid, step_id="sms_2", step_holdout_share=0.3)])[0]
        for cid in list(arms)[:400]
    ]
    assert [d.step_arm for d in other] != [arms[cid] for cid in list(arms)[:400]]
    # without a step holdout nothing is marked
    (plain,) = decide(_sms_customer(), [_sms_step()])
    assert (plain.outcome, plain.step_arm) == (PLANNED, None)


def test_a_step_holdout_comes_after_every_other_rule():
    """A customer the step would not reach anyway (no consent, quiet hours) is not in either arm."""
    held_out = next(
        cid
        for cid in range(1, 4001)
        if decide(_sms_customer(cid), [_sms_step(customer_id=cid, step_holdout_share=0.5)])[0].step_arm
        == "holdout"
    )
    no_consent = _sms_customer(held_out, consents={"sms": False})
    (decision,) = decide(no_consent, [_sms_step(customer_id=held_out, step_holdout_share=0.5)])
    assert (decision.reason, decision.step_arm) == ("no_consent", None)
    night = NOW.replace(hour=20)  # 23:00 in Moscow
    (decision,) = decide(
        _sms_customer(held_out), [_sms_step(customer_id=held_out, step_holdout_share=0.5)], night
    )
    assert (decision.outcome, decision.reason, decision.step_arm) == (HELD, "quiet_hours", None)
    # held out, the step still won the customer's arbitration, and it is not counted against the caps
    rival = step(
        customer_id=held_out, instance_id=f"abandoned_cart:{held_out}:cart-1", priority=10, channel="sms"
    )
    cust = _sms_customer(held_out)
    decisions = decide(cust, [_sms_step(customer_id=held_out, step_holdout_share=0.5), rival])
    assert [d.reason for d in decisions] == ["step_holdout", "arbitration_lost"]
    assert cust.history == []
