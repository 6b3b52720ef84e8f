"""A deterministic demo electronics retailer for the `shop` schema: for the demo, the tests and benchmarks.

Use ``generate(Warehouse(url), DemoConfig(customers=…, seed=…))`` or ``python -m lifecycle.demo --help``.
No Airflow imports here: the DAGs and scripts call this package.
"""

from lifecycle.demo.config import DemoConfig, DemoError, Manifest
from lifecycle.demo.generator import SHOP_TABLES, generate

__all__ = ["SHOP_TABLES", "DemoConfig", "DemoError", "Manifest", "generate"]
