"""The contact rules for one customer, as a pure function (no warehouse), so every rule and every collision
of rules can be tested directly and by property tests.

The rules run in a fixed order and the first that holds a step back names the reason. Eligibility comes
first (freshness, address, suppression, consent, control groups, step conditions), then arbitration between
chains, then timing (newsletter day, quiet hours, caps, gap, warm-up, the best hour), and last a step's own
holdout (a step that would go now is kept from the customers in it). Times are naive UTC; calendar days,
quiet hours and caps are evaluated in the customer's own time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lifecycle.delivery.sms import is_e164
from lifecycle.policy.config import PolicyConfig
from lifecycle.policy.experiments import bucket, choose_variant

PLANNED, HELD, SUPPRESSED = "planned", "held", "suppressed"
#: Every reason a due step can be held back for, in the order the rules are applied.
REASONS = {
    "expired": "the step is later than its freshness limit allows",
    "invalid_address": "no valid email address or phone number for the channel",
    "no_push_token": "no active push token",
    "suppressed_address": "the address is on the suppression list (unsubscribe, complaint, hard bounce)",
    "no_consent": "no consent for the channel, or the customer opted out of the chain's scenario",
    "global_control": "the customer is in the global control group (no trigger messages)",
    "holdout": "the customer is in the chain's holdout",
    "condition_not_met": "the step's condition does not hold (e.g. the email was already opened or clicked)",
    "arbitration_lost": "another chain with a higher priority or value won this customer in this run",
    "content_mailing_day": "the customer gets a content mailing today and the chain does not outrank it",
    "quiet_hours": "inside the customer's quiet hours",
    "sale_share": "a sale message would exceed the allowed share of sale messages",
    "weekly_cap": "the channel's weekly cap is reached",
    "daily_cap": "the day's cap (all channels or this channel) is reached",
    "min_gap": "too soon after the previous message",
    "domain_warmup": "the sending domain's daily warm-up volume is used up",
    "best_hour": "waiting for the customer's best local hour to receive messages (send_time: optimal)",
    "step_holdout": "every rule lets the step go, but the customer is in the step's own holdout",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BLOCKS_SERVICE = {"hard_bounce", "complaint"}
#: A suppression reason ``unsubscribe:<scope>`` withdraws consent to one scenario (a chain's consent_scope,
#: e.g. "birthday") on a channel, leaving the customer's other messages on that channel alone.
SCOPE_OPT_OUT = "unsubscribe:"


@dataclass(frozen=True)
class DueStep:
    chain_id: str
    step_id: str
    instance_id: str
    trigger_key: str
    customer_id: int
    channel: str
    message_kind: str
    template: str
    priority: int
    expected_value: float
    due_at: datetime
    expires_at: datetime
    quiet_hours: str = "hold"
    holdout_share: float = 0.0
    variants: tuple[tuple[str, float], ...] = (("A", 1.0),)
    use_bandit: bool = False
    send_condition: str | None = None
    consent_scope: str | None = None
    context: str = "{}"
    #: ``optimal``: send at the customer's best local hour (``best_hour``) unless the customer is in the
    #: chain's send-time holdout (``send_time_holdout``, a share of the recipients) or the hour is too late.
    send_time: str = "default"
    send_time_holdout: float = 0.0
    best_hour: int | None = None
    #: The step's own holdout (``holdout_share`` of the step): a share of the customers it would go to kept
    #: from this step alone, decided last, when every other rule lets the step go.
    step_holdout_share: float = 0.0

    @property
    def send_key(self) -> str:
        """The ledger key: chain, step, trigger key, customer and channel determine one message."""
        return f"{self.chain_id}:{self.step_id}:{self.trigger_key}:{self.customer_id}:{self.channel}"


@dataclass(frozen=True)
class Message:
    """A message the customer received or will receive: a planned/sent trigger, or a newsletter."""

    at: datetime
    channel: str
    kind: str


@dataclass
class Customer:
    customer_id: int
    timezone: str
    email: str | None = None
    phone: str | None = None
    has_push_token: bool = False
    consents: dict[str, bool] = field(default_factory=dict)
    suppressions: dict[str, set[str]] = field(default_factory=dict)
    history: list[Message] = field(default_factory=list)
    newsletters: list[Message] = field(default_factory=list)
    engaged_steps: set[tuple[str, str]] = field(default_factory=set)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Decision:
    step: DueStep
    outcome: str
    reason: str | None = None
    hold_until: datetime | None = None
    variant: str | None = None
    send_after: datetime | None = None
    #: For ``send_time: optimal`` steps: ``optimal`` (waits for the best hour) or ``default`` (the holdout).
    send_time_arm: str | None = None
    #: For steps with a step holdout: ``treated`` (planned) or ``holdout`` (kept from the step).
    step_arm: str | None = None


@dataclass
class RunState:
    """What one policy run shares across customers: bandit weights and the warm-up budget left per domain."""

    now: datetime
    variant_weights: dict[tuple[str, str], tuple[tuple[str, float], ...]] = field(default_factory=dict)
    domain_budget: dict[str, int] = field(default_factory=dict)


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone)


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def in_quiet_hours(moment: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    clock = local(moment, zone).time()
    return clock >= start or clock < end if start > end else start <= clock < end


def next_window_open(moment: datetime, zone: ZoneInfo, end: time) -> datetime:
    """The next moment (UTC) at which the local clock shows ``end`` (the end of the quiet hours)."""
    here = local(moment, zone)
    day = here.date() if here.time() < end else here.date() + timedelta(days=1)
    return to_utc(datetime.combine(day, end, tzinfo=zone))


def next_day_open(moment: datetime, zone: ZoneInfo, end: time) -> datetime:
    """The end of the quiet hours on the customer's next local day."""
    tomorrow = local(moment, zone).date() + timedelta(days=1)
    return to_utc(datetime.combine(tomorrow, end, tzinfo=zone))


def decide_customer(
    customer: Customer, steps: list[DueStep], config: PolicyConfig, run: RunState
) -> list[Decision]:
    """One decision per due step of one customer."""
    ordered = sorted(
        steps,
        key=lambda s: (
            s.message_kind != "service",
            -s.priority,
            -s.expected_value,
            s.due_at,
            s.chain_id,
            s.step_id,
            s.channel,
        ),
    )
    decisions: list[Decision] = []
    marketing_winner: DueStep | None = None
    for step in ordered:
        reason = _ineligible(customer, step, config, run.now)
        if reason is None and step.message_kind == "service":
            decisions.append(_plan(customer, step, run, config.warmup.sending_domain))
            continue
        if reason is None and marketing_winner is not None:
            reason = "arbitration_lost"
        if reason is not None:
            decisions.append(Decision(step, SUPPRESSED, reason))
            continue
        marketing_winner = step
        decision = _timing(customer, step, config, run)
        decision = decision or _best_hour_hold(customer, step, config, run)
        decision = decision or _step_holdout(customer, step)
        decisions.append(decision or _plan(customer, step, run, config.warmup.sending_domain))
    return decisions


def _ineligible(customer: Customer, step: DueStep, config: PolicyConfig, now: datetime) -> str | None:
    if now > step.expires_at:
        return "expired"
    service = step.message_kind == "service"
    address_problem = _address_problem(customer, step.channel)
    if address_problem:
        return address_problem
    reasons = customer.suppressions.get(step.channel, set())
    blocked = {reason for reason in reasons if not reason.startswith(SCOPE_OPT_OUT)}
    if blocked and (not service or blocked & _BLOCKS_SERVICE):
        return "suppressed_address"
    if service:
        return None
    if not customer.consents.get(step.channel, False):
        return "no_consent"
    if step.consent_scope and f"{SCOPE_OPT_OUT}{step.consent_scope}" in reasons:
        return "no_consent"
    if bucket("global_control", customer.customer_id) < config.experiments.global_control_share:
        return "global_control"
    if bucket(f"holdout:{step.chain_id}", customer.customer_id) < step.holdout_share:
        return "holdout"
    if step.send_condition and _condition_fails(customer, step):
        return "condition_not_met"
    return None


def _address_problem(customer: Customer, channel: str) -> str | None:
    if channel == "email":
        return None if customer.email and _EMAIL.match(customer.email) else "invalid_address"
    if channel == "push":
        return None if customer.has_push_token else "no_push_token"
    return None if is_e164(customer.phone) else "invalid_address"


def _condition_fails(customer: Customer, step: DueStep) -> bool:
    kind, _, argument = step.send_condition.partition(":")
    if kind == "no_engagement_with":
        return (step.instance_id, argument) in customer.engaged_steps
    raise ValueError(f"unknown send condition {step.send_condition!r} on {step.chain_id}/{step.step_id}")


def _timing(customer: Customer, step: DueStep, config: PolicyConfig, run: RunState) -> Decision | None:
    """Rules about when: a hold with its time, a drop, or None when the step may go now."""
    now, zone, quiet = run.now, customer.zone, config.quiet_hours
    today = local(now, zone).date()
    received = customer.history + (customer.newsletters if config.caps.content_mailings_count else [])
    newsletter_today = any(local(m.at, zone).date() == today for m in customer.newsletters)
    if newsletter_today and step.priority < config.content_mailing_day.outranking_priority:
        return Decision(step, HELD, "content_mailing_day", hold_until=next_day_open(now, zone, quiet.end))
    if in_quiet_hours(now, zone, quiet.start, quiet.end):
        if step.quiet_hours == "drop":
            return Decision(step, SUPPRESSED, "quiet_hours")
        return Decision(step, HELD, "quiet_hours", hold_until=next_window_open(now, zone, quiet.end))
    if (
        step.message_kind == "sale"
        and _sale_share_after(step, received, now, config) > config.sale_share.max_share
    ):
        return Decision(step, SUPPRESSED, "sale_share")
    if _count(
        received, zone, step.channel, today - timedelta(days=6), today
    ) >= config.caps.weekly_per_channel.get(step.channel, 10**9):
        return Decision(step, SUPPRESSED, "weekly_cap")
    if _count(received, zone, None, today, today) >= config.caps.daily_total or _count(
        received, zone, step.channel, today, today
    ) >= config.caps.daily_per_channel.get(step.channel, 10**9):
        return Decision(step, HELD, "daily_cap", hold_until=next_day_open(now, zone, quiet.end))
    last = max((m.at for m in received if m.at <= now), default=None)
    if last is not None and now - last < config.caps.min_gap:
        return Decision(step, HELD, "min_gap", hold_until=last + config.caps.min_gap)
    if step.channel == "email" and run.domain_budget.get(config.warmup.sending_domain, 1) <= 0:
        return Decision(step, HELD, "domain_warmup", hold_until=next_day_open(now, zone, quiet.end))
    return None


def _count(messages: list[Message], zone: ZoneInfo, channel: str | None, first: date, last: date) -> int:
    return sum(
        1
        for m in messages
        if (channel is None or m.channel == channel) and first <= local(m.at, zone).date() <= last
    )


def _sale_share_after(step: DueStep, received: list[Message], now: datetime, config: PolicyConfig) -> float:
    since = now - timedelta(days=config.sale_share.window_days)
    window = [m for m in received if since <= m.at <= now]
    sales = sum(1 for m in window if m.kind == "sale")
    return (sales + 1) / (len(window) + 1)


def _plan(customer: Customer, step: DueStep, run: RunState, domain: str | None = None) -> Decision:
    """Plan the step now: choose its variant and count it against the customer's caps and the domain."""
    weights = run.variant_weights.get((step.chain_id, step.step_id), step.variants)
    variant = choose_variant(f"ab:{step.chain_id}:{step.step_id}", customer.customer_id, weights)
    customer.history.append(Message(run.now, step.channel, step.message_kind))
    if step.channel == "email" and domain in run.domain_budget:
        run.domain_budget[domain] -= 1
    return Decision(
        step,
        PLANNED,
        variant=variant,
        send_after=run.now,
        send_time_arm=send_time_arm(step, customer.customer_id),
        step_arm="treated" if step.step_holdout_share > 0 else None,
    )


def in_step_holdout(step: DueStep, customer_id: int) -> bool:
    """The customer is in the step's own holdout (fixed per customer, chain and step)."""
    return bucket(f"step_holdout:{step.chain_id}:{step.step_id}", customer_id) < step.step_holdout_share


def _step_holdout(customer: Customer, step: DueStep) -> Decision | None:
    """For a step with its own holdout that every other rule lets go now: kept from the customer in the
    holdout (recorded with ``step_arm`` 'holdout' at the moment it would have been planned, so the reports
    compare like with like: customers the step would have reached, with and without it). It does not count
    against the customer's caps; the step still won the run's arbitration, as it would have when sent."""
    if step.message_kind == "service" or not in_step_holdout(step, customer.customer_id):
        return None
    return Decision(step, SUPPRESSED, "step_holdout", step_arm="holdout")


def _best_hour_hold(
    customer: Customer, step: DueStep, config: PolicyConfig, run: RunState
) -> Decision | None:
    """For a ``send_time: optimal`` step outside the holdout that every other rule lets go now: a hold until
    the customer's best hour (:func:`best_hour_moment`) when that hour is still to come and fits inside the
    step's freshness; None (go now) in the best hour, when it comes too late, or when no hour is known. The
    held step is due again in the next chains run, where every rule is applied afresh."""
    if step.best_hour is None or send_time_arm(step, customer.customer_id) != "optimal":
        return None
    quiet = config.quiet_hours
    moment = best_hour_moment(run.now, customer.zone, step.best_hour, quiet.start, quiet.end)
    if moment <= run.now or moment + SEND_HOUR > step.expires_at:
        return None
    return Decision(step, HELD, "best_hour", hold_until=moment, send_time_arm="optimal")


#: A step held for a best hour is planned in the chains run of that hour and sent within it: the whole hour
#: must lie inside the step's freshness, else the step goes at the default time.
SEND_HOUR = timedelta(hours=1)


def send_time_arm(step: DueStep, customer_id: int) -> str | None:
    """``optimal`` or ``default`` (the chain's send-time holdout, fixed per customer) for a ``send_time:
    optimal`` step; None for the others. Service messages always go at once."""
    if step.send_time != "optimal" or step.message_kind == "service":
        return None
    held_out = bucket(f"send_time:{step.chain_id}", customer_id) < step.send_time_holdout
    return "default" if held_out else "optimal"


def allowed_hour(best_hour: int, start: time, end: time) -> int:
    """The local hour nearest ``best_hour`` (around the clock) whose start lies outside the quiet hours
    ``start``..``end``; ``best_hour`` itself when it is allowed (ties: the earlier hour)."""
    allowed = [
        h
        for h in range(24)
        if not (time(h) >= start or time(h) < end if start > end else start <= time(h) < end)
    ]
    return min(allowed, key=lambda h: (min((h - best_hour) % 24, (best_hour - h) % 24), h))


def best_hour_moment(now: datetime, zone: ZoneInfo, best_hour: int, start: time, end: time) -> datetime:
    """The first moment (naive UTC) at or after ``now`` inside the customer's best allowed local hour: ``now``
    when the local clock is in that hour, else the start of its next occurrence."""
    hour = allowed_hour(best_hour, start, end)
    here = local(now, zone)
    if here.hour == hour:
        return now
    day = here.date() if here.hour < hour else here.date() + timedelta(days=1)
    return to_utc(datetime.combine(day, time(hour), tzinfo=zone))
