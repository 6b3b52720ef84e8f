"""Local HTTP stand-ins for SMSC.ru (``/sys/send.php``) and Twilio Messaging (``Messages.json``).

Both check requests against the documented contract and refuse bad input as the services do: SMSC answers
HTTP 200 with ``{"error", "error_code"}`` (codes 1-9 of its API page) or, with ``op=1``, an entry per
number in which a refused number carries an ``error``; Twilio answers 201 with the Message resource, or
400 / 401 / 429 with ``{"code", "message", "more_info", "status"}``. Scripted faults (``server.script``)
answer before the service looks at the request (it then did nothing). The Twilio stand-in also signs status
callbacks the way Twilio does (``X-Twilio-Signature``), so tests can post delivery reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import uuid
from typing import Any
from urllib.parse import parse_qs

from provider_standins import ContractError, Reply, Request, StandIn, _require

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def _form(request: Request) -> dict[str, str]:
    _require(
        request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"),
        "a form POST (application/x-www-form-urlencoded)",
    )
    parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    for name, values in parsed.items():
        _require(len(values) == 1, f"parameter {name} given {len(values)} times")
    return {name: values[0] for name, values in parsed.items()}


class ScriptFirst(StandIn):
    """A scripted fault answers instead of the service, which then did nothing with the request (nothing is
    delivered, nothing remembered), as a refusal by the service's front end would."""

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._script.pop(0) if self._script else None
            if scripted is not None:
                self.exchanges.append((request, scripted.status))
                return scripted
        try:
            reply = self.handle(request)
        except ContractError as exc:
            with self._lock:
                self.violations.append(str(exc))
            return Reply(400, {"error": str(exc)})
        with self._lock:
            self.exchanges.append((request, reply.status))
        return reply


def billed_segments(text: str) -> int:
    """The operator's count, independent of the code under test: 7-bit Latin or UCS-2."""
    latin = all(ord(c) < 128 and c not in "`" for c in text)
    units = len(text) if latin else len(text.encode("utf-16-le")) // 2
    single, part = (160, 153) if latin else (70, 67)
    return 1 if units <= single else math.ceil(units / part)


class SmscStandIn(ScriptFirst):
    login, password = "shop", "secret-psw"
    price = 2.5

    def __init__(self, latency_s: float = 0.0):
        super().__init__(latency_s)
        self.senders = {"Elektro"}
        #: numbers SMSC refuses alone (error 8, "cannot be delivered")
        self.undeliverable: set[str] = set()
        self.balance = 1000.0
        self.next_id = 100
        self.seen: set[tuple] = set()
        #: every number SMSC took, with its text: what the subscribers get
        self.delivered: list[tuple[str, str, str]] = []

    @staticmethod
    def error(code: int, text: str, message_id: int | None = None) -> Reply:
        body: dict[str, Any] = {"error": text, "error_code": code}
        if message_id is not None:
            body["id"] = message_id
        return Reply(200, body)

    def handle(self, request: Request) -> Reply:
        _require(request.method == "POST" and request.path == "/sys/send.php", f"unknown {request.path}")
        form = _form(request)
        if (form.get("login"), form.get("psw")) != (self.login, self.password):
            return self.error(2, "authorise error")
        _require(form.get("fmt") == "3", "fmt=3 (JSON answers)")
        _require(form.get("charset") == "utf-8", "charset=utf-8")
        _require(form.get("op") == "1", "op=1 (an answer per number)")
        if ("list" in form) == ("phones" in form or "mes" in form):
            return self.error(1, "parameters error")  # either list, or phones + mes
        if "list" in form:
            pairs = [line.split(":", 1) for line in form["list"].split("\n")]
            if any(len(p) != 2 or not p[1] for p in pairs):
                return self.error(1, "parameters error")
        else:
            if not form.get("phones") or not form.get("mes"):
                return self.error(1, "parameters error")
            pairs = [[phone, form["mes"]] for phone in re.split("[,;]", form["phones"])]
        if any(len(text) > 1000 for _, text in pairs):
            return self.error(1, "parameters error")
        if form.get("sender") not in self.senders:
            return self.error(6, "message is denied", self.next_id)
        key = tuple(sorted(form.items()))
        with self._lock:
            if key in self.seen:
                return self.error(9, "duplicate request, wait a minute")
            self.seen.add(key)
        numbers = []
        for phone, text in pairs:
            _require(phone.startswith("+"), f"numbers are sent with '+' (no auto-correction): {phone}")
            digits = phone[1:]
            if not E164.match(phone):
                numbers.append({"phone": digits, "mccmnc": "0", "cost": "0", "error": "7"})
            elif phone in self.undeliverable:
                numbers.append({"phone": digits, "mccmnc": "0", "cost": "0", "error": "8"})
            else:
                parts = billed_segments(text)
                numbers.append({"phone": digits, "mccmnc": "25001", "cost": f"{parts * self.price:.2f}"})
                numbers[-1]["_text"], numbers[-1]["_parts"] = text, parts
        taken = [n for n in numbers if "error" not in n]
        if not taken:
            return self.error(int(numbers[0]["error"]), "invalid phone" if numbers[0]["error"] == "7" else "")
        total = sum(float(n["cost"]) for n in taken)
        with self._lock:
            if total > self.balance:
                return self.error(3, "no money", self.next_id)
            self.balance -= total
            message_id, self.next_id = self.next_id, self.next_id + 1
            for n in taken:
                self.delivered.append((f"+{n['phone']}", n.pop("_text"), form["sender"]))
        answer = {
            "id": message_id,
            "cnt": sum(n.pop("_parts") for n in taken),
            "cost": f"{total:.2f}",
            "balance": f"{self.balance:.2f}",
            "phones": numbers,
        }
        return Reply(200, answer)


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 with the Auth Token over the full URL followed by every POST
    parameter name and value, sorted by name; base64."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class TwilioStandIn(ScriptFirst):
    account_sid = "AC" + "1" * 32
    auth_token = "twilio-auth-token"

    def __init__(self, latency_s: float = 0.0):
        super().__init__(latency_s)
        self.senders = {"Elektro", "+15005550006"}
        self.unsubscribed: set[str] = set()
        self.not_mobile: set[str] = set()
        self.created: dict[str, dict[str, str]] = {}

    @staticmethod
    def error(status: int, code: int, message: str) -> Reply:
        return Reply(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def handle(self, request: Request) -> Reply:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        _require(request.method == "POST", "POST")
        if request.path != path:
            return self.error(404, 20404, f"The requested resource {request.path} was not found")
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return self.error(401, 20003, "Authenticate")
        form = _form(request)
        unknown = set(form) - {"To", "From", "MessagingServiceSid", "Body", "StatusCallback"}
        _require(not unknown, f"unexpected parameters {unknown}")
        if not form.get("To"):
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self.error(400, 21603, "A 'From' phone number is required.")
        if form.get("From") and form["From"] not in self.senders:
            return self.error(400, 21659, f"'From' {form['From']} is not a Twilio phone number or sender id")
        if not form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        if len(form["Body"]) > 1600:
            return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not E164.match(form["To"]):
            return self.error(400, 21211, f"The 'To' number {form['To']} is not a valid phone number.")
        if form["To"] in self.not_mobile:
            return self.error(400, 21614, f"'To' number {form['To']} is not a valid mobile number")
        if form["To"] in self.unsubscribed:
            return self.error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + uuid.uuid4().hex
        with self._lock:
            self.created[sid] = form
        return Reply(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": str(billed_segments(form["Body"])),
                "price": None,
                "price_unit": "USD",
                "error_code": None,
            },
        )

    def status_callback(self, sid: str, status: str, error_code: str | None = None) -> tuple[str, dict, dict]:
        """The delivery report Twilio would post for a message: (url, form, headers)."""
        form = self.created[sid]
        _require("StatusCallback" in form, "the message was sent without a StatusCallback")
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": form["To"],
            "From": form.get("From", ""),
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        signature = twilio_signature(self.auth_token, form["StatusCallback"], params)
        return form["StatusCallback"], params, {"X-Twilio-Signature": signature}


__all__ = ["ContractError", "SmscStandIn", "TwilioStandIn", "billed_segments", "twilio_signature"]
