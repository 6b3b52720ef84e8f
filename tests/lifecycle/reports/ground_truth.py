"""A synthetic shop with a known truth, for checking that the reports recover it.

For every seed and every chain of :data:`CHAINS` a fresh set of customers enters the chain once (March 2026).
Each entrant's arm is the project's own: :func:`lifecycle.reports.build.arm` (global control, the chain's
holdout, treated), and the variant of an A/B step is :func:`lifecycle.policy.experiments.choose_variant` with
the configured weights, or, for the bandit step, with :func:`thompson_weights` of the sends of the days before
(as the contact policy does every run). Treated entrants get a message with probability ``reach`` (the others
have no consent); a sent message raises or lowers the probability of buying within the chain's horizon by the
chain's (or variant's) ``lift``. A buyer places one or two orders of log-normal value (heavy-tailed), and
every entrant may also buy outside the horizon or have a cancelled order in it, which the measurement must
ignore.

The truth of a chain is known exactly given who was sent what: the intent-to-treat effect on conversion is
the mean lift over treated entrants (zero for the unsent), and on revenue that times the expected revenue of
a buyer. Chains are suffixed with the seed (``uplift_s03``) so all seeds live in one warehouse and one
``build_reports``.

Run ``python tests/lifecycle/reports/ground_truth.py --seeds 20`` to print the coverage table (``--sigma 1.3``
for heavier-tailed order values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd

from lifecycle.policy.experiments import choose_variant, thompson_weights
from lifecycle.reports.build import HOLDOUT, TREATED, arm

FIRST_DAY = date(2026, 3, 1)
ENTRY_DAYS = 21
REPORT_DATE = date(2026, 4, 15)
WINDOW_DAYS = 7
GLOBAL_CONTROL_SHARE = 0.05
BANDIT_MIN_SAMPLE = 200
#: Order values: log-normal (mean ~ 2 980, a long right tail); a buyer places a second order with this chance.
VALUE_MU, VALUE_SIGMA, SECOND_ORDER = 7.5, 1.0, 0.25
BUYER_REVENUE = (1 + SECOND_ORDER) * math.exp(VALUE_MU + VALUE_SIGMA**2 / 2)


@dataclass(frozen=True)
class Spec:
    """One chain of the synthetic shop: entrants, holdout share, the buying probability without a message,
    the lift of a sent message per variant, the variants' configured weights, the share of treated entrants
    reached, and whether the step is a bandit."""

    name: str
    entrants: int
    holdout_share: float
    base: float
    lifts: dict[str, float]
    weights: dict[str, float]
    reach: float = 0.85
    bandit: bool = False


CHAINS = (
    Spec("uplift", 4000, 0.15, 0.10, {"A": 0.06}, {"A": 1.0}),
    Spec("zero_a", 3000, 0.10, 0.08, {"A": 0.0}, {"A": 1.0}),
    Spec("zero_b", 1500, 0.20, 0.12, {"A": 0.0}, {"A": 1.0}),
    Spec("zero_c", 4000, 0.20, 0.10, {"A": 0.0}, {"A": 1.0}),
    Spec("harm", 4000, 0.20, 0.12, {"A": -0.08}, {"A": 1.0}),
    Spec("silent", 1500, 0.10, 0.10, {"A": 0.05}, {"A": 1.0}, reach=0.0),
    Spec("tiny", 600, 0.02, 0.10, {"A": 0.05}, {"A": 1.0}),
    Spec("ab", 4000, 0.10, 0.08, {"A": 0.0, "B": 0.06}, {"A": 0.5, "B": 0.5}),
    Spec("bandit", 4000, 0.10, 0.08, {"A": 0.0, "B": 0.06}, {"A": 0.5, "B": 0.5}, bandit=True),
    Spec("ab_same", 3000, 0.10, 0.08, {"A": 0.03, "B": 0.03}, {"A": 0.5, "B": 0.5}),
)


def chain_id(spec: Spec, seed: int) -> str:
    return f"{spec.name}_s{seed:02d}"


def chain_configs(seeds: range) -> dict[str, SimpleNamespace]:
    """The chains as ``build_reports`` and ``read.overview`` read them (one step at entry, per seed)."""
    configs = {}
    for seed in seeds:
        for spec in CHAINS:
            step = SimpleNamespace(
                id="email_1",
                channel="email",
                delay=timedelta(0),
                variants=[SimpleNamespace(id=v, weight=w) for v, w in spec.weights.items()],
                bandit=spec.bandit,
            )
            cid = chain_id(spec, seed)
            configs[cid] = SimpleNamespace(
                id=cid,
                name=SimpleNamespace(ru=cid, en=cid),
                priority=50,
                holdout_share=spec.holdout_share,
                steps=[step],
            )
    return configs


def policy():
    from lifecycle.policy.config import Experiments, PolicyConfig

    return PolicyConfig(
        experiments=Experiments(
            global_control_share=GLOBAL_CONTROL_SHARE,
            attribution_days=WINDOW_DAYS,
            bandit_min_sample=BANDIT_MIN_SAMPLE,
        )
    )


@dataclass
class Truth:
    """What a chain really did: entrants per arm, sends, and the true intent-to-treat effects."""

    chain_id: str
    spec: Spec
    treated: int
    holdout: int
    sends: int
    conversion_effect: float
    variant_conversion: dict[str, float]

    @property
    def revenue_effect(self) -> float:
        """True incremental revenue per treated entrant."""
        return self.conversion_effect * BUYER_REVENUE

    @property
    def incremental_revenue(self) -> float:
        return self.revenue_effect * self.treated


def simulate(seed: int) -> tuple[dict[str, pd.DataFrame], list[Truth]]:
    """Rows of crm.chain_instances, crm.send_ledger and crm.orders for one seed, and the truth."""
    rng = np.random.default_rng(seed)
    frames: dict[str, list[pd.DataFrame]] = {"instances": [], "ledger": [], "orders": []}
    truths = []
    start = np.datetime64(datetime.combine(FIRST_DAY, datetime.min.time()), "s")
    for k, spec in enumerate(CHAINS):
        cid, n = chain_id(spec, seed), spec.entrants
        customers = seed * 1_000_000 + k * 100_000 + np.arange(n)
        days = np.sort(rng.integers(0, ENTRY_DAYS, n))
        entered = start + (days * 86_400 + rng.integers(0, 86_400, n)).astype("timedelta64[s]")
        arms = np.array([arm(cid, int(c), spec.holdout_share, GLOBAL_CONTROL_SHARE) or "" for c in customers])
        treated = arms == TREATED
        reached = treated & (rng.random(n) < spec.reach)
        sent = reached & (rng.random(n) >= 0.03)  # 3 % of the messages fail
        buy_draw = rng.random(n)
        variants = np.full(n, "", dtype=object)
        lift = np.zeros(n)
        weights = tuple(spec.weights.items())
        history = {v: [0, 0] for v in spec.weights}  # variant -> sends, conversions of the days before
        for day in np.unique(days):
            today = np.flatnonzero((days == day) & reached)
            day_weights = weights
            if spec.bandit:
                stats = [(v, sends, conv) for v, (sends, conv) in history.items()]
                day_weights = thompson_weights(stats, BANDIT_MIN_SAMPLE, seed=f"{cid}:{day}") or weights
            for i in today:
                variants[i] = choose_variant(f"ab:{cid}:email_1", int(customers[i]), day_weights)
                if sent[i]:
                    lift[i] = spec.lifts[variants[i]]
                    history[variants[i]][0] += 1
                    history[variants[i]][1] += buy_draw[i] < spec.base + lift[i]
        buys = buy_draw < spec.base + lift
        frames["instances"].append(
            pd.DataFrame({"chain_id": cid, "customer_id": customers, "entered_at": entered})
        )
        frames["ledger"].append(
            pd.DataFrame(
                {
                    "chain_id": cid,
                    "customer_id": customers[reached],
                    "variant": variants[reached],
                    "state": np.where(sent[reached], "sent", "failed"),
                    "sent_at": entered[reached],
                }
            )
        )
        # Orders within the window of entry (and of the send, made at entry) from buyers, one or two each.
        buyers = np.flatnonzero(buys)
        buyers = np.concatenate([buyers, buyers[rng.random(len(buyers)) < SECOND_ORDER]])
        noise = np.flatnonzero(rng.random(n) < 0.3)
        shift = rng.uniform(1, 20, len(noise)) * np.where(rng.random(len(noise)) < 0.5, 1, -1)
        shift = np.where(shift > 0, shift + WINDOW_DAYS, shift)  # before entry, or after the horizon
        cancelled = np.flatnonzero(rng.random(n) < 0.05)
        frames["orders"] += [
            _orders(
                customers[buyers],
                entered[buyers] + _seconds(rng.integers(60, WINDOW_DAYS * 86_400 - 60, len(buyers))),
                rng,
                "paid",
            ),
            _orders(customers[noise], entered[noise] + _seconds(shift * 86_400), rng, "paid"),
            _orders(
                customers[cancelled],
                entered[cancelled] + _seconds(np.full(len(cancelled), 5 * 3600)),
                rng,
                "cancelled",
            ),
        ]
        n_treated = int(treated.sum())
        truths.append(
            Truth(
                cid,
                spec,
                n_treated,
                int((arms == HOLDOUT).sum()),
                int(sent.sum()),
                float(lift[treated].sum() / n_treated) if n_treated else 0.0,
                {v: float(spec.base + spec.lifts[v]) for v in spec.weights},
            )
        )
    return {key: pd.concat(parts, ignore_index=True) for key, parts in frames.items()}, truths


def _seconds(values) -> np.ndarray:
    return np.asarray(values).astype("int64").astype("timedelta64[s]")


def _orders(customers, at, rng, status) -> pd.DataFrame:
    values = 50_000.0 if status == "cancelled" else rng.lognormal(VALUE_MU, VALUE_SIGMA, len(customers))
    return pd.DataFrame(
        {"customer_id": customers, "ordered_at": at, "total_amount": values, "status": status}
    )


def load(warehouse, seeds: range) -> list[Truth]:
    """Write every seed's rows into the (migrated) warehouse; returns the truth of every chain and seed."""
    parts: dict[str, list[pd.DataFrame]] = {"instances": [], "ledger": [], "orders": []}
    truths: list[Truth] = []
    for seed in seeds:
        frames, truth = simulate(seed)
        truths += truth
        for key in parts:
            parts[key].append(frames[key])
    inst, led, orders = (
        pd.concat(parts[key], ignore_index=True) for key in ("instances", "ledger", "orders")
    )
    inst["entered_at"] = inst["entered_at"].astype("datetime64[us]")
    inst["instance_id"] = inst["chain_id"] + "-" + inst["customer_id"].astype(str)
    instances = inst.assign(
        trigger_key=inst["instance_id"],
        triggered_at=inst["entered_at"],
        entered_run_key="run-1",
        status="active",
        touches=0,
        context="{}",
        updated_at=inst["entered_at"],
    )
    led["sent_at"] = led["sent_at"].astype("datetime64[us]")
    led["instance_id"] = led["chain_id"] + "-" + led["customer_id"].astype(str)
    ledger = led.assign(
        send_key=led["instance_id"] + "-1",
        step_id="email_1",
        trigger_key=led["instance_id"],
        channel="email",
        message_kind="content",
        template="x",
        context="{}",
        planned_at=led["sent_at"],
        send_after=led["sent_at"],
        local_send_date=led["sent_at"].dt.date,
        expires_at=led["sent_at"] + pd.Timedelta(days=1),
        run_key="run-1",
        provider="sandbox",
        attempts=1,
        updated_at=led["sent_at"],
    )
    ledger.loc[ledger["state"] != "sent", "sent_at"] = pd.NaT
    orders["ordered_at"] = orders["ordered_at"].astype("datetime64[us]")
    orders = orders.assign(
        order_id=np.arange(1, len(orders) + 1),
        channel="online",
        discount_amount=0.0,
        updated_at=orders["ordered_at"],
        loaded_at=orders["ordered_at"],
    )
    with warehouse.begin() as conn:
        warehouse.insert_df(conn, "crm.chain_instances", instances)
        warehouse.insert_df(conn, "crm.send_ledger", ledger)
        warehouse.insert_df(conn, "crm.orders", orders)
    return truths


def build_and_read(warehouse, seeds: range) -> tuple[list[Truth], dict]:
    """Load the seeds, run the real ``build_reports`` and read the CRM overview of the entry period."""
    from lifecycle.reports import read
    from lifecycle.reports.build import build_reports

    truths = load(warehouse, seeds)
    configs = chain_configs(seeds)
    build_reports(
        warehouse, REPORT_DATE, "truth-run", chains=configs, policy=policy(), now=datetime(2026, 4, 16)
    )
    view = read.overview(
        warehouse, FIRST_DAY, REPORT_DATE, chains=configs, bandit_min_sample=BANDIT_MIN_SAMPLE
    )
    return truths, view


def _inside(low, high, value) -> bool | None:
    if low is None or high is None:
        return None
    return low <= value <= high


def evaluate(truths: list[Truth], view: dict) -> dict[str, dict]:
    """Per chain kind (over the seeds): how often a figure was given, its interval covered the truth, it was
    significant, and the mean measured and true values."""
    uplift = {c["chain_id"]: c.get("uplift") or {} for c in view["chains"]}
    tests = {t["chain_id"]: t for t in view["experiments"]}
    kinds: dict[str, dict] = {}
    for truth in truths:
        u = uplift.get(truth.chain_id, {})
        k = kinds.setdefault(
            truth.spec.name,
            {"n": 0, "given": 0, "covered": 0, "sig": 0, "pos": 0, "neg": 0, "measured": 0.0, "true": 0.0}
            | {"conv_given": 0, "conv_covered": 0, "conv_sig": 0, "ab_right": 0, "ab_tests": 0}
            | {"reasons": {}},
        )
        k["n"] += 1
        k["true"] += truth.incremental_revenue
        value = u.get("incremental_revenue")
        covered = _inside(u.get("ci_low"), u.get("ci_high"), truth.incremental_revenue)
        if value is not None:
            k["given"] += 1
            k["measured"] += value
        else:
            reason = u.get("reason") or "no figure"
            k["reasons"][reason] = k["reasons"].get(reason, 0) + 1
        if covered is not None:
            k["covered"] += covered
            low, high = u["ci_low"], u["ci_high"]
            k["sig"] += low > 0 or high < 0
            k["pos"] += low > 0
            k["neg"] += high < 0
            k.setdefault("errors", []).append(value - truth.incremental_revenue)
        conv = _inside(u.get("conversion_ci_low"), u.get("conversion_ci_high"), truth.conversion_effect)
        if conv is not None:
            k["conv_given"] += 1
            k["conv_covered"] += conv
            k["conv_sig"] += u["conversion_ci_low"] > 0 or u["conversion_ci_high"] < 0
        test = tests.get(truth.chain_id)
        if test is not None:
            k["ab_tests"] += 1
            p_best = {v["variant"]: v["p_best"] for v in test["variants"]}
            best_true = max(truth.spec.lifts, key=truth.spec.lifts.get)
            declared = test.get("winner", next((v for v, p in p_best.items() if p >= 0.975), None))
            if len(set(truth.spec.lifts.values())) == 1:  # no better variant: right = no winner declared
                k["ab_right"] += declared is None
            else:
                k["ab_right"] += declared == best_true
            if test["bandit"]:
                weights = {v["variant"]: v["weight"] or 0 for v in test["variants"]}
                k["bandit_weight_best"] = k.get("bandit_weight_best", 0.0) + weights.get(best_true, 0)
    return kinds


def bias_t(errors: list[float]) -> float:
    """Mean error of the measured incremental revenue over the seeds in standard errors of that mean
    (|t| well above 2 would mean the estimate is biased)."""
    if len(errors) < 2:
        return math.nan
    e = np.asarray(errors)
    return float(e.mean() / (e.std(ddof=1) / math.sqrt(len(e)))) if e.std() else 0.0


def table(kinds: dict[str, dict]) -> str:
    """The coverage table as fixed-width text."""
    head = (
        f"{'chain':8} {'n':>3} {'given':>5} {'rev cover':>9} {'rev sig':>7} {'+/-':>5} "
        f"{'conv given':>10} {'conv cover':>10} {'conv sig':>8} {'mean measured':>14} {'mean true':>12} "
        f"{'A/B right':>9} {'bias t':>6}  not given (reason)"
    )
    lines = [head]

    def share(a, b):
        return f"{a / b:.2f}" if b else "-"

    for name, k in kinds.items():
        lines.append(
            f"{name:8} {k['n']:>3} {k['given']:>5} {share(k['covered'], k['given']):>9} "
            f"{share(k['sig'], k['given']):>7} {k['pos']:>2}/{k['neg']:<2} {k['conv_given']:>10} "
            f"{share(k['conv_covered'], k['conv_given']):>10} {share(k['conv_sig'], k['conv_given']):>8} "
            f"{(k['measured'] / k['given'] if k['given'] else math.nan):>14.0f} {k['true'] / k['n']:>12.0f} "
            f"{share(k['ab_right'], k['ab_tests']):>9} "
            f"{bias_t(k.get('errors', [])):>6.2f}  {k['reasons'] or ''}"
        )
    given = sum(k["given"] for k in kinds.values())
    covered = sum(k["covered"] for k in kinds.values())
    cgiven = sum(k["conv_given"] for k in kinds.values())
    ccovered = sum(k["conv_covered"] for k in kinds.values())
    lines.append(
        f"overall revenue coverage {share(covered, given)} over {given} chain×seed; "
        f"conversion coverage {share(ccovered, cgiven)} over {cgiven}"
    )
    return "\n".join(lines)


def main() -> None:
    import argparse
    import tempfile
    import time
    from pathlib import Path

    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--sigma", type=float, default=1.0, help="log-normal sigma of order values")
    args = parser.parse_args()
    global VALUE_SIGMA, BUYER_REVENUE
    VALUE_SIGMA = args.sigma
    BUYER_REVENUE = (1 + SECOND_ORDER) * math.exp(VALUE_MU + VALUE_SIGMA**2 / 2)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(f"duckdb:///{Path(tmp) / 'truth.duckdb'}")
        migrate(warehouse)
        truths, view = build_and_read(warehouse, range(args.seeds))
        print(table(evaluate(truths, view)))
    print(f"{args.seeds} seeds, order value sigma {VALUE_SIGMA}, in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
