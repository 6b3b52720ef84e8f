"""Fixtures of the report tests: the hand-built warehouse of report_rows, reports built for REPORT_DATE."""

from datetime import datetime
from types import SimpleNamespace

import pytest
from report_rows import CHAINS, REPORT_DATE, _policy, build_fixture_rows


@pytest.fixture
def reports_warehouse(migrated):
    """Both engines, migrated, filled with the hand-built rows and the reports built for REPORT_DATE."""
    from lifecycle.reports.build import build_reports

    ids = build_fixture_rows(migrated)
    figures = build_reports(
        migrated, REPORT_DATE, "reports-run", chains=CHAINS, policy=_policy(), now=datetime(2026, 4, 1)
    )
    return SimpleNamespace(warehouse=migrated, figures=figures, **ids.__dict__)


@pytest.fixture
def chains():
    return CHAINS


@pytest.fixture
def policy():
    return _policy()
