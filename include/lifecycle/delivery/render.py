"""Jinja rendering of the message templates in ``include/templates/<locale>/<chain>/<step>/``.

An email step has ``subject.txt``, ``preheader.txt``, ``body.html`` and ``body.txt`` (the bodies extend the
shared layouts in ``layout/``); a push step has ``title.txt`` and ``body.txt``; an SMS step has ``sms.txt``
(one line; its segments are counted, and it may be transliterated, as ``messages.yaml`` says under the
step's ``sms:``). HTML is autoescaped, and every template renders with ``StrictUndefined``: a variable the
context lacks fails the render of that message, before anything is sent. ``messages.yaml`` says what a step
needs beyond the trigger (which recommendations, whether a promo code) and holds the shop's sender details.
"""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import yaml

from lifecycle.delivery import sms
from lifecycle.delivery.messages import EmailContent, PushContent, SmsContent
from lifecycle.errors import ConfigError
from lifecycle.paths import TEMPLATES_DIR

EMAIL_PARTS = ("subject.txt", "preheader.txt", "body.html", "body.txt")
PUSH_PARTS = ("title.txt", "body.txt")
SMS_PARTS = ("sms.txt",)
#: An SMS may take this many segments unless messages.yaml says otherwise (shop ``sms:`` or the step's).
DEFAULT_MAX_SEGMENTS = 2
RECOMMENDATION_KINDS = ("none", "alternatives", "accessories", "top_category", "next_generation")
_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


class RenderError(Exception):
    """A template could not be rendered for one message (missing variable, bad template)."""


@functools.cache
def shop_currency():
    """The shop's currency (``currency:`` in scores.yaml), read once per process."""
    from lifecycle.currency import load_currency

    return load_currency()


def money(value: float | int | None) -> str:
    """A price in the shop's currency, in whole units: 12990 -> '12 990 ₽' (no-break spaces, as Russian shops
    print prices) or '$12,990' for a dollar shop."""
    from lifecycle.currency import format_money

    if value is None:
        raise RenderError("money() got no value")
    if not math.isfinite(value):
        raise RenderError(f"money() got {value!r}, not a price")
    return format_money(value, shop_currency(), decimals=0)


def date_ru(value: date | datetime) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]}"


@dataclass(frozen=True)
class Promo:
    percent: int
    valid_days: int
    prefix: str


@dataclass(frozen=True)
class SmsSettings:
    """An SMS step's rules: the most segments it may take (a longer message is not sent), whether its text
    is transliterated (``never``, ``always``, ``to_fit``: only when that keeps it within the limit) and the
    sender name (None: the provider connection's)."""

    max_segments: int = DEFAULT_MAX_SEGMENTS
    transliterate: str = "never"
    sender: str | None = None


@dataclass(frozen=True)
class StepSettings:
    recommend: str = "none"
    promo: Promo | None = None
    sms: SmsSettings = SmsSettings()


class Templates:
    """The template tree: renders steps and reads ``messages.yaml``."""

    def __init__(self, root: Path = TEMPLATES_DIR):
        self.root = root
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(root)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # Compiled once per process and kept: no file-time check per render. A new Templates (each
            # dispatch run makes one) reads edited templates again.
            auto_reload=False,
            cache_size=-1,
        )
        #: Compiled step templates by name: looked up once per process, not per render.
        self._compiled: dict[str, jinja2.Template] = {}
        #: Each step's checked settings, read once per Templates (a claim asks twice per message).
        self._step_settings: dict[tuple[str, str], StepSettings] = {}
        self.env.filters["money"] = money
        self.env.filters["date_ru"] = date_ru

    @cached_property
    def settings(self) -> dict[str, Any]:
        path = self.root / "messages.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("shop", "steps"):
            if not isinstance(raw.get(key), dict):
                raise ConfigError(str(path), key, "the section is missing", f"add a '{key}:' mapping")
        return raw

    @property
    def shop(self) -> dict[str, Any]:
        return self.settings["shop"]

    def step_settings(self, chain_id: str, step_id: str) -> StepSettings:
        """A step's settings from ``messages.yaml``, checked (a bad one raises every time it is asked for)."""
        key = (chain_id, step_id)
        if key not in self._step_settings:
            self._step_settings[key] = self._read_step_settings(chain_id, step_id)
        return self._step_settings[key]

    def _read_step_settings(self, chain_id: str, step_id: str) -> StepSettings:
        path = str(self.root / "messages.yaml")
        raw = (self.settings["steps"].get(chain_id) or {}).get(step_id) or {}
        recommend = raw.get("recommend", "none")
        if recommend not in RECOMMENDATION_KINDS:
            raise ConfigError(
                path,
                f"steps.{chain_id}.{step_id}.recommend",
                f"unknown kind {recommend!r}",
                f"use one of {', '.join(RECOMMENDATION_KINDS)}",
            )
        promo = raw.get("promo")
        if promo is not None:
            try:
                promo = Promo(int(promo["percent"]), int(promo["valid_days"]), str(promo["prefix"]))
            except (KeyError, TypeError, ValueError):
                raise ConfigError(
                    path,
                    f"steps.{chain_id}.{step_id}.promo",
                    "needs percent, valid_days and prefix",
                    "write e.g. {percent: 10, valid_days: 7, prefix: CART}",
                ) from None
        return StepSettings(recommend, promo, self._sms_settings(path, chain_id, step_id, raw.get("sms")))

    def _sms_settings(self, path: str, chain_id: str, step_id: str, raw: Any) -> SmsSettings:
        """The shop's ``sms:`` defaults overlaid with the step's ``sms:``, checked."""
        merged: dict[str, Any] = {}
        for where, part in (("shop.sms", self.shop.get("sms")), (f"steps.{chain_id}.{step_id}.sms", raw)):
            if part is None:
                continue
            if not isinstance(part, dict) or set(part) - {"max_segments", "transliterate", "sender"}:
                raise ConfigError(
                    path, where, "expected a mapping of max_segments, transliterate, sender", "fix the keys"
                )
            merged.update(part)
            field = where
        settings = SmsSettings(
            max_segments=merged.get("max_segments", DEFAULT_MAX_SEGMENTS),
            transliterate=merged.get("transliterate", "never"),
            sender=merged.get("sender"),
        )
        if not merged:
            return settings
        if not isinstance(settings.max_segments, int) or not 1 <= settings.max_segments <= 10:
            raise ConfigError(path, f"{field}.max_segments", f"{settings.max_segments!r}", "use 1 to 10")
        if settings.transliterate not in sms.TRANSLITERATE_MODES:
            raise ConfigError(
                path,
                f"{field}.transliterate",
                f"unknown mode {settings.transliterate!r}",
                f"use one of {', '.join(sms.TRANSLITERATE_MODES)}",
            )
        if settings.sender is not None:
            problem = sms.sender_problem(str(settings.sender))
            if problem:
                raise ConfigError(path, f"{field}.sender", problem, "use a name registered with the provider")
        return settings

    def steps(self, locale: str = "ru") -> list[str]:
        """Every step template of a locale, as ``<locale>/<chain>/<step>``."""
        return sorted(
            str(folder.relative_to(self.root))
            for folder in (self.root / locale).glob("*/*")
            if folder.is_dir()
        )

    def is_push(self, template: str) -> bool:
        return (self.root / template / "title.txt").is_file()

    def is_sms(self, template: str) -> bool:
        return (self.root / template / "sms.txt").is_file()

    def _template(self, name: str) -> jinja2.Template:
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self.env.get_template(name)
        return template

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self._template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"template {exc.name} does not exist") from None
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{name}: {exc.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError, RenderError) as exc:
            raise RenderError(f"{name}: {exc}") from None

    def _line(self, name: str, context: dict[str, Any]) -> str:
        return re.sub(r"[ \t\r\n]+", " ", self._render(name, context)).strip()

    def render_email(self, template: str, context: dict[str, Any]) -> EmailContent:
        subject = self._line(f"{template}/subject.txt", context)
        preheader = self._line(f"{template}/preheader.txt", context)
        # The layouts show both (HTML <title>, hidden preheader); the step templates need not repeat them.
        context = {**context, "subject": subject, "preheader": preheader}
        text = self._render(f"{template}/body.txt", context)
        return EmailContent(
            subject=subject,
            preheader=preheader,
            html=self._render(f"{template}/body.html", context),
            text=re.sub(r"\n{3,}", "\n\n", text).strip() + "\n",
        )

    def render_push(self, template: str, context: dict[str, Any]) -> PushContent:
        products = context.get("products") or []
        url = products[0]["url"] if products else context["links"]["shop"]
        return PushContent(
            title=self._line(f"{template}/title.txt", context),
            body=self._line(f"{template}/body.txt", context),
            url=url,
        )

    def render_sms(self, template: str, context: dict[str, Any]) -> SmsContent:
        """The SMS text on one line, fitted to the step's rules (transliterated if they say so). The segment
        limit is not enforced here: the dispatcher fails a longer message with its own reason."""
        rules = self.step_settings(context["chain"], context["step"]).sms
        fitted = sms.fit(self._line(f"{template}/sms.txt", context), rules.transliterate, rules.max_segments)
        return SmsContent(
            text=fitted.text,
            segments=fitted.segments.count,
            encoding=fitted.segments.encoding,
            transliterated=fitted.transliterated,
            sender=rules.sender,
            max_segments=rules.max_segments,
        )


# --- rendering in worker processes --------------------------------------------------------------------------

#: One render job: (channel, template path, context). The answer is the content, or the render error's text.
RenderJob = tuple[str, str, dict[str, Any]]
RenderAnswer = EmailContent | PushContent | SmsContent | str

_worker_templates: Templates | None = None


def _start_worker(root: str) -> None:
    global _worker_templates
    _worker_templates = Templates(Path(root))


def _render_jobs(jobs: list[RenderJob]) -> tuple[list[RenderAnswer], float]:
    """A worker's answers and the CPU seconds it spent on them."""
    assert _worker_templates is not None, "the render worker was not started"
    started = time.thread_time()
    answers = render_jobs(_worker_templates, jobs)
    return answers, time.thread_time() - started


def render_jobs(templates: Templates, jobs: list[RenderJob]) -> list[RenderAnswer]:
    """Render each job; a job that cannot be rendered answers its error's text instead (it fails alone)."""
    answers: list[RenderAnswer] = []
    for channel, template, context in jobs:
        try:
            if channel == "email":
                answers.append(templates.render_email(template, context))
            elif channel == "sms":
                answers.append(templates.render_sms(template, context))
            else:
                answers.append(templates.render_push(template, context))
        except Exception as exc:  # a poison row (bad template, bad data) fails alone, with its reason
            answers.append(str(exc) or repr(exc))
    return answers


class RenderPool:
    """Rendering is pure CPU (Jinja): a large claim is rendered in ``processes`` worker processes, each
    with its own compiled templates (compiled once per process, kept for the pool's life: one dispatch
    run). Small batches, or ``processes`` < 2, render in the calling process. Workers are started by a
    fork server, never forked from the threaded dispatcher."""

    def __init__(self, templates: Templates, processes: int, min_jobs: int = 400):
        self.templates, self.processes, self.min_jobs = templates, processes, min_jobs
        self._pool: Any = None
        #: CPU seconds spent rendering so far, in this process and in the workers; in the workers alone.
        self.cpu_s = 0.0
        self.worker_cpu_s = 0.0

    def render(self, jobs: list[RenderJob]) -> list[RenderAnswer]:
        if self.processes < 2 or len(jobs) < self.min_jobs:
            started = time.thread_time()
            answers = render_jobs(self.templates, jobs)
            self.cpu_s += time.thread_time() - started
            return answers
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
                initargs=(str(self.templates.root),),
            )
        size = math.ceil(len(jobs) / (self.processes * 2))
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        answers: list[RenderAnswer] = []
        for part, cpu_s in self._pool.map(_render_jobs, chunks):
            answers += part
            self.cpu_s += cpu_s
            self.worker_cpu_s += cpu_s
        return answers

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
