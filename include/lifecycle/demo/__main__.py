"""Command line: ``python -m lifecycle.demo --customers 100000 --seed 7 --end 2025-06-30T00:00``.

Prints the JSON manifest (rows per table, bad rows per table and reason) on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from lifecycle.demo.config import DemoConfig, DemoError


def default_warehouse_url() -> str:
    from lifecycle.paths import DATA_DIR

    return f"duckdb:///{DATA_DIR / 'warehouse.duckdb'}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lifecycle.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=DemoConfig.customers, help="number of customers")
    parser.add_argument(
        "--seed", type=int, default=DemoConfig.seed, help="random seed (same seed, same rows)"
    )
    parser.add_argument(
        "--end",
        type=datetime.fromisoformat,
        default=None,
        help="the shop's 'now' (ISO, UTC if no offset); default: the current UTC hour",
    )
    parser.add_argument("--days", type=int, default=DemoConfig.days, help="days of history before --end")
    parser.add_argument(
        "--bad-share",
        type=float,
        default=0.0,
        help="bad rows injected per fact table, as a share of its good rows",
    )
    parser.add_argument(
        "--warehouse", default=None, help="SQLAlchemy URL; default: the DuckDB file data/warehouse.duckdb"
    )
    parser.add_argument("--orders-only", action="store_true", help="a retailer without web events")
    parser.add_argument("--replace", action="store_true", help="empty an already filled shop schema first")
    parser.add_argument(
        "--price-scale",
        type=float,
        default=1.0,
        help="multiply every price and amount (roubles) by this, e.g. 0.011 for dollar-like prices",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from lifecycle.demo.generator import generate
    from lifecycle.warehouse import Warehouse

    url = args.warehouse or default_warehouse_url()
    if url.startswith("duckdb:///"):
        from pathlib import Path

        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        config = DemoConfig(
            customers=args.customers,
            seed=args.seed,
            end=args.end,
            days=args.days,
            bad_share=args.bad_share,
            orders_only=args.orders_only,
            replace=args.replace,
            price_scale=args.price_scale,
        )
        manifest = generate(Warehouse(url), config)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
