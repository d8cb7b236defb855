"""Start-up checks before anything is written (issue 21, item 6): `zonebootd --check`
names every prerequisite and exits 0 or 1 without binding or writing, and a start that
cannot work leaves no state behind (no database, no revision 1).

Everything is on 127.0.0.1 with ports the test picks; nothing receives DHCP.
"""
import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from apply_lab import example_zone
from netlab import FIRMWARE, ROOT, ZONEBOOTD, free_port, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")


def zonebootd(tmp, *extra, zone=None, state=None, firmware=FIRMWARE, cwd=None, timeout=60):
    """zonebootd on 127.0.0.1 with free ports (no TFTP), `extra` last; its exit status and output."""
    args = [ZONEBOOTD, "--zone", zone or ROOT / "zones" / "ams1.yaml", "--state", state or Path(tmp) / "state",
            "--listen", "127.0.0.1", "--dhcp-port", free_port(socket.SOCK_DGRAM), "--http-port", free_port(),
            "--tftp-port", "0", "--admin-port", free_port(), "--firmware", firmware,
            "--counters-file", Path(tmp) / "counters.json", *extra]
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp)
    return result.returncode, result.stdout + result.stderr


def test_check_passes_and_writes_nothing(tmp_path):
    status, out = zonebootd(tmp_path, "--check")
    assert status == 0, out
    for what in ("admin tokens", "admin TLS", "firmware", "state directory", "zone", "DHCP listener", "HTTP listener",
                 "the admin API listener"):
        assert f"ok    {what}:" in out, (what, out)
    assert "recorded as revision 1 at start" in out
    assert "checks passed: zonebootd would start (nothing was bound or written)" in out
    assert not (tmp_path / "state").exists() and not (tmp_path / "counters.json").exists()


def test_check_reads_the_stored_revision_without_changing_the_database(tmp_path):
    zone = example_zone(tmp_path, 1, 1, 4)
    state = tmp_path / "state"
    status, out = zonebootd(tmp_path, "--check", zone=zone, state=state)
    assert status == 0, out
    # A server that ran once: revision 1 is stored; --check reads it, read-only.
    proc = subprocess.Popen([str(ZONEBOOTD), "--zone", str(zone), "--state", str(state), "--listen", "127.0.0.1",
                             "--dhcp-port", str(free_port(socket.SOCK_DGRAM)), "--http-port", "0", "--tftp-port", "0",
                             "--admin-port", "0", "--firmware", str(FIRMWARE),
                             "--counters-file", str(tmp_path / "counters.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / "counters.json").exists() or proc.poll() is not None, what="zonebootd to start")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    before = {p.name: p.stat().st_mtime_ns for p in state.iterdir()}
    zone.write_text("not: [a zone")  # the file is not what a restart runs: the stored revision is
    status, out = zonebootd(tmp_path, "--check", zone=zone, state=state)
    assert status == 0, out
    assert "ok    zone: ex revision 1 (" in out and "by zonebootd) from" in out
    assert {p.name: p.stat().st_mtime_ns for p in state.iterdir()} == before
    db = sqlite3.connect(state / "zoneboot.sqlite")
    assert db.execute("SELECT count(*) FROM revision").fetchone() == (1,)
    db.close()


def test_check_names_each_problem_and_its_fix(tmp_path):
    bad_zone = tmp_path / "broken.yaml"
    bad_zone.write_text("zone: [unclosed\n")
    tokens = tmp_path / "tokens"
    tokens.write_text("ops:short\n")
    tokens.chmod(0o644)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out = zonebootd(tmp_path, "--check", "--admin-port", port, "--admin-token-file", tokens,
                                "--listen", "198.18.99.99", zone=bad_zone, firmware="firmware")
    assert status == 1, out
    assert "FAIL  zone:" in out and "broken.yaml" in out
    assert "FAIL  admin tokens:" in out
    assert "FAIL  firmware:" in out and "relative to the working directory" in out and str(tmp_path) in out
    assert f"FAIL  the admin API listener: cannot listen for the admin API on 127.0.0.1:{port}: " in out
    assert "choose another --admin-port" in out
    assert "FAIL  DHCP listener: cannot listen for DHCP on port" in out and "198.18.99.99 is not an address of this host" in out
    assert "checks failed: zonebootd would not start" in out
    assert not (tmp_path / "state").exists()


def test_a_start_that_cannot_work_writes_nothing(tmp_path):
    # A missing zone file, a relative firmware path from elsewhere, a taken port: each stops
    # the start with its fix, before the state directory or revision 1 exist.
    status, out = zonebootd(tmp_path, zone=tmp_path / "missing.yaml")
    assert status == 1 and "missing.yaml" in out, out
    status, out = zonebootd(tmp_path, firmware="firmware")
    assert status == 1 and "pass an absolute --firmware" in out, out
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out = zonebootd(tmp_path, "--http-port", port)
    assert status == 1 and f"cannot listen for HTTP on port {port}: " in out, out
    assert "zonebootd cannot start:" in out and "bind(" not in out
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "counters.json").exists()
