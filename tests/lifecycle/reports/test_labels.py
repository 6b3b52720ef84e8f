"""Every reason code a run can count has a Russian and an English label and a meaning for the legend."""

import re
from pathlib import Path

from lifecycle.delivery.gate import SEND_TIME_REASONS
from lifecycle.policy.rules import REASONS as POLICY_REASONS
from lifecycle.reports.labels import REASONS, reason_label, reason_meaning, reason_text

EXITS = Path(__file__).resolve().parents[3] / "include" / "sql" / "chains" / "exits"


def _exit_reasons() -> set[str]:
    codes = set()
    for path in EXITS.glob("*.sql"):
        body = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
        codes.update(re.findall(r"exit_reason = '([a-z_]+)'", body))
        codes.update(re.findall(r"(?:THEN|ELSE) '([a-z_]+)'", body))
    return codes


def test_every_reason_code_has_a_label_and_a_meaning():
    exits = _exit_reasons()
    assert {"purchased", "carted", "unsubscribed", "no_consent", "time_limit"} <= exits
    for code in {*POLICY_REASONS, *SEND_TIME_REASONS, *exits}:
        ru, en = REASONS[code]
        assert ru != en, code
        assert reason_meaning(code), code


def test_labels_of_moved_and_unknown_codes():
    assert reason_label("moved_to:welcome") == ("перешёл в цепочку welcome", "moved to chain welcome")
    assert reason_meaning("moved_to:welcome") == "the customer entered another chain that takes over"
    assert reason_text("quiet_hours") == "тихие часы / quiet hours"
    assert reason_text("something_new") == "something_new"
    assert reason_text(None) == "причина не указана / no reason recorded"
