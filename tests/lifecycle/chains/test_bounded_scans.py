"""The time-bounded chain queries find exactly what their unbounded forms find.

The abandoned cart/browse/category, back-in-stock and price-drop entry queries and the exit checks give
every read of crm.events and crm.orders a constant time bound implied by its correlated one, so the
warehouse skips the history outside it. ``unbounded/`` keeps each query with its correlated bounds only (it
reads the whole history); on a shop whose events and orders fall on both sides of every bound, at the same
10-minute grid as the bounds themselves (ties included), both forms must return the same rows, for steady
runs (their window reaching back by the late-row grace), first runs and several parameter sets.
"""

import random
from pathlib import Path

import pytest
from chain_helpers import D, H, T, customer, event, insert
from query_plans import plan_nodes

from lifecycle import sql
from lifecycle.chains.engine import LATE_GRACE
from lifecycle.warehouse import Warehouse

UNBOUNDED = Path(__file__).parent / "unbounded"
PRODUCTS = (100, 101, 200, 300, 400, 500)
CATEGORIES = (1, 2, 3, 4, 5)
CUSTOMERS = range(1, 41)
#: Runs at each of these as-of times: a steady run (window back to the watermark minus the grace) and a
#: first run (a day back); the last one falls on the half hour.
AS_OF = [T + k * H for k in (0, 1, 2, 5)] + [T + 3 * H + H / 2]
WINDOWS = [(as_of - H - LATE_GRACE, as_of) for as_of in AS_OF] + [(as_of - D, as_of) for as_of in AS_OF[:2]]

ENTRY_CASES = {
    "abandoned_cart": [{"idle_hours": 1, "cart_days": 3}, {"idle_hours": 3, "cart_days": 1}],
    "abandoned_browse": [
        {
            "idle_hours": 1,
            "browse_hours": 24,
            "min_views": 2,
            "min_seconds": 60,
            "min_price": 0,
            "max_price": 50000,
        },
        {
            "idle_hours": 2,
            "browse_hours": 48,
            "min_views": 3,
            "min_seconds": 600,
            "min_price": 10000,
            "max_price": 1000000,
        },
    ],
    "back_in_stock": [{"interest_days": 30}, {"interest_days": 2}],
    "price_drop": [
        {"interest_days": 30, "min_drop_share": 0.05},
        {"interest_days": 3, "min_drop_share": 0.05},
    ],
    "abandoned_category": [
        {"idle_hours": 1, "browse_hours": 24, "min_category_views": 2, "max_product_views": 1},
        {"idle_hours": 3, "browse_hours": 48, "min_category_views": 2, "max_product_views": 3},
    ],
}


def _moment(rng, start, end):
    """A random moment on the 10-minute grid of [start, end] (the bounds lie on it too: ties happen)."""
    slots = int((end - start).total_seconds() // 600)
    return start + rng.randint(0, slots) * 600 * (H / 3600)


@pytest.fixture
def shop(wh):
    """40 customers with dense carts, views and orders over the 9 days around the runs."""
    rng = random.Random(16)
    start, end = T - 8 * D, T + 6 * H
    insert(wh, "crm.customers", [customer(c) for c in CUSTOMERS])
    kinds = ["add_to_cart"] * 6 + ["remove_from_cart"] * 2 + ["view_product"] * 7 + ["view_category"] * 5
    rows, event_id = [], 0
    for c in CUSTOMERS:
        for _ in range(70):
            event_id += 1
            kind = rng.choice(kinds)
            ts = _moment(rng, start, end)
            if kind == "view_category":
                rows.append(event(event_id, c, kind, ts, category_id=rng.choice(CATEGORIES)))
            else:
                duration = rng.choice([None, 5, 40, 300]) if kind == "view_product" else None
                product_id = rng.choice(PRODUCTS)
                rows.append(event(event_id, c, kind, ts, product_id=product_id, duration_s=duration))
    # Rows stored out of time order, as late rows are.
    rng.shuffle(rows)
    insert(wh, "crm.events", rows)
    orders, lines = [], []
    for c in CUSTOMERS:
        for _ in range(rng.randint(0, 4)):
            ordered_at = _moment(rng, start, end)
            status = rng.choice(["delivered", "delivered", "paid", "cancelled", "created"])
            orders.append(
                {
                    "order_id": len(orders) + 1,
                    "customer_id": c,
                    "channel": "online",
                    "status": status,
                    "total_amount": 1000.0,
                    "discount_amount": 0.0,
                    "ordered_at": ordered_at,
                    "delivered_at": None,
                    "updated_at": ordered_at,
                    "loaded_at": ordered_at,
                }
            )
            for line_no, product_id in enumerate(rng.sample(PRODUCTS, rng.randint(1, 2)), start=1):
                lines.append(
                    {
                        "order_id": len(orders),
                        "line_no": line_no,
                        "product_id": product_id,
                        "quantity": 1,
                        "price": 1000.0,
                        "discount": 0.0,
                        "loaded_at": ordered_at,
                    }
                )
    insert(wh, "crm.orders", orders)
    insert(wh, "crm.order_items", lines)
    # Restocks and price drops (some undone by a later rise) in and around the runs' windows.
    stock, prices = {}, {}
    for _ in range(30):
        product_id, moment = rng.choice(PRODUCTS), _moment(rng, T - D, T + 6 * H)
        stock[product_id, moment] = {"in_stock": rng.random() < 0.8}
        old_price = 1000.0 * rng.randint(5, 50)
        new_price = old_price * rng.choice([0.7, 0.9, 0.98, 1.2])
        prices[product_id, moment] = {"old_price": old_price, "new_price": new_price}
    insert(
        wh,
        "crm.stock_changes",
        [{"product_id": p, "changed_at": m, "loaded_at": m} | v for (p, m), v in stock.items()],
    )
    insert(
        wh,
        "crm.price_changes",
        [{"product_id": p, "changed_at": m, "loaded_at": m} | v for (p, m), v in prices.items()],
    )
    return wh


def _rows(wh, name, **params):
    with wh.begin() as conn:
        return sorted(tuple(r) for r in wh.run(conn, name, **params))


@pytest.mark.parametrize("chain_id", sorted(ENTRY_CASES))
def test_bounded_entry_queries_find_what_the_unbounded_ones_find(shop, chain_id):
    found = 0
    for params in ENTRY_CASES[chain_id]:
        for since, as_of in WINDOWS:
            bounded = _rows(shop, f"chains/{chain_id}.sql", since=since, as_of=as_of, **params)
            unbounded = _rows(shop, str(UNBOUNDED / f"{chain_id}.sql"), since=since, as_of=as_of, **params)
            assert bounded == unbounded, (chain_id, params, since, as_of)
            found += len(bounded)
    # The shop gives every chain audiences to compare, not empty sets.
    assert found >= 20, found


def _exited(wh, name, params):
    """Instances an exit query ends, in a transaction rolled back afterwards."""
    with wh.engine.connect() as conn:
        tx = conn.begin()
        try:
            wh.run(conn, name, **params)
            return sorted(
                tuple(r)
                for r in conn.exec_driver_sql(
                    "SELECT instance_id, exit_reason FROM crm.chain_instances WHERE status = 'exited'"
                )
            )
        finally:
            tx.rollback()


@pytest.mark.parametrize("kind", ["any_cart", "any_purchase", "purchase_of_trigger_product"])
def test_bounded_exit_checks_end_what_the_unbounded_ones_end(shop, kind):
    rng = random.Random(7)
    instances = []
    for c in CUSTOMERS:
        entered = _moment(rng, T - 4 * D, T + 2 * H)
        instances.append(
            {
                "instance_id": f"abandoned_browse:{c}:x",
                "chain_id": "abandoned_browse",
                "customer_id": c,
                "trigger_key": "x",
                "branch": None,
                "triggered_at": entered,
                "entered_at": entered,
                "entered_run_key": "r0",
                # A few instances already over: the earliest entry among the active ones is the bound.
                "status": "completed" if c % 7 == 0 else "active",
                "exit_reason": None,
                "exited_at": None,
                "exited_run_key": None,
                "touches": 0,
                "product_ids": ",".join(str(p) for p in rng.sample(PRODUCTS, 2)),
                "trigger_value": None,
                "context": "{}",
                "updated_at": entered,
            }
        )
    insert(shop, "crm.chain_instances", instances)
    # The run's member row turns every exit on for the chain (the unbounded forms filter by its id).
    member = {
        "run_key": "r1",
        "chain_id": "abandoned_browse",
        "as_of": T,
        "restart": False,
        "typical_order_value": 1000.0,
        "exit_unsubscribed": False,
        "exit_purchase_of_trigger_product": True,
        "exit_any_purchase": True,
        "exit_any_cart": True,
    }
    insert(shop, "crm.chain_run_members", [member])
    base = {"chain_id": "abandoned_browse", "run_key": "r1", "now": T}
    ended = 0
    for as_of in (T + 2 * H, T + 6 * H):
        with shop.begin() as conn:
            [(chain_id, active_since)] = shop.run(conn, "chains/engine/active_since.sql", run_key="r1").all()
        assert chain_id == "abandoned_browse"
        assert active_since == min(i["entered_at"] for i in instances if i["status"] == "active")
        params = base | {"as_of": as_of}
        bounded = _exited(shop, f"chains/exits/{kind}.sql", params | {"active_since": active_since})
        unbounded = _exited(shop, str(UNBOUNDED / f"exit_{kind}.sql"), params)
        assert bounded == unbounded, (kind, as_of)
        ended += len(bounded)
    assert 0 < ended < 2 * len(instances), ended


#: The look-up of each idle view's earlier views (PostgreSQL): the index of migration crm/0032 for it.
VIEW_LOOKUPS = {
    "abandoned_browse": "events_product_views_idx",
    "abandoned_category": "events_category_views_idx",
}


@pytest.mark.parametrize("module_warehouse", ["postgres"], indirect=True)  # DuckDB reads by zone maps
@pytest.mark.parametrize("chain_id", sorted(VIEW_LOOKUPS))
def test_each_idle_views_earlier_views_can_be_read_from_the_views_index(shop, chain_id):
    """Through the customer's index, a look-up read all the customer's events of the browse window (~120 in
    a shop streaming 100 k events an hour) to keep the few views of one product. The partial view indexes
    answer it exactly: this pins that their predicate and columns still match the query's look-up (with
    table scans ruled out, as on a history too large to scan; a small shop may scan instead)."""
    params = ENTRY_CASES[chain_id][0]
    since, as_of = WINDOWS[0]
    with shop.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("ANALYZE crm.events")
        statement = sql.single_statement(f"chains/{chain_id}.sql")
        (plan,) = Warehouse.execute(
            conn, "EXPLAIN (FORMAT JSON) " + statement, since=since, as_of=as_of, **params
        ).scalar_one()
    lookups = {
        node.get("Index Name")
        for node in plan_nodes(plan["Plan"])
        if node.get("Relation Name") == "events" and node.get("Alias") == "w"
    }
    assert lookups == {VIEW_LOOKUPS[chain_id]}
