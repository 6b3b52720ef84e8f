"""The two pages: the Run summary tab of a DAG run and the CRM overview. Each takes a reader (anything with
``fetch_all(sql_file, **params)``) and returns HTML; the data comes from :mod:`lifecycle.reports`."""

from __future__ import annotations

from datetime import date
from typing import Any

from lifecycle_providers.ui import render as r

CHAINS_DAG, INGEST_DAG, SCORES_DAG, REPORTS_DAG = (
    "lifecycle_chains",
    "lifecycle_ingest",
    "lifecycle_scores",
    "lifecycle_reports",
)
STAGES = (
    ("due", "К отправке / Due"),
    ("held", "Отложено / Held back"),
    ("suppressed", "Отклонено / Suppressed"),
    ("holdout", "Контроль цепочки / Holdout"),
    ("global_control", "Глобальный контроль / Global control"),
    ("planned", "Запланировано / Planned"),
    ("sent", "Отправлено / Sent"),
    ("failed", "Ошибка / Failed"),
)


def run_summary(reader, dag_id: str, run_id: str, chains: dict[str, Any] | None = None) -> str:
    """The Run summary tab: what this run did, by kind of DAG."""
    from lifecycle.reports import digest, read

    title = f"Итоги запуска / Run summary — {dag_id}"
    if dag_id == CHAINS_DAG:
        summary = read.chains_run(reader, run_id)
        body = _chains(summary, chains or {})
        note = digest.chains_digest(summary)
    elif dag_id == INGEST_DAG:
        summary = read.ingest_run(reader, run_id)
        body = _ingest(summary)
        note = digest.ingest_digest(summary)
    elif dag_id == SCORES_DAG:
        summary = read.scores_run(reader, run_id)
        body = _scores(summary)
        note = digest.scores_digest(summary)
    else:
        return r.page(
            title,
            run_id,
            [r.paragraph("Для этого DAG нет сводки / This DAG has no run summary; see the CRM overview.")],
        )
    return r.page(title, f"run_id {run_id}", [r.section("Кратко / Digest", r.digest(note)), *body])


def _chain_name(chains: dict[str, Any], chain_id: str) -> str:
    chain = chains.get(chain_id)
    return f"{chain.name.ru} / {chain.name.en}" if chain is not None and hasattr(chain, "name") else chain_id


def _stage_value(step: dict[str, Any], key: str) -> int:
    value = step[key]
    return sum(value.values()) if isinstance(value, dict) else int(value or 0)


def _failed_chains(summary: dict[str, Any], chains: dict[str, Any]) -> list[str]:
    """The chains that failed in the run, first on the tab: their due steps are missing from the funnel."""
    failures = summary.get("failures", [])
    if not failures:
        return []
    return [
        r.section(
            "Ошибки цепочек / Failed chains",
            r.paragraph(
                "Эти цепочки не отработали; остальные переданы политике. / These chains failed and are "
                "missing below; the other chains were handed to the contact policy. Fix the named file and "
                "clear the chain's tasks.",
                "warning",
            ),
            r.table(
                ["Цепочка / Chain", "Этап / Phase", "Ошибка / Error", "Когда / When"],
                [
                    [_chain_name(chains, f["chain_id"]), f["phase"], f["error"], r.fmt(f["failed_at"])]
                    for f in failures
                ],
            ),
        )
    ]


def _chains(summary: dict[str, Any], chains: dict[str, Any]) -> list[str]:
    funnel, previous = summary["funnel"], summary["previous_funnel"]
    failed = _failed_chains(summary, chains)
    if not funnel:
        none = r.paragraph("Этот запуск не передал шагов политике / No due steps in this run.", "muted")
        return [*failed, none]
    prev = {(s["chain_id"], s["step_id"]): s for s in previous}
    prev_key = summary["previous_run_key"]
    totals = [
        (
            label,
            sum(_stage_value(s, key) for s in funnel),
            sum(_stage_value(s, key) for s in previous) if prev_key else None,
        )
        for key, label in STAGES
    ]
    chart = r.funnel_chart(totals, "Воронка запуска / Run funnel (светлая: предыдущий / light: previous run)")
    rows = []
    for s in funnel:
        p = prev.get((s["chain_id"], s["step_id"]))
        held = {**s["held"], **{f"✕ {k}": v for k, v in s["suppressed"].items()}}
        rows.append(
            [
                _chain_name(chains, s["chain_id"]),
                s["step_id"],
                s["channel"] or "",
                r.delta(s["due"], p["due"] if p else None) if prev_key else r.fmt(s["due"]),
                ", ".join(f"{k} {v}" for k, v in sorted(held.items(), key=lambda kv: -kv[1])) or "–",
                r.fmt(s["holdout"]),
                r.fmt(s["global_control"]),
                r.delta(s["planned"], p["planned"] if p else None) if prev_key else r.fmt(s["planned"]),
                r.delta(s["sent"], p["sent"] if p else None) if prev_key else r.fmt(s["sent"]),
                r.fmt(s["failed"]),
                r.fmt(s["pending"] + s["unknown"] + s["expired"] + s["dropped"]),
            ]
        )
    table = r.table(
        [
            "Цепочка / Chain",
            "Шаг / Step",
            "Канал / Channel",
            "К отправке / Due",
            "Отложено по причине / Held back by reason (✕ = suppressed)",
            "Holdout",
            "Глоб. контроль / Global control",
            "Запланировано / Planned",
            "Отправлено / Sent",
            "Ошибка / Failed",
            "В очереди, прочее / Pending, other",
        ],
        rows,
        numeric=(3, 5, 6, 7, 8, 9, 10),
    )
    compare = (
        f"Сравнение с предыдущим запуском / compared with the previous run: {prev_key}"
        if prev_key
        else "Предыдущего запуска нет / no previous run to compare with"
    )
    channels = r.table(
        ["Канал / Channel", "Провайдер / Provider", "Состояние / State", "Сообщений / Messages"],
        [[c["channel"], c["provider"] or "–", c["state"], r.fmt(c["messages"])] for c in summary["channels"]],
        numeric=(3,),
    )
    return [
        *failed,
        r.section("Воронка / Funnel", chart, r.paragraph(compare), table),
        _send_checks(summary.get("send_checks", []), chains),
        r.section("Отправки по каналам и провайдерам / Sends by channel and provider", channels),
    ]


#: What a message the send-time check touched is now, in the marketer's words.
_NOW = {
    "planned": "ждёт / waiting",
    "sending": "отправляется / sending",
    "sent": "отправлено позже / sent later",
    "dropped": "не отправлено / dropped",
    "expired": "устарело / expired",
    "failed": "ошибка / failed",
    "unknown": "неизвестно / unknown",
}


def _send_checks(rows: list[dict[str, Any]], chains: dict[str, Any]) -> str:
    """The contact policy re-checked at the moment of sending: held back or dropped, by reason."""
    from lifecycle.delivery.gate import SEND_TIME_REASONS

    title = "В момент отправки / At the moment of sending"
    if not rows:
        return r.section(
            title,
            r.paragraph(
                "Перепроверка политики перед отправкой ничего не задержала / The policy, re-checked just "
                "before each message left, held back or dropped none of this run's messages.",
                "muted",
            ),
        )
    table = r.table(
        [
            "Цепочка / Chain",
            "Шаг / Step",
            "Причина / Reason",
            "Сейчас / Now",
            "Сообщений / Messages",
            "Задержек / Holds",
        ],
        [
            [
                _chain_name(chains, row["chain_id"]),
                row["step_id"],
                row["reason"],
                _NOW.get(row["state"], row["state"]),
                r.fmt(row["messages"]),
                r.fmt(row["holds"] or 0),
            ]
            for row in rows
        ],
        numeric=(4, 5),
    )
    used = sorted({row["reason"] for row in rows})
    legend = "; ".join(f"{reason}: {SEND_TIME_REASONS.get(reason, reason)}" for reason in used)
    return r.section(
        title,
        r.paragraph(
            "Перед каждой отправкой политика проверяется заново: согласие, отписки, тихие часы, лимиты и "
            "интервал — по тому, что реально отправлено / Just before each request the contact policy is "
            "checked again against what was actually sent."
        ),
        table,
        r.paragraph(legend, "muted"),
    )


def _ingest(summary: dict[str, Any]) -> list[str]:
    tables = summary["tables"]
    rows = [
        [
            t["source_table"],
            r.fmt(t["rows_read"]),
            r.fmt(t["rows_loaded"]),
            r.fmt(t["rows_quarantined"]),
            r.fmt(t["rows_deferred"]),
        ]
        for t in tables
    ]
    reasons: dict[str, int] = {}
    for q in summary["quarantine"]:
        reasons[q["reason"]] = reasons.get(q["reason"], 0) + int(q["row_count"])
    return [
        r.section(
            "Строки по таблицам / Rows per source table",
            r.bar_chart([(t["source_table"], t["rows_loaded"]) for t in tables], "Загружено / Loaded"),
            r.table(
                [
                    "Таблица / Table",
                    "Прочитано / Read",
                    "Загружено / Loaded",
                    "В карантине / Quarantined",
                    "Отложено / Deferred",
                ],
                rows,
                numeric=(1, 2, 3, 4),
            ),
        ),
        r.section(
            "Карантин по причинам / Quarantined by reason",
            r.bar_chart(sorted(reasons.items(), key=lambda kv: -kv[1]), "Строк / Rows", colour="#b03a2e"),
            r.table(
                ["Таблица / Table", "Причина / Reason", "Строк / Rows"],
                [[q["source_table"], q["reason"], r.fmt(q["row_count"])] for q in summary["quarantine"]],
                numeric=(2,),
            ),
        ),
    ]


def _scores(summary: dict[str, Any]) -> list[str]:
    run = summary["run"]
    if run is None:
        return [
            r.paragraph("Этот запуск ничего не оценивал / This run scored nothing (date already scored).")
        ]
    segments = [s for s in summary["segments"] if s["customers"]]
    return [
        r.section(
            "Модели / Models",
            r.paragraph(
                f"As of {run['as_of']} · {r.fmt(run['customers'])} customers · RFM {run['rfm_method']}"
            ),
            r.table(
                [
                    "Модель / Model",
                    "Версия / Version",
                    "Обучена / Trained",
                    "AUC",
                    "Brier",
                    "Статус / Status",
                ],
                [
                    [
                        m["model_name"],
                        m["version"],
                        m["trained_at"],
                        r.fmt(m["auc"], "prob"),
                        r.fmt(m["brier"], "prob"),
                        m["status"],
                    ]
                    for m in summary["models"]
                ],
            ),
        ),
        r.section(
            "Сегменты RFM / RFM segments",
            r.bar_chart(
                [(f"{s['rfm_code']} {s['segment_en']}", s["customers"]) for s in segments],
                "Клиентов / Customers",
            ),
            r.table(
                ["RFM", "Сегмент", "Segment", "Клиентов / Customers", "Доля / Share", "Churn", "LTV"],
                [
                    [
                        s["rfm_code"],
                        s["segment_ru"],
                        s["segment_en"],
                        r.fmt(s["customers"]),
                        r.fmt(s["share"], "pct"),
                        r.fmt(s["mean_churn_probability"], "prob"),
                        r.fmt(s["mean_ltv"], "money"),
                    ]
                    for s in segments
                ],
                numeric=(3, 4, 5, 6),
            ),
        ),
    ]


def overview(
    reader,
    first_day: date | None,
    last_day: date | None,
    chains: dict[str, Any],
    bandit_min_sample: int | None,
    chains_error: str | None = None,
) -> str:
    """The CRM overview page over the chosen period (default: the last 30 reported days)."""
    from lifecycle.reports import read

    if first_day is None or last_day is None:
        default_first, default_last = read.default_period(reader)
        first_day, last_day = first_day or default_first, last_day or default_last
    data = read.overview(reader, first_day, last_day, chains=chains, bandit_min_sample=bandit_min_sample)
    form = (
        "<form class='period' method='get'>Период / Period: "
        f"<input type='date' name='start' value='{first_day.isoformat()}'> — "
        f"<input type='date' name='end' value='{last_day.isoformat()}'>"
        "<button type='submit'>Показать / Show</button></form>"
    )
    kpi_rows = []
    for c in data["chains"]:
        u = c.get("uplift") or {}
        ci = (
            f"[{r.fmt(u['ci_low'], 'money')}; {r.fmt(u['ci_high'], 'money')}]"
            if u.get("ci_low") is not None
            else "–"
        )
        kpi_rows.append(
            [
                _chain_name(chains, c["chain_id"]),
                r.fmt(c.get("sent")),
                r.fmt(c.get("delivered")),
                r.fmt(c.get("open_rate"), "pct"),
                r.fmt(c.get("click_rate"), "pct"),
                r.fmt(c.get("conversion_rate"), "pct"),
                r.fmt(c.get("revenue_last_touch"), "money"),
                r.fmt(c.get("revenue_first_touch"), "money"),
                r.fmt(c.get("unsubscribed")),
                f"{r.fmt(u.get('treated'))} / {r.fmt(u.get('holdout'))}",
                r.fmt(u.get("incremental_revenue"), "money"),
                ci,
            ]
        )
    kpis = r.table(
        [
            "Цепочка / Chain",
            "Отправлено / Sent",
            "Доставлено / Delivered",
            "Открытия / Open",
            "Клики / Click",
            "Конверсия / Conversion",
            "Выручка, last touch / Revenue",
            "Выручка, first touch",
            "Отписки / Unsubscribes",
            "Вошли: воздействие / holdout",
            "Инкрементальная выручка / Incremental revenue",
            "95 % CI",
        ],
        kpi_rows,
        numeric=(1, 2, 3, 4, 5, 6, 7, 8, 10),
    )
    uplift_chart = r.bar_chart(
        [
            (c["chain_id"], c["uplift"]["incremental_revenue"])
            for c in data["chains"]
            if c.get("uplift")
            and c["uplift"]["incremental_revenue"]
            and c["uplift"]["incremental_revenue"] > 0
        ],
        "Инкрементальная выручка / Incremental revenue (> 0)",
        colour="#3c9a5f",
    )
    steps = r.table(
        [
            "Цепочка / Chain",
            "Шаг / Step",
            "Канал / Channel",
            "Отправлено / Sent",
            "Доставлено / Delivered",
            "Открытия / Open",
            "Клики / Click",
            "Конверсия / Conversion",
            "Выручка / Revenue (last touch)",
            "Отписки / Unsub.",
        ],
        [
            [
                s["chain_id"],
                s["step_id"],
                s["channel"],
                r.fmt(s["sent"]),
                r.fmt(s["delivered"]),
                r.fmt(s["open_rate"], "pct"),
                r.fmt(s["click_rate"], "pct"),
                r.fmt(s["conversion_rate"], "pct"),
                r.fmt(s["revenue_last_touch"], "money"),
                r.fmt(s["unsubscribed"]),
            ]
            for s in data["steps"]
        ],
        numeric=(3, 4, 5, 6, 7, 8, 9),
    )
    ab_rows = [
        [
            e["chain_id"],
            e["step_id"],
            v["variant"],
            r.fmt(v["sent"]),
            r.fmt(v["converted"]),
            r.fmt(v["conversion_rate"], "pct"),
            r.fmt(v["p_best"], "pct"),
            r.fmt(v["weight"], "pct"),
            ("bandit" if e["bandit_active"] else "bandit (warming up)") if e["bandit"] else "fixed",
        ]
        for e in data["experiments"]
        for v in e["variants"]
    ]
    ab = r.table(
        [
            "Цепочка / Chain",
            "Шаг / Step",
            "Вариант / Variant",
            "Отправлено / Sent",
            "Конверсии / Conversions",
            "Конверсия / Rate",
            "P(лучший) / P(best)",
            "Доля трафика / Traffic weight",
            "Режим / Mode",
        ],
        ab_rows,
        numeric=(3, 4, 5, 6, 7),
    )
    rfm = [s for s in data["rfm"] if s["customers"]]
    as_of = rfm[0]["as_of"] if rfm else None
    migration = data["rfm_migration"]
    customers = data["customers"]
    customer_table = (
        r.table(
            [
                "Дата / Date",
                "Клиентов / Customers",
                "Покупателей / Buyers",
                "Повторные / Repeat rate",
                "Удержание 90 дн. / Retention 90 d",
                "Средний чек / Avg check",
                "Средний LTV / Mean LTV",
            ],
            [
                [
                    customers["report_date"],
                    r.fmt(customers["customers"]),
                    r.fmt(customers["buyers"]),
                    r.fmt(customers["repeat_purchase_rate"], "pct"),
                    r.fmt(customers["retention_rate"], "pct"),
                    r.fmt(customers["avg_check"], "money"),
                    r.fmt(customers["mean_ltv"], "money"),
                ]
            ],
            numeric=(1, 2, 3, 4, 5, 6),
        )
        if customers
        else r.paragraph("Нет данных / No data", "muted")
    )
    chain_list = sorted(chains.values(), key=lambda c: (-c.priority, c.id))
    return r.page(
        "CRM: обзор / CRM overview",
        f"{first_day.isoformat()} — {last_day.isoformat()}",
        [
            form,
            r.section(
                "Цепочки: KPI и инкрементальная выручка / Chain KPIs and incremental revenue",
                kpis,
                uplift_chart,
                r.paragraph(
                    "Инкрементальная выручка = (выручка на вошедшего с воздействием − на вошедшего "
                    "из holdout) × число вошедших с воздействием; 95 % интервал Уэлча. "
                    "Incremental revenue = (revenue per treated entrant − per holdout entrant) × treated "
                    "entrants, Welch 95 % interval (docs/measurement.md)."
                ),
            ),
            r.section("Шаги / Steps", steps),
            r.section("A/B-тесты и бандит / A/B tests and bandit weights", ab),
            r.section("Когорты: удержание / Cohort retention (purchases)", r.heatmap(data["cohorts"])),
            r.section(
                f"RFM-сегменты / RFM distribution ({as_of or '–'})",
                r.bar_chart(
                    [(f"{s['rfm_code']} {s['segment_en']}", s["customers"]) for s in rfm], "Клиентов"
                ),
            ),
            r.section(
                "Миграции RFM / RFM migration"
                + (f" ({migration[0]['from_date']} → {migration[0]['to_date']})" if migration else ""),
                r.migration_matrix(migration),
            ),
            r.section("LTV, удержание, повторные покупки / LTV, retention, repeat purchases", customer_table),
            r.section(
                "Карта коммуникаций / Communication map",
                r.paragraph(chains_error) if chains_error else "",
                r.communication_map(chain_list),
            ),
        ],
    )
