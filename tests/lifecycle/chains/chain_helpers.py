"""Helpers of the chain scenarios: a catalogue, crm rows, running a chain, reading back what it wrote."""

import os
from datetime import date, datetime, timedelta

import pandas as pd

T = datetime(2026, 3, 2, 10, 0)
H = timedelta(hours=1)
D = timedelta(days=1)
PG_ADMIN_URL = os.environ.get(
    "LIFECYCLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: Tables a scenario writes; emptied before each test (the catalogue is loaded again).
SCENARIO_TABLES = (
    "crm.customers",
    "crm.events",
    "crm.orders",
    "crm.order_items",
    "crm.products",
    "crm.product_accessories",
    "crm.price_changes",
    "crm.stock_changes",
    "crm.customer_state",
    "crm.customer_scores",
    "crm.customer_line_next_orders",
    "crm.product_cycles",
    "crm.purchase_intervals",
    "crm.score_runs",
    "crm.suppressions",
    "crm.decisions",
    "crm.due_steps",
    "crm.chain_instances",
    "crm.chain_watermarks",
    "crm.chain_step_log",
    "crm.chain_runs",
    "crm.chain_run_failures",
    "crm.chain_run_members",
)


def load_catalogue(warehouse):
    """Two phone generations, a case (accessory of the older), a consumable filter, a TV, a watch."""
    insert(
        warehouse,
        "crm.products",
        [
            product(100, "Nova Phone 5", 1, 30000.0, line="Nova Phone", generation=5, brand="Nova"),
            product(101, "Nova Phone 6", 1, 40000.0, line="Nova Phone", generation=6, brand="Nova"),
            product(200, "Nova case", 2, 1500.0, brand="Nova"),
            product(300, "Briz filter", 3, 900.0, consumable_days=30, brand="Briz"),
            product(400, "Vega TV 65", 4, 90000.0, line="Vega TV", generation=1, brand="Vega"),
            product(500, "Nova Watch", 5, 15000.0, line="Nova Watch", generation=1, brand="Nova"),
        ],
    )
    insert(warehouse, "crm.product_accessories", [{"product_id": 100, "accessory_id": 200, "loaded_at": T}])


def product(
    product_id, name, category_id, price, line=None, generation=None, brand=None, consumable_days=None
):
    return {
        "product_id": product_id,
        "name": name,
        "brand": brand,
        "category_id": category_id,
        "product_line": line,
        "generation": generation,
        "price": price,
        "in_stock": True,
        "is_consumable": consumable_days is not None,
        "replenishment_days": consumable_days,
        "launched_at": date(2024, 1, 1),
        "updated_at": T - 400 * D,
        "loaded_at": T - 400 * D,
    }


def customer(customer_id, registered_at=T - 400 * D, **overrides):
    row = {
        "customer_id": customer_id,
        "email": f"c{customer_id}@example.ru",
        "timezone": "Europe/Moscow",
        "registered_at": registered_at,
        "email_consent": True,
        "push_consent": True,
        "sms_consent": False,
        "birthday": None,
        "updated_at": registered_at,
        "loaded_at": registered_at,
    }
    return row | overrides


def event(event_id, customer_id, event_type, ts, product_id=None, category_id=None, duration_s=None):
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": event_type,
        "product_id": product_id,
        "category_id": category_id,
        "duration_s": duration_s,
        "ts": ts,
        "loaded_at": ts,
    }


def order(warehouse, order_id, customer_id, ordered_at, product_ids, status="delivered", **overrides):
    """An order with one line per product, priced from the catalogue's test prices."""
    insert(
        warehouse,
        "crm.orders",
        [
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "channel": "online",
                "status": status,
                "total_amount": 1000.0 * len(product_ids),
                "discount_amount": 0.0,
                "ordered_at": ordered_at,
                "delivered_at": None,
                "updated_at": ordered_at,
                "loaded_at": ordered_at,
            }
            | overrides
        ],
    )
    insert(
        warehouse,
        "crm.order_items",
        [
            {
                "order_id": order_id,
                "line_no": no,
                "product_id": pid,
                "quantity": 1,
                "price": 1000.0,
                "discount": 0.0,
                "loaded_at": ordered_at,
            }
            for no, pid in enumerate(product_ids, start=1)
        ],
    )


def state(customer_id, first_order_at=None, last_order_at=None, orders_count=0, returned=0, avg_check=None):
    return {
        "customer_id": customer_id,
        "first_order_at": first_order_at,
        "last_order_at": last_order_at,
        "orders_count": orders_count,
        "returned_orders_count": returned,
        "online_orders_count": orders_count,
        "offline_orders_count": 0,
        "revenue_total": (avg_check or 0.0) * orders_count,
        "discount_total": 0.0,
        "avg_check": avg_check,
        "updated_at": T,
    }


def insert(warehouse, table, rows):
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, table, pd.DataFrame(rows))


def query(warehouse, sql):
    with warehouse.begin() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def run(warehouse, chain_id, as_of, run_key=None):
    """Process one chain as the hourly run at ``as_of`` does; returns (figures, due steps as dicts)."""
    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.chains.engine import process_chain

    run_key = run_key or f"run-{as_of.isoformat()}"
    figures = process_chain(warehouse, load_chain(CHAINS_DIR / f"{chain_id}.yaml"), as_of, run_key)
    with warehouse.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT * FROM crm.due_steps WHERE run_key = %s ORDER BY instance_id, step_no"
            if warehouse.dialect == "postgresql"
            else "SELECT * FROM crm.due_steps WHERE run_key = ? ORDER BY instance_id, step_no",
            (run_key,),
        ).mappings()
        return figures, [dict(r) for r in rows]


def decide(warehouse, due_steps, outcome="planned"):
    """Stand in for the contact policy: one decision per due step."""
    insert(
        warehouse,
        "crm.decisions",
        [
            {
                "run_key": d["run_key"],
                "instance_id": d["instance_id"],
                "step_id": d["step_id"],
                "channel": d["channel"],
                "chain_id": d["chain_id"],
                "customer_id": d["customer_id"],
                "outcome": outcome,
                "decided_at": d["due_at"],
            }
            for d in due_steps
        ],
    )


def instances(warehouse, chain_id):
    """(instance_id, status, exit_reason) of a chain, by instance id."""
    with warehouse.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT instance_id, status, exit_reason FROM crm.chain_instances "
            f"WHERE chain_id = '{chain_id}' ORDER BY instance_id"
        ).fetchall()
    return [tuple(r) for r in rows]


def steps(due_steps):
    """(step_id, due_at) of due steps."""
    return [(d["step_id"], d["due_at"]) for d in due_steps]
