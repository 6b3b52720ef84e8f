"""Named simulation scenarios: a chain map derived from the configured one and the customers' response.

The default scenario is the shop as configured: every chain of ``include/chains`` with the default uplifts of
:mod:`lifecycle.demo.response`. A week of it measures interval coverage well, but leaves two of the reports'
promises untested (docs/simulation.md, "The decisive scenario"): no experiment has a difference large enough
for its sample, and the fatiguing chain's true loss is about zero orders. The ``decisive`` scenario makes both
large on purpose, with only the chains that carry them:

* ``abandoned_browse``: its first email becomes a three-variant **bandit** (A +0.10, B +0.80, C 0), the only
  step kept;
* ``post_purchase``: its first email (the thank-you, a service email, so sent to every entrant with an
  address) becomes a two-variant **A/B test** (A +0.05, B +0.60), the only step kept;
* ``abandoned_cart`` **costs its customers orders**: every message of it (its first five steps, the emails
  and the push, one variant; not the final SMS, which has an uplift of its own) takes away the customer's
  next own order within the window with probability 1 × engagement (capped at 1); half of its entrants are
  held out so that the loss can be measured on a few days. Its steps are content and sale messages: a
  service message would reach the holdout too.

The response window is three days instead of seven, so that most induced and prevented orders fall inside
a run of a few days. The other chains are left out; entry queries, exits and templates are the configured
ones. A prevented order that would have triggered a post-purchase entry also takes that entry's message
(and its induced order) away: the reports measure such knock-on effects, ``sim.truth_chain`` does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from lifecycle.demo.response import ResponseConfig


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    response: ResponseConfig = field(default_factory=ResponseConfig)
    #: chain id -> top-level fields of its chain file to replace, with ``first_steps`` (how many of its steps
    #: to keep) and ``first_step`` (fields of its first step to replace). None: the configured map unchanged.
    chains: MappingProxyType[str, dict[str, Any]] | None = None

    def chain_map(self, folder: Path, source: Path | None = None) -> Path | None:
        """Write the scenario's chain files into ``folder`` (created) from the chain files in ``source``
        (the configured map by default); the folder, or None when the scenario uses the map unchanged."""
        if self.chains is None:
            return None
        from lifecycle.chains.config import CHAINS_DIR

        source = Path(source or CHAINS_DIR)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for chain_id, changes in self.chains.items():
            path = source / f"{chain_id}.yaml"
            if not path.exists():
                raise ValueError(f"scenario {self.name!r}: there is no chain file {path}")
            chain = yaml.safe_load(path.read_text(encoding="utf-8"))
            changes = dict(changes)
            keep = changes.pop("first_steps", None)
            first_step = changes.pop("first_step", {})
            chain |= changes
            if keep is not None:
                chain["steps"] = chain["steps"][:keep]
            chain["steps"][0] = {**chain["steps"][0], **first_step}
            (folder / path.name).write_text(yaml.safe_dump(chain, allow_unicode=True), encoding="utf-8")
        return folder


DEFAULT = Scenario("default", "the configured chain map and the default uplifts")

DECISIVE = Scenario(
    "decisive",
    "an A/B test and a bandit with a large difference between variants, and a strongly fatiguing chain",
    response=ResponseConfig(
        uplift={"abandoned_cart": -1.0, "abandoned_browse": 0.1, "post_purchase": 0.05},
        variant_uplift={
            ("abandoned_browse", "A"): 0.1,
            ("abandoned_browse", "B"): 0.8,
            ("abandoned_browse", "C"): 0.0,
            ("post_purchase", "A"): 0.05,
            ("post_purchase", "B"): 0.6,
        },
        # Induced and prevented orders fall within three days of the message, so that most of them land
        # inside a short run.
        window_days=3,
    ),
    chains=MappingProxyType(
        {
            # the fatiguing chain: every message of the cart chain may cost the customer's next own order
            "abandoned_cart": {
                "first_steps": 5,
                "holdout_share": 0.5,
                "first_step": {"variants": [{"id": "A", "weight": 1.0}], "bandit": False},
            },
            # the bandit
            "abandoned_browse": {
                "first_steps": 1,
                "holdout_share": 0.05,
                # outranks the day of a content mailing (policy: content_mailing_day.outranking_priority)
                "priority": 85,
                "first_step": {
                    "variants": [
                        {"id": "A", "weight": 0.34},
                        {"id": "B", "weight": 0.33},
                        {"id": "C", "weight": 0.33},
                    ],
                    "bandit": True,
                    "fresh_for": "1d",
                },
            },
            # the A/B test (a service email: sent to every entrant with an address)
            "post_purchase": {
                "first_steps": 1,
                "holdout_share": 0.05,
                "first_step": {
                    "variants": [{"id": "A", "weight": 0.5}, {"id": "B", "weight": 0.5}],
                },
            },
        }
    ),
)

SCENARIOS: MappingProxyType[str, Scenario] = MappingProxyType({s.name: s for s in (DEFAULT, DECISIVE)})


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; a clear error naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: use one of {sorted(SCENARIOS)}") from None
