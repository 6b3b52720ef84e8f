"""Fixtures for the scores tests: customers and orders written straight into the validated crm tables."""

from datetime import datetime, timedelta

import pytest

_CUSTOMER_DEFAULTS = {
    "timezone": "Europe/Moscow",
    "email_consent": True,
    "push_consent": False,
    "sms_consent": False,
}

_ORDER_DEFAULTS = {"status": "completed", "channel": "online", "discount_amount": 0.0}


def _add_customers(warehouse, customer_ids, registered_at=datetime(2022, 1, 1)):
    import pandas as pd

    frame = pd.DataFrame({"customer_id": list(customer_ids)}).assign(
        registered_at=registered_at, updated_at=registered_at, loaded_at=registered_at, **_CUSTOMER_DEFAULTS
    )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.customers", frame)


def _add_orders(warehouse, orders):
    """``orders``: dicts with customer_id, ordered_at, total_amount; optionally status, channel, discount."""
    import pandas as pd

    frame = pd.DataFrame(orders)
    for column, default in _ORDER_DEFAULTS.items():
        frame[column] = frame[column].fillna(default) if column in frame else default
    frame = frame.assign(
        order_id=range(1, len(frame) + 1), updated_at=frame["ordered_at"], loaded_at=frame["ordered_at"]
    )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.orders", frame)


@pytest.fixture
def add_customers():
    """``add_customers(warehouse, ids, registered_at=...)`` writes minimal valid rows to crm.customers."""
    return _add_customers


@pytest.fixture
def add_orders():
    """``add_orders(warehouse, [{customer_id, ordered_at, total_amount, [status, channel, ...]}])``."""
    return _add_orders


DEMO_END = datetime(2026, 6, 30)
DATA_END = DEMO_END.date() - timedelta(days=1)


@pytest.fixture(scope="session")
def build_once(tmp_path_factory, worker_id):
    """``build_once(name, build)``: a file shared by all test workers of the run, built by the first to ask
    (the others wait for it). Expensive demo warehouses are made once, whichever worker runs the tests."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base

    def get(name, build):
        path = root / name
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                partial = root / f"{name}.partial"
                build(partial)
                partial.rename(path)
        return path

    return get


def _demo(path, orders_only: bool):
    """A two-year demo shop of 4 000 customers, generated and ingested into crm, in a DuckDB file."""
    from lifecycle.demo import DemoConfig, generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{path}")
    generate(warehouse, DemoConfig(customers=4000, seed=11, end=DEMO_END, days=730, orders_only=orders_only))
    migrate(warehouse)
    ingest(warehouse, window_end=DEMO_END, run_key="demo")
    warehouse.engine.dispose()


def _train(source, path):
    """A copy of the demo with a churn and an LTV model trained and registered; the reports as JSON."""
    import json
    import shutil

    from lifecycle.scores.config import ScoresConfig
    from lifecycle.scores.training import train_churn, train_ltv
    from lifecycle.warehouse import Warehouse

    shutil.copyfile(source, path)
    warehouse = Warehouse(f"duckdb:///{path}")
    reports = [train(warehouse, DATA_END, ScoresConfig()).as_dict() for train in (train_churn, train_ltv)]
    warehouse.engine.dispose()
    path.with_name(path.name.removesuffix(".partial") + ".json").write_text(json.dumps(reports))


@pytest.fixture(scope="session")
def demo_file(build_once):
    """The demo shop's DuckDB file; copy it (``copy_warehouse``) before writing."""
    return build_once("demo.duckdb", lambda path: _demo(path, orders_only=False))


@pytest.fixture(scope="session")
def demo_orders_only_file(build_once):
    """The same shop for a retailer with orders only: no web or app events at all."""
    return build_once("demo_orders_only.duckdb", lambda path: _demo(path, orders_only=True))


@pytest.fixture(scope="session")
def copy_warehouse(tmp_path_factory):
    """``copy_warehouse(path)``: a Warehouse on a fresh copy of a DuckDB file, free to write to."""
    import shutil

    from lifecycle.warehouse import Warehouse

    def copy(path):
        target = tmp_path_factory.mktemp("copy") / path.name
        shutil.copyfile(path, target)
        return Warehouse(f"duckdb:///{target}")

    return copy


@pytest.fixture(scope="session")
def trained_demo_file(build_once, demo_file):
    """The demo shop with a churn and an LTV model trained on data up to 29 June 2026 and current, and the
    two training reports (dicts) beside it."""
    import json

    path = build_once("demo_trained.duckdb", lambda target: _train(demo_file, target))
    return path, *json.loads(path.with_name(path.name + ".json").read_text())


@pytest.fixture
def trained_demo(trained_demo_file, copy_warehouse):
    """A fresh copy of the trained demo warehouse, with the churn and LTV training reports."""
    path, churn, ltv = trained_demo_file
    return copy_warehouse(path), churn, ltv
