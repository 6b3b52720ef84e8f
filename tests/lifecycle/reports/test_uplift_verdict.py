"""The words for a chain's effect come from the reports' own fields: a reason's label where the reports give
no figure, significance from ``significant``, the conversion uplift where it is given."""

import pytest

from lifecycle.reports.stats import MIN_ENTRANTS_PER_ARM, REASON_LABELS, REASONS, ArmStats, chain_effect
from lifecycle.reports.uplift_verdict import (
    conversion_verdict,
    money_text,
    points_text,
    reason_verdict,
    verdict,
    winner_text,
)


def arms(n, buyers, revenue_per_buyer=100.0):
    return ArmStats(n, revenue_per_buyer * buyers, revenue_per_buyer**2 * buyers, buyers)


def test_every_reason_is_said_with_its_labels_and_meaning():
    for code, (ru, en) in REASON_LABELS.items():
        said = reason_verdict(code)
        assert (said.code, said.text, said.meaning) == (code, f"{ru} / {en}", REASONS[code])
        assert not said.measurable
    with pytest.raises(ValueError, match="unknown reason 'small_holdout'"):
        reason_verdict("small_holdout")


def test_no_figure_from_the_reports_no_figure_in_words():
    small = chain_effect(arms(500, 50), arms(MIN_ENTRANTS_PER_ARM - 1, 20), sends=10)
    assert verdict(small).text == "слишком мало клиентов / too small to say"
    assert conversion_verdict(small).code == "too_few_entrants"
    assert verdict(chain_effect(arms(500, 50), arms(200, 20), sends=0)).en == "nothing sent"
    assert verdict(None).code == "no_entrants"


def test_significance_is_the_reports_own():
    gain = chain_effect(arms(500, 100), arms(200, 20), sends=10)
    assert gain["significant"]
    assert gain["ci_low"] > 0
    assert verdict(gain).text == "значимо при 95 % (прирост) / significant at 95 % (a gain)"
    assert conversion_verdict(gain).en == "significant at 95 % (a gain)"
    loss = chain_effect(arms(500, 50), arms(200, 80), sends=10)
    assert verdict(loss).en == "significant at 95 % (a loss)"
    flat = chain_effect(arms(500, 80), arms(200, 30), sends=10)
    assert verdict(flat).text == "не значимо при 95 % / not significant at 95 %"
    # The words follow the field, not a recomputation from the interval.
    assert verdict(flat | {"significant": True, "ci_low": 1.0}).en == "significant at 95 % (a gain)"
    with pytest.raises(ValueError, match="gives no reason"):
        verdict(flat | {"incremental_revenue": None})


def test_conversion_is_said_where_revenue_has_too_few_buyers():
    few = chain_effect(arms(1000, 80), arms(200, 4), sends=10)
    assert verdict(few).code == "too_few_buyers"
    assert conversion_verdict(few).en == "significant at 95 % (a gain)"
    assert points_text(few["conversion_uplift"]) == "+6.0\u00a0pp"


def test_ab_winner_or_its_reason():
    assert winner_text({"winner": "B", "winner_reason": None}) == "победитель: B / winner: B"
    assert winner_text({"winner": None, "winner_reason": "too_few_sends"}) == (
        "слишком мало отправок / too early to say"
    )
    assert winner_text({"winner": None, "winner_reason": "no_clear_winner"}).endswith("no clear winner")


def test_amounts():
    assert money_text(-1234.4) == "−1\u202f234\u00a0₽"
    assert money_text(None) == points_text(None) == "–"
    assert points_text(-0.0123) == "−1.2\u00a0pp"
