"""The contact policy re-checked at the moment of sending, for the rows of the requests about to leave.

The policy decided when it planned a message; hours or days may pass before the message leaves (a provider
outage, a held queue, a retry). So, just before a request is handed to the provider, every row is checked
again, in the customer's time zone, against the customer as they are *now* and against what was *actually
sent*: consent and suppressions, quiet hours (hold or drop, as the step says), the weekly and daily caps
and the minimum gap, and the freshness limit. Service messages, as at planning, skip consent, quiet hours
and caps, but not a hard bounce or a complaint.

:func:`check` is a pure function (no warehouse), so every rule can be tested directly; the dispatcher loads
the facts (``delivery/gate_customers.sql``, ``delivery/gate_received.sql``) for a wave of requests about to
leave, calls it row by row in send order (an approved row counts against the next ones) and writes the
verdicts in the same commit that marks the approved rows as handed over. On DuckDB the customers are held
in memory between waves (:class:`HeldCustomers`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lifecycle.policy.config import CHANNELS, PolicyConfig
from lifecycle.policy.rules import (
    SCOPE_OPT_OUT,
    Message,
    in_quiet_hours,
    local,
    next_day_open,
    next_window_open,
)

#: Verdicts: 'sending' = go now; 'planned' = held until ``hold_until``; 'dropped' / 'expired' = never sent.
GateState = Literal["sending", "planned", "dropped", "expired"]
#: Reason codes written to ``crm.send_ledger.hold_reason`` (held or dropped at send time).
SEND_TIME_REASONS = {
    "expired": "the freshness limit passed before the message could leave",
    "no_customer": "the customer is no longer in the warehouse",
    "suppressed_address": "the address was suppressed (unsubscribe, complaint, hard bounce) after planning",
    "no_consent": "consent for the channel or the chain's scenario was withdrawn after planning",
    "quiet_hours": "the customer's quiet hours began (held until they end, or dropped if the step says so)",
    "weekly_cap": "the channel's weekly cap is reached by messages actually sent",
    "daily_cap": "the day's cap (all channels or this channel) is reached by messages actually sent",
    "min_gap": "too soon after the last message actually sent",
}
_BLOCKS_SERVICE = {"hard_bounce", "complaint"}


@dataclass(frozen=True)
class GateRow:
    send_key: str
    customer_id: int
    channel: str
    message_kind: str
    expires_at: datetime
    quiet_hours: str = "hold"
    consent_scope: str | None = None


@dataclass
class GateCustomer:
    customer_id: int
    timezone: str
    consents: dict[str, bool] = field(default_factory=dict)
    suppressions: dict[str, set[str]] = field(default_factory=dict)
    #: Messages actually received (sent, possibly sent, in flight, content mailings), oldest first.
    received: list[Message] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @classmethod
    def from_row(cls, row: dict) -> GateCustomer:
        return cls(
            customer_id=row["customer_id"],
            timezone=row["timezone"] or "UTC",
            consents={channel: bool(row.get(f"{channel}_consent")) for channel in CHANNELS},
        )


@dataclass(frozen=True)
class Verdict:
    state: GateState
    reason: str | None = None
    hold_until: datetime | None = None


GO = Verdict("sending")


def check(row: GateRow, customer: GateCustomer | None, config: PolicyConfig, now: datetime) -> Verdict:
    """The verdict for one row at ``now`` (naive UTC). An approved row is counted as received."""
    verdict = _verdict(row, customer, config, now)
    if verdict.state == "planned" and verdict.hold_until is not None and verdict.hold_until >= row.expires_at:
        return Verdict("expired", verdict.reason)
    if verdict.state == "sending" and customer is not None:
        customer.received.append(Message(now, row.channel, row.message_kind))
    return verdict


def _verdict(row: GateRow, customer: GateCustomer | None, config: PolicyConfig, now: datetime) -> Verdict:
    if now >= row.expires_at:
        return Verdict("expired", "expired")
    if customer is None:
        return Verdict("dropped", "no_customer")
    service = row.message_kind == "service"
    reasons = customer.suppressions.get(row.channel, set())
    blocked = {reason for reason in reasons if not reason.startswith(SCOPE_OPT_OUT)}
    if blocked and (not service or blocked & _BLOCKS_SERVICE):
        return Verdict("dropped", "suppressed_address")
    if service:
        return GO
    if not customer.consents.get(row.channel, False):
        return Verdict("dropped", "no_consent")
    if row.consent_scope and f"{SCOPE_OPT_OUT}{row.consent_scope}" in reasons:
        return Verdict("dropped", "no_consent")
    zone, quiet, caps = customer.zone, config.quiet_hours, config.caps
    if in_quiet_hours(now, zone, quiet.start, quiet.end):
        if row.quiet_hours == "drop":
            return Verdict("dropped", "quiet_hours")
        return Verdict("planned", "quiet_hours", next_window_open(now, zone, quiet.end))
    received = [m for m in customer.received if m.at <= now]
    today = local(now, zone).date()
    weekly = caps.weekly_per_channel.get(row.channel)
    if weekly is not None and _count(received, zone, row.channel, today - timedelta(days=6), today) >= weekly:
        return Verdict("dropped", "weekly_cap")
    daily_channel = caps.daily_per_channel.get(row.channel)
    if _count(received, zone, None, today, today) >= caps.daily_total or (
        daily_channel is not None and _count(received, zone, row.channel, today, today) >= daily_channel
    ):
        return Verdict("planned", "daily_cap", next_day_open(now, zone, quiet.end))
    last = max((m.at for m in received), default=None)
    if last is not None and now - last < caps.min_gap:
        return Verdict("planned", "min_gap", last + caps.min_gap)
    return GO


def _count(messages: list[Message], zone: ZoneInfo, channel: str | None, first: date, last: date) -> int:
    return sum(
        1
        for m in messages
        if (channel is None or m.channel == channel) and first <= local(m.at, zone).date() <= last
    )


class HeldCustomers:
    """The customers of the claims in flight, kept by a dispatch while it is the warehouse's only writer: a
    DuckDB file is held open by one process at a time, so while the dispatch holds it (its anchor) no other
    process can withdraw a consent, suppress an address, hand a message over, send a content mailing or
    record anything. The customers then change only by the dispatch's own writes, which are applied here as
    they happen: a row the check approves is added to what they received, a row whose request returned
    unsent is taken away, and an opt-out the provider reported makes every customer's consents and
    suppressions be read again (:meth:`forget_facts`). So the customers are read from the warehouse once per
    claim (``delivery/gate_customers.sql`` and ``delivery/gate_received.sql``, for the claim's customers not
    held yet) instead of in every wave: the wave's commit is then the only statement of the wave. Emptied
    whenever the file is let go, when other processes get their turn.

    A customer's content mailings are read ahead up to a moment (``until`` of :meth:`load`); past it the
    customer is read again, and the trigger messages held (kept up to date by the dispatch itself) stay."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: customer -> time zone, consents and suppressions (None: no longer in the warehouse)
        self._facts: dict[int, GateCustomer | None] = {}
        #: customer -> send_key -> the trigger message handed over (sent, possibly sent or in flight)
        self._ledger: dict[int, dict[str, Message]] = {}
        self._mailings: dict[int, list[Message]] = {}
        self._until: dict[int, datetime] = {}
        #: Counts what made the customers' facts stale (:meth:`forget_facts`, :meth:`clear`).
        self._generation = 0

    @property
    def generation(self) -> int:
        """Taken before the transaction that reads the customers for :meth:`load` begins."""
        with self._lock:
            return self._generation

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._facts.clear()
            self._ledger.clear()
            self._mailings.clear()
            self._until.clear()

    def forget_facts(self) -> None:
        """Consents and suppressions changed (the dispatch recorded an opt-out): every customer is read
        again before their next check; what they received stays."""
        with self._lock:
            self._generation += 1
            self._facts.clear()
            self._until.clear()

    def missing(self, customer_ids: Iterable[int], now: datetime) -> list[int]:
        """The customers of ``customer_ids`` not held, or whose mailings were read up to before ``now``."""
        with self._lock:
            return sorted({c for c in customer_ids if c not in self._until or self._until[c] < now})

    def load(
        self,
        customer_ids: Iterable[int],
        facts: Mapping[int, GateCustomer],
        rows: Iterable[Mapping],
        until: datetime,
        generation: int,
    ) -> bool:
        """Hold ``customer_ids`` as read now: their ``facts`` (a customer missing from them is no longer in
        the warehouse) and what they received, from the rows of ``delivery/gate_received.sql`` (content
        mailings scheduled up to ``until``). A customer held already gets their facts and mailings anew and
        keeps the trigger messages held: the ledger's rows read now may miss a hand-over not yet committed.

        ``generation`` is :attr:`generation` as it was before the reading transaction began: if an opt-out
        was recorded since (in another thread's commit, which that transaction may not see), nothing is held
        and False is returned; the customers are read again by the check of their wave."""
        with self._lock:
            if generation != self._generation:
                return False
            ids = set(customer_ids)
            new = {c for c in ids if c not in self._ledger}
            for customer_id in ids:
                self._facts[customer_id] = facts.get(customer_id)
                self._ledger.setdefault(customer_id, {})
                self._mailings[customer_id] = []
                self._until[customer_id] = until
            for r in rows:
                customer_id = r["customer_id"]
                if customer_id not in ids:
                    continue
                message = Message(r["at"], r["channel"], r["kind"])
                if r["source"] != "ledger":
                    self._mailings[customer_id].append(message)
                elif customer_id in new:
                    self._ledger[customer_id][r["send_key"]] = message
            return True

    def customer(self, customer_id: int, count_mailings: bool) -> GateCustomer | None:
        """The customer as held, with what they received oldest first (content mailings only if they
        count); a copy, which the caller's checks may add to. None when not in the warehouse (or not held)."""
        with self._lock:
            facts = self._facts.get(customer_id)
            if facts is None:
                return None
            received = self._received(customer_id, count_mailings)
        return GateCustomer(
            facts.customer_id,
            facts.timezone,
            dict(facts.consents),
            {channel: set(reasons) for channel, reasons in facts.suppressions.items()},
            received,
        )

    def received(self, customer_id: int, count_mailings: bool) -> list[Message]:
        """What the customer received, oldest first (content mailings only if they count)."""
        with self._lock:
            return self._received(customer_id, count_mailings)

    def _received(self, customer_id: int, count_mailings: bool) -> list[Message]:
        messages = list(self._ledger.get(customer_id, {}).values())
        if count_mailings:
            messages += self._mailings.get(customer_id, [])
        return sorted(messages, key=lambda m: m.at)

    def handed_over(self, customer_id: int, send_key: str, message: Message) -> None:
        with self._lock:
            if customer_id in self._ledger:
                self._ledger[customer_id][send_key] = message

    def returned_unsent(self, customer_id: int, send_key: str) -> None:
        """A request returned without sending the row: it counts against nothing."""
        with self._lock:
            self._ledger.get(customer_id, {}).pop(send_key, None)
