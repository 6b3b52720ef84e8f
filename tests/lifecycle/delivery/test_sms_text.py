"""SMS segments, transliteration, phone numbers and sender names: the rules operators bill by."""

import pytest

from lifecycle.delivery.sms import (
    cost,
    fit,
    normalize_phone,
    segments,
    sender_problem,
    transliterate,
)

CYR = "Ж"  # one UCS-2 unit
GSM = "a"  # one septet


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", "gsm7", 0, 1),
        (GSM * 160, "gsm7", 160, 1),
        (GSM * 161, "gsm7", 161, 2),
        (GSM * 306, "gsm7", 306, 2),  # 2 x 153
        (GSM * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # extension characters take two septets
        ("€" * 81, "gsm7", 162, 2),
        ("{}[]~|^\\", "gsm7", 16, 1),
        # 152 plain septets then an escaped character: it may not be cut, so it opens the second part
        (GSM * 152 + "€" + GSM * 153, "gsm7", 307, 3),
        (GSM * 151 + "€" + GSM * 153, "gsm7", 306, 2),
        ("Ça coûte 5 £ à Zürich", "ucs2", 21, 1),  # û is not in GSM 03.38
        ("Ça va, Zürich? 5 £ à Søren", "gsm7", 26, 1),
        (CYR * 70, "ucs2", 70, 1),
        (CYR * 71, "ucs2", 71, 2),
        (CYR * 134, "ucs2", 134, 2),  # 2 x 67
        (CYR * 135, "ucs2", 135, 3),
        (GSM * 159 + CYR, "ucs2", 160, 3),  # one Cyrillic letter turns a 160-character text into UCS-2
        ("😀" * 35, "ucs2", 70, 1),  # an emoji is a surrogate pair: two units
        ("😀" * 36, "ucs2", 72, 2),
        (CYR * 66 + "😀" + CYR * 67, "ucs2", 135, 3),  # the pair is not cut at unit 67
        (CYR * 65 + "😀" + CYR * 67, "ucs2", 134, 2),
        ("Скидка 15% по коду BACK-7F2A до 12 марта", "ucs2", 40, 1),
    ],
)
def test_segments(text, encoding, units, count):
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)


@pytest.mark.parametrize(
    ("russian", "latin"),
    [
        ("Привет, Анна!", "Privet, Anna!"),
        ("Щука ЩИ Щи", "Shchuka SHCHI Shchi"),
        (
            "объём, счёт, юла, яма, хвост, цех, жук, йод, ы",
            "obieem, schet, iula, iama, khvost, tsekh, zhuk, iod, y",
        ),
        ("«Электросфера» — 12\u00a0990\u00a0₽… № 5", '"Elektrosfera" - 12 990 rub.... N 5'),
        ("Hello 😀", "Hello 😀"),
    ],
)
def test_transliterate(russian, latin):
    assert transliterate(russian) == latin


def test_transliteration_makes_cyrillic_fit_gsm7():
    text = "Анна, ваш промокод BACK-7F2A на 15% действует до 12 марта. Загляните в каталог: shop.example/c"
    assert segments(text).count == 2  # 98 UCS-2 units
    latin = transliterate(text)
    assert segments(latin).encoding == "gsm7"
    assert segments(latin).count == 1


@pytest.mark.parametrize(
    ("mode", "limit", "transliterated", "count"),
    [
        ("never", 1, False, 2),
        ("always", 5, True, 1),
        ("to_fit", 2, False, 2),  # already fits: sent in Cyrillic
        ("to_fit", 1, True, 1),  # Latin is what makes it fit
    ],
)
def test_fit(mode, limit, transliterated, count):
    text = "Анна, ваш промокод BACK-7F2A на 15% действует до 12 марта. Загляните в каталог!"
    fitted = fit(text, mode, limit)
    assert (fitted.transliterated, fitted.segments.count) == (transliterated, count)


def test_to_fit_keeps_the_original_when_latin_saves_nothing():
    assert fit("😀" * 40, "to_fit", 1).transliterated is False


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+79161234567", "+79161234567"),
        ("+7 (916) 123-45-67", "+79161234567"),
        ("8 916 123 45 67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1.415.555.0100", "+14155550100"),
        ("9161234567", None),  # national without the trunk prefix: ambiguous
        ("+0161234567", None),
        ("+7916123456789012", None),  # 16 digits
        ("+7916", None),
        ("+7 916 ABC 45 67", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_phone(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("Elektrosfera", False),
        ("Elektrosfer", True),
        ("SHOP-24", True),
        ("Магазин", False),
        ("12345", True),
        ("", False),
    ],
)
def test_sender_names(sender, ok):
    assert (sender_problem(sender) is None) is ok


def test_cost():
    assert cost(3, 2.45) == 7.35
    assert cost(3, None) is None
