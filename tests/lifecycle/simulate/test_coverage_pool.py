"""How the coverage over seeds pools the seeds' figures (the seeds themselves run in
``tests/lifecycle/simulate/long/test_coverage.py``)."""

from lifecycle.simulate.coverage import experiment_picks, format_pooled, pool


def _chain(chain_id, uplift, truth, low, high, **extra):
    row = {
        "chain_id": chain_id,
        "true_uplift": uplift,
        "sends": 100,
        "true_revenue": truth,
        "truth_horizon_revenue": truth,
        "truth_horizon_buyers": 0,
        "treated": 500,
        "measured_revenue": None if low is None else (low + high) / 2,
        "reason": None if low is not None else "too_few_entrants",
        "ci_low": low,
        "ci_high": high,
        "significant": low is not None and (low > 0 or high < 0),
        "conversion_uplift": None,
        "conversion_ci_low": None,
        "conversion_ci_high": None,
        "conversion_significant": False,
        "conversion_reason": "too_few_entrants",
    }
    return row | extra


def _seed(seed, chains, experiments=()):
    return {"seed": seed, "seconds": 1.0, "chains": chains, "experiments": list(experiments)}


def test_pool_counts_only_chains_with_an_interval():
    results = [
        _seed(1, [_chain("a", 0.05, 100.0, 50.0, 150.0), _chain("z", 0.0, 0.0, 10.0, 20.0)]),
        _seed(2, [_chain("a", 0.05, 100.0, 120.0, 150.0), _chain("z", 0.0, 0.0, None, None)]),
        _seed(
            3,
            [
                _chain("a", 0.05, 100.0, None, None),
                _chain("z", 0.0, 0.0, -5.0, 5.0),
                _chain(
                    "n",
                    -0.04,
                    -30.0,
                    -60.0,
                    10.0,
                    truth_horizon_buyers=-5,
                    conversion_uplift=-0.02,
                    conversion_ci_low=-0.03,
                    conversion_ci_high=0.01,
                    conversion_reason=None,
                ),
            ],
        ),
    ]
    pooled = pool(results)
    assert pooled["coverage"]["covered_horizon"] | {"low": None, "high": None} == {
        "hits": 3,
        "n": 5,
        "share": 0.6,
        "low": None,
        "high": None,
    }
    assert pooled["per_chain"]["a"]["covered_horizon"]["n"] == 2
    assert pooled["per_chain"]["a"]["reasons"] == {"too_few_entrants": 1}
    # the zero-effect chain's interval excluding zero in seed 1 is a false alarm, in seed 3 it is not
    assert (pooled["zero_effect"]["revenue"]["hits"], pooled["zero_effect"]["revenue"]["n"]) == (1, 2)
    assert pooled["zero_effect"]["flagged"] == [("z", 1)]
    # the negative chain: a negative estimate (flagged); -5 buyers of 500 treated (-0.01) is in its interval
    assert (pooled["negative"]["hits"], pooled["negative"]["n"]) == (1, 1)
    # its true loss (-30) exceeds one standard error of the estimate (70 / 3.92): a visible loss, shown
    assert (pooled["negative"]["visible"]["hits"], pooled["negative"]["visible"]["n"]) == (1, 1)
    assert pooled["negative"]["significant_gain"]["hits"] == 0
    assert pooled["coverage"]["covered_conversion"]["hits"] == 1
    assert "revenue intervals covering the horizon truth: 3 of 5 = 60.0%" in format_pooled(pooled)


def test_experiment_picks_judge_the_top_variant_against_the_truly_best():
    def experiment(p_best, sent, converted, winner=None):
        uplifts = {"A": 0.0, "B": 0.10}
        return {
            "chain_id": "c",
            "step_id": "s",
            "bandit": False,
            "winner": winner,
            "winner_reason": None if winner else "no_clear_winner",
            "variants": [
                {"variant": v, "sent": sent, "converted": converted[v], "p_best": p_best[v], "true_uplift": u}
                for v, u in uplifts.items()
            ],
        }

    results = [
        _seed(1, [], [experiment({"A": 0.01, "B": 0.99}, 1000, {"A": 50, "B": 150}, winner="B")]),
        _seed(2, [], [experiment({"A": 0.6, "B": 0.4}, 10, {"A": 1, "B": 1})]),
        # two sends each and no conversion: no evidence at all, not a vanishing standard error
        _seed(3, [], [experiment({"A": 0.5, "B": 0.5}, 2, {"A": 0, "B": 0})]),
    ]
    picks = experiment_picks(results)
    large = [p for p in picks["picks"] if p["large"]]
    # 0.10 against an SE of about 0.014 is large; with 10 sends per variant it is not
    assert [p["seed"] for p in large] == [1]
    assert (picks["top_correct_large"]["hits"], picks["top_correct_large"]["n"]) == (1, 1)
    assert (picks["top_correct_all"]["hits"], picks["top_correct_all"]["n"]) == (1, 3)
    assert (picks["winner_correct"]["hits"], picks["winner_correct"]["n"]) == (1, 1)
    # split by kind: this A/B test's large difference was picked and its winner declared; no bandit ran
    assert picks["by_kind"]["ab"]["top_correct_large"]["hits"] == 1
    assert picks["by_kind"]["ab"]["winner_declared_large"]["hits"] == 1
    assert picks["by_kind"]["bandit"]["top_correct_large"]["n"] == 0
    # seed 2's top P(best) (A) is not the truly best (B): a false pick, named
    assert picks["false_picks"] == [(2, "c/s", "A", "B"), (3, "c/s", "A", "B")]
    assert picks["false_winners"] == []


def test_a_significant_loss_is_told_from_a_negative_estimate():
    def negative(seed, conversion, low, high, buyers=0):
        return _seed(
            seed,
            [
                _chain(
                    "n",
                    -1.0,
                    -10.0,
                    None,
                    None,
                    conversion_uplift=conversion,
                    conversion_ci_low=low,
                    conversion_ci_high=high,
                    conversion_significant=high < 0 or low > 0,
                    conversion_reason=None,
                    truth_horizon_buyers=buyers,
                )
            ],
        )

    pooled = pool(
        [
            negative(1, -0.14, -0.22, -0.05, buyers=-50),  # a significant loss, truly -10 points
            negative(2, -0.03, -0.10, 0.04),  # a loss, not significant
            negative(3, 0.09, 0.01, 0.17),  # declared a gain in conversion: not a loss
        ]
    )["negative"]
    assert (pooled["hits"], pooled["n"]) == (2, 3)  # two negative estimates
    assert (pooled["significant_loss"]["hits"], pooled["significant_loss"]["n"]) == (1, 3)
    assert pooled["not_significant"] == [("n", 2), ("n", 3)]
    # seed 1's true loss (-50 buyers of 500) exceeds one standard error of its conversion estimate (0.17 /
    # 3.92): visible without any revenue interval; the others' true change is zero
    assert (pooled["visible"]["hits"], pooled["visible"]["n"]) == (1, 1)
    # only a revenue interval above zero is a "significant gain" of revenue
    assert pooled["significant_gain"]["hits"] == 0
