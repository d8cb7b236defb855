"""systemd without systemd: zonebootd's sd_notify messages to a NOTIFY_SOCKET the test binds
(a path, or an abstract `@name`), and the unit file checked by `systemd-analyze verify`.

READY=1 comes once every listener is bound (the admin API answers when it arrives),
WATCHDOG=1 every WATCHDOG_USEC/2 from the DHCP event loop, and no ping while that loop is
stalled (the debug build's ZONEBOOT_TEST_STALL_DHCP_LOOP file); RELOADING=1 then READY=1
around SIGHUP, STOPPING=1 on SIGTERM. Everything listens on 127.0.0.1 on ports the test
picks and receives no DHCP; zonebootd is started and stopped by PID.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from netlab import FIRMWARE, ROOT, ZONEBOOTD, free_port, require_tools, stop_session

UNIT = ROOT / "packaging" / "zonebootd.service"
WATCHDOG_USEC = 400_000  # pings every 200 ms


class Notifications:
    """A NOTIFY_SOCKET: every datagram with the time it arrived."""

    def __init__(self, tmp, abstract=False):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"zoneboot-test-{uuid.uuid4().hex}"
            self.socket.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(Path(tmp) / "notify.sock")
            self.socket.bind(self.address)
        self.received = []

    def next(self, timeout):
        """The next message as a dict of its lines, or None after timeout seconds."""
        self.socket.settimeout(timeout)
        try:
            data = self.socket.recv(4096)
        except socket.timeout:
            return None
        message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.received.append((time.monotonic(), message))
        return message

    def wait_for(self, key, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next(max(0.01, deadline - time.monotonic()))
            if message and key in message:
                return message
        raise AssertionError(f"no {key} within {timeout} s; got {self.received}")

    def collect(self, seconds):
        """Messages that arrive within the next `seconds`, as (time, message)."""
        start = len(self.received)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.next(left)
        return self.received[start:]

    def drain(self):
        """Reads what is already queued."""
        while self.next(0.01) is not None:
            pass

    def close(self):
        self.socket.close()


def start(tmp, notify, admin_port, **env):
    log = Path(tmp) / f"zonebootd-{time.time_ns()}.log"
    args = [ZONEBOOTD, "--zone", ROOT / "zones" / "ams1.yaml", "--state", Path(tmp) / "state", "--listen", "127.0.0.1",
            "--dhcp-port", free_port(socket.SOCK_DGRAM), "--http-port", free_port(), "--tftp-port", "0",
            "--admin-port", admin_port, "--firmware", FIRMWARE, "--counters-file", Path(tmp) / "counters.json"]
    environment = dict(os.environ, NOTIFY_SOCKET=notify.address, **env)
    proc = subprocess.Popen([str(a) for a in args], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=environment,
                            start_new_session=True)
    return proc, log


def admin_answers(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/revision", timeout=5) as answer:
        return answer.status == 200


def pings(messages):
    return [at for at, message in messages if message.get("WATCHDOG") == "1"]


def test_ready_once_listening_watchdog_from_the_dhcp_loop_stopping_on_sigterm(tmp_path):
    notify = Notifications(tmp_path)
    stall = tmp_path / "stall"
    admin_port = free_port()
    proc, log = start(tmp_path, notify, admin_port, WATCHDOG_USEC=str(WATCHDOG_USEC),
                      ZONEBOOT_TEST_STALL_DHCP_LOOP=str(stall))
    try:
        ready = notify.wait_for("READY")
        # Sent once every listener is bound: the admin API answers at once.
        assert admin_answers(admin_port), log.read_text()
        assert ready["READY"] == "1"
        assert ready["STATUS"].startswith("revision 1;") and "admin 127.0.0.1:" in ready["STATUS"], ready
        assert "ready" in log.read_text()

        # WATCHDOG_USEC/2 apart.
        running = pings(notify.collect(2.0))
        gaps = [b - a for a, b in zip(running, running[1:])]
        assert 6 <= len(running) <= 14, running
        assert 0.1 <= sorted(gaps)[len(gaps) // 2] <= 0.35, gaps

        # The DHCP loop stalls (within 100 ms of the file appearing): the pings stop. Those
        # sent before it took hold wait in the socket: read them first.
        stall.touch()
        time.sleep(0.5)
        notify.drain()
        stalled = pings(notify.collect(1.5))
        assert stalled == [], stalled
        stall.unlink()
        resumed = pings(notify.collect(1.0))
        assert len(resumed) >= 2, resumed

        os.killpg(proc.pid, signal.SIGTERM)
        stopping = notify.wait_for("STOPPING", timeout=10)
        assert stopping["STOPPING"] == "1"
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        stall.unlink(missing_ok=True)
        stop_session(proc)
        notify.close()


def test_abstract_socket_reload_and_no_watchdog_without_watchdog_usec(tmp_path):
    notify = Notifications(tmp_path, abstract=True)
    admin_port = free_port()
    proc, log = start(tmp_path, notify, admin_port)
    try:
        notify.wait_for("READY")
        assert admin_answers(admin_port)
        os.killpg(proc.pid, signal.SIGHUP)
        reloading = notify.wait_for("RELOADING", timeout=20)
        assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0, reloading
        again = notify.wait_for("READY", timeout=20)
        assert again["STATUS"] == "revision 1 running", again
        # No WATCHDOG_USEC: no pings.
        assert pings(notify.received) == []
    finally:
        assert stop_session(proc) == 0, log.read_text()
        notify.close()


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    """The unit as shipped, in a root holding systemd's own units, the binary it starts and kill."""
    require_tools("systemd-analyze")
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    shutil.copytree("/lib/systemd/system", root / "lib" / "systemd" / "system", symlinks=True)
    shutil.copy(UNIT, root / "lib" / "systemd" / "system" / "zonebootd.service")
    shutil.copy(ZONEBOOTD, root / "usr" / "bin" / "zonebootd")
    shutil.copy(shutil.which("kill"), root / "usr" / "bin" / "kill")
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "/lib/systemd/system/zonebootd.service"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID",
                 "ProtectSystem=strict", "StateDirectory=zoneboot", "User=zoneboot",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW"):
        assert line in text, line
