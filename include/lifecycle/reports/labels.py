"""The one vocabulary of the run summary, the run note and the charts: the funnel's stages and every reason
code a run can count (contact policy at planning, the send-time re-check, chain exits) as a short Russian and
English label. The long English descriptions stay with the rules that apply them
(:data:`lifecycle.policy.rules.REASONS`, :data:`lifecycle.delivery.gate.SEND_TIME_REASONS`).
"""

from __future__ import annotations

#: The stages of a chains run in funnel order: key, Russian, English.
STAGES = (
    ("entered", "Вошли", "Entered"),
    ("exited", "Вышли", "Exited"),
    ("due", "К отправке", "Due"),
    ("held", "Отложено", "Held back"),
    ("suppressed", "Отклонено", "Suppressed"),
    ("holdout", "Контроль цепочки", "Holdout"),
    ("global_control", "Глобальный контроль", "Global control"),
    ("planned", "Запланировано", "Planned"),
    ("sent", "Отправлено", "Sent"),
    ("failed", "Ошибка", "Failed"),
)
STAGE = {key: (ru, en) for key, ru, en in STAGES}

#: What a stage means, for the legend under the funnel.
STAGE_MEANING = {
    "entered": "new customers who entered the chain in this run",
    "exited": "customers who left the chain in this run, by reason (they get no further steps)",
    "due": "steps whose time came in this run and were handed to the contact policy",
    "held": "not sent now, due again in a later run (e.g. quiet hours, a cap reached today)",
    "suppressed": "will not be sent for this step (e.g. no consent, an unsubscribed address, expired)",
    "holdout": "kept out on purpose to measure the chain's effect",
    "global_control": "in the global control group that gets no trigger messages",
    "planned": "accepted by the contact policy and put in the send queue",
    "sent": "accepted by the provider",
    "failed": "the provider refused the message or the request failed",
}

#: Reason codes: contact policy at planning, the send-time re-check, and chain exits.
REASONS = {
    # contact policy (lifecycle.policy.rules.REASONS)
    "expired": ("устарело", "too late to send"),
    "invalid_address": ("нет адреса", "no valid address"),
    "no_push_token": ("нет push-токена", "no push token"),
    "suppressed_address": ("адрес в стоп-листе", "address suppressed"),
    "no_consent": ("нет согласия", "no consent"),
    "global_control": ("глобальный контроль", "global control group"),
    "holdout": ("контроль цепочки", "chain holdout"),
    "condition_not_met": ("условие шага не выполнено", "step condition not met"),
    "arbitration_lost": ("уступил другой цепочке", "another chain won"),
    "content_mailing_day": ("день контентной рассылки", "content mailing day"),
    "quiet_hours": ("тихие часы", "quiet hours"),
    "best_hour": ("ждёт лучшего часа клиента", "waiting for the customer's best hour"),
    "step_holdout": ("контроль шага", "step holdout"),
    "sale_share": ("лимит доли акций", "sale-message share limit"),
    "weekly_cap": ("недельный лимит", "weekly cap reached"),
    "daily_cap": ("дневной лимит", "daily cap reached"),
    "min_gap": ("слишком рано после прошлого", "too soon after the last message"),
    "domain_warmup": ("прогрев домена", "domain warm-up limit"),
    # send-time re-check only (lifecycle.delivery.gate.SEND_TIME_REASONS)
    "no_customer": ("клиент удалён", "customer no longer known"),
    # chain exits (include/sql/chains/exits)
    "purchased": ("купил", "made a purchase"),
    "carted": ("снова положил в корзину", "added to cart again"),
    "moved_to_post_purchase": ("купил товар из корзины", "bought the cart's product"),
    "unsubscribed": ("отписался", "unsubscribed or complained"),
    "max_touches": ("лимит касаний цепочки", "chain's message limit reached"),
    "time_limit": ("время в цепочке истекло", "time in chain ran out"),
    "unspecified": ("причина не указана", "no reason recorded"),
}
#: Exit reasons naming another chain: ``moved_to:<chain>``.
MOVED_TO = "moved_to:"

EXIT_MEANING = {
    "purchased": "the customer bought something after entering",
    "carted": "the customer put something in the cart again (the abandoned-cart chain takes over)",
    "moved_to_post_purchase": "the customer bought one of the instance's products; the order enters the "
    "post-purchase chain",
    "unsubscribed": "the customer unsubscribed or complained after entering",
    "no_consent": "the customer withdrew consent for the chain's channel or scenario after entering",
    "max_touches": "the chain already planned its maximum number of messages for the customer",
    "time_limit": "the customer has been in the chain longer than the chain allows",
    MOVED_TO: "the customer entered another chain that takes over",
}


def reason_label(code: str | None) -> tuple[str, str]:
    """The Russian and English label of a reason code; an unknown code is shown as it is."""
    code = code or "unspecified"
    if code.startswith(MOVED_TO):
        target = code[len(MOVED_TO) :]
        return f"перешёл в цепочку {target}", f"moved to chain {target}"
    return REASONS.get(code, (code, code))


def reason_text(code: str | None) -> str:
    """``ru / en`` of a reason code, for a table cell or a note."""
    ru, en = reason_label(code)
    return ru if ru == en else f"{ru} / {en}"


def stage_text(key: str) -> str:
    ru, en = STAGE[key]
    return f"{ru} / {en}"


def reason_meaning(code: str) -> str:
    """The long English description of a code: the policy's, the send-time check's or the exit's."""
    from lifecycle.delivery.gate import SEND_TIME_REASONS
    from lifecycle.policy.rules import REASONS as POLICY

    if code.startswith(MOVED_TO):
        return EXIT_MEANING[MOVED_TO]
    return POLICY.get(code) or SEND_TIME_REASONS.get(code) or EXIT_MEANING.get(code) or ""
