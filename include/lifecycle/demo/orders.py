"""Orders and order lines of one chunk of customers.

Orders come first and web sessions are built around them afterwards, so the orders of a shop are the same
whether or not its web events are generated (`--orders-only`). Each order is one row with the status the
warehouse knows at the end of the period: online orders land minutes after checkout, store orders in the
nightly 03:00 UTC batch, and an order cancelled or returned later is the row written at that later moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.demo.catalogue import Catalogue
from lifecycle.demo.columns import ints_or_null, labels, timestamps_or_null
from lifecycle.demo.customers import TYPE_INDEX, Customers, type_column
from lifecycle.demo.geo import geography
from lifecycle.demo.seasons import (
    DAY,
    HOUR,
    MINUTE,
    ShopCalendar,
    at_local_hours,
    lognormal_seconds,
    next_nightly_batch,
)
from lifecycle.demo.seasons import to_timestamps as ts

CHANNELS = ("online", "offline")
STATUSES = ("created", "paid", "shipped", "delivered", "completed", "cancelled", "returned")
PROMO_CODES = ("BLACKFRIDAY", "NEWYEAR", "WELCOME500", "SALE7")
_PROMO_PERCENT = np.array([0.15, 0.10, 0.0, 0.07])
_WELCOME_DISCOUNT = 500.0
_EXTRA_LINES_MEAN = 0.45
_MAX_LINES = 5
_STORE_RETURN_FACTOR = 0.5  # returns are rarer for goods tried in the store
_FOLLOWS_CONSUMABLE_CYCLE = 0.65  # device buyers who keep buying its consumable
_OWNS_CONSUMABLE_DEVICE = 0.12  # repeat buyers who already owned such a device before the history
_KEEPS_REPLENISHING = 0.85  # chance to buy the next refill after each one


@dataclass
class Orders:
    """Orders of a chunk as arrays (index = order) and the rows to write."""

    customer: np.ndarray  # index into the chunk's customers
    ordered_at: np.ndarray
    online: np.ndarray
    main_leaf: np.ndarray
    item_start: np.ndarray
    item_count: np.ndarray
    item_product: np.ndarray  # catalogue index per order line, lines of an order contiguous
    frames: dict[str, pd.DataFrame]


@dataclass
class _Draft:
    customer: np.ndarray
    moment: np.ndarray
    offline: np.ndarray
    main_leaf: np.ndarray
    line_order: np.ndarray  # per line: index of its order
    line_product: np.ndarray
    line_quantity: np.ndarray


def generate_orders(
    customers: Customers,
    catalogue: Catalogue,
    calendar: ShopCalendar,
    rng: np.random.Generator,
    first_order_id: int,
) -> Orders:
    regular = _regular_orders(rng, customers, catalogue, calendar)
    refills = _replenishment_orders(rng, customers, catalogue, calendar, regular)
    return _finish(rng, _merge([regular, refills]), customers, catalogue, calendar, first_order_id)


def _order_counts(rng: np.random.Generator, customers: Customers) -> np.ndarray:
    kind = customers.kind
    rate = type_column("orders_per_year")[kind] * rng.lognormal(0, 0.5, len(kind))
    expected = rate * customers.active_years
    counts = rng.poisson(expected)
    counts = np.where(kind == TYPE_INDEX["one_time"], customers.active_years * 365 > 1, counts)
    # A churner has a purchase history to lose: at least two orders before going quiet.
    return np.where(kind == TYPE_INDEX["churner"], 2 + rng.poisson(expected), counts).astype("int64")


def _order_moments(
    rng: np.random.Generator,
    customers: Customers,
    calendar: ShopCalendar,
    owner: np.ndarray,
    offline: np.ndarray,
) -> np.ndarray:
    """Seasonal order times in each customer's active window; one-timers buy soon after signing up."""
    low = customers.active_from[owner] + 2 * HOUR
    high = customers.active_to[owner]
    new_one_timer = (customers.kind[owner] == TYPE_INDEX["one_time"]) & (
        customers.registered_at[owner] >= calendar.period.start
    )
    high = np.where(new_one_timer, np.minimum(high, low + 60 * DAY), high)
    high = np.maximum(high, low)
    hunter = customers.kind[owner] == TYPE_INDEX["discount_hunter"]
    moment = np.where(hunter, calendar.sales.sample(rng, low, high), calendar.shopping.sample(rng, low, high))
    return _local_order_hours(rng, moment, customers.utc_offset[owner], offline, low, high)


def _local_order_hours(rng, moment, utc_offset, offline, low, high) -> np.ndarray:
    online_hours = at_local_hours(rng, moment, utc_offset, "online", low, high)
    store_hours = at_local_hours(rng, moment, utc_offset, "store", low, high)
    return np.where(offline, store_hours, online_hours)


def _regular_orders(
    rng: np.random.Generator, customers: Customers, catalogue: Catalogue, calendar: ShopCalendar
) -> _Draft:
    owner = np.repeat(np.arange(len(customers)), _order_counts(rng, customers))
    count = len(owner)
    offline = rng.random(count) < customers.offline_share[owner]
    moment = _order_moments(rng, customers, calendar, owner, offline)
    roll = rng.random(count)
    impulse = rng.choice(len(catalogue.impulse_weights), size=count, p=catalogue.impulse_weights)
    leaf = np.where(
        roll < 0.55,
        customers.interests[owner, 0],
        np.where(roll < 0.8, customers.interests[owner, 1], impulse),
    )
    main = catalogue.buyable.choose(leaf, moment, rng.random(count))
    lines = 1 + np.minimum(rng.poisson(_EXTRA_LINES_MEAN, count), _MAX_LINES - 1)
    line_order = np.repeat(np.arange(count), lines)
    product = _line_products(rng, catalogue, main, moment, line_order, lines)
    return _Draft(owner, moment, offline, leaf, line_order, product, _quantities(rng, catalogue, product))


def _line_products(
    rng: np.random.Generator,
    catalogue: Catalogue,
    main: np.ndarray,
    moment: np.ndarray,
    line_order: np.ndarray,
    lines: np.ndarray,
) -> np.ndarray:
    """The first line is the main product; the others are its accessories, or any accessory if it has none."""
    first_line = np.cumsum(lines) - lines
    is_first = np.zeros(len(line_order), bool)
    is_first[first_line] = True
    extra_of = main[line_order]
    accessory = catalogue.accessory_for(extra_of, rng.random(len(line_order)))
    leaf = rng.choice(
        len(catalogue.accessory_leaf_weights), size=len(line_order), p=catalogue.accessory_leaf_weights
    )
    anything = catalogue.buyable.choose(leaf, moment[line_order], rng.random(len(line_order)))
    return np.where(is_first, extra_of, np.where(accessory >= 0, accessory, anything))


def _quantities(rng: np.random.Generator, catalogue: Catalogue, product: np.ndarray) -> np.ndarray:
    roll = rng.random(len(product))
    small = np.isin(catalogue.leaf_category_id[catalogue.leaf_of[product]], (91, 92, 93, 96))
    return 1 + (catalogue.is_consumable[product] & (roll < 0.3)) + (small & (roll < 0.08))


def _replenishment_orders(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    calendar: ShopCalendar,
    regular: _Draft,
) -> _Draft:
    """Refills of consumables on roughly their cycle, for devices bought now or owned before the history."""
    owner, start, product = _consumable_series(rng, customers, catalogue, regular)
    cycle = catalogue.replenishment_days[product] * DAY * rng.lognormal(0, 0.15, len(owner))
    shortest = catalogue.replenishment_days[catalogue.is_consumable].min()
    steps = int(np.ceil(calendar.period.span / (0.6 * shortest * DAY))) + 1
    jitter = rng.lognormal(0, 0.12, (len(owner), steps))
    moments = start[:, None] + np.cumsum(cycle[:, None] * jitter, axis=1).astype("int64")
    keeps = np.arange(steps)[None, :] < rng.geometric(1 - _KEEPS_REPLENISHING, len(owner))[:, None]
    valid = keeps & (moments <= customers.active_to[owner][:, None])
    valid &= moments >= (customers.active_from[owner] + HOUR)[:, None]
    series = np.nonzero(valid)[0]
    who, moment = owner[series], moments[valid]
    offline = rng.random(len(who)) < customers.offline_share[who]
    low, high = customers.active_from[who] + HOUR, customers.active_to[who]
    moment = _local_order_hours(rng, moment, customers.utc_offset[who], offline, low, high)
    refill = product[series]
    return _Draft(
        who,
        moment,
        offline,
        catalogue.leaf_of[refill],
        np.arange(len(who)),
        refill,
        _quantities(rng, catalogue, refill),
    )


def _consumable_series(
    rng: np.random.Generator, customers: Customers, catalogue: Catalogue, regular: _Draft
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who follows a refill cycle, from when, for which consumable: devices bought in the history
    (the cycle starts at the purchase) and devices owned before it (the cycle is already running)."""
    repeat_buyer = ~np.isin(customers.kind, (TYPE_INDEX["one_time"], TYPE_INDEX["never_buyer"]))
    uses = catalogue.consumable_of[regular.line_product]
    device_line = np.flatnonzero(uses >= 0)
    device_owner = regular.customer[regular.line_order[device_line]]
    follows = repeat_buyer[device_owner] & (rng.random(len(device_line)) < _FOLLOWS_CONSUMABLE_CYCLE)
    device_line, device_owner = device_line[follows], device_owner[follows]
    owners = np.flatnonzero(repeat_buyer & (rng.random(len(customers)) < _OWNS_CONSUMABLE_DEVICE))
    consumables = np.flatnonzero(catalogue.is_consumable)
    owned = consumables[rng.integers(0, len(consumables), len(owners))]
    owned_start = customers.active_from[owners] - (
        rng.random(len(owners)) * catalogue.replenishment_days[owned] * DAY
    ).astype("int64")
    owner = np.concatenate([device_owner, owners])
    start = np.concatenate([regular.moment[regular.line_order[device_line]], owned_start])
    product = np.concatenate([uses[device_line], owned])
    # One cycle per customer and consumable: a second vacuum of the same model does not double the bags.
    earliest = np.lexsort((start, product, owner))
    pairs = np.stack([owner[earliest], product[earliest]], axis=1)
    first = (
        np.concatenate([[True], (pairs[1:] != pairs[:-1]).any(axis=1)]) if len(pairs) else np.array([], bool)
    )
    keep = earliest[first]
    return owner[keep], start[keep], product[keep]


def _merge(drafts: list[_Draft]) -> _Draft:
    offsets = np.cumsum([0] + [len(d.customer) for d in drafts[:-1]])
    return _Draft(
        customer=np.concatenate([d.customer for d in drafts]),
        moment=np.concatenate([d.moment for d in drafts]),
        offline=np.concatenate([d.offline for d in drafts]),
        main_leaf=np.concatenate([d.main_leaf for d in drafts]),
        line_order=np.concatenate([d.line_order + o for d, o in zip(drafts, offsets, strict=True)]),
        line_product=np.concatenate([d.line_product for d in drafts]),
        line_quantity=np.concatenate([d.line_quantity for d in drafts]),
    )


def _finish(
    rng: np.random.Generator,
    draft: _Draft,
    customers: Customers,
    catalogue: Catalogue,
    calendar: ShopCalendar,
    first_order_id: int,
) -> Orders:
    """Settle statuses as of the end, drop what has not landed yet, number by time, price and discount."""
    kind = customers.kind[draft.customer]
    status, delivered, updated, loaded = _statuses(
        rng, kind, draft.moment, draft.offline, calendar.period.end
    )
    order, line_order, lines = _landed_in_time_order(draft, loaded <= calendar.period.end)
    product, quantity = draft.line_product[lines], draft.line_quantity[lines]
    item_count = np.bincount(line_order, minlength=len(order))
    item_start = np.cumsum(item_count) - item_count
    owner, moment, offline = draft.customer[order], draft.moment[order], draft.offline[order]
    price = catalogue.price_at(product, moment[line_order])
    code = _promo_codes(rng, customers, calendar, owner, moment)
    first_line = np.arange(len(line_order)) == item_start[line_order]
    discount = _line_discounts(code[line_order], price * quantity, first_line)
    order_ids = first_order_id + np.arange(len(order), dtype="int64")
    line_total = price * quantity - discount
    frames = {
        "shop.orders": pd.DataFrame({
            "order_id": order_ids,
            "customer_id": customers.ids[owner],
            "channel": labels(offline, CHANNELS),
            "store_id": ints_or_null(geography().sample_stores(rng, customers.city[owner]), offline),
            "status": labels(status[order], STATUSES),
            "total_amount": np.bincount(line_order, line_total, minlength=len(order)),
            "discount_amount": np.bincount(line_order, discount, minlength=len(order)),
            "promo_code": labels(code, PROMO_CODES),
            "ordered_at": ts(moment),
            "delivered_at": timestamps_or_null(delivered[order], delivered[order] >= 0),
            "updated_at": ts(updated[order]),
            "loaded_at": ts(loaded[order]),
        }),
        "shop.order_items": pd.DataFrame({
            "order_id": order_ids[line_order],
            "line_no": (np.arange(len(line_order)) - item_start[line_order] + 1).astype("int32"),
            "product_id": catalogue.product_id[product],
            "quantity": quantity.astype("int32"),
            "price": price,
            "discount": discount,
            "loaded_at": ts(loaded[order][line_order]),
        }),
    }  # fmt: skip
    return Orders(owner, moment, ~offline, draft.main_leaf[order], item_start, item_count, product, frames)


def _landed_in_time_order(draft: _Draft, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept orders by time (draft indices); their lines grouped by order (new order index, draft index)."""
    order = np.flatnonzero(keep)[np.argsort(draft.moment[keep], kind="stable")]
    new_index = np.full(len(keep), -1)
    new_index[order] = np.arange(len(order))
    line_order = new_index[draft.line_order]
    lines = np.flatnonzero(line_order >= 0)
    lines = lines[np.argsort(line_order[lines], kind="stable")]
    return order, line_order[lines], lines


def _statuses(
    rng: np.random.Generator, kind: np.ndarray, moment: np.ndarray, offline: np.ndarray, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Status, delivered_at (-1 = none), updated_at and loaded_at of each order as known at `end`."""
    count = len(moment)
    lag = rng.integers(2 * MINUTE, 15 * MINUTE, count)
    paid = moment + rng.integers(MINUTE, 10 * MINUTE, count)
    shipped = moment + rng.integers(12 * HOUR, 48 * HOUR, count)
    delivered = np.where(
        offline, moment, shipped + np.minimum(lognormal_seconds(rng, 2 * DAY, 0.4, count), 9 * DAY)
    )
    cancelled_at = moment + np.clip(rng.exponential(6 * HOUR, count), 10 * MINUTE, 72 * HOUR).astype("int64")
    cancels = ~offline & (rng.random(count) < type_column("cancel_share")[kind]) & (cancelled_at + lag <= end)
    returned_at = delivered + rng.integers(DAY, 14 * DAY, count)
    return_landed = np.where(offline, next_nightly_batch(returned_at), returned_at + lag)
    return_share = type_column("return_share")[kind] * np.where(offline, _STORE_RETURN_FACTOR, 1.0)
    returns = ~cancels & (rng.random(count) < return_share) & (return_landed <= end)
    progress = np.select([offline, delivered <= end, shipped <= end, paid <= end], [4, 3, 2, 1], 0)
    status = np.where(cancels, 5, np.where(returns, 6, progress))
    updated = np.where(cancels, cancelled_at, np.where(returns, returned_at, moment))
    first_landing = np.where(offline, next_nightly_batch(moment), moment + lag)
    loaded = np.where(cancels, cancelled_at + lag, np.where(returns, return_landed, first_landing))
    delivered = np.where(cancels | (delivered > end), -1, delivered)
    return status, delivered, updated, loaded


def _promo_codes(
    rng: np.random.Generator,
    customers: Customers,
    calendar: ShopCalendar,
    owner: np.ndarray,
    moment: np.ndarray,
) -> np.ndarray:
    """Index into PROMO_CODES (-1 = none): sale codes in sales, a welcome code on a newcomer's first order."""
    first = np.zeros(len(owner), bool)
    first[np.unique(owner, return_index=True)[1]] = True
    newcomer_first = first & (customers.registered_at[owner] >= calendar.period.start)
    uses = rng.random(len(owner)) < type_column("promo_share")[customers.kind[owner]]
    uses |= newcomer_first & (rng.random(len(owner)) < 0.15)
    code = np.select(
        [calendar.in_sale("black_friday", moment), calendar.in_sale("new_year", moment), newcomer_first],
        [0, 1, 2],
        3,
    )
    return np.where(uses, code, -1)


def _line_discounts(code: np.ndarray, line_total: np.ndarray, first_line: np.ndarray) -> np.ndarray:
    percent = np.where(code >= 0, _PROMO_PERCENT[code], 0.0)
    welcome = (code == PROMO_CODES.index("WELCOME500")) & first_line
    fixed = np.where(welcome, np.minimum(_WELCOME_DISCOUNT, line_total / 2), 0.0)
    return np.round(line_total * percent) + fixed
