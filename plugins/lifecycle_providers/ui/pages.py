"""The two pages: the Run summary tab of a DAG run and the CRM overview. Each takes a reader (anything with
``fetch_all(sql_file, **params)``) and returns HTML; the data comes from :mod:`lifecycle.reports`."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from lifecycle_providers.ui import render as r

CHAINS_DAG, INGEST_DAG, SCORES_DAG, REPORTS_DAG = (
    "lifecycle_chains",
    "lifecycle_ingest",
    "lifecycle_scores",
    "lifecycle_reports",
)
#: The delivered cell of a chain that sent messages but received no delivery report from its provider.
NO_FEEDBACK = "нет отчётов / no reports"
#: The funnel chart's stages (steps, not customers), in the vocabulary of the run note and the tables.
FUNNEL_STAGES = ("due", "held", "suppressed", "holdout", "global_control", "planned", "sent", "failed")


def run_summary(
    reader, dag_id: str, run_id: str, chains: dict[str, Any] | None = None, airflow_state: str | None = None
) -> str:
    """The Run summary tab: what this run did, by kind of DAG. ``airflow_state`` is the run's state in
    Airflow when known (queued, running, success, failed); a run that is not over says so at the top."""
    from lifecycle.reports import digest, read

    title = f"Итоги запуска / Run summary — {dag_id}"
    banners: list[str] = []
    if dag_id == CHAINS_DAG:
        summary = read.chains_run(reader, run_id)
        body = _chains(summary, chains or {})
        note = digest.chains_digest(summary)
        banners = _status_banner(summary, airflow_state)
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
    if not banners and airflow_state in RUNNING_STATES:
        banners = [_running_banner(airflow_state)]
    return r.page(title, f"run_id {run_id}", [*banners, r.section("Кратко / Digest", r.digest(note)), *body])


def _verdict_html(said, low: float | None = None, high: float | None = None) -> str:
    """A verdict of :mod:`lifecycle.reports.uplift_verdict` as a cell: green for a significant gain, red for
    a significant loss, the reason's meaning as its tooltip."""
    css = "verdict"
    if said.code == "significant" and low is not None and low > 0:
        css = "verdict up"
    elif said.code == "significant" and high is not None and high < 0:
        css = "verdict down"
    title = f" title='{escape(said.meaning, quote=True)}'" if said.meaning else ""
    return f"<span class='{css}'{title}>{escape(said.text)}</span>"


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


#: Airflow run states in which the figures are still growing.
RUNNING_STATES = ("queued", "running")


def _running_banner(state: str) -> str:
    word = {"queued": ("ещё в очереди", "is still queued"), "running": ("ещё идёт", "is still running")}
    ru, en = word.get(state, (state, state))
    return r.banner(
        f"Запуск {ru}: цифры ниже неполные, обновите страницу позже. / This run {en}: the figures below are "
        "incomplete; reload later.",
        "running",
    )


def _status_banner(summary: dict[str, Any], airflow_state: str | None = None) -> list[str]:
    """A banner when the run failed or has not finished: the figures below are then incomplete. The warehouse
    tells which chains failed; Airflow's own state, when known, tells a run that is still going."""
    status = summary.get("status")
    if status != "failed" and airflow_state in RUNNING_STATES:
        return [_running_banner(airflow_state)]
    if status != "failed" and airflow_state == "failed":
        return [
            r.banner(
                "Запуск завершился с ошибкой: см. задачи запуска, цифры ниже могут быть неполными. / This "
                "run failed: see its task instances; the figures below may be incomplete.",
                "failed",
            )
        ]
    if status == "failed":
        names = ", ".join(f["chain_id"] for f in summary["failures"])
        return [
            r.banner(
                f"Запуск завершился с ошибкой: цепочки {names} не отработали, их цифр ниже нет. / "
                f"This run failed: the chains {names} did not finish and are missing below.",
                "failed",
            )
        ]
    if status == "unfinished":
        return [
            r.banner(
                "Запуск не завершён: шаги к отправке есть, но политика ещё ничего не решила (запуск идёт "
                "или передача политике упала — см. задачу hand_off). / This run has not finished: steps "
                "are due but the contact policy has decided none yet (still running, or the hand_off task "
                "failed).",
                "running",
            )
        ]
    if status == "empty":
        return [
            r.banner(
                "Запуск ещё ничего не записал: он идёт или ни одна цепочка не отработала. / This run has "
                "recorded nothing yet: it is still running, or no chain finished.",
                "running",
            )
        ]
    return []


def _reasons_cell(reasons: dict[str, int]) -> str:
    from lifecycle.reports.labels import reason_text

    ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    return "; ".join(f"{reason_text(code)}: {n}" for code, n in ordered) or "–"


def _per_chain(summary: dict[str, Any], chains: dict[str, Any]) -> str:
    """Per chain: entered, exited by reason, due, held back, suppressed, control, planned, sent, failed."""
    from lifecycle.reports.labels import stage_text

    per: dict[str, dict[str, Any]] = {}

    def chain(chain_id: str) -> dict[str, Any]:
        return per.setdefault(
            chain_id,
            {"entered": None, "exits": {}, "completed": None, "held": {}, "suppressed": {}}
            | dict.fromkeys(("due", "holdout", "global_control", "planned", "sent", "failed"), 0),
        )

    for f in summary.get("chains", []):
        c = chain(f["chain_id"])
        c.update(entered=f["entered"], exits=f["exits"], completed=f["completed"])
    for s in summary["funnel"]:
        c = chain(s["chain_id"])
        c["due"] += s["due"]
        for key in ("holdout", "global_control", "planned", "sent", "failed"):
            c[key] += s[key]
        for key in ("held", "suppressed"):
            for code, n in s[key].items():
                c[key][code] = c[key].get(code, 0) + n
    rows = [
        [
            _chain_name(chains, cid),
            r.fmt(c["entered"]),
            f"{sum(c['exits'].values())}: {_reasons_cell(c['exits'])}" if c["exits"] else "0",
            r.fmt(c["due"]),
            f"{sum(c['held'].values())}: {_reasons_cell(c['held'])}" if c["held"] else "0",
            f"{sum(c['suppressed'].values())}: {_reasons_cell(c['suppressed'])}" if c["suppressed"] else "0",
            r.fmt(c["holdout"]),
            r.fmt(c["global_control"]),
            r.fmt(c["planned"]),
            r.fmt(c["sent"]),
            r.fmt(c["failed"]),
        ]
        for cid, c in sorted(per.items())
    ]
    return r.table(
        [
            "Цепочка / Chain",
            stage_text("entered"),
            "Вышли по причине / Exited by reason",
            stage_text("due"),
            "Отложено по причине / Held back by reason",
            "Отклонено по причине / Suppressed by reason",
            stage_text("holdout"),
            stage_text("global_control"),
            stage_text("planned"),
            stage_text("sent"),
            stage_text("failed"),
        ],
        rows,
        numeric=(1, 3, 6, 7, 8, 9, 10),
    )


def _legend(summary: dict[str, Any]) -> str:
    """What each stage and each reason counted in this run means, in plain words."""
    from lifecycle.reports.labels import STAGE_MEANING, reason_meaning, reason_text, stage_text

    codes: set[str] = set()
    for f in summary.get("chains", []):
        codes.update(f["exits"])
    for s in summary["funnel"]:
        codes.update(s["held"])
        codes.update(s["suppressed"])
    codes.update(row["reason"] for row in summary.get("send_checks", []))
    stages = [(stage_text(key), meaning) for key, meaning in STAGE_MEANING.items()]
    reasons = [(f"{reason_text(code)} ({code})", reason_meaning(code) or "–") for code in sorted(codes)]
    return r.section(
        "Легенда / Legend",
        r.paragraph("Этапы / Stages"),
        r.legend(stages),
        r.paragraph("Причины этого запуска / Reasons counted in this run") if reasons else "",
        r.legend(reasons),
    )


def _chains(summary: dict[str, Any], chains: dict[str, Any]) -> list[str]:
    from lifecycle.reports.labels import STAGE, stage_text

    funnel, previous = summary["funnel"], summary["previous_funnel"]
    failed = _failed_chains(summary, chains)
    entries = r.section(
        "Цепочки: вход, выход, решения / Chains: entered, exited, decided", _per_chain(summary, chains)
    )
    if not funnel:
        none = r.paragraph("Этот запуск не передал шагов политике / No due steps in this run.", "muted")
        return [*failed, entries if summary.get("chains") else "", none, _legend(summary)]
    prev = {(s["chain_id"], s["step_id"]): s for s in previous}
    prev_key = summary["previous_run_key"]
    totals = [
        (
            f"{STAGE[key][0]} / {STAGE[key][1]}",
            sum(_stage_value(s, key) for s in funnel),
            sum(_stage_value(s, key) for s in previous) if prev_key else None,
        )
        for key in FUNNEL_STAGES
    ]
    chart = r.funnel_chart(totals, "Воронка запуска / Run funnel (светлая: предыдущий / light: previous run)")
    rows = []
    for s in funnel:
        p = prev.get((s["chain_id"], s["step_id"]))
        rows.append(
            [
                _chain_name(chains, s["chain_id"]),
                s["step_id"],
                s["channel"] or "",
                r.delta(s["due"], p["due"] if p else None) if prev_key else r.fmt(s["due"]),
                _reasons_cell(s["held"]),
                _reasons_cell(s["suppressed"]),
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
            stage_text("due"),
            "Отложено по причине / Held back by reason",
            "Отклонено по причине / Suppressed by reason",
            stage_text("holdout"),
            stage_text("global_control"),
            stage_text("planned"),
            stage_text("sent"),
            stage_text("failed"),
            "В очереди, прочее / Pending, other",
        ],
        rows,
        numeric=(3, 6, 7, 8, 9, 10, 11),
    )
    compare = (
        f"Сравнение с предыдущим запуском / compared with the previous run: {prev_key}"
        if prev_key
        else "Предыдущего запуска нет / no previous run to compare with"
    )
    channels = r.table(
        [
            "Канал / Channel",
            "Провайдер / Provider",
            "Состояние / State",
            "Сообщений / Messages",
            "Доставлено по отчётам / Delivered (reports)",
            "SMS-сегментов / SMS segments",
            "Стоимость SMS / SMS cost",
        ],
        [
            [
                c["channel"],
                c["provider"] or "–",
                c["state"],
                r.fmt(c["messages"]),
                r.fmt(c.get("delivered") or 0),
                r.fmt(c["segments"]) if c.get("segments") else "–",
                f"{float(c['cost']):.2f}" if c.get("cost") else "–",
            ]
            for c in summary["channels"]
        ],
        numeric=(3, 4, 5, 6),
    )
    return [
        *failed,
        entries,
        r.section("Воронка по шагам / Funnel by step", chart, r.paragraph(compare), table),
        _send_checks(summary.get("send_checks", []), chains),
        r.section("Отправки по каналам и провайдерам / Sends by channel and provider", channels),
        _legend(summary),
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
    from lifecycle.reports.labels import reason_text

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
                reason_text(row["reason"]),
                _NOW.get(row["state"], row["state"]),
                r.fmt(row["messages"]),
                r.fmt(row["holds"] or 0),
            ]
            for row in rows
        ],
        numeric=(4, 5),
    )
    used = sorted({row["reason"] for row in rows})
    legend = "; ".join(f"{reason_text(reason)}: {SEND_TIME_REASONS.get(reason, reason)}" for reason in used)
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


def _next_order(rows: list[dict[str, Any]]) -> str:
    """Days to the expected next order per RFM segment: the median and how many are due when."""
    rows = [row for row in rows if row["customers"]]
    if not any(row["dated"] for row in rows):
        return r.paragraph(
            "Нет ожидаемых дат следующего заказа: скоринг ещё не считал их / No expected next orders yet: "
            "the scores have not computed them.",
            "muted",
        )
    as_of = rows[0]["as_of"]
    dated = [row for row in rows if row["dated"]]
    return "".join(
        (
            r.paragraph(
                f"На {as_of}: дата — медиана прогноза следующей покупки, если клиент купит снова в пределах "
                "горизонта; придёт ли он вообще, говорит вероятность оттока. / As of "
                f"{as_of}: the date is the median of the predicted next purchase if the customer buys again "
                "within the horizon; whether they come back at all is the churn probability "
                "(docs/scores.md#expected-next-order)."
            ),
            r.bar_chart(
                [(f"{row['rfm_code']} {row['segment_en']}", row["median_days"]) for row in dated],
                "Медиана дней до следующего заказа / Median days to the next order",
            ),
            r.table(
                [
                    "RFM",
                    "Сегмент / Segment",
                    "Клиентов / Customers",
                    "Медиана дней / Median days",
                    "≤ 7 дн. / days",
                    "8–30",
                    "31–90",
                    "> 90",
                    "Churn",
                ],
                [
                    [
                        row["rfm_code"],
                        row["segment_en"],
                        r.fmt(row["customers"]),
                        r.fmt(row["median_days"]),
                        r.fmt(row["within_7"]),
                        r.fmt(row["within_30"]),
                        r.fmt(row["within_90"]),
                        r.fmt(row["later"]),
                        r.fmt(row["mean_churn_probability"], "prob"),
                    ]
                    for row in rows
                ],
                numeric=(2, 3, 4, 5, 6, 7, 8),
            ),
        )
    )


#: Where a customer's best hour comes from, in the marketer's words (policy/due_steps.sql's sources).
_BASIS = {
    "customer": "свои отклики / own responses",
    "segment": "профиль сегмента RFM / RFM segment's profile",
    "shop": "профиль магазина / the shop's profile",
}
_ARM = {"optimal": "в лучший час / at the best hour", "default": "сразу (контроль) / at once (holdout)"}


def _lift_cell(row: dict[str, Any], metric: str) -> tuple[str, str]:
    """optimal − default in points with its interval, green above zero and red below."""
    from lifecycle.reports.uplift_verdict import points_text

    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    css = "up" if low > 0 else "down" if high < 0 else "muted"
    text = f"{points_text(row[f'{metric}_lift'])} [{points_text(low)}; {points_text(high)}]"
    return ("raw-html", f"<span class='{css}'>{escape(text)}</span>")


def _send_time(rows: list[dict[str, Any]], basis: list[dict[str, Any]], chains: dict[str, Any]) -> str:
    """The send-time lift per chain (both arms and their difference) and where the best hours come from."""
    from lifecycle.reports.send_time import MIN_SENDS_PER_ARM, REASONS

    if not rows:
        lift = r.paragraph(
            "За период не отправлено ни одного сообщения шагов с send_time: optimal / No message of a "
            "send_time: optimal step was sent in this period.",
            "muted",
        )
    else:
        table_rows, classes = [], []
        for row in rows:
            css = "muted" if row["reason"] else None
            name = _chain_name(chains, row["chain_id"])
            for arm in ("optimal", "default"):
                table_rows.append(
                    [
                        name,
                        _ARM[arm],
                        r.fmt(row[f"sent_{arm}"]),
                        r.fmt(row[f"opened_rate_{arm}"], "pct"),
                        r.fmt(row[f"clicked_rate_{arm}"], "pct"),
                        r.fmt(row[f"converted_rate_{arm}"], "pct"),
                    ]
                )
                classes.append(css)
            if row["reason"]:
                ru, en, meaning = REASONS[row["reason"]]
                said = (
                    "raw-html",
                    f"<span class='verdict' title='{escape(meaning, quote=True)}'>"
                    f"{escape(ru)} / {escape(en)}</span>",
                )
                table_rows.append([name, "разница / difference", "", said, "–", "–"])
            else:
                table_rows.append(
                    [
                        name,
                        "разница, 95 % CI / difference, 95 % CI",
                        "",
                        *(_lift_cell(row, metric) for metric in ("opened", "clicked", "converted")),
                    ]
                )
            classes.append(css)
        lift = r.table(
            [
                "Цепочка / Chain",
                "Когда отправлено / Sent",
                "Отправлено / Messages",
                "Открытия / Open",
                "Клики / Click",
                "Конверсия 7 дн. / Conversion 7 d",
            ],
            table_rows,
            numeric=(2, 3, 4, 5),
            row_classes=classes,
        )
    note = r.paragraph(
        "Шаги с send_time: optimal ждут лучшего часа клиента; доля получателей цепочки "
        "(send_time_holdout) получает их сразу, в обычное время. Разница — лучший час минус контроль, в "
        f"процентных пунктах, с 95 % интервалом (Newcombe). Если в одной из групп меньше {MIN_SENDS_PER_ARM} "
        "отправок, разницы нет и строки серые. Письма последних суток ещё открывают (в час, когда клиент "
        "читает почту, до суток спустя), поэтому заканчивайте период не позже вчерашнего дня. "
        "/ Steps with send_time: optimal wait for the "
        "customer's best hour; a share of each chain's recipients (send_time_holdout) gets them at once. "
        "The difference is best hour minus holdout in percentage points with its 95 % interval (Newcombe). "
        f"With fewer than {MIN_SENDS_PER_ARM} messages in either arm no difference is given and the rows "
        "are grey. The last day's messages are still being opened (at the hour the customer reads their "
        "mail, up to a day later), so end the period at least a day ago (docs/send-time.md)."
    )
    customers = sum(int(b["customers"]) for b in basis)
    if not customers:
        hours = r.paragraph(
            "Лучшие часы ещё не посчитаны: скоринг не нашёл откликов / No best hours learned yet.", "muted"
        )
    else:
        hours = "".join(
            (
                r.paragraph(
                    f"Откуда лучший час клиента на {basis[0]['as_of']} / Where the customers' best "
                    f"hours come from, as of {basis[0]['as_of']}"
                ),
                r.table(
                    [
                        "Основа / Basis",
                        "Клиентов / Customers",
                        "Доля / Share",
                        "Свой час не равен часу сегмента / Own hour differs from the segment's",
                    ],
                    [
                        [
                            _BASIS.get(b["basis"], b["basis"]),
                            r.fmt(int(b["customers"])),
                            r.fmt(int(b["customers"]) / customers, "pct"),
                            r.fmt(int(b["own_hour_differs"] or 0)) if b["basis"] == "customer" else "–",
                        ]
                        for b in basis
                    ],
                    numeric=(1, 2, 3),
                ),
            )
        )
    return "".join((lift, note, hours))


def _signed(value: float) -> str:
    """A count with one decimal and its sign: ``+53.8``, ``−2.0``."""
    return f"{value:+.1f}".replace("-", "−")


def _reason_html(reason: str) -> str:
    """Why a step has no figure: the reports' short label, the step's meaning as its tooltip."""
    from lifecycle.reports.step_lift import REASONS
    from lifecycle.reports.uplift_verdict import reason_verdict

    said = reason_verdict(reason)
    meaning = REASONS.get(reason, said.meaning)
    return f"<span class='verdict' title='{escape(meaning, quote=True)}'>{escape(said.text)}</span>"


def _step_lift(rows: list[dict[str, Any]], chains: dict[str, Any], first_day: date, last_day: date) -> str:
    """Each step with its own holdout (:func:`lifecycle.reports.step_lift.step_lift`): its customers per arm,
    incremental orders and revenue with their intervals, what its messages cost, the net and the verdict;
    a step without a figure is grey with the reason. When the period ends less than a purchase window ago, a
    warning under the table says that its last days' purchases are still coming in and where a period with
    final figures has to end (:func:`lifecycle.reports.step_lift.still_counting`)."""
    from lifecycle.reports.stats import MIN_BUYERS_PER_ARM, MIN_ENTRANTS_PER_ARM
    from lifecycle.reports.step_lift import DEFAULT_WINDOW_DAYS, VERDICT_LABELS, VERDICTS, still_counting
    from lifecycle.reports.uplift_verdict import CURRENCY, confidence_text, money_text

    def classes_of(css: str) -> str:
        return f"verdict {css}" if css else "verdict"

    def money_interval(value: float, low: float | None, high: float | None) -> str:
        if low is None or high is None:
            return money_text(value)
        return f"{money_text(value)} [{money_text(low)}; {money_text(high)}]"

    if not rows:
        table = r.paragraph(
            "За период не решался ни один шаг со своим holdout / No step with its own holdout was decided "
            "in this period.",
            "muted",
        )
    else:
        table_rows, classes = [], []
        for row in rows:
            css = {"earns_its_cost": "up", "costs_more": "down"}.get(row["verdict"] or "", "")
            orders: Any
            revenue: Any
            net: Any
            verdict: Any
            if row["reason"]:
                orders = ("raw-html", _reason_html(row["reason"]))
            else:
                orders = (
                    f"{_signed(row['incremental_orders'])} "
                    f"[{_signed(row['orders_ci_low'])}; {_signed(row['orders_ci_high'])}]"
                    if row["orders_ci_low"] is not None
                    else _signed(row["incremental_orders"])
                )
            if row["reason"]:
                revenue = net = verdict = "–"
            elif row["revenue_reason"]:
                revenue, net, verdict = ("raw-html", _reason_html(row["revenue_reason"])), "–", "–"
            else:
                revenue = money_interval(
                    row["incremental_revenue"], row["revenue_ci_low"], row["revenue_ci_high"]
                )
                net = (
                    "raw-html",
                    f"<span class='{css}'>"
                    f"{escape(money_interval(row['net'], row['net_ci_low'], row['net_ci_high']))}</span>",
                )
                ru, en = VERDICT_LABELS[row["verdict"]]
                meaning = escape(VERDICTS[row["verdict"]], quote=True)
                verdict = (
                    "raw-html",
                    f"<span class='{classes_of(css)}' title='{meaning}'>{escape(ru)} / {escape(en)}</span>",
                )
            table_rows.append(
                [
                    _chain_name(chains, row["chain_id"]),
                    row["step_id"],
                    row["channel"],
                    f"{r.fmt(row['treated'])} / {r.fmt(row['holdout'])}",
                    orders,
                    revenue,
                    money_text(row["cost"]),
                    net,
                    verdict,
                ]
            )
            classes.append("muted" if row["reason"] else None)
        level = confidence_text(rows[0]["confidence"])
        table = r.table(
            [
                "Цепочка / Chain",
                "Шаг / Step",
                "Канал / Channel",
                "Клиентов: воздействие / holdout / Customers: treated / holdout",
                f"Инкрементальные заказы, {level} CI / Incremental orders, {level} CI",
                f"Инкрементальная выручка, {level} CI / Incremental revenue, {level} CI",
                "Стоимость сообщений / Cost of the messages",
                f"За вычетом стоимости, {level} CI / Net of cost, {level} CI",
                "Итог / Verdict",
            ],
            table_rows,
            numeric=(3, 4, 5, 6, 7),
            row_classes=classes,
        )
    note = r.paragraph(
        "Шаг со своим holdout (holdout_share шага) не уходит доле клиентов, которым его пропустили бы все "
        "правила политики; остальная цепочка идёт для них как для всех. Инкрементальные заказы и выручка = "
        "(на клиента с воздействием − на клиента из holdout шага) × клиентов с воздействием, покупки за "
        f"{DEFAULT_WINDOW_DAYS} дней после решения, 95 % интервал Уэлча. Стоимость — цена отправленных "
        "сообщений шага по журналу отправок (для SMS: сегменты × цена). «Окупается», если весь интервал "
        "выручки выше стоимости; «стоит больше, чем приносит», если весь ниже; иначе «пока неясно». Если "
        f"в одной из групп меньше {MIN_ENTRANTS_PER_ARM} клиентов, цифр нет, строка серая и указана "
        f"причина; если в меньшей группе ожидается меньше {MIN_BUYERS_PER_ARM} покупателей, даны заказы, "
        "но не выручка. Выручка — все покупки клиентов, а не прибыль: сравнивайте итог со своей маржой. "
        f"Суммы в {CURRENCY}. / A step with its own holdout (a step's holdout_share) is kept from a fixed "
        "share of the customers every policy rule would have let it reach; the rest of the chain goes on "
        "for them as for everyone. Incremental orders and revenue = (per treated customer − per customer "
        "of the step's holdout) × treated customers, purchases within "
        f"{DEFAULT_WINDOW_DAYS} days of the decision, Welch 95 % interval. The cost is what the step's "
        "sent messages cost by the send ledger (SMS: segments × price). 'Earns its cost' when the whole "
        "revenue interval lies above the cost, 'costs more than it brings' when it lies below, else 'not "
        f"yet clear'. With fewer than {MIN_ENTRANTS_PER_ARM} customers in either arm no figure is given: "
        f"the row is grey with the reason; with fewer than {MIN_BUYERS_PER_ARM} buyers expected in the "
        "smaller arm the orders are given but not the revenue. The revenue is the customers' whole "
        f"purchases, not the profit: compare the net with your margin. Amounts in {CURRENCY} "
        '(docs/sms.md, "Did the SMS earn its cost?").'
    )
    coming = still_counting(first_day, last_day, rows[0]["window_days"]) if rows else None
    warning = r.paragraph(" / ".join(coming), "warning") if coming else ""
    return "".join((table, warning, note))


def overview(
    reader,
    first_day: date | None,
    last_day: date | None,
    chains: dict[str, Any],
    bandit_min_sample: int | None,
    chains_error: str | None = None,
    chain_problems: dict[str, str] | None = None,
) -> str:
    """The CRM overview page over the chosen period (default: the last 30 reported days). Incremental
    revenue and conversion uplift are shown only where the reports give them
    (:func:`lifecycle.reports.stats.chain_effect`, in words by :mod:`lifecycle.reports.uplift_verdict`),
    else the reason; chains with neither figure are greyed out. ``chain_problems``: the chain files that
    do not load."""
    from lifecycle.reports import read
    from lifecycle.reports.stats import MIN_BUYERS_PER_ARM, MIN_ENTRANTS_PER_ARM
    from lifecycle.reports.uplift_verdict import (
        CURRENCY,
        conversion_verdict,
        points_text,
        verdict,
        winner_text,
    )
    from lifecycle_providers.ui.chains import ChainFiles, chain_list

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
    kpi_rows, kpi_classes, measured = [], [], []
    no_feedback = [c["chain_id"] for c in data["chains"] if c.get("sent") and not c.get("delivered")]
    for c in data["chains"]:
        u = c.get("uplift") or {}
        silent = c["chain_id"] in no_feedback
        said, said_conversion = verdict(c.get("uplift")), conversion_verdict(c.get("uplift"))
        if said.measurable:
            measured.append(c)
            incremental = r.fmt(u.get("incremental_revenue"), "money")
            ci = f"[{r.fmt(u['ci_low'], 'money')}; {r.fmt(u['ci_high'], 'money')}]"
            significance = ("raw-html", _verdict_html(said, u["ci_low"], u["ci_high"]))
        else:
            incremental = ("raw-html", _verdict_html(said))
            ci = significance = "–"
        if said_conversion.measurable:
            low, high = points_text(u["conversion_ci_low"]), points_text(u["conversion_ci_high"])
            conversion = (
                "raw-html",
                f"{escape(points_text(u['conversion_uplift']))} [{escape(low)}; {escape(high)}] "
                f"{_verdict_html(said_conversion, u['conversion_ci_low'], u['conversion_ci_high'])}",
            )
        else:
            conversion = ("raw-html", _verdict_html(said_conversion))
        kpi_classes.append(None if said.measurable or said_conversion.measurable else "muted")
        kpi_rows.append(
            [
                _chain_name(chains, c["chain_id"]),
                r.fmt(c.get("sent")),
                NO_FEEDBACK if silent else r.fmt(c.get("delivered")),
                "–" if silent else r.fmt(c.get("open_rate"), "pct"),
                "–" if silent else r.fmt(c.get("click_rate"), "pct"),
                r.fmt(c.get("conversion_rate"), "pct"),
                r.fmt(c.get("revenue_last_touch"), "money"),
                r.fmt(c.get("revenue_first_touch"), "money"),
                r.fmt(c.get("unsubscribed")),
                f"{r.fmt(u.get('treated'))} / {r.fmt(u.get('holdout'))}",
                incremental,
                ci,
                significance,
                conversion,
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
            f"Инкрементальная выручка, {CURRENCY} / Incremental revenue, {CURRENCY}",
            "95 % CI",
            "Значимость / Significance",
            "Прирост конверсии, 95 % CI / Conversion uplift, 95 % CI",
        ],
        kpi_rows,
        numeric=(1, 2, 3, 4, 5, 6, 7, 8),
        row_classes=kpi_classes,
    )
    uplift_chart = r.bar_chart(
        [
            (c["chain_id"], c["uplift"]["incremental_revenue"])
            for c in measured
            if c["uplift"]["incremental_revenue"] and c["uplift"]["incremental_revenue"] > 0
        ],
        f"Инкрементальная выручка / Incremental revenue, {CURRENCY} (> 0)",
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
                NO_FEEDBACK if s["sent"] and not s["delivered"] else r.fmt(s["delivered"]),
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
            winner_text(e),
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
            "Итог / Result",
        ],
        ab_rows,
        numeric=(3, 4, 5, 6, 7),
    )
    if not kpi_rows:
        kpis = r.paragraph(
            f"За период {first_day.isoformat()} — {last_day.isoformat()} цепочки ничего не отправили и "
            "никто не вошёл в контроль; выберите другой период. / No chain sent anything and no one entered "
            "a holdout in this period; choose another period.",
            "muted",
        )
    feedback_note = (
        r.paragraph(
            "«Нет отчётов»: доставки, открытия и клики приходят только из вебхуков провайдера; песочница "
            "(sandbox) пишет письма в файлы и отчётов не шлёт, пока не подключён настоящий провайдер. / "
            "'No reports': delivered, opens and clicks come only from the provider's webhooks; the sandbox "
            "provider writes messages to files and sends no delivery reports unless a real provider's "
            "webhooks are configured (docs/measurement.md).",
        )
        if no_feedback
        else ""
    )
    rfm = [s for s in data["rfm"] if s["customers"]]
    as_of = rfm[0]["as_of"] if rfm else None
    migration = data["rfm_migration"]
    if migration and migration[0]["from_date"] == migration[0]["to_date"]:
        migration_view = r.paragraph(
            f"Скоринг есть только за одну дату ({migration[0]['to_date']}): миграцию не с чем сравнить. "
            "Она появится после следующего скоринга. / Only one scored date so far: a migration needs two "
            "different dates and appears after the next scoring.",
            "muted",
        )
        migration = []
    elif migration:
        migration_view = r.migration_matrix(migration)
    else:
        migration_view = r.paragraph(
            "Нет оценок RFM до конца периода / No RFM scores up to the end of the period.", "muted"
        )
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
    ordered_chains = sorted(chains.values(), key=lambda c: (-c.priority, c.id))
    return r.page(
        "CRM: обзор / CRM overview",
        f"{first_day.isoformat()} — {last_day.isoformat()}",
        [
            form,
            r.section(
                "Цепочки: KPI и инкрементальная выручка / Chain KPIs and incremental revenue",
                kpis,
                feedback_note,
                uplift_chart,
                r.paragraph(
                    "Инкрементальная выручка = (выручка на вошедшего с воздействием − на вошедшего "
                    "из holdout) × число вошедших с воздействием; 95 % интервал Уэлча; «значимо», если "
                    "интервал не содержит нуля. Цифры нет, если цепочка ничего не отправила, в ней нет "
                    "вошедших или контроля, в одной из групп меньше "
                    f"{MIN_ENTRANTS_PER_ARM} вошедших, или (для выручки) ожидается меньше "
                    f"{MIN_BUYERS_PER_ARM} покупателей в меньшей группе; тогда указана причина, а строка без "
                    f"обеих цифр серая. Суммы в {CURRENCY}. "
                    "Incremental revenue = (revenue per treated entrant − per holdout entrant) × "
                    "treated entrants, Welch 95 % interval; 'significant' when the interval excludes zero. "
                    "No figure when the chain sent nothing, had no entrants or no holdout, an arm has fewer "
                    f"than {MIN_ENTRANTS_PER_ARM} entrants, or (revenue only) fewer than "
                    f"{MIN_BUYERS_PER_ARM} buyers are expected in the smaller arm: the reason is shown "
                    f"instead, and a row with neither figure is grey. Amounts in {CURRENCY} "
                    "(docs/measurement.md)."
                ),
            ),
            r.section("Шаги / Steps", steps),
            r.section(
                "Окупается ли шаг: его собственный holdout / Step lift: does the step earn its cost?",
                _step_lift(data.get("step_lift", []), chains, first_day, last_day),
            ),
            r.section("A/B-тесты и бандит / A/B tests and bandit weights", ab),
            r.section("Когорты: удержание / Cohort retention (purchases)", r.heatmap(data["cohorts"])),
            r.section(
                f"RFM-сегменты / RFM distribution ({as_of or '–'})",
                r.bar_chart([(f"{s['rfm_code']} {s['segment_en']}", s["customers"]) for s in rfm], "Клиентов")
                or r.paragraph("Нет оценок RFM / No RFM scores yet", "muted"),
            ),
            r.section(
                "Миграции RFM / RFM migration"
                + (f" ({migration[0]['from_date']} → {migration[0]['to_date']})" if migration else ""),
                migration_view,
            ),
            r.section(
                "Ожидаемый следующий заказ / Expected next order", _next_order(data.get("next_order", []))
            ),
            r.section(
                "Лучший час отправки / Send-time lift",
                _send_time(data.get("send_time", []), data.get("send_hour_basis", []), chains),
            ),
            r.section("LTV, удержание, повторные покупки / LTV, retention, repeat purchases", customer_table),
            r.section(
                "Цепочки и их аудитория / Chains and their audience",
                r.paragraph(
                    "Предпросмотр: кто войдёт в цепочку в выбранный час (UTC, по умолчанию текущий) и что с "
                    "ними сделает политика контактов; ничего не записывается. / Preview: who would enter "
                    "the chain at the chosen hour (UTC, default now) and what the contact policy would do; "
                    "nothing is written."
                ),
                chain_list(ChainFiles(chains, chain_problems or {})),
            ),
            r.section(
                "Карта коммуникаций / Communication map",
                r.paragraph(chains_error) if chains_error else "",
                r.communication_map(ordered_chains),
            ),
        ],
    )
