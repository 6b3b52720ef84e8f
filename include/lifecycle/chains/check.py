"""``chains check``: the whole communication map checked against a warehouse before anything runs.

Every chain file is loaded (its templates rendered against sample data), its entry query and the exit queries
it enables are planned by the warehouse (``EXPLAIN``), and its configuration is searched for settings that
can never take effect:

* a segment override whose RFM recency digit no customer of the chain can have at that step (win-back starts
  30 or 90 days after the last purchase and ends with any purchase, so at its day-8 step a customer is at
  most a few months past a purchase: recency digit 1, "over a year", cannot occur);
* an entry parameter that must agree with the steps but does not (``idle_hours`` set to something other than
  the first step's delay).

Broken chains are problems (the run would fail); dead configuration is a warning (the run works, but the
file says something it does not do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.chains.config import CHAINS_DIR, ChainConfig, first_delay_hours
from lifecycle.chains.validation import QUERY_FAULTS, check_chain_map
from lifecycle.errors import ConfigError
from lifecycle.paths import SQL_DIR

if TYPE_CHECKING:
    from lifecycle.scores.config import RfmConfig
    from lifecycle.warehouse import Warehouse

#: Scores are computed once a day as of the day before, so a customer's recency digit may lag by this much.
SCORE_LAG = timedelta(days=2)
#: Entry parameters that give, in days, how long after the last purchase a customer enters the chain.
LAPSE_SUFFIX = "lapse_days"


@dataclass(frozen=True)
class Finding:
    """One problem or warning: the file, the field in it and what is wrong."""

    chain_id: str
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


@dataclass
class ChainsCheck:
    chains: dict[str, ChainConfig] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)


def check_chains(
    warehouse: Warehouse,
    folder: Path = CHAINS_DIR,
    rfm: RfmConfig | None = None,
    check_templates: bool | None = None,
) -> ChainsCheck:
    """Every chain of ``folder``: loaded, entry and exit queries planned on ``warehouse``, dead
    configuration found. ``rfm`` defaults to the RFM settings of include/config/scores.yaml."""
    result = ChainsCheck()
    if rfm is None:
        from lifecycle.scores.config import DEFAULT_CONFIG_FILE, load_config

        try:
            rfm = load_config(DEFAULT_CONFIG_FILE).rfm
        except ConfigError as exc:  # the chains still run; only the override check needs the cut points
            result.warnings.append(Finding("", exc.file, exc.field, f"overrides not checked: {exc}"))
    mapped = check_chain_map(warehouse, folder, check_templates)
    result.problems = dict(mapped.problems)
    for chain_id, chain in mapped.chains.items():
        try:
            explain_exits(warehouse, chain)
        except ConfigError as exc:
            result.problems[chain_id] = str(exc)
            continue
        result.chains[chain_id] = chain
        file = str(folder / f"{chain_id}.yaml")
        result.warnings += disagreeing_values(file, chain)
        if rfm is not None:
            result.warnings += dead_overrides(file, chain, rfm)
    result.problems = dict(sorted(result.problems.items()))
    return result


def explain_exits(warehouse: Warehouse, chain: ChainConfig) -> None:
    """Have the warehouse plan every exit query the chain enables; raise :class:`ConfigError` naming the
    SQL file and the chain when one does not plan."""
    from lifecycle.chains.engine import exit_statements

    now = datetime.now(UTC).replace(tzinfo=None)
    for name, params in exit_statements(chain, now, "chains-check"):
        statement = sa.text("EXPLAIN " + sql.single_statement(name))
        try:
            with warehouse.begin() as conn:
                conn.execute(statement, params)
        except QUERY_FAULTS as exc:
            problem = (
                str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
            )
            kind = Path(name).stem
            raise ConfigError(
                str(SQL_DIR / name),
                "sql",
                f"{problem} (exit '{kind}' of chain {chain.id})",
                "correct the exit query, or turn the exit off under exits in the chain's file",
            ) from exc


def disagreeing_values(file: str, chain: ChainConfig) -> list[Finding]:
    """Entry parameters set in the file to a value other than the one the steps imply."""
    found = []
    idle = chain.entry.params.get("idle_hours")
    if idle is not None and idle != first_delay_hours(chain):
        first = chain.steps[0]
        found.append(
            Finding(
                chain.id,
                file,
                "entry.params.idle_hours",
                f"{idle} h differs from the first step's delay ({first.id}: {first.delay}); customers are "
                "found idle at one time and the first message is timed by the other. Remove idle_hours: "
                "it then follows the first step's delay",
            )
        )
    return found


def recency_range(chain: ChainConfig, step_no: int) -> tuple[float | None, float | None]:
    """Days since the last purchase a customer of the chain can have when step ``step_no`` is planned
    (lowest, highest; None where the chain sets no bound)."""
    step = chain.steps[step_no]
    lapses = [float(v) for k, v in chain.entry.params.items() if k.endswith(LAPSE_SUFFIX)]
    if chain.bound_to == "order":  # the trigger is a purchase
        lapses = [0.0]
    if not lapses:
        return None, None
    # Steps are timed from the trigger; a step is planned at most its freshness after it is due.
    delay_days = step.delay / timedelta(days=1)
    highest = max(lapses) + delay_days + step.fresh_for / timedelta(days=1)
    # A purchase restarts recency; only a chain that ends with any purchase keeps the lower bound.
    lowest = min(lapses) + delay_days - SCORE_LAG / timedelta(days=1) if chain.exits.any_purchase else None
    return lowest, highest


def possible_recency_digits(rfm: RfmConfig, lowest: float | None, highest: float | None) -> set[str]:
    """RFM recency digits (3 within the first cut, 2 within the second, 1 beyond) of the day range."""
    cut_1, cut_2 = rfm.recency_days
    digits = set()
    low = 0.0 if lowest is None else lowest
    high = float("inf") if highest is None else highest
    if low <= cut_1:
        digits.add("3")
    if high > cut_1 and low <= cut_2:
        digits.add("2")
    if high > cut_2:
        digits.add("1")
    return digits


def dead_overrides(file: str, chain: ChainConfig, rfm: RfmConfig) -> list[Finding]:
    """Segment overrides whose recency digit no customer of the chain can have at that step. Only with
    fixed RFM cut points (with quantiles the cuts move every day)."""
    if rfm.method != "fixed":
        return []
    found = []
    for no, step in enumerate(chain.steps):
        if not step.segment_overrides:
            continue
        lowest, highest = recency_range(chain, no)
        digits = possible_recency_digits(rfm, lowest, highest)
        for pattern in step.segment_overrides:
            if pattern[0] == "*" or pattern[0] in digits:
                continue
            span = f"{0 if lowest is None else max(lowest, 0):.0f}–{highest:.0f}"
            found.append(
                Finding(
                    chain.id,
                    file,
                    f"steps.{no}.segment_overrides.{pattern}",
                    f"can never match: at step {step.id} a customer of this chain bought {span} days ago, "
                    f"so the recency digit is {' or '.join(sorted(digits, reverse=True))}, never "
                    f"{pattern[0]} (include/config/scores.yaml, rfm.recency_days {list(rfm.recency_days)}). "
                    "Remove the override or change its pattern",
                )
            )
    return found
