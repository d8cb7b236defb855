"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: JSON messages ended by NUL on fds 3 and 4), so that no
debugging port is opened and no websocket client is needed. Started in a network
namespace when given one (to reach a server listening there on 127.0.0.1), pinned to a CPU when
given one (benchmarks), stopped by PID.
"""
import base64
import json
import os
import select
import signal
import subprocess
import time


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, tmp, ns=None, width=1600, height=1000, log=None, cpu=None):
        self.tmp = tmp
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
                f"--window-size={width},{height}", f"--user-data-dir={tmp / 'chromium-profile'}",
                "--remote-debugging-pipe", "about:blank"]
        if cpu is not None:
            args = ["taskset", "-c", str(cpu)] + args
        if ns:
            args = ["ip", "netns", "exec", ns] + args

        def pipes_on_3_and_4():
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        self.proc = subprocess.Popen(args, stdout=open(log or tmp / "chromium.log", "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=pipes_on_3_and_4, pass_fds=(3, 4),
                                     start_new_session=True)
        os.close(commands_read)
        os.close(answers_write)
        self._next_id = 0
        self._buffer = b""
        self._events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=60):
        """One DevTools command; its result, or BrowserError with the protocol's error."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline, method)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def _read(self, deadline, what):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BrowserError(f"no answer from chromium to {what}")
            ready, _, _ = select.select([self._answers], [], [], min(left, 1))
            if ready:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium closed its pipe during {what}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url):
        """A new tab at url, attached: later commands go to it."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression, timeout=30, what=None):
        """Polls expression until it is truthy (a bound, not a measured time); returns its value."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError as error:  # the page is still loading (no body yet)
                value, last = None, error
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"timed out waiting for {what or expression}" + (f" (last: {last})" if last else ""))

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return path

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", session=False, timeout=10)
                self.proc.wait(timeout=10)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
