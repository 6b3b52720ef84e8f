"""Values that must agree, within a chain file and with the contact policy: each disagreement is a warning
naming the file and the field; the shipped map has none. And the generated part of docs/chains.md is kept
in step with the chain files."""

import importlib.util
from datetime import time, timedelta

import pytest

from lifecycle.chains.check import check_chains, disagreeing_values, span
from lifecycle.chains.config import CHAINS_DIR, chain_ids, load_chain, load_chains
from lifecycle.policy.config import PolicyConfig, QuietHours

ROOT = CHAINS_DIR.parents[1]


def _chain(chain_id: str, **changes):
    chain = load_chain(CHAINS_DIR / f"{chain_id}.yaml", check_templates=False)
    return chain.model_copy(update=changes)


def _step(chain, no: int, **changes):
    steps = list(chain.steps)
    steps[no] = steps[no].model_copy(update=changes)
    return chain.model_copy(update={"steps": steps})


def _fields(chain, policy=None):
    return {f.field: f.message for f in disagreeing_values("chain.yaml", chain, policy or PolicyConfig())}


def test_the_shipped_map_has_no_disagreeing_values():
    for chain_id, chain in load_chains(check_templates=False).items():
        assert disagreeing_values(f"{chain_id}.yaml", chain, PolicyConfig()) == [], chain_id


def test_a_step_beyond_the_time_limit_is_never_sent():
    chain = _chain("win_back")
    exits = chain.exits.model_copy(update={"time_limit": timedelta(days=14)})
    chain = chain.model_copy(update={"exits": exits})
    found = _fields(chain)
    # email_4 at 14d, push_1 at 15d and sms_1 at 16d
    assert set(found) == {"steps.3.delay", "steps.4.delay", "steps.5.delay"}
    assert (
        "email_4 is due 14d after entry, but exits.time_limit ends every instance after 14d"
        in (found["steps.3.delay"])
    )


def test_max_touches_no_chain_can_reach_and_a_holdout_of_service_messages():
    chain = _chain("post_purchase")
    chain = chain.model_copy(
        update={"exits": chain.exits.model_copy(update={"max_touches": len(chain.steps)})}
    )
    assert "can never be reached" in _fields(chain)["exits.max_touches"]
    steps = [step.model_copy(update={"kind": "service"}) for step in chain.steps]
    service = chain.model_copy(update={"steps": steps, "holdout_share": 0.1})
    assert "never holds out" in _fields(service)["holdout_share"]


def test_variant_shares_must_add_up_and_a_bandit_needs_two_arms():
    chain = _chain("abandoned_cart")
    variants = [v.model_copy(update={"weight": 0.3}) for v in chain.steps[0].variants]
    found = _fields(_step(chain, 0, variants=variants))
    assert "add up to 0.9, not 1" in found["steps.0.variants"]
    found = _fields(_step(chain, 0, variants=variants[:1], bandit=True))
    assert "single variant" in found["steps.0.bandit"]
    # Whole-number weights are ratios, not shares: 2:1 needs no warning.
    ratios = [v.model_copy(update={"weight": w}) for v, w in zip(variants[:2], (2, 1), strict=True)]
    assert "steps.0.variants" not in _fields(_step(chain, 0, variants=ratios))


def test_quiet_hours_and_freshness_must_agree_with_the_policy():
    chain = _chain("abandoned_cart")
    found = _fields(_step(chain, 2, fresh_for=timedelta(hours=8)))
    message = found["steps.2.fresh_for"]
    assert "goes stale after 8h, less than the quiet hours (21:00–09:00, 12h)" in message
    assert "quiet_hours: drop" in message
    # A shorter night in the policy makes the same step fine.
    short_night = PolicyConfig(quiet_hours=QuietHours(start=time(23, 0), end=time(7, 0)))
    assert "steps.2.fresh_for" not in _fields(_step(chain, 2, fresh_for=timedelta(hours=8)), short_night)
    # Service messages ignore quiet hours, so dropping one at night says something the policy never does.
    found = _fields(_step(chain, 2, kind="service", quiet_hours="drop"))
    assert "service message" in found["steps.2.quiet_hours"]


def test_a_step_the_minimum_gap_always_keeps_back_until_stale():
    chain = _chain("abandoned_cart")  # push_1 is due 2h after email_1; min_gap is 4h
    found = _fields(_step(chain, 1, fresh_for=timedelta(hours=2)))
    assert (
        "push_1 is due 2h after email_1 and stale 2h later, within the policy's min_gap of 4h"
        in (found["steps.1.delay"])
    )
    assert "steps.1.delay" not in _fields(chain)  # 2h + 6h fresh is past the 4h gap


def test_span_writes_durations_as_chain_files_do():
    assert [span(timedelta(**kw)) for kw in ({"hours": 0}, {"days": 1, "hours": 6}, {"minutes": 30})] == [
        "0h",
        "1d6h",
        "30m",
    ]


def test_check_reports_disagreements_with_the_file(migrated, tmp_path):
    import shutil

    import yaml

    folder = tmp_path / "chains"
    shutil.copytree(CHAINS_DIR, folder)
    path = folder / "win_back.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["exits"]["time_limit"] = "10d"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    result = check_chains(migrated, folder, check_templates=False)

    assert result.problems == {}
    assert sorted(result.chains) == chain_ids()
    assert {(w.chain_id, w.file, w.field) for w in result.warnings} == {
        ("win_back", str(path), f"steps.{no}.delay") for no in (3, 4, 5)
    }


@pytest.fixture(scope="module")
def chains_doc():
    spec = importlib.util.spec_from_file_location("chains_doc", ROOT / "scripts" / "chains_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_chains_md_is_generated_from_the_chain_files(chains_doc, capsys):
    assert chains_doc.main(["--check"]) == 0, capsys.readouterr().out


def test_a_changed_chain_file_makes_the_page_stale_and_hand_written_parts_stay(chains_doc, tmp_path):
    page = chains_doc.DOC.read_text(encoding="utf-8")
    chains = load_chains(check_templates=False)
    policy = PolicyConfig()
    assert chains_doc.rendered(page, chains, policy) == page
    chains["win_back"] = chains["win_back"].model_copy(update={"reentry_days": 45})

    changed = chains_doc.rendered(page, chains, policy)

    assert changed != page
    assert "**Re-entry:** after 45 days. **Priority:** 55" in changed
    head, tail = page.split(chains_doc.BEGIN)[0], page.split(chains_doc.END)[1]
    assert changed.startswith(head)
    assert changed.endswith(tail)
    assert "## Fields of a chain file" in tail
    with pytest.raises(SystemExit, match="needs the lines"):
        chains_doc.rendered(page.replace(chains_doc.END, ""), chains, policy)


def test_a_send_time_holdout_without_timed_steps_and_a_timed_step_that_cannot_wait():
    chain = _chain("post_purchase", send_time_holdout=0.3)
    assert "no step has send_time: optimal" in _fields(chain)["send_time_holdout"]
    timed = _step(_chain("cross_sell"), 0, fresh_for=timedelta(hours=1))
    assert "no best hour can be waited for" in _fields(timed)["steps.0.send_time"]
    assert _fields(_chain("cross_sell")) == {}


def test_a_service_step_cannot_wait_for_the_best_hour(tmp_path):
    import yaml

    from lifecycle.errors import ConfigError

    chain = yaml.safe_load((CHAINS_DIR / "post_purchase.yaml").read_text(encoding="utf-8"))
    service = next(no for no, step in enumerate(chain["steps"]) if step.get("kind") == "service")
    chain["steps"][service]["send_time"] = "optimal"
    path = tmp_path / "post_purchase.yaml"
    path.write_text(yaml.safe_dump(chain, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_chain(path, check_templates=False)
    assert caught.value.field == f"steps.{service}.send_time"
    assert "service message" in str(caught.value)
