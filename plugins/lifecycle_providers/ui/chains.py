"""The analyst's side of the pages: the chain files as the pages see them, and the audience preview of one
chain run from the browser.

The preview is :func:`lifecycle.chains.preview.preview_chain`, the same as ``python -m lifecycle chains
preview``: the chain runs at the chosen time on one connection inside a transaction that is rolled back, so
nothing is written. Chain files and SQL files are read on every request (SQL files are cached by
modification time, :mod:`lifecycle.sql`), so an edit shows on the next preview without restarting Airflow.
A chain whose YAML or SQL is broken gets a page naming the file and the field or line, never an error 500.

``LIFECYCLE_CHAINS_DIR`` points the pages at another folder of chain files than ``include/chains`` (a copy
being edited; the SQL files follow ``LIFECYCLE_SQL_DIR``, :mod:`lifecycle.paths`).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle_providers.ui import render as r

if TYPE_CHECKING:
    from lifecycle.chains.config import ChainConfig
    from lifecycle.chains.preview import ChainPreview

#: Environment variable naming the folder of chain files the pages read (default include/chains).
CHAINS_DIR_ENV = "LIFECYCLE_CHAINS_DIR"
#: A chain id as the file names allow it; anything else never reaches the file system.
CHAIN_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: The preview of the CLI lists this many entrants; the page does the same.
SAMPLE_SIZE = 10


def chains_folder() -> Path:
    from lifecycle.chains.config import CHAINS_DIR

    return Path(os.environ.get(CHAINS_DIR_ENV) or CHAINS_DIR)


@dataclass
class ChainFiles:
    """Every chain file of a folder: the chains that load, and for each broken one what is wrong."""

    chains: dict[str, Any]
    problems: dict[str, str]

    @property
    def error(self) -> str | None:
        """One line for the pages when some chains do not load (what is wrong: the chain list)."""
        if not self.problems:
            return None
        return (
            f"Не загружены, см. «Цепочки и их аудитория» / Not loaded, see 'Chains and their audience': "
            f"{', '.join(sorted(self.problems))}"
        )


def load_chain_files(folder: Path) -> ChainFiles:
    """Each chain file on its own (without rendering templates, as the map only needs the config): one
    broken file leaves the others on the page."""
    from lifecycle.chains.config import chain_ids, check_references, load_chain
    from lifecycle.errors import ConfigError

    ids = chain_ids(folder)
    files = ChainFiles({}, {})
    for chain_id in ids:
        path = folder / f"{chain_id}.yaml"
        try:
            chain = load_chain(path, check_templates=False)
            check_references(path, chain, set(ids))
        except ConfigError as exc:
            files.problems[chain_id] = str(exc)
            continue
        files.chains[chain_id] = chain
    return files


class UnknownChain(LookupError):
    """No file of that name in the chains folder."""


class PreviewFailed(Exception):
    """The chain cannot be previewed as it stands: ``text`` names the file and the field or line."""

    def __init__(self, text: str, file: str | None = None):
        super().__init__(text)
        self.text, self.file = text, file


def load_for_preview(folder: Path, chain_id: str) -> ChainConfig:
    """The chain as a run would load it (templates rendered against sample data when the
    LIFECYCLE_CHECK_TEMPLATES switch says so, its references to other chains checked)."""
    from lifecycle.chains.config import chain_ids, check_references, load_chain
    from lifecycle.errors import ConfigError

    path = folder / f"{chain_id}.yaml"
    if not CHAIN_ID.match(chain_id) or not path.is_file():
        raise UnknownChain(chain_id)
    try:
        chain = load_chain(path)
        check_references(path, chain, set(chain_ids(folder)))
    except ConfigError as exc:
        raise PreviewFailed(str(exc), exc.file) from exc
    return chain


def run_preview(url: str, chain: ChainConfig, as_of: datetime, wait_s: float) -> ChainPreview:
    """The preview on the warehouse at ``url``; a DuckDB file held by a task is waited for ``wait_s``, then
    :class:`~lifecycle_providers.ui.warehouse.WarehouseBusy`. Raises :class:`PreviewFailed` for anything
    the chain's files or the policy file get wrong."""
    import sqlalchemy as sa

    from lifecycle.chains.preview import preview_chain
    from lifecycle.chains.validation import QUERY_FAULTS
    from lifecycle.errors import ConfigError
    from lifecycle.policy.config import load_policy
    from lifecycle.warehouse import Warehouse
    from lifecycle_providers.ui.warehouse import WarehouseBusy

    try:
        policy = load_policy()
    except ConfigError as exc:
        raise PreviewFailed(str(exc), exc.file) from exc
    warehouse = Warehouse(url)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                return preview_chain(warehouse, chain, as_of, policy, sample_size=SAMPLE_SIZE)
            except ConfigError as exc:  # the entry query (file and line) or what it returns
                raise PreviewFailed(str(exc), exc.file) from exc
            except QUERY_FAULTS as exc:  # a statement of the engine refused on this warehouse
                first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig)
                raise PreviewFailed(
                    f"the warehouse refused a statement of the chain run: {first}. Run `python -m lifecycle "
                    f"chains check` to find the file"
                ) from exc
            except sa.exc.OperationalError as exc:
                if warehouse.dialect == "duckdb" and "lock" in str(exc).lower():
                    if time.monotonic() < deadline:
                        time.sleep(0.25)
                        continue
                    raise WarehouseBusy(str(exc.orig)) from exc
                raise PreviewFailed(
                    f"the warehouse could not be opened for the preview, which needs write access (its "
                    f"work is rolled back): {exc.orig}"
                ) from exc
    finally:
        warehouse.engine.dispose()


def parse_moment(text: str | None) -> datetime:
    """``at`` from the form: an ISO time (the browser's ``2026-03-02T10:00``), UTC when it has no offset;
    the current hour when empty. Naive UTC."""
    if not text:
        return datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    moment = datetime.fromisoformat(text.strip())
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# --- HTML -----------------------------------------------------------------------------------------------


def _name(chain: Any) -> str:
    name = getattr(chain, "name", None)
    return f"{name.ru} / {name.en}" if name is not None else chain.id


def preview_form(chain_id: str, at: str = "", action: str | None = None) -> str:
    """The action button of one chain with its optional time (UTC); ``action`` is the URL relative to the
    page the form is on."""
    target = action if action is not None else f"chains/{chain_id}/preview"
    return (
        f"<form class='preview' method='get' action='{escape(target)}'>"
        f"<label>Время, UTC / Time, UTC <input type='datetime-local' name='at' value='{escape(at)}' "
        f"step='60' data-chain='{escape(chain_id)}'></label> "
        f"<button type='submit' data-chain='{escape(chain_id)}'>Предпросмотр аудитории / Preview audience"
        "</button></form>"
    )


def chain_list(files: ChainFiles) -> str:
    """Every chain file with its priority, holdout and steps, a "Preview audience" action each, and what is
    wrong with the files that do not load."""
    rows = []
    for chain_id in sorted(set(files.chains) | set(files.problems)):
        chain = files.chains.get(chain_id)
        problem = files.problems.get(chain_id)
        rows.append(
            [
                _name(chain) if chain is not None else chain_id,
                chain_id,
                r.fmt(chain.priority) if chain is not None else "–",
                r.fmt(chain.holdout_share, "pct") if chain is not None else "–",
                r.fmt(len(chain.steps)) if chain is not None else "–",
                ("raw-html", f"<span class='warning'>{escape(problem)}</span>")
                if problem
                else "в порядке / ok",
                ("raw-html", preview_form(chain_id)),
            ]
        )
    return r.table(
        [
            "Цепочка / Chain",
            "id",
            "Приоритет / Priority",
            "Доля контроля / Holdout share",
            "Шагов / Steps",
            "Файл / File",
            "Аудитория / Audience",
        ],
        rows,
        numeric=(2, 3, 4),
    )


def _outcome_text(outcome: str) -> str:
    from lifecycle.reports.labels import STAGE, stage_text

    return stage_text(outcome) if outcome in STAGE else outcome


def _policy_table(rows: list[dict[str, Any]]) -> str:
    from lifecycle.reports.labels import reason_text

    return r.table(
        ["Решение / Outcome", "Причина / Reason", "Шагов / Steps"],
        [
            [
                _outcome_text(row["outcome"]),
                reason_text(row["reason"]) if row["reason"] else "–",
                r.fmt(row["steps"]),
            ]
            for row in rows
        ],
        numeric=(2,),
    )


def _legend(preview: ChainPreview) -> str:
    from lifecycle.reports.labels import STAGE, STAGE_MEANING, reason_meaning, reason_text, stage_text

    rows = preview.entrants_policy + preview.active_policy
    outcomes = sorted({row["outcome"] for row in rows if row["outcome"] in STAGE})
    codes = sorted({row["reason"] for row in rows if row["reason"]})
    return r.section(
        "Легенда / Legend",
        r.legend([(stage_text(o), STAGE_MEANING[o]) for o in outcomes]),
        r.legend([(f"{reason_text(c)} ({c})", reason_meaning(c) or "–") for c in codes]),
    )


def _at_value(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M}"


def preview_page(chain_id: str, chain: Any, as_of: datetime, preview: ChainPreview) -> str:
    """Who would enter the chain at ``as_of`` and what the contact policy would do with their steps."""
    sample = r.table(
        [
            "ID клиента / Customer id",
            "Триггер / Triggered at (UTC)",
            "Ключ триггера / Trigger key",
            "Ветка / Branch",
        ],
        [
            [
                str(row["customer_id"]),
                f"{row['triggered_at']:%Y-%m-%d %H:%M:%S}" if row.get("triggered_at") else "–",
                row["trigger_key"],
                row.get("branch") or "–",
            ]
            for row in preview.sample
        ],
    )
    entrants = (
        _policy_table(preview.entrants_policy)
        if preview.entrants_policy
        else r.paragraph(
            "Ни один шаг новых клиентов ещё не наступил / No step of the new entrants is due yet at this "
            "time."
            if preview.entering
            else "Никто не войдёт / No one would enter.",
            "muted",
        )
    )
    active = (
        _policy_table(preview.active_policy)
        if preview.active_policy
        else r.paragraph("Нет шагов к отправке / No steps due.", "muted")
    )
    figures = r.table(
        ["Показатель / Figure", "Значение / Value"],
        [
            ["Войдут / Would enter", ("raw-html", f"<strong id='entering'>{preview.entering}</strong>")],
            ["Триггеров найдено / Triggers found", r.fmt(preview.triggers)],
            ["Окно триггеров с / Triggers since (UTC)", f"{preview.window_start:%Y-%m-%d %H:%M}"],
            ["Выйдут / Would exit", r.fmt(preview.exited)],
            ["Шагов к отправке всего / Steps due in all", r.fmt(preview.due_steps)],
        ],
        numeric=(1,),
    )
    shown = f"{len(preview.sample)} из {preview.entering} / {len(preview.sample)} of {preview.entering}"
    return r.page(
        f"Предпросмотр аудитории / Audience preview — {_name(chain)}",
        f"{chain_id} на {as_of:%Y-%m-%d %H:%M} UTC / at {as_of:%Y-%m-%d %H:%M} UTC",
        [
            _back(),
            preview_form(chain_id, _at_value(as_of), action="preview"),
            r.paragraph(
                "Цепочка выполнена как в запуске, в транзакции, которая затем откатана: ничего не записано и "
                "не отправлено. / The chain ran as a run would, inside a transaction that was rolled back: "
                "nothing was written or sent."
            ),
            r.section("Кто войдёт / Who would enter", figures),
            r.section(f"Примеры / Sample ({shown})", sample),
            r.section(
                "Политика контактов: новые клиенты / Contact policy on the new entrants' due steps", entrants
            ),
            r.section(
                "Политика контактов: уже в цепочке / Contact policy on steps due for customers already "
                "in the chain",
                active,
            ),
            _legend(preview),
        ],
    )


def _back() -> str:
    return "<p class='note'><a href='../../overview'>← CRM: обзор / CRM overview</a></p>"


def problem_page(chain_id: str, as_of: datetime | None, text: str, at: str = "") -> str:
    """The chain cannot be previewed: the error, naming the file and the field or line, and the form to try
    again once the file is fixed."""
    when = f" на {as_of:%Y-%m-%d %H:%M} UTC / at {as_of:%Y-%m-%d %H:%M} UTC" if as_of else ""
    return r.page(
        "Предпросмотр аудитории / Audience preview",
        f"{chain_id}{when}",
        [
            _back(),
            r.banner(
                "Предпросмотр невозможен: исправьте файл и нажмите снова. / The chain cannot be previewed: "
                "fix the file and preview again.",
                "failed",
            ),
            f"<pre class='error' id='preview-error'>{escape(text)}</pre>",
            preview_form(chain_id, at, action="preview"),
        ],
    )


def unknown_page(chain_id: str, known: list[str]) -> str:
    return r.page(
        "Предпросмотр аудитории / Audience preview",
        chain_id,
        [
            _back(),
            r.banner(f"Цепочки {chain_id!r} нет / There is no chain {chain_id!r}.", "failed"),
            r.paragraph("Известные цепочки / Known chains: " + (", ".join(known) or "–")),
        ],
    )
