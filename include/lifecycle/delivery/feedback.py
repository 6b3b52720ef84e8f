"""Provider feedback: normalise events, store each once, apply them to suppressions and the ledger.

``crm.message_events`` is unique on (provider, provider event id), so a webhook delivered twice is stored
once. Unsubscribes, complaints and hard bounces add a suppression the next policy run respects. Any event
about a message proves the provider took it: an 'unknown' ledger row becomes 'sent'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.warehouse import Warehouse

#: Event type -> suppression reason.
SUPPRESSING = {"unsubscribe": "unsubscribe", "complaint": "complaint", "hard_bounce": "hard_bounce"}
EVENT_TYPES = frozenset(
    {"processed", "delivered", "deferred", "dropped", "open", "click", "soft_bounce"} | set(SUPPRESSING)
)
_SENDGRID_TYPES = {
    "processed": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "dropped": "dropped",
    "open": "open",
    "click": "click",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


class FeedbackError(ValueError):
    """A webhook payload does not have the documented shape."""


@dataclass(frozen=True)
class FeedbackEvent:
    provider: str
    event_id: str
    event_type: str
    send_key: str | None
    recipient: str | None
    occurred_at: datetime
    detail: str | None = None
    channel: str = "email"


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        raise FeedbackError(f"bad timestamp {value!r}") from None


def sendgrid_events(payload: Any) -> list[FeedbackEvent]:
    """SendGrid's Event Webhook body: a JSON array of events with our ``send_key`` custom arg."""
    if not isinstance(payload, list):
        raise FeedbackError("a SendGrid event webhook body is a JSON array")
    events = []
    for item in payload:
        if not isinstance(item, dict) or "event" not in item or "timestamp" not in item:
            raise FeedbackError("every SendGrid event needs 'event' and 'timestamp'")
        kind = item["event"]
        if kind == "bounce":
            kind = "soft_bounce" if item.get("type") == "blocked" else "hard_bounce"
        else:
            kind = _SENDGRID_TYPES.get(kind, kind)
        # sg_event_id may change between redeliveries (sendgrid-nodejs#1435): fall back to message+event+time.
        event_id = (
            item.get("sg_event_id")
            or hashlib.sha256(
                f"{item.get('sg_message_id')}|{item['event']}|{item['timestamp']}".encode()
            ).hexdigest()
        )
        detail = {k: item[k] for k in ("reason", "url", "type", "sg_message_id", "status") if item.get(k)}
        events.append(
            FeedbackEvent(
                "sendgrid",
                str(event_id),
                kind,
                item.get("send_key"),
                item.get("email"),
                _timestamp(item["timestamp"]),
                json.dumps(detail, ensure_ascii=False) if detail else None,
            )
        )
    return events


def generic_events(provider: str, payload: Any) -> list[FeedbackEvent]:
    """The project's own signed format (the sandbox, or any bridge): ``{"events": [{"id", "event",
    "send_key", "recipient", "timestamp", "channel"?, "detail"?}]}`` with event in :data:`EVENT_TYPES`."""
    items = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise FeedbackError('the body must be {"events": [...]}')
    events = []
    for item in items:
        if not isinstance(item, dict) or not item.get("id") or item.get("event") not in EVENT_TYPES:
            raise FeedbackError(f"every event needs an 'id' and an 'event' among {sorted(EVENT_TYPES)}")
        events.append(
            FeedbackEvent(
                provider,
                str(item["id"]),
                item["event"],
                item.get("send_key"),
                item.get("recipient"),
                _timestamp(item.get("timestamp")),
                item.get("detail"),
                item.get("channel", "email"),
            )
        )
    return events


def store_events(warehouse: Warehouse, events: Iterable[FeedbackEvent], now: datetime | None = None) -> int:
    """Store events once and apply them; returns how many events were given. Safe to call again."""
    events = list(events)
    if not events:
        return 0
    now = now or datetime.now(UTC).replace(tzinfo=None)
    stored = [
        {
            "provider": e.provider,
            "provider_event_id": e.event_id,
            "send_key": e.send_key,
            "event_type": e.event_type,
            "recipient": e.recipient,
            "occurred_at": e.occurred_at,
            "received_at": now,
            "detail": e.detail,
        }
        for e in events
    ]
    suppressions = [
        {
            "channel": e.channel,
            "address": e.recipient.strip().lower(),
            "send_key": e.send_key,
            "reason": SUPPRESSING[e.event_type],
            "source": e.provider,
            "now": now,
        }
        for e in events
        if e.event_type in SUPPRESSING and e.recipient
    ]
    proofs = [{"send_key": key, "now": now} for key in sorted({e.send_key for e in events if e.send_key})]
    with warehouse.begin() as conn:
        for name, rows in (
            ("delivery/event_insert.sql", stored),
            ("delivery/suppression_insert.sql", suppressions),
            ("delivery/reconcile_unknown.sql", proofs),
        ):
            if rows:
                conn.execute(sa.text(sql.single_statement(name)), rows)
    return len(events)
