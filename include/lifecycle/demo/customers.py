"""Customers of one chunk: who they are (type, city, consent, devices) and their `shop` rows.

A customer's behaviour type is hidden from the tables; it only shapes the orders and events generated for
them, so that RFM, churn and LTV models have something real to learn. Consent opt-outs and push tokens that
stop working happen later in time and are written as a second, later version of the row (an entity feed:
the latest `updated_at` per id wins), so nothing is known before it happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lifecycle.demo.catalogue import Catalogue
from lifecycle.demo.columns import timestamps_or_null
from lifecycle.demo.geo import geography
from lifecycle.demo.people import draw_emails, draw_names, draw_phones
from lifecycle.demo.seasons import DAY, MINUTE, Period, TimeSampler, at_local_hours, lognormal_seconds
from lifecycle.demo.seasons import to_timestamps as ts

YEAR = 365 * DAY


@dataclass(frozen=True)
class CustomerType:
    """A behaviour type; rates are per year of the customer's active time."""

    name: str
    share: float
    registered_before: float  # share already registered when the history starts
    orders_per_year: float
    sessions_per_year: float
    promo_share: float  # orders paid with a promo code
    cancel_share: float
    return_share: float
    cart_share: float  # browsing sessions that put the viewed product in the cart


CUSTOMER_TYPES = (
    CustomerType("loyal", 0.08, 0.70, 5.0, 30.0, 0.06, 0.04, 0.03, 0.45),
    CustomerType("occasional", 0.22, 0.55, 1.2, 11.0, 0.08, 0.05, 0.04, 0.40),
    CustomerType("one_time", 0.20, 0.35, 1.0, 6.0, 0.12, 0.06, 0.08, 0.35),
    CustomerType("discount_hunter", 0.10, 0.50, 2.0, 16.0, 0.70, 0.10, 0.09, 0.50),
    CustomerType("churner", 0.15, 0.60, 2.5, 13.0, 0.08, 0.05, 0.05, 0.40),
    CustomerType("never_buyer", 0.25, 0.15, 0.0, 6.0, 0.00, 0.00, 0.00, 0.30),
)
TYPE_INDEX = {t.name: i for i, t in enumerate(CUSTOMER_TYPES)}


def type_column(field: str) -> np.ndarray:
    return np.array([getattr(t, field) for t in CUSTOMER_TYPES])


# How buyers split between the website/app and the stores: (share, chance an order is offline, web activity).
SHOPPING_STYLES = {"online": (0.75, 0.07, 1.0), "mixed": (0.13, 0.60, 0.5), "store_only": (0.12, 1.0, 0.0)}
APP_USER_SHARE = 0.45
ANDROID_SHARE = 0.70
EMAIL_MISSING, EMAIL_BROKEN, PHONE_MISSING, BIRTHDAY_MISSING = 0.03, 0.02, 0.10, 0.07
EMAIL_CONSENT, EMAIL_CONSENT_IN_STORE, PUSH_CONSENT, SMS_CONSENT = 0.86, 0.70, 0.72, 0.45
OPT_OUT_SHARE = 0.10  # of customers with any consent, who later withdraw one
TOKEN_DEACTIVATED_SHARE = 0.15
SIGNUP_SOURCES = ("web", "app", "store", "promo_landing")
PLATFORMS = ("ios", "android")
_MAX_ROW_LAG = 30 * MINUTE


@dataclass
class Customers:
    """Per-customer arrays of a chunk (index = position in the chunk) and its `shop` rows."""

    ids: np.ndarray
    kind: np.ndarray
    registered_at: np.ndarray
    active_from: np.ndarray
    active_to: np.ndarray
    loaded_at: np.ndarray
    utc_offset: np.ndarray
    city: np.ndarray
    app_platform: np.ndarray  # index into PLATFORMS, -1 without the app
    offline_share: np.ndarray
    web_activity: np.ndarray
    interests: np.ndarray  # (n, 2) leaf category indices
    email_ok: np.ndarray  # deliverable address and consent at registration
    push_ok: np.ndarray
    frames: dict[str, pd.DataFrame]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def active_years(self) -> np.ndarray:
        return (self.active_to - self.active_from) / YEAR


def generate_customers(
    first_id: int,
    count: int,
    period: Period,
    catalogue: Catalogue,
    registrations: TimeSampler,
    rng: np.random.Generator,
) -> Customers:
    geo = geography()
    kind = rng.choice(len(CUSTOMER_TYPES), size=count, p=type_column("share"))
    style = _shopping_style(rng, kind)
    offline_share, web_activity = (np.array([s[i] for s in SHOPPING_STYLES.values()])[style] for i in (1, 2))
    city = geo.sample_cities(rng, count)
    utc_offset = geo.utc_offset[city]
    app_platform = np.where(
        (web_activity > 0) & (rng.random(count) < APP_USER_SHARE),
        (rng.random(count) < ANDROID_SHARE).astype("int64"),
        -1,
    )
    source = _signup_source(rng, style, app_platform)
    registered_at = _registration_times(rng, kind, source == 2, utc_offset, period, registrations)
    active_from = np.maximum(registered_at, period.start)
    active_to = _churn_times(rng, kind, active_from, period)
    loaded_at = np.where(
        registered_at < period.start,
        period.start,
        registered_at + np.minimum(lognormal_seconds(rng, 40, 1.0, count), _MAX_ROW_LAG),
    )
    customers = Customers(
        ids=first_id + np.arange(count, dtype="int64"),
        kind=kind,
        registered_at=registered_at,
        active_from=active_from,
        active_to=active_to,
        loaded_at=loaded_at,
        utc_offset=utc_offset,
        city=city,
        app_platform=app_platform,
        offline_share=offline_share,
        web_activity=web_activity,
        interests=rng.choice(len(catalogue.interest_weights), size=(count, 2), p=catalogue.interest_weights),
        email_ok=np.zeros(count, bool),
        push_ok=np.zeros(count, bool),
        frames={},
    )
    base = _customer_rows(rng, customers, source, period)
    customers.email_ok = base["email_consent"].to_numpy(bool)
    customers.push_ok = base["push_consent"].to_numpy(bool)
    customers.frames = {
        "shop.customers": _with_opt_outs(rng, base, customers, period),
        "shop.push_tokens": _push_tokens(rng, customers, period),
    }
    return customers


def _shopping_style(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    shares = np.array([s[0] for s in SHOPPING_STYLES.values()])
    style = rng.choice(len(shares), size=len(kind), p=shares)
    return np.where(kind == TYPE_INDEX["never_buyer"], 0, style)  # people who never buy are seen online


def _signup_source(rng: np.random.Generator, style: np.ndarray, app_platform: np.ndarray) -> np.ndarray:
    roll = rng.random(len(style))
    web_or_promo = np.where(roll < 0.15, 3, 0)
    source = np.where((app_platform >= 0) & (roll < 0.6), 1, web_or_promo)
    return np.where(style == 2, 2, source)


def _registration_times(
    rng: np.random.Generator,
    kind: np.ndarray,
    in_store: np.ndarray,
    utc_offset: np.ndarray,
    period: Period,
    registrations: TimeSampler,
) -> np.ndarray:
    """Older customers registered up to four years before the history; new ones follow the seasons."""
    count = len(kind)
    before = rng.random(count) < type_column("registered_before")[kind]
    earlier = period.start - rng.integers(30 * DAY, 4 * YEAR, count)
    low, high = np.full(count, period.start), np.full(count, period.end - _MAX_ROW_LAG)
    during = registrations.sample(rng, low, high)
    online = at_local_hours(rng, during, utc_offset, "online", low, high)
    during = np.where(in_store, at_local_hours(rng, during, utc_offset, "store", low, high), online)
    return np.where(before, earlier, during)


def _churn_times(rng: np.random.Generator, kind: np.ndarray, active_from: np.ndarray, period: Period):
    """Churners stop all activity 20–70 % of the way through their time in the history."""
    stop = active_from + (rng.uniform(0.2, 0.7, len(kind)) * (period.end - active_from)).astype("int64")
    return np.where(kind == TYPE_INDEX["churner"], stop, period.end)


def _customer_rows(
    rng: np.random.Generator, customers: Customers, source: np.ndarray, period: Period
) -> pd.DataFrame:
    count = len(customers)
    geo = geography()
    is_female = rng.random(count) < 0.52
    first, last, first_latin, last_latin = draw_names(rng, is_female)
    email, deliverable = draw_emails(rng, first_latin, last_latin, customers.ids, EMAIL_MISSING, EMAIL_BROKEN)
    phone = draw_phones(rng, count, PHONE_MISSING)
    email_rate = np.where(source == 2, EMAIL_CONSENT_IN_STORE, EMAIL_CONSENT)
    consent = {
        "email": deliverable & (rng.random(count) < email_rate),
        "push": (customers.app_platform >= 0) & (rng.random(count) < PUSH_CONSENT),
        "sms": phone.notna().to_numpy() & (rng.random(count) < SMS_CONSENT),
    }
    gender = np.where(is_female, "female", "male").astype(object)
    gender[rng.random(count) < 0.03] = None
    frame = pd.DataFrame({
        "customer_id": customers.ids,
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "gender": gender,
        "birthday": _birthdays(rng, count, period),
        "city": geo.city[customers.city],
        "timezone": geo.timezone[customers.city],
        "registered_at": ts(customers.registered_at),
        "signup_source": np.array(SIGNUP_SOURCES, dtype=object)[source],
    })  # fmt: skip
    for channel, given in consent.items():
        frame[f"{channel}_consent"] = given
        frame[f"{channel}_consent_at"] = timestamps_or_null(customers.registered_at, given)
    frame["updated_at"] = ts(customers.registered_at)
    frame["loaded_at"] = ts(customers.loaded_at)
    return frame


def _birthdays(rng: np.random.Generator, count: int, period: Period) -> np.ndarray:
    age_days = (np.clip(rng.normal(36, 12, count), 18, 75) * 365.25).astype("int64")
    birthday = (period.end // DAY - age_days).astype("datetime64[D]").astype("datetime64[s]")
    birthday[rng.random(count) < BIRTHDAY_MISSING] = np.datetime64("NaT")
    return birthday


def _with_opt_outs(
    rng: np.random.Generator, base: pd.DataFrame, customers: Customers, period: Period
) -> pd.DataFrame:
    """Append a later version of the row for customers who withdraw one channel's consent."""
    channels = np.array(["email", "push", "sms"])
    given = base[[f"{c}_consent" for c in channels]].to_numpy(bool)
    # Prefer e-mail, then push, then SMS, among the channels the customer had agreed to.
    preference = np.where(given, rng.random(given.shape) * np.array([1.0, 0.6, 0.4]), -1.0)
    channel = preference.argmax(axis=1)
    moment = customers.active_from + rng.exponential(150 * DAY, len(customers)).astype("int64")
    loaded = moment + np.minimum(lognormal_seconds(rng, 60, 1.0, len(customers)), _MAX_ROW_LAG)
    chosen = given.any(axis=1) & (rng.random(len(customers)) < OPT_OUT_SHARE) & (loaded <= period.end)
    versions = base[chosen].copy()
    for position, name in enumerate(channels):
        withdraws = channel[chosen] == position
        versions.loc[withdraws, f"{name}_consent"] = False
        versions.loc[withdraws, f"{name}_consent_at"] = ts(moment[chosen][withdraws])
    versions["updated_at"] = ts(moment[chosen])
    versions["loaded_at"] = ts(loaded[chosen])
    return pd.concat([base, versions], ignore_index=True)


def random_hex(rng: np.random.Generator, count: int, length: int) -> np.ndarray:
    """Random lowercase hex strings without a Python loop (bytes mapped through a lookup table)."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = digits[rng.integers(0, 16, size=(count, length))]
    return np.ascontiguousarray(chars).view(f"S{length}").ravel().astype(str)


def _push_tokens(rng: np.random.Generator, customers: Customers, period: Period) -> pd.DataFrame:
    """One token per app user, created at sign-up; some stop working later (a second, inactive version)."""
    holders = np.flatnonzero(customers.app_platform >= 0)
    created = customers.registered_at[holders] + rng.integers(0, 10 * MINUTE, len(holders))
    loaded = np.maximum(created + lognormal_seconds(rng, 20, 1.0, len(holders)), customers.loaded_at[holders])
    keep = loaded <= period.end
    holders, created, loaded = holders[keep], created[keep], loaded[keep]
    platform = np.array(PLATFORMS, dtype=object)[customers.app_platform[holders]]
    token = platform + ":" + random_hex(rng, len(holders), 64).astype(object)
    frame = pd.DataFrame({
        "customer_id": customers.ids[holders], "token": token, "platform": platform,
        "created_at": ts(created), "is_active": True, "loaded_at": ts(loaded),
    })  # fmt: skip
    dropped = np.maximum(created, period.start) + rng.exponential(120 * DAY, len(holders)).astype("int64")
    dropped_loaded = dropped + lognormal_seconds(rng, 60, 1.0, len(holders))
    dies = (rng.random(len(holders)) < TOKEN_DEACTIVATED_SHARE) & (dropped_loaded <= period.end)
    inactive = frame[dies].assign(is_active=False, loaded_at=ts(dropped_loaded[dies]))
    return pd.concat([frame, inactive], ignore_index=True)
