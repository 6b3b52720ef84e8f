"""Each chain on hand-built rows, on DuckDB and PostgreSQL: entry, step timing, exits, re-entry."""

import json
from datetime import date, datetime, timedelta

import pytest
from chain_helpers import (
    D,
    H,
    T,
    customer,
    decide,
    event,
    insert,
    instances,
    order,
    product,
    query,
    run,
    state,
    steps,
)

M = H / 60


def test_abandoned_cart_email_at_12_order_at_13_exits_before_the_next_step(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "add_to_cart", T, product_id=100)])

    figures, due = run(wh, "abandoned_cart", T + H)
    assert (figures.entered, due) == (0, [])  # the cart is not idle yet

    figures, due = run(wh, "abandoned_cart", T + 2 * H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 2 * H)]
    (email,) = due
    assert email["instance_id"] == "abandoned_cart:1:cart-1"
    assert (email["channel"], email["message_kind"], email["template"]) == (
        "email",
        "content",
        "ru/abandoned_cart/email_1",
    )
    assert (email["priority"], email["holdout_share"], email["expected_value"]) == (90, 0.1, 30000.0)
    assert email["expires_at"] == T + 14 * H
    assert [v["id"] for v in json.loads(email["variants"])] == ["A", "B", "C"]
    assert email["use_bandit"]
    assert json.loads(email["context"])["product_ids"] == [100]
    decide(wh, due)

    _, due = run(wh, "abandoned_cart", T + 3 * H)
    assert due == []  # the push waits until 4 h after the cart

    order(wh, 10, 1, T + 3 * H + 30 * M, [100])
    _, due = run(wh, "abandoned_cart", T + 4 * H)
    assert due == []  # the exit is checked before the push
    assert instances(wh, "abandoned_cart") == [
        ("abandoned_cart:1:cart-1", "exited", "moved_to_post_purchase")
    ]

    # A new cart within a day does not re-enter; two days later it does.
    insert(wh, "crm.events", [event(2, 1, "add_to_cart", T + 5 * H, product_id=200)])
    assert run(wh, "abandoned_cart", T + 8 * H)[0].entered == 0
    insert(wh, "crm.events", [event(3, 1, "add_to_cart", T + 2 * D, product_id=200)])
    figures, due = run(wh, "abandoned_cart", T + 2 * D + 2 * H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 2 * D + 2 * H)]


def test_a_held_step_is_due_again_and_a_rerun_writes_the_same_due_steps(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "add_to_cart", T, product_id=100)])
    _, first = run(wh, "abandoned_cart", T + 2 * H, run_key="r1")
    decide(wh, first, outcome="held")
    _, again = run(wh, "abandoned_cart", T + 2 * H, run_key="r1")
    assert again == first  # same run key: same rows, the run's own decisions ignored

    _, held = run(wh, "abandoned_cart", T + 3 * H, run_key="r2")
    assert steps(held) == [("email_1", T + 2 * H)]
    decide(wh, held, outcome="planned")
    _, push = run(wh, "abandoned_cart", T + 4 * H, run_key="r3")
    assert steps(push) == [("push_1", T + 4 * H)]
    assert push[0]["send_condition"] == "no_engagement_with:email_1"
    assert query(wh, "SELECT touches FROM crm.chain_instances") == [(1,)]


def test_a_second_run_without_new_data_adds_no_entries(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "add_to_cart", T, product_id=100)])
    assert run(wh, "abandoned_cart", T + 2 * H)[0].entered == 1
    again = run(wh, "abandoned_cart", T + 3 * H)[0]
    assert (again.candidates, again.entered) == (
        1,
        0,
    )  # the 3 h grace re-reads the cart; it is not re-entered
    assert run(wh, "abandoned_cart", T + 6 * H)[0].entered == 0
    assert run(wh, "abandoned_cart", T + 9 * H)[0].candidates == 0  # past the grace: not even read
    assert query(wh, "SELECT COUNT(*) FROM crm.chain_instances") == [(1,)]


def test_segment_override_resolves_the_template_and_offer(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "add_to_cart", T, product_id=100)])
    insert(
        wh,
        "crm.customer_scores",
        [
            {
                "as_of": date(2026, 3, 1),
                "customer_id": 1,
                "recency_days": 3,
                "frequency": 5,
                "avg_check": 20000.0,
                "r": 3,
                "f": 3,
                "m": 3,
                "rfm_code": "333",
                "segment_ru": "недавние частые с высоким чеком",
                "segment_en": "recent, frequent, high check",
                "scored_at": T,
            }
        ],
    )
    run(wh, "abandoned_cart", T + 2 * H)
    # No decisions: every step stays due, and the next one due is emitted on each run.
    _, due = run(wh, "abandoned_cart", T + 3 * D + H)
    assert steps(due) == [("email_1", T + 2 * H)]
    decide(wh, due)
    for _ in range(3):
        _, due = run(wh, "abandoned_cart", T + 3 * D + H, run_key=f"catch-up-{_}")
        decide(wh, due)
    _, due = run(wh, "abandoned_cart", T + 3 * D + H, run_key="final")
    (final,) = due
    assert final["template"] == "ru/abandoned_cart/email_4_no_discount"
    assert json.loads(final["context"])["offer"] == "none"


def test_welcome_exits_on_the_first_purchase(wh):
    insert(wh, "crm.customers", [customer(1, registered_at=T)])
    figures, due = run(wh, "welcome", T + H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T)]
    decide(wh, due)
    order(wh, 10, 1, T + 5 * H, [100])
    _, due = run(wh, "welcome", T + 9 * H)
    assert due == []
    assert instances(wh, "welcome") == [("welcome:1:welcome", "exited", "purchased")]


def test_abandoned_browse_enters_after_an_idle_hour_and_exits_on_a_cart(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(
        wh,
        "crm.events",
        [
            event(1, 1, "view_product", T, product_id=100),
            event(2, 1, "view_product", T + 10 * M, product_id=100),
        ],
    )
    assert run(wh, "abandoned_browse", T + H + 5 * M)[0].entered == 0
    figures, due = run(wh, "abandoned_browse", T + H + 15 * M)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + H + 10 * M)]
    assert run(wh, "expensive_browse", T + 3 * H)[0].entered == 0  # not in its price band
    insert(wh, "crm.events", [event(3, 1, "add_to_cart", T + 2 * H, product_id=200)])
    run(wh, "abandoned_browse", T + 3 * H)
    assert instances(wh, "abandoned_browse") == [("abandoned_browse:1:product-100", "exited", "carted")]


def test_expensive_browse_sends_one_reassurance_email(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(
        wh,
        "crm.events",
        [
            event(1, 1, "view_product", T, product_id=400),
            event(2, 1, "view_product", T + 10 * M, product_id=400),
        ],
    )
    figures, due = run(wh, "expensive_browse", T + 2 * H + 15 * M)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 2 * H + 10 * M)]
    decide(wh, due)
    run(wh, "expensive_browse", T + 3 * H)
    assert instances(wh, "expensive_browse") == [("expensive_browse:1:product-400", "completed", None)]


def test_abandoned_category_needs_visits_without_product_focus(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    insert(
        wh,
        "crm.events",
        [
            event(1, 1, "view_category", T, category_id=1),
            event(2, 1, "view_category", T + 5 * M, category_id=1),
            event(3, 2, "view_category", T, category_id=1),
            event(4, 2, "view_category", T + 5 * M, category_id=1),
            event(5, 2, "view_product", T + 6 * M, product_id=100),
            event(6, 2, "view_product", T + 7 * M, product_id=101),
        ],
    )
    figures, due = run(wh, "abandoned_category", T + 3 * H + 10 * M)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 3 * H + 5 * M)]
    order(wh, 10, 1, T + 4 * H, [300])
    run(wh, "abandoned_category", T + 5 * H)
    assert instances(wh, "abandoned_category") == [("abandoned_category:1:category-1", "exited", "purchased")]


def test_back_in_stock_push_then_email_until_the_product_is_bought(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "add_to_wishlist", T - 2 * D, product_id=100)])
    insert(wh, "crm.stock_changes", [{"product_id": 100, "changed_at": T, "in_stock": True, "loaded_at": T}])
    figures, due = run(wh, "back_in_stock", T + H)
    assert figures.entered == 1
    assert steps(due) == [("push_1", T)]
    assert json.loads(due[0]["context"])["interest"] == "wishlist"
    decide(wh, due)
    _, due = run(wh, "back_in_stock", T + 2 * H)
    assert steps(due) == [("email_1", T + 2 * H)]
    order(wh, 10, 1, T + 3 * H, [100])
    run(wh, "back_in_stock", T + 4 * H)
    assert instances(wh, "back_in_stock") == [
        ("back_in_stock:1:product-100", "exited", "moved_to_post_purchase")
    ]


def test_price_drop_enters_once_within_its_reentry_window(wh):
    insert(wh, "crm.customers", [customer(1)])
    insert(wh, "crm.events", [event(1, 1, "view_product", T - 2 * D, product_id=100)])
    insert(
        wh,
        "crm.price_changes",
        [
            {
                "product_id": 100,
                "changed_at": T - D,
                "old_price": 30000.0,
                "new_price": 27000.0,
                "loaded_at": T,
            },
            {
                "product_id": 100,
                "changed_at": T - D + H,
                "old_price": 27000.0,
                "new_price": 30000.0,
                "loaded_at": T,
            },
        ],
    )
    assert run(wh, "price_drop", T - H)[0].entered == 0  # the price went up again within the hour
    drops = [
        {"product_id": 100, "changed_at": T, "old_price": 30000.0, "new_price": 27000.0, "loaded_at": T},
        {
            "product_id": 100,
            "changed_at": T + D,
            "old_price": 27000.0,
            "new_price": 24000.0,
            "loaded_at": T + D,
        },
    ]
    insert(wh, "crm.price_changes", drops[:1])
    figures, due = run(wh, "price_drop", T + H)
    assert figures.entered == 1
    assert steps(due) == [("push_1", T)]
    assert json.loads(due[0]["context"])["old_price"] == 30000.0
    insert(wh, "crm.price_changes", drops[1:])
    assert run(wh, "price_drop", T + D + H)[0].entered == 0  # within the 3-day re-entry window


def test_cross_sell_three_days_after_delivery_until_an_accessory_is_bought(wh):
    insert(wh, "crm.customers", [customer(1)])
    order(wh, 10, 1, T - 2 * D, [100], delivered_at=T)
    figures, due = run(wh, "cross_sell", T + H)
    assert figures.entered == 1
    assert due == []
    _, due = run(wh, "cross_sell", T + 3 * D + H)
    assert steps(due) == [("email_1", T + 3 * D)]
    assert json.loads(due[0]["context"])["product_ids"] == [200]
    order(wh, 11, 1, T + 3 * D + 2 * H, [200])
    run(wh, "cross_sell", T + 3 * D + 3 * H)
    assert instances(wh, "cross_sell") == [("cross_sell:1:order-10", "exited", "moved_to_post_purchase")]


def test_cross_sell_starts_at_a_delivery_or_a_store_purchase_in_the_window_not_an_undelivered_order(wh):
    insert(wh, "crm.customers", [customer(1), customer(2), customer(3), customer(4)])
    order(wh, 10, 1, T - 2 * D, [100], delivered_at=T - 30 * M)  # online, delivered in the window
    order(wh, 20, 2, T - 10 * M, [100], channel="offline")  # bought in a store, in the window
    order(wh, 30, 3, T - 20 * M, [100])  # online, not delivered yet
    order(wh, 40, 4, T - 9 * D, [100], delivered_at=T - 8 * D)  # delivered before the window
    figures, _ = run(wh, "cross_sell", T)
    assert figures.entered == 2
    rows = query(wh, "SELECT instance_id, triggered_at FROM crm.chain_instances ORDER BY instance_id")
    assert rows == [("cross_sell:1:order-10", T - 30 * M), ("cross_sell:2:order-20", T - 10 * M)]


def test_replenishment_uses_the_catalogue_cycle_without_repeat_history(wh):
    insert(wh, "crm.customers", [customer(1)])
    order(wh, 10, 1, T - 25 * D, [300])
    figures, due = run(wh, "replenishment", T)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T - 2 * D)]
    assert json.loads(due[0]["context"])["cycle_learnt"] is False
    order(wh, 11, 1, T + H, [300])
    run(wh, "replenishment", T + 2 * H)
    assert instances(wh, "replenishment") == [
        ("replenishment:1:order-10-product-300", "exited", "moved_to_post_purchase")
    ]


def _score(wh, as_of):
    from lifecycle.scores.config import ScoresConfig
    from lifecycle.scores.scoring import score

    return score(wh, as_of.date(), ScoresConfig(), run_key=f"scores-{as_of:%Y%m%d}")


def test_replenishment_times_an_order_newer_than_the_scores_by_the_products_learnt_cycle(wh):
    insert(wh, "crm.customers", [customer(c) for c in range(1, 7)])
    for c in range(1, 6):  # five customers rebuy the filter every 20 days
        order(wh, 100 + c, c, T - 60 * D, [300])
        order(wh, 200 + c, c, T - 40 * D, [300])
    report = _score(wh, T - 15 * D)  # the daily scores learn the filter's cycle ...
    assert report.product_cycles == 1
    assert query(wh, "SELECT product_id, repeats, median_gap_days FROM crm.product_cycles") == [
        (300, 5, 20.0)
    ]
    order(wh, 300, 6, T - 14 * D, [300])  # ... and have not seen this order yet
    figures, due = run(wh, "replenishment", T)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T - D)]  # 20-day learnt cycle minus 7 days
    context = json.loads(due[0]["context"])
    assert (context["timing"], context["cycle_learnt"]) == ("product_learnt", True)


def test_replenishment_reminds_of_the_lines_last_order_and_of_orders_newer_than_the_scores(wh):
    insert(wh, "crm.products", [product(301, "Briz filter mini", 3, 700.0, consumable_days=30)])
    insert(wh, "crm.customers", [customer(1), customer(2)])
    order(wh, 10, 1, T - 25 * D, [300])  # due at T - 2 days, but the line was restocked the next day ...
    order(wh, 11, 1, T - 24 * D, [301])  # ... with this one, the line's last order: due at T - 1 day
    _score(wh, T - D)
    # placed 24 days ago and loaded after the scores ran (a late row, or a status that changed since): the
    # scores have not seen it, so the product's own cycle times it
    order(wh, 12, 2, T - 24 * D, [300], loaded_at=T - 2 * H)
    _, due = run(wh, "replenishment", T)
    contexts = sorted((json.loads(d["context"]) for d in due), key=lambda c: c["order_id"])
    assert [(c["order_id"], c["product_id"], c["timing"]) for c in contexts] == [
        (11, 301, "catalogue"),
        (12, 300, "product_catalogue"),
    ]
    assert steps(due) == [("email_1", T - D), ("email_1", T - D)]


def test_replenishment_times_its_first_message_from_the_customers_expected_line_purchase(wh):
    insert(wh, "crm.customers", [customer(1)])
    for n, days_ago in enumerate((40, 25, 10)):  # the filter every 15 days; the catalogue says 30
        order(wh, 10 + n, 1, T - days_ago * D, [300])
    report = _score(wh, T - D)
    assert report.consumable_lines == 1
    # the customer's cycle: their two 15-day gaps and four of the line's 30 days, averaged: 25 days after the
    # last filter, so the first message goes 7 days before, at T + 8 days (the catalogue alone: T + 13)
    expected = query(wh, "SELECT cycle_days, basis, next_purchase_date FROM crm.customer_line_next_orders")
    assert expected == [(25.0, "customer", (T + 15 * D).date())]
    figures, due = run(wh, "replenishment", T + 8 * D - H)
    assert figures.entered == 0
    figures, due = run(wh, "replenishment", T + 8 * D + H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 8 * D)]
    context = json.loads(due[0]["context"])
    assert (context["timing"], context["cycle_days"], context["cycle_learnt"]) == ("customer", 25.0, True)
    assert context["line"] == "category 3"
    assert context["expected_purchase_at"].startswith((T + 15 * D).date().isoformat())


def test_a_reminder_the_next_scores_move_back_past_the_last_run_still_enters_once(wh):
    insert(wh, "crm.customers", [customer(1)])
    for n, days_ago in enumerate((40, 25, 10)):
        order(wh, 10 + n, 1, T - days_ago * D, [300])
    _score(wh, T - D)
    assert run(wh, "replenishment", T + 8 * D - H)[0].entered == 0  # due at T + 8 days: not yet
    # the next day's scores shorten the cycle by half a day: the reminder's moment, T + 7.5 days, now lies
    # before the window of the next run (its watermark minus the late grace)
    with wh.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE crm.customer_line_next_orders SET cycle_days = cycle_days - 0.5,"
            " next_purchase_date = next_purchase_date - INTERVAL '12 hours',"
            " next_purchase_at = next_purchase_at - INTERVAL '12 hours'"
        )
    figures, due = run(wh, "replenishment", T + 8 * D + H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 7 * D + 12 * H)]
    assert run(wh, "replenishment", T + 8 * D + 2 * H)[0].entered == 0  # once only


def test_replenishment_times_an_order_the_scores_have_not_seen_by_the_product_cycle(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    order(wh, 10, 1, T - 40 * D, [300])
    order(wh, 11, 1, T - 20 * D, [300])
    _score(wh, T - D)
    order(wh, 12, 2, T - 5 * H, [300])  # bought after the scores ran: the catalogue's 30 days apply
    _, due = run(wh, "replenishment", T + 23 * D)
    assert steps(due) == [("email_1", T - 5 * H + 23 * D)]
    assert json.loads(due[0]["context"])["timing"] == "product_catalogue"
    # customer 1's scored cycle: one 20-day gap and four of 30 days, 28 days after T - 20 days
    with_scores = query(wh, "SELECT customer_id, cycle_days FROM crm.customer_line_next_orders")
    assert with_scores == [(1, pytest.approx(28.0))]


def test_product_line_update_tells_owners_of_the_older_generation(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    order(wh, 10, 1, T - 100 * D, [100])
    order(wh, 11, 2, T - 100 * D, [400])
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE crm.products SET launched_at = DATE '2026-03-01' WHERE product_id = 101")
    figures, due = run(wh, "product_line_update", T)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T.replace(day=1, hour=0))]
    assert due[0]["instance_id"] == "product_line_update:1:line-Nova Phone-6"
    order(wh, 12, 1, T + H, [101])
    run(wh, "product_line_update", T + 2 * H)
    assert instances(wh, "product_line_update")[0][1:] == ("exited", "moved_to_post_purchase")


def test_post_purchase_restarts_on_a_newer_order(wh):
    insert(wh, "crm.customers", [customer(1)])
    order(wh, 10, 1, T, [100])
    figures, due = run(wh, "post_purchase", T + H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T)]
    assert due[0]["message_kind"] == "service"
    decide(wh, due)
    order(wh, 11, 1, T + 2 * D, [200])
    figures, due = run(wh, "post_purchase", T + 2 * D + H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T + 2 * D)]
    assert instances(wh, "post_purchase") == [
        ("post_purchase:1:order-10", "exited", "restarted"),
        ("post_purchase:1:order-11", "active", None),
    ]


def test_second_purchase_has_a_separate_branch_after_a_return(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    order(wh, 10, 1, T - 61 * D, [100])
    order(wh, 11, 2, T - 10 * D, [100], status="returned", updated_at=T - H)
    insert(
        wh,
        "crm.customer_state",
        [
            state(1, T - 61 * D, T - 61 * D, orders_count=1, avg_check=1000.0),
            state(2, orders_count=0, returned=1),
        ],
    )
    figures, due = run(wh, "second_purchase", T)
    assert figures.entered == 2
    assert steps(due) == [("email_1", T - D)]  # the default 60-day interval; the return branch waits a day
    _, due = run(wh, "second_purchase", T + D)
    assert {(d["customer_id"], d["step_id"]) for d in due} == {(1, "email_1"), (2, "return_email_1")}
    order(wh, 12, 1, T + D + H, [200])
    run(wh, "second_purchase", T + D + 2 * H)
    assert instances(wh, "second_purchase") == [
        ("second_purchase:1:first-order", "exited", "purchased"),
        ("second_purchase:2:first-order", "active", None),
    ]


def test_second_purchase_waits_the_shops_interval_the_daily_scores_learnt(wh):
    buyers = range(1, 31)  # thirty customers came back 40 days after their first purchase: 30 gaps
    insert(wh, "crm.customers", [customer(c) for c in [*buyers, 31]])
    for c in buyers:
        order(wh, 100 + c, c, T - 100 * D, [100])
        order(wh, 200 + c, c, T - 60 * D, [200])
    order(wh, 300, 31, T - 40 * D, [100])
    insert(wh, "crm.customer_state", [state(31, T - 40 * D, T - 40 * D, orders_count=1, avg_check=1000.0)])
    assert run(wh, "second_purchase", T + H)[0].entered == 0  # no scores: the default 60 days
    report = _score(wh, T - D)
    assert report.purchase_interval == {"gaps": 30, "median_gap_days": 40.0}
    assert query(wh, "SELECT gaps, median_gap_days FROM crm.purchase_intervals") == [(30, 40.0)]
    figures, due = run(wh, "second_purchase", T + 2 * H)
    assert figures.entered == 1
    assert steps(due) == [("email_1", T)]
    assert json.loads(due[0]["context"])["interval_days"] == 40.0


def test_win_back_after_the_lapse_and_a_purchase_ends_it(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    insert(
        wh,
        "crm.customer_state",
        [
            state(1, T - 200 * D, T - 90 * D - H, orders_count=1, avg_check=5000.0),
            state(2, T - 200 * D, T - 30 * D - H, orders_count=4, avg_check=5000.0),
        ],
    )
    figures, due = run(wh, "win_back", T)
    assert figures.entered == 2
    assert {(d["customer_id"], d["step_id"], d["due_at"]) for d in due} == {
        (1, "email_1", T - H),
        (2, "email_1", T - H),
    }
    order(wh, 10, 1, T + H, [100])
    run(wh, "win_back", T + 2 * H)
    assert [i[2] for i in instances(wh, "win_back")] == ["purchased", None]


def test_birthday_a_week_before_and_on_the_day(wh):
    insert(
        wh, "crm.customers", [customer(1, birthday=date(1990, 3, 9)), customer(2, birthday=date(1990, 6, 1))]
    )
    figures, due = run(wh, "birthday", T)
    midnight = T.replace(hour=0)
    assert figures.entered == 1
    assert steps(due) == [("email_1", midnight)]
    assert due[0]["instance_id"] == "birthday:1:birthday-2026"
    decide(wh, due)
    _, due = run(wh, "birthday", T + 4 * D)
    assert steps(due) == [("push_1", midnight + 4 * D)]


def _birthday_reference(birthdays, since, as_of, days_before=7):
    """Who the birthday query must find in (since, as_of]: a trigger at each midnight in the window, for the
    customers whose birthday falls :days_before days later (29 February on 28 February in other years)."""
    found = set()
    midnight = datetime.combine(since.date(), datetime.min.time()) + D
    while midnight <= as_of:
        birthday_on = midnight.date() + timedelta(days=days_before)
        leap_day_too = (birthday_on.month, birthday_on.day) == (2, 28) and (
            birthday_on + timedelta(1)
        ).month == 3
        for customer_id, born in birthdays.items():
            if (born.month, born.day) == (birthday_on.month, birthday_on.day) or (
                leap_day_too and (born.month, born.day) == (2, 29)
            ):
                found.add((customer_id, f"birthday-{birthday_on.year}", midnight, birthday_on))
        midnight += D
    return found


def test_birthday_triggers_match_the_calendar_across_year_ends_and_leap_days(wh):
    """Each midnight of a window triggers the customers born on the matching day, hourly windows or longer,
    around a year's end and 29 February in leap and common years."""
    days = [(1, 1), (1, 2), (1, 6), (1, 7), (2, 27), (2, 28), (2, 29), (3, 1), (3, 7), (12, 25), (12, 31)]
    birthdays = {n: date(1988 + 4 * (n % 3), month, day) for n, (month, day) in enumerate(days, start=1)}
    birthdays[len(days) + 1] = date(1990, 2, 28)
    insert(wh, "crm.customers", [customer(c, birthday=b) for c, b in birthdays.items()] + [customer(99)])
    spans = [datetime(2026, 12, 17), datetime(2027, 2, 17), datetime(2028, 2, 17)]
    windows = [(start + k * 6 * H, start + (k + 1) * 6 * H) for start in spans for k in range(4 * 16)]
    windows += [
        (start + k * 3 * D + H / 2, start + (k + 1) * 3 * D + H / 2) for start in spans for k in range(5)
    ]
    total = 0
    for since, as_of in windows:
        with wh.begin() as conn:
            rows = {
                (r.customer_id, r.trigger_key, r.triggered_at, r.birthday_on)
                for r in wh.run(conn, "chains/birthday.sql", since=since, as_of=as_of, days_before=7)
            }
        assert rows == _birthday_reference(birthdays, since, as_of), (since, as_of)
        total += len(rows)
    assert total >= 30, total  # every span triggers several customers


def test_seasonal_picks_for_recent_buyers_when_an_occasion_starts(wh):
    insert(wh, "crm.customers", [customer(1), customer(2)])
    insert(
        wh,
        "crm.customer_state",
        [
            state(1, T - 30 * D, T - 30 * D, orders_count=1),
            state(2, T - 800 * D, T - 800 * D, orders_count=1),
        ],
    )
    figures, due = run(wh, "seasonal", T)
    assert figures.entered == 1  # 8 March campaign starts on 1 March; customer 2 bought too long ago
    assert due[0]["instance_id"] == "seasonal:1:season-womens_day-2026"
    assert due[0]["due_at"] == T.replace(day=1, hour=0)


def test_ecosystem_suggests_other_devices_of_the_brand(wh):
    insert(wh, "crm.customers", [customer(1)])
    order(wh, 10, 1, T - H, [100])
    figures, due = run(wh, "ecosystem", T)
    assert figures.entered == 1
    assert due == []
    _, due = run(wh, "ecosystem", T + 14 * D)
    assert steps(due) == [("email_1", T + 14 * D - H)]
    assert json.loads(due[0]["context"])["product_ids"] == [500]
    order(wh, 11, 1, T + 14 * D + H, [500])
    run(wh, "ecosystem", T + 14 * D + 2 * H)
    assert instances(wh, "ecosystem") == [("ecosystem:1:brand-Nova", "exited", "moved_to_post_purchase")]


def test_customers_without_consent_exit_with_a_reason(wh):
    insert(wh, "crm.customers", [customer(1, registered_at=T, email_consent=False, push_consent=False)])
    figures, due = run(wh, "welcome", T + H)
    assert (figures.entered, figures.exited, due) == (1, 1, [])
    assert instances(wh, "welcome") == [("welcome:1:welcome", "exited", "no_consent")]
