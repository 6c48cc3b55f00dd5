"""Open a written report in headless Chromium and check it as a reader would see it.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no client library is needed.
:func:`check_page` loads the page, collects every console error, uncaught exception and failed
resource, measures every image and table, and saves a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgdnoise.errors import SgdNoiseError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

MEASURE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth})),
  tables: Array.from(document.querySelectorAll('table')).map(t => ({
    name: t.dataset.name || '', expected: Number(t.dataset.rows), rows: t.tBodies.length ? t.tBodies[0].rows.length : 0,
    cells: t.querySelectorAll('tbody td').length})),
  sections: Array.from(document.querySelectorAll('section[data-key]')).map(s => s.dataset.key),
  height: document.documentElement.scrollHeight,
})"""


class BrowserError(SgdNoiseError, RuntimeError):
    """Chromium is missing, failed to start, or did not answer in time."""


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw: ``errors`` (console errors, exceptions, failed loads), ``images``
    (alt text, natural width), ``tables`` (name, rows expected by ``data-rows``, rows present),
    the analysis ``sections`` in order and the ``screenshot`` file."""

    errors: list[str]
    images: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    sections: list[str]
    screenshot: Path
    warnings: list[str] = field(default_factory=list)


def find_chromium() -> str:
    """The Chromium executable (``$SGDNOISE_CHROMIUM``, else the first of :data:`CANDIDATES` on
    the PATH); :class:`BrowserError` saying how to install it when there is none."""
    explicit = os.environ.get("SGDNOISE_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError(
        "no Chromium found: install it (Debian/Ubuntu: `apt-get install -y chromium`) or point "
        "SGDNOISE_CHROMIUM at a Chrome/Chromium executable"
    )


def check_page(page: str | Path, screenshot: str | Path, *, timeout: float = 60.0, width: int = 1280) -> PageCheck:
    """Load the HTML file ``page`` in headless Chromium and report what it saw (:class:`PageCheck`);
    the full page is saved as the PNG ``screenshot``."""
    url = Path(page).resolve().as_uri()
    with _Browser(find_chromium(), timeout) as browser:
        session = browser.attach()
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            browser.call(domain, session=session)
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.call("Page.navigate", session=session, url=url)
        browser.wait_for("Page.loadEventFired", session)
        measured = json.loads(
            browser.call("Runtime.evaluate", session=session, expression=MEASURE, returnByValue=True)["result"]["value"]
        )
        shot = browser.call(
            "Page.captureScreenshot",
            session=session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": max(900, measured["height"]), "scale": 1},
        )
        screenshot = Path(screenshot)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        browser.drain(0.2)
        errors, warnings = browser.problems()
    return PageCheck(errors, measured["images"], measured["tables"], measured["sections"], screenshot, warnings)


class _Browser:
    """A headless Chromium with its DevTools protocol on a pipe."""

    def __init__(self, executable: str, timeout: float):
        self.executable, self.timeout = executable, timeout
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.buffer = b""

    def __enter__(self) -> _Browser:
        self.profile = tempfile.TemporaryDirectory(prefix="sgdnoise-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds() -> None:  # the protocol's fixed descriptors in the child: it reads 3, writes 4
            read, write = os.dup(to_child_r), os.dup(from_child_w)  # above 4, whatever the pipes' numbers
            os.dup2(read, 3)
            os.dup2(write, 4)
            os.closerange(5, 1024)  # nothing else of this process goes to the browser

        args = [
            self.executable,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile.name}",
            "about:blank",
        ]
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=fds,
                close_fds=False,  # keep the descriptors dup2 made (closing would drop 3 and 4 again)
            )
        except OSError as exc:
            raise BrowserError(f"could not start {self.executable}: {exc}") from exc
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired, BrowserError):
            self.process.kill()
            self.process.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        self.profile.cleanup()

    def send(self, method: str, session: str | None = None, **params: Any) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        return self.next_id

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer; :class:`BrowserError` on a protocol error."""
        wanted = self.send(method, session, **params)
        while True:
            message = self._read(self._deadline())
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"Chromium refused {method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def attach(self) -> str:
        """Open a new page and attach to it; its session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        return self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def wait_for(self, event: str, session: str) -> None:
        deadline = self._deadline()
        if any(e.get("method") == event and e.get("sessionId") == session for e in self.events):
            return
        while True:
            message = self._read(deadline)
            self.events.append(message)
            if message.get("method") == event and message.get("sessionId") == session:
                return

    def drain(self, seconds: float) -> None:
        """Read the events that arrive within ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._read(end, quiet=True))
            except TimeoutError:
                return

    def problems(self) -> tuple[list[str], list[str]]:
        """Console errors, uncaught exceptions and failed loads; and the warnings."""
        errors, warnings = [], []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(
                    "exception: "
                    + p["exceptionDetails"].get("text", "")
                    + " "
                    + str(p["exceptionDetails"].get("exception", {}).get("description", ""))
                )
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif method == "Log.entryAdded":
                entry = p["entry"]
                text = f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
                (errors if entry.get("level") == "error" else warnings).append(text)
        return errors, warnings

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout

    def _read(self, deadline: float, quiet: bool = False) -> dict[str, Any]:
        import select

        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                if quiet:
                    raise TimeoutError
                raise BrowserError(f"Chromium did not answer within {self.timeout:g} s")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self.process.poll()}) before answering")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)
