"""Airflow plugin serving the delivery feedback app (provider webhooks and the one-click unsubscribe link)
under ``/lifecycle-webhooks`` on the API server. The app lives in ``lifecycle.delivery.webhooks``; here its
settings are read from Airflow Connections, per request: ``lifecycle_warehouse``, ``lifecycle_links``
(signing secret), and optionally ``lifecycle_sandbox`` (HMAC secret), ``lifecycle_sendgrid``
(``webhook_public_key``), ``lifecycle_twilio`` (Auth Token, ``status_callback``) and ``lifecycle_smsc``
(``callback_secret``). Airflow does not authenticate plugin routes; every route checks a signature.
"""

from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin

from lifecycle.delivery.webhooks import WebhookSettings, create_app

URL_PREFIX = "/lifecycle-webhooks"
log = logging.getLogger(__name__)


def _optional(read):
    try:
        return read()
    except Exception as exc:  # a missing optional connection disables that endpoint (503), nothing more
        log.debug("optional webhook setting unavailable: %s", exc)
        return None


def resolve_settings() -> WebhookSettings:
    from lifecycle.delivery.render import Templates
    from lifecycle_providers.hooks.links import DeliveryLinksHook
    from lifecycle_providers.hooks.sandbox import SandboxHook
    from lifecycle_providers.hooks.sendgrid import SendGridHook
    from lifecycle_providers.hooks.smsc import SmscHook
    from lifecycle_providers.hooks.twilio import TwilioHook
    from lifecycle_providers.hooks.warehouse import WarehouseHook

    twilio = _optional(lambda: TwilioHook().webhook_settings()) or (None, None)
    return WebhookSettings(
        warehouse=WarehouseHook().get_conn(),
        signer=DeliveryLinksHook().get_conn(),
        shop_name=Templates().shop["name"],
        sandbox_secret=_optional(lambda: SandboxHook().webhook_secret()),
        sendgrid_public_key=_optional(lambda: SendGridHook().webhook_public_key()),
        twilio_auth_token=twilio[0],
        twilio_status_url=twilio[1],
        smsc_secret=_optional(lambda: SmscHook().callback_secret()),
    )


class LifecycleWebhooksPlugin(AirflowPlugin):
    name = "lifecycle_webhooks"
    fastapi_apps = [  # noqa: RUF012 - the attribute AirflowPlugin defines
        {"app": create_app(resolve_settings), "url_prefix": URL_PREFIX, "name": "Lifecycle webhooks"},
    ]
