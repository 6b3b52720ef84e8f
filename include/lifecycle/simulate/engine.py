"""Weeks of hourly operation of the real pipeline against a demo shop whose customers react.

For every simulated hour H (UTC), in the order the DAGs run in a deployment, calling the functions the DAG
tasks call:

1. the shop's rows of the hour are released (``World.release``): the customers' own behaviour drawn by the
   demo generator, the catalogue scenario, and the orders messages caused;
2. ``lifecycle_ingest``: :func:`lifecycle.ingest.ingest` with the window ending at H;
3. ``lifecycle_scores`` (first run of each day): :func:`lifecycle.scores.scoring.score` for the day before;
   ``lifecycle_train_churn`` at the start and on Mondays at 03:00: ``train_churn`` and ``train_ltv``;
4. ``lifecycle_chains``: :func:`lifecycle.chains.engine.run_chains` and the contact policy
   (:func:`lifecycle.policy.stage.decide`) at H;
5. ``lifecycle_dispatch`` at H:20: :class:`lifecycle.delivery.dispatch.Dispatcher` for email, push and SMS
   through the sandbox provider;
6. the customers react to what was sent (:mod:`lifecycle.demo.response`): feedback events are posted through
   the signed webhook as they happen; induced orders are added to the world, prevented ones removed;
   everything is written to ``sim.truth_messages``;
7. ``lifecycle_reports`` at 02:00: :func:`lifecycle.reports.build.build_reports` for the day before.

The warehouse's connections stay open for the whole run (DuckDB): opening the file for every transaction
costs more than most of an hour's statements. The policy runs when some step is due, a channel's dispatch
when it has rows to send.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lifecycle.demo.response import ResponseConfig, customer_traits, react
from lifecycle.simulate.feedback import RecordingSandbox, Sent, WebhookPoster, event
from lifecycle.simulate.world import SIM_SCHEMA, World, future
from lifecycle.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Moscow is UTC+3; the simulation ends at 14:00 there by default, when messages go out everywhere west of
#: the Urals and it is evening in the far east.
DEFAULT_END_UTC_HOUR = 11
SCORES_HOUR, REPORTS_HOUR, TRAIN_HOUR = 0, 2, 3
DISPATCH_MINUTE = 20
PURCHASE_STATUSES = ("paid", "shipped", "delivered", "completed")


def default_end(now: datetime | None = None) -> datetime:
    """The latest moment at or before ``now`` (UTC) that is 14:00 in Moscow."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    end = now.replace(hour=DEFAULT_END_UTC_HOUR, minute=0, second=0, microsecond=0)
    return end if end <= now else end - timedelta(days=1)


@dataclass
class SimulationConfig:
    days: int = 28
    customers: int = 3_000
    seed: int = 42
    end: datetime | None = None
    #: History before the simulated weeks (the churn and LTV models need a year and a later window).
    history_days: int = 730
    #: Bad rows added to the shop's tables, as in ``python -m lifecycle.demo --bad-share`` (quarantined).
    bad_share: float = 0.0
    outbox: Path | None = None
    response: ResponseConfig = field(default_factory=ResponseConfig)
    webhook_secret: bytes = b"simulation-webhook-secret"
    link_secret: bytes = b"simulation-link-secret-0123456789abcdef"
    links_url: str = "http://localhost:8080/lifecycle-webhooks"
    #: DuckDB worker threads per connection (the statements are small: one thread wastes least).
    duckdb_threads: int = 1
    #: Another folder of chain files than the configured one (a variant of the map to measure).
    chains_folder: Path | None = None
    #: Every chain's holdout share instead of its file's (None: the files'). A design choice of a measuring
    #: run: a larger holdout gives the reports enough entrants in both arms in a shorter simulation.
    holdout_share: float | None = None
    #: What one SMS segment costs through the sandbox provider (roubles; the ledger's cost of each SMS).
    sms_price_per_segment: float = 4.5

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.customers < 50:
            raise ValueError(f"customers must be at least 50, got {self.customers}")
        if self.holdout_share is not None and not 0 <= self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in [0, 1), got {self.holdout_share}")


@dataclass
class HourFigures:
    at: datetime
    released: int = 0
    ingested: int = 0
    due_steps: int = 0
    planned: int = 0
    sent: int = 0
    events: int = 0
    induced: int = 0
    prevented: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class SimulationResult:
    start: datetime
    end: datetime
    hours: list[HourFigures]
    scenario: dict[str, Any]
    seconds: float
    warehouse_url: str

    def per_hour_s(self) -> float:
        return sum(sum(h.seconds.values()) for h in self.hours) / max(1, len(self.hours))

    def stage_seconds(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for h in self.hours:
            for stage, s in h.seconds.items():
                totals[stage] += s
        return dict(totals)

    def summary(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours": len(self.hours),
            "sent": sum(h.sent for h in self.hours),
            "feedback_events": sum(h.events for h in self.hours),
            "induced_orders": sum(h.induced for h in self.hours),
            "prevented_orders": sum(h.prevented for h in self.hours),
            "scenario": self.scenario,
            "seconds": round(self.seconds, 1),
            "seconds_per_hour": round(self.per_hour_s(), 3),
            "seconds_by_stage": {k: round(v, 1) for k, v in self.stage_seconds().items()},
        }


class Simulation:
    def __init__(self, warehouse_url: str, config: SimulationConfig, progress=None):
        self.url = warehouse_url
        self.config = config
        self.end = config.end or default_end()
        self.start = self.end - timedelta(days=config.days)
        self.warehouse = Warehouse(warehouse_url)
        self.progress = progress or (lambda message: None)
        self.world = World(self.warehouse)
        self.scenario: dict[str, Any] = {}
        self.recent_emails: dict[int, deque] = defaultdict(deque)
        self.pending_events: list[tuple[datetime, dict]] = []
        self.next_order_id = 0
        self.traits: dict[str, dict[int, Any]] = {}
        self.zones: dict[int, ZoneInfo] = {}

    # --- setup ---------------------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        """Generate the shop (history and the customers' own behaviour up to the end), migrate ``crm``,
        stash the future, add the catalogue scenario and ingest the history up to the start."""
        from lifecycle.demo import DemoConfig, generate
        from lifecycle.demo.scenario import catalogue_scenario
        from lifecycle.ingest import ingest
        from lifecycle.migrations import MIGRATION_SETS, migrate

        cfg = self.config
        manifest = generate(
            self.warehouse,
            DemoConfig(
                customers=cfg.customers,
                seed=cfg.seed,
                end=self.end,
                days=cfg.history_days + cfg.days,
                bad_share=cfg.bad_share,
                replace=True,
            ),
        )
        migrate(self.warehouse, MIGRATION_SETS)
        # The file kept open for the whole simulation (a second connection for a transaction inside another).
        replaced = self.warehouse.keep_open(2, cfg.duckdb_threads)
        if replaced is not self.warehouse.engine:
            replaced.dispose()
        self._create_truth_tables()
        moved = self.world.stash_after(self.start)
        self.progress(f"history up to {self.start:%Y-%m-%d %H:%M} UTC, ingesting it")
        ingest(
            self.warehouse,
            window_end=self.start,
            run_key=f"sim-ingest-{self.start:%Y%m%dT%H%M}",
            now=self.start,
        )
        scenario = catalogue_scenario(self.warehouse, self.start, self.end)
        self.world.add("price_changes", scenario.price_changes)
        self.world.add("stock_changes", scenario.stock_changes)
        self.world.add("products", scenario.products)
        if scenario.occasion:
            with self.warehouse.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO crm.calendar_occasions (occasion_id, name_ru, name_en, starts_month,"
                        " starts_day) VALUES (:i, :ru, :en, :m, :d) ON CONFLICT (occasion_id) DO NOTHING"
                    ),
                    dict(zip(("i", "ru", "en", "m", "d"), scenario.occasion, strict=True)),
                )
        self.scenario = scenario.describe()
        with self.warehouse.begin() as conn:
            self.next_order_id = 1 + int(
                conn.execute(
                    sa.text(
                        f"SELECT GREATEST((SELECT COALESCE(MAX(order_id), 0) FROM shop.orders),"
                        f" (SELECT COALESCE(MAX(order_id), 0) FROM {future('orders')}))"
                    )
                ).scalar()
            )
            zones = {
                int(r[0]): r[1]
                for r in conn.execute(
                    sa.text(
                        f"SELECT customer_id, timezone FROM shop.customers UNION "
                        f"SELECT customer_id, timezone FROM {future('customers')}"
                    )
                )
                if r[0] is not None
            }
        ids = np.array(sorted(zones), dtype=np.int64)
        traits = customer_traits(cfg.seed, ids, cfg.response)
        self.traits = {
            name: dict(zip(ids.tolist(), values.tolist(), strict=True)) for name, values in traits.items()
        }
        self.zones = {cid: _zone(name) for cid, name in zones.items()}
        self._write_truth_customers(ids, traits, zones)
        return {"manifest_rows": manifest.rows, "stashed": moved, "scenario": self.scenario}

    def _create_truth_tables(self) -> None:
        self._run_sql("create_truth_tables")

    def _write_truth_customers(self, ids: np.ndarray, traits: dict[str, np.ndarray], zones: dict) -> None:
        frame = pd.DataFrame(
            {
                "customer_id": ids,
                "timezone": [zones[int(c)] for c in ids],
                "preferred_hour": traits["preferred_hour"],
                "engagement": traits["engagement"],
                "bad_address": traits["bad_address"],
            }
        )
        with self.warehouse.begin() as conn:
            self.warehouse.insert_df(conn, f"{SIM_SCHEMA}.truth_customers", frame)

    # --- the hours -----------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        from lifecycle.chains.config import load_chains
        from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
        from lifecycle.delivery.email_mime import Sender
        from lifecycle.delivery.signing import LinkSigner
        from lifecycle.paths import DATA_DIR
        from lifecycle.policy.config import load_policy
        from lifecycle.scores.config import load_config

        started = time.monotonic()
        cfg = self.config
        self.chains = (
            load_chains(cfg.chains_folder, check_templates=False)
            if cfg.chains_folder
            else load_chains(check_templates=False)
        )
        if cfg.holdout_share is not None:
            self.chains = {
                chain_id: chain.model_copy(update={"holdout_share": cfg.holdout_share})
                for chain_id, chain in self.chains.items()
            }
        self.policy = load_policy()
        self.scores_config = load_config()
        outbox = cfg.outbox or DATA_DIR / "outbox"
        self.provider = RecordingSandbox(
            outbox, Sender("shop@shop.example"), sms_price_per_segment=cfg.sms_price_per_segment
        )
        signer = LinkSigner(cfg.link_secret, cfg.links_url)
        self.poster = WebhookPoster(self.url, cfg.webhook_secret, cfg.link_secret, cfg.links_url)
        self._write_configured_uplift()
        self.moment = self.start
        # As the DAG: one dispatch per channel at a time (orphans settled at once); the clock is the hour's.
        self.dispatcher = Dispatcher(
            self.warehouse,
            self.provider,
            signer,
            settings=DispatchSettings(orphan_after=timedelta(0)),
            clock=lambda: self.moment,
            sleep=lambda _seconds: None,
            policy=self.policy,
        )
        self._train(self.start)
        self._score(self.start.date() - timedelta(days=1))
        hours = []
        total = self.config.days * 24
        try:
            for k in range(1, total + 1):
                at = self.start + timedelta(hours=k)
                hours.append(self.hour(at))
                if k % 24 == 0 or k == total:
                    done = hours[-24:]
                    self.progress(
                        f"  day {k // 24 if k % 24 == 0 else k / 24:.0f}/{cfg.days} to {at:%Y-%m-%d %H:%M}: "
                        f"{sum(h.sent for h in done)} sent, {sum(h.events for h in done)} feedback events, "
                        f"{sum(h.induced for h in done)} induced and "
                        f"{sum(h.prevented for h in done)} prevented orders; "
                        f"{sum(sum(h.seconds.values()) for h in done) / len(done):.2f} s per hour"
                    )
            self._report(self.end.date(), self.end)
            self._write_truth_chain()
            self._write_truth_send_time()
            self._write_truth_step()
        finally:
            self.poster.close()
        return SimulationResult(
            self.start, self.end, hours, self.scenario, time.monotonic() - started, self.url
        )

    def hour(self, at: datetime) -> HourFigures:
        from lifecycle.chains.engine import run_chains
        from lifecycle.ingest import QuarantineShareError, ingest
        from lifecycle.policy.stage import decide

        figures = HourFigures(at)
        timer = _Timer(figures.seconds)
        with timer("release"):
            figures.released = self.world.release(at)
        with timer("ingest"):
            try:
                report = ingest(self.warehouse, window_end=at, run_key=f"sim-ingest-{at:%Y%m%dT%H%M}", now=at)
            except QuarantineShareError as exc:  # committed; the DAG's task fails loudly, the hour goes on
                log.warning("simulated hour %s: %s", at, exc)
                report = exc.report
            figures.ingested = sum(t.rows_loaded for t in report.tables)
        if at.hour == TRAIN_HOUR and at.weekday() == 0:
            with timer("train"):
                self._train(at)
        if at.hour == SCORES_HOUR:
            with timer("scores"):
                self._score(at.date() - timedelta(days=1))
        run_key = f"sim-chains-{at:%Y%m%dT%H%M}"
        with timer("chains"):
            chain_figures = run_chains(self.warehouse, at, run_key, self.chains)
            figures.due_steps = sum(f.due_steps for f in chain_figures)
        if figures.due_steps:
            with timer("policy"):
                funnel = decide(self.warehouse, run_key, at, self.policy)
                figures.planned = _planned(funnel)
        with timer("dispatch"):
            self.moment = at + timedelta(minutes=DISPATCH_MINUTE)
            for channel in self._channels_with_work():
                self.dispatcher.run(channel)
            sent = self.provider.take()
            figures.sent = len(sent)
        with timer("react"):
            figures.induced, figures.prevented = self._react(sent, self.moment)
        with timer("feedback"):
            figures.events = self._post_feedback(at + timedelta(hours=1))
        if at.hour == REPORTS_HOUR:
            with timer("reports"):
                self._report(at.date() - timedelta(days=1), at)
        self._run_sql(
            "record_hour",
            **{k: getattr(figures, k) for k in ("at", "released", "ingested", "due_steps", "planned")},
            **{k: getattr(figures, k) for k in ("sent", "events", "induced", "prevented")},
            seconds=sum(figures.seconds.values()),
        )
        return figures

    def _channels_with_work(self) -> list[str]:
        """The channels with rows still to send (planned or left in 'sending'); the others' dispatch would
        claim, expire and recover nothing."""
        with self.warehouse.begin() as conn:
            return [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT DISTINCT channel FROM crm.send_ledger WHERE state IN ('planned', 'sending')"
                        " ORDER BY channel"
                    )
                )
            ]

    def _train(self, at: datetime) -> None:
        from lifecycle.scores.training import train_churn, train_ltv

        for train in (train_churn, train_ltv):
            try:
                train(self.warehouse, at.date(), self.scores_config)
            except Exception as exc:  # a model that fails its gate keeps the previous one, as the DAG does
                log.warning("training %s at %s: %s", train.__name__, at, exc)

    def _score(self, as_of: date) -> None:
        from lifecycle.scores.scoring import score

        score(self.warehouse, as_of, self.scores_config, run_key=f"sim-scores-{as_of:%Y%m%d}")

    def _report(self, report_date: date, at: datetime) -> None:
        from lifecycle.reports.build import build_reports

        build_reports(
            self.warehouse, report_date, f"sim-reports-{report_date:%Y%m%d}", self.chains, self.policy, now=at
        )

    # --- reactions -----------------------------------------------------------------------------------

    def _react(self, sent: list[Sent], sent_at: datetime) -> tuple[int, int]:
        if not sent:
            return 0, 0
        cfg = self.config.response
        keys = [s.send_key for s in sent]
        with self.warehouse.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT send_key, variant, context FROM crm.send_ledger WHERE send_key IN :keys"
                ).bindparams(sa.bindparam("keys", expanding=True)),
                {"keys": keys},
            ).all()
        ledger = {r[0]: (r[1], r[2]) for r in rows}
        sent = sorted(sent, key=lambda s: s.send_key)
        customers = np.array([s.customer_id for s in sent], dtype=np.int64)
        week_ago = sent_at - timedelta(days=7)
        recent = []
        for s in sent:
            times = self.recent_emails[s.customer_id]
            while times and times[0] < week_ago:
                times.popleft()
            recent.append(len(times))
        rng = np.random.default_rng([self.config.seed, 9_001, int(sent_at.replace(tzinfo=UTC).timestamp())])
        variants = np.array([ledger.get(s.send_key, ("A", None))[0] for s in sent])
        moment = sent_at.replace(tzinfo=UTC)
        send_hour = np.array(
            [
                (lambda here: here.hour + here.minute / 60)(moment.astimezone(self.zones.get(int(c), _UTC)))
                for c in customers
            ]
        )
        reactions = react(
            rng,
            cfg,
            channel=np.array([s.channel for s in sent]),
            chain_id=np.array([s.chain_id for s in sent]),
            variant=variants,
            engagement=np.array([self.traits["engagement"].get(int(c), 1.0) for c in customers]),
            bad_address=np.array([self.traits["bad_address"].get(int(c), False) for c in customers]),
            recent_emails=np.array(recent),
            send_hour=send_hour,
            preferred_hour=np.array([self.traits["preferred_hour"].get(int(c), 12) for c in customers]),
            step_id=np.array([s.step_id for s in sent]),
        )
        truth, induced_orders, induced_items = [], [], []
        induced = prevented = 0
        prices = self._prices(sent_at)
        popular = self._popular_ids(prices)
        for i, s in enumerate(sent):
            if s.channel == "email" and reactions.delivered[i]:
                self.recent_emails[s.customer_id].append(sent_at)
            at = sent_at
            events = []
            if reactions.bounced[i]:
                events.append(
                    event(s.send_key, "hard_bounce", s.recipient, s.channel, at + timedelta(seconds=5))
                )
            if reactions.delivered[i]:
                events.append(
                    event(
                        s.send_key,
                        "delivered",
                        s.recipient,
                        s.channel,
                        at + _s(reactions.delivered_after_s[i]),
                    )
                )
            if reactions.opened[i]:
                events.append(
                    event(s.send_key, "open", s.recipient, s.channel, at + _s(reactions.opened_after_s[i]))
                )
            if reactions.clicked[i]:
                events.append(
                    event(s.send_key, "click", s.recipient, s.channel, at + _s(reactions.clicked_after_s[i]))
                )
            if reactions.unsubscribed[i]:
                moment = at + _s(reactions.opened_after_s[i] + 60)
                events.append(event(s.send_key, "unsubscribe", s.recipient, s.channel, moment))
            self.pending_events += [
                (datetime.fromtimestamp(e["timestamp"], UTC).replace(tzinfo=None), e) for e in events
            ]
            order_id = ordered_at = None
            revenue = 0.0
            effect = int(reactions.purchase_effect[i])
            if effect > 0:
                product_id = _trigger_product(ledger.get(s.send_key, (None, None))[1], prices)
                if product_id is None and popular:
                    product_id = popular[int(rng.integers(len(popular)))]
                if product_id is not None:
                    order_id, self.next_order_id = self.next_order_id, self.next_order_id + 1
                    ordered_at = at + _s(reactions.purchase_after_s[i])
                    revenue = float(prices[product_id])
                    induced_orders.append(_order(order_id, s.customer_id, revenue, ordered_at))
                    induced_items.append(_item(order_id, product_id, revenue, ordered_at))
                    induced += 1
                else:
                    effect = 0
            elif effect < 0:
                lost = self._prevent(s.customer_id, at, at + timedelta(days=cfg.window_days))
                if lost is None:
                    effect = 0
                else:
                    order_id, ordered_at, amount = lost
                    revenue = -amount
                    prevented += 1
            truth.append(
                {
                    "send_key": s.send_key,
                    "chain_id": s.chain_id,
                    "step_id": s.step_id,
                    "variant": str(variants[i]),
                    "channel": s.channel,
                    "customer_id": s.customer_id,
                    "sent_at": at,
                    "delivered": bool(reactions.delivered[i]),
                    "bounced": bool(reactions.bounced[i]),
                    "opened": bool(reactions.opened[i]),
                    "clicked": bool(reactions.clicked[i]),
                    "unsubscribed": bool(reactions.unsubscribed[i]),
                    "uplift": float(reactions.uplift[i]),
                    "effect": effect,
                    "order_id": order_id,
                    "ordered_at": ordered_at,
                    "revenue": revenue,
                    "send_local_hour": float(send_hour[i]),
                    "hour_factor": float(reactions.hour_factor[i]),
                    "open_probability": float(reactions.open_probability[i]),
                    "click_probability": float(reactions.click_probability[i]),
                }
            )
        self.world.add("orders", pd.DataFrame(induced_orders))
        self.world.add("order_items", pd.DataFrame(induced_items))
        with self.warehouse.begin() as conn:
            self.warehouse.insert_df(conn, f"{SIM_SCHEMA}.truth_messages", pd.DataFrame(truth))
        return induced, prevented

    def _prevent(
        self, customer_id: int, since: datetime, until: datetime
    ) -> tuple[int, datetime, float] | None:
        """Remove the customer's first own (not yet released) order in the window; None when there is none."""
        with self.warehouse.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT order_id, ordered_at, total_amount FROM {future('orders')}"
                    " WHERE customer_id = :c AND ordered_at > :s AND ordered_at <= :u AND status IN :statuses"
                    " AND order_id NOT IN"
                    f" (SELECT order_id FROM {SIM_SCHEMA}.truth_messages WHERE order_id IS NOT NULL)"
                    " ORDER BY ordered_at, order_id LIMIT 1"
                ).bindparams(sa.bindparam("statuses", expanding=True)),
                {"c": customer_id, "s": since, "u": until, "statuses": list(PURCHASE_STATUSES)},
            ).first()
            if row is None:
                return None
            conn.execute(sa.text(f"DELETE FROM {future('order_items')} WHERE order_id = :o"), {"o": row[0]})
            conn.execute(sa.text(f"DELETE FROM {future('orders')} WHERE order_id = :o"), {"o": row[0]})
        return int(row[0]), row[1], float(row[2] or 0.0)

    def _prices(self, at: datetime) -> dict[int, float]:
        """The shop's price of every product in stock at ``at`` (its row plus the released changes)."""
        with self.warehouse.begin() as conn:
            rows = conn.execute(
                sa.text(
                    """
                    SELECT p.product_id,
                        COALESCE((SELECT pc.new_price FROM shop.price_changes AS pc
                                  WHERE pc.product_id = p.product_id AND pc.changed_at <= :at
                                  ORDER BY pc.changed_at DESC LIMIT 1), p.price) AS price,
                        COALESCE((SELECT sc.in_stock FROM shop.stock_changes AS sc
                                  WHERE sc.product_id = p.product_id AND sc.changed_at <= :at
                                  ORDER BY sc.changed_at DESC LIMIT 1), p.in_stock) AS in_stock
                    FROM shop.products AS p
                    """
                ),
                {"at": at},
            ).all()
        return {int(r[0]): float(r[1]) for r in rows if r[2] and r[1]}

    @staticmethod
    def _popular_ids(prices: dict[int, float]) -> list[int]:
        return sorted(prices)

    def _post_feedback(self, until: datetime) -> int:
        due = [e for when, e in self.pending_events if when < until]
        self.pending_events = [(when, e) for when, e in self.pending_events if when >= until]
        return self.poster.post(due)

    # --- truth ---------------------------------------------------------------------------------------

    def _write_configured_uplift(self) -> None:
        cfg = self.config.response
        rows = []
        for chain_id, chain in sorted(self.chains.items()):
            variants = sorted(
                {v.id for step in chain.steps for v in (getattr(step, "variants", None) or [])}
            ) or ["A"]
            rows += [
                {
                    "chain_id": chain_id,
                    "variant": v,
                    "uplift": cfg.uplift_of(chain_id, v),
                    "window_days": cfg.window_days,
                }
                for v in variants
            ]
        steps = [
            {
                "chain_id": chain_id,
                "step_id": step.id,
                "channel": step.channel,
                "uplift": uplift,
                "window_days": cfg.window_days,
            }
            for chain_id, chain in sorted(self.chains.items())
            for step in chain.steps
            if (uplift := cfg.step_uplift.get((chain_id, step.id))) is not None
        ]
        with self.warehouse.begin() as conn:
            self.warehouse.insert_df(conn, f"{SIM_SCHEMA}.truth_uplift", pd.DataFrame(rows))
            if steps:
                self.warehouse.insert_df(conn, f"{SIM_SCHEMA}.truth_step_uplift", pd.DataFrame(steps))

    def _write_truth_chain(self) -> None:
        """``sim.truth_chain``: per chain, its messages and the orders and revenue they truly added."""
        self._run_sql("truth_chain", end_at=self.end)

    def _write_truth_send_time(self) -> None:
        """``sim.truth_send_time``: per chain, send-time arm and day of sending, the sent messages of
        ``send_time: optimal`` steps with the open and click rates their customers' known probabilities give
        (what the send-time lift report estimates from the opens it is told about)."""
        self._run_sql("truth_send_time")

    def _write_truth_step(self) -> None:
        """Per chain and step: sends, delivered, and the orders its messages added or prevented and their
        revenue, counting the orders the pipeline saw by the end (those ingested into ``crm.orders``)."""
        self._run_sql("truth_step", end_at=self.end)

    def _run_sql(self, name: str, **params: Any) -> None:
        """Run ``include/sql/simulate/<name>.sql`` (its statements in order) in a transaction of its own."""
        with self.warehouse.begin() as conn:
            self.warehouse.run_steps(conn, f"simulate/{name}.sql", **params)


class _Timer:
    def __init__(self, into: dict[str, float]):
        self.into = into

    def __call__(self, stage: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t = time.monotonic()

            def __exit__(self, *exc):
                timer.into[stage] = timer.into.get(stage, 0.0) + time.monotonic() - self.t

        return _Stage()


_UTC = ZoneInfo("UTC")


def _zone(name: str | None) -> ZoneInfo:
    """The customer's time zone; UTC when the shop has none or an unknown one (a bad row)."""
    try:
        return ZoneInfo(name) if name else _UTC
    except (ZoneInfoNotFoundError, ValueError):
        return _UTC


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=float(seconds))


def _planned(funnel: Any) -> int:
    rows = (
        funnel if isinstance(funnel, list) else funnel.get("funnel", []) if isinstance(funnel, dict) else []
    )
    return sum(int(r.get("steps", 0)) for r in rows if isinstance(r, dict) and r.get("outcome") == "planned")


def _trigger_product(context: str | None, prices: dict[int, float]) -> int | None:
    if not context:
        return None
    try:
        ids = json.loads(context).get("product_ids") or []
    except (ValueError, AttributeError):
        return None
    for product_id in ids:
        if int(product_id) in prices:
            return int(product_id)
    return None


def _order(order_id: int, customer_id: int, amount: float, at: datetime) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "channel": "online",
        "store_id": None,
        "status": "paid",
        "total_amount": amount,
        "discount_amount": 0.0,
        "promo_code": None,
        "ordered_at": at,
        "delivered_at": None,
        "updated_at": at,
        "loaded_at": at + timedelta(minutes=5),
    }


def _item(order_id: int, product_id: int, price: float, at: datetime) -> dict:
    return {
        "order_id": order_id,
        "line_no": 1,
        "product_id": product_id,
        "quantity": 1,
        "price": price,
        "discount": 0.0,
        "loaded_at": at + timedelta(minutes=5),
    }
