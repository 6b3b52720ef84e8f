"""What a chain's incremental revenue over its holdout may be said to be, in the words every report uses.

The CRM overview, the reports run note and anything else that shows incremental revenue ask :func:`verdict`
first, so that a number is shown only when it can mean something:

* ``no_sends`` — the chain sent nothing in the period: there is no effect to measure;
* ``small_holdout`` — fewer than :data:`MIN_HOLDOUT_ENTRANTS` holdout entrants: the interval is so wide
  (revenue per entrant is mostly zero with a long tail) that the figure says nothing either way;
* ``significant`` / ``not_significant`` — the confidence interval excludes zero, or does not.

docs/measurement.md ("When a figure is shown") explains the rule and why the threshold is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Fewer holdout entrants than this and the incremental revenue is not shown. With 10 % holdouts it is about
#: a thousand entrants in the period; below it the 95 % interval of revenue per entrant is several times
#: wider than any plausible effect of a trigger chain.
MIN_HOLDOUT_ENTRANTS = 100
#: The currency of every amount in the warehouse (orders and prices are loaded in roubles,
#: include/config/ingest.yaml).
CURRENCY = "₽"

VERDICTS = ("no_sends", "small_holdout", "significant", "not_significant")


@dataclass(frozen=True)
class Verdict:
    code: str
    ru: str
    en: str

    @property
    def measurable(self) -> bool:
        """The incremental revenue may be shown (significant or not)."""
        return self.code in ("significant", "not_significant")

    @property
    def text(self) -> str:
        return f"{self.ru} / {self.en}"


def confidence_text(confidence: float | None) -> str:
    return f"{100 * (confidence or 0.95):.0f} %"


def verdict(sent: int | float | None, uplift: dict[str, Any] | None) -> Verdict:
    """The verdict on a chain over a period: ``sent`` messages and its ``uplift``
    (:meth:`lifecycle.reports.stats.Uplift.as_dict`, or None when no one entered either arm)."""
    if not sent:
        return Verdict("no_sends", "нет отправок за период", "no sends in the period: no effect to measure")
    holdout = int((uplift or {}).get("holdout") or 0)
    if holdout < MIN_HOLDOUT_ENTRANTS or uplift.get("ci_low") is None:
        return Verdict(
            "small_holdout",
            f"контроль слишком мал: {holdout} из {MIN_HOLDOUT_ENTRANTS} нужных",
            f"holdout too small to say anything: {holdout} of the {MIN_HOLDOUT_ENTRANTS} entrants needed",
        )
    level = confidence_text(uplift.get("confidence"))
    low, high = uplift["ci_low"], uplift["ci_high"]
    if low > 0 or high < 0:
        direction = ("прирост", "a gain") if low > 0 else ("потеря", "a loss")
        return Verdict(
            "significant",
            f"значимо при {level} ({direction[0]})",
            f"significant at {level} ({direction[1]})",
        )
    return Verdict("not_significant", f"не значимо при {level}", f"not significant at {level}")


def money_text(value: float | int | None) -> str:
    """An amount with thin-space thousands and the currency: ``1 234 ₽``; '–' for none."""
    if value is None:
        return "–"
    return f"{value:,.0f}".replace(",", "\u202f").replace("-", "−") + f"\u00a0{CURRENCY}"
