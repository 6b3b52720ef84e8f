"""Send-time optimisation in the contact rules: a send_time: optimal step is held until the customer's best
local hour (kept inside the allowed hours and the step's freshness) and planned in that hour; the chain's
send-time holdout (fixed per customer) and the other steps go at once."""

from datetime import datetime, timedelta

from lifecycle.policy.config import PolicyConfig
from lifecycle.policy.experiments import bucket
from lifecycle.policy.rules import (
    HELD,
    PLANNED,
    Customer,
    DueStep,
    RunState,
    allowed_hour,
    decide_customer,
    local,
    send_time_arm,
)

CONFIG = PolicyConfig()
# 12:00 in Moscow (UTC+3), 19:00 in Vladivostok (UTC+10).
NOW = datetime(2026, 3, 3, 9, 0)


def _id(arm: str, holdout: float = 0.2) -> int:
    """A customer outside the global control group whose send-time arm in win_back is ``arm``."""
    return next(
        i
        for i in range(1, 10_000)
        if bucket("global_control", i) >= 0.05
        and (bucket("send_time:win_back", i) < holdout) == (arm == "default")
    )


OPTIMAL, DEFAULT = _id("optimal"), _id("default")


def step(customer_id: int = OPTIMAL, **overrides) -> DueStep:
    base = {
        "chain_id": "win_back",
        "step_id": "email_1",
        "instance_id": f"win_back:{customer_id}",
        "trigger_key": "lapse",
        "customer_id": customer_id,
        "channel": "email",
        "message_kind": "content",
        "template": "ru/win_back/email_1",
        "priority": 55,
        "expected_value": 100.0,
        "due_at": NOW - timedelta(minutes=10),
        "expires_at": NOW + timedelta(days=2),
        "send_time": "optimal",
        "send_time_holdout": 0.2,
        "best_hour": 19,
    }
    return DueStep(**(base | overrides))


def customer(customer_id: int = OPTIMAL, zone: str = "Europe/Moscow") -> Customer:
    return Customer(
        customer_id=customer_id,
        timezone=zone,
        email="anna@example.ru",
        consents={"email": True, "push": True, "sms": False},
    )


def decide(s: DueStep, c: Customer | None = None, now: datetime = NOW):
    (decision,) = decide_customer(c or customer(s.customer_id), [s], CONFIG, RunState(now=now))
    return decision


def plan(s: DueStep, c: Customer | None = None, now: datetime = NOW):
    decision = decide(s, c, now)
    assert decision.outcome == PLANNED, decision
    assert decision.send_after == now
    return decision


def wait(s: DueStep, c: Customer | None = None) -> datetime:
    """The moment a step is held until for its best hour."""
    decision = decide(s, c)
    assert (decision.outcome, decision.reason, decision.send_time_arm) == (HELD, "best_hour", "optimal")
    return decision.hold_until


def test_an_optimal_step_waits_for_the_customers_best_local_hour_and_goes_in_it():
    until = wait(step(best_hour=19))
    assert until == datetime(2026, 3, 3, 16, 0)  # 19:00 in Moscow the same day
    # the next chains run in that hour hands the step over again: now it is planned and sent
    later = step(best_hour=19)
    assert plan(later, now=until).send_time_arm == "optimal"
    assert plan(later, now=until + timedelta(minutes=40)).send_time_arm == "optimal"


def test_a_best_hour_already_past_today_is_taken_tomorrow():
    assert wait(step(best_hour=10)) == datetime(2026, 3, 4, 7, 0)  # 10:00 Moscow tomorrow


def test_in_the_best_hour_the_step_goes_at_once():
    assert plan(step(best_hour=12)).send_time_arm == "optimal"


def test_the_best_hour_is_read_on_the_customers_own_clock():
    vladivostok = customer(zone="Asia/Vladivostok")
    until = wait(step(best_hour=20), vladivostok)
    assert until == datetime(2026, 3, 3, 10, 0)  # 20:00 in Vladivostok
    assert local(until, vladivostok.zone).hour == 20


def test_a_best_hour_inside_the_quiet_hours_becomes_the_nearest_allowed_hour():
    # quiet hours 21:00-09:00: 23:00 is nearer to 20:00 than to 09:00, 06:00 nearer to 09:00
    assert allowed_hour(23, CONFIG.quiet_hours.start, CONFIG.quiet_hours.end) == 20
    assert allowed_hour(6, CONFIG.quiet_hours.start, CONFIG.quiet_hours.end) == 9
    assert allowed_hour(15, CONFIG.quiet_hours.start, CONFIG.quiet_hours.end) == 15
    assert wait(step(best_hour=23)) == datetime(2026, 3, 3, 17, 0)  # 20:00 Moscow
    assert wait(step(best_hour=3)) == datetime(2026, 3, 4, 6, 0)  # 09:00 Moscow tomorrow


def test_a_best_hour_beyond_the_freshness_falls_back_to_the_default_time():
    # due at 12:00 Moscow, fresh for 6 hours: 19:00 is too late, 17:00 is not (its whole hour fits)
    late = plan(step(best_hour=19, expires_at=NOW + timedelta(hours=6)))
    assert late.send_time_arm == "optimal"
    assert wait(step(best_hour=17, expires_at=NOW + timedelta(hours=6))) == datetime(2026, 3, 3, 14, 0)


def test_the_holdout_goes_at_the_default_time():
    assert plan(step(DEFAULT)).send_time_arm == "default"


def test_default_steps_service_messages_and_unknown_hours_go_at_once():
    assert plan(step(send_time="default")).send_time_arm is None
    assert plan(step(message_kind="service")).send_time_arm is None
    assert plan(step(best_hour=None)).send_time_arm == "optimal"


def test_the_holdout_is_the_configured_share_and_fixed_per_customer():
    arms = [send_time_arm(step(i, send_time_holdout=0.3), i) for i in range(1, 5001)]
    share = arms.count("default") / len(arms)
    assert 0.28 < share < 0.32
    assert arms == [send_time_arm(step(i, send_time_holdout=0.3), i) for i in range(1, 5001)]
    # another chain's holdout is drawn independently
    other = [send_time_arm(step(i, chain_id="cross_sell", send_time_holdout=0.3), i) for i in range(1, 5001)]
    assert other != arms


def test_the_other_rules_come_first_and_the_wait_blocks_lower_chains_as_a_quiet_hours_hold_does():
    night = datetime(2026, 3, 3, 20, 0)  # 23:00 in Moscow: quiet hours
    held = decide(step(best_hour=19), now=night)
    assert (held.outcome, held.reason) == (HELD, "quiet_hours")
    other = step(chain_id="cross_sell", step_id="email_1", priority=10, send_time="default")
    decisions = decide_customer(customer(), [step(best_hour=19), other], CONFIG, RunState(now=NOW))
    assert [(d.step.chain_id, d.outcome, d.reason) for d in decisions] == [
        ("win_back", HELD, "best_hour"),
        ("cross_sell", "suppressed", "arbitration_lost"),
    ]
