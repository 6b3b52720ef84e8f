"""On PostgreSQL, the order-driven entry queries find the hour's customers through an index, not by reading
a table with a row per customer (or per order) whole: that cost follows the customer base, not the hour."""

import pytest
from chain_helpers import H, T
from query_plans import plan_nodes

from lifecycle import sql
from lifecycle.chains.config import load_chains
from lifecycle.warehouse import Warehouse

#: chain -> {table: the index that finds the hour's rows of it}
READS = {
    "second_purchase": {
        "customer_state": {"customer_state_one_order_idx", "customer_state_pkey"},
        "orders": {"orders_returned_idx"},
    },
}


@pytest.mark.parametrize("module_warehouse", ["postgres"], indirect=True)  # DuckDB reads by zone maps
@pytest.mark.parametrize("chain_id", sorted(READS))
def test_the_hours_customers_are_found_through_an_index(wh, chain_id):
    """With table scans ruled out, as on a customer base too large to scan (a small one may scan instead),
    every read of the tables named is one of the indexes of migration crm/0033 (or a key look-up)."""
    chain = load_chains()[chain_id]
    params = _params(chain)
    with wh.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        statement = sql.single_statement(chain.entry.sql)
        (plan,) = Warehouse.execute(conn, "EXPLAIN (FORMAT JSON) " + statement, **params).scalar_one()
    for table, indexes in READS[chain_id].items():
        reads = set().union(
            *(_indexes(node) for node in plan_nodes(plan["Plan"]) if node.get("Relation Name") == table)
        )
        assert reads, table
        assert reads <= indexes, (table, reads)


def _params(chain) -> dict:
    """The entry query's parameters for a run at T three hours after the last, on scores of the day before."""
    return {
        **chain.entry.params,
        "since": T - 3 * H,
        "as_of": T,
        "scores_as_of": (T - 24 * H).date(),
        "unscored_from": T - 24 * H,
    }


def _indexes(node: dict) -> set:
    """The indexes a read of a table goes through (a bitmap scan's under it); None for a table scan."""
    if node["Node Type"] == "Bitmap Heap Scan":
        return {
            child.get("Index Name") for child in plan_nodes(node) if child["Node Type"] == "Bitmap Index Scan"
        }
    return {node.get("Index Name")}


@pytest.mark.parametrize("module_warehouse", ["postgres"], indirect=True)
def test_replenishment_checks_its_due_lines_against_the_unseen_returns_once(wh):
    """The lines the scores say are due are checked against the unseen orders that no longer count as a
    purchase through one hashed list: a join per line would read that list again for each of them (at 1 M
    customers, 1,626 lines x 3,802 unseen order lines: 0.8 s of a 0.03 s query)."""
    chain = load_chains()["replenishment"]
    params = _params(chain)
    with wh.begin() as conn:
        statement = sql.single_statement(chain.entry.sql)
        (plan,) = Warehouse.execute(conn, "EXPLAIN (FORMAT JSON) " + statement, **params).scalar_one()
    rescans = [
        node
        for node in plan_nodes(plan["Plan"])
        if node["Node Type"] == "Nested Loop"
        and any(
            child.get("CTE Name") == "unscored_lines"
            for inner in node["Plans"]
            if inner["Parent Relationship"] == "Inner"
            for child in plan_nodes(inner)
        )
    ]
    assert not rescans
    assert any("hashed SubPlan" in str(node.get("Filter", "")) for node in plan_nodes(plan["Plan"]))
