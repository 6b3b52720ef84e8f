"""Daily scoring writes crm.customer_scores with history, replaces a re-scored date, reports migrations."""

from datetime import date, datetime

import pandas as pd
import pytest

from lifecycle.scores import registry
from lifecycle.scores.config import RfmConfig, ScoresConfig
from lifecycle.scores.features import build_features
from lifecycle.scores.gate import Decision
from lifecycle.scores.ltv import LtvModel
from lifecycle.scores.rfm import segment_migrations
from lifecycle.scores.scoring import score, scored_by_another_run, segment_distribution

#: The fixed 5 000 / 30 000 RUB average-check cut points, so the digits below are easy to check by hand.
CONFIG = ScoresConfig(rfm=RfmConfig(preset="electronics"))
D1, D2 = date(2024, 5, 31), date(2024, 6, 30)


@pytest.fixture
def shop(migrated, add_customers, add_orders):
    add_customers(migrated, [1, 2, 3])
    add_orders(
        migrated,
        [
            {"customer_id": 1, "ordered_at": datetime(2024, 1, 10), "total_amount": 12000.0},
            {"customer_id": 1, "ordered_at": datetime(2024, 6, 10), "total_amount": 8000.0},
            {"customer_id": 2, "ordered_at": datetime(2023, 3, 1), "total_amount": 45000.0},
            {"customer_id": 3, "ordered_at": datetime(2024, 6, 15), "total_amount": 2000.0},
        ],
    )
    return migrated


def _register_models(warehouse):
    """A small recency-only churn pipeline and fixed LTV parameters, registered as current."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    features = build_features(warehouse, D2)
    churn = Pipeline(
        [
            ("features", ColumnTransformer([("keep", "passthrough", ["recency_days"])])),
            ("model", LogisticRegression()),
        ]
    ).fit(features, features["recency_days"] > 100)
    empty = pd.DataFrame(columns=["bin", "customers", "mean_predicted", "mean_observed"])
    for name, model in (("churn", churn), ("ltv", LtvModel(0.5, 60.0, 0.8, 2.5, 3.0, 4.0, 9000.0, 365))):
        candidate = registry.Candidate(name, model, D1, D1, D1, 90, ("recency_days",), {}, empty)
        registry.register(warehouse, candidate, Decision(True, "promoted: test"))


def _scores(warehouse):
    with warehouse.begin() as conn:
        result = conn.exec_driver_sql("SELECT * FROM crm.customer_scores ORDER BY as_of, customer_id")
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def test_scores_are_written_per_date_and_a_rescored_date_is_replaced(shop):
    _register_models(shop)
    first = score(shop, D2, CONFIG, run_key="run-1")
    assert (first.customers, first.churn_model_version, first.ltv_model_version) == (3, 1, 1)
    assert first.rfm_legend["en"]["m3"] == "high check: average over 30\u00a0000,00\u00a0₽"
    assert first.rfm_legend["ru"]["r3"] == "недавние: последняя покупка не больше 90 дн. назад"
    rows = _scores(shop)
    assert rows["rfm_code"].tolist() == ["322", "113", "311"]
    assert rows["segment_en"].tolist()[0] == "recent, rare, mid check"
    assert rows["churn_probability"].between(0, 1).all()
    assert (rows["ltv"] >= 0).all()
    # the recency-only model ranks the lapsed customer as the likeliest to churn
    assert rows.loc[1, "churn_probability"] > rows.loc[0, "churn_probability"]
    assert (rows["churn_model_version"] == 1).all()

    score(shop, D2, CONFIG, run_key="run-2")
    assert len(_scores(shop)) == 3  # replaced, not duplicated
    score(shop, D1, CONFIG, run_key="run-3")
    history = _scores(shop)
    assert history.groupby("as_of").size().to_dict() == {D1: 2, D2: 3}
    assert history.query("as_of == @D1")["rfm_code"].tolist() == ["212", "113"]

    migrations = segment_migrations(shop, D1, D2)
    assert migrations.fillna("new").values.tolist() == [
        ["new", "311", 1],
        ["113", "113", 1],
        ["212", "322", 1],
    ]
    distribution = segment_distribution(shop, D2).set_index("rfm_code")
    assert len(distribution) == 27
    assert distribution["customers"].sum() == 3
    assert distribution.loc["322", "share"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_plans_the_hourly_reads_of_the_newest_scores_on_statistics_that_know_that_date(shop):
    """The hourly chains and the policy read the newest scored date: its rows must be in the planner's
    statistics once the scoring commits (autovacuum may be off), or it takes them for almost none."""

    def dates_known(table):
        with shop.begin() as conn:
            return conn.exec_driver_sql(
                "SELECT COALESCE(most_common_vals::text, '') || COALESCE(histogram_bounds::text, '') "
                "FROM pg_stats WHERE schemaname = 'crm' AND tablename = %(table)s AND attname = 'as_of'",
                {"table": table},
            ).scalar()

    score(shop, D1, CONFIG, run_key="run-1")
    assert "2024-05-31" in dates_known("customer_scores")
    assert "2024-05-31" in dates_known("send_hour_profiles")
    score(shop, D2, CONFIG, run_key="run-2")
    assert "2024-06-30" in dates_known("customer_scores")
    assert "2024-06-30" in dates_known("send_hour_profiles")


def test_without_a_current_model_scores_have_rfm_but_no_probabilities(shop):
    report = score(shop, D2, CONFIG, run_key="run-1")
    assert report.churn_model_version is None
    assert report.ltv_model_version is None
    rows = _scores(shop)
    assert len(rows) == 3
    assert rows["churn_probability"].isna().all()
    assert rows["ltv"].isna().all()
    assert rows["churn_model_version"].isna().all()


def test_a_date_is_scored_once_per_run(shop):
    assert not scored_by_another_run(shop, D2, "run-1")
    score(shop, D2, CONFIG, run_key="run-1")
    assert not scored_by_another_run(shop, D2, "run-1")  # a retry of the same run scores again
    assert scored_by_another_run(shop, D2, "run-2")
    assert not scored_by_another_run(shop, D1, "run-2")


def test_the_scores_say_from_when_on_orders_may_be_missing_from_them(shop):
    def unscored_from(run_key):
        with shop.begin() as conn:
            return conn.exec_driver_sql(
                f"SELECT unscored_from FROM crm.score_runs WHERE run_key = '{run_key}'"
            ).scalar()

    # no ingest recorded: the end of the scored date
    assert score(shop, D2, CONFIG, run_key="run-1").unscored_from == datetime(2024, 7, 1)
    assert unscored_from("run-1") == datetime(2024, 7, 1)
    # the ingest has loaded up to 01:00 the next day: rows loaded within its 3-hour late grace before that may
    # still wait for their customer, so the scores are certain of what was loaded before 22:00
    with shop.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.watermarks (source_table, loaded_through, updated_at) VALUES"
            " ('shop.orders', TIMESTAMP '2024-07-01 01:00:00', TIMESTAMP '2024-07-01 01:00:00'),"
            " ('shop.events', TIMESTAMP '2024-07-01 02:00:00', TIMESTAMP '2024-07-01 02:00:00')"
        )
    report = score(shop, D2, CONFIG, run_key="run-2")
    assert report.unscored_from == datetime(2024, 6, 30, 22, 0)
    assert report.as_dict()["unscored_from"] == "2024-06-30T22:00:00"
    assert unscored_from("run-2") == datetime(2024, 6, 30, 22, 0)
    # a date long loaded: its end
    assert score(shop, D1, CONFIG, run_key="run-3").unscored_from == datetime(2024, 6, 1)


def test_a_shop_scored_in_parts_gets_the_scores_it_gets_in_one(trained_demo, monkeypatch):
    """Above ``scoring_customers`` buyers the features are read and scored in parts (split in the
    warehouse by a hash of customer_id): every customer once, with the scores of one part."""
    from lifecycle.scores import scoring

    warehouse, _, _ = trained_demo
    as_of = date(2026, 6, 29)
    parts_read = []

    def spy(*args, **kwargs):
        frame = build_features(*args, **kwargs)
        parts_read.append((kwargs.get("sample_every"), kwargs.get("sample_part"), len(frame)))
        return frame

    monkeypatch.setattr(scoring, "build_features", spy)
    whole = score(warehouse, as_of, ScoresConfig(), run_key="whole")
    at_once = _scores(warehouse)
    in_parts = score(warehouse, as_of, ScoresConfig(scoring_customers=1000), run_key="parts")
    parted = _scores(warehouse)

    assert whole.customers == in_parts.customers > 2000
    assert parts_read[0] == (1, 0, whole.customers)
    parts = -(-whole.customers // 1000)
    assert [(every, part) for every, part, _ in parts_read[1:]] == [(parts, p) for p in range(parts)]
    assert sum(rows for _, _, rows in parts_read[1:]) == whole.customers
    assert all(rows < 1000 * 1.2 for _, _, rows in parts_read[1:])
    assert parted["churn_probability"].notna().all()
    assert parted["ltv"].notna().all()
    columns = ["customer_id", "ltv", "rfm_code", "next_order_date"]
    pd.testing.assert_frame_equal(parted[columns], at_once[columns])
    # The churn model's BG/NBD inputs are fitted once, on the first part (here only ~860 customers, in a
    # real shop about scoring_customers), instead of on every customer: close, and in the same order.
    difference = (parted["churn_probability"] - at_once["churn_probability"]).abs()
    assert difference.mean() < 0.005, difference.describe()
    assert difference.max() < 0.1, difference.describe()
    assert parted["churn_probability"].corr(at_once["churn_probability"], method="spearman") > 0.995


def test_a_part_outside_the_parts_is_refused(trained_demo):
    warehouse, _, _ = trained_demo
    with pytest.raises(ValueError, match="sample_part 3 is not one of the 3 parts 0 to 2"):
        build_features(warehouse, date(2026, 6, 29), sample_every=3, sample_part=3)
