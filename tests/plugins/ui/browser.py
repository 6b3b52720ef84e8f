"""Headless Chromium for the UI tests: make sure it is installed, then drive it over the DevTools protocol.

``ensure_chromium()`` installs the Debian package ``chromium`` with apt-get when /usr/bin/chromium is missing
and we are root, and otherwise fails with a message saying what to install. Run it before the tests in CI:
``python tests/plugins/ui/browser.py --install``. No browser is ever downloaded from elsewhere.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserUnavailable(RuntimeError):
    pass


def ensure_chromium() -> Path:
    """The Chromium binary; installed from the distribution's packages when missing and we may do so."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BrowserUnavailable(
            f"{CHROMIUM} is missing: install the Debian package 'chromium' (apt-get install -y chromium) "
            "or run this as root on a Debian-based image"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)
    if not CHROMIUM.exists():
        raise BrowserUnavailable("apt-get installed 'chromium' but /usr/bin/chromium is still missing")
    return CHROMIUM


class Chromium:
    """One headless Chromium with one page, controlled through the DevTools protocol (websockets)."""

    def __init__(self, width: int = 1440, height: int = 1800):
        self.profile = tempfile.mkdtemp(prefix="lifecycle-chromium-")
        self.process = subprocess.Popen(
            [
                str(ensure_chromium()),
                *FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self.socket = self._connect()
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.send(domain)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _connect(self):
        from websockets.sync.client import connect

        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BrowserUnavailable("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        return connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 2**20, open_timeout=10)

    def _call(self, method: str, session: str | None = None, **params):
        call_id = next(self._ids)
        message = {"id": call_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def send(self, method: str, **params):
        return self._call(method, self.session, **params)

    def set_cookie(self, name: str, value: str, url: str, http_only: bool = True) -> None:
        self.send("Network.setCookie", name=name, value=value, url=url, httpOnly=http_only, path="/")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for_text(self, expression: str, needles: list[str], timeout: float = 40.0) -> str:
        """Poll a JavaScript expression giving visible text until it holds every needle; returns the text."""
        deadline, text = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            text = self.evaluate(expression) or ""
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"text {missing} not visible after {timeout:.0f} s; saw: {text[:1500]!r}")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": metrics["width"],
                "height": metrics["height"],
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


if __name__ == "__main__":
    if "--install" in sys.argv:
        print(ensure_chromium())
