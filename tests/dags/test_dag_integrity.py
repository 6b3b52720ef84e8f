"""Every DAG file imports cleanly, parses fast without heavy imports, and follows the project's policy."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
REQUIRED_DOC_HEADINGS = ("## Purpose", "## Trigger", "## Inputs", "## Outputs", "## Owner", "## Triage notes")
#: Modules a DAG file must not import at parse time (they belong inside tasks).
HEAVY_MODULES = ("pandas", "numpy", "sklearn", "duckdb", "psycopg", "lifecycle.warehouse", "scipy")
PARSE_BUDGET_S = 0.5


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert len(dag_bag.dags) == len(DAG_FILES)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_dag_id_is_the_file_name_and_follows_policy(dag_bag, dag_file):
    dag = dag_bag.dags[dag_file.stem]
    for heading in REQUIRED_DOC_HEADINGS:
        assert heading in (dag.doc_md or ""), f"{dag_file.name}: doc_md lacks {heading}"
    assert dag.catchup is False
    assert "lifecycle" in dag.tags
    for task in dag.tasks:
        assert task.owner != "airflow", f"{task.task_id}: set an owner"
        assert task.retries >= 2, f"{task.task_id}: retries must be >= 2"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_parses_fast_without_heavy_imports(dag_file):
    # A fresh interpreter, Airflow already imported, then the DAG file alone is timed (best-practices method).
    probe = textwrap.dedent(
        f"""
        import importlib.util, json, sys, time
        import airflow.sdk, lifecycle_providers.dag_defaults, lifecycle_providers.assets
        before = set(sys.modules)
        spec = importlib.util.spec_from_file_location("dag_under_test", {str(dag_file)!r})
        start = time.perf_counter()
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        elapsed = time.perf_counter() - start
        print(json.dumps({{"elapsed": elapsed, "new": sorted(set(sys.modules) - before)}}))
        """
    )
    import json

    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    heavy = [m for m in result["new"] if m.split(".")[0] in HEAVY_MODULES or m in HEAVY_MODULES]
    assert heavy == [], f"{dag_file.name} imports {heavy} at parse time"
    assert result["elapsed"] < PARSE_BUDGET_S, f"{dag_file.name} took {result['elapsed']:.3f}s to parse"
