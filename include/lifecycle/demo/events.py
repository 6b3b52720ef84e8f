"""Web and app events of one chunk: browsing sessions, research before a purchase, and checkout sessions.

A session is a fixed sequence of slots (app_open, category views, search, product views, wishlist, cart,
removal); each session draws how many events each slot holds, and the events are laid out with one
`np.repeat`. Browsing sessions never end in an order, so their carts are abandoned carts and their repeated
product views abandoned browses; checkout sessions end minutes before the order they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.demo.catalogue import Catalogue
from lifecycle.demo.columns import floats_or_null, ints_or_null, labels
from lifecycle.demo.customers import PLATFORMS as APP_PLATFORMS
from lifecycle.demo.customers import Customers, type_column
from lifecycle.demo.orders import Orders
from lifecycle.demo.seasons import HOUR, MINUTE, ShopCalendar, at_local_hours, lognormal_seconds
from lifecycle.demo.seasons import to_timestamps as ts

EVENT_TYPES = (
    "app_open", "view_category", "search", "view_product", "add_to_wishlist", "add_to_cart",
    "remove_from_cart",
)  # fmt: skip
APP_OPEN, VIEW_CATEGORY, SEARCH, VIEW_PRODUCT, WISHLIST, CART, REMOVE = range(len(EVENT_TYPES))
PLATFORMS = ("web", "mobile_web", *APP_PLATFORMS)
BROWSE, RESEARCH, CHECKOUT = range(3)
# Median seconds spent on each slot before the next event, and the spread of that time.
_DWELL = np.array([8, 25, 12, 45, 10, 20, 10], dtype="float64")
_DWELL_SIGMA = np.array([0.5, 0.7, 0.5, 0.9, 0.5, 0.6, 0.5])
_RESEARCH_SHARE = 0.45  # online orders preceded by an earlier visit to the same product
_REPEAT_FOCUS = 0.35  # a browsing session returns to the product of the customer's previous one
_APP_SESSION_SHARE = 0.65  # of an app user's sessions
_LATE_SHARE = 0.02  # events that reach the warehouse hours late (offline app queues, retried exports)


@dataclass
class _Sessions:
    customer: np.ndarray
    start: np.ndarray  # for checkout sessions: the order time, start is computed from the events
    kind: np.ndarray
    leaf: np.ndarray
    focus: np.ndarray
    order: np.ndarray  # the order of a checkout session, -1 otherwise


def generate_events(
    customers: Customers,
    orders: Orders,
    catalogue: Catalogue,
    calendar: ShopCalendar,
    rng: np.random.Generator,
    first_event_id: int,
    first_session_id: int,
) -> tuple[pd.DataFrame, int]:
    """Events of the chunk sorted by arrival, and how many sessions they used."""
    sessions = _concat([
        _browsing_sessions(rng, customers, catalogue, calendar),
        _research_sessions(rng, customers, orders),
        _checkout_sessions(orders),
    ])  # fmt: skip
    platform = _platforms(rng, customers.app_platform[sessions.customer])
    slots = _slot_counts(rng, sessions, platform, customers, orders, catalogue)
    frame = _layout(rng, sessions, platform, slots, customers, orders, catalogue, calendar)
    frame["session_id"] += first_session_id
    frame.insert(0, "event_id", first_event_id + np.arange(len(frame), dtype="int64"))
    return frame, len(sessions.customer)


def _concat(parts: list[_Sessions]) -> _Sessions:
    return _Sessions(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in _Sessions.__dataclass_fields__)
    )


def _browsing_sessions(
    rng: np.random.Generator, customers: Customers, catalogue: Catalogue, calendar: ShopCalendar
) -> _Sessions:
    rate = type_column("sessions_per_year")[customers.kind] * customers.web_activity
    counts = rng.poisson(rate * rng.lognormal(0, 0.6, len(customers)) * customers.active_years)
    who = np.repeat(np.arange(len(customers)), counts)
    low, high = customers.active_from[who], customers.active_to[who]
    start = calendar.shopping.sample(rng, low, high)
    start = at_local_hours(rng, start, customers.utc_offset[who], "online", low, high)
    order = np.lexsort((start, who))
    who, start = who[order], start[order]
    roll = rng.random(len(who))
    impulse = rng.choice(len(catalogue.impulse_weights), size=len(who), p=catalogue.impulse_weights)
    leaf = np.where(
        roll < 0.5, customers.interests[who, 0], np.where(roll < 0.75, customers.interests[who, 1], impulse)
    )
    focus = catalogue.viewable.choose(leaf, start, rng.random(len(who)))
    leaf, focus = _return_to_previous_focus(rng, who, leaf, focus)
    return _Sessions(who, start, np.full(len(who), BROWSE), leaf, focus, np.full(len(who), -1))


def _return_to_previous_focus(
    rng: np.random.Generator, who: np.ndarray, leaf: np.ndarray, focus: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Some sessions look at the same product as the customer's last one: views pile up on it over days."""
    repeat = rng.random(len(who)) < _REPEAT_FOCUS
    repeat[0:1] = False
    repeat[1:] &= who[1:] == who[:-1]
    source = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(who))))
    return leaf[source], focus[source]


def _research_sessions(rng: np.random.Generator, customers: Customers, orders: Orders) -> _Sessions:
    chosen = np.flatnonzero(orders.online & (rng.random(len(orders.customer)) < _RESEARCH_SHARE))
    who = orders.customer[chosen]
    before = (15 * MINUTE + rng.exponential(30 * HOUR, len(chosen))).astype("int64")
    start = np.maximum(orders.ordered_at[chosen] - before, customers.active_from[who])
    main = orders.item_product[orders.item_start[chosen]]
    return _Sessions(
        who, start, np.full(len(who), RESEARCH), orders.main_leaf[chosen], main, np.full(len(who), -1)
    )


def _checkout_sessions(orders: Orders) -> _Sessions:
    chosen = np.flatnonzero(orders.online)
    return _Sessions(
        orders.customer[chosen],
        orders.ordered_at[chosen],
        np.full(len(chosen), CHECKOUT),
        orders.main_leaf[chosen],
        orders.item_product[orders.item_start[chosen]],
        chosen,
    )


def _platforms(rng: np.random.Generator, app_platform: np.ndarray) -> np.ndarray:
    in_app = (app_platform >= 0) & (rng.random(len(app_platform)) < _APP_SESSION_SHARE)
    return np.where(in_app, 2 + app_platform, (rng.random(len(app_platform)) < 0.5).astype("int64"))


def _slot_counts(
    rng: np.random.Generator,
    sessions: _Sessions,
    platform: np.ndarray,
    customers: Customers,
    orders: Orders,
    catalogue: Catalogue,
) -> np.ndarray:
    """(sessions × event types) matrix: how many events of each type each session holds."""
    count = len(sessions.kind)
    browse, research, checkout = (sessions.kind == k for k in (BROWSE, RESEARCH, CHECKOUT))
    in_app = platform >= 2
    style = rng.random(count)
    app_only = browse & in_app & (style < 0.3)
    category_only = browse & ~app_only & (style > 0.85)
    products = ~(app_only | category_only)
    available = catalogue.in_stock_at(sessions.focus, sessions.start)
    cart_share = np.where(research, 0.3, type_column("cart_share")[customers.kind[sessions.customer]])
    roll = rng.random((count, 6))
    slots = np.zeros((count, len(EVENT_TYPES)), dtype="int64")
    slots[:, APP_OPEN] = in_app
    slots[:, VIEW_CATEGORY] = np.where(
        category_only,
        1 + rng.poisson(1.0, count),
        (roll[:, 0] < np.where(browse, 0.45, 0.3)) * (1 + (roll[:, 1] < 0.3)),
    )
    slots[:, SEARCH] = ~app_only & (roll[:, 2] < 0.25)
    slots[:, VIEW_PRODUCT] = products * (1 + rng.poisson(np.select([browse, research], [1.3, 1.2], 1.0)))
    slots[:, WISHLIST] = products & ~checkout & (roll[:, 3] < np.where(available, 0.05, 0.35))
    carts = products & ~checkout & available & (roll[:, 4] < cart_share)
    slots[:, CART] = np.where(checkout, _order_lines(orders, sessions.order), carts)
    slots[:, REMOVE] = carts & (roll[:, 5] < 0.18)
    return slots


def _order_lines(orders: Orders, order: np.ndarray) -> np.ndarray:
    lines = np.zeros(len(order), dtype="int64")
    lines[order >= 0] = orders.item_count[order[order >= 0]]
    return lines


def _layout(
    rng: np.random.Generator,
    sessions: _Sessions,
    platform: np.ndarray,
    slots: np.ndarray,
    customers: Customers,
    orders: Orders,
    catalogue: Catalogue,
    calendar: ShopCalendar,
) -> pd.DataFrame:
    """Expand the slot matrix into events: types, products, times, arrival and the columns of shop.events."""
    per_session = slots.sum(axis=1)
    session = np.repeat(np.arange(len(per_session)), per_session)
    event_type = np.repeat(np.tile(np.arange(slots.shape[1]), len(per_session)), slots.ravel())
    run_start = np.repeat(np.cumsum(slots.ravel()) - slots.ravel(), slots.ravel())
    rank = np.arange(len(session)) - run_start  # position within its (session, type) run
    dwell = np.maximum(1, rng.lognormal(np.log(_DWELL[event_type]), _DWELL_SIGMA[event_type])).astype("int64")
    moment = _event_moments(rng, sessions, session, dwell, customers, orders)
    product = _event_products(rng, sessions, session, event_type, rank, moment, orders, catalogue)
    has_product = product >= 0
    safe_product = np.maximum(product, 0)
    leaf = np.where(has_product, catalogue.leaf_of[safe_product], sessions.leaf[session])
    query = catalogue.search_query(sessions.leaf[session], rng.random(len(session)))
    is_view = np.isin(event_type, (VIEW_PRODUCT, VIEW_CATEGORY))
    has_category = has_product | (event_type == VIEW_CATEGORY)
    is_search = event_type == SEARCH
    loaded = _arrival(rng, moment, customers.loaded_at[sessions.customer[session]])
    keep = loaded <= calendar.period.end
    pick = np.flatnonzero(keep)[np.argsort(loaded[keep], kind="stable")]  # in order of arrival
    return pd.DataFrame({
        "customer_id": customers.ids[sessions.customer[session[pick]]],
        "session_id": session[pick].astype("int64"),
        "event_type": labels(event_type[pick], EVENT_TYPES),
        "product_id": ints_or_null(catalogue.product_id[safe_product[pick]], has_product[pick]),
        "category_id": ints_or_null(catalogue.leaf_category_id[leaf[pick]], has_category[pick]),
        "search_query": pd.Categorical.from_codes(np.where(is_search, query, -1)[pick], catalogue.queries),
        "price": floats_or_null(catalogue.price_at(safe_product[pick], moment[pick]), has_product[pick]),
        "duration_s": ints_or_null(dwell[pick], is_view[pick], "int32"),
        "platform": labels(platform[session[pick]], PLATFORMS),
        "ts": ts(moment[pick]),
        "loaded_at": ts(loaded[pick]),
    })  # fmt: skip


def _event_moments(
    rng: np.random.Generator,
    sessions: _Sessions,
    session: np.ndarray,
    dwell: np.ndarray,
    customers: Customers,
    orders: Orders,
) -> np.ndarray:
    """Events follow each other by their dwell times; a checkout session ends minutes before its order."""
    elapsed = np.cumsum(dwell) - dwell
    first = np.searchsorted(session, np.arange(len(sessions.kind)))
    first_elapsed = elapsed[np.minimum(first, len(elapsed) - 1)]
    offset = elapsed - first_elapsed[session]
    span = np.bincount(session, dwell, minlength=len(sessions.kind)).astype("int64")
    checkout = sessions.kind == CHECKOUT
    checkout_gap = rng.integers(30, 5 * MINUTE, len(sessions.kind))
    start = np.where(checkout, sessions.start - span - checkout_gap, sessions.start)
    start = np.maximum(start, customers.active_from[sessions.customer])
    moment = start[session] + offset
    order_time = np.where(checkout, sessions.start, np.iinfo("int64").max)
    return np.minimum(moment, order_time[session] - 5)


def _event_products(
    rng: np.random.Generator,
    sessions: _Sessions,
    session: np.ndarray,
    event_type: np.ndarray,
    rank: np.ndarray,
    moment: np.ndarray,
    orders: Orders,
    catalogue: Catalogue,
) -> np.ndarray:
    """Catalogue index per event (-1 = none): the focus product, alternatives to it, the order's lines."""
    focus = sessions.focus[session]
    alternative = catalogue.viewable.choose(sessions.leaf[session], moment, rng.random(len(session)))
    viewed = np.where((rank == 0) | (rng.random(len(session)) < _REPEAT_FOCUS), focus, alternative)
    order = sessions.order[session]
    carted = focus.copy()
    line = (order >= 0) & (event_type == CART)  # a checkout session carts its order's lines, one per event
    carted[line] = orders.item_product[orders.item_start[order[line]] + rank[line]]
    return np.select(
        [event_type == VIEW_PRODUCT, event_type == CART, np.isin(event_type, (WISHLIST, REMOVE))],
        [viewed, carted, focus],
        -1,
    )


def _arrival(rng: np.random.Generator, moment: np.ndarray, customer_loaded: np.ndarray) -> np.ndarray:
    """Seconds to minutes after the event, a few hours for a small share; never before the customer row."""
    lag = lognormal_seconds(rng, 15, 1.0, len(moment))
    late = rng.random(len(moment)) < _LATE_SHARE
    lag = np.where(late, rng.integers(HOUR, 12 * HOUR, len(moment)), lag)
    return np.maximum(moment + lag, customer_loaded)
