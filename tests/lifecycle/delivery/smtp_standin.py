"""A strict SMTP server (RFC 5321) on 127.0.0.1 for delivery and fault tests.

It advertises ``8BITMIME`` only when asked to, and then rejects what a strict server rejects: a
``BODY=8BITMIME`` parameter it did not advertise (555) and 8-bit bytes in a body not declared 8-bit (554).
Faults come from a script per accepted-message number: ``421`` at MAIL FROM / RCPT TO / after the body
(the server then closes the connection, as RFC 5321 says a 421 does), or a dropped connection after the
body was read (the message was taken, the client never hears so). Every message taken is kept with its
``X-Lifecycle-Send-Key`` header, so a test can compare what arrived with what the ledger says.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections import Counter
from email import message_from_bytes, policy


class SmtpStandIn:
    def __init__(self, eight_bit: bool = True, delay_s: float = 0.0, faults: dict[int, str] | None = None):
        #: fault per transaction number (1-based, counting MAIL FROM commands): 'mail421', 'rcpt421',
        #: 'data421' or 'drop_after_body'
        self.eight_bit, self.delay_s = eight_bit, delay_s
        self.faults = faults or {}
        #: Messages taken, as the bytes that arrived: parsed only when a test reads them (:attr:`received`),
        #: so the stand-in spends on each message what a real server's reply does, not a MIME parse.
        self._taken: list[tuple[list[str], bytes]] = []
        self._parsed: list[tuple[list[str], object]] = []
        self.violations: list[str] = []
        self.transactions = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 standin ESMTP ready")
                state = {"mail": None, "rcpt": [], "body8": False, "n": 0}
                while True:
                    raw = self.rfile.readline(4096)
                    if not raw:
                        return
                    line = raw.decode("ascii", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        extensions = ["250-standin", "250-SIZE 10240000"]
                        if outer.eight_bit:
                            extensions.append("250-8BITMIME")
                        extensions.append("250 PIPELINING")
                        for ext in extensions:
                            self.reply(ext)
                    elif verb == "MAIL":
                        params = line.upper().split()[2:]
                        body8 = "BODY=8BITMIME" in params
                        if body8 and not outer.eight_bit:
                            outer._violation(f"BODY=8BITMIME sent to a server without 8BITMIME: {line}")
                            self.reply("555 5.5.4 BODY=8BITMIME not supported")
                            continue
                        n = outer._next_transaction()
                        state.update(mail=line, rcpt=[], body8=body8, n=n)
                        if outer._fault(n) == "mail421":
                            self.reply("421 4.3.2 service shutting down")
                            return
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        if outer._fault(state["n"]) == "rcpt421":
                            self.reply("421 4.3.2 service shutting down")
                            return
                        state["rcpt"].append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        if not state["mail"] or not state["rcpt"]:
                            self.reply("503 5.5.1 need MAIL and RCPT first")
                            continue
                        self.reply("354 end data with <CR><LF>.<CR><LF>")
                        body = bytearray()
                        while True:
                            chunk = self.rfile.readline(1 << 20)
                            if not chunk:
                                return
                            if chunk in (b".\r\n", b".\n"):
                                break
                            body += chunk[1:] if chunk.startswith(b"..") else chunk
                        if outer.delay_s:
                            time.sleep(outer.delay_s)
                        fault = outer._fault(state["n"])
                        if fault == "data421":
                            self.reply("421 4.3.2 service shutting down")
                            return
                        if any(b > 127 for b in body) and not state["body8"]:
                            outer._violation("8-bit body without BODY=8BITMIME")
                            self.reply("554 5.6.0 8-bit data not declared")
                        else:
                            outer._take(list(state["rcpt"]), bytes(body))
                            if fault == "drop_after_body":
                                return
                            self.reply("250 2.0.0 queued")
                        state.update(mail=None, rcpt=[])
                    elif verb == "RSET":
                        state.update(mail=None, rcpt=[])
                        self.reply("250 OK")
                    elif verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 5.5.2 command not recognised")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def _next_transaction(self) -> int:
        with self._lock:
            self.transactions += 1
            return self.transactions

    def _fault(self, n: int) -> str | None:
        return self.faults.get(n)

    def _violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def _take(self, rcpt: list[str], body: bytes) -> None:
        with self._lock:
            self._taken.append((rcpt, body))

    @property
    def received(self) -> list[tuple[list[str], object]]:
        """Every message taken: (recipients, the parsed message), in the order they arrived."""
        with self._lock:
            for rcpt, body in self._taken[len(self._parsed) :]:
                self._parsed.append((rcpt, message_from_bytes(body, policy=policy.default)))
            return list(self._parsed)

    def send_keys(self) -> Counter:
        return Counter(str(m["X-Lifecycle-Send-Key"]) for _, m in self.received)

    def __enter__(self) -> SmtpStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
