"""The simulation's scenarios: the decisive one derives a valid chain map from the configured files, with
the experiments and the fatiguing chain its response model names."""

import pytest

from lifecycle.chains.config import CHAINS_DIR, load_chains
from lifecycle.simulate.scenarios import DECISIVE, DEFAULT, scenario


def test_the_default_scenario_leaves_the_map_alone(tmp_path):
    assert DEFAULT.chain_map(tmp_path / "chains") is None
    assert not (tmp_path / "chains").exists()
    assert scenario("default") is DEFAULT


def test_the_decisive_map_has_an_ab_test_a_bandit_and_a_fatiguing_chain(tmp_path):
    folder = DECISIVE.chain_map(tmp_path / "chains")
    chains = load_chains(folder, check_templates=True)
    assert sorted(chains) == ["abandoned_browse", "abandoned_cart", "post_purchase"]
    response = DECISIVE.response
    experiments = {}
    for chain_id, chain in chains.items():
        configured = load_chains(CHAINS_DIR, check_templates=False)[chain_id]
        assert chain.entry == configured.entry  # the same entrants as the configured chain
        step = chain.steps[0]
        uplifts = {v.id: response.uplift_of(chain_id, v.id) for v in step.variants}
        if len(step.variants) > 1:
            experiments[chain_id] = (step.bandit, uplifts)
    # the bandit and the A/B test, each with one variant far better than the others
    assert experiments["abandoned_browse"][0]
    assert not experiments["post_purchase"][0]
    for _, uplifts in experiments.values():
        best, second = sorted(uplifts.values(), reverse=True)[:2]
        assert best - second >= 0.5
    # the fatiguing chain: a strongly negative uplift on every message, half of its entrants held out
    cart = chains["abandoned_cart"]
    assert [v.id for s in cart.steps for v in s.variants] == ["A"] * len(cart.steps)
    assert {response.uplift_of("abandoned_cart", "A", s.id) for s in cart.steps} == {-1.0}
    assert [s.channel for s in cart.steps] == ["email", "push", "email", "email", "email"]  # not the SMS
    assert cart.holdout_share == 0.5
    # its messages are content: a service message would go to the holdout too and measure nothing
    assert {s.kind for s in cart.steps} <= {"content", "sale"}


def test_an_unknown_scenario_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown scenario 'nope': use one of \\['decisive', 'default'\\]"):
        scenario("nope")
