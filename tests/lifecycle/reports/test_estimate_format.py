"""The plain-text tables' way of writing an estimate with its interval, and a share."""

from decimal import Decimal

import pytest

from lifecycle.reports.stats import format_estimate, format_share


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((1.25, -0.5, 3.0), {}, "+1.2 [-0.5, +3.0]"),
        ((1234.5, -98765.4, 5000.0, "+,.0f"), {}, "+1,234 [-98,765, +5,000]"),
        # percentage points: the figures are multiplied before they are written
        ((0.0123, -0.004, 0.0291), {"scale": 100, "unit": " pp"}, "+1.2 pp [-0.4, +2.9]"),
        ((-0.0004, -0.01, 0.01), {"scale": 100}, "-0.0 [-1.0, +1.0]"),
        # a function as the format, and another separator between the bounds
        ((Decimal("1500"), 10.0, 2500.0, lambda x: f"<{x:.0f}>"), {"sep": "; "}, "<1500> [<10>; <2500>]"),
        # no interval: the estimate alone; no estimate: a dash
        ((3.0, None, None), {"unit": " pp"}, "+3.0 pp"),
        ((None, None, None), {}, "—"),
        ((None, 1.0, 2.0), {}, "—"),
    ],
)
def test_an_estimate_is_written_with_its_interval(args, kwargs, text):
    assert format_estimate(*args, **kwargs) == text


def test_a_share_is_a_percentage_with_one_decimal():
    assert [format_share(v) for v in (0.1234, 1.0, 0.0, None)] == ["12.3%", "100.0%", "0.0%", "—"]
