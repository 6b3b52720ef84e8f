"""HTML for the plugin pages: plain tables, small inline SVG charts, bilingual labels. No Airflow, no
database; every value is escaped here, so callers pass raw data."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from html import escape
from typing import Any

CHANNEL_COLOURS = {"email": "#2f6fb3", "push": "#d9822b", "sms": "#3c9a5f"}
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:16px;color:#1d2733;
font-size:14px}h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.sub{color:#5b6b7c;margin:0 0 12px}table{border-collapse:collapse;margin:6px 0 12px}
th,td{border:1px solid #dde3ea;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f6f9;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.digest{background:#f7f9fb;border-left:3px solid #2f6fb3;padding:6px 10px;font-size:13px}
.digest h3{font-size:14px;margin:2px 0 4px}.digest p{margin:2px 0}.digest ul{margin:2px 0;padding-left:18px}
.banner{padding:8px 12px;margin:8px 0 12px;border-radius:4px;font-weight:600}
.banner.failed{background:#fbe9e7;border:1px solid #b03a2e;color:#8a2318}
.banner.running{background:#fff6e0;border:1px solid #d9822b;color:#7a4a0c}
dl.legend{font-size:12px;color:#3d4b59;margin:4px 0 12px}dl.legend dt{font-weight:600;margin-top:4px}
dl.legend dd{margin:0 0 0 16px}
.muted{color:#8795a4}.up{color:#2d7d46}.down{color:#b03a2e}.note{color:#5b6b7c;font-size:12px}
.warning{color:#b03a2e;font-weight:600}
form.period{margin:8px 0}form.period input{margin:0 6px}
tr.muted td{color:#8795a4;background:#fafbfc}td .verdict{font-size:12px}
form.preview{margin:0;white-space:nowrap}form.preview input{margin:0 4px;font-size:12px}
pre.error{background:#fbe9e7;border:1px solid #b03a2e;padding:8px 10px;white-space:pre-wrap;font-size:13px}
"""


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    return (
        "<!doctype html><html lang='ru'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='sub'>{escape(subtitle)}</p>{''.join(sections)}</body></html>"
    )


def section(title: str, *parts: str) -> str:
    return f"<h2>{escape(title)}</h2>{''.join(parts)}"


def paragraph(text: str, css: str = "note") -> str:
    return f"<p class='{css}'>{escape(text)}</p>"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def digest(text: str) -> str:
    """The run note as HTML. Only what :mod:`lifecycle.reports.digest` writes is understood (``###``
    headings, ``* `` bullets, ``**bold**``, blank lines between paragraphs); everything is escaped first."""
    html, items = [], []

    def inline(line: str) -> str:
        return _BOLD.sub(r"<strong>\1</strong>", escape(line))

    def close_list() -> None:
        if items:
            html.append(f"<ul>{''.join(items)}</ul>")
            items.clear()

    for line in text.splitlines():
        line = line.strip()
        if line.startswith("* "):
            items.append(f"<li>{inline(line[2:])}</li>")
            continue
        close_list()
        if line.startswith("#"):
            html.append(f"<h3>{inline(line.lstrip('#').strip())}</h3>")
        elif line:
            html.append(f"<p>{inline(line)}</p>")
    close_list()
    return f"<div class='digest'>{''.join(html)}</div>"


def banner(text: str, kind: str = "failed") -> str:
    """A coloured box at the top of a page: ``failed`` (red) or ``running`` (amber)."""
    return f"<div class='banner {escape(kind)}' role='alert'>{escape(text)}</div>"


def legend(entries: Iterable[tuple[str, str]]) -> str:
    """A definition list: (term, explanation) per entry."""
    items = "".join(f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in entries)
    return f"<dl class='legend'>{items}</dl>" if items else ""


def fmt(value: Any, kind: str = "int") -> str:
    """A number for a table cell: thousands separated by thin spaces, percentages, money; '–' for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "money":
        from lifecycle.reports.uplift_verdict import money_text

        return money_text(value)
    if kind == "prob":
        return f"{value:.2f}"
    if isinstance(value, int | float):
        return f"{value:,.0f}".replace(",", "\u202f")
    return str(value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Iterable[int] = (),
    row_classes: Sequence[str | None] = (),
) -> str:
    """``rows`` hold already formatted cells (strings) or raw values; numeric columns are right-aligned.
    A cell given as ``("raw-html", html)`` is inserted unescaped (for coloured deltas built here).
    ``row_classes`` gives a CSS class per row (``muted`` greys a row out), in the order of ``rows``."""
    numeric = set(numeric)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for no, row in enumerate(rows):
        css_row = row_classes[no] if no < len(row_classes) else None
        cells = []
        for i, cell in enumerate(row):
            css = " class='n'" if i in numeric else ""
            html = cell[1] if isinstance(cell, tuple) and cell[0] == "raw-html" else escape(str(cell))
            cells.append(f"<td{css}>{html}</td>")
        opening = f"<tr class='{escape(css_row)}'>" if css_row else "<tr>"
        body.append(f"{opening}{''.join(cells)}</tr>")
    if not body:
        return paragraph("Нет данных / No data", "muted")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def delta(current: float | int | None, previous: float | int | None) -> tuple[str, str]:
    """The current value with its change against the previous run, coloured."""
    if previous is None:
        return ("raw-html", escape(fmt(current)))
    change = (current or 0) - previous
    css = "up" if change > 0 else "down" if change < 0 else "muted"
    return ("raw-html", f"{escape(fmt(current))} <span class='{css}'>({change:+,.0f})</span>")


def bar_chart(
    items: Sequence[tuple[str, float]], title: str, width: int = 520, colour: str = "#2f6fb3"
) -> str:
    """Horizontal bars with labels and values, one per item."""
    items = [(label, float(value or 0)) for label, value in items]
    if not items:
        return ""
    top = max((v for _, v in items), default=0) or 1
    row, label_w = 20, 190
    height = row * len(items) + 24
    bars = []
    for i, (label, value) in enumerate(items):
        y = 20 + i * row
        w = max((width - label_w - 70) * value / top, 0)
        bars.append(
            f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end' font-size='11'>"
            f"{escape(label[:32])}</text>"
            f"<rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{row - 6}' fill='{colour}'/>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + 12}' font-size='11'>{escape(fmt(value))}</text>"
        )
    return (
        f"<svg role='img' aria-label='{escape(title)}' width='{width}' height='{height}' "
        f"xmlns='http://www.w3.org/2000/svg'><text x='0' y='12' font-size='12' font-weight='600'>"
        f"{escape(title)}</text>{''.join(bars)}</svg>"
    )


def funnel_chart(stages: Sequence[tuple[str, float, float | None]], title: str, width: int = 640) -> str:
    """Paired bars per stage: this run (dark) and the previous run (light)."""
    top = max([s[1] or 0 for s in stages] + [s[2] or 0 for s in stages]) or 1
    row, label_w = 26, 240
    parts = []
    for i, (label, current, previous) in enumerate(stages):
        y = 22 + i * row
        cw = (width - label_w - 80) * (current or 0) / top
        pw = (width - label_w - 80) * (previous or 0) / top
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 13}' text-anchor='end' font-size='11'>{escape(label)}</text>"
            f"<rect x='{label_w}' y='{y + 1}' width='{cw:.1f}' height='11' fill='#2f6fb3'/>"
            f"<rect x='{label_w}' y='{y + 13}' width='{pw:.1f}' height='7' fill='#b9cde3'/>"
            f"<text x='{label_w + max(cw, pw) + 4:.1f}' y='{y + 12}' font-size='11'>{escape(fmt(current))}"
            + (f" ({escape(fmt(previous))})" if previous is not None else "")
            + "</text>"
        )
    height = 26 + row * len(stages)
    return (
        f"<svg role='img' aria-label='{escape(title)}' width='{width}' height='{height}' "
        f"xmlns='http://www.w3.org/2000/svg'><text x='0' y='12' font-size='12' font-weight='600'>"
        f"{escape(title)}</text>{''.join(parts)}</svg>"
    )


def heatmap(cohorts: Sequence[dict[str, Any]]) -> str:
    """Cohort retention as in the seeds' table: registration month × months since, cells shaded by share."""
    if not cohorts:
        return paragraph("Нет данных / No data", "muted")
    months = sorted({c["cohort_month"] for c in cohorts})
    span = max(c["months_since"] for c in cohorts)
    cells = {(c["cohort_month"], c["months_since"]): c for c in cohorts}
    size = {c["cohort_month"]: c["cohort_size"] for c in cohorts}
    top = max(c["retention"] for c in cohorts if c["months_since"] > 0) if span else 1
    head = "".join(f"<th>{m}</th>" for m in range(span + 1))
    body = []
    end = max(_months_between(months[0], c["cohort_month"]) + c["months_since"] for c in cohorts)
    for month in months:
        last = end - _months_between(months[0], month)
        row = [f"<th>{escape(month.strftime('%Y-%m'))}</th><td class='n'>{escape(fmt(size[month]))}</td>"]
        for m in range(span + 1):
            if m > last:
                row.append("<td></td>")
                continue
            share = cells[(month, m)]["retention"] if (month, m) in cells else 0.0
            alpha = min(share / (top or 1), 1.0)
            row.append(
                f"<td class='n' style='background:rgba(47,111,179,{alpha:.2f});"
                f"color:{'#fff' if alpha > 0.55 else '#1d2733'}'>{100 * share:.1f}%</td>"
            )
        body.append(f"<tr>{''.join(row)}</tr>")
    return (
        "<table><thead><tr><th>Месяц регистрации / Registration month</th><th>Клиентов / Customers</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _months_between(a, b) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def migration_matrix(rows: Sequence[dict[str, Any]]) -> str:
    """From-code rows × to-code columns, the count in each cell; only codes that occur are shown."""
    if not rows:
        return paragraph("Нет данных / No data", "muted")
    froms = sorted({r["from_code"] for r in rows}, key=lambda c: (c != "new", c))
    tos = sorted({r["to_code"] for r in rows}, reverse=True)
    cells = {(r["from_code"], r["to_code"]): r["customers"] for r in rows}
    top = max(cells.values()) or 1
    head = "".join(f"<th>{escape(c)}</th>" for c in tos)
    body = []
    for f in froms:
        tds = []
        for t in tos:
            n = cells.get((f, t), 0)
            alpha = 0.08 + 0.6 * n / top if n else 0
            border = "font-weight:600;" if f == t else ""
            tds.append(f"<td class='n' style='{border}background:rgba(60,154,95,{alpha:.2f})'>{n or ''}</td>")
        body.append(f"<tr><th>{escape(f)}</th>{''.join(tds)}</tr>")
    corner = "<th>из \\ в / from \\ to</th>"
    return f"<table><thead><tr>{corner}{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def communication_map(chains: Sequence[Any], width: int = 980) -> str:
    """Every chain as a timeline: its steps placed by delay (square-root scale up to the longest chain), a
    dot per step coloured by channel, the step id and delay under it, the chain's name and priority on the
    left."""
    if not chains:
        return paragraph("Цепочки не найдены / No chains configured", "muted")
    longest = max(max(s.delay for s in c.steps) for c in chains) or timedelta(hours=1)
    label_w, row = 330, 58
    scale = (width - label_w - 60) / math.sqrt(longest.total_seconds())
    parts = []
    for i, chain in enumerate(chains):
        y = 40 + i * row
        name = getattr(chain, "name", None)
        title = f"{name.ru} / {name.en}" if name else chain.id
        end = label_w + scale * math.sqrt(max(s.delay for s in chain.steps).total_seconds())
        parts.append(
            f"<text x='4' y='{y + 4}' font-size='12' font-weight='600'>{escape(title[:44])}</text>"
            f"<text x='4' y='{y + 18}' font-size='10' fill='#5b6b7c'>{escape(chain.id)} · priority "
            f"{chain.priority} · holdout {100 * chain.holdout_share:.0f}%</text>"
            f"<line x1='{label_w}' y1='{y}' x2='{end:.1f}' y2='{y}' stroke='#9aa8b6' stroke-width='2'/>"
        )
        for step in chain.steps:
            x = label_w + scale * math.sqrt(step.delay.total_seconds())
            colour = CHANNEL_COLOURS.get(step.channel, "#777")
            variants = len(getattr(step, "variants", []) or [])
            extra = (" A/B" if variants > 1 else "") + (" %" if getattr(step, "promo", False) else "")
            parts.append(
                f"<circle cx='{x:.1f}' cy='{y}' r='7' fill='{colour}'><title>{escape(chain.id)}/"
                f"{escape(step.id)}: {escape(step.channel)} after {escape(_duration(step.delay))}</title>"
                f"</circle><text x='{x:.1f}' y='{y - 11}' font-size='9' text-anchor='middle'>"
                f"{escape(step.id)}{extra}</text>"
                f"<text x='{x:.1f}' y='{y + 19}' font-size='9' text-anchor='middle' fill='#5b6b7c'>"
                f"{escape(_duration(step.delay))}</text>"
            )
    legend = "".join(
        f"<circle cx='{label_w + 10 + i * 90}' cy='14' r='6' fill='{c}'/>"
        f"<text x='{label_w + 20 + i * 90}' y='18' font-size='11'>{ch}</text>"
        for i, (ch, c) in enumerate(CHANNEL_COLOURS.items())
    )
    height = 40 + row * len(chains)
    return (
        f"<svg role='img' aria-label='Карта коммуникаций / Communication map' width='{width}' "
        f"height='{height}' "
        f"xmlns='http://www.w3.org/2000/svg'><text x='4' y='18' font-size='11' fill='#5b6b7c'>"
        f"delay from entry (√ scale)</text>{legend}{''.join(parts)}</svg>"
    )


def _duration(delay: timedelta) -> str:
    days, rest = divmod(int(delay.total_seconds()), 86400)
    hours = rest // 3600
    return (f"{days}d" if days else "") + (f"{hours}h" if hours or not days else "")
