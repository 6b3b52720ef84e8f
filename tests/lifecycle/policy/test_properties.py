"""Property tests: whatever the due steps, histories, time zones and hours, the policy never exceeds a cap,
never sends in quiet hours, never contacts without consent or against a suppression, and keeps sales at
most one in four. Each example simulates a customer through several days of hourly runs."""

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.policy.config import PolicyConfig
from lifecycle.policy.rules import (
    PLANNED,
    Customer,
    DueStep,
    Message,
    RunState,
    decide_customer,
    in_quiet_hours,
    local,
)

CONFIG = PolicyConfig()
ZONES = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Berlin",
]
START = datetime(2026, 3, 26, 0, 0)  # spans Berlin's daylight-saving change on 2026-03-29

due_step = st.builds(
    lambda hour, chain, channel, kind, priority, quiet: (hour, chain, channel, kind, priority, quiet),
    hour=st.integers(0, 24 * 6 - 1),
    chain=st.sampled_from(["abandoned_cart", "win_back", "birthday", "welcome"]),
    channel=st.sampled_from(["email", "push", "sms"]),
    kind=st.sampled_from(["content", "sale"]),
    priority=st.integers(10, 100),
    quiet=st.sampled_from(["hold", "drop"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    consents=st.fixed_dictionaries({c: st.booleans() for c in ("email", "push", "sms")}),
    suppressed=st.sets(st.sampled_from(["email", "push", "sms"])),
    newsletter_hours=st.lists(st.integers(0, 24 * 6 - 1), max_size=4),
    steps=st.lists(due_step, min_size=1, max_size=40),
)
def test_no_schedule_breaks_the_policy(zone, consents, suppressed, newsletter_hours, steps):
    customer = Customer(
        customer_id=123457,
        timezone=zone,
        email="a@example.ru",
        phone="+79990000000",
        has_push_token=True,
        consents=consents,
        suppressions={c: {"unsubscribe"} for c in suppressed},
        newsletters=[Message(START + timedelta(hours=h), "email", "content") for h in newsletter_hours],
    )
    planned: list[Message] = []
    done: set[str] = set()  # steps with a final decision; held ones come back the next hour, as in the chains
    for hour in range(24 * 6):
        now = START + timedelta(hours=hour)
        due = [
            DueStep(
                chain_id=chain,
                step_id=f"s{i}",
                instance_id=f"{chain}:{i}",
                trigger_key=str(i),
                customer_id=customer.customer_id,
                channel=channel,
                message_kind=kind,
                template="t",
                priority=priority,
                expected_value=1.0,
                due_at=START + timedelta(hours=h),
                expires_at=START + timedelta(hours=h + 48),
                quiet_hours=quiet,
            )
            for i, (h, chain, channel, kind, priority, quiet) in enumerate(steps)
            if h <= hour and f"s{i}" not in done
        ]
        for decision in decide_customer(customer, due, CONFIG, RunState(now=now)):
            if decision.outcome != "held":
                done.add(decision.step.step_id)
            if decision.outcome == PLANNED:
                planned.append(Message(now, decision.step.channel, decision.step.message_kind))
    _check(customer, planned)


def _check(customer: Customer, planned: list[Message]) -> None:
    zone = customer.zone
    received = planned + customer.newsletters
    for message in planned:
        assert customer.consents[message.channel], "sent without consent"
        assert message.channel not in customer.suppressions, "sent to a suppressed address"
        assert not in_quiet_hours(message.at, zone, CONFIG.quiet_hours.start, CONFIG.quiet_hours.end)
        day = local(message.at, zone).date()
        newsletters_that_day = sum(local(m.at, zone).date() == day for m in customer.newsletters)
        same_day = [m for m in received if local(m.at, zone).date() == day]
        assert len(same_day) <= max(CONFIG.caps.daily_total, newsletters_that_day)
        channel_day = [m for m in planned if m.channel == message.channel and local(m.at, zone).date() == day]
        assert len(channel_day) <= CONFIG.caps.daily_per_channel[message.channel]
        week = [
            m
            for m in received
            if m.channel == message.channel
            and timedelta(0) <= day - local(m.at, zone).date() <= timedelta(days=6)
        ]
        assert len(week) <= max(CONFIG.caps.weekly_per_channel[message.channel], len(customer.newsletters))
        earlier = [m for m in planned if m.at < message.at]
        assert all(message.at - m.at >= CONFIG.caps.min_gap for m in earlier)
        if message.kind == "sale":
            since = message.at - timedelta(days=CONFIG.sale_share.window_days)
            window = [m for m in received if since <= m.at <= message.at]
            assert sum(m.kind == "sale" for m in window) / len(window) <= CONFIG.sale_share.max_share
