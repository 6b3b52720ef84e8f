"""The demo's communication map: include/chains with one holdout share for every chain, the rest unchanged."""

import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from local_env import PROJECT_DIR, write_demo_chains  # noqa: E402

from lifecycle.chains.config import load_chains  # noqa: E402

CHAINS = PROJECT_DIR / "include" / "chains"


def test_every_chain_of_the_demo_map_holds_out_the_given_share_and_nothing_else_changes(tmp_path):
    target = write_demo_chains(0.5, target=tmp_path / "demo-chains")

    shipped, demo = load_chains(CHAINS, check_templates=False), load_chains(target, check_templates=False)
    assert sorted(demo) == sorted(shipped)
    assert {chain.holdout_share for chain in demo.values()} == {0.5}
    for chain_id, chain in shipped.items():
        assert demo[chain_id].model_dump(exclude={"holdout_share"}) == chain.model_dump(
            exclude={"holdout_share"}
        )
        original = (CHAINS / f"{chain_id}.yaml").read_text(encoding="utf-8").splitlines()
        rewritten = (target / f"{chain_id}.yaml").read_text(encoding="utf-8").splitlines()
        changed = [(a, b) for a, b in zip(original, rewritten, strict=True) if a != b]
        assert len(changed) == 1, chain_id
        before, after = changed[0]
        assert after.startswith("holdout_share: 0.5  # the demo's share")
        assert after.endswith(f"include/chains: {before.split(':', 1)[1].strip()}")


def test_a_chain_file_without_a_top_level_holdout_share_is_named(tmp_path):
    source = tmp_path / "chains"
    source.mkdir()
    text = (CHAINS / "welcome.yaml").read_text(encoding="utf-8")
    (source / "welcome.yaml").write_text(
        text.replace("\nholdout_share:", "\n  holdout_share:"), encoding="utf-8"
    )

    with pytest.raises(SystemExit, match=r"welcome\.yaml: expected one top-level 'holdout_share:' line"):
        write_demo_chains(0.5, source=source, target=tmp_path / "demo-chains")
