"""Reading PostgreSQL's `EXPLAIN (FORMAT JSON)` plans in tests that pin how a query reads a table."""


def plan_nodes(plan: dict):
    """Every node of a plan (``EXPLAIN (FORMAT JSON)``'s ``Plan``), depth first."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)
