"""The communication map: one YAML file per chain in ``include/chains/``, validated on load.

A chain file names its entry query (``include/sql/chains/<id>.sql``) and the query's thresholds, the exits,
the re-entry window, priority and holdout, and its steps (delay from entry, channel, template, message kind,
quiet-hours behaviour, freshness, send condition, A/B variants, RFM segment overrides). Any mistake fails
with :class:`~lifecycle.errors.ConfigError` naming the file, the field and the fix; ``docs/chains.md``
describes every field.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lifecycle import sql
from lifecycle.errors import ConfigError
from lifecycle.paths import INCLUDE_DIR, SQL_DIR, TEMPLATES_DIR
from lifecycle.settings import Duration, load_model

#: Environment variable naming another folder of chain files than include/chains (an analyst's copy, a
#: test's scratch copy); read when this module is imported, as ``LIFECYCLE_SQL_DIR`` is. The DAG and the
#: pages use it too.
CHAINS_DIR_ENV = "LIFECYCLE_CHAINS_DIR"
CHAINS_DIR = Path(os.environ.get(CHAINS_DIR_ENV) or INCLUDE_DIR / "chains").resolve()
#: Set to 0 to load chains before their templates exist (config tests, a chain still being written).
CHECK_TEMPLATES_ENV = "LIFECYCLE_CHECK_TEMPLATES"
#: Parameters the engine binds into an entry query itself: the run's window, and for a query that times its
#: triggers by the daily scores, the scored date in force and from when on orders may be missing from it
#: (:func:`lifecycle.chains.engine.scores_in_force`).
SCORES_PARAMS = frozenset({"scores_as_of", "unscored_from"})
#: Those parameters on a warehouse without scores: the beginning of time (no scored row matches, and every
#: order counts as unscored).
NO_SCORES = {"scores_as_of": date(1900, 1, 1), "unscored_from": datetime(1900, 1, 1)}
ENGINE_PARAMS = frozenset({"since", "as_of"}) | SCORES_PARAMS
#: Entry parameters a chain may leave out because they follow from its steps, so the two cannot disagree.
#: ``idle_hours`` (how long a cart or a browse sits untouched before the chain starts) is the first step's
#: delay: steps are timed from the trigger, and the first message goes out when the customer is found idle.
DERIVED_PARAMS = ("idle_hours",)

_RFM_PATTERN = re.compile(r"^[1-3*]{3}$")
_ID = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Names(_Strict):
    ru: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Entry(_Strict):
    sql: str = Field(description="entry query, relative to include/sql/")
    params: dict[str, int | float | str | bool] = Field(default_factory=dict)
    first_run_lookback: Duration = timedelta(days=2)


class Exits(_Strict):
    unsubscribed: bool = True
    purchase_of_trigger_product: bool = False
    any_purchase: bool = False
    any_cart: bool = False
    entered_chain: list[str] = Field(default_factory=list)
    max_touches: int | None = Field(default=None, ge=1)
    time_limit: Duration | None = Field(default=None, gt=timedelta(0))


class Variant(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    weight: float = Field(gt=0)


class Condition(_Strict):
    no_engagement_with: str


class SegmentOverride(_Strict):
    skip: bool = False
    template: str | None = None
    offer: Literal["none", "mild", "standard", "strong"] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> SegmentOverride:
        if self.skip and (self.template or self.offer):
            raise ValueError("an override that skips the step cannot also set a template or offer")
        if not (self.skip or self.template or self.offer):
            raise ValueError("an override needs skip: true, a template or an offer")
        return self


class Step(_Strict):
    id: str = Field(pattern=_ID)
    delay: Duration
    channel: Literal["email", "push", "sms"]
    template: str
    kind: Literal["service", "content", "sale"] = "content"
    quiet_hours: Literal["hold", "drop"] = "hold"
    fresh_for: Duration = Field(default=timedelta(hours=12), gt=timedelta(0))
    #: ``optimal``: sent at the customer's best local hour when that hour comes within ``fresh_for`` (and
    #: the quiet hours allow it), except the chain's send-time holdout, sent at once as ``default`` steps are.
    send_time: Literal["default", "optimal"] = "default"
    #: Share of the customers this step would go to who are kept from this step alone (the rest of the chain
    #: goes on as usual), so the reports can measure what this one touch adds: its incremental orders and
    #: revenue against its cost (``lifecycle.reports.step_lift``). The same customers on every run.
    holdout_share: float = Field(default=0.0, ge=0, lt=1)
    condition: Condition | None = None
    variants: list[Variant] = Field(default_factory=lambda: [Variant(id="A", weight=1.0)], min_length=1)
    bandit: bool = False
    promo: bool = False
    offer: Literal["none", "mild", "standard", "strong"] = "none"
    branch: str | None = None
    segment_overrides: dict[str, SegmentOverride] = Field(default_factory=dict)

    @property
    def send_condition(self) -> str | None:
        return f"no_engagement_with:{self.condition.no_engagement_with}" if self.condition else None

    def variants_json(self) -> str:
        """Variants as the contract's JSON text, weights normalised to sum to 1."""
        import json

        total = sum(v.weight for v in self.variants)
        return json.dumps([{"id": v.id, "weight": round(v.weight / total, 6)} for v in self.variants])

    def override_for(self, rfm_code: str | None) -> tuple[str, SegmentOverride] | None:
        """The first override (in file order) whose pattern matches the customer's RFM code."""
        if not rfm_code:
            return None
        for pattern, override in self.segment_overrides.items():
            if all(p in ("*", c) for p, c in zip(pattern, rfm_code, strict=True)):
                return pattern, override
        return None


class ChainConfig(_Strict):
    id: str = Field(pattern=_ID)
    name: Names
    description: str = Field(min_length=40)
    priority: int
    bound_to: Literal["cart", "product", "category", "order", "customer"]
    entry: Entry
    on_new_trigger: Literal["ignore", "restart"] = "ignore"
    exits: Exits = Field(default_factory=Exits)
    reentry_days: int = Field(ge=0)
    holdout_share: float = Field(ge=0, lt=1)
    #: Share of the recipients of the chain's ``send_time: optimal`` steps sent at the default time instead,
    #: so the reports can measure what the best hour adds (the same customers on every run).
    send_time_holdout: float = Field(default=0.2, ge=0, lt=1)
    consent_scope: str | None = None
    typical_order_value: float = Field(default=0.0, ge=0)
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


def chain_ids(folder: Path = CHAINS_DIR) -> list[str]:
    """Chain ids from the file names alone: cheap enough for DAG parsing (no YAML, no database)."""
    return sorted(path.stem for path in folder.glob("*.yaml"))


def load_chains(folder: Path = CHAINS_DIR, check_templates: bool | None = None) -> dict[str, ChainConfig]:
    """Every chain of the map, validated one by one and against each other."""
    chains = {path.stem: load_chain(path, check_templates) for path in sorted(folder.glob("*.yaml"))}
    for chain in chains.values():
        check_references(folder / f"{chain.id}.yaml", chain, set(chains))
    return chains


def check_references(path: Path, chain: ChainConfig, known: set[str]) -> None:
    """The chains named by ``exits.entered_chain`` exist in the map (``known`` chain ids)."""
    for other in chain.exits.entered_chain:
        if other not in known:
            raise ConfigError(
                str(path),
                "exits.entered_chain",
                f"there is no chain {other!r}",
                f"use one of {sorted(known)}",
            )


def load_chain(path: Path, check_templates: bool | None = None) -> ChainConfig:
    """One chain file, validated; ``check_templates`` defaults to the LIFECYCLE_CHECK_TEMPLATES switch."""
    if check_templates is None:
        check_templates = os.environ.get(CHECK_TEMPLATES_ENV, "1").lower() not in ("0", "false", "no")
    file = str(path)
    chain = load_model(path, ChainConfig, _fix)
    if chain.id != path.stem:
        raise ConfigError(file, "id", f"id {chain.id!r} differs from the file name", f"set id: {path.stem}")
    _check_steps(file, chain)
    chain = _with_derived_params(chain)
    _check_entry_sql(file, chain)
    if check_templates:
        _check_templates(file, chain)
    return chain


def _fix(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove the field or correct its spelling (docs/chains.md lists every field)"
    if kind == "missing":
        return "add the field (docs/chains.md describes it)"
    if kind == "value_error" and "duration" in error["msg"]:
        return "write a delay as days, hours and minutes, e.g. 2h, 1d, 3d12h, 30m"
    if kind == "literal_error":
        return "use one of the allowed values named above"
    return "correct the value (docs/chains.md describes the field)"


def _check_steps(file: str, chain: ChainConfig) -> None:
    seen: dict[str, Step] = {}
    previous = timedelta(0)
    for no, step in enumerate(chain.steps):
        where = f"steps.{no}"
        if step.id in seen:
            raise ConfigError(file, f"{where}.id", f"step id {step.id!r} is used twice", "rename one step")
        if step.delay < previous:
            raise ConfigError(
                file,
                f"{where}.delay",
                f"{step.id} ({step.delay}) comes before the previous step ({previous})",
                "list steps in the order of their delays",
            )
        if step.condition and step.condition.no_engagement_with not in seen:
            raise ConfigError(
                file,
                f"{where}.condition.no_engagement_with",
                f"{step.condition.no_engagement_with!r} is not an earlier step",
                f"name one of {sorted(seen) or 'the steps before it'}",
            )
        if step.send_time == "optimal" and step.kind == "service":
            raise ConfigError(
                file,
                f"{where}.send_time",
                f"{step.id} is a service message, which goes out at once, never at a chosen hour",
                "remove send_time or make the step content or sale",
            )
        if step.holdout_share and step.kind == "service":
            raise ConfigError(
                file,
                f"{where}.holdout_share",
                f"{step.id} is a service message, which every customer must get: it cannot have a holdout",
                "remove holdout_share or make the step content or sale",
            )
        if len({v.id for v in step.variants}) != len(step.variants):
            raise ConfigError(file, f"{where}.variants", "a variant id is used twice", "rename one variant")
        for pattern in step.segment_overrides:
            if not _RFM_PATTERN.match(pattern):
                raise ConfigError(
                    file,
                    f"{where}.segment_overrides.{pattern}",
                    f"{pattern!r} is not an RFM segment",
                    "use three characters R, F, M, each 1-3 or * (e.g. 333, 3*3, 1**)",
                )
        seen[step.id] = step
        previous = step.delay


def first_delay_hours(chain: ChainConfig) -> int | float:
    """The first step's delay in hours (a whole number when it is one)."""
    hours = chain.steps[0].delay.total_seconds() / 3600
    return int(hours) if hours.is_integer() else hours


def _with_derived_params(chain: ChainConfig) -> ChainConfig:
    """The chain with every :data:`DERIVED_PARAMS` entry its query binds and its file leaves out filled in."""
    if not (SQL_DIR / chain.entry.sql).is_file():
        return chain  # reported by _check_entry_sql
    try:
        bound = sql.binds(chain.entry.sql)
    except ConfigError:
        return chain  # reported by _check_entry_sql
    derived = {
        name: first_delay_hours(chain)
        for name in DERIVED_PARAMS
        if name in bound and name not in chain.entry.params
    }
    if not derived:
        return chain
    entry = chain.entry.model_copy(update={"params": {**chain.entry.params, **derived}})
    return chain.model_copy(update={"entry": entry})


def _check_entry_sql(file: str, chain: ChainConfig) -> None:
    """The entry query exists, has a header, and binds exactly the configured thresholds."""
    field = "entry.sql"
    if not (SQL_DIR / chain.entry.sql).is_file():
        raise ConfigError(
            file, field, f"include/sql/{chain.entry.sql} does not exist", "create it or fix the path"
        )
    try:
        bound = sql.binds(chain.entry.sql)
    except ConfigError as exc:
        raise ConfigError(file, field, f"{exc.file}: {exc.problem}", exc.fix) from None
    missing = bound - ENGINE_PARAMS - set(chain.entry.params)
    if missing:
        raise ConfigError(
            file,
            "entry.params",
            f"the query binds {sorted(missing)} but the chain gives no value",
            "add them under entry.params",
        )
    unused = set(chain.entry.params) - bound
    if unused:
        raise ConfigError(
            file,
            "entry.params",
            f"the query does not use {sorted(unused)}",
            "remove them or use them in the query",
        )


def template_paths(chain: ChainConfig) -> list[tuple[str, str]]:
    """(field, template) for every template the chain names, overrides included."""
    found = []
    for no, step in enumerate(chain.steps):
        found.append((f"steps.{no}.template", step.template))
        for pattern, override in step.segment_overrides.items():
            if override.template:
                found.append((f"steps.{no}.segment_overrides.{pattern}.template", override.template))
    return found


def template_exists(template: str) -> bool:
    """A template is a folder ``include/templates/<locale>/<chain>/<step>`` or files named ``<step>.*``."""
    path = TEMPLATES_DIR / template
    return path.is_dir() or any(path.parent.glob(f"{path.name}.*"))


def _check_templates(file: str, chain: ChainConfig) -> None:
    from lifecycle.delivery.validate import template_problem

    for field, template in template_paths(chain):
        if not template_exists(template):
            raise ConfigError(
                file,
                field,
                f"template include/templates/{template} does not exist",
                f"create it, correct the path, or set {CHECK_TEMPLATES_ENV}=0 until templates exist",
            )
        step = chain.steps[int(field.split(".")[1])]
        is_sms = (TEMPLATES_DIR / template / "sms.txt").is_file()
        if (step.channel == "sms") != is_sms:
            raise ConfigError(
                file,
                field,
                f"the step's channel is {step.channel}, but include/templates/{template} "
                + ("is an SMS template (sms.txt)" if is_sms else "has no sms.txt"),
                "an SMS step names a folder with sms.txt; email and push steps name their own templates",
            )
        # Rendered against sample data, so a template that cannot render stops its chain before anything
        # is planned, not every message of the step at send time.
        problem = template_problem(template)
        if problem:
            raise ConfigError(
                file,
                field,
                f"template does not render: {problem}",
                "fix the template (python -m lifecycle.delivery.validate lists every broken one)",
            )
