"""Access to the plugin pages, which Airflow does not protect itself (plugin FastAPI apps are mounted
outside its auth): a request needs a valid Airflow JWT (``Authorization: Bearer`` or the ``_token`` cookie the
UI sets at login, verified by the configured auth manager with Airflow's own JWT settings), or the shared
secret of ``[lifecycle] ui_shared_secret`` (env ``AIRFLOW__LIFECYCLE__UI_SHARED_SECRET``) in the
``X-Lifecycle-Secret`` header or as the bearer token, for scripts and monitoring.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import HTTPException, Request, status

log = logging.getLogger(__name__)
COOKIE = "_token"
SECRET_HEADER = "X-Lifecycle-Secret"


def _configured_secret() -> str | None:
    from airflow.configuration import conf

    return conf.get("lifecycle", "ui_shared_secret", fallback=None) or None


async def _airflow_user(token: str) -> str | None:
    """The user name of a valid, unrevoked Airflow JWT; None for anything else."""
    from airflow.api_fastapi.app import create_auth_manager

    try:
        user = await create_auth_manager().get_user_from_token(token)
    except Exception as exc:  # any invalid token, whatever the auth manager raises
        log.info("refused a token for the lifecycle UI: %s", exc)
        return None
    return user.get_name()


async def require_viewer(request: Request) -> str:
    """FastAPI dependency: the name of whoever may see the pages, or 401."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else ""
    secret = _configured_secret()
    offered = request.headers.get(SECRET_HEADER) or bearer
    if secret and offered and hmac.compare_digest(offered.encode(), secret.encode()):
        return "shared-secret"
    for token in (bearer, request.cookies.get(COOKIE, "")):
        if token and (user := await _airflow_user(token)):
            return user
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Войдите в Airflow / log in to Airflow (or send the shared secret) to see this page",
        headers={"WWW-Authenticate": "Bearer"},
    )
