"""A small simulation (1,500 customers, one simulated day) through the real pipeline: customers react, the
feedback arrives through the signed webhook, the ground truth is written and never read by the pipeline, and
the same seed gives the same run. Each simulated hour runs every DAG's work, so a day costs about a minute
on an idle machine (more on a busy one: hence the generous timeout)."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lifecycle.demo.response import DEFAULT_UPLIFT, ResponseConfig
from lifecycle.simulate import Simulation, SimulationConfig
from lifecycle.simulate.compare import comparison, entry_days, format_table
from lifecycle.warehouse import Warehouse

PROJECT = Path(__file__).resolve().parents[3]
SEED, DAYS, CUSTOMERS = 7, 1, 1500
pytestmark = pytest.mark.timeout(3600)
END = datetime(2026, 6, 30, 11)
#: Strong effects and frequent unsubscribes and bounces, so one simulated day shows each of them.
STRONG = ResponseConfig(
    uplift={chain: 0.4 for chain in DEFAULT_UPLIFT}
    | {"post_purchase": 0.0, "abandoned_browse": -0.6, "abandoned_cart": -0.6},
    variant_uplift={},
    unsubscribe_rate=0.1,
    bad_address_share=0.1,
)


def simulate(tmp: Path, seed: int, days: int, customers: int) -> tuple[Simulation, object]:
    config = SimulationConfig(
        days=days,
        customers=customers,
        seed=seed,
        end=END,
        history_days=200,
        outbox=tmp / "outbox",
        response=STRONG,
    )
    simulation = Simulation(f"duckdb:///{tmp / 'warehouse.duckdb'}", config)
    simulation.build()
    result = simulation.run()
    simulation.warehouse.engine.dispose()
    return simulation, result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simulation")
    simulation, result = simulate(tmp, seed=SEED, days=DAYS, customers=CUSTOMERS)
    return Warehouse(simulation.url), result


def scalar(warehouse: Warehouse, query: str, **params):
    with warehouse.begin() as conn:
        return conn.execute(sa.text(query), params).scalar()


def test_every_hour_ran_through_the_pipeline(run):
    warehouse, result = run
    assert len(result.hours) == 24
    assert result.start == END - timedelta(days=1)
    assert result.end == END
    assert scalar(warehouse, "SELECT COUNT(*) FROM sim.hours") == 24
    # one ingest run per hour (plus the history's), and chains and policy ran as their runs' rows show
    assert (
        scalar(warehouse, "SELECT COUNT(DISTINCT run_key) FROM crm.ingest_runs WHERE run_key LIKE 'sim-%'")
        == 25
    )
    assert (
        scalar(warehouse, "SELECT COUNT(DISTINCT run_key) FROM crm.chain_runs WHERE run_key LIKE 'sim-%'")
        == 24
    )
    assert sum(h.sent for h in result.hours) > 0
    assert scalar(warehouse, "SELECT MAX(ts) FROM crm.events") < END
    # the history ends at the simulation's end: nothing of the customers' future has reached the pipeline
    assert scalar(warehouse, "SELECT COUNT(*) FROM crm.orders WHERE ordered_at >= :end", end=END) == 0


def test_customers_react_and_their_orders_reach_the_pipeline(run):
    warehouse, _ = run
    counts = {
        name: scalar(warehouse, f"SELECT COUNT(*) FROM sim.truth_messages WHERE {condition}")
        for name, condition in (
            ("sent", "TRUE"),
            ("opened", "opened"),
            ("clicked", "clicked"),
            ("induced", "effect > 0"),
            ("prevented", "effect < 0"),
        )
    }
    for name in ("sent", "opened", "clicked", "induced"):
        assert counts[name] > 0, counts
    # induced orders placed before the last hour were released into the shop and ingested into crm
    ingested = scalar(
        warehouse,
        "SELECT COUNT(*) FROM crm.orders WHERE order_id IN "
        "(SELECT order_id FROM sim.truth_messages WHERE effect > 0 AND ordered_at < :cut)",
        cut=END - timedelta(hours=1),
    )
    due = scalar(
        warehouse,
        "SELECT COUNT(*) FROM sim.truth_messages WHERE effect > 0 AND ordered_at < :cut",
        cut=END - timedelta(hours=1),
    )
    assert ingested == due
    # prevented orders never reached the shop
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM shop.orders WHERE order_id IN "
            "(SELECT order_id FROM sim.truth_messages WHERE effect < 0)",
        )
        == 0
    )
    # a chain with zero uplift caused nothing
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM sim.truth_messages WHERE chain_id = 'post_purchase' AND effect <> 0",
        )
        == 0
    )


def test_a_fatiguing_message_removes_the_customers_next_own_order(tmp_path):
    """A negative effect takes the customer's next own order of the window out of the shop's future: it is
    never released into the shop."""
    config = SimulationConfig(days=2, customers=300, seed=SEED, end=END, history_days=200, outbox=tmp_path)
    simulation = Simulation(f"duckdb:///{tmp_path / 'warehouse.duckdb'}", config)
    simulation.build()
    warehouse = simulation.warehouse
    with warehouse.begin() as conn:
        customer, first = conn.execute(
            sa.text(
                "SELECT customer_id, MIN(ordered_at) FROM sim.future_orders WHERE ordered_at > :s "
                "AND status IN ('paid', 'shipped', 'delivered', 'completed') GROUP BY 1 ORDER BY 1 LIMIT 1"
            ),
            {"s": simulation.start},
        ).one()
    order_id, ordered_at, amount = simulation._prevent(customer, simulation.start, first + timedelta(days=7))
    assert ordered_at == first
    assert amount > 0
    for table in ("future_orders", "future_order_items"):
        assert scalar(warehouse, f"SELECT COUNT(*) FROM sim.{table} WHERE order_id = :o", o=order_id) == 0
    assert simulation.world.release(END + timedelta(hours=1)) > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM shop.orders WHERE order_id = :o", o=order_id) == 0
    warehouse.engine.dispose()


def test_feedback_arrives_through_the_signed_webhook(run):
    warehouse, result = run
    with warehouse.begin() as conn:
        by_type = dict(
            conn.execute(
                sa.text(
                    "SELECT event_type, COUNT(*) FROM crm.message_events "
                    "WHERE provider = 'sandbox' GROUP BY 1"
                )
            ).all()
        )
    truth = {
        "delivered": scalar(
            warehouse,
            "SELECT COUNT(*) FROM sim.truth_messages WHERE delivered AND sent_at < :cut",
            cut=END - timedelta(hours=1),
        ),
        "open": scalar(warehouse, "SELECT COUNT(*) FROM sim.truth_messages WHERE opened"),
    }
    assert by_type.get("delivered", 0) > 0, by_type
    assert by_type.get("open", 0) > 0, by_type
    assert by_type["delivered"] >= truth["delivered"]
    assert by_type["open"] <= truth["open"]
    assert sum(by_type.values()) == sum(h.events for h in result.hours)
    # unsubscribes and hard bounces became suppressions, which the contact policy respects
    unsubscribed = scalar(
        warehouse,
        "SELECT COUNT(DISTINCT recipient) FROM crm.message_events "
        "WHERE provider = 'sandbox' AND event_type = 'unsubscribe'",
    )
    assert unsubscribed > 0
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM crm.suppressions WHERE source = 'sandbox' AND reason = 'unsubscribe'",
        )
        == unsubscribed
    )
    assert scalar(warehouse, "SELECT COUNT(*) FROM crm.suppressions WHERE reason = 'hard_bounce'") > 0
    # nobody got an email after their unsubscribe was stored
    assert (
        scalar(
            warehouse,
            """
            SELECT COUNT(*) FROM crm.send_ledger AS l
            JOIN crm.message_events AS e
                ON e.event_type = 'unsubscribe' AND lower(l.recipient) = lower(e.recipient)
            WHERE l.channel = 'email' AND l.state = 'sent' AND l.sent_at > e.occurred_at + INTERVAL '1 hour'
            """,
        )
        == 0
    )


def test_ground_truth_is_written(run):
    warehouse, result = run
    with warehouse.begin() as conn:
        chains = conn.execute(sa.text("SELECT * FROM sim.truth_chain ORDER BY chain_id")).mappings().all()
        sent = dict(
            conn.execute(
                sa.text(
                    "SELECT chain_id, COUNT(*) FROM crm.send_ledger WHERE state = 'sent' AND sent_at > :s "
                    "AND sent_at <= :e GROUP BY 1"
                ),
                {"s": result.start, "e": result.end + timedelta(hours=1)},
            ).all()
        )
    assert len(chains) == 16
    for row in chains:
        assert row["sends"] == sent.get(row["chain_id"], 0), row["chain_id"]
    total = scalar(
        warehouse, "SELECT COALESCE(SUM(revenue), 0) FROM sim.truth_messages WHERE ordered_at <= :e", e=END
    )
    assert sum(r["incremental_revenue"] for r in chains) == pytest.approx(total)
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM sim.truth_uplift WHERE chain_id = 'abandoned_browse' AND uplift < 0",
        )
        > 0
    )


def test_the_send_time_truth_is_the_open_probability_of_the_timed_messages_sent(run):
    """sim.truth_send_time: per chain, send-time arm and day, the sent messages of timed steps and the sum of
    the probabilities they were opened with (the true open rate the lift report estimates)."""
    warehouse, _ = run
    with warehouse.begin() as conn:
        truth = conn.execute(
            sa.text(
                "SELECT arm, SUM(sent), SUM(expected_opens), SUM(expected_clicks), SUM(opened)"
                " FROM sim.truth_send_time GROUP BY arm ORDER BY arm"
            )
        ).all()
        ledger = conn.execute(
            sa.text(
                "SELECT l.send_time_arm, COUNT(*), SUM(m.open_probability), SUM(m.click_probability),"
                " SUM(CASE WHEN m.opened THEN 1 ELSE 0 END)"
                " FROM crm.send_ledger AS l INNER JOIN sim.truth_messages AS m ON l.send_key = m.send_key"
                " WHERE l.state = 'sent' AND l.send_time_arm IS NOT NULL GROUP BY 1 ORDER BY 1"
            )
        ).all()
    # the shipped map times win-back's first email, which goes out the first day
    assert {row[0] for row in truth} == {"default", "optimal"}
    assert [(a, n, o) for a, n, _, _, o in truth] == [(a, n, o) for a, n, _, _, o in ledger]
    for (_, sent, opens, clicks, _), (_, _, opens_l, clicks_l, _) in zip(truth, ledger, strict=True):
        assert opens == pytest.approx(opens_l)
        assert clicks == pytest.approx(clicks_l)
        assert 0 < clicks < opens < sent
    assert (
        scalar(
            warehouse,
            "SELECT COUNT(*) FROM sim.truth_messages"
            " WHERE open_probability IS NULL OR open_probability < 0 OR open_probability > 0.95",
        )
        == 0
    )


def test_the_table_covers_the_entries_of_every_send(run):
    """An entry's moment is its trigger's, which for the first hour can lie before the start: the measured
    entry days reach back to it, as the truth holds its messages."""
    warehouse, result = run
    first_day, last_day = entry_days(warehouse, result.start, result.end)
    outside = scalar(
        warehouse,
        "SELECT COUNT(*) FROM sim.truth_messages AS t"
        " JOIN crm.send_ledger AS l ON t.send_key = l.send_key"
        " JOIN crm.chain_instances AS i ON l.instance_id = i.instance_id"
        " WHERE CAST(i.entered_at AS DATE) < :f OR CAST(i.entered_at AS DATE) > :l",
        f=first_day,
        l=last_day,
    )
    assert scalar(warehouse, "SELECT COUNT(*) FROM sim.truth_messages") > 0
    assert outside == 0


def test_table_reads_the_report_tables(run):
    warehouse, result = run
    rows = comparison(warehouse, *entry_days(warehouse, result.start, result.end))
    assert {r["chain_id"] for r in rows} >= set(DEFAULT_UPLIFT)
    # Each chain has either a measured figure with its interval or the reports' reason for giving none (a
    # day of 1,500 customers leaves most holdouts too small to say anything).
    for r in rows:
        assert (r["measured_revenue"] is not None and r["ci_low"] is not None) or r["reason"], r
    assert any(r["treated"] for r in rows), "the report tables hold no chain entrants"
    text = format_table(rows)
    assert "measured revenue (95 % CI)" in text
    assert "abandoned_cart" in text


def test_the_pipeline_never_reads_the_ground_truth():
    """No SQL file, DAG, plugin or package outside the simulator names the simulator's schema."""
    pattern = re.compile(r"\bsim\.(truth_|future_|hours\b)\w*", re.IGNORECASE)
    offenders = []
    for folder in ("include/sql", "include/lifecycle", "dags", "plugins"):
        for path in (PROJECT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in {".sql", ".py", ".yaml", ".yml", ".j2", ".html"}:
                continue
            if "simulate" in path.relative_to(PROJECT).parts:
                continue
            if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(str(path.relative_to(PROJECT)))
    assert offenders == []


def test_the_simulation_writes_only_its_own_schema():
    """The simulation's SQL files create, fill and drop tables only in its schema (``SIM_SCHEMA``)."""
    from lifecycle.simulate.world import SIM_SCHEMA

    target = re.compile(
        r"\b(?:CREATE SCHEMA IF NOT EXISTS|(?:CREATE|DROP) TABLE(?: IF EXISTS)?|INSERT INTO|DELETE FROM"
        r"|UPDATE)\s+(\w+)",
        re.IGNORECASE,
    )
    written = {
        (path.name, schema)
        for path in (PROJECT / "include" / "sql" / "simulate").glob("*.sql")
        for schema in target.findall(path.read_text(encoding="utf-8"))
    }
    assert {name for name, _ in written} >= {"create_truth_tables.sql", "record_hour.sql", "truth_chain.sql"}
    assert {schema for _, schema in written} == {SIM_SCHEMA}


def test_same_seed_same_run(run, tmp_path):
    first, _ = run
    second, _ = simulate(tmp_path, seed=SEED, days=DAYS, customers=CUSTOMERS)
    query = (
        "SELECT send_key, chain_id, variant, delivered, opened, clicked, unsubscribed, effect, order_id, "
        "CAST(ordered_at AS VARCHAR), revenue FROM sim.truth_messages ORDER BY send_key"
    )
    ledger = "SELECT send_key, state, CAST(sent_at AS VARCHAR) FROM crm.send_ledger ORDER BY send_key"
    results = []
    for warehouse in (first, Warehouse(second.url)):
        with warehouse.begin() as conn:
            results.append(
                (
                    conn.execute(sa.text(query)).all(),
                    conn.execute(sa.text(ledger)).all(),
                    conn.execute(sa.text("SELECT COUNT(*), SUM(total_amount) FROM crm.orders")).one(),
                )
            )
    assert results[0][0], "nothing was sent in the day"
    assert results[0] == results[1]
