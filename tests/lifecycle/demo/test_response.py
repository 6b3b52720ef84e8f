"""The response model: known uplift per chain and variant, rates by channel, bounces and unsubscribes."""

from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from lifecycle.chains.config import load_chains
from lifecycle.demo import DemoConfig, generate
from lifecycle.demo.response import (
    DEFAULT_STEP_UPLIFT,
    DEFAULT_UPLIFT,
    ResponseConfig,
    customer_traits,
    react,
)
from lifecycle.demo.scenario import SHOP_BIRTHDAY, catalogue_scenario
from lifecycle.ingest import ingest
from lifecycle.migrations import MIGRATION_SETS, migrate

N = 20_000


def draw(
    config: ResponseConfig, chain: str, variant: str = "A", channel: str = "email", recent: int = 0, seed=1
):
    return react(
        np.random.default_rng(seed),
        config,
        channel=np.array([channel] * N),
        chain_id=np.array([chain] * N),
        variant=np.array([variant] * N),
        engagement=np.ones(N),
        bad_address=np.zeros(N, dtype=bool),
        recent_emails=np.full(N, recent),
    )


def test_uplift_per_chain_and_variant_is_the_share_of_changed_purchases():
    config = ResponseConfig()
    for chain, variant in (("price_drop", "A"), ("abandoned_cart", "B"), ("abandoned_cart", "C")):
        reactions = draw(config, chain, variant)
        expected = config.uplift_of(chain, variant) * reactions.delivered.mean()
        assert reactions.purchase_effect.mean() == pytest.approx(expected, abs=0.01)
    assert config.uplift_of("abandoned_cart", "B") != config.uplift_of("abandoned_cart", "A")
    assert not draw(config, "post_purchase").purchase_effect.any()
    fatiguing = draw(config, "ecosystem").purchase_effect
    assert DEFAULT_UPLIFT["ecosystem"] < 0
    assert (fatiguing <= 0).all()
    assert (fatiguing < 0).any()


def test_every_step_with_its_own_holdout_has_its_own_known_uplift():
    """What a step holdout measures (its step lift) has a truth in the simulation to be compared with."""
    chains = load_chains(check_templates=False)
    with_holdout = {(c.id, s.id) for c in chains.values() for s in c.steps if s.holdout_share}
    assert ("abandoned_cart", "sms_1") in with_holdout
    assert set(DEFAULT_STEP_UPLIFT) == with_holdout
    config = ResponseConfig()
    assert (
        config.uplift_of("abandoned_cart", "A", "sms_1") == DEFAULT_STEP_UPLIFT[("abandoned_cart", "sms_1")]
    )
    assert config.uplift_of("abandoned_cart", "A", "email_4") == DEFAULT_UPLIFT["abandoned_cart"]


def test_channels_differ_and_clicks_follow_opens():
    config = ResponseConfig()
    email, push = draw(config, "welcome"), draw(config, "welcome", channel="push")
    assert email.opened.mean() == pytest.approx(0.32 * email.delivered.mean(), abs=0.02)
    assert push.opened.mean() < email.opened.mean() / 2
    for r in (email, push):
        assert not (r.clicked & ~r.opened).any()
        assert not (r.opened & ~r.delivered).any()
        assert (r.opened_after_s > r.delivered_after_s).all()
        assert (r.purchase_after_s < config.window_days * 86_400).all()
    assert not push.unsubscribed.any()


def test_the_open_and_click_probabilities_are_those_the_reactions_are_drawn_with():
    """Per message the probability it was opened (and clicked) with, bounces, engagement, the chain's open
    factor and the hour of arrival included: over many messages the drawn shares match their means."""
    config = ResponseConfig(hour_peak=2.0, hour_floor=0.5)
    rng = np.random.default_rng(3)
    engagement = rng.gamma(2.0, 0.5, N)
    reactions = react(
        np.random.default_rng(4),
        config,
        channel=np.array(["email"] * (N // 2) + ["push"] * (N // 2)),
        chain_id=np.array(["price_drop", "welcome"] * (N // 2)),
        variant=np.array(["A"] * N),
        engagement=engagement,
        bad_address=rng.random(N) < 0.05,
        recent_emails=np.zeros(N),
        send_hour=rng.uniform(0, 24, N),
        preferred_hour=rng.integers(0, 24, N),
    )
    assert (reactions.open_probability[reactions.bounced] == 0).all()
    assert (reactions.click_probability <= reactions.open_probability).all()
    for part in (slice(0, N // 2), slice(N // 2, N)):
        opened, p_open = reactions.opened[part], reactions.open_probability[part]
        assert opened.mean() == pytest.approx(p_open.mean(), abs=0.015)
        assert reactions.clicked[part].mean() == pytest.approx(
            reactions.click_probability[part].mean(), abs=0.015
        )
    # the messages arriving near the preferred hour have the larger probability, and are opened more
    near = reactions.hour_factor > 1.5
    far = reactions.hour_factor < 0.6
    assert reactions.open_probability[near].mean() > 2 * reactions.open_probability[far].mean()
    assert reactions.opened[near].mean() == pytest.approx(reactions.open_probability[near].mean(), abs=0.03)


def test_unsubscribes_grow_with_frequency_and_bad_addresses_bounce():
    config = ResponseConfig(unsubscribe_rate=0.01)
    rare, frequent = (
        draw(config, "welcome").unsubscribed.mean(),
        draw(config, "welcome", recent=5).unsubscribed.mean(),
    )
    assert frequent > 3 * rare
    bad = react(
        np.random.default_rng(3),
        config,
        channel=np.array(["email", "push"]),
        chain_id=np.array(["welcome", "welcome"]),
        variant=np.array(["A", "A"]),
        engagement=np.ones(2),
        bad_address=np.array([True, True]),
        recent_emails=np.zeros(2),
    )
    assert bad.bounced.tolist() == [True, False]
    assert not bad.delivered[0]


def test_same_seed_same_reactions_and_traits():
    config = ResponseConfig()
    a, b = draw(config, "birthday", seed=5), draw(config, "birthday", seed=5)
    assert (a.purchase_effect == b.purchase_effect).all()
    assert (a.opened_after_s == b.opened_after_s).all()
    ids = np.arange(1, 2001)
    traits = customer_traits(9, ids, config)
    assert traits["engagement"].mean() == pytest.approx(1.0, abs=0.06)
    # a customer's traits do not depend on who else is drawn
    assert customer_traits(9, ids[100:101], config)["engagement"][0] == traits["engagement"][100]


def test_bad_uplift_is_refused():
    with pytest.raises(ValueError, match="uplift of welcome"):
        ResponseConfig(uplift={"welcome": 1.5})


def test_scenario_gives_every_event_driven_chain_its_trigger(duckdb_warehouse):
    end = datetime(2026, 6, 30, 11)
    start = end - timedelta(days=10)
    generate(duckdb_warehouse, DemoConfig(customers=400, seed=3, end=end, days=400))
    migrate(duckdb_warehouse, MIGRATION_SETS)
    ingest(duckdb_warehouse, window_end=start, run_key="history", now=start)
    scenario = catalogue_scenario(duckdb_warehouse, start, end)
    drops = scenario.price_changes[scenario.price_changes["new_price"] < scenario.price_changes["old_price"]]
    assert len(drops) == 3
    assert (drops["new_price"] <= drops["old_price"] * 0.95).all()
    restocks = scenario.stock_changes[scenario.stock_changes["in_stock"]]
    sellouts = scenario.stock_changes[~scenario.stock_changes["in_stock"]]
    assert len(sellouts) == 2
    for frame in (scenario.price_changes, scenario.stock_changes):
        assert frame["changed_at"].between(start, end).all()
        assert (frame["loaded_at"] > frame["changed_at"]).all()
    (launch,) = scenario.products.to_dict("records")
    with duckdb_warehouse.begin() as conn:
        previous = conn.execute(
            sa.text("SELECT MAX(generation), MAX(product_id) FROM shop.products WHERE product_line = :l"),
            {"l": launch["product_line"]},
        ).one()
    assert launch["generation"] == previous[0] + 1
    assert launch["product_id"] > previous[1]
    assert start.date() < launch["launched_at"] <= end.date()
    assert launch["loaded_at"] > start
    with duckdb_warehouse.begin() as conn:
        in_stock = dict(conn.execute(sa.text("SELECT product_id, in_stock FROM crm.products")).all())
    assert all(in_stock[p] for p in drops["product_id"])
    assert all(in_stock[p] for p in sellouts["product_id"])
    assert launch["product_id"] in set(restocks["product_id"])
    # no occasion of the calendar starts between 20 June and 30 June: the shop's birthday is added
    assert scenario.occasion[0] == SHOP_BIRTHDAY[0]
    assert start < datetime(end.year, scenario.occasion[3], scenario.occasion[4]) < end
    assert (
        catalogue_scenario(duckdb_warehouse, datetime(2026, 11, 14), datetime(2026, 11, 28)).occasion is None
    )
