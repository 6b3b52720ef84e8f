"""What a chain's incremental revenue (and conversion) over its holdout may be said to be, in the words every
report uses.

The rule itself is :func:`lifecycle.reports.stats.chain_effect`: it gives a figure, or None with a reason
(a key of :data:`lifecycle.reports.stats.REASONS`). This module only puts its answer into words, so that the
CRM overview, the reports run note and anything else that shows incremental revenue say the same thing:

* a reason (``no_sends``, ``no_entrants``, ``no_holdout``, ``too_few_entrants``, ``too_few_buyers``): no
  figure, the reason's label from :data:`lifecycle.reports.stats.REASON_LABELS` instead;
* ``significant`` / ``not_significant``: the figure, its interval, and whether the interval excludes zero
  (the report's own ``significant``), with the direction when it does.

docs/measurement.md ("When a figure is shown") explains the rule and its thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifecycle.currency import load_currency
from lifecycle.reports.stats import REASON_LABELS, REASONS

#: The symbol of the shop's currency, in which every amount in the warehouse is kept (``currency:`` in
#: include/config/scores.yaml; roubles by default).
CURRENCY = load_currency().symbol


@dataclass(frozen=True)
class Verdict:
    """``code``: a reason key of :data:`~lifecycle.reports.stats.REASONS`, ``significant`` or
    ``not_significant``; ``ru`` / ``en``: what the pages and the run note say; ``meaning``: the reason's
    longer explanation (empty for a figure)."""

    code: str
    ru: str
    en: str
    meaning: str = ""

    @property
    def measurable(self) -> bool:
        """The report gave a figure (significant or not)."""
        return self.code in ("significant", "not_significant")

    @property
    def text(self) -> str:
        return f"{self.ru} / {self.en}"


def confidence_text(confidence: float | None) -> str:
    return f"{100 * (confidence or 0.95):.0f} %"


def reason_verdict(reason: str) -> Verdict:
    """A reason key of :data:`~lifecycle.reports.stats.REASONS` in words; an unknown key is an error."""
    if reason not in REASON_LABELS:
        raise ValueError(f"unknown reason {reason!r}: expected one of {', '.join(REASON_LABELS)}")
    ru, en = REASON_LABELS[reason]
    return Verdict(reason, ru, en, REASONS[reason])


def _significance(significant: bool, low: float | None, confidence: float | None) -> Verdict:
    level = confidence_text(confidence)
    if significant:
        ru, en = ("прирост", "a gain") if low is not None and low > 0 else ("потеря", "a loss")
        return Verdict("significant", f"значимо при {level} ({ru})", f"significant at {level} ({en})")
    return Verdict("not_significant", f"не значимо при {level}", f"not significant at {level}")


def verdict(effect: dict[str, Any] | None) -> Verdict:
    """The verdict on a chain's incremental revenue over a period, from its effect
    (:func:`lifecycle.reports.stats.chain_effect`, as in ``overview()['chains'][i]['uplift']``; None, for a
    chain with no report row at all, reads as ``no_entrants``)."""
    if effect is None:
        return reason_verdict("no_entrants")
    if effect.get("reason") is not None:
        return reason_verdict(effect["reason"])
    if effect.get("incremental_revenue") is None:
        raise ValueError(f"a chain effect without a revenue figure gives no reason: {effect!r}")
    return _significance(bool(effect.get("significant")), effect.get("ci_low"), effect.get("confidence"))


def conversion_verdict(effect: dict[str, Any] | None) -> Verdict:
    """The same for the conversion uplift, which is given with fewer buyers than revenue needs (a chain
    whose revenue is ``too_few_buyers`` still has one)."""
    if effect is None:
        return reason_verdict("no_entrants")
    if effect.get("conversion_reason") is not None:
        return reason_verdict(effect["conversion_reason"])
    if effect.get("conversion_uplift") is None:  # buyers unknown: nothing to say either way
        return Verdict("unknown", "нет данных", "no data")
    return _significance(
        bool(effect.get("conversion_significant")), effect.get("conversion_ci_low"), effect.get("confidence")
    )


def winner_text(experiment: dict[str, Any]) -> str:
    """An A/B step's outcome (``overview()['experiments'][i]``): the winning variant, or why there is none."""
    if experiment.get("winner") is not None:
        return f"победитель: {experiment['winner']} / winner: {experiment['winner']}"
    return reason_verdict(experiment.get("winner_reason") or "no_clear_winner").text


def money_text(value: float | int | None) -> str:
    """An amount with thin-space thousands and the currency: ``1 234 ₽``; '–' for none."""
    if value is None:
        return "–"
    return f"{value:,.0f}".replace(",", "\u202f").replace("-", "−") + f"\u00a0{CURRENCY}"


def points_text(value: float | None) -> str:
    """A difference of shares in percentage points: ``+1.2 pp``; '–' for none."""
    if value is None:
        return "–"
    return f"{100 * value:+.1f}".replace("-", "−") + "\u00a0pp"
