"""Coverage of the reports' intervals over many seeds of the real simulation.

``python -m lifecycle.simulate.coverage --seeds 20 --days 7 --customers 1500 --jobs 2 --out DIR``

Each seed is one complete :class:`lifecycle.simulate.Simulation` (a fresh demo shop, the hours of the real
pipeline, the reports), in its own process (``--jobs`` at a time) and its own DuckDB file. Per seed and chain
the figures the UI shows (:func:`lifecycle.reports.read.overview`, through
:func:`lifecycle.simulate.compare.comparison`) are set against the truth the simulator knows, then pooled over
seeds and chains:

* **revenue**: does the 95 % interval of the incremental revenue hold the truth? Two truths are given.
  ``truth_chain`` is ``sim.truth_chain`` (every order the chain's messages added or prevented, placed up to
  the end). ``truth_horizon`` is the same orders counted the way the reports count revenue: per entry of the
  period, the chain's added and prevented orders of that customer inside the entry's horizon (an order that
  falls in the horizons of two entries of the same customer counts twice, as in the reports; one placed after
  the horizon does not count). The reports estimate the second; the first is what the demo's table shows.
* **conversion**: does the 95 % interval of the difference in conversion (treated minus holdout share of
  entrants who bought in the horizon) hold the true change of the treated entrants' share (who bought, less
  who would have bought without the chain's messages: its added orders removed, its prevented ones put back)?
* **zero-effect chains** (true uplift 0 for every variant): in how many measured seeds is the revenue or the
  conversion effect declared significant;
* **negative chains**: in how many measured seeds the reports flag a loss (a negative estimate, or a
  significant one);
* **experiments**: whether the variant with the highest P(best) (and the declared winner, when there is one)
  is the variant with the highest true uplift, split by whether the true difference is large for the sample
  (more than twice the standard error of the observed difference in conversion).

Every seed's figures are written to ``DIR/seed_NN.json`` as soon as the seed is done; seeds already there are
not run again (``--rerun`` to force), so an interrupted run resumes. Progress goes to stderr, the tables and
(``--json``) the pooled figures to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

#: The simulated period every seed ends with (a fixed end: the figures do not depend on the day of the run).
DEFAULT_END = datetime(2026, 11, 28, 11)
#: A seed: a week of 3,000 customers, half of every chain's entrants held out (docs/simulation.md: with
#: the chain files' 5-15 % holdouts a week measures nothing).
DEFAULT_DAYS, DEFAULT_CUSTOMERS, DEFAULT_HOLDOUT_SHARE = 7, 3000, 0.5


@dataclass(frozen=True)
class SeedSpec:
    seed: int
    days: int = DEFAULT_DAYS
    customers: int = DEFAULT_CUSTOMERS
    end: datetime = DEFAULT_END
    history_days: int = 730
    #: Every chain's holdout share (None: the chain files'); see :class:`SimulationConfig`.
    holdout_share: float | None = None
    #: The chain map and the customers' response (:mod:`lifecycle.simulate.scenarios`).
    scenario: str = "default"


def run_seed(spec: SeedSpec, workdir: Path | None = None, keep: bool = False) -> dict[str, Any]:
    """One simulation of ``spec``; its per-chain and per-experiment figures (JSON-ready). The warehouse is
    ``run.duckdb`` in ``workdir`` (a temporary folder by default), removed afterwards unless ``keep`` or the
    measurement failed (then :func:`remeasure` can measure it again)."""
    from lifecycle.simulate.engine import Simulation, SimulationConfig
    from lifecycle.simulate.scenarios import scenario

    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"coverage-{spec.seed:03d}-"))
    folder.mkdir(parents=True, exist_ok=True)
    chosen = scenario(spec.scenario)
    started = time.monotonic()
    # Not named after a schema (sim, shop, crm): a file stem equal to a schema confuses DuckDB's names.
    url = f"duckdb:///{folder / 'run.duckdb'}"
    config = SimulationConfig(
        days=spec.days,
        customers=spec.customers,
        seed=spec.seed,
        end=spec.end,
        history_days=spec.history_days,
        outbox=folder / "outbox",
        holdout_share=spec.holdout_share,
        chains_folder=chosen.chain_map(folder / "chains"),
        response=chosen.response,
    )
    simulation = Simulation(url, config)
    simulation.build()
    result = simulation.run()
    simulated = time.monotonic() - started
    (folder / "simulated").touch()
    figures = measure(simulation.warehouse, result.start, result.end, simulation.chains)
    simulation.warehouse.engine.dispose()
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "seed": spec.seed,
        "spec": _spec_dict(spec),
        "seconds": round(time.monotonic() - started, 1),
        "simulated_seconds": round(simulated, 1),
        "summary": result.summary(),
        **figures,
    }


def remeasure(spec: SeedSpec, folder: Path) -> dict[str, Any]:
    """The figures of a seed whose simulation is kept in ``folder`` (``run.duckdb``), measured again."""
    from lifecycle.chains.config import CHAINS_DIR, load_chains
    from lifecycle.simulate.scenarios import scenario
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(f"duckdb:///{Path(folder) / 'run.duckdb'}")
    start = spec.end - timedelta(days=spec.days)
    chains = load_chains(scenario(spec.scenario).chain_map(Path(folder) / "chains") or CHAINS_DIR, False)
    if spec.holdout_share is not None:
        chains = {k: c.model_copy(update={"holdout_share": spec.holdout_share}) for k, c in chains.items()}
    figures = measure(warehouse, start, spec.end, chains)
    warehouse.engine.dispose()
    return {"seed": spec.seed, "spec": _spec_dict(spec), "seconds": None, "remeasured": True, **figures}


def _spec_dict(spec: SeedSpec) -> dict[str, Any]:
    plain = asdict(spec) | {"end": spec.end.isoformat()}
    if spec.scenario == "default":  # as the seeds written before scenarios existed
        del plain["scenario"]
    return plain


def measure(warehouse, start: datetime, end: datetime, chains: dict) -> dict[str, Any]:
    """Per chain: the comparison row (measured revenue and conversion with their intervals, truth of
    ``sim.truth_chain``) with the horizon truths of revenue and conversion; per experiment: the true uplift
    of every variant next to the measured conversion and P(best)."""
    from lifecycle.reports.read import overview
    from lifecycle.simulate.compare import comparison, entry_days

    first_day, last_day = entry_days(warehouse, start, end)
    rows = comparison(warehouse, first_day, last_day)
    horizon = horizon_truth(warehouse, first_day, end)
    for r in rows:
        r |= horizon.get(r["chain_id"], {"truth_horizon_revenue": 0.0, "truth_horizon_buyers": 0})
    uplifts = _variant_uplifts(warehouse)
    experiments = []
    for e in overview(warehouse, first_day, last_day, chains)["experiments"]:
        experiments.append(
            {
                "chain_id": e["chain_id"],
                "step_id": e["step_id"],
                "bandit": e["bandit"],
                "winner": e["winner"],
                "winner_reason": e["winner_reason"],
                "variants": [
                    {
                        "variant": v["variant"],
                        "sent": int(v["sent"]),
                        "converted": int(v["converted"]),
                        "p_best": v["p_best"],
                        "true_uplift": uplifts.get((e["chain_id"], v["variant"])),
                    }
                    for v in e["variants"]
                ],
            }
        )
    return {"chains": [_plain(r) for r in rows], "experiments": experiments}


def horizon_truth(warehouse, first_day: date, end: datetime) -> dict[str, dict[str, Any]]:
    """Per chain, over its entries of the period (as the reports select them): the revenue of the orders the
    chain's messages added less those they prevented, counted in each entry's horizon, and the change in
    buyers (entries whose customer bought in the horizon, less those who would have without the chain's
    messages)."""
    import pandas as pd
    import sqlalchemy as sa

    from lifecycle.simulate.world import SIM_SCHEMA

    until = datetime.combine(end.date() + timedelta(days=1), datetime.min.time())
    since = datetime.combine(first_day, datetime.min.time())
    with warehouse.begin() as conn:
        default_horizon = conn.execute(
            sa.text("SELECT MAX(window_days) FROM crm.report_chain_windows")
        ).scalar()
        entries = pd.read_sql_query(
            sa.text(
                """
                SELECT i.chain_id, i.customer_id, i.entered_at,
                    i.entered_at + COALESCE(w.horizon_days, :h) * INTERVAL '1 day' AS horizon_end
                FROM crm.chain_instances AS i
                LEFT JOIN crm.report_chain_windows AS w ON i.chain_id = w.chain_id
                WHERE i.entered_at >= :since AND i.entered_at < :until
                """
            ),
            conn,
            params={"since": since, "until": until, "h": int(default_horizon or 7)},
        )
        orders = pd.read_sql_query(
            sa.text(
                """
                SELECT o.order_id, o.customer_id, o.ordered_at
                FROM crm.orders AS o
                INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
                WHERE o.ordered_at >= :since
                """
            ),
            conn,
            params={"since": since},
        )
        effects = pd.read_sql_query(
            sa.text(
                f"SELECT chain_id, customer_id, order_id, ordered_at, effect, revenue "
                f"FROM {SIM_SCHEMA}.truth_messages WHERE effect <> 0 AND ordered_at <= :end"
            ),
            conn,
            params={"end": end},
        )
    result: dict[str, dict[str, Any]] = {}
    if entries.empty:
        return result
    orders_by_customer = {c: g for c, g in orders.groupby("customer_id")}
    effects_by_key = {k: g for k, g in effects.groupby(["chain_id", "customer_id"])}
    empty = orders.iloc[0:0]
    for chain_id, chain_entries in entries.groupby("chain_id"):
        revenue = 0.0
        buyers = 0
        for e in chain_entries.itertuples(index=False):
            own = effects_by_key.get((chain_id, e.customer_id))
            if own is None:
                continue
            in_horizon = own[(own.ordered_at > e.entered_at) & (own.ordered_at < e.horizon_end)]
            revenue += float(in_horizon.revenue.sum())
            placed = orders_by_customer.get(e.customer_id, empty)
            # as the reports: an order at the moment of entry is the trigger of a purchase-triggered chain
            placed = placed[(placed.ordered_at > e.entered_at) & (placed.ordered_at < e.horizon_end)]
            added = set(in_horizon.order_id[in_horizon.effect > 0])
            bought = len(placed) > 0
            would_have = (len(set(placed.order_id) - added) > 0) or bool((in_horizon.effect < 0).any())
            buyers += int(bought) - int(would_have)
        result[str(chain_id)] = {"truth_horizon_revenue": revenue, "truth_horizon_buyers": buyers}
    return result


def _variant_uplifts(warehouse) -> dict[tuple[str, str], float]:
    import sqlalchemy as sa

    from lifecycle.simulate.world import SIM_SCHEMA

    with warehouse.begin() as conn:
        return {
            (r[0], r[1]): float(r[2])
            for r in conn.execute(sa.text(f"SELECT chain_id, variant, uplift FROM {SIM_SCHEMA}.truth_uplift"))
        }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (float(v) if hasattr(v, "is_integer") and not isinstance(v, bool) else v) for k, v in row.items()
    }


# --- pooling ---------------------------------------------------------------------------------------------


def _covers(low, high, value) -> bool | None:
    return None if low is None or high is None else bool(low <= value <= high)


def chain_outcomes(seed_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per chain of a seed: its truths and whether each interval covers them (None: no interval)."""
    out = []
    for r in seed_result["chains"]:
        treated = r.get("treated") or 0
        conv_low, conv_high = r.get("conversion_ci_low"), r.get("conversion_ci_high")
        true_share = r["truth_horizon_buyers"] / treated if treated else None
        out.append(
            {
                "seed": seed_result["seed"],
                "chain_id": r["chain_id"],
                "true_uplift": r["true_uplift"],
                "sends": r["sends"],
                "true_revenue": r["true_revenue"],
                "truth_horizon_revenue": r["truth_horizon_revenue"],
                "measured_revenue": r["measured_revenue"],
                "revenue_reason": r["reason"],
                "covered_chain": _covers(r["ci_low"], r["ci_high"], r["true_revenue"]),
                "covered_horizon": _covers(r["ci_low"], r["ci_high"], r["truth_horizon_revenue"]),
                "revenue_significant": bool(r.get("significant")),
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "conversion_uplift": r.get("conversion_uplift"),
                "conversion_reason": r.get("conversion_reason"),
                "true_conversion": true_share,
                "covered_conversion": (
                    None if true_share is None else _covers(conv_low, conv_high, true_share)
                ),
                "conversion_significant": bool(r.get("conversion_significant")),
                "conversion_ci_low": conv_low,
                "conversion_ci_high": conv_high,
            }
        )
    return out


def _share(hits: int, n: int) -> dict[str, Any]:
    """hits of n with its Wilson 95 % interval."""
    if not n:
        return {"hits": 0, "n": 0, "share": None, "low": None, "high": None}
    from lifecycle.reports.stats import wilson

    low, high = wilson(hits, n)
    return {"hits": hits, "n": n, "share": hits / n, "low": low, "high": high}


def pool(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled figures over seeds: coverage (overall and per chain), zero-effect significance, negative-chain
    flags and experiment picks."""
    outcomes = [o for r in results for o in chain_outcomes(r)]
    per_chain: dict[str, dict[str, Any]] = {}
    for chain_id in sorted({o["chain_id"] for o in outcomes}):
        mine = [o for o in outcomes if o["chain_id"] == chain_id]
        per_chain[chain_id] = {
            "true_uplift": mine[0]["true_uplift"],
            "seeds": len(mine),
            "sent_seeds": sum(o["sends"] > 0 for o in mine),
            "mean_sends": sum(o["sends"] for o in mine) / len(mine),
            **{
                key: _share(
                    sum(bool(o[key]) for o in mine if o[key] is not None),
                    sum(o[key] is not None for o in mine),
                )
                for key in ("covered_horizon", "covered_chain", "covered_conversion")
            },
            "reasons": _count(o["revenue_reason"] for o in mine if o["revenue_reason"]),
        }
    pooled = {
        key: _share(
            sum(bool(o[key]) for o in outcomes if o[key] is not None),
            sum(o[key] is not None for o in outcomes),
        )
        for key in ("covered_horizon", "covered_chain", "covered_conversion")
    }
    zero = [o for o in outcomes if o["true_uplift"] == 0 and o["sends"] > 0]
    zero_revenue = [o for o in zero if o["covered_horizon"] is not None]
    zero_conversion = [o for o in zero if o["covered_conversion"] is not None]
    negative = [o for o in outcomes if (o["true_uplift"] or 0) < 0 and o["sends"] > 0]
    negative_measured = [
        o for o in negative if o["measured_revenue"] is not None or o["conversion_uplift"] is not None
    ]
    negative_flagged = [o for o in negative_measured if _flags_loss(o)]
    # A loss an interval can see: the true loss exceeds one standard error of the revenue estimate, or of the
    # conversion estimate (the revenue of a chain is often not measured where its conversion is).
    negative_visible = [o for o in negative_measured if _visible_loss(o)]
    negative_gain = [o for o in negative_measured if o["revenue_significant"] and o["ci_low"] > 0]
    negative_loss = [o for o in negative_measured if _significant_loss(o)]
    return {
        "seeds": sorted(r["seed"] for r in results),
        "chain_seeds": len(outcomes),
        "coverage": pooled,
        "per_chain": per_chain,
        "zero_effect": {
            "revenue": _share(sum(o["revenue_significant"] for o in zero_revenue), len(zero_revenue)),
            "conversion": _share(
                sum(o["conversion_significant"] for o in zero_conversion), len(zero_conversion)
            ),
            "flagged": [
                (o["chain_id"], o["seed"])
                for o in zero
                if o["revenue_significant"] or o["conversion_significant"]
            ],
        },
        "negative": {
            **_share(len(negative_flagged), len(negative_measured)),
            "visible": _share(sum(_flags_loss(o) for o in negative_visible), len(negative_visible)),
            "significant_gain": _share(len(negative_gain), len(negative_measured)),
            "significant_loss": _share(len(negative_loss), len(negative_measured)),
            "not_significant": [
                (o["chain_id"], o["seed"]) for o in negative_measured if not _significant_loss(o)
            ],
            "missed": [(o["chain_id"], o["seed"]) for o in negative_measured if not _flags_loss(o)],
        },
        "experiments": experiment_picks(results),
        "seconds_per_seed": [r["seconds"] for r in sorted(results, key=lambda r: r["seed"])],
    }


def _flags_loss(o: dict[str, Any]) -> bool:
    """A loss is flagged when the revenue or conversion estimate is negative (a significant loss is one)."""
    return any(v is not None and v < 0 for v in (o["measured_revenue"], o["conversion_uplift"]))


def _visible_loss(o: dict[str, Any]) -> bool:
    """The true loss exceeds one standard error (a 95 % interval's half width / 1.96) of its estimate, in
    revenue or in conversion."""
    revenue = o["ci_low"] is not None and o["truth_horizon_revenue"] < -(o["ci_high"] - o["ci_low"]) / (
        2 * 1.96
    )
    conversion = (
        o["conversion_ci_low"] is not None
        and o["true_conversion"] is not None
        and o["true_conversion"] < -(o["conversion_ci_high"] - o["conversion_ci_low"]) / (2 * 1.96)
    )
    return bool(revenue or conversion)


def _significant_loss(o: dict[str, Any]) -> bool:
    """The reports declare a loss: the revenue or the conversion interval lies wholly below zero."""
    revenue = o["revenue_significant"] and o["ci_high"] is not None and o["ci_high"] < 0
    conversion = (
        o["conversion_significant"] and o["conversion_ci_high"] is not None and o["conversion_ci_high"] < 0
    )
    return bool(revenue or conversion)


def experiment_picks(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per experiment and seed: is the top P(best) variant (and the declared winner) the truly best one? The
    true difference is "large for the sample" when the best variant's uplift exceeds the runner-up's by more
    than twice the standard error of the observed difference in conversion between them."""
    picks = []
    for r in results:
        for e in r["experiments"]:
            variants = [v for v in e["variants"] if v["true_uplift"] is not None and v["sent"] > 0]
            if len(variants) < 2:
                continue
            ranked = sorted(variants, key=lambda v: v["true_uplift"], reverse=True)
            best, second = ranked[0], ranked[1]
            gap = best["true_uplift"] - second["true_uplift"]
            sent = best["sent"] + second["sent"]
            # pooled conversion with one success and one failure added, so that a handful of sends without
            # any conversion does not make the standard error vanish
            p = (best["converted"] + second["converted"] + 1) / (sent + 2)
            se = math.sqrt(p * (1 - p) * (1 / best["sent"] + 1 / second["sent"]))
            top = max(variants, key=lambda v: v["p_best"] or 0.0)
            picks.append(
                {
                    "seed": r["seed"],
                    "experiment": f"{e['chain_id']}/{e['step_id']}",
                    "bandit": e["bandit"],
                    "true_best": best["variant"] if gap > 0 else None,
                    "gap": gap,
                    "se": se,
                    "large": gap > 2 * se,
                    "top": top["variant"],
                    "winner": e["winner"],
                    "sends": {v["variant"]: v["sent"] for v in variants},
                }
            )
    clear = [p for p in picks if p["true_best"] is not None]
    large = [p for p in clear if p["large"]]
    declared = [p for p in picks if p["winner"] is not None]
    wrong = [p for p in picks if p["true_best"] is not None and p["top"] != p["true_best"]]
    by_kind = {
        kind: {
            "top_correct_large": _share(
                sum(p["top"] == p["true_best"] for p in large if p["bandit"] == bandit),
                sum(p["bandit"] == bandit for p in large),
            ),
            "winner_declared_large": _share(
                sum(p["winner"] is not None for p in large if p["bandit"] == bandit),
                sum(p["bandit"] == bandit for p in large),
            ),
        }
        for kind, bandit in (("ab", False), ("bandit", True))
    }
    return {
        "picks": picks,
        "by_kind": by_kind,
        "false_picks": [(p["seed"], p["experiment"], p["top"], p["true_best"]) for p in wrong],
        "false_winners": [
            (p["seed"], p["experiment"], p["winner"], p["true_best"])
            for p in declared
            if p["winner"] != p["true_best"]
        ],
        "top_correct_large": _share(sum(p["top"] == p["true_best"] for p in large), len(large)),
        "top_correct_all": _share(sum(p["top"] == p["true_best"] for p in clear), len(clear)),
        "winner_correct": _share(sum(p["winner"] == p["true_best"] for p in declared), len(declared)),
    }


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return dict(sorted(counts.items()))


def _pct(share: dict[str, Any]) -> str:
    if not share["n"]:
        return "—"
    return f"{share['hits']}/{share['n']} = {share['share']:.0%}"


def format_pooled(pooled: dict[str, Any]) -> str:
    """The per-chain coverage table and the pooled figures, for the terminal."""
    header = (
        f"{'chain':<20} {'uplift':>7} {'sent in':>7} {'sends':>6}  {'revenue (horizon)':<18} "
        f"{'revenue (truth_chain)':<22} {'conversion':<14} {'no interval: why (seeds)'}"
    )
    lines = [header, "-" * len(header)]
    for chain_id, c in pooled["per_chain"].items():
        uplift = "—" if c["true_uplift"] is None else f"{c['true_uplift']:+.3f}"
        reasons = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c["reasons"].items())
        lines.append(
            f"{chain_id:<20} {uplift:>7} {c['sent_seeds']:>7} {c['mean_sends']:>6.0f}  "
            f"{_pct(c['covered_horizon']):<18} {_pct(c['covered_chain']):<22} "
            f"{_pct(c['covered_conversion']):<14} {reasons}"
        )
    cov = pooled["coverage"]

    def line(name: str, share: dict[str, Any]) -> str:
        if not share["n"]:
            return f"{name}: no chain-seed with an interval"
        return (
            f"{name}: {share['hits']} of {share['n']} = {share['share']:.1%} "
            f"(95 % Wilson {share['low']:.1%}–{share['high']:.1%})"
        )

    exp = pooled["experiments"]
    lines += [
        f"seeds {pooled['seeds'][0]}..{pooled['seeds'][-1]} ({len(pooled['seeds'])}), "
        f"{pooled['chain_seeds']} chain-seeds",
        line("revenue intervals covering the horizon truth", cov["covered_horizon"]),
        line("revenue intervals covering sim.truth_chain", cov["covered_chain"]),
        line("conversion intervals covering the true change", cov["covered_conversion"]),
        line("zero-effect chains, revenue declared significant", pooled["zero_effect"]["revenue"]),
        line("zero-effect chains, conversion declared significant", pooled["zero_effect"]["conversion"])
        + (f" {pooled['zero_effect']['flagged']}" if pooled["zero_effect"]["flagged"] else ""),
        line("negative chain flagged (negative estimate)", pooled["negative"])
        + (f"; missed {pooled['negative']['missed']}" if pooled["negative"]["missed"] else ""),
        line("negative chain flagged where its true loss exceeds one SE", pooled["negative"]["visible"]),
        line("negative chain declared a significant gain", pooled["negative"]["significant_gain"]),
        line("negative chain declared a significant loss", pooled["negative"]["significant_loss"]),
        line("experiments, top P(best) is the truly best (gap > 2 SE)", exp["top_correct_large"]),
        line("experiments, top P(best) is the truly best (any gap)", exp["top_correct_all"]),
        line("experiments, declared winner is the truly best", exp["winner_correct"]),
        line(
            "A/B tests, top P(best) is the truly best (gap > 2 SE)", exp["by_kind"]["ab"]["top_correct_large"]
        ),
        line("A/B tests, a winner declared (gap > 2 SE)", exp["by_kind"]["ab"]["winner_declared_large"]),
        line(
            "bandits, top P(best) is the truly best (gap > 2 SE)",
            exp["by_kind"]["bandit"]["top_correct_large"],
        ),
        line("bandits, a winner declared (gap > 2 SE)", exp["by_kind"]["bandit"]["winner_declared_large"]),
    ]
    if exp["false_picks"]:
        lines.append(
            f"experiments whose top P(best) is not the truly best (seed, step, top, best): "
            f"{exp['false_picks']}"
        )
    return "\n".join(lines)


# --- running seeds ---------------------------------------------------------------------------------------


def _run_to_file(spec: SeedSpec, out: Path, keep: bool = False) -> dict[str, Any]:
    folder = out / f"seed_{spec.seed:03d}"
    if (folder / "run.duckdb").exists() and (folder / "simulated").exists():
        result = remeasure(spec, folder)  # simulated before, its measurement failed: measure again
    else:
        shutil.rmtree(folder, ignore_errors=True)
        result = run_seed(spec, folder, keep=True)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    path = out / f"seed_{spec.seed:03d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str, ensure_ascii=False))
    tmp.replace(path)
    return result


def run_seeds(
    seeds: list[int],
    out: Path,
    days: int = DEFAULT_DAYS,
    customers: int = DEFAULT_CUSTOMERS,
    jobs: int = 2,
    end: datetime = DEFAULT_END,
    history_days: int = 730,
    holdout_share: float | None = DEFAULT_HOLDOUT_SHARE,
    rerun: bool = False,
    progress=None,
    run_missing: bool = True,
    scenario: str = "default",
    keep: bool = False,
) -> list[dict[str, Any]]:
    """Run every seed not yet in ``out`` (``jobs`` processes at a time); all seeds' figures. With
    ``run_missing`` false, only the seeds already there; with ``keep``, each seed's warehouse stays in
    ``out/seed_NNN/run.duckdb`` for a closer look."""
    progress = progress or (lambda message: None)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    todo = []
    for seed in seeds:
        path = out / f"seed_{seed:03d}.json"
        done = None if rerun or not path.exists() else json.loads(path.read_text())
        spec = SeedSpec(seed, days, customers, end, history_days, holdout_share, scenario)
        if done and done.get("spec") == _spec_dict(spec):
            results[seed] = done
        else:
            todo.append(spec)
    if results:
        progress(f"{len(results)} seeds already in {out}: {sorted(results)}")
    started = time.monotonic()
    if todo and not run_missing:
        progress(f"not run: seeds {[spec.seed for spec in todo]}")
    elif todo:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_run_to_file, spec, out, keep): spec.seed for spec in todo}
            for future in as_completed(futures):
                if future.exception() is not None:
                    failed = futures[future]
                    progress(
                        f"seed {failed} failed (kept in {out / f'seed_{failed:03d}'}): {future.exception()!r}"
                    )
                    continue
                result = future.result()
                results[result["seed"]] = result
                progress(
                    f"seed {result['seed']} done in {result['seconds']:.0f} s "
                    f"({len(results)}/{len(seeds)}, {time.monotonic() - started:.0f} s so far)"
                )
    return [results[s] for s in sorted(results)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.simulate.coverage", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="simulated days per seed (default 7)")
    parser.add_argument(
        "--customers", type=int, default=DEFAULT_CUSTOMERS, help="customers per seed (default 3000)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="seeds run at a time (default 2)")
    parser.add_argument("--end", type=datetime.fromisoformat, default=DEFAULT_END, help="last hour (UTC)")
    parser.add_argument("--history-days", type=int, default=730, help="history before the weeks")
    parser.add_argument(
        "--holdout-share",
        type=lambda text: None if text == "files" else float(text),
        default=DEFAULT_HOLDOUT_SHARE,
        help="every chain's holdout share instead of its file's (default 0.5; 'files': the files')",
    )
    parser.add_argument(
        "--scenario",
        default="default",
        help="the chain map and response of the seeds (lifecycle.simulate.scenarios: default, decisive)",
    )
    parser.add_argument("--out", default="data/coverage", help="folder of the per-seed figures")
    parser.add_argument("--rerun", action="store_true", help="run seeds again even if their figures exist")
    parser.add_argument("--keep", action="store_true", help="keep each seed's warehouse in --out/seed_NNN")
    parser.add_argument("--json", action="store_true", help="also print the pooled figures as JSON")
    parser.add_argument("--pool-only", action="store_true", help="pool the seeds already in --out, run none")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        print("error: --seeds and --jobs must be at least 1", file=sys.stderr)
        return 2
    from lifecycle.simulate.scenarios import SCENARIOS

    if args.scenario not in SCENARIOS:
        print(f"error: --scenario must be one of {sorted(SCENARIOS)}, got {args.scenario!r}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = run_seeds(
        list(range(args.first_seed, args.first_seed + args.seeds)),
        Path(args.out),
        days=args.days,
        customers=args.customers,
        jobs=args.jobs,
        end=args.end,
        history_days=args.history_days,
        holdout_share=args.holdout_share,
        rerun=args.rerun,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
        run_missing=not args.pool_only,
        scenario=args.scenario,
        keep=args.keep,
    )
    if not results:
        print(f"error: no seed's figures in {args.out}", file=sys.stderr)
        return 1
    pooled = pool(results)
    print(format_pooled(pooled))
    print(
        f"{len(results)} seeds in {time.monotonic() - started:.0f} s with {args.jobs} processes",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(pooled, indent=1, default=str, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
