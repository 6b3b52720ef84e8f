"""One real dispatch process for the fault tests: the parent kills it with SIGKILL at a random moment.

    python dispatch_worker.py --warehouse URL --provider smtp --target 127.0.0.1:2525 [--max-batch N]
    python dispatch_worker.py --warehouse URL --provider smsc --target http://127.0.0.1:PORT --channel sms
    python dispatch_worker.py ... --kill-at-request N   (kills itself with SIGKILL as its Nth request starts)

It prints ``ready`` once everything is imported and built, then runs the dispatcher as the DAG's task does
(``orphan_after=0``: whatever a killed predecessor left in 'sending' is settled first) and prints the
report as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import timedelta


def build_provider(name: str, target: str, max_batch: int | None, concurrency: int | None):
    from lifecycle.delivery.email_mime import Sender

    sender = Sender("shop@shop.example", "Shop")
    if name == "smtp":
        from lifecycle.delivery.providers.smtp import SmtpProvider

        host, port = target.split(":")
        return SmtpProvider(host, int(port), sender, timeout=10, concurrency=concurrency or 1)
    if name == "sendgrid":
        from lifecycle.delivery.providers.sendgrid import SendGridProvider

        provider = SendGridProvider(
            "SG.test-key", sender, target, template_id="d-pass", timeout=10, concurrency=concurrency or 2
        )
        provider.max_batch = max_batch or provider.max_batch
        return provider
    if name == "onesignal":
        from lifecycle.delivery.providers.onesignal import OneSignalProvider

        return OneSignalProvider("app-123", "os-key", target, timeout=10, concurrency=concurrency or 4)
    if name == "smsc":
        from lifecycle.delivery.providers.smsc import SmscProvider

        # The stand-in's account (tests/lifecycle/delivery/sms_standins.py): login, password, sender name.
        return SmscProvider(
            "shop",
            "secret-psw",
            "Elektro",
            target,
            max_batch=max_batch or 50,
            timeout=10,
            concurrency=concurrency or 2,
        )
    if name == "twilio":
        from lifecycle.delivery.providers.twilio import TwilioProvider

        return TwilioProvider(
            "AC" + "1" * 32,
            "twilio-auth-token",
            "Elektro",
            base_url=target,
            timeout=10,
            status_callback="https://crm.shop.example/lifecycle-webhooks/twilio/status",
            concurrency=concurrency or 4,
        )
    if name == "sandbox":
        from lifecycle.delivery.providers.sandbox import SandboxProvider

        return SandboxProvider(target, sender)
    raise SystemExit(f"unknown provider {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--target", required=True, help="host:port, base URL or folder")
    parser.add_argument("--channel", default="email")
    parser.add_argument("--max-batch", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--kill-at-request", type=int, default=None)
    args = parser.parse_args(argv)

    from lifecycle.delivery.dispatch import Dispatcher, DispatchSettings
    from lifecycle.delivery.signing import LinkSigner
    from lifecycle.warehouse import Warehouse

    provider = build_provider(args.provider, args.target, args.max_batch, args.concurrency)
    if args.kill_at_request:
        send, requests = provider.send, []

        def send_or_die(batch):
            requests.append(batch)
            if len(requests) == args.kill_at_request:
                os.kill(os.getpid(), signal.SIGKILL)
            return send(batch)

        provider.send = send_or_die
    dispatcher = Dispatcher(
        Warehouse(args.warehouse),
        provider,
        LinkSigner(b"fault-test-link-secret-0123456789", "https://crm.shop.example/lifecycle-webhooks"),
        settings=DispatchSettings(orphan_after=timedelta(0), max_wait_s=2.0, base_wait_s=0.2),
    )
    print("ready", flush=True)
    try:
        report = dispatcher.run(args.channel)
    finally:
        provider.close()
    print(json.dumps(report.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
