"""The providers' HTTP client on real sockets: what each transport failure means for the ledger, no retry or
redirect of its own, keep-alive connections reused, and the request exactly as the provider APIs expect it."""

import json
import socket
import threading
import time
from base64 import b64decode
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lifecycle.delivery.messages import ProviderResponseError
from lifecycle.delivery.providers import http


class RawServer:
    """Accepts connections and treats each with ``behave(conn)``; counts connections and requests read."""

    def __init__(self, behave):
        self.behave, self.connections, self.requests = behave, 0, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            self.behave(conn)

    def close(self):
        self.sock.close()


def test_a_refused_connection_may_be_retried():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    client = http.Client(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ProviderResponseError) as caught:
        http.post(client, "/send", "test", json={"a": 1})
    assert caught.value.kind == "retry"
    assert "cannot connect" in caught.value.detail


@pytest.mark.parametrize(
    "behave",
    [
        lambda conn: None,  # read the request, closed without a word
        lambda conn: time.sleep(1.5),  # longer than the read timeout
        lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"),  # cut short
    ],
    ids=["closed", "timeout", "cut-short"],
)
def test_a_request_that_left_without_a_whole_answer_is_ambiguous_and_never_resent(behave):
    server = RawServer(behave)
    client = http.Client(f"http://127.0.0.1:{server.port}", timeout=0.5)
    try:
        with pytest.raises(ProviderResponseError) as caught:
            http.post(client, "/send", "test", json={"a": 1})
        assert caught.value.kind == "ambiguous"
        assert "no answer after sending" in caught.value.detail
        time.sleep(0.2)
        assert server.requests == 1  # the client did not send it again on its own
    finally:
        server.close()
        client.close()


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list] = []
    ports: ClassVar[set] = set()

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.path, dict(self.headers), body))
        type(self).ports.add(self.client_address[1])
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Message-Id", "m-1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def recorder():
    Recorder.seen, Recorder.ports = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_carry_the_body_headers_and_auth_the_apis_expect(recorder):
    client = http.Client(recorder + "/", headers={"X-Api": "k"}, auth=("AC1", "sécret"))
    answer = client.post("/v1/send", json={"title": "Привет", "n": 1}, params={"c": "push"})
    assert (answer.status_code, answer.json()["path"]) == (200, "/v1/send?c=push")
    assert answer.headers.get("x-message-id") == "m-1"  # any case
    _, headers, body = Recorder.seen[-1]
    assert body == '{"title":"Привет","n":1}'.encode()  # compact UTF-8 JSON
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Api"] == "k"
    assert b64decode(headers["Authorization"].removeprefix("Basic ")).decode() == "AC1:sécret"
    client.post("/form", data={"phones": "+79161234567", "mes": "код 1"})
    _, headers, body = Recorder.seen[-1]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body == b"phones=%2B79161234567&mes=%D0%BA%D0%BE%D0%B4+1"
    absolute = client.post(recorder + "/token", data={"a": "b"})  # an absolute URL is taken as it is
    assert absolute.json()["path"] == "/token"
    with pytest.raises(ValueError, match="JSON compliant"):
        client.post("/x", json={"price": float("nan")})  # never sent as invalid JSON


def test_a_redirect_is_answered_not_followed(recorder):
    client = http.Client(recorder)
    answer = client.post("/moved", json={})
    assert answer.status_code == 302
    assert [path for path, _, _ in Recorder.seen] == ["/moved"]
    with pytest.raises(ProviderResponseError) as caught:
        http.check(answer, "test")
    assert caught.value.kind == "failed"


def test_threads_share_a_few_kept_alive_connections(recorder):
    client = http.Client(recorder, max_connections=4)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: client.post(f"/m{n}", json={"n": n}).status_code, range(200)))
    assert answers == [200] * 200
    assert len(Recorder.seen) == 200
    assert len(Recorder.ports) <= 8  # 200 requests over a handful of connections, not one each
