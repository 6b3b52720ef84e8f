"""How the demo shop's customers answer the messages they get (the response model of the simulation).

A delivered message is opened and clicked with probabilities that depend on the channel, the chain and the
customer's engagement; it changes the customer's purchase probability over the following days by a known
uplift per chain and variant; emails bounce for a few bad addresses and unsubscribes grow with how many
messages the customer got in the last week.

**The uplift.** ``uplift(chain, variant)`` is the absolute change of the probability that the customer buys
within ``window_days`` of a delivered message, for a customer of average engagement (the customer's
engagement multiplies it). Positive: with that probability the message *causes* one extra order (the trigger
product when the message is about one, else a product of the catalogue). Negative: with that probability the
customer's next own order in the window does not happen (a fatiguing chain). The customer's own orders (those
they would have made without any message) are drawn beforehand by the demo generator, so every induced or
prevented order is known exactly: that is the ground truth the simulation writes to its own tables.

Everything here is plain numpy on arrays of delivered messages; the same seed, hour and messages give the
same draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

#: True uplift per chain for a customer of average engagement (absolute purchase probability within the
#: window after a delivered message). Zero: the chain changes nothing (service mails, generic picks);
#: negative: a chain that tires customers out.
DEFAULT_UPLIFT: MappingProxyType[str, float] = MappingProxyType(
    {
        "abandoned_browse": 0.03,
        "abandoned_cart": 0.08,
        "abandoned_category": 0.02,
        "back_in_stock": 0.12,
        "birthday": 0.05,
        "cross_sell": 0.03,
        "ecosystem": -0.04,
        "expensive_browse": 0.04,
        "post_purchase": 0.0,
        "price_drop": 0.15,
        "product_line_update": 0.06,
        "replenishment": 0.10,
        "seasonal": 0.0,
        "second_purchase": 0.04,
        "welcome": 0.05,
        "win_back": 0.03,
    }
)
#: Variants that differ from their chain's uplift: (chain, variant) -> uplift.
DEFAULT_VARIANT_UPLIFT: MappingProxyType[tuple[str, str], float] = MappingProxyType(
    {
        ("abandoned_cart", "B"): 0.12,
        ("abandoned_cart", "C"): 0.04,
        ("welcome", "B"): 0.08,
        ("replenishment", "B"): 0.05,
    }
)


@dataclass(frozen=True)
class ChannelRates:
    """Per delivered message of a customer of average engagement."""

    delivered: float
    open: float
    click_given_open: float


@dataclass(frozen=True)
class ResponseConfig:
    uplift: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_UPLIFT))
    variant_uplift: Mapping[tuple[str, str], float] = field(
        default_factory=lambda: dict(DEFAULT_VARIANT_UPLIFT)
    )
    #: Uplift of a chain missing from ``uplift``.
    default_uplift: float = 0.0
    #: Days after delivery over which an induced (or prevented) purchase falls.
    window_days: int = 7
    channels: Mapping[str, ChannelRates] = field(
        default_factory=lambda: {
            "email": ChannelRates(0.985, 0.32, 0.25),
            "push": ChannelRates(0.97, 0.09, 1.0),
            # An SMS is read but reports neither opens nor clicks (its link carries no tracking): it works
            # through the purchases it induces.
            "sms": ChannelRates(0.96, 0.0, 0.0),
        }
    )
    #: Chains whose messages are opened more (or less) than their channel's rate.
    open_factor: Mapping[str, float] = field(
        default_factory=lambda: {
            "post_purchase": 1.5,
            "back_in_stock": 1.4,
            "price_drop": 1.4,
            "seasonal": 0.7,
            "ecosystem": 0.8,
        }
    )
    #: Share of customers whose e-mail address hard-bounces.
    bad_address_share: float = 0.01
    #: Unsubscribe probability of a delivered email, times (1 + emails delivered to the customer in the
    #: seven days before): frequency tires customers out.
    unsubscribe_rate: float = 0.002
    #: Engagement is Gamma(shape, 1/shape): mean 1, heavier for small shapes.
    engagement_shape: float = 2.0

    def __post_init__(self) -> None:
        for chain, value in {
            **self.uplift,
            **{f"{c}/{v}": u for (c, v), u in self.variant_uplift.items()},
        }.items():
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"uplift of {chain} must be between -1 and 1, got {value}")
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")

    def uplift_of(self, chain_id: str, variant: str) -> float:
        if (chain_id, variant) in self.variant_uplift:
            return self.variant_uplift[(chain_id, variant)]
        return self.uplift.get(chain_id, self.default_uplift)


def customer_traits(seed: int, customer_ids: np.ndarray, config: ResponseConfig) -> dict[str, np.ndarray]:
    """Hidden per-customer traits, drawn from the customer id so any subset gives the same values:
    ``engagement`` (mean 1) and ``bad_address`` (the customer's e-mail bounces)."""
    ids = np.asarray(customer_ids, dtype=np.int64)
    engagement = np.empty(len(ids))
    bad = np.empty(len(ids), dtype=bool)
    for i, cid in enumerate(ids):
        rng = np.random.default_rng([seed, 7_001, int(cid)])
        engagement[i] = rng.gamma(config.engagement_shape, 1.0 / config.engagement_shape)
        bad[i] = rng.random() < config.bad_address_share
    return {"engagement": engagement, "bad_address": bad}


@dataclass
class Reactions:
    """Per message (same order as given): what the customer did. Delays are seconds after the send."""

    delivered: np.ndarray
    bounced: np.ndarray
    opened: np.ndarray
    clicked: np.ndarray
    unsubscribed: np.ndarray
    #: +1 an extra order, -1 the next own order is lost, 0 nothing.
    purchase_effect: np.ndarray
    uplift: np.ndarray
    delivered_after_s: np.ndarray
    opened_after_s: np.ndarray
    clicked_after_s: np.ndarray
    purchase_after_s: np.ndarray


def react(
    rng: np.random.Generator,
    config: ResponseConfig,
    channel: np.ndarray,
    chain_id: np.ndarray,
    variant: np.ndarray,
    engagement: np.ndarray,
    bad_address: np.ndarray,
    recent_emails: np.ndarray,
) -> Reactions:
    """Draw the reactions to a batch of sent messages (arrays of equal length)."""
    n = len(channel)
    rates = [config.channels[c] for c in channel]
    p_delivered = np.array([r.delivered for r in rates])
    p_open = np.array(
        [r.open * config.open_factor.get(ch, 1.0) for r, ch in zip(rates, chain_id, strict=True)]
    )
    p_click = np.array([r.click_given_open for r in rates])
    uplift = np.array([config.uplift_of(c, v) for c, v in zip(chain_id, variant, strict=True)])
    is_email = channel == "email"
    u = rng.random((n, 6))
    bounced = is_email & bad_address
    delivered = ~bounced & (u[:, 0] < p_delivered)
    opened = delivered & (u[:, 1] < np.clip(p_open * engagement, 0, 0.95))
    clicked = opened & (u[:, 2] < np.clip(p_click * np.sqrt(engagement), 0, 1))
    unsubscribed = delivered & is_email & (u[:, 3] < config.unsubscribe_rate * (1 + recent_emails))
    p_effect = np.clip(np.abs(uplift) * engagement, 0, 1)
    effect = np.where(delivered & (u[:, 4] < p_effect), np.sign(uplift), 0).astype(int)
    delays = rng.exponential([[30.0, 3 * 3600.0, 600.0]], size=(n, 3))
    window_s = config.window_days * 86_400.0
    return Reactions(
        delivered=delivered,
        bounced=bounced,
        opened=opened,
        clicked=clicked,
        unsubscribed=unsubscribed,
        purchase_effect=effect,
        uplift=uplift,
        delivered_after_s=1 + delays[:, 0],
        opened_after_s=1 + delays[:, 0] + delays[:, 1],
        clicked_after_s=1 + delays[:, 0] + delays[:, 1] + delays[:, 2],
        # Purchases lean early in the window: the first half holds three quarters of them.
        purchase_after_s=600 + (u[:, 5] ** 2) * (window_s - 1200),
    )
