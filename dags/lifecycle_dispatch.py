"""
# Dispatch of planned messages

## Purpose
Sends what the contact policy planned in `crm.send_ledger`: claims the due rows of each channel, renders
their templates (`include/templates/`), sends them through the channel's provider in batches of its
maximum, and records every outcome (sent / failed / unknown / expired) in the ledger.

## Trigger
Hourly at :20 (UTC), after the chains and policy runs of the hour; one run at a time.

## Inputs
`crm.send_ledger` rows in state `planned` and due, `crm.customers`, `crm.push_tokens`, the catalogue and
orders (for personalisation); connections `lifecycle_warehouse`, `lifecycle_links` and the providers named
by the params `email_conn_id` / `push_conn_id` / `sms_conn_id` (default `lifecycle_sandbox`: files, nothing
leaves the machine; SMS through `smsc` or `twilio` connections).

## Outputs
`crm.send_ledger` states (SMS with their segments and cost), `crm.promo_codes`, retired `crm.push_tokens`;
each task returns its figures (for SMS: the segments and the cost of the run).

## Owner
Data engineering (delivery).

## Triage notes
The first task, `check_pools_and_connections`, fails the run at once when a pool or a connection the
tasks need does not exist, naming it and the command that creates it.
Retrying or clearing a task is safe: rows a crashed try claimed but never handed to the provider go back to
`planned`; only the requests that were in flight become `unknown` (never resent blindly) or, with a provider
that deduplicates by our key (OneSignal, sandbox), `planned` again. Each row is re-checked against the
contact policy just before its request leaves (consent, suppressions, quiet hours, caps, gap, freshness):
the task's figures count what was held back or dropped, by reason (`hold_reason` in the ledger). A task
fails on bad credentials or a request-level refusal (401/403, SMTP login, an inactive SendGrid template)
after releasing the unsent rows; fix the connection and clear it. Rows `failed` with `render:` in
`last_error` name the template and the problem; after the fix, `python -m lifecycle.delivery.replan
--reason render: --apply` sends them. See docs/delivery.md.
"""

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag

from lifecycle_providers.dag_defaults import DAG_SETTINGS, TAG_PRODUCT, preflight
from lifecycle_providers.operators.dispatch import LedgerDispatchOperator

#: One task per channel, alone in its pool: provider concurrency is bounded per channel, and a retry
#: knows that any row still 'sending' on its channel was left by a try that died (orphan_after=0).
CHANNEL_POOLS = {
    "email": "lifecycle_delivery_email",
    "push": "lifecycle_delivery_push",
    "sms": "lifecycle_delivery_sms",
}


@dag(
    schedule=CronTriggerTimetable("20 * * * *", timezone="UTC"),
    **DAG_SETTINGS,
    tags=[TAG_PRODUCT, "delivery"],
    params={
        "email_conn_id": Param("lifecycle_sandbox", type="string", description="provider for email"),
        "push_conn_id": Param("lifecycle_sandbox", type="string", description="provider for push"),
        "sms_conn_id": Param(
            "lifecycle_sandbox", type="string", description="provider for SMS (smsc, twilio or the sandbox)"
        ),
    },
    doc_md=__doc__,
)
def lifecycle_dispatch():
    # The providers' connections come from the operators' (templated) *_conn_id fields.
    checks = preflight()
    for channel, pool in CHANNEL_POOLS.items():
        checks >> LedgerDispatchOperator(
            task_id=f"dispatch_{channel}",
            channel=channel,
            provider_conn_id=f"{{{{ params.{channel}_conn_id }}}}",
            orphan_after=timedelta(0),
            pool=pool,
            retry_delay=timedelta(minutes=5),
        )


lifecycle_dispatch()
