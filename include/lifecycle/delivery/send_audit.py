"""An after-the-fact check of what actually left against the contact policy, at the moment it left.

The policy audit (:mod:`lifecycle.policy.audit`) checks what was planned; this checks what was *sent*
(state 'sent', or 'unknown': possibly sent), at the time its request left, in the customer's time zone:
no marketing message in quiet hours, without consent at that moment, to an address suppressed by then or
to a scenario the customer opted out of; and none beyond the daily caps (all channels and per channel),
the weekly cap per channel, or sooner than the minimum gap after the previous message. It is what the
fault tests assert after crashes and outages, and what an operator runs to prove the promise held:

    python -m lifecycle.delivery.send_audit [--warehouse URL]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from lifecycle.policy.config import PolicyConfig, load_policy
from lifecycle.policy.rules import in_quiet_hours, local
from lifecycle.warehouse import Warehouse

RULES = ("quiet_hours", "no_consent", "suppressed_address", "daily_cap", "weekly_cap", "min_gap")


@dataclass
class SendAudit:
    messages: int = 0
    customers: int = 0
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def total(self) -> int:
        return sum(len(keys) for keys in self.violations.values())

    @property
    def ok(self) -> bool:
        return self.total == 0

    def summary(self) -> str:
        found = ", ".join(f"{rule}: {len(keys)}" for rule, keys in self.violations.items() if keys) or "none"
        return (
            f"{self.messages} messages sent to {self.customers} customers; violations at send time: {found}"
        )


def audit_sent(warehouse: Warehouse, config: PolicyConfig | None = None) -> SendAudit:
    config = config or load_policy()
    rows = warehouse.fetch_all("delivery/audit_sent.sql")
    audit = SendAudit(messages=len(rows), customers=len({r["customer_id"] for r in rows}))
    by_customer: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_customer[row["customer_id"]].append(row)
    caps, quiet = config.caps, config.quiet_hours
    for messages in by_customer.values():
        zone = ZoneInfo(messages[0]["timezone"] or "UTC")
        for m in messages:
            if m["kind"] == "service":
                if m["suppressed"]:
                    audit.violations["suppressed_address"].append(m["send_key"])
                continue
            key, at, channel = m["send_key"], m["at"], m["channel"]
            if in_quiet_hours(at, zone, quiet.start, quiet.end):
                audit.violations["quiet_hours"].append(key)
            withdrawn = not m["consented"] and (
                m["consent_changed_at"] is None or m["consent_changed_at"] <= at
            )
            if withdrawn or m["scope_opted_out"]:
                audit.violations["no_consent"].append(key)
            if m["suppressed"]:
                audit.violations["suppressed_address"].append(key)
            before = [o for o in messages if o["at"] < at]
            day = local(at, zone).date()
            same_day = [o for o in before if local(o["at"], zone).date() == day]
            daily_channel = caps.daily_per_channel.get(channel)
            if len(same_day) >= caps.daily_total or (
                daily_channel is not None and sum(o["channel"] == channel for o in same_day) >= daily_channel
            ):
                audit.violations["daily_cap"].append(key)
            weekly = caps.weekly_per_channel.get(channel)
            week = [
                o
                for o in before
                if o["channel"] == channel and day - timedelta(days=6) <= local(o["at"], zone).date() <= day
            ]
            if weekly is not None and len(week) >= weekly:
                audit.violations["weekly_cap"].append(key)
            if before and at - max(o["at"] for o in before) < caps.min_gap:
                audit.violations["min_gap"].append(key)
    return audit


def main(argv: list[str] | None = None) -> int:
    from lifecycle.demo.__main__ import default_warehouse_url

    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.delivery.send_audit", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--warehouse", default=None, help="SQLAlchemy URL; default data/warehouse.duckdb")
    args = parser.parse_args(argv)
    audit = audit_sent(Warehouse(args.warehouse or default_warehouse_url()))
    print(audit.summary())
    for rule, keys in audit.violations.items():
        for key in keys[:20]:
            print(f"  {rule}: {key}")
    return 0 if audit.ok else 1


if __name__ == "__main__":
    sys.exit(main())
