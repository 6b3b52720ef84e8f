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

**A step of its own.** ``step_uplift`` gives one step of a chain (e.g. the win-back SMS) its own uplift
instead of the chain's: what its step holdout has to find (``lifecycle.reports.step_lift``).

**The hour of the day.** Every customer has a hidden preferred local hour (drawn from
``preferred_hour_weights``: most read their mail in the evening, some in the morning or at lunch). A message
is opened with the channel's probability times :func:`hour_factor` of the distance (around the clock) between
the local hour it arrives at and the preferred hour: ``hour_peak`` at that hour, falling to ``hour_floor``
far from it. An opened message is opened at the preferred hour (its next occurrence after delivery), except a
share ``prompt_open_share`` opened soon after delivery; its click follows the open. So a customer's opens
gather around their preferred hour whenever the messages were sent, and a message sent at that hour is opened
more often: what send-time optimisation has to learn and what its holdout measures.

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

#: Steps whose messages work differently from the rest of their chain: (chain, step) -> uplift. The win-back
#: SMS, a short reminder of the promo code to customers who did not open the last email, brings them back
#: more often than an email does. The abandoned cart's SMS reminds of the cart's code to customers who let
#: four messages pass: it still works, but less than the chain's emails did.
DEFAULT_STEP_UPLIFT: MappingProxyType[tuple[str, str], float] = MappingProxyType(
    {
        ("abandoned_cart", "sms_1"): 0.05,
        ("win_back", "sms_1"): 0.05,
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
    #: Steps with their own uplift (over the chain's and its variants'): (chain, step) -> uplift.
    step_uplift: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(DEFAULT_STEP_UPLIFT))
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
    #: Relative weights of the preferred local hours 0..23 across customers.
    preferred_hour_weights: tuple[float, ...] = (
        0, 0, 0, 0, 0, 0, 1, 3, 4, 3, 2, 2, 4, 3, 2, 2, 2, 3, 5, 7, 8, 6, 3, 1,
    )  # fmt: skip
    #: Open probability factor at the preferred hour, and far from it; the fall is Gaussian in the distance
    #: (hours around the clock) with this width. hour_peak = hour_floor = 1 switches the effect off.
    hour_peak: float = 1.5
    hour_floor: float = 0.6
    hour_width: float = 2.0
    #: Share of opens that happen soon after delivery instead of at the preferred hour.
    prompt_open_share: float = 0.2

    def __post_init__(self) -> None:
        for chain, value in {
            **self.uplift,
            **{f"{c}/{v}": u for (c, v), u in self.variant_uplift.items()},
            **{f"{c}.{s}": u for (c, s), u in self.step_uplift.items()},
        }.items():
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"uplift of {chain} must be between -1 and 1, got {value}")
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        weights = self.preferred_hour_weights
        if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("preferred_hour_weights needs 24 non-negative weights, not all 0")
        if not 0 <= self.hour_floor <= self.hour_peak:
            raise ValueError(f"need 0 <= hour_floor <= hour_peak, got {self.hour_floor}, {self.hour_peak}")
        if self.hour_width <= 0 or not 0 <= self.prompt_open_share <= 1:
            raise ValueError("hour_width must be positive and prompt_open_share between 0 and 1")

    def hour_factor(self, send_hour: np.ndarray, preferred_hour: np.ndarray) -> np.ndarray:
        """The open probability factor of messages arriving at local ``send_hour`` (fractional hours) for
        customers preferring ``preferred_hour``."""
        distance = circular_hours(send_hour, preferred_hour)
        return self.hour_floor + (self.hour_peak - self.hour_floor) * np.exp(
            -0.5 * (distance / self.hour_width) ** 2
        )

    def uplift_of(self, chain_id: str, variant: str, step_id: str | None = None) -> float:
        if step_id is not None and (chain_id, step_id) in self.step_uplift:
            return self.step_uplift[(chain_id, step_id)]
        if (chain_id, variant) in self.variant_uplift:
            return self.variant_uplift[(chain_id, variant)]
        return self.uplift.get(chain_id, self.default_uplift)


def circular_hours(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance in hours between two times of day, around the clock (0..12)."""
    gap = np.mod(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), 24.0)
    return np.minimum(gap, 24.0 - gap)


def customer_traits(seed: int, customer_ids: np.ndarray, config: ResponseConfig) -> dict[str, np.ndarray]:
    """Hidden per-customer traits, drawn from the customer id so any subset gives the same values:
    ``engagement`` (mean 1), ``bad_address`` (the customer's e-mail bounces) and ``preferred_hour`` (the
    local hour 0..23 at which they read their messages)."""
    ids = np.asarray(customer_ids, dtype=np.int64)
    engagement = np.empty(len(ids))
    bad = np.empty(len(ids), dtype=bool)
    preferred = np.empty(len(ids), dtype=np.int64)
    weights = np.asarray(config.preferred_hour_weights, dtype=float)
    weights = weights / weights.sum()
    for i, cid in enumerate(ids):
        rng = np.random.default_rng([seed, 7_001, int(cid)])
        engagement[i] = rng.gamma(config.engagement_shape, 1.0 / config.engagement_shape)
        bad[i] = rng.random() < config.bad_address_share
        preferred[i] = rng.choice(24, p=weights)
    return {"engagement": engagement, "bad_address": bad, "preferred_hour": preferred}


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
    #: The open probability factor of the arrival hour (1 when the hours were not given).
    hour_factor: np.ndarray
    #: The probability with which the message was opened (delivered and opened: what ``opened`` was drawn
    #: from), and clicked: the truth an open or click rate measured over these messages estimates.
    open_probability: np.ndarray
    click_probability: np.ndarray


def react(
    rng: np.random.Generator,
    config: ResponseConfig,
    channel: np.ndarray,
    chain_id: np.ndarray,
    variant: np.ndarray,
    engagement: np.ndarray,
    bad_address: np.ndarray,
    recent_emails: np.ndarray,
    send_hour: np.ndarray | None = None,
    preferred_hour: np.ndarray | None = None,
    step_id: np.ndarray | None = None,
) -> Reactions:
    """Draw the reactions to a batch of sent messages (arrays of equal length). ``send_hour`` (the local
    time of day of the send, fractional hours) and ``preferred_hour`` (the customers') switch the hour-of-day
    responsiveness on; ``step_id`` gives the steps of ``step_uplift`` their own uplift."""
    n = len(channel)
    rates = [config.channels[c] for c in channel]
    p_delivered = np.array([r.delivered for r in rates])
    p_open = np.array(
        [r.open * config.open_factor.get(ch, 1.0) for r, ch in zip(rates, chain_id, strict=True)]
    )
    p_click = np.array([r.click_given_open for r in rates])
    steps = [None] * n if step_id is None else list(step_id)
    uplift = np.array(
        [config.uplift_of(c, v, s) for c, v, s in zip(chain_id, variant, steps, strict=True)], dtype=float
    )
    is_email = channel == "email"
    u = rng.random((n, 6))
    timed = send_hour is not None and preferred_hour is not None
    factor = config.hour_factor(send_hour, preferred_hour) if timed else np.ones(n)
    bounced = is_email & bad_address
    p_opened = np.clip(p_open * engagement * factor, 0, 0.95)
    p_clicked = np.clip(p_click * np.sqrt(engagement), 0, 1)
    delivered = ~bounced & (u[:, 0] < p_delivered)
    opened = delivered & (u[:, 1] < p_opened)
    clicked = opened & (u[:, 2] < p_clicked)
    open_probability = np.where(bounced, 0.0, p_delivered * p_opened)
    unsubscribed = delivered & is_email & (u[:, 3] < config.unsubscribe_rate * (1 + recent_emails))
    p_effect = np.clip(np.abs(uplift) * engagement, 0, 1)
    effect = np.where(delivered & (u[:, 4] < p_effect), np.sign(uplift), 0).astype(int)
    delays = rng.exponential([[30.0, 3 * 3600.0, 600.0]], size=(n, 3))
    if timed:
        # Read at the preferred hour (a random minute of it) after delivery, or promptly by a share.
        arrival_h = np.asarray(send_hour, dtype=float) + (1 + delays[:, 0]) / 3600.0
        reading_h = np.asarray(preferred_hour, dtype=float) + rng.random(n)
        wait_s = np.mod(reading_h - arrival_h, 24.0) * 3600.0
        prompt = rng.random(n) < config.prompt_open_share
        delays[:, 1] = np.where(prompt, rng.exponential(1200.0, n), wait_s)
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
        hour_factor=factor,
        open_probability=open_probability,
        click_probability=open_probability * p_clicked,
    )
