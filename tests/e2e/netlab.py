"""Network namespaces for tests that talk DHCP: built here, torn down here.

Every namespace, veth and address is created by the test that uses it, with
addresses from 198.18.0.0/15 only, and removed afterwards. Processes are started
and stopped by PID. Nothing listens on or sends to the machine's real interfaces.
"""
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "debug" / "zonebootd"))
ALLOWED = ("198.18.", "198.19.")
# The boot loaders `make firmware` put in firmware/cache.
FIRMWARE = ROOT / "firmware"


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port nothing on host uses now, for a server this test starts (TCP unless told SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def sh(*args, check=True, timeout=30, **kw):
    return subprocess.run([str(a) for a in args], check=check, timeout=timeout,
                          capture_output=True, text=True, **kw)


def require_tools(*names):
    import shutil
    import pytest
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: run `make deps`")


class Lab:
    """A set of namespaces owned by one test."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces = []
        self.processes = []

    def ns(self, name):
        full = f"zb{self.tag}{name}"
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def link(self, ns_a, if_a, ns_b, if_b):
        """A veth pair between two namespaces (created in the first, moved to the second)."""
        tmp = f"v{self.tag}{len(self.namespaces)}{if_a}"[:15]
        sh("ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", tmp)
        sh("ip", "-n", ns_a, "link", "set", tmp, "netns", ns_b)
        sh("ip", "-n", ns_b, "link", "set", tmp, "name", if_b)
        for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
            sh("ip", "-n", ns, "link", "set", ifname, "up")

    def addr(self, ns, ifname, cidr):
        assert cidr.startswith(ALLOWED), f"{cidr} is outside 198.18.0.0/15"
        sh("ip", "-n", ns, "addr", "add", cidr, "dev", ifname)

    def route(self, ns, dest, via):
        assert dest.startswith(ALLOWED) and via.startswith(ALLOWED)
        sh("ip", "-n", ns, "route", "add", dest, "via", via)

    def wait_up(self, ns, ifname, timeout=10):
        # A server started before its veth is operationally up may bind nothing.
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = sh("ip", "netns", "exec", ns, "cat", f"/sys/class/net/{ifname}/operstate", check=False).stdout.strip()
            if state in ("up", "unknown"):
                return
            time.sleep(0.1)
        raise AssertionError(f"{ns}/{ifname} never came up")

    def spawn(self, ns, *args, log=None, env=None):
        out = open(log, "w") if log else subprocess.DEVNULL
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *[str(a) for a in args]], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.processes.append(proc)
        return proc

    def run(self, ns, *args, timeout=60, check=True, env=None):
        return subprocess.run(["ip", "netns", "exec", ns, *[str(a) for a in args]], capture_output=True,
                              text=True, timeout=timeout, check=check, env=env)

    def stop(self, proc, sig=signal.SIGTERM, timeout=10):
        if proc.poll() is not None:
            return proc.returncode
        os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=5)

    def close(self):
        for proc in reversed(self.processes):
            self.stop(proc)
        # Some peers leave their session (dhcpcd's privilege-separation helpers call setsid),
        # so a process group kill misses them. Whatever still runs inside a namespace this
        # test made was started by this test: stop it by PID before removing the namespace.
        for ns in reversed(self.namespaces):
            pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).stdout.split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 5
            while pids and time.time() < deadline:
                pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).stdout.split()]
                time.sleep(0.1)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            sh("ip", "netns", "del", ns, check=False)


def stop_session(proc, sig=signal.SIGTERM, timeout=20):
    """Stops a process this test started in its own session (`start_new_session=True`) and
    returns its exit status; one that outlives `timeout` is killed and the test fails."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        raise


@contextmanager
def lab():
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        the_lab.close()


def wait_for(predicate, timeout=20, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def read_counters(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def server_and_client(the_lab, server="198.18.0.10", client="198.18.0.1"):
    """Two namespaces on one veth: a server (eth0) and a relay or load generator (up0), both up."""
    srv, other = the_lab.ns("srv"), the_lab.ns("rly")
    the_lab.link(srv, "eth0", other, "up0")
    the_lab.addr(srv, "eth0", f"{server}/24")
    the_lab.addr(other, "up0", f"{client}/24")
    the_lab.wait_up(srv, "eth0")
    the_lab.wait_up(other, "up0")
    return srv, other


def start_zonebootd(the_lab, ns, zone, state, listen, counters, *extra, binary=None, log=None):
    """Starts zonebootd in a namespace and waits until it has written its first counters."""
    # A file left by an earlier server would make this return before the new one listens.
    Path(counters).unlink(missing_ok=True)
    proc = the_lab.spawn(ns, binary or ZONEBOOTD, "--zone", zone, "--state", state, "--listen", listen,
                         "--counters-file", counters, "--firmware", FIRMWARE, *extra, log=log)
    wait_for(lambda: read_counters(counters) is not None, timeout=30, what="zonebootd to start")
    return proc


def start_kea(the_lab, ns, config, tmp):
    """Starts kea-dhcp4 with a config dict, its pid and lock files kept in tmp."""
    path = Path(tmp) / "kea.json"
    path.write_text(json.dumps(config))
    env = dict(os.environ, KEA_PIDFILE_DIR=str(tmp), KEA_LOCKFILE_DIR=str(tmp))
    proc = the_lab.spawn(ns, "kea-dhcp4", "-c", path, log=Path(tmp) / "kea.out", env=env)
    time.sleep(3)  # Kea gives no readiness signal; its sockets are open well within this
    return proc
