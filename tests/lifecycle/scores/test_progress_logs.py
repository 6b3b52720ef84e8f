"""Long tasks log progress a person can follow (rows per stage, seconds) and end with a short summary, and
never log personal data: ingest, training, scoring and the report build on the shared demo shop."""

import logging
import re
from datetime import date, datetime

from lifecycle.ingest import ingest
from lifecycle.reports.build import build_reports
from lifecycle.scores.config import ScoresConfig
from lifecycle.scores.scoring import score
from lifecycle.scores.training import train_churn, train_ltv

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _lines(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno >= logging.INFO]


def test_long_tasks_log_their_stages_and_a_summary_without_personal_data(
    demo_file, copy_warehouse, duckdb_warehouse, caplog
):
    from lifecycle.demo import DemoConfig, generate
    from lifecycle.migrations import migrate

    generate(duckdb_warehouse, DemoConfig(customers=200, seed=3, end=datetime(2026, 6, 30), days=30))
    migrate(duckdb_warehouse)
    warehouse = copy_warehouse(demo_file)
    personal = set()
    for shop in (duckdb_warehouse, warehouse):
        with shop.begin() as conn:
            rows = conn.exec_driver_sql("SELECT email, phone, first_name, last_name FROM shop.customers")
            personal |= {value for row in rows for value in row if value and len(value) > 3}
    caplog.set_level(logging.INFO)

    ingest(duckdb_warehouse, window_end=datetime(2026, 6, 30), run_key="logs-ingest")
    train_churn(warehouse, date(2026, 6, 29), ScoresConfig())
    train_ltv(warehouse, date(2026, 6, 29), ScoresConfig())
    score(warehouse, date(2026, 6, 29), ScoresConfig(), run_key="logs-score")
    build_reports(warehouse, date(2026, 6, 29), run_key="logs-reports")

    ingest_lines = _lines(caplog, "lifecycle.ingest")
    assert any(
        re.fullmatch(
            r"shop\.orders: read [1-9]\d*, loaded [1-9]\d*, quarantined \d+, deferred \d+ \(\d+\.\d s\)", line
        )
        for line in ingest_lines
    )
    assert any(
        re.match(r"customer state refreshed for 200 customers \(\d+\.\d s\)", line) for line in ingest_lines
    )
    summary = ingest_lines[-1]
    assert re.match(r"ingest 1900-01-01 00:00 to 2026-06-30 00:00 UTC: read \d+ rows from 12 tables", summary)
    assert re.search(r"in \d+\.\d s$", summary)

    training = _lines(caplog, "lifecycle.scores.training")
    assert any(re.match(r"churn data: \d+ training rows from \d+ snapshots", line) for line in training)
    assert any(re.match(r"churn model v\d+: .*; AUC 0\.\d{3}, Brier 0\.\d{3}$", line) for line in training)
    assert any(re.match(r"LTV data: \d+ customers as of 20", line) for line in training)

    scoring = _lines(caplog, "lifecycle.scores.scoring")
    assert any(
        re.match(r"RFM as of 2026-06-29: \d+ customers \(\w+ cut points\) in \d+\.\d s", s) for s in scoring
    )
    assert re.match(
        r"scored \d+ customers as of 2026-06-29 \(churn model v\d+, LTV model (v\d+|none); best send hours "
        r"of \d+ customers learned from their responses\) in \d+\.\d s$",
        scoring[-1],
    )

    reports = _lines(caplog, "lifecycle.reports.build")
    assert re.match(r"reports for 2026-06-29: recomputing from \S+ \(16 chains\)", reports[0])
    assert re.match(r"reports for 2026-06-29 built in \d+\.\d s: 16 chains from", reports[-1])

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert EMAIL.findall(logged) == []
    assert len(personal) > 1000  # addresses, phones and names of both shops: none reached the log
    assert [value for value in personal if value in logged] == []
