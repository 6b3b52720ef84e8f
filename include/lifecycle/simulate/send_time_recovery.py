"""Does the send-time lift report recover the truth? Seeds of the real simulation, one at a time.

``python -m lifecycle.simulate.send_time_recovery --seeds 3 --days 6 --customers 2500 --out DIR
[--timed busy|files] [--hour-peak 1.5 --hour-floor 0.6] [--holdout 0.5] [--settle-days 1]``

Each seed is one :class:`lifecycle.simulate.Simulation`. Its customers open a message with a probability the
simulation knows (channel, chain, engagement and the distance between the arrival hour and their hidden
preferred hour: :mod:`lifecycle.demo.response`), so the true open rate of each arm of each timed chain is the
mean of those probabilities over the messages the arm actually sent (``sim.truth_send_time``). Per seed and
chain, and pooled over the chains, :func:`lifecycle.simulate.compare.send_time_recovery` sets the report's
open lift and its 95 % interval against that true lift. Over the seeds: how often the intervals cover the true
lift, and how often the pooled optimal arm is opened more than the default one (the measured difference has
the true difference's sign).

``--timed files`` keeps the chain files' timed steps and send-time holdouts (win-back and cross-sell, a
fifth held out); ``--timed busy`` (the default) also times the busiest marketing emails (birthday, product
line update) and holds ``--holdout`` of each timed chain out, so a few days give both arms enough sends.
``--settle-days`` leaves the last days' sends out of the measurement (their opens are still coming: a
message is opened at the customer's reading hour, up to a day after it arrives); 0 measures up to the end,
as a report read on the last day would.

Every seed's figures go to ``DIR/seed_NNN.json`` as soon as it is done; a seed already there with the same
settings is not run again. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from lifecycle.reports.send_time import SETTLE_DAYS

DEFAULT_END = datetime(2026, 6, 30, 11)
#: The chains and steps ``--timed busy`` sends at the customers' best hours.
BUSY_TIMED = {
    "birthday": ("email_1",),
    "product_line_update": ("email_1",),
    "win_back": ("email_1", "email_2", "email_3", "email_4"),
    "cross_sell": ("email_1",),
}


@dataclass(frozen=True)
class RecoverySpec:
    seed: int
    days: int = 6
    customers: int = 2500
    timed: str = "busy"
    holdout: float = 0.5
    hour_peak: float = 1.5
    hour_floor: float = 0.6
    settle_days: int = SETTLE_DAYS
    history_days: int = 365
    end: datetime = DEFAULT_END

    def __post_init__(self) -> None:
        if self.timed not in ("busy", "files"):
            raise ValueError(f"timed must be 'busy' or 'files', got {self.timed!r}")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be between 0 and 1, got {self.holdout}")
        if not 0 <= self.settle_days < self.days:
            raise ValueError(f"settle_days must be in [0, days), got {self.settle_days}")


def chain_map(folder: Path, timed: str, holdout: float) -> Path:
    """A copy of the chain files in ``folder``: as they are (``files``), or with :data:`BUSY_TIMED` timed
    and ``holdout`` of each of those chains held out (``busy``)."""
    from lifecycle.chains.config import CHAINS_DIR

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(CHAINS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if timed == "busy":
            chain = yaml.safe_load(text)
            if chain["id"] in BUSY_TIMED:
                chain["send_time_holdout"] = holdout
                for step in chain["steps"]:
                    step["send_time"] = "optimal" if step["id"] in BUSY_TIMED[chain["id"]] else "default"
            text = yaml.safe_dump(chain, allow_unicode=True)
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder


def measured_days(start: datetime, end: datetime, settle_days: int) -> tuple[date, date]:
    """The send days measured: from the first simulated day to the last whose sends had ``settle_days``
    whole days before the end (``settle_days`` 0: up to the end's own day)."""
    if settle_days == 0:
        return start.date(), end.date()
    return start.date(), (end - timedelta(days=settle_days + 1)).date()


def run_seed(spec: RecoverySpec, folder: Path, progress=None) -> dict[str, Any]:
    """One simulation of ``spec`` in ``folder``; the recovery rows and the learned hours' agreement."""
    from lifecycle.demo.response import ResponseConfig
    from lifecycle.simulate.engine import Simulation, SimulationConfig

    started = time.monotonic()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = SimulationConfig(
        days=spec.days,
        customers=spec.customers,
        seed=spec.seed,
        end=spec.end,
        history_days=spec.history_days,
        outbox=folder / "outbox",
        chains_folder=chain_map(folder / "chains", spec.timed, spec.holdout)
        if spec.timed == "busy"
        else None,
        response=ResponseConfig(hour_peak=spec.hour_peak, hour_floor=spec.hour_floor),
    )
    simulation = Simulation(f"duckdb:///{folder / 'run.duckdb'}", config, progress)
    simulation.build()
    result = simulation.run()
    figures = measure(simulation.warehouse, result.start, result.end, spec.settle_days, spec.seed)
    simulation.warehouse.engine.dispose()
    return {
        "seed": spec.seed,
        "spec": spec_dict(spec),
        "seconds": round(time.monotonic() - started, 1),
    } | figures


def measure(warehouse, start: datetime, end: datetime, settle_days: int, seed: int = 0) -> dict[str, Any]:
    """The recovery rows, the re-draws of the pooled lift and the learned hours' agreement of a simulated
    warehouse whose hours ran ``start``..``end``."""
    from lifecycle.simulate.compare import send_hour_agreement, send_time_recovery, send_time_redraws

    first_day, last_day = measured_days(start, end, settle_days)
    return {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "rows": send_time_recovery(warehouse, first_day, last_day),
        "redraws": send_time_redraws(warehouse, first_day, last_day, seed=seed),
        "hours": send_hour_agreement(warehouse),
    }


def spec_dict(spec: RecoverySpec) -> dict[str, Any]:
    return asdict(spec) | {"end": spec.end.isoformat()}


def summary(results: list[dict[str, Any]], min_sends: int = 1) -> dict[str, Any]:
    """Over the seeds: the chains' intervals covering the true lift (chains with ``min_sends`` in each
    arm), the pooled intervals covering it, the seeds whose pooled measured and true lifts are positive, and
    the seeds whose pooled interval lies above zero."""
    chains = [
        r
        for res in results
        for r in res["rows"]
        if r["chain_id"] != "*"
        and r["covered"] is not None
        and min(r["sent_optimal"], r["sent_default"]) >= min_sends
    ]
    pooled = [r for res in results for r in res["rows"] if r["chain_id"] == "*" and r["covered"] is not None]
    return {
        "seeds": len(results),
        "chains": len(chains),
        "chains_covered": sum(bool(r["covered"]) for r in chains),
        "pooled": len(pooled),
        "pooled_covered": sum(bool(r["covered"]) for r in pooled),
        "pooled_true_positive": sum(r["true_lift"] > 0 for r in pooled),
        "pooled_measured_positive": sum(r["open_lift"] > 0 for r in pooled),
        "pooled_above_zero": sum(r["ci_low"] > 0 for r in pooled),
    }


def format_seeds(results: list[dict[str, Any]]) -> str:
    """One line per seed: the pooled sends, true and measured lift with its interval, covered or not."""

    def pp(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:+.1f}"

    head = (
        f"{'seed':>4}  {'sent opt/def':>13}  {'true lift pp':>12}  {'measured pp [95 % CI]':>24}  "
        f"{'covered':>7}  {'chains covered':>14}  {'hours ±2 h':>10}  {'re-draws: covered':>17}  "
        f"{'> 0':>5}  {'CI > 0':>6}  {'sends/arm for 80 %':>18}"
    )
    lines = [head, "-" * len(head)]
    for res in results:
        pooled = next((r for r in res["rows"] if r["chain_id"] == "*"), None)
        chains = [r for r in res["rows"] if r["chain_id"] != "*" and r["covered"] is not None]
        hours = res["hours"].get("within_2h")
        if pooled is None or pooled["ci_low"] is None:
            lines.append(f"{res['seed']:>4}  no timed message in both arms")
            continue
        interval = f"{pp(pooled['open_lift'])} [{pp(pooled['ci_low'])}, {pp(pooled['ci_high'])}]"
        lines.append(
            f"{res['seed']:>4}  {pooled['sent_optimal']:>6}/{pooled['sent_default']:<6}  "
            f"{pp(pooled['true_lift']):>12}  {interval:>24}  "
            f"{'yes' if pooled['covered'] else 'NO':>7}  "
            f"{sum(bool(r['covered']) for r in chains):>7}/{len(chains):<6}  "
            f"{'—' if hours is None else f'{hours:.0%}':>10}  {_redraws(res.get('redraws'))}"
        )
    s = summary(results)
    lines.append(
        f"pooled intervals covering the true lift: {s['pooled_covered']}/{s['pooled']}; per chain: "
        f"{s['chains_covered']}/{s['chains']}; pooled optimal arm opened more (measured): "
        f"{s['pooled_measured_positive']}/{s['pooled']} (truth: {s['pooled_true_positive']}/{s['pooled']}); "
        f"pooled interval above zero: {s['pooled_above_zero']}/{s['pooled']}"
    )
    return "\n".join(lines)


def _redraws(redraws: dict[str, Any] | None) -> str:
    if not redraws or redraws.get("true_lift") is None:
        return ""
    needed = (
        "—"
        if redraws["sent_optimal_needed"] is None
        else f"{redraws['sent_optimal_needed']}/{redraws['sent_default_needed']}"
    )
    return (
        f"{redraws['covered']:>17.0%}  {redraws['measured_positive']:>5.0%}  {redraws['above_zero']:>6.0%}  "
        f"{needed:>18}"
    )


def main(argv: list[str] | None = None) -> int:
    from lifecycle.simulate.compare import format_recovery

    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.simulate.send_time_recovery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--days", type=int, default=6, help="simulated days per seed (default 6)")
    parser.add_argument("--customers", type=int, default=2500, help="customers per seed (default 2500)")
    parser.add_argument("--timed", choices=("busy", "files"), default="busy", help="which steps are timed")
    parser.add_argument("--holdout", type=float, default=0.5, help="send-time holdout with --timed busy")
    parser.add_argument("--hour-peak", type=float, default=1.5, help="open factor at the preferred hour")
    parser.add_argument("--hour-floor", type=float, default=0.6, help="open factor far from it")
    parser.add_argument(
        "--settle-days", type=int, default=SETTLE_DAYS, help=f"last days' sends left out ({SETTLE_DAYS})"
    )
    parser.add_argument("--history-days", type=int, default=365, help="history before the days")
    parser.add_argument("--out", default="data/send_time_recovery", help="folder of the per-seed figures")
    parser.add_argument("--keep", action="store_true", help="keep each seed's warehouse")
    args = parser.parse_args(argv)
    try:
        specs = [
            RecoverySpec(
                seed,
                args.days,
                args.customers,
                args.timed,
                args.holdout,
                args.hour_peak,
                args.hour_floor,
                args.settle_days,
                args.history_days,
            )
            for seed in range(args.first_seed, args.first_seed + args.seeds)
        ]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for spec in specs:
        path = out / f"seed_{spec.seed:03d}.json"
        done = json.loads(path.read_text()) if path.exists() else None
        if done is None or done.get("spec") != spec_dict(spec):
            print(f"seed {spec.seed}: simulating", file=sys.stderr, flush=True)
            folder = out / f"seed_{spec.seed:03d}"
            done = json.loads(json.dumps(run_seed(spec, folder), default=str))
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
            path.write_text(json.dumps(done, indent=1, ensure_ascii=False))
            print(f"seed {spec.seed} done in {done['seconds']:.0f} s", file=sys.stderr, flush=True)
        results.append(done)
        print(f"seed {spec.seed} ({done['first_day']} – {done['last_day']}):")
        print(format_recovery(done["rows"]))
    print()
    print(format_seeds(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
