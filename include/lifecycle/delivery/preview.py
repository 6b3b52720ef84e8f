"""Render any step for any customer to a file, exactly as dispatch would, without sending or keeping anything.

    python -m lifecycle.delivery.preview --chain abandoned_cart --step email_1 --customer 42 --out cart.html

The trigger ids come from the customer's own data (recent carted/viewed products, latest order) unless
``--context '{"product_ids": [1, 2]}'`` gives them. The render runs inside a transaction that is rolled back.
Email: the HTML goes to ``--out``, the text part beside it (``.txt``); push: JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from lifecycle.delivery.context import ContextBuilder
from lifecycle.delivery.dispatch import utcnow
from lifecycle.delivery.render import RenderError, Templates
from lifecycle.delivery.signing import LinkSigner
from lifecycle.warehouse import Warehouse

PREVIEW_SIGNER = LinkSigner(
    b"preview-only-secret-never-used-to-send", "http://localhost:8080/lifecycle-webhooks"
)


def demo_context(warehouse_conn, customer_id: int) -> dict:
    """Ids a chain could plausibly have put into this customer's ledger row."""
    found: dict[str, list] = {}
    for row in Warehouse.run(warehouse_conn, "delivery/preview_ids.sql", customer_id=customer_id).mappings():
        found.setdefault(row["kind"], []).append((row["id"], row["category_id"]))
    products = found.get("product") or found.get("ordered_product") or found.get("fallback") or []
    context: dict = {"product_ids": [pid for pid, _ in products]}
    if products:
        context["product_id"] = products[0][0]
        context["product_ids"] = context["product_ids"][1:]
        context["category_id"] = products[0][1]
    if found.get("order"):
        context["order_id"] = found["order"][0][0]
    return context


def render_preview(
    warehouse: Warehouse,
    chain: str,
    step: str,
    customer_id: int,
    context: dict | None = None,
    locale: str = "ru",
):
    templates = Templates()
    template = f"{locale}/{chain}/{step}"
    if template not in templates.steps(locale):
        raise RenderError(f"no template {template}; known: {', '.join(templates.steps(locale))}")
    channel = "push" if templates.is_push(template) else "sms" if templates.is_sms(template) else "email"
    claim_token = f"preview-{uuid.uuid4().hex}"
    now = utcnow()
    with warehouse.engine.connect() as conn:
        transaction = conn.begin()
        try:
            context = context if context is not None else demo_context(conn, customer_id)
            Warehouse.run(
                conn,
                "delivery/preview_ledger_row.sql",
                send_key=claim_token,
                chain_id=chain,
                step_id=step,
                customer_id=customer_id,
                channel=channel,
                template=template,
                context=json.dumps(context),
                claim_token=claim_token,
                now=now,
            )
            rows = [
                dict(r)
                for r in Warehouse.run(conn, "delivery/claimed.sql", claim_token=claim_token).mappings()
            ]
            built = ContextBuilder(templates, PREVIEW_SIGNER).build(warehouse, conn, claim_token, rows, now)[
                claim_token
            ]
        finally:
            transaction.rollback()
    if isinstance(built, Exception):
        raise RenderError(str(built))
    if channel == "email":
        return channel, templates.render_email(template, built)
    if channel == "sms":
        return channel, templates.render_sms(template, built)
    return channel, templates.render_push(template, built)


def main(argv: list[str] | None = None) -> int:
    from lifecycle.demo.__main__ import default_warehouse_url

    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.delivery.preview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--chain", required=True)
    parser.add_argument("--step", required=True)
    parser.add_argument("--customer", type=int, required=True, help="customer_id")
    parser.add_argument("--out", type=Path, required=True, help="file to write (.html for email)")
    parser.add_argument("--context", type=json.loads, default=None, help="ledger context JSON (ids)")
    parser.add_argument("--locale", default="ru")
    parser.add_argument("--warehouse", default=None, help="SQLAlchemy URL; default data/warehouse.duckdb")
    args = parser.parse_args(argv)
    warehouse = Warehouse(args.warehouse or default_warehouse_url())
    try:
        channel, content = render_preview(
            warehouse, args.chain, args.step, args.customer, args.context, args.locale
        )
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if channel == "email":
        args.out.write_text(content.html, encoding="utf-8")
        args.out.with_suffix(".txt").write_text(content.text, encoding="utf-8")
        print(f"subject:   {content.subject}\npreheader: {content.preheader}\nhtml:      {args.out}")
    elif channel == "sms":
        args.out.write_text(json.dumps(content.__dict__, ensure_ascii=False, indent=2), encoding="utf-8")
        latin = ", transliterated" if content.transliterated else ""
        print(
            f"sms: {content.text}\n{content.segments} of at most {content.max_segments} segments "
            f"({content.encoding}{latin})\nfile: {args.out}"
        )
    else:
        args.out.write_text(json.dumps(content.__dict__, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"push: {content.title} — {content.body}\nfile: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
