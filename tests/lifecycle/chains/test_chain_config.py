"""The communication map loads, and every kind of mistake names the file, the field and the fix."""

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from lifecycle.chains.config import (
    CHAINS_DIR,
    chain_ids,
    load_chain,
    load_chains,
    template_paths,
)
from lifecycle.errors import ConfigError
from lifecycle.settings import parse_duration

CART = yaml.safe_load((CHAINS_DIR / "abandoned_cart.yaml").read_text(encoding="utf-8"))


def test_every_chain_of_the_brief_is_in_the_map():
    chains = load_chains(check_templates=False)
    assert sorted(chains) == chain_ids()
    assert set(chains) >= {
        "welcome", "abandoned_cart", "abandoned_browse", "expensive_browse", "abandoned_category",
        "back_in_stock", "price_drop", "cross_sell", "replenishment", "product_line_update", "post_purchase",
        "second_purchase", "win_back", "birthday", "seasonal", "ecosystem",
    }  # fmt: skip
    for chain in chains.values():
        assert chain.description
        assert chain.name.ru
        assert chain.name.en
        assert all(t.startswith(f"ru/{chain.id}/") for _, t in template_paths(chain))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("3d12h", timedelta(days=3, hours=12)),
        ("0h", timedelta(0)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "abandoned_cart.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _step(**changes):
    steps = [dict(s) for s in CART["steps"]]
    steps[0] |= changes
    return steps


@pytest.mark.parametrize(
    ("change", "field", "fix"),
    [
        ({"prority": 5}, "prority", "remove the field or correct its spelling"),
        ({"steps": _step(delay="2 hours")}, "steps.0.delay", "e.g. 2h, 1d, 3d12h"),
        ({"steps": _step(channel="fax")}, "steps.0.channel", "allowed values"),
        (
            {"steps": _step(segment_overrides={"4*1": {"skip": True}})},
            "steps.0.segment_overrides.4*1",
            "1-3 or *",
        ),
        (
            {"steps": _step(condition={"no_engagement_with": "email_9"})},
            "steps.0.condition.no_engagement_with",
            "name",
        ),
        ({"entry": {"sql": "chains/nowhere.sql"}}, "entry.sql", "create it"),
        (
            {"entry": {"sql": "chains/abandoned_cart.sql", "params": {"idle_hours": 2}}},
            "entry.params",
            "add them",
        ),
        ({"id": "other"}, "id", "set id: abandoned_cart"),
        ({"bound_to": "wallet"}, "bound_to", "allowed values"),
        # Values out of bounds: a share above 1, a step that is never fresh, weights and values that are
        # not finite numbers, an exit that ends every instance at once.
        ({"holdout_share": 1.5}, "holdout_share", "docs/chains.md"),
        ({"steps": _step(holdout_share=1.0)}, "steps.0.holdout_share", "docs/chains.md"),
        (
            {"steps": _step(kind="service", holdout_share=0.2)},
            "steps.0.holdout_share",
            "remove holdout_share",
        ),
        ({"steps": _step(fresh_for="0h")}, "steps.0.fresh_for", "docs/chains.md"),
        (
            {"steps": _step(variants=[{"id": "A", "weight": float("inf")}])},
            "steps.0.variants.0.weight",
            "docs",
        ),
        ({"typical_order_value": float("nan")}, "typical_order_value", "docs/chains.md"),
        ({"exits": {"time_limit": "0h"}}, "exits.time_limit", "docs/chains.md"),
        ({"reentry_days": -1}, "reentry_days", "docs/chains.md"),
    ],
)
def test_mistakes_name_the_file_field_and_fix(tmp_path, change, field, fix):
    path = _write(tmp_path, CART | change)
    with pytest.raises(ConfigError) as caught:
        load_chain(path, check_templates=False)
    assert (caught.value.file, caught.value.field) == (str(path), field)
    assert fix in caught.value.fix
    assert str(path) in str(caught.value)


def test_a_missing_template_fails_only_when_templates_are_checked(tmp_path, monkeypatch):
    path = _write(tmp_path, CART)
    load_chain(path, check_templates=False)
    monkeypatch.delenv("LIFECYCLE_CHECK_TEMPLATES", raising=False)
    monkeypatch.setattr("lifecycle.chains.config.TEMPLATES_DIR", tmp_path / "templates")
    with pytest.raises(ConfigError) as caught:
        load_chain(path)  # checked by default
    assert caught.value.field == "steps.0.template"
    assert "LIFECYCLE_CHECK_TEMPLATES=0" in caught.value.fix
    chain = load_chain(path, check_templates=False)
    for field, template in template_paths(chain):
        (tmp_path / "templates" / template).mkdir(parents=True)
        if chain.steps[int(field.split(".")[1])].channel == "sms":  # an SMS step's folder holds sms.txt
            (tmp_path / "templates" / template / "sms.txt").write_text("{{ promo.code }}", encoding="utf-8")
    assert load_chain(path).id == "abandoned_cart"


def test_an_exit_into_an_unknown_chain_is_refused(tmp_path):
    _write(tmp_path, CART | {"exits": {"entered_chain": ["nowhere"]}})
    with pytest.raises(ConfigError) as caught:
        load_chains(tmp_path, check_templates=False)
    assert caught.value.field == "exits.entered_chain"


def test_segment_overrides_match_in_file_order():
    chain = load_chain(CHAINS_DIR / "abandoned_cart.yaml", check_templates=False)
    final = chain.step("email_4")
    assert final.override_for("333")[1].template == "ru/abandoned_cart/email_4_no_discount"
    assert final.override_for("123")[1].offer == "strong"
    assert final.override_for("322") is None
    assert final.override_for(None) is None
    # the SMS after it reminds of that email's code: not sent to those whose email had none, and as strong
    sms = chain.step("sms_1")
    assert sms.override_for("333")[1].skip
    assert [sms.override_for(code)[1].offer for code in ("123", "213")] == ["strong", "strong"]
    assert sms.override_for("322") is None


@pytest.mark.parametrize(
    ("step_no", "change", "says"),
    [
        (5, {"template": "ru/win_back/email_4"}, "the step's channel is sms, but include/templates/"),
        (3, {"channel": "sms"}, "has no sms.txt"),
        (5, {"channel": "push"}, "is an SMS template (sms.txt)"),
    ],
)
def test_an_sms_step_names_an_sms_template(tmp_path, step_no, change, says):
    data = yaml.safe_load((CHAINS_DIR / "win_back.yaml").read_text(encoding="utf-8"))
    assert data["steps"][5]["id"] == "sms_1"
    data["steps"][step_no].update(change)
    path = tmp_path / "win_back.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_chain(path, check_templates=True)
    assert caught.value.field == f"steps.{step_no}.template"
    assert says in str(caught.value)
