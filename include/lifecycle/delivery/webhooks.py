"""The feedback web app (FastAPI), mounted by the project's Airflow plugin under ``/lifecycle-webhooks``.

* ``POST /sendgrid/events``   SendGrid Event Webhook, ECDSA-verified (public key from the sendgrid connection)
* ``POST /sandbox/events``    the generic format, HMAC-signed (``X-Lifecycle-Signature``, 5-minute window)
* ``POST /twilio/status``     Twilio SMS status callbacks, ``X-Twilio-Signature`` (HMAC-SHA1, Auth Token)
* ``POST /smsc/status``       SMSC.ru status reports, with their MD5 checksum over id, phone, status, secret
* ``GET  /unsubscribe/{t}``   a page with a confirm button;  ``POST`` it: RFC 8058 one-click unsubscribe
Anything unsigned or badly signed gets 401 and is not stored. A body larger than ``max_body_bytes`` is
refused with 413 before it is read (by its Content-Length, or while streaming one without); signature
headers and their timestamps are checked before the body is read, the signature itself before the body is
parsed; signed events outside the replay window are refused. Airflow does not authenticate plugin
routes; the signatures are the authentication. Settings are resolved per request (short-lived
warehouse connections: DuckDB allows one writing process per file).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from lifecycle.delivery import signing
from lifecycle.delivery.feedback import (
    FeedbackError,
    FeedbackEvent,
    generic_events,
    sendgrid_events,
    smsc_events,
    store_events,
    twilio_events,
)
from lifecycle.delivery.signing import LinkSigner
from lifecycle.warehouse import Warehouse


@dataclass
class WebhookSettings:
    warehouse: Warehouse
    signer: LinkSigner
    shop_name: str = "Магазин"
    sandbox_secret: bytes | None = None
    sendgrid_public_key: str | None = None
    #: Twilio: the Auth Token, and the status callback URL exactly as configured in the messages (the
    #: signature covers the URL Twilio called; behind a proxy the request's own URL differs).
    twilio_auth_token: str | None = None
    twilio_status_url: str | None = None
    #: SMSC: the secret of the status reports' checksum.
    smsc_secret: str | None = None
    #: Larger bodies get 413 before they are read. SendGrid batches events (about 1 MB at most per POST).
    max_body_bytes: int = 5 * 1024 * 1024
    #: Signed requests more than this many seconds from now are replays.
    replay_window_s: int = 600


#: Limit of the routes that only need a tiny body (the unsubscribe form).
_SMALL_BODY = 16 * 1024


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "bad Content-Length") from None
        if size > limit:
            raise HTTPException(413, f"body of {size} bytes exceeds the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
    return bytes(body)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title></head>
<body style="margin:0;background:#eef1f5;font-family:Arial,Helvetica,sans-serif;color:#1f2937;">
<div style="max-width:480px;margin:48px auto;background:#fff;border-radius:14px;padding:32px;">
<h1 style="font-size:22px;margin:0 0 16px;">{html.escape(title)}</h1>{body}</div></body></html>""",
        status_code=status,
    )


def create_app(resolve_settings: Callable[[], WebhookSettings]) -> FastAPI:
    app = FastAPI(title="Lifecycle webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    @contextmanager
    def settings() -> Iterator[WebhookSettings]:
        resolved = resolve_settings()
        try:
            yield resolved
        finally:
            resolved.warehouse.engine.dispose()

    def store(resolved: WebhookSettings, events: list[FeedbackEvent]) -> JSONResponse:
        return JSONResponse({"received": store_events(resolved.warehouse, events)})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/sendgrid/events")
    async def sendgrid(request: Request) -> JSONResponse:
        signature = request.headers.get(signing.SENDGRID_SIGNATURE_HEADER)
        timestamp = request.headers.get(signing.SENDGRID_TIMESTAMP_HEADER)
        with settings() as resolved:
            if not resolved.sendgrid_public_key:
                raise HTTPException(503, "no SendGrid verification key is configured")
            window = resolved.replay_window_s
            if not signature or not signing.sendgrid_timestamp_fresh(timestamp, tolerance_s=window):
                raise HTTPException(401, "bad or missing signature, or a timestamp outside the replay window")
            body = await read_limited(request, resolved.max_body_bytes)
            key = signing.load_sendgrid_public_key(resolved.sendgrid_public_key)
            if not signing.verify_sendgrid(key, signature, timestamp, body, tolerance_s=window):
                raise HTTPException(401, "bad or missing signature")
            try:
                events = sendgrid_events(json.loads(body))
            except (ValueError, FeedbackError) as exc:
                raise HTTPException(400, str(exc)) from None
            return store(resolved, events)

    @app.post("/sandbox/events")
    async def sandbox(request: Request) -> JSONResponse:
        header = request.headers.get(signing.SIGNATURE_HEADER)
        with settings() as resolved:
            if not resolved.sandbox_secret:
                raise HTTPException(503, "no sandbox webhook secret is configured")
            window = resolved.replay_window_s
            # The signature covers the body, but its timestamp can be judged before reading anything.
            if not signing.webhook_timestamp_fresh(header, tolerance_s=window):
                raise HTTPException(401, "bad or missing signature, or a timestamp outside the replay window")
            body = await read_limited(request, resolved.max_body_bytes)
            if not signing.verify_webhook(resolved.sandbox_secret, header, body, tolerance_s=window):
                raise HTTPException(401, "bad or missing signature")
            try:
                events = generic_events("sandbox", json.loads(body))
            except (ValueError, FeedbackError) as exc:
                raise HTTPException(400, str(exc)) from None
            return store(resolved, events)

    async def form_of(request: Request, limit: int) -> dict[str, str]:
        from urllib.parse import parse_qs

        body = await read_limited(request, limit)
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "the body is not a form") from None
        if any(len(values) != 1 for values in parsed.values()):
            raise HTTPException(400, "a form field is given twice")
        return {name: values[0] for name, values in parsed.items()}

    @app.post("/twilio/status")
    async def twilio(request: Request) -> JSONResponse:
        signature = request.headers.get(signing.TWILIO_SIGNATURE_HEADER)
        with settings() as resolved:
            if not resolved.twilio_auth_token:
                raise HTTPException(503, "no Twilio Auth Token is configured")
            if not signature:
                raise HTTPException(401, "bad or missing signature")
            form = await form_of(request, resolved.max_body_bytes)
            url = resolved.twilio_status_url or str(request.url)
            if not signing.verify_twilio(resolved.twilio_auth_token, signature, url, form):
                raise HTTPException(401, "bad or missing signature")
            try:
                events = twilio_events(form, datetime.now(UTC).replace(tzinfo=None))
            except FeedbackError as exc:
                raise HTTPException(400, str(exc)) from None
            return await run_in_threadpool(store, resolved, events)

    @app.post("/smsc/status")
    async def smsc(request: Request) -> JSONResponse:
        with settings() as resolved:
            if not resolved.smsc_secret:
                raise HTTPException(503, "no SMSC secret is configured")
            form = await form_of(request, _SMALL_BODY)
            if not signing.verify_smsc(resolved.smsc_secret, form):
                raise HTTPException(401, "bad or missing checksum")
            try:
                events = smsc_events(form)
            except FeedbackError as exc:
                raise HTTPException(400, str(exc)) from None
            return await run_in_threadpool(store, resolved, events)

    def _ledger_row(resolved: WebhookSettings, token: str) -> dict:
        send_key = resolved.signer.verify_unsubscribe(token)
        if send_key is None:
            raise HTTPException(404, "unknown link")
        with resolved.warehouse.begin() as conn:
            row = Warehouse.run(conn, "delivery/ledger_row.sql", send_key=send_key).mappings().first()
        if row is None or not row["address"]:
            raise HTTPException(404, "unknown link")
        return dict(row)

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(token: str) -> HTMLResponse:
        with settings() as resolved:
            row = _ledger_row(resolved, token)
            return _page(
                "Отписка от рассылки",
                f"""<p style="line-height:24px;">Больше не присылать письма магазина
«{html.escape(resolved.shop_name)}» на адрес <b>{html.escape(row["address"])}</b>?</p>
<form method="post"><button type="submit" style="background:#2563eb;color:#fff;border:0;border-radius:8px;
padding:14px 28px;font-size:16px;cursor:pointer;">Отписаться</button></form>""",
            )

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click"; the page's button POSTs the same URL.
        await read_limited(request, _SMALL_BODY)
        return await run_in_threadpool(_unsubscribe, token)

    def _unsubscribe(token: str) -> HTMLResponse:
        with settings() as resolved:
            row = _ledger_row(resolved, token)
            event = FeedbackEvent(
                provider="link",
                event_id=f"unsubscribe:{row['send_key']}",
                event_type="unsubscribe",
                send_key=row["send_key"],
                recipient=row["address"],
                occurred_at=datetime.now(UTC).replace(tzinfo=None),
                channel="email",
            )
            store_events(resolved.warehouse, [event])
            return _page("Вы отписались", "<p>Мы больше не будем присылать вам рассылку на этот адрес.</p>")

    return app
