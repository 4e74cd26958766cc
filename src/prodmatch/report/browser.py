"""Open an HTML file in headless Chromium and report what a user would see go wrong.

Talks to Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on fd 3,
replies on fd 4, NUL-terminated JSON), so it needs nothing but the standard library and a chromium
binary (Debian: ``apt-get install -y chromium``). It collects console errors, uncaught exceptions,
failed loads and requests that leave the page (anything but data: URIs and the file itself), checks that
every ``<img>`` decodes, and can save a PNG screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
                  "headless_shell")

# Decode every image (decode() rejects for a broken one), then describe it.
_IMAGES_JS = """
Promise.all(Array.from(document.images).map(img =>
  img.decode().then(() => true, () => false).then(decoded => ({
    src: (img.getAttribute('src') || '').slice(0, 60),
    alt: img.getAttribute('alt') || '',
    decoded: decoded,
    complete: img.complete,
    width: img.naturalWidth,
    height: img.naturalHeight,
  }))
)).then(JSON.stringify)
"""


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


def find_chromium() -> str | None:
    """The chromium binary: $PRODMATCH_CHROMIUM, else the first of the usual names on PATH."""
    explicit = os.environ.get("PRODMATCH_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() or shutil.which(explicit) else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    url: str
    console_errors: list[str] = field(default_factory=list)  # console.error/assert, exceptions, error logs
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)  # anything but data: URIs and the page
    images: list[dict] = field(default_factory=list)
    title: str = ""
    page_height: int = 0
    screenshot: Path | None = None

    @property
    def broken_images(self) -> list[dict]:
        return [i for i in self.images if not (i["decoded"] and i["complete"] and i["width"] > 0)]

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.failed_requests or self.external_requests or self.broken_images)

    def describe(self) -> str:
        lines = [f"{self.url}: {len(self.images)} images, {len(self.broken_images)} broken, "
                 f"{len(self.console_errors)} console errors, {len(self.failed_requests)} failed and "
                 f"{len(self.external_requests)} external requests, page height {self.page_height}px"]
        lines += [f"  console: {e}" for e in self.console_errors[:10]]
        lines += [f"  failed: {e}" for e in self.failed_requests[:10]]
        lines += [f"  external: {e}" for e in self.external_requests[:10]]
        lines += [f"  broken image: {i}" for i in self.broken_images[:10]]
        return "\n".join(lines)


class _Pipe:
    """A DevTools session over Chromium's remote-debugging pipe."""

    def __init__(self, binary: str, extra_args: list[str], timeout: float):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="prodmatch-chromium-")
        self.log = open(Path(self.profile) / "chromium.log", "wb")  # noqa: SIM115 (closed in close())
        cmd_read, self._cmd_write = os.pipe()
        self._resp_read, resp_write = os.pipe()
        # Chromium expects exactly fd 3 (commands in) and fd 4 (replies out); park both above 4 first so
        # the dup2s below cannot clobber each other. close_fds=False: subprocess would otherwise close 3 and
        # 4 after preexec_fn; every other descriptor Python opened is close-on-exec anyway.
        high_read = fcntl.fcntl(cmd_read, fcntl.F_DUPFD, 10)
        high_write = fcntl.fcntl(resp_write, fcntl.F_DUPFD, 10)
        os.close(cmd_read)
        os.close(resp_write)

        def child_fds() -> None:
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--mute-audio", "--hide-scrollbars", f"--user-data-dir={self.profile}", *extra_args, "about:blank"]
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                            close_fds=False, preexec_fn=child_fds)
        except OSError as exc:
            self._close_fds(self._cmd_write, self._resp_read)
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError(f"cannot start {binary}: {exc}") from None
        finally:
            for fd in (high_read, high_write):
                os.close(fd)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self.events: queue.Queue = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    @staticmethod
    def _close_fds(*fds: int) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._resp_read, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._replies[-1] = {"closed": True}
                    self._lock.notify_all()
                self.events.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._replies[message["id"]] = message
                        self._lock.notify_all()
                else:
                    self.events.put(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message_id = self._next_id
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while message_id not in self._replies:
                if -1 in self._replies:
                    raise BrowserError(f"chromium exited while waiting for {method}: {self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no reply to {method} within {self.timeout:.0f}s")
                self._lock.wait(left)
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def log_tail(self) -> str:
        self.log.flush()
        try:
            return (Path(self.profile) / "chromium.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close")
                except BrowserError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            self._close_fds(self._cmd_write, self._resp_read)
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


def check_page(
    html_path: str | Path,
    screenshot: str | Path | None = None,
    width: int = 1280,
    height: int = 900,
    full_page: bool = False,
    binary: str | None = None,
    timeout: float = 60.0,
) -> PageCheck:
    """Load ``html_path`` in headless Chromium; collect errors, check images, optionally screenshot it.

    The screenshot is the top ``width`` x ``height`` of the page, or the whole page with ``full_page``.
    Raises :class:`BrowserError` when no chromium is found or it does not answer.
    """
    binary = binary or find_chromium()
    if binary is None:
        raise BrowserError("no chromium binary found (apt-get install -y chromium, or set PRODMATCH_CHROMIUM)")
    path = Path(html_path).resolve()
    url = path.as_uri()
    result = PageCheck(url)
    pipe = _Pipe(binary, [f"--window-size={width},{height}"], timeout)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        pipe.send("Page.navigate", {"url": url}, session=session)
        _wait_for_load(pipe, session, result, url, timeout)
        images = pipe.send("Runtime.evaluate", {"expression": _IMAGES_JS, "awaitPromise": True,
                                                "returnByValue": True}, session=session)
        if "exceptionDetails" in images:
            raise BrowserError(f"image check script failed: {images['exceptionDetails']}")
        result.images = json.loads(images["result"]["value"])
        info = pipe.send("Runtime.evaluate", {
            "expression": "JSON.stringify([document.title, document.documentElement.scrollHeight])",
            "returnByValue": True}, session=session)
        result.title, result.page_height = json.loads(info["result"]["value"])
        _drain(pipe, session, result, url)
        if screenshot is not None:
            shot_height = result.page_height if full_page else height
            shot = pipe.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": max(shot_height, 1), "scale": 1}},
                session=session)
            out = Path(screenshot)
            out.parent.mkdir(parents=True, exist_ok=True)
            from prodmatch.fileio import atomic_path

            with atomic_path(out) as tmp:
                tmp.write_bytes(base64.b64decode(shot["data"]))
            make_readable(out)
            result.screenshot = out
    finally:
        pipe.close()
    return result


def make_readable(path: Path) -> None:
    """Atomic writes create 0600 files; reports and screenshots are meant to be shared (umask applies)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _wait_for_load(pipe: _Pipe, session: str, result: PageCheck, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BrowserError(f"{url} did not finish loading within {timeout:.0f}s")
        try:
            event = pipe.events.get(timeout=left)
        except queue.Empty:
            continue
        if event is None:
            raise BrowserError(f"chromium exited while loading {url}: {pipe.log_tail()}")
        if event.get("sessionId") == session and event.get("method") == "Page.loadEventFired":
            return
        _record(event, session, result, url)


def _drain(pipe: _Pipe, session: str, result: PageCheck, url: str) -> None:
    while True:
        try:
            event = pipe.events.get_nowait()
        except queue.Empty:
            return
        if event is not None:
            _record(event, session, result, url)


def _record(event: dict, session: str, result: PageCheck, url: str) -> None:
    if event.get("sessionId") != session:
        return
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        result.console_errors.append(f"console.{params['type']}: {text}")
    elif method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        text = details.get("exception", {}).get("description") or details.get("text", "")
        result.console_errors.append(f"exception: {text}")
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        result.console_errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}")
    elif method == "Network.requestWillBeSent":
        request_url = params.get("request", {}).get("url", "")
        if not (request_url.startswith("data:") or request_url.split("#")[0] == url):
            result.external_requests.append(request_url[:200])
    elif method == "Network.loadingFailed":
        result.failed_requests.append(f"{params.get('errorText', '')} ({params.get('type', '')})")
