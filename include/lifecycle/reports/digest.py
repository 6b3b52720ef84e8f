"""Short Markdown digests of a run (at most 1000 characters, the limit of a DAG-run note in Airflow 3.3).

The full summary is on the run's "Run summary" tab; the note only has to say, at a glance in the grid, what
the run did. Labels are bilingual like the tab's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

NOTE_LIMIT = 1000


def chains_digest(summary: dict[str, Any], limit: int = NOTE_LIMIT) -> str:
    """A chains run in the funnel's own words (:mod:`lifecycle.reports.labels`): entered, exited, due, held
    back, suppressed, holdout, global control, planned, sent and failed, overall and for the busiest chains,
    and the main reasons for holding back."""
    from lifecycle.reports.labels import STAGE, reason_label

    keys = (
        "entered",
        "exited",
        "due",
        "held",
        "suppressed",
        "holdout",
        "global_control",
        "planned",
        "sent",
        "failed",
    )
    chains: dict[str, dict[str, int]] = {}

    def chain(chain_id: str) -> dict[str, int]:
        return chains.setdefault(chain_id, dict.fromkeys(keys, 0))

    for f in summary.get("chains", []):
        c = chain(f["chain_id"])
        c["entered"] += int(f["entered"] or 0)
        c["exited"] += int(f["exited"] or 0)
    reasons: dict[str, int] = {}
    for s in summary["funnel"]:
        c = chain(s["chain_id"])
        c["due"] += s["due"] or s["planned"] + sum(s["held"].values()) + sum(s["suppressed"].values())
        c["held"] += sum(s["held"].values())
        c["suppressed"] += sum(s["suppressed"].values())
        c["holdout"] += s["holdout"]
        c["global_control"] += s["global_control"]
        for key in ("planned", "sent", "failed"):
            c[key] += s[key]
        for reason, n in [*s["held"].items(), *s["suppressed"].items()]:
            reasons[reason] = reasons.get(reason, 0) + n
    total = {k: sum(c[k] for c in chains.values()) for k in keys}
    bold = {"entered", "due", "planned", "sent"}

    def figure(key: str) -> str:
        ru, en = STAGE[key]
        n = f"**{total[key]}**" if key in bold else str(total[key])
        return f"{en} ({ru.lower()}) {n}"

    head = ["### Цепочки / Chains", " · ".join(figure(k) for k in keys), ""]
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
        head[-1:] = [
            "Why held back or suppressed: " + ", ".join(f"{reason_label(r)[1]} {n}" for r, n in top),
            "",
        ]
    status = summary.get("status")
    if status == "unfinished":
        head[-1:] = ["**Not finished (не завершён): steps are due but none decided yet**", ""]
    failures = summary.get("failures", [])
    if failures:
        names = ", ".join(f"{f['chain_id']} ({f['phase']})" for f in failures)
        head[-1:] = [f"**Failed chains (ошибка цепочки): {names}**", ""]
    rows = [
        f"* {cid}: entered {c['entered']}, due {c['due']} → planned {c['planned']}, sent {c['sent']}"
        + (f", failed {c['failed']}" if c["failed"] else "")
        for cid, c in sorted(chains.items(), key=lambda kv: (-kv[1]["due"], -kv[1]["entered"], kv[0]))
    ]
    return _fit(head, rows, "Details: Run summary tab / вкладка Run summary", limit)


def ingest_digest(summary: dict[str, Any], limit: int = NOTE_LIMIT) -> str:
    """Rows read, loaded and quarantined by the run, and the main quarantine reasons."""
    tables = summary["tables"]
    read = sum(t["rows_read"] for t in tables)
    loaded = sum(t["rows_loaded"] for t in tables)
    quarantined = sum(t["rows_quarantined"] for t in tables)
    reasons: dict[str, int] = {}
    for q in summary["quarantine"]:
        reasons[q["reason"]] = reasons.get(q["reason"], 0) + int(q["row_count"])
    head = [
        "### Загрузка / Ingest",
        f"Read **{read}** · loaded **{loaded}** · quarantined (карантин) **{quarantined}**",
        "",
    ]
    rows = [f"* {reason}: {n}" for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    return _fit(head, rows, "Details: Run summary tab", limit)


def scores_digest(summary: dict[str, Any], limit: int = NOTE_LIMIT) -> str:
    """The scored date, customers, model versions and the largest RFM segments."""
    run = summary["run"]
    if run is None:
        return "### Скоринг / Scores\nNothing scored in this run (date already scored)."
    head = [
        "### Скоринг / Scores",
        f"As of **{run['as_of']}** · customers **{run['customers']}**"
        f" · churn model v{run['churn_model_version']} · LTV model v{run['ltv_model_version']}",
        "",
    ]
    top = sorted((s for s in summary["segments"] if s["customers"]), key=lambda s: -s["customers"])
    rows = [f"* {s['rfm_code']} {s['segment_ru']}: {s['customers']}" for s in top]
    return _fit(head, rows, "Details: Run summary tab", limit)


def reports_digest(
    figures: dict[str, Any],
    overview: dict[str, Any] | None = None,
    limit: int = NOTE_LIMIT,
    today: date | None = None,
) -> str:
    """What a reports run recomputed and, when given, the period's incremental revenue and conversion uplift
    per chain: a figure only where the reports give one, else the reason, in the CRM overview's words
    (:mod:`lifecycle.reports.uplift_verdict`); then each step with its own holdout that has a verdict
    (:mod:`lifecycle.reports.step_lift`): the verdict in the marketer's words and the net of cost with its
    interval, after a line saying that the figures are not final while the period's last purchases are still
    coming in on ``today`` (UTC today by default). Chains with neither figure and steps without a verdict are
    listed by reason, after the others; nothing about steps when none has its own holdout."""
    from lifecycle.reports.uplift_verdict import conversion_verdict, money_text, points_text, verdict

    head = [
        "### Отчёты / Reports",
        f"Report date **{figures['report_date']}**, recomputed from {figures['recomputed_from']}",
        "",
    ]
    rows, not_shown = [], {}
    for c in (overview or {}).get("chains", []):
        u = c.get("uplift")
        said, said_conversion = verdict(u), conversion_verdict(u)
        if not said.measurable and not said_conversion.measurable:
            not_shown.setdefault(said.text, []).append(c["chain_id"])
            continue
        if said.measurable:
            ci = f"[{money_text(u['ci_low'])}; {money_text(u['ci_high'])}]"
            line = f"incremental revenue {money_text(u['incremental_revenue'])} {ci}, {said.text}"
        else:
            line = f"incremental revenue not shown: {said.text}"
        if said_conversion.measurable:
            ci = f"[{points_text(u['conversion_ci_low'])}; {points_text(u['conversion_ci_high'])}]"
            line += f"; conversion {points_text(u['conversion_uplift'])} {ci}, {said_conversion.text}"
        rows.append(f"* {c['chain_id']}: {line}")
    step_rows, steps_not_shown = _step_lines(overview or {}, today)
    rows += step_rows
    rows += [f"* no figure, {reason}: {', '.join(chains)}" for reason, chains in not_shown.items()]
    rows += [f"* no step verdict, {reason}: {', '.join(steps)}" for reason, steps in steps_not_shown.items()]
    return _fit(head, rows, "CRM overview: Browse → CRM overview", limit)


def _step_lines(overview: dict[str, Any], today: date | None) -> tuple[list[str], dict[str, list[str]]]:
    """The note's lines on the steps with their own holdout: one per step with a verdict (a clear verdict
    before "not yet clear"), led by the line on purchases still coming in when there is one; and the other
    steps by the label of why they have no verdict."""
    from lifecycle.reports.step_lift import VERDICT_LABELS, days_still_counting, outcome_label
    from lifecycle.reports.uplift_verdict import money_text

    steps = overview.get("step_lift", [])
    judged = sorted(
        (s for s in steps if s["verdict"] is not None),
        key=lambda s: (s["verdict"] == "unclear", s["chain_id"], s["step_id"]),
    )
    not_shown: dict[str, list[str]] = {}
    for s in steps:
        if s["verdict"] is None:
            ru, en = outcome_label(s)
            not_shown.setdefault(f"{ru} / {en}", []).append(f"{s['chain_id']}.{s['step_id']}")
    lines = []
    for s in judged:
        ru, en = VERDICT_LABELS[s["verdict"]]
        net = money_text(s["net"])
        if s["net_ci_low"] is not None and s["net_ci_high"] is not None:
            net += f" [{money_text(s['net_ci_low'])}; {money_text(s['net_ci_high'])}]"
        lines.append(f"* step {s['chain_id']}.{s['step_id']}: {ru} / {en}, net of cost {net}")
    first, last = overview.get("first_day"), overview.get("last_day")
    if judged and first is not None and last is not None:
        days = days_still_counting(first, last, judged[0]["window_days"], today)
        if days:
            which = "the last day's" if days == 1 else f"the last {days} days'"
            lines.insert(0, f"* steps not final (не окончательно): {which} purchases still coming in")
    return lines, not_shown


def _fit(head: list[str], rows: list[str], footer: str, limit: int) -> str:
    """Head, as many rows as fit, a '+N more' line when some do not, and the footer; never over ``limit``."""
    for shown in range(len(rows), -1, -1):
        more = [f"* … +{len(rows) - shown} more"] if shown < len(rows) else []
        text = "\n".join([*head, *rows[:shown], *more, "", footer]).strip()
        if len(text) <= limit:
            return text
    return "\n".join(head)[:limit]
