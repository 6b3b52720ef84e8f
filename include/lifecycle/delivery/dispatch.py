"""The send ledger's state machine: claim due rows, render them, send them in batches, record outcomes.

    planned ──claim──▶ sending ──▶ sent | failed | unknown        planned ──(expires_at passed)──▶ expired
                          └── certainly not sent (retries used up, provider down) ──▶ planned

* Claiming is one ``UPDATE … WHERE state = 'planned'`` under a fresh claim token, so no row is held twice;
  outcomes are written only for rows still holding the token.
* Batches of the provider's maximum go out on ``provider.concurrency`` threads under a client-side rate
  limit; a message the provider did not take (429, 503, 4xx SMTP reply, connection refused) is retried with
  exponential backoff that honours Retry-After / X-RateLimit-Reset (tenacity), then released to 'planned'.
* Permanent errors are 'failed' at once; partial failures touch only the rows concerned.
* An ambiguous outcome (timeout or 5xx after the request left) is 'unknown' and never resent, except with a
  provider that deduplicates by our key (OneSignal, the sandbox), which is simply asked again.
* A dispatch that died leaves rows in 'sending'; the next dispatch of the channel turns them into 'unknown'
  (or back into 'planned' for a deduplicating provider) before claiming anything.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import tenacity

from lifecycle import sql
from lifecycle.delivery.context import ContextBuilder, ContextError
from lifecycle.delivery.messages import (
    Message,
    Outcome,
    ProviderConfigError,
    ProviderResponseError,
    batch_outcomes,
    is_valid_email,
)
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.ratelimit import RateLimiter
from lifecycle.delivery.render import RenderError, Templates
from lifecycle.delivery.signing import LinkSigner
from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The ledger stores naive UTC timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class DispatchSettings:
    #: Attempts per batch within one run (the first send included).
    max_attempts: int = 4
    #: First backoff step in seconds (doubled per attempt) when the provider gives no hint.
    base_wait_s: float = 1.0
    #: A Retry-After longer than this ends the run's attempts: the rows go back to 'planned' for a later run.
    max_wait_s: float = 60.0
    #: A 'sending' row claimed this long ago belongs to a dispatch that died. 0 when the caller guarantees
    #: one dispatch per channel at a time (the DAG: one task per channel, max_active_runs=1).
    orphan_after: timedelta = timedelta(minutes=15)
    #: Stop claiming after this many messages in one run (None: until nothing is due).
    max_messages: int | None = None


@dataclass
class DispatchReport:
    channel: str
    provider: str
    orphans_recovered: int = 0
    expired: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0
    tokens_retired: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def count(self, outcome: Outcome) -> None:
        key = {"retry": "released"}.get(outcome.state, outcome.state)
        setattr(self, key, getattr(self, key) + 1)
        if outcome.error and outcome.state != "sent":
            reason = outcome.error.split(":")[0][:60]
            self.errors[reason] = self.errors.get(reason, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Pending(Exception):
    """Some messages of a batch may be tried again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float):
        super().__init__(retry_after)
        self.retry_after = retry_after


class Dispatcher:
    def __init__(
        self,
        warehouse: Warehouse,
        provider: Provider,
        signer: LinkSigner,
        templates: Templates | None = None,
        settings: DispatchSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.warehouse, self.provider, self.signer = warehouse, provider, signer
        self.templates = templates or Templates()
        self.settings = settings or DispatchSettings()
        self.clock, self.sleep = clock, sleep
        self.builder = ContextBuilder(self.templates, signer)
        self.limiter = RateLimiter(provider.requests_per_second)

    # --- the run ---------------------------------------------------------------------------------------

    def run(self, channel: str) -> DispatchReport:
        if channel not in self.provider.channels:
            raise ValueError(f"provider {self.provider.name} does not send {channel}")
        started = time.monotonic()
        report = DispatchReport(channel, self.provider.name)
        now = self.clock()
        with self.warehouse.begin() as conn:
            report.orphans_recovered = self._count(
                Warehouse.run(
                    conn,
                    "delivery/recover_orphans.sql",
                    channel=channel,
                    provider=self.provider.name,
                    resend_orphans=self.provider.idempotent,
                    stale_before=now - self.settings.orphan_after,
                    now=now,
                )
            )
            report.expired = self._count(Warehouse.run(conn, "delivery/expire.sql", channel=channel, now=now))
        claim_size = self.provider.max_batch * max(self.provider.concurrency, 1)
        while self.settings.max_messages is None or report.claimed < self.settings.max_messages:
            limit = claim_size
            if self.settings.max_messages is not None:
                limit = min(limit, self.settings.max_messages - report.claimed)
            released_before = report.released
            if not self._dispatch_claim(channel, limit, report):
                break
            if report.released > released_before:
                log.warning(
                    "%s: messages released after retries; the next run tries again", self.provider.name
                )
                break
        report.elapsed_s = round(time.monotonic() - started, 3)
        return report

    @staticmethod
    def _count(result: sa.CursorResult) -> int:
        return max(result.rowcount or 0, 0)

    def _dispatch_claim(self, channel: str, limit: int, report: DispatchReport) -> bool:
        claim_token = uuid.uuid4().hex
        now = self.clock()
        with self.warehouse.begin() as conn:
            Warehouse.run(
                conn,
                "delivery/claim.sql",
                claim_token=claim_token,
                provider=self.provider.name,
                channel=channel,
                now=now,
                batch_limit=limit,
            )
            rows = [
                dict(r)
                for r in Warehouse.run(conn, "delivery/claimed.sql", claim_token=claim_token).mappings()
            ]
            contexts = self.builder.build(self.warehouse, conn, claim_token, rows, now) if rows else {}
        if not rows:
            return False
        report.claimed += len(rows)
        messages, early = self._prepare(rows, contexts)
        self._record(claim_token, early, {}, report)
        self._send_all(claim_token, messages, report)
        return True

    # --- rendering and addressing ------------------------------------------------------------------------

    def _prepare(self, rows: list[dict[str, Any]], contexts: dict) -> tuple[list[Message], list[Outcome]]:
        messages, failed = [], []
        for row in rows:
            key = row["send_key"]
            context = contexts[key]
            try:
                if isinstance(context, ContextError):
                    raise context
                messages.append(self._message(row, context))
            except (RenderError, ContextError, _Unaddressable) as exc:
                prefix = "unaddressable" if isinstance(exc, _Unaddressable) else "render"
                failed.append(Outcome(key, "failed", error=f"{prefix}: {exc}"))
        return messages, failed

    def _message(self, row: dict[str, Any], context: dict[str, Any]) -> Message:
        common = {
            "send_key": row["send_key"],
            "channel": row["channel"],
            "customer_id": row["customer_id"],
            "chain_id": row["chain_id"],
            "step_id": row["step_id"],
            "message_kind": row["message_kind"],
        }
        if row["channel"] == "email":
            if not is_valid_email(row["email"]):
                raise _Unaddressable(f"invalid email address {row['email']!r}")
            content = self.templates.render_email(row["template"], context)
            headers = {}
            if row["message_kind"] != "service":
                headers = {
                    "List-Unsubscribe": f"<{context['links']['unsubscribe']}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                }
            return Message(**common, to=(row["email"],), email=content, headers=headers)
        tokens = tuple(context["push_tokens"])
        if self.provider.needs_push_tokens and not tokens:
            raise _Unaddressable("no active push token")
        return Message(**common, to=tokens, push=self.templates.render_push(row["template"], context))

    # --- sending -----------------------------------------------------------------------------------------

    def _send_all(self, claim_token: str, messages: list[Message], report: DispatchReport) -> None:
        size = self.provider.max_batch
        batches = [messages[i : i + size] for i in range(0, len(messages), size)]
        by_key = {m.send_key: m for m in messages}
        config_error: ProviderConfigError | None = None
        with ThreadPoolExecutor(max_workers=max(self.provider.concurrency, 1)) as pool:
            futures: dict[Future, list[Message]] = {
                pool.submit(self._send_with_retries, b): b for b in batches
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    batch = futures[future]
                    try:
                        outcomes = future.result()
                    except ProviderConfigError as exc:
                        config_error = config_error or exc
                        settled = {o.send_key for o in exc.outcomes}
                        outcomes = exc.outcomes + Outcome.for_batch(
                            [m for m in batch if m.send_key not in settled], "retry", f"not sent: {exc}"
                        )
                        for other in pending:
                            other.cancel()
                    self._record(claim_token, outcomes, by_key, report)
                if config_error:
                    cancelled = [f for f in pending if f.cancelled()]
                    for future in cancelled:
                        self._record(
                            claim_token,
                            Outcome.for_batch(futures[future], "retry", f"not sent: {config_error}"),
                            by_key,
                            report,
                        )
                    pending -= set(cancelled)
        if config_error:
            raise config_error

    def _send_with_retries(self, batch: list[Message]) -> list[Outcome]:
        pending = {m.send_key: m for m in batch}
        final: dict[str, Outcome] = {}

        def attempt() -> None:
            self.limiter.acquire()
            outcomes = self._send_once(list(pending.values()))
            hint = 0.0
            for outcome in outcomes:
                final[outcome.send_key] = outcome
                if outcome.state == "retry":
                    hint = max(hint, outcome.retry_after or 0.0)
                else:
                    pending.pop(outcome.send_key, None)
            for key in set(pending) - {o.send_key for o in outcomes}:
                final[key] = Outcome(key, "unknown", error=f"{self.provider.name} reported nothing for it")
                pending.pop(key)
            if pending:
                raise _Pending(hint)

        backoff = tenacity.wait_exponential(
            multiplier=self.settings.base_wait_s, max=self.settings.max_wait_s
        )

        def wait_for(state: tenacity.RetryCallState) -> float:
            return max(state.outcome.exception().retry_after, backoff(state))

        def hint_too_long(state: tenacity.RetryCallState) -> bool:
            return state.outcome.exception().retry_after > self.settings.max_wait_s

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Pending),
            stop=tenacity.stop_after_attempt(self.settings.max_attempts) | hint_too_long,
            wait=wait_for,
            sleep=self.sleep,
            reraise=True,
        )
        # What is still pending keeps its 'retry' outcome and is released to 'planned'.
        with contextlib.suppress(_Pending):
            retrying(attempt)
        return [final[m.send_key] for m in batch]

    def _send_once(self, batch: list[Message]) -> list[Outcome]:
        try:
            return self.provider.send(batch)
        except ProviderConfigError:
            raise
        except ProviderResponseError as exc:
            return batch_outcomes(batch, exc, self.provider.idempotent)
        except Exception as exc:  # a bug or an unforeseen error: we cannot know what the provider did
            log.exception("%s: unexpected error while sending", self.provider.name)
            error = ProviderResponseError("ambiguous", f"{self.provider.name}: unexpected {exc!r}")
            return batch_outcomes(batch, error, self.provider.idempotent)

    # --- the ledger --------------------------------------------------------------------------------------

    def _record(
        self, claim_token: str, outcomes: list[Outcome], by_key: dict[str, Message], report: DispatchReport
    ) -> None:
        if not outcomes:
            return
        now = self.clock()
        rows, tokens = [], []
        for outcome in outcomes:
            message = by_key.get(outcome.send_key)
            rows.append(
                {
                    "send_key": outcome.send_key,
                    "claim_token": claim_token,
                    "state": "planned" if outcome.state == "retry" else outcome.state,
                    "recipient": message.recipient if message else None,
                    "provider_message_id": outcome.provider_message_id,
                    "last_error": outcome.error[:1000] if outcome.error else None,
                    "sent_at": now if outcome.state == "sent" else None,
                }
            )
            tokens += [{"token": token} for token in outcome.dead_tokens]
            report.count(outcome)
        report.tokens_retired += len(tokens)
        import pandas as pd

        with self.warehouse.begin() as conn:
            self.warehouse.insert_df(conn, "crm.delivery_outcome_stage", pd.DataFrame(rows))
            Warehouse.run(conn, "delivery/apply_outcomes.sql", claim_token=claim_token, now=now)
            Warehouse.run(conn, "delivery/outcome_stage_clear.sql", claim_token=claim_token)
            if tokens:
                conn.execute(sa.text(sql.single_statement("delivery/retire_token.sql")), tokens)


class _Unaddressable(Exception):
    """The customer has no usable address on the channel."""
