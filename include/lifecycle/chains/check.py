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
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.chains.config import CHAINS_DIR, ChainConfig, first_delay_hours
from lifecycle.chains.validation import check_chain_map
from lifecycle.errors import ConfigError

if TYPE_CHECKING:
    from lifecycle.policy.config import PolicyConfig
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
    policy: PolicyConfig | None = None,
) -> ChainsCheck:
    """Every chain of ``folder``: loaded, entry and exit queries planned on ``warehouse``, dead
    configuration found. ``rfm`` defaults to the RFM settings of include/config/scores.yaml, ``policy`` to
    include/config/policy.yaml."""
    result = ChainsCheck()
    if policy is None:
        from lifecycle.policy.config import DEFAULT_POLICY_FILE, load_policy

        try:
            policy = load_policy(DEFAULT_POLICY_FILE)
        except ConfigError as exc:  # the chains still run; only the checks against the policy need it
            result.warnings.append(Finding("", exc.file, exc.field, f"policy agreement not checked: {exc}"))
    if rfm is None:
        from lifecycle.scores.config import DEFAULT_CONFIG_FILE, load_config

        try:
            rfm = load_config(DEFAULT_CONFIG_FILE).rfm
        except ConfigError as exc:  # the chains still run; only the override check needs the cut points
            result.warnings.append(Finding("", exc.file, exc.field, f"overrides not checked: {exc}"))
    mapped = check_chain_map(warehouse, folder, check_templates)
    result.problems = dict(mapped.problems)
    for chain_id, chain in mapped.chains.items():
        result.chains[chain_id] = chain
        file = str(folder / f"{chain_id}.yaml")
        result.warnings += disagreeing_values(file, chain, policy)
        if rfm is not None:
            result.warnings += dead_overrides(file, chain, rfm)
    result.problems = dict(sorted(result.problems.items()))
    return result


def disagreeing_values(file: str, chain: ChainConfig, policy: PolicyConfig | None = None) -> list[Finding]:
    """Settings of the chain that must agree with each other, or with the contact policy, but do not: each
    one makes the file say something the run does not do."""
    found: list[Finding] = []

    def warn(field: str, message: str) -> None:
        found.append(Finding(chain.id, file, field, message))

    idle = chain.entry.params.get("idle_hours")
    if idle is not None and idle != first_delay_hours(chain):
        first = chain.steps[0]
        warn(
            "entry.params.idle_hours",
            f"{idle} h differs from the first step's delay ({first.id}: {first.delay}); customers are "
            "found idle at one time and the first message is timed by the other. Remove idle_hours: "
            "it then follows the first step's delay",
        )
    limit = chain.exits.time_limit
    for no, step in enumerate(chain.steps):
        if limit is not None and step.delay >= limit:
            warn(
                f"steps.{no}.delay",
                f"{step.id} is due {span(step.delay)} after entry, but exits.time_limit ends every instance "
                f"after {span(limit)}: the step is never sent. Raise time_limit above the last step's delay "
                "or remove the step",
            )
        _check_variants(warn, f"steps.{no}", step)
    if chain.exits.max_touches is not None and chain.exits.max_touches >= len(chain.steps):
        warn(
            "exits.max_touches",
            f"{chain.exits.max_touches} touches can never be reached by {len(chain.steps)} step(s): the exit "
            "never fires. Lower it below the number of steps or remove it",
        )
    if chain.holdout_share > 0 and all(step.kind == "service" for step in chain.steps):
        warn(
            "holdout_share",
            f"{chain.holdout_share:.0%} of the customers are to be held out, but every step is a service "
            "message, which the contact policy never holds out. Set holdout_share: 0 or make a step "
            "content or sale",
        )
    optimal = [no for no, step in enumerate(chain.steps) if step.send_time == "optimal"]
    if "send_time_holdout" in chain.model_fields_set and not optimal:
        warn(
            "send_time_holdout",
            "a send-time holdout is set, but no step has send_time: optimal, so every step goes at the "
            "default time anyway. Set send_time: optimal on a step or remove send_time_holdout",
        )
    for no in optimal:
        step = chain.steps[no]
        if step.fresh_for <= timedelta(hours=1):
            warn(
                f"steps.{no}.send_time",
                f"{step.id} is fresh for only {span(step.fresh_for)}: no best hour can be waited for, so it "
                "always goes at the default time. Give it a fresh_for of a day or more, or remove send_time",
            )
    if policy is not None:
        found += _disagreeing_with_policy(file, chain, policy)
    return found


def _check_variants(warn, where: str, step) -> None:
    """A/B variants: weights written as shares add up to 1, and a bandit has at least two arms."""
    weights = [variant.weight for variant in step.variants]
    total = sum(weights)
    if all(weight < 1 for weight in weights) and abs(total - 1) > 1e-6:
        warn(
            f"{where}.variants",
            f"the variants' shares add up to {total:g}, not 1; they are scaled to 1, so the file does not "
            "show the traffic each variant gets. Make the shares add up to 1",
        )
    if step.bandit and len(step.variants) < 2:
        warn(
            f"{where}.bandit",
            f"bandit: true on {step.id}, which has a single variant: there is no traffic to shift. Add "
            "variants or remove bandit",
        )


def _disagreeing_with_policy(file: str, chain: ChainConfig, policy: PolicyConfig) -> list[Finding]:
    """Steps whose freshness or quiet-hours setting cannot work under include/config/policy.yaml."""
    found = []
    quiet = policy.quiet_hours
    start, end = (timedelta(hours=t.hour, minutes=t.minute) for t in (quiet.start, quiet.end))
    night = (end - start) % timedelta(days=1)
    window = f"{quiet.start:%H:%M}–{quiet.end:%H:%M}"
    gap = policy.caps.min_gap
    for no, step in enumerate(chain.steps):
        where = f"steps.{no}"
        if step.kind == "service":
            if step.quiet_hours == "drop":
                found.append(
                    Finding(
                        chain.id,
                        file,
                        f"{where}.quiet_hours",
                        f"drop on {step.id}, a service message, which quiet hours never hold or drop "
                        "(include/config/policy.yaml, quiet_hours). Remove quiet_hours from the step",
                    )
                )
            continue
        if step.quiet_hours == "hold" and step.fresh_for < night:
            found.append(
                Finding(
                    chain.id,
                    file,
                    f"{where}.fresh_for",
                    f"{step.id} waits for the morning (quiet_hours: hold) but goes stale after "
                    f"{span(step.fresh_for)}, less than the quiet hours ({window}, {span(night)}): when it "
                    "is due early in the night it is dropped anyway. Set quiet_hours: drop to say so, or "
                    f"fresh_for: {span(night)} or more",
                )
            )
        for earlier in chain.steps[:no]:
            if step.delay - earlier.delay + step.fresh_for <= gap:
                found.append(
                    Finding(
                        chain.id,
                        file,
                        f"{where}.delay",
                        f"{step.id} is due {span(step.delay - earlier.delay)} after {earlier.id} and stale "
                        f"{span(step.fresh_for)} later, within the policy's min_gap of {span(gap)} "
                        "(include/config/policy.yaml, caps.min_gap): once the earlier step is sent, this one "
                        "never is. Move the step later or give it a longer fresh_for",
                    )
                )
                break
    return found


def span(value: timedelta) -> str:
    """A duration as a chain file writes it: 2d, 12h, 1d6h, 30m."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    return text or "0h"


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
