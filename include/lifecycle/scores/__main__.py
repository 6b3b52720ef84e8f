"""Command line: ``python -m lifecycle.scores COMMAND --warehouse URL [--date YYYY-MM-DD]``.

COMMAND is one of train, score, report, evaluate.

``train`` trains and gates the churn and LTV models on data up to the date (default: the newest purchase);
``score`` scores every purchasing customer as of the date (default: yesterday, UTC) and prints how long it
took; ``report`` prints the current models' figures and the RFM distribution of the newest scored date;
``evaluate`` compares the churn model with recency alone, BG/NBD and a logistic regression, and LTV with
predicting zero and "last year repeats", on the same validation data, and the expected next order against
"same interval again" on a holdout snapshot (writes nothing; ``--json`` for JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifecycle.scores", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("train", "score", "report", "evaluate"))
    parser.add_argument(
        "--warehouse", required=True, help="SQLAlchemy URL, e.g. duckdb:///data/warehouse.duckdb"
    )
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="data end / as-of date")
    parser.add_argument("--config", default=None, help="scores settings (default include/config/scores.yaml)")
    parser.add_argument("--json", action="store_true", help="evaluate: print JSON instead of tables")
    args = parser.parse_args(argv)

    from lifecycle.ingest import NoPurchasesError

    try:
        _run(args)
    except (NoPurchasesError, ValueError) as exc:  # ValueError: too short a history, named in the message
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> None:
    from lifecycle.scores.config import DEFAULT_CONFIG_FILE, load_config
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(args.warehouse)
    config = load_config(args.config or DEFAULT_CONFIG_FILE)
    if args.command == "train":
        from lifecycle.scores.training import train_churn, train_ltv

        end = args.date or date.max
        for report in (train_churn(warehouse, end, config), train_ltv(warehouse, end, config)):
            print(json.dumps(report.as_dict(), indent=2, default=str))
    elif args.command == "score":
        from lifecycle.scores.scoring import score

        as_of = args.date or (datetime.now(UTC) - timedelta(days=1)).date()
        report = score(warehouse, as_of, config, run_key=f"cli-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        print(json.dumps(report.as_dict(), indent=2, default=str))
        print(f"scored {report.customers} customers as of {as_of} in {report.seconds:.2f} s")
    elif args.command == "evaluate":
        from lifecycle.scores.evaluate import evaluate_scores, format_evaluation

        result = evaluate_scores(warehouse, args.date or date.max, config)
        text = json.dumps(result.as_dict(), indent=2, default=str) if args.json else None
        print(text or format_evaluation(result, config.currency))
    else:
        from lifecycle.scores.report import describe

        print(describe(warehouse, args.date))


if __name__ == "__main__":
    sys.exit(main())
