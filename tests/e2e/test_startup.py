"""zonebootd's start and stop: one service group runs every listener. A port already taken
stops the start with a message naming it (and no counters file, which says "up"); SIGTERM
stops it cleanly with a last counters write.

Everything listens on 127.0.0.1 on high ports the test picks and receives no DHCP; zonebootd
is started and stopped by PID.
"""
import socket
import subprocess
import time
from pathlib import Path

from apply_lab import free_port
from netlab import FIRMWARE, ROOT, ZONEBOOTD, read_counters, stop_session, wait_for


def start(tmp, *extra):
    """zonebootd on 127.0.0.1: DHCP on a high port, no TFTP, the admin API on a free port."""
    log = Path(tmp) / f"zonebootd-{time.time_ns()}.log"
    counters = Path(tmp) / "counters.json"
    args = [ZONEBOOTD, "--zone", ROOT / "zones" / "ams1.yaml", "--state", Path(tmp) / "state", "--listen", "127.0.0.1",
            "--dhcp-port", free_port(), "--tftp-port", "0", "--firmware", FIRMWARE, "--counters-file", counters, *extra]
    proc = subprocess.Popen([str(a) for a in args], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, log, counters


def start_with_a_taken_port(tmp, *extra):
    """Starts zonebootd with `extra`, where "{port}" is a TCP port already listened on; waits
    for it to exit. Returns its exit status, its log and the taken port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc, log, counters = start(tmp, *[str(a).format(port=port) for a in extra])
        try:
            status = proc.wait(timeout=30)
        finally:
            stop_session(proc)
    # The counters file says "up": never written for a server that did not start.
    assert not counters.exists()
    return status, log.read_text(), port


def test_a_taken_http_port_stops_the_start_with_a_message_naming_it(tmp_path):
    status, text, port = start_with_a_taken_port(tmp_path, "--http-port", "{port}", "--admin-port", free_port())
    assert status != 0, text
    assert f"cannot listen for HTTP on port {port}:" in text


def test_a_taken_admin_port_stops_the_start_with_a_message_naming_it(tmp_path):
    status, text, port = start_with_a_taken_port(tmp_path, "--http-port", "0", "--admin-port", "{port}")
    assert status != 0, text
    assert f"cannot listen for the admin API on 127.0.0.1:{port}:" in text


def test_sigterm_stops_every_listener_and_writes_the_counters_once_more(tmp_path):
    http_port, admin_port = free_port(), free_port()
    proc, log, counters = start(tmp_path, "--http-port", http_port, "--admin-port", admin_port)
    try:
        wait_for(lambda: proc.poll() is not None or read_counters(counters) is not None, timeout=30,
                 what="zonebootd to start")
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        # The counters file appears only once everything listens.
        assert "HTTP listening on" in text and "admin API listening on" in text
        counters.unlink()
        assert stop_session(proc) == 0
    finally:
        stop_session(proc)
    text = log.read_text()
    assert "stopping" in text
    assert read_counters(counters) is not None
    for port in (http_port, admin_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
