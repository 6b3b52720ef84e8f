"""Local HTTP stand-ins for SendGrid, FCM (with its OAuth token endpoint) and OneSignal.

Each checks requests against the provider's documented contract (path, auth header, body shape, batch
limits; see docs/providers.md) and answers from a script of faults on demand: ``server.script(...)``
queues responses (429 with Retry-After / X-RateLimit-Reset, 5xx, per-token errors, delays for timeouts);
when the script is empty it answers success. Every request is recorded, so tests can count sends.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ContractError(AssertionError):
    pass


class _Server(ThreadingHTTPServer):
    # A provider's front end takes a burst of new connections (every sending slot opens one at the start of a
    # run); socketserver's default backlog of 5 reset some of them, which no real provider does.
    request_queue_size = 128


class StandIn:
    """A threaded HTTP server; subclasses implement :meth:`handle` (contract check + default answer)."""

    def __init__(self, latency_s: float = 0.0):
        self.latency_s = latency_s
        self.requests: list[Request] = []
        #: (request, status answered): what the provider accepted, even if the client gave up waiting.
        self.exchanges: list[tuple[Request, int]] = []
        self.violations: list[str] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer leaves in one write, headers and body together, as a real server's does. Unbuffered
            # (http.server's default), the body waited behind the headers for the client's delayed ACK:
            # about 40 ms more on every request, which no provider adds.
            wbufsize = -1

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                reply = outer._dispatch(request)
                time.sleep(outer.latency_s + reply.delay_s)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_POST = do_GET = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        try:
            default = self.handle(request)
        except ContractError as exc:
            with self._lock:
                self.violations.append(str(exc))
            return Reply(400, {"errors": [{"message": str(exc)}]})
        with self._lock:
            reply = self._script.pop(0) if self._script and default.status < 300 else default
            self.exchanges.append((request, reply.status))
        return reply

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _sendgrid_error(message: str, field: str | None, error_id: str | None = None) -> Reply:
    error = {"message": message, "field": field, "help": None}
    if error_id:
        error["error_id"] = error_id
    return Reply(400, {"errors": [error]})


class SendGridStandIn(StandIn):
    """``POST /v3/mail/send``: Bearer key, personalizations ≤ 1000 and ≤ 1000 recipients in total,
    ``content`` (text/plain first) or ``template_id``; 202 with ``X-Message-ID``.

    As strict as SendGrid: a whole request is rejected (400, nothing sent) for an address given twice in
    the personalizations, an address that is not one, or an inactive or unknown template (Twilio error
    60218); ``inactive_templates`` and ``invalid_addresses`` choose which."""

    api_key = "SG.test-key"

    def __init__(self, latency_s: float = 0.0):
        super().__init__(latency_s)
        self.inactive_templates: set[str] = set()
        self.invalid_addresses: set[str] = set()

    def handle(self, request: Request) -> Reply:
        _require(
            request.method == "POST" and request.path == "/v3/mail/send", f"unknown endpoint {request.path}"
        )
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
        body = request.json()
        personalizations = body.get("personalizations") or []
        _require(1 <= len(personalizations) <= 1000, "1 to 1000 personalizations")
        recipients = sum(
            len(p.get("to", [])) + len(p.get("cc", [])) + len(p.get("bcc", [])) for p in personalizations
        )
        _require(recipients <= 1000, "at most 1000 recipients per request")
        _require(body.get("from", {}).get("email"), "from.email is required")
        if body.get("template_id"):
            _require(all("dynamic_template_data" in p for p in personalizations), "dynamic_template_data")
        else:
            content = body.get("content") or []
            _require(content and content[0]["type"] == "text/plain", "content: text/plain must come first")
            _require(
                all(p.get("subject") or body.get("subject") for p in personalizations), "subject required"
            )
        for p in personalizations:
            _require("send_key" in p.get("custom_args", {}), "custom_args.send_key expected")
        if body.get("template_id") in self.inactive_templates:
            return _sendgrid_error(
                "The template version is inactive or the template does not exist.", "template_id", "60218"
            )
        seen: set[str] = set()
        for n, p in enumerate(personalizations):
            for to in p["to"]:
                address = to["email"].lower()
                if "@" not in address or address in self.invalid_addresses:
                    field = f"personalizations.{n}.to.0.email"
                    return _sendgrid_error("Does not contain a valid address.", field)
                if address in seen:
                    with self._lock:
                        self.violations.append(f"duplicate address {address} in one request")
                    return _sendgrid_error(
                        "Each unique email address in the personalizations array should only be included "
                        f"once. We found a duplicate of {address} in personalizations.{n}.to",
                        f"personalizations.{n}.to",
                    )
                seen.add(address)
        return Reply(202, None, {"X-Message-ID": uuid.uuid4().hex[:22]})

    def accepted_keys(self) -> list[str]:
        """Ledger keys of every personalization SendGrid answered 202 for (duplicates included)."""
        return [
            p["custom_args"]["send_key"]
            for request, status in self.exchanges
            if status == 202
            for p in request.json()["personalizations"]
        ]


class FcmStandIn(StandIn):
    """``POST /token`` (JWT bearer grant, RS256 assertion checked with the public key) and
    ``POST /v1/projects/{project}/messages:send`` (Bearer token, one message with one token)."""

    project_id = "demo-project"

    def __init__(
        self,
        public_key,
        latency_s: float = 0.0,
        dead_tokens: tuple[str, ...] = (),
        invalid_tokens: tuple[str, ...] = (),
    ):
        super().__init__(latency_s)
        self.public_key = public_key
        self.dead_tokens = set(dead_tokens)
        #: tokens FCM rejects with 400 INVALID_ARGUMENT "not a valid FCM registration token"
        self.invalid_tokens = set(invalid_tokens)
        self.issued: set[str] = set()

    @property
    def delivered(self) -> list[dict]:
        """Messages answered 200 (a scripted fault replaces the answer, so it was not delivered)."""
        return [r.json()["message"] for r, status in self.exchanges if status == 200 and r.path != "/token"]

    def handle(self, request: Request) -> Reply:
        if request.path == "/token":
            return self._token(request)
        _require(
            request.path == f"/v1/projects/{self.project_id}/messages:send", f"unknown path {request.path}"
        )
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.issued:
            return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        message = request.json().get("message", {})
        _require(isinstance(message.get("token"), str), "message.token (one token per request)")
        _require({"title", "body"} <= set(message.get("notification", {})), "notification title and body")
        _require(all(isinstance(v, str) for v in message.get("data", {}).values()), "data values are strings")
        if message["token"] in self.dead_tokens:
            return Reply(
                404,
                {
                    "error": {
                        "code": 404,
                        "status": "NOT_FOUND",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED",
                            }
                        ],
                    }
                },
            )
        if message["token"] in self.invalid_tokens:
            return Reply(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "The registration token is not a valid FCM registration token",
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "INVALID_ARGUMENT",
                            }
                        ],
                    }
                },
            )
        return Reply(200, {"name": f"projects/{self.project_id}/messages/{uuid.uuid4().hex}"})

    def _token(self, request: Request) -> Reply:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        form = parse_qs(request.body.decode())
        _require(form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"], "grant_type")
        header, claims, signature = form["assertion"][0].split(".")

        def unb64(text):
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

        try:
            self.public_key.verify(
                unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        decoded = json.loads(unb64(claims))
        _require(decoded["aud"].endswith("/token") and decoded["exp"] > decoded["iat"], "aud/exp claims")
        _require("firebase.messaging" in decoded["scope"], "scope")
        token = uuid.uuid4().hex
        self.issued.add(token)
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


class OneSignalStandIn(StandIn):
    """``POST /notifications?c=push``: ``Authorization: Key``, app_id, one targeting mode (≤ 20,000
    aliases), contents with "en", ``idempotency_key`` a UUID: a repeated key returns the first result."""

    app_id = "app-123"
    api_key = "os-key"

    def __init__(self, latency_s: float = 0.0):
        super().__init__(latency_s)
        self.created: dict[str, str] = {}
        #: external ids that exist but are no longer subscribed: OneSignal answers 200 with an id *and*
        #: ``errors.invalid_aliases`` naming them (OpenAPI spec, Notification 200 response)
        self.unsubscribed: set[str] = set()
        #: notifications that reached at least one subscriber, by idempotency key
        self.delivered: dict[str, dict] = {}

    def handle(self, request: Request) -> Reply:
        _require(request.path == "/notifications", f"unknown path {request.path}")
        if request.headers.get("authorization") != f"Key {self.api_key}":
            return Reply(403, {"errors": ["Access denied.  Please include an 'Authorization: ...' header."]})
        body = request.json()
        _require(body.get("app_id") == self.app_id, "app_id")
        modes = [
            k
            for k in ("include_aliases", "include_subscription_ids", "included_segments", "filters")
            if k in body
        ]
        _require(len(modes) == 1, "exactly one targeting mode")
        aliases = body.get("include_aliases", {}).get("external_id", [])
        _require(len(aliases) <= 20000, "at most 20,000 aliases")
        _require("en" in body.get("contents", {}), "contents.en is required")
        key = body.get("idempotency_key")
        _require(key and str(uuid.UUID(key)) == key, "idempotency_key must be a UUID")
        invalid = [alias for alias in aliases if alias in self.unsubscribed]
        with self._lock:
            notification_id = self.created.setdefault(key, str(uuid.uuid4()))
            if len(invalid) < len(aliases):
                self.delivered.setdefault(key, body)
        answer: dict[str, Any] = {"id": notification_id, "external_id": None}
        if invalid:
            answer["errors"] = {"invalid_aliases": {"external_id": invalid}}
        return Reply(200, answer)
