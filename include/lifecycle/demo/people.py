"""Russian names, e-mail addresses and phone numbers, built by array indexing rather than per person.

E-mail domains use the reserved `.example` top-level domain (RFC 2606), so a demo that is wired to a real
SMTP server by mistake still cannot mail anyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MALE_FIRST = (
    "Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
    "Никита", "Матвей", "Роман", "Егор", "Арсений", "Иван", "Денис", "Евгений", "Даниил", "Тимофей",
    "Владислав", "Игорь", "Владимир", "Павел", "Руслан", "Марк", "Константин", "Тимур", "Олег", "Ярослав",
    "Антон", "Николай", "Глеб", "Данила", "Савелий", "Вадим", "Степан", "Юрий", "Богдан", "Артур",
)  # fmt: skip
FEMALE_FIRST = (
    "Анастасия", "Мария", "Анна", "Виктория", "Екатерина", "Наталья", "Марина", "Полина", "София", "Дарья",
    "Алиса", "Ксения", "Александра", "Елена", "Ольга", "Татьяна", "Ирина", "Юлия", "Светлана", "Вероника",
    "Арина", "Валерия", "Кристина", "Елизавета", "Алёна", "Варвара", "Маргарита", "Ульяна", "Диана",
    "Василиса", "Людмила", "Галина", "Надежда", "Любовь", "Евгения", "Милана", "Яна", "Вера", "Олеся",
    "Карина",
)  # fmt: skip
# Surnames in their masculine form; the feminine one is derived by the usual endings.
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
    "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров",
    "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов",
    "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов", "Марков",
    "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов",
    "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов", "Мартынов",
    "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов",
    "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев",
    "Кудрявцев", "Прохоров", "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов", "Леонов",
    "Соболев", "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Грачёв", "Котов",
    "Гришин", "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев", "Румянцев",
    "Акимов", "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Еремин", "Тихомиров", "Галкин",
    "Лукьянов", "Михеев", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Прокофьев",
    "Харитонов", "Князев", "Цветков", "Левин", "Митрофанов", "Воронов", "Аксёнов", "Софронов",
    "Мальцев", "Логинов", "Горшков", "Савин", "Краснов", "Майоров", "Демидов", "Елисеев", "Рыбаков",
    "Сафонов", "Плотников", "Дёмин", "Хохлов", "Жданов", "Руденко", "Шевченко", "Бондаренко",
    "Ткаченко", "Кравченко", "Литвиненко", "Черных", "Седых", "Белых", "Островский", "Вишневский",
    "Покровский", "Троицкий", "Успенский", "Раевский", "Толстой", "Трубецкой",
)  # fmt: skip

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
         "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
        strict=True,
    )
)  # fmt: skip
EMAIL_DOMAINS = ("mail.example", "yandex.example", "gmail.example", "inbox.example", "bk.example")
_DOMAIN_WEIGHTS = np.array([0.35, 0.30, 0.20, 0.08, 0.07])
# Typing mistakes seen in real sign-up forms; each one is an address no mailer accepts.
_BROKEN_EMAIL_PATTERNS = ("missing_at", "double_at", "no_tld", "space")


def transliterate(text: str) -> str:
    """Latin spelling of a Russian word, for e-mail addresses and URL slugs."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


def feminine(surname: str) -> str:
    if surname.endswith(("ий", "ой")):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ёв", "ев", "ин", "ын")):
        return surname + "а"
    return surname


def _names(pool: tuple[str, ...]) -> np.ndarray:
    return np.array(pool, dtype=object)


def draw_names(
    rng: np.random.Generator, is_female: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First and last names matching each person's gender, in Cyrillic and in Latin (for e-mails)."""
    size = len(is_female)
    male_pick = rng.integers(0, len(MALE_FIRST), size)
    female_pick = rng.integers(0, len(FEMALE_FIRST), size)
    surname_pick = rng.integers(0, len(SURNAMES), size)
    first = np.where(is_female, _names(FEMALE_FIRST)[female_pick], _names(MALE_FIRST)[male_pick])
    last = np.where(
        is_female, _names(tuple(map(feminine, SURNAMES)))[surname_pick], _names(SURNAMES)[surname_pick]
    )
    first_latin = np.where(
        is_female,
        _names(tuple(map(transliterate, FEMALE_FIRST)))[female_pick],
        _names(tuple(map(transliterate, MALE_FIRST)))[male_pick],
    )
    last_latin = _names(tuple(map(transliterate, SURNAMES)))[surname_pick]
    return first, last, first_latin, last_latin


def draw_emails(
    rng: np.random.Generator,
    first_latin: np.ndarray,
    last_latin: np.ndarray,
    customer_ids: np.ndarray,
    missing: float,
    broken: float,
) -> tuple[pd.Series, np.ndarray]:
    """Unique addresses (the customer id is part of the local part); some missing, some malformed.

    Returns the addresses and a flag per customer telling whether the address is deliverable.
    """
    size = len(customer_ids)
    first, last = pd.Series(first_latin, dtype="str"), pd.Series(last_latin, dtype="str")
    ids = pd.Series(customer_ids, dtype="int64").astype("str")
    style = rng.integers(0, 3, size)
    local = (first + "." + last + ids).where(style == 0, first.str[0] + last + ids)
    local = local.where(style != 2, last + "_" + ids)
    domain = pd.Series(np.array(EMAIL_DOMAINS, dtype=object)[rng.choice(5, size, p=_DOMAIN_WEIGHTS)])
    email = local + "@" + domain.astype("str")
    roll = rng.random(size)
    is_missing = roll < missing
    is_broken = (roll >= missing) & (roll < missing + broken)
    email = email.where(~is_broken, _break_emails(rng, local, domain.astype("str")))
    email = email.where(~is_missing, None)
    return email, ~(is_missing | is_broken)


def _break_emails(rng: np.random.Generator, local: pd.Series, domain: pd.Series) -> pd.Series:
    kind = rng.integers(0, len(_BROKEN_EMAIL_PATTERNS), len(local))
    broken = (local + domain).where(kind == 0, local + "@@" + domain)
    broken = broken.where(kind != 2, local + "@" + domain.str.split(".", n=1).str[0])
    return broken.where(kind != 3, local + " @" + domain)


def draw_phones(rng: np.random.Generator, size: int, missing: float) -> pd.Series:
    """Russian mobile numbers in E.164 form (+79XXXXXXXXX); some customers left the field empty."""
    number = rng.integers(0, 1_000_000_000, size)
    phones = "+79" + pd.Series(number, dtype="int64").astype("str").str.zfill(9)
    return phones.where(rng.random(size) >= missing, None)
