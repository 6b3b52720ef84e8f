"""The regular newsletter plan (shop.content_mailings) and the exported recipient lists of segment mailings.

About two mailings a week: a Tuesday content e-mail and a Friday e-mail or push that is a sale in sale weeks
and every other week. The plan is loaded days before each send and reaches a week past the end of the
history, so the contact policy can see tomorrow's newsletter today.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lifecycle.demo.catalogue import Catalogue
from lifecycle.demo.customers import TYPE_INDEX, Customers
from lifecycle.demo.seasons import DAY, HOUR, ShopCalendar
from lifecycle.demo.seasons import to_timestamps as ts

PLAN_HORIZON_DAYS = 7
_TUESDAY = 1
_CONTENT_TITLES = (
    "Новинки недели", "Как выбрать робот-пылесос", "5 идей для умного дома", "Гид по беспроводным наушникам",
    "Как продлить жизнь батареи смартфона", "Что подарить к празднику", "Обзор линейки Nova",
    "Лайфхаки для ноутбука", "Чистый воздух дома: гид по очистителям", "Когда менять фильтры и картриджи",
)  # fmt: skip
_SALE_TITLES = ("Скидки недели", "Распродажа аксессуаров", "Выгодные комплекты", "Только в приложении: −10 %")
_SEASON_TITLES = {"black_friday": "Чёрная пятница: скидки до 25 %", "new_year": "Новогодняя распродажа"}
_CONTENT_SEGMENTS = ("segment:gadget_fans", "segment:smart_home", "segment:new_customers")
_EXPORTED_SHARE = 0.9  # segment exports never hold every matching customer
_NO_RECIPIENTS = pd.DataFrame({"mailing_id": [], "customer_id": [], "loaded_at": []})


def build_mailings(calendar: ShopCalendar, rng: np.random.Generator) -> pd.DataFrame:
    period = calendar.period
    first_day = period.start // DAY * DAY
    first_tuesday = first_day + ((_TUESDAY - (first_day // DAY + 3) % 7) % 7) * DAY
    weeks = np.arange((period.span + PLAN_HORIZON_DAYS * DAY) // (7 * DAY) + 1)
    tuesday = first_tuesday + weeks * 7 * DAY + 7 * HOUR  # 10:00 Moscow time
    friday = tuesday + 3 * DAY + HOUR
    rows = [_tuesday_mailing(w, t, rng) for w, t in zip(weeks, tuesday, strict=True)]
    rows += [_friday_mailing(w, t, calendar, rng) for w, t in zip(weeks, friday, strict=True)]
    frame = pd.DataFrame(rows).sort_values("scheduled_at", kind="stable", ignore_index=True)
    frame = frame[
        (frame["scheduled_at"] >= period.start)
        & (frame["scheduled_at"] <= period.end + PLAN_HORIZON_DAYS * DAY)
    ]
    planned = frame["scheduled_at"].to_numpy() - rng.integers(3 * DAY, 7 * DAY, len(frame))
    frame.insert(0, "mailing_id", np.arange(1, len(frame) + 1, dtype="int64"))
    frame["scheduled_at"] = ts(frame["scheduled_at"].to_numpy())
    frame["loaded_at"] = ts(np.clip(planned, period.start, period.end))
    return frame.reset_index(drop=True)


def _tuesday_mailing(week: int, moment: int, rng: np.random.Generator) -> dict:
    audience = "all" if week % 3 else _CONTENT_SEGMENTS[week // 3 % len(_CONTENT_SEGMENTS)]
    title = _CONTENT_TITLES[rng.integers(len(_CONTENT_TITLES))]
    return _row(title, "email", "content", audience, moment)


def _friday_mailing(week: int, moment: int, calendar: ShopCalendar, rng: np.random.Generator) -> dict:
    season = next((n for n in _SEASON_TITLES if calendar.in_sale(n, np.array([moment]))[0]), None)
    kind = "sale" if season or week % 2 == 0 else "content"
    channel = "push" if week % 3 == 2 else "email"
    if season:
        title = _SEASON_TITLES[season]
    else:
        titles = _SALE_TITLES if kind == "sale" else _CONTENT_TITLES
        title = titles[rng.integers(len(titles))]
    segment = "segment:sale_lovers" if kind == "sale" else "segment:gadget_fans"
    audience = "all" if season or rng.random() < 0.6 else segment
    return _row(title, channel, kind, audience, moment)


def _row(name: str, channel: str, kind: str, audience: str, moment: int) -> dict:
    return {"name": name, "channel": channel, "kind": kind, "audience": audience, "scheduled_at": int(moment)}


def _segment_rules(catalogue: Catalogue) -> dict[str, Callable[[Customers, int], np.ndarray]]:
    """Who each segment holds, from what the shop knows about a customer when the list is exported."""
    leaf_ids = catalogue.leaf_category_id

    def interested_in(categories: tuple[int, ...]) -> Callable[[Customers, int], np.ndarray]:
        wanted = np.isin(leaf_ids, categories)
        return lambda c, _moment: wanted[c.interests].any(axis=1)

    return {
        "segment:gadget_fans": interested_in((1, 3, 4, 5)),
        "segment:smart_home": interested_in((61, 62, 63, 64, 71, 72)),
        "segment:new_customers": lambda c, moment: c.registered_at >= moment - 30 * DAY,
        "segment:sale_lovers": lambda c, _moment: c.kind == TYPE_INDEX["discount_hunter"],
    }


def mailing_recipients(
    mailings: pd.DataFrame, customers: Customers, catalogue: Catalogue, rng: np.random.Generator
) -> pd.DataFrame:
    """Explicit recipients of the segment mailings among this chunk's customers."""
    rules = _segment_rules(catalogue)
    plan = mailings[mailings["audience"].str.startswith("segment:")]
    exported_at = plan["loaded_at"].to_numpy().astype("datetime64[s]").astype("int64")
    parts = []
    # A few dozen segment mailings per year: the loop is over mailings, each vectorised over customers.
    for mailing_id, audience, channel, exported in zip(
        plan["mailing_id"], plan["audience"], plan["channel"], exported_at, strict=True
    ):
        reachable = customers.email_ok if channel == "email" else customers.push_ok
        chosen = rules[audience](customers, exported) & reachable & (customers.loaded_at <= exported)
        ids = customers.ids[chosen & (rng.random(len(customers)) < _EXPORTED_SHARE)]
        parts.append(pd.DataFrame({
            "mailing_id": np.full(len(ids), mailing_id, dtype="int64"),
            "customer_id": ids,
            "loaded_at": ts(np.full(len(ids), exported)),
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else _NO_RECIPIENTS.copy()
