"""The catalogue as tables and as fast lookups: price and stock at any moment, and weighted product choice.

The catalogue is small (a few hundred products), so it is built with plain loops; what the customer
generators need from it (a product for each of millions of rows, the price it had at that moment) is served
by `StepLookup` and `ProductChooser`, each a single `searchsorted` over all rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from lifecycle.demo import catalogue_spec as spec
from lifecycle.demo.people import transliterate
from lifecycle.demo.seasons import DAY, HOUR, MINUTE, MSK_OFFSET, DayCalendar, Period, to_timestamps

FIRST_PRODUCT_ID = 1001
SHOP_URL = "https://shop.example"
_TIME_SPAN = 2**33  # seconds; epoch times up to the year 2242 fit below it
_FAR_PAST = 0


@dataclass
class _Product:
    product_id: int
    name: str
    brand: str
    category: int
    base_price: int
    launch: int
    popularity: float
    line: str | None = None
    generation: int | None = None
    model: tuple[str, int] | None = None  # (line, generation) it belongs to or is made for
    replenishment_days: int | None = None


class StepLookup:
    """Per-product step functions of time (price, stock), read for many rows with one `searchsorted`."""

    def __init__(self, product: np.ndarray, moment: np.ndarray, value: np.ndarray):
        order = np.lexsort((moment, product))
        self.keys = product[order] * _TIME_SPAN + moment[order]
        self.values = value[order]

    def at(self, product: np.ndarray, moment: np.ndarray) -> np.ndarray:
        query = product * _TIME_SPAN + np.clip(moment, _FAR_PAST, _TIME_SPAN - 1)
        return self.values[np.searchsorted(self.keys, query, side="right") - 1]


class ProductChooser:
    """Weighted choice of a product within a category among those available at a moment.

    Availability changes only at a few moments (launches, stock changes), which split the period into
    epochs; every (epoch, category) pair gets its own cumulative distribution, all stored in one sorted
    array keyed by `group + cdf`, so choosing for millions of rows is one `searchsorted`.
    """

    def __init__(
        self,
        epoch_starts: np.ndarray,
        available: np.ndarray,
        leaf_of: np.ndarray,
        leaves: int,
        weight: np.ndarray,
        fallback: ProductChooser | None = None,
    ):
        self.epoch_starts, self.leaves, self.fallback = epoch_starts, leaves, fallback
        member = leaf_of[None, :] == np.arange(leaves)[:, None]
        weights = (available[:, None, :] * member[None, :, :] * weight).reshape(-1, len(leaf_of))
        totals = weights.sum(axis=1)
        self.empty = totals == 0
        if self.empty.any() and fallback is None:
            raise ValueError("a category has no product available at some moment")
        cdf = np.cumsum(weights, axis=1) / np.where(self.empty, 1.0, totals)[:, None]
        rows, cols = np.nonzero(weights > 0)
        self.keys = rows + cdf[rows, cols]
        self.products = cols

    def choose(self, leaf: np.ndarray, moment: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        epoch = np.maximum(np.searchsorted(self.epoch_starts, moment, side="right") - 1, 0)
        group = epoch * self.leaves + leaf
        chosen = self.products[
            np.minimum(np.searchsorted(self.keys, group + uniform, side="right"), len(self.keys) - 1)
        ]
        missing = self.empty[group]
        if missing.any():
            chosen[missing] = self.fallback.choose(leaf[missing], moment[missing], uniform[missing])
        return chosen


@dataclass
class Catalogue:
    """Catalogue tables for `shop` plus the arrays the behaviour generators index into."""

    tables: dict[str, pd.DataFrame]
    product_id: np.ndarray
    leaf_of: np.ndarray
    leaf_category_id: np.ndarray
    is_consumable: np.ndarray
    replenishment_days: np.ndarray  # 0 for durable goods
    consumable_of: np.ndarray  # the consumable a device uses, -1 if none
    accessory_start: np.ndarray
    accessory_count: np.ndarray
    accessory_flat: np.ndarray
    prices: StepLookup
    stock: StepLookup
    viewable: ProductChooser
    buyable: ProductChooser
    interest_weights: np.ndarray  # per leaf
    impulse_weights: np.ndarray
    accessory_leaf_weights: np.ndarray
    queries: np.ndarray
    query_start: np.ndarray
    query_count: np.ndarray

    def price_at(self, product: np.ndarray, moment: np.ndarray) -> np.ndarray:
        return self.prices.at(product, moment)

    def in_stock_at(self, product: np.ndarray, moment: np.ndarray) -> np.ndarray:
        return self.stock.at(product, moment).astype(bool)

    def accessory_for(self, product: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """A random accessory of each product, -1 where the product has none."""
        count = self.accessory_count[product]
        pick = self.accessory_start[product] + (uniform * count).astype("int64")
        return np.where(count > 0, self.accessory_flat[np.minimum(pick, len(self.accessory_flat) - 1)], -1)

    def search_query(self, leaf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Index into `queries` of a typical search for the category."""
        return self.query_start[leaf] + (uniform * self.query_count[leaf]).astype("int64")


def moscow_midnight(moment: int) -> int:
    return (moment + MSK_OFFSET) // DAY * DAY - MSK_OFFSET


def round_price(value: float) -> int:
    """Shop-style price: …90 roubles."""
    return max(90, int(value // 100) * 100 - 10)


def build_catalogue(period: Period, rng: np.random.Generator) -> Catalogue:
    products, links = _products(period)
    price_events = _price_events(products, period, rng)
    stock_events = _stock_events(products, period, rng)
    prices, price_rows = _price_timeline(products, price_events, period, rng)
    stock, stock_rows = _stock_timeline(products, stock_events, period, rng)
    return _assemble(period, products, links, prices, price_rows, stock, stock_rows)


def _products(period: Period) -> tuple[list[_Product], list[tuple[int, int]]]:
    """Devices, per-generation add-ons and generic accessories, with (device, accessory) links by index."""
    products: list[_Product] = []
    by_model: dict[tuple[str, int], list[int]] = {}
    by_line: dict[str, list[int]] = {}
    launches: dict[tuple[str, int], int] = {}

    def add(**fields) -> int:
        products.append(_Product(product_id=FIRST_PRODUCT_ID + len(products), **fields))
        return len(products) - 1

    for line in spec.LINES:
        newest = len(line.generations) - 1
        for rank, (generation, launch_fraction, price) in enumerate(line.generations):
            launch = moscow_midnight(period.at_fraction(launch_fraction))
            launches[line.name, generation] = launch
            for position, (label, delta) in enumerate(line.variants):
                index = add(
                    name=f"{line.kind} {line.name} {generation} {label}".strip(),
                    brand=line.brand,
                    category=line.category,
                    base_price=price + delta,
                    launch=launch,
                    popularity=line.popularity * 0.6 ** (newest - rank) * (1.0, 0.6, 0.3)[position],
                    line=line.name,
                    generation=generation,
                    model=(line.name, generation),
                )
                by_model.setdefault((line.name, generation), []).append(index)
                by_line.setdefault(line.name, []).append(index)
    brand_of = {line.name: line.brand for line in spec.LINES}
    links: list[tuple[int, int]] = []
    for add_on in spec.ADD_ONS:
        for line_name in add_on.lines:
            models = [m for m in by_model if m[0] == line_name]
            targets = models if add_on.per_generation else [min(models, key=launches.get)]
            for model in targets:
                index = add(
                    name=add_on.name.format(model=f"{model[0]} {model[1]}", line=line_name),
                    brand=brand_of[line_name],
                    category=add_on.category,
                    base_price=add_on.price,
                    launch=launches[model],
                    popularity=add_on.popularity,
                    model=model if add_on.per_generation else None,
                    replenishment_days=add_on.replenishment_days,
                )
                devices = by_model[model] if add_on.per_generation else by_line[line_name]
                links.extend((device, index) for device in devices)
    for generic in spec.GENERICS:
        index = add(
            name=generic.name,
            brand=generic.brand,
            category=generic.category,
            base_price=generic.price,
            launch=moscow_midnight(period.at_fraction(-2.0)),
            popularity=generic.popularity,
        )
        links.extend((device, index) for line_name in generic.lines for device in by_line[line_name])
    return products, links


def _successor_launches(products: list[_Product]) -> dict[tuple[str, int], list[int]]:
    """For each (line, generation): launch moments of the later generations, in order."""
    launch_of = {p.model: p.launch for p in products if p.line is not None}
    result: dict[tuple[str, int], list[int]] = {}
    for (line, generation), launch in launch_of.items():
        later = sorted(t for (other, _), t in launch_of.items() if other == line and t > launch)
        result[line, generation] = later
    return result


def _sale_windows(period: Period) -> list[tuple[str, int, int]]:
    """(key, start, end) of the shop-wide sales inside the period: Black Friday week and New Year."""
    cal = DayCalendar.of(period)
    starts = period.day_starts[:-1]
    windows = [
        ("black_friday", int(day) - 4 * DAY - MSK_OFFSET, int(day) + 4 * DAY - MSK_OFFSET)
        for day in starts[cal.black_friday()]
    ]
    first_year = datetime.fromtimestamp(period.start, UTC).year - 1
    for year in range(first_year, datetime.fromtimestamp(period.end, UTC).year + 1):
        begin = int(datetime(year, 12, 20, tzinfo=UTC).timestamp()) - MSK_OFFSET
        finish = int(datetime(year + 1, 1, 8, tzinfo=UTC).timestamp()) - MSK_OFFSET
        if finish > period.start and begin < period.end:
            windows.append(("new_year", begin, finish))
    return windows


def _random_night(rng: np.random.Generator, period: Period) -> int:
    """Midnight Moscow time of a random day of the period: when repricing runs."""
    return moscow_midnight(period.start + int(rng.integers(0, period.span)))


def _price_events(
    products: list[_Product], period: Period, rng: np.random.Generator
) -> list[list[tuple[int, str, float | None]]]:
    """Per product: (moment, factor key, factor or None to lift it) — markdowns, sales, one-off promos."""
    successors = _successor_launches(products)
    windows = _sale_windows(period)
    events: list[list[tuple[int, str, float | None]]] = []
    for product in products:
        own: list[tuple[int, str, float | None]] = []
        if product.model in successors and product.replenishment_days is None:
            for step, moment in enumerate(successors[product.model][:2]):
                own.append((moment, "markdown", (0.88, 0.78)[step]))
        for key, begin, finish in windows:
            share, low, high = (0.55, 0.75, 0.9) if key == "black_friday" else (0.3, 0.85, 0.95)
            if rng.random() < share and product.replenishment_days is None:
                own += [(begin, key, float(rng.uniform(low, high))), (finish, key, None)]
        if rng.random() < 0.25:
            moment = _random_night(rng, period)
            own.append((moment, "promo", float(rng.uniform(0.8, 0.95))))
            if rng.random() < 0.5:
                own.append((moment + int(rng.integers(7, 31)) * DAY, "promo", None))
        events.append(sorted(e for e in own if e[0] >= product.launch))
    return events


def _stock_events(
    products: list[_Product], period: Period, rng: np.random.Generator
) -> list[list[tuple[int, str]]]:
    """Per product: launch, sell-outs after a launch, random out-of-stock spells, discontinuation."""
    successors = _successor_launches(products)
    events: list[list[tuple[int, str]]] = []
    for product in products:
        own = [(product.launch, "launch")]
        later = successors.get(product.model, [])
        if len(later) >= 2 and product.replenishment_days is None:
            own.append((later[1] + 30 * DAY, "discontinue"))
        if product.launch > period.at_fraction(0.7) and rng.random() < 0.6:
            gone = product.launch + int(rng.integers(1, 5)) * DAY + int(rng.integers(6, 18)) * HOUR
            own += [(gone, "out"), (gone + int(rng.integers(5, 13)) * DAY, "in")]
        if rng.random() < 0.18:
            gone = period.start + int(rng.integers(0, period.span))
            own += [(gone, "out"), (gone + int(rng.integers(2, 22)) * DAY, "in")]
        events.append(sorted(own))
    return events


def _changed_rows_loaded(rng: np.random.Generator, moment: int, period: Period) -> int | None:
    """loaded_at of a catalogue change, or None when it falls outside the period or lands after its end."""
    loaded = moment + int(rng.integers(5, 41)) * MINUTE
    return loaded if period.start <= moment and loaded <= period.end else None


def _price_timeline(
    products: list[_Product],
    events: list[list[tuple[int, str, float | None]]],
    period: Period,
    rng: np.random.Generator,
) -> tuple[StepLookup, list[dict]]:
    """Apply each product's factor events in time order; changes inside the period become price_changes."""
    index, moments, values, rows = [], [], [], []
    for position, (product, own) in enumerate(zip(products, events, strict=True)):
        factors: dict[str, float] = {}
        price = product.base_price
        index.append(position), moments.append(_FAR_PAST), values.append(price)
        for moment, key, factor in own:
            if factor is None:
                factors.pop(key, None)
            else:
                factors[key] = factor
            total = float(np.prod(list(factors.values()))) if factors else 1.0
            new_price = product.base_price if total == 1.0 else round_price(product.base_price * total)
            if new_price == price:
                continue
            index.append(position), moments.append(moment), values.append(new_price)
            loaded = _changed_rows_loaded(rng, moment, period)
            if loaded is not None:
                rows.append(
                    {
                        "product_id": product.product_id,
                        "old_price": float(price),
                        "new_price": float(new_price),
                        "changed_at": moment,
                        "loaded_at": loaded,
                    }
                )
            price = new_price
    lookup = StepLookup(np.array(index), np.array(moments, dtype="int64"), np.array(values, dtype="float64"))
    return lookup, rows


def _stock_timeline(
    products: list[_Product], events: list[list[tuple[int, str]]], period: Period, rng: np.random.Generator
) -> tuple[StepLookup, list[dict]]:
    """In stock = launched, not discontinued, not sold out; flips inside the period become stock_changes."""
    index, moments, values, rows = [], [], [], []
    for position, (product, own) in enumerate(zip(products, events, strict=True)):
        launched = discontinued = out = False
        state = False
        index.append(position), moments.append(_FAR_PAST), values.append(0)
        for moment, kind in own:
            launched |= kind == "launch"
            discontinued |= kind == "discontinue"
            out = kind == "out" or (out and kind != "in")
            new_state = launched and not discontinued and not out
            if new_state == state:
                continue
            state = new_state
            index.append(position), moments.append(moment), values.append(int(state))
            loaded = _changed_rows_loaded(rng, moment, period)
            if loaded is not None:
                rows.append(
                    {
                        "product_id": product.product_id,
                        "in_stock": state,
                        "changed_at": moment,
                        "loaded_at": loaded,
                    }
                )
    lookup = StepLookup(np.array(index), np.array(moments, dtype="int64"), np.array(values, dtype="int8"))
    return lookup, rows


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", transliterate(name)).strip("-")


def _assemble(
    period: Period,
    products: list[_Product],
    links: list[tuple[int, int]],
    prices: StepLookup,
    price_rows: list[dict],
    stock: StepLookup,
    stock_rows: list[dict],
) -> Catalogue:
    leaf_ids = np.array(sorted({p.category for p in products}))
    leaf_of = np.searchsorted(leaf_ids, [p.category for p in products])
    count = len(products)
    positions = np.arange(count)
    start = np.full(count, period.start)
    tables = {
        "shop.categories": _categories_frame(period),
        "shop.products": _products_frame(
            products, prices.at(positions, start), stock.at(positions, start), period
        ),
        "shop.product_accessories": _accessories_frame(products, links, period),
        "shop.price_changes": _changes_frame(price_rows, ["product_id", "old_price", "new_price"]),
        "shop.stock_changes": _changes_frame(stock_rows, ["product_id", "in_stock"]),
    }
    launch = np.array([p.launch for p in products])
    view_epochs = np.unique(np.concatenate([[period.start], launch[launch > period.start]]))
    stock_moments = stock.keys % _TIME_SPAN
    buy_epochs = np.unique(np.concatenate([[period.start], stock_moments[stock_moments > period.start]]))
    weight = np.array([p.popularity for p in products])
    viewable = ProductChooser(
        view_epochs, launch[None, :] <= view_epochs[:, None], leaf_of, len(leaf_ids), weight
    )
    in_stock = stock.at(np.tile(positions, len(buy_epochs)), np.repeat(buy_epochs, count))
    buyable = ProductChooser(
        buy_epochs,
        in_stock.reshape(len(buy_epochs), count).astype(bool),
        leaf_of,
        len(leaf_ids),
        weight,
        fallback=viewable,
    )
    links_arr = np.array(sorted(links), dtype="int64").reshape(-1, 2)
    accessory_count = np.bincount(links_arr[:, 0], minlength=count)
    replenishment = np.array([p.replenishment_days or 0 for p in products])
    queries, query_start, query_count = _queries(leaf_ids)
    return Catalogue(
        tables=tables,
        product_id=np.array([p.product_id for p in products], dtype="int64"),
        leaf_of=leaf_of,
        leaf_category_id=leaf_ids,
        is_consumable=replenishment > 0,
        replenishment_days=replenishment,
        consumable_of=_consumable_of(links_arr, replenishment, count),
        accessory_start=np.cumsum(accessory_count) - accessory_count,
        accessory_count=accessory_count,
        accessory_flat=links_arr[:, 1],
        prices=prices,
        stock=stock,
        viewable=viewable,
        buyable=buyable,
        interest_weights=_leaf_weights(leaf_ids, spec.INTEREST_WEIGHTS),
        impulse_weights=_leaf_weights(leaf_ids, spec.IMPULSE_WEIGHTS),
        accessory_leaf_weights=_leaf_weights(leaf_ids, dict.fromkeys(spec.ACCESSORY_CATEGORIES, 1.0)),
        queries=queries,
        query_start=query_start,
        query_count=query_count,
    )


def _consumable_of(links: np.ndarray, replenishment: np.ndarray, count: int) -> np.ndarray:
    result = np.full(count, -1, dtype="int64")
    consumable_links = links[replenishment[links[:, 1]] > 0]
    result[consumable_links[::-1, 0]] = consumable_links[::-1, 1]  # the first link wins
    return result


def _leaf_weights(leaf_ids: np.ndarray, weights: dict[int, float]) -> np.ndarray:
    values = np.array([weights.get(int(leaf), 0.0) for leaf in leaf_ids])
    return values / values.sum()


def _queries(leaf_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    per_leaf = [spec.SEARCH_QUERIES[int(leaf)] for leaf in leaf_ids]
    counts = np.array([len(q) for q in per_leaf])
    flat = np.array([q for queries in per_leaf for q in queries], dtype=object)
    return flat, np.cumsum(counts) - counts, counts


def _categories_frame(period: Period) -> pd.DataFrame:
    frame = pd.DataFrame(spec.CATEGORIES, columns=["category_id", "parent_id", "name", "slug"])
    frame["parent_id"] = frame["parent_id"].astype("Int64")
    frame["loaded_at"] = to_timestamps(np.full(len(frame), period.start))
    return frame


def _products_frame(
    products: list[_Product], price: np.ndarray, in_stock: np.ndarray, period: Period
) -> pd.DataFrame:
    start = to_timestamps(np.full(len(products), period.start))
    launch_date = ((np.array([p.launch for p in products]) + MSK_OFFSET) // DAY).astype("datetime64[D]")
    return pd.DataFrame({
        "product_id": [p.product_id for p in products],
        "sku": [f"{p.brand[:3].upper()}-{p.category:03d}-{p.product_id}" for p in products],
        "name": [p.name for p in products],
        "brand": [p.brand for p in products],
        "category_id": [p.category for p in products],
        "product_line": [p.line for p in products],
        "generation": pd.array([p.generation for p in products], dtype="Int32"),
        "price": price,
        "in_stock": in_stock.astype(bool),
        "is_consumable": [p.replenishment_days is not None for p in products],
        "replenishment_days": pd.array([p.replenishment_days for p in products], dtype="Int32"),
        "launched_at": launch_date.astype("datetime64[s]"),
        "image_url": [f"{SHOP_URL}/images/products/{p.product_id}.jpg" for p in products],
        "url": [f"{SHOP_URL}/product/{_slug(p.name)}-{p.product_id}" for p in products],
        "updated_at": start,
        "loaded_at": start,
    })  # fmt: skip


def _accessories_frame(
    products: list[_Product], links: list[tuple[int, int]], period: Period
) -> pd.DataFrame:
    pairs = sorted(links)
    return pd.DataFrame({
        "product_id": [products[device].product_id for device, _ in pairs],
        "accessory_id": [products[accessory].product_id for _, accessory in pairs],
        "loaded_at": to_timestamps(np.full(len(pairs), period.start)),
    })  # fmt: skip


def _changes_frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*columns, "changed_at", "loaded_at"])
    frame = frame.sort_values(["loaded_at", "product_id"], kind="stable", ignore_index=True)
    for column in ("changed_at", "loaded_at"):
        frame[column] = to_timestamps(frame[column].to_numpy(dtype="int64"))
    return frame
