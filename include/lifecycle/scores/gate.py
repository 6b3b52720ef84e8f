"""The promotion gate: a newly trained model replaces the current one only if it is not worse.

Both models are measured on the *same* validation data (the candidate's, the newest), so the comparison is
not blurred by a change of period. The decision and the figures behind it go to the model registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """The candidate's ``metric`` may be worse than the current model's by at most ``tolerance``.

    With ``relative`` the tolerance is a fraction of the current value (MAE in roubles), else absolute.
    """

    metric: str
    higher_is_better: bool
    tolerance: float
    relative: bool = False

    def check(self, candidate: float, current: float) -> tuple[bool, str]:
        allowed = self.tolerance * abs(current) if self.relative else self.tolerance
        passed = candidate >= current - allowed if self.higher_is_better else candidate <= current + allowed
        sign = "-" if self.higher_is_better else "+"
        tolerance = f"{self.tolerance:.1%}" if self.relative else f"{self.tolerance:g}"
        verdict = "ok" if passed else "worse"
        return (
            passed,
            f"{self.metric} {candidate:.4f} vs current {current:.4f} ({sign}{tolerance}: {verdict})",
        )


@dataclass(frozen=True)
class Floor:
    """A requirement on the candidate alone: ``metric`` at least ``minimum`` (with ``higher_is_better=False``:
    at most), or better than the baseline metric ``beats`` measured on the same data (with
    ``higher_is_better=False``: below it)."""

    metric: str
    minimum: float | None = None
    beats: str | None = None
    higher_is_better: bool = True

    def check(self, metrics: Mapping[str, float]) -> tuple[bool, str]:
        value = metrics[self.metric]
        if self.beats is not None:
            bound, name = metrics[self.beats], self.beats
            passed = value > bound if self.higher_is_better else value < bound
        else:
            bound, name = float(self.minimum), "minimum" if self.higher_is_better else "maximum"
            passed = value >= bound if self.higher_is_better else value <= bound
        verdict = "ok" if passed else "not good enough"
        return passed, f"{self.metric} {value:.4f} vs {name} {bound:.4f} ({verdict})"


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    candidate: Mapping[str, float],
    current: Mapping[str, float] | None,
    rules: Sequence[Rule],
    floors: Sequence[Floor] = (),
    note: str | None = None,
) -> Decision:
    """Promote when every floor holds and, if a model to compare with exists, no rule finds the candidate
    worse. ``note`` (e.g. a changed horizon) leads the reason."""
    checks = [(True, note)] if note else []
    checks += [floor.check(candidate) for floor in floors]
    if current is not None:
        checks += [rule.check(candidate[rule.metric], current[rule.metric]) for rule in rules]
    elif not note:
        checks.append((True, "no current model to compare with"))
    promote = all(passed for passed, _ in checks)
    return Decision(
        promote, ("promoted: " if promote else "rejected: ") + "; ".join(text for _, text in checks)
    )
