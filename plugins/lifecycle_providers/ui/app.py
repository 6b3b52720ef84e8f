"""The FastAPI app of the UI plugin, mounted by Airflow's api-server under ``/lifecycle``.

``GET /lifecycle/runs/{dag_id}/{run_id}``  the Run summary tab of a DAG run (iframe on the run page)
``GET /lifecycle/overview?start=&end=``   the CRM overview page (Airflow navigation)
``GET /lifecycle/chains/{chain}/preview?at=``  the audience preview of one chain (from the CRM overview)
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from lifecycle_providers.ui.auth import require_viewer

URL_PREFIX = "/lifecycle"
log = logging.getLogger(__name__)

app = FastAPI(title="Lifecycle UI", docs_url=None, redoc_url=None, openapi_url=None)


def warehouse_url() -> str:
    """Dependency: the warehouse the pages read (tests override it)."""
    from lifecycle_providers.ui.warehouse import warehouse_url as from_connection

    return from_connection()


def preview_warehouse_url() -> str:
    """Dependency: the warehouse the audience preview runs on, writable (its work is rolled back)."""
    from lifecycle_providers.ui.warehouse import warehouse_url as from_connection

    return from_connection(read_only=False)


def chains_folder() -> Path:
    """Dependency: the folder of chain files (``LIFECYCLE_CHAINS_DIR``, default include/chains)."""
    from lifecycle_providers.ui.chains import chains_folder as configured

    return configured()


def chain_map(
    folder: Annotated[Path, Depends(chains_folder)],
) -> tuple[dict[str, Any], str | None, dict[str, str]]:
    """Dependency: the chain configs that load (communication map, names), a line naming the chain files
    that do not, and what is wrong with each of those. Read on every request, so edits show at once."""
    from lifecycle_providers.ui.chains import load_chain_files

    files = load_chain_files(folder)
    return files.chains, files.error, files.problems


def airflow_run_state(dag_id: str, run_id: str) -> str | None:
    """Dependency: the run's state in Airflow's metadata database (the plugin runs inside the api-server,
    where the ORM is configured); None when it cannot be read, and the tab then relies on the warehouse."""
    try:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            state = session.scalar(
                select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            )
    except Exception as exc:  # no metadata database here: the warehouse's records still tell a lot
        log.info("run state of %s %s not read: %s", dag_id, run_id, exc)
        return None
    return str(getattr(state, "value", state)) if state is not None else None


def _busy(exc: Exception) -> HTMLResponse:
    log.info("warehouse busy: %s", exc)
    return HTMLResponse(
        "<p>Хранилище занято задачей, обновите страницу через несколько секунд. / "
        "The warehouse is busy with a task; reload in a few seconds.</p>",
        status_code=503,
        headers={"Retry-After": "5"},
    )


@app.get("/runs/{dag_id}/{run_id:path}", response_class=HTMLResponse)
def run_summary(
    dag_id: str,
    run_id: str,
    _viewer: str = Depends(require_viewer),
    url: str = Depends(warehouse_url),
    chains: tuple = Depends(chain_map),
    state: str | None = Depends(airflow_run_state),
) -> HTMLResponse:
    from lifecycle_providers.ui import pages
    from lifecycle_providers.ui.warehouse import WarehouseBusy, reading

    try:
        with reading(url) as reader:
            return HTMLResponse(pages.run_summary(reader, dag_id, run_id, chains[0], state))
    except WarehouseBusy as exc:
        return _busy(exc)


@app.get("/overview", response_class=HTMLResponse)
def overview(
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
    _viewer: str = Depends(require_viewer),
    url: str = Depends(warehouse_url),
    chains: tuple = Depends(chain_map),
) -> HTMLResponse:
    from lifecycle.policy.config import load_policy
    from lifecycle_providers.ui import pages
    from lifecycle_providers.ui.warehouse import WarehouseBusy, reading

    if start and end and start > end:
        raise HTTPException(422, "start must not be after end")
    min_sample = load_policy().experiments.bandit_min_sample
    try:
        with reading(url) as reader:
            return HTMLResponse(
                pages.overview(reader, start, end, chains[0], min_sample, chains[1], chains[2])
            )
    except WarehouseBusy as exc:
        return _busy(exc)


@app.get("/chains/{chain_id}/preview", response_class=HTMLResponse)
def chain_preview(
    chain_id: str,
    _viewer: Annotated[str, Depends(require_viewer)],
    folder: Annotated[Path, Depends(chains_folder)],
    url: Annotated[str, Depends(preview_warehouse_url)],
    at: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """Who would enter the chain at ``at`` (UTC; default this hour) and what the contact policy would do;
    nothing is written. A broken chain file, entry query or policy file is named on the page (422)."""
    from lifecycle.chains.config import chain_ids
    from lifecycle_providers.ui import chains as views
    from lifecycle_providers.ui.warehouse import LOCK_WAIT_S, WarehouseBusy

    try:
        as_of = views.parse_moment(at)
    except ValueError:
        problem = f"'at': {at!r} is not a time; use YYYY-MM-DDTHH:MM (UTC)"
        return HTMLResponse(views.problem_page(chain_id, None, problem), status_code=422)
    try:
        chain = views.load_for_preview(folder, chain_id)
        preview = views.run_preview(url, chain, as_of, LOCK_WAIT_S)
    except views.UnknownChain:
        return HTMLResponse(views.unknown_page(chain_id, chain_ids(folder)), status_code=404)
    except views.PreviewFailed as exc:
        log.info("preview of %s refused: %s", chain_id, exc.text)
        return HTMLResponse(views.problem_page(chain_id, as_of, exc.text, at or ""), status_code=422)
    except WarehouseBusy as exc:
        return _busy(exc)
    return HTMLResponse(views.preview_page(chain_id, chain, as_of, preview))
