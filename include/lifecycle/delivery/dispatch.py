"""The send ledger's state machine: claim due rows, render them, re-check the policy, send, record.

    planned ──claim──▶ sending ──check──▶ (handed over) ──request──▶ sent | failed | unknown
       ▲                  │  └──held (quiet hours, daily cap, gap)──▶ planned (send_after = when it may go)
       │                  │  └──dropped (consent, suppression, weekly cap, quiet hours: drop)──▶ dropped
       │                  └──not taken (429, 503, 4xx, refused), or claimed but never handed over──▶ planned
       └──(expires_at passed)──▶ expired

* **Claim** is one ``UPDATE … WHERE state = 'planned'`` under a fresh claim token, so no row is held twice.
  A claimed row is not yet handed over: if the process dies, it returns to 'planned'.
* **Hand-over in waves**: requests leave only into a free sending slot (``provider.concurrency`` of them).
  Whenever slots are free, the requests that fill them are re-checked together, in one commit, against the
  contact policy as it stands now (:mod:`lifecycle.delivery.gate`), their approved rows are marked handed
  over (``attempted_at``), and they leave at once. The same commit writes the outcomes of every request
  that returned since the last one, so the warehouse sees one short transaction per wave, not two per
  message. Nothing is handed over to wait for a slot: the check holds at the moment each request leaves,
  and a crash can leave ambiguous only the rows of requests in flight (at most ``provider.concurrency``
  requests) and those whose answer was not yet written. On DuckDB, for one-message requests, the commit
  appends the wave to the claim's hand-over journal (``crm.send_handovers``: an INSERT costs a quarter of
  the ledger's UPDATE, and the wave's commit is what a free slot waits for); the journal is applied to the
  ledger once the claim's requests have returned, and what a killed dispatch left in it is applied by the
  next one before anything is recovered.
* A message the provider did not take is released to 'planned' with ``send_after`` at the provider's
  Retry-After or an exponential backoff, and claimed again later in the same run when that is near, or in
  a later run; the others go on. A run stops early only when a whole round sent nothing because the
  provider refused everything (it is down), after ``max_attempts`` such rounds.
* Permanent errors are 'failed' at once; partial failures touch only the rows concerned; a row that cannot
  be rendered fails alone, with its reason.
* An ambiguous outcome (timeout or 5xx after the request left) is 'unknown' and never resent, except with a
  provider that deduplicates by our key (OneSignal, the sandbox), which is simply asked again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.delivery.context import ContextBuilder, ContextError
from lifecycle.delivery.gate import GateCustomer, GateRow, HeldCustomers, Verdict, check
from lifecycle.delivery.messages import (
    EmailContent,
    Message,
    Outcome,
    ProviderConfigError,
    ProviderResponseError,
    PushContent,
    SmsContent,
    batch_outcomes,
    is_valid_email,
)
from lifecycle.delivery.providers.base import Provider
from lifecycle.delivery.ratelimit import RateLimiter
from lifecycle.delivery.render import RenderPool, Templates
from lifecycle.delivery.signing import LinkSigner
from lifecycle.delivery.sms import is_e164
from lifecycle.policy.config import PolicyConfig, load_policy
from lifecycle.policy.rules import Message as Received
from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: How far back actually received messages matter to the send-time check (the weekly cap, with margin).
_HISTORY = timedelta(days=8)
#: How far ahead the content mailings of the customers held by :class:`HeldCustomers` are read.
_MAILINGS_AHEAD = timedelta(hours=1)
#: The PostgreSQL advisory lock that serialises the send-time check of every dispatch (all channels), so
#: two processes never approve the same customer's messages against the same history.
GATE_LOCK_KEY = 0x6C69666563796331


def utcnow() -> datetime:
    """The ledger stores naive UTC timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class DispatchSettings:
    #: Rounds in a row in which the provider took nothing (it refused or could not be reached) before the
    #: run gives up; the rows stay 'planned' for the next run.
    max_attempts: int = 4
    #: First backoff step in seconds (doubled per attempt of the row) when the provider gives no hint.
    base_wait_s: float = 1.0
    #: The run waits for released rows that become due within this many seconds; later ones are left to
    #: a later run (a Retry-After of an hour is honoured across runs through ``send_after``).
    max_wait_s: float = 60.0
    #: A 'sending' row claimed this long ago belongs to a dispatch that died. 0 when the caller guarantees
    #: one dispatch per channel at a time (the DAG: one task per channel, max_active_runs=1).
    orphan_after: timedelta = timedelta(minutes=15)
    #: Stop claiming after this many messages in one run (None: until nothing is due).
    max_messages: int | None = None
    #: Rows claimed (and rendered) at once, at least one request per sending thread. A claim holds rows
    #: only until their request is due: a crash returns the rows not yet handed over to 'planned'.
    claim_size: int = 200
    #: DuckDB: the dispatch keeps the warehouse file open while it sends, and lets it go for a moment at
    #: least this often (seconds), so other processes (webhooks) get their turn.
    hold_warehouse_s: float = 30.0
    #: DuckDB: its worker threads while the dispatch holds the file (None: DuckDB's default, one per core).
    #: What the dispatch runs then are a wave's UPDATE of a few rows and a claim's reads of a few hundred,
    #: which one thread finishes sooner than several handing the work to each other; the run's one large
    #: read (the bestsellers, before the file is held) keeps the default.
    duckdb_threads: int | None = 1
    #: Worker processes rendering a large claim (Jinja is pure CPU); below 2, rendering stays in-process.
    render_processes: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))


@dataclass
class DispatchReport:
    channel: str
    provider: str
    #: Claimed rows a dead dispatch never handed over: back to 'planned' (they lose nothing).
    orphans_released: int = 0
    #: Rows a dead dispatch had in flight: 'unknown', or 'planned' again with a deduplicating provider.
    orphans_recovered: int = 0
    expired: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0
    tokens_retired: int = 0
    #: SMS: segments billed and their cost (provider's currency) for the messages sent; addresses the
    #: provider reported as opted out (suppressed).
    segments: int = 0
    cost: float = 0.0
    opted_out: int = 0
    #: Send-time check: rows held back (to a later time) and dropped, by reason code.
    held: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    elapsed_s: float = 0.0

    def count(self, outcome: Outcome) -> None:
        key = {"retry": "released"}.get(outcome.state, outcome.state)
        setattr(self, key, getattr(self, key) + 1)
        if outcome.state == "sent":
            self.segments += outcome.segments or 0
            self.cost = round(self.cost + (outcome.cost or 0.0), 4)
        if outcome.error and outcome.state != "sent":
            reason = outcome.error.split(":")[0][:60]
            self.errors[reason] = self.errors.get(reason, 0) + 1

    def count_verdict(self, verdict: Verdict) -> None:
        if verdict.state == "sending":
            return
        target = self.held if verdict.state == "planned" else self.dropped
        target[verdict.reason or verdict.state] = target.get(verdict.reason or verdict.state, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line a person can read: what was claimed, sent, held back and dropped, and why."""

        def by_reason(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))

        parts = [f"{self.channel} via {self.provider}: claimed {self.claimed}, sent {self.sent}"]
        if self.segments:
            per = f", {self.cost / self.sent:.2f} a message" if self.sent and self.cost else ""
            parts[0] += f" ({self.segments} SMS segments, cost {self.cost:.2f}{per})"
        for label, value, reasons in (
            ("failed", self.failed, self.errors),
            ("held back at send time", sum(self.held.values()), self.held),
            ("dropped at send time", sum(self.dropped.values()), self.dropped),
        ):
            if value:
                parts.append(f"{label} {value} ({by_reason(reasons)})" if reasons else f"{label} {value}")
        if self.unknown:
            parts.append(f"unknown {self.unknown} (never resent; feedback settles them)")
        if self.released:
            parts.append(f"back in the queue {self.released} (the provider did not take them)")
        if self.expired:
            parts.append(f"expired {self.expired}")
        if self.orphans_released or self.orphans_recovered:
            parts.append(
                f"left by a dead dispatch: {self.orphans_released} back in the queue, "
                f"{self.orphans_recovered} in flight"
            )
        if self.tokens_retired:
            parts.append(f"push tokens retired {self.tokens_retired}")
        if self.opted_out:
            parts.append(f"opted out at the provider {self.opted_out} (suppressed)")
        parts.append(f"{self.requests} requests in {self.elapsed_s:.1f} s")
        return "; ".join(parts)


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
        policy: PolicyConfig | None = None,
    ):
        self.warehouse, self.provider, self.signer = warehouse, provider, signer
        self.templates = templates or Templates()
        self.settings = settings or DispatchSettings()
        self.policy = policy or load_policy()
        self.clock, self.sleep = clock, sleep
        self.builder = ContextBuilder(self.templates, signer)
        self.renderer = RenderPool(self.templates, self.settings.render_processes)
        self.limiter = RateLimiter(provider.requests_per_second)
        #: Warehouse work of the sending threads is serialised: short commits, and one writer for DuckDB.
        self._db = threading.Lock()
        #: DuckDB: the customers of the claims in flight, held while the file is.
        self._held = HeldCustomers() if warehouse.dialect == "duckdb" else None
        #: DuckDB, one message per request: the waves append to the hand-over journal, applied to the ledger
        #: a claim at a time (:meth:`_apply_journal`). While the file is held no other process reads the
        #: ledger, and this one reads the rows of a claim only once it is applied. A wave of one-message
        #: requests writes a few rows, and the ledger's UPDATE costs it four times the journal's INSERT; a
        #: batch provider's wave writes hundreds, where writing them twice (journal, then ledger) costs more
        #: than it saves (SendGrid: 7 % fewer messages a second on a 1 M-customer shop).
        self._journal = warehouse.dialect == "duckdb" and provider.max_batch == 1

    # --- the run ---------------------------------------------------------------------------------------

    def run(self, channel: str) -> DispatchReport:
        if channel not in self.provider.channels:
            raise ValueError(f"provider {self.provider.name} does not send {channel}")
        started = time.monotonic()
        report = DispatchReport(channel, self.provider.name)
        now = self.clock()
        with self.warehouse.begin() as conn:
            if self.warehouse.dialect == "duckdb":  # a killed dispatch's hand-overs, before any recovery
                for token in Warehouse.run(conn, "delivery/journal_claims.sql").scalars().all():
                    self._apply_journal(conn, token)
            params = {
                "channel": channel,
                "provider": self.provider.name,
                "resend_orphans": self.provider.idempotent,
                "stale_before": now - self.settings.orphan_after,
                "now": now,
            }
            released, in_flight = sql.statements("delivery/recover_orphans.sql")
            report.orphans_released = self._count(Warehouse.execute(conn, released, **params))
            report.orphans_recovered = self._count(Warehouse.execute(conn, in_flight, **params))
            report.expired = self._count(Warehouse.run(conn, "delivery/expire.sql", channel=channel, now=now))
            # PostgreSQL plans the claims knowing the rows the hour's planning added (a no-op on DuckDB):
            # taken for a handful, a claim of 2,000 among 20,000 due rows took 11 s instead of 40 ms.
            due = Warehouse.run(conn, "delivery/due_count.sql", channel=channel, now=now).scalar() or 0
            self.warehouse.refresh_statistics(conn, {"crm.send_ledger": int(due)})
        with self._db, self.warehouse.begin() as conn:
            self.builder.start_run(conn, now)
        claim_size = max(
            self.provider.max_batch * max(self.provider.concurrency, 1), self.settings.claim_size
        )
        self._halt = threading.Event()
        idle_rounds, waited_for = 0, None
        # Two claims at most: while one claim's requests are in flight, the next one is claimed, its context
        # loaded and rendered, and its requests queued behind them, so the sending threads never wait.
        in_flight: _Claim | None = None
        anchor = _Anchor(self._anchor)
        pool = _Pipeline(self, report)
        with anchor, pool:
            claim: _Claim | None = None
            try:
                while True:
                    claim = None
                    room = self.settings.max_messages is None or report.claimed < self.settings.max_messages
                    # Every few seconds the pipeline drains and the DuckDB file is let go for a moment,
                    # so other processes (webhooks) get their turn.
                    pause = anchor.age() > self.settings.hold_warehouse_s
                    if room and not pause and not self._halt.is_set():
                        limit = claim_size
                        if self.settings.max_messages is not None:
                            limit = min(limit, self.settings.max_messages - report.claimed)
                        anchor.open()
                        claim = self._dispatch_claim(channel, limit, report, pool)
                    if in_flight is not None:
                        refused_everything = self._settle(in_flight, report)
                        in_flight = None
                        idle_rounds = idle_rounds + 1 if refused_everything else 0
                        if idle_rounds >= self.settings.max_attempts:
                            log.warning(
                                "%s took nothing in %d rounds in a row; the rest waits for the next run",
                                self.provider.name,
                                idle_rounds,
                            )
                            self._halt.set()
                    if claim is not None:
                        in_flight = claim
                        continue
                    anchor.close()
                    if pause and room and not self._halt.is_set():
                        continue
                    if self._halt.is_set() or not room:
                        break
                    due = self._next_due(channel)
                    if due is None or due == waited_for:
                        break
                    waited_for = due
                    self.sleep(max((due - self.clock()).total_seconds(), 0.0))
            except BaseException:
                # A failed claim or a configuration error: what is still queued is not sent; the rows of
                # the claim in flight that were never handed over go back to 'planned'.
                self._halt.set()
                for pending in {id(c): c for c in (in_flight, claim) if c is not None}.values():
                    with contextlib.suppress(Exception):
                        pool.wait(pending, raise_error=False)
                        self._release_unattempted(pending.token, report, "not sent: the dispatch failed")
                raise
            finally:
                self.renderer.close()
        report.elapsed_s = round(time.monotonic() - started, 3)
        return report

    @contextlib.contextmanager
    def _anchor(self) -> Iterator[None]:
        """On DuckDB, one connection held open while claims are in flight: the many short transactions of
        their requests then reuse the open database instead of opening and checkpointing the file each
        time. The file is let go whenever the pipeline drains (at least every ``hold_warehouse_s``). While
        it is held, no other process can write: the claims' customers are held in memory
        (:class:`HeldCustomers`), and forgotten when the file is let go."""
        if self.warehouse.dialect != "duckdb":
            yield
            return
        self._held.clear()  # another process may have written since the file was last let go
        try:
            with self.warehouse.connect() as held, self._duckdb_settings(held):
                yield
        finally:
            self._held.clear()

    @contextlib.contextmanager
    def _duckdb_settings(self, held: sa.Connection) -> Iterator[None]:
        """DuckDB's settings for the dispatch while the file is held: its worker threads as
        ``duckdb_threads`` says, and the joins of a claim's few hundred customers with the customers table
        filtering its scan by their keys (:data:`_DUCKDB_KEY_FILTERS`). Settings of the open database, so of
        every connection of this process meanwhile, put back as they were at the end (a process that keeps
        the file open, such as a simulation, goes on with its own)."""
        wanted = {"dynamic_or_filter_threshold": _DUCKDB_KEY_FILTERS}
        if self.settings.duckdb_threads is not None:
            wanted["threads"] = int(self.settings.duckdb_threads)
        before = {
            name: int(held.exec_driver_sql(f"SELECT current_setting('{name}')").scalar()) for name in wanted
        }
        for name, value in wanted.items():
            held.exec_driver_sql(f"SET GLOBAL {name} = {value}")
        # No transaction stays open on the holding connection: one would keep every older version of the
        # ledger's rows alive for the whole hold, and each wave's UPDATE would scan them (8.7 ms a wave
        # against 5.7 on a 20 k-customer shop).
        held.commit()
        try:
            yield
        finally:
            for name, value in before.items():
                held.exec_driver_sql(f"SET GLOBAL {name} = {value}")

    def _next_due(self, channel: str) -> datetime | None:
        """When nothing is due now: the moment the next row released in this run is, if soon enough."""
        now = self.clock()
        with self.warehouse.begin() as conn:
            return Warehouse.run(
                conn,
                "delivery/next_due.sql",
                channel=channel,
                now=now,
                until=now + timedelta(seconds=self.settings.max_wait_s),
            ).scalar()

    @staticmethod
    def _count(result: sa.CursorResult) -> int:
        return max(result.rowcount or 0, 0)

    def _dispatch_claim(
        self, channel: str, limit: int, report: DispatchReport, pool: _Pipeline
    ) -> _Claim | None:
        """Claim, load the context, render, and queue the claim's requests on ``pool``; None if nothing
        was due. The requests run while the caller prepares the next claim."""
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
            rows = Warehouse.records(Warehouse.run(conn, "delivery/claimed.sql", claim_token=claim_token))
        if not rows:
            return None
        report.claimed += len(rows)
        log.info("claimed %d %s messages (%d so far this run)", len(rows), channel, report.claimed)
        try:
            # before the transaction: an opt-out the hand-over records meanwhile makes what it reads stale
            generation = self._held.generation if self._held is not None else 0
            with self.warehouse.begin() as conn:
                contexts = self.builder.build(self.warehouse, conn, claim_token, rows, now)
                gate_rows = self._gate_rows(conn, claim_token, rows)
                self._hold(conn, [r["customer_id"] for r in rows], now, generation)
        except Exception:
            # Not a row's fault (the warehouse or a query failed): give the whole claim back, untouched.
            self._record(
                claim_token,
                [
                    Outcome(r["send_key"], "retry", error="not sent: building the context failed")
                    for r in rows
                ],
                {},
                report,
            )
            raise
        messages, early = self._prepare(rows, contexts)
        self._record(claim_token, early, {}, report)
        claim = _Claim(claim_token, {m.send_key: m for m in messages}, gate_rows)
        claim.pool = pool
        pool.submit(claim, self.batches(messages))
        return claim

    def _settle(self, claim: _Claim, report: DispatchReport) -> bool:
        """Wait for a claim's requests; release what was never handed over if it stopped. True when the
        provider took nothing of it and refused some (a round in which it was down)."""
        claim.pool.wait(claim)
        if self._journal:
            with self._db, self.warehouse.begin() as conn:
                self._apply_journal(conn, claim.token)
        if claim.stop.is_set() or self._halt.is_set():
            error = (
                f"not sent: {claim.config_errors[0]}"
                if claim.config_errors
                else "not sent: the provider took nothing"
            )
            self._release_unattempted(claim.token, report, error)
        log.info(
            "so far: sent %d, failed %d, held back %d, dropped %d, back in the queue %d",
            report.sent,
            report.failed,
            sum(report.held.values()),
            sum(report.dropped.values()),
            report.released,
        )
        if claim.config_errors:
            raise claim.config_errors[0]  # the task fails loudly
        return claim.sent == 0 and claim.released > 0

    # --- rendering and addressing ------------------------------------------------------------------------

    def _prepare(self, rows: list[dict[str, Any]], contexts: dict) -> tuple[list[Message], list[Outcome]]:
        """Address and render every claimed row (in worker processes when the claim is large)."""
        failed, addressed = [], []
        for row in rows:
            key = row["send_key"]
            context = contexts[key]
            try:
                if isinstance(context, ContextError):
                    raise context
                addressed.append((row, context, self._address(row, context)))
            except _Unaddressable as exc:
                failed.append(Outcome(key, "failed", error=f"unaddressable: {exc}"))
            except Exception as exc:  # a poison row (bad data) fails alone, with its reason
                failed.append(Outcome(key, "failed", error=f"render: {exc}"))
        answers = self.renderer.render([(row["channel"], row["template"], ctx) for row, ctx, _ in addressed])
        messages = []
        for (row, context, to), answer in zip(addressed, answers, strict=True):
            if isinstance(answer, str):
                failed.append(Outcome(row["send_key"], "failed", error=f"render: {answer}"))
            elif isinstance(answer, SmsContent) and answer.segments > answer.max_segments:
                failed.append(Outcome(row["send_key"], "failed", error=too_many_segments(row, answer)))
            else:
                messages.append(self._message(row, context, to, answer))
        return messages, failed

    def _address(self, row: dict[str, Any], context: dict[str, Any]) -> tuple[str, ...]:
        if row["channel"] == "email":
            if not is_valid_email(row["email"]):
                raise _Unaddressable(f"invalid email address {row['email']!r}")
            return (row["email"].strip(),)
        if row["channel"] == "sms":
            if not is_e164(row.get("phone")):
                raise _Unaddressable(
                    "no phone number" if not row.get("phone") else f"invalid phone number {row['phone']!r}"
                )
            return (row["phone"],)
        tokens = tuple(context["push_tokens"])
        if self.provider.needs_push_tokens and not tokens:
            raise _Unaddressable("no active push token")
        return tokens

    def _message(
        self,
        row: dict[str, Any],
        context: dict[str, Any],
        to: tuple[str, ...],
        content: EmailContent | PushContent | SmsContent,
    ) -> Message:
        common = {
            "send_key": row["send_key"],
            "channel": row["channel"],
            "customer_id": row["customer_id"],
            "chain_id": row["chain_id"],
            "step_id": row["step_id"],
            "message_kind": row["message_kind"],
        }
        if isinstance(content, EmailContent):
            headers = {}
            if row["message_kind"] != "service":
                headers = {"List-Unsubscribe": f"<{context['links']['unsubscribe']}>"}
                # RFC 8058: one-click only with an HTTPS URI.
                if context["links"]["unsubscribe"].startswith("https://"):
                    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            return Message(**common, to=to, email=content, headers=headers)
        if isinstance(content, SmsContent):
            return Message(**common, to=to, sms=content)
        return Message(**common, to=to, push=content)

    # --- sending -----------------------------------------------------------------------------------------

    def batches(self, messages: list[Message]) -> list[list[Message]]:
        """Requests of at most ``max_batch`` messages; with ``unique_recipients`` no address twice in one."""
        size = self.provider.max_batch
        if not self.provider.unique_recipients:
            return [messages[i : i + size] for i in range(0, len(messages), size)]
        batches: list[list[Message]] = []
        addresses: list[set[str]] = []
        for message in messages:
            wanted = {address.lower() for address in message.to}
            for batch, taken in zip(batches, addresses, strict=True):
                if len(batch) < size and not wanted & taken:
                    batch.append(message)
                    taken |= wanted
                    break
            else:
                batches.append([message])
                addresses.append(set(wanted))
        return batches

    def _send_request(self, claim: _Claim, approved: list[Message]) -> list[Outcome]:
        """One request of a claim, on a sending thread, its rows already checked and handed over: the
        request and what it tells about the provider. The outcomes are written by the next wave."""
        try:
            outcomes = self._send_once(approved)
        except ProviderConfigError as exc:
            claim.stop.set()
            self._halt.set()
            claim.config_errors.append(exc)
            settled = {o.send_key for o in exc.outcomes}
            outcomes = exc.outcomes + Outcome.for_batch(
                [m for m in approved if m.send_key not in settled], "retry", f"not sent: {exc}"
            )
        with claim.lock:
            claim.sent += sum(1 for o in outcomes if o.state == "sent")
            claim.released += sum(1 for o in outcomes if o.state == "retry")
            # A provider that takes nothing, request after request, is down: stop this claim.
            claim.refused_in_a_row = (
                claim.refused_in_a_row + 1 if all(o.state == "retry" for o in outcomes) else 0
            )
            if claim.refused_in_a_row >= self.settings.max_attempts:
                claim.stop.set()
        return outcomes

    def _send_once(self, batch: list[Message]) -> list[Outcome]:
        try:
            outcomes = self.provider.send(batch)
        except ProviderConfigError:
            raise
        except ProviderResponseError as exc:
            return batch_outcomes(batch, exc, self.provider.idempotent)
        except Exception as exc:  # a bug or an unforeseen error: we cannot know what the provider did
            log.exception("%s: unexpected error while sending", self.provider.name)
            error = ProviderResponseError("ambiguous", f"{self.provider.name}: unexpected {exc!r}")
            return batch_outcomes(batch, error, self.provider.idempotent)
        answered = {o.send_key for o in outcomes}
        return outcomes + [
            Outcome(m.send_key, "unknown", error=f"{self.provider.name} reported nothing for it")
            for m in batch
            if m.send_key not in answered
        ]

    # --- the send-time check -----------------------------------------------------------------------------

    def _gate_rows(self, conn: sa.Connection, claim_token: str, rows: list[dict]) -> dict[str, GateRow]:
        extra = {
            r["send_key"]: r
            for r in Warehouse.records(Warehouse.run(conn, "delivery/gate_rows.sql", claim_token=claim_token))
        }
        gate_rows = {}
        for row in rows:
            more = extra.get(row["send_key"])
            if more is None:
                continue
            gate_rows[row["send_key"]] = GateRow(
                send_key=row["send_key"],
                customer_id=row["customer_id"],
                channel=row["channel"],
                message_kind=row["message_kind"],
                expires_at=more["expires_at"],
                quiet_hours=more["quiet_hours"],
                consent_scope=more["consent_scope"],
            )
        return gate_rows

    def _gate_wave(
        self, conn: sa.Connection, wave: list[_Request], report: DispatchReport, write: _LedgerWrite
    ) -> list[list[Message]]:
        """Re-check the policy for the requests about to leave; their verdicts join ``write``, which the
        caller applies in the same commit (the approved rows are then handed over). The approved messages of
        each request, in order. Rows are checked in send order, one customer's facts shared by the whole
        wave, so an approved row counts against the next ones; rows ``write`` already releases or fails (their
        request returned without sending them) do not count as received."""
        if self.warehouse.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": GATE_LOCK_KEY})
        now = self.clock()
        customer_ids = sorted(
            {
                request.claim.gate_rows[m.send_key].customer_id
                for request in wave
                for m in request.batch
                if m.send_key in request.claim.gate_rows
            }
        )
        write.checked_at = now  # the moment the rows approved here are handed over
        customers = self._gate_customers(conn, customer_ids, now, write.not_sent) if customer_ids else {}
        approved_by_request = []
        for request in wave:
            approved = []
            for message in request.batch:
                row = request.claim.gate_rows.get(message.send_key)
                if row is None:  # no longer held by this claim (recovered by another dispatch)
                    continue
                verdict = check(row, customers.get(row.customer_id), self.policy, now)
                report.count_verdict(verdict)
                if verdict.state == "sending" and self._held is not None:
                    self._held.handed_over(
                        row.customer_id, message.send_key, Received(now, row.channel, row.message_kind)
                    )
                write.add(
                    is_outcomes=False,
                    claim_tokens=request.claim.token,
                    send_keys=message.send_key,
                    states=verdict.state,
                    reasons=verdict.reason,
                    send_afters=verdict.hold_until,
                )
                if verdict.state == "sending":
                    approved.append(message)
            approved_by_request.append(approved)
        return approved_by_request

    def _hold(self, conn: sa.Connection, customer_ids: list[int], now: datetime, generation: int) -> None:
        """DuckDB: read the customers not held yet, once, for every wave of their claim (``generation``:
        see :meth:`HeldCustomers.load`)."""
        missing = self._held.missing(customer_ids, now) if self._held is not None else []
        if missing:
            until = now + _MAILINGS_AHEAD
            facts = self._customer_facts(conn, missing)
            self._held.load(missing, facts, self._received(conn, missing, now, until), until, generation)

    @staticmethod
    def _received(
        conn: sa.Connection, customer_ids: list[int], now: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        return Warehouse.records(
            Warehouse.run(
                conn, "delivery/gate_received.sql", customer_ids=customer_ids, since=now - _HISTORY, now=until
            )
        )

    @staticmethod
    def _customer_facts(conn: sa.Connection, customer_ids: list[int]) -> dict[int, GateCustomer]:
        """The customers' time zones, consents and suppressions as they are now."""
        customers: dict[int, GateCustomer] = {}
        suppressions: list[tuple[int, str, str]] = []
        for r in Warehouse.records(
            Warehouse.run(conn, "delivery/gate_customers.sql", customer_ids=customer_ids)
        ):
            if r["fact"] == "customer":
                customers[r["customer_id"]] = GateCustomer.from_row(r)
            else:
                suppressions.append((r["customer_id"], r["channel"], r["reason"]))
        for customer_id, channel, reason in suppressions:
            if customer_id in customers:
                customers[customer_id].suppressions.setdefault(channel, set()).add(reason)
        return customers

    def _gate_customers(
        self, conn: sa.Connection, customer_ids: list[int], now: datetime, not_sent: set[str]
    ) -> dict[int, GateCustomer]:
        """The wave's customers as they are now: consents, suppressions and what they received (but the
        rows of ``not_sent``, whose requests returned without sending them). On PostgreSQL read now, as
        another dispatch may be writing too; on DuckDB held for their claim (:class:`HeldCustomers`, where
        the rows of ``not_sent`` are gone already)."""
        count_mailings = self.policy.caps.content_mailings_count
        if self._held is not None:
            # the hand-over's own transaction: it sees every opt-out recorded, by its own thread, so far
            self._hold(conn, customer_ids, now, self._held.generation)
            held = {c: self._held.customer(c, count_mailings) for c in customer_ids}
            return {c: customer for c, customer in held.items() if customer is not None}
        customers = self._customer_facts(conn, customer_ids)
        received: dict[int, list[Received]] = defaultdict(list)
        for r in self._received(conn, customer_ids, now, now):
            if r["send_key"] not in not_sent and (r["source"] != "mailing" or count_mailings):
                received[r["customer_id"]].append(Received(r["at"], r["channel"], r["kind"]))
        for customer_id, messages in received.items():
            if customer_id in customers:
                customers[customer_id].received = sorted(messages, key=lambda m: m.at)
        return customers

    # --- the ledger --------------------------------------------------------------------------------------

    def _retry_at(self, outcome: Outcome, attempts: int, now: datetime) -> datetime:
        if outcome.retry_after is not None:
            wait = outcome.retry_after
        else:
            wait = min(self.settings.base_wait_s * 2 ** max(attempts - 1, 0), self.settings.max_wait_s)
        return now + timedelta(seconds=wait)

    def _record(
        self, claim_token: str, outcomes: list[Outcome], by_key: dict[str, Message], report: DispatchReport
    ) -> None:
        if not outcomes:
            return
        claim = _Claim(claim_token, by_key, {})
        with self._db, self.warehouse.begin() as conn:
            write = _LedgerWrite()
            self._add_outcomes(conn, [(claim, outcomes)], report, write)
            write.apply(conn, self.clock())

    def _add_outcomes(
        self,
        conn: sa.Connection,
        returned: list[tuple[_Claim, list[Outcome]]],
        report: DispatchReport,
        write: _LedgerWrite,
    ) -> None:
        """The outcomes of returned requests (each with its claim) join ``write``, applied by the caller."""
        now = self.clock()
        attempts: dict[str, dict[str, int]] = {}
        opted_out: list[dict[str, Any]] = []
        for claim, outcomes in returned:
            if any(o.state == "retry" for o in outcomes) and claim.token not in attempts:
                attempts[claim.token] = self._attempts(conn, claim.token)
            for outcome in outcomes:
                message = claim.by_key.get(outcome.send_key)
                retry = outcome.state == "retry"
                billed = outcome.state in ("sent", "unknown")
                write.add(
                    is_outcomes=True,
                    claim_tokens=claim.token,
                    send_keys=outcome.send_key,
                    states="planned" if retry else outcome.state,
                    send_afters=(
                        self._retry_at(outcome, attempts[claim.token].get(outcome.send_key, 1), now)
                        if retry
                        else None
                    ),
                    recipients=message.recipient if message else None,
                    provider_message_ids=outcome.provider_message_id,
                    last_errors=outcome.error[:1000] if outcome.error else None,
                    sent_ats=now if outcome.state == "sent" else None,
                    segments=outcome.segments if billed else None,
                    costs=outcome.cost if billed else None,
                )
                if outcome.state not in ("sent", "unknown"):
                    write.not_sent.add(outcome.send_key)
                    if self._held is not None and message is not None:
                        self._held.returned_unsent(message.customer_id, outcome.send_key)
                write.tokens += [{"token": token} for token in outcome.dead_tokens]
                report.tokens_retired += len(outcome.dead_tokens)
                if outcome.opted_out and message is not None:
                    addresses = {address.strip().lower() for address in message.to}
                    opted_out += [
                        {
                            "channel": message.channel,
                            "address": address,
                            "send_key": outcome.send_key,
                            "reason": "unsubscribe",
                            "source": self.provider.name,
                            "now": now,
                        }
                        for address in sorted(addresses)
                    ]
                    report.opted_out += len(addresses)
                report.count(outcome)
            report.requests += 1 if claim.by_key else 0
        if opted_out:
            # Written before the check of the commit's wave, so that no later message goes to them.
            conn.execute(sa.text(sql.single_statement("delivery/suppression_insert.sql")), opted_out)
            if self._held is not None:
                self._held.forget_facts()

    @staticmethod
    def _attempts(conn: sa.Connection, claim_token: str) -> dict[str, int]:
        return {
            r["send_key"]: int(r["attempts"])
            for r in Warehouse.run(conn, "delivery/claim_attempts.sql", claim_token=claim_token).mappings()
        }

    def _apply_journal(self, conn: sa.Connection, claim_token: str) -> None:
        """DuckDB: apply a claim's hand-over journal to the ledger and empty it (in the caller's transaction):
        its verdicts, then its outcomes, by ``delivery/apply_wave.sql``. Each row has at most one verdict
        and one outcome per claim, the outcome written after the verdict, so this is the order of the
        waves; rows the claim no longer holds are left alone, as the waves themselves would have."""
        rows = Warehouse.records(Warehouse.run(conn, "delivery/journaled.sql", claim_token=claim_token))
        if not rows:
            return
        for outcomes in (False, True):
            part = [r for r in rows if r["is_outcomes"] is outcomes]
            if part:
                write = _LedgerWrite()
                for r in part:
                    write.add(**r)
                Warehouse.run(conn, "delivery/apply_wave.sql", **write.columns)
        Warehouse.run(conn, "delivery/journal_clear.sql", claim_token=claim_token)

    def _release_unattempted(self, claim_token: str, report: DispatchReport, error: str) -> None:
        with self._db, self.warehouse.begin() as conn:
            if self._journal:
                self._apply_journal(conn, claim_token)
            released = Warehouse.run(
                conn,
                "delivery/release_unattempted.sql",
                claim_token=claim_token,
                error=error,
                now=self.clock(),
            )
            report.released += self._count(released)


_WAVE_COLUMNS = (
    "is_outcomes",
    "claim_tokens",
    "send_keys",
    "states",
    "reasons",
    "send_afters",
    "recipients",
    "provider_message_ids",
    "last_errors",
    "sent_ats",
    "segments",
    "costs",
    "handed_ats",
)
#: DuckDB joins a small table of keys with a large one by scanning the large one whole, unless the keys are
#: few enough to filter the scan (``dynamic_or_filter_threshold``, 50 by default): a claim's customers (up
#: to a few hundred, a SendGrid claim 2,000) read from 1 M customers in 3 ms instead of 29 (200 keys; 12
#: against 32 for 1,000, 21 against 33 for 2,000; above that the filter costs more than it saves).
_DUCKDB_KEY_FILTERS = 2000


@dataclass
class _LedgerWrite:
    """What one commit writes to the ledger: outcomes of returned requests and send-time verdicts, as the
    parallel arrays of ``delivery/apply_wave.sql`` (one UPDATE for both), with the push tokens to retire.
    (The addresses the provider reported as opted out are suppressed at once, see
    :meth:`Dispatcher._add_outcomes`.) On DuckDB a wave appends them to the hand-over journal instead
    (:meth:`Dispatcher._apply_journal`)."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in _WAVE_COLUMNS})
    tokens: list[dict[str, str]] = field(default_factory=list)
    #: Rows whose request returned without sending them (failed, or released to be tried again).
    not_sent: set[str] = field(default_factory=set)
    #: When the send-time check of the wave ran: its approved rows are handed over at that moment.
    checked_at: datetime | None = None

    def add(self, **values: Any) -> None:
        for name in _WAVE_COLUMNS:
            self.columns[name].append(values.get(name))

    def apply(self, conn: sa.Connection, now: datetime, journal: bool = False) -> None:
        """Write it, every row handed over at ``now``: to the ledger, or with ``journal`` to the claims'
        hand-over journal (``delivery/journal_wave.sql``)."""
        if self.columns["send_keys"]:
            self.columns["handed_ats"] = [now] * len(self.columns["send_keys"])
            name = "delivery/journal_wave.sql" if journal else "delivery/apply_wave.sql"
            Warehouse.run(conn, name, **self.columns)
        if self.tokens:
            conn.execute(sa.text(sql.single_statement("delivery/retire_token.sql")), self.tokens)


class _Anchor:
    """The warehouse anchor (:meth:`Dispatcher._anchor`) opened and closed as the pipeline drains."""

    def __init__(self, factory: Callable[[], contextlib.AbstractContextManager[None]]):
        self.factory = factory
        self.stack: contextlib.ExitStack | None = None
        self.opened_at = 0.0

    def open(self) -> None:
        if self.stack is None:
            self.stack = contextlib.ExitStack()
            self.stack.enter_context(self.factory())
            self.opened_at = time.monotonic()

    def close(self) -> None:
        if self.stack is not None:
            stack, self.stack = self.stack, None
            stack.close()

    def age(self) -> float:
        return time.monotonic() - self.opened_at if self.stack is not None else 0.0

    def __enter__(self) -> _Anchor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(eq=False)
class _Request:
    """One request of a claim: at most ``provider.max_batch`` messages."""

    claim: _Claim
    batch: list[Message]


class _Pipeline:
    """The requests of the claims in flight, handed over in waves into ``provider.concurrency`` sending
    slots.

    One thread (the hand-over) owns the warehouse side: whenever slots are free it takes as many queued
    requests as there are free slots, and in one commit writes the outcomes of the requests that returned
    since its last commit, re-checks the taken requests against the contact policy and hands their approved
    rows over; then they leave at once on the sending threads. A request is never handed over to wait for
    a slot, so the check holds at the moment it leaves; while one wave commits, the requests of the last
    one are on the wire.
    """

    def __init__(self, dispatcher: Dispatcher, report: DispatchReport):
        self.dispatcher, self.report = dispatcher, report
        self.slots = max(dispatcher.provider.concurrency, 1)
        self.free = self.slots
        self.cond = threading.Condition()
        self.queue: deque[_Request] = deque()
        self.returned: list[tuple[_Request, list[Outcome]]] = []
        self.closed = False
        self.error: BaseException | None = None
        self.senders = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="dispatch-send")
        self.kept: _KeptConnection | None = None
        self.thread = threading.Thread(target=self._hand_over, name="dispatch-hand-over", daemon=True)
        self.thread.start()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, claim: _Claim, batches: list[list[Message]]) -> None:
        with self.cond:
            if self.error is not None:
                raise self.error
            claim.pending += len(batches)
            self.queue.extend(_Request(claim, batch) for batch in batches)
            self.cond.notify_all()

    def wait(self, claim: _Claim, raise_error: bool = True) -> None:
        """Until every request of ``claim`` has left and its outcomes are written (or was not sent)."""
        with self.cond:
            while claim.pending and self.error is None:
                self.cond.wait()
            if self.error is not None and raise_error:
                raise self.error

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.thread.join()
        self.senders.shutdown(wait=True)

    def _done(self, request: _Request) -> None:
        request.claim.pending -= 1
        self.cond.notify_all()

    def _take(self) -> tuple[list[_Request], list[tuple[_Request, list[Outcome]]]] | None:
        """The next wave and the outcomes to write with it; None when closed and nothing is left."""
        halt = self.dispatcher._halt
        with self.cond:
            while self.error is None:
                # A stopped claim (the provider is down, a configuration error) sends nothing more.
                for request in [r for r in self.queue if r.claim.stop.is_set() or halt.is_set()]:
                    self.queue.remove(request)
                    self._done(request)
                wave = [self.queue.popleft() for _ in range(min(self.free, len(self.queue)))]
                self.free -= len(wave)
                returned, self.returned = self.returned, []
                if wave or returned:
                    return wave, returned
                if self.free == self.slots:
                    if self.kept is not None:
                        self.kept.close()  # drained: the file may be let go
                    if self.closed:
                        return None
                self.cond.wait()
            return None

    def _within_rate(self, wave: list[_Request]) -> list[_Request]:
        """The head of the wave the rate limit lets leave now (at least one request, waited for); the rest
        goes back to the front of the queue, so requests never leave in a burst above the limit."""
        if not wave:
            return wave
        limiter = self.dispatcher.limiter
        limiter.acquire()
        allowed = 1
        while allowed < len(wave) and limiter.try_acquire():
            allowed += 1
        if allowed < len(wave):
            with self.cond:
                self.queue.extendleft(reversed(wave[allowed:]))
                self.free += len(wave) - allowed
        return wave[:allowed]

    def _hand_over(self) -> None:
        warehouse = self.dispatcher.warehouse
        try:
            with warehouse.transactions(generic_plans=True) as transaction:
                if warehouse.dialect == "duckdb":
                    transaction = self.kept = _KeptConnection(warehouse)
                self._waves(transaction)
        except BaseException as exc:  # the warehouse failed: the run stops, the caller raises it
            log.exception("dispatch: handing requests over failed")
            self._fail(exc)
        finally:
            if self.kept is not None:
                self.kept.close()

    def _waves(self, transaction: Callable[[], contextlib.AbstractContextManager[sa.Connection]]) -> None:
        dispatcher, report = self.dispatcher, self.report
        while (taken := self._take()) is not None:
            wave, returned = taken
            wave = self._within_rate(wave)
            approved: list[list[Message]] = []
            with dispatcher._db, transaction() as conn:
                # One commit: the outcomes of what returned, and the verdicts of what leaves now.
                write = _LedgerWrite()
                written = [(request.claim, outcomes) for request, outcomes in returned if outcomes]
                if written:
                    dispatcher._add_outcomes(conn, written, report, write)
                if wave:
                    approved = dispatcher._gate_wave(conn, wave, report, write)
                write.apply(conn, write.checked_at or dispatcher.clock(), journal=dispatcher._journal)
            with self.cond:
                for request, _ in returned:
                    self._done(request)
                for request, messages in zip(wave, approved, strict=True):
                    if not messages:
                        self.free += 1
                        self._done(request)
            for request, messages in zip(wave, approved, strict=True):
                if messages:
                    self.senders.submit(self._send, request, messages)

    def _send(self, request: _Request, messages: list[Message]) -> None:
        try:
            outcomes = self.dispatcher._send_request(request.claim, messages)
        except BaseException as exc:  # the process is going down: the rows stay handed over, unwritten
            self._fail(exc)
            raise
        with self.cond:
            self.returned.append((request, outcomes))
            self.free += 1
            self.cond.notify_all()

    def _fail(self, exc: BaseException) -> None:
        self.dispatcher._halt.set()
        with self.cond:
            if self.error is None:
                self.error = exc
            self.cond.notify_all()


class _KeptConnection:
    """DuckDB: the hand-over's transactions on one connection, kept from wave to wave while requests are in
    flight (a new one costs about a millisecond a wave) and closed whenever the pipeline drains, so that
    the file can be let go (see :meth:`Dispatcher._anchor`). Used from the hand-over thread only."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self.conn: sa.Connection | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[sa.Connection]:
        if self.conn is None:
            self.conn = self.warehouse.connect()
        try:
            with self.conn.begin():
                yield self.conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            conn.close()


@dataclass
class _Claim:
    """One claim's requests in flight and what its round tells about the provider."""

    token: str
    by_key: dict[str, Message]
    gate_rows: dict[str, GateRow]
    pool: _Pipeline | None = None
    #: Requests queued, in flight or not yet written (guarded by the pipeline's condition).
    pending: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    config_errors: list[ProviderConfigError] = field(default_factory=list)
    refused_in_a_row: int = 0
    sent: int = 0
    released: int = 0


def too_many_segments(row: dict[str, Any], content: SmsContent) -> str:
    """The ledger's reason for an SMS longer than its step allows, naming the step and the template."""
    encoding = "GSM-7" if content.encoding == "gsm7" else "UCS-2"
    latin = ", transliterated" if content.transliterated else ""
    return (
        f"too_many_segments: {row['chain_id']}.{row['step_id']} ({row['template']}) needs "
        f"{content.segments} SMS segments ({encoding}{latin}, {len(content.text)} characters); the step "
        f"allows {content.max_segments} (messages.yaml steps.{row['chain_id']}.{row['step_id']}.sms"
        ".max_segments); shorten the text or set transliterate: to_fit"
    )


class _Unaddressable(Exception):
    """The customer has no usable address on the channel."""
