"""The measurement recovers a known truth: 20 seeds of a synthetic shop (ground_truth.py) in one DuckDB
warehouse, one real ``build_reports``, and the reports' per-chain incremental revenue and conversion with
their 95 % intervals compared with the effects the orders were drawn from."""

from ground_truth import CHAINS, FIRST_DAY, REPORT_DATE, build_and_read, evaluate, table

from lifecycle.reports import read
from lifecycle.reports.stats import MIN_ENTRANTS_PER_ARM

SEEDS = range(20)


def test_the_measurement_recovers_the_truth(duckdb_warehouse):
    """One warehouse, one report build (a single test, so parallel workers do not build it twice)."""
    from lifecycle.migrations import migrate

    migrate(duckdb_warehouse)
    truths, view = build_and_read(duckdb_warehouse, SEEDS)
    measured = duckdb_warehouse, truths, view, evaluate(truths, view)
    print(table(measured[3]))
    _intervals_cover_the_true_effects(measured)
    _no_effect_is_rarely_significant(measured)
    _the_harmful_chain_is_flagged_and_the_good_one_never_negative(measured)
    _ab_and_bandit_pick_the_better_variant(measured)
    _chains_that_cannot_be_measured_get_no_figure_and_a_reason(measured)


def _intervals_cover_the_true_effects(measured):
    _, _, _, kinds = measured
    report = table(kinds)
    given = sum(k["given"] for k in kinds.values())
    covered = sum(k["covered"] for k in kinds.values())
    conv_given = sum(k["conv_given"] for k in kinds.values())
    conv_covered = sum(k["conv_covered"] for k in kinds.values())
    assert given >= 100, report
    assert covered / given >= 0.85, report
    assert conv_covered / conv_given >= 0.85, report
    # Each chain's own coverage is not far off either (20 seeds: 0.75 is 4 misses).
    for name, k in kinds.items():
        if k["given"]:
            assert k["covered"] / k["given"] >= 0.75, (name, report)
        if k["conv_given"]:
            assert k["conv_covered"] / k["conv_given"] >= 0.75, (name, report)


def _no_effect_is_rarely_significant(measured):
    """Chains with no effect are significant about 5 % of the time: no more often than a 5 % rate gives in
    99 % of samples of that size (7 of 60)."""
    from scipy.stats import binom

    _, _, _, kinds = measured
    zero = [kinds["zero_a"], kinds["zero_b"], kinds["zero_c"]]
    for given, sig in (("given", "sig"), ("conv_given", "conv_sig")):
        trials = sum(k[given] for k in zero)
        assert sum(k[sig] for k in zero) <= binom.ppf(0.99, trials, 0.05), (sig, table(kinds))


def _the_harmful_chain_is_flagged_and_the_good_one_never_negative(measured):
    _, _, _, kinds = measured
    harm, uplift = kinds["harm"], kinds["uplift"]
    assert harm["neg"] >= 0.8 * harm["n"], table(kinds)
    assert harm["pos"] == 0
    assert harm["conv_sig"] >= 0.8 * harm["n"]
    assert uplift["neg"] == 0
    assert uplift["pos"] >= 0.5 * uplift["n"], table(kinds)
    assert uplift["conv_sig"] >= 0.8 * uplift["n"]


def _ab_and_bandit_pick_the_better_variant(measured):
    from scipy.stats import binom

    _, truths, view, kinds = measured
    kind = {t.chain_id: t.spec.name for t in truths}
    tests = {
        name: [t for t in view["experiments"] if kind[t["chain_id"]] == name] for name in ("ab", "bandit")
    }
    for name in ("ab", "bandit"):
        assert len(tests[name]) == len(SEEDS)
        winners = [t["winner"] for t in tests[name]]
        assert winners.count("B") >= 0.9 * len(SEEDS), (name, winners)
        assert "A" not in winners
        for t in tests[name]:
            if t["winner"] is None:
                assert t["winner_reason"] == "no_clear_winner"
    # The bandit moved traffic: B got most of the sends and holds most of the current weight.
    for t in tests["bandit"]:
        assert t["bandit_active"]
        v = {x["variant"]: x for x in t["variants"]}
        assert v["B"]["sent"] > v["A"]["sent"]
        assert v["B"]["weight"] > 0.9
    # Two equally good variants: a winner is declared about 5 % of the time, no more often than that rate
    # gives in 99 % of samples of this size.
    same = [t for t in view["experiments"] if kind[t["chain_id"]] == "ab_same"]
    assert len(same) == len(SEEDS)
    assert sum(t["winner"] is not None for t in same) <= binom.ppf(0.99, len(SEEDS), 0.05), table(kinds)


def _chains_that_cannot_be_measured_get_no_figure_and_a_reason(measured):
    warehouse, truths, _, _ = measured
    effects = {e["chain_id"]: e for e in read.chain_effects(warehouse, FIRST_DAY, REPORT_DATE)}
    assert set(effects) == {t.chain_id for t in truths}
    assert all(tuple(e) == read.CHAIN_EFFECT_COLUMNS for e in effects.values())
    for truth in truths:
        e = effects[truth.chain_id]
        # Arms as the policy assigns them: global control in neither; every send counted.
        assert (e["sends"], e["treated"], e["holdout"]) == (truth.sends, truth.treated, truth.holdout)
        # One message per entrant at most; the holdout never gets one.
        assert (e["messaged"], e["holdout_messaged"]) == (truth.sends, 0)
        if truth.spec.name == "silent":
            assert e["sends"] == 0
            assert (e["reason"], e["conversion_reason"]) == ("no_sends", "no_sends")
        elif truth.spec.name == "tiny":
            assert e["holdout"] < MIN_ENTRANTS_PER_ARM
            assert e["reason"] == "too_few_entrants"
        else:
            assert e["conversion_reason"] is None
            assert e["conversion_ci_low"] <= e["conversion_uplift"] <= e["conversion_ci_high"]
        if e["reason"] is not None:
            assert (e["incremental_revenue"], e["ci_low"], e["ci_high"], e["significant"]) == (
                None,
                None,
                None,
                False,
            )
        else:
            assert e["ci_low"] <= e["incremental_revenue"] <= e["ci_high"]
            assert e["significant"] == (e["ci_low"] > 0 or e["ci_high"] < 0)
    # The default period is all history up to the latest report date: the same figures.
    assert read.chain_effects(warehouse) == list(effects.values())
    assert {s.name for s in CHAINS} >= {"silent", "tiny", "zero_a", "zero_b", "harm", "uplift"}
