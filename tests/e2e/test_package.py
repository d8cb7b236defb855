"""The Debian package (`make package`): unpacked into a temporary root, its zonebootd and
zonectl run in a mount namespace in which the Swift toolchain (/opt/swift) is hidden, so
only the package and Debian's libraries are used; a short serve of the packaged example
zone on 127.0.0.1 reaches READY=1, and its idle RSS and the binaries' sizes are printed.

Needs the package built first (`make package`, a release build of several minutes on
two cores): without one the test is skipped, saying so.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from netlab import ROOT, free_port, require_tools

PACKAGE_DIR = ROOT / ".build" / "package"
TOOLCHAIN = "/opt/swift"


def package():
    found = sorted(PACKAGE_DIR.glob("zoneboot_*.deb"))
    if not found:
        pytest.skip("no .build/package/zoneboot_*.deb: run `make package` first")
    return found[-1]


def hidden_toolchain(*command):
    """command in a new mount namespace where /opt/swift is an empty tmpfs."""
    script = f'mount -t tmpfs tmpfs {TOOLCHAIN} && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *[str(c) for c in command]]


@pytest.fixture
def unpacked(tmp_path):
    require_tools("dpkg-deb", "unshare", "ldd")
    deb = package()
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    control = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True, capture_output=True, text=True).stdout
    assert "swift" not in control.lower(), control
    return root


def test_the_package_runs_with_the_toolchain_hidden(unpacked, tmp_path):
    zonebootd, zonectl = unpacked / "usr/bin/zonebootd", unpacked / "usr/bin/zonectl"
    for binary in (zonebootd, zonectl):
        libraries = subprocess.run(hidden_toolchain("ldd", binary), capture_output=True, text=True, check=True).stdout
        assert "not found" not in libraries and TOOLCHAIN not in libraries, libraries
        print(f"{binary.name}: {binary.stat().st_size / 1e6:.1f} MB")
    assert (unpacked / "lib/systemd/system/zonebootd.service").exists()
    assert (unpacked / "etc/zoneboot/zone.yaml").exists()

    shown = subprocess.run(hidden_toolchain(zonebootd, "--help"), capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "--zone" in shown.stdout, shown.stdout + shown.stderr
    validated = subprocess.run(hidden_toolchain(zonectl, "validate", unpacked / "etc/zoneboot/zone.yaml"),
                               capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    # The post-install firmware step, into the unpacked root.
    firmware = unpacked / "usr/share/zoneboot/firmware"
    subprocess.run(["python3", firmware / "fetch.py"], check=True, timeout=60)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    log = tmp_path / "zonebootd.log"
    proc = subprocess.Popen(
        hidden_toolchain(zonebootd, "--zone", unpacked / "etc/zoneboot/zone.yaml", "--state", tmp_path / "state",
                         "--firmware", firmware, "--listen", "127.0.0.1", "--dhcp-port", free_port(socket.SOCK_DGRAM),
                         "--http-port", free_port(), "--tftp-port", free_port(socket.SOCK_DGRAM),
                         "--admin-port", free_port()),
        stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock")))
    try:
        message = b""
        while b"READY=1" not in message:
            message = notify.recv(4096)
        time.sleep(3)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        print(f"zonebootd idle with the example zone: {rss.split(':')[1].strip()}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
        notify.close()
