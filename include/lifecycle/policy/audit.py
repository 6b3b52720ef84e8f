"""An after-the-fact check of the send ledger against the contact policy, in each customer's time zone.

It re-derives, from what was actually planned or sent, the promises the policy makes: every due step has a
decision; nobody gets more trigger messages in a local day than the daily cap; nothing goes out in quiet
hours (service messages excepted) or to a customer without consent or with a suppressed address; sale
messages stay within their share of what the customer received, newsletters included. The demo prints it,
and the tests run it after many hourly runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from lifecycle.policy.config import PolicyConfig, load_policy
from lifecycle.policy.rules import in_quiet_hours, local
from lifecycle.warehouse import Warehouse


@dataclass
class LedgerAudit:
    messages: int = 0
    customers: int = 0
    undecided_due_steps: int = 0
    max_per_local_day: int = 0
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return self.undecided_due_steps == 0 and not any(self.violations.values())

    def summary(self) -> str:
        found = ", ".join(f"{rule}: {len(keys)}" for rule, keys in self.violations.items() if keys) or "none"
        return (
            f"{self.messages} trigger messages to {self.customers} customers; most in one local day: "
            f"{self.max_per_local_day}; due steps without a decision: {self.undecided_due_steps}; "
            f"violations: {found}"
        )


def audit_ledger(warehouse: Warehouse, config: PolicyConfig | None = None) -> LedgerAudit:
    config = config or load_policy()
    rows = warehouse.fetch_all("policy/audit_messages.sql")
    audit = LedgerAudit(messages=len(rows), customers=len({r["customer_id"] for r in rows}))
    audit.undecided_due_steps = int(warehouse.fetch_all("policy/audit_undecided.sql")[0]["undecided"])
    by_customer: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_customer[row["customer_id"]].append(row)
    newsletters: dict[int, list[dict]] = defaultdict(list)
    for row in warehouse.fetch_all("policy/audit_newsletters.sql"):
        newsletters[row["customer_id"]].append(row)
    quiet = config.quiet_hours
    for customer_id, messages in by_customer.items():
        zone = ZoneInfo(messages[0]["timezone"])
        marketing = [m for m in messages if m["kind"] != "service"]
        received = messages + newsletters[customer_id]  # service messages are received too
        per_day: dict = defaultdict(int)
        for m in marketing:
            per_day[local(m["at"], zone).date()] += 1
            if in_quiet_hours(m["at"], zone, quiet.start, quiet.end):
                audit.violations["quiet_hours"].append(m["send_key"])
            # A customer who withdrew consent after the message was sent is no violation.
            if not m["consented"] and (m["consent_changed_at"] is None or m["consent_changed_at"] <= m["at"]):
                audit.violations["no_consent"].append(m["send_key"])
            if m["suppressed"]:
                audit.violations["suppressed_address"].append(m["send_key"])
            if m["kind"] == "sale":
                since = m["at"] - timedelta(days=config.sale_share.window_days)
                window = [o for o in received if since <= o["at"] <= m["at"]]
                if sum(o["kind"] == "sale" for o in window) / len(window) > config.sale_share.max_share:
                    audit.violations["sale_share"].append(m["send_key"])
        audit.max_per_local_day = max([audit.max_per_local_day, *per_day.values()])
        for day, count in per_day.items():
            if count > config.caps.daily_total:
                audit.violations["daily_cap"].append(f"{customer_id}@{day}")
    return audit
