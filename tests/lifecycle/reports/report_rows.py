"""A hand-built warehouse with known answers for the report tests (both engines).

Timeline (March 2026, report date 2026-03-31):

* customer 1 gets ``cart/email_1`` on 03-01 10:00 and ``welcome/email_1`` on 03-03 10:00; orders 100 on
  03-04 (last touch: welcome, first touch: cart), 50 on 03-09 (cart is 8 days old, so welcome under both
  models), 70 on 03-12 (no message within 7 days), and a cancelled order on 03-04 (not a purchase).
* customer 2's only message failed; its order on 03-03 is unattributed.
* chain ``cart`` (holdout 50 %, one step at 0 h, horizon 7 days): treated entrants buy [100, 0, 200, 0],
  holdout entrants [0, 50, 10] within 7 days of entry (each also buys 999 later, outside the horizon).
"""

from datetime import date, datetime, timedelta
from types import SimpleNamespace

from lifecycle.reports.build import HOLDOUT, TREATED, arm

REPORT_DATE = date(2026, 3, 31)
T0 = datetime(2026, 3, 1, 10)
TREATED_REVENUE = [100.0, 0.0, 200.0, 0.0]
HOLDOUT_REVENUE = [0.0, 50.0, 10.0]
GLOBAL_CONTROL_SHARE = 0.05


def _step(step_id, delay_h=0, variants=(("A", 1.0),), bandit=False):
    return SimpleNamespace(
        id=step_id,
        channel="email",
        delay=timedelta(hours=delay_h),
        variants=[SimpleNamespace(id=v, weight=w) for v, w in variants],
        bandit=bandit,
    )


CHAINS = {
    "cart": SimpleNamespace(
        id="cart",
        name=SimpleNamespace(ru="Корзина", en="Cart"),
        priority=90,
        holdout_share=0.5,
        steps=[_step("email_1", variants=(("A", 0.5), ("B", 0.5)), bandit=True)],
    ),
    "welcome": SimpleNamespace(
        id="welcome",
        name=SimpleNamespace(ru="Приветствие", en="Welcome"),
        priority=60,
        holdout_share=0.05,
        steps=[_step("email_1")],
    ),
}


def pick_customers(chain, want, count, start=1000):
    """The first ``count`` customer ids from ``start`` on in the given arm of ``chain``."""
    found, cid = [], start
    while len(found) < count:
        if arm(chain, cid, CHAINS[chain].holdout_share, GLOBAL_CONTROL_SHARE) == want:
            found.append(cid)
        cid += 1
    return found


def _policy():
    from lifecycle.policy.config import Experiments, PolicyConfig

    return PolicyConfig(
        experiments=Experiments(global_control_share=GLOBAL_CONTROL_SHARE, attribution_days=7)
    )


def _ledger(send_key, customer_id, chain_id, step_id, sent_at, state="sent", variant="A", provider="sandbox"):
    return {
        "send_key": send_key,
        "chain_id": chain_id,
        "step_id": step_id,
        "instance_id": f"i-{send_key}",
        "trigger_key": "t",
        "customer_id": customer_id,
        "channel": "email",
        "message_kind": "content",
        "template": "x",
        "variant": variant,
        "context": "{}",
        "planned_at": sent_at,
        "send_after": sent_at,
        "local_send_date": sent_at.date(),
        "expires_at": sent_at + timedelta(days=1),
        "run_key": "run-1",
        "state": state,
        "provider": provider,
        "attempts": 1,
        "sent_at": sent_at if state == "sent" else None,
        "updated_at": sent_at,
    }


def _event(n, send_key, event_type, at):
    return {
        "provider": "sandbox",
        "provider_event_id": f"e{n}",
        "send_key": send_key,
        "event_type": event_type,
        "occurred_at": at,
        "received_at": at,
    }


def build_fixture_rows(warehouse):
    import pandas as pd

    treated = pick_customers("cart", TREATED, len(TREATED_REVENUE))
    holdout = pick_customers("cart", HOLDOUT, len(HOLDOUT_REVENUE))
    customers = [1, 2, *treated, *holdout]
    orders = [
        (1, T0 + timedelta(days=3), 100.0, "completed"),
        (1, T0 + timedelta(days=3), 500.0, "cancelled"),
        (1, T0 + timedelta(days=8), 50.0, "completed"),
        (1, T0 + timedelta(days=11), 70.0, "completed"),
        (2, T0 + timedelta(days=2), 30.0, "completed"),
    ]
    instances = []
    for n, (cid, revenue) in enumerate(
        zip([*treated, *holdout], TREATED_REVENUE + HOLDOUT_REVENUE, strict=True)
    ):
        entered = T0 + timedelta(days=1, hours=n)
        instances.append(
            {
                "instance_id": f"cart-{cid}",
                "chain_id": "cart",
                "customer_id": cid,
                "trigger_key": f"cart-{cid}",
                "triggered_at": entered,
                "entered_at": entered,
                "entered_run_key": "run-1",
                "status": "active",
                "touches": 0,
                "context": "{}",
                "updated_at": entered,
            }
        )
        if revenue:
            orders.append((cid, entered + timedelta(days=2), revenue, "completed"))
        orders.append((cid, entered + timedelta(days=9), 999.0, "completed"))
    ledger = [
        _ledger("s1", 1, "cart", "email_1", T0, variant="A"),
        _ledger("s2", 1, "welcome", "email_1", T0 + timedelta(days=2)),
        _ledger("s3", 2, "cart", "email_1", T0 + timedelta(days=1), state="failed", variant="B"),
    ]
    events = [
        _event(1, "s1", "delivered", T0),
        _event(2, "s1", "open", T0 + timedelta(hours=1)),
        _event(3, "s1", "open", T0 + timedelta(hours=2)),
        _event(4, "s1", "click", T0 + timedelta(hours=2)),
        _event(5, "s2", "delivered", T0 + timedelta(days=2)),
        _event(6, "s2", "unsubscribe", T0 + timedelta(days=2, hours=1)),
    ]
    registered = {1: datetime(2026, 1, 15), 2: datetime(2026, 2, 10)}
    customer_rows = pd.DataFrame(
        [
            {
                "customer_id": cid,
                "timezone": "Europe/Moscow",
                "registered_at": registered.get(cid, datetime(2026, 2, 1)),
                "email_consent": True,
                "push_consent": False,
                "sms_consent": False,
                "updated_at": datetime(2026, 1, 1),
                "loaded_at": datetime(2026, 1, 1),
            }
            for cid in customers
        ]
    )
    order_rows = pd.DataFrame(
        [
            {
                "order_id": n,
                "customer_id": cid,
                "channel": "online",
                "status": status,
                "total_amount": amount,
                "discount_amount": 0.0,
                "ordered_at": at,
                "updated_at": at,
                "loaded_at": at,
            }
            for n, (cid, at, amount, status) in enumerate(orders, start=1)
        ]
    )
    scores = []
    for as_of, codes in (
        (date(2026, 2, 1), {1: "111", 2: "333"}),
        (REPORT_DATE, {1: "311", 2: "333", 3: "111"}),
    ):
        for cid, code in codes.items():
            scores.append(
                {
                    "as_of": as_of,
                    "customer_id": cid,
                    "recency_days": 1,
                    "frequency": 1,
                    "avg_check": 1.0,
                    "r": int(code[0]),
                    "f": int(code[1]),
                    "m": int(code[2]),
                    "rfm_code": code,
                    "segment_ru": "x",
                    "segment_en": "x",
                    "ltv": 100.0 * cid,
                    "scored_at": datetime(2026, 1, 1),
                }
            )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.customers", customer_rows)
        warehouse.insert_df(conn, "crm.orders", order_rows)
        warehouse.insert_df(conn, "crm.chain_instances", pd.DataFrame(instances))
        warehouse.insert_df(conn, "crm.send_ledger", pd.DataFrame(ledger))
        warehouse.insert_df(conn, "crm.message_events", pd.DataFrame(events))
        warehouse.insert_df(conn, "crm.customer_scores", pd.DataFrame(scores))
    return SimpleNamespace(treated=treated, holdout=holdout)
