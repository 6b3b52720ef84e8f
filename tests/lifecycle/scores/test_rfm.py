"""RFM computed in the warehouse, checked against digits worked out by hand, on DuckDB and PostgreSQL."""

from datetime import date, datetime

import pytest

from lifecycle.currency import CurrencySettings
from lifecycle.scores.config import RfmConfig
from lifecycle.scores.rfm import compute_rfm, describe_cuts

AS_OF = date(2024, 6, 30)


def _order(customer_id, ordered_at, amount, status="completed"):
    return {"customer_id": customer_id, "ordered_at": ordered_at, "total_amount": amount, "status": status}


@pytest.fixture
def shop(migrated, add_customers, add_orders):
    """Seven customers whose recency, frequency and average check are easy to work out by hand."""
    add_customers(migrated, range(1, 8))
    add_orders(
        migrated,
        [
            # 1: four purchases, the last 29 days before 30 June, average (40+35+30+35)/4 = 35 000.
            _order(1, datetime(2024, 6, 1, 10), 40000),
            _order(1, datetime(2024, 5, 1, 10), 35000),
            _order(1, datetime(2024, 4, 1, 10), 30000),
            _order(1, datetime(2024, 3, 1, 10), 35000),
            # 2: one purchase 532 days before, 3 000.
            _order(2, datetime(2023, 1, 15, 12), 3000),
            # 3: two purchases (last 172 days before, average 15 000); the returned order is no purchase.
            _order(3, datetime(2024, 1, 10, 9), 10000),
            _order(3, datetime(2023, 12, 1, 9), 20000),
            _order(3, datetime(2024, 6, 20, 9), 50000, status="returned"),
            # 4: on the boundaries: last purchase 90 days before, checks of exactly 5 000, 3 purchases.
            _order(4, datetime(2024, 4, 1, 8), 5000),
            _order(4, datetime(2024, 2, 1, 8), 5000),
            _order(4, datetime(2023, 12, 1, 8), 5000),
            # 5: bought in the last minute of the as-of date; the order of 1 July is after it and ignored.
            _order(5, datetime(2024, 6, 30, 23, 59), 30000.01),
            _order(5, datetime(2024, 7, 1, 0, 1), 100000),
            # 6: only a cancelled order: no purchase, no RFM.
            _order(6, datetime(2024, 6, 1, 10), 9000, status="cancelled"),
            # 7: one purchase exactly 365 days before, 30 000.
            _order(7, datetime(2023, 7, 1, 18), 30000),
        ],
    )
    return migrated


def test_fixed_thresholds_give_the_hand_computed_digits(shop):
    frame, cuts = compute_rfm(shop, AS_OF, RfmConfig(method="fixed", preset="electronics"))
    assert cuts == {
        "r_cut_1": 90,
        "r_cut_2": 365,
        "f_cut_1": 1,
        "f_cut_2": 3,
        "m_cut_1": 5000,
        "m_cut_2": 30000,
    }
    assert frame["rfm_code"].to_dict() == {1: "333", 2: "111", 3: "222", 4: "321", 5: "313", 7: "212"}
    assert frame.loc[1, ["recency_days", "frequency"]].tolist() == [29, 4]
    assert frame.loc[1, "avg_check"] == pytest.approx(35000)
    assert frame.loc[2, "recency_days"] == 532
    assert frame.loc[3, ["recency_days", "frequency"]].tolist() == [172, 2]
    assert frame.loc[5, ["recency_days", "frequency"]].tolist() == [0, 1]
    assert frame.loc[1, "segment_ru"] == "недавние частые с высоким чеком"
    assert frame.loc[1, "segment_en"] == "recent, frequent, high check"
    assert frame.loc[2, "segment_ru"] == "давние разовые с низким чеком"
    assert frame.loc[3, "segment_en"] == "sleeping, rare, mid check"
    assert frame.loc[7, "segment_ru"] == "спящие разовые со средним чеком"


def test_quantile_thresholds_follow_the_customers_own_values(shop):
    # With six customers the 0.4 and 0.8 quantiles fall exactly on the 3rd and 5th sorted values.
    frame, cuts = compute_rfm(
        shop, AS_OF, RfmConfig(method="quantile", avg_check_method="quantile", quantiles=(0.4, 0.8))
    )
    assert cuts == pytest.approx(
        {"r_cut_1": 90, "r_cut_2": 365, "f_cut_1": 1, "f_cut_2": 3, "m_cut_1": 15000, "m_cut_2": 30000.01}
    )
    assert frame["rfm_code"].to_dict() == {1: "333", 2: "111", 3: "221", 4: "321", 5: "312", 7: "212"}


def test_by_default_the_check_cut_points_are_terciles_in_any_currency(shop):
    # Fixed days and purchases for R and F; the average check split at the customers' own terciles.
    frame, cuts = compute_rfm(shop, AS_OF, RfmConfig())
    # sorted checks 3 000, 5 000, 15 000, 30 000, 30 000.01, 35 000: the first tercile lies 2/3 of the way
    # from the 2nd to the 3rd value, the second a third of the way from the 4th to the 5th
    assert cuts["r_cut_1"] == 90
    assert cuts["f_cut_2"] == 3
    assert cuts["m_cut_1"] == pytest.approx(5000 + 2 / 3 * 10000)
    assert cuts["m_cut_2"] == pytest.approx(30000 + 0.01 / 3)
    assert frame["m"].value_counts().sort_index().tolist() == [2, 2, 2]
    # the legend states the cut points in force, written the shop's way
    rub = describe_cuts(cuts, CurrencySettings(code="RUB"))
    assert rub["en"]["m1"] == "low check: average up to 11\u00a0666,67\u00a0₽"
    assert rub["ru"]["m3"] == "высокий чек: в среднем больше 30\u00a0000,00\u00a0₽"
    usd = describe_cuts(cuts, CurrencySettings(code="USD"))
    assert usd["en"]["m2"] == "mid check: average over $11,666.67, up to $30,000.00"


def test_customer_day_baskets_count_split_orders_as_one_purchase(migrated, add_customers, add_orders):
    add_customers(migrated, [1])
    add_orders(
        migrated,
        [  # one basket split into two orders the same day, and a purchase a week later
            _order(1, datetime(2024, 6, 1, 10), 1000),
            _order(1, datetime(2024, 6, 1, 10, 5), 500),
            _order(1, datetime(2024, 6, 8, 12), 1500),
        ],
    )
    per_day, _ = compute_rfm(migrated, AS_OF, RfmConfig(), purchase_unit="customer_day")
    assert per_day.loc[1, ["frequency", "avg_check"]].tolist() == [2, 1500]
    per_order, _ = compute_rfm(migrated, AS_OF, RfmConfig(), purchase_unit="order")
    assert per_order.loc[1, ["frequency", "avg_check"]].tolist() == [3, 1000]


def test_an_earlier_date_sees_only_its_past(shop):
    frame, _ = compute_rfm(shop, date(2023, 12, 31), RfmConfig())
    assert sorted(frame.index) == [2, 3, 4, 7]
    assert frame.loc[3, ["recency_days", "frequency"]].tolist() == [30, 1]


def test_the_reference_table_names_all_27_codes_in_the_seeds_pattern(migrated):
    r_names = {1: ("давние", "lapsed"), 2: ("спящие", "sleeping"), 3: ("недавние", "recent")}
    f_names = {1: ("разовые", "one-time"), 2: ("редкие", "rare"), 3: ("частые", "frequent")}
    m_names = {1: ("с низким", "low"), 2: ("со средним", "mid"), 3: ("с высоким", "high")}
    with migrated.begin() as conn:
        rows = conn.exec_driver_sql(
            "SELECT rfm_code, r, f, m, name_ru, name_en FROM crm.rfm_segments"
        ).fetchall()
    assert len(rows) == 27
    for code, r, f, m, name_ru, name_en in rows:
        assert code == f"{r}{f}{m}"
        assert name_ru == f"{r_names[r][0]} {f_names[f][0]} {m_names[m][0]} чеком"
        assert name_en == f"{r_names[r][1]}, {f_names[f][1]}, {m_names[m][1]} check"
