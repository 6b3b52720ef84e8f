"""What the demo electronics retailer sells: categories, product lines with generations, add-ons.

Pure data, no logic. Launch moments are fractions of the history period (negative = before it starts), so a
line always has an older generation on sale when the period starts and, for some lines, a new generation
launching late in the period: owners of generation N then exist when N+1 arrives ("product line update").
"""

from __future__ import annotations

from dataclasses import dataclass

# (category_id, parent_id, name, slug); leaf categories hold products.
CATEGORIES = (
    (1, None, "Смартфоны", "smartphones"),
    (2, None, "Ноутбуки", "laptops"),
    (3, None, "Планшеты", "tablets"),
    (4, None, "Умные часы и браслеты", "wearables"),
    (5, None, "Наушники", "headphones"),
    (6, None, "Умный дом", "smart-home"),
    (61, 6, "Умные колонки", "smart-speakers"),
    (62, 6, "Умные лампы и датчики", "smart-lighting"),
    (63, 6, "Очистители воздуха", "air-purifiers"),
    (64, 6, "Фильтры для воды", "water-filters"),
    (7, None, "Пылесосы", "vacuum-cleaners"),
    (71, 7, "Роботы-пылесосы", "robot-vacuums"),
    (72, 7, "Пылесосы с мешком", "bag-vacuums"),
    (8, None, "Принтеры", "printers"),
    (9, None, "Аксессуары", "accessories"),
    (91, 9, "Чехлы", "cases"),
    (92, 9, "Защитные стёкла", "screen-protectors"),
    (93, 9, "Зарядные устройства и кабели", "chargers"),
    (94, 9, "Ремешки", "straps"),
    (95, 9, "Сумки и рюкзаки", "bags"),
    (96, 9, "Внешние аккумуляторы", "power-banks"),
    (10, None, "Расходные материалы", "consumables"),
    (101, 10, "Мешки для пылесосов", "vacuum-bags"),
    (102, 10, "Фильтры для роботов-пылесосов", "vacuum-filters"),
    (103, 10, "Фильтры для очистителей воздуха", "purifier-filters"),
    (104, 10, "Картриджи для фильтров воды", "water-cartridges"),
    (105, 10, "Картриджи для принтеров", "printer-cartridges"),
)


@dataclass(frozen=True)
class Line:
    """A product line: one product per (generation, variant)."""

    category: int
    kind: str  # the noun shops put in front of the model name
    brand: str
    name: str
    generations: tuple[tuple[int, float, int], ...]  # (generation, launch fraction, base price RUB)
    variants: tuple[tuple[str, int], ...] = (("", 0),)  # (label, price delta RUB)
    popularity: float = 1.0


@dataclass(frozen=True)
class AddOn:
    """An accessory or consumable, made for each generation of some lines (or once per line)."""

    category: int
    name: str  # "{model}" = line + generation, "{line}" = line name
    price: int
    lines: tuple[str, ...]
    per_generation: bool = True
    replenishment_days: int | None = None
    popularity: float = 1.0


@dataclass(frozen=True)
class Generic:
    """An accessory that fits whole families of devices."""

    category: int
    brand: str
    name: str
    price: int
    lines: tuple[str, ...]
    popularity: float = 1.0


PHONES = ("Nova Phone", "Orion A", "Vega Pro")
TABLETS = ("Nova Pad", "Orion Tab")
LAPTOPS = ("Altair Book 14", "Sirius Laptop 15")
HEADPHONES = ("Volna Buds", "Volna Studio")

LINES = (
    Line(1, "Смартфон", "Nova", "Nova Phone",
         ((3, -1.6, 44_990), (4, -0.7, 52_990), (5, 0.35, 59_990), (6, 0.88, 69_990)),
         (("128 ГБ", 0), ("256 ГБ", 8_000), ("512 ГБ", 20_000)), 10),
    Line(1, "Смартфон", "Orion", "Orion A", ((12, -1.2, 15_990), (13, -0.3, 17_990), (14, 0.6, 19_990)),
         (("64 ГБ", 0), ("128 ГБ", 3_000)), 12),
    Line(1, "Смартфон", "Vega", "Vega Pro", ((1, -0.9, 89_990), (2, 0.5, 99_990)),
         (("256 ГБ", 0), ("512 ГБ", 15_000)), 3),
    Line(2, "Ноутбук", "Altair", "Altair Book 14", ((2, -1.0, 79_990), (3, 0.2, 89_990)),
         (("16/512 ГБ", 0), ("32/1024 ГБ", 30_000)), 4),
    Line(2, "Ноутбук", "Sirius", "Sirius Laptop 15", ((1, -0.8, 54_990), (2, 0.45, 59_990)),
         (("8/256 ГБ", 0), ("16/512 ГБ", 12_000)), 4),
    Line(3, "Планшет", "Nova", "Nova Pad", ((2, -1.0, 29_990), (3, 0.3, 34_990)),
         (("64 ГБ", 0), ("128 ГБ", 5_000)), 4),
    Line(3, "Планшет", "Orion", "Orion Tab", ((5, -0.6, 14_990), (6, 0.7, 16_990)), popularity=3),
    Line(4, "Умные часы", "Nova", "Nova Watch", ((3, -0.9, 19_990), (4, 0.25, 22_990)),
         (("41 мм", 0), ("45 мм", 2_000)), 5),
    Line(4, "Фитнес-браслет", "Orion", "Orion Band", ((7, -0.5, 3_490), (8, 0.55, 3_990)), popularity=6),
    Line(5, "Наушники", "Volna", "Volna Buds", ((2, -0.8, 7_990), (3, 0.15, 9_990), (4, 0.8, 11_990)),
         popularity=8),
    Line(5, "Наушники", "Volna", "Volna Studio", ((1, -1.0, 19_990), (2, 0.5, 24_990)), popularity=3),
    Line(61, "Умная колонка", "Sirius", "Sirius Station", ((2, -1.2, 12_990), (3, 0.4, 14_990)),
         (("Mini", -5_000), ("", 0)), 5),
    Line(62, "Умная лампа", "Luch", "Luch Lamp E27", ((1, -1.5, 1_290),), popularity=4),
    Line(62, "Датчик", "Luch", "Luch Sensor", ((2, -0.6, 1_490),), (("движения", 0), ("протечки", 200)), 3),
    Line(62, "Центр умного дома", "Luch", "Luch Hub", ((1, -1.0, 4_990),), popularity=2),
    Line(63, "Очиститель воздуха", "Briz", "Briz Air", ((1, -1.0, 17_990), (2, 0.3, 21_990)), popularity=3),
    Line(64, "Фильтр-кувшин", "Kedr", "Kedr Aqua", ((1, -2.0, 1_490),), popularity=4),
    Line(71, "Робот-пылесос", "Briz", "Briz Robot",
         ((3, -1.0, 24_990), (4, 0.2, 29_990), (5, 0.75, 34_990)), popularity=5),
    Line(72, "Пылесос", "Taiga", "Taiga Vac", ((1, -1.5, 7_990), (2, -0.2, 8_990)), popularity=4),
    Line(8, "Принтер", "Kedr", "Kedr Print", ((1, -1.2, 12_990), (2, 0.4, 14_990)), popularity=2),
)  # fmt: skip

ADD_ONS = (
    AddOn(91, "Чехол-книжка для {model}", 1_490, PHONES, popularity=3),
    AddOn(91, "Силиконовый чехол для {model}", 990, PHONES, popularity=4),
    AddOn(91, "Чехол для {model}", 2_490, TABLETS, popularity=2),
    AddOn(92, "Защитное стекло для {model}", 790, PHONES + TABLETS, popularity=3),
    AddOn(94, "Ремешок для {model}", 1_490, ("Nova Watch", "Orion Band"), popularity=1),
    AddOn(102, "Комплект фильтров и щёток для {model}", 1_490, ("Briz Robot",), replenishment_days=90),
    AddOn(103, "HEPA-фильтр для {model}", 2_490, ("Briz Air",), replenishment_days=120),
    AddOn(105, "Картридж для {model}, чёрный", 1_990, ("Kedr Print",), replenishment_days=75),
    AddOn(101, "Мешки для пылесоса {line}, 5 шт.", 590, ("Taiga Vac",), False, 60),
    AddOn(104, "Сменный картридж {line}, 3 шт.", 890, ("Kedr Aqua",), False, 45),
)

GENERICS = (
    Generic(93, "Volna", "Сетевое зарядное устройство 20 Вт", 1_490, PHONES + TABLETS, 3),
    Generic(93, "Volna", "Сетевое зарядное устройство 65 Вт", 2_990, LAPTOPS, 2),
    Generic(93, "Volna", "Кабель USB-C — USB-C, 1 м", 590, PHONES + TABLETS + LAPTOPS + HEADPHONES, 3),
    Generic(93, "Volna", "Кабель USB-C — USB-C, 2 м", 790, PHONES + TABLETS + LAPTOPS, 2),
    Generic(93, "Volna", "Беспроводная зарядка Volna Pad", 2_490, (*PHONES, "Volna Buds"), 2),
    Generic(95, "Altair", 'Рюкзак Altair 15"', 3_990, LAPTOPS, 1),
    Generic(95, "Altair", 'Чехол-сумка для ноутбука 14"', 1_990, LAPTOPS, 1),
    Generic(96, "Volna", "Внешний аккумулятор 10 000 мА·ч", 1_990, PHONES, 2),
    Generic(96, "Volna", "Внешний аккумулятор 20 000 мА·ч", 2_990, PHONES + TABLETS, 1),
)

# How likely a customer's main interest is each device category (share of customers, relative).
INTEREST_WEIGHTS = {1: 30, 2: 8, 3: 7, 4: 8, 5: 12, 61: 5, 62: 4, 63: 3, 64: 3, 71: 6, 72: 4, 8: 2}
# What an order's main item is when it is not about the customer's interests: often a small accessory.
IMPULSE_WEIGHTS = {
    **{category: weight / 2 for category, weight in INTEREST_WEIGHTS.items()},
    91: 6,
    92: 4,
    93: 8,
    94: 2,
    95: 2,
    96: 4,
    101: 1,
    102: 1,
    103: 1,
    104: 1,
    105: 1,
}
ACCESSORY_CATEGORIES = (91, 92, 93, 94, 95, 96)

SEARCH_QUERIES = {
    1: ("смартфон", "nova phone", "телефон 256 гб", "orion a", "смартфон до 20000", "vega pro"),
    2: ("ноутбук", "altair book", "ноутбук для работы", "sirius laptop"),
    3: ("планшет", "nova pad", "планшет для ребенка"),
    4: ("умные часы", "nova watch", "фитнес браслет"),
    5: ("наушники", "беспроводные наушники", "volna buds", "наушники с шумоподавлением"),
    61: ("умная колонка", "колонка с алисой", "sirius station"),
    62: ("умная лампа", "датчик протечки", "умный дом"),
    63: ("очиститель воздуха", "briz air"),
    64: ("фильтр для воды", "кувшин kedr"),
    71: ("робот пылесос", "briz robot", "моющий робот пылесос"),
    72: ("пылесос", "пылесос с мешком", "taiga vac"),
    8: ("принтер", "kedr print", "лазерный принтер"),
    91: ("чехол", "чехол nova phone"),
    92: ("защитное стекло",),
    93: ("зарядка", "кабель type-c", "быстрая зарядка"),
    94: ("ремешок для часов",),
    95: ("рюкзак для ноутбука",),
    96: ("powerbank", "внешний аккумулятор"),
    101: ("мешки для пылесоса",),
    102: ("фильтр для робота пылесоса",),
    103: ("hepa фильтр",),
    104: ("картридж для кувшина",),
    105: ("картридж для принтера",),
}
