"""Where customers live: Russian cities in all eleven time zones, weighted by population, and the stores.

Russia has had no daylight saving time since 2014, so a zone's UTC offset is fixed and local times can be
computed with plain arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from lifecycle.demo.seasons import HOUR

UTC_OFFSET_HOURS = {
    "Europe/Kaliningrad": 2,
    "Europe/Moscow": 3,
    "Europe/Samara": 4,
    "Asia/Yekaterinburg": 5,
    "Asia/Omsk": 6,
    "Asia/Novosibirsk": 7,
    "Asia/Krasnoyarsk": 7,
    "Asia/Irkutsk": 8,
    "Asia/Yakutsk": 9,
    "Asia/Vladivostok": 10,
    "Asia/Magadan": 11,
    "Asia/Kamchatka": 12,
}

# (city, IANA zone, population in thousands)
_CITIES = (
    ("Калининград", "Europe/Kaliningrad", 490), ("Советск", "Europe/Kaliningrad", 40),
    ("Москва", "Europe/Moscow", 13_100), ("Санкт-Петербург", "Europe/Moscow", 5_600),
    ("Казань", "Europe/Moscow", 1_300), ("Нижний Новгород", "Europe/Moscow", 1_200),
    ("Ростов-на-Дону", "Europe/Moscow", 1_140), ("Краснодар", "Europe/Moscow", 1_100),
    ("Воронеж", "Europe/Moscow", 1_050), ("Волгоград", "Europe/Moscow", 1_020),
    ("Ярославль", "Europe/Moscow", 570), ("Ставрополь", "Europe/Moscow", 550),
    ("Тула", "Europe/Moscow", 470), ("Мурманск", "Europe/Moscow", 270),
    ("Самара", "Europe/Samara", 1_160), ("Тольятти", "Europe/Samara", 680),
    ("Ижевск", "Europe/Samara", 620), ("Ульяновск", "Europe/Samara", 610),
    ("Екатеринбург", "Asia/Yekaterinburg", 1_540), ("Челябинск", "Asia/Yekaterinburg", 1_180),
    ("Уфа", "Asia/Yekaterinburg", 1_160), ("Пермь", "Asia/Yekaterinburg", 1_030),
    ("Тюмень", "Asia/Yekaterinburg", 850), ("Оренбург", "Asia/Yekaterinburg", 540),
    ("Сургут", "Asia/Yekaterinburg", 400),
    ("Омск", "Asia/Omsk", 1_100),
    ("Новосибирск", "Asia/Novosibirsk", 1_630),
    ("Красноярск", "Asia/Krasnoyarsk", 1_200), ("Норильск", "Asia/Krasnoyarsk", 180),
    ("Иркутск", "Asia/Irkutsk", 620), ("Улан-Удэ", "Asia/Irkutsk", 440), ("Братск", "Asia/Irkutsk", 220),
    ("Якутск", "Asia/Yakutsk", 370), ("Чита", "Asia/Yakutsk", 350), ("Благовещенск", "Asia/Yakutsk", 240),
    ("Хабаровск", "Asia/Vladivostok", 620), ("Владивосток", "Asia/Vladivostok", 600),
    ("Магадан", "Asia/Magadan", 90),
    ("Петропавловск-Камчатский", "Asia/Kamchatka", 160),
)  # fmt: skip

# Every zone gets at least this share of customers, so even a 1,000-customer demo has someone in each
# zone (the far-east zones are tiny by population but are where time-zone bugs show up).
MIN_ZONE_SHARE = 0.005
_FIRST_STORE_ID = 101
_THOUSANDS_PER_STORE = 500
_MAX_STORES_PER_CITY = 15


@dataclass(frozen=True)
class Geography:
    """Cities with their zones, offsets, customer weights and store ids (CSR: stores of city i)."""

    city: np.ndarray
    timezone: np.ndarray
    utc_offset: np.ndarray  # seconds
    weight: np.ndarray
    store_start: np.ndarray
    store_count: np.ndarray

    def sample_cities(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(len(self.city), size=size, p=self.weight)

    def sample_stores(self, rng: np.random.Generator, cities: np.ndarray) -> np.ndarray:
        """A store in each given city (customers shop offline where they live)."""
        pick = (rng.random(len(cities)) * self.store_count[cities]).astype("int64")
        return _FIRST_STORE_ID + self.store_start[cities] + pick


@cache
def geography() -> Geography:
    names, zones, population = zip(*_CITIES, strict=True)
    zones_arr = np.array(zones, dtype=object)
    weight = np.array(population, dtype="float64")
    weight /= weight.sum()
    for zone in UTC_OFFSET_HOURS:
        in_zone = zones_arr == zone
        if weight[in_zone].sum() < MIN_ZONE_SHARE:
            weight[in_zone] *= MIN_ZONE_SHARE / weight[in_zone].sum()
    stores = np.clip(np.array(population) // _THOUSANDS_PER_STORE, 1, _MAX_STORES_PER_CITY)
    return Geography(
        city=np.array(names, dtype=object),
        timezone=zones_arr,
        utc_offset=np.array([UTC_OFFSET_HOURS[z] * HOUR for z in zones], dtype="int64"),
        weight=weight / weight.sum(),
        store_start=np.cumsum(stores) - stores,
        store_count=stores,
    )
