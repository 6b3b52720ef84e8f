"""Provider feedback: normalise events, store each once, apply them to suppressions and the ledger.

``crm.message_events`` is unique on (provider, provider event id), so a webhook delivered twice is stored
once. Unsubscribes, complaints and hard bounces add a suppression the next policy run respects. Any event
about a message proves the provider took it: an 'unknown' ledger row becomes 'sent'. Delivery reports
(``delivered``, ``undelivered``, a hard bounce) set the ledger row's ``delivery_status``; the SMS gateways
name their message id rather than our key, so their events are matched to the ledger by it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.warehouse import Warehouse

#: Event type -> suppression reason.
SUPPRESSING = {"unsubscribe": "unsubscribe", "complaint": "complaint", "hard_bounce": "hard_bounce"}
EVENT_TYPES = frozenset(
    {"processed", "delivered", "undelivered", "deferred", "dropped", "open", "click", "soft_bounce"}
    | set(SUPPRESSING)
)
#: Event type -> the ledger's delivery_status (the last report wins).
DELIVERY_STATUS = {"delivered": "delivered", "undelivered": "undelivered", "hard_bounce": "undelivered"}
#: Twilio MessageStatus -> event type ('queued', 'sending', 'accepted' … are not stored).
_TWILIO_STATUS = {
    "sent": "processed",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
}
#: Twilio error codes of a delivery report that mean the number is no SMS destination at all.
_TWILIO_DEAD_NUMBER = {"30005", "30006"}  # unknown destination, landline or unreachable carrier
#: SMSC status codes -> event type (-1 waiting and 0 handed to the operator are not stored).
_SMSC_STATUS = {
    "1": "delivered",
    "2": "delivered",  # read
    "3": "undelivered",  # expired
    "20": "undelivered",  # impossible to deliver
    "22": "hard_bounce",  # invalid number
    "23": "undelivered",  # prohibited
    "24": "undelivered",  # not enough money
    "25": "undelivered",  # unavailable number
}
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
    #: The provider's message id, when the event does not carry our key (SMS gateways).
    provider_message_id: str | None = None


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


def twilio_events(form: dict[str, str], now: datetime) -> list[FeedbackEvent]:
    """A Twilio status callback (form fields ``MessageSid``, ``MessageStatus``, ``To``, ``ErrorCode``?)."""
    sid, status = form.get("MessageSid"), form.get("MessageStatus")
    if not sid or not status:
        raise FeedbackError("a Twilio status callback needs MessageSid and MessageStatus")
    kind = _TWILIO_STATUS.get(status)
    if kind is None:
        return []
    error = form.get("ErrorCode") or None
    if kind == "undelivered" and error in _TWILIO_DEAD_NUMBER:
        kind = "hard_bounce"
    detail = json.dumps({"status": status, "error_code": error}) if error else json.dumps({"status": status})
    return [
        FeedbackEvent(
            "twilio",
            f"{sid}:{status}",
            kind,
            None,
            form.get("To"),
            now,
            detail,
            "sms",
            provider_message_id=sid,
        )
    ]


def smsc_events(form: dict[str, str]) -> list[FeedbackEvent]:
    """An SMSC status report (form fields ``id``, ``phone``, ``status``, ``time``/``ts``, ``err``)."""
    message_id, phone, status = form.get("id"), form.get("phone"), form.get("status")
    if not message_id or not phone or status is None:
        raise FeedbackError("an SMSC status report needs id, phone and status")
    kind = _SMSC_STATUS.get(status)
    if kind is None:
        return []
    when = _timestamp(form["ts"]) if form.get("ts") else datetime.now(UTC).replace(tzinfo=None)
    number = phone if phone.startswith("+") else f"+{phone}"
    detail = json.dumps({"status": status, "err": form.get("err")})
    return [
        FeedbackEvent(
            "smsc",
            f"{message_id}:{number[1:]}:{status}",
            kind,
            None,
            number,
            when,
            detail,
            "sms",
            provider_message_id=f"{message_id}:{number[1:]}",
        )
    ]


def _resolve_keys(conn: sa.Connection, events: list[FeedbackEvent]) -> list[FeedbackEvent]:
    """Events that name the provider's message id get our key from the ledger (None if it is unknown)."""
    resolved = []
    for event in events:
        if event.send_key is None and event.provider_message_id:
            key = Warehouse.run(
                conn,
                "delivery/ledger_by_message_id.sql",
                provider=event.provider,
                provider_message_id=event.provider_message_id,
            ).scalar()
            event = replace(event, send_key=key)
        resolved.append(event)
    return resolved


def store_events(warehouse: Warehouse, events: Iterable[FeedbackEvent], now: datetime | None = None) -> int:
    """Store events once and apply them; returns how many events were given. Safe to call again."""
    events = list(events)
    if not events:
        return 0
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if any(e.send_key is None and e.provider_message_id for e in events):
        with warehouse.begin() as conn:
            events = _resolve_keys(conn, events)
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
    reports = [
        {"send_key": e.send_key, "status": DELIVERY_STATUS[e.event_type], "at": e.occurred_at, "now": now}
        for e in events
        if e.send_key and e.event_type in DELIVERY_STATUS
    ]
    with warehouse.begin() as conn:
        for name, rows in (
            ("delivery/event_insert.sql", stored),
            ("delivery/suppression_insert.sql", suppressions),
            ("delivery/reconcile_unknown.sql", proofs),
            ("delivery/delivery_status.sql", reports),
        ):
            if rows:
                conn.execute(sa.text(sql.single_statement(name)), rows)
    return len(events)
